//! End to end over the local runner: staff merge a report into another and unmerge it, behind sign-in.

use std::time::Duration;

use cityfix_domain::TrackingNumber;
use cityfix_http::auth::{Role, StaffClaims};
use cityfix_local::Running;
use cityfix_tests::city::{read_until, report, start_city};
use serde_json::{json, Value};

fn token(city: &Running, role: Role, department: Option<&str>) -> String {
    let now = chrono::Utc::now().timestamp() as u64;
    city.keys
        .issue(
            &StaffClaims {
                sub: "local:test".into(),
                name: "Test".into(),
                role,
                department: department.map(str::to_string),
                exp: now + 3600,
            },
            now,
        )
        .unwrap()
}

/// Reports a pothole and waits until it is open.
async fn open_pothole(city: &Running, (lat, long): (f64, f64), email: &str) -> String {
    let body = json!({ "service_code": "pothole", "lat": lat, "long": long, "attributes": { "pothole_size": "small" }, "email": email });
    let id = report(city, &body).await;
    let (request, _) = read_until(city, &id, |request| request["status"] == "open").await;
    assert_eq!(request["status"], "open", "{request}");
    id
}

async fn post(city: &Running, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", city.url))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    (
        answer.status().as_u16(),
        answer.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn staff_merge_a_report_into_another_and_unmerge_it() {
    let data = tempfile::tempdir().unwrap();
    let city = start_city(data.path(), true, Duration::from_secs(30)).await;
    // two potholes 300 m apart that turn out to be the same one (a resident gave a rough point)
    let first = open_pothole(&city, (41.7677, -72.67602), "first@example.org").await;
    let second = open_pothole(
        &city,
        (41.7677 + 300.0 / 111_320.0, -72.67602),
        "second@example.org",
    )
    .await;
    let merge = format!("/staff/v1/requests/{second}/merge");
    let into = json!({ "into": first });

    let (status, _) = post(&city, &merge, None, into.clone()).await;
    assert_eq!(status, 401, "signing in is required");
    let (status, body) = post(
        &city,
        &merge,
        Some(&token(&city, Role::Agent, None)),
        into.clone(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = post(
        &city,
        &merge,
        Some(&token(&city, Role::Staff, Some("parks-recreation"))),
        into.clone(),
    )
    .await;
    assert_eq!(status, 403, "staff of another department may not");

    let public_works = token(&city, Role::Staff, Some("public-works"));
    let (status, body) = post(&city, &merge, Some(&public_works), into.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "changed");
    assert_eq!(
        (
            body["request"]["status"].as_str(),
            body["request"]["resolution"].as_str()
        ),
        (Some("closed"), Some("duplicate"))
    );
    assert_eq!(body["request"]["duplicate_of"], first.as_str());
    let first_id = TrackingNumber::parse(&first).unwrap();
    assert_eq!(city.store.followers(&first_id).await.unwrap().len(), 1);

    // its department's staff see how the first was routed and that it has a follower now
    let (status, seen) = get(&city, &format!("/staff/v1/requests/{first}"), &public_works).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["department"], "public-works");
    assert_eq!(seen["routing_reason"], "Pothole goes to its department");
    assert_eq!(seen["areas"]["districts"], "Central District");
    assert_eq!(seen["followers"], 1);
    assert_eq!(seen["timeline"][1]["event_id"], "routed");
    assert!(
        !seen.to_string().contains("first@example.org"),
        "no contact details: {seen}"
    );
    // an agent answering the reporter's call sees where it is, not why or who else follows
    let (status, heard) = get(
        &city,
        &format!("/staff/v1/requests/{first}"),
        &token(&city, Role::Agent, None),
    )
    .await;
    assert_eq!(status, 200, "{heard}");
    assert_eq!(heard["department"], "public-works");
    assert!(
        heard.get("routing_reason").is_none() && heard.get("followers").is_none(),
        "{heard}"
    );
    let anonymous = reqwest::get(format!("{}/staff/v1/requests/{first}", city.url))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let (status, body) = post(
        &city,
        &format!("/staff/v1/requests/{first}/merge"),
        Some(&public_works),
        json!({ "into": first }),
    )
    .await;
    assert_eq!(status, 409, "a request cannot duplicate itself: {body}");
    let (status, _) = post(
        &city,
        "/staff/v1/requests/ZZZZ-ZZZZ/merge",
        Some(&public_works),
        into.clone(),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = post(&city, &merge, Some(&public_works), json!({ "onto": first })).await;
    assert_eq!(status, 400);

    let (status, body) = post(
        &city,
        &format!("/staff/v1/requests/{second}/unmerge"),
        Some(&token(&city, Role::Supervisor, None)),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["request"]["status"], "open");
    assert_eq!(body["request"]["duplicate_of"], Value::Null);
    assert!(
        city.store.followers(&first_id).await.unwrap().is_empty(),
        "the unmerged reporter no longer follows the first"
    );
    let (status, _) = post(
        &city,
        &format!("/staff/v1/requests/{second}/unmerge"),
        Some(&public_works),
        json!({}),
    )
    .await;
    assert_eq!(status, 409, "it is not merged any more");
    city.stop().await;
}

async fn get(city: &Running, path: &str, token: &str) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .get(format!("{}{path}", city.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (
        answer.status().as_u16(),
        answer.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn staff_page_through_their_department_queue_oldest_first() {
    let data = tempfile::tempdir().unwrap();
    let city = start_city(data.path(), true, Duration::from_secs(30)).await;
    // three potholes far enough apart not to be duplicates, all Public Works'
    let mut made = Vec::new();
    for n in 0..3 {
        let north = 41.7677 + f64::from(n) * 400.0 / 111_320.0;
        made.push(open_pothole(&city, (north, -72.67602), &format!("q{n}@example.org")).await);
    }
    let works = token(&city, Role::Staff, Some("public-works"));
    let (status, first) = get(&city, "/staff/v1/queue?limit=2", &works).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["department"], "public-works");
    let next = first["next"].as_str().expect("a second page").to_string();
    let (status, second) = get(
        &city,
        &format!("/staff/v1/queue?limit=2&after={next}"),
        &works,
    )
    .await;
    assert_eq!(status, 200, "{second}");
    let ids: Vec<&str> = first["requests"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["requests"].as_array().unwrap())
        .map(|r| r["service_request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, made, "oldest first, each once");
    assert!(second["next"].is_null());
    assert!(!first.to_string().contains("@example.org"));

    let parks = token(&city, Role::Staff, Some("parks-recreation"));
    let (status, _) = get(&city, "/staff/v1/queue?department=public-works", &parks).await;
    assert_eq!(status, 403, "another department's queue is not theirs");
    let (status, _) = get(&city, "/staff/v1/queue?status=sleeping", &works).await;
    assert_eq!(status, 400);
    let (status, _) = get(&city, "/staff/v1/queue?after=zz", &works).await;
    assert_eq!(status, 400, "a cursor that is not one");
    let supervisor = token(&city, Role::Supervisor, None);
    let (status, _) = get(&city, "/staff/v1/queue", &supervisor).await;
    assert_eq!(status, 400, "a supervisor names the department");
    city.stop().await;
}

#[test]
fn the_staff_function_expects_the_issuer_and_audience_the_authorizer_checks() {
    let template = cityfix_tests::template::read();
    let authorizer =
        &template["Resources"]["HttpApi"]["Properties"]["Auth"]["Authorizers"]["CognitoJwt"];
    let jwt = &authorizer["JwtConfiguration"];
    let staff = &template["Resources"]["StaffFunction"]["Properties"]["Environment"]["Variables"];
    let issuer = serde_yaml::to_string(&jwt["issuer"]).unwrap();
    assert!(
        issuer.contains("!Sub")
            && issuer.contains("cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}"),
        "the authorizer takes only the user pool's tokens: {issuer}"
    );
    assert_eq!(
        serde_yaml::to_string(&jwt["audience"][0]).unwrap().trim(),
        "!Ref UserPoolClient"
    );
    assert_eq!(staff["STAFF_TOKEN_ISSUER"], jwt["issuer"]);
    assert_eq!(staff["STAFF_TOKEN_AUDIENCE"], jwt["audience"][0]);
    let client = &template["Resources"]["UserPoolClient"]["Properties"];
    assert_eq!(
        client["TokenValidityUnits"]["IdToken"].as_str(),
        Some("minutes")
    );
    let minutes = client["IdTokenValidity"].as_u64().unwrap();
    assert!(minutes * 60 <= cityfix_http::auth::MAX_TOKEN_LIFETIME_SECS);
}
