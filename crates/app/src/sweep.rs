//! The sweep: finds reports whose routing job was lost and queues them again.

use std::sync::Arc;

use chrono::Duration;

use crate::messages::RoutingJob;
use crate::ports::{Clock, Queue, QueueName, RequestStore};
use crate::AppError;

/// What the scheduler's work on the clock needs.
#[derive(Clone)]
pub struct SchedulerDeps {
    /// The city's retention, for archiving.
    pub city: Arc<cityfix_domain::City>,
    pub store: Arc<dyn RequestStore>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    /// Media storage, for dropping upload slots no report named (`crate::slots::sweep_slots`).
    pub media: Arc<dyn crate::ports::MediaStore>,
    /// The metrics' counters and rising-concern flags (`crate::rising`).
    pub metrics: Arc<dyn crate::ports::MetricsStore>,
}

/// Queues again every request still `submitted` after `grace`. Routing is idempotent, so a
/// request whose job is merely slow is routed once all the same.
pub async fn requeue_stuck(
    store: &dyn RequestStore,
    queue: &dyn Queue,
    clock: &dyn Clock,
    grace: Duration,
) -> Result<usize, AppError> {
    let stuck = store.stuck_submitted(clock.now() - grace, 500).await?;
    let jobs: Vec<String> = stuck
        .iter()
        .map(|request_id| {
            serde_json::to_string(&RoutingJob {
                request_id: request_id.clone(),
            })
            .expect("a routing job always serialises")
        })
        .collect();
    queue.send_batch(QueueName::Routing, &jobs).await?;
    if !stuck.is_empty() {
        tracing::info!(
            count = stuck.len(),
            "queued stuck reports for routing again"
        );
    }
    Ok(stuck.len())
}
