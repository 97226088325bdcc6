//! The text replies function on Lambda: inbound SMS from the two-way SNS topic.

use aws_lambda_events::event::sns::SnsEvent;
use cityfix_app::ports::SystemClock;
use cityfix_aws::AwsSetup;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let replies = AwsSetup::from_env().await?.text_replies()?;
    let replies = &replies;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SnsEvent>| async move {
        let handled = notify::sms_replies::handle(replies, &SystemClock, event.payload).await?;
        tracing::info!(?handled, "text replies");
        Ok::<(), Error>(())
    }))
    .await
}
