//! The router function: takes routing jobs off the routing queue and sends each decision to status.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use cityfix_app::messages::RoutingJob;
use cityfix_app::route::{route, RouterDeps};
use cityfix_http::batch::for_each_message;

/// Routes every job of a batch; only the failed ones are handed back for redelivery.
pub async fn handle(deps: &RouterDeps, event: SqsEvent) -> SqsBatchResponse {
    for_each_message(event, |body| async move {
        let job: RoutingJob =
            serde_json::from_str(&body).map_err(|e| format!("not a routing job: {e}"))?;
        let routed = route(deps, &job).await.map_err(|e| e.to_string())?;
        tracing::info!(request_id = %job.request_id, outcome = ?routed, "routed");
        Ok(())
    })
    .await
}
