//! A moto server (AWS emulated on 127.0.0.1) for the AWS adapters' tests, and the resources they need.
//!
//! `./scripts/test` installs `moto[server]` into `$CARGO_TARGET_DIR/moto-venv`; the first test that
//! needs it starts one server for the whole test binary, which stops when the binary exits.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::template;

/// The names of the queues, each with its dead-letter queue.
pub const QUEUES: [&str; 5] = ["routing", "status", "notify", "media", "webhooks"];

/// The endpoint of the moto server, started on first use.
pub fn endpoint() -> String {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(start_moto).clone()
}

fn start_moto() -> String {
    if let Ok(url) = std::env::var("CITYFIX_MOTO_URL") {
        return url;
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| format!("{}/../target", env!("CARGO_MANIFEST_DIR")));
    let server = std::env::var("CITYFIX_MOTO_SERVER")
        .unwrap_or_else(|_| format!("{target}/moto-venv/bin/moto_server"));
    if !std::path::Path::new(&server).exists() {
        // One line, then out: a panic here would repeat in every AWS test with a backtrace.
        // Written past the test harness's capture, which would swallow it at exit.
        let _ = writeln!(
            std::io::stderr(),
            "cityfix tests: moto is not installed at {server}; run ./scripts/test (it installs moto), or set CITYFIX_MOTO_SERVER to a moto_server"
        );
        std::process::exit(2);
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    // A shell that stops moto when this test process is gone.
    let watcher = format!("'{server}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & moto=$!; while kill -0 {} 2>/dev/null; do sleep 0.5; done; kill $moto", std::process::id());
    let mut watcher = Command::new("sh")
        .arg("-c")
        .arg(watcher)
        .stdin(Stdio::null())
        .spawn()
        .expect("moto starts");
    std::thread::spawn(move || watcher.wait());
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return url;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("moto did not start on port {port}");
}

/// SDK configuration pointed at moto, with test credentials.
pub async fn sdk_config() -> aws_config::SdkConfig {
    cityfix_aws::sdk_defaults()
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

/// Creates the single table with the keys, attributes and indexes of template.yaml.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    let spec = template::table(&template::read());
    let key = |attribute: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attribute)
            .key_type(kind)
            .build()
            .unwrap()
    };
    let schema = |keys: &template::KeySpec| {
        let mut schema = vec![key(&keys.hash, KeyType::Hash)];
        if let Some(range) = &keys.range {
            schema.push(key(range, KeyType::Range));
        }
        schema
    };
    let mut table = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(schema(&spec.key)));
    for (attribute, kind) in &spec.attributes {
        table = table.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()
                .unwrap(),
        );
    }
    for (index, (keys, projection)) in &spec.indexes {
        table = table.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index)
                .set_key_schema(Some(schema(keys)))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(projection.as_str()))
                        .build(),
                )
                .build()
                .unwrap(),
        );
    }
    table.send().await.expect("the table is created");
    if let Some(attribute) = &spec.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("time to live is set");
    }
}

/// The ARN of the queue at `url`.
pub async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> String {
    client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("the queue's attributes")
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .expect("a queue ARN")
}

/// What template.yaml makes for the functions, made on moto under one prefix.
pub struct Stack {
    pub table: String,
    /// `routing`, `status`, `notify` and their `-dlq`s → queue URL.
    pub queues: HashMap<String, String>,
    pub bucket: String,
}

/// Creates the table, the queues with their dead-letter queues, and the media bucket as
/// template.yaml declares them.
pub async fn create_stack(prefix: &str) -> Stack {
    let config = sdk_config().await;
    let table = format!("{prefix}-table");
    create_table(&aws_sdk_dynamodb::Client::new(&config), &table).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let mut queues = HashMap::new();
    for spec in template::queues(&template::read()) {
        let made = create_queue_pair(
            &sqs,
            &format!("{prefix}-{}", spec.name),
            spec.visibility_timeout_s,
            spec.max_receive_count,
        )
        .await;
        queues.insert(spec.name.clone(), made.0);
        queues.insert(format!("{}-dlq", spec.name), made.1);
    }
    let bucket = format!("{prefix}-media").to_lowercase();
    media_bucket(&bucket).await;
    Stack {
        table,
        queues,
        bucket,
    }
}

