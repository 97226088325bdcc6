//! Loading the city folder (city.toml, departments.toml, services.toml, responses.toml, area
//! layers) and checking it whole.

use std::fmt;
use std::path::{Path, PathBuf};

use cityfix_domain::areas::AreaIndex;
use cityfix_domain::city::Places;
use cityfix_domain::City;

mod answers;
mod assets;
mod checks;
mod features;
mod files;
mod layer_faults;
mod layer_file;
mod layers;
mod projection;
mod repair;
mod responses;
pub mod routing_check;
mod shapefile_layer;
mod site;
mod translations;

pub use answers::{answer_entry, read_answers, Answer, AnswerText, Link};
pub use assets::{read_asset_layer, MAX_SNAP_M};
pub use features::Properties;
pub use layer_faults::{
    check_area_features, check_area_layer, CheckedArea, CheckedLayer, FaultKind, LayerFault,
    RepairedLayer, Verdict, ROUNDING_M2, SLIVER_MAX_M2,
};
pub use layer_file::{
    features_in_wgs84, read_layer_features, DeclaredSystem, LayerFeatures, LayerFormat, LayerSource,
};
pub use layers::{read_area_layer, read_lines, LineProperties};
pub use site::{read_map_layers, read_site, MapLayer, Site, BUILT_IN_LANGUAGES};
pub use translations::check_service_translations;

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

/// The repairs made to one feature of a layer so the city could load: a warning for its GIS staff.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerRepair {
    pub file: PathBuf,
    /// The feature's faults, each repaired; at least one.
    pub faults: Vec<LayerFault>,
}

impl LayerRepair {
    /// The repaired feature's name.
    pub fn feature(&self) -> String {
        self.faults[0].feature()
    }
}

impl fmt::Display for LayerRepair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} is repaired: ",
            self.file.display(),
            self.feature()
        )?;
        for (i, fault) in self.faults.iter().enumerate() {
            let remedy = fault.kind.remedy().unwrap_or_default();
            let separator = if i == 0 { "" } else { "; " };
            write!(f, "{separator}{}, so {remedy}", fault.problem())?;
        }
        Ok(())
    }
}

/// The repairs of the layer at `path`, one warning per feature with all its faults.
pub fn repairs_by_feature(path: &Path, repairs: Vec<LayerFault>) -> Vec<LayerRepair> {
    let mut warnings: Vec<LayerRepair> = Vec::new();
    for fault in repairs {
        match warnings.last_mut() {
            Some(last) if last.faults[0].index == fault.index => last.faults.push(fault),
            _ => warnings.push(LayerRepair {
                file: path.to_path_buf(),
                faults: vec![fault],
            }),
        }
    }
    warnings
}

/// The boundary of the city folder at `dir` (routing.toml's `boundary`), to check a layer against.
pub fn read_city_boundary(dir: &Path) -> Result<geo::MultiPolygon<f64>, ConfigError> {
    let routing: files::RoutingFile = files::read_toml(&dir.join("routing.toml"))?;
    Ok(layers::load_boundary(dir, &routing, &mut LayerNotes::default())?.shape)
}

/// A layer whose positions were reprojected to WGS 84 as the city loaded: a notice for its GIS
/// staff, since a wrong `.prj` or `crs` member moves every shape while still loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReprojectedLayer {
    pub file: PathBuf,
    pub source: LayerSource,
}

impl fmt::Display for ReprojectedLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: read as {}; check that a few known places land where they should",
            self.file.display(),
            self.source
        )
    }
}

/// What loading the layers noticed: the shapes repaired and the files reprojected.
#[derive(Debug, Default)]
pub(crate) struct LayerNotes {
    pub(crate) repairs: Vec<LayerRepair>,
    pub(crate) reprojected: Vec<ReprojectedLayer>,
}

impl LayerNotes {
    /// Notes the layer at `path`, read as `source`, and the repairs its features needed.
    pub(crate) fn layer(&mut self, path: &Path, source: &LayerSource, repairs: Vec<LayerFault>) {
        if source.reprojected {
            self.reprojected.push(ReprojectedLayer {
                file: path.to_path_buf(),
                source: source.clone(),
            });
        }
        self.repairs.extend(repairs_by_feature(path, repairs));
    }
}

/// The city, the repairs its layers needed and the layers that were reprojected.
#[derive(Debug)]
pub struct LoadedCity {
    pub city: City,
    pub repairs: Vec<LayerRepair>,
    pub reprojected: Vec<ReprojectedLayer>,
}

