//! Open311 GeoReport v2 handlers: discovery, services, requests, tokens, in JSON and XML.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use cityfix_app::ports::RequestQuery;
use cityfix_app::submit::{fingerprint, submit, Submission, SubmitError};
use cityfix_domain::{Status, TrackingNumber};
use cityfix_http::open311::{self as wire, error, parse_report_form, Format, Open311Response};
use cityfix_http::parse_near;
use serde_json::{json, Value};

use crate::Intake;

type Shared = State<Arc<Intake>>;

/// Requests a search returns when the client does not say.
const DEFAULT_PAGE_SIZE: u32 = 50;
/// The most a search returns in one page, as the spec allows.
const MAX_PAGE_SIZE: u32 = 1000;
/// The window searched when no dates are given, as the spec suggests.
const DEFAULT_WINDOW_DAYS: i64 = 90;

pub fn routes() -> Router<Arc<Intake>> {
    let mut router = Router::new();
    for (extension, format) in [("json", Format::Json), ("xml", Format::Xml)] {
        router = router
            .route(
                &format!("/open311/v2/discovery.{extension}"),
                get(move |state| discovery(state, format)),
            )
            .route(
                &format!("/open311/v2/services.{extension}"),
                get(move |state, query| services(state, format, query)),
            )
            .route(
                &format!("/open311/v2/requests.{extension}"),
                get(move |state, query| search(state, format, query))
                    .post(move |state, headers, body| post(state, format, headers, body)),
            );
    }
    router
        .route("/open311/v2/services/{file}", get(service_definition))
        .route("/open311/v2/requests/{file}", get(request))
        .route("/open311/v2/tokens/{file}", get(token))
        .route("/open311/v2/{*rest}", get(unknown_path).post(unknown_path))
}

