//! The fetch function: photos Open311 clients name by `media_url`, read from a server on this
//! machine that answers as real ones do (a photo, a file too large, a slow server, a redirect off
//! the list, errors), and the handler fed the sample batch from `events/`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use cityfix_app::fetch::{fetch_media, FetchDeps, FetchFailure, FetchJob, MediaFetcher};
use cityfix_app::media::{Checked, MediaDeps};
use cityfix_app::messages::StatusCommand;
use cityfix_app::ports::{MediaStore, QueueConsumer};
use cityfix_domain::fetch::MediaFetch;
use cityfix_domain::TrackingNumber;
use cityfix_testing::samples::{holds, photo_with_location, LOCATION_TRACES};
use cityfix_testing::{failed_ids, seed_sample_pothole, sqs_event, World};
use media::http_fetch::HttpFetcher;

/// Bytes a test city fetches at most: 1 MB.
const MAX: usize = 1024 * 1024;

/// A server on 127.0.0.1 with one path per way a real one answers; its address ends in `/`.
async fn photo_server() -> String {
    let photo = photo_with_location(800, 600, 1);
    let app = Router::new()
        .route(
            "/photo.jpg",
            get(move || {
                let photo = photo.clone();
                async move { ([(header::CONTENT_TYPE, "image/jpeg")], photo) }
            }),
        )
        .route("/big.jpg", get(|| async { vec![0xffu8; MAX + 1] }))
        .route(
            "/streamed.jpg",
            get(|| async {
                let chunks = (0..20).map(|_| Ok::<_, Infallible>(vec![0xffu8; 64 * 1024]));
                Body::from_stream(futures_util::stream::iter(chunks))
            }),
        )
        .route(
            "/slow.jpg",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/moved-away.jpg",
            get(|| async { Redirect::temporary("https://elsewhere.example/p.jpg") }),
        )
        .route(
            "/moved-here.jpg",
            get(|| async { Redirect::temporary("/photo.jpg") }),
        )
        .route("/missing.jpg", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/broken.jpg",
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR.into_response() }),
        )
        .route("/page.jpg", get(|| async { "<html>not a photo</html>" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/")
}

fn rules(server: &str) -> MediaFetch {
    MediaFetch {
        from: vec![server.to_string()],
        max_mb: 1,
        timeout_seconds: 1,
    }
    .checked()
    .unwrap()
}

#[tokio::test]
async fn the_fetcher_takes_a_photo_and_refuses_what_a_city_must_not_take() {
    let server = photo_server().await;
    let rules = rules(&server);
    let fetch = |path: &str| {
        let url = format!("{server}{path}");
        let rules = rules.clone();
        async move { HttpFetcher.fetch(&url, &rules).await }
    };
    let photo = fetch("photo.jpg").await.unwrap();
    assert_eq!(&photo.bytes[..2], &[0xff, 0xd8], "a JPEG comes back whole");
    assert_eq!(
        fetch("moved-here.jpg").await.unwrap(),
        photo,
        "a redirect on the list is followed"
    );

    let refused = |result: Result<_, FetchFailure>| match result {
        Err(FetchFailure::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let unavailable = |result: Result<_, FetchFailure>| match result {
        Err(FetchFailure::Unavailable(why)) => why,
        other => panic!("expected unavailable, got {other:?}"),
    };
    assert!(refused(fetch("big.jpg").await).contains("at most 1048576"));
    assert!(
        refused(fetch("streamed.jpg").await).contains("at most 1048576"),
        "a file with no length is cut off at the limit while it is read"
    );
    assert!(refused(fetch("moved-away.jpg").await).contains("does not take photos from"));
    assert!(refused(fetch("missing.jpg").await).contains("404"));
    assert!(unavailable(fetch("broken.jpg").await).contains("500"));
    let started = std::time::Instant::now();
    assert!(unavailable(fetch("slow.jpg").await).contains("longer than 1 s"));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the time limit holds"
    );
}

fn deps(world: &World, server: &str) -> FetchDeps {
    FetchDeps {
        checks: MediaDeps {
            media: Arc::new(world.media.clone()),
            queue: Arc::new(world.queue.clone()),
            public_url: "http://cityfix.test".into(),
        },
        fetcher: Arc::new(HttpFetcher),
        rules: rules(server),
    }
}

fn job(url: String) -> FetchJob {
    FetchJob {
        request_id: TrackingNumber::parse("7K3M-9QZ2").unwrap(),
        url,
    }
}

async fn sent_to_status(world: &World) -> Vec<StatusCommand> {
    let sent = world.queue.receive("status", 10).await.unwrap();
    for message in &sent {
        world
            .queue
            .delete("status", &message.receipt_handle)
            .await
            .unwrap();
    }
    sent.iter()
        .map(|m| serde_json::from_str(&m.body).unwrap())
        .collect()
}

#[tokio::test]
async fn the_sample_batch_fetches_the_photo_keeps_it_without_its_location_and_hands_back_the_poison(
) {
    // given the sample batch, its job pointed at this machine's server
    let world = World::new();
    seed_sample_pothole(&world.store, None).await;
    let server = photo_server().await;
    let mut batch = sqs_event("media/sqs-fetch-jobs.json");
    let mut sample: FetchJob =
        serde_json::from_str(batch.records[0].body.as_deref().unwrap()).unwrap();
    sample.url = format!("{server}photo.jpg");
    batch.records[0].body = Some(serde_json::to_string(&sample).unwrap());

    // when the fetch function handles it
    let response = media::fetch::handle(&deps(&world, &server), batch).await;

    // then only the poison message comes back, and status is asked to attach the kept photo
    assert_eq!(
        failed_ids(&response),
        ["059f36b4-87a3-44ab-83d2-661975830a7d"]
    );
    let commands = sent_to_status(&world).await;
    let [StatusCommand::AttachMedia {
        key, media_id, url, ..
    }] = &commands[..]
    else {
        panic!("expected one AttachMedia, got {commands:?}");
    };
    assert_eq!(media_id, &format!("media-{}", sample.media_id()));
    assert!(key.starts_with("originals/7K3M-9QZ2/fetched-"), "{key}");
    assert!(url.starts_with("http://cityfix.test/api/v1/media/7K3M-9QZ2/"));
    let kept = world.media.get(key).await.unwrap();
    for trace in LOCATION_TRACES {
        assert!(!holds(&kept, trace), "the fetched photo keeps {trace:?}");
    }
    let fetched = key.replacen("originals/", "fetched/", 1);
    assert!(
        world.media.head(&fetched).await.unwrap().is_none(),
        "the fetched copy is deleted once checked"
    );

    // and a redelivered job keeps the file once and asks for the same attachment
    let again = fetch_media(&deps(&world, &server), &sample, 2)
        .await
        .unwrap();
    assert!(
        matches!(again, Checked::Refused(ref why) if why.contains("kept before")),
        "{again:?}"
    );
    let commands = sent_to_status(&world).await;
    assert!(
        matches!(&commands[..], [StatusCommand::AttachMedia { media_id: m, .. }] if m == media_id)
    );
}

/// The note status is asked to leave the reporter, when a fetch gave nothing.
async fn note_of(world: &World) -> String {
    let commands = sent_to_status(world).await;
    match &commands[..] {
        [StatusCommand::RefuseMedia { note, .. }] => note.clone(),
        other => panic!("expected one RefuseMedia, got {other:?}"),
    }
}

#[tokio::test]
async fn a_photo_that_cannot_be_had_leaves_the_reporter_a_note_and_nothing_stored() {
    let world = World::new();
    seed_sample_pothole(&world.store, None).await;
    let server = photo_server().await;
    let deps = deps(&world, &server);

    for (path, says) in [
        ("big.jpg", "at most 1048576"),
        ("missing.jpg", "404"),
        ("page.jpg", "not a photo or video"),
    ] {
        let checked = fetch_media(&deps, &job(format!("{server}{path}")), 1)
            .await
            .unwrap();
        assert!(
            matches!(checked, Checked::Refused(_)),
            "{path}: {checked:?}"
        );
        let note = note_of(&world).await;
        assert!(
            note.starts_with("Photo from media_url not added: ") && note.contains(says),
            "{path}: {note}"
        );
    }

    // an address the city no longer lists is not even asked
    let off_list = job("https://elsewhere.example/p.jpg".into());
    fetch_media(&deps, &off_list, 1).await.unwrap();
    assert!(note_of(&world)
        .await
        .contains("not one this city takes photos from"));

    // a server that fails is asked again, and given up on at the last attempt, with a note
    let broken = job(format!("{server}broken.jpg"));
    assert!(
        fetch_media(&deps, &broken, 1).await.is_err(),
        "tried again later"
    );
    assert!(sent_to_status(&world).await.is_empty());
    fetch_media(&deps, &broken, 3).await.unwrap();
    assert!(note_of(&world).await.contains("500"));

    assert!(world.media.keys("fetched/", 10).await.unwrap().is_empty());
    assert!(world.media.keys("originals/", 10).await.unwrap().is_empty());
}
