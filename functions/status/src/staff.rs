//! Staff over HTTP: read a request and a department's queue as the read policy allows
//! (docs/staff-access.md); work a request (transitions, assignment, notes, priority, expected
//! date, referral), merge a report into another of the same problem and unmerge it; read the
//! audit log. Every change is checked for role and department here and applied once per
//! Idempotency-Key.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use cityfix_app::messages::StatusCommand;
use cityfix_app::ports::{AuditQuery, IdempotencyClaim, MetricsStore, QueueMark};
use cityfix_app::transition::{apply, Applied, Rejection, StatusDeps};
use cityfix_app::work::{Actor, WorkAction, WorkCommand};
use cityfix_app::AppError;
use cityfix_domain::text::echo;
use cityfix_domain::text::fingerprint;
use cityfix_domain::work::illegal_move_message;
use cityfix_domain::{ServiceRequest, Status, TrackingNumber};
use cityfix_http::api::{request_view, stored_request, ApiError};
use cityfix_http::auth::{claims_from_authorizer, Act, Reading, Role, StaffClaims, StaffSignIn};
use cityfix_http::city_time;
use cityfix_http::json::read_json;
use lambda_http::request::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

/// What the staff handlers share.
pub struct Staff {
    pub deps: StatusDeps,
    /// The metrics' counters, read by `GET /staff/v1/metrics`.
    pub metrics: Arc<dyn MetricsStore>,
    pub sign_in: StaffSignIn,
}

type Shared = State<Arc<Staff>>;

/// The staff member making a call: 401 without a valid sign-in.
pub(crate) struct SignedIn(pub(crate) StaffClaims);

impl FromRequestParts<Arc<Staff>> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, staff: &Arc<Staff>) -> Result<Self, ApiError> {
        let now = u64::try_from(staff.deps.clock.now().timestamp()).unwrap_or(0);
        match &staff.sign_in {
            StaffSignIn::Local(keys) => keys.verify(&parts.headers, now).map(SignedIn),
            StaffSignIn::InProcess => parts
                .extensions
                .get::<StaffClaims>()
                .cloned()
                .map(SignedIn)
                .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorised", "sign in")),
            StaffSignIn::ApiGatewayJwt(expected) => {
                let claims = match parts.extensions.get::<RequestContext>() {
                    Some(RequestContext::ApiGatewayV2(context)) => context
                        .authorizer
                        .as_ref()
                        .and_then(|a| a.jwt.as_ref())
                        .map(|jwt| &jwt.claims),
                    _ => None,
                };
                let claims = claims.ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthorised",
                        "sign in: send `Authorization: Bearer <token>`",
                    )
                })?;
                claims_from_authorizer(claims, expected, now).map(SignedIn)
            }
        }
    }
}

/// `/staff/v1/…`: transitions staff make by hand.
pub fn staff_router(staff: Staff) -> Router {
    Router::new()
        .route("/staff/v1/queue", get(queue))
        .route("/staff/v1/requests/{id}", get(read))
        .route("/staff/v1/requests/{id}/merge", post(merge))
        .route("/staff/v1/requests/{id}/unmerge", post(unmerge))
        .route(
            "/staff/v1/requests/{id}/transitions",
            post(act_on::<TransitionBody>),
        )
        .route("/staff/v1/requests/{id}/assignment", post(assignment))
        .route("/staff/v1/requests/{id}/notes", post(act_on::<NoteBody>))
        .route(
            "/staff/v1/requests/{id}/priority",
            post(act_on::<PriorityBody>),
        )
        .route(
            "/staff/v1/requests/{id}/expected",
            post(act_on::<ExpectedBody>),
        )
        .route(
            "/staff/v1/requests/{id}/referral",
            post(act_on::<ReferralBody>),
        )
        .route(
            "/staff/v1/requests/{id}/visibility",
            post(act_on::<VisibilityBody>),
        )
        .route(
            "/staff/v1/requests/{id}/description",
            post(act_on::<DescriptionBody>),
        )
        .route("/staff/v1/requests/{id}/media", post(media_form))
        .route("/staff/v1/requests/{id}/media/{file}", get(read_media))
        .route(
            "/staff/v1/requests/{id}/media/{media_id}/privacy",
            post(media_privacy),
        )
        .route(
            "/staff/v1/information-requests",
            get(crate::information::list),
        )
        .route(
            "/staff/v1/information-requests/{id}",
            get(crate::information::read),
        )
        .route(
            "/staff/v1/information-requests/{id}/answer",
            post(crate::information::answer),
        )
        .route("/staff/v1/audit", get(audit))
        .route("/staff/v1/metrics", get(crate::metrics::metrics))
        .route(
            "/staff/v1/backlogs",
            get(list_backlogs).post(declare_backlog),
        )
        .route(
            "/staff/v1/backlogs/{id}",
            axum::routing::delete(lift_backlog),
        )
        .with_state(Arc::new(staff))
}

