//! The words of every message: one template per event kind and language, rendered with minijinja.

use std::sync::OnceLock;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use cityfix_domain::{City, Language};

/// What a message is about: each has its own template in every language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Letter {
    Received,
    Assigned,
    InProgress,
    Note,
    Rescheduled,
    Backlog,
    /// Closed with a resolution (`fixed`, `no_action`, `cancelled`…); a fix carries its photos.
    Closed,
    Reopened,
    Referred,
    Duplicate,
    Unlinked,
    /// To an address that asked to follow a request: the link that confirms.
    FollowAsk,
    FollowConfirmed,
    /// Some days after a fix: "Has it been fixed?", with a link for each answer.
    Survey,
    /// To a department's supervisors: a request is past its expected date.
    SlaBreach,
    /// To an outside agency: the report, referred to them.
    AgencyReferral,
    /// An answer to an e-mailed report that could not be placed: asks for the address.
    MailNeedsPlace,
    /// An answer to an e-mail with no words about a problem (empty, or only a signature).
    MailNeedsWords,
    /// An answer to an e-mail that could not be taken, saying why (`resolution` holds it).
    MailRefused,
    /// Staff's answer to a resident's question (an information request): `original` is the
    /// question, `note` the answer, `id` the question's tracking number.
    InformationAnswer,
    /// To a department's supervisors: a service × area's requests rose sharply this week
    /// (`crate::rising`): `service`, `place` (the area), `note` (the counts), `member`.
    RisingConcern,
}

impl Letter {
    pub const ALL: [Letter; 21] = [
        Letter::Received,
        Letter::Assigned,
        Letter::InProgress,
        Letter::Note,
        Letter::Rescheduled,
        Letter::Backlog,
        Letter::Closed,
        Letter::Reopened,
        Letter::Referred,
        Letter::Duplicate,
        Letter::Unlinked,
        Letter::FollowAsk,
        Letter::FollowConfirmed,
        Letter::Survey,
        Letter::SlaBreach,
        Letter::AgencyReferral,
        Letter::MailNeedsPlace,
        Letter::MailNeedsWords,
        Letter::MailRefused,
        Letter::InformationAnswer,
        Letter::RisingConcern,
    ];

    /// The template's file name, without language and extension.
    pub fn name(self) -> &'static str {
        match self {
            Letter::Received => "received",
            Letter::Assigned => "assigned",
            Letter::InProgress => "in_progress",
            Letter::Note => "note",
            Letter::Rescheduled => "rescheduled",
            Letter::Backlog => "backlog",
            Letter::Closed => "closed",
            Letter::Reopened => "reopened",
            Letter::Referred => "referred",
            Letter::Duplicate => "duplicate",
            Letter::Unlinked => "unlinked",
            Letter::FollowAsk => "follow_ask",
            Letter::FollowConfirmed => "follow_confirmed",
            Letter::Survey => "survey",
            Letter::SlaBreach => "sla_breach",
            Letter::AgencyReferral => "agency_referral",
            Letter::MailNeedsPlace => "mail_needs_place",
            Letter::MailNeedsWords => "mail_needs_words",
            Letter::MailRefused => "mail_refused",
            Letter::InformationAnswer => "information_answer",
            Letter::RisingConcern => "rising_concern",
        }
    }

    /// Whether it is written to a resident (greeted by name, with an unsubscribe link), rather
    /// than to staff or an agency, whose messages are part of their work.
    pub fn to_resident(self) -> bool {
        !matches!(
            self,
            Letter::SlaBreach | Letter::AgencyReferral | Letter::RisingConcern
        )
    }

    /// Whether it is about a stored request (its subject names the tracking number), rather than
    /// an answer to an e-mail that filed nothing.
    pub fn about_a_request(self) -> bool {
        !matches!(
            self,
            Letter::MailNeedsPlace
                | Letter::MailNeedsWords
                | Letter::MailRefused
                | Letter::InformationAnswer
                | Letter::RisingConcern
        )
    }
}

/// The city as its messages sign it.
#[derive(Debug, Clone, Serialize)]
pub struct Signature {
    pub name: String,
    pub short_name: String,
    pub contact_phone: String,
    pub contact_email: String,
    pub website: String,
}

impl Signature {
    pub fn of(city: &City) -> Self {
        Signature {
            name: city.name.clone(),
            short_name: city.short_name.clone(),
            contact_phone: city.contact_phone.clone(),
            contact_email: city.contact_email.clone(),
            website: city.website.clone(),
        }
    }
}

