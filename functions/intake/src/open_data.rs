//! Open data: the public fields of the requests made in a date range, as CSV and as GeoJSON, read
//! from the store a page at a time and streamed out, and the page that describes every column.
//!
//! Left out of every row: names, contacts, internal notes, photos (none are exported), attributes
//! (answers to a service's questions can be free text), the original description moderation
//! replaced, and whole requests that are hidden or of a confidential service. With
//! `location_decimals` set (site.toml `[open_data]`), points are rounded to that many decimals
//! of a degree and the address is left out, since it would give the point back.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cityfix_app::ports::{made_cursor, PortError, QueuePage, RequestStore};
use cityfix_domain::text::echo;
use cityfix_domain::{City, ServiceRequest, Status};
use cityfix_http::api::{shown_publicly, ApiError, ApiQuery};
use cityfix_http::city_time;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Requests read from the store at a time.
pub const PAGE_ROWS: u32 = 500;

/// The longest range one export covers, in days (a leap year).
pub const MAX_SPAN_DAYS: i64 = 366;

/// The most bytes of rows a response holds on Lambda, whose responses are at most 6 MB once
/// encoded: API Gateway's payload may carry the body base64-encoded (4/3) or JSON-escaped
/// (quotes doubled), and this leaves room for both.
pub const LAMBDA_RESPONSE_BYTES: usize = 2_500_000;

/// How much one response may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseSize {
    /// Every row of the range in one streamed body (the local runner): constant memory whatever
    /// the range holds.
    Streamed,
    /// Rows up to about this many bytes, then a `Link: <…>; rel="next"` header naming where the
    /// next response starts (Lambda, which cannot stream through API Gateway).
    Capped(usize),
}

/// What the open-data routes need.
pub struct OpenData {
    pub store: Arc<dyn RequestStore>,
    pub city: Arc<City>,
    /// Decimals of a degree kept in exported points (site.toml `[open_data] location_decimals`);
    /// `None` keeps them whole.
    pub location_decimals: Option<u32>,
    pub response_size: ResponseSize,
}

/// Every column of the exports, with what it means: the CSV header, the GeoJSON properties
/// (`lat` and `long` are the point's geometry there) and the data dictionary page.
pub const COLUMNS: &[(&str, &str)] = &[
    ("service_request_id", "The request's tracking number."),
    ("requested_datetime", "When it was made, in the city's time with its UTC offset (ISO 8601)."),
    ("updated_datetime", "When it last changed, in the city's time with its UTC offset."),
    ("closed_datetime", "When it was last closed; empty while it is being worked."),
    ("status", "`open` or `closed`, as Open311 GeoReport v2 has it (an archived request is closed)."),
    ("detailed_status", "`submitted` (not routed yet), `open`, `in_progress`, `closed` or `archived`."),
    ("resolution", "How it was closed: `fixed`, `duplicate`, `referred` (to another agency), `no_action` or `cancelled`; empty while open."),
    ("service_code", "The kind of problem, as the city's Open311 services list names it."),
    ("service_name", "The kind of problem in words."),
    ("description", "What the reporter wrote, as shown to the public (moderated where staff edited it)."),
    ("status_notes", "The city's latest public note on its progress."),
    ("address", "The address given or found for the point; empty when the city rounds locations."),
    ("lat", "Latitude (WGS 84), rounded to the city's setting (see below)."),
    ("long", "Longitude (WGS 84), rounded to the city's setting."),
    ("department", "The id of the city department it was routed to; empty before routing or when referred."),
    ("agency_responsible", "The department or outside agency working it, by name."),
    ("channel", "Where it came from: `web`, or the name of the Open311 client (a phone app, the call centre)."),
    ("supporters", "How many other people said they have the same problem."),
    ("duplicate_of", "The tracking number of the request it was closed as a duplicate of."),
];

/// One exported row: the public fields only, in [`COLUMNS`] order.
#[derive(Debug, Serialize)]
struct PublicRow {
    service_request_id: String,
    requested_datetime: String,
    updated_datetime: String,
    closed_datetime: Option<String>,
    status: &'static str,
    detailed_status: &'static str,
    resolution: Option<&'static str>,
    service_code: String,
    service_name: String,
    description: Option<String>,
    status_notes: Option<String>,
    address: Option<String>,
    lat: f64,
    long: f64,
    department: Option<String>,
    agency_responsible: Option<String>,
    channel: String,
    supporters: u32,
    duplicate_of: Option<String>,
}

