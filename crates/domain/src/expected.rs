//! Honest expected dates: how long similar requests recently took to be fixed, once there are
//! enough of them to say; the service's target until then.
//!
//! "Similar" is the same service, fixed (not closed as a duplicate, a referral or for no action,
//! which take minutes and say nothing of the work) within the last [`WINDOW_DAYS`]. Requests of the
//! same area (the city's first area layer, its neighbourhoods) are preferred, since crews and
//! backlogs differ across a city; when the area has fewer than [`ENOUGH`], the whole city's are
//! used; with fewer than that the target stands. The date given is the time by which
//! [`PERCENTILE`] of those requests were fixed: a date most residents will see met, not an average
//! half of them miss.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How far back closings count.
pub const WINDOW_DAYS: i64 = 90;

/// How many similar fixes make a history worth more than the target: with fewer, one slow or
/// quick job would move the date by days.
pub const ENOUGH: usize = 10;

/// The share of similar requests fixed by the date given.
pub const PERCENTILE: f64 = 0.8;

/// One request fixed: where, and how long from report to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fixed {
    pub request_id: String,
    /// Its area in the city's first area layer, if any.
    pub area: Option<String>,
    pub closed_at: DateTime<Utc>,
    /// Seconds from report to fix.
    pub took_secs: i64,
}

/// What an expected date was based on, for staff and for the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Fixes of the same service in the same area.
    Area { samples: usize },
    /// Fixes of the same service across the city.
    City { samples: usize },
    /// The service's target: not enough history.
    Target,
}

/// How long a new request of this service in `area` will likely take, and on what basis; `None`
/// when there is neither enough history nor a target.
pub fn expected_duration(
    history: &[Fixed],
    area: Option<&str>,
    target: Option<Duration>,
) -> Option<(Duration, Basis)> {
    let in_area: Vec<i64> = history
        .iter()
        .filter(|fixed| area.is_some() && fixed.area.as_deref() == area)
        .map(|fixed| fixed.took_secs)
        .collect();
    if in_area.len() >= ENOUGH {
        let samples = in_area.len();
        return Some((percentile(in_area), Basis::Area { samples }));
    }
    if history.len() >= ENOUGH {
        let all: Vec<i64> = history.iter().map(|fixed| fixed.took_secs).collect();
        return Some((
            percentile(all),
            Basis::City {
                samples: history.len(),
            },
        ));
    }
    target.map(|target| (target, Basis::Target))
}

/// The [`PERCENTILE`] of `secs` by nearest rank: the smallest value at least that share of the
/// values do not exceed. `secs` holds at least one value.
fn percentile(mut secs: Vec<i64>) -> Duration {
    secs.sort_unstable();
    let rank = ((PERCENTILE * secs.len() as f64).ceil() as usize).clamp(1, secs.len());
    Duration::seconds(secs[rank - 1].max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(area: &str, hours: i64) -> Fixed {
        Fixed {
            request_id: format!("{area}-{hours}"),
            area: Some(area.into()),
            closed_at: Utc::now(),
            took_secs: hours * 3600,
        }
    }

    #[test]
    fn the_eightieth_percentile_of_the_area_once_it_has_enough() {
        // ten fixes Downtown taking 1..=10 days, and twenty quick ones in the North End
        let mut history: Vec<Fixed> = (1..=10).map(|d| fixed("Downtown", d * 24)).collect();
        history.extend((0..20).map(|_| fixed("North End", 2)));
        let (took, basis) = expected_duration(&history, Some("Downtown"), None).unwrap();
        assert_eq!(took, Duration::days(8), "8 of 10 were fixed within 8 days");
        assert_eq!(basis, Basis::Area { samples: 10 });
    }

    #[test]
    fn too_few_in_the_area_uses_the_city_and_too_few_anywhere_the_target() {
        let mut history: Vec<Fixed> = (0..9).map(|_| fixed("Downtown", 100)).collect();
        history.push(fixed("North End", 10));
        history.push(fixed("North End", 10));
        let (took, basis) = expected_duration(&history, Some("Downtown"), None).unwrap();
        assert_eq!(basis, Basis::City { samples: 11 });
        assert_eq!(took, Duration::hours(100));
        let target = Some(Duration::hours(72));
        assert_eq!(
            expected_duration(&history[..9], Some("Downtown"), target),
            Some((Duration::hours(72), Basis::Target))
        );
        assert_eq!(expected_duration(&[], None, None), None);
    }
}
