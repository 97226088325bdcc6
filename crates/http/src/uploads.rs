//! Upload forms for photos and videos, the same for residents and staff: one accepted kind, a
//! size within its limit, room left on the request (or the upload token), good for 15 minutes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use cityfix_app::media::{
    accepted, record_state, upload_key, MediaKind, MediaState, MAX_FILES_FROM_REPORTER,
    MAX_FILES_PER_REQUEST, UPLOAD_FORM_LIFETIME,
};
use cityfix_app::ports::MediaStore;
use cityfix_app::slots::{give_slot, owner_of, slot_upload_key, SlotRefusal};
use cityfix_domain::ServiceRequest;
use serde_json::{json, Value};

use crate::api::ApiError;

/// A form for one file of `request`, used once: its fields go first and the file last, as S3
/// requires, so storage checks the signed fields before it reads the file. The media function
/// checks the file once stored; the request's files are counted again when it is attached.
pub async fn upload_form(
    media: &dyn MediaStore,
    request: &ServiceRequest,
    content_type: &str,
    size: u64,
) -> Result<Response, ApiError> {
    let kind = accepted_kind(content_type, size)?;
    if request.media.len() >= MAX_FILES_PER_REQUEST {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_files",
            format!("a report takes at most {MAX_FILES_PER_REQUEST} photos and videos"),
        ));
    }
    let media_id = uuid::Uuid::new_v4().to_string();
    let pending = MediaState::Pending {
        request_id: request.id.clone(),
    };
    record_state(media, &media_id, &pending).await?;
    let key = upload_key(&request.id, &media_id, kind);
    tracing::info!(request_id = %request.id, %media_id, content_type = kind.content_type, "upload form issued");
    issue(media, &key, kind, size, &media_id, json!({})).await
}

/// A slot for one file before its report exists (`POST /api/v1/media`): a form as
/// [`upload_form`] gives, bound to `token` (a fresh one when none is sent, returned as
/// `upload_token`), at most [`MAX_FILES_FROM_REPORTER`] per token.
pub async fn slot_form(
    media: &dyn MediaStore,
    token: Option<&str>,
    content_type: &str,
    size: u64,
    now: DateTime<Utc>,
) -> Result<Response, ApiError> {
    let kind = accepted_kind(content_type, size)?;
    let (token, fresh) = match token.map(str::trim) {
        Some(token) if !token.is_empty() => (token.to_string(), false),
        _ => (uuid::Uuid::new_v4().to_string(), true),
    };
    let owner = owner_of(&token);
    let media_id = uuid::Uuid::new_v4().to_string();
    let slot = give_slot(media, &owner, fresh, &media_id, kind.content_type, now).await?;
    match slot {
        Ok(_) => {}
        Err(SlotRefusal::Full) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "too_many_files",
                format!("an upload token takes at most {MAX_FILES_FROM_REPORTER} photos and videos, the most a report takes from its reporter"),
            ))
        }
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "that upload token was not given here (or its uploads were dropped): send none to get a new one",
            ))
        }
    }
    let key = slot_upload_key(&owner, &media_id, kind);
    tracing::info!(%media_id, content_type = kind.content_type, "upload slot issued");
    issue(
        media,
        &key,
        kind,
        size,
        &media_id,
        json!({ "upload_token": token }),
    )
    .await
}

/// The accepted kind of a file a form is asked for; a 415 or 413 with the reason otherwise.
fn accepted_kind(content_type: &str, size: u64) -> Result<&'static MediaKind, ApiError> {
    let Some(kind) = accepted(content_type) else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            cityfix_app::media::not_accepted(content_type),
        ));
    };
    if size == 0 || size > kind.max_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "file_too_large",
            format!(
                "a {} may have 1 to {} bytes",
                kind.content_type, kind.max_bytes
            ),
        ));
    }
    Ok(kind)
}

/// The form for `key` and the 201 that hands it over, with `extra` fields.
async fn issue(
    media: &dyn MediaStore,
    key: &str,
    kind: &MediaKind,
    size: u64,
    media_id: &str,
    extra: Value,
) -> Result<Response, ApiError> {
    let form = media
        .upload_form(key, kind.content_type, size, UPLOAD_FORM_LIFETIME)
        .await?;
    let fields: serde_json::Map<String, Value> = form
        .fields
        .into_iter()
        .map(|(name, value)| (name, json!(value)))
        .collect();
    let mut body = json!({
        "media_id": media_id,
        "upload": { "method": "POST", "url": form.url, "fields": fields, "file_field": "file" },
        "expires_in_s": UPLOAD_FORM_LIFETIME.as_secs(),
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
