//! How a function's failure reaches Lambda: a type to group and alarm on, and a message that names ids, never personal data.

use cityfix_app::AppError;
use lambda_runtime::Diagnostic;

/// A use case's failure as a Lambda invocation error.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Failure(#[from] pub AppError);

impl From<Failure> for Diagnostic {
    fn from(failure: Failure) -> Self {
        let error_type = match &failure.0 {
            AppError::Port(_) => "Retryable",
            AppError::Impossible(_) => "NotRetryable",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: failure.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cityfix_app::ports::PortError;

    #[test]
    fn a_store_outage_is_retryable_and_a_bad_message_is_not() {
        let outage = Diagnostic::from(Failure(AppError::Port(PortError::Unavailable(
            "table".into(),
        ))));
        assert_eq!(outage.error_type, "Retryable");
        assert!(outage.error_message.contains("table"));
        let bad = Diagnostic::from(Failure(AppError::Impossible(
            "unknown request 7K3M-9QZ2".into(),
        )));
        assert_eq!(bad.error_type, "NotRetryable");
        assert_eq!(
            bad.error_message,
            "cannot be done: unknown request 7K3M-9QZ2"
        );
    }
}
