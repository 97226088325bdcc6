//! The scheduler function: work done on a clock, started by an EventBridge schedule. Today that is
//! the sweep, which queues again every report whose routing job was lost.

use cityfix_app::sweep::requeue_stuck;
pub use cityfix_app::sweep::SchedulerDeps;
use cityfix_app::AppError;

/// How long a report may stay `submitted` before its routing job counts as lost.
pub const SWEEP_GRACE: chrono::Duration = chrono::Duration::minutes(1);

/// Runs the sweep for one scheduled event; gives how many reports were queued again. A failure is
/// returned, so Lambda records it and the next tick tries again. The event is an EventBridge
/// `Scheduled Event` (a rule) or whatever input an EventBridge Scheduler schedule was given; only
/// its `resources` (the schedule) are read, for the log.
pub async fn handle(deps: &SchedulerDeps, event: serde_json::Value) -> Result<usize, AppError> {
    let requeued = requeue_stuck(
        deps.store.as_ref(),
        deps.queue.as_ref(),
        deps.clock.as_ref(),
        SWEEP_GRACE,
    )
    .await?;
    tracing::info!(
        schedule = event["resources"][0].as_str().unwrap_or("unknown"),
        requeued,
        "swept"
    );
    Ok(requeued)
}
