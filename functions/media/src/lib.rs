//! The media function: S3 tells it of every upload; it checks each one, keeps it without EXIF under
//! `originals/`, and asks status to attach it (see `cityfix_app::media`). Beside it, the fetch
//! function ([`fetch`]) reads the photos Open311 clients name by `media_url`.

pub mod fetch;
pub mod http_fetch;

use aws_lambda_events::event::s3::S3Event;
use cityfix_app::media::{check_upload, Checked, MediaDeps};
use cityfix_app::AppError;

/// Checks every upload of an S3 event. A refused upload is deleted and is not an error; a failure
/// to reach storage or the queue is, so Lambda invokes again (each step is safe to repeat).
pub async fn handle(deps: &MediaDeps, event: S3Event) -> Result<Vec<Checked>, AppError> {
    let mut results = Vec::new();
    for key in cityfix_http::batch::s3_object_keys(event) {
        let checked = check_upload(deps, &key).await?;
        match &checked {
            Checked::Attached { request_id, key } => {
                tracing::info!(%request_id, %key, "upload checked and kept")
            }
            Checked::Held { key } => {
                tracing::info!(%key, "slot's upload checked and kept for its report")
            }
            Checked::Refused(why) => tracing::warn!(%key, %why, "upload refused and deleted"),
            Checked::Ignored => tracing::info!(%key, "nothing to check"),
        }
        results.push(checked);
    }
    Ok(results)
}
