//! `cityfix check-routing`: the check GIS staff run before going live, naming the area (and road) of each test point.

use std::path::PathBuf;

use cityfix_config::routing_check::{check_routing, CheckRouting};
use cityfix_config::LineProperties;

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
    let summary =
        check_routing(&check, &mut std::io::stdout().lock()).map_err(|e| anyhow::anyhow!("{e}"))?;
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
