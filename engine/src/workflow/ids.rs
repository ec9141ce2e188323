//! Step ids: given in the file (`id = "review"`) or made from the step's name. The same rule
//! names a saved workflow's file (`slug`, `unique`).

use super::placeholders::is_id_char;

pub(super) const MAX_ID_CHARS: usize = 64;

/// The id a step with this name gets (before duplicates are told apart).
pub(super) fn from_name(name: &str) -> String {
    slug(name, "step")
}

/// `"Draft & review!"` → `"draft-review"`: lowercase ASCII letters and digits, other runs of
/// characters become one `-`, at most 64 characters. A name with none of those gives `fallback`.
pub fn slug(name: &str, fallback: &str) -> String {
    let mut id = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            id.push(c);
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
        if id.len() >= MAX_ID_CHARS {
            break;
        }
    }
    let id = id.trim_end_matches('-').to_string();
    if id.is_empty() { fallback.into() } else { id }
}

/// Why a given id cannot be used, if it cannot.
pub(super) fn problem(id: &str) -> Option<String> {
    if id.is_empty() {
        Some("the id is empty; leave it out to make one from the name".into())
    } else if id.chars().count() > MAX_ID_CHARS {
        Some(format!("the id is longer than {MAX_ID_CHARS} characters"))
    } else if !id.chars().all(is_id_char) {
        Some("an id may hold only lowercase letters, digits, `-` and `_`".into())
    } else {
        None
    }
}

/// `base`, or `base-2`, `base-3` … whichever `taken` does not hold yet.
pub fn unique(base: String, taken: impl Fn(&str) -> bool) -> String {
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|id| !taken(id))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_names() {
        assert_eq!(from_name("Research"), "research");
        assert_eq!(from_name("Draft & review!"), "draft-review");
        assert_eq!(from_name("  Step 2 "), "step-2");
        assert_eq!(from_name("Ünïcode"), "n-code");
        assert_eq!(from_name("???"), "step");
        assert_eq!(unique("a".into(), |x| x == "a" || x == "a-2"), "a-3");
        assert!(problem("Bad Id").is_some());
        assert!(problem("ok_id-2").is_none());
    }
}
