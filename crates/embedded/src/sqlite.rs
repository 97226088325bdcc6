//! One SQLite database file shared by the embedded store and queue, opened and migrated at start.

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, ErrorCode};

use cityfix_app::ports::PortError;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    service_code TEXT NOT NULL,
    status TEXT NOT NULL,
    department TEXT,
    cell TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_by_department ON requests (department, status, requested_at);
CREATE INDEX IF NOT EXISTS requests_by_cell ON requests (cell);
CREATE INDEX IF NOT EXISTS requests_by_requested ON requests (requested_at);
CREATE INDEX IF NOT EXISTS requests_by_updated ON requests (updated_at);
-- The sweep's look-up of reports still waiting for routing. Not an index on every status: the
-- planner would take it for any search naming statuses, reading every open request in the city.
DROP INDEX IF EXISTS requests_by_status;
CREATE INDEX IF NOT EXISTS requests_submitted ON requests (requested_at) WHERE status = 'submitted';
-- Duplicate and nearby searches look only at requests still being worked, by service and cell:
-- what they read stays the same however many closed requests the city keeps.
CREATE INDEX IF NOT EXISTS requests_worked_by_cell ON requests (cell, service_code)
    WHERE status IN ('submitted', 'open', 'in_progress');
CREATE TABLE IF NOT EXISTS reporters (
    request_id TEXT PRIMARY KEY REFERENCES requests (id),
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS timeline (
    request_id TEXT NOT NULL REFERENCES requests (id),
    event_id TEXT NOT NULL,
    at TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (request_id, event_id)
);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS followers (
    request_id TEXT NOT NULL REFERENCES requests (id),
    key TEXT NOT NULL,
    via TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (request_id, key)
);
CREATE TABLE IF NOT EXISTS deliveries (
    key TEXT PRIMARY KEY,
    claimed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS queue_messages (
    id TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at_ms INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT
);
CREATE INDEX IF NOT EXISTS queue_messages_ready ON queue_messages (queue, visible_at_ms, sent_at_ms);
CREATE INDEX IF NOT EXISTS queue_messages_by_receipt ON queue_messages (receipt);
"#;

/// A SQLite connection behind a lock; calls run on the blocking pool so the async runtime never stalls.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Db, PortError> {
        let conn = Connection::open(path)
            .map_err(|e| PortError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;").map_err(sqlite_error)?;
        conn.execute_batch(SCHEMA).map_err(sqlite_error)?;
        migrate(&conn)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The connection itself, for tests that inspect plans.
    #[cfg(test)]
    pub fn connection_for_tests(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap()
    }

    /// Runs `work` with the connection on the blocking pool.
    pub async fn call<T, F>(&self, work: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, PortError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|e| PortError::Unavailable(format!("database task failed: {e}")))?
    }
}

/// Brings a database written by an earlier version up to date.
fn migrate(conn: &Connection) -> Result<(), PortError> {
    let has_point: bool = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('requests') WHERE name = 'lat'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .map_err(sqlite_error)?
        > 0;
    if !has_point {
        conn.execute_batch(
            "ALTER TABLE requests ADD COLUMN lat REAL;
             ALTER TABLE requests ADD COLUMN long REAL;
             UPDATE requests SET lat = json_extract(doc, '$.location.lat'), long = json_extract(doc, '$.location.long');",
        ).map_err(sqlite_error)?;
    }
    conn.execute_batch("CREATE INDEX IF NOT EXISTS requests_by_point ON requests (lat, long);")
        .map_err(sqlite_error)?;
    Ok(())
}

/// A SQLite failure as the ports report it.
pub fn sqlite_error(error: rusqlite::Error) -> PortError {
    PortError::Unavailable(format!("sqlite: {error}"))
}

/// Whether the error is a uniqueness or key violation.
pub fn is_constraint(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, _) if e.code == ErrorCode::ConstraintViolation)
}

/// Timestamps are stored in one fixed-width UTC form, so text order is time order.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("stored types always serialise")
}

pub fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, PortError> {
    serde_json::from_str(text)
        .map_err(|e| PortError::Unavailable(format!("a stored item cannot be read: {e}")))
}
