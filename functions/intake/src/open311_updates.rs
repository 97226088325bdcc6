//! `POST servicerequestupdates` (the FixMyStreet extension of GeoReport v2): an outside system, such
//! as an asset or work-order system, adds a public note to a request or moves it, with the same
//! checks and events as a staff action.
//!
//! The client's key says what it may do (city.toml `may`). Intake checks the update against the
//! request as status will, answers at once with the update's id, and hands it to status on its
//! queue; the client's own `update_id` makes a repeated post the same update.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cityfix_app::messages::StatusCommand;
use cityfix_app::ports::QueueName;
use cityfix_app::transition::Rejection;
use cityfix_app::updates::update_id;
use cityfix_app::work::{check_work, Actor, WorkAction, WorkCommand};
use cityfix_domain::text::{echo, fingerprint};
use cityfix_domain::{ClientAction, Resolution, Status, TrackingNumber};
use cityfix_http::open311::{error, Format, Open311Response};
use serde_json::json;

use crate::Intake;

type Shared = State<Arc<Intake>>;

/// The fields of one posted update.
#[derive(Debug, Default)]
struct UpdateForm {
    api_key: Option<String>,
    jurisdiction_id: Option<String>,
    service_request_id: Option<String>,
    /// The client's own id of the update.
    update_id: Option<String>,
    status: Option<String>,
    description: Option<String>,
    media_url: Option<String>,
}

/// Reads the form; a field given twice or one this endpoint does not know of is refused, except
/// the reporter fields FixMyStreet sends, which are ignored (they are the client's staff).
fn parse(body: &[u8]) -> Result<UpdateForm, String> {
    let mut form = UpdateForm::default();
    for (name, value) in form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "api_key" => &mut form.api_key,
            "jurisdiction_id" => &mut form.jurisdiction_id,
            "service_request_id" => &mut form.service_request_id,
            "update_id" => &mut form.update_id,
            "status" => &mut form.status,
            "description" => &mut form.description,
            "media_url" => &mut form.media_url,
            "updated_datetime" | "first_name" | "last_name" | "email" | "account_id" => continue,
            other => return Err(format!("`{}` is not a field of an update", echo(other))),
        };
        if slot.is_some() {
            return Err(format!("`{name}` is given twice"));
        }
        *slot = Some(value.trim().to_string()).filter(|v| !v.is_empty());
    }
    Ok(form)
}

/// The status and resolution an update's `status` names: ours, or FixMyStreet's extended ones.
fn status_of(text: &str) -> Option<(Status, Option<Resolution>)> {
    Some(match text.to_ascii_lowercase().as_str() {
        "open" => (Status::Open, None),
        "in_progress" | "investigating" | "action_scheduled" => (Status::InProgress, None),
        "closed" | "fixed" => (Status::Closed, Some(Resolution::Fixed)),
        "no_further_action" | "not_councils_responsibility" => {
            (Status::Closed, Some(Resolution::NoAction))
        }
        "cancelled" => (Status::Closed, Some(Resolution::Cancelled)),
        _ => return None,
    })
}

pub async fn post_update(
    State(intake): Shared,
    format: Format,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match accept(&intake, format, &headers, body).await {
        Ok(response) | Err(response) => response,
    }
}

