//! End to end over the local runner: referrals to outside agencies, neighbouring towns, road lines and duplicates.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cityfix_local::{start, LocalOptions, Running};
use cityfix_shared::domain::TrackingNumber;
use cityfix_shared::embedded::QueueSettings;
use cityfix_shared::ports::RequestStore;
use serde_json::{json, Value};

/// On US-44 Albany Avenue (a state road, 15 m buffer), in Upper Albany.
const ON_US44: (f64, f64) = (41.7825, -72.6915);
const DOWNTOWN: (f64, f64) = (41.7677, -72.67602);
const WEST_HARTFORD: (f64, f64) = (41.7620, -72.7420);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

async fn city(data: &Path) -> Running {
    start(LocalOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.to_path_buf(),
        config_dir: repo_root().join("config/hartford"),
        web_dir: repo_root().join("web"),
        public_url: None,
        queues: QueueSettings {
            visibility_timeout: Duration::from_secs(30),
            max_receives: 4,
        },
        workers: true,
    })
    .await
    .unwrap()
}

async fn report(
    city: &Running,
    service: &str,
    (lat, long): (f64, f64),
    attributes: Value,
    email: &str,
) -> String {
    let body = json!({ "service_code": service, "lat": lat, "long": long, "attributes": attributes, "description": "Needs fixing", "email": email, "first_name": "Rosa" });
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/requests", city.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201, "{}", answer.text().await.unwrap());
    answer.json::<Value>().await.unwrap()["service_request_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Polls until the request has left `submitted`.
async fn settled(city: &Running, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let request: Value = reqwest::get(format!("{}/api/v1/requests/{id}", city.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if request["status"] != "submitted" || started.elapsed() > Duration::from_secs(5) {
            return request;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for `count` messages to this address and returns them.
async fn messages_to(city: &Running, address: &str, count: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let found: Vec<String> = city
            .outbox
            .list()
            .unwrap()
            .iter()
            .map(|entry| String::from_utf8(city.outbox.read(&entry.file).unwrap()).unwrap())
            .filter(|text| text.contains(&format!("To: {address}")))
            .collect();
        if found.len() >= count || started.elapsed() > Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Undoes quoted-printable soft line breaks and `=C2=B7`-style escapes well enough to search text.
fn plain(email: &str) -> String {
    email
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

#[tokio::test]
async fn a_pothole_on_a_state_road_is_referred_to_the_state_and_the_resident_told_whom_to_call() {
    let data = tempfile::tempdir().unwrap();
    let city = city(data.path()).await;

    let id = report(
        &city,
        "pothole",
        ON_US44,
        json!({ "pothole_size": "large" }),
        "rosa@example.org",
    )
    .await;
    let request = settled(&city, &id).await;

    assert_eq!(request["status"], "closed", "{request}");
    assert_eq!(request["resolution"], "referred");
    assert_eq!(
        request["agency_responsible"],
        "Connecticut Department of Transportation"
    );
    assert!(
        request["status_notes"]
            .as_str()
            .unwrap()
            .contains("(860) 555-0190"),
        "{request}"
    );
    assert_eq!(request["areas"]["neighbourhoods"], "Upper Albany");
    assert_eq!(request["areas"]["districts"], "North District");

    let to_agency = plain(
        &messages_to(&city, "dot.hartford-district@ctdot.example", 1)
            .await
            .concat(),
    );
    assert!(
        to_agency.contains(&id)
            && to_agency.contains("Needs fixing")
            && to_agency.contains("openstreetmap.org/?mlat=41.782500"),
        "{to_agency}"
    );
    assert!(
        to_agency.contains("US-44"),
        "the agency is told why it is theirs"
    );
    assert!(
        !to_agency.contains("rosa@example.org") && !to_agency.contains("Rosa"),
        "no reporter details go to the agency"
    );
    let to_resident = plain(&messages_to(&city, "rosa@example.org", 1).await.concat());
    assert!(
        to_resident.contains("Connecticut Department of Transportation")
            && to_resident.contains("(860) 555-0190"),
        "{to_resident}"
    );
    city.stop().await;
}

#[tokio::test]
async fn graffiti_on_a_state_road_stays_with_the_city() {
    let data = tempfile::tempdir().unwrap();
    let city = city(data.path()).await;
    let id = report(
        &city,
        "graffiti",
        ON_US44,
        json!({ "surfaces": ["building"] }),
        "sam@example.org",
    )
    .await;
    let request = settled(&city, &id).await;
    assert_eq!(request["status"], "open");
    assert_eq!(request["agency_responsible"], "Department of Public Works");
    city.stop().await;
}

#[tokio::test]
async fn a_report_just_over_the_line_goes_to_the_neighbouring_town() {
    let data = tempfile::tempdir().unwrap();
    let city = city(data.path()).await;
    let id = report(
        &city,
        "sidewalk_damage",
        WEST_HARTFORD,
        json!({}),
        "lee@example.org",
    )
    .await;
    let request = settled(&city, &id).await;
    assert_eq!(
        (request["status"].as_str(), request["resolution"].as_str()),
        (Some("closed"), Some("referred"))
    );
    assert_eq!(request["agency_responsible"], "Town of West Hartford");
    assert_eq!(
        messages_to(&city, "311@westhartford.example", 1)
            .await
            .len(),
        1
    );
    city.stop().await;
}

#[tokio::test]
async fn a_second_report_of_the_same_problem_nearby_is_linked_not_worked_twice() {
    let data = tempfile::tempdir().unwrap();
    let city = city(data.path()).await;

    // given an open report
    let first = report(
        &city,
        "pothole",
        DOWNTOWN,
        json!({ "pothole_size": "small" }),
        "first@example.org",
    )
    .await;
    assert_eq!(settled(&city, &first).await["status"], "open");

    // when a neighbour reports the same kind of problem 20 m away, and another 200 m away
    let second = report(
        &city,
        "pothole",
        (DOWNTOWN.0 + 20.0 / 111_320.0, DOWNTOWN.1),
        json!({ "pothole_size": "small" }),
        "second@example.org",
    )
    .await;
    let far = report(
        &city,
        "pothole",
        (DOWNTOWN.0 - 200.0 / 111_320.0, DOWNTOWN.1),
        json!({ "pothole_size": "small" }),
        "far@example.org",
    )
    .await;

    // then the second is closed as a duplicate of the first, its reporter follows the first, and is told so
    let linked = settled(&city, &second).await;
    assert_eq!(
        (linked["status"].as_str(), linked["resolution"].as_str()),
        (Some("closed"), Some("duplicate")),
        "{linked}"
    );
    assert_eq!(linked["duplicate_of"], first.as_str());
    assert_eq!(
        linked["neighbourhood"], "Downtown",
        "a duplicate still shows where it is"
    );
    let followers = city
        .store
        .followers(&TrackingNumber::parse(&first).unwrap())
        .await
        .unwrap();
    assert_eq!(followers.len(), 1);
    assert_eq!(
        followers[0].contact.email.as_deref(),
        Some("second@example.org")
    );
    let told = plain(&messages_to(&city, "second@example.org", 1).await.concat());
    assert!(told.contains(&first) && told.contains("already"), "{told}");
    assert_eq!(
        settled(&city, &far).await["status"],
        "open",
        "200 m away is another pothole"
    );
    assert_eq!(
        messages_to(&city, "first@example.org", 1).await.len(),
        1,
        "the first reporter got one acknowledgement"
    );

    // and the nearby endpoint shows residents what is already reported
    let nearby: Value = reqwest::get(format!(
        "{}/api/v1/requests/nearby?lat={}&long={}&service_code=pothole&radius=50",
        city.url, DOWNTOWN.0, DOWNTOWN.1
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let ids: Vec<&str> = nearby["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [first.as_str()],
        "open reports within 50 m, duplicates left out: {nearby}"
    );
    assert!(nearby["requests"][0]["distance_m"].as_f64().unwrap() < 1.0);
    city.stop().await;
}
