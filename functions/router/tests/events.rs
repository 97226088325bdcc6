//! The router handler fed the sample SQS batch from `events/`.

use std::sync::Arc;

use cityfix_app::messages::StatusCommand;
use cityfix_app::ports::QueueConsumer;
use cityfix_app::route::RouterDeps;
use cityfix_domain::{RoutingDecision, Status};
use cityfix_testing::{
    demo_city, failed_ids, force_status, seed_request, seed_request_at, seed_sample_pothole,
    sqs_event, World,
};

/// Earlier reports are stored an hour back, so which came first never depends on timing.
fn an_hour_ago() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::Duration::hours(1)
}

const POISON: &str = "059f36b4-87a3-44ab-83d2-661975830a7d";

fn deps(world: &World) -> RouterDeps {
    RouterDeps {
        city: demo_city(),
        store: Arc::new(world.store.clone()),
        queue: Arc::new(world.queue.clone()),
        fix_history: Default::default(),
    }
}

/// The one routing decision the router sent to status.
async fn decision(world: &World) -> RoutingDecision {
    match decisions(world).await.as_slice() {
        [StatusCommand::Route { decision, .. }] => decision.clone(),
        other => panic!("expected one routing decision, got {other:?}"),
    }
}

async fn decisions(world: &World) -> Vec<StatusCommand> {
    world
        .queue
        .receive("status", 10)
        .await
        .unwrap()
        .iter()
        .map(|m| serde_json::from_str(&m.body).unwrap())
        .collect()
}

#[tokio::test]
async fn routes_the_job_and_hands_back_only_the_poison_message() {
    // given a submitted pothole in Downtown
    let world = World::new();
    seed_sample_pothole(&world.store, Some("ana@example.org")).await;

    // when the batch arrives
    let response = router::handle(&deps(&world), sqs_event("router/sqs-batch.json")).await;

    // then only the poison message failed, and status got Public Works with the neighbourhood
    assert_eq!(failed_ids(&response), [POISON]);
    let decision = decision(&world).await;
    assert_eq!(decision.assignee.id(), "public-works");
    assert_eq!(decision.areas["neighbourhoods"], "Downtown");
}

#[tokio::test]
async fn a_neighbourhood_override_picks_another_department() {
    let world = World::new();
    seed_request(
        &world.store,
        "7K3M-9QZ2",
        "fallen_tree",
        41.78772,
        -72.65867,
        None,
    )
    .await;
    router::handle(&deps(&world), sqs_event("router/sqs-batch.json")).await;
    let decision = decision(&world).await;
    assert_eq!(decision.assignee.id(), "parks-recreation");
    assert_eq!(decision.areas["neighbourhoods"], "North Meadows");
}

#[tokio::test]
async fn a_redelivered_job_for_a_routed_request_sends_nothing() {
    let world = World::new();
    force_status(
        &world.store,
        seed_sample_pothole(&world.store, None).await,
        Status::Open,
        "routed",
    )
    .await;

    let response = router::handle(&deps(&world), sqs_event("router/sqs-batch.json")).await;

    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(decisions(&world).await.is_empty());
}

#[tokio::test]
async fn a_job_for_an_unknown_request_fails_so_it_reaches_the_dead_letter_queue() {
    let world = World::new();
    let response = router::handle(&deps(&world), sqs_event("router/sqs-batch.json")).await;
    assert_eq!(response.batch_item_failures.len(), 2);
}

#[tokio::test]
async fn a_report_near_an_open_one_of_the_same_service_is_linked_to_it() {
    // given an open pothole report, a streetlight report at the same place, and a far pothole
    let world = World::new();
    let original = seed_request_at(
        &world.store,
        "AAAA-0001",
        "pothole",
        (41.76770, -72.67602),
        an_hour_ago(),
    )
    .await;
    seed_request_at(
        &world.store,
        "AAAA-0002",
        "streetlight_out",
        (41.76771, -72.67602),
        an_hour_ago(),
    )
    .await;
    seed_request_at(
        &world.store,
        "AAAA-0003",
        "pothole",
        (41.77325, -72.69383),
        an_hour_ago(),
    )
    .await;
    // when a second pothole comes in 30 m away
    seed_request(
        &world.store,
        "7K3M-9QZ2",
        "pothole",
        41.76770 + 30.0 / 111_320.0,
        -72.67602,
        None,
    )
    .await;
    router::handle(&deps(&world), sqs_event("router/sqs-batch.json")).await;

    // then the router asks status to link it to the first one
    match decisions(&world).await.as_slice() {
        [StatusCommand::LinkDuplicate {
            request_id,
            original_id,
            ..
        }] => {
            assert_eq!(request_id.as_str(), "7K3M-9QZ2");
            assert_eq!(original_id, &original.id);
        }
        other => panic!("expected a duplicate link, got {other:?}"),
    }
}

