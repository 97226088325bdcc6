//! The life of a request: its statuses, how a closed one was resolved, and which moves are legal.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a request stands. Open311 clients see only `open` or `closed` (see [`Status::open311`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Stored and given a tracking number; not yet routed.
    Submitted,
    /// Routed to a department and acknowledged to the reporter.
    Open,
    InProgress,
    Closed,
    /// Closed long enough ago to leave the working set.
    Archived,
}

/// Why a closed request was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Fixed,
    Duplicate,
    Referred,
    NoAction,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Submitted,
        Status::Open,
        Status::InProgress,
        Status::Closed,
        Status::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::Open => "open",
            Status::InProgress => "in_progress",
            Status::Closed => "closed",
            Status::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// The two-valued status of Open311 GeoReport v2.
    pub fn open311(self) -> &'static str {
        match self {
            Status::Submitted | Status::Open | Status::InProgress => "open",
            Status::Closed | Status::Archived => "closed",
        }
    }

    /// Checks a move against the status table; the error says why a move is refused.
    pub fn check_transition(self, to: Status) -> Result<(), String> {
        use Status::*;
        let legal = matches!(
            (self, to),
            (Submitted, Open)
                | (Submitted, Closed)
                | (Open, InProgress)
                | (Open, Closed)
                | (InProgress, Open)
                | (InProgress, Closed)
                | (Closed, Open)
                | (Closed, Archived)
        );
        if legal {
            Ok(())
        } else {
            Err(format!(
                "a request that is {} cannot become {}",
                self.as_str(),
                to.as_str()
            ))
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Resolution {
    pub const ALL: [Resolution; 5] = [
        Resolution::Fixed,
        Resolution::Duplicate,
        Resolution::Referred,
        Resolution::NoAction,
        Resolution::Cancelled,
    ];

    pub fn parse(s: &str) -> Option<Resolution> {
        Resolution::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Fixed => "fixed",
            Resolution::Duplicate => "duplicate",
            Resolution::Referred => "referred",
            Resolution::NoAction => "no_action",
            Resolution::Cancelled => "cancelled",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_opens_a_submitted_request() {
        assert!(Status::Submitted.check_transition(Status::Open).is_ok());
    }

    #[test]
    fn archived_and_backward_moves_are_refused_with_a_reason() {
        let err = Status::Archived.check_transition(Status::Open).unwrap_err();
        assert_eq!(err, "a request that is archived cannot become open");
        assert!(Status::Open.check_transition(Status::Submitted).is_err());
        assert!(Status::Open.check_transition(Status::Archived).is_err());
        assert!(Status::Closed.check_transition(Status::Closed).is_err());
    }

    #[test]
    fn open311_sees_only_open_and_closed() {
        let open311: Vec<_> = Status::ALL.iter().map(|s| s.open311()).collect();
        assert_eq!(open311, ["open", "open", "open", "closed", "closed"]);
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
