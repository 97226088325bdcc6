//! Outgoing webhooks: each event of a request a city's system asked for is queued once per
//! webhook, then posted, signed, and retried with growing delays while the system is down.
//!
//! Notify queues a [`WebhookJob`] (ids only, nothing personal) for each webhook of the city that
//! wants the event, behind the same send record as every other message, so a redelivered event
//! queues it once. The webhooks function (notify crate) builds the body from the request's
//! public view when it posts, signs it ([`signature`]) and posts it through a [`WebhookSender`].
//! A 2xx is delivered; another 4xx is the receiver refusing the body, which asking again will
//! not change; a 5xx, 408, 429, timeout or refused connection is tried again after
//! [`retry_delay`], and after [`WEBHOOK_ATTEMPTS`] tries the job fails until the queue's
//! redrive puts it in the dead-letter queue.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::letters::Letter;
use crate::links::LinkSigner;
use cityfix_domain::TrackingNumber;

/// On the webhooks queue: one event of one request for one webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookJob {
    /// The webhook's name in city.toml.
    pub webhook: String,
    /// The same for every try: the receiver's key for telling a repeat from a new event.
    pub delivery_id: String,
    /// One of [`cityfix_domain::webhooks::WEBHOOK_EVENTS`].
    pub event: String,
    pub request_id: TrackingNumber,
    pub occurred_at: DateTime<Utc>,
    /// 1 for the first try.
    #[serde(default = "first_attempt")]
    pub attempt: u32,
}

fn first_attempt() -> u32 {
    1
}

impl WebhookJob {
    /// The job of `event_id` (a notify event) for `webhook`.
    pub fn new(
        webhook: &str,
        event_id: &str,
        event: &str,
        request_id: &TrackingNumber,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        let digest = cityfix_domain::text::fingerprint(&format!("{webhook}\u{1f}{event_id}"));
        WebhookJob {
            webhook: webhook.to_string(),
            delivery_id: format!("whd-{}", &digest[..32]),
            event: event.to_string(),
            request_id: request_id.clone(),
            occurred_at,
            attempt: 1,
        }
    }
}

/// Tries of one delivery before it is left to the dead-letter queue.
pub const WEBHOOK_ATTEMPTS: u32 = 5;

/// How long to wait before the try after `attempt` failed: 1, 5, 15 and 15 minutes (the queue's
/// longest delay); `None` once the tries are used up.
pub fn retry_delay(attempt: u32) -> Option<Duration> {
    const MINUTES: [u64; 4] = [1, 5, 15, 15];
    (attempt < WEBHOOK_ATTEMPTS)
        .then(|| MINUTES.get(attempt as usize - 1).copied())
        .flatten()
        .map(|minutes| Duration::from_secs(minutes * 60))
}

/// The webhook event a letter's moment is: the letter's own name (see docs/messages.md).
pub fn event_name(letter: Letter) -> Option<&'static str> {
    match letter {
        Letter::FollowAsk
        | Letter::FollowConfirmed
        | Letter::Survey
        | Letter::AgencyReferral
        | Letter::MailNeedsPlace
        | Letter::MailNeedsWords
        | Letter::MailRefused
        | Letter::InformationAnswer
        | Letter::RisingConcern => None,
        other => Some(other.name()),
    }
}

/// The secret `webhook` is signed with: made from the link secret, so it needs no storage of
/// its own; `cityfix webhook-secret <name>` prints it for the receiving system's operator.
pub fn webhook_secret(links: &LinkSigner, webhook: &str) -> String {
    links.derived_secret(&format!("webhook:{webhook}"))
}

/// The `Cityfix-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
/// A receiver recomputes it with the webhook's secret, compares in constant time, and refuses a
/// `t` more than five minutes from its own clock (a replay).
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// What a receiving system answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAnswer {
    /// 2xx.
    Delivered(u16),
    /// A 4xx other than 408 and 429: the body is refused, and would be again.
    Refused(u16),
    /// 5xx, 408, 429, a timeout or no connection: perhaps later.
    Failed(String),
}

