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
    key_of_file, original_key, state_of, version_key, MediaState, DOWNLOAD_LINK_LIFETIME,
    MAX_FILES_FROM_REPORTER, THUMBNAILS, WEB,
};
use cityfix_http::api::{ApiError, ApiQuery};
use serde::Deserialize;
use serde_json::json;

use crate::Intake;
use cityfix_http::api::{public_request, shown_publicly, stored_request};

type Shared = State<Arc<Intake>>;

pub fn routes() -> Router<Arc<Intake>> {
    Router::new()
        .route("/api/v1/requests/{id}/media", post(upload_form))
        .route("/api/v1/media", post(slot_form))
        .route("/api/v1/media/{id}", get(state))
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
    if owner.as_ref() != Some(&request.id) && !shown_publicly(&intake.deps.city, &request) {
        public_request(intake.deps.store.as_ref(), &intake.deps.city, &id).await?;
    }
    if owner.as_ref() != Some(&request.id) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the reporter adds photos: send the token given when the report was made",
        ));
    }
    if request.media.len() >= MAX_FILES_FROM_REPORTER {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_files",
            format!(
                "report {} has {} photos and videos, the most its reporter adds ({MAX_FILES_FROM_REPORTER})",
                request.id,
                request.media.len()
            ),
        ));
    }
    cityfix_http::uploads::upload_form(intake.media.as_ref(), &request, &ask.content_type, ask.size)
        .await
}

/// The body of `POST /api/v1/media`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotAsk {
    /// The token an earlier slot gave; none for the first file of a report not sent yet.
    #[serde(default)]
    upload_token: Option<String>,
    content_type: String,
    size: u64,
}

/// An upload slot before the report exists: a form as for a report's file, and the upload token
/// the report is then sent with (`upload_token` and `media`, the media ids), which binds the
/// files to it. A slot no report names within an hour is dropped.
async fn slot_form(
    State(intake): Shared,
    body: Result<Json<SlotAsk>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(ask) = body.map_err(|rejection| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_body",
            rejection.body_text(),
        )
    })?;
    cityfix_http::uploads::slot_form(
        intake.media.as_ref(),
        ask.upload_token.as_deref(),
        &ask.content_type,
        ask.size,
        intake.deps.clock.now(),
    )
    .await
}

/// The slots a report names, checked against its upload token before the report is stored.
pub(crate) async fn slots_named(
    intake: &Intake,
    token: Option<&str>,
    media: &[String],
) -> Result<Vec<cityfix_app::slots::Slot>, ApiError> {
    use cityfix_app::slots::{claimable, SlotRefusal};
    use cityfix_domain::text::echo;
    if media.is_empty() {
        return Ok(Vec::new());
    }
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(cityfix_domain::Invalid::missing(
            "upload_token",
            "media uploaded before the report need the upload_token their slots gave",
        )
        .into());
    };
    match claimable(intake.media.as_ref(), token, media).await? {
        Ok(slots) => Ok(slots),
        Err(SlotRefusal::TooMany(n)) => Err(cityfix_domain::Invalid::field(
            "media",
            format!("a report takes at most {MAX_FILES_FROM_REPORTER} photos and videos from its reporter; {n} were named"),
        )
        .with_code("too_many_files")
        .into()),
        Err(SlotRefusal::NotYours { media_id, theirs: true }) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("media `{}` was uploaded with another upload token", echo(&media_id)),
        )),
        Err(SlotRefusal::Dropped { media_id, reason }) => Err(cityfix_domain::Invalid::field(
            "media",
            format!("media `{}` cannot be added: {reason}", echo(&media_id)),
        )
        .with_code("media_dropped")
        .into()),
        Err(_) => Err(cityfix_domain::Invalid::field(
            "media",
            "a media id was never given: ask POST /api/v1/media for a slot first",
        )
        .with_code("unknown_media")
        .into()),
    }
}

/// Where a media is: `pending` (given a form, not checked yet), `ready` (attached, with its link),
/// `private` (attached, kept from the public by staff: no link) or `rejected` (with the reason the
/// reporter is told).
async fn state(State(intake): Shared, Path(id): Path<String>) -> Result<Response, ApiError> {
    let found = match cityfix_app::media::plain_media_id(&id) {
        true => state_of(intake.media.as_ref(), &id).await?,
        false => None,
    };
    let Some(found) = found else {
        return Err(ApiError::not_found(format!(
            "no media `{}`",
            id.chars().take(64).collect::<String>()
        )));
    };
    if let MediaState::Ready { request_id, url } = &found {
        if kept_private(&intake, request_id, url).await? {
            let body = json!({ "state": "private", "media_id": id, "request_id": request_id });
            return Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response());
        }
    }
    let mut body = serde_json::to_value(&found).expect("a media state always serialises");
    body["media_id"] = json!(id);
    if let MediaState::Ready { url, .. } = &found {
        if !url.ends_with(".mp4") && !url.ends_with(".mov") {
            body["thumbnail_url"] = json!(format!("{url}?size=thumbnail"));
        }
    }
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// Whether staff keep the ready media at `url` private: its state then tells no link.
async fn kept_private(
    intake: &Intake,
    request_id: &cityfix_domain::TrackingNumber,
    url: &str,
) -> Result<bool, ApiError> {
    let Some(request) = intake.deps.store.get(request_id).await? else {
        return Ok(false);
    };
    let file = url.rsplit('/').next().unwrap_or_default();
    Ok(request
        .private_media
        .iter()
        .any(|key| key.rsplit('/').next() == Some(file)))
}

/// Which version of a photo a link reads.
#[derive(Debug, Default, Deserialize)]
struct ReadAsk {
    /// `thumbnail` for the 320 px version; otherwise the web version.
    #[serde(default)]
    size: Option<String>,
}

/// A checked photo or video of a report: a redirect to a link good for an hour. A photo is read
/// in its web version (or its thumbnail with `?size=thumbnail`); its original is for staff.
async fn read(
    State(intake): Shared,
    Path((id, file)): Path<(String, String)>,
    ApiQuery(ask): ApiQuery<ReadAsk>,
) -> Result<Response, ApiError> {
    let request = public_request(intake.deps.store.as_ref(), &intake.deps.city, &id).await?;
    let key = key_of_file(&request, &file)
        .cloned()
        .unwrap_or_else(|| original_key(&request.id, &file));
    // A file staff keep private is not there for the public, in the same words as one never added.
    if !request.shows_media(&key) {
        return Err(ApiError::not_found(format!(
            "report {} has no file `{}`",
            request.id,
            file.chars().take(80).collect::<String>()
        )));
    }
    let folder = match ask.size.as_deref() {
        Some("thumbnail") => THUMBNAILS,
        _ => WEB,
    };
    // Photos kept before there were versions have only their original.
    let shown = match version_key(&key, folder) {
        Some(version) if intake.media.head(&version).await?.is_some() => version,
        _ => key,
    };
    let link = intake
        .media
        .download_url(&shown, DOWNLOAD_LINK_LIFETIME)
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
