//! The metrics' counters on SQLite, in the store's database: a row per counter key, and the events counted.

use chrono::NaiveDate;
use rusqlite::{params, OptionalExtension};

use crate::sqlite::{from_json, is_constraint, one_row, run, sqlite_error, to_json};
use crate::SqliteStore;
use cityfix_app::ports::{MetricsStore, PortError, PortResult};
use cityfix_domain::metrics::{MetricsKey, Tally};
use cityfix_domain::rising::RisingFlag;

#[async_trait::async_trait]
impl MetricsStore for SqliteStore {
    async fn count(&self, event_id: &str, tallies: &[(MetricsKey, Tally)]) -> PortResult<bool> {
        let (event_id, tallies) = (event_id.to_string(), tallies.to_vec());
        self.db
            .call(move |conn| {
                let step = conn.savepoint().map_err(sqlite_error)?;
                match run(
                    &step,
                    "INSERT INTO metrics_events (event_id) VALUES (?1)",
                    [&event_id],
                ) {
                    Ok(_) => {}
                    Err(error) if is_constraint(&error) => return Ok(false),
                    Err(error) => return Err(sqlite_error(error)),
                }
                for (key, tally) in &tallies {
                    let day = key.day.to_string();
                    let keyed = params![
                        day,
                        key.service,
                        key.department,
                        key.area,
                        key.channel,
                        key.confidential
                    ];
                    let stored: Option<String> = one_row(
                        &step,
                        "SELECT tally FROM metrics_tallies WHERE day = ?1 AND service = ?2
                             AND department = ?3 AND area = ?4 AND channel = ?5 AND confidential = ?6",
                        keyed,
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(sqlite_error)?;
                    let mut sum: Tally = stored.as_deref().map(from_json).transpose()?.unwrap_or_default();
                    sum.add(tally);
                    run(
                        &step,
                        "INSERT OR REPLACE INTO metrics_tallies
                             (day, service, department, area, channel, confidential, tally)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![
                            day,
                            key.service,
                            key.department,
                            key.area,
                            key.channel,
                            key.confidential,
                            to_json(&sum)
                        ],
                    )
                    .map_err(sqlite_error)?;
                }
                step.commit().map_err(sqlite_error)?;
                Ok(true)
            })
            .await
    }

    async fn tallies(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> PortResult<Vec<(MetricsKey, Tally)>> {
        let (from, to) = (from.to_string(), to.to_string());
        self.db
            .read(move |conn| {
                let mut select = conn
                    .prepare_cached(
                        "SELECT day, service, department, area, channel, confidential, tally
                             FROM metrics_tallies WHERE day >= ?1 AND day <= ?2
                             ORDER BY day, service, department, area, channel, confidential",
                    )
                    .map_err(sqlite_error)?;
                let mut rows = select.query([from, to]).map_err(sqlite_error)?;
                let mut tallies = Vec::new();
                while let Some(row) = rows.next().map_err(sqlite_error)? {
                    let text = |i: usize| -> Result<&str, PortError> {
                        row.get_ref(i).map_err(sqlite_error)?.as_str().map_err(|e| {
                            PortError::Unavailable(format!("a metrics row's column {i}: {e}"))
                        })
                    };
                    let day = text(0)?;
                    let day = day.parse().map_err(|_| {
                        PortError::Unavailable(format!("a metrics row has the day `{day}`"))
                    })?;
                    let key = MetricsKey {
                        day,
                        service: text(1)?.to_string(),
                        department: text(2)?.to_string(),
                        area: text(3)?.to_string(),
                        channel: text(4)?.to_string(),
                        confidential: row.get::<_, bool>(5).map_err(sqlite_error)?,
                    };
                    // Parsed where SQLite keeps the text, without a copy of it.
                    tallies.push((key, from_json(text(6)?)?));
                }
                Ok(tallies)
            })
            .await
    }

    async fn raise(&self, flag: &RisingFlag) -> PortResult<bool> {
        let flag = flag.clone();
        self.db
            .call(move |conn| {
                match run(
                    conn,
                    "INSERT INTO rising_flags (week, service, area, flag) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        flag.week.to_string(),
                        flag.service,
                        flag.area,
                        to_json(&flag)
                    ],
                ) {
                    Ok(_) => Ok(true),
                    Err(error) if is_constraint(&error) => Ok(false),
                    Err(error) => Err(sqlite_error(error)),
                }
            })
            .await
    }

    async fn flags(&self, since_week: NaiveDate) -> PortResult<Vec<RisingFlag>> {
        let since = since_week.to_string();
        self.db
            .read(move |conn| {
                let mut select = conn
                    .prepare_cached(
                        "SELECT flag FROM rising_flags WHERE week >= ?1 ORDER BY week, service, area",
                    )
                    .map_err(sqlite_error)?;
                let mut rows = select.query([since]).map_err(sqlite_error)?;
                let mut flags = Vec::new();
                while let Some(row) = rows.next().map_err(sqlite_error)? {
                    let text: String = row.get(0).map_err(sqlite_error)?;
                    flags.push(from_json(&text)?);
                }
                Ok(flags)
            })
            .await
    }
}
