//! The catalogue in the reader's language (services.toml's `[service.translations.es]`): the web
//! API's services and suggestions with `lang`, Open311's services and service definitions with
//! `locale` or `lang` (and in the city's own language without), and the letters to a reporter
//! who wrote in Spanish.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use cityfix_app::messages::{NotifyEvent, NotifyKind};
use cityfix_app::notify::notify;
use cityfix_domain::TrackingNumber;
use cityfix_testing::{demo_city, intake_deps, notify_deps, World};
use http_body_util::BodyExt;
use intake::Intake;
use serde_json::{json, Value};
use tower::ServiceExt;

const PUBLIC_URL: &str = "http://127.0.0.1:3000";

fn app(world: &World) -> Router {
    intake::router(Intake {
        deps: intake_deps(world),
        public_url: PUBLIC_URL.into(),
        media: Arc::new(world.media.clone()),
    })
    .merge(intake::suggest_router(&demo_city().services))
}

async fn call(app: &Router, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(json) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn json_of(app: &Router, uri: &str) -> Value {
    let (status, text) = call(app, "GET", uri, None).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn pothole(list: &Value) -> &Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["service_code"] == "pothole")
        .unwrap()
}

#[tokio::test]
async fn the_web_api_gives_the_catalogue_in_the_language_asked() {
    let world = World::new();
    let app = app(&world);
    let own = json_of(&app, "/api/v1/services").await;
    let es = json_of(&app, "/api/v1/services?lang=es").await;
    let fr = json_of(&app, "/api/v1/services?lang=fr").await;
    assert_eq!(pothole(&own["services"])["service_name"], "Pothole");
    assert_eq!(pothole(&fr["services"])["service_name"], "Pothole");
    let bache = pothole(&es["services"]);
    assert_eq!(bache["service_name"], "Bache");
    assert_eq!(bache["group"], "Calles y aceras");
    assert_eq!(
        bache["attributes"][0]["description"],
        "¿Qué tamaño tiene el bache, más o menos?"
    );
    assert_eq!(
        bache["attributes"][0]["values"][0],
        json!({ "key": "small", "name": "Pequeño (menor que un plato)" })
    );
    let (status, _) = call(&app, "GET", "/api/v1/services?language=es", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let suggested = json_of(&app, "/api/v1/services/suggest?q=hay%20un%20hoyo&lang=es").await;
    assert_eq!(suggested["suggestions"][0]["service_code"], "pothole");
    assert_eq!(suggested["suggestions"][0]["service_name"], "Bache");
    let suggested = json_of(&app, "/api/v1/services/suggest?q=hay%20un%20hoyo").await;
    assert_eq!(suggested["suggestions"][0]["service_name"], "Pothole");
}

#[tokio::test]
async fn open311_stays_in_the_citys_language_unless_asked_with_locale_or_lang() {
    let world = World::new();
    let app = app(&world);
    let own = json_of(&app, "/open311/v2/services.json").await;
    assert_eq!(pothole(&own)["service_name"], "Pothole");
    for asked in ["locale=es", "locale=es-MX", "locale=es_US", "lang=es"] {
        let es = json_of(&app, &format!("/open311/v2/services.json?{asked}")).await;
        assert_eq!(pothole(&es)["service_name"], "Bache", "{asked}");
        assert_eq!(pothole(&es)["group"], "Calles y aceras", "{asked}");
    }
    let (_, xml) = call(&app, "GET", "/open311/v2/services.xml?locale=es", None).await;
    assert!(xml.contains("<service_name>Bache</service_name>"), "{xml}");
    let unknown = json_of(&app, "/open311/v2/services.json?locale=de").await;
    assert_eq!(pothole(&unknown)["service_name"], "Pothole");

    let own = json_of(&app, "/open311/v2/services/pothole.json").await;
    assert_eq!(
        own["attributes"][0]["description"],
        "About how big is the pothole?"
    );
    let es = json_of(&app, "/open311/v2/services/pothole.json?locale=es").await;
    assert_eq!(
        es["attributes"][0]["description"],
        "¿Qué tamaño tiene el bache, más o menos?"
    );
}

#[tokio::test]
async fn a_reporter_who_writes_in_spanish_gets_letters_naming_the_service_in_spanish() {
    let world = World::new();
    let app = app(&world);
    let center = demo_city().center;
    let (status, text) = call(
        &app,
        "POST",
        "/api/v1/requests",
        Some(json!({
            "service_code": "pothole", "lat": center.lat(), "long": center.long(),
            "attributes": { "pothole_size": "large" },
            "email": "vecina@example.org", "language": "es",
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let id: Value = serde_json::from_str(&text).unwrap();
    let request_id = TrackingNumber::parse(id["service_request_id"].as_str().unwrap()).unwrap();
    // The letter routing it sends (the router is not part of this test).
    let event = NotifyEvent {
        event_id: format!("{request_id}/routed"),
        request_id,
        kind: NotifyKind::Acknowledged,
    };
    notify(&notify_deps(&world, PUBLIC_URL), &event)
        .await
        .unwrap();
    let letters: Vec<String> = world
        .outbox
        .list()
        .unwrap()
        .into_iter()
        .filter(|entry| entry.channel == "email")
        .map(|entry| String::from_utf8(world.outbox.read_html(&entry.file).unwrap()).unwrap())
        .collect();
    assert!(!letters.is_empty());
    for letter in &letters {
        assert!(letter.contains("Bache"), "{letter}");
    }
}
