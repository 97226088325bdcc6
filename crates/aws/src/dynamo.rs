//! The request store on DynamoDB: one table, items mapped with serde_dynamo, conditional writes.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | request | `REQ#<id>` | `META` (GSI1 department queue, GSI2 location cell, GSI3 requested month, GSI4 updated month, GSI5 scheduler's due work: sparse; GSI6 with duplicates and GSI7 reopened, each a sparse queue) |
//! | reporter contact | `REQ#<id>` | `REPORTER` |
//! | timeline entry | `REQ#<id>` | `EVT#<event id>` (unique per event, so a redelivered change is refused) |
//! | follower | `REQ#<id>` | `FOLLOWER#<key>` |
//! | device registered for push | `DEVICE#<device id>` | `DEVICE` |
//! | a resident's question for staff (information request) | `ASKED#<id>` | `ASKED` (GSI1 `ASKED#unanswered`, `<asked time>#<id>` while unanswered: sparse) |
//! | survey answer | `SURVEY` | `<closed time>#<id>` (no personal data) |
//! | Open311 token | `TOKEN#<token>` | `TOKEN` |
//! | idempotency key | `IDEM#<key>` | `IDEM` (`ttl`) |
//! | delivery claim | `DELIVERY#<key>` | `DELIVERY` (`ttl`) |
//! | backlog | `BACKLOG` | `<declared time>#<id>` (a city has a handful at a time) |
//! | a request fixed | `FIXED#<service>` | `<closed time>#<id>` (`ttl`: kept a little past the window) |
//! | audit record, by request | `REQ#<id>` | `AUDIT#<time>#<record id>` |
//! | audit record, by month | `AUDIT#<yyyy-mm>` | `<time>#<record id>` |
//! | metrics counters (`metrics.rs`) | `METRICS#<yyyy-mm>` | `<day>#<confidential>#<service>#<department>#<area>#<channel>` |
//! | a metrics event counted | `METRICS#EVENT#<event id>` | `EVENT` (`ttl`) |
//!
//! An audit record is written twice in the transaction of the change it records: under its
//! request, for a request's history, and under its month, for the log over time (a month of staff
//! actions is a small partition; a query by actor reads the months and keeps that actor's).

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::builders::PutBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Datelike, Duration, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use cityfix_app::ports::{parse_made_cursor, SendClaim};
use cityfix_app::ports::{
    AuditQuery, Created, Device, Follower, IdempotencyClaim, InformationAnswer, InformationPage,
    InformationRequest, NewRequest, PortError, PortResult, QueueMark, QueuePage, RequestQuery,
    RequestStore, SurveyAnswer,
};
use cityfix_domain::areas::distance_m;
use cityfix_domain::backlog::Backlog;
use cityfix_domain::expected::{Fixed, WINDOW_DAYS};
use cityfix_domain::{AuditRecord, Contact, ServiceRequest, Status, TimelineEntry, TrackingNumber};

/// The first month a search without a start date looks back to.
const FIRST_MONTH: (i32, u32) = (2020, 1);
/// The most months one audit query reads.
const MAX_AUDIT_MONTHS: usize = 37;
/// How long delivery claims are kept.
const DELIVERY_DAYS: i64 = 30;
/// Length of the location cell prefix that partitions the cell index.
const CELL_PARTITION: usize = 5;

/// The covering cells as runs that sort next to each other in the cell index: `(partition,
/// first cell, last cell)`. Sort keys are `<cell>#<id>`, so one `BETWEEN first AND last~` reads a
/// whole run and nothing else.
fn cell_runs(cells: &[String]) -> Vec<(String, String, String)> {
    const BASE32: &str = "0123456789bcdefghjkmnpqrstuvwxyz";
    let follows = |before: &str, after: &str| {
        let (head_a, last_a) = before.split_at(before.len() - 1);
        let (head_b, last_b) = after.split_at(after.len() - 1);
        head_a == head_b
            && matches!((BASE32.find(last_a), BASE32.find(last_b)), (Some(a), Some(b)) if b == a + 1)
    };
    let mut sorted: Vec<&String> = cells.iter().filter(|c| c.len() >= CELL_PARTITION).collect();
    sorted.sort();
    let mut runs: Vec<(String, String, String)> = Vec::new();
    for cell in sorted {
        let partition = &cell[..CELL_PARTITION];
        match runs.last_mut() {
            Some((p, _, last)) if p == partition && follows(last, cell) => *last = cell.clone(),
            _ => runs.push((partition.to_string(), cell.clone(), cell.clone())),
        }
    }
    runs
}

/// Requests and everything about them in one DynamoDB table.
#[derive(Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

#[derive(Serialize, Deserialize)]
struct RequestItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    /// `DEPT#<department or "unrouted">#<status>`: a department's queue.
    #[serde(rename = "GSI1PK")]
    queue: String,
    #[serde(rename = "GSI1SK")]
    queue_order: String,
    #[serde(rename = "GSI2PK")]
    cell_partition: String,
    #[serde(rename = "GSI2SK")]
    cell_order: String,
    #[serde(rename = "GSI3PK")]
    month: String,
    #[serde(rename = "GSI3SK")]
    requested_order: String,
    /// `UPD#<yyyy-mm>` of the last change: the requests changed in a window.
    #[serde(rename = "GSI4PK")]
    updated_month: String,
    #[serde(rename = "GSI4SK")]
    updated_order: String,
    /// The scheduler's next job on the request, a sparse index: `DUE#breach` while it is worked
    /// with an expected date and its supervisors were not told of a breach, `DUE#archive` while it
    /// is closed; absent otherwise, so a request noticed or archived leaves the index.
    #[serde(rename = "GSI5PK", default, skip_serializing_if = "Option::is_none")]
    due_job: Option<String>,
    /// `<due time>#<id>`: the expected date, or when it was closed.
    #[serde(rename = "GSI5SK", default, skip_serializing_if = "Option::is_none")]
    due_order: Option<String>,
    /// `DUPS#<department>#<status>` while reports are linked to it as duplicates: the queue's
    /// "has duplicates", a sparse index in the queue's order (`GSI6SK` is `GSI1SK`).
    #[serde(rename = "GSI6PK", default, skip_serializing_if = "Option::is_none")]
    with_duplicates: Option<String>,
    #[serde(rename = "GSI6SK", default, skip_serializing_if = "Option::is_none")]
    with_duplicates_order: Option<String>,
    /// `REOPENED#<department>#<status>` once it was reopened: the queue's "reopened", sparse,
    /// in the queue's order (`GSI7SK` is `GSI1SK`).
    #[serde(rename = "GSI7PK", default, skip_serializing_if = "Option::is_none")]
    reopened: Option<String>,
    #[serde(rename = "GSI7SK", default, skip_serializing_if = "Option::is_none")]
    reopened_order: Option<String>,
    version: u64,
    request: ServiceRequest,
}

