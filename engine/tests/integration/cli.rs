//! The `stepwise` binary: exit codes, `--json` output, cancellation paths.

use std::process::{Command, Output, Stdio};
use std::sync::mpsc::RecvTimeoutError;

use stepwise_engine::{EventKind, RunEvent};
use stepwise_testkit::PATIENCE;

/// One history database for this test binary, never the user's; emptied once per run.
fn test_db() -> String {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-db");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    });
    dir.join("history.db").display().to_string()
}

fn stepwise() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepwise"));
    c.env("STEPWISE_DB", test_db())
        .env("STEPWISE_SETTINGS", "/nonexistent/settings.toml");
    // Fast but not instant, so that cancels land mid-run.
    c.env("STEPWISE_DEMO_FIRST_TOKEN_MS", "0")
        .env("STEPWISE_DEMO_WORD_MS", "1");
    c
}

fn run(args: &[&str]) -> Output {
    stepwise().args(args).output().unwrap()
}

fn events(out: &Output) -> Vec<RunEvent> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not an event ({e}): {l}")))
        .collect()
}

fn assert_gap_free(events: &[RunEvent]) {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1);
    }
}

#[test]
fn templates_lists_ids_names_and_descriptions() {
    let out = run(&["templates"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("research-and-write") && text.contains("Research and write"));
    assert!(text.contains("long-story") && text.contains("Long story"));
    assert!(text.lines().count() >= 3);
}

#[test]
fn validate_prints_ok_or_the_errors_with_exit_2() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-validate");
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "name = \"G\"\n[[steps]]\nname = \"A\"\ninstructions = \"x\"\n",
    )
    .unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"B\"\n[[steps]]\nname = \"A\"\nmodel = \"gpt\"\n",
    )
    .unwrap();

    let out = run(&["validate", good.to_str().unwrap()]);
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim()
        ),
        (Some(0), "ok")
    );
    let out = run(&["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml: line 2, step \"A\" (steps[0]), field `instructions`"),
        "{err}"
    );
    assert!(err.contains("field `model`: unknown provider"), "{err}");
    let out = run(&["run", bad.to_str().unwrap(), "--input", "x"]);
    assert_eq!(out.status.code(), Some(2), "an invalid file does not run");
}

