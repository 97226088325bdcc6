//! Loading the city folder (city.toml, departments.toml, services.toml, area layers) and checking it whole.

use std::fmt;
use std::path::{Path, PathBuf};

use cityfix_domain::areas::AreaIndex;
use cityfix_domain::city::Places;
use cityfix_domain::City;

mod checks;
mod features;
mod files;
mod layers;
mod site;

pub use checks::check_partition;
pub use features::Properties;
pub use layers::{read_area_layer, read_lines, LineProperties};
pub use site::{read_site, Site, BUILT_IN_LANGUAGES};

use checks::Assignees;
use files::CityFolder;

/// A fault in the city folder, naming the file, the entry and the field so it can be fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub entry: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(entry) = &self.entry {
            write!(f, ": {entry}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Reads and checks the whole city folder. The first fault found is returned.
pub fn load_city(dir: &Path) -> Result<City, ConfigError> {
    let CityFolder {
        city,
        departments,
        agencies,
        services,
        routing,
    } = CityFolder::read(dir)?;
    let timezone = checks::check_timezone(&city.path, &city.content)?;
    let center = checks::check_center(&city.path, &city.content)?;
    checks::check_open311_keys(&city.path, &city.content.open311_keys)?;
    checks::check_rate_limits(&city.path, &city.content.rate_limits)?;
    if !(1..=365).contains(&city.content.residents.reopen_days) {
        return Err(ConfigError {
            file: city.path.clone(),
            entry: Some("residents".into()),
            field: Some("reopen_days".into()),
            message: "must be 1 to 365 days".into(),
        });
    }
    let residents = &city.content.residents;
    if residents.survey_after_days >= residents.reopen_days {
        return Err(ConfigError {
            file: city.path.clone(),
            entry: Some("residents".into()),
            field: Some("survey_after_days".into()),
            message: "must be shorter than reopen_days, or a \"not fixed\" answer could never reopen the request (0 asks nobody)".into(),
        });
    }
    checks::check_retention(&city.path, &city.content.retention)?;
    if city.content.retention.archive_after_days <= city.content.residents.reopen_days {
        return Err(ConfigError {
            file: city.path.clone(),
            entry: Some("retention".into()),
            field: Some("archive_after_days".into()),
            message: "must be longer than [residents] reopen_days, or a request could be archived while its reporter may still reopen it".into(),
        });
    }
    checks::check_departments(&departments.path, &departments.content)?;
    checks::check_agencies(&agencies.path, &agencies.content, &departments.content)?;
    let assignees = Assignees {
        departments: &departments.content,
        agencies: &agencies.content,
    };

    let places = &routing.content;
    let boundary = layers::load_boundary(dir, places)?;
    checks::check_center_within(&city.path, center, &boundary.shape)?;
    let (area_layers, area_names) =
        layers::load_area_layers(dir, &routing.path, &places.area_layers, &boundary.shape)?;
    let neighbours = places
        .neighbours
        .as_ref()
        .map(|file| layers::load_neighbours(dir, file, &agencies.content, &boundary.shape))
        .transpose()?;
    let lines = layers::load_line_layers(dir, &routing.path, &places.line_layers, &boundary.shape)?;
    checks::check_line_owners(&routing.path, &places.line_owners, &assignees)?;
    checks::check_services(&services.path, &services.content, &assignees, &area_names)?;
    let address_points = layers::load_addresses(dir, places.addresses.as_ref())?;

    let (city, routing) = (city.content, routing.content);
    Ok(City {
        name: city.name,
        short_name: city.short_name,
        jurisdiction_id: city.jurisdiction_id,
        timezone,
        contact_email: city.contact_email,
        contact_phone: city.contact_phone,
        website: city.website,
        center,
        country_calling_code: city.country_calling_code,
        open311_keys: city.open311_keys,
        rate_limits: city.rate_limits,
        residents: city.residents,
        retention: city.retention,
        departments: departments.content,
        agencies: agencies.content,
        services: services.content,
        address_points,
        places: Places {
            boundary: AreaIndex::build(&boundary.areas),
            layers: area_layers,
            neighbours,
            lines,
            line_owners: routing.line_owners,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/hartford")
    }

    /// Copies the demo city folder into `dest`, so a test can spoil one file of it.
    fn copy_demo_city(dest: &Path) {
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
        copy(&demo_dir(), dest);
    }

    /// A copy of the demo city with one file replaced, for fault tests.
    fn demo_with(
        file: &str,
        edit: impl Fn(String) -> String,
    ) -> (tempfile::TempDir, Result<City, ConfigError>) {
        let dir = tempfile::tempdir().unwrap();
        copy_demo_city(dir.path());
        let path = dir.path().join(file);
        std::fs::write(&path, edit(std::fs::read_to_string(&path).unwrap())).unwrap();
        let loaded = load_city(dir.path());
        (dir, loaded)
    }

    #[test]
    fn the_demo_city_loads() {
        let city = load_city(&demo_dir()).unwrap();
        assert_eq!(city.places.layers[0].index.len(), 17);
        assert!(city.departments.len() >= 5);
        assert!(city.services.len() >= 10);
        assert!(city.contains(city.center));
        assert!(city.open311_client("demo-open311-key").is_some());
    }

    #[test]
    fn an_unknown_department_names_file_entry_and_field() {
        let (_dir, loaded) = demo_with("services.toml", |t| {
            t.replacen("department = \"public-works\"", "department = \"dpw\"", 1)
        });
        let err = loaded.unwrap_err();
        assert!(err.file.ends_with("services.toml"));
        assert_eq!(err.entry.as_deref(), Some("service `pothole`"));
        assert_eq!(err.field.as_deref(), Some("department"));
        assert!(
            err.to_string().contains("`dpw` is not a department"),
            "{err}"
        );
    }

    #[test]
    fn two_open311_clients_may_not_share_a_name_that_scopes_their_keys() {
        for extra in ["Demo Open311 client", "web"] {
            let (_dir, loaded) = demo_with("city.toml", |t| {
                format!("{t}\n[[open311_key]]\nkey = \"another-key\"\nname = \"{extra}\"\n")
            });
            let err = loaded.unwrap_err();
            assert_eq!(err.field.as_deref(), Some("name"), "{extra}: {err}");
        }
    }

    #[test]
    fn the_retention_is_read_defaulted_and_kept_within_bounds() {
        assert_eq!(
            load_city(&demo_dir()).unwrap().retention.archive_after_days,
            365
        );
        let (_dir, loaded) = demo_with("city.toml", |t| {
            t.replace("archive_after_days = 365", "archive_after_days = 90")
        });
        assert_eq!(loaded.unwrap().retention.archive_after_days, 90);
        let (_dir, loaded) = demo_with("city.toml", |t| {
            t.replace("[retention]", "[former_retention]")
                .replace("archive_after_days = 365", "")
                .replace("[former_retention]", "")
        });
        assert_eq!(
            loaded.unwrap().retention.archive_after_days,
            365,
            "the default"
        );
        for days in ["0", "7", "40000"] {
            let (_dir, loaded) = demo_with("city.toml", |t| {
                t.replace(
                    "archive_after_days = 365",
                    &format!("archive_after_days = {days}"),
                )
            });
            let err = loaded.unwrap_err();
            assert_eq!(err.entry.as_deref(), Some("retention"), "{days}: {err}");
            assert_eq!(err.field.as_deref(), Some("archive_after_days"));
        }
    }

    #[test]
    fn a_misspelt_field_is_refused_with_its_name() {
        let (_dir, loaded) = demo_with("city.toml", |t| t.replace("short_name", "shortname"));
        let err = loaded.unwrap_err().to_string();
        assert!(
            err.contains("city.toml") && err.contains("shortname"),
            "{err}"
        );
    }

    #[test]
    fn swapped_coordinates_are_caught() {
        let (_dir, loaded) = demo_with("areas/neighborhoods.geojson", |t| {
            let mut value: serde_json::Value = serde_json::from_str(&t).unwrap();
            let ring = &mut value["features"][0]["geometry"]["coordinates"][0][0];
            for position in ring.as_array_mut().unwrap() {
                let pair = position.as_array_mut().unwrap();
                pair.swap(0, 1);
            }
            value.to_string()
        });
        let err = loaded.unwrap_err();
        assert_eq!(err.entry.as_deref(), Some("feature `Downtown`"));
        assert_eq!(err.field.as_deref(), Some("geometry"));
    }

    #[test]
    fn an_unclosed_ring_and_an_empty_layer_are_caught() {
        let (_dir, loaded) = demo_with("areas/neighborhoods.geojson", |t| {
            let mut value: serde_json::Value = serde_json::from_str(&t).unwrap();
            value["features"][1]["geometry"]["coordinates"][0][0]
                .as_array_mut()
                .unwrap()
                .pop();
            value.to_string()
        });
        assert!(loaded.unwrap_err().message.contains("not closed"));
        let (_dir, loaded) = demo_with("areas/neighborhoods.geojson", |_| {
            r#"{"type":"FeatureCollection","features":[]}"#.into()
        });
        assert!(loaded.unwrap_err().message.contains("no features"));
    }

    #[test]
    fn list_attributes_need_values_and_others_take_none() {
        let (_dir, loaded) = demo_with("services.toml", |t| {
            t.replacen("datatype = \"singlevaluelist\"", "datatype = \"string\"", 1)
        });
        let err = loaded.unwrap_err();
        assert_eq!(
            err.field.as_deref(),
            Some("attribute `pothole_size`.values")
        );
    }

    #[test]
    fn a_repeated_address_names_its_line() {
        let (_dir, loaded) = demo_with("addresses.csv", |t| {
            format!("{t}550,Main Street,41.765071,-72.673863\n")
        });
        let err = loaded.unwrap_err();
        assert!(
            err.entry.as_deref().is_some_and(|e| e.starts_with("line ")),
            "{err}"
        );
        assert!(
            err.message.contains("550 Main Street is listed twice"),
            "{err}"
        );
    }

    #[test]
    fn overlapping_areas_of_a_partition_are_refused() {
        let (_dir, loaded) = demo_with("areas/districts.geojson", |t| {
            let mut value: serde_json::Value = serde_json::from_str(&t).unwrap();
            let first = value["features"][0]["geometry"].clone();
            value["features"][1]["geometry"] = first;
            value.to_string()
        });
        let err = loaded.unwrap_err();
        assert!(err.message.contains("overlaps"), "{err}");
        assert!(err.file.ends_with("districts.geojson"));
    }

    #[test]
    fn a_self_intersecting_ring_is_refused() {
        let (_dir, loaded) = demo_with("areas/districts.geojson", |t| {
            let mut value: serde_json::Value = serde_json::from_str(&t).unwrap();
            let bow_tie = serde_json::json!({ "type": "Polygon", "coordinates": [[[-72.70, 41.76], [-72.68, 41.78], [-72.68, 41.76], [-72.70, 41.78], [-72.70, 41.76]]] });
            value["features"][0]["geometry"] = bow_tie;
            value.to_string()
        });
        let err = loaded.unwrap_err();
        assert_eq!(err.field.as_deref(), Some("geometry"));
        assert!(err.message.contains("not a valid polygon"), "{err}");
    }

    #[test]
    fn a_road_without_an_owner_is_refused() {
        let (_dir, loaded) = demo_with("lines/state-roads.geojson", |t| {
            t.replacen("\"owner\": \"CTDOT\"", "\"owner\": \"\"", 1)
        });
        let err = loaded.unwrap_err();
        assert_eq!(err.field.as_deref(), Some("owner"), "{err}");
    }
}
