//! Reading a JSON request body strictly: the right content type, one document and nothing after
//! it, and no key given twice, each refused with a reason a client's developer can act on.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use axum::http::{header, HeaderMap, StatusCode};
use serde::de::{DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::api::ApiError;
use cityfix_domain::text::echo;

/// Refuses a body whose `Content-Type` is not `application/json` (an optional `charset=utf-8` is
/// the only parameter taken): 415 naming what was sent.
pub fn require_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let sent = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("(not text)"));
    let unsupported = |why: String| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            why,
        )
    };
    let Some(sent) = sent else {
        return Err(unsupported(
            "send the body with Content-Type: application/json".into(),
        ));
    };
    let wrong = || {
        unsupported(format!(
            "the Content-Type `{}` is not application/json; send the body as application/json",
            echo(sent)
        ))
    };
    let mime: mime::Mime = sent.parse().map_err(|_| wrong())?;
    if mime.essence_str() != "application/json" {
        return Err(wrong());
    }
    for (name, value) in mime.params() {
        let utf8 = name == mime::CHARSET && value.as_str().eq_ignore_ascii_case("utf-8");
        if !utf8 {
            return Err(unsupported(format!(
                "the Content-Type parameter `{}` is not taken; JSON is read as UTF-8",
                echo(name.as_str())
            )));
        }
    }
    Ok(())
}

/// The body as one JSON document of type `T`: 415 for another content type, 400 naming the field
/// for a document that does not fit, and 400 for anything after the document.
pub fn read_json<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    require_json_content_type(headers)?;
    let malformed =
        |message: String| ApiError::new(StatusCode::BAD_REQUEST, "malformed_body", message);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let mut error = malformed(format!("the body is not valid: {}", e.inner()));
        if path != "." {
            error.field = Some(path);
        }
        error
    })?;
    deserializer.end().map_err(|_| {
        malformed("the body holds more than one JSON document; send exactly one".into())
    })?;
    Ok(value)
}

/// Deserializes a JSON object into a map, refusing a key given twice (serde's maps keep the last
/// silently). Use with `#[serde(deserialize_with = "unique_keys")]`.
pub fn unique_keys<'de, D, V>(deserializer: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct UniqueKeys<V>(PhantomData<V>);

    impl<'de, V: Deserialize<'de>> Visitor<'de> for UniqueKeys<V> {
        type Value = BTreeMap<String, V>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object whose keys are each given once")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let mut map = BTreeMap::new();
            while let Some(key) = access.next_key::<String>()? {
                if map.contains_key(&key) {
                    return Err(serde::de::Error::custom(format!(
                        "the key `{}` is given twice",
                        echo(&key)
                    )));
                }
                let value = access.next_value()?;
                map.insert(key, value);
            }
            Ok(map)
        }
    }

    deserializer.deserialize_map(UniqueKeys(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::Value;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[allow(dead_code)]
        name: String,
        #[serde(default, deserialize_with = "unique_keys")]
        attributes: BTreeMap<String, Value>,
    }

    fn typed(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        headers
    }

    #[test]
    fn json_with_or_without_a_utf8_charset_is_taken() {
        for content_type in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
        ] {
            let doc: Doc = read_json(&typed(content_type), br#"{"name":"a"}"#)
                .unwrap_or_else(|e| panic!("{content_type}: {}", e.message));
            assert!(doc.attributes.is_empty());
        }
    }

    #[test]
    fn other_content_types_are_415() {
        for content_type in [
            "application/jsonfoo",
            "application/json-patch+json",
            "text/json",
            "application/json; charset=latin1",
            "application/json; boundary=x",
            "text/plain",
        ] {
            let err = read_json::<Doc>(&typed(content_type), br#"{"name":"a"}"#).unwrap_err();
            assert_eq!(
                err.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{content_type}"
            );
        }
        let err = read_json::<Doc>(&HeaderMap::new(), br#"{"name":"a"}"#).unwrap_err();
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[test]
    fn anything_after_the_document_is_refused() {
        let headers = typed("application/json");
        for body in [
            &br#"{"name":"a"} x"#[..],
            br#"{"name":"a"}{"name":"b"}"#,
            br#"{"name":"a"} {}"#,
        ] {
            let err = read_json::<Doc>(&headers, body).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
            assert!(err.message.contains("more than one"), "{}", err.message);
        }
        assert!(read_json::<Doc>(&headers, b"{\"name\":\"a\"}\n\t ").is_ok());
    }

    #[test]
    fn a_key_given_twice_is_refused_with_its_path() {
        let headers = typed("application/json");
        let err = read_json::<Doc>(
            &headers,
            br#"{"name":"a","attributes":{"size":"1","size":"2"}}"#,
        )
        .unwrap_err();
        assert!(
            err.message.contains("`size` is given twice"),
            "{}",
            err.message
        );
        assert_eq!(err.field.as_deref(), Some("attributes"));
        let err = read_json::<Doc>(&headers, br#"{"name":"a","name":"b"}"#).unwrap_err();
        assert!(err.message.contains("duplicate field"), "{}", err.message);
    }
}
