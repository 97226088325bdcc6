//! Staff working a request: moves of the status table, assignment, notes, priority, expected dates
//! and referrals. Each action is applied once (named by its decision id), writes one timeline entry
//! and one audit record in the same write, and puts one event on the notify queue.
//!
//! Who may do what is decided before a command is made (the staff routes check role and
//! department); here the command is checked against the request as it is when it is applied.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::messages::NotifyKind;
use crate::transition::{
    announce, missing, referral_note, write_retrying, Applied, AuditDraft, Plan, Rejection,
    StatusDeps,
};
use crate::AppError;
use cityfix_domain::expected::Fixed;
use cityfix_domain::work::{checked_description, checked_note};
use cityfix_domain::{
    City, Invalid, Move, MoveRefused, Priority, Resolution, ServiceRequest, Status, TimelineEntry,
    TimelineKind, TrackingNumber,
};

/// The most photos one note or transition shows.
pub const MAX_MEDIA_PER_ENTRY: usize = 5;

/// The furthest ahead an expected date may be set.
const MAX_EXPECTED_DAYS: i64 = 2 * 366;

/// Who acted: a staff member (their sign-in id, name and role) or an outside system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub id: String,
    pub name: String,
    pub role: String,
}

/// What a staff member does to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum WorkAction {
    /// A move of the status table. The note is public unless `public` is false; the status
    /// change itself always is.
    Transition {
        to: Status,
        #[serde(default)]
        resolution: Option<Resolution>,
        #[serde(default)]
        note: Option<String>,
        public: bool,
        /// Media ids of checked files of this request, shown with the entry.
        #[serde(default)]
        media: Vec<String>,
    },
    /// To another department, to a person in it, or both. A request referred away comes back.
    Assign {
        department: String,
        #[serde(default)]
        assignee: Option<String>,
        #[serde(default)]
        note: Option<String>,
    },
    Note {
        text: String,
        public: bool,
        #[serde(default)]
        media: Vec<String>,
    },
    Prioritise {
        priority: Priority,
        reason: String,
    },
    /// A new expected date, with the reason residents read.
    Reschedule {
        expected_at: DateTime<Utc>,
        reason: String,
    },
    /// Another agency's to fix: closed as referred; the agency gets the report.
    Refer {
        agency: String,
        #[serde(default)]
        note: Option<String>,
    },
    /// The reporter says a request closed as fixed is not: it opens again, ahead in the queue.
    Reopen {
        comment: String,
    },
    /// A public comment from the reporter, with up to [`MAX_MEDIA_PER_ENTRY`] of their checked
    /// photos or videos.
    Comment {
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        media: Vec<String>,
    },
    /// Someone else saw the problem too ("me too"); the decision id stands for the person, so
    /// each is counted once.
    Support,
    /// A backlog covers the request: its new expected date and the notice of the delay.
    Backlogged {
        backlog_id: String,
        expected_at: DateTime<Utc>,
        message: String,
    },
    /// The backlog that covered the request was lifted.
    BacklogLifted {
        backlog_id: String,
    },
    /// One of the request's media kept private (a face, a licence plate: staff see it, the public
    /// and every message never do), or shown again. The entry is internal: nobody is told.
    MediaPrivacy {
        /// The media id of a checked file of this request.
        media: String,
        private: bool,
        reason: String,
    },
    /// Moderation: the request hidden from public view (`hidden`), or shown again. The entry is
    /// internal: nobody is told.
    Hide {
        hidden: bool,
        reason: String,
    },
    /// Moderation: the public description replaced by `text`, the reporter's own kept for staff;
    /// without `text`, the reporter's own restored. The entry is internal.
    EditDescription {
        #[serde(default)]
        text: Option<String>,
        reason: String,
    },
}

/// The actor of what a reporter does with the token of their report.
pub fn reporter() -> Actor {
    Actor {
        id: "reporter".into(),
        name: "The reporter".into(),
        role: "resident".into(),
    }
}

/// The actor of a resident saying "me too".
pub fn supporter() -> Actor {
    Actor {
        id: "supporter".into(),
        name: "A resident".into(),
        role: "resident".into(),
    }
}

