//! The webhooks function: posts each queued delivery to its webhook, signed, and queues a
//! failed one again later (see `cityfix_app::webhooks` for the rules and docs/messages.md).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use cityfix_app::ports::QueueName;
use cityfix_app::updates::listed_publicly;
use cityfix_app::webhooks::{
    retry_delay, signature, webhook_secret, WebhookAnswer, WebhookDeps, WebhookJob,
};
use cityfix_http::batch::for_each_message;
use cityfix_http::open311::request_view;
use serde_json::json;

/// What became of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver answered 2xx.
    Delivered(u16),
    /// The receiver refused the body (a 4xx); it is not sent again.
    Refused(u16),
    /// Not delivered yet: queued again for after this delay.
    Retrying(std::time::Duration),
    /// Nothing to send any more: the webhook left city.toml, or the request is not public.
    Dropped(&'static str),
}

/// Delivers every job of a batch; a job whose tries are used up (or that cannot be read) is
/// handed back, so the queue's redrive takes it to the dead-letter queue.
pub async fn handle(deps: &WebhookDeps, event: SqsEvent) -> SqsBatchResponse {
    for_each_message(event, |body| async move {
        let job: WebhookJob =
            serde_json::from_str(&body).map_err(|e| format!("not a webhook job: {e}"))?;
        let delivery = deliver(deps, &job).await?;
        tracing::info!(webhook = %job.webhook, delivery_id = %job.delivery_id, attempt = job.attempt, outcome = ?delivery, "webhook");
        Ok(())
    })
    .await
}

/// The body a webhook is sent: the event and the request's public view (what Open311 shows),
/// never a reporter's contact.
pub fn payload(deps: &WebhookDeps, job: &WebhookJob, view: serde_json::Value) -> String {
    json!({
        "delivery_id": job.delivery_id,
        "event": job.event,
        "occurred_at": job.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "jurisdiction_id": deps.city.jurisdiction_id,
        "request": view,
    })
    .to_string()
}

/// Posts one job's body to its webhook. An error is a try that failed with no tries left, or a
/// store or queue that failed: the message comes back.
pub async fn deliver(deps: &WebhookDeps, job: &WebhookJob) -> Result<Delivery, String> {
    let Some(webhook) = deps.city.webhooks.iter().find(|w| w.name == job.webhook) else {
        return Ok(Delivery::Dropped("the webhook is no longer in city.toml"));
    };
    let request = deps
        .store
        .get(&job.request_id)
        .await
        .map_err(|e| e.to_string())?
        .filter(|request| listed_publicly(&deps.city, request));
    let Some(request) = request else {
        return Ok(Delivery::Dropped(
            "the request is not one the public may see",
        ));
    };
    let view = request_view(&deps.city, &deps.public_url, &request);
    let body = payload(deps, job, view);
    let secret = webhook_secret(&deps.links, &webhook.name);
    let headers = [
        ("content-type", "application/json".to_string()),
        ("user-agent", "cityfix-webhooks/1".to_string()),
        ("cityfix-event", job.event.clone()),
        ("cityfix-delivery", job.delivery_id.clone()),
        (
            "cityfix-signature",
            signature(&secret, deps.clock.now().timestamp(), &body),
        ),
    ];
    match deps.sender.post(&webhook.url, &headers, &body).await {
        WebhookAnswer::Delivered(status) => Ok(Delivery::Delivered(status)),
        WebhookAnswer::Refused(status) => {
            tracing::warn!(webhook = %webhook.name, status, delivery_id = %job.delivery_id, "the webhook refused a delivery; it is not sent again");
            Ok(Delivery::Refused(status))
        }
        WebhookAnswer::Failed(why) => {
            let Some(delay) = retry_delay(job.attempt) else {
                return Err(format!(
                    "webhook {} failed {} tries, the last: {why}",
                    webhook.name, job.attempt
                ));
            };
            let next = WebhookJob {
                attempt: job.attempt + 1,
                ..job.clone()
            };
            let next = serde_json::to_string(&next).expect("a webhook job always serialises");
            deps.queue
                .send_delayed(QueueName::Webhooks, &next, delay)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Delivery::Retrying(delay))
        }
    }
}
