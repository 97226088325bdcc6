//! What one request's whole life costs on AWS (issue 16, "Cost"): the life runs on the AWS adapters
//! against moto — reported over the web API with an e-mail and a phone, routed and acknowledged,
//! started and closed by staff with a photo uploaded through the media form and a public notice
//! to the reporter. Its AWS API calls, HTTP requests and function invocations are counted,
//! DynamoDB's request units sized from the items written and read, and the whole priced by
//! docs/aws-prices.toml per million lives. `CITYFIX_COST_PROOF=1` makes it fail when the compute
//! and data path costs more than the goal, $30 per million lives.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use cityfix_app::ports::QueueName;
use cityfix_aws::setup::{ApiCalls, DynamoCall};
use cityfix_http::auth::{Role, StaffClaims};
use cityfix_local::Running;
use cityfix_tests::city::drained;
use cityfix_tests::{moto, template};
use serde_json::{json, Map, Value};

/// The compute and data path's goal, dollars per million lives.
const GOAL_PER_MILLION: f64 = 30.0;

/// What the local consumers ask SQS for themselves: on AWS, the event source mapping does it
/// (modelled per message below). `GetQueueAttributes` is this test's own waiting.
const CONSUMER_SIDE: [&str; 5] = [
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "GetQueueAttributes",
];

fn crew_token(city: &Running) -> String {
    let now = chrono::Utc::now().timestamp() as u64;
    city.keys
        .issue(
            &StaffClaims {
                sub: "local:sam.reyes".into(),
                name: "Sam Reyes".into(),
                role: Role::Staff,
                department: Some("public-works".into()),
                exp: now + 3600,
            },
            now,
        )
        .unwrap()
}

/// The HTTP requests that reach the API, each with the function that serves it and its time.
#[derive(Default)]
struct Invocations {
    /// Function → handler milliseconds, one entry per invocation.
    by_function: BTreeMap<String, Vec<f64>>,
}

impl Invocations {
    fn add(&mut self, function: &str, ms: f64) {
        self.by_function
            .entry(function.to_string())
            .or_default()
            .push(ms);
    }
}

/// Posts `body` to the API as JSON, timed as the function serving it would be billed.
async fn post(
    city: &Running,
    invocations: &mut Invocations,
    function: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", city.url))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let started = Instant::now();
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let body = answer.json().await.unwrap_or(Value::Null);
    invocations.add(function, started.elapsed().as_secs_f64() * 1000.0);
    (status, body)
}

fn total(calls: &BTreeMap<(String, String), u64>, service: &str, operation: &str) -> u64 {
    calls
        .iter()
        .filter(|((s, o), _)| s.eq_ignore_ascii_case(service) && o == operation)
        .map(|(_, n)| n)
        .sum()
}

/// Waits until `ready` holds of the calls counted so far, then until the queues are empty.
async fn settle(
    city: &Running,
    calls: &ApiCalls,
    ready: impl Fn(&BTreeMap<(String, String), u64>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready(&calls.snapshot()) {
        assert!(
            Instant::now() < deadline,
            "the chain did not get there: {:?}",
            calls.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drained(city.queue.as_ref()).await;
}

// ---- DynamoDB request units, from the items' sizes ----

/// The size DynamoDB bills for a number: a byte per two significant digits, and one.
fn number_size(text: &str) -> u64 {
    let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
    let significant = digits
        .trim_start_matches('0')
        .trim_end_matches('0')
        .len()
        .max(1) as u64;
    significant.div_ceil(2) + 1
}

fn binary_size(base64: &str) -> u64 {
    let padding = base64.chars().rev().take_while(|&c| c == '=').count() as u64;
    (base64.len() as u64 / 4) * 3 - padding
}

/// The size of an attribute value in DynamoDB's JSON (`{"S": "…"}`, …), by DynamoDB's rules.
fn value_size(value: &Value) -> u64 {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    let strings = || {
        inner
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
    };
    match kind.as_str() {
        "S" => inner.as_str().map_or(0, |s| s.len() as u64),
        "N" => inner.as_str().map_or(0, number_size),
        "B" => inner.as_str().map_or(0, binary_size),
        "BOOL" | "NULL" => 1,
        "SS" => strings().map(|s| s.len() as u64).sum(),
        "NS" => strings().map(number_size).sum(),
        "BS" => strings().map(binary_size).sum(),
        "L" => {
            3 + inner
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| 1 + value_size(v))
                .sum::<u64>()
        }
        "M" => {
            3 + inner
                .as_object()
                .map_or(0, |m| item_size(m) + m.len() as u64)
        }
        _ => 0,
    }
}

/// An item's size: each attribute's name and value.
fn item_size(item: &Map<String, Value>) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

fn key_of(item: &Map<String, Value>) -> String {
    let part = |name: &str| item.get(name).map(|v| v.to_string()).unwrap_or_default();
    format!("{}|{}", part("PK"), part("SK"))
}

/// The table's indexes: name, its key attributes, whether it holds the whole item.
struct Index {
    name: String,
    hash: String,
    range: Option<String>,
    whole_item: bool,
}

impl Index {
    fn key_attributes(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.hash).chain(self.range.iter())
    }

    /// The entry's key in this index, when the item is in it (sparse: both keys present).
    fn entry_key(&self, item: &Map<String, Value>) -> Option<String> {
        self.key_attributes()
            .map(|a| item.get(a).map(Value::to_string))
            .collect::<Option<Vec<_>>>()
            .map(|parts| parts.join("|"))
    }
}

/// Write and read request units, summed over the life's DynamoDB calls.
#[derive(Default, Debug)]
struct Units {
    write: f64,
    /// Of `write`, the indexes' share.
    index_write: f64,
    read: f64,
    /// Operation → (calls, write units, read units).
    by_operation: BTreeMap<String, (u64, f64, f64)>,
}

/// Sizes the units of `calls`: a write is ⌈size / 1 KB⌉ on the table and on each index the item is
/// in (two when its index key changes: the old entry deleted, the new one put; none on a
/// keys-only index when no key changes), ×2 in a transaction; a read ⌈size / 4 KB⌉ (a query's
/// items summed first), halved when eventually consistent, ×2 in a transaction. An update's item
/// is sized as it is at the end of the life (items only grow in it: an upper bound); a delete's as
/// last put, else 1 KB.
struct Sizer<'a> {
    indexes: &'a [Index],
    /// Every item of the table after the life, by key.
    items: HashMap<String, Map<String, Value>>,
    /// Index entries the life has made so far: (item key, index) → the entry's key.
    entries: HashMap<(String, String), String>,
    last_put: HashMap<String, u64>,
    units: Units,
}

