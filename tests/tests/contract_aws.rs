//! The port contract suites against the AWS adapters (DynamoDB store, SQS queues, S3 media) on a local moto server.

use std::sync::Arc;

use cityfix_aws::{DynamoStore, SqsQueues};
use cityfix_tests::contract::queue::BothEnds;
use cityfix_tests::moto;

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
    }; a_file_is_put_read_and_deleted, a_stored_file_is_never_replaced, a_browser_uploads_with_the_form, a_link_reads_the_file);

    #[tokio::test]
    async fn the_check_refuses_a_file_over_its_kind() {
        let bucket = moto::unique("media").to_lowercase();
        let media = Arc::new(moto::media_bucket(&bucket).await) as Arc<dyn MediaStore>;
        cityfix_tests::contract::media::the_check_refuses_a_file_over_its_kind(media).await;
    }
}
