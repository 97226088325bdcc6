//! The checks of the city folder as a whole: ids and slugs, who reports can go to, services, partitions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;

use geo::{Intersects, MultiPolygon};

use cityfix_domain::request::WEB_CHANNEL;
use cityfix_domain::schedule::{MAX_ARCHIVE_AFTER_DAYS, MIN_ARCHIVE_AFTER_DAYS};
use cityfix_domain::{
    Agency, Attribute, Department, Location, Open311Key, RateLimits, Retention, Service,
};

use crate::files::CityFile;
use crate::ConfigError;

/// The area names of each area layer, by layer id, so services can only route by areas that exist.
pub(crate) type AreaNames = BTreeMap<String, Vec<String>>;

/// Everyone a report can be assigned or referred to: the departments and the agencies.
pub(crate) struct Assignees<'a> {
    pub(crate) departments: &'a [Department],
    pub(crate) agencies: &'a [Agency],
}

impl Assignees<'_> {
    /// Whether `id` names a department or an agency, so a routing rule can send reports to it.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.departments.iter().any(|d| d.id == id) || self.agencies.iter().any(|a| a.id == id)
    }
}

fn city_fault(path: &Path, entry: Option<String>, field: &str, message: String) -> ConfigError {
    ConfigError {
        file: path.to_path_buf(),
        entry,
        field: Some(field.to_string()),
        message,
    }
}

/// The city's time zone; a name that is not an IANA zone would put every date in the wrong hour.
pub(crate) fn check_timezone<Tz: FromStr>(path: &Path, city: &CityFile) -> Result<Tz, ConfigError> {
    city.timezone.parse().map_err(|_| {
        city_fault(
            path,
            None,
            "timezone",
            format!(
                "`{}` is not an IANA time zone such as America/New_York",
                city.timezone
            ),
        )
    })
}

/// The city's centre, which must be a place in the world.
pub(crate) fn check_center(path: &Path, city: &CityFile) -> Result<Location, ConfigError> {
    Location::new(city.center.lat, city.center.long)
        .map_err(|e| city_fault(path, None, "center", e.message))
}

/// Open311 keys must be unique and non-empty, or a client could not be told apart.
pub(crate) fn check_open311_keys(path: &Path, keys: &[Open311Key]) -> Result<(), ConfigError> {
    let mut seen = BTreeSet::new();
    let mut names = BTreeSet::new();
    for key in keys {
        if key.key.trim().is_empty() || !seen.insert(key.key.as_str()) {
            return Err(city_fault(
                path,
                Some(format!("open311_key `{}`", key.name)),
                "key",
                "keys must be non-empty and unique".into(),
            ));
        }
        // The name is the client's channel, which scopes its Idempotency-Keys: two clients
        // must never share one, nor share the web client's.
        let name = key.name.trim();
        if name.is_empty() || name == WEB_CHANNEL || !names.insert(name) {
            return Err(city_fault(
                path,
                Some(format!("open311_key `{}`", key.name)),
                "name",
                format!("client names must be non-empty, unique and not `{WEB_CHANNEL}`"),
            ));
        }
        let mut actions = key.may.clone();
        actions.sort_by_key(|a| *a as u8);
        actions.dedup();
        if key.may.is_empty() || actions.len() != key.may.len() {
            return Err(city_fault(
                path,
                Some(format!("open311_key `{}`", key.name)),
                "may",
                "list each of report, note and transition at most once, and at least one".into(),
            ));
        }
    }
    Ok(())
}

/// Every rate and burst is at least one: a limit of nothing would refuse every resident.
pub(crate) fn check_rate_limits(path: &Path, limits: &RateLimits) -> Result<(), ConfigError> {
    for (field, value) in [
        ("writes_per_minute", limits.writes_per_minute),
        ("writes_burst", limits.writes_burst),
        ("failed_auth_per_minute", limits.failed_auth_per_minute),
        ("failed_auth_burst", limits.failed_auth_burst),
    ] {
        if value == 0 {
            return Err(city_fault(
                path,
                Some("rate_limits".into()),
                field,
                "must be at least 1 (turn limits off for a load test with `cityfix serve --rate-limit off`)".into(),
            ));
        }
    }
    Ok(())
}

/// Closed requests are kept between [`MIN_ARCHIVE_AFTER_DAYS`] and [`MAX_ARCHIVE_AFTER_DAYS`]
/// before they are archived and their reporters' contacts forgotten.
pub(crate) fn check_retention(path: &Path, retention: &Retention) -> Result<(), ConfigError> {
    let days = retention.archive_after_days;
    if !(MIN_ARCHIVE_AFTER_DAYS..=MAX_ARCHIVE_AFTER_DAYS).contains(&days) {
        return Err(city_fault(
            path,
            Some("retention".into()),
            "archive_after_days",
            format!("must be from {MIN_ARCHIVE_AFTER_DAYS} to {MAX_ARCHIVE_AFTER_DAYS} days, not {days}: archiving forgets the reporter's contact, which a reopen or a question about the fix still needs for a while"),
        ));
    }
    Ok(())
}

