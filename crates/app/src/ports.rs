//! The ports: what the use cases need from the world, one coarse trait per kind of thing.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use cityfix_domain::backlog::Backlog;
use cityfix_domain::expected::Fixed;
use cityfix_domain::metrics::{MetricsKey, Tally};
use cityfix_domain::{
    AuditRecord, Contact, Location, ServiceRequest, Status, TimelineEntry, TrackingNumber,
};

/// Failures of a store, queue or messenger.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum PortError {
    /// The item already exists (a tracking number drawn twice, an idempotency key in use).
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The item changed since it was read; read again and retry.
    #[error("changed since it was read: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// The backing service failed; the operation may be retried.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The storage takes no writes at all (its disk is full, its folder read-only): nothing was
    /// written, and the same call succeeds once an operator gives it room again. Reads still work.
    #[error("cannot write: {0}")]
    CannotWrite(String),
}

pub type PortResult<T> = Result<T, PortError>;

/// An Idempotency-Key and the fingerprint of the body first sent with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    pub key: String,
    pub fingerprint: String,
    pub expires_at: DateTime<Utc>,
}

/// The filters of the audit log: entries from `from` up to `to`, of one request or one actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    pub request: Option<TrackingNumber>,
    pub actor: Option<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// At most this many, oldest first.
    pub limit: u32,
}

/// Everything written when a report is accepted, in one all-or-nothing write.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub request: ServiceRequest,
    pub reporter: Option<Contact>,
    pub token: String,
    pub first_entry: TimelineEntry,
    pub idempotency: Option<IdempotencyClaim>,
}

/// What creating a request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New,
    /// The idempotency key was already used: the request it made, that body's fingerprint, and
    /// the reporter's token it was given (so a client whose first answer was lost can still add
    /// photos); `None` for a key remembered before tokens were kept with it.
    Replayed {
        id: TrackingNumber,
        fingerprint: String,
        token: Option<String>,
    },
}

/// Someone who gets a request's updates: because they reported the same problem (`via` their own
/// report), or because they asked to follow it (`via` the request itself) and confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Follower {
    /// Stands for the person and the report they came through; never the address itself.
    pub key: String,
    pub contact: Contact,
    pub via: TrackingNumber,
    /// When they asked to follow, while they have not confirmed yet: until then they get nothing
    /// but the confirmation. `None` for an active follower.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_at: Option<DateTime<Utc>>,
    /// How they came to follow when it was not by their own ask through the site or the API:
    /// `phone` for a caller a call-taker added. `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

impl Follower {
    pub fn new(contact: Contact, via: TrackingNumber) -> Self {
        let who = contact
            .email
            .clone()
            .or_else(|| contact.phone.clone())
            .unwrap_or_default();
        let key = cityfix_domain::recipient_hash(&format!("{who}/{via}"));
        Follower {
            key,
            contact,
            via,
            asked_at: None,
            channel: None,
        }
    }

    /// Someone who asked to follow request `id` at `at`, not yet confirmed.
    pub fn asking(contact: Contact, id: TrackingNumber, at: DateTime<Utc>) -> Self {
        Follower {
            asked_at: Some(at),
            ..Follower::new(contact, id)
        }
    }

    /// Whether they get the request's news (they confirmed, or came through their own report).
    pub fn is_active(&self) -> bool {
        self.asked_at.is_none()
    }
}

/// A reporter's answer to "Has it been fixed?" about one closing of their request, kept for the
/// metrics (how often a fix holds, by service). Nothing personal: the request, its service, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyAnswer {
    pub request_id: TrackingNumber,
    pub service_code: String,
    /// The closing asked about (`ServiceRequest::closed_since`).
    pub closed_at: DateTime<Utc>,
    /// True for "yes, fixed".
    pub fixed: bool,
    pub answered_at: DateTime<Utc>,
}

/// What the send record of one message says when notify is about to send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendClaim {
    /// This caller may send it now.
    Claimed,
    /// It went out before.
    Sent,
    /// Another attempt is sending it (its lease has not run out).
    InFlight,
}

/// A circle to search in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Near {
    pub location: Location,
    pub radius_m: f64,
}