/// A request as the signed-in person may read it (docs/staff-access.md): the case view (the
/// public record, how it was routed, who follows it, the whole timeline) or the caller view (the
/// public record and who has it). The reporter's contact details stay out of both.
async fn read(
    State(staff): Shared,
    Path(id): Path<String>,
    SignedIn(claims): SignedIn,
) -> Result<Json<Value>, ApiError> {
    let request = stored_request(staff.deps.store.as_ref(), &id).await?;
    let reading = readable(&staff, &claims, &request)?;
    let store = &staff.deps.store;
    let timeline = store.timeline(&request.id).await?;
    if reading == Reading::Caller {
        let mut view = request_view(&staff.deps.city, &request, &timeline);
        if let Some(fields) = view.as_object_mut() {
            fields.insert("department".into(), json!(request.department));
            fields.insert("agency".into(), json!(request.agency));
            // So a caller can be told it is not shown, rather than that it does not exist.
            fields.insert("hidden".into(), json!(request.hidden));
        }
        return Ok(Json(view));
    }
    Ok(Json(case_view(&staff, &request, &timeline).await?))
}

/// The case view of a request: the public record, how it was routed, who has it, who follows it,
/// the whole timeline with internal entries and who wrote them, and the version to act on.
async fn case_view(
    staff: &Staff,
    request: &ServiceRequest,
    timeline: &[cityfix_domain::TimelineEntry],
) -> Result<Value, ApiError> {
    let store = &staff.deps.store;
    let followers = store.followers(&request.id).await?.len();
    let has_reporter = store.reporter(&request.id).await?.is_some();
    let mut view = request_view(&staff.deps.city, request, &[]);
    let entries: Vec<Value> = timeline
        .iter()
        .map(|entry| json!({ "at": city_time(&staff.deps.city, entry.at), "event_id": entry.event_id, "kind": entry.kind, "status": entry.status, "note": entry.note, "internal_note": entry.internal_note, "public": entry.public, "actor": entry.actor, "media": entry.media }))
        .collect();
    if let Some(fields) = view.as_object_mut() {
        fields.insert("timeline".into(), Value::Array(entries));
        fields.insert("department".into(), json!(request.department));
        fields.insert("assignee".into(), json!(request.assignee));
        fields.insert("agency".into(), json!(request.agency));
        fields.insert("priority".into(), json!(request.priority));
        fields.insert(
            "expected_datetime".into(),
            json!(request
                .expected_at
                .map(|at| city_time(&staff.deps.city, at))),
        );
        fields.insert("routing_reason".into(), json!(request.routing_reason));
        if let Some(asset) = &request.asset {
            let label = staff
                .deps
                .city
                .asset_layer(&asset.layer)
                .and_then(|layer| layer.get(&asset.id))
                .and_then(|found| found.label.clone());
            fields.insert(
                "asset".into(),
                json!({ "layer": asset.layer, "id": asset.id, "label": label }),
            );
        }
        fields.insert("channel".into(), json!(request.channel));
        fields.insert("followers".into(), json!(followers));
        fields.insert("reporter_can_be_reached".into(), json!(has_reporter));
        fields.insert("version".into(), json!(request.version));
        fields.insert("media".into(), json!(request.media));
        fields.insert("private_media".into(), json!(request.private_media));
        fields.insert("hidden".into(), json!(request.hidden));
        fields.insert(
            "original_description".into(),
            json!(request.original_description),
        );
    }
    Ok(view)
}

/// Whether a request of a confidential service (an ethics report).
fn confidential(staff: &Staff, request: &ServiceRequest) -> bool {
    staff
        .deps
        .city
        .service(&request.service_code)
        .is_some_and(|service| service.confidential)
}

/// How much of `request` this person may read: 404 as for a missing request if it is hidden from
/// them, 403 if it is not theirs to read.
fn readable(
    staff: &Staff,
    claims: &StaffClaims,
    request: &ServiceRequest,
) -> Result<Reading, ApiError> {
    match claims.may_read(request.department.as_deref(), confidential(staff, request)) {
        Reading::Hidden => Err(ApiError::not_found(format!(
            "there is no request `{}`",
            request.id
        ))),
        Reading::Refused => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "ethics staff read ethics reports only",
        )),
        reading => Ok(reading),
    }
}

/// The query of `GET /staff/v1/queue`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueQuery {
    /// Default: the signed-in member's department.
    department: Option<String>,
    /// Default: `open`.
    status: Option<String>,
    /// The `next` of the previous page.
    after: Option<String>,
    /// 1 to 100; default 25.
    limit: Option<u32>,
    /// `has_duplicates` or `reopened`: only the requests so marked, from the mark's own index.
    mark: Option<String>,
}

