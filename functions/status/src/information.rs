//! Staff over HTTP on residents' questions no answer met (information requests): list the
//! unanswered ones oldest first, read one, and answer it by e-mail, once per Idempotency-Key. The
//! resident's address is shown only to supervisors and admins; call-takers answer without it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use cityfix_app::messages::{NotifyEvent, NotifyKind};
use cityfix_app::ports::{InformationAnswer, InformationRequest, PortError, QueueName};
use cityfix_domain::text::echo;
use cityfix_domain::TrackingNumber;
use cityfix_http::api::ApiError;
use cityfix_http::auth::{Role, StaffClaims};
use cityfix_http::city_time;
use cityfix_http::json::read_json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::staff::{claim_decision, SignedIn, Staff};

type Shared = State<Arc<Staff>>;

/// The most questions one page lists.
const MAX_PAGE: u32 = 100;

/// 403 unless this person answers residents' questions: call-takers, supervisors and admins.
fn answers_questions(claims: &StaffClaims) -> Result<(), ApiError> {
    match claims.role {
        Role::Agent | Role::Supervisor | Role::Admin => Ok(()),
        Role::Staff | Role::Ethics => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only call-takers, supervisors and admins answer residents' questions",
        )),
    }
}

/// Whether this person may read a resident's e-mail address.
fn sees_contacts(claims: &StaffClaims) -> bool {
    matches!(claims.role, Role::Supervisor | Role::Admin)
}

/// A question as `claims` may read it.
fn question_view(staff: &Staff, claims: &StaffClaims, asked: &InformationRequest) -> Value {
    let city = &staff.deps.city;
    json!({
        "id": asked.id.to_string(),
        "question": asked.question,
        "language": asked.language.tag(),
        "asked_at": city_time(city, asked.asked_at),
        "email": sees_contacts(claims).then(|| asked.email.clone()),
        "answered": asked.answered.as_ref().map(|a| json!({
            "text": a.text, "by": a.by_name, "at": city_time(city, a.at),
        })),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    after: Option<String>,
    limit: Option<u32>,
}

/// `GET /staff/v1/information-requests`: the questions not answered yet, oldest first.
pub(crate) async fn list(
    State(staff): Shared,
    SignedIn(claims): SignedIn,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    answers_questions(&claims)?;
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let page = staff
        .deps
        .store
        .unanswered_information_requests(query.after.as_deref(), limit)
        .await
        .map_err(|error| match error {
            PortError::NotFound(why) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_after", why)
            }
            other => other.into(),
        })?;
    let questions: Vec<Value> = page
        .asked
        .iter()
        .map(|asked| question_view(&staff, &claims, asked))
        .collect();
    Ok(Json(json!({ "questions": questions, "next": page.next })))
}

async fn question(staff: &Staff, id: &str) -> Result<InformationRequest, ApiError> {
    let missing = || ApiError::not_found(format!("there is no question `{}`", echo(id)));
    let id = TrackingNumber::parse(id).map_err(|_| missing())?;
    staff
        .deps
        .store
        .information_request(&id)
        .await?
        .ok_or_else(missing)
}

/// `GET /staff/v1/information-requests/{id}`.
pub(crate) async fn read(
    State(staff): Shared,
    SignedIn(claims): SignedIn,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    answers_questions(&claims)?;
    let asked = question(&staff, &id).await?;
    Ok(Json(
        json!({ "question": question_view(&staff, &claims, &asked) }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    text: String,
}

/// `POST /staff/v1/information-requests/{id}/answer` `{"text"}`: records the answer with who and
/// when, then queues its e-mail for notify, which sends it once. A retry with the same
/// Idempotency-Key queues it again (notify's send record keeps it to one e-mail); a question
/// answered by someone else is a 409 naming them.
pub(crate) async fn answer(
    State(staff): Shared,
    SignedIn(claims): SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    answers_questions(&claims)?;
    let body: AnswerBody = read_json(&headers, &body)?;
    let asked = question(&staff, &id).await?;
    let text =
        cityfix_domain::work::checked_note("text", &body.text).map_err(|invalid| ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            ..ApiError::from(invalid)
        })?;
    let answer_id = claim_decision(&staff, &claims, &headers, "answer", &asked.id, &text).await?;
    let answer = InformationAnswer {
        answer_id: answer_id.clone(),
        text,
        by: claims.sub.clone(),
        by_name: claims.name.clone(),
        at: staff.deps.clock.now(),
    };
    let now = staff
        .deps
        .store
        .answer_information_request(&asked.id, &answer)
        .await
        .map_err(|error| match error {
            PortError::Conflict(why) => ApiError::new(StatusCode::CONFLICT, "conflict", why),
            other => other.into(),
        })?;
    let event = NotifyEvent {
        event_id: format!("{}/{answer_id}", asked.id),
        request_id: asked.id.clone(),
        kind: NotifyKind::InformationAnswered,
    };
    let message = serde_json::to_string(&event).expect("a notify event always serialises");
    staff.deps.queue.send(QueueName::Notify, &message).await?;
    tracing::info!(question = %asked.id, by = %claims.sub, "a resident's question was answered");
    let asked = question(&staff, asked.id.as_str()).await?;
    Ok(Json(json!({
        "outcome": if now { "answered" } else { "already_applied" },
        "question": question_view(&staff, &claims, &asked),
    })))
}
