//! The personal-data scan: reporters, followers and askers with distinctive names, e-mails and phone
//! numbers go through the whole local city; no public response (Open311 JSON and XML, the web API,
//! the resident page) and no line of the runner's log may then hold any of them.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::Server;

/// What each seeded person gave, and the forms of it a leak could take (a phone without its
/// punctuation, an e-mail's local part, a name in another case is matched case-insensitively).
struct Person {
    first: &'static str,
    last: &'static str,
    email: &'static str,
    phone: &'static str,
}

const PEOPLE: [Person; 4] = [
    Person {
        first: "Zebedee",
        last: "Quillfeather",
        email: "zebedee.quillfeather@example.org",
        phone: "+1 860 555 0147",
    },
    Person {
        first: "Ottoline",
        last: "Wrenfield",
        email: "o.wrenfield+311@example.net",
        phone: "(860) 555-0193",
    },
    Person {
        first: "Bartholomew",
        last: "Xylander",
        email: "bxylander@example.com",
        phone: "860.555.0168",
    },
    Person {
        first: "Perpetua",
        last: "Ombrecourt",
        email: "perpetua.ombrecourt@example.org",
        phone: "8605550112",
    },
];

/// The strings whose presence in a public answer is a leak.
fn needles() -> Vec<String> {
    let mut needles = Vec::new();
    for person in &PEOPLE {
        needles.push(person.first.to_lowercase());
        needles.push(person.last.to_lowercase());
        needles.push(person.email.to_lowercase());
        needles.push(person.email.split('@').next().unwrap().to_lowercase());
        // The last seven digits, in the forms a page could print them.
        let digits: String = person.phone.chars().filter(char::is_ascii_digit).collect();
        let line = &digits[digits.len() - 7..];
        needles.push(line.to_string());
        needles.push(format!("{}-{}", &line[..3], &line[3..]));
    }
    needles
}

/// Every needle `text` holds, decoded once from URL and JSON escapes too.
fn leaks(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let decoded = lower
        .replace("%40", "@")
        .replace("%2b", "+")
        .replace("\\u0040", "@")
        .replace("&#64;", "@");
    needles()
        .into_iter()
        .filter(|needle| lower.contains(needle.as_str()) || decoded.contains(needle.as_str()))
        .collect()
}

