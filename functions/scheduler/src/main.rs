//! The scheduler function on Lambda: started by an EventBridge schedule.

use std::sync::Arc;

use cityfix_app::ports::{QueueName, SystemClock};
use cityfix_aws::AwsSetup;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use scheduler::SchedulerDeps;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let setup = AwsSetup::from_env().await?;
    let deps = SchedulerDeps {
        store: Arc::new(setup.store()?),
        queue: Arc::new(setup.queues(&[QueueName::Routing])?),
        clock: Arc::new(SystemClock),
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            Ok::<usize, Error>(scheduler::handle(deps, event.payload).await?)
        },
    ))
    .await
}
