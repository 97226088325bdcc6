//! The request store on SQLite, keeping the same access patterns as the DynamoDB table.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, OptionalExtension};

use crate::sqlite::{from_json, is_constraint, timestamp, to_json, Db};
use crate::sqlite::{one_row, run, sqlite_error};
use cityfix_app::ports::{made_cursor, parse_made_cursor, SendClaim};
use cityfix_app::ports::{
    AuditQuery, Created, Device, Follower, IdempotencyClaim, InformationAnswer, InformationPage,
    InformationRequest, NewRequest, PortError, PortResult, QueueMark, QueuePage, RequestQuery,
    RequestStore, SurveyAnswer,
};
use cityfix_domain::backlog::Backlog;
use cityfix_domain::expected::Fixed;
use cityfix_domain::{AuditRecord, Contact, ServiceRequest, Status, TimelineEntry, TrackingNumber};

/// Requests, reporters, timelines, idempotency keys and the delivery ledger in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) db: Db,
}

impl SqliteStore {
    /// One page of a department's queue by `sql` (one of the queue statements below), after a
    /// cursor `<rank>#<requested at>#<id>`.
    async fn queue_page(
        &self,
        sql: &'static str,
        department: &str,
        status: Status,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<QueuePage> {
        let department = department.to_string();
        // The cursor is the last row's `<rank>#<requested at>#<id>`.
        let (after_rank, after_at, after_id) = match after {
            Some(cursor) => {
                let mut parts = cursor.splitn(3, '#');
                match (
                    parts.next().and_then(|r| r.parse::<i64>().ok()),
                    parts.next(),
                    parts.next(),
                ) {
                    (Some(rank), Some(at), Some(id)) => (rank, at.to_string(), id.to_string()),
                    _ => {
                        return Err(PortError::NotFound(format!(
                            "`{cursor}` is not a queue cursor"
                        )))
                    }
                }
            }
            None => (-1, String::new(), String::new()),
        };
        let limit = limit.max(1);
        self.db
            .read(move |conn| {
                let mut statement = conn.prepare_cached(sql).map_err(sqlite_error)?;
                let rows = statement
                    .query_map(
                        params![
                            department,
                            status.as_str(),
                            after_rank,
                            after_at,
                            after_id,
                            limit + 1
                        ],
                        |row| {
                            Ok((
                                row.get::<_, String>(0)?,
                                row.get::<_, i64>(1)?,
                                row.get::<_, String>(2)?,
                                row.get::<_, String>(3)?,
                            ))
                        },
                    )
                    .map_err(sqlite_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sqlite_error)?;
                QueuePage::from_rows(
                    rows,
                    limit,
                    |(_, rank, at, id)| format!("{rank}#{at}#{id}"),
                    |(doc, _, _, _)| from_json(&doc),
                )
            })
            .await
    }

    /// Caps the store at about `bytes` ([`Db::limit_size`]): the full-disk tests' stand-in.
    pub async fn limit_size(&self, bytes: u64) -> PortResult<()> {
        self.db.limit_size(bytes).await
    }

    pub fn new(db: Db) -> Self {
        SqliteStore { db }
    }

    pub fn open(path: &Path) -> PortResult<Self> {
        Ok(SqliteStore::new(Db::open(path)?))
    }

    /// The one JSON document `select` finds for a request, if any.
    async fn document<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        select: &'static str,
        id: &TrackingNumber,
    ) -> PortResult<Option<T>> {
        let id = id.clone();
        self.db
            .read(move |conn| {
                let doc: Option<String> = one_row(conn, select, [id.as_str()], |row| row.get(0))
                    .optional()
                    .map_err(sqlite_error)?;
                doc.as_deref().map(from_json).transpose()
            })
            .await
    }

    /// Every JSON document `select` finds for a request, in its order.
    async fn documents<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        select: &'static str,
        id: &TrackingNumber,
    ) -> PortResult<Vec<T>> {
        let id = id.clone();
        self.db
            .read(move |conn| read_docs(conn, select, [id.as_str()]))
            .await
    }

    /// Runs `sql` on the follower `key` of request `id`: whether there was one.
    async fn change_follower(
        &self,
        sql: &'static str,
        id: &TrackingNumber,
        key: &str,
    ) -> PortResult<bool> {
        let (id, key) = (id.clone(), key.to_string());
        self.db
            .call(move |conn| {
                run(conn, sql, params![id.as_str(), key])
                    .map(|changed| changed > 0)
                    .map_err(sqlite_error)
            })
            .await
    }

    /// Stores many requests in one transaction, as a city moving from another system brings its
    /// history: all or none. Requests already stored make the whole import fail, naming the first.
    pub async fn import(&self, requests: Vec<NewRequest>) -> PortResult<usize> {
        self.db
            .call(move |conn| {
                let tx = conn.savepoint().map_err(sqlite_error)?;
                for new in &requests {
                    insert_new(&tx, new, &to_json(&new.request))?;
                }
                tx.commit().map_err(sqlite_error)?;
                Ok(requests.len())
            })
            .await
    }
}

/// The unanswered questions after a cursor, oldest first, from their partial index.
const UNANSWERED_SQL: &str =
    "SELECT doc, json_extract(doc, '$.asked_at') FROM information_requests \
     WHERE json_extract(doc, '$.answered') IS NULL \
     AND (json_extract(doc, '$.asked_at'), id) > (?1, ?2) \
     ORDER BY json_extract(doc, '$.asked_at'), id LIMIT ?3";

