//! The request store contract.

use chrono::Duration;
use cityfix_app::ports::{
    AuditQuery, Created, IdempotencyClaim, PortError, QueueMark, RequestQuery, RequestStore,
};
use cityfix_domain::{
    AuditRecord, AuditState, Priority, ServiceRequest, Status, TimelineEntry, TimelineKind,
};

use crate::sample::{at, id, new_request, with_key};

pub async fn create_then_read_back(store: &dyn RequestStore) {
    let new = new_request("AAAA-0001", "pothole", 1);
    assert_eq!(store.create(&new).await.unwrap(), Created::New);
    assert_eq!(
        store.get(&new.request.id).await.unwrap(),
        Some(new.request.clone())
    );
    assert_eq!(store.reporter(&new.request.id).await.unwrap(), new.reporter);
    assert_eq!(
        store.timeline(&new.request.id).await.unwrap(),
        vec![new.first_entry.clone()]
    );
    assert_eq!(
        store.find_token("token-AAAA-0001").await.unwrap(),
        Some(new.request.id.clone())
    );
    assert_eq!(store.get(&id("ZZZZ-ZZZZ")).await.unwrap(), None);
    assert_eq!(store.find_token("no-such-token").await.unwrap(), None);
}

pub async fn a_taken_tracking_number_is_refused_whole(store: &dyn RequestStore) {
    let first = new_request("AAAA-0002", "pothole", 1);
    store.create(&first).await.unwrap();
    let mut second = new_request("AAAA-0002", "graffiti", 2);
    second.token = "token-other".into();
    second.reporter.as_mut().unwrap().email = Some("someone-else@example.org".into());
    let second = with_key(second, "key-2", "fp", at(59));
    assert!(matches!(
        store.create(&second).await,
        Err(PortError::AlreadyExists(_))
    ));
    assert_eq!(
        store
            .get(&first.request.id)
            .await
            .unwrap()
            .unwrap()
            .service_code,
        "pothole"
    );
    assert_eq!(
        store.reporter(&first.request.id).await.unwrap(),
        first.reporter
    );
    assert_eq!(store.find_token("token-other").await.unwrap(), None);
    let retry = with_key(
        new_request("AAAA-0003", "graffiti", 2),
        "key-2",
        "fp",
        at(59),
    );
    assert_eq!(
        store.create(&retry).await.unwrap(),
        Created::New,
        "the refused create must not have kept its idempotency key"
    );
}

pub async fn an_idempotency_key_replays(store: &dyn RequestStore) {
    let first = with_key(
        new_request("AAAA-0004", "pothole", 1),
        "key-4",
        "fp-1",
        at(1) + Duration::hours(24),
    );
    assert_eq!(store.create(&first).await.unwrap(), Created::New);
    let again = with_key(
        new_request("AAAA-0005", "pothole", 2),
        "key-4",
        "fp-2",
        at(2) + Duration::hours(24),
    );
    assert_eq!(
        store.create(&again).await.unwrap(),
        Created::Replayed {
            id: first.request.id.clone(),
            fingerprint: "fp-1".into(),
            token: Some(first.token.clone()),
        }
    );
    assert_eq!(
        store.get(&again.request.id).await.unwrap(),
        None,
        "a replay writes nothing"
    );
}

pub async fn an_expired_idempotency_key_is_forgotten(store: &dyn RequestStore) {
    let first = with_key(new_request("AAAA-0006", "pothole", 1), "key-6", "fp", at(5));
    store.create(&first).await.unwrap();
    let later = with_key(
        new_request("AAAA-0007", "pothole", 10),
        "key-6",
        "fp",
        at(10) + Duration::hours(24),
    );
    assert_eq!(store.create(&later).await.unwrap(), Created::New);
}

fn routed_entry(minute: u32) -> TimelineEntry {
    TimelineEntry {
        event_id: "routed".into(),
        at: at(minute),
        kind: TimelineKind::Routed,
        status: Some(Status::Open),
        note: Some("Routed".into()),
        public: true,
        actor: None,
        internal_note: None,
        media: Vec::new(),
    }
}

pub async fn a_stale_version_is_a_conflict(store: &dyn RequestStore) {
    let new = new_request("AAAA-0008", "pothole", 1);
    store.create(&new).await.unwrap();
    let mut opened = new.request.clone();
    opened.status = Status::Open;
    opened.version = 2;
    store.update(&opened, 1, &routed_entry(2)).await.unwrap();
    let mut stale = new.request.clone();
    stale.status = Status::Closed;
    stale.version = 2;
    let mut entry = routed_entry(3);
    entry.event_id = "closed".into();
    assert!(matches!(
        store.update(&stale, 1, &entry).await,
        Err(PortError::Conflict(_))
    ));
    assert_eq!(
        store.get(&new.request.id).await.unwrap().unwrap().status,
        Status::Open
    );
    assert_eq!(
        store.timeline(&new.request.id).await.unwrap().len(),
        2,
        "a refused update adds no timeline entry"
    );
}

pub async fn a_request_holding_the_most_files_takes_no_more(store: &dyn RequestStore) {
    // given a request that holds the most files a request takes
    let most = ServiceRequest::MAX_MEDIA;
    let mut new = new_request("AAAA-0013", "pothole", 1);
    new.request.media = (0..most)
        .map(|n| format!("originals/AAAA-0013/{n}.jpg"))
        .collect();
    store.create(&new).await.unwrap();

    // when a writer that read it adds one more, at the version it read
    let mut more = new.request.clone();
    more.media.push("originals/AAAA-0013/late.jpg".into());
    more.version = 2;
    let mut entry = routed_entry(2);
    entry.event_id = "media-late".into();
    let refused = store.update(&more, 1, &entry).await;

    // then the write is refused whole, and a change that adds no file still goes through
    assert!(
        matches!(refused, Err(PortError::Conflict(_))),
        "{refused:?}"
    );
    let stored = store.get(&new.request.id).await.unwrap().unwrap();
    assert_eq!(stored.media.len(), most);
    assert_eq!(stored.version, 1);
    assert_eq!(store.timeline(&new.request.id).await.unwrap().len(), 1);
    let mut opened = new.request.clone();
    opened.status = Status::Open;
    opened.version = 2;
    store.update(&opened, 1, &routed_entry(2)).await.unwrap();

    // and a request with room takes a file
    let mut fewer = new_request("AAAA-0014", "pothole", 1);
    fewer.request.media = vec!["originals/AAAA-0014/0.jpg".into()];
    store.create(&fewer).await.unwrap();
    let mut added = fewer.request.clone();
    added.media.push("originals/AAAA-0014/1.jpg".into());
    added.version = 2;
    store.update(&added, 1, &entry).await.unwrap();
}

