//! The edges: the Open311 wire format (JSON and XML), the web API's views and errors, staff claims, body limits, and SQS batches as Lambda hands them over.

pub mod api;
pub mod auth;
pub mod batch;
pub mod guard;
pub mod json;
pub mod open311;
pub mod open311_search;
pub mod site;
pub mod uploads;

/// Largest request body accepted anywhere (413 beyond it).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

use chrono::{DateTime, SecondsFormat, Utc};

use cityfix_domain::City;

/// A time as the city's residents read it: ISO 8601 in the city's zone, with its offset.
pub fn city_time(city: &City, at: DateTime<Utc>) -> String {
    at.with_timezone(&city.timezone)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Radius of a nearby search when the client gives none, in metres.
pub const DEFAULT_NEARBY_RADIUS_M: f64 = 100.0;
/// The widest nearby search, in metres.
pub const MAX_NEARBY_RADIUS_M: f64 = 2000.0;

/// Reads the `lat`, `long` and `radius` (metres) of a nearby search; none of them means no circle.
pub fn parse_near(
    lat: Option<&str>,
    long: Option<&str>,
    radius: Option<&str>,
) -> Result<Option<cityfix_app::ports::Near>, cityfix_domain::Invalid> {
    use cityfix_domain::{Invalid, Location};
    let number = |field: &str, value: &str| {
        value
            .trim()
            .parse::<f64>()
            .map_err(|_| Invalid::field(field, format!("{field} must be a number")))
    };
    let (lat, long) = match (lat, long) {
        (None, None) if radius.is_none() => return Ok(None),
        (Some(lat), Some(long)) => (number("lat", lat)?, number("long", long)?),
        (_, None) => {
            return Err(Invalid::missing(
                "long",
                "a nearby search needs lat and long",
            ))
        }
        (None, _) => {
            return Err(Invalid::missing(
                "lat",
                "a nearby search needs lat and long",
            ))
        }
    };
    let location = Location::new(lat, long)?;
    let radius_m = match radius {
        None => DEFAULT_NEARBY_RADIUS_M,
        Some(value) => number("radius", value)?,
    };
    if !(radius_m > 0.0 && radius_m <= MAX_NEARBY_RADIUS_M) {
        return Err(Invalid::field(
            "radius",
            format!("radius must be more than 0 and at most {MAX_NEARBY_RADIUS_M} metres"),
        ));
    }
    Ok(Some(cityfix_app::ports::Near { location, radius_m }))
}
