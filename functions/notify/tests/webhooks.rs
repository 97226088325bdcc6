//! Webhooks end to end on the embedded adapters and a receiving server on 127.0.0.1: notify
//! queues one delivery per event and webhook, the webhooks function posts it signed with the
//! public view only, and a receiver that is down gets it again later, then the dead-letter queue.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use cityfix_app::links::LinkSigner;
use cityfix_app::messages::{NotifyEvent, NotifyKind};
use cityfix_app::notify::{notify, NotifyDeps};
use cityfix_app::ports::{QueueConsumer, SystemClock};
use cityfix_app::webhooks::{signature, webhook_secret, WebhookDeps, WebhookJob, WEBHOOK_ATTEMPTS};
use cityfix_domain::webhooks::Webhook;
use cityfix_domain::{City, Contact, TrackingNumber};
use cityfix_testing::{demo_city, notify_deps, seed_request_by, World, TEST_LINK_SECRET};
use notify::http_webhooks::HttpWebhooks;
use notify::webhooks::{deliver, Delivery};

/// What the receiver got, and the statuses it answers with, in turn (then 200).
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    answers: Arc<Mutex<Vec<u16>>>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    receiver
        .got
        .lock()
        .unwrap()
        .push((headers, String::from_utf8(body.to_vec()).unwrap()));
    let mut answers = receiver.answers.lock().unwrap();
    let status = if answers.is_empty() {
        200
    } else {
        answers.remove(0)
    };
    StatusCode::from_u16(status).unwrap()
}

/// A receiving server on 127.0.0.1; its URL.
async fn start_receiver(receiver: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cityfix", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/cityfix", post(receive))
        .with_state(receiver);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

struct Fixture {
    world: World,
    city: Arc<City>,
    receiver: Receiver,
}

impl Fixture {
    async fn new(events: &[&str]) -> Fixture {
        let receiver = Receiver::default();
        let url = start_receiver(receiver.clone()).await;
        let mut city = Arc::into_inner(demo_city()).unwrap();
        city.webhooks = vec![Webhook {
            name: "assets".into(),
            url,
            events: events.iter().map(|e| e.to_string()).collect(),
        }];
        let world = World::new();
        let reporter = Contact {
            email: Some("ana.quintero@example.org".into()),
            first_name: Some("Ana".into()),
            last_name: Some("Quintero".into()),
            phone: Some("(860) 555-0199".into()),
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
        Fixture {
            world,
            city: Arc::new(city),
            receiver,
        }
    }

    fn notify(&self) -> NotifyDeps {
        NotifyDeps {
            city: self.city.clone(),
            ..notify_deps(&self.world, "http://127.0.0.1:3000")
        }
    }

    fn webhooks(&self) -> WebhookDeps {
        WebhookDeps {
            city: self.city.clone(),
            store: Arc::new(self.world.store.clone()),
            queue: Arc::new(self.world.queue.clone()),
            sender: Arc::new(HttpWebhooks::new().unwrap()),
            clock: Arc::new(SystemClock),
            links: LinkSigner::new(TEST_LINK_SECRET),
            public_url: "http://127.0.0.1:3000".into(),
        }
    }

    /// The jobs waiting on the webhooks queue, taken off it.
    async fn queued(&self) -> Vec<WebhookJob> {
        let received = self.world.queue.receive("webhooks", 10).await.unwrap();
        for message in &received {
            self.world
                .queue
                .delete("webhooks", &message.receipt_handle)
                .await
                .unwrap();
        }
        received
            .iter()
            .map(|m| serde_json::from_str(&m.body).unwrap())
            .collect()
    }
}

fn acknowledged() -> NotifyEvent {
    NotifyEvent {
        event_id: "7K3M-9QZ2/routed".into(),
        request_id: TrackingNumber::parse("7K3M-9QZ2").unwrap(),
        kind: NotifyKind::Acknowledged,
    }
}

#[tokio::test]
async fn one_event_is_one_signed_delivery_with_nothing_personal() {
    let fixture = Fixture::new(&["received", "closed"]).await;
    let deps = fixture.notify();
    // the event comes three times (redelivery): one delivery is queued
    for _ in 0..3 {
        notify(&deps, &acknowledged()).await.unwrap();
    }
    let jobs = fixture.queued().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].event, "received");

    let delivery = deliver(&fixture.webhooks(), &jobs[0]).await.unwrap();

    assert_eq!(delivery, Delivery::Delivered(200));
    let got = fixture.receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (headers, body) = &got[0];
    assert_eq!(headers["cityfix-event"], "received");
    assert_eq!(headers["cityfix-delivery"], jobs[0].delivery_id.as_str());
    assert_eq!(headers["content-type"], "application/json");
    // the receiver checks the signature with the secret `cityfix webhook-secret assets` prints
    let header = headers["cityfix-signature"].to_str().unwrap();
    let t: i64 = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .parse()
        .unwrap();
    let secret = webhook_secret(&LinkSigner::new(TEST_LINK_SECRET), "assets");
    assert_eq!(header, signature(&secret, t, body));
    let payload: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(payload["event"], "received");
    assert_eq!(payload["request"]["service_request_id"], "7K3M-9QZ2");
    assert_eq!(payload["request"]["service_code"], "pothole");
    for personal in ["ana.quintero", "Quintero", "555-0199", "5550199"] {
        assert!(!body.contains(personal), "{personal} in {body}");
    }
}

