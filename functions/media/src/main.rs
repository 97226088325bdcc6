//! The media function on Lambda: started by S3 for every upload.

use aws_lambda_events::event::s3::S3Event;
use cityfix_aws::{AwsSetup, Failure};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let deps = AwsSetup::from_env().await?.media_deps()?;
    let deps = &deps;
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| async move {
        let checked = media::handle(deps, event.payload).await.map_err(Failure)?;
        Ok::<usize, Failure>(checked.len())
    }))
    .await
}
