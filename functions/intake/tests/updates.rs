//! How the city's work on requests reaches Open311 clients: servicerequestupdates, updated_after /
//! updated_before and extensions=true on GET requests, expected dates, in JSON and XML.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use chrono::{DateTime, Duration, TimeZone, Utc};
use cityfix_app::ports::RequestStore;
use cityfix_domain::{
    City, Priority, ServiceRequest, Status, TimelineEntry, TimelineKind, TrackingNumber,
};
use cityfix_testing::{demo_city, intake_deps, seed_request_at, FixedClock, World};
use http_body_util::BodyExt;
use intake::Intake;
use quick_xml::events::Event;
use serde_json::Value;
use tower::ServiceExt;

const DOWNTOWN: (f64, f64) = (41.7677, -72.67602);
/// Worked by the city: submitted, routed, an internal note, closed with a photo of the fix.
const POTHOLE: &str = "AAAA-0001";
/// Of a confidential service: never listed.
const COMPLAINT: &str = "AAAA-0002";
/// Made long ago, noted publicly today, linked as a duplicate of the pothole.
const GRAFFITI: &str = "AAAA-0003";
const INTERNAL_NOTE: &str = "crew booked for Tuesday";
const ACTOR: &str = "staff-17";
/// The staff-only note every entry carries beside its public one.
const STAFF_ONLY: &str = "gate code 4411";

/// When the pothole was reported: 10:00 in Hartford.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 10, 15, 0, 0).unwrap()
}

fn minutes(n: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(n)
}

/// A time as a query parameter (UTC, so no `+` to encode).
fn param(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The demo city with one confidential service.
fn city() -> Arc<City> {
    let mut city = demo_city();
    let mut ethics = city.service("graffiti").unwrap().clone();
    ethics.code = "ethics_complaint".into();
    ethics.name = "Ethics complaint".into();
    ethics.attributes.clear();
    ethics.confidential = true;
    Arc::get_mut(&mut city)
        .expect("a city of its own")
        .services
        .push(ethics);
    city
}

fn entry(event_id: &str, at: DateTime<Utc>, kind: TimelineKind, note: &str) -> TimelineEntry {
    TimelineEntry {
        event_id: event_id.into(),
        at,
        kind,
        status: None,
        note: Some(note.into()),
        public: true,
        actor: Some(ACTOR.into()),
        internal_note: Some(STAFF_ONLY.into()),
        media: Vec::new(),
    }
}

/// Applies one change to a stored request, as the status function would.
async fn apply(store: &dyn RequestStore, request: &mut ServiceRequest, entry: TimelineEntry) {
    let expected = request.version;
    request.version += 1;
    request.updated_at = entry.at;
    if let Some(status) = entry.status {
        request.status = status;
    }
    store.update(request, expected, &entry).await.unwrap();
}

struct Harness {
    _world: World,
    app: Router,
}

async fn harness() -> Harness {
    let world = World::new();
    let store = &world.store;
    let mut pothole = seed_request_at(store, POTHOLE, "pothole", DOWNTOWN, t0()).await;
    pothole.priority = Priority::High;
    pothole.expected_at = Some(t0() + Duration::days(5));
    pothole
        .areas
        .insert("neighbourhoods".into(), "Downtown".into());
    let routed = TimelineEntry {
        status: Some(Status::Open),
        ..entry(
            "routed",
            minutes(60),
            TimelineKind::Routed,
            "Sent to Public Works",
        )
    };
    apply(store, &mut pothole, routed).await;
    let internal = TimelineEntry {
        public: false,
        ..entry("crew", minutes(120), TimelineKind::Note, INTERNAL_NOTE)
    };
    apply(store, &mut pothole, internal).await;
    let closed = TimelineEntry {
        status: Some(Status::Closed),
        media: vec![format!("originals/{POTHOLE}/fix.jpg")],
        ..entry(
            "staff/close <1>",
            minutes(180),
            TimelineKind::StatusChanged,
            "Filled the hole",
        )
    };
    apply(store, &mut pothole, closed).await;

    let mut complaint =
        seed_request_at(store, COMPLAINT, "ethics_complaint", DOWNTOWN, minutes(30)).await;
    let noted = entry(
        "seen",
        minutes(90),
        TimelineKind::Note,
        "We are looking into it",
    );
    apply(store, &mut complaint, noted).await;

    let mut graffiti = seed_request_at(
        store,
        GRAFFITI,
        "graffiti",
        DOWNTOWN,
        t0() - Duration::days(120),
    )
    .await;
    graffiti.duplicate_of = Some(TrackingNumber::parse(POTHOLE).unwrap());
    let noted = entry("painted", minutes(150), TimelineKind::Note, "Painted over");
    apply(store, &mut graffiti, noted).await;

    let mut deps = intake_deps(&world);
    deps.city = city();
    deps.clock = Arc::new(FixedClock(t0() + Duration::days(1)));
    let app = intake::router(Intake {
        deps,
        public_url: "http://cityfix.test".into(),
        media: Arc::new(world.media.clone()),
    });
    Harness { _world: world, app }
}

struct Answer {
    status: StatusCode,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl Harness {
    async fn get(&self, path: &str) -> Answer {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn updates(&self, query: &str) -> Answer {
        self.get(&format!("/open311/v2/servicerequestupdates.json?{query}"))
            .await
    }

    async fn requests(&self, query: &str) -> Vec<Value> {
        let answer = self
            .get(&format!("/open311/v2/requests.json?{query}"))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.json().as_array().unwrap().clone()
    }
}

fn window(from: i64, to: i64) -> String {
    format!(
        "start_date={}&end_date={}",
        param(minutes(from)),
        param(minutes(to))
    )
}

/// `(service_request_id, status, description)` of each update.
fn seen(updates: &Value) -> Vec<(String, String, String)> {
    updates
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let text = |field: &str| u[field].as_str().unwrap().to_string();
            (
                text("service_request_id"),
                text("status"),
                text("description"),
            )
        })
        .collect()
}

fn ids(requests: &[Value]) -> Vec<&str> {
    requests
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap())
        .collect()
}

