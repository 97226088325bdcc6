//! The metrics answer (`cityfix_app::metrics::answer`, what `GET /staff/v1/metrics` and the
//! metrics page show) over a year of a city of 1,000,000 requests, on the embedded store: the
//! counter rows that year's events make are seeded straight into the store, then the whole year is
//! added up and written as JSON, as a supervisor would ask for it.
//!
//!   cargo bench -p cityfix-app --bench metrics [-- --requests 1000000]
//!
//! Prints how many rows the year holds and the answer's time; the goal is at most 200 ms.

use std::collections::BTreeMap;
use std::time::{Duration as Elapsed, Instant};

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use cityfix_app::metrics::{answer, area_names, MetricsFilter, Scope};
use cityfix_app::ports::MetricsStore;
use cityfix_domain::metrics::{DurationSketch, MetricsKey, Tally};
use cityfix_embedded::{EmbeddedSetup, QueueSettings};
use criterion::Criterion;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The slowest the answer for a year may be.
const GOAL: Elapsed = Elapsed::from_millis(200);

fn requests() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--requests")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// A duration around `typical` seconds, spread over a factor of about twenty either way.
fn took(rng: &mut StdRng, typical: f64) -> i64 {
    (typical * rng.gen_range(-3.0f64..3.0).exp()).max(1.0) as i64
}

/// The counter rows a year of `requests` requests makes: every service of the demo city, the
/// areas of the services that route by one, four channels, a few referred to an outside agency,
/// each acknowledged, nine in ten closed, three in a hundred reopened.
fn a_year_of_rows(requests: usize) -> BTreeMap<MetricsKey, Tally> {
    let city = cityfix_testing::demo_city();
    let areas = area_names(&city);
    let mut rng = StdRng::seed_from_u64(17);
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 5, 0, 0).unwrap();
    let channels = [
        "web",
        "web",
        "web",
        "phone",
        "phone",
        "email",
        "SeeClickFix",
    ];
    let mut rows: BTreeMap<MetricsKey, Tally> = BTreeMap::new();
    for _ in 0..requests {
        let service = &city.services[rng.gen_range(0..city.services.len())];
        let made = start + Duration::seconds(rng.gen_range(0..365 * 86_400));
        let department = if rng.gen_bool(0.02) {
            String::new()
        } else {
            service.department.clone()
        };
        let area = if service.routing.layer.is_some() {
            areas[rng.gen_range(0..areas.len())].clone()
        } else {
            String::new()
        };
        let made_key = MetricsKey {
            day: made.with_timezone(&city.timezone).date_naive(),
            service: service.code.clone(),
            department,
            area,
            channel: channels[rng.gen_range(0..channels.len())].to_string(),
            confidential: service.confidential,
        };
        let mut on = |key: MetricsKey, add: Tally| rows.entry(key).or_default().add(&add);
        let ack = took(&mut rng, 3_600.0);
        on(
            made_key.clone(),
            Tally {
                opened: 1,
                ..Tally::default()
            },
        );
        let mut acknowledged = Tally {
            acknowledged: 1,
            ..Tally::default()
        };
        acknowledged.to_acknowledge.record(ack);
        let ack_at = made + Duration::seconds(ack);
        on(
            MetricsKey {
                day: ack_at.with_timezone(&city.timezone).date_naive(),
                ..made_key.clone()
            },
            acknowledged,
        );
        if rng.gen_bool(0.9) {
            let close = took(
                &mut rng,
                f64::from(service.target_hours.unwrap_or(72)) * 1_800.0,
            );
            let closed_at = made + Duration::seconds(close);
            on(
                MetricsKey {
                    day: closed_at.with_timezone(&city.timezone).date_naive(),
                    ..made_key.clone()
                },
                Tally {
                    closed: 1,
                    to_close: DurationSketch::of(close),
                    ..Tally::default()
                },
            );
            if rng.gen_bool(0.03) {
                let reopened_at = closed_at + Duration::days(2);
                on(
                    MetricsKey {
                        day: reopened_at.with_timezone(&city.timezone).date_naive(),
                        ..made_key
                    },
                    Tally {
                        reopened: 1,
                        ..Tally::default()
                    },
                );
            }
        }
    }
    rows
}

fn main() {
    let requests = requests();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let setup = EmbeddedSetup::open(dir.path(), "http://127.0.0.1", QueueSettings::default())
        .expect("the data folder opens");
    let store = setup.store.clone();
    let city = cityfix_testing::demo_city();

    let started = Instant::now();
    let rows = a_year_of_rows(requests);
    let count = rows.len();
    // One write per day of rows, as if each day's events were one.
    let mut by_day: BTreeMap<NaiveDate, Vec<(MetricsKey, Tally)>> = BTreeMap::new();
    for (key, tally) in rows {
        by_day.entry(key.day).or_default().push((key, tally));
    }
    runtime.block_on(async {
        for (day, rows) in &by_day {
            assert!(store
                .count(&format!("seed-{day}"), rows)
                .await
                .expect("seeded"));
        }
    });
    let first = *by_day.keys().next().unwrap();
    let last = *by_day.keys().last().unwrap();
    println!(
        "seeded {count} counter rows ({requests} requests made in a year, counted on {} days from {first} to {last}: {:.0} rows a day) in {:.1} s",
        by_day.len(),
        count as f64 / by_day.len() as f64,
        started.elapsed().as_secs_f64()
    );

    let filter = MetricsFilter {
        from: first,
        to: first + Duration::days(364),
        service: None,
        department: None,
        area: None,
        scope: Scope::AllDepartments,
    };
    let year = || async {
        let answer = answer(&city, &store, &filter).await.expect("an answer");
        serde_json::to_vec(&answer).expect("JSON").len()
    };
    let size = runtime.block_on(year());
    let read = Instant::now();
    let read_rows = runtime
        .block_on(store.tallies(filter.from, filter.to))
        .expect("rows")
        .len();
    println!(
        "the answer for {} to {}: {read_rows} rows, {size} bytes of JSON; reading the rows alone in one query took {:.1} ms",
        filter.from,
        filter.to,
        read.elapsed().as_secs_f64() * 1e3
    );

    let mut criterion = Criterion::default()
        .sample_size(10)
        .measurement_time(Elapsed::from_secs(10))
        .configure_from_args();
    criterion.bench_function("metrics answer, a year of 1,000,000 requests", |b| {
        b.iter(|| runtime.block_on(year()))
    });

    let mut times: Vec<Elapsed> = (0..10)
        .map(|_| {
            let started = Instant::now();
            runtime.block_on(year());
            started.elapsed()
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "metrics answer over a year: median {:.1} ms, slowest {:.1} ms of 10 (goal ≤ {} ms): {}",
        median.as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
        GOAL.as_millis(),
        if median <= GOAL { "met" } else { "NOT met" }
    );
    criterion.final_summary();
}