/// Reads a query string into pairs; Open311 parameters are never repeated.
fn query_pairs(query: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// The refusal of a `jurisdiction_id` that is not this city's, if it is not.
fn refuse_other_jurisdiction(
    intake: &Intake,
    format: Format,
    jurisdiction: Option<&str>,
) -> Option<Response> {
    match jurisdiction {
        Some(id) if id != intake.deps.city.jurisdiction_id => Some(error(
            format,
            StatusCode::NOT_FOUND,
            format!(
                "jurisdiction_id `{id}` is not served here; this is {}",
                intake.deps.city.jurisdiction_id
            ),
        )),
        _ => None,
    }
}

async fn discovery(State(intake): Shared, format: Format) -> Response {
    let url = format!("{}/open311/v2", intake.public_url);
    Open311Response::ok(
        format,
        "discovery",
        wire::discovery(&intake.deps.city, &url),
    )
    .into_response()
}

async fn services(State(intake): Shared, format: Format, RawQuery(query): RawQuery) -> Response {
    let pairs = query_pairs(query);
    if let Some(refusal) =
        refuse_other_jurisdiction(&intake, format, param(&pairs, "jurisdiction_id"))
    {
        return refusal;
    }
    Open311Response::ok(format, "services", wire::service_list(&intake.deps.city)).into_response()
}

async fn service_definition(
    State(intake): Shared,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((code, format)) = Format::split(&file) else {
        return error(
            Format::Json,
            StatusCode::NOT_FOUND,
            "add .json or .xml to the path",
        );
    };
    if let Some(refusal) = refuse_other_jurisdiction(
        &intake,
        format,
        param(&query_pairs(query), "jurisdiction_id"),
    ) {
        return refusal;
    }
    match intake.deps.city.service(code) {
        Some(service) => Open311Response::ok(
            format,
            "service_definition",
            wire::service_definition(service),
        )
        .into_response(),
        None => error(
            format,
            StatusCode::NOT_FOUND,
            format!("there is no service `{code}`"),
        ),
    }
}

async fn request(State(intake): Shared, Path(file): Path<String>) -> Response {
    let Some((id, format)) = Format::split(&file) else {
        return error(
            Format::Json,
            StatusCode::NOT_FOUND,
            "add .json or .xml to the path",
        );
    };
    let not_found = || {
        error(
            format,
            StatusCode::NOT_FOUND,
            format!("there is no request `{id}`"),
        )
    };
    let Ok(id) = TrackingNumber::parse(id) else {
        return not_found();
    };
    match intake.deps.store.get(&id).await {
        Ok(Some(request)) => Open311Response::ok(
            format,
            "service_requests",
            json!([wire::request_view(&intake.deps.city, &request)]),
        )
        .into_response(),
        Ok(None) => not_found(),
        Err(e) => unavailable(format, e),
    }
}

async fn token(State(intake): Shared, Path(file): Path<String>) -> Response {
    let Some((token, format)) = Format::split(&file) else {
        return error(
            Format::Json,
            StatusCode::NOT_FOUND,
            "add .json or .xml to the path",
        );
    };
    match intake.deps.store.find_token(token).await {
        Ok(Some(id)) => Open311Response::ok(
            format,
            "service_requests",
            json!([{ "service_request_id": id.as_str(), "token": token }]),
        )
        .into_response(),
        Ok(None) => error(
            format,
            StatusCode::NOT_FOUND,
            format!("there is no token `{token}`"),
        ),
        Err(e) => unavailable(format, e),
    }
}

async fn unknown_path(Path(rest): Path<String>) -> Response {
    let format = if rest.ends_with(".xml") {
        Format::Xml
    } else {
        Format::Json
    };
    error(
        format,
        StatusCode::NOT_FOUND,
        format!("there is no Open311 resource `{rest}`"),
    )
}

fn unavailable(format: Format, cause: impl std::fmt::Display) -> Response {
    tracing::error!(error = %cause, "store unavailable");
    error(
        format,
        StatusCode::SERVICE_UNAVAILABLE,
        "the service is briefly unavailable; please try again",
    )
}

/// GET requests: the spec's filters, plus `page` and `page_size`.
async fn search(State(intake): Shared, format: Format, RawQuery(query): RawQuery) -> Response {
    let pairs = query_pairs(query);
    if let Some(refusal) =
        refuse_other_jurisdiction(&intake, format, param(&pairs, "jurisdiction_id"))
    {
        return refusal;
    }
    let query = match search_query(&pairs, intake.deps.clock.now()) {
        Ok(query) => query,
        Err(reason) => return error(format, StatusCode::BAD_REQUEST, reason),
    };
    match intake.deps.store.search(&query).await {
        Ok(found) => {
            let views: Vec<Value> = found
                .iter()
                .map(|r| wire::request_view(&intake.deps.city, r))
                .collect();
            Open311Response::ok(format, "service_requests", Value::Array(views)).into_response()
        }
        Err(e) => unavailable(format, e),
    }
}

fn search_query(pairs: &[(String, String)], now: DateTime<Utc>) -> Result<RequestQuery, String> {
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

/// POST requests: a form-encoded report from an Open311 client holding an api key.
async fn post(
    State(intake): Shared,
    format: Format,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(
                format,
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is larger than 1 MB",
            )
        }
        Err(rejection) => {
            return error(
                format,
                StatusCode::BAD_REQUEST,
                format!("the request body cannot be read: {rejection}"),
            )
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.is_empty() && !content_type.starts_with("application/x-www-form-urlencoded") {
        return error(
            format,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Open311 requests are posted as application/x-www-form-urlencoded",
        );
    }
    let (form, envelope) = match parse_report_form(&body) {
        Ok(parsed) => parsed,
        Err(invalid) => return error(format, StatusCode::BAD_REQUEST, invalid.message),
    };
    let client = match envelope.api_key.as_deref() {
        None => {
            return error(
                format,
                StatusCode::FORBIDDEN,
                "api_key is required to post requests",
            )
        }
        Some(key) => match intake.deps.city.open311_client(key) {
            Some(client) => client.name.clone(),
            None => return error(format, StatusCode::FORBIDDEN, "api_key is not valid"),
        },
    };
    if let Some(refusal) =
        refuse_other_jurisdiction(&intake, format, envelope.jurisdiction_id.as_deref())
    {
        return refusal;
    }
    let idempotency_key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("\u{0}").to_string());
    let submission = Submission {
        form,
        channel: client,
        idempotency_key,
        fingerprint: fingerprint(&body),
    };
    match submit(&intake.deps, submission).await {
        Ok(submitted) => {
            tracing::info!(request_id = %submitted.request.id, channel = %submitted.request.channel, replayed = submitted.replayed, "report accepted");
            let body = json!([{
                "service_request_id": submitted.request.id.as_str(),
                "token": submitted.token,
                "service_notice": format!("Thank you. Your tracking number is {}.", submitted.request.id),
                "account_id": Value::Null,
            }]);
            Open311Response::ok(format, "service_requests", body).into_response()
        }
        Err(SubmitError::Invalid(invalid)) => {
            error(format, StatusCode::BAD_REQUEST, invalid.message)
        }
        Err(SubmitError::KeyReused) => error(
            format,
            StatusCode::UNPROCESSABLE_ENTITY,
            SubmitError::KeyReused.to_string(),
        ),
        Err(SubmitError::Unavailable(cause)) => unavailable(format, cause),
    }
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
