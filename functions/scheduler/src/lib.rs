//! The scheduler function: work done on a clock, started by an EventBridge schedule every minute.
//! Each tick runs its jobs, each bounded per run: the sweep, which queues again every report
//! whose routing job was lost; SLA breach notices for requests being worked past their expected
//! date; archiving of requests closed longer than the city's retention; the notices of standing
//! backlogs for requests that came into their scope; and the "Has it been fixed?" question for
//! fixes that came of age; and, hourly, the rising-concern test (`cityfix_app::rising`), whose
//! notices go to notify. The three before it only send status commands, the last one a notify
//! event: status stays the only writer of a request.

use cityfix_app::archive::{queue_archiving, ARCHIVES_PER_RUN};
use cityfix_app::breach::{queue_breach_notices, BREACHES_PER_RUN};
use cityfix_app::survey::{queue_surveys, SURVEYS_PER_RUN};
use cityfix_app::sweep::requeue_stuck;
pub use cityfix_app::sweep::SchedulerDeps;
use cityfix_app::AppError;

/// How long a report may stay `submitted` before its routing job counts as lost.
pub const SWEEP_GRACE: chrono::Duration = chrono::Duration::minutes(1);

/// How often the rising-concern test runs: in the first minute of every hour. It reads nine
/// weeks of counter rows, which every minute would be 60 times the reads for the same answer (a
/// flag is once a week at most); a tick that misses minute 0 waits for the next hour.
pub fn rising_due(now: chrono::DateTime<chrono::Utc>) -> bool {
    chrono::Timelike::minute(&now) == 0
}

/// What one tick queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ticked {
    /// Reports sent to routing again.
    pub requeued: usize,
    /// Breach notices sent to status.
    pub breaches: usize,
    /// Requests sent to status for archiving.
    pub archiving: usize,
    /// Backlog notices sent to status, for requests that came into a standing backlog's scope.
    pub backlog_notices: usize,
    /// "Has it been fixed?" questions sent to notify.
    pub surveys: usize,
    /// Upload slots dropped: no report named them within an hour.
    pub slots_dropped: usize,
    /// Rising concerns newly flagged, each with a notice queued to notify.
    pub rising: usize,
}

/// Runs the jobs for one scheduled event. Every job runs even when one before it failed; a
/// failure is then returned, so Lambda records it, and the next tick tries again (each job is
/// idempotent). The event is an EventBridge `Scheduled Event` (a rule) or whatever input an
/// EventBridge Scheduler schedule was given; only its `resources` (the schedule) are read, for the
/// log.
pub async fn handle(deps: &SchedulerDeps, event: serde_json::Value) -> Result<Ticked, AppError> {
    let (store, queue, clock) = (
        deps.store.as_ref(),
        deps.queue.as_ref(),
        deps.clock.as_ref(),
    );
    let now = clock.now();
    let requeued = requeue_stuck(store, queue, clock, SWEEP_GRACE).await;
    let breaches = queue_breach_notices(store, queue, now, BREACHES_PER_RUN).await;
    let archiving =
        queue_archiving(store, queue, &deps.city.retention, now, ARCHIVES_PER_RUN).await;
    let backlog_notices =
        cityfix_app::backlog::queue_backlog_notices(&deps.city, store, queue).await;
    let surveys = queue_surveys(store, queue, &deps.city.residents, now, SURVEYS_PER_RUN).await;
    let slots_dropped = cityfix_app::slots::sweep_slots(
        deps.media.as_ref(),
        now,
        cityfix_app::slots::SLOT_LIFETIME,
    )
    .await;
    let rising = if rising_due(now) {
        cityfix_app::rising::queue_rising_notices(
            &deps.city,
            deps.metrics.as_ref(),
            queue,
            now,
            &cityfix_app::rising::RisingRule::default(),
        )
        .await
        .map(|flags| flags.len())
    } else {
        Ok(0)
    };
    let schedule = event["resources"][0].as_str().unwrap_or("unknown");
    let ticked = Ticked {
        requeued: *requeued.as_ref().unwrap_or(&0),
        breaches: *breaches.as_ref().unwrap_or(&0),
        archiving: *archiving.as_ref().unwrap_or(&0),
        backlog_notices: *backlog_notices.as_ref().unwrap_or(&0),
        surveys: *surveys.as_ref().unwrap_or(&0),
        slots_dropped: *slots_dropped.as_ref().unwrap_or(&0),
        rising: *rising.as_ref().unwrap_or(&0),
    };
    tracing::info!(
        schedule,
        requeued = ticked.requeued,
        breaches = ticked.breaches,
        archiving = ticked.archiving,
        backlog_notices = ticked.backlog_notices,
        surveys = ticked.surveys,
        slots_dropped = ticked.slots_dropped,
        rising = ticked.rising,
        "ticked"
    );
    requeued?;
    breaches?;
    archiving?;
    backlog_notices?;
    surveys?;
    slots_dropped?;
    rising?;
    Ok(ticked)
}
