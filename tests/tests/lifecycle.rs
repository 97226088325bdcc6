//! End to end over the local runner, a whole life: a resident reports a pothole; staff assign it,
//! start work, upload a photo of the fix and close it with the photo; the reporter's message
//! carries the photo; the reporter says "not fixed" and it reopens ahead in the queue; neighbours
//! say "me too" once each; the reporter comments; Open311 lists the public updates. The same life,
//! but for the photo (S3 does not notify a local process), runs on the AWS adapters against moto.

use std::time::Duration;

use cityfix_http::auth::{Role, StaffClaims};
use cityfix_local::Running;
use cityfix_tests::city::{await_messages, drained, get_json, plain, read_until, start_city};
use cityfix_tests::moto;
use serde_json::{json, Value};

fn token(city: &Running, sub: &str, role: Role, department: Option<&str>) -> String {
    let now = chrono::Utc::now().timestamp() as u64;
    city.keys
        .issue(
            &StaffClaims {
                sub: sub.into(),
                name: "Test".into(),
                role,
                department: department.map(str::to_string),
                exp: now + 3600,
            },
            now,
        )
        .unwrap()
}

fn crew_token(city: &Running) -> String {
    token(city, "local:sam.reyes", Role::Staff, Some("public-works"))
}

async fn get_staff(city: &Running, path: &str, token: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", city.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
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

/// A small JPEG, as a phone would send (with where it was taken).
fn photo() -> Vec<u8> {
    cityfix_app::samples::photo_with_location(64, 48, 1)
}

/// Posts `file` with an upload form given by the API, as a browser would.
async fn upload(form: &Value, file: Vec<u8>) -> u16 {
    let mut multipart = reqwest::multipart::Form::new();
    for (name, value) in form["upload"]["fields"].as_object().unwrap() {
        multipart = multipart.text(name.clone(), value.as_str().unwrap().to_string());
    }
    let part = reqwest::multipart::Part::bytes(file)
        .file_name("fix.jpg")
        .mime_str("image/jpeg")
        .unwrap();
    multipart = multipart.part("file", part);
    reqwest::Client::new()
        .post(form["upload"]["url"].as_str().unwrap())
        .multipart(multipart)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_report_is_worked_closed_with_a_photo_and_reopened_by_its_reporter() {
    let data = tempfile::tempdir().unwrap();
    let city = start_city(data.path(), true, Duration::from_secs(30)).await;
    let crew = crew_token(&city);

    // a resident reports a pothole and it is routed, with the date the city expects to fix it
    let (status, created) = post(
        &city,
        "/api/v1/requests",
        None,
        json!({ "service_code": "pothole", "lat": 41.7677, "long": -72.67602,
                "attributes": { "pothole_size": "large" }, "email": "ana@example.org" }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["service_request_id"].as_str().unwrap().to_string();
    let token = created["token"].as_str().unwrap().to_string();
    let (request, _) = read_until(&city, &id, |r| r["status"] == "open").await;
    assert!(request["expected_datetime"].is_string(), "{request}");
    let work = |action: &str| format!("/staff/v1/requests/{id}/{action}");

    // staff assign it to a crew member and start work
    let (status, answer) = post(
        &city,
        &work("assignment"),
        Some(&crew),
        json!({ "assignee": "local:lee.chen" }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post(
        &city,
        &work("transitions"),
        Some(&crew),
        json!({ "to": "in_progress", "expected_version": answer["request"]["version"] }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");

    // the crew uploads a photo of the fix and, once it is checked, closes the request with it
    let file = photo();
    let (status, form) = post(
        &city,
        &work("media"),
        Some(&crew),
        json!({ "content_type": "image/jpeg", "size": file.len() }),
    )
    .await;
    assert_eq!(status, 201, "{form}");
    let media_id = form["media_id"].as_str().unwrap().to_string();
    let uploaded = upload(&form, file).await;
    assert!((200..300).contains(&uploaded), "upload answered {uploaded}");
    read_until(&city, &id, |r| !r["media_url"].is_null()).await;
    let (status, answer) = post(
        &city,
        &work("transitions"),
        Some(&crew),
        json!({ "to": "closed", "resolution": "fixed", "note": "Filled and rolled", "media": [media_id] }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");

    // the reporter's message says it is fixed and carries the photo
    let messages = await_messages(&city, "ana@example.org", 2).await;
    let fixed: Vec<String> = messages
        .iter()
        .map(|m| plain(m))
        .filter(|m| m.contains("Subject: Fixed:"))
        .collect();
    assert_eq!(fixed.len(), 1, "{messages:?}");
    assert!(
        fixed[0].contains(&format!("/api/v1/media/{id}/{media_id}.jpg")),
        "{}",
        fixed[0]
    );
    assert!(fixed[0].contains("Filled and rolled"));
    let request = get_json(&city, &format!("/api/v1/requests/{id}")).await;
    let shown = request["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["note"] == "Filled and rolled")
        .unwrap_or_else(|| panic!("no closing entry in {request}"));
    assert_eq!(
        shown["media"],
        json!([format!("/api/v1/media/{id}/{media_id}.jpg")]),
        "the public timeline shows the photo of the fix"
    );

    // the reporter says it is not fixed: it reopens, ahead in the department's queue
    let reopen = format!("/api/v1/requests/{id}/reopen");
    let (status, answer) = post(
        &city,
        &reopen,
        None,
        json!({ "token": "wrong", "comment": "Still a hole" }),
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    let (status, answer) = post(
        &city,
        &reopen,
        None,
        json!({ "token": token, "comment": "Still a hole by the kerb" }),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let (request, _) = read_until(&city, &id, |r| r["status"] == "open").await;
    assert_eq!(request["priority"], "high", "{request}");
    let timeline = request["timeline"].to_string();
    assert!(timeline.contains("Still a hole by the kerb"), "{timeline}");
    let (status, answer) = post(
        &city,
        &reopen,
        None,
        json!({ "token": token, "comment": "Again" }),
    )
    .await;
    assert_eq!(status, 409, "an open request is not reopened: {answer}");

    // two neighbours say "me too", one of them twice; the reporter comments
    for who in ["ben@example.org", "cy@example.org", "BEN@example.org"] {
        let (status, answer) = post(
            &city,
            &format!("/api/v1/requests/{id}/supporters"),
            None,
            json!({ "email": who }),
        )
        .await;
        assert_eq!(status, 202, "{answer}");
    }
    let (status, _) = post(
        &city,
        &format!("/api/v1/requests/{id}/comments"),
        None,
        json!({ "token": token, "text": "It is deeper after the rain" }),
    )
    .await;
    assert_eq!(status, 202);
    drained(city.queue.as_ref()).await;
    let request = get_json(&city, &format!("/api/v1/requests/{id}")).await;
    assert_eq!(request["supporters"], 2, "{request}");
    let public = request.to_string();
    assert!(public.contains("It is deeper after the rain"));
    for hidden in [
        "lee.chen",
        "sam.reyes",
        "ana@example.org",
        "ben@example.org",
    ] {
        assert!(!public.contains(hidden), "{hidden} in public: {public}");
    }

    // Open311 lists the public updates, the fix with its photo
    let updates = get_json(
        &city,
        &format!("/open311/v2/servicerequestupdates.json?service_request_id={id}"),
    )
    .await;
    let fix = updates
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["description"] == "Filled and rolled")
        .unwrap_or_else(|| panic!("no fix in {updates}"));
    assert_eq!(fix["status"], "closed");
    assert!(fix["media_url"].as_str().unwrap().contains(&media_id));
}

#[tokio::test]
async fn the_same_life_runs_on_the_aws_adapters() {
    // given the city on DynamoDB, SQS, S3, SES and SNS (moto), with a verified sender
    let data = tempfile::tempdir().unwrap();
    let (city, calls) = moto::start_city("life", data.path()).await;
    let crew = crew_token(&city);

    // a report, routed with its expected date
    let (status, created) = post(
        &city,
        "/api/v1/requests",
        None,
        json!({ "service_code": "pothole", "lat": 41.7677, "long": -72.67602,
                "attributes": { "pothole_size": "large" }, "email": "ana@example.org" }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["service_request_id"].as_str().unwrap().to_string();
    let token_of_report = created["token"].as_str().unwrap().to_string();
    let (request, _) = read_until(&city, &id, |r| r["status"] == "open").await;
    assert!(request["expected_datetime"].is_string(), "{request}");
    let work = |action: &str| format!("/staff/v1/requests/{id}/{action}");

    // worked and closed by the crew
    for (action, body) in [
        ("assignment", json!({ "assignee": "local:lee.chen" })),
        ("transitions", json!({ "to": "in_progress" })),
        (
            "notes",
            json!({ "text": "Gate code 4411", "public": false }),
        ),
        (
            "transitions",
            json!({ "to": "closed", "resolution": "fixed", "note": "Filled and rolled" }),
        ),
    ] {
        let (status, answer) = post(&city, &work(action), Some(&crew), body).await;
        assert_eq!(status, 200, "{action}: {answer}");
    }

    // reopened by its reporter, supported by two neighbours (one twice)
    let (status, answer) = post(
        &city,
        &format!("/api/v1/requests/{id}/reopen"),
        None,
        json!({ "token": token_of_report, "comment": "Still a hole by the kerb" }),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    read_until(&city, &id, |r| r["status"] == "open").await;
    for who in ["ben@example.org", "cy@example.org", "ben@example.org"] {
        let (status, answer) = post(
            &city,
            &format!("/api/v1/requests/{id}/supporters"),
            None,
            json!({ "email": who }),
        )
        .await;
        assert_eq!(status, 202, "{answer}");
    }
    drained(city.queue.as_ref()).await;
    let request = get_json(&city, &format!("/api/v1/requests/{id}")).await;
    assert_eq!(request["supporters"], 2, "{request}");
    assert_eq!(request["priority"], "high", "{request}");
    assert!(!request.to_string().contains("4411"), "{request}");

    // the audit log has each staff action; Open311 lists the public updates
    let admin = token(&city, "local:admin", Role::Admin, None);
    let log = get_staff(&city, &format!("/staff/v1/audit?request={id}"), &admin).await;
    let actions: Vec<&str> = log["records"]
        .as_array()
        .unwrap_or_else(|| panic!("{log}"))
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "assignment",
            "transition",
            "note",
            "transition",
            "reopen",
            "support",
            "support"
        ],
        "{log}"
    );
    let updates = get_json(
        &city,
        &format!("/open311/v2/servicerequestupdates.json?service_request_id={id}"),
    )
    .await;
    assert!(
        updates
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["description"] == "Filled and rolled" && u["status"] == "closed"),
        "{updates}"
    );
    let sent: u64 = calls
        .snapshot()
        .iter()
        .filter(|((service, operation), _)| {
            service.eq_ignore_ascii_case("sesv2") && operation == "SendEmail"
        })
        .map(|(_, n)| n)
        .sum();
    city.stop().await;
    assert_eq!(
        sent, 4,
        "acknowledged, work started, fixed, reopened: one e-mail each"
    );
}
