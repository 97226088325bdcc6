//! The resident site as the site function serves it: the files of the site layer with the security
//! headers every page of the city gets. CloudFront keeps them at the edge for as long as each file's
//! `Cache-Control` says, so the function runs only when a file is new to an edge.

use std::path::Path;

use axum::Router;
use cityfix_http::{guard, site};

/// Where the site layer puts the site on Lambda (the layer's `site/` folder under `/opt`).
pub const SITE_DIR: &str = "/opt/site";

/// The site's routes over the folder `dir` (`index.html`, `js/`, `i18n/`, `vendor/leaflet/`, …).
pub fn site_app(dir: &Path) -> Router {
    guard::with_security_headers(site::static_site(
        Router::new(),
        dir,
        &dir.join("vendor/leaflet"),
    ))
}
