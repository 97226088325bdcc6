//! The `cityfix` binary as an operator runs it: serve, kill it mid-way, start again; check a broken city folder.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{demo_config, Server};

#[tokio::test]
async fn a_report_survives_the_runner_being_killed() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), None);
    let form = "api_key=demo-open311-key&service_code=streetlight_out&lat=41.7677&long=-72.67602&email=eve%40example.org";
    let posted: Value = reqwest::Client::new()
        .post(format!("{}/open311/v2/requests.json", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = posted[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    server.kill();

    let server = Server::start(data.path(), None);
    let started = Instant::now();
    let status = loop {
        let request: Value = reqwest::get(format!("{}/api/v1/requests/{id}", server.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if request["status"] == "open" || started.elapsed() > Duration::from_secs(40) {
            break request["status"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, "open");
    let emails = || {
        rusqlite::Connection::open(data.path().join("outbox/messages.sqlite"))
            .and_then(|outbox| {
                outbox.query_row(
                    "SELECT COUNT(*) FROM messages WHERE channel = 'email'",
                    [],
                    |row| row.get::<_, i64>(0),
                )
            })
            .unwrap_or(0)
    };
    while emails() == 0 && started.elapsed() < Duration::from_secs(40) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        emails(),
        1,
        "exactly one acknowledgement, however the kill fell"
    );
}

#[test]
fn a_broken_city_folder_is_refused_with_the_file_entry_and_field() {
    let broken = tempfile::tempdir().unwrap();
    cityfix_testing::copy_demo_city(broken.path());
    let services = std::fs::read_to_string(broken.path().join("services.toml")).unwrap();
    std::fs::write(
        broken.path().join("services.toml"),
        services.replacen(
            "department = \"transportation\"",
            "department = \"traffic\"",
            1,
        ),
    )
    .unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_cityfix"))
        .args(["check-config", "--config"])
        .arg(broken.path())
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();

    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("services.toml: service `streetlight_out`, field `department`: `traffic` is not a department"), "{message}");
    assert_eq!(
        message.trim_end().lines().count(),
        1,
        "one clear line, no backtrace: {message}"
    );

    let good = Command::new(env!("CARGO_BIN_EXE_cityfix"))
        .args(["check-config", "--config"])
        .arg(demo_config())
        .output()
        .unwrap();
    assert!(good.status.success());
    assert!(String::from_utf8_lossy(&good.stdout).contains("17 neighbourhoods"));
}

#[tokio::test]
async fn dlq_lists_the_dead_letters_and_redrive_puts_them_back_to_be_handled() {
    use cityfix_app::ports::QueueConsumer;
    let data = tempfile::tempdir().unwrap();
    let cityfix = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_cityfix"))
            .args(args)
            .arg("--data")
            .arg(data.path())
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    // a folder that is not the runner's is refused, not given an empty queue file
    let (ok, _, err) = cityfix(&["dlq", "list"]);
    assert!(!ok);
    assert!(err.contains("queues.sqlite does not exist"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one clear line: {err}");

    // given an acknowledgement the notify queue gave up on
    let queue = cityfix_embedded::EmbeddedQueue::new(
        cityfix_embedded::sqlite::Db::open_queues(&data.path().join("queues.sqlite")).unwrap(),
        cityfix_embedded::QueueSettings::default(),
    );
    let body = r#"{"event_id":"V1Z2-1SVY/routed","request_id":"V1Z2-1SVY","kind":"acknowledged"}"#;
    queue.send_to("notify-dlq", body).await.unwrap();

    let (ok, out, _) = cityfix(&["dlq", "list"]);
    assert!(ok);
    let row: Vec<&str> = out.trim_end().split('\t').collect();
    assert_eq!(row[0], "notify", "{out}");
    assert_eq!(row[3], body);

    let (ok, _, err) = cityfix(&["dlq", "redrive", "--queue", "notifications"]);
    assert!(!ok);
    assert!(err.contains("`notifications` is not a queue"), "{err}");

    let (ok, out, _) = cityfix(&["dlq", "redrive", "--queue", "notify"]);
    assert!(ok);
    assert_eq!(out.trim(), "notify: 1 moved back from notify-dlq");
    let received = queue.receive("notify", 10).await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, body);
    assert_eq!(
        received[0].receive_count, 1,
        "its receives are counted afresh"
    );
    let (_, out, _) = cityfix(&["dlq", "list"]);
    assert!(out.starts_with("no dead letters"), "{out}");
}

#[test]
fn check_config_notes_each_layer_it_reprojected() {
    let city = tempfile::tempdir().unwrap();
    cityfix_testing::copy_demo_city(city.path());
    let formats = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/layers/formats");
    for extension in ["shp", "shx", "dbf", "prj", "cpg"] {
        let name = format!("roads-ct-feet.{extension}");
        std::fs::copy(formats.join(&name), city.path().join("lines").join(&name)).unwrap();
    }
    let routing = city.path().join("routing.toml");
    let text = std::fs::read_to_string(&routing).unwrap();
    std::fs::write(
        &routing,
        text.replace("lines/state-roads.geojson", "lines/roads-ct-feet.shp"),
    )
    .unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_cityfix"))
        .args(["check-config", "--config"])
        .arg(city.path())
        .output()
        .unwrap();

    assert!(output.status.success());
    let notes = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = notes.lines().filter(|l| l.starts_with("note: ")).collect();
    assert_eq!(lines.len(), 1, "{notes}");
    assert!(
        lines[0].contains("roads-ct-feet.shp: read as ESRI Shapefile in `NAD_1983_StatePlane_Connecticut_FIPS_0600_Feet`, reprojected to WGS 84"),
        "{notes}"
    );
}

#[test]
fn check_routing_names_the_neighbourhood_of_every_test_point() {
    let config = demo_config();
    let output = Command::new(env!("CARGO_BIN_EXE_cityfix"))
        .arg("check-routing")
        .arg("--areas")
        .arg(config.join("areas/neighborhoods.geojson"))
        .arg("--lines")
        .arg(config.join("lines/state-roads.geojson"))
        .arg("--points")
        .arg(config.join("test-points.csv"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected: Vec<String> = std::fs::read_to_string(config.join("test-points.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|row| {
            let fields: Vec<&str> = row.split(',').collect();
            format!("{},{},", fields[0], fields[3])
        })
        .collect();
    let printed = String::from_utf8(output.stdout).unwrap();
    let mut rows = printed.lines();
    assert_eq!(rows.next(), Some("id,area,line"));
    assert_eq!(rows.map(str::to_string).collect::<Vec<_>>(), expected);
    let summary = String::from_utf8_lossy(&output.stderr);
    assert!(
        summary.contains(&format!(
            "{} points: 0 in no area, 0 in overlapping areas, 0 on a line",
            expected.len()
        )),
        "{summary}"
    );
}

#[test]
fn check_layer_tells_by_its_exit_status_whether_a_layer_is_usable() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/layers");
    let status = |file: &Path, extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_cityfix"))
            .arg("check-layer")
            .arg(file)
            .args(extra)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
        )
    };
    let (code, _) = status(&demo_config().join("areas/districts.geojson"), &[]);
    assert_eq!(code, Some(0), "usable as it is");
    let (code, printed) = status(&fixtures.join("faulty-wards.geojson"), &["--partition"]);
    assert_eq!(code, Some(3), "usable after repair");
    assert!(
        printed.starts_with("feature `Bow Tie` (index 0): a ring crosses itself"),
        "{printed}"
    );
    let city = demo_config();
    let (code, printed) = status(
        &fixtures.join("swapped-wards.geojson"),
        &["--city", city.to_str().unwrap()],
    );
    assert_eq!(code, Some(4), "unusable");
    assert!(
        printed.contains("longitude and latitude are swapped"),
        "{printed}"
    );
}

#[test]
fn a_staff_token_lives_at_most_twelve_hours() {
    let data = tempfile::tempdir().unwrap();
    let token = |hours: &str| {
        Command::new(env!("CARGO_BIN_EXE_cityfix"))
            .args([
                "token", "--role", "staff", "--name", "Ana Ruiz", "--hours", hours,
            ])
            .args(["--department", "public-works", "--data"])
            .arg(data.path())
            .output()
            .unwrap()
    };
    for refused in ["13", "876000", "0"] {
        let output = token(refused);
        assert!(!output.status.success(), "--hours {refused}");
        let message = String::from_utf8_lossy(&output.stderr);
        assert!(message.contains("1 to 12 hours"), "{message}");
    }
    let output = token("12");
    assert!(output.status.success());
    let keys = cityfix_local::staff_token_keys(data.path()).unwrap();
    let mut headers = axum::http::HeaderMap::new();
    let bearer = format!(
        "Bearer {}",
        String::from_utf8(output.stdout).unwrap().trim()
    );
    headers.insert("authorization", bearer.parse().unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = keys.verify(&headers, now).unwrap();
    assert_eq!(claims.department.as_deref(), Some("public-works"));
    assert!(claims.exp <= now + 12 * 3600);
}

#[test]
fn webhook_secret_prints_the_secret_deliveries_are_signed_with() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("link.secret"), "ab".repeat(32)).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_cityfix"))
        .args(["webhook-secret", "assets", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = cityfix_app::webhooks::webhook_secret(
        &cityfix_app::links::LinkSigner::new("ab".repeat(32).as_bytes()),
        "assets",
    );
    assert_eq!(String::from_utf8(output.stdout).unwrap().trim(), expected);

    // a folder the runner never used makes no secret: one clear line
    let empty = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_cityfix"))
        .args(["webhook-secret", "assets", "--data"])
        .arg(empty.path())
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("link.secret does not exist"), "{message}");
    assert_eq!(message.trim_end().lines().count(), 1, "{message}");
    assert!(!empty.path().join("link.secret").exists());
}

#[test]
fn intake_email_files_a_saved_message_into_the_local_city_or_answers_it() {
    let data = tempfile::tempdir().unwrap();
    let mail = tempfile::tempdir().unwrap();
    let run = |name: &str, message: &str| {
        let file = mail.path().join(name);
        std::fs::write(&file, message).unwrap();
        Command::new(env!("CARGO_BIN_EXE_cityfix"))
            .arg("intake-email")
            .arg(&file)
            .arg("--config")
            .arg(demo_config())
            .arg("--data")
            .arg(data.path())
            .output()
            .unwrap()
    };
    let filed = run(
        "pothole.eml",
        "From: Ana Quintero <ana.quintero@example.org>\r\nTo: 311@hartford.example\r\nSubject: Pothole\r\nMessage-ID: <1@mail.example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nA deep pothole in front of 550 Main St.\r\n",
    );
    assert!(
        filed.status.success(),
        "{}",
        String::from_utf8_lossy(&filed.stderr)
    );
    let said = String::from_utf8_lossy(&filed.stdout);
    assert!(said.starts_with("filed "), "{said}");

    let answered = run(
        "nowhere.eml",
        "From: Ana Quintero <ana.quintero@example.org>\r\nTo: 311@hartford.example\r\nSubject: Pothole\r\nMessage-ID: <2@mail.example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nA deep pothole somewhere on my way to work.\r\n",
    );
    assert!(answered.status.success());
    let said = String::from_utf8_lossy(&answered.stdout);
    assert!(said.contains("answered with mail_needs_place"), "{said}");
    let missing = Command::new(env!("CARGO_BIN_EXE_cityfix"))
        .args(["intake-email", "no-such.eml"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let message = String::from_utf8_lossy(&missing.stderr);
    assert!(message.contains("cannot read no-such.eml"), "{message}");
    assert_eq!(message.trim_end().lines().count(), 1, "{message}");
}
