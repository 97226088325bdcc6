//! The web client's JSON API: services, creating a request (with Idempotency-Key), reading one back.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cityfix_app::ports::RequestQuery;
use cityfix_app::submit::{fingerprint, submit, Submission, SubmitError};
use cityfix_domain::areas::distance_m;
use cityfix_domain::request::WEB_CHANNEL;
use cityfix_domain::text::echo;
use cityfix_domain::{Contact, Invalid, RawAttribute, ReportForm, Status};
use cityfix_http::api::{public_request, request_view, service_view, ApiError, ApiQuery};
use cityfix_http::json::{read_json, unique_keys};
use cityfix_http::parse_near;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{Intake, OPENAPI};

type Shared = State<Arc<Intake>>;

pub fn routes() -> Router<Arc<Intake>> {
    Router::new()
        .route("/api/v1/services", get(services))
        .route("/api/v1/requests", post(create))
        .route("/api/v1/requests/nearby", get(nearby))
        .route("/api/v1/requests/{id}", get(read))
        .route("/api/v1/{*rest}", get(unknown_path).post(unknown_path))
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn unknown_path(Path(rest): Path<String>) -> ApiError {
    ApiError::not_found(format!("there is no API resource `{}`", echo(&rest)))
}

/// The query of `GET /api/v1/services`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServicesQuery {
    /// The language of the texts (services.toml's translations); else the catalogue's own.
    lang: Option<String>,
}

async fn services(
    State(intake): Shared,
    ApiQuery(query): ApiQuery<ServicesQuery>,
) -> Result<Json<Value>, ApiError> {
    let services: Vec<Value> = intake
        .deps
        .city
        .services
        .iter()
        .map(|service| match query.lang.as_deref() {
            Some(language) => service_view(&service.in_language(language)),
            None => service_view(service),
        })
        .collect();
    Ok(Json(json!({ "services": services })))
}

async fn read(State(intake): Shared, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let request = public_request(intake.deps.store.as_ref(), &intake.deps.city, &id).await?;
    let timeline = intake.deps.store.timeline(&request.id).await?;
    Ok(Json(request_view(&intake.deps.city, &request, &timeline)))
}

/// The query of `GET /api/v1/requests/nearby`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NearbyQuery {
    lat: Option<String>,
    long: Option<String>,
    radius: Option<String>,
    service_code: Option<String>,
}

/// Most reports a nearby search returns.
const NEARBY_LIMIT: u32 = 50;

/// Open reports near a point, nearest first, so a resident can ask "is this the same?" before sending.
async fn nearby(
    State(intake): Shared,
    ApiQuery(query): ApiQuery<NearbyQuery>,
) -> Result<Json<Value>, ApiError> {
    let near = parse_near(
        query.lat.as_deref(),
        query.long.as_deref(),
        query.radius.as_deref(),
    )?
    .ok_or_else(|| {
        ApiError::from(Invalid::missing(
            "lat",
            "a nearby search needs lat and long",
        ))
    })?;
    let service_codes = match query.service_code.filter(|c| !c.is_empty()) {
        Some(code) if intake.deps.city.service(&code).is_none() => {
            return Err(Invalid::field(
                "service_code",
                format!("`{}` is not a service", echo(&code)),
            )
            .with_code("unknown_service")
            .into())
        }
        Some(code) => vec![code],
        None => Vec::new(),
    };
    let search = RequestQuery {
        service_codes,
        statuses: vec![Status::Submitted, Status::Open, Status::InProgress],
        near: Some(near),
        without_hidden: true,
        page: 1,
        page_size: NEARBY_LIMIT,
        without_service_codes: cityfix_app::updates::confidential_services(&intake.deps.city),
        ..RequestQuery::default()
    };
    let here = near.location.to_point();
    let mut found: Vec<(f64, Value)> = intake
        .deps
        .store
        .search(&search)
        .await?
        .iter()
        .map(|request| {
            let distance_m = distance_m(here, request.location.to_point());
            let mut view = request_view(&intake.deps.city, request, &[]);
            if let Some(fields) = view.as_object_mut() {
                fields.remove("timeline");
                fields.insert(
                    "distance_m".into(),
                    json!((distance_m * 10.0).round() / 10.0),
                );
            }
            (distance_m, view)
        })
        .collect();
    found.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(Json(
        json!({ "requests": found.into_iter().map(|(_, view)| view).collect::<Vec<_>>() }),
    ))
}

