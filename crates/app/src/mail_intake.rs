//! Reports e-mailed to the city: an e-mail becomes a report (or a comment on one), or gets one
//! answer saying what is missing, and automatic mail gets nothing.
//!
//! Locally `cityfix intake-email FILE.eml` hands the file here; on AWS an SES receipt rule writes
//! each message to the mail bucket and the mail function hands it here. The subject and body
//! (without quoted replies and signatures) are the description; the place is an address in the
//! words that the city's address book knows, else the GPS position of an attached photo (read
//! here; the photo check then strips it); the service is the best suggestion for the words.
//! Photos and videos attached become the report's media through the same upload check.
//!
//! A message whose subject names one of our tracking numbers, from that report's reporter, is a
//! comment on it. Auto-replies, bounces, mailing lists and our own messages are ignored, so two
//! robots never answer each other. A report is keyed by its Message-ID, so handing the same
//! message over twice files it once.

use std::io::Cursor;
use std::sync::Arc;

use mail_parser::{Address, Message, MessageParser, MimeHeaders};

use crate::letters::{render, Letter, Particulars, Signature};
use crate::media::{check_upload, fetched_key, not_a_kind_taken, sniffed_kind, MediaDeps};
use crate::messages::StatusCommand;
use crate::ports::{Email, Mailer, PortError, QueueName};
use crate::submit::{submit_unasked, IntakeDeps, Submission, SubmitError};
use crate::work::{reporter, WorkAction, WorkCommand};
use crate::AppError;
use cityfix_domain::report::MAX_DESCRIPTION_CHARS;
use cityfix_domain::request::EMAIL_CHANNEL;
use cityfix_domain::text::fingerprint;
use cityfix_domain::{Contact, Language, Location, Lookup, ReportForm, TrackingNumber};

/// Chooses the service for a report's words: the best suggestion, if any is good enough.
pub type ServiceChooser = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What reading e-mailed reports needs.
#[derive(Clone)]
pub struct MailIntakeDeps {
    pub intake: IntakeDeps,
    /// The upload check the attachments go through.
    pub media: MediaDeps,
    pub mailer: Arc<dyn Mailer>,
    /// Our own sender: answers come from it, and mail from it is never taken in.
    pub mail_from: String,
    /// The resident site, linked in answers.
    pub public_url: String,
    pub choose_service: ServiceChooser,
}

/// What became of one e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    /// Filed as a new report, with this many photos or videos handed to the check.
    Reported { id: TrackingNumber, media: usize },
    /// Added as the reporter's comment on their report.
    Commented(TrackingNumber),
    /// Nothing filed; the sender was answered with this letter (and why, for a refusal).
    Answered(Letter, Option<String>),
    /// Nothing filed and nobody answered: automatic mail, or nobody to answer.
    Ignored(&'static str),
}

