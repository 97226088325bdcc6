//! Staff over HTTP: read a request and a department's queue as the read policy allows
//! (docs/staff-access.md), merge a report into another of the same problem, and unmerge it.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use cityfix_app::messages::StatusCommand;
use cityfix_app::transition::{apply, Applied, StatusDeps};
use cityfix_app::AppError;
use cityfix_domain::{ServiceRequest, Status, TrackingNumber};
use cityfix_http::api::{request_view, stored_request, ApiError};
use cityfix_http::auth::{claims_from_authorizer, Reading, StaffClaims, StaffSignIn};
use cityfix_http::city_time;
use lambda_http::request::RequestContext;
use serde::Deserialize;
use serde_json::{json, Value};

/// What the staff handlers share.
pub struct Staff {
    pub deps: StatusDeps,
    pub sign_in: StaffSignIn,
}

type Shared = State<Arc<Staff>>;

/// The staff member making a call: 401 without a valid sign-in.
struct SignedIn(StaffClaims);

impl FromRequestParts<Arc<Staff>> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, staff: &Arc<Staff>) -> Result<Self, ApiError> {
        let now = u64::try_from(staff.deps.clock.now().timestamp()).unwrap_or(0);
        match &staff.sign_in {
            StaffSignIn::Local(keys) => keys.verify(&parts.headers, now).map(SignedIn),
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
        }
        return Ok(Json(view));
    }
    let followers = store.followers(&request.id).await?.len();
    let has_reporter = store.reporter(&request.id).await?.is_some();
    let mut view = request_view(&staff.deps.city, &request, &[]);
    let entries: Vec<Value> = timeline
        .iter()
        .map(|entry| json!({ "at": city_time(&staff.deps.city, entry.at), "event_id": entry.event_id, "kind": entry.kind, "status": entry.status, "note": entry.note, "public": entry.public }))
        .collect();
    if let Some(fields) = view.as_object_mut() {
        fields.insert("timeline".into(), Value::Array(entries));
        fields.insert("department".into(), json!(request.department));
        fields.insert("agency".into(), json!(request.agency));
        fields.insert("routing_reason".into(), json!(request.routing_reason));
        fields.insert("channel".into(), json!(request.channel));
        fields.insert("followers".into(), json!(followers));
        fields.insert("reporter_can_be_reached".into(), json!(has_reporter));
        fields.insert("version".into(), json!(request.version));
    }
    Ok(Json(view))
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
    let page = staff
        .deps
        .store
        .department_queue(&department, status, after.as_deref(), limit)
        .await
        .map_err(|e| match e {
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
        .map(|request| request_view(&staff.deps.city, request, &[]))
        .collect();
    // The cursor travels hex-encoded, so it is safe in a URL as it is.
    Ok(Json(
        json!({ "department": department, "status": status, "requests": requests, "next": page.next.map(hex::encode) }),
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
        permit(&claims, worked)?;
    }
    let command = StatusCommand::LinkDuplicate {
        request_id: request.id.clone(),
        original_id: original.id,
        decision_id: decision_id("merge", &headers),
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
    permit(&claims, &request)?;
    let command = StatusCommand::Unlink {
        request_id: request.id.clone(),
        decision_id: decision_id("unmerge", &headers),
        by: Some(claims.sub.clone()),
    };
    run(&staff, &command, &request.id).await
}

/// The timeline entry id of a staff action: from the client's Idempotency-Key, so a retried call
/// is applied once, or fresh.
fn decision_id(action: &str, headers: &HeaderMap) -> String {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 100);
    match key {
        Some(key) => format!("{action}-{key}"),
        None => format!("{action}-{}", uuid::Uuid::new_v4()),
    }
}

fn permit(claims: &StaffClaims, request: &ServiceRequest) -> Result<(), ApiError> {
    if claims.may_work(request.department.as_deref()) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!(
            "a {:?} of {} may not change request {}",
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
    let outcome = apply(&staff.deps, command).await.map_err(|e| match e {
        AppError::Impossible(why) => ApiError::new(StatusCode::CONFLICT, "conflict", why),
        AppError::Port(cause) => ApiError::from(cause),
    })?;
    let outcome = match outcome {
        Applied::Refused(why) => return Err(ApiError::new(StatusCode::CONFLICT, "conflict", why)),
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
        json!({ "outcome": outcome, "request": request_view(&staff.deps.city, &request, &timeline) }),
    ))
}
