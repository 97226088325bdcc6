//! The mail function: each message SES wrote to the mail bucket (`inbound/…`) is read into a
//! report, a comment, or an answer, as `cityfix intake-email` does locally.

use aws_lambda_events::event::s3::S3Event;
use cityfix_app::mail_intake::{intake_email, MailIntakeDeps, MailOutcome};
use cityfix_app::ports::MediaStore;
use cityfix_app::AppError;

/// Where SES writes received messages in the mail bucket.
pub const INBOUND_PREFIX: &str = "inbound/";

/// Reads every message the event names. An object outside `inbound/` is left; a store, queue
/// or mail failure is an error, so Lambda tries the event again (the Message-ID keeps a
/// report from being filed twice).
pub async fn handle(
    mail: &dyn MediaStore,
    deps: &MailIntakeDeps,
    event: S3Event,
) -> Result<Vec<MailOutcome>, AppError> {
    let mut outcomes = Vec::new();
    for key in cityfix_http::batch::s3_object_keys(event) {
        if !key.starts_with(INBOUND_PREFIX) {
            tracing::warn!(%key, "not a received message: left");
            continue;
        }
        let raw = mail.get(&key).await?;
        let outcome = intake_email(deps, &raw).await?;
        match &outcome {
            MailOutcome::Reported { id, media } => {
                tracing::info!(%key, request_id = %id, media, "e-mail filed")
            }
            MailOutcome::Commented(id) => tracing::info!(%key, request_id = %id, "e-mail comment"),
            MailOutcome::Answered(letter, _) => {
                tracing::info!(%key, letter = letter.name(), "e-mail answered")
            }
            MailOutcome::Ignored(why) => tracing::info!(%key, why, "e-mail ignored"),
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}
