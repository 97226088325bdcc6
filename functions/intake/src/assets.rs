//! `GET /api/v1/services/{code}/assets`: the assets of a service's layer (streetlights) near a
//! point, nearest first, or in a box, for the resident page to offer to pick from.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use cityfix_domain::text::echo;
use cityfix_domain::{Asset, Invalid, Location};
use cityfix_http::api::ApiError;
use cityfix_http::parse_near;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::Intake;

/// Most assets one answer lists.
pub const ASSETS_LIMIT: usize = 200;

/// The widest box one answer covers, in degrees on each side (about 5 km).
const MAX_BOX_DEGREES: f64 = 0.05;

pub fn routes() -> Router<Arc<Intake>> {
    Router::new().route("/api/v1/services/{code}/assets", get(assets))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetsQuery {
    lat: Option<String>,
    long: Option<String>,
    radius: Option<String>,
    /// `west,south,east,north` in degrees.
    bbox: Option<String>,
}

fn view(asset: &Asset, distance_m: Option<f64>) -> Value {
    let mut view = json!({
        "id": asset.id,
        "label": asset.label,
        "lat": asset.location.lat(),
        "long": asset.location.long(),
    });
    if let Some(distance) = distance_m {
        view["distance_m"] = json!((distance * 10.0).round() / 10.0);
    }
    view
}

/// A `bbox` of `west,south,east,north` as its south-west and north-east corners.
fn parse_box(text: &str) -> Result<(Location, Location), Invalid> {
    let bad = || {
        Invalid::field(
            "bbox",
            "bbox must be west,south,east,north in degrees, west below east and south below north",
        )
    };
    let numbers: Vec<f64> = text
        .split(',')
        .map(|n| n.trim().parse::<f64>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let [west, south, east, north] = numbers[..] else {
        return Err(bad());
    };
    if !(west < east && south < north) {
        return Err(bad());
    }
    if east - west > MAX_BOX_DEGREES || north - south > MAX_BOX_DEGREES {
        return Err(Invalid::field(
            "bbox",
            format!("bbox may be at most {MAX_BOX_DEGREES} degrees on each side"),
        ));
    }
    Ok((Location::new(south, west)?, Location::new(north, east)?))
}

/// `{"service_code", "layer", "snap_m", "assets": [{id, label, lat, long, distance_m}], "truncated"}`.
async fn assets(
    State(intake): State<Arc<Intake>>,
    Path(code): Path<String>,
    query: Result<Query<AssetsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let city = &intake.deps.city;
    let service = city.service(&code).ok_or_else(|| {
        ApiError::from(
            Invalid::field(
                "service_code",
                format!("`{}` is not a service", echo(&code)),
            )
            .with_code("unknown_service"),
        )
    })?;
    let (Some(settings), Some(layer)) = (&service.assets, city.asset_layer_of(service)) else {
        return Err(Invalid::field(
            "service_code",
            format!("service `{}` is not about an asset", service.code),
        )
        .with_code("no_assets")
        .into());
    };
    let near = parse_near(
        query.lat.as_deref(),
        query.long.as_deref(),
        query.radius.as_deref(),
    )?;
    let mut found: Vec<Value> = match (near, query.bbox.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(Invalid::field("bbox", "send lat and long, or bbox, not both").into())
        }
        (Some(near), None) => layer
            .near(near.location, near.radius_m, ASSETS_LIMIT + 1)
            .into_iter()
            .map(|(asset, distance)| view(asset, Some(distance)))
            .collect(),
        (None, Some(bbox)) => {
            let (south_west, north_east) = parse_box(bbox)?;
            layer
                .in_box(south_west, north_east, ASSETS_LIMIT + 1)
                .into_iter()
                .map(|asset| view(asset, None))
                .collect()
        }
        (None, None) => {
            return Err(Invalid::missing("lat", "send lat and long (and radius), or bbox").into())
        }
    };
    let truncated = found.len() > ASSETS_LIMIT;
    found.truncate(ASSETS_LIMIT);
    Ok(Json(json!({
        "service_code": service.code,
        "layer": layer.id,
        "snap_m": settings.snap_m,
        "assets": found,
        "truncated": truncated,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_is_four_ordered_numbers_no_wider_than_the_limit() {
        let (sw, ne) = parse_box("-72.69,41.76,-72.67,41.77").unwrap();
        assert_eq!(
            (sw.long(), sw.lat(), ne.long(), ne.lat()),
            (-72.69, 41.76, -72.67, 41.77)
        );
        for bad in [
            "",
            "1,2,3",
            "-72.67,41.76,-72.69,41.77",
            "a,b,c,d",
            "-72.9,41.7,-72.6,41.8",
        ] {
            assert_eq!(
                parse_box(bad).unwrap_err().field.as_deref(),
                Some("bbox"),
                "{bad}"
            );
        }
    }
}
