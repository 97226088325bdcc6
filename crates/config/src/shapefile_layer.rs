//! Reading an ESRI Shapefile (the .shp, its .dbf attributes decoded as its .cpg says, its .prj) as GeoJSON features in the system the .prj names.

use std::path::Path;

use geo::{Contains, Coord, LineString, Polygon};
use shapefile::dbase::{self, FieldValue};
use shapefile::{PolygonRing, Shape};

use crate::features::Properties;
use crate::ConfigError;

/// A Shapefile read whole: its features (positions as stored) and its `.prj` text.
pub(crate) struct ShapefileLayer {
    pub(crate) features: Vec<geojson::Feature>,
    pub(crate) prj: String,
}

fn fault(path: &Path, entry: Option<String>, message: String) -> ConfigError {
    ConfigError {
        file: path.to_path_buf(),
        entry,
        field: None,
        message,
    }
}

/// Reads a `.shp` with its `.dbf` and `.prj`; a missing part, a truncated or damaged file, or a
/// shape and attribute count that differ is a fault of the whole layer: nothing is half-read.
pub(crate) fn read_shapefile(path: &Path) -> Result<ShapefileLayer, ConfigError> {
    let sibling = |extension: &str| path.with_extension(extension);
    let file_name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let prj_path = sibling("prj");
    let prj = match std::fs::read(&prj_path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fault(path, None, format!(
                "has no `{}` beside it, so its coordinate system is unknown: export the layer again with its .prj (QGIS and ArcGIS write one), copy the .prj that came with it, or export it as GeoJSON in EPSG:4326",
                file_name(&prj_path)
            )))
        }
        Err(e) => return Err(fault(path, None, format!("`{}` cannot be read: {e}", file_name(&prj_path)))),
    };
    let dbf_path = sibling("dbf");
    if !dbf_path.exists() {
        return Err(fault(
            path,
            None,
            format!(
                "has no `{}` beside it: a Shapefile's attributes (the names) are in its .dbf",
                file_name(&dbf_path)
            ),
        ));
    }
    let shapes = read_shapes(path)?;
    let (fields, records) = read_records(&dbf_path)?;
    if shapes.len() != records.len() {
        return Err(fault(path, None, format!(
            "has {} shapes but `{}` has {} records; one of them is truncated or from another export",
            shapes.len(),
            file_name(&dbf_path),
            records.len()
        )));
    }
    let mut features = Vec::with_capacity(shapes.len());
    for (index, (shape, record)) in shapes.into_iter().zip(records).enumerate() {
        let geometry = to_geometry(shape)
            .map_err(|message| fault(path, Some(format!("feature {index}")), message))?;
        features.push(geojson::Feature {
            bbox: None,
            geometry: geometry.map(geojson::Geometry::new),
            id: None,
            properties: Some(to_properties(&fields, record)),
            foreign_members: None,
        });
    }
    Ok(ShapefileLayer { features, prj })
}

/// Every shape of the `.shp`, or which one could not be read.
fn read_shapes(path: &Path) -> Result<Vec<Shape>, ConfigError> {
    let damaged = |entry: Option<String>, e: shapefile::Error| {
        fault(
            path,
            entry,
            format!("is truncated or damaged, not a whole Shapefile: {e}"),
        )
    };
    let mut reader = shapefile::ShapeReader::from_path(path).map_err(|e| damaged(None, e))?;
    let mut shapes = Vec::new();
    for (index, shape) in reader.iter_shapes().enumerate() {
        shapes.push(shape.map_err(|e| damaged(Some(format!("feature {index}")), e))?);
    }
    Ok(shapes)
}

/// The `.dbf`'s field names in their order and every record, decoded as the `.cpg` says (else
/// as the .dbf's own code page mark, else UTF-8).
fn read_records(dbf_path: &Path) -> Result<(Vec<String>, Vec<dbase::Record>), ConfigError> {
    let damaged = |entry: Option<String>, e: dbase::Error| {
        fault(
            dbf_path,
            entry,
            format!("is truncated or damaged, not a whole .dbf: {e}"),
        )
    };
    let cpg = std::fs::read_to_string(dbf_path.with_extension("cpg")).ok();
    let mut builder = dbase::ReaderBuilder::new();
    if let Some(label) = &cpg {
        let encoding = dbase::encoding::DynEncoding::from_name(label).ok_or_else(|| {
            fault(
                &dbf_path.with_extension("cpg"),
                None,
                format!(
                    "names the text encoding `{}`, which cityfix does not know (UTF-8, ISO-8859-1, 1252 and the other code pages are)",
                    label.trim()
                ),
            )
        })?;
        builder = builder.with_encoding(encoding);
    }
    let file = std::fs::File::open(dbf_path)
        .map_err(|e| fault(dbf_path, None, format!("cannot be read: {e}")))?;
    let mut reader = builder
        .build(std::io::BufReader::new(file))
        .map_err(|e| damaged(None, e))?;
    let fields: Vec<String> = reader
        .fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let mut records = Vec::new();
    for (index, record) in reader.iter_records().enumerate() {
        records.push(record.map_err(|e| damaged(Some(format!("record {index}")), e))?);
    }
    Ok((fields, records))
}

