//! The metrics page and its CSV downloads over a real store: who may open it, what each reader is
//! shown (confidential reports to ethics only), bad filters as a 400 page that says why, the
//! charts with their tables, and the CSV's content.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chrono::Utc;
use cityfix_admin::{admin_router, Accounts, Admin, AdminParts};
use cityfix_app::ports::{MetricsStore, SystemClock};
use cityfix_app::transition::StatusDeps;
use cityfix_domain::metrics::{DurationSketch, MetricsKey, Tally};
use cityfix_http::auth::{Role, StaffClaims, TokenKeys};
use cityfix_testing::{demo_city, intake_deps, World};
use http_body_util::BodyExt;
use tower::ServiceExt;

const RANGE: &str = "from=2026-11-02&to=2026-11-04";

struct Fixture {
    _world: World,
    keys: Arc<TokenKeys>,
    app: Router,
}

fn key(day: u32, service: &str, department: &str, channel: &str, confidential: bool) -> MetricsKey {
    MetricsKey {
        day: chrono::NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
        service: service.into(),
        department: department.into(),
        area: String::new(),
        channel: channel.into(),
        confidential,
    }
}

fn tally(opened: u64, closed: u64, close_hours: i64) -> Tally {
    let mut to_close = DurationSketch::default();
    for _ in 0..closed {
        to_close.record(close_hours * 3_600);
    }
    Tally {
        opened,
        acknowledged: opened,
        closed,
        reopened: 0,
        to_acknowledge: DurationSketch::default(),
        to_close,
    }
}

impl Fixture {
    async fn new() -> Fixture {
        let world = World::new();
        // given: potholes on the 2nd and 3rd (one closed in 10 h, one in 100 h: the target is
        // 72 h), graffiti on the 3rd by phone, and two ethics concerns on the 3rd
        let rows = vec![
            (
                key(2, "pothole", "public-works", "web", false),
                tally(3, 1, 10),
            ),
            (
                key(3, "pothole", "public-works", "web", false),
                tally(2, 1, 100),
            ),
            (
                key(3, "graffiti", "public-works", "phone", false),
                tally(4, 0, 0),
            ),
            (
                key(3, "ethics_concern", "ethics", "web", true),
                tally(2, 1, 30),
            ),
        ];
        assert!(world.store.count("seed", &rows).await.unwrap());
        // and a rising concern: graffiti, found on the 4th
        let jump = cityfix_domain::rising::Jump {
            count: 12,
            usual: 1.5,
            p_value: 1e-5,
        };
        let to = chrono::NaiveDate::from_ymd_opt(2026, 11, 4).unwrap();
        let flag = cityfix_domain::rising::RisingFlag::found("graffiti", "", to, &jump);
        assert!(world.store.raise(&flag).await.unwrap());
        let keys = Arc::new(TokenKeys::from_secret(b"test secret"));
        let status = StatusDeps {
            city: demo_city(),
            store: Arc::new(world.store.clone()),
            queue: Arc::new(world.queue.clone()),
            clock: Arc::new(SystemClock),
            media: Arc::new(world.media.clone()),
        };
        let app = admin_router(Admin::new(AdminParts {
            status,
            metrics: Arc::new(world.store.clone()),
            intake: intake_deps(&world),
            keys: keys.clone(),
            csrf_key: b"csrf key of the test".to_vec(),
            accounts: Accounts::new(Vec::new()),
            public_url: "http://cityfix.test".into(),
        }));
        Fixture {
            _world: world,
            keys,
            app,
        }
    }

    /// The status, content type and body of `path` for someone of `role`.
    async fn get(
        &self,
        path: &str,
        role: Role,
        department: Option<&str>,
    ) -> (StatusCode, String, String) {
        let now = Utc::now().timestamp() as u64;
        let claims = StaffClaims {
            sub: "local:test".into(),
            name: "Test".into(),
            role,
            department: department.map(str::to_string),
            exp: now + 600,
        };
        let token = self.keys.issue(&claims, now).unwrap();
        let request = Request::get(path)
            .header(header::COOKIE, format!("cityfix_staff={token}"))
            .body(Body::empty())
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let kind = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, kind, String::from_utf8_lossy(&body).into_owned())
    }
}

#[tokio::test]
async fn a_supervisor_sees_charts_with_their_tables_and_no_confidential_report() {
    let f = Fixture::new().await;
    let (status, _, html) = f
        .get(&format!("/admin/metrics?{RANGE}"), Role::Supervisor, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    // the totals are the nine non-confidential requests, two of them closed
    assert!(html.contains("<dt>Made</dt><dd>9</dd>"), "{html}");
    assert!(html.contains("<dt>Closed</dt><dd>2</dd>"));
    // one of the two pothole closings met its 72 h target
    assert!(html.contains("at least 50% (1 of 2 closings"), "{html}");
    // three charts, each an image with a title and a description, and each with a table
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 3);
    assert_eq!(html.matches("role=\"img\"").count(), 3);
    assert!(html.contains("<title id=\"volume-title\">"));
    assert!(
        html.contains("<th scope=\"row\">2026-11-03</th><td>6</td>"),
        "{html}"
    );
    assert!(html.contains("<th scope=\"row\">Pothole</th><td>5</td>"));
    assert!(html.contains("<th scope=\"row\">Graffiti</th><td>4</td>"));
    assert!(html.contains("<th scope=\"row\">phone</th><td>4</td>"));
    // and CSV links with the same filters
    assert!(
        html.contains("metrics.csv?table=days&amp;from=2026-11-02&amp;to=2026-11-04\""),
        "{html}"
    );
    // the current rising concern, with its week and its usual count
    assert!(
        html.contains("<th scope=\"row\">Graffiti</th><td>No area</td><td>12</td><td>1.5</td><td>2026-10-29 to 2026-11-04</td>"),
        "{html}"
    );
    // never the ethics service, in the figures or the form's choices
    assert!(!html.contains("Misconduct or ethics concern"), "{html}");
    assert!(!html.contains("ethics_concern"));
    // the layout links the page
    assert!(html.contains("href=\"/admin/metrics\" aria-current=\"page\""));
}

