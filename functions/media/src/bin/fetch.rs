//! The fetch function on Lambda: batches of fetch jobs from the media queue.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use cityfix_app::fetch::FetchDeps;
use cityfix_aws::AwsSetup;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use media::http_fetch::HttpFetcher;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let setup = AwsSetup::from_env().await?;
    let deps = FetchDeps {
        checks: setup.media_deps()?,
        fetcher: Arc::new(HttpFetcher),
        rules: setup.city.media_fetch.clone(),
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(media::fetch::handle(deps, event.payload).await)
    }))
    .await
}
