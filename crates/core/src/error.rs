//! The error taxonomy: every crate's error maps onto one of these kinds, and only
//! the API boundary turns a kind into an HTTP status or an exit code.

use serde::{Deserialize, Serialize};

/// What class of failure happened, independent of the transport that reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// The input is malformed: bad syntax, an unknown field, a wrong type.
    InvalidArgument,
    /// The input is well-formed but breaks a rule (negative replicas, duplicate names).
    Unprocessable,
    /// The thing named does not exist.
    NotFound,
    /// A precondition on the current state failed (stale resourceVersion).
    Conflict,
    /// The input is larger than the limit.
    TooLarge,
    /// A dependency (database, peer) cannot be reached right now; retrying may help.
    Unavailable,
    /// The operation took longer than allowed.
    Timeout,
    /// A bug or an unexpected state inside andon.
    Internal,
}

impl ErrorKind {
    /// A stable, lowercase identifier used in problem `type` URIs and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid-argument",
            ErrorKind::Unprocessable => "unprocessable",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::TooLarge => "too-large",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Internal => "internal",
        }
    }
}
