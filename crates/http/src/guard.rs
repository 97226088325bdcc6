//! What every response passes through: security headers, CORS for the city's own site, and
//! per-client rate limits on anonymous writes and on failed sign-ins (429 with `Retry-After`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::api::ApiError;
use cityfix_domain::RateLimits;

/// The pages' Content-Security-Policy: nothing inline, nothing from elsewhere but map tiles and
/// photos over https, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// `X-Content-Type-Options`, frame protection, `Referrer-Policy` and the CSP on every response
/// that does not set its own.
pub fn with_security_headers(router: Router) -> Router {
    let headers: [(HeaderName, &'static str); 5] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

/// Answers CORS preflights and marks responses for the browser origins given (the city's own
/// site); any other origin gets no CORS headers, so its browser refuses the response.
pub fn with_cors(router: Router, origins: &[String]) -> Router {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin.trim_end_matches('/')).ok())
        .collect();
    router.layer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::HEAD])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([header::LOCATION, header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}

/// The address a request came from, as the front of the function knows it: the socket's peer
/// locally, the HTTP API's `sourceIp` on Lambda (its adapter inserts this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Per-client buckets for anonymous writes and failed sign-ins, and who is shut out until when.
pub struct Limiter {
    writes: DefaultKeyedRateLimiter<IpAddr>,
    failures: DefaultKeyedRateLimiter<IpAddr>,
    shut_out: Mutex<HashMap<IpAddr, Instant>>,
}

/// Clients remembered before old entries are dropped.
const REMEMBERED_CLIENTS: usize = 10_000;

impl Limiter {
    pub fn new(limits: &RateLimits) -> Self {
        let quota = |per_minute: u32, burst: u32| {
            let one = NonZeroU32::MIN;
            Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(one))
                .allow_burst(NonZeroU32::new(burst).unwrap_or(one))
        };
        Limiter {
            writes: RateLimiter::keyed(quota(limits.writes_per_minute, limits.writes_burst)),
            failures: RateLimiter::keyed(quota(
                limits.failed_auth_per_minute,
                limits.failed_auth_burst,
            )),
            shut_out: Mutex::new(HashMap::new()),
        }
    }

    /// How long `client` must wait, if it has spent its failed sign-ins.
    fn shut_out_for(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let shut_out = self
            .shut_out
            .lock()
            .expect("the limiter lock is never poisoned");
        shut_out
            .get(&client)
            .filter(|until| **until > now)
            .map(|until| *until - now)
    }

    /// Counts one anonymous write: the wait if the client is over its limit.
    fn spend_write(&self, client: IpAddr) -> Option<Duration> {
        self.writes
            .check_key(&client)
            .err()
            .map(|not_until| not_until.wait_time_from(self.writes.clock().now()))
    }

    /// Counts one failed sign-in; past the limit the client is shut out until a token is back.
    fn spend_failure(&self, client: IpAddr, now: Instant) {
        if let Err(not_until) = self.failures.check_key(&client) {
            let wait = not_until.wait_time_from(self.failures.clock().now());
            let mut shut_out = self
                .shut_out
                .lock()
                .expect("the limiter lock is never poisoned");
            if shut_out.len() >= REMEMBERED_CLIENTS {
                shut_out.retain(|_, until| *until > now);
            }
            shut_out.insert(client, now + wait);
        }
        if self.failures.len() >= REMEMBERED_CLIENTS {
            self.failures.retain_recent();
        }
    }

    fn forget_idle_writers(&self) {
        if self.writes.len() >= REMEMBERED_CLIENTS {
            self.writes.retain_recent();
        }
    }
}

/// Applies the city's limits to every route of `router`: a write (POST) outside `/staff/`
/// spends from the client's write bucket; a 401 or 403 spends from its failed sign-in bucket,
/// and a client that has spent it gets 429 on every call until it refills.
pub fn with_rate_limits(router: Router, limiter: Arc<Limiter>) -> Router {
    router.layer(middleware::from_fn_with_state(limiter, limit))
}

fn client_of(request: &Request) -> Option<IpAddr> {
    if let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>() {
        return Some(*ip);
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

async fn limit(State(limiter): State<Arc<Limiter>>, request: Request, next: Next) -> Response {
    let Some(client) = client_of(&request) else {
        return next.run(request).await;
    };
    let now = Instant::now();
    let open311 = request.uri().path().starts_with("/open311/");
    if let Some(wait) = limiter.shut_out_for(client, now) {
        return too_many(wait, open311, "too many failed sign-ins from this address");
    }
    let anonymous_write =
        request.method() == Method::POST && !request.uri().path().starts_with("/staff/");
    if anonymous_write {
        limiter.forget_idle_writers();
        if let Some(wait) = limiter.spend_write(client) {
            return too_many(wait, open311, "too many reports from this address");
        }
    }
    let response = next.run(request).await;
    if matches!(
        response.status(),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) {
        limiter.spend_failure(client, now);
    }
    response
}

fn too_many(wait: Duration, open311: bool, why: &str) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let message = format!("{why}; try again in {seconds} s");
    let mut response = if open311 {
        crate::open311::error(
            crate::open311::Format::Json,
            StatusCode::TOO_MANY_REQUESTS,
            message,
        )
    } else {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).into_response()
    };
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&seconds.to_string()).expect("digits are a header value"),
    );
    response
}

/// The same guard on Lambda as locally: the client's address from the HTTP API's request
/// context, the city's rate limits (per function instance; the HTTP API's route throttles in
/// template.yaml bound the whole), and the security headers. CORS is answered by the HTTP API.
pub fn lambda_front(router: Router, limits: &RateLimits) -> Router {
    let guarded = with_security_headers(with_rate_limits(router, Arc::new(Limiter::new(limits))));
    guarded.layer(middleware::map_request(|mut request: Request| async move {
        use lambda_http::request::RequestContext;
        use lambda_http::RequestExt;
        let source = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
            _ => None,
        };
        if let Some(ip) = source.and_then(|ip| ip.parse().ok()) {
            request.extensions_mut().insert(ClientIp(ip));
        }
        request
    }))
}
