//! The media contract: S3 semantics that intake, the media function and browsers rely on: signed
//! upload forms a browser posts as multipart (and that refuse what they were not signed for),
//! signed links that read a file, and head, get, put and delete.

use std::time::Duration;

use cityfix_app::ports::{MediaStore, PortError, UploadForm};

const MINUTE: Duration = Duration::from_secs(60);

/// Posts `file` with the form, as a browser does: every field, then the file last.
async fn post_form(form: &UploadForm, file: Vec<u8>, content_type: &str) -> reqwest::StatusCode {
    let mut multipart = reqwest::multipart::Form::new();
    for (name, value) in &form.fields {
        multipart = multipart.text(name.clone(), value.clone());
    }
    let part = reqwest::multipart::Part::bytes(file)
        .file_name("photo")
        .mime_str(content_type)
        .unwrap();
    multipart = multipart.part("file", part);
    reqwest::Client::new()
        .post(&form.url)
        .multipart(multipart)
        .send()
        .await
        .expect("the form's URL answers")
        .status()
}

pub async fn a_file_is_put_read_and_deleted(media: &dyn MediaStore) {
    let key = "originals/7K3M-9QZ2/a.jpg";
    assert_eq!(media.head(key).await.unwrap(), None);
    assert!(matches!(media.get(key).await, Err(PortError::NotFound(_))));
    media
        .put(key, b"\xFF\xD8\xFFpicture".to_vec(), "image/jpeg")
        .await
        .unwrap();
    let head = media.head(key).await.unwrap().expect("the file is there");
    assert_eq!(head.size, 10);
    assert_eq!(head.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(media.get(key).await.unwrap(), b"\xFF\xD8\xFFpicture");
    media.delete(key).await.unwrap();
    assert_eq!(media.head(key).await.unwrap(), None);
    media
        .delete(key)
        .await
        .expect("deleting a missing file is no error");
}

pub async fn a_stored_file_is_never_replaced(media: &dyn MediaStore) {
    // given a checked photo kept under its media id
    let key = "originals/7K3M-9QZ2/e.jpg";
    media
        .put(key, b"\xFF\xD8\xFFfirst".to_vec(), "image/jpeg")
        .await
        .unwrap();

    // when another file is put at the same key
    let again = media
        .put(key, b"\xFF\xD8\xFFsecond, larger".to_vec(), "image/png")
        .await;

    // then it is refused and the first file stands, type and all
    assert!(
        matches!(again, Err(PortError::AlreadyExists(_))),
        "{again:?}"
    );
    assert_eq!(media.get(key).await.unwrap(), b"\xFF\xD8\xFFfirst");
    let head = media.head(key).await.unwrap().expect("the file is there");
    assert_eq!(head.content_type.as_deref(), Some("image/jpeg"));
}

pub async fn a_browser_uploads_with_the_form(media: &dyn MediaStore) {
    let key = "uploads/7K3M-9QZ2/0f9a-1.jpg";
    let form = media
        .upload_form(key, "image/jpeg", 1000, MINUTE)
        .await
        .unwrap();
    let status = post_form(&form, vec![0xFF; 600], "image/jpeg").await;
    assert!(status.is_success(), "the upload is taken: {status}");
    let head = media
        .head(key)
        .await
        .unwrap()
        .expect("the upload is stored");
    assert_eq!(head.size, 600);
    assert_eq!(head.content_type.as_deref(), Some("image/jpeg"));
}

pub async fn a_form_refuses_a_file_over_its_size(media: &dyn MediaStore) {
    let key = "uploads/7K3M-9QZ2/0f9a-2.jpg";
    let form = media
        .upload_form(key, "image/jpeg", 1000, MINUTE)
        .await
        .unwrap();
    let status = post_form(&form, vec![0xFF; 1001], "image/jpeg").await;
    assert!(status.is_client_error(), "refused: {status}");
    assert_eq!(media.head(key).await.unwrap(), None);
}

pub async fn a_form_refuses_a_changed_field(media: &dyn MediaStore) {
    let key = "uploads/7K3M-9QZ2/0f9a-3.jpg";
    let mut form = media
        .upload_form(key, "image/jpeg", 1000, MINUTE)
        .await
        .unwrap();
    for (name, value) in form.fields.iter_mut() {
        if name == "key" {
            *value = "originals/7K3M-9QZ2/0f9a-3.jpg".into();
        }
    }
    let status = post_form(&form, vec![0xFF; 10], "image/jpeg").await;
    assert!(status.is_client_error(), "refused: {status}");
    assert_eq!(
        media.head("originals/7K3M-9QZ2/0f9a-3.jpg").await.unwrap(),
        None
    );
}

pub async fn a_link_reads_the_file(media: &dyn MediaStore) {
    let key = "originals/7K3M-9QZ2/b.png";
    media
        .put(key, b"\x89PNG picture".to_vec(), "image/png")
        .await
        .unwrap();
    let link = media.download_url(key, MINUTE).await.unwrap();
    let answer = reqwest::get(&link).await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    assert_eq!(answer.bytes().await.unwrap().as_ref(), b"\x89PNG picture");
}

pub async fn a_changed_link_is_refused(media: &dyn MediaStore) {
    let key = "originals/7K3M-9QZ2/c.png";
    media
        .put(key, b"\x89PNG picture".to_vec(), "image/png")
        .await
        .unwrap();
    let link = media.download_url(key, MINUTE).await.unwrap();
    let other = link.replace("c.png", "d.png");
    media
        .put(
            "originals/7K3M-9QZ2/d.png",
            b"\x89PNG other".to_vec(),
            "image/png",
        )
        .await
        .unwrap();
    let answer = reqwest::get(&other).await.unwrap();
    assert!(answer.status().is_client_error(), "{}", answer.status());
}

/// A queue that keeps what it is sent, for the media check.
#[derive(Default)]
pub struct Kept(pub std::sync::Mutex<Vec<String>>);

#[async_trait::async_trait]
impl cityfix_app::ports::Queue for Kept {
    async fn send(
        &self,
        _: cityfix_app::ports::QueueName,
        body: &str,
    ) -> cityfix_app::ports::PortResult<()> {
        self.0.lock().unwrap().push(body.to_string());
        Ok(())
    }

    async fn send_delayed(
        &self,
        queue: cityfix_app::ports::QueueName,
        body: &str,
        _: std::time::Duration,
    ) -> cityfix_app::ports::PortResult<()> {
        self.send(queue, body).await
    }
}

/// Where storage takes a file larger than its kind allows (moto does not check a form's policy),
/// the media check refuses it from its size alone, deletes it and keeps nothing.
pub async fn the_check_refuses_a_file_over_its_kind(media: std::sync::Arc<dyn MediaStore>) {
    use cityfix_app::media::{check_upload, Checked, MediaDeps};
    let key = "uploads/7K3M-9QZ2/0f9a-big.png";
    media
        .put(key, vec![0x89; 16 * 1024 * 1024], "image/png")
        .await
        .unwrap();
    let queue = std::sync::Arc::new(Kept::default());
    let deps = MediaDeps {
        media: media.clone(),
        queue: queue.clone(),
        public_url: "http://cityfix.test".into(),
    };
    let checked = check_upload(&deps, key).await.unwrap();
    assert!(
        matches!(&checked, Checked::Refused(why) if why.contains("a image/png may have 1 to")),
        "{checked:?}"
    );
    assert_eq!(media.head(key).await.unwrap(), None);
    assert_eq!(
        media
            .head("originals/7K3M-9QZ2/0f9a-big.png")
            .await
            .unwrap(),
        None
    );
    let sent = queue.0.lock().unwrap().clone();
    assert!(
        matches!(&sent[..], [note] if note.contains("refuse_media")),
        "{sent:?}"
    );
}

pub async fn the_keys_of_a_folder_are_listed_in_order(media: &dyn MediaStore) {
    // given records in two folders, one nested, and a file beside them
    for key in [
        "slots/bbbb/m-2.jpg",
        "slots/aaaa/m-1.mp4",
        "slots/aaaa/m-0.jpg",
        "states/m-1.pending",
    ] {
        media
            .put(key, b"{}".to_vec(), "application/json")
            .await
            .unwrap();
    }
    // then a folder lists its keys at any depth, in key order, up to the limit
    assert_eq!(
        media.keys("slots/", 10).await.unwrap(),
        [
            "slots/aaaa/m-0.jpg",
            "slots/aaaa/m-1.mp4",
            "slots/bbbb/m-2.jpg"
        ]
    );
    assert_eq!(
        media.keys("slots/aaaa/", 10).await.unwrap(),
        ["slots/aaaa/m-0.jpg", "slots/aaaa/m-1.mp4"]
    );
    assert_eq!(
        media.keys("slots/", 1).await.unwrap(),
        ["slots/aaaa/m-0.jpg"]
    );
    assert!(media.keys("nothing/", 10).await.unwrap().is_empty());
}
