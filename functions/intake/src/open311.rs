//! Open311 GeoReport v2 handlers: discovery, services, requests, tokens, and FixMyStreet's request updates, in JSON and XML.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use cityfix_app::ports::PortError;
use cityfix_app::submit::{fingerprint, submit, Submission, SubmitError};
use cityfix_app::updates::{confidential_services, public_histories, public_updates};
use cityfix_domain::text::echo;
use cityfix_domain::{ClientAction, TrackingNumber};
use cityfix_http::open311::{self as wire, error, parse_report_form, Format, Open311Response};
use cityfix_http::open311_search::{
    param, query_pairs, search_query, updates_window, wants_extensions,
};
use serde_json::{json, Value};

use crate::Intake;

type Shared = State<Arc<Intake>>;

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
            )
            .route(
                &format!("/open311/v2/servicerequestupdates.{extension}"),
                get(move |state, query| updates(state, format, query)).post(
                    move |state, headers, body| {
                        crate::open311_updates::post_update(state, format, headers, body)
                    },
                ),
            );
    }
    router
        .route("/open311/v2/services/{file}", get(service_definition))
        .route("/open311/v2/requests/{file}", get(request))
        .route("/open311/v2/tokens/{file}", get(token))
        .route("/open311/v2/{*rest}", get(unknown_path).post(unknown_path))
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
    let language = asked_language(&pairs);
    Open311Response::ok(
        format,
        "services",
        wire::service_list_in(&intake.deps.city, language.as_deref()),
    )
    .into_response()
}

/// The language an Open311 client asks the catalogue in: `locale` (`es`, `es-MX`, `es_MX`, as
/// several GeoReport v2 clients send it) or `lang`, by its first part; none leaves the city's own.
fn asked_language(pairs: &[(String, String)]) -> Option<String> {
    let asked = param(pairs, "locale").or_else(|| param(pairs, "lang"))?;
    let language = asked.split(['-', '_']).next()?.trim().to_ascii_lowercase();
    (!language.is_empty()
        && language.len() <= 8
        && language.chars().all(|c| c.is_ascii_alphabetic()))
    .then_some(language)
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
    let pairs = query_pairs(query);
    if let Some(refusal) =
        refuse_other_jurisdiction(&intake, format, param(&pairs, "jurisdiction_id"))
    {
        return refusal;
    }
    let language = asked_language(&pairs);
    match intake.deps.city.service(code) {
        Some(service) => Open311Response::ok(
            format,
            "service_definition",
            wire::service_definition(&match language {
                Some(language) => service.in_language(&language),
                None => service.clone(),
            }),
        )
        .into_response(),
        None => error(
            format,
            StatusCode::NOT_FOUND,
            format!("there is no service `{}`", echo(code)),
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
            format!("there is no request `{}`", echo(id)),
        )
    };
    let Ok(id) = TrackingNumber::parse(id) else {
        return not_found();
    };
    match intake.deps.store.get(&id).await {
        // Hidden by staff or confidential: not there for Open311, in the words of an unknown number.
        Ok(Some(request)) if !cityfix_http::api::shown_publicly(&intake.deps.city, &request) => {
            not_found()
        }
        Ok(Some(request)) => Open311Response::ok(
            format,
            "service_requests",
            json!([wire::request_view(
                &intake.deps.city,
                &intake.public_url,
                &request
            )]),
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
            format!("there is no token `{}`", echo(token)),
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
        format!("there is no Open311 resource `{}`", echo(&rest)),
    )
}

fn unavailable(format: Format, cause: PortError) -> Response {
    tracing::error!(error = %cause, "store unavailable");
    if matches!(cause, PortError::CannotWrite(_)) {
        let mut refused = error(
            format,
            StatusCode::SERVICE_UNAVAILABLE,
            cityfix_http::api::CANNOT_WRITE_MESSAGE,
        );
        refused.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            cityfix_http::api::CANNOT_WRITE_RETRY_SECS.into(),
        );
        return refused;
    }
    error(
        format,
        StatusCode::SERVICE_UNAVAILABLE,
        "the service is briefly unavailable; please try again",
    )
}