/// Reads and checks the whole city folder. The first fault found is returned.
pub fn load_city(dir: &Path) -> Result<City, ConfigError> {
    load_city_with_repairs(dir).map(|loaded| loaded.city)
}

/// As [`load_city`], with a warning for each feature whose shape was repaired and a notice for
/// each layer that was reprojected.
pub fn load_city_with_repairs(dir: &Path) -> Result<LoadedCity, ConfigError> {
    let mut notes = LayerNotes::default();
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
    let media_fetch = city
        .content
        .media_fetch
        .clone()
        .checked()
        .map_err(|message| ConfigError {
            file: city.path.clone(),
            entry: Some("media_fetch".into()),
            field: None,
            message,
        })?;
    let webhooks = cityfix_domain::webhooks::checked_webhooks(city.content.webhooks.clone())
        .map_err(|message| ConfigError {
            file: city.path.clone(),
            entry: Some("webhooks".into()),
            field: None,
            message,
        })?;
    checks::check_departments(&departments.path, &departments.content)?;
    checks::check_agencies(&agencies.path, &agencies.content, &departments.content)?;
    let assignees = Assignees {
        departments: &departments.content,
        agencies: &agencies.content,
    };

    let places = &routing.content;
    let boundary = layers::load_boundary(dir, places, &mut notes)?;
    checks::check_center_within(&city.path, center, &boundary.shape)?;
    let (area_layers, area_names) = layers::load_area_layers(
        dir,
        &routing.path,
        &places.area_layers,
        &boundary.shape,
        &mut notes,
    )?;
    let neighbours = places
        .neighbours
        .as_ref()
        .map(|file| {
            layers::load_neighbours(dir, file, &agencies.content, &boundary.shape, &mut notes)
        })
        .transpose()?;
    let lines = layers::load_line_layers(
        dir,
        &routing.path,
        &places.line_layers,
        &boundary.shape,
        &mut notes,
    )?;
    checks::check_line_owners(&routing.path, &places.line_owners, &assignees)?;
    checks::check_services(&services.path, &services.content, &assignees, &area_names)?;
    // Translations name languages, which site.toml offers (or not).
    let site = site::read_site(dir)?;
    translations::check_service_translations(dir, &site.languages, &services.content)?;
    let responses = responses::read_responses(dir, &services.content)?;
    let address_points = layers::load_addresses(dir, places.addresses.as_ref())?;
    let boundary_index = AreaIndex::build(&boundary.areas);
    let asset_layers = assets::load_asset_layers(
        dir,
        &routing.path,
        &places.asset_layers,
        &boundary_index,
        &mut notes,
    )?;
    assets::check_service_assets(&services.path, &services.content, &asset_layers)?;

    let (city, routing) = (city.content, routing.content);
    let city = City {
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
        media_fetch,
        webhooks,
        departments: departments.content,
        agencies: agencies.content,
        services: services.content,
        responses,
        address_points,
        places: Places {
            boundary: boundary_index,
            layers: area_layers,
            neighbours,
            lines,
            line_owners: routing.line_owners,
            assets: asset_layers,
        },
    };
    Ok(LoadedCity {
        city,
        repairs: notes.repairs,
        reprojected: notes.reprojected,
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
        let LoadedCity {
            city,
            repairs,
            reprojected,
        } = load_city_with_repairs(&demo_dir()).unwrap();
        for repair in &repairs {
            println!("{repair}");
        }
        assert!(reprojected.is_empty(), "the demo city's layers are WGS 84");
        assert_eq!(city.places.layers[0].index.len(), 17);
        assert!(city.departments.len() >= 5);
        assert!(city.services.len() >= 10);
        assert!(city.contains(city.center));
        assert!(city.open311_client("demo-open311-key").is_some());
    }

    #[test]
    fn a_webhook_that_cannot_be_sent_is_refused_with_its_entry() {
        let (_dir, loaded) = demo_with("city.toml", |t| {
            t + "\n[[webhooks]]\nname = \"work-orders\"\nurl = \"http://workorders.example/hook\"\nevents = [\"closed\"]\n"
        });
        let err = loaded.unwrap_err();
        assert!(err.file.ends_with("city.toml"));
        assert_eq!(err.entry.as_deref(), Some("webhooks"));
        assert!(err.to_string().contains("plain http"), "{err}");
        let (_dir, loaded) = demo_with("city.toml", |t| {
            t + "\n[[webhooks]]\nname = \"work-orders\"\nurl = \"https://workorders.example/hook\"\nevents = [\"closed\"]\n"
        });
        assert_eq!(loaded.unwrap().webhooks[0].name, "work-orders");
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
    fn response_templates_load_and_a_fault_names_the_response_and_field() {
        let city = load_city(&demo_dir()).unwrap();
        let filled = city.response("pothole-filled").unwrap();
        assert_eq!(filled.services, ["pothole"]);
        assert!(city
            .responses_for("pothole", cityfix_domain::Status::Closed)
            .any(|t| t.id == "pothole-filled"));
        assert!(!city
            .responses_for("graffiti", cityfix_domain::Status::Closed)
            .any(|t| t.id == "pothole-filled"));

        let (_dir, loaded) = demo_with("responses.toml", |t| {
            t.replacen(r#"services = ["pothole"]"#, r#"services = ["potholes"]"#, 1)
        });
        let err = loaded.unwrap_err();
        assert!(err.file.ends_with("responses.toml"));
        assert_eq!(err.entry.as_deref(), Some("response `pothole-filled`"));
        assert_eq!(err.field.as_deref(), Some("services"));
        assert!(err.message.contains("`potholes` is not a service"), "{err}");

        let (_dir, loaded) = demo_with("responses.toml", |t| {
            t.replacen(r#"id = "crew-scheduled""#, r#"id = "pothole-filled""#, 1)
        });
        assert!(loaded
            .unwrap_err()
            .message
            .contains("used by an earlier response"));
        let (_dir, loaded) = demo_with("responses.toml", |t| {
            t.replacen(
                r#"statuses = ["in_progress"]"#,
                r#"statuses = ["finished"]"#,
                1,
            )
        });
        let err = loaded.unwrap_err();
        assert!(
            err.to_string().contains("responses.toml") && err.to_string().contains("finished"),
            "{err}"
        );
        let (_dir, loaded) = demo_with("responses.toml", |t| {
            t.replacen(
                r#"statuses = ["in_progress"]"#,
                r#"statuses = ["archived"]"#,
                1,
            )
        });
        assert_eq!(loaded.unwrap_err().field.as_deref(), Some("statuses"));

        let dir = tempfile::tempdir().unwrap();
        copy_demo_city(dir.path());
        std::fs::remove_file(dir.path().join("responses.toml")).unwrap();
        assert!(
            load_city(dir.path()).unwrap().responses.is_empty(),
            "the file is optional"
        );
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
    fn a_ring_crossing_itself_is_repaired_with_a_warning_naming_the_feature() {
        let dir = tempfile::tempdir().unwrap();
        copy_demo_city(dir.path());
        let path = dir.path().join("areas/districts.geojson");
        let mut value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        value["features"][0]["geometry"]["coordinates"][0]
            .as_array_mut()
            .unwrap()
            .swap(90, 91);
        std::fs::write(&path, value.to_string()).unwrap();

        let loaded = load_city_with_repairs(dir.path()).unwrap();

        let repaired: Vec<_> = loaded
            .repairs
            .iter()
            .filter(|r| r.file.ends_with("districts.geojson"))
            .collect();
        assert_eq!(repaired.len(), 1, "{repaired:?}");
        assert_eq!(
            repaired[0].faults[0].name.as_deref(),
            Some("North District")
        );
        assert_eq!(repaired[0].faults[0].kind, FaultKind::SelfCrossing);
        assert!(
            repaired[0].to_string().contains("repaired"),
            "{}",
            repaired[0]
        );
    }

    #[test]
    fn a_layer_repair_makes_valid_loads_with_one_warning_per_feature_and_routes_as_repaired() {
        // given the demo city with a partition layer that has every kind of repairable fault
        let dir = tempfile::tempdir().unwrap();
        copy_demo_city(dir.path());
        std::fs::copy(
            demo_dir().join("../../tests/fixtures/layers/faulty-wards.geojson"),
            dir.path().join("areas/wards.geojson"),
        )
        .unwrap();
        let routing = dir.path().join("routing.toml");
        let text = std::fs::read_to_string(&routing).unwrap().replacen(
            "[[area_layer]]",
            "[[area_layer]]\nid = \"wards\"\nfile = \"areas/wards.geojson\"\nname_property = \"name\"\npartition = true\n\n[[area_layer]]",
            1,
        );
        std::fs::write(&routing, text).unwrap();

        // when it loads
        let LoadedCity { city, repairs, .. } = load_city_with_repairs(dir.path()).unwrap();

        // then each repaired feature is named once, and routing uses the repaired shapes
        let wards: Vec<(String, usize)> = repairs
            .iter()
            .filter(|r| r.file.ends_with("wards.geojson"))
            .map(|r| (r.feature(), r.faults.len()))
            .collect();
        let expected = [
            ("Bow Tie", 1),
            ("Touching Ring", 1),
            ("Nested Shells", 1),
            ("Spike", 1),
            ("Holes", 2),
            ("Sliver West", 1),
            ("Gap East", 1),
        ]
        .map(|(name, faults)| (format!("feature `{name}`"), faults));
        assert_eq!(wards, expected);
        let layer = city.places.layers.iter().find(|l| l.id == "wards").unwrap();
        let at = |long: f64, lat: f64| {
            layer
                .index
                .first_at(geo::Point::new(long, lat))
                .map(|i| layer.index.name(i).to_string())
        };
        assert_eq!(
            at(-72.695995, 41.755).as_deref(),
            Some("Gap East"),
            "the gap"
        );
        assert_eq!(
            at(-72.705995, 41.7545).as_deref(),
            Some("Sliver East"),
            "the sliver"
        );
        assert_eq!(
            at(-72.708, 41.744),
            Some("Bow Tie".into()),
            "a triangle of the bow-tie"
        );
        assert_eq!(at(-72.706, 41.7425), None, "between the triangles");
        assert_eq!(
            at(-72.696, 41.7465),
            None,
            "the loop the touching ring closes"
        );
    }

    #[test]
    fn a_shape_repair_cannot_save_is_refused_with_the_reason() {
        let (_dir, loaded) = demo_with("areas/districts.geojson", |t| {
            let mut value: serde_json::Value = serde_json::from_str(&t).unwrap();
            let flat = serde_json::json!({ "type": "Polygon", "coordinates": [[[-72.70, 41.76], [-72.68, 41.76], [-72.66, 41.76], [-72.68, 41.76], [-72.70, 41.76]]] });
            value["features"][0]["geometry"] = flat;
            value.to_string()
        });
        let err = loaded.unwrap_err();
        assert_eq!(err.entry.as_deref(), Some("feature `North District`"));
        assert_eq!(err.field.as_deref(), Some("geometry"));
        assert!(err.message.contains("no valid polygon"), "{err}");
    }

    #[test]
    fn a_road_without_an_owner_is_refused() {
        let (_dir, loaded) = demo_with("lines/state-roads.geojson", |t| {
            t.replacen("\"owner\": \"CTDOT\"", "\"owner\": \"\"", 1)
        });
        let err = loaded.unwrap_err();
        assert_eq!(err.field.as_deref(), Some("owner"), "{err}");
    }

    #[test]
    fn a_city_folder_takes_a_shapefile_layer_in_state_plane_feet_with_a_notice_it_was_reprojected()
    {
        let dir = tempfile::tempdir().unwrap();
        copy_demo_city(dir.path());
        let formats =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/layers/formats");
        for extension in ["shp", "shx", "dbf", "prj", "cpg"] {
            let name = format!("roads-ct-feet.{extension}");
            std::fs::copy(formats.join(&name), dir.path().join("lines").join(&name)).unwrap();
        }
        let routing = dir.path().join("routing.toml");
        let text = std::fs::read_to_string(&routing).unwrap();
        std::fs::write(
            &routing,
            text.replace("lines/state-roads.geojson", "lines/roads-ct-feet.shp"),
        )
        .unwrap();
        let LoadedCity {
            city, reprojected, ..
        } = load_city_with_repairs(dir.path()).unwrap();
        // One notice, for the one layer that was not in WGS 84, naming its file and system.
        assert_eq!(reprojected.len(), 1, "{reprojected:?}");
        let notice = reprojected[0].to_string();
        assert!(notice.contains("lines/roads-ct-feet.shp: read as ESRI Shapefile in `NAD_1983_StatePlane_Connecticut_FIPS_0600_Feet`, reprojected to WGS 84"), "{notice}");
        let lines = &city.places.lines[0].lines;
        let found: Vec<(&str, &str, f64)> = lines
            .iter()
            .map(|l| (l.name.as_str(), l.owner.as_str(), l.buffer_m))
            .collect();
        assert_eq!(
            found,
            [
                ("Route 44", "CTDOT", 20.0),
                ("I-84 ramps", "CTDOT", 25.0),
                ("I-84 ramps", "CTDOT", 25.0)
            ]
        );
        // The script drew Route 44 from (-72.700, 41.750), in feet; it is read back in degrees.
        let start = lines[0].shape.0[0];
        assert!(
            (start.x + 72.7).abs() < 1e-7 && (start.y - 41.75).abs() < 1e-7,
            "{start:?}"
        );
    }
}
