//! Texts residents send back to the city's number, as AWS End User Messaging publishes two-way
//! SMS to an SNS topic: a stop word turns texts to that number off, `START` turns them on again.
//!
//! The carrier and SNS keep their own opt-out list as well; this keeps ours the same, so notify
//! counts the text as turned off instead of handing SNS a message it will drop.

use aws_lambda_events::event::sns::SnsEvent;
use cityfix_app::ports::{Clock, PortError};
use cityfix_app::preferences::{sms_reply, TextReplies, TextReply};
use serde::Deserialize;

/// The part of an inbound text the SNS message carries that this reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InboundText {
    origination_number: String,
    message_body: String,
}

/// What handling a batch of replies did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Handled {
    pub stopped: usize,
    pub started: usize,
    /// Texts that asked for nothing, and messages that were not an inbound text at all.
    pub ignored: usize,
}

/// Applies every reply of the event. A message that is not an inbound text is logged and left
/// (asking again would not change it); a store that fails fails the event, so Lambda retries it.
pub async fn handle(
    replies: &TextReplies,
    clock: &dyn Clock,
    event: SnsEvent,
) -> Result<Handled, PortError> {
    let mut handled = Handled::default();
    for record in event.records {
        let text: InboundText = match serde_json::from_str(&record.sns.message) {
            Ok(text) => text,
            Err(error) => {
                tracing::warn!(message_id = %record.sns.message_id, %error, "not an inbound text: left");
                handled.ignored += 1;
                continue;
            }
        };
        match sms_reply(
            replies,
            &text.origination_number,
            &text.message_body,
            clock.now(),
        )
        .await?
        {
            TextReply::Stop => handled.stopped += 1,
            TextReply::Start => handled.started += 1,
            TextReply::Other => handled.ignored += 1,
        }
    }
    Ok(handled)
}
