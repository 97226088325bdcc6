//! A durable queue on SQLite with SQS's semantics: visibility timeout, receive count, dead-letter queue.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::params;
use tokio::sync::Notify;

use crate::sqlite::Db;
use crate::sqlite::{one_row, run, sqlite_error, to_json};
pub use cityfix_app::ports::DeadLetter;
use cityfix_app::ports::{
    DeadLetters, PortResult, Queue, QueueConsumer, QueueName, ReceivedMessage,
};

/// How the queues behave; the defaults mirror template.yaml.
#[derive(Debug, Clone, Copy)]
pub struct QueueSettings {
    /// How long a received message stays hidden before it is delivered again.
    pub visibility_timeout: Duration,
    /// Receives after which a message moves to the dead-letter queue instead.
    pub max_receives: u32,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            visibility_timeout: Duration::from_secs(30),
            max_receives: 4,
        }
    }
}

/// Queues kept in their own SQLite file (see `Db::open_queues`).
#[derive(Clone)]
pub struct EmbeddedQueue {
    db: Db,
    settings: QueueSettings,
    arrivals: Arc<Notify>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// The queues' file in the runner's data folder.
pub const QUEUES_FILE: &str = "queues.sqlite";

/// The name of the dead-letter queue of `queue`.
pub fn dead_letter_name(queue: &str) -> String {
    format!("{queue}-dlq")
}

impl EmbeddedQueue {
    pub fn new(db: Db, settings: QueueSettings) -> Self {
        EmbeddedQueue {
            db,
            settings,
            arrivals: Arc::new(Notify::new()),
        }
    }

    /// The queues of the local runner's data folder `data_dir` (its `queues.sqlite`), for the
    /// operator's commands; a folder without one is refused rather than given an empty one.
    pub fn open_in(data_dir: &std::path::Path) -> PortResult<EmbeddedQueue> {
        let file = data_dir.join(QUEUES_FILE);
        if !file.exists() {
            return Err(cityfix_app::ports::PortError::Unavailable(format!(
                "{} does not exist: is {} the runner's --data folder?",
                file.display(),
                data_dir.display()
            )));
        }
        Ok(EmbeddedQueue::new(
            Db::open_queues(&file)?,
            QueueSettings::default(),
        ))
    }

    /// Sends to a queue by name (including dead-letter queues, for redrive).
    pub async fn send_to(&self, queue: &str, body: &str) -> PortResult<()> {
        self.send_after(queue, body, 0).await
    }

    /// Sends a message that becomes visible `delay_ms` from now.
    async fn send_after(&self, queue: &str, body: &str, delay_ms: i64) -> PortResult<()> {
        let queue = queue.to_string();
        let body = body.to_string();
        self.db
            .call(move |conn| {
                let now = now_ms();
                run(conn,
                    "INSERT INTO queue_messages (id, queue, body, sent_at_ms, visible_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![uuid::Uuid::new_v4().to_string(), queue, body, now, now + delay_ms],
                ).map_err(sqlite_error)?;
                Ok(())
            })
            .await?;
        self.arrivals.notify_waiters();
        Ok(())
    }

    pub fn settings(&self) -> QueueSettings {
        self.settings
    }
}

#[async_trait::async_trait]
impl DeadLetters for EmbeddedQueue {
    async fn dead_letters(
        &self,
        queues: &[QueueName],
        limit: usize,
    ) -> PortResult<Vec<DeadLetter>> {
        let dead: Vec<String> = queues
            .iter()
            .map(|q| dead_letter_name(q.as_str()))
            .collect();
        self.db
            .read(move |conn| {
                let mut statement = conn
                    .prepare(
                        "SELECT id, queue, body, sent_at_ms FROM queue_messages
                         WHERE queue IN (SELECT value FROM json_each(?1))
                         ORDER BY sent_at_ms, id LIMIT ?2",
                    )
                    .map_err(sqlite_error)?;
                let rows = statement
                    .query_map(params![to_json(&dead), limit as i64], |row| {
                        let dead: String = row.get(1)?;
                        Ok(DeadLetter {
                            id: row.get(0)?,
                            queue: dead.trim_end_matches("-dlq").to_string(),
                            body: row.get(2)?,
                            sent_at_ms: row.get(3)?,
                        })
                    })
                    .map_err(sqlite_error)?;
                rows.collect::<Result<_, _>>().map_err(sqlite_error)
            })
            .await
    }

