//! What a resident sends when reporting a problem, and the checks it must pass before it is stored.

use std::collections::BTreeMap;

use crate::phone::to_e164;
use crate::text::{echo, forbidden_char};
use crate::{AttributeValue, City, Invalid, Location};

/// Longest description accepted.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;

/// An attribute answer as it arrives on the wire, before its datatype is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawAttribute {
    One(String),
    Many(Vec<String>),
}

impl RawAttribute {
    pub fn is_blank(&self) -> bool {
        match self {
            RawAttribute::One(value) => value.trim().is_empty(),
            RawAttribute::Many(values) => values.iter().all(|v| v.trim().is_empty()),
        }
    }
}

/// How to reach the reporter. Personal data: kept apart from the request and never shown publicly.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// The language they asked to be written to in (the report's, else their browser's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<crate::Language>,
}

impl Contact {
    pub fn is_empty(&self) -> bool {
        *self == Contact::default()
    }

    /// The name to greet the reporter by, if they gave one.
    pub fn greeting_name(&self) -> Option<&str> {
        self.first_name.as_deref().or(self.last_name.as_deref())
    }
}

/// A report as received from any channel (web, Open311 client, call-taker).
#[derive(Debug, Clone, Default)]
pub struct ReportForm {
    pub service_code: Option<String>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub address_string: Option<String>,
    pub attributes: BTreeMap<String, RawAttribute>,
    pub description: Option<String>,
    pub contact: Contact,
    pub media_url: Option<String>,
    /// The asset the report is about, by its id in the service's asset layer (Open311
    /// `attribute[asset_id]`); checked, or the nearest found, at submit.
    pub asset_id: Option<String>,
}

/// Whether the reporter was asked the service's questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Questions {
    Asked,
    NotAsked,
}

/// A report that passed every check and can be stored as is.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidReport {
    pub service_code: String,
    pub location: Location,
    pub address: Option<String>,
    pub attributes: BTreeMap<String, AttributeValue>,
    pub description: Option<String>,
    pub contact: Contact,
    pub media_url: Option<String>,
}

impl ReportForm {
    /// Refuses a report whose any text field holds a character no field may hold (a C0 control
    /// other than tab and line breaks, DEL, U+FFFE or U+FFFF), naming the field and the character.
    pub fn check_characters(&self) -> Result<(), Invalid> {
        let contact = &self.contact;
        let fields = [
            ("service_code", &self.service_code),
            ("address_string", &self.address_string),
            ("description", &self.description),
            ("media_url", &self.media_url),
            ("asset_id", &self.asset_id),
            ("email", &contact.email),
            ("phone", &contact.phone),
            ("first_name", &contact.first_name),
            ("last_name", &contact.last_name),
            ("device_id", &contact.device_id),
        ];
        for (field, value) in fields {
            if let Some(value) = value {
                no_forbidden_char(field, value)?;
            }
        }
        for (code, answer) in &self.attributes {
            let field = format!("attribute[{}]", echo(code));
            no_forbidden_char(&field, code)?;
            let values = match answer {
                RawAttribute::One(value) => std::slice::from_ref(value),
                RawAttribute::Many(values) => values.as_slice(),
            };
            for value in values {
                no_forbidden_char(&field, value)?;
            }
        }
        Ok(())
    }

    /// Checks the report against the city: a known service, a point inside the city, answers of
    /// the right types, sane text and contact fields.
    pub fn validate(self, city: &City) -> Result<ValidReport, Invalid> {
        self.validate_with(city, Questions::Asked)
    }

    /// [`ReportForm::validate`] for a report taken where the service's questions could not be
    /// asked (an e-mail): the answers given are checked, the required ones may wait for staff.
    pub fn validate_unasked(self, city: &City) -> Result<ValidReport, Invalid> {
        self.validate_with(city, Questions::NotAsked)
    }

