//! The scheduler's rising-concern job on seeded counter history: a planted jump gives one flag and
//! one notice per supervisor, once; noise and confidential rows give none.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use cityfix_app::notify::{notify_rising, NotifyDeps, NotifySettings};
use cityfix_app::ports::{MetricsStore, QueueConsumer};
use cityfix_app::rising::RisingNotice;
use cityfix_domain::metrics::{MetricsKey, Tally};
use cityfix_testing::{demo_city, FixedClock, World};
use scheduler::SchedulerDeps;

/// Friday 4 December 2026, noon in Hartford: the week counted is 28 November to 4 December.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 17, 0, 0).unwrap()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()
}

fn scheduler(world: &World, now: DateTime<Utc>) -> SchedulerDeps {
    SchedulerDeps {
        city: demo_city(),
        store: Arc::new(world.store.clone()),
        queue: Arc::new(world.queue.clone()),
        clock: Arc::new(FixedClock(now)),
        media: Arc::new(world.media.clone()),
        metrics: Arc::new(world.store.clone()),
    }
}

fn notifier(world: &World) -> NotifyDeps {
    NotifyDeps {
        city: demo_city(),
        store: Arc::new(world.store.clone()),
        metrics: Arc::new(world.store.clone()),
        mailer: Arc::new(world.outbox.clone()),
        sms: Arc::new(world.outbox.clone()),
        push: Arc::new(world.outbox.clone()),
        queue: Arc::new(world.queue.clone()),
        clock: Arc::new(FixedClock(now())),
        settings: NotifySettings {
            public_url: "https://hartford.example/311".into(),
            mail_from: "Hartford 311 <311@hartford.example>".into(),
            links: cityfix_app::links::LinkSigner::new(b"a test link secret"),
            send_lease: cityfix_app::notify::SEND_LEASE,
        },
    }
}

/// Counts requests made: `weekly[0]` this week, `weekly[k]` k weeks before, spread over each
/// week's days (and two channels, so a pair's count is the sum of several rows).
async fn seed(
    world: &World,
    service: &str,
    department: &str,
    area: &str,
    confidential: bool,
    weekly: &[u64],
) {
    for (week, &count) in weekly.iter().enumerate() {
        for i in 0..count {
            let day = today() - Duration::days(7 * week as i64 + (i % 7) as i64);
            let key = MetricsKey {
                day,
                service: service.into(),
                department: department.into(),
                area: area.into(),
                channel: if i % 2 == 0 { "web" } else { "email" }.into(),
                confidential,
            };
            let tally = Tally {
                opened: 1,
                ..Tally::default()
            };
            let event = format!("{service}/{area}/{week}/{i}");
            assert!(world.store.count(&event, &[(key, tally)]).await.unwrap());
        }
    }
}

/// Noise: steady services whose weeks wander about their rate (none twice its mean with a
/// count the test would take as unlikely).
async fn seed_noise(world: &World) {
    let noise: [(&str, &str, &str, [u64; 9]); 5] = [
        (
            "pothole",
            "public-works",
            "Asylum Hill",
            [6, 4, 7, 5, 3, 6, 5, 4, 8],
        ),
        (
            "pothole",
            "public-works",
            "",
            [31, 27, 33, 29, 35, 30, 26, 32, 28],
        ),
        (
            "sidewalk_damage",
            "public-works",
            "",
            [3, 1, 0, 2, 1, 0, 1, 2, 0],
        ),
        (
            "illegal_dumping",
            "solid-waste",
            "Frog Hollow",
            [2, 0, 1, 0, 0, 1, 0, 0, 0],
        ),
        (
            "streetlight_out",
            "transportation",
            "",
            [12, 9, 14, 10, 8, 11, 13, 7, 10],
        ),
    ];
    for (service, department, area, weekly) in noise {
        seed(world, service, department, area, false, &weekly).await;
    }
}

async fn take(world: &World, queue: &str) -> Vec<String> {
    let messages = world.queue.receive(queue, 100).await.unwrap();
    for message in &messages {
        world
            .queue
            .delete(queue, &message.receipt_handle)
            .await
            .unwrap();
    }
    messages.into_iter().map(|m| m.body).collect()
}