/// GSI1's partition of the questions not answered yet (no department is named `ASKED…`'s way:
/// department partitions start `DEPT#`).
const UNANSWERED: &str = "ASKED#unanswered";

/// A resident's question: in GSI1's unanswered partition until it is answered, when the item is
/// written again without those keys and leaves the index.
#[derive(Serialize, Deserialize)]
struct AskedItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    queue: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    queue_order: Option<String>,
    body: InformationRequest,
}

impl AskedItem {
    fn of(asked: &InformationRequest) -> Self {
        let unanswered = asked.answered.is_none();
        AskedItem {
            pk: format!("ASKED#{}", asked.id),
            sk: "ASKED".into(),
            queue: unanswered.then(|| UNANSWERED.to_string()),
            queue_order: unanswered.then(|| format!("{}#{}", sort_stamp(asked.asked_at), asked.id)),
            body: asked.clone(),
        }
    }
}

/// Any other item: its keys, a body, and an expiry.
#[derive(Serialize, Deserialize)]
struct Item<T> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    body: T,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
}

#[derive(Serialize, Deserialize, Clone)]
struct IdempotencyBody {
    request_id: TrackingNumber,
    fingerprint: String,
    expires_at: DateTime<Utc>,
    /// The reporter's token of the request made, given again on a replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

fn request_key(id: &TrackingNumber) -> String {
    format!("REQ#{id}")
}

/// The partition of the requests about one asset; the layer id is a slug, so no `#` is ambiguous.
fn asset_key(asset: &cityfix_domain::AssetRef) -> String {
    format!("ASSET#{}#{}", asset.layer, asset.id)
}

fn month_key(at: DateTime<Utc>) -> String {
    format!("REQ#{:04}-{:02}", at.year(), at.month())
}

/// The sort key of an audit record within its partition: time, then its id.
fn audit_stamp(audit: &AuditRecord) -> String {
    format!("{}#{}", sort_stamp(audit.at), audit.id)
}

fn audit_month_key(at: DateTime<Utc>) -> String {
    format!("AUDIT#{:04}-{:02}", at.year(), at.month())
}

/// The month partitions of the audit log from `from` to `to`, oldest first, at most
/// [`MAX_AUDIT_MONTHS`].
fn audit_months(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    months_back(from, to)
        .into_iter()
        .rev()
        .take(MAX_AUDIT_MONTHS)
        .map(|(year, month)| format!("AUDIT#{year:04}-{month:02}"))
        .collect()
}

pub(crate) fn unavailable(what: &str, error: impl std::fmt::Display) -> PortError {
    PortError::Unavailable(format!("dynamodb {what}: {error}"))
}

/// Whether a conditional write went through: `Ok(false)` when its condition refused it, an error
/// when DynamoDB could not be reached or refused it for another reason.
pub(crate) fn written<T, E, R>(result: Result<T, SdkError<E, R>>, what: &str) -> PortResult<bool>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(error)
            if error.as_service_error().and_then(|e| e.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(error) => Err(unavailable(what, DisplayErrorContext(&error))),
    }
}

fn to_item<T: Serialize>(value: &T) -> PortResult<HashMap<String, AttributeValue>> {
    serde_dynamo::to_item(value).map_err(|e| unavailable("encode", e))
}

fn from_item<T: DeserializeOwned>(item: HashMap<String, AttributeValue>) -> PortResult<T> {
    serde_dynamo::from_item(item).map_err(|e| unavailable("decode", e))
}

fn updated_month_key(year: i32, month: u32) -> String {
    format!("UPD#{year:04}-{month:02}")
}

/// A time in the fixed-width form of the index sort keys, so text order is time order.
fn sort_stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The months from `to`'s back to `from`'s, newest first.
fn months_back(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(i32, u32)> {
    let mut months = Vec::new();
    let (mut year, mut month) = (to.year(), to.month());
    while (year, month) >= (from.year(), from.month()) {
        months.push((year, month));
        (year, month) = if month == 1 {
            (year - 1, 12)
        } else {
            (year, month - 1)
        };
    }
    months
}

/// The start of [`FIRST_MONTH`]: no request is older.
fn first_month() -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(
        chrono::NaiveDate::from_ymd_opt(FIRST_MONTH.0, FIRST_MONTH.1, 1)
            .unwrap_or_default()
            .into(),
        Utc,
    )
}

/// GSI5's partition of requests whose supervisors are to be told of a breach.
const DUE_BREACH: &str = "DUE#breach";
/// GSI5's partition of closed requests, for archiving.
const DUE_ARCHIVE: &str = "DUE#archive";

/// The scheduler's job on a request and the time it is due from, if any (see GSI5). One
/// partition per job: a city's breaches and closings are a few thousand writes a day, far below
/// what one partition of an index takes, and the scheduler reads each with one query.
fn due_job(request: &ServiceRequest) -> Option<(&'static str, DateTime<Utc>)> {
    match request.status {
        Status::Open | Status::InProgress if request.breach_noticed_at.is_none() => {
            request.expected_at.map(|at| (DUE_BREACH, at))
        }
        Status::Closed => request.closed_since().map(|at| (DUE_ARCHIVE, at)),
        _ => None,
    }
}

/// The partition of a routed request in the sparse queue index of `mark`, if it bears it.
fn marked_partition(request: &ServiceRequest, mark: QueueMark) -> Option<String> {
    let department = request.department.as_deref()?;
    mark.marks(request)
        .then(|| marked_queue_key(mark, department, request.status))
}

fn marked_queue_key(mark: QueueMark, department: &str, status: Status) -> String {
    let prefix = match mark {
        QueueMark::HasDuplicates => "DUPS",
        QueueMark::Reopened => "REOPENED",
    };
    format!("{prefix}#{department}#{status}")
}

/// The sparse index (and its key attributes) holding the queue of `mark`.
fn marked_index(mark: QueueMark) -> (&'static str, &'static str, &'static str) {
    match mark {
        QueueMark::HasDuplicates => ("GSI6", "GSI6PK", "GSI6SK"),
        QueueMark::Reopened => ("GSI7", "GSI7PK", "GSI7SK"),
    }
}

