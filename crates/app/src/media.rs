//! Photos and videos residents add to a report: what is accepted, where it is kept, and the check of
//! each upload before anyone else sees it.
//!
//! A browser asks intake for an upload form, posts the file straight to media storage under
//! `uploads/<request>/<media id>.<ext>`, and storage tells the media function. The media function
//! checks the bytes really are the declared kind and size; for a photo it makes a web version and a
//! thumbnail with no metadata at all and cuts the metadata out of the original (see
//! [`crate::photo`]); for a video it blanks the location and device boxes (see [`crate::video`]).
//! It keeps the versions under `web/…` and `thumbnails/…`, the original under `originals/…` (for
//! staff), deletes the upload, and asks status to attach it. A refused upload is deleted and status
//! leaves the reporter a note saying why. Nothing under `uploads/` is ever shown.

use std::sync::Arc;
use std::time::Duration;

use crate::messages::StatusCommand;
use crate::ports::{MediaStore, PortError, PortResult, Queue, QueueName};
use crate::AppError;
use cityfix_domain::{ServiceRequest, TrackingNumber};

/// A kind of file residents may add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaKind {
    pub content_type: &'static str,
    pub extension: &'static str,
    pub max_bytes: u64,
}

const MB: u64 = 1024 * 1024;

impl MediaKind {
    /// Whether this kind is a photo (decoded and re-encoded) rather than a video (stripped only).
    pub fn is_photo(&self) -> bool {
        self.content_type.starts_with("image/")
    }

    /// What residents call a file of this kind.
    pub fn noun(&self) -> &'static str {
        if self.is_photo() {
            "Photo"
        } else {
            "Video"
        }
    }
}

/// Every kind accepted: common phone photos and videos.
pub const ACCEPTED: &[MediaKind] = &[
    MediaKind {
        content_type: "image/jpeg",
        extension: "jpg",
        max_bytes: 15 * MB,
    },
    MediaKind {
        content_type: "image/png",
        extension: "png",
        max_bytes: 15 * MB,
    },
    MediaKind {
        content_type: "image/webp",
        extension: "webp",
        max_bytes: 15 * MB,
    },
    MediaKind {
        content_type: "video/mp4",
        extension: "mp4",
        max_bytes: 100 * MB,
    },
    MediaKind {
        content_type: "video/quicktime",
        extension: "mov",
        max_bytes: 100 * MB,
    },
];

/// Most files one request takes; counted when a file is attached, by the store's write.
pub const MAX_FILES_PER_REQUEST: usize = cityfix_domain::ServiceRequest::MAX_MEDIA;

/// Most files a reporter adds to their report (at submission or after): a resident's form is
/// refused once the request holds this many. Staff may add photos of the work up to
/// [`MAX_FILES_PER_REQUEST`]; each update shows at most 5 (`work::MAX_MEDIA_PER_ENTRY`).
pub const MAX_FILES_FROM_REPORTER: usize = 5;

/// How long an upload form stays good.
pub const UPLOAD_FORM_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// How long a link to a photo stays good.
pub const DOWNLOAD_LINK_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// The accepted kind of `content_type`, if any.
pub fn accepted(content_type: &str) -> Option<&'static MediaKind> {
    let content_type = content_type.trim().to_ascii_lowercase();
    ACCEPTED.iter().find(|k| k.content_type == content_type)
}

/// The accepted kind of a file by its first bytes (never by the name or type it came with).
pub fn sniffed_kind(bytes: &[u8]) -> Option<&'static MediaKind> {
    infer::get(bytes).and_then(|sniffed| accepted(sniffed.mime_type()))
}

/// Why `what` (a fetched or attached file) of no accepted kind is refused, naming the kinds taken.
pub fn not_a_kind_taken(what: &str) -> String {
    let kinds: Vec<&str> = ACCEPTED.iter().map(|k| k.content_type).collect();
    format!(
        "{what} is not a photo or video of a kind taken ({})",
        kinds.join(", ")
    )
}

