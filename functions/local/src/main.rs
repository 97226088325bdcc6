//! `cityfix`: runs the whole city locally, and operator commands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use cityfix_aws::AwsSetup;
use cityfix_config::LineProperties;
use cityfix_embedded::QueueSettings;
use cityfix_http::auth::{Role, StaffClaims};
use cityfix_local::check_routing::{check_routing, CheckRouting};
use cityfix_local::{default_dir, staff_token_keys, start, Backend, LocalOptions};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cityfix",
    version,
    about = "A 311 service for a city: run it locally, check its configuration"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BackendName {
    Embedded,
    Aws,
}

#[derive(Subcommand)]
enum Command {
    /// Run every function in one process on embedded storage.
    Serve {
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
    },
    /// Name the area (and owned road) of each test point, as GIS staff check a layer before going live.
    CheckRouting {
        /// A GeoJSON FeatureCollection of Polygon / MultiPolygon areas.
        #[arg(long)]
        areas: Option<PathBuf>,
        /// The feature property that names an area.
        #[arg(long, default_value = "name")]
        name_property: String,
        /// A GeoJSON FeatureCollection of road lines.
        #[arg(long)]
        lines: Option<PathBuf>,
        /// The feature property that names a line.
        #[arg(long, default_value = "name")]
        line_name_property: String,
        #[arg(long, default_value = "owner")]
        owner_property: String,
        #[arg(long, default_value = "buffer_m")]
        buffer_property: String,
        /// Buffer of lines that have none, in metres.
        #[arg(long, default_value_t = 15.0)]
        default_buffer_m: f64,
        /// CSV with the header `id,lat,long`.
        #[arg(long)]
        points: PathBuf,
    },
    /// Print a staff sign-in token for the local runner (signed with the data folder's secret).
    Token {
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// agent, staff, supervisor, admin or ethics.
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: String,
        /// The department of a `staff` member.
        #[arg(long)]
        department: Option<String>,
        #[arg(long, default_value_t = 8)]
        hours: u64,
    },
    /// Load and check a city folder, then exit.
    CheckConfig {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve {
            addr,
            data,
            config,
            web,
            visibility_timeout_secs,
            backend,
        } => {
            let defaults = LocalOptions::demo();
            let queues = QueueSettings {
                visibility_timeout: Duration::from_secs(visibility_timeout_secs),
                ..defaults.queues
            };
            let config_dir = config.unwrap_or(defaults.config_dir);
            let backend = match backend {
                BackendName::Embedded => Backend::Embedded,
                BackendName::Aws => {
                    let city = cityfix_config::load_city(&config_dir)?;
                    let sdk =
                        aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                    Backend::Aws(Box::new(AwsSetup::new(
                        std::sync::Arc::new(city),
                        &format!("http://{addr}"),
                        sdk,
                    )))
                }
            };
            let options = LocalOptions {
                addr,
                data_dir: data,
                config_dir,
                web_dir: web.unwrap_or(defaults.web_dir),
                queues,
                backend,
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
            running.run_until_signal().await;
        }
        Command::CheckRouting {
            areas,
            name_property,
            lines,
            line_name_property,
            owner_property,
            buffer_property,
            default_buffer_m,
            points,
        } => {
            if areas.is_none() && lines.is_none() {
                anyhow::bail!("give --areas, --lines or both");
            }
            let properties = LineProperties {
                name: line_name_property,
                owner: owner_property,
                buffer: Some(buffer_property),
                default_buffer_m,
            };
            let check = CheckRouting {
                areas: areas.as_deref().map(|path| (path, name_property.as_str())),
                lines: lines.as_deref().map(|path| (path, properties)),
                points: &points,
            };
            let summary = check_routing(&check, &mut std::io::stdout().lock())?;
            eprintln!(
                "{} points: {} in no area, {} in overlapping areas{}",
                summary.points,
                summary.in_no_area,
                summary.in_overlapping_areas,
                if check.lines.is_some() {
                    format!(", {} on a line", summary.on_a_line)
                } else {
                    String::new()
                }
            );
        }
        Command::Token {
            data,
            role,
            name,
            department,
            hours,
        } => {
            let role: Role = serde_json::from_value(serde_json::Value::String(role.clone()))
                .map_err(|_| {
                    anyhow::anyhow!(
                        "`{role}` is not a role: agent, staff, supervisor, admin or ethics"
                    )
                })?;
            let exp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs()
                + hours * 3600;
            let sub = format!("local:{}", name.to_lowercase().replace(' ', "."));
            println!(
                "{}",
                staff_token_keys(&data)?.issue(&StaffClaims {
                    sub,
                    name,
                    role,
                    department,
                    exp
                })
            );
        }
        Command::CheckConfig { config } => {
            let dir = config.unwrap_or_else(|| default_dir("config/hartford"));
            let city = cityfix_config::load_city(&dir)?;
            println!(
                "{}: {} services, {} departments, {} neighbourhoods",
                city.name,
                city.services.len(),
                city.departments.len(),
                city.places
                    .layers
                    .first()
                    .map_or(0, |layer| layer.index.len())
            );
        }
    }
    Ok(())
}