/// A department's work queue, oldest first, a page at a time.
async fn queue(
    State(staff): Shared,
    SignedIn(claims): SignedIn,
    query: Result<Query<QueueQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message);
    let Query(query) = query.map_err(|e| bad(e.body_text()))?;
    let department = query
        .department
        .or_else(|| claims.department.clone())
        .ok_or_else(|| bad("name a `department`".into()))?;
    if staff.deps.city.department(&department).is_none() {
        return Err(ApiError::not_found(format!(
            "there is no department `{}`",
            department.chars().take(40).collect::<String>()
        )));
    }
    if !claims.may_list(&department) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("a {:?} may not work the queue of {department}", claims.role),
        ));
    }
    let status = match query.status.as_deref() {
        None => Status::Open,
        Some(text) => {
            Status::parse(text).ok_or_else(|| bad(format!("`{text}` is not a status")))?
        }
    };
    let limit = query.limit.unwrap_or(25);
    if !(1..=100).contains(&limit) {
        return Err(bad("`limit` is 1 to 100".into()));
    }
    // `after` is a `next` given out below.
    let after = match query.after.as_deref() {
        Some(text) => Some(
            hex::decode(text)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| bad("`after` is not a `next` of this queue".into()))?,
        ),
        None => None,
    };
    let mark = match query.mark.as_deref().filter(|m| !m.is_empty()) {
        None => None,
        Some(text) => Some(QueueMark::parse(text).ok_or_else(|| {
            bad(format!(
                "`{}` is not a mark; the marks are has_duplicates and reopened",
                text.chars().take(40).collect::<String>()
            ))
        })?),
    };
    let store = &staff.deps.store;
    let page = match mark {
        None => {
            store
                .department_queue(&department, status, after.as_deref(), limit)
                .await
        }
        Some(mark) => {
            store
                .marked_queue(&department, status, mark, after.as_deref(), limit)
                .await
        }
    };
    let page = page.map_err(|e| match e {
        cityfix_app::ports::PortError::NotFound(why) => bad(why),
        other => ApiError::from(other),
    })?;
    // Only what this person reads as a case: ethics reports for ethics, the others for the rest.
    // A page may so hold fewer than `limit`; `next` still says whether more follow.
    let requests: Vec<Value> = page
        .requests
        .iter()
        .filter(|request| {
            claims.may_read(request.department.as_deref(), confidential(&staff, request))
                == Reading::Case
        })
        .map(|request| {
            let mut view = request_view(&staff.deps.city, request, &[]);
            // The version a page's bulk action acts on, as a request's own page gives it.
            view["version"] = json!(request.version);
            view["assignee"] = json!(request.assignee);
            view["hidden"] = json!(request.hidden);
            view["duplicates"] = json!(request.duplicates);
            view["reopened"] = json!(request.reopened);
            view
        })
        .collect();
    // The cursor travels hex-encoded, so it is safe in a URL as it is.
    Ok(Json(
        json!({ "department": department, "status": status, "mark": mark.map(QueueMark::as_str), "requests": requests, "next": page.next.map(hex::encode) }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeBody {
    /// The request this one duplicates.
    into: String,
}

async fn merge(
    State(staff): Shared,
    Path(id): Path<String>,
    SignedIn(claims): SignedIn,
    headers: HeaderMap,
    body: Result<Json<MergeBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) =
        body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_body", e.body_text()))?;
    let request = stored_request(staff.deps.store.as_ref(), &id).await?;
    let original = stored_request(staff.deps.store.as_ref(), &body.into).await?;
    for worked in [&request, &original] {
        readable(&staff, &claims, worked)?;
        permit(&staff, &claims, worked, Act::Work)?;
    }
    let fingerprint = format!("merge\u{1f}{}\u{1f}{}", request.id, original.id);
    let decision_id = claim_decision(
        &staff,
        &claims,
        &headers,
        "merge",
        &request.id,
        &fingerprint,
    )
    .await?;
    let command = StatusCommand::LinkDuplicate {
        request_id: request.id.clone(),
        original_id: original.id,
        decision_id,
        by: Some(claims.sub.clone()),
    };
    run(&staff, &command, &request.id).await
}

async fn unmerge(
    State(staff): Shared,
    Path(id): Path<String>,
    SignedIn(claims): SignedIn,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let request = stored_request(staff.deps.store.as_ref(), &id).await?;
    readable(&staff, &claims, &request)?;
    permit(&staff, &claims, &request, Act::Work)?;
    let fingerprint = format!("unmerge\u{1f}{}", request.id);
    let decision_id = claim_decision(
        &staff,
        &claims,
        &headers,
        "unmerge",
        &request.id,
        &fingerprint,
    )
    .await?;
    let command = StatusCommand::Unlink {
        request_id: request.id.clone(),
        decision_id,
        by: Some(claims.sub.clone()),
    };
    run(&staff, &command, &request.id).await
}

/// How long a staff Idempotency-Key is remembered.
const KEY_HOURS: i64 = 24;

/// The timeline entry id of a staff action. With an Idempotency-Key, the key is claimed for this
/// person with the fingerprint of what they asked: a retry of the same call is applied once, and
/// the key sent again with another action or body is refused (422) before anything is done.
/// Without one, the action is fresh.
pub(crate) async fn claim_decision(
    staff: &Staff,
    claims: &StaffClaims,
    headers: &HeaderMap,
    action: &str,
    request_id: &TrackingNumber,
    asked: &str,
) -> Result<String, ApiError> {
    let Some(key) = headers.get("idempotency-key") else {
        return Ok(format!("{action}-{}", uuid::Uuid::new_v4()));
    };
    let key = key
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 100 && k.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                "Idempotency-Key is 1 to 100 visible ASCII characters",
            )
        })?;
    let scoped = format!("\u{1e}staff\u{1f}{}\u{1f}{key}", claims.sub);
    let fingerprint = fingerprint(&format!("{request_id}\u{1f}{asked}"));
    let now = staff.deps.clock.now();
    let claim = IdempotencyClaim {
        key: scoped.clone(),
        fingerprint: fingerprint.clone(),
        expires_at: now + chrono::Duration::hours(KEY_HOURS),
    };
    match staff.deps.store.claim_key(&claim, request_id, now).await? {
        Some(earlier) if earlier != fingerprint => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different action or body; send a new key for a new action",
        )),
        _ => Ok(format!("{action}-{}", &fingerprint_of_key(&scoped))),
    }
}

