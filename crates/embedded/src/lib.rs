//! Adapters on embedded storage: SQLite for requests and queues, files for the outbox and media; and the setup that opens them in a data folder.

pub mod faults;
pub mod media;
pub mod metrics;
pub mod outbox;
pub mod queue;
pub mod setup;
pub mod sqlite;
pub mod storage;
pub mod store;

pub use faults::Faults;
pub use media::FileMedia;
pub use outbox::Outbox;
pub use queue::{EmbeddedQueue, QueueSettings};
pub use setup::EmbeddedSetup;
pub use storage::{StorageWatch, WriteHealth};
pub use store::SqliteStore;

/// A file system failure as the ports report it: a full disk or quota, or a read-only file
/// system, is [`PortError::CannotWrite`](cityfix_app::ports::PortError::CannotWrite).
pub fn file_error(error: std::io::Error) -> cityfix_app::ports::PortError {
    use std::io::ErrorKind;
    let no_room = matches!(
        error.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::ReadOnlyFilesystem
    );
    if no_room {
        cityfix_app::ports::PortError::CannotWrite(format!("file system: {error}"))
    } else {
        cityfix_app::ports::PortError::Unavailable(format!("file system: {error}"))
    }
}
