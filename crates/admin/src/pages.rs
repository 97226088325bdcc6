//! The pages of the staff application and the forms they post: each reads or acts through the
//! staff routes as the signed-in person, and answers with a page (or a redirect to one).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use cityfix_app::follow::{follow_for_caller, FollowRefused};
use cityfix_app::messages::StatusCommand;
use cityfix_app::ports::{Near, PortError, QueueMark, QueueName, RequestQuery as Search};
use cityfix_app::submit::{submit, Submission, SubmitError};
use cityfix_app::work::{Actor, WorkAction, WorkCommand};
use cityfix_domain::areas::distance_m;
use cityfix_domain::phone::to_e164;
use cityfix_domain::report::check_contact;
use cityfix_domain::{
    Contact, Datatype, RawAttribute, ReportForm, Resolution, ServiceRequest, Status, TrackingNumber,
};
use cityfix_http::auth::{Act, Role, StaffClaims};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::hosted_ui::{SignInRefused, HOSTED_SIGN_IN_COOKIE, HOSTED_SIGN_IN_SECS};
use crate::session::{cookie, safe_next, Session, SESSION_SECS, SIGN_IN_COOKIE};
use crate::staff_api::Refusal;
use crate::Admin;

type Shared = State<Arc<Admin>>;

/// What every page shows: the city, who is signed in, their forms' CSRF token, the page's name.
pub(crate) fn base(admin: &Admin, session: Option<&Session>, page: &str) -> Map<String, Value> {
    let mut context = Map::new();
    context.insert(
        "city".into(),
        json!({ "name": admin.city.name, "short_name": admin.city.short_name }),
    );
    context.insert("page".into(), json!(page));
    if let Some(session) = session {
        let claims = &session.claims;
        let department_name = claims
            .department
            .as_deref()
            .and_then(|id| admin.city.department(id))
            .map(|d| d.name.clone());
        context.insert(
            "me".into(),
            json!({ "name": claims.name, "role": role_id(claims.role), "role_name": role_name(claims.role), "department_name": department_name }),
        );
        context.insert("csrf".into(), json!(session.csrf(admin)));
    }
    context
}

fn role_id(role: Role) -> &'static str {
    match role {
        Role::Agent => "agent",
        Role::Staff => "staff",
        Role::Supervisor => "supervisor",
        Role::Admin => "admin",
        Role::Ethics => "ethics",
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Agent => "call-taker",
        Role::Staff => "staff",
        Role::Supervisor => "supervisor",
        Role::Admin => "administrator",
        Role::Ethics => "ethics officer",
    }
}

/// A page saying what went wrong, with the status it deserves.
pub(crate) fn problem(
    admin: &Admin,
    session: Option<&Session>,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    let mut context = base(admin, session, "");
    context.insert("title".into(), json!(title));
    context.insert("message".into(), json!(message));
    admin.views.page(status, "problem.html", context)
}

/// The answer to a form whose CSRF token is not this session's.
pub(crate) fn forged(admin: &Admin, session: &Session) -> Response {
    problem(
        admin,
        Some(session),
        StatusCode::FORBIDDEN,
        "This form has expired",
        "The form was not sent from this session's page. Go back, reload the page and send it again.",
    )
}

pub async fn home() -> Redirect {
    Redirect::to("/admin/queue")
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../static/admin.css"),
    )
        .into_response()
}

pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../static/admin.js"),
    )
        .into_response()
}

// ───────────────────────────── sign-in ─────────────────────────────

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    expired: Option<String>,
}

pub async fn sign_in_page(State(admin): Shared, Query(query): Query<SignInQuery>) -> Response {
    if let Some(hosted_ui) = &admin.hosted_ui {
        let started = hosted_ui.start(&safe_next(query.next.as_deref()));
        let mut response = Redirect::to(&started.authorize_url).into_response();
        response.headers_mut().append(
            header::SET_COOKIE,
            admin.sessions.returning_cookie(
                HOSTED_SIGN_IN_COOKIE,
                &started.cookie,
                HOSTED_SIGN_IN_SECS,
            ),
        );
        return response;
    }
    sign_in_form(
        &admin,
        StatusCode::OK,
        &safe_next(query.next.as_deref()),
        "",
        query.expired.is_some(),
        None,
    )
}

/// The sign-in form with a fresh sign-in CSRF token (also set as a cookie: the form must send
/// back the cookie's value).
fn sign_in_form(
    admin: &Admin,
    status: StatusCode,
    next: &str,
    username: &str,
    expired: bool,
    error: Option<&str>,
) -> Response {
    let token = crate::accounts::random_password();
    let mut context = base(admin, None, "sign-in");
    context.insert("sign_in_csrf".into(), json!(token));
    context.insert("next".into(), json!(next));
    context.insert("username".into(), json!(username));
    context.insert("expired".into(), json!(expired));
    context.insert("error".into(), json!(error));
    let mut response = admin.views.page(status, "sign_in.html", context);
    response.headers_mut().append(
        header::SET_COOKIE,
        admin.sessions.cookie(SIGN_IN_COOKIE, &token, 1800),
    );
    response
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

pub async fn sign_in(
    State(admin): Shared,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    if admin.hosted_ui.is_some() {
        return problem(
            &admin,
            None,
            StatusCode::NOT_FOUND,
            "Sign in through the city's sign-in page",
            "Staff accounts are kept by the city's sign-in service; this form takes no passwords.",
        );
    }
    let next = safe_next(form.next.as_deref());
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or("");
    if expected.is_empty() || expected != form.csrf {
        return sign_in_form(
            &admin,
            StatusCode::FORBIDDEN,
            &next,
            &form.username,
            false,
            Some("The sign-in form had expired. Sign in again."),
        );
    }
    let now = admin.now_secs();
    let Some(claims) = admin
        .accounts
        .sign_in(&form.username, &form.password, now + SESSION_SECS)
    else {
        return sign_in_form(
            &admin,
            StatusCode::UNAUTHORIZED,
            &next,
            &form.username,
            false,
            Some("That user name and password do not match an account."),
        );
    };
    let token = admin
        .sessions
        .keys
        .issue(&claims, now)
        .expect("a session lives less than a token may");
    tracing::info!(sub = %claims.sub, role = ?claims.role, "staff signed in");
    let mut response = Redirect::to(&next).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        admin.sessions.session_cookie(&token, SESSION_SECS),
    );
    headers.append(
        header::SET_COOKIE,
        admin.sessions.cookie(SIGN_IN_COOKIE, "", 0),
    );
    response
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Where the hosted UI sends someone back: the code is exchanged and its ID token checked, then the
/// session starts. The answer is a page that moves on by itself, not a redirect: a browser sent
/// here by another site would not send the new `SameSite=Strict` session cookie along a redirect.
pub async fn hosted_sign_in_callback(
    State(admin): Shared,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(hosted_ui) = &admin.hosted_ui else {
        return problem(
            &admin,
            None,
            StatusCode::NOT_FOUND,
            "Page not found",
            "Sign-in here is with the runner's own accounts.",
        );
    };
    let now = admin.now_secs();
    let outcome = match (&query.error, &query.code, &query.state) {
        (Some(error), _, _) => Err(SignInRefused::HostedUi(error.chars().take(64).collect())),
        (None, Some(code), Some(state)) => {
            hosted_ui
                .finish(cookie(&headers, HOSTED_SIGN_IN_COOKIE), code, state, now)
                .await
        }
        _ => Err(SignInRefused::State),
    };
    let forget = admin
        .sessions
        .returning_cookie(HOSTED_SIGN_IN_COOKIE, "", 0);
    let (claims, next) = match outcome {
        Ok(found) => found,
        Err(refused) => {
            tracing::warn!(reason = %refused, "a hosted sign-in was refused");
            let status = match refused {
                SignInRefused::NoRole => StatusCode::FORBIDDEN,
                SignInRefused::Exchange(_) | SignInRefused::Keys(_) => StatusCode::BAD_GATEWAY,
                _ => StatusCode::UNAUTHORIZED,
            };
            let mut context = base(&admin, None, "sign-in");
            context.insert("message".into(), json!(refused.message()));
            let mut response = admin.views.page(status, "signed_in.html", context);
            response.headers_mut().append(header::SET_COOKIE, forget);
            return response;
        }
    };
    let session = StaffClaims {
        exp: now + SESSION_SECS,
        ..claims
    };
    let token = admin
        .sessions
        .keys
        .issue(&session, now)
        .expect("a session lives less than a token may");
    tracing::info!(sub = %session.sub, role = ?session.role, "staff signed in through the hosted UI");
    let mut context = base(&admin, None, "sign-in");
    context.insert("next".into(), json!(safe_next(Some(&next))));
    let mut response = admin.views.page(StatusCode::OK, "signed_in.html", context);
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        admin.sessions.session_cookie(&token, SESSION_SECS),
    );
    headers.append(header::SET_COOKIE, forget);
    response
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

pub async fn sign_out(
    State(admin): Shared,
    session: Session,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if !session.form_is_genuine(&admin, form.csrf.as_deref()) {
        return forged(&admin, &session);
    }
    let signed_out = match &admin.hosted_ui {
        Some(hosted_ui) => hosted_ui.logout_url(),
        None => "/admin/sign-in".to_string(),
    };
    let mut response = Redirect::to(&signed_out).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, admin.sessions.end_cookie());
    response
}

