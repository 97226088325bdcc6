//! The read policy of docs/staff-access.md, whole: every role, of the request's department or
//! another, reading one request and a department's queue, and which fields each one sees.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cityfix_app::ports::{RequestStore, SystemClock};
use cityfix_app::transition::StatusDeps;
use cityfix_domain::{City, Status, TimelineEntry, TimelineKind};
use cityfix_http::auth::{Role, StaffClaims, StaffSignIn, TokenKeys};
use cityfix_testing::{demo_city, force_status, seed_request, World};
use http_body_util::BodyExt;
use serde_json::Value;
use status::{staff_router, Staff};
use tower::ServiceExt;

/// A pothole of Public Works, with an internal note.
const POTHOLE: &str = "7K3M-9QZ2";
/// An ethics complaint, taken by Code Enforcement.
const COMPLAINT: &str = "7K3M-9QZ4";
const INTERNAL_NOTE: &str = "crew booked for Tuesday";
const ROUTING_REASON: &str = "Pothole goes to its department";

/// The demo city with one confidential service.
fn city() -> Arc<City> {
    let mut city = demo_city();
    let mut ethics = city.service("graffiti").unwrap().clone();
    ethics.code = "ethics_complaint".into();
    ethics.name = "Ethics complaint".into();
    ethics.department = "licenses-inspections".into();
    ethics.attributes.clear();
    ethics.confidential = true;
    Arc::get_mut(&mut city)
        .expect("a city of its own")
        .services
        .push(ethics);
    city
}

struct Fixture {
    world: World,
    city: Arc<City>,
    keys: Arc<TokenKeys>,
}

impl Fixture {
    async fn new() -> Fixture {
        let world = World::new();
        for (id, service, department) in [
            (POTHOLE, "pothole", "public-works"),
            (COMPLAINT, "ethics_complaint", "licenses-inspections"),
        ] {
            let seeded = seed_request(
                &world.store,
                id,
                service,
                41.7677,
                -72.67602,
                Some("reporter@example.org"),
            )
            .await;
            let mut open = force_status(&world.store, seeded, Status::Open, "routed").await;
            let version = open.version;
            open.department = Some(department.into());
            open.routing_reason = Some(ROUTING_REASON.into());
            open.version += 1;
            let note = TimelineEntry {
                event_id: "internal-note".into(),
                at: open.updated_at,
                kind: TimelineKind::Note,
                status: None,
                note: Some(INTERNAL_NOTE.into()),
                public: false,
                actor: None,
                internal_note: None,
                media: Vec::new(),
            };
            world.store.update(&open, version, &note).await.unwrap();
        }
        Fixture {
            world,
            city: city(),
            keys: Arc::new(TokenKeys::from_secret(b"test secret")),
        }
    }

    async fn get(&self, path: &str, role: Role, department: Option<&str>) -> (StatusCode, Value) {
        let now = chrono::Utc::now().timestamp() as u64;
        let claims = StaffClaims {
            sub: "local:test".into(),
            name: "Test".into(),
            role,
            department: department.map(str::to_string),
            exp: now + 600,
        };
        let app = staff_router(Staff {
            deps: StatusDeps {
                city: self.city.clone(),
                store: Arc::new(self.world.store.clone()),
                queue: Arc::new(self.world.queue.clone()),
                clock: Arc::new(SystemClock),
                media: Arc::new(self.world.media.clone()),
            },
            metrics: Arc::new(self.world.store.clone()),
            sign_in: StaffSignIn::Local(self.keys.clone()),
        });
        let request = Request::get(path)
            .header(
                "authorization",
                format!("Bearer {}", self.keys.issue(&claims, now).unwrap()),
            )
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }
}

/// What a reader gets of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sees {
    /// The case: routing reason, internal timeline, followers, whether the reporter is reachable.
    Case,
    /// What a caller may be told: the public record and who has it.
    Caller,
    Forbidden,
    NotFound,
}

