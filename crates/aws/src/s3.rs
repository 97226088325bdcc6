//! Media on S3: presigned POST forms for browser uploads, presigned GET links, and head, get,
//! create-once put (`If-None-Match: *`), delete.
//!
//! The SDK presigns GETs but not POST forms, so the form's policy is signed here with the SDK's own
//! SigV4 primitives (`aws_sigv4::sign::v4`); S3 then enforces the policy's key, exact content type,
//! size range and expiry.

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use base64::Engine;
use chrono::{DateTime, Utc};

use cityfix_app::ports::{MediaStore, PortError, PortResult, StoredFile, UploadForm};

/// One bucket of media.
#[derive(Clone)]
pub struct S3Media {
    client: Client,
    bucket: String,
    /// For signing upload forms, which the SDK does not do.
    credentials: Option<SharedCredentialsProvider>,
    region: Option<String>,
    endpoint: Option<String>,
}

fn unavailable(what: &str, error: impl std::fmt::Display) -> PortError {
    PortError::Unavailable(format!("s3 {what}: {error}"))
}

impl S3Media {
    /// `sdk` is the configuration `client` was built from.
    pub fn new(client: Client, bucket: impl Into<String>, sdk: &SdkConfig) -> Self {
        S3Media {
            client,
            bucket: bucket.into(),
            credentials: sdk.credentials_provider(),
            region: sdk.region().map(|r| r.to_string()),
            endpoint: sdk.endpoint_url().map(str::to_string),
        }
    }

    /// Where forms are posted: the bucket's own host on AWS, or `<endpoint>/<bucket>` on an endpoint
    /// set in the environment (moto, other S3-compatible stores).
    fn form_url(&self, region: &str) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("{}/{}", endpoint.trim_end_matches('/'), self.bucket),
            None => format!("https://{}.s3.{region}.amazonaws.com/", self.bucket),
        }
    }
}

/// The SigV4 date (`20261124`) and timestamp (`20261124T101500Z`) of `at`.
fn sigv4_times(at: DateTime<Utc>) -> (String, String) {
    (
        at.format("%Y%m%d").to_string(),
        at.format("%Y%m%dT%H%M%SZ").to_string(),
    )
}

/// The POST policy S3 enforces: this bucket, every field exactly as given (key, content type,
/// credential, date), a size of 1 to `max_bytes`, and the expiry.
fn post_policy(
    bucket: &str,
    fields: &[(String, String)],
    max_bytes: u64,
    expiration: &str,
) -> serde_json::Value {
    let mut conditions = vec![
        serde_json::json!({ "bucket": bucket }),
        serde_json::json!(["content-length-range", 1, max_bytes]),
    ];
    conditions.extend(
        fields
            .iter()
            .map(|(name, value)| serde_json::json!({ name: value })),
    );
    serde_json::json!({ "expiration": expiration, "conditions": conditions })
}

#[async_trait::async_trait]
impl MediaStore for S3Media {
    async fn upload_form(
        &self,
        key: &str,
        content_type: &str,
        max_bytes: u64,
        expires_in: Duration,
    ) -> PortResult<UploadForm> {
        let region = self
            .region
            .clone()
            .ok_or_else(|| unavailable("form", "no region is configured"))?;
        let credentials = self
            .credentials
            .as_ref()
            .ok_or_else(|| unavailable("form", "no credentials are configured"))?
            .provide_credentials()
            .await
            .map_err(|e| unavailable("credentials", e))?;
        let now = SystemTime::now();
        let at: DateTime<Utc> = now.into();
        let (date, stamp) = sigv4_times(at);
        let expiration = (at + chrono::Duration::from_std(expires_in).unwrap_or_default())
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let credential = format!(
            "{}/{date}/{region}/s3/aws4_request",
            credentials.access_key_id()
        );
        let mut fields = vec![
            ("key".to_string(), key.to_string()),
            ("Content-Type".to_string(), content_type.to_string()),
            (
                "x-amz-algorithm".to_string(),
                "AWS4-HMAC-SHA256".to_string(),
            ),
            ("x-amz-credential".to_string(), credential),
            ("x-amz-date".to_string(), stamp),
        ];
        if let Some(token) = credentials.session_token() {
            fields.push(("x-amz-security-token".to_string(), token.to_string()));
        }
        let policy = post_policy(&self.bucket, &fields, max_bytes, &expiration);
        let policy = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
        let signing_key = aws_sigv4::sign::v4::generate_signing_key(
            credentials.secret_access_key(),
            now,
            &region,
            "s3",
        );
        let signature = aws_sigv4::sign::v4::calculate_signature(signing_key, policy.as_bytes());
        fields.push(("policy".to_string(), policy));
        fields.push(("x-amz-signature".to_string(), signature));
        Ok(UploadForm {
            url: self.form_url(&region),
            fields,
        })
    }

