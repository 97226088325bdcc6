//! Point layers of a city's assets (streetlights, hydrants, bins): one found by its id, the
//! nearest to a report's point within a distance, those in a box, all by an R-tree, and which
//! asset a report of a service is about.

use std::collections::HashMap;

use rstar::primitives::GeomWithData;
use rstar::{RTree, AABB};
use serde::{Deserialize, Serialize};

use crate::{Invalid, Location, Service};

/// Metres in a degree of latitude, near enough for distances of metres within a city.
const METRES_PER_DEGREE: f64 = 111_320.0;

/// The Open311 attribute code (`attribute[asset_id]`) and web field (`asset_id`) a client names
/// the asset of its report with. No service may ask an attribute of this code.
pub const ASSET_ATTRIBUTE: &str = "asset_id";

/// One asset of a layer: a streetlight, a hydrant.
#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    pub id: String,
    /// What residents may read on it (a pole number, "Main St at Pearl St"), when the layer has one.
    pub label: Option<String>,
    pub location: Location,
}

/// The asset a request is about: its layer and its id there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AssetRef {
    pub layer: String,
    pub id: String,
}

/// Two assets of a layer with the same id, by their indexes in the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedAssetId {
    pub id: String,
    pub first: usize,
    pub second: usize,
}

/// A point in the layer's plane: metres east and north, by an equirectangular projection at
/// the layer's mean latitude (good to a fraction of a percent across a city).
type Projected = GeomWithData<[f64; 2], u32>;

/// A city's point layer of assets, indexed for look-ups by id, by nearness and by box.
pub struct AssetLayer {
    pub id: String,
    assets: Vec<Asset>,
    by_id: HashMap<String, u32>,
    tree: RTree<Projected>,
    /// Metres per degree of longitude at the layer's mean latitude.
    metres_x: f64,
}

impl std::fmt::Debug for AssetLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssetLayer")
            .field("id", &self.id)
            .field("assets", &self.assets.len())
            .finish()
    }
}

impl AssetLayer {
    /// Indexes `assets`; every id must be unique in the layer (the first repeat is refused,
    /// naming both assets' indexes).
    pub fn new(id: impl Into<String>, assets: Vec<Asset>) -> Result<Self, RepeatedAssetId> {
        let mut by_id = HashMap::with_capacity(assets.len());
        for (index, asset) in assets.iter().enumerate() {
            if let Some(first) = by_id.insert(asset.id.clone(), index as u32) {
                return Err(RepeatedAssetId {
                    id: asset.id.clone(),
                    first: first as usize,
                    second: index,
                });
            }
        }
        let mean_lat = if assets.is_empty() {
            0.0
        } else {
            assets.iter().map(|a| a.location.lat()).sum::<f64>() / assets.len() as f64
        };
        let metres_x = METRES_PER_DEGREE * mean_lat.to_radians().cos().max(0.01);
        let points = assets
            .iter()
            .enumerate()
            .map(|(i, a)| {
                GeomWithData::new(
                    [
                        a.location.long() * metres_x,
                        a.location.lat() * METRES_PER_DEGREE,
                    ],
                    i as u32,
                )
            })
            .collect();
        Ok(AssetLayer {
            id: id.into(),
            assets,
            by_id,
            tree: RTree::bulk_load(points),
            metres_x,
        })
    }

    fn project(&self, at: Location) -> [f64; 2] {
        [at.long() * self.metres_x, at.lat() * METRES_PER_DEGREE]
    }

    pub fn len(&self) -> usize {
        self.assets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// The asset of this id.
    pub fn get(&self, id: &str) -> Option<&Asset> {
        self.by_id.get(id).map(|&i| &self.assets[i as usize])
    }

    /// The asset nearest `at` if it lies within `within_m` metres, with its distance.
    /// A finite distance is a bounded search: only the tree's nodes that reach within it are
    /// visited, and the nearest of the few assets there is taken (ties to the first in the layer).
    pub fn nearest_within(&self, at: Location, within_m: f64) -> Option<(&Asset, f64)> {
        let here = self.project(at);
        let distance_2 = |p: &GeomWithData<[f64; 2], u32>| {
            let [x, y] = *p.geom();
            (x - here[0]).powi(2) + (y - here[1]).powi(2)
        };
        let found = if within_m.is_finite() {
            self.tree
                .locate_within_distance(here, within_m * within_m)
                .map(|p| (distance_2(p), p.data))
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))?
        } else {
            let p = self.tree.nearest_neighbor(&here)?;
            (distance_2(p), p.data)
        };
        let distance = found.0.sqrt();
        (distance <= within_m).then(|| (&self.assets[found.1 as usize], distance))
    }

    /// Up to `limit` assets within `within_m` metres of `at`, nearest first, with their distances.
    pub fn near(&self, at: Location, within_m: f64, limit: usize) -> Vec<(&Asset, f64)> {
        let here = self.project(at);
        self.tree
            .nearest_neighbor_iter_with_distance_2(&here)
            .take_while(|(_, d2)| *d2 <= within_m * within_m)
            .take(limit)
            .map(|(p, d2)| (&self.assets[p.data as usize], d2.sqrt()))
            .collect()
    }

    /// Up to `limit` assets inside the box from south-west to north-east corner, in layer order.
    pub fn in_box(&self, south_west: Location, north_east: Location, limit: usize) -> Vec<&Asset> {
        let envelope = AABB::from_corners(self.project(south_west), self.project(north_east));
        let mut found: Vec<u32> = self
            .tree
            .locate_in_envelope(&envelope)
            .map(|p| p.data)
            .collect();
        found.sort_unstable();
        found
            .into_iter()
            .take(limit)
            .map(|i| &self.assets[i as usize])
            .collect()
    }
}

