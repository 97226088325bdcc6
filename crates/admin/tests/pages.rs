//! The staff application's pages over a real store: sign-in (and a wrong password, a forged or
//! stale form, an expired session), the queue, a request page with its actions, the role × action
//! × department matrix as the pages meet it, CSRF on every form, phone intake, backlogs, the audit
//! log, and resident text shown as text.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use cityfix_admin::session::Sessions;
use cityfix_admin::{admin_router, Account, Accounts, Admin, AdminParts};
use cityfix_app::ports::{QueueConsumer, RequestStore, SystemClock};
use cityfix_app::transition::StatusDeps;
use cityfix_domain::{ServiceRequest, Status, TrackingNumber};
use cityfix_http::auth::{Role, StaffClaims, TokenKeys};
use cityfix_testing::{demo_city, force_status, intake_deps, seed_request, World};
use http_body_util::BodyExt;
use tower::ServiceExt;

const POTHOLE: &str = "7K3M-9QZ2";
const CSRF_KEY: &[u8] = b"csrf key of the test";

struct Fixture {
    world: World,
    keys: Arc<TokenKeys>,
    app: Router,
}

/// Someone signed in: their cookie and their forms' CSRF token.
struct Signed {
    cookie: String,
    csrf: String,
}

fn claims(role: Role, department: Option<&str>, sub: &str) -> StaffClaims {
    StaffClaims {
        sub: sub.into(),
        name: format!("Test {sub}"),
        role,
        department: department.map(str::to_string),
        exp: chrono::Utc::now().timestamp() as u64 + 600,
    }
}

/// A `datetime-local` value `days` from now in the city's time zone.
fn local_in(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .with_timezone(&demo_city().timezone)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// The demo city drawn for the queue's map, as the runner draws it.
fn demo_map() -> cityfix_admin::CityMap {
    let dir = cityfix_testing::repo_root().join("config/hartford");
    let site = cityfix_config::read_site(&dir).unwrap();
    cityfix_admin::CityMap::new(
        &cityfix_config::read_map_layers(&dir).unwrap(),
        demo_city().center,
        site.tile_url,
        site.tile_attribution,
    )
}

fn crew() -> StaffClaims {
    claims(Role::Staff, Some("public-works"), "local:sam.reyes")
}

impl Fixture {
    async fn new() -> Fixture {
        let world = World::new();
        let keys = Arc::new(TokenKeys::from_secret(b"test secret"));
        let status = StatusDeps {
            city: demo_city(),
            store: Arc::new(world.store.clone()),
            queue: Arc::new(world.queue.clone()),
            clock: Arc::new(SystemClock),
            media: Arc::new(world.media.clone()),
        };
        let accounts = Accounts::new(vec![Account {
            username: "sam".into(),
            name: "Sam Reyes".into(),
            role: Role::Staff,
            department: Some("public-works".into()),
            password_hash: cityfix_admin::accounts::hash_password("right password"),
        }]);
        let app = admin_router(
            Admin::new(AdminParts {
                status,
                metrics: Arc::new(world.store.clone()),
                intake: intake_deps(&world),
                keys: keys.clone(),
                csrf_key: CSRF_KEY.to_vec(),
                accounts,
                public_url: "http://cityfix.test".into(),
            })
            .with_map(demo_map()),
        );
        let fixture = Fixture { world, keys, app };
        fixture
            .seed(POTHOLE, Some("public-works"), Status::Open)
            .await;
        fixture
    }

    async fn seed(&self, id: &str, department: Option<&str>, status: Status) -> ServiceRequest {
        let seeded = seed_request(
            &self.world.store,
            id,
            "pothole",
            41.7677,
            -72.67602,
            Some("r@example.org"),
        )
        .await;
        let mut request = seeded.clone();
        request.department = department.map(str::to_string);
        request.description = Some("Deep hole <script>alert('x')</script> by the curb".into());
        request.areas = demo_city().areas_at(request.location);
        force_status(&self.world.store, request, status, "routed").await
    }

    fn sign(&self, claims: &StaffClaims) -> Signed {
        let now = chrono::Utc::now().timestamp() as u64;
        let token = self.keys.issue(claims, now).unwrap();
        let sessions = Sessions {
            keys: self.keys.clone(),
            csrf_key: CSRF_KEY.to_vec(),
            secure: false,
        };
        Signed {
            csrf: sessions.csrf_for(&token),
            cookie: format!("cityfix_staff={token}"),
        }
    }

    async fn get(&self, path: &str, who: Option<&Signed>) -> (StatusCode, String, Option<String>) {
        let mut request = Request::get(path);
        if let Some(who) = who {
            request = request.header(header::COOKIE, &who.cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn post(
        &self,
        path: &str,
        who: Option<&Signed>,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String, Option<String>) {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(who) = who {
            request = request.header(header::COOKIE, &who.cookie);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    async fn post_owned(
        &self,
        path: &str,
        who: &Signed,
        fields: &[(&str, String)],
    ) -> (StatusCode, String, Option<String>) {
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.post(path, Some(who), &pairs).await
    }

    /// The status, the body and where it redirects to.
    async fn send(&self, request: Request<Body>) -> (StatusCode, String, Option<String>) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|l| l.to_str().unwrap().to_string());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            String::from_utf8_lossy(&body).into_owned(),
            location,
        )
    }

    async fn stored(&self, id: &str) -> ServiceRequest {
        self.world
            .store
            .get(&TrackingNumber::parse(id).unwrap())
            .await
            .unwrap()
            .unwrap()
    }
}

/// The value of the hidden input `name` of a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn a_page_without_a_session_sends_to_sign_in_and_back() {
    let f = Fixture::new().await;
    let (status, _, location) = f.get("/admin/requests/7K3M-9QZ2", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some("/admin/sign-in?next=%2Fadmin%2Frequests%2F7K3M-9QZ2")
    );
}

#[tokio::test]
async fn signing_in_with_the_right_password_opens_a_session_and_a_wrong_one_does_not() {
    let f = Fixture::new().await;
    let page = Request::get("/admin/sign-in?next=/admin/requests/7K3M-9QZ2")
        .body(Body::empty())
        .unwrap();
    let response = f.app.clone().oneshot(page).await.unwrap();
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    let html = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    let csrf = hidden(&html, "csrf");
    let sign_in_cookie = cookie.split(';').next().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    let attempt = |password: &'static str, csrf: String| {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("username", "sam"),
                ("password", password),
                ("csrf", csrf.as_str()),
                ("next", "/admin/requests/7K3M-9QZ2"),
            ])
            .finish();
        Request::post("/admin/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, sign_in_cookie.clone())
            .body(Body::from(body))
            .unwrap()
    };
    let (status, html, _) = f.send(attempt("wrong password", csrf.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("do not match"));
    let (status, _, _) = f.send(attempt("right password", "forged".into())).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a sign-in form not from our page"
    );

    let response = f
        .app
        .clone()
        .oneshot(attempt("right password", csrf))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        "/admin/requests/7K3M-9QZ2"
    );
    let session = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .find(|c| c.starts_with("cityfix_staff="))
        .expect("a session cookie");
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Strict")
            && session.contains("Path=/admin")
    );
    let who = Signed {
        cookie: session.split(';').next().unwrap().to_string(),
        csrf: String::new(),
    };
    let (status, html, _) = f.get("/admin/requests/7K3M-9QZ2", Some(&who)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Sam Reyes"), "signed in by name");
}

