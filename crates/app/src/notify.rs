//! Notifying people: turn an event into messages, each sent once per event × recipient × channel.

use std::sync::Arc;

use chrono::Duration;

use crate::follow::{follow_subject, follower_of};
use crate::letters::{
    self, AgencyView, AnswerLinks, Fact, Letter, Particulars, Rendered, Signature,
};
use crate::links::{LinkSigner, Purpose, CONFIRM_FOLLOW_HOURS, UNSUBSCRIBE_DAYS};
use crate::messages::{NotifyEvent, NotifyKind};
use crate::ports::{
    Clock, Email, Follower, Mailer, PortError, PushMessage, PushSender, Queue, QueueName,
    RequestStore, SendClaim, SmsSender, TextMessage,
};
use crate::preferences::recipient_key;
use crate::survey::{answer_token, still_due};
use crate::updates::listed_publicly;
use crate::webhooks::{event_name, WebhookJob};
use crate::AppError;
use cityfix_domain::{
    recipient_hash, City, Contact, Language, ServiceRequest, Status, TimelineEntry, TimelineKind,
    TrackingNumber,
};

/// Where messages come from and where they point residents to.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// The resident site's address, for tracking links (no trailing slash).
    pub public_url: String,
    /// The sender of e-mail, e.g. `Hartford 311 <311@hartford.example>`.
    pub mail_from: String,
    /// Signs the unsubscribe links (intake checks them with the same secret).
    pub links: LinkSigner,
    /// How long one attempt holds a message it is sending: [`SEND_LEASE`], or less where the
    /// notify queue gives a message back sooner ([`send_lease_for`]).
    pub send_lease: Duration,
}

/// What the notify function needs.
#[derive(Clone)]
pub struct NotifyDeps {
    pub city: Arc<City>,
    pub store: Arc<dyn RequestStore>,
    pub mailer: Arc<dyn Mailer>,
    pub sms: Arc<dyn SmsSender>,
    pub push: Arc<dyn PushSender>,
    /// Where deliveries to the city's webhooks are queued.
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub settings: NotifySettings,
    /// The metrics' counters, which every event's change is counted on (`crate::metrics`).
    pub metrics: Arc<dyn crate::ports::MetricsStore>,
}

/// What notifying did: how many messages went out now, how many had gone out before, and how
/// many were not sent because their recipient turned that channel off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notified {
    pub sent: usize,
    pub already_sent: usize,
    pub turned_off: usize,
    /// Deliveries queued for the city's webhooks.
    pub webhooks: usize,
}

/// Channels a message goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
    /// `to` is then the device's push token.
    Push,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }

    pub fn parse(name: &str) -> Option<Channel> {
        match name {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            "push" => Some(Channel::Push),
            _ => None,
        }
    }
}

/// Who a letter is for: how to greet them, in which language, and through which of their reports.
#[derive(Debug, Clone)]
struct Reader {
    name: Option<String>,
    language: Language,
    via: Option<TrackingNumber>,
}

impl Reader {
    fn of(contact: &Contact, via: Option<TrackingNumber>) -> Self {
        Reader {
            name: contact.greeting_name().map(str::to_string),
            language: contact.language.unwrap_or_default(),
            via,
        }
    }
}

/// One message for one recipient on one channel.
#[derive(Clone)]
struct Outgoing {
    to: String,
    channel: Channel,
    rendered: Rendered,
    /// The signed link that turns this channel off for this recipient (residents only).
    unsubscribe: Option<String>,
}

/// How long one attempt holds a message it is sending. Longer than the notify function may run
/// (its Lambda timeout, 10 s), so a live attempt is never overtaken; shorter than the notify
/// queue's visibility timeout (60 s), so the redelivery of an attempt that died finds the lease
/// run out and sends.
pub const SEND_LEASE: Duration = Duration::seconds(30);

/// The lease for a notify queue that gives a message back `visibility` after it was taken:
/// [`SEND_LEASE`], or half of `visibility` when that is shorter. A lease that outlived the
/// visibility timeout would make every redelivery after a crash find the message still held and
/// fail, until the queue's receive limit sent the event (an acknowledgement) to the dead-letter
/// queue unsent: the crash proof (functions/local/tests/crash.rs) found exactly that with a 2 s
/// timeout. Half leaves the attempt that holds it time to finish before a redelivery.
pub fn send_lease_for(visibility: std::time::Duration) -> Duration {
    let half = Duration::milliseconds((visibility.as_millis() / 2).min(i64::MAX as u128) as i64);
    half.min(SEND_LEASE)
}

