//! Open311 GeoReport v2 on the wire: views of services and requests, errors, form bodies, and XML.

use std::collections::BTreeMap;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde_json::{json, Value};

use crate::city_time;
use cityfix_app::media::{media_link, public_links, shown_media_url};
use cityfix_app::updates::PublicUpdate;
use cityfix_domain::assets::ASSET_ATTRIBUTE;
use cityfix_domain::text::{cap, echo, xml_safe};
use cityfix_domain::{
    City, Contact, Invalid, RawAttribute, ReportForm, Service, ServiceRequest, TimelineKind,
    TrackingNumber,
};

/// The two formats Open311 speaks, chosen by the path's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// Splits `7K3M-9QZ2.json` into the id and its format; None without a known extension.
    pub fn split(file: &str) -> Option<(&str, Format)> {
        let (stem, extension) = file.rsplit_once('.')?;
        let format = match extension {
            "json" => Format::Json,
            "xml" => Format::Xml,
            _ => return None,
        };
        Some((stem, format))
    }
}

/// An Open311 answer: a JSON value, rendered as JSON or as the spec's XML with `root` around it.
pub struct Open311Response {
    pub format: Format,
    pub status: StatusCode,
    pub root: &'static str,
    pub body: Value,
}

impl Open311Response {
    pub fn ok(format: Format, root: &'static str, body: Value) -> Self {
        Open311Response {
            format,
            status: StatusCode::OK,
            root,
            body,
        }
    }
}

impl IntoResponse for Open311Response {
    fn into_response(self) -> Response {
        match self.format {
            Format::Json => (
                self.status,
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                self.body.to_string(),
            )
                .into_response(),
            Format::Xml => (
                self.status,
                [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
                to_xml(self.root, &self.body),
            )
                .into_response(),
        }
    }
}

/// Most characters an error's description holds, whatever it repeats of the input.
pub const MAX_ERROR_CHARS: usize = 500;

/// An Open311 error: `[{"code": 400, "description": "..."}]`, or `<errors><error>…` in XML.
pub fn error(format: Format, status: StatusCode, description: impl Into<String>) -> Response {
    let description = cap(&description.into(), MAX_ERROR_CHARS);
    let body = json!([{ "code": status.as_u16(), "description": description }]);
    Open311Response {
        format,
        status,
        root: "errors",
        body,
    }
    .into_response()
}

/// The element name of one item of a list element.
fn item_name(list: &str) -> &'static str {
    match list {
        "services" => "service",
        "service_requests" => "request",
        "attributes" => "attribute",
        "values" => "value",
        "endpoints" => "endpoint",
        "formats" => "format",
        "errors" => "error",
        "service_request_updates" => "request_update",
        "notes" => "note",
        "media_urls" => "media_url",
        _ => "item",
    }
}

/// `name` as an XML element name: characters a name may not hold become `_`, and one that
/// cannot start a name gets `_` before it (an area layer id may start with a digit).
fn element_name(name: &str) -> std::borrow::Cow<'_, str> {
    let fits = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    let starts = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if starts && name.chars().all(fits) {
        return std::borrow::Cow::Borrowed(name);
    }
    let cleaned: String = name
        .chars()
        .map(|c| if fits(c) { c } else { '_' })
        .collect();
    std::borrow::Cow::Owned(if starts {
        cleaned
    } else {
        format!("_{cleaned}")
    })
}

/// Renders a JSON value as Open311 XML: objects become elements, lists repeat their item element.
pub fn to_xml(root: &str, value: &Value) -> String {
    let mut writer = Writer::new(Vec::new());
    writer
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))
        .expect("writing to memory cannot fail");
    write_element(&mut writer, root, value);
    String::from_utf8(writer.into_inner()).expect("the XML writer writes UTF-8")
}

