//! The media handler fed the sample S3 ObjectCreated event from `events/`.

use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use cityfix_app::media::MediaState;
use cityfix_app::media::{Checked, MediaDeps};
use cityfix_app::messages::StatusCommand;
use cityfix_app::ports::{MediaStore, QueueConsumer, RequestStore};
use cityfix_testing::samples::{
    holds, phone_video, photo_with_location, DEVICE_TRACES, LOCATION_TRACES,
};
use cityfix_testing::{event, seed_sample_pothole, World};

const UPLOAD: &str = "uploads/7K3M-9QZ2/5b0e6f4c-8a2d-4d1e-9f3b-7c6a5e4d3c2b.jpg";
const ORIGINAL: &str = "originals/7K3M-9QZ2/5b0e6f4c-8a2d-4d1e-9f3b-7c6a5e4d3c2b.jpg";

/// A phone photo whose EXIF, XMP, IPTC and comment say where it was taken.
fn photo_with_gps() -> Vec<u8> {
    photo_with_location(2000, 1500, 1)
}

fn deps(world: &World) -> MediaDeps {
    MediaDeps {
        media: Arc::new(world.media.clone()),
        queue: Arc::new(world.queue.clone()),
        public_url: "http://cityfix.test".into(),
    }
}

const WEB: &str = "web/7K3M-9QZ2/5b0e6f4c-8a2d-4d1e-9f3b-7c6a5e4d3c2b.jpg";
const THUMBNAIL: &str = "thumbnails/7K3M-9QZ2/5b0e6f4c-8a2d-4d1e-9f3b-7c6a5e4d3c2b.jpg";

/// The S3 event of the sample, for an upload at `key`.
fn event_for(key: &str) -> S3Event {
    let mut s3: S3Event = event("media/s3-object-created.json");
    s3.records[0].s3.object.key = Some(key.to_string());
    s3
}

/// The commands status was sent.
async fn sent_to_status(world: &World) -> Vec<StatusCommand> {
    let sent = world.queue.receive("status", 10).await.unwrap();
    sent.iter()
        .map(|m| serde_json::from_str(&m.body).unwrap())
        .collect()
}

#[tokio::test]
async fn a_good_photo_is_kept_without_exif_and_sent_to_status_once() {
    // given a photo uploaded for the sample pothole
    let world = World::new();
    seed_sample_pothole(&world.store, None).await;
    world
        .media
        .put(UPLOAD, photo_with_gps(), "image/jpeg")
        .await
        .unwrap();
    let s3: S3Event = event("media/s3-object-created.json");

    // when S3 reports it (twice: S3 notifications may repeat)
    let first = media::handle(&deps(&world), s3.clone()).await.unwrap();
    let again = media::handle(&deps(&world), s3).await.unwrap();

    // then it is kept under originals/ without its EXIF, the upload is gone, and status is asked once
    assert!(matches!(&first[..], [Checked::Attached { key, .. }] if key == ORIGINAL));
    assert_eq!(again, [Checked::Ignored]);
    for file in [ORIGINAL, WEB, THUMBNAIL] {
        let kept = world.media.get(file).await.unwrap();
        for trace in LOCATION_TRACES.iter().chain(DEVICE_TRACES) {
            assert!(!holds(&kept, trace), "{file} keeps {trace:?}");
        }
    }
    assert_eq!(world.media.head(UPLOAD).await.unwrap(), None);
    let commands = world.queue.receive("status", 10).await.unwrap();
    assert_eq!(commands.len(), 1);
    let command: StatusCommand = serde_json::from_str(&commands[0].body).unwrap();
    let StatusCommand::AttachMedia { key, url, .. } = command else {
        panic!("not an attach command: {command:?}");
    };
    assert_eq!(key, ORIGINAL);
    assert_eq!(
        url,
        "http://cityfix.test/api/v1/media/7K3M-9QZ2/5b0e6f4c-8a2d-4d1e-9f3b-7c6a5e4d3c2b.jpg"
    );
}

