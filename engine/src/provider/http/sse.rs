//! A streaming Server-Sent Events reader with limits.
//!
//! Why our own: a general SSE parser holds an unfinished line (or an unfinished UTF-8 character)
//! until the body ends, re-scans a long line for every chunk, and has no size limit — a hostile
//! or broken server could make a step pile up memory it never shows. This one:
//! - looks at each byte once (only new bytes are scanned for a line end);
//! - checks UTF-8 as bytes arrive, so one invalid byte fails the step at once;
//! - refuses a line or an event longer than [`MAX_EVENT_BYTES`];
//! - spends nothing on empty lines or comments (keep-alives), however many there are.
//!
//! The format (WHATWG HTML, "server-sent events"): lines end in CR, LF or CRLF; `field: value`;
//! `data` lines join with LF; a blank line dispatches the event; a line starting with `:` is a
//! comment.

/// The longest line, and the most data one event may carry.
pub(crate) const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// One dispatched event.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SseEvent {
    /// The `event:` field; empty for the default type ("message").
    pub event: String,
    pub data: String,
}

#[derive(Debug, PartialEq)]
pub(crate) enum SseError {
    NotUtf8,
    TooLong,
}

pub(crate) struct SseReader {
    /// The longest line or event accepted ([`MAX_EVENT_BYTES`] unless said otherwise).
    limit: usize,
    /// The current, unfinished line.
    line: Vec<u8>,
    /// How much of `line` is known to be valid UTF-8 (a character may be cut at the end).
    checked: usize,
    /// The last byte seen was CR: an LF right after it ends nothing new.
    after_cr: bool,
    event: String,
    data: String,
    has_data: bool,
}

impl Default for SseReader {
    fn default() -> Self {
        SseReader::with_limit(MAX_EVENT_BYTES)
    }
}

impl SseReader {
    /// A reader that accepts lines and events of up to `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        SseReader {
            limit,
            line: Vec::new(),
            checked: 0,
            after_cr: false,
            event: String::new(),
            data: String::new(),
            has_data: false,
        }
    }

    /// Feeds the next piece of the body; complete events are pushed onto `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.after_cr && rest[0] == b'\n' {
                rest = &rest[1..];
            }
            self.after_cr = false;
            match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(end) => {
                    self.extend(&rest[..end])?;
                    self.after_cr = rest[end] == b'\r';
                    rest = &rest[end + 1..];
                    self.end_line(out)?;
                }
                None => {
                    self.extend(rest)?;
                    rest = &[];
                }
            }
        }
        Ok(())
    }

    fn extend(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len() + bytes.len() > self.limit {
            return Err(SseError::TooLong);
        }
        self.line.extend_from_slice(bytes);
        // Check only what is new (plus a character cut at the previous end).
        match std::str::from_utf8(&self.line[self.checked..]) {
            Ok(_) => self.checked = self.line.len(),
            Err(e) if e.error_len().is_some() => return Err(SseError::NotUtf8),
            Err(e) => self.checked += e.valid_up_to(),
        }
        Ok(())
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.checked != self.line.len() {
            return Err(SseError::NotUtf8); // a character cut by the line's end
        }
        let line = std::mem::take(&mut self.line);
        self.checked = 0;
        if line.is_empty() {
            if self.has_data {
                out.push(SseEvent {
                    event: std::mem::take(&mut self.event),
                    data: std::mem::take(&mut self.data),
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(()); // a comment: keep-alive
        }
        // Checked above, so this cannot fail; an empty string would be harmless anyway.
        let line = String::from_utf8(line).unwrap_or_default();
        let (field, value) = match line.find(':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (line.as_str(), ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                if self.data.len() + value.len() + 1 > self.limit {
                    return Err(SseError::TooLong);
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {} // id, retry and unknown fields mean nothing to a model stream
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_in_pieces(body: &[u8], piece: usize) -> Result<Vec<SseEvent>, SseError> {
        let mut r = SseReader::default();
        let mut out = Vec::new();
        for chunk in body.chunks(piece.max(1)) {
            r.feed(chunk, &mut out)?;
        }
        Ok(out)
    }

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn events_are_the_same_however_the_body_is_cut() {
        let body = "event: a\r\ndata: é1\r\n\r\n: keep-alive\n\ndata:x\ndata:  y\n\nid: 3\nretry: 9\n\ndata: 日本\r\rdata\n\n"
            .as_bytes();
        let want = vec![ev("a", "é1"), ev("", "x\n y"), ev("", "日本"), ev("", "")];
        for piece in 1..body.len() {
            assert_eq!(
                read_in_pieces(body, piece).unwrap(),
                want,
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn an_invalid_byte_fails_at_once_not_at_the_end() {
        let mut r = SseReader::default();
        let mut out = Vec::new();
        r.feed(b"data: {\"a\": \"ok\"}\n\n", &mut out).unwrap();
        assert_eq!(out.len(), 1);
        // No line end yet: a buffering parser would wait for one.
        assert_eq!(r.feed(b"data: x\xff", &mut out), Err(SseError::NotUtf8));
        // A character cut at a chunk's end is fine until its next byte proves it wrong.
        let mut r = SseReader::default();
        r.feed(b"data: \xe6\x97", &mut out).unwrap();
        assert_eq!(r.feed(b"A", &mut out), Err(SseError::NotUtf8));
        let mut r = SseReader::default();
        assert_eq!(r.feed(b"data: \xe6\n", &mut out), Err(SseError::NotUtf8));
    }

    #[test]
    fn lines_and_events_have_a_size_limit() {
        let mut r = SseReader::default();
        let mut out = Vec::new();
        let piece = vec![b'a'; 64 * 1024];
        r.feed(b"data: ", &mut out).unwrap();
        let mut fed = 6;
        let err = loop {
            match r.feed(&piece, &mut out) {
                Ok(()) => fed += piece.len(),
                Err(e) => break e,
            }
        };
        assert_eq!(err, SseError::TooLong);
        assert!(fed <= MAX_EVENT_BYTES, "stopped at {fed} bytes");
        // Many short data lines in one event hit the same limit.
        let mut r = SseReader::default();
        let line = format!("data: {}\n", "b".repeat(1000));
        let err = (0..2000)
            .find_map(|_| r.feed(line.as_bytes(), &mut out).err())
            .unwrap();
        assert_eq!(err, SseError::TooLong);
    }

    #[test]
    fn a_flood_of_blank_lines_and_comments_yields_nothing_and_keeps_nothing() {
        let mut r = SseReader::default();
        let mut out = Vec::new();
        for _ in 0..10_000 {
            r.feed(b"\n\n\r\n: ping\n", &mut out).unwrap();
        }
        assert!(out.is_empty());
        assert!(r.line.capacity() < 64 && r.data.is_empty());
    }
}
