//! End to end over the local runner: referrals to outside agencies, neighbouring towns, road lines and duplicates.

use std::time::Duration;

use cityfix_domain::TrackingNumber;
use cityfix_local::Running;
use cityfix_tests::city::{
    await_messages, get_json, plain, report as post_report, settled, start_city, PATIENCE,
};
use serde_json::{json, Value};

/// On US-44 Albany Avenue (a state road, 15 m buffer), in Upper Albany.
const ON_US44: (f64, f64) = (41.7825, -72.6915);
const DOWNTOWN: (f64, f64) = (41.7677, -72.67602);
const WEST_HARTFORD: (f64, f64) = (41.7620, -72.7420);

async fn city(data: &std::path::Path) -> Running {
    start_city(data, true, Duration::from_secs(30)).await
}

async fn report(
    city: &Running,
    service: &str,
    (lat, long): (f64, f64),
    attributes: Value,
    email: &str,
) -> String {
    let body = json!({ "service_code": service, "lat": lat, "long": long, "attributes": attributes, "description": "Needs fixing", "email": email, "first_name": "Rosa" });
    post_report(city, &body).await
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
        &await_messages(&city, "dot.hartford-district@ctdot.example", 1)
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
    let to_resident = plain(&await_messages(&city, "rosa@example.org", 1).await.concat());
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
        await_messages(&city, "311@westhartford.example", 1)
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
    // The follower is carried over in the same status step, just after the link is written.
    let original = TrackingNumber::parse(&first).unwrap();
    let started = std::time::Instant::now();
    let followers = loop {
        let followers = city.store.followers(&original).await.unwrap();
        if !followers.is_empty() || started.elapsed() > PATIENCE {
            break followers;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(followers.len(), 1);
    assert_eq!(
        followers[0].contact.email.as_deref(),
        Some("second@example.org")
    );
    let told = plain(
        &await_messages(&city, "second@example.org", 1)
            .await
            .concat(),
    );
    assert!(told.contains(&first) && told.contains("already"), "{told}");
    assert_eq!(
        settled(&city, &far).await["status"],
        "open",
        "200 m away is another pothole"
    );
    assert_eq!(
        await_messages(&city, "first@example.org", 1).await.len(),
        1,
        "the first reporter got one acknowledgement"
    );

    // and the nearby endpoint shows residents what is already reported
    let nearby: Value = get_json(
        &city,
        &format!(
            "/api/v1/requests/nearby?lat={}&long={}&service_code=pothole&radius=50",
            DOWNTOWN.0, DOWNTOWN.1
        ),
    )
    .await;
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
