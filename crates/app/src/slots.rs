//! Upload slots: photos and videos a resident uploads before their report exists, bound to them by
//! an upload token, then named by the report (`media`) when it is sent.
//!
//! `POST /api/v1/media` gives a slot: a media id, an upload form for
//! `uploads/<owner>/<media id>.<ext>` and the upload token, where the owner (`slot-<digest of the
//! token>`) stands for the token and never holds it. The slot is recorded at
//! `slots/<owner>/<media id>.<ext>`. The media function checks the upload as any other and keeps it
//! under `originals/<owner>/…`; it waits there until a report names it. A report that names it
//! writes `bound/<media id>` (its tracking number, create-once) and asks status to attach it if it
//! is checked already; the media function asks status itself when it finishes a slot's upload that
//! is bound by then. Each side writes before it reads what the other writes, so one of them always
//! sees both. A slot no report named within [`SLOT_LIFETIME`] is dropped by the scheduler's sweep.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::media::{
    accepted, kept_files, record_state, state_of, MediaKind, MediaState, MAX_FILES_FROM_REPORTER,
};
use crate::messages::StatusCommand;
use crate::ports::{MediaStore, PortError, PortResult, Queue, QueueName};
use cityfix_domain::TrackingNumber;

/// How long a slot waits for a report to name it.
pub const SLOT_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// Slots the sweep reads in one run.
pub const SLOTS_PER_SWEEP: usize = 1000;

/// The folder of slot records.
const SLOTS: &str = "slots/";

/// What stands for an upload token in storage keys: a digest, so a key never tells the token.
pub fn owner_of(token: &str) -> String {
    let digest = hex::encode(Sha256::digest(token.trim().as_bytes()));
    format!("slot-{}", &digest[..32])
}

/// Whether a key's owner folder is a slot's rather than a request's.
pub fn is_slot_owner(owner: &str) -> bool {
    owner.len() == 37
        && owner
            .strip_prefix("slot-")
            .is_some_and(|digest| digest.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Where a slot's file is uploaded.
pub fn slot_upload_key(owner: &str, media_id: &str, kind: &MediaKind) -> String {
    format!("uploads/{owner}/{media_id}.{}", kind.extension)
}

fn record_key(owner: &str, media_id: &str, kind: &MediaKind) -> String {
    format!("{SLOTS}{owner}/{media_id}.{}", kind.extension)
}

fn bound_key(media_id: &str) -> String {
    format!("bound/{media_id}")
}

/// Where a slot's checked file is kept.
pub fn slot_original_key(owner: &str, media_id: &str, kind: &MediaKind) -> String {
    format!("originals/{owner}/{media_id}.{}", kind.extension)
}

/// A slot's record: when it was given.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SlotRecord {
    given_at: DateTime<Utc>,
}

/// A slot of an upload token: its media id and the kind of file it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub owner: String,
    pub media_id: String,
    pub kind: &'static MediaKind,
}

impl Slot {
    pub fn original(&self) -> String {
        slot_original_key(&self.owner, &self.media_id, self.kind)
    }
}

/// The slots given to the owner of a token, oldest key first.
pub async fn slots_of(media: &dyn MediaStore, owner: &str) -> PortResult<Vec<Slot>> {
    let keys = media
        .keys(&format!("{SLOTS}{owner}/"), SLOTS_PER_SWEEP)
        .await?;
    Ok(keys
        .iter()
        .filter_map(|key| parse_record_key(key))
        .collect())
}

fn parse_record_key(key: &str) -> Option<Slot> {
    let (owner, file) = key.strip_prefix(SLOTS)?.split_once('/')?;
    let (media_id, extension) = file.rsplit_once('.')?;
    let kind = crate::media::ACCEPTED
        .iter()
        .find(|kind| kind.extension == extension)?;
    is_slot_owner(owner).then(|| Slot {
        owner: owner.to_string(),
        media_id: media_id.to_string(),
        kind,
    })
}

/// Why a slot is not given, or a report cannot name one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotRefusal {
    /// The token was given by no earlier slot (or all its slots were dropped).
    UnknownToken,
    /// The token holds as many slots as a reporter adds files.
    Full,
    /// A media id this token was never given; `theirs` when it is another token's.
    NotYours { media_id: String, theirs: bool },
    /// A slot whose file was refused or that was dropped, with why.
    Dropped { media_id: String, reason: String },
    /// More media than a report takes from its reporter.
    TooMany(usize),
}

/// Records a new slot for `owner` (a fresh token's, or one that holds slots already) and its
/// waiting state. The caller makes the upload form for [`slot_upload_key`].
pub async fn give_slot(
    media: &dyn MediaStore,
    owner: &str,
    fresh: bool,
    media_id: &str,
    content_type: &str,
    now: DateTime<Utc>,
) -> Result<Result<Slot, SlotRefusal>, PortError> {
    let kind = accepted(content_type).expect("the caller checked the kind");
    if !fresh {
        let held = slots_of(media, owner).await?;
        if held.is_empty() {
            return Ok(Err(SlotRefusal::UnknownToken));
        }
        if held.len() >= MAX_FILES_FROM_REPORTER {
            return Ok(Err(SlotRefusal::Full));
        }
    }
    let record = serde_json::to_vec(&SlotRecord { given_at: now }).expect("a record serialises");
    media
        .put(
            &record_key(owner, media_id, kind),
            record,
            "application/json",
        )
        .await?;
    record_state(media, media_id, &MediaState::Waiting).await?;
    Ok(Ok(Slot {
        owner: owner.to_string(),
        media_id: media_id.to_string(),
        kind,
    }))
}

