//! The queue contract: SQS semantics that the functions rely on.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use cityfix_app::ports::{DeadLetters, Queue, QueueConsumer, QueueName};

/// A queue adapter seen from both ends, and by the operator.
pub trait BothEnds: Queue + QueueConsumer + DeadLetters {}
impl<T: Queue + QueueConsumer + DeadLetters> BothEnds for T {}

/// Makes fresh queues with this visibility timeout (whole seconds, as SQS has them) and maximum receive count.
pub trait MakeQueue: Fn(u32, u32) -> Self::Made {
    type Made: Future<Output = Arc<dyn BothEnds>>;
}
impl<F, Fut> MakeQueue for F
where
    F: Fn(u32, u32) -> Fut,
    Fut: Future<Output = Arc<dyn BothEnds>>,
{
    type Made = Fut;
}

const ROUTING: &str = "routing";
/// Long enough for a one-second visibility timeout to pass.
const PAST_TIMEOUT: Duration = Duration::from_millis(1300);

pub async fn a_sent_message_is_received_once_and_deleted(make: &impl MakeQueue) {
    let queue = make(30, 4).await;
    queue.send(QueueName::Routing, r#"{"n":1}"#).await.unwrap();
    let received = queue.receive(ROUTING, 10).await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, r#"{"n":1}"#);
    assert_eq!(received[0].receive_count, 1);
    assert!(
        queue.receive(ROUTING, 10).await.unwrap().is_empty(),
        "a received message is hidden"
    );
    queue
        .delete(ROUTING, &received[0].receipt_handle)
        .await
        .unwrap();
    assert_eq!(queue.depth(ROUTING).await.unwrap(), 0);
}

pub async fn a_delayed_message_is_received_only_after_its_delay(make: &impl MakeQueue) {
    let queue = make(30, 4).await;
    queue
        .send_delayed(QueueName::Routing, "later", Duration::from_secs(1))
        .await
        .unwrap();
    queue.send(QueueName::Routing, "now").await.unwrap();
    let first = queue.receive(ROUTING, 10).await.unwrap();
    let bodies: Vec<&str> = first.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["now"], "a delayed message is not visible yet");
    tokio::time::sleep(PAST_TIMEOUT).await;
    let later = queue.receive(ROUTING, 10).await.unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].body, "later");
    assert_eq!(later[0].receive_count, 1);
}

pub async fn an_unacknowledged_message_comes_back_after_the_timeout(make: &impl MakeQueue) {
    let queue = make(1, 4).await;
    queue.send(QueueName::Routing, "again").await.unwrap();
    let first = queue.receive(ROUTING, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    tokio::time::sleep(PAST_TIMEOUT).await;
    let second = queue.receive(ROUTING, 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].message_id, first[0].message_id);
    assert_eq!(second[0].receive_count, 2);
}

pub async fn a_message_received_too_often_goes_to_the_dead_letter_queue(make: &impl MakeQueue) {
    let queue = make(1, 2).await;
    queue.send(QueueName::Routing, "poison").await.unwrap();
    for _ in 0..2 {
        assert_eq!(queue.receive(ROUTING, 10).await.unwrap().len(), 1);
        tokio::time::sleep(PAST_TIMEOUT).await;
    }
    assert!(
        queue.receive(ROUTING, 10).await.unwrap().is_empty(),
        "after the maximum receives it is not delivered again"
    );
    let dead = queue.receive("routing-dlq", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
}

/// The operator lists what a queue gave up on, without taking it away, and a redrive puts it
/// back to be handled afresh (its receives counted anew).
pub async fn dead_letters_are_listed_and_redriven_to_be_handled_again(make: &impl MakeQueue) {
    let queue = make(1, 1).await;
    for body in ["poison 1", "poison 2"] {
        queue.send(QueueName::Routing, body).await.unwrap();
    }
    queue.send(QueueName::Status, "healthy").await.unwrap();
    assert_eq!(queue.receive(ROUTING, 10).await.unwrap().len(), 2);
    tokio::time::sleep(PAST_TIMEOUT).await;
    assert!(queue.receive(ROUTING, 10).await.unwrap().is_empty());

    let queues = [QueueName::Routing, QueueName::Status];
    let listed = queue.dead_letters(&queues, 10).await.unwrap();
    let mut bodies: Vec<&str> = listed.iter().map(|l| l.body.as_str()).collect();
    bodies.sort();
    assert_eq!(bodies, ["poison 1", "poison 2"], "{listed:?}");
    assert!(listed
        .iter()
        .all(|l| l.queue == ROUTING && l.sent_at_ms > 0));
    assert_eq!(
        queue.dead_letters(&queues, 1).await.unwrap().len(),
        1,
        "at most the limit"
    );
    assert_eq!(
        queue.dead_letters(&queues, 10).await.unwrap().len(),
        2,
        "listing leaves them where they are"
    );

    assert_eq!(queue.redrive(QueueName::Routing).await.unwrap(), 2);
    assert!(queue.dead_letters(&queues, 10).await.unwrap().is_empty());
    let again = queue.receive(ROUTING, 10).await.unwrap();
    assert_eq!(again.len(), 2, "back on their queue");
    assert!(again.iter().all(|m| m.receive_count == 1), "{again:?}");
    assert_eq!(queue.redrive(QueueName::Status).await.unwrap(), 0);
}

/// A message that came back is deleted with the receipt of its latest receive, without error even
/// if an earlier receipt is used first. (Whether a stale receipt deletes it differs: SQS and moto
/// may, the embedded queue does not, so nothing may rely on either.)
pub async fn a_redelivered_message_is_deleted_by_its_latest_receipt(make: &impl MakeQueue) {
    let queue = make(1, 4).await;
    queue.send(QueueName::Routing, "slow").await.unwrap();
    let first = queue.receive(ROUTING, 10).await.unwrap();
    tokio::time::sleep(PAST_TIMEOUT).await;
    let second = queue.receive(ROUTING, 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].message_id, first[0].message_id);
    queue
        .delete(ROUTING, &first[0].receipt_handle)
        .await
        .unwrap();
    queue
        .delete(ROUTING, &second[0].receipt_handle)
        .await
        .unwrap();
    assert_eq!(queue.depth(ROUTING).await.unwrap(), 0);
    tokio::time::sleep(PAST_TIMEOUT).await;
    assert!(
        queue.receive(ROUTING, 10).await.unwrap().is_empty(),
        "a deleted message never comes back"
    );
}

pub async fn queues_are_separate(make: &impl MakeQueue) {
    let queue = make(30, 4).await;
    queue.send(QueueName::Notify, "for notify").await.unwrap();
    assert!(queue.receive(ROUTING, 10).await.unwrap().is_empty());
    assert_eq!(
        queue.receive("notify", 10).await.unwrap()[0].body,
        "for notify"
    );
}

pub async fn a_batch_is_sent_whole(make: &impl MakeQueue) {
    let queue = make(30, 4).await;
    let bodies: Vec<String> = (0..13).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    queue.send_batch(QueueName::Routing, &bodies).await.unwrap();
    let mut received = Vec::new();
    for _ in 0..10 {
        let batch = queue.receive(ROUTING, 10).await.unwrap();
        if batch.is_empty() && received.len() == bodies.len() {
            break;
        }
        received.extend(batch.into_iter().map(|m| m.body));
    }
    received.sort();
    let mut expected = bodies.clone();
    expected.sort();
    assert_eq!(received, expected, "all 13 arrive, once each");
}