/// The decision id of a reporter's "not fixed" for the request's current closing: one reopening
/// per closing, however many times (and from wherever) it is asked for.
pub fn reopen_decision_id(request: &ServiceRequest) -> String {
    let closing = request
        .closed_at
        .unwrap_or(request.updated_at)
        .timestamp_micros();
    format!(
        "reopen-{}",
        &cityfix_domain::text::fingerprint(&format!("{}/{closing}", request.id))[..24]
    )
}

/// Why a reporter may not reopen `request` at `now`, if they may not: only a request closed as
/// fixed, within the city's `reopen_days` of its closing.
pub fn reopen_refused(
    request: &ServiceRequest,
    reopen_days: u32,
    now: DateTime<Utc>,
) -> Option<String> {
    if request.status != Status::Closed || request.resolution != Some(Resolution::Fixed) {
        return Some(format!(
            "only a report closed as fixed can be reopened; {} is {}",
            request.id,
            match (request.status, request.resolution) {
                (Status::Closed, Some(resolution)) => format!("closed as {}", resolution.as_str()),
                (status, _) => status.as_str().to_string(),
            }
        ));
    }
    let closed = request.closed_at.unwrap_or(request.updated_at);
    if now - closed > chrono::Duration::days(reopen_days.into()) {
        return Some(format!(
            "{} was closed more than {reopen_days} days ago; please make a new report",
            request.id
        ));
    }
    None
}

impl WorkAction {
    /// The action's name in the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            WorkAction::Transition { .. } => "transition",
            WorkAction::Assign { .. } => "assignment",
            WorkAction::Note { .. } => "note",
            WorkAction::Prioritise { .. } => "priority",
            WorkAction::Reschedule { .. } => "expected",
            WorkAction::Refer { .. } => "referral",
            WorkAction::Reopen { .. } => "reopen",
            WorkAction::Comment { .. } => "comment",
            WorkAction::Support => "support",
            WorkAction::Backlogged { .. } => "backlog",
            WorkAction::BacklogLifted { .. } => "backlog_lifted",
            WorkAction::MediaPrivacy { .. } => "media_privacy",
            WorkAction::Hide { hidden: true, .. } => "hide",
            WorkAction::Hide { hidden: false, .. } => "unhide",
            WorkAction::EditDescription { text: Some(_), .. } => "edit_description",
            WorkAction::EditDescription { text: None, .. } => "restore_description",
        }
    }
}

/// One staff action on one request, on the status queue or applied at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkCommand {
    pub request_id: TrackingNumber,
    /// Names the timeline entry and audit record: the same id is applied once.
    pub decision_id: String,
    pub by: Actor,
    /// The version the staff member saw; a request changed since is refused as stale.
    #[serde(default)]
    pub expected_version: Option<u64>,
    pub action: WorkAction,
}

/// The entry, change and outcome one action makes of the request as it is at `now`.
struct Worked {
    changed: ServiceRequest,
    kind: TimelineKind,
    status: Option<Status>,
    note: Option<String>,
    public: bool,
    /// Kept in the staff view only (an internal note on a public change).
    internal_note: Option<String>,
    media: Vec<String>,
}

