//! Archiving. The scheduler finds requests closed longer than the city's retention and puts one
//! [`StatusCommand::Archive`] per request on the status queue; status moves each from `closed` to
//! `archived` once (an internal timeline entry named [`ARCHIVE_EVENT`], and an audit record by
//! the scheduler), then the store forgets its reporter's and followers' contacts. The request, its
//! timeline and its audit records stay, for the city's statistics.

use chrono::{DateTime, Utc};

use crate::messages::{queue_for_status, StatusCommand};
use crate::ports::{Queue, RequestStore};
use crate::transition::{missing, write_retrying, Applied, AuditDraft, Plan, StatusDeps};
use crate::work::Actor;
use crate::AppError;
use cityfix_domain::{Retention, Status, TimelineEntry, TimelineKind, TrackingNumber};

/// The timeline entry and audit record of a request's archiving.
pub const ARCHIVE_EVENT: &str = "archived";

/// The most requests one scheduler run queues for archiving; the rest wait for the next run.
pub const ARCHIVES_PER_RUN: u32 = 200;

/// Who archives: the audit log names the scheduler.
fn scheduler_actor() -> Actor {
    Actor {
        id: "system:scheduler".into(),
        name: "Scheduler".into(),
        role: "system".into(),
    }
}

/// Queues for archiving up to `limit` requests closed longer than `retention` at `now`; gives
/// how many.
pub async fn queue_archiving(
    store: &dyn RequestStore,
    queue: &dyn Queue,
    retention: &Retention,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<usize, AppError> {
    let closed = store
        .closed_before(retention.archive_cutoff(now), limit)
        .await?;
    let command = |request_id| StatusCommand::Archive { request_id };
    let queued = queue_for_status(queue, closed, command).await?;
    if queued > 0 {
        tracing::info!(count = queued, "queued closed requests for archiving");
    }
    Ok(queued)
}

/// Archives a request closed longer than the city's retention, once, and forgets its contacts
/// (again on a redelivery, or for a request staff archived by hand: an archived request keeps no
/// contact). A request reopened, or closed again more recently, is refused and left as it is.
pub async fn archive(deps: &StatusDeps, id: &TrackingNumber) -> Result<Applied, AppError> {
    let retention = deps.city.retention;
    let outcome = write_retrying(deps, id, Some(ARCHIVE_EVENT), |current, now| {
        let Some(current) = current else {
            return Ok(Plan::Done(missing(id)));
        };
        if current.status == Status::Archived {
            return Ok(Plan::Done(Applied::AlreadyApplied));
        }
        if !current.due_for_archive(&retention, now) {
            return Ok(Plan::Done(Applied::Refused(format!(
                "request {id} is {} and not closed longer than {} days",
                current.status, retention.archive_after_days
            ))));
        }
        let mut changed = Box::new(current.clone());
        changed.status = Status::Archived;
        let note = format!(
            "Archived after {} days closed; the reporter's and followers' contacts were deleted",
            retention.archive_after_days
        );
        let entry = TimelineEntry {
            event_id: ARCHIVE_EVENT.to_string(),
            at: now,
            kind: TimelineKind::StatusChanged,
            status: Some(Status::Archived),
            note: Some(note.clone()),
            public: false,
            actor: Some(scheduler_actor().id),
            internal_note: None,
            media: Vec::new(),
        };
        Ok(Plan::Write {
            changed,
            entry,
            applied: Applied::Changed {
                from: current.status,
                to: Status::Archived,
            },
            audit: Some(Box::new(AuditDraft {
                actor: scheduler_actor(),
                action: "archive",
                note: Some(note),
            })),
        })
    })
    .await?;
    if matches!(outcome, Applied::Changed { .. } | Applied::AlreadyApplied) {
        deps.store.forget_contacts(id).await?;
    }
    Ok(outcome)
}
