//! The service catalogue: what residents can report, and the questions each kind of report asks.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::{report::RawAttribute, Invalid};

/// One kind of report the city takes (a pothole, a streetlight out, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub code: String,
    pub name: String,
    pub description: String,
    pub group: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The department that takes this service unless its routing rules say otherwise.
    pub department: String,
    #[serde(default)]
    pub routing: ServiceRouting,
    #[serde(default, rename = "attribute")]
    pub attributes: Vec<Attribute>,
    /// Reports of this service (an ethics complaint) are read by ethics staff only; to everyone
    /// else they are not there (docs/staff-access.md).
    #[serde(default)]
    pub confidential: bool,
    /// The priority its requests start with.
    #[serde(default)]
    pub priority: crate::Priority,
    /// The service level target: how many hours the city means to take to close a request
    /// (counted from when it was made). Sets the expected date until history knows better.
    #[serde(default)]
    pub target_hours: Option<u32>,
    /// Its texts in other languages than the catalogue's own, by language code
    /// (`[service.translations.es]`); what a translation leaves out stays as written above.
    #[serde(default)]
    pub translations: BTreeMap<String, ServiceText>,
    /// The asset layer its reports are about (a streetlight out names its pole), and how near
    /// a report's point its nearest asset is taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assets: Option<crate::assets::ServiceAssets>,
}

/// A service's texts in one more language. Every field is optional: the catalogue's own text
/// stands in for what is not translated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceText {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    /// The words residents use in this language; they replace the catalogue's own in this
    /// language's view, and every language's words find the service when suggesting.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Attribute code → its question in this language.
    #[serde(default, rename = "attribute")]
    pub attributes: BTreeMap<String, AttributeText>,
}

/// One attribute's question in one more language.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeText {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub datatype_description: Option<String>,
    /// A list attribute's choices: value key → its name in this language.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
}

impl Service {
    /// The service as a reader of `language` sees it: the translated texts where
    /// services.toml has them, the catalogue's own elsewhere (and for a language it has none in).
    pub fn in_language(&self, language: &str) -> Service {
        let mut shown = self.clone();
        shown.translations = BTreeMap::new();
        let Some(text) = self.translations.get(language) else {
            return shown;
        };
        let replace = |own: &mut String, translated: &Option<String>| {
            if let Some(translated) = translated.as_ref().filter(|t| !t.trim().is_empty()) {
                *own = translated.clone();
            }
        };
        replace(&mut shown.name, &text.name);
        replace(&mut shown.description, &text.description);
        replace(&mut shown.group, &text.group);
        if !text.keywords.is_empty() {
            shown.keywords = text.keywords.clone();
        }
        for attribute in &mut shown.attributes {
            let Some(asked) = text.attributes.get(&attribute.code) else {
                continue;
            };
            replace(&mut attribute.description, &asked.description);
            replace(
                &mut attribute.datatype_description,
                &asked.datatype_description,
            );
            for value in &mut attribute.values {
                if let Some(name) = asked
                    .values
                    .get(&value.key)
                    .filter(|n| !n.trim().is_empty())
                {
                    value.name = name.clone();
                }
            }
        }
        shown
    }

    /// Its name for a reader of `language` (the catalogue's own if not translated).
    pub fn name_in(&self, language: &str) -> &str {
        self.translations
            .get(language)
            .and_then(|text| text.name.as_deref())
            .filter(|name| !name.trim().is_empty())
            .unwrap_or(&self.name)
    }
}

/// How a service's reports are routed beyond its department.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRouting {
    /// The area layer whose areas decide (e.g. "neighbourhoods").
    #[serde(default)]
    pub layer: Option<String>,
    /// Area name in that layer → department or agency id.
    #[serde(default)]
    pub areas: BTreeMap<String, String>,
    /// Whether a point on an owned road goes to the road's owner (potholes on a state route).
    #[serde(default)]
    pub road_owners: bool,
    /// Line owner → department or agency id, where this service differs from routing.toml's `line_owners`.
    #[serde(default)]
    pub line_owners: BTreeMap<String, String>,
    /// Reports of this service this close to an open one are linked to it as duplicates.
    #[serde(default = "default_duplicate_radius_m")]
    pub duplicate_radius_m: f64,
}

