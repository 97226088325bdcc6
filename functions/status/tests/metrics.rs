//! `GET /staff/v1/metrics`: the figures equal a count made by hand over seeded requests, each
//! reader sees what their role may (staff their department, ethics the confidential reports
//! only), and a bad query is a 400 that says what is wrong.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use cityfix_app::metrics::area_names;
use cityfix_app::ports::{MetricsStore, SystemClock};
use cityfix_app::transition::StatusDeps;
use cityfix_domain::metrics::counted_change;
use cityfix_domain::City;
use cityfix_domain::{
    Contact, Location, ServiceRequest, Status, TimelineEntry, TimelineKind, TrackingNumber,
    ValidReport,
};
use cityfix_http::auth::{Role, StaffClaims, StaffSignIn, TokenKeys};
use cityfix_testing::{demo_city, World};
use http_body_util::BodyExt;
use serde_json::Value;
use status::{staff_router, Staff};
use tower::ServiceExt;

/// The demo city, loaded once (each load reads and indexes its layers).
static CITY: LazyLock<Arc<City>> = LazyLock::new(demo_city);

/// One seeded request: what it is and what happened to it, when.
#[derive(Debug, Clone)]
struct Plan {
    service: &'static str,
    department: &'static str,
    area: Option<String>,
    channel: &'static str,
    made: DateTime<Utc>,
    acknowledged: DateTime<Utc>,
    closed: Option<DateTime<Utc>>,
    reopened: Option<DateTime<Utc>>,
}

/// Services seeded: (code, department, routes by an area layer).
const SERVICES: [(&str, &str, bool); 3] = [
    ("pothole", "public-works", false),
    ("illegal_dumping", "solid-waste", true),
    ("ethics_concern", "ethics", false),
];

/// Sixty requests over November 2026, made at varied hours; two in three closed, some within their
/// service's target and some well past it; every seventh closed one reopened.
fn plans() -> Vec<Plan> {
    let city = CITY.clone();
    let areas = area_names(&city);
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 14, 0, 0).unwrap();
    (0..60)
        .map(|i: i64| {
            let (service, department, by_area) = SERVICES[(i % 3) as usize];
            let target = i64::from(city.service(service).unwrap().target_hours.unwrap());
            let made = start + Duration::hours(i * 7 + (i * i) % 5);
            let acknowledged = made + Duration::minutes(30 + (i * 37) % 600);
            // within: at most four fifths of the target; late: over one and a half times it
            let closed = (i % 3 != 2).then(|| {
                if i % 4 == 0 {
                    made + Duration::minutes(target * 60 * 3 / 2 + (i * 13) % 900)
                } else {
                    made + Duration::minutes(60 + (i * 97) % (target * 48))
                }
            });
            let reopened = closed
                .filter(|_| i % 7 == 0)
                .map(|c| c + Duration::hours(5));
            Plan {
                service,
                department,
                area: by_area.then(|| areas[(i as usize / 3) % 2].clone()),
                channel: if i % 5 == 0 { "phone" } else { "web" },
                made,
                acknowledged,
                closed,
                reopened,
            }
        })
        .collect()
}

fn entry(id: &str, at: DateTime<Utc>, status: Status) -> TimelineEntry {
    TimelineEntry {
        event_id: id.into(),
        at,
        kind: TimelineKind::StatusChanged,
        status: Some(status),
        note: None,
        public: true,
        actor: None,
        internal_note: None,
        media: Vec::new(),
    }
}

/// Counts each plan's changes as notify does: the rows `counted_change` names, once per event.
async fn count(store: &dyn MetricsStore, plans: &[Plan]) {
    let city = CITY.clone();
    for (n, plan) in plans.iter().enumerate() {
        let report = ValidReport {
            service_code: plan.service.into(),
            location: Location::new(41.7677, -72.67602).unwrap(),
            address: None,
            attributes: BTreeMap::new(),
            description: None,
            contact: Contact::default(),
            media_url: None,
        };
        let id = TrackingNumber::parse(&format!("7K3M-{:04}", 1000 + n)).unwrap();
        let mut request =
            ServiceRequest::submitted(id, &report, plan.service, plan.channel, plan.made);
        request.department = Some(plan.department.into());
        if let Some(area) = &plan.area {
            request.areas.insert("neighbourhoods".into(), area.clone());
        }
        let mut changes = vec![(
            Status::Submitted,
            entry("ack", plan.acknowledged, Status::Open),
        )];
        if let Some(closed) = plan.closed {
            changes.push((Status::Open, entry("close", closed, Status::Closed)));
        }
        if let Some(reopened) = plan.reopened {
            changes.push((Status::Closed, entry("reopen", reopened, Status::Open)));
        }
        for (from, change) in changes {
            let tallies = counted_change(&city, &request, &change, from);
            let event = format!("{}/{}", request.id, change.event_id);
            assert!(store.count(&event, &tallies).await.unwrap());
            // a redelivery counts nothing
            assert!(!store.count(&event, &tallies).await.unwrap());
        }
    }
}

