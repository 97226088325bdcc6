//! The notify function: turns status events into messages for the people who follow a request.

pub mod http_webhooks;
pub mod sms_replies;
pub mod webhooks;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use cityfix_app::messages::NotifyEvent;
use cityfix_app::notify::{notify, notify_rising, NotifyDeps};
use cityfix_app::rising::RisingNotice;
use cityfix_http::batch::for_each_message;

/// Notifies for every event of a batch; only the failed ones are handed back for redelivery.
pub async fn handle(deps: &NotifyDeps, event: SqsEvent) -> SqsBatchResponse {
    for_each_message(event, |body| async move {
        // The scheduler's rising-concern notices share the queue; they name no request.
        if let Ok(notice) = serde_json::from_str::<RisingNotice>(&body) {
            let notified = notify_rising(deps, &notice)
                .await
                .map_err(|e| e.to_string())?;
            tracing::info!(event_id = %notice.event_id(), outcome = ?notified, "notified");
            return Ok(());
        }
        let event: NotifyEvent =
            serde_json::from_str(&body).map_err(|e| format!("not a notify event: {e}"))?;
        let notified = notify(deps, &event).await.map_err(|e| e.to_string())?;
        tracing::info!(event_id = %event.event_id, outcome = ?notified, "notified");
        Ok(())
    })
    .await
}
