//! `cityfix`: runs the whole city locally, and operator commands.

use std::io::IsTerminal;
use std::process::ExitCode;

use cityfix_local::commands::Cli;
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command.run().await {
        Ok(status) => status,
        Err(error) => {
            eprintln!("cityfix: {error:#}");
            ExitCode::FAILURE
        }
    }
}
