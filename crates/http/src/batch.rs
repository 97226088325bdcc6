//! Working an SQS batch the way Lambda expects: each message on its own, failures reported by id.

use std::future::Future;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures_util::stream::{self, StreamExt};
use tracing::Instrument;

/// Messages of one batch worked at the same time.
pub const BATCH_CONCURRENCY: usize = 10;

/// Runs `work` on each message's body, at most [`BATCH_CONCURRENCY`] at once, and returns the ids
/// of the ones that failed so only those are redelivered. A record without an id cannot be
/// reported as failed, so it is skipped with a log line rather than failing the whole batch.
pub async fn for_each_message<F, Fut>(event: SqsEvent, work: F) -> SqsBatchResponse
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    for_each_counted_message(event, |body, _| work(body)).await
}

/// [`for_each_message`] for work that also needs how many times its message has been received
/// (SQS's `ApproximateReceiveCount`, 1 on the first delivery), to give up on its last try.
pub async fn for_each_counted_message<F, Fut>(event: SqsEvent, work: F) -> SqsBatchResponse
where
    F: Fn(String, u32) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let work = &work;
    let failures: Vec<BatchItemFailure> = stream::iter(event.records)
        .map(|record| async move {
            let Some(message_id) = record.message_id else {
                tracing::error!("skipped an SQS record that has no message id");
                return None;
            };
            let receive_count = record
                .attributes
                .get("ApproximateReceiveCount")
                .cloned()
                .unwrap_or_default();
            let span = tracing::info_span!("message", %message_id, receive_count = %receive_count);
            let count = receive_count.parse().unwrap_or(1);
            let outcome = work(record.body.unwrap_or_default(), count)
                .instrument(span.clone())
                .await;
            match outcome {
                Ok(()) => None,
                Err(error) => {
                    span.in_scope(
                        || tracing::warn!(%error, "message failed; it will be redelivered"),
                    );
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = message_id;
                    Some(failure)
                }
            }
        })
        .buffer_unordered(BATCH_CONCURRENCY)
        .filter_map(|failure| async move { failure })
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

/// The keys of the objects an S3 event names, decoded: S3 sends them URL-encoded in the form way
/// (spaces as `+`). A record without a key is left out.
pub fn s3_object_keys(event: aws_lambda_events::event::s3::S3Event) -> Vec<String> {
    event
        .records
        .into_iter()
        .filter_map(|record| record.s3.object.key)
        .map(|key| {
            form_urlencoded::parse(format!("k={key}").as_bytes())
                .next()
                .map(|(_, k)| k.into_owned())
                .unwrap_or(key)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::event::sqs::SqsMessage;

    use super::*;

    fn message(id: Option<&str>, body: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = id.map(str::to_string);
        message.body = Some(body.to_string());
        message
    }

    #[tokio::test]
    async fn only_failed_messages_are_reported() {
        let mut event = SqsEvent::default();
        event.records = vec![
            message(Some("a"), "ok"),
            message(Some("b"), "fail"),
            message(None, "fail"),
            message(Some("c"), "ok"),
        ];
        let response = for_each_message(event, |body| async move {
            if body == "ok" {
                Ok(())
            } else {
                Err("broken".to_string())
            }
        })
        .await;
        let ids: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(ids, ["b"]);
    }
}
