//! Loading the city folder's asset layers (routing.toml `[[asset_layer]]`: streetlights,
//! hydrants, bins as GeoJSON points with an id), checked whole, and the services that name them.

use std::collections::BTreeSet;
use std::path::Path;

use cityfix_domain::areas::AreaIndex;
use cityfix_domain::assets::{Asset, AssetLayer, ASSET_ATTRIBUTE};
use cityfix_domain::{Location, Service};

use crate::checks::is_slug;
use crate::features::to_coord;
use crate::files::AssetLayerFile;
use crate::layer_file::read_layer_features;
use crate::{ConfigError, LayerNotes};

/// The farthest a service may snap a report to an asset, in metres.
pub const MAX_SNAP_M: f64 = 500.0;

/// Reads a point layer of assets: every feature a Point with a non-empty id in `id_property`
/// (a string, or a whole number), unique in the layer, and a label in `label_property` when
/// that is given. A fault names the file and the feature by its index (and its id once known).
/// `inside` (the city's boundary), when given, must hold every asset.
pub fn read_asset_layer(
    path: &Path,
    id: &str,
    id_property: &str,
    label_property: Option<&str>,
    inside: Option<&AreaIndex>,
) -> Result<AssetLayer, ConfigError> {
    // GeoJSON or a Shapefile, in any system the layer readers know, as WGS 84 points.
    let features = read_layer_features(path)?.features;
    assets_of_features(path, features, id, id_property, label_property, inside)
}