fn kb_units(size: u64) -> f64 {
    size.div_ceil(1024).max(1) as f64
}

fn read_units(size: u64, consistent: bool) -> f64 {
    let units = size.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

impl Sizer<'_> {
    fn size_now(&self, key: &str) -> Option<u64> {
        self.items.get(key).map(item_size)
    }

    /// The size a read of `item` is billed by: the whole item, though fewer attributes were asked
    /// for, except from a keys-only index.
    fn read_size(&self, item: &Map<String, Value>, whole: bool) -> u64 {
        let answered = item_size(item);
        if !whole {
            return answered;
        }
        self.size_now(&key_of(item)).unwrap_or(0).max(answered)
    }

    fn keys_only_size(&self, index: &Index, item: &Map<String, Value>) -> u64 {
        ["PK", "SK"]
            .iter()
            .map(|a| a.to_string())
            .chain(index.key_attributes().cloned())
            .filter_map(|a| item.get(&a).map(|v| a.len() as u64 + value_size(v)))
            .sum()
    }

    /// One index's share of a write that leaves the entry `after` (was `before`).
    fn index_write(
        &mut self,
        index: &Index,
        key: &str,
        item: &Map<String, Value>,
        after: Option<String>,
        touches_item: bool,
        factor: f64,
    ) {
        let slot = (key.to_string(), index.name.clone());
        let before = self.entries.get(&slot).cloned();
        let entry = if index.whole_item {
            kb_units(item_size(item))
        } else {
            kb_units(self.keys_only_size(index, item))
        };
        let writes = match (&before, &after) {
            (Some(b), Some(a)) if b != a => 2.0 * entry,
            (Some(_), Some(_)) if index.whole_item && touches_item => entry,
            (Some(_), Some(_)) => 0.0,
            (None, Some(_)) => entry,
            (Some(_), None) => 1.0,
            (None, None) => 0.0,
        };
        self.units.write += writes * factor;
        self.units.index_write += writes * factor;
        match after {
            Some(a) => self.entries.insert(slot, a),
            None => self.entries.remove(&slot),
        };
    }

    fn put(&mut self, item: &Map<String, Value>, factor: f64) {
        let key = key_of(item);
        let size = item_size(item);
        self.units.write += kb_units(size) * factor;
        self.last_put.insert(key.clone(), size);
        for index in self.indexes {
            let after = index.entry_key(item);
            self.index_write(index, &key, item, after, true, factor);
        }
    }

    fn delete(&mut self, key_item: &Map<String, Value>, factor: f64) {
        let key = key_of(key_item);
        let size = self.last_put.get(&key).copied().unwrap_or(1024);
        self.units.write += kb_units(size) * factor;
        for index in self.indexes {
            self.index_write(index, &key, key_item, None, true, factor);
        }
    }

    fn update(&mut self, update: &Value, factor: f64) {
        let key_item = update["Key"].as_object().cloned().unwrap_or_default();
        let key = key_of(&key_item);
        let now = self
            .items
            .get(&key)
            .cloned()
            .unwrap_or_else(|| key_item.clone());
        self.units.write += kb_units(item_size(&now)) * factor;
        let names = update["ExpressionAttributeNames"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let values = update["ExpressionAttributeValues"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let changes = assignments(
            update["UpdateExpression"].as_str().unwrap_or(""),
            &names,
            &values,
        );
        for index in self.indexes {
            let slot = (key.clone(), index.name.clone());
            let before = self.entries.get(&slot).cloned();
            let touched = index.key_attributes().any(|a| changes.contains_key(a));
            let after = if touched {
                // Each key attribute as the update leaves it: set to a value, removed, or kept.
                let mut parts = Vec::new();
                let mut known = true;
                for attribute in index.key_attributes() {
                    match changes.get(attribute) {
                        Some(Change::Set(Some(value))) => parts.push(value.to_string()),
                        Some(Change::Set(None)) => {
                            known = false;
                            parts.push(String::from("?"));
                        }
                        Some(Change::Remove) => {
                            parts.clear();
                            break;
                        }
                        None => match (&before, now.get(attribute)) {
                            (Some(_), Some(v)) | (None, Some(v)) => parts.push(v.to_string()),
                            _ => {
                                parts.clear();
                                break;
                            }
                        },
                    }
                }
                if parts.is_empty() {
                    None
                } else if known {
                    Some(parts.join("|"))
                } else {
                    // Set from an expression: taken as a new key.
                    Some(format!("{}+", before.clone().unwrap_or_default()))
                }
            } else {
                before.clone()
            };
            self.index_write(index, &key, &now, after, !changes.is_empty(), factor);
        }
    }

    fn check(&mut self, key_item: &Map<String, Value>, factor: f64) {
        let size = self.size_now(&key_of(key_item)).unwrap_or(1);
        self.units.write += kb_units(size) * factor;
    }

    fn call(&mut self, call: &DynamoCall) {
        let (write, read) = (self.units.write, self.units.read);
        self.units_of(call);
        let entry = self
            .units
            .by_operation
            .entry(call.operation.clone())
            .or_default();
        entry.0 += 1;
        entry.1 += self.units.write - write;
        entry.2 += self.units.read - read;
        if std::env::var("CITYFIX_COST_DETAIL").is_ok_and(|v| v == "1") {
            let request: Value = serde_json::from_slice(&call.request).unwrap_or(Value::Null);
            // The kinds of item touched: each key's part before its first `#`.
            let kinds: Vec<String> = request
                .to_string()
                .split("\"PK\":{\"S\":\"")
                .skip(1)
                .map(|rest| rest.split(['#', '"']).next().unwrap_or("").to_string())
                .collect();
            eprintln!(
                "    {} {:?}: {:.1} WRU {:.1} RRU",
                call.operation,
                kinds,
                self.units.write - write,
                self.units.read - read
            );
        }
    }

    fn units_of(&mut self, call: &DynamoCall) {
        let request: Value = serde_json::from_slice(&call.request).unwrap_or(Value::Null);
        let response: Value = serde_json::from_slice(&call.response).unwrap_or(Value::Null);
        let consistent = request["ConsistentRead"].as_bool().unwrap_or(false);
        let object = |v: &Value| v.as_object().cloned().unwrap_or_default();
        match call.operation.as_str() {
            "PutItem" => self.put(&object(&request["Item"]), 1.0),
            "UpdateItem" => self.update(&request, 1.0),
            "DeleteItem" => self.delete(&object(&request["Key"]), 1.0),
            "BatchWriteItem" => {
                for writes in request["RequestItems"]
                    .as_object()
                    .into_iter()
                    .flat_map(|t| t.values())
                {
                    for write in writes.as_array().into_iter().flatten() {
                        if let Some(item) = write["PutRequest"]["Item"].as_object() {
                            self.put(item, 1.0);
                        } else if let Some(key) = write["DeleteRequest"]["Key"].as_object() {
                            self.delete(key, 1.0);
                        }
                    }
                }
            }
            "TransactWriteItems" => {
                for write in request["TransactItems"].as_array().into_iter().flatten() {
                    if let Some(item) = write["Put"]["Item"].as_object() {
                        self.put(item, 2.0);
                    } else if write["Update"].is_object() {
                        self.update(&write["Update"], 2.0);
                    } else if let Some(key) = write["Delete"]["Key"].as_object() {
                        self.delete(key, 2.0);
                    } else if let Some(key) = write["ConditionCheck"]["Key"].as_object() {
                        self.check(key, 2.0);
                    }
                }
            }
            "GetItem" => {
                let size = response["Item"]
                    .as_object()
                    .map_or(0, |item| self.read_size(item, true));
                self.units.read += read_units(size, consistent);
            }
            "Query" | "Scan" => {
                let whole = request["IndexName"]
                    .as_str()
                    .is_none_or(|name| self.indexes.iter().any(|i| i.name == name && i.whole_item));
                let size: u64 = response["Items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .map(|item| self.read_size(item, whole))
                    .sum();
                self.units.read += read_units(size, consistent);
            }
            "BatchGetItem" => {
                for (table, items) in response["Responses"].as_object().into_iter().flatten() {
                    let consistent = request["RequestItems"][table]["ConsistentRead"]
                        .as_bool()
                        .unwrap_or(false);
                    for item in items
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_object)
                    {
                        let size = self.read_size(item, true);
                        self.units.read += read_units(size, consistent);
                    }
                }
            }
            "TransactGetItems" => {
                let answers = response["Responses"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                for answer in &answers {
                    let size = answer["Item"]
                        .as_object()
                        .map_or(0, |item| self.read_size(item, true));
                    self.units.read += 2.0 * read_units(size, true);
                }
                if answers.is_empty() {
                    // A cancelled transaction reads each item it names once, consistently.
                    let asked = request["TransactItems"].as_array().map_or(0, Vec::len);
                    self.units.read += 2.0 * asked as f64;
                }
            }
            _ => {}
        }
    }
}

/// How an update expression leaves an attribute.
#[derive(Debug)]
enum Change {
    /// Set to this value, or (`None`) to an expression's result.
    Set(Option<Value>),
    Remove,
}

/// The attributes an update expression sets or removes, by their real names.
fn assignments(
    expression: &str,
    names: &Map<String, Value>,
    values: &Map<String, Value>,
) -> HashMap<String, Change> {
    let real = |path: &str| {
        let path = path.trim();
        names
            .get(path)
            .and_then(Value::as_str)
            .unwrap_or(path)
            .to_string()
    };
    // The clauses, each led by its keyword.
    let mut clauses: Vec<(String, String)> = Vec::new();
    for word in expression.split_whitespace() {
        let upper = word.to_ascii_uppercase();
        if ["SET", "REMOVE", "ADD", "DELETE"].contains(&upper.as_str()) {
            clauses.push((upper, String::new()));
        } else if let Some((_, body)) = clauses.last_mut() {
            body.push(' ');
            body.push_str(word);
        }
    }
    let mut changes = HashMap::new();
    for (clause, body) in clauses {
        // Top-level commas only: `list_append(a, b)` is one action.
        let mut actions = Vec::new();
        let (mut depth, mut current) = (0, String::new());
        for c in body.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    actions.push(std::mem::take(&mut current));
                    continue;
                }
                _ => {}
            }
            current.push(c);
        }
        actions.push(current);
        for action in actions.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
            match clause.as_str() {
                "SET" => {
                    if let Some((path, value)) = action.split_once('=') {
                        let value = value.trim();
                        let known = values
                            .get(value)
                            .cloned()
                            .filter(|_| value.starts_with(':'));
                        changes.insert(real(path), Change::Set(known));
                    }
                }
                "REMOVE" => {
                    changes.insert(real(action), Change::Remove);
                }
                _ => {
                    let path = action.split_whitespace().next().unwrap_or("");
                    changes.insert(real(path), Change::Set(None));
                }
            }
        }
    }
    changes
}