/// Reads one e-mail as it arrived (RFC 5322 bytes) and files, comments, answers or ignores it.
pub async fn intake_email(deps: &MailIntakeDeps, raw: &[u8]) -> Result<MailOutcome, AppError> {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Ok(MailOutcome::Ignored("not an e-mail"));
    };
    if let Some(why) = automatic(&message) {
        return Ok(MailOutcome::Ignored(why));
    }
    let Some((sender, name)) = sender(&message) else {
        return Ok(MailOutcome::Ignored("no sender address to answer"));
    };
    if sender.eq_ignore_ascii_case(&mailbox_of(&deps.mail_from)) {
        return Ok(MailOutcome::Ignored("a message of our own"));
    }
    let subject = message.subject().unwrap_or("").trim().to_string();
    let language = language_of(&message);
    let answer = Answer {
        deps,
        to: &sender,
        subject: &subject,
        language,
    };
    let words = own_words(&message.body_text(0).unwrap_or_default());
    let attachments = match attachments(&message) {
        Ok(attachments) => attachments,
        Err(refused) => return answer.send(Letter::MailRefused, Some(refused)).await,
    };
    if let Some(id) = tracking_number_in(&subject) {
        if let Some(request) = deps.intake.store.get(&id).await? {
            return comment(&answer, &message, request.id, &words).await;
        }
    }
    let description = [strip_reply_prefixes(&subject), words.as_str()]
        .iter()
        .map(|part| part.trim())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    if description.is_empty() {
        return answer.send(Letter::MailNeedsWords, None).await;
    }
    let Some(service_code) = (deps.choose_service)(&description) else {
        return answer.send(Letter::MailNeedsWords, None).await;
    };
    let place = match address_in(deps, &description).await? {
        Some((location, address)) => Some((location, Some(address))),
        None => attachments
            .iter()
            .find_map(|file| photo_location(&file.bytes))
            .map(|location| (location, None)),
    };
    let Some((location, address)) = place else {
        return answer.send(Letter::MailNeedsPlace, None).await;
    };
    let (first_name, last_name) = split_name(name.as_deref());
    let form = ReportForm {
        service_code: Some(service_code),
        lat: Some(location.lat()),
        long: Some(location.long()),
        address_string: address,
        description: Some(description.chars().take(MAX_DESCRIPTION_CHARS).collect()),
        contact: Contact {
            email: Some(sender.clone()),
            first_name,
            last_name,
            language: Some(language),
            ..Contact::default()
        },
        ..ReportForm::default()
    };
    let submission = Submission {
        form,
        channel: EMAIL_CHANNEL.into(),
        idempotency_key: Some(message_key(&message, raw)),
        fingerprint: fingerprint(&String::from_utf8_lossy(raw)),
    };
    let submitted = match submit_unasked(&deps.intake, submission).await {
        Ok(submitted) => submitted,
        Err(SubmitError::Invalid(invalid)) => {
            return answer
                .send(Letter::MailRefused, Some(invalid.to_string()))
                .await
        }
        Err(SubmitError::KeyReused) => return Ok(MailOutcome::Ignored("a message already read")),
        Err(SubmitError::Unavailable(why)) => return Err(AppError::Port(why)),
    };
    let id = submitted.request.id;
    for (n, file) in attachments.iter().enumerate() {
        let media_id = format!(
            "mailed-{}",
            &fingerprint(&format!("{}\u{1f}{n}", message_key(&message, raw)))[..24]
        );
        let key = fetched_key(&id, &media_id, file.kind);
        match deps
            .media
            .media
            .put(&key, file.bytes.clone(), file.kind.content_type)
            .await
        {
            Ok(()) | Err(PortError::AlreadyExists(_)) => {}
            Err(other) => return Err(other.into()),
        }
        check_upload(&deps.media, &key).await?;
    }
    tracing::info!(request_id = %id, media = attachments.len(), "an e-mailed report was filed");
    Ok(MailOutcome::Reported {
        id,
        media: attachments.len(),
    })
}

/// A reply to one of our messages: the reporter's comment on their report. Anyone else is told
/// to report it anew, since the thread is not theirs.
async fn comment(
    answer: &Answer<'_>,
    message: &Message<'_>,
    id: TrackingNumber,
    words: &str,
) -> Result<MailOutcome, AppError> {
    let deps = answer.deps;
    let reporter_email = deps
        .intake
        .store
        .reporter(&id)
        .await?
        .and_then(|contact| contact.email);
    if !reporter_email.is_some_and(|email| email.eq_ignore_ascii_case(answer.to)) {
        let why = format!(
            "only the person who reported {id} can add to it by e-mail; to report a problem, write without the number in the subject"
        );
        return answer.send(Letter::MailRefused, Some(why)).await;
    }
    if words.trim().is_empty() {
        return answer.send(Letter::MailNeedsWords, None).await;
    }
    let key = message_key(message, &[]);
    let command = StatusCommand::Work(WorkCommand {
        request_id: id.clone(),
        decision_id: format!("comment-{}", &fingerprint(&key)[..24]),
        by: reporter(),
        expected_version: None,
        action: WorkAction::Comment {
            text: words.chars().take(MAX_DESCRIPTION_CHARS).collect(),
            media: Vec::new(),
        },
    });
    let body = serde_json::to_string(&command).expect("a status command always serialises");
    deps.intake.queue.send(QueueName::Status, &body).await?;
    tracing::info!(request_id = %id, "an e-mailed reply became the reporter's comment");
    Ok(MailOutcome::Commented(id))
}

/// Who is answered, about what, in which language.
struct Answer<'a> {
    deps: &'a MailIntakeDeps,
    to: &'a str,
    subject: &'a str,
    language: Language,
}

