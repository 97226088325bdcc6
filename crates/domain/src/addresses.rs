//! The city's address points: a typed address becomes a point, and a point becomes the nearest address.

use std::collections::BTreeMap;

use rstar::{primitives::GeomWithData, RTree};
use serde::{Deserialize, Serialize};

use crate::areas::distance_m;
use crate::Location;

/// One address point of the city's address file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressPoint {
    pub number: String,
    pub street: String,
    pub lat: f64,
    pub long: f64,
}

impl AddressPoint {
    /// How the address is written for people: `550 Main Street`.
    pub fn label(&self) -> String {
        format!("{} {}", self.number, self.street)
    }
}

/// What looking an address up found.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    Found {
        location: Location,
        address: String,
    },
    /// Not an address the city knows; the closest ones it does know, best first.
    NotFound {
        suggestions: Vec<String>,
    },
}

/// Suggestions given with an unknown address.
const SUGGESTIONS: usize = 3;
/// How alike two street names must be (Jaro-Winkler) to suggest one for the other.
const STREET_LIKENESS: f64 = 0.82;

/// The address points, indexed both ways.
pub struct AddressBook {
    points: Vec<AddressPoint>,
    /// Normalised street → (house number as a number, its text, point index), sorted by number.
    streets: BTreeMap<String, Vec<(u32, String, usize)>>,
    /// Points in a local metric-ish projection (x scaled by the cosine of the latitude).
    tree: RTree<GeomWithData<[f64; 2], usize>>,
    x_scale: f64,
}