    async fn download_url(&self, key: &str, expires_in: Duration) -> PortResult<String> {
        let presigning =
            PresigningConfig::expires_in(expires_in).map_err(|e| unavailable("presign", e))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(|e| unavailable("presign", e))?;
        Ok(request.uri().to_string())
    }

    async fn head(&self, key: &str) -> PortResult<Option<StoredFile>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => Ok(Some(StoredFile {
                size: head.content_length.unwrap_or(0).max(0) as u64,
                content_type: head.content_type,
            })),
            Err(error) => {
                let error = error.into_service_error();
                if error.is_not_found() {
                    Ok(None)
                } else {
                    Err(unavailable("head", error))
                }
            }
        }
    }

    async fn get(&self, key: &str) -> PortResult<Vec<u8>> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|error| {
                let error = error.into_service_error();
                if error.is_no_such_key() {
                    PortError::NotFound(format!("media {key}"))
                } else {
                    unavailable("get", error)
                }
            })?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| unavailable("get", e))?;
        Ok(bytes.into_bytes().to_vec())
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> PortResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .if_none_match("*")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|error| {
                // 412: the key holds an object. 409 would be another conditional put of the same key
                // in flight, which a retry settles.
                if error.raw_response().map(|r| r.status().as_u16()) == Some(412) {
                    PortError::AlreadyExists(format!("media {key}"))
                } else {
                    unavailable("put", error.into_service_error())
                }
            })?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> PortResult<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| unavailable("delete", e.into_service_error()))?;
        Ok(())
    }

    async fn keys(&self, prefix: &str, limit: usize) -> PortResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unavailable("list", e.into_service_error()))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key.clone()));
            if keys.len() >= limit {
                break;
            }
        }
        keys.truncate(limit);
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_post_policy_pins_every_field_the_size_and_the_expiry() {
        let fields = vec![
            ("key".to_string(), "uploads/7K3M-9QZ2/a.jpg".to_string()),
            ("Content-Type".to_string(), "image/jpeg".to_string()),
        ];
        let policy = post_policy("media", &fields, 1000, "2026-11-24T10:30:00.000Z");
        assert_eq!(
            policy,
            serde_json::json!({
                "expiration": "2026-11-24T10:30:00.000Z",
                "conditions": [
                    { "bucket": "media" },
                    ["content-length-range", 1, 1000],
                    { "key": "uploads/7K3M-9QZ2/a.jpg" },
                    { "Content-Type": "image/jpeg" },
                ]
            })
        );
    }

    #[tokio::test]
    async fn a_form_is_signed_over_its_policy_with_the_credentials_of_the_day() {
        let sdk = SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(
                    "AKIDEXAMPLE",
                    "secret",
                    Some("session".into()),
                    None,
                    "test",
                ),
            ))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let media = S3Media::new(Client::new(&sdk), "cityfix-media", &sdk);
        let form = media
            .upload_form(
                "uploads/7K3M-9QZ2/a.jpg",
                "image/jpeg",
                1000,
                Duration::from_secs(900),
            )
            .await
            .unwrap();
        assert_eq!(
            form.url,
            "https://cityfix-media.s3.us-east-1.amazonaws.com/"
        );
        let field = |name: &str| {
            form.fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("no field {name}"))
        };
        let date = &field("x-amz-date")[..8];
        assert_eq!(
            field("x-amz-credential"),
            format!("AKIDEXAMPLE/{date}/us-east-1/s3/aws4_request")
        );
        assert_eq!(field("x-amz-security-token"), "session");
        let policy: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(field("policy"))
                .unwrap(),
        )
        .unwrap();
        let conditions = policy["conditions"].as_array().unwrap();
        for pinned in [
            "key",
            "Content-Type",
            "x-amz-credential",
            "x-amz-date",
            "x-amz-algorithm",
            "x-amz-security-token",
        ] {
            assert!(
                conditions
                    .iter()
                    .any(|c| c[pinned] == serde_json::json!(field(pinned))),
                "{pinned} is pinned by the policy"
            );
        }
        // The signature is HMAC-SHA256 of the base64 policy under the day's SigV4 signing key.
        let at = chrono::NaiveDate::parse_from_str(date, "%Y%m%d").unwrap();
        let day = at.and_hms_opt(12, 0, 0).unwrap().and_utc();
        let key =
            aws_sigv4::sign::v4::generate_signing_key("secret", day.into(), "us-east-1", "s3");
        assert_eq!(
            field("x-amz-signature"),
            aws_sigv4::sign::v4::calculate_signature(key, field("policy").as_bytes())
        );
        assert_eq!(form.fields.last().unwrap().0, "x-amz-signature");
    }

    #[test]
    fn sigv4_times_are_the_compact_utc_forms() {
        let at = DateTime::parse_from_rfc3339("2026-11-24T09:05:07Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            sigv4_times(at),
            ("20261124".to_string(), "20261124T090507Z".to_string())
        );
    }
}
