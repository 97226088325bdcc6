//! The web client's JSON API on the wire: views of services and requests, and its error shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::city_time;
use crate::open311::MAX_ERROR_CHARS;
use chrono::{DateTime, Utc};
use cityfix_app::ports::{PortError, RequestStore};
use cityfix_domain::text::{cap, ECHO_CHARS};
use cityfix_domain::{
    City, Invalid, Resolution, Service, ServiceRequest, Status, TimelineEntry, TrackingNumber,
};

/// A query string read into `T`, refused as an [`ApiError`] (400 `invalid_query`, naming the
/// fault: an unknown or repeated parameter, a value of the wrong kind) instead of axum's
/// plain-text rejection, so every refusal of the API has the same JSON shape.
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S>
    for ApiQuery<T>
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(query)| ApiQuery(query))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}

/// An API error: `{"error": {"status", "code", "message", "field"?}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// More the caller can act on (the current version, the legal moves), merged into the error.
    pub details: Option<Box<serde_json::Map<String, Value>>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            details: None,
        }
    }

    /// This error with more fields for the caller (each a JSON value).
    pub fn with_details(mut self, details: Value) -> Self {
        if let Value::Object(map) = details {
            self.details = Some(Box::new(map));
        }
        self
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unavailable() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the service is briefly unavailable; please try again",
        )
    }

    /// The storage takes no writes (its disk full, its folder read-only): a 503 that says so,
    /// so a resident knows nothing was saved and a client waits a while before it sends again.
    pub fn cannot_write() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_full",
            CANNOT_WRITE_MESSAGE,
        )
    }
}

/// What a resident is told when the storage takes no writes. It names no path or device: those
/// are for the operator's log.
pub const CANNOT_WRITE_MESSAGE: &str = "nothing was saved: the city's 311 service cannot store \
     anything just now (its storage is full or read-only) and is waiting for an operator to make \
     room; please send your report again in a few minutes";

/// Seconds a client is asked to wait (`Retry-After`) before sending again to a storage that takes
/// no writes: an operator's fix takes minutes, and every retry in between is refused.
pub const CANNOT_WRITE_RETRY_SECS: u32 = 60;

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: invalid.code,
            message: invalid.message,
            field: invalid.field,
            details: None,
        }
    }
}

/// A store, queue or media failure the caller did not expect, logged once here: the resident sees
/// a 503 to retry, never the cause. Callers that expect `NotFound` or `Conflict` match them first.
impl From<PortError> for ApiError {
    fn from(cause: PortError) -> Self {
        tracing::error!(error = %cause, "a port failed; answered 503");
        match cause {
            PortError::CannotWrite(_) => ApiError::cannot_write(),
            _ => ApiError::unavailable(),
        }
    }
}

/// The stored request of a tracking number as typed: 404 if it is not one, or unknown.
pub async fn stored_request(
    store: &dyn RequestStore,
    typed: &str,
) -> Result<ServiceRequest, ApiError> {
    let id = TrackingNumber::parse(typed).map_err(|_| no_such_report(typed))?;
    store.get(&id).await?.ok_or_else(|| no_such_report(typed))
}

fn no_such_report(typed: &str) -> ApiError {
    ApiError::not_found(format!(
        "there is no report with tracking number `{}`",
        typed.chars().take(20).collect::<String>()
    ))
}

/// The request `typed` names as the public may read it: one staff hid from public view, or a
/// confidential service's report (an ethics complaint), is 404 with the same words as a number
/// that does not exist, so a tracking number never tells that either was made.
pub async fn public_request(
    store: &dyn RequestStore,
    city: &City,
    typed: &str,
) -> Result<ServiceRequest, ApiError> {
    let request = stored_request(store, typed).await?;
    if !shown_publicly(city, &request) {
        return Err(no_such_report(typed));
    }
    Ok(request)
}

/// Whether the public may see `request` at all: not hidden by staff, not confidential.
pub fn shown_publicly(city: &City, request: &ServiceRequest) -> bool {
    !request.hidden && !is_confidential(city, request)
}

