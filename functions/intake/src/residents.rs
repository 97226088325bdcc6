//! What residents do with a report after making it: read it by its token alone (a confidential
//! one has no other page), reopen one closed as fixed ("not fixed"), comment on it with its token,
//! and say "me too" on a neighbour's report.
//!
//! Intake checks what it can answer at once (the token, the window, the body) and hands the change
//! to status, the only writer of a request's state, which checks again when it applies it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use cityfix_app::messages::StatusCommand;
use cityfix_app::ports::QueueName;
use cityfix_app::transition::Rejection;
use cityfix_app::work::{
    media_keys, reopen_decision_id, reopen_refused, reporter, supporter, WorkAction, WorkCommand,
};
use cityfix_domain::text::fingerprint;
use cityfix_domain::work::checked_note;
use cityfix_domain::{ServiceRequest, Status};
use cityfix_http::api::{public_request, shown_publicly, stored_request, ApiError};
use cityfix_http::json::read_json;
use serde::Deserialize;
use serde_json::json;

use crate::Intake;

type Shared = State<Arc<Intake>>;

pub fn routes() -> Router<Arc<Intake>> {
    Router::new()
        .route("/api/v1/requests/{id}/reopen", post(reopen))
        .route("/api/v1/requests/{id}/comments", post(comment))
        .route("/api/v1/requests/{id}/supporters", post(support))
        .route("/api/v1/requests/by-token", post(read_by_token))
}

/// The body of `POST /api/v1/requests/by-token`: the token in the body, never in a URL or a log.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    token: String,
}

/// The reporter's own report by the token they were given alone: the one way to follow a
/// confidential report (it has no public page), and the same view as the public read for others.
async fn read_by_token(
    State(intake): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body: TokenBody = read_json(&headers, &body)?;
    let token = body.token.trim();
    let unknown = || {
        ApiError::not_found(
            "no report has this key: check it against the one given when the report was sent",
        )
    };
    if token.is_empty() || token.len() > 200 {
        return Err(unknown());
    }
    let id = intake
        .deps
        .store
        .find_token(token)
        .await?
        .ok_or_else(unknown)?;
    let request = intake.deps.store.get(&id).await?.ok_or_else(unknown)?;
    let timeline = intake.deps.store.timeline(&request.id).await?;
    Ok(Json(cityfix_http::api::request_view(
        &intake.deps.city,
        &request,
        &timeline,
    )))
}

/// The body of `POST …/reopen`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReopenBody {
    token: String,
    /// What is still wrong.
    comment: String,
}

/// "Not fixed": reopens a report closed as fixed within the city's window, once per closing.
async fn reopen(
    State(intake): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: ReopenBody = read_json(&headers, &body)?;
    let request = reporters_request(&intake, &id, &body.token).await?;
    checked_note("comment", &body.comment)?;
    let now = intake.deps.clock.now();
    if let Some(why) = reopen_refused(&request, intake.deps.city.residents.reopen_days, now) {
        return Err(ApiError::new(StatusCode::CONFLICT, "not_reopenable", why));
    }
    // One reopening per closing: a second press of the button is the same reopening.
    let decision_id = reopen_decision_id(&request);
    let action = WorkAction::Reopen {
        comment: body.comment,
    };
    hand_to_status(&intake, &request, decision_id, reporter(), action).await
}

/// The body of `POST …/comments`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    token: String,
    text: String,
    /// Media ids of the reporter's checked photos or videos of this report, shown with it.
    #[serde(default)]
    media: Vec<String>,
}

/// A public comment from the reporter, once per Idempotency-Key.
async fn comment(
    State(intake): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: CommentBody = read_json(&headers, &body)?;
    let request = reporters_request(&intake, &id, &body.token).await?;
    checked_note("text", &body.text)?;
    if request.status == Status::Archived {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "archived",
            format!("{} is archived and takes no more comments", request.id),
        ));
    }
    let decision_id = match headers.get("idempotency-key").and_then(|k| k.to_str().ok()) {
        Some(key) if !key.is_empty() && key.len() <= 100 => format!(
            "comment-{}",
            &fingerprint(&format!("{}\u{1f}{key}\u{1f}{}", request.id, body.text))[..24]
        ),
        _ => format!("comment-{}", uuid::Uuid::new_v4()),
    };
    shown_with_an_update(&request, &body.media)?;
    let action = WorkAction::Comment {
        text: body.text,
        media: body.media,
    };
    hand_to_status(&intake, &request, decision_id, reporter(), action).await
}

