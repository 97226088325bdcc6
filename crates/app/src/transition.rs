//! Applying changes to a request: the only place its status is written, once per change.

use std::sync::Arc;

use crate::media::{record_state, MediaState, MAX_FILES_PER_REQUEST};
use crate::messages::{NotifyEvent, NotifyKind, StatusCommand};
use crate::ports::Clock;
use crate::ports::{Follower, MediaStore, PortError, Queue, QueueName, RequestStore};
use crate::route::{decide, ROUTED_EVENT};
use crate::AppError;
use cityfix_domain::{
    Assignee, AuditRecord, AuditState, City, Resolution, RoutingDecision, ServiceRequest, Status,
    TimelineEntry, TimelineKind, TrackingNumber,
};

/// How many times a change is re-read and retried when someone else wrote first.
const MAX_CONFLICT_RETRIES: usize = 16;

/// What the status function needs.
#[derive(Clone)]
pub struct StatusDeps {
    pub city: Arc<City>,
    pub store: Arc<dyn RequestStore>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    /// Where checked files are kept: a file refused when attached is deleted.
    pub media: Arc<dyn MediaStore>,
}

/// What applying a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Changed {
        from: Status,
        to: Status,
    },
    /// The same change was applied before (a redelivery); its follow-ups were done again, idempotently.
    AlreadyApplied,
    /// The change does not apply now (the request moved on, or it holds the most files); the
    /// request is as it was (a refused file leaves a public note saying why), nobody told.
    Refused(String),
    /// A staff action refused before anything was written, for a reason the caller can act on.
    Rejected(Rejection),
}

/// Why a staff action was refused as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The action was based on an older version of the request than the one stored.
    Stale { current_version: u64 },
    /// Not a move of the status table from where the request is.
    Illegal { from: Status, legal: Vec<Status> },
    /// The body names something that is not there or leaves out what the action needs.
    Invalid(cityfix_domain::Invalid),
}

impl Applied {
    pub fn is_refused(&self) -> bool {
        matches!(self, Applied::Refused(_) | Applied::Rejected(_))
    }
}

/// One move of a request, recorded as the public timeline entry `event_id`.
struct Change<'a> {
    event_id: &'a str,
    /// The statuses this change applies to; from any other it is refused.
    only_from: &'a [Status],
    to: Status,
    kind: TimelineKind,
    note: String,
}

const WORKING: &[Status] = &[Status::Submitted, Status::Open, Status::InProgress];

/// Applies one command with optimistic concurrency, then does its follow-ups (followers, one
/// notification event). Follow-ups are repeated on a redelivery; each is idempotent.
pub async fn apply(deps: &StatusDeps, command: &StatusCommand) -> Result<Applied, AppError> {
    match command {
        StatusCommand::Route {
            request_id,
            decision_id,
            decision,
        } => apply_routing(deps, request_id, decision_id, decision).await,
        StatusCommand::LinkDuplicate {
            request_id,
            original_id,
            decision_id,
            by,
        } => merge_duplicate(deps, request_id, original_id, decision_id, by.as_deref()).await,
        StatusCommand::Unlink {
            request_id,
            decision_id,
            by,
        } => unmerge(deps, request_id, decision_id, by.as_deref()).await,
        StatusCommand::AttachMedia {
            request_id,
            media_id,
            key,
            content_type,
            url,
        } => attach_media(deps, request_id, media_id, key, content_type, url).await,
        StatusCommand::RefuseMedia {
            request_id,
            media_id,
            note,
        } => note_refused_media(deps, request_id, media_id, note).await,
        StatusCommand::Work(command) => crate::work::apply_work(deps, command).await,
        StatusCommand::NoticeBreach { request_id } => {
            crate::breach::notice_breach(deps, request_id).await
        }
        StatusCommand::Archive { request_id } => crate::archive::archive(deps, request_id).await,
    }
}

