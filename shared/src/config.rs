//! Loading the city folder (city.toml, departments.toml, services.toml, area layers) and checking it whole.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use geo::{Coord, Intersects, LineString, MultiPolygon, Polygon};
use serde::Deserialize;

use crate::domain::{Area, City, Department, Location, Open311Key, Service};

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CityFile {
    name: String,
    short_name: String,
    jurisdiction_id: String,
    timezone: String,
    contact_email: String,
    contact_phone: String,
    website: String,
    center: CenterFile,
    #[serde(default, rename = "open311_key")]
    open311_keys: Vec<Open311Key>,
    areas: AreasFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CenterFile {
    lat: f64,
    long: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AreasFile {
    boundary: PathBuf,
    neighbourhoods: PathBuf,
    name_property: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentsFile {
    #[serde(default)]
    department: Vec<Department>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServicesFile {
    #[serde(default)]
    service: Vec<Service>,
}

/// Reads and checks the whole city folder. The first fault found is returned.
pub fn load_city(dir: &Path) -> Result<City, ConfigError> {
    let city_path = dir.join("city.toml");
    let city_file: CityFile = read_toml(&city_path)?;
    let departments_path = dir.join("departments.toml");
    let departments = read_toml::<DepartmentsFile>(&departments_path)?.department;
    let services_path = dir.join("services.toml");
    let services = read_toml::<ServicesFile>(&services_path)?.service;

    let fault = |file: &Path, entry: Option<String>, field: &str, message: String| ConfigError {
        file: file.to_path_buf(),
        entry,
        field: Some(field.to_string()),
        message,
    };
    let timezone = city_file.timezone.parse().map_err(|_| {
        fault(
            &city_path,
            None,
            "timezone",
            format!(
                "`{}` is not an IANA time zone such as America/New_York",
                city_file.timezone
            ),
        )
    })?;
    let center = Location::new(city_file.center.lat, city_file.center.long)
        .map_err(|e| fault(&city_path, None, "center", e.message))?;
    let mut keys = BTreeSet::new();
    for key in &city_file.open311_keys {
        if key.key.trim().is_empty() || !keys.insert(key.key.as_str()) {
            return Err(fault(
                &city_path,
                Some(format!("open311_key `{}`", key.name)),
                "key",
                "keys must be non-empty and unique".into(),
            ));
        }
    }

    let boundary_path = dir.join(&city_file.areas.boundary);
    let boundary_layer = read_area_layer(&boundary_path, &city_file.areas.name_property)?;
    let boundary = MultiPolygon(
        boundary_layer
            .into_iter()
            .flat_map(|area| area.shape.0)
            .collect(),
    );
    let neighbourhoods_path = dir.join(&city_file.areas.neighbourhoods);
    let mut neighbourhoods = read_area_layer(&neighbourhoods_path, &city_file.areas.name_property)?;
    for area in &neighbourhoods {
        if !area.shape.intersects(&boundary) {
            return Err(ConfigError {
                file: neighbourhoods_path.clone(),
                entry: Some(format!("feature `{}`", area.name)),
                field: Some("geometry".into()),
                message:
                    "lies wholly outside the city boundary; are longitude and latitude swapped?"
                        .into(),
            });
        }
    }
    neighbourhoods.sort_by(|a, b| a.name.cmp(&b.name));
    if !boundary.intersects(&center.to_point()) {
        return Err(fault(
            &city_path,
            None,
            "center",
            "the centre is outside the city boundary".into(),
        ));
    }

    check_departments(&departments_path, &departments)?;
    check_services(&services_path, &services, &departments, &neighbourhoods)?;

    Ok(City {
        name: city_file.name,
        short_name: city_file.short_name,
        jurisdiction_id: city_file.jurisdiction_id,
        timezone,
        contact_email: city_file.contact_email,
        contact_phone: city_file.contact_phone,
        website: city_file.website,
        center,
        open311_keys: city_file.open311_keys,
        departments,
        services,
        boundary,
        neighbourhoods,
    })
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = read_text(path)?;
    toml::from_str(&text).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        entry: None,
        field: None,
        message: e.to_string().trim().replace('\n', " "),
    })
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        entry: None,
        field: None,
        message: format!("cannot be read: {e}"),
    })
}

