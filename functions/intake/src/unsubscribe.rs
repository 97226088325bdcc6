//! The unsubscribe link of every message: a page that asks (GET), and the one-click answer (POST).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use cityfix_app::links::{LinkRefused, LinkSigner};
use cityfix_app::notify::Channel;
use cityfix_app::ports::{Clock, RequestStore};
use cityfix_app::preferences::{read_unsubscribe, unsubscribe, UnsubscribeError};
use cityfix_domain::{escape_html, Language};

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

/// The language of the pages: the browser's, among those the city writes in (a link is opened
/// in the resident's own browser), else English.
fn language(headers: &HeaderMap) -> Language {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
        .and_then(Language::from_accept_language)
        .unwrap_or_default()
}

fn what(channel: Channel, language: Language) -> &'static str {
    match (channel, language) {
        (Channel::Email, Language::En) => "e-mails",
        (Channel::Sms, Language::En) => "text messages",
        (Channel::Push, Language::En) => "notifications on your phone",
        (Channel::Email, Language::Es) => "correos electrónicos",
        (Channel::Sms, Language::Es) => "mensajes de texto",
        (Channel::Push, Language::Es) => "notificaciones en su teléfono",
    }
}

fn page(status: StatusCode, language: Language, title: &str, body: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>",
            lang = language.tag(),
            title = escape_html(title),
        )),
    )
        .into_response()
}

fn refused(refusal: LinkRefused, language: Language) -> Response {
    let status = match refusal {
        LinkRefused::Forged => StatusCode::BAD_REQUEST,
        LinkRefused::Expired => StatusCode::GONE,
    };
    match language {
        Language::En => page(
            status,
            language,
            "This link does not work",
            &format!(
                "<p>{}. Nothing was changed.</p>\
                 <p>Use the link at the bottom of a recent message, or call 311.</p>",
                escape_html(&refusal.to_string())
            ),
        ),
        Language::Es => page(
            status,
            language,
            "Este enlace no funciona",
            &format!(
                "<p>{}. No se cambió nada.</p>\
                 <p>Use el enlace al pie de un mensaje reciente, o llame al 311.</p>",
                match refusal {
                    LinkRefused::Forged => "Este enlace no es uno de los nuestros",
                    LinkRefused::Expired => "Este enlace ha vencido",
                }
            ),
        ),
    }
}

fn token(link: &Link) -> Option<&str> {
    link.t.as_deref().filter(|t| !t.is_empty())
}

async fn ask(
    State(preferences): State<Arc<Preferences>>,
    headers: HeaderMap,
    Query(link): Query<Link>,
) -> Response {
    let language = language(&headers);
    let Some(token) = token(&link) else {
        return refused(LinkRefused::Forged, language);
    };
    let channel = match read_unsubscribe(&preferences.links, token, preferences.clock.now()) {
        Ok((channel, _)) => channel,
        Err(refusal) => return refused(refusal, language),
    };
    let (title, button, kept) = match language {
        Language::En => (
            format!(
                "Stop {} from {} 311?",
                what(channel, language),
                preferences.city
            ),
            "Stop them",
            "Your reports stay open, and you can still follow them on the site.",
        ),
        Language::Es => (
            format!(
                "¿Dejar de recibir {} de {} 311?",
                what(channel, language),
                preferences.city
            ),
            "No recibir más",
            "Sus reportes siguen abiertos, y puede seguirlos en el sitio.",
        ),
    };
    page(
        StatusCode::OK,
        language,
        &title,
        &format!(
            "<form method=\"post\" action=\"/api/v1/unsubscribe?t={}\">\
             <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
             <button type=\"submit\">{button}</button></form><p>{kept}</p>",
            escape_html(token)
        ),
    )
}

async fn answer(
    State(preferences): State<Arc<Preferences>>,
    headers: HeaderMap,
    Query(link): Query<Link>,
) -> Response {
    let language = language(&headers);
    let Some(token) = token(&link) else {
        return refused(LinkRefused::Forged, language);
    };
    match unsubscribe(
        preferences.store.as_ref(),
        &preferences.links,
        token,
        preferences.clock.now(),
    )
    .await
    {
        Ok(channel) => {
            let (title, done) = match language {
                Language::En => ("Done", "You will get no more {what} from {city} 311."),
                Language::Es => ("Listo", "No recibirá más {what} de {city} 311."),
            };
            let done = done
                .replace("{what}", what(channel, language))
                .replace("{city}", &escape_html(&preferences.city));
            page(StatusCode::OK, language, title, &format!("<p>{done}</p>"))
        }
        Err(UnsubscribeError::Refused(refusal)) => refused(refusal, language),
        Err(UnsubscribeError::Port(error)) => {
            tracing::error!(%error, "an unsubscribe could not be saved");
            let (title, body) = match language {
                Language::En => ("Please try again", "We could not save this just now. Nothing was changed; please try the link again in a minute."),
                Language::Es => ("Inténtelo de nuevo", "No pudimos guardar esto ahora. No se cambió nada; vuelva a usar el enlace en un minuto."),
            };
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                language,
                title,
                &format!("<p>{body}</p>"),
            )
        }
    }
}