fn write_element(writer: &mut Writer<Vec<u8>>, name: &str, value: &Value) {
    let name: &str = &element_name(name);
    let write = |writer: &mut Writer<Vec<u8>>, event: Event<'_>| {
        writer
            .write_event(event)
            .expect("writing to memory cannot fail")
    };
    match value {
        Value::Null => write(writer, Event::Empty(BytesStart::new(name))),
        Value::Array(items) => {
            write(writer, Event::Start(BytesStart::new(name)));
            for item in items {
                write_element(writer, item_name(name), item);
            }
            write(writer, Event::End(BytesEnd::new(name)));
        }
        Value::Object(fields) => {
            write(writer, Event::Start(BytesStart::new(name)));
            for (field, item) in fields {
                write_element(writer, field, item);
            }
            write(writer, Event::End(BytesEnd::new(name)));
        }
        scalar => {
            let text = match scalar {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            write(writer, Event::Start(BytesStart::new(name)));
            write(writer, Event::Text(BytesText::new(&xml_safe(&text))));
            write(writer, Event::End(BytesEnd::new(name)));
        }
    }
}

/// The service list (GET services).
pub fn service_list(city: &City) -> Value {
    service_list_in(city, None)
}

/// The service list in `language` where services.toml translates it (GET services?locale=es).
pub fn service_list_in(city: &City, language: Option<&str>) -> Value {
    Value::Array(
        city.services
            .iter()
            .map(|service| match language {
                Some(language) => service.in_language(language),
                None => service.clone(),
            })
            .map(|service| {
                json!({
                    "service_code": service.code,
                    "service_name": service.name,
                    "description": service.description,
                    "metadata": service.has_metadata(),
                    "type": "realtime",
                    "keywords": service.keywords.join(","),
                    "group": service.group,
                })
            })
            .collect(),
    )
}