/// Sends the messages this event calls for. Each message has a send record (a conditional
/// write): begun before the send, finished after it, so a redelivered event sends nothing that
/// went out; a failed send gives its record back and fails the event, so the redelivery tries it
/// again; a message another attempt holds fails the event too, to be tried once that attempt is
/// done or its lease has run out. What each crash window does: docs/messages.md.
pub async fn notify(deps: &NotifyDeps, event: &NotifyEvent) -> Result<Notified, AppError> {
    if event.kind == NotifyKind::InformationAnswered {
        return answer_question(deps, event).await;
    }
    let request = deps.store.get(&event.request_id).await?.ok_or_else(|| {
        AppError::Impossible(format!("request {} does not exist", event.request_id))
    })?;
    // The request and its timeline are read once for the count, the letters and the webhooks
    // (notify runs on every event).
    let timeline = if reads_timeline(event.kind) {
        deps.store.timeline(&request.id).await?
    } else {
        Vec::new()
    };
    crate::metrics::count_event(
        &deps.city,
        deps.metrics.as_ref(),
        event,
        &request,
        &timeline,
    )
    .await?;
    let reporter = match event.kind {
        // Told to staff, or to one follower: the reporter's contact is not read.
        NotifyKind::SlaBreached | NotifyKind::FollowAsked | NotifyKind::FollowConfirmed => None,
        _ => deps.store.reporter(&request.id).await?,
    };
    let compose = Compose {
        city: &deps.city,
        settings: &deps.settings,
        request: &request,
        now: deps.clock.now(),
    };
    let mut outgoing = Vec::new();
    if event.kind == NotifyKind::SlaBreached {
        outgoing.extend(compose.to_supervisors()?);
    } else if event.kind == NotifyKind::Updated {
        outgoing.extend(updates(deps, &compose, event, &timeline, reporter.as_ref()).await?);
    } else if matches!(
        event.kind,
        NotifyKind::FollowAsked | NotifyKind::FollowConfirmed
    ) {
        outgoing.extend(to_follower(deps, &compose, event).await?);
    } else if event.kind == NotifyKind::SurveyDue {
        // Reopened or closed again since it was queued: the question is about nothing any more.
        if let Some(contact) = reporter.as_ref().filter(|_| still_due(&request, event)) {
            outgoing.extend(compose.addressed(Letter::Survey, contact, None, None, None)?);
        }
    } else if let Some(contact) = &reporter {
        if let Some(letter) = reporter_letter(event.kind) {
            outgoing.extend(compose.addressed(letter, contact, None, None, None)?);
        }
    }
    if event.kind == NotifyKind::Referred {
        outgoing.extend(compose.to_agency()?);
    }
    let mut notified = Notified::default();
    let mut failure: Option<PortError> = None;
    for message in outgoing {
        if message.unsubscribe.is_some()
            && deps
                .store
                .channel_off(
                    &recipient_key(message.channel, &message.to, deps.city.country_calling_code),
                    message.channel.as_str(),
                )
                .await?
        {
            notified.turned_off += 1;
            continue;
        }
        let dedupe_key = format!(
            "{}/{}/{}",
            event.event_id,
            message.channel.as_str(),
            recipient_hash(&message.to)
        );
        let sending = send(deps, &message, &dedupe_key, request.id.as_str());
        match once(deps, &dedupe_key, sending).await {
            Ok(true) => notified.sent += 1,
            Ok(false) => notified.already_sent += 1,
            Err(error) => failure = Some(error),
        }
    }
    for job in webhook_jobs(deps, event, &request, &timeline)? {
        let key = format!("{}/webhook/{}", event.event_id, job.webhook);
        let body = serde_json::to_string(&job).expect("a webhook job always serialises");
        match once(deps, &key, deps.queue.send(QueueName::Webhooks, &body)).await {
            Ok(true) => notified.webhooks += 1,
            Ok(false) => {}
            Err(error) => failure = Some(error),
        }
    }
    match failure {
        Some(error) => Err(error.into()),
        None => Ok(notified),
    }
}

