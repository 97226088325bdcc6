//! The media handler fed the sample S3 ObjectCreated event from `events/`.

use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use cityfix_app::media::{Checked, MediaDeps};
use cityfix_app::messages::StatusCommand;
use cityfix_app::ports::{MediaStore, QueueConsumer};
use cityfix_testing::{event, seed_sample_pothole, World};

const UPLOAD: &str = "uploads/7K3M-9QZ2/5b0e6f4c-8a2d-4d1e-9f3b-7c6a5e4d3c2b.jpg";
const ORIGINAL: &str = "originals/7K3M-9QZ2/5b0e6f4c-8a2d-4d1e-9f3b-7c6a5e4d3c2b.jpg";

/// A tiny JPEG whose EXIF block says where it was taken.
fn photo_with_gps() -> Vec<u8> {
    let mut jpeg = vec![0xFF, 0xD8];
    let exif = b"Exif\0\0GPSLatitude 41.7677 GPSLongitude -72.6760";
    jpeg.extend([0xFF, 0xE1, 0, (exif.len() + 2) as u8]);
    jpeg.extend(exif);
    jpeg.extend([0xFF, 0xE0, 0, 7, b'J', b'F', b'I', b'F', 0]);
    jpeg.extend([0xFF, 0xD9]);
    jpeg
}

fn deps(world: &World) -> MediaDeps {
    MediaDeps {
        media: Arc::new(world.media.clone()),
        queue: Arc::new(world.queue.clone()),
        public_url: "http://cityfix.test".into(),
    }
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
    let kept = world.media.get(ORIGINAL).await.unwrap();
    assert!(!kept.windows(4).any(|w| w == b"Exif"));
    assert!(!kept.windows(3).any(|w| w == b"GPS"));
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

    // then it is refused and deleted, and status hears nothing
    assert!(matches!(&checked[..], [Checked::Refused(why)] if why.contains("declared image/jpeg")));
    assert_eq!(world.media.head(UPLOAD).await.unwrap(), None);
    assert_eq!(world.media.head(ORIGINAL).await.unwrap(), None);
    assert!(world.queue.receive("status", 10).await.unwrap().is_empty());
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
    let mut other = photo_with_gps();
    other.splice(2..2, [0xFF, 0xE0, 0, 7, b'O', b'T', b'H', b'E', b'R']);
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
