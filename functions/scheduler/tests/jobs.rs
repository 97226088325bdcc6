//! The scheduler's breach notices and archiving on a fixed clock, through status and notify as
//! on AWS: the scheduler only queues status commands, status writes, notify sends.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use cityfix_app::messages::{NotifyEvent, StatusCommand};
use cityfix_app::notify::{notify, NotifyDeps, NotifySettings};
use cityfix_app::ports::{Follower, QueueConsumer, RequestStore};
use cityfix_app::transition::{apply, Applied, StatusDeps};
use cityfix_domain::{City, Contact, Resolution, ServiceRequest, Status, TrackingNumber};
use cityfix_testing::{demo_city, force_status, seed_request, FixedClock, World};
use scheduler::SchedulerDeps;

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, day, hour, 0, 0).unwrap()
}

/// The demo city with a second supervisor in Public Works, so "each supervisor" is two.
fn city_with_two_supervisors() -> Arc<City> {
    let mut city = demo_city();
    let works = Arc::get_mut(&mut city)
        .unwrap()
        .departments
        .iter_mut()
        .find(|d| d.id == "public-works")
        .unwrap();
    let mut second = works.members[0].clone();
    second.id = "local:jo.park".into();
    second.name = "Jo Park".into();
    second.email = Some("jo.park@hartford.example".into());
    works.members.push(second);
    let mut no_mail = works.members[0].clone();
    no_mail.id = "local:no.mail".into();
    no_mail.email = None;
    works.members.push(no_mail);
    city
}

/// One data folder, and the functions over it as they are at a given time. Every call makes
/// them afresh from the stored data only, as a restarted process (or another Lambda) would.
struct City311 {
    world: World,
    city: Arc<City>,
}

impl City311 {
    fn new() -> Self {
        City311 {
            world: World::new(),
            city: city_with_two_supervisors(),
        }
    }

    fn scheduler(&self, now: DateTime<Utc>) -> SchedulerDeps {
        SchedulerDeps {
            city: self.city.clone(),
            store: Arc::new(self.world.store.clone()),
            queue: Arc::new(self.world.queue.clone()),
            clock: Arc::new(FixedClock(now)),
            media: Arc::new(self.world.media.clone()),
            metrics: Arc::new(self.world.store.clone()),
        }
    }

    fn status(&self, now: DateTime<Utc>) -> StatusDeps {
        StatusDeps {
            city: self.city.clone(),
            store: Arc::new(self.world.store.clone()),
            queue: Arc::new(self.world.queue.clone()),
            clock: Arc::new(FixedClock(now)),
            media: Arc::new(self.world.media.clone()),
        }
    }

    fn notify(&self, now: DateTime<Utc>) -> NotifyDeps {
        NotifyDeps {
            city: self.city.clone(),
            store: Arc::new(self.world.store.clone()),
            metrics: Arc::new(self.world.store.clone()),
            mailer: Arc::new(self.world.outbox.clone()),
            sms: Arc::new(self.world.outbox.clone()),
            push: Arc::new(self.world.outbox.clone()),
            queue: Arc::new(self.world.queue.clone()),
            clock: Arc::new(FixedClock(now)),
            settings: NotifySettings {
                public_url: "https://hartford.example/311".into(),
                mail_from: "Hartford 311 <311@hartford.example>".into(),
                links: cityfix_app::links::LinkSigner::new(b"a test link secret"),
                send_lease: cityfix_app::notify::SEND_LEASE,
            },
        }
    }

    /// One scheduler tick at `now`, then status and notify working off what it queued.
    async fn tick(&self, now: DateTime<Utc>) -> (scheduler::Ticked, Vec<Applied>) {
        let event = serde_json::json!({ "resources": ["test"] });
        let ticked = scheduler::handle(&self.scheduler(now), event)
            .await
            .unwrap();
        let applied = self.work_queues(now).await;
        (ticked, applied)
    }

