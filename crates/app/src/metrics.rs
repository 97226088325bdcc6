//! The metrics' counters: each status event announced to notify counted once on the rows its change moves, and read back by day as one reader may see them.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use futures_util::stream::{FuturesUnordered, TryStreamExt};
use serde::Serialize;

use cityfix_domain::metrics::{
    counted_change, DurationSketch, MetricsKey, Tally, SKETCH_LAST_BUCKET,
};
use cityfix_domain::{City, ServiceRequest, TimelineEntry};

use crate::messages::{NotifyEvent, NotifyKind};
use crate::ports::MetricsStore;
use crate::AppError;

/// What counting an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Its tallies were added now.
    Now,
    /// It was counted before (a redelivery); nothing was added.
    Before,
    /// It moves no counter (a note, a follower's confirmation, an answer to a question).
    Nothing,
}

/// Counts the change a notify event was queued for. notify's consumer calls this for every event,
/// because status hands on every change as exactly one such event, again on every redelivery of
/// the change, so an event is never lost between the change and its count; the store remembers
/// the event id, so it is never counted twice. `timeline` is the request's, read by the caller
/// (for the kinds [`counts`] names); `from`, where the request stood before, is the status of the
/// timeline entry before the event's.
pub async fn count_event(
    city: &City,
    metrics: &dyn MetricsStore,
    event: &NotifyEvent,
    request: &ServiceRequest,
    timeline: &[TimelineEntry],
) -> Result<Counted, AppError> {
    if !counts(event.kind) {
        return Ok(Counted::Nothing);
    }
    let Some(entry_id) = event
        .event_id
        .strip_prefix(&format!("{}/", event.request_id))
    else {
        return Ok(Counted::Nothing);
    };
    let Some(at) = timeline.iter().position(|e| e.event_id == entry_id) else {
        return Ok(Counted::Nothing);
    };
    let Some(from) = timeline[..at].iter().rev().find_map(|e| e.status) else {
        return Ok(Counted::Nothing);
    };
    let tallies = counted_change(city, request, &timeline[at], from);
    if tallies.is_empty() {
        return Ok(Counted::Nothing);
    }
    Ok(if metrics.count(&event.event_id, &tallies).await? {
        Counted::Now
    } else {
        Counted::Before
    })
}

/// Whether an event of this kind may move a counter: the changes of status status hands on.
/// Follow, survey and staff notices move none, and their timeline is not read for them.
pub fn counts(kind: NotifyKind) -> bool {
    matches!(
        kind,
        NotifyKind::Acknowledged
            | NotifyKind::Referred
            | NotifyKind::LinkedAsDuplicate
            | NotifyKind::Unlinked
            | NotifyKind::Updated
    )
}

/// Whose counts a reader sees: the read policy of docs/staff-access.md applied to the counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Supervisors and admins: every department, confidential requests left out.
    AllDepartments,
    /// Staff of one department: theirs only, confidential requests left out.
    Department(String),
    /// Ethics: the confidential requests only.
    Confidential,
}

impl Scope {
    /// Whether a row is one this reader may count.
    pub fn sees(&self, key: &MetricsKey) -> bool {
        match self {
            Scope::AllDepartments => !key.confidential,
            Scope::Department(department) => !key.confidential && &key.department == department,
            Scope::Confidential => key.confidential,
        }
    }
}

/// What a metrics answer covers: days from `from` to `to` (both included), optionally one
/// service, department or area, as one reader may see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsFilter {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub service: Option<String>,
    pub department: Option<String>,
    pub area: Option<String>,
    pub scope: Scope,
}

impl MetricsFilter {
    fn keeps(&self, key: &MetricsKey) -> bool {
        let matches =
            |wanted: &Option<String>, value: &str| wanted.as_deref().is_none_or(|w| w == value);
        self.scope.sees(key)
            && matches(&self.service, &key.service)
            && matches(&self.department, &key.department)
            && matches(&self.area, &key.area)
    }
}

/// The counts of a filter's rows, by day and in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Each day that has counts, in order.
    pub days: BTreeMap<NaiveDate, Tally>,
    pub total: Tally,
}

