//! The languages the city writes to residents in, and how a resident's choice is read.

use serde::{Deserialize, Serialize};

/// A language messages are written in. English is the city's own; a resident who asks for
/// Spanish gets Spanish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Es,
}

impl Language {
    /// Every language the city writes in.
    pub const ALL: [Language; 2] = [Language::En, Language::Es];

    /// The language a tag names (`es`, `es-MX`, `EN_us`), if the city writes in it.
    pub fn parse(tag: &str) -> Option<Language> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Language::En),
            "es" => Some(Language::Es),
            _ => None,
        }
    }

    /// The language an `Accept-Language` header prefers among those the city writes in: the
    /// highest weight wins, the first listed among equals; `None` when it names none of them.
    pub fn from_accept_language(header: &str) -> Option<Language> {
        let mut best: Option<(u16, Language)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let Some(language) = parts.next().and_then(Language::parse) else {
                continue;
            };
            let weight = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            let weight = (weight.clamp(0.0, 1.0) * 1000.0) as u16;
            if weight > 0 && best.is_none_or(|(w, _)| weight > w) {
                best = Some((weight, language));
            }
        }
        best.map(|(_, language)| language)
    }

    /// The tag written in messages and stored (`en`, `es`).
    pub fn tag(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es => "es",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Language;

    #[test]
    fn a_tag_names_its_primary_language_only_if_the_city_writes_in_it() {
        assert_eq!(Language::parse("es-MX"), Some(Language::Es));
        assert_eq!(Language::parse(" EN_us"), Some(Language::En));
        assert_eq!(Language::parse("fr"), None);
        assert_eq!(Language::parse(""), None);
    }

    #[test]
    fn accept_language_takes_the_heaviest_language_the_city_writes_in() {
        assert_eq!(
            Language::from_accept_language("fr-FR, es;q=0.8, en;q=0.5"),
            Some(Language::Es)
        );
        assert_eq!(
            Language::from_accept_language("en;q=0.4,es-US;q=0.9"),
            Some(Language::Es)
        );
        assert_eq!(
            Language::from_accept_language("en-US,en;q=0.9,es;q=0.8"),
            Some(Language::En)
        );
        assert_eq!(Language::from_accept_language("de, es;q=0"), None);
        assert_eq!(Language::from_accept_language(""), None);
    }
}
