//! The unsubscribe link over HTTP: the page asks, one click answers, and a forged or expired link
//! changes nothing.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::{Duration, Utc};
use cityfix_app::links::{LinkSigner, Purpose};
use cityfix_app::ports::{RequestStore, SystemClock};
use cityfix_testing::World;
use http_body_util::BodyExt;
use tower::ServiceExt;

fn signer() -> LinkSigner {
    LinkSigner::new(b"a test link secret")
}

fn app(world: &World) -> axum::Router {
    intake::unsubscribe_router(intake::Preferences {
        store: Arc::new(world.store.clone()),
        links: signer(),
        clock: Arc::new(SystemClock),
        city: "Hartford".into(),
        queue: Arc::new(world.queue.clone()),
        residents: Default::default(),
    })
}

async fn call(world: &World, method: &str, token: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(format!("/api/v1/unsubscribe?t={token}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("List-Unsubscribe=One-Click"))
        .unwrap();
    let response = app(world).oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

const RECIPIENT: &str = "email:0a1b2c3d4e5f6071";

#[tokio::test]
async fn the_page_asks_and_changes_nothing_then_one_click_turns_the_channel_off() {
    let world = World::new();
    let token = signer().sign(
        Purpose::Unsubscribe,
        RECIPIENT,
        Utc::now() + Duration::days(30),
    );

    let (status, page) = call(&world, "GET", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Stop e-mails from Hartford 311?"));
    assert!(page.contains("method=\"post\""));
    assert!(!world.store.channel_off(RECIPIENT, "email").await.unwrap());

    for _ in 0..2 {
        let (status, page) = call(&world, "POST", &token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("no more e-mails"));
    }
    assert!(world.store.channel_off(RECIPIENT, "email").await.unwrap());
    assert!(!world.store.channel_off(RECIPIENT, "sms").await.unwrap());
}

#[tokio::test]
async fn a_forged_or_expired_link_is_told_so_and_changes_nothing() {
    let world = World::new();
    let good = signer().sign(
        Purpose::Unsubscribe,
        RECIPIENT,
        Utc::now() + Duration::days(30),
    );
    let forged = good.replace("0a1b", "ffff");
    let foreign = LinkSigner::new(b"someone else's secret").sign(
        Purpose::Unsubscribe,
        RECIPIENT,
        Utc::now() + Duration::days(30),
    );
    let expired = signer().sign(
        Purpose::Unsubscribe,
        RECIPIENT,
        Utc::now() - Duration::days(1),
    );
    for method in ["GET", "POST"] {
        for token in [forged.as_str(), foreign.as_str(), "", "nonsense"] {
            let (status, page) = call(&world, method, token).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {token}");
            assert!(page.contains("not one of ours") && page.contains("Nothing was changed"));
        }
        let (status, page) = call(&world, method, &expired).await;
        assert_eq!(status, StatusCode::GONE);
        assert!(page.contains("expired"));
    }
    assert!(!world.store.channel_off(RECIPIENT, "email").await.unwrap());
    assert!(!world
        .store
        .channel_off("email:ffff2c3d4e5f6071", "email")
        .await
        .unwrap());
}

#[tokio::test]
async fn a_spanish_speaking_browser_reads_the_pages_in_spanish_only() {
    let world = World::new();
    let token = signer().sign(
        Purpose::Unsubscribe,
        RECIPIENT,
        Utc::now() + Duration::days(30),
    );
    let in_spanish = |method: &str, token: &str| {
        Request::builder()
            .method(method)
            .uri(format!("/api/v1/unsubscribe?t={token}"))
            .header(header::ACCEPT_LANGUAGE, "es-MX,es;q=0.9,en;q=0.5")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("List-Unsubscribe=One-Click"))
            .unwrap()
    };
    let read = |response: axum::response::Response| async move {
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    };

    let page = read(
        app(&world)
            .oneshot(in_spanish("GET", &token))
            .await
            .unwrap(),
    )
    .await;
    assert!(page.contains("lang=\"es\""), "{page}");
    assert!(page.contains("¿Dejar de recibir correos electrónicos de Hartford 311?"));
    assert!(
        page.contains("No recibir más") && !page.contains("Stop"),
        "{page}"
    );

    let done = read(
        app(&world)
            .oneshot(in_spanish("POST", &token))
            .await
            .unwrap(),
    )
    .await;
    assert!(
        done.contains("No recibirá más correos electrónicos"),
        "{done}"
    );
    assert!(world.store.channel_off(RECIPIENT, "email").await.unwrap());

    let forged = app(&world)
        .oneshot(in_spanish("GET", "u1.forged"))
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    let forged = read(forged).await;
    assert!(
        forged.contains("No se cambió nada") && !forged.contains("Nothing"),
        "{forged}"
    );
}