/// Sends staff's answer to a resident's question to the address they gave, once across
/// redeliveries (the same send record as every message). A question not answered yet is an
/// error, so the event is tried again; there is no unsubscribe link, since they asked for it.
async fn answer_question(deps: &NotifyDeps, event: &NotifyEvent) -> Result<Notified, AppError> {
    let asked = deps
        .store
        .information_request(&event.request_id)
        .await?
        .ok_or_else(|| {
            AppError::Impossible(format!("question {} does not exist", event.request_id))
        })?;
    let answer = asked.answered.as_ref().ok_or_else(|| {
        AppError::Impossible(format!("question {} is not answered yet", asked.id))
    })?;
    let public_url = deps.settings.public_url.trim_end_matches('/');
    let particulars = Particulars {
        city: Signature::of(&deps.city),
        id: asked.id.to_string(),
        service: String::new(),
        place: String::new(),
        who: String::new(),
        via: None,
        note: Some(answer.text.clone()),
        note_short: None,
        photos: Vec::new(),
        resolution: None,
        expected: None,
        original: Some(asked.question.clone()),
        original_link: None,
        agency: None,
        late: None,
        confirm_link: None,
        answer_links: None,
        status: None,
        assignee: None,
        member: None,
        track_link: format!("{public_url}/"),
        staff_link: None,
        facts: Vec::new(),
    };
    let rendered = letters::render(
        Letter::InformationAnswer,
        asked.language,
        &particulars,
        None,
        None,
    )
    .map_err(|e| AppError::Impossible(e.to_string()))?;
    let dedupe_key = format!(
        "{}/{}/{}",
        event.event_id,
        Channel::Email.as_str(),
        recipient_hash(&asked.email)
    );
    let email = Email {
        to: asked.email.clone(),
        from: deps.settings.mail_from.clone(),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        dedupe_key: dedupe_key.clone(),
        list_unsubscribe: None,
    };
    let mut notified = Notified::default();
    if once(deps, &dedupe_key, deps.mailer.send_email(&email)).await? {
        notified.sent += 1;
    } else {
        notified.already_sent += 1;
    }
    Ok(notified)
}

/// Tells the supervisors of a rising concern (`crate::rising`), once each across redeliveries
/// (the same send records as every message): every supervisor with an e-mail address of each
/// department this week's requests went to, or, when they went to none the city knows (an outside
/// agency's), of the department its service routes to by default. Staff-only: no resident is
/// named in it, as the counters hold nobody.
pub async fn notify_rising(
    deps: &NotifyDeps,
    notice: &crate::rising::RisingNotice,
) -> Result<Notified, AppError> {
    let flag = &notice.rising_concern;
    let city = &deps.city;
    let service = city.service(&flag.service);
    let service_name = service.map_or(flag.service.clone(), |s| s.name.clone());
    let mut departments: Vec<&cityfix_domain::Department> = notice
        .departments
        .iter()
        .filter_map(|id| city.department(id))
        .collect();
    if departments.is_empty() {
        departments.extend(
            service
                .map(|s| s.department.as_str())
                .and_then(|id| city.department(id)),
        );
    }
    let place = if flag.area.is_empty() {
        "no particular area".to_string()
    } else {
        flag.area.clone()
    };
    let public_url = deps.settings.public_url.trim_end_matches('/');
    let note = format!(
        "{} in the seven days from {} to {}, where the eight weeks before had {:.1} a week.",
        flag.count, flag.from, flag.to, flag.usual
    );
    let mut notified = Notified::default();
    let mut failure: Option<PortError> = None;
    let mut told = std::collections::HashSet::new();
    for department in departments {
        for member in department.members.iter().filter(|m| m.supervisor) {
            let Some(email) = member.email.clone() else {
                continue;
            };
            if !told.insert(email.clone()) {
                continue;
            }
            let particulars = Particulars {
                city: Signature::of(city),
                id: String::new(),
                service: service_name.clone(),
                place: place.clone(),
                who: department.name.clone(),
                via: None,
                note: Some(note.clone()),
                note_short: None,
                photos: Vec::new(),
                resolution: None,
                expected: None,
                original: None,
                original_link: None,
                agency: None,
                late: None,
                confirm_link: None,
                answer_links: None,
                status: None,
                assignee: None,
                member: Some(member.name.clone()),
                track_link: format!("{public_url}/"),
                staff_link: Some(format!("{public_url}/admin/metrics")),
                facts: vec![
                    Fact::new("this_week", flag.count.to_string()),
                    Fact::new("usual_week", format!("{:.1}", flag.usual)),
                ],
            };
            let rendered = letters::render(
                Letter::RisingConcern,
                Language::En,
                &particulars,
                None,
                None,
            )
            .map_err(|e| AppError::Impossible(e.to_string()))?;
            let dedupe_key = format!(
                "{}/{}/{}",
                notice.event_id(),
                Channel::Email.as_str(),
                recipient_hash(&email)
            );
            let message = Outgoing {
                to: email,
                channel: Channel::Email,
                rendered,
                unsubscribe: None,
            };
            let sending = send(deps, &message, &dedupe_key, "");
            match once(deps, &dedupe_key, sending).await {
                Ok(true) => notified.sent += 1,
                Ok(false) => notified.already_sent += 1,
                Err(error) => failure = Some(error),
            }
        }
    }
    match failure {
        Some(error) => Err(error.into()),
        None => Ok(notified),
    }
}

