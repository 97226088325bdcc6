//! `cityfix token`: a staff sign-in token for the local runner, signed with the data folder's secret.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use cityfix_http::auth::{Role, StaffClaims, MAX_TOKEN_LIFETIME_SECS};

use crate::staff_token_keys;

#[derive(clap::Args)]
pub struct TokenArgs {
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
    /// How long the token is good for: 1 to 12 hours.
    #[arg(long, default_value_t = 8)]
    hours: u64,
}

pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    let role: Role =
        serde_json::from_value(serde_json::Value::String(args.role.clone())).map_err(|_| {
            anyhow::anyhow!(
                "`{}` is not a role: agent, staff, supervisor, admin or ethics",
                args.role
            )
        })?;
    let most = MAX_TOKEN_LIFETIME_SECS / 3600;
    if !(1..=most).contains(&args.hours) {
        anyhow::bail!(
            "`--hours {}`: a staff token lives 1 to {most} hours",
            args.hours
        );
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let exp = now + args.hours * 3600;
    let sub = format!("local:{}", args.name.to_lowercase().replace(' ', "."));
    let claims = StaffClaims {
        sub,
        name: args.name,
        role,
        department: args.department,
        exp,
    };
    println!("{}", staff_token_keys(&args.data)?.issue(&claims, now)?);
    Ok(())
}