async fn post_json(client: &reqwest::Client, url: String, body: Value) -> Value {
    let response = client.post(&url).json(&body).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Reports, follows and questions from every person, through every way in the public side has.
async fn seed(server: &Server, client: &reqwest::Client) -> Vec<(String, Option<String>)> {
    let mut made = Vec::new();
    for (index, person) in PEOPLE.iter().enumerate() {
        let offset = index as f64 * 0.0004;
        // The web API, with every contact field.
        let created = post_json(
            client,
            format!("{}/api/v1/requests", server.url),
            json!({
                "service_code": "streetlight_out",
                "lat": 41.7677 + offset,
                "long": -72.67602 - offset,
                "description": "The light at the corner has been out for a week",
                "email": person.email,
                "phone": person.phone,
                "first_name": person.first,
                "last_name": person.last,
            }),
        )
        .await;
        let id = created["id"]
            .as_str()
            .or(created["service_request_id"].as_str())
            .expect("a tracking number")
            .to_string();
        made.push((id.clone(), None));
        // Someone else follows it, and says "me too".
        let other = &PEOPLE[(index + 1) % PEOPLE.len()];
        post_json(
            client,
            format!("{}/api/v1/requests/{id}/followers", server.url),
            json!({ "email": other.email }),
        )
        .await;
        post_json(
            client,
            format!("{}/api/v1/requests/{id}/supporters", server.url),
            json!({ "phone": other.phone }),
        )
        .await;
        // An Open311 client posts one with the reporter's name, e-mail and phone.
        let form = format!(
            "api_key=demo-open311-key&service_code=pothole&lat={}&long={}&attribute[pothole_size]=small&first_name={}&last_name={}&email={}&phone={}&description=Deep+hole+by+the+curb",
            41.7600 + offset,
            -72.6800 - offset,
            person.first,
            person.last,
            person.email.replace('@', "%40").replace('+', "%2B"),
            person.phone.replace(' ', "+").replace('(', "%28").replace(')', "%29"),
        );
        let response = client
            .post(format!("{}/open311/v2/requests.json", server.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
        let posted: Value = response.json().await.unwrap();
        let id = posted[0]["service_request_id"]
            .as_str()
            .unwrap()
            .to_string();
        let token = posted[0]["token"].as_str().map(str::to_string);
        made.push((id, token));
        // A question no answer covers, with an e-mail for the answer.
        post_json(
            client,
            format!("{}/api/v1/questions", server.url),
            json!({ "question": "Who do I ask about a parade permit?", "email": person.email }),
        )
        .await;
    }
    made
}

/// Waits until every request has been worked on past `submitted` (routed and acknowledged).
async fn settle(server: &Server, client: &reqwest::Client, ids: &[(String, Option<String>)]) {
    let started = Instant::now();
    for (id, _) in ids {
        loop {
            let request: Value = client
                .get(format!("{}/api/v1/requests/{id}", server.url))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if request["status"] != "submitted" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{id} still submitted"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Every public GET the city answers, with the seeded requests' ids filled in.
fn public_paths(ids: &[(String, Option<String>)]) -> Vec<String> {
    let list = ids
        .iter()
        .map(|(id, _)| id.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let mut paths = vec!["/".to_string(), "/index.html".to_string()];
    for format in ["json", "xml"] {
        paths.push(format!("/open311/v2/discovery.{format}"));
        paths.push(format!("/open311/v2/services.{format}"));
        paths.push(format!("/open311/v2/services/pothole.{format}"));
        for query in [
            "",
            "?extensions=true",
            "?status=open,closed&extensions=true",
            "?lat=41.7677&long=-72.67602&radius=2000&extensions=true",
        ] {
            paths.push(format!("/open311/v2/requests.{format}{query}"));
        }
        paths.push(format!(
            "/open311/v2/requests.{format}?service_request_id={list}&extensions=true"
        ));
        paths.push(format!("/open311/v2/servicerequestupdates.{format}"));
        for (id, token) in ids {
            paths.push(format!("/open311/v2/requests/{id}.{format}"));
            paths.push(format!(
                "/open311/v2/requests/{id}.{format}?extensions=true"
            ));
            if let Some(token) = token {
                paths.push(format!("/open311/v2/tokens/{token}.{format}"));
            }
        }
    }
    for (method, path) in intake::API_ROUTES {
        if *method != "get" {
            continue;
        }
        match *path {
            "/api/v1/requests/{id}" => {
                paths.extend(ids.iter().map(|(id, _)| format!("/api/v1/requests/{id}")));
            }
            "/api/v1/requests/nearby" => {
                paths.push("/api/v1/requests/nearby?lat=41.7677&long=-72.67602".into());
                paths.push(
                    "/api/v1/requests/nearby?lat=41.7677&long=-72.67602&service_code=pothole"
                        .into(),
                );
            }
            "/api/v1/city/messages/{language}" => {
                paths.push("/api/v1/city/messages/es".into());
            }
            "/api/v1/addresses" => paths.push("/api/v1/addresses?q=main".into()),
            "/api/v1/answers" => paths.push("/api/v1/answers?q=parade+permit".into()),
            "/api/v1/services/suggest" => {
                paths.push("/api/v1/services/suggest?q=light+out".into());
            }
            // Tokened pages answer their holder (the resident) only, and media has none here.
            path if path.contains('{') || path.ends_with("unsubscribe") => {}
            "/api/v1/follow" | "/api/v1/survey" => {}
            path => paths.push(path.to_string()),
        }
    }
    // The open-data exports of the days around now (the city's day may not be UTC's).
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (today.pred_opt().unwrap(), today.succ_opt().unwrap());
    paths.push("/open-data/".into());
    for format in ["csv", "geojson"] {
        paths.push(format!("/open-data/requests.{format}?from={from}&to={to}"));
    }
    paths
}

/// Whether the SQLite file at `path` (or its write-ahead log, where recent writes are) holds `needle`.
fn file_holds(path: &Path, needle: &str) -> bool {
    let wal = path.with_extension("sqlite-wal");
    [path, wal.as_path()].iter().any(|file| {
        std::fs::read(file)
            .map(|bytes| String::from_utf8_lossy(&bytes).contains(needle))
            .unwrap_or(false)
    })
}

#[tokio::test]
async fn no_public_answer_and_no_log_line_holds_a_reporters_personal_data() {
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("serve.log");
    let server = Server::start(data.path(), Some(&log));
    let client = reqwest::Client::new();

    let ids = seed(&server, &client).await;
    settle(&server, &client, &ids).await;

    // The seeding reached storage and the city wrote to these people (so a leak would be there to
    // find): the acknowledgements in the outbox carry the reporters' addresses.
    let outbox = data.path().join("outbox/messages.sqlite");
    let started = Instant::now();
    while !file_holds(&outbox, PEOPLE[0].email) && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        file_holds(&outbox, PEOPLE[0].email),
        "no message was written to a seeded reporter: the scan would prove nothing"
    );

    let mut found = Vec::new();
    let paths = public_paths(&ids);
    for path in &paths {
        let response = client
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(!status.is_server_error(), "{path}: {status} {body}");
        if path.starts_with("/open-data/requests") {
            // an export that held no rows would prove nothing
            assert!(status.is_success(), "{path}: {status} {body}");
            assert!(
                body.lines().count() > 1 || body.contains("\"Feature\""),
                "{path} holds no request: {body}"
            );
        }
        for needle in leaks(&body) {
            found.push(format!("{path} ({status}) holds `{needle}`"));
        }
    }
    drop(server);
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.lines().count() > 10,
        "the runner logged almost nothing, so the log scan proves nothing:\n{log_text}"
    );
    for (number, line) in log_text.lines().enumerate() {
        for needle in leaks(line) {
            found.push(format!("log line {} holds `{needle}`: {line}", number + 1));
        }
    }
    assert!(
        found.is_empty(),
        "personal data in public output ({} paths scanned):\n{}",
        paths.len(),
        found.join("\n")
    );
}

#[test]
fn the_scan_finds_a_leak_in_any_form_it_takes() {
    assert!(leaks("{\"name\":\"Ombrecourt\"}").contains(&"ombrecourt".to_string()));
    assert!(!leaks("perpetua.ombrecourt%40example.org").is_empty());
    assert!(leaks("call 860-555-0193").contains(&"555-0193".to_string()));
    assert!(leaks("[{\"service_request_id\":\"311-2026-000123\",\"status\":\"open\"}]").is_empty());
}
