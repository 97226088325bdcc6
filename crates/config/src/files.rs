//! The shapes of the city folder's TOML files, as serde reads them, and reading a file whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use cityfix_domain::{Agency, Department, Open311Key, RateLimits, Retention, Service};

use crate::ConfigError;

/// city.toml: who the city is and how to reach it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CityFile {
    pub(crate) name: String,
    pub(crate) short_name: String,
    pub(crate) jurisdiction_id: String,
    pub(crate) timezone: String,
    pub(crate) contact_email: String,
    pub(crate) contact_phone: String,
    pub(crate) website: String,
    pub(crate) center: CenterFile,
    #[serde(default = "north_american")]
    pub(crate) country_calling_code: u16,
    #[serde(default, rename = "open311_key")]
    pub(crate) open311_keys: Vec<Open311Key>,
    #[serde(default)]
    pub(crate) rate_limits: RateLimits,
    #[serde(default)]
    pub(crate) residents: cityfix_domain::ResidentRules,
    #[serde(default)]
    pub(crate) retention: Retention,
    #[serde(default)]
    pub(crate) media_fetch: cityfix_domain::fetch::MediaFetch,
    #[serde(default)]
    pub(crate) webhooks: Vec<cityfix_domain::webhooks::Webhook>,
}

/// city.toml `center`: where the city's map opens.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CenterFile {
    pub(crate) lat: f64,
    pub(crate) long: f64,
}

/// routing.toml: the layers reports are routed by.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoutingFile {
    pub(crate) boundary: PathBuf,
    #[serde(rename = "area_layer")]
    pub(crate) area_layers: Vec<AreaLayerFile>,
    #[serde(default)]
    pub(crate) neighbours: Option<NeighboursFile>,
    #[serde(default, rename = "line_layer")]
    pub(crate) line_layers: Vec<LineLayerFile>,
    #[serde(default)]
    pub(crate) line_owners: BTreeMap<String, String>,
    /// CSV of the city's address points (`number,street,lat,long`), for geocoding.
    #[serde(default)]
    pub(crate) addresses: Option<PathBuf>,
    /// Point layers of the city's assets, which services may name (see crate::assets).
    #[serde(default, rename = "asset_layer")]
    pub(crate) asset_layers: Vec<AssetLayerFile>,
}

/// routing.toml `[[asset_layer]]`: a GeoJSON layer of points (streetlights, hydrants), each with an id.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssetLayerFile {
    pub(crate) id: String,
    pub(crate) file: PathBuf,
    pub(crate) id_property: String,
    #[serde(default)]
    pub(crate) label_property: Option<String>,
}

/// routing.toml `[[area_layer]]`: a GeoJSON layer of named areas services route by.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AreaLayerFile {
    pub(crate) id: String,
    pub(crate) file: PathBuf,
    pub(crate) name_property: String,
    /// Whether the areas must not overlap (neighbourhoods, districts).
    #[serde(default = "yes")]
    pub(crate) partition: bool,
}

fn north_american() -> u16 {
    1
}

fn yes() -> bool {
    true
}

/// routing.toml `neighbours`: the towns around the city, each with the agency its reports are referred to.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NeighboursFile {
    pub(crate) file: PathBuf,
    pub(crate) name_property: String,
    pub(crate) agency_property: String,
}

/// routing.toml `[[line_layer]]`: a GeoJSON layer of owned roads, so reports on them reach the owner.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LineLayerFile {
    pub(crate) id: String,
    pub(crate) file: PathBuf,
    pub(crate) name_property: String,
    pub(crate) owner_property: String,
    #[serde(default)]
    pub(crate) buffer_property: Option<String>,
    pub(crate) default_buffer_m: f64,
}

/// agencies.toml: bodies outside the city that reports are referred to.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgenciesFile {
    #[serde(default)]
    pub(crate) agency: Vec<Agency>,
}

/// departments.toml: the city's own departments that reports are assigned to.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DepartmentsFile {
    #[serde(default)]
    pub(crate) department: Vec<Department>,
}

/// services.toml: what residents can report.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServicesFile {
    #[serde(default)]
    pub(crate) service: Vec<Service>,
}

/// Reads a TOML file into its shape; a misspelt or unknown field is a fault naming the file.
pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = read_text(path)?;
    toml::from_str(&text).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        entry: None,
        field: None,
        message: e.to_string().trim().replace('\n', " "),
    })
}

/// Reads a file whole, so a missing or unreadable file is a fault naming it.
pub(crate) fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        entry: None,
        field: None,
        message: format!("cannot be read: {e}"),
    })
}

/// One TOML file of the folder, with the path its faults name.
pub(crate) struct Toml<T> {
    pub(crate) path: PathBuf,
    pub(crate) content: T,
}

/// The city folder's TOML files, read in the order a fault in them is reported.
pub(crate) struct CityFolder {
    pub(crate) city: Toml<CityFile>,
    pub(crate) departments: Toml<Vec<Department>>,
    pub(crate) agencies: Toml<Vec<Agency>>,
    pub(crate) services: Toml<Vec<Service>>,
    pub(crate) routing: Toml<RoutingFile>,
}

impl CityFolder {
    /// Reads city.toml, departments.toml, agencies.toml (if the city refers to any), services.toml and routing.toml.
    pub(crate) fn read(dir: &Path) -> Result<Self, ConfigError> {
        Ok(CityFolder {
            city: read_in(dir, "city.toml", |file: CityFile| file)?,
            departments: read_in(dir, "departments.toml", |file: DepartmentsFile| {
                file.department
            })?,
            agencies: read_agencies(dir)?,
            services: read_in(dir, "services.toml", |file: ServicesFile| file.service)?,
            routing: read_in(dir, "routing.toml", |file: RoutingFile| file)?,
        })
    }
}

fn read_in<F: serde::de::DeserializeOwned, T>(
    dir: &Path,
    name: &str,
    content: impl FnOnce(F) -> T,
) -> Result<Toml<T>, ConfigError> {
    let path = dir.join(name);
    let file = read_toml(&path)?;
    Ok(Toml {
        path,
        content: content(file),
    })
}

fn read_agencies(dir: &Path) -> Result<Toml<Vec<Agency>>, ConfigError> {
    if dir.join("agencies.toml").exists() {
        return read_in(dir, "agencies.toml", |file: AgenciesFile| file.agency);
    }
    Ok(Toml {
        path: dir.join("agencies.toml"),
        content: Vec::new(),
    })
}
