//! The routing check GIS staff run before going live: the area (and road) of each test point, on the layers as repaired.

use std::io::Write;
use std::path::Path;

use cityfix_domain::areas::{AreaIndex, LineIndex};
use cityfix_domain::{Area, Location};

use crate::{check_area_layer, read_lines, repairs_by_feature, LineProperties};

/// Why the check could not run: a layer or the points file is at fault, or output failed.
pub type CheckError = Box<dyn std::error::Error + Send + Sync>;

/// What to check.
pub struct CheckRouting<'a> {
    pub areas: Option<(&'a Path, &'a str)>,
    /// Whether the areas are a partition (see [`crate::CheckedLayer::resolve_partition`]).
    pub partition: bool,
    pub lines: Option<(&'a Path, LineProperties)>,
    pub points: &'a Path,
}

/// What the check found, for the summary.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub points: usize,
    pub in_no_area: usize,
    pub in_overlapping_areas: usize,
    pub on_a_line: usize,
}

/// A row of the points file, borrowed from the record it was read into.
struct TestPoint<'a> {
    id: &'a str,
    lat: f64,
    long: f64,
}

/// The `id,lat,long` of a row (further columns are ignored).
fn test_point(row: &csv::StringRecord) -> Result<TestPoint<'_>, String> {
    let field = |i: usize, name: &str| row.get(i).ok_or_else(|| format!("no `{name}`"));
    let number = |i: usize, name: &str| {
        field(i, name)?
            .trim()
            .parse::<f64>()
            .map_err(|e| format!("`{name}` is not a number: {e}"))
    };
    Ok(TestPoint {
        id: field(0, "id")?,
        lat: number(1, "lat")?,
        long: number(2, "long")?,
    })
}