/// A short stand-in for a scoped key in an event id: the person and key, never the key itself.
fn fingerprint_of_key(scoped: &str) -> String {
    fingerprint(scoped)[..24].to_string()
}

/// 403 unless this person may take `act` on `request` (docs/staff-access.md, Changes).
fn permit(
    staff: &Staff,
    claims: &StaffClaims,
    request: &ServiceRequest,
    act: Act,
) -> Result<(), ApiError> {
    if claims.may_act(
        act,
        request.department.as_deref(),
        confidential(staff, request),
    ) {
        return Ok(());
    }
    let what = match act {
        Act::Annotate => "add notes to",
        Act::Work => "change",
        Act::Archive => "archive",
        Act::Moderate => "moderate",
    };
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!(
            "a {:?} of {} may not {what} request {}",
            claims.role,
            claims.department.as_deref().unwrap_or("no department"),
            request.id
        ),
    ))
}

async fn run(
    staff: &Staff,
    command: &StatusCommand,
    id: &TrackingNumber,
) -> Result<Json<Value>, ApiError> {
    let outcome = apply(&staff.deps, command).await.map_err(app_error)?;
    let outcome = match outcome {
        Applied::Refused(why) => return Err(ApiError::new(StatusCode::CONFLICT, "conflict", why)),
        Applied::Rejected(rejection) => return Err(rejected(id, rejection)),
        Applied::Changed { .. } => "changed",
        Applied::AlreadyApplied => "already_applied",
    };
    let request = staff
        .deps
        .store
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("there is no request `{id}`")))?;
    let timeline = staff.deps.store.timeline(id).await?;
    Ok(Json(
        json!({ "outcome": outcome, "request": case_view(staff, &request, &timeline).await? }),
    ))
}

/// The answer to a staff action refused as asked: 409 for a stale version or an illegal move
/// (with the current version or the legal moves), 422 for a body naming what is not there.
fn rejected(id: &TrackingNumber, rejection: Rejection) -> ApiError {
    match rejection {
        Rejection::Stale { current_version } => ApiError::new(
            StatusCode::CONFLICT,
            "stale_version",
            format!("request {id} changed since you read it; it is at version {current_version}: read it again"),
        )
        .with_details(json!({ "current_version": current_version })),
        Rejection::Illegal { from, legal } => ApiError::new(
            StatusCode::CONFLICT,
            "illegal_transition",
            illegal_move_message(id, from, &legal),
        )
        .with_details(json!({ "current_status": from, "legal_moves": legal })),
        Rejection::Invalid(invalid) => ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            ..ApiError::from(invalid)
        },
    }
}

/// The body of `POST …/transitions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransitionBody {
    to: String,
    #[serde(default)]
    resolution: Option<String>,
    #[serde(default)]
    note: Option<String>,
    /// Whether the note is for the resident; default true.
    #[serde(default)]
    public: Option<bool>,
    #[serde(default)]
    expected_version: Option<u64>,
    #[serde(default)]
    media: Vec<String>,
}