// ───────────────────────────── queue ─────────────────────────────

#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    department: Option<String>,
    status: Option<String>,
    service: Option<String>,
    overdue: Option<String>,
    priority: Option<String>,
    /// An area's name, in any of the city's layers (a neighbourhood, a ward).
    area: Option<String>,
    /// Only requests reported more than this many days ago.
    older_than: Option<String>,
    /// Only requests marked as duplicates of another.
    duplicate: Option<String>,
    /// `has_duplicates` or `reopened`: the whole queue narrowed to the requests so marked, read
    /// from the mark's own index.
    mark: Option<String>,
    /// `urgent` (the index's order), `oldest`, `newest` or `expected`, within the page read.
    sort: Option<String>,
    after: Option<String>,
    print: Option<String>,
}

/// The filters a queue page applies to the index page it read, beyond department and status.
#[derive(Debug, Default, Clone, PartialEq)]
struct PageFilters {
    service: Option<String>,
    overdue: bool,
    priority: Option<String>,
    area: Option<String>,
    older_than_days: Option<i64>,
    duplicate: bool,
    sort: QueueSort,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum QueueSort {
    #[default]
    Urgent,
    Oldest,
    Newest,
    Expected,
}

impl QueueSort {
    fn parse(text: &str) -> QueueSort {
        match text {
            "oldest" => QueueSort::Oldest,
            "newest" => QueueSort::Newest,
            "expected" => QueueSort::Expected,
            _ => QueueSort::Urgent,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            QueueSort::Urgent => "urgent",
            QueueSort::Oldest => "oldest",
            QueueSort::Newest => "newest",
            QueueSort::Expected => "expected",
        }
    }
}

impl PageFilters {
    fn of(query: &QueueQuery) -> PageFilters {
        let text = |v: &Option<String>| {
            v.clone()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        PageFilters {
            service: text(&query.service),
            overdue: query.overdue.is_some(),
            priority: text(&query.priority).filter(|p| {
                cityfix_domain::Priority::ALL
                    .iter()
                    .any(|known| json!(known) == json!(p))
            }),
            area: text(&query.area).map(|a| a.chars().take(80).collect()),
            older_than_days: text(&query.older_than)
                .and_then(|d| d.parse::<i64>().ok())
                .filter(|d| (1..=3650).contains(d)),
            duplicate: query.duplicate.is_some(),
            sort: query
                .sort
                .as_deref()
                .map(QueueSort::parse)
                .unwrap_or_default(),
        }
    }

    /// Whether a queue row (see [`queue_row`]) passes, at `now`.
    fn keeps(&self, row: &Value, now: DateTime<Utc>) -> bool {
        self.service
            .as_deref()
            .is_none_or(|s| row["service_code"] == s)
            && (!self.overdue || row["overdue"] == true)
            && self
                .priority
                .as_deref()
                .is_none_or(|p| row["priority"] == p)
            && self.area.as_deref().is_none_or(|area| {
                row["areas"].as_object().is_some_and(|areas| {
                    areas
                        .values()
                        .filter_map(Value::as_str)
                        .any(|name| name.eq_ignore_ascii_case(area))
                })
            })
            && self.older_than_days.is_none_or(|days| {
                row["requested_at"]
                    .as_str()
                    .and_then(parse_time)
                    .is_some_and(|at| now - at > chrono::Duration::days(days))
            })
            && (!self.duplicate || !row["duplicate_of"].is_null())
    }

    /// `rows` in this page's order: the index's (most urgent, then oldest) unless asked otherwise.
    fn sort(&self, rows: &mut [Value]) {
        let time = |row: &Value, field: &str| row[field].as_str().and_then(parse_time);
        match self.sort {
            QueueSort::Urgent => {}
            QueueSort::Oldest => rows.sort_by_key(|row| time(row, "requested_at")),
            QueueSort::Newest => {
                rows.sort_by_key(|row| std::cmp::Reverse(time(row, "requested_at")))
            }
            // Those with no expected date last.
            QueueSort::Expected => rows.sort_by_key(|row| {
                let at = time(row, "expected_at");
                (at.is_none(), at)
            }),
        }
    }

    /// The query pairs that keep these filters in a link.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(service) = &self.service {
            pairs.push(("service", service.clone()));
        }
        if self.overdue {
            pairs.push(("overdue", "1".into()));
        }
        if let Some(priority) = &self.priority {
            pairs.push(("priority", priority.clone()));
        }
        if let Some(area) = &self.area {
            pairs.push(("area", area.clone()));
        }
        if let Some(days) = self.older_than_days {
            pairs.push(("older_than", days.to_string()));
        }
        if self.duplicate {
            pairs.push(("duplicate", "1".into()));
        }
        if self.sort != QueueSort::Urgent {
            pairs.push(("sort", self.sort.as_str().into()));
        }
        pairs
    }
}

/// How many requests a queue page shows (and a printed work list holds).
const QUEUE_PAGE: u32 = 50;
const WORK_LIST: u32 = 100;

/// How many requests the queue's map holds: the most one read of the index gives.
const MAP_PAGE: u32 = 100;

pub async fn queue(
    State(admin): Shared,
    session: Session,
    Query(query): Query<QueueQuery>,
) -> Response {
    queue_page(&admin, &session, query, false).await
}

/// The queue's same filter drawn as a map: the city's areas as plain shapes (SVG, no script, no
/// tiles needed) and each request of the page read as a mark linking to its page.
pub async fn queue_map(
    State(admin): Shared,
    session: Session,
    Query(query): Query<QueueQuery>,
) -> Response {
    queue_page(&admin, &session, query, true).await
}

