//! Confidential reports (the demo city's misconduct service): filed anonymously with no place,
//! never in a public output (the public read, Open311's read, lists and updates, nearby, "me
//! too", following, photos), and read by the reporter with the token alone; the letter to a
//! reporter who gave a contact links to the page that reads it by token, not to a public page.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use cityfix_app::messages::{NotifyEvent, NotifyKind};
use cityfix_app::notify::{notify, NotifyDeps};
use cityfix_domain::TrackingNumber;
use cityfix_testing::{demo_city, intake_deps, notify_deps, World};
use http_body_util::BodyExt;
use intake::Intake;
use serde_json::{json, Value};
use tower::ServiceExt;

const PUBLIC_URL: &str = "http://127.0.0.1:3000";
/// Words only the complaint has, to find it in any output.
const MARK: &str = "inspector Quillfeather asked for cash";

struct Harness {
    world: World,
    app: Router,
    notify: NotifyDeps,
}

fn harness() -> Harness {
    let world = World::new();
    let app = intake::router(Intake {
        deps: intake_deps(&world),
        public_url: PUBLIC_URL.into(),
        media: Arc::new(world.media.clone()),
    });
    let notify = notify_deps(&world, PUBLIC_URL);
    Harness { world, app, notify }
}

impl Harness {
    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, String) {
        let mut request = Request::builder().method(method).uri(uri);
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .app
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn file(&self, body: Value) -> Value {
        let (status, text) = self.call("POST", "/api/v1/requests", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{text}");
        serde_json::from_str(&text).unwrap()
    }
}

#[test]
fn the_demo_city_has_a_confidential_service_of_its_ethics_office() {
    let city = demo_city();
    let service = city
        .services
        .iter()
        .find(|s| s.confidential)
        .expect("a confidential service");
    assert_eq!(service.department, "ethics");
    assert!(city.departments.iter().any(|d| d.id == "ethics"));
    assert_eq!(service.routing.duplicate_radius_m, 0.0);
}

#[tokio::test]
async fn a_confidential_report_is_in_no_public_output_and_its_reporter_reads_it_by_token() {
    let h = harness();
    let center = demo_city().center;
    // A public report at the same place, which every public output does show.
    let pothole = h
        .file(json!({
            "service_code": "pothole", "lat": center.lat(), "long": center.long(),
            "attributes": { "pothole_size": "small" }, "description": "a public pothole",
        }))
        .await;
    let pothole_id = pothole["service_request_id"].as_str().unwrap().to_string();
    // Anonymous, with no place: filed at the city's centre.
    let anonymous = h
        .file(json!({ "service_code": "ethics_concern", "description": MARK }))
        .await;
    let id = anonymous["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = anonymous["token"].as_str().unwrap().to_string();

    // The single reads are 404 in the words of a number that does not exist.
    let (status, text) = h.call("GET", &format!("/api/v1/requests/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, unknown) = h.call("GET", "/api/v1/requests/ZZZZ-ZZZZ", None).await;
    assert_eq!(text.replace(&id, "ZZZZ-ZZZZ"), unknown);
    let (status, _) = h
        .call("GET", &format!("/open311/v2/requests/{id}.json"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h
        .call(
            "GET",
            &format!("/open311/v2/requests/{pothole_id}.json"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Lists, feeds and nearby show the pothole and never the complaint.
    let near = format!("lat={}&long={}&radius=500", center.lat(), center.long());
    for uri in [
        "/open311/v2/requests.json".to_string(),
        "/open311/v2/requests.xml".to_string(),
        "/open311/v2/requests.json?status=open".to_string(),
        format!("/open311/v2/requests.json?{near}"),
        format!("/open311/v2/requests.json?service_request_id={id},{pothole_id}"),
        "/open311/v2/requests.json?service_code=ethics_concern".to_string(),
        "/open311/v2/servicerequestupdates.json".to_string(),
        format!("/api/v1/requests/nearby?{near}"),
        format!("/api/v1/requests/nearby?{near}&service_code=ethics_concern"),
    ] {
        let (status, text) = h.call("GET", &uri, None).await;
        assert!(
            status.is_success() || status == StatusCode::BAD_REQUEST,
            "{uri}: {status}"
        );
        assert!(!text.contains(&id) && !text.contains(MARK), "{uri}: {text}");
    }
    for uri in [
        "/open311/v2/requests.json".to_string(),
        format!("/api/v1/requests/nearby?{near}"),
    ] {
        let (_, text) = h.call("GET", &uri, None).await;
        assert!(text.contains(&pothole_id), "{uri} shows the public report");
    }

    // What the public may do with a tracking number tells nothing of the complaint either.
    for (uri, body) in [
        (
            format!("/api/v1/requests/{id}/supporters"),
            json!({ "email": "neighbour@example.org" }),
        ),
        (
            format!("/api/v1/requests/{id}/followers"),
            json!({ "email": "neighbour@example.org" }),
        ),
        (
            format!("/api/v1/requests/{id}/comments"),
            json!({ "token": "not-the-token", "text": "hello" }),
        ),
        (
            format!("/api/v1/requests/{id}/reopen"),
            json!({ "token": "not-the-token", "comment": "hello" }),
        ),
    ] {
        let (status, text) = h.call("POST", &uri, Some(body)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {text}");
    }
    let (status, _) = h
        .call("GET", &format!("/api/v1/media/{id}/photo.jpg"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The reporter reads it with the token alone, and comments on it with it.
    let (status, text) = h
        .call(
            "POST",
            "/api/v1/requests/by-token",
            Some(json!({ "token": token })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let own: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(own["service_request_id"], id.as_str());
    assert_eq!(own["description"], MARK);
    assert_eq!(
        own["address"],
        Value::Null,
        "no address made up from the city's centre"
    );
    assert!(own["timeline"].is_array());
    let (status, text) = h
        .call(
            "POST",
            "/api/v1/requests/by-token",
            Some(json!({ "token": "00000000-0000-4000-8000-000000000000" })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    let (status, _) = h
        .call(
            "POST",
            "/api/v1/requests/by-token",
            Some(json!({ "id": id })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, text) = h
        .call(
            "POST",
            &format!("/api/v1/requests/{id}/comments"),
            Some(json!({ "token": token, "text": "one more thing" })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
}

#[tokio::test]
async fn a_confidential_report_needs_what_happened_and_its_letters_link_to_the_key_page() {
    let h = harness();
    let (status, text) = h
        .call(
            "POST",
            "/api/v1/requests",
            Some(json!({ "service_code": "ethics_concern" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("\"field\":\"description\""), "{text}");

    let filed = h
        .file(json!({
            "service_code": "ethics_concern", "description": MARK,
            "address_string": "the permits counter, last Tuesday",
            "email": "whistle@example.org", "language": "es",
        }))
        .await;
    let id = filed["service_request_id"].as_str().unwrap().to_string();
    assert_eq!(filed["address"], "the permits counter, last Tuesday");
    // The letter routing it sends (the router is not part of this test).
    let request_id = TrackingNumber::parse(&id).unwrap();
    let event = NotifyEvent {
        event_id: format!("{request_id}/routed"),
        request_id,
        kind: NotifyKind::Acknowledged,
    };
    notify(&h.notify, &event).await.unwrap();
    let outbox = &h.world.outbox;
    let letters: Vec<String> = outbox
        .list()
        .unwrap()
        .into_iter()
        .filter(|entry| entry.channel == "email")
        .map(|entry| String::from_utf8(outbox.read(&entry.file).unwrap()).unwrap())
        .filter(|text| text.contains("To: whistle@example.org"))
        .collect();
    assert!(
        !letters.is_empty(),
        "the reporter who gave a contact is written to"
    );
    for letter in &letters {
        assert!(
            letter.contains(&format!("{PUBLIC_URL}/#/confidential/follow")),
            "{letter}"
        );
        assert!(!letter.contains(&format!("#/requests/{id}")), "{letter}");
    }
}