/// Whether `request` is of a confidential service (only the ethics role reads it).
pub fn is_confidential(city: &City, request: &ServiceRequest) -> bool {
    city.service(&request.service_code)
        .is_some_and(|service| service.confidential)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = cap(&self.message, MAX_ERROR_CHARS);
        let mut error =
            json!({ "status": self.status.as_u16(), "code": self.code, "message": message });
        if let Some(field) = self.field {
            error["field"] = Value::String(cap(&field, ECHO_CHARS * 2));
        }
        for (name, value) in self.details.into_iter().flat_map(|details| *details) {
            error[name] = value;
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        if self.code == "storage_full" {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                CANNOT_WRITE_RETRY_SECS.into(),
            );
        }
        response
    }
}

/// A service with its questions, as the report form needs it.
pub fn service_view(service: &Service) -> Value {
    let attributes: Vec<Value> = service
        .attributes_in_order()
        .into_iter()
        .map(|a| {
            json!({
                "code": a.code,
                "datatype": a.datatype.as_str(),
                "required": a.required,
                "variable": a.variable,
                "description": a.description,
                "datatype_description": a.datatype_description,
                "order": a.order,
                "values": a.values.iter().map(|v| json!({ "key": v.key, "name": v.name })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "service_code": service.code,
        "service_name": service.name,
        "description": service.description,
        "group": service.group,
        "keywords": service.keywords,
        "attributes": attributes,
        "confidential": service.confidential,
        // The asset layer its reports are about, so the page offers its assets to pick.
        "assets": service.assets.as_ref().map(|assets| json!({ "layer": assets.layer, "snap_m": assets.snap_m })),
    })
}

/// A request with its public timeline. Internal notes and the reporter never appear.
pub fn request_view(city: &City, request: &ServiceRequest, timeline: &[TimelineEntry]) -> Value {
    let timeline: Vec<Value> = timeline
        .iter()
        .filter(|entry| entry.public)
        .map(|entry| {
            // Photos shown with the entry (the fix), as links the web client reads them by.
            let media: Vec<String> = entry
                .media
                .iter()
                .filter(|key| !request.keeps_private(key))
                .filter_map(|key| key.rsplit('/').next())
                .map(|file| format!("/api/v1/media/{}/{file}", request.id))
                .collect();
            json!({
                "at": city_time(city, entry.at),
                "kind": entry.kind,
                "status": entry.status,
                "note": entry.note,
                "media": media,
            })
        })
        .collect();
    json!({
        "service_request_id": request.id.as_str(),
        "status": request.status,
        "resolution": request.resolution,
        "status_notes": request.status_notes,
        "service_code": request.service_code,
        "service_name": request.service_name,
        "description": request.description,
        "lat": request.location.lat(),
        "long": request.location.long(),
        "address": request.address,
        "attributes": request.attributes,
        "media_url": cityfix_app::media::shown_media_url_of(request),
        "agency_responsible": request.agency_responsible,
        "neighbourhood": city.places.layers.first().and_then(|layer| request.areas.get(&layer.id)),
        "areas": request.areas,
        "duplicate_of": request.duplicate_of.as_ref().map(|id| id.as_str()),
        "asset_id": request.asset.as_ref().map(|asset| asset.id.as_str()),
        "priority": request.priority,
        "supporters": request.supporters,
        "requested_datetime": city_time(city, request.requested_at),
        "updated_datetime": city_time(city, request.updated_at),
        "expected_datetime": request.expected_at.map(|at| city_time(city, at)),
        "reopen_until": reopen_until(city, request).map(|at| city_time(city, at)),
        "timeline": timeline,
    })
}

/// Until when the reporter of `request` may reopen it ("not fixed"): while it is closed as fixed,
/// its closing plus the city's `reopen_days` (the window `work::reopen_refused` applies).
pub fn reopen_until(city: &City, request: &ServiceRequest) -> Option<DateTime<Utc>> {
    match (request.status, request.resolution, request.closed_at) {
        (Status::Closed, Some(Resolution::Fixed), Some(closed)) => {
            Some(closed + chrono::Duration::days(city.residents.reopen_days.into()))
        }
        _ => None,
    }
}