/// The filters of a request search (Open311 GET requests, and staff lists later).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestQuery {
    pub ids: Vec<TrackingNumber>,
    pub service_codes: Vec<String>,
    pub statuses: Vec<Status>,
    pub requested_from: Option<DateTime<Utc>>,
    pub requested_to: Option<DateTime<Utc>>,
    /// Only requests last changed at or after this time (`ServiceRequest::updated_at`): Open311
    /// `updated_after`, and the updates feed, whose entries of a window all lie on requests
    /// changed since its start.
    pub updated_from: Option<DateTime<Utc>>,
    /// Only requests last changed at or before this time (Open311 `updated_before`).
    pub updated_to: Option<DateTime<Utc>>,
    /// Requests of these services are left out (confidential services, on public lists).
    pub without_service_codes: Vec<String>,
    /// Requests staff hid from public view (`ServiceRequest::hidden`) are left out: every public
    /// list sets this.
    pub without_hidden: bool,
    /// Only requests within this circle.
    pub near: Option<Near>,
    /// 1-based.
    pub page: u32,
    pub page_size: u32,
}

/// What a department's queue may be narrowed to, each from its own sparse index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueMark {
    /// Reports are linked to it as duplicates (`ServiceRequest::duplicates` above zero).
    HasDuplicates,
    /// It was worked again after a closing (`ServiceRequest::reopened` above zero).
    Reopened,
}

impl QueueMark {
    pub const ALL: [QueueMark; 2] = [QueueMark::HasDuplicates, QueueMark::Reopened];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueMark::HasDuplicates => "has_duplicates",
            QueueMark::Reopened => "reopened",
        }
    }

    pub fn parse(text: &str) -> Option<QueueMark> {
        QueueMark::ALL
            .into_iter()
            .find(|mark| mark.as_str() == text)
    }

    /// Whether `request` bears the mark.
    pub fn marks(self, request: &ServiceRequest) -> bool {
        match self {
            QueueMark::HasDuplicates => request.duplicates > 0,
            QueueMark::Reopened => request.reopened > 0,
        }
    }
}

/// One page of a department's work queue, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuePage {
    pub requests: Vec<ServiceRequest>,
    /// Where the next page starts (pass it back as `after`); `None` on the last page. Opaque.
    pub next: Option<String>,
}

impl QueuePage {
    /// A page of `limit` from up to `limit + 1` rows read in order: the extra row only tells that
    /// another page follows, which starts after this page's last row (its `cursor`).
    pub fn from_rows<T>(
        mut rows: Vec<T>,
        limit: u32,
        cursor: impl Fn(&T) -> String,
        request: impl Fn(T) -> PortResult<ServiceRequest>,
    ) -> PortResult<Self> {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = rows.last().filter(|_| more).map(cursor);
        Ok(QueuePage {
            requests: rows.into_iter().map(request).collect::<PortResult<_>>()?,
            next,
        })
    }
}

/// Where [`RequestStore::requests_made`] goes on after `request`: `<requested at>#<id>`, the
/// time in RFC 3339 UTC with microseconds, so text order is time order on every adapter.
pub fn made_cursor(request: &ServiceRequest) -> String {
    format!(
        "{}#{}",
        request
            .requested_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        request.id
    )
}

/// The time and tracking number of a [`made_cursor`], or `NotFound` naming what was given.
pub fn parse_made_cursor(cursor: &str) -> PortResult<(DateTime<Utc>, TrackingNumber)> {
    let shown: String = cursor.chars().take(60).collect();
    let refused = || PortError::NotFound(format!("`{shown}` is not a cursor of requests made"));
    let (at, id) = cursor.split_once('#').ok_or_else(refused)?;
    let at = DateTime::parse_from_rfc3339(at).map_err(|_| refused())?;
    let id = TrackingNumber::parse(id).map_err(|_| refused())?;
    Ok((at.with_timezone(&Utc), id))
}

/// Requests stored, with their private reporter contact, timelines and delivery ledger.
#[async_trait::async_trait]
pub trait RequestStore: Send + Sync {
    /// Writes a new request, its reporter, token, first timeline entry and idempotency key
    /// together. `AlreadyExists` if the tracking number is taken; `Replayed` if the key was used.
    async fn create(&self, new: &NewRequest) -> PortResult<Created>;

    async fn get(&self, id: &TrackingNumber) -> PortResult<Option<ServiceRequest>>;

    /// The reporter's contact. Only notification paths may call this.
    async fn reporter(&self, id: &TrackingNumber) -> PortResult<Option<Contact>>;