/// The centre must lie inside the boundary, or the map opens outside the city.
pub(crate) fn check_center_within(
    path: &Path,
    center: Location,
    boundary: &MultiPolygon<f64>,
) -> Result<(), ConfigError> {
    if boundary.intersects(&center.to_point()) {
        return Ok(());
    }
    Err(city_fault(
        path,
        None,
        "center",
        "the centre is outside the city boundary (routing.toml `boundary`)".into(),
    ))
}

/// Departments: at least one, each with a unique slug id and a name.
pub(crate) fn check_departments(
    path: &Path,
    departments: &[Department],
) -> Result<(), ConfigError> {
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
        let mut members = BTreeSet::new();
        for member in &department.members {
            let fault = |field: &str, message: &str| ConfigError {
                file: path.into(),
                entry: Some(format!(
                    "department `{}` member `{}`",
                    department.id, member.id
                )),
                field: Some(field.into()),
                message: message.into(),
            };
            let id_ok = !member.id.trim().is_empty()
                && member.id.len() <= 128
                && member.id.chars().all(|c| c.is_ascii_graphic());
            if !id_ok || !members.insert(member.id.as_str()) {
                return Err(fault(
                    "id",
                    "member ids must be unique in the department, up to 128 visible ASCII characters",
                ));
            }
            if member.name.trim().is_empty() {
                return Err(fault("name", "must not be empty"));
            }
            if member.supervisor && member.email.is_none() {
                return Err(fault(
                    "email",
                    "a supervisor needs an e-mail for service level notices",
                ));
            }
        }
    }
    Ok(())
}

/// Agencies: ids unique among agencies and departments alike, a name, and an e-mail for referrals.
pub(crate) fn check_agencies(
    path: &Path,
    agencies: &[Agency],
    departments: &[Department],
) -> Result<(), ConfigError> {
    let mut seen = BTreeSet::new();
    for agency in agencies {
        let fault = |field: &str, message: &str| ConfigError {
            file: path.into(),
            entry: Some(format!("agency `{}`", agency.id)),
            field: Some(field.into()),
            message: message.into(),
        };
        if !is_slug(&agency.id, '-')
            || !seen.insert(agency.id.as_str())
            || departments.iter().any(|d| d.id == agency.id)
        {
            return Err(fault(
                "id",
                "ids must be unique (also among departments) and made of a-z, 0-9 and -",
            ));
        }
        if agency.name.trim().is_empty() {
            return Err(fault("name", "must not be empty"));
        }
        if !agency.email.contains('@') {
            return Err(fault(
                "email",
                "referrals are e-mailed: an e-mail address is needed",
            ));
        }
    }
    Ok(())
}

/// routing.toml `line_owners`: each road owner's reports must go to a department or an agency.
pub(crate) fn check_line_owners(
    path: &Path,
    line_owners: &BTreeMap<String, String>,
    assignees: &Assignees,
) -> Result<(), ConfigError> {
    for (owner, target) in line_owners {
        if !assignees.contains(target) {
            return Err(city_fault(
                path,
                Some("line_owners".into()),
                owner,
                format!("`{target}` is neither a department nor an agency"),
            ));
        }
    }
    Ok(())
}

/// Names a fault of one service in services.toml by its code and the field at fault.
struct ServiceFault<'a> {
    path: &'a Path,
    service: &'a Service,
}