/// The body of `POST /api/v1/requests`; field names follow Open311.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewReport {
    service_code: Option<String>,
    lat: Option<f64>,
    long: Option<f64>,
    address_string: Option<String>,
    #[serde(default, deserialize_with = "unique_keys")]
    attributes: BTreeMap<String, Value>,
    description: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    device_id: Option<String>,
    /// The language the reporter wants to be written to in (`en`, `es`); else their browser's.
    language: Option<String>,
    media_url: Option<String>,
    /// The id of the asset the report is about, in the service's asset layer (a streetlight's pole).
    asset_id: Option<String>,
    /// Media ids of files uploaded before the report (`POST /api/v1/media`), with their token.
    #[serde(default)]
    media: Vec<String>,
    upload_token: Option<String>,
}

impl NewReport {
    fn into_form(self, accept_language: Option<&str>) -> Result<ReportForm, Invalid> {
        let language = match self.language.as_deref() {
            Some(tag) => Some(
                cityfix_domain::Language::parse(tag)
                    .ok_or_else(|| Invalid::field("language", "language must be `en` or `es`"))?,
            ),
            None => accept_language.and_then(cityfix_domain::Language::from_accept_language),
        };
        let mut attributes = BTreeMap::new();
        for (code, value) in self.attributes {
            let field = format!("attributes.{code}");
            let scalar = |value: &Value| match value {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
                _ => Err(Invalid::field(
                    field.clone(),
                    format!("attribute `{code}` must be a string, number, or a list of them"),
                )),
            };
            let raw = match &value {
                Value::Null => continue,
                Value::Array(items) => {
                    RawAttribute::Many(items.iter().map(scalar).collect::<Result<_, _>>()?)
                }
                other => RawAttribute::One(scalar(other)?),
            };
            attributes.insert(code, raw);
        }
        Ok(ReportForm {
            service_code: self.service_code,
            lat: self.lat,
            long: self.long,
            address_string: self.address_string,
            attributes,
            description: self.description,
            contact: Contact {
                email: self.email,
                phone: self.phone,
                first_name: self.first_name,
                last_name: self.last_name,
                device_id: self.device_id,
                language,
            },
            media_url: self.media_url,
            asset_id: self.asset_id,
        })
    }
}

async fn create(
    State(intake): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is larger than 1 MB",
        ),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_body",
            format!("the request body cannot be read: {rejection}"),
        ),
    })?;
    let mut report: NewReport = read_json(&headers, &body)?;
    let slots = crate::media::slots_named(
        &intake,
        report.upload_token.as_deref(),
        &std::mem::take(&mut report.media),
    )
    .await?;
    let idempotency_key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("\u{0}").to_string());
    let submission = Submission {
        form: report.into_form(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        )?,
        channel: WEB_CHANNEL.into(),
        idempotency_key,
        fingerprint: fingerprint(&body),
    };
    let submitted = submit(&intake.deps, submission)
        .await
        .map_err(|e| match e {
            SubmitError::Invalid(invalid) => ApiError::from(invalid),
            SubmitError::KeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                e.to_string(),
            ),
            SubmitError::Unavailable(cause) => ApiError::from(cause),
        })?;
    let request = &submitted.request;
    tracing::info!(request_id = %request.id, replayed = submitted.replayed, "report accepted");
    cityfix_app::slots::bind(
        intake.media.as_ref(),
        intake.deps.queue.as_ref(),
        &intake.public_url,
        &request.id,
        &slots,
    )
    .await?;
    let timeline = intake.deps.store.timeline(&request.id).await?;
    let status = if submitted.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let location = format!("/api/v1/requests/{}", request.id);
    let mut view = request_view(&intake.deps.city, request, &timeline);
    // The call that made the report learns its token (the reporter's proof for adding photos), and
    // so does a replay of it with the same Idempotency-Key, whose first answer may have been lost.
    if let (Some(token), Some(fields)) = (&submitted.token, view.as_object_mut()) {
        fields.insert("token".into(), json!(token));
    }
    if let (false, Some(fields)) = (submitted.notices.is_empty(), view.as_object_mut()) {
        fields.insert("notices".into(), json!(submitted.notices));
    }
    Ok((status, [(header::LOCATION, location)], Json(view)).into_response())
}