/// An outside agency as a letter names it.
#[derive(Debug, Clone, Serialize)]
pub struct AgencyView {
    pub name: String,
    pub phone: String,
    pub website: String,
}

/// The links that answer "Has it been fixed?".
#[derive(Debug, Clone, Serialize)]
pub struct AnswerLinks {
    pub fixed: String,
    pub not_fixed: String,
}

/// One row of an e-mail's facts table: `key` names its label in `words.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fact {
    pub key: &'static str,
    pub value: String,
    /// The value is an address to link to.
    pub link: bool,
}

impl Fact {
    pub fn new(key: &'static str, value: impl Into<String>) -> Self {
        Fact {
            key,
            value: value.into(),
            link: false,
        }
    }

    pub fn link(key: &'static str, value: impl Into<String>) -> Self {
        Fact {
            key,
            value: value.into(),
            link: true,
        }
    }
}

/// Everything a letter may say. Every field is given to every template (absent ones as null), so
/// a template asking for a name that is not here is an error found by the tests.
#[derive(Debug, Clone, Serialize)]
pub struct Particulars {
    pub city: Signature,
    /// The request's tracking number.
    pub id: String,
    pub service: String,
    pub place: String,
    /// Who has it: the department, or the agency responsible.
    pub who: String,
    /// The follower's own report, when they follow this one through it.
    pub via: Option<String>,
    pub note: Option<String>,
    /// The note cut to fit a text message.
    pub note_short: Option<String>,
    /// Public addresses of photos (the closing photo of a fix).
    pub photos: Vec<String>,
    pub resolution: Option<String>,
    /// The expected date, in the city's time and words.
    pub expected: Option<String>,
    pub original: Option<String>,
    pub original_link: Option<String>,
    pub agency: Option<AgencyView>,
    /// How late a breached request is, in words.
    pub late: Option<String>,
    /// The signed link that confirms an ask to follow.
    pub confirm_link: Option<String>,
    /// The two signed answers to "Has it been fixed?".
    pub answer_links: Option<AnswerLinks>,
    pub status: Option<String>,
    pub assignee: Option<String>,
    /// The supervisor a breach notice is written to.
    pub member: Option<String>,
    pub track_link: String,
    pub staff_link: Option<String>,
    /// The rows of the e-mail's facts table.
    #[serde(skip)]
    pub facts: Vec<Fact>,
}

/// A letter rendered for one reader: the e-mail's subject, text and HTML, and the short text
/// for SMS and push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub short: String,
}

/// A letter's failure to render: a template asked for something it was not given. Found by the
/// tests, which render every letter in every language.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the {letter} template ({language}) does not render: {cause}")]
pub struct RenderError {
    letter: &'static str,
    language: &'static str,
    cause: String,
}

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(
            (concat!("en/", $name, ".txt"), include_str!(concat!("../templates/en/", $name, ".txt"))),
            (concat!("es/", $name, ".txt"), include_str!(concat!("../templates/es/", $name, ".txt"))),
        )*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "_yours",
    "received",
    "assigned",
    "in_progress",
    "note",
    "rescheduled",
    "backlog",
    "closed",
    "reopened",
    "referred",
    "duplicate",
    "unlinked",
    "follow_ask",
    "follow_confirmed",
    "survey",
    "sla_breach",
    "agency_referral",
    "mail_needs_place",
    "mail_needs_words",
    "mail_refused",
    "information_answer",
    "rising_concern",
);

const WORDS_EN: &str = include_str!("../templates/en/words.json");
const WORDS_ES: &str = include_str!("../templates/es/words.json");

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("the template {name} does not parse: {e}"));
        }
        env.add_template("layout.txt", include_str!("../templates/layout.txt"))
            .expect("layout.txt parses");
        env.add_template("layout.html", include_str!("../templates/layout.html"))
            .expect("layout.html parses");
        env
    })
}

fn words(language: Language) -> &'static serde_json::Value {
    static EN: OnceLock<serde_json::Value> = OnceLock::new();
    static ES: OnceLock<serde_json::Value> = OnceLock::new();
    let (cell, source) = match language {
        Language::En => (&EN, WORDS_EN),
        Language::Es => (&ES, WORDS_ES),
    };
    cell.get_or_init(|| serde_json::from_str(source).expect("words.json is JSON"))
}

