//! Files as input from the command line: `stepwise extract` reads a file in a child process of
//! its own (real processes), in whatever encoding it was written; `run --file` gives the first
//! step the files' text under their names; a file that cannot be read is said by name and the run
//! does not start; a reader that never finishes is stopped at its time limit and leaves no
//! process behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use stepwise_engine::{EventKind, RunEvent};
use stepwise_testkit::{PATIENCE, eventually, processes_tagged};

fn folder(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("files-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stepwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stepwise"))
        .args(args)
        .env("STEPWISE_SETTINGS", "/nonexistent/settings.toml")
        .env("STEPWISE_DEMO_FIRST_TOKEN_MS", "0")
        .env("STEPWISE_DEMO_WORD_MS", "0")
        .output()
        .unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn text_in_six_encodings_comes_out_right() {
    let dir = folder("encodings");
    let french = "Réunion du 3 mars : café, thé et crème brûlée — 20 €.";
    let chinese =
        "会议纪要：我们讨论了明年的预算和新产品的发布计划，大家都同意在三月份之前完成设计工作。";
    let japanese = "会議の議事録：来年の予算と新製品の発売計画について話し合い、三月までに設計を終えることで合意しました。";
    let encode = |label: &str, text: &str| {
        let e = encoding_rs::Encoding::for_label(label.as_bytes()).unwrap();
        e.encode(text).0.into_owned()
    };
    let utf16le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(french.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("plain.txt", french.as_bytes().to_vec(), french),
        (
            "marked.md",
            [b"\xEF\xBB\xBF".as_slice(), french.as_bytes()].concat(),
            french,
        ),
        ("windows.csv", encode("windows-1252", french), french),
        ("utf16.log", utf16le, french),
        ("gbk.txt", encode("gbk", chinese), chinese),
        ("sjis.srt", encode("shift_jis", japanese), japanese),
    ];
    for (name, bytes, expected) in cases {
        let path = write(&dir, name, &bytes);
        let out = stepwise(&["extract", &path]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.trim_end(), expected, "{name}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.starts_with(name), "{said}");
    }
}

#[test]
fn the_first_step_gets_the_files_under_their_names_and_a_bad_file_stops_the_run_before_it_starts() {
    let dir = folder("run");
    let notes = write(&dir, "notes.txt", "The pilot ran for six weeks.".as_bytes());
    let page = write(
        &dir,
        "page.html",
        b"<html><body><h1>Results</h1><p>Costs fell by a third.</p><script>x()</script></body></html>",
    );
    let out = stepwise(&[
        "run",
        "research-and-write",
        "--input",
        "Summarise these",
        "--file",
        &notes,
        "--file",
        &page,
        "--json",
        "--no-history",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first: RunEvent =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    let EventKind::RunStarted { input, .. } = first.kind else {
        panic!("not a start: {first:?}");
    };
    assert!(
        input.starts_with("Summarise these\n\n## notes.txt\n\nThe pilot ran for six weeks."),
        "{input}"
    );
    assert!(input.contains("## page.html"), "{input}");
    assert!(input.contains("Costs fell by a third."), "{input}");
    assert!(
        !input.contains("x()"),
        "a page's scripts are not its text: {input}"
    );

    // Each file that cannot be read is named, with why; nothing runs.
    let fake = write(&dir, "fake.pdf", b"just text");
    let odd = write(&dir, "photo.heic", b"....");
    let missing = dir.join("gone.txt");
    let out = stepwise(&[
        "run",
        "research-and-write",
        "--input",
        "x",
        "--file",
        &fake,
        "--file",
        &odd,
        "--file",
        missing.to_str().unwrap(),
        "--json",
        "--no-history",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "the run started");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("fake.pdf is called a PDF but is not one"),
        "{said}"
    );
    assert!(
        said.contains("photo.heic: Stepwise does not know this kind of file"),
        "{said}"
    );
    assert!(said.contains("gone.txt: there is no such file"), "{said}");
}

#[test]
fn a_file_too_big_is_refused_and_a_reader_that_never_ends_is_stopped_at_its_limit() {
    let dir = folder("limits");
    let big = write(&dir, "big.txt", &vec![b'a'; 2048]);
    let out = stepwise(&["extract", &big, "--max-file-bytes", "1024"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("more than the 1 MB a file may be"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A named pipe nobody writes to: reading it never ends. The child is stopped at its time
    // limit, and no process of it is left.
    let tag = "stepwise-files-stuck-pipe";
    let pipe = dir.join(format!("{tag}.txt"));
    let made = Command::new("mkfifo").arg(&pipe).status().unwrap();
    assert!(made.success());
    let out = stepwise(&["extract", pipe.to_str().unwrap(), "--time-limit-ms", "500"]);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("reading {tag}.txt took more than 0.5 seconds")),
        "{said}"
    );
    eventually(PATIENCE, "the stuck reader to be gone", || {
        processes_tagged(tag).is_empty()
    });
}

#[test]
fn a_run_in_the_background_gets_its_files_read_once_here() {
    let dir = folder("background");
    std::fs::create_dir_all(dir.join("rt")).unwrap();
    // Longer than a command line may carry in one argument (128 KB on Linux).
    let long = "The pilot ran for six weeks. ".repeat(8_000);
    let notes = write(&dir, "notes.txt", long.as_bytes());
    let stepwise = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stepwise"));
        c.env("STEPWISE_DB", dir.join("history.db"))
            .env("XDG_RUNTIME_DIR", dir.join("rt"))
            .env("STEPWISE_SETTINGS", "/nonexistent/settings.toml")
            .env("STEPWISE_DEMO_FIRST_TOKEN_MS", "0")
            .env("STEPWISE_DEMO_WORD_MS", "0");
        c
    };
    let out = stepwise()
        .args([
            "run",
            "research-and-write",
            "--input",
            "Summarise",
            "--file",
            &notes,
        ])
        .arg("--background")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let watched = stepwise().args(["watch", &id, "--json"]).output().unwrap();
    let first = String::from_utf8_lossy(&watched.stdout)
        .lines()
        .next()
        .map(|l| serde_json::from_str::<RunEvent>(l).unwrap())
        .unwrap();
    let EventKind::RunStarted { input, .. } = first.kind else {
        panic!("not a start: {first:?}");
    };
    assert!(
        input.starts_with("Summarise\n\n## notes.txt\n\nThe pilot"),
        "{}",
        &input[..200]
    );
    assert_eq!(
        input.len(),
        "Summarise\n\n## notes.txt\n\n".len() + long.trim_end().len()
    );
    // The file that carried the input to the run's process is gone.
    let left: Vec<_> = std::fs::read_dir(dir.join("background"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "input"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
