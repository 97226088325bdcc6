//! Adapters on embedded storage: SQLite for requests and queues, files for the outbox and media; and the setup that opens them in a data folder.

pub mod faults;
pub mod media;
pub mod metrics;
pub mod outbox;
pub mod queue;
pub mod setup;
pub mod sqlite;
pub mod store;

pub use faults::Faults;
pub use media::FileMedia;
pub use outbox::Outbox;
pub use queue::{EmbeddedQueue, QueueSettings};
pub use setup::EmbeddedSetup;
pub use store::SqliteStore;

/// A file system failure as the ports report it.
pub fn file_error(error: std::io::Error) -> cityfix_app::ports::PortError {
    cityfix_app::ports::PortError::Unavailable(format!("file system: {error}"))
}
