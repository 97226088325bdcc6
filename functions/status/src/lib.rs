//! The status function: applies every change to a request (routing decisions first) and emits one event per change.

mod information;
pub mod metrics;
mod staff;

pub use staff::{staff_router, Staff};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use cityfix_app::messages::StatusCommand;
use cityfix_app::transition::{apply, StatusDeps};
use cityfix_http::batch::for_each_message;

/// Applies every command of a batch; only the failed ones are handed back for redelivery.
pub async fn handle(deps: &StatusDeps, event: SqsEvent) -> SqsBatchResponse {
    for_each_message(event, |body| async move {
        let command: StatusCommand =
            serde_json::from_str(&body).map_err(|e| format!("not a status command: {e}"))?;
        let applied = apply(deps, &command).await.map_err(|e| e.to_string())?;
        tracing::info!(request_id = %command.request_id(), outcome = ?applied, "status command applied");
        Ok(())
    })
    .await
}
