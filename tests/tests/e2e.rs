//! End to end over the local runner: a report goes intake → router → status → notify, survives a restart, and the API matches its OpenAPI document.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cityfix_local::{start, LocalOptions, Running};
use cityfix_shared::embedded::QueueSettings;
use cityfix_shared::ports::QueueConsumer;
use serde_json::{json, Value};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn options(data: &Path, workers: bool, visibility: Duration) -> LocalOptions {
    LocalOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.to_path_buf(),
        config_dir: repo_root().join("config/hartford"),
        web_dir: repo_root().join("web"),
        public_url: None,
        queues: QueueSettings {
            visibility_timeout: visibility,
            max_receives: 4,
        },
        workers,
    }
}

async fn report(city: &Running, email: &str) -> String {
    let body = json!({
        "service_code": "pothole", "lat": 41.7677, "long": -72.67602, "attributes": { "pothole_size": "medium" },
        "description": "Deep hole by the curb", "email": email, "first_name": "Ana"
    });
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/requests", city.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    answer.json::<Value>().await.unwrap()["service_request_id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn read(city: &Running, id: &str) -> Value {
    reqwest::get(format!("{}/api/v1/requests/{id}", city.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls until the request is open, returning it and how long that took.
async fn until_open(city: &Running, id: &str, limit: Duration) -> (Value, Duration) {
    let started = Instant::now();
    loop {
        let request = read(city, id).await;
        if request["status"] == "open" || started.elapsed() > limit {
            return (request, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The outbox files that went to this address.
fn acknowledgements(city: &Running, email: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in city.outbox.list().unwrap() {
        let text = String::from_utf8(city.outbox.read(&entry.file).unwrap()).unwrap();
        if text.contains(&format!("To: {email}")) {
            found.push(text);
        }
    }
    found
}

async fn until_acknowledged(city: &Running, email: &str, limit: Duration) -> Vec<String> {
    let started = Instant::now();
    loop {
        let found = acknowledgements(city, email);
        if !found.is_empty() || started.elapsed() > limit {
            // a moment more, to see that no second message follows
            tokio::time::sleep(Duration::from_millis(300)).await;
            return acknowledgements(city, email);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_report_is_open_and_acknowledged_within_a_second() {
    let data = tempfile::tempdir().unwrap();
    let city = start(options(data.path(), true, Duration::from_secs(30)))
        .await
        .unwrap();

    let id = report(&city, "ana@example.org").await;
    let (request, took) = until_open(&city, &id, Duration::from_secs(5)).await;

    assert_eq!(request["status"], "open", "{request}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(request["agency_responsible"], "Department of Public Works");
    assert_eq!(request["neighbourhood"], "Downtown");
    let kinds: Vec<&str> = request["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["submitted", "routed"]);
    let open311: Value = reqwest::get(format!("{}/open311/v2/requests/{id}.json", city.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        open311[0]["agency_responsible"],
        "Department of Public Works"
    );

    let sent = until_acknowledged(&city, "ana@example.org", Duration::from_secs(1)).await;
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
    let first = start(options(data.path(), false, Duration::from_millis(500)))
        .await
        .unwrap();
    let id = report(&first, "ben@example.org").await;
    assert_eq!(read(&first, &id).await["status"], "submitted");
    first.stop().await;

    // when the city starts again on the same data folder
    let second = start(options(data.path(), true, Duration::from_millis(500)))
        .await
        .unwrap();

    // then the report completes, with one acknowledgement
    let (request, _) = until_open(&second, &id, Duration::from_secs(5)).await;
    assert_eq!(request["status"], "open");
    assert_eq!(
        until_acknowledged(&second, "ben@example.org", Duration::from_secs(5))
            .await
            .len(),
        1
    );
    second.stop().await;
}

#[tokio::test]
async fn a_message_taken_by_a_consumer_that_died_is_delivered_again() {
    // given a routing job received by a consumer that then died before deleting it
    let data = tempfile::tempdir().unwrap();
    let first = start(options(data.path(), false, Duration::from_millis(300)))
        .await
        .unwrap();
    let id = report(&first, "cy@example.org").await;
    let taken = first.queue.receive("routing", 10).await.unwrap();
    assert_eq!(taken.len(), 1);
    let taken_at = Instant::now();
    first.stop().await;

    // when the city restarts, the job is hidden until its visibility timeout passes
    let second = start(options(data.path(), true, Duration::from_millis(300)))
        .await
        .unwrap();
    let (request, _) = until_open(&second, &id, Duration::from_secs(5)).await;

    // then it is routed all the same, and acknowledged once
    assert_eq!(request["status"], "open");
    assert!(
        taken_at.elapsed() >= Duration::from_millis(300),
        "it waited for the visibility timeout"
    );
    assert_eq!(
        until_acknowledged(&second, "cy@example.org", Duration::from_secs(5))
            .await
            .len(),
        1
    );
    second.stop().await;
}

#[tokio::test]
async fn the_served_openapi_document_matches_the_api() {
    let data = tempfile::tempdir().unwrap();
    let city = start(options(data.path(), true, Duration::from_secs(30)))
        .await
        .unwrap();
    let document: Value = reqwest::get(format!("{}/api/v1/openapi.json", city.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let services: Value = reqwest::get(format!("{}/api/v1/services", city.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check("ServiceList", &services);
    let id = report(&city, "dee@example.org").await;
    let (request, _) = until_open(&city, &id, Duration::from_secs(5)).await;
    check("Request", &request);
    let nearby: Value = reqwest::get(format!(
        "{}/api/v1/requests/nearby?lat=41.7677&long=-72.67602&radius=300",
        city.url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(!nearby["requests"].as_array().unwrap().is_empty());
    check("NearbyList", &nearby);
    let missing: Value = reqwest::get(format!("{}/api/v1/requests/ZZZZ-ZZZZ", city.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let city = start(options(data.path(), false, Duration::from_secs(30)))
        .await
        .unwrap();
    let page = reqwest::get(format!("{}/", city.url)).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("311"));
    let script = reqwest::get(format!("{}/app.js", city.url)).await.unwrap();
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    city.stop().await;
}
