//! Following a request: an address asks, a signed link confirms, the unsubscribe link of its letters ends it.
//!
//! Asking stores a follower who gets nothing yet, and queues the confirmation letter for notify;
//! only the link in that letter (signed, good for [`CONFIRM_FOLLOW_HOURS`]) makes them active. So
//! nobody can sign a stranger up: the stranger gets one letter a day at most, which they can
//! ignore or use to turn that channel off.

use chrono::{DateTime, Utc};

use crate::links::{LinkRefused, LinkSigner, Purpose};
use crate::messages::{NotifyEvent, NotifyKind};
use crate::ports::{Follower, PortError, Queue, QueueName, RequestStore};
use cityfix_domain::phone::to_e164;
use cityfix_domain::{City, Contact, ServiceRequest, Status, TrackingNumber};

pub use crate::links::CONFIRM_FOLLOW_HOURS;

/// The most followers one request keeps, confirmed or still asking: enough for a street's
/// neighbours, few enough that nobody can make a request a mailing list.
pub const MAX_FOLLOWERS: usize = 100;

/// Why an ask to follow was not taken; nothing was stored or sent.
#[derive(Debug, thiserror::Error)]
pub enum FollowRefused {
    #[error("{0} is {1}; only a report still being worked can be followed")]
    NotOpen(TrackingNumber, Status),
    #[error("reports of this service are confidential and cannot be followed")]
    Confidential,
    #[error("{0} has as many followers as it keeps ({MAX_FOLLOWERS})")]
    Full(TrackingNumber),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Asks to follow `request` for `contact` (an e-mail or a phone, already checked): stores them as
/// asking and queues the confirmation. Asking again, or asking while already following, stores
/// nothing new and sends at most one confirmation a day; the answer is the same either way, so
/// it never tells who follows.
pub async fn ask_to_follow(
    store: &dyn RequestStore,
    queue: &dyn Queue,
    city: &City,
    request: &ServiceRequest,
    contact: Contact,
    now: DateTime<Utc>,
) -> Result<(), FollowRefused> {
    followable(city, request)?;
    let follower = Follower::asking(one_person(city, contact), request.id.clone(), now);
    let followers = store.followers(&request.id).await?;
    let known = followers.iter().find(|f| f.key == follower.key);
    if known.is_some_and(Follower::is_active) {
        return Ok(());
    }
    if known.is_none() {
        if followers.len() >= MAX_FOLLOWERS {
            return Err(FollowRefused::Full(request.id.clone()));
        }
        store.add_follower(&request.id, &follower).await?;
    }
    let event = NotifyEvent {
        event_id: format!(
            "{}/follow-{}/{}",
            request.id,
            now.format("%Y%m%d"),
            follower.key
        ),
        request_id: request.id.clone(),
        kind: NotifyKind::FollowAsked,
    };
    let body = serde_json::to_string(&event).expect("an event serialises");
    queue.send(QueueName::Notify, &body).await?;
    tracing::info!(request_id = %request.id, "an address asked to follow a request");
    Ok(())
}

/// Whether `request` may be followed: still being worked, and not confidential.
fn followable(city: &City, request: &ServiceRequest) -> Result<(), FollowRefused> {
    if !matches!(
        request.status,
        Status::Submitted | Status::Open | Status::InProgress
    ) {
        return Err(FollowRefused::NotOpen(request.id.clone(), request.status));
    }
    if city
        .service(&request.service_code)
        .is_some_and(|service| service.confidential)
    {
        return Err(FollowRefused::Confidential);
    }
    Ok(())
}

/// One person however they write their number: the key is of the number in E.164.
fn one_person(city: &City, contact: Contact) -> Contact {
    Contact {
        phone: contact
            .phone
            .map(|p| to_e164(&p, city.country_calling_code).unwrap_or(p)),
        ..contact
    }
}

/// The channel of a caller a call-taker adds as a follower.
pub const PHONE_CHANNEL: &str = "phone";

/// A caller on the phone follows `request`, added by the call-taker who took the call (phone
/// intake's "add the caller as a follower instead"): active at once, since the caller asked in
/// person, as a phone report's contact is used without a link to confirm; the follower records
/// the channel `phone`. Notify sends them the "you are following" letter (with its unsubscribe
/// link) once, whichever way they came to follow. Adding again changes nothing; one who had asked
/// through the site and not confirmed yet is confirmed.
pub async fn follow_for_caller(
    store: &dyn RequestStore,
    queue: &dyn Queue,
    city: &City,
    request: &ServiceRequest,
    contact: Contact,
) -> Result<(), FollowRefused> {
    followable(city, request)?;
    let follower = Follower {
        channel: Some(PHONE_CHANNEL.into()),
        ..Follower::new(one_person(city, contact), request.id.clone())
    };
    let followers = store.followers(&request.id).await?;
    match followers.iter().find(|f| f.key == follower.key) {
        Some(known) if known.is_active() => return Ok(()),
        Some(_) => {
            store.confirm_follower(&request.id, &follower.key).await?;
        }
        None if followers.len() >= MAX_FOLLOWERS => {
            return Err(FollowRefused::Full(request.id.clone()))
        }
        None => store.add_follower(&request.id, &follower).await?,
    }
    let event = NotifyEvent {
        event_id: format!("{}/followed/{}", request.id, follower.key),
        request_id: request.id.clone(),
        kind: NotifyKind::FollowConfirmed,
    };
    let body = serde_json::to_string(&event).expect("an event serialises");
    queue.send(QueueName::Notify, &body).await?;
    tracing::info!(request_id = %request.id, "a caller follows a request by phone");
    Ok(())
}

/// The follower a follow event (`FollowAsked`, `FollowConfirmed`) is about: the last part of its id.
pub fn follower_of(event: &NotifyEvent) -> &str {
    event.event_id.rsplit('/').next().unwrap_or_default()
}

/// The request and follower a follow link names: `<request id>:<follower key>`.
pub fn follow_subject(id: &TrackingNumber, key: &str) -> String {
    format!("{id}:{key}")
}

fn read_subject(
    links: &LinkSigner,
    purpose: Purpose,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(TrackingNumber, String), LinkRefused> {
    let subject = links.verify(purpose, token, now)?;
    let (id, key) = subject.split_once(':').ok_or(LinkRefused::Forged)?;
    let id = TrackingNumber::parse(id).map_err(|_| LinkRefused::Forged)?;
    Ok((id, key.to_string()))
}

/// Why a follow link did nothing.
#[derive(Debug, thiserror::Error)]
pub enum FollowLinkError {
    #[error(transparent)]
    Refused(#[from] LinkRefused),
    /// The link is ours, but there is nobody to confirm (or to stop) any more: they stopped, or
    /// the request was archived and its contacts forgotten.
    #[error("this follow has ended")]
    Gone,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// The request a confirmation link is for, if it is ours and current: what the page asks about.
pub fn read_confirmation(
    links: &LinkSigner,
    token: &str,
    now: DateTime<Utc>,
) -> Result<TrackingNumber, LinkRefused> {
    read_subject(links, Purpose::ConfirmFollow, token, now).map(|(id, _)| id)
}

/// The request an unfollow link is for, if it is ours and current.
pub fn read_unfollow(
    links: &LinkSigner,
    token: &str,
    now: DateTime<Utc>,
) -> Result<TrackingNumber, LinkRefused> {
    read_subject(links, Purpose::Unfollow, token, now).map(|(id, _)| id)
}

/// Follows a confirmation link: the follower is active from now on, on the request and on the
/// one it was linked into as a duplicate (where followers were copied while still asking), and
/// notify is asked to tell them so. Confirming again changes nothing and tells nobody twice.
pub async fn confirm_follow(
    store: &dyn RequestStore,
    queue: &dyn Queue,
    links: &LinkSigner,
    token: &str,
    now: DateTime<Utc>,
) -> Result<TrackingNumber, FollowLinkError> {
    let (id, key) = read_subject(links, Purpose::ConfirmFollow, token, now)?;
    if !store.confirm_follower(&id, &key).await? {
        return Err(FollowLinkError::Gone);
    }
    let mut linked = store.get(&id).await?.and_then(|r| r.duplicate_of);
    // A chain of duplicates is short; the bound only guards against a loop in bad data.
    for _ in 0..4 {
        let Some(original) = linked else { break };
        store.confirm_follower(&original, &key).await?;
        linked = store.get(&original).await?.and_then(|r| r.duplicate_of);
    }
    let event = NotifyEvent {
        event_id: format!("{id}/followed/{key}"),
        request_id: id.clone(),
        kind: NotifyKind::FollowConfirmed,
    };
    let body = serde_json::to_string(&event).expect("an event serialises");
    queue.send(QueueName::Notify, &body).await?;
    tracing::info!(request_id = %id, "a follower confirmed");
    Ok(id)
}

/// Follows an unfollow link: the follower it names gets no more news of that request. Following
/// it again (a mail program's one-click may post twice) changes nothing and answers the same.
pub async fn stop_following(
    store: &dyn RequestStore,
    links: &LinkSigner,
    token: &str,
    now: DateTime<Utc>,
) -> Result<TrackingNumber, FollowLinkError> {
    let (id, key) = read_subject(links, Purpose::Unfollow, token, now)?;
    if store.remove_follower(&id, &key).await? {
        tracing::info!(request_id = %id, "a follower stopped following");
    }
    Ok(id)
}