fn default_duplicate_radius_m() -> f64 {
    50.0
}

impl Default for ServiceRouting {
    fn default() -> Self {
        ServiceRouting {
            layer: None,
            areas: BTreeMap::new(),
            road_owners: false,
            line_owners: BTreeMap::new(),
            duplicate_radius_m: default_duplicate_radius_m(),
        }
    }
}

/// A question a service asks (Open311 "attribute").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    pub code: String,
    pub datatype: Datatype,
    pub required: bool,
    /// False for informational text that asks nothing.
    pub variable: bool,
    pub description: String,
    #[serde(default)]
    pub datatype_description: String,
    pub order: u32,
    #[serde(default)]
    pub values: Vec<ValueOption>,
}

/// The datatypes Open311 GeoReport v2 names for attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Datatype {
    String,
    Number,
    Datetime,
    Text,
    Singlevaluelist,
    Multivaluelist,
}

/// One choice of a list attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueOption {
    pub key: String,
    pub name: String,
}

/// An answer to an attribute, kept in the type its datatype says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeValue {
    Number(f64),
    Text(String),
    Keys(Vec<String>),
}

/// Longest answer accepted for a string or text attribute.
const MAX_ANSWER_CHARS: usize = 4000;

impl Datatype {
    pub fn as_str(self) -> &'static str {
        match self {
            Datatype::String => "string",
            Datatype::Number => "number",
            Datatype::Datetime => "datetime",
            Datatype::Text => "text",
            Datatype::Singlevaluelist => "singlevaluelist",
            Datatype::Multivaluelist => "multivaluelist",
        }
    }

    pub fn is_list(self) -> bool {
        matches!(self, Datatype::Singlevaluelist | Datatype::Multivaluelist)
    }
}

impl Service {
    /// Whether Open311 clients must fetch this service's definition (it asks questions).
    pub fn has_metadata(&self) -> bool {
        !self.attributes.is_empty() || self.assets.is_some()
    }

    /// The attributes in the order a form shows them.
    pub fn attributes_in_order(&self) -> Vec<&Attribute> {
        let mut attributes: Vec<&Attribute> = self.attributes.iter().collect();
        attributes.sort_by_key(|a| a.order);
        attributes
    }

    /// Checks the answers against this service's questions: every required one answered, every
    /// answer of the right type, nothing answered that the service does not ask.
    pub fn check_answers(
        &self,
        raw: &BTreeMap<String, RawAttribute>,
    ) -> Result<BTreeMap<String, AttributeValue>, Invalid> {
        self.checked_answers(raw, true)
    }

    /// [`Service::check_answers`] for a report whose reporter was not asked (an e-mail): what is
    /// answered is checked, and a required question left open is left for staff.
    pub fn check_given_answers(
        &self,
        raw: &BTreeMap<String, RawAttribute>,
    ) -> Result<BTreeMap<String, AttributeValue>, Invalid> {
        self.checked_answers(raw, false)
    }

    fn checked_answers(
        &self,
        raw: &BTreeMap<String, RawAttribute>,
        require: bool,
    ) -> Result<BTreeMap<String, AttributeValue>, Invalid> {
        if let Some(unknown) = raw.keys().find(|code| {
            !self
                .attributes
                .iter()
                .any(|a| a.variable && &a.code == *code)
        }) {
            let unknown = crate::text::echo(unknown);
            return Err(Invalid::field(
                format!("attribute[{unknown}]"),
                format!("service `{}` has no attribute `{unknown}`", self.code),
            ));
        }
        let mut answers = BTreeMap::new();
        for attribute in self.attributes.iter().filter(|a| a.variable) {
            match raw.get(&attribute.code) {
                Some(answer) if !answer.is_blank() => {
                    answers.insert(attribute.code.clone(), attribute.check(answer)?);
                }
                _ if attribute.required && require => {
                    return Err(Invalid::missing(
                        format!("attribute[{}]", attribute.code),
                        format!(
                            "attribute `{}` is required for {}: {}",
                            attribute.code, self.name, attribute.description
                        ),
                    ))
                }
                _ => {}
            }
        }
        Ok(answers)
    }
}

