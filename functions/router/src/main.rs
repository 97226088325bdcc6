//! The router function on Lambda: batches of routing jobs from SQS.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use cityfix_aws::AwsSetup;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let deps = AwsSetup::from_env().await?.router_deps()?;
    let deps = &deps;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(router::handle(deps, event.payload).await)
    }))
    .await
}