/// GET requests: the spec's filters, plus `page` and `page_size`, `updated_after` and
/// `updated_before`, and Chicago's `extensions=true`. Confidential services are never listed.
async fn search(State(intake): Shared, format: Format, RawQuery(query): RawQuery) -> Response {
    let pairs = query_pairs(query);
    if let Some(refusal) =
        refuse_other_jurisdiction(&intake, format, param(&pairs, "jurisdiction_id"))
    {
        return refusal;
    }
    let (mut query, extensions) = match search_query(&pairs, intake.deps.clock.now())
        .and_then(|query| Ok((query, wants_extensions(&pairs)?)))
    {
        Ok(asked) => asked,
        Err(reason) => return error(format, StatusCode::BAD_REQUEST, reason),
    };
    let city = &intake.deps.city;
    query.without_service_codes = confidential_services(city);
    query.without_hidden = true;
    let found = match intake.deps.store.search(&query).await {
        Ok(found) => found,
        Err(e) => return unavailable(format, e),
    };
    let mut views: Vec<Value> = found
        .iter()
        .map(|r| wire::request_view(city, &intake.public_url, r))
        .collect();
    if extensions {
        let histories = match public_histories(intake.deps.store.as_ref(), &found).await {
            Ok(histories) => histories,
            Err(e) => return unavailable(format, e),
        };
        for ((view, request), history) in views.iter_mut().zip(&found).zip(&histories) {
            view["extended_attributes"] = wire::extended_attributes(city, request, history);
        }
    }
    Open311Response::ok(format, "service_requests", Value::Array(views)).into_response()
}

/// GET servicerequestupdates (the FixMyStreet extension): the public timeline entries of a
/// window, earliest first, at most a thousand; a client reads on from the last one's time.
async fn updates(State(intake): Shared, format: Format, RawQuery(query): RawQuery) -> Response {
    let pairs = query_pairs(query);
    if let Some(refusal) =
        refuse_other_jurisdiction(&intake, format, param(&pairs, "jurisdiction_id"))
    {
        return refusal;
    }
    let window = match updates_window(&pairs, intake.deps.clock.now()) {
        Ok(window) => window,
        Err(reason) => return error(format, StatusCode::BAD_REQUEST, reason),
    };
    let city = &intake.deps.city;
    match public_updates(intake.deps.store.as_ref(), city, &window).await {
        Ok(found) => {
            let views: Vec<Value> = found
                .iter()
                .map(|update| wire::update_view(city, &intake.public_url, update))
                .collect();
            Open311Response::ok(format, "service_request_updates", Value::Array(views))
                .into_response()
        }
        Err(e) => unavailable(format, e),
    }
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
    let (mut form, envelope) = match parse_report_form(&body) {
        Ok(parsed) => parsed,
        Err(invalid) => return error(format, StatusCode::BAD_REQUEST, invalid.message),
    };
    // Open311 has no language field: the client's Accept-Language says which the resident reads.
    form.contact.language = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(cityfix_domain::Language::from_accept_language);
    let client = match envelope.api_key.as_deref() {
        None => {
            return error(
                format,
                StatusCode::FORBIDDEN,
                "api_key is required to post requests",
            )
        }
        Some(key) => match intake.deps.city.open311_client(key) {
            Some(client) if client.may(ClientAction::Report) => client.name.clone(),
            Some(_) => {
                return error(
                    format,
                    StatusCode::FORBIDDEN,
                    "this api_key may not post requests",
                )
            }
            None => return error(format, StatusCode::FORBIDDEN, "api_key is not valid"),
        },
    };
    if let Some(refusal) =
        refuse_other_jurisdiction(&intake, format, envelope.jurisdiction_id.as_deref())
    {
        return refusal;
    }
    let slots =
        match crate::media::slots_named(&intake, envelope.upload_token.as_deref(), &envelope.media)
            .await
        {
            Ok(slots) => slots,
            Err(refused) => return error(format, refused.status, refused.message),
        };
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
            let request_id = &submitted.request.id;
            let (media, queue) = (intake.media.as_ref(), intake.deps.queue.as_ref());
            if let Err(e) =
                cityfix_app::slots::bind(media, queue, &intake.public_url, request_id, &slots).await
            {
                return unavailable(format, e);
            }
            let mut notice = format!(
                "Thank you. Your tracking number is {}.",
                submitted.request.id
            );
            for more in &submitted.notices {
                notice.push(' ');
                notice.push_str(more);
            }
            let body = json!([{
                "service_request_id": submitted.request.id.as_str(),
                "token": submitted.token,
                "service_notice": notice,
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