#[tokio::test]
async fn an_expired_session_is_sent_to_sign_in_again() {
    let f = Fixture::new().await;
    let now = chrono::Utc::now().timestamp() as u64;
    let old = StaffClaims {
        exp: now - 60,
        ..crew()
    };
    let token = f.keys.issue(&old, now - 3600).unwrap();
    let who = Signed {
        cookie: format!("cityfix_staff={token}"),
        csrf: String::new(),
    };
    let (status, _, location) = f.get("/admin/queue", Some(&who)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some("/admin/sign-in?next=%2Fadmin%2Fqueue&expired=1")
    );
}

#[tokio::test]
async fn the_queue_lists_the_department_s_requests_and_a_description_shows_as_text() {
    let f = Fixture::new().await;
    f.seed("4F7P-2HXM", Some("transportation"), Status::Open)
        .await;
    let who = f.sign(&crew());
    let (status, html, _) = f.get("/admin/queue", Some(&who)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("/admin/requests/7K3M-9QZ2"), "{html}");
    assert!(
        !html.contains("4F7P-2HXM"),
        "another department's request is not in this queue"
    );
    let (status, html, _) = f.get("/admin/requests/7K3M-9QZ2", Some(&who)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("&lt;script&gt;alert("), "escaped");
    assert!(!html.contains("<script>alert("), "never markup");
    let (status, html, _) = f.get("/admin/queue?print=1", Some(&who)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Work list") && html.contains("7K3M-9QZ2"));
}

#[tokio::test]
async fn a_status_change_needs_this_session_s_csrf_token() {
    let f = Fixture::new().await;
    let who = f.sign(&crew());
    let version = f.stored(POTHOLE).await.version.to_string();
    let form = |csrf: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("to", "in_progress".to_string()),
            ("version", version.clone()),
            ("public", "1".into()),
            ("note", "Crew on the way".into()),
        ]
    };
    let path = "/admin/requests/7K3M-9QZ2/transition";
    let (status, _, _) = f.post_owned(path, &who, &form("")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");
    let other = f.sign(&claims(Role::Staff, Some("public-works"), "local:other"));
    let (status, _, _) = f.post_owned(path, &who, &form(&other.csrf)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another session's token");
    assert_eq!(
        f.stored(POTHOLE).await.status,
        Status::Open,
        "nothing changed"
    );

    let (status, _, location) = f.post_owned(path, &who, &form(&who.csrf)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some("/admin/requests/7K3M-9QZ2?done=transition")
    );
    assert_eq!(f.stored(POTHOLE).await.status, Status::InProgress);
    let (_, html, _) = f
        .get("/admin/requests/7K3M-9QZ2?done=transition", Some(&who))
        .await;
    assert!(html.contains("The status was changed.") && html.contains("Crew on the way"));

    // The same form again (a stale version) says why, and changes nothing.
    let (status, html, _) = f.post_owned(path, &who, &form(&who.csrf)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{html}");
    assert!(html.contains("role=\"alert\""));
}

#[tokio::test]
async fn every_form_of_the_request_page_acts_for_a_crew_of_its_department() {
    let f = Fixture::new().await;
    let who = f.sign(&crew());
    let version = || async { f.stored(POTHOLE).await.version.to_string() };
    let steps: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("note", vec![("text", "Cones placed".into())]),
        (
            "priority",
            vec![
                ("priority", "high".into()),
                ("reason", "school route".into()),
            ],
        ),
        (
            "expected",
            vec![
                ("expected", local_in(30)),
                ("reason", "asphalt delivery".into()),
            ],
        ),
        (
            "assignment",
            vec![
                ("department", "public-works".into()),
                ("assignee", "local:dana.ortiz".into()),
            ],
        ),
    ];
    for (action, mut fields) in steps {
        fields.push(("csrf", who.csrf.clone()));
        fields.push(("version", version().await));
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, html, location) = f
            .post(
                &format!("/admin/requests/7K3M-9QZ2/{action}"),
                Some(&who),
                &pairs,
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{action}: {html}");
        assert_eq!(
            location.unwrap(),
            format!("/admin/requests/7K3M-9QZ2?done={action}")
        );
    }
    let request = f.stored(POTHOLE).await;
    assert_eq!(request.priority.as_str(), "high");
    assert_eq!(request.assignee.as_deref(), Some("local:dana.ortiz"));
    let expected = request
        .expected_at
        .unwrap()
        .with_timezone(&demo_city().timezone);
    assert_eq!(
        expected.format("%Y-%m-%dT%H:%M").to_string(),
        local_in(30)[..16],
        "read in the city's time zone"
    );
    let (_, html, _) = f.get("/admin/requests/7K3M-9QZ2", Some(&who)).await;
    assert!(
        html.contains("Cones placed") && html.contains("internal"),
        "an internal note on the staff timeline"
    );

    let version = version().await;
    let pairs = [
        ("csrf", who.csrf.as_str()),
        ("to", "closed"),
        ("resolution", "fixed"),
        ("public", "1"),
        ("note", "Patched"),
        ("version", version.as_str()),
    ];
    let (status, _, _) = f
        .post("/admin/requests/7K3M-9QZ2/transition", Some(&who), &pairs)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let request = f.stored(POTHOLE).await;
    assert_eq!(
        (request.status, request.resolution.map(|r| r.as_str())),
        (Status::Closed, Some("fixed"))
    );
}

#[tokio::test]
async fn the_pages_refuse_what_the_role_and_department_may_not_do() {
    let f = Fixture::new().await;
    let version = f.stored(POTHOLE).await.version.to_string();
    let transition = |csrf: String| {
        vec![
            ("csrf", csrf),
            ("to", "in_progress".to_string()),
            ("version", version.clone()),
        ]
    };
    let path = "/admin/requests/7K3M-9QZ2/transition";
    let try_as = |claims: StaffClaims| {
        let who = f.sign(&claims);
        let fields = transition(who.csrf.clone());
        (who, fields)
    };
    macro_rules! try_as {
        ($claims:expr) => {{
            let (who, fields) = try_as($claims);
            f.post_owned(path, &who, &fields).await.0
        }};
    }
    assert_eq!(
        try_as!(claims(
            Role::Staff,
            Some("transportation"),
            "local:tom.kelly"
        )),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        try_as!(claims(Role::Agent, None, "local:agent")),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        try_as!(claims(Role::Ethics, None, "local:ethics")),
        StatusCode::FORBIDDEN
    );
    assert_eq!(f.stored(POTHOLE).await.status, Status::Open);
    assert_eq!(
        try_as!(claims(Role::Supervisor, None, "local:sup")),
        StatusCode::SEE_OTHER
    );

    // What a page offers follows the same rules: an agent gets a note form and no status form.
    let agent = f.sign(&claims(Role::Agent, None, "local:agent"));
    let (status, html, _) = f.get("/admin/requests/7K3M-9QZ2", Some(&agent)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !html.contains("/transition\""),
        "no status form for an agent"
    );
    let ethics = f.sign(&claims(Role::Ethics, None, "local:ethics"));
    let (status, _, _) = f.get("/admin/requests/7K3M-9QZ2", Some(&ethics)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "ethics officers read ethics reports only"
    );
    let (status, _, _) = f.get("/admin/audit", Some(&f.sign(&crew()))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the audit log is for admins");
    let (status, html, _) = f
        .get(
            "/admin/audit",
            Some(&f.sign(&claims(Role::Admin, None, "local:admin"))),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("local:sup") || html.contains("Test local:sup"),
        "the supervisor's change is logged: {html}"
    );
}

#[tokio::test]
async fn a_call_taker_files_a_phone_report_and_reads_its_number_out() {
    let f = Fixture::new().await;
    let who = f.sign(&claims(Role::Agent, None, "local:agent"));
    let (status, html, _) = f.get("/admin/intake", Some(&who)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("File the report"), "the service comes first");
    let (status, html, _) = f
        .get("/admin/intake?service_code=pothole", Some(&who))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("name=\"attribute.pothole_size\""),
        "the service's questions"
    );
    let idem = hidden(&html, "idem");
    let fields = [
        ("csrf", who.csrf.as_str()),
        ("idem", idem.as_str()),
        ("service_code", "pothole"),
        ("attribute.pothole_size", "large"),
        ("address", "550 Main St"),
        ("description", "Caller says: deep pothole"),
        ("phone", "860-555-0199"),
    ];
    let (status, html, _) = f.post("/admin/intake", Some(&who), &fields).await;
    assert_eq!(status, StatusCode::CREATED, "{html}");
    assert!(html.contains("Read the number to the caller"));
    let marker = "<span class=\"tracking\">";
    let start = html.find(marker).unwrap() + marker.len();
    let id = &html[start..start + 9];
    let request = f.stored(id).await;
    assert_eq!(request.channel, "phone");
    assert_eq!(
        request.description.as_deref(),
        Some("Caller says: deep pothole")
    );
    // The same form sent twice (a double click) files one report.
    let (status, html, _) = f.post("/admin/intake", Some(&who), &fields).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(html.contains(id), "the same report again");

    let bad = [
        ("csrf", who.csrf.as_str()),
        ("service_code", "pothole"),
        ("address", "550 Main St"),
    ];
    let (status, html, _) = f.post("/admin/intake", Some(&who), &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("role=\"alert\"") && html.contains("pothole_size"),
        "a required answer missing"
    );
    assert!(
        html.contains("value=\"550 Main St\""),
        "what was typed is kept"
    );
}

#[tokio::test]
async fn only_supervisors_declare_backlogs() {
    let f = Fixture::new().await;
    let fields = |csrf: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("service_code", "pothole".into()),
            ("expected", local_in(20)),
            ("message", "Storm damage".into()),
        ]
    };
    let crew = f.sign(&crew());
    let pairs = fields(&crew.csrf);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, _) = f.post("/admin/backlogs", Some(&crew), &pairs).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let sup = f.sign(&claims(Role::Supervisor, None, "local:sup"));
    let pairs = fields(&sup.csrf);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, location) = f.post("/admin/backlogs", Some(&sup), &pairs).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/admin/backlogs"));
    let (_, html, _) = f.get("/admin/backlogs", Some(&sup)).await;
    assert!(html.contains("Storm damage") && html.contains("/lift"));
}

