//! Logs: a daily-rotated file in the app's log folder (a week kept), and stderr in development.
//! Run starts, ends, cancels and errors are logged with the run id — never a key, never model text.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt};

/// Keeps the file writer flushing; hold it for the app's life.
pub struct LogGuard(#[allow(dead_code)] Option<WorkerGuard>);

pub fn init(dir: &Path) -> LogGuard {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,stepwise_app=info,stepwise_engine=info"));
    // The appender prunes old files at start and complains if the folder is not there yet.
    let _ = std::fs::create_dir_all(dir);
    let file = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("stepwise")
        .filename_suffix("log")
        .max_log_files(7)
        .build(dir);
    let (file_layer, guard) = match file {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (
                Some(fmt::layer().with_ansi(false).with_writer(writer)),
                Some(guard),
            )
        }
        Err(e) => {
            eprintln!("stepwise: cannot write logs to {}: {e}", dir.display());
            (None, None)
        }
    };
    let stderr_layer = cfg!(debug_assertions).then(|| fmt::layer().with_writer(std::io::stderr));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    LogGuard(guard)
}
