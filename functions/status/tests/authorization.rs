//! The authorization matrix of `/staff/v1`: every route × every role × a request of the caller's
//! department, of another, and a confidential one, against the tables of docs/staff-access.md;
//! and every route refusing a missing, expired, forged, wrongly addressed or over-long token.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use cityfix_app::ports::SystemClock;
use cityfix_app::transition::StatusDeps;
use cityfix_domain::{City, Status};
use cityfix_http::auth::{Role, StaffClaims, StaffSignIn, TokenKeys, LOCAL_AUDIENCE, LOCAL_ISSUER};
use cityfix_testing::{demo_city, force_status, seed_request, World};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use status::{staff_router, Staff};
use tower::ServiceExt;

const SECRET: &[u8] = b"the city's own secret";
const OWN: &str = "public-works";
/// The confidential service's department (an ethics complaint).
const ETHICS_DEPARTMENT: &str = "licenses-inspections";
const ROLES: [Role; 5] = [
    Role::Agent,
    Role::Staff,
    Role::Supervisor,
    Role::Admin,
    Role::Ethics,
];

/// The demo city with one confidential service.
fn city() -> Arc<City> {
    let mut city = demo_city();
    let mut ethics = city.service("graffiti").unwrap().clone();
    ethics.code = "ethics_complaint".into();
    ethics.name = "Ethics complaint".into();
    ethics.department = ETHICS_DEPARTMENT.into();
    ethics.attributes.clear();
    ethics.confidential = true;
    Arc::get_mut(&mut city).unwrap().services.push(ethics);
    city
}

/// Whose request a call is about, as the caller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Of the caller's department (a Public Works pothole, the caller in Public Works).
    Own,
    /// Of another department (the same pothole, the caller in Parks).
    Other,
    /// A confidential ethics complaint.
    Confidential,
}

/// What the caller is allowed, by the docs' tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    Forbidden,
    /// As if it did not exist.
    Absent,
}

/// What a route does to a request, which decides who may call it.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Read,
    Note,
    Change,
}

/// docs/staff-access.md, "Reading one request" and "Changes", restated.
fn expected(kind: Kind, role: Role, target: Target) -> Outcome {
    use Outcome::*;
    match (target, role) {
        (Target::Confidential, Role::Ethics) => Done,
        (Target::Confidential, _) => Absent,
        (_, Role::Ethics) => Forbidden,
        (_, Role::Supervisor | Role::Admin) => Done,
        (_, Role::Agent) => match kind {
            Kind::Read | Kind::Note => Done,
            Kind::Change => Forbidden,
        },
        (Target::Own, Role::Staff) => Done,
        (Target::Other, Role::Staff) => match kind {
            Kind::Read => Done,
            Kind::Note | Kind::Change => Forbidden,
        },
    }
}

/// A request route: its method, its path after `/staff/v1/requests/{id}`, what it does, and a
/// body that succeeds on an open request (`{into}` is the other request of the same service).
struct RequestRoute {
    method: Method,
    suffix: &'static str,
    kind: Kind,
    body: fn(&str) -> Option<Value>,
}

fn request_routes() -> Vec<RequestRoute> {
    let route = |method, suffix, kind, body| RequestRoute {
        method,
        suffix,
        kind,
        body,
    };
    vec![
        route(Method::GET, "", Kind::Read, |_| None),
        route(Method::POST, "/notes", Kind::Note, |_| {
            Some(json!({ "text": "called the reporter back", "public": false }))
        }),
        route(Method::POST, "/transitions", Kind::Change, |_| {
            Some(json!({ "to": "in_progress", "note": "crew on the way" }))
        }),
        route(Method::POST, "/assignment", Kind::Change, |twin| {
            // A member of the department that has the request.
            let member = if twin == COMPLAINTS.1 {
                "local:pat.lee"
            } else {
                "local:sam.reyes"
            };
            Some(json!({ "assignee": member }))
        }),
        route(Method::POST, "/priority", Kind::Change, |_| {
            Some(json!({ "priority": "high", "reason": "school bus route" }))
        }),
        route(Method::POST, "/expected", Kind::Change, |_| {
            Some(json!({ "expected_datetime": in_ten_days(), "reason": "parts ordered" }))
        }),
        route(Method::POST, "/referral", Kind::Change, |_| {
            Some(json!({ "agency": "ctdot", "note": "a state road" }))
        }),
        route(Method::POST, "/merge", Kind::Change, |into| {
            Some(json!({ "into": into }))
        }),
    ]
}

struct Fixture {
    world: World,
    city: Arc<City>,
    keys: Arc<TokenKeys>,
}

/// The two potholes and the two complaints each fixture holds: (request, its twin to merge into).
const POTHOLES: (&str, &str) = ("7K3M-9QZ2", "7K3M-9QZ3");
const COMPLAINTS: (&str, &str) = ("7K3M-9QZ4", "7K3M-9QZ5");

