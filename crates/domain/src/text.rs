//! Text every layer may need to make safe: characters no field may hold, HTML escaping, what an
//! error may repeat of its input, and the hash that stands for a recipient.

use sha2::{Digest, Sha256};

/// Whether `c` may appear in text a resident or client sends: not a C0 control other than tab,
/// line feed and carriage return, not DEL, and not the noncharacters U+FFFE and U+FFFF. These are
/// also exactly what XML 1.0 cannot carry (besides surrogates, which a Rust string never holds).
pub fn is_allowed_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}' | '\u{fffe}' | '\u{ffff}')
}

/// The first character of `text` no field may hold, with its position in characters.
pub fn forbidden_char(text: &str) -> Option<(usize, char)> {
    text.chars().enumerate().find(|(_, c)| !is_allowed_char(*c))
}

/// `text` with every character XML 1.0 forbids replaced by U+FFFD, for writers that must never emit one.
pub fn xml_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(|c| is_allowed_char(c) || c == '\u{7f}') {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(
            text.chars()
                .map(|c| {
                    if is_allowed_char(c) || c == '\u{7f}' {
                        c
                    } else {
                        '\u{fffd}'
                    }
                })
                .collect(),
        )
    }
}

/// Most characters of a client's input an error message repeats.
pub const ECHO_CHARS: usize = 40;

/// What an error message may repeat of `input`: at most [`ECHO_CHARS`] characters, with `…` when
/// cut, and nothing a terminal or a log would take as control.
pub fn echo(input: &str) -> String {
    let mut shown: String = input
        .chars()
        .take(ECHO_CHARS)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if input.chars().nth(ECHO_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

/// `text` cut to at most `max_chars` characters, with `…` when cut.
pub fn cap(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// Text made safe to place in HTML.
pub fn escape_html(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// The SHA-256 of `text` in hex: what an idempotency key remembers of the body first sent with it.
pub fn fingerprint(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
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
    fn controls_and_noncharacters_are_forbidden_but_whitespace_is_not() {
        for c in [
            '\u{0}', '\u{8}', '\u{b}', '\u{c}', '\u{1b}', '\u{7f}', '\u{fffe}', '\u{ffff}',
        ] {
            assert!(!is_allowed_char(c), "{:?}", c);
        }
        for c in ['\t', '\n', '\r', ' ', 'é', '\u{fffd}', '😀'] {
            assert!(is_allowed_char(c), "{:?}", c);
        }
        assert_eq!(forbidden_char("a\u{0}b"), Some((1, '\u{0}')));
        assert_eq!(forbidden_char("line\r\nnext\ttab"), None);
    }

    #[test]
    fn xml_text_never_holds_what_xml_forbids() {
        assert_eq!(xml_safe("a\u{0}b\u{ffff}"), "a\u{fffd}b\u{fffd}");
        assert!(matches!(xml_safe("plain\n"), std::borrow::Cow::Borrowed(_)));
        // DEL is allowed by XML 1.0, though intake refuses it.
        assert_eq!(xml_safe("\u{7f}"), "\u{7f}");
    }

    #[test]
    fn an_echo_is_short_and_has_no_controls() {
        assert_eq!(echo("short"), "short");
        let long = "x".repeat(8192);
        assert_eq!(echo(&long).chars().count(), ECHO_CHARS + 1);
        assert!(echo(&long).ends_with('…'));
        assert_eq!(echo("a\u{1b}[31m"), "a\u{fffd}[31m");
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape_html("<b>\"a\" & 'b'</b>"),
            "&lt;b&gt;&quot;a&quot; &amp; &apos;b&apos;&lt;/b&gt;"
        );
    }
}
