//! Applying changes to a request: the only place its status is written, once per change.

use std::sync::Arc;

use super::messages::{NotifyEvent, NotifyKind, StatusCommand};
use super::AppError;
use crate::domain::{ServiceRequest, Status, TimelineEntry, TimelineKind};
use crate::ports::{Clock, PortError, Queue, QueueName, RequestStore};

/// How many times a change is re-read and retried when someone else wrote first.
const MAX_CONFLICT_RETRIES: usize = 5;

/// What the status function needs.
#[derive(Clone)]
pub struct StatusDeps {
    pub store: Arc<dyn RequestStore>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
}

/// What applying a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Changed {
        from: Status,
        to: Status,
    },
    /// The same change was applied before (a redelivery); its notification was queued again.
    AlreadyApplied,
    /// The status table forbids the change now (the request moved on); nothing written.
    Refused(String),
}

/// Applies one command with optimistic concurrency, then queues one notification event for it.
pub async fn apply(deps: &StatusDeps, command: &StatusCommand) -> Result<Applied, AppError> {
    match command {
        StatusCommand::Route {
            request_id,
            decision_id,
            decision,
        } => {
            let note = format!("Routed to {}", decision.department_name);
            let change_to = Change {
                event_id: decision_id,
                only_from: &[Status::Submitted],
                to: Status::Open,
                kind: TimelineKind::Routed,
                note: &note,
            };
            let outcome = change(deps, request_id, change_to, |request| {
                request.department = Some(decision.department.clone());
                request.agency_responsible = Some(decision.department_name.clone());
                request.neighbourhood = decision.neighbourhood.clone();
            })
            .await?;
            if !matches!(outcome, Applied::Refused(_)) {
                let event = NotifyEvent {
                    event_id: format!("{request_id}/{decision_id}"),
                    request_id: request_id.clone(),
                    kind: NotifyKind::Acknowledged,
                };
                let body = serde_json::to_string(&event).expect("a notify event always serialises");
                deps.queue.send(QueueName::Notify, &body).await?;
            }
            Ok(outcome)
        }
    }
}

/// One move of a request, recorded as the public timeline entry `event_id`.
struct Change<'a> {
    event_id: &'a str,
    /// The statuses this change applies to; from any other it is refused.
    only_from: &'a [Status],
    to: Status,
    kind: TimelineKind,
    note: &'a str,
}

/// Applies a change unless its timeline entry exists already.
async fn change(
    deps: &StatusDeps,
    id: &crate::domain::TrackingNumber,
    change: Change<'_>,
    edit: impl Fn(&mut ServiceRequest),
) -> Result<Applied, AppError> {
    let Change {
        event_id,
        only_from,
        to,
        kind,
        note,
    } = change;
    for _ in 0..MAX_CONFLICT_RETRIES {
        let current = deps
            .store
            .get(id)
            .await?
            .ok_or_else(|| AppError::Impossible(format!("request {id} does not exist")))?;
        let timeline = deps.store.timeline(id).await?;
        if timeline.iter().any(|entry| entry.event_id == event_id) {
            return Ok(Applied::AlreadyApplied);
        }
        if !only_from.contains(&current.status) {
            return Ok(Applied::Refused(format!(
                "request {id} is {}; this change applies only to a request that is {}",
                current.status,
                only_from
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )));
        }
        if let Err(why) = current.status.check_transition(to) {
            return Ok(Applied::Refused(why));
        }
        let now = deps.clock.now();
        let mut changed = current.clone();
        edit(&mut changed);
        changed.status = to;
        changed.status_notes = Some(note.to_string());
        changed.updated_at = now;
        changed.version = current.version + 1;
        let entry = TimelineEntry {
            event_id: event_id.to_string(),
            at: now,
            kind,
            status: Some(to),
            note: Some(note.to_string()),
            public: true,
        };
        match deps.store.update(&changed, current.version, &entry).await {
            Ok(()) => {
                return Ok(Applied::Changed {
                    from: current.status,
                    to,
                })
            }
            Err(PortError::Conflict(_)) | Err(PortError::AlreadyExists(_)) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(PortError::Conflict(format!("request {id} kept changing; will retry")).into())
}