#[tokio::test]
async fn ethics_sees_the_confidential_reports_only() {
    let f = Fixture::new().await;
    let (status, _, html) = f
        .get(&format!("/admin/metrics?{RANGE}"), Role::Ethics, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<dt>Made</dt><dd>2</dd>"), "{html}");
    assert!(
        html.contains("<th scope=\"row\">Misconduct or ethics concern</th><td>2</td>"),
        "{html}"
    );
    assert!(!html.contains(">Pothole<"));
    assert!(!html.contains(">Graffiti<"));
    assert!(html.contains("No rising concern flagged."), "{html}");
    let (_, _, csv) = f
        .get(
            &format!("/admin/metrics.csv?table=services&{RANGE}"),
            Role::Ethics,
            None,
        )
        .await;
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.lines().nth(1).unwrap().starts_with("ethics_concern,"));
}

#[tokio::test]
async fn only_supervisors_admins_and_ethics_open_the_page() {
    let f = Fixture::new().await;
    let (status, _, _) = f.get("/admin/metrics", Role::Admin, None).await;
    assert_eq!(status, StatusCode::OK);
    for (role, department) in [(Role::Staff, Some("public-works")), (Role::Agent, None)] {
        let (status, _, html) = f.get("/admin/metrics", role, department).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}");
        assert!(html.contains("supervisors, administrators and ethics officers"));
        assert!(
            !html.contains("href=\"/admin/metrics\""),
            "no link to it either"
        );
        let (status, _, _) = f.get("/admin/metrics.csv", role, department).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // without a session, the sign-in page, which brings the person back
    let response = f
        .app
        .clone()
        .oneshot(Request::get("/admin/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(response.status().is_redirection());
}

#[tokio::test]
async fn bad_filters_are_a_400_page_that_says_why() {
    let f = Fixture::new().await;
    for (query, says) in [
        ("from=2026-11-30&to=2026-11-01", "comes after"),
        ("from=31/12/2026", "is a date as YYYY-MM-DD"),
        ("from=2020-01-01&to=2026-11-01", "three years"),
        ("service=unicorns", "there is no service"),
    ] {
        let (status, _, html) = f
            .get(&format!("/admin/metrics?{query}"), Role::Supervisor, None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(html.contains("role=\"alert\""), "{html}");
        assert!(html.contains(says), "{query}: {html}");
        // the form is still there to put it right, and no chart
        assert!(html.contains("<form method=\"get\" action=\"/admin/metrics\""));
        assert!(!html.contains("<svg"));
        let (status, kind, text) = f
            .get(
                &format!("/admin/metrics.csv?{query}"),
                Role::Supervisor,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            kind.starts_with("text/plain") && text.contains(says),
            "{text}"
        );
    }
    let (status, _, text) = f
        .get("/admin/metrics.csv?table=people", Role::Supervisor, None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("not a table"));
}

#[tokio::test]
async fn the_csv_holds_the_figures_by_day_and_by_part() {
    let f = Fixture::new().await;
    let (status, kind, csv) = f
        .get(
            &format!("/admin/metrics.csv?{RANGE}"),
            Role::Supervisor,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("day,opened,acknowledged,closed,reopened,hours_to_acknowledge_median")
    );
    assert_eq!(lines.len(), 4, "a header and three days: {csv}");
    assert!(lines[1].starts_with("2026-11-02,3,3,1,0,,,"), "{csv}");
    assert!(lines[2].starts_with("2026-11-03,6,6,1,0,"), "{csv}");
    assert!(lines[3].starts_with("2026-11-04,0,0,0,0,"), "{csv}");
    // the 10 h closing reads back within 5%, and one of one met the target
    let fields: Vec<&str> = lines[1].split(',').collect();
    let median: f64 = fields[7].parse().unwrap();
    assert!((median / 10.0 - 1.0).abs() < 0.05, "{median}");
    assert_eq!(&fields[9..], ["1", "1"]);

    let (_, _, by_department) = f
        .get(
            &format!("/admin/metrics.csv?table=departments&{RANGE}&service=pothole"),
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(
        by_department
            .lines()
            .nth(1)
            .unwrap()
            .split(',')
            .take(4)
            .collect::<Vec<_>>(),
        ["public-works", "Department of Public Works", "5", "5"]
    );
    // nothing but counts and names: no person, no confidential service
    assert!(!csv.contains('@') && !by_department.contains("ethics"));
}