/// Every item of `table`, read with a client that is not counted.
async fn all_items(table: &str) -> HashMap<String, Map<String, Value>> {
    let client = aws_sdk_dynamodb::Client::new(&moto::sdk_config().await);
    let mut items = HashMap::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("the table is scanned");
        for item in page.items() {
            let json = attributes_json(item);
            items.insert(key_of(&json), json);
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return items;
        }
    }
}

/// An item from the SDK, as DynamoDB's JSON.
fn attributes_json(
    item: &HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> Map<String, Value> {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    fn one(value: &A) -> Value {
        use aws_sdk_dynamodb::primitives::Blob;
        let b64 = |b: &Blob| "x".repeat(b.as_ref().len().div_ceil(3) * 4);
        match value {
            A::S(s) => json!({ "S": s }),
            A::N(n) => json!({ "N": n }),
            A::B(b) => json!({ "B": b64(b) }),
            A::Bool(b) => json!({ "BOOL": b }),
            A::Null(_) => json!({ "NULL": true }),
            A::Ss(v) => json!({ "SS": v }),
            A::Ns(v) => json!({ "NS": v }),
            A::Bs(v) => json!({ "BS": v.iter().map(b64).collect::<Vec<_>>() }),
            A::L(v) => json!({ "L": v.iter().map(one).collect::<Vec<_>>() }),
            A::M(m) => {
                json!({ "M": m.iter().map(|(k, v)| (k.clone(), one(v))).collect::<Map<_, _>>() })
            }
            _ => Value::Null,
        }
    }
    item.iter().map(|(k, v)| (k.clone(), one(v))).collect()
}

// ---- prices ----

struct Prices(toml::Table);

impl Prices {
    fn read() -> Self {
        let path = cityfix_tests::city::repo_root().join("docs/aws-prices.toml");
        let text = std::fs::read_to_string(&path).expect("docs/aws-prices.toml is readable");
        Prices(text.parse().expect("docs/aws-prices.toml is TOML"))
    }

    fn get(&self, section: &str, name: &str) -> f64 {
        let value = &self.0[section][name];
        value
            .as_float()
            .or_else(|| value.as_integer().map(|i| i as f64))
            .unwrap_or_else(|| panic!("docs/aws-prices.toml has no number {section}.{name}"))
    }

    fn text(&self, name: &str) -> String {
        self.0[name].as_str().unwrap_or("?").to_string()
    }
}

/// The memory template.yaml gives `function`, in MB.
fn memory_mb(template: &serde_yaml::Value, function: &str) -> f64 {
    let resource = &template["Resources"][function];
    assert!(!resource.is_null(), "template.yaml has no {function}");
    resource["Properties"]["MemorySize"]
        .as_f64()
        .or_else(|| template["Globals"]["Function"]["MemorySize"].as_f64())
        .expect("a MemorySize")
}

/// The function that works `queue`'s messages on AWS (its event source mapping).
fn consumer_of(queue: QueueName) -> &'static str {
    match queue {
        QueueName::Routing => "RouterFunction",
        QueueName::Status => "StatusFunction",
        QueueName::Notify => "NotifyFunction",
        QueueName::Media => "MediaFetchFunction",
        QueueName::Webhooks => "WebhooksFunction",
    }
}

