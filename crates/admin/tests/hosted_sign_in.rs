//! Sign-in through the hosted UI, against a fake Cognito on a local port (a token endpoint and the
//! pool's JWKS): a good ID token starts a `Secure` session whose claims the pages use; a forged
//! signature, another client's token, an expired one, an account in no staff group, a wrong
//! `state` and a hosted UI error are refused without a session; the password form is closed.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cityfix_admin::{admin_router, Accounts, Admin, AdminParts, HostedUi, HostedUiSettings};
use cityfix_app::ports::SystemClock;
use cityfix_app::transition::StatusDeps;
use cityfix_domain::Status;
use cityfix_http::auth::TokenKeys;
use cityfix_testing::{demo_city, force_status, intake_deps, seed_request, World};
use http_body_util::BodyExt;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

const POOL_KEY: &[u8] = include_bytes!("fixtures/test-pool-key.der");
const OTHER_KEY: &[u8] = include_bytes!("fixtures/test-other-key.der");
const JWKS: &str = include_str!("fixtures/test-pool-jwks.json");
const CLIENT: &str = "admin-client";
const ISSUER_PATH: &str = "/us-east-1_TestPool";
const CALLBACK: &str = "https://311.example/admin/auth/callback";

/// What the fake token endpoint answers, and the forms it was sent.
#[derive(Default)]
struct FakeCognito {
    id_token: Mutex<String>,
    forms: Mutex<Vec<Vec<(String, String)>>>,
}

struct Fixture {
    cognito: Arc<FakeCognito>,
    issuer: String,
    app: Router,
}

struct Answer {
    status: StatusCode,
    body: String,
    location: Option<String>,
    cookies: Vec<String>,
}

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

impl Fixture {
    async fn new() -> Fixture {
        let cognito = Arc::new(FakeCognito::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let fake = cognito.clone();
        let server = Router::new()
            .route(
                "/oauth2/token",
                post(
                    move |Form(form): Form<Vec<(String, String)>>| async move {
                        fake.forms.lock().unwrap().push(form);
                        let token = fake.id_token.lock().unwrap().clone();
                        Json(json!({ "id_token": token, "access_token": "unused", "token_type": "Bearer", "expires_in": 3600 }))
                    },
                ),
            )
            .route(
                &format!("{ISSUER_PATH}/.well-known/jwks.json"),
                get(|| async { ([(header::CONTENT_TYPE, "application/json")], JWKS) }),
            );
        tokio::spawn(async move { axum::serve(listener, server).await.unwrap() });

        let world = World::new();
        seed_request(
            &world.store,
            "7K3M-9QZ2",
            "pothole",
            41.7677,
            -72.67602,
            None,
        )
        .await;
        let mut request = cityfix_app::ports::RequestStore::get(
            &world.store,
            &cityfix_domain::TrackingNumber::parse("7K3M-9QZ2").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
        request.department = Some("public-works".into());
        force_status(&world.store, request, Status::Open, "routed").await;
        let status = StatusDeps {
            city: demo_city(),
            store: Arc::new(world.store.clone()),
            queue: Arc::new(world.queue.clone()),
            clock: Arc::new(SystemClock),
            media: Arc::new(world.media.clone()),
        };
        let issuer = format!("{origin}{ISSUER_PATH}");
        let hosted = HostedUi::new(HostedUiSettings::cognito(
            &origin, CLIENT, CALLBACK, &issuer,
        ));
        let app = admin_router(
            Admin::new(AdminParts {
                status,
                metrics: Arc::new(world.store.clone()),
                intake: intake_deps(&world),
                keys: Arc::new(TokenKeys::from_secret(b"session secret of the test")),
                csrf_key: b"csrf key of the test".to_vec(),
                accounts: Accounts::default(),
                public_url: "https://311.example".into(),
            })
            .signing_in_through(hosted),
        );
        Fixture {
            cognito,
            issuer,
            app,
        }
    }

    /// The claims of a good ID token of a public-works crew member, with `change`.
    fn claims(&self, change: &[(&str, Value)]) -> Value {
        let mut claims = json!({
            "sub": "5f1c-crew", "aud": CLIENT, "iss": self.issuer, "token_use": "id",
            "iat": now() - 60, "exp": now() + 3540, "auth_time": now() - 60,
            "cognito:groups": ["staff"], "custom:department": "public-works",
            "name": "Sam Reyes", "email": "sam@example.org",
        });
        for (name, value) in change {
            claims[*name] = value.clone();
        }
        claims
    }

    fn will_issue(&self, claims: &Value, key: &[u8]) {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("test-pool-key".into());
        let token = encode(&header, claims, &EncodingKey::from_rsa_der(key)).unwrap();
        *self.cognito.id_token.lock().unwrap() = token;
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut request = Request::get(path);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|l| l.to_str().unwrap().to_string());
        let cookies = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|c| c.to_str().unwrap().to_string())
            .collect();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
            location,
            cookies,
        }
    }

    /// Starts a sign-in for `next`: the hosted UI's address and the cookie the browser holds.
    async fn start(&self, next: &str) -> (String, String) {
        let answer = self.get(&format!("/admin/sign-in?next={next}"), None).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        let cookie = answer.cookies[0].split(';').next().unwrap().to_string();
        (answer.location.unwrap(), cookie)
    }

    /// A whole sign-in ending with the ID token `claims` signed with `key`: the callback's answer.
    async fn sign_in_with(&self, claims: &Value, key: &[u8]) -> Answer {
        self.will_issue(claims, key);
        let (authorize, cookie) = self.start("/admin/queue").await;
        let state = query_value(&authorize, "state");
        self.get(
            &format!("/admin/auth/callback?code=the-code&state={state}"),
            Some(&cookie),
        )
        .await
    }
}