/// Does `sending` once for `key` across redeliveries and crashes (see docs/messages.md): true when
/// it was done now, false when an earlier attempt had done it. Another attempt holding the key,
/// or `sending` failing, is an error, and the key is free again for the redelivery.
async fn once(
    deps: &NotifyDeps,
    key: &str,
    sending: impl std::future::Future<Output = Result<(), PortError>>,
) -> Result<bool, PortError> {
    let now = deps.clock.now();
    match deps
        .store
        .begin_send(key, now, now + deps.settings.send_lease)
        .await?
    {
        SendClaim::Claimed => {}
        SendClaim::Sent => return Ok(false),
        SendClaim::InFlight => {
            return Err(PortError::Conflict(format!(
                "{key} is being sent by another attempt"
            )))
        }
    }
    if let Err(error) = sending.await {
        again_on_failure(|| deps.store.abandon_send(key)).await?;
        return Err(error);
    }
    again_on_failure(|| deps.store.finish_send(key, deps.clock.now())).await?;
    Ok(true)
}

/// Further tries of a send record's closing write when the store fails.
const RECORD_RETRIES: usize = 2;

/// Closes a send record (`finish_send`, `abandon_send`), trying again at once if the store
/// fails (the SDK and SQLite wait on their own where waiting helps): both writes may be done
/// twice, and one left undone holds the message for the lease, so every redelivery until then
/// fails as "being sent by another attempt" (under the faults proof, four such receives sent a
/// healthy event to the dead-letter queue).
async fn again_on_failure<F, Fut>(write: F) -> Result<(), PortError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), PortError>>,
{
    let mut result = write().await;
    for _ in 0..RECORD_RETRIES {
        if !matches!(result, Err(PortError::Unavailable(_))) {
            break;
        }
        result = write().await;
    }
    result
}

/// The deliveries an event makes to the city's webhooks: its public moments only, of requests
/// the public may see, to each webhook that asked for that event.
fn webhook_jobs(
    deps: &NotifyDeps,
    event: &NotifyEvent,
    request: &ServiceRequest,
    timeline: &[TimelineEntry],
) -> Result<Vec<WebhookJob>, AppError> {
    if deps.city.webhooks.is_empty() || !listed_publicly(&deps.city, request) {
        return Ok(Vec::new());
    }
    let letter = match event.kind {
        NotifyKind::SlaBreached => Some(Letter::SlaBreach),
        NotifyKind::Updated => {
            let entry = timeline_entry(event, timeline)?;
            update_letter(entry).filter(|_| entry.public)
        }
        kind => reporter_letter(kind),
    };
    let Some(name) = letter.and_then(event_name) else {
        return Ok(Vec::new());
    };
    let now = deps.clock.now();
    Ok(deps
        .city
        .webhooks
        .iter()
        .filter(|webhook| webhook.wants(name))
        .map(|webhook| WebhookJob::new(&webhook.name, &event.event_id, name, &request.id, now))
        .collect())
}

/// Whether notify reads the request's timeline for an event of this kind: to count the change
/// (the entry's status and the one before it), and for an `Updated` event, the entry told.
fn reads_timeline(kind: NotifyKind) -> bool {
    crate::metrics::counts(kind)
}

/// The timeline entry an `Updated` event was queued for.
fn timeline_entry<'a>(
    event: &NotifyEvent,
    timeline: &'a [TimelineEntry],
) -> Result<&'a TimelineEntry, AppError> {
    let entry_id = event
        .event_id
        .strip_prefix(&format!("{}/", event.request_id))
        .unwrap_or(&event.event_id);
    timeline
        .iter()
        .find(|entry| entry.event_id == entry_id)
        .ok_or_else(|| {
            AppError::Impossible(format!(
                "request {} has no timeline entry {entry_id}",
                event.request_id
            ))
        })
}

/// The letter the reporter gets for an event of their own report; `None` for events told from a
/// timeline entry (`updates`) or to staff.
fn reporter_letter(kind: NotifyKind) -> Option<Letter> {
    match kind {
        NotifyKind::Acknowledged => Some(Letter::Received),
        NotifyKind::Referred => Some(Letter::Referred),
        NotifyKind::LinkedAsDuplicate => Some(Letter::Duplicate),
        NotifyKind::Unlinked => Some(Letter::Unlinked),
        NotifyKind::Updated
        | NotifyKind::SlaBreached
        | NotifyKind::FollowAsked
        | NotifyKind::FollowConfirmed
        | NotifyKind::SurveyDue
        | NotifyKind::InformationAnswered => None,
    }
}

