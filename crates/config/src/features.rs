//! Reading GeoJSON: a layer's named features, their positions and their polygons.

use std::collections::BTreeSet;
use std::path::Path;

use geo::{Coord, LineString, MultiPolygon, Polygon};

use crate::files::read_text;
use crate::layer_file::{read_layer_features, LayerFeatures, LayerSource};
use crate::ConfigError;

/// The properties of a GeoJSON feature.
pub type Properties = serde_json::Map<String, serde_json::Value>;

/// A fault in one feature's geometry, named so the feature can be found in the layer.
pub(crate) fn feature_fault(path: &Path, name: &str, message: &str) -> ConfigError {
    ConfigError {
        file: path.to_path_buf(),
        entry: Some(format!("feature `{name}`")),
        field: Some("geometry".into()),
        message: message.into(),
    }
}

/// The features of a GeoJSON FeatureCollection as stored, with the name its old `crs` member
/// gives its coordinate system, if it has one; a file that is not a FeatureCollection is a fault.
pub(crate) fn read_geojson(
    path: &Path,
) -> Result<(Vec<geojson::Feature>, Option<String>), ConfigError> {
    let text = read_text(path)?;
    let layer_fault = |field: Option<&str>, message: String| ConfigError {
        file: path.into(),
        entry: None,
        field: field.map(str::to_string),
        message,
    };
    let collection: geojson::FeatureCollection = text
        .parse::<geojson::GeoJson>()
        .map_err(|e| layer_fault(None, format!("is not GeoJSON: {e}")))
        .and_then(|g| {
            geojson::FeatureCollection::try_from(g)
                .map_err(|e| layer_fault(None, format!("is not a FeatureCollection: {e}")))
        })?;
    let crs = match collection
        .foreign_members
        .as_ref()
        .and_then(|members| members.get("crs"))
    {
        Some(crs) => Some(
            crs.pointer("/properties/name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .ok_or_else(|| {
                    layer_fault(
                        Some("crs"),
                        "the `crs` member names no coordinate system (`properties.name`)".into(),
                    )
                })?,
        ),
        None => None,
    };
    Ok((collection.features, crs))
}

/// The features of a FeatureCollection, each with its name; names must be present and unique.
pub(crate) fn read_features(
    path: &Path,
    name_property: &str,
) -> Result<(Vec<(String, geojson::Feature)>, LayerSource), ConfigError> {
    let LayerFeatures {
        features: collection,
        source,
    } = read_layer_features(path)?;
    let layer_fault = |entry: Option<String>, field: Option<&str>, message: String| ConfigError {
        file: path.into(),
        entry,
        field: field.map(str::to_string),
        message,
    };
    let mut names = BTreeSet::new();
    let mut features = Vec::with_capacity(collection.len());
    for (index, feature) in collection.into_iter().enumerate() {
        let name = feature
            .property(name_property)
            .and_then(|v| v.as_str())
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                layer_fault(
                    Some(format!("feature {index}")),
                    Some(name_property),
                    "every feature needs a name in this property".into(),
                )
            })?
            .to_string();
        if !names.insert(name.clone()) {
            return Err(layer_fault(
                Some(format!("feature `{name}` (index {index})")),
                Some(name_property),
                "the name is used by another feature".into(),
            ));
        }
        features.push((name, feature));
    }
    Ok((features, source))
}

/// A GeoJSON `[longitude, latitude]` position as a coordinate, refusing positions outside the world.
pub(crate) fn to_coord(position: &[f64]) -> Result<Coord<f64>, String> {
    let (long, lat) = match position {
        [long, lat, ..] => (*long, *lat),
        _ => return Err("a position has fewer than two numbers".into()),
    };
    let in_world =
        |long: f64, lat: f64| (-180.0..=180.0).contains(&long) && (-90.0..=90.0).contains(&lat);
    if !in_world(long, lat) {
        if in_world(lat, long) {
            return Err(format!(
                "position [{long}, {lat}] has a latitude beyond 90°: longitude and latitude are swapped (GeoJSON is [longitude, latitude])"
            ));
        }
        return Err(format!(
            "position [{long}, {lat}] is outside the world; GeoJSON is [longitude, latitude]"
        ));
    }
    Ok(Coord { x: long, y: lat })
}

/// GeoJSON polygon rings as a multipolygon, refusing rings that are too short or not closed.
pub(crate) fn to_multipolygon(
    polygons: &[Vec<Vec<Vec<f64>>>],
) -> Result<MultiPolygon<f64>, String> {
    let ring = |positions: &Vec<Vec<f64>>| -> Result<LineString<f64>, String> {
        if positions.len() < 4 {
            return Err(format!(
                "a ring has {} positions; a closed ring needs at least 4",
                positions.len()
            ));
        }
        let coords = positions
            .iter()
            .map(|p| to_coord(p))
            .collect::<Result<Vec<_>, _>>()?;
        if coords.first() != coords.last() {
            return Err("a ring is not closed: its last position differs from its first".into());
        }
        Ok(LineString(coords))
    };
    let mut result = Vec::with_capacity(polygons.len());
    for rings in polygons {
        let (exterior, interiors) = rings.split_first().ok_or("a polygon has no rings")?;
        let interiors = interiors.iter().map(ring).collect::<Result<Vec<_>, _>>()?;
        result.push(Polygon::new(ring(exterior)?, interiors));
    }
    Ok(MultiPolygon(result))
}
