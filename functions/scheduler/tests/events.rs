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
