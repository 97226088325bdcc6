//! Which addresses the city fetches photos from when an Open311 client sends `media_url`, and the limits of one fetch.
//!
//! A client's `media_url` is never shown as it came: the photo is fetched, checked like an upload
//! and served from the city's own storage, and only from the places the city lists. Each entry is
//! a URL prefix that ends its host with `/` (`https://photos.example.org/`, or a folder under it),
//! so the host of a URL it allows is fixed: no user-info, other port or look-alike host gets by.

use serde::Deserialize;

/// The largest file fetched, in megabytes, when city.toml does not say.
pub const DEFAULT_FETCH_MAX_MB: u32 = 15;
/// How long one fetch may take, start to last byte, when city.toml does not say.
pub const DEFAULT_FETCH_TIMEOUT_SECONDS: u32 = 10;

/// city.toml `[media_fetch]`: where photos named by `media_url` may be fetched from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaFetch {
    /// URL prefixes (`https://host/` or `https://host/folder/`); empty fetches nothing.
    #[serde(default)]
    pub from: Vec<String>,
    #[serde(default = "default_max_mb")]
    pub max_mb: u32,
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u32,
}

fn default_max_mb() -> u32 {
    DEFAULT_FETCH_MAX_MB
}

fn default_timeout_seconds() -> u32 {
    DEFAULT_FETCH_TIMEOUT_SECONDS
}

impl Default for MediaFetch {
    fn default() -> Self {
        MediaFetch {
            from: Vec::new(),
            max_mb: DEFAULT_FETCH_MAX_MB,
            timeout_seconds: DEFAULT_FETCH_TIMEOUT_SECONDS,
        }
    }
}

/// Hosts plain `http` is allowed for: this machine only (a local asset system, a test).
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];

impl MediaFetch {
    /// The rules with each prefix checked and written one way (lower-case scheme and host, a `/`
    /// after the host), or why a prefix cannot be one.
    pub fn checked(mut self) -> Result<MediaFetch, String> {
        if !(1..=100).contains(&self.max_mb) {
            return Err("max_mb must be 1 to 100".into());
        }
        if !(1..=30).contains(&self.timeout_seconds) {
            return Err("timeout_seconds must be 1 to 30".into());
        }
        self.from = self
            .from
            .iter()
            .map(|prefix| checked_url(prefix, "media_fetch.from"))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Whether `url` is under one of the listed prefixes.
    pub fn allows(&self, url: &str) -> bool {
        if url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
        {
            return false;
        }
        self.from.iter().any(|prefix| {
            let (authority, path) = prefix.split_at(prefix.find("://").unwrap_or(0) + 3);
            let authority_end = authority.len() + path.find('/').unwrap_or(path.len());
            url.len() >= prefix.len()
                && url.is_char_boundary(prefix.len())
                && url[..authority_end].eq_ignore_ascii_case(&prefix[..authority_end])
                && url[authority_end..prefix.len()] == prefix[authority_end..]
        })
    }

    /// The largest file fetched, in bytes.
    pub fn max_bytes(&self) -> u64 {
        u64::from(self.max_mb) * 1024 * 1024
    }

    /// How long one fetch may take.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_seconds.into())
    }
}

/// `prefix` (a URL the city wrote in `field`) as [`MediaFetch::allows`] compares it and webhooks
/// are sent to: `https://host[:port]/…`, or `http://` for a loopback host; lower-case scheme and
/// host; a `/` after the host; no user name, query or fragment.
pub fn checked_url(prefix: &str, field: &str) -> Result<String, String> {
    let refuse = |why: &str| Err(format!("`{prefix}` in {field} {why}"));
    let Some((scheme, rest)) = prefix.trim().split_once("://") else {
        return refuse("is not a URL (write https://host/)");
    };
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    let authority = authority.to_ascii_lowercase();
    if authority.is_empty()
        || authority.contains(['@', '\\', '?', '#'])
        || !authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
    {
        return refuse("needs a plain host (no user name, no query)");
    }
    if path.contains(['?', '#', '\\']) || path.chars().any(char::is_whitespace) {
        return refuse("has a query, a fragment or a space in its path");
    }
    let host = authority
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(authority.as_str(), |(host, _)| host);
    match scheme.as_str() {
        "https" => {}
        "http" if LOOPBACK_HOSTS.contains(&host) => {}
        "http" => {
            return refuse("is plain http: only https is allowed (http only on this machine)")
        }
        _ => return refuse("is not an https URL"),
    }
    Ok(format!("{scheme}://{authority}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(from: &[&str]) -> MediaFetch {
        MediaFetch {
            from: from.iter().map(|s| s.to_string()).collect(),
            ..MediaFetch::default()
        }
        .checked()
        .unwrap()
    }

    #[test]
    fn a_listed_host_is_allowed_and_look_alikes_are_not() {
        let rules = rules(&[
            "HTTPS://Photos.Example.org",
            "https://assets.example.net/open311/",
        ]);
        assert_eq!(
            rules.from,
            [
                "https://photos.example.org/",
                "https://assets.example.net/open311/"
            ]
        );
        assert!(rules.allows("https://photos.example.org/a/b.jpg"));
        assert!(rules.allows("https://PHOTOS.example.org/a.jpg"));
        assert!(rules.allows("https://assets.example.net/open311/x.jpg"));
        for refused in [
            "http://photos.example.org/a.jpg",
            "https://photos.example.org.evil.example/a.jpg",
            "https://photos.example.org@evil.example/a.jpg",
            "https://photos.example.org:8443/a.jpg",
            "https://photos.example.org\\@evil.example/a.jpg",
            "https://photos.example.org/a b.jpg",
            "https://assets.example.net/other/x.jpg",
            "https://assets.example.net/OPEN311/x.jpg",
            "https://evil.example/https://photos.example.org/",
            "",
        ] {
            assert!(!rules.allows(refused), "{refused} must not be allowed");
        }
    }

    #[test]
    fn nothing_is_fetched_when_nothing_is_listed() {
        assert!(!MediaFetch::default().allows("https://photos.example.org/a.jpg"));
    }

    #[test]
    fn plain_http_only_from_this_machine_and_odd_prefixes_are_refused() {
        assert_eq!(
            rules(&["http://127.0.0.1:8080"]).from,
            ["http://127.0.0.1:8080/"]
        );
        assert!(rules(&["http://localhost/"]).allows("http://localhost/p.jpg"));
        for bad in [
            "http://photos.example.org/",
            "ftp://photos.example.org/",
            "photos.example.org",
            "https://user@photos.example.org/",
            "https:///a",
            "https://photos.example.org/?q=1",
        ] {
            let result = MediaFetch {
                from: vec![bad.into()],
                ..MediaFetch::default()
            }
            .checked();
            assert!(result.is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn limits_are_bounded() {
        let too_big = MediaFetch {
            max_mb: 500,
            ..MediaFetch::default()
        };
        assert!(too_big.checked().is_err());
        let forever = MediaFetch {
            timeout_seconds: 0,
            ..MediaFetch::default()
        };
        assert!(forever.checked().is_err());
        assert_eq!(MediaFetch::default().max_bytes(), 15 * 1024 * 1024);
    }
}