async fn queue_page(admin: &Admin, session: &Session, query: QueueQuery, map: bool) -> Response {
    let claims = &session.claims;
    let print = query.print.is_some() && !map;
    let mut context = base(admin, Some(session), "queue");
    let department = query
        .department
        .clone()
        .filter(|d| !d.is_empty())
        .or_else(|| claims.department.clone())
        .or_else(|| admin.city.departments.first().map(|d| d.id.clone()))
        .unwrap_or_default();
    let may_list = claims.may_list(&department);
    context.insert("may_list".into(), json!(may_list));
    if !may_list {
        return admin.views.page(StatusCode::OK, "queue.html", context);
    }
    let status = query
        .status
        .as_deref()
        .and_then(Status::parse)
        .unwrap_or(Status::Open);
    let mark = query.mark.as_deref().and_then(QueueMark::parse);
    let mut path = format!(
        "/staff/v1/queue?department={}&status={}&limit={}",
        encode(&department),
        status.as_str(),
        if map {
            MAP_PAGE
        } else if print {
            WORK_LIST
        } else {
            QUEUE_PAGE
        }
    );
    if let Some(mark) = mark {
        path.push_str(&format!("&mark={}", mark.as_str()));
    }
    if let Some(after) = query.after.as_deref().filter(|a| !a.is_empty()) {
        path.push_str(&format!("&after={}", encode(after)));
    }
    let page = match admin.api.get(claims, &path).await {
        Ok(page) => page,
        Err(refusal) => return refused_page(admin, session, refusal),
    };
    let now = admin.clock.now();
    let filters = PageFilters::of(&query);
    let all: Vec<Value> = page["requests"].as_array().cloned().unwrap_or_default();
    let mut rows: Vec<Value> = all
        .iter()
        .map(|r| queue_row(r, now))
        .filter(|row| filters.keeps(row, now))
        .collect();
    filters.sort(&mut rows);
    let filtered_out = all.len() - rows.len();
    if print {
        rows = walking_order(rows, admin.city.center.lat(), admin.city.center.long());
        context.insert("print".into(), json!(true));
        context.insert(
            "printed_at".into(),
            json!(now
                .with_timezone(&admin.city.timezone)
                .format("%Y-%m-%d %H:%M")
                .to_string()),
        );
    }
    // The links keep the filters; a cursor only ever comes from the page before.
    let mut kept = vec![
        ("department", department.clone()),
        ("status", status.as_str().to_string()),
    ];
    if let Some(mark) = mark {
        kept.push(("mark", mark.as_str().to_string()));
    }
    kept.extend(filters.pairs());
    let link_to = |base: &str, extra: &[(&str, String)]| {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                kept.iter()
                    .chain(extra.iter())
                    .map(|(k, v)| (*k, v.as_str())),
            )
            .finish();
        format!("{base}?{query}")
    };
    let here = if map {
        "/admin/queue/map"
    } else {
        "/admin/queue"
    };
    let link = |extra: &[(&str, String)]| link_to(here, extra);
    let next_link = page["next"]
        .as_str()
        .map(|next| link(&[("after", next.to_string())]));
    let first_link = query.after.as_ref().map(|_| link(&[]));
    let print_link = link_to("/admin/queue", &[("print", "1".into())]);
    // The same filter as a list and as a map (from the first page: the two read pages apart).
    context.insert("list_link".into(), json!(link_to("/admin/queue", &[])));
    context.insert("map_link".into(), json!(link_to("/admin/queue/map", &[])));
    context.insert("here".into(), json!(here));
    if map {
        let mut marked = 0;
        for row in rows.iter_mut() {
            let spot = row["lat"]
                .as_f64()
                .zip(row["long"].as_f64())
                .and_then(|(lat, long)| admin.map.place(lat, long));
            if let Some((x, y)) = spot {
                row["x"] = json!(x);
                row["y"] = json!(y);
                marked += 1;
            }
        }
        context.insert("map".into(), admin.map.view());
        context.insert("unplaced".into(), json!(rows.len() - marked));
        context.insert("marked".into(), json!(marked));
    }
    let departments: Vec<Value> = admin
        .city
        .departments
        .iter()
        .filter(|d| claims.may_list(&d.id))
        .map(|d| json!({ "id": d.id, "name": d.name }))
        .collect();
    let services: Vec<Value> = admin
        .city
        .services
        .iter()
        .map(|s| json!({ "code": s.code, "name": s.name }))
        .collect();
    context.extend([
        ("department".into(), json!(department)),
        (
            "department_name".into(),
            json!(admin.city.department(&department).map(|d| &d.name)),
        ),
        ("departments".into(), json!(departments)),
        ("status".into(), json!(status.as_str())),
        (
            "statuses".into(),
            json!(Status::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
        ),
        ("services".into(), json!(services)),
        ("service".into(), json!(filters.service)),
        ("overdue".into(), json!(filters.overdue)),
        ("priority".into(), json!(filters.priority)),
        ("priorities".into(), json!(cityfix_domain::Priority::ALL)),
        ("area".into(), json!(filters.area)),
        ("older_than".into(), json!(filters.older_than_days)),
        ("duplicate".into(), json!(filters.duplicate)),
        ("mark".into(), json!(mark.map(QueueMark::as_str))),
        ("sort".into(), json!(filters.sort.as_str())),
        (
            "members".into(),
            json!(admin
                .city
                .department(&department)
                .map(|d| d
                    .members
                    .iter()
                    .map(|m| json!({ "id": m.id, "name": m.name }))
                    .collect::<Vec<_>>())
                .unwrap_or_default()),
        ),
        (
            "may_assign".into(),
            json!(claims.may_act(Act::Work, Some(&department), false)),
        ),
        ("this_page".into(), json!(link(&[]))),
        ("idem".into(), json!(uuid::Uuid::new_v4().to_string())),
        ("rows".into(), json!(rows)),
        ("filtered_out".into(), json!(filtered_out)),
        ("next_link".into(), json!(next_link)),
        ("first_link".into(), json!(first_link)),
        ("print_link".into(), json!(print_link)),
    ]);
    admin.views.page(StatusCode::OK, "queue.html", context)
}

/// How many requests one bulk assignment may take: a queue page.
const BULK_MOST: usize = QUEUE_PAGE as usize;

/// The queue's bulk assignment: each request ticked (`request` = `<id>@<version>`) goes through the
/// same staff action as the request page's assignment, at the version the queue showed, once per
/// form (`idem`); the answer says what happened to each.
pub async fn assign_many(
    State(admin): Shared,
    session: Session,
    Form(fields): Form<Fields>,
) -> Response {
    if !session.form_is_genuine(&admin, field(&fields, "csrf")) {
        return forged(&admin, &session);
    }
    let unprocessable = |message: &str| {
        problem(
            &admin,
            Some(&session),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Nothing was assigned",
            message,
        )
    };
    let picked = all_of(&fields, "request");
    if picked.is_empty() {
        return unprocessable("Tick at least one request to assign.");
    }
    if picked.len() > BULK_MOST {
        return unprocessable(&format!("Assign at most {BULK_MOST} requests at once."));
    }
    let Some(assignee) = field(&fields, "assignee") else {
        return unprocessable("Choose whom to assign them to.");
    };
    let department = field(&fields, "department");
    let idem = field(&fields, "idem").unwrap_or_default();
    let mut results = Vec::with_capacity(picked.len());
    for pick in &picked {
        let (id, version) = match pick.split_once('@') {
            Some((id, version)) => (id, version.parse::<u64>().ok()),
            None => (pick.as_str(), None),
        };
        let outcome = match (TrackingNumber::parse(id), version) {
            (Ok(_), Some(version)) => {
                let body = json!({ "department": department, "assignee": assignee, "expected_version": version });
                let path = format!("/staff/v1/requests/{}/assignment", encode(id));
                let key = (!idem.is_empty()).then(|| format!("admin-{idem}-{id}"));
                admin
                    .api
                    .post(&session.claims, &path, &body, key.as_deref())
                    .await
                    .map(|_| ())
                    .map_err(|refusal| refusal.message)
            }
            _ => Err("not a request of the queue page".to_string()),
        };
        results.push(json!({
            "id": id.chars().take(20).collect::<String>(),
            "assigned": outcome.is_ok(),
            "message": outcome.err(),
        }));
    }
    let done = results.iter().filter(|r| r["assigned"] == true).count();
    let mut context = base(&admin, Some(&session), "queue");
    context.insert("results".into(), json!(results));
    context.insert("done".into(), json!(done));
    context.insert("back".into(), json!(safe_next(field(&fields, "back"))));
    let status = if done == 0 {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    admin.views.page(status, "assigned.html", context)
}

pub(crate) fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A row of the queue from a request as the staff routes give it.
fn queue_row(request: &Value, now: DateTime<Utc>) -> Value {
    let requested = request["requested_datetime"].as_str().and_then(parse_time);
    let expected = request["expected_datetime"].as_str();
    let overdue =
        expected.and_then(parse_time).is_some_and(|at| at < now) && request["status"] != "closed";
    json!({
        "id": request["service_request_id"],
        "service_code": request["service_code"],
        "service_name": request["service_name"],
        "description": request["description"].as_str().map(|d| d.chars().take(140).collect::<String>()),
        "address": request["address"],
        "neighbourhood": request["neighbourhood"],
        "lat": request["lat"],
        "long": request["long"],
        "priority": request["priority"],
        "duplicate_of": request["duplicate_of"],
        "duplicate_count": request["duplicates"],
        "reopened": request["reopened"],
        "areas": request["areas"],
        "version": request["version"],
        "assignee": request["assignee"],
        "requested_at": request["requested_datetime"],
        "expected_at": expected,
        "age": requested.map(|at| age(now - at)).unwrap_or_default(),
        "expected": expected.map(|e| e.get(..16).unwrap_or(e).replace('T', " ")),
        "overdue": overdue,
        "hidden": request["hidden"] == true,
    })
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// How long ago, as a crew says it: "40 min ago", "5 h ago", "3 days ago".
fn age(elapsed: chrono::Duration) -> String {
    let minutes = elapsed.num_minutes().max(0);
    match minutes {
        0..=59 => format!("{minutes} min ago"),
        60..=2879 => format!("{} h ago", minutes / 60),
        _ => format!("{} days ago", minutes / 1440),
    }
}

/// The stops of a work list in a walking order: from `start`, each time the nearest stop not yet
/// visited (a greedy route; good enough for a crew's day, and never longer than twice the best).
fn walking_order(mut rows: Vec<Value>, lat: f64, long: f64) -> Vec<Value> {
    let point = |row: &Value| {
        (
            row["lat"].as_f64().unwrap_or(lat),
            row["long"].as_f64().unwrap_or(long),
        )
    };
    let mut here = (lat, long);
    let mut ordered = Vec::with_capacity(rows.len());
    while !rows.is_empty() {
        let cos = here.0.to_radians().cos();
        let distance = |p: (f64, f64)| (p.0 - here.0).powi(2) + ((p.1 - here.1) * cos).powi(2);
        let nearest = (0..rows.len())
            .min_by(|&a, &b| distance(point(&rows[a])).total_cmp(&distance(point(&rows[b]))))
            .expect("rows is not empty");
        let row = rows.swap_remove(nearest);
        here = point(&row);
        ordered.push(row);
    }
    ordered
}

#[derive(Debug, Deserialize)]
pub struct LookupQuery {
    id: Option<String>,
}

pub async fn lookup(
    State(admin): Shared,
    session: Session,
    Query(query): Query<LookupQuery>,
) -> Response {
    match query.id.as_deref().map(TrackingNumber::parse) {
        Some(Ok(id)) => Redirect::to(&format!("/admin/requests/{id}")).into_response(),
        Some(Err(why)) => problem(
            &admin,
            Some(&session),
            StatusCode::BAD_REQUEST,
            "Not a tracking number",
            &why,
        ),
        None => Redirect::to("/admin/queue").into_response(),
    }
}

/// A page for a refusal of the staff routes.
pub(crate) fn refused_page(admin: &Admin, session: &Session, refusal: Refusal) -> Response {
    let title = match refusal.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not yours to see",
        _ => "That did not work",
    };
    problem(
        admin,
        Some(session),
        refusal.status,
        title,
        &refusal.message,
    )
}

// ───────────────────────────── a request ─────────────────────────────

#[derive(Debug, Deserialize)]
pub struct RequestQuery {
    done: Option<String>,
    /// A response template to fill a form with (no script needed): its id.
    response: Option<String>,
    /// Which form it fills: `note` or `transition`.
    #[serde(rename = "for")]
    for_form: Option<String>,
}

/// A response template picked for one of the request page's forms.
struct Wording<'a> {
    /// `note` or `transition`.
    form: &'a str,
    template: &'a cityfix_domain::ResponseTemplate,
}