pub async fn a_change_is_applied_once(store: &dyn RequestStore) {
    let new = new_request("AAAA-0009", "pothole", 1);
    store.create(&new).await.unwrap();
    let mut opened = new.request.clone();
    opened.status = Status::Open;
    opened.version = 2;
    store.update(&opened, 1, &routed_entry(2)).await.unwrap();
    let mut again = opened.clone();
    again.version = 3;
    let repeated = store.update(&again, 2, &routed_entry(2)).await;
    assert!(
        matches!(repeated, Err(PortError::AlreadyExists(_))),
        "{repeated:?}"
    );
    assert_eq!(
        store.get(&new.request.id).await.unwrap().unwrap().version,
        2,
        "the request is untouched when its entry exists"
    );
}

pub async fn search_filters_and_pages_newest_first(store: &dyn RequestStore) {
    for (n, (code, minute)) in [
        ("pothole", 1),
        ("graffiti", 2),
        ("pothole", 3),
        ("pothole", 4),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .create(&new_request(&format!("BBBB-000{n}"), code, minute))
            .await
            .unwrap();
    }
    let ids = |found: Vec<cityfix_domain::ServiceRequest>| {
        found
            .into_iter()
            .map(|r| r.id.to_string())
            .collect::<Vec<_>>()
    };
    let everything = RequestQuery {
        page: 1,
        page_size: 10,
        ..RequestQuery::default()
    };
    assert_eq!(
        ids(store.search(&everything).await.unwrap()),
        ["BBBB-0003", "BBBB-0002", "BBBB-0001", "BBBB-0000"]
    );
    let potholes = RequestQuery {
        service_codes: vec!["pothole".into()],
        page: 2,
        page_size: 2,
        ..RequestQuery::default()
    };
    assert_eq!(ids(store.search(&potholes).await.unwrap()), ["BBBB-0000"]);
    let window = RequestQuery {
        requested_from: Some(at(2)),
        requested_to: Some(at(3)),
        page: 1,
        page_size: 10,
        ..RequestQuery::default()
    };
    assert_eq!(
        ids(store.search(&window).await.unwrap()),
        ["BBBB-0002", "BBBB-0001"]
    );
    let by_id = RequestQuery {
        ids: vec![id("BBBB-0001"), id("ZZZZ-ZZZZ")],
        page: 1,
        page_size: 10,
        ..RequestQuery::default()
    };
    assert_eq!(ids(store.search(&by_id).await.unwrap()), ["BBBB-0001"]);
    let closed = RequestQuery {
        statuses: vec![Status::Closed],
        page: 1,
        page_size: 10,
        ..RequestQuery::default()
    };
    assert!(store.search(&closed).await.unwrap().is_empty());
}

/// Changes a stored request at `minute`, as routing would.
async fn change_at(store: &dyn RequestStore, mut request: ServiceRequest, minute: u32) {
    let expected = request.version;
    request.version += 1;
    request.status = Status::Open;
    request.updated_at = at(minute);
    store
        .update(&request, expected, &routed_entry(minute))
        .await
        .unwrap();
}

pub async fn search_by_update_time_finds_requests_made_long_before(store: &dyn RequestStore) {
    // given: one made this morning and changed at minute 20, one made two months before and
    // changed at minute 22, one made at minute 5 and never changed, and one made at minute 25
    let changed = new_request("DDDD-0001", "pothole", 1);
    let mut old = new_request("DDDD-0002", "pothole", 1);
    old.request.requested_at = at(1) - Duration::days(60);
    old.request.updated_at = old.request.requested_at;
    old.first_entry.at = old.request.requested_at;
    let untouched = new_request("DDDD-0003", "graffiti", 5);
    let late = new_request("DDDD-0004", "ethics_complaint", 25);
    for new in [&changed, &old, &untouched, &late] {
        store.create(new).await.unwrap();
    }
    change_at(store, changed.request.clone(), 20).await;
    change_at(store, old.request.clone(), 22).await;
    let ids = |found: Vec<ServiceRequest>| {
        found
            .into_iter()
            .map(|r| r.id.to_string())
            .collect::<Vec<_>>()
    };
    let search = |from: Option<u32>, to: Option<u32>, without: &[&str]| RequestQuery {
        updated_from: from.map(at),
        updated_to: to.map(at),
        without_service_codes: without.iter().map(|code| code.to_string()).collect(),
        page: 1,
        page_size: 10,
        ..RequestQuery::default()
    };
    // then: the window holds what changed in it, however long ago it was made, newest made first
    assert_eq!(
        ids(store
            .search(&search(Some(10), Some(22), &[]))
            .await
            .unwrap()),
        ["DDDD-0001", "DDDD-0002"]
    );
    assert_eq!(
        ids(store.search(&search(Some(10), None, &[])).await.unwrap()),
        ["DDDD-0004", "DDDD-0001", "DDDD-0002"]
    );
    assert_eq!(
        ids(store.search(&search(None, Some(10), &[])).await.unwrap()),
        ["DDDD-0003"]
    );
    assert_eq!(
        ids(store
            .search(&search(Some(10), None, &["ethics_complaint"]))
            .await
            .unwrap()),
        ["DDDD-0001", "DDDD-0002"]
    );
    // and a window of update times narrows a window of requested times
    let made_this_month = RequestQuery {
        requested_from: Some(at(0)),
        ..search(Some(10), None, &[])
    };
    assert_eq!(
        ids(store.search(&made_this_month).await.unwrap()),
        ["DDDD-0004", "DDDD-0001"]
    );
}

pub async fn stuck_submitted_lists_only_old_submitted(store: &dyn RequestStore) {
    let old = new_request("CCCC-0001", "pothole", 1);
    let recent = new_request("CCCC-0002", "pothole", 30);
    let routed = new_request("CCCC-0003", "pothole", 2);
    for new in [&old, &recent, &routed] {
        store.create(new).await.unwrap();
    }
    let mut opened = routed.request.clone();
    opened.status = Status::Open;
    opened.version = 2;
    store.update(&opened, 1, &routed_entry(3)).await.unwrap();
    assert_eq!(
        store.stuck_submitted(at(20), 10).await.unwrap(),
        vec![old.request.id]
    );
}

