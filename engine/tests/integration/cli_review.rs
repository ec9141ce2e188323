//! `stepwise run` leaving a run waiting for a review, `stepwise answer`, and `stepwise resume` of
//! a run whose process was killed.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::scratch_db;
use stepwise_engine::store::Store;
use stepwise_engine::{EventKind, RunEvent, RunStatus, StepStatus};

fn stepwise(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepwise"));
    c.env("STEPWISE_DB", db)
        .env("STEPWISE_SETTINGS", "/nonexistent/settings.toml")
        .env("STEPWISE_DEMO_FIRST_TOKEN_MS", "0")
        .env("STEPWISE_DEMO_WORD_MS", "0");
    c
}

fn run(db: &Path, args: &[&str]) -> Output {
    stepwise(db).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn workflow_file(db: &Path, name: &str, toml: &str) -> String {
    let path = db.with_file_name(name);
    std::fs::write(&path, toml).unwrap();
    path.display().to_string()
}

const REVIEWED: &str = "name = \"Reviewed\"\n[[steps]]\nname = \"Draft\"\n\
    instructions = \"Write a short summary.\"\nreview = true\n[[steps]]\nname = \"Email\"\n\
    instructions = \"Write an email.\"\n";

#[test]
fn run_waits_for_a_review_and_answer_takes_it_on_across_processes() {
    let db = scratch_db("cli-review");
    let file = workflow_file(&db, "reviewed.toml", REVIEWED);

    let out = run(&db, &["run", &file, "--input", "tidal energy"]);
    assert_eq!(out.status.code(), Some(3), "exit 3: waiting for you");
    let said = text(&out);
    assert!(said.contains("Waiting for you: review “Draft”"), "{said}");
    let id = said
        .split("stepwise answer ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    let store = Store::open(&db).unwrap();
    let saved = store.get_run(id.parse().unwrap()).unwrap().unwrap();
    assert_eq!(saved.status, RunStatus::Waiting);
    assert_eq!(saved.step("draft").unwrap().status, StepStatus::Waiting);
    drop(store);

    // Wrong answers are refused with what to do, and change nothing.
    let out = run(&db, &["answer", &id, "maybe"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("approve, edit FILE or send-back"));

    // Sent back: the step runs again with the note, and waits again.
    let out = run(
        &db,
        &["answer", &id[..8], "send-back", "Mention the costs."],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("Revised as you asked (“Mention the costs.”)"));

    // Edited: the next step gets the person's text, and the run completes.
    let edit = workflow_file(&db, "edit.txt", "My own summary of tidal energy.");
    let out = run(&db, &["answer", &id, "edit", &edit, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<RunEvent> = text(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(matches!(
        &events[0].kind,
        EventKind::ReviewAnswered { path, .. } if path == "draft"
    ));
    assert!(events.last().unwrap().kind.is_terminal());
    let out = run(&db, &["show", &id]);
    let shown = text(&out);
    assert!(
        shown.contains("Edited by you") && shown.contains("Sent back by you"),
        "{shown}"
    );
    assert!(shown.contains("My own summary of tidal energy."));

    // Nothing waits any more.
    let out = run(&db, &["answer", &id, "approve"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not wait for a review"));
}

#[test]
fn resume_continues_a_run_whose_process_was_killed() {
    let db = scratch_db("cli-resume-killed");
    let file = workflow_file(
        &db,
        "three.toml",
        "name = \"Three\"\n[[steps]]\nname = \"Facts\"\ninstructions = \"List the facts.\"\n\
         [[steps]]\nname = \"Story\"\ninstructions = \"Write a long story.\"\n\
         [[steps]]\nname = \"Summary\"\ninstructions = \"Summarize it.\"\n",
    );
    let mut child = stepwise(&db)
        .env("STEPWISE_DEMO_WORD_MS", "5")
        .args(["run", &file, "--input", "a lighthouse keeper", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = crate::support::stdout_lines(&mut child);
    // Kill it in the middle of the second step, once the first is surely saved.
    let mut events: Vec<RunEvent> = Vec::new();
    let mut story_deltas = 0;
    while story_deltas < 60 {
        let e: RunEvent =
            serde_json::from_str(&rx.recv_timeout(Duration::from_secs(20)).unwrap()).unwrap();
        if matches!(&e.kind, EventKind::TextDelta { path, .. } if &**path == "story") {
            story_deltas += 1;
        }
        events.push(e);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let id = events[0].run_id;
    let facts = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::StepCompleted { path, output, .. } if path == "facts" => {
                Some(output.clone())
            }
            _ => None,
        })
        .unwrap();

    let out = run(&db, &["resume", &id.to_string(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resumed: Vec<RunEvent> = text(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let EventKind::RunStarted { resumed_from, .. } = &resumed[0].kind else {
        panic!("no RunStarted");
    };
    let from = resumed_from.as_ref().unwrap();
    assert_eq!((from.run_id, from.step.as_str()), (id, "story"));
    assert!(resumed.iter().any(|e| matches!(
        &e.kind,
        EventKind::StepReused { step, output, .. } if step.path == "facts" && *output == facts
    )));
    assert!(
        !resumed.iter().any(|e| matches!(
            &e.kind,
            EventKind::StepStarted { step } if step.path == "facts"
        )),
        "the finished step is not run again"
    );
    assert!(matches!(
        resumed.last().unwrap().kind,
        EventKind::RunCompleted { .. }
    ));
    let store = Store::open(&db).unwrap();
    let old = store.get_run(id).unwrap().unwrap();
    assert_eq!(old.status, RunStatus::Interrupted);
    assert_eq!(old.continued_in, vec![resumed[0].run_id]);
    drop(store);
    // Both show the link.
    let shown = text(&run(&db, &["show", &resumed[0].run_id.to_string()]));
    assert!(
        shown.contains(&format!("**Continues:** run {id} from “Story”")),
        "{shown}"
    );
    assert!(shown.contains("reused from the earlier run"), "{shown}");
    let shown = text(&run(&db, &["show", &id.to_string()]));
    assert!(
        shown.contains(&format!("**Continued in:** run {}", resumed[0].run_id)),
        "{shown}"
    );
}
