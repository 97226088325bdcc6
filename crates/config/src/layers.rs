//! One loader per layer of the city's places: the boundary, area layers, neighbours, road lines, addresses.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use geo::{Area as _, BooleanOps, Intersects, LineString, MultiPolygon};

use cityfix_domain::areas::{AreaIndex, LineIndex};
use cityfix_domain::city::{AreaLayer, LineLayer};
use cityfix_domain::{AddressPoint, Agency, Area, Location, OwnedLine};

use crate::checks::{is_slug, AreaNames};
use crate::features::{feature_fault, read_features, to_coord, Properties};
use crate::files::{AreaLayerFile, LineLayerFile, NeighboursFile, RoutingFile};
use crate::layer_faults::{check_area_layer, RepairedLayer};
use crate::layer_file::LayerSource;
use crate::{ConfigError, LayerNotes};

/// Reads a GeoJSON FeatureCollection of Polygon / MultiPolygon features, each named by
/// `name_property`, with every feature's other properties. Shapes that are not valid polygons
/// are repaired (see [`crate::check_area_layer`]); a layer with a fault repair cannot mend is
/// refused with the first such fault.
pub fn read_area_layer(path: &Path, name_property: &str) -> Result<RepairedLayer, ConfigError> {
    check_area_layer(path, name_property)?.into_areas()
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
    read_line_layer(path, &layer).map(|(lines, _)| lines)
}

/// A line layer's lines, and what its file was read as.
fn read_line_layer(
    path: &Path,
    layer: &LineLayerFile,
) -> Result<(Vec<OwnedLine>, LayerSource), ConfigError> {
    let mut lines = Vec::new();
    let (features, source) = read_features(path, &layer.name_property)?;
    for (name, feature) in features {
        let owner = line_owner(path, layer, &name, &feature)?;
        let buffer_m = line_buffer_m(path, layer, &name, &feature)?;
        for shape in line_shapes(path, &name, &feature)? {
            lines.push(OwnedLine {
                name: name.clone(),
                owner: owner.clone(),
                buffer_m,
                shape,
            });
        }
    }
    Ok((lines, source))
}

fn line_owner(
    path: &Path,
    layer: &LineLayerFile,
    name: &str,
    feature: &geojson::Feature,
) -> Result<String, ConfigError> {
    feature
        .property(&layer.owner_property)
        .and_then(|v| v.as_str())
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .ok_or_else(|| ConfigError {
            file: path.into(),
            entry: Some(format!("feature `{name}`")),
            field: Some(layer.owner_property.clone()),
            message: "every line needs an owner".into(),
        })
}

fn line_buffer_m(
    path: &Path,
    layer: &LineLayerFile,
    name: &str,
    feature: &geojson::Feature,
) -> Result<f64, ConfigError> {
    let Some((key, value)) = layer
        .buffer_property
        .as_deref()
        .and_then(|key| feature.property(key).map(|v| (key, v)))
    else {
        return Ok(layer.default_buffer_m);
    };
    value
        .as_f64()
        .filter(|b| (0.0..=500.0).contains(b))
        .ok_or_else(|| ConfigError {
            file: path.into(),
            entry: Some(format!("feature `{name}`")),
            field: Some(key.into()),
            message: "the buffer must be a number of metres between 0 and 500".into(),
        })
}

