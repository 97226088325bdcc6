//! The city's answers found in a resident's words (English, Spanish, typos), read whole in either
//! language, problems offered as reports, and a question no answer met filed as an information
//! request with its own tracking number and nothing personal said back.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use cityfix_app::ports::{RandomIds, RequestStore, SystemClock};
use cityfix_domain::{Language, TrackingNumber};
use cityfix_testing::{demo_city, repo_root, World};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

fn languages() -> Vec<String> {
    vec!["en".into(), "es".into()]
}

fn app(world: &World) -> Router {
    let city = demo_city();
    let answers = cityfix_config::read_answers(
        &repo_root().join("config/hartford"),
        &languages(),
        &city.services,
    )
    .unwrap();
    intake::answers_router(intake::AnswerDesk::new(
        answers,
        &languages(),
        city,
        Arc::new(world.store.clone()),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
    ))
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes).to_string()));
    (status, body)
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Value) {
    send(
        app,
        Request::builder().uri(uri).body(Body::empty()).unwrap(),
    )
    .await
}

async fn post(app: &Router, body: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method("POST")
        .uri("/api/v1/questions")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(app, request).await
}

fn first_id(body: &Value) -> &str {
    body["answers"][0]["id"].as_str().unwrap_or_default()
}

fn q(words: &str) -> String {
    format!("/api/v1/answers?q={}", words.replace(' ', "%20"))
}

