//! How long each message of the local runner took from being sent to being handled, per queue: the
//! figure CloudWatch shows as a queue's message age, kept as a histogram so memory stays fixed;
//! and how long the handler took with the message's batch (Lambda's duration), apart from the wait.

use std::sync::Mutex;

use cityfix_app::ports::QueueName;

/// Milliseconds a histogram tells apart; longer waits share the last bucket.
const MAX_MS: usize = 120_000;

/// Per queue, a count of handled messages by whole milliseconds from sent to handled, and by
/// whole milliseconds their batch's handler took.
#[derive(Default)]
pub struct StageTimes {
    queues: [Mutex<Vec<u64>>; QueueName::ALL.len()],
    work: [Mutex<Vec<u64>>; QueueName::ALL.len()],
}

fn slot(queue: QueueName) -> usize {
    match queue {
        QueueName::Routing => 0,
        QueueName::Status => 1,
        QueueName::Notify => 2,
        QueueName::Media => 3,
        QueueName::Webhooks => 4,
    }
}

impl StageTimes {
    /// Counts one message of `queue` handled `ms` after it was sent.
    pub fn record(&self, queue: QueueName, ms: u64) {
        count(&self.queues[slot(queue)], ms);
    }

    /// Counts one message of `queue` whose batch the handler took `ms` to work.
    pub fn record_work(&self, queue: QueueName, ms: u64) {
        count(&self.work[slot(queue)], ms);
    }

    /// The `q` quantile (0 to 1) of `queue`'s times in milliseconds from sent to handled, and how
    /// many were counted.
    pub fn quantile(&self, queue: QueueName, q: f64) -> (u64, u64) {
        quantile(&self.queues[slot(queue)], q)
    }

    /// The `q` quantile (0 to 1) of the handler's time on `queue`'s messages in milliseconds.
    pub fn work_quantile(&self, queue: QueueName, q: f64) -> (u64, u64) {
        quantile(&self.work[slot(queue)], q)
    }

    /// The handler's milliseconds summed over `queue`'s handled messages, and how many there
    /// were (a batch's time counts once for each of its messages).
    pub fn work_total(&self, queue: QueueName) -> (u64, u64) {
        let counts = self.work[slot(queue)]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        counts
            .iter()
            .enumerate()
            .fold((0, 0), |(ms, n), (bucket, count)| {
                (ms + bucket as u64 * count, n + count)
            })
    }

    /// Forgets every count, to measure a new run.
    pub fn reset(&self) {
        for queue in self.queues.iter().chain(&self.work) {
            queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clear();
        }
    }
}

fn count(histogram: &Mutex<Vec<u64>>, ms: u64) {
    let mut counts = histogram
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if counts.is_empty() {
        counts.resize(MAX_MS + 1, 0);
    }
    counts[(ms as usize).min(MAX_MS)] += 1;
}

fn quantile(histogram: &Mutex<Vec<u64>>, q: f64) -> (u64, u64) {
    let counts = histogram
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return (0, 0);
    }
    let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (ms, count) in counts.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return (ms as u64, total);
        }
    }
    (MAX_MS as u64, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_counted_times() {
        let times = StageTimes::default();
        for ms in 1..=100 {
            times.record(QueueName::Status, ms);
        }
        times.record(QueueName::Status, 10_000_000);
        assert_eq!(times.quantile(QueueName::Status, 0.5), (51, 101));
        assert_eq!(times.quantile(QueueName::Status, 1.0), (MAX_MS as u64, 101));
        assert_eq!(times.quantile(QueueName::Routing, 0.5), (0, 0));
        times.record_work(QueueName::Notify, 7);
        times.record_work(QueueName::Notify, 7);
        times.record_work(QueueName::Notify, 30);
        assert_eq!(times.work_total(QueueName::Notify), (44, 3));
        assert_eq!(times.work_total(QueueName::Routing), (0, 0));
        times.reset();
        assert_eq!(times.quantile(QueueName::Status, 0.99), (0, 0));
    }

    #[test]
    fn every_queue_has_its_own_counts() {
        let times = StageTimes::default();
        for (n, queue) in QueueName::ALL.into_iter().enumerate() {
            times.record(queue, n as u64 * 10);
        }
        for (n, queue) in QueueName::ALL.into_iter().enumerate() {
            assert_eq!(times.quantile(queue, 0.5), (n as u64 * 10, 1));
        }
    }

    #[test]
    fn the_handlers_time_is_counted_apart_from_the_wait() {
        let times = StageTimes::default();
        times.record(QueueName::Status, 900);
        times.record_work(QueueName::Status, 12);
        assert_eq!(times.quantile(QueueName::Status, 0.5), (900, 1));
        assert_eq!(times.work_quantile(QueueName::Status, 0.5), (12, 1));
        assert_eq!(times.work_quantile(QueueName::Notify, 0.5), (0, 0));
        times.reset();
        assert_eq!(times.work_quantile(QueueName::Status, 0.5), (0, 0));
    }
}