/// Messages sent to the reporter so far: e-mails and texts.
fn sent(calls: &BTreeMap<(String, String), u64>) -> u64 {
    total(calls, "sesv2", "SendEmail") + total(calls, "sns", "Publish")
}

#[tokio::test]
async fn the_life_of_a_request_reported_with_an_e_mail_and_a_phone_is_priced_per_million() {
    // Notify reaches a reporter by e-mail, else by text: the phone is kept, not texted.
    life(
        "cost-mail",
        json!({ "email": "ana@example.org", "phone": "(860) 555-0142" }),
        (3, 0),
    )
    .await;
}

#[tokio::test]
async fn the_life_of_a_request_reported_with_a_phone_only_is_priced_per_million() {
    life("cost-text", json!({ "phone": "(860) 555-0143" }), (0, 3)).await;
}

/// Runs one whole life for a reporter reached at `contact`, expecting `(e-mails, texts)`, and
/// prints its cost.
async fn life(prefix: &str, contact: Value, (expect_emails, expect_texts): (u64, u64)) {
    // given the city on DynamoDB, SQS, S3, SES and SNS (moto), every DynamoDB call's bodies kept
    let data = tempfile::tempdir().unwrap();
    let calls = ApiCalls::keeping_dynamodb_bodies();
    let (city, setup, stack) = moto::start_city_counting(prefix, data.path(), calls.clone()).await;
    let crew = crew_token(&city);
    // The scheduler's first run is at start; the next is 30 s on, after this life.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drained(city.queue.as_ref()).await;
    calls.reset();
    city.stages.reset();
    let mut http = Invocations::default();
    let started = Instant::now();

    // when a resident reports a pothole
    let mut body = json!({ "service_code": "pothole", "lat": 41.7677, "long": -72.67602,
            "attributes": { "pothole_size": "large" },
            "description": "Deep pothole by the bus stop" });
    for (field, value) in contact.as_object().unwrap() {
        body[field] = value.clone();
    }
    let (status, created) = post(
        &city,
        &mut http,
        "IntakeFunction",
        "/api/v1/requests",
        None,
        body,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["service_request_id"].as_str().unwrap().to_string();
    // it is routed and acknowledged
    settle(&city, &calls, |c| sent(c) >= 1).await;
    let work = |action: &str| format!("/staff/v1/requests/{id}/{action}");

    // staff start work
    let (status, answer) = post(
        &city,
        &mut http,
        "StaffFunction",
        &work("transitions"),
        Some(&crew),
        json!({ "to": "in_progress" }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    settle(&city, &calls, |c| sent(c) >= 2).await;

    // the crew uploads a photo of the fix through the media form; S3 starts the media check
    let file = cityfix_app::samples::photo_with_location(64, 48, 1);
    let (status, form) = post(
        &city,
        &mut http,
        "StaffFunction",
        &work("media"),
        Some(&crew),
        json!({ "content_type": "image/jpeg", "size": file.len() }),
    )
    .await;
    assert_eq!(status, 201, "{form}");
    let media_id = form["media_id"].as_str().unwrap().to_string();
    let mut multipart = reqwest::multipart::Form::new();
    for (name, value) in form["upload"]["fields"].as_object().unwrap() {
        multipart = multipart.text(name.clone(), value.as_str().unwrap().to_string());
    }
    let key = form["upload"]["fields"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let part = reqwest::multipart::Part::bytes(file)
        .file_name("fix.jpg")
        .mime_str("image/jpeg")
        .unwrap();
    let uploaded = reqwest::Client::new()
        .post(form["upload"]["url"].as_str().unwrap())
        .multipart(multipart.part("file", part))
        .send()
        .await
        .unwrap();
    assert!(
        uploaded.status().is_success(),
        "upload: {}",
        uploaded.status()
    );
    let browser_posts = 1u64;
    let checking = Instant::now();
    let checked = media::handle(
        &setup.media_deps().unwrap(),
        cityfix_local::object_created(&key),
    )
    .await
    .expect("the upload is checked");
    http.add("MediaFunction", checking.elapsed().as_secs_f64() * 1000.0);
    assert_eq!(checked.len(), 1, "one file checked");
    drained(city.queue.as_ref()).await;

    // and closes the request with it, a public notice to the reporter
    let (status, answer) = post(
        &city,
        &mut http,
        "StaffFunction",
        &work("transitions"),
        Some(&crew),
        json!({ "to": "closed", "resolution": "fixed", "note": "Filled and rolled",
                "media": [media_id] }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    settle(&city, &calls, |c| sent(c) >= 3).await;
    let took = started.elapsed();

    // then: the calls, outside the test's own and the consumers' polling
    let all = calls.snapshot();
    let dynamodb_calls = calls.dynamodb_calls();
    let mut counted = all.clone();
    counted.retain(|(service, operation), _| {
        !(service.eq_ignore_ascii_case("sqs") && CONSUMER_SIDE.contains(&operation.as_str()))
    });
    let handled: Vec<(QueueName, (u64, u64))> = QueueName::ALL
        .into_iter()
        .map(|queue| (queue, city.stages.work_total(queue)))
        .filter(|(_, (_, n))| *n > 0)
        .collect();
    city.stop().await;

    let emails = total(&counted, "sesv2", "SendEmail");
    let texts = total(&counted, "sns", "Publish");
    assert_eq!(
        (emails, texts),
        (expect_emails, expect_texts),
        "acknowledged, work started, fixed: one message each, (e-mails, texts)"
    );
    let worked: Vec<(&str, u64)> = handled
        .iter()
        .map(|(queue, (_, n))| (queue.as_str(), *n))
        .collect();
    assert_eq!(
        worked,
        [("routing", 1), ("status", 2), ("notify", 3)],
        "routed once; the routing decision and the photo applied by status; three notices"
    );
    assert_eq!(
        total(&counted, "sqs", "SendMessage"),
        6,
        "one send for each message worked"
    );
    assert_eq!(
        total(&all, "sqs", "ChangeMessageVisibility"),
        0,
        "no message was given back"
    );

    // DynamoDB's units from the items' sizes
    let template = template::read();
    let indexes: Vec<Index> = template::table(&template)
        .indexes
        .into_iter()
        .map(|(name, (keys, projection))| Index {
            name,
            hash: keys.hash,
            range: keys.range,
            whole_item: projection != "KEYS_ONLY",
        })
        .collect();
    let mut sizer = Sizer {
        indexes: &indexes,
        items: all_items(&stack.table).await,
        entries: HashMap::new(),
        last_put: HashMap::new(),
        units: Units::default(),
    };
    for call in &dynamodb_calls {
        sizer.call(call);
    }
    let units = sizer.units;
    let dynamodb_total: u64 = counted
        .iter()
        .filter(|((s, _), _)| s.eq_ignore_ascii_case("dynamodb"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        dynamodb_calls.len() as u64,
        dynamodb_total,
        "every DynamoDB call's bodies are kept"
    );
    let largest = sizer
        .items
        .values()
        .map(item_size)
        .max()
        .unwrap_or_default();

    // S3: the browser's POST is a PUT-priced request the SDK did not make; stored bytes
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&moto::sdk_config().await)
            .force_path_style(true)
            .build(),
    );
    let objects = s3
        .list_objects_v2()
        .bucket(&stack.bucket)
        .send()
        .await
        .expect("the bucket is listed");
    let stored: u64 = objects
        .contents()
        .iter()
        .filter(|o| !o.key().unwrap_or("").starts_with("uploads/"))
        .map(|o| o.size().unwrap_or(0) as u64)
        .sum();
    let s3_put_class = [
        "PutObject",
        "CopyObject",
        "ListObjectsV2",
        "ListObjects",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
    ];
    let s3_free = ["DeleteObject", "DeleteObjects"];
    let (mut s3_puts, mut s3_gets) = (browser_posts, 0u64);
    for ((service, operation), n) in &counted {
        if service.eq_ignore_ascii_case("s3") {
            if s3_put_class.contains(&operation.as_str()) {
                s3_puts += n;
            } else if !s3_free.contains(&operation.as_str()) {
                s3_gets += n;
            }
        }
    }

    // SQS: messages sent, and the event source mappings' receive and delete per message
    let sqs_sent: u64 = counted
        .iter()
        .filter(|((s, _), _)| s.eq_ignore_ascii_case("sqs"))
        .map(|(_, n)| n)
        .sum();
    let messages: u64 = handled.iter().map(|(_, (_, n))| n).sum();
    let sqs_requests = sqs_sent + 2 * messages;

    // Lambda: the API's functions as timed here, the consumers' as the runner timed their work
    let mut lambda: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for (function, times) in &http.by_function {
        let gb = memory_mb(&template, function) / 1024.0;
        let billed: f64 = times
            .iter()
            .map(|ms| ms.ceil().max(1.0) / 1000.0 * gb)
            .sum();
        lambda.insert(function.clone(), (times.len() as u64, billed));
    }
    for (queue, (ms, n)) in &handled {
        let function = consumer_of(*queue);
        let gb = memory_mb(&template, function) / 1024.0;
        // Each message's time was taken in whole milliseconds, rounded down: billed up.
        let billed = (*ms + *n) as f64 / 1000.0 * gb;
        let entry = lambda.entry(function.to_string()).or_default();
        entry.0 += n;
        entry.1 += billed;
    }
    let api_requests = http
        .by_function
        .iter()
        .filter(|(f, _)| f.as_str() != "MediaFunction")
        .map(|(_, t)| t.len() as u64)
        .sum::<u64>();

    let prices = Prices::read();
    let million = 1_000_000.0;
    let invocations: u64 = lambda.values().map(|(n, _)| n).sum();
    let gb_seconds: f64 = lambda.values().map(|(_, gbs)| gbs).sum();
    let cost_api = api_requests as f64 * prices.get("api_gateway", "http_api_per_million_requests");
    let cost_lambda = invocations as f64 * prices.get("lambda", "per_million_requests")
        + gb_seconds * million * prices.get("lambda", "arm64_per_gb_second");
    let cost_sqs = sqs_requests as f64 * prices.get("sqs", "standard_per_million_requests");
    let cost_dynamodb = units.write * prices.get("dynamodb", "per_million_write_request_units")
        + units.read * prices.get("dynamodb", "per_million_read_request_units");
    let cost_s3 = s3_puts as f64 * 1000.0 * prices.get("s3", "put_copy_post_list_per_thousand")
        + s3_gets as f64 * 1000.0 * prices.get("s3", "get_head_per_thousand");
    let path = cost_api + cost_lambda + cost_sqs + cost_dynamodb + cost_s3;
    let cost_ses = emails as f64 * 1000.0 * prices.get("ses", "per_thousand_emails");
    let cost_sms = texts as f64 * million * prices.get("sns", "sms_us_per_message");
    let storage = stored as f64 * million / 1e9 * prices.get("s3", "storage_per_gb_month");
    // The mappings' pollers while the queues are idle, a fixed monthly cost, shown at 1M lives a month.
    let idle_polls_per_month = 5.0 * 5.0 * 3.0 * 60.0 * 24.0 * 30.0;
    let idle = idle_polls_per_month * prices.get("sqs", "standard_per_million_requests") / million;

    let mut report = format!(
        "One request's whole life on the AWS adapters, the reporter gave {:?} ({} ms on moto), priced at docs/aws-prices.toml ({}, {}):\n\
         AWS API calls (without the consumers' own polling):\n",
        contact.as_object().unwrap().keys().collect::<Vec<_>>(),
        took.as_millis(),
        prices.text("region"),
        prices.text("as_of")
    );
    for ((service, operation), n) in &counted {
        report.push_str(&format!("  {service:>9} {operation:<26} {n}\n"));
    }
    report.push_str("Function invocations (handler ms each, memory):\n");
    for (function, (n, gbs)) in &lambda {
        report.push_str(&format!(
            "  {function:<20} {n} × {:>4} MB, {:.6} GB-s\n",
            memory_mb(&template, function),
            gbs
        ));
    }
    for (function, times) in &http.by_function {
        report.push_str(&format!("    {function}: {times:.1?} ms\n"));
    }
    for (queue, (ms, n)) in &handled {
        report.push_str(&format!(
            "    {} queue: {n} messages, {ms} ms of work\n",
            queue.as_str()
        ));
    }
    report.push_str(&format!(
        "DynamoDB: {dynamodb_total} calls, {:.1} WRU ({:.1} of them the indexes'), {:.1} RRU; largest item {largest} bytes\n",
        units.write, units.index_write, units.read
    ));
    for (operation, (n, write, read)) in &units.by_operation {
        report.push_str(&format!(
            "  {operation:<20} {n:>3} calls {write:>6.1} WRU {read:>6.1} RRU\n"
        ));
    }
    report.push_str(&format!(
        "{:<34} {:>16} {:>16}\n",
        "service", "per life", "$ per 1M lives"
    ));
    let mut line = |service: &str, per_life: String, cost: f64| {
        report.push_str(&format!("{service:<34} {per_life:>16} {cost:>16.2}\n"));
    };
    line(
        "API Gateway HTTP API requests",
        api_requests.to_string(),
        cost_api,
    );
    line(
        "Lambda invocations / GB-s",
        format!("{invocations} / {gb_seconds:.4}"),
        cost_lambda,
    );
    line(
        "SQS requests (ESM per message)",
        sqs_requests.to_string(),
        cost_sqs,
    );
    line(
        "DynamoDB WRU / RRU",
        format!("{:.1} / {:.1}", units.write, units.read),
        cost_dynamodb,
    );
    line(
        "S3 PUT-class / GET-class",
        format!("{s3_puts} / {s3_gets}"),
        cost_s3,
    );
    line("= compute and data path", String::new(), path);
    line("  goal", String::new(), GOAL_PER_MILLION);
    line("SES e-mails", emails.to_string(), cost_ses);
    line("SNS texts (US)", texts.to_string(), cost_sms);
    line(
        "S3 storage ($ per month kept)",
        format!("{stored} bytes"),
        storage,
    );
    line("SQS idle polling ($ a month, fixed)", String::new(), idle);
    eprintln!("{report}");

    if std::env::var("CITYFIX_COST_PROOF").is_ok_and(|v| v == "1") {
        assert!(
            path <= GOAL_PER_MILLION,
            "the compute and data path costs ${path:.2} per million lives, over the goal of ${GOAL_PER_MILLION} by ${:.2}",
            path - GOAL_PER_MILLION
        );
    }
}

#[test]
fn items_are_sized_by_dynamodb_s_rules() {
    let item = json!({
        "PK": { "S": "REQ#1" }, "n": { "N": "12300" }, "ok": { "BOOL": true },
        "l": { "L": [{ "S": "ab" }, { "NULL": true }] }, "m": { "M": { "k": { "S": "v" } } },
        "b": { "B": "AAEC" }
    });
    // PK 2+5, n 1+(3 digits: 2+1), ok 2+1, l 1+3+(1+2)+(1+1), m 1+3+(1+1+1), b 1+3
    assert_eq!(item_size(item.as_object().unwrap()), 7 + 4 + 3 + 9 + 7 + 4);
}

#[test]
fn update_expressions_name_what_they_set_and_remove() {
    let names = json!({ "#s": "GSI1SK", "#t": "timeline" });
    let values = json!({ ":s": { "S": "open#2026" }, ":e": { "L": [] } });
    let changes = assignments(
        "SET #s = :s, #t = list_append(#t, :e), version = version + :one REMOVE GSI5PK, GSI5SK ADD hits :one",
        names.as_object().unwrap(),
        values.as_object().unwrap(),
    );
    assert!(
        matches!(&changes["GSI1SK"], Change::Set(Some(v)) if v == &json!({ "S": "open#2026" }))
    );
    assert!(matches!(changes["timeline"], Change::Set(None)));
    assert!(matches!(changes["version"], Change::Set(None)));
    assert!(matches!(changes["GSI5PK"], Change::Remove));
    assert!(matches!(changes["GSI5SK"], Change::Remove));
    assert!(matches!(changes["hits"], Change::Set(None)));
}

#[test]
fn a_write_costs_the_table_and_each_index_the_item_is_in() {
    let indexes = [
        Index {
            name: "GSI1".into(),
            hash: "GSI1PK".into(),
            range: Some("GSI1SK".into()),
            whole_item: true,
        },
        Index {
            name: "GSI5".into(),
            hash: "GSI5PK".into(),
            range: Some("GSI5SK".into()),
            whole_item: false,
        },
    ];
    let item = json!({
        "PK": { "S": "R" }, "SK": { "S": "R" }, "GSI1PK": { "S": "a" }, "GSI1SK": { "S": "1" },
        "body": { "S": "x".repeat(1500) }
    });
    let mut sizer = Sizer {
        indexes: &indexes,
        items: HashMap::from([(
            key_of(item.as_object().unwrap()),
            item.as_object().unwrap().clone(),
        )]),
        entries: HashMap::new(),
        last_put: HashMap::new(),
        units: Units::default(),
    };
    let call = |operation: &str, request: Value| DynamoCall {
        operation: operation.into(),
        request: request.to_string().into_bytes(),
        response: b"{}".to_vec(),
    };
    // a put of a 1.5 KB item: 2 on the table, 2 on GSI1, none on GSI5 (not in it)
    sizer.call(&call("PutItem", json!({ "Item": item })));
    assert_eq!((sizer.units.write, sizer.units.index_write), (4.0, 2.0));
    // an update moving it in GSI1 (delete and put there) and into GSI5 (keys only), in a transaction
    sizer.call(&call(
        "TransactWriteItems",
        json!({ "TransactItems": [{ "Update": {
        "Key": { "PK": { "S": "R" }, "SK": { "S": "R" } },
        "UpdateExpression": "SET GSI1SK = :s, GSI5PK = :p, GSI5SK = :q",
        "ExpressionAttributeValues": { ":s": { "S": "2" }, ":p": { "S": "d" }, ":q": { "S": "e" } }
    } }] }),
    ));
    assert_eq!(sizer.units.write, 4.0 + 2.0 * (2.0 + 2.0 * 2.0 + 1.0));
    // an eventually consistent query of 5 KB: 2 units halved
    sizer.call(&DynamoCall {
        operation: "Query".into(),
        request: b"{}".to_vec(),
        response: json!({ "Items": [{ "PK": { "S": "Q" }, "SK": { "S": "Q" }, "v": { "S": "y".repeat(5000) } }] })
            .to_string()
            .into_bytes(),
    });
    assert_eq!(sizer.units.read, 1.0);
}
