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
        media: Arc::new(world.media.clone()),
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

/// The race the router cannot see: it links a report to an open one nearby, and that one is
/// closed before status applies the link.
mod original_closed_before_the_link {
    use super::*;
    use cityfix_app::messages::{RoutingJob, StatusCommand};
    use cityfix_app::route::{route, RouterDeps};
    use cityfix_app::transition::apply;
    use cityfix_domain::Resolution;
    use cityfix_testing::{seed_request, seed_request_at};

    const HERE: (f64, f64) = (41.76770, -72.67602);
    const THIRTY_M_NORTH: (f64, f64) = (41.76770 + 30.0 / 111_320.0, -72.67602);

    fn an_hour_ago() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() - chrono::Duration::hours(1)
    }

    /// Routes the submitted `id` and gives back the command the router sent to status.
    async fn routed(world: &World, id: &TrackingNumber) -> StatusCommand {
        let deps = RouterDeps {
            city: demo_city(),
            store: Arc::new(world.store.clone()),
            queue: Arc::new(world.queue.clone()),
            fix_history: Default::default(),
        };
        let job = RoutingJob {
            request_id: id.clone(),
        };
        route(&deps, &job).await.unwrap();
        let sent = world.queue.receive("status", 10).await.unwrap();
        assert_eq!(sent.len(), 1);
        serde_json::from_str(&sent[0].body).unwrap()
    }

    async fn notify_bodies(world: &World) -> Vec<String> {
        let events = world.queue.receive("notify", 10).await.unwrap();
        events.into_iter().map(|e| e.body).collect()
    }

    #[tokio::test]
    async fn a_closed_original_means_the_report_is_routed_afresh_in_the_same_step() {
        // given an open pothole, and a second one 30 m away the router links to it
        let world = World::new();
        let first =
            seed_request_at(&world.store, "AAAA-0001", "pothole", HERE, an_hour_ago()).await;
        force_status(&world.store, first.clone(), Status::Open, "routed").await;
        let second = seed_request(
            &world.store,
            "BBBB-0002",
            "pothole",
            THIRTY_M_NORTH.0,
            THIRTY_M_NORTH.1,
            Some("bo@example.org"),
        )
        .await;
        let command = routed(&world, &second.id).await;
        assert!(
            matches!(&command, StatusCommand::LinkDuplicate { original_id, .. } if original_id == &first.id),
            "{command:?}"
        );

        // when the first is fixed and closed before status applies the link
        let mut fixed = world.store.get(&first.id).await.unwrap().unwrap();
        fixed.resolution = Some(Resolution::Fixed);
        force_status(&world.store, fixed, Status::Closed, "closed").await;
        let outcome = apply(&deps(&world), &command).await.unwrap();

        // then the second is routed in its own right and its reporter is acknowledged
        assert_eq!(
            outcome,
            Applied::Changed {
                from: Status::Submitted,
                to: Status::Open
            }
        );
        let stored = world.store.get(&second.id).await.unwrap().unwrap();
        assert_eq!(stored.status, Status::Open);
        assert_eq!(stored.duplicate_of, None);
        assert_eq!(stored.department.as_deref(), Some("public-works"));
        let events = notify_bodies(&world).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(
            events[0].contains("\"event_id\":\"BBBB-0002/routed\""),
            "{events:?}"
        );

        // and a redelivery of the same link changes nothing
        assert_eq!(
            apply(&deps(&world), &command).await.unwrap(),
            Applied::AlreadyApplied
        );
        assert_eq!(
            world.store.get(&second.id).await.unwrap().unwrap().version,
            stored.version
        );
    }

    #[tokio::test]
    async fn an_original_linked_meanwhile_hands_the_report_to_the_root_of_its_chain() {
        // given two open potholes close together (the second not yet linked) and a third the
        // router links to the second
        let world = World::new();
        let root = seed_request_at(
            &world.store,
            "AAAA-0001",
            "pothole",
            HERE,
            an_hour_ago() - chrono::Duration::hours(1),
        )
        .await;
        force_status(&world.store, root.clone(), Status::Open, "routed").await;
        let middle = seed_request_at(
            &world.store,
            "AAAA-0002",
            "pothole",
            (HERE.0 + 60.0 / 111_320.0, HERE.1),
            an_hour_ago(),
        )
        .await;
        force_status(&world.store, middle.clone(), Status::Open, "routed").await;
        let late = seed_request(
            &world.store,
            "CCCC-0003",
            "pothole",
            HERE.0 + 90.0 / 111_320.0,
            HERE.1,
            Some("cy@example.org"),
        )
        .await;
        let command = routed(&world, &late.id).await;
        assert!(
            matches!(&command, StatusCommand::LinkDuplicate { original_id, .. } if original_id == &middle.id),
            "{command:?}"
        );

        // when staff merge the second into the first before status applies the link
        let merge = StatusCommand::LinkDuplicate {
            request_id: middle.id.clone(),
            original_id: root.id.clone(),
            decision_id: "merge-1".into(),
            by: Some("staff:ana".into()),
        };
        apply(&deps(&world), &merge).await.unwrap();
        let outcome = apply(&deps(&world), &command).await.unwrap();

        // then the third hangs from the first, and its reporter follows the first
        assert_eq!(
            outcome,
            Applied::Changed {
                from: Status::Submitted,
                to: Status::Closed
            }
        );
        let stored = world.store.get(&late.id).await.unwrap().unwrap();
        assert_eq!(stored.duplicate_of.as_ref(), Some(&root.id));
        let followers = world.store.followers(&root.id).await.unwrap();
        assert!(followers.iter().any(|f| f.via == late.id), "{followers:?}");
    }
}

