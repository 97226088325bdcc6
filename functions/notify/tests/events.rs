//! The notify handler fed the sample SQS batch from `events/`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cityfix_app::messages::{NotifyEvent, NotifyKind};
use cityfix_app::notify::{notify, NotifyDeps, NotifySettings};
use cityfix_app::ports::{Email, Mailer, PortError, PortResult, SystemClock};
use cityfix_domain::Contact;
use cityfix_domain::TrackingNumber;
use cityfix_embedded::Outbox;
use cityfix_http::batch::RETRIES_IN_PLACE;
use cityfix_testing::{
    demo_city, failed_ids, seed_request_by, seed_sample_pothole, sqs_event, World,
};

const POISON: &str = "c0a5e4b2-1d1e-4e47-a0a4-7f0e6a8b9c02";

fn deps(world: &World, mailer: Arc<dyn Mailer>) -> NotifyDeps {
    NotifyDeps {
        city: demo_city(),
        store: Arc::new(world.store.clone()),
        metrics: Arc::new(world.store.clone()),
        mailer,
        sms: Arc::new(world.outbox.clone()),
        push: Arc::new(world.outbox.clone()),
        queue: Arc::new(world.queue.clone()),
        clock: Arc::new(SystemClock),
        settings: NotifySettings {
            public_url: "http://127.0.0.1:3000".into(),
            mail_from: "Hartford 311 <311@hartford.example>".into(),
            links: cityfix_app::links::LinkSigner::new(b"a test link secret"),
            send_lease: cityfix_app::notify::SEND_LEASE,
        },
    }
}

fn files(outbox: &Outbox) -> Vec<String> {
    outbox.list().unwrap().into_iter().map(|e| e.file).collect()
}

#[tokio::test]
async fn the_reporter_gets_one_acknowledgement_however_often_the_event_comes() {
    let world = World::new();
    seed_sample_pothole(&world.store, Some("ana@example.org")).await;
    let deps = deps(&world, Arc::new(world.outbox.clone()));

    for _ in 0..3 {
        let response = notify::handle(&deps, sqs_event("notify/sqs-batch.json")).await;
        assert_eq!(failed_ids(&response), [POISON]);
    }

    let sent = files(&world.outbox);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let email = String::from_utf8(world.outbox.read(&sent[0]).unwrap()).unwrap();
    assert!(email.contains("To: ana@example.org"));
    assert!(email.contains("Subject: We received your report 7K3M-9QZ2"));
    assert!(email.contains("Content-Type: text/html"));
    assert!(email.contains("http://127.0.0.1:3000/#/requests/7K3M-9QZ2"));
    assert!(
        !sent[0].contains("ana"),
        "file names carry a hash, not the address"
    );
}

#[tokio::test]
async fn a_reporter_with_only_a_phone_gets_a_text() {
    let world = World::new();
    let phone_only = Contact {
        phone: Some("(860) 555-0199".into()),
        ..Contact::default()
    };
    seed_request_by(
        &world.store,
        "7K3M-9QZ2",
        "pothole",
        41.7677,
        -72.67602,
        Some(phone_only),
    )
    .await;

    notify::handle(
        &deps(&world, Arc::new(world.outbox.clone())),
        sqs_event("notify/sqs-batch.json"),
    )
    .await;

    let sent = files(&world.outbox);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].ends_with(".json"));
    let text = String::from_utf8(world.outbox.read(&sent[0]).unwrap()).unwrap();
    assert!(text.contains("(860) 555-0199") && text.contains("7K3M-9QZ2"));
}

#[tokio::test]
async fn an_anonymous_report_sends_nothing_and_does_not_fail() {
    let world = World::new();
    seed_sample_pothole(&world.store, None).await;
    let response = notify::handle(
        &deps(&world, Arc::new(world.outbox.clone())),
        sqs_event("notify/sqs-batch.json"),
    )
    .await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(files(&world.outbox).is_empty());
}

/// A mailer that fails its first `failures` sends.
struct FlakyMailer {
    failures: AtomicUsize,
    inner: Outbox,
}

#[async_trait::async_trait]
impl Mailer for FlakyMailer {
    async fn send_email(&self, email: &Email) -> PortResult<()> {
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(PortError::Unavailable("mail server down".into()));
        }
        self.inner.send_email(email).await
    }
}

#[tokio::test]
async fn a_send_that_fails_once_is_tried_again_in_place_and_sent_once() {
    let world = World::new();
    seed_sample_pothole(&world.store, Some("ana@example.org")).await;
    let deps = deps(
        &world,
        Arc::new(FlakyMailer {
            failures: AtomicUsize::new(1),
            inner: world.outbox.clone(),
        }),
    );

    let response = notify::handle(&deps, sqs_event("notify/sqs-batch.json")).await;
    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "only the batch's unreadable message is handed back"
    );
    assert_eq!(files(&world.outbox).len(), 1);
}

#[tokio::test]
async fn a_failed_send_is_retried_on_redelivery_and_then_sent_once() {
    let world = World::new();
    seed_sample_pothole(&world.store, Some("ana@example.org")).await;
    let deps = deps(
        &world,
        Arc::new(FlakyMailer {
            // the first try and every try in place fail
            failures: AtomicUsize::new(1 + RETRIES_IN_PLACE.len()),
            inner: world.outbox.clone(),
        }),
    );

    let first = notify::handle(&deps, sqs_event("notify/sqs-batch.json")).await;
    assert_eq!(
        first.batch_item_failures.len(),
        2,
        "the failed send is handed back for redelivery"
    );
    assert!(files(&world.outbox).is_empty());

    let second = notify::handle(&deps, sqs_event("notify/sqs-batch.json")).await;
    assert_eq!(second.batch_item_failures.len(), 1);
    assert_eq!(files(&world.outbox).len(), 1);
}

