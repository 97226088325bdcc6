//! What the metrics count: which counters a status change moves, and a mergeable sketch of how long things took.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{City, ServiceRequest, Status, TimelineEntry};

/// The growth factor of the sketch's buckets: bucket `k ≥ 1` holds durations from `γ^(k-1)` up to
/// `γ^k` seconds, so a quantile read from it is within about 5% of the true duration.
pub const SKETCH_GAMMA: f64 = 1.1;

/// The last bucket: `γ^400` seconds is far beyond any request's life; longer goes in it too.
pub const SKETCH_LAST_BUCKET: u16 = 400;

/// Durations (in seconds) kept as counts in fixed log-spaced buckets rather than as a list: two
/// sketches merge by adding their counts, so a day's sketches add up to a year's, whatever the
/// order they were counted in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurationSketch {
    /// Bucket → how many durations fell in it (bucket 0: under a second).
    pub buckets: BTreeMap<u16, u64>,
}

impl DurationSketch {
    /// The bucket a duration of `secs` seconds falls in.
    pub fn bucket_of(secs: i64) -> u16 {
        if secs < 1 {
            return 0;
        }
        let k = ((secs as f64).ln() / SKETCH_GAMMA.ln()).floor() as i64 + 1;
        k.clamp(1, SKETCH_LAST_BUCKET as i64) as u16
    }

    /// The duration a bucket stands for: the geometric middle of its range.
    pub fn value_of(bucket: u16) -> f64 {
        if bucket == 0 {
            return 0.0;
        }
        SKETCH_GAMMA.powf(bucket as f64 - 0.5)
    }

    /// A sketch of one duration.
    pub fn of(secs: i64) -> Self {
        let mut sketch = DurationSketch::default();
        sketch.record(secs);
        sketch
    }

    pub fn record(&mut self, secs: i64) {
        *self.buckets.entry(Self::bucket_of(secs)).or_default() += 1;
    }

    pub fn merge(&mut self, other: &DurationSketch) {
        for (bucket, count) in &other.buckets {
            *self.buckets.entry(*bucket).or_default() += count;
        }
    }

    pub fn count(&self) -> u64 {
        self.buckets.values().sum()
    }

    /// The `q`-quantile (0.5 the median, 0.9 the p90) in seconds, `None` when empty: the value of
    /// the bucket holding the `⌈q·n⌉`-th shortest duration.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (bucket, count) in &self.buckets {
            seen += count;
            if seen >= rank {
                return Some(Self::value_of(*bucket));
            }
        }
        None
    }

    /// How many durations were at most `secs` seconds, counting whole buckets (those whose range
    /// ends at or before `secs`): for SLA compliance, never an overcount.
    pub fn at_most(&self, secs: i64) -> u64 {
        self.buckets
            .iter()
            .filter(|(bucket, _)| {
                **bucket == 0 || SKETCH_GAMMA.powi(**bucket as i32) <= secs as f64
            })
            .map(|(_, count)| count)
            .sum()
    }
}

/// What one counter row is about: a day in the city's time zone, the service, department, area
/// and channel, and whether the service is confidential (counted apart, shown to ethics only).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MetricsKey {
    pub day: NaiveDate,
    pub service: String,
    /// The department it was routed to; empty for a request referred to an outside agency.
    pub department: String,
    /// The area of its service's routing layer the request is in; empty when the service routes by
    /// no layer or the point is in none of its areas.
    pub area: String,
    pub channel: String,
    pub confidential: bool,
}

/// The counts of one row: how many requests were made, acknowledged, closed and reopened, and how
/// long acknowledging and closing took (from when each was made). Tallies add up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub opened: u64,
    pub acknowledged: u64,
    pub closed: u64,
    pub reopened: u64,
    pub to_acknowledge: DurationSketch,
    pub to_close: DurationSketch,
}

impl Tally {
    pub fn add(&mut self, other: &Tally) {
        self.opened += other.opened;
        self.acknowledged += other.acknowledged;
        self.closed += other.closed;
        self.reopened += other.reopened;
        self.to_acknowledge.merge(&other.to_acknowledge);
        self.to_close.merge(&other.to_close);
    }