/// The letter of a follow event for the one follower it names: the confirmation link while they
/// are still asking, the "you are following" letter once they confirmed. A follower gone (they
/// stopped, the contacts were forgotten) or in the other state gets nothing.
async fn to_follower(
    deps: &NotifyDeps,
    compose: &Compose<'_>,
    event: &NotifyEvent,
) -> Result<Vec<Outgoing>, AppError> {
    let key = follower_of(event);
    let followers = deps.store.followers(&event.request_id).await?;
    let Some(follower) = followers.iter().find(|f| f.key == key) else {
        return Ok(Vec::new());
    };
    let letter = match (event.kind, follower.is_active()) {
        (NotifyKind::FollowAsked, false) => Letter::FollowAsk,
        (NotifyKind::FollowConfirmed, true) => Letter::FollowConfirmed,
        _ => return Ok(Vec::new()),
    };
    compose.addressed(letter, &follower.contact, None, None, Some(follower))
}

/// The letter a public timeline entry written by staff (or an outside system) calls for; `None`
/// for an entry nobody is told of.
fn update_letter(entry: &TimelineEntry) -> Option<Letter> {
    match (entry.kind, entry.status) {
        (TimelineKind::StatusChanged, Some(Status::Closed)) => Some(Letter::Closed),
        (TimelineKind::StatusChanged, Some(Status::InProgress)) => Some(Letter::InProgress),
        (TimelineKind::StatusChanged, Some(Status::Open)) => Some(Letter::Reopened),
        // The reporter wrote it; nobody is told of their own words.
        (TimelineKind::Comment | TimelineKind::Supported | TimelineKind::BacklogLifted, _) => None,
        (TimelineKind::Note, _) => Some(Letter::Note),
        (TimelineKind::Backlog, _) => Some(Letter::Backlog),
        (TimelineKind::Rescheduled, _) => Some(Letter::Rescheduled),
        (TimelineKind::Assigned, _) => Some(Letter::Assigned),
        _ => None,
    }
}

/// The messages of a staff action: its public timeline entry, told to the reporter and to
/// everyone who follows the request, each address once. An internal entry, or one nobody needs to
/// hear of, sends nothing.
async fn updates(
    deps: &NotifyDeps,
    compose: &Compose<'_>,
    event: &NotifyEvent,
    timeline: &[TimelineEntry],
    reporter: Option<&Contact>,
) -> Result<Vec<Outgoing>, AppError> {
    let entry = timeline_entry(event, timeline)?;
    let Some(letter) = update_letter(entry).filter(|_| entry.public) else {
        return Ok(Vec::new());
    };
    let mut people: Vec<(Contact, Option<&Follower>)> = Vec::new();
    if let Some(contact) = reporter {
        people.push((contact.clone(), None));
    }
    let followers = deps.store.followers(&event.request_id).await?;
    for follower in followers.iter().filter(|f| f.is_active()) {
        people.push((follower.contact.clone(), Some(follower)));
    }
    let mut outgoing: Vec<Outgoing> = Vec::new();
    for (contact, follower) in people {
        // Someone who asked to follow this very request came through no report of their own.
        let via = follower
            .map(|f| f.via.clone())
            .filter(|via| via != &event.request_id);
        for addressed in compose.addressed(letter, &contact, via, Some(entry), follower)? {
            if !outgoing
                .iter()
                .any(|o| o.channel == addressed.channel && o.to == addressed.to)
            {
                outgoing.push(addressed);
            }
        }
    }
    Ok(outgoing)
}

async fn send(
    deps: &NotifyDeps,
    message: &Outgoing,
    dedupe_key: &str,
    request_id: &str,
) -> Result<(), PortError> {
    let rendered = &message.rendered;
    match message.channel {
        Channel::Push => {
            // A registered device is pushed to at its endpoint; an app that sent its push token
            // as its device id (before devices were registered) is pushed to by the token.
            let address = match deps.store.device(&message.to).await? {
                Some(device) => device.endpoint,
                None => message.to.clone(),
            };
            deps.push
                .push(
                    &address,
                    &PushMessage {
                        title: rendered.subject.clone(),
                        body: rendered.short.clone(),
                        request_id: request_id.to_string(),
                        dedupe_key: dedupe_key.to_string(),
                    },
                )
                .await
        }
        Channel::Sms => {
            deps.sms
                .send_sms(&TextMessage {
                    to: message.to.clone(),
                    body: rendered.short.clone(),
                    dedupe_key: dedupe_key.to_string(),
                })
                .await
        }
        Channel::Email => {
            deps.mailer
                .send_email(&Email {
                    to: message.to.clone(),
                    from: deps.settings.mail_from.clone(),
                    subject: rendered.subject.clone(),
                    text: rendered.text.clone(),
                    html: rendered.html.clone(),
                    dedupe_key: dedupe_key.to_string(),
                    list_unsubscribe: message.unsubscribe.clone(),
                })
                .await
        }
    }
}

