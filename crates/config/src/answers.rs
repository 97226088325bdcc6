//! The city's questions and answers (`answers.toml`): where to go, what to bring, what it costs, opening hours and links, in each of the site's languages, checked whole at start.

use std::collections::BTreeMap;
use std::path::Path;

use cityfix_domain::Service;
use serde::{Deserialize, Serialize};

use crate::checks::{entry_name, is_slug};
use crate::files::read_toml;
use crate::ConfigError;

/// The longest id an answer may have; it is part of the answer's URL.
const MAX_ID: usize = 60;

/// One question a resident asks and the city's answer to it. Public: nothing personal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// Lowercase letters, digits and dashes: `birth-certificate`.
    pub id: String,
    /// A service the answer leads to ("report a missed pickup"), by its code.
    #[serde(default)]
    pub service: Option<String>,
    /// The texts by language code; the site's first language is always there.
    pub text: BTreeMap<String, AnswerText>,
    #[serde(default, rename = "link")]
    pub links: Vec<Link>,
}

/// An answer in one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerText {
    pub question: String,
    /// The answer in a sentence or a short paragraph.
    pub answer: String,
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub where_to_go: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bring: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<String>,
    /// Other words residents use for it, searched like the question.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
}

/// A page elsewhere that says more, titled in the site's languages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub url: String,
    pub title: BTreeMap<String, String>,
}

impl Answer {
    /// The text in `language`, else in the site's first language (always there once checked).
    pub fn text_in(&self, language: &str, first: &str) -> &AnswerText {
        self.text
            .get(language)
            .or_else(|| self.text.get(first))
            .or_else(|| self.text.values().next())
            .expect("a checked answer has a text")
    }
}

/// answers.toml as written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswersFile {
    #[serde(default, rename = "answer")]
    answers: Vec<Answer>,
}

/// Reads `answers.toml` from the city folder (none is no answers) and checks each answer against
/// the site's languages (`languages`, the city's own first) and the service catalogue.
pub fn read_answers(
    dir: &Path,
    languages: &[String],
    services: &[Service],
) -> Result<Vec<Answer>, ConfigError> {
    let path = dir.join("answers.toml");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let file: AnswersFile = read_toml(&path)?;
    let first = languages.first().map(String::as_str).unwrap_or("en");
    let mut seen = std::collections::HashSet::new();
    for (index, answer) in file.answers.iter().enumerate() {
        let fault = |field: &str, message: String| ConfigError {
            file: path.clone(),
            entry: Some(entry_name("answer", index, &answer.id)),
            field: Some(field.into()),
            message,
        };
        if !is_slug(&answer.id, '-') || answer.id.len() > MAX_ID {
            return Err(fault(
                "id",
                format!("must be 1 to {MAX_ID} lowercase letters, digits and dashes, like `birth-certificate`"),
            ));
        }
        if !seen.insert(answer.id.as_str()) {
            return Err(fault("id", "another answer has this id".into()));
        }
        if let Some(code) = &answer.service {
            if !services.iter().any(|s| &s.code == code) {
                return Err(fault(
                    "service",
                    format!("`{code}` is not a service in services.toml"),
                ));
            }
        }
        if !answer.text.contains_key(first) {
            return Err(fault(
                "text",
                format!("has no `[answer.text.{first}]`: every answer is written in the site's first language"),
            ));
        }
        for (language, text) in &answer.text {
            if !languages.contains(language) {
                return Err(fault(
                    &format!("text.{language}"),
                    format!(
                        "`{language}` is not one of the site's languages ({})",
                        languages.join(", ")
                    ),
                ));
            }
            for (field, value) in [("question", &text.question), ("answer", &text.answer)] {
                if value.trim().is_empty() {
                    return Err(fault(
                        &format!("text.{language}.{field}"),
                        "must not be empty".into(),
                    ));
                }
            }
        }
        for link in &answer.links {
            if !link.url.starts_with("https://") || link.url.len() <= "https://".len() {
                return Err(fault(
                    "link.url",
                    format!("`{}` must be an https:// address", link.url),
                ));
            }
            if !link.title.contains_key(first) {
                return Err(fault(
                    "link.title",
                    format!("the link to {} has no title in `{first}`", link.url),
                ));
            }
            if let Some(language) = link.title.keys().find(|l| !languages.contains(l)) {
                return Err(fault(
                    "link.title",
                    format!("`{language}` is not one of the site's languages"),
                ));
            }
        }
    }
    Ok(file.answers)
}

/// The `[[answer]]` entry of answers.toml for a question staff answered, ready to paste into the
/// city folder (answers are read when the city loads; nothing adds one while it runs). Its id is
/// made from the question's words; the one who pastes it may change it, and add keywords.
pub fn answer_entry(language: &str, question: &str, answer: &str) -> String {
    let text = AnswerText {
        question: question.trim().to_string(),
        answer: answer.trim().to_string(),
        where_to_go: None,
        bring: None,
        cost: None,
        hours: None,
        keywords: Vec::new(),
    };
    let file = AnswersFile {
        answers: vec![Answer {
            id: answer_id(question),
            service: None,
            text: BTreeMap::from([(language.to_string(), text)]),
            links: Vec::new(),
        }],
    };
    toml::to_string(&file).expect("an answer always serialises")
}

