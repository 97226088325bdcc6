//! The local outbox page: lists every message the system "sent" and shows each one.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use cityfix_domain::escape_html;
use cityfix_embedded::Outbox;

pub fn router(outbox: Outbox) -> Router {
    Router::new()
        .route("/outbox", get(list))
        .route("/outbox/{file}", get(show))
        .with_state(outbox)
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
         <style>body{{font-family:sans-serif;margin:2rem}}td,th{{padding:.25rem .75rem;text-align:left}}</style></head>\
         <body><h1>Outbox</h1><p>Every e-mail and text message this local city sent, newest first ({count} in all). \
         On AWS these go through SES and SNS instead.</p>\
         <table><thead><tr><th>Channel</th><th>File</th><th>Bytes</th></tr></thead><tbody>{rows}</tbody></table></body></html>",
        count = entries.len()
    ))
    .into_response()
}

async fn show(State(outbox): State<Outbox>, Path(file): Path<String>) -> Response {
    match outbox.read(&file) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "no such message").into_response(),
    }
}
