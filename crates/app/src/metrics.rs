//! The metrics' counters: each status event announced to notify counted once on the rows its change moves, and read back by day as one reader may see them.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use cityfix_domain::metrics::{counted_change, MetricsKey, Tally};
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
