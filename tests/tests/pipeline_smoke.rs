//! A burst of reports through the whole local chain, dense enough to make duplicate chains: none
//! lost, none acknowledged twice, none left `submitted`. The figures come from the pipeline
//! benchmark (`cargo bench -p cityfix-local --bench pipeline`); this only checks outcomes.

use std::collections::HashMap;
use std::time::Duration;

use cityfix_domain::{Status, TrackingNumber};
use cityfix_tests::city::{drained_within, start_city};
use serde_json::json;

const REPORTS: usize = 300;
const CLIENTS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dense_burst_is_routed_and_acknowledged_once_each() {
    // given the city running, and 300 potholes and streetlights reported within 150 m of each other
    let data = tempfile::tempdir().unwrap();
    let city = start_city(data.path(), true, Duration::from_secs(30)).await;
    let client = reqwest::Client::new();
    let mut clients = Vec::new();
    for worker in 0..CLIENTS {
        let (client, url) = (client.clone(), city.url.clone());
        clients.push(tokio::spawn(async move {
            let mut posted = Vec::new();
            for n in (worker..REPORTS).step_by(CLIENTS) {
                let step = n as f64;
                let (lat, long) = (
                    41.7670 + (step * 0.37).sin() * 0.0007,
                    -72.6760 + (step * 0.53).cos() * 0.0009,
                );
                let mut body = json!({
                    "lat": lat, "long": long, "email": format!("resident{n}@example.org"),
                    "service_code": if n % 3 == 0 { "streetlight_out" } else { "pothole" },
                });
                if n % 3 != 0 {
                    body["attributes"] = json!({ "pothole_size": "small" });
                }
                let answer = client
                    .post(format!("{url}/api/v1/requests"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status(), 201);
                let answer: serde_json::Value = answer.json().await.unwrap();
                posted.push((
                    n,
                    answer["service_request_id"].as_str().unwrap().to_string(),
                ));
            }
            posted
        }));
    }
    let mut posted = Vec::new();
    for client in clients {
        posted.extend(client.await.unwrap());
    }

    // when the chain has drained
    drained_within(city.queue.as_ref(), Duration::from_secs(60)).await;

    // then no report is left submitted, and every duplicate's reporter follows the root of its
    // chain (a report linked to one that was itself linked later still hears of the fix)
    let mut duplicates = 0;
    for (_, id) in &posted {
        let id = TrackingNumber::parse(id).unwrap();
        let request = city.store.get(&id).await.unwrap().unwrap();
        assert_ne!(
            request.status,
            Status::Submitted,
            "{id} was left without an outcome"
        );
        let mut root = request.clone();
        while let Some(parent) = &root.duplicate_of {
            root = city.store.get(parent).await.unwrap().unwrap();
        }
        if root.id != id {
            duplicates += 1;
            let followers = city.store.followers(&root.id).await.unwrap();
            assert!(
                followers.iter().any(|f| f.via == id),
                "{id}'s reporter does not follow {}, the root of its chain",
                root.id
            );
        }
    }
    assert!(
        duplicates > REPORTS / 2,
        "dense enough to link most: {duplicates}"
    );

    // and every reporter heard exactly once
    let outbox = city.outbox.as_ref().unwrap();
    let mut heard: HashMap<String, usize> = HashMap::new();
    for entry in outbox.list().unwrap() {
        let text = String::from_utf8(outbox.read(&entry.file).unwrap()).unwrap();
        if let Some(to) = text.lines().find_map(|line| line.strip_prefix("To: ")) {
            *heard.entry(to.trim().to_string()).or_default() += 1;
        }
    }
    for (n, id) in &posted {
        let address = format!("resident{n}@example.org");
        assert_eq!(heard.get(&address).copied(), Some(1), "{id} ({address})");
    }
    city.stop().await;
}
