//! Lexical pieces both text formats share: metric and label names, quoted
//! label values, label sets, numbers, timestamps and `# HELP` escapes.
//!
//! Everything works on one line at a time; positions are byte offsets into
//! that line, which the parser turns into line and column numbers.

use andon_series::{Label, Labels};

use crate::ParseError;

/// A problem at a byte offset of the current line.
#[derive(Debug)]
pub(crate) struct Fail {
    pub(crate) at: usize,
    pub(crate) msg: String,
}

impl Fail {
    pub(crate) fn new(at: usize, msg: impl Into<String>) -> Self {
        Fail { at, msg: msg.into() }
    }

    /// The error at this offset of `line`, line number `no`.
    pub(crate) fn locate(self, line: &str, no: usize) -> ParseError {
        ParseError { line: no, column: column(line, self.at), message: self.msg }
    }
}

pub(crate) type Res<T> = Result<T, Fail>;

/// The 1-based character column of byte offset `at` in `line`.
pub(crate) fn column(line: &str, at: usize) -> usize {
    line.char_indices().take_while(|(i, _)| *i < at).count() + 1
}

/// The line as text, or an error at its first byte that is not UTF-8.
pub(crate) fn utf8(raw: &[u8], no: usize) -> Result<&str, ParseError> {
    std::str::from_utf8(raw).map_err(|e| {
        let good = std::str::from_utf8(&raw[..e.valid_up_to()]).unwrap_or_default();
        ParseError {
            line: no,
            column: good.chars().count() + 1,
            message: "invalid UTF-8".to_owned(),
        }
    })
}

/// "expected WHAT, found X" for offset `at` of `line`.
pub(crate) fn expected(line: &str, at: usize, what: &str) -> Fail {
    let found = match line.get(at..).and_then(|s| s.chars().next()) {
        None => "end of line".to_owned(),
        Some(' ') => "a space".to_owned(),
        Some('\t') => "a tab".to_owned(),
        Some(c) if c.is_control() => format!("{c:?}"),
        Some(c) => format!("`{c}`"),
    };
    Fail::new(at, format!("expected {what}, found {found}"))
}

pub(crate) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The offset of the first non-blank byte at or after `at`.
pub(crate) fn skip_blanks(b: &[u8], mut at: usize) -> usize {
    while b.get(at).is_some_and(|c| is_blank(*c)) {
        at += 1;
    }
    at
}

fn is_metric_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

pub(crate) fn is_metric_char(b: u8) -> bool {
    is_metric_start(b) || b.is_ascii_digit()
}

/// The end of the metric name `[a-zA-Z_:][a-zA-Z0-9_:]*` starting at `at`;
/// `at` itself when there is none.
pub(crate) fn metric_name_end(b: &[u8], at: usize) -> usize {
    if !b.get(at).is_some_and(|c| is_metric_start(*c)) {
        return at;
    }
    let mut i = at + 1;
    while b.get(i).is_some_and(|c| is_metric_char(*c)) {
        i += 1;
    }
    i
}

/// The end of the label name `[a-zA-Z_][a-zA-Z0-9_]*` starting at `at`;
/// `at` itself when there is none.
fn label_name_end(b: &[u8], at: usize) -> usize {
    if !b.get(at).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') {
        return at;
    }
    let mut i = at + 1;
    while b.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
        i += 1;
    }
    i
}

/// Reads the double-quoted string whose opening quote is at `at`, undoing
/// the escapes `\\`, `\"` and `\n`; any other backslash sequence is kept as
/// written. Returns the text and the offset after the closing quote.
pub(crate) fn quoted(line: &str, at: usize) -> Res<(String, usize)> {
    let b = line.as_bytes();
    let unterminated = || Fail::new(at, "label value has no closing `\"`");
    let mut out = String::new();
    let mut i = at + 1;
    let mut run = i;
    loop {
        match b.get(i) {
            None => return Err(unterminated()),
            Some(b'"') => {
                out.push_str(&line[run..i]);
                return Ok((out, i + 1));
            }
            Some(b'\\') => {
                out.push_str(&line[run..i]);
                match b.get(i + 1) {
                    None => return Err(unterminated()),
                    Some(b'\\') => out.push('\\'),
                    Some(b'"') => out.push('"'),
                    Some(b'n') => out.push('\n'),
                    Some(_) => {
                        // Kept as written: the backslash now, the character
                        // with the run that follows.
                        out.push('\\');
                        i += 1;
                        run = i;
                        continue;
                    }
                }
                i += 2;
                run = i;
            }
            Some(_) => i += 1,
        }
    }
}