impl Attribute {
    fn check(&self, answer: &RawAttribute) -> Result<AttributeValue, Invalid> {
        let field = format!("attribute[{}]", self.code);
        let wrong = |why: String| Invalid::field(field.clone(), why);
        let single = || match answer {
            RawAttribute::One(value) => Ok(value.trim().to_string()),
            RawAttribute::Many(_) => Err(wrong(format!(
                "attribute `{}` takes one value, not a list",
                self.code
            ))),
        };
        match self.datatype {
            Datatype::String | Datatype::Text => {
                let value = single()?;
                if value.chars().count() > MAX_ANSWER_CHARS {
                    return Err(wrong(format!(
                        "attribute `{}` is longer than {MAX_ANSWER_CHARS} characters",
                        self.code
                    )));
                }
                Ok(AttributeValue::Text(value))
            }
            Datatype::Number => {
                let value = single()?;
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .map(AttributeValue::Number)
                    .ok_or_else(|| {
                        wrong(format!(
                            "attribute `{}` must be a number, not `{}`",
                            self.code,
                            shorten(&value)
                        ))
                    })
            }
            Datatype::Datetime => {
                let value = single()?;
                DateTime::<FixedOffset>::parse_from_rfc3339(&value)
                    .map(|when| AttributeValue::Text(when.to_rfc3339()))
                    .map_err(|_| {
                        wrong(format!(
                            "attribute `{}` must be an ISO 8601 date and time with offset, like 2026-11-23T14:30:00-05:00",
                            self.code
                        ))
                    })
            }
            Datatype::Singlevaluelist => {
                let value = single()?;
                self.check_key(&value)?;
                Ok(AttributeValue::Text(value))
            }
            Datatype::Multivaluelist => {
                let keys: Vec<String> = match answer {
                    RawAttribute::One(value) => vec![value.trim().to_string()],
                    RawAttribute::Many(values) => {
                        values.iter().map(|v| v.trim().to_string()).collect()
                    }
                };
                for key in &keys {
                    self.check_key(key)?;
                }
                let mut unique = keys.clone();
                unique.sort();
                unique.dedup();
                if unique.len() != keys.len() {
                    return Err(wrong(format!(
                        "attribute `{}` lists the same choice twice",
                        self.code
                    )));
                }
                Ok(AttributeValue::Keys(keys))
            }
        }
    }

    fn check_key(&self, key: &str) -> Result<(), Invalid> {
        if self.values.iter().any(|v| v.key == key) {
            return Ok(());
        }
        let keys: Vec<&str> = self.values.iter().map(|v| v.key.as_str()).collect();
        Err(Invalid::field(
            format!("attribute[{}]", self.code),
            format!(
                "`{}` is not a choice of attribute `{}`; the choices are {}",
                shorten(key),
                self.code,
                keys.join(", ")
            ),
        ))
    }
}

