//! The `cityfix` command line: one module per sub-command, each with its arguments and its run.

pub mod check_config;
pub mod check_layer;
pub mod check_routing;
pub mod dlq;
pub mod intake_email;
pub mod serve;
pub mod token;
pub mod webhook_secret;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cityfix",
    version,
    about = "A 311 service for a city: run it locally, check its configuration"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run every function in one process on embedded storage.
    Serve(serve::ServeArgs),
    /// List every fault of an area layer, feature by feature, and what repair does; write the repaired layer.
    CheckLayer(check_layer::CheckLayerArgs),
    /// Name the area (and owned road) of each test point, as GIS staff check a layer before going live.
    CheckRouting(check_routing::CheckRoutingArgs),
    /// Print a staff sign-in token for the local runner (signed with the data folder's secret).
    Token(token::TokenArgs),
    /// Load and check a city folder, then exit.
    CheckConfig(check_config::CheckConfigArgs),
    /// Read an e-mailed report (a .eml file) into the local city: filed, a comment, or answered.
    IntakeEmail(intake_email::IntakeEmailArgs),
    /// Print the secret a webhook's deliveries are signed with (for the receiving system).
    WebhookSecret(webhook_secret::WebhookSecretArgs),
    /// List the messages the queues gave up on, or move them back to be handled again.
    Dlq(dlq::DlqArgs),
}

impl Command {
    /// Runs the command; its exit status is success unless the command gives its own.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let done = match self {
            Command::Serve(args) => serve::run(args).await,
            Command::CheckLayer(args) => return check_layer::run(args),
            Command::CheckRouting(args) => check_routing::run(args),
            Command::Token(args) => token::run(args),
            Command::CheckConfig(args) => check_config::run(args),
            Command::WebhookSecret(args) => webhook_secret::run(args),
            Command::IntakeEmail(args) => intake_email::run(args).await,
            Command::Dlq(args) => dlq::run(args).await,
        };
        done.map(|()| ExitCode::SUCCESS)
    }
}
