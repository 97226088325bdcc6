//! The local outbox page: lists every message the system "sent" and shows each one, an e-mail as
//! its recipient would see it. It holds residents' names and addresses, so it answers only the
//! machine it runs on, or staff.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Form;
use axum::Router;
use cityfix_app::preferences::{self, TextReplies, TextReply};
use cityfix_domain::escape_html;
use cityfix_embedded::Outbox;
use cityfix_http::auth::{Role, TokenKeys};

/// Who may read the outbox page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutboxAccess {
    /// Only a peer on this machine that names this machine in `Host` (so a page elsewhere that
    /// rebinds its DNS name to 127.0.0.1 is still refused). The runner refuses to listen on
    /// another address with this.
    #[default]
    Loopback,
    /// Anyone with a supervisor's or admin's staff token (`Authorization: Bearer …`).
    Staff,
}

struct Guard {
    access: OutboxAccess,
    keys: Arc<TokenKeys>,
}

pub fn router(
    outbox: Outbox,
    access: OutboxAccess,
    keys: Arc<TokenKeys>,
    replies: TextReplies,
) -> Router {
    let guard = Arc::new(Guard { access, keys });
    Router::new()
        .route("/outbox/sms-reply", post(sms_reply).with_state(replies))
        .route("/outbox", get(list))
        .route("/outbox/{file}", get(show))
        .route("/outbox/{file}/html", get(show_html))
        .route("/outbox/{file}/raw", get(show_raw))
        .with_state(outbox)
        .layer(middleware::from_fn_with_state(guard, admit))
}

/// Whether `host` (a `Host` header) names this machine: localhost, 127.x, or ::1, with any port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

async fn admit(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let admitted = match guard.access {
        OutboxAccess::Loopback => {
            let peer = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback());
            let host = request
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .is_some_and(is_loopback_host);
            peer && host
        }
        OutboxAccess::Staff => guard
            .keys
            .verify(
                request.headers(),
                chrono::Utc::now().timestamp().max(0) as u64,
            )
            .is_ok_and(|claims| matches!(claims.role, Role::Supervisor | Role::Admin)),
    };
    if admitted {
        next.run(request).await
    } else {
        (
            StatusCode::FORBIDDEN,
            "the outbox holds residents' messages: it is shown on this machine only (open it as http://localhost:<port>/outbox), or to supervisors signed in when the runner was started with --outbox staff",
        )
            .into_response()
    }
}

async fn list(State(outbox): State<Outbox>) -> Response {
    let entries = match outbox.list() {
        Ok(entries) => entries,
        Err(error) => return (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    };
    let mut rows = String::new();
    for entry in entries.iter().rev() {
        rows.push_str(&format!(
            "<tr><td>{channel}</td><td><a href=\"/outbox/{file}\">{file}</a></td><td>{bytes}</td></tr>",
            channel = escape_html(&entry.channel),
            file = escape_html(&entry.file),
            bytes = entry.bytes
        ));
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Outbox · cityfix</title>\
         </head>\
         <body><h1>Outbox</h1><p>Every e-mail and text message this local city sent, newest first ({count} in all). \
         On AWS these go through SES and SNS instead.</p>\
         <form method=\"post\" action=\"/outbox/sms-reply\"><p>A text message arrives from \
         <input name=\"from\" placeholder=\"+18605550199\" required> saying \
         <input name=\"text\" value=\"STOP\" required> <button type=\"submit\">Receive it</button></p></form>\
         <table><thead><tr><th>Channel</th><th>File</th><th>Bytes</th></tr></thead><tbody>{rows}</tbody></table></body></html>",
        count = entries.len()
    ))
    .into_response()
}

#[derive(serde::Deserialize)]
struct SmsReply {
    from: String,
    text: String,
}

/// A text message from a resident, as SNS would hand over a reply: a stop word turns texts to
/// that number off. Only a form of this page may post it (its `Origin` is this host).
async fn sms_reply(
    State(replies): State<TextReplies>,
    headers: axum::http::HeaderMap,
    Form(reply): Form<SmsReply>,
) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let same_origin = match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        None => true,
        Some(origin) => host.is_some_and(|host| origin == format!("http://{host}")),
    };
    if !same_origin {
        return (
            StatusCode::FORBIDDEN,
            "replies are posted from the outbox page only",
        )
            .into_response();
    }
    match preferences::sms_reply(&replies, &reply.from, &reply.text, chrono::Utc::now()).await {
        Ok(TextReply::Stop) => {
            Html("<p>Texts to that number are now off. <a href=\"/outbox\">Outbox</a></p>")
                .into_response()
        }
        Ok(TextReply::Start) => {
            Html("<p>Texts to that number are on again. <a href=\"/outbox\">Outbox</a></p>")
                .into_response()
        }
        Ok(TextReply::Other) => {
            Html("<p>Not a stop or start word: nothing changed. <a href=\"/outbox\">Outbox</a></p>")
                .into_response()
        }
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    }
}

