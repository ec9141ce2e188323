//! `stepwise extract FILE`: what Stepwise reads of a file (the text, or why there is none), read
//! in a child process as every file is; `--json` is that child's side. And `run --file`: the
//! files' text goes to the first step with the input, each under a heading with its name.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use stepwise_engine::files::{ChildReader, FileLimits, FileText, serve_child};
use stepwise_engine::usage::thousands;

use crate::EXIT_BAD_INPUT;
use crate::follow::runtime;

/// The most text the files of one run give (beyond it the text is cut, saying so).
const MAX_RUN_TEXT_BYTES: usize = 2 * 1024 * 1024;

pub fn extract(path: &Path, json: bool, limits: FileLimits) -> ExitCode {
    if json {
        return ExitCode::from(serve_child(path, &limits));
    }
    match read_all(std::slice::from_ref(&path.to_path_buf()), &limits) {
        Ok(files) => {
            for f in files {
                eprintln!("{}", summary(&f));
                println!("{}", f.text);
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("stepwise: {message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// `input`, then each file's text under a heading with its name; `Err` names every file that
/// could not be read (the run does not start).
pub fn input_with_files(input: &str, files: &[PathBuf]) -> Result<String, String> {
    if files.is_empty() {
        return Ok(input.to_string());
    }
    let read = read_all(files, &FileLimits::default())?;
    for f in &read {
        eprintln!("{}", summary(f));
    }
    Ok(compose(input, &read, MAX_RUN_TEXT_BYTES))
}

/// Reads every file, each in its child, all at once.
fn read_all(files: &[PathBuf], limits: &FileLimits) -> Result<Vec<FileText>, String> {
    let reader =
        ChildReader::this_program().map_err(|e| format!("cannot find this program: {e}"))?;
    let rt = runtime().ok_or("no async runtime")?;
    let results = rt.block_on(futures_util::future::join_all(
        files.iter().map(|f| reader.read(f, limits)),
    ));
    let mut read = Vec::new();
    let mut problems = Vec::new();
    for r in results {
        match r {
            Ok(f) => read.push(f),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if problems.is_empty() {
        Ok(read)
    } else {
        Err(problems.join("; "))
    }
}

/// "report.txt: text, 12,345 characters (windows-1252)".
fn summary(f: &FileText) -> String {
    let chars = f.text.chars().count();
    let encoding = f
        .encoding
        .as_deref()
        .filter(|e| *e != "UTF-8")
        .map(|e| format!(", read as {e}"))
        .unwrap_or_default();
    format!(
        "{}: {}, {} characters{encoding}",
        f.name,
        f.kind.words(),
        thousands(u32::try_from(chars).unwrap_or(u32::MAX))
    )
}

/// The input and the files' texts, cut (saying so) past `limit` bytes of file text.
fn compose(input: &str, files: &[FileText], limit: usize) -> String {
    let mut out = input.trim_end().to_string();
    let mut left = limit;
    for f in files {
        out.push_str(&format!("\n\n## {}\n\n", f.name));
        if f.text.len() <= left {
            out.push_str(f.text.trim_end());
            left -= f.text.len();
        } else {
            let mut cut = left;
            while !f.text.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push_str(&f.text[..cut]);
            out.push_str(&format!(
                "\n\n[The files' text is cut here: a run takes at most {} MB of it.]",
                limit / (1024 * 1024)
            ));
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use stepwise_engine::files::FileKind;

    fn file(name: &str, text: &str) -> FileText {
        FileText {
            name: name.into(),
            kind: FileKind::Text,
            bytes: text.len() as u64,
            sha256: String::new(),
            pages: None,
            encoding: Some("UTF-8".into()),
            text: text.into(),
        }
    }

    #[test]
    fn each_file_goes_under_its_name_and_too_much_is_cut_saying_so() {
        let files = [file("a.txt", "alpha"), file("b.txt", "beta gamma")];
        assert_eq!(
            compose("Summarise", &files, 100),
            "Summarise\n\n## a.txt\n\nalpha\n\n## b.txt\n\nbeta gamma"
        );
        let cut = compose("Summarise", &files, 8);
        assert!(
            cut.contains("## b.txt\n\nbet\n\n[The files' text is cut here"),
            "{cut}"
        );
    }
}
