//! Once per event, recipient and channel when notify dies in the middle: before the send, after
//! it, and when the queue hands the event to another attempt. See docs/messages.md.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use cityfix_app::links::LinkSigner;
use cityfix_app::messages::{NotifyEvent, NotifyKind};
use cityfix_app::notify::{notify, NotifyDeps, NotifySettings, SEND_LEASE};
use cityfix_app::ports::{Clock, Email, Mailer, PortResult};
use cityfix_domain::TrackingNumber;
use cityfix_embedded::Outbox;
use cityfix_testing::{demo_city, seed_sample_pothole, World};

/// A clock the test moves.
struct Hands(Mutex<DateTime<Utc>>);

impl Clock for Hands {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

impl Hands {
    fn wait(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

/// Where a mailer dies: never returning, as a Lambda stopped mid-call does.
#[derive(Clone, Copy, PartialEq)]
enum Dies {
    Never,
    BeforeSending,
    AfterSending,
}

struct Mail {
    outbox: Outbox,
    sent: AtomicUsize,
    dies: Mutex<Dies>,
}

#[async_trait::async_trait]
impl Mailer for Mail {
    async fn send_email(&self, email: &Email) -> PortResult<()> {
        let dies = *self.dies.lock().unwrap();
        if dies == Dies::BeforeSending {
            std::future::pending::<()>().await;
        }
        self.outbox.send_email(email).await?;
        self.sent.fetch_add(1, Ordering::SeqCst);
        if dies == Dies::AfterSending {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

struct Setup {
    deps: NotifyDeps,
    mail: Arc<Mail>,
    clock: Arc<Hands>,
}

async fn setup(world: &World, dies: Dies) -> Setup {
    seed_sample_pothole(&world.store, Some("ana@example.org")).await;
    let mail = Arc::new(Mail {
        outbox: world.outbox.clone(),
        sent: AtomicUsize::new(0),
        dies: Mutex::new(dies),
    });
    let clock = Arc::new(Hands(Mutex::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap(),
    )));
    let deps = NotifyDeps {
        city: demo_city(),
        store: Arc::new(world.store.clone()),
        metrics: Arc::new(world.store.clone()),
        mailer: mail.clone(),
        sms: Arc::new(world.outbox.clone()),
        push: Arc::new(world.outbox.clone()),
        queue: Arc::new(world.queue.clone()),
        clock: clock.clone(),
        settings: NotifySettings {
            public_url: "http://127.0.0.1:3000".into(),
            mail_from: "Hartford 311 <311@hartford.example>".into(),
            links: LinkSigner::new(b"a test link secret"),
            send_lease: SEND_LEASE,
        },
    };
    Setup { deps, mail, clock }
}

fn acknowledged() -> NotifyEvent {
    NotifyEvent {
        event_id: "7K3M-9QZ2/routed".into(),
        request_id: TrackingNumber::parse("7K3M-9QZ2").unwrap(),
        kind: NotifyKind::Acknowledged,
    }
}

/// One attempt that dies where its mailer does: its future is dropped mid-send.
async fn attempt_that_dies(deps: &NotifyDeps) {
    let attempt = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        notify(deps, &acknowledged()),
    )
    .await;
    assert!(attempt.is_err(), "the attempt was meant to die");
}

#[tokio::test]
async fn a_crash_before_the_send_is_sent_once_by_the_redelivery() {
    let world = World::new();
    let s = setup(&world, Dies::BeforeSending).await;
    attempt_that_dies(&s.deps).await;
    *s.mail.dies.lock().unwrap() = Dies::Never;

    // a redelivery while the dead attempt's lease runs sends nothing and fails, to come back
    assert!(notify(&s.deps, &acknowledged()).await.is_err());
    assert_eq!(s.mail.sent.load(Ordering::SeqCst), 0);

    // once the lease has run out, the next redelivery sends it, and later ones do not
    s.clock.wait(SEND_LEASE + Duration::seconds(1));
    let sent = notify(&s.deps, &acknowledged()).await.unwrap();
    assert_eq!(sent.sent, 1);
    let again = notify(&s.deps, &acknowledged()).await.unwrap();
    assert_eq!((again.sent, again.already_sent), (0, 1));
    assert_eq!(s.mail.sent.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_crash_after_the_send_sends_nothing_more_within_the_lease_and_once_more_after_it() {
    let world = World::new();
    let s = setup(&world, Dies::AfterSending).await;
    attempt_that_dies(&s.deps).await;
    assert_eq!(s.mail.sent.load(Ordering::SeqCst), 1);
    *s.mail.dies.lock().unwrap() = Dies::Never;

    // the queue redelivers at once (another consumer, or the visibility timeout was short):
    // no second message
    assert!(notify(&s.deps, &acknowledged()).await.is_err());
    assert_eq!(s.mail.sent.load(Ordering::SeqCst), 1);

    // after the lease nothing tells a send that happened from one that did not: the message goes
    // again (SES and SNS take no idempotency key). This is the one window left; it is as wide as
    // the moment between the provider's answer and the write that follows it.
    s.clock.wait(SEND_LEASE + Duration::seconds(1));
    assert_eq!(notify(&s.deps, &acknowledged()).await.unwrap().sent, 1);
    assert_eq!(s.mail.sent.load(Ordering::SeqCst), 2);
    // the outbox names a message by its dedupe key, so locally the resend replaced the first
    let emails = world
        .outbox
        .list()
        .unwrap()
        .into_iter()
        .filter(|e| e.channel == "email")
        .count();
    assert_eq!(emails, 1);
    let later = notify(&s.deps, &acknowledged()).await.unwrap();
    assert_eq!((later.sent, later.already_sent), (0, 1));
}
