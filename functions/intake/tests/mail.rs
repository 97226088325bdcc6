//! E-mail intake over the embedded adapters, with messages shaped as mail programs write them:
//! a report with a photo, a reply that comments, and what is answered or ignored.

use std::sync::Arc;

use base64::Engine;
use cityfix_app::letters::Letter;
use cityfix_app::mail_intake::{intake_email, MailIntakeDeps, MailOutcome};
use cityfix_app::media::MediaDeps;
use cityfix_app::ports::{QueueConsumer, RequestStore};
use cityfix_testing::{intake_deps, seed_request, World};

fn deps(world: &World) -> MailIntakeDeps {
    let intake = intake_deps(world);
    MailIntakeDeps {
        choose_service: intake::service_chooser(&intake.city.services),
        intake,
        media: MediaDeps {
            media: Arc::new(world.media.clone()),
            queue: Arc::new(world.queue.clone()),
            public_url: "http://127.0.0.1:3000".into(),
        },
        mailer: Arc::new(world.outbox.clone()),
        mail_from: "Hartford 311 <311@hartford.example>".into(),
        public_url: "http://127.0.0.1:3000".into(),
    }
}

/// A message as Gmail sends one: multipart/mixed with a text part and, if given, one attachment.
fn eml(
    headers: &str,
    subject: &str,
    text: &str,
    attachment: Option<(&str, &str, &[u8])>,
) -> Vec<u8> {
    let mut out = format!(
        "Return-Path: <ana.quintero@example.org>\r\nFrom: Ana Quintero <ana.quintero@example.org>\r\nTo: 311@hartford.example\r\nSubject: {subject}\r\nDate: Wed, 2 Dec 2026 08:14:03 -0500\r\nMessage-ID: <CAF{}@mail.example.org>\r\nMIME-Version: 1.0\r\n{headers}Content-Type: multipart/mixed; boundary=\"000000000000b1c2d3\"\r\n\r\n--000000000000b1c2d3\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{text}\r\n",
        cityfix_domain::text::fingerprint(&format!("{subject}{text}"))
    )
    .into_bytes();
    if let Some((name, content_type, bytes)) = attachment {
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        let lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        out.extend(format!("--000000000000b1c2d3\r\nContent-Type: {content_type}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n", lines.join("\r\n")).into_bytes());
    }
    out.extend(b"--000000000000b1c2d3--\r\n");
    out
}

async fn stored(world: &World) -> Vec<cityfix_domain::ServiceRequest> {
    let query = cityfix_app::ports::RequestQuery {
        page: 1,
        page_size: 100,
        ..Default::default()
    };
    world.store.search(&query).await.unwrap()
}

