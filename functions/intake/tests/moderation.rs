//! Moderation in every public output: a request staff hid is in no Open311 list or read (JSON and
//! XML), no updates feed, no web API read or nearby search, and its photos are not served; one
//! whose description staff edited shows the edited words only. Shown again, it is back.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use cityfix_app::media::{record_state, MediaState};
use cityfix_app::ports::{MediaStore, RequestStore};
use cityfix_domain::{ServiceRequest, TimelineEntry, TrackingNumber};
use cityfix_testing::{intake_deps, World};
use http_body_util::BodyExt;
use intake::Intake;
use serde_json::{json, Value};
use tower::ServiceExt;

const DOWNTOWN: (f64, f64) = (41.7677, -72.67602);

struct Harness {
    world: World,
    app: Router,
}

impl Harness {
    fn new() -> Harness {
        let world = World::new();
        let app = intake::router(Intake {
            deps: intake_deps(&world),
            public_url: "http://cityfix.test".into(),
            media: Arc::new(world.media.clone()),
        });
        Harness { world, app }
    }

    async fn call(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        self.call(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, String) {
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.call(request).await
    }

    /// A pothole reported downtown through the web API, with a checked photo `<name>.jpg`.
    async fn report(&self, description: &str, photo: &str) -> TrackingNumber {
        let body = json!({
            "service_code": "pothole", "lat": DOWNTOWN.0, "long": DOWNTOWN.1,
            "attributes": { "pothole_size": "large" }, "description": description,
            "email": "ana@example.org",
        });
        let (status, answer) = self.post("/api/v1/requests", body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        let id = TrackingNumber::parse(answer["service_request_id"].as_str().unwrap()).unwrap();
        let key = format!("originals/{id}/{photo}.jpg");
        let link = format!("http://cityfix.test/api/v1/media/{id}/{photo}.jpg");
        self.world
            .media
            .put(&key, vec![0xFF; 10], "image/jpeg")
            .await
            .unwrap();
        record_state(
            &self.world.media,
            photo,
            &MediaState::Ready {
                request_id: id.clone(),
                url: link.clone(),
            },
        )
        .await
        .unwrap();
        self.change(&id, |request| {
            request.media = vec![key];
            request.media_url = Some(link);
        })
        .await;
        id
    }

    /// Changes a stored request as status would have, with a public timeline entry of its own.
    async fn change(&self, id: &TrackingNumber, change: impl FnOnce(&mut ServiceRequest)) {
        let mut request = self.world.store.get(id).await.unwrap().unwrap();
        change(&mut request);
        let version = request.version;
        request.version += 1;
        let mut entry = TimelineEntry::submitted(request.updated_at);
        entry.event_id = format!("changed-{version}");
        entry.note = Some(format!("Change {version}"));
        self.world
            .store
            .update(&request, version, &entry)
            .await
            .unwrap();
    }

    /// Every public output that names one request or lists it, each as (what, status, body).
    async fn public_outputs(&self, id: &TrackingNumber) -> Vec<(String, StatusCode, String)> {
        let near = format!(
            "/api/v1/requests/nearby?lat={}&long={}&radius=500",
            DOWNTOWN.0, DOWNTOWN.1
        );
        let paths = [
            "/open311/v2/requests.json".to_string(),
            "/open311/v2/requests.xml".to_string(),
            "/open311/v2/requests.json?extensions=true".to_string(),
            format!("/open311/v2/requests/{id}.json"),
            format!("/open311/v2/requests/{id}.xml"),
            format!("/open311/v2/servicerequestupdates.json?service_request_id={id}"),
            format!("/open311/v2/servicerequestupdates.xml?service_request_id={id}"),
            "/open311/v2/servicerequestupdates.json".to_string(),
            format!("/api/v1/requests/{id}"),
            near,
        ];
        let mut outputs = Vec::new();
        for path in paths {
            let (status, body) = self.get(&path).await;
            outputs.push((path, status, body));
        }
        outputs
    }
}

#[tokio::test]
async fn a_hidden_request_is_in_no_public_output_and_back_once_shown_again() {
    // given two reports near each other, one of which staff hide
    let h = Harness::new();
    let kept = h.report("Deep hole by the curb", "kerb").await;
    let hidden = h.report("Rude words about a neighbour", "rude").await;
    h.change(&hidden, |request| request.hidden = true).await;

    // then no list, read, feed or search shows it, and the other is still there
    for (path, status, body) in h.public_outputs(&hidden).await {
        assert!(!body.contains("Rude words"), "{path}: {body}");
        if path.contains(hidden.as_str()) && !path.contains("servicerequestupdates") {
            // a 404 in the words of a number never given (which repeat the number asked for)
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        } else {
            assert!(!body.contains(hidden.as_str()), "{path}: {body}");
        }
    }
    let (_, list) = h.get("/open311/v2/requests.json").await;
    assert!(list.contains(kept.as_str()), "{list}");
    let (status, feed) = h
        .get(&format!(
            "/open311/v2/servicerequestupdates.json?service_request_id={hidden}"
        ))
        .await;
    assert_eq!((status, feed.as_str()), (StatusCode::OK, "[]"));

    // and its photo is not served, nor may anyone follow it or say "me too"
    let (status, _) = h.get(&format!("/api/v1/media/{hidden}/rude.jpg")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h.get(&format!("/api/v1/media/{kept}/kerb.jpg")).await;
    assert_eq!(status, StatusCode::FOUND);
    for action in ["followers", "supporters"] {
        let (status, body) = h
            .post(
                &format!("/api/v1/requests/{hidden}/{action}"),
                json!({ "email": "neighbour@example.org" }),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}: {body}");
    }

    // when staff show it again, every output has it back
    h.change(&hidden, |request| request.hidden = false).await;
    for (path, status, body) in h.public_outputs(&hidden).await {
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(body.contains(hidden.as_str()), "{path}: {body}");
    }
    let (status, _) = h.get(&format!("/api/v1/media/{hidden}/rude.jpg")).await;
    assert_eq!(status, StatusCode::FOUND);
}

#[tokio::test]
async fn an_edited_description_is_all_the_public_reads_of_it() {
    // given a report whose description staff edited, keeping the reporter's words
    let h = Harness::new();
    let id = h
        .report("Hole by number 12, Jo Bloggs did it", "hole")
        .await;
    h.change(&id, |request| {
        request.original_description = request.description.take();
        request.description = Some("Hole by number 12".into());
    })
    .await;

    // then every public output shows the edited words, never the reporter's
    for (path, status, body) in h.public_outputs(&id).await {
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(!body.contains("Jo Bloggs"), "{path}: {body}");
        if !path.contains("servicerequestupdates") {
            assert!(body.contains("Hole by number 12"), "{path}: {body}");
        }
    }
}
