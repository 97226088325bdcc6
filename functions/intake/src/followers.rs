//! `POST /api/v1/requests/{id}/followers`: an e-mail or phone asks to follow a report; a signed link sent to it confirms.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use cityfix_app::follow::{ask_to_follow, FollowRefused, CONFIRM_FOLLOW_HOURS};
use cityfix_domain::report::check_contact;
use cityfix_domain::{Contact, Invalid, Language};
use cityfix_http::api::{public_request, ApiError};
use cityfix_http::json::read_json;
use serde::Deserialize;
use serde_json::json;

use crate::Intake;

pub fn routes() -> Router<Arc<Intake>> {
    Router::new().route("/api/v1/requests/{id}/followers", post(follow))
}

/// The body: one address, and the language to write to it in (else the browser's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FollowBody {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    language: Option<String>,
}

impl FollowBody {
    fn into_contact(
        self,
        accept_language: Option<&str>,
        country_calling_code: u16,
    ) -> Result<Contact, Invalid> {
        let given = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
        match (given(&self.email), given(&self.phone)) {
            (false, false) => {
                return Err(Invalid::missing(
                    "email",
                    "give the `email` or `phone` that news of this report should go to",
                ))
            }
            (true, true) => {
                return Err(Invalid::field(
                    "phone",
                    "give one address, an `email` or a `phone`, not both; ask again for the other",
                ))
            }
            _ => {}
        }
        let language = match self.language.as_deref() {
            Some(tag) => Some(
                Language::parse(tag)
                    .ok_or_else(|| Invalid::field("language", "language must be `en` or `es`"))?,
            ),
            None => accept_language.and_then(Language::from_accept_language),
        };
        check_contact(
            Contact {
                email: self.email.filter(|v| !v.trim().is_empty()),
                phone: self.phone.filter(|v| !v.trim().is_empty()),
                language,
                ..Contact::default()
            },
            country_calling_code,
        )
    }
}

/// Asks to follow: 202 with the same words whether or not the address follows already, so the
/// answer never tells who follows a report.
async fn follow(
    State(intake): State<Arc<Intake>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: FollowBody = read_json(&headers, &body)?;
    let deps = &intake.deps;
    let contact = body.into_contact(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
        deps.city.country_calling_code,
    )?;
    let request = public_request(deps.store.as_ref(), &deps.city, &id).await?;
    match ask_to_follow(
        deps.store.as_ref(),
        deps.queue.as_ref(),
        &deps.city,
        &request,
        contact,
        deps.clock.now(),
    )
    .await
    {
        Ok(()) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({
                "service_request_id": request.id.as_str(),
                "accepted": "follow",
                "message": format!(
                    "unless this address follows the report already, a message is on its way with a link that confirms; the link works for {CONFIRM_FOLLOW_HOURS} hours"
                ),
            })),
        )
            .into_response()),
        Err(FollowRefused::Port(error)) => Err(error.into()),
        Err(refused @ (FollowRefused::NotOpen(..) | FollowRefused::Confidential)) => Err(
            ApiError::new(StatusCode::CONFLICT, "not_followable", refused.to_string()),
        ),
        Err(refused @ FollowRefused::Full(_)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_followers",
            refused.to_string(),
        )),
    }
}
