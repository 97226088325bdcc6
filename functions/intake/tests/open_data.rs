//! The open-data exports over the router: public fields only (seeded personal data, notes, hidden
//! and confidential requests, an edited-away description never appear), clear refusals of a bad
//! range, a streamed body that starts before every page is read, a capped body that links to the
//! rest, CSV the `csv` crate reads and GeoJSON the `geojson` crate reads, and the dictionary page.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, Duration, TimeZone, Utc};
use cityfix_app::ports::{NewRequest, RequestStore};
use cityfix_domain::{
    Contact, Location, ServiceRequest, TimelineEntry, TimelineKind, TrackingNumber, ValidReport,
};
use cityfix_testing::{demo_city, repo_root, World};
use http_body_util::BodyExt;
use intake::{OpenData, ResponseSize};
use serde_json::Value;
use tower::ServiceExt;

/// Words that are in the seeded personal data, notes and withheld requests, and must not be in
/// any export.
const SECRETS: &[&str] = &[
    "Wilhelmina",
    "Quarrington",
    "wquarrington@example.org",
    "+18605550123",
    "860-555-0123",
    "device-7788",
    "INTERNAL NOTE ZEBRA",
    "ORIGINAL TEXT MARIGOLD",
    "PRIVATE-PHOTO-KEY",
    "HIDDEN REQUEST HERON",
    "CONFIDENTIAL COMPLAINT OSPREY",
    "token-",
];

fn app(world: &World, location_decimals: Option<u32>, response_size: ResponseSize) -> Router {
    intake::open_data_router(OpenData {
        store: Arc::new(world.store.clone()),
        city: demo_city(),
        location_decimals,
        response_size,
    })
}

async fn get(app: &Router, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

/// Noon in Hartford on 2026-03-10 plus `minutes`.
fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 16, 0, 0).unwrap() + Duration::minutes(minutes)
}

/// A request of `service_code` made at `at`, with a reporter who gave a name, e-mail and phone.
fn new_request(id: &str, service_code: &str, description: &str, at: DateTime<Utc>) -> NewRequest {
    let contact = Contact {
        email: Some("wquarrington@example.org".into()),
        phone: Some("+18605550123".into()),
        first_name: Some("Wilhelmina".into()),
        last_name: Some("Quarrington".into()),
        device_id: Some("device-7788".into()),
        ..Contact::default()
    };
    let report = ValidReport {
        service_code: service_code.into(),
        location: Location::new(41.767_734, -72.676_021).unwrap(),
        address: Some("550 Main St".into()),
        attributes: Default::default(),
        description: Some(description.into()),
        contact: contact.clone(),
        media_url: None,
    };
    let id = TrackingNumber::parse(id).unwrap();
    // The demo city is loaded once: reading it for every request of a seed takes minutes.
    static CITY: std::sync::OnceLock<Arc<cityfix_domain::City>> = std::sync::OnceLock::new();
    let city = CITY.get_or_init(demo_city);
    let service = city.service(service_code).unwrap().name.clone();
    NewRequest {
        request: ServiceRequest::submitted(id.clone(), &report, &service, "web", at),
        reporter: Some(contact),
        token: format!("token-{id}"),
        first_entry: TimelineEntry::submitted(at),
        idempotency: None,
    }
}

async fn change(world: &World, mut request: ServiceRequest, entry: TimelineEntry) {
    let expected = request.version;
    request.version += 1;
    world
        .store
        .update(&request, expected, &entry)
        .await
        .unwrap();
}

