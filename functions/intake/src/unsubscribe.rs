//! The links of every message: unsubscribe (or stop following) and confirm following; a page that
//! asks (GET, which mail scanners follow and which changes nothing), and the answer (POST).

use std::sync::Arc;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use cityfix_app::follow::{
    confirm_follow, read_confirmation, read_unfollow, stop_following, FollowLinkError,
};
use cityfix_app::links::{LinkRefused, LinkSigner, Purpose};
use cityfix_app::notify::Channel;
use cityfix_app::ports::{Clock, PortError, Queue, RequestStore};
use cityfix_app::preferences::{read_unsubscribe, unsubscribe, UnsubscribeError};
use cityfix_app::survey::{answer_survey, read_answer, Answered, SurveyError};
use cityfix_domain::city::ResidentRules;
use cityfix_domain::{escape_html, Language};

/// What the unsubscribe routes need: the store of preferences and the secret links are signed with.
#[derive(Clone)]
pub struct Preferences {
    pub store: Arc<dyn RequestStore>,
    pub links: LinkSigner,
    pub clock: Arc<dyn Clock>,
    /// The city's short name, for the pages.
    pub city: String,
    /// Where a confirmed follow is handed to notify (the "you are following" letter), and a
    /// "not fixed" answer to status.
    pub queue: Arc<dyn Queue>,
    /// The window in which a "not fixed" answer reopens.
    pub residents: ResidentRules,
}

/// `GET` and `POST /api/v1/unsubscribe?t=<signed token>`: a channel's token turns it off, a
/// follower's ends their following. A mail program's one-click unsubscribe (RFC 8058) posts
/// `List-Unsubscribe=One-Click` to the same address; the page's button posts too. `GET` and
/// `POST /api/v1/follow?t=<signed token>` confirm an ask to follow; `GET` and `POST
/// /api/v1/survey?t=<signed token>` answer "Has it been fixed?".
pub fn unsubscribe_router(preferences: Preferences) -> Router {
    Router::new()
        .route("/api/v1/unsubscribe", get(ask).post(answer))
        .route("/api/v1/follow", get(ask_confirm).post(confirm))
        .route("/api/v1/survey", get(ask_survey).post(take_survey))
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

/// A link opened: the browser's language and the link's token. A link without a token is
/// refused (400, with the page that says nothing changed) before any handler runs.
struct Opened {
    language: Language,
    token: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Opened {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let language = language(&parts.headers);
        Query::<Link>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|Query(link)| link.t)
            .filter(|t| !t.is_empty())
            .map(|token| Opened { language, token })
            .ok_or_else(|| refused(LinkRefused::Forged, language))
    }
}

async fn ask(
    State(preferences): State<Arc<Preferences>>,
    Opened { language, token }: Opened,
) -> Response {
    let token = token.as_str();
    if Purpose::of_token(token) == Some(Purpose::Unfollow) {
        return ask_unfollow(&preferences, language, token);
    }
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
    Opened { language, token }: Opened,
) -> Response {
    let token = token.as_str();
    if Purpose::of_token(token) == Some(Purpose::Unfollow) {
        return unfollow(&preferences, language, token).await;
    }
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
        Err(UnsubscribeError::Port(error)) => try_again(&error, language),
    }
}

