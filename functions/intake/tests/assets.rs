//! Reports about an asset (the demo city's streetlights): an asset id named by the web client or
//! an Open311 client (`attribute[asset_id]`), or the nearest pole within the service's 30 m,
//! refused when unknown, and shown back in Open311's extended attributes in JSON and XML; the
//! public list of a service's assets near a point or in a box.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use cityfix_app::ports::{RequestQuery, RequestStore};
use cityfix_domain::{AssetRef, ServiceRequest};
use cityfix_testing::{intake_deps, World};
use http_body_util::BodyExt;
use intake::Intake;
use serde_json::{json, Value};
use tower::ServiceExt;

const KEY: &str = "demo-open311-key";
/// Pole SL-014-020 of the demo layer, on Main Street by 710.
const POLE: (&str, f64, f64) = ("SL-014-020", 41.76777, -72.673629);
/// Metres north of a latitude, in degrees.
fn north(m: f64) -> f64 {
    m / 111_320.0
}

struct Harness {
    world: World,
    app: Router,
}

fn harness() -> Harness {
    let world = World::new();
    let app = intake::router(Intake {
        deps: intake_deps(&world),
        public_url: "http://cityfix.test".into(),
        media: Arc::new(world.media.clone()),
    });
    Harness { world, app }
}

impl Harness {
    async fn call(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        self.call(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let (status, body) = self.get(path).await;
        (
            status,
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")),
        )
    }

    async fn post_json(&self, body: Value) -> (StatusCode, Value) {
        let request = Request::post("/api/v1/requests")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, body) = self.call(request).await;
        (status, serde_json::from_str(&body).unwrap())
    }

    async fn post_form(&self, path: &str, form: &str) -> (StatusCode, String) {
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .unwrap();
        self.call(request).await
    }

    async fn stored(&self) -> Vec<ServiceRequest> {
        self.world
            .store
            .search(&RequestQuery {
                page: 1,
                page_size: 100,
                ..RequestQuery::default()
            })
            .await
            .unwrap()
    }
}

fn streetlight(lat: f64, long: f64, asset_id: Option<&str>) -> Value {
    let mut body = json!({ "service_code": "streetlight_out", "lat": lat, "long": long, "description": "Dark all night" });
    if let Some(id) = asset_id {
        body["asset_id"] = json!(id);
    }
    body
}

fn pole(id: &str) -> Option<AssetRef> {
    Some(AssetRef {
        layer: "streetlights".into(),
        id: id.into(),
    })
}

