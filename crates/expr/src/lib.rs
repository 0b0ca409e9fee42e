//! The GitHub Actions expression language, pure: what goes inside `${{ }}` in a
//! workflow, with the runner's semantics (loose equality with coercion,
//! case-insensitive string comparison, `&&`/`||` returning an operand, `*` filters,
//! the built-in functions `contains`, `startsWith`, `endsWith`, `format`, `join`,
//! `toJSON`, `fromJSON`, `case`), checked at parse time against the named values and
//! functions a place allows. `pipeline` builds workflow templates
//! (`run: echo ${{ matrix.os }}`) and `if:` conditions on it.

mod eval;
mod parse;
mod value;

use std::fmt;

pub use eval::{Host, MAX_MEMORY, evaluate, format};
pub use parse::{Allowed, BUILTINS, BinOp, Function, Index, MAX_DEPTH, MAX_LENGTH, Node, parse};
pub use value::{
    Array, Object, Value, deep_eq, js_number, json_string, loose_cmp, loose_eq, number_to_string,
    parse_json, parse_number, significant_digits, special_number,
};

/// Which stage refused an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Lexing,
    Parsing,
    Evaluation,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Lexing => "lexing",
            ErrorKind::Parsing => "parsing",
            ErrorKind::Evaluation => "evaluation",
        }
    }
}

/// An expression error: what, and where (the 0-based offset in UTF-16 units, as the
/// runner counts) when it has a place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub offset: Option<usize>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>, offset: Option<usize>) -> Error {
        Error { kind, message: message.into(), offset }
    }

    /// The message with its place, as the runner words it:
    /// `… Located at position 5 within expression: 1 < )`.
    pub fn describe(&self, expr: &str) -> String {
        match self.offset {
            Some(o) => {
                format!("{}. Located at position {} within expression: {expr}", self.message, o + 1)
            }
            None => format!("{}. Located within expression: {expr}", self.message),
        }
    }

    /// The 1-based column of the error within the expression's text (in characters).
    pub fn column(&self, expr: &str) -> Option<usize> {
        let target = self.offset?;
        let mut units = 0;
        for (i, c) in expr.chars().enumerate() {
            if units >= target {
                return Some(i + 1);
            }
            units += c.len_utf16();
        }
        Some(expr.chars().count() + 1)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Parses and evaluates in one step.
pub fn eval_str(expr: &str, allowed: &Allowed, host: &dyn Host) -> Result<Value, Error> {
    let node = parse(expr, allowed)?;
    evaluate(node.as_ref(), host)
}

/// The status functions; an `if:` that calls none of them gets `success() &&`.
pub const STATUS_FUNCTIONS: &[&str] = &["success", "failure", "cancelled", "always"];

/// Where `${{ … }}` pieces are in `text`: (start of `${{`, start and end of the
/// inside, end after `}}`). The inside ends at the first `}}` outside a string
/// literal. `Err` with the offset of an unclosed `${{`.
pub fn expression_spans(text: &str) -> Result<Vec<(usize, usize, usize, usize)>, usize> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = text[i..].find("${{") {
        let start = i + p;
        let inner = start + 3;
        let mut j = inner;
        let mut in_str = false;
        let end = loop {
            if j >= b.len() {
                return Err(start);
            }
            match b[j] {
                b'\'' => in_str = !in_str,
                b'}' if !in_str && b.get(j + 1) == Some(&b'}') => break j,
                _ => {}
            }
            j += 1;
        };
        out.push((start, inner, end, end + 2));
        i = end + 2;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
