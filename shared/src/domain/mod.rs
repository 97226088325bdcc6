//! Pure types and rules of a 311 service: requests, their status machine, the service catalogue, places. No I/O.

pub mod city;
pub mod invalid;
pub mod location;
pub mod report;
pub mod request;
pub mod service;
pub mod status;
pub mod tracking;

pub use city::{Area, City, Department, Open311Key, RoutingDecision};
pub use invalid::Invalid;
pub use location::Location;
pub use report::{Contact, RawAttribute, ReportForm, ValidReport};
pub use request::{ServiceRequest, TimelineEntry, TimelineKind};
pub use service::{Attribute, AttributeValue, Datatype, Service, ValueOption};
pub use status::{Resolution, Status};
pub use tracking::TrackingNumber;