    /// Status applies every waiting command, then notify sends for every waiting event.
    async fn work_queues(&self, now: DateTime<Utc>) -> Vec<Applied> {
        let mut applied = Vec::new();
        for message in self.take("status").await {
            let command: StatusCommand = serde_json::from_str(&message).unwrap();
            applied.push(apply(&self.status(now), &command).await.unwrap());
        }
        for message in self.take("notify").await {
            let event: NotifyEvent = serde_json::from_str(&message).unwrap();
            notify(&self.notify(now), &event).await.unwrap();
        }
        applied
    }

    async fn take(&self, queue: &str) -> Vec<String> {
        let messages = self.world.queue.receive(queue, 100).await.unwrap();
        for message in &messages {
            self.world
                .queue
                .delete(queue, &message.receipt_handle)
                .await
                .unwrap();
        }
        messages.into_iter().map(|m| m.body).collect()
    }

    /// The e-mails sent so far: (recipient line, whole message).
    fn emails(&self) -> Vec<(String, String)> {
        let outbox = &self.world.outbox;
        let mut sent: Vec<(String, String)> = outbox
            .list()
            .unwrap()
            .iter()
            .filter(|e| e.channel == "email")
            .map(|e| {
                let text = String::from_utf8(outbox.read(&e.file).unwrap()).unwrap();
                let to = text
                    .lines()
                    .find(|l| l.starts_with("To:"))
                    .unwrap_or_default()
                    .to_string();
                (to, text)
            })
            .collect();
        sent.sort();
        sent
    }

    /// A pothole routed to Public Works at day 1, 09:00, expected done by `expected`.
    async fn worked(&self, id: &str, status: Status, expected: DateTime<Utc>) -> ServiceRequest {
        let store = &self.world.store;
        let mut request = seed_request(
            store,
            id,
            "pothole",
            41.7677,
            -72.67602,
            Some("reporter@example.org"),
        )
        .await;
        request.department = Some("public-works".into());
        request.expected_at = Some(expected);
        request.address = Some("550 Main St".into());
        force_status(store, request, status, "routed").await
    }

    async fn get(&self, id: &str) -> ServiceRequest {
        let id = TrackingNumber::parse(id).unwrap();
        self.world.store.get(&id).await.unwrap().unwrap()
    }
}

#[tokio::test]
async fn each_supervisor_hears_of_a_breach_once_across_runs_redeliveries_and_restarts() {
    // given a pothole expected done by day 4, 09:00, still open
    let city = City311::new();
    city.worked("7K3M-9QZ2", Status::Open, at(4, 9)).await;

    // when the scheduler ticks before the date, nothing is noticed
    let (ticked, _) = city.tick(at(4, 8)).await;
    assert_eq!(ticked.breaches, 0);
    assert!(city.emails().is_empty());

    // and when it ticks a day and three hours late, each supervisor with an e-mail hears of it
    let (ticked, applied) = city.tick(at(5, 12)).await;
    assert_eq!(ticked.breaches, 1);
    assert!(matches!(applied[..], [Applied::Changed { .. }]));
    let sent = city.emails();
    let recipients: Vec<&str> = sent.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(
        recipients,
        [
            "To: dana.ortiz@hartford.example",
            "To: jo.park@hartford.example"
        ]
    );
    let (_, mail) = &sent[0];
    for part in [
        "7K3M-9QZ2",
        "550 Main St",
        "1 day 3 hours late",
        "https://hartford.example/311/staff/#/requests/7K3M-9QZ2",
        "Dear Dana Ortiz,",
    ] {
        assert!(mail.contains(part), "{part} missing from:\n{mail}");
    }
    assert!(!mail.contains("reporter@example.org"));

    // and the breach is on the staff timeline, not the public one; status wrote it
    let request = city.get("7K3M-9QZ2").await;
    assert_eq!(request.breach_noticed_at, Some(at(5, 12)));
    let timeline = city.world.store.timeline(&request.id).await.unwrap();
    let breach: Vec<_> = timeline
        .iter()
        .filter(|e| e.event_id == "sla-breach")
        .collect();
    assert_eq!(breach.len(), 1);
    assert!(!breach[0].public);

    // when the scheduler runs again, later, and after a restart, nothing more is sent
    for later in [at(5, 13), at(6, 9)] {
        let (ticked, _) = city.tick(later).await;
        assert_eq!(ticked.breaches, 0, "a noticed request is not listed again");
    }
    let restarted = City311 {
        world: city.world,
        city: city_with_two_supervisors(),
    };
    restarted.tick(at(7, 9)).await;
    assert_eq!(restarted.emails().len(), 2);

    // and a redelivered command (or one queued twice by runs before status caught up) changes
    // nothing and sends nothing twice
    let command = StatusCommand::NoticeBreach {
        request_id: request.id.clone(),
    };
    for _ in 0..2 {
        let applied = apply(&restarted.status(at(7, 10)), &command).await.unwrap();
        assert_eq!(applied, Applied::AlreadyApplied);
    }
    restarted.work_queues(at(7, 10)).await;
    assert_eq!(restarted.emails().len(), 2);
    assert_eq!(restarted.get("7K3M-9QZ2").await, request);
}

