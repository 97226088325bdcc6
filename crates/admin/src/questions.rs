//! The information requests pages: residents' questions no answer met, oldest first, each
//! answered by e-mail from its page (through the staff routes, so notify sends it once), and an
//! answered one turned into the `[[answer]]` entry of answers.toml for admins to paste.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use cityfix_http::auth::Role;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::pages::{base, encode, field, forged, refused_page, Fields};
use crate::session::Session;
use crate::Admin;

type Shared = State<Arc<Admin>>;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    after: Option<String>,
}

/// `/admin/information-requests`: the unanswered questions, 50 a page.
pub async fn list(
    State(admin): Shared,
    session: Session,
    Query(query): Query<ListQuery>,
) -> Response {
    let mut path = "/staff/v1/information-requests?limit=50".to_string();
    if let Some(after) = query.after.as_deref().filter(|a| !a.is_empty()) {
        path.push_str(&format!("&after={}", encode(after)));
    }
    let listed = match admin.api.get(&session.claims, &path).await {
        Ok(listed) => listed,
        Err(refusal) => return refused_page(&admin, &session, refusal),
    };
    let next = listed["next"]
        .as_str()
        .map(|n| format!("/admin/information-requests?after={}", encode(n)));
    let mut context = base(&admin, Some(&session), "information-requests");
    context.extend([
        ("questions".into(), listed["questions"].clone()),
        ("next".into(), json!(next)),
        ("sees_contacts".into(), json!(sees_contacts(&session))),
    ]);
    admin
        .views
        .page(StatusCode::OK, "information_requests.html", context)
}

fn sees_contacts(session: &Session) -> bool {
    matches!(session.claims.role, Role::Supervisor | Role::Admin)
}

#[derive(Debug, Deserialize)]
pub struct QuestionQuery {
    /// `toml`: show the answers.toml entry of the answer (admins).
    entry: Option<String>,
}

/// `/admin/information-requests/{id}`: the question, its answer form or its answer.
pub async fn question(
    State(admin): Shared,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<QuestionQuery>,
) -> Response {
    question_page(
        &admin,
        &session,
        &id,
        StatusCode::OK,
        None,
        query.entry.is_some(),
    )
    .await
}

async fn question_page(
    admin: &Admin,
    session: &Session,
    id: &str,
    status: StatusCode,
    error: Option<&str>,
    with_entry: bool,
) -> Response {
    let path = format!("/staff/v1/information-requests/{}", encode(id));
    let read = match admin.api.get(&session.claims, &path).await {
        Ok(read) => read,
        Err(refusal) => return refused_page(admin, session, refusal),
    };
    let question: Value = read["question"].clone();
    let is_admin = session.claims.role == Role::Admin;
    let entry = match (&question["answered"]["text"], with_entry && is_admin) {
        (Value::String(answer), true) => Some(cityfix_config::answer_entry(
            question["language"].as_str().unwrap_or("en"),
            question["question"].as_str().unwrap_or_default(),
            answer,
        )),
        _ => None,
    };
    let mut context = base(admin, Some(session), "information-requests");
    context.extend([
        ("q".into(), question),
        ("sees_contacts".into(), json!(sees_contacts(session))),
        ("may_save".into(), json!(is_admin)),
        ("entry".into(), json!(entry)),
        ("error".into(), json!(error)),
        ("idem".into(), json!(uuid::Uuid::new_v4().to_string())),
    ]);
    admin
        .views
        .page(status, "information_request.html", context)
}

/// `POST /admin/information-requests/{id}/answer`: the answer, sent once per form shown.
pub async fn answer(
    State(admin): Shared,
    session: Session,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    if !session.form_is_genuine(&admin, field(&fields, "csrf")) {
        return forged(&admin, &session);
    }
    let Some(text) = field(&fields, "text") else {
        return question_page(
            &admin,
            &session,
            &id,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("write the answer"),
            false,
        )
        .await;
    };
    let path = format!("/staff/v1/information-requests/{}/answer", encode(&id));
    let key = field(&fields, "idem").map(|idem| format!("question-answer:{idem}"));
    match admin
        .api
        .post(
            &session.claims,
            &path,
            &json!({ "text": text }),
            key.as_deref(),
        )
        .await
    {
        Ok(_) => {
            Redirect::to(&format!("/admin/information-requests/{}", encode(&id))).into_response()
        }
        Err(refusal) => {
            question_page(
                &admin,
                &session,
                &id,
                refusal.status,
                Some(&refusal.message),
                false,
            )
            .await
        }
    }
}
