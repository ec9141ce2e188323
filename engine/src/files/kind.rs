//! What kind of file a file is: by its name's ending, checked against its first bytes where a
//! kind has a signature (a PDF, a zip-based office file, an old Excel file).

use serde::{Deserialize, Serialize};

/// A kind of file Stepwise knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Text,
    Markdown,
    Csv,
    Json,
    Html,
    Xml,
    Log,
    /// SubRip (`.srt`) and WebVTT (`.vtt`) transcripts.
    Subtitles,
    Pdf,
    Docx,
    Odt,
    Xlsx,
    Xls,
    Ods,
    Pptx,
}

/// Each kind with its name endings and its name for people.
const KINDS: &[(FileKind, &[&str], &str)] = &[
    (FileKind::Text, &["txt", "text"], "text"),
    (FileKind::Markdown, &["md", "markdown"], "Markdown"),
    (FileKind::Csv, &["csv", "tsv"], "CSV"),
    (FileKind::Json, &["json", "jsonl", "ndjson"], "JSON"),
    (FileKind::Html, &["html", "htm", "xhtml"], "HTML"),
    (FileKind::Xml, &["xml"], "XML"),
    (FileKind::Log, &["log"], "log"),
    (FileKind::Subtitles, &["srt", "vtt"], "subtitles"),
    (FileKind::Pdf, &["pdf"], "PDF"),
    (FileKind::Docx, &["docx"], "Word document"),
    (FileKind::Odt, &["odt"], "OpenDocument text"),
    (FileKind::Xlsx, &["xlsx"], "Excel workbook"),
    (FileKind::Xls, &["xls"], "Excel 97–2003 workbook"),
    (FileKind::Ods, &["ods"], "OpenDocument spreadsheet"),
    (FileKind::Pptx, &["pptx"], "PowerPoint presentation"),
];

impl FileKind {
    /// The kind a file's name says, if Stepwise knows it.
    pub fn from_name(name: &str) -> Option<FileKind> {
        let ending = name.rsplit_once('.')?.1.to_ascii_lowercase();
        KINDS
            .iter()
            .find(|(_, endings, _)| endings.contains(&ending.as_str()))
            .map(|(kind, _, _)| *kind)
    }

    /// Its name for people ("PDF", "Word document").
    pub fn words(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _, _)| *k == self)
            .map_or("file", |(_, _, words)| words)
    }

    /// Text of its own (decoded as text), as opposed to a document format.
    pub fn is_plain_text(self) -> bool {
        matches!(
            self,
            FileKind::Text
                | FileKind::Markdown
                | FileKind::Csv
                | FileKind::Json
                | FileKind::Html
                | FileKind::Xml
                | FileKind::Log
                | FileKind::Subtitles
        )
    }

    /// Whether `head` (the file's first bytes) can be a file of this kind: a document format
    /// must start with its signature, so a renamed file is not taken for one.
    pub fn fits(self, head: &[u8]) -> bool {
        const ZIP: &[u8] = b"PK\x03\x04";
        const OLE: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
        match self {
            FileKind::Pdf => head.windows(5).take(1024).any(|w| w == b"%PDF-"),
            FileKind::Docx | FileKind::Odt | FileKind::Xlsx | FileKind::Ods | FileKind::Pptx => {
                head.starts_with(ZIP)
            }
            FileKind::Xls => head.starts_with(OLE),
            // Text of any encoding: a NUL-free start, or UTF-16 (which has NULs).
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_says_its_kind_whatever_its_case() {
        assert_eq!(FileKind::from_name("Report.PDF"), Some(FileKind::Pdf));
        assert_eq!(FileKind::from_name("notes.md"), Some(FileKind::Markdown));
        assert_eq!(FileKind::from_name("call.vtt"), Some(FileKind::Subtitles));
        assert_eq!(FileKind::from_name("archive.tar.gz"), None);
        assert_eq!(FileKind::from_name("README"), None);
    }

    #[test]
    fn a_document_must_start_with_its_signature() {
        assert!(FileKind::Pdf.fits(b"%PDF-1.7\n"));
        assert!(!FileKind::Pdf.fits(b"hello"));
        assert!(FileKind::Docx.fits(b"PK\x03\x04rest"));
        assert!(!FileKind::Xlsx.fits(b"%PDF-1.4"));
        assert!(FileKind::Text.fits(b"\xff\xfeh\0i\0"));
    }
}
