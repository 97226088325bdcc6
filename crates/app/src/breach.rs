//! SLA breach notices. The scheduler finds requests being worked past their expected date and
//! puts one [`StatusCommand::NoticeBreach`] per request on the status queue; status records the
//! breach once (an internal timeline entry named [`BREACH_EVENT`], and `breach_noticed_at`, which
//! takes the request out of the store's list of breaches), then announces it, and notify tells
//! each of the department's supervisors once.

use chrono::{DateTime, Utc};

use crate::messages::{queue_for_status, NotifyKind, StatusCommand};
use crate::ports::{Queue, RequestStore};
use crate::transition::{announce, missing, write_retrying, Applied, Plan, StatusDeps};
use crate::AppError;
use cityfix_domain::{lateness_in_words, TimelineEntry, TimelineKind, TrackingNumber};

/// The timeline entry of a request's breach: one per request, so a breach is noticed once.
pub const BREACH_EVENT: &str = "sla-breach";

/// The most breaches one scheduler run queues; the rest wait for the next run, a minute later.
pub const BREACHES_PER_RUN: u32 = 200;

/// Queues a notice for up to `limit` requests being worked past their expected date at `now`
/// whose supervisors were not told yet; gives how many. A request whose notice is queued but not
/// yet applied is queued again by the next run, which status takes as already done.
pub async fn queue_breach_notices(
    store: &dyn RequestStore,
    queue: &dyn Queue,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<usize, AppError> {
    let overdue = store.overdue(now, limit).await?;
    let command = |request_id| StatusCommand::NoticeBreach { request_id };
    let queued = queue_for_status(queue, overdue, command).await?;
    if queued > 0 {
        tracing::info!(count = queued, "queued breach notices");
    }
    Ok(queued)
}

/// Records that a request is past its expected date, once, and announces it to notify (again on
/// a redelivery, which notify sends once per supervisor). A request closed, rescheduled or put
/// back meanwhile is refused and nobody is told.
pub async fn notice_breach(deps: &StatusDeps, id: &TrackingNumber) -> Result<Applied, AppError> {
    let outcome = write_retrying(deps, id, Some(BREACH_EVENT), |current, now| {
        let Some(current) = current else {
            return Ok(Plan::Done(missing(id)));
        };
        if current.breach_noticed_at.is_some() {
            return Ok(Plan::Done(Applied::AlreadyApplied));
        }
        let Some(late) = current.breach_to_notice(now) else {
            return Ok(Plan::Done(Applied::Refused(format!(
                "request {id} is {} and not past its expected date",
                current.status
            ))));
        };
        let mut changed = Box::new(current.clone());
        changed.breach_noticed_at = Some(now);
        let department = current
            .department
            .as_deref()
            .and_then(|d| deps.city.department(d))
            .map_or("its department", |d| d.name.as_str());
        let entry = TimelineEntry {
            event_id: BREACH_EVENT.to_string(),
            at: now,
            kind: TimelineKind::SlaBreached,
            status: Some(current.status),
            note: Some(format!(
                "Past its expected date by {}; the supervisors of {department} were told",
                lateness_in_words(late)
            )),
            public: false,
            actor: None,
            internal_note: None,
            media: Vec::new(),
        };
        Ok(Plan::Write {
            changed,
            entry,
            applied: Applied::Changed {
                from: current.status,
                to: current.status,
            },
            audit: None,
        })
    })
    .await?;
    if matches!(outcome, Applied::Changed { .. } | Applied::AlreadyApplied) {
        announce(deps, id, BREACH_EVENT, NotifyKind::SlaBreached).await?;
    }
    Ok(outcome)
}