fn emails(world: &World) -> Vec<String> {
    let outbox = &world.outbox;
    let mut sent: Vec<String> = outbox
        .list()
        .unwrap()
        .iter()
        .filter(|e| e.channel == "email")
        // Quoted-printable's soft line breaks undone, so sentences read whole.
        .map(|e| {
            String::from_utf8(outbox.read(&e.file).unwrap())
                .unwrap()
                .replace("=\r\n", "")
                .replace("=\n", "")
        })
        .collect();
    sent.sort();
    sent
}

fn tick() -> serde_json::Value {
    serde_json::json!({ "resources": ["test"] })
}

#[tokio::test]
async fn a_planted_jump_is_flagged_once_and_its_supervisor_told_once() {
    // given noise, a confidential service's jump, and potholes in the North East at about four a
    // week for eight weeks, then fifteen this week
    let world = World::new();
    seed_noise(&world).await;
    seed(
        &world,
        "ethics_concern",
        "ethics",
        "",
        true,
        &[20, 1, 0, 1, 0, 0, 1, 0, 0],
    )
    .await;
    seed(
        &world,
        "pothole",
        "public-works",
        "North East",
        false,
        &[15, 4, 3, 5, 4, 4, 6, 3, 4],
    )
    .await;

    // when the scheduler ticks at the hour
    let ticked = scheduler::handle(&scheduler(&world, now()), tick())
        .await
        .unwrap();

    // then exactly the potholes are flagged, with this week's count and the usual one
    assert_eq!(ticked.rising, 1);
    let flags = world
        .store
        .flags(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap())
        .await
        .unwrap();
    assert_eq!(flags.len(), 1);
    let flag = &flags[0];
    assert_eq!(
        (flag.service.as_str(), flag.area.as_str()),
        ("pothole", "North East")
    );
    assert_eq!(flag.count, 15);
    assert!((flag.usual - 33.0 / 8.0).abs() < 1e-9);
    assert_eq!(flag.from, NaiveDate::from_ymd_opt(2026, 11, 28).unwrap());

    // and one notice is queued, which tells Public Works' supervisor once, however often it comes
    let notices = take(&world, "notify").await;
    assert_eq!(notices.len(), 1);
    let notice: RisingNotice = serde_json::from_str(&notices[0]).unwrap();
    assert_eq!(notice.departments, vec!["public-works".to_string()]);
    let first = notify_rising(&notifier(&world), &notice).await.unwrap();
    let again = notify_rising(&notifier(&world), &notice).await.unwrap();
    assert_eq!((first.sent, again.sent, again.already_sent), (1, 0, 1));
    let sent = emails(&world);
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].contains("To: dana.ortiz@hartford.example"),
        "{}",
        sent[0]
    );
    assert!(
        sent[0].contains("Rising concern: Pothole in North East"),
        "{}",
        sent[0]
    );
    assert!(
        sent[0].contains("15 in the seven days from 2026-11-28 to 2026-12-04"),
        "{}",
        sent[0]
    );
    assert!(sent[0].contains("4.1 a week"));

    // when the scheduler ticks at the next hours, and the next day
    for later in [now() + Duration::hours(1), now() + Duration::hours(20)] {
        let ticked = scheduler::handle(&scheduler(&world, later), tick())
            .await
            .unwrap();
        // then nothing new is flagged or queued
        assert_eq!(ticked.rising, 0);
    }
    assert!(take(&world, "notify").await.is_empty());
    assert_eq!(
        world
            .store
            .flags(today() - Duration::days(70))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn noise_alone_flags_nothing() {
    // given only services whose weeks wander about their rates
    let world = World::new();
    seed_noise(&world).await;

    // when the scheduler ticks at the hour
    let ticked = scheduler::handle(&scheduler(&world, now()), tick())
        .await
        .unwrap();

    // then nothing is flagged and nobody told
    assert_eq!(ticked.rising, 0);
    assert!(world
        .store
        .flags(today() - Duration::days(70))
        .await
        .unwrap()
        .is_empty());
    assert!(take(&world, "notify").await.is_empty());
}

#[tokio::test]
async fn the_test_waits_for_the_hour() {
    // given a planted jump
    let world = World::new();
    seed(
        &world,
        "pothole",
        "public-works",
        "North East",
        false,
        &[15, 4, 3, 5, 4, 4, 6, 3, 4],
    )
    .await;

    // when the scheduler ticks at ten past
    let ticked = scheduler::handle(&scheduler(&world, now() + Duration::minutes(10)), tick())
        .await
        .unwrap();

    // then it is not tested yet
    assert_eq!(ticked.rising, 0);
    assert!(take(&world, "notify").await.is_empty());
}
