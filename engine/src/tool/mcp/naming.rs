//! The names a step's model calls MCP tools by. Every provider accepts `^[a-zA-Z0-9_-]{1,64}$`,
//! and Anthropic refuses a request that names a tool twice, so within a step each tool has a
//! name of its own that leads back to one (server, tool): `server__tool` when that is already
//! such a name and no other tool of the step (nor a built-in one) has it; otherwise the name
//! made to fit (other characters as `_`, cut) with a short hash of the true names appended —
//! stable from run to run, so a model sees the same name for the same tool.

use std::collections::HashMap;

use crate::tool::ToolError;

const MAX_LEN: usize = 64;
/// `_` and eight hex digits.
const SUFFIX_LEN: usize = 9;

/// One model name for each (server, tool) of `tools` (which are distinct), none equal to a
/// `reserved` (built-in) name. A clash that no hash can tell apart is refused with both names.
pub fn model_names(tools: &[(&str, &str)], reserved: &[&str]) -> Result<Vec<String>, ToolError> {
    let plain: Vec<Option<String>> = tools.iter().map(|(s, t)| plain(s, t)).collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for name in plain.iter().flatten() {
        *count.entry(name.as_str()).or_default() += 1;
    }
    let names: Vec<String> = tools
        .iter()
        .zip(&plain)
        .map(|((server, tool), plain)| match plain {
            Some(p) if count[p.as_str()] == 1 && !reserved.contains(&p.as_str()) => p.clone(),
            _ => hashed(server, tool),
        })
        .collect();
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let other = first.insert(name.as_str(), i).map(|j| tools[j]);
        let builtin = reserved.contains(&name.as_str());
        if let Some(other) = other.or(builtin.then_some((name.as_str(), ""))) {
            let (server, tool) = tools[i];
            return Err(ToolError {
                message: format!(
                    "the tools {server}.{tool} and {} would reach the model under one name \
                     ({name}); take one of them out of the step's tools",
                    if other.1.is_empty() {
                        other.0.to_string()
                    } else {
                        format!("{}.{}", other.0, other.1)
                    }
                ),
                fatal: true,
            });
        }
    }
    Ok(names)
}

/// `server__tool` when it is a valid name as it stands.
fn plain(server: &str, tool: &str) -> Option<String> {
    let name = format!("{server}__{tool}");
    (name.len() <= MAX_LEN && name.chars().all(allowed)).then_some(name)
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// The name made to fit, cut to leave room for `_` and a hash of the true names.
fn hashed(server: &str, tool: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if allowed(c) { c } else { '_' })
            .collect()
    };
    let mut name = format!("{}__{}", clean(server), clean(tool));
    // Only ASCII is left, so any byte is a character boundary.
    name.truncate(MAX_LEN - SUFFIX_LEN);
    format!("{name}_{:08x}", fnv1a(server, tool) as u32)
}

/// FNV-1a over the server's and the tool's names (a hash that stays the same across builds).
fn fnv1a(server: &str, tool: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in server.bytes().chain([0]).chain(tool.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILTIN: &[&str] = &["web_search", "fetch_page"];

    fn valid(name: &str) -> bool {
        !name.is_empty() && name.len() <= MAX_LEN && name.chars().all(allowed)
    }

    #[test]
    fn plain_names_stay_plain() {
        let names = model_names(
            &[("everything", "echo"), ("everything", "get-env")],
            BUILTIN,
        );
        assert_eq!(names.unwrap(), ["everything__echo", "everything__get-env"]);
    }

    #[test]
    fn a_dot_and_an_underscore_no_longer_meet() {
        let names = model_names(&[("s", "a.b"), ("s", "a_b")], BUILTIN).unwrap();
        assert_eq!(names[1], "s__a_b");
        assert!(names[0].starts_with("s__a_b_") && names[0] != names[1]);
        assert!(names.iter().all(|n| valid(n)));
    }

    #[test]
    fn double_underscores_in_a_server_name_cannot_merge_two_tools() {
        // "a__b" + "c" and "a" + "b__c" both read a__b__c.
        let names = model_names(&[("a__b", "c"), ("a", "b__c")], BUILTIN).unwrap();
        assert_ne!(names[0], names[1]);
        assert!(names.iter().all(|n| valid(n) && n.starts_with("a__b__c_")));
    }

    #[test]
    fn long_names_are_cut_and_stay_apart_and_stable() {
        let long = "t".repeat(80);
        let other = format!("{long}x");
        let names = model_names(&[("srv", &long), ("srv", &other)], BUILTIN).unwrap();
        assert_ne!(names[0], names[1]);
        assert!(names.iter().all(|n| n.len() == MAX_LEN && valid(n)));
        assert_eq!(
            names,
            model_names(&[("srv", &long), ("srv", &other)], BUILTIN).unwrap(),
            "the same names from run to run"
        );
        // The same tool is named alike whatever else the step lists.
        assert_eq!(
            model_names(&[("srv", &long)], BUILTIN).unwrap()[0],
            names[0]
        );
    }

    #[test]
    fn odd_characters_are_replaced_and_the_name_hashed() {
        let names = model_names(&[("files", "read file/ü")], BUILTIN).unwrap();
        assert!(
            valid(&names[0]) && names[0].starts_with("files__read_file__"),
            "{names:?}"
        );
    }

    #[test]
    fn a_clash_no_hash_separates_is_refused_with_both_names() {
        // A tool literally named like another's hashed name.
        let hashed_name = hashed("s", "a.b");
        let tool = hashed_name.trim_start_matches("s__").to_string();
        let err = model_names(&[("s", "a.b"), ("s", &tool)], BUILTIN).unwrap_err();
        assert!(err.fatal);
        assert!(
            err.message.contains("s.a.b") && err.message.contains(&tool),
            "{}",
            err.message
        );
    }
}
