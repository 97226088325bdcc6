//! The messengers on AWS (SES v2 e-mail; SNS SMS, mobile push and topics) against a local moto server.

use cityfix_app::ports::{
    Email, Mailer, PortError, PushMessage, PushSender, SmsSender, TextMessage, TopicPublisher,
};
use cityfix_aws::{SesMailer, SnsDevices, SnsPush, SnsSms, SnsTopics};
use cityfix_tests::moto;

fn email(from: &str) -> Email {
    Email {
        to: "ana@example.org".into(),
        from: from.into(),
        subject: "We received your report 7K3M-9QZ2".into(),
        text: "Thank you.".into(),
        html: "<p>Thank you.</p>".into(),
        dedupe_key: "7K3M-9QZ2/routed/email/abc".into(),
        list_unsubscribe: Some("http://127.0.0.1/api/v1/unsubscribe?t=u1.email:abc.1.00".into()),
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

#[tokio::test]
async fn sns_pushes_to_a_device_through_its_platform_application() {
    let config = moto::sdk_config().await;
    let client = aws_sdk_sns::Client::new(&config);
    let application = client
        .create_platform_application()
        .name(moto::unique("cityfix-app"))
        .platform("GCM")
        .attributes("PlatformCredential", "server-key")
        .send()
        .await
        .unwrap()
        .platform_application_arn
        .unwrap();
    let push = SnsPush::new(client.clone(), &application);
    let message = PushMessage {
        title: "Report 7K3M-9QZ2 received".into(),
        body: "Hartford 311: we received your report".into(),
        request_id: "7K3M-9QZ2".into(),
        dedupe_key: "7K3M-9QZ2/routed/push/abc".into(),
    };
    push.push("device-token-1", &message).await.unwrap();
    push.push("device-token-1", &message).await.unwrap();
    let endpoints = client
        .list_endpoints_by_platform_application()
        .platform_application_arn(&application)
        .send()
        .await
        .unwrap()
        .endpoints
        .unwrap_or_default();
    assert_eq!(endpoints.len(), 1, "one endpoint per device token");
}

#[tokio::test]
async fn a_device_registered_with_its_platform_is_pushed_to_at_its_endpoint() {
    use cityfix_app::ports::{DeviceRegistry, Platform, PortError};
    let config = moto::sdk_config().await;
    let client = aws_sdk_sns::Client::new(&config);
    let fcm = client
        .create_platform_application()
        .name(moto::unique("cityfix-fcm"))
        .platform("GCM")
        .attributes("PlatformCredential", "server-key")
        .send()
        .await
        .unwrap()
        .platform_application_arn
        .unwrap();
    let devices = SnsDevices::new(client.clone(), None, Some(fcm.clone()));
    let endpoint = devices
        .register(Platform::Fcm, "fcm-token-0123456789abcdef0123456789")
        .await
        .unwrap();
    assert!(endpoint.starts_with("arn:"), "{endpoint}");
    assert_eq!(
        devices
            .register(Platform::Fcm, "fcm-token-0123456789abcdef0123456789")
            .await
            .unwrap(),
        endpoint,
        "the same token, the same endpoint"
    );
    assert!(matches!(
        devices.register(Platform::Apns, &"0a".repeat(32)).await,
        Err(PortError::NotFound(_))
    ));

    // the push goes to that endpoint, making no other
    let push = SnsPush::new(client.clone(), &fcm);
    let message = PushMessage {
        title: "Report 7K3M-9QZ2 received".into(),
        body: "Hartford 311: we received your report".into(),
        request_id: "7K3M-9QZ2".into(),
        dedupe_key: "7K3M-9QZ2/routed/push/def".into(),
    };
    push.push(&endpoint, &message).await.unwrap();
    let endpoints = client
        .list_endpoints_by_platform_application()
        .platform_application_arn(&fcm)
        .send()
        .await
        .unwrap()
        .endpoints
        .unwrap_or_default();
    assert_eq!(endpoints.len(), 1);
}

#[tokio::test]
async fn sns_publishes_to_a_topic_its_subscribers_receive_and_refuses_an_unknown_one() {
    let config = moto::sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let topic = sns
        .create_topic()
        .name(moto::unique("events"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let queue = sqs
        .create_queue()
        .queue_name(moto::unique("subscriber"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = moto::queue_arn(&sqs, &queue).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .unwrap();
    let topics = SnsTopics::new(sns);
    topics
        .publish(
            &topic,
            "7K3M-9QZ2 opened",
            r#"{"request_id":"7K3M-9QZ2","status":"open"}"#,
        )
        .await
        .unwrap();
    let received = sqs
        .receive_message()
        .queue_url(&queue)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(received.len(), 1);
    assert!(received[0].body().unwrap().contains("7K3M-9QZ2"));
    let unknown = format!("{topic}-gone");
    assert!(matches!(
        topics.publish(&unknown, "s", "b").await,
        Err(PortError::NotFound(_))
    ));
}