#[tokio::test]
async fn everyday_questions_find_their_answer_first_in_either_language_and_with_typos() {
    let world = World::new();
    let app = app(&world);
    let cases = [
        ("how do i get a birth certificate", "birth-certificate"),
        ("copy of my birth certificate", "birth-certificate"),
        ("birht certficate", "birth-certificate"),
        ("acta de nacimiento", "birth-certificate"),
        ("partida de nacimiento para mi bebé", "birth-certificate"),
        ("death certificate for my father", "death-certificate"),
        ("we want to get married", "marriage-license"),
        ("licencia de matrimonio", "marriage-license"),
        ("what day is garbage collected", "trash-collection-day"),
        (
            "¿qué día pasa el camión de la basura?",
            "trash-collection-day",
        ),
        ("throw away an old mattress", "bulky-items"),
        ("pay a parking ticket", "parking-ticket"),
        ("pagar multa de estacionamiento", "parking-ticket"),
        ("car tax bill", "property-tax"),
        ("where to park when it snows", "snow-parking-ban"),
        ("dog licence", "dog-license"),
        ("licencia para mi perro", "dog-license"),
        ("permit for a fence", "building-permit"),
        ("no heat in my apartment", "no-heat-landlord"),
        ("el casero no arregla la calefacción", "no-heat-landlord"),
        ("register to vote", "voter-registration"),
        ("reserve a picnic pavilion", "park-pavilion"),
        ("lead paint test", "lead-paint-water"),
    ];
    let mut missed = Vec::new();
    for (typed, expected) in cases {
        let (status, body) = get(&app, &q(typed)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if first_id(&body) != expected {
            missed.push(format!("{typed:?} → {:?}", first_id(&body)));
        }
    }
    assert!(missed.is_empty(), "not first: {missed:#?}");
}

#[tokio::test]
async fn an_answer_is_read_whole_in_the_language_asked_for_with_its_links() {
    let world = World::new();
    let app = app(&world);
    let (status, english) = get(&app, "/api/v1/answers/birth-certificate").await;
    assert_eq!(status, StatusCode::OK, "{english}");
    assert_eq!(english["language"], "en");
    assert!(english["cost"].as_str().unwrap().contains("$20"));
    assert!(english["bring"].as_str().unwrap().contains("photo ID"));
    assert_eq!(english["links"][0]["title"], "Vital Records");

    let (_, spanish) = get(&app, "/api/v1/answers/birth-certificate?lang=es").await;
    assert_eq!(spanish["question"], "¿Cómo obtengo un acta de nacimiento?");
    assert_eq!(spanish["links"][0]["title"], "Registros Vitales");

    // a language the answer is not written in falls back to the city's own
    let (_, french) = get(&app, "/api/v1/answers/birth-certificate?lang=fr").await;
    assert_eq!(french["language"], "en");

    let (status, missing) = get(&app, "/api/v1/answers/fishing-licence").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
}

#[tokio::test]
async fn words_that_describe_a_problem_offer_the_report_and_a_question_does_not() {
    let world = World::new();
    let app = app(&world);
    let (_, problem) = get(&app, &q("there is a huge pothole on my street")).await;
    assert_eq!(
        problem["services"][0]["service_code"], "pothole",
        "{problem}"
    );
    let (_, bache) = get(&app, &q("hay un bache enorme")).await;
    assert_eq!(bache["services"][0]["service_code"], "pothole", "{bache}");
    let (_, question) = get(&app, &q("how do i get a birth certificate")).await;
    assert_eq!(question["services"], json!([]), "{question}");
    // an answer that leads to a service says which
    let (_, light) = get(&app, "/api/v1/answers/streetlight-out").await;
    assert_eq!(light["service"]["service_code"], "streetlight_out");
    assert_eq!(light["service"]["service_name"], "Streetlight out");
}

#[tokio::test]
async fn no_words_lists_every_answer_and_words_that_meet_none_find_nothing() {
    let world = World::new();
    let app = app(&world);
    let (_, all) = get(&app, "/api/v1/answers?lang=es").await;
    let all = all["answers"].as_array().unwrap();
    assert!(all.len() >= 15);
    assert_eq!(all[0]["question"], "¿Cómo obtengo un acta de nacimiento?");
    let (status, _) = get(&app, &q("zzxqv")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, nothing) = get(&app, &q("zzxqv")).await;
    assert_eq!(nothing["answers"], json!([]));
    let (status, long) = get(&app, &q(&"word ".repeat(120))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{long}");
    let (status, unknown) = get(&app, "/api/v1/answers?query=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{unknown}");
    assert_eq!(unknown["error"]["code"], "invalid_query", "{unknown}");
    let (status, twice) = get(&app, "/api/v1/answers/birth-certificate?lang=en&lang=es").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{twice}");
    assert_eq!(twice["error"]["code"], "invalid_query", "{twice}");
}

#[tokio::test]
async fn a_question_no_answer_met_is_kept_with_a_tracking_number_and_the_email_not_said_back() {
    let world = World::new();
    let app = app(&world);
    let (status, body) = post(
        &app,
        r#"{"question": "¿Dónde saco una licencia de pesca?", "email": "vecina@example.org", "language": "es"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(!body.to_string().contains("vecina@example.org"));
    let id = TrackingNumber::parse(body["tracking_number"].as_str().unwrap()).unwrap();
    let kept = world.store.information_request(&id).await.unwrap().unwrap();
    assert_eq!(kept.question, "¿Dónde saco una licencia de pesca?");
    assert_eq!(kept.email, "vecina@example.org");
    assert_eq!(kept.language, Language::Es);
}

#[tokio::test]
async fn a_bad_question_is_refused_with_the_field_it_is_about() {
    let world = World::new();
    let app = app(&world);
    let cases = [
        (r#"{"email": "a@example.org"}"#, "question"),
        (
            r#"{"question": "   ", "email": "a@example.org"}"#,
            "question",
        ),
        (r#"{"question": "Where?"}"#, "email"),
        (
            r#"{"question": "Where?", "email": "not-an-address"}"#,
            "email",
        ),
        (
            r#"{"question": "Where?", "email": "a@example.org", "language": "xx"}"#,
            "language",
        ),
        (
            r#"{"question": "Where\u0007?", "email": "a@example.org"}"#,
            "question",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = post(&app, body).await;
        assert!(status.is_client_error(), "{body}: {status}");
        assert!(answer.to_string().contains(field), "{body}: {answer}");
    }
    let long = json!({ "question": "x".repeat(2001), "email": "a@example.org" }).to_string();
    let (status, _) = post(&app, &long).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, unknown) = post(
        &app,
        r#"{"question": "Where?", "email": "a@example.org", "name": "Ana"}"#,
    )
    .await;
    assert!(status.is_client_error(), "{unknown}");
}

/// The request Lambda hands the router for an `events/` sample.
fn lambda_request(relative: &str) -> Request<Body> {
    let text = std::fs::read_to_string(repo_root().join("events").join(relative)).unwrap();
    lambda_http::request::from_str(&text)
        .unwrap()
        .map(|body| Body::from(body.to_vec()))
}

#[tokio::test]
async fn the_sample_events_search_with_a_typo_and_file_a_question() {
    let world = World::new();
    let app = app(&world);
    let (status, found) = send(&app, lambda_request("intake/http-get-answers.json")).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["answers"][0]["id"], "birth-certificate");
    assert_eq!(
        found["answers"][0]["question"],
        "¿Cómo obtengo un acta de nacimiento?"
    );
    let (status, filed) = send(&app, lambda_request("intake/http-post-question.json")).await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let id = TrackingNumber::parse(filed["tracking_number"].as_str().unwrap()).unwrap();
    assert!(world
        .store
        .information_request(&id)
        .await
        .unwrap()
        .is_some());
}
