//! The text replies function fed the sample SNS event from `events/`: the STOP in it turns texts
//! off for the number that sent it, and nothing else changes.

use std::sync::Arc;

use cityfix_app::messages::{NotifyEvent, NotifyKind};
use cityfix_app::notify::{notify, NotifyDeps};
use cityfix_app::ports::SystemClock;
use cityfix_app::preferences::TextReplies;
use cityfix_domain::{Contact, TrackingNumber};
use cityfix_testing::{event, notify_deps, seed_request_by, World};
use notify::sms_replies::{handle, Handled};

fn deps(world: &World) -> NotifyDeps {
    notify_deps(world, "http://127.0.0.1:3000")
}

async fn reported_by_phone(world: &World, id: &str, phone: &str) {
    let contact = Contact {
        phone: Some(phone.into()),
        ..Contact::default()
    };
    seed_request_by(
        &world.store,
        id,
        "pothole",
        41.7677,
        -72.67602,
        Some(contact),
    )
    .await;
}

async fn acknowledge(deps: &NotifyDeps, id: &str) -> (usize, usize) {
    let event = NotifyEvent {
        event_id: format!("{id}/routed"),
        request_id: TrackingNumber::parse(id).unwrap(),
        kind: NotifyKind::Acknowledged,
    };
    let notified = notify(deps, &event).await.unwrap();
    (notified.sent, notified.turned_off)
}

#[tokio::test]
async fn a_stop_from_sns_turns_texts_off_for_that_number_only() {
    let world = World::new();
    // the reporter wrote the number as residents do; SNS hands it over in E.164
    reported_by_phone(&world, "7K3M-9QZ2", "(860) 555-0199").await;
    reported_by_phone(&world, "7K3M-9QZ3", "860-555-0123").await;
    let replies = TextReplies {
        store: Arc::new(world.store.clone()),
        country_calling_code: 1,
    };

    let handled = handle(&replies, &SystemClock, event("notify/sns-sms-replies.json"))
        .await
        .unwrap();

    // a STOP, a thank-you, and a message that is not an inbound text
    assert_eq!(
        handled,
        Handled {
            stopped: 1,
            started: 0,
            ignored: 2
        }
    );
    let deps = deps(&world);
    assert_eq!(acknowledge(&deps, "7K3M-9QZ2").await, (0, 1));
    assert_eq!(acknowledge(&deps, "7K3M-9QZ3").await, (1, 0));
}

#[tokio::test]
async fn the_same_event_again_changes_nothing_more() {
    let world = World::new();
    reported_by_phone(&world, "7K3M-9QZ2", "+18605550199").await;
    let replies = TextReplies {
        store: Arc::new(world.store.clone()),
        country_calling_code: 1,
    };
    for _ in 0..2 {
        handle(&replies, &SystemClock, event("notify/sns-sms-replies.json"))
            .await
            .unwrap();
    }
    assert_eq!(acknowledge(&deps(&world), "7K3M-9QZ2").await, (0, 1));
}
