//! The pipeline under load: reports posted over the web API to the local runner, each followed to
//! its acknowledgement, with the store already holding 0, 100,000 or 1,000,000 requests.
//!
//!   cargo bench -p cityfix-local --bench pipeline -- [--stored 0,100000,1000000] [--reports 4000]
//!       [--rate 1000] [--concurrency 32] [--open 0.1]
//!
//! `--open` is the share of the seeded requests still being worked (the rest are closed). With a
//! tenth of a million open, nearly every report posted lands within its service's duplicate radius
//! of an open one and is linked as a duplicate (two request writes and a follower, where a report
//! routed afresh takes one write); a smaller share measures the store's size apart from that.
//!
//! For each store size it prints the sustained throughput (reports posted as fast as 32 clients
//! can, from the first submission to the last acknowledgement written), then offers `--rate`
//! reports a second and prints submission → acknowledgement p50, p99 and the slowest, and the
//! p50 / p99 of each stage (intake: the HTTP answer; router, status, notify: a message's time from
//! sent to handled, and in brackets the handler's time on its batch alone). It checks that nothing was lost, doubled or left `submitted`, and exits
//! non-zero when a goal is missed: at least 1,000 reports a second at every size, within 20 % of
//! the empty store's figure at the largest, and p99 at most 500 ms at the offered rate.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use cityfix_app::ports::{NewRequest, QueueConsumer, QueueName};
use cityfix_domain::expected::{Fixed, WINDOW_DAYS};
use cityfix_domain::{
    recipient_hash, City, Contact, Location, Resolution, ServiceRequest, Status, TimelineEntry,
    TrackingNumber, ValidReport,
};
use cityfix_embedded::{EmbeddedSetup, QueueSettings};
use cityfix_local::{default_dir, start, Backend, LocalOptions, Running};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

/// Services posted and seeded, with the attribute each requires.
const SERVICES: [(&str, Option<(&str, &str)>); 5] = [
    ("pothole", Some(("pothole_size", "small"))),
    ("streetlight_out", None),
    ("sidewalk_damage", None),
    ("blocked_storm_drain", None),
    ("rodents", None),
];

/// Throughput the chain must sustain at every store size, in reports a second.
const GOAL_THROUGHPUT: f64 = 1_000.0;
/// How far the largest store's throughput may fall below the empty store's.
const GOAL_DROP: f64 = 0.20;
/// Submission → acknowledgement at the offered rate, 99th percentile.
const GOAL_P99: Duration = Duration::from_millis(500);

struct Options {
    stored: Vec<usize>,
    reports: usize,
    rate: u32,
    concurrency: usize,
    open: f64,
}

fn options() -> Options {
    let mut options = Options {
        stored: vec![0, 100_000, 1_000_000],
        reports: 4_000,
        rate: 1_000,
        concurrency: 32,
        open: 0.1,
    };
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if let Some(list) = value("--stored") {
        options.stored = list
            .split(',')
            .map(|n| {
                n.trim()
                    .replace('_', "")
                    .parse()
                    .expect("--stored takes numbers")
            })
            .collect();
    }
    if let Some(share) = value("--open") {
        options.open = share
            .parse()
            .ok()
            .filter(|share: &f64| (0.0..=1.0).contains(share))
            .expect("--open takes a share from 0 to 1");
    }
    if let Some(n) = value("--reports") {
        options.reports = n.parse().expect("--reports takes a number");
    }
    if let Some(n) = value("--rate") {
        options.rate = n.parse().expect("--rate takes a number");
    }
    if let Some(n) = value("--concurrency") {
        options.concurrency = n.parse().expect("--concurrency takes a number");
    }
    options
}

/// A random point inside the city, from its bounding box.
fn point_in(city: &City, rng: &mut impl Rng) -> Location {
    loop {
        let location = Location::new(rng.gen_range(41.72..41.81), rng.gen_range(-72.72..-72.64))
            .expect("inside the box");
        if city.contains(location) {
            return location;
        }
    }
}

