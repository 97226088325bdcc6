//! Checking an area layer feature by feature: each fault with the feature, its kind, its coordinate, and what cityfix does about it.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use geo::{
    unary_union, Area as _, BooleanOps, BoundingRect, Coord, Distance, Euclidean, InteriorPoint,
    Intersects, MapCoords, MultiPolygon, Orient, Polygon,
};

use cityfix_domain::Area;

use crate::features::{to_multipolygon, Properties};
use crate::layer_file::{read_layer_features, LayerFeatures, LayerSource};
use crate::repair::diagnose;
use crate::ConfigError;

/// Overlap between two areas of a partition layer, in square metres, above which it is a fault
/// repair does not touch: real boundaries traced twice overlap by slivers (88 m² at most in
/// Hartford's neighbourhoods); an area drawn over another overlaps by far more. Gaps enclosed by
/// a partition layer up to this size are slivers too.
pub const SLIVER_MAX_M2: f64 = 1000.0;

/// Overlaps and gaps smaller than this are the rounding of shared edges, not slivers: they are
/// neither reported nor changed (a point there goes to the first area by name, as a repaired
/// sliver would).
pub const ROUNDING_M2: f64 = 1.0;

/// Two shapes closer than this, in degrees (about a centimetre), border each other.
const BORDER_DEGREES: f64 = 1e-7;

/// What is wrong with a feature of an area layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    SelfCrossing,
    SelfTouch,
    Spike,
    CollapsedRing,
    HoleOutsideShell,
    HoleCrossesRing,
    NestedShells,
    OverlappingParts,
    PartsShareEdge,
    Overlap,
    Gap,
    NoName,
    RepeatedName,
    NoGeometry,
    NotAnArea,
    MalformedRing,
    NothingLeft,
    LargeOverlap,
    OutsideCity,
    Swapped,
}

impl FaultKind {
    /// The fault in a GIS officer's words.
    pub fn label(self) -> &'static str {
        match self {
            FaultKind::SelfCrossing => "a ring crosses itself (bow-tie)",
            FaultKind::SelfTouch => "a ring touches itself",
            FaultKind::Spike => "a spike (the ring runs out and straight back)",
            FaultKind::CollapsedRing => "a ring encloses nothing",
            FaultKind::HoleOutsideShell => "a hole lies outside its outer ring",
            FaultKind::HoleCrossesRing => "a hole crosses or touches another ring along a line",
            FaultKind::NestedShells => "one part lies inside another (nested shells)",
            FaultKind::OverlappingParts => "two parts overlap",
            FaultKind::PartsShareEdge => "two parts share an edge",
            FaultKind::Overlap => "a sliver of overlap with a neighbour",
            FaultKind::Gap => "a sliver of gap between neighbours",
            FaultKind::NoName => "no name",
            FaultKind::RepeatedName => "a name another feature has",
            FaultKind::NoGeometry => "no geometry",
            FaultKind::NotAnArea => "not a Polygon or MultiPolygon",
            FaultKind::MalformedRing => "a malformed ring",
            FaultKind::NothingLeft => "no valid polygon is left after repair",
            FaultKind::LargeOverlap => "overlaps a neighbour by more than a sliver",
            FaultKind::OutsideCity => "lies wholly outside the city boundary",
            FaultKind::Swapped => "longitude and latitude are swapped",
        }
    }

    /// What cityfix does about it; `None` when the layer cannot be used until it is fixed.
    pub fn remedy(self) -> Option<&'static str> {
        match self {
            FaultKind::SelfCrossing | FaultKind::SelfTouch => {
                Some("the ring is split into valid polygons by the even-odd rule")
            }
            FaultKind::Spike => Some("the spike is cut off"),
            FaultKind::CollapsedRing => Some("the ring is dropped"),
            FaultKind::HoleOutsideShell | FaultKind::HoleCrossesRing => {
                Some("the polygon becomes its outer ring less its holes")
            }
            FaultKind::NestedShells | FaultKind::OverlappingParts | FaultKind::PartsShareEdge => {
                Some("the parts are merged into their union")
            }
            FaultKind::Overlap => Some("the overlap is given to the area first by name"),
            FaultKind::Gap => Some("the gap is given to the bordering area first by name"),
            _ => None,
        }
    }
}

