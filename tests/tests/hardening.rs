//! End to end over the local runner: the outbox answers only this machine, every response carries
//! the security headers, CORS answers the city's own origin only, and clients are rate limited.

use std::time::Duration;

use cityfix_embedded::QueueSettings;
use cityfix_http::auth::{Role, StaffClaims};
use cityfix_local::{start, Backend, LocalOptions, OutboxAccess, Running};
use cityfix_tests::city::{repo_root, start_city};
use serde_json::json;

fn options(data: &std::path::Path) -> LocalOptions {
    LocalOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.to_path_buf(),
        config_dir: repo_root().join("config/hartford"),
        web_dir: repo_root().join("web"),
        public_url: None,
        queues: QueueSettings::default(),
        workers: false,
        backend: Backend::Embedded,
        ..LocalOptions::demo()
    }
}

fn token(city: &Running, role: Role) -> String {
    let now = chrono::Utc::now().timestamp() as u64;
    let claims = StaffClaims {
        sub: "local:test".into(),
        name: "Test".into(),
        role,
        department: Some("public-works".into()),
        exp: now + 600,
    };
    city.keys.issue(&claims, now).unwrap()
}

fn pothole() -> serde_json::Value {
    json!({ "service_code": "pothole", "lat": 41.7677, "long": -72.67602, "attributes": { "pothole_size": "small" } })
}

#[tokio::test]
async fn the_outbox_answers_this_machine_by_its_own_name_only() {
    let data = tempfile::tempdir().unwrap();
    let city = start_city(data.path(), false, Duration::from_secs(30)).await;
    let client = reqwest::Client::new();
    let own = client
        .get(format!("{}/outbox", city.url))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    // A page elsewhere whose DNS name now points at 127.0.0.1 sends its own name as Host.
    let rebound = client
        .get(format!("{}/outbox", city.url))
        .header("Host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    let rebound_file = client
        .get(format!("{}/outbox/anything.eml", city.url))
        .header("Host", "evil.example:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound_file.status(), 403);
    city.stop().await;
}

#[tokio::test]
async fn the_runner_will_not_show_the_outbox_on_another_address_unless_told_to() {
    let data = tempfile::tempdir().unwrap();
    let refused = start(LocalOptions {
        addr: "0.0.0.0:0".parse().unwrap(),
        ..options(data.path())
    })
    .await;
    let error = refused
        .err()
        .expect("refused before it listens")
        .to_string();
    assert!(error.contains("--outbox staff"), "{error}");

    // Told to, it asks for a supervisor's token (tested on loopback: tests bind nothing else).
    let city = start(LocalOptions {
        outbox: OutboxAccess::Staff,
        ..options(data.path())
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/outbox", city.url);
    assert_eq!(client.get(&url).send().await.unwrap().status(), 403);
    let staff = token(&city, Role::Staff);
    assert_eq!(
        client
            .get(&url)
            .bearer_auth(staff)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let supervisor = token(&city, Role::Supervisor);
    assert_eq!(
        client
            .get(&url)
            .bearer_auth(supervisor)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    city.stop().await;
}

#[tokio::test]
async fn pages_and_the_api_carry_the_security_headers() {
    let data = tempfile::tempdir().unwrap();
    let city = start_city(data.path(), false, Duration::from_secs(30)).await;
    for path in [
        "/",
        "/js/main.js",
        "/api/v1/city",
        "/api/v1/services",
        "/open311/v2/services.xml",
        "/api/v1/nope",
        "/outbox",
        "/staff/v1/queue",
    ] {
        let answer = reqwest::get(format!("{}{path}", city.url)).await.unwrap();
        let header = |name: &str| {
            answer
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_else(|| panic!("{path} has no {name}"))
        };
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(
            header("referrer-policy"),
            "strict-origin-when-cross-origin",
            "{path}"
        );
        let csp = header("content-security-policy");
        assert!(
            !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
    }
    city.stop().await;
}

#[tokio::test]
async fn a_preflight_from_the_citys_own_site_is_answered_and_others_are_not() {
    let data = tempfile::tempdir().unwrap();
    let city = start(LocalOptions {
        site_origins: vec!["https://hartford.example".into()],
        ..options(data.path())
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let preflight = |origin: &str| {
        client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/v1/requests", city.url),
            )
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "content-type,idempotency-key",
            )
            .send()
    };
    for origin in ["https://hartford.example", city.url.as_str()] {
        let answer = preflight(origin).await.unwrap();
        assert!(
            answer.status().is_success(),
            "{origin}: {}",
            answer.status()
        );
        let headers = answer.headers();
        assert_eq!(headers["access-control-allow-origin"], origin);
        let allowed = headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_lowercase();
        assert!(allowed.contains("idempotency-key"), "{allowed}");
        assert!(headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST"));
    }
    let foreign = preflight("https://evil.example").await.unwrap();
    assert!(foreign
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    city.stop().await;
}

#[tokio::test]
async fn a_flood_of_anonymous_reports_and_failed_sign_ins_meets_429() {
    let data = tempfile::tempdir().unwrap();
    let city = start(options(data.path())).await.unwrap();
    let client = reqwest::Client::new();
    let mut created = 0;
    let mut limited = None;
    for _ in 0..60 {
        let answer = client
            .post(format!("{}/api/v1/requests", city.url))
            .json(&pothole())
            .send()
            .await
            .unwrap();
        match answer.status().as_u16() {
            201 => created += 1,
            429 => limited = Some(answer),
            other => panic!("{other}"),
        }
    }
    // The demo city's burst is 20 (city.toml [rate_limits]); a few more may refill meanwhile.
    assert!((20..=22).contains(&created), "{created} stored");
    let limited = limited.expect("the flood met 429");
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: serde_json::Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");

    // Bad staff tokens: the burst of ten (and the one that finds it spent) are answered 401,
    // then the address waits.
    let mut statuses = Vec::new();
    for _ in 0..15 {
        let answer = client
            .get(format!("{}/staff/v1/queue", city.url))
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap();
        statuses.push(answer.status().as_u16());
    }
    let answered = statuses.iter().filter(|s| **s == 401).count();
    assert!((10..=11).contains(&answered), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // Shut out, the address gets 429 on a read too, until it waits.
    let read = client
        .get(format!("{}/open311/v2/services.json", city.url))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 429);
    assert!(read.headers().contains_key("retry-after"));
    city.stop().await;
}