/// Applies a staff action once, then announces it (again on a redelivery, which notify takes
/// once by its event id).
pub async fn apply_work(deps: &StatusDeps, command: &WorkCommand) -> Result<Applied, AppError> {
    let id = &command.request_id;
    let outcome = write_retrying(deps, id, Some(&command.decision_id), |current, now| {
        let Some(current) = current else {
            return Ok(Plan::Done(missing(id)));
        };
        if let Some(expected) = command.expected_version {
            if expected != current.version {
                return Ok(Plan::Done(Applied::Rejected(Rejection::Stale {
                    current_version: current.version,
                })));
            }
        }
        let worked = match work(&deps.city, current, &command.action, now) {
            Ok(worked) => worked,
            Err(rejection) => return Ok(Plan::Done(Applied::Rejected(rejection))),
        };
        let mut changed = Box::new(worked.changed);
        if worked.public {
            if let Some(note) = &worked.note {
                changed.status_notes = Some(note.clone());
            }
        }
        let entry = TimelineEntry {
            event_id: command.decision_id.clone(),
            at: now,
            kind: worked.kind,
            status: worked.status,
            note: worked.note,
            public: worked.public,
            actor: Some(command.by.id.clone()),
            internal_note: worked.internal_note,
            media: worked.media,
        };
        let audit_note = entry.internal_note.clone().or_else(|| entry.note.clone());
        Ok(Plan::Write {
            applied: Applied::Changed {
                from: current.status,
                to: changed.status,
            },
            changed,
            entry,
            audit: Some(Box::new(AuditDraft {
                actor: command.by.clone(),
                action: command.action.name(),
                note: audit_note,
            })),
        })
    })
    .await?;
    if matches!(outcome, Applied::Changed { .. } | Applied::AlreadyApplied) {
        if let WorkAction::Transition {
            to: Status::Closed,
            resolution: Some(Resolution::Fixed),
            ..
        } = command.action
        {
            record_fix(deps, id).await?;
        }
        let kind = match command.action {
            WorkAction::Refer { .. } => NotifyKind::Referred,
            _ => NotifyKind::Updated,
        };
        announce(deps, id, &command.decision_id, kind).await?;
    }
    Ok(outcome)
}

/// Whether `action` can be done to `current` at `now`, as status will check it: for a caller that
/// hands the action to status on its queue and answers at once (an Open311 client's update).
pub fn check_work(
    city: &City,
    current: &ServiceRequest,
    action: &WorkAction,
    now: DateTime<Utc>,
) -> Result<(), Rejection> {
    work(city, current, action, now).map(|_| ())
}

/// Keeps how long a fixed request took, for the expected dates of those that come after it. Done
/// again on a redelivery, which the store takes once.
async fn record_fix(deps: &StatusDeps, id: &TrackingNumber) -> Result<(), AppError> {
    let Some(request) = deps.store.get(id).await? else {
        return Ok(());
    };
    let (Status::Closed, Some(Resolution::Fixed), Some(closed_at)) =
        (request.status, request.resolution, request.closed_at)
    else {
        return Ok(());
    };
    let area = deps
        .city
        .places
        .layers
        .first()
        .and_then(|layer| request.areas.get(&layer.id))
        .cloned();
    let fixed = Fixed {
        request_id: request.id.to_string(),
        area,
        closed_at,
        took_secs: (closed_at - request.requested_at).num_seconds(),
    };
    deps.store.record_fix(&request.service_code, &fixed).await?;
    Ok(())
}

