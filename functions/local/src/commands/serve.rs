//! `cityfix serve`: every function in one process, on embedded storage or on AWS.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cityfix_aws::AwsSetup;
use cityfix_embedded::QueueSettings;

use crate::{start, Backend, LocalOptions, OutboxAccess};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendName {
    Embedded,
    Aws,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Folder for the database and the outbox.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// The city folder (default: the demo city, Hartford CT).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The resident web client's folder.
    #[arg(long)]
    web: Option<PathBuf>,
    /// Seconds a message taken by a worker stays hidden before it is delivered again.
    #[arg(long, default_value_t = 30)]
    visibility_timeout_secs: u64,
    /// `embedded` (SQLite and files in --data) or `aws` (DynamoDB, SQS, S3, SES, SNS named by
    /// TABLE_NAME, ROUTING_QUEUE_URL, STATUS_QUEUE_URL, NOTIFY_QUEUE_URL, MEDIA_BUCKET and
    /// FROM_ADDRESS; endpoints from the AWS environment, e.g. AWS_ENDPOINT_URL).
    #[arg(long, value_enum, default_value_t = BackendName::Embedded)]
    backend: BackendName,
    /// `on` applies the city's per-client limits (city.toml `[rate_limits]`); `off` is for load
    /// tests and benchmarks only.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    rate_limit: Switch,
    /// Who may read the outbox page: `loopback` (this machine only; then --addr must be a
    /// loopback address) or `staff` (supervisors' staff tokens, on any address).
    #[arg(long, value_enum, default_value_t = OutboxAccess::Loopback)]
    outbox: OutboxAccess,
    /// A browser origin besides this one that may call the API (CORS), e.g. the city's site.
    #[arg(long = "site-origin")]
    site_origins: Vec<String>,
    /// For the proof under faults only: fail this share (0 to 0.5) of the embedded store's,
    /// queues' and outbox's calls, refused, timed out or (writes) done with the answer lost.
    #[arg(long, value_name = "RATE", value_parser = fault_rate)]
    inject_faults: Option<cityfix_embedded::Faults>,
}

fn fault_rate(text: &str) -> Result<cityfix_embedded::Faults, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    cityfix_embedded::Faults::new(rate)
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let defaults = LocalOptions::demo();
    let queues = QueueSettings {
        visibility_timeout: Duration::from_secs(args.visibility_timeout_secs),
        ..defaults.queues
    };
    let config_dir = args.config.unwrap_or(defaults.config_dir);
    if args.inject_faults.is_some() && args.backend != BackendName::Embedded {
        anyhow::bail!("--inject-faults works on the embedded backend only");
    }
    let backend = match args.backend {
        BackendName::Embedded => Backend::Embedded,
        BackendName::Aws => {
            let city = cityfix_config::load_city(&config_dir)?;
            let sdk = cityfix_aws::sdk_defaults().load().await;
            Backend::Aws(Box::new(AwsSetup::new(
                Arc::new(city),
                &format!("http://{}", args.addr),
                sdk,
            )))
        }
    };
    let options = LocalOptions {
        addr: args.addr,
        data_dir: args.data,
        config_dir,
        web_dir: args.web.unwrap_or(defaults.web_dir),
        queues,
        backend,
        rate_limits: args.rate_limit == Switch::On,
        outbox: args.outbox,
        site_origins: args.site_origins,
        faults: args.inject_faults,
        ..defaults
    };
    let running = start(options).await?;
    let outbox = if running.outbox.is_some() {
        format!(", outbox: {}/outbox", running.url)
    } else {
        String::new()
    };
    println!(
        "cityfix is running at {}/  (Open311: {0}/open311/v2/discovery.json{outbox})",
        running.url
    );
    println!(
        "staff application: {}/admin  (demo sign-ins below)",
        running.url
    );
    for login in &running.demo_logins {
        println!(
            "  {:<12} {:<16} {}",
            format!("{:?}", login.role).to_lowercase(),
            login.username,
            login.password
        );
    }
    running.run_until_signal().await;
    Ok(())
}
