//! A point on the earth that has been checked to be one.

use serde::{Deserialize, Serialize};

use super::Invalid;

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
    fn cell_is_a_seven_character_geohash() {
        let downtown = Location::new(41.7658, -72.6734).unwrap();
        assert_eq!(downtown.cell().len(), 7);
        assert!(downtown.cell().starts_with("drkm"));
    }
}