/// The layout's context: the letter's parts and how to sign it.
#[derive(Serialize)]
struct Layout<'a> {
    lang: &'static str,
    words: &'static serde_json::Value,
    subject: &'a str,
    greet: bool,
    name: Option<&'a str>,
    paragraphs: Vec<&'a str>,
    facts: &'a [Fact],
    photos: &'a [String],
    track_link: &'a str,
    /// Whether the link is to the request (else to the site, for answers that filed nothing).
    about_request: bool,
    unsubscribe_link: Option<&'a str>,
    city: &'a Signature,
}

/// Renders `letter` in `language` for a reader greeted as `name`, with `unsubscribe_link` at the
/// foot of a resident's message.
pub fn render(
    letter: Letter,
    language: Language,
    particulars: &Particulars,
    name: Option<&str>,
    unsubscribe_link: Option<&str>,
) -> Result<Rendered, RenderError> {
    let failed = |e: minijinja::Error| RenderError {
        letter: letter.name(),
        language: language.tag(),
        cause: format!("{e:#}"),
    };
    let env = environment();
    let template = env
        .get_template(&format!("{}/{}.txt", language.tag(), letter.name()))
        .map_err(failed)?;
    let mut captured = template.render_captured(particulars).map_err(failed)?;
    let (subject, body, short) = captured
        .with_state_mut(|state| {
            Ok::<_, minijinja::Error>((
                state.render_block("subject")?,
                state.render_block("body")?,
                state.render_block("short")?,
            ))
        })
        .map_err(failed)?;
    let (subject, short) = (one_line(&subject), one_line(&short));
    let paragraphs: Vec<&str> = body
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let layout = Layout {
        lang: language.tag(),
        words: words(language),
        subject: &subject,
        greet: letter.to_resident(),
        name,
        paragraphs,
        facts: &particulars.facts,
        photos: &particulars.photos,
        track_link: &particulars.track_link,
        about_request: letter.about_a_request(),
        unsubscribe_link: unsubscribe_link.filter(|_| letter.to_resident()),
        city: &particulars.city,
    };
    let text = env
        .get_template("layout.txt")
        .and_then(|t| t.render(&layout))
        .map_err(failed)?;
    let html = env
        .get_template("layout.html")
        .and_then(|t| t.render(&layout))
        .map_err(failed)?;
    Ok(Rendered {
        subject,
        text,
        html,
        short,
    })
}