/// What `action` makes of `current`, or why it cannot be done.
fn work(
    city: &City,
    current: &ServiceRequest,
    action: &WorkAction,
    now: DateTime<Utc>,
) -> Result<Worked, Rejection> {
    let invalid = Rejection::Invalid;
    let note_of = |field: &str, text: &Option<String>| {
        text.as_deref()
            .map(|text| checked_note(field, text))
            .transpose()
            .map_err(invalid)
    };
    let mut changed = current.clone();
    let unchanged_status = Some(current.status);
    match action {
        WorkAction::Transition {
            to,
            resolution,
            note,
            public,
            media,
        } => {
            let note = note_of("note", note)?;
            let asked = Move {
                to: *to,
                resolution: *resolution,
                note: note.clone(),
            };
            asked.check(current).map_err(|refused| match refused {
                MoveRefused::Illegal { from, legal } => Rejection::Illegal { from, legal },
                MoveRefused::Incomplete(why) => Rejection::Invalid(why),
            })?;
            let media = media_keys(current, media)?;
            changed.status = *to;
            match to {
                Status::Closed => {
                    changed.resolution = *resolution;
                    changed.closed_at = Some(now);
                }
                Status::Archived => {}
                _ => {
                    changed.resolution = None;
                    changed.closed_at = None;
                }
            }
            let said = status_sentence(current.status, *to, *resolution);
            let (public_note, internal_note) = match (note, public) {
                (Some(note), true) => (note, None),
                (Some(note), false) => (said, Some(note)),
                (None, _) => (said, None),
            };
            Ok(Worked {
                changed,
                kind: TimelineKind::StatusChanged,
                status: Some(*to),
                note: Some(public_note),
                public: true,
                internal_note,
                media,
            })
        }
        WorkAction::Assign {
            department,
            assignee,
            note,
        } => {
            let note = note_of("note", note)?;
            let Some(target) = city.department(department) else {
                return Err(invalid(
                    Invalid::field(
                        "department",
                        format!("there is no department `{}`", short(department)),
                    )
                    .with_code("unknown_department"),
                ));
            };
            let member = match assignee {
                Some(person) => Some(target.member(person).ok_or_else(|| {
                    invalid(
                        Invalid::field(
                            "assignee",
                            format!("`{}` is not a member of {}", short(person), target.name),
                        )
                        .with_code("unknown_assignee"),
                    )
                })?),
                None => None,
            };
            let taken_back = current.status == Status::Closed && current.agency.is_some();
            if matches!(current.status, Status::Closed | Status::Archived) && !taken_back {
                return Err(Rejection::Illegal {
                    from: current.status,
                    legal: current.status.legal_moves(),
                });
            }
            let moved = current.department.as_deref() != Some(target.id.as_str());
            changed.department = Some(target.id.clone());
            changed.assignee = member.map(|m| m.id.clone());
            changed.agency_responsible = Some(target.name.clone());
            if taken_back {
                changed.status = Status::Open;
                changed.agency = None;
                changed.resolution = None;
                changed.closed_at = None;
            }
            // A move between departments is public (the resident reads who has it); who in the
            // department works it is not.
            let (said, public) = match (moved || taken_back, member) {
                (true, _) => (format!("Moved to {}", target.name), true),
                (false, Some(member)) => (format!("Assigned to {}", member.name), false),
                (false, None) => ("Unassigned".to_string(), false),
            };
            Ok(Worked {
                changed,
                kind: TimelineKind::Assigned,
                status: Some(if taken_back {
                    Status::Open
                } else {
                    current.status
                }),
                note: Some(said),
                public,
                internal_note: note,
                media: Vec::new(),
            })
        }
        WorkAction::Note {
            text,
            public,
            media,
        } => {
            let text = checked_note("text", text).map_err(invalid)?;
            let media = media_keys(current, media)?;
            if current.status == Status::Archived {
                return Err(Rejection::Illegal {
                    from: current.status,
                    legal: Vec::new(),
                });
            }
            Ok(Worked {
                changed,
                kind: TimelineKind::Note,
                status: unchanged_status,
                note: Some(text),
                public: *public,
                internal_note: None,
                media,
            })
        }
        WorkAction::Prioritise { priority, reason } => {
            let reason = checked_note("reason", reason).map_err(invalid)?;
            still_worked(current)?;
            changed.priority = *priority;
            Ok(Worked {
                changed,
                kind: TimelineKind::Prioritised,
                status: unchanged_status,
                note: Some(format!("Priority {}: {reason}", priority.as_str())),
                public: false,
                internal_note: None,
                media: Vec::new(),
            })
        }
        WorkAction::Reschedule {
            expected_at,
            reason,
        } => {
            let reason = checked_note("reason", reason).map_err(invalid)?;
            still_worked(current)?;
            if *expected_at <= now || *expected_at > now + chrono::Duration::days(MAX_EXPECTED_DAYS)
            {
                return Err(invalid(Invalid::field(
                    "expected_datetime",
                    "the expected date must be in the future and within two years",
                )));
            }
            changed.expected_at = Some(*expected_at);
            let day = expected_at
                .with_timezone(&city.timezone)
                .format("%A %-d %B %Y");
            Ok(Worked {
                changed,
                kind: TimelineKind::Rescheduled,
                status: unchanged_status,
                note: Some(format!("Now expected by {day}. {reason}")),
                public: true,
                internal_note: None,
                media: Vec::new(),
            })
        }
        WorkAction::Reopen { .. } | WorkAction::Comment { .. } | WorkAction::Support => {
            resident_work(city, current, action, now)
        }
        WorkAction::Backlogged {
            backlog_id,
            expected_at,
            message,
        } => {
            still_worked(current)?;
            if !changed.backlogs.contains(backlog_id) {
                changed.backlogs.push(backlog_id.clone());
            }
            // A date already later stays: a backlog never brings a request forward.
            if changed.expected_at.is_none_or(|at| at < *expected_at) {
                changed.expected_at = Some(*expected_at);
            }
            let day = changed
                .expected_at
                .unwrap_or(*expected_at)
                .with_timezone(&city.timezone)
                .format("%A %-d %B %Y");
            Ok(Worked {
                changed,
                kind: TimelineKind::Backlog,
                status: unchanged_status,
                note: Some(format!("{message} Now expected by {day}.")),
                public: true,
                internal_note: None,
                media: Vec::new(),
            })
        }
        WorkAction::BacklogLifted { backlog_id } => {
            if !current.backlogs.contains(backlog_id) {
                return Err(invalid(Invalid::field(
                    "backlog",
                    format!(
                        "request {} is not in backlog {}",
                        current.id,
                        short(backlog_id)
                    ),
                )));
            }
            changed.backlogs.retain(|id| id != backlog_id);
            Ok(Worked {
                changed,
                kind: TimelineKind::BacklogLifted,
                status: unchanged_status,
                note: Some(
                    "The delay is over: the city is working through these requests as usual".into(),
                ),
                public: true,
                internal_note: None,
                media: Vec::new(),
            })
        }
        WorkAction::MediaPrivacy {
            media,
            private,
            reason,
        } => {
            let reason = checked_note("reason", reason).map_err(invalid)?;
            let key = media_keys(current, std::slice::from_ref(media))?.remove(0);
            let what = if crate::media::is_photo_key(&key) {
                "Photo"
            } else {
                "Video"
            };
            let kept_private = current.private_media.contains(&key);
            if kept_private == *private {
                return Err(invalid(
                    Invalid::field(
                        "private",
                        format!(
                            "{what} {} of request {} is {} already",
                            short(media),
                            current.id,
                            if kept_private { "private" } else { "public" }
                        ),
                    )
                    .with_code("unchanged"),
                ));
            }
            let said = if *private {
                changed.private_media.push(key.clone());
                format!("{what} kept private: {reason}")
            } else {
                changed.private_media.retain(|k| k != &key);
                format!("{what} shown again: {reason}")
            };
            Ok(Worked {
                changed,
                kind: TimelineKind::Media,
                status: unchanged_status,
                note: Some(said),
                public: false,
                internal_note: None,
                media: vec![key],
            })
        }
        WorkAction::Hide { hidden, reason } => hide(current, *hidden, reason),
        WorkAction::EditDescription { text, reason } => {
            edit_description(current, text.as_deref(), reason)
        }
        WorkAction::Refer { agency, note } => {
            let note = note_of("note", note)?;
            let Some(found) = city.agency(agency) else {
                return Err(invalid(
                    Invalid::field("agency", format!("there is no agency `{}`", short(agency)))
                        .with_code("unknown_agency"),
                ));
            };
            if !matches!(
                current.status,
                Status::Open | Status::InProgress | Status::Submitted
            ) {
                return Err(Rejection::Illegal {
                    from: current.status,
                    legal: current.status.legal_moves(),
                });
            }
            changed.status = Status::Closed;
            changed.resolution = Some(Resolution::Referred);
            changed.agency = Some(found.id.clone());
            changed.agency_responsible = Some(found.name.clone());
            changed.assignee = None;
            changed.closed_at = Some(now);
            Ok(Worked {
                changed,
                kind: TimelineKind::Referred,
                status: Some(Status::Closed),
                note: Some(referral_note(city, &found.id, &found.name)),
                public: true,
                internal_note: note,
                media: Vec::new(),
            })
        }
    }
}