/// Parses the label set whose `{` is at `at`, appending each label with the
/// offset of its name to `out`; returns the offset after the `}`. `lenient`
/// allows blanks around tokens and a trailing comma (Prometheus text).
pub(crate) fn label_set(
    line: &str,
    at: usize,
    lenient: bool,
    out: &mut Vec<(Label, usize)>,
) -> Res<usize> {
    let b = line.as_bytes();
    let skip = |i: usize| if lenient { skip_blanks(b, i) } else { i };
    let mut i = skip(at + 1);
    if b.get(i) == Some(&b'}') {
        return Ok(i + 1);
    }
    loop {
        let end = label_name_end(b, i);
        if end == i {
            return Err(expected(line, i, "a label name"));
        }
        let name = &line[i..end];
        let name_at = i;
        i = skip(end);
        if b.get(i) != Some(&b'=') {
            return Err(expected(line, i, "`=` after the label name"));
        }
        i = skip(i + 1);
        if b.get(i) != Some(&b'"') {
            return Err(expected(line, i, "`\"` opening the label value"));
        }
        let (value, next) = quoted(line, i)?;
        out.push((Label::new(name, value), name_at));
        i = skip(next);
        match b.get(i) {
            Some(b',') => {
                i = skip(i + 1);
                if lenient && b.get(i) == Some(&b'}') {
                    return Ok(i + 1);
                }
            }
            Some(b'}') => return Ok(i + 1),
            _ => return Err(expected(line, i, "`,` or `}` after the label")),
        }
    }
}

/// Sorts labels by name, rejects a name given twice (at the later
/// occurrence) and drops empty values.
pub(crate) fn finish_labels(mut pairs: Vec<(Label, usize)>) -> Res<Labels> {
    pairs.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    if let Some(w) = pairs.windows(2).find(|w| w[0].0.name == w[1].0.name) {
        let at = w[0].1.max(w[1].1);
        return Err(Fail::new(at, format!("duplicate label name `{}`", w[0].0.name)));
    }
    let labels = pairs.into_iter().map(|(l, _)| l).filter(|l| !l.value.is_empty()).collect();
    Ok(Labels::from_sorted(labels))
}

fn digits_end(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// Whether `s` is a decimal real number: an optional sign, digits with an
/// optional fraction (at least one digit in all), an optional exponent.
pub(crate) fn is_real(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_end = digits_end(b, i);
    let mut digits = int_end - i;
    i = int_end;
    if b.get(i) == Some(&b'.') {
        let frac_end = digits_end(b, i + 1);
        digits += frac_end - (i + 1);
        i = frac_end;
    }
    if digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_end = digits_end(b, i);
        if exp_end == i {
            return false;
        }
        i = exp_end;
    }
    i == b.len()
}

