//! The metrics page (`/admin/metrics`) and its CSV downloads: the staff route's metrics answer
//! drawn on the server as SVG charts, each with the table it is drawn from, so nothing needs a
//! script and every figure can be read without seeing a chart.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use cityfix_app::metrics::area_names;
use cityfix_http::auth::{Role, StaffClaims};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::pages::{base, encode, problem, refused_page};
use crate::session::Session;
use crate::Admin;

type Shared = State<Arc<Admin>>;

/// The page's filters, as the form sends them (an empty field is no filter).
#[derive(Debug, Default, Deserialize)]
pub struct MetricsPageQuery {
    from: Option<String>,
    to: Option<String>,
    service: Option<String>,
    department: Option<String>,
    area: Option<String>,
    /// For the CSV: `days` (default), `services`, `departments`, `areas` or `channels`.
    table: Option<String>,
}

impl MetricsPageQuery {
    /// The filters given, in the order the form has them.
    fn given(&self) -> Vec<(&'static str, &str)> {
        [
            ("from", &self.from),
            ("to", &self.to),
            ("service", &self.service),
            ("department", &self.department),
            ("area", &self.area),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| (name, v))
        })
        .collect()
    }

    /// The filters as a query string (`a=b&c=d`).
    fn query_string(&self) -> String {
        self.given()
            .iter()
            .map(|(name, value)| format!("{name}={}", encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Supervisors, admins and ethics read the metrics page; others are sent to the staff route.
fn reads_metrics_page(claims: &StaffClaims) -> bool {
    matches!(claims.role, Role::Supervisor | Role::Admin | Role::Ethics)
}

/// A number of seconds as staff say it: minutes, hours or days.
fn span(secs: &Value) -> String {
    let Some(secs) = secs.as_f64() else {
        return "–".into();
    };
    if secs < 3_600.0 {
        format!("{:.0} min", secs / 60.0)
    } else if secs < 48.0 * 3_600.0 {
        format!("{:.1} h", secs / 3_600.0)
    } else {
        format!("{:.1} days", secs / 86_400.0)
    }
}

fn percent(share: &Value) -> String {
    share
        .as_f64()
        .map_or_else(|| "–".into(), |s| format!("{:.0}%", s * 100.0))
}

/// Text put inside SVG markup, escaped.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or(0.0)
}

/// Opened per day as bars, closed per day as a line over them.
fn volume_chart(days: &[Value]) -> String {
    let (width, height, left, bottom) = (720.0, 240.0, 44.0, 28.0);
    let top = 12.0;
    let most = days
        .iter()
        .flat_map(|d| [number(&d["opened"]), number(&d["closed"])])
        .fold(1.0f64, f64::max);
    let plot_w = width - left - 8.0;
    let plot_h = height - top - bottom;
    let step = plot_w / days.len().max(1) as f64;
    let y = |v: f64| top + plot_h * (1.0 - v / most);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="volume-title volume-desc" xmlns="http://www.w3.org/2000/svg"><title id="volume-title">Requests made and closed per day</title><desc id="volume-desc">Bars: requests made each day; line: requests closed each day. The table below gives every figure.</desc>"#
    );
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#555"/><text x="{}" y="{}" text-anchor="end" font-size="12" fill="#222">{most}</text><text x="{}" y="{}" text-anchor="end" font-size="12" fill="#222">0</text>"##,
        y(0.0),
        width - 8.0,
        y(0.0),
        left - 4.0,
        y(most) + 4.0,
        left - 4.0,
        y(0.0),
    );
    for (i, day) in days.iter().enumerate() {
        let opened = number(&day["opened"]);
        let x = left + i as f64 * step;
        let _ = write!(
            svg,
            r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#1d5fa8"><title>{}: {opened} made</title></rect>"##,
            y(opened),
            (step * 0.8).max(0.5),
            y(0.0) - y(opened),
            esc(day["day"].as_str().unwrap_or_default()),
        );
    }
    let points: Vec<String> = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            format!(
                "{:.1},{:.1}",
                left + (i as f64 + 0.4) * step,
                y(number(&d["closed"]))
            )
        })
        .collect();
    let _ = write!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#b34700" stroke-width="2"/>"##,
        points.join(" ")
    );
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let _ = write!(
            svg,
            r##"<text x="{left}" y="{}" font-size="12" fill="#222">{}</text><text x="{}" y="{}" text-anchor="end" font-size="12" fill="#222">{}</text>"##,
            height - 8.0,
            esc(first["day"].as_str().unwrap_or_default()),
            width - 8.0,
            height - 8.0,
            esc(last["day"].as_str().unwrap_or_default()),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars, one per labelled value, with the value written at the bar's end.
fn bar_chart(id: &str, title: &str, desc: &str, bars: &[(String, f64, String)]) -> String {
    let (width, row, left) = (720.0, 26.0, 260.0);
    let height = row * bars.len().max(1) as f64 + 8.0;
    let most = bars.iter().map(|b| b.1).fold(0.0f64, f64::max).max(1e-9);
    let plot_w = width - left - 110.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        esc(title),
        esc(desc)
    );
    if bars.is_empty() {
        let _ = write!(
            svg,
            r##"<text x="8" y="{:.1}" font-size="13" fill="#222">Nothing counted.</text>"##,
            row * 0.65
        );
    }
    for (i, (label, value, shown)) in bars.iter().enumerate() {
        let y = 4.0 + i as f64 * row;
        let w = (plot_w * value / most).max(0.0);
        let label: String = label.chars().take(36).collect();
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="13" fill="#222">{}</text><rect x="{left}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="#1d5fa8"/><text x="{:.1}" y="{:.1}" font-size="13" fill="#222">{}</text>"##,
            left - 6.0,
            y + row * 0.65,
            esc(&label),
            y + 3.0,
            row - 8.0,
            left + w + 6.0,
            y + row * 0.65,
            esc(shown),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One row of a table of figures, as the page shows it.
fn figures_row(figures: &Value) -> Value {
    json!({
        "opened": figures["opened"],
        "acknowledged": figures["acknowledged"],
        "closed": figures["closed"],
        "reopened": figures["reopened"],
        "ack_median": span(&figures["to_acknowledge"]["median_seconds"]),
        "ack_p90": span(&figures["to_acknowledge"]["p90_seconds"]),
        "close_median": span(&figures["to_close"]["median_seconds"]),
        "close_p90": span(&figures["to_close"]["p90_seconds"]),
        "reopen_rate": percent(&figures["reopen_rate"]),
        "target": percent(&figures["target"]["share"]),
    })
}

fn parts_rows(parts: &Value) -> Vec<Value> {
    parts
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .map(|p| {
                    let mut row = figures_row(p);
                    row["name"] = p["name"].clone();
                    row
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The choices of the filter form this person may pick from.
fn choices(admin: &Admin, claims: &StaffClaims) -> Value {
    let ethics = claims.role == Role::Ethics;
    let services: Vec<Value> = admin
        .city
        .services
        .iter()
        .filter(|s| s.confidential == ethics)
        .map(|s| json!({ "code": s.code, "name": s.name }))
        .collect();
    let departments: Vec<Value> = admin
        .city
        .departments
        .iter()
        .map(|d| json!({ "id": d.id, "name": d.name }))
        .collect();
    json!({ "services": services, "departments": departments, "areas": area_names(&admin.city) })
}

/// The metrics answer for these filters, as this person may read it.
async fn read(
    admin: &Admin,
    session: &Session,
    query: &MetricsPageQuery,
) -> Result<Value, crate::staff_api::Refusal> {
    let filters = query.query_string();
    let path = if filters.is_empty() {
        "/staff/v1/metrics".to_string()
    } else {
        format!("/staff/v1/metrics?{filters}")
    };
    admin.api.get(&session.claims, &path).await
}

/// `GET /admin/metrics`.
pub async fn metrics(
    State(admin): Shared,
    session: Session,
    Query(query): Query<MetricsPageQuery>,
) -> Response {
    if !reads_metrics_page(&session.claims) {
        return problem(
            &admin,
            Some(&session),
            StatusCode::FORBIDDEN,
            "Not yours to see",
            "The metrics page is for supervisors, administrators and ethics officers. Staff read their department's figures through /staff/v1/metrics.",
        );
    }
    let mut context = base(&admin, Some(&session), "metrics");
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    context.insert(
        "filter".into(),
        json!({
            "from": text(&query.from), "to": text(&query.to), "service": text(&query.service),
            "department": text(&query.department), "area": text(&query.area),
        }),
    );
    context.insert("choices".into(), choices(&admin, &session.claims));
    let answer = match read(&admin, &session, &query).await {
        Ok(answer) => answer,
        Err(refusal) if refusal.status == StatusCode::BAD_REQUEST => {
            context.insert(
                "error".into(),
                json!(format!(
                    "These filters cannot be shown: {}",
                    refusal.message
                )),
            );
            return admin
                .views
                .page(StatusCode::BAD_REQUEST, "metrics.html", context);
        }
        Err(refusal) => return refused_page(&admin, &session, refusal),
    };
    let days = answer["days"].as_array().cloned().unwrap_or_default();
    let total = &answer["total"];
    let services = answer["by_service"].as_array().cloned().unwrap_or_default();
    let service_bars: Vec<(String, f64, String)> = services
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_string(),
                number(&s["opened"]),
                format!("{} made", number(&s["opened"])),
            )
        })
        .collect();
    let hours = |v: &Value| number(v) / 3_600.0;
    let duration_bars = vec![
        (
            "To acknowledge, median".to_string(),
            hours(&total["to_acknowledge"]["median_seconds"]),
            span(&total["to_acknowledge"]["median_seconds"]),
        ),
        (
            "To acknowledge, p90".to_string(),
            hours(&total["to_acknowledge"]["p90_seconds"]),
            span(&total["to_acknowledge"]["p90_seconds"]),
        ),
        (
            "To close, median".to_string(),
            hours(&total["to_close"]["median_seconds"]),
            span(&total["to_close"]["median_seconds"]),
        ),
        (
            "To close, p90".to_string(),
            hours(&total["to_close"]["p90_seconds"]),
            span(&total["to_close"]["p90_seconds"]),
        ),
    ];
    let day_rows: Vec<Value> = days
        .iter()
        .map(|d| {
            let mut row = figures_row(d);
            row["day"] = d["day"].clone();
            row
        })
        .collect();
    let filters = query.query_string();
    let csv = |table: &str| {
        if filters.is_empty() {
            format!("/admin/metrics.csv?table={table}")
        } else {
            format!("/admin/metrics.csv?table={table}&{filters}")
        }
    };
    context.extend([
        ("from".into(), answer["from"].clone()),
        ("to".into(), answer["to"].clone()),
        ("total".into(), figures_row(total)),
        (
            "target".into(),
            json!({ "closed": total["target"]["closed"], "within": total["target"]["within"] }),
        ),
        ("volume_chart".into(), json!(volume_chart(&days))),
        (
            "duration_chart".into(),
            json!(bar_chart(
                "durations",
                "How long acknowledging and closing took",
                "Median and 90th percentile of the time from a report being made to its acknowledgement and to its closing, in hours. The table beside gives the figures.",
                &duration_bars,
            )),
        ),
        (
            "service_chart".into(),
            json!(bar_chart(
                "services",
                "Requests made by service",
                "One bar per service: how many requests were made. The table below gives every figure.",
                &service_bars,
            )),
        ),
        ("days".into(), json!(day_rows)),
        ("rising".into(), json!(rising_rows(&answer["rising"]))),
        (
            "tables".into(),
            json!([
                { "id": "by-service", "title": "By service", "first": "Service", "rows": parts_rows(&answer["by_service"]), "csv": csv("services") },
                { "id": "by-department", "title": "By department", "first": "Department", "rows": parts_rows(&answer["by_department"]), "csv": csv("departments") },
                { "id": "by-area", "title": "By area", "first": "Area", "rows": parts_rows(&answer["by_area"]), "csv": csv("areas") },
                { "id": "by-channel", "title": "By channel", "first": "Channel", "rows": parts_rows(&answer["by_channel"]), "csv": csv("channels") },
            ]),
        ),
        (
            "csv".into(),
            json!({
                "days": csv("days"), "services": csv("services"), "departments": csv("departments"),
                "areas": csv("areas"), "channels": csv("channels"),
            }),
        ),
    ]);
    admin.views.page(StatusCode::OK, "metrics.html", context)
}

/// A CSV field, quoted when it holds a separator, a quote or a line break; a text that a
/// spreadsheet would take for a formula is kept as text.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The figures of a CSV row: counts, and durations in hours to one decimal.
fn csv_figures(figures: &Value) -> Vec<String> {
    let hours = |v: &Value| {
        v.as_f64()
            .map_or_else(String::new, |s| format!("{:.1}", s / 3_600.0))
    };
    let count = |v: &Value| v.as_u64().unwrap_or(0).to_string();
    vec![
        count(&figures["opened"]),
        count(&figures["acknowledged"]),
        count(&figures["closed"]),
        count(&figures["reopened"]),
        hours(&figures["to_acknowledge"]["median_seconds"]),
        hours(&figures["to_acknowledge"]["p90_seconds"]),
        hours(&figures["to_close"]["median_seconds"]),
        hours(&figures["to_close"]["p90_seconds"]),
        count(&figures["target"]["closed"]),
        count(&figures["target"]["within"]),
    ]
}

const CSV_FIGURES: &str = "opened,acknowledged,closed,reopened,hours_to_acknowledge_median,hours_to_acknowledge_p90,hours_to_close_median,hours_to_close_p90,closed_with_target,closed_within_target";

/// `GET /admin/metrics.csv?table=…`: one of the page's tables as CSV, with the same filters.
/// Only counts and durations, and the names of services, departments, areas and channels.
pub async fn metrics_csv(
    State(admin): Shared,
    session: Session,
    Query(query): Query<MetricsPageQuery>,
) -> Response {
    let plain = |status: StatusCode, message: String| {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            message,
        )
            .into_response()
    };
    if !reads_metrics_page(&session.claims) {
        return plain(
            StatusCode::FORBIDDEN,
            "The metrics are for supervisors, administrators and ethics officers.\n".into(),
        );
    }
    let table = query.table.as_deref().unwrap_or("days");
    let list = match table {
        "days" => None,
        "services" => Some("by_service"),
        "departments" => Some("by_department"),
        "areas" => Some("by_area"),
        "channels" => Some("by_channel"),
        other => {
            return plain(
                StatusCode::BAD_REQUEST,
                format!(
                    "`{}` is not a table; the tables are days, services, departments, areas and channels\n",
                    cityfix_domain::text::echo(other)
                ),
            )
        }
    };
    let answer = match read(&admin, &session, &query).await {
        Ok(answer) => answer,
        Err(refusal) => return plain(refusal.status, format!("{}\n", refusal.message)),
    };
    let mut csv = String::new();
    match list {
        None => {
            let _ = writeln!(csv, "day,{CSV_FIGURES}");
            for day in answer["days"].as_array().into_iter().flatten() {
                let mut fields = vec![csv_field(day["day"].as_str().unwrap_or_default())];
                fields.extend(csv_figures(day));
                let _ = writeln!(csv, "{}", fields.join(","));
            }
        }
        Some(list) => {
            let _ = writeln!(csv, "key,name,{CSV_FIGURES}");
            for part in answer[list].as_array().into_iter().flatten() {
                let mut fields = vec![
                    csv_field(part["key"].as_str().unwrap_or_default()),
                    csv_field(part["name"].as_str().unwrap_or_default()),
                ];
                fields.extend(csv_figures(part));
                let _ = writeln!(csv, "{}", fields.join(","));
            }
        }
    }
    let filename = format!(
        "metrics-{table}-{}-{}.csv",
        answer["from"].as_str().unwrap_or_default(),
        answer["to"].as_str().unwrap_or_default()
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        csv,
    )
        .into_response()
}

/// The current rising-concern flags as the page's table shows them: the usual week to one decimal.
fn rising_rows(flags: &serde_json::Value) -> Vec<serde_json::Value> {
    flags
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|flag| {
            json!({
                "service": flag["service_name"],
                "area": flag["area_name"],
                "count": flag["count"],
                "usual": format!("{:.1}", flag["usual"].as_f64().unwrap_or(0.0)),
                "since": flag["since"],
                "to": flag["to"],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_staff_say_them() {
        assert_eq!(span(&json!(600)), "10 min");
        assert_eq!(span(&json!(5_400)), "1.5 h");
        assert_eq!(span(&json!(259_200)), "3.0 days");
        assert_eq!(span(&Value::Null), "–");
    }

    #[test]
    fn a_chart_escapes_its_labels() {
        let svg = bar_chart(
            "x",
            "T <b>",
            "D",
            &[("A & <B>".into(), 3.0, "3 made".into())],
        );
        assert!(svg.contains("A &amp; &lt;B&gt;"), "{svg}");
        assert!(!svg.contains("<b>"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(bar_chart("y", "T", "D", &[]).contains("Nothing counted."));
    }

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("Parks, Recreation"), "\"Parks, Recreation\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("web"), "web");
    }
}