    fn validate_with(self, city: &City, questions: Questions) -> Result<ValidReport, Invalid> {
        self.check_characters()?;
        let code = trimmed(self.service_code)
            .ok_or_else(|| Invalid::missing("service_code", "service_code is required"))?;
        let service = city.service(&code).ok_or_else(|| {
            Invalid::field(
                "service_code",
                format!(
                    "`{}` is not a service of {}; GET services lists them",
                    short(&code),
                    city.name
                ),
            )
            .with_code("unknown_service")
        })?;
        let address = trimmed(self.address_string);
        if let Some(address) = &address {
            limit("address_string", address, 500)?;
        }
        let location = match (self.lat, self.long) {
            (Some(lat), Some(long)) => Location::new(lat, long)?,
            (Some(_), None) => return Err(Invalid::missing("long", "long is required with lat")),
            (None, Some(_)) => return Err(Invalid::missing("lat", "lat is required with long")),
            // A confidential report (misconduct) needs no place: it is filed at the city's centre,
            // which no public map shows and its routing (one department) does not read.
            (None, None) if service.confidential => city.center,
            (None, None) if address.is_some() => {
                return Err(Invalid::missing(
                    "lat",
                    "a location is required as lat and long: finding a point from address_string alone is not available yet",
                )
                .with_code("geocoding_unavailable"))
            }
            (None, None) => {
                return Err(Invalid::missing(
                    "lat",
                    "a location is required: send lat and long",
                ))
            }
        };
        if !city.takes_reports_at(location) {
            return Err(Invalid::field(
                "lat",
                format!(
                    "the point {:.5}, {:.5} is outside {} and every neighbouring town it passes reports to; report it to the city or town it is in",
                    location.lat(),
                    location.long(),
                    city.name
                ),
            )
            .with_code("outside_city"));
        }
        let attributes = match questions {
            Questions::Asked => service.check_answers(&self.attributes)?,
            Questions::NotAsked => service.check_given_answers(&self.attributes)?,
        };
        let description = trimmed(self.description);
        if let Some(description) = &description {
            if description.chars().count() > MAX_DESCRIPTION_CHARS {
                return Err(Invalid::field(
                    "description",
                    format!("description is longer than {MAX_DESCRIPTION_CHARS} characters"),
                ));
            }
        }
        if service.confidential && description.is_none() {
            return Err(Invalid::missing(
                "description",
                "a confidential report needs a description of what happened",
            ));
        }
        let media_url = trimmed(self.media_url);
        if let Some(url) = &media_url {
            limit("media_url", url, 2000)?;
            if !(url.starts_with("https://") || url.starts_with("http://"))
                || url.contains(char::is_whitespace)
            {
                return Err(Invalid::field(
                    "media_url",
                    "media_url must be an http or https URL",
                ));
            }
        }
        Ok(ValidReport {
            service_code: service.code.clone(),
            location,
            address,
            attributes,
            description,
            contact: check_contact(self.contact, city.country_calling_code)?,
            media_url,
        })
    }
}

/// A contact as given, trimmed and checked: an e-mail mail can reach, a phone a text can reach,
/// names and a device id of sensible length.
pub fn check_contact(contact: Contact, country_calling_code: u16) -> Result<Contact, Invalid> {
    let email = trimmed(contact.email);
    if let Some(email) = &email {
        check_mailbox(email)?;
    }
    let phone = trimmed(contact.phone);
    if let Some(phone) = &phone {
        let allowed = phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if !allowed || to_e164(phone, country_calling_code).is_none() {
            return Err(Invalid::field(
                "phone",
                "phone must be a whole telephone number that a text message can reach, with its area code",
            ));
        }
    }
    let first_name = trimmed(contact.first_name);
    let last_name = trimmed(contact.last_name);
    let device_id = trimmed(contact.device_id);
    for (field, value) in [
        ("first_name", &first_name),
        ("last_name", &last_name),
        ("device_id", &device_id),
    ] {
        if let Some(value) = value {
            limit(field, value, 200)?;
        }
    }
    Ok(Contact {
        email,
        phone,
        first_name,
        last_name,
        device_id,
        language: contact.language,
    })
}

