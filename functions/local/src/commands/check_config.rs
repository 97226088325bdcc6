//! `cityfix check-config`: loads and checks a city folder, naming the file, entry and field of a fault.

use std::path::PathBuf;

use crate::default_dir;

#[derive(clap::Args)]
pub struct CheckConfigArgs {
    #[arg(long)]
    config: Option<PathBuf>,
}

pub fn run(args: CheckConfigArgs) -> anyhow::Result<()> {
    let dir = args
        .config
        .unwrap_or_else(|| default_dir("config/hartford"));
    let cityfix_config::LoadedCity {
        city,
        repairs,
        reprojected,
    } = cityfix_config::load_city_with_repairs(&dir)?;
    for repair in &repairs {
        eprintln!("warning: {repair}");
    }
    for layer in &reprojected {
        eprintln!("note: {layer}");
    }
    println!(
        "{}: {} services, {} departments, {} neighbourhoods",
        city.name,
        city.services.len(),
        city.departments.len(),
        city.places
            .layers
            .first()
            .map_or(0, |layer| layer.index.len())
    );
    Ok(())
}
