//! `GET /api/v1/answers?q=`, `GET /api/v1/answers/{id}` and `POST /api/v1/questions`: the city's answers searched in the resident's own words (stems, typos, both languages), and a question no answer met sent to staff as an information request.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cityfix_app::ports::{Clock, Ids, InformationRequest, RequestStore};
use cityfix_config::Answer;
use cityfix_domain::report::check_contact;
use cityfix_domain::text::{echo, forbidden_char};
use cityfix_domain::{City, Contact, Invalid, Language};
use cityfix_http::api::{ApiError, ApiQuery};
use cityfix_http::json::read_json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::suggest::{add_words, stem, words, StemIndex, Suggester};

/// Most answers a search returns.
const FOUND: usize = 5;
/// Most services offered beside them when the words look like a problem to report.
const REPORTS: usize = 3;
/// A service is offered when the words point to it at least this much: one word of its name or
/// keywords that few services share.
const LOOKS_LIKE_A_PROBLEM: f64 = 2.0;
/// The longest search ranked.
const MAX_TYPED: usize = 500;
/// The longest question sent to staff.
const MAX_QUESTION: usize = 2000;

/// How much a word counts where it is found in an answer.
const IN_QUESTION: f64 = 3.0;
const IN_KEYWORDS: f64 = 3.0;
const IN_ANSWER: f64 = 1.0;
/// A typed word one letter off a known one (a typo) counts less than the word itself.
const THROUGH_TYPO: f64 = 0.7;

/// The answers, their search index, and what an information request needs.
pub struct AnswerDesk {
    answers: Vec<Answer>,
    first_language: String,
    /// Each answer's stems, from every language, and how much each counts.
    index: StemIndex,
    services: Suggester,
    city: Arc<City>,
    store: Arc<dyn RequestStore>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn Ids>,
}

impl AnswerDesk {
    /// Indexes the answers once; `languages` are the site's, the city's own first.
    pub fn new(
        answers: Vec<Answer>,
        languages: &[String],
        city: Arc<City>,
        store: Arc<dyn RequestStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn Ids>,
    ) -> Self {
        AnswerDesk {
            index: StemIndex::new(answers.iter().map(answer_weights).collect()),
            services: Suggester::new(&city.services),
            answers,
            first_language: languages.first().cloned().unwrap_or_else(|| "en".into()),
            city,
            store,
            clock,
            ids,
        }
    }

    /// Answer positions with their scores, best first; only answers some typed word reaches.
    pub fn rank(&self, typed: &str) -> Vec<(usize, f64)> {
        let mut wanted: HashMap<String, f64> = HashMap::new();
        for word in words(typed).into_iter().collect::<HashSet<_>>() {
            let own = stem(&word);
            if self.index.knows(&own) {
                wanted.insert(own, 1.0);
                continue;
            }
            for known in self.index.stems().filter(|k| one_letter_off(k, &own)) {
                let reach = wanted.entry(known.clone()).or_default();
                *reach = reach.max(THROUGH_TYPO);
            }
        }
        self.index.rank(&wanted)
    }

    /// A service's name in `language` where services.toml translates it.
    fn service_name(&self, code: &str, language: &str) -> Option<&str> {
        self.city.service(code).map(|s| s.name_in(language))
    }

    /// One answer in brief, for a list.
    fn brief(&self, answer: &Answer, language: &str) -> Value {
        let text = answer.text_in(language, &self.first_language);
        json!({
            "id": answer.id,
            "question": text.question,
            "answer": text.answer,
            "service_code": answer.service,
        })
    }
}

/// Every stem of an answer, in all its languages, at the best weight it is found with.
fn answer_weights(answer: &Answer) -> HashMap<String, f64> {
    let mut weights = HashMap::new();
    for text in answer.text.values() {
        add_words(&mut weights, &text.question, IN_QUESTION);
        add_words(&mut weights, &text.keywords.join(" "), IN_KEYWORDS);
        add_words(&mut weights, &text.answer, IN_ANSWER);
        for part in [&text.where_to_go, &text.bring, &text.cost, &text.hours]
            .into_iter()
            .flatten()
        {
            add_words(&mut weights, part, IN_ANSWER);
        }
    }
    weights
}

/// Whether two stems of at least four letters differ by one letter changed, added, dropped, or
/// two neighbours swapped ("certi"/"certf", "birht"/"birth").
fn one_letter_off(known: &str, typed: &str) -> bool {
    let a: Vec<char> = known.chars().collect();
    let b: Vec<char> = typed.chars().collect();
    if a.len() < 4 || b.len() < 4 || a == b || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    // Optimal string alignment distance, stopped at 1.
    let mut previous2: Vec<usize> = Vec::new();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (previous[j] + 1)
                .min(row[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(previous2[j - 2] + 1);
            }
        }
        previous2 = std::mem::replace(&mut previous, row);
    }
    // Stems are cut at the same length, so a dropped letter shows as one changed at the end too.
    previous[b.len()] <= 1
}

/// The answers' routes and the information request's.
pub fn answers_router(desk: AnswerDesk) -> Router {
    Router::new()
        .route("/api/v1/answers", get(search))
        .route("/api/v1/answers/{id}", get(read))
        .route("/api/v1/questions", post(ask))
        .with_state(Arc::new(desk))
}

type Desk = State<Arc<AnswerDesk>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    q: Option<String>,
    lang: Option<String>,
}