/// A public pothole with an internal note, one whose description staff edited (the original
/// kept) with a private photo, a hidden one and a confidential complaint, all on 2026-03-10.
async fn seed_personal_data(world: &World) {
    let confidential = demo_city()
        .services
        .iter()
        .find(|s| s.confidential)
        .unwrap()
        .code
        .clone();
    let public = new_request("PB10-0001", "pothole", "Deep hole by the curb", at(0));
    world.store.create(&public).await.unwrap();
    let note = TimelineEntry {
        event_id: "note-1".into(),
        kind: TimelineKind::Note,
        public: false,
        internal_note: Some("INTERNAL NOTE ZEBRA: the reporter is Wilhelmina Quarrington".into()),
        ..TimelineEntry::submitted(at(1))
    };
    change(world, public.request.clone(), note).await;

    let edited = new_request("PB10-0002", "pothole", "ORIGINAL TEXT MARIGOLD", at(2));
    world.store.create(&edited).await.unwrap();
    let mut moderated = edited.request.clone();
    moderated.original_description = moderated.description.take();
    moderated.description = Some("A hole in the road".into());
    moderated.media = vec!["originals/PRIVATE-PHOTO-KEY.jpg".into()];
    moderated.private_media = moderated.media.clone();
    let entry = TimelineEntry {
        event_id: "moderated".into(),
        ..TimelineEntry::submitted(at(3))
    };
    change(world, moderated, entry).await;

    let hidden = new_request("HDN0-0001", "pothole", "HIDDEN REQUEST HERON", at(4));
    world.store.create(&hidden).await.unwrap();
    let mut hid = hidden.request.clone();
    hid.hidden = true;
    let entry = TimelineEntry {
        event_id: "hidden".into(),
        ..TimelineEntry::submitted(at(5))
    };
    change(world, hid, entry).await;

    let complaint = new_request(
        "ETH1-0001",
        &confidential,
        "CONFIDENTIAL COMPLAINT OSPREY",
        at(6),
    );
    world.store.create(&complaint).await.unwrap();
}

