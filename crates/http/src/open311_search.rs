//! The parameters of an Open311 request search and of the updates feed, read from the query string, with a reason for each refusal.

use chrono::{DateTime, Duration, Utc};
use cityfix_app::ports::RequestQuery;
use cityfix_app::updates::UpdatesWindow;
use cityfix_domain::text::echo;
use cityfix_domain::{Status, TrackingNumber};

use crate::parse_near;

/// Requests a search returns when the client does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The most a search returns in one page, as the spec allows.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The window searched when no dates are given, as the spec suggests.
pub const DEFAULT_WINDOW_DAYS: i64 = 90;
/// The most updates the feed returns at once; a client reads on from the last one's time.
pub const MAX_UPDATES: usize = 1000;

/// Reads a query string into pairs; Open311 parameters are never repeated.
pub fn query_pairs(query: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// The trimmed value of `name`, if given and not blank.
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// A W3C date and time with its offset, as Open311 writes them.
fn date_param(pairs: &[(String, String)], name: &str) -> Result<Option<DateTime<Utc>>, String> {
    param(pairs, name)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| format!("{name} must be an ISO 8601 date and time with offset, like 2026-11-01T00:00:00-05:00"))
        })
        .transpose()
}

/// Refuses a window that ends before it starts.
fn check_order(
    (start, start_name): (Option<DateTime<Utc>>, &str),
    (end, end_name): (Option<DateTime<Utc>>, &str),
) -> Result<(), String> {
    match (start, end) {
        (Some(start), Some(end)) if start > end => Err(format!("{start_name} is after {end_name}")),
        _ => Ok(()),
    }
}

/// The store query a search asks for: ids override every other filter; no dates at all (neither
/// requested nor updated) means requested in the last [`DEFAULT_WINDOW_DAYS`] days.
pub fn search_query(
    pairs: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<RequestQuery, String> {
    let list = |name: &str| -> Vec<String> {
        param(pairs, name)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let number = |name: &str, default: u32, max: u32| -> Result<u32, String> {
        match param(pairs, name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| format!("{name} must be a whole number from 1 to {max}")),
        }
    };
    let page = number("page", 1, u32::MAX)?;
    let page_size = number("page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
    let ids = list("service_request_id")
        .iter()
        .map(|id| {
            TrackingNumber::parse(id)
                .map_err(|_| format!("service_request_id `{id}` is not a request id"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !ids.is_empty() {
        return Ok(RequestQuery {
            ids,
            page,
            page_size,
            ..RequestQuery::default()
        });
    }
    let mut statuses = Vec::new();
    for status in list("status") {
        match status.as_str() {
            "open" => statuses.extend([Status::Submitted, Status::Open, Status::InProgress]),
            "closed" => statuses.extend([Status::Closed, Status::Archived]),
            other => return Err(format!("status `{other}` is not open or closed")),
        }
    }
    let near = parse_near(
        param(pairs, "lat"),
        param(pairs, "long"),
        param(pairs, "radius"),
    )
    .map_err(|invalid| invalid.message)?;
    let start = date_param(pairs, "start_date")?;
    let end = date_param(pairs, "end_date")?;
    let updated_after = date_param(pairs, "updated_after")?;
    let updated_before = date_param(pairs, "updated_before")?;
    check_order((start, "start_date"), (end, "end_date"))?;
    check_order(
        (updated_after, "updated_after"),
        (updated_before, "updated_before"),
    )?;
    let start = match (start, end, updated_after, updated_before) {
        (None, None, None, None) => Some(now - Duration::days(DEFAULT_WINDOW_DAYS)),
        _ => start,
    };
    Ok(RequestQuery {
        ids,
        service_codes: list("service_code"),
        statuses,
        requested_from: start,
        requested_to: end,
        updated_from: updated_after,
        updated_to: updated_before,
        near,
        page,
        page_size,
        ..RequestQuery::default()
    })
}

/// Whether `extensions=true` asks for Chicago's extended attributes.
pub fn wants_extensions(pairs: &[(String, String)]) -> Result<bool, String> {
    match param(pairs, "extensions") {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err("extensions must be true or false".into()),
    }
}

/// The window the updates feed reads: `start_date` to `end_date`, by default the
/// [`DEFAULT_WINDOW_DAYS`] days before `end_date` (or now), and one request if
/// `service_request_id` names it.
pub fn updates_window(
    pairs: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<UpdatesWindow, String> {
    let start = date_param(pairs, "start_date")?;
    let end = date_param(pairs, "end_date")?;
    check_order((start, "start_date"), (end, "end_date"))?;
    let to = end.unwrap_or(now);
    let from = start.unwrap_or(to - Duration::days(DEFAULT_WINDOW_DAYS));
    let request = param(pairs, "service_request_id")
        .map(|id| {
            TrackingNumber::parse(id)
                .map_err(|_| format!("service_request_id `{}` is not a request id", echo(id)))
        })
        .transpose()?;
    Ok(UpdatesWindow {
        from,
        to,
        request,
        limit: MAX_UPDATES,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        query_pairs(Some(query.to_string()))
    }

    #[test]
    fn no_dates_means_the_last_ninety_days() {
        let now = Utc::now();
        let query = search_query(&pairs(""), now).unwrap();
        assert_eq!(query.requested_from, Some(now - Duration::days(90)));
        assert_eq!((query.page, query.page_size), (1, DEFAULT_PAGE_SIZE));
    }

    #[test]
    fn ids_override_other_filters() {
        let query = search_query(
            &pairs("service_request_id=7K3M-9QZ2,ABCD-EFGH&service_code=pothole"),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(query.ids.len(), 2);
        assert!(query.service_codes.is_empty());
    }

    #[test]
    fn bad_filters_say_which() {
        for (query, word) in [
            ("status=pending", "status"),
            ("start_date=yesterday", "start_date"),
            ("page_size=5000", "page_size"),
            ("page=0", "page"),
            ("service_request_id=nope", "service_request_id"),
            (
                "start_date=2026-11-02T00:00:00Z&end_date=2026-11-01T00:00:00Z",
                "start_date",
            ),
        ] {
            let err = search_query(&pairs(query), Utc::now()).unwrap_err();
            assert!(err.contains(word), "{query}: {err}");
        }
    }
}
