//! Sample requests for the contract suites.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use cityfix_shared::domain::{
    Contact, Location, ServiceRequest, Status, TimelineEntry, TrackingNumber,
};
use cityfix_shared::ports::{IdempotencyClaim, NewRequest};

/// A fixed instant, so ordering by time is known.
pub fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 14, minute, 0).unwrap()
}

pub fn id(text: &str) -> TrackingNumber {
    TrackingNumber::parse(text).unwrap()
}

/// A submitted pothole in downtown Hartford, with a reporter.
pub fn new_request(tracking: &str, service_code: &str, minute: u32) -> NewRequest {
    let request = ServiceRequest {
        id: id(tracking),
        service_code: service_code.into(),
        service_name: service_code.replace('_', " "),
        status: Status::Submitted,
        resolution: None,
        status_notes: None,
        description: Some("Deep hole by the curb".into()),
        location: Location::new(41.7677, -72.67602).unwrap(),
        address: Some("550 Main St".into()),
        attributes: BTreeMap::new(),
        media_url: None,
        department: None,
        agency: None,
        agency_responsible: None,
        areas: BTreeMap::new(),
        routing_reason: None,
        duplicate_of: None,
        channel: "web".into(),
        requested_at: at(minute),
        updated_at: at(minute),
        version: 1,
    };
    NewRequest {
        request,
        reporter: Some(Contact {
            email: Some(format!("{}@example.org", tracking.to_lowercase())),
            ..Contact::default()
        }),
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
