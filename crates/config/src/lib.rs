//! Loading the city folder (city.toml, departments.toml, services.toml, area layers) and checking it whole.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use geo::{Area as _, BooleanOps, Intersects, LineString, MultiPolygon, Validation};

use cityfix_domain::areas::{AreaIndex, LineIndex};
use cityfix_domain::city::{AreaLayer, LineLayer, Places};
use cityfix_domain::{AddressPoint, Area, City, Location, OwnedLine};

mod checks;
mod features;
mod files;

pub use checks::check_partition;
pub use features::Properties;

use checks::{check_agencies, check_departments, is_slug, AreaNames, Assignees};
use features::{feature_fault, read_features, to_coord, to_multipolygon};
use files::{
    read_toml, AgenciesFile, CityFile, DepartmentsFile, LineLayerFile, RoutingFile, ServicesFile,
};

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
    let city_path = dir.join("city.toml");
    let city_file: CityFile = read_toml(&city_path)?;
    let departments_path = dir.join("departments.toml");
    let departments = read_toml::<DepartmentsFile>(&departments_path)?.department;
    let agencies_path = dir.join("agencies.toml");
    let agencies = if agencies_path.exists() {
        read_toml::<AgenciesFile>(&agencies_path)?.agency
    } else {
        Vec::new()
    };
    let services_path = dir.join("services.toml");
    let services = read_toml::<ServicesFile>(&services_path)?.service;
    let routing_path = dir.join("routing.toml");
    let routing: RoutingFile = read_toml(&routing_path)?;

    let timezone = checks::check_timezone(&city_path, &city_file)?;
    let center = checks::check_center(&city_path, &city_file)?;
    checks::check_open311_keys(&city_path, &city_file.open311_keys)?;
    check_departments(&departments_path, &departments)?;
    check_agencies(&agencies_path, &agencies, &departments)?;
    let assignees = Assignees {
        departments: &departments,
        agencies: &agencies,
    };

    let fault = |file: &Path, entry: Option<String>, field: &str, message: String| ConfigError {
        file: file.to_path_buf(),
        entry,
        field: Some(field.to_string()),
        message,
    };

    let boundary_path = dir.join(&routing.boundary);
    let boundary_areas: Vec<Area> = read_area_layer(&boundary_path, "name")?
        .into_iter()
        .map(|(area, _)| area)
        .collect();
    let boundary = MultiPolygon(
        boundary_areas
            .iter()
            .flat_map(|area| area.shape.0.clone())
            .collect(),
    );
    checks::check_center_within(&city_path, center, &boundary)?;

    if routing.area_layers.is_empty() {
        return Err(fault(
            &routing_path,
            None,
            "area_layer",
            "at least one area layer (the neighbourhoods) is needed".into(),
        ));
    }
    let mut layers = Vec::new();
    let mut layer_areas = AreaNames::new();
    for layer in &routing.area_layers {
        if !is_slug(&layer.id, '-') || layer_areas.contains_key(&layer.id) {
            return Err(fault(
                &routing_path,
                Some(format!("area_layer `{}`", layer.id)),
                "id",
                "layer ids must be unique and made of a-z, 0-9 and -".into(),
            ));
        }
        let path = dir.join(&layer.file);
        let mut areas: Vec<Area> = read_area_layer(&path, &layer.name_property)?
            .into_iter()
            .map(|(area, _)| area)
            .collect();
        for area in &areas {
            if !area.shape.intersects(&boundary) {
                return Err(feature_fault(
                    &path,
                    &area.name,
                    "lies wholly outside the city boundary; are longitude and latitude swapped?",
                ));
            }
        }
        if layer.partition {
            check_partition(&path, &areas)?;
        }
        areas.sort_by(|a, b| a.name.cmp(&b.name));
        layer_areas.insert(
            layer.id.clone(),
            areas.iter().map(|a| a.name.clone()).collect(),
        );
        layers.push(AreaLayer {
            id: layer.id.clone(),
            index: AreaIndex::build(&areas),
        });
    }

    let neighbours = match &routing.neighbours {
        None => None,
        Some(file) => {
            let path = dir.join(&file.file);
            let mut towns = Vec::new();
            for (area, properties) in read_area_layer(&path, &file.name_property)? {
                let agency = properties
                    .get(&file.agency_property)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                if !agencies.iter().any(|a| a.id == agency) {
                    return Err(ConfigError {
                        file: path,
                        entry: Some(format!("feature `{}`", area.name)),
                        field: Some(file.agency_property.clone()),
                        message: format!("`{agency}` is not an agency in agencies.toml"),
                    });
                }
                let inside: f64 = area.shape.intersection(&boundary).unsigned_area();
                if inside > 0.01 * area.shape.unsigned_area() {
                    return Err(feature_fault(&path, &area.name, "a neighbouring jurisdiction must lie outside the city boundary, but this one overlaps it"));
                }
                towns.push((area, agency));
            }
            let areas: Vec<Area> = towns.iter().map(|(area, _)| area.clone()).collect();
            check_partition(&path, &areas)?;
            Some((
                AreaIndex::build(&areas),
                towns.into_iter().map(|(_, agency)| agency).collect(),
            ))
        }
    };

    let mut lines = Vec::new();
    for layer in &routing.line_layers {
        let path = dir.join(&layer.file);
        if !(0.0..=500.0).contains(&layer.default_buffer_m) {
            return Err(fault(
                &routing_path,
                Some(format!("line_layer `{}`", layer.id)),
                "default_buffer_m",
                "must be between 0 and 500 metres".into(),
            ));
        }
        let owned = read_line_layer(&path, layer)?;
        for line in &owned {
            if !line.shape.intersects(&boundary) {
                return Err(feature_fault(
                    &path,
                    &line.name,
                    "does not cross the city boundary; are longitude and latitude swapped?",
                ));
            }
        }
        lines.push(LineLayer {
            id: layer.id.clone(),
            index: LineIndex::build(&owned),
            lines: owned,
        });
    }
    checks::check_line_owners(&routing_path, &routing.line_owners, &assignees)?;
    checks::check_services(&services_path, &services, &assignees, &layer_areas)?;
    let address_points = match &routing.addresses {
        Some(file) => read_addresses(&dir.join(file))?,
        None => Vec::new(),
    };

    Ok(City {
        name: city_file.name,
        short_name: city_file.short_name,
        jurisdiction_id: city_file.jurisdiction_id,
        timezone,
        contact_email: city_file.contact_email,
        contact_phone: city_file.contact_phone,
        website: city_file.website,
        center,
        country_calling_code: city_file.country_calling_code,
        open311_keys: city_file.open311_keys,
        departments,
        agencies,
        services,
        address_points,
        places: Places {
            boundary: AreaIndex::build(&boundary_areas),
            layers,
            neighbours,
            lines,
            line_owners: routing.line_owners,
        },
    })
}

