//! The local outbox: every message the system sends is kept, in place of SES and SNS (e-mail,
//! texts, mobile push, topic messages), as one named item (`<key>.eml`, `<key>.json`, …) that the
//! outbox page lists and shows.
//!
//! The items live in one SQLite file, `outbox/messages.sqlite`, not one file each: creating a file
//! costs about a millisecond of kernel time on ext4 (inode allocation), which at a thousand reports
//! a second took a core. A row costs a few microseconds. Files an earlier version wrote into the
//! folder are taken in when it opens.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::file_error;
use crate::sqlite::sqlite_error;
use cityfix_app::ports::{
    DeviceRegistry, Email, Mailer, Platform, PortError, PortResult, PushMessage, PushSender,
    SmsSender, TextMessage, TopicPublisher,
};

const OUTBOX_SCHEMA: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    bytes BLOB NOT NULL
);";

/// The messages sent, in `outbox/messages.sqlite`.
#[derive(Clone)]
pub struct Outbox {
    dir: PathBuf,
    db: Arc<Mutex<Connection>>,
    /// Faults injected into its sends, for the proof under faults only.
    faults: Option<crate::Faults>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").field("dir", &self.dir).finish()
    }
}

/// An SMS as written to the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsFile {
    pub channel: String,
    pub to: String,
    pub body: String,
    pub dedupe_key: String,
}

/// One message of the outbox, for listing: its name, channel and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    pub file: String,
    pub channel: String,
    pub bytes: u64,
}

/// The channel of a message by its name's ending, if it is one the outbox keeps.
fn channel_of(name: &str) -> Option<&'static str> {
    if name.starts_with('.') {
        None
    } else if name.ends_with(".eml") {
        Some("email")
    } else if name.ends_with(".push.json") {
        Some("push")
    } else if name.ends_with(".topic.json") {
        Some("topic")
    } else if name.ends_with(".json") {
        Some("sms")
    } else {
        None
    }
}

impl Outbox {
    /// Opens (or makes) the outbox in `dir`, taking in the message files an earlier version left there.
    pub fn open(dir: &Path) -> PortResult<Self> {
        std::fs::create_dir_all(dir).map_err(file_error)?;
        let conn = Connection::open(dir.join("messages.sqlite")).map_err(sqlite_error)?;
        conn.execute_batch(OUTBOX_SCHEMA).map_err(sqlite_error)?;
        take_in_files(&conn, dir)?;
        Ok(Outbox {
            dir: dir.to_path_buf(),
            db: Arc::new(Mutex::new(conn)),
            faults: None,
        })
    }

    /// The same outbox, with `faults` injected into its sends from now on. A send fails before
    /// the message is kept, never after: a mail service that took a message and lost the answer
    /// is sent it again and cannot tell (SES keeps no idempotency key), and the outbox, which
    /// replaces a message sent again, would hide that double rather than show it.
    pub fn with_faults(mut self, faults: Option<crate::Faults>) -> Outbox {
        self.faults = faults;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The messages, oldest first (a message sent again counts from its last sending); an e-mail's
    /// page as its recipient sees it (`<name>.eml.html`) is kept beside it, not listed.
    pub fn list(&self) -> PortResult<Vec<OutboxEntry>> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached("SELECT name, channel, length(bytes) FROM messages WHERE channel <> 'other' ORDER BY seq")
            .map_err(sqlite_error)?;
        let rows = statement
            .query_map([], |row| {
                Ok(OutboxEntry {
                    file: row.get(0)?,
                    channel: row.get(1)?,
                    bytes: row.get::<_, i64>(2)? as u64,
                })
            })
            .map_err(sqlite_error)?;
        rows.collect::<Result<_, _>>().map_err(sqlite_error)
    }

    /// One message by name, as it was sent.
    pub fn read(&self, file: &str) -> PortResult<Vec<u8>> {
        self.conn()
            .query_row(
                "SELECT bytes FROM messages WHERE name = ?1",
                [file],
                |row| row.get(0),
            )
            .optional()
            .map_err(sqlite_error)?
            .ok_or_else(|| PortError::NotFound(file.to_string()))
    }

    /// The HTML of an e-mail in the outbox, as its recipient sees it.
    pub fn read_html(&self, eml_file: &str) -> PortResult<Vec<u8>> {
        if !eml_file.ends_with(".eml") {
            return Err(PortError::NotFound(eml_file.to_string()));
        }
        self.read(&format!("{eml_file}.html"))
    }