#[tokio::test]
async fn a_file_that_is_not_what_it_claims_is_deleted_and_nothing_attached() {
    // given an "image/jpeg" upload that is really a script
    let world = World::new();
    world
        .media
        .put(UPLOAD, b"#!/bin/sh\necho hi\n".to_vec(), "image/jpeg")
        .await
        .unwrap();

    // when S3 reports it
    let checked = media::handle(&deps(&world), event("media/s3-object-created.json"))
        .await
        .unwrap();

    // then it is refused and deleted, nothing is kept, and status only leaves the reporter a note
    assert!(matches!(&checked[..], [Checked::Refused(why)] if why.contains("declared image/jpeg")));
    for file in [UPLOAD, ORIGINAL, WEB, THUMBNAIL] {
        assert_eq!(world.media.head(file).await.unwrap(), None, "{file}");
    }
    let sent = sent_to_status(&world).await;
    assert!(
        matches!(&sent[..], [StatusCommand::RefuseMedia { note, .. }] if note.starts_with("Photo not added: declared image/jpeg")),
        "{sent:?}"
    );
}

#[tokio::test]
async fn a_form_used_again_never_replaces_the_photo_it_kept() {
    // given a photo kept and sent to status from one upload form
    let world = World::new();
    seed_sample_pothole(&world.store, None).await;
    world
        .media
        .put(UPLOAD, photo_with_gps(), "image/jpeg")
        .await
        .unwrap();
    let s3: S3Event = event("media/s3-object-created.json");
    media::handle(&deps(&world), s3.clone()).await.unwrap();
    let kept = world.media.get(ORIGINAL).await.unwrap();

    // when the same form posts another picture within its lifetime and S3 reports it
    let other = photo_with_location(640, 480, 1);
    world.media.put(UPLOAD, other, "image/jpeg").await.unwrap();
    let second = media::handle(&deps(&world), s3).await.unwrap();

    // then the second upload is refused and deleted, and the kept photo is the first one still
    assert!(
        matches!(&second[..], [Checked::Refused(why)] if why.contains("kept before")),
        "{second:?}"
    );
    assert_eq!(world.media.get(ORIGINAL).await.unwrap(), kept);
    assert_eq!(world.media.head(UPLOAD).await.unwrap(), None);
    // status may hear of the media id again; it attaches a media id once
    for sent in world.queue.receive("status", 10).await.unwrap() {
        let command: StatusCommand = serde_json::from_str(&sent.body).unwrap();
        assert!(matches!(command, StatusCommand::AttachMedia { key, .. } if key == ORIGINAL));
    }
}

