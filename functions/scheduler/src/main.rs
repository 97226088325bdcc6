//! The scheduler function on Lambda: started by an EventBridge schedule.

use cityfix_aws::{AwsSetup, Failure};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let deps = AwsSetup::from_env().await?.scheduler_deps()?;
    let deps = &deps;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            let ticked = scheduler::handle(deps, event.payload)
                .await
                .map_err(Failure)?;
            Ok::<_, Failure>(serde_json::json!({
                "requeued": ticked.requeued,
                "breaches": ticked.breaches,
                "archiving": ticked.archiving,
            }))
        },
    ))
    .await
}