/// An e-mail: its headers, then its HTML part framed as a mail program shows it (no scripts, no
/// forms); any other message as written.
async fn show(State(outbox): State<Outbox>, Path(file): Path<String>) -> Response {
    let Ok(bytes) = outbox.read(&file) else {
        return (StatusCode::NOT_FOUND, "no such message").into_response();
    };
    if !file.ends_with(".eml") {
        return show_raw(State(outbox), Path(file)).await;
    }
    let message = String::from_utf8_lossy(&bytes);
    let head: String = unfolded_headers(message.split("\r\n\r\n").next().unwrap_or_default())
        .into_iter()
        .filter(|line| {
            ["From:", "To:", "Subject:", "Date:", "List-Unsubscribe"]
                .iter()
                .any(|name| line.starts_with(name))
        })
        .map(|line| format!("{}\n", escape_html(&decoded_words(&line))))
        .collect();
    let file = escape_html(&file);
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{file} · outbox</title></head>\
         <body><p><a href=\"/outbox\">Outbox</a> · <a href=\"/outbox/{file}/raw\">the message as sent</a></p>\
         <pre style=\"white-space: pre-wrap; overflow-wrap: anywhere\">{head}</pre>\
         <iframe sandbox title=\"the e-mail as its recipient sees it\" src=\"/outbox/{file}/html\" width=\"100%\" height=\"700\"></iframe>\
         </body></html>"
    ))
    .into_response()
}

/// The header lines of a message with folded ones joined again (a line that starts with white
/// space continues the one before it, RFC 5322 § 2.2.3).
fn unfolded_headers(head: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in head.lines() {
        match lines.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
            _ => lines.push(line.to_string()),
        }
    }
    lines
}

/// A header as a person reads it: UTF-8 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`, RFC
/// 2047) decoded, white space between two of them dropped; anything else left as written.
fn decoded_words(line: &str) -> String {
    use base64::Engine;
    let decode = |word: &str| -> Option<String> {
        let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
        let mut parts = inner.splitn(3, '?');
        let (charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
        if !charset.eq_ignore_ascii_case("utf-8") {
            return None;
        }
        let bytes = match encoding {
            "b" | "B" => base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()?,
            "q" | "Q" => {
                let mut bytes = Vec::new();
                let mut rest = text.as_bytes();
                while let Some((&first, tail)) = rest.split_first() {
                    match first {
                        b'_' => bytes.push(b' '),
                        b'=' if tail.len() >= 2 => {
                            let hex = std::str::from_utf8(&tail[..2]).ok()?;
                            bytes.push(u8::from_str_radix(hex, 16).ok()?);
                            rest = &tail[2..];
                            continue;
                        }
                        other => bytes.push(other),
                    }
                    rest = tail;
                }
                bytes
            }
            _ => return None,
        };
        String::from_utf8(bytes).ok()
    };
    let mut out = String::new();
    let mut last_was_word = false;
    let mut gap = String::new();
    for token in line.split_inclusive([' ', '\t']) {
        let word = token.trim_end_matches([' ', '\t']);
        let space = &token[word.len()..];
        match decode(word) {
            Some(text) => {
                if !last_was_word {
                    out.push_str(&gap);
                }
                out.push_str(&text);
                last_was_word = true;
            }
            None => {
                out.push_str(&gap);
                out.push_str(word);
                last_was_word = word.is_empty() && last_was_word;
            }
        }
        gap = space.to_string();
    }
    out.push_str(&gap);
    out
}

/// The HTML part of an e-mail alone, for the frame of [`show`]. Its styles are the message's own
/// (inline, as in mail), and nothing in it runs.
async fn show_html(State(outbox): State<Outbox>, Path(file): Path<String>) -> Response {
    match outbox.read_html(&file) {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; img-src 'self' data: http: https:; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox",
                ),
                (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "no such e-mail").into_response(),
    }
}

async fn show_raw(State(outbox): State<Outbox>, Path(file): Path<String>) -> Response {
    match outbox.read(&file) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "no such message").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::{decoded_words, is_loopback_host, unfolded_headers};

    #[test]
    fn headers_are_shown_as_a_person_reads_them() {
        assert_eq!(
            decoded_words("Subject: Ya se =?utf-8?b?ZXN0w6E=?= trabajando en su reporte K7SV-YTS4"),
            "Subject: Ya se está trabajando en su reporte K7SV-YTS4"
        );
        assert_eq!(
            decoded_words("Subject: =?utf-8?b?wr9EZWph?= =?utf-8?q?r_de_recibir=3F?= fin"),
            "Subject: ¿Dejar de recibir? fin"
        );
        assert_eq!(decoded_words("To: ana@example.org"), "To: ana@example.org");
        assert_eq!(
            decoded_words("Subject: =?latin1?b?AAAA?="),
            "Subject: =?latin1?b?AAAA?="
        );
        assert_eq!(
            unfolded_headers("Subject: one\r\n two\r\nTo: x"),
            ["Subject: one two", "To: x"]
        );
    }

    #[test]
    fn only_names_of_this_machine_are_loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST:3000",
            "127.0.0.1",
            "127.0.0.1:8080",
            "[::1]:3000",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:3000",
            "127.0.0.1.evil.example",
            "10.0.0.1:3000",
            "localhost.evil",
            "[::2]:80",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
