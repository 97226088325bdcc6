//! `cityfix check-routing`: the check GIS staff run before going live, naming the area (and road) of each test point.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cityfix_config::{check_area_layer, read_lines, repairs_by_feature, LineProperties};
use cityfix_domain::areas::{AreaIndex, LineIndex};
use cityfix_domain::{Area, Location};

#[derive(clap::Args)]
pub struct CheckRoutingArgs {
    /// A GeoJSON FeatureCollection of Polygon / MultiPolygon areas.
    #[arg(long)]
    areas: Option<PathBuf>,
    /// The feature property that names an area.
    #[arg(long, default_value = "name")]
    name_property: String,
    /// The areas must not overlap: slivers of overlap and gap are given to one side, as the
    /// city folder's `partition = true` layers are.
    #[arg(long)]
    partition: bool,
    /// A GeoJSON FeatureCollection of road lines.
    #[arg(long)]
    lines: Option<PathBuf>,
    /// The feature property that names a line.
    #[arg(long, default_value = "name")]
    line_name_property: String,
    #[arg(long, default_value = "owner")]
    owner_property: String,
    #[arg(long, default_value = "buffer_m")]
    buffer_property: String,
    /// Buffer of lines that have none, in metres.
    #[arg(long, default_value_t = 15.0)]
    default_buffer_m: f64,
    /// CSV with the header `id,lat,long`.
    #[arg(long)]
    points: PathBuf,
}

/// Prints `id,area[,line]` per point on stdout and the summary on stderr.
pub fn run(args: CheckRoutingArgs) -> anyhow::Result<()> {
    if args.areas.is_none() && args.lines.is_none() {
        anyhow::bail!("give --areas, --lines or both");
    }
    let properties = LineProperties {
        name: args.line_name_property,
        owner: args.owner_property,
        buffer: Some(args.buffer_property),
        default_buffer_m: args.default_buffer_m,
    };
    let check = CheckRouting {
        areas: args
            .areas
            .as_deref()
            .map(|path| (path, args.name_property.as_str())),
        partition: args.partition,
        lines: args.lines.as_deref().map(|path| (path, properties)),
        points: &args.points,
    };
    let summary = check_routing(&check, &mut std::io::stdout().lock())?;
    let on_a_line = if check.lines.is_some() {
        format!(", {} on a line", summary.on_a_line)
    } else {
        String::new()
    };
    eprintln!(
        "{} points: {} in no area, {} in overlapping areas{on_a_line}",
        summary.points, summary.in_no_area, summary.in_overlapping_areas
    );
    Ok(())
}

/// What to check.
pub struct CheckRouting<'a> {
    pub areas: Option<(&'a Path, &'a str)>,
    /// Whether the areas are a partition (see [`cityfix_config::CheckedLayer::resolve_partition`]).
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

#[derive(serde::Deserialize)]
struct TestPoint {
    id: String,
    lat: f64,
    long: f64,
}

/// Writes `id,area[,line]` for every point in input order; areas that overlap at a point, and
/// lines whose buffers hold it, are joined by `|`. Areas are routed on as repaired, with a
/// warning on stderr per repaired feature.
pub fn check_routing(check: &CheckRouting<'_>, out: &mut impl Write) -> anyhow::Result<Summary> {
    let areas: Option<(Vec<Area>, AreaIndex)> = match check.areas {
        Some((path, name_property)) => {
            let mut layer = check_area_layer(path, name_property)?;
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
    let mut reader = csv::Reader::from_path(check.points)
        .with_context(|| format!("{}: cannot be read", check.points.display()))?;
    let headers = reader.headers()?.clone();
    if headers.iter().take(3).collect::<Vec<_>>() != ["id", "lat", "long"] {
        anyhow::bail!(
            "{}: the header must start with `id,lat,long`",
            check.points.display()
        );
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
    for (index, row) in reader.deserialize::<TestPoint>().enumerate() {
        let line_number = index + 2;
        let point = row.with_context(|| {
            format!(
                "{}: line {line_number} is not `id,lat,long`",
                check.points.display()
            )
        })?;
        let location = Location::new(point.lat, point.long).map_err(|e| {
            anyhow::anyhow!(
                "{}: line {line_number}: {}",
                check.points.display(),
                e.message
            )
        })?;
        let mut record = vec![point.id];
        summary.points += 1;
        if let Some((areas, index)) = &areas {
            let found = index.areas_at(location.to_point());
            match found.len() {
                0 => summary.in_no_area += 1,
                1 => {}
                _ => summary.in_overlapping_areas += 1,
            }
            record.push(
                found
                    .iter()
                    .map(|&i| areas[i].name.as_str())
                    .collect::<Vec<_>>()
                    .join("|"),
            );
        }
        if let Some((lines, index)) = &lines {
            let near = index.within_buffer(location.to_point());
            if !near.is_empty() {
                summary.on_a_line += 1;
            }
            let mut names: Vec<String> = near
                .iter()
                .map(|n| format!("{} ({})", lines[n.line].name, lines[n.line].owner))
                .collect();
            names.dedup();
            record.push(names.join("|"));
        }
        writer.write_record(&record)?;
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