impl Answer<'_> {
    /// Sends `letter` to the sender: one answer per message, letter and sender.
    async fn send(&self, letter: Letter, why: Option<String>) -> Result<MailOutcome, AppError> {
        let city = &self.deps.intake.city;
        let subject = if self.subject.is_empty() {
            match self.language {
                Language::En => "your message".to_string(),
                Language::Es => "su mensaje".to_string(),
            }
        } else {
            strip_reply_prefixes(self.subject)
                .chars()
                .take(120)
                .collect()
        };
        let particulars = Particulars {
            city: Signature::of(city),
            id: String::new(),
            service: String::new(),
            place: String::new(),
            who: String::new(),
            via: None,
            note: Some(subject),
            note_short: None,
            photos: Vec::new(),
            resolution: why.clone(),
            expected: None,
            original: None,
            original_link: None,
            agency: None,
            late: None,
            confirm_link: None,
            answer_links: None,
            status: None,
            assignee: None,
            member: None,
            track_link: format!("{}/", self.deps.public_url.trim_end_matches('/')),
            staff_link: None,
            facts: Vec::new(),
        };
        let rendered = render(letter, self.language, &particulars, None, None)
            .map_err(|e| AppError::Impossible(e.to_string()))?;
        let email = Email {
            to: self.to.to_string(),
            from: self.deps.mail_from.clone(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            dedupe_key: format!(
                "mail-answer/{}",
                &fingerprint(&format!(
                    "{}\u{1f}{}\u{1f}{}",
                    self.to,
                    self.subject,
                    letter.name()
                ))[..24]
            ),
            list_unsubscribe: None,
        };
        self.deps.mailer.send_email(&email).await?;
        tracing::info!(
            letter = letter.name(),
            "an e-mail was answered; nothing was filed"
        );
        Ok(MailOutcome::Answered(letter, why))
    }
}

/// Why a message is automatic, if it is: such mail is never answered (RFC 3834), or two robots
/// would write to each other for ever.
fn automatic(message: &Message<'_>) -> Option<&'static str> {
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|value| value.trim().to_ascii_lowercase())
    };
    if header("Auto-Submitted").is_some_and(|value| value != "no") {
        return Some("an automatic message (Auto-Submitted)");
    }
    if header("Precedence")
        .is_some_and(|value| ["bulk", "junk", "list", "auto_reply"].contains(&value.as_str()))
    {
        return Some("bulk or list mail (Precedence)");
    }
    if [
        "X-Autoreply",
        "X-Autorespond",
        "X-Auto-Response-Suppress",
        "List-Id",
        "List-Unsubscribe",
    ]
    .iter()
    .any(|name| header(name).is_some())
    {
        return Some("an auto-reply or list mail");
    }
    if message.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    }) {
        return Some("a delivery report (bounce)");
    }
    if header("Return-Path").is_some_and(|value| value == "<>") {
        return Some("a bounce (empty Return-Path)");
    }
    let from = sender(message).map(|(address, _)| address.to_ascii_lowercase());
    if from.as_deref().is_some_and(|from| {
        let local = from.split('@').next().unwrap_or("");
        [
            "mailer-daemon",
            "postmaster",
            "noreply",
            "no-reply",
            "donotreply",
            "do-not-reply",
        ]
        .contains(&local)
    }) {
        return Some("a message from a mail system or a no-reply address");
    }
    None
}

/// The sender's address and name: `Reply-To` when given, else `From`, checked as a mailbox.
fn sender(message: &Message<'_>) -> Option<(String, Option<String>)> {
    let first = |address: Option<&Address<'_>>| {
        address.and_then(|a| a.first()).and_then(|a| {
            Some((
                a.address()?.trim().to_string(),
                a.name().map(str::to_string),
            ))
        })
    };
    let (address, name) = first(message.reply_to()).or_else(|| first(message.from()))?;
    cityfix_domain::report::check_mailbox(&address).ok()?;
    Some((address, name.filter(|n| !n.trim().is_empty())))
}

/// `a@b` of `Name <a@b>` (our configured sender), lower-case.
fn mailbox_of(from: &str) -> String {
    let inner = from
        .rsplit_once('<')
        .map(|(_, rest)| rest.trim_end_matches('>'))
        .unwrap_or(from);
    inner.trim().to_ascii_lowercase()
}

