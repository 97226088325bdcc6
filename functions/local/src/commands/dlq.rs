//! `cityfix dlq list|redrive`: the messages the queues gave up on (after their receive limit),
//! and putting them back once the fault that stopped them is mended: the local runner's, or with
//! `--backend aws` the SQS queues of a deployed city.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use cityfix_app::ports::{DeadLetters, QueueName};
use cityfix_embedded::EmbeddedQueue;

use super::serve::BackendName;

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
        /// `embedded` (the data folder's queues) or `aws` (the SQS queues named by
        /// ROUTING_QUEUE_URL, STATUS_QUEUE_URL, NOTIFY_QUEUE_URL, MEDIA_QUEUE_URL and
        /// WEBHOOKS_QUEUE_URL, the stack's outputs; each dead-letter queue from its redrive policy).
        #[arg(long, value_enum, default_value_t = BackendName::Embedded)]
        backend: BackendName,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Move a queue's dead letters back to it, to be handled again (the runner may be running).
    Redrive {
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// As for `list`.
        #[arg(long, value_enum, default_value_t = BackendName::Embedded)]
        backend: BackendName,
        /// The queue (routing, status, notify, media or webhooks); every queue when left out.
        #[arg(long)]
        queue: Option<String>,
    },
}

pub async fn run(args: DlqArgs) -> anyhow::Result<()> {
    match args.action {
        DlqAction::List {
            data,
            backend,
            limit,
        } => {
            let (queues, place) = open(backend, &data).await?;
            let letters = queues.dead_letters(&QueueName::ALL, limit).await?;
            if letters.is_empty() {
                println!("no dead letters in {place}");
            }
            for letter in letters {
                let sent = DateTime::<Utc>::from_timestamp_millis(letter.sent_at_ms)
                    .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default();
                let body: String = letter.body.chars().take(200).collect();
                println!("{}\t{}\t{sent}\t{body}", letter.queue, letter.id);
            }
        }
        DlqAction::Redrive {
            data,
            backend,
            queue,
        } => {
            let names: Vec<QueueName> = match queue.as_deref() {
                Some(name) => match QueueName::ALL.into_iter().find(|q| q.as_str() == name) {
                    Some(queue) => vec![queue],
                    None => anyhow::bail!(
                        "`{name}` is not a queue; the queues are {}",
                        QueueName::ALL.map(|q| q.as_str()).join(", ")
                    ),
                },
                None => QueueName::ALL.to_vec(),
            };
            let (queues, _) = open(backend, &data).await?;
            for queue in names {
                let moved = queues.redrive(queue).await?;
                let name = queue.as_str();
                println!("{name}: {moved} moved back from {name}-dlq");
            }
        }
    }
    Ok(())
}

/// The queues of `backend`, and how to name where they are.
async fn open(
    backend: BackendName,
    data: &std::path::Path,
) -> anyhow::Result<(Box<dyn DeadLetters>, String)> {
    Ok(match backend {
        BackendName::Embedded => (
            Box::new(EmbeddedQueue::open_in(data)?),
            data.display().to_string(),
        ),
        BackendName::Aws => (
            Box::new(cityfix_aws::setup::queues_from_env(&QueueName::ALL).await?),
            "the SQS dead-letter queues".to_string(),
        ),
    })
}
