//! The rules the city's clock applies: when a request being worked is past its expected date,
//! how long the city keeps closed requests in the working set, and how lateness reads in words.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::{ServiceRequest, Status};

/// Days a closed request stays in the working set, with its reporter's contact, by default.
pub const DEFAULT_ARCHIVE_AFTER_DAYS: u32 = 365;
/// The shortest retention a city may set: a reopen or a late question about a fix needs the
/// reporter's contact for a while after closing.
pub const MIN_ARCHIVE_AFTER_DAYS: u32 = 30;
/// The longest retention a city may set (a century; beyond that it is a typo).
pub const MAX_ARCHIVE_AFTER_DAYS: u32 = 36_525;

/// How long the city keeps closed requests before archiving them (city.toml `[retention]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Days after closing that a request is archived and its reporter's contact forgotten.
    pub archive_after_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            archive_after_days: DEFAULT_ARCHIVE_AFTER_DAYS,
        }
    }
}

impl Retention {
    /// Requests closed before this time are archived at `now`.
    pub fn archive_cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::days(self.archive_after_days.into())
    }
}

impl ServiceRequest {
    /// How far past its expected date the request is at `now`, if it is being worked (open or in
    /// progress), is past that date, and its supervisors have not been told yet.
    pub fn breach_to_notice(&self, now: DateTime<Utc>) -> Option<Duration> {
        let worked = matches!(self.status, Status::Open | Status::InProgress);
        let expected = self.expected_at?;
        (worked && self.breach_noticed_at.is_none() && expected < now).then(|| now - expected)
    }

    /// When it was closed: `closed_at`, or its last change for a request closed before
    /// `closed_at` was kept. `None` unless it is closed.
    pub fn closed_since(&self) -> Option<DateTime<Utc>> {
        (self.status == Status::Closed).then(|| self.closed_at.unwrap_or(self.updated_at))
    }

    /// Whether the request is closed, and has been for longer than `retention` at `now`.
    pub fn due_for_archive(&self, retention: &Retention, now: DateTime<Utc>) -> bool {
        self.closed_since()
            .is_some_and(|closed| closed < retention.archive_cutoff(now))
    }
}

/// A lateness in words, to the largest two units that matter: "3 days 4 hours", "2 hours 5
/// minutes", "40 minutes" (at least one minute).
pub fn lateness_in_words(late: Duration) -> String {
    let minutes = late.num_minutes().max(1);
    let (days, hours, mins) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    let unit = |n: i64, one: &str| match n {
        1 => format!("1 {one}"),
        n => format!("{n} {one}s"),
    };
    match (days, hours) {
        (0, 0) => unit(mins, "minute"),
        (0, h) if mins == 0 => unit(h, "hour"),
        (0, h) => format!("{} {}", unit(h, "hour"), unit(mins, "minute")),
        (d, 0) => unit(d, "day"),
        (d, h) => format!("{} {}", unit(d, "day"), unit(h, "hour")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Location, TrackingNumber, ValidReport};
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, day, hour, 0, 0).unwrap()
    }

    fn request(status: Status) -> ServiceRequest {
        let report = ValidReport {
            service_code: "pothole".into(),
            location: Location::new(41.76, -72.68).unwrap(),
            address: None,
            attributes: Default::default(),
            description: None,
            contact: Default::default(),
            media_url: None,
        };
        let id = TrackingNumber::parse("7K3M9QZ2").unwrap();
        let mut request = ServiceRequest::submitted(id, &report, "Pothole", "web", at(1, 9));
        request.status = status;
        request.expected_at = Some(at(3, 9));
        request
    }

    #[test]
    fn a_worked_request_past_its_date_is_noticed_once() {
        let open = request(Status::Open);
        assert_eq!(open.breach_to_notice(at(3, 9)), None, "due, not yet late");
        assert_eq!(open.breach_to_notice(at(4, 13)), Some(Duration::hours(28)));
        let started = request(Status::InProgress);
        assert!(started.breach_to_notice(at(4, 9)).is_some());
        let mut noticed = request(Status::Open);
        noticed.breach_noticed_at = Some(at(3, 10));
        assert_eq!(noticed.breach_to_notice(at(9, 9)), None);
        for status in [Status::Submitted, Status::Closed, Status::Archived] {
            assert_eq!(request(status).breach_to_notice(at(9, 9)), None, "{status}");
        }
        let mut no_target = request(Status::Open);
        no_target.expected_at = None;
        assert_eq!(no_target.breach_to_notice(at(9, 9)), None);
    }

    #[test]
    fn a_closed_request_is_archived_only_after_the_retention() {
        let retention = Retention {
            archive_after_days: 30,
        };
        let mut closed = request(Status::Closed);
        closed.closed_at = Some(at(2, 9));
        assert!(!closed.due_for_archive(&retention, at(2, 9) + Duration::days(30)));
        assert!(closed.due_for_archive(&retention, at(2, 10) + Duration::days(30)));
        // closed before closed_at was kept: its last change stands in
        closed.closed_at = None;
        closed.updated_at = at(1, 9);
        assert!(closed.due_for_archive(&retention, at(1, 10) + Duration::days(30)));
        for status in [Status::Open, Status::InProgress, Status::Archived] {
            assert!(!request(status).due_for_archive(&retention, at(1, 9) + Duration::days(999)));
        }
        assert_eq!(Retention::default().archive_after_days, 365);
    }

    #[test]
    fn lateness_reads_in_the_two_largest_units() {
        assert_eq!(lateness_in_words(Duration::seconds(20)), "1 minute");
        assert_eq!(lateness_in_words(Duration::minutes(40)), "40 minutes");
        assert_eq!(lateness_in_words(Duration::minutes(60)), "1 hour");
        assert_eq!(
            lateness_in_words(Duration::minutes(125)),
            "2 hours 5 minutes"
        );
        assert_eq!(lateness_in_words(Duration::hours(24)), "1 day");
        assert_eq!(
            lateness_in_words(Duration::hours(76) + Duration::minutes(9)),
            "3 days 4 hours"
        );
    }
}