pub async fn request(
    State(admin): Shared,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<RequestQuery>,
) -> Response {
    let flash = query.done.as_deref().map(done_message);
    let wording = query
        .response
        .as_deref()
        .and_then(|id| admin.city.response(id))
        .zip(
            query
                .for_form
                .as_deref()
                .filter(|f| matches!(*f, "note" | "transition")),
        )
        .map(|(template, form)| Wording { form, template });
    request_page(&admin, &session, &id, StatusCode::OK, flash, None, wording).await
}

fn done_message(action: &str) -> &'static str {
    match action {
        "transition" => "The status was changed.",
        "note" => "The note was added.",
        "assignment" => "The request was assigned.",
        "priority" => "The priority was set.",
        "expected" => "The expected date was set.",
        "referral" => "The request was forwarded to the agency.",
        "merge" => "The request was merged as a duplicate.",
        "unmerge" => "The request was unmerged.",
        "privacy" => "What the public sees of the photo was changed.",
        "visibility" => "What the public sees of the request was changed.",
        "description" => "The public description was changed.",
        _ => "Done.",
    }
}

/// The request page, with a message of what was just done or why it was refused.
async fn request_page(
    admin: &Admin,
    session: &Session,
    id: &str,
    status: StatusCode,
    flash: Option<&str>,
    error: Option<&str>,
    wording: Option<Wording<'_>>,
) -> Response {
    let claims = &session.claims;
    let path = format!("/staff/v1/requests/{}", encode(id));
    let view = match admin.api.get(claims, &path).await {
        Ok(view) => view,
        Err(refusal) => return refused_page(admin, session, refusal),
    };
    let mut context = base(admin, Some(session), "request");
    let case = view.get("version").is_some();
    let department = view["department"].as_str();
    let confidential = view["service_code"]
        .as_str()
        .and_then(|code| admin.city.service(code))
        .is_some_and(|s| s.confidential);
    let may_work = case && claims.may_act(Act::Work, department, confidential);
    let may_note = case && claims.may_act(Act::Annotate, department, confidential);
    let may_moderate = case && claims.may_act(Act::Moderate, department, confidential);
    let current = view["status"].as_str().and_then(Status::parse);
    let closed_as_duplicate = view["resolution"] == "duplicate";
    let legal_moves: Vec<&str> = match current {
        Some(current) if !closed_as_duplicate => current
            .legal_moves()
            .into_iter()
            .filter(|s| *s != Status::Archived)
            .map(|s| s.as_str())
            .collect(),
        _ => Vec::new(),
    };
    let resolutions: Vec<&str> = [
        Resolution::Fixed,
        Resolution::NoAction,
        Resolution::Cancelled,
    ]
    .iter()
    .map(|r| r.as_str())
    .collect();
    let photos = photos_of(&view);
    let answers = answers_of(admin, &view);
    let timeline: Vec<Value> = view["timeline"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|entry| {
                    let mut entry = entry.clone();
                    let links = media_links(&view, &entry["media"]);
                    entry["media"] = json!(links);
                    if entry.get("public").is_none() {
                        entry["public"] = json!(true);
                    }
                    entry
                })
                .collect()
        })
        .unwrap_or_default();
    let departments: Vec<Value> = admin
        .city
        .departments
        .iter()
        .map(|d| json!({ "id": d.id, "name": d.name, "members": d.members.iter().map(|m| json!({ "id": m.id, "name": m.name })).collect::<Vec<_>>() }))
        .collect();
    let agencies: Vec<Value> = admin
        .city
        .agencies
        .iter()
        .map(|a| json!({ "id": a.id, "name": a.name }))
        .collect();
    let assignee_name = view["assignee"].as_str().map(|sub| {
        admin
            .city
            .departments
            .iter()
            .find_map(|d| d.member(sub))
            .map_or(sub.to_string(), |m| m.name.clone())
    });
    let overdue = view["expected_datetime"]
        .as_str()
        .and_then(parse_time)
        .is_some_and(|at| at < admin.clock.now())
        && view["status"] != "closed";
    let audit = if claims.role == Role::Admin {
        admin
            .api
            .get(
                claims,
                &format!("/staff/v1/audit?request={}&limit=50", encode(id)),
            )
            .await
            .ok()
            .and_then(|a| a["records"].as_array().cloned())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    // The city's wording for this service: on a note for the status it is in, on a change for the
    // status it may move to.
    let service = view["service_code"].as_str().unwrap_or_default();
    let offered = |statuses: &[Status]| -> Vec<Value> {
        admin
            .city
            .responses
            .iter()
            .filter(|t| statuses.iter().any(|s| t.fits(service, *s)))
            .map(
                |t| json!({ "id": t.id, "title": t.title, "text": t.text, "statuses": t.statuses }),
            )
            .collect()
    };
    let moves: Vec<Status> = legal_moves
        .iter()
        .filter_map(|s| Status::parse(s))
        .collect();
    let note_responses = current.map(|c| offered(&[c])).unwrap_or_default();
    let move_responses = offered(&moves);
    let chosen = |form: &str, offered: &[Value]| {
        wording
            .as_ref()
            .filter(|w| w.form == form && offered.iter().any(|t| t["id"] == w.template.id.as_str()))
            .map(|w| w.template)
    };
    let note_wording = chosen("note", &note_responses);
    let move_wording = chosen("transition", &move_responses);
    let chosen_to = move_wording.and_then(|t| {
        moves
            .iter()
            .find(|s| t.statuses.is_empty() || t.statuses.contains(s))
            .map(|s| s.as_str())
    });
    context.extend([
        ("note_responses".into(), json!(note_responses)),
        ("move_responses".into(), json!(move_responses)),
        (
            "note_wording".into(),
            json!(note_wording.map(|t| (&t.id, &t.text))),
        ),
        (
            "move_wording".into(),
            json!(move_wording.map(|t| (&t.id, &t.text))),
        ),
        ("chosen_to".into(), json!(chosen_to)),
    ]);
    context.extend([
        ("r".into(), view.clone()),
        ("case".into(), json!(case)),
        ("may_work".into(), json!(may_work)),
        ("may_note".into(), json!(may_note)),
        ("may_moderate".into(), json!(may_moderate)),
        ("legal_moves".into(), json!(legal_moves)),
        ("resolutions".into(), json!(resolutions)),
        (
            "priorities".into(),
            json!(cityfix_domain::Priority::ALL
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()),
        ),
        ("photos".into(), json!(photos)),
        ("answers".into(), json!(answers)),
        ("timeline".into(), json!(timeline)),
        ("departments".into(), json!(departments)),
        ("agencies".into(), json!(agencies)),
        (
            "department_name".into(),
            json!(department
                .and_then(|d| admin.city.department(d))
                .map(|d| &d.name)),
        ),
        (
            "agency_name".into(),
            json!(view["agency"]
                .as_str()
                .and_then(|a| admin.city.agency(a))
                .map(|a| &a.name)),
        ),
        ("assignee_name".into(), json!(assignee_name)),
        ("overdue".into(), json!(overdue)),
        ("audit".into(), json!(audit)),
        ("timezone".into(), json!(admin.city.timezone.name())),
        ("idem".into(), json!(uuid::Uuid::new_v4().to_string())),
    ]);
    context.insert("flash".into(), json!(flash));
    context.insert("error".into(), json!(error));
    admin.views.page(status, "request.html", context)
}