/// Why `content_type` is not taken, naming the kinds that are. HEIC (iPhones' own format) has no
/// well-kept pure-Rust decoder, so it is refused with a hint to send JPEG.
pub fn not_accepted(content_type: &str) -> String {
    let kinds: Vec<&str> = ACCEPTED.iter().map(|k| k.content_type).collect();
    let heic = [
        "image/heic",
        "image/heif",
        "image/heic-sequence",
        "image/heif-sequence",
    ];
    let hint = if heic.contains(&content_type.trim().to_ascii_lowercase().as_str()) {
        "HEIC photos are not taken (an iPhone sends JPEG when its camera is set to \"Most \
         Compatible\", and most browsers convert when they upload); "
    } else {
        ""
    };
    format!("{hint}send one of {}", kinds.join(", "))
}

fn by_extension(extension: &str) -> Option<&'static MediaKind> {
    ACCEPTED.iter().find(|k| k.extension == extension)
}

/// Where a browser uploads a file: `uploads/<request>/<media id>.<ext>`.
pub fn upload_key(request_id: &TrackingNumber, media_id: &str, kind: &MediaKind) -> String {
    format!("uploads/{request_id}/{media_id}.{}", kind.extension)
}

/// Where the fetch function puts a file fetched from a client's `media_url`, for the same check as
/// an upload: `fetched/<request>/<media id>.<ext>` (storage tells nobody of these; the fetch
/// function checks each itself).
pub fn fetched_key(request_id: &TrackingNumber, media_id: &str, kind: &MediaKind) -> String {
    format!("fetched/{request_id}/{media_id}.{}", kind.extension)
}

/// Where a checked file is kept: `originals/<request>/<file>`.
pub fn original_key(request_id: &TrackingNumber, file: &str) -> String {
    format!("originals/{request_id}/{file}")
}

/// The folder of the web versions of photos (at most 1,600 px, JPEG): what the public sees.
pub const WEB: &str = "web";

/// The folder of the thumbnails of photos (at most 320 px, JPEG).
pub const THUMBNAILS: &str = "thumbnails";

/// Where the `folder` version of a kept photo is: `<folder>/<request>/<media id>.jpg`. `None` for
/// a video (it has only its original) or a key that is not a kept file.
pub fn version_key(original: &str, folder: &str) -> Option<String> {
    let rest = original.strip_prefix("originals/")?;
    let (stem, extension) = rest.rsplit_once('.')?;
    by_extension(extension)
        .filter(|kind| kind.is_photo())
        .map(|_| format!("{folder}/{stem}.jpg"))
}

/// Every file kept for the media at `original`: the original and, for a photo, its versions.
pub fn kept_files(original: &str) -> Vec<String> {
    let mut files: Vec<String> = [WEB, THUMBNAILS]
        .iter()
        .filter_map(|folder| version_key(original, folder))
        .collect();
    files.push(original.to_string());
    files
}

/// The public link of a kept file of `request` (`originals/<request>/<file>`, or a slot's
/// `originals/slot-…/<file>` it was created with), which the media route serves (a photo in its
/// web version); `None` for a key that is not one of its files.
pub fn media_link(public_url: &str, request: &TrackingNumber, key: &str) -> Option<String> {
    let (owner, file) = key.strip_prefix("originals/")?.split_once('/')?;
    let owned = owner == request.as_str() || crate::slots::is_slot_owner(owner);
    if file.is_empty() || file.contains('/') || !owned {
        return None;
    }
    Some(format!(
        "{}/api/v1/media/{request}/{file}",
        public_url.trim_end_matches('/')
    ))
}

/// The key of the kept file a request's media route names by its file name (`<media id>.<ext>`).
pub fn key_of_file<'a>(request: &'a ServiceRequest, file: &str) -> Option<&'a String> {
    request
        .media
        .iter()
        .find(|key| key.rsplit('/').next() == Some(file))
}