/// Issue 18: forms are issued while the report has room, so more uploads may be checked than it
/// takes; the files are counted when they are attached.
mod more_files_than_a_report_takes {
    use super::*;
    use cityfix_app::media::MAX_FILES_PER_REQUEST;
    use cityfix_app::messages::StatusCommand;
    use cityfix_app::ports::MediaStore;
    use cityfix_app::transition::apply;

    fn attach(n: usize) -> StatusCommand {
        StatusCommand::AttachMedia {
            request_id: TrackingNumber::parse("7K3M-9QZ2").unwrap(),
            media_id: format!("media-{n}"),
            key: format!("originals/7K3M-9QZ2/{n}.jpg"),
            content_type: "image/jpeg".into(),
            url: format!("http://cityfix.test/api/v1/media/7K3M-9QZ2/{n}.jpg"),
        }
    }

    /// Applies `command` as the queue would: again after a failure (here, too many conflicts).
    async fn delivered(deps: &StatusDeps, command: &StatusCommand) -> Applied {
        for _ in 0..20 {
            if let Ok(applied) = apply(deps, command).await {
                return applied;
            }
        }
        panic!("{command:?} never applied");
    }

    #[tokio::test]
    async fn thirteen_photos_checked_together_attach_ten_and_the_rest_are_refused_and_deleted() {
        // given a report and 13 checked photos kept for it, from 13 forms issued while it had none
        let world = World::new();
        seed_sample_pothole(&world.store, None).await;
        let id = TrackingNumber::parse("7K3M-9QZ2").unwrap();
        for n in 0..13 {
            world
                .media
                .put(
                    &format!("originals/7K3M-9QZ2/{n}.jpg"),
                    vec![0xFF, 0xD8, 0xFF],
                    "image/jpeg",
                )
                .await
                .unwrap();
        }

        // when status is asked to attach all 13 at once
        let deps = deps(&world);
        let mut together = tokio::task::JoinSet::new();
        for n in 0..13 {
            let deps = deps.clone();
            together.spawn(async move { (n, delivered(&deps, &attach(n)).await) });
        }
        let mut outcomes = together.join_all().await;
        outcomes.sort_by_key(|(n, _)| *n);
        let outcomes: Vec<Applied> = outcomes.into_iter().map(|(_, o)| o).collect();

        // then ten are attached and three refused, the request holds ten files
        let refused = outcomes.iter().filter(|o| o.is_refused()).count();
        assert_eq!(refused, 13 - MAX_FILES_PER_REQUEST, "{outcomes:?}");
        let request = world.store.get(&id).await.unwrap().unwrap();
        assert_eq!(request.media.len(), MAX_FILES_PER_REQUEST);
        // and each refused file is deleted, with a public note the reporter sees
        let timeline = world.store.timeline(&id).await.unwrap();
        for (n, outcome) in outcomes.iter().enumerate() {
            let key = format!("originals/7K3M-9QZ2/{n}.jpg");
            let kept = world.media.head(&key).await.unwrap().is_some();
            assert_eq!(kept, !outcome.is_refused(), "{key}: {outcome:?}");
            assert_eq!(request.media.contains(&key), kept, "{key}");
            let entry = timeline
                .iter()
                .find(|e| e.event_id == format!("media-{n}"))
                .expect("every file has its timeline entry");
            assert!(entry.public);
            if !kept {
                assert_eq!(
                    entry.note.as_deref(),
                    Some("Photo not added: a report takes at most 10 photos and videos")
                );
            }
        }

        // and a refused file delivered again changes nothing
        let refused_one = outcomes.iter().position(|o| o.is_refused()).unwrap();
        let before = world.store.get(&id).await.unwrap().unwrap();
        assert_eq!(
            apply(&deps, &attach(refused_one)).await.unwrap(),
            Applied::AlreadyApplied
        );
        assert_eq!(world.store.get(&id).await.unwrap().unwrap(), before);
    }
}

#[tokio::test]
async fn work_from_an_open311_client_and_a_resident_is_applied_once_however_often_it_comes() {
    // given an open pothole of Public Works
    let world = World::new();
    let seeded = seed_sample_pothole(&world.store, Some("ana@example.org")).await;
    let mut routed = seeded.clone();
    routed.department = Some("public-works".into());
    force_status(&world.store, routed, Status::Open, "routed").await;
    let id = TrackingNumber::parse("7K3M-9QZ2").unwrap();

    // when the batch of an asset system's update and a "me too" arrives twice
    for _ in 0..2 {
        let response = status::handle(&deps(&world), sqs_event("status/work-batch.json")).await;
        assert!(failed_ids(&response).is_empty());
    }

    // then each changed the request once, with one timeline entry and one audit record each
    let request = world.store.get(&id).await.unwrap().unwrap();
    assert_eq!(request.status, Status::InProgress);
    assert_eq!(request.supporters, 1);
    assert_eq!(request.version, 4);
    let timeline = world.store.timeline(&id).await.unwrap();
    assert_eq!(timeline.len(), 4, "{timeline:?}");
    assert_eq!(
        timeline[2..]
            .iter()
            .filter(|e| e.note.as_deref() == Some("Work order WO-1881 scheduled"))
            .count(),
        1
    );
    let audit = world
        .store
        .audit(&cityfix_app::ports::AuditQuery {
            request: Some(id.clone()),
            actor: None,
            from: chrono::Utc::now() - chrono::Duration::hours(1),
            to: chrono::Utc::now() + chrono::Duration::hours(1),
            limit: 10,
        })
        .await
        .unwrap();
    let actors: Vec<&str> = audit.iter().map(|r| r.actor.as_str()).collect();
    assert_eq!(actors.len(), 2, "{actors:?}");
    assert!(actors.contains(&"open311:Demo asset system"));
}
