//! Whether the data folder takes writes: marked when a write finds its disk full or the folder
//! read-only, cleared when a probe write goes through again, so that the local runner's workers
//! wait for room instead of spending their messages' receives on writes bound to fail.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cityfix_app::ports::{PortError, PortResult};

use crate::sqlite::{sqlite_error, Db};

/// How often, at most, a probe write is tried while the data folder takes none.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Bytes a probe writes: more than one page, so that it needs room the files do not already
/// have (a write that only reuses a page of the write-ahead log would go through on a full disk).
const PROBE_BYTES: usize = 256 * 1024;

/// The data folder's state, shared by every database of one runner: `Some(why)` while it takes
/// no writes.
#[derive(Clone, Default)]
pub struct WriteHealth(Arc<Mutex<Option<String>>>);

impl WriteHealth {
    /// Why the data folder takes no writes, if it does not.
    pub fn blocked(&self) -> Option<String> {
        self.state().clone()
    }

    /// Marks the data folder as taking no writes when `result` failed that way (logged once, when
    /// it starts).
    pub fn note<T>(&self, result: &PortResult<T>) {
        if let Err(PortError::CannotWrite(why)) = result {
            let mut state = self.state();
            if state.is_none() {
                tracing::error!(
                    %why,
                    "the data folder takes no writes: new reports are refused (503) and the \
                     workers wait until it takes them again; free some space or make it writable"
                );
            }
            *state = Some(why.clone());
        }
    }