/// The slots a report names with `media`, if each was given to `token` and not dropped.
pub async fn claimable(
    media: &dyn MediaStore,
    token: &str,
    media_ids: &[String],
) -> Result<Result<Vec<Slot>, SlotRefusal>, PortError> {
    if media_ids.len() > MAX_FILES_FROM_REPORTER {
        return Ok(Err(SlotRefusal::TooMany(media_ids.len())));
    }
    let held = slots_of(media, &owner_of(token)).await?;
    let mut named = Vec::new();
    for media_id in media_ids {
        let state = match crate::media::plain_media_id(media_id) {
            true => state_of(media, media_id).await?,
            false => None,
        };
        if let Some(MediaState::Dropped { reason }) = state {
            return Ok(Err(SlotRefusal::Dropped {
                media_id: media_id.clone(),
                reason,
            }));
        }
        let Some(slot) = held.iter().find(|slot| &slot.media_id == media_id) else {
            return Ok(Err(SlotRefusal::NotYours {
                media_id: media_id.clone(),
                theirs: state.is_some(),
            }));
        };
        if !named.contains(slot) {
            named.push(slot.clone());
        }
    }
    Ok(Ok(named))
}

/// Binds the slots to the report that names them and asks status to attach those checked
/// already. A slot bound before to another report stays with it. Safe to repeat (a replayed
/// report binds again and status attaches a media id once).
pub async fn bind(
    media: &dyn MediaStore,
    queue: &dyn Queue,
    public_url: &str,
    request_id: &TrackingNumber,
    slots: &[Slot],
) -> PortResult<()> {
    for slot in slots {
        let marker = bound_key(&slot.media_id);
        match media
            .put(&marker, request_id.to_string().into_bytes(), "text/plain")
            .await
        {
            Ok(()) => {}
            Err(PortError::AlreadyExists(_)) => {
                if bound_to(media, &slot.media_id).await?.as_ref() != Some(request_id) {
                    tracing::warn!(%request_id, media_id = %slot.media_id, "slot bound to another report before");
                    continue;
                }
            }
            Err(other) => return Err(other),
        }
        if media.head(&slot.original()).await?.is_some() {
            attach(queue, public_url, request_id, slot).await?;
        }
    }
    Ok(())
}

/// The report a slot's media id was bound to, if any.
pub async fn bound_to(
    media: &dyn MediaStore,
    media_id: &str,
) -> PortResult<Option<TrackingNumber>> {
    match media.get(&bound_key(media_id)).await {
        Ok(bytes) => Ok(TrackingNumber::parse(&String::from_utf8_lossy(&bytes)).ok()),
        Err(PortError::NotFound(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Asks status to attach a slot's checked file to its report.
pub async fn attach(
    queue: &dyn Queue,
    public_url: &str,
    request_id: &TrackingNumber,
    slot: &Slot,
) -> PortResult<()> {
    let file = format!("{}.{}", slot.media_id, slot.kind.extension);
    let command = StatusCommand::AttachMedia {
        request_id: request_id.clone(),
        media_id: format!("media-{}", slot.media_id),
        key: slot.original(),
        content_type: slot.kind.content_type.to_string(),
        url: format!(
            "{}/api/v1/media/{request_id}/{file}",
            public_url.trim_end_matches('/')
        ),
    };
    let body = serde_json::to_string(&command).expect("a status command always serialises");
    queue.send(QueueName::Status, &body).await
}

/// Drops every slot no report named within `lifetime` of `now`: its upload, its checked files
/// and its record go, and its state says why. A slot bound to a report loses only its record.
/// Returns how many were dropped.
pub async fn sweep_slots(
    media: &dyn MediaStore,
    now: DateTime<Utc>,
    lifetime: Duration,
) -> PortResult<usize> {
    let mut dropped = 0;
    let lifetime = chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::hours(1));
    for key in media.keys(SLOTS, SLOTS_PER_SWEEP).await? {
        let Some(slot) = parse_record_key(&key) else {
            continue;
        };
        let record: Option<SlotRecord> = match media.get(&key).await {
            Ok(bytes) => serde_json::from_slice(&bytes).ok(),
            Err(PortError::NotFound(_)) => continue,
            Err(other) => return Err(other),
        };
        if record.is_some_and(|record| now - record.given_at < lifetime) {
            continue;
        }
        if bound_to(media, &slot.media_id).await?.is_none() {
            // The bound marker first: a report naming the slot from now on finds it taken.
            let marker = bound_key(&slot.media_id);
            match media.put(&marker, b"dropped".to_vec(), "text/plain").await {
                Ok(()) => {
                    let upload = slot_upload_key(&slot.owner, &slot.media_id, slot.kind);
                    media.delete(&upload).await?;
                    for file in kept_files(&slot.original()) {
                        media.delete(&file).await?;
                    }
                    let reason = format!(
                        "no report named this upload within {} minutes",
                        lifetime.num_minutes()
                    );
                    record_state(media, &slot.media_id, &MediaState::Dropped { reason }).await?;
                    dropped += 1;
                }
                Err(PortError::AlreadyExists(_)) => {}
                Err(other) => return Err(other),
            }
        }
        media.delete(&key).await?;
    }
    Ok(dropped)
}
