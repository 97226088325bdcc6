//! The city as cityfix sees it: its places, departments, outside agencies and services, and where a report goes.

use std::collections::BTreeMap;
use std::fmt;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::areas::{AreaIndex, LineIndex, OwnedLine};
use crate::{Location, Service};

/// A department of the city that works requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    /// The people requests can be assigned to (their sign-in `sub`), and its supervisors.
    #[serde(default, rename = "member")]
    pub members: Vec<Member>,
}

/// Someone in a department whom requests can be assigned to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Their stable sign-in id (Cognito's `sub`; `cityfix token --sub` locally).
    pub id: String,
    pub name: String,
    /// Told when a request of the department passes its service level target.
    #[serde(default)]
    pub supervisor: bool,
    /// Where breach notices reach a supervisor.
    #[serde(default)]
    pub email: Option<String>,
}

impl Department {
    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }
}

/// Someone outside the city who owns some problems: a state DOT, a neighbouring town.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub website: String,
}

/// A key an Open311 client presents to post requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Open311Key {
    pub key: String,
    pub name: String,
    /// What the client may do with this key; posting requests unless it says otherwise.
    #[serde(default = "reports_only")]
    pub may: Vec<ClientAction>,
}

/// Something an Open311 client may do with its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAction {
    /// Post service requests.
    Report,
    /// Post updates that add a public note (`POST servicerequestupdates`).
    Note,
    /// Post updates that move a request: start work, close it, reopen it (an asset system).
    Transition,
}

fn reports_only() -> Vec<ClientAction> {
    vec![ClientAction::Report]
}

impl Open311Key {
    pub fn may(&self, action: ClientAction) -> bool {
        self.may.contains(&action)
    }
}

/// Per-client limits (city.toml `[rate_limits]`): reports and uploads sent without signing in,
/// and failed sign-ins (a wrong API key, staff token or media token). Beyond them a client gets
/// 429 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Anonymous writes one client may make in a minute, steadily.
    pub writes_per_minute: u32,
    /// How many of them may come at once.
    pub writes_burst: u32,
    /// Failed sign-ins one client may make in a minute, steadily.
    pub failed_auth_per_minute: u32,
    /// How many of them may come at once.
    pub failed_auth_burst: u32,
}

impl Default for RateLimits {
    /// Generous for a household or an office behind one address; a script flooding reports or
    /// guessing keys is slowed to a trickle.
    fn default() -> Self {
        RateLimits {
            writes_per_minute: 30,
            writes_burst: 20,
            failed_auth_per_minute: 10,
            failed_auth_burst: 10,
        }
    }
}

/// What residents may do with their reports (city.toml `[residents]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResidentRules {
    /// How many days after a request is closed as fixed its reporter may reopen it ("not fixed").
    pub reopen_days: u32,
    /// How many days after a fix its reporter is asked "Has it been fixed?"; 0 asks nobody.
    /// Shorter than `reopen_days`, so a "not fixed" can still reopen it.
    pub survey_after_days: u32,
}

impl Default for ResidentRules {
    fn default() -> Self {
        ResidentRules {
            reopen_days: 14,
            survey_after_days: 3,
        }
    }
}

/// Who takes a report: one of the city's departments, or an outside agency it is referred to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Assignee {
    Department { id: String, name: String },
    Agency { id: String, name: String },
}

impl Assignee {
    pub fn id(&self) -> &str {
        match self {
            Assignee::Department { id, .. } | Assignee::Agency { id, .. } => id,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Assignee::Department { name, .. } | Assignee::Agency { name, .. } => name,
        }
    }
}

/// Where a report goes, the areas it falls in (layer id → area name), and why, in words for staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingDecision {
    pub assignee: Assignee,
    pub areas: BTreeMap<String, String>,
    pub reason: String,
    /// How long, from the report, the city will likely take (`crate::expected`); the service's
    /// target when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_secs: Option<i64>,
}

/// One area layer, ready for look-ups.
pub struct AreaLayer {
    pub id: String,
    pub index: AreaIndex,
}

/// One layer of owned road lines, ready for look-ups.
pub struct LineLayer {
    pub id: String,
    pub lines: Vec<OwnedLine>,
    pub index: LineIndex,
}

/// The places the city routes by, prepared once at start.
pub struct Places {
    pub boundary: AreaIndex,
    /// City layers (neighbourhoods first), in configuration order.
    pub layers: Vec<AreaLayer>,
    /// The jurisdictions around the city, and the agency id of each.
    pub neighbours: Option<(AreaIndex, Vec<String>)>,
    pub lines: Vec<LineLayer>,
    /// Line owner (as the line layer names it) → department or agency id.
    pub line_owners: BTreeMap<String, String>,
    /// Point layers of the city's assets (routing.toml `[[asset_layer]]`), in configuration order.
    pub assets: Vec<crate::assets::AssetLayer>,
}

