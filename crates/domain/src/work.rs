//! How the city works a request: priorities, the moves staff may make and what each needs, notes,
//! and the audit record every staff action leaves.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Invalid, Resolution, ServiceRequest, Status, TrackingNumber};

/// Longest note, comment or reason staff or residents may write.
pub const MAX_NOTE_CHARS: usize = 2000;

/// How soon a request should be worked, relative to the rest of its department's queue.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    /// A hazard: worked before anything else.
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    /// Where requests of this priority stand in a department's queue: urgent (0) first.
    pub fn queue_rank(self) -> u8 {
        match self {
            Priority::Urgent => 0,
            Priority::High => 1,
            Priority::Normal => 2,
            Priority::Low => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// Checks a note, comment or reason: trimmed, not blank, at most [`MAX_NOTE_CHARS`], no
/// character a text field may not hold. `field` names it in the refusal.
pub fn checked_note(field: &str, text: &str) -> Result<String, Invalid> {
    crate::report::no_forbidden_char(field, text)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(Invalid::missing(field, format!("{field} is empty")));
    }
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(Invalid::field(
            field,
            format!("{field} is longer than {MAX_NOTE_CHARS} characters"),
        )
        .with_code("too_long"));
    }
    Ok(text.to_string())
}

/// Checks a public description staff write in moderation: as a resident's (at most
/// [`crate::report::MAX_DESCRIPTION_CHARS`], no control characters), trimmed and not blank.
pub fn checked_description(text: &str) -> Result<String, Invalid> {
    use crate::report::MAX_DESCRIPTION_CHARS;
    crate::report::no_forbidden_char("description", text)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(Invalid::missing("description", "description is empty"));
    }
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Invalid::field(
            "description",
            format!("description is longer than {MAX_DESCRIPTION_CHARS} characters"),
        )
        .with_code("too_long"));
    }
    Ok(text.to_string())
}

/// Why a staff move was refused before anything was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveRefused {
    /// Not a move of the status table from where the request stands.
    Illegal { from: Status, legal: Vec<Status> },
    /// The move is legal but its body is not: a missing resolution or note (422).
    Incomplete(Invalid),
}

/// What a refused move tells the caller: where the request stands and where it may go.
pub fn illegal_move_message(id: &TrackingNumber, from: Status, legal: &[Status]) -> String {
    let moves: Vec<&str> = legal.iter().map(|s| s.as_str()).collect();
    if moves.is_empty() {
        format!("request {id} is {from}; it can change no more")
    } else {
        format!(
            "request {id} is {from}; it may become {}",
            moves.join(" or ")
        )
    }
}

/// What a staff transition asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub to: Status,
    pub resolution: Option<Resolution>,
    pub note: Option<String>,
}

impl Status {
    /// Where a request standing here may go next, by the status table.
    pub fn legal_moves(self) -> Vec<Status> {
        Status::ALL
            .into_iter()
            .filter(|to| self.check_transition(*to).is_ok())
            .collect()
    }
}

impl Move {
    /// Checks a staff move against the request as it stands: a move of the status table; closing
    /// takes a resolution staff may give by hand (`fixed`, `no_action` or `cancelled`: a duplicate
    /// is a merge, a referral has its own action), and `no_action` and `cancelled` a note saying
    /// why. A request closed as a duplicate reopens by unmerge, not by a transition.
    pub fn check(&self, request: &ServiceRequest) -> Result<(), MoveRefused> {
        let from = request.status;
        if from.check_transition(self.to).is_err() {
            return Err(MoveRefused::Illegal {
                from,
                legal: from.legal_moves(),
            });
        }
        let incomplete = |field: &str, message: String| {
            Err(MoveRefused::Incomplete(
                Invalid::missing(field, message).with_code("incomplete"),
            ))
        };
        match (self.to, self.resolution) {
            (Status::Closed, None) => incomplete(
                "resolution",
                "closing takes a `resolution`: fixed, no_action or cancelled".into(),
            ),
            (Status::Closed, Some(Resolution::Duplicate)) => incomplete(
                "resolution",
                "a duplicate is closed by merging it: POST …/merge {\"into\"}".into(),
            ),
            (Status::Closed, Some(Resolution::Referred)) => incomplete(
                "resolution",
                "a referral is made with POST …/referral {\"agency\", \"note\"}".into(),
            ),
            (Status::Closed, Some(why @ (Resolution::NoAction | Resolution::Cancelled)))
                if self.note.is_none() =>
            {
                incomplete(
                    "note",
                    format!("closing as {} takes a `note` saying why", why.as_str()),
                )
            }
            (Status::Closed, Some(_)) => Ok(()),
            (_, Some(_)) => incomplete(
                "resolution",
                format!(
                    "only closing takes a resolution, not becoming {}",
                    self.to
                ),
            ),
            (Status::Open, None) if from == Status::Closed && request.duplicate_of.is_some() => {
                incomplete(
                    "to",
                    format!(
                        "request {} is a duplicate of {}; unmerge it to work it on its own",
                        request.id,
                        request.duplicate_of.as_ref().map(|d| d.as_str()).unwrap_or("")
                    ),
                )
            }
            (Status::Open, None) if from == Status::Closed && request.agency.is_some() => {
                incomplete(
                    "to",
                    format!(
                        "request {} was referred to another agency; assign it to a department to take it back",
                        request.id
                    ),
                )
            }
            _ => Ok(()),
        }
    }
}