    /// The request an Open311 token stands for.
    async fn find_token(&self, token: &str) -> PortResult<Option<TrackingNumber>>;

    /// Saves a changed request if it is still at `expected_version` and appends its timeline
    /// entry, both or neither. `Conflict` if someone else changed it first, or if the write would
    /// add a file to a stored request that holds `ServiceRequest::MAX_MEDIA` (the count is part of
    /// the write's condition).
    async fn update(
        &self,
        request: &ServiceRequest,
        expected_version: u64,
        entry: &TimelineEntry,
    ) -> PortResult<()> {
        self.update_audited(request, expected_version, entry, None)
            .await
    }

    /// [`RequestStore::update`], writing also the audit record of the staff action that made the
    /// change: the request, its entry and its audit record, all or nothing.
    async fn update_audited(
        &self,
        request: &ServiceRequest,
        expected_version: u64,
        entry: &TimelineEntry,
        audit: Option<&AuditRecord>,
    ) -> PortResult<()>;

    /// The audit log, oldest first: at most `limit` records from `from` to `to` (inclusive).
    async fn audit(&self, query: &AuditQuery) -> PortResult<Vec<AuditRecord>>;

    /// Claims an idempotency key for an action on `request_id`: `None` when it is claimed now
    /// (never used, or its earlier use expired), else the fingerprint it was first claimed with.
    async fn claim_key(
        &self,
        claim: &IdempotencyClaim,
        request_id: &TrackingNumber,
        now: DateTime<Utc>,
    ) -> PortResult<Option<String>>;

    /// The timeline, oldest first, internal entries included.
    async fn timeline(&self, id: &TrackingNumber) -> PortResult<Vec<TimelineEntry>>;

    /// Requests matching the query, newest first; with `near`, only those within the circle.
    async fn search(&self, query: &RequestQuery) -> PortResult<Vec<ServiceRequest>>;

    /// Every request about this asset (a streetlight's pole), whatever its status, newest first:
    /// how the router finds an earlier report of the same asset wherever its point was put.
    async fn requests_about_asset(
        &self,
        asset: &cityfix_domain::AssetRef,
    ) -> PortResult<Vec<ServiceRequest>>;

    /// Adds a follower to a request; adding the same one again changes nothing.
    async fn add_follower(&self, id: &TrackingNumber, follower: &Follower) -> PortResult<()>;

    /// Removes the followers who came through request `via`.
    async fn remove_followers_via(
        &self,
        id: &TrackingNumber,
        via: &TrackingNumber,
    ) -> PortResult<()>;

    /// The followers of a request, those not confirmed yet included. Only notification paths
    /// may call this.
    async fn followers(&self, id: &TrackingNumber) -> PortResult<Vec<Follower>>;

    /// Makes the follower `key` of a request active (they confirmed). False when there is no
    /// such follower; confirming again changes nothing.
    async fn confirm_follower(&self, id: &TrackingNumber, key: &str) -> PortResult<bool>;

    /// Removes the follower `key` of a request (they stopped following). False when there was
    /// no such follower.
    async fn remove_follower(&self, id: &TrackingNumber, key: &str) -> PortResult<bool>;

