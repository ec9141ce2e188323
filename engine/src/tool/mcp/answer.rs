//! A server's answer to a call as the model reads it: its text, with images, sounds and files
//! described rather than inlined (a model given base64 reads noise, and pays for every byte), cut
//! at `[tools] max_result_bytes` at a character, saying so. The text is gathered only up to the
//! limit. (The SDK reads one message of at most 16 MiB from a stdio server; a longer one is
//! dropped and the call runs into its time limit.)

use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};

use crate::tool::{ToolError, ToolOutput};

pub fn answer(result: CallToolResult, max_bytes: usize) -> Result<ToolOutput, ToolError> {
    let mut text = Bounded::new(max_bytes);
    for block in &result.content {
        match block {
            ContentBlock::Text(t) => text.part(&t.text),
            ContentBlock::Image(i) => text.part(&described("an image", &i.mime_type, &i.data)),
            ContentBlock::Audio(a) => text.part(&described("a sound", &a.mime_type, &a.data)),
            ContentBlock::Resource(r) => match &r.resource {
                ResourceContents::TextResourceContents { uri, text: t, .. } => {
                    text.part(&format!("[{uri}]\n{t}"))
                }
                ResourceContents::BlobResourceContents {
                    uri,
                    mime_type,
                    blob,
                    ..
                } => {
                    let kind = mime_type.as_deref().unwrap_or("type unknown");
                    text.part(&format!(
                        "{} at {uri}]",
                        described_open("a file", kind, blob)
                    ))
                }
                _ => text.part("[an embedded resource]"),
            },
            ContentBlock::ResourceLink(r) => text.part(&format!("[a link: {}]", r.uri)),
            _ => text.part("[content Stepwise cannot show]"),
        }
    }
    if text.is_empty()
        && let Some(structured) = &result.structured_content
    {
        text.part(&structured.to_string());
    }
    let content = text.finish();
    if result.is_error == Some(true) {
        return Err(ToolError::answer(content));
    }
    let words = content.split_whitespace().count();
    Ok(ToolOutput {
        preview: if words <= 12 {
            content.split_whitespace().collect::<Vec<_>>().join(" ")
        } else {
            format!("{words} words")
        },
        content,
    })
}

/// "[an image (image/png, 12 kB)]": what it is and how large, never its bytes.
fn described(what: &str, mime: &str, base64: &str) -> String {
    format!("{}]", described_open(what, mime, base64))
}

fn described_open(what: &str, mime: &str, base64: &str) -> String {
    // Base64 holds 3 bytes in every 4 characters.
    let bytes = base64.trim_end_matches('=').len() * 3 / 4;
    format!("[{what} ({mime}, {})", size(bytes))
}

fn size(bytes: usize) -> String {
    match bytes {
        b if b < 1000 => format!("{b} bytes"),
        b if b < 1_000_000 => format!("{} kB", b / 1000),
        b => format!("{:.1} MB", b as f64 / 1e6),
    }
}

/// Text gathered up to a number of bytes, cut at a character.
struct Bounded {
    text: String,
    max: usize,
    cut: bool,
}

impl Bounded {
    fn new(max: usize) -> Self {
        Bounded {
            text: String::new(),
            max: max.max(1),
            cut: false,
        }
    }

    fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    fn part(&mut self, part: &str) {
        if self.cut {
            return;
        }
        if !self.text.is_empty() {
            self.push("\n\n");
        }
        self.push(part);
    }

    fn push(&mut self, s: &str) {
        let room = self.max - self.text.len();
        if s.len() <= room {
            self.text.push_str(s);
            return;
        }
        let mut at = room;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        self.text.push_str(&s[..at]);
        self.cut = true;
    }

    fn finish(mut self) -> String {
        if self.cut {
            self.text.push_str(&format!(
                "\n\n[The answer goes on; only its first {} are shown.]",
                size(self.max)
            ));
        }
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{ContentBlock, EmbeddedResource};

    fn result(content: Vec<ContentBlock>) -> CallToolResult {
        CallToolResult::success(content)
    }

    #[test]
    fn images_and_files_are_described_not_inlined() {
        let png = "iVBORw0KGgo".repeat(1000);
        let out = answer(
            result(vec![
                ContentBlock::text("Here:"),
                ContentBlock::image(png.clone(), "image/png"),
                ContentBlock::Resource(EmbeddedResource::new(
                    ResourceContents::BlobResourceContents {
                        uri: "file:///a.pdf".into(),
                        mime_type: Some("application/pdf".into()),
                        blob: "AAAA".repeat(500),
                        meta: None,
                    },
                )),
            ]),
            100_000,
        )
        .unwrap();
        assert!(!out.content.contains("iVBOR"), "{}", out.content);
        assert_eq!(
            out.content,
            "Here:\n\n[an image (image/png, 8 kB)]\n\n[a file (application/pdf, 1 kB) at file:///a.pdf]"
        );
    }

    #[test]
    fn a_long_answer_is_cut_at_a_character_and_says_so() {
        let out = answer(result(vec![ContentBlock::text("é".repeat(100))]), 51).unwrap();
        assert!(out.content.starts_with(&"é".repeat(25)));
        assert!(
            out.content
                .ends_with("\n\n[The answer goes on; only its first 51 bytes are shown.]"),
            "{}",
            out.content
        );
        assert_eq!(out.content.matches('é').count(), 25);
        let short = answer(result(vec![ContentBlock::text("ok")]), 51).unwrap();
        assert_eq!(short.content, "ok");
    }
}
