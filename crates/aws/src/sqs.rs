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
        let url = self.url(queue.as_str())?;
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
