//! The network side of fetching a `media_url`: an HTTPS client that follows redirects only to
//! allowed places, refuses a file over the limit before and while reading it, and gives up at
//! the time limit.

use cityfix_app::fetch::{FetchFailure, Fetched, MediaFetcher};
use cityfix_domain::fetch::MediaFetch;
use reqwest::redirect::{Attempt, Policy};

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 3;

/// Reads files with reqwest over rustls (no system TLS library).
#[derive(Debug, Clone, Default)]
pub struct HttpFetcher;

#[async_trait::async_trait]
impl MediaFetcher for HttpFetcher {
    async fn fetch(&self, url: &str, rules: &MediaFetch) -> Result<Fetched, FetchFailure> {
        let allowed = rules.clone();
        let client = reqwest::Client::builder()
            .timeout(rules.timeout())
            .connect_timeout(rules.timeout())
            .redirect(Policy::custom(move |attempt: Attempt| {
                if attempt.previous().len() > MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else if allowed.allows(attempt.url().as_str()) {
                    attempt.follow()
                } else {
                    attempt.error("moved to an address this city does not take photos from")
                }
            }))
            .user_agent("cityfix media fetch")
            .build()
            .map_err(|e| FetchFailure::Unavailable(format!("no HTTP client: {e}")))?;
        let seconds = rules.timeout_seconds;
        let failed = |error: reqwest::Error| {
            if error.is_timeout() {
                FetchFailure::Unavailable(format!("the server took longer than {seconds} s"))
            } else if error.is_redirect() {
                FetchFailure::Refused(
                    "it moved to an address this city does not take photos from".into(),
                )
            } else if error.is_builder() {
                FetchFailure::Refused("its address is not a URL".into())
            } else {
                FetchFailure::Unavailable("the server could not be reached".into())
            }
        };
        let mut response = client.get(url).send().await.map_err(failed)?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(FetchFailure::Unavailable(format!(
                "the server answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(FetchFailure::Refused(format!(
                "the server answered {status}"
            )));
        }
        let max = rules.max_bytes();
        let too_large = |size: u64| {
            FetchFailure::Refused(format!(
                "the file has {size} bytes or more; at most {max} are taken"
            ))
        };
        if let Some(length) = response.content_length().filter(|length| *length > max) {
            return Err(too_large(length));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if (bytes.len() + chunk.len()) as u64 > max {
                return Err(too_large((bytes.len() + chunk.len()) as u64));
            }
            bytes.extend_from_slice(&chunk);
        }
        if bytes.is_empty() {
            return Err(FetchFailure::Refused("the file is empty".into()));
        }
        Ok(Fetched { bytes })
    }
}