#[tokio::test]
async fn no_notice_for_a_request_closed_not_yet_due_or_without_a_date() {
    let city = City311::new();
    city.worked("AAAA-0001", Status::Closed, at(2, 9)).await;
    city.worked("AAAA-0002", Status::InProgress, at(9, 9)).await;
    let mut undated = city.worked("AAAA-0003", Status::Open, at(2, 9)).await;
    undated.expected_at = None;
    force_status(&city.world.store, undated, Status::Open, "rescheduled").await;

    let (ticked, _) = city.tick(at(5, 9)).await;
    assert_eq!(ticked.breaches, 0);
    assert!(city.emails().is_empty());

    // a notice queued for a request closed before status applied it is refused
    let command = StatusCommand::NoticeBreach {
        request_id: TrackingNumber::parse("AAAA-0001").unwrap(),
    };
    let applied = apply(&city.status(at(5, 9)), &command).await.unwrap();
    assert!(matches!(applied, Applied::Refused(_)), "{applied:?}");
    city.work_queues(at(5, 9)).await;
    assert!(city.emails().is_empty());

    // the one in progress is noticed once its day has passed
    let (ticked, _) = city.tick(at(9, 10)).await;
    assert_eq!(ticked.breaches, 1);
    assert_eq!(city.emails().len(), 2);
}

/// A request closed as fixed at `closed`, reported by someone, followed by someone else.
async fn closed_with_people(city: &City311, id: &str, closed: DateTime<Utc>) -> ServiceRequest {
    let mut request = city.worked(id, Status::Open, at(1, 9)).await;
    request.resolution = Some(Resolution::Fixed);
    request.closed_at = Some(closed);
    let request = force_status(&city.world.store, request, Status::Closed, "closed").await;
    let follower = Follower::new(
        Contact {
            email: Some("neighbour@example.org".into()),
            ..Contact::default()
        },
        TrackingNumber::parse("ZZZZ-0001").unwrap(),
    );
    city.world
        .store
        .add_follower(&request.id, &follower)
        .await
        .unwrap();
    request
}