/// The version a request stands at, for the page's script: a photo attached from a form moves the
/// request on, and the form then acts on the version that includes it.
pub async fn version(State(admin): Shared, session: Session, Path(id): Path<String>) -> Response {
    let path = format!("/staff/v1/requests/{}", encode(&id));
    match admin.api.get(&session.claims, &path).await {
        Ok(view) => Json(json!({ "version": view["version"] })).into_response(),
        Err(refusal) => (
            refusal.status,
            Json(json!({ "error": { "message": refusal.message } })),
        )
            .into_response(),
    }
}

/// The service's questions and the reporter's answers, in words (a list value by its name).
fn answers_of(admin: &Admin, view: &Value) -> Vec<Value> {
    let service = view["service_code"]
        .as_str()
        .and_then(|code| admin.city.service(code));
    let Some(answers) = view["attributes"].as_object() else {
        return Vec::new();
    };
    answers
        .iter()
        .map(|(code, value)| {
            let attribute = service.and_then(|s| s.attributes.iter().find(|a| &a.code == code));
            let name_of = |key: &Value| {
                let key = key.as_str().map(str::to_string).unwrap_or_else(|| key.to_string());
                attribute
                    .and_then(|a| a.values.iter().find(|v| v.key == key))
                    .map_or(key, |v| v.name.clone())
            };
            let value = match value {
                Value::Array(values) => values.iter().map(name_of).collect::<Vec<_>>().join(", "),
                other => name_of(other),
            };
            json!({ "label": attribute.map_or(code.as_str(), |a| a.description.as_str()), "value": value })
        })
        .collect()
}

/// The staff links of stored media keys (`originals/<request>/<file>` and the like): through the
/// staff read, so staff see a photo kept private, and those of a hidden request.
fn media_links(view: &Value, media: &Value) -> Vec<String> {
    let id = view["service_request_id"].as_str().unwrap_or_default();
    media
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|key| {
            if key.starts_with('/') || key.starts_with("http") {
                key.to_string()
            } else {
                let file = key.rsplit('/').next().unwrap_or(key);
                format!("/admin/requests/{id}/media/{}", encode(file))
            }
        })
        .collect()
}

/// A photo or video of a request as staff read it (`GET /staff/v1/requests/{id}/media/{file}`):
/// a redirect to its short-lived link, or the staff route's refusal.
pub async fn media_file(
    State(admin): Shared,
    session: Session,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    let path = format!("/staff/v1/requests/{}/media/{}", encode(&id), encode(&file));
    match admin.api.location(&session.claims, &path).await {
        Ok(link) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, link),
                (header::CACHE_CONTROL, "no-store".to_string()),
            ],
        )
            .into_response(),
        Err(refusal) => (refusal.status, refusal.message).into_response(),
    }
}

/// Every photo of a request: the report's and those of its timeline, once each.
fn photos_of(view: &Value) -> Vec<Value> {
    let mut seen = Vec::new();
    let entries = view["timeline"].as_array().cloned().unwrap_or_default();
    for entry in &entries {
        for link in media_links(view, &entry["media"]) {
            if !seen.contains(&link) {
                seen.push(link);
            }
        }
    }
    let private = &view["private_media"];
    seen.into_iter()
        .map(|url| {
            let file = url.rsplit('/').next().unwrap_or_default().to_string();
            let kept_private = private
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .any(|key| key.rsplit('/').next() == Some(file.as_str()));
            let media_id = file
                .rsplit_once('.')
                .map_or(file.as_str(), |(stem, _)| stem);
            json!({ "url": url, "media_id": media_id, "private": kept_private })
        })
        .collect()
}

/// The fields of a posted form, any repeated (`media`).
pub(crate) type Fields = Vec<(String, String)>;

pub(crate) fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

fn all_of(fields: &Fields, name: &str) -> Vec<String> {
    fields
        .iter()
        .filter(|(key, value)| key == name && !value.trim().is_empty())
        .map(|(_, value)| value.trim().to_string())
        .collect()
}

/// The action a request page's form takes, as the body of its staff route.
fn action_body(admin: &Admin, action: &str, fields: &Fields) -> Result<(String, Value), String> {
    let version = field(fields, "version").and_then(|v| v.parse::<u64>().ok());
    let public = field(fields, "public").is_some();
    let body = match action {
        "transition" => json!({
            "to": field(fields, "to").ok_or("choose the new status")?,
            "resolution": field(fields, "resolution"),
            "note": field(fields, "note"),
            "public": public,
            "expected_version": version,
            "media": all_of(fields, "media"),
        }),
        "note" => json!({
            "text": field(fields, "text").ok_or("write the note")?,
            "public": public,
            "media": all_of(fields, "media"),
        }),
        "assignment" => json!({
            "department": field(fields, "department"),
            "assignee": field(fields, "assignee"),
            "note": field(fields, "note"),
            "expected_version": version,
        }),
        "priority" => json!({
            "priority": field(fields, "priority").ok_or("choose a priority")?,
            "reason": field(fields, "reason").ok_or("say why")?,
            "expected_version": version,
        }),
        "expected" => json!({
            "expected_datetime": city_datetime(admin, field(fields, "expected").ok_or("choose a date")?)?,
            "reason": field(fields, "reason").ok_or("say why")?,
            "expected_version": version,
        }),
        "referral" => json!({
            "agency": field(fields, "agency").ok_or("choose the agency")?,
            "note": field(fields, "note"),
        }),
        "merge" => {
            json!({ "into": field(fields, "into").ok_or("give the number of the original request")? })
        }
        "unmerge" => json!({}),
        "privacy" => json!({
            "private": field(fields, "private") == Some("true"),
            "reason": field(fields, "reason").ok_or("say why")?,
        }),
        "visibility" => json!({
            "hidden": field(fields, "hidden") == Some("true"),
            "reason": field(fields, "reason").ok_or("say why")?,
            "expected_version": version,
        }),
        "description" if field(fields, "restore").is_some() => json!({
            "restore_original": true,
            "reason": field(fields, "reason").ok_or("say why")?,
            "expected_version": version,
        }),
        "description" => json!({
            "description": field(fields, "description").ok_or("write the description the public reads")?,
            "reason": field(fields, "reason").ok_or("say why")?,
            "expected_version": version,
        }),
        _ => {
            return Err(format!(
                "there is no action `{}`",
                action.chars().take(30).collect::<String>()
            ))
        }
    };
    let route = match action {
        "transition" => "transitions".to_string(),
        "note" => "notes".to_string(),
        "privacy" => format!(
            "media/{}/privacy",
            encode(field(fields, "media").ok_or("choose the photo")?)
        ),
        other => other.to_string(),
    };
    Ok((route, body))
}