/// The body of `POST …/supporters`: one way to tell people apart, never stored as given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SupportBody {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    /// The app's install id, for residents who give no contact.
    #[serde(default)]
    device_id: Option<String>,
}

/// "Me too": counted once per person (by a hash of their e-mail, phone or device), shown as a
/// count, never as names.
async fn support(
    State(intake): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: SupportBody = read_json(&headers, &body)?;
    let request = public_request(intake.deps.store.as_ref(), &intake.deps.city, &id).await?;
    let who = [&body.email, &body.phone, &body.device_id]
        .into_iter()
        .flatten()
        .map(|v| v.trim())
        .find(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::from(cityfix_domain::Invalid::missing(
                "email",
                "say who you are with an `email`, `phone` or `device_id`; it is counted, never shown",
            ))
        })?;
    if who.chars().count() > 254 || cityfix_domain::text::forbidden_char(who).is_some() {
        return Err(ApiError::from(cityfix_domain::Invalid::field(
            "email",
            "that is not an e-mail, phone or device id",
        )));
    }
    if !matches!(
        request.status,
        Status::Submitted | Status::Open | Status::InProgress
    ) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_open",
            format!(
                "{} is {}; only a report still being worked takes supporters",
                request.id, request.status
            ),
        ));
    }
    let person = fingerprint(&format!("{}\u{1f}{}", request.id, who.to_lowercase()));
    let decision_id = format!("support-{}", &person[..24]);
    hand_to_status(
        &intake,
        &request,
        decision_id,
        supporter(),
        WorkAction::Support,
    )
    .await
}

/// Refuses media an update cannot show: more than `MAX_MEDIA_PER_ENTRY`, or an id that is not a
/// checked file of `request` (status checks again when it applies the update).
fn shown_with_an_update(request: &ServiceRequest, media: &[String]) -> Result<(), ApiError> {
    match media_keys(request, media) {
        Ok(_) => Ok(()),
        Err(Rejection::Invalid(invalid)) => Err(invalid.into()),
        Err(other) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "refused",
            format!("{other:?}"),
        )),
    }
}

/// The request `typed` names, if `token` is its reporter's: 404 for an unknown request, 403 for a
/// wrong token (the same words whether or not the token is another report's); a confidential
/// or hidden report with a wrong token is 404, as to the public.
async fn reporters_request(
    intake: &Intake,
    typed: &str,
    token: &str,
) -> Result<ServiceRequest, ApiError> {
    let request = stored_request(intake.deps.store.as_ref(), typed).await?;
    let owner = intake.deps.store.find_token(token.trim()).await?;
    if owner.as_ref() != Some(&request.id) && !shown_publicly(&intake.deps.city, &request) {
        return public_request(intake.deps.store.as_ref(), &intake.deps.city, typed).await;
    }
    if owner.as_ref() != Some(&request.id) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the reporter does this: send the token given when the report was made",
        ));
    }
    Ok(request)
}

/// Queues the change for status and answers 202: it shows on the report in a moment.
async fn hand_to_status(
    intake: &Intake,
    request: &ServiceRequest,
    decision_id: String,
    by: cityfix_app::work::Actor,
    action: WorkAction,
) -> Result<Response, ApiError> {
    let what = action.name();
    let command = StatusCommand::Work(WorkCommand {
        request_id: request.id.clone(),
        decision_id,
        by,
        expected_version: None,
        action,
    });
    let body = serde_json::to_string(&command).expect("a command serialises");
    intake.deps.queue.send(QueueName::Status, &body).await?;
    tracing::info!(request_id = %request.id, action = what, "resident action queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "service_request_id": request.id.as_str(), "accepted": what })),
    )
        .into_response())
}
