//! `POST /api/v1/devices`: a phone app registers its push token and gets the device id it sends with its reports.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use cityfix_app::devices::{parse_platform, register_device, DeviceRefused};
use cityfix_app::ports::{Clock, DeviceRegistry, RequestStore};
use cityfix_http::api::ApiError;
use cityfix_http::json::read_json;
use serde::Deserialize;
use serde_json::json;

/// What device registration needs: where devices are kept and the push service that takes them.
#[derive(Clone)]
pub struct Devices {
    pub store: Arc<dyn RequestStore>,
    pub registry: Arc<dyn DeviceRegistry>,
    pub clock: Arc<dyn Clock>,
    /// The city's short name, for the refusal of a platform it does not push to.
    pub city: String,
}

pub fn devices_router(devices: Devices) -> Router {
    Router::new()
        .route("/api/v1/devices", post(register))
        .with_state(Arc::new(devices))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceBody {
    platform: String,
    token: String,
}

/// Registers the app: 201 with its `device_id`, the same for the same token. Nothing else is
/// answered about a device, and the token is never echoed.
async fn register(
    State(devices): State<Arc<Devices>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: DeviceBody = read_json(&headers, &body)?;
    let platform = parse_platform(&body.platform)?;
    match register_device(
        devices.store.as_ref(),
        devices.registry.as_ref(),
        &devices.city,
        platform,
        &body.token,
        devices.clock.now(),
    )
    .await
    {
        Ok(device) => Ok((
            StatusCode::CREATED,
            Json(json!({ "device_id": device.id, "platform": platform.as_str() })),
        )
            .into_response()),
        Err(DeviceRefused::Invalid(invalid)) => Err(invalid.into()),
        Err(refused @ DeviceRefused::NotOffered(..)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "push_not_offered",
            refused.to_string(),
        )),
        Err(DeviceRefused::Port(error)) => Err(error.into()),
    }
}