impl WebhookAnswer {
    /// The answer an HTTP status is.
    pub fn from_status(status: u16) -> Self {
        match status {
            200..=299 => WebhookAnswer::Delivered(status),
            408 | 429 => WebhookAnswer::Failed(format!("answered {status}")),
            400..=499 => WebhookAnswer::Refused(status),
            _ => WebhookAnswer::Failed(format!("answered {status}")),
        }
    }
}

/// Posts a webhook body with its headers, within a time limit.
#[async_trait::async_trait]
pub trait WebhookSender: Send + Sync {
    async fn post(&self, url: &str, headers: &[(&str, String)], body: &str) -> WebhookAnswer;
}

/// What the webhooks function needs.
#[derive(Clone)]
pub struct WebhookDeps {
    pub city: std::sync::Arc<cityfix_domain::City>,
    pub store: std::sync::Arc<dyn crate::ports::RequestStore>,
    /// Where a failed delivery is queued again, later.
    pub queue: std::sync::Arc<dyn crate::ports::Queue>,
    pub sender: std::sync::Arc<dyn WebhookSender>,
    pub clock: std::sync::Arc<dyn crate::ports::Clock>,
    /// The link secret the webhooks' secrets are made from.
    pub links: LinkSigner,
    /// The resident site's address, for the links in the request's public view.
    pub public_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receiver_can_check_the_signature() {
        let header = signature("s3cret", 1_764_000_000, r#"{"event":"closed"}"#);
        // computed apart, with Python's hmac module
        assert_eq!(
            header,
            "t=1764000000,v1=7ef8c34d1785a7a692ea387b8b8f7292dac5d1c8a5482f10e1b82f5e74b0cde4"
        );
        assert_ne!(
            header,
            signature("s3cret", 1_764_000_001, r#"{"event":"closed"}"#)
        );
        assert_ne!(
            header,
            signature("other", 1_764_000_000, r#"{"event":"closed"}"#)
        );
    }

    #[test]
    fn the_events_a_city_may_name_are_the_letters_webhooks_get() {
        let named: Vec<&str> = Letter::ALL.iter().filter_map(|l| event_name(*l)).collect();
        assert_eq!(named, cityfix_domain::webhooks::WEBHOOK_EVENTS);
    }

    #[test]
    fn tries_wait_longer_each_time_then_stop() {
        let delays: Vec<_> = (1..=WEBHOOK_ATTEMPTS).map(retry_delay).collect();
        assert_eq!(
            delays,
            [
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(300)),
                Some(Duration::from_secs(900)),
                Some(Duration::from_secs(900)),
                None
            ]
        );
    }

    #[test]
    fn statuses_are_sorted_into_delivered_refused_and_later() {
        assert_eq!(
            WebhookAnswer::from_status(204),
            WebhookAnswer::Delivered(204)
        );
        assert_eq!(WebhookAnswer::from_status(410), WebhookAnswer::Refused(410));
        for later in [408, 429, 500, 503] {
            assert!(matches!(
                WebhookAnswer::from_status(later),
                WebhookAnswer::Failed(_)
            ));
        }
    }

    #[test]
    fn one_event_is_one_delivery_id_per_webhook_and_secrets_differ() {
        let id = TrackingNumber::parse("7K3M-9QZ2").unwrap();
        let at = Utc::now();
        let a = WebhookJob::new("assets", "7K3M-9QZ2/routed", "received", &id, at);
        assert_eq!(
            a,
            WebhookJob::new("assets", "7K3M-9QZ2/routed", "received", &id, at)
        );
        assert_ne!(
            a.delivery_id,
            WebhookJob::new("crm", "7K3M-9QZ2/routed", "received", &id, at).delivery_id
        );
        let links = LinkSigner::new(b"a test link secret");
        assert_eq!(webhook_secret(&links, "assets").len(), 64);
        assert_ne!(
            webhook_secret(&links, "assets"),
            webhook_secret(&links, "crm")
        );
    }
}
