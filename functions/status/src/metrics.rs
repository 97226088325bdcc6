//! Staff over HTTP on the metrics: `GET /staff/v1/metrics`, the counters of a range of days added
//! up as the signed-in person may see them (their department's for staff, the confidential
//! reports' for ethics only), by day and by service, department, area and channel.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{Duration, NaiveDate};
use cityfix_app::metrics::{
    answer, area_names, MetricsAnswer, MetricsFilter, Scope, MAX_ANSWER_DAYS,
};
use cityfix_domain::text::echo;
use cityfix_http::api::ApiError;
use cityfix_http::auth::{Role, StaffClaims};
use serde::Deserialize;

use crate::staff::{app_error, SignedIn, Staff};

/// How many days an answer covers when `from` is not given: the last thirty.
const DEFAULT_DAYS: i64 = 30;

/// The query of `GET /staff/v1/metrics`; an empty value is the same as none.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsQuery {
    /// The first day (`YYYY-MM-DD`, the city's calendar); default: 29 days before `to`.
    pub from: Option<String>,
    /// The last day; default: today in the city.
    pub to: Option<String>,
    pub service: Option<String>,
    pub department: Option<String>,
    pub area: Option<String>,
}

fn bad(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message)
}

/// Whose counts this person sees: 403 for call-takers, and for staff asking for another
/// department than their own.
pub fn scope_of(claims: &StaffClaims, department: Option<&str>) -> Result<Scope, ApiError> {
    let refuse = |message: &str| ApiError::new(StatusCode::FORBIDDEN, "forbidden", message);
    match claims.role {
        Role::Supervisor | Role::Admin => Ok(Scope::AllDepartments),
        Role::Ethics => Ok(Scope::Confidential),
        Role::Agent => Err(refuse("call-takers do not read the metrics")),
        Role::Staff => match claims.department.as_deref() {
            None => Err(refuse("a staff member of no department reads no metrics")),
            Some(own) if department.is_some_and(|d| d != own) => {
                Err(refuse("staff read their own department's metrics only"))
            }
            Some(own) => Ok(Scope::Department(own.to_string())),
        },
    }
}

/// The filter a query asks for, checked: 400 naming what is wrong.
pub fn filter_of(
    staff: &Staff,
    claims: &StaffClaims,
    query: MetricsQuery,
) -> Result<MetricsFilter, ApiError> {
    let city = &staff.deps.city;
    let given = |value: Option<String>| {
        value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let day = |name: &str, text: String| {
        NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
            bad(format!(
                "`{name}` is a date as YYYY-MM-DD, not `{}`",
                echo(&text)
            ))
        })
    };
    let to = match given(query.to) {
        Some(text) => day("to", text)?,
        None => staff
            .deps
            .clock
            .now()
            .with_timezone(&city.timezone)
            .date_naive(),
    };
    let from = match given(query.from) {
        Some(text) => day("from", text)?,
        None => to - Duration::days(DEFAULT_DAYS - 1),
    };
    if from > to {
        return Err(bad(format!("`from` ({from}) comes after `to` ({to})")));
    }
    if (to - from).num_days() + 1 > MAX_ANSWER_DAYS {
        return Err(bad(format!(
            "from {from} to {to} is more than {MAX_ANSWER_DAYS} days (three years): ask for a shorter range"
        )));
    }
    let service = given(query.service);
    if let Some(code) = &service {
        if city.service(code).is_none() {
            return Err(bad(format!("there is no service `{}`", echo(code))));
        }
    }
    let department = given(query.department);
    if let Some(id) = &department {
        if city.department(id).is_none() {
            return Err(bad(format!("there is no department `{}`", echo(id))));
        }
    }
    let area = given(query.area);
    if let Some(name) = &area {
        if !area_names(city).contains(name) {
            return Err(bad(format!(
                "there is no area `{}` services route by",
                echo(name)
            )));
        }
    }
    let scope = scope_of(claims, department.as_deref())?;
    Ok(MetricsFilter {
        from,
        to,
        service,
        department,
        area,
        scope,
    })
}

/// `GET /staff/v1/metrics?from&to&service&department&area`.
pub(crate) async fn metrics(
    State(staff): State<Arc<Staff>>,
    SignedIn(claims): SignedIn,
    query: Result<Query<MetricsQuery>, QueryRejection>,
) -> Result<Json<MetricsAnswer>, ApiError> {
    let Query(query) = query.map_err(|e| bad(e.body_text()))?;
    let filter = filter_of(&staff, &claims, query)?;
    Ok(Json(
        answer(&staff.deps.city, staff.metrics.as_ref(), &filter)
            .await
            .map_err(app_error)?,
    ))
}
