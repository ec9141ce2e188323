//! Runs that outlive their caller, with real processes over real sockets: a run one `stepwise`
//! process owns is watched and cancelled from others by its id, and `run --background` hands a
//! run to a process of its own.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::Receiver;

use crate::support::{server_runtime, stdout_lines};
use stepwise_engine::store::Store;
use stepwise_engine::{EventKind, RunEvent, RunId, RunSnapshot, RunStatus};
use stepwise_testkit::{Behavior, PATIENCE, TestServer, eventually, processes_tagged};

/// A history and a runtime folder of the test's own: its processes find each other there and
/// nowhere else.
struct Place {
    root: PathBuf,
}

impl Place {
    fn new(name: &str) -> Place {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cc-{name}"));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("rt")).unwrap();
        Place { root }
    }

    fn db(&self) -> PathBuf {
        self.root.join("history.db")
    }

    /// `stepwise` with this place's history and runtime folder.
    fn stepwise(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stepwise"));
        c.env("STEPWISE_DB", self.db())
            .env("XDG_RUNTIME_DIR", self.root.join("rt"))
            .env("STEPWISE_SETTINGS", "/nonexistent/settings.toml")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("OPENAI_API_KEY");
        c
    }

    fn output(&self, args: &[&str]) -> Output {
        self.stepwise().args(args).output().unwrap()
    }
}

fn events_of(text: &[u8]) -> Vec<RunEvent> {
    String::from_utf8_lossy(text)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not an event ({e}): {l}")))
        .collect()
}

fn fold(events: &[RunEvent]) -> RunSnapshot {
    let mut s = RunSnapshot::new(events[0].run_id);
    for e in events {
        s.apply(e);
    }
    s
}

fn texts(s: &RunSnapshot) -> Vec<(String, String)> {
    s.steps
        .iter()
        .map(|st| (st.path.clone(), st.text.clone()))
        .collect()
}

fn cancelled_count(events: &[RunEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::RunCancelled { .. }))
        .count()
}

/// Waits for a child to end (its output read to the end), within `PATIENCE`.
fn finish(child: Child) -> Output {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    rx.recv_timeout(PATIENCE)
        .expect("the process ended in time")
        .unwrap()
}

/// Lines until one satisfies `want`, within `PATIENCE`; all of them.
fn lines_until(lines: &Receiver<String>, want: impl Fn(&str) -> bool) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let line = lines
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|e| panic!("no such line ({e}); saw {seen:?}"));
        let done = want(&line);
        seen.push(line);
        if done {
            return seen;
        }
    }
}