    /// Requests still `submitted` since before `before`: reports whose routing job was lost.
    async fn stuck_submitted(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<TrackingNumber>>;

    /// A department's requests in one status, oldest first, `limit` at a time from `after`.
    async fn department_queue(
        &self,
        department: &str,
        status: Status,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<QueuePage>;

    /// [`RequestStore::department_queue`] narrowed to the requests bearing `mark`, in the same
    /// order and with cursors of the same form, read from an index of the marked requests alone
    /// (sparse), never the table: true of the whole queue, not of one page.
    async fn marked_queue(
        &self,
        department: &str,
        status: Status,
        mark: QueueMark,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<QueuePage>;

    /// Requests open or in progress whose `expected_at` is before `before` and whose supervisors
    /// were not told yet (`breach_noticed_at` unset), earliest due first, at most `limit`. A
    /// request noticed is never found again, so each run reads only the new breaches.
    async fn overdue(&self, before: DateTime<Utc>, limit: u32) -> PortResult<Vec<TrackingNumber>>;

    /// Requests made from `from` up to `to` (excluded), oldest first (by `requested_at`, then
    /// id), `limit` at a time from `after` (a page's `next`, or [`made_cursor`] of a request
    /// already read): the open-data exports read a year a page at a time in constant memory.
    /// Hidden and confidential requests are included; callers leave them out. `NotFound` for an
    /// `after` that is not such a cursor.
    async fn requests_made(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<QueuePage>;

    /// Requests `closed` (not archived) since before `before` (`closed_at`, or their last change
    /// if they were closed before `closed_at` was kept), longest closed first, at most `limit`.
    async fn closed_before(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<TrackingNumber>>;

    /// Requests `closed` (not archived) from `from` up to `to` (excluded), by `closed_since`,
    /// earliest first, at most `limit`: the fixes old enough to ask about.
    async fn closed_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<TrackingNumber>>;

    /// Keeps a survey answer: one per request and closing, the latest answer replacing an earlier.
    async fn record_survey_answer(&self, answer: &SurveyAnswer) -> PortResult<()>;

    /// The survey answers about closings from `from` to `to` (inclusive), earliest closing first,
    /// at most `limit`.
    async fn survey_answers(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<SurveyAnswer>>;

    /// Deletes the personal data kept about a request: its reporter's contact and its followers
    /// (with their contacts). The request, its timeline and its audit records stay. Forgetting
    /// again, or a request without any, changes nothing.
    async fn forget_contacts(&self, id: &TrackingNumber) -> PortResult<()>;

    /// Claims the right to send one message; false if it was claimed before (already sent).
    async fn claim_delivery(&self, key: &str, at: DateTime<Utc>) -> PortResult<bool>;

    /// Gives a claim back after a send failed, so a retry may send.
    async fn release_delivery(&self, key: &str) -> PortResult<()>;

    /// Records that one message is about to be sent, by a conditional write: `Claimed` when
    /// nobody sent it and nobody holds it (or the attempt that held it died: its lease ran out),
    /// and the caller then holds it until `lease_until`; `Sent` when it went out before;
    /// `InFlight` while another attempt holds it. See docs/messages.md, "Crash windows".
    async fn begin_send(
        &self,
        key: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> PortResult<SendClaim>;

    /// The message held by `begin_send` went out: it is never sent again.
    async fn finish_send(&self, key: &str, at: DateTime<Utc>) -> PortResult<()>;

    /// The send failed: the message is free to be sent by a retry. A message already sent stays sent.
    async fn abandon_send(&self, key: &str) -> PortResult<()>;

    /// Turns `channel` off for `recipient` (a recipient key from
    /// [`crate::preferences::recipient_key`], never an address), or on again. Repeating either
    /// changes nothing.
    async fn set_channel_off(
        &self,
        recipient: &str,
        channel: &str,
        off: bool,
        at: DateTime<Utc>,
    ) -> PortResult<()>;

    /// Whether `recipient` turned `channel` off.
    async fn channel_off(&self, recipient: &str, channel: &str) -> PortResult<bool>;

    /// Saves a registered device; saving the same again changes nothing.
    async fn save_device(&self, device: &Device) -> PortResult<()>;

    /// The device registered with this id. Only the device and notification paths may call this.
    async fn device(&self, id: &str) -> PortResult<Option<Device>>;

    /// Saves a resident's question no answer met; saving the same id again changes nothing.
    async fn save_information_request(&self, asked: &InformationRequest) -> PortResult<()>;

    /// The question asked under this tracking number. Only the paths that answer it may call this.
    async fn information_request(
        &self,
        id: &TrackingNumber,
    ) -> PortResult<Option<InformationRequest>>;

    /// Questions not answered yet, oldest first, `limit` from after the cursor `after` (from an
    /// earlier page's `next`). Read from an index of the unanswered ones, never the whole table.
    async fn unanswered_information_requests(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<InformationPage>;

    /// Records the answer to a question, which leaves the unanswered ones. `Ok(true)` when
    /// recorded now, `Ok(false)` when this very answer (`answer_id`) was recorded before (a
    /// retry); `Conflict` when it was answered otherwise, `NotFound` when there is no question.
    async fn answer_information_request(
        &self,
        id: &TrackingNumber,
        answer: &InformationAnswer,
    ) -> PortResult<bool>;

    /// Saves a backlog, new or changed (lifted).
    async fn save_backlog(&self, backlog: &Backlog) -> PortResult<()>;

    /// Every backlog declared, lifted ones included, oldest first.
    async fn backlogs(&self) -> PortResult<Vec<Backlog>>;

    /// Records a request of `service_code` fixed, for honest expected dates; recording the same
    /// request and closing time again changes nothing.
    async fn record_fix(&self, service_code: &str, fixed: &Fixed) -> PortResult<()>;

    /// The fixes of a service recorded since `since`, newest first, at most `limit`.
    async fn fixes(
        &self,
        service_code: &str,
        since: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<Fixed>>;
}

/// The metrics' counters (`crate::metrics`): rows of [`Tally`] per day × service × department ×
/// area × channel, kept apart from requests and added to once per counted event.
#[async_trait::async_trait]
pub trait MetricsStore: Send + Sync {
    /// Adds each tally to its row, all or nothing, and remembers `event_id`: `Ok(false)` and no
    /// change when that event was counted before (a redelivery).
    async fn count(&self, event_id: &str, tallies: &[(MetricsKey, Tally)]) -> PortResult<bool>;

    /// Every row of the days from `from` to `to` (both included), in key order.
    async fn tallies(&self, from: NaiveDate, to: NaiveDate)
        -> PortResult<Vec<(MetricsKey, Tally)>>;

    /// Records a rising-concern flag unless one of its service × area × week is held: `Ok(false)`
    /// and no change then (the scheduler finds the same jump again every run of the week).
    async fn raise(&self, flag: &cityfix_domain::rising::RisingFlag) -> PortResult<bool>;

    /// The flags of the weeks from the one starting `since_week` (a Monday) on, in order of week,
    /// service and area.
    async fn flags(
        &self,
        since_week: NaiveDate,
    ) -> PortResult<Vec<cityfix_domain::rising::RisingFlag>>;
}

/// The queues that chain the functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueName {
    Routing,
    Status,
    Notify,
    /// Photos to fetch from a client's `media_url` (see [`crate::fetch`]).
    Media,
    /// Deliveries to the city's webhooks (see [`crate::webhooks`]).
    Webhooks,
}

impl QueueName {
    pub const ALL: [QueueName; 5] = [
        QueueName::Routing,
        QueueName::Status,
        QueueName::Notify,
        QueueName::Media,
        QueueName::Webhooks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Routing => "routing",
            QueueName::Status => "status",
            QueueName::Notify => "notify",
            QueueName::Media => "media",
            QueueName::Webhooks => "webhooks",
        }
    }
}

/// Sends messages to the next function.
#[async_trait::async_trait]
pub trait Queue: Send + Sync {
    async fn send(&self, queue: QueueName, body: &str) -> PortResult<()>;

    /// Sends many messages, in as few calls as the queue allows. All are sent, or an error says
    /// which were not; sending again is safe, since every consumer is idempotent.
    async fn send_batch(&self, queue: QueueName, bodies: &[String]) -> PortResult<()> {
        for body in bodies {
            self.send(queue, body).await?;
        }
        Ok(())
    }

    /// Sends a message that no consumer sees before `delay` has passed (at most 15 minutes, as
    /// SQS's `DelaySeconds`; longer is cut to that).
    async fn send_delayed(
        &self,
        queue: QueueName,
        body: &str,
        delay: std::time::Duration,
    ) -> PortResult<()>;
}

/// The longest delay [`Queue::send_delayed`] gives.
pub const MAX_SEND_DELAY: std::time::Duration = std::time::Duration::from_secs(900);

/// A message handed to a consumer, to be deleted by its receipt once handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
    pub sent_at_ms: i64,
}

/// Takes messages off a queue the way Lambda's event source mapping does; used by the local
/// runner, which plays that part. Queue names may also be dead-letter queues (`<name>-dlq`).
#[async_trait::async_trait]
pub trait QueueConsumer: Send + Sync {
    /// Up to `max` visible messages, each then hidden for the visibility timeout. A message
    /// received the maximum number of times moves to the dead-letter queue instead.
    async fn receive(&self, queue: &str, max: usize) -> PortResult<Vec<ReceivedMessage>>;

    /// Deletes a handled message. Whether a receipt from before a redelivery still deletes it
    /// differs between adapters (SQS may, the embedded queue does not); never rely on either.
    async fn delete(&self, queue: &str, receipt_handle: &str) -> PortResult<()>;

    /// Deletes the handled messages of one batch, in as few calls as the backend allows. A failure
    /// leaves the rest to be redelivered, which idempotent handlers take in their stride.
    async fn delete_handled(&self, queue: &str, receipt_handles: &[String]) -> PortResult<()> {
        for receipt in receipt_handles {
            self.delete(queue, receipt).await?;
        }
        Ok(())
    }

    /// Messages in the queue, visible or not.
    async fn depth(&self, queue: &str) -> PortResult<u64>;

    /// Waits until a message may have arrived or `timeout` passed.
    async fn wait_for_arrival(&self, timeout: std::time::Duration);
}

/// A message a queue gave up on after its receive limit, in its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: String,
    /// The queue it was sent to (`notify` for `notify-dlq`), where a redrive puts it back.
    pub queue: String,
    pub body: String,
    /// When it was first sent, in milliseconds since 1970.
    pub sent_at_ms: i64,
}

/// The operator's view of the dead-letter queues (`cityfix dlq list|redrive`): what the chain
/// gave up on, and putting it back once the fault that stopped it is mended.
#[async_trait::async_trait]
pub trait DeadLetters: Send + Sync {
    /// The messages in the dead-letter queues of `queues`, oldest first, at most `limit`. Listing
    /// leaves them where they are.
    async fn dead_letters(&self, queues: &[QueueName], limit: usize)
        -> PortResult<Vec<DeadLetter>>;

    /// Moves every message of `queue`'s dead-letter queue back to `queue`, to be handled afresh;
    /// how many moved.
    async fn redrive(&self, queue: QueueName) -> PortResult<usize>;
}

/// A form a browser posts one file with, straight to media storage: every field, then the file
/// as the last field, named `file`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UploadForm {
    pub url: String,
    /// In the order they must be sent.
    pub fields: Vec<(String, String)>,
}

/// What media storage knows of a stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub size: u64,
    pub content_type: Option<String>,
}

/// Photos and videos: uploaded by browsers with a signed form, read back through signed links.
#[async_trait::async_trait]
pub trait MediaStore: Send + Sync {
    /// A form that lets a browser store one file of exactly `content_type`, of 1 to `max_bytes`
    /// bytes, at `key`, until `expires_in` has passed. Storage refuses anything else.
    async fn upload_form(
        &self,
        key: &str,
        content_type: &str,
        max_bytes: u64,
        expires_in: std::time::Duration,
    ) -> PortResult<UploadForm>;

    /// A link that reads `key` until `expires_in` has passed.
    async fn download_url(&self, key: &str, expires_in: std::time::Duration) -> PortResult<String>;

    /// The size and type of `key`, or `None` when there is no such file.
    async fn head(&self, key: &str) -> PortResult<Option<StoredFile>>;

    /// The bytes of `key`; `NotFound` when there is no such file.
    async fn get(&self, key: &str) -> PortResult<Vec<u8>>;

    /// Stores a new file at `key`. A stored file is never replaced: `AlreadyExists` if `key`
    /// holds one, so a checked photo already shown cannot be swapped by a second upload.
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> PortResult<()>;

    /// Deletes `key`; deleting a missing file is not an error.
    async fn delete(&self, key: &str) -> PortResult<()>;

    /// The keys of the files under `prefix` (a folder, ending in `/`), in key order, at most
    /// `limit`: for the few small records kept beside media (upload slots), never a bucket's photos.
    async fn keys(&self, prefix: &str, limit: usize) -> PortResult<Vec<String>>;
}

/// Turns typed addresses into points and points into the nearest address.
#[async_trait::async_trait]
pub trait Geocoder: Send + Sync {
    async fn locate(&self, typed: &str) -> PortResult<cityfix_domain::Lookup>;

    /// The nearest known address and how far it is, in metres.
    async fn nearest_address(&self, location: Location) -> PortResult<Option<(String, f64)>>;
}

/// An e-mail ready to send, with plain-text and HTML parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Stable per event × recipient × channel, so a resend can be recognised.
    pub dedupe_key: String,
    /// The one-click unsubscribe address (RFC 8058): sent as `List-Unsubscribe` with
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
    pub list_unsubscribe: Option<String>,
}

/// A text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMessage {
    pub to: String,
    pub body: String,
    pub dedupe_key: String,
}

#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    async fn send_email(&self, email: &Email) -> PortResult<()>;
}

