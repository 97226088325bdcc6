//! "Has it been fixed?": some days after a fix the reporter is asked once, with two signed links; "not fixed" reopens it.
//!
//! The scheduler finds the fixes that came of age (closed `survey_after_days` ago) and queues one
//! notify event per closing; notify writes the question with a link for each answer, good until
//! the reopen window ends. Intake records the answer for the metrics and, for "not fixed", hands
//! status the same reopening a reporter's "not fixed" button asks for (once per closing).

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::links::{LinkRefused, LinkSigner, Purpose};
use crate::messages::{NotifyEvent, NotifyKind, StatusCommand};
use crate::ports::{PortError, Queue, QueueName, RequestStore, SurveyAnswer};
use crate::work::{reopen_decision_id, reopen_refused, reporter, WorkAction, WorkCommand};
use crate::AppError;
use cityfix_domain::city::ResidentRules;
use cityfix_domain::{Resolution, ServiceRequest, Status, TrackingNumber};

/// Most questions one scheduler run queues.
pub const SURVEYS_PER_RUN: u32 = 500;

/// How far back each run looks past the age of a fix. Runs are a minute apart, so each closing
/// is seen by several runs (the claim below queues it once); a scheduler stopped longer than
/// this misses the fixes that came of age meanwhile, which are then not asked about.
pub const SURVEY_LOOKBACK: Duration = Duration::minutes(10);

/// The closing a survey is about: when the request was last closed, in whole seconds.
fn closing_of(request: &ServiceRequest) -> Option<i64> {
    (request.status == Status::Closed && request.resolution == Some(Resolution::Fixed))
        .then(|| request.closed_since())
        .flatten()
        .map(|at| at.timestamp())
}

/// Queues the question for every fix that came of age since the last runs: once per closing
/// (a delivery claim, given back if the queue refuses). Returns how many were queued.
pub async fn queue_surveys(
    store: &dyn RequestStore,
    queue: &dyn Queue,
    rules: &ResidentRules,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<usize, AppError> {
    if rules.survey_after_days == 0 {
        return Ok(0);
    }
    let to = now - Duration::days(rules.survey_after_days.into());
    let mut queued = 0;
    for id in store
        .closed_between(to - SURVEY_LOOKBACK, to, limit)
        .await?
    {
        let Some(request) = store.get(&id).await? else {
            continue;
        };
        let Some(closing) = closing_of(&request) else {
            continue;
        };
        let claim = format!("survey/{id}/{closing}");
        if !store.claim_delivery(&claim, now).await? {
            continue;
        }
        let event = NotifyEvent {
            event_id: format!("{id}/survey-{closing}"),
            request_id: id.clone(),
            kind: NotifyKind::SurveyDue,
        };
        let body = serde_json::to_string(&event).expect("an event serialises");
        if let Err(error) = queue.send(QueueName::Notify, &body).await {
            store.release_delivery(&claim).await?;
            return Err(error.into());
        }
        queued += 1;
    }
    Ok(queued)
}

/// Whether a `SurveyDue` event is still worth asking: the request is still closed as fixed at
/// the closing the event names (not reopened, or closed again since).
pub fn still_due(request: &ServiceRequest, event: &NotifyEvent) -> bool {
    let named = event
        .event_id
        .rsplit_once("/survey-")
        .and_then(|(_, closing)| closing.parse::<i64>().ok());
    named.is_some() && closing_of(request) == named
}

/// The signed token of one answer about one closing; it works until the reopen window ends.
pub fn answer_token(
    links: &LinkSigner,
    rules: &ResidentRules,
    request: &ServiceRequest,
    fixed: bool,
) -> Option<String> {
    let closing = closing_of(request)?;
    let closed = Utc.timestamp_opt(closing, 0).single()?;
    let subject = format!("{}:{closing}:{}", request.id, if fixed { "y" } else { "n" });
    Some(links.sign(
        Purpose::Survey,
        &subject,
        closed + Duration::days(rules.reopen_days.into()),
    ))
}

/// What a survey link says: the request, the closing, and the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyLink {
    pub request_id: TrackingNumber,
    pub closing: i64,
    pub fixed: bool,
}

