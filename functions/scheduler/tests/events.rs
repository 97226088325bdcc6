//! The scheduler handler fed the sample EventBridge schedule event from `events/`.

use std::sync::Arc;

use cityfix_app::ports::QueueConsumer;
use cityfix_testing::{demo_city, event, seed_sample_pothole, FixedClock, World};
use scheduler::SchedulerDeps;

#[tokio::test]
async fn a_tick_queues_again_a_report_left_submitted_and_nothing_else() {
    // given a report still submitted two minutes after it was made
    let world = World::new();
    let pothole = seed_sample_pothole(&world.store, None).await;
    let deps = SchedulerDeps {
        city: demo_city(),
        store: Arc::new(world.store.clone()),
        queue: Arc::new(world.queue.clone()),
        clock: Arc::new(FixedClock(
            pothole.requested_at + chrono::Duration::minutes(2),
        )),
        media: Arc::new(world.media.clone()),
        metrics: Arc::new(world.store.clone()),
    };

    // when the schedule fires
    let requeued = scheduler::handle(&deps, event("scheduler/eventbridge-schedule.json"))
        .await
        .unwrap();

    // then its routing job is queued again
    assert_eq!(requeued.requeued, 1);
    let jobs = world.queue.receive("routing", 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].body, r#"{"request_id":"7K3M-9QZ2"}"#);

    // and a tick within the grace minute leaves it alone
    let early = SchedulerDeps {
        clock: Arc::new(FixedClock(pothole.requested_at)),
        ..deps
    };
    let requeued = scheduler::handle(&early, event("scheduler/eventbridge-schedule.json"))
        .await
        .unwrap();
    assert_eq!(requeued.requeued, 0);
}

#[tokio::test]
async fn a_tick_drops_an_upload_slot_no_report_named_within_an_hour() {
    use cityfix_app::media::{state_of, MediaState};
    use cityfix_app::ports::MediaStore;
    // given a slot given at noon and its checked photo, never named by a report
    let world = World::new();
    let noon = chrono::Utc::now();
    let owner = cityfix_app::slots::owner_of("an-upload-token");
    cityfix_app::slots::give_slot(&world.media, &owner, true, "m-1", "image/jpeg", noon)
        .await
        .unwrap()
        .unwrap();
    let kept = format!("originals/{owner}/m-1.jpg");
    world
        .media
        .put(&kept, vec![0xFF; 8], "image/jpeg")
        .await
        .unwrap();
    let deps = |now| SchedulerDeps {
        city: demo_city(),
        store: Arc::new(world.store.clone()),
        queue: Arc::new(world.queue.clone()),
        clock: Arc::new(FixedClock(now)),
        media: Arc::new(world.media.clone()),
        metrics: Arc::new(world.store.clone()),
    };
    let tick = event::<serde_json::Value>("scheduler/eventbridge-schedule.json");

    // when the schedule fires within the hour, then after it
    let early = scheduler::handle(&deps(noon + chrono::Duration::minutes(59)), tick.clone())
        .await
        .unwrap();
    let late = scheduler::handle(&deps(noon + chrono::Duration::minutes(61)), tick)
        .await
        .unwrap();

    // then only the late tick drops it: its photo goes and its state says why
    assert_eq!((early.slots_dropped, late.slots_dropped), (0, 1));
    assert_eq!(world.media.head(&kept).await.unwrap(), None);
    assert!(matches!(
        state_of(&world.media, "m-1").await.unwrap(),
        Some(MediaState::Dropped { reason }) if reason.contains("60 minutes")
    ));
}