/// Refuses an e-mail address no mail can reach or that names more than one mailbox: it must parse
/// as one address (`user@domain`, the `email_address` parser lettre uses too), with no display name, quotes, comments or
/// IP-literal domain, and a domain of at least two labels.
pub fn check_mailbox(email: &str) -> Result<(), Invalid> {
    let refuse = |why: &str| {
        Invalid::field(
            "email",
            format!("email is not one e-mail address that mail can reach: {why}"),
        )
        .with_code("invalid_email")
    };
    if email.len() > 254 {
        return Err(refuse("it is longer than 254 characters"));
    }
    if email
        .chars()
        .any(|c| c.is_whitespace() || "<>\"(),;[]\\".contains(c))
    {
        return Err(refuse("send only the address, like name@example.org"));
    }
    let options = email_address::Options::default()
        .with_required_tld()
        .without_domain_literal()
        .without_display_text();
    let address = email_address::EmailAddress::parse_with_options(email, options)
        .map_err(|_| refuse("it is not of the form name@example.org"))?;
    let top = address.domain().rsplit('.').next().unwrap_or_default();
    if top.chars().count() < 2 || top.chars().all(|c| c.is_ascii_digit()) {
        return Err(refuse("the part after @ must be a domain like example.org"));
    }
    Ok(())
}

pub(crate) fn no_forbidden_char(field: &str, value: &str) -> Result<(), Invalid> {
    match forbidden_char(value) {
        Some((at, c)) => Err(Invalid::field(
            field,
            format!(
                "{field} holds the control character U+{:04X} at position {}; send text without it",
                c as u32,
                at + 1
            ),
        )
        .with_code("forbidden_character")),
        None => Ok(()),
    }
}

fn limit(field: &str, value: &str, max_chars: usize) -> Result<(), Invalid> {
    if value.chars().count() > max_chars {
        return Err(Invalid::field(
            field,
            format!("{field} is longer than {max_chars} characters"),
        ));
    }
    Ok(())
}