#[test]
fn json_prints_every_event_and_exits_0_on_completion() {
    let out = run(&[
        "run",
        "research-and-write",
        "--input",
        "tidal energy",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let evs = events(&out);
    assert_gap_free(&evs);
    assert!(matches!(evs[0].kind, EventKind::RunStarted { .. }));
    assert!(matches!(
        evs.last().unwrap().kind,
        EventKind::RunCompleted { .. }
    ));
    assert_eq!(evs.iter().filter(|e| e.kind.is_terminal()).count(), 1);
    // Exactly the serde form: re-serializing a line gives the line back.
    let first = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(serde_json::to_string(&evs[0]).unwrap(), first);
}

#[test]
fn human_output_shows_steps_text_and_outcome() {
    let out = run(&["run", "research-and-write", "--input", "tidal energy"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("▶ Step 1 of 2 · Research · Demo model"),
        "{text}"
    );
    assert!(text.contains("▶ Step 2 of 2 · Write"));
    assert!(text.contains("tidal energy"));
    assert!(text.contains("Completed in"));
}

#[test]
fn cancel_after_ms_ends_with_one_run_cancelled_and_exit_130() {
    let out = run(&[
        "run",
        "long-story",
        "--input",
        "a dragon who learns to code",
        "--json",
        "--cancel-after-ms",
        "150",
    ]);
    assert_eq!(out.status.code(), Some(130));
    let evs = events(&out);
    assert_gap_free(&evs);
    let cancelled: Vec<_> = evs
        .iter()
        .filter(|e| matches!(e.kind, EventKind::RunCancelled { .. }))
        .collect();
    assert_eq!(cancelled.len(), 1);
    let EventKind::RunCancelled { running, .. } = &evs.last().unwrap().kind else {
        panic!("RunCancelled must be the last line")
    };
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].path, "story");
    let partial_output = &running[0].text;
    let streamed: String = evs
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TextDelta { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(!streamed.is_empty());
    assert_eq!(*partial_output, streamed);
}

#[test]
fn ctrl_c_cancels_the_run_with_exit_130() {
    let mut child = stepwise()
        .args(["run", "long-story", "--input", "a dragon", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = crate::support::stdout_lines(&mut child);
    // Wait for text to stream, then interrupt as a terminal would.
    while !lines
        .recv_timeout(PATIENCE)
        .expect("no text streamed")
        .contains("\"TextDelta\"")
    {}
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    // Every line up to the end of its output.
    let mut rest = Vec::new();
    loop {
        match lines.recv_timeout(PATIENCE) {
            Ok(line) => rest.push(line),
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!("the run went on after Ctrl-C: {rest:?}"),
        }
    }
    assert!(
        rest.last().unwrap().contains("\"RunCancelled\""),
        "{:?}",
        rest.last()
    );
    assert_eq!(child.wait().unwrap().code(), Some(130));
}

#[test]
fn cancel_shows_plainly_for_a_person() {
    let out = run(&[
        "run",
        "long-story",
        "--input",
        "a dragon",
        "--cancel-after-ms",
        "100",
    ]);
    assert_eq!(out.status.code(), Some(130));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("■ Cancelled during step 1 (Story)"), "{text}");
    assert!(text.contains("The text so far is kept."));
}

#[test]
fn a_failed_run_exits_1_with_its_message() {
    let out = run(&[
        "run",
        "research-and-write",
        "--input",
        "x",
        "--model",
        "anthropic:claude-x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("✗ Failed at step 1 (Research)"), "{text}");
}

#[test]
fn bad_input_exits_2() {
    for args in [
        &["run", "no-such-template", "--input", "x"][..],
        &["run", "research-and-write", "--input", "   "],
        &[
            "run",
            "research-and-write",
            "--input",
            "x",
            "--model",
            "gpt-4",
        ],
        &["run", "missing/file.toml", "--input", "x"],
        &["run", "research-and-write"],
        &["nonsense"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} says why");
    }
    let out = stepwise()
        .env("STEPWISE_DEMO_WORD_MS", "fast")
        .args(["run", "long-story", "--input", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("STEPWISE_DEMO_WORD_MS"));
}

mod against_a_real_server {
    use super::*;
    use crate::support::server_runtime;
    use std::time::Duration;
    use stepwise_testkit::{Behavior, Fault, TestServer};

    fn cli(server: &TestServer, extra: &[&str]) -> Output {
        let mut c = stepwise();
        c.env("STEPWISE_SETTINGS", "/nonexistent/settings.toml")
            .env("OPENAI_BASE_URL", server.openai_base())
            .env("OPENAI_API_KEY", "sk-cli-test")
            .env_remove("ANTHROPIC_API_KEY")
            .args([
                "run",
                "research-and-write",
                "--input",
                "tidal energy",
                "--model",
                "openai:test-model",
            ])
            .args(extra);
        c.output().unwrap()
    }

    /// The CLI's `--json` output for a run against `server` (5,000 words, 10 ms apart) cancelled
    /// by `--cancel-after-ms`, once the cancel came after some text, and the delay that did it. The cancel's timer starts
    /// with the run, so on a busy machine it can fire before the request even reaches the server
    /// (then there is no stream to cut); it is then tried again with more time. What the tests
    /// check is what a cancel does mid-stream, not how soon the stream starts.
    fn cancelled_mid_stream(server: &TestServer, first_ms: u64) -> (Output, u64) {
        [first_ms, 3_000, 20_000]
            .into_iter()
            .find_map(|ms| {
                server.reset();
                server.set_default(Behavior::words(5_000, 10));
                let out = cli(server, &["--json", "--cancel-after-ms", &ms.to_string()]);
                let streamed = events(&out)
                    .iter()
                    .any(|e| matches!(e.kind, EventKind::TextDelta { .. }));
                streamed.then_some((out, ms))
            })
            .expect("no text streamed before the cancel, even with 20 s")
    }

    #[test]
    fn streams_from_an_openai_compatible_server() {
        let rt = server_runtime();
        let server = rt.block_on(TestServer::start()).unwrap();
        server.set_default(Behavior::words(12, 0));
        let out = cli(&server, &["--json"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let evs = events(&out);
        assert!(matches!(
            evs.last().unwrap().kind,
            EventKind::RunCompleted { .. }
        ));
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].header("authorization"), Some("Bearer sk-cli-test"));
        assert_eq!(reqs[0].json()["model"], "test-model");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("sk-cli-test")
                && !stderr.contains("sk-cli-test")
        );
    }

    #[test]
    fn cancel_after_ms_closes_the_connection() {
        let rt = server_runtime();
        let server = rt.block_on(TestServer::start()).unwrap();
        let (out, ms) = cancelled_mid_stream(&server, 300);
        assert_eq!(out.status.code(), Some(130));
        let evs = events(&out);
        assert!(matches!(
            evs.last().unwrap().kind,
            EventKind::RunCancelled { .. }
        ));
        // The process has ended, so its connection is closed: a deadline for a busy machine, not
        // a measure of speed (the providers bench measures that).
        let seen = rt.block_on(server.wait_for_disconnect(0, Duration::from_secs(30)));
        assert!(seen.is_some(), "the server saw the connection close");
        let rec = &server.requests()[0];
        // Closed, not drained: 5,000 chunks 10 ms apart would take 50 s. About `ms / 10` were
        // due before the cancel; 70 more is the slack a busy machine gets (100 for 300 ms).
        assert!(
            rec.chunks_sent < ms as usize / 10 + 70,
            "{} of 5,000 chunks sent, cancelled after {ms} ms: not drained",
            rec.chunks_sent
        );
    }

    #[test]
    fn tokens_and_cost_are_printed_and_carried_in_json() {
        let rt = server_runtime();
        let server = rt.block_on(TestServer::start()).unwrap();
        server.set_default(Behavior::words(12, 0));
        // A person reads each step's tokens and cost, and the run's.
        let out = cli(&server, &[]);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8(out.stdout).unwrap();
        let done: Vec<&str> = text.lines().filter(|l| l.contains("done in")).collect();
        assert_eq!(done.len(), 2, "{text}");
        // The server is on this computer: its models cost nothing.
        assert!(
            done.iter().all(|l| l.ends_with(" in · 12 out · free")),
            "{text}"
        );
        let total = text
            .lines()
            .find(|l| l.contains("Tokens and cost: "))
            .unwrap();
        assert!(total.ends_with(" in · 24 out · free."), "{text}");

        // A stopped run: the cut stream's counts are estimated, marked, in the JSON too.
        let (out, _) = cancelled_mid_stream(&server, 400);
        assert_eq!(out.status.code(), Some(130));
        let evs = events(&out);
        let EventKind::RunCancelled { running, .. } = &evs.last().unwrap().kind else {
            panic!("not cancelled")
        };
        let u = running[0].usage.expect("the cut step's usage");
        assert!(u.estimated && u.output_tokens.unwrap() > 0 && u.input_tokens.unwrap() > 0);
        let done = evs.iter().any(
            |e| matches!(&e.kind, EventKind::StepCompleted { usage: Some(u), .. } if !u.estimated),
        );
        assert!(!done, "the first step never finished");
    }

    #[test]
    fn every_fault_exits_1_with_a_clear_message() {
        let rt = server_runtime();
        let server = rt.block_on(TestServer::start()).unwrap();
        let cases = [
            (
                Behavior::status(401, "bad key"),
                "The API key was rejected by 127.0.0.1",
            ),
            (
                Behavior::default().with_fault(Fault::Status {
                    code: 429,
                    message: "Rate limit reached".into(),
                    retry_after_secs: Some(90),
                }),
                "Try again in 90 s",
            ),
            (
                Behavior::words(10, 0).with_fault(Fault::DropAfter { tokens: 2 }),
                "dropped in the middle of the answer",
            ),
            (
                Behavior::words(10, 0).with_fault(Fault::MalformedAfter { tokens: 2 }),
                "malformed chunk",
            ),
            (
                Behavior::words(10, 0).with_fault(Fault::ErrorEventAfter {
                    tokens: 1,
                    message: "Overloaded".into(),
                }),
                "reported an error mid-answer: Overloaded",
            ),
        ];
        for (behavior, says) in cases {
            server.reset();
            server.set_default(behavior);
            let out = cli(&server, &[]);
            let text = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(1), "{says}: {text}");
            assert!(
                text.contains("✗ Failed at step 1 (Research)") && text.contains(says),
                "{says}: {text}"
            );
        }
    }
}