#[tokio::test]
async fn a_reporter_from_the_app_also_gets_a_push_once() {
    // given a request reported from a phone app with a push token and an e-mail address
    let world = World::new();
    let reporter = Contact {
        email: Some("app@example.org".into()),
        device_id: Some("fcm-token-0a1b2c".into()),
        ..Contact::default()
    };
    seed_request_by(
        &world.store,
        "7K3M-9QZ2",
        "pothole",
        41.7677,
        -72.67602,
        Some(reporter),
    )
    .await;
    let deps = deps(&world, Arc::new(world.outbox.clone()));
    let event = NotifyEvent {
        event_id: "7K3M-9QZ2/routed".into(),
        request_id: TrackingNumber::parse("7K3M-9QZ2").unwrap(),
        kind: NotifyKind::Acknowledged,
    };

    // when the acknowledgement event comes twice
    notify(&deps, &event).await.unwrap();
    notify(&deps, &event).await.unwrap();

    // then one e-mail and one push went out, and the push names no token
    let entries = world.outbox.list().unwrap();
    let channels: Vec<&str> = entries.iter().map(|e| e.channel.as_str()).collect();
    assert_eq!(channels.iter().filter(|c| **c == "email").count(), 1);
    assert_eq!(channels.iter().filter(|c| **c == "push").count(), 1);
    let push = entries.iter().find(|e| e.channel == "push").unwrap();
    let text = String::from_utf8(world.outbox.read(&push.file).unwrap()).unwrap();
    assert!(text.contains("7K3M-9QZ2"));
    assert!(!text.contains("fcm-token-0a1b2c"));
}

#[tokio::test]
async fn staffs_answer_to_a_question_is_mailed_once_and_not_before_it_is_recorded() {
    use cityfix_app::ports::{InformationAnswer, InformationRequest, RequestStore};
    let world = World::new();
    let deps = deps(&world, Arc::new(world.outbox.clone()));
    let id = TrackingNumber::parse("Q7KM-4X2P").unwrap();
    world
        .store
        .save_information_request(&InformationRequest {
            id: id.clone(),
            question: "Where do I get a <fishing> licence?".into(),
            email: "ana@example.org".into(),
            language: cityfix_domain::Language::Es,
            asked_at: chrono::Utc::now(),
            answered: None,
        })
        .await
        .unwrap();
    let event = NotifyEvent {
        event_id: format!("{id}/answer-1"),
        request_id: id.clone(),
        kind: NotifyKind::InformationAnswered,
    };
    assert!(
        notify(&deps, &event).await.is_err(),
        "not answered yet: tried again later"
    );
    assert!(files(&world.outbox).is_empty());
    world
        .store
        .answer_information_request(
            &id,
            &InformationAnswer {
                answer_id: "answer-1".into(),
                text: "En la oficina del secretario municipal, 550 Main St.".into(),
                by: "sub-agent".into(),
                by_name: "Dana Agent".into(),
                at: chrono::Utc::now(),
            },
        )
        .await
        .unwrap();
    let first = notify(&deps, &event).await.unwrap();
    let again = notify(&deps, &event).await.unwrap();
    assert_eq!((first.sent, again.sent, again.already_sent), (1, 0, 1));
    let sent = files(&world.outbox);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let email = String::from_utf8(world.outbox.read(&sent[0]).unwrap()).unwrap();
    assert!(email.contains("To: ana@example.org"));
    assert!(email.contains("550 Main St."), "the answer, in Spanish");
    assert!(email.contains("Q7KM-4X2P"), "the question's number");
    assert!(
        !email.contains("List-Unsubscribe"),
        "they asked for this answer"
    );
}

#[tokio::test]
async fn a_rising_concern_notice_on_the_queue_tells_the_supervisor_once() {
    use cityfix_app::rising::RisingNotice;
    use cityfix_domain::rising::{Jump, RisingFlag};
    // given the scheduler's notice of a rising concern, delivered twice
    let world = World::new();
    let deps = deps(&world, Arc::new(world.outbox.clone()));
    let jump = Jump {
        count: 15,
        usual: 4.125,
        p_value: 1e-4,
    };
    let to = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
    let notice = RisingNotice {
        rising_concern: RisingFlag::found("pothole", "North East", to, &jump),
        departments: vec!["public-works".into()],
    };
    let mut batch = sqs_event("notify/sqs-batch.json");
    batch.records.truncate(1);
    batch.records[0].body = Some(serde_json::to_string(&notice).unwrap());

    // when notify takes it each time
    for _ in 0..2 {
        let response = notify::handle(&deps, batch.clone()).await;
        assert!(failed_ids(&response).is_empty());
    }

    // then Public Works' supervisor got one e-mail about it, and nobody else anything
    let sent = files(&world.outbox);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let email = String::from_utf8(world.outbox.read(&sent[0]).unwrap()).unwrap();
    assert!(email.contains("To: dana.ortiz@hartford.example"), "{email}");
    assert!(email.contains("Subject: Rising concern: Pothole in North East"));
    assert!(email.contains("http://127.0.0.1:3000/admin/metrics"));
}
