//! Staff working a request over `/staff/v1`: every move of the status table, the role × action ×
//! department matrix, stale versions, redelivered and reused Idempotency-Keys, assignment, notes,
//! priority, expected dates, referral, closing with a photo, the audit log, and the notify event
//! each action puts on the queue.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cityfix_app::messages::NotifyEvent;
use cityfix_app::notify::{notify, NotifyDeps, NotifySettings};
use cityfix_app::ports::{QueueConsumer, RequestStore, SystemClock};
use cityfix_app::transition::StatusDeps;
use cityfix_domain::{Resolution, ServiceRequest, Status, TrackingNumber};
use cityfix_http::auth::{Role, StaffClaims, StaffSignIn, TokenKeys};
use cityfix_testing::{demo_city, force_status, seed_request, World};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use status::{staff_router, Staff};
use tower::ServiceExt;

const POTHOLE: &str = "7K3M-9QZ2";
const REPORTER: &str = "reporter@example.org";

struct Fixture {
    world: World,
    keys: Arc<TokenKeys>,
}

/// Who calls: a role, a department, and their sign-in id.
#[derive(Clone, Copy)]
struct Caller {
    role: Role,
    department: Option<&'static str>,
    sub: &'static str,
}

const SUPERVISOR: Caller = Caller {
    role: Role::Supervisor,
    department: None,
    sub: "local:dana.ortiz",
};
const CREW: Caller = Caller {
    role: Role::Staff,
    department: Some("public-works"),
    sub: "local:sam.reyes",
};
const OTHER_CREW: Caller = Caller {
    role: Role::Staff,
    department: Some("transportation"),
    sub: "local:tom.kelly",
};
const AGENT: Caller = Caller {
    role: Role::Agent,
    department: None,
    sub: "local:call.taker",
};
const ADMIN: Caller = Caller {
    role: Role::Admin,
    department: None,
    sub: "local:admin",
};
const ETHICS: Caller = Caller {
    role: Role::Ethics,
    department: None,
    sub: "local:ethics",
};

impl Fixture {
    /// A pothole of Public Works, open, reported by [`REPORTER`].
    async fn new() -> Fixture {
        let fixture = Fixture {
            world: World::new(),
            keys: Arc::new(TokenKeys::from_secret(b"test secret")),
        };
        fixture.seed(POTHOLE, Status::Open).await;
        fixture
    }

    async fn seed(&self, id: &str, status: Status) -> ServiceRequest {
        let seeded = seed_request(
            &self.world.store,
            id,
            "pothole",
            41.7677,
            -72.67602,
            Some(REPORTER),
        )
        .await;
        let mut request = seeded.clone();
        request.department = Some("public-works".into());
        request.areas = demo_city().areas_at(request.location);
        request.agency_responsible = Some("Department of Public Works".into());
        force_status(&self.world.store, request, status, "routed").await
    }

    fn app(&self) -> axum::Router {
        staff_router(Staff {
            deps: StatusDeps {
                city: demo_city(),
                store: Arc::new(self.world.store.clone()),
                queue: Arc::new(self.world.queue.clone()),
                clock: Arc::new(SystemClock),
                media: Arc::new(self.world.media.clone()),
            },
            metrics: Arc::new(self.world.store.clone()),
            sign_in: StaffSignIn::Local(self.keys.clone()),
        })
    }