fn check_departments(path: &Path, departments: &[Department]) -> Result<(), ConfigError> {
    if departments.is_empty() {
        return Err(ConfigError {
            file: path.into(),
            entry: None,
            field: Some("department".into()),
            message: "at least one department is needed".into(),
        });
    }
    let mut seen = BTreeSet::new();
    for department in departments {
        let entry = Some(format!("department `{}`", department.id));
        if !is_slug(&department.id, '-') || !seen.insert(department.id.as_str()) {
            return Err(ConfigError {
                file: path.into(),
                entry,
                field: Some("id".into()),
                message: "ids must be unique and made of a-z, 0-9 and -".into(),
            });
        }
        if department.name.trim().is_empty() {
            return Err(ConfigError {
                file: path.into(),
                entry,
                field: Some("name".into()),
                message: "must not be empty".into(),
            });
        }
    }
    Ok(())
}

fn check_services(
    path: &Path,
    services: &[Service],
    departments: &[Department],
    neighbourhoods: &[Area],
) -> Result<(), ConfigError> {
    let fault = |service: &Service, field: String, message: String| ConfigError {
        file: path.into(),
        entry: Some(format!("service `{}`", service.code)),
        field: Some(field),
        message,
    };
    let known_department = |id: &str| departments.iter().any(|d| d.id == id);
    let mut codes = BTreeSet::new();
    for service in services {
        if !is_slug(&service.code, '_') || !codes.insert(service.code.as_str()) {
            return Err(fault(
                service,
                "code".into(),
                "codes must be unique and made of a-z, 0-9 and _".into(),
            ));
        }
        for (field, value) in [
            ("name", &service.name),
            ("description", &service.description),
            ("group", &service.group),
        ] {
            if value.trim().is_empty() {
                return Err(fault(service, field.into(), "must not be empty".into()));
            }
        }
        if !known_department(&service.department) {
            return Err(fault(
                service,
                "department".into(),
                format!(
                    "`{}` is not a department in departments.toml",
                    service.department
                ),
            ));
        }
        for (neighbourhood, department) in &service.neighbourhood_departments {
            let field = format!("neighbourhood_departments.{neighbourhood}");
            if !neighbourhoods.iter().any(|n| &n.name == neighbourhood) {
                return Err(fault(
                    service,
                    field,
                    format!("`{neighbourhood}` is not a neighbourhood of the area layer"),
                ));
            }
            if !known_department(department) {
                return Err(fault(
                    service,
                    field,
                    format!("`{department}` is not a department in departments.toml"),
                ));
            }
        }
        let mut attribute_codes = BTreeSet::new();
        let mut orders = BTreeSet::new();
        for attribute in &service.attributes {
            let field = |name: &str| format!("attribute `{}`.{name}", attribute.code);
            if !is_slug(&attribute.code, '_') || !attribute_codes.insert(attribute.code.as_str()) {
                return Err(fault(
                    service,
                    field("code"),
                    "attribute codes must be unique and made of a-z, 0-9 and _".into(),
                ));
            }
            if !orders.insert(attribute.order) {
                return Err(fault(
                    service,
                    field("order"),
                    format!("order {} is used twice", attribute.order),
                ));
            }
            if attribute.description.trim().is_empty() {
                return Err(fault(
                    service,
                    field("description"),
                    "must not be empty".into(),
                ));
            }
            if !attribute.variable && attribute.required {
                return Err(fault(
                    service,
                    field("required"),
                    "an informational attribute (variable = false) cannot be required".into(),
                ));
            }
            match (attribute.datatype.is_list(), attribute.values.is_empty()) {
                (true, true) => {
                    return Err(fault(
                        service,
                        field("values"),
                        format!("a {} needs values", attribute.datatype.as_str()),
                    ))
                }
                (false, false) => {
                    return Err(fault(
                        service,
                        field("values"),
                        format!("a {} takes no values", attribute.datatype.as_str()),
                    ))
                }
                _ => {}
            }
            let mut keys = BTreeSet::new();
            if let Some(repeated) = attribute
                .values
                .iter()
                .find(|v| !keys.insert(v.key.as_str()))
            {
                return Err(fault(
                    service,
                    field("values"),
                    format!("key `{}` is used twice", repeated.key),
                ));
            }
        }
    }
    Ok(())
}

fn is_slug(value: &str, separator: char) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == separator)
}

