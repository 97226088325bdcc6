//! The intake router fed the sample HTTP API (v2) events from `events/`, converted as lambda_http does.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cityfix_app::ports::QueueConsumer;
use cityfix_testing::{intake_deps, repo_root, seed_sample_pothole, World};
use http_body_util::BodyExt;
use intake::Intake;
use serde_json::Value;
use tower::ServiceExt;

fn app(world: &World) -> axum::Router {
    intake::router(Intake {
        deps: intake_deps(world),
        public_url: "https://hartford.example/311".into(),
        media: Arc::new(world.media.clone()),
    })
}

/// The request Lambda hands the router for an `events/` sample.
fn lambda_request(relative: &str) -> Request<Body> {
    let text = std::fs::read_to_string(repo_root().join("events").join(relative)).unwrap();
    lambda_http::request::from_str(&text)
        .unwrap_or_else(|e| panic!("{relative} is not an API Gateway event: {e}"))
        .map(|body| Body::from(body.to_vec()))
}

async fn call(world: &World, relative: &str) -> (StatusCode, String) {
    let response = app(world).oneshot(lambda_request(relative)).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn the_sample_post_stores_a_report_queues_it_and_answers_without_personal_data() {
    let world = World::new();
    let (status, body) = call(&world, "intake/http-post.json").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["status"], "submitted");
    assert!(!body.contains("resident@example.org"));
    let jobs = world.queue.receive("routing", 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0]
        .body
        .contains(answer["service_request_id"].as_str().unwrap()));

    // the same event again (a client retry with its Idempotency-Key) makes no second report
    let (again, body_again) = call(&world, "intake/http-post.json").await;
    assert_eq!(again, StatusCode::OK);
    let replayed: Value = serde_json::from_str(&body_again).unwrap();
    assert_eq!(replayed["service_request_id"], answer["service_request_id"]);
}

#[tokio::test]
async fn the_sample_get_lists_open_potholes_in_open311_json() {
    let world = World::new();
    let pothole = seed_sample_pothole(&world.store, Some("resident@example.org")).await;
    cityfix_testing::force_status(
        &world.store,
        pothole,
        cityfix_domain::Status::Open,
        "routed",
    )
    .await;
    let (status, body) = call(&world, "intake/http-get.json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let requests: Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = requests
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["7K3M-9QZ2"]);
    assert!(!body.contains("resident@example.org"));
}