/// What `body` shows, checked field by field.
fn seen(status: StatusCode, body: &Value) -> Sees {
    match status {
        StatusCode::FORBIDDEN => return Sees::Forbidden,
        StatusCode::NOT_FOUND => return Sees::NotFound,
        StatusCode::OK => {}
        other => panic!("unexpected {other}: {body}"),
    }
    let text = body.to_string();
    assert!(!text.contains("reporter@example.org"), "never the contact");
    assert!(
        body["department"].is_string(),
        "everyone who reads sees who has it: {body}"
    );
    assert!(body["status"].is_string(), "{body}");
    let case_fields = [
        body["routing_reason"] == ROUTING_REASON,
        text.contains(INTERNAL_NOTE),
        body["followers"].is_number(),
        body["reporter_can_be_reached"].is_boolean(),
        body["channel"].is_string(),
    ];
    if case_fields.iter().all(|&shown| shown) {
        Sees::Case
    } else if case_fields.iter().all(|&shown| !shown) {
        Sees::Caller
    } else {
        panic!("half a case view: {body}")
    }
}

#[tokio::test]
async fn each_role_reads_what_the_policy_gives_it_of_a_request() {
    use Sees::*;
    let fixture = Fixture::new().await;
    // role, its department, the pothole of Public Works, the ethics complaint
    let table: &[(Role, Option<&str>, Sees, Sees)] = &[
        (Role::Agent, None, Caller, NotFound),
        (Role::Agent, Some("public-works"), Caller, NotFound),
        (Role::Staff, Some("public-works"), Case, NotFound),
        (Role::Staff, Some("parks-recreation"), Caller, NotFound),
        (Role::Staff, Some("licenses-inspections"), Caller, NotFound),
        (Role::Staff, None, Caller, NotFound),
        (Role::Supervisor, None, Case, NotFound),
        (Role::Supervisor, Some("parks-recreation"), Case, NotFound),
        (Role::Admin, None, Case, NotFound),
        (Role::Ethics, None, Forbidden, Case),
        (Role::Ethics, Some("public-works"), Forbidden, Case),
    ];
    for &(role, department, pothole, complaint) in table {
        for (id, expected) in [(POTHOLE, pothole), (COMPLAINT, complaint)] {
            let (status, body) = fixture
                .get(&format!("/staff/v1/requests/{id}"), role, department)
                .await;
            assert_eq!(
                seen(status, &body),
                expected,
                "{role:?} of {department:?} reading {id}: {body}"
            );
        }
    }
    // hidden exactly as a request that does not exist
    let (_, hidden) = fixture
        .get(
            &format!("/staff/v1/requests/{COMPLAINT}"),
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(
        hidden["error"]["message"],
        format!("there is no request `{COMPLAINT}`")
    );
}

/// A role, its department, the queue it asks for, and what it lists (`None`: 403).
type QueueCase<'a> = (Role, Option<&'a str>, &'a str, Option<&'a [&'a str]>);

#[tokio::test]
async fn each_role_lists_only_the_queues_and_requests_the_policy_gives_it() {
    let fixture = Fixture::new().await;
    let table: &[QueueCase] = &[
        (Role::Agent, None, "public-works", None),
        (
            Role::Staff,
            Some("public-works"),
            "public-works",
            Some(&[POTHOLE]),
        ),
        (Role::Staff, Some("parks-recreation"), "public-works", None),
        (
            Role::Staff,
            Some("licenses-inspections"),
            "licenses-inspections",
            Some(&[]),
        ),
        (Role::Supervisor, None, "public-works", Some(&[POTHOLE])),
        (Role::Supervisor, None, "licenses-inspections", Some(&[])),
        (Role::Admin, None, "licenses-inspections", Some(&[])),
        (Role::Ethics, None, "public-works", Some(&[])),
        (
            Role::Ethics,
            None,
            "licenses-inspections",
            Some(&[COMPLAINT]),
        ),
    ];
    for &(role, department, queue, expected) in table {
        let (status, body) = fixture
            .get(
                &format!("/staff/v1/queue?department={queue}"),
                role,
                department,
            )
            .await;
        let listed: Option<Vec<&str>> = (status == StatusCode::OK).then(|| {
            body["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["service_request_id"].as_str().unwrap())
                .collect()
        });
        assert_eq!(
            listed.as_deref(),
            expected,
            "{role:?} of {department:?} listing {queue}: {status} {body}"
        );
        if status != StatusCode::OK {
            assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        }
        assert!(
            !body.to_string().contains(INTERNAL_NOTE),
            "a queue shows no internal note"
        );
    }
}