/// services.toml `assets`: the layer a service's reports are about an asset of, and how far
/// from a report's point its nearest asset is taken when the reporter names none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAssets {
    /// The id of a routing.toml `[[asset_layer]]`.
    pub layer: String,
    /// Metres; 0 takes only an asset the reporter names.
    pub snap_m: f64,
}

/// Which asset a report of `service` at `at` is about: the one the reporter named (`sent`),
/// which must be in the service's layer, or else the nearest within the service's snap
/// distance, or none. `layer` is the service's asset layer (`None` when it names none).
pub fn asset_of_report(
    service: &Service,
    layer: Option<&AssetLayer>,
    sent: Option<&str>,
    at: Location,
) -> Result<Option<AssetRef>, Invalid> {
    let sent = sent.map(str::trim).filter(|id| !id.is_empty());
    let (Some(assets), Some(layer)) = (&service.assets, layer) else {
        return match sent {
            Some(_) => Err(Invalid::field(
                ASSET_ATTRIBUTE,
                format!(
                    "service `{}` is not about an asset of the city's; send no asset_id",
                    service.code
                ),
            )
            .with_code("unknown_asset")),
            None => Ok(None),
        };
    };
    let found = match sent {
        Some(id) => Some(layer.get(id).ok_or_else(|| {
            Invalid::field(
                ASSET_ATTRIBUTE,
                format!(
                    "`{}` is not an asset of layer `{}`; GET /api/v1/services/{}/assets lists them",
                    crate::text::echo(id),
                    layer.id,
                    service.code
                ),
            )
            .with_code("unknown_asset")
        })?),
        None => layer.nearest_within(at, assets.snap_m).map(|(a, _)| a),
    };
    Ok(found.map(|asset| AssetRef {
        layer: layer.id.clone(),
        id: asset.id.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(id: &str, lat: f64, long: f64) -> Asset {
        Asset {
            id: id.into(),
            label: None,
            location: Location::new(lat, long).unwrap(),
        }
    }

    /// Three lights along a street at 41.76 N: SL-1 at -72.680, SL-2 100 m east, SL-3 200 m east.
    fn street() -> AssetLayer {
        let step = 100.0 / (METRES_PER_DEGREE * 41.76f64.to_radians().cos());
        AssetLayer::new(
            "streetlights",
            vec![
                asset("SL-1", 41.76, -72.680),
                asset("SL-2", 41.76, -72.680 + step),
                asset("SL-3", 41.76, -72.680 + 2.0 * step),
            ],
        )
        .unwrap()
    }

    fn at(lat: f64, long: f64) -> Location {
        Location::new(lat, long).unwrap()
    }

    #[test]
    fn the_nearest_asset_is_taken_only_within_the_distance() {
        let layer = street();
        // 10 m north of SL-1
        let north = at(41.76 + 10.0 / METRES_PER_DEGREE, -72.680);
        let (found, distance) = layer.nearest_within(north, 30.0).unwrap();
        assert_eq!(found.id, "SL-1");
        assert!((distance - 10.0).abs() < 0.1, "{distance}");
        assert!(layer.nearest_within(north, 5.0).is_none());
        // 60 m east of SL-1 is 40 m from SL-2
        let east = 60.0 / (METRES_PER_DEGREE * 41.76f64.to_radians().cos());
        let (found, distance) = layer
            .nearest_within(at(41.76, -72.680 + east), 50.0)
            .unwrap();
        assert_eq!(found.id, "SL-2");
        assert!((distance - 40.0).abs() < 0.5, "{distance}");
    }

    #[test]
    fn the_bounded_search_finds_what_a_scan_of_every_asset_finds() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(7);
        let mut random = || {
            at(
                41.75 + rng.gen::<f64>() * 0.01,
                -72.69 + rng.gen::<f64>() * 0.01,
            )
        };
        let assets: Vec<Asset> = (0..2_000)
            .map(|i| Asset {
                id: format!("A{i}"),
                label: None,
                location: random(),
            })
            .collect();
        let layer = AssetLayer::new("random", assets.clone()).unwrap();
        for _ in 0..2_000 {
            let here = random();
            let [hx, hy] = layer.project(here);
            let scanned = assets
                .iter()
                .map(|a| {
                    let [x, y] = layer.project(a.location);
                    (((x - hx).powi(2) + (y - hy).powi(2)).sqrt(), a)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .unwrap();
            for within in [5.0, 20.0, 60.0, f64::INFINITY] {
                let found = layer.nearest_within(here, within);
                if scanned.0 <= within {
                    let (asset, distance) = found.unwrap();
                    assert!(
                        (distance - scanned.0).abs() < 1e-9,
                        "{distance} {}",
                        scanned.0
                    );
                    assert_eq!(asset.id, scanned.1.id);
                } else {
                    assert!(found.is_none(), "nothing lies within {within} m");
                }
            }
        }
    }

    #[test]
    fn assets_near_come_nearest_first_and_a_box_holds_its_own() {
        let layer = street();
        let near: Vec<&str> = layer
            .near(at(41.76, -72.6799), 150.0, 10)
            .iter()
            .map(|(a, _)| a.id.as_str())
            .collect();
        assert_eq!(near, ["SL-1", "SL-2"]);
        assert_eq!(layer.near(at(41.76, -72.6799), 1000.0, 1).len(), 1);
        let boxed: Vec<&str> = layer
            .in_box(at(41.759, -72.6805), at(41.761, -72.6795), 10)
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(boxed, ["SL-1"]);
        assert_eq!(layer.get("SL-3").unwrap().id, "SL-3");
        assert!(layer.get("SL-4").is_none());
    }

    #[test]
    fn a_repeated_id_names_both_assets() {
        let err = AssetLayer::new(
            "hydrants",
            vec![
                asset("H-1", 41.76, -72.68),
                asset("H-2", 41.77, -72.68),
                asset("H-1", 41.78, -72.68),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err,
            RepeatedAssetId {
                id: "H-1".into(),
                first: 0,
                second: 2
            }
        );
    }

    fn streetlight_service(snap_m: f64) -> Service {
        let mut service = crate::city::tests::test_city().services.remove(0);
        service.code = "streetlight".into();
        service.assets = Some(ServiceAssets {
            layer: "streetlights".into(),
            snap_m,
        });
        service
    }

    #[test]
    fn a_report_names_its_asset_or_is_snapped_to_the_nearest() {
        let layer = street();
        let service = streetlight_service(25.0);
        let near_sl2 = at(
            41.76 + 20.0 / METRES_PER_DEGREE,
            layer.get("SL-2").unwrap().location.long(),
        );
        let sl = |id: &str| {
            Some(AssetRef {
                layer: "streetlights".into(),
                id: id.into(),
            })
        };
        assert_eq!(
            asset_of_report(&service, Some(&layer), Some(" SL-3 "), near_sl2),
            Ok(sl("SL-3")),
            "the one named, wherever the point"
        );
        assert_eq!(
            asset_of_report(&service, Some(&layer), None, near_sl2),
            Ok(sl("SL-2"))
        );
        assert_eq!(
            asset_of_report(&streetlight_service(10.0), Some(&layer), Some(""), near_sl2),
            Ok(None),
            "nothing within 10 m"
        );
        let err = asset_of_report(&service, Some(&layer), Some("SL-9"), near_sl2).unwrap_err();
        assert_eq!(err.code, "unknown_asset");
        assert_eq!(err.field.as_deref(), Some("asset_id"));
        assert!(
            err.message
                .contains("`SL-9` is not an asset of layer `streetlights`"),
            "{err}"
        );
    }

    #[test]
    fn a_service_without_assets_refuses_an_asset_id_and_snaps_nothing() {
        let service = crate::city::tests::test_city().services.remove(0);
        let layer = street();
        assert_eq!(
            asset_of_report(&service, None, None, at(41.76, -72.68)),
            Ok(None)
        );
        let err =
            asset_of_report(&service, Some(&layer), Some("SL-1"), at(41.76, -72.68)).unwrap_err();
        assert_eq!(err.code, "unknown_asset");
    }
}
