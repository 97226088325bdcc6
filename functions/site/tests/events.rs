//! The site function fed the sample HTTP API (v2) events from `events/site/` (requests CloudFront
//! passed on to the API), over the repository's own `web/` folder: the page and a module with their
//! caching and security headers, and nothing outside the site folder.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use cityfix_testing::repo_root;
use http_body_util::BodyExt;
use tower::ServiceExt;

fn lambda_request(relative: &str) -> Request<Body> {
    let text = std::fs::read_to_string(repo_root().join("events").join(relative)).unwrap();
    lambda_http::request::from_str(&text)
        .unwrap_or_else(|e| panic!("{relative} is not an API Gateway event: {e}"))
        .map(|body| Body::from(body.to_vec()))
}

async fn answer(relative: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let app = site::site_app(&repo_root().join("web"));
    let response = app.oneshot(lambda_request(relative)).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn the_page_is_served_revalidated_every_time_with_the_security_headers() {
    let (status, headers, body) = answer("site/http-get-page.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(body.contains("js/main.js"), "the page loads its modules");
}

#[tokio::test]
async fn a_module_is_javascript_kept_five_minutes() {
    let (status, headers, body) = answer("site/http-get-module.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=300");
    assert!(body.contains("import"), "the module's own text");
}

#[tokio::test]
async fn nothing_outside_the_site_folder_is_served() {
    let (status, headers, body) = answer("site/http-get-outside.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!headers.contains_key(header::CACHE_CONTROL));
    assert!(!body.contains("[workspace]"));
}
