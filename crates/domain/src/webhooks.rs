//! The city's outgoing webhooks: which systems hear of which events of its requests.
//!
//! A webhook is named in city.toml (`[[webhooks]]`), sent to one https URL, for the events it
//! lists. What it is sent is the public view of the request, never a reporter's contact, and
//! nothing at all for a confidential service's requests.

use serde::Deserialize;

use crate::fetch::checked_url;

/// Every event a webhook may ask for: the lifecycle's public moments, named as the letters that
/// tell residents of them (see docs/messages.md), and `sla_breach`.
pub const WEBHOOK_EVENTS: [&str; 12] = [
    "received",
    "assigned",
    "in_progress",
    "note",
    "rescheduled",
    "backlog",
    "closed",
    "reopened",
    "referred",
    "duplicate",
    "unlinked",
    "sla_breach",
];

/// One `[[webhooks]]` entry of city.toml.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Lower-case letters, digits and `-`; its signing secret is made from it (see
    /// `cityfix webhook-secret`), so renaming a webhook changes its secret.
    pub name: String,
    pub url: String,
    /// Events from [`WEBHOOK_EVENTS`], or `"*"` for all of them.
    pub events: Vec<String>,
}

impl Webhook {
    /// Whether this webhook is sent `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == "*" || e == event)
    }
}

/// The webhooks with their URLs written one way, or the first reason one cannot be used.
pub fn checked_webhooks(webhooks: Vec<Webhook>) -> Result<Vec<Webhook>, String> {
    let mut checked: Vec<Webhook> = Vec::with_capacity(webhooks.len());
    for mut webhook in webhooks {
        let name = webhook.name.clone();
        let good_name = !name.is_empty()
            && name.len() <= 40
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !good_name {
            return Err(format!(
                "webhook name `{name}` must be 1 to 40 lower-case letters, digits or -"
            ));
        }
        if checked.iter().any(|w| w.name == name) {
            return Err(format!("webhook `{name}` is named twice"));
        }
        webhook.url = checked_url(&webhook.url, &format!("webhook `{name}` url"))?;
        if webhook.events.is_empty() {
            return Err(format!(
                "webhook `{name}` lists no events (name some, or \"*\" for all)"
            ));
        }
        if let Some(unknown) = webhook
            .events
            .iter()
            .find(|e| *e != "*" && !WEBHOOK_EVENTS.contains(&e.as_str()))
        {
            return Err(format!(
                "webhook `{name}`: `{unknown}` is not an event (one of {}, or \"*\")",
                WEBHOOK_EVENTS.join(", ")
            ));
        }
        checked.push(webhook);
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(name: &str, url: &str, events: &[&str]) -> Webhook {
        Webhook {
            name: name.into(),
            url: url.into(),
            events: events.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn https_urls_and_known_events_are_taken() {
        let checked = checked_webhooks(vec![
            hook(
                "assets",
                "HTTPS://Assets.Example.org/cityfix",
                &["closed", "received"],
            ),
            hook("local-test", "http://127.0.0.1:8080/hook", &["*"]),
        ])
        .unwrap();
        assert_eq!(checked[0].url, "https://assets.example.org/cityfix");
        assert!(checked[0].wants("closed") && !checked[0].wants("note"));
        assert!(checked[1].wants("sla_breach"));
    }

    #[test]
    fn what_cannot_be_sent_is_refused_with_the_reason() {
        let refused = |hooks: Vec<Webhook>| checked_webhooks(hooks).unwrap_err();
        assert!(
            refused(vec![hook("a", "http://assets.example.org/", &["*"])]).contains("plain http")
        );
        assert!(
            refused(vec![hook("a", "ftp://assets.example.org/", &["*"])])
                .contains("not an https URL")
        );
        assert!(
            refused(vec![hook("a", "https://user@assets.example.org/", &["*"])])
                .contains("plain host")
        );
        assert!(refused(vec![hook("a", "https://a.example.org/", &[])]).contains("no events"));
        assert!(refused(vec![hook(
            "a",
            "https://a.example.org/",
            &["closed", "deleted"]
        )])
        .contains("`deleted` is not an event"));
        assert!(
            refused(vec![hook("Assets!", "https://a.example.org/", &["*"])]).contains("lower-case")
        );
        let twice = vec![
            hook("a", "https://a.example.org/", &["*"]),
            hook("a", "https://b.example.org/", &["*"]),
        ];
        assert!(refused(twice).contains("named twice"));
    }
}
