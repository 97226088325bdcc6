//! `cityfix check-routing --areas` without the rest of the `cityfix` binary: the same function on the same files, so `scripts/bench-routing` can time it optimised without building every function.
//!
//!     cargo run --profile bench -p cityfix-config --example check_routing -- AREAS.geojson POINTS.csv [--partition]

use std::path::PathBuf;
use std::process::ExitCode;

use cityfix_config::routing_check::{check_routing, CheckRouting};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let partition = args.iter().any(|a| a == "--partition");
    let files: Vec<PathBuf> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    let [areas, points] = files.as_slice() else {
        eprintln!("usage: check_routing AREAS.geojson POINTS.csv [--partition]");
        return ExitCode::from(2);
    };
    let check = CheckRouting {
        areas: Some((areas, "name")),
        partition,
        lines: None,
        points,
    };
    match check_routing(
        &check,
        &mut std::io::BufWriter::new(std::io::stdout().lock()),
    ) {
        Ok(summary) => {
            eprintln!(
                "{} points: {} in no area, {} in overlapping areas",
                summary.points, summary.in_no_area, summary.in_overlapping_areas
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("check_routing: {error}");
            ExitCode::FAILURE
        }
    }
}