/// Checks the XML is well formed and returns the text of every element named `tag` (a leaf).
fn xml_texts(xml: &str, tag: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut texts = Vec::new();
    let mut inside = false;
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("malformed XML ({e}): {xml}"))
        {
            Event::Start(e) if e.name().as_ref() == tag.as_bytes() => inside = true,
            Event::Empty(e) if e.name().as_ref() == tag.as_bytes() => texts.push(String::new()),
            Event::Text(t) if inside => texts.push(t.unescape().unwrap().into_owned()),
            Event::End(e) if e.name().as_ref() == tag.as_bytes() => inside = false,
            Event::Eof => break,
            _ => {}
        }
    }
    texts
}

// ---------------------------------------------------------------- servicerequestupdates

#[tokio::test]
async fn updates_list_public_entries_of_the_window_earliest_first() {
    let h = harness().await;
    // when: the day of the work
    let answer = h.updates(&window(0, 240)).await;
    // then: the pothole's and the graffiti's public entries, in time order, with the Open311
    // status the request had then; no internal note, no staff, nothing confidential
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let updates = answer.json();
    let open = |id: &str, note: &str| (id.to_string(), "open".to_string(), note.to_string());
    assert_eq!(
        seen(&updates),
        [
            open(POTHOLE, "Report received"),
            open(POTHOLE, "Sent to Public Works"),
            open(GRAFFITI, "Painted over"),
            (POTHOLE.into(), "closed".into(), "Filled the hole".into()),
        ]
    );
    for hidden in [
        INTERNAL_NOTE,
        ACTOR,
        STAFF_ONLY,
        COMPLAINT,
        "looking into it",
        "example.org",
    ] {
        assert!(
            !answer.body.contains(hidden),
            "{hidden} leaked: {}",
            answer.body
        );
    }
    // each update: its time in Hartford, a photo of the fix as a public link, a stable id
    let closed = &updates[3];
    assert_eq!(closed["updated_datetime"], "2026-11-10T13:00:00-05:00");
    assert_eq!(
        closed["media_url"],
        format!("http://cityfix.test/api/v1/media/{POTHOLE}/fix.jpg")
    );
    assert_eq!(updates[0]["media_url"], "");
    let update_ids: Vec<&str> = updates
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["update_id"].as_str().unwrap())
        .collect();
    let mut unique = update_ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), 4);
    assert!(update_ids
        .iter()
        .all(|id| id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')));
    assert_eq!(
        h.updates(&window(0, 240)).await.json(),
        updates,
        "ids are stable"
    );
}

#[tokio::test]
async fn a_window_keeps_only_its_entries_even_of_requests_changed_after_it() {
    let h = harness().await;
    // the pothole was last changed at minute 180, after this window: its routing is still in it
    assert_eq!(
        seen(&h.updates(&window(30, 100)).await.json()),
        [(POTHOLE.into(), "open".into(), "Sent to Public Works".into())]
    );
    assert_eq!(
        seen(&h.updates(&window(140, 160)).await.json()),
        [(GRAFFITI.into(), "open".into(), "Painted over".into())]
    );
    assert!(seen(&h.updates(&window(200, 300)).await.json()).is_empty());
    // no dates: the 90 days before now (a day after the work) hold all four
    assert_eq!(seen(&h.updates("").await.json()).len(), 4);
    // only a start: up to now
    assert_eq!(
        seen(
            &h.updates(&format!("start_date={}", param(minutes(170))))
                .await
                .json()
        )
        .len(),
        1
    );
}

#[tokio::test]
async fn updates_of_one_request_and_never_of_a_confidential_one() {
    let h = harness().await;
    let pothole = h
        .updates(&format!("{}&service_request_id={POTHOLE}", window(0, 240)))
        .await
        .json();
    let notes: Vec<String> = seen(&pothole)
        .into_iter()
        .map(|(_, _, note)| note)
        .collect();
    assert_eq!(
        notes,
        ["Report received", "Sent to Public Works", "Filled the hole"]
    );
    let complaint = h
        .updates(&format!(
            "{}&service_request_id={COMPLAINT}",
            window(0, 240)
        ))
        .await;
    assert_eq!(complaint.status, StatusCode::OK);
    assert_eq!(complaint.json(), Value::Array(Vec::new()));
    let unknown = h.updates("service_request_id=ZZZZ-ZZZZ").await;
    assert_eq!(unknown.json(), Value::Array(Vec::new()));
}

#[tokio::test]
async fn updates_in_xml_use_fixmystreets_element_names() {
    let h = harness().await;
    let xml = h
        .get(&format!(
            "/open311/v2/servicerequestupdates.xml?{}",
            window(0, 240)
        ))
        .await;
    assert_eq!(xml.status, StatusCode::OK);
    assert!(
        xml.body
            .contains("<service_request_updates><request_update><update_id>"),
        "{}",
        xml.body
    );
    assert_eq!(xml.body.matches("<request_update>").count(), 4);
    assert_eq!(
        xml_texts(&xml.body, "description"),
        [
            "Report received",
            "Sent to Public Works",
            "Painted over",
            "Filled the hole"
        ]
    );
    assert_eq!(
        xml_texts(&xml.body, "status"),
        ["open", "open", "open", "closed"]
    );
}

#[tokio::test]
async fn bad_dates_and_ids_are_a_400_that_says_which() {
    let h = harness().await;
    let backwards = window(100, 50);
    for (query, word) in [
        ("start_date=yesterday", "start_date"),
        ("end_date=2026-11-10", "end_date"),
        (backwards.as_str(), "start_date is after end_date"),
        ("service_request_id=nope", "service_request_id"),
    ] {
        let answer = h.updates(query).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        let error = &answer.json()[0];
        assert_eq!(error["code"], 400);
        assert!(
            error["description"].as_str().unwrap().contains(word),
            "{query}: {error}"
        );
    }
    let xml = h
        .get("/open311/v2/servicerequestupdates.xml?start_date=soon")
        .await;
    assert_eq!(xml.status, StatusCode::BAD_REQUEST);
    assert!(xml_texts(&xml.body, "description")[0].contains("start_date"));
    let elsewhere = h.updates("jurisdiction_id=boston.ma.us").await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- GET requests

#[tokio::test]
async fn requests_filter_on_their_last_change() {
    let h = harness().await;
    // no dates: made in the last 90 days, so not the old graffiti; never the confidential one
    assert_eq!(ids(&h.requests("").await), [POTHOLE]);
    let after = h
        .requests(&format!("updated_after={}", param(minutes(140))))
        .await;
    assert_eq!(ids(&after), [POTHOLE, GRAFFITI], "however long ago made");
    let before = h
        .requests(&format!("updated_before={}", param(minutes(160))))
        .await;
    assert_eq!(ids(&before), [GRAFFITI]);
    let between = h
        .requests(&format!(
            "updated_after={}&updated_before={}",
            param(minutes(170)),
            param(minutes(190))
        ))
        .await;
    assert_eq!(ids(&between), [POTHOLE]);
    let backwards = h
        .get(&format!(
            "/open311/v2/requests.json?updated_after={}&updated_before={}",
            param(minutes(190)),
            param(minutes(170))
        ))
        .await;
    assert_eq!(backwards.status, StatusCode::BAD_REQUEST);
    assert!(backwards
        .body
        .contains("updated_after is after updated_before"));
    let garbled = h.get("/open311/v2/requests.json?updated_after=today").await;
    assert_eq!(garbled.status, StatusCode::BAD_REQUEST);
    assert!(garbled.body.contains("updated_after"));
}

#[tokio::test]
async fn extensions_add_channel_areas_duplicate_link_and_public_history() {
    let h = harness().await;
    let since = format!("updated_after={}", param(minutes(0)));
    let plain = h.requests(&since).await;
    assert!(plain.iter().all(|r| r.get("extended_attributes").is_none()));
    let extended = h.requests(&format!("{since}&extensions=true")).await;
    assert_eq!(ids(&extended), [POTHOLE, GRAFFITI]);
    let pothole = &extended[0]["extended_attributes"];
    assert_eq!(pothole["channel"], "web");
    assert_eq!(pothole["areas"]["neighbourhoods"], "Downtown");
    assert!(pothole.get("duplicate_of").is_none());
    let notes: Vec<(&str, &str)> = pothole["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["type"].as_str().unwrap(),
                n["description"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        notes,
        [
            ("submitted", "Report received"),
            ("routed", "Sent to Public Works"),
            ("status_changed", "Filled the hole")
        ]
    );
    assert_eq!(pothole["notes"][1]["datetime"], "2026-11-10T11:00:00-05:00");
    let graffiti = &extended[1]["extended_attributes"];
    assert_eq!(graffiti["duplicate_of"], POTHOLE);
    assert_eq!(graffiti["parent_service_request_id"], POTHOLE);
    let body = serde_json::to_string(&extended).unwrap();
    for hidden in [INTERNAL_NOTE, ACTOR, STAFF_ONLY, COMPLAINT] {
        assert!(!body.contains(hidden), "{hidden} leaked: {body}");
    }
    let xml = h
        .get(&format!("/open311/v2/requests.xml?{since}&extensions=true"))
        .await;
    assert_eq!(xml.status, StatusCode::OK);
    assert_eq!(xml_texts(&xml.body, "channel"), ["web", "web"]);
    assert_eq!(xml.body.matches("<note>").count(), 5, "{}", xml.body);
    let wrong = h.get("/open311/v2/requests.json?extensions=yes").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn expected_dates_and_priority_reach_both_views() {
    let h = harness().await;
    let open311 = h
        .get(&format!("/open311/v2/requests/{POTHOLE}.json"))
        .await
        .json();
    assert_eq!(open311[0]["expected_datetime"], "2026-11-15T10:00:00-05:00");
    let graffiti = h
        .get(&format!("/open311/v2/requests/{GRAFFITI}.json"))
        .await
        .json();
    assert_eq!(graffiti[0]["expected_datetime"], Value::Null);
    let api = h.get(&format!("/api/v1/requests/{POTHOLE}")).await.json();
    assert_eq!(api["expected_datetime"], "2026-11-15T10:00:00-05:00");
    assert_eq!(api["priority"], "high");
    let api = h.get(&format!("/api/v1/requests/{GRAFFITI}")).await.json();
    assert_eq!(api["expected_datetime"], Value::Null);
    assert_eq!(api["priority"], "normal");
}