    fn clear(&self) {
        if self.state().take().is_some() {
            tracing::info!("the data folder takes writes again: the workers go on");
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The runner's watch on its data folder: its databases, its files, and their shared
/// [`WriteHealth`].
#[derive(Clone)]
pub struct StorageWatch {
    health: WriteHealth,
    databases: Vec<Db>,
    data_dir: PathBuf,
    last_probe: Arc<tokio::sync::Mutex<Option<Instant>>>,
}

impl StorageWatch {
    pub fn new(health: WriteHealth, databases: Vec<Db>, data_dir: PathBuf) -> Self {
        StorageWatch {
            health,
            databases,
            data_dir,
            last_probe: Arc::default(),
        }
    }

    /// Why the data folder takes no writes, if it does not.
    pub fn blocked(&self) -> Option<String> {
        self.health.blocked()
    }

    /// Whether the data folder takes writes: at once when nothing has failed; otherwise a probe
    /// (at most one every [`PROBE_EVERY`], however many workers ask) writes to each database and
    /// a file, and clears the mark when all go through.
    pub async fn takes_writes(&self) -> bool {
        if self.health.blocked().is_none() {
            return true;
        }
        let mut last = self.last_probe.lock().await;
        if self.health.blocked().is_none() {
            return true;
        }
        if last.is_some_and(|at| at.elapsed() < PROBE_EVERY) {
            return false;
        }
        *last = Some(Instant::now());
        match self.probe().await {
            Ok(()) => {
                self.health.clear();
                true
            }
            Err(error) => {
                tracing::debug!(%error, "the data folder still takes no writes");
                false
            }
        }
    }

    async fn probe(&self) -> PortResult<()> {
        for db in &self.databases {
            db.call(|conn| {
                let probe = conn.savepoint().map_err(sqlite_error)?;
                probe
                    .execute_batch(&format!(
                        "CREATE TABLE IF NOT EXISTS write_probe (bytes BLOB);
                         INSERT INTO write_probe VALUES (randomblob({PROBE_BYTES}));
                         DELETE FROM write_probe;"
                    ))
                    .map_err(sqlite_error)?;
                probe.commit().map_err(sqlite_error)
            })
            .await?;
        }
        let file = self.data_dir.join(".write-probe");
        let written = tokio::fs::write(&file, vec![0u8; PROBE_BYTES]).await;
        let _ = tokio::fs::remove_file(&file).await;
        written.map_err(crate::file_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(conn: &rusqlite::Connection) -> PortResult<i64> {
        conn.query_row("PRAGMA page_count", [], |row| row.get(0))
            .map_err(sqlite_error)
    }

    /// SQLite's page limit stands in for a full disk: its writes fail with the same `SQLITE_FULL`.
    #[tokio::test]
    async fn a_full_database_refuses_writes_as_cannot_write_until_a_probe_finds_room() {
        let dir = tempfile::tempdir().unwrap();
        let health = WriteHealth::default();
        let db = Db::open_queues(&dir.path().join("queues.sqlite"))
            .unwrap()
            .with_health(health.clone());
        let watch = StorageWatch::new(health, vec![db.clone()], dir.path().to_path_buf());
        assert!(watch.takes_writes().await, "nothing has failed yet");
        db.call(|conn| {
            let limit = pages(conn)? + 2;
            conn.pragma_update(None, "max_page_count", limit)
                .map_err(sqlite_error)
        })
        .await
        .unwrap();
        let write = |n: u32| {
            let db = db.clone();
            async move {
                db.call(move |conn| {
                    conn.execute(
                        "INSERT INTO queue_messages (id, queue, body, sent_at_ms, visible_at_ms)
                         VALUES (?1, 'routing', hex(randomblob(200000)), 0, 0)",
                        [n.to_string()],
                    )
                    .map_err(sqlite_error)
                })
                .await
            }
        };
        let refused = write(1).await;
        assert!(
            matches!(refused, Err(PortError::CannotWrite(ref why)) if why.contains("full")),
            "{refused:?}"
        );
        assert!(watch.blocked().is_some());
        assert!(!watch.takes_writes().await, "the probe needs room too");
        let stored: i64 = db
            .read(|conn| {
                conn.query_row("SELECT count(*) FROM queue_messages", [], |row| row.get(0))
                    .map_err(sqlite_error)
            })
            .await
            .unwrap();
        assert_eq!(stored, 0, "the refused write left nothing behind");

        db.call(|conn| {
            conn.pragma_update(None, "max_page_count", 1_000_000)
                .map_err(sqlite_error)
        })
        .await
        .unwrap();
        assert!(
            !watch.takes_writes().await,
            "probes are spaced; the next may come only after {PROBE_EVERY:?}"
        );
        tokio::time::sleep(PROBE_EVERY).await;
        assert!(
            watch.takes_writes().await,
            "room again: the probe goes through"
        );
        assert_eq!(watch.blocked(), None);
        write(2).await.expect("writes go through again");
    }

    /// SQLite's read-only switch stands in for a read-only folder: its writes fail with the same
    /// `SQLITE_READONLY`.
    #[tokio::test]
    async fn a_read_only_database_refuses_writes_as_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let health = WriteHealth::default();
        let db = Db::open_queues(&dir.path().join("queues.sqlite"))
            .unwrap()
            .with_health(health.clone());
        db.call(|conn| {
            conn.execute_batch("PRAGMA query_only = ON;")
                .map_err(sqlite_error)
        })
        .await
        .unwrap();
        let refused = db
            .call(|conn| {
                conn.execute("DELETE FROM queue_messages", [])
                    .map_err(sqlite_error)
            })
            .await;
        assert!(
            matches!(refused, Err(PortError::CannotWrite(ref why)) if why.contains("readonly")),
            "{refused:?}"
        );
        assert!(health.blocked().is_some());
    }

    #[test]
    fn a_full_or_read_only_file_system_is_cannot_write_and_other_failures_are_not() {
        use std::io::{Error, ErrorKind};
        for kind in [
            ErrorKind::StorageFull,
            ErrorKind::ReadOnlyFilesystem,
            ErrorKind::QuotaExceeded,
        ] {
            let error = crate::file_error(Error::from(kind));
            assert!(
                matches!(error, PortError::CannotWrite(_)),
                "{kind:?}: {error:?}"
            );
        }
        let other = crate::file_error(Error::from(ErrorKind::NotFound));
        assert!(matches!(other, PortError::Unavailable(_)), "{other:?}");
    }

    #[test]
    fn only_a_write_that_found_no_room_marks_the_folder() {
        let health = WriteHealth::default();
        health.note::<()>(&Err(PortError::Unavailable("busy".into())));
        health.note::<()>(&Ok(()));
        assert_eq!(health.blocked(), None);
        health.note::<()>(&Err(PortError::CannotWrite("disk full".into())));
        assert_eq!(health.blocked().as_deref(), Some("disk full"));
        health.note::<()>(&Ok(()));
        assert_eq!(
            health.blocked().as_deref(),
            Some("disk full"),
            "only a probe clears the mark: a write that needed no room says nothing of the disk"
        );
        health.clear();
        assert_eq!(health.blocked(), None);
    }
}