/// Parses a sample value: a decimal real number, `NaN`, or an optionally
/// signed `Inf`/`Infinity` (the words in any letter case).
pub(crate) fn number(s: &str) -> Option<f64> {
    if is_real(s) {
        return s.parse().ok();
    }
    let (neg, word) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("infinity") {
        return Some(if neg { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if word.len() == s.len() && word.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    None
}

/// Whole milliseconds of a decimal number of seconds that passed
/// [`is_real`], computed exactly from the digits, truncated toward zero and
/// saturated to the `i64` range.
pub(crate) fn seconds_to_ms(s: &str) -> i64 {
    const LIMIT: u128 = i64::MAX as u128 + 1;
    let b = s.as_bytes();
    let (neg, rest) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let (mantissa, exp) = match rest.iter().position(|c| *c == b'e' || *c == b'E') {
        Some(p) => (&rest[..p], exponent(&rest[p + 1..])),
        None => (rest, 0),
    };
    let (int, frac) = match mantissa.iter().position(|c| *c == b'.') {
        Some(p) => (&mantissa[..p], &mantissa[p + 1..]),
        None => (mantissa, &[][..]),
    };
    // value = digits × 10^(exp - frac.len()); milliseconds add three places.
    let shift = exp - frac.len() as i64 + 3;
    let total = (int.len() + frac.len()) as i64;
    let keep = if shift < 0 { (total + shift).max(0) } else { total };
    let mut acc: u128 = 0;
    for d in int.iter().chain(frac).take(keep as usize) {
        acc = acc * 10 + u128::from(d.saturating_sub(b'0'));
        if acc >= LIMIT {
            break;
        }
    }
    if acc > 0 {
        for _ in 0..shift.max(0) {
            acc *= 10;
            if acc >= LIMIT {
                break;
            }
        }
    }
    let acc = acc.min(LIMIT);
    if neg { (-(acc as i128)) as i64 } else { acc.min(i64::MAX as u128) as i64 }
}

/// An exponent's digits with optional sign, clamped far beyond any
/// exponent that can matter for an `i64` of milliseconds.
fn exponent(b: &[u8]) -> i64 {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let mut v: i64 = 0;
    for d in digits {
        v = (v * 10 + i64::from(d.saturating_sub(b'0'))).min(1_000_000);
    }
    if neg { -v } else { v }
}

/// Undoes `# HELP` escapes: `\\` and `\n`, and `\"` when `quotes` is set;
/// any other backslash is kept as written.
pub(crate) fn unescape_help(s: &str, quotes: bool) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.clone().next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_numbers_follow_the_openmetrics_grammar() {
        for ok in ["1", "-1", "+1", "1.", ".5", "1.5e3", "1E-3", "0001.2e-1", "1e+05"] {
            assert!(is_real(ok), "{ok}");
        }
        for bad in ["", ".", "+", "e3", "1e", "1e+", "1_0", "0x1", "1.1.1", "Inf", "NaN", " 1"] {
            assert!(!is_real(bad), "{bad}");
        }
    }

    #[test]
    fn numbers_accept_the_special_words() {
        assert_eq!(number("+Inf"), Some(f64::INFINITY));
        assert_eq!(number("-infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(number("INF"), Some(f64::INFINITY));
        assert!(number("NaN").is_some_and(f64::is_nan));
        assert!(number("nan").is_some_and(f64::is_nan));
        assert_eq!(number("+NaN"), None);
        assert_eq!(number("0x1p-3"), None);
        assert_eq!(number("1_2"), None);
        assert_eq!(number("2.5e-1"), Some(0.25));
    }

    #[test]
    fn seconds_convert_exactly_to_milliseconds() {
        assert_eq!(seconds_to_ms("0"), 0);
        assert_eq!(seconds_to_ms("000"), 0);
        assert_eq!(seconds_to_ms("1.1"), 1100);
        assert_eq!(seconds_to_ms("1.005"), 1005);
        assert_eq!(seconds_to_ms("1.0059"), 1005);
        assert_eq!(seconds_to_ms("-1.0059"), -1005);
        assert_eq!(seconds_to_ms("1.5e3"), 1_500_000);
        assert_eq!(seconds_to_ms("15e-4"), 1);
        assert_eq!(seconds_to_ms(".5"), 500);
        assert_eq!(seconds_to_ms("0.0000000001"), 0);
        assert_eq!(seconds_to_ms("1700000000.123456"), 1_700_000_000_123);
        assert_eq!(seconds_to_ms("12345678901234567890.1234567890"), i64::MAX);
        assert_eq!(seconds_to_ms("-1e30"), i64::MIN);
        assert_eq!(seconds_to_ms("1e999999999999999999"), i64::MAX);
        assert_eq!(seconds_to_ms("0e999999999999999999"), 0);
        assert_eq!(seconds_to_ms("1e-999999999999"), 0);
    }

    #[test]
    fn help_escapes() {
        assert_eq!(unescape_help(r#"a\\b\nc\"d\z\"#, true), "a\\b\nc\"d\\z\\");
        assert_eq!(unescape_help(r#"\""#, false), r#"\""#);
    }

    #[test]
    fn quoted_values_keep_unknown_escapes() {
        let line = r#""a\"b\\c\nd\z" rest"#;
        assert_eq!(quoted(line, 0).unwrap(), ("a\"b\\c\nd\\z".to_owned(), 14));
        assert!(quoted(r#""abc\"#, 0).is_err());
        assert!(quoted(r#""abc"#, 0).is_err());
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(column("ab", 0), 1);
        assert_eq!(column("é x", 3), 3);
    }
}