/// Where the signed link that turns `channel` off for `address` points.
pub fn unsubscribe_link(
    settings: &NotifySettings,
    city: &City,
    channel: Channel,
    address: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let token = settings.links.sign(
        Purpose::Unsubscribe,
        &recipient_key(channel, address, city.country_calling_code),
        now + Duration::days(UNSUBSCRIBE_DAYS),
    );
    format!("{}/api/v1/unsubscribe?t={token}", settings.public_url)
}

/// Where the signed link that ends `follower`'s following of request `id` points: the unsubscribe
/// of every letter a follower gets about it.
pub fn unfollow_link(
    settings: &NotifySettings,
    id: &TrackingNumber,
    follower: &Follower,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    follow_link(
        settings,
        Purpose::Unfollow,
        id,
        follower,
        now + Duration::days(UNSUBSCRIBE_DAYS),
    )
}

/// Where the signed link that confirms `follower`'s ask to follow request `id` points.
pub fn confirm_follow_link(
    settings: &NotifySettings,
    id: &TrackingNumber,
    follower: &Follower,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    follow_link(
        settings,
        Purpose::ConfirmFollow,
        id,
        follower,
        now + Duration::hours(CONFIRM_FOLLOW_HOURS),
    )
}

fn follow_link(
    settings: &NotifySettings,
    purpose: Purpose,
    id: &TrackingNumber,
    follower: &Follower,
    expires: chrono::DateTime<chrono::Utc>,
) -> String {
    let token = settings
        .links
        .sign(purpose, &follow_subject(id, &follower.key), expires);
    let page = match purpose {
        Purpose::ConfirmFollow => "follow",
        _ => "unsubscribe",
    };
    format!("{}/api/v1/{page}?t={token}", settings.public_url)
}

/// Writes the messages of one request's event.
struct Compose<'a> {
    city: &'a City,
    settings: &'a NotifySettings,
    request: &'a ServiceRequest,
    now: chrono::DateTime<chrono::Utc>,
}