/// The router's decision on a submitted request: a department opens it and the reporter hears it
/// was received; an agency closes it as referred and the reporter hears whom to reach.
async fn apply_routing(
    deps: &StatusDeps,
    request_id: &TrackingNumber,
    decision_id: &str,
    decision: &RoutingDecision,
) -> Result<Applied, AppError> {
    let (to, kind, note, notify) = match &decision.assignee {
        Assignee::Department { name, .. } => (
            Status::Open,
            TimelineKind::Routed,
            format!("Routed to {name}"),
            NotifyKind::Acknowledged,
        ),
        Assignee::Agency { id, name } => (
            Status::Closed,
            TimelineKind::Referred,
            referral_note(&deps.city, id, name),
            NotifyKind::Referred,
        ),
    };
    let change = Change {
        event_id: decision_id,
        only_from: &[Status::Submitted],
        to,
        kind,
        note,
    };
    let outcome = apply_change(deps, request_id, change, |request| {
        match &decision.assignee {
            Assignee::Department { id, .. } => {
                request.department = Some(id.clone());
                if let Some(service) = deps.city.service(&request.service_code) {
                    request.priority = service.priority;
                    let target = service
                        .target_hours
                        .map(|hours| chrono::Duration::hours(hours.into()));
                    let likely = decision.expected_secs.map(chrono::Duration::seconds);
                    request.expected_at = likely.or(target).map(|took| request.requested_at + took);
                }
            }
            Assignee::Agency { id, .. } => {
                request.agency = Some(id.clone());
                request.resolution = Some(Resolution::Referred);
            }
        }
        request.agency_responsible = Some(decision.assignee.name().to_string());
        request.areas = decision.areas.clone();
        request.routing_reason = Some(decision.reason.clone());
    })
    .await?;
    if outcome.is_refused() {
        return Ok(outcome);
    }
    announce(deps, request_id, decision_id, notify).await?;
    Ok(outcome)
}

/// Closes a request as a duplicate of the one its original hangs from, and makes its reporter a
/// follower there, so the one fix reaches everyone who reported the problem. `by` is the staff
/// member of a merge; the router otherwise.
async fn merge_duplicate(
    deps: &StatusDeps,
    request_id: &TrackingNumber,
    original_id: &TrackingNumber,
    decision_id: &str,
    by: Option<&str>,
) -> Result<Applied, AppError> {
    let Some(original) = root_of(deps, original_id).await? else {
        return Ok(missing(original_id));
    };
    if &original.id == request_id {
        return Ok(Applied::Refused(format!(
            "request {request_id} cannot be a duplicate of itself"
        )));
    }
    if !WORKING.contains(&original.status) || original.duplicate_of.is_some() {
        return original_closed_meanwhile(deps, request_id, &original, decision_id, by).await;
    }
    let note = format!(
        "Same problem as {}, which the city is already working on",
        original.id
    );
    let change = Change {
        event_id: decision_id,
        only_from: WORKING,
        to: Status::Closed,
        kind: TimelineKind::Duplicate,
        note,
    };
    let outcome = apply_change(deps, request_id, change, |request| {
        request.resolution = Some(Resolution::Duplicate);
        request.duplicate_of = Some(original.id.clone());
        request.areas = deps.city.areas_at(request.location);
        request.department = original.department.clone();
        request.agency_responsible = original.agency_responsible.clone();
    })
    .await?;
    if outcome.is_refused() {
        return Ok(outcome);
    }
    tracing::info!(%request_id, original_id = %original.id, by = by.unwrap_or("router"), "linked as a duplicate");
    count_duplicate(deps, &original.id, request_id, decision_id, Linking::Linked).await?;
    follow_original(deps, request_id, &original.id, decision_id).await?;
    Ok(outcome)
}

/// Whether a duplicate was linked to its original or unlinked from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Linking {
    Linked,
    Unlinked,
}

