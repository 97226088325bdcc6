//! Sample requests for the contract suites.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use cityfix_app::ports::{IdempotencyClaim, NewRequest};
use cityfix_domain::{
    Contact, Location, ServiceRequest, TimelineEntry, TrackingNumber, ValidReport,
};

/// A fixed instant, so ordering by time is known.
pub fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 14, minute, 0).unwrap()
}

pub fn id(text: &str) -> TrackingNumber {
    TrackingNumber::parse(text).unwrap()
}

/// A submitted pothole in downtown Hartford, with a reporter.
pub fn new_request(tracking: &str, service_code: &str, minute: u32) -> NewRequest {
    let reporter = Contact {
        email: Some(format!("{}@example.org", tracking.to_lowercase())),
        ..Contact::default()
    };
    let report = ValidReport {
        service_code: service_code.into(),
        location: Location::new(41.7677, -72.67602).unwrap(),
        address: Some("550 Main St".into()),
        attributes: BTreeMap::new(),
        description: Some("Deep hole by the curb".into()),
        contact: reporter.clone(),
        media_url: None,
    };
    let request = ServiceRequest::submitted(
        id(tracking),
        &report,
        &service_code.replace('_', " "),
        "web",
        at(minute),
    );
    NewRequest {
        request,
        reporter: Some(reporter),
        token: format!("token-{tracking}"),
        first_entry: TimelineEntry::submitted(at(minute)),
        idempotency: None,
    }
}

pub fn with_key(
    mut new: NewRequest,
    key: &str,
    fingerprint: &str,
    expires: DateTime<Utc>,
) -> NewRequest {
    new.idempotency = Some(IdempotencyClaim {
        key: key.into(),
        fingerprint: fingerprint.into(),
        expires_at: expires,
    });
    new
}
