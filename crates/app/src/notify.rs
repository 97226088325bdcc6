//! Notifying people: turn an event into messages, each sent once per event × recipient × channel.

use std::sync::Arc;

use crate::messages::{NotifyEvent, NotifyKind};
use crate::ports::{
    Clock, Email, Mailer, PortError, PushMessage, PushSender, RequestStore, SmsSender, TextMessage,
};
use crate::AppError;
use cityfix_domain::escape_html as escape;
use cityfix_domain::{
    recipient_hash, City, Contact, Resolution, ServiceRequest, Status, TimelineEntry, TimelineKind,
    TrackingNumber,
};

/// Where messages come from and where they point residents to.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// The resident site's address, for tracking links (no trailing slash).
    pub public_url: String,
    /// The sender of e-mail, e.g. `Hartford 311 <311@hartford.example>`.
    pub mail_from: String,
}

/// What the notify function needs.
#[derive(Clone)]
pub struct NotifyDeps {
    pub city: Arc<City>,
    pub store: Arc<dyn RequestStore>,
    pub mailer: Arc<dyn Mailer>,
    pub sms: Arc<dyn SmsSender>,
    pub push: Arc<dyn PushSender>,
    pub clock: Arc<dyn Clock>,
    pub settings: NotifySettings,
}

/// What notifying did: how many messages went out now, and how many had gone out before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notified {
    pub sent: usize,
    pub already_sent: usize,
}

