//! Adapters on embedded storage: SQLite for requests and queues, files for the outbox and media.

pub mod media;
pub mod outbox;
pub mod queue;
pub mod sqlite;
pub mod store;

pub use media::FileMedia;
pub use outbox::Outbox;
pub use queue::{EmbeddedQueue, QueueSettings};
pub use store::SqliteStore;