/// Spanish when the message says so (`Content-Language`, or Spanish words of a reply), else English.
fn language_of(message: &Message<'_>) -> Language {
    let said = message
        .header_raw("Content-Language")
        .map(|value| value.trim().to_ascii_lowercase());
    if said.is_some_and(|value| value.starts_with("es")) {
        Language::Es
    } else {
        Language::En
    }
}

/// The writer's own words: the body without quoted lines, the quoted message below a reply line,
/// the signature and phone footers.
pub fn own_words(body: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for line in body.lines() {
        let trimmed = line.trim();
        let lower = trimmed.to_ascii_lowercase();
        if line == "-- "
            || trimmed == "--"
            || trimmed == "__"
            || lower.starts_with("-----original message")
            || lower.starts_with("sent from my")
            || lower.starts_with("enviado desde mi")
            || (lower.starts_with("on ") && lower.ends_with("wrote:"))
            || (lower.starts_with("el ") && lower.ends_with("escribió:"))
            || lower.starts_with("from: ")
        {
            break;
        }
        if trimmed.starts_with('>') {
            continue;
        }
        kept.push(line.trim_end());
    }
    kept.join("\n").trim().to_string()
}

/// The subject without `Re:`, `Fwd:` and their kin, however many.
fn strip_reply_prefixes(subject: &str) -> &str {
    let mut rest = subject.trim();
    loop {
        let lower = rest.to_ascii_lowercase();
        let Some(prefix) = ["re:", "fwd:", "fw:", "rv:", "aw:"]
            .iter()
            .find(|p| lower.starts_with(*p))
        else {
            return rest;
        };
        rest = rest[prefix.len()..].trim_start();
    }
}

/// A tracking number the subject names (ours are written `7K3M-9QZ2`).
fn tracking_number_in(subject: &str) -> Option<TrackingNumber> {
    subject
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| word.len() == 9)
        .find_map(|word| TrackingNumber::parse(&word.to_ascii_uppercase()).ok())
}

/// How many places in the words are tried against the address book at most.
const MOST_ADDRESS_TRIES: usize = 40;

/// The first address in the words the city knows: a house number and the two to five words after
/// it (`550 Main St`, `12 Park Terrace Apt 3`), tried longest first.
async fn address_in(
    deps: &MailIntakeDeps,
    words: &str,
) -> Result<Option<(Location, String)>, AppError> {
    let mut tries = 0;
    for line in words.lines() {
        let tokens: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .map(|t| t.trim_matches(|c: char| matches!(c, '.' | '(' | ')' | '"' | '!' | '?' | ':')))
            .filter(|t| !t.is_empty())
            .collect();
        for start in 0..tokens.len() {
            let number = tokens[start];
            if !(1..=6).contains(&number.len()) || !number.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            for length in (2..=5).rev() {
                if start + length > tokens.len() {
                    continue;
                }
                if tries == MOST_ADDRESS_TRIES {
                    return Ok(None);
                }
                tries += 1;
                let typed = tokens[start..start + length].join(" ");
                if let Lookup::Found { location, address } =
                    deps.intake.geocoder.locate(&typed).await?
                {
                    return Ok(Some((location, address)));
                }
            }
        }
    }
    Ok(None)
}

/// Where a photo says it was taken (its EXIF GPS position), if it does.
pub fn photo_location(bytes: &[u8]) -> Option<Location> {
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()?;
    let degrees = |tag: exif::Tag, reference: exif::Tag, negative: &str| {
        let field = exif.get_field(tag, exif::In::PRIMARY)?;
        let exif::Value::Rational(parts) = &field.value else {
            return None;
        };
        let [d, m, s] = parts.as_slice() else {
            return None;
        };
        let value = d.to_f64() + m.to_f64() / 60.0 + s.to_f64() / 3600.0;
        let sign = match exif.get_field(reference, exif::In::PRIMARY)?.value {
            exif::Value::Ascii(ref texts) => {
                let letter = texts.first().and_then(|t| t.first()).copied()?;
                if (letter as char).to_string().eq_ignore_ascii_case(negative) {
                    -1.0
                } else {
                    1.0
                }
            }
            _ => return None,
        };
        value.is_finite().then_some(sign * value)
    };
    let lat = degrees(exif::Tag::GPSLatitude, exif::Tag::GPSLatitudeRef, "S")?;
    let long = degrees(exif::Tag::GPSLongitude, exif::Tag::GPSLongitudeRef, "W")?;
    Location::new(lat, long).ok()
}