/// Reads the address points: `number,street,lat,long`, each point in the world, no address twice.
fn read_addresses(path: &Path) -> Result<Vec<AddressPoint>, ConfigError> {
    let fault = |entry: String, field: Option<&str>, message: String| ConfigError {
        file: path.into(),
        entry: Some(entry),
        field: field.map(str::to_string),
        message,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| ConfigError {
        file: path.into(),
        entry: None,
        field: None,
        message: format!("cannot be read: {e}"),
    })?;
    let mut seen = BTreeSet::new();
    let mut points = Vec::new();
    for (index, row) in reader.deserialize::<AddressPoint>().enumerate() {
        let line = format!("line {}", index + 2);
        let point = row.map_err(|e| {
            fault(
                line.clone(),
                None,
                format!("is not `number,street,lat,long`: {e}"),
            )
        })?;
        if let Err(invalid) = Location::new(point.lat, point.long) {
            return Err(fault(line, invalid.field.as_deref(), invalid.message));
        }
        if point.number.trim().is_empty() || point.street.trim().is_empty() {
            return Err(fault(
                line,
                Some("street"),
                "number and street must not be empty".into(),
            ));
        }
        if !seen.insert((
            point.number.to_uppercase(),
            cityfix_domain::addresses::normalise_street(&point.street),
        )) {
            return Err(fault(
                line,
                Some("number"),
                format!("{} is listed twice", point.label()),
            ));
        }
        points.push(point);
    }
    Ok(points)
}

