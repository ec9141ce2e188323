//! Run history in SQLite (ARCHITECTURE.md §7): every run with the workflow as it ran, every step with
//! its text, and the full event log, durable as it streams.
//!
//! ```text
//! engine ──RunSink──▶ queue (merged text) ──▶ writer thread (batches, one transaction each) ──▶ history.db
//!                                 queries (list, search, get, export, delete) ◀── reader connection
//! ```
//!
//! Opening never overwrites a database it cannot use (locked, read-only, damaged, newer): it says
//! why, and the app goes on without history.

mod codec;
mod error;
mod export;
mod mirror;
mod owners;
mod queries;
mod queue;
mod schema;
mod spending;
mod waiting;
mod writer;

pub use error::StoreError;
pub use export::{ExportFormat, markdown, render, utc};
pub use mirror::Mirror;
pub use queries::{RunFilter, matches_search};
pub use spending::Spending;
pub use waiting::Waiting;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::event::{RunEvent, RunId};
use crate::sink::{RunSink, SinkError};
use crate::snapshot::RunSnapshot;
use crate::workflow::Workflow;

use queue::{Created, WAKE_BYTES};
use writer::{Health, Msg, Owner, Shared, Writer};

/// How long opening waits for another writer before calling the database locked.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);
/// Pages the write-ahead log may hold before it is copied back into the database (see `open`).
const WAL_CHECKPOINT_PAGES: i64 = 10_000;
/// After a checkpoint the write-ahead log file is cut back to this size (it would otherwise stay
/// as large as it ever grew).
const WAL_SIZE_LIMIT: i64 = 4 * 1024 * 1024;

/// How a store is opened. The defaults are what the app uses.
#[derive(Clone, Debug, Default)]
pub struct StoreOptions {
    /// Caps the database's size; past it, writes fail exactly as on a full disk (SQLite's
    /// `max_page_count`). `None`: no cap.
    pub max_bytes: Option<u64>,
    /// How long the writer collects events before writing them (default 250 ms): at most this
    /// much streamed text is lost if the process dies.
    pub batch_interval: Option<Duration>,
    /// Pages the write-ahead log may hold before it is copied back (default 10,000); tests set
    /// it small to see the log's size limit work without writing 40 MB.
    pub wal_checkpoint_pages: Option<i64>,
}

pub struct Store {
    path: PathBuf,
    shown: String,
    reader: Arc<Mutex<Connection>>,
    tx: Sender<Msg>,
    writer: Mutex<Option<JoinHandle<()>>>,
    wake: Waker,
    health: Health,
    /// Held (shared) for the store's life: while any process holds it, none marks every live
    /// run interrupted at open.
    _lock: File,
    owner_id: String,
    /// Held (exclusively) for the store's life: this process's runs carry its name, and another
    /// process that can take this lock knows we are gone and marks them interrupted.
    _owner: File,
}

impl Store {
    /// The history file the app and the CLI share: `~/.local/share/org.stepwise.desktop/history.db`
    /// on Linux (the app's data folder elsewhere).
    pub fn default_path() -> Option<PathBuf> {
        dirs::data_dir().map(|d| d.join(crate::APP_IDENTIFIER).join("history.db"))
    }

