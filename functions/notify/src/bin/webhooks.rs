//! The webhooks function on Lambda: batches of deliveries from the webhooks queue.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use cityfix_aws::AwsSetup;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use notify::http_webhooks::HttpWebhooks;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let deps = AwsSetup::from_env()
        .await?
        .webhook_deps(Arc::new(HttpWebhooks::new()?))?;
    let deps = &deps;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(notify::webhooks::handle(deps, event.payload).await)
    }))
    .await
}