/// Reads a GeoJSON FeatureCollection of Polygon / MultiPolygon features, each named by
/// `name_property`, with every feature's other properties. Rings must be closed, valid
/// (no self-intersections) and inside the world's coordinate ranges.
pub fn read_area_layer(
    path: &Path,
    name_property: &str,
) -> Result<Vec<(Area, Properties)>, ConfigError> {
    let mut areas = Vec::new();
    for (name, feature) in read_features(path, name_property)? {
        let geometry = feature
            .geometry
            .as_ref()
            .ok_or_else(|| feature_fault(path, &name, "the feature has no geometry"))?;
        let polygons = match &geometry.value {
            geojson::Value::Polygon(rings) => vec![rings.clone()],
            geojson::Value::MultiPolygon(polygons) => polygons.clone(),
            other => {
                return Err(feature_fault(
                    path,
                    &name,
                    &format!("is a {}, not a Polygon or MultiPolygon", other.type_name()),
                ))
            }
        };
        let shape =
            to_multipolygon(&polygons).map_err(|message| feature_fault(path, &name, &message))?;
        for polygon in &shape {
            if let Err(invalid) = polygon.check_validation() {
                return Err(feature_fault(
                    path,
                    &name,
                    &format!("is not a valid polygon: {invalid}"),
                ));
            }
        }
        areas.push((Area { name, shape }, feature.properties.unwrap_or_default()));
    }
    Ok(areas)
}

/// How a line layer's features carry their name, owner and buffer.
#[derive(Debug, Clone)]
pub struct LineProperties {
    pub name: String,
    pub owner: String,
    pub buffer: Option<String>,
    pub default_buffer_m: f64,
}

/// Reads a layer of road lines (LineString / MultiLineString), each with a name, an owner and a buffer.
pub fn read_lines(path: &Path, properties: &LineProperties) -> Result<Vec<OwnedLine>, ConfigError> {
    let layer = LineLayerFile {
        id: String::new(),
        file: path.to_path_buf(),
        name_property: properties.name.clone(),
        owner_property: properties.owner.clone(),
        buffer_property: properties.buffer.clone(),
        default_buffer_m: properties.default_buffer_m,
    };
    read_line_layer(path, &layer)
}

fn read_line_layer(path: &Path, layer: &LineLayerFile) -> Result<Vec<OwnedLine>, ConfigError> {
    let mut lines = Vec::new();
    for (name, feature) in read_features(path, &layer.name_property)? {
        let property = |key: &str| feature.properties.as_ref().and_then(|p| p.get(key));
        let owner = property(&layer.owner_property)
            .and_then(|v| v.as_str())
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ConfigError {
                file: path.into(),
                entry: Some(format!("feature `{name}`")),
                field: Some(layer.owner_property.clone()),
                message: "every line needs an owner".into(),
            })?
            .to_string();
        let buffer_m = match layer
            .buffer_property
            .as_deref()
            .and_then(|key| property(key).map(|v| (key, v)))
        {
            None => layer.default_buffer_m,
            Some((key, value)) => value
                .as_f64()
                .filter(|b| (0.0..=500.0).contains(b))
                .ok_or_else(|| ConfigError {
                    file: path.into(),
                    entry: Some(format!("feature `{name}`")),
                    field: Some(key.into()),
                    message: "the buffer must be a number of metres between 0 and 500".into(),
                })?,
        };
        let geometry = feature
            .geometry
            .as_ref()
            .ok_or_else(|| feature_fault(path, &name, "the feature has no geometry"))?;
        let parts = match &geometry.value {
            geojson::Value::LineString(positions) => vec![positions.clone()],
            geojson::Value::MultiLineString(parts) => parts.clone(),
            other => {
                return Err(feature_fault(
                    path,
                    &name,
                    &format!(
                        "is a {}, not a LineString or MultiLineString",
                        other.type_name()
                    ),
                ))
            }
        };
        for positions in parts {
            if positions.len() < 2 {
                return Err(feature_fault(
                    path,
                    &name,
                    "a line needs at least two positions",
                ));
            }
            let coords = positions
                .iter()
                .map(|p| to_coord(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| feature_fault(path, &name, &m))?;
            lines.push(OwnedLine {
                name: name.clone(),
                owner: owner.clone(),
                buffer_m,
                shape: LineString(coords),
            });
        }
    }
    Ok(lines)
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