fn line_shapes(
    path: &Path,
    name: &str,
    feature: &geojson::Feature,
) -> Result<Vec<LineString<f64>>, ConfigError> {
    let geometry = feature
        .geometry
        .as_ref()
        .ok_or_else(|| feature_fault(path, name, "the feature has no geometry"))?;
    let parts = match &geometry.value {
        geojson::Value::LineString(positions) => vec![positions.clone()],
        geojson::Value::MultiLineString(parts) => parts.clone(),
        other => {
            return Err(feature_fault(
                path,
                name,
                &format!(
                    "is a {}, not a LineString or MultiLineString",
                    other.type_name()
                ),
            ))
        }
    };
    let mut shapes = Vec::with_capacity(parts.len());
    for positions in parts {
        if positions.len() < 2 {
            return Err(feature_fault(
                path,
                name,
                "a line needs at least two positions",
            ));
        }
        let coords = positions
            .iter()
            .map(|p| to_coord(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| feature_fault(path, name, &m))?;
        shapes.push(LineString(coords));
    }
    Ok(shapes)
}

/// The city boundary: its areas for the index of places, and their union to tell what lies inside.
pub(crate) struct Boundary {
    pub(crate) areas: Vec<Area>,
    pub(crate) shape: MultiPolygon<f64>,
}

/// Reads routing.toml's `boundary` layer, whose features are named by `name`.
pub(crate) fn load_boundary(
    dir: &Path,
    routing: &RoutingFile,
    notes: &mut LayerNotes,
) -> Result<Boundary, ConfigError> {
    let path = dir.join(&routing.boundary);
    let layer = read_area_layer(&path, "name")?;
    notes.layer(&path, &layer.source, layer.repairs);
    let areas: Vec<Area> = layer.areas.into_iter().map(|(area, _)| area).collect();
    let shape = MultiPolygon(areas.iter().flat_map(|area| area.shape.0.clone()).collect());
    Ok(Boundary { areas, shape })
}

fn routing_fault(path: &Path, entry: Option<String>, field: &str, message: &str) -> ConfigError {
    ConfigError {
        file: path.to_path_buf(),
        entry,
        field: Some(field.to_string()),
        message: message.into(),
    }
}

/// Reads the area layers services route by, with each layer's area names to check the services.
pub(crate) fn load_area_layers(
    dir: &Path,
    routing_path: &Path,
    layers: &[AreaLayerFile],
    boundary: &MultiPolygon<f64>,
    notes: &mut LayerNotes,
) -> Result<(Vec<AreaLayer>, AreaNames), ConfigError> {
    if layers.is_empty() {
        return Err(routing_fault(
            routing_path,
            None,
            "area_layer",
            "at least one area layer (the neighbourhoods) is needed",
        ));
    }
    let mut loaded = Vec::new();
    let mut names = AreaNames::new();
    for layer in layers {
        if !is_slug(&layer.id, '-') || names.contains_key(&layer.id) {
            return Err(routing_fault(
                routing_path,
                Some(format!("area_layer `{}`", layer.id)),
                "id",
                "layer ids must be unique and made of a-z, 0-9 and -",
            ));
        }
        let areas = load_area_layer(dir, layer, boundary, notes)?;
        names.insert(
            layer.id.clone(),
            areas.iter().map(|a| a.name.clone()).collect(),
        );
        loaded.push(AreaLayer {
            id: layer.id.clone(),
            index: AreaIndex::build(&areas),
        });
    }
    Ok((loaded, names))
}

/// One area layer's areas, sorted by name, each reaching into the boundary and, in a partition,
/// not overlapping (slivers given to one side).
fn load_area_layer(
    dir: &Path,
    layer: &AreaLayerFile,
    boundary: &MultiPolygon<f64>,
    notes: &mut LayerNotes,
) -> Result<Vec<Area>, ConfigError> {
    let path = dir.join(&layer.file);
    let mut checked = check_area_layer(&path, &layer.name_property)?;
    checked.check_within(boundary);
    if layer.partition {
        checked.resolve_partition();
    }
    let loaded = checked.into_areas()?;
    notes.layer(&path, &loaded.source, loaded.repairs);
    let mut areas: Vec<Area> = loaded.areas.into_iter().map(|(area, _)| area).collect();
    areas.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(areas)
}

/// The neighbouring towns, outside the boundary, with the agency each town's reports are referred to.
pub(crate) fn load_neighbours(
    dir: &Path,
    file: &NeighboursFile,
    agencies: &[Agency],
    boundary: &MultiPolygon<f64>,
    notes: &mut LayerNotes,
) -> Result<(AreaIndex, Vec<String>), ConfigError> {
    let path = dir.join(&file.file);
    let mut checked = check_area_layer(&path, &file.name_property)?;
    checked.resolve_partition();
    let loaded = checked.into_areas()?;
    notes.layer(&path, &loaded.source, loaded.repairs);
    let mut towns = Vec::new();
    for (area, properties) in loaded.areas {
        let agency = neighbour_agency(&path, file, &area, &properties, agencies)?;
        let inside: f64 = area.shape.intersection(boundary).unsigned_area();
        if inside > 0.01 * area.shape.unsigned_area() {
            return Err(feature_fault(&path, &area.name, "a neighbouring jurisdiction must lie outside the city boundary, but this one overlaps it"));
        }
        towns.push((area, agency));
    }
    let areas: Vec<Area> = towns.iter().map(|(area, _)| area.clone()).collect();
    Ok((
        AreaIndex::build(&areas),
        towns.into_iter().map(|(_, agency)| agency).collect(),
    ))
}

fn neighbour_agency(
    path: &Path,
    file: &NeighboursFile,
    town: &Area,
    properties: &Properties,
    agencies: &[Agency],
) -> Result<String, ConfigError> {
    let agency = properties
        .get(&file.agency_property)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    if agencies.iter().any(|a| a.id == agency) {
        return Ok(agency);
    }
    Err(ConfigError {
        file: path.to_path_buf(),
        entry: Some(format!("feature `{}`", town.name)),
        field: Some(file.agency_property.clone()),
        message: format!("`{agency}` is not an agency in agencies.toml"),
    })
}

/// Reads the line layers of owned roads, each line crossing the boundary.
pub(crate) fn load_line_layers(
    dir: &Path,
    routing_path: &Path,
    layers: &[LineLayerFile],
    boundary: &MultiPolygon<f64>,
    notes: &mut LayerNotes,
) -> Result<Vec<LineLayer>, ConfigError> {
    let mut loaded = Vec::new();
    for layer in layers {
        let path = dir.join(&layer.file);
        if !(0.0..=500.0).contains(&layer.default_buffer_m) {
            return Err(routing_fault(
                routing_path,
                Some(format!("line_layer `{}`", layer.id)),
                "default_buffer_m",
                "must be between 0 and 500 metres",
            ));
        }
        let (owned, source) = read_line_layer(&path, layer)?;
        notes.layer(&path, &source, Vec::new());
        for line in &owned {
            if !line.shape.intersects(boundary) {
                return Err(feature_fault(
                    &path,
                    &line.name,
                    "does not cross the city boundary; are longitude and latitude swapped?",
                ));
            }
        }
        loaded.push(LineLayer {
            id: layer.id.clone(),
            index: LineIndex::build(&owned),
            lines: owned,
        });
    }
    Ok(loaded)
}

/// Reads the address points: `number,street,lat,long`, each point in the world, no address twice.
fn read_addresses(path: &Path) -> Result<Vec<AddressPoint>, ConfigError> {
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
            address_fault(
                path,
                line.clone(),
                None,
                format!("is not `number,street,lat,long`: {e}"),
            )
        })?;
        check_address(path, line, &point, &mut seen)?;
        points.push(point);
    }
    Ok(points)
}