/// A staff action's JSON body: what it asks of the request, checked before anyone's rights are.
trait WorkBody: serde::de::DeserializeOwned {
    /// The kind of act (for the rights check), the action, and the version the client last read.
    fn planned(self) -> Result<(Act, WorkAction, Option<u64>), ApiError>;
}

/// `POST …/{transitions,notes,priority,expected,referral}`: one handler for every staff action
/// whose body says all it needs; the body's [`WorkBody`] turns it into the action.
async fn act_on<B: WorkBody>(
    State(staff): Shared,
    Path(id): Path<String>,
    SignedIn(claims): SignedIn,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: B = read_json(&headers, &body)?;
    let (act, action, expected_version) = body.planned()?;
    work(
        &staff,
        &claims,
        &id,
        &headers,
        act,
        action,
        expected_version,
    )
    .await
}

/// `{to, resolution?, note?, public?, expected_version?, media?}`: a move of the status table.
impl WorkBody for TransitionBody {
    fn planned(self) -> Result<(Act, WorkAction, Option<u64>), ApiError> {
        let to = Status::parse(&self.to).ok_or_else(|| {
            unprocessable(
                "to",
                format!(
                    "`{}` is not a status: submitted, open, in_progress, closed or archived",
                    echo(&self.to)
                ),
            )
        })?;
        let resolution = match self.resolution.as_deref() {
            None => None,
            Some(text) => Some(cityfix_domain::Resolution::parse(text).ok_or_else(|| {
                unprocessable(
                    "resolution",
                    format!(
                        "`{}` is not a resolution: fixed, no_action or cancelled",
                        echo(text)
                    ),
                )
            })?),
        };
        let act = if to == Status::Archived {
            Act::Archive
        } else {
            Act::Work
        };
        let action = WorkAction::Transition {
            to,
            resolution,
            note: self.note,
            public: self.public.unwrap_or(true),
            media: self.media,
        };
        Ok((act, action, self.expected_version))
    }
}

/// The body of `POST …/assignment`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignmentBody {
    /// Default: the department that has it.
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    expected_version: Option<u64>,
}

/// `{department?, assignee?, note?}`: to another department, to a person in it, or both.
async fn assignment(
    State(staff): Shared,
    Path(id): Path<String>,
    SignedIn(claims): SignedIn,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: AssignmentBody = read_json(&headers, &body)?;
    let request = stored_request(staff.deps.store.as_ref(), &id).await?;
    let department = body
        .department
        .or_else(|| request.department.clone())
        .ok_or_else(|| {
            unprocessable(
                "department",
                "the request has no department yet: name one".into(),
            )
        })?;
    let action = WorkAction::Assign {
        department,
        assignee: body.assignee,
        note: body.note,
    };
    work(
        &staff,
        &claims,
        &id,
        &headers,
        Act::Work,
        action,
        body.expected_version,
    )
    .await
}

/// The body of `POST …/notes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
    /// Whether residents read it (and followers are told); an internal note stays with staff.
    public: bool,
    #[serde(default)]
    media: Vec<String>,
}

impl WorkBody for NoteBody {
    fn planned(self) -> Result<(Act, WorkAction, Option<u64>), ApiError> {
        let action = WorkAction::Note {
            text: self.text,
            public: self.public,
            media: self.media,
        };
        Ok((Act::Annotate, action, None))
    }
}

/// The body of `POST …/priority`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriorityBody {
    priority: cityfix_domain::Priority,
    reason: String,
    #[serde(default)]
    expected_version: Option<u64>,
}

impl WorkBody for PriorityBody {
    fn planned(self) -> Result<(Act, WorkAction, Option<u64>), ApiError> {
        let action = WorkAction::Prioritise {
            priority: self.priority,
            reason: self.reason,
        };
        Ok((Act::Work, action, self.expected_version))
    }
}

/// The body of `POST …/expected`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedBody {
    /// An RFC 3339 date and time with its offset.
    expected_datetime: String,
    reason: String,
    #[serde(default)]
    expected_version: Option<u64>,
}

impl WorkBody for ExpectedBody {
    fn planned(self) -> Result<(Act, WorkAction, Option<u64>), ApiError> {
        let expected_at = chrono::DateTime::parse_from_rfc3339(self.expected_datetime.trim())
            .map_err(|_| {
                unprocessable(
                    "expected_datetime",
                    "expected_datetime is an RFC 3339 date and time with its offset, e.g. 2026-12-04T17:00:00-05:00".into(),
                )
            })?
            .with_timezone(&chrono::Utc);
        let action = WorkAction::Reschedule {
            expected_at,
            reason: self.reason,
        };
        Ok((Act::Work, action, self.expected_version))
    }
}