/// A `datetime-local` value read in the city's time zone, as RFC 3339.
fn city_datetime(admin: &Admin, local: &str) -> Result<String, String> {
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| {
            format!(
                "`{}` is not a date and time",
                local.chars().take(30).collect::<String>()
            )
        })?;
    admin
        .city
        .timezone
        .from_local_datetime(&naive)
        .earliest()
        .map(|at| at.to_rfc3339())
        .ok_or_else(|| {
            "that time does not exist in the city's time zone (a clock change)".to_string()
        })
}

/// A form of the request page: checked for its CSRF token, taken through the staff route, then
/// back to the page saying what happened.
pub async fn act(
    State(admin): Shared,
    session: Session,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> Response {
    let csrf = field(&fields, "csrf")
        .or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok()));
    if !session.form_is_genuine(&admin, csrf) {
        return forged(&admin, &session);
    }
    if action == "media-form" {
        return media_form(&admin, &session, &id, &fields).await;
    }
    let (route, body) = match action_body(&admin, &action, &fields) {
        Ok(done) => done,
        Err(why) => {
            return request_page(
                &admin,
                &session,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(&why),
                None,
            )
            .await
        }
    };
    let path = format!("/staff/v1/requests/{}/{route}", encode(&id));
    let key = field(&fields, "idem").map(|idem| format!("admin-{idem}"));
    match admin
        .api
        .post(&session.claims, &path, &body, key.as_deref())
        .await
    {
        Ok(_) => {
            Redirect::to(&format!("/admin/requests/{}?done={action}", encode(&id))).into_response()
        }
        Err(refusal) => {
            request_page(
                &admin,
                &session,
                &id,
                refusal.status,
                None,
                Some(&refusal.message),
                None,
            )
            .await
        }
    }
}

/// An upload form for a photo of the work, for the page's script (JSON in, JSON out).
async fn media_form(admin: &Admin, session: &Session, id: &str, fields: &Fields) -> Response {
    let body = json!({
        "content_type": field(fields, "content_type").unwrap_or_default(),
        "size": field(fields, "size").and_then(|s| s.parse::<u64>().ok()).unwrap_or(0),
    });
    let path = format!("/staff/v1/requests/{}/media", encode(id));
    match admin.api.post(&session.claims, &path, &body, None).await {
        Ok(form) => Json(form).into_response(),
        Err(refusal) => (
            refusal.status,
            Json(json!({ "error": { "message": refusal.message } })),
        )
            .into_response(),
    }
}

// ───────────────────────────── phone intake ─────────────────────────────

/// Who takes calls: everyone but ethics officers, whose work is their own queue.
fn takes_calls(claims: &StaffClaims) -> bool {
    claims.role != Role::Ethics
}

#[derive(Debug, Deserialize)]
pub struct IntakeQuery {
    service_code: Option<String>,
}

/// Phone intake in two steps that need no script: the service first, then its questions.
pub async fn intake_page(
    State(admin): Shared,
    session: Session,
    Query(query): Query<IntakeQuery>,
) -> Response {
    let form: BTreeMap<String, String> = query
        .service_code
        .into_iter()
        .map(|code| ("service_code".to_string(), code))
        .collect();
    intake_form(&admin, &session, StatusCode::OK, &form, Outcome::None, None)
}

/// What the intake page shows above its form, besides an error.
enum Outcome {
    None,
    /// A report was filed: its number to read out.
    Filed(Value),
    /// The caller now follows an open request: its number to read out.
    Followed(Value),
    /// The open requests of the service near the caller's address, to follow instead of filing.
    Nearby(Value),
}

fn intake_form(
    admin: &Admin,
    session: &Session,
    status: StatusCode,
    form: &BTreeMap<String, String>,
    outcome: Outcome,
    error: Option<&str>,
) -> Response {
    if !takes_calls(&session.claims) {
        return problem(
            admin,
            Some(session),
            StatusCode::FORBIDDEN,
            "Not for this role",
            "Ethics officers do not take phone reports.",
        );
    }
    let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for service in admin.city.services.iter().filter(|s| !s.confidential) {
        groups
            .entry(service.group.clone())
            .or_default()
            .push(json!({ "code": service.code, "name": service.name }));
    }
    let service = form
        .get("service_code")
        .and_then(|code| admin.city.service(code))
        .filter(|s| !s.confidential)
        .map(cityfix_http::api::service_view);
    let mut context = base(admin, Some(session), "intake");
    context.extend([
        ("groups".into(), json!(groups)),
        ("service".into(), json!(service)),
        ("form".into(), json!(form)),
        ("timezone".into(), json!(admin.city.timezone.name())),
        ("idem".into(), json!(uuid::Uuid::new_v4().to_string())),
    ]);
    match outcome {
        Outcome::None => {}
        Outcome::Filed(filed) => {
            context.insert("filed".into(), filed);
        }
        Outcome::Followed(followed) => {
            context.insert("followed".into(), followed);
        }
        Outcome::Nearby(nearby) => {
            context.insert("nearby".into(), nearby);
        }
    }
    context.insert("error".into(), json!(error));
    admin.views.page(status, "intake.html", context)
}

/// The channel of reports a call-taker files (and of the callers they add as followers).
pub use cityfix_app::follow::PHONE_CHANNEL;

/// The prefix of an attribute's form field: `attribute.<code>`.
const ATTRIBUTE: &str = "attribute.";

/// The service's answers of a posted intake form, a list attribute's several values together.
fn attributes_of(admin: &Admin, fields: &Fields) -> BTreeMap<String, RawAttribute> {
    let mut answers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in fields {
        if let Some(code) = name.strip_prefix(ATTRIBUTE) {
            if !value.trim().is_empty() {
                answers
                    .entry(code.to_string())
                    .or_default()
                    .push(value.trim().to_string());
            }
        }
    }
    let service = field(fields, "service_code").and_then(|code| admin.city.service(code));
    answers
        .into_iter()
        .map(|(code, mut values)| {
            let attribute = service.and_then(|s| s.attributes.iter().find(|a| a.code == code));
            let raw = match attribute.map(|a| a.datatype) {
                Some(Datatype::Multivaluelist) => RawAttribute::Many(values),
                Some(Datatype::Datetime) => {
                    let value = values.swap_remove(0);
                    RawAttribute::One(city_datetime(admin, &value).unwrap_or(value))
                }
                _ => RawAttribute::One(values.swap_remove(0)),
            };
            (code, raw)
        })
        .collect()
}