    /// In one transaction, visible at once and with its receives counted afresh.
    async fn redrive(&self, queue: QueueName) -> PortResult<usize> {
        let queue = queue.as_str().to_string();
        let moved = self
            .db
            .call(move |conn| {
                run(
                    conn,
                    "UPDATE queue_messages SET queue = ?1, receive_count = 0, receipt = NULL, visible_at_ms = ?2
                     WHERE queue = ?3",
                    params![queue, now_ms(), dead_letter_name(&queue)],
                )
                .map_err(sqlite_error)
            })
            .await?;
        self.arrivals.notify_waiters();
        Ok(moved)
    }
}

#[async_trait::async_trait]
impl QueueConsumer for EmbeddedQueue {
    /// Receives up to `max` visible messages, hiding them for the visibility timeout. Messages
    /// received `max_receives` times already go to the dead-letter queue instead.
    async fn receive(&self, queue: &str, max: usize) -> PortResult<Vec<ReceivedMessage>> {
        let queue = queue.to_string();
        let settings = self.settings;
        self.db
            .call(move |conn| {
                let now = now_ms();
                let tx = conn.savepoint().map_err(sqlite_error)?;
                // In the order they became visible, which the ready index holds: the first `max`
                // are read whatever the backlog, never sorted from all of it.
                let ready: Vec<(String, String, u32, i64)> = {
                    let mut statement = tx.prepare_cached(
                        "SELECT id, body, receive_count, sent_at_ms FROM queue_messages
                         WHERE queue = ?1 AND visible_at_ms <= ?2 ORDER BY visible_at_ms LIMIT ?3",
                    ).map_err(sqlite_error)?;
                    let rows = statement.query_map(params![queue, now, max as i64], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))).map_err(sqlite_error)?;
                    rows.collect::<Result<_, _>>().map_err(sqlite_error)?
                };
                let hidden_until = now + settings.visibility_timeout.as_millis() as i64;
                let mut received = Vec::with_capacity(ready.len());
                for (id, body, count, sent_at_ms) in ready {
                    if count >= settings.max_receives {
                        tx.prepare_cached(
                            "UPDATE queue_messages SET queue = ?1, receive_count = 0, receipt = NULL, visible_at_ms = ?2 WHERE id = ?3",
                        ).and_then(|mut s| s.execute(params![dead_letter_name(&queue), now, id])).map_err(sqlite_error)?;
                        continue;
                    }
                    let receipt = uuid::Uuid::new_v4().to_string();
                    tx.prepare_cached(
                        "UPDATE queue_messages SET receive_count = receive_count + 1, visible_at_ms = ?1, receipt = ?2 WHERE id = ?3",
                    ).and_then(|mut s| s.execute(params![hidden_until, receipt, id])).map_err(sqlite_error)?;
                    received.push(ReceivedMessage { message_id: id, receipt_handle: receipt, body, receive_count: count + 1, sent_at_ms });
                }
                tx.commit().map_err(sqlite_error)?;
                Ok(received)
            })
            .await
    }

    /// Deletes a handled message. A stale receipt (the message was redelivered since) deletes nothing.
    async fn delete(&self, _queue: &str, receipt_handle: &str) -> PortResult<()> {
        let receipt = receipt_handle.to_string();
        self.db
            .call(move |conn| {
                run(
                    conn,
                    "DELETE FROM queue_messages WHERE receipt = ?1",
                    [receipt],
                )
                .map(|_| ())
                .map_err(sqlite_error)
            })
            .await
    }

    /// Deletes a batch's handled messages in one transaction.
    async fn delete_handled(&self, _queue: &str, receipt_handles: &[String]) -> PortResult<()> {
        if receipt_handles.is_empty() {
            return Ok(());
        }
        let receipts = receipt_handles.to_vec();
        self.db
            .call(move |conn| {
                let tx = conn.savepoint().map_err(sqlite_error)?;
                {
                    let mut delete = tx
                        .prepare_cached("DELETE FROM queue_messages WHERE receipt = ?1")
                        .map_err(sqlite_error)?;
                    for receipt in &receipts {
                        delete.execute([receipt]).map_err(sqlite_error)?;
                    }
                }
                tx.commit().map_err(sqlite_error)
            })
            .await
    }

    /// Messages in a queue, visible or not.
    async fn depth(&self, queue: &str) -> PortResult<u64> {
        let queue = queue.to_string();
        self.db
            .read(move |conn| {
                Ok(one_row(
                    conn,
                    "SELECT COUNT(*) FROM queue_messages WHERE queue = ?1",
                    [queue],
                    |row| row.get::<_, i64>(0),
                )
                .map_err(sqlite_error)? as u64)
            })
            .await
    }

    /// Waits until a message is sent or `timeout` passes, whichever is first.
    async fn wait_for_arrival(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.arrivals.notified()).await;
    }
}

#[async_trait::async_trait]
impl Queue for EmbeddedQueue {
    async fn send(&self, queue: QueueName, body: &str) -> PortResult<()> {
        self.send_to(queue.as_str(), body).await
    }

    async fn send_delayed(
        &self,
        queue: QueueName,
        body: &str,
        delay: std::time::Duration,
    ) -> PortResult<()> {
        let delay = delay.min(cityfix_app::ports::MAX_SEND_DELAY).as_millis() as i64;
        self.send_after(queue.as_str(), body, delay).await
    }
}
