//! Reading GeoJSON: a layer's named features, their positions and their polygons.

use std::collections::BTreeSet;
use std::path::Path;

use geo::{Coord, LineString, MultiPolygon, Polygon};

use crate::files::read_text;
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

/// The features of a GeoJSON FeatureCollection; a file that is not one, or has no features, is a fault.
pub(crate) fn read_collection(path: &Path) -> Result<Vec<geojson::Feature>, ConfigError> {
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
    if let Some(crs) = collection
        .foreign_members
        .as_ref()
        .and_then(|members| members.get("crs"))
    {
        check_crs(crs).map_err(|message| layer_fault(Some("crs"), message))?;
    }
    if collection.features.is_empty() {
        return Err(layer_fault(
            Some("features"),
            "the layer has no features".into(),
        ));
    }
    Ok(collection.features)
}

/// The names the old GeoJSON `crs` member gives WGS 84 longitude / latitude, the only system
/// read (RFC 7946 dropped the member; files exported before it still carry it).
const WGS84_NAMES: [&str; 6] = [
    "urn:ogc:def:crs:ogc:1.3:crs84",
    "urn:ogc:def:crs:epsg::4326",
    "urn:ogc:def:crs:epsg:4326",
    "epsg:4326",
    "ogc:crs84",
    "crs84",
];

/// A `crs` member must name WGS 84; a projected system (State Plane feet, Web Mercator) is
/// refused with how to export the layer in WGS 84, since its numbers are not degrees.
fn check_crs(crs: &serde_json::Value) -> Result<(), String> {
    let name = crs
        .pointer("/properties/name")
        .and_then(|n| n.as_str())
        .ok_or("the `crs` member names no coordinate system (`properties.name`)")?;
    if WGS84_NAMES.contains(&name.trim().to_lowercase().as_str()) {
        return Ok(());
    }
    Err(format!("the layer is in `{name}`, not WGS 84 longitude / latitude; cityfix does not reproject yet: export it as EPSG:4326 (in QGIS: Export > Save Features As, CRS EPSG:4326)"))
}

/// The features of a FeatureCollection, each with its name; names must be present and unique.
pub(crate) fn read_features(
    path: &Path,
    name_property: &str,
) -> Result<Vec<(String, geojson::Feature)>, ConfigError> {
    let collection = read_collection(path)?;
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
                Some(format!("feature `{name}`")),
                Some(name_property),
                "the name is used by another feature".into(),
            ));
        }
        features.push((name, feature));
    }
    Ok(features)
}

/// A GeoJSON `[longitude, latitude]` position as a coordinate, refusing positions outside the world.
pub(crate) fn to_coord(position: &[f64]) -> Result<Coord<f64>, String> {
    let (long, lat) = match position {
        [long, lat, ..] => (*long, *lat),
        _ => return Err("a position has fewer than two numbers".into()),
    };
    if !(-180.0..=180.0).contains(&long) || !(-90.0..=90.0).contains(&lat) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn layer_with_crs(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layer.geojson");
        let text = format!(
            r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"{name}"}}}},"features":[{{"type":"Feature","properties":{{"name":"A"}},"geometry":{{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}}}]}}"#
        );
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn the_old_crs_member_is_read_when_it_names_wgs84_and_refused_when_projected() {
        for name in ["urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326"] {
            let (_dir, path) = layer_with_crs(name);
            assert_eq!(read_collection(&path).unwrap().len(), 1, "{name}");
        }
        let (_dir, path) = layer_with_crs("urn:ogc:def:crs:EPSG::2234");
        let err = read_collection(&path).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("crs"));
        assert!(
            err.message.contains("EPSG::2234") && err.message.contains("EPSG:4326"),
            "{err}"
        );
    }
}
