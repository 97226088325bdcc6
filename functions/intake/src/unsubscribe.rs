//! The unsubscribe link of every message: a page that asks (GET), and the one-click answer (POST).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use cityfix_app::links::{LinkRefused, LinkSigner};
use cityfix_app::notify::Channel;
use cityfix_app::ports::{Clock, RequestStore};
use cityfix_app::preferences::{read_unsubscribe, unsubscribe, UnsubscribeError};
use cityfix_domain::escape_html;

/// What the unsubscribe routes need: the store of preferences and the secret links are signed with.
#[derive(Clone)]
pub struct Preferences {
    pub store: Arc<dyn RequestStore>,
    pub links: LinkSigner,
    pub clock: Arc<dyn Clock>,
    /// The city's short name, for the pages.
    pub city: String,
}

/// `GET` and `POST /api/v1/unsubscribe?t=<signed token>`. A mail program's one-click unsubscribe
/// (RFC 8058) posts `List-Unsubscribe=One-Click` to the same address; the page's button posts too.
pub fn unsubscribe_router(preferences: Preferences) -> Router {
    Router::new()
        .route("/api/v1/unsubscribe", get(ask).post(answer))
        .with_state(Arc::new(preferences))
}

#[derive(Deserialize)]
struct Link {
    t: Option<String>,
}

fn what(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "e-mails",
        Channel::Sms => "text messages",
        Channel::Push => "notifications on your phone",
    }
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>",
            title = escape_html(title),
        )),
    )
        .into_response()
}

fn refused(refusal: LinkRefused) -> Response {
    let status = match refusal {
        LinkRefused::Forged => StatusCode::BAD_REQUEST,
        LinkRefused::Expired => StatusCode::GONE,
    };
    page(
        status,
        "This link does not work",
        &format!(
            "<p>{}. Nothing was changed.</p><p>Use the link at the bottom of a recent message, or \
             call 311. / Este enlace no es válido o ha vencido; no se cambió nada.</p>",
            escape_html(&refusal.to_string())
        ),
    )
}

fn token(link: &Link) -> Option<&str> {
    link.t.as_deref().filter(|t| !t.is_empty())
}

async fn ask(State(preferences): State<Arc<Preferences>>, Query(link): Query<Link>) -> Response {
    let Some(token) = token(&link) else {
        return refused(LinkRefused::Forged);
    };
    match read_unsubscribe(&preferences.links, token, preferences.clock.now()) {
        Ok((channel, _)) => page(
            StatusCode::OK,
            &format!("Stop {} from {} 311?", what(channel), preferences.city),
            &format!(
                "<form method=\"post\" action=\"/api/v1/unsubscribe?t={}\">\
                 <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
                 <button type=\"submit\">Stop them / No recibir más</button></form>\
                 <p>Your reports stay open, and you can still follow them on the site.</p>",
                escape_html(token)
            ),
        ),
        Err(refusal) => refused(refusal),
    }
}

async fn answer(State(preferences): State<Arc<Preferences>>, Query(link): Query<Link>) -> Response {
    let Some(token) = token(&link) else {
        return refused(LinkRefused::Forged);
    };
    match unsubscribe(
        preferences.store.as_ref(),
        &preferences.links,
        token,
        preferences.clock.now(),
    )
    .await
    {
        Ok(channel) => page(
            StatusCode::OK,
            "Done",
            &format!(
                "<p>You will get no more {} from {} 311. / No recibirá más mensajes por este medio.</p>",
                what(channel),
                escape_html(&preferences.city)
            ),
        ),
        Err(UnsubscribeError::Refused(refusal)) => refused(refusal),
        Err(UnsubscribeError::Port(error)) => {
            tracing::error!(%error, "an unsubscribe could not be saved");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again",
                "<p>We could not save this just now. Nothing was changed; please try the link again in a minute.</p>",
            )
        }
    }
}
