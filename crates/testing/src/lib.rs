//! Helpers for tests of the function crates: the demo city, a fresh embedded world, seeded requests, event fixtures.

pub use cityfix_app::samples;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};

use cityfix_app::ports::{NewRequest, RequestStore};
use cityfix_config::load_city;
use cityfix_domain::{
    City, Contact, Location, ServiceRequest, TimelineEntry, TrackingNumber, ValidReport,
};
use cityfix_embedded::{
    EmbeddedQueue, EmbeddedSetup, FileMedia, Outbox, QueueSettings, SqliteStore,
};

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The demo city, Hartford CT, loaded from `config/hartford`.
pub fn demo_city() -> Arc<City> {
    Arc::new(load_city(&repo_root().join("config/hartford")).expect("the demo city loads"))
}

/// Copies the demo city folder into `dest`, so a test can spoil one file of it.
pub fn copy_demo_city(dest: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("a folder for the copy");
        for entry in std::fs::read_dir(from).expect("the demo city folder") {
            let entry = entry.expect("a folder entry");
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).expect("a copied file");
            }
        }
    }
    copy(&repo_root().join("config/hartford"), dest);
}

/// A fresh store, queue and outbox in a temporary folder that is removed when dropped.
pub struct World {
    pub dir: tempfile::TempDir,
    pub store: SqliteStore,
    pub queue: EmbeddedQueue,
    pub outbox: Outbox,
    /// Media files, with forms and links under `http://cityfix.test/local-media`.
    pub media: FileMedia,
}

impl World {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let setup =
            EmbeddedSetup::open(dir.path(), "http://cityfix.test", QueueSettings::default())
                .expect("the data folder opens");
        World {
            store: setup.store,
            queue: setup.queue,
            outbox: setup.outbox,
            media: setup.media,
            dir,
        }
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

/// Intake's dependencies on the demo city and this world.
pub fn intake_deps(world: &World) -> cityfix_app::submit::IntakeDeps {
    let city = demo_city();
    cityfix_app::submit::IntakeDeps {
        city: city.clone(),
        store: Arc::new(world.store.clone()),
        queue: Arc::new(world.queue.clone()),
        clock: Arc::new(cityfix_app::ports::SystemClock),
        ids: Arc::new(cityfix_app::ports::RandomIds),
        geocoder: Arc::new(cityfix_domain::AddressBook::new(
            city.address_points.clone(),
        )),
    }
}

/// Notify's dependencies on the demo city and this world: messages land in its outbox, links
/// point to `public_url` and are signed with a test secret.
pub fn notify_deps(world: &World, public_url: &str) -> cityfix_app::notify::NotifyDeps {
    cityfix_app::notify::NotifyDeps {
        city: demo_city(),
        store: Arc::new(world.store.clone()),
        metrics: Arc::new(world.store.clone()),
        mailer: Arc::new(world.outbox.clone()),
        sms: Arc::new(world.outbox.clone()),
        push: Arc::new(world.outbox.clone()),
        queue: Arc::new(world.queue.clone()),
        clock: Arc::new(cityfix_app::ports::SystemClock),
        settings: cityfix_app::notify::NotifySettings {
            public_url: public_url.into(),
            mail_from: "Hartford 311 <311@hartford.example>".into(),
            links: cityfix_app::links::LinkSigner::new(TEST_LINK_SECRET),
            send_lease: cityfix_app::notify::SEND_LEASE,
        },
    }
}

/// The link secret of [`notify_deps`].
pub const TEST_LINK_SECRET: &[u8] = b"a test link secret";

/// Stores a submitted request of `service_code` at the point, reported by `email`.
pub async fn seed_request(
    store: &dyn RequestStore,
    id: &str,
    service_code: &str,
    lat: f64,
    long: f64,
    email: Option<&str>,
) -> ServiceRequest {
    let reporter = email.map(|email| Contact {
        email: Some(email.into()),
        ..Contact::default()
    });
    seed_request_by(store, id, service_code, lat, long, reporter).await
}

/// Stores a submitted request of `service_code` at the point, with this reporter.
pub async fn seed_request_by(
    store: &dyn RequestStore,
    id: &str,
    service_code: &str,
    lat: f64,
    long: f64,
    reporter: Option<Contact>,
) -> ServiceRequest {
    seed_request_reported(store, id, service_code, (lat, long), reporter, Utc::now()).await
}

/// Stores a submitted request of `service_code` at the point, reported at `at` (nobody to notify),
/// so tests order reports by their times rather than by sleeping.
pub async fn seed_request_at(
    store: &dyn RequestStore,
    id: &str,
    service_code: &str,
    (lat, long): (f64, f64),
    at: DateTime<Utc>,
) -> ServiceRequest {
    seed_request_reported(store, id, service_code, (lat, long), None, at).await
}

async fn seed_request_reported(
    store: &dyn RequestStore,
    id: &str,
    service_code: &str,
    (lat, long): (f64, f64),
    reporter: Option<Contact>,
    now: DateTime<Utc>,
) -> ServiceRequest {
    let report = ValidReport {
        service_code: service_code.into(),
        location: Location::new(lat, long).expect("a valid point"),
        address: None,
        attributes: BTreeMap::new(),
        description: None,
        contact: reporter.clone().unwrap_or_default(),
        media_url: None,
    };
    let id = TrackingNumber::parse(id).expect("a valid tracking number");
    let request = ServiceRequest::submitted(id.clone(), &report, service_code, "web", now);
    let new = NewRequest {
        request: request.clone(),
        reporter,
        token: format!("token-{}", id),
        first_entry: TimelineEntry::submitted(now),
        idempotency: None,
    };
    store.create(&new).await.expect("the request is stored");
    request
}

/// Reads an SQS event fixture from `events/`.
pub fn sqs_event(relative: &str) -> SqsEvent {
    event(relative)
}

/// Reads an event fixture of any kind from `events/`.
pub fn event<T: serde::de::DeserializeOwned>(relative: &str) -> T {
    let path = repo_root().join("events").join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The ids of the messages a handler handed back for redelivery.
pub fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.as_str())
        .collect()
}

/// Stores the pothole of the `events/` samples: `7K3M-9QZ2`, in Downtown, reported by `email`.
pub async fn seed_sample_pothole(store: &dyn RequestStore, email: Option<&str>) -> ServiceRequest {
    seed_request(store, "7K3M-9QZ2", "pothole", 41.7677, -72.67602, email).await
}

/// Moves a stored request straight to `status`, as an earlier change (timeline entry `event_id`) would have.
pub async fn force_status(
    store: &dyn RequestStore,
    mut request: ServiceRequest,
    status: cityfix_domain::Status,
    event_id: &str,
) -> ServiceRequest {
    let expected = request.version;
    request.status = status;
    request.version += 1;
    let entry = TimelineEntry {
        event_id: event_id.into(),
        ..TimelineEntry::submitted(request.updated_at)
    };
    store
        .update(&request, expected, &entry)
        .await
        .expect("the request is updated");
    request
}

/// A clock standing at a given time.
pub struct FixedClock(pub chrono::DateTime<Utc>);

impl cityfix_app::ports::Clock for FixedClock {
    fn now(&self) -> chrono::DateTime<Utc> {
        self.0
    }
}
