//! The staff router as deployed (Cognito claims from the JWT authorizer's request context), fed the
//! sample HTTP API (v2) events from `events/`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cityfix_app::ports::RequestStore;
use cityfix_app::transition::StatusDeps;
use cityfix_domain::{Status, TrackingNumber};
use cityfix_http::auth::{CognitoTokens, StaffSignIn};
use cityfix_testing::{
    demo_city, force_status, repo_root, seed_request, seed_sample_pothole, FixedClock, World,
};
use http_body_util::BodyExt;
use serde_json::Value;
use status::{staff_router, Staff};
use tower::ServiceExt;

fn app(world: &World) -> axum::Router {
    app_at(world, sample_time())
}

fn app_at(world: &World, now: chrono::DateTime<chrono::Utc>) -> axum::Router {
    staff_router(Staff {
        deps: StatusDeps {
            city: demo_city(),
            store: Arc::new(world.store.clone()),
            queue: Arc::new(world.queue.clone()),
            clock: Arc::new(FixedClock(now)),
            media: Arc::new(world.media.clone()),
        },
        metrics: Arc::new(world.store.clone()),
        sign_in: StaffSignIn::ApiGatewayJwt(CognitoTokens {
            issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI".into(),
            audience: "4l7k2m9n3p5q8r1s6t0u2v4w6x".into(),
        }),
    })
}

/// When the sample events were sent (their `timeEpoch`), within their tokens' hour.
fn sample_time() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_795_515_300, 0).unwrap()
}

fn lambda_request(relative: &str) -> Request<Body> {
    let text = std::fs::read_to_string(repo_root().join("events").join(relative)).unwrap();
    lambda_http::request::from_str(&text)
        .unwrap_or_else(|e| panic!("{relative} is not an API Gateway event: {e}"))
        .map(|body| Body::from(body.to_vec()))
}

async fn call(world: &World, request: Request<Body>) -> (StatusCode, Value) {
    let response = app(world).oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

/// Two open potholes of Public Works, the second a duplicate of the first.
async fn two_open_potholes(world: &World) {
    for id in ["7K3M-9QZ2", "7K3M-9QZ3"] {
        let seeded = if id == "7K3M-9QZ2" {
            seed_sample_pothole(&world.store, Some("first@example.org")).await
        } else {
            seed_request(&world.store, id, "pothole", 41.7678, -72.6760, None).await
        };
        let mut open = force_status(&world.store, seeded, Status::Open, "routed").await;
        let version = open.version;
        open.department = Some("public-works".into());
        open.version += 1;
        let entry = cityfix_domain::TimelineEntry {
            event_id: "assigned".into(),
            at: open.updated_at,
            kind: cityfix_domain::TimelineKind::Note,
            status: None,
            note: None,
            public: false,
            actor: None,
            internal_note: None,
            media: Vec::new(),
        };
        world.store.update(&open, version, &entry).await.unwrap();
    }
}

#[tokio::test]
async fn a_department_member_signed_in_with_cognito_reads_a_request_without_contact_details() {
    let world = World::new();
    two_open_potholes(&world).await;
    let (status, body) = call(&world, lambda_request("staff/http-get.json")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["service_request_id"], "7K3M-9QZ2");
    assert_eq!(body["department"], "public-works");
    assert_eq!(body["reporter_can_be_reached"], true);
    assert!(!body.to_string().contains("first@example.org"));
}

#[tokio::test]
async fn the_sample_merge_links_the_duplicate_once() {
    let world = World::new();
    two_open_potholes(&world).await;
    let (status, body) = call(&world, lambda_request("staff/http-post.json")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "changed");
    let (again, body) = call(&world, lambda_request("staff/http-post.json")).await;
    assert_eq!(again, StatusCode::OK);
    assert_eq!(body["outcome"], "already_applied");
    let merged = world
        .store
        .get(&TrackingNumber::parse("7K3M-9QZ2").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(merged.duplicate_of.unwrap().as_str(), "7K3M-9QZ3");
    // and the original counts the duplicate once, however often the merge was sent
    let original = world
        .store
        .get(&TrackingNumber::parse("7K3M-9QZ3").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(original.duplicates, 1);
    assert_eq!(
        original.status,
        Status::Open,
        "the original is worked as before"
    );
}

#[tokio::test]
async fn without_the_authorizer_context_or_a_staff_group_the_call_is_refused() {
    let world = World::new();
    two_open_potholes(&world).await;

    // a request that did not pass the authorizer (no claims in its context)
    let mut bare = lambda_request("staff/http-get.json");
    bare.extensions_mut()
        .remove::<lambda_http::request::RequestContext>();
    let (status, _) = call(&world, bare).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // a signed-in account in no staff group
    let text = std::fs::read_to_string(repo_root().join("events/staff/http-get.json")).unwrap();
    let outsider = text.replace("\"[staff]\"", "\"[]\"");
    let request = lambda_http::request::from_str(&outsider)
        .unwrap()
        .map(|body| Body::from(body.to_vec()));
    let (status, body) = call(&world, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test]
async fn the_sample_token_is_refused_once_it_has_expired() {
    let world = World::new();
    two_open_potholes(&world).await;
    // the sample's token expires at 1795518000; a minute later
    let later = chrono::DateTime::from_timestamp(1_795_518_060, 0).unwrap();
    let response = app_at(&world, later)
        .oneshot(lambda_request("staff/http-get.json"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["message"], "invalid token", "{body}");
}
