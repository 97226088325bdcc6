//! Routing: decide which department takes a stored report and hand the decision to status.

use std::sync::Arc;

use super::messages::{RoutingJob, StatusCommand};
use super::AppError;
use crate::domain::{City, Status};
use crate::ports::{Queue, QueueName, RequestStore};

/// The id of the timeline entry a routing decision writes.
pub const ROUTED_EVENT: &str = "routed";

/// What the router needs.
#[derive(Clone)]
pub struct RouterDeps {
    pub city: Arc<City>,
    pub store: Arc<dyn RequestStore>,
    pub queue: Arc<dyn Queue>,
}

/// What routing did with a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// A decision was sent to status.
    Decided { department: String },
    /// The request had already left `submitted`; a redelivered job, nothing to do.
    AlreadyRouted,
}

/// Routes one stored report. Safe to run twice: the decision is the same and status applies it once.
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
    let decision = deps.city.route(service, request.location).ok_or_else(|| {
        AppError::Impossible(format!(
            "service `{}` names no department the city has",
            service.code
        ))
    })?;
    let department = decision.department.clone();
    let command = StatusCommand::Route {
        request_id: request.id.clone(),
        decision_id: ROUTED_EVENT.into(),
        decision,
    };
    let body = serde_json::to_string(&command).expect("a status command always serialises");
    deps.queue.send(QueueName::Status, &body).await?;
    Ok(Routed::Decided { department })
}
