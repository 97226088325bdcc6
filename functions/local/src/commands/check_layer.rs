//! `cityfix check-layer`: every fault of an area layer, feature by feature, what repair does about it, and the repaired layer.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use cityfix_config::{
    check_area_features, check_area_layer, read_city_boundary, CheckedLayer, Verdict,
};

use crate::geopackage::{is_geopackage, read_geopackage};

/// The exit status of each verdict (1 is a layer that could not be read, 2 bad arguments).
pub const USABLE: u8 = 0;
pub const USABLE_AFTER_REPAIR: u8 = 3;
pub const UNUSABLE: u8 = 4;

#[derive(clap::Args)]
pub struct CheckLayerArgs {
    /// The area layer of Polygon / MultiPolygon features: GeoJSON, an ESRI Shapefile (the .shp,
    /// with its .dbf and .prj beside it) or a GeoPackage (.gpkg, its first feature table).
    file: PathBuf,
    /// The feature property that names an area.
    #[arg(long, default_value = "name")]
    name_property: String,
    /// The areas must not overlap (neighbourhoods, districts): slivers of overlap and gap are
    /// given to one side, larger overlaps are faults.
    #[arg(long)]
    partition: bool,
    /// A city folder: every area must reach into its boundary.
    #[arg(long)]
    city: Option<PathBuf>,
    /// Write the repaired layer here (GeoJSON), when the layer is usable.
    #[arg(long, value_name = "OUT.geojson")]
    repair: Option<PathBuf>,
}

/// Prints one line per fault on stdout and the verdict on stderr; the exit status is the verdict.
pub fn run(args: CheckLayerArgs) -> anyhow::Result<ExitCode> {
    let layer = check_layer(&args)?;
    eprintln!("{}: read as {}", args.file.display(), layer.source);
    for fault in &layer.faults {
        println!("{fault}");
    }
    let verdict = layer.verdict();
    let repaired = layer.faults.iter().filter(|f| f.is_repairable()).count();
    let summary = match verdict {
        Verdict::Usable => format!("usable as it is: {} areas", layer.areas.len()),
        Verdict::UsableAfterRepair => format!(
            "usable after repair: {} areas, {repaired} repairs",
            layer.areas.len()
        ),
        Verdict::Unusable => format!(
            "unusable: {} faults repair cannot mend",
            layer.faults.len() - repaired
        ),
    };
    eprintln!("{}: {summary}", args.file.display());
    if let Some(out) = &args.repair {
        if verdict == Verdict::Unusable {
            eprintln!("{}: not written, the layer is unusable", out.display());
        } else {
            write_repaired(&layer, out)?;
            eprintln!("{}: the repaired layer is written", out.display());
        }
    }
    Ok(ExitCode::from(match verdict {
        Verdict::Usable => USABLE,
        Verdict::UsableAfterRepair => USABLE_AFTER_REPAIR,
        Verdict::Unusable => UNUSABLE,
    }))
}

/// The layer checked as the arguments ask.
pub fn check_layer(args: &CheckLayerArgs) -> anyhow::Result<CheckedLayer> {
    let mut layer = if is_geopackage(&args.file) {
        check_area_features(
            &args.file,
            &args.name_property,
            read_geopackage(&args.file)?,
        )
    } else {
        check_area_layer(&args.file, &args.name_property)?
    };
    if let Some(city) = &args.city {
        layer.check_within(&read_city_boundary(city)?);
    }
    if args.partition {
        layer.resolve_partition();
    }
    layer.faults.sort_by_key(|f| f.index);
    Ok(layer)
}

