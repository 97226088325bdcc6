//! Adapters on embedded storage: SQLite for requests and queues, files for the outbox.

pub mod outbox;
pub mod queue;
pub mod sqlite;
pub mod store;

pub use outbox::Outbox;
pub use queue::{EmbeddedQueue, QueueSettings};
pub use store::SqliteStore;