/// Adds up the rows a filter keeps, by day: what the metrics answer and page are drawn from.
pub async fn summarise(
    metrics: &dyn MetricsStore,
    filter: &MetricsFilter,
) -> Result<Summary, AppError> {
    let mut summary = Summary::default();
    for (key, tally) in metrics.tallies(filter.from, filter.to).await? {
        if filter.keeps(&key) {
            summary.days.entry(key.day).or_default().add(&tally);
            summary.total.add(&tally);
        }
    }
    Ok(summary)
}

/// The widest range one metrics answer covers: three years of days.
pub const MAX_ANSWER_DAYS: i64 = 1096;

/// Bucket counts kept as a dense array while rows are added up: adding a row's few buckets to it
/// is an index each, where merging ordered maps row by row would cost a search each.
#[derive(Clone)]
struct DenseSketch(Box<[u64]>);

impl DenseSketch {
    fn new() -> Self {
        DenseSketch(vec![0; SKETCH_LAST_BUCKET as usize + 1].into_boxed_slice())
    }

    fn add(&mut self, sketch: &DurationSketch) {
        for (bucket, count) in &sketch.buckets {
            self.0[(*bucket).min(SKETCH_LAST_BUCKET) as usize] += count;
        }
    }

    fn sketch(&self) -> DurationSketch {
        DurationSketch {
            buckets: self
                .0
                .iter()
                .enumerate()
                .filter(|(_, count)| **count > 0)
                .map(|(bucket, count)| (bucket as u16, *count))
                .collect(),
        }
    }
}

/// The running sum of the rows of one day or one breakdown.
#[derive(Clone)]
struct Sum {
    opened: u64,
    acknowledged: u64,
    closed: u64,
    reopened: u64,
    to_acknowledge: DenseSketch,
    to_close: DenseSketch,
    /// Closings of services with a target (`target_hours`), and how many of them met it.
    closed_with_target: u64,
    within_target: u64,
}

impl Sum {
    fn new() -> Self {
        Sum {
            opened: 0,
            acknowledged: 0,
            closed: 0,
            reopened: 0,
            to_acknowledge: DenseSketch::new(),
            to_close: DenseSketch::new(),
            closed_with_target: 0,
            within_target: 0,
        }
    }

    fn add(&mut self, tally: &Tally, target: Option<(u64, u64)>) {
        self.opened += tally.opened;
        self.acknowledged += tally.acknowledged;
        self.closed += tally.closed;
        self.reopened += tally.reopened;
        self.to_acknowledge.add(&tally.to_acknowledge);
        self.to_close.add(&tally.to_close);
        if let Some((with_target, within)) = target {
            self.closed_with_target += with_target;
            self.within_target += within;
        }
    }

    fn figures(&self) -> Figures {
        let share = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
        Figures {
            opened: self.opened,
            acknowledged: self.acknowledged,
            closed: self.closed,
            reopened: self.reopened,
            to_acknowledge: Durations::of(&self.to_acknowledge.sketch()),
            to_close: Durations::of(&self.to_close.sketch()),
            reopen_rate: share(self.reopened, self.closed),
            target: (self.closed_with_target > 0).then_some(TargetMet {
                closed: self.closed_with_target,
                within: self.within_target,
                share: self.within_target as f64 / self.closed_with_target as f64,
            }),
        }
    }
}

/// How long something took, read from a duration sketch (within about 5% of the true figures).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Durations {
    /// How many durations were counted.
    pub count: u64,
    pub median_seconds: Option<u64>,
    pub p90_seconds: Option<u64>,
}

impl Durations {
    fn of(sketch: &DurationSketch) -> Self {
        let read = |q| sketch.quantile(q).map(|secs| secs.round() as u64);
        Durations {
            count: sketch.count(),
            median_seconds: read(0.5),
            p90_seconds: read(0.9),
        }
    }
}

/// The service level: of the closings of services with a target (`target_hours`, hours from
/// made to closed), how many met it. `within` counts whole sketch buckets ending at or before the
/// target, so it never counts a late closing: the share is at least what it says, and may leave
/// out closings up to a tenth of the target before it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetMet {
    pub closed: u64,
    pub within: u64,
    pub share: f64,
}