/// Where `id`'s link first appears on a page (to compare orders), or `None`.
fn position(html: &str, id: &str) -> Option<usize> {
    html.find(&format!("/admin/requests/{id}\""))
}

#[tokio::test]
async fn the_queue_filters_by_priority_area_age_and_duplicates_and_sorts_its_page() {
    let f = Fixture::new().await;
    let mut urgent = f
        .seed("4F7P-2HXM", Some("public-works"), Status::Open)
        .await;
    urgent.priority = cityfix_domain::Priority::High;
    force_status(&f.world.store, urgent, Status::Open, "prioritised").await;
    let mut old = f
        .seed("9C4D-7MWR", Some("public-works"), Status::Open)
        .await;
    old.requested_at = chrono::Utc::now() - chrono::Duration::days(10);
    old.duplicate_of = Some(TrackingNumber::parse(POTHOLE).unwrap());
    force_status(&f.world.store, old, Status::Open, "marked").await;
    let area = f
        .stored(POTHOLE)
        .await
        .areas
        .values()
        .next()
        .cloned()
        .unwrap();
    let who = f.sign(&crew());
    let shown = |html: &str| {
        ["7K3M-9QZ2", "4F7P-2HXM", "9C4D-7MWR"]
            .into_iter()
            .filter(|id| position(html, id).is_some())
            .collect::<Vec<_>>()
    };

    let (_, html, _) = f.get("/admin/queue?priority=high", Some(&who)).await;
    assert_eq!(shown(&html), ["4F7P-2HXM"]);
    let (_, html, _) = f.get("/admin/queue?older_than=5", Some(&who)).await;
    assert_eq!(shown(&html), ["9C4D-7MWR"]);
    let (_, html, _) = f.get("/admin/queue?duplicate=1", Some(&who)).await;
    assert_eq!(shown(&html), ["9C4D-7MWR"]);
    let (_, html, _) = f
        .get(
            &format!(
                "/admin/queue?area={}",
                area.to_uppercase().replace(' ', "+")
            ),
            Some(&who),
        )
        .await;
    assert_eq!(shown(&html).len(), 3, "every seed is in {area}");
    let (_, html, _) = f.get("/admin/queue?area=Nowhere", Some(&who)).await;
    assert!(shown(&html).is_empty());
    assert!(html.contains("3 more on this page did not match the filters"));

    let (_, oldest, _) = f.get("/admin/queue?sort=oldest", Some(&who)).await;
    let (_, newest, _) = f.get("/admin/queue?sort=newest", Some(&who)).await;
    assert!(position(&oldest, "9C4D-7MWR") < position(&oldest, "7K3M-9QZ2"));
    assert!(position(&newest, "9C4D-7MWR") > position(&newest, "7K3M-9QZ2"));
    // The next page keeps the filters and the order.
    let (_, html, _) = f
        .get("/admin/queue?priority=high&sort=oldest", Some(&who))
        .await;
    assert!(html.contains("priority=high&amp;sort=oldest"), "{html}");
}

