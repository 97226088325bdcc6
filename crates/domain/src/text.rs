//! Text every layer may need to make safe: HTML escaping, and the hash that stands for a recipient.

use sha2::{Digest, Sha256};

/// Text made safe to place in HTML.
pub fn escape_html(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// A hash that stands for a recipient in keys and logs, so no address is ever written there.
pub fn recipient_hash(address: &str) -> String {
    hex::encode(&Sha256::digest(address.trim().to_lowercase().as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipient_is_the_same_whatever_its_case_and_spacing() {
        assert_eq!(
            recipient_hash(" Ana@Example.org "),
            recipient_hash("ana@example.org")
        );
        assert_ne!(
            recipient_hash("ana@example.org"),
            recipient_hash("bo@example.org")
        );
        assert_eq!(recipient_hash("ana@example.org").len(), 16);
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape_html("<b>\"a\" & 'b'</b>"),
            "&lt;b&gt;&quot;a&quot; &amp; &apos;b&apos;&lt;/b&gt;"
        );
    }
}
