//! Backlog alerts: a supervisor declares a delay for a service, optionally in one area; every
//! request it covers, and every new one while it stands, gets the backlog's expected date and the
//! notice once; lifting it is written on their timelines.
//!
//! Only status writes requests: declaring, lifting and the scheduler's sweep put one
//! [`WorkAction::Backlogged`] or [`WorkAction::BacklogLifted`] per request on the status queue,
//! named `backlog-<id>` or `backlog-lifted-<id>`, so each is applied once per request however often
//! it is sent; a request keeps the ids of the backlogs it was told of, so the sweep skips it.

use crate::messages::StatusCommand;
use crate::ports::{Queue, QueueName, RequestStore};
use crate::work::{Actor, WorkAction, WorkCommand};
use crate::AppError;
use cityfix_domain::backlog::Backlog;
use cityfix_domain::{City, ServiceRequest, Status};

/// The most requests of one department and status one sweep reads for one backlog.
const MAX_READ_PER_QUEUE: usize = 5000;

/// Requests read per page of a department's queue.
const PAGE: u32 = 100;

/// Queues the notice for every request `backlog` covers that was not told of it yet; gives how
/// many.
pub async fn queue_notices(
    city: &City,
    store: &dyn RequestStore,
    queue: &dyn Queue,
    backlog: &Backlog,
) -> Result<usize, AppError> {
    let covered: Vec<ServiceRequest> = worked_requests(city, store, |request| {
        backlog.covers(request) && !request.backlogs.contains(&backlog.id)
    })
    .await?;
    let commands: Vec<String> = covered
        .iter()
        .map(|request| {
            command(
                request,
                format!("backlog-{}", backlog.id),
                backlog,
                WorkAction::Backlogged {
                    backlog_id: backlog.id.clone(),
                    expected_at: backlog.expected_at,
                    message: backlog.message.clone(),
                },
            )
        })
        .collect();
    queue.send_batch(QueueName::Status, &commands).await?;
    Ok(commands.len())
}

/// Queues the lifting of `backlog` on every request still being worked that was told of it;
/// gives how many.
pub async fn queue_lifting(
    city: &City,
    store: &dyn RequestStore,
    queue: &dyn Queue,
    backlog: &Backlog,
) -> Result<usize, AppError> {
    let told: Vec<ServiceRequest> = worked_requests(city, store, |request| {
        request.backlogs.contains(&backlog.id)
    })
    .await?;
    let commands: Vec<String> = told
        .iter()
        .map(|request| {
            command(
                request,
                format!("backlog-lifted-{}", backlog.id),
                backlog,
                WorkAction::BacklogLifted {
                    backlog_id: backlog.id.clone(),
                },
            )
        })
        .collect();
    queue.send_batch(QueueName::Status, &commands).await?;
    Ok(commands.len())
}

/// The scheduler's job: the notices of every standing backlog for requests that came into its
/// scope since (new reports, requests moved to its area or service).
pub async fn queue_backlog_notices(
    city: &City,
    store: &dyn RequestStore,
    queue: &dyn Queue,
) -> Result<usize, AppError> {
    let mut queued = 0;
    for backlog in store.backlogs().await?.iter().filter(|b| b.is_active()) {
        queued += queue_notices(city, store, queue, backlog).await?;
    }
    if queued > 0 {
        tracing::info!(count = queued, "queued backlog notices");
    }
    Ok(queued)
}

fn command(
    request: &ServiceRequest,
    decision_id: String,
    backlog: &Backlog,
    action: WorkAction,
) -> String {
    let command = StatusCommand::Work(WorkCommand {
        request_id: request.id.clone(),
        decision_id,
        by: Actor {
            id: backlog.declared_by.clone(),
            name: format!("Backlog {}", backlog.id),
            role: "backlog".into(),
        },
        expected_version: None,
        action,
    });
    serde_json::to_string(&command).expect("a status command always serialises")
}

/// The requests being worked (open or in progress, in every department's queue) that `keep`
/// keeps. Requests not yet routed are told once they are: the next sweep finds them.
async fn worked_requests(
    city: &City,
    store: &dyn RequestStore,
    keep: impl Fn(&ServiceRequest) -> bool,
) -> Result<Vec<ServiceRequest>, AppError> {
    let mut found = Vec::new();
    for department in &city.departments {
        for status in [Status::Open, Status::InProgress] {
            let mut after: Option<String> = None;
            let mut read = 0;
            loop {
                let page = store
                    .department_queue(&department.id, status, after.as_deref(), PAGE)
                    .await?;
                read += page.requests.len();
                found.extend(page.requests.into_iter().filter(|r| keep(r)));
                match page.next {
                    Some(next) if read < MAX_READ_PER_QUEUE => after = Some(next),
                    _ => break,
                }
            }
        }
    }
    Ok(found)
}
