//! The local runner: every function in one process on embedded storage, fed the way Lambda feeds them.

pub mod commands;
mod geopackage;
mod outbox_page;
mod site;
pub mod stages;
mod workers;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use aws_lambda_events::event::s3::{S3Entity, S3Event, S3EventRecord, S3Object};
use axum::routing::get;
use axum::Router;
use cityfix_app::fetch::FetchDeps;
use cityfix_app::links::LinkSigner;
use cityfix_app::media::MediaDeps;
use cityfix_app::notify::{send_lease_for, NotifyDeps, NotifySettings};
use cityfix_app::ports::{
    DeviceRegistry, Mailer, MediaStore, PushSender, Queue, QueueConsumer, QueueName, RandomIds,
    RequestStore, SmsSender, SystemClock,
};
use cityfix_app::route::RouterDeps;
use cityfix_app::submit::IntakeDeps;
use cityfix_app::sweep::SchedulerDeps;
use cityfix_app::transition::StatusDeps;
use cityfix_app::webhooks::WebhookDeps;
use cityfix_aws::AwsSetup;
use cityfix_config::{load_city_with_repairs, read_answers, read_site};
use cityfix_domain::AddressBook;
use cityfix_embedded::{EmbeddedSetup, Outbox, QueueSettings};
use cityfix_http::auth::{StaffSignIn, TokenKeys};
use cityfix_http::guard;
use stages::StageTimes;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The folder of this source tree, for defaults that work from any working directory.
const SOURCE_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// How to run the city locally.
#[derive(Clone)]
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
    pub backend: Backend,
    /// Whether the city's per-client rate limits apply (off for load tests and benchmarks).
    pub rate_limits: bool,
    /// Who may read the outbox page of sent messages.
    pub outbox: OutboxAccess,
    /// Browser origins besides this one allowed by CORS (the city's site, if served elsewhere).
    pub site_origins: Vec<String>,
    /// Faults injected into the embedded store, queues and outbox (the proof under faults only).
    pub faults: Option<cityfix_embedded::Faults>,
}

pub use outbox_page::OutboxAccess;

/// Where requests, queues, media and messages live.
#[derive(Clone, Default)]
pub enum Backend {
    /// SQLite, media files and the outbox in the data folder.
    #[default]
    Embedded,
    /// DynamoDB, SQS, S3, SES and SNS, with the settings the Lambda functions read (`TABLE_NAME`,
    /// `ROUTING_QUEUE_URL`, …, `MEDIA_BUCKET`, `FROM_ADDRESS`) and endpoints from the AWS
    /// environment (`AWS_ENDPOINT_URL`). The queues are polled as Lambda's event source mappings
    /// poll them. S3 does not notify this process, so uploads are checked on Lambda only.
    Aws(Box<AwsSetup>),
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
            backend: Backend::Embedded,
            rate_limits: true,
            outbox: OutboxAccess::Loopback,
            site_origins: Vec::new(),
            faults: None,
        }
    }
}

