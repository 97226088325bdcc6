//! Reading a GeoPackage layer for `cityfix check-layer`: its feature table, each geometry's standard header and WKB, in the system its srs_id names. A GeoPackage is SQLite, which only this local runner links (the functions reading a city folder do not).

use std::path::Path;

use cityfix_config::{
    features_in_wgs84, ConfigError, DeclaredSystem, LayerFeatures, LayerFormat, Properties,
};
use geo_traits::to_geo::ToGeoGeometry;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

/// Whether a path names a GeoPackage (by its `.gpkg` extension).
pub fn is_geopackage(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gpkg"))
}

fn fault(path: &Path, entry: Option<String>, field: Option<&str>, message: String) -> ConfigError {
    ConfigError {
        file: path.to_path_buf(),
        entry,
        field: field.map(str::to_string),
        message,
    }
}

/// A name quoted as an SQLite identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Reads the GeoPackage's one feature table as features in WGS 84; a file that is not a
/// GeoPackage, has no or several feature tables, a geometry that cannot be read, or a system
/// cityfix cannot reproject from is refused whole.
pub fn read_geopackage(path: &Path) -> Result<LayerFeatures, ConfigError> {
    let not_a_geopackage = |e: rusqlite::Error| {
        fault(
            path,
            None,
            None,
            format!("cannot be read as a GeoPackage: {e}"),
        )
    };
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(not_a_geopackage)?;
    let mut tables = db
        .prepare(
            "SELECT c.table_name, g.column_name, g.srs_id FROM gpkg_contents c \
             JOIN gpkg_geometry_columns g ON g.table_name = c.table_name \
             WHERE c.data_type = 'features' ORDER BY c.table_name",
        )
        .and_then(|mut statement| {
            statement
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(not_a_geopackage)?;
    let (table, column, srs_id) = match tables.len() {
        1 => tables.remove(0),
        0 => return Err(fault(path, None, None, "has no feature table".into())),
        _ => {
            let names: Vec<String> = tables.iter().map(|t| format!("`{}`", t.0)).collect();
            return Err(fault(path, None, None, format!(
                "has {} feature tables ({}); export the one layer to check as its own GeoPackage, Shapefile or GeoJSON",
                tables.len(),
                names.join(", ")
            )));
        }
    };
    let (organization, code, definition): (String, i64, String) = db
        .query_row(
            "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys WHERE srs_id = ?1",
            [srs_id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .map_err(|e| fault(path, None, Some("srs_id"), format!("names the coordinate system {srs_id}, which gpkg_spatial_ref_sys does not hold: {e}")))?;
    let named = format!("EPSG:{code}");
    let declared = if organization.eq_ignore_ascii_case("epsg") {
        DeclaredSystem::Named(&named)
    } else if srs_id > 0 {
        DeclaredSystem::Wkt(&definition)
    } else {
        return Err(fault(path, None, Some("srs_id"), format!(
            "has an undefined coordinate system (srs_id {srs_id}); set the layer's CRS in QGIS and export it again"
        )));
    };
    let features = read_features(&db, path, &table, &column).map_err(|e| match e {
        ReadFailure::Sql(e) => not_a_geopackage(e),
        ReadFailure::Fault(fault) => fault,
    })?;
    features_in_wgs84(path, LayerFormat::GeoPackage, features, declared)
}

/// Why the feature table could not be read: SQLite failed, or a geometry is at fault.
enum ReadFailure {
    Sql(rusqlite::Error),
    Fault(ConfigError),
}

impl From<rusqlite::Error> for ReadFailure {
    fn from(e: rusqlite::Error) -> Self {
        ReadFailure::Sql(e)
    }
}

/// Every row of the feature table in its order: the geometry column as the geometry, the other
/// columns (but binary ones) as properties.
fn read_features(
    db: &Connection,
    path: &Path,
    table: &str,
    column: &str,
) -> Result<Vec<geojson::Feature>, ReadFailure> {
    let mut statement = db.prepare(&format!("SELECT * FROM {} ORDER BY rowid", quoted(table)))?;
    let names: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut rows = statement.query([])?;
    let mut features = Vec::new();
    while let Some(row) = rows.next()? {
        let index = features.len();
        let mut properties = Properties::new();
        let mut geometry = None;
        for (at, name) in names.iter().enumerate() {
            let value = row.get_ref(at)?;
            if name == column {
                geometry = match value {
                    ValueRef::Null => None,
                    ValueRef::Blob(blob) => geometry_of(blob).map_err(|message| {
                        ReadFailure::Fault(fault(
                            path,
                            Some(format!("feature {index}")),
                            Some(column),
                            message,
                        ))
                    })?,
                    _ => {
                        return Err(ReadFailure::Fault(fault(
                            path,
                            Some(format!("feature {index}")),
                            Some(column),
                            "the geometry is not a GeoPackage geometry blob".into(),
                        )))
                    }
                };
                continue;
            }
            let value = match value {
                ValueRef::Null | ValueRef::Blob(_) => serde_json::Value::Null,
                ValueRef::Integer(n) => serde_json::Value::from(n),
                ValueRef::Real(n) => serde_json::Number::from_f64(n)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number),
                ValueRef::Text(text) => {
                    serde_json::Value::String(String::from_utf8_lossy(text).into_owned())
                }
            };
            properties.insert(name.clone(), value);
        }
        features.push(geojson::Feature {
            bbox: None,
            geometry: geometry.map(geojson::Geometry::new),
            id: None,
            properties: Some(properties),
            foreign_members: None,
        });
    }
    Ok(features)
}

/// A GeoPackage geometry blob (the `GP` header, its envelope, then WKB) as GeoJSON; `None` for
/// an empty geometry.
fn geometry_of(blob: &[u8]) -> Result<Option<geojson::Value>, String> {
    let [b'G', b'P', _version, flags, ..] = blob else {
        return Err("the geometry does not start with the GeoPackage header (`GP`)".into());
    };
    let envelope = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        other => {
            return Err(format!(
                "the geometry header names an unknown envelope ({other})"
            ))
        }
    };
    if flags & 0b1_0000 != 0 {
        return Ok(None);
    }
    let wkb = blob
        .get(8 + envelope..)
        .ok_or("the geometry is cut short in its header")?;
    let parsed = wkb::reader::read_wkb(wkb)
        .map_err(|e| format!("the geometry's WKB cannot be read: {e}"))?;
    let geometry: geo_types::Geometry<f64> = parsed
        .try_to_geometry()
        .ok_or("the geometry is an empty point, or a MultiPoint holding one")?;
    Ok(Some(geojson::Value::from(&geometry)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_geometry_blob_that_is_not_a_geopackage_one_is_refused() {
        assert!(geometry_of(b"not a geometry").unwrap_err().contains("`GP`"));
        // The header of an empty geometry (flag bit 4) reads as no geometry.
        assert_eq!(
            geometry_of(&[b'G', b'P', 0, 0b1_0001, 0, 0, 0, 0]).unwrap(),
            None
        );
        // A header promising an envelope the blob does not hold.
        assert!(geometry_of(&[b'G', b'P', 0, 0b0000_0011, 0, 0, 0, 0])
            .unwrap_err()
            .contains("cut short"));
    }
}
