//! The port contract suites against the AWS adapters (DynamoDB store, SQS queues) on a local moto server.

use std::sync::Arc;

use cityfix_shared::aws::{DynamoStore, SqsQueues};
use cityfix_tests::contract::queue::BothEnds;
use cityfix_tests::moto;

mod store {
    use super::*;
    use cityfix_shared::ports::RequestStore;

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
