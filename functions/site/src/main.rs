//! The site function on Lambda: the resident site's files from the site layer (`SITE_DIR`, by
//! default `/opt/site`), for the HTTP API's routes that no other function serves.

use std::path::PathBuf;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let dir =
        std::env::var_os("SITE_DIR").map_or_else(|| PathBuf::from(site::SITE_DIR), PathBuf::from);
    if !dir.join("index.html").is_file() {
        return Err(format!(
            "no site at {}: the site layer is missing index.html",
            dir.display()
        )
        .into());
    }
    lambda_http::run(site::site_app(&dir)).await
}
