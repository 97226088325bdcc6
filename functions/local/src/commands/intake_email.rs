//! `cityfix intake-email`: an e-mailed report read from a `.eml` file into the local city, as the
//! SES receipt rule hands messages to the mail function on AWS.

use std::path::PathBuf;
use std::sync::Arc;

use cityfix_app::mail_intake::{intake_email, MailIntakeDeps, MailOutcome};
use cityfix_app::media::MediaDeps;
use cityfix_app::ports::{RandomIds, SystemClock};
use cityfix_app::submit::IntakeDeps;
use cityfix_config::load_city;
use cityfix_domain::AddressBook;
use cityfix_embedded::{EmbeddedSetup, QueueSettings};

#[derive(clap::Args)]
pub struct IntakeEmailArgs {
    /// The message as it arrived (RFC 5322, as a mail program saves it).
    file: PathBuf,
    /// The city folder.
    #[arg(long, default_value = "config/hartford")]
    config: PathBuf,
    /// The local runner's data folder: the report joins its queues and answers land in its outbox.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// The address the runner serves the site at, for links in answers.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    public_url: String,
}

pub async fn run(args: IntakeEmailArgs) -> anyhow::Result<()> {
    let raw = std::fs::read(&args.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    let city = Arc::new(
        load_city(&args.config)
            .map_err(|e| anyhow::anyhow!("the city configuration is not valid: {e}"))?,
    );
    let setup = EmbeddedSetup::open(&args.data, &args.public_url, QueueSettings::default())?;
    let deps = MailIntakeDeps {
        intake: IntakeDeps {
            city: city.clone(),
            store: Arc::new(setup.store.clone()),
            queue: Arc::new(setup.queue.clone()),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            geocoder: Arc::new(AddressBook::new(city.address_points.clone())),
        },
        media: MediaDeps {
            media: Arc::new(setup.media.clone()),
            queue: Arc::new(setup.queue.clone()),
            public_url: args.public_url.clone(),
        },
        mailer: Arc::new(setup.outbox.clone()),
        mail_from: format!("{} 311 <{}>", city.short_name, city.contact_email),
        public_url: args.public_url.clone(),
        choose_service: intake::service_chooser(&city.services),
    };
    match intake_email(&deps, &raw).await? {
        MailOutcome::Reported { id, media } => {
            println!("filed {id} ({media} photos or videos); the runner routes and acknowledges it")
        }
        MailOutcome::Commented(id) => println!("added the reporter's comment to {id}"),
        MailOutcome::Answered(letter, why) => println!(
            "nothing filed; answered with {}{} (see the outbox)",
            letter.name(),
            why.map(|why| format!(": {why}")).unwrap_or_default()
        ),
        MailOutcome::Ignored(why) => println!("ignored: {why}"),
    }
    Ok(())
}