    pub fn is_empty(&self) -> bool {
        *self == Tally::default()
    }
}

/// The counter changes one status change makes, each on its own row: a request leaving
/// `submitted` was made (on the day it was made); routed to a department, it was acknowledged;
/// becoming `closed`, it was closed; leaving `closed` for `open`, it was reopened (an unmerge
/// too). Every other change counts nothing (an empty list). `from` is where it stood before.
pub fn counted_change(
    city: &City,
    request: &ServiceRequest,
    entry: &TimelineEntry,
    from: Status,
) -> Vec<(MetricsKey, Tally)> {
    let Some(to) = entry.status else {
        return Vec::new();
    };
    if from == to {
        return Vec::new();
    }
    let key_on = |at: DateTime<Utc>| metrics_key(city, request, at);
    let took = (entry.at - request.requested_at).num_seconds();
    let mut counted = Vec::new();
    if from == Status::Submitted {
        counted.push((
            key_on(request.requested_at),
            Tally {
                opened: 1,
                ..Tally::default()
            },
        ));
    }
    let mut now = Tally::default();
    match (from, to) {
        (Status::Submitted, Status::Open) => {
            now.acknowledged = 1;
            now.to_acknowledge.record(took);
        }
        (Status::Closed, Status::Open) => now.reopened = 1,
        (_, Status::Closed) => {
            now.closed = 1;
            now.to_close.record(took);
        }
        _ => {}
    }
    if !now.is_empty() {
        let key = key_on(entry.at);
        // One row is written once per event (DynamoDB takes one operation per item in a
        // transaction): made and acknowledged the same day add up on it.
        match counted.iter_mut().find(|(made, _)| *made == key) {
            Some((_, made)) => made.add(&now),
            None => counted.push((key, now)),
        }
    }
    counted
}

/// The row a request's counts go to for something that happened `at`.
pub fn metrics_key(city: &City, request: &ServiceRequest, at: DateTime<Utc>) -> MetricsKey {
    let service = city.service(&request.service_code);
    let area = service
        .and_then(|s| s.routing.layer.as_ref())
        .and_then(|layer| request.areas.get(layer))
        .cloned()
        .unwrap_or_default();
    MetricsKey {
        day: at.with_timezone(&city.timezone).date_naive(),
        service: request.service_code.clone(),
        department: request.department.clone().unwrap_or_default(),
        area,
        channel: request.channel.clone(),
        confidential: service.is_some_and(|s| s.confidential),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_within_five_percent_of_the_true_ones() {
        // given the durations 1..=1000 minutes, in seconds
        let mut sketch = DurationSketch::default();
        for minutes in 1..=1000 {
            sketch.record(minutes * 60);
        }
        // then the median is about 500 minutes and the p90 about 900
        let median = sketch.quantile(0.5).unwrap();
        let p90 = sketch.quantile(0.9).unwrap();
        assert!((median / 30_000.0 - 1.0).abs() < 0.05, "median {median}");
        assert!((p90 / 54_000.0 - 1.0).abs() < 0.05, "p90 {p90}");
        assert_eq!(sketch.count(), 1000);
        assert_eq!(DurationSketch::default().quantile(0.5), None);
    }

    #[test]
    fn sketches_merged_in_any_order_are_the_same_sketch() {
        let (mut a, mut b) = (DurationSketch::of(10), DurationSketch::of(86_400));
        a.record(0);
        b.record(3_600);
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab, ba);
        assert_eq!(ab.count(), 4);
    }

    #[test]
    fn at_most_never_counts_a_duration_over_the_limit() {
        let mut sketch = DurationSketch::default();
        for secs in [60, 3_500, 3_700, 7_200] {
            sketch.record(secs);
        }
        let within = sketch.at_most(3_600);
        assert!((1..=2).contains(&within), "{within}");
        assert_eq!(sketch.at_most(1_000_000), 4);
    }
}
