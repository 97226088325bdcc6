//! What a resident sends when reporting a problem, and the checks it must pass before it is stored.

use std::collections::BTreeMap;

use crate::phone::to_e164;
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
    /// Checks the report against the city: a known service, a point inside the city, answers of
    /// the right types, sane text and contact fields.
    pub fn validate(self, city: &City) -> Result<ValidReport, Invalid> {
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
        let attributes = service.check_answers(&self.attributes)?;
        let description = trimmed(self.description);
        if let Some(description) = &description {
            if description.chars().count() > MAX_DESCRIPTION_CHARS {
                return Err(Invalid::field(
                    "description",
                    format!("description is longer than {MAX_DESCRIPTION_CHARS} characters"),
                ));
            }
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

fn check_contact(contact: Contact, country_calling_code: u16) -> Result<Contact, Invalid> {
    let email = trimmed(contact.email);
    if let Some(email) = &email {
        let well_formed = email.len() <= 254
            && !email.contains(char::is_whitespace)
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if !well_formed {
            return Err(Invalid::field(
                "email",
                "email is not a valid e-mail address",
            ));
        }
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
    })
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
