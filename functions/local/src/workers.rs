//! Queue consumers of the local runner: poll the embedded queues and call the worker handlers with SQS batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use cityfix_app::fetch::FetchDeps;
use cityfix_app::notify::NotifyDeps;
use cityfix_app::ports::{QueueConsumer, QueueName, ReceivedMessage};
use cityfix_app::route::RouterDeps;
use cityfix_app::sweep::SchedulerDeps;
use cityfix_app::transition::StatusDeps;
use cityfix_app::webhooks::WebhookDeps;
use tokio::sync::watch;

use crate::stages::StageTimes;
use tokio::task::JoinHandle;

/// Messages per batch, as Lambda's SQS event source mapping is configured.
const BATCH_SIZE: usize = 10;
/// Batches of one queue worked at once, as Lambda runs several instances of a busy function.
pub const CONSUMERS_PER_QUEUE: usize = 4;
/// Further tries of deleting a batch's handled messages when the queue fails.
const DELETE_RETRIES: usize = 2;
/// How long a consumer waits for new messages before looking again.
const IDLE_POLL: Duration = Duration::from_millis(250);
/// How often the scheduler's jobs run (the sweep, breach notices, archiving): more often than
/// on AWS, where they run every minute, so a lost routing job is found soon on a laptop too.
const TICK_EVERY: Duration = Duration::from_secs(30);

/// The worker functions' dependencies.
pub struct Functions {
    pub router: RouterDeps,
    pub status: StatusDeps,
    pub notify: NotifyDeps,
    /// Photos fetched from Open311 clients' `media_url`.
    pub fetch: FetchDeps,
    /// Deliveries to the city's webhooks.
    pub webhooks: WebhookDeps,
}

/// Where the consumers take their messages from and report how long each took.
#[derive(Clone)]
pub struct Consumers {
    pub functions: Arc<Functions>,
    pub queue: Arc<dyn QueueConsumer>,
    pub stages: Arc<StageTimes>,
    /// The data folder's state: while it takes no writes (disk full, read-only) the consumers
    /// take no messages, so none spends its receives on writes bound to fail and lands in a
    /// dead-letter queue; they go on by themselves once a probe write goes through.
    pub storage: Option<cityfix_embedded::StorageWatch>,
}

/// Starts [`CONSUMERS_PER_QUEUE`] consumers on each queue, and the scheduler's timer.
pub fn spawn(
    consumers: Consumers,
    scheduler: SchedulerDeps,
    stopped: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let mut tasks: Vec<JoinHandle<()>> = QueueName::ALL
        .into_iter()
        .flat_map(|name| std::iter::repeat_n(name, CONSUMERS_PER_QUEUE))
        .map(|name| tokio::spawn(consume(consumers.clone(), name, stopped.clone())))
        .collect();
    tasks.push(tokio::spawn(tick(scheduler, stopped)));
    tasks
}

async fn consume(consumers: Consumers, name: QueueName, mut stopped: watch::Receiver<bool>) {
    let Consumers {
        functions,
        queue,
        stages,
        storage,
    } = consumers;
    while !*stopped.borrow() {
        if let Some(storage) = &storage {
            if !storage.takes_writes().await {
                tokio::select! {
                    _ = tokio::time::sleep(cityfix_embedded::storage::PROBE_EVERY) => {}
                    _ = stopped.changed() => {}
                }
                continue;
            }
        }
        let received = match queue.receive(name.as_str(), BATCH_SIZE).await {
            Ok(received) => received,
            Err(error) => {
                tracing::error!(queue = name.as_str(), %error, "cannot receive");
                Vec::new()
            }
        };
        if received.is_empty() {
            tokio::select! {
                _ = queue.wait_for_arrival(IDLE_POLL) => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        let receipts: HashMap<String, (String, i64)> = received
            .iter()
            .map(|m| {
                (
                    m.message_id.clone(),
                    (m.receipt_handle.clone(), m.sent_at_ms),
                )
            })
            .collect();
        let event = sqs_event(name, &received);
        let started = std::time::Instant::now();
        let response: SqsBatchResponse = match name {
            QueueName::Routing => router::handle(&functions.router, event).await,
            QueueName::Status => status::handle(&functions.status, event).await,
            QueueName::Notify => notify::handle(&functions.notify, event).await,
            QueueName::Media => media::fetch::handle(&functions.fetch, event).await,
            QueueName::Webhooks => notify::webhooks::handle(&functions.webhooks, event).await,
        };
        let worked_ms = started.elapsed().as_millis() as u64;
        let mut handled = Vec::with_capacity(receipts.len());
        let now_ms = chrono::Utc::now().timestamp_millis();
        for (message_id, (receipt, sent_at_ms)) in receipts {
            if response
                .batch_item_failures
                .iter()
                .any(|failure| failure.item_identifier == message_id)
            {
                continue;
            }
            stages.record(name, (now_ms - sent_at_ms).max(0) as u64);
            stages.record_work(name, worked_ms);
            handled.push(receipt);
        }
        // A handled message left undeleted comes back and spends a receive for nothing (enough
        // such, with the receives whose answer was lost, took healthy messages to the dead-letter
        // queue under the faults proof), so a failed delete is tried twice more at once.
        let mut deleted = queue.delete_handled(name.as_str(), &handled).await;
        for _ in 0..DELETE_RETRIES {
            if deleted.is_ok() {
                break;
            }
            deleted = queue.delete_handled(name.as_str(), &handled).await;
        }
        if let Err(error) = deleted {
            tracing::error!(queue = name.as_str(), %error, "cannot delete handled messages");
        }
    }
}

/// The batch Lambda would hand the function for these messages.
pub fn sqs_event(name: QueueName, messages: &[ReceivedMessage]) -> SqsEvent {
    let records = messages
        .iter()
        .map(|m| {
            let mut message = SqsMessage::default();
            message.message_id = Some(m.message_id.clone());
            message.receipt_handle = Some(m.receipt_handle.clone());
            message.body = Some(m.body.clone());
            message.attributes = HashMap::from([
                (
                    "ApproximateReceiveCount".to_string(),
                    m.receive_count.to_string(),
                ),
                ("SentTimestamp".to_string(), m.sent_at_ms.to_string()),
            ]);
            message.event_source = Some("aws:sqs".into());
            message.event_source_arn = Some(format!(
                "arn:aws:sqs:local:000000000000:cityfix-{}",
                name.as_str()
            ));
            message.aws_region = Some("local".into());
            message
        })
        .collect();
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

/// The scheduler's timer: runs the scheduler function's jobs every [`TICK_EVERY`], as the
/// EventBridge schedule does on AWS.
async fn tick(deps: SchedulerDeps, mut stopped: watch::Receiver<bool>) {
    let event = serde_json::json!({ "resources": ["local-timer"] });
    while !*stopped.borrow() {
        if let Err(error) = scheduler::handle(&deps, event.clone()).await {
            tracing::error!(%error, "a scheduler job failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK_EVERY) => {}
            _ = stopped.changed() => {}
        }
    }
}