#[async_trait::async_trait]
pub trait SmsSender: Send + Sync {
    async fn send_sms(&self, message: &TextMessage) -> PortResult<()>;
}

/// A message to a resident's phone app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushMessage {
    pub title: String,
    pub body: String,
    /// The request the app opens.
    pub request_id: String,
    pub dedupe_key: String,
}

/// The push service a phone app is reached through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Apple Push Notification service (iPhone).
    Apns,
    /// Firebase Cloud Messaging (Android).
    Fcm,
}

impl Platform {
    pub fn parse(name: &str) -> Option<Platform> {
        match name {
            "apns" => Some(Platform::Apns),
            "fcm" => Some(Platform::Fcm),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Apns => "apns",
            Platform::Fcm => "fcm",
        }
    }
}

/// A resident's phone app, registered for push: reports carry its `id` (`device_id`), and
/// notify pushes to its `endpoint`. Personal data: never in a public response or a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub platform: Platform,
    /// Where push reaches it: an SNS platform endpoint ARN on AWS, an outbox address locally.
    pub endpoint: String,
    pub registered_at: DateTime<Utc>,
}

/// A question a resident sent because no answer of the city's met it: staff answer it by e-mail,
/// and it has a tracking number of its own. The e-mail is personal data: never in a public
/// response or a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InformationRequest {
    pub id: TrackingNumber,
    pub question: String,
    pub email: String,
    /// The language to answer in.
    pub language: cityfix_domain::Language,
    pub asked_at: DateTime<Utc>,
    /// Staff's answer, once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<InformationAnswer>,
}

