//! PromQL evaluation with Prometheus 3.x semantics over any
//! [`andon_series::Querier`], and the `promqltest` script runner that checks
//! it against Prometheus's own acceptance suite.
//!
//! Parsing uses the `promql-parser` crate (Prometheus 3.8 grammar). The
//! evaluator works step by step: an instant query is one step, a range query
//! evaluates each step and assembles the series. Selector data is fetched
//! once per query for the whole time window it can touch and then sliced
//! per step (5m lookback, left-open ranges, `offset`, `@`, subqueries).
//! Prometheus 3's delayed `__name__` removal is implemented with a per-sample
//! flag that is applied when the query finishes.

mod aggregate;
mod binary;
mod eval;
mod functions;
mod position;
pub mod promqltest;
pub mod value;

pub use eval::{Options, QueryOutput, instant_query, range_query};
pub use promql_parser::parser::Expr;
pub use value::{Matrix, RangeSeries, Sample, Value, Vector, format_float};

use std::fmt;

/// What went wrong with a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The expression does not parse or is mistyped.
    Parse,
    /// Evaluation failed (e.g. many-to-many matching, duplicate label sets).
    Execution,
    /// The query would load more samples than allowed.
    TooManySamples,
    /// The query ran past its timeout.
    Timeout,
    /// The storage failed.
    Storage,
}

#[derive(Clone, Debug, PartialEq)]
pub struct QueryError {
    pub kind: ErrorKind,
    pub message: String,
}

impl QueryError {
    pub(crate) fn exec(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Execution, message: message.into() }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QueryError {}

/// Prometheus durations in milliseconds: `0`, or `1h30m`, `5m`, `10s53ms`,
/// units y w d h m s ms, each at most once and largest first (as Prometheus
/// requires); a leading `-` negates.
pub fn parse_duration(s: &str) -> Option<i64> {
    match s.strip_prefix('-') {
        Some(r) => andon_core::prom::parse_prom_duration(r).map(|v| -v),
        None => andon_core::prom::parse_prom_duration(s),
    }
}

pub use andon_core::prom::format_prom_duration as format_duration;

/// Parses a series selector (`up{job="a"}`, as in `match[]`) into the
/// matcher sets it selects (more than one with `or` inside braces).
pub fn series_selector(input: &str) -> Result<Vec<Vec<andon_series::Matcher>>, QueryError> {
    match parse(input)? {
        Expr::VectorSelector(vs) => eval::selector_matchers(&vs),
        _ => Err(QueryError {
            kind: ErrorKind::Parse,
            message: format!("{input:?} is not a series selector"),
        }),
    }
}

/// Parses an expression. Errors read like Prometheus's,
/// `LINE:COL: parse error: MESSAGE`, with the position when it can be found.
pub fn parse(input: &str) -> Result<Expr, QueryError> {
    let normalized = byte_escapes_as_chars(input);
    promql_parser::parser::parse(&normalized).map_err(|m| {
        let message = match position::locate(input, &m) {
            Some((line, col)) => format!("{line}:{col}: parse error: {m}"),
            None => format!("parse error: {m}"),
        };
        QueryError { kind: ErrorKind::Parse, message }
    })
}

/// The 1-based line and column a parse error's message starts with.
pub fn error_position(message: &str) -> Option<(usize, usize)> {
    let (pos, _) = message.split_once(": parse error:")?;
    let (l, c) = pos.split_once(':')?;
    Some((l.parse().ok()?, c.parse().ok()?))
}

/// In PromQL strings `\xHH` is a byte, as in Go: `"\xc3\xa9"` is `é` and a
/// byte sequence that is not UTF-8 is an invalid string. The parser reads
/// `\xHH` as a code point, so runs of byte escapes are rewritten first:
/// valid UTF-8 to the characters it encodes, invalid bytes to U+FFFD (which
/// no label name accepts).
fn byte_escapes_as_chars(input: &str) -> std::borrow::Cow<'_, str> {
    if !input.contains("\\x") {
        return std::borrow::Cow::Borrowed(input);
    }
    let b = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    let mut quote: Option<u8> = None;
    let hex = |c: u8| (c as char).to_digit(16);
    while i < b.len() {
        let c = b[i];
        match quote {
            None => {
                if c == b'"' || c == b'\'' {
                    quote = Some(c);
                } else if c == b'`' {
                    // Raw strings have no escapes: copy through the closing quote.
                    let end = input[i + 1..].find('`').map(|p| i + 1 + p + 1).unwrap_or(b.len());
                    out.push_str(&input[i..end]);
                    i = end;
                    continue;
                }
            }
            Some(q) => {
                if c == q {
                    quote = None;
                } else if c == b'\\' && i + 1 < b.len() {
                    if b[i + 1] == b'x' {
                        // Collect a run of \xHH escapes.
                        let mut bytes = Vec::new();
                        let mut j = i;
                        while j + 3 < b.len() && b[j] == b'\\' && b[j + 1] == b'x' {
                            match (hex(b[j + 2]), hex(b[j + 3])) {
                                (Some(h), Some(l)) => bytes.push((h * 16 + l) as u8),
                                _ => break,
                            }
                            j += 4;
                        }
                        if !bytes.is_empty() {
                            for ch in String::from_utf8_lossy(&bytes).chars() {
                                out.push_str(&format!("\\U{:08x}", ch as u32));
                            }
                            i = j;
                            continue;
                        }
                    }
                    // Copy the escape pair unchanged.
                    out.push('\\');
                    out.push_str(
                        &input[i + 1..].chars().next().map(String::from).unwrap_or_default(),
                    );
                    i += 1 + input[i + 1..].chars().next().map(char::len_utf8).unwrap_or(0);
                    continue;
                }
            }
        }
        let ch = input[i..].chars().next().unwrap_or('\0');
        out.push(ch);
        i += ch.len_utf8().max(1);
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_arg(q: &str) -> String {
        match parse(q).unwrap() {
            Expr::Call(c) => match &*c.args.args[1] {
                Expr::StringLiteral(s) => s.val.clone(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn byte_escapes_follow_go() {
        assert_eq!(string_arg(r#"label_join(x, "\xc3\xa9", ",")"#), "é");
        assert_eq!(string_arg(r#"label_join(x, "a\xffb", ",")"#), "a\u{fffd}b");
        assert_eq!(string_arg(r#"label_join(x, "\x41\n", ",")"#), "A\n");
        assert_eq!(string_arg(r#"label_join(x, `\xff`, ",")"#), r"\xff");
    }
}