#[tokio::test]
async fn a_request_is_archived_after_the_retention_only_and_its_contacts_forgotten_once() {
    // given a request closed on day 2 (the demo city keeps closed requests 365 days)
    let city = City311::new();
    assert_eq!(city.city.retention.archive_after_days, 365);
    let closed = closed_with_people(&city, "7K3M-9QZ2", at(2, 9)).await;
    let id = closed.id.clone();

    // when the scheduler ticks a day before the retention ends, nothing changes
    let (ticked, _) = city.tick(at(2, 9) + Duration::days(364)).await;
    assert_eq!(ticked.archiving, 0);
    assert_eq!(city.get("7K3M-9QZ2").await, closed);
    assert!(city.world.store.reporter(&id).await.unwrap().is_some());

    // when it ticks after the retention
    let after = at(2, 10) + Duration::days(365);
    let (ticked, applied) = city.tick(after).await;
    assert_eq!(ticked.archiving, 1);
    assert!(matches!(
        applied[..],
        [Applied::Changed {
            from: Status::Closed,
            to: Status::Archived
        }]
    ));

    // then it is archived, still readable for statistics, and its contacts are gone
    let archived = city.get("7K3M-9QZ2").await;
    assert_eq!(archived.status, Status::Archived);
    assert_eq!(archived.closed_at, closed.closed_at);
    assert_eq!(archived.service_code, "pothole");
    assert_eq!(city.world.store.reporter(&id).await.unwrap(), None);
    assert_eq!(city.world.store.followers(&id).await.unwrap(), vec![]);
    let timeline = city.world.store.timeline(&id).await.unwrap();
    let entry = timeline.iter().find(|e| e.event_id == "archived").unwrap();
    assert!(!entry.public);
    assert!(city.emails().is_empty(), "nobody is told of archiving");

    // and running again, or a redelivered command, changes nothing twice
    let (ticked, _) = city.tick(after + Duration::minutes(1)).await;
    assert_eq!(
        ticked.archiving, 0,
        "an archived request is not listed again"
    );
    let command = StatusCommand::Archive {
        request_id: id.clone(),
    };
    let applied = apply(&city.status(after), &command).await.unwrap();
    assert_eq!(applied, Applied::AlreadyApplied);
    assert_eq!(city.get("7K3M-9QZ2").await, archived);
    let audit = city
        .world
        .store
        .audit(&cityfix_app::ports::AuditQuery {
            request: Some(id.clone()),
            actor: None,
            from: at(1, 0),
            to: after + Duration::days(1),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "one audit record of the archiving");
    assert_eq!(audit[0].actor, "system:scheduler");
}

#[tokio::test]
async fn a_request_reopened_before_its_archiving_is_applied_is_left_alone() {
    let city = City311::new();
    let closed = closed_with_people(&city, "7K3M-9QZ2", at(2, 9)).await;
    let after = at(2, 10) + Duration::days(365);
    scheduler::handle(&city.scheduler(after), serde_json::json!({}))
        .await
        .unwrap();
    // reopened (by staff or the reporter) before status takes the command
    let mut reopened = closed.clone();
    reopened.closed_at = None;
    force_status(&city.world.store, reopened, Status::Open, "reopened").await;

    let applied = city.work_queues(after).await;
    assert!(matches!(applied[..], [Applied::Refused(_)]), "{applied:?}");
    assert_eq!(city.get("7K3M-9QZ2").await.status, Status::Open);
    assert!(city
        .world
        .store
        .reporter(&closed.id)
        .await
        .unwrap()
        .is_some());
}

/// The path and query of the link in `email` labelled `label` in its HTML part's facts table.
fn answer_link(city: &City311, label: &str) -> String {
    let outbox = &city.world.outbox;
    let file = outbox
        .list()
        .unwrap()
        .into_iter()
        .find(|e| e.channel == "email")
        .unwrap()
        .file;
    let html = String::from_utf8(outbox.read_html(&file).unwrap())
        .unwrap()
        .replace("&#x2f;", "/");
    let row = &html[html
        .find(label)
        .unwrap_or_else(|| panic!("{label} in {html}"))..];
    let href = &row[row.find("href=\"").unwrap() + 6..];
    let link = &href[..href.find('"').unwrap()];
    link.split_once("?t=").unwrap().1.to_string()
}

#[tokio::test]
async fn a_fix_is_asked_about_once_after_its_days_and_not_fixed_reopens_it() {
    // given a pothole fixed on day 2 at 09:00; the demo city asks 3 days later
    let city = City311::new();
    assert_eq!(city.city.residents.survey_after_days, 3);
    let closed = closed_with_people(&city, "7K3M-9QZ2", at(2, 9)).await;

    // nothing before its days are up
    let (early, _) = city.tick(at(5, 8)).await;
    assert_eq!(early.surveys, 0);

    // when the ticks after come
    let (first, _) = city.tick(at(5, 9) + Duration::minutes(1)).await;
    let (second, _) = city.tick(at(5, 9) + Duration::minutes(2)).await;

    // then the reporter, and nobody else, is asked once, with a link for each answer
    assert_eq!((first.surveys, second.surveys), (1, 0));
    let emails = city.emails();
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(emails[0].0, "To: reporter@example.org");
    assert!(emails[0].1.contains("Has it been fixed? 7K3M-9QZ2"));

    // "not fixed" is recorded and reopens it, through status
    let links = cityfix_app::links::LinkSigner::new(b"a test link secret");
    let not_fixed = answer_link(&city, "No, it is not fixed");
    let answered_at = at(5, 12);
    for _ in 0..2 {
        let answered = cityfix_app::survey::answer_survey(
            &city.world.store,
            &city.world.queue,
            &city.city.residents,
            &links,
            &not_fixed,
            answered_at,
        )
        .await
        .unwrap();
        assert_eq!(answered, cityfix_app::survey::Answered::Reopening);
        city.work_queues(answered_at).await;
    }
    let reopened = city.get("7K3M-9QZ2").await;
    assert_eq!(reopened.status, Status::Open);
    let timeline = city.world.store.timeline(&closed.id).await.unwrap();
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e.status == Some(Status::Open) && e.at >= at(5, 0))
            .count(),
        1,
        "one reopening however often the link is used"
    );
    let answers = city
        .world
        .store
        .survey_answers(at(1, 0), at(9, 0), 10)
        .await
        .unwrap();
    assert_eq!(answers.len(), 1);
    assert!(!answers[0].fixed);
    assert_eq!(answers[0].service_code, "pothole");

    // and a question queued before the reopening, delivered late, asks nothing
    let late = NotifyEvent {
        event_id: format!("7K3M-9QZ2/survey-{}", at(2, 9).timestamp()),
        request_id: closed.id.clone(),
        kind: cityfix_app::messages::NotifyKind::SurveyDue,
    };
    let sent = notify(&city.notify(answered_at), &late).await.unwrap();
    assert_eq!(sent.sent, 0);
}

#[tokio::test]
async fn a_forged_or_expired_answer_changes_nothing() {
    let city = City311::new();
    closed_with_people(&city, "7K3M-9QZ2", at(2, 9)).await;
    city.tick(at(5, 9) + Duration::minutes(1)).await;
    let links = cityfix_app::links::LinkSigner::new(b"a test link secret");
    let good = answer_link(&city, "No, it is not fixed");
    let flipped = good.replacen(":n.", ":y.", 1);
    // the reopen window (14 days from day 2) has passed
    let expired_at = at(17, 9);
    for (token, now) in [(&flipped, at(5, 12)), (&good, expired_at)] {
        let answer = cityfix_app::survey::answer_survey(
            &city.world.store,
            &city.world.queue,
            &city.city.residents,
            &links,
            token,
            now,
        )
        .await;
        assert!(
            matches!(answer, Err(cityfix_app::survey::SurveyError::Refused(_))),
            "{answer:?}"
        );
    }
    assert_eq!(city.get("7K3M-9QZ2").await.status, Status::Closed);
    assert!(city.take("status").await.is_empty());
    assert!(city
        .world
        .store
        .survey_answers(at(1, 0), at(9, 0), 10)
        .await
        .unwrap()
        .is_empty());
}
