//! Text of any encoding to Rust text: a byte-order mark says the encoding; else UTF-16 without a
//! mark is told by its zero bytes; else valid UTF-8 is UTF-8; else chardetng guesses among the
//! legacy encodings (Windows-1252, GBK, Shift_JIS, …) the way browsers do, and encoding_rs
//! decodes.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE};

/// The text, and the name of the encoding it was read as.
pub fn decode(bytes: &[u8]) -> (String, &'static str) {
    if let Some((encoding, mark)) = Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[mark..]);
        return (text.into_owned(), encoding.name());
    }
    // Before UTF-8: ASCII in UTF-16 is valid UTF-8 too (with a NUL between letters).
    if let Some(encoding) = utf16_without_mark(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(bytes);
        return (text.into_owned(), encoding.name());
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (text.to_string(), "UTF-8");
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    let encoding = detector.guess(None, true);
    let (text, _) = encoding.decode_without_bom_handling(bytes);
    (text.into_owned(), encoding.name())
}

/// UTF-16 with no mark: text in a Latin script has a zero in every other byte.
fn utf16_without_mark(bytes: &[u8]) -> Option<&'static Encoding> {
    let sample = &bytes[..bytes.len().min(4096) & !1];
    if sample.len() < 4 {
        return None;
    }
    let pairs = sample.len() / 2;
    let zero_at = |odd: usize| {
        sample
            .iter()
            .skip(odd)
            .step_by(2)
            .filter(|b| **b == 0)
            .count()
    };
    let (even, odd) = (zero_at(0), zero_at(1));
    // Most of one side zero and almost none of the other.
    if odd * 10 >= pairs * 4 && even * 20 < pairs {
        Some(UTF_16LE)
    } else if even * 10 >= pairs * 4 && odd * 20 < pairs {
        Some(UTF_16BE)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Réunion du 3 mars : café, thé et crème brûlée — 20 €.";

    fn round_trip(name: &str, expected: &str) {
        let encoding = Encoding::for_label(name.as_bytes()).unwrap();
        let (bytes, _, lossy) = encoding.encode(expected);
        assert!(!lossy, "{name} cannot hold the sample");
        let (text, read_as) = decode(&bytes);
        assert_eq!(text, expected, "read as {read_as}");
    }

    #[test]
    fn utf8_with_and_without_a_mark() {
        assert_eq!(decode(SAMPLE.as_bytes()), (SAMPLE.to_string(), "UTF-8"));
        let mut marked = vec![0xEF, 0xBB, 0xBF];
        marked.extend_from_slice(SAMPLE.as_bytes());
        assert_eq!(decode(&marked).0, SAMPLE);
    }

    #[test]
    fn utf16_with_a_mark_and_without() {
        let le: Vec<u8> = SAMPLE.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = SAMPLE.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let marked: Vec<u8> = [0xFF, 0xFE].into_iter().chain(le.iter().copied()).collect();
        assert_eq!(decode(&marked), (SAMPLE.to_string(), "UTF-16LE"));
        assert_eq!(decode(&le), (SAMPLE.to_string(), "UTF-16LE"));
        assert_eq!(decode(&be), (SAMPLE.to_string(), "UTF-16BE"));
        // Plain ASCII in UTF-16 is valid UTF-8 too; it is still read as UTF-16.
        let ascii: Vec<u8> = "Minutes of the meeting"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(
            decode(&ascii),
            ("Minutes of the meeting".to_string(), "UTF-16LE")
        );
    }

    #[test]
    fn legacy_encodings_come_out_right() {
        round_trip("windows-1252", SAMPLE);
        round_trip(
            "gbk",
            "会议纪要：我们讨论了明年的预算和新产品的发布计划，大家都同意在三月份之前完成设计工作。",
        );
        round_trip(
            "shift_jis",
            "会議の議事録：来年の予算と新製品の発売計画について話し合い、三月までに設計を終えることで合意しました。",
        );
    }
}
