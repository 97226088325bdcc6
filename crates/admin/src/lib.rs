//! The staff application at `/admin`: pages rendered on the server that work without JavaScript,
//! over the staff routes of the status function (called in this process as the signed-in person),
//! so every check of role, department and version is the one scripts meet.
//!
//! Locally the runner's own accounts sign people in; on AWS the Cognito hosted UI does
//! ([`hosted_ui`]), and both end in the same session.
//!
//! Pages: sign-in, the work queue (as a list, a map and a printed work list), a request with every action, phone intake, backlogs,
//! residents' questions (information requests), the metrics and the audit log. See docs/staff-app.md.

pub mod accounts;
pub mod hosted_ui;
pub mod map;
mod metrics_page;
mod pages;
mod questions;
pub mod session;
pub mod staff_api;
mod views;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use cityfix_app::ports::{Clock, MetricsStore};
use cityfix_app::submit::IntakeDeps;
use cityfix_app::transition::StatusDeps;
use cityfix_domain::City;
use cityfix_http::auth::{StaffSignIn, TokenKeys};

pub use accounts::{Account, Accounts, DemoLogin};
pub use hosted_ui::{HostedUi, HostedUiSettings};
pub use map::CityMap;
pub use session::Sessions;
pub use staff_api::StaffApi;

/// What the staff application is made of.
pub struct Admin {
    pub city: Arc<City>,
    pub api: StaffApi,
    pub intake: IntakeDeps,
    pub sessions: Sessions,
    pub accounts: Accounts,
    /// On AWS: sign-in through Cognito's hosted UI instead of the local accounts.
    pub hosted_ui: Option<HostedUi>,
    pub clock: Arc<dyn Clock>,
    /// The city drawn for the queue's map (see [`Admin::with_map`]).
    pub map: CityMap,
    views: views::Views,
}

/// The parts the runner (or a Lambda main) gives the staff application.
pub struct AdminParts {
    pub status: StatusDeps,
    /// The metrics' counters, read by the metrics page.
    pub metrics: Arc<dyn MetricsStore>,
    pub intake: IntakeDeps,
    /// Signs and checks session tokens (the same keys as the staff routes' bearer tokens).
    pub keys: Arc<TokenKeys>,
    /// The key CSRF tokens are made with.
    pub csrf_key: Vec<u8>,
    pub accounts: Accounts,
    /// The site's public address: cookies are `Secure` when it is https.
    pub public_url: String,
}

impl Admin {
    pub fn new(parts: AdminParts) -> Self {
        let city = parts.status.city.clone();
        let center = city.center;
        let clock = parts.status.clock.clone();
        let routes = status::staff_router(status::Staff {
            deps: parts.status,
            metrics: parts.metrics,
            sign_in: StaffSignIn::InProcess,
        });
        Admin {
            views: views::Views::new(),
            city,
            api: StaffApi::new(routes),
            intake: parts.intake,
            sessions: Sessions {
                keys: parts.keys,
                csrf_key: parts.csrf_key,
                secure: parts.public_url.starts_with("https://"),
            },
            accounts: parts.accounts,
            hosted_ui: None,
            map: CityMap::new(&[], center, None, None),
            clock,
        }
    }

    /// The same application, with the city's area layers (and its tile template) for the queue's
    /// map; without, the map shows the requests around the city's centre on a blank ground.
    pub fn with_map(mut self, map: CityMap) -> Self {
        self.map = map;
        self
    }

    /// The same application, signing people in through Cognito's hosted UI (the admin function):
    /// the local sign-in form is then refused.
    pub fn signing_in_through(mut self, hosted_ui: HostedUi) -> Self {
        self.hosted_ui = Some(hosted_ui);
        self
    }

    /// Now, in seconds since 1970.
    pub fn now_secs(&self) -> u64 {
        u64::try_from(self.clock.now().timestamp()).unwrap_or(0)
    }
}

/// `/admin/…`.
pub fn admin_router(admin: Admin) -> Router {
    Router::new()
        .route("/admin", get(pages::home))
        .route("/admin/", get(pages::home))
        .route("/admin/static/admin.css", get(pages::stylesheet))
        .route("/admin/static/admin.js", get(pages::script))
        .route(
            "/admin/sign-in",
            get(pages::sign_in_page).post(pages::sign_in),
        )
        .route("/admin/auth/callback", get(pages::hosted_sign_in_callback))
        .route("/admin/sign-out", post(pages::sign_out))
        .route("/admin/queue", get(pages::queue))
        .route("/admin/queue/assign", post(pages::assign_many))
        .route("/admin/queue/map", get(pages::queue_map))
        .route("/admin/lookup", get(pages::lookup))
        .route("/admin/requests/{id}", get(pages::request))
        .route("/admin/requests/{id}/version", get(pages::version))
        .route("/admin/requests/{id}/media/{file}", get(pages::media_file))
        .route("/admin/requests/{id}/{action}", post(pages::act))
        .route("/admin/intake", get(pages::intake_page).post(pages::intake))
        .route("/admin/intake/follow", post(pages::intake_follow))
        .route(
            "/admin/backlogs",
            get(pages::backlogs).post(pages::declare_backlog),
        )
        .route("/admin/backlogs/{id}/lift", post(pages::lift_backlog))
        .route("/admin/information-requests", get(questions::list))
        .route("/admin/information-requests/{id}", get(questions::question))
        .route(
            "/admin/information-requests/{id}/answer",
            post(questions::answer),
        )
        .route("/admin/audit", get(pages::audit))
        .route("/admin/metrics", get(metrics_page::metrics))
        .route("/admin/metrics.csv", get(metrics_page::metrics_csv))
        .with_state(Arc::new(admin))
}