/// What a resident's action makes of `current`.
fn resident_work(
    city: &City,
    current: &ServiceRequest,
    action: &WorkAction,
    now: DateTime<Utc>,
) -> Result<Worked, Rejection> {
    let mut changed = current.clone();
    match action {
        WorkAction::Reopen { comment } => {
            let comment = checked_note("comment", comment).map_err(Rejection::Invalid)?;
            if let Some(why) = reopen_refused(current, city.residents.reopen_days, now) {
                return Err(Rejection::Invalid(
                    Invalid::field("token", why).with_code("not_reopenable"),
                ));
            }
            changed.status = Status::Open;
            changed.resolution = None;
            changed.closed_at = None;
            // Ahead in the department's queue: a fix that did not hold.
            changed.priority = changed.priority.max(Priority::High);
            Ok(Worked {
                changed,
                kind: TimelineKind::StatusChanged,
                status: Some(Status::Open),
                note: Some(format!("Reopened by the reporter: {comment}")),
                public: true,
                internal_note: None,
                media: Vec::new(),
            })
        }
        WorkAction::Comment { text, media } => {
            let text = checked_note("text", text).map_err(Rejection::Invalid)?;
            let media = media_keys(current, media)?;
            if current.status == Status::Archived {
                return Err(Rejection::Illegal {
                    from: current.status,
                    legal: Vec::new(),
                });
            }
            Ok(Worked {
                changed,
                kind: TimelineKind::Comment,
                status: Some(current.status),
                note: Some(text),
                public: true,
                internal_note: None,
                media,
            })
        }
        _ => {
            still_worked(current)?;
            changed.supporters += 1;
            Ok(Worked {
                changed,
                kind: TimelineKind::Supported,
                status: Some(current.status),
                note: None,
                public: false,
                internal_note: None,
                media: Vec::new(),
            })
        }
    }
}