#[async_trait::async_trait]
impl RequestStore for SqliteStore {
    async fn create(&self, new: &NewRequest) -> PortResult<Created> {
        let new = new.clone();
        let doc = to_json(&new.request);
        self.db
            .call(move |conn| {
                let tx = conn.savepoint().map_err(sqlite_error)?;
                let now = timestamp(new.request.requested_at);
                if let Some(claim) = &new.idempotency {
                    run(&tx, "DELETE FROM idempotency WHERE key = ?1 AND expires_at <= ?2", params![claim.key, now]).map_err(sqlite_error)?;
                    let earlier: Option<(String, String, Option<String>)> = one_row(&tx, "SELECT i.request_id, i.fingerprint, r.token FROM idempotency i LEFT JOIN requests r ON r.id = i.request_id WHERE i.key = ?1", [&claim.key], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                        .optional().map_err(sqlite_error)?;
                    if let Some((id, fingerprint, token)) = earlier {
                        let id = TrackingNumber::parse(&id).map_err(PortError::Unavailable)?;
                        return Ok(Created::Replayed { id, fingerprint, token });
                    }
                }
                insert_new(&tx, &new, &doc)?;
                if let Some(claim) = &new.idempotency {
                    run(&tx,
                        "INSERT INTO idempotency (key, request_id, fingerprint, expires_at) VALUES (?1, ?2, ?3, ?4)",
                        params![claim.key, new.request.id.as_str(), claim.fingerprint, timestamp(claim.expires_at)],
                    ).map_err(sqlite_error)?;
                }
                tx.commit().map_err(sqlite_error)?;
                Ok(Created::New)
            })
            .await
    }

    async fn get(&self, id: &TrackingNumber) -> PortResult<Option<ServiceRequest>> {
        self.document("SELECT doc FROM requests WHERE id = ?1", id)
            .await
    }

    async fn reporter(&self, id: &TrackingNumber) -> PortResult<Option<Contact>> {
        self.document("SELECT doc FROM reporters WHERE request_id = ?1", id)
            .await
    }

    async fn find_token(&self, token: &str) -> PortResult<Option<TrackingNumber>> {
        let token = token.to_string();
        self.db
            .read(move |conn| {
                let id: Option<String> = one_row(
                    conn,
                    "SELECT id FROM requests WHERE token = ?1",
                    [token],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sqlite_error)?;
                id.map(|id| TrackingNumber::parse(&id).map_err(PortError::Unavailable))
                    .transpose()
            })
            .await
    }

    async fn update_audited(
        &self,
        request: &ServiceRequest,
        expected_version: u64,
        entry: &TimelineEntry,
        audit: Option<&AuditRecord>,
    ) -> PortResult<()> {
        let files = request.media.len();
        // Serialised here, on the caller's thread: the one writer thread is the store's bottleneck.
        let doc = to_json(request);
        let request = request.clone();
        let entry = entry.clone();
        let audit = audit.cloned();
        self.db
            .call(move |conn| {
                let tx = conn.savepoint().map_err(sqlite_error)?;
                // The stored request's files are counted in the same statement: no file is added to a
                // request that holds the most, whatever the caller read. A request with fewer files
                // than the most cannot break that, and its stored document is not parsed for it.
                let changed = run(&tx,
                    "UPDATE requests SET status = ?1, department = ?2, updated_at = ?3, version = ?4, doc = ?5, queue_rank = ?10 \
                     WHERE id = ?6 AND version = ?7 \
                     AND (?9 < ?8 OR COALESCE(json_array_length(doc, '$.media'), 0) < ?8 OR COALESCE(json_array_length(doc, '$.media'), 0) >= ?9)",
                    params![
                        request.status.as_str(),
                        request.department,
                        timestamp(request.updated_at),
                        request.version,
                        doc,
                        request.id.as_str(),
                        expected_version,
                        ServiceRequest::MAX_MEDIA,
                        files,
                        request.priority.queue_rank()
                    ],
                ).map_err(sqlite_error)?;
                if changed == 0 {
                    return Err(PortError::Conflict(format!("request {} is not at version {expected_version}, or holds the most files", request.id)));
                }
                insert_entry(&tx, &request.id, &entry)?;
                if let Some(audit) = &audit {
                    run(&tx,
                        "INSERT INTO audit (id, at, actor, request_id, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![audit.id, timestamp(audit.at), audit.actor, audit.request_id.as_str(), to_json(audit)],
                    )
                    .map_err(|e| if is_constraint(&e) { PortError::AlreadyExists(format!("audit record {}", audit.id)) } else { sqlite_error(e) })?;
                }
                tx.commit().map_err(sqlite_error)?;
                Ok(())
            })
            .await
    }

    async fn audit(&self, query: &AuditQuery) -> PortResult<Vec<AuditRecord>> {
        let query = query.clone();
        self.db
            .read(move |conn| {
                read_docs(
                    conn,
                    "SELECT doc FROM audit WHERE at >= ?1 AND at <= ?2 \
                     AND (?3 IS NULL OR request_id = ?3) AND (?4 IS NULL OR actor = ?4) \
                     ORDER BY at, id LIMIT ?5",
                    params![
                        timestamp(query.from),
                        timestamp(query.to),
                        query.request.as_ref().map(|id| id.as_str().to_string()),
                        query.actor,
                        query.limit
                    ],
                )
            })
            .await
    }

    async fn claim_key(
        &self,
        claim: &IdempotencyClaim,
        request_id: &TrackingNumber,
        now: DateTime<Utc>,
    ) -> PortResult<Option<String>> {
        let (claim, request_id) = (claim.clone(), request_id.clone());
        self.db
            .call(move |conn| {
                let tx = conn.savepoint().map_err(sqlite_error)?;
                run(&tx,
                    "DELETE FROM idempotency WHERE key = ?1 AND expires_at <= ?2",
                    params![claim.key, timestamp(now)],
                )
                .map_err(sqlite_error)?;
                let earlier: Option<String> = one_row(&tx,
                        "SELECT fingerprint FROM idempotency WHERE key = ?1",
                        [&claim.key],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(sqlite_error)?;
                if earlier.is_none() {
                    run(&tx,
                        "INSERT INTO idempotency (key, request_id, fingerprint, expires_at) VALUES (?1, ?2, ?3, ?4)",
                        params![claim.key, request_id.as_str(), claim.fingerprint, timestamp(claim.expires_at)],
                    )
                    .map_err(sqlite_error)?;
                }
                tx.commit().map_err(sqlite_error)?;
                Ok(earlier)
            })
            .await
    }

    async fn timeline(&self, id: &TrackingNumber) -> PortResult<Vec<TimelineEntry>> {
        self.documents(
            "SELECT doc FROM timeline WHERE request_id = ?1 ORDER BY at, event_id",
            id,
        )
        .await
    }

    async fn search(&self, query: &RequestQuery) -> PortResult<Vec<ServiceRequest>> {
        let (sql, values) = search_sql(query);
        self.db
            .read(move |conn| {
                let mut statement = conn.prepare_cached(&sql).map_err(sqlite_error)?;
                let docs = statement
                    .query_map(params_from_iter(values.iter()), |row| {
                        row.get::<_, String>(0)
                    })
                    .map_err(sqlite_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sqlite_error)?;
                docs.iter().map(|doc| from_json(doc)).collect()
            })
            .await
    }

    async fn requests_about_asset(
        &self,
        asset: &cityfix_domain::AssetRef,
    ) -> PortResult<Vec<ServiceRequest>> {
        let (layer, asset_id) = (asset.layer.clone(), asset.id.clone());
        self.db
            .read(move |conn| {
                let mut statement = conn.prepare_cached(ASSET_SQL).map_err(sqlite_error)?;
                let docs = statement
                    .query_map(params![layer, asset_id], |row| row.get::<_, String>(0))
                    .map_err(sqlite_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sqlite_error)?;
                docs.iter().map(|doc| from_json(doc)).collect()
            })
            .await
    }

    async fn add_follower(&self, id: &TrackingNumber, follower: &Follower) -> PortResult<()> {
        let id = id.clone();
        let follower = follower.clone();
        self.db
            .call(move |conn| {
                run(conn,
                    "INSERT OR IGNORE INTO followers (request_id, key, via, doc) VALUES (?1, ?2, ?3, ?4)",
                    params![id.as_str(), follower.key, follower.via.as_str(), to_json(&follower)],
                ).map_err(sqlite_error)?;
                Ok(())
            })
            .await
    }

    async fn remove_followers_via(
        &self,
        id: &TrackingNumber,
        via: &TrackingNumber,
    ) -> PortResult<()> {
        let (id, via) = (id.clone(), via.clone());
        self.db
            .call(move |conn| {
                run(
                    conn,
                    "DELETE FROM followers WHERE request_id = ?1 AND via = ?2",
                    params![id.as_str(), via.as_str()],
                )
                .map(|_| ())
                .map_err(sqlite_error)
            })
            .await
    }

    async fn followers(&self, id: &TrackingNumber) -> PortResult<Vec<Follower>> {
        self.documents(
            "SELECT doc FROM followers WHERE request_id = ?1 ORDER BY key",
            id,
        )
        .await
    }

    async fn confirm_follower(&self, id: &TrackingNumber, key: &str) -> PortResult<bool> {
        self.change_follower(
            "UPDATE followers SET doc = json_remove(doc, '$.asked_at') WHERE request_id = ?1 AND key = ?2",
            id,
            key,
        )
        .await
    }

    async fn remove_follower(&self, id: &TrackingNumber, key: &str) -> PortResult<bool> {
        self.change_follower(
            "DELETE FROM followers WHERE request_id = ?1 AND key = ?2",
            id,
            key,
        )
        .await
    }

    async fn stuck_submitted(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<TrackingNumber>> {
        self.db
            .read(move |conn| {
                let mut statement = conn.prepare("SELECT id FROM requests WHERE status = 'submitted' AND requested_at < ?1 ORDER BY requested_at LIMIT ?2").map_err(sqlite_error)?;
                let ids = statement
                    .query_map(params![timestamp(before), limit], |row| row.get::<_, String>(0)).map_err(sqlite_error)?
                    .collect::<Result<Vec<_>, _>>().map_err(sqlite_error)?;
                ids.iter().map(|id| TrackingNumber::parse(id).map_err(PortError::Unavailable)).collect()
            })
            .await
    }

    async fn department_queue(
        &self,
        department: &str,
        status: Status,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<QueuePage> {
        self.queue_page(QUEUE_SQL, department, status, after, limit)
            .await
    }

    async fn marked_queue(
        &self,
        department: &str,
        status: Status,
        mark: QueueMark,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<QueuePage> {
        let sql = match mark {
            QueueMark::HasDuplicates => WITH_DUPLICATES_QUEUE_SQL,
            QueueMark::Reopened => REOPENED_QUEUE_SQL,
        };
        self.queue_page(sql, department, status, after, limit).await
    }

    async fn requests_made(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<QueuePage> {
        // Without a cursor the row value `('', '')` is below every row.
        let (after_at, after_id) = match after {
            Some(cursor) => {
                let (at, id) = parse_made_cursor(cursor)?;
                (timestamp(at), id.to_string())
            }
            None => (String::new(), String::new()),
        };
        let limit = limit.max(1);
        self.db
            .read(move |conn| {
                let mut statement = conn.prepare_cached(MADE_SQL).map_err(sqlite_error)?;
                let rows = statement
                    .query_map(
                        params![
                            timestamp(from),
                            timestamp(to),
                            after_at,
                            after_id,
                            limit + 1
                        ],
                        |row| row.get::<_, String>(0),
                    )
                    .map_err(sqlite_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sqlite_error)?;
                let requests = rows
                    .iter()
                    .map(|doc| from_json::<ServiceRequest>(doc))
                    .collect::<PortResult<Vec<_>>>()?;
                QueuePage::from_rows(requests, limit, made_cursor, Ok)
            })
            .await
    }

    async fn overdue(&self, before: DateTime<Utc>, limit: u32) -> PortResult<Vec<TrackingNumber>> {
        self.ids(OVERDUE_SQL, before, limit).await
    }

    async fn closed_before(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<TrackingNumber>> {
        self.ids(CLOSED_BEFORE_SQL, before, limit).await
    }

    async fn closed_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<TrackingNumber>> {
        self.db
            .read(move |conn| {
                let mut statement = conn
                    .prepare_cached(CLOSED_BETWEEN_SQL)
                    .map_err(sqlite_error)?;
                let ids = statement
                    .query_map(params![timestamp(from), timestamp(to), limit], |row| {
                        row.get::<_, String>(0)
                    })
                    .map_err(sqlite_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sqlite_error)?;
                ids.iter()
                    .map(|id| TrackingNumber::parse(id).map_err(PortError::Unavailable))
                    .collect()
            })
            .await
    }

    async fn record_survey_answer(&self, answer: &SurveyAnswer) -> PortResult<()> {
        let answer = answer.clone();
        self.db
            .call(move |conn| {
                run(
                    conn,
                    "INSERT OR REPLACE INTO survey_answers (request_id, closed_at, doc) VALUES (?1, ?2, ?3)",
                    params![answer.request_id.as_str(), timestamp(answer.closed_at), to_json(&answer)],
                )
                .map(|_| ())
                .map_err(sqlite_error)
            })
            .await
    }

    async fn survey_answers(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<SurveyAnswer>> {
        self.db
            .read(move |conn| {
                let mut statement = conn
                    .prepare_cached(
                        "SELECT doc FROM survey_answers WHERE closed_at >= ?1 AND closed_at <= ?2 \
                         ORDER BY closed_at, request_id LIMIT ?3",
                    )
                    .map_err(sqlite_error)?;
                let docs = statement
                    .query_map(params![timestamp(from), timestamp(to), limit], |row| {
                        row.get::<_, String>(0)
                    })
                    .map_err(sqlite_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sqlite_error)?;
                docs.iter().map(|doc| from_json(doc)).collect()
            })
            .await
    }

    async fn forget_contacts(&self, id: &TrackingNumber) -> PortResult<()> {
        let id = id.clone();
        self.db
            .call(move |conn| {
                let tx = conn.savepoint().map_err(sqlite_error)?;
                for forget in [
                    "DELETE FROM reporters WHERE request_id = ?1",
                    "DELETE FROM followers WHERE request_id = ?1",
                ] {
                    run(&tx, forget, [id.as_str()]).map_err(sqlite_error)?;
                }
                tx.commit().map_err(sqlite_error)
            })
            .await
    }

    async fn save_device(&self, device: &Device) -> PortResult<()> {
        let device = device.clone();
        self.db
            .call(move |conn| {
                run(
                    conn,
                    "INSERT OR IGNORE INTO devices (id, doc) VALUES (?1, ?2)",
                    params![device.id, to_json(&device)],
                )
                .map(|_| ())
                .map_err(sqlite_error)
            })
            .await
    }

    async fn device(&self, id: &str) -> PortResult<Option<Device>> {
        let id = id.to_string();
        self.db
            .read(move |conn| {
                let docs: Vec<Device> =
                    read_docs(conn, "SELECT doc FROM devices WHERE id = ?1", [id.as_str()])?;
                Ok(docs.into_iter().next())
            })
            .await
    }

    async fn save_information_request(&self, asked: &InformationRequest) -> PortResult<()> {
        let asked = asked.clone();
        self.db
            .call(move |conn| {
                run(
                    conn,
                    "INSERT OR IGNORE INTO information_requests (id, doc) VALUES (?1, ?2)",
                    params![asked.id.as_str(), to_json(&asked)],
                )
                .map(|_| ())
                .map_err(sqlite_error)
            })
            .await
    }

    async fn information_request(
        &self,
        id: &TrackingNumber,
    ) -> PortResult<Option<InformationRequest>> {
        self.document("SELECT doc FROM information_requests WHERE id = ?1", id)
            .await
    }

    async fn unanswered_information_requests(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<InformationPage> {
        // The cursor is the last row's `<asked at, as stored>#<id>`.
        let (after_at, after_id) = match after {
            Some(cursor) => cursor
                .rsplit_once('#')
                .map(|(at, id)| (at.to_string(), id.to_string()))
                .ok_or_else(|| {
                    PortError::NotFound(format!("`{cursor}` is not a question cursor"))
                })?,
            None => (String::new(), String::new()),
        };
        let limit = limit.max(1);
        self.db
            .read(move |conn| {
                let mut statement = conn.prepare_cached(UNANSWERED_SQL).map_err(sqlite_error)?;
                let rows = statement
                    .query_map(params![after_at, after_id, limit + 1], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                    })
                    .map_err(sqlite_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sqlite_error)?;
                let more = rows.len() > limit as usize;
                let mut asked = Vec::new();
                let mut next = None;
                for (doc, at) in rows.into_iter().take(limit as usize) {
                    let question: InformationRequest = from_json(&doc)?;
                    next = Some(format!("{at}#{}", question.id.as_str()));
                    asked.push(question);
                }
                Ok(InformationPage {
                    asked,
                    next: next.filter(|_| more),
                })
            })
            .await
    }

    async fn answer_information_request(
        &self,
        id: &TrackingNumber,
        answer: &InformationAnswer,
    ) -> PortResult<bool> {
        let (id, answer) = (id.clone(), answer.clone());
        self.db
            .call(move |conn| {
                let doc: Option<String> = one_row(
                    conn,
                    "SELECT doc FROM information_requests WHERE id = ?1",
                    [id.as_str()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sqlite_error)?;
                let Some(doc) = doc else {
                    return Err(PortError::NotFound(format!("there is no question {id}")));
                };
                let mut asked: InformationRequest = from_json(&doc)?;
                if let Some(earlier) = &asked.answered {
                    return earlier.answered_again(&id, &answer);
                }
                asked.answered = Some(answer);
                run(
                    conn,
                    "UPDATE information_requests SET doc = ?2 WHERE id = ?1",
                    params![id.as_str(), to_json(&asked)],
                )
                .map_err(sqlite_error)?;
                Ok(true)
            })
            .await
    }

    async fn save_backlog(&self, backlog: &Backlog) -> PortResult<()> {
        let backlog = backlog.clone();
        self.db
            .call(move |conn| {
                run(
                    conn,
                    "INSERT INTO backlogs (id, declared_at, doc) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                    params![
                        backlog.id,
                        timestamp(backlog.declared_at),
                        to_json(&backlog)
                    ],
                )
                .map(|_| ())
                .map_err(sqlite_error)
            })
            .await
    }

    async fn backlogs(&self) -> PortResult<Vec<Backlog>> {
        self.db
            .read(|conn| {
                read_docs(
                    conn,
                    "SELECT doc FROM backlogs ORDER BY declared_at, id",
                    [],
                )
            })
            .await
    }

    async fn record_fix(&self, service_code: &str, fixed: &Fixed) -> PortResult<()> {
        let (service_code, fixed) = (service_code.to_string(), fixed.clone());
        self.db
            .call(move |conn| {
                run(conn,
                    "INSERT OR IGNORE INTO fixes (service_code, closed_at, request_id, doc) VALUES (?1, ?2, ?3, ?4)",
                    params![service_code, timestamp(fixed.closed_at), fixed.request_id, to_json(&fixed)],
                )
                .map(|_| ())
                .map_err(sqlite_error)
            })
            .await
    }

    async fn fixes(
        &self,
        service_code: &str,
        since: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<Fixed>> {
        let service_code = service_code.to_string();
        self.db
            .read(move |conn| {
                read_docs(
                    conn,
                    "SELECT doc FROM fixes WHERE service_code = ?1 AND closed_at >= ?2 \
                     ORDER BY closed_at DESC LIMIT ?3",
                    params![service_code, timestamp(since), limit],
                )
            })
            .await
    }

    async fn claim_delivery(&self, key: &str, at: DateTime<Utc>) -> PortResult<bool> {
        let key = key.to_string();
        self.db
            .call(move |conn| {
                Ok(run(
                    conn,
                    "INSERT OR IGNORE INTO deliveries (key, claimed_at) VALUES (?1, ?2)",
                    params![key, timestamp(at)],
                )
                .map_err(sqlite_error)?
                    == 1)
            })
            .await
    }

    async fn release_delivery(&self, key: &str) -> PortResult<()> {
        let key = key.to_string();
        self.db
            .call(move |conn| {
                run(conn, "DELETE FROM deliveries WHERE key = ?1", [key])
                    .map(|_| ())
                    .map_err(sqlite_error)
            })
            .await
    }

    async fn begin_send(
        &self,
        key: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> PortResult<SendClaim> {
        let key = key.to_string();
        self.db
            .call(move |conn| {
                let claimed = conn
                    .execute(
                        "INSERT INTO sends (key, state, lease_until_ms, at) VALUES (?1, 'sending', ?2, ?3) \
                         ON CONFLICT (key) DO UPDATE SET lease_until_ms = excluded.lease_until_ms, at = excluded.at \
                         WHERE sends.state = 'sending' AND sends.lease_until_ms <= ?4",
                        params![
                            key,
                            lease_until.timestamp_millis(),
                            timestamp(now),
                            now.timestamp_millis()
                        ],
                    )
                    .map_err(sqlite_error)?;
                if claimed == 1 {
                    return Ok(SendClaim::Claimed);
                }
                let state: String = conn
                    .query_row("SELECT state FROM sends WHERE key = ?1", [&key], |row| {
                        row.get(0)
                    })
                    .map_err(sqlite_error)?;
                Ok(if state == "sent" {
                    SendClaim::Sent
                } else {
                    SendClaim::InFlight
                })
            })
            .await
    }

    async fn finish_send(&self, key: &str, at: DateTime<Utc>) -> PortResult<()> {
        let key = key.to_string();
        self.db
            .call(move |conn| {
                conn.execute(
                    "UPDATE sends SET state = 'sent', at = ?2 WHERE key = ?1",
                    params![key, timestamp(at)],
                )
                .map(|_| ())
                .map_err(sqlite_error)
            })
            .await
    }

    async fn abandon_send(&self, key: &str) -> PortResult<()> {
        let key = key.to_string();
        self.db
            .call(move |conn| {
                conn.execute(
                    "DELETE FROM sends WHERE key = ?1 AND state = 'sending'",
                    [key],
                )
                .map(|_| ())
                .map_err(sqlite_error)
            })
            .await
    }

    async fn set_channel_off(
        &self,
        recipient: &str,
        channel: &str,
        off: bool,
        at: DateTime<Utc>,
    ) -> PortResult<()> {
        let (recipient, channel) = (recipient.to_string(), channel.to_string());
        self.db
            .call(move |conn| {
                let changed = if off {
                    conn.execute(
                        "INSERT OR IGNORE INTO channels_off (recipient, channel, since) VALUES (?1, ?2, ?3)",
                        params![recipient, channel, timestamp(at)],
                    )
                } else {
                    conn.execute(
                        "DELETE FROM channels_off WHERE recipient = ?1 AND channel = ?2",
                        params![recipient, channel],
                    )
                };
                changed.map(|_| ()).map_err(sqlite_error)
            })
            .await
    }

    async fn channel_off(&self, recipient: &str, channel: &str) -> PortResult<bool> {
        let (recipient, channel) = (recipient.to_string(), channel.to_string());
        self.db
            .read(move |conn| {
                conn.query_row(
                    "SELECT EXISTS (SELECT 1 FROM channels_off WHERE recipient = ?1 AND channel = ?2)",
                    params![recipient, channel],
                    |row| row.get(0),
                )
                .map_err(sqlite_error)
            })
            .await
    }
}

/// The scheduler's look-up of breaches to notice: it repeats the terms of the partial index
/// `requests_due`, which SQLite then reads (and only it).
const OVERDUE_SQL: &str = "SELECT id FROM requests \
     WHERE status IN ('open', 'in_progress') AND json_extract(doc, '$.breach_noticed_at') IS NULL \
     AND julianday(json_extract(doc, '$.expected_at')) < julianday(?1) \
     ORDER BY julianday(json_extract(doc, '$.expected_at')) LIMIT ?2";

/// The scheduler's look-up of requests to archive, on the partial index `requests_closed`.
const CLOSED_BETWEEN_SQL: &str = "SELECT id FROM requests WHERE status = 'closed' \
     AND julianday(COALESCE(json_extract(doc, '$.closed_at'), updated_at)) >= julianday(?1) \
     AND julianday(COALESCE(json_extract(doc, '$.closed_at'), updated_at)) < julianday(?2) \
     ORDER BY julianday(COALESCE(json_extract(doc, '$.closed_at'), updated_at)) LIMIT ?3";

/// A page of requests made in a range, from a cursor, in the order of the `requests_made` index.
const MADE_SQL: &str = "SELECT doc FROM requests WHERE requested_at >= ?1 AND requested_at < ?2 \
     AND (requested_at, id) > (?3, ?4) ORDER BY requested_at, id LIMIT ?5";

const CLOSED_BEFORE_SQL: &str = "SELECT id FROM requests WHERE status = 'closed' \
     AND julianday(COALESCE(json_extract(doc, '$.closed_at'), updated_at)) < julianday(?1) \
     ORDER BY julianday(COALESCE(json_extract(doc, '$.closed_at'), updated_at)) LIMIT ?2";

impl SqliteStore {
    /// The tracking numbers `select` finds for a time and a limit.
    async fn ids(
        &self,
        select: &'static str,
        at: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<TrackingNumber>> {
        self.db
            .read(move |conn| {
                let mut statement = conn.prepare_cached(select).map_err(sqlite_error)?;
                let ids = statement
                    .query_map(params![timestamp(at), limit], |row| row.get::<_, String>(0))
                    .map_err(sqlite_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sqlite_error)?;
                ids.iter()
                    .map(|id| TrackingNumber::parse(id).map_err(PortError::Unavailable))
                    .collect()
            })
            .await
    }
}

fn insert_entry(
    tx: &rusqlite::Connection,
    id: &TrackingNumber,
    entry: &TimelineEntry,
) -> PortResult<()> {
    let inserted = run(
        tx,
        "INSERT INTO timeline (request_id, event_id, at, doc) VALUES (?1, ?2, ?3, ?4)",
        params![
            id.as_str(),
            entry.event_id,
            timestamp(entry.at),
            to_json(entry)
        ],
    );
    match inserted {
        Err(e) if is_constraint(&e) => Err(PortError::AlreadyExists(format!(
            "timeline entry {} of request {id}",
            entry.event_id
        ))),
        other => other.map(|_| ()).map_err(sqlite_error),
    }
}

/// Writes a new request, its reporter and its first timeline entry (not its idempotency key).
fn insert_new(tx: &rusqlite::Connection, new: &NewRequest, doc: &str) -> PortResult<()> {
    let request = &new.request;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO requests (id, token, service_code, status, department, cell, requested_at, updated_at, version, doc, lat, long, queue_rank)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )
        .and_then(|mut insert| {
            insert.execute(params![
                request.id.as_str(),
                new.token,
                request.service_code,
                request.status.as_str(),
                request.department,
                request.location.cell(),
                timestamp(request.requested_at),
                timestamp(request.updated_at),
                request.version,
                doc,
                request.location.lat(),
                request.location.long(),
                request.priority.queue_rank()
            ])
        });
    match inserted {
        Err(e) if is_constraint(&e) => {
            return Err(PortError::AlreadyExists(format!("request {}", request.id)))
        }
        other => other.map_err(sqlite_error)?,
    };
    if let Some(reporter) = &new.reporter {
        tx.prepare_cached("INSERT INTO reporters (request_id, doc) VALUES (?1, ?2)")
            .and_then(|mut insert| insert.execute(params![request.id.as_str(), to_json(reporter)]))
            .map_err(sqlite_error)?;
    }
    insert_entry(tx, &request.id, &new.first_entry)
}

/// The statement and values of a search. Searches by place read the location cells covering the
/// circle (as DynamoDB's cell index is read), then trim the corners by distance.
fn search_sql(query: &RequestQuery) -> (String, Vec<String>) {
    let mut conditions = Vec::new();
    let mut values: Vec<String> = Vec::new();
    let mut any_of = |column: &str, items: Vec<String>, conditions: &mut Vec<String>| {
        if !items.is_empty() {
            conditions.push(format!(
                "{column} IN ({})",
                vec!["?"; items.len()].join(", ")
            ));
            values.extend(items);
        }
    };
    any_of(
        "id",
        query.ids.iter().map(|id| id.to_string()).collect(),
        &mut conditions,
    );
    any_of("service_code", query.service_codes.clone(), &mut conditions);
    if !query.without_service_codes.is_empty() {
        conditions.push(format!(
            "service_code NOT IN ({})",
            vec!["?"; query.without_service_codes.len()].join(", ")
        ));
        values.extend(query.without_service_codes.iter().cloned());
    }
    if !query.statuses.is_empty() {
        conditions.push(status_condition(&query.statuses));
    }
    if query.without_hidden {
        // `hidden` is written only when true.
        conditions.push("json_extract(doc, '$.hidden') IS NULL".into());
    }
    if let Some(from) = query.requested_from {
        conditions.push("requested_at >= ?".into());
        values.push(timestamp(from));
    }
    if let Some(to) = query.requested_to {
        conditions.push("requested_at <= ?".into());
        values.push(timestamp(to));
    }
    if let Some(from) = query.updated_from {
        conditions.push("updated_at >= ?".into());
        values.push(timestamp(from));
    }
    if let Some(to) = query.updated_to {
        conditions.push("updated_at <= ?".into());
        values.push(timestamp(to));
    }
    if let Some(near) = query.near {
        // The location cells covering the circle use the cell index, as on DynamoDB;
        // the equirectangular distance then trims the corners.
        let cells = near.location.cells_covering(near.radius_m);
        conditions.push(format!(
            "({})",
            vec!["(cell >= ? AND cell < ?)"; cells.len()].join(" OR ")
        ));
        for cell in cells {
            // every geohash starting with `cell` sorts from `cell` up to `cell{` ('{' follows 'z')
            let upper = format!("{cell}{{");
            values.push(cell);
            values.push(upper);
        }
        // The point and radius are bound, not written into the text, so the statement is the same
        // for every search with as many cells and is parsed once (`prepare_cached`).
        let (lat, long) = (near.location.lat(), near.location.long());
        let metres_x = 111_320.0 * lat.to_radians().cos().max(0.01);
        conditions.push(
            "((lat - CAST(? AS REAL)) * 111320.0) * ((lat - CAST(? AS REAL)) * 111320.0) \
             + ((long - CAST(? AS REAL)) * CAST(? AS REAL)) * ((long - CAST(? AS REAL)) * CAST(? AS REAL)) <= CAST(? AS REAL)"
                .into(),
        );
        let (lat, long, metres_x) = (lat.to_string(), long.to_string(), metres_x.to_string());
        values.extend([
            lat.clone(),
            lat,
            long.clone(),
            metres_x.clone(),
            long,
            metres_x,
            (near.radius_m * near.radius_m).to_string(),
        ]);
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let page_size = query.page_size.max(1);
    let offset = (query.page.max(1) - 1) as u64 * page_size as u64;
    let sql = format!("SELECT doc FROM requests {filter} ORDER BY requested_at DESC, id LIMIT {page_size} OFFSET {offset}");
    (sql, values)
}

/// `status IN (…)` with the statuses written out in their fixed order: they are the enum's own
/// names, never a client's text, and written this way a search for requests still being worked
/// matches the partial index `requests_worked_by_cell` (SQLite uses a partial index only for a
/// query whose terms repeat the index's own condition).
fn status_condition(statuses: &[Status]) -> String {
    let listed: Vec<String> = Status::ALL
        .iter()
        .filter(|status| statuses.contains(status))
        .map(|status| format!("'{}'", status.as_str()))
        .collect();
    format!("status IN ({})", listed.join(", "))
}

/// Every JSON document (column 0) the statement `select` finds with `params`, in its order.
fn read_docs<T: serde::de::DeserializeOwned>(
    conn: &rusqlite::Connection,
    select: &str,
    params: impl rusqlite::Params,
) -> PortResult<Vec<T>> {
    let mut statement = conn.prepare_cached(select).map_err(sqlite_error)?;
    let docs = statement
        .query_map(params, |row| row.get::<_, String>(0))
        .map_err(sqlite_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite_error)?;
    docs.iter().map(|doc| from_json(doc)).collect()
}

/// One page of a department's queue: urgent first, then oldest first, after a cursor.
const QUEUE_SQL: &str = "SELECT doc, queue_rank, requested_at, id FROM requests \
     WHERE department = ?1 AND status = ?2 AND (queue_rank, requested_at, id) > (?3, ?4, ?5) \
     ORDER BY queue_rank, requested_at, id LIMIT ?6";

/// [`QUEUE_SQL`] of the requests with duplicates: the condition of their partial index.
const WITH_DUPLICATES_QUEUE_SQL: &str = "SELECT doc, queue_rank, requested_at, id FROM requests \
     WHERE department = ?1 AND status = ?2 AND (queue_rank, requested_at, id) > (?3, ?4, ?5) \
     AND json_extract(doc, '$.duplicates') IS NOT NULL \
     ORDER BY queue_rank, requested_at, id LIMIT ?6";

/// [`QUEUE_SQL`] of the reopened requests: the condition of their partial index.
const REOPENED_QUEUE_SQL: &str = "SELECT doc, queue_rank, requested_at, id FROM requests \
     WHERE department = ?1 AND status = ?2 AND (queue_rank, requested_at, id) > (?3, ?4, ?5) \
     AND json_extract(doc, '$.reopened') IS NOT NULL \
     ORDER BY queue_rank, requested_at, id LIMIT ?6";

/// The requests about one asset, newest first: the same expressions and condition as the index
/// requests_by_asset, so it is read rather than every request.
const ASSET_SQL: &str = "SELECT doc FROM requests WHERE json_extract(doc, '$.asset') IS NOT NULL \
     AND json_extract(doc, '$.asset.layer') = ?1 AND json_extract(doc, '$.asset.id') = ?2 \
     ORDER BY requested_at DESC, id";

#[cfg(test)]
mod tests {
    use super::*;
    use cityfix_app::ports::Near;

    /// The steps of SQLite's plan for `sql` with `params`, on a new empty database.
    async fn query_plan(sql: &'static str, params: Vec<rusqlite::types::Value>) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("plan.sqlite")).unwrap();
        db.read(move |conn| {
            let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            Ok(statement
                .query_map(rusqlite::params_from_iter(params), |row| {
                    row.get::<_, String>(3)
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap())
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn the_requests_about_an_asset_are_read_by_the_asset_index() {
        let steps = query_plan(
            ASSET_SQL,
            vec![
                "streetlights".to_string().into(),
                "SL-014-020".to_string().into(),
            ],
        )
        .await;
        assert!(
            steps
                .iter()
                .any(|s| s.contains("USING INDEX requests_by_asset")),
            "{steps:?}"
        );
    }

    #[tokio::test]
    async fn unanswered_questions_are_read_by_their_partial_index_in_order_without_sorting() {
        let steps = query_plan(
            UNANSWERED_SQL,
            vec![
                "2026-12-01T10:00:00Z".to_string().into(),
                "Q7KM4X2P".to_string().into(),
                51i64.into(),
            ],
        )
        .await;
        assert!(
            steps
                .iter()
                .any(|s| s.contains("USING INDEX information_requests_unanswered")),
            "{steps:?}"
        );
        assert!(
            !steps.iter().any(|s| s.contains("TEMP B-TREE")),
            "{steps:?}"
        );
    }

    #[tokio::test]
    async fn a_marked_queue_page_reads_its_partial_index_in_order_without_sorting() {
        for (sql, index) in [
            (
                WITH_DUPLICATES_QUEUE_SQL,
                "requests_with_duplicates_in_queue",
            ),
            (REOPENED_QUEUE_SQL, "requests_reopened_in_queue"),
        ] {
            let steps = query_plan(
                sql,
                vec![
                    "public-works".to_string().into(),
                    "open".to_string().into(),
                    (-1).into(),
                    "".to_string().into(),
                    "".to_string().into(),
                    51.into(),
                ],
            )
            .await;
            assert!(
                steps
                    .iter()
                    .any(|s| s.contains(&format!("USING INDEX {index}"))),
                "{steps:?}"
            );
            assert!(
                !steps.iter().any(|s| s.contains("TEMP B-TREE")),
                "{steps:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_queue_page_reads_the_queue_index_in_order_without_sorting() {
        let steps = query_plan(
            QUEUE_SQL,
            vec![
                "public-works".to_string().into(),
                "open".to_string().into(),
                (-1).into(),
                "".to_string().into(),
                "".to_string().into(),
                26.into(),
            ],
        )
        .await;
        assert!(
            steps
                .iter()
                .any(|s| s.contains("USING INDEX requests_in_queue")),
            "{steps:?}"
        );
        assert!(
            !steps.iter().any(|s| s.contains("TEMP B-TREE")),
            "the index gives the order: {steps:?}"
        );
    }
    #[tokio::test]
    async fn a_page_of_requests_made_reads_a_range_of_the_made_index_without_sorting() {
        let steps = query_plan(
            MADE_SQL,
            vec![
                "2026-01-01T05:00:00.000000Z".to_string().into(),
                "2026-02-01T05:00:00.000000Z".to_string().into(),
                "".to_string().into(),
                "".to_string().into(),
                501.into(),
            ],
        )
        .await;
        assert!(
            steps.iter().any(
                |s| s.contains("USING INDEX requests_made (requested_at>? AND requested_at<?)")
            ),
            "{steps:?}"
        );
        assert!(
            !steps.iter().any(|s| s.contains("TEMP B-TREE")),
            "the index gives the order: {steps:?}"
        );
    }

    use cityfix_domain::Location;

    /// The steps SQLite plans for a search, as `EXPLAIN QUERY PLAN` names them.
    async fn plan(query: &RequestQuery) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("plan.sqlite")).unwrap();
        let (sql, values) = search_sql(query);
        db.read(move |conn| {
            let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            Ok(statement
                .query_map(params_from_iter(values.iter()), |row| {
                    row.get::<_, String>(3)
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap())
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn the_duplicate_search_reads_only_worked_requests_in_the_covering_cells() {
        // the router's search: the same service, still being worked, within 50 m
        let query = RequestQuery {
            service_codes: vec!["pothole".into()],
            statuses: vec![Status::Submitted, Status::Open, Status::InProgress],
            near: Some(Near {
                location: Location::new(41.7677, -72.67602).unwrap(),
                radius_m: 50.0,
            }),
            page_size: 50,
            ..RequestQuery::default()
        };
        let steps = plan(&query).await;
        assert!(
            steps
                .iter()
                .any(|s| s.contains("USING INDEX requests_worked_by_cell (cell>? AND cell<?)")),
            "{steps:?}"
        );
        assert!(
            !steps
                .iter()
                .any(|s| s.starts_with("SCAN") || s.contains("requests_by_status")),
            "no step reads beyond the cells: {steps:?}"
        );
    }

    #[tokio::test]
    async fn a_search_by_update_time_reads_only_the_requests_changed_since() {
        // the updates feed's search: changed since the window's start, no confidential service
        let query = RequestQuery {
            updated_from: Some(chrono::Utc::now() - chrono::Duration::days(1)),
            without_service_codes: vec!["ethics_complaint".into()],
            page: 1,
            page_size: 1000,
            ..RequestQuery::default()
        };
        let steps = plan(&query).await;
        assert!(
            steps
                .iter()
                .any(|s| s.contains("USING INDEX requests_by_updated (updated_at>?)")),
            "{steps:?}"
        );
        assert!(!steps.iter().any(|s| s.starts_with("SCAN")), "{steps:?}");
    }

    /// The steps SQLite plans for one of the store's fixed statements at a time and a limit.
    async fn plan_of(sql: &'static str) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("plan.sqlite")).unwrap();
        db.read(move |conn| {
            let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            Ok(statement
                .query_map(params![timestamp(chrono::Utc::now()), 100], |row| {
                    row.get::<_, String>(3)
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap())
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn the_scheduler_reads_only_requests_due_and_not_yet_noticed() {
        let steps = plan_of(OVERDUE_SQL).await;
        assert!(
            steps
                .iter()
                .any(|s| s.contains("USING INDEX requests_due (<expr><?)")),
            "{steps:?}"
        );
        assert!(!steps.iter().any(|s| s.starts_with("SCAN")), "{steps:?}");
        assert!(
            !steps.iter().any(|s| s.contains("TEMP B-TREE")),
            "read in the index's order: {steps:?}"
        );
    }

    #[tokio::test]
    async fn the_scheduler_reads_only_closed_requests_for_archiving() {
        let steps = plan_of(CLOSED_BEFORE_SQL).await;
        assert!(
            steps
                .iter()
                .any(|s| s.contains("USING INDEX requests_closed (<expr><?)")),
            "{steps:?}"
        );
        assert!(!steps.iter().any(|s| s.starts_with("SCAN")), "{steps:?}");
        assert!(
            !steps.iter().any(|s| s.contains("TEMP B-TREE")),
            "{steps:?}"
        );
    }

    #[test]
    fn statuses_are_written_in_one_order_whatever_order_they_are_asked_in() {
        assert_eq!(
            status_condition(&[Status::InProgress, Status::Submitted, Status::Open]),
            "status IN ('submitted', 'open', 'in_progress')"
        );
    }
}