/// The body of `POST …/referral`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferralBody {
    agency: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    expected_version: Option<u64>,
}

/// Forwards a request to the agency responsible: closed as referred, the agency gets the report
/// and the reporter hears whom to contact, as when the router refers one.
impl WorkBody for ReferralBody {
    fn planned(self) -> Result<(Act, WorkAction, Option<u64>), ApiError> {
        let action = WorkAction::Refer {
            agency: self.agency,
            note: self.note,
        };
        Ok((Act::Work, action, self.expected_version))
    }
}

/// The body of `POST …/visibility`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VisibilityBody {
    /// True to hide the request from public view; false to show it again.
    hidden: bool,
    /// Why, for the audit log and the staff timeline.
    reason: String,
    #[serde(default)]
    expected_version: Option<u64>,
}

/// Moderation: hides a request from every public output, or shows it again (supervisors, admins).
impl WorkBody for VisibilityBody {
    fn planned(self) -> Result<(Act, WorkAction, Option<u64>), ApiError> {
        let action = WorkAction::Hide {
            hidden: self.hidden,
            reason: self.reason,
        };
        Ok((Act::Moderate, action, self.expected_version))
    }
}

/// The body of `POST …/description`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DescriptionBody {
    /// The description the public reads from now on; absent with `restore_original`.
    #[serde(default)]
    description: Option<String>,
    /// True to show the reporter's own description again.
    #[serde(default)]
    restore_original: bool,
    /// Why, for the audit log and the staff timeline.
    reason: String,
    #[serde(default)]
    expected_version: Option<u64>,
}

/// Moderation: edits the public description, the reporter's own kept for staff, or restores it
/// (supervisors, admins).
impl WorkBody for DescriptionBody {
    fn planned(self) -> Result<(Act, WorkAction, Option<u64>), ApiError> {
        let text = match (self.description, self.restore_original) {
            (Some(text), false) => Some(text),
            (None, true) => None,
            _ => {
                return Err(unprocessable(
                    "description",
                    "send either a `description` or `restore_original: true`".into(),
                ))
            }
        };
        let action = WorkAction::EditDescription {
            text,
            reason: self.reason,
        };
        Ok((Act::Moderate, action, self.expected_version))
    }
}

/// Checks that this person may take `act` on the request, claims the Idempotency-Key, and applies
/// the action.
async fn work(
    staff: &Staff,
    claims: &StaffClaims,
    id: &str,
    headers: &HeaderMap,
    act: Act,
    action: WorkAction,
    expected_version: Option<u64>,
) -> Result<Json<Value>, ApiError> {
    let request = stored_request(staff.deps.store.as_ref(), id).await?;
    readable(staff, claims, &request)?;
    permit(staff, claims, &request, act)?;
    let asked = serde_json::to_string(&(&action, expected_version)).expect("an action serialises");
    let decision_id =
        claim_decision(staff, claims, headers, action.name(), &request.id, &asked).await?;
    let command = StatusCommand::Work(WorkCommand {
        request_id: request.id.clone(),
        decision_id,
        by: Actor {
            id: claims.sub.clone(),
            name: claims.name.clone(),
            role: format!("{:?}", claims.role).to_lowercase(),
        },
        expected_version,
        action,
    });
    run(staff, &command, &request.id).await
}

/// The query of `GET /staff/v1/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    request: Option<String>,
    actor: Option<String>,
    /// RFC 3339; default 30 days before `to`.
    from: Option<String>,
    /// RFC 3339; default now.
    to: Option<String>,
    /// 1 to 1000; default 200.
    limit: Option<u32>,
}

/// The longest span one audit query covers.
const MAX_AUDIT_DAYS: i64 = 366;

/// The audit log, for admins: who did what to which request, when, before and after.
async fn audit(
    State(staff): Shared,
    SignedIn(claims): SignedIn,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message);
    let Query(params) = query.map_err(|e| bad(e.body_text()))?;
    if claims.role != Role::Admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only admins read the audit log",
        ));
    }
    let time = |name: &str, text: &str| {
        chrono::DateTime::parse_from_rfc3339(text.trim())
            .map(|at| at.with_timezone(&chrono::Utc))
            .map_err(|_| {
                bad(format!(
                    "`{name}` is an RFC 3339 date and time with its offset"
                ))
            })
    };
    let to = match &params.to {
        Some(text) => time("to", text)?,
        None => staff.deps.clock.now(),
    };
    let from = match &params.from {
        Some(text) => time("from", text)?,
        None => to - chrono::Duration::days(30),
    };
    if from > to || to - from > chrono::Duration::days(MAX_AUDIT_DAYS) {
        return Err(bad(format!(
            "`from` must come before `to`, at most {MAX_AUDIT_DAYS} days apart"
        )));
    }
    let request = match &params.request {
        Some(text) => Some(
            TrackingNumber::parse(text)
                .map_err(|_| bad(format!("`{}` is not a tracking number", echo(text))))?,
        ),
        None => None,
    };
    let limit = params.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(bad("`limit` is 1 to 1000".into()));
    }
    let records = staff
        .deps
        .store
        .audit(&AuditQuery {
            request,
            actor: params.actor,
            from,
            to,
            limit,
        })
        .await?;
    let city = &staff.deps.city;
    let entries: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "id": r.id, "at": city_time(city, r.at), "actor": r.actor, "actor_name": r.actor_name,
                "role": r.role, "action": r.action, "request": r.request_id.as_str(),
                "before": r.before, "after": r.after, "note": r.note,
            })
        })
        .collect();
    Ok(Json(
        json!({ "from": city_time(city, from), "to": city_time(city, to), "records": entries }),
    ))
}

