//! `cityfix webhook-secret`: the secret a webhook's deliveries are signed with, for the operator
//! of the receiving system (made from the link secret, so it is never stored on its own).

use std::path::PathBuf;

use cityfix_app::links::LinkSigner;
use cityfix_app::webhooks::webhook_secret;

#[derive(clap::Args)]
pub struct WebhookSecretArgs {
    /// The webhook's name in city.toml `[[webhooks]]`.
    name: String,
    /// The local runner's data folder, whose `link.secret` the runner signs with.
    #[arg(long, default_value = "data", conflicts_with = "link_secret_file")]
    data: PathBuf,
    /// A file holding the deployment's LinkSecret parameter (on AWS), instead of a data folder.
    #[arg(long)]
    link_secret_file: Option<PathBuf>,
}

pub fn run(args: WebhookSecretArgs) -> anyhow::Result<()> {
    let link_secret = match &args.link_secret_file {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let secret = text.trim().to_string();
            if secret.len() < 32 {
                anyhow::bail!(
                    "{} holds {} characters; a LinkSecret has at least 32",
                    file.display(),
                    secret.len()
                );
            }
            secret.into_bytes()
        }
        None => {
            let path = args.data.join("link.secret");
            if !path.exists() {
                anyhow::bail!(
                    "{} does not exist: start the runner with --data {} once, or pass --link-secret-file",
                    path.display(),
                    args.data.display()
                );
            }
            cityfix_embedded::setup::secret(&args.data, "link.secret")?
        }
    };
    println!(
        "{}",
        webhook_secret(&LinkSigner::new(&link_secret), &args.name)
    );
    Ok(())
}