/// The assets of a layer's features read from `path`, checked as [`read_asset_layer`] says.
fn assets_of_features(
    path: &Path,
    features: Vec<geojson::Feature>,
    id: &str,
    id_property: &str,
    label_property: Option<&str>,
    inside: Option<&AreaIndex>,
) -> Result<AssetLayer, ConfigError> {
    let fault = |entry: String, field: &str, message: String| ConfigError {
        file: path.to_path_buf(),
        entry: Some(entry),
        field: Some(field.to_string()),
        message,
    };
    let mut assets = Vec::with_capacity(features.len());
    for (index, feature) in features.into_iter().enumerate() {
        let asset_id = match feature.property(id_property) {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(serde_json::Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
            _ => {
                return Err(fault(
                    format!("feature {index}"),
                    id_property,
                    "every asset needs an id in this property (a text or a whole number)".into(),
                ))
            }
        };
        let entry = format!("feature {index} (id `{asset_id}`)");
        let label = match (
            label_property,
            label_property.and_then(|p| feature.property(p)),
        ) {
            (Some(_), Some(serde_json::Value::String(s))) if !s.trim().is_empty() => {
                Some(s.trim().to_string())
            }
            (Some(property), Some(value)) if !value.is_null() => {
                return Err(fault(entry, property, "a label must be text".into()))
            }
            _ => None,
        };
        let position = match feature.geometry.as_ref().map(|g| &g.value) {
            Some(geojson::Value::Point(position)) => position,
            Some(other) => {
                return Err(fault(
                    entry,
                    "geometry",
                    format!("an asset is a Point, not a {}", other.type_name()),
                ))
            }
            None => {
                return Err(fault(
                    entry,
                    "geometry",
                    "the feature has no geometry".into(),
                ))
            }
        };
        let coord = to_coord(position).map_err(|m| fault(entry.clone(), "geometry", m))?;
        let location = Location::new(coord.y, coord.x)
            .map_err(|invalid| fault(entry.clone(), "geometry", invalid.message))?;
        if let Some(boundary) = inside {
            if boundary.first_at(location.to_point()).is_none() {
                let swapped = Location::new(coord.x, coord.y)
                    .ok()
                    .filter(|swapped| boundary.first_at(swapped.to_point()).is_some());
                let hint = if swapped.is_some() {
                    "; swapped it lies in the city: GeoJSON is [longitude, latitude]"
                } else {
                    ""
                };
                return Err(fault(
                    entry,
                    "geometry",
                    format!(
                        "the asset at long {:.6}, lat {:.6} is outside the city boundary{hint}",
                        coord.x, coord.y
                    ),
                ));
            }
        }
        assets.push(Asset {
            id: asset_id,
            label,
            location,
        });
    }
    AssetLayer::new(id, assets).map_err(|repeated| {
        fault(
            format!("features {} and {}", repeated.first, repeated.second),
            id_property,
            format!(
                "the id `{}` is used by both features (indexes {} and {}); ids must be unique in the layer",
                repeated.id, repeated.first, repeated.second
            ),
        )
    })
}

/// Reads routing.toml's asset layers: unique slug ids, each file read whole and inside the city.
pub(crate) fn load_asset_layers(
    dir: &Path,
    routing_path: &Path,
    layers: &[AssetLayerFile],
    boundary: &AreaIndex,
    notes: &mut LayerNotes,
) -> Result<Vec<AssetLayer>, ConfigError> {
    let mut ids = BTreeSet::new();
    let mut loaded = Vec::with_capacity(layers.len());
    for layer in layers {
        if !is_slug(&layer.id, '-') || !ids.insert(layer.id.as_str()) {
            return Err(ConfigError {
                file: routing_path.to_path_buf(),
                entry: Some(format!("asset_layer `{}`", layer.id)),
                field: Some("id".into()),
                message: "asset layer ids must be unique and made of a-z, 0-9 and -".into(),
            });
        }
        let path = dir.join(&layer.file);
        let read = read_layer_features(&path)?;
        notes.layer(&path, &read.source, Vec::new());
        loaded.push(assets_of_features(
            &path,
            read.features,
            &layer.id,
            &layer.id_property,
            layer.label_property.as_deref(),
            Some(boundary),
        )?);
    }
    Ok(loaded)
}

/// Services naming an asset layer: the layer exists, the snap distance is 0 to 500 m, and no
/// service asks a question coded `asset_id` (that attribute names the asset on Open311).
pub(crate) fn check_service_assets(
    path: &Path,
    services: &[Service],
    layers: &[AssetLayer],
) -> Result<(), ConfigError> {
    for service in services {
        let fault = |field: &str, message: String| ConfigError {
            file: path.to_path_buf(),
            entry: Some(format!("service `{}`", service.code)),
            field: Some(field.to_string()),
            message,
        };
        if service.attributes.iter().any(|a| a.code == ASSET_ATTRIBUTE) {
            return Err(fault(
                &format!("attribute `{ASSET_ATTRIBUTE}`"),
                format!("the attribute code `{ASSET_ATTRIBUTE}` is kept for the asset a report is about (`assets` of the service)"),
            ));
        }
        let Some(assets) = &service.assets else {
            continue;
        };
        if !layers.iter().any(|layer| layer.id == assets.layer) {
            return Err(fault(
                "assets.layer",
                format!(
                    "`{}` is not an asset layer of routing.toml (`[[asset_layer]]`)",
                    assets.layer
                ),
            ));
        }
        if !(0.0..=MAX_SNAP_M).contains(&assets.snap_m) {
            return Err(fault(
                "assets.snap_m",
                format!("must be 0 to {MAX_SNAP_M} metres"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cityfix_domain::Area;
    use geo::polygon;

    fn city() -> AreaIndex {
        AreaIndex::build(&[Area {
            name: "City".into(),
            shape: polygon![(x: -72.8, y: 41.7), (x: -72.6, y: 41.7), (x: -72.6, y: 41.8), (x: -72.8, y: 41.8), (x: -72.8, y: 41.7)].into(),
        }])
    }

    fn layer(features: &[serde_json::Value]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lights.geojson");
        let collection = serde_json::json!({ "type": "FeatureCollection", "features": features });
        std::fs::write(&path, collection.to_string()).unwrap();
        (dir, path)
    }

    fn light(id: serde_json::Value, long: f64, lat: f64) -> serde_json::Value {
        serde_json::json!({
            "type": "Feature",
            "properties": { "pole": id, "where": "Main St" },
            "geometry": { "type": "Point", "coordinates": [long, lat] },
        })
    }

    fn read(features: &[serde_json::Value]) -> Result<AssetLayer, ConfigError> {
        let (_dir, path) = layer(features);
        read_asset_layer(&path, "streetlights", "pole", Some("where"), Some(&city()))
    }

    #[test]
    fn a_point_layer_loads_with_ids_and_labels() {
        let loaded = read(&[
            light("SL-1".into(), -72.7, 41.75),
            light(17.into(), -72.71, 41.75),
        ])
        .unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded.get("17").unwrap().label.as_deref(), Some("Main St"));
        assert!(loaded.get("SL-1").is_some());
    }

    #[test]
    fn a_repeated_id_names_both_features() {
        let err = read(&[
            light("SL-1".into(), -72.7, 41.75),
            light("SL-2".into(), -72.7, 41.76),
            light("SL-1".into(), -72.7, 41.77),
        ])
        .unwrap_err();
        assert!(err.file.ends_with("lights.geojson"));
        assert_eq!(err.entry.as_deref(), Some("features 0 and 2"));
        assert_eq!(err.field.as_deref(), Some("pole"));
        assert!(err.message.contains("`SL-1` is used by both"), "{err}");
    }

    #[test]
    fn a_missing_id_a_polygon_and_a_point_outside_are_named() {
        let err = read(&[
            light("SL-1".into(), -72.7, 41.75),
            light(serde_json::Value::Null, -72.7, 41.76),
        ])
        .unwrap_err();
        assert_eq!(err.entry.as_deref(), Some("feature 1"));
        assert_eq!(err.field.as_deref(), Some("pole"));

        let mut square = light("SL-2".into(), -72.7, 41.75);
        square["geometry"] = serde_json::json!({ "type": "Polygon", "coordinates": [[[-72.7, 41.75], [-72.69, 41.75], [-72.69, 41.76], [-72.7, 41.75]]] });
        let err = read(&[light("SL-1".into(), -72.7, 41.75), square]).unwrap_err();
        assert_eq!(err.entry.as_deref(), Some("feature 1 (id `SL-2`)"));
        assert!(err.message.contains("not a Polygon"), "{err}");

        let err = read(&[light("SL-1".into(), 41.75, -72.7)]).unwrap_err();
        assert_eq!(err.entry.as_deref(), Some("feature 0 (id `SL-1`)"));
        assert!(err.message.contains("outside"), "{err}");
        let err = read(&[light("SL-1".into(), -72.5, 41.75)]).unwrap_err();
        assert!(err.message.contains("outside the city boundary"), "{err}");

        let mut labelled = light("SL-3".into(), -72.7, 41.75);
        labelled["properties"]["where"] = 12.into();
        let err = read(&[labelled]).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("where"));
    }

    /// A copy of the demo city with one file edited, loaded.
    fn demo_with(
        file: &str,
        edit: impl Fn(String) -> String,
    ) -> Result<cityfix_domain::City, ConfigError> {
        fn copy(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).unwrap();
            for entry in std::fs::read_dir(from).unwrap() {
                let entry = entry.unwrap();
                let target = to.join(entry.file_name());
                if entry.path().is_dir() {
                    copy(&entry.path(), &target);
                } else {
                    std::fs::copy(entry.path(), target).unwrap();
                }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        copy(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/hartford"),
            dir.path(),
        );
        let path = dir.path().join(file);
        std::fs::write(&path, edit(std::fs::read_to_string(&path).unwrap())).unwrap();
        crate::load_city(dir.path())
    }

    #[test]
    fn the_demo_city_has_its_streetlights_and_the_streetlight_service_names_them() {
        let city = demo_with("city.toml", |t| t).unwrap();
        let layer = city.asset_layer("streetlights").unwrap();
        assert_eq!(layer.len(), 981);
        assert_eq!(
            layer.get("SL-014-020").unwrap().label.as_deref(),
            Some("Main Street, by 710")
        );
        let service = city.service("streetlight_out").unwrap();
        assert_eq!(city.asset_layer_of(service).unwrap().id, "streetlights");
    }

    #[test]
    fn a_fault_in_the_city_folder_s_asset_layer_or_a_service_naming_one_is_refused() {
        let err = demo_with("assets/streetlights.geojson", |t| {
            t.replacen("\"SL-001-002\"", "\"SL-001-001\"", 1)
        })
        .unwrap_err();
        assert!(err.file.ends_with("streetlights.geojson"), "{err}");
        assert_eq!(err.entry.as_deref(), Some("features 0 and 1"));

        let err = demo_with("services.toml", |t| {
            t.replacen("layer = \"streetlights\"", "layer = \"hydrants\"", 1)
        })
        .unwrap_err();
        assert!(err.file.ends_with("services.toml"));
        assert_eq!(err.entry.as_deref(), Some("service `streetlight_out`"));
        assert_eq!(err.field.as_deref(), Some("assets.layer"));

        let err = demo_with("services.toml", |t| {
            t.replacen("snap_m = 30.0", "snap_m = 900.0", 1)
        })
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("assets.snap_m"));

        let err = demo_with("services.toml", |t| {
            // The question and its Spanish text both renamed, so only the reserved code is wrong.
            t.replace("pothole_size", "asset_id")
        })
        .unwrap_err();
        assert_eq!(err.entry.as_deref(), Some("service `pothole`"));
        assert!(err.message.contains("kept for the asset"), "{err}");

        let err = demo_with("routing.toml", |t| {
            t.replacen("id = \"streetlights\"", "id = \"Street Lights\"", 1)
        })
        .unwrap_err();
        assert!(err.file.ends_with("routing.toml"));
        assert_eq!(err.field.as_deref(), Some("id"));
    }

    #[test]
    fn an_empty_or_broken_file_is_refused_whole() {
        let err = read(&[]).unwrap_err();
        assert!(err.message.contains("no features"), "{err}");
        let (_dir, path) = layer(&[]);
        std::fs::write(
            &path,
            r#"{"type":"FeatureCollection","features":[{"type":"Feat"#,
        )
        .unwrap();
        let err = read_asset_layer(&path, "streetlights", "pole", None, None).unwrap_err();
        assert!(err.message.contains("not GeoJSON"), "{err}");
    }
}