/// Keeps echoed input short in error messages.
fn shorten(value: &str) -> String {
    let mut short: String = value.chars().take(40).collect();
    if short.len() < value.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pothole() -> Service {
        Service {
            code: "pothole".into(),
            name: "Pothole".into(),
            description: "A hole in the road".into(),
            group: "Streets".into(),
            keywords: vec![],
            department: "public-works".into(),
            routing: ServiceRouting::default(),
            attributes: vec![
                Attribute {
                    code: "size".into(),
                    datatype: Datatype::Singlevaluelist,
                    required: true,
                    variable: true,
                    description: "How big is it?".into(),
                    datatype_description: String::new(),
                    order: 2,
                    values: vec![
                        ValueOption {
                            key: "small".into(),
                            name: "Small".into(),
                        },
                        ValueOption {
                            key: "large".into(),
                            name: "Large".into(),
                        },
                    ],
                },
                Attribute {
                    code: "depth_cm".into(),
                    datatype: Datatype::Number,
                    required: false,
                    variable: true,
                    description: "How deep?".into(),
                    datatype_description: String::new(),
                    order: 1,
                    values: vec![],
                },
                Attribute {
                    code: "lanes".into(),
                    datatype: Datatype::Multivaluelist,
                    required: false,
                    variable: true,
                    description: "Which lanes?".into(),
                    datatype_description: String::new(),
                    order: 3,
                    values: vec![
                        ValueOption {
                            key: "left".into(),
                            name: "Left".into(),
                        },
                        ValueOption {
                            key: "right".into(),
                            name: "Right".into(),
                        },
                    ],
                },
                Attribute {
                    code: "since".into(),
                    datatype: Datatype::Datetime,
                    required: false,
                    variable: true,
                    description: "Since when?".into(),
                    datatype_description: String::new(),
                    order: 4,
                    values: vec![],
                },
            ],
            confidential: false,
            priority: crate::Priority::Normal,
            target_hours: None,
            translations: BTreeMap::new(),
            assets: None,
        }
    }

    #[test]
    fn a_translation_replaces_what_it_gives_and_keeps_the_rest() {
        let mut service = pothole();
        let text: ServiceText = serde_json::from_value(serde_json::json!({
            "name": "Bache",
            "keywords": ["bache", "hoyo"],
            "attribute": { "size": { "description": "¿Qué tamaño tiene?", "values": { "small": "Pequeño" } } },
        }))
        .unwrap();
        service.translations.insert("es".into(), text);
        let es = service.in_language("es");
        assert_eq!(es.name, "Bache");
        assert_eq!(service.name_in("es"), "Bache");
        assert_eq!(
            es.description, service.description,
            "not translated: as written"
        );
        assert_eq!(es.keywords, ["bache", "hoyo"]);
        let size = es.attributes.iter().find(|a| a.code == "size").unwrap();
        assert_eq!(size.description, "¿Qué tamaño tiene?");
        assert_eq!(size.values[0].name, "Pequeño");
        assert_eq!(
            size.values[1].name, "Large",
            "a choice not translated stays"
        );
        assert!(es.translations.is_empty());
        assert_eq!(service.in_language("fr").name, "Pothole");
        assert_eq!(service.name_in("fr"), "Pothole");
    }

    fn answers(pairs: &[(&str, RawAttribute)]) -> BTreeMap<String, RawAttribute> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn one(v: &str) -> RawAttribute {
        RawAttribute::One(v.into())
    }

    #[test]
    fn accepts_well_typed_answers() {
        let checked = pothole()
            .check_answers(&answers(&[
                ("size", one("large")),
                ("depth_cm", one("12.5")),
                (
                    "lanes",
                    RawAttribute::Many(vec!["left".into(), "right".into()]),
                ),
                ("since", one("2026-11-20T08:00:00-05:00")),
            ]))
            .unwrap();
        assert_eq!(checked["size"], AttributeValue::Text("large".into()));
        assert_eq!(checked["depth_cm"], AttributeValue::Number(12.5));
        assert_eq!(
            checked["lanes"],
            AttributeValue::Keys(vec!["left".into(), "right".into()])
        );
    }

    #[test]
    fn a_missing_required_answer_names_the_attribute() {
        let err = pothole().check_answers(&answers(&[])).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("attribute[size]"));
        assert_eq!(err.code, "missing_field");
    }

    #[test]
    fn wrong_types_are_refused() {
        let service = pothole();
        let bad = [
            ("depth_cm", one("deep")),
            ("size", one("huge")),
            ("since", one("yesterday")),
            (
                "lanes",
                RawAttribute::Many(vec!["left".into(), "left".into()]),
            ),
            ("size", RawAttribute::Many(vec!["small".into()])),
            ("colour", one("red")),
        ];
        for (code, value) in bad {
            let mut raw = answers(&[("size", one("small"))]);
            raw.insert(code.to_string(), value);
            assert!(
                service.check_answers(&raw).is_err(),
                "{code} should be refused"
            );
        }
    }

    #[test]
    fn attributes_come_in_form_order() {
        let codes: Vec<_> = pothole()
            .attributes_in_order()
            .iter()
            .map(|a| a.code.clone())
            .collect();
        assert_eq!(codes, ["depth_cm", "size", "lanes", "since"]);
    }
}