fn address_fault(path: &Path, line: String, field: Option<&str>, message: String) -> ConfigError {
    ConfigError {
        file: path.into(),
        entry: Some(line),
        field: field.map(str::to_string),
        message,
    }
}

fn check_address(
    path: &Path,
    line: String,
    point: &AddressPoint,
    seen: &mut BTreeSet<(String, String)>,
) -> Result<(), ConfigError> {
    if let Err(invalid) = Location::new(point.lat, point.long) {
        return Err(address_fault(
            path,
            line,
            invalid.field.as_deref(),
            invalid.message,
        ));
    }
    if point.number.trim().is_empty() || point.street.trim().is_empty() {
        return Err(address_fault(
            path,
            line,
            Some("street"),
            "number and street must not be empty".into(),
        ));
    }
    if !seen.insert((
        point.number.to_uppercase(),
        cityfix_domain::addresses::normalise_street(&point.street),
    )) {
        return Err(address_fault(
            path,
            line,
            Some("number"),
            format!("{} is listed twice", point.label()),
        ));
    }
    Ok(())
}

/// The addresses file named in routing.toml, if any, for geocoding.
pub(crate) fn load_addresses(
    dir: &Path,
    addresses: Option<&PathBuf>,
) -> Result<Vec<AddressPoint>, ConfigError> {
    match addresses {
        Some(file) => read_addresses(&dir.join(file)),
        None => Ok(Vec::new()),
    }
}