pub async fn a_department_queue_pages_oldest_first(store: &dyn RequestStore) {
    // five open Public Works requests, one of Parks, one Public Works request closed
    let mut ids = Vec::new();
    for n in 0..7u32 {
        let new = new_request(&format!("EEEE-000{n}"), "pothole", 10 - n);
        store.create(&new).await.unwrap();
        let mut routed = new.request.clone();
        routed.status = if n == 6 { Status::Closed } else { Status::Open };
        routed.department = Some(if n == 5 { "parks" } else { "public-works" }.into());
        routed.version = 2;
        store.update(&routed, 1, &routed_entry(20)).await.unwrap();
        if n < 5 {
            ids.push(new.request.id.clone());
        }
    }
    ids.reverse(); // the last made was requested first
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store
            .department_queue("public-works", Status::Open, after.as_deref(), 2)
            .await
            .unwrap();
        pages += 1;
        assert!(page.requests.len() <= 2);
        seen.extend(page.requests.iter().map(|r| r.id.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        seen, ids,
        "every open Public Works request once, oldest first"
    );
    assert_eq!(pages, 3);
    let parks = store
        .department_queue("parks", Status::Open, None, 10)
        .await
        .unwrap();
    assert_eq!(parks.requests.len(), 1);
    assert_eq!(parks.next, None);
    let closed = store
        .department_queue("public-works", Status::Closed, None, 10)
        .await
        .unwrap();
    assert_eq!(closed.requests.len(), 1);

    // and an urgent request, then a high one, come before every other, however recent
    let mut ahead = Vec::new();
    for (n, priority) in [Priority::High, Priority::Urgent].into_iter().enumerate() {
        let new = new_request(&format!("EEEE-001{n}"), "pothole", 40);
        store.create(&new).await.unwrap();
        let mut routed = new.request.clone();
        routed.status = Status::Open;
        routed.department = Some("public-works".into());
        routed.priority = priority;
        routed.version = 2;
        store.update(&routed, 1, &routed_entry(41)).await.unwrap();
        ahead.insert(0, routed.id.clone());
    }
    let first = store
        .department_queue("public-works", Status::Open, None, 3)
        .await
        .unwrap();
    let first: Vec<_> = first.requests.iter().map(|r| r.id.clone()).collect();
    assert_eq!(first, [ahead[0].clone(), ahead[1].clone(), ids[0].clone()]);
}

pub async fn a_marked_queue_holds_only_the_marked_requests_of_the_whole_queue_in_its_order(
    store: &dyn RequestStore,
) {
    // given open Public Works requests (the earliest made first), with duplicates or reopened or
    // both or neither, one of Parks reopened and one closed with duplicates
    let marks: [(&str, u32, u32, &str, Status); 7] = [
        ("MMMM-0001", 2, 0, "public-works", Status::Open),
        ("MMMM-0002", 0, 1, "public-works", Status::Open),
        ("MMMM-0003", 0, 0, "public-works", Status::Open),
        ("MMMM-0004", 1, 2, "public-works", Status::Open),
        ("MMMM-0005", 0, 0, "public-works", Status::Open),
        ("MMMM-0006", 0, 1, "parks", Status::Open),
        ("MMMM-0007", 3, 0, "public-works", Status::Closed),
    ];
    let mut stored = Vec::new();
    for (n, (tracking, duplicates, reopened, department, status)) in marks.into_iter().enumerate() {
        let new = new_request(tracking, "pothole", n as u32);
        stored.push(
            stored_as(store, &new, status, 30, |request| {
                request.department = Some(department.into());
                request.duplicates = duplicates;
                request.reopened = reopened;
            })
            .await,
        );
    }
    let read_all = |mark: QueueMark, department: &'static str, status: Status| async move {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store
                .marked_queue(department, status, mark, after.as_deref(), 1)
                .await
                .unwrap();
            assert!(page.requests.len() <= 1);
            seen.extend(page.requests.iter().map(|r| r.id.to_string()));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        seen
    };
    // when each mark's queue is read a request at a time, then it holds only the marked requests
    // of the department and status, oldest first, across pages
    assert_eq!(
        read_all(QueueMark::HasDuplicates, "public-works", Status::Open).await,
        ["MMMM-0001", "MMMM-0004"]
    );
    assert_eq!(
        read_all(QueueMark::Reopened, "public-works", Status::Open).await,
        ["MMMM-0002", "MMMM-0004"]
    );
    assert_eq!(
        read_all(QueueMark::Reopened, "parks", Status::Open).await,
        ["MMMM-0006"]
    );
    assert_eq!(
        read_all(QueueMark::HasDuplicates, "public-works", Status::Closed).await,
        ["MMMM-0007"]
    );
    // and an urgent request marked comes first, as in the whole queue
    let mut urgent = stored[3].clone();
    urgent.priority = Priority::Urgent;
    urgent.version = 3;
    store
        .update(&urgent, 2, &noted_entry(31, "urgent"))
        .await
        .unwrap();
    assert_eq!(
        read_all(QueueMark::HasDuplicates, "public-works", Status::Open).await,
        ["MMMM-0004", "MMMM-0001"]
    );
    // and a request whose duplicates were all unlinked leaves that mark's queue
    let mut unlinked = stored[0].clone();
    unlinked.duplicates = 0;
    unlinked.version = 3;
    store
        .update(&unlinked, 2, &noted_entry(32, "unlinked"))
        .await
        .unwrap();
    assert_eq!(
        read_all(QueueMark::HasDuplicates, "public-works", Status::Open).await,
        ["MMMM-0004"]
    );
    // and a reopened request closed again is in the closed queue's mark, not the open one's
    let mut closed = urgent;
    closed.status = Status::Closed;
    closed.version = 4;
    store
        .update(&closed, 3, &noted_entry(33, "closed"))
        .await
        .unwrap();
    assert_eq!(
        read_all(QueueMark::Reopened, "public-works", Status::Open).await,
        ["MMMM-0002"]
    );
    assert_eq!(
        read_all(QueueMark::Reopened, "public-works", Status::Closed).await,
        ["MMMM-0004"]
    );
}

fn noted_entry(minute: u32, event_id: &str) -> TimelineEntry {
    TimelineEntry {
        event_id: event_id.into(),
        kind: TimelineKind::Note,
        ..routed_entry(minute)
    }
}

pub async fn a_delivery_is_claimed_once(store: &dyn RequestStore) {
    assert!(store.claim_delivery("E1/email/abc", at(1)).await.unwrap());
    assert!(!store.claim_delivery("E1/email/abc", at(2)).await.unwrap());
    assert!(store.claim_delivery("E1/sms/abc", at(2)).await.unwrap());
    store.release_delivery("E1/email/abc").await.unwrap();
    assert!(store.claim_delivery("E1/email/abc", at(3)).await.unwrap());
}