    /// Opens (creating if needed) and migrates the database; marks runs left `pending` or
    /// `running` by a process that died as `interrupted`; starts the writer.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, &StoreOptions::default())
    }

    pub fn open_with(path: &Path, options: &StoreOptions) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let io = |e: std::io::Error| StoreError::Io {
            path: shown.clone(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // Respect a read-only file even where the OS would let us write it (as root).
        if std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly()) {
            return Err(StoreError::ReadOnly(shown));
        }
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path(path))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                    StoreError::ReadOnly(shown.clone())
                }
                _ => io(e),
            })?;
        let sql = |e: rusqlite::Error| StoreError::from_sqlite(&e, &shown);

        let mut conn = connect(path).map_err(sql)?;
        // Reading the header first tells a damaged file from a busy one before anything writes.
        schema::version(&conn).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        schema::migrate(&mut conn, &shown)?;

        // Alone with the file: runs still marked live belong to a process that died.
        let owners = owners_dir(path);
        if lock.try_lock().is_ok() {
            owners::mark_interrupted(&conn, None).map_err(sql)?;
            conn.execute("DELETE FROM owners", []).map_err(sql)?;
            // Nobody holds an owner file now: they are all left over.
            if let Ok(dir) = std::fs::read_dir(&owners) {
                for entry in dir.flatten() {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
            lock.unlock().map_err(io)?;
        }
        lock.lock_shared().map_err(io)?;
        let owner_id = uuid::Uuid::new_v4().to_string();
        std::fs::create_dir_all(&owners).map_err(io)?;
        let owner_file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(owners.join(&owner_id))
            .map_err(io)?;
        owner_file
            .try_lock()
            .map_err(|e| io(std::io::Error::other(e)))?;
        // Others share the file: their runs that outlived their process are interrupted.
        owners::recover_dead_owners(&conn, &owner_id, &owners).map_err(sql)?;

        let health: Health = Arc::default();
        let (tx, rx) = mpsc::channel();
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)
            .map_err(sql)?;
        let write_conn = connect(path).map_err(sql)?;
        // The writer only adds rows under runs it inserted itself, and runs are deleted (with their
        // rows, by cascade) on the other connection, where foreign keys stay on: checking the
        // parent of every event row here would only cost time.
        write_conn
            .pragma_update(None, "foreign_keys", "OFF")
            .map_err(sql)?;
        // Under many streams one batch dirties more than SQLite's default 1,000 pages, so every
        // commit would also copy the log back into the database. Let the log grow to ~40 MB
        // between those copies; it is reset after each one.
        write_conn
            .pragma_update(
                None,
                "wal_autocheckpoint",
                options.wal_checkpoint_pages.unwrap_or(WAL_CHECKPOINT_PAGES),
            )
            .map_err(sql)?;
        write_conn
            .pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)
            .map_err(sql)?;
        if let Some(bytes) = options.max_bytes {
            let page: i64 = write_conn
                .query_row("PRAGMA page_size", [], |r| r.get(0))
                .map_err(sql)?;
            let pages = (bytes / page.max(1) as u64).max(1) as i64;
            write_conn
                .pragma_update(None, "max_page_count", pages)
                .map_err(sql)?;
        }
        let interval = options.batch_interval.unwrap_or(writer::BATCH_INTERVAL);
        let owner = Owner {
            id: owner_id.clone(),
            dir: owners,
        };
        let writer = Writer::new(write_conn, health.clone(), interval, owner);
        let shared = Arc::new(Shared::default());
        let writer_shared = shared.clone();
        let handle = std::thread::Builder::new()
            .name("stepwise-history".into())
            .spawn(move || writer.run(rx, writer_shared))
            .map_err(io)?;
        let wake = Waker {
            thread: handle.thread().clone(),
            shared,
        };
        Ok(Store {
            path: path.to_path_buf(),
            shown,
            reader: Arc::new(Mutex::new(conn)),
            tx,
            writer: Mutex::new(Some(handle)),
            wake,
            health,
            _lock: lock,
            owner_id,
            _owner: owner_file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the engine records runs through.
    pub fn sink(&self) -> Arc<dyn RunSink> {
        Arc::new(self.store_sink())
    }

    fn store_sink(&self) -> StoreSink {
        StoreSink {
            wake: self.wake.clone(),
            reader: self.reader.clone(),
        }
    }

    /// Marks interrupted the live runs of Stepwise processes that have died while this one
    /// held the file (the writer also does this every few seconds). Returns how many.
    pub fn recover_interrupted(&self) -> Result<usize, StoreError> {
        let conn = self.reader();
        owners::recover_dead_owners(&conn, &self.owner_id, &owners_dir(&self.path))
            .map_err(|e| self.sql(e))
    }

    /// Waits (up to `limit`) until everything recorded so far is committed.
    pub fn flush(&self, limit: Duration) -> Result<(), StoreError> {
        self.ask(Msg::Flush, limit)
    }

    /// Commits what is left and stops the writer; later events are not recorded.
    pub fn close(&self, limit: Duration) -> Result<(), StoreError> {
        let result = self.ask(Msg::Shutdown, limit);
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // Join only a writer that answered; one stuck on a dead disk is left behind.
        if let Some(h) = handle
            && result.is_ok()
        {
            let _ = h.join();
        }
        result
    }

    fn ask(
        &self,
        msg: impl FnOnce(Sender<Result<(), String>>) -> Msg,
        limit: Duration,
    ) -> Result<(), StoreError> {
        let (reply, answer) = mpsc::channel();
        self.tx
            .send(msg(reply))
            .map_err(|_| StoreError::NotSaved("the history writer has stopped".into()))?;
        // Do not let the writer wait out its batch interval: someone is waiting.
        self.wake.now();
        match answer.recv_timeout(limit) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if e.contains("full") => Err(StoreError::Full),
            Ok(Err(e)) => Err(StoreError::NotSaved(e)),
            Err(_) => Err(StoreError::NotSaved(format!(
                "still writing after {} ms",
                limit.as_millis()
            ))),
        }
    }

    /// The last write error, while writes are failing (for example a full disk).
    pub fn health(&self) -> Option<String> {
        self.health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sql(&self, e: rusqlite::Error) -> StoreError {
        StoreError::from_sqlite(&e, &self.shown)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Every run of ours has been written with its end by now (or is left for the next
        // process to find interrupted): the owner file has done its work.
        self.withdraw();
        if self.close(Duration::from_secs(5)).is_ok() {
            let _ = self.release_waiting();
            let _ = std::fs::remove_file(owners_dir(&self.path).join(&self.owner_id));
        }
    }
}

fn lock_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// One file per process using the history, named by the owner id its runs carry.
fn owners_dir(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".owners");
    PathBuf::from(p)
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL with NORMAL sync survives a process crash; a power cut may lose the last commits.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Wakes the writer thread.
#[derive(Clone)]
struct Waker {
    thread: Thread,
    shared: Arc<Shared>,
}

impl Waker {
    /// Write now: someone waits, or much is queued.
    fn now(&self) {
        self.shared.urgent.store(true, Ordering::Release);
        self.thread.unpark();
    }

    /// The first thing queued since the writer last took the queue: start the batch interval.
    fn first(&self) {
        self.thread.unpark();
    }
}

/// Hands runs and events to the writer's queue without blocking the run.
struct StoreSink {
    wake: Waker,
    reader: Arc<Mutex<Connection>>,
}

impl StoreSink {
    /// Queues a run (new or revived); the first thing queued since the writer last took the
    /// queue starts its batch interval.
    fn push(&self, add: impl FnOnce(&mut queue::Queue)) {
        let was_empty = {
            let mut q = self.wake.shared.queue();
            let was_empty = q.is_empty();
            add(&mut q);
            was_empty
        };
        if was_empty {
            self.wake.first();
        }
    }
}

impl RunSink for StoreSink {
    fn run_created(&self, run_id: RunId, workflow: &Workflow, input: &str, created_at_ms: u64) {
        let created = created(run_id, workflow, input, created_at_ms);
        self.push(|q| q.push_created(created));
    }

    fn run_taken_over(&self, workflow: &Workflow, snapshot: &RunSnapshot) {
        let started = snapshot.started_at_ms.unwrap_or_default();
        let created = created(snapshot.run_id, workflow, &snapshot.input, started);
        // In one push, so the writer takes both in the same batch: the run is written whole.
        self.push(|q| {
            q.push_created(created);
            q.push_revived(snapshot);
        });
    }

    fn event(&self, event: &RunEvent) {
        let (was_empty, before, after) = {
            let mut q = self.wake.shared.queue();
            let (was_empty, before) = (q.is_empty(), q.bytes);
            (was_empty, before, q.push_event(event))
        };
        // One wake-up when the backlog crosses the mark, not one per event after it.
        if before < WAKE_BYTES && after >= WAKE_BYTES {
            self.wake.now();
        } else if was_empty {
            self.wake.first();
        }
    }

    fn run_revived(&self, snapshot: &RunSnapshot) {
        self.push(|q| q.push_revived(snapshot));
    }

    fn has_run(&self, run_id: RunId) -> Result<bool, SinkError> {
        let conn = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        conn.query_row(
            "SELECT 1 FROM runs WHERE id = ?1",
            params![run_id.to_string()],
            |_| Ok(()),
        )
        .optional()
        .map(|found| found.is_some())
        .map_err(|e| SinkError(e.to_string()))
    }
}

fn created(run_id: RunId, workflow: &Workflow, input: &str, created_at_ms: u64) -> Created {
    Created {
        owner: None,
        run_id,
        workflow_name: workflow.name.clone(),
        workflow_json: serde_json::to_string(workflow).unwrap_or_default(),
        input: input.to_string(),
        created_at_ms,
    }
}
