//! The metrics' counters kept from the status events notify takes: equal to a count made by hand
//! over the seeded requests, and unchanged by redelivered events.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};

use cityfix_app::messages::{NotifyEvent, StatusCommand};
use cityfix_app::metrics::{summarise, MetricsFilter, Scope};
use cityfix_app::notify::notify;
use cityfix_app::ports::{Clock, MetricsStore, QueueConsumer, RequestStore};
use cityfix_app::route::decide;
use cityfix_app::transition::{apply, Applied, StatusDeps};
use cityfix_app::work::{Actor, WorkAction, WorkCommand};
use cityfix_domain::metrics::{metrics_key, MetricsKey, Tally};
use cityfix_domain::{Resolution, Status, TrackingNumber};
use cityfix_testing::{demo_city, notify_deps, seed_request_at, World};

/// A clock the test sets.
struct Hands(Mutex<DateTime<Utc>>);

impl Clock for Hands {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// What the test did to one request, and when.
struct Plan {
    made: DateTime<Utc>,
    routed: DateTime<Utc>,
    closed: Option<DateTime<Utc>>,
    reopened: Option<DateTime<Utc>>,
}

fn staff() -> Actor {
    Actor {
        id: "sup-1".into(),
        name: "A Supervisor".into(),
        role: "supervisor".into(),
    }
}

fn transition(id: &str, decision: &str, to: Status) -> StatusCommand {
    StatusCommand::Work(WorkCommand {
        request_id: TrackingNumber::parse(id).unwrap(),
        decision_id: decision.into(),
        by: staff(),
        expected_version: None,
        action: WorkAction::Transition {
            to,
            resolution: (to == Status::Closed).then_some(Resolution::Fixed),
            note: None,
            public: true,
            media: Vec::new(),
        },
    })
}

/// Takes every event waiting on the notify queue, each notified twice (as a redelivery would).
async fn notify_every_event_twice(world: &World) -> usize {
    let deps = notify_deps(world, "http://127.0.0.1:3000");
    let mut events = 0;
    loop {
        let batch = world.queue.receive("notify", 10).await.unwrap();
        if batch.is_empty() {
            return events;
        }
        for message in batch {
            let event: NotifyEvent = serde_json::from_str(&message.body).unwrap();
            notify(&deps, &event).await.unwrap();
            notify(&deps, &event).await.unwrap();
            events += 1;
            world
                .queue
                .delete("notify", &message.receipt_handle)
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn counters_equal_a_count_by_hand_and_redelivered_events_count_once() {
    // given thirty requests of three services (one confidential) made over ten days, routed,
    // some closed and some of those reopened, at times the test sets
    let world = World::new();
    let city = demo_city();
    let hands = Arc::new(Hands(Mutex::new(Utc::now())));
    let status = StatusDeps {
        city: city.clone(),
        store: Arc::new(world.store.clone()),
        queue: Arc::new(world.queue.clone()),
        clock: hands.clone(),
        media: Arc::new(world.media.clone()),
    };
    let services = ["fallen_tree", "graffiti", "ethics_concern"];
    let points = [
        (41.7677, -72.67602),
        (41.7900, -72.6650),
        (41.7450, -72.6900),
    ];
    let start = Utc.with_ymd_and_hms(2026, 3, 1, 3, 30, 0).unwrap();
    let mut plans = BTreeMap::new();
    for i in 0..30u32 {
        let id = format!("MTRC-{i:04}");
        let made = start + Duration::hours(7 * i64::from(i));
        let request = seed_request_at(
            &world.store,
            &id,
            services[i as usize % 3],
            points[(i as usize / 3) % 3],
            made,
        )
        .await;
        let routed = made + Duration::minutes(5 + 13 * i64::from(i));
        *hands.0.lock().unwrap() = routed;
        let route = StatusCommand::Route {
            request_id: request.id.clone(),
            decision_id: "routed".into(),
            decision: decide(&city, &request).unwrap(),
        };
        assert!(matches!(
            apply(&status, &route).await.unwrap(),
            Applied::Changed { .. }
        ));
        let mut plan = Plan {
            made,
            routed,
            closed: None,
            reopened: None,
        };
        if i % 2 == 0 {
            let closed = routed + Duration::hours(3 + 5 * i64::from(i));
            *hands.0.lock().unwrap() = closed;
            apply(&status, &transition(&id, "closed", Status::Closed))
                .await
                .unwrap();
            plan.closed = Some(closed);
            if i % 4 == 0 {
                let reopened = closed + Duration::hours(20);
                *hands.0.lock().unwrap() = reopened;
                apply(&status, &transition(&id, "reopened", Status::Open))
                    .await
                    .unwrap();
                plan.reopened = Some(reopened);
            }
        }
        // a note moves no counter
        *hands.0.lock().unwrap() += Duration::minutes(1);
        let note = StatusCommand::Work(WorkCommand {
            request_id: request.id.clone(),
            decision_id: "note".into(),
            by: staff(),
            expected_version: None,
            action: WorkAction::Note {
                text: "Crew booked".into(),
                public: true,
                media: Vec::new(),
            },
        });
        apply(&status, &note).await.unwrap();
        plans.insert(id, plan);
    }

    // when notify takes every event, each twice
    let events = notify_every_event_twice(&world).await;

    // then the counters are what a count by hand over the stored requests gives
    assert!(events >= 30 * 2, "{events} events");
    let mut by_hand: BTreeMap<MetricsKey, Tally> = BTreeMap::new();
    for (id, plan) in &plans {
        let request = world
            .store
            .get(&TrackingNumber::parse(id).unwrap())
            .await
            .unwrap()
            .unwrap();
        let mut add = |at: DateTime<Utc>, tally: Tally| {
            by_hand
                .entry(metrics_key(&city, &request, at))
                .or_default()
                .add(&tally)
        };
        add(
            plan.made,
            Tally {
                opened: 1,
                ..Tally::default()
            },
        );
        let mut acknowledged = Tally {
            acknowledged: 1,
            ..Tally::default()
        };
        acknowledged
            .to_acknowledge
            .record((plan.routed - plan.made).num_seconds());
        add(plan.routed, acknowledged);
        if let Some(closed) = plan.closed {
            let mut tally = Tally {
                closed: 1,
                ..Tally::default()
            };
            tally.to_close.record((closed - plan.made).num_seconds());
            add(closed, tally);
        }
        if let Some(reopened) = plan.reopened {
            add(
                reopened,
                Tally {
                    reopened: 1,
                    ..Tally::default()
                },
            );
        }
    }
    let first = by_hand.keys().map(|k| k.day).min().unwrap();
    let last = by_hand.keys().map(|k| k.day).max().unwrap();
    let counted: BTreeMap<MetricsKey, Tally> = world
        .store
        .tallies(first, last)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(counted, by_hand);
    // and the confidential service's rows are marked so, and only theirs
    assert!(counted
        .keys()
        .all(|key| key.confidential == (key.service == "ethics_concern")));
    assert!(counted.keys().any(|key| key.confidential));
    // and the opened total is the thirty requests, once each
    let opened: u64 = counted.values().map(|t| t.opened).sum();
    assert_eq!(opened, 30);

    // and a supervisor's summary leaves the ten confidential requests out; ethics sees only them
    let filter = |scope| MetricsFilter {
        from: first,
        to: last,
        service: None,
        department: None,
        area: None,
        scope,
    };
    let everyone = summarise(&world.store, &filter(Scope::AllDepartments))
        .await
        .unwrap();
    let ethics = summarise(&world.store, &filter(Scope::Confidential))
        .await
        .unwrap();
    assert_eq!((everyone.total.opened, ethics.total.opened), (20, 10));
    let closed_by_hand = plans
        .iter()
        .filter(|(_, plan)| plan.closed.is_some())
        .count() as u64;
    assert_eq!(everyone.total.closed + ethics.total.closed, closed_by_hand);
    assert_eq!(
        everyone.total.to_close.count() + ethics.total.to_close.count(),
        closed_by_hand
    );
    let by_day: u64 = everyone.days.values().map(|t| t.acknowledged).sum();
    assert_eq!(by_day, 20);
}