impl Fixture {
    async fn new() -> Fixture {
        let world = World::new();
        for (id, service, department) in [
            (POTHOLES.0, "pothole", OWN),
            (POTHOLES.1, "pothole", OWN),
            (COMPLAINTS.0, "ethics_complaint", ETHICS_DEPARTMENT),
            (COMPLAINTS.1, "ethics_complaint", ETHICS_DEPARTMENT),
        ] {
            let seeded = seed_request(&world.store, id, service, 41.7677, -72.67602, None).await;
            let mut open = force_status(&world.store, seeded, Status::Open, "routed").await;
            let version = open.version;
            open.department = Some(department.into());
            open.version += 1;
            let entry = cityfix_domain::TimelineEntry {
                event_id: format!("routed-{id}"),
                at: open.updated_at,
                kind: cityfix_domain::TimelineKind::Routed,
                status: Some(Status::Open),
                note: None,
                public: false,
                actor: None,
                internal_note: None,
                media: Vec::new(),
            };
            cityfix_app::ports::RequestStore::update(&world.store, &open, version, &entry)
                .await
                .unwrap();
        }
        Fixture {
            world,
            city: city(),
            keys: Arc::new(TokenKeys::from_secret(SECRET)),
        }
    }

    fn app(&self) -> axum::Router {
        staff_router(Staff {
            deps: StatusDeps {
                city: self.city.clone(),
                store: Arc::new(self.world.store.clone()),
                queue: Arc::new(self.world.queue.clone()),
                clock: Arc::new(SystemClock),
                media: Arc::new(self.world.media.clone()),
            },
            metrics: Arc::new(self.world.store.clone()),
            sign_in: StaffSignIn::Local(self.keys.clone()),
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, String) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("idempotency-key", format!("matrix-{path}"));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.app().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn in_ten_days() -> String {
    (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339()
}

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

fn claims(role: Role, department: Option<&str>) -> StaffClaims {
    StaffClaims {
        sub: "local:matrix".into(),
        name: "Matrix".into(),
        role,
        department: department.map(str::to_string),
        exp: now() + 600,
    }
}

fn outcome_of(status: StatusCode) -> Option<Outcome> {
    match status {
        s if s.is_success() => Some(Outcome::Done),
        StatusCode::FORBIDDEN => Some(Outcome::Forbidden),
        StatusCode::NOT_FOUND => Some(Outcome::Absent),
        _ => None,
    }
}

#[tokio::test]
async fn every_request_route_answers_each_role_as_the_policy_says() {
    let mut wrong = Vec::new();
    let mut checked = 0;
    for route in request_routes() {
        for role in ROLES {
            for target in [Target::Own, Target::Other, Target::Confidential] {
                // A fresh city each time, so that one call's change is not the next one's state.
                let fixture = Fixture::new().await;
                let (id, twin) = match target {
                    Target::Confidential => COMPLAINTS,
                    _ => POTHOLES,
                };
                let department = match (target, role) {
                    (Target::Other, _) => Some("parks"),
                    (Target::Confidential, Role::Ethics) => Some(ETHICS_DEPARTMENT),
                    (_, Role::Agent) => None,
                    _ => Some(OWN),
                };
                let token = fixture
                    .keys
                    .issue(&claims(role, department), now())
                    .unwrap();
                let path = format!("/staff/v1/requests/{id}{}", route.suffix);
                let (status, body) = fixture
                    .call(
                        route.method.clone(),
                        &path,
                        Some(&token),
                        (route.body)(twin),
                    )
                    .await;
                let want = expected(route.kind, role, target);
                checked += 1;
                if outcome_of(status) != Some(want) {
                    wrong.push(format!(
                        "{} {path} as {role:?} of {department:?} ({target:?}): want {want:?}, got {status} {body}",
                        route.method
                    ));
                }
            }
        }
    }
    assert_eq!(checked, request_routes().len() * ROLES.len() * 3);
    assert!(
        wrong.is_empty(),
        "{} of {checked} calls:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn the_city_wide_routes_answer_only_the_roles_that_oversee() {
    let fixture = Fixture::new().await;
    let backlog = json!({
        "service_code": "pothole",
        "expected": in_ten_days(),
        "message": "Storm damage: potholes are being filled in order",
    });
    for role in ROLES {
        let token = fixture.keys.issue(&claims(role, Some(OWN)), now()).unwrap();
        let (audit, _) = fixture
            .call(Method::GET, "/staff/v1/audit", Some(&token), None)
            .await;
        let want = if role == Role::Admin {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(audit, want, "the audit log as {role:?}");
        let (declared, body) = fixture
            .call(
                Method::POST,
                "/staff/v1/backlogs",
                Some(&token),
                Some(backlog.clone()),
            )
            .await;
        let oversees = matches!(role, Role::Supervisor | Role::Admin);
        assert_eq!(
            declared.is_success(),
            oversees,
            "declaring a backlog as {role:?}: {declared} {body}"
        );
        if !oversees {
            assert_eq!(declared, StatusCode::FORBIDDEN, "{body}");
        }
        let (listed, _) = fixture
            .call(Method::GET, "/staff/v1/backlogs", Some(&token), None)
            .await;
        assert_eq!(listed, StatusCode::OK, "the backlogs as {role:?}");
    }
}

/// Every route of the staff router, with a placeholder request.
fn every_route() -> Vec<(Method, String)> {
    let id = POTHOLES.0;
    let mut routes: Vec<(Method, String)> = request_routes()
        .into_iter()
        .map(|route| {
            (
                route.method,
                format!("/staff/v1/requests/{id}{}", route.suffix),
            )
        })
        .collect();
    routes.extend([
        (Method::POST, format!("/staff/v1/requests/{id}/unmerge")),
        (Method::POST, format!("/staff/v1/requests/{id}/media")),
        (
            Method::GET,
            format!("/staff/v1/requests/{id}/media/photo.jpg"),
        ),
        (
            Method::POST,
            format!("/staff/v1/requests/{id}/media/m1/privacy"),
        ),
        (
            Method::GET,
            "/staff/v1/queue?department=public-works".into(),
        ),
        (Method::GET, "/staff/v1/audit".into()),
        (Method::GET, "/staff/v1/backlogs".into()),
        (Method::POST, "/staff/v1/backlogs".into()),
        (Method::DELETE, "/staff/v1/backlogs/b1".into()),
    ]);
    routes
}

/// A token signed with `secret` for the given issuer and audience, as any JWT library makes it.
fn crafted(secret: &[u8], issuer: &str, audience: &str, issued: u64, expires: u64) -> String {
    let claims = json!({
        "iss": issuer, "aud": audience, "iat": issued, "nbf": issued, "exp": expires,
        "sub": "local:matrix", "name": "Matrix", "role": "admin", "department": OWN,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

#[tokio::test]
async fn every_route_refuses_a_caller_without_a_good_token() {
    let fixture = Fixture::new().await;
    let t = now();
    let admin_for = |secret: &[u8], issuer: &str, audience: &str, issued: u64, expires: u64| {
        crafted(secret, issuer, audience, issued, expires)
    };
    // The crafting is right: with the city's secret, issuer and audience an admin gets in.
    let good = admin_for(SECRET, LOCAL_ISSUER, LOCAL_AUDIENCE, t, t + 600);
    let (status, body) = fixture
        .call(Method::GET, "/staff/v1/audit", Some(&good), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let unsigned = {
        let header = base64_url(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = good.split('.').nth(1).unwrap();
        format!("{header}.{payload}.")
    };
    let bad_tokens = [
        ("no token", None),
        ("not a JWT", Some("let-me-in".to_string())),
        (
            "expired",
            Some(admin_for(
                SECRET,
                LOCAL_ISSUER,
                LOCAL_AUDIENCE,
                t - 1200,
                t - 600,
            )),
        ),
        (
            "forged (another secret)",
            Some(admin_for(
                b"guessed",
                LOCAL_ISSUER,
                LOCAL_AUDIENCE,
                t,
                t + 600,
            )),
        ),
        (
            "another city's runner (its own secret)",
            Some(
                TokenKeys::from_secret(b"riverton's secret")
                    .issue(&claims(Role::Admin, Some(OWN)), t)
                    .unwrap(),
            ),
        ),
        (
            "wrong audience",
            Some(admin_for(
                SECRET,
                LOCAL_ISSUER,
                "cityfix-residents",
                t,
                t + 600,
            )),
        ),
        (
            "wrong issuer",
            Some(admin_for(
                SECRET,
                "someone-else",
                LOCAL_AUDIENCE,
                t,
                t + 600,
            )),
        ),
        (
            "living longer than 12 hours",
            Some(admin_for(
                SECRET,
                LOCAL_ISSUER,
                LOCAL_AUDIENCE,
                t,
                t + 13 * 3600,
            )),
        ),
        (
            "not yet valid",
            Some(admin_for(
                SECRET,
                LOCAL_ISSUER,
                LOCAL_AUDIENCE,
                t + 3600,
                t + 4000,
            )),
        ),
        ("unsigned (alg none)", Some(unsigned)),
    ];
    let routes = every_route();
    let mut wrong = Vec::new();
    for (method, path) in &routes {
        for (what, token) in &bad_tokens {
            let (status, body) = fixture
                .call(method.clone(), path, token.as_deref(), Some(json!({})))
                .await;
            if status != StatusCode::UNAUTHORIZED {
                wrong.push(format!("{method} {path} with {what}: {status} {body}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} calls:\n{}",
        wrong.len(),
        routes.len() * bad_tokens.len(),
        wrong.join("\n")
    );
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
