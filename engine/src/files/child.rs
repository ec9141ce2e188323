//! Reading a file in a child process — `stepwise extract --json PATH`, the same program — held
//! to a time limit (the parent kills it) and a memory limit (the child's own address-space
//! limit), so that a file that makes a parser loop, panic or explode costs one child, never the
//! app or the run that asked. Dropping the reading (a person pressed Cancel, or removed the
//! file) kills the child at once.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::{Deserialize, Serialize};

use super::{FileLimits, FileText, ReadError, mb, name_of, read};

/// What the child prints: one JSON line.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    Read(FileText),
    Refused(ReadError),
}

/// `stepwise extract --json`: reads `path` under `limits` in this process (the child) and
/// prints the answer as one JSON line. Returns the exit code (0: an answer was printed).
pub fn serve_child(path: &Path, limits: &FileLimits) -> u8 {
    limit_memory(limits.memory_limit_bytes);
    let answer = match read(path, limits) {
        Ok(text) => Answer::Read(text),
        Err(e) => Answer::Refused(e),
    };
    match serde_json::to_string(&answer) {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(_) => 1,
    }
}

#[cfg(unix)]
fn limit_memory(bytes: u64) {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let limit = Rlimit {
        current: Some(bytes),
        maximum: Some(bytes),
    };
    // Without the limit the child still ends with the parent's time limit.
    let _ = setrlimit(Resource::As, limit);
}

#[cfg(not(unix))]
fn limit_memory(_bytes: u64) {}

/// Starts the children that read files: `program` with `args` before `extract` (the `stepwise`
/// program itself, or the app's).
#[derive(Clone, Debug)]
pub struct ChildReader {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl ChildReader {
    /// The `stepwise` program running now reads its files with itself.
    pub fn this_program() -> std::io::Result<ChildReader> {
        Ok(ChildReader {
            program: std::env::current_exe()?,
            args: Vec::new(),
        })
    }

    /// Reads `path` in a child. Dropping the future kills the child.
    pub async fn read(&self, path: &Path, limits: &FileLimits) -> Result<FileText, ReadError> {
        let name = name_of(path);
        let failed = |why: String| ReadError::ReaderFailed {
            name: name.clone(),
            why,
        };
        let child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .arg("extract")
            .arg("--json")
            .arg("--max-file-bytes")
            .arg(limits.max_file_bytes.to_string())
            .arg("--memory-limit-bytes")
            .arg(limits.memory_limit_bytes.to_string())
            .arg("--")
            .arg(path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| failed(format!("cannot start {}: {e}", self.program.display())))?;
        let Ok(finished) =
            tokio::time::timeout(limits.time_limit(), child.wait_with_output()).await
        else {
            // The child is killed as the future that held it is dropped.
            return Err(ReadError::TookTooLong {
                name,
                secs: limits.time_limit().as_secs_f64(),
            });
        };
        let out = finished.map_err(|e| failed(e.to_string()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if let Some(answer) = stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str::<Answer>(l).ok())
        {
            return match answer {
                Answer::Read(text) => Ok(text),
                Answer::Refused(e) => Err(e),
            };
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("memory allocation") {
            return Err(ReadError::TooMuchMemory {
                name,
                limit_mb: mb(limits.memory_limit_bytes),
            });
        }
        let why = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map_or_else(|| out.status.to_string(), str::to_string);
        Err(failed(why))
    }
}
