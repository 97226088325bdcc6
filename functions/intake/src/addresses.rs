//! `GET /api/v1/addresses?q=`: the resident page's address search, a typed address as the city knows it with its point, or the closest addresses it does know.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use cityfix_domain::{Invalid, Lookup};
use cityfix_http::api::{ApiError, ApiQuery};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::Intake;

/// The longest address a search takes, as the report form's address field.
const MAX_TYPED: usize = 500;

pub fn routes() -> Router<Arc<Intake>> {
    Router::new().route("/api/v1/addresses", get(search))
}

#[derive(Deserialize)]
struct AddressQuery {
    q: Option<String>,
}

/// `{"found": {address, lat, long}, "suggestions": []}`, or `found: null` with the city's
/// closest addresses (best first) when it does not know the one typed.
async fn search(
    State(intake): State<Arc<Intake>>,
    ApiQuery(query): ApiQuery<AddressQuery>,
) -> Result<Json<Value>, ApiError> {
    let typed = query.q.unwrap_or_default();
    let typed = typed.trim();
    if typed.is_empty() {
        return Err(Invalid::missing("q", "type an address to search for").into());
    }
    if typed.chars().count() > MAX_TYPED {
        return Err(
            Invalid::field("q", format!("an address is at most {MAX_TYPED} characters")).into(),
        );
    }
    let answer = match intake.deps.geocoder.locate(typed).await? {
        Lookup::Found { location, address } => json!({
            "found": { "address": address, "lat": location.lat(), "long": location.long() },
            "suggestions": [],
        }),
        Lookup::NotFound { suggestions } => json!({ "found": null, "suggestions": suggestions }),
    };
    Ok(Json(answer))
}