/// Whether a kept file is a photo (it has web and thumbnail versions) rather than a video.
pub fn is_photo_key(key: &str) -> bool {
    version_key(key, WEB).is_some()
}

/// The links of every photo and video of `request` the public may see, in the order they came
/// (Open311's extension `media_urls`).
pub fn public_links(public_url: &str, request: &ServiceRequest) -> Vec<String> {
    request
        .public_media()
        .filter_map(|key| media_link(public_url, &request.id, key))
        .collect()
}

/// The one picture a request shows (Open311 `media_url`): the web version of its first photo the
/// public may see; none while it has no photo or its only photos are private. A link an Open311
/// client gave is never shown: such a photo is fetched and checked first (see [`crate::fetch`]).
pub fn shown_media_url(public_url: &str, request: &ServiceRequest) -> Option<String> {
    request
        .public_media()
        .find(|key| is_photo_key(key))
        .and_then(|key| media_link(public_url, &request.id, key))
}

/// [`shown_media_url`] for a caller that does not know the public address: the address is read
/// from the link of ours the request keeps, if it keeps one.
pub fn shown_media_url_of(request: &ServiceRequest) -> Option<String> {
    let (public_url, _) = request.media_url.as_deref()?.split_once("/api/v1/media/")?;
    shown_media_url(public_url, request)
}

/// Whether `media_id` may be a media id: 1 to 64 letters, digits and dashes (a uuid), so it is
/// safe in a storage key.
pub fn plain_media_id(media_id: &str) -> bool {
    !media_id.is_empty()
        && media_id.len() <= 64
        && media_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// An upload's request, media id and kind, read from its key.
pub fn parse_upload_key(key: &str) -> Option<(TrackingNumber, String, &'static MediaKind)> {
    parse_key_under("uploads/", key)
}

/// A request's file under `folder` (`uploads/`, `fetched/`): its request, media id and kind.
fn parse_key_under(
    folder: &str,
    key: &str,
) -> Option<(TrackingNumber, String, &'static MediaKind)> {
    let rest = key.strip_prefix(folder)?;
    let (request, file) = rest.split_once('/')?;
    let (media_id, extension) = file.rsplit_once('.')?;
    if !plain_media_id(media_id) {
        return None;
    }
    let request_id = TrackingNumber::parse(request).ok()?;
    Some((request_id, media_id.to_string(), by_extension(extension)?))
}

/// Where a media's state is: pending, ready or rejected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MediaState {
    /// A form was given; the file is not checked yet (or not sent).
    Pending { request_id: TrackingNumber },
    /// Checked and attached to the request: shown at `url`.
    Ready {
        request_id: TrackingNumber,
        url: String,
    },
    /// Refused, with the reason the reporter is told.
    Rejected {
        request_id: TrackingNumber,
        reason: String,
    },
    /// An upload slot given before its report (see [`crate::slots`]): waiting for its file to be
    /// checked and for a report to name it.
    Waiting,
    /// A slot's file refused before any report named it, or a slot no report named in time.
    Dropped { reason: String },
}

/// The files that hold a media's state, beside the media: `states/<media id>.pending` from when a
/// form is given, `states/<media id>.done` once status attached or refused it. Each is written once
/// (storage never replaces a file), so a redelivery cannot turn a refused media ready.
fn state_key(media_id: &str, done: bool) -> String {
    let media_id = media_id.strip_prefix("media-").unwrap_or(media_id);
    format!(
        "states/{media_id}.{}",
        if done { "done" } else { "pending" }
    )
}

/// Records a media's state; a state recorded before stands.
pub async fn record_state(
    media: &dyn MediaStore,
    media_id: &str,
    state: &MediaState,
) -> PortResult<()> {
    let done = !matches!(state, MediaState::Pending { .. } | MediaState::Waiting);
    let body = serde_json::to_vec(state).expect("a media state always serialises");
    match media
        .put(&state_key(media_id, done), body, "application/json")
        .await
    {
        Ok(()) | Err(PortError::AlreadyExists(_)) => Ok(()),
        Err(other) => Err(other),
    }
}

