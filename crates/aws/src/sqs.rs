//! The queues on SQS: what functions send, and what the `--backend aws` runner receives as Lambda's event source mapping would.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sqs::types::{
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use aws_sdk_sqs::Client;

use cityfix_app::ports::{PortError, PortResult, Queue, QueueConsumer, QueueName, ReceivedMessage};

/// SQS queues by the names the code uses (`routing`, `routing-dlq`, …) → queue URL.
#[derive(Clone)]
pub struct SqsQueues {
    client: Client,
    urls: HashMap<String, String>,
}

fn unavailable(what: &str, error: impl std::fmt::Display) -> PortError {
    PortError::Unavailable(format!("sqs {what}: {error}"))
}

impl SqsQueues {
    pub fn new(client: Client, urls: HashMap<String, String>) -> Self {
        SqsQueues { client, urls }
    }

    fn url(&self, queue: &str) -> PortResult<&str> {
        self.urls
            .get(queue)
            .map(String::as_str)
            .ok_or_else(|| PortError::NotFound(format!("no queue URL is configured for `{queue}`")))
    }
}

#[async_trait::async_trait]
impl Queue for SqsQueues {
    async fn send(&self, queue: QueueName, body: &str) -> PortResult<()> {
        self.client
            .send_message()
            .queue_url(self.url(queue.as_str())?)
            .message_body(body)
            .send()
            .await
            .map_err(|e| unavailable("send", e.into_service_error()))?;
        Ok(())
    }

    /// SendMessage with `DelaySeconds`.
    async fn send_delayed(
        &self,
        queue: QueueName,
        body: &str,
        delay: std::time::Duration,
    ) -> PortResult<()> {
        let seconds = delay.min(cityfix_app::ports::MAX_SEND_DELAY).as_secs() as i32;
        self.client
            .send_message()
            .queue_url(self.url(queue.as_str())?)
            .message_body(body)
            .delay_seconds(seconds)
            .send()
            .await
            .map_err(|e| unavailable("send delayed", e.into_service_error()))?;
        Ok(())
    }

    /// SendMessageBatch, ten messages a call (SQS's most).
    async fn send_batch(&self, queue: QueueName, bodies: &[String]) -> PortResult<()> {
        let url = self.url(queue.as_str())?.to_string();
        self.send_batch_to(&url, bodies).await
    }
}

impl SqsQueues {
    /// SendMessageBatch to the queue at `url`, ten messages a call.
    async fn send_batch_to(&self, url: &str, bodies: &[String]) -> PortResult<()> {
        for (chunk_number, chunk) in bodies.chunks(10).enumerate() {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(n, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(format!("m{}", chunk_number * 10 + n))
                        .message_body(body)
                        .build()
                        .map_err(|e| unavailable("batch entry", e))
                })
                .collect::<PortResult<Vec<_>>>()?;
            let answer = self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| unavailable("send batch", e.into_service_error()))?;
            let failed: Vec<String> = answer
                .failed
                .iter()
                .map(|f| format!("{} ({})", f.id, f.code))
                .collect();
            if !failed.is_empty() {
                return Err(unavailable(
                    "send batch",
                    format!("not sent: {}", failed.join(", ")),
                ));
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl QueueConsumer for SqsQueues {
    async fn receive(&self, queue: &str, max: usize) -> PortResult<Vec<ReceivedMessage>> {
        let answer = self
            .client
            .receive_message()
            .queue_url(self.url(queue)?)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| unavailable("receive", e.into_service_error()))?;
        Ok(answer
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|message| {
                let attributes = message.attributes.unwrap_or_default();
                let number = |name: MessageSystemAttributeName| {
                    attributes
                        .get(&name)
                        .and_then(|v| v.parse::<i64>().ok())
                        .unwrap_or_default()
                };
                Some(ReceivedMessage {
                    receive_count: number(MessageSystemAttributeName::ApproximateReceiveCount)
                        as u32,
                    sent_at_ms: number(MessageSystemAttributeName::SentTimestamp),
                    message_id: message.message_id?,
                    receipt_handle: message.receipt_handle?,
                    body: message.body.unwrap_or_default(),
                })
            })
            .collect())
    }

    async fn delete(&self, queue: &str, receipt_handle: &str) -> PortResult<()> {
        let deleted = self
            .client
            .delete_message()
            .queue_url(self.url(queue)?)
            .receipt_handle(receipt_handle)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            // An expired or unknown receipt is not an error: the message is either gone or will come back.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_receipt_handle_is_invalid()) =>
            {
                Ok(())
            }
            Err(error) => Err(unavailable("delete", error.into_service_error())),
        }
    }

    async fn depth(&self, queue: &str) -> PortResult<u64> {
        let answer = self
            .client
            .get_queue_attributes()
            .queue_url(self.url(queue)?)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| unavailable("attributes", e.into_service_error()))?;
        let attributes = answer.attributes.unwrap_or_default();
        let count = |name: QueueAttributeName| {
            attributes
                .get(&name)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or_default()
        };
        Ok(count(QueueAttributeName::ApproximateNumberOfMessages)
            + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
    }

    async fn wait_for_arrival(&self, timeout: Duration) {
        tokio::time::sleep(timeout).await;
    }
}

