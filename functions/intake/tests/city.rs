//! `GET /api/v1/city` describes the city of the folder it was started on, and nothing personal:
//! the demo city and a second, small one answer with their own names, languages and shapes.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

fn folder(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

async fn get(dir: &Path, uri: &str) -> (StatusCode, Option<String>, String) {
    let city = cityfix_config::load_city(dir).unwrap();
    let site = cityfix_config::read_site(dir).unwrap();
    let app = intake::city_router(intake::CitySite::new(&city, &site));
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let cache = response
        .headers()
        .get(header::CACHE_CONTROL)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, cache, String::from_utf8(bytes.to_vec()).unwrap())
}

fn feature_names(collection: &Value) -> Vec<&str> {
    collection["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_demo_city_describes_itself_for_the_resident_page() {
    let (status, cache, text) = get(&folder("config/hartford"), "/api/v1/city").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cache.as_deref(), Some("public, max-age=300"));
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["name"], "City of Hartford");
    assert_eq!(body["timezone"], "America/New_York");
    assert_eq!(body["contact"]["phone"], "(860) 555-0311");
    assert_eq!(body["languages"], serde_json::json!(["en", "es"]));
    assert!(body["emergency"]["es"].as_str().unwrap().contains("911"));
    assert!(body["map"]["tile_url"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    let neighbourhoods = feature_names(&body["map"]["neighbourhoods"]);
    assert!(neighbourhoods.contains(&"Downtown"), "{neighbourhoods:?}");
    assert_eq!(feature_names(&body["map"]["boundary"]).len(), 1);

    // Staff members' names and addresses, and the Open311 keys, stay in the city folder.
    for private in [
        "dana.ortiz",
        "Dana Ortiz",
        "demo-open311-key",
        "demo-asset-system-key",
    ] {
        assert!(!text.contains(private), "{private} is not public");
    }
}

#[tokio::test]
async fn another_city_folder_gives_another_city_with_its_own_language() {
    let dir = folder("tests/cities/riverton");
    let (status, _, text) = get(&dir, "/api/v1/city").await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["name"], "Town of Riverton");
    assert_eq!(body["timezone"], "America/Denver");
    assert_eq!(body["languages"], serde_json::json!(["en", "fr"]));
    assert_eq!(body["message_languages"], serde_json::json!(["fr"]));
    assert_eq!(body["map"]["tile_url"], Value::Null);
    assert_eq!(
        feature_names(&body["map"]["neighbourhoods"]),
        ["Old Mill", "Eastbank"]
    );
    assert!(!text.contains("Hartford"));

    let (status, _, french) = get(&dir, "/api/v1/city/messages/fr").await;
    assert_eq!(status, StatusCode::OK);
    let french: Value = serde_json::from_str(&french).unwrap();
    assert_eq!(french["report.heading"], "Signaler un problème");

    let (status, _, refusal) = get(&dir, "/api/v1/city/messages/es").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        refusal.contains("no messages of its own in `es`"),
        "{refusal}"
    );
}

async fn search_address(query: &str) -> (StatusCode, Value) {
    let world = cityfix_testing::World::new();
    let app = intake::router(intake::Intake {
        deps: cityfix_testing::intake_deps(&world),
        public_url: "http://cityfix.test".into(),
        media: std::sync::Arc::new(world.media.clone()),
    });
    let request = Request::builder()
        .uri(format!("/api/v1/addresses?{query}"))
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn the_address_search_places_a_known_address_and_suggests_for_an_unknown_one() {
    let (status, body) = search_address("q=550+main+st").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["found"]["address"], "550 Main Street");
    assert!((body["found"]["lat"].as_f64().unwrap() - 41.76).abs() < 0.05);

    let (status, body) = search_address("q=551+Mian+Street").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["found"], Value::Null);
    assert!(
        body["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().contains("Main Street")),
        "{body}"
    );

    let (status, body) = search_address("q=++").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "q");
}
