//! "Has it been fixed?" over HTTP: the page asks and changes nothing, the button records the
//! answer ("not fixed" hands status the reopening), a forged or expired link changes nothing.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::{Duration, Utc};
use cityfix_app::links::LinkSigner;
use cityfix_app::messages::StatusCommand;
use cityfix_app::ports::{QueueConsumer, RequestStore, SystemClock};
use cityfix_app::survey::answer_token;
use cityfix_app::work::WorkAction;
use cityfix_domain::city::ResidentRules;
use cityfix_domain::{Resolution, ServiceRequest, Status};
use cityfix_testing::{force_status, seed_request, World};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn signer() -> LinkSigner {
    LinkSigner::new(b"a test link secret")
}

async fn call(world: &World, method: &str, token: &str) -> (StatusCode, String) {
    let app = intake::unsubscribe_router(intake::Preferences {
        store: Arc::new(world.store.clone()),
        links: signer(),
        clock: Arc::new(SystemClock),
        city: "Hartford".into(),
        queue: Arc::new(world.queue.clone()),
        residents: ResidentRules::default(),
    });
    let request = Request::builder()
        .method(method)
        .uri(format!("/api/v1/survey?t={token}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("List-Unsubscribe=One-Click"))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// A pothole closed as fixed `days_ago`.
async fn fixed(world: &World, days_ago: i64) -> ServiceRequest {
    let mut request = seed_request(
        &world.store,
        "7K3M-9QZ2",
        "pothole",
        41.7677,
        -72.67602,
        Some("ana@example.org"),
    )
    .await;
    request.resolution = Some(Resolution::Fixed);
    request.closed_at = Some(Utc::now() - Duration::days(days_ago));
    force_status(&world.store, request, Status::Closed, "closed").await
}

async fn answers(world: &World) -> usize {
    let now = Utc::now();
    world
        .store
        .survey_answers(now - Duration::days(60), now, 10)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn the_page_asks_and_the_button_records_not_fixed_and_hands_status_the_reopening() {
    let world = World::new();
    let request = fixed(&world, 3).await;
    let token = answer_token(&signer(), &ResidentRules::default(), &request, false).unwrap();

    let (status, page) = call(&world, "GET", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Has 7K3M-9QZ2 been fixed?"), "{page}");
    assert!(page.contains("Your answer: No, it is not fixed."), "{page}");
    assert_eq!(answers(&world).await, 0, "a GET changes nothing");

    let (status, page) = call(&world, "POST", &token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("opens the report again"), "{page}");
    assert_eq!(answers(&world).await, 1);
    let commands = world.queue.receive("status", 10).await.unwrap();
    assert_eq!(commands.len(), 1);
    let command: StatusCommand = serde_json::from_str(&commands[0].body).unwrap();
    let StatusCommand::Work(work) = command else {
        panic!("{command:?}")
    };
    assert!(matches!(work.action, WorkAction::Reopen { .. }));
    assert_eq!(work.request_id, request.id);
}

#[tokio::test]
async fn a_forged_or_expired_answer_is_told_so_and_changes_nothing() {
    let world = World::new();
    // closed 20 days ago: the 14-day reopen window, and so the links, have run out
    let old = fixed(&world, 20).await;
    let expired = answer_token(&signer(), &ResidentRules::default(), &old, false).unwrap();
    let forged = expired.replacen(":n.", ":y.", 1);
    let foreign = answer_token(
        &LinkSigner::new(b"someone else's secret"),
        &ResidentRules::default(),
        &old,
        true,
    )
    .unwrap();
    for (token, expected) in [
        (expired.as_str(), StatusCode::GONE),
        (forged.as_str(), StatusCode::BAD_REQUEST),
        (foreign.as_str(), StatusCode::BAD_REQUEST),
        ("", StatusCode::BAD_REQUEST),
    ] {
        for method in ["GET", "POST"] {
            let (status, page) = call(&world, method, token).await;
            assert_eq!(status, expected, "{method} {token}: {page}");
            assert!(page.contains("Nothing was changed"), "{page}");
        }
    }
    assert_eq!(answers(&world).await, 0);
    assert!(world.queue.receive("status", 10).await.unwrap().is_empty());
}