/// The figures of a set of counter rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub opened: u64,
    pub acknowledged: u64,
    pub closed: u64,
    pub reopened: u64,
    pub to_acknowledge: Durations,
    pub to_close: Durations,
    /// Reopenings per closing, `None` with no closing.
    pub reopen_rate: Option<f64>,
    /// `None` when nothing closed was of a service with a target.
    pub target: Option<TargetMet>,
}

/// One day's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayFigures {
    pub day: NaiveDate,
    #[serde(flatten)]
    pub figures: Figures,
}

/// One row of a breakdown: a service, department, area or channel, by its key (empty for none:
/// an outside agency's, no area) and the name a person reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    pub key: String,
    pub name: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The metrics answer: the figures of a filter's rows in all, on every day of its range (a day
/// with nothing counted has zeros), and broken down by service, department, area and channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsAnswer {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub total: Figures,
    pub days: Vec<DayFigures>,
    pub by_service: Vec<Part>,
    pub by_department: Vec<Part>,
    pub by_area: Vec<Part>,
    pub by_channel: Vec<Part>,
    /// The rising-concern flags current at `to` (found in its calendar week or the week before),
    /// within the filter and the reader's scope.
    pub rising: Vec<RisingPart>,
}

/// A rising-concern flag as the metrics answer lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RisingPart {
    pub service: String,
    pub service_name: String,
    /// The area (empty for none) and the name a person reads.
    pub area: String,
    pub area_name: String,
    /// The count of the seven days it was found in, and the weekly mean of the eight before.
    pub count: u64,
    pub usual: f64,
    /// The first and last of those seven days.
    pub since: NaiveDate,
    pub to: NaiveDate,
}

/// The flags of `to`'s calendar week and the one before it that `filter` and its reader's scope
/// keep. A flag is of a service that is never confidential (the job leaves those out), so ethics
/// sees none; staff see their department's services' (the department the service routes to by
/// default, as a flag keeps no department).
async fn current_rising(
    city: &City,
    metrics: &dyn MetricsStore,
    filter: &MetricsFilter,
) -> Result<Vec<RisingPart>, AppError> {
    if filter.scope == Scope::Confidential {
        return Ok(Vec::new());
    }
    let flags = crate::rising::current_flags(metrics, filter.to, 2).await?;
    let last_week = cityfix_domain::rising::week_of(filter.to);
    let matches =
        |wanted: &Option<String>, value: &str| wanted.as_deref().is_none_or(|w| w == value);
    Ok(flags
        .into_iter()
        .filter(|flag| flag.week <= last_week)
        .filter_map(|flag| {
            let service = city.service(&flag.service)?;
            let department = service.department.as_str();
            let in_scope = match &filter.scope {
                Scope::Department(mine) => mine == department,
                _ => true,
            };
            (in_scope
                && !service.confidential
                && matches(&filter.service, &flag.service)
                && matches(&filter.department, department)
                && matches(&filter.area, &flag.area))
            .then(|| RisingPart {
                service_name: service.name.clone(),
                area_name: if flag.area.is_empty() {
                    "No area".into()
                } else {
                    flag.area.clone()
                },
                service: flag.service,
                area: flag.area,
                count: flag.count,
                usual: flag.usual,
                since: flag.from,
                to: flag.to,
            })
        })
        .collect())
}

