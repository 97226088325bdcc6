//! The messages that travel on the queues between functions (JSON bodies of SQS messages).

use serde::{Deserialize, Serialize};

use crate::domain::{RoutingDecision, TrackingNumber};

/// On the routing queue: a stored report waiting to be routed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingJob {
    pub request_id: TrackingNumber,
}

/// On the status queue: a change to apply. Status is the only writer of a request's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum StatusCommand {
    /// The router's decision; applying it opens the request.
    Route {
        request_id: TrackingNumber,
        /// The id of the timeline entry this decision writes, so a redelivery is recognised.
        decision_id: String,
        decision: RoutingDecision,
    },
}

/// What a notification tells people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyKind {
    /// The report was received and routed.
    Acknowledged,
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