/// `{"answers": [...], "services": [...]}`: the answers the words reach, best first, and the
/// services to report when the words look like a problem. Without `q`, every answer in order.
async fn search(
    State(desk): Desk,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    let language = query.lang.unwrap_or_else(|| desk.first_language.clone());
    let typed = query.q.unwrap_or_default();
    if typed.chars().count() > MAX_TYPED {
        return Err(
            Invalid::field("q", format!("at most {MAX_TYPED} characters are searched")).into(),
        );
    }
    if typed.trim().is_empty() {
        let all: Vec<Value> = desk
            .answers
            .iter()
            .map(|a| desk.brief(a, &language))
            .collect();
        return Ok(Json(json!({ "answers": all, "services": [] })));
    }
    let answers: Vec<Value> = desk
        .rank(&typed)
        .into_iter()
        .take(FOUND)
        .map(|(index, score)| {
            let mut brief = desk.brief(&desk.answers[index], &language);
            brief["score"] = json!((score * 100.0).round() / 100.0);
            brief
        })
        .collect();
    let services: Vec<Value> = desk
        .services
        .rank(&typed)
        .into_iter()
        .filter(|(_, score)| *score >= LOOKS_LIKE_A_PROBLEM)
        .take(REPORTS)
        .filter_map(|(code, _)| {
            Some(json!({ "service_code": code, "service_name": desk.service_name(code, &language)? }))
        })
        .collect();
    Ok(Json(json!({ "answers": answers, "services": services })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadQuery {
    lang: Option<String>,
}

/// One answer whole, in the language asked for (else the city's own), with its links.
async fn read(
    State(desk): Desk,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Response, ApiError> {
    let language = query.lang.unwrap_or_else(|| desk.first_language.clone());
    let answer = desk
        .answers
        .iter()
        .find(|a| a.id == id)
        .ok_or_else(|| ApiError::not_found(format!("there is no answer `{}`", echo(&id))))?;
    let text = answer.text_in(&language, &desk.first_language);
    let links: Vec<Value> = answer
        .links
        .iter()
        .map(|link| {
            let title = link
                .title
                .get(&language)
                .or_else(|| link.title.get(&desk.first_language))
                .cloned()
                .unwrap_or_default();
            json!({ "url": link.url, "title": title })
        })
        .collect();
    let service = answer.service.as_deref().and_then(|code| {
        Some(json!({ "service_code": code, "service_name": desk.service_name(code, &language)? }))
    });
    let language_shown = if answer.text.contains_key(&language) {
        language.as_str()
    } else {
        desk.first_language.as_str()
    };
    let body = json!({
        "id": answer.id,
        "language": language_shown,
        "question": text.question,
        "answer": text.answer,
        "where": text.where_to_go,
        "bring": text.bring,
        "cost": text.cost,
        "hours": text.hours,
        "links": links,
        "service": service,
    });
    Ok(([(header::CACHE_CONTROL, "public, max-age=300")], Json(body)).into_response())
}

/// The body of `POST /api/v1/questions`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Question {
    question: Option<String>,
    email: Option<String>,
    language: Option<String>,
}

/// Files the question as an information request: 201 with its tracking number. Staff answer it
/// by e-mail; the e-mail is never shown back or logged.
async fn ask(State(desk): Desk, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let body: Question = read_json(&headers, &body)?;
    let question = body.question.as_deref().map(str::trim).unwrap_or_default();
    if question.is_empty() {
        return Err(
            Invalid::missing("question", "write the question the City should answer").into(),
        );
    }
    if question.chars().count() > MAX_QUESTION {
        return Err(Invalid::field(
            "question",
            format!("a question is at most {MAX_QUESTION} characters"),
        )
        .into());
    }
    if let Some((at, _)) = forbidden_char(question) {
        return Err(Invalid::field(
            "question",
            format!("the question has a control character at position {at}"),
        )
        .into());
    }
    let email = body.email.filter(|e| !e.trim().is_empty()).ok_or_else(|| {
        Invalid::missing("email", "give the e-mail address the answer should go to")
    })?;
    let email = check_contact(
        Contact {
            email: Some(email),
            ..Contact::default()
        },
        desk.city.country_calling_code,
    )?
    .email
    .unwrap_or_default();
    let language = match body.language.as_deref() {
        Some(tag) => Language::parse(tag)
            .ok_or_else(|| Invalid::field("language", "language must be `en` or `es`"))?,
        None => headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Language::from_accept_language)
            .unwrap_or_default(),
    };
    let asked = InformationRequest {
        id: desk.ids.tracking_number(),
        question: question.to_string(),
        email,
        language,
        asked_at: desk.clock.now(),
        answered: None,
    };
    desk.store.save_information_request(&asked).await?;
    tracing::info!(information_request = %asked.id, "a question was sent to the City");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "tracking_number": asked.id.as_str(),
            "message": "the City answers questions by e-mail, usually within three working days",
        })),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_is_one_letter_changed_added_dropped_or_swapped() {
        assert!(one_letter_off("birth", "birht"));
        assert!(one_letter_off("certi", "certf"));
        assert!(one_letter_off("licen", "lisen"));
        assert!(!one_letter_off("dog", "dogs"), "too short to guess at");
        assert!(!one_letter_off("birth", "berht"));
        assert!(!one_letter_off("parki", "parki"), "the same is not a typo");
    }
}