/// Staff's answer to an information request: what was written, by whom and when. The e-mail it
/// goes out in is sent once by notify (`NotifyKind::InformationAnswered`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InformationAnswer {
    /// Unique per answer given (from the staff action's Idempotency-Key): a retry is recognised.
    pub answer_id: String,
    pub text: String,
    /// The staff member's id (`sub`) and name.
    pub by: String,
    pub by_name: String,
    pub at: DateTime<Utc>,
}

impl InformationAnswer {
    /// What answering a question already answered with `self` comes to: no change for a retry of
    /// the same answer, `Conflict` for another (two staff members answered at once).
    pub fn answered_again(
        &self,
        id: &TrackingNumber,
        answer: &InformationAnswer,
    ) -> PortResult<bool> {
        if self.answer_id == answer.answer_id {
            return Ok(false);
        }
        Err(PortError::Conflict(format!(
            "question {id} was answered by {} at {}",
            self.by_name,
            self.at.to_rfc3339()
        )))
    }
}

/// One page of the questions not answered yet, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct InformationPage {
    pub asked: Vec<InformationRequest>,
    /// Where the next page starts (pass it back as `after`); `None` on the last page. Opaque.
    pub next: Option<String>,
}

/// Registers phone apps with the push service (SNS platform applications on AWS).
#[async_trait::async_trait]
pub trait DeviceRegistry: Send + Sync {
    /// The address push reaches the app with this token at; registering the same token again
    /// gives the same address. `NotFound` when the city does not push to that platform.
    async fn register(&self, platform: Platform, token: &str) -> PortResult<String>;
}

/// Mobile push (APNs or FCM, through SNS on AWS).
#[async_trait::async_trait]
pub trait PushSender: Send + Sync {
    /// Sends to the device with this push token, or to the endpoint a [`DeviceRegistry`] gave.
    /// A device that can no longer be reached (the app was removed) is not an error: retrying
    /// would not reach it either.
    async fn push(&self, device_token: &str, message: &PushMessage) -> PortResult<()>;
}

/// Publishes to a topic that others subscribe to (operators, the city's other systems).
#[async_trait::async_trait]
pub trait TopicPublisher: Send + Sync {
    async fn publish(&self, topic: &str, subject: &str, body: &str) -> PortResult<()>;
}

/// The time, injectable so tests can hold it still.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Fresh identifiers: tracking numbers, tokens, event ids.
pub trait Ids: Send + Sync {
    fn tracking_number(&self) -> TrackingNumber;
    fn token(&self) -> String;
}

/// Identifiers from the operating system's random source.
pub struct RandomIds;

impl Ids for RandomIds {
    fn tracking_number(&self) -> TrackingNumber {
        TrackingNumber::random(&mut rand::thread_rng())
    }

    fn token(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}
