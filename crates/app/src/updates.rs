//! What the public may read of how requests were worked: the public timeline entries of a window (the Open311 updates feed), and one request's public history.

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use cityfix_domain::{City, ServiceRequest, Status, TimelineEntry, TimelineKind, TrackingNumber};

use crate::ports::{PortResult, RequestQuery, RequestStore};

/// Timelines read at once while gathering a window's updates.
const TIMELINES_AT_ONCE: usize = 16;
/// Requests read from the store per page while gathering a window's updates.
const REQUESTS_PER_PAGE: u32 = 1000;

/// Which updates to list: those made from `from` to `to`, both included, of one request if named,
/// at most `limit`, the earliest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatesWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub request: Option<TrackingNumber>,
    pub limit: usize,
}

/// One public timeline entry as outsiders see it: no actor, nothing about the reporter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUpdate {
    /// Stable and unique: the request id and a digest of the entry's event id, so it is safe in
    /// a URL or XML whatever the event id holds.
    pub update_id: String,
    pub request_id: TrackingNumber,
    pub at: DateTime<Utc>,
    pub kind: TimelineKind,
    /// The entry's status, or the request's at the time when the entry changed none.
    pub status: Status,
    pub note: Option<String>,
    /// The media storage key of the entry's first photo or video.
    pub media: Option<String>,
}

/// The id an outside system knows an update by.
pub fn update_id(request: &TrackingNumber, event_id: &str) -> String {
    let digest = Sha256::digest(event_id.as_bytes());
    format!("{request}-{}", hex::encode(&digest[..8]))
}

/// Whether the public may list a request at all: a confidential service's reports are not there,
/// nor those staff hid from public view.
pub fn listed_publicly(city: &City, request: &ServiceRequest) -> bool {
    !request.hidden
        && !city
            .service(&request.service_code)
            .is_some_and(|service| service.confidential)
}

/// The codes of the services whose reports public lists leave out.
pub fn confidential_services(city: &City) -> Vec<String> {
    city.services
        .iter()
        .filter(|service| service.confidential)
        .map(|service| service.code.clone())
        .collect()
}

/// A request's public entries, oldest first, each with the status the request had once it was
/// made. Internal entries only carry the status forward; media staff keep private are left off.
pub fn public_history(request: &ServiceRequest, timeline: &[TimelineEntry]) -> Vec<PublicUpdate> {
    let mut status = Status::Submitted;
    let mut updates = Vec::new();
    for entry in timeline {
        if let Some(changed) = entry.status {
            status = changed;
        }
        if entry.public {
            updates.push(PublicUpdate {
                update_id: update_id(&request.id, &entry.event_id),
                request_id: request.id.clone(),
                at: entry.at,
                kind: entry.kind,
                status,
                note: entry.note.clone(),
                media: entry
                    .media
                    .iter()
                    .find(|key| !request.keeps_private(key))
                    .cloned(),
            });
        }
    }
    updates
}

/// The public history of each request, in the order given, read a few timelines at a time.
pub async fn public_histories(
    store: &dyn RequestStore,
    requests: &[ServiceRequest],
) -> PortResult<Vec<Vec<PublicUpdate>>> {
    stream::iter(requests.to_vec())
        .map(|request| history_of(store, request))
        .buffered(TIMELINES_AT_ONCE)
        .try_collect()
        .await
}

async fn history_of(
    store: &dyn RequestStore,
    request: ServiceRequest,
) -> PortResult<Vec<PublicUpdate>> {
    let timeline = store.timeline(&request.id).await?;
    Ok(public_history(&request, &timeline))
}

