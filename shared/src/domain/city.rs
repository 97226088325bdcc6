//! The city as cityfix sees it: its shape, neighbourhoods, departments and services, and where a report goes.

use chrono_tz::Tz;
use geo::{Intersects, MultiPolygon};
use serde::{Deserialize, Serialize};

use super::{Location, Service};

/// A department of the city that works requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
}

/// A key an Open311 client presents to post requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Open311Key {
    pub key: String,
    pub name: String,
}

/// A named area (a neighbourhood).
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub name: String,
    pub shape: MultiPolygon<f64>,
}

/// Where a report goes, and the areas that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingDecision {
    pub department: String,
    pub department_name: String,
    pub neighbourhood: Option<String>,
}

/// Everything the city configures, loaded and checked once at start.
#[derive(Debug, Clone)]
pub struct City {
    pub name: String,
    pub short_name: String,
    pub jurisdiction_id: String,
    pub timezone: Tz,
    pub contact_email: String,
    pub contact_phone: String,
    pub website: String,
    pub center: Location,
    pub open311_keys: Vec<Open311Key>,
    pub departments: Vec<Department>,
    pub services: Vec<Service>,
    pub boundary: MultiPolygon<f64>,
    /// Sorted by name, so a point on a shared edge always lands in the same one.
    pub neighbourhoods: Vec<Area>,
}

impl City {
    pub fn service(&self, code: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.code == code)
    }

    pub fn department(&self, id: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.id == id)
    }

    /// The Open311 client that holds this key, if any.
    pub fn open311_client(&self, key: &str) -> Option<&Open311Key> {
        self.open311_keys.iter().find(|k| k.key == key)
    }

    /// Whether the point is inside the city limits (a point on the boundary line counts as inside).
    pub fn contains(&self, location: Location) -> bool {
        self.boundary.intersects(&location.to_point())
    }

    /// The neighbourhood the point is in; on a shared edge, the first by name.
    pub fn neighbourhood_of(&self, location: Location) -> Option<&Area> {
        let point = location.to_point();
        self.neighbourhoods
            .iter()
            .find(|area| area.shape.intersects(&point))
    }

    /// Decides which department takes a report of this service at this place: the service's
    /// department, unless the neighbourhood the point is in names another.
    pub fn route(&self, service: &Service, location: Location) -> Option<RoutingDecision> {
        let neighbourhood = self
            .neighbourhood_of(location)
            .map(|area| area.name.clone());
        let department_id = neighbourhood
            .as_ref()
            .and_then(|name| service.neighbourhood_departments.get(name))
            .unwrap_or(&service.department);
        let department = self.department(department_id)?;
        Some(RoutingDecision {
            department: department.id.clone(),
            department_name: department.name.clone(),
            neighbourhood,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use geo::{polygon, MultiPolygon};

    use super::*;
    use crate::domain::{Attribute, Datatype, ValueOption};

    fn square(west: f64, south: f64, east: f64, north: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![polygon![
            (x: west, y: south), (x: east, y: south), (x: east, y: north), (x: west, y: north), (x: west, y: south)
        ]])
    }

    /// A square city of two halves, West and East, split at longitude -72.5.
    pub(crate) fn test_city() -> City {
        let department = |id: &str, name: &str| Department {
            id: id.into(),
            name: name.into(),
            email: format!("{id}@city.example"),
            phone: "555-0100".into(),
        };
        City {
            name: "Test City".into(),
            short_name: "Test".into(),
            jurisdiction_id: "test.example".into(),
            timezone: chrono_tz::America::New_York,
            contact_email: "311@city.example".into(),
            contact_phone: "311".into(),
            website: "https://city.example".into(),
            center: Location::new(41.5, -72.5).unwrap(),
            open311_keys: vec![Open311Key {
                key: "k".into(),
                name: "Test client".into(),
            }],
            departments: vec![
                department("public-works", "Public Works"),
                department("parks", "Parks"),
            ],
            services: vec![Service {
                code: "pothole".into(),
                name: "Pothole".into(),
                description: "A hole in the road".into(),
                group: "Streets".into(),
                keywords: vec![],
                department: "public-works".into(),
                neighbourhood_departments: BTreeMap::from([(
                    "East".to_string(),
                    "parks".to_string(),
                )]),
                attributes: vec![Attribute {
                    code: "size".into(),
                    datatype: Datatype::Singlevaluelist,
                    required: false,
                    variable: true,
                    description: "How big?".into(),
                    datatype_description: String::new(),
                    order: 1,
                    values: vec![ValueOption {
                        key: "small".into(),
                        name: "Small".into(),
                    }],
                }],
            }],
            boundary: square(-73.0, 41.0, -72.0, 42.0),
            neighbourhoods: vec![
                Area {
                    name: "East".into(),
                    shape: square(-72.5, 41.0, -72.0, 42.0),
                },
                Area {
                    name: "West".into(),
                    shape: square(-73.0, 41.0, -72.5, 42.0),
                },
            ],
        }
    }

    #[test]
    fn routes_by_service_and_neighbourhood() {
        let city = test_city();
        let pothole = city.service("pothole").unwrap();
        let west = city
            .route(pothole, Location::new(41.5, -72.8).unwrap())
            .unwrap();
        assert_eq!(
            (west.department.as_str(), west.neighbourhood.as_deref()),
            ("public-works", Some("West"))
        );
        let east = city
            .route(pothole, Location::new(41.5, -72.2).unwrap())
            .unwrap();
        assert_eq!(
            (east.department.as_str(), east.neighbourhood.as_deref()),
            ("parks", Some("East"))
        );
    }

    #[test]
    fn a_point_on_a_shared_edge_or_vertex_routes_the_same_way_every_time() {
        let city = test_city();
        let pothole = city.service("pothole").unwrap();
        for point in [
            Location::new(41.5, -72.5).unwrap(),
            Location::new(41.0, -72.5).unwrap(),
        ] {
            let first = city.route(pothole, point).unwrap();
            assert_eq!(first.neighbourhood.as_deref(), Some("East"));
            assert_eq!(city.route(pothole, point).unwrap(), first);
        }
    }

    #[test]
    fn the_boundary_line_counts_as_inside() {
        let city = test_city();
        assert!(city.contains(Location::new(42.0, -72.7).unwrap()));
        assert!(!city.contains(Location::new(42.001, -72.7).unwrap()));
    }
}