/// Stores `count` requests spread over the city and the past year: most closed, as a city's
/// history is, the share `open` still being worked.
async fn seed(data: &Path, city: &City, count: usize, open: f64) -> Duration {
    let started = Instant::now();
    let setup = EmbeddedSetup::open(data, "http://127.0.0.1", QueueSettings::default())
        .expect("the data folder opens");
    let mut rng = StdRng::seed_from_u64(count as u64);
    let now = Utc::now();
    let mut done = 0;
    let mut used = std::collections::HashSet::new();
    let mut fixes = Vec::new();
    while done < count {
        let chunk = (count - done).min(20_000);
        let batch: Vec<NewRequest> = (0..chunk)
            .map(|_| {
                let (code, _) = SERVICES[rng.gen_range(0..SERVICES.len())];
                let at = now - chrono::Duration::minutes(rng.gen_range(60..525_600));
                let report = ValidReport {
                    service_code: code.into(),
                    location: point_in(city, &mut rng),
                    address: None,
                    attributes: Default::default(),
                    description: Some("seeded for the pipeline benchmark".into()),
                    contact: Contact::default(),
                    media_url: None,
                };
                // 40-bit numbers meet at a million; intake draws again, and so does the seed.
                let id = loop {
                    let id = TrackingNumber::random(&mut rng);
                    if used.insert(id.clone()) {
                        break id;
                    }
                };
                let mut request = ServiceRequest::submitted(id.clone(), &report, code, "web", at);
                if !rng.gen_bool(open) {
                    request.status = Status::Closed;
                    request.resolution = Some(Resolution::Fixed);
                    let closed_at = (at + chrono::Duration::hours(rng.gen_range(1..480))).min(now);
                    request.closed_at = Some(closed_at);
                    if closed_at > now - chrono::Duration::days(WINDOW_DAYS) {
                        fixes.push((
                            code,
                            Fixed {
                                request_id: id.to_string(),
                                area: None,
                                closed_at,
                                took_secs: (closed_at - at).num_seconds(),
                            },
                        ));
                    }
                } else {
                    request.status = Status::Open;
                }
                request.department = Some("public-works".into());
                NewRequest {
                    request,
                    reporter: None,
                    token: format!("seed-{id}"),
                    first_entry: TimelineEntry::submitted(at),
                    idempotency: None,
                }
            })
            .collect();
        setup.store.import(batch).await.expect("the seed is stored");
        done += chunk;
    }
    // the history expected dates are drawn from, as closing them through status would keep it
    let db = rusqlite::Connection::open(data.join("cityfix.sqlite")).expect("the database opens");
    db.execute_batch("BEGIN").unwrap();
    for (code, fixed) in &fixes {
        db.execute(
            "INSERT INTO fixes (service_code, closed_at, request_id, doc) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![
                code,
                fixed
                    .closed_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                fixed.request_id,
                serde_json::to_string(fixed).unwrap()
            ],
        )
        .expect("a fix is stored");
    }
    db.execute_batch("COMMIT").unwrap();
    started.elapsed()
}

/// One posted report: when it was sent, how long intake took to answer, its tracking number.
struct Posted {
    id: String,
    intake: Duration,
    /// Stands for the reporter in the keys of the messages sent.
    reporter: String,
}

async fn post(client: &reqwest::Client, url: &str, body: serde_json::Value) -> Posted {
    let reporter = recipient_hash(body["email"].as_str().expect("an e-mail address"));
    let started = Instant::now();
    let answer = client
        .post(format!("{url}/api/v1/requests"))
        .json(&body)
        .send()
        .await
        .expect("intake answers");
    let intake = started.elapsed();
    assert!(
        answer.status().is_success(),
        "intake refused: {}",
        answer.status()
    );
    let answer: serde_json::Value = answer.json().await.expect("a JSON answer");
    Posted {
        id: answer["service_request_id"]
            .as_str()
            .expect("a tracking number")
            .to_string(),
        intake,
        reporter,
    }
}

fn report_body(city: &City, rng: &mut impl Rng, n: usize) -> serde_json::Value {
    let (code, attribute) = SERVICES[rng.gen_range(0..SERVICES.len())];
    let location = point_in(city, rng);
    let mut body = json!({
        "service_code": code, "lat": location.lat(), "long": location.long(),
        "description": "benchmark report", "email": format!("resident{n}@example.org"),
    });
    if let Some((name, value)) = attribute {
        body["attributes"] = json!({ name: value });
    }
    body
}

/// Posts `count` reports from `concurrency` clients as fast as intake answers.
async fn post_flat_out(
    url: &str,
    city: &Arc<City>,
    count: usize,
    concurrency: usize,
) -> Vec<Posted> {
    let client = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for worker in 0..concurrency {
        let (client, url, city, next) =
            (client.clone(), url.to_string(), city.clone(), next.clone());
        clients.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(worker as u64 + 1);
            let mut posted = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= count {
                    return posted;
                }
                posted.push(post(&client, &url, report_body(&city, &mut rng, n)).await);
            }
        }));
    }
    let mut posted = Vec::new();
    for client in clients {
        posted.extend(client.await.expect("a client finishes"));
    }
    posted
}