pub async fn a_send_is_claimed_once_taken_over_after_its_lease_and_never_after_it_went_out(
    store: &dyn RequestStore,
) {
    use cityfix_app::ports::SendClaim;
    let lease = |n: u32| at(n) + chrono::Duration::seconds(30);
    assert_eq!(
        store
            .begin_send("E1/email/abc", at(1), lease(1))
            .await
            .unwrap(),
        SendClaim::Claimed
    );
    // a redelivery while the first attempt holds it
    assert_eq!(
        store
            .begin_send("E1/email/abc", at(1), lease(1))
            .await
            .unwrap(),
        SendClaim::InFlight
    );
    // the first attempt died: once its lease runs out, a redelivery takes it over
    let later = lease(1) + chrono::Duration::seconds(1);
    assert_eq!(
        store
            .begin_send("E1/email/abc", later, later + chrono::Duration::seconds(30))
            .await
            .unwrap(),
        SendClaim::Claimed
    );
    store.finish_send("E1/email/abc", later).await.unwrap();
    let much_later = later + chrono::Duration::days(1);
    assert_eq!(
        store
            .begin_send("E1/email/abc", much_later, much_later)
            .await
            .unwrap(),
        SendClaim::Sent
    );
    // a sent message is never given back; a failed one is
    store.abandon_send("E1/email/abc").await.unwrap();
    assert_eq!(
        store
            .begin_send("E1/email/abc", much_later, much_later)
            .await
            .unwrap(),
        SendClaim::Sent
    );
    assert_eq!(
        store
            .begin_send("E1/sms/abc", at(2), lease(2))
            .await
            .unwrap(),
        SendClaim::Claimed
    );
    store.abandon_send("E1/sms/abc").await.unwrap();
    assert_eq!(
        store
            .begin_send("E1/sms/abc", at(2), lease(2))
            .await
            .unwrap(),
        SendClaim::Claimed
    );
}

pub async fn a_channel_turned_off_stays_off_for_that_recipient_only(store: &dyn RequestStore) {
    assert!(!store.channel_off("email:abc", "email").await.unwrap());
    store
        .set_channel_off("email:abc", "email", true, at(1))
        .await
        .unwrap();
    store
        .set_channel_off("email:abc", "email", true, at(2))
        .await
        .unwrap();
    assert!(store.channel_off("email:abc", "email").await.unwrap());
    assert!(!store.channel_off("email:abc", "sms").await.unwrap());
    assert!(!store.channel_off("email:def", "email").await.unwrap());
    store
        .set_channel_off("email:abc", "email", false, at(3))
        .await
        .unwrap();
    assert!(!store.channel_off("email:abc", "email").await.unwrap());
}

pub async fn near_finds_requests_within_the_circle_by_cell(store: &dyn RequestStore) {
    use cityfix_app::ports::Near;
    use cityfix_domain::Location;
    let metres_north = |m: f64| 41.7677 + m / 111_320.0;
    for (n, distance) in [0.0, 40.0, 90.0, 400.0, 1500.0].into_iter().enumerate() {
        let mut new = new_request(&format!("DDDD-000{n}"), "pothole", n as u32);
        new.request.location = Location::new(metres_north(distance), -72.67602).unwrap();
        store.create(&new).await.unwrap();
    }
    let around = |radius_m: f64| RequestQuery {
        near: Some(Near {
            location: Location::new(41.7677, -72.67602).unwrap(),
            radius_m,
        }),
        page: 1,
        page_size: 50,
        ..RequestQuery::default()
    };
    let found = |ids: Vec<cityfix_domain::ServiceRequest>| {
        let mut ids: Vec<String> = ids.into_iter().map(|r| r.id.to_string()).collect();
        ids.sort();
        ids
    };
    assert_eq!(
        found(store.search(&around(50.0)).await.unwrap()),
        ["DDDD-0000", "DDDD-0001"]
    );
    assert_eq!(
        found(store.search(&around(100.0)).await.unwrap()),
        ["DDDD-0000", "DDDD-0001", "DDDD-0002"]
    );
    assert_eq!(found(store.search(&around(2000.0)).await.unwrap()).len(), 5);
}

pub async fn followers_are_added_once_and_removed_by_the_report_they_came_through(
    store: &dyn RequestStore,
) {
    use cityfix_app::ports::Follower;
    use cityfix_domain::Contact;
    let original = new_request("EEEE-0001", "pothole", 1);
    store.create(&original).await.unwrap();
    let id = original.request.id.clone();
    let ana = Follower::new(
        Contact {
            email: Some("ana@example.org".into()),
            ..Contact::default()
        },
        crate::sample::id("EEEE-0002"),
    );
    let ben = Follower::new(
        Contact {
            phone: Some("860-555-0100".into()),
            ..Contact::default()
        },
        crate::sample::id("EEEE-0003"),
    );
    store.add_follower(&id, &ana).await.unwrap();
    store.add_follower(&id, &ana).await.unwrap();
    store.add_follower(&id, &ben).await.unwrap();
    assert_eq!(store.followers(&id).await.unwrap().len(), 2);
    store
        .remove_followers_via(&id, &crate::sample::id("EEEE-0002"))
        .await
        .unwrap();
    assert_eq!(store.followers(&id).await.unwrap(), vec![ben]);
}

pub async fn a_follower_who_asked_is_confirmed_once_and_removed_alone(store: &dyn RequestStore) {
    use cityfix_app::ports::Follower;
    use cityfix_domain::Contact;
    let original = new_request("EEEE-0011", "pothole", 1);
    store.create(&original).await.unwrap();
    let id = original.request.id.clone();
    let asked = at(5);
    let cara = Follower::asking(
        Contact {
            email: Some("cara@example.org".into()),
            ..Contact::default()
        },
        id.clone(),
        asked,
    );
    let dev = Follower::asking(
        Contact {
            phone: Some("860-555-0101".into()),
            ..Contact::default()
        },
        id.clone(),
        asked,
    );
    store.add_follower(&id, &cara).await.unwrap();
    store.add_follower(&id, &dev).await.unwrap();
    let read = store.followers(&id).await.unwrap();
    assert!(read.iter().all(|f| f.asked_at == Some(asked)), "{read:?}");

    assert!(store.confirm_follower(&id, &cara.key).await.unwrap());
    assert!(store.confirm_follower(&id, &cara.key).await.unwrap());
    // Asking again after confirming leaves them confirmed.
    store.add_follower(&id, &cara).await.unwrap();
    let read = store.followers(&id).await.unwrap();
    let active: Vec<&str> = read
        .iter()
        .filter(|f| f.is_active())
        .map(|f| f.key.as_str())
        .collect();
    assert_eq!(active, [cara.key.as_str()]);
    assert!(!store
        .confirm_follower(&id, "0000000000000000")
        .await
        .unwrap());

    assert!(store.remove_follower(&id, &cara.key).await.unwrap());
    assert!(!store.remove_follower(&id, &cara.key).await.unwrap());
    assert_eq!(store.followers(&id).await.unwrap(), vec![dev]);
}

fn audit_of(request: &ServiceRequest, event: &str, actor: &str, minute: u32) -> AuditRecord {
    let mut after = AuditState::of(request);
    after.status = Status::Open;
    after.version += 1;
    AuditRecord {
        id: format!("{}/{event}", request.id),
        at: at(minute),
        actor: actor.into(),
        actor_name: "Pat Lee".into(),
        role: "staff".into(),
        action: "transition".into(),
        request_id: request.id.clone(),
        before: AuditState::of(request),
        after,
        note: Some("internal".into()),
    }
}