impl RequestItem {
    fn new(request: &ServiceRequest) -> Self {
        let cell = request.location.cell();
        let stamp = sort_stamp(request.requested_at);
        let queue_order = match &request.department {
            Some(_) => format!("{}#{stamp}#{}", request.priority.queue_rank(), request.id),
            None => format!("{stamp}#{}", request.id),
        };
        let with_duplicates = marked_partition(request, QueueMark::HasDuplicates);
        let reopened = marked_partition(request, QueueMark::Reopened);
        RequestItem {
            with_duplicates_order: with_duplicates.as_ref().map(|_| queue_order.clone()),
            with_duplicates,
            reopened_order: reopened.as_ref().map(|_| queue_order.clone()),
            reopened,
            pk: request_key(&request.id),
            sk: "META".into(),
            queue: format!(
                "DEPT#{}#{}",
                request.department.as_deref().unwrap_or("unrouted"),
                request.status
            ),
            // A department's queue: urgent first, then oldest first (`Priority::queue_rank`). The
            // requests not yet routed sort by time alone, for the sweep's `GSI1SK < :before`.
            queue_order,
            cell_partition: cell[..CELL_PARTITION].to_string(),
            cell_order: format!("{cell}#{}", request.id),
            month: month_key(request.requested_at),
            requested_order: format!("{stamp}#{}", request.id),
            updated_month: updated_month_key(request.updated_at.year(), request.updated_at.month()),
            updated_order: format!("{}#{}", sort_stamp(request.updated_at), request.id),
            due_job: due_job(request).map(|(job, _)| job.to_string()),
            due_order: due_job(request).map(|(_, at)| format!("{}#{}", sort_stamp(at), request.id)),
            version: request.version,
            request: request.clone(),
        }
    }
}

impl DynamoStore {
    /// Up to `limit + 1` items of a partition of `index` (its name, partition and sort key
    /// attributes) in the index's order from `after` (the sort key of the last row read): one more
    /// than a page, to know whether another follows.
    async fn index_page<T: DeserializeOwned>(
        &self,
        (index, partition_key, sort_key): (&str, &str, &str),
        partition: String,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<Vec<T>> {
        let mut values = HashMap::from([(":q".to_string(), AttributeValue::S(partition))]);
        let mut condition = format!("{partition_key} = :q");
        if let Some(after) = after {
            values.insert(":after".into(), AttributeValue::S(after.to_string()));
            condition.push_str(&format!(" AND {sort_key} > :after"));
        }
        let answer = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(true)
            .limit(limit as i32 + 1)
            .send()
            .await
            .map_err(|e| unavailable("query", e.into_service_error()))?;
        answer
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item::<T>)
            .collect()
    }

    /// One page of a queue partition of `index`, as [`DynamoStore::index_page`] reads it.
    async fn queue_page(
        &self,
        index: (&str, &str, &str),
        partition: String,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<QueuePage> {
        let limit = limit.max(1);
        let items = self
            .index_page::<RequestItem>(index, partition, after, limit)
            .await?;
        QueuePage::from_rows(
            items,
            limit,
            |item| item.queue_order.clone(),
            |item| Ok(item.request),
        )
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    /// A put of `item` into the table, to which a condition may be added.
    fn put(&self, item: HashMap<String, AttributeValue>) -> PutBuilder {
        Put::builder().table_name(&self.table).set_item(Some(item))
    }

    /// Writes `item` unless its key holds one already: true when written, false when it was there.
    async fn put_new<T: Serialize>(&self, item: &Item<T>, what: &str) -> PortResult<bool> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(item)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        written(put, what)
    }

    /// Writes all or nothing: true when written, false when a condition refused it.
    async fn transact(&self, what: &str, puts: Vec<PutBuilder>) -> PortResult<bool> {
        let writes = puts
            .into_iter()
            .map(|put| {
                TransactWriteItem::builder()
                    .put(put.build().expect("table and item are set"))
                    .build()
            })
            .collect();
        self.transact_items(what, writes).await
    }

    /// Writes `writes` all or nothing: true when written, false when a condition refused it.
    pub(crate) async fn transact_items(
        &self,
        what: &str,
        writes: Vec<TransactWriteItem>,
    ) -> PortResult<bool> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(unavailable(what, error.into_service_error())),
        }
    }

    /// The request an idempotency key was used for, if it is still remembered at `now`.
    async fn earlier_claim(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> PortResult<Option<IdempotencyBody>> {
        let earlier = self
            .get_item::<Item<IdempotencyBody>>(format!("IDEM#{key}"), "IDEM")
            .await?;
        Ok(earlier
            .map(|item| item.body)
            .filter(|body| body.expires_at > now))
    }

    async fn get_item<T: DeserializeOwned>(&self, pk: String, sk: &str) -> PortResult<Option<T>> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(pk))
            .key("SK", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("get", e.into_service_error()))?;
        answer.item.map(from_item).transpose()
    }

    /// Every item of a key condition, following pages.
    pub(crate) async fn query_all(
        &self,
        index: Option<&str>,
        condition: &str,
        values: HashMap<String, AttributeValue>,
        newest_first: bool,
    ) -> PortResult<Vec<HashMap<String, AttributeValue>>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let answer = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_string))
                .key_condition_expression(condition)
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(!newest_first)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unavailable("query", e.into_service_error()))?;
            items.extend(answer.items.unwrap_or_default());
            start = answer.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// The bodies of a request's items whose sort key starts with `prefix` (timeline, followers).
    async fn items_of<T: DeserializeOwned>(
        &self,
        id: &TrackingNumber,
        prefix: &str,
    ) -> PortResult<Vec<T>> {
        let values = HashMap::from([
            (":pk".to_string(), AttributeValue::S(request_key(id))),
            (":prefix".to_string(), AttributeValue::S(prefix.into())),
        ]);
        let items = self
            .query_all(None, "PK = :pk AND begins_with(SK, :prefix)", values, false)
            .await?;
        items
            .into_iter()
            .map(|item| from_item::<Item<T>>(item).map(|i| i.body))
            .collect()
    }

    async fn requests_of(
        &self,
        items: Vec<HashMap<String, AttributeValue>>,
    ) -> PortResult<Vec<ServiceRequest>> {
        items
            .into_iter()
            .map(|item| from_item::<RequestItem>(item).map(|i| i.request))
            .collect()
    }

    /// The candidates of a search before its filters: by id, by location cell, by updated month
    /// when the search starts at an update time, or else by requested month.
    async fn candidates(&self, query: &RequestQuery) -> PortResult<Vec<ServiceRequest>> {
        let s = |v: String| AttributeValue::S(v);
        if !query.ids.is_empty() {
            let mut found = Vec::new();
            for id in &query.ids {
                if let Some(item) = self
                    .get_item::<RequestItem>(request_key(id), "META")
                    .await?
                {
                    found.push(item.request);
                }
            }
            return Ok(found);
        }
        if let Some(near) = query.near {
            // One Query per run of neighbouring cells, all at once.
            let runs = cell_runs(&near.location.cells_covering(near.radius_m));
            let queries = runs.into_iter().map(|(partition, first, last)| {
                let values = HashMap::from([
                    (":p".to_string(), s(partition)),
                    (":first".to_string(), s(first)),
                    (":last".to_string(), s(format!("{last}~"))),
                ]);
                self.query_all(
                    Some("GSI2"),
                    "GSI2PK = :p AND GSI2SK BETWEEN :first AND :last",
                    values,
                    false,
                )
            });
            let mut found = Vec::new();
            for items in futures_util::future::try_join_all(queries).await? {
                found.extend(self.requests_of(items).await?);
            }
            return Ok(found);
        }
        // A request changed in a window may have been made long before it, so a window of update
        // times is read from its own index (GSI4, by the month of the last change), never from the
        // requested months: those would have to be read back to the first. Every change rewrites
        // the request item, so the index follows it. Items written before GSI4 existed carry no
        // GSI4 keys until their next change; a window reaching back before it was added needs
        // them rewritten once.
        if let Some(updated_from) = query.updated_from {
            // A request is changed no earlier than it was made.
            let from = query
                .requested_from
                .map_or(updated_from, |requested| requested.max(updated_from));
            let to = query
                .updated_to
                .unwrap_or_else(|| Utc::now() + Duration::days(1));
            let mut found = Vec::new();
            for (year, month) in months_back(from, to) {
                let values = HashMap::from([
                    (":m".to_string(), s(updated_month_key(year, month))),
                    (":from".to_string(), s(sort_stamp(from))),
                    (":to".to_string(), s(format!("{}~", sort_stamp(to)))),
                ]);
                let items = self
                    .query_all(
                        Some("GSI4"),
                        "GSI4PK = :m AND GSI4SK BETWEEN :from AND :to",
                        values,
                        true,
                    )
                    .await?;
                found.extend(self.requests_of(items).await?);
            }
            return Ok(found);
        }
        // Nor was a request made after its last change.
        let to = match (query.requested_to, query.updated_to) {
            (Some(requested), Some(updated)) => requested.min(updated),
            (requested, updated) => requested
                .or(updated)
                .unwrap_or_else(|| Utc::now() + Duration::days(1)),
        };
        let from = query.requested_from.unwrap_or_else(first_month);
        let mut found = Vec::new();
        for (year, month) in months_back(from, to) {
            let values =
                HashMap::from([(":m".to_string(), s(format!("REQ#{year:04}-{month:02}")))]);
            let items = self
                .query_all(Some("GSI3"), "GSI3PK = :m", values, true)
                .await?;
            found.extend(self.requests_of(items).await?);
        }
        Ok(found)
    }
}