/// Writes the whole file beside its place and renames it, so a reader never sees half of it.
fn write_repaired(layer: &CheckedLayer, out: &Path) -> anyhow::Result<()> {
    let partial = out.with_extension("geojson.partial");
    std::fs::write(&partial, layer.to_geojson())
        .and_then(|()| std::fs::rename(&partial, out))
        .with_context(|| format!("{}: cannot be written", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cityfix_config::FaultKind;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/layers")
            .join(name)
    }

    fn args(file: &str) -> CheckLayerArgs {
        CheckLayerArgs {
            file: fixture(file),
            name_property: "name".into(),
            partition: true,
            city: None,
            repair: None,
        }
    }

    #[test]
    fn every_fault_kind_is_named_with_its_feature_and_coordinate_and_repaired() {
        let layer = check_layer(&args("faulty-wards.geojson")).unwrap();
        let found: Vec<(&str, FaultKind)> = layer
            .faults
            .iter()
            .map(|f| (f.name.as_deref().unwrap(), f.kind))
            .collect();
        assert_eq!(
            found,
            [
                ("Bow Tie", FaultKind::SelfCrossing),
                ("Touching Ring", FaultKind::SelfTouch),
                ("Nested Shells", FaultKind::NestedShells),
                ("Spike", FaultKind::Spike),
                ("Holes", FaultKind::HoleCrossesRing),
                ("Holes", FaultKind::HoleOutsideShell),
                ("Sliver West", FaultKind::Overlap),
                ("Gap East", FaultKind::Gap),
            ]
        );
        assert!(layer.faults.iter().all(|f| f.at.is_some()));
        assert_eq!(layer.verdict(), Verdict::UsableAfterRepair);
    }

    #[test]
    fn the_repaired_layer_is_valid_and_reads_as_a_usable_layer() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("repaired.geojson");
        let mut arguments = args("faulty-wards.geojson");
        arguments.repair = Some(out.clone());
        assert_eq!(run(arguments).unwrap(), ExitCode::from(USABLE_AFTER_REPAIR));
        let mut again = args("faulty-wards.geojson");
        again.file = out;
        let layer = check_layer(&again).unwrap();
        assert_eq!(layer.faults, [], "{:?}", layer.faults);
        assert_eq!(layer.verdict(), Verdict::Usable);
    }

    #[test]
    fn a_layer_with_missing_and_repeated_names_is_unusable_and_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("repaired.geojson");
        let mut arguments = args("unnamed-wards.geojson");
        arguments.repair = Some(out.clone());
        assert_eq!(run(arguments).unwrap(), ExitCode::from(UNUSABLE));
        assert!(!out.exists());
        let layer = check_layer(&args("unnamed-wards.geojson")).unwrap();
        let found: Vec<(usize, FaultKind)> =
            layer.faults.iter().map(|f| (f.index, f.kind)).collect();
        assert_eq!(
            found,
            [(1, FaultKind::NoName), (2, FaultKind::RepeatedName)]
        );
    }

    #[test]
    fn a_layer_outside_the_city_or_swapped_is_unusable() {
        let mut arguments = args("swapped-wards.geojson");
        arguments.city = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/hartford"));
        let layer = check_layer(&arguments).unwrap();
        let found: Vec<FaultKind> = layer.faults.iter().map(|f| f.kind).collect();
        assert_eq!(found, [FaultKind::Swapped, FaultKind::OutsideCity]);
        assert_eq!(layer.verdict(), Verdict::Unusable);
    }

    fn formats(file: &str) -> CheckLayerArgs {
        let mut arguments = args(&format!("formats/{file}"));
        arguments.city = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/hartford"));
        arguments
    }

    #[test]
    fn a_shapefile_in_state_plane_feet_is_checked_in_the_city_and_says_it_was_reprojected() {
        let layer = check_layer(&formats("wards-ct-feet.shp")).unwrap();
        assert_eq!(layer.faults, [], "{:?}", layer.faults);
        assert_eq!(layer.verdict(), Verdict::Usable);
        assert_eq!(
            layer.source.to_string(),
            "ESRI Shapefile in `NAD_1983_StatePlane_Connecticut_FIPS_0600_Feet`, reprojected to WGS 84 longitude / latitude"
        );
        let names: Vec<&str> = layer.areas.iter().map(|a| a.area.name.as_str()).collect();
        assert_eq!(names, ["Downtown", "Two Parts", "Café Sur"]);
    }

    #[test]
    fn a_shapefile_null_shape_and_missing_and_repeated_names_are_named_by_index() {
        let mut arguments = formats("wards-latin1.shp");
        arguments.name_property = "NAME".into();
        let layer = check_layer(&arguments).unwrap();
        let found: Vec<(usize, FaultKind)> =
            layer.faults.iter().map(|f| (f.index, f.kind)).collect();
        assert_eq!(
            found,
            [
                (1, FaultKind::NoGeometry),
                (2, FaultKind::NoName),
                (3, FaultKind::RepeatedName)
            ]
        );
        assert!(layer.faults[1].to_string().contains("feature 2 (index 2)"));
        assert_eq!(layer.areas[0].area.name, "Peñón");
        assert_eq!(layer.verdict(), Verdict::Unusable);
    }

    #[test]
    fn a_geopackage_in_state_plane_feet_is_checked_and_written_as_geojson_in_wgs84() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("wards.geojson");
        let mut arguments = formats("wards-ct-feet.gpkg");
        let layer = check_layer(&arguments).unwrap();
        assert_eq!(layer.faults, [], "{:?}", layer.faults);
        assert_eq!(
            layer.source.to_string(),
            "GeoPackage in `EPSG:2234`, reprojected to WGS 84 longitude / latitude"
        );
        arguments.repair = Some(out.clone());
        assert_eq!(run(arguments).unwrap(), ExitCode::from(USABLE));
        let written = cityfix_config::read_layer_features(&out).unwrap();
        assert!(!written.source.reprojected);
        assert_eq!(written.features.len(), 2);
        assert_eq!(
            written.features[0].property("name"),
            Some(&serde_json::json!("Downtown"))
        );
        assert_eq!(
            written.features[0].property("ward_no"),
            Some(&serde_json::json!(1))
        );
        let again = check_layer(&CheckLayerArgs {
            file: out,
            ..formats("wards-ct-feet.gpkg")
        })
        .unwrap();
        assert_eq!(again.verdict(), Verdict::Usable);
    }

    #[test]
    fn a_file_that_is_not_a_geopackage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("wards.gpkg");
        std::fs::write(&fake, "not SQLite").unwrap();
        let mut arguments = formats("wards-ct-feet.gpkg");
        arguments.file = fake;
        let err = check_layer(&arguments).err().unwrap().to_string();
        assert!(err.contains("cannot be read as a GeoPackage"), "{err}");
    }
}