pub async fn an_audit_record_is_written_with_its_change_and_read_by_request_actor_and_time(
    store: &dyn RequestStore,
) {
    // given two requests, each changed by a staff action that leaves an audit record
    let mut records = Vec::new();
    for (n, (number, actor, minute)) in [("AAAA-0031", "u-1", 5), ("AAAA-0032", "u-2", 6)]
        .into_iter()
        .enumerate()
    {
        let new = new_request(number, "pothole", 1);
        store.create(&new).await.unwrap();
        let audit = audit_of(&new.request, "routed", actor, minute);
        let mut opened = new.request.clone();
        opened.status = Status::Open;
        opened.version = 2;
        store
            .update_audited(&opened, 1, &routed_entry(minute), Some(&audit))
            .await
            .unwrap();
        records.push(audit);
        assert_eq!(
            store.timeline(&new.request.id).await.unwrap().len(),
            2,
            "{n}"
        );
    }
    let all = AuditQuery {
        request: None,
        actor: None,
        from: at(0),
        to: at(59),
        limit: 100,
    };

    // then the log reads them oldest first, by request, by actor and by time
    assert_eq!(store.audit(&all).await.unwrap(), records);
    let by_request = AuditQuery {
        request: Some(records[1].request_id.clone()),
        ..all.clone()
    };
    assert_eq!(store.audit(&by_request).await.unwrap(), records[1..]);
    let by_actor = AuditQuery {
        actor: Some("u-1".into()),
        ..all.clone()
    };
    assert_eq!(store.audit(&by_actor).await.unwrap(), records[..1]);
    let later = AuditQuery {
        from: at(6),
        ..all.clone()
    };
    assert_eq!(store.audit(&later).await.unwrap(), records[1..]);
    let one = AuditQuery {
        limit: 1,
        ..all.clone()
    };
    assert_eq!(store.audit(&one).await.unwrap(), records[..1]);

    // and a change refused (a stale version) leaves no audit record
    let stale = store.get(&records[0].request_id).await.unwrap().unwrap();
    let mut entry = routed_entry(7);
    entry.event_id = "late".into();
    let refused = store
        .update_audited(&stale, 1, &entry, Some(&audit_of(&stale, "late", "u-1", 7)))
        .await;
    assert!(
        matches!(refused, Err(PortError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(store.audit(&all).await.unwrap().len(), 2);
}

pub async fn a_staff_key_is_claimed_once_and_tells_its_first_fingerprint(store: &dyn RequestStore) {
    let claim = |fingerprint: &str, expires_minute: u32| IdempotencyClaim {
        key: "staff/u-1/key-1".into(),
        fingerprint: fingerprint.into(),
        expires_at: at(expires_minute),
    };
    let request = id("AAAA-0033");
    assert_eq!(
        store
            .claim_key(&claim("fp-a", 30), &request, at(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .claim_key(&claim("fp-a", 30), &request, at(2))
            .await
            .unwrap(),
        Some("fp-a".into())
    );
    assert_eq!(
        store
            .claim_key(&claim("fp-b", 30), &request, at(3))
            .await
            .unwrap(),
        Some("fp-a".into()),
        "a reused key tells the body it was first used with"
    );
    assert_eq!(
        store
            .claim_key(&claim("fp-b", 50), &request, at(31))
            .await
            .unwrap(),
        None,
        "an expired claim is forgotten"
    );
}

/// Stores `new`, then moves it to `status` with `edit` applied, as one change at `minute`.
async fn stored_as(
    store: &dyn RequestStore,
    new: &cityfix_app::ports::NewRequest,
    status: Status,
    minute: u32,
    edit: impl FnOnce(&mut ServiceRequest),
) -> ServiceRequest {
    store.create(new).await.unwrap();
    let mut changed = new.request.clone();
    changed.status = status;
    changed.version = 2;
    changed.updated_at = at(minute);
    edit(&mut changed);
    store
        .update(&changed, 1, &routed_entry(minute))
        .await
        .unwrap();
    changed
}

pub async fn overdue_lists_worked_requests_past_their_date_until_noticed(store: &dyn RequestStore) {
    let due = |minute: u32| Some(at(minute));
    let late = stored_as(
        store,
        &new_request("GGGG-0001", "pothole", 1),
        Status::Open,
        2,
        |r| r.expected_at = due(10),
    )
    .await;
    let later = stored_as(
        store,
        &new_request("GGGG-0002", "pothole", 1),
        Status::InProgress,
        2,
        |r| r.expected_at = due(5),
    )
    .await;
    // due a second and a half after `late`: its time has a fraction, `late`'s none
    let just_after = stored_as(
        store,
        &new_request("GGGG-0003", "pothole", 1),
        Status::Open,
        2,
        |r| r.expected_at = Some(at(10) + Duration::milliseconds(1500)),
    )
    .await;
    stored_as(
        store,
        &new_request("GGGG-0004", "pothole", 1),
        Status::Open,
        2,
        |r| r.expected_at = due(30),
    )
    .await;
    stored_as(
        store,
        &new_request("GGGG-0005", "pothole", 1),
        Status::Closed,
        2,
        |r| {
            r.expected_at = due(3);
            r.closed_at = Some(at(2));
        },
    )
    .await;
    stored_as(
        store,
        &new_request("GGGG-0006", "pothole", 1),
        Status::Open,
        2,
        |r| {
            r.expected_at = due(4);
            r.breach_noticed_at = Some(at(5));
        },
    )
    .await;
    stored_as(
        store,
        &new_request("GGGG-0007", "pothole", 1),
        Status::Open,
        2,
        |_| {},
    )
    .await;
    store
        .create(&new_request("GGGG-0008", "pothole", 1))
        .await
        .unwrap();

    assert_eq!(
        store.overdue(at(20), 10).await.unwrap(),
        vec![later.id.clone(), late.id.clone(), just_after.id.clone()],
        "earliest due first; closed, noticed, undated and not yet due left out"
    );
    assert_eq!(
        store
            .overdue(at(10) + Duration::seconds(1), 10)
            .await
            .unwrap(),
        vec![later.id.clone(), late.id.clone()],
        "times compare as times, whatever their fraction of a second"
    );
    assert_eq!(
        store.overdue(at(20), 1).await.unwrap(),
        vec![later.id.clone()]
    );

    // once its supervisors are told, a request is not found again
    let mut noticed = late.clone();
    noticed.breach_noticed_at = Some(at(21));
    noticed.version = 3;
    let entry = TimelineEntry {
        event_id: "sla-breach".into(),
        ..routed_entry(21)
    };
    store.update(&noticed, 2, &entry).await.unwrap();
    assert_eq!(
        store.overdue(at(22), 10).await.unwrap(),
        vec![later.id, just_after.id]
    );
}

pub async fn closed_before_lists_closed_requests_until_archived(store: &dyn RequestStore) {
    let long_ago = stored_as(
        store,
        &new_request("HHHH-0001", "pothole", 1),
        Status::Closed,
        9,
        |r| r.closed_at = Some(at(5)),
    )
    .await;
    // closed before closed_at was kept: its last change (minute 3) stands in
    let unstamped = stored_as(
        store,
        &new_request("HHHH-0002", "pothole", 1),
        Status::Closed,
        3,
        |r| r.closed_at = None,
    )
    .await;
    stored_as(
        store,
        &new_request("HHHH-0003", "pothole", 1),
        Status::Closed,
        26,
        |r| r.closed_at = Some(at(25)),
    )
    .await;
    stored_as(
        store,
        &new_request("HHHH-0004", "pothole", 1),
        Status::Open,
        2,
        |_| {},
    )
    .await;
    let archived = stored_as(
        store,
        &new_request("HHHH-0005", "pothole", 1),
        Status::Closed,
        2,
        |r| r.closed_at = Some(at(2)),
    )
    .await;

    assert_eq!(
        store.closed_before(at(20), 10).await.unwrap(),
        vec![
            archived.id.clone(),
            unstamped.id.clone(),
            long_ago.id.clone()
        ],
        "longest closed first; open and recently closed left out"
    );
    assert_eq!(
        store.closed_before(at(20), 2).await.unwrap(),
        vec![archived.id.clone(), unstamped.id.clone()]
    );

    let mut gone = archived.clone();
    gone.status = Status::Archived;
    gone.version = 3;
    let entry = TimelineEntry {
        event_id: "archived".into(),
        ..routed_entry(30)
    };
    store.update(&gone, 2, &entry).await.unwrap();
    assert_eq!(
        store.closed_before(at(40), 10).await.unwrap().len(),
        3,
        "an archived request is not listed again"
    );
    assert!(!store
        .closed_before(at(40), 10)
        .await
        .unwrap()
        .contains(&archived.id));
}

pub async fn closed_between_lists_the_closings_of_a_window_earliest_first(
    store: &dyn RequestStore,
) {
    let mut ids = Vec::new();
    for (n, minute) in [(1, 4), (2, 10), (3, 11), (4, 20)] {
        let request = stored_as(
            store,
            &new_request(&format!("JJJJ-000{n}"), "pothole", 1),
            Status::Closed,
            minute,
            |r| r.closed_at = Some(at(minute)),
        )
        .await;
        ids.push(request.id);
    }
    stored_as(
        store,
        &new_request("JJJJ-0005", "pothole", 1),
        Status::Open,
        12,
        |_| {},
    )
    .await;
    assert_eq!(
        store.closed_between(at(10), at(20), 10).await.unwrap(),
        vec![ids[1].clone(), ids[2].clone()],
        "from included, to left out, open requests left out"
    );
    assert_eq!(
        store.closed_between(at(10), at(20), 1).await.unwrap(),
        vec![ids[1].clone()]
    );
    assert!(store
        .closed_between(at(30), at(40), 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn a_survey_answer_is_kept_once_per_closing_the_latest_replacing(
    store: &dyn RequestStore,
) {
    use cityfix_app::ports::SurveyAnswer;
    let answer = |n: &str, closed: u32, fixed: bool, answered: u32| SurveyAnswer {
        request_id: id(n),
        service_code: "pothole".into(),
        closed_at: at(closed),
        fixed,
        answered_at: at(answered),
    };
    store
        .record_survey_answer(&answer("KKKK-0001", 10, true, 30))
        .await
        .unwrap();
    store
        .record_survey_answer(&answer("KKKK-0001", 10, false, 31))
        .await
        .unwrap();
    store
        .record_survey_answer(&answer("KKKK-0002", 5, true, 32))
        .await
        .unwrap();
    store
        .record_survey_answer(&answer("KKKK-0003", 40, true, 50))
        .await
        .unwrap();
    assert_eq!(
        store.survey_answers(at(0), at(20), 10).await.unwrap(),
        vec![
            answer("KKKK-0002", 5, true, 32),
            answer("KKKK-0001", 10, false, 31)
        ],
        "by closing, earliest first; the second answer replaced the first"
    );
    assert_eq!(
        store.survey_answers(at(0), at(59), 1).await.unwrap().len(),
        1
    );
}

pub async fn a_device_is_saved_once_and_read_by_its_id(store: &dyn RequestStore) {
    use cityfix_app::ports::{Device, Platform};
    let device = Device {
        id: "dev-0a1b2c3d4e5f6071".into(),
        platform: Platform::Fcm,
        endpoint: "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/app/1".into(),
        registered_at: at(5),
    };
    assert_eq!(store.device(&device.id).await.unwrap(), None);
    store.save_device(&device).await.unwrap();
    store.save_device(&device).await.unwrap();
    assert_eq!(store.device(&device.id).await.unwrap(), Some(device));
    assert_eq!(store.device("dev-ffffffffffffffff").await.unwrap(), None);
}

pub async fn forgetting_contacts_keeps_the_request_and_its_timeline(store: &dyn RequestStore) {
    use cityfix_app::ports::Follower;
    use cityfix_domain::Contact;
    let new = new_request("JJJJ-0001", "pothole", 1);
    store.create(&new).await.unwrap();
    let id = new.request.id.clone();
    let follower = Follower::new(
        Contact {
            email: Some("ana@example.org".into()),
            ..Contact::default()
        },
        crate::sample::id("JJJJ-0002"),
    );
    store.add_follower(&id, &follower).await.unwrap();
    let other = new_request("JJJJ-0003", "pothole", 2);
    store.create(&other).await.unwrap();
    store
        .add_follower(&other.request.id, &follower)
        .await
        .unwrap();

    store.forget_contacts(&id).await.unwrap();
    assert_eq!(store.reporter(&id).await.unwrap(), None);
    assert_eq!(store.followers(&id).await.unwrap(), vec![]);
    assert_eq!(store.get(&id).await.unwrap(), Some(new.request.clone()));
    assert_eq!(
        store.timeline(&id).await.unwrap(),
        vec![new.first_entry.clone()]
    );
    // another request's people are not touched
    assert_eq!(
        store.reporter(&other.request.id).await.unwrap(),
        other.reporter
    );
    assert_eq!(
        store.followers(&other.request.id).await.unwrap(),
        vec![follower]
    );
    // forgetting again, or a request with nobody to forget, changes nothing
    store.forget_contacts(&id).await.unwrap();
    store
        .forget_contacts(&crate::sample::id("ZZZZ-ZZZZ"))
        .await
        .unwrap();
    assert_eq!(store.get(&id).await.unwrap(), Some(new.request));
}

pub async fn fixes_are_recorded_once_and_read_newest_first_within_the_window(
    store: &dyn RequestStore,
) {
    use cityfix_domain::expected::Fixed;
    let fixed = |n: u32, minute: u32| Fixed {
        request_id: format!("FFFF-000{n}"),
        area: Some("Downtown".into()),
        closed_at: at(minute),
        took_secs: 3600 * i64::from(n),
    };
    for (n, minute) in [(1, 10), (2, 20), (3, 30)] {
        store
            .record_fix("pothole", &fixed(n, minute))
            .await
            .unwrap();
    }
    store.record_fix("pothole", &fixed(2, 20)).await.unwrap();
    store.record_fix("graffiti", &fixed(4, 25)).await.unwrap();
    let recent = store.fixes("pothole", at(15), 10).await.unwrap();
    assert_eq!(
        recent,
        vec![fixed(3, 30), fixed(2, 20)],
        "once each, newest first"
    );
    assert_eq!(
        store.fixes("pothole", at(0), 1).await.unwrap(),
        vec![fixed(3, 30)]
    );
    assert!(store.fixes("rodents", at(0), 10).await.unwrap().is_empty());
}

pub async fn backlogs_are_saved_changed_and_listed_oldest_first(store: &dyn RequestStore) {
    use cityfix_domain::backlog::Backlog;
    let backlog = |id: &str, minute: u32| Backlog {
        id: id.into(),
        service_code: "pothole".into(),
        area: Some("Downtown".into()),
        expected_at: at(59),
        message: "Storm damage".into(),
        declared_by: "local:dana.ortiz".into(),
        declared_at: at(minute),
        lifted_at: None,
    };
    assert!(store.backlogs().await.unwrap().is_empty());
    store.save_backlog(&backlog("b-2", 20)).await.unwrap();
    store.save_backlog(&backlog("b-1", 10)).await.unwrap();
    let lifted = Backlog {
        lifted_at: Some(at(30)),
        ..backlog("b-2", 20)
    };
    store.save_backlog(&lifted).await.unwrap();
    assert_eq!(
        store.backlogs().await.unwrap(),
        vec![backlog("b-1", 10), lifted],
        "saved again, a backlog is changed, not doubled"
    );
}

pub async fn an_information_request_is_saved_once_and_read_by_its_tracking_number(
    store: &dyn RequestStore,
) {
    use cityfix_app::ports::InformationRequest;
    let asked = InformationRequest {
        id: id("Q7KM4X2P"),
        question: "Where do I get a fishing licence?".into(),
        email: "resident@example.org".into(),
        language: cityfix_domain::Language::Es,
        asked_at: at(5),
        answered: None,
    };
    assert_eq!(store.information_request(&asked.id).await.unwrap(), None);
    store.save_information_request(&asked).await.unwrap();
    let again = InformationRequest {
        question: "something else".into(),
        ..asked.clone()
    };
    store.save_information_request(&again).await.unwrap();
    assert_eq!(
        store.information_request(&asked.id).await.unwrap(),
        Some(asked),
        "saved again under the same number, the first question stays"
    );
    let other = id("Q7KM4X2Q");
    assert_eq!(store.information_request(&other).await.unwrap(), None);
}

/// The unanswered questions come oldest first, a page at a time from the cursor; an answer is
/// recorded once (its retry is no change, another answer is refused) and leaves the list.
pub async fn unanswered_information_requests_page_oldest_first_and_an_answer_is_recorded_once(
    store: &dyn RequestStore,
) {
    use cityfix_app::ports::{InformationAnswer, InformationRequest};
    let empty = store
        .unanswered_information_requests(None, 2)
        .await
        .unwrap();
    assert_eq!((empty.asked.len(), empty.next), (0, None));
    // Saved out of order: the list is in the order they were asked.
    let numbers = ["Q7KM4X2C", "Q7KM4X2A", "Q7KM4X2D", "Q7KM4X2B"];
    for (n, minutes) in numbers.iter().zip([30, 10, 40, 20]) {
        store
            .save_information_request(&InformationRequest {
                id: id(n),
                question: format!("question asked at minute {minutes}"),
                email: "resident@example.org".into(),
                language: cityfix_domain::Language::En,
                asked_at: at(minutes),
                answered: None,
            })
            .await
            .unwrap();
    }
    let first = store
        .unanswered_information_requests(None, 3)
        .await
        .unwrap();
    let ids = |page: &cityfix_app::ports::InformationPage| {
        page.asked
            .iter()
            .map(|q| q.id.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), ["Q7KM-4X2A", "Q7KM-4X2B", "Q7KM-4X2C"]);
    let second = store
        .unanswered_information_requests(first.next.as_deref(), 3)
        .await
        .unwrap();
    assert_eq!(ids(&second), ["Q7KM-4X2D"]);
    assert_eq!(second.next, None, "the last page says so");

    let answer = InformationAnswer {
        answer_id: "answer-1".into(),
        text: "At the town clerk's office, 550 Main St.".into(),
        by: "staff-sub-1".into(),
        by_name: "Dana Agent".into(),
        at: at(50),
    };
    let asked = id("Q7KM4X2B");
    assert!(store
        .answer_information_request(&asked, &answer)
        .await
        .unwrap());
    assert!(
        !store
            .answer_information_request(&asked, &answer)
            .await
            .unwrap(),
        "the same answer again is no change"
    );
    let other = InformationAnswer {
        answer_id: "answer-2".into(),
        text: "something else".into(),
        ..answer.clone()
    };
    assert!(matches!(
        store.answer_information_request(&asked, &other).await,
        Err(PortError::Conflict(_))
    ));
    assert!(matches!(
        store
            .answer_information_request(&id("Q7KM4X2Z"), &answer)
            .await,
        Err(PortError::NotFound(_))
    ));
    let kept = store.information_request(&asked).await.unwrap().unwrap();
    assert_eq!(
        kept.answered,
        Some(answer),
        "the first answer, with who and when"
    );
    let left = store
        .unanswered_information_requests(None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&left), ["Q7KM-4X2A", "Q7KM-4X2C", "Q7KM-4X2D"]);
}

/// Moderation lives on the request: its marks come back as written, and a search that asks
/// leaves hidden requests out before it pages (a public page is never short for them).
pub async fn a_moderated_request_keeps_its_marks_and_public_searches_leave_hidden_ones_out(
    store: &dyn RequestStore,
) {
    for (n, minute) in [1, 2, 3].into_iter().enumerate() {
        store
            .create(&new_request(&format!("MMMM-000{n}"), "pothole", minute))
            .await
            .unwrap();
    }
    let moderate = |tracking: &'static str, hidden: bool, minute: u32| async move {
        let mut request = store.get(&id(tracking)).await.unwrap().unwrap();
        let expected = request.version;
        request.version += 1;
        request.hidden = hidden;
        request.original_description = hidden.then(|| "Deep hole by the curb".to_string());
        request.description = Some(
            if hidden {
                "A hole"
            } else {
                "Deep hole by the curb"
            }
            .into(),
        );
        let entry = TimelineEntry {
            event_id: format!("moderated-{minute}"),
            kind: TimelineKind::Moderated,
            public: false,
            ..routed_entry(minute)
        };
        store.update(&request, expected, &entry).await.unwrap();
        request
    };
    let hidden = moderate("MMMM-0001", true, 5).await;
    assert_eq!(store.get(&hidden.id).await.unwrap(), Some(hidden.clone()));
    let ids = |found: Vec<ServiceRequest>| {
        found
            .into_iter()
            .map(|r| r.id.to_string())
            .collect::<Vec<_>>()
    };
    let public = |page: u32, near: bool| RequestQuery {
        without_hidden: true,
        near: near.then_some(cityfix_app::ports::Near {
            location: cityfix_domain::Location::new(41.7677, -72.67602).unwrap(),
            radius_m: 200.0,
        }),
        page,
        page_size: 1,
        ..RequestQuery::default()
    };
    for near in [false, true] {
        assert_eq!(
            ids(store.search(&public(1, near)).await.unwrap()),
            ["MMMM-0002"]
        );
        assert_eq!(
            ids(store.search(&public(2, near)).await.unwrap()),
            ["MMMM-0000"]
        );
        assert!(store.search(&public(3, near)).await.unwrap().is_empty());
    }
    let everything = RequestQuery {
        page: 1,
        page_size: 10,
        ..RequestQuery::default()
    };
    assert_eq!(
        ids(store.search(&everything).await.unwrap()),
        ["MMMM-0002", "MMMM-0001", "MMMM-0000"]
    );
    // shown again, it is listed again
    let shown = moderate("MMMM-0001", false, 6).await;
    assert_eq!(store.get(&shown.id).await.unwrap(), Some(shown));
    let all_public = RequestQuery {
        page_size: 10,
        ..public(1, false)
    };
    assert_eq!(ids(store.search(&all_public).await.unwrap()).len(), 3);
}

pub async fn requests_about_an_asset_are_found_wherever_they_are_and_by_layer_and_id(
    store: &dyn RequestStore,
) {
    use cityfix_domain::{AssetRef, Location};
    let asset = |layer: &str, id: &str| AssetRef {
        layer: layer.into(),
        id: id.into(),
    };
    let about = |tracking: &str, minute: u32, on: Option<AssetRef>, lat: f64| {
        let mut new = new_request(tracking, "streetlight_out", minute);
        new.request.asset = on;
        new.request.location = Location::new(lat, -72.67602).unwrap();
        new
    };
    // two reports of pole SL-7 10 km apart, one of SL-8, one of a hydrant with the same id, one of none
    for new in [
        about("EEEE-0001", 1, Some(asset("streetlights", "SL-7")), 41.7677),
        about("EEEE-0002", 2, Some(asset("streetlights", "SL-8")), 41.7677),
        about("EEEE-0003", 3, Some(asset("hydrants", "SL-7")), 41.7677),
        about("EEEE-0004", 4, None, 41.7677),
        about("EEEE-0005", 5, Some(asset("streetlights", "SL-7")), 41.8577),
    ] {
        store.create(&new).await.unwrap();
    }
    let ids = |found: Vec<ServiceRequest>| -> Vec<String> {
        found.into_iter().map(|r| r.id.to_string()).collect()
    };
    let sl7 = store
        .requests_about_asset(&asset("streetlights", "SL-7"))
        .await
        .unwrap();
    assert_eq!(sl7[1].asset, Some(asset("streetlights", "SL-7")));
    assert_eq!(ids(sl7), ["EEEE-0005", "EEEE-0001"], "newest first");
    assert_eq!(
        ids(store
            .requests_about_asset(&asset("hydrants", "SL-7"))
            .await
            .unwrap()),
        ["EEEE-0003"]
    );
    assert!(store
        .requests_about_asset(&asset("streetlights", "SL-9"))
        .await
        .unwrap()
        .is_empty());
}

pub async fn requests_made_in_a_range_are_read_oldest_first_a_page_at_a_time_across_months(
    store: &dyn RequestStore,
) {
    use chrono::TimeZone;
    // given seven requests made from late January to early March (three months), two at the
    // same instant, and one each just before and at the end of the range
    let made = |day: (u32, u32), hour: u32| {
        chrono::Utc
            .with_ymd_and_hms(2026, day.0, day.1, hour, 0, 0)
            .unwrap()
    };
    let times = [
        ("MADE-0001", made((1, 31), 23)),
        ("MADE-0002", made((2, 1), 0)),
        ("MADE-0003", made((2, 1), 0)),
        ("MADE-0004", made((2, 14), 9)),
        ("MADE-0005", made((3, 1), 8)),
        ("MADE-0006", made((1, 31), 22)),
        ("MADE-0007", made((3, 2), 0)),
    ];
    for (tracking, requested_at) in times {
        let mut new = new_request(tracking, "pothole", 1);
        new.request.requested_at = requested_at;
        new.request.updated_at = requested_at;
        new.token = format!("token-{tracking}");
        store.create(&new).await.unwrap();
    }
    let (from, to) = (made((1, 31), 23), made((3, 2), 0));

    // when the range is read two at a time
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store
            .requests_made(from, to, after.as_deref(), 2)
            .await
            .unwrap();
        pages += 1;
        assert!(page.requests.len() <= 2, "{page:?}");
        seen.extend(page.requests.iter().map(|r| r.id.to_string()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(pages < 10, "the pages end");
    }

    // then each request made in the range comes once, by time then id, the end excluded
    let ids = |all: &[&str]| all.iter().map(|t| id(t).to_string()).collect::<Vec<_>>();
    assert_eq!(
        seen,
        ids(&[
            "MADE-0001",
            "MADE-0002",
            "MADE-0003",
            "MADE-0004",
            "MADE-0005"
        ])
    );
    assert_eq!(pages, 3);

    // and a cursor made from a request read goes on after it; a range with none is empty
    let stored = store.get(&id("MADE-0002")).await.unwrap().unwrap();
    let cursor = cityfix_app::ports::made_cursor(&stored);
    let rest = store
        .requests_made(from, to, Some(&cursor), 10)
        .await
        .unwrap();
    let rest: Vec<_> = rest.requests.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(rest, ids(&["MADE-0003", "MADE-0004", "MADE-0005"]));
    let none = store
        .requests_made(made((4, 1), 0), made((5, 1), 0), None, 10)
        .await
        .unwrap();
    assert!(none.requests.is_empty() && none.next.is_none());
    assert!(matches!(
        store
            .requests_made(from, to, Some("not a cursor"), 10)
            .await,
        Err(PortError::NotFound(_))
    ));
}
