//! Accepting a report: check it, store it with a fresh tracking number, and queue it for routing.

use std::sync::Arc;

use chrono::Duration;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::messages::RoutingJob;
use crate::ports::{
    Clock, Created, Geocoder, IdempotencyClaim, Ids, NewRequest, PortError, Queue, QueueName,
    RequestStore,
};
use cityfix_domain::{
    City, Invalid, Lookup, ReportForm, ServiceRequest, Status, TimelineEntry, ValidReport,
};

/// How long an Idempotency-Key is remembered.
pub const IDEMPOTENCY_WINDOW_HOURS: i64 = 24;

/// Tracking numbers drawn before giving up on finding a free one.
const MAX_NUMBER_DRAWS: usize = 5;

/// What intake needs.
#[derive(Clone)]
pub struct IntakeDeps {
    pub city: Arc<City>,
    pub store: Arc<dyn RequestStore>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn Ids>,
    pub geocoder: Arc<dyn Geocoder>,
}

/// How near the nearest address must be to be shown for a report given only as a point.
const NEAREST_ADDRESS_WITHIN_M: f64 = 100.0;

/// A report with where it came from and, optionally, the client's idempotency key.
#[derive(Debug, Clone)]
pub struct Submission {
    pub form: ReportForm,
    /// "web", or the Open311 client's name (unique per client); it scopes the idempotency key.
    pub channel: String,
    pub idempotency_key: Option<String>,
    /// A digest of the body as sent, to spot a key reused for a different report.
    pub fingerprint: String,
}

/// The stored request, and whether this call made it or found the one an earlier call made.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub request: ServiceRequest,
    pub token: Option<String>,
    pub replayed: bool,
    /// What the client should know that did not stop the report: a `media_url` not fetched.
    pub notices: Vec<String>,
}