/// What hiding `current` from public view, or showing it again, makes of it: refused when it is
/// so already.
fn hide(current: &ServiceRequest, hidden: bool, reason: &str) -> Result<Worked, Rejection> {
    let reason = checked_note("reason", reason).map_err(Rejection::Invalid)?;
    if current.hidden == hidden {
        return Err(unchanged(
            "hidden",
            format!(
                "request {} is {} already",
                current.id,
                if hidden { "hidden" } else { "shown" }
            ),
        ));
    }
    let mut changed = current.clone();
    changed.hidden = hidden;
    let said = if hidden {
        format!("Hidden from public view: {reason}")
    } else {
        format!("Shown to the public again: {reason}")
    };
    Ok(moderated(changed, said))
}

/// What a new public description (`Some`), or the reporter's own restored (`None`), makes of
/// `current`. The reporter's words are kept in `original_description` while another shows.
fn edit_description(
    current: &ServiceRequest,
    text: Option<&str>,
    reason: &str,
) -> Result<Worked, Rejection> {
    let reason = checked_note("reason", reason).map_err(Rejection::Invalid)?;
    let mut changed = current.clone();
    let said = match text {
        Some(text) => {
            let text = checked_description(text).map_err(Rejection::Invalid)?;
            if current.description.as_deref() == Some(text.as_str()) {
                return Err(unchanged(
                    "description",
                    "the public description reads so already".into(),
                ));
            }
            if current.original_description.is_none() {
                changed.original_description =
                    Some(current.description.clone().unwrap_or_default());
            }
            changed.description = Some(text);
            format!("Public description edited: {reason}")
        }
        None => {
            let Some(original) = &current.original_description else {
                return Err(unchanged(
                    "description",
                    format!(
                        "request {} shows the reporter's own description",
                        current.id
                    ),
                ));
            };
            changed.description = Some(original.clone()).filter(|text| !text.is_empty());
            changed.original_description = None;
            format!("The reporter's own description restored: {reason}")
        }
    };
    Ok(moderated(changed, said))
}

/// The internal entry of a moderation: staff read why, nobody is told.
fn moderated(changed: ServiceRequest, said: String) -> Worked {
    Worked {
        status: Some(changed.status),
        changed,
        kind: TimelineKind::Moderated,
        note: Some(said),
        public: false,
        internal_note: None,
        media: Vec::new(),
    }
}