/// Counts a duplicate linked to (or unlinked from) `original_id` on the original, with an
/// internal timeline entry there naming it. Once per link or unlink: the entry's id is made of
/// the duplicate's number and the decision's id, so a redelivery finds it written and counts
/// nothing again. The original's status is left as it is.
async fn count_duplicate(
    deps: &StatusDeps,
    original_id: &TrackingNumber,
    duplicate_id: &TrackingNumber,
    decision_id: &str,
    linking: Linking,
) -> Result<(), AppError> {
    let (prefix, said) = match linking {
        Linking::Linked => (
            "linked",
            format!("{duplicate_id} was linked here as the same problem"),
        ),
        Linking::Unlinked => (
            "unlinked",
            format!("{duplicate_id} was unlinked from this request"),
        ),
    };
    let event_id = format!("{prefix}-{duplicate_id}-{decision_id}");
    write_retrying(deps, original_id, Some(&event_id), |current, now| {
        let Some(current) = current else {
            return Ok(Plan::Done(missing(original_id)));
        };
        let mut changed = Box::new(current.clone());
        changed.duplicates = match linking {
            Linking::Linked => current.duplicates + 1,
            Linking::Unlinked => current.duplicates.saturating_sub(1),
        };
        Ok(Plan::Write {
            changed,
            entry: TimelineEntry {
                event_id: event_id.clone(),
                at: now,
                kind: TimelineKind::Note,
                status: None,
                note: Some(said.clone()),
                public: false,
                actor: None,
                internal_note: None,
                media: Vec::new(),
            },
            applied: Applied::Changed {
                from: current.status,
                to: current.status,
            },
            audit: None,
        })
    })
    .await?;
    Ok(())
}

/// The follow-ups of a duplicate link, each idempotent: the reporter follows the original, and so
/// does everyone who followed this report (reports linked to it before it was itself linked), so
/// the one fix reaches them all; then the reporter hears that the report was linked.
async fn follow_original(
    deps: &StatusDeps,
    request_id: &TrackingNumber,
    original_id: &TrackingNumber,
    decision_id: &str,
) -> Result<(), AppError> {
    let mut followers = deps.store.followers(request_id).await?;
    if let Some(contact) = deps.store.reporter(request_id).await? {
        followers.push(Follower::new(contact, request_id.clone()));
    }
    for follower in &followers {
        deps.store.add_follower(original_id, follower).await?;
    }
    // The original may have been linked itself while this link was written; its own link copies
    // the followers it had, so whoever was added after that must reach its root here.
    if let Some(root) = root_of(deps, original_id).await? {
        if &root.id != original_id {
            for follower in &followers {
                deps.store.add_follower(&root.id, follower).await?;
            }
        }
    }
    announce(deps, request_id, decision_id, NotifyKind::LinkedAsDuplicate).await
}

/// The original a duplicate was to hang from was closed after the router chose it. A link already
/// written (this is a redelivery) has its follow-ups done again; a staff merge is refused, so staff
/// see why; the router's link becomes a routing decision in the same step, so the report never
/// waits without an outcome.
async fn original_closed_meanwhile(
    deps: &StatusDeps,
    request_id: &TrackingNumber,
    original: &ServiceRequest,
    decision_id: &str,
    by: Option<&str>,
) -> Result<Applied, AppError> {
    let Some(request) = deps.store.get(request_id).await? else {
        return Ok(missing(request_id));
    };
    if has_entry(deps, request_id, decision_id).await? {
        if let Some(linked_to) = &request.duplicate_of {
            count_duplicate(deps, linked_to, request_id, decision_id, Linking::Linked).await?;
            follow_original(deps, request_id, linked_to, decision_id).await?;
        }
        return Ok(Applied::AlreadyApplied);
    }
    if by.is_some() {
        return Ok(Applied::Refused(format!(
            "request {} is {}; only a request still being worked can take duplicates",
            original.id, original.status
        )));
    }
    tracing::info!(%request_id, original_id = %original.id, "the original was closed meanwhile; routed afresh");
    let decision = decide(&deps.city, &request)?;
    apply_routing(deps, request_id, ROUTED_EVENT, &decision).await
}

