//! Following a report: an address asks, the signed link in its confirmation makes it a follower who
//! gets the report's news, the unsubscribe link of that news ends it; bad asks and bad links change
//! nothing.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chrono::{Duration, Utc};
use cityfix_app::links::{LinkSigner, Purpose};
use cityfix_app::messages::{NotifyEvent, NotifyKind};
use cityfix_app::notify::{notify, NotifyDeps};
use cityfix_app::ports::{QueueConsumer, RequestStore, SystemClock};
use cityfix_domain::{Status, TimelineEntry, TimelineKind, TrackingNumber};
use cityfix_testing::{intake_deps, notify_deps, seed_request, World, TEST_LINK_SECRET};
use http_body_util::BodyExt;
use intake::{Intake, Preferences};
use serde_json::{json, Value};
use tower::ServiceExt;

const ID: &str = "7K3M-9QZ2";
const PUBLIC_URL: &str = "http://127.0.0.1:3000";

fn signer() -> LinkSigner {
    LinkSigner::new(TEST_LINK_SECRET)
}

struct Harness {
    world: World,
    app: Router,
    notify: NotifyDeps,
}

async fn harness() -> Harness {
    let world = World::new();
    seed_request(
        &world.store,
        ID,
        "pothole",
        41.7677,
        -72.67602,
        Some("reporter@example.org"),
    )
    .await;
    let app = intake::router(Intake {
        deps: intake_deps(&world),
        public_url: PUBLIC_URL.into(),
        media: Arc::new(world.media.clone()),
    })
    .merge(intake::unsubscribe_router(Preferences {
        store: Arc::new(world.store.clone()),
        links: signer(),
        clock: Arc::new(SystemClock),
        city: "Hartford".into(),
        queue: Arc::new(world.queue.clone()),
        residents: Default::default(),
    }));
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
            None => {
                request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from("List-Unsubscribe=One-Click")
            }
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

    async fn ask(&self, body: Value) -> (StatusCode, String) {
        self.call(
            "POST",
            &format!("/api/v1/requests/{ID}/followers"),
            Some(body),
        )
        .await
    }

    /// Hands every event waiting on the notify queue to notify, as the notify function would.
    async fn deliver(&self) -> usize {
        let mut events = 0;
        for message in self.world.queue.receive("notify", 50).await.unwrap() {
            let event: NotifyEvent = serde_json::from_str(&message.body).unwrap();
            notify(&self.notify, &event).await.unwrap();
            self.world
                .queue
                .delete("notify", &message.receipt_handle)
                .await
                .unwrap();
            events += 1;
        }
        events
    }

    /// The HTML of every e-mail sent to `to`, in the order of their files.
    fn emails_to(&self, to: &str) -> Vec<String> {
        let outbox = &self.world.outbox;
        outbox
            .list()
            .unwrap()
            .into_iter()
            .filter(|entry| entry.channel == "email")
            .filter(|entry| {
                String::from_utf8(outbox.read(&entry.file).unwrap())
                    .unwrap()
                    .contains(&format!("To: {to}"))
            })
            .map(|entry| String::from_utf8(outbox.read_html(&entry.file).unwrap()).unwrap())
            .collect()
    }
}

/// The path and query of the first link in `html` that starts with `prefix` (unescaped).
fn link_in(html: &str, prefix: &str) -> String {
    let html = html.replace("&#x2f;", "/").replace("&amp;", "&");
    let start = html
        .find(&format!("{PUBLIC_URL}{prefix}"))
        .unwrap_or_else(|| panic!("no link to {prefix} in {html}"));
    let link = &html[start + PUBLIC_URL.len()..];
    link[..link.find('"').unwrap()].to_string()
}