/// A record's fields as GeoJSON properties, in the .dbf's order; an empty field is null.
fn to_properties(fields: &[String], mut record: dbase::Record) -> Properties {
    use serde_json::Value;
    let number = |n: f64| serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number);
    let mut properties = Properties::new();
    for name in fields {
        let value = match record.remove(name) {
            Some(FieldValue::Character(Some(text))) | Some(FieldValue::Memo(text)) => {
                Value::String(text)
            }
            Some(FieldValue::Numeric(Some(n)))
            | Some(FieldValue::Double(n))
            | Some(FieldValue::Currency(n)) => {
                if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    Value::from(n as i64)
                } else {
                    number(n)
                }
            }
            Some(FieldValue::Float(Some(n))) => number(f64::from(n)),
            Some(FieldValue::Integer(n)) => Value::from(n),
            Some(FieldValue::Logical(Some(b))) => Value::Bool(b),
            Some(FieldValue::Date(Some(date))) => Value::String(format!(
                "{:04}-{:02}-{:02}",
                date.year(),
                date.month(),
                date.day()
            )),
            Some(FieldValue::DateTime(at)) => {
                let (date, time) = (at.date(), at.time());
                Value::String(format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                    date.year(),
                    date.month(),
                    date.day(),
                    time.hours(),
                    time.minutes(),
                    time.seconds()
                ))
            }
            _ => Value::Null,
        };
        properties.insert(name.clone(), value);
    }
    properties
}

fn position(x: f64, y: f64) -> Vec<f64> {
    vec![x, y]
}

fn positions<P: shapefile::record::traits::HasXY>(points: &[P]) -> Vec<Vec<f64>> {
    points.iter().map(|p| position(p.x(), p.y())).collect()
}

/// A shape as a GeoJSON geometry (Z and M dropped), `None` for a null shape. Polygon rings are
/// grouped as the Shapefile spec says: each outer ring (clockwise) starts a polygon, each hole
/// (counter-clockwise) goes to the outer ring that holds it; rings are turned to RFC 7946's
/// orientation (outer counter-clockwise).
fn to_geometry(shape: Shape) -> Result<Option<geojson::Value>, String> {
    use geojson::Value;
    let lines = |parts: Vec<Vec<Vec<f64>>>| match <[_; 1]>::try_from(parts) {
        Ok([line]) => Value::LineString(line),
        Err(parts) => Value::MultiLineString(parts),
    };
    let geometry = match shape {
        Shape::NullShape => return Ok(None),
        Shape::Point(p) => Value::Point(position(p.x, p.y)),
        Shape::PointM(p) => Value::Point(position(p.x, p.y)),
        Shape::PointZ(p) => Value::Point(position(p.x, p.y)),
        Shape::Multipoint(m) => Value::MultiPoint(positions(m.points())),
        Shape::MultipointM(m) => Value::MultiPoint(positions(m.points())),
        Shape::MultipointZ(m) => Value::MultiPoint(positions(m.points())),
        Shape::Polyline(l) => lines(l.parts().iter().map(|p| positions(p)).collect()),
        Shape::PolylineM(l) => lines(l.parts().iter().map(|p| positions(p)).collect()),
        Shape::PolylineZ(l) => lines(l.parts().iter().map(|p| positions(p)).collect()),
        Shape::Polygon(p) => polygons(p.rings().iter().map(ring).collect()),
        Shape::PolygonM(p) => polygons(p.rings().iter().map(ring).collect()),
        Shape::PolygonZ(p) => polygons(p.rings().iter().map(ring).collect()),
        Shape::Multipatch(_) => {
            return Err("is a MultiPatch (a 3-D surface), which cityfix does not read".into())
        }
    };
    Ok(Some(geometry))
}

/// A ring's positions and whether it is an outer ring.
fn ring<P: shapefile::record::traits::HasXY>(ring: &PolygonRing<P>) -> (bool, Vec<Vec<f64>>) {
    match ring {
        PolygonRing::Outer(points) => (true, positions(points)),
        PolygonRing::Inner(points) => (false, positions(points)),
    }
}

/// A polygon's rings of positions, the outer ring first.
type Rings = Vec<Vec<Vec<f64>>>;

fn polygons(rings: Vec<(bool, Vec<Vec<f64>>)>) -> geojson::Value {
    let as_line = |positions: &[Vec<f64>]| {
        LineString(
            positions
                .iter()
                .map(|p| Coord { x: p[0], y: p[1] })
                .collect(),
        )
    };
    let mut shells: Vec<(Polygon<f64>, Rings)> = Vec::new();
    let mut holes = Vec::new();
    for (outer, mut positions) in rings {
        positions.reverse();
        if outer {
            shells.push((Polygon::new(as_line(&positions), vec![]), vec![positions]));
        } else {
            holes.push(positions);
        }
    }
    for hole in holes {
        let inside = |shell: &Polygon<f64>| {
            hole.iter()
                .any(|p| shell.contains(&Coord { x: p[0], y: p[1] }))
        };
        // A hole no outer ring holds goes to the first, where repair reports it as outside.
        match shells.iter().position(|(shell, _)| inside(shell)) {
            Some(at) => shells[at].1.push(hole),
            None if !shells.is_empty() => shells[0].1.push(hole),
            None => shells.push((Polygon::new(as_line(&hole), vec![]), vec![hole])),
        }
    }
    let mut polygons: Vec<Vec<Vec<Vec<f64>>>> =
        shells.into_iter().map(|(_, rings)| rings).collect();
    if polygons.len() == 1 {
        geojson::Value::Polygon(polygons.remove(0))
    } else {
        geojson::Value::MultiPolygon(polygons)
    }
}
