//! Backlog alerts: a supervisor tells residents that a service (optionally in one area) is
//! delayed, with the date the city now expects to get to it. Every request it covers gets that
//! date and the notice once; lifting it is on their timelines.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{City, ServiceRequest, Status};

/// A declared backlog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlog {
    pub id: String,
    pub service_code: String,
    /// An area name of one of the city's area layers; the whole city when absent.
    #[serde(default)]
    pub area: Option<String>,
    /// When the city now expects to get to the requests it covers.
    pub expected_at: DateTime<Utc>,
    /// What residents are told, e.g. "Storm damage: crews are on fallen trees first".
    pub message: String,
    /// The supervisor who declared it (sign-in id).
    pub declared_by: String,
    pub declared_at: DateTime<Utc>,
    #[serde(default)]
    pub lifted_at: Option<DateTime<Utc>>,
}

impl Backlog {
    pub fn is_active(&self) -> bool {
        self.lifted_at.is_none()
    }

    /// Whether this backlog, while it stands, covers `request`: its service, its area if it has
    /// one, and still being worked.
    pub fn covers(&self, request: &ServiceRequest) -> bool {
        self.is_active()
            && request.service_code == self.service_code
            && matches!(
                request.status,
                Status::Submitted | Status::Open | Status::InProgress
            )
            && self
                .area
                .as_ref()
                .is_none_or(|area| request.areas.values().any(|name| name == area))
    }
}

/// Whether `area` names an area of one of the city's area layers.
pub fn is_city_area(city: &City, area: &str) -> bool {
    city.places
        .layers
        .iter()
        .any(|layer| (0..layer.index.len()).any(|n| layer.index.name(n) == area))
}
