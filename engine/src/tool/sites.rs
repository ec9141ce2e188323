//! Sites as Settings name them in `[tools] allow_hosts`: `example.com`, which also covers
//! `www.example.com` (never `example.com.evil.test`).

/// Whether `host` is one of `allowed` or a name under one.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    allowed.iter().any(|a| {
        let a = a.trim().trim_end_matches('.').to_ascii_lowercase();
        !a.is_empty()
            && (host == a
                || host
                    .strip_suffix(a.as_str())
                    .is_some_and(|rest| rest.ends_with('.')))
    })
}

/// The site a line of `allow_hosts` names: `example.com`, also when pasted as an address
/// (`https://example.com/page`). `Some("")` for a blank line, `None` for something that names
/// no site.
pub fn site_of(entry: &str) -> Option<String> {
    let entry = entry.trim();
    if entry.is_empty() {
        return Some(String::new());
    }
    let host = match reqwest::Url::parse(entry) {
        Ok(u) if u.host_str().is_some() => u.host_str()?.to_string(),
        _ => entry.to_string(),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let fits = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    fits.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_hosts_cover_their_subdomains_only() {
        let allowed = vec!["Example.com".to_string(), " ".to_string()];
        assert!(host_allowed("example.com", &allowed));
        assert!(host_allowed("www.example.com.", &allowed));
        assert!(!host_allowed("example.com.evil.test", &allowed));
        assert!(!host_allowed("badexample.com", &allowed));
        assert!(!host_allowed("other.test", &allowed));
    }

    #[test]
    fn a_site_is_its_name_also_when_pasted_as_an_address() {
        assert_eq!(site_of(" Example.COM ").as_deref(), Some("example.com"));
        assert_eq!(
            site_of("https://docs.example.com/a?b").as_deref(),
            Some("docs.example.com")
        );
        assert_eq!(site_of("").as_deref(), Some(""));
        assert_eq!(site_of("not a site"), None);
        assert_eq!(site_of("a/b"), None);
    }
}
