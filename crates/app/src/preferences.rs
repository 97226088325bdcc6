//! A recipient's channels: an unsubscribe link or a STOP reply turns one off, and notify asks first.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::links::{LinkRefused, LinkSigner, Purpose};
use crate::notify::Channel;
use crate::ports::{PortError, RequestStore};
use cityfix_domain::phone::to_e164;
use cityfix_domain::recipient_hash;

/// Stands for one address on one channel in the store and in links; never the address itself.
/// A phone number is keyed in E.164, so a STOP from `+18605550199` finds the number a reporter
/// wrote as `(860) 555-0199`.
pub fn recipient_key(channel: Channel, address: &str, country_calling_code: u16) -> String {
    let address = match channel {
        Channel::Sms => to_e164(address, country_calling_code).unwrap_or_else(|| address.into()),
        Channel::Email | Channel::Push => address.to_string(),
    };
    format!("{}:{}", channel.as_str(), recipient_hash(&address))
}

/// Why an unsubscribe was not done; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum UnsubscribeError {
    #[error(transparent)]
    Refused(#[from] LinkRefused),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// The channel a signed unsubscribe link turns off and the recipient it names, if the link is
/// ours and current.
pub fn read_unsubscribe(
    links: &LinkSigner,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(Channel, String), LinkRefused> {
    let recipient = links.verify(Purpose::Unsubscribe, token, now)?;
    let channel = recipient
        .split_once(':')
        .and_then(|(channel, _)| Channel::parse(channel))
        .ok_or(LinkRefused::Forged)?;
    Ok((channel, recipient))
}

/// Follows an unsubscribe link: the channel it names is off for its recipient from now on.
pub async fn unsubscribe(
    store: &dyn RequestStore,
    links: &LinkSigner,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Channel, UnsubscribeError> {
    let (channel, recipient) = read_unsubscribe(links, token, now)?;
    store
        .set_channel_off(&recipient, channel.as_str(), true, now)
        .await?;
    tracing::info!(
        channel = channel.as_str(),
        "a recipient turned a channel off"
    );
    Ok(channel)
}

/// What a text message sent back to the city's number asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextReply {
    /// A stop word (the carriers' words, and their Spanish ones): no more texts.
    Stop,
    /// `START` or `UNSTOP`: texts again, after a stop.
    Start,
    /// Anything else; nothing changes.
    Other,
}

impl TextReply {
    /// Reads the whole message as one word, as carriers do: "stop." stops, "don't stop" does not.
    pub fn read(text: &str) -> TextReply {
        let word = text.trim().trim_end_matches(['.', '!']).to_uppercase();
        match word.as_str() {
            "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" | "PARAR" | "ALTO"
            | "BAJA" => TextReply::Stop,
            "START" | "UNSTOP" => TextReply::Start,
            _ => TextReply::Other,
        }
    }
}

/// What answering text replies needs: the store, and the city's calling code to read numbers.
#[derive(Clone)]
pub struct TextReplies {
    pub store: Arc<dyn RequestStore>,
    pub country_calling_code: u16,
}

/// A text message received from `from`: a stop word turns texts to that number off, `START`
/// turns them on again. Says which it was.
pub async fn sms_reply(
    replies: &TextReplies,
    from: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<TextReply, PortError> {
    let reply = TextReply::read(text);
    let off = match reply {
        TextReply::Stop => true,
        TextReply::Start => false,
        TextReply::Other => return Ok(reply),
    };
    let recipient = recipient_key(Channel::Sms, from, replies.country_calling_code);
    replies
        .store
        .set_channel_off(&recipient, Channel::Sms.as_str(), off, now)
        .await?;
    if off {
        tracing::info!("a number replied STOP: texts to it are off");
    } else {
        tracing::info!("a number replied START: texts to it are on again");
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_one_recipient_however_it_is_written() {
        assert_eq!(
            recipient_key(Channel::Sms, "(860) 555-0199", 1),
            recipient_key(Channel::Sms, "+18605550199", 1)
        );
        assert_ne!(
            recipient_key(Channel::Sms, "+18605550199", 1),
            recipient_key(Channel::Push, "+18605550199", 1)
        );
        assert!(!recipient_key(Channel::Email, "ana@example.org", 1).contains("ana"));
    }

    #[test]
    fn stop_words_are_the_whole_message() {
        for stop in ["STOP", " stop ", "Stop.", "PARAR", "baja"] {
            assert_eq!(TextReply::read(stop), TextReply::Stop, "{stop}");
        }
        for start in ["START", "unstop!"] {
            assert_eq!(TextReply::read(start), TextReply::Start, "{start}");
        }
        for other in ["don't stop", "thanks", "", "STOP IT", "start again"] {
            assert_eq!(TextReply::read(other), TextReply::Other, "{other}");
        }
    }
}
