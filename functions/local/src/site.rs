//! The resident site's files as the local runner serves them: `web/` itself, the map library from `web/node_modules` under `/vendor/leaflet/`, and nothing else of the npm tree, the tests or the layer's build file.

use std::path::Path;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

/// Paths under the web folder that are the build's and the tests', not the site's.
const NOT_THE_SITE: &[&str] = &[
    "/node_modules/{*rest}",
    "/tests/{*rest}",
    "/package.json",
    "/package-lock.json",
    "/Makefile",
];

/// The routes of the site's static files; give it last, as the router's fallback.
pub fn static_site(router: Router, web_dir: &Path) -> Router {
    let router = NOT_THE_SITE.iter().fold(router, |router, path| {
        router.route(path, get(|| async { StatusCode::NOT_FOUND }))
    });
    cityfix_http::site::static_site(router, web_dir, &web_dir.join("node_modules/leaflet/dist"))
}