/// One fault of one feature, or of the layer when `index` is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerFault {
    /// The feature's place in the file, from 0.
    pub index: usize,
    pub name: Option<String>,
    pub kind: FaultKind,
    /// Where it lies, as (longitude, latitude).
    pub at: Option<Coord<f64>>,
    pub detail: String,
}

impl LayerFault {
    pub fn is_repairable(&self) -> bool {
        self.kind.remedy().is_some()
    }

    /// The feature as its layer's staff would find it: by name, or by its place in the file.
    pub fn feature(&self) -> String {
        match &self.name {
            Some(name) => format!("feature `{name}`"),
            None => format!("feature {}", self.index),
        }
    }

    fn to_config_error(&self, path: &Path, name_property: &str) -> ConfigError {
        let field = match self.kind {
            FaultKind::NoName | FaultKind::RepeatedName => name_property,
            _ => "geometry",
        };
        ConfigError {
            file: path.to_path_buf(),
            entry: Some(self.feature()),
            field: Some(field.into()),
            message: self.problem(),
        }
    }

    /// The fault, its detail and where it lies, without the feature.
    pub fn problem(&self) -> String {
        let mut text = self.kind.label().to_string();
        if !self.detail.is_empty() {
            text.push_str(&format!(" ({})", self.detail));
        }
        if let Some(at) = self.at {
            text.push_str(&format!(" at long {:.6}, lat {:.6}", at.x, at.y));
        }
        text
    }
}

impl fmt::Display for LayerFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (index {}): {}: ",
            self.feature(),
            self.index,
            self.problem()
        )?;
        match self.kind.remedy() {
            Some(remedy) => write!(f, "repaired: {remedy}"),
            None => write!(f, "cannot be repaired"),
        }
    }
}

/// Whether a layer can be routed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Usable,
    UsableAfterRepair,
    Unusable,
}

/// A feature that has a name and an area, repaired when it needed it.
#[derive(Debug, Clone)]
pub struct CheckedArea {
    pub index: usize,
    pub area: Area,
    pub properties: Properties,
}

/// An area layer read whole, with every fault found and the areas repaired.
#[derive(Debug, Clone)]
pub struct CheckedLayer {
    pub path: PathBuf,
    /// The format and coordinate system the layer was read from.
    pub source: LayerSource,
    pub name_property: String,
    pub areas: Vec<CheckedArea>,
    pub faults: Vec<LayerFault>,
}

/// The areas of a layer repair made usable, with one fault per repair done.
#[derive(Debug, Clone)]
pub struct RepairedLayer {
    /// The format and coordinate system the layer was read from.
    pub source: LayerSource,
    pub areas: Vec<(Area, Properties)>,
    pub repairs: Vec<LayerFault>,
}

/// Reads an area layer (any format [`read_layer_features`] reads) and checks every feature,
/// repairing what can be repaired. Only a file that cannot be read as a layer at all is an
/// error; every feature's fault is in the result.
pub fn check_area_layer(path: &Path, name_property: &str) -> Result<CheckedLayer, ConfigError> {
    Ok(check_area_features(
        path,
        name_property,
        read_layer_features(path)?,
    ))
}

/// Checks the features read from `path` (by [`read_layer_features`] or another reader) as an
/// area layer, as [`check_area_layer`] does.
pub fn check_area_features(path: &Path, name_property: &str, read: LayerFeatures) -> CheckedLayer {
    let LayerFeatures { features, source } = read;
    let mut layer = CheckedLayer {
        path: path.to_path_buf(),
        source,
        name_property: name_property.to_string(),
        areas: Vec::new(),
        faults: Vec::new(),
    };
    let mut names = BTreeSet::new();
    for (index, feature) in features.into_iter().enumerate() {
        let name = feature
            .property(name_property)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let fault = |kind, at, detail: String| LayerFault {
            index,
            name: name.clone(),
            kind,
            at,
            detail,
        };
        let shape = match feature_shape(&feature) {
            Ok(shape) => shape,
            Err((kind, detail)) => {
                layer.faults.push(fault(kind, None, detail));
                continue;
            }
        };
        let (faults, repaired) = diagnose(&shape);
        for found in faults {
            layer.faults.push(fault(found.kind, found.at, found.detail));
        }
        let Some(shape) = repaired else {
            layer
                .faults
                .push(fault(FaultKind::NothingLeft, None, String::new()));
            continue;
        };
        let Some(name) = name.clone() else {
            layer.faults.push(fault(
                FaultKind::NoName,
                None,
                format!("property `{name_property}`"),
            ));
            continue;
        };
        if !names.insert(name.clone()) {
            layer
                .faults
                .push(fault(FaultKind::RepeatedName, None, String::new()));
            continue;
        }
        layer.areas.push(CheckedArea {
            index,
            area: Area { name, shape },
            properties: feature.properties.unwrap_or_default(),
        });
    }
    layer
}

