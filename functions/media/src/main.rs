//! The media function on Lambda: started by S3 for every upload.

use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use cityfix_app::media::MediaDeps;
use cityfix_app::ports::QueueName;
use cityfix_aws::AwsSetup;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let setup = AwsSetup::from_env().await?;
    let deps = MediaDeps {
        media: Arc::new(setup.media()?),
        queue: Arc::new(setup.queues(&[QueueName::Status])?),
        public_url: setup.public_url.clone(),
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| async move {
        Ok::<usize, Error>(media::handle(deps, event.payload).await?.len())
    }))
    .await
}
