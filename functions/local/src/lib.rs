//! The local runner: every function in one process on embedded storage, fed the way Lambda feeds them.

pub mod check_routing;
mod outbox_page;
mod workers;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::routing::get;
use axum::Router;
use cityfix_shared::app::notify::{NotifyDeps, NotifySettings};
use cityfix_shared::app::route::RouterDeps;
use cityfix_shared::app::submit::IntakeDeps;
use cityfix_shared::app::transition::StatusDeps;
use cityfix_shared::config::load_city;
use cityfix_shared::domain::AddressBook;
use cityfix_shared::embedded::sqlite::Db;
use cityfix_shared::embedded::{EmbeddedQueue, Outbox, QueueSettings, SqliteStore};
use cityfix_shared::http::auth::TokenKeys;
use cityfix_shared::ports::{RandomIds, SystemClock};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::services::ServeDir;

/// The folder of this source tree, for defaults that work from any working directory.
const SOURCE_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// How to run the city locally.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub config_dir: PathBuf,
    pub web_dir: PathBuf,
    /// The address residents use; defaults to `http://<addr>`.
    pub public_url: Option<String>,
    pub queues: QueueSettings,
    /// Whether the queue consumers run (off only in tests that stop a report half-way).
    pub workers: bool,
}

impl LocalOptions {
    /// The demo city on 127.0.0.1:3000 with data in `./data`.
    pub fn demo() -> Self {
        LocalOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from("data"),
            config_dir: default_dir("config/hartford"),
            web_dir: default_dir("web"),
            public_url: None,
            queues: QueueSettings::default(),
            workers: true,
        }
    }
}

/// `relative` from the working directory if it is there, else from this source tree.
pub fn default_dir(relative: &str) -> PathBuf {
    let here = PathBuf::from(relative);
    if here.exists() {
        here
    } else {
        PathBuf::from(SOURCE_ROOT).join(relative)
    }
}

/// The secret the local runner signs staff tokens with, made on first use and kept in the data folder.
pub fn staff_token_keys(data_dir: &Path) -> anyhow::Result<TokenKeys> {
    let path = data_dir.join("staff-token.secret");
    if !path.exists() {
        std::fs::create_dir_all(data_dir)?;
        let secret: String = (0..32)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        std::fs::write(&path, secret)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let secret = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(TokenKeys::from_secret(&secret))
}

/// A running local city; tests reach its adapters directly.
pub struct Running {
    pub addr: SocketAddr,
    pub url: String,
    pub keys: Arc<TokenKeys>,
    pub store: SqliteStore,
    pub queue: EmbeddedQueue,
    pub outbox: Outbox,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops serving and consuming, and waits for both to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Waits until the process is asked to stop (Ctrl-C or SIGTERM), then stops.
    pub async fn run_until_signal(self) {
        shutdown_signal().await;
        tracing::info!("stopping");
        self.stop().await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}

/// Loads the city, opens the data folder, binds the address and starts the functions.
pub async fn start(options: LocalOptions) -> anyhow::Result<Running> {
    let city = Arc::new(
        load_city(&options.config_dir)
            .map_err(|e| anyhow::anyhow!("the city configuration is not valid: {e}"))?,
    );
    std::fs::create_dir_all(&options.data_dir).with_context(|| {
        format!(
            "cannot create the data folder {}",
            options.data_dir.display()
        )
    })?;
    let db = Db::open(&options.data_dir.join("cityfix.sqlite"))?;
    let store = SqliteStore::new(db.clone());
    let queue = EmbeddedQueue::new(db, options.queues);
    let outbox = Outbox::open(&options.data_dir.join("outbox"))?;

    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("cannot listen on {}", options.addr))?;
    let addr = listener.local_addr()?;
    let url = options
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));

    let intake = IntakeDeps {
        city: city.clone(),
        store: Arc::new(store.clone()),
        queue: Arc::new(queue.clone()),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        geocoder: Arc::new(AddressBook::new(city.address_points.clone())),
    };
    let functions = workers::Functions {
        router: RouterDeps {
            city: city.clone(),
            store: Arc::new(store.clone()),
            queue: Arc::new(queue.clone()),
        },
        status: StatusDeps {
            city: city.clone(),
            store: Arc::new(store.clone()),
            queue: Arc::new(queue.clone()),
            clock: Arc::new(SystemClock),
        },
        notify: NotifyDeps {
            city: city.clone(),
            store: Arc::new(store.clone()),
            mailer: Arc::new(outbox.clone()),
            sms: Arc::new(outbox.clone()),
            clock: Arc::new(SystemClock),
            settings: NotifySettings {
                public_url: url.clone(),
                mail_from: format!("{} 311 <{}>", city.short_name, city.contact_email),
            },
        },
    };

    let keys = Arc::new(staff_token_keys(&options.data_dir)?);
    let staff = status::Staff {
        deps: functions.status.clone(),
        keys: keys.clone(),
    };
    let app = Router::new()
        .merge(intake::router(intake::Intake {
            deps: intake,
            public_url: url.clone(),
        }))
        .merge(status::staff_router(staff))
        .merge(outbox_page::router(outbox.clone()))
        .route("/health", get(|| async { "ok" }))
        .fallback_service(ServeDir::new(&options.web_dir))
        .layer(tower_http::trace::TraceLayer::new_for_http());

    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut server_stopped = stopped.clone();
    tasks.push(tokio::spawn(async move {
        let shutdown = async move {
            let _ = server_stopped.wait_for(|stop| *stop).await;
        };
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%error, "the HTTP server stopped");
        }
    }));
    if options.workers {
        tasks.extend(workers::spawn(
            Arc::new(functions),
            Arc::new(queue.clone()),
            Arc::new(queue.clone()),
            Arc::new(store.clone()),
            stopped,
            Duration::from_secs(60),
        ));
    }
    Ok(Running {
        addr,
        url,
        keys,
        store,
        queue,
        outbox,
        stop,
        tasks,
    })
}
