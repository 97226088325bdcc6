//! Rising concerns: the scheduler's job that tests each service × area's week against its recent weeks from the metrics counters, records each new flag once, and has notify tell the supervisors.
//!
//! The counts are the counters' `opened` (requests made, on the day they were made), never a scan
//! of requests; confidential rows are left out entirely, so no flag can tell of them. The test
//! itself is [`cityfix_domain::rising::RisingRule`]; docs/metrics.md says how and why.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use cityfix_domain::rising::RisingRule;
use cityfix_domain::rising::{week_of, RisingFlag};
use cityfix_domain::City;

use crate::ports::{MetricsStore, Queue, QueueName};
use crate::AppError;

/// On the notify queue: a new flag, for the supervisors of the departments its week's requests
/// went to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RisingNotice {
    pub rising_concern: RisingFlag,
    /// The departments this week's requests of the service × area were routed to.
    pub departments: Vec<String>,
}

impl RisingNotice {
    /// The notice's event id, which its send records (and e-mail's Message-ID) are keyed by: one
    /// per flag. The area, a name with spaces, is in it as its hash.
    pub fn event_id(&self) -> String {
        let flag = &self.rising_concern;
        let area = cityfix_domain::recipient_hash(&flag.area);
        format!("rising/{}/{}/{area}", flag.week, flag.service)
    }
}

/// Counts per service × area: this week's (index 0) and each week before (1..=history).
struct Weeks {
    counts: Vec<u64>,
    /// This week's departments.
    departments: BTreeSet<String>,
}

/// Tests every service × area that has requests this week (the seven days to `now`'s day in the
/// city's calendar, today included) against the weeks before it; for each jump whose service ×
/// area has no flag yet this week, queues one [`RisingNotice`] to notify and records the flag.
/// Gives the new flags. Run again, it finds the same jumps and queues nothing: the flag is held.
/// The notice is queued before the flag is written, so a failed write means the next run queues
/// it again, which notify's send records send once.
pub async fn queue_rising_notices(
    city: &City,
    metrics: &dyn MetricsStore,
    queue: &dyn Queue,
    now: DateTime<Utc>,
    rule: &RisingRule,
) -> Result<Vec<RisingFlag>, AppError> {
    let today = now.with_timezone(&city.timezone).date_naive();
    let weeks = rule.history_weeks as i64 + 1;
    let first = today - Duration::days(7 * weeks - 1);
    let mut pairs: BTreeMap<(String, String), Weeks> = BTreeMap::new();
    for (key, tally) in metrics.tallies(first, today).await? {
        if key.confidential || tally.opened == 0 {
            continue;
        }
        let week = ((today - key.day).num_days() / 7) as usize;
        let pair = pairs
            .entry((key.service.clone(), key.area.clone()))
            .or_insert_with(|| Weeks {
                counts: vec![0; weeks as usize],
                departments: BTreeSet::new(),
            });
        pair.counts[week] += tally.opened;
        if week == 0 && !key.department.is_empty() {
            pair.departments.insert(key.department.clone());
        }
    }
    let held: HashSet<(String, String)> = metrics
        .flags(week_of(today))
        .await?
        .into_iter()
        .map(|flag| (flag.service, flag.area))
        .collect();
    let mut raised = Vec::new();
    for ((service, area), pair) in pairs {
        // A service no longer in the catalogue, or made confidential since: told to nobody.
        if city.service(&service).is_none_or(|s| s.confidential) {
            continue;
        }
        if held.contains(&(service.clone(), area.clone())) {
            continue;
        }
        let Some(jump) = rule.test(pair.counts[0], &pair.counts[1..]) else {
            continue;
        };
        let flag = RisingFlag::found(&service, &area, today, &jump);
        let notice = RisingNotice {
            rising_concern: flag.clone(),
            departments: pair.departments.into_iter().collect(),
        };
        let body = serde_json::to_string(&notice).expect("a notice always serialises");
        queue.send(QueueName::Notify, &body).await?;
        if metrics.raise(&flag).await? {
            raised.push(flag);
        }
    }
    if !raised.is_empty() {
        tracing::info!(count = raised.len(), "rising concerns flagged");
    }
    Ok(raised)
}

/// The flags of the last `weeks` calendar weeks (this one included) as of `today`.
pub async fn current_flags(
    metrics: &dyn MetricsStore,
    today: NaiveDate,
    weeks: i64,
) -> Result<Vec<RisingFlag>, AppError> {
    let since = week_of(today) - Duration::days(7 * (weeks - 1).max(0));
    Ok(metrics.flags(since).await?)
}