/// Adds up the rows a filter keeps into the metrics answer, reading the store once for the range
/// (one query on SQLite, one per month on DynamoDB) and never a request.
pub async fn answer(
    city: &City,
    metrics: &dyn MetricsStore,
    filter: &MetricsFilter,
) -> Result<MetricsAnswer, AppError> {
    let targets: BTreeMap<&str, i64> = city
        .services
        .iter()
        .filter_map(|s| {
            s.target_hours
                .map(|h| (s.code.as_str(), i64::from(h) * 3600))
        })
        .collect();
    let mut total = Sum::new();
    let mut days: BTreeMap<NaiveDate, Sum> = BTreeMap::new();
    let mut parts: [BTreeMap<String, Sum>; 4] = Default::default();
    // A month a read, all at once: the embedded store reads them on its several readers, DynamoDB
    // queries its month partitions side by side rather than one after another; each month is
    // added up as soon as it is in, while the others are still being read.
    let mut months: FuturesUnordered<_> = months_of(filter.from, filter.to)
        .map(|(from, to)| metrics.tallies(from, to))
        .collect();
    while let Some(month) = months.try_next().await? {
        for (key, tally) in month {
            if !filter.keeps(&key) {
                continue;
            }
            let target = targets
                .get(key.service.as_str())
                .map(|secs| (tally.to_close.count(), tally.to_close.at_most(*secs)));
            total.add(&tally, target);
            days.entry(key.day)
                .or_insert_with(Sum::new)
                .add(&tally, target);
            for (part, name) in
                parts
                    .iter_mut()
                    .zip([&key.service, &key.department, &key.area, &key.channel])
            {
                match part.get_mut(name.as_str()) {
                    Some(sum) => sum.add(&tally, target),
                    None => {
                        let mut sum = Sum::new();
                        sum.add(&tally, target);
                        part.insert(name.clone(), sum);
                    }
                }
            }
        }
    }
    let empty = Sum::new().figures();
    let days = filter
        .from
        .iter_days()
        .take_while(|day| *day <= filter.to)
        .map(|day| DayFigures {
            day,
            figures: days.get(&day).map_or_else(|| empty.clone(), Sum::figures),
        })
        .collect();
    let [services, departments, areas, channels] = parts;
    let listed = |sums: BTreeMap<String, Sum>, name: &dyn Fn(&str) -> String| -> Vec<Part> {
        sums.into_iter()
            .map(|(key, sum)| Part {
                name: name(&key),
                figures: sum.figures(),
                key,
            })
            .collect()
    };
    Ok(MetricsAnswer {
        from: filter.from,
        to: filter.to,
        total: total.figures(),
        days,
        by_service: listed(services, &|code| {
            city.service(code)
                .map_or_else(|| code.to_string(), |s| s.name.clone())
        }),
        by_department: listed(departments, &|id| match city.department(id) {
            Some(department) => department.name.clone(),
            None if id.is_empty() => "An outside agency".into(),
            None => id.to_string(),
        }),
        by_area: listed(areas, &|area| {
            if area.is_empty() {
                "No area".into()
            } else {
                area.to_string()
            }
        }),
        by_channel: listed(channels, &|channel| channel.to_string()),
        rising: current_rising(city, metrics, filter).await?,
    })
}

/// The calendar months a range of days spans, each as its first and last day within the range.
fn months_of(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = (NaiveDate, NaiveDate)> {
    std::iter::successors(Some(from), move |start| {
        let next = start.checked_add_months(Months::new(1))?.with_day(1)?;
        (next <= to).then_some(next)
    })
    .map(move |start| {
        let end = start
            .checked_add_months(Months::new(1))
            .and_then(|next| next.with_day(1))
            .and_then(|next| next.pred_opt())
            .map_or(to, |last| last.min(to));
        (start, end)
    })
}

/// The areas a metrics row can name: those of the layers services route by
/// (`[service.routing] layer`), sorted, each once.
pub fn area_names(city: &City) -> Vec<String> {
    let layers: std::collections::BTreeSet<&str> = city
        .services
        .iter()
        .filter_map(|s| s.routing.layer.as_deref())
        .collect();
    let names: std::collections::BTreeSet<String> = city
        .places
        .layers
        .iter()
        .filter(|layer| layers.contains(layer.id.as_str()))
        .flat_map(|layer| (0..layer.index.len()).map(|i| layer.index.name(i).to_string()))
        .collect();
    names.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_read_a_calendar_month_at_a_time() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let months: Vec<_> = months_of(day(2026, 1, 30), day(2026, 3, 2)).collect();
        assert_eq!(
            months,
            [
                (day(2026, 1, 30), day(2026, 1, 31)),
                (day(2026, 2, 1), day(2026, 2, 28)),
                (day(2026, 3, 1), day(2026, 3, 2)),
            ]
        );
        let one: Vec<_> = months_of(day(2026, 5, 4), day(2026, 5, 4)).collect();
        assert_eq!(one, [(day(2026, 5, 4), day(2026, 5, 4))]);
    }
}