/// The answer a survey link carries, if it is ours and current.
pub fn read_answer(
    links: &LinkSigner,
    token: &str,
    now: DateTime<Utc>,
) -> Result<SurveyLink, LinkRefused> {
    let subject = links.verify(Purpose::Survey, token, now)?;
    let mut parts = subject.split(':');
    let (Some(id), Some(closing), Some(answer), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(LinkRefused::Forged);
    };
    Ok(SurveyLink {
        request_id: TrackingNumber::parse(id).map_err(|_| LinkRefused::Forged)?,
        closing: closing.parse().map_err(|_| LinkRefused::Forged)?,
        fixed: match answer {
            "y" => true,
            "n" => false,
            _ => return Err(LinkRefused::Forged),
        },
    })
}

/// What answering did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// "Fixed": thanks, recorded.
    Fixed,
    /// "Not fixed": recorded, and the request is being (or was already) reopened.
    Reopening,
    /// "Not fixed", but the request can no longer be reopened this way (closed again since,
    /// or archived): recorded; a new report is the way.
    TooLate,
}

/// Why an answer was not taken; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum SurveyError {
    #[error(transparent)]
    Refused(#[from] LinkRefused),
    #[error("the request this answer is about no longer exists")]
    Gone,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Takes an answer: recorded for the metrics (a second answer about the same closing replaces
/// the first), and for "not fixed" the reopening is queued for status, with the decision id of
/// the reporter's own "not fixed" so both are one reopening.
pub async fn answer_survey(
    store: &dyn RequestStore,
    queue: &dyn Queue,
    rules: &ResidentRules,
    links: &LinkSigner,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Answered, SurveyError> {
    let link = read_answer(links, token, now)?;
    let request = store
        .get(&link.request_id)
        .await?
        .ok_or(SurveyError::Gone)?;
    let closed_at = Utc
        .timestamp_opt(link.closing, 0)
        .single()
        .ok_or(LinkRefused::Forged)?;
    store
        .record_survey_answer(&SurveyAnswer {
            request_id: request.id.clone(),
            service_code: request.service_code.clone(),
            closed_at,
            fixed: link.fixed,
            answered_at: now,
        })
        .await?;
    tracing::info!(request_id = %request.id, fixed = link.fixed, "a survey was answered");
    if link.fixed {
        return Ok(Answered::Fixed);
    }
    if closing_of(&request) != Some(link.closing) {
        // Reopened already (by this answer before, or the reporter's button), or closed again.
        return Ok(
            if matches!(request.status, Status::Open | Status::InProgress) {
                Answered::Reopening
            } else {
                Answered::TooLate
            },
        );
    }
    if reopen_refused(&request, rules.reopen_days, now).is_some() {
        return Ok(Answered::TooLate);
    }
    let command = StatusCommand::Work(WorkCommand {
        request_id: request.id.clone(),
        decision_id: reopen_decision_id(&request),
        by: reporter(),
        expected_version: None,
        action: WorkAction::Reopen {
            comment: "Not fixed: the reporter's answer to \"Has it been fixed?\"".into(),
        },
    });
    let body = serde_json::to_string(&command).expect("a command serialises");
    queue.send(QueueName::Status, &body).await?;
    Ok(Answered::Reopening)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_answer_is_forged() {
        let links = LinkSigner::new(b"secret");
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let token = links.sign(
            Purpose::Survey,
            "7K3M-9QZ2:1764590000:y",
            now + Duration::days(3),
        );
        assert_eq!(
            read_answer(&links, &token, now),
            Ok(SurveyLink {
                request_id: TrackingNumber::parse("7K3M-9QZ2").unwrap(),
                closing: 1_764_590_000,
                fixed: true
            })
        );
        let flipped = token.replace(":y.", ":n.");
        assert_eq!(read_answer(&links, &flipped, now), Err(LinkRefused::Forged));
        let odd = links.sign(
            Purpose::Survey,
            "7K3M-9QZ2:1764590000:maybe",
            now + Duration::days(3),
        );
        assert_eq!(read_answer(&links, &odd, now), Err(LinkRefused::Forged));
    }
}