#[tokio::test]
async fn an_event_the_webhook_did_not_ask_for_or_a_confidential_request_queues_nothing() {
    let fixture = Fixture::new(&["closed"]).await;
    notify(&fixture.notify(), &acknowledged()).await.unwrap();
    assert!(fixture.queued().await.is_empty());

    let mut fixture = Fixture::new(&["*"]).await;
    let mut city = Arc::into_inner(std::mem::replace(&mut fixture.city, demo_city())).unwrap();
    for service in city.services.iter_mut().filter(|s| s.code == "pothole") {
        service.confidential = true;
    }
    fixture.city = Arc::new(city);
    let notified = notify(&fixture.notify(), &acknowledged()).await.unwrap();
    assert_eq!(notified.webhooks, 0);
    assert!(fixture.queued().await.is_empty());
}

#[tokio::test]
async fn a_receiver_that_is_down_is_tried_again_later_then_the_job_fails_for_the_dead_letter_queue()
{
    let fixture = Fixture::new(&["*"]).await;
    *fixture.receiver.answers.lock().unwrap() = vec![503; WEBHOOK_ATTEMPTS as usize];
    notify(&fixture.notify(), &acknowledged()).await.unwrap();
    let mut job = fixture.queued().await.remove(0);
    let deps = fixture.webhooks();

    let first = deliver(&deps, &job).await.unwrap();

    assert_eq!(first, Delivery::Retrying(Duration::from_secs(60)));
    // queued again, hidden for its delay, as the next try
    assert!(
        fixture.queued().await.is_empty(),
        "not visible before its delay"
    );
    assert_eq!(fixture.world.queue.depth("webhooks").await.unwrap(), 1);
    for attempt in 2..WEBHOOK_ATTEMPTS {
        job.attempt = attempt;
        assert!(matches!(
            deliver(&deps, &job).await.unwrap(),
            Delivery::Retrying(_)
        ));
    }
    job.attempt = WEBHOOK_ATTEMPTS;
    let last = deliver(&deps, &job).await.unwrap_err();
    assert!(last.contains("failed 5 tries"), "{last}");
    assert_eq!(
        fixture.receiver.got.lock().unwrap().len(),
        WEBHOOK_ATTEMPTS as usize
    );
}

#[tokio::test]
async fn a_receiver_that_refuses_the_body_is_not_asked_again() {
    let fixture = Fixture::new(&["*"]).await;
    *fixture.receiver.answers.lock().unwrap() = vec![422];
    notify(&fixture.notify(), &acknowledged()).await.unwrap();
    let job = fixture.queued().await.remove(0);

    assert_eq!(
        deliver(&fixture.webhooks(), &job).await.unwrap(),
        Delivery::Refused(422)
    );
    assert_eq!(fixture.world.queue.depth("webhooks").await.unwrap(), 0);
}

#[tokio::test]
async fn the_sample_batch_hands_back_only_its_poison_message() {
    let fixture = Fixture::new(&["*"]).await;
    let response = notify::webhooks::handle(
        &fixture.webhooks(),
        cityfix_testing::sqs_event("notify/sqs-webhook-jobs.json"),
    )
    .await;
    assert_eq!(
        cityfix_testing::failed_ids(&response),
        ["5e1c7b0a-2f4d-4c8e-9b3a-6d2f1e0c9a77"]
    );
    assert_eq!(fixture.receiver.got.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_request_staff_hid_is_sent_to_no_webhook_and_an_edited_description_goes_as_edited() {
    use cityfix_app::ports::RequestStore;
    let fixture = Fixture::new(&["*"]).await;
    let id = TrackingNumber::parse("7K3M-9QZ2").unwrap();
    // a delivery queued while it was shown, then staff hide it
    notify(&fixture.notify(), &acknowledged()).await.unwrap();
    let jobs = fixture.queued().await;
    assert_eq!(jobs.len(), 1);
    let change = |change: fn(&mut cityfix_domain::ServiceRequest)| {
        let store = fixture.world.store.clone();
        let id = id.clone();
        async move {
            let mut request = store.get(&id).await.unwrap().unwrap();
            change(&mut request);
            let version = request.version;
            request.version += 1;
            let mut entry = cityfix_domain::TimelineEntry::submitted(request.updated_at);
            entry.event_id = format!("moderated-{version}");
            entry.public = false;
            store.update(&request, version, &entry).await.unwrap();
        }
    };
    change(|request| request.hidden = true).await;

    // the queued delivery is dropped, and a new event queues none
    let delivery = deliver(&fixture.webhooks(), &jobs[0]).await.unwrap();
    assert!(matches!(delivery, Delivery::Dropped(_)), "{delivery:?}");
    let another = NotifyEvent {
        event_id: "7K3M-9QZ2/another".into(),
        ..acknowledged()
    };
    let notified = notify(&fixture.notify(), &another).await.unwrap();
    assert_eq!(notified.webhooks, 0);
    assert!(fixture.queued().await.is_empty());
    assert!(fixture.receiver.got.lock().unwrap().is_empty());

    // shown again with an edited description: the receiver gets the edited words only
    change(|request| {
        request.hidden = false;
        request.original_description = Some("Jo Bloggs dug this hole".into());
        request.description = Some("A hole".into());
    })
    .await;
    let delivery = deliver(&fixture.webhooks(), &jobs[0]).await.unwrap();
    assert_eq!(delivery, Delivery::Delivered(200));
    let got = fixture.receiver.got.lock().unwrap().clone();
    let body = &got[0].1;
    assert!(body.contains("\"A hole\""), "{body}");
    assert!(!body.contains("Bloggs"), "{body}");
}
