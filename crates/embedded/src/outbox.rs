//! The local outbox: every message the system sends is written as one file, in place of SES and SNS
//! (e-mail, texts, mobile push, topic messages).

use std::path::{Path, PathBuf};

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use serde::{Deserialize, Serialize};

use crate::file_error;
use cityfix_app::ports::{
    Email, Mailer, PortError, PortResult, PushMessage, PushSender, SmsSender, TextMessage,
    TopicPublisher,
};

/// A folder of sent messages: `.eml` for e-mail, `.json` for SMS.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

/// An SMS as written to the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsFile {
    pub channel: String,
    pub to: String,
    pub body: String,
    pub dedupe_key: String,
}

/// One file of the outbox, for listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    pub file: String,
    pub channel: String,
    pub bytes: u64,
}

impl Outbox {
    pub fn open(dir: &Path) -> PortResult<Self> {
        std::fs::create_dir_all(dir).map_err(file_error)?;
        Ok(Outbox {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The files, oldest first.
    pub fn list(&self) -> PortResult<Vec<OutboxEntry>> {
        let mut entries = Vec::new();
        for item in std::fs::read_dir(&self.dir).map_err(file_error)? {
            let item = item.map_err(file_error)?;
            let name = item.file_name().to_string_lossy().to_string();
            let channel = if name.starts_with('.') {
                continue;
            } else if name.ends_with(".eml") {
                "email"
            } else if name.ends_with(".push.json") {
                "push"
            } else if name.ends_with(".topic.json") {
                "topic"
            } else if name.ends_with(".json") {
                "sms"
            } else {
                continue;
            };
            let metadata = item.metadata().map_err(file_error)?;
            entries.push((
                metadata.modified().map_err(file_error)?,
                OutboxEntry {
                    file: name,
                    channel: channel.into(),
                    bytes: metadata.len(),
                },
            ));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.file.cmp(&b.1.file)));
        Ok(entries.into_iter().map(|(_, entry)| entry).collect())
    }

    /// Reads one file of the outbox by name; names outside the folder are refused.
    pub fn read(&self, file: &str) -> PortResult<Vec<u8>> {
        if file.contains(['/', '\\']) || file.starts_with('.') {
            return Err(PortError::NotFound(file.to_string()));
        }
        std::fs::read(self.dir.join(file)).map_err(|_| PortError::NotFound(file.to_string()))
    }

    /// The HTML of an e-mail in the outbox, as its recipient sees it.
    pub fn read_html(&self, eml_file: &str) -> PortResult<Vec<u8>> {
        if !eml_file.ends_with(".eml") {
            return Err(PortError::NotFound(eml_file.to_string()));
        }
        self.read(&format!("{eml_file}.html"))
    }

    /// Writes a file whole or not at all; the same dedupe key always names the same file, so a
    /// resend replaces rather than adds. The file system is worked on the blocking pool, never on
    /// the threads that serve requests.
    async fn write(&self, dedupe_key: &str, extension: &str, bytes: Vec<u8>) -> PortResult<()> {
        let stem: String = dedupe_key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = self.dir.join(format!("{stem}.{extension}"));
        let temporary = self.dir.join(format!(".{stem}.{extension}.tmp"));
        tokio::task::spawn_blocking(move || {
            std::fs::write(&temporary, bytes)?;
            std::fs::rename(&temporary, &path)
        })
        .await
        .map_err(|e| PortError::Unavailable(format!("the outbox writer failed: {e}")))?
        .map_err(file_error)
    }
}

#[async_trait::async_trait]
impl Mailer for Outbox {
    async fn send_email(&self, email: &Email) -> PortResult<()> {
        let mailbox = |address: &str| -> PortResult<Mailbox> {
            address.parse().map_err(|e| {
                PortError::Unavailable(format!(
                    "an address of message {} is not valid: {e}",
                    email.dedupe_key
                ))
            })
        };
        let mut builder = lettre::Message::builder();
        if let Some(link) = &email.list_unsubscribe {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{link}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        let message = builder
            .from(mailbox(&email.from)?)
            .to(mailbox(&email.to)?)
            .subject(email.subject.clone())
            .message_id(Some(format!(
                "<{}@cityfix.local>",
                email.dedupe_key.replace('/', ".")
            )))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(email.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(email.html.clone()),
                    ),
            )
            .map_err(|e| {
                PortError::Unavailable(format!("message {} cannot be built: {e}", email.dedupe_key))
            })?;
        // The HTML part as the recipient's mail program shows it, for the outbox page (the
        // `.eml` holds it encoded). Written first: a listed `.eml` always has its page.
        self.write(
            &email.dedupe_key,
            "eml.html",
            email.html.clone().into_bytes(),
        )
        .await?;
        self.write(&email.dedupe_key, "eml", message.formatted())
            .await
    }
}

#[async_trait::async_trait]
impl SmsSender for Outbox {
    async fn send_sms(&self, message: &TextMessage) -> PortResult<()> {
        let file = SmsFile {
            channel: "sms".into(),
            to: message.to.clone(),
            body: message.body.clone(),
            dedupe_key: message.dedupe_key.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&file).expect("an SMS file always serialises");
        self.write(&message.dedupe_key, "json", bytes).await
    }
}

/// A push message as written to the outbox; the device appears only as a hash of its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushFile {
    pub channel: String,
    pub device: String,
    pub title: String,
    pub body: String,
    pub request_id: String,
    pub dedupe_key: String,
}

#[async_trait::async_trait]
impl PushSender for Outbox {
    async fn push(&self, device_token: &str, message: &PushMessage) -> PortResult<()> {
        let file = PushFile {
            channel: "push".into(),
            device: cityfix_domain::recipient_hash(device_token),
            title: message.title.clone(),
            body: message.body.clone(),
            request_id: message.request_id.clone(),
            dedupe_key: message.dedupe_key.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&file).expect("a push file always serialises");
        self.write(&message.dedupe_key, "push.json", bytes).await
    }
}

#[async_trait::async_trait]
impl TopicPublisher for Outbox {
    async fn publish(&self, topic: &str, subject: &str, body: &str) -> PortResult<()> {
        if topic.trim().is_empty() {
            return Err(PortError::NotFound("a topic has a name".into()));
        }
        let file = serde_json::json!({ "channel": "topic", "topic": topic, "subject": subject, "body": body });
        let key = format!("topic-{}-{}", topic, uuid::Uuid::new_v4());
        let bytes = serde_json::to_vec_pretty(&file).expect("a topic file always serialises");
        self.write(&key, "topic.json", bytes).await
    }
}