/// A media's state, `None` for a media id never given.
pub async fn state_of(media: &dyn MediaStore, media_id: &str) -> PortResult<Option<MediaState>> {
    for done in [true, false] {
        match media.get(&state_key(media_id, done)).await {
            Ok(bytes) => {
                return Ok(serde_json::from_slice(&bytes).ok());
            }
            Err(PortError::NotFound(_)) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(None)
}

/// What the media function needs.
#[derive(Clone)]
pub struct MediaDeps {
    pub media: Arc<dyn MediaStore>,
    pub queue: Arc<dyn Queue>,
    /// Where the public reads photos from (`<public_url>/api/v1/media/…`), no trailing slash.
    pub public_url: String,
}

/// What checking an upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Kept under `key` and sent to status to be attached.
    Attached {
        request_id: TrackingNumber,
        key: String,
    },
    /// A slot's file, checked and kept under `key`, waiting for a report to name it.
    Held { key: String },
    /// Not what it claimed to be, too big, or a second upload of a media id kept before: deleted.
    Refused(String),
    /// Already handled (the upload is gone), or not an upload at all.
    Ignored,
}

/// Checks one upload and, if it is good, keeps it and asks status to attach it. Safe to repeat:
/// each step is idempotent, and the upload is deleted only after status has been asked.
pub async fn check_upload(deps: &MediaDeps, key: &str) -> Result<Checked, AppError> {
    if let Some(slot) = parse_slot_upload_key(key) {
        return check_slot_upload(deps, key, slot).await;
    }
    let parsed = parse_upload_key(key).or_else(|| parse_key_under("fetched/", key));
    let Some((request_id, media_id, kind)) = parsed else {
        if key.starts_with("uploads/") || key.starts_with("fetched/") {
            deps.media.delete(key).await?;
            return Ok(Checked::Refused(format!("`{key}` is not an upload key")));
        }
        return Ok(Checked::Ignored);
    };
    let file = format!("{media_id}.{}", kind.extension);
    let original = original_key(&request_id, &file);
    let kept_before = match keep(deps, key, &original, kind).await? {
        Kept::Gone => return Ok(Checked::Ignored),
        Kept::Refused(why) => {
            return refuse_and_tell(deps, key, &request_id, &media_id, kind, why).await
        }
        Kept::Now => false,
        Kept::Before => true,
    };
    let command = StatusCommand::AttachMedia {
        request_id: request_id.clone(),
        media_id: format!("media-{media_id}"),
        key: original.clone(),
        content_type: kind.content_type.to_string(),
        url: format!("{}/api/v1/media/{request_id}/{file}", deps.public_url),
    };
    let body = serde_json::to_string(&command).expect("a status command always serialises");
    deps.queue.send(QueueName::Status, &body).await?;
    deps.media.delete(key).await?;
    if kept_before {
        return Ok(Checked::Refused(format!(
            "media {media_id} of request {request_id} was kept before; an upload form stores one \
             file once, so this upload is deleted and the first file stands"
        )));
    }
    Ok(Checked::Attached {
        request_id,
        key: original,
    })
}

/// A slot's upload (see [`crate::slots`]), read from its key.
fn parse_slot_upload_key(key: &str) -> Option<crate::slots::Slot> {
    let (owner, file) = key.strip_prefix("uploads/")?.split_once('/')?;
    let (media_id, extension) = file.rsplit_once('.')?;
    (crate::slots::is_slot_owner(owner) && plain_media_id(media_id)).then_some(())?;
    Some(crate::slots::Slot {
        owner: owner.to_string(),
        media_id: media_id.to_string(),
        kind: by_extension(extension)?,
    })
}

/// Checks a slot's upload and keeps it; has status attach it if a report named it already,
/// else it waits for one. A refused file of a slot no report named yet is dropped with why.
async fn check_slot_upload(
    deps: &MediaDeps,
    key: &str,
    slot: crate::slots::Slot,
) -> Result<Checked, AppError> {
    let original = slot.original();
    let refused = match keep(deps, key, &original, slot.kind).await? {
        Kept::Gone => return Ok(Checked::Ignored),
        Kept::Refused(why) => Some(why),
        Kept::Now | Kept::Before => None,
    };
    // Kept first, then read whether a report named it: a report binds first, then looks for the
    // kept file, so one of the two always sees the other.
    let bound = crate::slots::bound_to(deps.media.as_ref(), &slot.media_id).await?;
    let checked = match (refused, bound) {
        (Some(why), Some(request_id)) => {
            return refuse_and_tell(deps, key, &request_id, &slot.media_id, slot.kind, why).await
        }
        (Some(why), None) => {
            let reason = format!("{} not added: {why}", slot.kind.noun());
            record_state(
                deps.media.as_ref(),
                &slot.media_id,
                &MediaState::Dropped { reason },
            )
            .await?;
            Checked::Refused(why)
        }
        (None, Some(request_id)) => {
            crate::slots::attach(deps.queue.as_ref(), &deps.public_url, &request_id, &slot).await?;
            Checked::Attached {
                request_id,
                key: original,
            }
        }
        (None, None) => Checked::Held { key: original },
    };
    deps.media.delete(key).await?;
    Ok(checked)
}

/// What checking and keeping one upload did.
enum Kept {
    /// The upload is gone (handled before).
    Gone,
    Refused(String),
    /// Kept now, or by an earlier run (a media id is kept once).
    Now,
    Before,
}

/// Checks the upload at `key` is the declared kind and size and keeps it at `original`, a photo
/// with its web version and thumbnail, a video stripped. Nothing is kept when it is refused.
async fn keep(
    deps: &MediaDeps,
    key: &str,
    original: &str,
    kind: &MediaKind,
) -> Result<Kept, AppError> {
    let Some(head) = deps.media.head(key).await? else {
        return Ok(Kept::Gone);
    };
    if head.size == 0 || head.size > kind.max_bytes {
        return Ok(Kept::Refused(format!(
            "the file has {} bytes; a {} may have 1 to {} bytes",
            head.size, kind.content_type, kind.max_bytes
        )));
    }
    let mut bytes = deps.media.get(key).await?;
    let sniffed = infer::get(&bytes).map(|t| t.mime_type());
    if sniffed != Some(kind.content_type) {
        return Ok(Kept::Refused(format!(
            "declared {} but the bytes are {}",
            kind.content_type,
            sniffed.unwrap_or("of no known kind")
        )));
    }
    let bytes = if kind.is_photo() {
        let prepared = match crate::photo::prepare(kind.content_type, &bytes) {
            Ok(prepared) => prepared,
            Err(why) => return Ok(Kept::Refused(why)),
        };
        drop(bytes);
        // The small versions first and the original last: the original is what marks the upload
        // kept, so a run stopped half-way makes them all again.
        for (version, folder) in [(prepared.web, WEB), (prepared.thumbnail, THUMBNAILS)] {
            let at = version_key(original, folder).expect("a photo has versions");
            match deps.media.put(&at, version, "image/jpeg").await {
                Ok(()) | Err(PortError::AlreadyExists(_)) => {}
                Err(other) => return Err(other.into()),
            }
        }
        prepared.original
    } else {
        if let Err(why) = crate::video::strip_metadata(&mut bytes) {
            return Ok(Kept::Refused(why));
        }
        bytes
    };
    // A media id is kept once: a second upload with the same form never replaces a file that may
    // be public. Status is still asked to attach the first (it attaches a media id once), in case
    // an earlier run kept it and stopped before asking.
    match deps.media.put(original, bytes, kind.content_type).await {
        Ok(()) => Ok(Kept::Now),
        Err(PortError::AlreadyExists(_)) => Ok(Kept::Before),
        Err(other) => Err(other.into()),
    }
}

/// Deletes a refused upload and has status leave the reporter a note on the request's timeline.
async fn refuse_and_tell(
    deps: &MediaDeps,
    key: &str,
    request_id: &TrackingNumber,
    media_id: &str,
    kind: &MediaKind,
    why: String,
) -> Result<Checked, AppError> {
    let command = StatusCommand::RefuseMedia {
        request_id: request_id.clone(),
        media_id: format!("media-{media_id}"),
        note: format!("{} not added: {why}", kind.noun()),
    };
    let body = serde_json::to_string(&command).expect("a status command always serialises");
    deps.queue.send(QueueName::Status, &body).await?;
    deps.media.delete(key).await?;
    Ok(Checked::Refused(why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_keys_round_trip_and_strangers_are_not_upload_keys() {
        let id = TrackingNumber::parse("7K3M-9QZ2").unwrap();
        let jpeg = accepted("IMAGE/JPEG").unwrap();
        let key = upload_key(&id, "0f9a-11", jpeg);
        assert_eq!(key, format!("uploads/{id}/0f9a-11.jpg"));
        assert_eq!(
            parse_upload_key(&key),
            Some((id.clone(), "0f9a-11".into(), jpeg))
        );
        for stranger in [
            "originals/7K3M9QZ2/a.jpg",
            "uploads/7K3M9QZ2/a.exe",
            "uploads/not-a-number/a.jpg",
            "uploads/7K3M9QZ2/../a.jpg",
            "uploads/7K3M9QZ2/.jpg",
        ] {
            assert_eq!(parse_upload_key(stranger), None, "{stranger}");
        }
        assert_eq!(accepted("application/pdf"), None);
    }

    fn request_with(media: &[&str], private: &[&str], given: Option<&str>) -> ServiceRequest {
        let mut request = crate::testing::pothole("7K3M-9QZ2");
        request.media_url = given.map(str::to_string);
        request.media = media.iter().map(|k| k.to_string()).collect();
        request.private_media = private.iter().map(|k| k.to_string()).collect();
        request
    }

    #[test]
    fn the_shown_picture_is_the_first_public_photo_never_a_private_one() {
        let (video, face, street) = (
            "originals/7K3M-9QZ2/v.mp4",
            "originals/7K3M-9QZ2/face.jpg",
            "originals/7K3M-9QZ2/street.png",
        );
        let base = "http://city.test/";
        // a video first, then a private photo, then a public one: the public photo is shown
        let mut request = request_with(&[video, face, street], &[face], None);
        request.media_url = Some("http://city.test/api/v1/media/7K3M-9QZ2/v.mp4".into());
        assert_eq!(
            shown_media_url(base, &request).as_deref(),
            Some("http://city.test/api/v1/media/7K3M-9QZ2/street.png")
        );
        assert_eq!(
            shown_media_url_of(&request),
            shown_media_url(base, &request)
        );
        assert_eq!(
            public_links(base, &request),
            [
                "http://city.test/api/v1/media/7K3M-9QZ2/v.mp4",
                "http://city.test/api/v1/media/7K3M-9QZ2/street.png"
            ]
        );
        // every photo private: no picture, and the kept link of ours is not shown either
        request.private_media.push(street.into());
        assert_eq!(shown_media_url(base, &request), None);
        assert_eq!(shown_media_url_of(&request), None);
        // a link a client gave (kept by requests stored before media_url was fetched) is never
        // shown: only photos the city checked and serves itself
        let given = request_with(&[face], &[face], Some("https://photos.example/p.jpg"));
        assert_eq!(shown_media_url(base, &given), None);
        assert_eq!(shown_media_url_of(&given), None);
        // another request's file gets no link
        assert_eq!(
            media_link(base, &request.id, "originals/ABCD-EFGH/x.jpg"),
            None
        );
        assert_eq!(
            media_link(base, &request.id, "uploads/7K3M-9QZ2/x.jpg"),
            None
        );
    }
}
