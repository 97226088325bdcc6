//! The router handler fed the sample SQS batch from `events/`.

use std::sync::Arc;

use cityfix_shared::app::messages::StatusCommand;
use cityfix_shared::app::route::RouterDeps;
use cityfix_shared::domain::{Status, TimelineEntry};
use cityfix_shared::ports::{QueueConsumer, RequestStore};
use cityfix_shared::testing::{demo_city, seed_request, sqs_event, World};

const POISON: &str = "059f36b4-87a3-44ab-83d2-661975830a7d";

fn deps(world: &World) -> RouterDeps {
    RouterDeps {
        city: demo_city(),
        store: Arc::new(world.store.clone()),
        queue: Arc::new(world.queue.clone()),
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
    seed_request(
        &world.store,
        "7K3M-9QZ2",
        "pothole",
        41.7677,
        -72.67602,
        Some("ana@example.org"),
    )
    .await;

    // when the batch arrives
    let response = router::handle(&deps(&world), sqs_event("router/sqs-batch.json")).await;

    // then only the poison message failed, and status got Public Works with the neighbourhood
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, [POISON]);
    let [StatusCommand::Route {
        request_id,
        decision,
        ..
    }] = decisions(&world).await.try_into().unwrap();
    assert_eq!(request_id.as_str(), "7K3M-9QZ2");
    assert_eq!(decision.department, "public-works");
    assert_eq!(decision.neighbourhood.as_deref(), Some("Downtown"));
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
    let [StatusCommand::Route { decision, .. }] = decisions(&world).await.try_into().unwrap();
    assert_eq!(
        (
            decision.department.as_str(),
            decision.neighbourhood.as_deref()
        ),
        ("parks-recreation", Some("North Meadows"))
    );
}

#[tokio::test]
async fn a_redelivered_job_for_a_routed_request_sends_nothing() {
    let world = World::new();
    let mut request = seed_request(
        &world.store,
        "7K3M-9QZ2",
        "pothole",
        41.7677,
        -72.67602,
        None,
    )
    .await;
    request.status = Status::Open;
    request.version = 2;
    let entry = TimelineEntry {
        event_id: "routed".into(),
        ..TimelineEntry::submitted(request.updated_at)
    };
    world.store.update(&request, 1, &entry).await.unwrap();

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
