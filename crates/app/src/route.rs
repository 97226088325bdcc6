//! Routing: link a stored report to an open one of the same problem nearby, or decide who takes it, and tell status.

use std::sync::Arc;

use crate::fix_history::FixHistory;
use crate::messages::{RoutingJob, StatusCommand};
use crate::ports::{Near, Queue, QueueName, RequestQuery, RequestStore};
use crate::AppError;
use cityfix_domain::areas::distance_m;
use cityfix_domain::expected::expected_duration;
use cityfix_domain::{City, RoutingDecision, ServiceRequest, Status, Unroutable};

/// The id of the timeline entry a routing decision writes.
pub const ROUTED_EVENT: &str = "routed";
/// The id of the timeline entry a duplicate link by the router writes.
pub const DUPLICATE_EVENT: &str = "duplicate";

/// What the router needs.
#[derive(Clone)]
pub struct RouterDeps {
    pub city: Arc<City>,
    pub store: Arc<dyn RequestStore>,
    pub queue: Arc<dyn Queue>,
    /// Recent fixes per service, for expected dates (kept a few minutes).
    pub fix_history: FixHistory,
}

/// What routing did with a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// A decision was sent to status.
    Decided { assignee: String },
    /// The report repeats an open one nearby; status was asked to link them.
    Duplicate { of: String },
    /// The request had already left `submitted`; a redelivered job, nothing to do.
    AlreadyRouted,
}

/// Routes one stored report. Safe to run twice: the outcome is the same and status applies it once.
pub async fn route(deps: &RouterDeps, job: &RoutingJob) -> Result<Routed, AppError> {
    let request = deps.store.get(&job.request_id).await?.ok_or_else(|| {
        AppError::Impossible(format!("request {} does not exist", job.request_id))
    })?;
    if request.status != Status::Submitted {
        return Ok(Routed::AlreadyRouted);
    }
    let service = deps.city.service(&request.service_code).ok_or_else(|| {
        AppError::Impossible(format!(
            "request {} has service `{}`, which the city no longer offers",
            request.id, request.service_code
        ))
    })?;
    // A confidential report is never joined to another: most are filed at the city's centre.
    let radius_m = match service.confidential {
        true => 0.0,
        false => service.routing.duplicate_radius_m,
    };
    let original = match earlier_report_of_asset(deps, &request).await? {
        Some(original) => Some(original),
        None => earlier_report_nearby(deps, &request, radius_m).await?,
    };
    let (command, outcome) = match original {
        Some(original) => {
            let outcome = Routed::Duplicate {
                of: original.id.to_string(),
            };
            let command = StatusCommand::LinkDuplicate {
                request_id: request.id.clone(),
                original_id: original.id,
                decision_id: DUPLICATE_EVENT.into(),
                by: None,
            };
            (command, outcome)
        }
        None => {
            let mut decision = decide(&deps.city, &request)?;
            if matches!(
                decision.assignee,
                cityfix_domain::Assignee::Department { .. }
            ) {
                decision.expected_secs = expected_secs(deps, &request, service, &decision).await?;
            }
            let outcome = Routed::Decided {
                assignee: decision.assignee.id().to_string(),
            };
            (
                StatusCommand::Route {
                    request_id: request.id.clone(),
                    decision_id: ROUTED_EVENT.into(),
                    decision,
                },
                outcome,
            )
        }
    };
    let body = serde_json::to_string(&command).expect("a status command always serialises");
    deps.queue.send(QueueName::Status, &body).await?;
    Ok(outcome)
}

/// How long, from its report, a request will likely take: from how long similar requests were
/// recently fixed in, or the service's target (see `cityfix_domain::expected`).
async fn expected_secs(
    deps: &RouterDeps,
    request: &ServiceRequest,
    service: &cityfix_domain::Service,
    decision: &RoutingDecision,
) -> Result<Option<i64>, AppError> {
    let history = deps
        .fix_history
        .recent(deps.store.as_ref(), &service.code, request.requested_at)
        .await?;
    let area = deps
        .city
        .places
        .layers
        .first()
        .and_then(|layer| decision.areas.get(&layer.id))
        .map(String::as_str);
    let target = service
        .target_hours
        .map(|hours| chrono::Duration::hours(hours.into()));
    Ok(expected_duration(&history, area, target).map(|(took, _)| took.num_seconds()))
}

/// Who takes a request, by its place and service. Status calls it too, when the report a
/// duplicate was to be linked to was closed meanwhile.
pub fn decide(city: &City, request: &ServiceRequest) -> Result<RoutingDecision, AppError> {
    let service = city.service(&request.service_code).ok_or_else(|| {
        AppError::Impossible(format!(
            "request {} has service `{}`, which the city no longer offers",
            request.id, request.service_code
        ))
    })?;
    city.route(service, request.location)
        .map_err(|why| match why {
            Unroutable::NoKnownPlace => AppError::Impossible(format!(
                "request {} is in no place the city knows",
                request.id
            )),
            Unroutable::UnknownAssignee(id) => AppError::Impossible(format!(
                "service `{}` names `{id}`, which is neither a department nor an agency",
                service.code
            )),
        })
}

/// Whether `other` may be the original of `request`: another report, not itself a duplicate,
/// that came in earlier.
fn may_be_original(request: &ServiceRequest, other: &ServiceRequest) -> bool {
    other.id != request.id
        && other.duplicate_of.is_none()
        && (other.requested_at, &other.id) < (request.requested_at, &request.id)
}

/// The first report of the same service about the same asset (a streetlight's pole) that came
/// in earlier and is still being worked, wherever its point was put, if the request names one.
async fn earlier_report_of_asset(
    deps: &RouterDeps,
    request: &ServiceRequest,
) -> Result<Option<ServiceRequest>, AppError> {
    let Some(asset) = &request.asset else {
        return Ok(None);
    };
    let worked = [Status::Submitted, Status::Open, Status::InProgress];
    Ok(deps
        .store
        .requests_about_asset(asset)
        .await?
        .into_iter()
        .filter(|other| {
            other.service_code == request.service_code
                && worked.contains(&other.status)
                && may_be_original(request, other)
        })
        .min_by(|a, b| (a.requested_at, &a.id).cmp(&(b.requested_at, &b.id))))
}

/// The nearest report of the same service within `radius_m` that came in earlier and is still
/// being worked (and is not itself a duplicate), if any. Only inside the city: referrals are not
/// linked, nor are two reports about different assets (two poles side by side).
async fn earlier_report_nearby(
    deps: &RouterDeps,
    request: &ServiceRequest,
    radius_m: f64,
) -> Result<Option<ServiceRequest>, AppError> {
    if radius_m <= 0.0 || !deps.city.contains(request.location) {
        return Ok(None);
    }
    let query = RequestQuery {
        service_codes: vec![request.service_code.clone()],
        statuses: vec![Status::Submitted, Status::Open, Status::InProgress],
        near: Some(Near {
            location: request.location,
            radius_m,
        }),
        page: 1,
        page_size: 50,
        ..RequestQuery::default()
    };
    let here = request.location.to_point();
    let other_asset = |other: &ServiceRequest| matches!((&request.asset, &other.asset), (Some(a), Some(b)) if a != b);
    Ok(deps
        .store
        .search(&query)
        .await?
        .into_iter()
        .filter(|other| may_be_original(request, other) && !other_asset(other))
        .min_by(|a, b| {
            let (da, db) = (
                distance_m(here, a.location.to_point()),
                distance_m(here, b.location.to_point()),
            );
            da.total_cmp(&db).then(a.requested_at.cmp(&b.requested_at))
        }))
}