/// A refusal of a change that changes nothing.
fn unchanged(field: &str, message: String) -> Rejection {
    Rejection::Invalid(Invalid::field(field, message).with_code("unchanged"))
}

/// Refuses a change of priority or date to a request no longer being worked.
fn still_worked(current: &ServiceRequest) -> Result<(), Rejection> {
    if matches!(current.status, Status::Closed | Status::Archived) {
        return Err(Rejection::Illegal {
            from: current.status,
            legal: current.status.legal_moves(),
        });
    }
    Ok(())
}

/// The storage keys of media ids, each a checked file of this request (`originals/<id>/<media
/// id>.<ext>`): an id not uploaded, not yet checked or refused is not among them; more than an
/// entry shows is refused.
pub fn media_keys(request: &ServiceRequest, ids: &[String]) -> Result<Vec<String>, Rejection> {
    if ids.len() > MAX_MEDIA_PER_ENTRY {
        return Err(Rejection::Invalid(
            Invalid::field(
                "media",
                format!(
                    "one update shows at most {MAX_MEDIA_PER_ENTRY} photos or videos; {} were sent",
                    ids.len()
                ),
            )
            .with_code("too_many_files"),
        ));
    }
    let mut keys = Vec::new();
    for media_id in ids {
        let key = request.media.iter().find(|key| {
            key.rsplit('/')
                .next()
                .and_then(|file| file.rsplit_once('.'))
                .is_some_and(|(stem, _)| stem == media_id)
        });
        match key {
            Some(key) if !keys.contains(key) => keys.push(key.clone()),
            Some(_) => {}
            None => {
                return Err(Rejection::Invalid(
                    Invalid::field(
                        "media",
                        format!(
                            "`{}` is not a checked photo or video of request {}: upload it first and wait for it to be checked",
                            short(media_id),
                            request.id
                        ),
                    )
                    .with_code("unknown_media"),
                ))
            }
        }
    }
    Ok(keys)
}

/// What residents read of a status change without a note.
fn status_sentence(from: Status, to: Status, resolution: Option<Resolution>) -> String {
    match (from, to, resolution) {
        (_, Status::InProgress, _) => "Work has started".into(),
        (Status::Closed, Status::Open, _) => "Reopened: the city is looking at it again".into(),
        (Status::InProgress, Status::Open, _) => "Back in the queue".into(),
        (_, Status::Open, _) => "Received by the department".into(),
        (_, Status::Closed, Some(Resolution::Fixed)) => "Fixed".into(),
        (_, Status::Closed, Some(Resolution::NoAction)) => "Closed: no action needed".into(),
        (_, Status::Closed, Some(Resolution::Cancelled)) => "Cancelled".into(),
        (_, Status::Closed, _) => "Closed".into(),
        (_, Status::Archived, _) => "Archived".into(),
        (_, Status::Submitted, _) => "Submitted".into(),
    }
}

