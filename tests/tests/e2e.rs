//! End to end over the local runner: a report goes intake → router → status → notify, survives a restart, and the API matches its OpenAPI document.

use std::time::{Duration, Instant};

use cityfix_local::Running;
use cityfix_tests::city::{
    await_messages, get_json, read, read_until, report as post_report, start_city,
};
use serde_json::{json, Value};

async fn report(city: &Running, email: &str) -> String {
    let body = json!({
        "service_code": "pothole", "lat": 41.7677, "long": -72.67602, "attributes": { "pothole_size": "medium" },
        "description": "Deep hole by the curb", "email": email, "first_name": "Ana"
    });
    post_report(city, &body).await
}

async fn until_open(city: &Running, id: &str) -> (Value, Duration) {
    read_until(city, id, |request| request["status"] == "open").await
}

#[tokio::test]
async fn a_report_is_routed_and_acknowledged_exactly_once() {
    let data = tempfile::tempdir().unwrap();
    let city = start_city(data.path(), true, Duration::from_secs(30)).await;

    let id = report(&city, "ana@example.org").await;
    let (request, _) = until_open(&city, &id).await;

    assert_eq!(request["status"], "open", "{request}");
    assert_eq!(request["agency_responsible"], "Department of Public Works");
    assert_eq!(request["neighbourhood"], "Downtown");
    let kinds: Vec<&str> = request["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["submitted", "routed"]);
    let open311: Value = get_json(&city, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(
        open311[0]["agency_responsible"],
        "Department of Public Works"
    );

    let sent = await_messages(&city, "ana@example.org", 1).await;
    assert_eq!(sent.len(), 1, "exactly one acknowledgement");
    assert!(sent[0].contains(&id) && sent[0].contains("Department of Public Works"));
    let outbox_page = reqwest::get(format!("{}/outbox", city.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(outbox_page.contains(".eml"));
    city.stop().await;
}

#[tokio::test]
async fn a_report_stopped_half_way_completes_after_a_restart() {
    // given a runner whose consumers are not running: the report is stored and queued, no more
    let data = tempfile::tempdir().unwrap();
    let first = start_city(data.path(), false, Duration::from_millis(500)).await;
    let id = report(&first, "ben@example.org").await;
    assert_eq!(read(&first, &id).await["status"], "submitted");
    first.stop().await;

    // when the city starts again on the same data folder
    let second = start_city(data.path(), true, Duration::from_millis(500)).await;

    // then the report completes, with one acknowledgement
    let (request, _) = until_open(&second, &id).await;
    assert_eq!(request["status"], "open");
    assert_eq!(await_messages(&second, "ben@example.org", 1).await.len(), 1);
    second.stop().await;
}

#[tokio::test]
async fn a_message_taken_by_a_consumer_that_died_is_delivered_again() {
    // given a routing job received by a consumer that then died before deleting it
    let data = tempfile::tempdir().unwrap();
    let first = start_city(data.path(), false, Duration::from_millis(300)).await;
    let id = report(&first, "cy@example.org").await;
    let taken = first.queue.receive("routing", 10).await.unwrap();
    assert_eq!(taken.len(), 1);
    let taken_at = Instant::now();
    first.stop().await;

    // when the city restarts, the job is hidden until its visibility timeout passes
    let second = start_city(data.path(), true, Duration::from_millis(300)).await;
    let (request, _) = until_open(&second, &id).await;

    // then it is routed all the same, and acknowledged once
    assert_eq!(request["status"], "open");
    assert!(
        taken_at.elapsed() >= Duration::from_millis(300),
        "it waited for the visibility timeout"
    );
    assert_eq!(await_messages(&second, "cy@example.org", 1).await.len(), 1);
    second.stop().await;
}

#[tokio::test]
async fn the_served_openapi_document_matches_the_api() {
    let data = tempfile::tempdir().unwrap();
    let city = start_city(data.path(), true, Duration::from_secs(30)).await;
    let document: Value = get_json(&city, "/api/v1/openapi.json").await;
    assert_eq!(document["openapi"], "3.1.0");

    // every route the API serves is documented, and nothing else is
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    let mut served: Vec<(String, String)> = intake::API_ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served);

    // real answers validate against the documented schemas
    let validator = |schema: &str| {
        let mut root = document.clone();
        root["$ref"] = json!(format!("#/components/schemas/{schema}"));
        jsonschema::validator_for(&root).unwrap()
    };
    let check = |schema: &str, value: &Value| {
        let errors: Vec<String> = validator(schema)
            .iter_errors(value)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{schema}: {errors:?}\n{value}");
    };
    let services: Value = get_json(&city, "/api/v1/services").await;
    check("ServiceList", &services);
    let id = report(&city, "dee@example.org").await;
    let (request, _) = until_open(&city, &id).await;
    check("Request", &request);
    let nearby: Value = get_json(
        &city,
        "/api/v1/requests/nearby?lat=41.7677&long=-72.67602&radius=300",
    )
    .await;
    assert!(!nearby["requests"].as_array().unwrap().is_empty());
    check("NearbyList", &nearby);
    let missing: Value = get_json(&city, "/api/v1/requests/ZZZZ-ZZZZ").await;
    check("Error", &missing);
    let refused = reqwest::Client::new()
        .post(format!("{}/api/v1/requests", city.url))
        .json(&json!({ "service_code": "pothole", "lat": 95, "long": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    check("Error", &refused.json().await.unwrap());
    // and a report built from the documented schema is accepted
    let example = json!({ "service_code": "noise_complaint", "lat": 41.7677, "long": -72.67602, "attributes": { "noise_started": "2026-11-23T22:00:00-05:00" } });
    check("NewReport", &example);
    let accepted = reqwest::Client::new()
        .post(format!("{}/api/v1/requests", city.url))
        .json(&example)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 201);
    city.stop().await;
}

#[tokio::test]
async fn the_resident_page_is_served_at_the_root() {
    let data = tempfile::tempdir().unwrap();
    let city = start_city(data.path(), false, Duration::from_secs(30)).await;
    let page = reqwest::get(format!("{}/", city.url)).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("311"));
    let script = reqwest::get(format!("{}/js/main.js", city.url))
        .await
        .unwrap();
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    // The page learns which city it serves from the API, not from its own files.
    let described: serde_json::Value = reqwest::get(format!("{}/api/v1/city", city.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(described["name"], "City of Hartford");
    city.stop().await;
}

#[tokio::test]
async fn an_open311_media_url_on_the_city_list_is_fetched_checked_and_shown_from_the_city() {
    use cityfix_tests::city::start_city_from;
    // given an asset system's photo server on this machine, and a city that lists it
    let photo = cityfix_app::samples::photo_with_location(1200, 900, 1);
    let server = axum::Router::new().route(
        "/wo/1187.jpg",
        axum::routing::get(move || {
            let photo = photo.clone();
            async move { photo }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let photos = format!("http://{}/wo/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, server).await.unwrap() });
    let config = tempfile::tempdir().unwrap();
    cityfix_testing::copy_demo_city(config.path());
    let city_toml = config.path().join("city.toml");
    let text = std::fs::read_to_string(&city_toml).unwrap();
    let listed = text.replacen("from = []", &format!("from = [\"{photos}\"]"), 1);
    assert_ne!(
        listed, text,
        "the demo city.toml has an empty [media_fetch] list to fill"
    );
    std::fs::write(&city_toml, listed).unwrap();
    let data = tempfile::tempdir().unwrap();
    let city = start_city_from(config.path(), data.path(), true, Duration::from_secs(30)).await;

    // when an Open311 client reports a pothole with the photo's URL
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/open311/v2/requests.json", city.url))
        .form(&[
            ("api_key", "demo-open311-key"),
            ("service_code", "pothole"),
            ("lat", "41.7677"),
            ("long", "-72.67602"),
            ("attribute[pothole_size]", "small"),
            ("media_url", &format!("{photos}1187.jpg")),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = answer[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();

    // then the photo is fetched, checked and served from the city's own address
    let own = format!("{}/api/v1/media/{id}/", city.url.trim_end_matches('/'));
    let (request, _) = read_until(&city, &id, |r| {
        r["media_url"].as_str().is_some_and(|u| u.starts_with(&own))
    })
    .await;
    let link = request["media_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no photo: {request}"));
    assert!(link.starts_with(&own), "{request}");
    let open311: Value = get_json(&city, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(open311[0]["media_url"], link, "{open311}");
    assert!(
        !open311.to_string().contains(&photos),
        "the client's URL is never shown"
    );
    let served = reqwest::get(link).await.unwrap();
    assert_eq!(served.status(), 200);
    let bytes = served.bytes().await.unwrap();
    for trace in cityfix_app::samples::LOCATION_TRACES {
        assert!(
            !cityfix_app::samples::holds(&bytes, trace),
            "served with {trace:?}"
        );
    }
    city.stop().await;
}

#[tokio::test]
async fn a_city_webhook_hears_of_a_report_signed_and_without_the_reporter() {
    use cityfix_tests::city::start_city_from;
    use std::sync::{Arc, Mutex};
    // given the city's asset system listening on this machine, and a city.toml that names it
    let got: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>> = Arc::default();
    let kept = got.clone();
    let server = axum::Router::new().route(
        "/hooks/cityfix",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: String| async move {
                kept.lock().unwrap().push((headers, body));
                axum::http::StatusCode::NO_CONTENT
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/cityfix", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, server).await.unwrap() });
    let config = tempfile::tempdir().unwrap();
    cityfix_testing::copy_demo_city(config.path());
    let city_toml = config.path().join("city.toml");
    let mut text = std::fs::read_to_string(&city_toml).unwrap();
    text.push_str(&format!(
        "\n[[webhooks]]\nname = \"assets\"\nurl = \"{url}\"\nevents = [\"received\"]\n"
    ));
    std::fs::write(&city_toml, text).unwrap();
    let data = tempfile::tempdir().unwrap();
    let city = start_city_from(config.path(), data.path(), true, Duration::from_secs(30)).await;

    // when a resident reports a pothole
    let id = report(&city, "ana.quintero@example.org").await;
    until_open(&city, &id).await;

    // then the asset system gets one delivery, signed with the secret the CLI prints
    let started = Instant::now();
    while got.lock().unwrap().is_empty() && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deliveries = got.lock().unwrap().clone();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    let (headers, body) = &deliveries[0];
    let payload: Value = serde_json::from_str(body).unwrap();
    assert_eq!(payload["event"], "received");
    assert_eq!(payload["request"]["service_request_id"], id.as_str());
    assert!(!body.contains("quintero"), "{body}");
    let secret = cityfix_app::webhooks::webhook_secret(
        &cityfix_app::links::LinkSigner::new(
            &std::fs::read(data.path().join("link.secret")).unwrap(),
        ),
        "assets",
    );
    let header = headers["cityfix-signature"].to_str().unwrap();
    let t: i64 = header[2..header.find(',').unwrap()].parse().unwrap();
    assert_eq!(header, cityfix_app::webhooks::signature(&secret, t, body));
    city.stop().await;
}
