//! Registering a phone app for push: a device id for a good token, the same again for the same
//! token, a clear refusal for an unknown platform or a malformed token; and the push to it.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use cityfix_app::messages::{NotifyEvent, NotifyKind};
use cityfix_app::notify::notify;
use cityfix_app::ports::{RequestStore, SystemClock};
use cityfix_domain::{Contact, TrackingNumber};
use cityfix_testing::{notify_deps, seed_request_by, World};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const FCM_TOKEN: &str = "cT8s-Xk3:APA91bH_0123456789abcdefghijklmnopqrstuvwxyz";

async fn register(world: &World, body: Value) -> (StatusCode, Value) {
    let app = intake::devices_router(intake::Devices {
        store: Arc::new(world.store.clone()),
        registry: Arc::new(world.outbox.clone()),
        clock: Arc::new(SystemClock),
        city: "Hartford".into(),
    });
    let request = Request::builder()
        .method("POST")
        .uri("/api/v1/devices")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn a_registered_device_gets_the_push_of_a_report_that_names_it() {
    // given an app that registered its token
    let world = World::new();
    let (status, body) = register(&world, json!({ "platform": "fcm", "token": FCM_TOKEN })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["device_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("dev-"));
    assert!(
        !body.to_string().contains(FCM_TOKEN),
        "the token is not echoed"
    );
    let (_, again) = register(&world, json!({ "platform": "fcm", "token": FCM_TOKEN })).await;
    assert_eq!(
        again["device_id"],
        id.as_str(),
        "the same token, the same device"
    );

    // when a report made from it is acknowledged
    seed_request_by(
        &world.store,
        "7K3M-9QZ2",
        "pothole",
        41.7677,
        -72.67602,
        Some(Contact {
            device_id: Some(id.clone()),
            ..Contact::default()
        }),
    )
    .await;
    let deps = notify_deps(&world, "http://127.0.0.1:3000");
    let sent = notify(
        &deps,
        &NotifyEvent {
            event_id: "7K3M-9QZ2/routed".into(),
            request_id: TrackingNumber::parse("7K3M-9QZ2").unwrap(),
            kind: NotifyKind::Acknowledged,
        },
    )
    .await
    .unwrap();

    // then it is pushed to at the endpoint its registration gave
    assert_eq!(sent.sent, 1);
    let push = world
        .outbox
        .list()
        .unwrap()
        .into_iter()
        .find(|e| e.channel == "push")
        .expect("a push");
    let file: Value = serde_json::from_slice(&world.outbox.read(&push.file).unwrap()).unwrap();
    let endpoint = world.store.device(&id).await.unwrap().unwrap().endpoint;
    assert_eq!(file["device"], cityfix_domain::recipient_hash(&endpoint));
    assert_eq!(file["request_id"], "7K3M-9QZ2");
}

#[tokio::test]
async fn an_unknown_platform_or_a_malformed_token_is_refused_with_a_reason() {
    let world = World::new();
    for (body, field) in [
        (
            json!({ "platform": "webpush", "token": FCM_TOKEN }),
            "platform",
        ),
        (json!({ "platform": "apns", "token": "0a1b" }), "token"),
        (
            json!({ "platform": "apns", "token": "zz".repeat(32) }),
            "token",
        ),
        (json!({ "platform": "fcm", "token": "short" }), "token"),
        (
            json!({ "platform": "fcm", "token": format!("{FCM_TOKEN} x") }),
            "token",
        ),
    ] {
        let (status, answer) = register(&world, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
        assert!(!answer.to_string().contains(FCM_TOKEN), "{answer}");
    }
    let (status, _) = register(&world, json!({ "platform": "fcm" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let device = cityfix_app::devices::device_id(
        cityfix_app::ports::Platform::Fcm,
        &format!("{FCM_TOKEN} x"),
    );
    assert_eq!(world.store.device(&device).await.unwrap(), None);
}