/// A form's fields as the page shows them again, the first value of each name, without `skip`.
fn kept_fields(fields: &Fields, skip: &[&str]) -> BTreeMap<String, String> {
    let mut kept = BTreeMap::new();
    for (name, value) in fields {
        if !skip.contains(&name.as_str()) {
            kept.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    kept
}

pub async fn intake(
    State(admin): Shared,
    session: Session,
    Form(fields): Form<Fields>,
) -> Response {
    if !session.form_is_genuine(&admin, field(&fields, "csrf")) {
        return forged(&admin, &session);
    }
    let mut kept = kept_fields(&fields, &["csrf"]);
    if !takes_calls(&session.claims) {
        return intake_form(
            &admin,
            &session,
            StatusCode::FORBIDDEN,
            &kept,
            Outcome::None,
            None,
        );
    }
    if field(&fields, "step") == Some("check") {
        return nearby_step(&admin, &session, &fields, &kept).await;
    }
    kept.remove("step");
    let text = |name: &str| field(&fields, name).map(str::to_string);
    let form = ReportForm {
        service_code: text("service_code"),
        address_string: text("address"),
        description: text("description"),
        attributes: attributes_of(&admin, &fields),
        contact: Contact {
            first_name: text("first_name"),
            last_name: text("last_name"),
            phone: text("phone"),
            email: text("email"),
            ..Contact::default()
        },
        ..ReportForm::default()
    };
    let asked: Vec<&(String, String)> = fields.iter().filter(|(name, _)| name != "csrf").collect();
    let fingerprint =
        cityfix_domain::text::fingerprint(&serde_json::to_string(&asked).unwrap_or_default());
    let submission = Submission {
        form,
        channel: PHONE_CHANNEL.into(),
        idempotency_key: text("idem").map(|idem| format!("{}:{idem}", session.claims.sub)),
        fingerprint,
    };
    match submit(&admin.intake, submission).await {
        Ok(submitted) => {
            let request = &submitted.request;
            tracing::info!(request_id = %request.id, by = %session.claims.sub, "phone report filed");
            let filed = json!({
                "id": request.id.as_str(),
                "phonetic": phonetic(request.id.as_str()),
                "service_name": request.service_name,
                "address": request.address,
            });
            intake_form(
                &admin,
                &session,
                StatusCode::CREATED,
                &BTreeMap::new(),
                Outcome::Filed(filed),
                None,
            )
        }
        Err(SubmitError::Invalid(invalid)) => intake_form(
            &admin,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            &kept,
            Outcome::None,
            Some(&invalid.to_string()),
        ),
        Err(SubmitError::KeyReused) => intake_form(
            &admin,
            &session,
            StatusCode::CONFLICT,
            &kept,
            Outcome::None,
            Some("This form was already sent with other details; start a new report."),
        ),
        Err(SubmitError::Unavailable(why)) => {
            tracing::error!(%why, "a phone report could not be stored");
            let reason = if matches!(why, PortError::CannotWrite(_)) {
                "The report could not be stored: the server's storage is full or read-only, so \
                 nothing can be saved until an operator makes room. Nothing was saved; take the \
                 caller's details on paper and enter them when this page saves again."
            } else {
                "The report could not be stored just now; try again in a moment."
            };
            intake_form(
                &admin,
                &session,
                StatusCode::SERVICE_UNAVAILABLE,
                &kept,
                Outcome::None,
                Some(reason),
            )
        }
    }
}

/// How far from the caller's address open reports of the same service are offered: about a block,
/// wider than the router's duplicate radius, since a typed address is the nearest door and not
/// the spot itself.
pub const SUGGEST_WITHIN_M: f64 = 150.0;

/// The most suggestions shown, nearest first.
const SUGGESTIONS: usize = 10;

/// The second step of phone intake: with the service and the caller's address given, the open
/// reports of that service near it (the nearby search of the resident site, confidential and
/// hidden ones left out, duplicates left out for their originals), each with "add the caller as
/// a follower instead". The form keeps everything typed.
async fn nearby_step(
    admin: &Admin,
    session: &Session,
    fields: &Fields,
    kept: &BTreeMap<String, String>,
) -> Response {
    let again = |status: StatusCode, error: &str| {
        intake_form(admin, session, status, kept, Outcome::None, Some(error))
    };
    let Some(service) = field(fields, "service_code")
        .and_then(|code| admin.city.service(code))
        .filter(|s| !s.confidential)
    else {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose the problem first.",
        );
    };
    let Some(typed) = field(fields, "address") else {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Give the address to look for reports near it.",
        );
    };
    let (location, address) = match admin.intake.geocoder.locate(typed).await {
        Ok(cityfix_domain::Lookup::Found { location, address }) => (location, address),
        Ok(cityfix_domain::Lookup::NotFound { suggestions }) => {
            let short: String = typed.chars().take(80).collect();
            let message = if suggestions.is_empty() {
                format!("`{short}` is not an address {} knows.", admin.city.name)
            } else {
                format!(
                    "`{short}` is not an address {} knows; did you mean {}?",
                    admin.city.name,
                    suggestions.join(", or ")
                )
            };
            return again(StatusCode::UNPROCESSABLE_ENTITY, &message);
        }
        Err(why) => {
            tracing::error!(%why, "the address book could not be read");
            return again(
                StatusCode::SERVICE_UNAVAILABLE,
                "Addresses cannot be looked up just now; try again in a moment.",
            );
        }
    };
    let search = Search {
        service_codes: vec![service.code.clone()],
        statuses: vec![Status::Submitted, Status::Open, Status::InProgress],
        near: Some(Near {
            location,
            radius_m: SUGGEST_WITHIN_M,
        }),
        without_hidden: true,
        without_service_codes: cityfix_app::updates::confidential_services(&admin.city),
        page: 1,
        page_size: 50,
        ..Search::default()
    };
    let found = match admin.intake.store.search(&search).await {
        Ok(found) => found,
        Err(why) => {
            tracing::error!(%why, "nearby reports could not be read");
            return again(
                StatusCode::SERVICE_UNAVAILABLE,
                "Reports nearby cannot be read just now; file the report, or try again in a moment.",
            );
        }
    };
    let here = location.to_point();
    let now = admin.clock.now();
    let mut found: Vec<(f64, &ServiceRequest)> = found
        .iter()
        .filter(|r| r.duplicate_of.is_none() && r.service_code == service.code)
        .map(|r| (distance_m(here, r.location.to_point()), r))
        .collect();
    found.sort_by(|a, b| a.0.total_cmp(&b.0));
    let requests: Vec<Value> = found
        .into_iter()
        .take(SUGGESTIONS)
        .map(|(distance, r)| {
            json!({
                "id": r.id.as_str(),
                "address": r.address,
                "distance_m": distance.round(),
                "description": r.description.as_deref().map(|d| d.chars().take(140).collect::<String>()),
                "status": r.status.as_str().replace('_', " "),
                "age": age(now - r.requested_at),
                "supporters": r.supporters,
            })
        })
        .collect();
    let mut kept = kept.clone();
    kept.remove("step");
    kept.insert("address".into(), address.clone());
    let nearby = json!({
        "address": address,
        "within_m": SUGGEST_WITHIN_M,
        "service_name": service.name,
        "requests": requests,
    });
    intake_form(
        admin,
        session,
        StatusCode::OK,
        &kept,
        Outcome::Nearby(nearby),
        None,
    )
}

/// "Add the caller as a follower instead": the caller is recorded on the open request the
/// call-taker chose (`follow`), never a new report. They count once as "me too" (by their contact,
/// else by this form), and, with a phone or e-mail, follow it at once with the channel `phone`;
/// the page then shows the request's number to read out, as a new report's.
pub async fn intake_follow(
    State(admin): Shared,
    session: Session,
    Form(fields): Form<Fields>,
) -> Response {
    if !session.form_is_genuine(&admin, field(&fields, "csrf")) {
        return forged(&admin, &session);
    }
    let kept = kept_fields(&fields, &["csrf", "follow", "step"]);
    let again = |status: StatusCode, error: &str| {
        intake_form(&admin, &session, status, &kept, Outcome::None, Some(error))
    };
    if !takes_calls(&session.claims) {
        return again(
            StatusCode::FORBIDDEN,
            "Ethics officers do not take phone reports.",
        );
    }
    let Some(id) = field(&fields, "follow").and_then(|id| TrackingNumber::parse(id).ok()) else {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose the open request the caller follows.",
        );
    };
    let text = |name: &str| field(&fields, name).map(str::to_string);
    let contact = match check_contact(
        Contact {
            first_name: text("first_name"),
            last_name: text("last_name"),
            phone: text("phone"),
            email: text("email"),
            ..Contact::default()
        },
        admin.city.country_calling_code,
    ) {
        Ok(contact) => contact,
        Err(invalid) => return again(StatusCode::UNPROCESSABLE_ENTITY, &invalid.to_string()),
    };
    let store = admin.intake.store.as_ref();
    let request = match store.get(&id).await {
        Ok(Some(request)) => request,
        Ok(None) => return again(StatusCode::NOT_FOUND, &format!("There is no request {id}.")),
        Err(why) => {
            tracing::error!(%why, "a request to follow could not be read");
            return again(
                StatusCode::SERVICE_UNAVAILABLE,
                "The request cannot be read just now; try again in a moment.",
            );
        }
    };
    if admin
        .city
        .service(&request.service_code)
        .is_some_and(|s| s.confidential)
    {
        // As the staff routes answer anyone but ethics: it does not exist.
        return again(StatusCode::NOT_FOUND, &format!("There is no request {id}."));
    }
    let reachable = contact.email.is_some() || contact.phone.is_some();
    if reachable {
        if let Err(refused) = follow_for_caller(
            store,
            admin.intake.queue.as_ref(),
            &admin.city,
            &request,
            contact.clone(),
        )
        .await
        {
            let status = match refused {
                FollowRefused::Port(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::CONFLICT,
            };
            return again(status, &format!("The caller was not added: {refused}."));
        }
    } else if !matches!(
        request.status,
        Status::Submitted | Status::Open | Status::InProgress
    ) {
        return again(
            StatusCode::CONFLICT,
            &format!(
                "{id} is {}; only a report still being worked can be followed.",
                request.status
            ),
        );
    }
    // "Me too", once per caller: by their contact, else by this form (a double click is one).
    let who = contact
        .email
        .clone()
        .or_else(|| {
            contact.phone.as_deref().map(|p| {
                to_e164(p, admin.city.country_calling_code).unwrap_or_else(|| p.to_string())
            })
        })
        .map(|who| who.to_lowercase())
        .unwrap_or_else(|| {
            format!(
                "phone-form/{}/{}",
                session.claims.sub,
                field(&fields, "idem").unwrap_or_default()
            )
        });
    let person = cityfix_domain::text::fingerprint(&format!("{}\u{1f}{who}", request.id));
    let command = StatusCommand::Work(WorkCommand {
        request_id: request.id.clone(),
        decision_id: format!("support-{}", &person[..24]),
        by: Actor {
            id: session.claims.sub.clone(),
            name: session.claims.name.clone(),
            role: role_id(session.claims.role).into(),
        },
        expected_version: None,
        action: WorkAction::Support,
    });
    let body = serde_json::to_string(&command).expect("a command serialises");
    if let Err(why) = admin.intake.queue.send(QueueName::Status, &body).await {
        tracing::error!(%why, "a caller's me-too could not be queued");
        return again(
            StatusCode::SERVICE_UNAVAILABLE,
            "The caller could not be recorded just now; try again in a moment.",
        );
    }
    tracing::info!(request_id = %request.id, by = %session.claims.sub, follows = reachable, "a caller was added to an open request");
    let followed = json!({
        "id": request.id.as_str(),
        "phonetic": phonetic(request.id.as_str()),
        "service_name": request.service_name,
        "address": request.address,
        "follows": reachable,
    });
    intake_form(
        &admin,
        &session,
        StatusCode::OK,
        &BTreeMap::new(),
        Outcome::Followed(followed),
        None,
    )
}

