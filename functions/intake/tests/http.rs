//! Intake over HTTP: every Open311 endpoint in JSON and XML, the web API, idempotency, and bad input.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use cityfix_app::ports::{MediaStore, QueueConsumer, RequestQuery, RequestStore};
use cityfix_testing::{intake_deps, World};
use http_body_util::BodyExt;
use intake::Intake;
use quick_xml::events::Event;
use serde_json::{json, Value};
use tower::ServiceExt;

const KEY: &str = "demo-open311-key";
const DOWNTOWN: (f64, f64) = (41.7677, -72.67602);

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

struct Answer {
    status: StatusCode,
    content_type: String,
    location: Option<String>,
    retry_after: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl Harness {
    async fn call(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let header_text = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &header::HeaderValue| v.to_str().unwrap().to_string())
        };
        let content_type = header_text(header::CONTENT_TYPE).unwrap_or_default();
        let location = header_text(header::LOCATION);
        let retry_after = header_text(header::RETRY_AFTER);
        let body = String::from_utf8(
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap();
        Answer {
            status,
            content_type,
            location,
            retry_after,
            body,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.call(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    async fn post_form(&self, path: &str, form: &str) -> Answer {
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .unwrap();
        self.call(request).await
    }

    async fn post_json(&self, body: &Value, key: Option<&str>) -> Answer {
        let mut request =
            Request::post("/api/v1/requests").header(header::CONTENT_TYPE, "application/json");
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        self.call(request.body(Body::from(body.to_string())).unwrap())
            .await
    }

    async fn stored(&self) -> usize {
        self.world
            .store
            .search(&RequestQuery {
                page: 1,
                page_size: 1000,
                ..RequestQuery::default()
            })
            .await
            .unwrap()
            .len()
    }

    async fn routing_jobs(&self) -> u64 {
        self.world.queue.depth("routing").await.unwrap()
    }
}

fn pothole_form() -> String {
    format!("api_key={KEY}&service_code=pothole&lat={}&long={}&attribute%5Bpothole_size%5D=small&description=Deep+hole&email=ana%40example.org&phone=860-555-0199&first_name=Ana&last_name=Reyes", DOWNTOWN.0, DOWNTOWN.1)
}

fn pothole_json() -> Value {
    json!({
        "service_code": "pothole", "lat": DOWNTOWN.0, "long": DOWNTOWN.1, "attributes": { "pothole_size": "large" },
        "description": "Deep hole by the curb", "email": "ana@example.org", "phone": "860-555-0199", "first_name": "Ana", "last_name": "Reyes"
    })
}

/// Checks the XML is well formed and returns the text of every element named `tag`.
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

// ---------------------------------------------------------------- Open311 reads

#[tokio::test]
async fn discovery_names_this_endpoint_in_both_formats() {
    let h = harness();
    let json = h.get("/open311/v2/discovery.json").await;
    assert_eq!(json.status, StatusCode::OK);
    assert!(json.content_type.starts_with("application/json"));
    assert_eq!(
        json.json()["endpoints"][0]["url"],
        "http://cityfix.test/open311/v2"
    );
    let xml = h.get("/open311/v2/discovery.xml").await;
    assert!(xml.content_type.starts_with("text/xml"));
    assert_eq!(
        xml_texts(&xml.body, "url"),
        ["http://cityfix.test/open311/v2"]
    );
    assert_eq!(
        xml_texts(&xml.body, "format"),
        ["application/json", "text/xml"]
    );
}

#[tokio::test]
async fn services_list_the_catalogue_in_both_formats() {
    let h = harness();
    let json = h.get("/open311/v2/services.json").await.json();
    let services = json.as_array().unwrap();
    assert!(services.len() >= 10);
    let pothole = services
        .iter()
        .find(|s| s["service_code"] == "pothole")
        .unwrap();
    assert_eq!(pothole["metadata"], true);
    assert_eq!(pothole["type"], "realtime");
    let xml = h.get("/open311/v2/services.xml").await;
    assert_eq!(xml_texts(&xml.body, "service_code").len(), services.len());
    assert_eq!(
        h.get("/open311/v2/services.json?jurisdiction_id=hartford.ct.us")
            .await
            .status,
        StatusCode::OK
    );
    let elsewhere = h
        .get("/open311/v2/services.json?jurisdiction_id=boston.ma.us")
        .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    assert_eq!(elsewhere.json()[0]["code"], 404);
}

#[tokio::test]
async fn service_definitions_cover_every_datatype_in_both_formats() {
    let h = harness();
    let services = h.get("/open311/v2/services.json").await.json();
    let mut datatypes = std::collections::BTreeSet::new();
    for service in services
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["metadata"] == true)
    {
        let code = service["service_code"].as_str().unwrap();
        let definition = h
            .get(&format!("/open311/v2/services/{code}.json"))
            .await
            .json();
        assert_eq!(definition["service_code"], code);
        for attribute in definition["attributes"].as_array().unwrap() {
            let datatype = attribute["datatype"].as_str().unwrap().to_string();
            let has_values = !attribute["values"].as_array().unwrap().is_empty();
            assert_eq!(
                has_values,
                datatype.ends_with("valuelist"),
                "{code}: {attribute}"
            );
            datatypes.insert(datatype);
        }
        let xml = h.get(&format!("/open311/v2/services/{code}.xml")).await;
        assert_eq!(xml_texts(&xml.body, "service_code"), [code]);
        assert_eq!(
            xml_texts(&xml.body, "code").len(),
            definition["attributes"].as_array().unwrap().len()
        );
    }
    let expected: std::collections::BTreeSet<String> = [
        "datetime",
        "multivaluelist",
        "number",
        "singlevaluelist",
        "string",
        "text",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(datatypes, expected);
    let pothole = h.get("/open311/v2/services/pothole.xml").await;
    assert_eq!(
        xml_texts(&pothole.body, "key"),
        [
            "small",
            "medium",
            "large",
            "travel_lane",
            "bike_lane",
            "crosswalk",
            "curb"
        ]
    );
    for path in [
        "/open311/v2/services/unicorn.json",
        "/open311/v2/services/unicorn.xml",
    ] {
        assert_eq!(h.get(path).await.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        xml_texts(
            &h.get("/open311/v2/services/unicorn.xml").await.body,
            "code"
        ),
        ["404"]
    );
}

// ---------------------------------------------------------------- Open311 POST and reads of requests

#[tokio::test]
async fn a_posted_request_is_stored_before_the_answer_and_read_back_in_both_formats() {
    let h = harness();
    let posted = h
        .post_form("/open311/v2/requests.json", &pothole_form())
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
    let answer = posted.json();
    let id = answer[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = answer[0]["token"].as_str().unwrap().to_string();
    assert!(id.len() == 9 && id.as_bytes()[4] == b'-', "{id}");
    assert_eq!(h.stored().await, 1);
    assert_eq!(h.routing_jobs().await, 1);

    let read = h
        .get(&format!("/open311/v2/requests/{id}.json"))
        .await
        .json();
    let request = &read[0];
    assert_eq!(request["service_request_id"], id.as_str());
    assert_eq!(request["status"], "open");
    assert_eq!(request["service_code"], "pothole");
    assert_eq!(request["description"], "Deep hole");
    assert_eq!(request["lat"], DOWNTOWN.0);
    let requested = request["requested_datetime"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(requested).is_ok()
            && (requested.ends_with("-05:00") || requested.ends_with("-04:00")),
        "{requested}"
    );

    let xml = h.get(&format!("/open311/v2/requests/{id}.xml")).await;
    assert_eq!(xml_texts(&xml.body, "service_request_id"), [id.as_str()]);
    assert_eq!(xml_texts(&xml.body, "status"), ["open"]);

    let by_token = h
        .get(&format!("/open311/v2/tokens/{token}.json"))
        .await
        .json();
    assert_eq!(by_token[0]["service_request_id"], id.as_str());
    let by_token_xml = h.get(&format!("/open311/v2/tokens/{token}.xml")).await;
    assert_eq!(
        xml_texts(&by_token_xml.body, "service_request_id"),
        [id.as_str()]
    );
    assert_eq!(
        h.get("/open311/v2/tokens/no-such-token.json").await.status,
        StatusCode::NOT_FOUND
    );

    let lower = id.to_lowercase().replace('-', "");
    assert_eq!(
        h.get(&format!("/open311/v2/requests/{lower}.json"))
            .await
            .status,
        StatusCode::OK,
        "ids read back as people type them"
    );
}

#[tokio::test]
async fn a_post_answers_in_xml_too() {
    let h = harness();
    let posted = h
        .post_form("/open311/v2/requests.xml", &pothole_form())
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
    let ids = xml_texts(&posted.body, "service_request_id");
    assert_eq!(ids.len(), 1);
    assert!(!xml_texts(&posted.body, "token")[0].is_empty());
}

#[tokio::test]
async fn list_attributes_and_multivalue_answers_are_accepted_from_the_form() {
    let h = harness();
    let form = format!(
        "api_key={KEY}&service_code=illegal_dumping&lat={}&long={}&attribute[item_count]=3&attribute[materials][]=tires&attribute[materials][]=furniture",
        DOWNTOWN.0, DOWNTOWN.1
    );
    let definition = h
        .get("/open311/v2/services/illegal_dumping.json")
        .await
        .json();
    let keys: Vec<String> = definition["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == "materials")
        .unwrap()["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_str().unwrap().to_string())
        .collect();
    assert!(
        keys.contains(&"tires".to_string()) && keys.contains(&"furniture".to_string()),
        "{keys:?}"
    );
    let posted = h.post_form("/open311/v2/requests.json", &form).await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
    let id = posted.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let read = h.get(&format!("/api/v1/requests/{id}")).await.json();
    assert_eq!(read["attributes"]["item_count"], 3.0);
    assert_eq!(
        read["attributes"]["materials"],
        json!(["tires", "furniture"])
    );
}

#[tokio::test]
async fn search_applies_the_spec_filters_and_pages() {
    let h = harness();
    let mut ids = Vec::new();
    for form in [
        pothole_form(),
        pothole_form(),
        format!(
            "api_key={KEY}&service_code=graffiti&lat={}&long={}&attribute[surfaces][]=building",
            DOWNTOWN.0, DOWNTOWN.1
        ),
    ] {
        let posted = h.post_form("/open311/v2/requests.json", &form).await;
        assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
        ids.push(
            posted.json()[0]["service_request_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let count = |v: Value| v.as_array().unwrap().len();
    assert_eq!(count(h.get("/open311/v2/requests.json").await.json()), 3);
    assert_eq!(
        count(
            h.get("/open311/v2/requests.json?service_code=pothole")
                .await
                .json()
        ),
        2
    );
    assert_eq!(
        count(
            h.get("/open311/v2/requests.json?service_code=pothole,graffiti")
                .await
                .json()
        ),
        3
    );
    assert_eq!(
        count(h.get("/open311/v2/requests.json?status=open").await.json()),
        3
    );
    assert_eq!(
        count(
            h.get("/open311/v2/requests.json?status=closed")
                .await
                .json()
        ),
        0
    );
    assert_eq!(
        count(
            h.get(&format!(
                "/open311/v2/requests.json?service_request_id={},{}",
                ids[0], ids[2]
            ))
            .await
            .json()
        ),
        2
    );
    assert_eq!(count(h.get("/open311/v2/requests.json?start_date=2000-01-01T00:00:00Z&end_date=2000-01-02T00:00:00Z").await.json()), 0);
    assert_eq!(
        count(
            h.get("/open311/v2/requests.json?start_date=2000-01-01T00:00:00-05:00")
                .await
                .json()
        ),
        3
    );
    let page1 = h
        .get("/open311/v2/requests.json?page_size=2&page=1")
        .await
        .json();
    let page2 = h
        .get("/open311/v2/requests.json?page_size=2&page=2")
        .await
        .json();
    assert_eq!((count(page1.clone()), count(page2.clone())), (2, 1));
    assert_ne!(
        page1[0]["service_request_id"],
        page2[0]["service_request_id"]
    );
    let xml = h
        .get("/open311/v2/requests.xml?service_code=graffiti")
        .await;
    assert_eq!(xml_texts(&xml.body, "service_request_id"), [ids[2].clone()]);
    let bad = h.get("/open311/v2/requests.xml?status=pending").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(xml_texts(&bad.body, "description")[0].contains("pending"));
}

#[tokio::test]
async fn unknown_requests_are_404_in_the_asked_format() {
    let h = harness();
    for (path, xml) in [
        ("/open311/v2/requests/ZZZZ-ZZZZ.json", false),
        ("/open311/v2/requests/ZZZZ-ZZZZ.xml", true),
        ("/open311/v2/requests/not-an-id.json", false),
        ("/open311/v2/nonsense.xml", true),
    ] {
        let answer = h.get(path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        if xml {
            assert_eq!(xml_texts(&answer.body, "code"), ["404"], "{path}");
        } else {
            assert_eq!(answer.json()[0]["code"], 404, "{path}");
        }
    }
}

// ---------------------------------------------------------------- Open311 bad input

#[tokio::test]
async fn bad_posts_get_the_right_status_and_reason_and_store_nothing() {
    let h = harness();
    let (lat, long) = DOWNTOWN;
    let long_text = "x".repeat(4001);
    let cases: Vec<(String, StatusCode, &str)> = vec![
        (format!("api_key={KEY}&service_code=unicorn&lat={lat}&long={long}"), StatusCode::BAD_REQUEST, "unicorn"),
        (format!("api_key={KEY}&service_code=sidewalk_damage"), StatusCode::BAD_REQUEST, "location is required"),
        (format!("api_key={KEY}&service_code=sidewalk_damage&lat=95&long={long}"), StatusCode::BAD_REQUEST, "lat must be"),
        (format!("api_key={KEY}&service_code=sidewalk_damage&lat={lat}&long=-190"), StatusCode::BAD_REQUEST, "long must be"),
        (format!("api_key={KEY}&service_code=sidewalk_damage&lat=north&long={long}"), StatusCode::BAD_REQUEST, "lat must be a number"),
        (format!("api_key={KEY}&service_code=sidewalk_damage&lat=40.7128&long=-74.0060"), StatusCode::BAD_REQUEST, "outside"),
        (format!("api_key={KEY}&service_code=pothole&lat={lat}&long={long}"), StatusCode::BAD_REQUEST, "pothole_size"),
        (format!("api_key={KEY}&service_code=pothole&lat={lat}&long={long}&attribute[pothole_size]=huge"), StatusCode::BAD_REQUEST, "huge"),
        (format!("api_key={KEY}&service_code=illegal_dumping&lat={lat}&long={long}&attribute[item_count]=lots"), StatusCode::BAD_REQUEST, "must be a number"),
        (format!("api_key={KEY}&service_code=noise_complaint&lat={lat}&long={long}&attribute[noise_started]=last+night"), StatusCode::BAD_REQUEST, "ISO 8601"),
        (format!("api_key={KEY}&service_code=sidewalk_damage&lat={lat}&long={long}&description={long_text}"), StatusCode::BAD_REQUEST, "4000"),
        (format!("api_key={KEY}&service_code=sidewalk_damage&lat={lat}&long={long}&description=%FF%FE"), StatusCode::BAD_REQUEST, "UTF-8"),
        (format!("api_key={KEY}&service_code=sidewalk_damage&address_string=551+Main+St"), StatusCode::BAD_REQUEST, "did you mean 550 Main Street"),
        (format!("api_key={KEY}&service_code=sidewalk_damage&address_string=1+Nowhere+Lane"), StatusCode::BAD_REQUEST, "not an address"),
        (format!("api_key={KEY}&service_code=sidewalk_damage&lat={lat}&lat={lat}&long={long}"), StatusCode::BAD_REQUEST, "twice"),
        (format!("api_key={KEY}&service_code=sidewalk_damage&lat={lat}&long={long}&email=not-an-address"), StatusCode::BAD_REQUEST, "email"),
        (format!("service_code=sidewalk_damage&lat={lat}&long={long}"), StatusCode::FORBIDDEN, "api_key is required"),
        (format!("api_key=stolen&service_code=sidewalk_damage&lat={lat}&long={long}"), StatusCode::FORBIDDEN, "api_key is not valid"),
        (format!("api_key={KEY}&jurisdiction_id=boston.ma.us&service_code=sidewalk_damage&lat={lat}&long={long}"), StatusCode::NOT_FOUND, "jurisdiction"),
    ];
    for (form, status, reason) in &cases {
        let json = h.post_form("/open311/v2/requests.json", form).await;
        assert_eq!(json.status, *status, "{form}: {}", json.body);
        let error = &json.json()[0];
        assert_eq!(error["code"], status.as_u16(), "{form}");
        assert!(
            error["description"].as_str().unwrap().contains(reason),
            "{form}: {error}"
        );
        let xml = h.post_form("/open311/v2/requests.xml", form).await;
        assert_eq!(xml.status, *status, "{form}");
        assert!(
            xml_texts(&xml.body, "description")[0].contains(reason),
            "{form}: {}",
            xml.body
        );
    }
    assert_eq!(
        h.stored().await,
        0,
        "nothing is stored for a refused report"
    );
    assert_eq!(h.routing_jobs().await, 0);
}

#[tokio::test]
async fn wrong_content_types_and_huge_bodies_are_refused() {
    let h = harness();
    let json_body = Request::post("/open311/v2/requests.json")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(
        h.call(json_body).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let xml_body = Request::post("/open311/v2/requests.xml")
        .header(header::CONTENT_TYPE, "application/xml")
        .body(Body::from("<request><broken>"))
        .unwrap();
    let xml = h.call(xml_body).await;
    assert_eq!(xml.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(xml_texts(&xml.body, "description")[0].contains("x-www-form-urlencoded"));
    let huge = format!("{}&description={}", pothole_form(), "x".repeat(1024 * 1024));
    let answer = h.post_form("/open311/v2/requests.json", &huge).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.json()[0]["code"], 413);
    let api = h
        .post_json(
            &json!({ "service_code": "pothole", "description": "x".repeat(1024 * 1024) }),
            None,
        )
        .await;
    assert_eq!(api.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(api.json()["error"]["code"], "body_too_large");
    assert_eq!(h.stored().await, 0);
}

// ---------------------------------------------------------------- the web API

#[tokio::test]
async fn the_api_creates_a_request_and_reads_it_back_with_its_timeline() {
    let h = harness();
    let services = h.get("/api/v1/services").await.json();
    assert!(services["services"].as_array().unwrap().len() >= 10);

    let created = h.post_json(&pothole_json(), None).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let body = created.json();
    let id = body["service_request_id"].as_str().unwrap();
    assert_eq!(
        created.location.as_deref(),
        Some(format!("/api/v1/requests/{id}").as_str())
    );
    assert_eq!(body["status"], "submitted");
    assert_eq!(body["attributes"]["pothole_size"], "large");
    assert_eq!(body["timeline"][0]["kind"], "submitted");

    let read = h
        .get(&format!("/api/v1/requests/{}", id.to_lowercase()))
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json()["service_request_id"], id);
    let missing = h.get("/api/v1/requests/ZZZZ-ZZZZ").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"]["code"], "not_found");
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_same_request_and_never_a_second() {
    let h = harness();
    let first = h.post_json(&pothole_json(), Some("form-fill-1")).await;
    let again = h.post_json(&pothole_json(), Some("form-fill-1")).await;
    assert_eq!(
        (first.status, again.status),
        (StatusCode::CREATED, StatusCode::OK)
    );
    assert_eq!(
        first.json()["service_request_id"],
        again.json()["service_request_id"]
    );
    let mut changed = pothole_json();
    changed["description"] = json!("A different report");
    let reused = h.post_json(&changed, Some("form-fill-1")).await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.json()["error"]["code"], "idempotency_key_reused");

    let body = pothole_json();
    let (a, b) = tokio::join!(
        h.post_json(&body, Some("double-click")),
        h.post_json(&body, Some("double-click"))
    );
    assert_eq!(
        a.json()["service_request_id"],
        b.json()["service_request_id"]
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CREATED]);
    assert_eq!(h.stored().await, 2);
    // One job per report, and one more per replay that found its report still waiting to be
    // routed (nothing routes in this harness): the first call may have died before queueing it.
    assert_eq!(h.routing_jobs().await, 4);
}

#[tokio::test]
async fn a_replay_queues_a_report_still_waiting_for_routing_again_and_a_routed_one_never() {
    let h = harness();
    let first = h.post_json(&pothole_json(), Some("lost-answer")).await;
    assert_eq!(h.routing_jobs().await, 1);
    // the client never saw the answer (the process died before queueing, say) and sends again
    let again = h.post_json(&pothole_json(), Some("lost-answer")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(h.routing_jobs().await, 2, "queued again while `submitted`");

    // once routed, a replay only answers
    let id =
        cityfix_domain::TrackingNumber::parse(first.json()["service_request_id"].as_str().unwrap())
            .unwrap();
    h.change_stored(&id, |request| {
        request.status = cityfix_domain::Status::Open;
    })
    .await;
    let late = h.post_json(&pothole_json(), Some("lost-answer")).await;
    assert_eq!(late.status, StatusCode::OK);
    assert_eq!(
        late.json()["service_request_id"],
        first.json()["service_request_id"]
    );
    assert_eq!(
        h.routing_jobs().await,
        2,
        "a routed report is not queued again"
    );
}

#[tokio::test]
async fn bad_api_bodies_name_the_field_and_store_nothing() {
    let h = harness();
    let cases = [
        (
            json!({ "service_code": "pothole", "lat": "north", "long": -72.6 }),
            "lat",
            "malformed_body",
        ),
        (
            json!({ "service_code": "pothole", "lat": 41.7, "long": -72.6, "colour": "red" }),
            "",
            "malformed_body",
        ),
        (
            json!({ "service_code": "pothole", "lat": 95, "long": -72.6 }),
            "lat",
            "invalid_field",
        ),
        (
            json!({ "service_code": "unicorn", "lat": DOWNTOWN.0, "long": DOWNTOWN.1 }),
            "service_code",
            "unknown_service",
        ),
        (
            json!({ "service_code": "pothole", "lat": DOWNTOWN.0, "long": DOWNTOWN.1 }),
            "attribute[pothole_size]",
            "missing_field",
        ),
        (
            json!({ "service_code": "pothole", "lat": DOWNTOWN.0, "long": DOWNTOWN.1, "attributes": { "pothole_size": { "a": 1 } } }),
            "attributes.pothole_size",
            "invalid_field",
        ),
        (
            json!({ "service_code": "pothole", "lat": 40.7128, "long": -74.0060, "attributes": { "pothole_size": "small" } }),
            "lat",
            "outside_city",
        ),
        (
            json!({ "service_code": "sidewalk_damage", "address_string": "1 Nowhere Lane" }),
            "address_string",
            "unknown_address",
        ),
    ];
    for (body, field, code) in cases {
        let answer = h.post_json(&body, None).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            answer.body
        );
        let error = &answer.json()["error"];
        assert_eq!(error["code"], code, "{body}: {error}");
        if !field.is_empty() {
            assert_eq!(error["field"], field, "{body}: {error}");
        }
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    let not_json = Request::post("/api/v1/requests")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"service_code\":"))
        .unwrap();
    assert_eq!(h.call(not_json).await.status, StatusCode::BAD_REQUEST);
    let form = Request::post("/api/v1/requests")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("hi"))
        .unwrap();
    assert_eq!(
        h.call(form).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        h.post_json(&pothole_json(), Some("bad key with spaces"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(h.stored().await, 0);
}

#[tokio::test]
async fn personal_data_never_reaches_a_public_response() {
    let h = harness();
    let api = h.post_json(&pothole_json(), None).await;
    let id = api.json()["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    h.post_form("/open311/v2/requests.json", &pothole_form())
        .await;
    let bodies = [
        api.body,
        h.get(&format!("/api/v1/requests/{id}")).await.body,
        h.get("/open311/v2/requests.json").await.body,
        h.get("/open311/v2/requests.xml").await.body,
        h.get(&format!("/open311/v2/requests/{id}.xml")).await.body,
    ];
    for body in bodies {
        for secret in ["ana@example.org", "555-0199", "Ana", "Reyes"] {
            assert!(!body.contains(secret), "`{secret}` leaked: {body}");
        }
    }
}

#[tokio::test]
async fn a_report_just_over_the_city_line_is_taken_for_the_neighbouring_town() {
    let h = harness();
    let west_hartford =
        format!("api_key={KEY}&service_code=sidewalk_damage&lat=41.7620&long=-72.7420");
    let posted = h
        .post_form("/open311/v2/requests.json", &west_hartford)
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
    assert_eq!(h.routing_jobs().await, 1);
}

#[tokio::test]
async fn open311_search_takes_a_circle() {
    let h = harness();
    let near = h
        .post_form("/open311/v2/requests.json", &pothole_form())
        .await
        .json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let far = format!("api_key={KEY}&service_code=pothole&lat=41.77325&long=-72.69383&attribute[pothole_size]=small");
    assert_eq!(
        h.post_form("/open311/v2/requests.json", &far).await.status,
        StatusCode::OK
    );
    let (lat, long) = DOWNTOWN;
    let found = h
        .get(&format!(
            "/open311/v2/requests.json?lat={}&long={long}&radius=100",
            lat + 0.0005
        ))
        .await
        .json();
    let ids: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [near.as_str()],
        "only the report 56 m away is within 100 m"
    );
    assert_eq!(
        h.get(&format!(
            "/open311/v2/requests.json?lat={lat}&long={long}&radius=5000"
        ))
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.get(&format!("/open311/v2/requests.json?lat={lat}"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.get("/open311/v2/requests.json?radius=50").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_typed_address_becomes_a_point_and_a_point_gets_the_nearest_address() {
    let h = harness();
    let typed = h.post_json(&json!({ "service_code": "sidewalk_damage", "address_string": "550 main st, Hartford CT" }), None).await;
    assert_eq!(typed.status, StatusCode::CREATED, "{}", typed.body);
    let body = typed.json();
    assert_eq!(body["address"], "550 Main Street");
    assert!(
        (body["lat"].as_f64().unwrap() - 41.765071).abs() < 1e-6,
        "{body}"
    );

    let point = h
        .post_json(
            &json!({ "service_code": "sidewalk_damage", "lat": 41.765071, "long": -72.673863 }),
            None,
        )
        .await
        .json();
    assert_eq!(point["address"], "near 550 Main Street");
    let nowhere = h
        .post_json(
            &json!({ "service_code": "sidewalk_damage", "lat": 41.7405, "long": -72.6512 }),
            None,
        )
        .await
        .json();
    assert_eq!(
        nowhere["address"],
        Value::Null,
        "no address within 100 m of the South Meadows point: {nowhere}"
    );
}

// ---------------------------------------------------------------- a hostile tester's findings

impl Harness {
    async fn post_raw(&self, content_type: &str, body: &str) -> Answer {
        let request = Request::post("/api/v1/requests")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_string()))
            .unwrap();
        self.call(request).await
    }
}

#[tokio::test]
async fn a_control_character_is_refused_at_intake_and_the_xml_list_stays_well_formed() {
    let h = harness();
    let form = pothole_form().replace("description=Deep+hole", "description=a%00b");
    let answer = h.post_form("/open311/v2/requests.xml", &form).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert!(
        xml_texts(&answer.body, "description")[0].contains("U+0000"),
        "{}",
        answer.body
    );
    let mut body = pothole_json();
    body["first_name"] = json!("An\u{1b}[31ma");
    let api = h.post_json(&body, None).await;
    assert_eq!(api.status, StatusCode::BAD_REQUEST, "{}", api.body);
    assert_eq!(api.json()["error"]["field"], "first_name");
    assert_eq!(api.json()["error"]["code"], "forbidden_character");
    let mut body = pothole_json();
    body["attributes"]["pothole_size"] = json!("large\u{ffff}");
    assert_eq!(
        h.post_json(&body, None).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(h.stored().await, 0);

    // Tabs and line breaks are text; the XML list of many reports parses.
    let form = pothole_form().replace(
        "description=Deep+hole",
        "description=line+one%0D%0Aline%09two",
    );
    assert!(h
        .post_form("/open311/v2/requests.json", &form)
        .await
        .status
        .is_success());
    let list = h.get("/open311/v2/requests.xml?page_size=1000").await;
    assert_eq!(
        xml_texts(&list.body, "description"),
        ["line one\r\nline\ttwo"]
    );
}

#[tokio::test]
async fn an_address_list_or_an_odd_form_is_not_an_email() {
    let h = harness();
    for bad in [
        "a@b.org,victim@evil.example",
        "a\u{0}@b.org",
        "Ana <ana@example.org>",
        "ana@[10.0.0.1]",
        "ana@localhost",
    ] {
        let mut body = pothole_json();
        body["email"] = json!(bad);
        let answer = h.post_json(&body, None).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            answer.body
        );
        assert_eq!(answer.json()["error"]["field"], "email", "{bad}");
        let form = pothole_form().replace(
            "ana%40example.org",
            &form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>(),
        );
        let answer = h.post_form("/open311/v2/requests.json", &form).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            answer.body
        );
    }
    assert_eq!(h.stored().await, 0);
}

#[tokio::test]
async fn the_api_takes_exactly_one_json_document_of_application_json() {
    let h = harness();
    let one = pothole_json().to_string();
    for (body, why) in [
        (format!("{one} trailing"), "trailing data"),
        (format!("{one}{one}"), "two documents"),
        (format!("{one}\n{{}}"), "a second document"),
    ] {
        let answer = h.post_raw("application/json", &body).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{why}: {}",
            answer.body
        );
        assert_eq!(answer.json()["error"]["code"], "malformed_body", "{why}");
    }
    for content_type in [
        "application/jsonfoo",
        "application/json; charset=latin1",
        "text/plain",
    ] {
        let answer = h.post_raw(content_type, &one).await;
        assert_eq!(
            answer.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
    }
    let twice = one.replace(
        r#""attributes":{"pothole_size":"large"}"#,
        r#""attributes":{"pothole_size":"large","pothole_size":"small"}"#,
    );
    assert_ne!(twice, one, "the test body has the attributes it edits");
    let answer = h.post_raw("application/json", &twice).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert!(answer.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`pothole_size` is given twice"));
    assert_eq!(h.stored().await, 0);
    let ok = h.post_raw("application/json; charset=utf-8", &one).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
}

#[tokio::test]
async fn an_error_repeats_only_a_little_of_a_long_input() {
    let h = harness();
    let long = "A".repeat(8192);
    for path in [
        format!("/open311/v2/requests/{long}.json"),
        format!("/api/v1/requests/{long}"),
        format!("/api/v1/{long}"),
        format!("/open311/v2/{long}.json"),
        format!("/open311/v2/tokens/{long}.json"),
    ] {
        let answer = h.get(&path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", &path[..30]);
        assert!(
            answer.body.len() < 400,
            "{} bytes for {}",
            answer.body.len(),
            &path[..30]
        );
    }
    let form = format!("{}&attribute%5B{long}%5D=1", pothole_form());
    let answer = h.post_form("/open311/v2/requests.json", &form).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.body.len() < 700, "{} bytes", answer.body.len());
}

#[tokio::test]
async fn an_idempotency_key_is_scoped_to_the_client_that_sent_it() {
    let h = harness();
    let web = h.post_json(&pothole_json(), Some("shared-key-1")).await;
    assert_eq!(web.status, StatusCode::CREATED);
    let request = Request::post("/open311/v2/requests.json")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("Idempotency-Key", "shared-key-1")
        .body(Body::from(pothole_form()))
        .unwrap();
    let open311 = h.call(request).await;
    assert!(open311.status.is_success(), "{}", open311.body);
    assert_ne!(
        web.json()["service_request_id"],
        open311.json()[0]["service_request_id"]
    );
    assert_eq!(h.stored().await, 2);
}

impl Harness {
    async fn ask_upload(&self, id: &str, token: &str, content_type: &str) -> Answer {
        let body = json!({ "token": token, "content_type": content_type, "size": 2048 });
        let request = Request::post(format!("/api/v1/requests/{id}/media"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.call(request).await
    }
}

#[tokio::test]
async fn a_reporter_gets_upload_forms_for_five_files_and_each_tells_its_state() {
    // given a report made over the web API
    let h = harness();
    let created = h.post_json(&pothole_json(), None).await.json();
    let id = created["service_request_id"].as_str().unwrap().to_string();
    let token = created["token"].as_str().unwrap().to_string();

    // when its reporter asks for a form, the media is pending until it is checked
    let form = h.ask_upload(&id, &token, "image/jpeg").await;
    assert_eq!(form.status, StatusCode::CREATED, "{}", form.body);
    let media_id = form.json()["media_id"].as_str().unwrap().to_string();
    let state = h.get(&format!("/api/v1/media/{media_id}")).await;
    assert_eq!(state.status, StatusCode::OK, "{}", state.body);
    assert_eq!(state.json()["state"], "pending");
    assert_eq!(state.json()["request_id"], id.as_str());
    assert_eq!(
        h.get("/api/v1/media/no-such-media").await.status,
        StatusCode::NOT_FOUND
    );

    // and an iPhone's HEIC is refused with the kinds that are taken
    let heic = h.ask_upload(&id, &token, "image/heic").await;
    assert_eq!(heic.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        heic.body.contains("HEIC") && heic.body.contains("image/jpeg"),
        "{}",
        heic.body
    );

    // when the report holds five files, a sixth form is refused and says why
    let status = cityfix_app::transition::StatusDeps {
        city: cityfix_testing::demo_city(),
        store: Arc::new(h.world.store.clone()),
        queue: Arc::new(h.world.queue.clone()),
        clock: Arc::new(cityfix_app::ports::SystemClock),
        media: Arc::new(h.world.media.clone()),
    };
    let request_id = cityfix_domain::TrackingNumber::parse(&id).unwrap();
    for n in 0..5 {
        let attach = cityfix_app::messages::StatusCommand::AttachMedia {
            request_id: request_id.clone(),
            media_id: format!("media-m{n}"),
            key: format!("originals/{id}/m{n}.jpg"),
            content_type: "image/jpeg".into(),
            url: format!("http://cityfix.test/api/v1/media/{id}/m{n}.jpg"),
        };
        cityfix_app::transition::apply(&status, &attach)
            .await
            .unwrap();
    }
    let sixth = h.ask_upload(&id, &token, "image/jpeg").await;
    assert_eq!(sixth.status, StatusCode::CONFLICT, "{}", sixth.body);
    assert!(sixth.body.contains("(5)"), "{}", sixth.body);
    let ready = h.get("/api/v1/media/m0").await.json();
    assert_eq!(ready["state"], "ready", "{ready}");
    assert!(ready["thumbnail_url"]
        .as_str()
        .unwrap()
        .ends_with("?size=thumbnail"));
}

#[tokio::test]
async fn the_reporter_s_language_comes_from_the_report_else_the_browser() {
    use cityfix_domain::{Language, TrackingNumber};
    let h = harness();
    let store = &h.world.store;
    let language_of = |answer: Answer| async move {
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        let id =
            TrackingNumber::parse(answer.json()["service_request_id"].as_str().unwrap()).unwrap();
        store.reporter(&id).await.unwrap().unwrap().language
    };
    let mut asked = pothole_json();
    asked["language"] = json!("es");
    assert_eq!(
        language_of(h.post_json(&asked, None).await).await,
        Some(Language::Es)
    );

    let browser = Request::post("/api/v1/requests")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT_LANGUAGE, "es-MX,es;q=0.9,en;q=0.5")
        .body(Body::from(pothole_json().to_string()))
        .unwrap();
    assert_eq!(language_of(h.call(browser).await).await, Some(Language::Es));
    assert_eq!(
        language_of(h.post_json(&pothole_json(), None).await).await,
        None
    );

    let before = h.stored().await;
    asked["language"] = json!("fr");
    let refused = h.post_json(&asked, None).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("language"), "{}", refused.body);
    assert_eq!(h.stored().await, before);
}

#[tokio::test]
async fn a_replayed_first_answer_gives_the_upload_token_again() {
    // given a report whose first answer the client never read
    let h = harness();
    let first = h.post_json(&pothole_json(), Some("lost-answer-1")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let token = first.json()["token"].as_str().unwrap().to_string();

    // when the client sends it again with the same Idempotency-Key
    let again = h.post_json(&pothole_json(), Some("lost-answer-1")).await;

    // then it hears the same request and token, and the token still adds photos
    assert_eq!(again.status, StatusCode::OK);
    let again = again.json();
    assert_eq!(again["token"], json!(token));
    let id = again["service_request_id"].as_str().unwrap();
    let form = h.ask_upload(id, &token, "image/jpeg").await;
    assert_eq!(form.status, StatusCode::CREATED, "{}", form.body);

    // and an Open311 client's replay likewise
    let post = || {
        Request::post("/open311/v2/requests.json")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("Idempotency-Key", "lost-answer-2")
            .body(Body::from(pothole_form()))
            .unwrap()
    };
    let first = h.call(post()).await.json();
    let replayed = h.call(post()).await.json();
    assert!(first[0]["token"].is_string(), "{first}");
    assert_eq!(replayed[0]["token"], first[0]["token"]);
    assert_eq!(h.stored().await, 2);
}

impl Harness {
    /// Changes a stored request as status would have, with a timeline entry of its own.
    async fn change_stored(
        &self,
        id: &cityfix_domain::TrackingNumber,
        change: impl FnOnce(&mut cityfix_domain::ServiceRequest),
    ) {
        let mut request = self.world.store.get(id).await.unwrap().unwrap();
        change(&mut request);
        let version = request.version;
        request.version += 1;
        let mut entry = cityfix_domain::TimelineEntry::submitted(request.updated_at);
        entry.event_id = format!("changed-{version}");
        self.world
            .store
            .update(&request, version, &entry)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn open311_shows_the_first_public_photo_and_lists_the_public_ones_never_a_private_one() {
    use cityfix_app::media::{record_state, MediaState};
    // given a report with a video, a photo staff keep private, and a photo of the street
    let h = harness();
    let created = h.post_json(&pothole_json(), None).await.json();
    let id = cityfix_domain::TrackingNumber::parse(created["service_request_id"].as_str().unwrap())
        .unwrap();
    let key = |file: &str| format!("originals/{id}/{file}");
    let link = |file: &str| format!("http://cityfix.test/api/v1/media/{id}/{file}");
    h.change_stored(&id, |request| {
        request.media = vec![key("clip.mp4"), key("face.jpg"), key("street.jpg")];
        request.private_media = vec![key("face.jpg")];
        request.media_url = Some(link("clip.mp4"));
    })
    .await;
    for file in ["face.jpg", "street.jpg"] {
        h.world
            .media
            .put(&key(file), vec![0xFF; 10], "image/jpeg")
            .await
            .unwrap();
        let ready = MediaState::Ready {
            request_id: id.clone(),
            url: link(file),
        };
        let media_id = file.trim_end_matches(".jpg");
        record_state(&h.world.media, media_id, &ready)
            .await
            .unwrap();
    }

    // when Open311 clients read it, one by id and in the list, in JSON
    let one = h
        .get(&format!("/open311/v2/requests/{id}.json"))
        .await
        .json();
    let list = h.get("/open311/v2/requests.json").await.json();
    // then `media_url` is the street photo (the video is no photo, the face is private), and
    // `media_urls` lists the video and the street
    for shown in [&one[0], &list[0]] {
        assert_eq!(shown["media_url"], json!(link("street.jpg")), "{shown}");
        assert_eq!(
            shown["media_urls"],
            json!([link("clip.mp4"), link("street.jpg")])
        );
    }

    // and in XML, well formed, each link an item of `media_urls`
    let xml = h.get(&format!("/open311/v2/requests/{id}.xml")).await;
    assert_eq!(xml.status, StatusCode::OK);
    assert_eq!(
        xml_texts(&xml.body, "media_url"),
        [link("street.jpg"), link("clip.mp4"), link("street.jpg")]
    );
    assert!(
        xml.body.contains(&format!(
            "<media_urls><media_url>{}</media_url><media_url>{}</media_url></media_urls>",
            link("clip.mp4"),
            link("street.jpg")
        )),
        "{}",
        xml.body
    );

    // and the private photo is nowhere: not in the web view, not readable, its state tells no link
    let web = h.get(&format!("/api/v1/requests/{id}")).await;
    for body in [&web.body, &xml.body, &one.to_string()] {
        assert!(!body.contains("face"), "{body}");
    }
    let hidden = h.get(&format!("/api/v1/media/{id}/face.jpg")).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let shown = h.get(&format!("/api/v1/media/{id}/street.jpg")).await;
    assert_eq!(shown.status, StatusCode::FOUND);
    let state = h.get("/api/v1/media/face").await.json();
    assert_eq!(state["state"], "private");
    assert!(state.get("url").is_none(), "{state}");
    assert_eq!(h.get("/api/v1/media/street").await.json()["state"], "ready");
}

#[tokio::test]
async fn a_reporters_comment_shows_up_to_five_of_their_photos_and_six_are_refused() {
    // given a report with six checked photos
    let h = harness();
    let created = h.post_json(&pothole_json(), None).await.json();
    let token = created["token"].as_str().unwrap().to_string();
    let id = cityfix_domain::TrackingNumber::parse(created["service_request_id"].as_str().unwrap())
        .unwrap();
    let ids = ["p1", "p2", "p3", "p4", "p5", "p6"];
    h.change_stored(&id, |request| {
        request.media = ids
            .iter()
            .map(|m| format!("originals/{id}/{m}.jpg"))
            .collect();
    })
    .await;
    let comment = |media: &[&str]| {
        let body = json!({ "token": token, "text": "Still deep", "media": media });
        Request::post(format!("/api/v1/requests/{id}/comments"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };

    // when the reporter comments with six, or with one that is not checked: refused, nothing queued
    let six = h.call(comment(&ids)).await;
    assert_eq!(six.status, StatusCode::BAD_REQUEST, "{}", six.body);
    assert_eq!(six.json()["error"]["code"], "too_many_files");
    let unknown = h.call(comment(&["p1", "nope"])).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.json()["error"]["code"], "unknown_media");
    assert_eq!(h.world.queue.depth("status").await.unwrap(), 0);

    // when with five: status is asked to show them with the comment
    let five = h.call(comment(&ids[..5])).await;
    assert_eq!(five.status, StatusCode::ACCEPTED, "{}", five.body);
    let queued = h.world.queue.receive("status", 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert!(
        queued[0]
            .body
            .contains("\"media\":[\"p1\",\"p2\",\"p3\",\"p4\",\"p5\"]"),
        "{}",
        queued[0].body
    );
}

impl Harness {
    async fn ask_slot(&self, token: Option<&str>) -> Answer {
        let mut body = json!({ "content_type": "image/jpeg", "size": 200_000 });
        if let Some(token) = token {
            body["upload_token"] = json!(token);
        }
        let request = Request::post("/api/v1/media")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.call(request).await
    }

    /// Uploads a photo into a slot's form and has the media check take it, as S3 and the media
    /// function would.
    async fn upload_into(&self, slot: &Value) -> cityfix_app::media::Checked {
        let fields = slot["upload"]["fields"].as_object().unwrap();
        let key = fields["key"].as_str().unwrap();
        let photo = cityfix_app::samples::photo_with_location(64, 48, 1);
        self.world
            .media
            .put(key, photo, "image/jpeg")
            .await
            .unwrap();
        let deps = cityfix_app::media::MediaDeps {
            media: Arc::new(self.world.media.clone()),
            queue: Arc::new(self.world.queue.clone()),
            public_url: "http://cityfix.test".into(),
        };
        cityfix_app::media::check_upload(&deps, key).await.unwrap()
    }

    /// Applies what waits on the status queue, as the status function would.
    async fn apply_status(&self) -> usize {
        let deps = cityfix_app::transition::StatusDeps {
            city: cityfix_testing::demo_city(),
            store: Arc::new(self.world.store.clone()),
            queue: Arc::new(self.world.queue.clone()),
            clock: Arc::new(cityfix_app::ports::SystemClock),
            media: Arc::new(self.world.media.clone()),
        };
        let messages = self.world.queue.receive("status", 20).await.unwrap();
        for message in &messages {
            let command = serde_json::from_str(&message.body).unwrap();
            cityfix_app::transition::apply(&deps, &command)
                .await
                .unwrap();
            self.world
                .queue
                .delete("status", &message.receipt_handle)
                .await
                .unwrap();
        }
        messages.len()
    }
}

#[tokio::test]
async fn photos_uploaded_before_the_report_join_it_when_it_names_them_with_its_token() {
    use cityfix_app::media::Checked;
    let h = harness();
    // given two slots of one upload token, and one of another
    let first = h.ask_slot(None).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let first = first.json();
    let token = first["upload_token"].as_str().unwrap().to_string();
    let second = h.ask_slot(Some(&token)).await.json();
    assert_eq!(second["upload_token"], json!(token));
    let other = h.ask_slot(None).await.json();
    let stranger = h.ask_slot(Some("made-up-token")).await;
    assert_eq!(stranger.status, StatusCode::FORBIDDEN, "{}", stranger.body);
    let id_of = |slot: &Value| slot["media_id"].as_str().unwrap().to_string();
    let (m1, m2, m3) = (id_of(&first), id_of(&second), id_of(&other));
    assert_eq!(
        h.get(&format!("/api/v1/media/{m1}")).await.json()["state"],
        "waiting"
    );

    // when the first is uploaded before the report: it is checked and held
    assert!(matches!(h.upload_into(&first).await, Checked::Held { .. }));

    // then a report naming it with another token is refused, and so is one naming a stranger
    let mut report = pothole_json();
    report["media"] = json!([m1, m2]);
    report["upload_token"] = json!(other["upload_token"]);
    let refused = h.post_json(&report, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    report["upload_token"] = json!(token);
    report["media"] = json!([m1, "0000-not-given"]);
    let unknown = h.post_json(&report, None).await;
    assert_eq!(
        unknown.json()["error"]["code"],
        "unknown_media",
        "{}",
        unknown.body
    );
    assert_eq!(h.stored().await, 0, "nothing was stored");

    // when the report names both with their token
    report["media"] = json!([m1, m2]);
    let created = h.post_json(&report, None).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.json()["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    // and the second is uploaded after it
    assert!(
        matches!(h.upload_into(&second).await, Checked::Attached { ref request_id, .. } if request_id.as_str() == id)
    );

    // then status attaches both, each shown at the report's media route and in Open311
    assert_eq!(h.apply_status().await, 2);
    let open311 = h
        .get(&format!("/open311/v2/requests/{id}.json"))
        .await
        .json();
    let links = open311[0]["media_urls"].as_array().unwrap().clone();
    assert_eq!(links.len(), 2, "{open311}");
    assert_eq!(open311[0]["media_url"], links[0]);
    for media_id in [&m1, &m2] {
        let read = h.get(&format!("/api/v1/media/{id}/{media_id}.jpg")).await;
        assert_eq!(read.status, StatusCode::FOUND, "{}", read.body);
        assert_eq!(
            h.get(&format!("/api/v1/media/{media_id}")).await.json()["state"],
            "ready"
        );
    }

    // when the scheduler's sweep runs an hour and more later
    let later = chrono::Utc::now() + chrono::Duration::minutes(61);
    let dropped =
        cityfix_app::slots::sweep_slots(&h.world.media, later, cityfix_app::slots::SLOT_LIFETIME)
            .await
            .unwrap();
    // then the slot no report named is dropped, the others stay on their report
    assert_eq!(dropped, 1);
    let state = h.get(&format!("/api/v1/media/{m3}")).await.json();
    assert_eq!(state["state"], "dropped", "{state}");
    let mut late = pothole_json();
    late["media"] = json!([m3]);
    late["upload_token"] = json!(other["upload_token"]);
    let late = h.post_json(&late, None).await;
    assert_eq!(
        late.json()["error"]["code"],
        "media_dropped",
        "{}",
        late.body
    );
    let read = h.get(&format!("/api/v1/media/{id}/{m1}.jpg")).await;
    assert_eq!(read.status, StatusCode::FOUND);
    assert!(h.world.media.keys("slots/", 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_open311_client_names_its_uploaded_photos_with_media_and_its_upload_token() {
    // given a photo uploaded into a slot and checked
    let h = harness();
    let slot = h.ask_slot(None).await.json();
    let token = slot["upload_token"].as_str().unwrap();
    let media_id = slot["media_id"].as_str().unwrap();
    h.upload_into(&slot).await;

    // when a client posts the report with the extension fields, once with a wrong token
    let post = |token: &str| {
        let form = format!("{}&media={media_id}&upload_token={token}", pothole_form());
        Request::post("/open311/v2/requests.xml")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap()
    };
    let wrong = h.call(post("not-the-token")).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.body);
    assert!(xml_texts(&wrong.body, "description")[0].contains("another upload token"));
    assert_eq!(h.stored().await, 0);
    let created = h.call(post(token)).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);

    // then the photo joins the report
    let id = xml_texts(&created.body, "service_request_id")[0].clone();
    assert_eq!(h.apply_status().await, 1);
    let shown = h
        .get(&format!("/open311/v2/requests/{id}.json"))
        .await
        .json();
    assert_eq!(
        shown[0]["media_url"],
        json!(format!(
            "http://cityfix.test/api/v1/media/{id}/{media_id}.jpg"
        ))
    );
}

/// A harness whose city fetches `media_url` photos from `from`.
fn harness_fetching_from(from: &str) -> Harness {
    let world = World::new();
    let mut deps = intake_deps(&world);
    let mut city = Arc::try_unwrap(cityfix_testing::demo_city()).ok().unwrap();
    city.media_fetch = cityfix_domain::fetch::MediaFetch {
        from: vec![from.to_string()],
        ..Default::default()
    }
    .checked()
    .unwrap();
    deps.city = Arc::new(city);
    let app = intake::router(Intake {
        deps,
        public_url: "http://cityfix.test".into(),
        media: Arc::new(world.media.clone()),
    });
    Harness { world, app }
}

#[tokio::test]
async fn a_media_url_off_the_city_list_is_neither_fetched_nor_shown_and_the_client_is_told() {
    // given the demo city, which lists no place to fetch photos from
    let h = harness();
    let form = format!(
        "{}&media_url={}",
        pothole_form(),
        "https%3A%2F%2Ftracker.example%2Fpixel.jpg"
    );

    // when an Open311 client sends a report with a media_url
    let answer = h.post_form("/open311/v2/requests.json", &form).await;

    // then the report is taken, the notice says the photo was not added, and nothing is fetched
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let created = answer.json();
    let notice = created[0]["service_notice"].as_str().unwrap();
    assert!(
        notice.contains("Thank you") && notice.contains("was not added"),
        "{notice}"
    );
    assert_eq!(h.world.queue.depth("media").await.unwrap(), 0);
    let id = created[0]["service_request_id"].as_str().unwrap();
    let shown = h
        .get(&format!("/open311/v2/requests/{id}.json"))
        .await
        .json();
    assert!(
        !shown.to_string().contains("tracker.example"),
        "a client's URL is never shown: {shown}"
    );

    // and the web API says the same in `notices`
    let mut body = pothole_json();
    body["media_url"] = json!("https://tracker.example/pixel.jpg");
    let answer = h.post_json(&body, None).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    let created = answer.json();
    assert!(created["notices"][0]
        .as_str()
        .unwrap()
        .contains("was not added"));
    assert_eq!(created["media_url"], Value::Null, "{created}");
}

#[tokio::test]
async fn a_media_url_on_the_city_list_is_queued_to_be_fetched_once_per_report() {
    // given a city that takes photos from its asset system's server
    let h = harness_fetching_from("https://assets.hartford.example/photos/");
    let url = "https://assets.hartford.example/photos/wo-1187.jpg";
    let form = format!(
        "{}&media_url={}",
        pothole_form(),
        "https%3A%2F%2Fassets.hartford.example%2Fphotos%2Fwo-1187.jpg"
    );

    // when an Open311 client sends a report with it, twice under one Idempotency-Key
    let send = || {
        let request = Request::post("/open311/v2/requests.json")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("Idempotency-Key", "wo-1187")
            .body(Body::from(form.clone()))
            .unwrap();
        h.call(request)
    };
    let first = send().await;
    let replay = send().await;

    // then one fetch job names the report and the URL, and the notice is the plain one
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        replay.json()[0]["service_request_id"],
        first.json()[0]["service_request_id"]
    );
    assert!(!first.body.contains("not added"), "{}", first.body);
    let jobs = h.world.queue.receive("media", 10).await.unwrap();
    assert_eq!(jobs.len(), 1, "one job for one report");
    let job: cityfix_app::fetch::FetchJob = serde_json::from_str(&jobs[0].body).unwrap();
    assert_eq!(job.url, url);
    assert_eq!(
        job.request_id.as_str(),
        first.json()[0]["service_request_id"]
    );
    // and until the photo is fetched and checked, the request shows no media_url at all
    let shown = h
        .get(&format!("/open311/v2/requests/{}.json", job.request_id))
        .await
        .json();
    assert!(
        !shown.to_string().contains("assets.hartford.example"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_bad_query_string_is_refused_in_the_api_s_own_json_naming_the_fault() {
    let h = harness();
    // A repeated parameter (found by the fuzzer on the media read, which answered in plain text).
    for path in [
        "/api/v1/requests/nearby?lat=41.7&lat=41.8&long=-72.6",
        "/api/v1/addresses?q=main&q=elm",
        "/api/v1/media/311-0/photo.jpg?size=web&size=thumbnail",
    ] {
        let answer = h.get(path).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            answer.body
        );
        assert!(
            answer.content_type.starts_with("application/json"),
            "{path}: {}",
            answer.content_type
        );
        let error = &answer.json()["error"];
        assert_eq!(error["code"], "invalid_query", "{path}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("duplicate field"),
            "{path}: {error}"
        );
    }
}

/// A store whose disk is full (here: capped at its size now, so every write that needs a page
/// more fails with SQLite's `SQLITE_FULL`) refuses new reports on both interfaces with a 503 that
/// says nothing was saved and asks the client to wait a minute, and stores nothing half; reads go
/// on, and reports are taken again once it has room.
#[tokio::test]
async fn a_store_without_room_refuses_reports_with_503_saying_nothing_was_saved() {
    let h = harness();
    let before = h.post_json(&pothole_json(), None).await;
    assert_eq!(before.status, StatusCode::CREATED, "{}", before.body);
    let id = before.json()["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    h.world.store.limit_size(0).await.unwrap();

    // the pages the file has free (left by its set-up) take a few reports more
    let mut taken = 1;
    let mut refused = h.post_json(&pothole_json(), Some("full-0")).await;
    while refused.status == StatusCode::CREATED && taken < 200 {
        taken += 1;
        refused = h
            .post_json(&pothole_json(), Some(&format!("full-{taken}")))
            .await;
    }
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.body
    );
    assert_eq!(refused.retry_after.as_deref(), Some("60"));
    let error = &refused.json()["error"];
    assert_eq!(error["code"], "storage_full");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("nothing was saved"),
        "{error}"
    );

    for format in ["json", "xml"] {
        let refused = h
            .post_form(&format!("/open311/v2/requests.{format}"), &pothole_form())
            .await;
        assert_eq!(
            refused.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            refused.body
        );
        assert_eq!(refused.retry_after.as_deref(), Some("60"));
        assert!(
            refused.body.contains("nothing was saved"),
            "{}",
            refused.body
        );
        assert!(
            !refused.body.contains("sqlite"),
            "the cause stays in the log: {}",
            refused.body
        );
    }
    assert_eq!(h.stored().await, taken, "nothing half-written");
    let read = h.get(&format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(read.status, StatusCode::OK, "reads go on: {}", read.body);

    h.world.store.limit_size(1 << 30).await.unwrap();
    let again = h
        .post_json(&pothole_json(), Some(&format!("full-{taken}")))
        .await;
    assert_eq!(
        again.status,
        StatusCode::CREATED,
        "taken once there is room: {}",
        again.body
    );
}
