//! Named outputs in instructions: `{{input}}` and `{{steps.ID.output}}` (ARCHITECTURE.md §2).
//!
//! Only these two forms are placeholders (spaces inside the braces allowed); any other `{{…}}` is
//! left as written, so instructions that happen to contain braces keep working.

/// One placeholder found in a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placeholder {
    Input,
    StepOutput(String),
}

/// Every placeholder in `text`, in order, with its byte range.
fn scan(text: &str) -> Vec<(std::ops::Range<usize>, Placeholder)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|i| from + i) {
        let Some(close) = text[open + 2..].find("}}").map(|i| open + 2 + i) else {
            break;
        };
        let inner = text[open + 2..close].trim();
        let placeholder = if inner == "input" {
            Some(Placeholder::Input)
        } else {
            inner
                .strip_prefix("steps.")
                .and_then(|rest| rest.strip_suffix(".output"))
                .filter(|id| !id.is_empty() && id.chars().all(is_id_char))
                .map(|id| Placeholder::StepOutput(id.to_string()))
        };
        match placeholder {
            Some(p) => {
                found.push((open..close + 2, p));
                from = close + 2;
            }
            None => from = open + 2,
        }
    }
    found
}

/// The characters a step id is made of.
pub fn is_id_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
}

/// The placeholders `text` cites.
pub fn cited(text: &str) -> Vec<Placeholder> {
    scan(text).into_iter().map(|(_, p)| p).collect()
}

/// `text` with every placeholder replaced by `value(placeholder)`.
pub fn render(text: &str, value: impl Fn(&Placeholder) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (range, p) in scan(text) {
        out.push_str(&text[last..range.start]);
        out.push_str(&value(&p));
        last = range.end;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_fills_both_forms_and_leaves_other_braces() {
        let t =
            "Use {{ input }} and {{steps.research.output}}; keep {{name}} and {{steps.X.output}}";
        assert_eq!(
            cited(t),
            [
                Placeholder::Input,
                Placeholder::StepOutput("research".into())
            ]
        );
        let out = render(t, |p| match p {
            Placeholder::Input => "IN".into(),
            Placeholder::StepOutput(id) => format!("<{id}>"),
        });
        assert_eq!(
            out,
            "Use IN and <research>; keep {{name}} and {{steps.X.output}}"
        );
    }

    #[test]
    fn an_unclosed_brace_is_text() {
        assert!(cited("{{input").is_empty());
        assert_eq!(render("a {{input", |_| "x".into()), "a {{input");
    }
}
