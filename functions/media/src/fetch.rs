//! The fetch function: takes fetch jobs off the media queue, reads each photo an Open311 client
//! named by `media_url` from the city's allowed places, and checks it like an upload.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use cityfix_app::fetch::{fetch_media, FetchDeps, FetchJob};
use cityfix_app::media::Checked;
use cityfix_http::batch::for_each_counted_message;

/// Fetches every job of a batch; only the ones to try again are handed back for redelivery.
pub async fn handle(deps: &FetchDeps, event: SqsEvent) -> SqsBatchResponse {
    for_each_counted_message(event, |body, receive_count| async move {
        let job: FetchJob =
            serde_json::from_str(&body).map_err(|e| format!("not a fetch job: {e}"))?;
        let checked = fetch_media(deps, &job, receive_count)
            .await
            .map_err(|e| e.to_string())?;
        let request_id = &job.request_id;
        match checked {
            Checked::Attached { key, .. } => {
                tracing::info!(%request_id, %key, "fetched photo kept")
            }
            Checked::Refused(why) => tracing::warn!(%request_id, %why, "fetched photo refused"),
            Checked::Held { .. } | Checked::Ignored => {
                tracing::info!(%request_id, "fetched photo handled before")
            }
        }
        Ok(())
    })
    .await
}