#[test]
fn a_run_is_cancelled_from_another_process_and_every_watcher_sees_one_end() {
    let rt = server_runtime();
    let server = rt.block_on(TestServer::start()).unwrap();
    // Long enough never to end by itself while the test goes on.
    server.set_default(Behavior::words(100_000, 5));
    let place = Place::new("cancel");
    // On the owner's command line, to find its process.
    let tag = "tides-cc-cancel";

    // The owner: a run in "a terminal", its events as JSON lines.
    let mut owner = place
        .stepwise()
        .env("OPENAI_BASE_URL", server.openai_base())
        .env("OPENAI_API_KEY", "sk-test")
        .args(["run", "research-and-write", "--input", tag, "--json"])
        .args(["--model", "openai:test-model"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let owner_lines = stdout_lines(&mut owner);
    let first = lines_until(&owner_lines, |l| l.contains("TextDelta"));
    let id: RunId = serde_json::from_str::<RunEvent>(&first[0]).unwrap().run_id;

    // A watcher in a third process, from the run's first event.
    let mut watcher = place
        .stepwise()
        .args(["watch", &id.to_string(), "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let watch_lines = stdout_lines(&mut watcher);
    let watch_first = lines_until(&watch_lines, |l| l.contains("TextDelta"));

    // `stepwise runs` names it and where it was started.
    let runs = place.output(&["runs"]);
    let listed = String::from_utf8_lossy(&runs.stdout);
    assert!(
        listed.contains(&id.to_string()) && listed.contains("started from a terminal"),
        "{listed}"
    );

    // The cancel, from another process.
    let cancel = place.output(&["cancel", &id.to_string()]);
    assert_eq!(
        cancel.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&cancel.stdout),
        String::from_utf8_lossy(&cancel.stderr)
    );

    // The provider's connection is closed: the owner stopped streaming.
    let closed = rt.block_on(server.wait_for_disconnect(0, PATIENCE));
    assert!(closed.is_some(), "the provider's connection closed");

    let owner_out = finish(owner);
    assert_eq!(owner_out.status.code(), Some(130));
    let mut owner_events: Vec<RunEvent> = first
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    owner_events.extend(
        owner_lines
            .iter()
            .map(|l| serde_json::from_str(&l).unwrap()),
    );
    let watch_out = finish(watcher);
    assert_eq!(watch_out.status.code(), Some(130));
    let watch_events: Vec<RunEvent> = watch_first
        .into_iter()
        .chain(watch_lines.iter())
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect();
    assert_eq!(
        watch_events[0].seq, 1,
        "the watcher saw the run from its first event"
    );

    assert_eq!(cancelled_count(&owner_events), 1);
    assert_eq!(cancelled_count(&watch_events), 1);
    assert!(matches!(
        owner_events.last().unwrap().kind,
        EventKind::RunCancelled { .. }
    ));
    assert!(matches!(
        watch_events.last().unwrap().kind,
        EventKind::RunCancelled { .. }
    ));

    // The same text kept in all three places and in the history.
    let by_owner = fold(&owner_events);
    let by_watcher = fold(&watch_events);
    assert_eq!(by_owner.status, RunStatus::Cancelled);
    assert!(!by_owner.steps[0].text.is_empty());
    assert_eq!(texts(&by_owner), texts(&by_watcher));
    let store = Store::open(&place.db()).unwrap();
    let saved = store.get_run(id).unwrap().unwrap();
    assert_eq!(saved.status, RunStatus::Cancelled);
    assert_eq!(texts(&saved), texts(&by_owner));

    // A second cancel finds it ended; an id nobody knows is said so.
    assert_eq!(
        place.output(&["cancel", &id.to_string()]).status.code(),
        Some(1)
    );
    let unknown = place.output(&["cancel", &uuid::Uuid::new_v4().to_string()]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(!unknown.stderr.is_empty());
    assert!(processes_tagged(tag).is_empty());
}

#[test]
fn a_background_run_returns_its_id_at_once_and_is_followed_or_cancelled_from_anywhere() {
    let place = Place::new("bg");
    // The background process has this place's history on its command line.
    let tag = place.db().display().to_string();
    let background = |word_ms: &str| {
        let out = place
            .stepwise()
            .env("STEPWISE_DEMO_FIRST_TOKEN_MS", "0")
            .env("STEPWISE_DEMO_WORD_MS", word_ms)
            .args([
                "run",
                "long-story",
                "--input",
                "a lighthouse",
                "--background",
            ])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id: RunId = String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        id
    };

    // Followed to its end from another process, from its first event.
    let id = background("2");
    let watched = place.output(&["watch", &id.to_string(), "--json"]);
    assert_eq!(
        watched.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&watched.stderr)
    );
    let events = events_of(&watched.stdout);
    assert_eq!(events[0].seq, 1);
    assert!(matches!(events[0].kind, EventKind::RunStarted { .. }));
    assert!(matches!(
        events.last().unwrap().kind,
        EventKind::RunCompleted { .. }
    ));
    // No gap and no duplicate, the saved part's merged deltas included.
    for pair in events.windows(2) {
        assert_eq!(pair[1].first_seq.unwrap_or(pair[1].seq), pair[0].seq + 1);
    }
    let by_watcher = fold(&events);
    let store = Store::open(&place.db()).unwrap();
    let saved = eventually(PATIENCE, "the history has the run's end", || {
        store
            .get_run(id)
            .unwrap()
            .filter(|s| s.status == RunStatus::Completed)
    });
    assert_eq!(texts(&saved), texts(&by_watcher));
    assert_eq!(saved.final_output, by_watcher.final_output);

    // Cancelled from another process while it goes.
    let id = background("50");
    let runs = place.output(&["runs"]);
    let listed = String::from_utf8_lossy(&runs.stdout);
    assert!(listed.contains("started in the background"), "{listed}");
    let cancel = place.output(&["cancel", &id.to_string()]);
    assert_eq!(
        cancel.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&cancel.stderr)
    );
    let watched = place.output(&["watch", &id.to_string(), "--json"]);
    assert_eq!(watched.status.code(), Some(130));
    assert_eq!(cancelled_count(&events_of(&watched.stdout)), 1);
    // Its process owned nothing more: it has ended.
    eventually(PATIENCE, "the background process ends", || {
        processes_tagged(&tag).is_empty()
    });
    let saved = eventually(PATIENCE, "the history has the cancel", || {
        store
            .get_run(id)
            .unwrap()
            .filter(|s| s.status == RunStatus::Cancelled)
    });
    assert!(!saved.steps[0].text.is_empty(), "the text so far is kept");
    let log = place.root.join("background").join(format!("{id}.log"));
    assert!(std::fs::read_to_string(log).unwrap().contains("Cancelled"));
}