fn trimmed(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn short(value: &str) -> String {
    value.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::city::tests::test_city;

    fn pothole_form() -> ReportForm {
        ReportForm {
            service_code: Some("pothole".into()),
            lat: Some(41.5),
            long: Some(-72.5),
            description: Some("  Deep hole by the curb  ".into()),
            contact: Contact {
                email: Some("ana@example.org".into()),
                ..Contact::default()
            },
            ..ReportForm::default()
        }
    }

    #[test]
    fn a_good_report_is_trimmed_and_kept() {
        let valid = pothole_form().validate(&test_city()).unwrap();
        assert_eq!(valid.description.as_deref(), Some("Deep hole by the curb"));
        assert_eq!(valid.contact.email.as_deref(), Some("ana@example.org"));
    }

    #[test]
    fn a_confidential_report_needs_no_place_and_another_does() {
        let mut city = test_city();
        let form = || ReportForm {
            lat: None,
            long: None,
            address_string: Some("the permit office".into()),
            ..pothole_form()
        };
        assert_eq!(
            form().validate(&city).unwrap_err().code,
            "geocoding_unavailable"
        );
        city.services[0].confidential = true;
        let valid = form().validate(&city).unwrap();
        assert_eq!(valid.location, city.center);
        let undescribed = ReportForm {
            description: None,
            ..form()
        };
        assert_eq!(
            undescribed.validate(&city).unwrap_err().field.as_deref(),
            Some("description")
        );
        assert_eq!(valid.address.as_deref(), Some("the permit office"));
    }

    /// A change that spoils a good form.
    type Spoil = Box<dyn Fn(&mut ReportForm)>;

    #[test]
    fn each_bad_field_is_named() {
        let city = test_city();
        let cases: Vec<(&str, Spoil)> = vec![
            (
                "service_code",
                Box::new(|f| f.service_code = Some("unicorns".into())),
            ),
            ("service_code", Box::new(|f| f.service_code = None)),
            ("lat", Box::new(|f| f.lat = Some(95.0))),
            ("long", Box::new(|f| f.long = None)),
            (
                "lat",
                Box::new(|f| {
                    f.lat = Some(40.0);
                    f.long = Some(-74.0)
                }),
            ),
            (
                "lat",
                Box::new(|f| {
                    f.lat = None;
                    f.long = None;
                    f.address_string = Some("1 Main St".into())
                }),
            ),
            (
                "description",
                Box::new(|f| f.description = Some("x".repeat(4001))),
            ),
            (
                "email",
                Box::new(|f| f.contact.email = Some("not-an-address".into())),
            ),
            (
                "phone",
                Box::new(|f| f.contact.phone = Some("call me".into())),
            ),
            (
                "phone",
                Box::new(|f| f.contact.phone = Some("555-0199".into())),
            ),
            (
                "media_url",
                Box::new(|f| f.media_url = Some("javascript:alert(1)".into())),
            ),
        ];
        for (field, spoil) in cases {
            let mut form = pothole_form();
            spoil(&mut form);
            let err = form.validate(&city).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{}", err.message);
        }
    }

    #[test]
    fn a_control_character_in_any_text_field_is_refused_with_its_field() {
        let city = test_city();
        let cases: Vec<(&str, Spoil)> = vec![
            (
                "description",
                Box::new(|f| f.description = Some("a\u{0}b".into())),
            ),
            (
                "address_string",
                Box::new(|f| f.address_string = Some("1 Main\u{1b}".into())),
            ),
            (
                "first_name",
                Box::new(|f| f.contact.first_name = Some("A\u{7f}".into())),
            ),
            (
                "device_id",
                Box::new(|f| f.contact.device_id = Some("\u{ffff}".into())),
            ),
            (
                "email",
                Box::new(|f| f.contact.email = Some("a\u{0}@b.org".into())),
            ),
            (
                "service_code",
                Box::new(|f| f.service_code = Some("pot\u{8}hole".into())),
            ),
            (
                "attribute[size]",
                Box::new(|f| {
                    f.attributes.insert(
                        "size".into(),
                        RawAttribute::Many(vec!["ok".into(), "b\u{c}".into()]),
                    );
                }),
            ),
        ];
        for (field, spoil) in cases {
            let mut form = pothole_form();
            spoil(&mut form);
            let err = form.validate(&city).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{}", err.message);
            assert_eq!(err.code, "forbidden_character", "{}", err.message);
        }
        let mut form = pothole_form();
        form.description = Some("two lines\r\nand\ta tab".into());
        assert!(form.validate(&city).is_ok());
    }

    #[test]
    fn an_email_must_be_one_reachable_mailbox() {
        let city = test_city();
        for bad in [
            "a@b.org,victim@evil.example",
            "a@b.org;c@d.org",
            "Ana <ana@example.org>",
            "\"a b\"@example.org",
            "ana@[127.0.0.1]",
            "ana@localhost",
            "ana@example.",
            "ana@.example.org",
            "ana@example..org",
            "ana@1.2.3.4",
            "a@@example.org",
            "@example.org",
            "ana(comment)@example.org",
            "not-an-address",
        ] {
            let mut form = pothole_form();
            form.contact.email = Some(bad.into());
            let err = form.validate(&city).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("email"), "{bad}");
        }
        for good in [
            "ana@example.org",
            "ana.m+311@mail.example.co.uk",
            "josé@correo.example.es",
            "o'neil@example.org",
        ] {
            let mut form = pothole_form();
            form.contact.email = Some(good.into());
            assert!(form.validate(&city).is_ok(), "{good}");
        }
    }

    #[test]
    fn a_description_of_exactly_the_limit_is_accepted() {
        let mut form = pothole_form();
        form.description = Some("é".repeat(MAX_DESCRIPTION_CHARS));
        assert!(form.validate(&test_city()).is_ok());
    }

    #[test]
    fn address_without_a_point_says_geocoding_is_not_available() {
        let mut form = pothole_form();
        form.lat = None;
        form.long = None;
        form.address_string = Some("550 Main St".into());
        assert_eq!(
            form.validate(&test_city()).unwrap_err().code,
            "geocoding_unavailable"
        );
    }
}
