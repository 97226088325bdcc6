//! The pages' templates (minijinja, compiled into the binary) and their rendering: every value is
//! HTML-escaped unless a template says otherwise, so a resident's text can never become markup.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

/// The compiled templates.
pub struct Views {
    env: Environment<'static>,
}

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("sign_in.html", include_str!("../templates/sign_in.html")),
    ("queue.html", include_str!("../templates/queue.html")),
    ("request.html", include_str!("../templates/request.html")),
    ("intake.html", include_str!("../templates/intake.html")),
    ("backlogs.html", include_str!("../templates/backlogs.html")),
    ("audit.html", include_str!("../templates/audit.html")),
    ("metrics.html", include_str!("../templates/metrics.html")),
    ("problem.html", include_str!("../templates/problem.html")),
    (
        "signed_in.html",
        include_str!("../templates/signed_in.html"),
    ),
    ("assigned.html", include_str!("../templates/assigned.html")),
    (
        "information_requests.html",
        include_str!("../templates/information_requests.html"),
    ),
    (
        "information_request.html",
        include_str!("../templates/information_request.html"),
    ),
];

impl Views {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        env.add_filter("when", when);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        Views { env }
    }

    /// The page `name` with `context`, answered with `status`.
    pub fn page<C: Serialize>(&self, status: StatusCode, name: &str, context: C) -> Response {
        match self
            .env
            .get_template(name)
            .and_then(|template| template.render(context))
        {
            Ok(html) => (status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(%error, template = name, "a staff page did not render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html("<!doctype html><title>Error</title><p>This page could not be shown.</p>"),
                )
                    .into_response()
            }
        }
    }
}

/// An RFC 3339 time (already in the city's zone) as staff read it: `Tue 1 Dec 2026, 17:10`.
fn when(value: String) -> String {
    chrono::DateTime::parse_from_rfc3339(&value)
        .map(|at| at.format("%a %-d %b %Y, %H:%M").to_string())
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_template_compiles_and_escapes_what_it_is_given() {
        let views = Views::new();
        let response = views.page(
            StatusCode::OK,
            "problem.html",
            json!({ "title": "<b>t</b>", "message": "<script>alert(1)</script>" }),
        );
        assert_eq!(response.status(), StatusCode::OK);
        let env = &views.env;
        let html = env
            .get_template("problem.html")
            .unwrap()
            .render(json!({ "title": "t", "message": "<script>alert(1)</script>" }))
            .unwrap();
        assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");
        assert!(!html.contains("<script>alert"));
    }

    #[test]
    fn a_bulk_assignment_says_what_happened_to_each_request() {
        let html = Views::new()
            .env
            .get_template("assigned.html")
            .unwrap()
            .render(json!({
                "done": 1, "back": "/admin/queue",
                "results": [
                    { "id": "7K3M-9QZ2", "assigned": true, "message": null },
                    { "id": "4F7P-2HXM", "assigned": false, "message": "the request changed <meanwhile>" },
                ],
            }))
            .unwrap();
        assert!(html.contains("Assigned 1 of 2"), "{html}");
        assert!(html.contains(
            "<strong>4F7P-2HXM</strong>: not assigned. the request changed &lt;meanwhile&gt;"
        ));
    }

    #[test]
    fn times_read_as_staff_say_them() {
        assert_eq!(
            when("2026-12-01T17:10:46-05:00".into()),
            "Tue 1 Dec 2026, 17:10"
        );
        assert_eq!(when("not a time".into()), "not a time");
    }
}
