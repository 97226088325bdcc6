//! The parameters of an Open311 request search, read from the query string, with a reason for each refusal.

use chrono::{DateTime, Duration, Utc};
use cityfix_app::ports::RequestQuery;
use cityfix_domain::{Status, TrackingNumber};

use crate::parse_near;

/// Requests a search returns when the client does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The most a search returns in one page, as the spec allows.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The window searched when no dates are given, as the spec suggests.
pub const DEFAULT_WINDOW_DAYS: i64 = 90;

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

/// The store query a search asks for: ids override every other filter; no dates means the last
/// [`DEFAULT_WINDOW_DAYS`] days.
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
    let date = |name: &str| -> Result<Option<DateTime<Utc>>, String> {
        param(pairs, name)
            .map(|v| {
                DateTime::parse_from_rfc3339(v)
                    .map(|d| d.with_timezone(&Utc))
                    .map_err(|_| format!("{name} must be an ISO 8601 date and time with offset, like 2026-11-01T00:00:00-05:00"))
            })
            .transpose()
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
    let start = date("start_date")?;
    let end = date("end_date")?;
    let (start, end) = match (start, end) {
        (None, None) => (Some(now - Duration::days(DEFAULT_WINDOW_DAYS)), None),
        (Some(start), Some(end)) if start > end => {
            return Err("start_date is after end_date".into())
        }
        other => other,
    };
    Ok(RequestQuery {
        ids,
        service_codes: list("service_code"),
        statuses,
        requested_from: start,
        requested_to: end,
        near,
        page,
        page_size,
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