/// The public updates of a window, earliest first (ties by request and update id), at most
/// `window.limit`. An entry at time t lies on a request changed at or after t (and made at or
/// before t), so the requests read are those changed since the window opened and made before
/// it closed; a request changed after the window may still hold entries inside it, and entries
/// outside the window are dropped.
pub async fn public_updates(
    store: &dyn RequestStore,
    city: &City,
    window: &UpdatesWindow,
) -> PortResult<Vec<PublicUpdate>> {
    let requests = match &window.request {
        Some(id) => store.get(id).await?.into_iter().collect(),
        None => changed_since(store, city, window).await?,
    };
    let requests: Vec<ServiceRequest> = requests
        .into_iter()
        .filter(|request| listed_publicly(city, request))
        .filter(|request| request.updated_at >= window.from && request.requested_at <= window.to)
        .collect();
    let mut updates: Vec<PublicUpdate> = public_histories(store, &requests)
        .await?
        .into_iter()
        .flatten()
        .filter(|update| update.at >= window.from && update.at <= window.to)
        .collect();
    updates.sort_by(|a, b| {
        a.at.cmp(&b.at)
            .then_with(|| a.request_id.cmp(&b.request_id))
            .then_with(|| a.update_id.cmp(&b.update_id))
    });
    updates.truncate(window.limit);
    Ok(updates)
}

/// Every request changed since the window opened, page by page.
async fn changed_since(
    store: &dyn RequestStore,
    city: &City,
    window: &UpdatesWindow,
) -> PortResult<Vec<ServiceRequest>> {
    let mut found = Vec::new();
    for page in 1.. {
        // Only the start bounds the search: it is what an index on update times can read
        // from. Requests made after the window closed are few and are dropped by the caller.
        let query = RequestQuery {
            updated_from: Some(window.from),
            without_service_codes: confidential_services(city),
            without_hidden: true,
            page,
            page_size: REQUESTS_PER_PAGE,
            ..RequestQuery::default()
        };
        let requests = store.search(&query).await?;
        let last = requests.len() < REQUESTS_PER_PAGE as usize;
        found.extend(requests);
        if last {
            break;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(event_id: &str, minute: u32, status: Option<Status>, public: bool) -> TimelineEntry {
        TimelineEntry {
            event_id: event_id.into(),
            at: DateTime::from_timestamp(1_800_000_000 + i64::from(minute) * 60, 0).unwrap(),
            kind: TimelineKind::Note,
            status,
            note: Some(format!("{event_id} note")),
            public,
            actor: Some("staff-17".into()),
            internal_note: Some("internal".into()),
            media: Vec::new(),
        }
    }

    fn request() -> ServiceRequest {
        crate::testing::pothole("7K3M-9QZ2")
    }

    #[test]
    fn an_entry_shows_its_first_photo_staff_did_not_keep_private() {
        // given a note with two photos, the first kept private
        let mut request = request();
        let (face, street) = ("originals/7K3M-9QZ2/a.jpg", "originals/7K3M-9QZ2/b.jpg");
        request.media = vec![face.into(), street.into()];
        request.private_media = vec![face.into()];
        let mut note = entry("fixed", 1, None, true);
        note.media = vec![face.into(), street.into()];
        // when
        let history = public_history(&request, &[note.clone()]);
        // then the public sees the second only; with both private, none
        assert_eq!(history[0].media.as_deref(), Some(street));
        request.private_media.push(street.into());
        assert_eq!(public_history(&request, &[note])[0].media, None);
    }

    #[test]
    fn internal_entries_are_left_out_but_carry_their_status_forward() {
        // given: submitted, closed by an internal entry, then a public note with no status
        let id = request();
        let timeline = [
            entry("submitted", 0, Some(Status::Submitted), true),
            entry("crew-closed", 5, Some(Status::Closed), false),
            entry("thanks", 6, None, true),
        ];
        // when
        let history = public_history(&id, &timeline);
        // then
        let seen: Vec<_> = history
            .iter()
            .map(|u| (u.note.as_deref().unwrap(), u.status))
            .collect();
        assert_eq!(
            seen,
            [
                ("submitted note", Status::Submitted),
                ("thanks note", Status::Closed)
            ]
        );
    }

    #[test]
    fn update_ids_are_stable_unique_and_plain() {
        let id = TrackingNumber::parse("7K3M-9QZ2").unwrap();
        let odd = update_id(&id, "7K3M-9QZ2/media <&\"x\">");
        assert_eq!(odd, update_id(&id, "7K3M-9QZ2/media <&\"x\">"));
        assert_ne!(odd, update_id(&id, "submitted"));
        assert!(odd.starts_with("7K3M-9QZ2-"));
        assert!(odd.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