/// One message for one recipient on one channel.
#[derive(Clone)]
struct Outgoing {
    to: String,
    /// "email", "sms" or "push" (`to` is then the device's push token).
    channel: &'static str,
    subject: String,
    /// Paragraphs of the message; the first is the greeting.
    paragraphs: Vec<String>,
    facts: Vec<(&'static str, String)>,
    sms: String,
}

/// Sends the messages this event calls for. Every message is claimed before it is sent, so a
/// redelivered event sends nothing twice; a failed send gives its claim back and fails the event,
/// so the redelivery tries it again.
pub async fn notify(deps: &NotifyDeps, event: &NotifyEvent) -> Result<Notified, AppError> {
    let request = deps.store.get(&event.request_id).await?.ok_or_else(|| {
        AppError::Impossible(format!("request {} does not exist", event.request_id))
    })?;
    let reporter = match event.kind {
        // Told to staff only: the reporter's contact is not read.
        NotifyKind::SlaBreached => None,
        _ => deps.store.reporter(&request.id).await?,
    };
    let mut outgoing = Vec::new();
    let compose = Compose {
        city: &deps.city,
        settings: &deps.settings,
        request: &request,
    };
    if event.kind == NotifyKind::SlaBreached {
        outgoing.extend(compose.to_supervisors());
    } else if event.kind == NotifyKind::Updated {
        outgoing.extend(updates(deps, &compose, event, reporter.as_ref()).await?);
    } else if let Some(contact) = &reporter {
        outgoing.extend(compose.to_reporter(event.kind, contact));
    }
    if event.kind == NotifyKind::Referred {
        outgoing.extend(compose.to_agency());
    }
    let mut notified = Notified::default();
    let mut failure: Option<PortError> = None;
    for message in outgoing {
        let dedupe_key = format!(
            "{}/{}/{}",
            event.event_id,
            message.channel,
            recipient_hash(&message.to)
        );
        if !deps
            .store
            .claim_delivery(&dedupe_key, deps.clock.now())
            .await?
        {
            notified.already_sent += 1;
            continue;
        }
        if let Err(error) = send(deps, &message, &dedupe_key, request.id.as_str()).await {
            deps.store.release_delivery(&dedupe_key).await?;
            failure = Some(error);
            continue;
        }
        notified.sent += 1;
    }
    match failure {
        Some(error) => Err(error.into()),
        None => Ok(notified),
    }
}

/// The messages of a staff action: its public timeline entry, told to the reporter and to
/// everyone who follows the request, each address once. An internal entry, or one nobody needs to
/// hear of, sends nothing.
async fn updates(
    deps: &NotifyDeps,
    compose: &Compose<'_>,
    event: &NotifyEvent,
    reporter: Option<&Contact>,
) -> Result<Vec<Outgoing>, AppError> {
    let entry_id = event
        .event_id
        .strip_prefix(&format!("{}/", event.request_id))
        .unwrap_or(&event.event_id);
    let timeline = deps.store.timeline(&event.request_id).await?;
    let Some(entry) = timeline.iter().find(|entry| entry.event_id == entry_id) else {
        return Err(AppError::Impossible(format!(
            "request {} has no timeline entry {entry_id}",
            event.request_id
        )));
    };
    if !entry.public {
        return Ok(Vec::new());
    }
    let mut people: Vec<(Contact, Option<TrackingNumber>)> = Vec::new();
    if let Some(contact) = reporter {
        people.push((contact.clone(), None));
    }
    for follower in deps.store.followers(&event.request_id).await? {
        people.push((follower.contact, Some(follower.via)));
    }
    let mut outgoing: Vec<Outgoing> = Vec::new();
    for (contact, via) in people {
        let Some(message) = compose.update_message(entry, &contact, via.as_ref()) else {
            return Ok(Vec::new());
        };
        for addressed in compose.addressed(&contact, message) {
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
    if message.channel == "push" {
        return deps
            .push
            .push(
                &message.to,
                &PushMessage {
                    title: message.subject.clone(),
                    body: message.sms.clone(),
                    request_id: request_id.to_string(),
                    dedupe_key: dedupe_key.to_string(),
                },
            )
            .await;
    }
    if message.channel == "sms" {
        return deps
            .sms
            .send_sms(&TextMessage {
                to: message.to.clone(),
                body: message.sms.clone(),
                dedupe_key: dedupe_key.to_string(),
            })
            .await;
    }
    let signature = format!(
        "{} 311 · {} · {}",
        deps.city.short_name, deps.city.contact_phone, deps.city.contact_email
    );
    let mut text = String::new();
    let mut html = String::from("<!doctype html><html><body style=\"font-family:sans-serif\">");
    for paragraph in &message.paragraphs {
        text.push_str(paragraph);
        text.push_str("\n\n");
        html.push_str(&format!("<p>{}</p>", escape(paragraph)));
    }
    html.push_str("<table>");
    for (label, value) in &message.facts {
        text.push_str(&format!("  {label}: {value}\n"));
        html.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            escape(label),
            escape(value)
        ));
    }
    text.push_str(&format!("\n{signature}\n"));
    html.push_str(&format!(
        "</table><p>{}</p></body></html>",
        escape(&signature)
    ));
    let email = Email {
        to: message.to.clone(),
        from: deps.settings.mail_from.clone(),
        subject: message.subject.clone(),
        text,
        html,
        dedupe_key: dedupe_key.to_string(),
    };
    deps.mailer.send_email(&email).await
}

/// Writes the messages of one request's event.
struct Compose<'a> {
    city: &'a City,
    settings: &'a NotifySettings,
    request: &'a ServiceRequest,
}

