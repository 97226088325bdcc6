//! Notifying people: turn an event into messages, each sent once per event × recipient × channel.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::messages::{NotifyEvent, NotifyKind};
use super::AppError;
use crate::domain::{City, Contact, ServiceRequest};
use crate::http::escape_html as escape;
use crate::ports::{Clock, Email, Mailer, RequestStore, SmsSender, TextMessage};

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
    pub clock: Arc<dyn Clock>,
    pub settings: NotifySettings,
}

/// What notifying did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notified {
    Sent {
        channel: &'static str,
    },
    /// This message went out before (a redelivered event).
    AlreadySent,
    /// The reporter left no way to reach them.
    NoRecipient,
}

/// Sends the reporter the message for this event, by e-mail if they gave one, else by SMS.
pub async fn notify(deps: &NotifyDeps, event: &NotifyEvent) -> Result<Notified, AppError> {
    let request = deps.store.get(&event.request_id).await?.ok_or_else(|| {
        AppError::Impossible(format!("request {} does not exist", event.request_id))
    })?;
    let Some(contact) = deps.store.reporter(&request.id).await? else {
        return Ok(Notified::NoRecipient);
    };
    let message = match event.kind {
        NotifyKind::Acknowledged => acknowledgement(&deps.city, &deps.settings, &request, &contact),
    };
    let Some((channel, recipient)) = message.recipient(&contact) else {
        return Ok(Notified::NoRecipient);
    };
    let dedupe_key = format!("{}/{channel}/{}", event.event_id, recipient_hash(recipient));
    if !deps
        .store
        .claim_delivery(&dedupe_key, deps.clock.now())
        .await?
    {
        return Ok(Notified::AlreadySent);
    }
    let sent = match channel {
        "email" => {
            deps.mailer
                .send_email(&Email {
                    to: recipient.to_string(),
                    from: deps.settings.mail_from.clone(),
                    subject: message.subject,
                    text: message.text,
                    html: message.html,
                    dedupe_key: dedupe_key.clone(),
                })
                .await
        }
        _ => {
            deps.sms
                .send_sms(&TextMessage {
                    to: recipient.to_string(),
                    body: message.sms,
                    dedupe_key: dedupe_key.clone(),
                })
                .await
        }
    };
    if let Err(error) = sent {
        deps.store.release_delivery(&dedupe_key).await?;
        return Err(error.into());
    }
    Ok(Notified::Sent { channel })
}

/// A hash that stands for a recipient in keys and logs, so no address is ever written there.
pub fn recipient_hash(address: &str) -> String {
    hex::encode(&Sha256::digest(address.trim().to_lowercase().as_bytes())[..8])
}

/// One message in the forms each channel takes.
struct Message {
    subject: String,
    text: String,
    html: String,
    sms: String,
}

impl Message {
    fn recipient<'a>(&self, contact: &'a Contact) -> Option<(&'static str, &'a str)> {
        contact
            .email
            .as_deref()
            .map(|email| ("email", email))
            .or_else(|| contact.phone.as_deref().map(|phone| ("sms", phone)))
    }
}

fn acknowledgement(
    city: &City,
    settings: &NotifySettings,
    request: &ServiceRequest,
    contact: &Contact,
) -> Message {
    let link = format!("{}/#/requests/{}", settings.public_url, request.id);
    let department = request
        .agency_responsible
        .as_deref()
        .unwrap_or("the right department");
    let greeting = match contact.greeting_name() {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_string(),
    };
    let facts = [
        ("Tracking number", request.id.to_string()),
        ("What", request.service_name.clone()),
        ("Where", request.place()),
        ("Sent to", department.to_string()),
    ];
    let signature = format!(
        "{} 311 · {} · {}",
        city.short_name, city.contact_phone, city.contact_email
    );
    let mut text = format!("{greeting}\n\nThank you for reporting a problem to {} 311. We have it, and it is with {department}.\n\n", city.name);
    for (label, value) in &facts {
        text.push_str(&format!("  {label}: {value}\n"));
    }
    text.push_str(&format!("\nWe will write again when there is news. You can follow the report at any time:\n{link}\n\n{signature}\n"));
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><p>{}</p><p>Thank you for reporting a problem to {} 311. We have it, and it is with {}.</p><table>",
        escape(&greeting),
        escape(&city.name),
        escape(department)
    );
    for (label, value) in &facts {
        html.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            escape(label),
            escape(value)
        ));
    }
    html.push_str(&format!(
        "</table><p>We will write again when there is news. <a href=\"{}\">Follow your report</a>.</p><p>{}</p></body></html>",
        escape(&link),
        escape(&signature)
    ));
    Message {
        subject: format!(
            "We received your report {} ({})",
            request.id, request.service_name
        ),
        text,
        html,
        sms: format!(
            "{} 311: we received your report {} ({}) and sent it to {department}. Track it: {link}",
            city.short_name, request.id, request.service_name
        ),
    }
}