async fn note(harness: &Harness, event_id: &str, text: &str) -> NotifyEvent {
    let store = &harness.world.store;
    let id = TrackingNumber::parse(ID).unwrap();
    let mut request = store.get(&id).await.unwrap().unwrap();
    let version = request.version;
    request.version += 1;
    request.status = Status::Open;
    let entry = TimelineEntry {
        event_id: event_id.into(),
        at: Utc::now(),
        kind: TimelineKind::Note,
        status: None,
        note: Some(text.into()),
        public: true,
        actor: Some("dana".into()),
        internal_note: None,
        media: Vec::new(),
    };
    store.update(&request, version, &entry).await.unwrap();
    NotifyEvent {
        event_id: format!("{ID}/{event_id}"),
        request_id: id,
        kind: NotifyKind::Updated,
    }
}

#[tokio::test]
async fn an_address_that_confirms_gets_the_news_until_it_stops_following() {
    // given an address that asked to follow
    let harness = harness().await;
    let (status, body) = harness.ask(json!({ "email": "cara@example.org" })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(!body.contains("cara"), "the answer names nobody: {body}");
    assert_eq!(harness.deliver().await, 1);
    let asked = harness.emails_to("cara@example.org");
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0].contains("Please confirm: follow 7K3M-9QZ2"),
        "{}",
        asked[0]
    );

    // it gets no news before it confirms
    let before = note(&harness, "note-1", "Crew booked for Tuesday").await;
    notify(&harness.notify, &before).await.unwrap();
    assert_eq!(harness.emails_to("cara@example.org").len(), 1);
    assert_eq!(harness.emails_to("reporter@example.org").len(), 1);

    // when it follows the link: the page asks, the button confirms
    let confirm = link_in(&asked[0], "/api/v1/follow?t=");
    let (status, page) = harness.call("GET", &confirm, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Follow 7K3M-9QZ2 with Hartford 311?"),
        "{page}"
    );
    let followers = harness
        .world
        .store
        .followers(&TrackingNumber::parse(ID).unwrap())
        .await
        .unwrap();
    assert!(!followers[0].is_active(), "a GET changes nothing");
    for _ in 0..2 {
        let (status, page) = harness.call("POST", &confirm, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("You are following it"));
    }
    harness.deliver().await;
    let letters = harness.emails_to("cara@example.org");
    assert_eq!(letters.len(), 2, "confirmed once, told once");
    assert!(letters[1].contains("You are following 7K3M-9QZ2"));

    // then the next news reaches it, with a link that ends following
    let news = note(&harness, "note-2", "Patched this morning").await;
    notify(&harness.notify, &news).await.unwrap();
    let letters = harness.emails_to("cara@example.org");
    assert_eq!(letters.len(), 3);
    assert!(letters[2].contains("Patched this morning"));
    let stop = link_in(&letters[2], "/api/v1/unsubscribe?t=");
    assert!(
        stop.contains("t=f1."),
        "a follower's unsubscribe ends following: {stop}"
    );
    let (status, page) = harness.call("GET", &stop, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Stop following 7K3M-9QZ2?"), "{page}");
    for _ in 0..2 {
        let (status, page) = harness.call("POST", &stop, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
    }
    let last = note(&harness, "note-3", "Swept").await;
    notify(&harness.notify, &last).await.unwrap();
    assert_eq!(harness.emails_to("cara@example.org").len(), 3);
    assert_eq!(
        harness.emails_to("reporter@example.org").len(),
        3,
        "the reporter keeps getting theirs"
    );

    // and the confirmation link of an ended follow changes nothing
    let (status, page) = harness.call("POST", &confirm, None).await;
    assert_eq!(status, StatusCode::GONE, "{page}");
}

#[tokio::test]
async fn asking_again_sends_one_confirmation_a_day_and_tells_nothing() {
    let harness = harness().await;
    let (_, first) = harness.ask(json!({ "phone": "(860) 555-0123" })).await;
    let (status, again) = harness.ask(json!({ "phone": "860-555-0123" })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        first, again,
        "the same answer whether or not it asked before"
    );
    harness.deliver().await;
    let texts: Vec<_> = harness
        .world
        .outbox
        .list()
        .unwrap()
        .into_iter()
        .filter(|e| e.channel == "sms")
        .collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    let text = String::from_utf8(harness.world.outbox.read(&texts[0].file).unwrap()).unwrap();
    assert!(text.contains("/api/v1/follow?t=c1."), "{text}");
    let followers = harness
        .world
        .store
        .followers(&TrackingNumber::parse(ID).unwrap())
        .await
        .unwrap();
    assert_eq!(followers.len(), 1);
}

#[tokio::test]
async fn bad_asks_are_refused_with_a_reason_and_store_nothing() {
    let harness = harness().await;
    for (body, field) in [
        (json!({}), "email"),
        (json!({ "email": "not an address" }), "email"),
        (json!({ "phone": "12" }), "phone"),
        (
            json!({ "email": "a@example.org", "phone": "8605550123" }),
            "phone",
        ),
        (
            json!({ "email": "a@example.org", "language": "fr" }),
            "language",
        ),
    ] {
        let (status, answer) = harness.ask(body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }
    let (status, _) = harness
        .call(
            "POST",
            "/api/v1/requests/ZZZZ-ZZZZ/followers",
            Some(json!({ "email": "a@example.org" })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // a report no longer worked cannot be followed
    let store = &harness.world.store;
    let id = TrackingNumber::parse(ID).unwrap();
    let mut request = store.get(&id).await.unwrap().unwrap();
    let version = request.version;
    request.version += 1;
    request.status = Status::Closed;
    let mut entry = TimelineEntry::submitted(Utc::now());
    entry.event_id = "closed".into();
    entry.kind = TimelineKind::StatusChanged;
    entry.status = Some(Status::Closed);
    store.update(&request, version, &entry).await.unwrap();
    let (status, answer) = harness.ask(json!({ "email": "a@example.org" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(answer.contains("not_followable"), "{answer}");

    assert!(store.followers(&id).await.unwrap().is_empty());
    assert_eq!(
        harness
            .world
            .queue
            .receive("notify", 10)
            .await
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn a_forged_or_expired_confirmation_is_told_so_and_changes_nothing() {
    let harness = harness().await;
    harness.ask(json!({ "email": "cara@example.org" })).await;
    let id = TrackingNumber::parse(ID).unwrap();
    let key = harness.world.store.followers(&id).await.unwrap()[0]
        .key
        .clone();
    let subject = format!("{ID}:{key}");
    let expired = signer().sign(
        Purpose::ConfirmFollow,
        &subject,
        Utc::now() - Duration::minutes(1),
    );
    let good = signer().sign(
        Purpose::ConfirmFollow,
        &subject,
        Utc::now() + Duration::hours(1),
    );
    let forged = good.replace(&key[..4], "ffff");
    let foreign = LinkSigner::new(b"someone else's secret").sign(
        Purpose::ConfirmFollow,
        &subject,
        Utc::now() + Duration::hours(1),
    );
    // an unsubscribe token is not a confirmation
    let other_purpose = signer().sign(
        Purpose::Unsubscribe,
        &subject,
        Utc::now() + Duration::hours(1),
    );
    for (token, expected) in [
        (expired.as_str(), StatusCode::GONE),
        (forged.as_str(), StatusCode::BAD_REQUEST),
        (foreign.as_str(), StatusCode::BAD_REQUEST),
        (other_purpose.as_str(), StatusCode::BAD_REQUEST),
        ("", StatusCode::BAD_REQUEST),
    ] {
        for method in ["GET", "POST"] {
            let (status, page) = harness
                .call(method, &format!("/api/v1/follow?t={token}"), None)
                .await;
            assert_eq!(status, expected, "{method} {token}: {page}");
            assert!(page.contains("Nothing was changed"), "{page}");
        }
    }
    assert!(!harness.world.store.followers(&id).await.unwrap()[0].is_active());
}

#[tokio::test]
async fn a_report_keeps_a_bounded_number_of_followers() {
    let harness = harness().await;
    for n in 0..cityfix_app::follow::MAX_FOLLOWERS {
        let (status, _) = harness
            .ask(json!({ "email": format!("n{n}@example.org") }))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let (status, answer) = harness
        .ask(json!({ "email": "one-more@example.org" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(answer.contains("too_many_followers"));
    let (status, _) = harness.ask(json!({ "email": "n7@example.org" })).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "one already asking may ask again"
    );
}