impl fmt::Debug for Places {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Places")
            .field(
                "layers",
                &self
                    .layers
                    .iter()
                    .map(|l| (&l.id, l.index.len()))
                    .collect::<Vec<_>>(),
            )
            .field(
                "lines",
                &self
                    .lines
                    .iter()
                    .map(|l| (&l.id, l.lines.len()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Everything the city configures, loaded and checked once at start.
#[derive(Debug)]
pub struct City {
    pub name: String,
    pub short_name: String,
    pub jurisdiction_id: String,
    pub timezone: Tz,
    pub contact_email: String,
    pub contact_phone: String,
    pub website: String,
    pub center: Location,
    /// The country calling code of phone numbers written without one (1 in North America).
    pub country_calling_code: u16,
    pub open311_keys: Vec<Open311Key>,
    /// How fast one client may write without signing in, and fail to sign in.
    pub rate_limits: RateLimits,
    pub residents: ResidentRules,
    /// How long closed requests keep their reporters' contacts before they are archived.
    pub retention: crate::Retention,
    /// Where photos named by an Open311 client's `media_url` may be fetched from.
    pub media_fetch: crate::fetch::MediaFetch,
    /// city.toml `[[webhooks]]`: systems told of requests' events.
    pub webhooks: Vec<crate::webhooks::Webhook>,
    pub departments: Vec<Department>,
    pub agencies: Vec<Agency>,
    pub services: Vec<Service>,
    /// Stock wording for notes and status changes (`responses.toml`; none when it is absent).
    pub responses: Vec<crate::ResponseTemplate>,
    /// The city's address points, for geocoding.
    pub address_points: Vec<super::AddressPoint>,
    pub places: Places,
}

/// Why a point cannot be routed at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unroutable {
    /// Outside the city and outside every neighbouring jurisdiction the city knows.
    NoKnownPlace,
    /// The configuration names a department or agency that does not exist (caught at load).
    UnknownAssignee(String),
}

impl City {
    pub fn service(&self, code: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.code == code)
    }

    /// The response templates offered for a request of `service` at (or moving to) `status`.
    pub fn responses_for<'a>(
        &'a self,
        service: &'a str,
        status: crate::Status,
    ) -> impl Iterator<Item = &'a crate::ResponseTemplate> {
        self.responses
            .iter()
            .filter(move |t| t.fits(service, status))
    }

    /// The asset layer of this id (routing.toml `[[asset_layer]]`).
    pub fn asset_layer(&self, id: &str) -> Option<&crate::AssetLayer> {
        self.places.assets.iter().find(|layer| layer.id == id)
    }

    /// The asset layer a service's reports are about, if it names one.
    pub fn asset_layer_of(&self, service: &Service) -> Option<&crate::AssetLayer> {
        service
            .assets
            .as_ref()
            .and_then(|assets| self.asset_layer(&assets.layer))
    }

    /// Which asset a report of `service` at `at` is about (see [`crate::assets::asset_of_report`]).
    pub fn asset_of_report(
        &self,
        service: &Service,
        sent: Option<&str>,
        at: Location,
    ) -> Result<Option<crate::AssetRef>, crate::Invalid> {
        crate::assets::asset_of_report(service, self.asset_layer_of(service), sent, at)
    }

    /// The response template `id`.
    pub fn response(&self, id: &str) -> Option<&crate::ResponseTemplate> {
        self.responses.iter().find(|t| t.id == id)
    }

