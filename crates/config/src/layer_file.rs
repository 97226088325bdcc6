//! Reading a layer file whatever its format (GeoJSON, ESRI Shapefile) as features in WGS 84 longitude / latitude: the one entry point every layer reader goes through.

use std::fmt;
use std::path::Path;

use crate::features::read_geojson;
use crate::projection::{system_named, system_of_wkt, System, EXPORT_AS_WGS84};
use crate::shapefile_layer::read_shapefile;
use crate::ConfigError;

/// The format a layer file was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerFormat {
    GeoJson,
    Shapefile,
    GeoPackage,
}

impl LayerFormat {
    pub fn label(self) -> &'static str {
        match self {
            LayerFormat::GeoJson => "GeoJSON",
            LayerFormat::Shapefile => "ESRI Shapefile",
            LayerFormat::GeoPackage => "GeoPackage",
        }
    }
}

/// What a layer file was read as: its format, the coordinate system it names, and whether its
/// positions were reprojected to WGS 84.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSource {
    pub format: LayerFormat,
    /// The system as the file names it (`EPSG:2234`, `NAD_1983_StatePlane_Connecticut_FIPS_0600_Feet`,
    /// `WGS 84` for a GeoJSON file without a `crs` member, as RFC 7946 says).
    pub system: String,
    pub reprojected: bool,
}

impl fmt::Display for LayerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in `{}`", self.format.label(), self.system)?;
        if self.reprojected {
            write!(f, ", reprojected to WGS 84 longitude / latitude")
        } else {
            write!(f, ", read as WGS 84 longitude / latitude")
        }
    }
}

/// A layer file's features (any geometry: areas, lines, points) in WGS 84 longitude / latitude,
/// properties as stored, in the file's order.
#[derive(Debug, Clone)]
pub struct LayerFeatures {
    pub features: Vec<geojson::Feature>,
    pub source: LayerSource,
}

/// The coordinate system a file declares, for [`features_in_wgs84`].
#[derive(Debug, Clone, Copy)]
pub enum DeclaredSystem<'a> {
    /// None declared: WGS 84, as RFC 7946 says.
    Wgs84Implied,
    /// A name: an EPSG code (`EPSG:3857`, `urn:ogc:def:crs:EPSG::2234`) or a name of WGS 84.
    Named(&'a str),
    /// A WKT definition (ESRI's from a `.prj`, or OGC's).
    Wkt(&'a str),
}

fn layer_fault(
    path: &Path,
    entry: Option<String>,
    field: Option<&str>,
    message: String,
) -> ConfigError {
    ConfigError {
        file: path.to_path_buf(),
        entry,
        field: field.map(str::to_string),
        message,
    }
}

/// Reads the features of a layer file in WGS 84, whatever its format: a `.shp` (with its
/// `.dbf`, `.prj`, `.cpg`) or GeoJSON (any other name). Positions in a projected system are
/// reprojected; a file that cannot be read whole, has no features, names a system cityfix
/// cannot reproject from, or holds projected numbers while claiming WGS 84 is refused whole.
pub fn read_layer_features(path: &Path) -> Result<LayerFeatures, ConfigError> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "shp" => {
            let layer = read_shapefile(path)?;
            features_in_wgs84(
                path,
                LayerFormat::Shapefile,
                layer.features,
                DeclaredSystem::Wkt(&layer.prj),
            )
        }
        "gpkg" => Err(layer_fault(path, None, None, "is a GeoPackage, which only `cityfix check-layer` reads (a GeoPackage is SQLite, which the functions reading a city folder do not link): write it as GeoJSON with `cityfix check-layer FILE.gpkg --repair OUT.geojson`, or export it as a Shapefile".into())),
        "zip" => Err(layer_fault(path, None, None, "is a zip archive: unzip it and name the .shp (with its .dbf, .prj and .cpg beside it) or the .geojson inside".into())),
        "dbf" | "shx" | "prj" | "cpg" => Err(layer_fault(path, None, None, "is one part of a Shapefile: name the .shp".into())),
        _ => {
            let (features, crs) = read_geojson(path)?;
            let declared = crs.as_deref().map_or(DeclaredSystem::Wgs84Implied, DeclaredSystem::Named);
            features_in_wgs84(path, LayerFormat::GeoJson, features, declared)
        }
    }
}