/// A tracking number as it is read over the phone: letters in the ICAO spelling alphabet, digits
/// as words, a pause at the dash (`7K3M-9QZ2` → "seven, Kilo, three, Mike — nine, Quebec, Zulu,
/// two").
pub fn phonetic(number: &str) -> String {
    const LETTERS: [&str; 26] = [
        "Alfa", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India",
        "Juliett", "Kilo", "Lima", "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo",
        "Sierra", "Tango", "Uniform", "Victor", "Whiskey", "X-ray", "Yankee", "Zulu",
    ];
    const DIGITS: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    number
        .split('-')
        .map(|group| {
            group
                .chars()
                .filter_map(|c| match c.to_ascii_uppercase() {
                    d @ '0'..='9' => Some(DIGITS[(d as u8 - b'0') as usize]),
                    l @ 'A'..='Z' => Some(LETTERS[(l as u8 - b'A') as usize]),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect::<Vec<_>>()
        .join(" — ")
}

// ───────────────────────────── backlogs ─────────────────────────────

fn oversees(claims: &StaffClaims) -> bool {
    matches!(claims.role, Role::Supervisor | Role::Admin)
}

pub async fn backlogs(State(admin): Shared, session: Session) -> Response {
    backlogs_page(&admin, &session, StatusCode::OK, None).await
}

async fn backlogs_page(
    admin: &Admin,
    session: &Session,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let listed = match admin.api.get(&session.claims, "/staff/v1/backlogs").await {
        Ok(listed) => listed,
        Err(refusal) => return refused_page(admin, session, refusal),
    };
    let backlogs: Vec<Value> = listed["backlogs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut b| {
            let name = b["service_code"]
                .as_str()
                .and_then(|c| admin.city.service(c))
                .map(|s| s.name.clone());
            b["service_name"] =
                json!(name.or_else(|| b["service_code"].as_str().map(str::to_string)));
            b
        })
        .collect();
    let services: Vec<Value> = admin
        .city
        .services
        .iter()
        .filter(|s| !s.confidential)
        .map(|s| json!({ "code": s.code, "name": s.name }))
        .collect();
    let areas: Vec<String> = admin
        .city
        .places
        .layers
        .first()
        .map(|layer| {
            (0..layer.index.len())
                .map(|i| layer.index.name(i).to_string())
                .collect()
        })
        .unwrap_or_default();
    let mut context = base(admin, Some(session), "backlogs");
    context.extend([
        ("backlogs".into(), json!(backlogs)),
        ("services".into(), json!(services)),
        ("areas".into(), json!(areas)),
        ("may_declare".into(), json!(oversees(&session.claims))),
        ("timezone".into(), json!(admin.city.timezone.name())),
    ]);
    context.insert("error".into(), json!(error));
    admin.views.page(status, "backlogs.html", context)
}

pub async fn declare_backlog(
    State(admin): Shared,
    session: Session,
    Form(fields): Form<Fields>,
) -> Response {
    if !session.form_is_genuine(&admin, field(&fields, "csrf")) {
        return forged(&admin, &session);
    }
    let body = (|| -> Result<Value, String> {
        Ok(json!({
            "service_code": field(&fields, "service_code").ok_or("choose the service")?,
            "area": field(&fields, "area"),
            "expected": city_datetime(&admin, field(&fields, "expected").ok_or("choose the date")?)?,
            "message": field(&fields, "message").ok_or("say what residents are told")?,
        }))
    })();
    let body = match body {
        Ok(body) => body,
        Err(why) => {
            return backlogs_page(
                &admin,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&why),
            )
            .await
        }
    };
    match admin
        .api
        .post(&session.claims, "/staff/v1/backlogs", &body, None)
        .await
    {
        Ok(_) => Redirect::to("/admin/backlogs").into_response(),
        Err(refusal) => {
            backlogs_page(&admin, &session, refusal.status, Some(&refusal.message)).await
        }
    }
}

pub async fn lift_backlog(
    State(admin): Shared,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if !session.form_is_genuine(&admin, form.csrf.as_deref()) {
        return forged(&admin, &session);
    }
    match admin
        .api
        .delete(
            &session.claims,
            &format!("/staff/v1/backlogs/{}", encode(&id)),
        )
        .await
    {
        Ok(_) => Redirect::to("/admin/backlogs").into_response(),
        Err(refusal) => {
            backlogs_page(&admin, &session, refusal.status, Some(&refusal.message)).await
        }
    }
}

// ───────────────────────────── audit ─────────────────────────────

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    request: Option<String>,
    actor: Option<String>,
}

pub async fn audit(
    State(admin): Shared,
    session: Session,
    Query(query): Query<AuditQuery>,
) -> Response {
    let mut path = "/staff/v1/audit?limit=200".to_string();
    for (name, value) in [("request", &query.request), ("actor", &query.actor)] {
        if let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            path.push_str(&format!("&{name}={}", encode(value)));
        }
    }
    let listed = match admin.api.get(&session.claims, &path).await {
        Ok(listed) => listed,
        Err(refusal) => return refused_page(&admin, &session, refusal),
    };
    let mut context = base(&admin, Some(&session), "audit");
    context.extend([
        ("records".into(), listed["records"].clone()),
        (
            "filter".into(),
            json!({ "request": query.request, "actor": query.actor }),
        ),
    ]);
    admin.views.page(StatusCode::OK, "audit.html", context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_read_out_in_the_spelling_alphabet() {
        assert_eq!(
            phonetic("7K3M-9QZ2"),
            "seven, Kilo, three, Mike — nine, Quebec, Zulu, two"
        );
    }

    #[test]
    fn a_work_list_visits_the_nearest_stop_next() {
        let stop = |id: &str, lat: f64, long: f64| json!({ "id": id, "lat": lat, "long": long });
        let rows = vec![
            stop("far", 41.80, -72.70),
            stop("near", 41.765, -72.675),
            stop("middle", 41.78, -72.69),
        ];
        let ordered: Vec<String> = walking_order(rows, 41.7637, -72.6851)
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ordered, ["near", "middle", "far"]);
    }

    #[test]
    fn ages_read_as_a_crew_says_them() {
        assert_eq!(age(chrono::Duration::minutes(40)), "40 min ago");
        assert_eq!(age(chrono::Duration::hours(5)), "5 h ago");
        assert_eq!(age(chrono::Duration::days(3)), "3 days ago");
    }
}