impl AddressBook {
    pub fn new(points: Vec<AddressPoint>) -> Self {
        let mean_lat = if points.is_empty() {
            0.0
        } else {
            points.iter().map(|p| p.lat).sum::<f64>() / points.len() as f64
        };
        let x_scale = mean_lat.to_radians().cos();
        let mut streets: BTreeMap<String, Vec<(u32, String, usize)>> = BTreeMap::new();
        for (index, point) in points.iter().enumerate() {
            let number = leading_number(&point.number).unwrap_or(0);
            streets
                .entry(normalise_street(&point.street))
                .or_default()
                .push((number, point.number.to_uppercase(), index));
        }
        for numbers in streets.values_mut() {
            numbers.sort();
        }
        let tree = RTree::bulk_load(
            points
                .iter()
                .enumerate()
                .map(|(i, p)| GeomWithData::new([p.long * x_scale, p.lat], i))
                .collect(),
        );
        AddressBook {
            points,
            streets,
            tree,
            x_scale,
        }
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Finds a typed address ("550 main st", "550 Main Street, Hartford CT 06103").
    pub fn locate(&self, typed: &str) -> Lookup {
        let (number, street) = split_address(typed);
        let street = normalise_street(&street);
        if let (Some(number), Some(numbers)) = (&number, self.streets.get(&street)) {
            if let Some((_, _, index)) = numbers.iter().find(|(_, text, _)| text == number) {
                let point = &self.points[*index];
                if let Ok(location) = Location::new(point.lat, point.long) {
                    return Lookup::Found {
                        location,
                        address: point.label(),
                    };
                }
            }
        }
        Lookup::NotFound {
            suggestions: self.suggest(number.as_deref(), &street),
        }
    }

    /// The nearest address point and its distance in metres.
    pub fn nearest(&self, location: Location) -> Option<(String, f64)> {
        let nearest = self
            .tree
            .nearest_neighbor(&[location.long() * self.x_scale, location.lat()])?;
        let point = &self.points[nearest.data];
        let distance = distance_m(location.to_point(), geo::Point::new(point.long, point.lat));
        Some((point.label(), distance))
    }

    /// The closest known addresses: the nearest house numbers on the street, or on streets of a like name.
    fn suggest(&self, number: Option<&str>, street: &str) -> Vec<String> {
        let wanted = number.and_then(leading_number);
        let mut streets: Vec<(f64, &String)> = self
            .streets
            .keys()
            .map(|known| (strsim::jaro_winkler(known, street), known))
            .filter(|(likeness, _)| *likeness >= STREET_LIKENESS)
            .collect();
        streets.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        let mut suggestions = Vec::new();
        for (_, known) in streets.into_iter().take(SUGGESTIONS) {
            let numbers = &self.streets[known];
            let mut by_closeness: Vec<&(u32, String, usize)> = numbers.iter().collect();
            if let Some(wanted) = wanted {
                by_closeness.sort_by_key(|(n, text, _)| (n.abs_diff(wanted), text.clone()));
            }
            for (_, _, index) in by_closeness.into_iter().take(SUGGESTIONS) {
                suggestions.push(self.points[*index].label());
            }
        }
        suggestions.truncate(SUGGESTIONS);
        suggestions
    }
}

/// Splits "550 Main St, Hartford, CT 06103" into ("550", "Main St").
fn split_address(typed: &str) -> (Option<String>, String) {
    let first_part = typed.split(',').next().unwrap_or_default().trim();
    let mut words = first_part.split_whitespace();
    match words.next() {
        Some(word) if word.chars().next().is_some_and(|c| c.is_ascii_digit()) => (
            Some(word.to_uppercase()),
            words.collect::<Vec<_>>().join(" "),
        ),
        Some(word) => (
            None,
            std::iter::once(word)
                .chain(words)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        None => (None, String::new()),
    }
}

fn leading_number(text: &str) -> Option<u32> {
    let digits: String = text.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// A street name in one spelling: upper case, no punctuation, suffixes and directions spelt out.
pub fn normalise_street(street: &str) -> String {
    street
        .to_uppercase()
        .split(|c: char| c.is_whitespace() || c == '.' || c == ',')
        .filter(|word| !word.is_empty())
        .map(|word| match word {
            "ST" | "STR" => "STREET",
            "AVE" | "AV" | "AVENU" => "AVENUE",
            "RD" => "ROAD",
            "BLVD" => "BOULEVARD",
            "DR" => "DRIVE",
            "LN" => "LANE",
            "PL" => "PLACE",
            "TER" | "TERR" => "TERRACE",
            "CT" => "COURT",
            "PKWY" => "PARKWAY",
            "SQ" => "SQUARE",
            "HWY" => "HIGHWAY",
            "N" => "NORTH",
            "S" => "SOUTH",
            "E" => "EAST",
            "W" => "WEST",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> AddressBook {
        let point = |number: &str, street: &str, lat: f64| AddressPoint {
            number: number.into(),
            street: street.into(),
            lat,
            long: -72.6739,
        };
        AddressBook::new(vec![
            point("550", "Main Street", 41.76507),
            point("552", "Main Street", 41.76530),
            point("600", "Main Street", 41.76700),
            point("10", "Maple Avenue", 41.75000),
            point("12", "Park Street", 41.76000),
        ])
    }

    #[test]
    fn typed_addresses_are_found_however_they_are_written() {
        let book = book();
        for typed in [
            "550 Main Street",
            "550 main st",
            "550 MAIN ST.",
            "550 Main St, Hartford, CT 06103",
        ] {
            match book.locate(typed) {
                Lookup::Found { location, address } => {
                    assert_eq!(address, "550 Main Street");
                    assert_eq!(location.lat(), 41.76507);
                }
                other => panic!("{typed}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_unknown_number_suggests_the_nearest_numbers_on_that_street() {
        let Lookup::NotFound { suggestions } = book().locate("551 Main St") else {
            panic!()
        };
        assert_eq!(
            suggestions,
            ["550 Main Street", "552 Main Street", "600 Main Street"]
        );
    }

    #[test]
    fn a_misspelt_street_suggests_the_like_one_and_nonsense_suggests_nothing() {
        let Lookup::NotFound { suggestions } = book().locate("10 Mapel Ave") else {
            panic!()
        };
        assert_eq!(
            suggestions.first().map(String::as_str),
            Some("10 Maple Avenue")
        );
        let Lookup::NotFound { suggestions } = book().locate("1 Nowhere Lane") else {
            panic!()
        };
        assert!(suggestions.is_empty(), "{suggestions:?}");
        assert!(matches!(book().locate(""), Lookup::NotFound { .. }));
    }

    #[test]
    fn a_point_has_a_nearest_address() {
        let (address, distance) = book()
            .nearest(Location::new(41.76510, -72.6739).unwrap())
            .unwrap();
        assert_eq!(address, "550 Main Street");
        assert!(distance < 5.0, "{distance}");
        assert!(AddressBook::new(vec![])
            .nearest(Location::new(41.0, -72.0).unwrap())
            .is_none());
    }
}
