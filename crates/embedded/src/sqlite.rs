//! The SQLite files of the embedded adapters, each with its own writer: the store's (requests and
//! everything beside them) and the queues', opened and migrated at start.

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, ErrorCode};

use cityfix_app::ports::PortError;

const SCHEMA: &str = r#"
-- The metrics' counters (crates/embedded/src/metrics.rs): one row per day × service × department
-- × area × channel × confidential, and the events counted into them, each once.
CREATE TABLE IF NOT EXISTS metrics_tallies (
    day TEXT NOT NULL,
    service TEXT NOT NULL,
    department TEXT NOT NULL,
    area TEXT NOT NULL,
    channel TEXT NOT NULL,
    confidential INTEGER NOT NULL,
    tally TEXT NOT NULL,
    PRIMARY KEY (day, service, department, area, channel, confidential)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS metrics_events (event_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rising_flags (
    week TEXT NOT NULL,
    service TEXT NOT NULL,
    area TEXT NOT NULL,
    flag TEXT NOT NULL,
    PRIMARY KEY (week, service, area)
) WITHOUT ROWID;
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
CREATE INDEX IF NOT EXISTS requests_by_cell ON requests (cell);
-- The router's duplicates of one asset (a streetlight's pole), wherever their points are.
CREATE INDEX IF NOT EXISTS requests_by_asset ON requests (json_extract(doc, '$.asset.layer'), json_extract(doc, '$.asset.id'))
    WHERE json_extract(doc, '$.asset') IS NOT NULL;
-- Requests by when they were made, then id: searches by date, and the open-data exports read a
-- range a page at a time from a cursor, in index order without sorting.
DROP INDEX IF EXISTS requests_by_requested;
CREATE INDEX IF NOT EXISTS requests_made ON requests (requested_at, id);
-- No query reads by raw coordinates; every change paid to keep this one.
DROP INDEX IF EXISTS requests_by_point;
-- Open311 `updated_after` and the updates feed read the requests changed in a window.
CREATE INDEX IF NOT EXISTS requests_by_updated ON requests (updated_at);
-- The sweep's look-up of reports still waiting for routing. Not an index on every status: the
-- planner would take it for any search naming statuses, reading every open request in the city.
DROP INDEX IF EXISTS requests_by_status;
CREATE INDEX IF NOT EXISTS requests_submitted ON requests (requested_at) WHERE status = 'submitted';
-- Duplicate and nearby searches look only at requests still being worked, by service and cell:
-- what they read stays the same however many closed requests the city keeps.
CREATE INDEX IF NOT EXISTS requests_worked_by_cell ON requests (cell, service_code)
    WHERE status IN ('submitted', 'open', 'in_progress');
-- The scheduler's breach notices: requests being worked, by when they were expected, until their
-- supervisors are told (status sets breach_noticed_at, which takes the request out of the index).
-- By julianday, as the JSON times have varying fractions of a second and do not sort as text.
CREATE INDEX IF NOT EXISTS requests_due ON requests (julianday(json_extract(doc, '$.expected_at')))
    WHERE status IN ('open', 'in_progress') AND json_extract(doc, '$.breach_noticed_at') IS NULL;
-- The scheduler's archiving: closed requests by when they were closed (their last change for
-- requests closed before closed_at was kept); archiving takes them out of the index.
CREATE INDEX IF NOT EXISTS requests_closed ON requests (julianday(COALESCE(json_extract(doc, '$.closed_at'), updated_at)))
    WHERE status = 'closed';
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
CREATE TABLE IF NOT EXISTS audit (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    request_id TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at);
CREATE INDEX IF NOT EXISTS audit_by_request ON audit (request_id, at);
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit (actor, at);
CREATE TABLE IF NOT EXISTS backlogs (
    id TEXT PRIMARY KEY,
    declared_at TEXT NOT NULL,
    doc TEXT NOT NULL
);
-- Requests fixed, by service and time, for expected dates from recent history.
CREATE TABLE IF NOT EXISTS fixes (
    service_code TEXT NOT NULL,
    closed_at TEXT NOT NULL,
    request_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (service_code, closed_at, request_id)
);
-- Phone apps registered for push (personal data).
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
-- Residents' questions for staff to answer by e-mail (personal data: the e-mail).
CREATE TABLE IF NOT EXISTS information_requests (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
-- The questions not answered yet, oldest first: the staff's list reads this, not the table.
CREATE INDEX IF NOT EXISTS information_requests_unanswered
    ON information_requests (json_extract(doc, '$.asked_at'), id)
    WHERE json_extract(doc, '$.answered') IS NULL;
-- Answers to "Has it been fixed?", one per request and closing (no personal data).
CREATE TABLE IF NOT EXISTS survey_answers (
    request_id TEXT NOT NULL,
    closed_at TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (request_id, closed_at)
);
CREATE INDEX IF NOT EXISTS survey_answers_by_closing ON survey_answers (closed_at);
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
CREATE TABLE IF NOT EXISTS sends (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    lease_until_ms INTEGER NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS channels_off (
    recipient TEXT NOT NULL,
    channel TEXT NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (recipient, channel)
);
"#;

/// The queues' file: messages by queue, in the order they become visible. It is apart from the
/// store's so that queue traffic (three sends, receives and deletes a report) has a writer of its
/// own and never waits behind the store's commits, nor they behind it; SQS is a service apart too.
const QUEUE_SCHEMA: &str = r#"
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

/// The writer reads pages through a memory map (no read call per page): its own commits leave
/// its cache and its map as they are.
const WRITER_TUNING: &str =
    "PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY;";

/// Readers read pages with plain reads, not a memory map. A reader whose next read finds the WAL
/// changed since its last (under load, nearly every read) drops its whole cache, and with a map
/// SQLite also unmaps the whole file and faults every page in again: on a store of a million
/// requests that made a lookup by id about 6 times and the router's nearby search about 1.7 times
/// as slow as with plain reads (munmap alone was 7 % of the CPU samples under load).
const READER_TUNING: &str =
    "PRAGMA mmap_size = 0; PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY;";

/// Prepared statements each connection keeps (rusqlite keeps 16 by default; the writer alone
/// runs more different ones than that, and a statement pushed out is parsed again).
const STATEMENTS_KEPT: usize = 128;

/// Connections that only read, beside the one that writes: in WAL mode readers never wait for
/// the writer, so lookups by intake, router and notify go on while a change commits.
const READERS: usize = 4;

/// Writes committed together at most, when that many are waiting.
const GROUP_COMMIT: usize = 64;

/// One write waiting for the writer: it runs inside the group's transaction and gives back how
/// to answer its caller once the group has committed (or failed to).
/// It gives back, beside that, whether its own work went through.
type WriteJob = Box<dyn FnOnce(&mut Connection) -> (Result<(), PortError>, Answer) + Send>;

/// How a write's caller hears whether its group committed.
type Answer = Box<dyn FnOnce(Result<(), PortError>) + Send>;

/// SQLite connections: one writer on its own thread, and [`READERS`] readers behind locks.
/// Writes waiting at the same time share one transaction (group commit): each runs in its own
/// savepoint, so one failing undoes only itself, and every caller hears back after the commit.
/// Calls never block the async runtime.
#[derive(Clone)]
pub struct Db {
    writes: std::sync::mpsc::Sender<WriteJob>,
    readers: Arc<[Mutex<Connection>]>,
    next_reader: Arc<std::sync::atomic::AtomicUsize>,
    /// Held by every copy; the checkpointer stops once the last is gone.
    _alive: Arc<()>,
    /// Faults injected into its calls, for the proof under faults only.
    faults: Option<crate::Faults>,
    /// Marked when a write finds no room (shared with the runner's other databases).
    health: crate::storage::WriteHealth,
}

/// The writer thread: takes every write waiting, runs them in one transaction, commits, answers.
///
/// On a full disk or an I/O error SQLite undoes the whole transaction, not only the failing
/// statement: the writes run before it in the group are undone too and hear that error, and the
/// writes after it run in a transaction of their own (run in none, each would commit alone).
fn write_in_groups(mut conn: Connection, jobs: std::sync::mpsc::Receiver<WriteJob>) {
    while let Ok(first) = jobs.recv() {
        let mut group = std::collections::VecDeque::from([first]);
        while group.len() < GROUP_COMMIT {
            match jobs.try_recv() {
                Ok(job) => group.push_back(job),
                Err(_) => break,
            }
        }
        while !group.is_empty() {
            let began = conn.execute_batch("BEGIN IMMEDIATE").map_err(sqlite_error);
            let mut answers = Vec::with_capacity(group.len());
            let mut undone = None;
            while let Some(job) = group.pop_front() {
                let (outcome, answer) = job(&mut conn);
                answers.push(answer);
                if began.is_ok() && conn.is_autocommit() {
                    undone = Some(outcome.err().unwrap_or_else(|| {
                        PortError::Unavailable("sqlite undid the transaction".into())
                    }));
                    break;
                }
            }
            let committed = match undone {
                Some(cause) => Err(cause),
                None => began.and_then(|()| conn.execute_batch("COMMIT").map_err(sqlite_error)),
            };
            if committed.is_err() && !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            for answer in answers {
                answer(committed.clone());
            }
        }
    }
}

/// How often the checkpointer copies committed pages from the WAL back into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// The checkpointer thread: copies the WAL back into the database file beside the writer, so
/// the writer's commits never wait for it (with SQLite's automatic checkpoints the commit that
/// crossed the threshold did the copying, and every write queued behind it waited; on a store of
/// a million requests that was a few hundred milliseconds of random writes). PASSIVE never
/// blocks the writer or readers; SQLite starts the WAL over once it is wholly copied back. The
/// writer's own automatic checkpoint stays, at a far larger size, should this thread fall behind.
fn copy_back_wal(conn: Connection, alive: std::sync::Weak<()>) {
    let mut failing = false;
    while alive.strong_count() > 0 {
        std::thread::sleep(CHECKPOINT_EVERY);
        // Logged when checkpoints start failing and when they work again, not five times a
        // second while a disk is full.
        match conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
            Err(error) if !failing => {
                tracing::warn!(%error, "a checkpoint failed; the next ones will try again");
                failing = true;
            }
            Ok(()) if failing => {
                tracing::info!("checkpoints work again");
                failing = false;
            }
            _ => {}
        }
    }
}

impl Db {
    /// Opens (creating if needed) the store's database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Db, PortError> {
        Db::open_with(path, |conn| {
            conn.execute_batch(SCHEMA).map_err(sqlite_error)?;
            migrate(conn)
        })
    }

    /// Opens (creating if needed) the queues' database file.
    pub fn open_queues(path: &Path) -> Result<Db, PortError> {
        Db::open_with(path, |conn| {
            conn.execute_batch(QUEUE_SCHEMA).map_err(sqlite_error)
        })
    }

    /// Opens `path` in WAL mode, lets `schema` bring it up to date, and starts its writer.
    fn open_with(
        path: &Path,
        schema: impl FnOnce(&Connection) -> Result<(), PortError>,
    ) -> Result<Db, PortError> {
        let conn = Connection::open(path)
            .map_err(|e| PortError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;").map_err(sqlite_error)?;
        conn.execute_batch(WRITER_TUNING).map_err(sqlite_error)?;
        // the checkpointer thread copies the WAL back; this is only its backstop (400 MB)
        // and the writer keeps 256 MB of pages: each commit's index inserts land on random pages of
        // the large indexes (ids, tokens, cells), which it would otherwise read again and again
        conn.execute_batch("PRAGMA wal_autocheckpoint = 100000; PRAGMA cache_size = -262144;")
            .map_err(sqlite_error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
        schema(&conn)?;
        let readers = (0..READERS)
            .map(|_| {
                let reader = Connection::open(path).map_err(|e| {
                    PortError::Unavailable(format!("cannot open {}: {e}", path.display()))
                })?;
                reader.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
                reader
                    .execute_batch("PRAGMA query_only = ON; PRAGMA busy_timeout = 5000;")
                    .and_then(|()| reader.execute_batch(READER_TUNING))
                    .map_err(sqlite_error)?;
                Ok(Mutex::new(reader))
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        let (writes, jobs) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("cityfix-sqlite-writer".into())
            .spawn(move || write_in_groups(conn, jobs))
            .map_err(|e| {
                PortError::Unavailable(format!("cannot start the database writer: {e}"))
            })?;
        let alive = Arc::new(());
        let checkpoints = Connection::open(path)
            .and_then(|conn| {
                conn.execute_batch("PRAGMA busy_timeout = 5000;")
                    .map(|()| conn)
            })
            .map_err(sqlite_error)?;
        let watched = Arc::downgrade(&alive);
        std::thread::Builder::new()
            .name("cityfix-sqlite-checkpoints".into())
            .spawn(move || copy_back_wal(checkpoints, watched))
            .map_err(|e| {
                PortError::Unavailable(format!("cannot start the database checkpointer: {e}"))
            })?;
        Ok(Db {
            writes,
            readers: readers.into(),
            next_reader: Arc::default(),
            _alive: alive,
            faults: None,
            health: Default::default(),
        })
    }

    /// Caps the database at about `bytes` from now on (SQLite's `max_page_count` on the writer,
    /// never below its size now): a write past it fails as on a full disk, `SQLITE_FULL`. The
    /// full-disk tests' stand-in for a disk that has no more room.
    pub async fn limit_size(&self, bytes: u64) -> Result<(), PortError> {
        self.call(move |conn| {
            let page: u64 = conn
                .query_row("PRAGMA page_size", [], |row| row.get(0))
                .map_err(sqlite_error)?;
            conn.pragma_update(None, "max_page_count", (bytes / page).max(1))
                .map_err(sqlite_error)
        })
        .await
    }

    /// The same database, marking `health` when a write finds no room.
    pub fn with_health(mut self, health: crate::storage::WriteHealth) -> Db {
        self.health = health;
        self
    }

    /// The same database, with `faults` injected into its reads and writes from now on.
    pub fn with_faults(mut self, faults: Option<crate::Faults>) -> Db {
        self.faults = faults;
        self
    }

    /// Runs `work`, which only reads, on a reader connection on the blocking pool: the first free
    /// one, or the next in turn when all are busy.
    pub async fn read<T, F>(&self, work: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, PortError> + Send + 'static,
    {
        crate::faults::faulty(
            self.faults.as_ref(),
            "a database read",
            false,
            self.read_now(work),
        )
        .await
    }

    async fn read_now<T, F>(&self, work: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, PortError> + Send + 'static,
    {
        let readers = self.readers.clone();
        let start = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let count = readers.len();
            let free = (0..count).find_map(|i| readers[(start + i) % count].try_lock().ok());
            let guard = match free {
                Some(guard) => guard,
                None => readers[start % count]
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            };
            work(&guard)
        })
        .await
        .map_err(|e| PortError::Unavailable(format!("database task failed: {e}")))?
    }

    /// Runs `work` on the writer, in the transaction of whichever writes are waiting with it; it
    /// answers once that transaction has committed. `work` must not begin a transaction of its
    /// own: a savepoint (`conn.savepoint()`) makes several statements all-or-nothing.
    pub async fn call<T, F>(&self, work: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, PortError> + Send + 'static,
    {
        let result = crate::faults::faulty(
            self.faults.as_ref(),
            "a database write",
            true,
            self.call_now(work),
        )
        .await;
        self.health.note(&result);
        result
    }

    async fn call_now<T, F>(&self, work: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, PortError> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let outcome = work(conn);
            let went = outcome.as_ref().map(|_| ()).map_err(Clone::clone);
            let answer: Answer = Box::new(move |committed: Result<(), PortError>| {
                let _ = answer.send(committed.and(outcome));
            });
            (went, answer)
        });
        self.writes
            .send(job)
            .map_err(|_| PortError::Unavailable("the database writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| PortError::Unavailable("the database writer has stopped".into()))?
    }
}

/// Moves the messages an earlier version kept in the store's file (`queue_messages`) into the
/// queues' file, so that none waiting is lost by an upgrade; then the old table is dropped. Run
/// before either file is opened as a [`Db`].
pub fn move_queue_messages(store: &Path, queues: &Path) -> Result<(), PortError> {
    if !store.exists() {
        return Ok(());
    }
    let conn = Connection::open(store)
        .map_err(|e| PortError::Unavailable(format!("cannot open {}: {e}", store.display())))?;
    let old: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'queue_messages'",
            [],
            |row| row.get(0),
        )
        .map_err(sqlite_error)?;
    if old == 0 {
        return Ok(());
    }
    let target = Connection::open(queues)
        .map_err(|e| PortError::Unavailable(format!("cannot open {}: {e}", queues.display())))?;
    target.execute_batch(QUEUE_SCHEMA).map_err(sqlite_error)?;
    drop(target);
    conn.execute("ATTACH DATABASE ?1 AS queues", [queues.to_string_lossy()])
        .map_err(sqlite_error)?;
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         INSERT OR IGNORE INTO queues.queue_messages SELECT id, queue, body, sent_at_ms, visible_at_ms, receive_count, receipt FROM main.queue_messages;
         DROP TABLE main.queue_messages;
         COMMIT;",
    )
    .map_err(sqlite_error)?;
    conn.execute_batch("DETACH DATABASE queues")
        .map_err(sqlite_error)
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
    let has_rank: bool = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('requests') WHERE name = 'queue_rank'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .map_err(sqlite_error)?
        > 0;
    if !has_rank {
        // Where a request stands in its department's queue: `Priority::queue_rank`, urgent first.
        conn.execute_batch(
            "ALTER TABLE requests ADD COLUMN queue_rank INTEGER NOT NULL DEFAULT 2;
             UPDATE requests SET queue_rank = CASE json_extract(doc, '$.priority')
                 WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'low' THEN 3 ELSE 2 END;",
        )
        .map_err(sqlite_error)?;
    }
    // A department's queue reads in rank order, then oldest first, from a cursor.
    conn.execute_batch(
        "DROP INDEX IF EXISTS requests_by_department;
         CREATE INDEX IF NOT EXISTS requests_in_queue ON requests (department, status, queue_rank, requested_at, id);",
    )
    .map_err(sqlite_error)?;
    // The queue narrowed to requests with duplicates, or reopened: the same order, each a partial
    // index of the requests whose document holds the count (it is left out while zero).
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS requests_with_duplicates_in_queue ON requests (department, status, queue_rank, requested_at, id)
             WHERE json_extract(doc, '$.duplicates') IS NOT NULL;
         CREATE INDEX IF NOT EXISTS requests_reopened_in_queue ON requests (department, status, queue_rank, requested_at, id)
             WHERE json_extract(doc, '$.reopened') IS NOT NULL;",
    )
    .map_err(sqlite_error)?;
    if !has_point {
        conn.execute_batch(
            "ALTER TABLE requests ADD COLUMN lat REAL;
             ALTER TABLE requests ADD COLUMN long REAL;
             UPDATE requests SET lat = json_extract(doc, '$.location.lat'), long = json_extract(doc, '$.location.long');",
        ).map_err(sqlite_error)?;
    }
    Ok(())
}

/// A SQLite failure as the ports report it: a full disk, a read-only file or folder, or a
/// failing write to the disk is [`PortError::CannotWrite`] (no retry soon will help; an operator
/// must make room), anything else [`PortError::Unavailable`].
pub fn sqlite_error(error: rusqlite::Error) -> PortError {
    let no_room = matches!(
        &error,
        rusqlite::Error::SqliteFailure(e, _) if matches!(
            e.code,
            ErrorCode::DiskFull | ErrorCode::ReadOnly | ErrorCode::SystemIoFailure | ErrorCode::CannotOpen
        )
    );
    if no_room {
        PortError::CannotWrite(format!("sqlite: {error}"))
    } else {
        PortError::Unavailable(format!("sqlite: {error}"))
    }
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

/// Runs one statement from the connection's cache of prepared statements: the hot paths run the
/// same few statements thousands of times a second, and parsing each anew cost more than running it.
pub fn run(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// The one row a cached statement finds, mapped by `map`.
pub fn one_row<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readers_read_without_a_memory_map_and_the_writer_with_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("store.sqlite")).unwrap();
        let mapped = |conn: &Connection| {
            conn.query_row("PRAGMA mmap_size", [], |row| row.get::<_, i64>(0))
                .map_err(sqlite_error)
        };
        for _ in 0..READERS {
            assert_eq!(db.read(mapped).await.unwrap(), 0);
        }
        assert!(db.call(move |conn| mapped(conn)).await.unwrap() > 0);
    }
}