impl LocalOptions {
    /// The demo city with rate limits off, for tests and benchmarks that post many reports
    /// from one address.
    pub fn without_limits() -> Self {
        LocalOptions {
            rate_limits: false,
            ..LocalOptions::demo()
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
    Ok(TokenKeys::from_secret(&cityfix_embedded::setup::secret(
        data_dir,
        "staff-token.secret",
    )?))
}

/// A running local city; tests reach its adapters directly.
pub struct Running {
    pub addr: SocketAddr,
    pub url: String,
    pub keys: Arc<TokenKeys>,
    /// The demo staff accounts of the staff application at `/admin`, with their passwords.
    pub demo_logins: Vec<cityfix_admin::DemoLogin>,
    pub store: Arc<dyn RequestStore>,
    pub queue: Arc<dyn QueueConsumer>,
    pub media: Arc<dyn MediaStore>,
    /// The sent messages, on the embedded backend.
    pub outbox: Option<Outbox>,
    /// How long messages took from sent to handled, per queue.
    pub stages: Arc<StageTimes>,
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

/// The adapters of one backend, and routes they add.
struct Adapters {
    store: Arc<dyn RequestStore>,
    /// The metrics' counters (kept beside requests, in the same database or table).
    metrics: Arc<dyn cityfix_app::ports::MetricsStore>,
    queue: Arc<dyn Queue>,
    consumer: Arc<dyn QueueConsumer>,
    media: Arc<dyn MediaStore>,
    mailer: Arc<dyn Mailer>,
    sms: Arc<dyn SmsSender>,
    push: Arc<dyn PushSender>,
    /// Where phone apps register for push.
    devices: Arc<dyn DeviceRegistry>,
    outbox: Option<Outbox>,
    routes: Router,
    /// The sender of e-mail, when not the city's contact address.
    mail_from: Option<String>,
    /// Whether the data folder takes writes (the embedded adapters only).
    storage: Option<cityfix_embedded::StorageWatch>,
}

/// SQLite, files and the outbox in the data folder. Uploads are checked as S3 would have the media
/// function check them.
fn embedded_adapters(
    options: &LocalOptions,
    url: &str,
    keys: Arc<TokenKeys>,
    country_calling_code: u16,
) -> anyhow::Result<Adapters> {
    let EmbeddedSetup {
        store,
        queue,
        outbox,
        media,
        storage,
        ..
    } = EmbeddedSetup::open_with_faults(&options.data_dir, url, options.queues, options.faults)?;
    let checks = MediaDeps {
        media: Arc::new(media.clone()),
        queue: Arc::new(queue.clone()),
        public_url: url.to_string(),
    };
    let uploaded = Arc::new(move |key: String| {
        let checks = checks.clone();
        tokio::spawn(async move {
            if let Err(error) = media::handle(&checks, object_created(&key)).await {
                tracing::error!(%key, %error, "the upload check failed");
            }
        });
    });
    let replies = cityfix_app::preferences::TextReplies {
        store: Arc::new(store.clone()),
        country_calling_code,
    };
    Ok(Adapters {
        metrics: Arc::new(store.clone()),
        store: Arc::new(store),
        queue: Arc::new(queue.clone()),
        consumer: Arc::new(queue),
        routes: media.routes(uploaded).merge(outbox_page::router(
            outbox.clone(),
            options.outbox,
            keys,
            replies,
        )),
        media: Arc::new(media),
        mailer: Arc::new(outbox.clone()),
        sms: Arc::new(outbox.clone()),
        push: Arc::new(outbox.clone()),
        devices: Arc::new(outbox.clone()),
        outbox: Some(outbox),
        mail_from: None,
        storage: Some(storage),
    })
}

fn aws_adapters(setup: &AwsSetup) -> anyhow::Result<Adapters> {
    let queues = setup.queues(&QueueName::ALL)?;
    let notify = setup.notify_deps()?;
    Ok(Adapters {
        store: Arc::new(setup.store()?),
        metrics: Arc::new(setup.store()?),
        queue: Arc::new(queues.clone()),
        consumer: Arc::new(queues),
        media: Arc::new(setup.media()?),
        mailer: notify.mailer,
        sms: notify.sms,
        push: notify.push,
        devices: Arc::new(setup.devices()),
        outbox: None,
        routes: Router::new(),
        mail_from: Some(notify.settings.mail_from),
        storage: None,
    })
}

/// The event S3 sends when a browser has uploaded `key`.
pub fn object_created(key: &str) -> S3Event {
    let mut object = S3Object::default();
    object.key = Some(key.to_string());
    let mut entity = S3Entity::default();
    entity.object = object;
    let mut record = S3EventRecord::default();
    record.event_source = Some("aws:s3".into());
    record.event_name = Some("ObjectCreated:Post".into());
    record.s3 = entity;
    let mut event = S3Event::default();
    event.records = vec![record];
    event
}

/// Loads the city, opens the data folder, binds the address and starts the functions.
pub async fn start(options: LocalOptions) -> anyhow::Result<Running> {
    let loaded = load_city_with_repairs(&options.config_dir)
        .map_err(|e| anyhow::anyhow!("the city configuration is not valid: {e}"))?;
    for repair in &loaded.repairs {
        tracing::warn!(%repair, "a layer's shape was repaired");
    }
    for layer in &loaded.reprojected {
        tracing::warn!(%layer, "a layer was reprojected to WGS 84");
    }
    let city = Arc::new(loaded.city);
    let site = read_site(&options.config_dir)
        .map_err(|e| anyhow::anyhow!("the city's site settings are not valid: {e}"))?;
    let answers = read_answers(&options.config_dir, &site.languages, &city.services)
        .map_err(|e| anyhow::anyhow!("the city's answers are not valid: {e}"))?;
    std::fs::create_dir_all(&options.data_dir).with_context(|| {
        format!(
            "cannot create the data folder {}",
            options.data_dir.display()
        )
    })?;
    let has_outbox = matches!(options.backend, Backend::Embedded);
    if has_outbox && options.outbox == OutboxAccess::Loopback && !options.addr.ip().is_loopback() {
        anyhow::bail!(
            "the outbox page shows residents' messages, so it is served on a loopback address only; \
             to listen on {} pass --outbox staff (the page then asks for a supervisor's staff token)",
            options.addr
        );
    }
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("cannot listen on {}", options.addr))?;
    let addr = listener.local_addr()?;
    let url = options
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let keys = Arc::new(staff_token_keys(&options.data_dir)?);
    // One link secret for the whole process: notify signs unsubscribe links, intake checks them.
    let links = LinkSigner::new(&cityfix_embedded::setup::secret(
        &options.data_dir,
        "link.secret",
    )?);
    let adapters = match &options.backend {
        Backend::Embedded => {
            embedded_adapters(&options, &url, keys.clone(), city.country_calling_code)?
        }
        Backend::Aws(setup) => aws_adapters(setup)?,
    };

    let intake = IntakeDeps {
        city: city.clone(),
        store: adapters.store.clone(),
        queue: adapters.queue.clone(),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        geocoder: Arc::new(AddressBook::new(city.address_points.clone())),
    };
    let functions = workers::Functions {
        router: RouterDeps {
            city: city.clone(),
            store: adapters.store.clone(),
            queue: adapters.queue.clone(),
            fix_history: Default::default(),
        },
        status: StatusDeps {
            city: city.clone(),
            store: adapters.store.clone(),
            queue: adapters.queue.clone(),
            clock: Arc::new(SystemClock),
            media: adapters.media.clone(),
        },
        notify: NotifyDeps {
            city: city.clone(),
            store: adapters.store.clone(),
            mailer: adapters.mailer.clone(),
            sms: adapters.sms.clone(),
            push: adapters.push.clone(),
            queue: adapters.queue.clone(),
            clock: Arc::new(SystemClock),
            metrics: adapters.metrics.clone(),
            settings: NotifySettings {
                public_url: url.clone(),
                mail_from: adapters
                    .mail_from
                    .clone()
                    .unwrap_or_else(|| format!("{} 311 <{}>", city.short_name, city.contact_email)),
                links: links.clone(),
                send_lease: send_lease_for(options.queues.visibility_timeout),
            },
        },
        fetch: FetchDeps {
            checks: MediaDeps {
                media: adapters.media.clone(),
                queue: adapters.queue.clone(),
                public_url: url.clone(),
            },
            fetcher: Arc::new(media::http_fetch::HttpFetcher),
            rules: city.media_fetch.clone(),
        },
        webhooks: WebhookDeps {
            city: city.clone(),
            store: adapters.store.clone(),
            queue: adapters.queue.clone(),
            sender: Arc::new(notify::http_webhooks::HttpWebhooks::new()?),
            clock: Arc::new(SystemClock),
            links: links.clone(),
            public_url: url.clone(),
        },
    };

    let staff = status::Staff {
        deps: functions.status.clone(),
        metrics: adapters.metrics.clone(),
        sign_in: StaffSignIn::Local(keys.clone()),
    };
    let (accounts, demo_logins) =
        cityfix_admin::Accounts::open_or_seed(&options.data_dir, &city)
            .map_err(|e| anyhow::anyhow!("the staff accounts cannot be used: {e}"))?;
    let staff_app = cityfix_admin::Admin::new(cityfix_admin::AdminParts {
        status: functions.status.clone(),
        metrics: adapters.metrics.clone(),
        intake: intake.clone(),
        keys: keys.clone(),
        csrf_key: cityfix_embedded::setup::secret(&options.data_dir, "csrf.secret")?,
        accounts,
        public_url: url.clone(),
    })
    .with_map(cityfix_admin::CityMap::new(
        &cityfix_config::read_map_layers(&options.config_dir)
            .map_err(|e| anyhow::anyhow!("the city's area layers cannot be drawn: {e}"))?,
        city.center,
        site.tile_url.clone(),
        site.tile_attribution.clone(),
    ));
    let app = Router::new()
        .merge(intake::router(intake::Intake {
            deps: intake,
            public_url: url.clone(),
            media: adapters.media.clone(),
        }))
        .merge(intake::unsubscribe_router(intake::Preferences {
            store: adapters.store.clone(),
            links: links.clone(),
            clock: Arc::new(SystemClock),
            city: city.short_name.clone(),
            queue: adapters.queue.clone(),
            residents: city.residents,
        }))
        .merge(intake::devices_router(intake::Devices {
            store: adapters.store.clone(),
            registry: adapters.devices.clone(),
            clock: Arc::new(SystemClock),
            city: city.short_name.clone(),
        }))
        .merge(status::staff_router(staff))
        .merge(cityfix_admin::admin_router(staff_app))
        .merge(adapters.routes)
        .merge(intake::city_router(intake::CitySite::new(&city, &site)))
        .merge(intake::suggest_router(&city.services))
        .merge(intake::open_data_router(intake::OpenData {
            store: adapters.store.clone(),
            city: city.clone(),
            location_decimals: site.open_data_location_decimals,
            response_size: intake::ResponseSize::Streamed,
        }))
        .merge(intake::answers_router(intake::AnswerDesk::new(
            answers,
            &site.languages,
            city.clone(),
            adapters.store.clone(),
            Arc::new(SystemClock),
            Arc::new(RandomIds),
        )))
        .route("/health", get(|| async { "ok" }));
    let app = site::static_site(app, &options.web_dir);
    let app = if options.rate_limits {
        guard::with_rate_limits(app, Arc::new(guard::Limiter::new(&city.rate_limits)))
    } else {
        app
    };
    let mut origins = vec![url.clone()];
    origins.extend(options.site_origins.iter().cloned());
    let app = guard::with_cors(guard::with_security_headers(app), &origins)
        .layer(tower_http::trace::TraceLayer::new_for_http());

    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut server_stopped = stopped.clone();
    tasks.push(tokio::spawn(async move {
        let shutdown = async move {
            let _ = server_stopped.wait_for(|stop| *stop).await;
        };
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%error, "the HTTP server stopped");
        }
    }));
    let stages = Arc::new(StageTimes::default());
    if options.workers {
        let consumers = workers::Consumers {
            functions: Arc::new(functions),
            queue: adapters.consumer.clone(),
            stages: stages.clone(),
            storage: adapters.storage.clone(),
        };
        let scheduler = SchedulerDeps {
            city: city.clone(),
            store: adapters.store.clone(),
            queue: adapters.queue.clone(),
            clock: Arc::new(SystemClock),
            media: adapters.media.clone(),
            metrics: adapters.metrics.clone(),
        };
        tasks.extend(workers::spawn(consumers, scheduler, stopped));
    }
    Ok(Running {
        addr,
        url,
        keys,
        demo_logins,
        store: adapters.store,
        queue: adapters.consumer,
        media: adapters.media,
        outbox: adapters.outbox,
        stages,
        stop,
        tasks,
    })
}
