//! Pure types and rules of a 311 service: requests, their status machine, the service catalogue, places. No I/O.

pub mod addresses;
pub mod areas;
pub mod assets;
pub mod backlog;
pub mod city;
pub mod expected;
pub mod fetch;
pub mod invalid;
pub mod language;
pub mod location;
pub mod metrics;
pub mod phone;
pub mod report;
pub mod request;
pub mod responses;
pub mod rising;
pub mod schedule;
pub mod service;
pub mod status;
pub mod text;
pub mod tracking;
pub mod webhooks;
pub mod work;

pub use addresses::{AddressBook, AddressPoint, Lookup};
pub use areas::{Area, OwnedLine};
pub use assets::{Asset, AssetLayer, AssetRef, ServiceAssets};
pub use city::{
    Agency, Assignee, City, ClientAction, Department, Member, Open311Key, RateLimits,
    ResidentRules, RoutingDecision, Unroutable,
};
pub use invalid::Invalid;
pub use language::Language;
pub use location::Location;
pub use report::{Contact, RawAttribute, ReportForm, ValidReport};
pub use request::{ServiceRequest, TimelineEntry, TimelineKind};
pub use responses::ResponseTemplate;
pub use schedule::{lateness_in_words, Retention};
pub use service::{
    Attribute, AttributeText, AttributeValue, Datatype, Service, ServiceRouting, ServiceText,
    ValueOption,
};
pub use status::{Resolution, Status};
pub use text::{escape_html, recipient_hash};
pub use tracking::TrackingNumber;
pub use work::{AuditRecord, AuditState, Move, MoveRefused, Priority};