#[tokio::test]
async fn the_queue_narrowed_to_duplicates_or_reopened_holds_them_from_the_whole_queue() {
    // given a full page of older requests, then one with duplicates and one reopened, newer, so
    // that the plain queue's first page shows neither
    let f = Fixture::new().await;
    for n in 0..50 {
        let mut filler = f
            .seed(&format!("BBBB-{n:04}"), Some("public-works"), Status::Open)
            .await;
        filler.requested_at = chrono::Utc::now() - chrono::Duration::days(2);
        force_status(&f.world.store, filler, Status::Open, "older").await;
    }
    let mut with_duplicates = f
        .seed("4F7P-2HXM", Some("public-works"), Status::Open)
        .await;
    with_duplicates.duplicates = 2;
    force_status(&f.world.store, with_duplicates, Status::Open, "linked").await;
    let mut reopened = f
        .seed("9C4D-7MWR", Some("public-works"), Status::Open)
        .await;
    reopened.reopened = 1;
    force_status(&f.world.store, reopened, Status::Open, "reopened").await;
    let who = f.sign(&crew());
    let shown = |html: &str| {
        ["4F7P-2HXM", "9C4D-7MWR", "BBBB-0000"]
            .into_iter()
            .filter(|id| position(html, id).is_some())
            .collect::<Vec<_>>()
    };
    let (_, html, _) = f.get("/admin/queue", Some(&who)).await;
    assert_eq!(
        shown(&html),
        ["BBBB-0000"],
        "the first page is the older ones"
    );

    // when the queue is narrowed to a mark, then it holds those so marked, wherever they stand
    let (status, html, _) = f.get("/admin/queue?mark=has_duplicates", Some(&who)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown(&html), ["4F7P-2HXM"]);
    assert!(html.contains("2 duplicates"), "{html}");
    assert!(!html.contains("did not match the filters"));
    let (_, html, _) = f.get("/admin/queue?mark=reopened", Some(&who)).await;
    assert_eq!(shown(&html), ["9C4D-7MWR"]);
    assert!(html.contains(">reopened</span>"), "{html}");
    assert!(
        html.contains(r#"<option value="reopened" selected>"#),
        "{html}"
    );
    // and the links keep the mark
    assert!(html.contains("mark=reopened&amp;"), "{html}");
}

#[tokio::test]
async fn bulk_assign_takes_each_ticked_request_through_the_staff_action_with_a_result_for_each() {
    let f = Fixture::new().await;
    f.seed("4F7P-2HXM", Some("public-works"), Status::Open)
        .await;
    f.seed("9C4D-7MWR", Some("transportation"), Status::Open)
        .await;
    let who = f.sign(&crew());
    let (status, html, _) = f.get("/admin/queue", Some(&who)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"name="request" value="7K3M-9QZ2@"#),
        "{html}"
    );
    let version = |id: &str| {
        let marker = format!("value=\"{id}@");
        let start = html.find(&marker).unwrap() + marker.len();
        html[start..].split('"').next().unwrap().to_string()
    };
    let good = format!("7K3M-9QZ2@{}", version("7K3M-9QZ2"));
    let stale = format!(
        "4F7P-2HXM@{}",
        version("4F7P-2HXM").parse::<u64>().unwrap() - 1
    );
    let elsewhere = format!("9C4D-7MWR@{}", f.stored("9C4D-7MWR").await.version);
    let fields = |csrf: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("idem", "bulk-1".to_string()),
            ("department", "public-works".to_string()),
            ("assignee", "local:dana.ortiz".to_string()),
            ("request", good.clone()),
            ("request", stale.clone()),
            ("request", elsewhere.clone()),
            ("back", "/admin/queue?sort=oldest".to_string()),
        ]
    };

    let (status, _, _) = f
        .post_owned("/admin/queue/assign", &who, &fields("forged"))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a forged form assigns nothing"
    );
    assert_eq!(f.stored(POTHOLE).await.assignee, None);

    let (status, html, _) = f
        .post_owned("/admin/queue/assign", &who, &fields(&who.csrf))
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Assigned 1 of 3"), "{html}");
    assert!(html.contains("<strong>7K3M-9QZ2</strong>: assigned"));
    assert!(html.contains("<strong>4F7P-2HXM</strong>: not assigned."));
    assert!(html.contains("<strong>9C4D-7MWR</strong>: not assigned."));
    assert!(
        html.contains("href=\"&#x2f;admin&#x2f;queue?sort=oldest\""),
        "{html}"
    );
    assert_eq!(
        f.stored(POTHOLE).await.assignee.as_deref(),
        Some("local:dana.ortiz")
    );
    assert_eq!(
        f.stored("4F7P-2HXM").await.assignee,
        None,
        "a stale version"
    );
    assert_eq!(
        f.stored("9C4D-7MWR").await.assignee,
        None,
        "another department's"
    );

    let (status, _, _) = f
        .post_owned(
            "/admin/queue/assign",
            &who,
            &[
                ("csrf", who.csrf.clone()),
                ("assignee", "local:dana.ortiz".into()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "nothing ticked");
}

#[tokio::test]
async fn response_templates_of_the_service_and_status_fill_a_form_without_a_script() {
    let f = Fixture::new().await;
    let who = f.sign(&crew());
    let (status, html, _) = f.get("/admin/requests/7K3M-9QZ2", Some(&who)).await;
    assert_eq!(status, StatusCode::OK);
    // An open pothole: "filled" is for closing it, "crew scheduled" for moving it in progress;
    // graffiti's wording is not offered.
    assert!(html.contains(r#"<option value="pothole-filled""#), "{html}");
    assert!(html.contains(r#"<option value="crew-scheduled""#));
    assert!(!html.contains(r#"<option value="graffiti-removed""#));
    assert!(
        html.contains(r#"<option value="need-more-detail""#),
        "for any service and status"
    );

    let (_, html, _) = f
        .get(
            "/admin/requests/7K3M-9QZ2?for=transition&response=pothole-filled",
            Some(&who),
        )
        .await;
    assert!(
        html.contains("aria-describedby=\"t-note-help\">A crew filled this pothole today."),
        "{html}"
    );
    assert!(
        html.contains(r#"<option value="closed" selected>"#),
        "the status it is written for"
    );
    assert!(html.contains(r#"<option value="pothole-filled" data-text="#));

    let (_, html, _) = f
        .get(
            "/admin/requests/7K3M-9QZ2?for=note&response=need-more-detail",
            Some(&who),
        )
        .await;
    assert!(
        html.contains("required>We could not find the problem at this location."),
        "{html}"
    );
    // Another service's template, or one not for this status, fills nothing.
    let (_, html, _) = f
        .get(
            "/admin/requests/7K3M-9QZ2?for=note&response=graffiti-removed",
            Some(&who),
        )
        .await;
    assert!(!html.contains("The graffiti has been removed"));
}

#[tokio::test]
async fn a_supervisor_hides_a_request_and_edits_its_description_from_the_page_and_undoes_both() {
    let f = Fixture::new().await;
    let supervisor = f.sign(&claims(Role::Supervisor, None, "local:dana.ortiz"));
    let page = "/admin/requests/7K3M-9QZ2";

    // a crew of the department gets no moderation forms, and is refused if it posts one
    let crew = f.sign(&crew());
    let (_, html, _) = f.get(page, Some(&crew)).await;
    assert!(!html.contains("/visibility\""), "no hide form for a crew");
    let (status, _, _) = f
        .post_owned(
            "/admin/requests/7K3M-9QZ2/visibility",
            &crew,
            &[
                ("csrf", crew.csrf.clone()),
                ("hidden", "true".into()),
                ("reason", "rude".into()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!f.stored(POTHOLE).await.hidden);

    // a supervisor's form without a reason is refused, nothing changes
    let (_, html, _) = f.get(page, Some(&supervisor)).await;
    assert!(html.contains("Hide from the public"), "{html}");
    let (status, _, _) = f
        .post_owned(
            "/admin/requests/7K3M-9QZ2/visibility",
            &supervisor,
            &[("csrf", supervisor.csrf.clone()), ("hidden", "true".into())],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!f.stored(POTHOLE).await.hidden);

    // then hides it and edits its description
    for (action, fields) in [
        (
            "visibility",
            vec![("hidden", "true"), ("reason", "a neighbour named")],
        ),
        (
            "description",
            vec![
                ("description", "Deep hole by the curb"),
                ("reason", "a script tag"),
            ],
        ),
    ] {
        let mut fields: Vec<(&str, String)> = fields
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        fields.push(("csrf", supervisor.csrf.clone()));
        fields.push(("version", f.stored(POTHOLE).await.version.to_string()));
        let (status, html, location) = f
            .post_owned(&format!("{page}/{action}"), &supervisor, &fields)
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{action}: {html}");
        assert_eq!(location.unwrap(), format!("{page}?done={action}"));
    }
    let stored = f.stored(POTHOLE).await;
    assert!(stored.hidden);
    assert_eq!(stored.description.as_deref(), Some("Deep hole by the curb"));

    // staff see it marked, with the reporter's words as text, and the reasons on the timeline
    let (_, html, _) = f.get(page, Some(&crew)).await;
    assert!(html.contains("hidden from the public"), "{html}");
    assert!(html.contains("The reporter wrote"));
    assert!(html.contains("&lt;script&gt;alert("), "escaped: {html}");
    assert!(!html.contains("<script>alert("));
    assert!(html.contains("Hidden from public view: a neighbour named"));
    let (_, queue, _) = f.get("/admin/queue", Some(&crew)).await;
    assert!(queue.contains("tag moderated"), "{queue}");

    // and the supervisor undoes both
    let (_, html, _) = f.get(page, Some(&supervisor)).await;
    assert!(html.contains("Restore the reporter"), "{html}");
    for (action, fields) in [
        (
            "visibility",
            vec![("hidden", "false"), ("reason", "reviewed")],
        ),
        (
            "description",
            vec![("restore", "1"), ("reason", "reviewed")],
        ),
    ] {
        let mut fields: Vec<(&str, String)> = fields
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        fields.push(("csrf", supervisor.csrf.clone()));
        let (status, html, _) = f
            .post_owned(&format!("{page}/{action}"), &supervisor, &fields)
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{action}: {html}");
    }
    let stored = f.stored(POTHOLE).await;
    assert!(!stored.hidden);
    assert!(stored.description.unwrap().contains("<script>"));
    assert_eq!(stored.original_description, None);
}

#[tokio::test]
async fn a_crew_keeps_a_photo_private_from_the_page_and_still_sees_it() {
    use cityfix_app::ports::MediaStore;
    let f = Fixture::new().await;
    let key = "originals/7K3M-9QZ2/face.jpg";
    f.world
        .media
        .put(key, vec![0xFF; 10], "image/jpeg")
        .await
        .unwrap();
    let mut request = f.stored(POTHOLE).await;
    let version = request.version;
    request.version += 1;
    request.media = vec![key.into()];
    let mut entry = cityfix_domain::TimelineEntry::submitted(request.updated_at);
    entry.event_id = "photo".into();
    entry.kind = cityfix_domain::TimelineKind::Media;
    entry.media = vec![key.into()];
    f.world
        .store
        .update(&request, version, &entry)
        .await
        .unwrap();

    let crew = f.sign(&crew());
    let page = "/admin/requests/7K3M-9QZ2";
    let (_, html, _) = f.get(page, Some(&crew)).await;
    assert!(html.contains("Keep photo 1 private"), "{html}");
    // (the page escapes `/` as `&#x2f;`)
    assert!(
        html.replace("&#x2f;", "/")
            .contains("/admin/requests/7K3M-9QZ2/media/face.jpg"),
        "the photo is read through the staff link: {html}"
    );
    let (status, html, _) = f
        .post_owned(
            &format!("{page}/privacy"),
            &crew,
            &[
                ("csrf", crew.csrf.clone()),
                ("media", "face".into()),
                ("private", "true".into()),
                ("reason", "a passer-by's face".into()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    assert_eq!(f.stored(POTHOLE).await.private_media, vec![key.to_string()]);

    // staff still open it through their own link, marked private; the public link is gone
    let (_, html, _) = f.get(page, Some(&crew)).await;
    assert!(html.contains("Show photo 1 to the public"), "{html}");
    let (status, _, location) = f
        .get("/admin/requests/7K3M-9QZ2/media/face.jpg", Some(&crew))
        .await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.is_some());
    let agent = f.sign(&claims(Role::Agent, None, "local:agent"));
    let (status, _, _) = f
        .get("/admin/requests/7K3M-9QZ2/media/face.jpg", Some(&agent))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "callers see public files only"
    );
}

#[tokio::test]
async fn a_request_about_an_asset_shows_the_pole_with_its_label() {
    let f = Fixture::new().await;
    let seeded = seed_request(
        &f.world.store,
        "AAAA-0007",
        "streetlight_out",
        41.76777,
        -72.673629,
        None,
    )
    .await;
    let mut request = seeded.clone();
    request.department = Some("transportation".into());
    request.asset = Some(cityfix_domain::AssetRef {
        layer: "streetlights".into(),
        id: "SL-014-020".into(),
    });
    force_status(&f.world.store, request, Status::Open, "routed").await;
    let lights = f.sign(&claims(
        Role::Staff,
        Some("transportation"),
        "local:lee.chan",
    ));
    let (status, html, _) = f.get("/admin/requests/AAAA-0007", Some(&lights)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("<dt>Asset</dt><dd>SL-014-020 · Main Street, by 710 <span class=\"muted\">(streetlights)</span></dd>"),
        "{html}"
    );
    let (_, pothole, _) = f
        .get("/admin/requests/7K3M-9QZ2", Some(&f.sign(&crew())))
        .await;
    assert!(
        !pothole.contains("<dt>Asset</dt>"),
        "a report about no asset shows none"
    );
}

/// A resident's question saved as the answers desk saves it.
async fn ask(f: &Fixture, id: &str, question: &str) -> TrackingNumber {
    let id = TrackingNumber::parse(id).unwrap();
    f.world
        .store
        .save_information_request(&cityfix_app::ports::InformationRequest {
            id: id.clone(),
            question: question.into(),
            email: "ana.resident@example.org".into(),
            language: cityfix_domain::Language::En,
            asked_at: chrono::Utc::now(),
            answered: None,
        })
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn residents_questions_are_listed_to_call_takers_with_addresses_only_for_supervisors() {
    let f = Fixture::new().await;
    ask(
        &f,
        "Q7KM-4X2A",
        "Where do I get a <script>fishing</script> licence?",
    )
    .await;
    let agent = f.sign(&claims(Role::Agent, None, "local:desk"));
    let (status, html, _) = f.get("/admin/information-requests", Some(&agent)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("&lt;script&gt;fishing"), "{html}");
    assert!(!html.contains("<script>fishing"));
    assert!(html.contains("/admin/information-requests/Q7KM-4X2A"));
    assert!(
        !html.contains("ana.resident@example.org"),
        "no address for a call-taker"
    );
    let (_, page, _) = f
        .get("/admin/information-requests/Q7KM-4X2A", Some(&agent))
        .await;
    assert!(!page.contains("ana.resident@example.org"));
    assert!(page.contains("Send the answer"));

    let sup = f.sign(&claims(Role::Supervisor, None, "local:sup"));
    let (_, html, _) = f.get("/admin/information-requests", Some(&sup)).await;
    assert!(html.contains("ana.resident@example.org"));

    for refused in [crew(), claims(Role::Ethics, None, "local:ethics")] {
        let who = f.sign(&refused);
        let (status, _, _) = f.get("/admin/information-requests", Some(&who)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{:?}", refused.role);
        let (status, _, _) = f
            .get("/admin/information-requests/Q7KM-4X2A", Some(&who))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{:?}", refused.role);
        let (status, _, _) = f
            .post(
                "/admin/information-requests/Q7KM-4X2A/answer",
                Some(&who),
                &[("csrf", &who.csrf), ("text", "an answer"), ("idem", "k1")],
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{:?}", refused.role);
    }
    let (status, _, _) = f
        .get("/admin/information-requests/Q7KM-4X2Z", Some(&agent))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_call_taker_answers_a_question_by_e_mail_once_and_an_admin_gets_its_answers_entry() {
    let f = Fixture::new().await;
    let id = ask(&f, "Q7KM-4X2B", "Where do I get a fishing licence?").await;
    let agent = f.sign(&claims(Role::Agent, None, "local:desk"));
    let path = "/admin/information-requests/Q7KM-4X2B/answer";
    let answer = "At the town clerk's office, 550 Main St.";
    let (status, _, _) = f
        .post(
            path,
            Some(&agent),
            &[("csrf", "forged"), ("text", answer), ("idem", "k1")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a forged form is refused");
    let (status, _, _) = f
        .post(
            path,
            Some(&agent),
            &[("csrf", &agent.csrf), ("text", "  "), ("idem", "k1")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an empty answer");
    assert!(f
        .world
        .queue
        .receive("notify", 10)
        .await
        .unwrap()
        .is_empty());

    for _ in 0..2 {
        // The same form sent twice (a double click): one answer, one e-mail.
        let (status, _, location) = f
            .post(
                path,
                Some(&agent),
                &[("csrf", &agent.csrf), ("text", answer), ("idem", "k1")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(
            location.as_deref(),
            Some("/admin/information-requests/Q7KM-4X2B")
        );
    }
    let kept = f
        .world
        .store
        .information_request(&id)
        .await
        .unwrap()
        .unwrap();
    let answered = kept.answered.unwrap();
    assert_eq!(
        (
            answered.text.as_str(),
            answered.by.as_str(),
            answered.by_name.as_str()
        ),
        (answer, "local:desk", "Test local:desk")
    );
    let (_, html, _) = f.get("/admin/information-requests", Some(&agent)).await;
    assert!(
        !html.contains("Q7KM-4X2B"),
        "answered questions leave the list"
    );

    let deps = cityfix_testing::notify_deps(&f.world, "http://cityfix.test");
    for message in f.world.queue.receive("notify", 10).await.unwrap() {
        let event: cityfix_app::messages::NotifyEvent =
            serde_json::from_str(&message.body).unwrap();
        cityfix_app::notify::notify(&deps, &event).await.unwrap();
    }
    let mails = f.world.outbox.list().unwrap();
    let emails: Vec<_> = mails.iter().filter(|m| m.file.ends_with(".eml")).collect();
    assert_eq!(emails.len(), 1, "{mails:?}");
    let mail = String::from_utf8(f.world.outbox.read(&emails[0].file).unwrap()).unwrap();
    assert!(mail.contains("To: ana.resident@example.org") && mail.contains("550 Main St."));

    let (status, html, _) = f
        .post(
            path,
            Some(&agent),
            &[("csrf", &agent.csrf), ("text", "another"), ("idem", "k2")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "answered already");
    assert!(html.contains("was answered by Test local:desk"), "{html}");

    let (_, page, _) = f
        .get(
            "/admin/information-requests/Q7KM-4X2B?entry=toml",
            Some(&agent),
        )
        .await;
    assert!(!page.contains("[[answer]]"), "only admins save answers");
    assert!(!page.contains("Save as an answer"));
    let admin = f.sign(&claims(Role::Admin, None, "local:admin"));
    let (_, page, _) = f
        .get("/admin/information-requests/Q7KM-4X2B", Some(&admin))
        .await;
    assert!(page.contains("Save as an answer") && page.contains("ana.resident@example.org"));
    let (_, page, _) = f
        .get(
            "/admin/information-requests/Q7KM-4X2B?entry=toml",
            Some(&admin),
        )
        .await;
    assert!(page.contains("[[answer]]"), "{page}");
    assert!(
        page.contains("id = &quot;where-do-i-get-a-fishing-licence&quot;"),
        "{page}"
    );
}

/// A request of `service` at the point, moved to `status` (routed to public works).
async fn seed_at(f: &Fixture, id: &str, service: &str, (lat, long): (f64, f64), status: Status) {
    let mut request = seed_request(&f.world.store, id, service, lat, long, None).await;
    request.department = Some("public-works".into());
    request.description = Some(format!("Seeded {service} <b>here</b>"));
    force_status(&f.world.store, request, status, "routed").await;
}

/// The intake form's fields for a caller at 550 Main St reporting a pothole, with `extra`.
fn intake_fields<'a>(who: &'a Signed, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("csrf", who.csrf.as_str()),
        ("idem", "form-1"),
        ("service_code", "pothole"),
        ("address", "550 Main St"),
        ("description", "Caller says: deep pothole"),
    ];
    fields.extend_from_slice(extra);
    fields
}

/// The status commands queued so far, applied by status (as its worker would).
async fn apply_status_commands(f: &Fixture) {
    let deps = StatusDeps {
        city: demo_city(),
        store: Arc::new(f.world.store.clone()),
        queue: Arc::new(f.world.queue.clone()),
        clock: Arc::new(SystemClock),
        media: Arc::new(f.world.media.clone()),
    };
    for message in f.world.queue.receive("status", 10).await.unwrap() {
        let command: cityfix_app::messages::StatusCommand =
            serde_json::from_str(&message.body).unwrap();
        cityfix_app::transition::apply(&deps, &command)
            .await
            .unwrap();
        f.world
            .queue
            .delete("status", &message.receipt_handle)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn phone_intake_suggests_open_reports_of_the_service_near_the_caller_s_address() {
    let f = Fixture::new().await;
    // 550 Main St is at 41.765071, -72.673863.
    seed_at(
        &f,
        "N3AR-7PQ2",
        "pothole",
        (41.76515, -72.67390),
        Status::Open,
    )
    .await;
    seed_at(
        &f,
        "D0NE-4KX7",
        "pothole",
        (41.76510, -72.67385),
        Status::Closed,
    )
    .await;
    seed_at(
        &f,
        "5TRT-8MW3",
        "streetlight_out",
        (41.76508, -72.67387),
        Status::Open,
    )
    .await;
    seed_at(
        &f,
        "ETH1-3CQ9",
        "ethics_concern",
        (41.76509, -72.67386),
        Status::Open,
    )
    .await;
    let who = f.sign(&claims(Role::Agent, None, "local:agent"));
    let (status, html, _) = f
        .post(
            "/admin/intake",
            Some(&who),
            &intake_fields(&who, &[("step", "check"), ("phone", "860-555-0142")]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Open Pothole reports within 150 m of 550 Main St"),
        "{html}"
    );
    assert!(
        html.contains("name=\"follow\" value=\"N3AR-7PQ2\""),
        "the open pothole next door: {html}"
    );
    assert!(
        html.replace("&#x2f;", "/")
            .contains("Seeded pothole &lt;b&gt;here&lt;/b&gt;"),
        "resident text as text"
    );
    assert!(!html.contains("D0NE-4KX7"), "not a closed one");
    assert!(!html.contains("5TRT-8MW3"), "not another service");
    assert!(!html.contains("ETH1-3CQ9"), "never a confidential one");
    assert!(
        !html.contains(&format!("value=\"{POTHOLE}\"")),
        "not one 300 m away"
    );
    assert!(
        html.contains("value=\"Caller says: deep pothole\"")
            || html.contains(">Caller says: deep pothole</textarea>"),
        "what was typed is kept"
    );
    assert!(html.contains("value=\"860-555-0142\""));
    assert!(html.contains("File the report"), "filing stays possible");

    // A confidential service has no intake form, so no suggestions either.
    let mut ethics = intake_fields(&who, &[("step", "check")]);
    ethics[2] = ("service_code", "ethics_concern");
    let (status, html, _) = f.post("/admin/intake", Some(&who), &ethics).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!html.contains("ETH1-3CQ9"));

    // An address the city does not know is said so, with its closest ones.
    let mut unknown = intake_fields(&who, &[("step", "check")]);
    unknown[3] = ("address", "550 Mian St");
    let (status, html, _) = f.post("/admin/intake", Some(&who), &unknown).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("did you mean"), "{html}");
}

#[tokio::test]
async fn a_caller_added_to_an_open_report_follows_it_by_phone_and_hears_its_number() {
    let f = Fixture::new().await;
    seed_at(
        &f,
        "N3AR-7PQ2",
        "pothole",
        (41.76515, -72.67390),
        Status::Open,
    )
    .await;
    let who = f.sign(&claims(Role::Agent, None, "local:agent"));
    let fields = intake_fields(
        &who,
        &[
            ("follow", "N3AR-7PQ2"),
            ("phone", "(860) 555-0142"),
            ("first_name", "Ana"),
        ],
    );
    let (status, html, _) = f.post("/admin/intake/follow", Some(&who), &fields).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Added to: <span class=\"tracking\">N3AR-7PQ2</span>"),
        "{html}"
    );
    assert!(html.contains("November, three, Alfa, Romeo — seven, Papa, Quebec, two"));
    assert!(html.contains("The caller follows it"));
    let id = TrackingNumber::parse("N3AR-7PQ2").unwrap();
    let followers = f.world.store.followers(&id).await.unwrap();
    assert_eq!(followers.len(), 1, "{followers:?}");
    let follower = &followers[0];
    assert_eq!(follower.channel.as_deref(), Some("phone"));
    assert!(follower.is_active(), "the caller asked in person");
    assert_eq!(follower.contact.phone.as_deref(), Some("+18605550142"));
    assert_eq!(follower.contact.first_name.as_deref(), Some("Ana"));
    // No new report was filed.
    let all = f
        .world
        .store
        .search(&cityfix_app::ports::RequestQuery {
            page: 1,
            page_size: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 2, "the fixture's and the seeded one");

    // The same form sent again (a double click) adds nobody and counts the caller once.
    let (status, _, _) = f.post("/admin/intake/follow", Some(&who), &fields).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(f.world.store.followers(&id).await.unwrap().len(), 1);
    apply_status_commands(&f).await;
    assert_eq!(f.stored("N3AR-7PQ2").await.supporters, 1, "one me-too");

    // The caller is told once that they follow it.
    let notify: Vec<_> = f.world.queue.receive("notify", 10).await.unwrap();
    let followed: Vec<_> = notify
        .iter()
        .filter(|m| m.body.contains("follow_confirmed"))
        .collect();
    assert_eq!(
        followed.len(),
        1,
        "nothing new to tell the second time: {notify:?}"
    );
    let deps = cityfix_testing::notify_deps(&f.world, "http://cityfix.test");
    for message in &followed {
        let event: cityfix_app::messages::NotifyEvent =
            serde_json::from_str(&message.body).unwrap();
        cityfix_app::notify::notify(&deps, &event).await.unwrap();
    }
    let sent = f.world.outbox.list().unwrap();
    let to_caller = sent
        .iter()
        .filter(|m| {
            String::from_utf8_lossy(&f.world.outbox.read(&m.file).unwrap()).contains("8605550142")
        })
        .count();
    assert_eq!(
        to_caller, 1,
        "the caller is told once that they follow it: {sent:?}"
    );

    // A caller who gives no contact is counted, and follows nothing.
    let anonymous = intake_fields(&who, &[("follow", "N3AR-7PQ2"), ("idem", "form-2")]);
    let (status, html, _) = f.post("/admin/intake/follow", Some(&who), &anonymous).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("gave no phone or e-mail"));
    assert_eq!(f.world.store.followers(&id).await.unwrap().len(), 1);
    apply_status_commands(&f).await;
    assert_eq!(f.stored("N3AR-7PQ2").await.supporters, 2);
}

#[tokio::test]
async fn following_instead_is_refused_without_the_session_s_csrf_token_and_for_what_may_not_be_followed(
) {
    let f = Fixture::new().await;
    seed_at(
        &f,
        "N3AR-7PQ2",
        "pothole",
        (41.76515, -72.67390),
        Status::Open,
    )
    .await;
    seed_at(
        &f,
        "D0NE-4KX7",
        "pothole",
        (41.76510, -72.67385),
        Status::Closed,
    )
    .await;
    seed_at(
        &f,
        "ETH1-3CQ9",
        "ethics_concern",
        (41.76509, -72.67386),
        Status::Open,
    )
    .await;
    let who = f.sign(&claims(Role::Agent, None, "local:agent"));
    let id = TrackingNumber::parse("N3AR-7PQ2").unwrap();

    let mut forged = intake_fields(&who, &[("follow", "N3AR-7PQ2"), ("phone", "860-555-0142")]);
    forged[0] = ("csrf", "not this session's");
    let (status, html, _) = f.post("/admin/intake/follow", Some(&who), &forged).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    let other = f.sign(&claims(Role::Agent, None, "local:other"));
    forged[0] = ("csrf", other.csrf.as_str());
    let (status, _, _) = f.post("/admin/intake/follow", Some(&who), &forged).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another session's token");
    assert!(f.world.store.followers(&id).await.unwrap().is_empty());
    assert!(
        f.world
            .queue
            .receive("status", 10)
            .await
            .unwrap()
            .is_empty(),
        "nobody counted"
    );

    let refused = |follow: &'static str| {
        intake_fields(&who, &[("follow", follow), ("phone", "860-555-0142")])
    };
    let (status, html, _) = f
        .post("/admin/intake/follow", Some(&who), &refused("D0NE-4KX7"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{html}");
    assert!(html.contains("only a report still being worked"), "{html}");
    let (status, html, _) = f
        .post("/admin/intake/follow", Some(&who), &refused("ETH1-3CQ9"))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a confidential report does not exist here"
    );
    assert!(!html.contains("Added to"));
    let (status, _, _) = f
        .post("/admin/intake/follow", Some(&who), &refused("not-a-number"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_phone = intake_fields(&who, &[("follow", "N3AR-7PQ2"), ("phone", "call me")]);
    let (status, html, _) = f.post("/admin/intake/follow", Some(&who), &bad_phone).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("phone"), "{html}");
    assert!(f.world.store.followers(&id).await.unwrap().is_empty());

    let ethics = f.sign(&claims(Role::Ethics, None, "local:ethics"));
    let fields = intake_fields(
        &ethics,
        &[("follow", "N3AR-7PQ2"), ("phone", "860-555-0142")],
    );
    let (status, _, _) = f.post("/admin/intake/follow", Some(&ethics), &fields).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "ethics officers take no calls"
    );
}

/// The requests a map page marks: each mark's link target.
fn marks(html: &str) -> Vec<String> {
    html.split("<a href=\"/admin/requests/")
        .skip(1)
        .filter(|rest| {
            rest.split('>')
                .next()
                .unwrap_or("")
                .contains("class=\"mark")
        })
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_queue_map_marks_the_filtered_requests_on_the_city_s_shapes() {
    let f = Fixture::new().await;
    seed_at(
        &f,
        "5TRT-8MW3",
        "streetlight_out",
        (41.76508, -72.67387),
        Status::Open,
    )
    .await;
    seed_at(
        &f,
        "D0NE-4KX7",
        "pothole",
        (41.76510, -72.67385),
        Status::Closed,
    )
    .await;
    // A resident's typed address, shown in the list under the map.
    let mut odd = seed_request(
        &f.world.store,
        "N3AR-7PQ2",
        "pothole",
        41.7600,
        -72.6800,
        None,
    )
    .await;
    odd.department = Some("public-works".into());
    odd.address = Some("<script>alert('map')</script> Main St".into());
    force_status(&f.world.store, odd, Status::Open, "routed").await;
    let crew = f.sign(&crew());

    let (status, html, _) = f.get("/admin/queue/map", Some(&crew)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let mut marked = marks(&html);
    marked.sort();
    assert_eq!(
        marked,
        ["5TRT-8MW3", "7K3M-9QZ2", "N3AR-7PQ2"],
        "the open queue: {html}"
    );
    assert!(html.contains("3 requests on the map"));
    // (a seeded request's service name is its code)
    assert!(
        html.contains(
            "aria-label=\"7K3M-9QZ2 · pothole\"><title>7K3M-9QZ2 · pothole</title><circle"
        ),
        "{html}"
    );
    // The city's layers, drawn as plain shapes: the boundary, the neighbourhoods, the districts.
    assert!(
        html.contains("<g class=\"layer shaded\"")
            && html.contains("<g class=\"layer outlined\"")
            && html.contains("<g class=\"layer boundary\"")
    );
    assert!(
        html.contains("<title>Downtown</title>") && html.contains("<title>North District</title>")
    );
    assert!(
        html.replace("&#x2f;", "/")
            .contains("data-tile-url=\"https://tile.openstreetmap.org/{z}/{x}/{y}.png\""),
        "the tile template for the script"
    );
    // Resident text is text, in the map's list too.
    assert!(
        html.contains("&lt;script&gt;alert(&#x27;map&#x27;) Main St")
            || html.contains("&lt;script&gt;alert("),
        "{html}"
    );
    assert!(!html.contains("<script>alert"));

    // The queue's filters narrow the map the same way, and its links keep them.
    let (_, html, _) = f
        .get("/admin/queue/map?service=streetlight_out", Some(&crew))
        .await;
    assert_eq!(marks(&html), ["5TRT-8MW3"]);
    assert!(html.replace("&#x2f;", "/").contains("href=\"/admin/queue?department=public-works&amp;status=open&amp;service=streetlight_out\""), "the list of the same filter: {html}");
    let (_, html, _) = f.get("/admin/queue/map?status=closed", Some(&crew)).await;
    assert_eq!(marks(&html), ["D0NE-4KX7"]);
    let (_, html, _) = f
        .get("/admin/queue?service=streetlight_out", Some(&crew))
        .await;
    assert!(html.replace("&#x2f;", "/").contains("href=\"/admin/queue/map?department=public-works&amp;status=open&amp;service=streetlight_out\""), "the map of the list's filter");
    assert!(marks(&html).is_empty(), "the list page draws no map");
}

#[tokio::test]
async fn confidential_reports_are_on_no_map_but_the_ethics_officer_s() {
    let f = Fixture::new().await;
    // Even one stored with a department's queue keys stays off that department's map.
    seed_at(
        &f,
        "ETH1-3CQ9",
        "ethics_concern",
        (41.76509, -72.67386),
        Status::Open,
    )
    .await;
    let mut ethics_own = seed_request(
        &f.world.store,
        "ETH2-4DR7",
        "ethics_concern",
        41.7650,
        -72.6740,
        None,
    )
    .await;
    ethics_own.department = Some("ethics".into());
    force_status(&f.world.store, ethics_own, Status::Open, "routed").await;

    for who in [
        crew(),
        claims(Role::Supervisor, None, "local:sup"),
        claims(Role::Admin, None, "local:admin"),
    ] {
        let signed = f.sign(&who);
        for department in ["public-works", "ethics"] {
            let (status, html, _) = f
                .get(
                    &format!("/admin/queue/map?department={department}"),
                    Some(&signed),
                )
                .await;
            assert!(
                !html.contains("ETH1-3CQ9") && !html.contains("ETH2-4DR7"),
                "{:?} {department}: {html}",
                who.role
            );
            if status == StatusCode::OK && department == "public-works" {
                assert_eq!(marks(&html), [POTHOLE]);
            }
        }
    }
    let ethics = f.sign(&claims(Role::Ethics, None, "local:ethics"));
    let (status, html, _) = f
        .get("/admin/queue/map?department=ethics", Some(&ethics))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("ETH2-4DR7"),
        "the ethics officer's own queue: {html}"
    );
    let (_, html, _) = f
        .get("/admin/queue/map?department=public-works", Some(&ethics))
        .await;
    assert!(
        !html.contains(&format!("/admin/requests/{POTHOLE}")),
        "ethics officers see confidential reports only"
    );
    assert!(marks(&html).iter().all(|id| id == "ETH1-3CQ9"), "{html}");

    let agent = f.sign(&claims(Role::Agent, None, "local:agent"));
    let (status, html, _) = f.get("/admin/queue/map", Some(&agent)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        marks(&html).is_empty() && !html.contains("queue-map"),
        "call-takers work no queue"
    );
    let (_, _, location) = f.get("/admin/queue/map", None).await;
    assert_eq!(
        location.as_deref(),
        Some("/admin/sign-in?next=%2Fadmin%2Fqueue%2Fmap")
    );
}

#[tokio::test]
async fn a_caller_who_asked_to_follow_on_the_site_is_confirmed_by_the_call_taker() {
    let f = Fixture::new().await;
    seed_at(
        &f,
        "N3AR-7PQ2",
        "pothole",
        (41.76515, -72.67390),
        Status::Open,
    )
    .await;
    let request = f.stored("N3AR-7PQ2").await;
    let asked = cityfix_domain::Contact {
        phone: Some("860-555-0142".into()),
        ..Default::default()
    };
    cityfix_app::follow::ask_to_follow(
        &f.world.store,
        &f.world.queue,
        &demo_city(),
        &request,
        asked,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let followers = f.world.store.followers(&request.id).await.unwrap();
    assert!(followers.len() == 1 && !followers[0].is_active());

    let who = f.sign(&claims(Role::Agent, None, "local:agent"));
    let fields = intake_fields(
        &who,
        &[("follow", "N3AR-7PQ2"), ("phone", "+1 860 555 0142")],
    );
    let (status, html, _) = f.post("/admin/intake/follow", Some(&who), &fields).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let followers = f.world.store.followers(&request.id).await.unwrap();
    assert_eq!(
        followers.len(),
        1,
        "the same person, however the number is written"
    );
    assert!(followers[0].is_active(), "confirmed by the call");
}