impl DynamoStore {
    /// Up to `limit` requests of one GSI5 partition due before `before`, earliest first. The
    /// index is eventually consistent: a request just noticed or archived may still be listed,
    /// which status, checking the request itself, takes as already done.
    async fn due(
        &self,
        job: &str,
        before: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<TrackingNumber>> {
        let values = HashMap::from([
            (":job".to_string(), AttributeValue::S(job.to_string())),
            (":before".to_string(), AttributeValue::S(sort_stamp(before))),
        ]);
        let answer = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI5")
            .key_condition_expression("GSI5PK = :job AND GSI5SK < :before")
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(true)
            .limit(limit.max(1) as i32)
            .send()
            .await
            .map_err(|e| unavailable("query", e.into_service_error()))?;
        answer
            .items
            .unwrap_or_default()
            .iter()
            .map(due_request)
            .collect()
    }
}

impl DynamoStore {
    /// Writes `item` whole, replacing whatever was under its keys.
    async fn put_whole(&self, item: HashMap<String, AttributeValue>, what: &str) -> PortResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable(what, e.into_service_error()))?;
        Ok(())
    }
}

/// The request of a GSI5 item: a keys-only index, so its id is in the table key, `REQ#<id>`.
fn due_request(item: &HashMap<String, AttributeValue>) -> PortResult<TrackingNumber> {
    let id = match item.get("PK") {
        Some(AttributeValue::S(pk)) => pk.strip_prefix("REQ#"),
        _ => None,
    };
    id.and_then(|id| TrackingNumber::parse(id).ok())
        .ok_or_else(|| unavailable("decode", format!("GSI5 item {item:?}")))
}

#[async_trait::async_trait]
impl RequestStore for DynamoStore {
    async fn create(&self, new: &NewRequest) -> PortResult<Created> {
        let now = new.request.requested_at;
        let replay = |earlier: IdempotencyBody| Created::Replayed {
            id: earlier.request_id,
            fingerprint: earlier.fingerprint,
            token: earlier.token,
        };
        if let Some(claim) = &new.idempotency {
            if let Some(earlier) = self.earlier_claim(&claim.key, now).await? {
                return Ok(replay(earlier));
            }
        }
        let id = &new.request.id;
        let not_there = "attribute_not_exists(PK)";
        let mut puts = vec![
            self.put(to_item(&RequestItem::new(&new.request))?)
                .condition_expression(not_there),
            self.put(to_item(&Item {
                pk: format!("TOKEN#{}", new.token),
                sk: "TOKEN".into(),
                body: id.clone(),
                ttl: None,
            })?)
            .condition_expression(not_there),
            self.put(to_item(&Item {
                pk: request_key(id),
                sk: format!("EVT#{}", new.first_entry.event_id),
                body: new.first_entry.clone(),
                ttl: None,
            })?),
        ];
        if let Some(asset) = &new.request.asset {
            // The asset's list of requests, read by the router for duplicates of the asset.
            puts.push(self.put(to_item(&Item {
                pk: asset_key(asset),
                sk: format!("REQ#{id}"),
                body: id.clone(),
                ttl: None,
            })?));
        }
        if let Some(reporter) = &new.reporter {
            puts.push(self.put(to_item(&Item {
                pk: request_key(id),
                sk: "REPORTER".into(),
                body: reporter.clone(),
                ttl: None,
            })?));
        }
        if let Some(claim) = &new.idempotency {
            let body = IdempotencyBody {
                request_id: id.clone(),
                fingerprint: claim.fingerprint.clone(),
                expires_at: claim.expires_at,
                token: Some(new.token.clone()),
            };
            let remembered = Item {
                pk: format!("IDEM#{}", claim.key),
                sk: "IDEM".into(),
                body,
                ttl: Some(claim.expires_at.timestamp()),
            };
            puts.push(
                self.put(to_item(&remembered)?)
                    .condition_expression("attribute_not_exists(PK) OR #ttl < :now")
                    .expression_attribute_names("#ttl", "ttl")
                    .expression_attribute_values(
                        ":now",
                        AttributeValue::N(now.timestamp().to_string()),
                    ),
            );
        }
        if self.transact("create", puts).await? {
            return Ok(Created::New);
        }
        // A condition failed: an idempotency key taken meanwhile, or the tracking number.
        if let Some(claim) = &new.idempotency {
            if let Some(earlier) = self
                .earlier_claim(&claim.key, now)
                .await?
                .filter(|earlier| earlier.request_id != *id)
            {
                return Ok(replay(earlier));
            }
        }
        Err(PortError::AlreadyExists(format!("request {id}")))
    }

