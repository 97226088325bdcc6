//! How long each message of the local runner took from being sent to being handled, per queue: the
//! figure CloudWatch shows as a queue's message age, kept as a histogram so memory stays fixed.

use std::sync::Mutex;

use cityfix_app::ports::QueueName;

/// Milliseconds a histogram tells apart; longer waits share the last bucket.
const MAX_MS: usize = 120_000;

/// Per queue, a count of handled messages by whole milliseconds from sent to handled.
#[derive(Default)]
pub struct StageTimes {
    queues: [Mutex<Vec<u64>>; QueueName::ALL.len()],
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
        let mut counts = self.queues[slot(queue)]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if counts.is_empty() {
            counts.resize(MAX_MS + 1, 0);
        }
        counts[(ms as usize).min(MAX_MS)] += 1;
    }

    /// The `q` quantile (0 to 1) of `queue`'s times in milliseconds, and how many were counted.
    pub fn quantile(&self, queue: QueueName, q: f64) -> (u64, u64) {
        let counts = self.queues[slot(queue)]
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

    /// Forgets every count, to measure a new run.
    pub fn reset(&self) {
        for queue in &self.queues {
            queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clear();
        }
    }
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
}
