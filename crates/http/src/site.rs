//! The resident site's static files as routes, the same for the local runner and the site function
//! on Lambda: each file with a `Cache-Control` a CDN in front can keep to, so a new release reaches
//! phones within minutes (the page, its service worker and manifest are revalidated every time;
//! the modules, styles and translations are kept five minutes; the map library a day).

use std::path::Path;

use axum::http::{header, HeaderValue, Response};
use axum::Router;
use tower::Layer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// For the page, its service worker and its manifest: always ask the origin whether they changed.
pub const REVALIDATE: &str = "no-cache";
/// For the site's own modules, styles and translations (their names carry no version).
pub const SITE_FILE: &str = "public, max-age=300";
/// For the map library, which changes only with its version in `web/package.json`.
pub const VENDOR_FILE: &str = "public, max-age=86400";

/// The files revalidated on every load, each served from the site folder under its own name.
const ENTRY_FILES: &[&str] = &["sw.js", "manifest.webmanifest"];

/// `router` with the site's files after its own routes: `site` holds `index.html` and the rest,
/// `leaflet` the map library's `dist` folder (served under `/vendor/leaflet/`).
pub fn static_site(router: Router, site: &Path, leaflet: &Path) -> Router {
    let index = site.join("index.html");
    let router = router
        .route_service("/", cached(REVALIDATE).layer(ServeFile::new(&index)))
        .route_service(
            "/index.html",
            cached(REVALIDATE).layer(ServeFile::new(&index)),
        );
    ENTRY_FILES
        .iter()
        .fold(router, |router, name| {
            router.route_service(
                &format!("/{name}"),
                cached(REVALIDATE).layer(ServeFile::new(site.join(name))),
            )
        })
        .nest_service(
            "/vendor/leaflet",
            cached(VENDOR_FILE).layer(ServeDir::new(leaflet)),
        )
        .fallback_service(cached(SITE_FILE).layer(ServeDir::new(site)))
}

/// Sets `Cache-Control` on the file responses that found a file (200, 206, 304); a 404 stays
/// uncached, so a file added by the next release is found at once.
fn cached<B>(
    policy: &'static str,
) -> SetResponseHeaderLayer<impl Fn(&Response<B>) -> Option<HeaderValue> + Clone> {
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, move |response: &Response<B>| {
        let found = response.status().is_success() || response.status().as_u16() == 304;
        found.then(|| HeaderValue::from_static(policy))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    fn site() -> (tempfile::TempDir, Router) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("js")).unwrap();
        std::fs::create_dir_all(root.join("vendor/leaflet")).unwrap();
        std::fs::write(root.join("index.html"), "<!doctype html><title>311</title>").unwrap();
        std::fs::write(
            root.join("sw.js"),
            "self.addEventListener('fetch', () => {});",
        )
        .unwrap();
        std::fs::write(root.join("js/main.js"), "export {};").unwrap();
        std::fs::write(root.join("vendor/leaflet/leaflet.js"), "/* map */").unwrap();
        let router = static_site(Router::new(), root, &root.join("vendor/leaflet"));
        (dir, router)
    }

    async fn get(router: &Router, path: &str) -> Response<Body> {
        let request = Request::get(path).body(Body::empty()).unwrap();
        router
            .clone()
            .oneshot(request)
            .await
            .unwrap()
            .map(Body::new)
    }

    fn cache_control(response: &Response<Body>) -> Option<&str> {
        response
            .headers()
            .get(header::CACHE_CONTROL)
            .map(|v| v.to_str().unwrap())
    }

    #[tokio::test]
    async fn the_page_and_its_worker_are_revalidated_and_the_rest_kept_for_a_while() {
        let (_dir, router) = site();
        for (path, policy, kind) in [
            ("/", REVALIDATE, "text/html"),
            ("/index.html", REVALIDATE, "text/html"),
            ("/sw.js", REVALIDATE, "text/javascript"),
            ("/js/main.js", SITE_FILE, "text/javascript"),
            ("/vendor/leaflet/leaflet.js", VENDOR_FILE, "text/javascript"),
        ] {
            let response = get(&router, path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(cache_control(&response), Some(policy), "{path}");
            let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
            assert!(content_type.starts_with(kind), "{path}: {content_type}");
        }
    }

    #[tokio::test]
    async fn a_missing_file_is_a_404_nobody_keeps() {
        let (_dir, router) = site();
        for path in ["/js/gone.js", "/vendor/leaflet/gone.js", "/../Cargo.toml"] {
            let response = get(&router, path).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(cache_control(&response), None, "{path}");
        }
    }
}