impl Compose<'_> {
    fn link(&self, id: &str) -> String {
        format!("{}/#/requests/{id}", self.settings.public_url)
    }

    fn map_link(&self) -> String {
        let (lat, long) = (self.request.location.lat(), self.request.location.long());
        format!(
            "https://www.openstreetmap.org/?mlat={lat:.6}&mlon={long:.6}#map=18/{lat:.6}/{long:.6}"
        )
    }

    /// The message for the reporter, by e-mail if they gave one, else by SMS.
    /// The reporter's messages: by e-mail, else by text; and by push too when they reported
    /// from the app.
    fn to_reporter(&self, kind: NotifyKind, contact: &Contact) -> Vec<Outgoing> {
        self.addressed(contact, self.reporter_message(kind, contact))
    }

    /// `message` on each channel `contact` is reached by.
    fn addressed(&self, contact: &Contact, message: Outgoing) -> Vec<Outgoing> {
        let mut channels = Vec::new();
        match (&contact.email, &contact.phone) {
            (Some(email), _) => channels.push(("email", email.clone())),
            (None, Some(phone)) => channels.push(("sms", phone.clone())),
            (None, None) => {}
        }
        if let Some(device) = contact.device_id.as_ref().filter(|d| !d.trim().is_empty()) {
            channels.push(("push", device.clone()));
        }
        channels
            .into_iter()
            .map(|(channel, to)| Outgoing {
                to,
                channel,
                ..message.clone()
            })
            .collect()
    }

    /// What the reporter is told, before it is addressed to a channel.
    fn reporter_message(&self, kind: NotifyKind, contact: &Contact) -> Outgoing {
        let request = self.request;
        let greeting = match contact.greeting_name() {
            Some(name) => format!("Hello {name},"),
            None => "Hello,".to_string(),
        };
        let who = request
            .agency_responsible
            .clone()
            .unwrap_or_else(|| "the right department".into());
        let city = &self.city.short_name;
        let link = self.link(request.id.as_str());
        let mut facts = vec![
            ("Tracking number", request.id.to_string()),
            ("What", request.service_name.clone()),
            ("Where", request.place()),
        ];
        let (subject, body, sms) = match kind {
            NotifyKind::Acknowledged => {
                facts.push(("Sent to", who.clone()));
                (
                    format!("We received your report {} ({})", request.id, request.service_name),
                    format!("Thank you for reporting a problem to {} 311. We have it, and it is with {who}. We will write again when there is news; you can follow it at any time: {link}", self.city.name),
                    format!("{city} 311: we received your report {} ({}) and sent it to {who}. Track it: {link}", request.id, request.service_name),
                )
            }
            NotifyKind::Referred => {
                let agency = request.agency.as_deref().and_then(|id| self.city.agency(id));
                let contact_line = agency.map(|a| format!("You can reach them at {} or {}, quoting our number {}.", a.phone, a.website, request.id)).unwrap_or_default();
                if let Some(agency) = agency {
                    facts.push(("Responsible", agency.name.clone()));
                    facts.push(("Their phone", agency.phone.clone()));
                    facts.push(("Their website", agency.website.clone()));
                }
                (
                    format!("Your report {} is for {who}", request.id),
                    format!("Thank you for your report. This problem is not the city's to fix: {who} is responsible for it there. We have sent them your report, so you need not report it again. {contact_line}"),
                    format!("{city} 311: your report {} is for {who}, who are responsible there. We sent it to them. {contact_line}", request.id),
                )
            }
            NotifyKind::LinkedAsDuplicate => {
                let original = request.duplicate_of.as_ref().map(|id| id.to_string()).unwrap_or_default();
                facts.push(("Same as", original.clone()));
                (
                    format!("Your report {} is already being worked on", request.id),
                    format!("Thank you for your report. Someone nearby reported the same problem already, as {original}, and {who} is working on it. We linked your report to it rather than work it twice, and you will get its updates: {}", self.link(&original)),
                    format!("{city} 311: your report {} is the same problem as {original}, already with {who}. You'll get its updates: {}", request.id, self.link(&original)),
                )
            }
            // Told from the action's timeline entry (`updates`), or to supervisors
            // (`to_supervisors`), never from here.
            NotifyKind::Updated | NotifyKind::SlaBreached => return Outgoing {
                to: String::new(),
                channel: "email",
                subject: String::new(),
                paragraphs: Vec::new(),
                facts,
                sms: String::new(),
            },
            NotifyKind::Unlinked => (
                format!("Your report {} is being worked on its own", request.id),
                format!("We looked again: your report is a problem of its own, not the same as the one we linked it to. It is open again and we will keep you posted: {link}"),
                format!("{city} 311: your report {} is open again and worked on its own. Track it: {link}", request.id),
            ),
        };
        Outgoing {
            to: String::new(),
            channel: "email",
            subject,
            paragraphs: vec![greeting, body],
            facts,
            sms,
        }
    }

    /// What a person hears of a public timeline entry a staff member wrote; `via` is the report a
    /// follower made of the same problem. `None` for an entry nobody is told of.
    fn update_message(
        &self,
        entry: &TimelineEntry,
        contact: &Contact,
        via: Option<&TrackingNumber>,
    ) -> Option<Outgoing> {
        let request = self.request;
        let city = &self.city.short_name;
        let link = self.link(request.id.as_str());
        let greeting = match contact.greeting_name() {
            Some(name) => format!("Hello {name},"),
            None => "Hello,".to_string(),
        };
        let yours = match via {
            Some(own) => format!(
                "the problem you reported as {own}, which the city is working as {}",
                request.id
            ),
            None => format!("your report {}", request.id),
        };
        let note = entry.note.clone().unwrap_or_default();
        let (subject, lead) = match (entry.kind, entry.status, request.resolution) {
            (TimelineKind::StatusChanged, Some(Status::Closed), Some(Resolution::Fixed)) => (
                format!("Fixed: {} ({})", request.id, request.service_name),
                format!("Good news about {yours}: the city has fixed it."),
            ),
            (TimelineKind::StatusChanged, Some(Status::Closed), _) => (
                format!("Closed: {} ({})", request.id, request.service_name),
                format!("The city has closed {yours}."),
            ),
            (TimelineKind::StatusChanged, Some(Status::InProgress), _) => (
                format!("Work has started on {}", request.id),
                format!("The city has started work on {yours}."),
            ),
            // The reporter wrote it; nobody is told of their own words.
            (
                TimelineKind::Comment | TimelineKind::Supported | TimelineKind::BacklogLifted,
                _,
                _,
            ) => return None,
            (TimelineKind::StatusChanged, Some(Status::Open), _) => (
                format!("{} is open again", request.id),
                format!("The city is looking at {yours} again."),
            ),
            (TimelineKind::Note, _, _) => (
                format!("News on {} ({})", request.id, request.service_name),
                format!("The city wrote about {yours}."),
            ),
            (TimelineKind::Backlog, _, _) => (
                format!("A delay on {}", request.id),
                format!("We are sorry: there is a delay with {yours}."),
            ),
            (TimelineKind::Rescheduled, _, _) => (
                format!("New expected date for {}", request.id),
                format!("The city has a new date for {yours}."),
            ),
            (TimelineKind::Assigned, _, _) => (
                format!("{} is with another department", request.id),
                format!("The city has passed {yours} to the department that can fix it."),
            ),
            _ => return None,
        };
        let mut facts = vec![
            ("Tracking number", request.id.to_string()),
            ("What", request.service_name.clone()),
            ("Where", request.place()),
        ];
        let photos: Vec<String> = entry
            .media
            .iter()
            .filter_map(|key| key.rsplit('/').next())
            .map(|file| {
                format!(
                    "{}/api/v1/media/{}/{file}",
                    self.settings.public_url, request.id
                )
            })
            .collect();
        for photo in &photos {
            facts.push(("Photo", photo.clone()));
        }
        let mut paragraphs = vec![greeting, lead];
        if !note.is_empty() {
            paragraphs.push(note.clone());
        }
        if !photos.is_empty() {
            paragraphs.push(format!("A photo from the city: {}", photos.join(" ")));
        }
        paragraphs.push(format!("Follow it at any time: {link}"));
        let photo_line = photos
            .first()
            .map(|p| format!(" Photo: {p}"))
            .unwrap_or_default();
        Some(Outgoing {
            to: String::new(),
            channel: "email",
            sms: format!("{city} 311: {subject}. {note}{photo_line} {link}"),
            subject,
            paragraphs,
            facts,
        })
    }

    /// Where staff open a request (the staff site's view of it).
    fn staff_link(&self) -> String {
        format!(
            "{}/staff/#/requests/{}",
            self.settings.public_url, self.request.id
        )
    }

    /// The breach notice, one for each supervisor of the request's department who has an e-mail
    /// address: which request, where, how late, and the link to it in the staff view. How late
    /// is counted to when the breach was noticed, so a resent notice says the same.
    fn to_supervisors(&self) -> Vec<Outgoing> {
        let request = self.request;
        let Some(department) = request
            .department
            .as_deref()
            .and_then(|id| self.city.department(id))
        else {
            tracing::warn!(request_id = %request.id, "a breach of a request without a known department: nobody to tell");
            return Vec::new();
        };
        let (Some(expected), Some(noticed)) = (request.expected_at, request.breach_noticed_at)
        else {
            return Vec::new();
        };
        let late = cityfix_domain::lateness_in_words(noticed - expected);
        let expected_local = expected
            .with_timezone(&self.city.timezone)
            .format("%A %-d %B %Y, %H:%M %Z")
            .to_string();
        let assignee = request
            .assignee
            .as_deref()
            .map(|id| department.member(id).map_or(id, |m| m.name.as_str()))
            .unwrap_or("nobody yet");
        let link = self.staff_link();
        department
            .members
            .iter()
            .filter(|member| member.supervisor)
            .filter_map(|member| Some((member, member.email.clone()?)))
            .map(|(member, email)| Outgoing {
                to: email,
                channel: "email",
                subject: format!(
                    "Past its target: {} ({}) is {late} late",
                    request.id, request.service_name
                ),
                paragraphs: vec![
                    format!("Dear {},", member.name),
                    format!(
                        "Request {} ({}) at {} was expected done by {expected_local} and is {late} late. It is {} with {}, assigned to {assignee}.",
                        request.id,
                        request.service_name,
                        request.place(),
                        request.status,
                        department.name
                    ),
                    format!("Open it in the staff view: {link}"),
                ],
                facts: vec![
                    ("Tracking number", request.id.to_string()),
                    ("What", request.service_name.clone()),
                    ("Where", request.place()),
                    ("Expected by", expected_local.clone()),
                    ("Late by", late.clone()),
                    ("Status", request.status.to_string()),
                    ("Assigned to", assignee.to_string()),
                    ("Staff view", link.clone()),
                ],
                sms: String::new(),
            })
            .collect()
    }

    /// The report as sent to the agency it was referred to: what, where (with a map), photos, our number. No reporter details.
    fn to_agency(&self) -> Option<Outgoing> {
        let request = self.request;
        let agency = self.city.agency(request.agency.as_deref()?)?;
        let mut facts = vec![
            ("Our tracking number", request.id.to_string()),
            ("Problem", request.service_name.clone()),
            (
                "Description",
                request
                    .description
                    .clone()
                    .unwrap_or_else(|| "(none given)".into()),
            ),
            (
                "Location",
                format!(
                    "{:.6}, {:.6}",
                    request.location.lat(),
                    request.location.long()
                ),
            ),
            ("Map", self.map_link()),
            (
                "Reported",
                request
                    .requested_at
                    .with_timezone(&self.city.timezone)
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string(),
            ),
        ];
        if let Some(address) = &request.address {
            facts.insert(4, ("Address", address.clone()));
        }
        if let Some(photo) = &request.media_url {
            facts.push(("Photo", photo.clone()));
        }
        if let Some(reason) = &request.routing_reason {
            facts.push(("Why it is yours", reason.clone()));
        }
        Some(Outgoing {
            to: agency.email.clone(),
            channel: "email",
            subject: format!("Referred by {} 311: {} ({})", self.city.short_name, request.service_name, request.id),
            paragraphs: vec![
                format!("Dear {},", agency.name),
                format!(
                    "A resident reported this to {} 311 at a place that is yours to look after, so we are passing it to you. The resident has been told to contact you for progress. Questions about the report: {} or {}.",
                    self.city.name, self.city.contact_phone, self.city.contact_email
                ),
            ],
            facts,
            sms: String::new(),
        })
    }
}
