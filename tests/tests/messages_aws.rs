//! The messengers on AWS (SES v2 e-mail, SNS SMS) against a local moto server.

use cityfix_shared::aws::{SesMailer, SnsSms};
use cityfix_shared::ports::{Email, Mailer, PortError, SmsSender, TextMessage};
use cityfix_tests::moto;

fn email(from: &str) -> Email {
    Email {
        to: "ana@example.org".into(),
        from: from.into(),
        subject: "We received your report 7K3M-9QZ2".into(),
        text: "Thank you.".into(),
        html: "<p>Thank you.</p>".into(),
        dedupe_key: "7K3M-9QZ2/routed/email/abc".into(),
    }
}

#[tokio::test]
async fn ses_sends_from_a_verified_address_and_refuses_another() {
    let config = moto::sdk_config().await;
    let client = aws_sdk_sesv2::Client::new(&config);
    let sender = format!("{}@city.example", moto::unique("311"));
    client
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .unwrap();
    let mailer = SesMailer::new(client, None);

    mailer.send_email(&email(&sender)).await.unwrap();
    let refused = mailer.send_email(&email("nobody@elsewhere.example")).await;
    assert!(
        matches!(refused, Err(PortError::Unavailable(ref why)) if why.contains("7K3M-9QZ2/routed/email/abc")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn sns_texts_a_number_written_any_way_and_refuses_a_short_one() {
    let config = moto::sdk_config().await;
    let sms = SnsSms::new(aws_sdk_sns::Client::new(&config), 1);
    let text = |to: &str| TextMessage {
        to: to.into(),
        body: "Hartford 311: we received your report 7K3M-9QZ2".into(),
        dedupe_key: "k".into(),
    };
    sms.send_sms(&text("(860) 555-0199")).await.unwrap();
    assert!(sms.send_sms(&text("555-0199")).await.is_err());
}