#[tokio::test]
async fn a_video_is_kept_with_its_location_make_and_model_blanked() {
    // given a phone video whose boxes say where and on what it was filmed
    let world = World::new();
    seed_sample_pothole(&world.store, None).await;
    let upload = UPLOAD.replace(".jpg", ".mp4");
    let video = phone_video(&b"frames".repeat(1000));
    world
        .media
        .put(&upload, video.clone(), "video/mp4")
        .await
        .unwrap();

    // when S3 reports it
    let checked = media::handle(&deps(&world), event_for(&upload))
        .await
        .unwrap();

    // then the original is kept, the same size, with none of it left, and has no web version
    let original = ORIGINAL.replace(".jpg", ".mp4");
    assert!(matches!(&checked[..], [Checked::Attached { key, .. }] if *key == original));
    let kept = world.media.get(&original).await.unwrap();
    assert_eq!(kept.len(), video.len());
    for trace in LOCATION_TRACES.iter().chain(DEVICE_TRACES) {
        assert!(!holds(&kept, trace), "the video keeps {trace:?}");
    }
    assert_eq!(
        world
            .media
            .head(&WEB.replace(".jpg", ".mp4"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn bad_files_are_refused_with_a_reason_and_leave_nothing() {
    let photo = photo_with_gps();
    let mut video = phone_video(b"frames");
    video.truncate(video.len() - 3);
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (UPLOAD, photo[..photo.len() / 2].to_vec(), "cut short"),
        (
            UPLOAD,
            b"MZ\x90\0\x03\0\0\0 an executable named .jpg".to_vec(),
            "declared image/jpeg",
        ),
        (&UPLOAD.replace(".jpg", ".mp4"), video, "`mdat` box claims"),
        (
            &UPLOAD.replace(".jpg", ".png"),
            vec![0x89; 16 * 1024 * 1024],
            "bytes; a image/png may have",
        ),
    ];
    for (upload, bytes, reason) in cases {
        // given a bad file put straight in storage (as moto takes any size a form is posted with)
        let world = World::new();
        seed_sample_pothole(&world.store, None).await;
        world
            .media
            .put(upload, bytes, "application/octet-stream")
            .await
            .unwrap();

        // when S3 reports it
        let checked = media::handle(&deps(&world), event_for(upload))
            .await
            .unwrap();

        // then it is refused with the reason, nothing is kept, and the reporter is told
        assert!(
            matches!(&checked[..], [Checked::Refused(why)] if why.contains(reason)),
            "{upload}: {checked:?}"
        );
        assert_eq!(world.media.head(upload).await.unwrap(), None);
        let original = upload.replace("uploads/", "originals/");
        for file in cityfix_app::media::kept_files(&original) {
            assert_eq!(world.media.head(&file).await.unwrap(), None, "{file}");
        }
        let sent = sent_to_status(&world).await;
        assert!(
            matches!(&sent[..], [StatusCommand::RefuseMedia { note, .. }] if note.contains(reason)),
            "{sent:?}"
        );
    }
}

#[tokio::test]
async fn status_tells_the_media_state_and_the_reporter_sees_why_a_file_was_refused() {
    // given a refused upload and an attached one, as the media function sends them
    let world = World::new();
    let request = seed_sample_pothole(&world.store, None).await;
    let status = cityfix_app::transition::StatusDeps {
        city: cityfix_testing::demo_city(),
        store: Arc::new(world.store.clone()),
        queue: Arc::new(world.queue.clone()),
        clock: Arc::new(cityfix_app::ports::SystemClock),
        media: Arc::new(world.media.clone()),
    };
    let refused = StatusCommand::RefuseMedia {
        request_id: request.id.clone(),
        media_id: "media-0bad".into(),
        note: "Photo not added: declared image/jpeg but the bytes are application/x-msdownload"
            .into(),
    };
    world
        .media
        .put(ORIGINAL, photo_with_gps(), "image/jpeg")
        .await
        .unwrap();
    let attached = StatusCommand::AttachMedia {
        request_id: request.id.clone(),
        media_id: "media-5b0e6f4c-8a2d-4d1e-9f3b-7c6a5e4d3c2b".into(),
        key: ORIGINAL.into(),
        content_type: "image/jpeg".into(),
        url: "http://cityfix.test/api/v1/media/7K3M-9QZ2/5b0e6f4c-8a2d-4d1e-9f3b-7c6a5e4d3c2b.jpg"
            .into(),
    };

    // when status applies each (the refusal twice: a redelivery)
    for command in [&refused, &refused, &attached] {
        cityfix_app::transition::apply(&status, command)
            .await
            .unwrap();
    }

    // then the timeline shows one public note of the refusal, and each media tells its state
    let timeline = world.store.timeline(&request.id).await.unwrap();
    let notes: Vec<_> = timeline
        .iter()
        .filter(|e| e.public && e.event_id == "media-0bad")
        .collect();
    assert_eq!(notes.len(), 1, "{timeline:?}");
    assert!(notes[0]
        .note
        .as_deref()
        .unwrap()
        .contains("application/x-msdownload"));
    let media = world.media.clone();
    assert!(matches!(
        cityfix_app::media::state_of(&media, "0bad").await.unwrap(),
        Some(MediaState::Rejected { reason, .. }) if reason.contains("not added")
    ));
    assert!(matches!(
        cityfix_app::media::state_of(&media, "5b0e6f4c-8a2d-4d1e-9f3b-7c6a5e4d3c2b").await.unwrap(),
        Some(MediaState::Ready { url, .. }) if url.ends_with(".jpg")
    ));
}