/// A name from a request body, cut short for an error message.
fn short(text: &str) -> String {
    cityfix_domain::text::echo(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::StatusCommand;

    #[test]
    fn a_work_command_travels_as_json_and_refuses_unknown_fields() {
        let command = StatusCommand::Work(WorkCommand {
            request_id: TrackingNumber::parse("7K3M9QZ2").unwrap(),
            decision_id: "transition-1".into(),
            by: Actor {
                id: "local:dana.ortiz".into(),
                name: "Dana Ortiz".into(),
                role: "supervisor".into(),
            },
            expected_version: Some(3),
            action: WorkAction::Transition {
                to: Status::Closed,
                resolution: Some(Resolution::Fixed),
                note: Some("Filled".into()),
                public: true,
                media: vec!["m-1".into()],
            },
        });
        let json = serde_json::to_string(&command).unwrap();
        assert_eq!(
            serde_json::from_str::<StatusCommand>(&json).unwrap(),
            command
        );
        let extra = json.replacen("\"decision_id\"", "\"surprise\":1,\"decision_id\"", 1);
        assert!(serde_json::from_str::<StatusCommand>(&extra).is_err());
    }

    #[test]
    fn a_reporter_reopens_only_a_fix_within_the_window() {
        let now = Utc::now();
        let mut request = crate::testing::pothole("7K3M9QZ2");
        request.status = Status::Closed;
        request.resolution = Some(Resolution::Fixed);
        request.closed_at = Some(now - chrono::Duration::days(13));
        assert_eq!(reopen_refused(&request, 14, now), None);
        request.closed_at = Some(now - chrono::Duration::days(15));
        let why = reopen_refused(&request, 14, now).unwrap();
        assert!(why.contains("more than 14 days ago"), "{why}");
        request.closed_at = Some(now);
        request.resolution = Some(Resolution::NoAction);
        let why = reopen_refused(&request, 14, now).unwrap();
        assert!(why.contains("closed as no_action"), "{why}");
        request.status = Status::Open;
        request.resolution = None;
        assert!(reopen_refused(&request, 14, now).is_some());
    }

    #[test]
    fn media_ids_must_name_checked_files_of_the_request() {
        let mut request = crate::testing::pothole("7K3M9QZ2");
        request.media = vec!["originals/7K3M9QZ2/m-1.jpg".into()];
        assert_eq!(
            media_keys(&request, &["m-1".into(), "m-1".into()]).unwrap(),
            vec!["originals/7K3M9QZ2/m-1.jpg".to_string()]
        );
        assert!(media_keys(&request, &["m-2".into()]).is_err());
        assert!(media_keys(&request, &["m".into()]).is_err());
    }

    #[test]
    fn hiding_says_why_tells_nobody_and_refuses_what_already_is() {
        let request = crate::testing::pothole("7K3M9QZ2");
        let worked = hide(&request, true, " abusive words ").unwrap();
        assert!(worked.changed.hidden);
        assert!(!worked.public);
        assert_eq!(worked.kind, TimelineKind::Moderated);
        assert_eq!(
            worked.note.as_deref(),
            Some("Hidden from public view: abusive words")
        );
        assert!(hide(&worked.changed, true, "again").is_err());
        assert!(
            hide(&worked.changed, false, " ").is_err(),
            "a reason is needed"
        );
        let shown = hide(&worked.changed, false, "cleaned up").unwrap();
        assert!(!shown.changed.hidden);
        assert!(hide(&request, false, "never hidden").is_err());
    }

    #[test]
    fn an_edited_description_keeps_the_reporters_words_until_restored() {
        let mut request = crate::testing::pothole("7K3M9QZ2");
        request.description = Some("Big hole, call me on 555-0100".into());
        let first = edit_description(&request, Some("Big hole"), "a phone number").unwrap();
        assert_eq!(first.changed.description.as_deref(), Some("Big hole"));
        assert_eq!(
            first.changed.original_description.as_deref(),
            Some("Big hole, call me on 555-0100")
        );
        assert!(!first.public);
        // A second edit keeps the reporter's words, not the first edit's.
        let second = edit_description(&first.changed, Some("A hole"), "shorter").unwrap();
        assert_eq!(
            second.changed.original_description, request.description,
            "the original stays the reporter's"
        );
        assert!(edit_description(&second.changed, Some("A hole"), "same").is_err());
        assert!(edit_description(&second.changed, Some("  "), "blank").is_err());
        let long = "x".repeat(cityfix_domain::report::MAX_DESCRIPTION_CHARS + 1);
        assert!(edit_description(&second.changed, Some(&long), "long").is_err());
        let restored = edit_description(&second.changed, None, "was fine").unwrap();
        assert_eq!(restored.changed.description, request.description);
        assert_eq!(restored.changed.original_description, None);
        assert!(edit_description(&restored.changed, None, "again").is_err());
    }

    #[test]
    fn a_request_without_a_description_gets_one_and_goes_back_to_none() {
        let request = crate::testing::pothole("7K3M9QZ2");
        let edited = edit_description(&request, Some("Pothole by the school"), "clearer").unwrap();
        assert_eq!(edited.changed.original_description.as_deref(), Some(""));
        let restored = edit_description(&edited.changed, None, "undo").unwrap();
        assert_eq!(restored.changed.description, None);
        assert_eq!(restored.changed.original_description, None);
    }
}