fn unprocessable(field: &str, message: String) -> ApiError {
    ApiError {
        field: Some(field.to_string()),
        ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message)
    }
}

/// The body of `POST …/media`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaAsk {
    content_type: String,
    /// The file's size in bytes.
    size: u64,
}

/// An upload form for a photo of the work (the fix, the crew's finding), with the same checks as
/// a resident's: once checked it is on the request, and its `media_id` can go with a transition
/// or a note.
async fn media_form(
    State(staff): Shared,
    Path(id): Path<String>,
    SignedIn(claims): SignedIn,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    let ask: MediaAsk = read_json(&headers, &body)?;
    let request = stored_request(staff.deps.store.as_ref(), &id).await?;
    readable(&staff, &claims, &request)?;
    permit(&staff, &claims, &request, Act::Work)?;
    cityfix_http::uploads::upload_form(
        staff.deps.media.as_ref(),
        &request,
        &ask.content_type,
        ask.size,
    )
    .await
}

/// Which version of a file staff read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaRead {
    /// `original` for the stripped original; otherwise a photo's web version.
    #[serde(default)]
    size: Option<String>,
}

/// A photo or video of a request for staff, private ones included for whoever reads the case view:
/// a redirect to a link good for a few minutes, never cached.
async fn read_media(
    State(staff): Shared,
    Path((id, file)): Path<(String, String)>,
    SignedIn(claims): SignedIn,
    query: Result<Query<MediaRead>, QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    use cityfix_app::media::{key_of_file, original_key, version_key, WEB};
    let Query(query) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let request = stored_request(staff.deps.store.as_ref(), &id).await?;
    let reading = readable(&staff, &claims, &request)?;
    let key = key_of_file(&request, &file)
        .cloned()
        .unwrap_or_else(|| original_key(&request.id, &file));
    let shown = match reading {
        Reading::Case => request.media.contains(&key),
        _ => request.shows_media(&key),
    };
    if !shown {
        return Err(ApiError::not_found(format!(
            "report {} has no file `{}`",
            request.id,
            echo(&file)
        )));
    }
    let read = match (query.size.as_deref(), version_key(&key, WEB)) {
        (Some("original"), _) | (_, None) => key,
        (_, Some(web)) => web,
    };
    let link = staff
        .deps
        .media
        .download_url(&read, std::time::Duration::from_secs(300))
        .await?;
    Ok((
        StatusCode::FOUND,
        [
            (axum::http::header::LOCATION, link),
            (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response())
}

/// The body of `POST …/media/{media_id}/privacy`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivacyBody {
    /// True to keep the file from the public (a face, a licence plate); false to show it again.
    private: bool,
    /// Why, for the audit log and the staff timeline.
    reason: String,
}

/// Keeps one photo or video of a request private, or shows it again: as any change of the work,
/// by whoever may change the request, audited, with an internal entry that tells nobody.
async fn media_privacy(
    State(staff): Shared,
    Path((id, media_id)): Path<(String, String)>,
    SignedIn(claims): SignedIn,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: PrivacyBody = read_json(&headers, &body)?;
    let action = WorkAction::MediaPrivacy {
        media: media_id,
        private: body.private,
        reason: body.reason,
    };
    work(&staff, &claims, &id, &headers, Act::Work, action, None).await
}

/// The body of `POST /staff/v1/backlogs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BacklogBody {
    service_code: String,
    /// An area of one of the city's area layers (a neighbourhood); the whole city when absent.
    #[serde(default)]
    area: Option<String>,
    /// RFC 3339: when the city now expects to get to these requests.
    expected: String,
    /// What residents are told.
    message: String,
}

/// 403 unless a supervisor or admin: backlogs speak for the city to every reporter of a service.
fn oversees(claims: &StaffClaims) -> Result<(), ApiError> {
    match claims.role {
        Role::Supervisor | Role::Admin => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only supervisors and admins declare and lift backlogs",
        )),
    }
}

