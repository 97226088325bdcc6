//! The staff application as the admin function serves it (behind the Lambda guard, signing in
//! through the hosted UI), fed the sample HTTP API (v2) events from `events/admin/`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use cityfix_admin::{
    admin_router, session, Accounts, Admin, AdminParts, HostedUi, HostedUiSettings,
};
use cityfix_app::ports::SystemClock;
use cityfix_app::transition::StatusDeps;
use cityfix_http::guard::lambda_front;
use cityfix_testing::{demo_city, intake_deps, repo_root, World};
use tower::ServiceExt;

fn app(world: &World) -> axum::Router {
    let city = demo_city();
    let (keys, csrf_key) = session::keys_from_secret(b"the admin function's secret in a test");
    let admin = Admin::new(AdminParts {
        metrics: Arc::new(world.store.clone()),
        status: StatusDeps {
            city: city.clone(),
            store: Arc::new(world.store.clone()),
            queue: Arc::new(world.queue.clone()),
            clock: Arc::new(SystemClock),
            media: Arc::new(world.media.clone()),
        },
        intake: intake_deps(world),
        keys,
        csrf_key,
        accounts: Accounts::default(),
        public_url: "https://hartford.example/311".into(),
    })
    .signing_in_through(HostedUi::new(HostedUiSettings::cognito(
        "https://hartford-staff.auth.us-east-1.amazoncognito.com",
        "7p2q4r6s8t0u1v3w5x7y9z1a2b",
        "https://hartford.example/admin/auth/callback",
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI",
    )));
    lambda_front(admin_router(admin), &city.rate_limits)
}

fn lambda_request(relative: &str) -> Request<Body> {
    let text = std::fs::read_to_string(repo_root().join("events").join(relative)).unwrap();
    lambda_http::request::from_str(&text)
        .unwrap_or_else(|e| panic!("{relative} is not an API Gateway event: {e}"))
        .map(|body| Body::from(body.to_vec()))
}

#[tokio::test]
async fn a_page_without_a_session_sends_to_sign_in_and_sign_in_to_the_hosted_ui() {
    let world = World::new();
    let page = app(&world)
        .oneshot(lambda_request("admin/http-get-page.json"))
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page.headers()[header::LOCATION],
        "/admin/sign-in?next=%2Fadmin%2Frequests%2F7K3M-9QZ2%3Ftab%3Dtimeline"
    );

    let sign_in = app(&world)
        .oneshot(lambda_request("admin/http-get-sign-in.json"))
        .await
        .unwrap();
    assert_eq!(sign_in.status(), StatusCode::SEE_OTHER);
    let to = sign_in.headers()[header::LOCATION].to_str().unwrap();
    assert!(
        to.starts_with("https://hartford-staff.auth.us-east-1.amazoncognito.com/oauth2/authorize?response_type=code&client_id=7p2q4r6s8t0u1v3w5x7y9z1a2b&redirect_uri=https%3A%2F%2Fhartford.example%2Fadmin%2Fauth%2Fcallback"),
        "{to}"
    );
    let cookie = sign_in.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.starts_with("cityfix_hosted_sign_in=") && cookie.ends_with("; Secure"),
        "{cookie}"
    );
    // The guard's security headers are on every answer, as on the other functions.
    assert!(sign_in.headers().contains_key("x-content-type-options"));
}