fn feature_shape(feature: &geojson::Feature) -> Result<MultiPolygon<f64>, (FaultKind, String)> {
    let geometry = feature
        .geometry
        .as_ref()
        .ok_or((FaultKind::NoGeometry, String::new()))?;
    let polygons = match &geometry.value {
        geojson::Value::Polygon(rings) => vec![rings.clone()],
        geojson::Value::MultiPolygon(polygons) => polygons.clone(),
        other => {
            return Err((
                FaultKind::NotAnArea,
                format!("it is a {}", other.type_name()),
            ))
        }
    };
    to_multipolygon(&polygons).map_err(|message| (FaultKind::MalformedRing, message))
}

/// Square metres of a shape in degrees near `latitude`.
fn area_m2(shape: &MultiPolygon<f64>, latitude: f64) -> f64 {
    shape.unsigned_area() * 111_320.0 * 111_320.0 * latitude.to_radians().cos()
}

impl CheckedLayer {
    pub fn verdict(&self) -> Verdict {
        if self.areas.is_empty() || self.faults.iter().any(|f| !f.is_repairable()) {
            Verdict::Unusable
        } else if self.faults.is_empty() {
            Verdict::Usable
        } else {
            Verdict::UsableAfterRepair
        }
    }

    /// For a partition layer: slivers of overlap go to the area first by name, slivers of gap
    /// enclosed by the layer to the bordering area first by name; larger overlaps are faults.
    pub fn resolve_partition(&mut self) {
        let mut order: Vec<usize> = (0..self.areas.len()).collect();
        order.sort_by(|&a, &b| self.areas[a].area.name.cmp(&self.areas[b].area.name));
        self.give_overlaps(&order);
        self.fill_gaps(&order);
    }

    fn give_overlaps(&mut self, order: &[usize]) {
        for (k, &first) in order.iter().enumerate() {
            for &later in &order[k + 1..] {
                let (a, b) = (&self.areas[first], &self.areas[later]);
                let (Some(box_a), Some(box_b)) =
                    (a.area.shape.bounding_rect(), b.area.shape.bounding_rect())
                else {
                    continue;
                };
                if !box_a.intersects(&box_b) {
                    continue;
                }
                let overlap = a.area.shape.intersection(&b.area.shape);
                let m2 = area_m2(&overlap, box_a.center().y);
                if m2 < ROUNDING_M2 {
                    continue;
                }
                let at = overlap.interior_point().map(|p| p.0);
                let (first_name, later_index) = (a.area.name.clone(), b.index);
                if m2 > SLIVER_MAX_M2 {
                    self.faults.push(LayerFault {
                        index: a.index,
                        name: Some(a.area.name.clone()),
                        kind: FaultKind::LargeOverlap,
                        at,
                        detail: format!(
                            "overlaps `{}` by {m2:.0} m²; the areas of this layer must not overlap",
                            b.area.name
                        ),
                    });
                    continue;
                }
                let reduced = b.area.shape.difference(&a.area.shape);
                self.faults.push(LayerFault {
                    index: later_index,
                    name: Some(b.area.name.clone()),
                    kind: FaultKind::Overlap,
                    at,
                    detail: format!("{m2:.0} m² with `{first_name}`, which keeps it"),
                });
                self.areas[later].area.shape = reduced;
            }
        }
    }