fn day_of(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&CITY.timezone).date_naive()
}

/// The `⌈q·n⌉`-th shortest of some durations, in seconds.
fn quantile(mut secs: Vec<i64>, q: f64) -> f64 {
    secs.sort();
    let rank = ((q * secs.len() as f64).ceil() as usize).clamp(1, secs.len());
    secs[rank - 1] as f64
}

fn near(answered: &Value, truth: f64) {
    let answered = answered
        .as_f64()
        .unwrap_or_else(|| panic!("a number, not {answered}"));
    assert!(
        (answered / truth - 1.0).abs() < 0.06,
        "{answered} s is not within 6% of {truth} s"
    );
}

struct Fixture {
    world: World,
    keys: Arc<TokenKeys>,
}

impl Fixture {
    async fn new() -> Fixture {
        let world = World::new();
        count(&world.store, &plans()).await;
        Fixture {
            world,
            keys: Arc::new(TokenKeys::from_secret(b"test secret")),
        }
    }

    async fn get(&self, path: &str, role: Role, department: Option<&str>) -> (StatusCode, Value) {
        let now = Utc::now().timestamp() as u64;
        let claims = StaffClaims {
            sub: "local:test".into(),
            name: "Test".into(),
            role,
            department: department.map(str::to_string),
            exp: now + 600,
        };
        let app = staff_router(Staff {
            deps: StatusDeps {
                city: CITY.clone(),
                store: Arc::new(self.world.store.clone()),
                queue: Arc::new(self.world.queue.clone()),
                clock: Arc::new(SystemClock),
                media: Arc::new(self.world.media.clone()),
            },
            metrics: Arc::new(self.world.store.clone()),
            sign_in: StaffSignIn::Local(self.keys.clone()),
        });
        let request = Request::get(path)
            .header(
                "authorization",
                format!("Bearer {}", self.keys.issue(&claims, now).unwrap()),
            )
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

/// November and December 2026: every seeded change falls in it.
const NOVEMBER: &str = "/staff/v1/metrics?from=2026-11-01&to=2026-12-31";

#[tokio::test]
async fn the_figures_equal_a_count_by_hand_over_the_seeded_requests() {
    // given sixty requests counted, each event twice
    let fixture = Fixture::new().await;
    let city = CITY.clone();
    let seen: Vec<Plan> = plans()
        .into_iter()
        .filter(|p| p.service != "ethics_concern")
        .collect();

    // when a supervisor asks for November and December
    let (status, body) = fixture.get(NOVEMBER, Role::Supervisor, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // then the totals are the hand count of the requests a supervisor may see
    let total = &body["total"];
    let closings: Vec<&Plan> = seen.iter().filter(|p| p.closed.is_some()).collect();
    let reopened = seen.iter().filter(|p| p.reopened.is_some()).count();
    assert_eq!(total["opened"], seen.len());
    assert_eq!(total["acknowledged"], seen.len());
    assert_eq!(total["closed"], closings.len());
    assert_eq!(total["reopened"], reopened);
    near(
        &total["reopen_rate"],
        reopened as f64 / closings.len() as f64,
    );
    let to_close: Vec<i64> = closings
        .iter()
        .map(|p| (p.closed.unwrap() - p.made).num_seconds())
        .collect();
    let to_ack: Vec<i64> = seen
        .iter()
        .map(|p| (p.acknowledged - p.made).num_seconds())
        .collect();
    near(
        &total["to_close"]["median_seconds"],
        quantile(to_close.clone(), 0.5),
    );
    near(&total["to_close"]["p90_seconds"], quantile(to_close, 0.9));
    near(
        &total["to_acknowledge"]["median_seconds"],
        quantile(to_ack.clone(), 0.5),
    );
    near(
        &total["to_acknowledge"]["p90_seconds"],
        quantile(to_ack, 0.9),
    );
    let within = |plans: &[&Plan]| {
        plans
            .iter()
            .filter(|p| {
                let target = city.service(p.service).unwrap().target_hours.unwrap();
                p.closed.unwrap() - p.made <= Duration::hours(i64::from(target))
            })
            .count()
    };
    assert_eq!(total["target"]["closed"], closings.len());
    assert_eq!(total["target"]["within"], within(&closings));
    assert!(within(&closings) > 0 && within(&closings) < closings.len());

    // and each of the 61 days has the requests made and closed on it
    let days = body["days"].as_array().unwrap();
    assert_eq!(days.len(), 61);
    for day in days {
        let date: NaiveDate = day["day"].as_str().unwrap().parse().unwrap();
        let made = seen.iter().filter(|p| day_of(p.made) == date).count();
        let closed = closings
            .iter()
            .filter(|p| day_of(p.closed.unwrap()) == date)
            .count();
        assert_eq!(
            (day["opened"].clone(), day["closed"].clone()),
            (made.into(), closed.into()),
            "{date}"
        );
    }

    // and each breakdown adds up to the hand count of its part
    let part = |list: &str, key: &str| -> Value {
        body[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["key"] == key)
            .cloned()
            .unwrap_or(Value::Null)
    };
    for (service, department, _) in &SERVICES[..2] {
        let of: Vec<&Plan> = closings
            .iter()
            .copied()
            .filter(|p| p.service == *service)
            .collect();
        let by_service = part("by_service", service);
        assert_eq!(
            by_service["opened"],
            seen.iter().filter(|p| p.service == *service).count()
        );
        assert_eq!(by_service["closed"], of.len());
        assert_eq!(by_service["target"]["within"], within(&of), "{service}");
        assert_eq!(part("by_department", department)["closed"], of.len());
    }
    assert_eq!(part("by_service", "pothole")["name"], "Pothole");
    assert_eq!(
        part("by_department", "public-works")["name"],
        "Department of Public Works"
    );
    for area in area_names(&city).into_iter().take(2) {
        let made = seen
            .iter()
            .filter(|p| p.area.as_deref() == Some(area.as_str()))
            .count();
        assert!(made > 0);
        assert_eq!(part("by_area", &area)["opened"], made, "{area}");
    }
    assert_eq!(
        part("by_area", "")["opened"],
        seen.iter().filter(|p| p.area.is_none()).count()
    );
    for channel in ["web", "phone"] {
        let made = seen.iter().filter(|p| p.channel == channel).count();
        assert_eq!(part("by_channel", channel)["opened"], made, "{channel}");
    }

    // and a filter narrows every figure to its rows
    let area = &area_names(&city)[0];
    let (_, narrowed) = fixture
        .get(
            &format!(
                "{NOVEMBER}&service=illegal_dumping&area={}",
                area.replace(' ', "%20")
            ),
            Role::Admin,
            None,
        )
        .await;
    let made = seen
        .iter()
        .filter(|p| p.area.as_deref() == Some(area.as_str()))
        .count();
    assert_eq!(narrowed["total"]["opened"], made, "{narrowed}");
    assert_eq!(narrowed["by_service"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn each_role_sees_what_it_may_and_confidential_reports_only_ethics() {
    let fixture = Fixture::new().await;
    let all = plans();
    let count = |keep: &dyn Fn(&Plan) -> bool| all.iter().filter(|p| keep(p)).count();
    let services = |body: &Value| -> Vec<String> {
        body["by_service"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["key"].as_str().unwrap().to_string())
            .collect()
    };

    // supervisors and admins: every department, the confidential service left out
    for role in [Role::Supervisor, Role::Admin] {
        let (status, body) = fixture.get(NOVEMBER, role, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body["total"]["opened"],
            count(&|p| p.service != "ethics_concern")
        );
        assert_eq!(services(&body), ["illegal_dumping", "pothole"]);
        assert!(!body.to_string().contains("ethics"), "{body}");
        // naming the ethics department finds nothing
        let (_, ethics) = fixture
            .get(&format!("{NOVEMBER}&department=ethics"), role, None)
            .await;
        assert_eq!(ethics["total"]["opened"], 0);
    }

    // staff: their own department's only, and another department is refused
    let (status, own) = fixture
        .get(NOVEMBER, Role::Staff, Some("public-works"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        own["total"]["opened"],
        count(&|p| p.department == "public-works")
    );
    assert_eq!(services(&own), ["pothole"]);
    let (status, body) = fixture
        .get(
            &format!("{NOVEMBER}&department=solid-waste"),
            Role::Staff,
            Some("public-works"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = fixture
        .get(
            &format!("{NOVEMBER}&department=public-works"),
            Role::Staff,
            Some("public-works"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // staff of ethics still see no confidential row
    let (_, ethics_staff) = fixture.get(NOVEMBER, Role::Staff, Some("ethics")).await;
    assert_eq!(ethics_staff["total"]["opened"], 0);

    // ethics: the confidential reports only
    let (status, ethics) = fixture.get(NOVEMBER, Role::Ethics, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ethics["total"]["opened"],
        count(&|p| p.service == "ethics_concern")
    );
    assert_eq!(services(&ethics), ["ethics_concern"]);

    // call-takers read no metrics
    let (status, _) = fixture.get(NOVEMBER, Role::Agent, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_bad_query_is_a_400_that_says_what_is_wrong() {
    let fixture = Fixture::new().await;
    for (query, says) in [
        (
            "from=2026-13-01&to=2026-12-01",
            "`from` is a date as YYYY-MM-DD",
        ),
        ("from=yesterday", "`from` is a date"),
        ("to=2026-02-30", "`to` is a date"),
        ("from=2026-11-30&to=2026-11-01", "comes after"),
        ("from=2020-01-01&to=2026-11-01", "three years"),
        ("service=unicorns", "there is no service `unicorns`"),
        ("department=nowhere", "there is no department `nowhere`"),
        ("area=Atlantis", "there is no area `Atlantis`"),
        ("colour=red", "unknown field"),
    ] {
        let (status, body) = fixture
            .get(
                &format!("/staff/v1/metrics?{query}"),
                Role::Supervisor,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{query}: {message}");
    }
    // three years to the day is still answered; empty values are no filter
    let (status, body) = fixture
        .get(
            "/staff/v1/metrics?from=2023-12-01&to=2026-11-30&service=&area=",
            Role::Supervisor,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["days"].as_array().unwrap().len(), 1096);
    // and with no dates, the last thirty days
    let (status, body) = fixture
        .get("/staff/v1/metrics", Role::Supervisor, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["days"].as_array().unwrap().len(), 30);
}

#[tokio::test]
async fn no_sign_in_is_a_401() {
    let fixture = Fixture::new().await;
    let app = staff_router(Staff {
        deps: StatusDeps {
            city: CITY.clone(),
            store: Arc::new(fixture.world.store.clone()),
            queue: Arc::new(fixture.world.queue.clone()),
            clock: Arc::new(SystemClock),
            media: Arc::new(fixture.world.media.clone()),
        },
        metrics: Arc::new(fixture.world.store.clone()),
        sign_in: StaffSignIn::Local(fixture.keys.clone()),
    });
    let response = app
        .oneshot(Request::get(NOVEMBER).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn current_rising_concerns_are_listed_within_the_readers_scope_and_filters() {
    use cityfix_domain::rising::{Jump, RisingFlag};
    // given flags found on 4 December (potholes in the North East, streetlights out
    // with no area) and one three weeks before, no longer current
    let fixture = Fixture::new().await;
    let day = |d: u32, m: u32| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
    let jump = |count| Jump {
        count,
        usual: 4.125,
        p_value: 1e-4,
    };
    for flag in [
        RisingFlag::found("pothole", "North East", day(4, 12), &jump(15)),
        RisingFlag::found("streetlight_out", "", day(3, 12), &jump(30)),
        RisingFlag::found("pothole", "Asylum Hill", day(13, 11), &jump(9)),
    ] {
        assert!(fixture.world.store.raise(&flag).await.unwrap());
    }
    let rising = |body: &Value| -> Vec<(String, String, u64)> {
        body["rising"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["service"].as_str().unwrap().to_string(),
                    f["area_name"].as_str().unwrap().to_string(),
                    f["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let to_the_4th = "/staff/v1/metrics?from=2026-11-01&to=2026-12-04";

    // when a supervisor asks for the range to the 4th, then both current flags are listed with
    // their days and usual count
    let (status, body) = fixture.get(to_the_4th, Role::Supervisor, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        rising(&body),
        [
            ("pothole".into(), "North East".into(), 15),
            ("streetlight_out".into(), "No area".into(), 30),
        ]
    );
    let first = &body["rising"][0];
    assert_eq!(first["service_name"], "Pothole");
    assert_eq!(first["since"], "2026-11-28");
    assert_eq!(first["to"], "2026-12-04");
    assert_eq!(first["usual"], 4.125);

    // and a filter by service or area keeps its own
    let (_, body) = fixture
        .get(
            &format!("{to_the_4th}&area=North%20East"),
            Role::Supervisor,
            None,
        )
        .await;
    assert_eq!(rising(&body), [("pothole".into(), "North East".into(), 15)]);

    // and staff see their department's services' only, ethics none
    let (_, body) = fixture
        .get(to_the_4th, Role::Staff, Some("transportation"))
        .await;
    assert_eq!(
        rising(&body),
        [("streetlight_out".into(), "No area".into(), 30)]
    );
    let (_, body) = fixture.get(to_the_4th, Role::Ethics, None).await;
    assert!(rising(&body).is_empty());

    // and a range ending before the flags lists the one current then
    let (_, body) = fixture
        .get(
            "/staff/v1/metrics?from=2026-11-01&to=2026-11-14",
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(rising(&body), [("pothole".into(), "Asylum Hill".into(), 9)]);
}