/// Features another reader took from `path` (the CLI's GeoPackage reader), in the system they
/// declare, as [`read_layer_features`] gives them: reprojected to WGS 84, checked the same way.
pub fn features_in_wgs84(
    path: &Path,
    format: LayerFormat,
    mut features: Vec<geojson::Feature>,
    declared: DeclaredSystem<'_>,
) -> Result<LayerFeatures, ConfigError> {
    let system_field = match format {
        LayerFormat::Shapefile => ".prj",
        LayerFormat::GeoJson => "crs",
        LayerFormat::GeoPackage => "srs_id",
    };
    let system = match declared {
        DeclaredSystem::Wgs84Implied => System::Wgs84 {
            name: "WGS 84".into(),
        },
        DeclaredSystem::Named(name) => system_named(name)
            .map_err(|message| layer_fault(path, None, Some(system_field), message))?,
        DeclaredSystem::Wkt(wkt) => system_of_wkt(wkt)
            .map_err(|message| layer_fault(path, None, Some(system_field), message))?,
    };
    if features.is_empty() {
        return Err(layer_fault(
            path,
            None,
            Some("features"),
            "the layer has no features".into(),
        ));
    }
    let name = system.name().to_string();
    let reprojected = match &system {
        System::Wgs84 { .. } => {
            check_degrees(path, &features, &name)?;
            false
        }
        System::Other(reprojection) => {
            for (index, feature) in features.iter_mut().enumerate() {
                if let Some(geometry) = feature.geometry.as_mut() {
                    for_each_position(&mut geometry.value, &mut |position| {
                        if let [x, y, ..] = position.as_mut_slice() {
                            (*x, *y) = reprojection.to_wgs84(*x, *y)?;
                        }
                        Ok(())
                    })
                    .map_err(|message| {
                        layer_fault(
                            path,
                            Some(format!("feature {index}")),
                            Some("geometry"),
                            message,
                        )
                    })?;
                }
            }
            true
        }
    };
    Ok(LayerFeatures {
        features,
        source: LayerSource {
            format,
            system: name,
            reprojected,
        },
    })
}

/// Numbers no longitude or latitude reaches, in metres or feet from a projection's origin.
const PROJECTED_MAGNITUDE: f64 = 360.0;

/// A layer said to be in degrees whose positions are far beyond any longitude or latitude holds
/// projected numbers under the wrong name: refused whole, naming the first such feature.
fn check_degrees(
    path: &Path,
    features: &[geojson::Feature],
    system: &str,
) -> Result<(), ConfigError> {
    for (index, feature) in features.iter().enumerate() {
        let found = feature
            .geometry
            .as_ref()
            .and_then(|geometry| first_position_beyond(&geometry.value, PROJECTED_MAGNITUDE));
        if let Some((x, y)) = found {
            return Err(layer_fault(path, Some(format!("feature {index}")), Some("geometry"), format!(
                "position [{x}, {y}] is not longitude / latitude but projected numbers (metres or feet, as a State Plane or Web Mercator layer has), yet the layer says it is in `{system}`: give the system it is in (a `crs` member such as `urn:ogc:def:crs:EPSG::2234`, or the Shapefile's own .prj), or {EXPORT_AS_WGS84}"
            )));
        }
    }
    Ok(())
}

/// The first position of a geometry with a number beyond `limit` either way.
fn first_position_beyond(value: &geojson::Value, limit: f64) -> Option<(f64, f64)> {
    use geojson::Value;
    let beyond = |position: &Vec<f64>| match position.as_slice() {
        [x, y, ..] if x.abs() > limit || y.abs() > limit => Some((*x, *y)),
        _ => None,
    };
    match value {
        Value::Point(position) => beyond(position),
        Value::MultiPoint(positions) | Value::LineString(positions) => {
            positions.iter().find_map(beyond)
        }
        Value::MultiLineString(lines) | Value::Polygon(lines) => {
            lines.iter().flatten().find_map(beyond)
        }
        Value::MultiPolygon(polygons) => polygons.iter().flatten().flatten().find_map(beyond),
        Value::GeometryCollection(geometries) => geometries
            .iter()
            .find_map(|g| first_position_beyond(&g.value, limit)),
    }
}