/// Offers `count` reports at `rate` a second, whatever intake's pace (an open loop).
async fn post_at_rate(url: &str, city: &Arc<City>, count: usize, rate: u32) -> Vec<Posted> {
    let client = reqwest::Client::new();
    let mut rng = StdRng::seed_from_u64(7);
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = Vec::with_capacity(count);
    for n in 0..count {
        ticks.tick().await;
        let (client, url, body) = (
            client.clone(),
            url.to_string(),
            report_body(city, &mut rng, n),
        );
        sent.push(tokio::spawn(async move { post(&client, &url, body).await }));
    }
    let mut posted = Vec::new();
    for report in sent {
        posted.push(report.await.expect("a report is posted"));
    }
    posted
}

/// Waits until the routing, status and notify queues are empty.
async fn drained(queue: &dyn QueueConsumer, patience: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < patience {
        let mut waiting = 0;
        for name in QueueName::ALL {
            waiting += queue.depth(name.as_str()).await.expect("the queue answers");
        }
        if waiting == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// What became of the posted reports, read from the store after the chain drained.
struct Outcome {
    /// Submission (intake's clock) → first acknowledgement claimed, per report.
    latencies: Vec<Duration>,
    first_submitted: DateTime<Utc>,
    last_acknowledged: DateTime<Utc>,
    still_submitted: usize,
    unacknowledged: usize,
    doubled: usize,
    /// The delivery keys of the first report acknowledged more than once.
    doubled_example: Vec<String>,
}

fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("a stored time")
        .with_timezone(&Utc)
}

fn outcome(data: &Path, posted: &[Posted]) -> Outcome {
    let db = rusqlite::Connection::open(data.join("cityfix.sqlite")).expect("the database opens");
    let mut requested = db
        .prepare("SELECT requested_at, status FROM requests WHERE id = ?1")
        .unwrap();
    let mut sent = db
        .prepare(
            "SELECT at, key FROM sends WHERE key >= ?1 AND key < ?2 AND state = 'sent' ORDER BY at",
        )
        .unwrap();
    let mut result = Outcome {
        latencies: Vec::new(),
        first_submitted: DateTime::<Utc>::MAX_UTC,
        last_acknowledged: DateTime::<Utc>::MIN_UTC,
        still_submitted: 0,
        unacknowledged: 0,
        doubled: 0,
        doubled_example: Vec::new(),
    };
    for report in posted {
        let (at, status): (String, String) = requested
            .query_row([&report.id], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("a posted report is stored");
        let at = parse_time(&at);
        result.first_submitted = result.first_submitted.min(at);
        if status == "submitted" {
            result.still_submitted += 1;
        }
        let claims: Vec<(String, String)> = sent
            .query_map(
                [format!("{}/", report.id), format!("{}0", report.id)],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            )
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .into_iter()
            .filter(|(_, key)| key.ends_with(&format!("/{}", report.reporter)))
            .collect();
        match claims.first() {
            None => result.unacknowledged += 1,
            Some((first, _)) => {
                let acknowledged = parse_time(first);
                result.last_acknowledged = result.last_acknowledged.max(acknowledged);
                result
                    .latencies
                    .push((acknowledged - at).to_std().unwrap_or_default());
            }
        }
        if claims.len() > 1 {
            result.doubled += 1;
            if result.doubled_example.is_empty() {
                result.doubled_example = claims.into_iter().map(|(_, key)| key).collect();
            }
        }
    }
    result.latencies.sort();
    result
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

fn stage_line(running: &Running, posted: &[Posted]) -> String {
    let mut intake: Vec<Duration> = posted.iter().map(|p| p.intake).collect();
    intake.sort();
    let mut line = format!(
        "intake {}/{}",
        ms(quantile(&intake, 0.5)),
        ms(quantile(&intake, 0.99))
    );
    for (name, queue) in [
        ("router", QueueName::Routing),
        ("status", QueueName::Status),
        ("notify", QueueName::Notify),
    ] {
        let (p50, _) = running.stages.quantile(queue, 0.5);
        let (p99, _) = running.stages.quantile(queue, 0.99);
        let (work50, _) = running.stages.work_quantile(queue, 0.5);
        let (work99, _) = running.stages.work_quantile(queue, 0.99);
        line.push_str(&format!("  {name} {p50}/{p99} (work {work50}/{work99})"));
    }
    line
}

/// Fails the run when a report was lost, doubled or left waiting.
fn check_nothing_lost(label: &str, outcome: &Outcome, failures: &mut Vec<String>) {
    if outcome.still_submitted + outcome.unacknowledged + outcome.doubled > 0 {
        failures.push(format!(
            "{label}: {} left submitted, {} not acknowledged, {} acknowledged twice (e.g. {:?})",
            outcome.still_submitted,
            outcome.unacknowledged,
            outcome.doubled,
            outcome.doubled_example
        ));
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    let city = Arc::new(
        cityfix_config::load_city(&default_dir("config/hartford")).expect("the demo city loads"),
    );
    let mut failures = Vec::new();
    let mut throughputs = Vec::new();
    println!(
        "{:>9} {:>8} {:>10} | {:>10} {:>7} {:>7} {:>8} | stage p50/p99 ms (flat out, then at rate)",
        "stored", "seed s", "reports/s", "offered/s", "p50 ms", "p99 ms", "max ms"
    );
    for &stored in &options.stored {
        let data = tempfile::tempdir().expect("a temporary folder");
        let seeded = seed(data.path(), &city, stored, options.open).await;
        let running = start(LocalOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            data_dir: data.path().to_path_buf(),
            queues: QueueSettings::default(),
            workers: true,
            backend: Backend::Embedded,
            ..LocalOptions::without_limits()
        })
        .await
        .expect("the runner starts");

        let flat_out =
            post_flat_out(&running.url, &city, options.reports, options.concurrency).await;
        let patience = Duration::from_secs(120);
        if !drained(running.queue.as_ref(), patience).await {
            failures.push(format!("{stored}: the chain did not drain in {patience:?}"));
        }
        let sustained = outcome(data.path(), &flat_out);
        check_nothing_lost(
            &format!("{stored} stored, flat out"),
            &sustained,
            &mut failures,
        );
        let span = (sustained.last_acknowledged - sustained.first_submitted)
            .to_std()
            .unwrap_or_default();
        let throughput = flat_out.len() as f64 / span.as_secs_f64().max(1e-3);
        throughputs.push((stored, throughput));
        let flat_stages = stage_line(&running, &flat_out);

        running.stages.reset();
        let at_rate = post_at_rate(&running.url, &city, options.reports, options.rate).await;
        if !drained(running.queue.as_ref(), patience).await {
            failures.push(format!(
                "{stored}: the chain did not drain at the offered rate"
            ));
        }
        let offered = outcome(data.path(), &at_rate);
        check_nothing_lost(
            &format!("{stored} stored, at rate"),
            &offered,
            &mut failures,
        );
        let p99 = quantile(&offered.latencies, 0.99);
        println!(
            "{stored:>9} {:>8.1} {throughput:>10.0} | {:>10} {:>7} {:>7} {:>8} | {flat_stages} | {}",
            seeded.as_secs_f64(),
            options.rate,
            ms(quantile(&offered.latencies, 0.5)),
            ms(p99),
            ms(offered.latencies.last().copied().unwrap_or_default()),
            stage_line(&running, &at_rate),
        );
        if throughput < GOAL_THROUGHPUT {
            failures.push(format!(
                "{stored} stored: {throughput:.0} reports/s, below {GOAL_THROUGHPUT}"
            ));
        }
        if p99 > GOAL_P99 {
            failures.push(format!(
                "{stored} stored: p99 {} ms at {}/s, above {} ms",
                ms(p99),
                options.rate,
                ms(GOAL_P99)
            ));
        }
        running.stop().await;
    }
    if let (Some(&(0, empty)), Some(&(largest, last))) = (throughputs.first(), throughputs.last()) {
        if largest > 0 && last < empty * (1.0 - GOAL_DROP) {
            failures.push(format!(
                "{largest} stored: {last:.0} reports/s is more than {:.0} % below the empty store's {empty:.0}",
                GOAL_DROP * 100.0
            ));
        }
    }
    if failures.is_empty() {
        println!("all pipeline goals met");
    } else {
        for failure in &failures {
            eprintln!("MISSED {failure}");
        }
        std::process::exit(1);
    }
}
