//! E-mail through SES v2; text messages, mobile push and topic publishing through SNS.

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageHeader};
use aws_sdk_sns::types::MessageAttributeValue;

use cityfix_app::ports::{
    DeviceRegistry, Email, Mailer, Platform, PortError, PortResult, PushMessage, PushSender,
    SmsSender, TextMessage, TopicPublisher,
};
use cityfix_domain::phone::to_e164;

/// Sends e-mail with SES v2, in a configuration set (bounces, complaints, delivery events).
#[derive(Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, configuration_set: Option<String>) -> Self {
        SesMailer {
            client,
            configuration_set,
        }
    }
}

fn content(text: &str) -> PortResult<Content> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| PortError::Unavailable(format!("ses content: {e}")))
}

#[async_trait::async_trait]
impl Mailer for SesMailer {
    async fn send_email(&self, email: &Email) -> PortResult<()> {
        let header = |name: &str, value: String| {
            MessageHeader::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|e| PortError::Unavailable(format!("ses header: {e}")))
        };
        let headers = match &email.list_unsubscribe {
            Some(link) => vec![
                header("List-Unsubscribe", format!("<{link}>"))?,
                header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into())?,
            ],
            None => Vec::new(),
        };
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .text(content(&email.text)?)
                    .html(content(&email.html)?)
                    .build(),
            )
            .set_headers(Some(headers).filter(|h| !h.is_empty()))
            .build();
        self.client
            .send_email()
            .from_email_address(&email.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| {
                PortError::Unavailable(format!(
                    "ses send of {}: {}",
                    email.dedupe_key,
                    e.into_service_error()
                ))
            })?;
        Ok(())
    }
}

/// Sends text messages with SNS, as transactional SMS.
#[derive(Clone)]
pub struct SnsSms {
    client: aws_sdk_sns::Client,
    /// The country calling code of numbers written without one (1 for the United States).
    default_country_code: u16,
}

impl SnsSms {
    pub fn new(client: aws_sdk_sns::Client, default_country_code: u16) -> Self {
        SnsSms {
            client,
            default_country_code,
        }
    }
}

#[async_trait::async_trait]
impl SmsSender for SnsSms {
    async fn send_sms(&self, message: &TextMessage) -> PortResult<()> {
        let number = to_e164(&message.to, self.default_country_code).ok_or_else(|| {
            PortError::Unavailable(format!(
                "sms {}: the number cannot be written in E.164",
                message.dedupe_key
            ))
        })?;
        let transactional = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()
            .map_err(|e| PortError::Unavailable(format!("sns attribute: {e}")))?;
        self.client
            .publish()
            .phone_number(number)
            .message(&message.body)
            .message_attributes("AWS.SNS.SMS.SMSType", transactional)
            .send()
            .await
            .map_err(|e| {
                PortError::Unavailable(format!(
                    "sns publish of {}: {}",
                    message.dedupe_key,
                    e.into_service_error()
                ))
            })?;
        Ok(())
    }
}

/// Devices registered with the city's SNS platform applications, one per platform it pushes to:
/// each token gets its platform endpoint (SNS gives the same endpoint for the same token).
#[derive(Clone)]
pub struct SnsDevices {
    client: aws_sdk_sns::Client,
    apns_application_arn: Option<String>,
    fcm_application_arn: Option<String>,
}

impl SnsDevices {
    pub fn new(
        client: aws_sdk_sns::Client,
        apns_application_arn: Option<String>,
        fcm_application_arn: Option<String>,
    ) -> Self {
        SnsDevices {
            client,
            apns_application_arn,
            fcm_application_arn,
        }
    }
}

#[async_trait::async_trait]
impl DeviceRegistry for SnsDevices {
    async fn register(&self, platform: Platform, token: &str) -> PortResult<String> {
        let application = match platform {
            Platform::Apns => &self.apns_application_arn,
            Platform::Fcm => &self.fcm_application_arn,
        };
        let application = application
            .as_deref()
            .ok_or_else(|| PortError::NotFound(format!("no {} application", platform.as_str())))?;
        self.client
            .create_platform_endpoint()
            .platform_application_arn(application)
            .token(token)
            .send()
            .await
            .map_err(|e| {
                PortError::Unavailable(format!(
                    "sns endpoint for a {} device: {}",
                    platform.as_str(),
                    e.into_service_error()
                ))
            })?
            .endpoint_arn
            .ok_or_else(|| PortError::Unavailable("sns gave no endpoint ARN".into()))
    }
}

/// Mobile push through an SNS platform application (APNs or FCM): an endpoint per device token,
/// made on first use (SNS gives the same endpoint for the same token), then a publish to it.
#[derive(Clone)]
pub struct SnsPush {
    client: aws_sdk_sns::Client,
    platform_application_arn: String,
}

impl SnsPush {
    pub fn new(client: aws_sdk_sns::Client, platform_application_arn: impl Into<String>) -> Self {
        SnsPush {
            client,
            platform_application_arn: platform_application_arn.into(),
        }
    }
}

#[async_trait::async_trait]
impl PushSender for SnsPush {
    async fn push(&self, device_token: &str, message: &PushMessage) -> PortResult<()> {
        let failed = |what: &str, error: &dyn std::fmt::Display| {
            PortError::Unavailable(format!("sns {what} for {}: {error}", message.dedupe_key))
        };
        // A registered device comes with its endpoint; a bare token gets one on first use.
        let endpoint = if device_token.starts_with("arn:") {
            device_token.to_string()
        } else {
            self.client
                .create_platform_endpoint()
                .platform_application_arn(&self.platform_application_arn)
                .token(device_token)
                .send()
                .await
                .map_err(|e| failed("endpoint", &e.into_service_error()))?
                .endpoint_arn
                .ok_or_else(|| failed("endpoint", &"no endpoint ARN"))?
        };
        let data = serde_json::json!({ "request_id": message.request_id });
        let apns = serde_json::json!({ "aps": { "alert": { "title": message.title, "body": message.body } }, "request_id": message.request_id });
        let fcm = serde_json::json!({ "notification": { "title": message.title, "body": message.body }, "data": data });
        let payload = serde_json::json!({
            "default": message.body,
            "APNS": apns.to_string(),
            "APNS_SANDBOX": apns.to_string(),
            "GCM": fcm.to_string(),
        });
        match self
            .client
            .publish()
            .target_arn(&endpoint)
            .message_structure("json")
            .message(payload.to_string())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => {
                let error = error.into_service_error();
                if error.is_endpoint_disabled_exception() {
                    tracing::warn!(dedupe_key = %message.dedupe_key, "the device's push endpoint is disabled; not sent");
                    Ok(())
                } else {
                    Err(failed("publish", &error))
                }
            }
        }
    }
}

/// Publishes to SNS topics by ARN.
#[derive(Clone)]
pub struct SnsTopics {
    client: aws_sdk_sns::Client,
}

impl SnsTopics {
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        SnsTopics { client }
    }
}

#[async_trait::async_trait]
impl TopicPublisher for SnsTopics {
    async fn publish(&self, topic: &str, subject: &str, body: &str) -> PortResult<()> {
        self.client
            .publish()
            .topic_arn(topic)
            .subject(subject)
            .message(body)
            .send()
            .await
            .map_err(|e| {
                let error = e.into_service_error();
                if error.is_not_found_exception() {
                    PortError::NotFound(format!("sns topic {topic}"))
                } else {
                    PortError::Unavailable(format!("sns publish to {topic}: {error}"))
                }
            })?;
        Ok(())
    }
}
