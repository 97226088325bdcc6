//! Photos and videos on a report: a signed form to upload one straight to media storage, and the
//! public link to a checked one.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cityfix_app::media::{
    accepted, original_key, upload_key, DOWNLOAD_LINK_LIFETIME, MAX_FILES_PER_REQUEST,
    UPLOAD_FORM_LIFETIME,
};
use cityfix_http::api::ApiError;
use serde::Deserialize;
use serde_json::json;

use crate::Intake;
use cityfix_http::api::stored_request;

type Shared = State<Arc<Intake>>;

pub fn routes() -> Router<Arc<Intake>> {
    Router::new()
        .route("/api/v1/requests/{id}/media", post(upload_form))
        .route("/api/v1/media/{id}/{file}", get(read))
}

/// The body of `POST /api/v1/requests/{id}/media`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadAsk {
    /// The token given when the report was made: only its reporter adds photos.
    token: String,
    content_type: String,
    /// The file's size in bytes.
    size: u64,
}

/// A form for one file, used once, good for 15 minutes: its fields go first and the file last, as
/// S3 requires, so storage checks the signed fields before it reads the file. The media function
/// checks the file once stored; the report's files are counted when it is attached.
async fn upload_form(
    State(intake): Shared,
    Path(id): Path<String>,
    body: Result<Json<UploadAsk>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(ask) = body.map_err(|rejection| {
        let status = match rejection.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, "malformed_body", rejection.body_text())
    })?;
    let request = stored_request(intake.deps.store.as_ref(), &id).await?;
    let owner = intake.deps.store.find_token(ask.token.trim()).await?;
    if owner.as_ref() != Some(&request.id) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the reporter adds photos: send the token given when the report was made",
        ));
    }
    let Some(kind) = accepted(&ask.content_type) else {
        let kinds: Vec<&str> = cityfix_app::media::ACCEPTED
            .iter()
            .map(|k| k.content_type)
            .collect();
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send one of {}", kinds.join(", ")),
        ));
    };
    if ask.size == 0 || ask.size > kind.max_bytes {
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
    let form = intake
        .media
        .upload_form(&key, kind.content_type, ask.size, UPLOAD_FORM_LIFETIME)
        .await?;
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

/// A checked photo or video of a report: a redirect to a link good for an hour.
async fn read(
    State(intake): Shared,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let request = stored_request(intake.deps.store.as_ref(), &id).await?;
    let key = original_key(&request.id, &file);
    if !request.media.contains(&key) {
        return Err(ApiError::not_found(format!(
            "report {} has no file `{}`",
            request.id,
            file.chars().take(80).collect::<String>()
        )));
    }
    let link = intake
        .media
        .download_url(&key, DOWNLOAD_LINK_LIFETIME)
        .await?;
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, link),
            (header::CACHE_CONTROL, "private, max-age=600".to_string()),
        ],
    )
        .into_response())
}
