//! The whole chain on the AWS adapters: `cityfix serve --backend aws` against moto, with resources
//! made as template.yaml declares them, and the AWS API calls one report costs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use cityfix_tests::city::{drained, report, settled};
use cityfix_tests::{moto, template};
use serde_json::json;

#[tokio::test]
async fn moto_resources_are_the_ones_template_yaml_declares() {
    let template = template::read();
    let stack = moto::create_stack(&moto::unique("match")).await;
    let config = moto::sdk_config().await;

    // the table: keys, attributes, indexes with their keys and projections, time to live
    let spec = template::table(&template);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let table = dynamodb
        .describe_table()
        .table_name(&stack.table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| template::KeySpec {
        hash: schema
            .iter()
            .find(|k| k.key_type.as_str() == "HASH")
            .unwrap()
            .attribute_name
            .clone(),
        range: schema
            .iter()
            .find(|k| k.key_type.as_str() == "RANGE")
            .map(|k| k.attribute_name.clone()),
    };
    assert_eq!(keys(table.key_schema()), spec.key);
    let attributes: BTreeMap<String, String> = table
        .attribute_definitions()
        .iter()
        .map(|a| {
            (
                a.attribute_name.clone(),
                a.attribute_type.as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(attributes, spec.attributes);
    let indexes: BTreeMap<String, (template::KeySpec, String)> = table
        .global_secondary_indexes()
        .iter()
        .map(|index| {
            (
                index.index_name.clone().unwrap(),
                (
                    keys(index.key_schema()),
                    index
                        .projection
                        .as_ref()
                        .and_then(|p| p.projection_type.as_ref())
                        .unwrap()
                        .as_str()
                        .to_string(),
                ),
            )
        })
        .collect();
    assert_eq!(indexes, spec.indexes);
    assert_eq!(
        indexes.len(),
        7,
        "department queue, location cell, requested time, updated time, scheduler's due work, \
         queue with duplicates, reopened queue"
    );
    let ttl = dynamodb
        .describe_time_to_live()
        .table_name(&stack.table)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description
            .and_then(|d| d.attribute_name)
            .as_deref(),
        spec.ttl_attribute.as_deref()
    );

    // the queues: visibility timeout, and a dead-letter queue after the template's receive count
    let sqs = aws_sdk_sqs::Client::new(&config);
    for queue in template::queues(&template) {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&stack.queues[&queue.name])
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        assert_eq!(
            attributes[&QueueAttributeName::VisibilityTimeout],
            queue.visibility_timeout_s.to_string()
        );
        let redrive: serde_json::Value =
            serde_json::from_str(&attributes[&QueueAttributeName::RedrivePolicy]).unwrap();
        assert_eq!(
            redrive["maxReceiveCount"].to_string().trim_matches('"'),
            queue.max_receive_count.to_string()
        );
        let dlq_arn = moto::queue_arn(&sqs, &stack.queues[&format!("{}-dlq", queue.name)]).await;
        assert_eq!(redrive["deadLetterTargetArn"], dlq_arn.as_str());
        assert!(
            !template["Resources"][&queue.dead_letter_queue].is_null(),
            "{} is a resource of the template",
            queue.dead_letter_queue
        );
    }
}

/// Calls by service and operation, as a table for the test's output.
fn table_of(calls: &BTreeMap<(String, String), u64>) -> String {
    calls
        .iter()
        .map(|((service, operation), n)| format!("{service:>9} {operation:<28} {n}\n"))
        .collect()
}

fn total(calls: &BTreeMap<(String, String), u64>, service: &str, operation: &str) -> u64 {
    calls
        .iter()
        .filter(|((s, o), _)| s.eq_ignore_ascii_case(service) && o == operation)
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test]
async fn a_report_goes_from_submission_to_acknowledgement_on_the_aws_adapters() {
    // given the city on DynamoDB, SQS, S3, SES and SNS (moto), with a verified sender
    let data = tempfile::tempdir().unwrap();
    let (city, calls) = moto::start_city("chain", data.path()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // when a resident reports a pothole with an e-mail address
    calls.reset();
    let started = Instant::now();
    let id = report(
        &city,
        &json!({
            "service_code": "pothole", "lat": 41.7677, "long": -72.67602,
            "attributes": { "pothole_size": "large" },
            "description": "Deep pothole by the bus stop", "email": "ana@example.org"
        }),
    )
    .await;

    // then it is acknowledged by e-mail, once (nothing else reads the request meanwhile, so the
    // calls counted are the chain's own, plus the consumers' polling)
    let deadline = Instant::now() + Duration::from_secs(10);
    while total(&calls.snapshot(), "sesv2", "SendEmail") == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let acknowledged_after = started.elapsed();
    drained(city.queue.as_ref()).await;
    let mut counted = calls.snapshot();
    // The depth look-ups are this test's own, not the chain's.
    counted.retain(|(_, operation), _| operation != "GetQueueAttributes");
    let request = settled(&city, &id).await;
    assert_eq!(request["status"], "open");
    assert_eq!(request["agency_responsible"], "Department of Public Works");
    city.stop().await;
    eprintln!(
        "AWS API calls for one report, submission to acknowledgement ({} ms on moto):\n{}",
        acknowledged_after.as_millis(),
        table_of(&counted)
    );
    assert_eq!(
        total(&counted, "sesv2", "SendEmail"),
        1,
        "one acknowledgement"
    );
    assert_eq!(
        total(&counted, "sqs", "SendMessage"),
        3,
        "routing job, routing decision, notify event"
    );
    assert_eq!(
        total(&counted, "sqs", "DeleteMessage"),
        3,
        "each handled once"
    );
    assert_eq!(
        total(&counted, "sns", "Publish"),
        0,
        "no phone number given"
    );
    let dynamodb: u64 = counted
        .iter()
        .filter(|((service, _), _)| service.eq_ignore_ascii_case("dynamodb"))
        .map(|(_, n)| n)
        .sum();
    assert!(
        (5..=30).contains(&dynamodb),
        "DynamoDB calls stay few: {dynamodb}"
    );
}