    /// Keeps a message whole or not at all; the same dedupe key always names the same message, so
    /// a resend replaces rather than adds. Worked on the blocking pool, never on the threads that
    /// serve requests.
    async fn write(&self, dedupe_key: &str, extension: &str, bytes: Vec<u8>) -> PortResult<()> {
        crate::faults::faulty(
            self.faults.as_ref(),
            "a message send",
            false,
            self.write_now(dedupe_key, extension, bytes),
        )
        .await
    }

    async fn write_now(&self, dedupe_key: &str, extension: &str, bytes: Vec<u8>) -> PortResult<()> {
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
        let name = format!("{stem}.{extension}");
        let channel = channel_of(&name).unwrap_or("other");
        let outbox = self.clone();
        tokio::task::spawn_blocking(move || {
            outbox
                .conn()
                .prepare_cached(
                    "INSERT OR REPLACE INTO messages (name, channel, bytes) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut insert| insert.execute(params![name, channel, bytes]))
                .map(|_| ())
                .map_err(sqlite_error)
        })
        .await
        .map_err(|e| PortError::Unavailable(format!("the outbox writer failed: {e}")))?
    }
}

/// Moves the message files an earlier version wrote into `dir` into the table, oldest first, and
/// removes them (and any half-written `.tmp` left by a crash).
fn take_in_files(conn: &Connection, dir: &Path) -> PortResult<()> {
    let mut files = Vec::new();
    for item in std::fs::read_dir(dir).map_err(file_error)? {
        let item = item.map_err(file_error)?;
        let name = item.file_name().to_string_lossy().to_string();
        if name.starts_with('.') && name.ends_with(".tmp") {
            std::fs::remove_file(item.path()).map_err(file_error)?;
        } else if let Some(channel) = channel_of(&name) {
            let modified = item
                .metadata()
                .and_then(|m| m.modified())
                .map_err(file_error)?;
            files.push((modified, name, channel, item.path()));
        }
    }
    files.sort();
    for (_, name, channel, path) in files {
        let bytes = std::fs::read(&path).map_err(file_error)?;
        conn.execute(
            "INSERT OR REPLACE INTO messages (name, channel, bytes) VALUES (?1, ?2, ?3)",
            params![name, channel, bytes],
        )
        .map_err(sqlite_error)?;
        std::fs::remove_file(&path).map_err(file_error)?;
    }
    Ok(())
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

/// Locally a device is reached at the outbox: its push files name it by a hash of the token.
#[async_trait::async_trait]
impl DeviceRegistry for Outbox {
    async fn register(&self, platform: Platform, token: &str) -> PortResult<String> {
        Ok(format!(
            "outbox:{}:{}",
            platform.as_str(),
            cityfix_domain::recipient_hash(token)
        ))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sms(key: &str, body: &str) -> TextMessage {
        TextMessage {
            to: "+18605550100".into(),
            body: body.into(),
            dedupe_key: key.into(),
        }
    }

    #[tokio::test]
    async fn a_message_sent_again_replaces_the_first_and_counts_from_its_last_sending() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        outbox.send_sms(&sms("a/1", "first")).await.unwrap();
        outbox.send_sms(&sms("b/1", "other")).await.unwrap();
        outbox.send_sms(&sms("a/1", "again")).await.unwrap();

        let names: Vec<String> = outbox.list().unwrap().into_iter().map(|e| e.file).collect();
        assert_eq!(names, ["b_1.json", "a_1.json"]);
        let text = String::from_utf8(outbox.read("a_1.json").unwrap()).unwrap();
        assert!(text.contains("again") && !text.contains("first"), "{text}");
        assert!(matches!(
            outbox.read("../cityfix.sqlite"),
            Err(PortError::NotFound(_))
        ));
    }

    #[test]
    fn files_an_earlier_version_wrote_are_taken_in_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old.eml"), "Subject: hello").unwrap();
        std::fs::write(dir.path().join(".half.eml.tmp"), "Subj").unwrap();
        drop(Outbox::open(dir.path()).unwrap());
        let outbox = Outbox::open(dir.path()).unwrap();

        let entries = outbox.list().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (entries[0].file.as_str(), entries[0].channel.as_str()),
            ("old.eml", "email")
        );
        assert_eq!(outbox.read("old.eml").unwrap(), b"Subject: hello");
        assert!(!dir.path().join("old.eml").exists());
        assert!(!dir.path().join(".half.eml.tmp").exists());
    }
}