#[tokio::test]
async fn a_report_names_its_pole_or_is_snapped_to_the_nearest_within_30_m() {
    let h = harness();
    let (id, lat, long) = POLE;

    // named by the resident, from 100 m away
    let (status, named) = h
        .post_json(streetlight(lat + north(100.0), long, Some(id)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{named}");
    assert_eq!(named["asset_id"], id);

    // none named, 10 m from the pole: that pole
    let (status, snapped) = h
        .post_json(streetlight(lat + north(10.0), long, None))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{snapped}");
    assert_eq!(snapped["asset_id"], id);

    // none named, and no pole within 30 m (Bushnell Park's middle): none
    let (status, alone) = h.post_json(streetlight(41.76445, -72.68335, None)).await;
    assert_eq!(status, StatusCode::CREATED, "{alone}");
    assert_eq!(alone["asset_id"], Value::Null);

    let mut stored: Vec<(String, Option<AssetRef>)> = h
        .stored()
        .await
        .into_iter()
        .map(|r| (r.id.to_string(), r.asset))
        .collect();
    stored.sort();
    let mut expected = vec![
        (
            named["service_request_id"].as_str().unwrap().to_string(),
            pole(id),
        ),
        (
            snapped["service_request_id"].as_str().unwrap().to_string(),
            pole(id),
        ),
        (
            alone["service_request_id"].as_str().unwrap().to_string(),
            None,
        ),
    ];
    expected.sort();
    assert_eq!(stored, expected);
}

#[tokio::test]
async fn an_unknown_asset_or_one_for_a_service_without_assets_is_a_400_with_the_reason() {
    let h = harness();
    let (_, lat, long) = POLE;
    let (status, refused) = h
        .post_json(streetlight(lat, long, Some("SL-999-999")))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"]["code"], "unknown_asset");
    assert_eq!(refused["error"]["field"], "asset_id");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`SL-999-999` is not an asset of layer `streetlights`"),
        "{refused}"
    );

    let pothole = json!({ "service_code": "pothole", "lat": lat, "long": long, "attributes": { "pothole_size": "small" }, "asset_id": "SL-014-020" });
    let (status, refused) = h.post_json(pothole).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"]["code"], "unknown_asset");

    let (status, body) = h
        .post_form(
            "/open311/v2/requests.json",
            &format!("api_key={KEY}&service_code=streetlight_out&lat={lat}&long={long}&attribute%5Basset_id%5D=nope"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("`nope` is not an asset"), "{body}");
    let (status, body) = h
        .post_form(
            "/open311/v2/requests.json",
            &format!("api_key={KEY}&service_code=streetlight_out&lat={lat}&long={long}&attribute%5Basset_id%5D%5B%5D=SL-014-020"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(h.stored().await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn an_open311_client_sends_the_asset_as_an_attribute_and_reads_it_back_in_json_and_xml() {
    let h = harness();
    let (id, lat, long) = POLE;

    let (status, definition) = h
        .get_json("/open311/v2/services/streetlight_out.json")
        .await;
    assert_eq!(status, StatusCode::OK);
    let attribute = definition["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == "asset_id")
        .unwrap_or_else(|| panic!("no asset_id attribute: {definition}"));
    assert_eq!(attribute["required"], false);
    assert_eq!(attribute["datatype"], "string");

    let (status, body) = h
        .post_form(
            "/open311/v2/requests.json",
            &format!("api_key={KEY}&service_code=streetlight_out&lat={}&long={long}&attribute%5Basset_id%5D={id}", lat + north(60.0)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let posted: Value = serde_json::from_str(&body).unwrap();
    let request_id = posted[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();

    let (status, listed) = h
        .get_json(&format!(
            "/open311/v2/requests.json?service_request_id={request_id}&extensions=true"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let extended = &listed[0]["extended_attributes"];
    assert_eq!(extended["asset_id"], id, "{listed}");
    assert_eq!(extended["asset_layer"], "streetlights");

    let (status, xml) = h
        .get(&format!(
            "/open311/v2/requests.xml?service_request_id={request_id}&extensions=true"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        xml.contains(&format!("<asset_id>{id}</asset_id>"))
            && xml.contains("<asset_layer>streetlights</asset_layer>"),
        "{xml}"
    );
    let (_, plain) = h
        .get_json(&format!(
            "/open311/v2/requests.json?service_request_id={request_id}"
        ))
        .await;
    assert!(
        plain[0].get("extended_attributes").is_none(),
        "only with extensions=true"
    );
}

#[tokio::test]
async fn a_service_s_assets_are_listed_near_a_point_nearest_first_or_in_a_box() {
    let h = harness();
    let (id, lat, long) = POLE;
    let (status, near) = h
        .get_json(&format!(
            "/api/v1/services/streetlight_out/assets?lat={lat}&long={long}&radius=80"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{near}");
    assert_eq!(near["layer"], "streetlights");
    assert_eq!(near["snap_m"], 30.0);
    let assets = near["assets"].as_array().unwrap();
    assert_eq!(assets[0]["id"], id);
    assert_eq!(assets[0]["label"], "Main Street, by 710");
    assert_eq!(assets[0]["distance_m"], 0.0);
    assert!(assets.len() >= 2, "{near}");
    let distances: Vec<f64> = assets
        .iter()
        .map(|a| a["distance_m"].as_f64().unwrap())
        .collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]) && distances[distances.len() - 1] <= 80.0);

    let (status, boxed) = h
        .get_json(&format!(
            "/api/v1/services/streetlight_out/assets?bbox={},{},{},{}",
            long - 0.0002,
            lat - 0.0002,
            long + 0.0002,
            lat + 0.0002
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{boxed}");
    let ids: Vec<&str> = boxed["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&id), "{boxed}");
    assert_eq!(boxed["truncated"], false);

    for (path, code) in [
        (
            format!("/api/v1/services/pothole/assets?lat={lat}&long={long}"),
            "no_assets",
        ),
        (
            format!("/api/v1/services/unicorn/assets?lat={lat}&long={long}"),
            "unknown_service",
        ),
        (
            "/api/v1/services/streetlight_out/assets".to_string(),
            "missing_field",
        ),
        (
            "/api/v1/services/streetlight_out/assets?bbox=-72.9,41.7,-72.6,41.8".to_string(),
            "invalid_field",
        ),
        (
            format!("/api/v1/services/streetlight_out/assets?lat={lat}&long={long}&radius=5000"),
            "invalid_field",
        ),
    ] {
        let (status, refused) = h.get_json(&path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {refused}");
        assert_eq!(refused["error"]["code"], code, "{path}: {refused}");
    }
}
