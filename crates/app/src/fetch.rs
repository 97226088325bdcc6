//! Photos an Open311 client names by `media_url`: fetched off the request path from the places the
//! city lists, within a size and time limit, then checked and kept like an upload.
//!
//! Intake never shows a client's URL. When the URL is on the city's list (`[media_fetch]` in
//! city.toml) intake queues a [`FetchJob`] on the media queue, and the fetch function reads the
//! file through a [`MediaFetcher`], stores it under `fetched/<request>/<media id>.<ext>` and runs
//! the upload check on it ([`crate::media::check_upload`]): the same kinds, sizes, decoding limits
//! and metadata removal, and status attaches it or leaves the reporter a note saying why not.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::media::{check_upload, fetched_key, not_a_kind_taken, sniffed_kind, Checked, MediaDeps};
use crate::messages::StatusCommand;
use crate::ports::{PortError, QueueName};
use crate::AppError;
use cityfix_domain::fetch::MediaFetch;
use cityfix_domain::TrackingNumber;

/// On the media queue: a photo to fetch for a stored request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchJob {
    pub request_id: TrackingNumber,
    pub url: String,
}

impl FetchJob {
    /// The media id the fetched file is kept under: the same for every delivery of one job, so
    /// a redelivered job keeps the file once.
    pub fn media_id(&self) -> String {
        let digest = Sha256::digest(format!("{}\u{1f}{}", self.request_id, self.url).as_bytes());
        format!("fetched-{}", &hex::encode(digest)[..24])
    }
}

/// Why a fetch gave no file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchFailure {
    /// The answer will not change by asking again: too large, not found, moved off the list.
    Refused(String),
    /// Perhaps it will: the server was slow, unreachable, or failed.
    Unavailable(String),
}

/// A file fetched from a URL the rules allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: Vec<u8>,
}

/// Reads a file over the network: only from URLs `rules` allows (redirects included), at most
/// `rules.max_bytes()` bytes, within `rules.timeout()` start to end.
#[async_trait::async_trait]
pub trait MediaFetcher: Send + Sync {
    async fn fetch(&self, url: &str, rules: &MediaFetch) -> Result<Fetched, FetchFailure>;
}

/// What the fetch function needs.
#[derive(Clone)]
pub struct FetchDeps {
    pub checks: MediaDeps,
    pub fetcher: Arc<dyn MediaFetcher>,
    pub rules: MediaFetch,
}

/// Receives of one job after which a server still unavailable is given up on, and the reporter
/// told (the queue's dead-letter limit is higher, so the last try is always this one's).
pub const FETCH_ATTEMPTS: u32 = 3;

/// Fetches the file of `job`, stores it where the upload check reads it and checks it. A file
/// that cannot be had is not an error: the reporter gets a note saying why, once. An error is
/// a storage or queue failure, or a server unavailable on an attempt before the last.
pub async fn fetch_media(
    deps: &FetchDeps,
    job: &FetchJob,
    receive_count: u32,
) -> Result<Checked, AppError> {
    let media_id = job.media_id();
    if !deps.rules.allows(&job.url) {
        return tell(
            deps,
            job,
            &media_id,
            "its address is not one this city takes photos from",
        )
        .await;
    }
    let fetched = match deps.fetcher.fetch(&job.url, &deps.rules).await {
        Ok(fetched) => fetched,
        Err(FetchFailure::Refused(why)) => return tell(deps, job, &media_id, &why).await,
        Err(FetchFailure::Unavailable(why)) if receive_count >= FETCH_ATTEMPTS => {
            return tell(deps, job, &media_id, &why).await
        }
        Err(FetchFailure::Unavailable(why)) => {
            return Err(AppError::Port(PortError::Unavailable(format!(
                "the photo of {} at media_url could not be fetched yet: {why}",
                job.request_id
            ))))
        }
    };
    let Some(kind) = sniffed_kind(&fetched.bytes) else {
        return tell(deps, job, &media_id, &not_a_kind_taken("the file")).await;
    };
    let key = fetched_key(&job.request_id, &media_id, kind);
    match deps
        .checks
        .media
        .put(&key, fetched.bytes, kind.content_type)
        .await
    {
        Ok(()) | Err(PortError::AlreadyExists(_)) => {}
        Err(other) => return Err(other.into()),
    }
    check_upload(&deps.checks, &key).await
}

/// Has status leave the reporter a note that the photo at `media_url` was not added, and why.
async fn tell(
    deps: &FetchDeps,
    job: &FetchJob,
    media_id: &str,
    why: &str,
) -> Result<Checked, AppError> {
    let command = StatusCommand::RefuseMedia {
        request_id: job.request_id.clone(),
        media_id: format!("media-{media_id}"),
        note: format!("Photo from media_url not added: {why}"),
    };
    let body = serde_json::to_string(&command).expect("a status command always serialises");
    deps.checks.queue.send(QueueName::Status, &body).await?;
    Ok(Checked::Refused(why.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_keeps_one_media_id_across_deliveries() {
        let job = FetchJob {
            request_id: TrackingNumber::parse("7K3M-9QZ2").unwrap(),
            url: "https://photos.example.org/a.jpg".into(),
        };
        let again: FetchJob = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
        assert_eq!(job.media_id(), again.media_id());
        assert!(crate::media::plain_media_id(&job.media_id()));
        let other = FetchJob {
            url: "https://photos.example.org/b.jpg".into(),
            ..job.clone()
        };
        assert_ne!(job.media_id(), other.media_id());
    }
}
