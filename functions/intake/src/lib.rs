//! The intake function: takes reports from residents and Open311 clients and answers their reads.

mod addresses;
mod answers;
mod api;
mod assets;
mod city;
mod devices;
mod followers;
pub mod mail;
mod media;
mod open311;
mod open311_updates;
mod open_data;
mod residents;
mod suggest;
mod unsubscribe;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use cityfix_app::ports::MediaStore;
use cityfix_app::submit::IntakeDeps;
use cityfix_http::MAX_BODY_BYTES;

pub use answers::{answers_router, AnswerDesk};
pub use city::{city_router, CitySite};
pub use devices::{devices_router, Devices};
pub use open_data::{
    open_data_router, OpenData, ResponseSize, COLUMNS as OPEN_DATA_COLUMNS, LAMBDA_RESPONSE_BYTES,
    PAGE_ROWS as OPEN_DATA_PAGE_ROWS,
};
pub use suggest::{service_chooser, suggest_router, Suggester};
pub use unsubscribe::{unsubscribe_router, Preferences};

/// The web API's routes as (method, path), kept beside the router and checked against the
/// OpenAPI document by a test.
pub const API_ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/city"),
    ("get", "/api/v1/city/messages/{language}"),
    ("get", "/api/v1/addresses"),
    ("get", "/api/v1/answers"),
    ("get", "/api/v1/answers/{id}"),
    ("post", "/api/v1/questions"),
    ("get", "/api/v1/services"),
    ("get", "/api/v1/services/suggest"),
    ("get", "/api/v1/services/{code}/assets"),
    ("post", "/api/v1/requests"),
    ("get", "/api/v1/requests/nearby"),
    ("get", "/api/v1/requests/{id}"),
    ("post", "/api/v1/requests/{id}/media"),
    ("post", "/api/v1/requests/{id}/reopen"),
    ("post", "/api/v1/requests/{id}/comments"),
    ("post", "/api/v1/requests/{id}/supporters"),
    ("post", "/api/v1/requests/by-token"),
    ("post", "/api/v1/requests/{id}/followers"),
    ("post", "/api/v1/media"),
    ("get", "/api/v1/media/{id}"),
    ("get", "/api/v1/media/{id}/{file}"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/unsubscribe"),
    ("post", "/api/v1/unsubscribe"),
    ("get", "/api/v1/follow"),
    ("post", "/api/v1/follow"),
    ("get", "/api/v1/survey"),
    ("post", "/api/v1/survey"),
    ("post", "/api/v1/devices"),
];

/// The OpenAPI 3.1 description of the web API.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// What the intake handlers share.
pub struct Intake {
    pub deps: IntakeDeps,
    /// Where this service is reached from outside, for the Open311 discovery document.
    pub public_url: String,
    /// Where photos and videos are uploaded and read from.
    pub media: Arc<dyn MediaStore>,
}

/// Every intake route: Open311 GeoReport v2 under `/open311/v2/` and the web API under `/api/v1/`.
pub fn router(intake: Intake) -> Router {
    let state = Arc::new(intake);
    open311::routes()
        .merge(api::routes())
        .merge(addresses::routes())
        .merge(assets::routes())
        .merge(media::routes())
        .merge(residents::routes())
        .merge(followers::routes())
        .route("/api/v1/openapi.json", get(api::openapi))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