/// A subject or short text on one line, its spaces collapsed.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn particulars() -> Particulars {
        Particulars {
            city: Signature {
                name: "City of Hartford".into(),
                short_name: "Hartford".into(),
                contact_phone: "(860) 555-0311".into(),
                contact_email: "311@hartford.example".into(),
                website: "https://hartford.example/311".into(),
            },
            id: "7K3M-9QZ2".into(),
            service: "Pothole".into(),
            place: "550 Main St".into(),
            who: "Public Works".into(),
            via: None,
            note: Some("Crew <b>patched</b> it & swept".into()),
            note_short: Some("Crew <b>patched</b> it & swept".into()),
            photos: vec!["https://311.example/api/v1/media/7K3M-9QZ2/after.jpg".into()],
            resolution: Some("fixed".into()),
            expected: Some("Friday 4 December 2026".into()),
            original: Some("AB12-CD34".into()),
            original_link: Some("https://311.example/#/requests/AB12-CD34".into()),
            agency: Some(AgencyView {
                name: "Connecticut DOT".into(),
                phone: "(860) 555-0100".into(),
                website: "https://dot.example".into(),
            }),
            late: Some("2 days".into()),
            confirm_link: Some("https://311.example/api/v1/follow?t=c1.x".into()),
            answer_links: Some(AnswerLinks {
                fixed: "https://311.example/api/v1/survey?t=s1.7K3M-9QZ2:1764590000:y.1765800000.0123456789abcdef0123456789abcdef".into(),
                not_fixed: "https://311.example/api/v1/survey?t=s1.7K3M-9QZ2:1764590000:n.1765800000.0123456789abcdef0123456789abcdef".into(),
            }),
            status: Some("open".into()),
            assignee: Some("Dana".into()),
            member: Some("Sam Supervisor".into()),
            track_link: "https://311.example/#/requests/7K3M-9QZ2".into(),
            staff_link: Some("https://311.example/staff/#/requests/7K3M-9QZ2".into()),
            facts: vec![
                Fact::new("tracking", "7K3M-9QZ2"),
                Fact::new("where", "550 <Main> St"),
            ],
        }
    }

    const UNSUBSCRIBE: &str = "https://311.example/api/v1/unsubscribe?t=abc";

    #[test]
    fn every_letter_renders_in_every_language_with_its_links() {
        for letter in Letter::ALL {
            for language in Language::ALL {
                let rendered = render(
                    letter,
                    language,
                    &particulars(),
                    Some("Ana"),
                    Some(UNSUBSCRIBE),
                )
                .unwrap();
                let what = format!("{} ({})", letter.name(), language.tag());
                assert_eq!(
                    rendered.subject.contains("7K3M-9QZ2"),
                    letter.about_a_request(),
                    "{what}: subject"
                );
                let link_words = if letter.about_a_request() {
                    "track"
                } else {
                    "report"
                };
                let link_words = words(language)[link_words].as_str().unwrap();
                assert!(rendered.text.contains(link_words), "{what}: {link_words}");
                assert!(!rendered.subject.contains('\n'), "{what}: one line");
                assert!(!rendered.short.is_empty(), "{what}: short text");
                assert!(rendered.short.len() <= 320, "{what}: {}", rendered.short);
                let escaped = |s: &str| minijinja::HtmlEscape(s).to_string();
                for (part, seen) in [
                    (
                        &rendered.text,
                        &(|s: &str| s.to_string()) as &dyn Fn(&str) -> String,
                    ),
                    (&rendered.html, &escaped),
                ] {
                    assert!(
                        part.contains(&seen("https://311.example/#/requests/7K3M-9QZ2")),
                        "{what}: the tracking link"
                    );
                    assert!(
                        part.contains("(860) 555-0311"),
                        "{what}: signed by the city"
                    );
                    assert_eq!(
                        part.contains(&seen(UNSUBSCRIBE)),
                        letter.to_resident(),
                        "{what}: the unsubscribe link is on residents' messages"
                    );
                }
                assert!(rendered.html.starts_with("<!doctype html>"), "{what}");
                assert!(
                    rendered
                        .html
                        .contains(&format!("<html lang=\"{}\">", language.tag())),
                    "{what}"
                );
            }
        }
    }

    #[test]
    fn words_from_people_are_escaped_in_html_and_kept_in_text() {
        let rendered = render(
            Letter::Closed,
            Language::En,
            &particulars(),
            Some("<script>x</script>"),
            None,
        )
        .unwrap();
        assert!(rendered
            .html
            .contains("Crew &lt;b&gt;patched&lt;&#x2f;b&gt; it &amp; swept"));
        assert!(rendered.html.contains("&lt;script&gt;"));
        assert!(!rendered.html.contains("<script>"));
        assert!(!rendered.html.contains("<b>"));
        assert!(rendered.html.contains("550 &lt;Main&gt; St"));
        assert!(rendered.text.contains("Crew <b>patched</b> it & swept"));
        assert!(rendered.text.contains("Hello <script>x</script>,"));
    }

    #[test]
    fn a_fix_says_so_with_its_photo_and_another_close_does_not() {
        let mut facts = particulars();
        let fixed = render(Letter::Closed, Language::En, &facts, None, None).unwrap();
        assert_eq!(fixed.subject, "Fixed: 7K3M-9QZ2 (Pothole)");
        assert!(fixed.text.contains("the city has fixed it"));
        assert!(fixed
            .html
            .contains("<img src=\"https:&#x2f;&#x2f;311.example&#x2f;api&#x2f;v1&#x2f;media&#x2f;7K3M-9QZ2&#x2f;after.jpg\""));
        assert!(fixed.short.contains("after.jpg"));

        facts.resolution = Some("no_action".into());
        facts.photos.clear();
        let closed = render(Letter::Closed, Language::Es, &facts, None, None).unwrap();
        assert_eq!(closed.subject, "Cerrado: 7K3M-9QZ2 (Pothole)");
        assert!(closed
            .text
            .contains("no había nada que la ciudad debiera hacer"));
        assert!(!closed.html.contains("<img"));
    }

    #[test]
    fn a_follower_is_told_of_their_own_report_and_the_one_it_joined() {
        let mut facts = particulars();
        facts.via = Some("ZZ99-YY88".into());
        let rendered = render(Letter::InProgress, Language::Es, &facts, None, None).unwrap();
        assert!(rendered.text.contains(
            "el problema que usted reportó como ZZ99-YY88, que la ciudad atiende como 7K3M-9QZ2"
        ));
        assert!(rendered.text.starts_with("Hola:"));
    }
}