    async fn get(&self, id: &TrackingNumber) -> PortResult<Option<ServiceRequest>> {
        Ok(self
            .get_item::<RequestItem>(request_key(id), "META")
            .await?
            .map(|item| item.request))
    }

    async fn reporter(&self, id: &TrackingNumber) -> PortResult<Option<Contact>> {
        Ok(self
            .get_item::<Item<Contact>>(request_key(id), "REPORTER")
            .await?
            .map(|item| item.body))
    }

    async fn find_token(&self, token: &str) -> PortResult<Option<TrackingNumber>> {
        Ok(self
            .get_item::<Item<TrackingNumber>>(format!("TOKEN#{token}"), "TOKEN")
            .await?
            .map(|item| item.body))
    }

    async fn update_audited(
        &self,
        request: &ServiceRequest,
        expected_version: u64,
        entry: &TimelineEntry,
        audit: Option<&AuditRecord>,
    ) -> PortResult<()> {
        let files = request.media.len();
        let key = request_key(&request.id);
        let entry_key = format!("EVT#{}", entry.event_id);
        let number = |n: usize| AttributeValue::N(n.to_string());
        let mut puts = vec![
            // The stored request's files are counted in the condition: no file is added to a request
            // that holds the most, whatever the caller read.
            self.put(to_item(&RequestItem::new(request))?)
                .condition_expression(
                    "version = :expected AND (attribute_not_exists(#request.#media) \
                     OR size(#request.#media) < :most OR size(#request.#media) >= :files)",
                )
                .expression_attribute_names("#request", "request")
                .expression_attribute_names("#media", "media")
                .expression_attribute_values(
                    ":expected",
                    AttributeValue::N(expected_version.to_string()),
                )
                .expression_attribute_values(":most", number(ServiceRequest::MAX_MEDIA))
                .expression_attribute_values(":files", number(files)),
            self.put(to_item(&Item {
                pk: key.clone(),
                sk: entry_key.clone(),
                body: entry.clone(),
                ttl: None,
            })?)
            .condition_expression("attribute_not_exists(SK)"),
        ];
        if let Some(audit) = audit {
            let stamp = audit_stamp(audit);
            for (pk, sk) in [
                (key.clone(), format!("AUDIT#{stamp}")),
                (audit_month_key(audit.at), stamp.clone()),
            ] {
                puts.push(
                    self.put(to_item(&Item {
                        pk,
                        sk,
                        body: audit.clone(),
                        ttl: None,
                    })?)
                    .condition_expression("attribute_not_exists(SK)"),
                );
            }
        }
        if self.transact("update", puts).await? {
            return Ok(());
        }
        if self
            .get_item::<Item<TimelineEntry>>(key, &entry_key)
            .await?
            .is_some()
        {
            return Err(PortError::AlreadyExists(format!(
                "timeline entry {} of request {}",
                entry.event_id, request.id
            )));
        }
        Err(PortError::Conflict(format!(
            "request {} is not at version {expected_version}, or holds the most files",
            request.id
        )))
    }