/// A staff unmerge: the request is its own problem after all, so it reopens and its reporter no
/// longer follows the original.
async fn unmerge(
    deps: &StatusDeps,
    request_id: &TrackingNumber,
    decision_id: &str,
    by: Option<&str>,
) -> Result<Applied, AppError> {
    let Some(current) = deps.store.get(request_id).await? else {
        return Ok(missing(request_id));
    };
    let original = current.duplicate_of;
    if original.is_none() && !has_entry(deps, request_id, decision_id).await? {
        return Ok(Applied::Refused(format!(
            "request {request_id} is not linked to another request"
        )));
    }
    let change = Change {
        event_id: decision_id,
        only_from: &[Status::Closed],
        to: Status::Open,
        kind: TimelineKind::StatusChanged,
        note: "Unlinked: this report is worked on its own".to_string(),
    };
    let outcome = apply_change(deps, request_id, change, |request| {
        request.resolution = None;
        request.duplicate_of = None;
    })
    .await?;
    if outcome.is_refused() {
        return Ok(outcome);
    }
    if let Some(original) = &original {
        count_duplicate(deps, original, request_id, decision_id, Linking::Unlinked).await?;
        deps.store
            .remove_followers_via(original, request_id)
            .await?;
        tracing::info!(%request_id, original_id = %original, by = by.unwrap_or("unknown"), "unlinked");
    }
    announce(deps, request_id, decision_id, NotifyKind::Unlinked).await?;
    Ok(outcome)
}

/// Adds a checked photo or video to a request in any status, with a public timeline entry. The
/// first one becomes the request's Open311 `media_url` unless the reporter gave a link. It
/// changes no status and tells nobody.
///
/// The files are counted here, against the request as it is when the file is attached (the store
/// counts them again in the write), not when the form was issued: forms issued together cannot
/// pass the limit. A file refused leaves the request's media as they were, a public note saying
/// why (the reporter sees it on the timeline), and is deleted.
async fn attach_media(
    deps: &StatusDeps,
    id: &TrackingNumber,
    media_id: &str,
    key: &str,
    content_type: &str,
    url: &str,
) -> Result<Applied, AppError> {
    let what = if content_type.starts_with("video/") {
        "Video"
    } else {
        "Photo"
    };
    let full = format!(
        "request {id} holds {MAX_FILES_PER_REQUEST} photos and videos, the most a report takes"
    );
    // Applied once per media id: its timeline entry is named by it, and a repeated attach finds
    // the key in the request's media. A media id attached is never replaced.
    let outcome = write_retrying(deps, id, Some(media_id), |current, now| {
        let Some(current) = current else {
            return Ok(Plan::Done(missing(id)));
        };
        if current.media.iter().any(|k| k == key) {
            return Ok(Plan::Done(Applied::AlreadyApplied));
        }
        let mut changed = Box::new(current.clone());
        let (note, applied) = if current.media.len() >= MAX_FILES_PER_REQUEST {
            (
                format!(
                    "{what} not added: a report takes at most {MAX_FILES_PER_REQUEST} photos and videos"
                ),
                Applied::Refused(full.clone()),
            )
        } else {
            changed.media.push(key.to_string());
            if changed.media_url.is_none() {
                changed.media_url = Some(url.to_string());
            }
            (
                format!("{what} added"),
                Applied::Changed {
                    from: current.status,
                    to: current.status,
                },
            )
        };
        let entry = TimelineEntry {
            event_id: media_id.to_string(),
            at: now,
            kind: TimelineKind::Media,
            status: None,
            note: Some(note),
            public: true,
            actor: None,
            internal_note: None,
            media: Vec::new(),
        };
        Ok(Plan::Write {
            changed,
            entry,
            applied,
            audit: None,
        })
    })
    .await?;
    let attached = match &outcome {
        Applied::Changed { .. } => true,
        Applied::Refused(_) | Applied::Rejected(_) => false,
        // Attached before, or refused before (a redelivery): the request's media tell which.
        Applied::AlreadyApplied => deps
            .store
            .get(id)
            .await?
            .is_some_and(|request| request.media.iter().any(|k| k == key)),
    };
    let state = if attached {
        MediaState::Ready {
            request_id: id.clone(),
            url: url.to_string(),
        }
    } else {
        for file in crate::media::kept_files(key) {
            deps.media.delete(&file).await?;
        }
        tracing::warn!(request_id = %id, %media_id, outcome = ?outcome, "file not attached; deleted");
        MediaState::Rejected {
            request_id: id.clone(),
            reason: match &outcome {
                Applied::Refused(why) => why.clone(),
                _ => format!("{what} not added"),
            },
        }
    };
    record_state(deps.media.as_ref(), media_id, &state).await?;
    Ok(outcome)
}

