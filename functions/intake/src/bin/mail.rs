//! The mail function on Lambda: messages SES received, from S3 ObjectCreated events.

use aws_lambda_events::event::s3::S3Event;
use cityfix_aws::AwsSetup;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let setup = AwsSetup::from_env().await?;
    let chooser = intake::service_chooser(&setup.city.services);
    let (mail, deps) = setup.mail_intake(chooser)?;
    let (mail, deps) = (&mail, &deps);
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| async move {
        intake::mail::handle(mail, deps, event.payload).await?;
        Ok::<(), Error>(())
    }))
    .await
}
