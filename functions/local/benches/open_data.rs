//! The open-data exports at a city's size: 1,000,000 requests made over a year, seeded straight
//! into the SQLite store, then each export of the whole year read over HTTP from the local runner.
//!
//!   cargo bench -p cityfix-local --bench open_data -- [--stored 1000000]
//!
//! For CSV and GeoJSON it prints the rows and bytes received, the time to the first byte, the
//! whole time, and the process's peak resident memory during the export (Linux: the high-water
//! mark is reset before each export), beside its resident memory before it. A figure, not a goal:
//! it checks only that every row came.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use cityfix_app::ports::NewRequest;
use cityfix_domain::{
    Location, ServiceRequest, Status, TimelineEntry, TrackingNumber, ValidReport,
};
use cityfix_embedded::{EmbeddedSetup, QueueSettings};
use cityfix_local::{start, Backend, LocalOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SERVICES: [&str; 5] = [
    "pothole",
    "streetlight_out",
    "sidewalk_damage",
    "blocked_storm_drain",
    "rodents",
];

fn stored_wanted() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--stored")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse().expect("--stored takes a number"))
        .unwrap_or(1_000_000)
}

/// Requests made evenly over 2025-12-01 to 2026-11-30 (Hartford), in one transaction a batch.
async fn seed(data: &std::path::Path, count: usize) -> Duration {
    let started = Instant::now();
    let setup = EmbeddedSetup::open(data, "http://127.0.0.1", QueueSettings::default())
        .expect("the data folder opens");
    let mut rng = StdRng::seed_from_u64(17);
    let first = Utc.with_ymd_and_hms(2025, 12, 1, 6, 0, 0).unwrap();
    let year_secs = 364 * 24 * 3600;
    let mut used = std::collections::HashSet::new();
    let mut done = 0;
    while done < count {
        let chunk = (count - done).min(20_000);
        let batch: Vec<NewRequest> = (0..chunk)
            .map(|n| {
                let code = SERVICES[rng.gen_range(0..SERVICES.len())];
                let at = first
                    + chrono::Duration::seconds(((done + n) as i64 * year_secs) / count as i64);
                let report = ValidReport {
                    service_code: code.into(),
                    location: Location::new(
                        41.72 + rng.gen_range(0.0..0.09),
                        -72.72 + rng.gen_range(0.0..0.07),
                    )
                    .unwrap(),
                    address: Some(format!("{} Main St", rng.gen_range(1..2000))),
                    attributes: Default::default(),
                    description: Some(format!(
                        "seeded for the open-data benchmark, report {}",
                        done + n
                    )),
                    contact: Default::default(),
                    media_url: None,
                };
                let id = loop {
                    let id = TrackingNumber::random(&mut rng);
                    if used.insert(id.clone()) {
                        break id;
                    }
                };
                let mut request = ServiceRequest::submitted(id.clone(), &report, code, "web", at);
                request.status = Status::Open;
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
    started.elapsed()
}

/// A line of /proc/self/status in kB (`VmRSS`, `VmHWM`), or 0 where there is none.
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kb| kb.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let stored = stored_wanted();
    let data = tempfile::tempdir().expect("a temporary folder");
    let seeded = seed(data.path(), stored).await;
    println!("seeded {stored} requests in {:.1} s", seeded.as_secs_f64());
    let running = start(LocalOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        queues: QueueSettings::default(),
        workers: false,
        backend: Backend::Embedded,
        ..LocalOptions::without_limits()
    })
    .await
    .expect("the runner starts");
    let client = reqwest::Client::new();
    let mut missing = false;
    for format in ["csv", "geojson"] {
        let url = format!(
            "{}/open-data/requests.{format}?from=2025-12-01&to=2026-11-30",
            running.url
        );
        let before_kb = status_kb("VmRSS:");
        // Resets the peak resident memory to what is resident now (Linux).
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let started = Instant::now();
        let mut response = client.get(&url).send().await.expect("the export answers");
        assert!(response.status().is_success(), "{}", response.status());
        let mut first_byte = None;
        let (mut bytes, mut newlines, mut features) = (0usize, 0usize, 0usize);
        const FEATURE: &[u8] = b"{\"type\":\"Feature\"";
        // The last bytes of the chunk before, so a feature split across two chunks is counted once.
        let mut carried: Vec<u8> = Vec::new();
        while let Some(chunk) = response.chunk().await.expect("the body reads") {
            first_byte.get_or_insert_with(|| started.elapsed());
            bytes += chunk.len();
            newlines += chunk.iter().filter(|b| **b == b'\n').count();
            carried.extend_from_slice(&chunk);
            features += carried
                .windows(FEATURE.len())
                .filter(|w| *w == FEATURE)
                .count();
            let keep = carried.len().min(FEATURE.len() - 1);
            carried.drain(..carried.len() - keep);
        }
        let took = started.elapsed();
        let peak_kb = status_kb("VmHWM:");
        let rows = if format == "csv" {
            newlines - 1
        } else {
            features
        };
        missing |= rows != stored;
        println!(
            "{format:>7}: {rows} rows, {:.1} MB in {:.1} s ({:.0} rows/s), first byte after {} ms; resident {} MB before, peak {} MB during",
            bytes as f64 / 1e6,
            took.as_secs_f64(),
            rows as f64 / took.as_secs_f64(),
            first_byte.unwrap_or_default().as_millis(),
            before_kb / 1024,
            peak_kb / 1024,
        );
    }
    running.stop().await;
    if missing {
        eprintln!("rows were missing from an export");
        std::process::exit(1);
    }
}
