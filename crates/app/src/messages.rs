//! The messages that travel on the queues between functions (JSON bodies of SQS messages).

use serde::{Deserialize, Serialize};

use crate::ports::{PortResult, Queue, QueueName};

use cityfix_domain::{RoutingDecision, TrackingNumber};

/// On the routing queue: a stored report waiting to be routed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingJob {
    pub request_id: TrackingNumber,
}

/// On the status queue: a change to apply. Status is the only writer of a request's state.
/// `decision_id` names the timeline entry the change writes, so a redelivery is recognised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum StatusCommand {
    /// The router's decision: a department opens the request, an agency closes it as referred.
    Route {
        request_id: TrackingNumber,
        decision_id: String,
        decision: RoutingDecision,
    },
    /// This request reports the same problem as `original`: close it as a duplicate and make its
    /// reporter a follower of the original. From the router, or a staff merge (`by` the staff member).
    LinkDuplicate {
        request_id: TrackingNumber,
        original_id: TrackingNumber,
        decision_id: String,
        #[serde(default)]
        by: Option<String>,
    },
    /// A checked photo or video to add to the request (from the media function). `media_id` names
    /// the timeline entry; `url` is where the public reads it.
    AttachMedia {
        request_id: TrackingNumber,
        media_id: String,
        key: String,
        content_type: String,
        url: String,
    },
    /// An upload the media function refused: the reporter finds `note` (why) on the timeline,
    /// once per media id.
    RefuseMedia {
        request_id: TrackingNumber,
        media_id: String,
        note: String,
    },
    /// A staff action (or an outside system's, through Open311): see [`crate::work`].
    Work(crate::work::WorkCommand),
    /// A staff unmerge: the request is its own problem after all; reopen it.
    Unlink {
        request_id: TrackingNumber,
        decision_id: String,
        #[serde(default)]
        by: Option<String>,
    },
    /// From the scheduler: the request is past its expected date; record the breach (once per
    /// request) and tell the department's supervisors. See [`crate::breach`].
    NoticeBreach { request_id: TrackingNumber },
    /// From the scheduler: the request was closed longer than the city's retention; archive it
    /// and forget its reporter's and followers' contacts. See [`crate::archive`].
    Archive { request_id: TrackingNumber },
}

impl StatusCommand {
    pub fn request_id(&self) -> &TrackingNumber {
        match self {
            StatusCommand::Route { request_id, .. }
            | StatusCommand::LinkDuplicate { request_id, .. }
            | StatusCommand::Unlink { request_id, .. }
            | StatusCommand::AttachMedia { request_id, .. }
            | StatusCommand::RefuseMedia { request_id, .. }
            | StatusCommand::NoticeBreach { request_id }
            | StatusCommand::Archive { request_id } => request_id,
            StatusCommand::Work(command) => &command.request_id,
        }
    }
}

/// What a notification tells people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyKind {
    /// The report was received and routed to a department.
    Acknowledged,
    /// The report is another agency's: the agency gets the report, the reporter gets its contact.
    Referred,
    /// The report was linked to an earlier one of the same problem.
    LinkedAsDuplicate,
    /// Staff unlinked the report: it is worked on its own again.
    Unlinked,
    /// A staff action: what people hear, if anything, follows from its timeline entry.
    Updated,
    /// The request passed its expected date: its department's supervisors are told, nobody else.
    SlaBreached,
    /// An address asked to follow the request: it gets the link that confirms (the follower's key
    /// ends the event id). See [`crate::follow`].
    FollowAsked,
    /// A follower confirmed: they are told they follow it now.
    FollowConfirmed,
    /// A fix came of age: its reporter is asked "Has it been fixed?" (the closing, in seconds,
    /// ends the event id). See [`crate::survey`].
    SurveyDue,
    /// Staff answered a resident's question: the answer goes to them by e-mail, once. The event's
    /// `request_id` is then the question's tracking number, not a request's.
    InformationAnswered,
}

/// On the notify queue: one event per change, to be turned into messages for the people concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyEvent {
    /// Unique across the city: `<request id>/<timeline event id>`.
    pub event_id: String,
    pub request_id: TrackingNumber,
    pub kind: NotifyKind,
}

/// Sends status one command per request (the scheduler's jobs: breach notices, archiving), in as
/// few calls as the queue allows; gives how many were sent.
pub async fn queue_for_status(
    queue: &dyn Queue,
    requests: Vec<TrackingNumber>,
    command: impl Fn(TrackingNumber) -> StatusCommand,
) -> PortResult<usize> {
    let bodies: Vec<String> = requests
        .into_iter()
        .map(|request_id| {
            serde_json::to_string(&command(request_id)).expect("a status command always serialises")
        })
        .collect();
    queue.send_batch(QueueName::Status, &bodies).await?;
    Ok(bodies.len())
}
