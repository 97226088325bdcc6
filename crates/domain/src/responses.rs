//! Response templates: the city's stock wording for a note or a status change, per service and
//! status, offered to staff on a request's page.

use serde::{Deserialize, Serialize};

use crate::Status;

/// One template, as `responses.toml` declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseTemplate {
    /// Stable id (lowercase letters, digits and hyphens), what a form names it by.
    pub id: String,
    /// What staff pick it by.
    pub title: String,
    /// The note it fills in.
    pub text: String,
    /// The services it is written for; empty: every service.
    #[serde(default)]
    pub services: Vec<String>,
    /// The statuses it is for: on a status change the new status, on a note the request's current
    /// one; empty: any.
    #[serde(default)]
    pub statuses: Vec<Status>,
}

impl ResponseTemplate {
    /// Whether this template is offered for a request of `service` at (or moving to) `status`.
    pub fn fits(&self, service: &str, status: Status) -> bool {
        (self.services.is_empty() || self.services.iter().any(|s| s == service))
            && (self.statuses.is_empty() || self.statuses.contains(&status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(services: &[&str], statuses: &[Status]) -> ResponseTemplate {
        ResponseTemplate {
            id: "t".into(),
            title: "T".into(),
            text: "Text".into(),
            services: services.iter().map(|s| s.to_string()).collect(),
            statuses: statuses.to_vec(),
        }
    }

    #[test]
    fn a_template_fits_its_services_and_statuses_and_an_empty_list_fits_all() {
        let closed_pothole = template(&["pothole"], &[Status::Closed]);
        assert!(closed_pothole.fits("pothole", Status::Closed));
        assert!(!closed_pothole.fits("graffiti", Status::Closed));
        assert!(!closed_pothole.fits("pothole", Status::Open));
        let any = template(&[], &[]);
        assert!(any.fits("graffiti", Status::InProgress));
    }
}
