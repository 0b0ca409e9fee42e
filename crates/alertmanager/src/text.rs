//! Text forms Alertmanager shows to users and receivers: Go-quoted strings, label sets
//! as `{a="b", c="d"}`, RFC 3339 timestamps with trimmed fractions, Go's `QuoteMeta`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use andon_core::time::civil_from_days;

/// Quotes `s` the way Go's `strconv.Quote` does: `"` and `\` escaped, control and
/// other non-printing characters written as escapes, printable Unicode kept.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint`, closely enough for label values: no control characters,
/// no spacing other than the ASCII space, no invisible format characters.
fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
        | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF)
}

/// Whether `name` is a classic Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_classic_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A label set as Prometheus's `LabelSet.String()` writes it: names sorted,
/// values Go-quoted, `", "` between pairs: `{alertname="X", job="api"}`.
pub fn label_set_string(labels: &BTreeMap<String, String>) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if is_classic_label_name(k) {
            out.push_str(k);
        } else {
            out.push_str(&go_quote(k));
        }
        out.push('=');
        out.push_str(&go_quote(v));
    }
    out.push('}');
    out
}

/// Go's zero time in Unix milliseconds (`0001-01-01T00:00:00Z`).
pub const GO_ZERO_TIME_MS: i64 = -62_135_596_800_000;

/// Unix milliseconds as Go's `time.RFC3339Nano` in UTC: `2024-05-01T10:00:00.5Z`
/// (trailing zeros of the fraction dropped, no fraction when whole).
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out =
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60);
    if frac != 0 {
        let f = format!("{frac:03}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// An optional time: [`rfc3339`], or Go's zero time when unset.
pub fn rfc3339_or_zero(ms: Option<i64>) -> String {
    rfc3339(ms.unwrap_or(GO_ZERO_TIME_MS))
}

/// Go's `regexp.QuoteMeta`: every regex metacharacter backslash-escaped.
pub fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_go() {
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("line\nnext\ttab"), r#""line\nnext\ttab""#);
        assert_eq!(go_quote("\u{1}"), r#""\x01""#);
        assert_eq!(go_quote("héllo ☃"), "\"héllo ☃\"");
        assert_eq!(go_quote("\u{200b}"), r#""\u200b""#);
    }

    #[test]
    fn label_sets_render_like_prometheus() {
        let mut l = BTreeMap::new();
        assert_eq!(label_set_string(&l), "{}");
        l.insert("job".to_owned(), "api".to_owned());
        l.insert("alertname".to_owned(), "High \"CPU\"".to_owned());
        assert_eq!(label_set_string(&l), r#"{alertname="High \"CPU\"", job="api"}"#);
        l.insert("a.b".to_owned(), "x".to_owned());
        assert!(label_set_string(&l).starts_with(r#"{"a.b"="x", "#));
    }

    #[test]
    fn timestamps_render_like_go() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_120), "2023-11-14T22:13:20.12Z");
        assert_eq!(rfc3339(1_700_000_000_001), "2023-11-14T22:13:20.001Z");
        assert_eq!(rfc3339_or_zero(None), "0001-01-01T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn quote_meta_escapes_metacharacters() {
        assert_eq!(quote_meta("team-a"), "team-a");
        assert_eq!(quote_meta("a.b(c)"), r"a\.b\(c\)");
    }
}
