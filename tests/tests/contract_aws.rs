//! The port contract suites against the AWS adapters (DynamoDB store, SQS queues, S3 media) on a local moto server.

use std::sync::Arc;

use cityfix_aws::{DynamoStore, SqsQueues};
use cityfix_tests::contract::queue::BothEnds;
use cityfix_tests::moto;

mod metrics {
    use super::*;
    use cityfix_app::ports::MetricsStore;

    cityfix_tests::metrics_contract!(async {
        let config = moto::sdk_config().await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        let table = moto::unique("metrics");
        moto::create_table(&client, &table).await;
        Arc::new(DynamoStore::new(client, table)) as Arc<dyn MetricsStore>
    });
}

mod store {
    use super::*;
    use cityfix_app::ports::RequestStore;

    cityfix_tests::store_contract!(async {
        let config = moto::sdk_config().await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        let table = moto::unique("requests");
        moto::create_table(&client, &table).await;
        Arc::new(DynamoStore::new(client, table)) as Arc<dyn RequestStore>
    });
}

mod queue {
    use super::*;

    cityfix_tests::queue_contract!(|visibility_s: u32, max_receives: u32| async move {
        let config = moto::sdk_config().await;
        let client = aws_sdk_sqs::Client::new(&config);
        let urls = moto::create_queues(
            &client,
            &moto::unique("cityfix"),
            visibility_s,
            max_receives,
        )
        .await;
        Arc::new(SqsQueues::new(client, urls)) as Arc<dyn BothEnds>
    });
}

/// The operator's tool needs only the queues' own URLs (the stack's outputs): each dead-letter
/// queue is found from its queue's redrive policy.
#[tokio::test]
async fn dead_letter_queues_are_found_from_the_redrive_policies() {
    use cityfix_app::ports::{DeadLetters, Queue, QueueConsumer, QueueName};
    let config = moto::sdk_config().await;
    let client = aws_sdk_sqs::Client::new(&config);
    let mut urls = moto::create_queues(&client, &moto::unique("policy"), 1, 1).await;
    urls.retain(|name, _| !name.ends_with("-dlq"));
    let queues = SqsQueues::new(client, urls);
    queues.send(QueueName::Notify, "poison").await.unwrap();
    assert_eq!(queues.receive("notify", 10).await.unwrap().len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    assert!(queues.receive("notify", 10).await.unwrap().is_empty());
    let listed = queues.dead_letters(&QueueName::ALL, 10).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0].queue.as_str(), listed[0].body.as_str()),
        ("notify", "poison")
    );
    assert_eq!(queues.redrive(QueueName::Notify).await.unwrap(), 1);
    assert_eq!(queues.receive("notify", 10).await.unwrap().len(), 1);
}

mod media {
    use super::*;
    use cityfix_app::ports::MediaStore;

    // moto stores whatever a form posts and serves whatever a link names: it checks neither the
    // POST policy nor a presigned signature, which S3 does. So the three refusal cases
    // (`a_form_refuses_a_file_over_its_size`, `a_form_refuses_a_changed_field`,
    // `a_changed_link_is_refused`) run against the file adapter only; the policy S3 checks is
    // unit-tested in crates/aws/src/s3.rs.
    cityfix_tests::media_contract!(@cases async {
        let bucket = moto::unique("media").to_lowercase();
        Arc::new(moto::media_bucket(&bucket).await) as Arc<dyn MediaStore>
    }; a_file_is_put_read_and_deleted, a_stored_file_is_never_replaced, a_browser_uploads_with_the_form, a_link_reads_the_file, the_keys_of_a_folder_are_listed_in_order);

    #[tokio::test]
    async fn a_file_over_its_limit_posted_past_a_form_is_refused_by_the_media_function() {
        use aws_lambda_events::event::s3::S3Event;
        // given a form for a small photo, and a browser that posts 15 MB and a byte with it
        // (S3 would refuse it by the form's policy; moto stores it)
        let bucket = moto::unique("media").to_lowercase();
        let media = Arc::new(moto::media_bucket(&bucket).await) as Arc<dyn MediaStore>;
        let key = "uploads/7K3M-9QZ2/5b0e6f4c-big.jpg";
        let form = media
            .upload_form(key, "image/jpeg", 2048, std::time::Duration::from_secs(60))
            .await
            .unwrap();
        let mut file = vec![0u8; 15 * 1024 * 1024 + 1];
        file[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
        let mut multipart = reqwest::multipart::Form::new();
        for (name, value) in &form.fields {
            multipart = multipart.text(name.clone(), value.clone());
        }
        let part = reqwest::multipart::Part::bytes(file)
            .file_name("photo")
            .mime_str("image/jpeg")
            .unwrap();
        let posted = reqwest::Client::new()
            .post(&form.url)
            .multipart(multipart.part("file", part))
            .send()
            .await
            .unwrap();
        assert!(
            posted.status().is_success(),
            "moto took it: {}",
            posted.status()
        );
        assert!(media.head(key).await.unwrap().is_some());

        // when S3 tells the media function of it
        let mut event: S3Event =
            serde_json::from_str(include_str!("../../events/media/s3-object-created.json"))
                .unwrap();
        event.records[0].s3.object.key = Some(key.into());
        let sent = Arc::new(cityfix_tests::contract::media::Kept::default());
        let deps = cityfix_app::media::MediaDeps {
            media: media.clone(),
            queue: sent.clone(),
            public_url: "http://cityfix.test".into(),
        };
        let checked = ::media::handle(&deps, event).await.unwrap();

        // then the function refuses it by its size, deletes it, keeps nothing, and has status tell
        // the reporter
        assert!(
            matches!(&checked[..], [cityfix_app::media::Checked::Refused(why)] if why.contains("15728641 bytes")),
            "{checked:?}"
        );
        assert_eq!(media.head(key).await.unwrap(), None);
        for kept in [
            "originals/7K3M-9QZ2/5b0e6f4c-big.jpg",
            "web/7K3M-9QZ2/5b0e6f4c-big.jpg",
        ] {
            assert_eq!(media.head(kept).await.unwrap(), None, "{kept}");
        }
        let sent = sent.0.lock().unwrap().clone();
        assert!(
            matches!(&sent[..], [note] if note.contains("refuse_media") && note.contains("Photo not added")),
            "{sent:?}"
        );
    }

    #[tokio::test]
    async fn the_check_refuses_a_file_over_its_kind() {
        let bucket = moto::unique("media").to_lowercase();
        let media = Arc::new(moto::media_bucket(&bucket).await) as Arc<dyn MediaStore>;
        cityfix_tests::contract::media::the_check_refuses_a_file_over_its_kind(media).await;
    }
}