    fn fill_gaps(&mut self, order: &[usize]) {
        let polygons: Vec<Polygon<f64>> = self
            .areas
            .iter()
            .flat_map(|a| {
                a.area
                    .shape
                    .0
                    .iter()
                    .map(|p| p.orient(geo::orient::Direction::Default))
            })
            .collect();
        let union = unary_union(&polygons);
        for hole in union.0.iter().flat_map(|p| p.interiors()) {
            let gap = Polygon::new(hole.clone(), Vec::new());
            let Some(bounds) = gap.bounding_rect() else {
                continue;
            };
            let m2 = area_m2(&MultiPolygon(vec![gap.clone()]), bounds.center().y);
            if !(ROUNDING_M2..=SLIVER_MAX_M2).contains(&m2) {
                continue;
            }
            let bordering: Vec<usize> = order
                .iter()
                .copied()
                .filter(|&i| {
                    self.areas[i]
                        .area
                        .shape
                        .0
                        .iter()
                        .any(|part| Euclidean.distance(part, &gap) < BORDER_DEGREES)
                })
                .collect();
            // A small hole in one area alone is that area's own (an enclave), not a gap.
            let [receiver, others @ ..] = bordering.as_slice() else {
                continue;
            };
            if others.is_empty() {
                continue;
            }
            let receiver = *receiver;
            let others: Vec<String> = others
                .iter()
                .map(|&i| format!("`{}`", self.areas[i].area.name))
                .collect();
            let area = &mut self.areas[receiver];
            self.faults.push(LayerFault {
                index: area.index,
                name: Some(area.area.name.clone()),
                kind: FaultKind::Gap,
                at: gap.interior_point().map(|p| p.0),
                detail: format!(
                    "{m2:.0} m² between it and {}, given to it",
                    others.join(", ")
                ),
            });
            area.area.shape = area.area.shape.union(&gap);
        }
    }

    /// Every area must reach into the city; one that lies in it with its coordinates swapped
    /// back was written (latitude, longitude).
    pub fn check_within(&mut self, boundary: &MultiPolygon<f64>) {
        for checked in &self.areas {
            let shape = &checked.area.shape;
            if shape.intersects(boundary) {
                continue;
            }
            let swapped = shape.map_coords(|c| Coord { x: c.y, y: c.x });
            let kind = if swapped.intersects(boundary) {
                FaultKind::Swapped
            } else {
                FaultKind::OutsideCity
            };
            self.faults.push(LayerFault {
                index: checked.index,
                name: Some(checked.area.name.clone()),
                kind,
                at: shape.interior_point().map(|p| p.0),
                detail: String::new(),
            });
        }
    }

    /// The areas, or the first fault repair cannot mend.
    pub fn into_areas(mut self) -> Result<RepairedLayer, ConfigError> {
        self.faults.sort_by_key(|f| f.index);
        if let Some(fault) = self.faults.iter().find(|f| !f.is_repairable()) {
            return Err(fault.to_config_error(&self.path, &self.name_property));
        }
        if self.areas.is_empty() {
            return Err(ConfigError {
                file: self.path,
                entry: None,
                field: Some("features".into()),
                message: "the layer has no features".into(),
            });
        }
        Ok(RepairedLayer {
            source: self.source,
            areas: self
                .areas
                .into_iter()
                .map(|a| (a.area, a.properties))
                .collect(),
            repairs: self.faults,
        })
    }

    /// The repaired layer as a GeoJSON FeatureCollection, features in their order with their
    /// properties, for review in a desktop GIS.
    pub fn to_geojson(&self) -> String {
        let features = self
            .areas
            .iter()
            .map(|a| geojson::Feature {
                bbox: None,
                geometry: Some(geojson::Geometry::new(match a.area.shape.0.as_slice() {
                    [polygon] => geojson::Value::from(polygon),
                    _ => geojson::Value::from(&a.area.shape),
                })),
                id: None,
                properties: Some(a.properties.clone()),
                foreign_members: None,
            })
            .collect();
        geojson::FeatureCollection {
            bbox: None,
            features,
            foreign_members: None,
        }
        .to_string()
    }
}