/// The parts of a request an audit record compares before and after a staff action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditState {
    pub status: Status,
    pub resolution: Option<Resolution>,
    pub department: Option<String>,
    pub assignee: Option<String>,
    pub agency: Option<String>,
    pub priority: Priority,
    pub expected_at: Option<DateTime<Utc>>,
    /// Hidden from public view by moderation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
    pub version: u64,
}

impl AuditState {
    pub fn of(request: &ServiceRequest) -> Self {
        AuditState {
            status: request.status,
            resolution: request.resolution,
            department: request.department.clone(),
            assignee: request.assignee.clone(),
            agency: request.agency.clone(),
            priority: request.priority,
            expected_at: request.expected_at,
            hidden: request.hidden,
            version: request.version,
        }
    }
}

/// One staff action as the audit log keeps it: who, what, when, and the request before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// `<request id>/<timeline event id>`: unique, and the same for a redelivered action.
    pub id: String,
    pub at: DateTime<Utc>,
    /// The staff member's stable id (or the Open311 client's name).
    pub actor: String,
    pub actor_name: String,
    pub role: String,
    /// The action: `transition`, `assignment`, `note`, `priority`, `expected`, `referral`, `merge`…
    pub action: String,
    pub request_id: TrackingNumber,
    pub before: AuditState,
    pub after: AuditState,
    /// The note written with the action, internal ones included.
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Location, ServiceRequest, ValidReport};
    use std::collections::BTreeMap;

    fn request(status: Status) -> ServiceRequest {
        let report = ValidReport {
            service_code: "pothole".into(),
            location: Location::new(41.76, -72.68).unwrap(),
            address: None,
            attributes: BTreeMap::new(),
            description: None,
            contact: Default::default(),
            media_url: None,
        };
        let id = TrackingNumber::parse("7K3M9QZ2").unwrap();
        let mut request = ServiceRequest::submitted(id, &report, "Pothole", "web", Utc::now());
        request.status = status;
        request
    }

    fn refused(
        request: &ServiceRequest,
        to: Status,
        resolution: Option<Resolution>,
    ) -> MoveRefused {
        Move {
            to,
            resolution,
            note: None,
        }
        .check(request)
        .unwrap_err()
    }

    #[test]
    fn an_illegal_move_names_where_the_request_may_go() {
        let refusal = refused(&request(Status::Open), Status::Archived, None);
        assert_eq!(
            refusal,
            MoveRefused::Illegal {
                from: Status::Open,
                legal: vec![Status::InProgress, Status::Closed],
            }
        );
        assert_eq!(Status::Archived.legal_moves(), vec![]);
        assert_eq!(
            Status::Closed.legal_moves(),
            vec![Status::Open, Status::Archived]
        );
    }

    #[test]
    fn closing_takes_a_resolution_staff_may_give_and_a_reason_for_no_action() {
        let open = request(Status::Open);
        for resolution in [
            None,
            Some(Resolution::Duplicate),
            Some(Resolution::Referred),
        ] {
            assert!(matches!(
                refused(&open, Status::Closed, resolution),
                MoveRefused::Incomplete(_)
            ));
        }
        for why in [Resolution::NoAction, Resolution::Cancelled] {
            let MoveRefused::Incomplete(invalid) = refused(&open, Status::Closed, Some(why)) else {
                panic!("closing as {why:?} without a note was taken")
            };
            assert_eq!(invalid.field.as_deref(), Some("note"));
            let with_note = Move {
                to: Status::Closed,
                resolution: Some(why),
                note: Some("Private property".into()),
            };
            assert_eq!(with_note.check(&open), Ok(()));
        }
        let fixed = Move {
            to: Status::Closed,
            resolution: Some(Resolution::Fixed),
            note: None,
        };
        assert_eq!(fixed.check(&open), Ok(()));
        assert!(matches!(
            refused(&open, Status::InProgress, Some(Resolution::Fixed)),
            MoveRefused::Incomplete(_)
        ));
    }

    #[test]
    fn a_duplicate_or_referral_is_not_reopened_by_a_transition() {
        let mut duplicate = request(Status::Closed);
        duplicate.duplicate_of = Some(TrackingNumber::parse("7K3M9QZ3").unwrap());
        assert!(matches!(
            refused(&duplicate, Status::Open, None),
            MoveRefused::Incomplete(_)
        ));
        let mut referred = request(Status::Closed);
        referred.agency = Some("ctdot".into());
        assert!(matches!(
            refused(&referred, Status::Open, None),
            MoveRefused::Incomplete(_)
        ));
        let fixed = request(Status::Closed);
        let reopen = Move {
            to: Status::Open,
            resolution: None,
            note: None,
        };
        assert_eq!(reopen.check(&fixed), Ok(()));
    }

    #[test]
    fn notes_are_trimmed_capped_and_clean() {
        assert_eq!(checked_note("note", "  Filled  ").unwrap(), "Filled");
        assert!(checked_note("note", "   ").is_err());
        assert!(checked_note("note", &"x".repeat(MAX_NOTE_CHARS + 1)).is_err());
        assert!(checked_note("note", "bell\u{7}").is_err());
    }
}