fn try_again(error: &PortError, language: Language) -> Response {
    tracing::error!(%error, "a link's answer could not be saved");
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

/// A page with one question and the button that answers it (a post back to the same link).
fn question(
    language: Language,
    title: &str,
    action: &str,
    token: &str,
    button: &str,
    more: &str,
) -> Response {
    page(
        StatusCode::OK,
        language,
        title,
        &format!(
            "<form method=\"post\" action=\"{action}?t={}\">\
             <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
             <button type=\"submit\">{button}</button></form><p>{more}</p>",
            escape_html(token)
        ),
    )
}

fn follow_error(error: FollowLinkError, language: Language) -> Response {
    match error {
        FollowLinkError::Refused(refusal) => refused(refusal, language),
        FollowLinkError::Port(error) => try_again(&error, language),
        FollowLinkError::Gone => {
            let (title, body) = match language {
                Language::En => (
                    "This follow has ended",
                    "Nothing was changed. To follow the report again, ask from its page.",
                ),
                Language::Es => (
                    "Este seguimiento terminó",
                    "No se cambió nada. Para volver a seguir el reporte, pídalo desde su página.",
                ),
            };
            page(StatusCode::GONE, language, title, &format!("<p>{body}</p>"))
        }
    }
}

fn ask_unfollow(preferences: &Preferences, language: Language, token: &str) -> Response {
    let id = match read_unfollow(&preferences.links, token, preferences.clock.now()) {
        Ok(id) => id,
        Err(refusal) => return refused(refusal, language),
    };
    let (title, button, more) = match language {
        Language::En => (
            format!("Stop following {id}?"),
            "Stop following",
            "You will get no more news of this report from us; your own reports are not changed.",
        ),
        Language::Es => (
            format!("¿Dejar de seguir {id}?"),
            "Dejar de seguir",
            "No recibirá más novedades de este reporte; sus propios reportes no cambian.",
        ),
    };
    question(language, &title, "/api/v1/unsubscribe", token, button, more)
}

async fn unfollow(preferences: &Preferences, language: Language, token: &str) -> Response {
    match stop_following(
        preferences.store.as_ref(),
        &preferences.links,
        token,
        preferences.clock.now(),
    )
    .await
    {
        Ok(id) => {
            let (title, done) = match language {
                Language::En => ("Done", format!("You will get no more news of {id}.")),
                Language::Es => ("Listo", format!("No recibirá más novedades de {id}.")),
            };
            page(StatusCode::OK, language, title, &format!("<p>{done}</p>"))
        }
        Err(error) => follow_error(error, language),
    }
}

async fn ask_confirm(
    State(preferences): State<Arc<Preferences>>,
    Opened { language, token }: Opened,
) -> Response {
    let token = token.as_str();
    let id = match read_confirmation(&preferences.links, token, preferences.clock.now()) {
        Ok(id) => id,
        Err(refusal) => return refused(refusal, language),
    };
    let (title, button, more) = match language {
        Language::En => (
            format!("Follow {id} with {} 311?", preferences.city),
            "Yes, follow it",
            "You will hear each time there is news of it, and can stop with the link in every message.",
        ),
        Language::Es => (
            format!("¿Seguir {id} con {} 311?", preferences.city),
            "Sí, seguirlo",
            "Le escribiremos cada vez que haya novedades, y puede dejarlo con el enlace de cada mensaje.",
        ),
    };
    question(language, &title, "/api/v1/follow", token, button, more)
}

async fn confirm(
    State(preferences): State<Arc<Preferences>>,
    Opened { language, token }: Opened,
) -> Response {
    let token = token.as_str();
    match confirm_follow(
        preferences.store.as_ref(),
        preferences.queue.as_ref(),
        &preferences.links,
        token,
        preferences.clock.now(),
    )
    .await
    {
        Ok(id) => {
            let (title, done) = match language {
                Language::En => (
                    "You are following it",
                    format!("We will write each time there is news of {id}."),
                ),
                Language::Es => (
                    "Usted lo sigue",
                    format!("Le escribiremos cada vez que haya novedades de {id}."),
                ),
            };
            page(StatusCode::OK, language, title, &format!("<p>{done}</p>"))
        }
        Err(error) => follow_error(error, language),
    }
}

fn answer_words(fixed: bool, language: Language) -> &'static str {
    match (fixed, language) {
        (true, Language::En) => "Yes, it is fixed",
        (false, Language::En) => "No, it is not fixed",
        (true, Language::Es) => "Sí, quedó arreglado",
        (false, Language::Es) => "No, no quedó arreglado",
    }
}

async fn ask_survey(
    State(preferences): State<Arc<Preferences>>,
    Opened { language, token }: Opened,
) -> Response {
    let token = token.as_str();
    let answer = match read_answer(&preferences.links, token, preferences.clock.now()) {
        Ok(answer) => answer,
        Err(refusal) => return refused(refusal, language),
    };
    let id = &answer.request_id;
    let (title, button, more) = match language {
        Language::En => (
            format!("Has {id} been fixed?"),
            "Send this answer",
            format!("Your answer: {}.", answer_words(answer.fixed, language)),
        ),
        Language::Es => (
            format!("¿Quedó arreglado {id}?"),
            "Enviar esta respuesta",
            format!("Su respuesta: {}.", answer_words(answer.fixed, language)),
        ),
    };
    question(language, &title, "/api/v1/survey", token, button, &more)
}

async fn take_survey(
    State(preferences): State<Arc<Preferences>>,
    Opened { language, token }: Opened,
) -> Response {
    let token = token.as_str();
    let answered = answer_survey(
        preferences.store.as_ref(),
        preferences.queue.as_ref(),
        &preferences.residents,
        &preferences.links,
        token,
        preferences.clock.now(),
    )
    .await;
    let (title, done) = match (answered, language) {
        (Ok(Answered::Fixed), Language::En) => ("Thank you", "Good to hear it is fixed."),
        (Ok(Answered::Fixed), Language::Es) => ("Gracias", "Nos alegra que esté arreglado."),
        (Ok(Answered::Reopening), Language::En) => (
            "Thank you",
            "The city opens the report again and will take another look.",
        ),
        (Ok(Answered::Reopening), Language::Es) => (
            "Gracias",
            "La ciudad vuelve a abrir el reporte y lo revisará de nuevo.",
        ),
        (Ok(Answered::TooLate), Language::En) => (
            "Thank you",
            "This report can no longer be opened again from here; please make a new report.",
        ),
        (Ok(Answered::TooLate), Language::Es) => (
            "Gracias",
            "Este reporte ya no se puede volver a abrir desde aquí; haga un reporte nuevo.",
        ),
        (Err(SurveyError::Refused(refusal)), _) => return refused(refusal, language),
        (Err(SurveyError::Port(error)), _) => return try_again(&error, language),
        (Err(SurveyError::Gone), _) => return refused(LinkRefused::Forged, language),
    };
    page(StatusCode::OK, language, title, &format!("<p>{done}</p>"))
}
