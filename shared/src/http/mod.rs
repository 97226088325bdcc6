//! Shared HTTP pieces: the Open311 wire format (JSON and XML), the web API's views and errors, body limits.

pub mod api;
pub mod open311;

/// Largest request body accepted anywhere (413 beyond it).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::City;

/// A time as the city's residents read it: ISO 8601 in the city's zone, with its offset.
pub fn city_time(city: &City, at: DateTime<Utc>) -> String {
    at.with_timezone(&city.timezone)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Text made safe to place in HTML.
pub fn escape_html(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}