/// A public note on the timeline that an upload was refused, and why; written once per media id.
/// The request itself is not changed.
async fn note_refused_media(
    deps: &StatusDeps,
    id: &TrackingNumber,
    media_id: &str,
    note: &str,
) -> Result<Applied, AppError> {
    let outcome = write_retrying(deps, id, Some(media_id), |current, now| {
        let Some(current) = current else {
            return Ok(Plan::Done(missing(id)));
        };
        let entry = TimelineEntry {
            event_id: media_id.to_string(),
            at: now,
            kind: TimelineKind::Media,
            status: None,
            note: Some(note.to_string()),
            public: true,
            actor: None,
            internal_note: None,
            media: Vec::new(),
        };
        Ok(Plan::Write {
            changed: Box::new(current.clone()),
            entry,
            applied: Applied::Refused(note.to_string()),
            audit: None,
        })
    })
    .await?;
    let state = MediaState::Rejected {
        request_id: id.clone(),
        reason: note.to_string(),
    };
    record_state(deps.media.as_ref(), media_id, &state).await?;
    Ok(outcome)
}

/// Tells the notify function of one change, named by the request and its timeline entry so a
/// redelivered event is recognised there.
pub(crate) async fn announce(
    deps: &StatusDeps,
    request_id: &TrackingNumber,
    event_id: &str,
    kind: NotifyKind,
) -> Result<(), AppError> {
    let event = NotifyEvent {
        event_id: format!("{request_id}/{event_id}"),
        request_id: request_id.clone(),
        kind,
    };
    let body = serde_json::to_string(&event).expect("a notify event always serialises");
    deps.queue.send(QueueName::Notify, &body).await?;
    Ok(())
}

/// The refusal of a change to a request that is not there.
pub(crate) fn missing(id: &TrackingNumber) -> Applied {
    Applied::Refused(format!("request {id} does not exist"))
}

/// Whether the request's timeline has the entry `event_id`, that is, whether the change it
/// records was applied.
pub(crate) async fn has_entry(
    deps: &StatusDeps,
    id: &TrackingNumber,
    event_id: &str,
) -> Result<bool, AppError> {
    let timeline = deps.store.timeline(id).await?;
    Ok(timeline.iter().any(|entry| entry.event_id == event_id))
}

/// What the public sees of a referral: who takes it and how to reach them.
pub(crate) fn referral_note(city: &City, agency_id: &str, agency_name: &str) -> String {
    match city.agency(agency_id) {
        Some(agency) => format!("This is for {agency_name}, who are responsible here. We sent them the report; you can reach them at {} or {}", agency.phone, agency.website),
        None => format!("This is for {agency_name}, who are responsible here. We sent them the report"),
    }
}

/// The request a duplicate should hang from: the original, or what the original was linked to.
async fn root_of(
    deps: &StatusDeps,
    id: &TrackingNumber,
) -> Result<Option<ServiceRequest>, AppError> {
    let mut current = deps.store.get(id).await?;
    for _ in 0..8 {
        match current.as_ref().and_then(|r| r.duplicate_of.clone()) {
            Some(parent) => current = deps.store.get(&parent).await?,
            None => break,
        }
    }
    Ok(current)
}

/// Who made a staff change and what it was, for its audit record.
pub(crate) struct AuditDraft {
    pub actor: crate::work::Actor,
    pub action: &'static str,
    pub note: Option<String>,
}

/// What a change makes of the request as it is now.
pub(crate) enum Plan {
    /// Nothing to write.
    Done(Applied),
    /// Write `changed` (its version and update time are set by the writer) with `entry`.
    Write {
        changed: Box<ServiceRequest>,
        entry: TimelineEntry,
        applied: Applied,
        /// Set for a staff action: its audit record is written with the change.
        audit: Option<Box<AuditDraft>>,
    },
}

