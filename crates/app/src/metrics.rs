//! Keeping the metrics' counters: each status event announced to notify is counted once, on the rows its change moves.

use cityfix_domain::metrics::counted_change;
use cityfix_domain::City;

use crate::messages::{NotifyEvent, NotifyKind};
use crate::ports::{MetricsStore, RequestStore};
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
/// the event id, so it is never counted twice. `from`, where the request stood before, is the
/// status of the timeline entry before the event's.
pub async fn count_event(
    city: &City,
    store: &dyn RequestStore,
    metrics: &dyn MetricsStore,
    event: &NotifyEvent,
) -> Result<Counted, AppError> {
    let counts = matches!(
        event.kind,
        NotifyKind::Acknowledged
            | NotifyKind::Referred
            | NotifyKind::LinkedAsDuplicate
            | NotifyKind::Unlinked
            | NotifyKind::Updated
    );
    if !counts {
        return Ok(Counted::Nothing);
    }
    let Some(entry_id) = event
        .event_id
        .strip_prefix(&format!("{}/", event.request_id))
    else {
        return Ok(Counted::Nothing);
    };
    let timeline = store.timeline(&event.request_id).await?;
    let Some(at) = timeline.iter().position(|e| e.event_id == entry_id) else {
        return Ok(Counted::Nothing);
    };
    let Some(from) = timeline[..at].iter().rev().find_map(|e| e.status) else {
        return Ok(Counted::Nothing);
    };
    let Some(request) = store.get(&event.request_id).await? else {
        return Ok(Counted::Nothing);
    };
    let tallies = counted_change(city, &request, &timeline[at], from);
    if tallies.is_empty() {
        return Ok(Counted::Nothing);
    }
    Ok(if metrics.count(&event.event_id, &tallies).await? {
        Counted::Now
    } else {
        Counted::Before
    })
}