impl Compose<'_> {
    fn link(&self, id: &str) -> String {
        format!("{}/#/requests/{id}", self.settings.public_url)
    }

    /// Where the reader follows this request: its public page, or for a confidential report
    /// (which has none) the page that reads it by the reporter's key.
    fn track_link(&self) -> String {
        let confidential = self
            .city
            .service(&self.request.service_code)
            .is_some_and(|service| service.confidential);
        match confidential {
            true => format!("{}/#/confidential/follow", self.settings.public_url),
            false => self.link(self.request.id.as_str()),
        }
    }

    fn map_link(&self) -> String {
        let (lat, long) = (self.request.location.lat(), self.request.location.long());
        format!(
            "https://www.openstreetmap.org/?mlat={lat:.6}&mlon={long:.6}#map=18/{lat:.6}/{long:.6}"
        )
    }

    /// Where staff open a request (the staff site's view of it).
    fn staff_link(&self) -> String {
        format!(
            "{}/staff/#/requests/{}",
            self.settings.public_url, self.request.id
        )
    }

    fn local_time(&self, at: chrono::DateTime<chrono::Utc>, language: Language) -> String {
        let local = at.with_timezone(&self.city.timezone);
        match language {
            Language::En => local.format("%A %-d %B %Y, %H:%M %Z").to_string(),
            Language::Es => local.format("%-d/%m/%Y, %H:%M %Z").to_string(),
        }
    }

    /// Everything a letter about this request may say, for a reader of `language`; `entry` is the
    /// timeline entry an update is about.
    fn particulars(
        &self,
        language: Language,
        via: Option<&TrackingNumber>,
        entry: Option<&TimelineEntry>,
    ) -> Particulars {
        let request = self.request;
        let who = request
            .agency_responsible
            .clone()
            .or_else(|| {
                let department = self.city.department(request.department.as_deref()?)?;
                Some(department.name.clone())
            })
            .unwrap_or_else(|| match language {
                Language::En => "the right department".into(),
                Language::Es => "el departamento indicado".into(),
            });
        let agency = request
            .agency
            .as_deref()
            .and_then(|id| self.city.agency(id))
            .map(|a| AgencyView {
                name: a.name.clone(),
                phone: a.phone.clone(),
                website: a.website.clone(),
            });
        let photos: Vec<String> = entry
            .map(|e| e.media.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|key| !request.keeps_private(key))
            .filter_map(|key| crate::media::media_link(&self.settings.public_url, &request.id, key))
            .collect();
        let original = request.duplicate_of.as_ref().map(|id| id.to_string());
        // The service's name in the reader's language where services.toml translates it.
        let service = self
            .city
            .service(&request.service_code)
            .map(|service| service.name_in(language.tag()).to_string())
            .unwrap_or_else(|| request.service_name.clone());
        let note = entry
            .and_then(|e| e.note.clone())
            .filter(|n| !n.trim().is_empty());
        Particulars {
            city: Signature::of(self.city),
            id: request.id.to_string(),
            service: service.clone(),
            place: request.place(),
            who,
            via: via.map(|v| v.to_string()),
            note_short: note.as_deref().map(|n| {
                let mut short: String = n.chars().take(100).collect();
                if short.len() < n.len() {
                    short.push('…');
                }
                short
            }),
            note,
            photos,
            resolution: request.resolution.map(|r| r.as_str().to_string()),
            expected: request.expected_at.map(|at| self.local_time(at, language)),
            original_link: original.as_deref().map(|id| self.link(id)),
            original,
            agency,
            late: None,
            confirm_link: None,
            answer_links: None,
            status: Some(request.status.to_string()),
            assignee: None,
            member: None,
            track_link: self.track_link(),
            staff_link: None,
            facts: vec![
                Fact::new("tracking", request.id.to_string()),
                Fact::new("what", service),
                Fact::new("where", request.place()),
            ],
        }
    }

    /// `letter` for `contact` on each channel they are reached by: e-mail, else text; and push
    /// too when they reported from the app. Each carries its own unsubscribe link: for a
    /// `follower`, the link that ends their following of this request (an ask to follow, not
    /// confirmed yet, carries the channel's, so a stranger signed up can block it, and the link
    /// that confirms).
    fn addressed(
        &self,
        letter: Letter,
        contact: &Contact,
        via: Option<TrackingNumber>,
        entry: Option<&TimelineEntry>,
        follower: Option<&Follower>,
    ) -> Result<Vec<Outgoing>, AppError> {
        let mut channels = Vec::new();
        match (&contact.email, &contact.phone) {
            (Some(email), _) => channels.push((Channel::Email, email.clone())),
            (None, Some(phone)) => channels.push((Channel::Sms, phone.clone())),
            (None, None) => {}
        }
        if let Some(device) = contact.device_id.as_ref().filter(|d| !d.trim().is_empty()) {
            channels.push((Channel::Push, device.clone()));
        }
        let reader = Reader::of(contact, via);
        let mut particulars = self.particulars(reader.language, reader.via.as_ref(), entry);
        if let Some(asking) = follower.filter(|f| !f.is_active()) {
            let link = confirm_follow_link(self.settings, &self.request.id, asking, self.now);
            particulars.facts.push(Fact::link("confirm", link.clone()));
            particulars.confirm_link = Some(link);
        }
        if letter == Letter::Survey {
            let links = &self.settings.links;
            let rules = &self.city.residents;
            let link = |fixed| {
                answer_token(links, rules, self.request, fixed)
                    .map(|t| format!("{}/api/v1/survey?t={t}", self.settings.public_url))
            };
            if let (Some(fixed), Some(not_fixed)) = (link(true), link(false)) {
                particulars
                    .facts
                    .push(Fact::link("answer_fixed", fixed.clone()));
                particulars
                    .facts
                    .push(Fact::link("answer_not_fixed", not_fixed.clone()));
                particulars.answer_links = Some(AnswerLinks { fixed, not_fixed });
            }
        }
        self.facts_of(letter, &mut particulars);
        channels
            .into_iter()
            .map(|(channel, to)| {
                let unsubscribe = match follower.filter(|f| f.is_active()) {
                    Some(follower) => {
                        unfollow_link(self.settings, &self.request.id, follower, self.now)
                    }
                    None => unsubscribe_link(self.settings, self.city, channel, &to, self.now),
                };
                let rendered = letters::render(
                    letter,
                    reader.language,
                    &particulars,
                    reader.name.as_deref(),
                    Some(&unsubscribe),
                )
                .map_err(|e| AppError::Impossible(e.to_string()))?;
                Ok(Outgoing {
                    to,
                    channel,
                    rendered,
                    unsubscribe: Some(unsubscribe),
                })
            })
            .collect()
    }

    /// The rows a resident's letter adds to the facts table.
    fn facts_of(&self, letter: Letter, particulars: &mut Particulars) {
        let facts = &mut particulars.facts;
        match letter {
            Letter::Received => facts.push(Fact::new("sent_to", particulars.who.clone())),
            Letter::Referred => {
                if let Some(agency) = &particulars.agency {
                    facts.push(Fact::new("responsible", agency.name.clone()));
                    facts.push(Fact::new("their_phone", agency.phone.clone()));
                    facts.push(Fact::link("their_website", agency.website.clone()));
                }
            }
            Letter::Duplicate => {
                if let Some(original) = &particulars.original {
                    facts.push(Fact::new("same_as", original.clone()));
                }
            }
            Letter::Rescheduled | Letter::Backlog => {
                if let Some(expected) = &particulars.expected {
                    facts.push(Fact::new("expected", expected.clone()));
                }
            }
            _ => {}
        }
    }

    /// The breach notice, one for each supervisor of the request's department who has an e-mail
    /// address: which request, where, how late, and the link to it in the staff view. How late
    /// is counted to when the breach was noticed, so a resent notice says the same.
    fn to_supervisors(&self) -> Result<Vec<Outgoing>, AppError> {
        let request = self.request;
        let Some(department) = request
            .department
            .as_deref()
            .and_then(|id| self.city.department(id))
        else {
            tracing::warn!(request_id = %request.id, "a breach of a request without a known department: nobody to tell");
            return Ok(Vec::new());
        };
        let (Some(expected), Some(noticed)) = (request.expected_at, request.breach_noticed_at)
        else {
            return Ok(Vec::new());
        };
        let late = cityfix_domain::lateness_in_words(noticed - expected);
        let assignee = request
            .assignee
            .as_deref()
            .map(|id| department.member(id).map_or(id, |m| m.name.as_str()))
            .unwrap_or("nobody yet");
        let mut particulars = self.particulars(Language::En, None, None);
        particulars.who = department.name.clone();
        particulars.expected = Some(self.local_time(expected, Language::En));
        particulars.late = Some(late.clone());
        particulars.assignee = Some(assignee.to_string());
        particulars.staff_link = Some(self.staff_link());
        particulars.facts.extend([
            Fact::new("expected", self.local_time(expected, Language::En)),
            Fact::new("late_by", late),
            Fact::new("status", request.status.to_string()),
            Fact::new("assigned_to", assignee),
            Fact::link("staff_view", self.staff_link()),
        ]);
        department
            .members
            .iter()
            .filter(|member| member.supervisor)
            .filter_map(|member| Some((member, member.email.clone()?)))
            .map(|(member, email)| {
                let mut particulars = particulars.clone();
                particulars.member = Some(member.name.clone());
                let rendered =
                    letters::render(Letter::SlaBreach, Language::En, &particulars, None, None)
                        .map_err(|e| AppError::Impossible(e.to_string()))?;
                Ok(Outgoing {
                    to: email,
                    channel: Channel::Email,
                    rendered,
                    unsubscribe: None,
                })
            })
            .collect()
    }

    /// The report as sent to the agency it was referred to: what, where (with a map), photos, our
    /// number. No reporter details.
    fn to_agency(&self) -> Result<Option<Outgoing>, AppError> {
        let request = self.request;
        let Some(agency) = request
            .agency
            .as_deref()
            .and_then(|id| self.city.agency(id))
        else {
            return Ok(None);
        };
        let mut particulars = self.particulars(Language::En, None, None);
        let mut facts = vec![
            Fact::new("tracking", request.id.to_string()),
            Fact::new("what", request.service_name.clone()),
            Fact::new(
                "description",
                request
                    .description
                    .clone()
                    .unwrap_or_else(|| "(none given)".into()),
            ),
            Fact::new(
                "location",
                format!(
                    "{:.6}, {:.6}",
                    request.location.lat(),
                    request.location.long()
                ),
            ),
            Fact::link("map", self.map_link()),
            Fact::new(
                "reported",
                request
                    .requested_at
                    .with_timezone(&self.city.timezone)
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string(),
            ),
        ];
        if let Some(address) = &request.address {
            facts.insert(4, Fact::new("address", address.clone()));
        }
        if let Some(photo) = crate::media::shown_media_url(&self.settings.public_url, request) {
            facts.push(Fact::link("photo", photo));
        }
        if let Some(reason) = &request.routing_reason {
            facts.push(Fact::new("why_yours", reason.clone()));
        }
        particulars.facts = facts;
        let rendered = letters::render(
            Letter::AgencyReferral,
            Language::En,
            &particulars,
            None,
            None,
        )
        .map_err(|e| AppError::Impossible(e.to_string()))?;
        Ok(Some(Outgoing {
            to: agency.email.clone(),
            channel: Channel::Email,
            rendered,
            unsubscribe: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_never_outlives_half_the_queues_visibility_timeout() {
        use std::time::Duration as Std;
        assert_eq!(send_lease_for(Std::from_secs(60)), SEND_LEASE);
        assert_eq!(send_lease_for(Std::from_secs(30)), Duration::seconds(15));
        assert_eq!(send_lease_for(Std::from_secs(2)), Duration::seconds(1));
        assert_eq!(send_lease_for(Std::from_secs(3600)), SEND_LEASE);
    }
}