impl PublicRow {
    fn of(open: &OpenData, request: &ServiceRequest) -> Self {
        let round = |degrees: f64| match open.location_decimals {
            Some(decimals) => {
                let scale = 10f64.powi(decimals as i32);
                (degrees * scale).round() / scale
            }
            None => degrees,
        };
        let closed = matches!(request.status, Status::Closed | Status::Archived);
        PublicRow {
            service_request_id: request.id.to_string(),
            requested_datetime: city_time(&open.city, request.requested_at),
            updated_datetime: city_time(&open.city, request.updated_at),
            closed_datetime: request
                .closed_at
                .filter(|_| closed)
                .map(|at| city_time(&open.city, at)),
            status: request.status.open311(),
            detailed_status: request.status.as_str(),
            resolution: request.resolution.filter(|_| closed).map(|r| r.as_str()),
            service_code: request.service_code.clone(),
            service_name: request.service_name.clone(),
            description: request.description.clone(),
            status_notes: request.status_notes.clone(),
            address: request
                .address
                .clone()
                .filter(|_| open.location_decimals.is_none()),
            lat: round(request.location.lat()),
            long: round(request.location.long()),
            department: request.department.clone(),
            agency_responsible: request.agency_responsible.clone(),
            channel: request.channel.clone(),
            supporters: request.supporters,
            duplicate_of: request.duplicate_of.as_ref().map(|id| id.to_string()),
        }
    }
}

/// The first characters that make a spreadsheet read a cell as a formula (`=`, `+`, `-`, `@`) or
/// that some read past (a tab, a carriage return) before one.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `text` as a spreadsheet shows it but never runs it: a leading `'` before a formula start, as
/// OWASP's advice on CSV injection has it. Other text is unchanged.
fn neutralise_formula(text: String) -> String {
    if text.starts_with(FORMULA_STARTS) {
        format!("'{text}")
    } else {
        text
    }
}

impl PublicRow {
    /// The row for the CSV export: every free-text cell a resident, a staff member or a client
    /// wrote neutralised against formula injection (GeoJSON keeps the text as written).
    fn for_spreadsheets(&self) -> PublicRow {
        let text = |t: &Option<String>| t.clone().map(neutralise_formula);
        PublicRow {
            service_request_id: self.service_request_id.clone(),
            requested_datetime: self.requested_datetime.clone(),
            updated_datetime: self.updated_datetime.clone(),
            closed_datetime: self.closed_datetime.clone(),
            status: self.status,
            detailed_status: self.detailed_status,
            resolution: self.resolution,
            service_code: self.service_code.clone(),
            service_name: neutralise_formula(self.service_name.clone()),
            description: text(&self.description),
            status_notes: text(&self.status_notes),
            address: text(&self.address),
            lat: self.lat,
            long: self.long,
            department: self.department.clone(),
            agency_responsible: text(&self.agency_responsible),
            channel: neutralise_formula(self.channel.clone()),
            supporters: self.supporters,
            duplicate_of: self.duplicate_of.clone(),
        }
    }
}

/// The two formats of the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    GeoJson,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::GeoJson => "application/geo+json",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Format::Csv => "/open-data/requests.csv",
            Format::GeoJson => "/open-data/requests.geojson",
        }
    }

    /// What comes before the first row.
    fn opening(self) -> Vec<u8> {
        match self {
            Format::Csv => {
                let mut writer = csv::Writer::from_writer(Vec::new());
                // Writing to memory cannot fail.
                let _ = writer.write_record(COLUMNS.iter().map(|(name, _)| name));
                writer.into_inner().unwrap_or_default()
            }
            Format::GeoJson => br#"{"type":"FeatureCollection","features":["#.to_vec(),
        }
    }

    /// What comes after the last row.
    fn closing(self) -> &'static [u8] {
        match self {
            Format::Csv => b"",
            Format::GeoJson => b"]}\n",
        }
    }

    /// One row, written after `written` rows of this response.
    fn row(self, row: &PublicRow, written: u64) -> Vec<u8> {
        match self {
            Format::Csv => {
                let mut writer = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(Vec::new());
                let _ = writer.serialize(row.for_spreadsheets());
                writer.into_inner().unwrap_or_default()
            }
            Format::GeoJson => {
                let mut properties = serde_json::to_value(row).unwrap_or(Value::Null);
                if let Value::Object(map) = &mut properties {
                    map.remove("lat");
                    map.remove("long");
                }
                let feature = json!({
                    "type": "Feature",
                    "id": row.service_request_id,
                    "geometry": { "type": "Point", "coordinates": [row.long, row.lat] },
                    "properties": properties,
                });
                let mut bytes = if written == 0 {
                    Vec::new()
                } else {
                    b",".to_vec()
                };
                bytes.extend(serde_json::to_vec(&feature).unwrap_or_default());
                bytes
            }
        }
    }
}