fn backlog_view(staff: &Staff, backlog: &cityfix_domain::backlog::Backlog) -> Value {
    let city = &staff.deps.city;
    json!({
        "id": backlog.id, "service_code": backlog.service_code, "area": backlog.area,
        "expected": city_time(city, backlog.expected_at), "message": backlog.message,
        "declared_by": backlog.declared_by, "declared_at": city_time(city, backlog.declared_at),
        "lifted_at": backlog.lifted_at.map(|at| city_time(city, at)),
    })
}

/// Declares a backlog: every request it covers gets the new date and the notice, once.
async fn declare_backlog(
    State(staff): Shared,
    SignedIn(claims): SignedIn,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    let body: BacklogBody = read_json(&headers, &body)?;
    oversees(&claims)?;
    let city = &staff.deps.city;
    let service = city.service(&body.service_code).ok_or_else(|| {
        unprocessable(
            "service_code",
            format!(
                "`{}` is not a service of {}",
                echo(&body.service_code),
                city.name
            ),
        )
    })?;
    if service.confidential {
        return Err(unprocessable(
            "service_code",
            "a confidential service has no public backlog".into(),
        ));
    }
    if let Some(area) = &body.area {
        if !cityfix_domain::backlog::is_city_area(city, area) {
            return Err(unprocessable(
                "area",
                format!("`{}` is not an area of the city's layers", echo(area)),
            ));
        }
    }
    let now = staff.deps.clock.now();
    let expected_at = chrono::DateTime::parse_from_rfc3339(body.expected.trim())
        .map(|at| at.with_timezone(&chrono::Utc))
        .ok()
        .filter(|at| *at > now && *at < now + chrono::Duration::days(2 * 366))
        .ok_or_else(|| {
            unprocessable(
                "expected",
                "`expected` is an RFC 3339 date and time in the next two years".into(),
            )
        })?;
    let message =
        cityfix_domain::work::checked_note("message", &body.message).map_err(|invalid| {
            ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                ..ApiError::from(invalid)
            }
        })?;
    let backlog = cityfix_domain::backlog::Backlog {
        id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
        service_code: service.code.clone(),
        area: body.area,
        expected_at,
        message,
        declared_by: claims.sub.clone(),
        declared_at: now,
        lifted_at: None,
    };
    staff.deps.store.save_backlog(&backlog).await?;
    let queued = cityfix_app::backlog::queue_notices(
        city,
        staff.deps.store.as_ref(),
        staff.deps.queue.as_ref(),
        &backlog,
    )
    .await
    .map_err(app_error)?;
    tracing::info!(backlog = %backlog.id, service = %backlog.service_code, queued, "backlog declared");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "backlog": backlog_view(&staff, &backlog), "requests_told": queued })),
    )
        .into_response())
}

/// The backlogs declared, standing and lifted.
async fn list_backlogs(
    State(staff): Shared,
    SignedIn(_claims): SignedIn,
) -> Result<Json<Value>, ApiError> {
    let backlogs = staff.deps.store.backlogs().await?;
    let views: Vec<Value> = backlogs.iter().map(|b| backlog_view(&staff, b)).collect();
    Ok(Json(json!({ "backlogs": views })))
}

/// Lifts a backlog: the requests it covered read on their timelines that the delay is over.
async fn lift_backlog(
    State(staff): Shared,
    Path(id): Path<String>,
    SignedIn(claims): SignedIn,
) -> Result<Json<Value>, ApiError> {
    oversees(&claims)?;
    let mut backlog = staff
        .deps
        .store
        .backlogs()
        .await?
        .into_iter()
        .find(|b| b.id == id)
        .ok_or_else(|| ApiError::not_found(format!("there is no backlog `{}`", echo(&id))))?;
    if backlog.lifted_at.is_none() {
        backlog.lifted_at = Some(staff.deps.clock.now());
        staff.deps.store.save_backlog(&backlog).await?;
    }
    // Again when lifted before: a lifting cut short by a failure is finished by lifting again.
    let queued = cityfix_app::backlog::queue_lifting(
        &staff.deps.city,
        staff.deps.store.as_ref(),
        staff.deps.queue.as_ref(),
        &backlog,
    )
    .await
    .map_err(app_error)?;
    Ok(Json(
        json!({ "backlog": backlog_view(&staff, &backlog), "requests_told": queued }),
    ))
}

pub(crate) fn app_error(error: AppError) -> ApiError {
    match error {
        AppError::Impossible(why) => ApiError::new(StatusCode::CONFLICT, "conflict", why),
        AppError::Port(cause) => ApiError::from(cause),
    }
}