/// Reads the request, lets `plan` decide at the time `now`, and writes with optimistic
/// concurrency; when someone else wrote first, or the entry was written meanwhile, starts again.
/// With `event_id`, a request whose timeline already has that entry is `AlreadyApplied` unread by
/// `plan`.
pub(crate) async fn write_retrying(
    deps: &StatusDeps,
    id: &TrackingNumber,
    event_id: Option<&str>,
    plan: impl Fn(Option<&ServiceRequest>, chrono::DateTime<chrono::Utc>) -> Result<Plan, AppError>,
) -> Result<Applied, AppError> {
    for _ in 0..MAX_CONFLICT_RETRIES {
        let current = deps.store.get(id).await?;
        let now = deps.clock.now();
        let (current, mut changed, entry, applied, audit) =
            match (plan(current.as_ref(), now)?, current) {
                // A change refused because the request moved on may be this very change, applied
                // before a redelivery: only then is the timeline read.
                (Plan::Done(refused @ (Applied::Refused(_) | Applied::Rejected(_))), Some(_)) => {
                    return match event_id {
                        Some(event_id) if has_entry(deps, id, event_id).await? => {
                            Ok(Applied::AlreadyApplied)
                        }
                        _ => Ok(refused),
                    }
                }
                (Plan::Done(applied), _) => return Ok(applied),
                (Plan::Write { .. }, None) => {
                    return Err(AppError::Impossible(format!("request {id} does not exist")))
                }
                (
                    Plan::Write {
                        changed,
                        entry,
                        applied,
                        audit,
                    },
                    Some(current),
                ) => (current, changed, entry, applied, audit),
            };
        if current.reopens_on(changed.status) {
            changed.reopened += 1;
        }
        changed.updated_at = now;
        changed.version = current.version + 1;
        let audit = audit.map(|draft| *draft).map(|draft| AuditRecord {
            id: format!("{id}/{}", entry.event_id),
            at: now,
            actor: draft.actor.id,
            actor_name: draft.actor.name,
            role: draft.actor.role,
            action: draft.action.to_string(),
            request_id: id.clone(),
            before: AuditState::of(&current),
            after: AuditState::of(&changed),
            note: draft.note,
        });
        let written = deps
            .store
            .update_audited(&changed, current.version, &entry, audit.as_ref())
            .await;
        match written {
            Ok(()) => return Ok(applied),
            // The store refuses a timeline entry it holds: this change was applied before.
            Err(PortError::AlreadyExists(_)) if event_id.is_some() => {
                return Ok(Applied::AlreadyApplied)
            }
            Err(PortError::Conflict(_)) | Err(PortError::AlreadyExists(_)) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(PortError::Conflict(format!("request {id} kept changing; will retry")).into())
}

/// Applies a change unless its timeline entry exists already.
async fn apply_change(
    deps: &StatusDeps,
    id: &TrackingNumber,
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
    write_retrying(deps, id, Some(event_id), |current, now| {
        let current =
            current.ok_or_else(|| AppError::Impossible(format!("request {id} does not exist")))?;
        if !only_from.contains(&current.status) {
            let allowed: Vec<&str> = only_from.iter().map(|s| s.as_str()).collect();
            return Ok(Plan::Done(Applied::Refused(format!(
                "request {id} is {}; this change applies only to a request that is {}",
                current.status,
                allowed.join(" or ")
            ))));
        }
        if let Err(why) = current.status.check_transition(to) {
            return Ok(Plan::Done(Applied::Refused(why)));
        }
        let mut changed = Box::new(current.clone());
        edit(&mut changed);
        changed.status = to;
        changed.status_notes = Some(note.clone());
        changed.closed_at = match to {
            Status::Closed => Some(now),
            Status::Archived => current.closed_at,
            _ => None,
        };
        Ok(Plan::Write {
            changed,
            entry: TimelineEntry {
                event_id: event_id.to_string(),
                at: now,
                kind,
                status: Some(to),
                note: Some(note.clone()),
                public: true,
                actor: None,
                internal_note: None,
                media: Vec::new(),
            },
            applied: Applied::Changed {
                from: current.status,
                to,
            },
            audit: None,
        })
    })
    .await
}