fn answers(world: &World) -> Vec<String> {
    world
        .outbox
        .list()
        .unwrap()
        .into_iter()
        .filter(|e| e.channel == "email")
        .map(|e| String::from_utf8(world.outbox.read(&e.file).unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_report_with_an_address_and_a_photo_is_filed_with_the_photo_checked() {
    let world = World::new();
    let photo = cityfix_app::samples::photo_taken_at(41.7677, -72.67602);
    let message = eml(
        "",
        "Pothole",
        "There is a deep pothole in front of 550 Main St, by the bus stop.\r\n\r\n-- \r\nAna Quintero\r\n(860) 555-0199",
        Some(("IMG_2041.jpg", "image/jpeg", &photo)),
    );

    let outcome = intake_email(&deps(&world), &message).await.unwrap();

    let MailOutcome::Reported { id, media } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(media, 1);
    let request = world.store.get(&id).await.unwrap().unwrap();
    assert_eq!(request.service_code, "pothole");
    assert_eq!(request.channel, "email");
    assert_eq!(request.address.as_deref(), Some("550 Main Street"));
    let description = request.description.clone().unwrap();
    assert!(description.contains("by the bus stop"), "{description}");
    assert!(
        !description.contains("555-0199"),
        "the signature is left out: {description}"
    );
    let reporter = world.store.reporter(&id).await.unwrap().unwrap();
    assert_eq!(reporter.email.as_deref(), Some("ana.quintero@example.org"));
    assert_eq!(reporter.first_name.as_deref(), Some("Ana"));
    // the photo went through the upload check, which asks status to attach it
    let commands = world.queue.receive("status", 10).await.unwrap();
    assert!(
        commands.iter().any(|c| c.body.contains("attach_media")
            || c.body.contains("AttachMedia")
            || c.body.contains("mailed-")),
        "{commands:?}"
    );
    // the same message again (a redelivery) files nothing more
    let again = intake_email(&deps(&world), &message).await.unwrap();
    assert!(
        matches!(again, MailOutcome::Reported { id: ref again, .. } if *again == id),
        "{again:?}"
    );
    assert_eq!(stored(&world).await.len(), 1);
    assert!(
        answers(&world).is_empty(),
        "a filed report is acknowledged by the pipeline, not here"
    );
}

#[tokio::test]
async fn a_photo_places_a_report_whose_words_name_no_address() {
    let world = World::new();
    let photo = cityfix_app::samples::photo_taken_at(41.7677, -72.67602);
    let message = eml(
        "",
        "Streetlight out",
        "The streetlight here has been out for a week.",
        Some(("photo.jpg", "image/jpeg", &photo)),
    );
    let MailOutcome::Reported { id, .. } = intake_email(&deps(&world), &message).await.unwrap()
    else {
        panic!("not filed")
    };
    let request = world.store.get(&id).await.unwrap().unwrap();
    assert_eq!(request.service_code, "streetlight_out");
    assert!((request.location.lat() - 41.7677).abs() < 1e-4);
}

#[tokio::test]
async fn what_cannot_be_filed_is_answered_once_and_changes_nothing() {
    let world = World::new();
    let cases: Vec<(Vec<u8>, Letter, &str)> = vec![
        (
            eml("", "Pothole", "There is a big pothole near my house.", None),
            Letter::MailNeedsPlace,
            "street address",
        ),
        (
            eml("", "", "-- \r\nAna Quintero\r\n(860) 555-0199", None),
            Letter::MailNeedsWords,
            "what is wrong",
        ),
        (
            eml(
                "",
                "Pothole at 550 Main St",
                "See the attached form.",
                Some((
                    "form.pdf",
                    "application/pdf",
                    b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n",
                )),
            ),
            Letter::MailRefused,
            "form.pdf is not a photo or video",
        ),
    ];
    for (n, (message, letter, words)) in cases.into_iter().enumerate() {
        let outcome = intake_email(&deps(&world), &message).await.unwrap();
        assert!(
            matches!(&outcome, MailOutcome::Answered(l, _) if *l == letter),
            "{outcome:?}"
        );
        let sent = answers(&world);
        assert_eq!(sent.len(), n + 1, "one answer each");
        assert!(
            sent[n].contains("To: ana.quintero@example.org"),
            "{}",
            sent[n]
        );
        assert!(sent[n].contains(words), "{words} in {}", sent[n]);
    }
    assert!(stored(&world).await.is_empty());
}

#[tokio::test]
async fn automatic_mail_is_never_answered() {
    let world = World::new();
    let automatic = [
        eml("Auto-Submitted: auto-replied\r\n", "Out of office", "I am away until Monday at 550 Main St.", None),
        eml("Precedence: bulk\r\n", "Newsletter", "Pothole season at 550 Main St", None),
        b"From: MAILER-DAEMON@mail.example.org\r\nTo: 311@hartford.example\r\nSubject: Undelivered Mail\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nThe mail to ana@example.org could not be delivered.\r\n--b--\r\n".to_vec(),
        b"From: Hartford 311 <311@hartford.example>\r\nTo: 311@hartford.example\r\nSubject: Your report 7K3M-9QZ2 was received\r\n\r\nThank you.\r\n".to_vec(),
    ];
    for message in automatic {
        let outcome = intake_email(&deps(&world), &message).await.unwrap();
        assert!(matches!(outcome, MailOutcome::Ignored(_)), "{outcome:?}");
    }
    assert!(answers(&world).is_empty());
    assert!(stored(&world).await.is_empty());
}

#[tokio::test]
async fn a_reply_from_the_reporter_is_a_comment_and_from_anyone_else_is_refused() {
    let world = World::new();
    seed_request(
        &world.store,
        "7K3M-9QZ2",
        "pothole",
        41.7677,
        -72.67602,
        Some("ana.quintero@example.org"),
    )
    .await;
    let reply = eml(
        "In-Reply-To: <ack-7K3M-9QZ2@hartford.example>\r\n",
        "Re: Your report 7K3M-9QZ2 was received",
        "It got bigger after the rain.\r\n\r\nOn Tue, Dec 1, 2026 at 9:00 AM Hartford 311 <311@hartford.example> wrote:\r\n> Your report 7K3M-9QZ2 was received",
        None,
    );
    let outcome = intake_email(&deps(&world), &reply).await.unwrap();
    assert_eq!(
        outcome,
        MailOutcome::Commented(cityfix_domain::TrackingNumber::parse("7K3M-9QZ2").unwrap())
    );
    let commands = world.queue.receive("status", 10).await.unwrap();
    assert_eq!(commands.len(), 1);
    assert!(
        commands[0].body.contains("It got bigger after the rain."),
        "{}",
        commands[0].body
    );
    assert!(!commands[0].body.contains("wrote:"), "{}", commands[0].body);

    let stranger = String::from_utf8(reply)
        .unwrap()
        .replace("ana.quintero@example.org", "bo@example.org")
        .replace("CAF", "CAG");
    let outcome = intake_email(&deps(&world), stranger.as_bytes())
        .await
        .unwrap();
    assert!(
        matches!(outcome, MailOutcome::Answered(Letter::MailRefused, Some(ref why)) if why.contains("only the person who reported")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn the_mail_function_reads_the_message_the_sample_event_names() {
    use cityfix_app::ports::MediaStore;
    let world = World::new();
    let message = eml(
        "",
        "Pothole",
        "A deep pothole in front of 550 Main St.",
        None,
    );
    world
        .media
        .put(
            "inbound/7rs0p4nd8c2mjq4l1u4hb1e5v3o9kq2n0g6c1a01",
            message,
            "message/rfc822",
        )
        .await
        .unwrap();
    let event = cityfix_testing::event("intake/s3-mail-received.json");

    let outcomes = intake::mail::handle(&world.media, &deps(&world), event)
        .await
        .unwrap();

    // the setup notification SES writes at the bucket's root is left
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert!(
        matches!(outcomes[0], MailOutcome::Reported { .. }),
        "{outcomes:?}"
    );
    assert_eq!(stored(&world).await.len(), 1);
}