/// Reads a GeoJSON FeatureCollection of Polygon / MultiPolygon features, each named by `name_property`.
pub fn read_area_layer(path: &Path, name_property: &str) -> Result<Vec<Area>, ConfigError> {
    let text = read_text(path)?;
    let layer_fault = |entry: Option<String>, field: Option<&str>, message: String| ConfigError {
        file: path.into(),
        entry,
        field: field.map(str::to_string),
        message,
    };
    let collection: geojson::FeatureCollection = text
        .parse::<geojson::GeoJson>()
        .map_err(|e| layer_fault(None, None, format!("is not GeoJSON: {e}")))
        .and_then(|g| {
            geojson::FeatureCollection::try_from(g)
                .map_err(|e| layer_fault(None, None, format!("is not a FeatureCollection: {e}")))
        })?;
    if collection.features.is_empty() {
        return Err(layer_fault(
            None,
            Some("features"),
            "the layer has no features".into(),
        ));
    }
    let mut names = BTreeSet::new();
    let mut areas = Vec::with_capacity(collection.features.len());
    for (index, feature) in collection.features.iter().enumerate() {
        let name = feature
            .property(name_property)
            .and_then(|v| v.as_str())
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                layer_fault(
                    Some(format!("feature {index}")),
                    Some(name_property),
                    "every feature needs a name in this property".into(),
                )
            })?
            .to_string();
        let entry = Some(format!("feature `{name}`"));
        if !names.insert(name.clone()) {
            return Err(layer_fault(
                entry,
                Some(name_property),
                "the name is used by another feature".into(),
            ));
        }
        let geometry = feature.geometry.as_ref().ok_or_else(|| {
            layer_fault(
                entry.clone(),
                Some("geometry"),
                "the feature has no geometry".into(),
            )
        })?;
        let polygons = match &geometry.value {
            geojson::Value::Polygon(rings) => vec![rings.clone()],
            geojson::Value::MultiPolygon(polygons) => polygons.clone(),
            other => {
                return Err(layer_fault(
                    entry,
                    Some("geometry"),
                    format!("is a {}, not a Polygon or MultiPolygon", other.type_name()),
                ))
            }
        };
        let shape = to_multipolygon(&polygons)
            .map_err(|message| layer_fault(entry.clone(), Some("geometry"), message))?;
        areas.push(Area { name, shape });
    }
    Ok(areas)
}

fn to_multipolygon(polygons: &[Vec<Vec<Vec<f64>>>]) -> Result<MultiPolygon<f64>, String> {
    let ring = |positions: &Vec<Vec<f64>>| -> Result<LineString<f64>, String> {
        if positions.len() < 4 {
            return Err(format!(
                "a ring has {} positions; a closed ring needs at least 4",
                positions.len()
            ));
        }
        let mut coords = Vec::with_capacity(positions.len());
        for position in positions {
            let (long, lat) = match position.as_slice() {
                [long, lat, ..] => (*long, *lat),
                _ => return Err("a position has fewer than two numbers".into()),
            };
            if !(-180.0..=180.0).contains(&long) || !(-90.0..=90.0).contains(&lat) {
                return Err(format!("position [{long}, {lat}] is outside the world; GeoJSON is [longitude, latitude]"));
            }
            coords.push(Coord { x: long, y: lat });
        }
        if coords.first() != coords.last() {
            return Err("a ring is not closed: its last position differs from its first".into());
        }
        Ok(LineString(coords))
    };
    let mut result = Vec::with_capacity(polygons.len());
    for rings in polygons {
        let (exterior, interiors) = rings.split_first().ok_or("a polygon has no rings")?;
        let interiors = interiors.iter().map(ring).collect::<Result<Vec<_>, _>>()?;
        result.push(Polygon::new(ring(exterior)?, interiors));
    }
    Ok(MultiPolygon(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/hartford")
    }

    /// A copy of the demo city with one file replaced, for fault tests.
    fn demo_with(
        file: &str,
        edit: impl Fn(String) -> String,
    ) -> (tempfile::TempDir, Result<City, ConfigError>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("areas")).unwrap();
        for name in [
            "city.toml",
            "departments.toml",
            "services.toml",
            "areas/boundary.geojson",
            "areas/neighborhoods.geojson",
        ] {
            let text = std::fs::read_to_string(demo_dir().join(name)).unwrap();
            let text = if name == file { edit(text) } else { text };
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let loaded = load_city(dir.path());
        (dir, loaded)
    }

    #[test]
    fn the_demo_city_loads() {
        let city = load_city(&demo_dir()).unwrap();
        assert_eq!(city.neighbourhoods.len(), 17);
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
}