impl ServiceFault<'_> {
    fn at(&self, field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.path.into(),
            entry: Some(format!("service `{}`", self.service.code)),
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

/// Services: unique codes, their texts, who takes them, how they route, and their attributes.
pub(crate) fn check_services(
    path: &Path,
    services: &[Service],
    assignees: &Assignees,
    layers: &AreaNames,
) -> Result<(), ConfigError> {
    let mut codes = BTreeSet::new();
    for service in services {
        let fault = ServiceFault { path, service };
        if !is_slug(&service.code, '_') || !codes.insert(service.code.as_str()) {
            return Err(fault.at("code", "codes must be unique and made of a-z, 0-9 and _"));
        }
        check_service_texts(&fault)?;
        check_service_department(&fault, assignees)?;
        if let Some(hours) = service.target_hours {
            if !(1..=24 * 366).contains(&hours) {
                return Err(fault.at(
                    "target_hours",
                    "must be between 1 hour and a year (8784 hours)",
                ));
            }
        }
        check_service_routing(&fault, assignees, layers)?;
        check_attributes(&fault)?;
    }
    Ok(())
}

fn check_service_texts(fault: &ServiceFault) -> Result<(), ConfigError> {
    let service = fault.service;
    for (field, value) in [
        ("name", &service.name),
        ("description", &service.description),
        ("group", &service.group),
    ] {
        if value.trim().is_empty() {
            return Err(fault.at(field, "must not be empty"));
        }
    }
    Ok(())
}

fn check_service_department(
    fault: &ServiceFault,
    assignees: &Assignees,
) -> Result<(), ConfigError> {
    let department = &fault.service.department;
    if assignees.contains(department) {
        return Ok(());
    }
    Err(fault.at(
        "department",
        format!("`{department}` is not a department in departments.toml"),
    ))
}

fn check_service_routing(
    fault: &ServiceFault,
    assignees: &Assignees,
    layers: &AreaNames,
) -> Result<(), ConfigError> {
    let routing = &fault.service.routing;
    if !(0.0..=1000.0).contains(&routing.duplicate_radius_m) {
        return Err(fault.at(
            "routing.duplicate_radius_m",
            "must be between 0 and 1000 metres",
        ));
    }
    match (&routing.layer, routing.areas.is_empty()) {
        (None, false) => {
            return Err(fault.at(
                "routing.layer",
                "`areas` needs the `layer` whose areas they name",
            ))
        }
        (Some(layer), _) if !layers.contains_key(layer) => {
            return Err(fault.at(
                "routing.layer",
                format!("`{layer}` is not an area layer in routing.toml"),
            ))
        }
        _ => {}
    }
    for (owner, target) in &routing.line_owners {
        if !assignees.contains(target) {
            return Err(fault.at(
                format!("routing.line_owners.{owner}"),
                format!("`{target}` is neither a department nor an agency"),
            ));
        }
    }
    check_service_areas(fault, assignees, layers)
}

fn check_service_areas(
    fault: &ServiceFault,
    assignees: &Assignees,
    layers: &AreaNames,
) -> Result<(), ConfigError> {
    let routing = &fault.service.routing;
    for (area, target) in &routing.areas {
        let field = format!("routing.areas.{area}");
        let layer = routing.layer.as_deref().unwrap_or_default();
        if !layers[layer].contains(area) {
            return Err(fault.at(field, format!("`{area}` is not an area of layer `{layer}`")));
        }
        if !assignees.contains(target) {
            return Err(fault.at(
                field,
                format!("`{target}` is neither a department nor an agency"),
            ));
        }
    }
    Ok(())
}

fn check_attributes(fault: &ServiceFault) -> Result<(), ConfigError> {
    let mut codes = BTreeSet::new();
    let mut orders = BTreeSet::new();
    for attribute in &fault.service.attributes {
        let field = |name: &str| format!("attribute `{}`.{name}", attribute.code);
        if !is_slug(&attribute.code, '_') || !codes.insert(attribute.code.as_str()) {
            return Err(fault.at(
                field("code"),
                "attribute codes must be unique and made of a-z, 0-9 and _",
            ));
        }
        if !orders.insert(attribute.order) {
            return Err(fault.at(
                field("order"),
                format!("order {} is used twice", attribute.order),
            ));
        }
        check_attribute(fault, attribute, field)?;
    }
    Ok(())
}

fn check_attribute(
    fault: &ServiceFault,
    attribute: &Attribute,
    field: impl Fn(&str) -> String,
) -> Result<(), ConfigError> {
    if attribute.description.trim().is_empty() {
        return Err(fault.at(field("description"), "must not be empty"));
    }
    if !attribute.variable && attribute.required {
        return Err(fault.at(
            field("required"),
            "an informational attribute (variable = false) cannot be required",
        ));
    }
    check_attribute_values(fault, attribute, field("values"))
}

fn check_attribute_values(
    fault: &ServiceFault,
    attribute: &Attribute,
    field: String,
) -> Result<(), ConfigError> {
    let datatype = attribute.datatype.as_str();
    match (attribute.datatype.is_list(), attribute.values.is_empty()) {
        (true, true) => return Err(fault.at(field, format!("a {datatype} needs values"))),
        (false, false) => return Err(fault.at(field, format!("a {datatype} takes no values"))),
        _ => {}
    }
    let mut keys = BTreeSet::new();
    if let Some(repeated) = attribute
        .values
        .iter()
        .find(|v| !keys.insert(v.key.as_str()))
    {
        return Err(fault.at(field, format!("key `{}` is used twice", repeated.key)));
    }
    Ok(())
}

/// Whether `value` is made of a-z, 0-9 and `separator` only, as ids and codes must be to sit in URLs.
/// How a fault names the `index`th entry of a list in a file (`answer 3`), by its id once it
/// has one (``answer `birth-certificate` ``).
pub(crate) fn entry_name(kind: &str, index: usize, id: &str) -> String {
    if id.is_empty() {
        format!("{kind} {}", index + 1)
    } else {
        format!("{kind} `{id}`")
    }
}

pub(crate) fn is_slug(value: &str, separator: char) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == separator)
}
