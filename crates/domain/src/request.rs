//! A service request as the city works it, and the public timeline of what happened to it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AttributeValue, Location, Priority, Resolution, Status, TrackingNumber, ValidReport};

/// The channel of reports sent from the city's own web client.
pub const WEB_CHANNEL: &str = "web";

/// The channel of reports e-mailed to the city (`cityfix intake-email`, the SES receipt rule).
pub const EMAIL_CHANNEL: &str = "email";

/// The public record of a report. Holds no personal data: the reporter's contact lives apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRequest {
    pub id: TrackingNumber,
    pub service_code: String,
    pub service_name: String,
    pub status: Status,
    pub resolution: Option<Resolution>,
    /// The latest public note about progress (Open311 `status_notes`).
    pub status_notes: Option<String>,
    pub description: Option<String>,
    pub location: Location,
    pub address: Option<String>,
    pub attributes: BTreeMap<String, AttributeValue>,
    pub media_url: Option<String>,
    /// Checked photos and videos (media storage keys under `originals/`), in the order they came.
    #[serde(default)]
    pub media: Vec<String>,
    /// Those of `media` staff keep private (a face, a licence plate): shown to staff only, never in
    /// a public response, the Open311 output, an export or a message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub private_media: Vec<String>,
    /// Department id the request was routed to.
    pub department: Option<String>,
    /// Outside agency id it was referred to, when it is not the city's to fix.
    #[serde(default)]
    pub agency: Option<String>,
    /// Who works it, by name (Open311 `agency_responsible`).
    pub agency_responsible: Option<String>,
    /// The area of each city layer the point is in (layer id → area name).
    #[serde(default)]
    pub areas: BTreeMap<String, String>,
    /// Why routing decided as it did, for staff.
    #[serde(default)]
    pub routing_reason: Option<String>,
    /// The request this one was linked to as a duplicate.
    #[serde(default)]
    pub duplicate_of: Option<TrackingNumber>,
    /// The asset it is about (a streetlight's pole), named by the reporter or the nearest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<crate::AssetRef>,
    /// The person in the department who works it (a member id of departments.toml).
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub priority: Priority,
    /// When the city expects to have it done (Open311 `expected_datetime`).
    #[serde(default)]
    pub expected_at: Option<DateTime<Utc>>,
    /// When it was last closed; `None` while it is being worked.
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    /// The backlogs whose notice this request got (ids), while they stand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backlogs: Vec<String>,
    /// How many people said "me too", each counted once (never who).
    #[serde(default)]
    pub supporters: u32,
    /// When its department's supervisors were told it passed `expected_at` (once per request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breach_noticed_at: Option<DateTime<Utc>>,
    /// Staff hid it from public view (moderation): no public list, read, map, feed or webhook
    /// shows it; staff still read and work it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
    /// The reporter's own description, kept for staff while moderation shows the public an edited
    /// one in `description`; `None` while the description is the reporter's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_description: Option<String>,
    /// How many reports are linked to it as duplicates now (a link adds one, an unmerge takes it
    /// back): the queue shows it, and "has duplicates" lists the requests where it is not zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duplicates: u32,
    /// How many times it was worked again after being closed (a "not fixed", a staff move out of
    /// closed; an unmerge is not a reopening): "reopened" in the queue.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reopened: u32,
    /// Where it came from: "web", or the name of the Open311 client.
    pub channel: String,
    pub requested_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped on every change; writes carry the version they read (optimistic concurrency).
    pub version: u64,
}

fn is_zero(count: &u32) -> bool {
    *count == 0
}

/// What kind of thing a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    Submitted,
    Routed,
    Referred,
    Duplicate,
    StatusChanged,
    Note,
    /// A photo or video was added.
    Media,
    /// Moved to another department or person.
    Assigned,
    Prioritised,
    /// The expected date changed.
    Rescheduled,
    /// The reporter wrote on their report.
    Comment,
    /// Someone said "me too" (internal: the count is public, the entries are not).
    Supported,
    /// A backlog covers it: a new expected date and a notice of the delay.
    Backlog,
    /// The backlog that covered it was lifted.
    BacklogLifted,
    /// It passed its expected date while being worked, and the supervisors were told (internal).
    SlaBreached,
    /// Staff hid or showed it again, or edited or restored its public description (internal).
    Moderated,
}

