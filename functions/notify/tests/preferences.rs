//! What residents choose: their language, and the channels they turn off with the unsubscribe link
//! of a message or a STOP reply.

use std::sync::Arc;

use chrono::Utc;
use cityfix_app::links::LinkSigner;
use cityfix_app::messages::{NotifyEvent, NotifyKind};
use cityfix_app::notify::{notify, NotifyDeps, NotifySettings};
use cityfix_app::ports::SystemClock;
use cityfix_app::preferences::{sms_reply, unsubscribe, TextReplies, TextReply};
use cityfix_domain::{Contact, Language, TrackingNumber};
use cityfix_testing::{demo_city, seed_request_by, World};

fn deps(world: &World) -> NotifyDeps {
    NotifyDeps {
        city: demo_city(),
        store: Arc::new(world.store.clone()),
        metrics: Arc::new(world.store.clone()),
        mailer: Arc::new(world.outbox.clone()),
        sms: Arc::new(world.outbox.clone()),
        push: Arc::new(world.outbox.clone()),
        queue: Arc::new(world.queue.clone()),
        clock: Arc::new(SystemClock),
        settings: NotifySettings {
            public_url: "http://127.0.0.1:3000".into(),
            mail_from: "Hartford 311 <311@hartford.example>".into(),
            links: LinkSigner::new(b"a test link secret"),
            send_lease: cityfix_app::notify::SEND_LEASE,
        },
    }
}

async fn reported_by(world: &World, contact: Contact) {
    seed_request_by(
        &world.store,
        "7K3M-9QZ2",
        "pothole",
        41.7677,
        -72.67602,
        Some(contact),
    )
    .await;
}

fn event(id: &str, kind: NotifyKind) -> NotifyEvent {
    NotifyEvent {
        event_id: format!("7K3M-9QZ2/{id}"),
        request_id: TrackingNumber::parse("7K3M-9QZ2").unwrap(),
        kind,
    }
}

fn only_email(world: &World) -> String {
    let emails: Vec<_> = world
        .outbox
        .list()
        .unwrap()
        .into_iter()
        .filter(|e| e.channel == "email")
        .collect();
    assert_eq!(emails.len(), 1, "{emails:?}");
    String::from_utf8(world.outbox.read(&emails[0].file).unwrap()).unwrap()
}

#[tokio::test]
async fn a_reporter_who_asked_for_spanish_is_written_to_in_spanish() {
    let world = World::new();
    reported_by(
        &world,
        Contact {
            email: Some("lucia@example.org".into()),
            first_name: Some("Lucía".into()),
            language: Some(Language::Es),
            ..Contact::default()
        },
    )
    .await;
    notify(&deps(&world), &event("routed", NotifyKind::Acknowledged))
        .await
        .unwrap();
    let file = world.outbox.list().unwrap()[0].file.clone();
    let html = String::from_utf8(world.outbox.read_html(&file).unwrap()).unwrap();
    assert!(html.contains("<html lang=\"es\">"));
    assert!(html.contains("Hola Lucía:"));
    assert!(html.contains("Recibimos su reporte 7K3M-9QZ2"));
}

#[tokio::test]
async fn every_email_carries_a_one_click_unsubscribe_that_stops_the_next() {
    // given a reporter with an e-mail address who got the acknowledgement
    let world = World::new();
    reported_by(
        &world,
        Contact {
            email: Some("ana@example.org".into()),
            ..Contact::default()
        },
    )
    .await;
    let deps = deps(&world);
    notify(&deps, &event("routed", NotifyKind::Acknowledged))
        .await
        .unwrap();
    let email = only_email(&world);
    assert!(email.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    let link = email
        .lines()
        .find_map(|l| l.strip_prefix("List-Unsubscribe: <"))
        .and_then(|l| l.strip_suffix('>'))
        .expect("a List-Unsubscribe header")
        .to_string();
    assert!(link.starts_with("http://127.0.0.1:3000/api/v1/unsubscribe?t="));
    assert!(!link.contains("ana"), "the link names no address");

    // when they follow it
    let token = link.split_once("?t=").unwrap().1;
    unsubscribe(deps.store.as_ref(), &deps.settings.links, token, Utc::now())
        .await
        .unwrap();

    // then the next event sends them no e-mail
    let next = notify(&deps, &event("unlinked", NotifyKind::Unlinked))
        .await
        .unwrap();
    assert_eq!((next.sent, next.turned_off), (0, 1));
    assert_eq!(world.outbox.list().unwrap().len(), 1);
}

#[tokio::test]
async fn stop_turns_texts_off_for_the_number_however_it_was_written() {
    let world = World::new();
    reported_by(
        &world,
        Contact {
            phone: Some("(860) 555-0199".into()),
            device_id: Some("fcm-token-0a1b2c".into()),
            ..Contact::default()
        },
    )
    .await;
    let deps = deps(&world);
    let replies = TextReplies {
        store: deps.store.clone(),
        country_calling_code: 1,
    };
    let reply = |text: &'static str| sms_reply(&replies, "+18605550199", text, Utc::now());
    assert_eq!(reply("thanks!").await.unwrap(), TextReply::Other);
    assert_eq!(reply("STOP").await.unwrap(), TextReply::Stop);

    let notified = notify(&deps, &event("routed", NotifyKind::Acknowledged))
        .await
        .unwrap();

    // the push still goes: STOP is about texts only
    assert_eq!((notified.sent, notified.turned_off), (1, 1));
    let channels: Vec<String> = world
        .outbox
        .list()
        .unwrap()
        .into_iter()
        .map(|e| e.channel)
        .collect();
    assert_eq!(channels, ["push"]);

    // START, from the number as the carrier writes it, turns texts on again
    assert_eq!(reply("start").await.unwrap(), TextReply::Start);
    let notified = notify(&deps, &event("note", NotifyKind::Acknowledged))
        .await
        .unwrap();
    assert_eq!((notified.sent, notified.turned_off), (2, 0));
}