#[tokio::test]
async fn a_report_beyond_the_radius_or_older_than_the_other_is_routed_normally() {
    let world = World::new();
    seed_request_at(
        &world.store,
        "7K3M-9QZ2",
        "pothole",
        (41.76770, -72.67602),
        an_hour_ago(),
    )
    .await;
    // a later report 30 m away does not make the earlier one a duplicate of it
    seed_request(
        &world.store,
        "AAAA-0001",
        "pothole",
        41.76770 + 30.0 / 111_320.0,
        -72.67602,
        None,
    )
    .await;
    // and one 80 m away is beyond the 50 m radius anyway
    seed_request(
        &world.store,
        "AAAA-0002",
        "pothole",
        41.76770 - 80.0 / 111_320.0,
        -72.67602,
        None,
    )
    .await;
    router::handle(&deps(&world), sqs_event("router/sqs-batch.json")).await;
    assert_eq!(decision(&world).await.assignee.id(), "public-works");
}

/// Stores a submitted streetlight report about pole `pole` (or none) at the point, reported at `at`.
async fn seed_streetlight(
    world: &World,
    id: &str,
    point: (f64, f64),
    at: chrono::DateTime<chrono::Utc>,
    pole: Option<&str>,
) -> cityfix_domain::ServiceRequest {
    let report = cityfix_domain::ValidReport {
        service_code: "streetlight_out".into(),
        location: cityfix_domain::Location::new(point.0, point.1).unwrap(),
        address: None,
        attributes: Default::default(),
        description: None,
        contact: Default::default(),
        media_url: None,
    };
    let id = cityfix_domain::TrackingNumber::parse(id).unwrap();
    let mut request = cityfix_domain::ServiceRequest::submitted(
        id.clone(),
        &report,
        "Streetlight out",
        "web",
        at,
    );
    request.asset = pole.map(|pole| cityfix_domain::AssetRef {
        layer: "streetlights".into(),
        id: pole.into(),
    });
    let new = cityfix_app::ports::NewRequest {
        request: request.clone(),
        reporter: None,
        token: format!("token-{id}"),
        first_entry: cityfix_domain::TimelineEntry::submitted(at),
        idempotency: None,
    };
    cityfix_app::ports::RequestStore::create(&world.store, &new)
        .await
        .unwrap();
    request
}

#[tokio::test]
async fn a_report_of_the_same_pole_is_linked_whatever_the_distance_and_another_pole_s_is_not() {
    // given an open report of pole SL-014-020, and one of its neighbour SL-014-021 next to it
    let world = World::new();
    let original = seed_streetlight(
        &world,
        "AAAA-0001",
        (41.76777, -72.673629),
        an_hour_ago(),
        Some("SL-014-020"),
    )
    .await;
    seed_streetlight(
        &world,
        "AAAA-0002",
        (41.767772, -72.673629),
        an_hour_ago() - chrono::Duration::minutes(5),
        Some("SL-014-021"),
    )
    .await;
    // when a report names SL-014-020 from 400 m away (far beyond the 50 m duplicate radius)
    seed_streetlight(
        &world,
        "7K3M-9QZ2",
        (41.76777 + 400.0 / 111_320.0, -72.673629),
        chrono::Utc::now(),
        Some("SL-014-020"),
    )
    .await;
    router::handle(&deps(&world), sqs_event("router/sqs-batch.json")).await;

    // then it is linked to the report of the same pole, not to the nearer, older one of another
    match decisions(&world).await.as_slice() {
        [StatusCommand::LinkDuplicate { original_id, .. }] => {
            assert_eq!(original_id, &original.id)
        }
        other => panic!("expected a duplicate link, got {other:?}"),
    }
}