/// One line of a request's history. Internal entries are for staff only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// Unique per request; a redelivered change carries the same id, which is how it is recognised.
    pub event_id: String,
    pub at: DateTime<Utc>,
    pub kind: TimelineKind,
    pub status: Option<Status>,
    pub note: Option<String>,
    pub public: bool,
    /// The staff member who made the change (their stable id); never shown publicly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// A note for staff only, written with a public change (why it was moved, the crew's remark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_note: Option<String>,
    /// Checked photos and videos shown with the entry (media storage keys of the request's media).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<String>,
}

impl ServiceRequest {
    /// Most photos and videos one request holds. Stores refuse a write that adds one to a request
    /// holding this many, so uploads checked together cannot pass it.
    pub const MAX_MEDIA: usize = 10;

    /// A freshly submitted request, before any routing.
    pub fn submitted(
        id: TrackingNumber,
        report: &ValidReport,
        service_name: &str,
        channel: &str,
        now: DateTime<Utc>,
    ) -> Self {
        ServiceRequest {
            id,
            service_code: report.service_code.clone(),
            service_name: service_name.to_string(),
            status: Status::Submitted,
            resolution: None,
            status_notes: None,
            description: report.description.clone(),
            location: report.location,
            address: report.address.clone(),
            attributes: report.attributes.clone(),
            // Our own link once a photo is attached; a client's `media_url` is fetched, never shown.
            media_url: None,
            media: Vec::new(),
            private_media: Vec::new(),
            department: None,
            agency: None,
            agency_responsible: None,
            areas: BTreeMap::new(),
            routing_reason: None,
            duplicate_of: None,
            asset: None,
            assignee: None,
            priority: Priority::Normal,
            expected_at: None,
            closed_at: None,
            backlogs: Vec::new(),
            supporters: 0,
            breach_noticed_at: None,
            hidden: false,
            original_description: None,
            duplicates: 0,
            reopened: 0,
            channel: channel.to_string(),
            requested_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// Whether moving it to `to` works it again after a closing: from closed back to being
    /// worked, unless it was closed as a duplicate (an unmerge frees it; nothing was reopened).
    pub fn reopens_on(&self, to: Status) -> bool {
        self.status == Status::Closed
            && matches!(to, Status::Open | Status::InProgress)
            && self.resolution != Some(Resolution::Duplicate)
    }

    /// Whether `key` is one of this request's media that anyone may see: attached and not kept
    /// private by staff.
    pub fn shows_media(&self, key: &str) -> bool {
        self.media.iter().any(|k| k == key) && !self.keeps_private(key)
    }

    /// Whether staff keep `key` from the public: what a timeline entry shows is filtered by this.
    pub fn keeps_private(&self, key: &str) -> bool {
        self.private_media.iter().any(|k| k == key)
    }

    /// The media anyone may see, in the order they came: every public output reads these.
    pub fn public_media(&self) -> impl Iterator<Item = &String> {
        self.media.iter().filter(|key| self.shows_media(key))
    }

    /// Where the report is, in words if the reporter gave an address.
    pub fn place(&self) -> String {
        match &self.address {
            Some(address) => address.clone(),
            None => format!("{:.5}, {:.5}", self.location.lat(), self.location.long()),
        }
    }
}

impl TimelineEntry {
    pub fn submitted(at: DateTime<Utc>) -> Self {
        TimelineEntry {
            event_id: "submitted".into(),
            at,
            kind: TimelineKind::Submitted,
            status: Some(Status::Submitted),
            note: Some("Report received".into()),
            public: true,
            actor: None,
            internal_note: None,
            media: Vec::new(),
        }
    }
}