/// A queue and its dead-letter queue; gives their URLs.
async fn create_queue_pair(
    client: &aws_sdk_sqs::Client,
    name: &str,
    visibility_timeout_s: u32,
    max_receives: u32,
) -> (String, String) {
    let dlq = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .expect("a DLQ")
        .queue_url
        .unwrap();
    let dlq_arn = queue_arn(client, &dlq).await;
    let queue = client
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout_s.to_string(),
        )
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receives}"}}"#),
        )
        .send()
        .await
        .expect("a queue")
        .queue_url
        .unwrap();
    (queue, dlq)
}

/// Creates the queues (each with a DLQ after `max_receives`) under a prefix; gives name → URL,
/// dead-letter queues as `<name>-dlq`.
pub async fn create_queues(
    client: &aws_sdk_sqs::Client,
    prefix: &str,
    visibility_timeout_s: u32,
    max_receives: u32,
) -> HashMap<String, String> {
    let mut urls = HashMap::new();
    for name in QUEUES {
        let (queue, dlq) = create_queue_pair(
            client,
            &format!("{prefix}-{name}"),
            visibility_timeout_s,
            max_receives,
        )
        .await;
        urls.insert(name.to_string(), queue);
        urls.insert(format!("{name}-dlq"), dlq);
    }
    urls
}

/// Creates a bucket and gives the media store on it, with a client that puts the bucket in the
/// path as S3-compatible endpoints need.
pub async fn media_bucket(bucket: &str) -> cityfix_aws::S3Media {
    let config = sdk_config().await;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    client
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("the bucket is created");
    cityfix_aws::S3Media::new(client, bucket, &config)
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid_like())
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// The local runner on the AWS adapters against moto, with a fresh stack made as template.yaml
/// declares it and a verified sender, keeping local files in `data`; and the counter of the AWS API calls it makes.
pub async fn start_city(
    prefix: &str,
    data: &std::path::Path,
) -> (cityfix_local::Running, cityfix_aws::setup::ApiCalls) {
    let calls = cityfix_aws::setup::ApiCalls::default();
    let (city, _, _) = start_city_counting(prefix, data, calls.clone()).await;
    (city, calls)
}

/// As [`start_city`], counting with `calls`; also gives the setup the city runs on (to run a
/// function the local runner does not, as the media check S3 starts) and its stack.
pub async fn start_city_counting(
    prefix: &str,
    data: &std::path::Path,
    calls: cityfix_aws::setup::ApiCalls,
) -> (cityfix_local::Running, cityfix_aws::AwsSetup, Stack) {
    let stack = create_stack(&unique(prefix)).await;
    let config = sdk_config().await;
    let sender = "311@hartford.example";
    let _ = aws_sdk_sesv2::Client::new(&config)
        .create_email_identity()
        .email_identity(sender)
        .send()
        .await;
    let root = crate::city::repo_root();
    let hartford = cityfix_config::load_city(&root.join("config/hartford")).unwrap();
    let setup =
        cityfix_aws::AwsSetup::new(std::sync::Arc::new(hartford), "http://127.0.0.1", config)
            .set("TABLE_NAME", &stack.table)
            .set("ROUTING_QUEUE_URL", &stack.queues["routing"])
            .set("STATUS_QUEUE_URL", &stack.queues["status"])
            .set("NOTIFY_QUEUE_URL", &stack.queues["notify"])
            .set("MEDIA_QUEUE_URL", &stack.queues["media"])
            .set("WEBHOOKS_QUEUE_URL", &stack.queues["webhooks"])
            .set("MEDIA_BUCKET", &stack.bucket)
            .set("FROM_ADDRESS", sender)
            .set("LINK_SECRET", "a link secret of the moto tests, 32+ chars")
            .count_calls(calls);
    let city = cityfix_local::start(cityfix_local::LocalOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.to_path_buf(),
        config_dir: root.join("config/hartford"),
        web_dir: root.join("web"),
        public_url: None,
        queues: cityfix_embedded::QueueSettings::default(),
        workers: true,
        backend: cityfix_local::Backend::Aws(Box::new(setup.clone())),
        ..cityfix_local::LocalOptions::without_limits()
    })
    .await
    .expect("the city starts on the AWS adapters");
    (city, setup, stack)
}
