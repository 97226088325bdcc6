//! Upload forms for photos and videos of a request, the same for residents and staff: one
//! accepted kind, a size within its limit, room left on the request, good for 15 minutes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cityfix_app::media::{
    accepted, record_state, upload_key, MediaState, MAX_FILES_PER_REQUEST, UPLOAD_FORM_LIFETIME,
};
use cityfix_app::ports::MediaStore;
use cityfix_domain::ServiceRequest;
use serde_json::json;

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
    if request.media.len() >= MAX_FILES_PER_REQUEST {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_files",
            format!("a report takes at most {MAX_FILES_PER_REQUEST} photos and videos"),
        ));
    }
    let media_id = uuid::Uuid::new_v4().to_string();
    let key = upload_key(&request.id, &media_id, kind);
    let form = media
        .upload_form(&key, kind.content_type, size, UPLOAD_FORM_LIFETIME)
        .await?;
    let pending = MediaState::Pending {
        request_id: request.id.clone(),
    };
    record_state(media, &media_id, &pending).await?;
    let fields: serde_json::Map<String, serde_json::Value> = form
        .fields
        .into_iter()
        .map(|(name, value)| (name, json!(value)))
        .collect();
    tracing::info!(request_id = %request.id, %media_id, content_type = kind.content_type, "upload form issued");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "media_id": media_id,
            "upload": { "method": "POST", "url": form.url, "fields": fields, "file_field": "file" },
            "expires_in_s": UPLOAD_FORM_LIFETIME.as_secs(),
        })),
    )
        .into_response())
}
