//! The one shape of "this input is wrong": which field, a machine code and a sentence for people.

use std::fmt;

/// A refusal of input, carrying enough to point the person at what to fix. Never carries the
/// personal data that was refused, only the field's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: Option<String>,
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            field: Some(field.into()),
            code: "invalid_field",
            message: message.into(),
        }
    }

    pub fn missing(field: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            field: Some(field.into()),
            code: "missing_field",
            message: message.into(),
        }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Invalid {}