    pub fn department(&self, id: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.id == id)
    }

    pub fn agency(&self, id: &str) -> Option<&Agency> {
        self.agencies.iter().find(|a| a.id == id)
    }

    /// The department or agency with this id.
    pub fn assignee(&self, id: &str) -> Option<Assignee> {
        self.department(id)
            .map(|d| Assignee::Department {
                id: d.id.clone(),
                name: d.name.clone(),
            })
            .or_else(|| {
                self.agency(id).map(|a| Assignee::Agency {
                    id: a.id.clone(),
                    name: a.name.clone(),
                })
            })
    }

    /// The Open311 client that holds this key, if any.
    pub fn open311_client(&self, key: &str) -> Option<&Open311Key> {
        self.open311_keys.iter().find(|k| k.key == key)
    }

    /// Whether the point is inside the city limits (a point on the boundary line counts as inside).
    pub fn contains(&self, location: Location) -> bool {
        self.places.boundary.first_at(location.to_point()).is_some()
    }

    /// The neighbouring jurisdiction the point is in, with its agency id.
    pub fn neighbour_at(&self, location: Location) -> Option<(&str, &str)> {
        let (index, agencies) = self.places.neighbours.as_ref()?;
        let area = index.first_at(location.to_point())?;
        Some((index.name(area), agencies[area].as_str()))
    }

    /// Whether reports may be taken for this point: inside the city, or in a neighbour the city refers to.
    pub fn takes_reports_at(&self, location: Location) -> bool {
        self.contains(location) || self.neighbour_at(location).is_some()
    }

    /// The name of each city layer's area the point is in (layer id → area name).
    pub fn areas_at(&self, location: Location) -> BTreeMap<String, String> {
        let point = location.to_point();
        self.places
            .layers
            .iter()
            .filter_map(|layer| {
                layer
                    .index
                    .first_at(point)
                    .map(|area| (layer.id.clone(), layer.index.name(area).to_string()))
            })
            .collect()
    }

    /// The first layer's area (the neighbourhood) the point is in.
    pub fn neighbourhood_at(&self, location: Location) -> Option<String> {
        let layer = self.places.layers.first()?;
        layer
            .index
            .first_at(location.to_point())
            .map(|area| layer.index.name(area).to_string())
    }

    /// Decides who takes a report of this service at this place:
    /// 1. outside the city, the neighbouring jurisdiction it is in;
    /// 2. for services that honour road ownership, the owner of a road line the point is on;
    /// 3. the service's rule for the area the point is in;
    /// 4. the service's department.
    pub fn route(
        &self,
        service: &Service,
        location: Location,
    ) -> Result<RoutingDecision, Unroutable> {
        let point = location.to_point();
        let areas = self.areas_at(location);
        let decide = |id: &str, reason: String| -> Result<RoutingDecision, Unroutable> {
            let assignee = self
                .assignee(id)
                .ok_or_else(|| Unroutable::UnknownAssignee(id.to_string()))?;
            Ok(RoutingDecision {
                assignee,
                areas: areas.clone(),
                reason,
                expected_secs: None,
            })
        };
        if !self.contains(location) {
            let (town, agency) = self
                .neighbour_at(location)
                .ok_or(Unroutable::NoKnownPlace)?;
            return decide(agency, format!("outside {}, in {town}", self.name));
        }
        if service.routing.road_owners {
            for layer in &self.places.lines {
                if let Some(on) = layer.index.nearest_within_buffer(point) {
                    let line = &layer.lines[on.line];
                    let owner = service
                        .routing
                        .line_owners
                        .get(&line.owner)
                        .or_else(|| self.places.line_owners.get(&line.owner));
                    if let Some(owner) = owner {
                        return decide(
                            owner,
                            format!(
                                "{:.0} m from {}, which {} owns",
                                on.distance_m, line.name, line.owner
                            ),
                        );
                    }
                }
            }
        }
        if let Some(layer) = &service.routing.layer {
            if let Some(target) = areas
                .get(layer)
                .and_then(|area| service.routing.areas.get(area))
            {
                return decide(target, format!("{} in {}", service.name, areas[layer]));
            }
        }
        decide(
            &service.department,
            format!("{} goes to its department", service.name),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use geo::{polygon, LineString, MultiPolygon};

    use super::*;
    use crate::service::ServiceRouting;
    use crate::Area;
    use crate::{Attribute, Datatype, ValueOption};

    fn square(west: f64, south: f64, east: f64, north: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![polygon![
            (x: west, y: south), (x: east, y: south), (x: east, y: north), (x: west, y: north), (x: west, y: south)
        ]])
    }

    fn area(name: &str, shape: MultiPolygon<f64>) -> Area {
        Area {
            name: name.into(),
            shape,
        }
    }

    /// A square city (41..42 N, 73..72 W) of two halves, East and West, split at -72.5; a state road
    /// along 41.8 N; a neighbouring town to its north.
    pub(crate) fn test_city() -> City {
        let department = |id: &str, name: &str| Department {
            id: id.into(),
            name: name.into(),
            email: format!("{id}@city.example"),
            phone: "555-0100".into(),
            members: Vec::new(),
        };
        let agency = |id: &str, name: &str| Agency {
            id: id.into(),
            name: name.into(),
            email: format!("{id}@agency.example"),
            phone: "555-0190".into(),
            website: format!("https://{id}.example"),
        };
        let road = OwnedLine {
            name: "Route 9".into(),
            owner: "DOT".into(),
            buffer_m: 20.0,
            shape: LineString::from(vec![(-73.0, 41.8), (-72.0, 41.8)]),
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
            country_calling_code: 1,
            open311_keys: vec![Open311Key {
                key: "k".into(),
                name: "Test client".into(),
                may: vec![ClientAction::Report],
            }],
            rate_limits: RateLimits::default(),
            residents: ResidentRules::default(),
            retention: crate::Retention::default(),
            media_fetch: crate::fetch::MediaFetch::default(),
            webhooks: Vec::new(),
            departments: vec![
                department("public-works", "Public Works"),
                department("parks", "Parks"),
            ],
            agencies: vec![
                agency("dot", "State DOT"),
                agency("northtown", "Town of Northtown"),
            ],
            services: vec![Service {
                code: "pothole".into(),
                name: "Pothole".into(),
                description: "A hole in the road".into(),
                group: "Streets".into(),
                keywords: vec![],
                department: "public-works".into(),
                routing: ServiceRouting {
                    layer: Some("neighbourhoods".into()),
                    areas: BTreeMap::from([("East".to_string(), "parks".to_string())]),
                    road_owners: true,
                    line_owners: BTreeMap::new(),
                    duplicate_radius_m: 50.0,
                },
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
                confidential: false,
                translations: Default::default(),
                priority: crate::Priority::Normal,
                target_hours: None,
                assets: None,
            }],
            responses: Vec::new(),
            address_points: Vec::new(),
            places: Places {
                boundary: AreaIndex::build(&[area("Test City", square(-73.0, 41.0, -72.0, 42.0))]),
                layers: vec![AreaLayer {
                    id: "neighbourhoods".into(),
                    index: AreaIndex::build(&[
                        area("East", square(-72.5, 41.0, -72.0, 42.0)),
                        area("West", square(-73.0, 41.0, -72.5, 42.0)),
                    ]),
                }],
                neighbours: Some((
                    AreaIndex::build(&[area("Northtown", square(-73.0, 42.0, -72.0, 43.0))]),
                    vec!["northtown".into()],
                )),
                lines: vec![LineLayer {
                    id: "state-roads".into(),
                    index: LineIndex::build(std::slice::from_ref(&road)),
                    lines: vec![road],
                }],
                line_owners: BTreeMap::from([("DOT".to_string(), "dot".to_string())]),
                assets: Vec::new(),
            },
        }
    }

    fn route(lat: f64, long: f64) -> Result<RoutingDecision, Unroutable> {
        let city = test_city();
        let pothole = city.service("pothole").unwrap().clone();
        city.route(&pothole, Location::new(lat, long).unwrap())
    }

    #[test]
    fn routes_by_service_and_area() {
        let west = route(41.5, -72.8).unwrap();
        assert_eq!(west.assignee.id(), "public-works");
        assert_eq!(west.areas["neighbourhoods"], "West");
        assert_eq!(route(41.5, -72.2).unwrap().assignee.id(), "parks");
    }

    #[test]
    fn a_point_on_an_owned_road_goes_to_its_owner() {
        let on_road = route(41.8001, -72.8).unwrap();
        assert_eq!(
            on_road.assignee,
            Assignee::Agency {
                id: "dot".into(),
                name: "State DOT".into()
            }
        );
        assert!(on_road.reason.contains("Route 9"), "{}", on_road.reason);
        assert_eq!(
            route(41.801, -72.8).unwrap().assignee.id(),
            "public-works",
            "110 m away is not on the road"
        );
    }

    #[test]
    fn a_service_may_send_a_road_owners_reports_elsewhere() {
        let city = test_city();
        let mut signals = city.service("pothole").unwrap().clone();
        signals
            .routing
            .line_owners
            .insert("DOT".into(), "parks".into());
        let decision = city
            .route(&signals, Location::new(41.8001, -72.8).unwrap())
            .unwrap();
        assert_eq!(decision.assignee.id(), "parks");
    }

    #[test]
    fn a_point_in_a_neighbouring_town_goes_to_that_town_and_nowhere_is_refused() {
        let north = route(42.5, -72.5).unwrap();
        assert_eq!(north.assignee.id(), "northtown");
        assert!(north.areas.is_empty());
        assert_eq!(route(40.0, -72.5), Err(Unroutable::NoKnownPlace));
        let city = test_city();
        assert!(city.takes_reports_at(Location::new(42.5, -72.5).unwrap()));
        assert!(!city.takes_reports_at(Location::new(40.0, -72.5).unwrap()));
    }

    #[test]
    fn a_point_on_a_shared_edge_or_vertex_routes_the_same_way_every_time() {
        for (lat, long) in [(41.5, -72.5), (41.0, -72.5), (42.0, -72.5)] {
            let first = route(lat, long).unwrap();
            assert_eq!(first.areas["neighbourhoods"], "East");
            assert_eq!(route(lat, long).unwrap(), first);
        }
    }

    #[test]
    fn the_boundary_line_counts_as_inside() {
        let city = test_city();
        assert!(city.contains(Location::new(42.0, -72.7).unwrap()));
        assert!(!city.contains(Location::new(42.001, -72.7).unwrap()));
    }
}
