//! Working an SQS batch the way Lambda expects: each message on its own, failures reported by id.

use std::future::Future;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures_util::stream::{self, StreamExt};
use tracing::Instrument;

/// Messages of one batch worked at the same time.
pub const BATCH_CONCURRENCY: usize = 10;

/// How long a message whose work failed waits before it is worked again in place, each time,
/// before it is given back to the queue. A port's passing failure (a throttled or timed-out call,
/// a dropped connection) is usually gone a moment later, and a message has only the queue's
/// `maxReceiveCount` (4) deliveries before the dead-letter queue, while its handler makes several
/// port calls: at 5 % of calls failing, about one delivery in four failed somewhere, and the proof
/// under faults lost 15 acknowledgements of 400 to the dead-letter queue. The handlers are made
/// for redelivery, so working a message again here is the same as its next delivery, sooner.
pub const RETRIES_IN_PLACE: [std::time::Duration; 2] = [
    std::time::Duration::from_millis(50),
    std::time::Duration::from_millis(250),
];

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
            let body = record.body.unwrap_or_default();
            let mut outcome = work(body.clone(), count).instrument(span.clone()).await;
            for wait in RETRIES_IN_PLACE {
                let Err(error) = &outcome else { break };
                span.in_scope(|| tracing::info!(%error, ?wait, "message failed; working it again"));
                tokio::time::sleep(wait).await;
                outcome = work(body.clone(), count).instrument(span.clone()).await;
            }
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

    #[tokio::test]
    async fn a_passing_failure_is_worked_again_in_place_and_a_lasting_one_given_back() {
        let mut event = SqsEvent::default();
        event.records = vec![
            message(Some("flaky"), "flaky"),
            message(Some("broken"), "broken"),
        ];
        let tries = std::sync::Mutex::new(std::collections::HashMap::<String, usize>::new());
        let response = for_each_message(event, |body| {
            let tries = &tries;
            async move {
                let n = {
                    let mut tries = tries.lock().unwrap();
                    let n = tries.entry(body.clone()).or_default();
                    *n += 1;
                    *n
                };
                // the flaky one fails its first two tries
                if body == "flaky" && n > 2 {
                    Ok(())
                } else {
                    Err(format!("{body} failed"))
                }
            }
        })
        .await;
        let ids: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(ids, ["broken"]);
        let tries = tries.into_inner().unwrap();
        assert_eq!(tries["flaky"], 3);
        assert_eq!(tries["broken"], 1 + RETRIES_IN_PLACE.len());
    }
}
