//! The staff routes of the status function, called in this process as the signed-in person: every
//! read the pages show and every action their forms take goes through the same checks of role,
//! department, version and Idempotency-Key as a script calling `/staff/v1/…` does, and status stays
//! the only writer of a request's state.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use cityfix_http::auth::StaffClaims;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The staff routes, built with [`cityfix_http::auth::StaffSignIn::InProcess`]: never served.
#[derive(Clone)]
pub struct StaffApi {
    routes: Router,
}

/// What a staff route answered that was not a success: its status and the reason it gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

impl StaffApi {
    pub fn new(routes: Router) -> Self {
        StaffApi { routes }
    }

    /// `GET path` as `claims`.
    pub async fn get(&self, claims: &StaffClaims, path: &str) -> Result<Value, Refusal> {
        self.call(claims, Method::GET, path, None, None).await
    }

    /// `POST path` with a JSON `body` as `claims`, once per `idempotency_key`.
    pub async fn post(
        &self,
        claims: &StaffClaims,
        path: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<Value, Refusal> {
        self.call(claims, Method::POST, path, Some(body), idempotency_key)
            .await
    }

    /// `DELETE path` as `claims`.
    pub async fn delete(&self, claims: &StaffClaims, path: &str) -> Result<Value, Refusal> {
        self.call(claims, Method::DELETE, path, None, None).await
    }

    /// Where a staff route that answers with a redirect (a file's short-lived link) sends `claims`.
    pub async fn location(&self, claims: &StaffClaims, path: &str) -> Result<String, Refusal> {
        let (status, location, value) = self.send(claims, Method::GET, path, None, None).await?;
        match location {
            Some(location) if status.is_redirection() => Ok(location),
            _ => Err(refusal(status, &value)),
        }
    }

    async fn call(
        &self,
        claims: &StaffClaims,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, Refusal> {
        let (status, _, value) = self
            .send(claims, method, path, body, idempotency_key)
            .await?;
        if status.is_success() {
            return Ok(value);
        }
        Err(refusal(status, &value))
    }

    /// The status, `Location` and JSON body a staff route answers.
    async fn send(
        &self,
        claims: &StaffClaims,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<(StatusCode, Option<String>, Value), Refusal> {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let body = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        let mut request = request.body(body).map_err(|e| Refusal {
            status: StatusCode::BAD_REQUEST,
            message: format!("not a request: {e}"),
        })?;
        request.extensions_mut().insert(claims.clone());
        let response = self
            .routes
            .clone()
            .oneshot(request)
            .await
            .expect("a router never fails");
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, location, value))
    }
}

/// A staff route's refusal: its status and the reason it gave.
fn refusal(status: StatusCode, value: &Value) -> Refusal {
    let message = value
        .pointer("/error/message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("refused").to_string());
    Refusal { status, message }
}