/// How long listing the dead letters hides each it has seen, so that one listing sees each once;
/// they are made visible again as soon as it is done.
const LISTING_HIDES_SECS: i32 = 10;

/// How long a redrive hides the dead letters it is moving (sent on, then deleted).
const REDRIVE_HIDES_SECS: i32 = 60;

impl SqsQueues {
    /// The URL of `queue`'s dead-letter queue: the one configured as `<queue>-dlq`, else the
    /// target of its redrive policy (as template.yaml gives every queue), so an operator needs
    /// only the queues' own URLs.
    async fn dead_letter_url(&self, queue: QueueName) -> PortResult<String> {
        if let Some(url) = self.urls.get(&format!("{}-dlq", queue.as_str())) {
            return Ok(url.clone());
        }
        let answer = self
            .client
            .get_queue_attributes()
            .queue_url(self.url(queue.as_str())?)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| unavailable("attributes", e.into_service_error()))?;
        let no_policy = || {
            PortError::NotFound(format!(
                "the {} queue has no dead-letter queue (no redrive policy)",
                queue.as_str()
            ))
        };
        let policy = answer
            .attributes
            .unwrap_or_default()
            .remove(&QueueAttributeName::RedrivePolicy)
            .ok_or_else(no_policy)?;
        let policy: serde_json::Value =
            serde_json::from_str(&policy).map_err(|e| unavailable("redrive policy", e))?;
        let name = policy["deadLetterTargetArn"]
            .as_str()
            .and_then(|arn| arn.rsplit(':').next())
            .ok_or_else(no_policy)?;
        self.client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| unavailable("queue URL", e.into_service_error()))?
            .queue_url
            .ok_or_else(no_policy)
    }

    /// Up to ten messages of the queue at `url`, hidden for `hide_secs` (a one-second long poll,
    /// so that an empty answer means the queue is empty, not that the servers asked were).
    async fn take(
        &self,
        url: &str,
        hide_secs: i32,
    ) -> PortResult<Vec<aws_sdk_sqs::types::Message>> {
        Ok(self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(hide_secs)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| unavailable("receive", e.into_service_error()))?
            .messages
            .unwrap_or_default())
    }
}

#[async_trait::async_trait]
impl cityfix_app::ports::DeadLetters for SqsQueues {
    /// Received with a short visibility timeout and made visible again at once (SQS has no
    /// look without a receive; a dead-letter queue has no receive limit, so this costs nothing).
    async fn dead_letters(
        &self,
        queues: &[QueueName],
        limit: usize,
    ) -> PortResult<Vec<cityfix_app::ports::DeadLetter>> {
        let mut letters = Vec::new();
        for &queue in queues {
            let url = self.dead_letter_url(queue).await?;
            let mut seen = std::collections::HashSet::new();
            let mut receipts = Vec::new();
            while letters.len() < limit {
                let taken = self.take(&url, LISTING_HIDES_SECS).await?;
                let before = letters.len();
                for message in taken {
                    let (Some(id), Some(receipt)) = (message.message_id, message.receipt_handle)
                    else {
                        continue;
                    };
                    receipts.push(receipt);
                    if seen.insert(id.clone()) {
                        let sent_at_ms = message
                            .attributes
                            .unwrap_or_default()
                            .get(&MessageSystemAttributeName::SentTimestamp)
                            .and_then(|v| v.parse().ok())
                            .unwrap_or_default();
                        letters.push(cityfix_app::ports::DeadLetter {
                            id,
                            queue: queue.as_str().to_string(),
                            body: message.body.unwrap_or_default(),
                            sent_at_ms,
                        });
                    }
                }
                if letters.len() == before {
                    break;
                }
            }
            for receipt in receipts {
                // Visible again for the next look or a redrive; one left hidden comes back by itself.
                let _ = self
                    .client
                    .change_message_visibility()
                    .queue_url(&url)
                    .receipt_handle(receipt)
                    .visibility_timeout(0)
                    .send()
                    .await;
            }
        }
        letters.sort_by(|a, b| (a.sent_at_ms, &a.id).cmp(&(b.sent_at_ms, &b.id)));
        letters.truncate(limit);
        Ok(letters)
    }

    /// Ten at a time: sent to the queue, then deleted from the dead-letter queue. A failure in
    /// between sends one twice (the handlers take that in their stride); none is ever lost.
    async fn redrive(&self, queue: QueueName) -> PortResult<usize> {
        let dead = self.dead_letter_url(queue).await?;
        let target = self.url(queue.as_str())?.to_string();
        let mut moved = 0;
        loop {
            let taken = self.take(&dead, REDRIVE_HIDES_SECS).await?;
            if taken.is_empty() {
                return Ok(moved);
            }
            let bodies: Vec<String> = taken
                .iter()
                .map(|m| m.body.clone().unwrap_or_default())
                .collect();
            self.send_batch_to(&target, &bodies).await?;
            let entries = taken
                .iter()
                .enumerate()
                .filter_map(|(n, m)| {
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(format!("m{n}"))
                        .set_receipt_handle(m.receipt_handle.clone())
                        .build()
                        .ok()
                })
                .collect();
            self.client
                .delete_message_batch()
                .queue_url(&dead)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| unavailable("delete batch", e.into_service_error()))?;
            moved += taken.len();
        }
    }
}
