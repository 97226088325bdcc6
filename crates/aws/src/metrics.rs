//! The metrics' counters on DynamoDB, in the store's table: a counter item per key added to with `ADD`, and a marker per event counted.
//!
//! One counted event is one `TransactWriteItems` of its marker (put if absent) and one update per
//! row it moves (one to three), so a redelivery finds the marker and adds nothing.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{Datelike, NaiveDate};

use crate::dynamo::unavailable;
use crate::DynamoStore;
use cityfix_app::ports::{MetricsStore, PortError, PortResult};
use cityfix_domain::metrics::{DurationSketch, MetricsKey, Tally};
use cityfix_domain::rising::RisingFlag;

/// The partition of the rising-concern flags: few (a handful a week), read a few weeks at a time.
const FLAGS_PK: &str = "RISING";

/// A flag's sort key: its week first, so the weeks from one on are one key range.
fn flag_key(flag: &RisingFlag) -> String {
    format!("{}#{}#{}", flag.week, flag.service, flag.area)
}

/// How long a counted event's marker is kept: past SQS's longest retention (14 days), after which
/// no redelivery can come.
const MARKER_DAYS: i64 = 30;

fn month_of(day: NaiveDate) -> String {
    format!("METRICS#{:04}-{:02}", day.year(), day.month())
}

fn sort_key(key: &MetricsKey) -> String {
    format!(
        "{}#{}#{}#{}#{}#{}",
        key.day,
        u8::from(key.confidential),
        key.service,
        key.department,
        key.area,
        key.channel
    )
}

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn n(count: u64) -> AttributeValue {
    AttributeValue::N(count.to_string())
}

/// The update that adds `tally` to its row, making the row if it is new.
fn add_to_row(table: &str, key: &MetricsKey, tally: &Tally) -> PortResult<Update> {
    let mut values = HashMap::from([
        (":day".to_string(), s(key.day.to_string())),
        (":service".to_string(), s(&key.service)),
        (":department".to_string(), s(&key.department)),
        (":area".to_string(), s(&key.area)),
        (":channel".to_string(), s(&key.channel)),
        (
            ":confidential".to_string(),
            AttributeValue::Bool(key.confidential),
        ),
        (":opened".to_string(), n(tally.opened)),
        (":acknowledged".to_string(), n(tally.acknowledged)),
        (":closed".to_string(), n(tally.closed)),
        (":reopened".to_string(), n(tally.reopened)),
    ]);
    let mut adds = vec![
        "m_opened :opened".to_string(),
        "m_acknowledged :acknowledged".to_string(),
        "m_closed :closed".to_string(),
        "m_reopened :reopened".to_string(),
    ];
    for (prefix, sketch) in [("ack", &tally.to_acknowledge), ("close", &tally.to_close)] {
        for (bucket, count) in &sketch.buckets {
            adds.push(format!("{prefix}_{bucket} :{prefix}_{bucket}"));
            values.insert(format!(":{prefix}_{bucket}"), n(*count));
        }
    }
    Update::builder()
        .table_name(table)
        .key("PK", s(month_of(key.day)))
        .key("SK", s(sort_key(key)))
        .update_expression(format!(
            "SET m_day = :day, m_service = :service, m_department = :department, m_area = :area, \
             m_channel = :channel, m_confidential = :confidential ADD {}",
            adds.join(", ")
        ))
        .set_expression_attribute_values(Some(values))
        .build()
        .map_err(|e| unavailable("metrics update", e))
}

/// A counter item read back as its key and tally.
fn row_of(item: &HashMap<String, AttributeValue>) -> PortResult<(MetricsKey, Tally)> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(PortError::Unavailable(format!(
            "a metrics item has no `{name}`"
        ))),
    };
    let number = |value: &AttributeValue| match value {
        AttributeValue::N(count) => count.parse::<u64>().ok(),
        _ => None,
    };
    let count = |name: &str| item.get(name).and_then(number).unwrap_or(0);
    let day = text("m_day")?;
    let key = MetricsKey {
        day: day
            .parse()
            .map_err(|_| PortError::Unavailable(format!("a metrics item has the day `{day}`")))?,
        service: text("m_service")?,
        department: text("m_department")?,
        area: text("m_area")?,
        channel: text("m_channel")?,
        confidential: matches!(item.get("m_confidential"), Some(AttributeValue::Bool(true))),
    };
    let mut tally = Tally {
        opened: count("m_opened"),
        acknowledged: count("m_acknowledged"),
        closed: count("m_closed"),
        reopened: count("m_reopened"),
        ..Tally::default()
    };
    for (name, value) in item {
        let (sketch, bucket): (&mut DurationSketch, _) =
            if let Some(bucket) = name.strip_prefix("ack_") {
                (&mut tally.to_acknowledge, bucket)
            } else if let Some(bucket) = name.strip_prefix("close_") {
                (&mut tally.to_close, bucket)
            } else {
                continue;
            };
        if let (Ok(bucket), Some(count)) = (bucket.parse::<u16>(), number(value)) {
            if count > 0 {
                sketch.buckets.insert(bucket, count);
            }
        }
    }
    Ok((key, tally))
}