/// An attached photo or video, of a kind the upload check takes.
struct Attached {
    bytes: Vec<u8>,
    kind: &'static crate::media::MediaKind,
}

/// The photos and videos attached, or why the message is refused: an attachment of another kind
/// (a document, a HEIC photo) or more than a report takes.
fn attachments(message: &Message<'_>) -> Result<Vec<Attached>, String> {
    let mut files = Vec::new();
    for part in message.attachments() {
        let name = part
            .attachment_name()
            .unwrap_or("an attachment")
            .to_string();
        if part.is_message() {
            return Err(format!(
                "{name} is a forwarded message; send the photos themselves"
            ));
        }
        let bytes = part.contents().to_vec();
        let Some(kind) = sniffed_kind(&bytes) else {
            return Err(not_a_kind_taken(&name));
        };
        files.push(Attached { bytes, kind });
    }
    let most = crate::media::MAX_FILES_FROM_REPORTER;
    if files.len() > most {
        return Err(format!(
            "a report takes at most {most} photos or videos; this message has {}",
            files.len()
        ));
    }
    Ok(files)
}

/// A first and last name from a display name (`Ana Quintero`, `Quintero, Ana`).
fn split_name(name: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(name) = name
        .map(str::trim)
        .filter(|n| !n.is_empty() && !n.contains('@'))
    else {
        return (None, None);
    };
    let name: String = name.chars().take(100).collect();
    if let Some((last, first)) = name.split_once(',') {
        return (
            Some(first.trim().to_string()),
            Some(last.trim().to_string()),
        );
    }
    match name.rsplit_once(' ') {
        Some((first, last)) => (
            Some(first.trim().to_string()),
            Some(last.trim().to_string()),
        ),
        None => (Some(name), None),
    }
}

/// What identifies one message: its Message-ID, else a digest of the bytes.
fn message_key(message: &Message<'_>, raw: &[u8]) -> String {
    match message.message_id() {
        Some(id) => format!("mail:{}", &fingerprint(id)[..32]),
        None => format!("mail:{}", &fingerprint(&String::from_utf8_lossy(raw))[..32]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_writers_words_are_kept() {
        let body = "There is a deep pothole at 550 Main St.\nIt keeps growing.\n\n-- \nAna Quintero\n(860) 555-0199\n";
        assert_eq!(
            own_words(body),
            "There is a deep pothole at 550 Main St.\nIt keeps growing."
        );
        let reply = "Still not fixed.\n\nOn Tue, Dec 1, 2026 at 9:00 AM Hartford 311 <311@hartford.example> wrote:\n> Your report 7K3M-9QZ2 was received\n";
        assert_eq!(own_words(reply), "Still not fixed.");
        assert_eq!(own_words("-- \nAna\n"), "");
        assert_eq!(own_words("> quoted only\n\nSent from my iPhone"), "");
    }

    #[test]
    fn a_tracking_number_is_found_in_a_reply_subject() {
        assert_eq!(
            tracking_number_in("Re: Your report 7K3M-9QZ2 was received").map(|t| t.to_string()),
            Some("7K3M-9QZ2".into())
        );
        assert_eq!(tracking_number_in("Pothole on Main St"), None);
        assert_eq!(strip_reply_prefixes("RE: Fwd: re: Pothole"), "Pothole");
    }

    #[test]
    fn names_are_split_as_people_write_them() {
        assert_eq!(
            split_name(Some("Ana Quintero")),
            (Some("Ana".into()), Some("Quintero".into()))
        );
        assert_eq!(
            split_name(Some("Quintero, Ana")),
            (Some("Ana".into()), Some("Quintero".into()))
        );
        assert_eq!(split_name(Some("ana@example.org")), (None, None));
        assert_eq!(
            mailbox_of("Hartford 311 <311@Hartford.example>"),
            "311@hartford.example"
        );
    }

    #[test]
    fn a_photo_tells_where_it_was_taken() {
        let photo = crate::samples::photo_taken_at(41.7677, -72.67602);
        let location = photo_location(&photo).unwrap();
        assert!((location.lat() - 41.7677).abs() < 1e-4, "{location:?}");
        assert!((location.long() + 72.67602).abs() < 1e-4, "{location:?}");
        assert_eq!(
            photo_location(&crate::samples::photo_with_location(10, 10, 1)),
            None
        );
    }
}