/// Calls `visit` on every position of a geometry, stopping at the first error.
fn for_each_position(
    value: &mut geojson::Value,
    visit: &mut impl FnMut(&mut Vec<f64>) -> Result<(), String>,
) -> Result<(), String> {
    use geojson::Value;
    match value {
        Value::Point(position) => visit(position),
        Value::MultiPoint(positions) | Value::LineString(positions) => {
            positions.iter_mut().try_for_each(visit)
        }
        Value::MultiLineString(lines) | Value::Polygon(lines) => {
            lines.iter_mut().flatten().try_for_each(visit)
        }
        Value::MultiPolygon(polygons) => {
            polygons.iter_mut().flatten().flatten().try_for_each(visit)
        }
        Value::GeometryCollection(geometries) => geometries
            .iter_mut()
            .try_for_each(|g| for_each_position(&mut g.value, visit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/layers/formats")
            .join(name)
    }

    /// Copies the parts of a fixture Shapefile (`base`.shp, .shx, .dbf, .prj, .cpg) into a
    /// folder, but those named in `leave_out`, so a test can spoil one of them.
    fn copy_shapefile(base: &str, leave_out: &[&str]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        for extension in ["shp", "shx", "dbf", "prj", "cpg"] {
            if !leave_out.contains(&extension) {
                std::fs::copy(
                    fixture(&format!("{base}.{extension}")),
                    dir.path().join(format!("{base}.{extension}")),
                )
                .unwrap();
            }
        }
        let shp = dir.path().join(format!("{base}.shp"));
        (dir, shp)
    }

    fn polygons(feature: &geojson::Feature) -> Vec<Vec<Vec<Vec<f64>>>> {
        match &feature.geometry.as_ref().unwrap().value {
            geojson::Value::Polygon(rings) => vec![rings.clone()],
            geojson::Value::MultiPolygon(polygons) => polygons.clone(),
            other => panic!("not an area: {other:?}"),
        }
    }

    /// Twice the signed area of a ring: positive when it runs counter-clockwise.
    fn winding(ring: &[Vec<f64>]) -> f64 {
        ring.windows(2)
            .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
            .sum()
    }

    fn has_position(ring: &[Vec<f64>], long: f64, lat: f64) -> bool {
        ring.iter()
            .any(|p| (p[0] - long).abs() < 1e-7 && (p[1] - lat).abs() < 1e-7)
    }

    #[test]
    fn a_shapefile_in_state_plane_feet_is_read_in_wgs84_with_its_parts_holes_and_attributes() {
        let layer = read_layer_features(&fixture("wards-ct-feet.shp")).unwrap();
        assert_eq!(
            layer.source,
            LayerSource {
                format: LayerFormat::Shapefile,
                system: "NAD_1983_StatePlane_Connecticut_FIPS_0600_Feet".into(),
                reprojected: true,
            }
        );
        let names: Vec<&str> = layer
            .features
            .iter()
            .map(|f| f.property("name").unwrap().as_str().unwrap())
            .collect();
        assert_eq!(names, ["Downtown", "Two Parts", "Café Sur"]);
        let downtown = &layer.features[0];
        assert_eq!(downtown.property("ward_no"), Some(&serde_json::json!(1)));
        assert_eq!(downtown.property("area_ha"), Some(&serde_json::json!(12.5)));
        // The script drew Downtown from (-72.690, 41.760), 0.010° a side, with a hole of 0.003°
        // at (-72.687, 41.763); pyproj put it in feet, cityfix brings it back.
        let [rings] = polygons(downtown).try_into().unwrap();
        assert_eq!(rings.len(), 2, "the hole is kept with its shell");
        assert!(
            has_position(&rings[0], -72.690, 41.760) && has_position(&rings[0], -72.680, 41.770)
        );
        assert!(has_position(&rings[1], -72.687, 41.763));
        assert!(
            winding(&rings[0]) > 0.0 && winding(&rings[1]) < 0.0,
            "RFC 7946 orientation"
        );
        let two_parts = polygons(&layer.features[1]);
        assert_eq!(two_parts.len(), 2);
        assert!(has_position(&two_parts[1][0], -72.685, 41.745));
    }

    #[test]
    fn dbf_text_is_decoded_as_the_cpg_says_and_a_null_shape_has_no_geometry() {
        let layer = read_layer_features(&fixture("wards-latin1.shp")).unwrap();
        assert_eq!(layer.source.system, "GCS_WGS_1984");
        assert!(!layer.source.reprojected);
        let names: Vec<&serde_json::Value> = layer
            .features
            .iter()
            .map(|f| f.property("NAME").unwrap())
            .collect();
        assert_eq!(
            names,
            [
                &serde_json::json!("Peñón"),
                &serde_json::json!("Retired Ward"),
                &serde_json::Value::Null,
                &serde_json::json!("Peñón"),
            ]
        );
        assert!(layer.features[1].geometry.is_none());
    }

    #[test]
    fn a_point_layer_in_utm_is_read_as_points_in_wgs84() {
        let layer = read_layer_features(&fixture("streetlights-utm.shp")).unwrap();
        assert_eq!(layer.source.system, "NAD_1983_UTM_Zone_18N");
        // The script placed SL-0001 at (-72.6851, 41.7637) and projected it with pyproj.
        let first = &layer.features[0];
        assert_eq!(
            first.property("asset_id"),
            Some(&serde_json::json!("SL-0001"))
        );
        let geojson::Value::Point(p) = &first.geometry.as_ref().unwrap().value else {
            panic!("not a point");
        };
        assert!(
            (p[0] + 72.6851).abs() < 1e-7 && (p[1] - 41.7637).abs() < 1e-7,
            "{p:?}"
        );
        assert_eq!(layer.features.len(), 3);
    }

    #[test]
    fn a_geojson_crs_member_in_web_mercator_is_reprojected() {
        let layer = read_layer_features(&fixture("wards-web-mercator.geojson")).unwrap();
        assert_eq!(layer.source.format, LayerFormat::GeoJson);
        assert_eq!(layer.source.system, "urn:ogc:def:crs:EPSG::3857");
        assert!(layer.source.reprojected);
        let [rings] = polygons(&layer.features[0]).try_into().unwrap();
        assert!(has_position(&rings[0], -72.690, 41.760), "{:?}", rings[0]);
    }

    fn geojson_layer(crs: &str, position: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layer.geojson");
        let text = format!(
            r#"{{"type":"FeatureCollection",{crs}"features":[{{"type":"Feature","properties":{{"name":"A"}},"geometry":{{"type":"Point","coordinates":[-72.69,41.76]}}}},{{"type":"Feature","properties":{{"name":"B"}},"geometry":{{"type":"Point","coordinates":{position}}}}}]}}"#
        );
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn the_old_crs_member_is_read_when_it_names_wgs84_and_an_unknown_system_is_refused() {
        for name in ["urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326"] {
            let crs = format!(r#""crs":{{"type":"name","properties":{{"name":"{name}"}}}},"#);
            let (_dir, path) = geojson_layer(&crs, "[-72.7,41.7]");
            let layer = read_layer_features(&path).unwrap();
            assert!(!layer.source.reprojected, "{name}");
        }
        let crs = r#""crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::999999"}},"#;
        let (_dir, path) = geojson_layer(crs, "[-72.7,41.7]");
        let err = read_layer_features(&path).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("crs"));
        assert!(
            err.message.contains("EPSG::999999") && err.message.contains("EPSG:4326"),
            "{err}"
        );
        let (_dir, path) = geojson_layer(r#""crs":{"type":"name"},"#, "[-72.7,41.7]");
        assert!(read_layer_features(&path)
            .unwrap_err()
            .message
            .contains("names no coordinate system"));
    }

    #[test]
    fn projected_numbers_in_a_layer_claiming_wgs84_are_refused_naming_the_feature() {
        let (_dir, path) = geojson_layer("", "[1015260.0,836070.0]");
        let err = read_layer_features(&path).unwrap_err();
        assert_eq!(err.entry.as_deref(), Some("feature 1"));
        assert!(
            err.message.contains("projected numbers") && err.message.contains("[1015260, 836070]"),
            "{err}"
        );
        // A Shapefile whose .prj says WGS 84 but whose shapes are in feet.
        let (dir, shp) = copy_shapefile("wards-ct-feet", &["prj"]);
        std::fs::copy(
            fixture("wards-latin1.prj"),
            dir.path().join("wards-ct-feet.prj"),
        )
        .unwrap();
        let err = read_layer_features(&shp).unwrap_err();
        assert_eq!(err.entry.as_deref(), Some("feature 0"));
        assert!(err.message.contains("GCS_WGS_1984"), "{err}");
    }

    #[test]
    fn a_shapefile_without_its_prj_or_dbf_is_refused_saying_what_to_do() {
        let (_dir, shp) = copy_shapefile("wards-ct-feet", &["prj"]);
        let err = read_layer_features(&shp).unwrap_err();
        assert_eq!(err.file, shp);
        assert!(
            err.message.contains("`wards-ct-feet.prj`") && err.message.contains("EPSG:4326"),
            "{err}"
        );
        let (_dir, shp) = copy_shapefile("wards-ct-feet", &["dbf"]);
        assert!(read_layer_features(&shp)
            .unwrap_err()
            .message
            .contains("`wards-ct-feet.dbf`"));
    }

    #[test]
    fn a_prj_naming_a_system_cityfix_cannot_read_is_refused_with_its_name() {
        let (dir, shp) = copy_shapefile("wards-ct-feet", &["prj"]);
        std::fs::write(
            dir.path().join("wards-ct-feet.prj"),
            r#"PROJCS["Local_Survey_Grid",GEOGCS["GCS_Unknown"],PROJECTION["Nowhere_Special"]]"#,
        )
        .unwrap();
        let err = read_layer_features(&shp).unwrap_err();
        assert_eq!(err.field.as_deref(), Some(".prj"));
        assert!(err.message.contains("Local_Survey_Grid"), "{err}");
    }

    #[test]
    fn a_truncated_shp_or_dbf_is_refused_whole_naming_the_feature() {
        let (dir, shp) = copy_shapefile("wards-ct-feet", &[]);
        let bytes = std::fs::read(&shp).unwrap();
        std::fs::write(&shp, &bytes[..bytes.len() - 40]).unwrap();
        let err = read_layer_features(&shp).unwrap_err();
        assert_eq!(err.entry.as_deref(), Some("feature 2"), "{err}");
        assert!(err.message.contains("truncated"), "{err}");
        let (dir2, shp2) = copy_shapefile("wards-ct-feet", &[]);
        let dbf = dir2.path().join("wards-ct-feet.dbf");
        let bytes = std::fs::read(&dbf).unwrap();
        std::fs::write(&dbf, &bytes[..bytes.len() - 30]).unwrap();
        let err = read_layer_features(&shp2).unwrap_err();
        assert_eq!(err.file, dbf);
        assert!(err.message.contains("truncated"), "{err}");
        drop(dir);
    }

    #[test]
    fn shapes_and_records_that_do_not_match_are_refused() {
        let (dir, shp) = copy_shapefile("wards-ct-feet", &["dbf", "cpg"]);
        std::fs::copy(
            fixture("wards-latin1.dbf"),
            dir.path().join("wards-ct-feet.dbf"),
        )
        .unwrap();
        let err = read_layer_features(&shp).unwrap_err();
        assert!(
            err.message.contains("3 shapes") && err.message.contains("4 records"),
            "{err}"
        );
    }

    #[test]
    fn a_geopackage_or_a_zip_in_a_city_folder_is_refused_saying_what_to_do() {
        let err = read_layer_features(&fixture("wards-ct-feet.gpkg")).unwrap_err();
        assert!(err.message.contains("cityfix check-layer"), "{err}");
        let err = read_layer_features(Path::new("wards.zip")).unwrap_err();
        assert!(err.message.contains("unzip"), "{err}");
    }
}