#[derive(Debug, Error)]
pub enum SubmitError {
    #[error("{0}")]
    Invalid(#[from] Invalid),
    #[error("this Idempotency-Key was already used for a different report")]
    KeyReused,
    #[error("the report could not be stored: {0}")]
    Unavailable(PortError),
}

/// An Idempotency-Key as stored: scoped by the channel (the web client, or one Open311 client), so
/// one client's key never collides with another's.
fn scoped_key(channel: &str, key: &str) -> String {
    format!("{channel}\u{1f}{key}")
}

/// A digest of a request body, for idempotency checks.
pub fn fingerprint(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Checks and stores a report, then queues it for routing. The report is stored before this
/// returns, so the tracking number is good at once. If queueing fails the report stays
/// `submitted` and the sweep queues it again.
pub async fn submit(deps: &IntakeDeps, submission: Submission) -> Result<Submitted, SubmitError> {
    submit_checked(deps, submission, ReportForm::validate).await
}

/// [`submit`] for a report whose reporter could not be asked the service's questions (an
/// e-mail): required questions left open are left for staff.
pub async fn submit_unasked(
    deps: &IntakeDeps,
    submission: Submission,
) -> Result<Submitted, SubmitError> {
    submit_checked(deps, submission, ReportForm::validate_unasked).await
}

async fn submit_checked(
    deps: &IntakeDeps,
    submission: Submission,
    validate: fn(ReportForm, &City) -> Result<ValidReport, Invalid>,
) -> Result<Submitted, SubmitError> {
    if let Some(key) = &submission.idempotency_key {
        if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Invalid::field(
                "Idempotency-Key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .into());
        }
    }
    submission.form.check_characters()?;
    // A confidential report (misconduct) has no place to find: its words say where, if anywhere.
    let confidential = submission
        .form
        .service_code
        .as_deref()
        .and_then(|code| deps.city.service(code.trim()))
        .is_some_and(|service| service.confidential);
    let form = match confidential {
        true => submission.form,
        false => place_typed_address(deps, submission.form).await?,
    };
    let sent_asset = form.asset_id.clone();
    let mut report = validate(form, &deps.city)?;
    let asset = match deps.city.service(&report.service_code) {
        Some(service) => {
            deps.city
                .asset_of_report(service, sent_asset.as_deref(), report.location)?
        }
        None => None,
    };
    if report.address.is_none() && !confidential {
        let nearest = deps
            .geocoder
            .nearest_address(report.location)
            .await
            .map_err(SubmitError::Unavailable)?;
        if let Some((address, distance)) =
            nearest.filter(|(_, distance)| *distance <= NEAREST_ADDRESS_WITHIN_M)
        {
            tracing::debug!(distance, "nearest address found");
            report.address = Some(format!("near {address}"));
        }
    }
    let service_name = deps
        .city
        .service(&report.service_code)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let now = deps.clock.now();
    let idempotency = submission
        .idempotency_key
        .as_ref()
        .map(|key| IdempotencyClaim {
            key: scoped_key(&submission.channel, key),
            fingerprint: submission.fingerprint.clone(),
            expires_at: now + Duration::hours(IDEMPOTENCY_WINDOW_HOURS),
        });
    let reporter = (!report.contact.is_empty()).then(|| report.contact.clone());
    let (fetch_url, notices) = match report.media_url.clone() {
        Some(url) if deps.city.media_fetch.allows(&url) => (Some(url), Vec::new()),
        Some(url) => (None, vec![not_fetched(&url)]),
        None => (None, Vec::new()),
    };
    for _ in 0..MAX_NUMBER_DRAWS {
        let mut request = ServiceRequest::submitted(
            deps.ids.tracking_number(),
            &report,
            &service_name,
            &submission.channel,
            now,
        );
        request.asset = asset.clone();
        let new = NewRequest {
            request,
            reporter: reporter.clone(),
            token: deps.ids.token(),
            first_entry: TimelineEntry::submitted(now),
            idempotency: idempotency.clone(),
        };
        match deps.store.create(&new).await {
            Ok(Created::New) => {
                queue_for_routing(deps, &new.request).await;
                if let Some(url) = fetch_url {
                    queue_fetch(deps, &new.request, url).await;
                }
                return Ok(Submitted {
                    request: new.request,
                    token: Some(new.token),
                    replayed: false,
                    notices,
                });
            }
            Ok(Created::Replayed {
                id,
                fingerprint,
                token,
            }) => {
                if fingerprint != submission.fingerprint {
                    return Err(SubmitError::KeyReused);
                }
                let request = deps
                    .store
                    .get(&id)
                    .await
                    .map_err(SubmitError::Unavailable)?
                    .ok_or_else(|| {
                        SubmitError::Unavailable(PortError::Unavailable(format!(
                            "request {id} of an idempotency key is missing"
                        )))
                    })?;
                // The first call may have died between storing the report and queueing it (the
                // client then never had its answer, and so sends again): queue it again rather
                // than leave it for the sweep. Routing a report twice still routes it once.
                if request.status == Status::Submitted {
                    queue_for_routing(deps, &request).await;
                }
                return Ok(Submitted {
                    request,
                    token,
                    replayed: true,
                    notices,
                });
            }
            Err(PortError::AlreadyExists(_)) => continue,
            Err(e) => return Err(SubmitError::Unavailable(e)),
        }
    }
    Err(SubmitError::Unavailable(PortError::Unavailable(
        "no free tracking number was found".into(),
    )))
}

/// Gives a report sent with only a typed address the point of that address, or refuses it with
/// the closest addresses the city knows.
async fn place_typed_address(
    deps: &IntakeDeps,
    mut form: ReportForm,
) -> Result<ReportForm, SubmitError> {
    let typed = form
        .address_string
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let (None, None, Some(typed)) = (form.lat, form.long, typed) else {
        return Ok(form);
    };
    match deps
        .geocoder
        .locate(typed)
        .await
        .map_err(SubmitError::Unavailable)?
    {
        Lookup::Found { location, address } => {
            form.lat = Some(location.lat());
            form.long = Some(location.long());
            form.address_string = Some(address);
            Ok(form)
        }
        Lookup::NotFound { suggestions } => {
            let short: String = typed.chars().take(80).collect();
            let message = if suggestions.is_empty() {
                format!("`{short}` is not an address {} knows; check it, or send the point as lat and long", deps.city.name)
            } else {
                format!(
                    "`{short}` is not an address {} knows; did you mean {}?",
                    deps.city.name,
                    suggestions.join(", or ")
                )
            };
            Err(Invalid::field("address_string", message)
                .with_code("unknown_address")
                .into())
        }
    }
}

/// Times intake tries again, at once, to queue a report's routing job that it could not queue.
/// The report is stored already, and a job still not queued is queued by the sweep a minute or
/// two later; a passing failure of the queue (the AWS SDK has retried SQS by then too) is tried
/// again here rather than leaving the resident's acknowledgement to wait for the sweep.
const ROUTING_JOB_RETRIES: usize = 2;

async fn queue_for_routing(deps: &IntakeDeps, request: &ServiceRequest) {
    let job = RoutingJob {
        request_id: request.id.clone(),
    };
    let body = serde_json::to_string(&job).expect("a routing job always serialises");
    let mut sent = deps.queue.send(QueueName::Routing, &body).await;
    for _ in 0..ROUTING_JOB_RETRIES {
        if sent.is_ok() {
            return;
        }
        sent = deps.queue.send(QueueName::Routing, &body).await;
    }
    if let Err(error) = sent {
        tracing::warn!(request_id = %request.id, %error, "routing job not queued; the sweep will queue it again");
    }
}

/// Why a `media_url` off the city's list is not fetched (the report itself is taken).
fn not_fetched(url: &str) -> String {
    let shown: String = url.chars().take(80).collect();
    format!(
        "The photo at media_url `{shown}` was not added: this city fetches photos only from the \
         places it lists; send it as an upload instead (POST /api/v1/requests/<tracking number>/media \
         with this answer's token)."
    )
}

/// Queues the photo at a client's `media_url` to be fetched. A failure to queue loses only the
/// photo, never the report, and is logged.
async fn queue_fetch(deps: &IntakeDeps, request: &ServiceRequest, url: String) {
    let job = crate::fetch::FetchJob {
        request_id: request.id.clone(),
        url,
    };
    let body = serde_json::to_string(&job).expect("a fetch job always serialises");
    if let Err(error) = deps.queue.send(QueueName::Media, &body).await {
        tracing::error!(request_id = %request.id, %error, "the media_url photo was not queued to be fetched");
    }
}
