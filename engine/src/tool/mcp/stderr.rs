//! What a stdio server writes to stderr, kept for a person to read: its last lines, each cut to
//! a length. The pipe is read as bytes and drained until the server ends, whatever it writes: a
//! reader that stopped (on a byte that is not UTF-8, say) would close the pipe, and the server's
//! next write would fail (EPIPE) and often end it. Memory stays bounded whatever it writes — a
//! line with no end is cut while it is read, not after.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncRead, AsyncReadExt};

/// Lines kept (the last ones).
pub const KEPT_LINES: usize = 200;
/// Characters kept of one line; the rest of a longer line is dropped unread.
pub const LINE_CHARS: usize = 1000;
/// Bytes gathered of one line before it is cut (enough for `LINE_CHARS` of any script).
const LINE_BYTES: usize = LINE_CHARS * 4;

/// The kept lines, shared between the reader and whoever shows them.
#[derive(Clone, Default)]
pub struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    /// The last `n` lines.
    pub fn last(&self, n: usize) -> Vec<String> {
        let lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        lines
            .iter()
            .skip(lines.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    fn push(&self, bytes: &[u8], cut: bool) {
        let text = String::from_utf8_lossy(bytes);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        let mut line: String = text.chars().take(LINE_CHARS).collect();
        if cut || line.len() < text.len() {
            line.push_str(" …");
        }
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() >= KEPT_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// Reads `stream` in the background until it ends (the server has gone), keeping its lines.
    pub fn keep(&self, stream: impl AsyncRead + Unpin + Send + 'static) {
        tokio::spawn(self.clone().read(stream));
    }

    /// Reads `stream` to its end, keeping its lines.
    pub async fn read(self, mut stream: impl AsyncRead + Unpin) {
        let mut buf = [0u8; 8192];
        let mut line: Vec<u8> = Vec::new();
        // The current line was too long: its start is kept, the rest is skipped to its newline.
        let mut skipping = false;
        loop {
            let n = match stream.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                let (piece, ends) = match rest.iter().position(|&b| b == b'\n') {
                    Some(i) => (&rest[..i], Some(i + 1)),
                    None => (rest, None),
                };
                if !skipping {
                    let room = LINE_BYTES - line.len();
                    if piece.len() > room {
                        line.extend_from_slice(&piece[..room]);
                        self.push(&line, true);
                        line.clear();
                        skipping = true;
                    } else {
                        line.extend_from_slice(piece);
                    }
                }
                match ends {
                    Some(i) => {
                        if !skipping {
                            self.push(&line, false);
                        }
                        line.clear();
                        skipping = false;
                        rest = &rest[i..];
                    }
                    None => rest = &[],
                }
            }
        }
        if !line.is_empty() && !skipping {
            self.push(&line, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8]) -> Vec<String> {
        let tail = StderrTail::default();
        tail.clone().read(bytes).await;
        tail.last(KEPT_LINES)
    }

    #[tokio::test]
    async fn a_byte_that_is_not_utf8_is_replaced_and_reading_goes_on() {
        let lines = read(b"bad \xff byte\nafter\nlast without newline").await;
        assert_eq!(
            lines,
            ["bad \u{FFFD} byte", "after", "last without newline"]
        );
    }

    #[tokio::test]
    async fn a_long_line_is_cut_while_read_and_the_rest_skipped_to_its_newline() {
        let mut input = vec![b'x'; 1_000_000];
        input.extend_from_slice(b"\nnext\r\n");
        let lines = read(&input).await;
        assert_eq!(
            lines.len(),
            2,
            "{:?}",
            lines.iter().map(String::len).collect::<Vec<_>>()
        );
        assert_eq!(lines[0], format!("{} …", "x".repeat(LINE_CHARS)));
        assert_eq!(lines[1], "next");
        // Many characters of several bytes: still cut at LINE_CHARS characters.
        let lines = read("é".repeat(3000).as_bytes()).await;
        assert_eq!(lines[0].chars().count(), LINE_CHARS + 2);
    }

    #[tokio::test]
    async fn only_the_last_lines_are_kept() {
        let input: String = (0..500).map(|i| format!("line {i}\n")).collect();
        let lines = read(input.as_bytes()).await;
        assert_eq!(lines.len(), KEPT_LINES);
        assert_eq!(lines[0], "line 300");
        assert_eq!(lines[KEPT_LINES - 1], "line 499");
    }
}