async fn accept(
    intake: &Intake,
    format: Format,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let bad = |status: StatusCode, message: String| error(format, status, message);
    let body =
        body.map_err(|r| bad(r.status(), format!("the request body cannot be read: {r}")))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.is_empty() && !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(bad(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Open311 updates are posted as application/x-www-form-urlencoded".into(),
        ));
    }
    let form = parse(&body).map_err(|why| bad(StatusCode::BAD_REQUEST, why))?;
    let city = &intake.deps.city;
    let client = form
        .api_key
        .as_deref()
        .and_then(|key| city.open311_client(key))
        .ok_or_else(|| {
            bad(
                StatusCode::FORBIDDEN,
                "api_key is missing or not valid".into(),
            )
        })?;
    if let Some(jurisdiction) = &form.jurisdiction_id {
        if jurisdiction != &city.jurisdiction_id {
            return Err(bad(
                StatusCode::NOT_FOUND,
                format!(
                    "this server serves the jurisdiction `{}`",
                    city.jurisdiction_id
                ),
            ));
        }
    }
    let missing = |field: &str| bad(StatusCode::BAD_REQUEST, format!("`{field}` is required"));
    let typed = form
        .service_request_id
        .as_deref()
        .ok_or_else(|| missing("service_request_id"))?;
    let their_id = form
        .update_id
        .as_deref()
        .ok_or_else(|| missing("update_id"))?;
    if their_id.chars().count() > 100 {
        return Err(bad(
            StatusCode::BAD_REQUEST,
            "`update_id` is at most 100 characters".into(),
        ));
    }
    let not_found = || {
        bad(
            StatusCode::NOT_FOUND,
            format!("there is no request `{}`", echo(typed)),
        )
    };
    let id = TrackingNumber::parse(typed).map_err(|_| not_found())?;
    let request = intake
        .deps
        .store
        .get(&id)
        .await
        .map_err(|_| bad(StatusCode::SERVICE_UNAVAILABLE, "please try again".into()))?
        .filter(|r| {
            !city
                .service(&r.service_code)
                .is_some_and(|s| s.confidential)
        })
        .ok_or_else(not_found)?;
    if let Some(url) = &form.media_url {
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 {
            return Err(bad(
                StatusCode::BAD_REQUEST,
                "media_url must be an http or https URL".into(),
            ));
        }
    }
    let mut note = form.description.clone();
    if let Some(url) = &form.media_url {
        note = Some(match note {
            Some(text) => format!("{text}\nPhoto: {url}"),
            None => format!("Photo: {url}"),
        });
    }
    let asked = match form.status.as_deref() {
        None => None,
        Some(text) => Some(status_of(text).ok_or_else(|| {
            bad(
                StatusCode::BAD_REQUEST,
                format!(
                    "`{}` is not a status: open, in_progress, closed, fixed, no_further_action or cancelled",
                    echo(text)
                ),
            )
        })?),
    };
    // A status the request already has is a note, as FixMyStreet posts comments.
    let (action, needs) = match asked {
        Some((to, resolution)) if to != request.status => (
            WorkAction::Transition {
                to,
                resolution,
                note,
                public: true,
                media: Vec::new(),
            },
            ClientAction::Transition,
        ),
        _ => (
            WorkAction::Note {
                text: note.ok_or_else(|| missing("description"))?,
                public: true,
                media: Vec::new(),
            },
            ClientAction::Note,
        ),
    };
    if !client.may(needs) {
        return Err(bad(
            StatusCode::FORBIDDEN,
            format!(
                "this api_key may not post updates that {}",
                if needs == ClientAction::Note {
                    "add notes"
                } else {
                    "change a request's status"
                }
            ),
        ));
    }
    let now = intake.deps.clock.now();
    check_work(city, &request, &action, now).map_err(|rejection| match rejection {
        Rejection::Illegal { from, legal } => bad(
            StatusCode::CONFLICT,
            cityfix_domain::work::illegal_move_message(&id, from, &legal),
        ),
        Rejection::Invalid(invalid) => bad(StatusCode::BAD_REQUEST, invalid.message),
        Rejection::Stale { .. } => bad(StatusCode::CONFLICT, "request changed; try again".into()),
    })?;
    let decision_id = format!(
        "open311-{}",
        &fingerprint(&format!("{}\u{1f}{their_id}", client.name))[..24]
    );
    let ours = update_id(&request.id, &decision_id);
    let command = StatusCommand::Work(WorkCommand {
        request_id: request.id.clone(),
        decision_id,
        by: Actor {
            id: format!("open311:{}", client.name),
            name: client.name.clone(),
            role: "open311_client".into(),
        },
        expected_version: None,
        action,
    });
    let body = serde_json::to_string(&command).expect("a command serialises");
    intake
        .deps
        .queue
        .send(QueueName::Status, &body)
        .await
        .map_err(|_| bad(StatusCode::SERVICE_UNAVAILABLE, "please try again".into()))?;
    tracing::info!(request_id = %request.id, client = %client.name, "open311 update queued");
    Ok(Open311Response::ok(
        format,
        "service_request_updates",
        json!([{ "update_id": ours, "account_id": null }]),
    )
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixmystreet_statuses_map_to_ours() {
        assert_eq!(
            status_of("FIXED"),
            Some((Status::Closed, Some(Resolution::Fixed)))
        );
        assert_eq!(
            status_of("ACTION_SCHEDULED"),
            Some((Status::InProgress, None))
        );
        assert_eq!(status_of("duplicate"), None);
    }

    #[test]
    fn a_field_given_twice_or_unknown_is_refused() {
        assert!(parse(b"status=open&status=closed").is_err());
        assert!(parse(b"surprise=1").is_err());
        let form = parse(b"service_request_id=7K3M-9QZ2&update_id=9&email=a%40b.org").unwrap();
        assert_eq!(form.update_id.as_deref(), Some("9"));
    }
}
