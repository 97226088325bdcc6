//! Use cases over the ports: submit a report, route it, apply a transition, notify, attach media, sweep, notice SLA breaches, archive; and the ports themselves.

pub mod archive;
pub mod backlog;
pub mod breach;
pub mod devices;
pub mod fetch;
pub mod fix_history;
pub mod follow;
pub mod geocoding;
pub mod letters;
pub mod links;
pub mod mail_intake;
pub mod media;
pub mod messages;
pub mod metrics;
pub mod notify;
pub mod photo;
pub mod ports;
pub mod preferences;
pub mod rising;
pub mod route;
#[cfg(any(test, feature = "samples"))]
pub mod samples;
pub mod slots;
pub mod submit;
pub mod survey;
pub mod sweep;
pub mod transition;
pub mod updates;
pub mod video;
pub mod webhooks;
pub mod work;

use thiserror::Error;

use crate::ports::PortError;

/// Why a use case could not finish. Carries ids and reasons, never personal data.
#[derive(Debug, Error)]
pub enum AppError {
    #[error(transparent)]
    Port(#[from] PortError),
    /// The message or command can never succeed as sent (unknown request, unknown service).
    #[error("cannot be done: {0}")]
    Impossible(String),
}

/// Requests for the unit tests of the use cases.
#[cfg(test)]
pub(crate) mod testing {
    use cityfix_domain::{Location, ServiceRequest, TrackingNumber, ValidReport};

    /// A pothole just submitted from the web, at tracking number `id`.
    pub fn pothole(id: &str) -> ServiceRequest {
        let report = ValidReport {
            service_code: "pothole".into(),
            location: Location::new(41.76, -72.68).unwrap(),
            address: None,
            attributes: Default::default(),
            description: None,
            contact: Default::default(),
            media_url: None,
        };
        let id = TrackingNumber::parse(id).unwrap();
        ServiceRequest::submitted(id, &report, "Pothole", "web", chrono::Utc::now())
    }
}