/// The months from `from`'s to `to`'s, as their partition keys.
fn months(from: NaiveDate, to: NaiveDate) -> Vec<String> {
    let mut months = Vec::new();
    let (mut year, mut month) = (from.year(), from.month());
    while (year, month) <= (to.year(), to.month()) {
        months.push(format!("METRICS#{year:04}-{month:02}"));
        (year, month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
    }
    months
}

#[async_trait::async_trait]
impl MetricsStore for DynamoStore {
    async fn count(&self, event_id: &str, tallies: &[(MetricsKey, Tally)]) -> PortResult<bool> {
        let expires = chrono::Utc::now().timestamp() + MARKER_DAYS * 86_400;
        let marker = Put::builder()
            .table_name(&self.table)
            .item("PK", s(format!("METRICS#EVENT#{event_id}")))
            .item("SK", s("EVENT"))
            .item("ttl", AttributeValue::N(expires.to_string()))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(|e| unavailable("metrics marker", e))?;
        // A transaction takes one operation per item: tallies of one row are added up first.
        let mut rows: std::collections::BTreeMap<&MetricsKey, Tally> = Default::default();
        for (key, tally) in tallies {
            rows.entry(key).or_default().add(tally);
        }
        let mut writes = vec![TransactWriteItem::builder().put(marker).build()];
        for (key, tally) in rows {
            writes.push(
                TransactWriteItem::builder()
                    .update(add_to_row(&self.table, key, &tally)?)
                    .build(),
            );
        }
        self.transact_items("metrics count", writes).await
    }

    async fn tallies(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> PortResult<Vec<(MetricsKey, Tally)>> {
        let mut rows = Vec::new();
        for month in months(from, to) {
            let values = HashMap::from([
                (":pk".to_string(), s(month)),
                (":first".to_string(), s(from.to_string())),
                (":last".to_string(), s(format!("{to}~"))),
            ]);
            let items = self
                .query_all(
                    None,
                    "PK = :pk AND SK BETWEEN :first AND :last",
                    values,
                    false,
                )
                .await?;
            for item in &items {
                rows.push(row_of(item)?);
            }
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(rows)
    }

    async fn raise(&self, flag: &RisingFlag) -> PortResult<bool> {
        let body = serde_json::to_string(flag).map_err(|e| unavailable("encode flag", e))?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(FLAGS_PK))
            .item("SK", s(flag_key(flag)))
            .item("flag", s(body))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        crate::dynamo::written(put, "rising flag")
    }

    async fn flags(&self, since_week: NaiveDate) -> PortResult<Vec<RisingFlag>> {
        let values = HashMap::from([
            (":pk".to_string(), s(FLAGS_PK)),
            (":first".to_string(), s(since_week.to_string())),
        ]);
        let items = self
            .query_all(None, "PK = :pk AND SK >= :first", values, false)
            .await?;
        let mut flags: Vec<RisingFlag> = items
            .iter()
            .map(|item| match item.get("flag") {
                Some(AttributeValue::S(body)) => {
                    serde_json::from_str(body).map_err(|e| unavailable("decode flag", e))
                }
                _ => Err(PortError::Unavailable(
                    "a rising flag item has no `flag`".into(),
                )),
            })
            .collect::<PortResult<_>>()?;
        flags.sort_by(|a, b| (a.week, &a.service, &a.area).cmp(&(b.week, &b.service, &b.area)));
        Ok(flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_year_reads_its_twelve_months() {
        let from = NaiveDate::from_ymd_opt(2025, 12, 15).unwrap();
        let to = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let read = months(from, to);
        assert_eq!(read.len(), 12);
        assert_eq!(read[0], "METRICS#2025-12");
        assert_eq!(read[11], "METRICS#2026-11");
    }
}
