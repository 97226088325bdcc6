//! A point on the earth that has been checked to be one.

use serde::{Deserialize, Serialize};

use crate::Invalid;

/// Precision of the location cell used for "nearby" and duplicate look-ups: 7 characters is a
/// cell of about 150 m × 150 m.
pub const CELL_PRECISION: usize = 7;

/// A WGS84 point. Can only be built with coordinates inside the world's ranges.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Location {
    lat: f64,
    long: f64,
}

impl Location {
    pub fn new(lat: f64, long: f64) -> Result<Self, Invalid> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(Invalid::field(
                "lat",
                "lat must be a number between -90 and 90",
            ));
        }
        if !long.is_finite() || !(-180.0..=180.0).contains(&long) {
            return Err(Invalid::field(
                "long",
                "long must be a number between -180 and 180",
            ));
        }
        Ok(Location { lat, long })
    }

    pub fn lat(&self) -> f64 {
        self.lat
    }

    pub fn long(&self) -> f64 {
        self.long
    }

    /// The geohash cell this point falls in, the key of the location index.
    pub fn cell(&self) -> String {
        geohash::encode(
            geohash::Coord {
                x: self.long,
                y: self.lat,
            },
            CELL_PRECISION,
        )
        .expect("coordinates were range-checked at construction")
    }

    /// The location cells (geohash prefixes) that together cover a circle of `radius_m` around
    /// this point, at the finest precision whose cells are at least `radius_m` across: the point's
    /// own cell and those of its eight neighbours that the circle's bounding box reaches (often
    /// one to four, so a search reads that many cells, not nine). Stored cells start with one of them.
    pub fn cells_covering(&self, radius_m: f64) -> Vec<String> {
        // Narrowest side of a cell at each precision, in metres at this latitude.
        let narrowest = |precision: usize| {
            let (lon_bits, lat_bits) = ((5 * precision).div_ceil(2), (5 * precision) / 2);
            let lon_m =
                360.0 / f64::from(1u32 << lon_bits) * 111_320.0 * self.lat.to_radians().cos();
            let lat_m = 180.0 / f64::from(1u32 << lat_bits) * 111_320.0;
            lon_m.min(lat_m)
        };
        let precision = (1..=CELL_PRECISION)
            .rev()
            .find(|&p| narrowest(p) >= radius_m)
            .unwrap_or(1);
        let centre = geohash::encode(
            geohash::Coord {
                x: self.long,
                y: self.lat,
            },
            precision,
        )
        .expect("coordinates were range-checked at construction");
        // The circle's bounding box, a little wider than the equirectangular estimate.
        let lat_r = radius_m * 1.01 / 111_320.0;
        let long_r = radius_m * 1.01 / (111_320.0 * self.lat.to_radians().cos().max(0.01));
        let reaches = |cell: &String| {
            geohash::decode_bbox(cell).is_ok_and(|rect| {
                rect.min().y <= self.lat + lat_r
                    && rect.max().y >= self.lat - lat_r
                    && rect.min().x <= self.long + long_r
                    && rect.max().x >= self.long - long_r
            })
        };
        let mut cells = vec![centre.clone()];
        if let Ok(around) = geohash::neighbors(&centre) {
            cells.extend(
                [
                    around.n, around.ne, around.e, around.se, around.s, around.sw, around.w,
                    around.nw,
                ]
                .into_iter()
                .filter(reaches),
            );
        }
        cells.sort();
        cells.dedup();
        cells
    }

    pub fn to_point(self) -> geo::Point<f64> {
        geo::Point::new(self.long, self.lat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_coordinates_outside_the_world() {
        assert_eq!(
            Location::new(95.0, 0.0).unwrap_err().field.as_deref(),
            Some("lat")
        );
        assert_eq!(
            Location::new(0.0, -181.0).unwrap_err().field.as_deref(),
            Some("long")
        );
        assert!(Location::new(f64::NAN, 0.0).is_err());
        assert!(Location::new(90.0, 180.0).is_ok());
    }

    #[test]
    fn the_covering_cells_hold_every_point_of_the_circle() {
        let centre = Location::new(41.7677, -72.67602).unwrap();
        for radius_m in [10.0, 50.0, 150.0, 600.0, 2000.0] {
            let cells = centre.cells_covering(radius_m);
            assert!((1..=9).contains(&cells.len()), "{radius_m}: {cells:?}");
            for step in 0..36 {
                let angle = f64::from(step) * 10f64.to_radians();
                let lat = centre.lat() + radius_m * angle.sin() / 111_320.0;
                let long = centre.long()
                    + radius_m * angle.cos() / (111_320.0 * centre.lat().to_radians().cos());
                let cell = Location::new(lat, long).unwrap().cell();
                assert!(
                    cells.iter().any(|prefix| cell.starts_with(prefix.as_str())),
                    "{radius_m} m at {step}: {cell} not in {cells:?}"
                );
            }
        }
        assert_eq!(centre.cells_covering(50.0)[0].len(), 7);
        // a small circle in the middle of its cell needs that cell alone
        let (middle, _, _) = geohash::decode(&centre.cell()).unwrap();
        let middle = Location::new(middle.y, middle.x).unwrap();
        assert_eq!(middle.cells_covering(10.0), [middle.cell()]);
        assert_eq!(centre.cells_covering(600.0)[0].len(), 6);
        assert_eq!(centre.cells_covering(700.0)[0].len(), 5);
    }

    #[test]
    fn the_fewer_cells_still_cover_circles_anywhere_in_a_cell() {
        // centres on a fine grid across several cells, so some sit by edges and corners
        for i in 0..40 {
            for j in 0..40 {
                let centre = Location::new(
                    41.76 + f64::from(i) * 0.00011,
                    -72.68 + f64::from(j) * 0.00013,
                )
                .unwrap();
                let cells = centre.cells_covering(50.0);
                for step in 0..72 {
                    let angle = f64::from(step) * 5f64.to_radians();
                    let lat = centre.lat() + 50.0 * angle.sin() / 111_320.0;
                    let long = centre.long()
                        + 50.0 * angle.cos() / (111_320.0 * centre.lat().to_radians().cos());
                    let cell = Location::new(lat, long).unwrap().cell();
                    assert!(
                        cells.iter().any(|prefix| cell.starts_with(prefix.as_str())),
                        "{centre:?}: {cell} not in {cells:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn cell_is_a_seven_character_geohash() {
        let downtown = Location::new(41.7658, -72.6734).unwrap();
        assert_eq!(downtown.cell().len(), 7);
        assert!(downtown.cell().starts_with("drkm"));
    }
}
