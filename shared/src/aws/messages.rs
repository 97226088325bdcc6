//! E-mail through SES v2 and text messages through SNS.

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sns::types::MessageAttributeValue;

use crate::domain::phone::to_e164;
use crate::ports::{Email, Mailer, PortError, PortResult, SmsSender, TextMessage};

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
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .text(content(&email.text)?)
                    .html(content(&email.html)?)
                    .build(),
            )
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