    async fn requests_about_asset(
        &self,
        asset: &cityfix_domain::AssetRef,
    ) -> PortResult<Vec<ServiceRequest>> {
        let values = HashMap::from([(":pk".to_string(), AttributeValue::S(asset_key(asset)))]);
        let ids: Vec<TrackingNumber> = self
            .query_all(None, "PK = :pk", values, false)
            .await?
            .into_iter()
            .map(|item| from_item::<Item<TrackingNumber>>(item).map(|i| i.body))
            .collect::<PortResult<_>>()?;
        let requests = futures_util::future::try_join_all(
            ids.iter()
                .map(|id| self.get_item::<RequestItem>(request_key(id), "META")),
        )
        .await?;
        let mut found: Vec<ServiceRequest> =
            requests.into_iter().flatten().map(|i| i.request).collect();
        found.sort_by(|a, b| {
            b.requested_at
                .cmp(&a.requested_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(found)
    }

    async fn timeline(&self, id: &TrackingNumber) -> PortResult<Vec<TimelineEntry>> {
        let mut entries: Vec<TimelineEntry> = self.items_of(id, "EVT#").await?;
        entries.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.event_id.cmp(&b.event_id)));
        Ok(entries)
    }

    async fn search(&self, query: &RequestQuery) -> PortResult<Vec<ServiceRequest>> {
        let mut found: Vec<ServiceRequest> = self
            .candidates(query)
            .await?
            .into_iter()
            .filter(|r| {
                query.service_codes.is_empty() || query.service_codes.contains(&r.service_code)
            })
            .filter(|r| query.statuses.is_empty() || query.statuses.contains(&r.status))
            .filter(|r| {
                query
                    .requested_from
                    .is_none_or(|from| r.requested_at >= from)
            })
            .filter(|r| query.requested_to.is_none_or(|to| r.requested_at <= to))
            .filter(|r| query.updated_from.is_none_or(|from| r.updated_at >= from))
            .filter(|r| query.updated_to.is_none_or(|to| r.updated_at <= to))
            .filter(|r| !query.without_service_codes.contains(&r.service_code))
            .filter(|r| !(query.without_hidden && r.hidden))
            .filter(|r| {
                query.near.is_none_or(|near| {
                    distance_m(near.location.to_point(), r.location.to_point()) <= near.radius_m
                })
            })
            .collect();
        found.sort_by(|a, b| {
            b.requested_at
                .cmp(&a.requested_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        found.dedup_by(|a, b| a.id == b.id);
        let page_size = query.page_size.max(1) as usize;
        Ok(found
            .into_iter()
            .skip((query.page.max(1) as usize - 1) * page_size)
            .take(page_size)
            .collect())
    }

    async fn add_follower(&self, id: &TrackingNumber, follower: &Follower) -> PortResult<()> {
        let item = Item {
            pk: request_key(id),
            sk: format!("FOLLOWER#{}", follower.key),
            body: follower.clone(),
            ttl: None,
        };
        // Once: adding again must not turn a confirmed follower back into one still asking.
        self.put_new(&item, "add a follower").await.map(|_| ())
    }

    async fn confirm_follower(&self, id: &TrackingNumber, key: &str) -> PortResult<bool> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(request_key(id)))
            .key("SK", AttributeValue::S(format!("FOLLOWER#{key}")))
            .update_expression("REMOVE #body.asked_at")
            .expression_attribute_names("#body", "body")
            .condition_expression("attribute_exists(PK)")
            .send()
            .await;
        written(update, "confirm a follower")
    }

    async fn remove_follower(&self, id: &TrackingNumber, key: &str) -> PortResult<bool> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(request_key(id)))
            .key("SK", AttributeValue::S(format!("FOLLOWER#{key}")))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("remove a follower", e.into_service_error()))?;
        Ok(deleted.attributes.is_some_and(|old| !old.is_empty()))
    }

    async fn remove_followers_via(
        &self,
        id: &TrackingNumber,
        via: &TrackingNumber,
    ) -> PortResult<()> {
        for follower in self
            .followers(id)
            .await?
            .into_iter()
            .filter(|f| &f.via == via)
        {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("PK", AttributeValue::S(request_key(id)))
                .key(
                    "SK",
                    AttributeValue::S(format!("FOLLOWER#{}", follower.key)),
                )
                .send()
                .await
                .map_err(|e| unavailable("delete", e.into_service_error()))?;
        }
        Ok(())
    }

    async fn followers(&self, id: &TrackingNumber) -> PortResult<Vec<Follower>> {
        self.items_of(id, "FOLLOWER#").await
    }

    async fn stuck_submitted(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<TrackingNumber>> {
        let values = HashMap::from([
            (
                ":q".to_string(),
                AttributeValue::S(format!("DEPT#unrouted#{}", Status::Submitted)),
            ),
            (
                ":before".to_string(),
                AttributeValue::S(before.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            ),
        ]);
        let items = self
            .query_all(
                Some("GSI1"),
                "GSI1PK = :q AND GSI1SK < :before",
                values,
                false,
            )
            .await?;
        Ok(self
            .requests_of(items)
            .await?
            .into_iter()
            .take(limit as usize)
            .map(|r| r.id)
            .collect())
    }

    async fn department_queue(
        &self,
        department: &str,
        status: Status,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<QueuePage> {
        let partition = format!("DEPT#{department}#{status}");
        self.queue_page(("GSI1", "GSI1PK", "GSI1SK"), partition, after, limit)
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
        let partition = marked_queue_key(mark, department, status);
        self.queue_page(marked_index(mark), partition, after, limit)
            .await
    }

    async fn audit(&self, query: &AuditQuery) -> PortResult<Vec<AuditRecord>> {
        let s = |v: String| AttributeValue::S(v);
        let (from, to) = (sort_stamp(query.from), format!("{}~", sort_stamp(query.to)));
        let limit = query.limit as usize;
        let keep = |record: &AuditRecord| {
            query
                .actor
                .as_ref()
                .is_none_or(|actor| &record.actor == actor)
                && record.at >= query.from
                && record.at <= query.to
        };
        let partitions: Vec<(String, String, String)> = match &query.request {
            Some(id) => vec![(
                request_key(id),
                format!("AUDIT#{from}"),
                format!("AUDIT#{to}"),
            )],
            None => audit_months(query.from, query.to)
                .into_iter()
                .map(|month| (month, from.clone(), to.clone()))
                .collect(),
        };
        let mut found = Vec::new();
        for (pk, first, last) in partitions {
            let values = HashMap::from([
                (":pk".to_string(), s(pk)),
                (":first".to_string(), s(first)),
                (":last".to_string(), s(last)),
            ]);
            let items = self
                .query_all(
                    None,
                    "PK = :pk AND SK BETWEEN :first AND :last",
                    values,
                    false,
                )
                .await?;
            for item in items {
                let record = from_item::<Item<AuditRecord>>(item)?.body;
                if keep(&record) {
                    found.push(record);
                }
            }
            if found.len() >= limit {
                break;
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    async fn claim_key(
        &self,
        claim: &IdempotencyClaim,
        request_id: &TrackingNumber,
        now: DateTime<Utc>,
    ) -> PortResult<Option<String>> {
        // Twice: an earlier claim that expires between the refused put and the read is gone.
        for _ in 0..2 {
            let item = to_item(&Item {
                pk: format!("IDEM#{}", claim.key),
                sk: "IDEM".into(),
                body: IdempotencyBody {
                    request_id: request_id.clone(),
                    fingerprint: claim.fingerprint.clone(),
                    expires_at: claim.expires_at,
                    token: None,
                },
                ttl: Some(claim.expires_at.timestamp()),
            })?;
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(PK) OR #ttl < :now")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
                .send()
                .await;
            if written(put, "claim key")? {
                return Ok(None);
            }
            if let Some(earlier) = self.earlier_claim(&claim.key, now).await? {
                return Ok(Some(earlier.fingerprint));
            }
        }
        Err(PortError::Unavailable(format!(
            "idempotency key {} could be neither claimed nor read",
            claim.key
        )))
    }

    async fn requests_made(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<QueuePage> {
        // GSI3 holds the requests of each month made, by `<requested at>#<id>`: the months of
        // the range are queried in order, each from the cursor, until one more than a page came.
        let limit = limit.max(1);
        let after = match after {
            Some(cursor) => {
                let (at, id) = parse_made_cursor(cursor)?;
                Some((at, format!("{}#{id}", sort_stamp(at))))
            }
            None => None,
        };
        let start = after.as_ref().map_or(from, |(at, _)| (*at).max(from));
        let after = after.map(|(_, cursor)| cursor);
        let lower = after
            .clone()
            .map_or_else(|| sort_stamp(from), |cursor| cursor.max(sort_stamp(from)));
        // `<to>` sorts before every `<to>#<id>`, so requests made at `to` are left out.
        let upper = sort_stamp(to);
        let mut items: Vec<RequestItem> = Vec::new();
        if start >= to {
            return QueuePage::from_rows(
                items,
                limit,
                |item| item.requested_order.clone(),
                |item| Ok(item.request),
            );
        }
        let last = to - Duration::microseconds(1);
        for (year, month) in months_back(start, last).into_iter().rev() {
            let mut exclusive_start = None;
            loop {
                let wanted = limit as usize + 1 - items.len();
                let values = HashMap::from([
                    (
                        ":m".to_string(),
                        AttributeValue::S(format!("REQ#{year:04}-{month:02}")),
                    ),
                    (":lower".to_string(), AttributeValue::S(lower.clone())),
                    (":upper".to_string(), AttributeValue::S(upper.clone())),
                ]);
                let answer = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name("GSI3")
                    .key_condition_expression("GSI3PK = :m AND GSI3SK BETWEEN :lower AND :upper")
                    .set_expression_attribute_values(Some(values))
                    .scan_index_forward(true)
                    // one more, as the cursor's own item may be among them
                    .limit(wanted as i32 + 1)
                    .set_exclusive_start_key(exclusive_start)
                    .send()
                    .await
                    .map_err(|e| unavailable("query", e.into_service_error()))?;
                for item in answer.items.unwrap_or_default() {
                    let item = from_item::<RequestItem>(item)?;
                    if after.as_deref() != Some(item.requested_order.as_str())
                        && items.len() <= limit as usize
                    {
                        items.push(item);
                    }
                }
                exclusive_start = answer.last_evaluated_key;
                if items.len() > limit as usize {
                    return QueuePage::from_rows(
                        items,
                        limit,
                        |item| item.requested_order.clone(),
                        |item| Ok(item.request),
                    );
                }
                if exclusive_start.is_none() {
                    break;
                }
            }
        }
        QueuePage::from_rows(
            items,
            limit,
            |item| item.requested_order.clone(),
            |item| Ok(item.request),
        )
    }

    async fn overdue(&self, before: DateTime<Utc>, limit: u32) -> PortResult<Vec<TrackingNumber>> {
        self.due(DUE_BREACH, before, limit).await
    }

    async fn closed_before(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<TrackingNumber>> {
        self.due(DUE_ARCHIVE, before, limit).await
    }

    async fn closed_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<TrackingNumber>> {
        let values = HashMap::from([
            (":job".to_string(), AttributeValue::S(DUE_ARCHIVE.into())),
            (":from".to_string(), AttributeValue::S(sort_stamp(from))),
            (":to".to_string(), AttributeValue::S(sort_stamp(to))),
        ]);
        let items = self
            .query_all(
                Some("GSI5"),
                "GSI5PK = :job AND GSI5SK BETWEEN :from AND :to",
                values,
                false,
            )
            .await?;
        let to_stamp = sort_stamp(to);
        items
            .into_iter()
            // BETWEEN includes its end; the window excludes it.
            .filter(|item| !matches!(item.get("GSI5SK"), Some(AttributeValue::S(sk)) if *sk >= to_stamp))
            .take(limit as usize)
            .map(|item| due_request(&item))
            .collect()
    }

    async fn record_survey_answer(&self, answer: &SurveyAnswer) -> PortResult<()> {
        let item = to_item(&Item {
            pk: "SURVEY".into(),
            sk: format!("{}#{}", sort_stamp(answer.closed_at), answer.request_id),
            body: answer.clone(),
            ttl: None,
        })?;
        self.put_whole(item, "record a survey answer").await
    }

    async fn survey_answers(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<SurveyAnswer>> {
        let values = HashMap::from([
            (":pk".to_string(), AttributeValue::S("SURVEY".into())),
            (":from".to_string(), AttributeValue::S(sort_stamp(from))),
            // Every request id sorts before `~`.
            (
                ":to".to_string(),
                AttributeValue::S(format!("{}#~", sort_stamp(to))),
            ),
        ]);
        let items = self
            .query_all(None, "PK = :pk AND SK BETWEEN :from AND :to", values, false)
            .await?;
        items
            .into_iter()
            .take(limit as usize)
            .map(|item| from_item::<Item<SurveyAnswer>>(item).map(|i| i.body))
            .collect()
    }

    async fn forget_contacts(&self, id: &TrackingNumber) -> PortResult<()> {
        let followers = self.followers(id).await?;
        let keys = std::iter::once("REPORTER".to_string())
            .chain(followers.iter().map(|f| format!("FOLLOWER#{}", f.key)));
        for sk in keys {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("PK", AttributeValue::S(request_key(id)))
                .key("SK", AttributeValue::S(sk))
                .send()
                .await
                .map_err(|e| unavailable("delete", e.into_service_error()))?;
        }
        Ok(())
    }

    async fn save_device(&self, device: &Device) -> PortResult<()> {
        let item = to_item(&Item {
            pk: format!("DEVICE#{}", device.id),
            sk: "DEVICE".into(),
            body: device.clone(),
            ttl: None,
        })?;
        self.put_whole(item, "save a device").await
    }

    async fn device(&self, id: &str) -> PortResult<Option<Device>> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(format!("DEVICE#{id}")))
            .key("SK", AttributeValue::S("DEVICE".into()))
            .send()
            .await
            .map_err(|e| unavailable("read a device", e.into_service_error()))?;
        answer
            .item
            .map(|item| from_item::<Item<Device>>(item).map(|i| i.body))
            .transpose()
    }

    async fn save_information_request(&self, asked: &InformationRequest) -> PortResult<()> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&AskedItem::of(asked))?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        written(put, "save an information request").map(|_| ())
    }

    async fn unanswered_information_requests(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<InformationPage> {
        let limit = limit.max(1);
        let mut items = self
            .index_page::<AskedItem>(
                ("GSI1", "GSI1PK", "GSI1SK"),
                UNANSWERED.into(),
                after,
                limit,
            )
            .await?;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = items
            .last()
            .filter(|_| more)
            .and_then(|item| item.queue_order.clone());
        Ok(InformationPage {
            asked: items.into_iter().map(|item| item.body).collect(),
            next,
        })
    }

    async fn answer_information_request(
        &self,
        id: &TrackingNumber,
        answer: &InformationAnswer,
    ) -> PortResult<bool> {
        let earlier = self
            .get_item::<AskedItem>(format!("ASKED#{id}"), "ASKED")
            .await?
            .ok_or_else(|| PortError::NotFound(format!("there is no question {id}")))?;
        if let Some(given) = &earlier.body.answered {
            return given.answered_again(id, answer);
        }
        let mut asked = earlier.body;
        asked.answered = Some(answer.clone());
        // Still unanswered as read: of two answers at once, one is written.
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&AskedItem::of(&asked))?))
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(#body.#answered)")
            .expression_attribute_names("#body", "body")
            .expression_attribute_names("#answered", "answered")
            .send()
            .await;
        if written(put, "answer an information request")? {
            return Ok(true);
        }
        let now = self
            .get_item::<AskedItem>(format!("ASKED#{id}"), "ASKED")
            .await?
            .and_then(|item| item.body.answered)
            .ok_or_else(|| unavailable("answer an information request", "the question changed"))?;
        now.answered_again(id, answer)
    }

    async fn information_request(
        &self,
        id: &TrackingNumber,
    ) -> PortResult<Option<InformationRequest>> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(format!("ASKED#{id}")))
            .key("SK", AttributeValue::S("ASKED".into()))
            .send()
            .await
            .map_err(|e| unavailable("read an information request", e.into_service_error()))?;
        answer
            .item
            .map(|item| from_item::<Item<InformationRequest>>(item).map(|i| i.body))
            .transpose()
    }

    async fn save_backlog(&self, backlog: &Backlog) -> PortResult<()> {
        let item = to_item(&Item {
            pk: "BACKLOG".into(),
            sk: format!("{}#{}", sort_stamp(backlog.declared_at), backlog.id),
            body: backlog.clone(),
            ttl: None,
        })?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable("save backlog", e.into_service_error()))?;
        Ok(())
    }

    async fn backlogs(&self) -> PortResult<Vec<Backlog>> {
        let values = HashMap::from([(":pk".to_string(), AttributeValue::S("BACKLOG".into()))]);
        let items = self.query_all(None, "PK = :pk", values, false).await?;
        items
            .into_iter()
            .map(|item| from_item::<Item<Backlog>>(item).map(|i| i.body))
            .collect()
    }

    async fn record_fix(&self, service_code: &str, fixed: &Fixed) -> PortResult<()> {
        let item = to_item(&Item {
            pk: format!("FIXED#{service_code}"),
            sk: format!("{}#{}", sort_stamp(fixed.closed_at), fixed.request_id),
            body: fixed.clone(),
            ttl: Some((fixed.closed_at + Duration::days(WINDOW_DAYS + 30)).timestamp()),
        })?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable("record fix", e.into_service_error()))?;
        Ok(())
    }

    async fn fixes(
        &self,
        service_code: &str,
        since: DateTime<Utc>,
        limit: u32,
    ) -> PortResult<Vec<Fixed>> {
        let values = HashMap::from([
            (
                ":pk".to_string(),
                AttributeValue::S(format!("FIXED#{service_code}")),
            ),
            (":since".to_string(), AttributeValue::S(sort_stamp(since))),
        ]);
        let answer = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK >= :since")
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(false)
            .limit(limit.max(1) as i32)
            .send()
            .await
            .map_err(|e| unavailable("query fixes", e.into_service_error()))?;
        answer
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<Item<Fixed>>(item).map(|i| i.body))
            .collect()
    }

    async fn claim_delivery(&self, key: &str, at: DateTime<Utc>) -> PortResult<bool> {
        let item = Item {
            pk: format!("DELIVERY#{key}"),
            sk: "DELIVERY".into(),
            body: at,
            ttl: Some((at + Duration::days(DELIVERY_DAYS)).timestamp()),
        };
        self.put_new(&item, "claim").await
    }

    async fn release_delivery(&self, key: &str) -> PortResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(format!("DELIVERY#{key}")))
            .key("SK", AttributeValue::S("DELIVERY".into()))
            .send()
            .await
            .map_err(|e| unavailable("release", e.into_service_error()))?;
        Ok(())
    }

    async fn begin_send(
        &self,
        key: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> PortResult<SendClaim> {
        let pk = format!("SEND#{key}");
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("PK", AttributeValue::S(pk.clone()))
            .item("SK", AttributeValue::S("SEND".into()))
            .item("send_state", AttributeValue::S("sending".into()))
            .item(
                "lease_until",
                AttributeValue::N(lease_until.timestamp_millis().to_string()),
            )
            .item("at", AttributeValue::S(now.to_rfc3339()))
            .item(
                "ttl",
                AttributeValue::N(
                    (now + Duration::days(DELIVERY_DAYS))
                        .timestamp()
                        .to_string(),
                ),
            )
            .condition_expression(
                "attribute_not_exists(PK) OR (send_state = :sending AND lease_until <= :now)",
            )
            .expression_attribute_values(":sending", AttributeValue::S("sending".into()))
            .expression_attribute_values(
                ":now",
                AttributeValue::N(now.timestamp_millis().to_string()),
            )
            .send()
            .await;
        if written(put, "begin a send")? {
            return Ok(SendClaim::Claimed);
        }
        let held = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(pk))
            .key("SK", AttributeValue::S("SEND".into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("read a send", e.into_service_error()))?;
        let sent = held
            .item
            .as_ref()
            .and_then(|item| item.get("send_state"))
            .is_some_and(|state| state.as_s().is_ok_and(|s| s == "sent"));
        Ok(if sent {
            SendClaim::Sent
        } else {
            SendClaim::InFlight
        })
    }

    async fn finish_send(&self, key: &str, at: DateTime<Utc>) -> PortResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(format!("SEND#{key}")))
            .key("SK", AttributeValue::S("SEND".into()))
            .update_expression("SET send_state = :sent, #at = :at")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":sent", AttributeValue::S("sent".into()))
            .expression_attribute_values(":at", AttributeValue::S(at.to_rfc3339()))
            .send()
            .await
            .map_err(|e| unavailable("finish a send", e.into_service_error()))?;
        Ok(())
    }

    async fn abandon_send(&self, key: &str) -> PortResult<()> {
        let delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(format!("SEND#{key}")))
            .key("SK", AttributeValue::S("SEND".into()))
            .condition_expression("send_state = :sending")
            .expression_attribute_values(":sending", AttributeValue::S("sending".into()))
            .send()
            .await;
        written(delete, "abandon a send").map(|_| ())
    }

    async fn set_channel_off(
        &self,
        recipient: &str,
        channel: &str,
        off: bool,
        at: DateTime<Utc>,
    ) -> PortResult<()> {
        let (pk, sk) = (format!("OFF#{recipient}"), format!("CHANNEL#{channel}"));
        if !off {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("PK", AttributeValue::S(pk))
                .key("SK", AttributeValue::S(sk))
                .send()
                .await
                .map_err(|e| unavailable("turn a channel on", e.into_service_error()))?;
            return Ok(());
        }
        // Off already, since an earlier time: that time stays.
        let item = Item {
            pk,
            sk,
            body: at,
            ttl: None,
        };
        self.put_new(&item, "turn a channel off").await.map(|_| ())
    }

    async fn channel_off(&self, recipient: &str, channel: &str) -> PortResult<bool> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(format!("OFF#{recipient}")))
            .key("SK", AttributeValue::S(format!("CHANNEL#{channel}")))
            .projection_expression("PK")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("read a channel", e.into_service_error()))?;
        Ok(answer.item.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_cells_are_read_as_one_run() {
        let cells: Vec<String> = ["drkmq3b", "drkmq3c", "drkmq3d", "drkmq3f", "drkmq90"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            cell_runs(&cells),
            [
                ("drkmq".into(), "drkmq3b".into(), "drkmq3d".into()),
                ("drkmq".into(), "drkmq3f".into(), "drkmq3f".into()),
                ("drkmq".into(), "drkmq90".into(), "drkmq90".into()),
            ]
        );
    }

    #[test]
    fn a_run_never_crosses_a_partition() {
        let cells: Vec<String> = ["drkmzzz", "drkn000"].map(String::from).to_vec();
        assert_eq!(cell_runs(&cells).len(), 2);
    }
}
