//! `GET /api/v1/city` and `GET /api/v1/city/messages/{lang}`: who the city is and what its resident site shows, read from the city folder once; nothing personal.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use cityfix_config::Site;
use cityfix_domain::City;
use cityfix_http::api::ApiError;
use serde_json::json;

/// How long a browser may keep the city's description before asking again.
const CACHE_CONTROL: &str = "public, max-age=300";

/// The city's public description and its messages, serialised once at start.
pub struct CitySite {
    description: String,
    messages: BTreeMap<String, String>,
}

impl CitySite {
    /// Everything the resident page is told about the city: contact, languages, map, banner.
    pub fn new(city: &City, site: &Site) -> Self {
        let description = json!({
            "name": city.name,
            "short_name": city.short_name,
            "jurisdiction_id": city.jurisdiction_id,
            "timezone": city.timezone.name(),
            "contact": {
                "email": city.contact_email,
                "phone": city.contact_phone,
                "website": city.website,
            },
            "languages": site.languages,
            "message_languages": site.messages.keys().collect::<Vec<_>>(),
            "emergency": site.emergency,
            "map": {
                "center": { "lat": city.center.lat(), "long": city.center.long() },
                "tile_url": site.tile_url,
                "tile_attribution": site.tile_attribution,
                "boundary": site.boundary,
                "neighbourhoods": site.neighbourhoods,
            },
        });
        let messages = site
            .messages
            .iter()
            .map(|(language, texts)| (language.clone(), json!(texts).to_string()))
            .collect();
        CitySite {
            description: description.to_string(),
            messages,
        }
    }
}

/// The city's two read-only routes.
pub fn city_router(site: CitySite) -> Router {
    Router::new()
        .route("/api/v1/city", get(describe))
        .route("/api/v1/city/messages/{language}", get(messages))
        .with_state(Arc::new(site))
}

fn cached_json(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        body,
    )
        .into_response()
}

async fn describe(State(site): State<Arc<CitySite>>) -> Response {
    cached_json(site.description.clone())
}

/// The city folder's own messages for a language: 404 when it has none (the page's own apply).
async fn messages(
    State(site): State<Arc<CitySite>>,
    Path(language): Path<String>,
) -> Result<Response, ApiError> {
    match site.messages.get(&language) {
        Some(body) => Ok(cached_json(body.clone())),
        None => Err(ApiError::not_found(format!(
            "the city has no messages of its own in `{language}`"
        ))),
    }
}