/// A service definition (GET services/{code}).
pub fn service_definition(service: &Service) -> Value {
    let attributes: Vec<Value> = service
        .attributes_in_order()
        .into_iter()
        .map(|a| {
            json!({
                "variable": a.variable,
                "code": a.code,
                "datatype": a.datatype.as_str(),
                "required": a.required,
                "datatype_description": a.datatype_description,
                "order": a.order,
                "description": a.description,
                "values": a.values.iter().map(|v| json!({ "key": v.key, "name": v.name })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut attributes = attributes;
    if let Some(assets) = &service.assets {
        // Not a question of services.toml: the asset the report is about, checked at submit.
        let order = service
            .attributes
            .iter()
            .map(|a| a.order)
            .max()
            .unwrap_or(0)
            + 1;
        attributes.push(json!({
            "variable": true,
            "code": ASSET_ATTRIBUTE,
            "datatype": "string",
            "required": false,
            "datatype_description": format!("the id of an asset of the city's `{}` layer (GET /api/v1/services/{}/assets lists them)", assets.layer, service.code),
            "order": order,
            "description": format!("Which one? Leave empty to take the nearest within {} m of the point.", assets.snap_m),
            "values": [],
        }));
    }
    json!({ "service_code": service.code, "attributes": attributes })
}

/// One request as Open311 shows it. Public fields only: the reporter never appears.
/// `media_url` is the web version of the first photo the public may see, and the extension
/// `media_urls` lists every photo and video the public may see; private media are in neither.
pub fn request_view(city: &City, public_url: &str, request: &ServiceRequest) -> Value {
    json!({
        "service_request_id": request.id.as_str(),
        "status": request.status.open311(),
        "status_notes": request.status_notes,
        "service_name": request.service_name,
        "service_code": request.service_code,
        "description": request.description,
        "agency_responsible": request.agency_responsible,
        "service_notice": Value::Null,
        "requested_datetime": city_time(city, request.requested_at),
        "updated_datetime": city_time(city, request.updated_at),
        "expected_datetime": request.expected_at.map(|at| city_time(city, at)),
        "address": request.address,
        "address_id": Value::Null,
        "zipcode": Value::Null,
        "lat": request.location.lat(),
        "long": request.location.long(),
        "media_url": shown_media_url(public_url, request),
        "media_urls": public_links(public_url, request),
    })
}

/// The public link of a request's stored photo or video (`originals/<id>/<file>`), as the media
/// route serves it; `None` for a key that is not one of the request's originals.
pub fn public_media_url(public_url: &str, request: &TrackingNumber, key: &str) -> Option<String> {
    media_link(public_url, request, key)
}

/// One entry of the updates feed (the FixMyStreet extension `servicerequestupdates`). Empty text
/// for no note and no photo, as FixMyStreet writes them.
pub fn update_view(city: &City, public_url: &str, update: &PublicUpdate) -> Value {
    let media_url = update
        .media
        .as_deref()
        .and_then(|key| public_media_url(public_url, &update.request_id, key));
    json!({
        "update_id": update.update_id,
        "service_request_id": update.request_id.as_str(),
        "status": update.status.open311(),
        "updated_datetime": city_time(city, update.at),
        "description": update.note.clone().unwrap_or_default(),
        "media_url": media_url.unwrap_or_default(),
    })
}

/// What a timeline entry of this kind did, in a few words (Chicago's `summary` of a note).
fn summary(kind: TimelineKind) -> &'static str {
    match kind {
        TimelineKind::Submitted => "Request submitted",
        TimelineKind::Routed => "Sent to a department",
        TimelineKind::Referred => "Referred to another agency",
        TimelineKind::Duplicate => "Linked as a duplicate",
        TimelineKind::StatusChanged => "Status changed",
        TimelineKind::Note => "Note",
        TimelineKind::Media => "Photo or video added",
        TimelineKind::Assigned => "Assigned",
        TimelineKind::Prioritised => "Priority changed",
        TimelineKind::Rescheduled => "Expected date changed",
        TimelineKind::Comment => "Comment from the reporter",
        TimelineKind::Supported => "Someone reported it too",
        TimelineKind::Backlog => "Delayed by a backlog",
        TimelineKind::BacklogLifted => "Backlog lifted",
        TimelineKind::SlaBreached => "Past its expected date",
        TimelineKind::Moderated => "Moderated",
    }
}

/// Chicago's Open311 extension (`extensions=true`): where the request came from, the areas it is
/// in, the request it duplicates, and its public history. Public entries only, with no actor.
pub fn extended_attributes(
    city: &City,
    request: &ServiceRequest,
    history: &[PublicUpdate],
) -> Value {
    let notes: Vec<Value> = history
        .iter()
        .map(|update| {
            json!({
                "datetime": city_time(city, update.at),
                "type": update.kind,
                "summary": summary(update.kind),
                "description": update.note,
            })
        })
        .collect();
    let mut attributes = json!({
        "channel": request.channel,
        "areas": request.areas,
        "notes": notes,
    });
    if let Some(parent) = &request.duplicate_of {
        attributes["duplicate_of"] = json!(parent.as_str());
        attributes["parent_service_request_id"] = json!(parent.as_str());
    }
    if let Some(asset) = &request.asset {
        attributes[ASSET_ATTRIBUTE] = json!(asset.id);
        attributes["asset_layer"] = json!(asset.layer);
    }
    attributes
}

/// The discovery document, pointing at this server's own endpoint.
pub fn discovery(city: &City, endpoint_url: &str) -> Value {
    json!({
        "changeset": "2026-11-23T00:00:00Z",
        "contact": format!("{} 311, {}, {}", city.short_name, city.contact_phone, city.contact_email),
        "key_service": format!("Ask {} for an API key to post requests", city.contact_email),
        "endpoints": [{
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": endpoint_url,
            "changeset": "2026-11-23T00:00:00Z",
            "type": "production",
            "formats": ["application/json", "text/xml"],
        }],
    })
}

/// The fields of an Open311 POST besides the report itself.
#[derive(Debug, Default)]
pub struct PostEnvelope {
    pub api_key: Option<String>,
    pub jurisdiction_id: Option<String>,
    /// Our extension: media ids of files uploaded before the report (`POST /api/v1/media`),
    /// comma-separated in `media`, and the `upload_token` their slots were given with.
    pub media: Vec<String>,
    pub upload_token: Option<String>,
}

/// Reads a form-encoded Open311 POST body: the report, `attribute[code]` and
/// `attribute[code][]` answers, and the api key. Repeated single fields are refused.
pub fn parse_report_form(body: &[u8]) -> Result<(ReportForm, PostEnvelope), Invalid> {
    if std::str::from_utf8(body).is_err() {
        return Err(
            Invalid::field("body", "the form body is not UTF-8 text").with_code("malformed_body")
        );
    }
    let mut singles: BTreeMap<String, String> = BTreeMap::new();
    let mut attributes: BTreeMap<String, RawAttribute> = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(body) {
        if key.contains('\u{FFFD}') || value.contains('\u{FFFD}') {
            return Err(Invalid::field(
                key.to_string(),
                "the form has a percent-encoded value that is not UTF-8",
            )
            .with_code("malformed_body"));
        }
        if let Some(inner) = key.strip_prefix("attribute[") {
            let (code, many) = match inner.strip_suffix("][]") {
                Some(code) => (code, true),
                None => (
                    inner.strip_suffix(']').ok_or_else(|| {
                        Invalid::field(
                            key.to_string(),
                            format!("`{}` is not of the form attribute[code]", echo(&key)),
                        )
                    })?,
                    false,
                ),
            };
            let entry = attributes.entry(code.to_string());
            match (entry, many) {
                (std::collections::btree_map::Entry::Vacant(slot), false) => {
                    slot.insert(RawAttribute::One(value.into_owned()));
                }
                (std::collections::btree_map::Entry::Vacant(slot), true) => {
                    slot.insert(RawAttribute::Many(vec![value.into_owned()]));
                }
                (std::collections::btree_map::Entry::Occupied(mut slot), true) => match slot
                    .get_mut()
                {
                    RawAttribute::Many(values) => values.push(value.into_owned()),
                    RawAttribute::One(_) => {
                        return Err(Invalid::field(
                            format!("attribute[{code}]"),
                            format!("attribute `{code}` is given both as one value and as a list"),
                        ))
                    }
                },
                (std::collections::btree_map::Entry::Occupied(_), false) => {
                    return Err(Invalid::field(
                        format!("attribute[{code}]"),
                        format!(
                            "attribute `{code}` is given twice; use attribute[{code}][] for a list"
                        ),
                    ))
                }
            }
            continue;
        }
        if singles
            .insert(key.to_string(), value.into_owned())
            .is_some()
        {
            return Err(Invalid::field(
                key.to_string(),
                format!("`{}` is given twice", echo(&key)),
            ));
        }
    }
    let mut take = |field: &str| singles.remove(field).filter(|v| !v.trim().is_empty());
    let number = |field: &str, value: Option<String>| -> Result<Option<f64>, Invalid> {
        value
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| Invalid::field(field, format!("{field} must be a number")))
            })
            .transpose()
    };
    let lat = number("lat", take("lat"))?;
    let long = number("long", take("long"))?;
    let asset_id = match attributes.remove(ASSET_ATTRIBUTE) {
        Some(RawAttribute::One(id)) => Some(id).filter(|id| !id.trim().is_empty()),
        Some(RawAttribute::Many(_)) => {
            return Err(Invalid::field(
                format!("attribute[{ASSET_ATTRIBUTE}]"),
                "a report is about one asset: send attribute[asset_id] once, not as a list",
            ))
        }
        None => None,
    };
    let form = ReportForm {
        service_code: take("service_code"),
        lat,
        long,
        address_string: take("address_string"),
        attributes,
        description: take("description"),
        contact: Contact {
            email: take("email"),
            phone: take("phone"),
            first_name: take("first_name"),
            last_name: take("last_name"),
            device_id: take("device_id"),
            language: None,
        },
        media_url: take("media_url"),
        asset_id,
    };
    let envelope = PostEnvelope {
        api_key: take("api_key"),
        jurisdiction_id: take("jurisdiction_id"),
        media: take("media")
            .map(|ids| {
                ids.split(',')
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        upload_token: take("upload_token"),
    };
    Ok((form, envelope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_ids_from_extensions() {
        assert_eq!(
            Format::split("7K3M-9QZ2.json"),
            Some(("7K3M-9QZ2", Format::Json))
        );
        assert_eq!(Format::split("pothole.xml"), Some(("pothole", Format::Xml)));
        assert_eq!(Format::split("pothole.html"), None);
        assert_eq!(Format::split("pothole"), None);
    }

    #[test]
    fn xml_never_writes_a_character_xml_forbids() {
        // Stored before intake refused them, or arriving by another path: still well formed.
        let xml = to_xml(
            "service_requests",
            &json!([{ "description": "a\u{0}b\u{1b}c\u{ffff}\td" }]),
        );
        assert!(
            xml.contains("<description>a\u{fffd}b\u{fffd}c\u{fffd}\td</description>"),
            "{xml}"
        );
        let mut reader = quick_xml::Reader::from_str(&xml);
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well formed: {e}"),
            }
        }
    }

    #[test]
    fn xml_repeats_list_items_and_escapes_text() {
        let xml = to_xml(
            "services",
            &json!([{ "service_code": "a&b", "metadata": false }, { "service_code": "c", "group": null }]),
        );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><services><service><service_code>a&amp;b</service_code><metadata>false</metadata></service><service><service_code>c</service_code><group/></service></services>"
        );
    }

    #[test]
    fn xml_element_names_are_always_names() {
        let xml = to_xml(
            "areas",
            &json!({ "1st-ward": "North", "neighbourhoods": "Downtown" }),
        );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><areas><_1st-ward>North</_1st-ward><neighbourhoods>Downtown</neighbourhoods></areas>"
        );
        assert_eq!(element_name("a b<c"), "a_b_c");
    }

    #[test]
    fn only_a_requests_own_originals_get_a_public_link() {
        let id = TrackingNumber::parse("7K3M-9QZ2").unwrap();
        assert_eq!(
            public_media_url("http://cityfix.test/", &id, "originals/7K3M-9QZ2/5b0e.jpg")
                .as_deref(),
            Some("http://cityfix.test/api/v1/media/7K3M-9QZ2/5b0e.jpg")
        );
        assert_eq!(
            public_media_url("http://cityfix.test", &id, "originals/ABCD-EFGH/5b0e.jpg"),
            None
        );
        assert_eq!(
            public_media_url("http://cityfix.test", &id, "uploads/7K3M-9QZ2/5b0e.jpg"),
            None
        );
    }

    #[test]
    fn form_reads_attributes_single_and_list() {
        let (form, envelope) = parse_report_form(
            b"api_key=k&service_code=pothole&lat=41.7&long=-72.6&attribute%5Bsize%5D=small&attribute[lanes][]=left&attribute[lanes][]=right&email=a%40b.org",
        )
        .unwrap();
        assert_eq!(envelope.api_key.as_deref(), Some("k"));
        assert_eq!(form.lat, Some(41.7));
        assert_eq!(form.attributes["size"], RawAttribute::One("small".into()));
        assert_eq!(
            form.attributes["lanes"],
            RawAttribute::Many(vec!["left".into(), "right".into()])
        );
        assert_eq!(form.contact.email.as_deref(), Some("a@b.org"));
    }

    #[test]
    fn form_refuses_repeats_non_numbers_and_bad_encoding() {
        assert_eq!(
            parse_report_form(b"lat=1&lat=2")
                .unwrap_err()
                .field
                .as_deref(),
            Some("lat")
        );
        assert_eq!(
            parse_report_form(b"lat=north")
                .unwrap_err()
                .field
                .as_deref(),
            Some("lat")
        );
        assert!(parse_report_form(b"attribute[a]=1&attribute[a]=2").is_err());
        assert!(parse_report_form(b"attribute[a=1").is_err());
        assert_eq!(
            parse_report_form(b"description=%FF%FE").unwrap_err().code,
            "malformed_body"
        );
        assert_eq!(
            parse_report_form(&[0x64, 0xff]).unwrap_err().code,
            "malformed_body"
        );
    }
}
