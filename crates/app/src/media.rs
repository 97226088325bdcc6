//! Photos and videos residents add to a report: what is accepted, where it is kept, and the check of
//! each upload before anyone else sees it.
//!
//! A browser asks intake for an upload form, posts the file straight to media storage under
//! `uploads/<request>/<media id>.<ext>`, and storage tells the media function. The media function
//! checks the bytes really are the declared kind and size, removes EXIF (which holds where and when
//! a photo was taken) from images, keeps the result under `originals/…`, deletes the upload, and
//! asks status to attach it. Nothing under `uploads/` is ever shown.

use std::sync::Arc;
use std::time::Duration;

use crate::messages::StatusCommand;
use crate::ports::{MediaStore, PortError, Queue, QueueName};
use crate::AppError;
use cityfix_domain::TrackingNumber;

/// A kind of file residents may add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaKind {
    pub content_type: &'static str,
    pub extension: &'static str,
    pub max_bytes: u64,
}

const MB: u64 = 1024 * 1024;

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

/// How long an upload form stays good.
pub const UPLOAD_FORM_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// How long a link to a photo stays good.
pub const DOWNLOAD_LINK_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// The accepted kind of `content_type`, if any.
pub fn accepted(content_type: &str) -> Option<&'static MediaKind> {
    let content_type = content_type.trim().to_ascii_lowercase();
    ACCEPTED.iter().find(|k| k.content_type == content_type)
}

fn by_extension(extension: &str) -> Option<&'static MediaKind> {
    ACCEPTED.iter().find(|k| k.extension == extension)
}

/// Where a browser uploads a file: `uploads/<request>/<media id>.<ext>`.
pub fn upload_key(request_id: &TrackingNumber, media_id: &str, kind: &MediaKind) -> String {
    format!("uploads/{request_id}/{media_id}.{}", kind.extension)
}

/// Where a checked file is kept: `originals/<request>/<file>`.
pub fn original_key(request_id: &TrackingNumber, file: &str) -> String {
    format!("originals/{request_id}/{file}")
}

/// An upload's request, media id and kind, read from its key.
pub fn parse_upload_key(key: &str) -> Option<(TrackingNumber, String, &'static MediaKind)> {
    let rest = key.strip_prefix("uploads/")?;
    let (request, file) = rest.split_once('/')?;
    let (media_id, extension) = file.rsplit_once('.')?;
    let valid_id = !media_id.is_empty()
        && media_id.len() <= 64
        && media_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid_id {
        return None;
    }
    let request_id = TrackingNumber::parse(request).ok()?;
    Some((request_id, media_id.to_string(), by_extension(extension)?))
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
    /// Not what it claimed to be, too big, or a second upload of a media id kept before: deleted.
    Refused(String),
    /// Already handled (the upload is gone), or not an upload at all.
    Ignored,
}

/// Checks one upload and, if it is good, keeps it and asks status to attach it. Safe to repeat:
/// each step is idempotent, and the upload is deleted only after status has been asked.
pub async fn check_upload(deps: &MediaDeps, key: &str) -> Result<Checked, AppError> {
    let Some((request_id, media_id, kind)) = parse_upload_key(key) else {
        if key.starts_with("uploads/") {
            deps.media.delete(key).await?;
            return Ok(Checked::Refused(format!("`{key}` is not an upload key")));
        }
        return Ok(Checked::Ignored);
    };
    let Some(head) = deps.media.head(key).await? else {
        return Ok(Checked::Ignored);
    };
    let refuse = |why: String| async move {
        deps.media.delete(key).await?;
        Ok::<_, AppError>(Checked::Refused(why))
    };
    if head.size == 0 || head.size > kind.max_bytes {
        return refuse(format!(
            "{} bytes; a {} may have 1 to {} bytes",
            head.size, kind.content_type, kind.max_bytes
        ))
        .await;
    }
    let bytes = deps.media.get(key).await?;
    let sniffed = infer::get(&bytes).map(|t| t.mime_type());
    if sniffed != Some(kind.content_type) {
        return refuse(format!(
            "declared {} but the bytes are {}",
            kind.content_type,
            sniffed.unwrap_or("of no known kind")
        ))
        .await;
    }
    let Some(bytes) = without_exif(kind, bytes) else {
        return refuse(format!("not a readable {}", kind.content_type)).await;
    };
    let file = format!("{media_id}.{}", kind.extension);
    let original = original_key(&request_id, &file);
    // A media id is kept once: a second upload with the same form never replaces a file that may
    // be public. Status is still asked to attach the first (it attaches a media id once), in case
    // an earlier run kept it and stopped before asking.
    let kept_before = match deps.media.put(&original, bytes, kind.content_type).await {
        Ok(()) => false,
        Err(PortError::AlreadyExists(_)) => true,
        Err(other) => return Err(other.into()),
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

/// The image with its EXIF block removed; videos as they are. `None` if an image cannot be read.
fn without_exif(kind: &MediaKind, bytes: Vec<u8>) -> Option<Vec<u8>> {
    use img_parts::{DynImage, ImageEXIF};
    if !kind.content_type.starts_with("image/") {
        return Some(bytes);
    }
    let mut image = DynImage::from_bytes(bytes.into()).ok()??;
    image.set_exif(None);
    Some(image.encoder().bytes().to_vec())
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

    #[test]
    fn exif_is_removed_from_a_jpeg_and_the_picture_kept() {
        // SOI, an APP1 Exif segment, a minimal APP0, then EOI.
        let mut jpeg = vec![0xFF, 0xD8];
        let exif = b"Exif\0\0GPS 41.76N 72.68W";
        jpeg.extend([0xFF, 0xE1, 0, (exif.len() + 2) as u8]);
        jpeg.extend(exif);
        jpeg.extend([0xFF, 0xE0, 0, 7, b'J', b'F', b'I', b'F', 0]);
        jpeg.extend([0xFF, 0xD9]);
        let kind = accepted("image/jpeg").unwrap();
        let cleaned = without_exif(kind, jpeg.clone()).unwrap();
        assert!(!cleaned.windows(4).any(|w| w == b"Exif"));
        assert!(cleaned.windows(4).any(|w| w == b"JFIF"));
        assert_eq!(without_exif(kind, b"not a jpeg".to_vec()), None);
    }
}