/// The query of an export.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    from: Option<String>,
    to: Option<String>,
    /// Where a capped response's `Link` said the next one starts.
    after: Option<String>,
}

/// The instants an export covers: from the start of `from`'s day to the end of `to`'s, in the
/// city's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Range {
    from_date: NaiveDate,
    to_date: NaiveDate,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

fn invalid(field: &str, message: String) -> ApiError {
    let mut error = ApiError::new(StatusCode::BAD_REQUEST, "invalid_range", message);
    error.field = Some(field.into());
    error
}

fn date(field: &str, given: Option<&str>) -> Result<NaiveDate, ApiError> {
    let given = given.ok_or_else(|| {
        invalid(
            field,
            format!("`{field}` is required: a date such as 2026-01-31"),
        )
    })?;
    NaiveDate::parse_from_str(given, "%Y-%m-%d").map_err(|_| {
        invalid(
            field,
            format!(
                "`{field}` must be a date such as 2026-01-31, not `{}`",
                echo(given)
            ),
        )
    })
}

/// The start of `day` in the city (the first instant of it, where a clock change skips midnight).
fn day_start(city: &City, day: NaiveDate) -> Option<DateTime<Utc>> {
    (0..3).find_map(|hour| {
        city.timezone
            .from_local_datetime(&day.and_hms_opt(hour, 0, 0)?)
            .earliest()
            .map(|at| at.with_timezone(&Utc))
    })
}

fn range(city: &City, query: &ExportQuery) -> Result<Range, ApiError> {
    let from_date = date("from", query.from.as_deref())?;
    let to_date = date("to", query.to.as_deref())?;
    if to_date < from_date {
        return Err(invalid(
            "to",
            format!("`to` ({to_date}) is before `from` ({from_date})"),
        ));
    }
    let days = (to_date - from_date).num_days() + 1;
    if days > MAX_SPAN_DAYS {
        return Err(invalid(
            "to",
            format!("a range covers at most {MAX_SPAN_DAYS} days; this one covers {days}: ask for it a year at a time"),
        ));
    }
    let out_of_range = || invalid("to", "the dates are out of range".into());
    let start = day_start(city, from_date).ok_or_else(out_of_range)?;
    let end = to_date
        .succ_opt()
        .and_then(|next| day_start(city, next))
        .ok_or_else(out_of_range)?;
    Ok(Range {
        from_date,
        to_date,
        start,
        end,
    })
}

/// Reads one page of the range; a cursor the store does not take is the caller's fault.
async fn page(open: &OpenData, range: &Range, after: Option<&str>) -> Result<QueuePage, ApiError> {
    match open
        .store
        .requests_made(range.start, range.end, after, PAGE_ROWS)
        .await
    {
        Err(PortError::NotFound(message)) => Err(invalid("after", message)),
        other => Ok(other?),
    }
}

/// Where the export goes on: the next page, or none after the last.
struct Reading {
    open: Arc<OpenData>,
    range: Range,
    format: Format,
    next: Option<String>,
    written: u64,
    finished: bool,
}

impl Reading {
    /// The rows of a page that the public may see, written out.
    fn write(&mut self, requests: &[ServiceRequest], into: &mut Vec<u8>) {
        for request in requests
            .iter()
            .filter(|request| shown_publicly(&self.open.city, request))
        {
            into.extend(
                self.format
                    .row(&PublicRow::of(&self.open, request), self.written),
            );
            self.written += 1;
        }
    }

    /// The next piece of a streamed body: a page's rows, then the closing; `None` once done.
    async fn next_chunk(mut self) -> Option<(Result<Vec<u8>, std::io::Error>, Self)> {
        if self.finished {
            return None;
        }
        let Some(after) = self.next.take() else {
            self.finished = true;
            return Some((Ok(self.format.closing().to_vec()), self));
        };
        match page(&self.open, &self.range, Some(&after)).await {
            Ok(page) => {
                let mut chunk = Vec::new();
                self.write(&page.requests, &mut chunk);
                self.next = page.next;
                Some((Ok(chunk), self))
            }
            Err(_) => {
                // The body is cut short, so the client sees a broken download, not a short one.
                tracing::error!(
                    after = %after,
                    "the open-data export stopped: the store failed mid-way"
                );
                self.finished = true;
                Some((
                    Err(std::io::Error::other("the store failed mid-export")),
                    self,
                ))
            }
        }
    }
}