#[tokio::test]
async fn a_report_of_one_pole_is_not_a_duplicate_of_another_pole_s_right_beside_it() {
    let world = World::new();
    seed_streetlight(
        &world,
        "AAAA-0001",
        (41.76777, -72.673629),
        an_hour_ago(),
        Some("SL-014-021"),
    )
    .await;
    seed_streetlight(
        &world,
        "7K3M-9QZ2",
        (41.76777 + 5.0 / 111_320.0, -72.673629),
        chrono::Utc::now(),
        Some("SL-014-020"),
    )
    .await;
    router::handle(&deps(&world), sqs_event("router/sqs-batch.json")).await;
    assert!(
        matches!(
            decisions(&world).await.as_slice(),
            [StatusCommand::Route { .. }]
        ),
        "routed, not linked"
    );
}

/// A pothole fixed in `area`, `days` after it was reported, `ago_days` before now.
fn fixed(area: &str, n: usize, days: i64, ago_days: i64) -> cityfix_domain::expected::Fixed {
    cityfix_domain::expected::Fixed {
        request_id: format!("{area}-{n}"),
        area: Some(area.into()),
        closed_at: chrono::Utc::now() - chrono::Duration::days(ago_days),
        took_secs: days * 86_400,
    }
}

#[tokio::test]
async fn the_expected_date_comes_from_how_long_recent_fixes_nearby_took() {
    // given a history of Downtown potholes fixed in 1 to 12 days, older ones that took a year, and
    // quick fixes elsewhere in the city
    let world = World::new();
    let store: &dyn cityfix_app::ports::RequestStore = &world.store;
    for n in 0..12 {
        store
            .record_fix("pothole", &fixed("Downtown", n, n as i64 + 1, 2))
            .await
            .unwrap();
    }
    for n in 0..30 {
        store
            .record_fix("pothole", &fixed("Downtown", 100 + n, 365, 200))
            .await
            .unwrap();
        store
            .record_fix("pothole", &fixed("North End", n, 1, 3))
            .await
            .unwrap();
    }

    // when a new Downtown pothole is routed
    seed_sample_pothole(&world.store, Some("ana@example.org")).await;
    router::handle(&deps(&world), sqs_event("router/sqs-batch.json")).await;

    // then it is expected when 80 % of the recent Downtown fixes were done: the 10th of 12, 10 days
    let decision = decision(&world).await;
    assert_eq!(decision.expected_secs, Some(10 * 86_400), "{decision:?}");
}

#[tokio::test]
async fn without_enough_history_the_expected_date_is_the_services_target() {
    let world = World::new();
    let store: &dyn cityfix_app::ports::RequestStore = &world.store;
    for n in 0..9 {
        store
            .record_fix("pothole", &fixed("Downtown", n, 30, 2))
            .await
            .unwrap();
    }
    seed_sample_pothole(&world.store, Some("ana@example.org")).await;
    router::handle(&deps(&world), sqs_event("router/sqs-batch.json")).await;
    let decision = decision(&world).await;
    assert_eq!(
        decision.expected_secs,
        Some(72 * 3600),
        "pothole's target_hours in services.toml"
    );
}

#[tokio::test]
async fn a_services_history_is_read_once_for_a_few_minutes_not_for_every_report() {
    let world = World::new();
    let store: &dyn cityfix_app::ports::RequestStore = &world.store;
    for n in 0..9 {
        store
            .record_fix("pothole", &fixed("Downtown", n, 30, 2))
            .await
            .unwrap();
    }
    let deps = deps(&world);
    let now = chrono::Utc::now();
    let first = deps
        .fix_history
        .recent(store, "pothole", now)
        .await
        .unwrap();
    assert_eq!(first.len(), 9);

    // fixes recorded meanwhile are not read again by the same router within KEPT_FOR
    for n in 9..12 {
        store
            .record_fix("pothole", &fixed("Downtown", n, 30, 1))
            .await
            .unwrap();
    }
    let kept = deps
        .fix_history
        .recent(store, "pothole", now)
        .await
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &kept), "read from memory");
    // another service is read on its own, and a fresh router reads the store
    let other = deps
        .fix_history
        .recent(store, "graffiti", now)
        .await
        .unwrap();
    assert!(other.is_empty());
    let fresh = cityfix_app::fix_history::FixHistory::default();
    assert_eq!(fresh.recent(store, "pothole", now).await.unwrap().len(), 12);
}