#[tokio::test]
async fn both_exports_hold_the_public_requests_and_no_personal_data() {
    let world = World::new();
    seed_personal_data(&world).await;
    for decimals in [None, Some(3)] {
        let app = app(&world, decimals, ResponseSize::Streamed);
        let (status, headers, csv_text) = get(
            &app,
            "/open-data/requests.csv?from=2026-03-10&to=2026-03-10",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{csv_text}");
        assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
        let (status, headers, geojson_text) = get(
            &app,
            "/open-data/requests.geojson?from=2026-03-10&to=2026-03-10",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{geojson_text}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/geo+json");
        for secret in SECRETS {
            assert!(
                !csv_text.contains(secret),
                "`{secret}` in the CSV: {csv_text}"
            );
            assert!(
                !geojson_text.contains(secret),
                "`{secret}` in the GeoJSON: {geojson_text}"
            );
        }

        // the CSV reads with the csv crate: the two public requests, by the dictionary's columns
        let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
        let names: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let columns: Vec<&str> = intake::OPEN_DATA_COLUMNS.iter().map(|c| c.0).collect();
        assert_eq!(names, columns);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let column = |row: &csv::StringRecord, name: &str| {
            row[columns.iter().position(|c| *c == name).unwrap()].to_string()
        };
        let ids: Vec<String> = rows
            .iter()
            .map(|r| column(r, "service_request_id"))
            .collect();
        assert_eq!(
            ids,
            ["PB10-0001", "PB10-0002"].map(|t| TrackingNumber::parse(t).unwrap().to_string())
        );
        assert_eq!(column(&rows[0], "service_code"), "pothole");
        assert_eq!(column(&rows[0], "description"), "Deep hole by the curb");
        assert_eq!(column(&rows[1], "description"), "A hole in the road");
        assert_eq!(
            column(&rows[0], "requested_datetime"),
            "2026-03-10T12:00:00-04:00"
        );
        match decimals {
            Some(_) => {
                assert_eq!(column(&rows[0], "lat"), "41.768");
                assert_eq!(column(&rows[0], "long"), "-72.676");
                assert_eq!(
                    column(&rows[0], "address"),
                    "",
                    "the address would give the point back"
                );
            }
            None => {
                assert_eq!(column(&rows[0], "lat"), "41.767734");
                assert_eq!(column(&rows[0], "address"), "550 Main St");
            }
        }

        // the GeoJSON reads with the geojson crate: the same two, as points
        let parsed: geojson::GeoJson = geojson_text.parse().unwrap();
        let geojson::GeoJson::FeatureCollection(collection) = parsed else {
            panic!("not a FeatureCollection: {geojson_text}")
        };
        assert_eq!(collection.features.len(), 2);
        let feature = &collection.features[0];
        let Some(geojson::Value::Point(point)) = feature.geometry.as_ref().map(|g| &g.value) else {
            panic!("not a point: {feature:?}")
        };
        let expected_lat = if decimals.is_some() {
            41.768
        } else {
            41.767_734
        };
        assert_eq!(point[1], expected_lat);
        assert_eq!(
            feature.property("service_code"),
            Some(&Value::String("pothole".into()))
        );
        assert!(
            feature.property("lat").is_none(),
            "the point is the geometry"
        );
    }
}

#[tokio::test]
async fn a_description_a_spreadsheet_would_run_is_neutralised_in_the_csv_and_kept_in_the_geojson() {
    let world = World::new();
    let formula = "=HYPERLINK(\"http://evil.example\",\"pothole\")";
    let request = new_request("FRM0-0001", "pothole", formula, at(0));
    world.store.create(&request).await.unwrap();
    let app = app(&world, None, ResponseSize::Streamed);

    let (status, _, csv_text) = get(
        &app,
        "/open-data/requests.csv?from=2026-03-10&to=2026-03-10",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{csv_text}");
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let columns: Vec<&str> = intake::OPEN_DATA_COLUMNS.iter().map(|c| c.0).collect();
    let row = reader.records().next().unwrap().unwrap();
    let description = &row[columns.iter().position(|c| *c == "description").unwrap()];
    assert_eq!(description, format!("'{formula}"));

    let (_, _, geojson_text) = get(
        &app,
        "/open-data/requests.geojson?from=2026-03-10&to=2026-03-10",
    )
    .await;
    let parsed: geojson::GeoJson = geojson_text.parse().unwrap();
    let geojson::GeoJson::FeatureCollection(collection) = parsed else {
        panic!("not a FeatureCollection: {geojson_text}")
    };
    assert_eq!(
        collection.features[0].property("description"),
        Some(&Value::String(formula.into()))
    );
}

#[tokio::test]
async fn a_bad_range_is_refused_with_the_field_and_the_reason() {
    let world = World::new();
    let app = app(&world, None, ResponseSize::Streamed);
    for (query, field) in [
        ("to=2026-03-10", "from"),
        ("from=2026-03-10", "to"),
        ("from=10/03/2026&to=2026-03-10", "from"),
        ("from=2026-03-10&to=2026-02-30", "to"),
        ("from=2026-03-10&to=2026-03-09", "to"),
        ("from=2025-01-01&to=2026-01-02", "to"),
        ("from=2026-03-10&to=2026-03-10&after=nonsense", "after"),
    ] {
        for format in ["csv", "geojson"] {
            let (status, _, text) =
                get(&app, &format!("/open-data/requests.{format}?{query}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {text}");
            let error: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(error["error"]["code"], "invalid_range", "{query}: {text}");
            assert_eq!(error["error"]["field"], field, "{query}: {text}");
        }
    }
    let (status, _, text) = get(
        &app,
        "/open-data/requests.csv?from=2026-03-10&to=2026-03-10&limit=5",
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an unknown parameter: {text}"
    );
    // a whole leap year is one range
    let (status, _, text) = get(
        &app,
        "/open-data/requests.csv?from=2024-01-01&to=2024-12-31",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
}

/// `count` requests made a minute apart from `at(0)`, stored in one transaction.
async fn seed_many(world: &World, count: usize) {
    let many: Vec<NewRequest> = (0..count)
        .map(|n| {
            let mut new = new_request(
                &format!("{n:08}"),
                "pothole",
                "Deep hole by the curb",
                at(n as i64),
            );
            new.reporter = None;
            new
        })
        .collect();
    world.store.import(many).await.unwrap();
}

#[tokio::test]
async fn a_streamed_export_sends_its_first_rows_before_it_reads_the_later_pages() {
    // given more than four pages of requests
    let world = World::new();
    let stored = intake::OPEN_DATA_PAGE_ROWS as usize * 4 + 7;
    seed_many(&world, stored).await;
    let app = app(&world, None, ResponseSize::Streamed);
    let response = app
        .oneshot(
            Request::get("/open-data/requests.csv?from=2026-03-10&to=2026-03-31")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();

    // when the first bytes have come, a request is made later that day
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let first_rows = String::from_utf8(first.to_vec()).unwrap().lines().count() - 1;
    assert_eq!(
        first_rows,
        intake::OPEN_DATA_PAGE_ROWS as usize,
        "one page first"
    );
    let late = new_request(
        "7ATE-0001",
        "pothole",
        "Made while the export ran",
        at(60 * 24 * 5),
    );
    world.store.create(&late).await.unwrap();

    // then the rest of the body holds it: the later pages were read only after the first was sent
    let rest = body.collect().await.unwrap().to_bytes();
    let whole = [first.to_vec(), rest.to_vec()].concat();
    let mut reader = csv::Reader::from_reader(whole.as_slice());
    let ids: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[0].to_string())
        .collect();
    assert_eq!(ids.len(), stored + 1);
    assert_eq!(ids.last().unwrap(), &late.request.id.to_string());
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "every request once");
}

/// Follows the `Link: <…>; rel="next"` headers from `uri`: each body in turn.
async fn follow(app: &Router, uri: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    let mut next = Some(uri.to_string());
    while let Some(uri) = next.take() {
        let (status, headers, text) = get(app, &uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {text}");
        bodies.push(text);
        next = headers.get(header::LINK).map(|link| {
            let link = link.to_str().unwrap();
            assert!(link.ends_with(">; rel=\"next\""), "{link}");
            link[1..link.find('>').unwrap()].to_string()
        });
        assert!(bodies.len() < 100, "the links end");
    }
    bodies
}

#[tokio::test]
async fn a_capped_export_stays_under_its_size_and_links_to_the_rest_until_every_row_came_once() {
    let world = World::new();
    seed_many(&world, 1200).await;
    seed_personal_data(&world).await;
    let cap = 40_000;
    let app = app(&world, Some(3), ResponseSize::Capped(cap));

    let bodies = follow(
        &app,
        "/open-data/requests.csv?from=2026-03-10&to=2026-03-31",
    )
    .await;
    assert!(bodies.len() > 3, "{} responses", bodies.len());
    let mut ids = Vec::new();
    for body in &bodies {
        assert!(
            body.len() < cap + 1_000,
            "a response of {} bytes",
            body.len()
        );
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        assert_eq!(
            reader.headers().unwrap().len(),
            intake::OPEN_DATA_COLUMNS.len()
        );
        ids.extend(reader.records().map(|r| r.unwrap()[0].to_string()));
    }
    assert_eq!(
        ids.len(),
        1202,
        "the public requests, hidden and confidential left out"
    );
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "every request once");

    let bodies = follow(
        &app,
        "/open-data/requests.geojson?from=2026-03-10&to=2026-03-31",
    )
    .await;
    let mut features = 0;
    for body in &bodies {
        assert!(
            body.len() < cap + 2_000,
            "a response of {} bytes",
            body.len()
        );
        let geojson::GeoJson::FeatureCollection(page) = body.parse::<geojson::GeoJson>().unwrap()
        else {
            panic!("not a FeatureCollection")
        };
        features += page.features.len();
        for secret in SECRETS {
            assert!(!body.contains(secret), "`{secret}` in a GeoJSON page");
        }
    }
    assert_eq!(features, 1202);
}

#[tokio::test]
async fn the_dictionary_page_and_the_docs_describe_every_column() {
    let world = World::new();
    let (status, headers, page) =
        get(&app(&world, Some(3), ResponseSize::Streamed), "/open-data/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.contains("<html lang=\"en\">") && page.contains("<caption>"));
    assert!(page.contains("rounded to 3 decimal places"), "{page}");
    let docs = std::fs::read_to_string(repo_root().join("docs/open-data.md")).unwrap();
    for (name, _) in intake::OPEN_DATA_COLUMNS {
        assert!(
            page.contains(&format!("<code>{name}</code>")),
            "{name} on the page"
        );
        assert!(
            docs.contains(&format!("`{name}`")),
            "{name} in docs/open-data.md"
        );
    }
}
