//! Where a tool may connect. A model chooses the addresses `fetch_page` opens, and a page can
//! redirect anywhere, so unless Settings allow it a tool never reaches this computer or the
//! private network (a router's admin page, a local server's API): names are resolved here and
//! private answers dropped, and every redirect is checked the same way.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Url, redirect};

/// Redirects a tool follows before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// Loopback, private, link-local, shared (CGNAT), unspecified and multicast addresses: nothing a
/// public web page lives on.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private_v4(v4),
            None => {
                let first = v6.segments()[0];
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                    || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                    || v6 == Ipv6Addr::LOCALHOST
            }
        },
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || (a == 100 && (64..128).contains(&b)) // shared address space 100.64/10
        || a == 0
}

/// Why an address may not be opened, in words for the model and the person reading the step.
pub fn refusal(url: &Url, allow_private: bool) -> Option<String> {
    match url.scheme() {
        "http" | "https" => {}
        "file" => {
            return Some(
                "fetch_page does not open files on this computer (file:// addresses)".to_string(),
            );
        }
        other => {
            return Some(format!(
                "fetch_page opens only http and https addresses, not {other}:"
            ));
        }
    }
    if allow_private {
        return None;
    }
    let host = url.host_str()?;
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let private = match literal.parse::<IpAddr>() {
        Ok(ip) => is_private(ip),
        Err(_) => host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost"),
    };
    private.then(|| private_refusal(host))
}

pub fn private_refusal(host: &str) -> String {
    format!(
        "{host} is on this computer or a private network, which tools may not open unless \
         Settings allow it (Tools → “Let tools open addresses on this computer and the local \
         network”)"
    )
}

/// Resolves names as the system does, then drops private addresses.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_private(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(private_refusal(&host).into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// An HTTP client for tools: at most [`MAX_REDIRECTS`] redirects, each checked, a whole-request
/// limit of `timeout`, and (unless `allow_private`) no private addresses.
pub fn client(allow_private: bool, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    let policy = redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        match refusal(attempt.url(), allow_private) {
            Some(why) => attempt.error(why),
            None => attempt.follow(),
        }
    });
    let mut builder = reqwest::Client::builder()
        .redirect(policy)
        .timeout(timeout)
        .user_agent(concat!("Stepwise/", env!("CARGO_PKG_VERSION")));
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn private_addresses_are_known() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700::1111", "172.32.0.1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn files_and_private_hosts_are_refused_with_reasons() {
        assert!(
            refusal(&url("file:///etc/passwd"), true)
                .unwrap()
                .contains("file://")
        );
        assert!(
            refusal(&url("ftp://example.com/"), false)
                .unwrap()
                .contains("ftp")
        );
        for u in [
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "http://[::1]/",
            "http://192.168.0.1/",
        ] {
            assert!(
                refusal(&url(u), false).unwrap().contains("private network"),
                "{u}"
            );
            assert_eq!(refusal(&url(u), true), None, "{u}");
        }
        assert_eq!(refusal(&url("https://example.com/a"), false), None);
    }
}
