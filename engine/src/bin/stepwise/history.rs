//! `stepwise history`, `show`, `export`, `delete`: the run history on the command line.

use std::process::ExitCode;

use stepwise_engine::RunStatus;
use stepwise_engine::store::{ExportFormat, RunFilter, Store, StoreError};

use crate::EXIT_BAD_INPUT;
use crate::args::{DbArg, Format, HistoryArgs};

/// The history database: `--db`, else `STEPWISE_DB`, else the app's.
pub fn open(db: &DbArg) -> Result<Store, StoreError> {
    let path = db
        .db
        .clone()
        .or_else(|| std::env::var_os("STEPWISE_DB").map(Into::into))
        .or_else(Store::default_path)
        .ok_or_else(|| StoreError::Io {
            path: "(none)".into(),
            message: "no data folder for this user; pass --db PATH".into(),
        })?;
    Store::open(&path)
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("stepwise: {message}");
    ExitCode::FAILURE
}

pub fn list(args: HistoryArgs) -> ExitCode {
    let status = match args.status.as_deref().map(parse_status).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stepwise: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let store = match open(&args.db) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let filter = RunFilter {
        status,
        workflow: args.workflow,
        search: args.search,
        limit: Some(args.limit),
        offset: Some(args.offset),
        ..RunFilter::default()
    };
    let runs = match store.list_runs(&filter) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    if runs.is_empty() {
        println!("No runs found.");
    }
    for r in runs {
        let when = r
            .started_at_ms
            .map(stepwise_engine::store::utc)
            .unwrap_or_default();
        let input: String = r.input.chars().take(50).collect();
        let used = r
            .usage
            .map(|u| format!("  · {}", u.describe()))
            .unwrap_or_default();
        println!(
            "{}  {:<20} {:<11} {:<22} {input}{used}",
            &r.run_id.to_string()[..8],
            when,
            r.status.word(),
            r.workflow_name
        );
    }
    ExitCode::SUCCESS
}

pub fn show(run_id: &str, json: bool, db: DbArg) -> ExitCode {
    let format = if json {
        ExportFormat::Json
    } else {
        ExportFormat::Markdown
    };
    with_run(run_id, &db, format, |store, id| store.export(id, format))
}

pub fn export(run_id: &str, format: Format, db: DbArg) -> ExitCode {
    let format = match format {
        Format::Md => ExportFormat::Markdown,
        Format::Json => ExportFormat::Json,
    };
    with_run(run_id, &db, format, |store, id| store.export(id, format))
}

pub fn delete(run_id: Option<&str>, all: bool, db: DbArg) -> ExitCode {
    let store = match open(&db) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if all {
        return match store.delete_all() {
            Ok(n) => {
                println!("Deleted {n} runs.");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    let Some(text) = run_id else {
        return ExitCode::from(EXIT_BAD_INPUT);
    };
    match store
        .resolve_id(text)
        .and_then(|id| id.map(|id| store.delete_run(id)).transpose())
    {
        Ok(Some(true)) => {
            println!("Deleted.");
            ExitCode::SUCCESS
        }
        Ok(_) => not_found(text),
        Err(e) => fail(e),
    }
}

/// The run from the history, or else from the cluster in the settings (`format`: how a cluster
/// run is rendered, from its snapshot).
fn with_run(
    text: &str,
    db: &DbArg,
    format: ExportFormat,
    f: impl FnOnce(&Store, stepwise_engine::RunId) -> Result<Option<String>, StoreError>,
) -> ExitCode {
    let store = match open(db) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match store
        .resolve_id(text)
        .and_then(|id| id.map(|id| f(&store, id)).transpose())
    {
        Ok(Some(Some(doc))) => {
            println!("{doc}");
            ExitCode::SUCCESS
        }
        Ok(_) => match crate::cluster::show(text, format) {
            Some(doc) => {
                println!("{doc}");
                ExitCode::SUCCESS
            }
            None => not_found(text),
        },
        Err(e) => fail(e),
    }
}

fn not_found(text: &str) -> ExitCode {
    eprintln!("stepwise: no run `{text}` in the history (`stepwise history` lists them)");
    ExitCode::from(EXIT_BAD_INPUT)
}

fn parse_status(s: &str) -> Result<RunStatus, String> {
    serde_json::from_value(serde_json::Value::String(s.to_lowercase())).map_err(|_| {
        format!("--status: `{s}` is not one of completed, failed, cancelled, interrupted, running, waiting, pending")
    })
}
