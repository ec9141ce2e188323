//! Files as input: a file's text, read on this computer before a run starts, with what it is
//! (kind, size, sha256, pages, encoding) — or, where there is nothing to read, why in words.
//!
//! Reading happens in a child process (`child.rs`: `stepwise extract`, held to a time and a
//! memory limit), so a file that makes a parser loop, panic or explode ends with a clear error
//! and the process that asked is untouched. `read` is what the child does.
//!
//! Read today: plain text of any encoding (`decode.rs`), Markdown, CSV, JSON, XML, logs and
//! subtitles as they are; HTML as its readable text. The document formats (PDF, Word, OpenDocument,
//! Excel, PowerPoint) are known by name and signature but not read yet: they say so.

mod child;
mod decode;
mod kind;

pub use child::{ChildReader, serve_child};
pub use decode::decode;
pub use kind::FileKind;

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What was read of one file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct FileText {
    /// The file's name (not its folder).
    pub name: String,
    pub kind: FileKind,
    #[specta(type = f64)]
    pub bytes: u64,
    /// Of the file's bytes, in lowercase hex.
    pub sha256: String,
    /// Pages, for kinds that have them.
    pub pages: Option<u32>,
    /// The encoding the text was read as, for plain-text kinds (`UTF-8`, `windows-1252`, …).
    pub encoding: Option<String>,
    pub text: String,
}

/// Why a file gave no text; every message names the file.
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReadError {
    #[error("{name}: there is no such file")]
    Missing { name: String },
    #[error("{name} cannot be opened: {why}")]
    Unreadable { name: String, why: String },
    #[error("{name} is {size_mb} MB, more than the {limit_mb} MB a file may be (Settings → Files)")]
    TooBig {
        name: String,
        size_mb: u32,
        limit_mb: u32,
    },
    #[error("{name}: Stepwise does not know this kind of file")]
    UnknownKind { name: String },
    #[error("{name} is called a {words} but is not one (it does not start like one)")]
    NotWhatItSays { name: String, words: String },
    #[error("{name}: Stepwise cannot read a {words} yet")]
    NotReadYet { name: String, words: String },
    #[error("reading {name} took more than {secs} seconds, so it was stopped")]
    TookTooLong { name: String, secs: f64 },
    #[error("reading {name} needed more than {limit_mb} MB of memory, so it was stopped")]
    TooMuchMemory { name: String, limit_mb: u32 },
    #[error("{name} could not be read: the reader stopped ({why})")]
    ReaderFailed { name: String, why: String },
}

/// What a file may cost to read.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct FileLimits {
    /// A file larger than this is refused before it is read.
    #[specta(type = f64)]
    pub max_file_bytes: u64,
    /// The reading child process is stopped after this long.
    #[specta(type = f64)]
    pub time_limit_ms: u64,
    /// And may not use more memory (address space) than this.
    #[specta(type = f64)]
    pub memory_limit_bytes: u64,
}

impl Default for FileLimits {
    fn default() -> Self {
        FileLimits {
            max_file_bytes: 50 * 1024 * 1024,
            time_limit_ms: 60_000,
            memory_limit_bytes: 2 * 1024 * 1024 * 1024,
        }
    }
}

impl FileLimits {
    pub fn time_limit(&self) -> Duration {
        Duration::from_millis(self.time_limit_ms)
    }
}

fn mb(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(1024 * 1024)).unwrap_or(u32::MAX)
}

/// Reads `path` in this process (what the child does; `ChildReader` is what callers use).
pub fn read(path: &Path, limits: &FileLimits) -> Result<FileText, ReadError> {
    let name = name_of(path);
    let unreadable = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::Missing { name: name.clone() },
        _ => ReadError::Unreadable {
            name: name.clone(),
            why: e.to_string(),
        },
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.is_file() && meta.len() > limits.max_file_bytes {
        return Err(ReadError::TooBig {
            name,
            size_mb: mb(meta.len()),
            limit_mb: mb(limits.max_file_bytes),
        });
    }
    let kind =
        FileKind::from_name(&name).ok_or_else(|| ReadError::UnknownKind { name: name.clone() })?;
    // Read at most one byte past the limit: a file that grows, or a pipe, is still held to it.
    let bytes = read_at_most(path, limits.max_file_bytes).map_err(unreadable)?;
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(ReadError::TooBig {
            name,
            size_mb: mb(bytes.len() as u64),
            limit_mb: mb(limits.max_file_bytes),
        });
    }
    if !kind.fits(&bytes) {
        return Err(ReadError::NotWhatItSays {
            name,
            words: kind.words().into(),
        });
    }
    if !kind.is_plain_text() {
        return Err(ReadError::NotReadYet {
            name,
            words: kind.words().into(),
        });
    }
    let (decoded, encoding) = decode(&bytes);
    let text = match kind {
        FileKind::Html => html_text(&decoded),
        _ => decoded,
    };
    Ok(FileText {
        name,
        kind,
        bytes: bytes.len() as u64,
        sha256: hex(&Sha256::digest(&bytes)),
        pages: None,
        encoding: Some(encoding.to_string()),
        text,
    })
}

/// The file's name as messages say it (its folder left out).
fn name_of(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn read_at_most(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A page's readable text, as the page tool reads one.
fn html_text(html: &str) -> String {
    html2text::config::plain()
        .string_from_read(html.as_bytes(), 100)
        .unwrap_or_else(|_| html.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
