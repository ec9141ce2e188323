//! The environment a stdio MCP server starts with: what it needs to start (finding programs,
//! a home for caches, the locale) and what its entry names — nothing else. The app's own
//! environment holds API keys (OPENAI_API_KEY …), and a server may print its whole environment
//! to the model.

/// Passed on from Stepwise's environment when set.
const NEEDED: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "SYSTEMROOT",
    "APPDATA",
    "LOCALAPPDATA",
    "USERPROFILE",
];

/// The variables for a server: the needed ones, then the entry's own (which win).
pub fn for_server<'a>(
    own: impl IntoIterator<Item = (&'a String, &'a String)>,
    var: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = NEEDED
        .iter()
        .filter_map(|k| var(k).map(|v| (k.to_string(), v)))
        .collect();
    for (k, v) in own {
        vars.retain(|(name, _)| name != k);
        vars.push((k.clone(), v.clone()));
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The README says which variables a server gets: exactly these.
    #[test]
    fn the_readme_lists_exactly_the_variables_passed_on() {
        let readme = include_str!("../../../../README.md");
        let tools = readme
            .split("### Tools")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .unwrap();
        let paragraph = tools
            .split("\n\n")
            .find(|p| p.contains("only these variables of Stepwise's"))
            .expect("the README's Tools section lists the variables a server gets");
        let listed: Vec<&str> = paragraph
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect();
        assert_eq!(listed, NEEDED, "README.md's list must match env.rs");
    }

    #[test]
    fn keys_stay_behind_and_the_entry_wins() {
        let host = |k: &str| match k {
            "PATH" => Some("/usr/bin".to_string()),
            "OPENAI_API_KEY" => Some("sk-secret".to_string()),
            "HOME" => Some("/home/me".to_string()),
            _ => None,
        };
        let own: BTreeMap<String, String> = [
            ("HOME".to_string(), "/srv".to_string()),
            ("TOKEN".to_string(), "t".to_string()),
        ]
        .into();
        let vars = for_server(&own, host);
        assert!(vars.contains(&("PATH".into(), "/usr/bin".into())));
        assert!(vars.contains(&("HOME".into(), "/srv".into())));
        assert!(vars.contains(&("TOKEN".into(), "t".into())));
        assert!(!vars.iter().any(|(k, _)| k == "OPENAI_API_KEY"));
        assert_eq!(vars.iter().filter(|(k, _)| k == "HOME").count(), 1);
    }
}
