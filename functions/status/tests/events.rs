//! The status handler fed the sample SQS batch from `events/`.

use std::sync::Arc;

use cityfix_app::ports::{QueueConsumer, RequestStore, SystemClock};
use cityfix_app::transition::{Applied, StatusDeps};
use cityfix_domain::{Status, TrackingNumber};
use cityfix_testing::{demo_city, failed_ids, force_status, seed_sample_pothole, sqs_event, World};

const POISON: &str = "7b7c8a0e-33f5-4a4c-9d5b-0c1f5c1f1a02";

fn deps(world: &World) -> StatusDeps {
    StatusDeps {
        city: demo_city(),
        store: Arc::new(world.store.clone()),
        queue: Arc::new(world.queue.clone()),
        clock: Arc::new(SystemClock),
    }
}

#[tokio::test]
async fn a_routing_decision_opens_the_request_once_even_when_redelivered() {
    // given a submitted request
    let world = World::new();
    seed_sample_pothole(&world.store, None).await;
    let id = TrackingNumber::parse("7K3M-9QZ2").unwrap();

    // when the batch arrives twice (at-least-once delivery)
    let first = status::handle(&deps(&world), sqs_event("status/sqs-batch.json")).await;
    let second = status::handle(&deps(&world), sqs_event("status/sqs-batch.json")).await;

    // then it is open and routed once; each delivery queued the same event for notify, which dedupes
    for response in [first, second] {
        assert_eq!(failed_ids(&response), [POISON]);
    }
    let request = world.store.get(&id).await.unwrap().unwrap();
    assert_eq!(request.status, Status::Open);
    assert_eq!(request.version, 2);
    assert_eq!(
        request.agency_responsible.as_deref(),
        Some("Department of Public Works")
    );
    assert_eq!(request.areas["neighbourhoods"], "Downtown");
    let timeline = world.store.timeline(&id).await.unwrap();
    assert_eq!(
        timeline
            .iter()
            .map(|e| e.event_id.as_str())
            .collect::<Vec<_>>(),
        ["submitted", "routed"]
    );
    let events = world.queue.receive("notify", 10).await.unwrap();
    assert_eq!(events.len(), 2);
    assert!(events
        .iter()
        .all(|e| e.body.contains("\"event_id\":\"7K3M-9QZ2/routed\"")));
}

#[tokio::test]
async fn a_decision_for_a_closed_request_is_refused_and_notifies_nobody() {
    let world = World::new();
    let request = force_status(
        &world.store,
        seed_sample_pothole(&world.store, None).await,
        Status::Closed,
        "cancelled",
    )
    .await;

    let response = status::handle(&deps(&world), sqs_event("status/sqs-batch.json")).await;

    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "a refusal is final, not a failure to retry"
    );
    assert_eq!(
        world.store.get(&request.id).await.unwrap().unwrap().status,
        Status::Closed
    );
    assert!(world.queue.receive("notify", 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_attached_photo_is_added_once_and_becomes_the_media_url() {
    // given a submitted request and the media function's command for a checked photo
    let world = World::new();
    seed_sample_pothole(&world.store, None).await;
    let id = TrackingNumber::parse("7K3M-9QZ2").unwrap();
    let command = cityfix_app::messages::StatusCommand::AttachMedia {
        request_id: id.clone(),
        media_id: "media-5b0e".into(),
        key: "originals/7K3M-9QZ2/5b0e.jpg".into(),
        content_type: "image/jpeg".into(),
        url: "http://cityfix.test/api/v1/media/7K3M-9QZ2/5b0e.jpg".into(),
    };

    // when it arrives twice
    let apply = cityfix_app::transition::apply;
    let first = apply(&deps(&world), &command).await.unwrap();
    let again = apply(&deps(&world), &command).await.unwrap();

    // then the photo is added once, the status is unchanged, and nobody is notified
    assert!(matches!(
        first,
        Applied::Changed {
            from: Status::Submitted,
            to: Status::Submitted
        }
    ));
    assert_eq!(again, Applied::AlreadyApplied);
    let request = world.store.get(&id).await.unwrap().unwrap();
    assert_eq!(request.media, ["originals/7K3M-9QZ2/5b0e.jpg"]);
    assert_eq!(
        request.media_url.as_deref(),
        Some("http://cityfix.test/api/v1/media/7K3M-9QZ2/5b0e.jpg")
    );
    assert_eq!(request.version, 2);
    let notes: Vec<_> = world
        .store
        .timeline(&id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.note)
        .collect();
    assert!(notes.contains(&"Photo added".to_string()));
    assert!(world.queue.receive("notify", 10).await.unwrap().is_empty());

    // and a photo for a request that does not exist is refused
    let stranger = cityfix_app::messages::StatusCommand::AttachMedia {
        request_id: TrackingNumber::parse("7K3M-9QZ3").unwrap(),
        media_id: "media-1".into(),
        key: "originals/7K3M-9QZ3/1.jpg".into(),
        content_type: "image/jpeg".into(),
        url: "http://cityfix.test/x".into(),
    };
    assert!(matches!(
        apply(&deps(&world), &stranger).await.unwrap(),
        Applied::Refused(_)
    ));
}