fn query_value(url: &str, name: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

fn session_cookie(answer: &Answer) -> Option<String> {
    answer
        .cookies
        .iter()
        .find(|c| c.starts_with("cityfix_staff=") && !c.starts_with("cityfix_staff=;"))
        .cloned()
}

#[tokio::test]
async fn sign_in_page_sends_to_the_hosted_ui_with_a_lax_cookie_of_the_sign_in() {
    let f = Fixture::new().await;
    let answer = f
        .get("/admin/sign-in?next=/admin/requests/7K3M-9QZ2", None)
        .await;
    let authorize = answer.location.unwrap();
    assert!(authorize.contains("/oauth2/authorize?response_type=code&client_id=admin-client"));
    assert_eq!(query_value(&authorize, "redirect_uri"), CALLBACK);
    let cookie = &answer.cookies[0];
    assert!(cookie.starts_with("cityfix_hosted_sign_in="), "{cookie}");
    for part in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/admin"] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
}

#[tokio::test]
async fn a_good_id_token_starts_a_secure_session_with_the_role_and_department_of_its_claims() {
    let f = Fixture::new().await;
    let answer = f.sign_in_with(&f.claims(&[]), POOL_KEY).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // The page moves on by itself (minijinja writes `/` as `&#x2f;`, which the browser reads back).
    let page = answer.body.replace("&#x2f;", "/");
    assert!(page.contains(r#"content="0; url=/admin/queue""#), "{page}");
    let session = session_cookie(&answer).expect("a session cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(session.contains(part), "{session} lacks {part}");
    }

    // The code was exchanged with the verifier whose challenge went to the hosted UI.
    let forms = f.cognito.forms.lock().unwrap().clone();
    let form = &forms[0];
    let field = |name: &str| form.iter().find(|(k, _)| k == name).unwrap().1.clone();
    assert_eq!(field("grant_type"), "authorization_code");
    assert_eq!(field("code"), "the-code");
    assert_eq!(field("client_id"), CLIENT);
    assert_eq!(field("redirect_uri"), CALLBACK);

    // The session is the crew member's: their department's queue lists its pothole.
    let cookie = session.split(';').next().unwrap();
    let queue = f.get("/admin/queue", Some(cookie)).await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(queue.body.contains("Sam Reyes"), "{}", queue.body);
    assert!(queue.body.contains("7K3M-9QZ2"), "{}", queue.body);
}

#[tokio::test]
async fn the_verifier_sent_is_the_one_of_the_challenge_given() {
    let f = Fixture::new().await;
    f.will_issue(&f.claims(&[]), POOL_KEY);
    let (authorize, cookie) = f.start("/admin/queue").await;
    let state = query_value(&authorize, "state");
    f.get(
        &format!("/admin/auth/callback?code=c&state={state}"),
        Some(&cookie),
    )
    .await;
    let forms = f.cognito.forms.lock().unwrap().clone();
    let verifier = &forms[0]
        .iter()
        .find(|(k, _)| k == "code_verifier")
        .unwrap()
        .1;
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        query_value(&authorize, "code_challenge")
    );
}

#[tokio::test]
async fn a_forged_signature_another_clients_token_and_an_expired_one_are_refused() {
    let f = Fixture::new().await;
    let cases = [
        ("forged", f.claims(&[]), OTHER_KEY),
        (
            "wrong audience",
            f.claims(&[("aud", json!("another-client"))]),
            POOL_KEY,
        ),
        (
            "expired",
            f.claims(&[("iat", json!(now() - 7200)), ("exp", json!(now() - 3600))]),
            POOL_KEY,
        ),
        (
            "another issuer",
            f.claims(&[("iss", json!("https://issuer.example"))]),
            POOL_KEY,
        ),
        (
            "an access token",
            f.claims(&[("token_use", json!("access"))]),
            POOL_KEY,
        ),
    ];
    for (case, claims, key) in cases {
        let answer = f.sign_in_with(&claims, key).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{case}: {}",
            answer.body
        );
        assert!(
            session_cookie(&answer).is_none(),
            "{case}: a session was started"
        );
        assert!(answer.body.contains("Sign-in failed"), "{case}");
    }
}

#[tokio::test]
async fn an_account_in_no_staff_group_gets_no_session() {
    let f = Fixture::new().await;
    let answer = f
        .sign_in_with(
            &f.claims(&[("cognito:groups", json!(["residents"]))]),
            POOL_KEY,
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(session_cookie(&answer).is_none());
    assert!(answer.body.contains("no staff role"));
}

#[tokio::test]
async fn a_callback_with_another_state_or_no_cookie_is_refused_before_any_exchange() {
    let f = Fixture::new().await;
    f.will_issue(&f.claims(&[]), POOL_KEY);
    let (_, cookie) = f.start("/admin/queue").await;
    let other = f
        .get(
            "/admin/auth/callback?code=c&state=not-the-state",
            Some(&cookie),
        )
        .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
    let none = f.get("/admin/auth/callback?code=c&state=x", None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let error = f
        .get("/admin/auth/callback?error=access_denied", Some(&cookie))
        .await;
    assert_eq!(error.status, StatusCode::UNAUTHORIZED);
    assert!(session_cookie(&other).is_none() && session_cookie(&none).is_none());
    assert!(f.cognito.forms.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_password_form_takes_no_passwords_on_aws() {
    let f = Fixture::new().await;
    let response = f
        .app
        .clone()
        .oneshot(
            Request::post("/admin/sign-in")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("username=sam&password=x&csrf=y"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
