//! `responses.toml`: the city's response templates (stock wording for notes and status changes),
//! checked against its services. The file is optional: without it staff get no templates.

use std::collections::BTreeSet;
use std::path::Path;

use cityfix_domain::{ResponseTemplate, Service, Status};
use serde::Deserialize;

use crate::checks::{entry_name, is_slug};
use crate::files::read_toml;
use crate::ConfigError;

/// The file's name in the city folder.
pub const RESPONSES_FILE: &str = "responses.toml";

/// The longest template text: what a note may hold.
const MOST_TEXT_CHARS: usize = 2000;
const MOST_TITLE_CHARS: usize = 80;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponsesFile {
    #[serde(default)]
    response: Vec<ResponseTemplate>,
}

/// The templates of `dir/responses.toml`, each checked: a unique id of lowercase letters, digits and
/// hyphens, a title and a text of sensible length, services the city offers, statuses a request can
/// be worked into.
pub(crate) fn read_responses(
    dir: &Path,
    services: &[Service],
) -> Result<Vec<ResponseTemplate>, ConfigError> {
    let path = dir.join(RESPONSES_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let file: ResponsesFile = read_toml(&path)?;
    let mut seen = BTreeSet::new();
    for (index, template) in file.response.iter().enumerate() {
        let fault = |field: &str, message: String| ConfigError {
            file: path.clone(),
            entry: Some(entry_name("response", index, &template.id)),
            field: Some(field.into()),
            message,
        };
        if !is_slug(&template.id, '-') || template.id.len() > 64 {
            return Err(fault(
                "id",
                "must be 1 to 64 lowercase letters, digits and hyphens".into(),
            ));
        }
        if !seen.insert(template.id.as_str()) {
            return Err(fault("id", "is used by an earlier response".into()));
        }
        let title = template.title.trim().chars().count();
        if !(1..=MOST_TITLE_CHARS).contains(&title) {
            return Err(fault(
                "title",
                format!("must be 1 to {MOST_TITLE_CHARS} characters"),
            ));
        }
        let text = template.text.trim().chars().count();
        if !(1..=MOST_TEXT_CHARS).contains(&text) {
            return Err(fault(
                "text",
                format!("must be 1 to {MOST_TEXT_CHARS} characters (what a note holds)"),
            ));
        }
        if let Some(unknown) = template
            .services
            .iter()
            .find(|code| !services.iter().any(|s| &s.code == *code))
        {
            return Err(fault(
                "services",
                format!("`{unknown}` is not a service of services.toml"),
            ));
        }
        if let Some(status) = template
            .statuses
            .iter()
            .find(|s| matches!(s, Status::Submitted | Status::Archived))
        {
            return Err(fault(
                "statuses",
                format!(
                    "staff never move a request to `{}` nor write on it there",
                    status.as_str()
                ),
            ));
        }
    }
    Ok(file.response)
}