    async fn call(
        &self,
        caller: Caller,
        method: &str,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let now = chrono::Utc::now().timestamp() as u64;
        let claims = StaffClaims {
            sub: caller.sub.into(),
            name: "Test".into(),
            role: caller.role,
            department: caller.department.map(str::to_string),
            exp: now + 600,
        };
        let mut request = Request::builder().method(method).uri(path).header(
            "authorization",
            format!("Bearer {}", self.keys.issue(&claims, now).unwrap()),
        );
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.app().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn post(&self, caller: Caller, action: &str, body: Value) -> (StatusCode, Value) {
        let path = format!("/staff/v1/requests/{POTHOLE}/{action}");
        self.call(caller, "POST", &path, Some(body), None).await
    }

    async fn stored(&self) -> ServiceRequest {
        let id = TrackingNumber::parse(POTHOLE).unwrap();
        self.world.store.get(&id).await.unwrap().unwrap()
    }

    /// The notify events waiting on the queue, taken off it.
    async fn notify_events(&self) -> Vec<NotifyEvent> {
        let messages = self.world.queue.receive("notify", 100).await.unwrap();
        for message in &messages {
            self.world
                .queue
                .delete("notify", &message.receipt_handle)
                .await
                .unwrap();
        }
        messages
            .iter()
            .map(|m| serde_json::from_str(&m.body).unwrap())
            .collect()
    }

    fn status_deps(&self) -> StatusDeps {
        StatusDeps {
            city: demo_city(),
            store: Arc::new(self.world.store.clone()),
            queue: Arc::new(self.world.queue.clone()),
            clock: Arc::new(SystemClock),
            media: Arc::new(self.world.media.clone()),
        }
    }

    /// Applies the commands waiting on the status queue, as the status function would; their
    /// outcomes, in order.
    async fn apply_status(&self) -> Vec<cityfix_app::transition::Applied> {
        let deps = self.status_deps();
        let mut outcomes = Vec::new();
        for message in self.world.queue.receive("status", 100).await.unwrap() {
            let command: cityfix_app::messages::StatusCommand =
                serde_json::from_str(&message.body).unwrap();
            outcomes.push(
                cityfix_app::transition::apply(&deps, &command)
                    .await
                    .unwrap(),
            );
            self.world
                .queue
                .delete("status", &message.receipt_handle)
                .await
                .unwrap();
        }
        outcomes
    }

    fn notify_deps(&self) -> NotifyDeps {
        NotifyDeps {
            city: demo_city(),
            store: Arc::new(self.world.store.clone()),
            metrics: Arc::new(self.world.store.clone()),
            mailer: Arc::new(self.world.outbox.clone()),
            sms: Arc::new(self.world.outbox.clone()),
            push: Arc::new(self.world.outbox.clone()),
            queue: Arc::new(self.world.queue.clone()),
            clock: Arc::new(SystemClock),
            settings: NotifySettings {
                public_url: "http://127.0.0.1:3000".into(),
                mail_from: "Hartford 311 <311@hartford.example>".into(),
                links: cityfix_app::links::LinkSigner::new(b"a test link secret"),
                send_lease: cityfix_app::notify::SEND_LEASE,
            },
        }
    }

    /// Runs notify on every waiting event; the e-mails in the outbox, oldest first.
    async fn deliver(&self) -> Vec<String> {
        let deps = self.notify_deps();
        for event in self.notify_events().await {
            notify(&deps, &event).await.unwrap();
        }
        let mut files = self.world.outbox.list().unwrap();
        files.sort_by(|a, b| a.file.cmp(&b.file));
        files
            .iter()
            // Quoted-printable lines are folded at 76 characters: unfold them to read the words.
            .map(|e| {
                String::from_utf8(self.world.outbox.read(&e.file).unwrap())
                    .unwrap()
                    .replace("=\r\n", "")
            })
            .collect()
    }
}

fn legal_moves(body: &Value) -> Vec<String> {
    body["error"]["legal_moves"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn every_move_of_the_status_table_is_taken_or_refused_with_the_legal_moves() {
    use Status::*;
    let legal = |from: Status, to: Status| from.check_transition(to).is_ok();
    for (n, from) in [Submitted, Open, InProgress, Closed, Archived]
        .into_iter()
        .enumerate()
    {
        for to in Status::ALL {
            let fixture = Fixture::new().await;
            let id = format!("7K3M-{}", ["AAA2", "AAA3", "AAA4", "AAA5", "AAA6"][n]);
            let seeded = fixture.seed(&id, from).await;
            let mut body = json!({ "to": to.as_str() });
            if to == Closed {
                body["resolution"] = json!("fixed");
            }
            let path = format!("/staff/v1/requests/{id}/transitions");
            let (status, answer) = fixture
                .call(SUPERVISOR, "POST", &path, Some(body), None)
                .await;
            let stored = fixture.world.store.get(&seeded.id).await.unwrap().unwrap();
            if legal(from, to) {
                assert_eq!(status, StatusCode::OK, "{from} → {to}: {answer}");
                assert_eq!(stored.status, to, "{from} → {to}");
                assert_eq!(answer["request"]["version"], json!(seeded.version + 1));
                assert_eq!(fixture.notify_events().await.len(), 1, "{from} → {to}");
            } else {
                assert_eq!(status, StatusCode::CONFLICT, "{from} → {to}: {answer}");
                assert_eq!(answer["error"]["code"], "illegal_transition");
                assert_eq!(answer["error"]["current_status"], json!(from));
                let expected: Vec<String> = from
                    .legal_moves()
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect();
                assert_eq!(legal_moves(&answer), expected, "{from} → {to}");
                assert_eq!(stored.version, seeded.version, "nothing written");
                assert!(fixture.notify_events().await.is_empty());
            }
        }
    }
}

#[tokio::test]
async fn closing_takes_a_resolution_and_no_action_a_note_and_nothing_is_half_written() {
    let fixture = Fixture::new().await;
    for (body, field) in [
        (json!({ "to": "closed" }), "resolution"),
        (json!({ "to": "closed", "resolution": "no_action" }), "note"),
        (json!({ "to": "closed", "resolution": "cancelled" }), "note"),
        (
            json!({ "to": "closed", "resolution": "duplicate" }),
            "resolution",
        ),
        (
            json!({ "to": "closed", "resolution": "mended" }),
            "resolution",
        ),
        (json!({ "to": "shut" }), "to"),
        (
            json!({ "to": "closed", "resolution": "fixed", "note": "x".repeat(2001) }),
            "note",
        ),
        (
            json!({ "to": "closed", "resolution": "fixed", "media": ["not-uploaded"] }),
            "media",
        ),
    ] {
        let (status, answer) = fixture.post(SUPERVISOR, "transitions", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }
    let (status, answer) = fixture
        .post(
            SUPERVISOR,
            "transitions",
            json!({ "to": "closed", "surprise": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let stored = fixture.stored().await;
    assert_eq!(stored.status, Status::Open);
    assert_eq!(stored.version, 2);
    assert!(fixture.notify_events().await.is_empty());

    let (status, _) = fixture
        .post(
            SUPERVISOR,
            "transitions",
            json!({ "to": "closed", "resolution": "no_action", "note": "On private property" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let stored = fixture.stored().await;
    assert_eq!(stored.resolution, Some(Resolution::NoAction));
    assert!(stored.closed_at.is_some());
    assert_eq!(stored.status_notes.as_deref(), Some("On private property"));
}

#[tokio::test]
async fn a_stale_version_is_refused_with_the_current_one() {
    let fixture = Fixture::new().await;
    let (status, answer) = fixture
        .post(
            CREW,
            "transitions",
            json!({ "to": "in_progress", "expected_version": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "stale_version");
    assert_eq!(answer["error"]["current_version"], 2);
    let (status, answer) = fixture
        .post(
            CREW,
            "transitions",
            json!({ "to": "in_progress", "expected_version": 2 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["request"]["version"], 3);
}

#[tokio::test]
async fn a_retried_call_is_applied_once_and_a_reused_key_with_another_body_is_refused() {
    let fixture = Fixture::new().await;
    let path = format!("/staff/v1/requests/{POTHOLE}/notes");
    let note = json!({ "text": "Crew booked for Tuesday", "public": true });
    let (first, answer) = fixture
        .call(CREW, "POST", &path, Some(note.clone()), Some("note-1"))
        .await;
    assert_eq!(first, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "changed");
    let (again, answer) = fixture
        .call(CREW, "POST", &path, Some(note.clone()), Some("note-1"))
        .await;
    assert_eq!(again, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "already_applied");
    let (reused, answer) = fixture
        .call(
            CREW,
            "POST",
            &path,
            Some(json!({ "text": "Something else", "public": true })),
            Some("note-1"),
        )
        .await;
    assert_eq!(reused, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["code"], "idempotency_key_reused");
    // Another person's key of the same name is theirs.
    let (theirs, _) = fixture
        .call(
            SUPERVISOR,
            "POST",
            &path,
            Some(note.clone()),
            Some("note-1"),
        )
        .await;
    assert_eq!(theirs, StatusCode::OK);

    let id = TrackingNumber::parse(POTHOLE).unwrap();
    let notes = fixture
        .world
        .store
        .timeline(&id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.note.as_deref() == Some("Crew booked for Tuesday"))
        .count();
    assert_eq!(notes, 2, "one note each for the crew and the supervisor");
    let events = fixture.notify_events().await;
    let distinct: std::collections::BTreeSet<_> = events.iter().map(|e| &e.event_id).collect();
    assert_eq!(distinct.len(), 2, "{events:?}");
    let deps = fixture.notify_deps();
    for event in &events {
        notify(&deps, event).await.unwrap();
    }
    assert_eq!(
        fixture.world.outbox.list().unwrap().len(),
        2,
        "the reporter hears of each note once, however often its event comes"
    );
}

#[tokio::test]
async fn a_reused_key_on_a_merge_into_another_request_changes_nothing() {
    let fixture = Fixture::new().await;
    fixture.seed("7K3M-BBB2", Status::Open).await;
    fixture.seed("7K3M-BBB3", Status::Open).await;
    let path = format!("/staff/v1/requests/{POTHOLE}/merge");
    let (status, answer) = fixture
        .call(
            SUPERVISOR,
            "POST",
            &path,
            Some(json!({ "into": "7K3M-BBB2" })),
            Some("merge-1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    fixture.notify_events().await;
    let (status, answer) = fixture
        .call(
            SUPERVISOR,
            "POST",
            &path,
            Some(json!({ "into": "7K3M-BBB3" })),
            Some("merge-1"),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let other = TrackingNumber::parse("7K3M-BBB3").unwrap();
    assert!(fixture
        .world
        .store
        .followers(&other)
        .await
        .unwrap()
        .is_empty());
    assert!(fixture.notify_events().await.is_empty());
}

#[tokio::test]
async fn the_queue_marks_a_request_with_duplicates_until_unmerged_and_one_reopened_after_a_fix() {
    let fixture = Fixture::new().await;
    let original = fixture.seed("7K3M-CCC2", Status::Open).await;
    let listed = |mark: &'static str| {
        let fixture = &fixture;
        async move {
            let path = format!("/staff/v1/queue?department=public-works&mark={mark}");
            let (status, answer) = fixture.call(SUPERVISOR, "GET", &path, None, None).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            answer["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let count = r[if mark == "reopened" {
                        "reopened"
                    } else {
                        "duplicates"
                    }]
                    .clone();
                    (r["service_request_id"].as_str().unwrap().to_string(), count)
                })
                .collect::<Vec<_>>()
        }
    };
    assert!(listed("has_duplicates").await.is_empty());

    // a merge counts the duplicate on the original, an unmerge takes it back
    let (status, answer) = fixture
        .post(SUPERVISOR, "merge", json!({ "into": "7K3M-CCC2" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        listed("has_duplicates").await,
        [("7K3M-CCC2".to_string(), json!(1))]
    );
    let stored = fixture
        .world
        .store
        .get(&original.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.duplicates, stored.status), (1, Status::Open));
    let (status, answer) = fixture.post(SUPERVISOR, "unmerge", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(listed("has_duplicates").await.is_empty());
    assert_eq!(
        fixture.stored().await.reopened,
        0,
        "an unmerge is no reopening"
    );

    // a fix worked again is reopened
    for to in ["closed", "open"] {
        let (status, answer) = fixture
            .post(
                SUPERVISOR,
                "transitions",
                json!({ "to": to, "resolution": (to == "closed").then_some("fixed") }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{to}: {answer}");
    }
    assert_eq!(listed("reopened").await, [(POTHOLE.to_string(), json!(1))]);

    let (status, answer) = fixture
        .call(
            SUPERVISOR,
            "GET",
            "/staff/v1/queue?department=public-works&mark=stale",
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer.to_string().contains("has_duplicates and reopened"),
        "{answer}"
    );
}

#[tokio::test]
async fn roles_act_in_their_department_agents_annotate_and_ethics_only_on_confidential_reports() {
    // (caller, note, in progress, priority, assignment) → allowed
    let table = [
        (AGENT, [true, false, false, false]),
        (CREW, [true, true, true, true]),
        (OTHER_CREW, [false, false, false, false]),
        (SUPERVISOR, [true, true, true, true]),
        (ADMIN, [true, true, true, true]),
        (ETHICS, [false, false, false, false]),
    ];
    for (caller, allowed) in table {
        let fixture = Fixture::new().await;
        let actions = [
            ("notes", json!({ "text": "Called back", "public": false })),
            ("transitions", json!({ "to": "in_progress" })),
            (
                "priority",
                json!({ "priority": "high", "reason": "Near a school" }),
            ),
            (
                "assignment",
                json!({ "assignee": "local:lee.chen", "note": "Lee has the patcher" }),
            ),
        ];
        for ((action, body), allowed) in actions.into_iter().zip(allowed) {
            let (status, answer) = fixture.post(caller, action, body).await;
            let expected = if allowed {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(
                status, expected,
                "{:?} {:?} {action}: {answer}",
                caller.role, caller.department
            );
        }
    }
}

#[tokio::test]
async fn assignment_moves_a_request_to_another_queue_or_person_and_refuses_unknown_names() {
    let fixture = Fixture::new().await;
    for (body, field) in [
        (json!({ "department": "roads" }), "department"),
        (json!({ "assignee": "local:nobody" }), "assignee"),
        (
            json!({ "department": "transportation", "assignee": "local:sam.reyes" }),
            "assignee",
        ),
    ] {
        let (status, answer) = fixture.post(CREW, "assignment", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field);
    }
    let (status, answer) = fixture
        .post(CREW, "assignment", json!({ "assignee": "local:lee.chen" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["request"]["assignee"], "local:lee.chen");
    let (status, answer) = fixture
        .post(
            CREW,
            "assignment",
            json!({ "department": "transportation", "note": "It is a signal, not a pothole" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, queue) = fixture
        .call(
            OTHER_CREW,
            "GET",
            "/staff/v1/queue?department=transportation",
            None,
            None,
        )
        .await;
    assert_eq!(queue["requests"][0]["service_request_id"], POTHOLE);
    // Public Works no longer works it.
    let (status, _) = fixture
        .post(CREW, "transitions", json!({ "to": "in_progress" }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let stored = fixture.stored().await;
    assert_eq!(
        stored.assignee, None,
        "a move to another department unassigns"
    );
    assert_eq!(
        stored.agency_responsible.as_deref(),
        Some("Transportation & Traffic Engineering")
    );
    let timeline = fixture.world.store.timeline(&stored.id).await.unwrap();
    let moved = timeline.last().unwrap();
    assert!(moved.public);
    assert_eq!(
        moved.note.as_deref(),
        Some("Moved to Transportation & Traffic Engineering")
    );
    assert_eq!(
        moved.internal_note.as_deref(),
        Some("It is a signal, not a pothole")
    );
    let person = &timeline[timeline.len() - 2];
    assert!(!person.public, "who in a department works it is internal");
}

#[tokio::test]
async fn an_internal_note_stays_with_staff_and_a_public_one_reaches_the_reporter() {
    let fixture = Fixture::new().await;
    let (status, _) = fixture
        .post(
            CREW,
            "notes",
            json!({ "text": "Gate code 4411", "public": false }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = fixture
        .post(
            CREW,
            "notes",
            json!({ "text": "We have ordered the asphalt", "public": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let emails = fixture.deliver().await;
    assert_eq!(emails.len(), 1, "only the public note is told");
    assert!(emails[0].contains("We have ordered the asphalt"));
    assert!(!emails[0].contains("4411"));
    let stored = fixture.stored().await;
    let timeline = fixture.world.store.timeline(&stored.id).await.unwrap();
    let public = cityfix_http::api::request_view(&demo_city(), &stored, &timeline).to_string();
    assert!(!public.contains("4411"), "{public}");
    assert!(
        !public.contains("sam.reyes"),
        "no staff id in public: {public}"
    );
    assert!(public.contains("We have ordered the asphalt"));
    assert_eq!(
        stored.status_notes.as_deref(),
        Some("We have ordered the asphalt")
    );
}

#[tokio::test]
async fn closing_with_a_photo_of_the_fix_sends_the_photo_to_reporter_and_followers() {
    let fixture = Fixture::new().await;
    // given a checked photo the crew uploaded, and a neighbour who follows the request
    let mut request = fixture.stored().await;
    let version = request.version;
    request.media = vec![format!("originals/{POTHOLE}/fix-1.jpg")];
    request.version += 1;
    let entry = cityfix_domain::TimelineEntry {
        event_id: "fix-1".into(),
        at: request.updated_at,
        kind: cityfix_domain::TimelineKind::Media,
        status: None,
        note: Some("Photo added".into()),
        public: true,
        actor: None,
        internal_note: None,
        media: Vec::new(),
    };
    fixture
        .world
        .store
        .update(&request, version, &entry)
        .await
        .unwrap();
    let neighbour = cityfix_domain::Contact {
        email: Some("neighbour@example.org".into()),
        ..Default::default()
    };
    let via = TrackingNumber::parse("7K3M-CCC2").unwrap();
    fixture
        .world
        .store
        .add_follower(
            &request.id,
            &cityfix_app::ports::Follower::new(neighbour, via),
        )
        .await
        .unwrap();

    // when the crew closes it as fixed with that photo
    let (status, answer) = fixture
        .post(
            CREW,
            "transitions",
            json!({ "to": "closed", "resolution": "fixed", "note": "Filled and rolled", "media": ["fix-1"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // then the reporter and the neighbour each get one message with the photo
    let emails = fixture.deliver().await;
    assert_eq!(emails.len(), 2, "{emails:?}");
    let photo = format!("http://127.0.0.1:3000/api/v1/media/{POTHOLE}/fix-1.jpg");
    for email in &emails {
        assert!(email.contains("Subject: Fixed: 7K3M-9QZ2"), "{email}");
        assert!(email.contains(&photo), "{email}");
        assert!(email.contains("Filled and rolled"));
    }
    assert!(emails
        .iter()
        .any(|e| e.contains("To: reporter@example.org")));
    assert!(emails
        .iter()
        .any(|e| e.contains("To: neighbour@example.org")));
    let fixes = fixture
        .world
        .store
        .fixes(
            "pothole",
            chrono::Utc::now() - chrono::Duration::days(1),
            10,
        )
        .await
        .unwrap();
    assert_eq!(fixes.len(), 1, "the fix is kept for expected dates");
    assert_eq!(fixes[0].request_id, POTHOLE);
    let timeline = fixture.world.store.timeline(&request.id).await.unwrap();
    assert_eq!(
        timeline.last().unwrap().media,
        vec![format!("originals/{POTHOLE}/fix-1.jpg")]
    );
}

#[tokio::test]
async fn priority_and_expected_dates_are_set_with_a_reason() {
    let fixture = Fixture::new().await;
    let (status, answer) = fixture
        .post(
            CREW,
            "priority",
            json!({ "priority": "urgent", "reason": "" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, answer) = fixture
        .post(
            CREW,
            "priority",
            json!({ "priority": "critical", "reason": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, _) = fixture
        .post(
            CREW,
            "priority",
            json!({ "priority": "urgent", "reason": "Cyclists swerving" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for bad in ["next week", "2020-01-01T00:00:00Z"] {
        let (status, answer) = fixture
            .post(
                CREW,
                "expected",
                json!({ "expected_datetime": bad, "reason": "Waiting for parts" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {answer}");
    }
    let later = (chrono::Utc::now() + chrono::Duration::days(5)).to_rfc3339();
    let (status, answer) = fixture
        .post(
            CREW,
            "expected",
            json!({ "expected_datetime": later, "reason": "Waiting for the asphalt plant to open" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["request"]["expected_datetime"].is_string());
    let stored = fixture.stored().await;
    assert_eq!(stored.priority, cityfix_domain::Priority::Urgent);
    assert!(stored.expected_at.is_some());
    let emails = fixture.deliver().await;
    assert_eq!(emails.len(), 1, "the new date is told; the priority is not");
    assert!(emails[0].contains("Waiting for the asphalt plant to open"));
}

#[tokio::test]
async fn staff_refer_a_request_to_the_agency_responsible() {
    let fixture = Fixture::new().await;
    let (status, answer) = fixture
        .post(CREW, "referral", json!({ "agency": "nasa" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let agency = demo_city().agencies[0].clone();
    let (status, answer) = fixture
        .post(
            CREW,
            "referral",
            json!({ "agency": agency.id, "note": "State route" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let stored = fixture.stored().await;
    assert_eq!(stored.status, Status::Closed);
    assert_eq!(stored.resolution, Some(Resolution::Referred));
    let emails = fixture.deliver().await;
    assert!(
        emails
            .iter()
            .any(|e| e.contains(&format!("To: {}", agency.email))),
        "the agency gets the report"
    );
    assert!(emails
        .iter()
        .any(|e| e.contains("To: reporter@example.org")));
    // Taken back by assigning it to a department.
    let (status, answer) = fixture
        .post(
            SUPERVISOR,
            "assignment",
            json!({ "department": "public-works" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let stored = fixture.stored().await;
    assert_eq!(stored.status, Status::Open);
    assert_eq!(stored.agency, None);
}

#[tokio::test]
async fn the_audit_log_records_who_did_what_before_and_after_for_admins() {
    let fixture = Fixture::new().await;
    fixture
        .post(CREW, "transitions", json!({ "to": "in_progress" }))
        .await;
    fixture
        .post(
            CREW,
            "notes",
            json!({ "text": "Gate code 4411", "public": false }),
        )
        .await;
    let path = format!("/staff/v1/audit?request={POTHOLE}");
    let (status, _) = fixture.call(SUPERVISOR, "GET", &path, None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, log) = fixture.call(ADMIN, "GET", &path, None, None).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let records = log["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{log}");
    assert_eq!(records[0]["actor"], "local:sam.reyes");
    assert_eq!(records[0]["action"], "transition");
    assert_eq!(records[0]["before"]["status"], "open");
    assert_eq!(records[0]["after"]["status"], "in_progress");
    assert_eq!(records[1]["note"], "Gate code 4411");
    let (_, by_actor) = fixture
        .call(
            ADMIN,
            "GET",
            "/staff/v1/audit?actor=local:nobody",
            None,
            None,
        )
        .await;
    assert_eq!(by_actor["records"], json!([]));
    for bad in [
        "/staff/v1/audit?from=yesterday",
        "/staff/v1/audit?from=2020-01-01T00:00:00Z",
        "/staff/v1/audit?request=nope",
        "/staff/v1/audit?limit=0",
    ] {
        let (status, answer) = fixture.call(ADMIN, "GET", bad, None, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {answer}");
    }
}

#[tokio::test]
async fn a_backlog_tells_every_request_it_covers_once_and_new_ones_while_it_stands() {
    use cityfix_app::transition::Applied;
    let fixture = Fixture::new().await;
    fixture.seed("7K3M-DDD2", Status::InProgress).await;
    let later = (chrono::Utc::now() + chrono::Duration::days(21)).to_rfc3339();
    let caller = &fixture;
    let declare = move |body: Value| async move {
        caller
            .call(SUPERVISOR, "POST", "/staff/v1/backlogs", Some(body), None)
            .await
    };
    let storm = json!({ "service_code": "pothole", "area": "Downtown", "expected": later,
                        "message": "Storm damage: crews are on fallen trees first." });

    // only supervisors declare, and only for a real service, area and date
    let (status, _) = fixture
        .call(
            CREW,
            "POST",
            "/staff/v1/backlogs",
            Some(storm.clone()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (field, value) in [
        ("service_code", json!("potholes")),
        ("area", json!("Atlantis")),
        ("expected", json!("2020-01-01T00:00:00Z")),
        ("message", json!("")),
    ] {
        let mut body = storm.clone();
        body[field] = value;
        let (status, answer) = declare(body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {answer}"
        );
    }
    assert!(fixture.notify_events().await.is_empty());

    // a backlog tells both worked potholes Downtown, once each
    let (status, answer) = declare(storm.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["requests_told"], 2);
    let backlog_id = answer["backlog"]["id"].as_str().unwrap().to_string();
    let outcomes = fixture.apply_status().await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Applied::Changed { .. })),
        "{outcomes:?}"
    );
    let stored = fixture.stored().await;
    assert_eq!(stored.backlogs, vec![backlog_id.clone()]);
    assert!(stored.expected_at.unwrap() > chrono::Utc::now() + chrono::Duration::days(20));
    let emails = fixture.deliver().await;
    assert_eq!(emails.len(), 2, "one notice per reporter");
    assert!(emails
        .iter()
        .all(|e| e.contains("A delay on") && e.contains("Storm damage")));

    // the scheduler finds nothing more to tell, however often it runs, until a new one comes
    let city = demo_city();
    let sweep = || {
        cityfix_app::backlog::queue_backlog_notices(
            &city,
            &fixture.world.store,
            &fixture.world.queue,
        )
    };
    assert_eq!(sweep().await.unwrap(), 0);
    fixture.seed("7K3M-DDD3", Status::Open).await;
    assert_eq!(sweep().await.unwrap(), 1);
    assert_eq!(
        sweep().await.unwrap(),
        1,
        "queued again until status applies it"
    );
    let outcomes = fixture.apply_status().await;
    assert_eq!(outcomes.len(), 2);
    assert!(matches!(outcomes[0], Applied::Changed { .. }));
    assert_eq!(
        outcomes[1],
        Applied::AlreadyApplied,
        "the redelivery changes nothing"
    );
    assert_eq!(sweep().await.unwrap(), 0);
    let emails = fixture.deliver().await;
    assert_eq!(emails.len(), 3, "the new reporter is told once");

    // lifting it is on each covered request's timeline; nobody is e-mailed for it
    let path = format!("/staff/v1/backlogs/{backlog_id}");
    let (status, answer) = fixture.call(SUPERVISOR, "DELETE", &path, None, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["requests_told"], 3);
    fixture.apply_status().await;
    let stored = fixture.stored().await;
    assert!(stored.backlogs.is_empty());
    let timeline = fixture.world.store.timeline(&stored.id).await.unwrap();
    assert_eq!(
        timeline.last().unwrap().kind,
        cityfix_domain::TimelineKind::BacklogLifted
    );
    assert_eq!(fixture.deliver().await.len(), 3);
    assert_eq!(
        sweep().await.unwrap(),
        0,
        "a lifted backlog tells nobody new"
    );
    let (_, list) = fixture
        .call(SUPERVISOR, "GET", "/staff/v1/backlogs", None, None)
        .await;
    assert!(list["backlogs"][0]["lifted_at"].is_string(), "{list}");
}

/// Puts checked photos on the pothole as the media function and status would have, the first
/// becoming its `media_url`.
async fn with_photos(fixture: &Fixture, media_ids: &[&str]) {
    let mut request = fixture.stored().await;
    let version = request.version;
    request.media = media_ids
        .iter()
        .map(|id| format!("originals/{POTHOLE}/{id}.jpg"))
        .collect();
    request.media_url = Some(format!(
        "http://127.0.0.1:3000/api/v1/media/{POTHOLE}/{}.jpg",
        media_ids[0]
    ));
    request.version += 1;
    let entry = cityfix_domain::TimelineEntry {
        event_id: "photos".into(),
        at: request.updated_at,
        kind: cityfix_domain::TimelineKind::Media,
        status: None,
        note: Some("Photos added".into()),
        public: true,
        actor: None,
        internal_note: None,
        media: request.media.clone(),
    };
    fixture
        .world
        .store
        .update(&request, version, &entry)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_photo_kept_private_is_in_no_public_output_and_no_message() {
    // given a pothole with a photo showing a face and one of the street
    let fixture = Fixture::new().await;
    with_photos(&fixture, &["face", "street"]).await;
    let privacy = |media: &str| format!("media/{media}/privacy");
    let keep = json!({ "private": true, "reason": "a passer-by's face" });

    // when an agent, or a crew of another department, tries to hide it: refused, nothing written
    for caller in [AGENT, OTHER_CREW] {
        let (status, answer) = fixture.post(caller, &privacy("face"), keep.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    }
    let (status, answer) = fixture.post(CREW, &privacy("nope"), keep.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(fixture.stored().await.private_media.is_empty());

    // when the crew keeps it private
    let (status, answer) = fixture.post(CREW, &privacy("face"), keep.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let face = format!("originals/{POTHOLE}/face.jpg");
    assert_eq!(answer["request"]["private_media"], json!([face]));
    // and again: nothing to change
    let (status, answer) = fixture.post(CREW, &privacy("face"), keep.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["code"], "unchanged");

    // then nobody is told of it, and the audit log has who and why
    assert!(fixture.deliver().await.is_empty(), "an internal change");
    let stored = fixture.stored().await;
    let audit = fixture
        .world
        .store
        .audit(&cityfix_app::ports::AuditQuery {
            request: Some(stored.id.clone()),
            actor: None,
            from: chrono::Utc::now() - chrono::Duration::hours(1),
            to: chrono::Utc::now() + chrono::Duration::hours(1),
            limit: 10,
        })
        .await
        .unwrap();
    let record = audit.last().unwrap();
    assert_eq!(
        (record.action.as_str(), record.actor.as_str()),
        ("media_privacy", CREW.sub)
    );
    assert!(record.note.as_deref().unwrap().contains("passer-by"));

    // when the crew closes it showing both photos
    let (status, answer) = fixture
        .post(
            CREW,
            "transitions",
            json!({ "to": "closed", "resolution": "fixed", "note": "Filled", "media": ["face", "street"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // then the reporter's message links the street only
    let emails = fixture.deliver().await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert!(emails[0].contains(&format!("/api/v1/media/{POTHOLE}/street.jpg")));
    assert!(!emails[0].contains("face.jpg"), "{}", emails[0]);

    // and the public view, Open311 (JSON, XML, updates feed) show the street only
    let stored = fixture.stored().await;
    let timeline = fixture.world.store.timeline(&stored.id).await.unwrap();
    let public = cityfix_http::api::request_view(&demo_city(), &stored, &timeline);
    let open311 =
        cityfix_http::open311::request_view(&demo_city(), "http://127.0.0.1:3000", &stored);
    let street = format!("http://127.0.0.1:3000/api/v1/media/{POTHOLE}/street.jpg");
    assert_eq!(open311["media_url"], json!(street));
    assert_eq!(open311["media_urls"], json!([street]));
    assert_eq!(public["media_url"], json!(street));
    let history = cityfix_app::updates::public_history(&stored, &timeline);
    let updates: Vec<Value> = history
        .iter()
        .map(|u| cityfix_http::open311::update_view(&demo_city(), "http://127.0.0.1:3000", u))
        .collect();
    let xml = cityfix_http::open311::to_xml("service_requests", &json!([open311]));
    for shown in [
        public.to_string(),
        open311.to_string(),
        json!(updates).to_string(),
        xml,
    ] {
        assert!(!shown.contains("face"), "{shown}");
        assert!(shown.contains("street.jpg"), "{shown}");
    }

    // and staff who read the case see it, others do not
    let file = format!("/staff/v1/requests/{POTHOLE}/media/face.jpg");
    let (status, _) = fixture.call(CREW, "GET", &file, None, None).await;
    assert_eq!(status, StatusCode::FOUND);
    let (status, _) = fixture.call(AGENT, "GET", &file, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // when a supervisor shows it again, it is public again
    let (status, answer) = fixture
        .post(
            SUPERVISOR,
            &privacy("face"),
            json!({ "private": false, "reason": "blurred is fine" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let stored = fixture.stored().await;
    let open311 =
        cityfix_http::open311::request_view(&demo_city(), "http://127.0.0.1:3000", &stored);
    assert_eq!(open311["media_urls"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_update_shows_at_most_five_photos_and_six_are_refused_whole() {
    // given a pothole with six checked photos
    let fixture = Fixture::new().await;
    let ids = ["p1", "p2", "p3", "p4", "p5", "p6"];
    with_photos(&fixture, &ids).await;
    let before = fixture.stored().await;

    // when a note or a transition names all six: refused, nothing written
    for (action, body) in [
        (
            "notes",
            json!({ "text": "Six views", "public": true, "media": ids }),
        ),
        ("transitions", json!({ "to": "in_progress", "media": ids })),
    ] {
        let (status, answer) = fixture.post(CREW, action, body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{action}: {answer}"
        );
        assert_eq!(answer["error"]["code"], "too_many_files", "{answer}");
        assert_eq!(answer["error"]["field"], "media", "{answer}");
    }
    assert_eq!(fixture.stored().await.version, before.version);

    // when a note names five: they are shown with it
    let (status, answer) = fixture
        .post(
            CREW,
            "notes",
            json!({ "text": "Five views", "public": true, "media": &ids[..5] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let timeline = fixture.world.store.timeline(&before.id).await.unwrap();
    assert_eq!(timeline.last().unwrap().media.len(), 5);
}

#[tokio::test]
async fn only_supervisors_and_admins_moderate_with_a_reason_audited_and_told_to_nobody() {
    // (caller, hide, edit the description) → allowed
    let table = [
        (AGENT, false),
        (CREW, false),
        (OTHER_CREW, false),
        (SUPERVISOR, true),
        (ADMIN, true),
        (ETHICS, false),
    ];
    for (caller, allowed) in table {
        let fixture = Fixture::new().await;
        let actions = [
            (
                "visibility",
                json!({ "hidden": true, "reason": "abusive words" }),
            ),
            (
                "description",
                json!({ "description": "A pothole", "reason": "a name in it" }),
            ),
        ];
        for (action, body) in actions {
            let (status, answer) = fixture.post(caller, action, body).await;
            let expected = if allowed {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(status, expected, "{:?} {action}: {answer}", caller.role);
        }
        let stored = fixture.stored().await;
        assert_eq!(stored.hidden, allowed, "{:?}", caller.role);
        assert_eq!(stored.original_description.is_some(), allowed);
    }
}

#[tokio::test]
async fn a_hidden_request_and_an_edited_description_are_marked_for_staff_and_undone() {
    let fixture = Fixture::new().await;
    let mut described = fixture.stored().await;
    let reporters = "Hole outside number 12, Jo Bloggs next door is a menace";
    described.description = Some(reporters.into());
    force_status(&fixture.world.store, described, Status::Open, "described").await;

    // a reason is required, and a body must say what it asks
    let (status, answer) = fixture
        .post(
            SUPERVISOR,
            "visibility",
            json!({ "hidden": true, "reason": " " }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, answer) = fixture
        .post(
            SUPERVISOR,
            "description",
            json!({ "description": "x", "restore_original": true, "reason": "both" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(!fixture.stored().await.hidden);

    // when a supervisor hides it and edits its description
    let (status, answer) = fixture
        .post(
            SUPERVISOR,
            "visibility",
            json!({ "hidden": true, "reason": "abusive words" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = fixture
        .post(
            SUPERVISOR,
            "description",
            json!({ "description": "A pothole by the kerb", "reason": "a neighbour's name" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // then staff read both marked, with the reporter's words and why on the internal timeline
    let path = format!("/staff/v1/requests/{POTHOLE}");
    let (_, case) = fixture.call(CREW, "GET", &path, None, None).await;
    assert_eq!(case["hidden"], json!(true), "{case}");
    assert_eq!(case["description"], json!("A pothole by the kerb"));
    assert_eq!(case["original_description"], json!(reporters));
    let moderated: Vec<&Value> = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["kind"] == "moderated")
        .collect();
    assert_eq!(moderated.len(), 2, "{case}");
    assert!(moderated
        .iter()
        .all(|entry| entry["public"] == json!(false)));
    assert!(moderated[0]["note"]
        .as_str()
        .unwrap()
        .contains("abusive words"));
    let (_, caller_view) = fixture.call(AGENT, "GET", &path, None, None).await;
    assert_eq!(caller_view["hidden"], json!(true), "{caller_view}");
    let (_, queue) = fixture
        .call(CREW, "GET", "/staff/v1/queue", None, None)
        .await;
    assert_eq!(queue["requests"][0]["hidden"], json!(true), "{queue}");

    // and the audit log has who, what and why, the hiding before and after
    let stored = fixture.stored().await;
    let audit = fixture
        .world
        .store
        .audit(&cityfix_app::ports::AuditQuery {
            request: Some(stored.id.clone()),
            actor: None,
            from: chrono::Utc::now() - chrono::Duration::hours(1),
            to: chrono::Utc::now() + chrono::Duration::hours(1),
            limit: 10,
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().map(|r| r.action.as_str()).collect();
    assert!(
        actions.ends_with(&["hide", "edit_description"]),
        "{actions:?}"
    );
    let hiding = &audit[audit.len() - 2];
    assert!((!hiding.before.hidden) && hiding.after.hidden);
    assert_eq!(hiding.actor, SUPERVISOR.sub);
    assert!(audit[audit.len() - 1]
        .note
        .as_deref()
        .unwrap()
        .contains("a neighbour's name"));
    // nobody is told of moderation
    assert!(fixture.deliver().await.is_empty());

    // when an admin undoes both
    let (status, answer) = fixture
        .post(
            ADMIN,
            "visibility",
            json!({ "hidden": false, "reason": "reviewed" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = fixture
        .post(
            ADMIN,
            "description",
            json!({ "restore_original": true, "reason": "reviewed" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let stored = fixture.stored().await;
    assert!(!stored.hidden);
    assert_eq!(stored.description.as_deref(), Some(reporters));
    assert_eq!(stored.original_description, None);
    // and undoing again changes nothing
    let (status, answer) = fixture
        .post(
            ADMIN,
            "description",
            json!({ "restore_original": true, "reason": "again" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["code"], "unchanged");
}