async fn export(open: Arc<OpenData>, format: Format, query: ExportQuery) -> Response {
    match export_or_refuse(open, format, query).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn export_or_refuse(
    open: Arc<OpenData>,
    format: Format,
    query: ExportQuery,
) -> Result<Response, ApiError> {
    let range = range(&open.city, &query)?;
    // The first page is read before answering, so a failing store or a bad cursor is a clear
    // error rather than a 200 cut short.
    let first = page(&open, &range, query.after.as_deref()).await?;
    let mut reading = Reading {
        open: open.clone(),
        range,
        format,
        next: first.next.clone(),
        written: 0,
        finished: false,
    };
    let mut body = format.opening();
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ),
    ];
    match open.response_size {
        ResponseSize::Streamed => {
            reading.write(&first.requests, &mut body);
            let rest = futures_util::stream::unfold(reading, Reading::next_chunk);
            let opening = futures_util::stream::once(async { Ok::<_, std::io::Error>(body) });
            use futures_util::StreamExt;
            Ok((headers, Body::from_stream(opening.chain(rest))).into_response())
        }
        ResponseSize::Capped(bytes) => {
            let (body, next) = capped(&mut reading, first, body, bytes).await?;
            let mut response = (headers, body).into_response();
            if let Some(after) = next {
                let link = format!(
                    "<{}?from={}&to={}&after={}>; rel=\"next\"",
                    format.path(),
                    reading.range.from_date,
                    reading.range.to_date,
                    form_urlencoded::byte_serialize(after.as_bytes()).collect::<String>()
                );
                if let Ok(link) = HeaderValue::from_str(&link) {
                    response.headers_mut().insert(header::LINK, link);
                }
            }
            Ok(response)
        }
    }
}

/// A body of rows up to about `bytes` (at least one row, so every response moves on), closed,
/// and the cursor the next response starts from when rows were left for it.
async fn capped(
    reading: &mut Reading,
    first: QueuePage,
    mut body: Vec<u8>,
    bytes: usize,
) -> Result<(Vec<u8>, Option<String>), ApiError> {
    let mut page = first;
    // The cursor of the last request taken (written, or left out as not public).
    let mut taken: Option<String> = None;
    loop {
        for request in &page.requests {
            if body.len() >= bytes && reading.written > 0 {
                body.extend(reading.format.closing());
                return Ok((body, taken));
            }
            reading.write(std::slice::from_ref(request), &mut body);
            taken = Some(made_cursor(request));
        }
        match page.next.take() {
            Some(after) => page = self::page(&reading.open, &reading.range, Some(&after)).await?,
            None => {
                body.extend(reading.format.closing());
                return Ok((body, None));
            }
        }
    }
}

