//! Signed links in messages: unsubscribe, stop following, confirm following; tokens only the city can make.

use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a link is for; a token made for one purpose is refused for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Turn one channel of one recipient off.
    Unsubscribe,
    /// Confirm that an address asked to follow a request (`<request id>:<follower key>`).
    ConfirmFollow,
    /// Stop following a request (`<request id>:<follower key>`); the unsubscribe of a follower's letters.
    Unfollow,
    /// Answer "Has it been fixed?" (`<request id>:<closing, seconds>:<y|n>`).
    Survey,
}

impl Purpose {
    fn tag(self) -> &'static str {
        match self {
            Purpose::Unsubscribe => "u1",
            Purpose::ConfirmFollow => "c1",
            Purpose::Unfollow => "f1",
            Purpose::Survey => "s1",
        }
    }

    /// The purpose a token was made for, read from its first part (still to be verified).
    pub fn of_token(token: &str) -> Option<Purpose> {
        match token.split('.').next()? {
            "u1" => Some(Purpose::Unsubscribe),
            "c1" => Some(Purpose::ConfirmFollow),
            "f1" => Some(Purpose::Unfollow),
            "s1" => Some(Purpose::Survey),
            _ => None,
        }
    }
}

/// Why a link is not followed. Each is told to the person in words; none changes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefused {
    #[error("this link is not one of ours: it may have been cut short or changed")]
    Forged,
    #[error("this link has expired")]
    Expired,
}

/// How long an unsubscribe link keeps working (the mail that carries it may be read much later).
pub const UNSUBSCRIBE_DAYS: i64 = 365;

/// How long a link confirming a follow keeps working: whoever asked reads it soon, and a link
/// forgotten in a mailbox should not start messages weeks later.
pub const CONFIRM_FOLLOW_HOURS: i64 = 72;

/// Makes and checks tokens with the city's link secret (HMAC-SHA256, cut to 128 bits).
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(…)")
    }
}

const TAG_BYTES: usize = 16;

impl LinkSigner {
    pub fn new(key: &[u8]) -> Self {
        LinkSigner { key: key.to_vec() }
    }

    /// A secret of its own for `label`, made from this signer's key (hexadecimal, 64 digits): the
    /// same key always gives the same secret, and one label's secret tells nothing of another's.
    pub fn derived_secret(&self, label: &str) -> String {
        hex::encode(
            self.mac(&format!("derived\u{1f}{label}"))
                .finalize()
                .into_bytes(),
        )
    }

    fn mac(&self, signed: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(signed.as_bytes());
        mac
    }

    /// A token for `subject` (letters, digits, `-`, `_` and `:`), good until `expires`.
    pub fn sign(&self, purpose: Purpose, subject: &str, expires: DateTime<Utc>) -> String {
        debug_assert!(subject
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:".contains(c)));
        let signed = format!("{}.{subject}.{}", purpose.tag(), expires.timestamp());
        let tag = self.mac(&signed).finalize().into_bytes();
        format!("{signed}.{}", hex::encode(&tag[..TAG_BYTES]))
    }

    /// The subject of a token made for `purpose` and not expired at `now`.
    pub fn verify(
        &self,
        purpose: Purpose,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<String, LinkRefused> {
        let (signed, tag) = token.rsplit_once('.').ok_or(LinkRefused::Forged)?;
        let tag = hex::decode(tag).map_err(|_| LinkRefused::Forged)?;
        if tag.len() != TAG_BYTES {
            return Err(LinkRefused::Forged);
        }
        self.mac(signed)
            .verify_truncated_left(&tag)
            .map_err(|_| LinkRefused::Forged)?;
        let mut parts = signed.splitn(2, '.');
        let (Some(tag), Some(rest)) = (parts.next(), parts.next()) else {
            return Err(LinkRefused::Forged);
        };
        let (subject, expires) = rest.rsplit_once('.').ok_or(LinkRefused::Forged)?;
        if tag != purpose.tag() {
            return Err(LinkRefused::Forged);
        }
        let expires = expires
            .parse::<i64>()
            .ok()
            .and_then(|s| Utc.timestamp_opt(s, 0).single())
            .ok_or(LinkRefused::Forged)?;
        if expires <= now {
            return Err(LinkRefused::Expired);
        }
        Ok(subject.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn a_token_is_good_for_its_purpose_until_it_expires() {
        let signer = LinkSigner::new(b"secret");
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let token = signer.sign(
            Purpose::Unsubscribe,
            "email:0a1b2c3d",
            now + Duration::days(1),
        );
        assert_eq!(
            signer.verify(Purpose::Unsubscribe, &token, now).as_deref(),
            Ok("email:0a1b2c3d")
        );
        assert_eq!(
            signer.verify(Purpose::Unsubscribe, &token, now + Duration::days(2)),
            Err(LinkRefused::Expired)
        );
    }

    #[test]
    fn a_changed_token_or_another_secret_is_forged() {
        let signer = LinkSigner::new(b"secret");
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let token = signer.sign(
            Purpose::Unsubscribe,
            "email:0a1b2c3d",
            now + Duration::days(1),
        );
        let other = token.replace("email:0a1b2c3d", "email:ffffffff");
        let later = token.replace(
            &(now + Duration::days(1)).timestamp().to_string(),
            &(now + Duration::days(900)).timestamp().to_string(),
        );
        for bad in [
            other.as_str(),
            later.as_str(),
            "",
            "u1",
            "u1.x.1.zz",
            &token[..token.len() - 2],
        ] {
            assert_eq!(
                signer.verify(Purpose::Unsubscribe, bad, now),
                Err(LinkRefused::Forged),
                "{bad}"
            );
        }
        assert_eq!(
            LinkSigner::new(b"another").verify(Purpose::Unsubscribe, &token, now),
            Err(LinkRefused::Forged)
        );
    }

    #[test]
    fn a_token_made_for_one_purpose_is_refused_for_another() {
        let signer = LinkSigner::new(b"secret");
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let token = signer.sign(
            Purpose::ConfirmFollow,
            "7K3M-9QZ2:0a1b2c3d",
            now + Duration::days(1),
        );
        assert_eq!(Purpose::of_token(&token), Some(Purpose::ConfirmFollow));
        assert!(signer.verify(Purpose::ConfirmFollow, &token, now).is_ok());
        for other in [Purpose::Unsubscribe, Purpose::Unfollow, Purpose::Survey] {
            assert_eq!(signer.verify(other, &token, now), Err(LinkRefused::Forged));
        }
    }
}
