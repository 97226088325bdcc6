//! `cityfix dlq list|redrive`: the messages the local runner's queues gave up on (after their
//! receive limit), and putting them back once the fault that stopped them is mended.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use cityfix_app::ports::QueueName;
use cityfix_embedded::EmbeddedQueue;

#[derive(clap::Args)]
pub struct DlqArgs {
    #[command(subcommand)]
    action: DlqAction,
}

#[derive(clap::Subcommand)]
enum DlqAction {
    /// List the messages in every dead-letter queue, oldest first.
    List {
        /// The runner's data folder.
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Move a queue's dead letters back to it, to be handled again (the runner may be running).
    Redrive {
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// The queue (routing, status, notify, media or webhooks); every queue when left out.
        #[arg(long)]
        queue: Option<String>,
    },
}

pub async fn run(args: DlqArgs) -> anyhow::Result<()> {
    match args.action {
        DlqAction::List { data, limit } => {
            let queue = EmbeddedQueue::open_in(&data)?;
            let letters = queue.dead_letters(limit).await?;
            if letters.is_empty() {
                println!("no dead letters in {}", data.display());
            }
            for letter in letters {
                let sent = DateTime::<Utc>::from_timestamp_millis(letter.sent_at_ms)
                    .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default();
                let body: String = letter.body.chars().take(200).collect();
                println!("{}\t{}\t{sent}\t{body}", letter.queue, letter.id);
            }
        }
        DlqAction::Redrive { data, queue } => {
            let queues = EmbeddedQueue::open_in(&data)?;
            let all: Vec<&str> = QueueName::ALL.iter().map(|q| q.as_str()).collect();
            let names: Vec<&str> = match queue.as_deref() {
                Some(name) if all.contains(&name) => vec![name],
                Some(name) => {
                    anyhow::bail!("`{name}` is not a queue; the queues are {}", all.join(", "))
                }
                None => all,
            };
            for name in names {
                let moved = queues.redrive(name).await?;
                println!("{name}: {moved} moved back from {name}-dlq");
            }
        }
    }
    Ok(())
}