/// The data dictionary: what the exports hold, column by column.
async fn dictionary(State(open): State<Arc<OpenData>>) -> Html<String> {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let rows: String = COLUMNS
        .iter()
        .map(|(name, meaning)| {
            format!(
                "<tr><th scope=\"row\"><code>{name}</code></th><td>{}</td></tr>\n",
                escape(meaning).replace('`', "")
            )
        })
        .collect();
    let rounding = match open.location_decimals {
        Some(decimals) => format!(
            "Points are rounded to {decimals} decimal places of a degree (about {} metres north to south), and the address is left out, so that no report points at a home.",
            (111_320.0 / 10f64.powi(decimals as i32)).round()
        ),
        None => "Points are exported as reported (the city does not round them), with their address.".into(),
    };
    Html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Open data: service requests — {city}</title>
<link rel="stylesheet" href="/open-data/dictionary.css">
</head>
<body>
<main>
<h1>Open data: {city} service requests</h1>
<p>Every request made to {city} 311 in a date range, one row per request, with public fields only. Names, contact details, internal notes, photos, answers to a service's questions, requests staff hid from public view and confidential reports are never included.</p>
<h2>Downloads</h2>
<ul>
<li><a href="/open-data/requests.csv?from={example_from}&amp;to={example_to}">CSV</a>: <code>/open-data/requests.csv?from=YYYY-MM-DD&amp;to=YYYY-MM-DD</code></li>
<li><a href="/open-data/requests.geojson?from={example_from}&amp;to={example_to}">GeoJSON</a> (a FeatureCollection of points): <code>/open-data/requests.geojson?from=YYYY-MM-DD&amp;to=YYYY-MM-DD</code></li>
</ul>
<p><code>from</code> and <code>to</code> are days in the city's time zone ({zone}), both included, by the day a request was made; a range covers at most {max} days. Rows come oldest first. A response that carries a <code>Link</code> header with <code>rel="next"</code> holds part of the range: follow the link for the rest.</p>
<p>{rounding}</p>
<p>In the CSV file, a text cell that would start with <code>=</code>, <code>+</code>, <code>-</code>, <code>@</code>, a tab or a carriage return starts with an apostrophe (<code>'</code>) before it, so that a spreadsheet shows the text rather than running it as a formula. The GeoJSON file holds the text as written.</p>
<h2>Columns</h2>
<table>
<caption>The columns of the CSV file, in order; in GeoJSON each is a property of the feature except <code>lat</code> and <code>long</code>, which are its point.</caption>
<thead><tr><th scope="col">Column</th><th scope="col">What it holds</th></tr></thead>
<tbody>
{rows}</tbody>
</table>
</main>
</body>
</html>
"#,
        city = escape(&open.city.name),
        zone = open.city.timezone.name(),
        max = MAX_SPAN_DAYS,
        example_from = "2026-01-01",
        example_to = "2026-01-31",
    ))
}

/// The dictionary page's look, as a file of its own: the API's Content-Security-Policy
/// (`style-src 'self'`) refuses an inline `<style>`, which left the page unstyled.
const DICTIONARY_CSS: &str = "body { font-family: system-ui, sans-serif; line-height: 1.5; max-width: 60rem; margin: 0 auto; padding: 1rem; color: #1a1a1a; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #767676; padding: 0.4rem 0.6rem; text-align: left; vertical-align: top; }
a { color: #0b5394; }
";

async fn dictionary_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        DICTIONARY_CSS,
    )
}

/// The open-data routes: the dictionary at `/open-data/` (and its stylesheet) and the two exports.
pub fn open_data_router(open: OpenData) -> Router {
    let open = Arc::new(open);
    Router::new()
        .route("/open-data", get(dictionary))
        .route("/open-data/", get(dictionary))
        .route("/open-data/dictionary.css", get(dictionary_css))
        .route(
            "/open-data/requests.csv",
            get(
                |State(open): State<Arc<OpenData>>, ApiQuery(query): ApiQuery<ExportQuery>| {
                    export(open, Format::Csv, query)
                },
            ),
        )
        .route(
            "/open-data/requests.geojson",
            get(
                |State(open): State<Arc<OpenData>>, ApiQuery(query): ApiQuery<ExportQuery>| {
                    export(open, Format::GeoJson, query)
                },
            ),
        )
        .with_state(open)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_a_spreadsheet_would_run_as_a_formula_is_kept_from_running() {
        for (given, exported) in [
            (
                "=HYPERLINK(\"http://x.example\",\"click\")",
                "'=HYPERLINK(\"http://x.example\",\"click\")",
            ),
            ("+1 555 0100", "'+1 555 0100"),
            ("-5 degrees and icy", "'-5 degrees and icy"),
            ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
            ("\t=1+1", "'\t=1+1"),
            ("\r=1+1", "'\r=1+1"),
            ("Pothole, 3 ft = big", "Pothole, 3 ft = big"),
            ("", ""),
        ] {
            assert_eq!(neutralise_formula(given.into()), exported, "{given:?}");
        }
    }

    #[test]
    fn the_csv_header_names_every_field_of_a_row_in_order() {
        let header: Vec<&str> = COLUMNS.iter().map(|(name, _)| *name).collect();
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer
            .serialize(PublicRow {
                service_request_id: String::new(),
                requested_datetime: String::new(),
                updated_datetime: String::new(),
                closed_datetime: None,
                status: "open",
                detailed_status: "open",
                resolution: None,
                service_code: String::new(),
                service_name: String::new(),
                description: None,
                status_notes: None,
                address: None,
                lat: 0.0,
                long: 0.0,
                department: None,
                agency_responsible: None,
                channel: String::new(),
                supporters: 0,
                duplicate_of: None,
            })
            .unwrap();
        let written = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        assert_eq!(written.lines().next().unwrap(), header.join(","));
    }
}