/// An answer id from a question's words: lowercase letters and digits joined by dashes, at most
/// [`MAX_ID`] characters, `question` when no word is left.
fn answer_id(question: &str) -> String {
    // Spanish letters as their plain ones, so "¿Dónde…?" is `donde`.
    let plain: String = question
        .chars()
        .map(|c| match c.to_lowercase().next().unwrap_or(c) {
            'á' | 'à' => 'a',
            'é' | 'è' => 'e',
            'í' => 'i',
            'ó' => 'o',
            'ú' | 'ü' => 'u',
            'ñ' => 'n',
            other => other,
        })
        .collect();
    let mut id = String::new();
    for word in plain
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_ascii_lowercase();
        let wanted = if id.is_empty() {
            word.len()
        } else {
            word.len() + 1
        };
        if id.len() + wanted > MAX_ID {
            break;
        }
        if !id.is_empty() {
            id.push('-');
        }
        id.push_str(&word);
    }
    if id.is_empty() {
        id.push_str("question");
    }
    id
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_answered_question_becomes_an_entry_answers_toml_reads_back() {
        let entry = super::answer_entry(
            "es",
            "¿Dónde saco la licencia de pesca? \"Ya\"",
            "En la oficina del secretario, 550 Main St.\nDe lunes a viernes.",
        );
        let file: super::AnswersFile = toml::from_str(&entry).unwrap();
        let answer = &file.answers[0];
        assert_eq!(answer.id, "donde-saco-la-licencia-de-pesca-ya");
        let text = &answer.text["es"];
        assert_eq!(text.question, "¿Dónde saco la licencia de pesca? \"Ya\"");
        assert!(text.answer.ends_with("De lunes a viernes."));
        assert!(entry.starts_with("[[answer]]"), "{entry}");
        assert_eq!(super::answer_id("?!"), "question");
        assert!(super::answer_id(&"word ".repeat(40)).len() <= super::MAX_ID);
    }
    use super::*;

    fn demo_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/hartford")
    }

    fn languages() -> Vec<String> {
        vec!["en".into(), "es".into()]
    }

    fn services() -> Vec<Service> {
        crate::load_city(&demo_dir()).unwrap().services
    }

    fn folder_with(answers: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("answers.toml"), answers).unwrap();
        dir
    }

    const GOOD: &str = r#"
[[answer]]
id = "birth-certificate"
[answer.text.en]
question = "How do I get a birth certificate?"
answer = "Ask the Town Clerk."
[answer.text.es]
question = "¿Cómo obtengo un acta de nacimiento?"
answer = "Pregunte a la Secretaría Municipal."
[[answer.link]]
url = "https://example.org/vital-records"
title = { en = "Vital records", es = "Registros vitales" }
"#;

    #[test]
    fn the_demo_city_answers_in_english_and_spanish() {
        let answers = read_answers(&demo_dir(), &languages(), &services()).unwrap();
        assert!(answers.len() >= 15, "{} answers", answers.len());
        assert!(answers
            .iter()
            .all(|a| a.text.contains_key("en") && a.text.contains_key("es")));
        assert!(answers.iter().any(|a| a.id == "birth-certificate"));
        assert!(answers.iter().any(|a| a.service.is_some()));
    }

    #[test]
    fn a_folder_without_answers_has_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_answers(dir.path(), &languages(), &[]).unwrap(), []);
    }

    #[test]
    fn a_good_file_is_read_with_its_links() {
        let dir = folder_with(GOOD);
        let answers = read_answers(dir.path(), &languages(), &[]).unwrap();
        assert_eq!(answers[0].links[0].title["es"], "Registros vitales");
        assert_eq!(
            answers[0].text_in("fr", "en").question,
            "How do I get a birth certificate?"
        );
    }

    #[test]
    fn faults_name_the_answer_and_the_field() {
        let cases = [
            (GOOD.replace("birth-certificate", "Birth Certificate"), "id"),
            (GOOD.replace("[answer.text.en]", "[answer.text.fr]"), "text"),
            (
                GOOD.replace("answer = \"Ask the Town Clerk.\"", "answer = \" \""),
                "text.en.answer",
            ),
            (
                GOOD.replace("https://example.org", "http://example.org"),
                "link.url",
            ),
            (
                GOOD.replace("title = { en = \"Vital records\", ", "title = { "),
                "link.title",
            ),
            (
                GOOD.replace(
                    "id = \"birth-certificate\"",
                    "id = \"b\"\nservice = \"nope\"",
                ),
                "service",
            ),
            // the same answer twice
            (format!("{GOOD}\n{GOOD}"), "id"),
        ];
        for (text, field) in cases {
            let dir = folder_with(&text);
            let fault = read_answers(dir.path(), &languages(), &[]).unwrap_err();
            assert_eq!(fault.field.as_deref(), Some(field), "{fault}");
            assert!(
                fault.entry.as_deref().unwrap().starts_with("answer"),
                "{fault}"
            );
        }
    }

    #[test]
    fn a_language_the_site_does_not_offer_is_refused() {
        let dir = folder_with(GOOD);
        let fault = read_answers(dir.path(), &["en".into()], &[]).unwrap_err();
        assert_eq!(fault.field.as_deref(), Some("text.es"), "{fault}");
    }

    #[test]
    fn an_unknown_field_is_a_clear_load_error() {
        let dir = folder_with(&GOOD.replace("answer = \"Ask", "answr = \"x\"\nanswer = \"Ask"));
        let fault = read_answers(dir.path(), &languages(), &[]).unwrap_err();
        assert!(fault.message.contains("answr"), "{fault}");
    }
}
