//! RFC 9457 problem details, with `errors[]` carrying field paths and positions.

use andon_core::ErrorKind;
use andon_spec::Diagnostic;
use andon_spec::diag::Class;
use http::StatusCode;
use serde::{Deserialize, Serialize};

/// The media type of a problem document.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// An error answer: `type`, `title`, `status`, `detail`, and per-field `errors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Diagnostic>,
}

/// The HTTP status an error kind is reported with.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn title_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidArgument => "Invalid input",
        ErrorKind::Unprocessable => "Invalid resource",
        ErrorKind::NotFound => "Not found",
        ErrorKind::Conflict => "Conflict",
        ErrorKind::TooLarge => "Input too large",
        ErrorKind::Unavailable => "Unavailable",
        ErrorKind::Timeout => "Timed out",
        ErrorKind::Internal => "Internal error",
    }
}

impl Problem {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Problem {
        Problem {
            type_: format!("https://andon.dev/problems/{}", kind.as_str()),
            title: title_of(kind).to_owned(),
            status: status_of(kind).as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// A problem for input that failed to read or validate: 413 when too large, 400 when
    /// not readable as YAML/JSON, 422 when readable but invalid.
    pub fn from_diagnostics(diags: Vec<Diagnostic>) -> Problem {
        let kind = if diags.iter().any(|d| d.class == Class::TooLarge) {
            ErrorKind::TooLarge
        } else if diags.iter().any(|d| d.class == Class::Syntax) {
            ErrorKind::InvalidArgument
        } else {
            ErrorKind::Unprocessable
        };
        let detail = match diags.as_slice() {
            [one] => one.to_string(),
            many => format!("{} problems found; see errors", many.len()),
        };
        Problem { errors: diags, ..Problem::new(kind, detail) }
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use andon_spec::Pos;

    #[test]
    fn classes_pick_the_status() {
        let invalid = Diagnostic::at(Pos::new(1, 1), "spec", "bad");
        let syntax = invalid.clone().with_class(Class::Syntax);
        assert_eq!(Problem::from_diagnostics(vec![invalid.clone()]).status, 422);
        assert_eq!(Problem::from_diagnostics(vec![invalid.clone(), syntax]).status, 400);
        assert_eq!(
            Problem::from_diagnostics(vec![invalid.with_class(Class::TooLarge)]).status,
            413
        );
        let p = Problem::new(ErrorKind::Conflict, "stale");
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"type": "https://andon.dev/problems/conflict", "title": "Conflict", "status": 409, "detail": "stale"})
        );
    }
}
