//! What the local runner opens in its data folder, and the embedded adapters it builds from it.
//!
//! The counterpart of `cityfix_aws::AwsSetup`: the SQLite databases (`cityfix.sqlite` for requests
//! and what belongs to them, `queues.sqlite` for the queues), the outbox (`outbox/`), media files (`media/`, signed with `media.secret`) and the
//! secrets kept beside them, each made on first use.

use std::path::{Path, PathBuf};

use crate::sqlite::{move_queue_messages, Db};
use crate::{
    EmbeddedQueue, Faults, FileMedia, Outbox, QueueSettings, SqliteStore, StorageWatch, WriteHealth,
};

/// Why the data folder cannot be used, with the path concerned.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot use the data folder {path}: {reason}")]
    DataFolder { path: String, reason: String },
}

fn data_error(path: &Path, reason: impl std::fmt::Display) -> SetupError {
    SetupError::DataFolder {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// The embedded adapters over one data folder.
#[derive(Clone)]
pub struct EmbeddedSetup {
    pub data_dir: PathBuf,
    pub store: SqliteStore,
    pub queue: EmbeddedQueue,
    pub outbox: Outbox,
    /// Media files, with forms and links under `<public_url>/local-media`.
    pub media: FileMedia,
    /// Whether the data folder takes writes (marked by both databases).
    pub storage: StorageWatch,
}

impl EmbeddedSetup {
    /// Opens (or makes) the database, the outbox and the media folder under `data_dir`.
    pub fn open(
        data_dir: &Path,
        public_url: &str,
        queues: QueueSettings,
    ) -> Result<Self, SetupError> {
        EmbeddedSetup::open_with_faults(data_dir, public_url, queues, None)
    }

    /// As [`EmbeddedSetup::open`], with `faults` injected into the store's, the queues' and the
    /// outbox's calls (not the media files').
    pub fn open_with_faults(
        data_dir: &Path,
        public_url: &str,
        queues: QueueSettings,
        faults: Option<Faults>,
    ) -> Result<Self, SetupError> {
        std::fs::create_dir_all(data_dir).map_err(|e| data_error(data_dir, e))?;
        let database = data_dir.join("cityfix.sqlite");
        let queues_file = data_dir.join(crate::queue::QUEUES_FILE);
        move_queue_messages(&database, &queues_file).map_err(|e| data_error(&database, e))?;
        let health = WriteHealth::default();
        let db = Db::open(&database)
            .map_err(|e| data_error(&database, e))?
            .with_faults(faults)
            .with_health(health.clone());
        let queue_db = Db::open_queues(&queues_file)
            .map_err(|e| data_error(&queues_file, e))?
            .with_faults(faults)
            .with_health(health.clone());
        let storage = StorageWatch::new(
            health,
            vec![db.clone(), queue_db.clone()],
            data_dir.to_path_buf(),
        );
        let outbox_dir = data_dir.join("outbox");
        let media_dir = data_dir.join("media");
        Ok(EmbeddedSetup {
            store: SqliteStore::new(db),
            queue: EmbeddedQueue::new(queue_db, queues),
            outbox: Outbox::open(&outbox_dir)
                .map_err(|e| data_error(&outbox_dir, e))?
                .with_faults(faults),
            media: FileMedia::open(
                &media_dir,
                &format!("{}/local-media", public_url.trim_end_matches('/')),
                &secret(data_dir, "media.secret")?,
            )
            .map_err(|e| data_error(&media_dir, e))?,
            storage,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// A secret kept in the data folder under `name`, made on first use.
    pub fn secret(&self, name: &str) -> Result<Vec<u8>, SetupError> {
        secret(&self.data_dir, name)
    }
}

/// A secret kept in `data_dir` under `name`: 32 random bytes as hex, made on first use.
pub fn secret(data_dir: &Path, name: &str) -> Result<Vec<u8>, SetupError> {
    let path = data_dir.join(name);
    if !path.exists() {
        std::fs::create_dir_all(data_dir).map_err(|e| data_error(data_dir, e))?;
        let secret = hex::encode(rand::random::<[u8; 32]>());
        std::fs::write(&path, secret).map_err(|e| data_error(&path, e))?;
    }
    std::fs::read(&path).map_err(|e| data_error(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = secret(dir.path(), "test.secret").unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(secret(dir.path(), "test.secret").unwrap(), first);
        assert_ne!(secret(dir.path(), "other.secret").unwrap(), first);
    }

    #[tokio::test]
    async fn messages_an_earlier_version_kept_in_the_store_file_move_to_the_queues_file() {
        // given a data folder of a version that kept its queues inside cityfix.sqlite
        let dir = tempfile::tempdir().unwrap();
        let old = rusqlite::Connection::open(dir.path().join("cityfix.sqlite")).unwrap();
        old.execute_batch(
            "CREATE TABLE queue_messages (id TEXT PRIMARY KEY, queue TEXT NOT NULL, body TEXT NOT NULL,
                 sent_at_ms INTEGER NOT NULL, visible_at_ms INTEGER NOT NULL,
                 receive_count INTEGER NOT NULL DEFAULT 0, receipt TEXT);
             INSERT INTO queue_messages (id, queue, body, sent_at_ms, visible_at_ms)
                 VALUES ('m1', 'status', '{}', 1, 1);",
        )
        .unwrap();
        drop(old);

        // when it is opened, twice (the second finds nothing left to move)
        drop(
            EmbeddedSetup::open(dir.path(), "http://127.0.0.1", QueueSettings::default()).unwrap(),
        );
        let setup =
            EmbeddedSetup::open(dir.path(), "http://127.0.0.1", QueueSettings::default()).unwrap();

        // then the waiting message is in the queue, once, and the old table is gone
        use cityfix_app::ports::QueueConsumer;
        assert_eq!(setup.queue.depth("status").await.unwrap(), 1);
        let store = rusqlite::Connection::open(dir.path().join("cityfix.sqlite")).unwrap();
        let left: i64 = store
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'queue_messages'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
    }
}
