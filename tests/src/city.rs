//! The local runner for end-to-end tests, and ways to talk to it as residents and staff would.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cityfix_app::ports::{QueueConsumer, QueueName};
use cityfix_embedded::QueueSettings;
use cityfix_local::{start, Backend, LocalOptions, Running};
use serde_json::Value;

/// How long a test waits for the chain before it gives up: a bound on a hang, not a speed goal
/// (the chain on moto, with the unoptimised SDK of test builds and the other tests running beside
/// it on two cores, takes about 5 s for a whole life; speed is the pipeline benchmark's).
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The demo city on a free port with its data in `data`; `workers: false` stops reports after intake.
pub async fn start_city(data: &Path, workers: bool, visibility_timeout: Duration) -> Running {
    start_city_from(
        &repo_root().join("config/hartford"),
        data,
        workers,
        visibility_timeout,
    )
    .await
}

/// [`start_city`] with the city folder at `config` (a copy of the demo city a test changed).
pub async fn start_city_from(
    config: &Path,
    data: &Path,
    workers: bool,
    visibility_timeout: Duration,
) -> Running {
    start(LocalOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.to_path_buf(),
        config_dir: config.to_path_buf(),
        web_dir: repo_root().join("web"),
        public_url: None,
        queues: QueueSettings {
            visibility_timeout,
            max_receives: 4,
        },
        workers,
        backend: Backend::Embedded,
        ..LocalOptions::without_limits()
    })
    .await
    .expect("the local city starts")
}

/// Posts a report to the web API, expects 201, and gives its tracking number.
pub async fn report(city: &Running, body: &Value) -> String {
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/requests", city.url))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    answer.json::<Value>().await.unwrap()["service_request_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A GET of the web API, as JSON.
pub async fn get_json(city: &Running, path: &str) -> Value {
    reqwest::get(format!("{}{path}", city.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn read(city: &Running, id: &str) -> Value {
    get_json(city, &format!("/api/v1/requests/{id}")).await
}

/// Polls the request until `done` says so (or patience runs out), giving it and how long that took.
pub async fn read_until(
    city: &Running,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> (Value, Duration) {
    let started = Instant::now();
    loop {
        let request = read(city, id).await;
        if done(&request) || started.elapsed() > PATIENCE {
            return (request, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The request once it has left `submitted`.
pub async fn settled(city: &Running, id: &str) -> Value {
    read_until(city, id, |request| request["status"] != "submitted")
        .await
        .0
}

/// The outbox messages to this address.
pub fn messages_to(city: &Running, address: &str) -> Vec<String> {
    let outbox = city
        .outbox
        .as_ref()
        .expect("the embedded backend has an outbox");
    outbox
        .list()
        .unwrap()
        .iter()
        .map(|entry| String::from_utf8(outbox.read(&entry.file).unwrap()).unwrap())
        .filter(|text| text.contains(&format!("To: {address}")))
        .collect()
}

/// Waits until the routing, status and notify queues hold no message, visible or in flight. A
/// worker deletes its message only after its work (and the message it sends on) is done, so an
/// empty chain means every worker is idle and nothing more will be sent.
pub async fn drained(queue: &dyn QueueConsumer) {
    drained_within(queue, PATIENCE).await
}

/// As [`drained`], for a burst that needs longer than [`PATIENCE`].
pub async fn drained_within(queue: &dyn QueueConsumer, patience: Duration) {
    let started = Instant::now();
    loop {
        let mut waiting = 0;
        for name in QueueName::ALL {
            waiting += queue.depth(name.as_str()).await.expect("the queue answers");
        }
        if waiting == 0 {
            return;
        }
        assert!(
            started.elapsed() < patience,
            "the chain did not drain: {waiting} messages left"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for `count` messages to this address, then until the chain is drained, so a late extra
/// message is seen before they are counted.
pub async fn await_messages(city: &Running, address: &str, count: usize) -> Vec<String> {
    let started = Instant::now();
    while messages_to(city, address).len() < count && started.elapsed() < PATIENCE {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drained(city.queue.as_ref()).await;
    messages_to(city, address)
}

/// An e-mail's text with quoted-printable soft line breaks undone, to search it.
pub fn plain(email: &str) -> String {
    email
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}