/// Writes `id,area[,line]` for every point in input order; areas that overlap at a point, and
/// lines whose buffers hold it, are joined by `|`. Areas are routed on as repaired, with a
/// warning on stderr per repaired feature.
pub fn check_routing(
    check: &CheckRouting<'_>,
    out: &mut impl Write,
) -> Result<Summary, CheckError> {
    let areas: Option<(Vec<Area>, AreaIndex)> = match check.areas {
        Some((path, name_property)) => {
            let mut layer = check_area_layer(path, name_property)?;
            if layer.source.reprojected {
                eprintln!("{}: read as {}", path.display(), layer.source);
            }
            if check.partition {
                layer.resolve_partition();
            }
            let layer = layer.into_areas()?;
            for warning in repairs_by_feature(path, layer.repairs) {
                eprintln!("warning: {warning}");
            }
            let areas: Vec<Area> = layer.areas.into_iter().map(|(area, _)| area).collect();
            let index = AreaIndex::build(&areas);
            Some((areas, index))
        }
        None => None,
    };
    let lines = match &check.lines {
        Some((path, properties)) => {
            let lines = read_lines(path, properties)?;
            let index = LineIndex::build(&lines);
            Some((lines, index))
        }
        None => None,
    };
    let points = check.points.display();
    let mut reader = csv::Reader::from_path(check.points)
        .map_err(|e| format!("{points}: cannot be read: {e}"))?;
    let headers = reader.headers()?.clone();
    if headers.iter().take(3).collect::<Vec<_>>() != ["id", "lat", "long"] {
        return Err(format!("{points}: the header must start with `id,lat,long`").into());
    }
    let mut writer = csv::Writer::from_writer(out);
    let mut header = vec!["id"];
    if areas.is_some() {
        header.push("area");
    }
    if lines.is_some() {
        header.push("line");
    }
    writer.write_record(&header)?;
    let mut summary = Summary::default();
    // One record read into and one set of cells written from, reused for every point: a layer
    // check runs over hundreds of thousands of points, and per-point allocations were most of it.
    let mut row = csv::StringRecord::new();
    let (mut area_cell, mut line_cell) = (String::new(), String::new());
    let mut line_names: Vec<String> = Vec::new();
    let mut line_number = 1;
    while reader
        .read_record(&mut row)
        .map_err(|e| format!("{points}: line {}: {e}", line_number + 1))?
    {
        line_number += 1;
        let point = test_point(&row)
            .map_err(|e| format!("{points}: line {line_number} is not `id,lat,long`: {e}"))?;
        let location = Location::new(point.lat, point.long)
            .map_err(|e| format!("{points}: line {line_number}: {}", e.message))?;
        summary.points += 1;
        if let Some((areas, index)) = &areas {
            let found = index.areas_at(location.to_point());
            match found.len() {
                0 => summary.in_no_area += 1,
                1 => {}
                _ => summary.in_overlapping_areas += 1,
            }
            area_cell.clear();
            for (n, &i) in found.iter().enumerate() {
                if n > 0 {
                    area_cell.push('|');
                }
                area_cell.push_str(&areas[i].name);
            }
        }
        if let Some((lines, index)) = &lines {
            let near = index.within_buffer(location.to_point());
            if !near.is_empty() {
                summary.on_a_line += 1;
            }
            line_names.clear();
            line_names.extend(
                near.iter()
                    .map(|n| format!("{} ({})", lines[n.line].name, lines[n.line].owner)),
            );
            line_names.dedup();
            line_cell.clear();
            line_cell.push_str(&line_names.join("|"));
        }
        writer.write_field(point.id)?;
        if areas.is_some() {
            writer.write_field(&area_cell)?;
        }
        if lines.is_some() {
            writer.write_field(&line_cell)?;
        }
        writer.write_record(None::<&[u8]>)?;
    }
    writer.flush()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn names_the_area_of_each_point_in_input_order_and_counts_the_odd_ones() {
        let dir = tempfile::tempdir().unwrap();
        let areas = write(
            dir.path(),
            "areas.geojson",
            r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"ward":"A, north"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,1],[0,1],[0,0]]]}},
            {"type":"Feature","properties":{"ward":"B"},"geometry":{"type":"Polygon","coordinates":[[[1,0],[3,0],[3,1],[1,1],[1,0]]]}}]}"#,
        );
        let points = write(
            dir.path(),
            "points.csv",
            "id,lat,long\np3,0.5,2.5\np1,0.5,0.5\np2,0.5,1.5\np4,5,5\n",
        );
        let mut out = Vec::new();
        let check = CheckRouting {
            areas: Some((&areas, "ward")),
            partition: false,
            lines: None,
            points: &points,
        };
        let summary = check_routing(&check, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,area\np3,B\np1,\"A, north\"\np2,\"A, north|B\"\np4,\n"
        );
        assert_eq!(
            summary,
            Summary {
                points: 4,
                in_no_area: 1,
                in_overlapping_areas: 1,
                on_a_line: 0
            }
        );
    }

    #[test]
    fn shapefile_areas_and_lines_in_state_plane_feet_are_routed_on_in_degrees() {
        let dir = tempfile::tempdir().unwrap();
        let formats =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/layers/formats");
        let (areas, lines) = (
            formats.join("wards-ct-feet.shp"),
            formats.join("roads-ct-feet.shp"),
        );
        // Inside Downtown, in its hole, in the second part of Two Parts, on Route 44, outside.
        let points = write(
            dir.path(),
            "points.csv",
            "id,lat,long\ndowntown,41.7610,-72.6890\nhole,41.7645,-72.6855\ntwo,41.7425,-72.6875\nroad,41.75125,-72.6875\nout,41.7000,-72.6000\n",
        );
        let check = CheckRouting {
            areas: Some((&areas, "name")),
            partition: true,
            lines: Some((
                &lines,
                LineProperties {
                    name: "name".into(),
                    owner: "owner".into(),
                    buffer: Some("buffer_m".into()),
                    default_buffer_m: 15.0,
                },
            )),
            points: &points,
        };
        let mut out = Vec::new();
        check_routing(&check, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,area,line\ndowntown,Downtown,\nhole,,\ntwo,Two Parts,\nroad,,Route 44 (CTDOT)\nout,,\n"
        );
    }

    #[test]
    fn a_layer_with_invalid_shapes_is_routed_on_as_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let areas = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/layers/faulty-wards.geojson");
        let points = write(
            dir.path(),
            "points.csv",
            "id,lat,long\ngap,41.755,-72.695995\nsliver,41.7545,-72.705995\nbetween-triangles,41.7425,-72.706\n",
        );
        let check = CheckRouting {
            areas: Some((&areas, "name")),
            partition: true,
            lines: None,
            points: &points,
        };
        let mut out = Vec::new();
        check_routing(&check, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,area\ngap,Gap East\nsliver,Sliver East\nbetween-triangles,\n"
        );
    }

    #[test]
    fn a_bad_row_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let areas = write(
            dir.path(),
            "areas.geojson",
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"A"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}"#,
        );
        let points = write(
            dir.path(),
            "points.csv",
            "id,lat,long\np1,0.5,0.5\np2,north,0.5\n",
        );
        let check = CheckRouting {
            areas: Some((&areas, "name")),
            partition: false,
            lines: None,
            points: &points,
        };
        let err = check_routing(&check, &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
    }
}
