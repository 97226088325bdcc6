//! `POST servicerequestupdates`: an asset system moves a request or adds a note with its key, with
//! the checks and events of a staff action; a repeated post is the same update; a key may do only
//! what city.toml says.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use cityfix_app::messages::StatusCommand;
use cityfix_app::ports::{QueueConsumer, RequestStore, SystemClock};
use cityfix_app::transition::{apply, Applied, StatusDeps};
use cityfix_domain::{Resolution, Status, TrackingNumber};
use cityfix_testing::{force_status, intake_deps, seed_request, World};
use http_body_util::BodyExt;
use intake::Intake;
use serde_json::Value;
use tower::ServiceExt;

const POTHOLE: &str = "7K3M-9QZ2";
/// May post notes and transitions (config/hartford/city.toml).
const ASSET_SYSTEM: &str = "demo-asset-system-key";
/// May post requests only.
const REPORTING_APP: &str = "demo-open311-key";

struct Harness {
    world: World,
    app: Router,
}

async fn harness() -> Harness {
    let world = World::new();
    let seeded = seed_request(
        &world.store,
        POTHOLE,
        "pothole",
        41.7677,
        -72.67602,
        Some("ana@example.org"),
    )
    .await;
    let mut routed = seeded.clone();
    routed.department = Some("public-works".into());
    force_status(&world.store, routed, Status::Open, "routed").await;
    let app = intake::router(Intake {
        deps: intake_deps(&world),
        public_url: "http://cityfix.test".into(),
        media: Arc::new(world.media.clone()),
    });
    Harness { world, app }
}

impl Harness {
    async fn post(&self, extension: &str, form: &str) -> (StatusCode, String) {
        let request = Request::post(format!("/open311/v2/servicerequestupdates.{extension}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    /// Applies every command waiting on the status queue, as the status function would.
    async fn apply_status(&self) -> Vec<Applied> {
        let deps = StatusDeps {
            city: cityfix_testing::demo_city(),
            store: Arc::new(self.world.store.clone()),
            queue: Arc::new(self.world.queue.clone()),
            clock: Arc::new(SystemClock),
            media: Arc::new(self.world.media.clone()),
        };
        let mut outcomes = Vec::new();
        for message in self.world.queue.receive("status", 50).await.unwrap() {
            let command: StatusCommand = serde_json::from_str(&message.body).unwrap();
            outcomes.push(apply(&deps, &command).await.unwrap());
            self.world
                .queue
                .delete("status", &message.receipt_handle)
                .await
                .unwrap();
        }
        outcomes
    }

    async fn stored(&self) -> cityfix_domain::ServiceRequest {
        let id = TrackingNumber::parse(POTHOLE).unwrap();
        self.world.store.get(&id).await.unwrap().unwrap()
    }
}

fn form(key: &str, update_id: &str, status: &str, description: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("api_key", key)
        .append_pair("service_request_id", POTHOLE)
        .append_pair("update_id", update_id)
        .append_pair("status", status)
        .append_pair("description", description)
        .append_pair("updated_datetime", "2026-12-01T10:00:00-05:00")
        .finish()
}

#[tokio::test]
async fn an_asset_system_closes_a_request_once_however_often_it_posts() {
    let harness = harness().await;
    let body = form(ASSET_SYSTEM, "WO-1881", "FIXED", "Work order WO-1881 done");
    let (status, first) = harness.post("json", &body).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, again) = harness.post("json", &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first, again, "the same update id for the same update");
    let answer: Value = serde_json::from_str(&first).unwrap();
    let ours = answer[0]["update_id"].as_str().unwrap().to_string();
    assert!(ours.starts_with(POTHOLE), "{ours}");

    let outcomes = harness.apply_status().await;
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(
        matches!(outcomes[0], Applied::Changed { .. }),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], Applied::AlreadyApplied);
    let stored = harness.stored().await;
    assert_eq!(stored.status, Status::Closed);
    assert_eq!(stored.resolution, Some(Resolution::Fixed));
    assert_eq!(
        stored.status_notes.as_deref(),
        Some("Work order WO-1881 done")
    );
    // the update is listed with the id the client was given
    let request = Request::get(format!(
        "/open311/v2/servicerequestupdates.json?service_request_id={POTHOLE}"
    ))
    .body(Body::empty())
    .unwrap();
    let response = harness.app.clone().oneshot(request).await.unwrap();
    let listed: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["update_id"] == ours.as_str() && u["status"] == "closed"),
        "{listed}"
    );
}

#[tokio::test]
async fn the_same_status_is_a_note_and_xml_answers_in_fixmystreets_names() {
    let harness = harness().await;
    let (status, xml) = harness
        .post(
            "xml",
            &form(ASSET_SYSTEM, "C-7", "open", "Crew scheduled for Tuesday"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    assert!(
        xml.contains("<service_request_updates><request_update><update_id>"),
        "{xml}"
    );
    harness.apply_status().await;
    let id = TrackingNumber::parse(POTHOLE).unwrap();
    let timeline = harness.world.store.timeline(&id).await.unwrap();
    let note = timeline.last().unwrap();
    assert_eq!(note.note.as_deref(), Some("Crew scheduled for Tuesday"));
    assert!(note.public);
    assert_eq!(note.actor.as_deref(), Some("open311:Demo asset system"));
    assert_eq!(harness.stored().await.status, Status::Open);
}

#[tokio::test]
async fn a_key_does_only_what_it_may_and_bad_updates_are_refused_with_nothing_queued() {
    let harness = harness().await;
    for (body, expected) in [
        (
            form(REPORTING_APP, "1", "closed", "Done"),
            StatusCode::FORBIDDEN,
        ),
        (
            form("not-a-key", "1", "closed", "Done"),
            StatusCode::FORBIDDEN,
        ),
        (
            form(ASSET_SYSTEM, "1", "duplicate", "Same as another"),
            StatusCode::BAD_REQUEST,
        ),
        (
            form(ASSET_SYSTEM, "1", "no_further_action", ""),
            StatusCode::BAD_REQUEST,
        ),
        (form(ASSET_SYSTEM, "1", "open", ""), StatusCode::BAD_REQUEST),
        (
            form(ASSET_SYSTEM, "1", "closed", "Done").replace(POTHOLE, "7K3M-0000"),
            StatusCode::NOT_FOUND,
        ),
        (
            form(ASSET_SYSTEM, "1", "closed", "Done") + "&status=open",
            StatusCode::BAD_REQUEST,
        ),
        (
            form(ASSET_SYSTEM, "1", "closed", "Done").replace("update_id=1&", ""),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, answer) = harness.post("json", &body).await;
        assert_eq!(status, expected, "{body}: {answer}");
        let errors: Value = serde_json::from_str(&answer).unwrap();
        assert!(errors[0]["description"].is_string(), "{answer}");
    }
    assert_eq!(harness.world.queue.depth("status").await.unwrap(), 0);

    // an illegal move: a closed request cannot become in progress
    harness
        .post("json", &form(ASSET_SYSTEM, "2", "closed", "Done"))
        .await;
    harness.apply_status().await;
    let (status, answer) = harness
        .post("json", &form(ASSET_SYSTEM, "3", "in_progress", "Again"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(answer.contains("may become open or archived"), "{answer}");
}
