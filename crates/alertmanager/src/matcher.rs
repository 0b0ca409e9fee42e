//! Alertmanager's label matchers: `=`, `!=`, `=~`, `!~` with anchored regexes, parsed
//! from the classic syntax (`{a="b", c=~"d.*"}`, `a=b`) and the UTF-8 syntax (quoted
//! label names, Go string escapes), and rendered the way Alertmanager shows them.

use std::cmp::Ordering;
use std::fmt;

use regex::Regex;

pub use andon_series::MatchOp;

use crate::alert::LabelSet;
use crate::text::go_quote;

/// One matcher. Regex matchers are anchored at both ends (`^(?:RE)$`).
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    re: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

fn op_rank(op: MatchOp) -> u8 {
    match op {
        MatchOp::Equal => 0,
        MatchOp::NotEqual => 1,
        MatchOp::Regex => 2,
        MatchOp::NotRegex => 3,
    }
}

impl PartialOrd for Matcher {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Alertmanager's matcher order: by name, then value, then operator.
impl Ord for Matcher {
    fn cmp(&self, other: &Self) -> Ordering {
        self.name
            .cmp(&other.name)
            .then_with(|| self.value.cmp(&other.value))
            .then_with(|| op_rank(self.op).cmp(&op_rank(other.op)))
    }
}

impl Matcher {
    /// A matcher; fails only for a regex that does not compile.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, String> {
        let name = name.into();
        let value = value.into();
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("error parsing regexp {value:?}: {}", first_line(&e)))?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher { name, op, value, re })
    }

    /// A matcher from Alertmanager's API form (`isRegex`, `isEqual`).
    pub fn from_api(
        name: impl Into<String>,
        value: impl Into<String>,
        is_regex: bool,
        is_equal: bool,
    ) -> Result<Self, String> {
        let op = match (is_regex, is_equal) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::Regex,
            (true, false) => MatchOp::NotRegex,
        };
        Matcher::new(op, name, value)
    }

    /// Alertmanager's API form: `{"name", "value", "isRegex", "isEqual"}`.
    pub fn to_api(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "value": self.value,
            "isRegex": matches!(self.op, MatchOp::Regex | MatchOp::NotRegex),
            "isEqual": matches!(self.op, MatchOp::Equal | MatchOp::Regex),
        })
    }

    /// An equality matcher.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher { name: name.into(), op: MatchOp::Equal, value: value.into(), re: None }
    }

    /// Whether a label value ("" when the label is absent) matches.
    pub fn matches(&self, value: &str) -> bool {
        let re_match = || self.re.as_ref().is_some_and(|r| r.is_match(value));
        match self.op {
            MatchOp::Equal => self.value == value,
            MatchOp::NotEqual => self.value != value,
            MatchOp::Regex => re_match(),
            MatchOp::NotRegex => !re_match(),
        }
    }

    /// Whether the matcher accepts a label set (an absent label reads as "").
    pub fn matches_labels(&self, labels: &LabelSet) -> bool {
        self.matches(labels.get(&self.name).map_or("", String::as_str))
    }

    /// Whether the matcher accepts the empty value (and so alerts without the label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

fn first_line(e: &regex::Error) -> String {
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines.last().map_or(text.clone(), |l| l.trim().trim_start_matches("error: ").to_owned())
}

/// Characters the UTF-8 syntax does not allow unquoted.
fn is_reserved(c: char) -> bool {
    c.is_whitespace() || "{}!=~,\\\"'`".contains(c)
}

/// OpenMetrics escaping: `\`, newline and `"`.
fn open_metrics_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// As Alertmanager writes a matcher: `name="value"` (OpenMetrics escapes), or with a
/// Go-quoted name and value when the name has characters the classic syntax reserves.
impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.chars().any(is_reserved) {
            write!(f, "{}{}{}", go_quote(&self.name), self.op.as_str(), go_quote(&self.value))
        } else {
            write!(f, "{}{}\"{}\"", self.name, self.op.as_str(), open_metrics_escape(&self.value))
        }
    }
}

/// A matcher list as Alertmanager writes it in route keys: `{a="b",c=~"d"}`.
pub fn matchers_string(ms: &[Matcher]) -> String {
    let parts: Vec<String> = ms.iter().map(Matcher::to_string).collect();
    format!("{{{}}}", parts.join(","))
}

/// Whether every matcher accepts the label set.
pub fn matches_all(ms: &[Matcher], labels: &LabelSet) -> bool {
    ms.iter().all(|m| m.matches_labels(labels))
}

/// Parses a list of matchers as Alertmanager reads configuration and API input: the
/// classic syntax first, the UTF-8 syntax when the classic one refuses the input, and
/// the classic parser's error when both refuse it.
pub fn parse_matchers(input: &str) -> Result<Vec<Matcher>, String> {
    match parse_classic(input) {
        Ok(ms) => Ok(ms),
        Err(classic) => parse_utf8(input).map_err(|_| classic),
    }
}

// ---- classic syntax ----

/// The classic parser (`pkg/labels`): optional braces, comma-separated matchers
/// (commas inside double quotes do not separate), a trailing comma allowed, values
/// quoted or not.
pub fn parse_classic(input: &str) -> Result<Vec<Matcher>, String> {
    let s = input.strip_prefix('{').unwrap_or(input);
    let s = s.strip_suffix('}').unwrap_or(s);
    let mut tokens = Vec::new();
    let mut token = String::new();
    let (mut inside_quotes, mut escaped) = (false, false);
    for c in s.chars() {
        match c {
            ',' if !inside_quotes => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            ',' => {}
            '"' => {
                if escaped {
                    escaped = false;
                } else {
                    inside_quotes = !inside_quotes;
                }
            }
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        token.push(c);
    }
    let last = token.trim_matches(|c: char| c.is_whitespace());
    if !last.is_empty() {
        tokens.push(last.to_owned());
    }
    tokens.iter().map(|t| parse_classic_one(t)).collect()
}

fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// One classic matcher: `name op value`, whitespace around each part ignored.
pub fn parse_classic_one(s: &str) -> Result<Matcher, String> {
    let bad = || format!("bad matcher format: {s}");
    let rest = s.trim_start_matches(is_go_space);
    let name_len = rest
        .char_indices()
        .find(|(i, c)| {
            !(c.is_ascii_alphabetic() || *c == '_' || *c == ':' || (*i > 0 && c.is_ascii_digit()))
        })
        .map_or(rest.len(), |(i, _)| i);
    if name_len == 0 {
        return Err(bad());
    }
    let name = &rest[..name_len];
    let rest = rest[name_len..].trim_start_matches(is_go_space);
    let (op, rest) = if let Some(r) = rest.strip_prefix("=~") {
        (MatchOp::Regex, r)
    } else if let Some(r) = rest.strip_prefix("!=") {
        (MatchOp::NotEqual, r)
    } else if let Some(r) = rest.strip_prefix("!~") {
        (MatchOp::NotRegex, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (MatchOp::Equal, r)
    } else {
        return Err(bad());
    };
    let raw_full = rest.trim_start_matches(is_go_space).trim_end_matches(is_go_space);
    let (raw, mut expect_quote) = match raw_full.strip_prefix('"') {
        Some(r) => (r, true),
        None => (raw_full, false),
    };
    let mut value = String::with_capacity(raw.len());
    let mut escaped = false;
    for (i, c) in raw.char_indices() {
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                c => {
                    value.push('\\');
                    value.push(c);
                }
            }
            continue;
        }
        match c {
            '\\' if i + 1 < raw.len() => escaped = true,
            '\\' => value.push('\\'),
            '"' => {
                if !expect_quote || i + 1 < raw.len() {
                    return Err(format!(
                        "matcher value contains unescaped double quote: {raw_full}"
                    ));
                }
                expect_quote = false;
            }
            c => value.push(c),
        }
    }
    if expect_quote {
        return Err(format!("matcher value contains unescaped double quote: {raw_full}"));
    }
    Matcher::new(op, name, value)
}

// ---- UTF-8 syntax ----

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Open,
    Close,
    Comma,
    Op(MatchOp),
    Quoted(String),
    Unquoted(String),
}

fn lex(input: &str) -> Result<Vec<(Tok, usize)>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        match c {
            '{' => out.push((Tok::Open, start)),
            '}' => out.push((Tok::Close, start)),
            ',' => out.push((Tok::Comma, start)),
            '=' => {
                if chars.get(i + 1) == Some(&'~') {
                    i += 1;
                    out.push((Tok::Op(MatchOp::Regex), start));
                } else {
                    out.push((Tok::Op(MatchOp::Equal), start));
                }
            }
            '!' => match chars.get(i + 1) {
                Some('=') => {
                    i += 1;
                    out.push((Tok::Op(MatchOp::NotEqual), start));
                }
                Some('~') => {
                    i += 1;
                    out.push((Tok::Op(MatchOp::NotRegex), start));
                }
                _ => return Err(format!("{start}:{}: !: expected one of '=~'", start + 1)),
            },
            '"' => {
                let mut j = i + 1;
                let mut esc = false;
                while j < chars.len() {
                    let d = chars[j];
                    if esc {
                        esc = false;
                    } else if d == '\\' {
                        esc = true;
                    } else if d == '"' {
                        break;
                    }
                    j += 1;
                }
                if j >= chars.len() {
                    let text: String = chars[i..].iter().collect();
                    return Err(format!("{start}:{}: {text}: missing end \"", chars.len()));
                }
                let text: String = chars[i..=j].iter().collect();
                let value = go_unquote(&text)
                    .map_err(|()| format!("{start}:{}: {text}: invalid input", j + 1))?;
                out.push((Tok::Quoted(value), start));
                i = j;
            }
            c if c.is_whitespace() => {}
            c if !is_reserved(c) => {
                let mut j = i;
                while j < chars.len() && !is_reserved(chars[j]) {
                    j += 1;
                }
                out.push((Tok::Unquoted(chars[i..j].iter().collect()), start));
                i = j - 1;
            }
            c => return Err(format!("{start}:{}: {c}: invalid input", start + 1)),
        }
        i += 1;
    }
    Ok(out)
}

/// The UTF-8 parser (`matcher/parse`): label names and values are either double-quoted
/// Go strings or runs of unreserved characters; braces, when present, must pair.
pub fn parse_utf8(input: &str) -> Result<Vec<Matcher>, String> {
    let toks = lex(input)?;
    let mut i = 0;
    let open = matches!(toks.first(), Some((Tok::Open, _)));
    if open {
        i += 1;
    }
    let mut out = Vec::new();
    let unexpected = |t: &(Tok, usize)| format!("{}: unexpected token", t.1);
    loop {
        match toks.get(i) {
            None => break,
            Some((Tok::Close, _)) => break,
            Some((Tok::Quoted(n) | Tok::Unquoted(n), _)) => {
                let name = n.clone();
                let op = match toks.get(i + 1) {
                    Some((Tok::Op(op), _)) => *op,
                    Some(t) => {
                        return Err(format!(
                            "{}: expected an operator such as '=', '!=', '=~' or '!~'",
                            unexpected(t)
                        ));
                    }
                    None => return Err("end of input: expected an operator".into()),
                };
                let value = match toks.get(i + 2) {
                    Some((Tok::Quoted(v) | Tok::Unquoted(v), _)) => v.clone(),
                    Some(t) => return Err(format!("{}: expected label value", unexpected(t))),
                    None => return Err("end of input: expected label value".into()),
                };
                out.push(
                    Matcher::new(op, name, value)
                        .map_err(|e| format!("failed to create matcher: {e}"))?,
                );
                i += 3;
                match toks.get(i) {
                    None | Some((Tok::Close, _)) => break,
                    Some((Tok::Comma, _)) => i += 1,
                    Some(t) => {
                        return Err(format!("{}: expected a comma or close brace", unexpected(t)));
                    }
                }
            }
            Some(t) => return Err(format!("{}: expected label name", unexpected(t))),
        }
    }
    match toks.get(i) {
        Some((Tok::Close, p)) => {
            if !open {
                return Err(format!("{p}:{}: }}: expected opening brace", p + 1));
            }
            i += 1;
        }
        _ if open => return Err("expected close brace".into()),
        _ => {}
    }
    if let Some(t) = toks.get(i) {
        return Err(format!("{}: expected end of input", unexpected(t)));
    }
    Ok(out)
}

/// Go's `strconv.Unquote` for a double-quoted string.
pub(crate) fn go_unquote(text: &str) -> Result<String, ()> {
    let inner = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).ok_or(())?;
    let mut bytes: Vec<u8> = Vec::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    let push_char = |bytes: &mut Vec<u8>, c: char| {
        let mut buf = [0u8; 4];
        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    while let Some(c) = chars.next() {
        match c {
            '"' | '\n' => return Err(()),
            '\\' => {
                let e = chars.next().ok_or(())?;
                match e {
                    'a' => bytes.push(7),
                    'b' => bytes.push(8),
                    'f' => bytes.push(12),
                    'n' => bytes.push(b'\n'),
                    'r' => bytes.push(b'\r'),
                    't' => bytes.push(b'\t'),
                    'v' => bytes.push(11),
                    '\\' => bytes.push(b'\\'),
                    '"' => bytes.push(b'"'),
                    'x' => {
                        let h: String = (0..2).filter_map(|_| chars.next()).collect();
                        if h.len() != 2 {
                            return Err(());
                        }
                        bytes.push(u8::from_str_radix(&h, 16).map_err(|_| ())?);
                    }
                    '0'..='7' => {
                        let rest: String = (0..2).filter_map(|_| chars.next()).collect();
                        let v = u32::from_str_radix(&format!("{e}{rest}"), 8).map_err(|_| ())?;
                        if rest.len() != 2 || v > 255 {
                            return Err(());
                        }
                        bytes.push(v as u8);
                    }
                    'u' | 'U' => {
                        let n = if e == 'u' { 4 } else { 8 };
                        let h: String = (0..n).filter_map(|_| chars.next()).collect();
                        if h.len() != n {
                            return Err(());
                        }
                        let v = u32::from_str_radix(&h, 16).map_err(|_| ())?;
                        push_char(&mut bytes, char::from_u32(v).ok_or(())?);
                    }
                    _ => return Err(()),
                }
            }
            c => push_char(&mut bytes, c),
        }
    }
    String::from_utf8(bytes).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Matcher {
        let ms = parse_matchers(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ms.len(), 1, "{s}");
        ms.into_iter().next().unwrap_or_else(|| Matcher::equal("", ""))
    }

    #[test]
    fn classic_forms() {
        let m = one(r#"foo="bar""#);
        assert_eq!((m.name.as_str(), m.op, m.value.as_str()), ("foo", MatchOp::Equal, "bar"));
        let m = one("foo = bar ");
        assert_eq!(m.value, "bar");
        let m = one(r#"foo=~"5..""#);
        assert_eq!(m.op, MatchOp::Regex);
        assert!(m.matches("500") && !m.matches("5000"));
        let m = one(r#"quote="She said: \"Hi, ladies!\"""#);
        assert_eq!(m.value, r#"She said: "Hi, ladies!""#);
        let m = one(r#"a="b\c""#);
        assert_eq!(m.value, r"b\c", "a lone backslash stays literal");
        let m = one(r#"a="x\ny""#);
        assert_eq!(m.value, "x\ny");
        let ms = parse_matchers(r#"{foo = "bar", dings != "bums", }"#).unwrap_or_default();
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[1].op, MatchOp::NotEqual);
        assert!(parse_matchers("").unwrap_or_default().is_empty());
        assert!(parse_matchers("{}").unwrap_or_default().is_empty());
        let ms = parse_matchers("foo=bar,dings!=bums").unwrap_or_default();
        assert_eq!(ms.len(), 2);
        let m = one("foo=");
        assert_eq!(m.value, "");
    }

    #[test]
    fn classic_errors() {
        for bad in [r#"foo="bar"#, r#"foo=ba"r"#, "=bar", "foo", "1a=b", r#"a=~"(""#, "a=b,,c=d"] {
            assert!(parse_classic(bad).is_err(), "{bad}");
        }
        assert!(parse_matchers("foo=~(").is_err());
    }

    #[test]
    fn utf8_forms_accepted_by_fallback() {
        let m = one(r#""foo.bar"="baz""#);
        assert_eq!(m.name, "foo.bar");
        assert_eq!(m.to_string(), r#"foo.bar="baz""#);
        let m = one(r#""a b"=~"x""#);
        assert_eq!(m.to_string(), r#""a b"=~"x""#);
        let m = one("{\"ünïcødé\"=\"\\u00e9\"}");
        assert_eq!(m.value, "é");
        assert!(parse_utf8("{a=b").is_err());
        assert!(parse_utf8("a=b}").is_err());
        assert!(parse_utf8("a=b c=d").is_err());
        assert_eq!(parse_utf8("{a=b,c!~d,}").map(|v| v.len()), Ok(2));
        assert!(parse_utf8(r#"a="\q""#).is_err());
        assert_eq!(parse_utf8("").map(|v| v.len()), Ok(0));
    }

    #[test]
    fn regexes_are_anchored_and_render_unanchored() {
        let m = Matcher::new(MatchOp::Regex, "a", "b|c").unwrap_or_else(|e| panic!("{e}"));
        assert!(m.matches("b") && m.matches("c") && !m.matches("bc") && !m.matches(""));
        assert_eq!(m.to_string(), r#"a=~"b|c""#);
        let n = Matcher::new(MatchOp::NotRegex, "a", ".*").unwrap_or_else(|e| panic!("{e}"));
        assert!(!n.matches("x"));
        assert!(Matcher::new(MatchOp::NotEqual, "a", "").is_ok_and(|m| !m.matches_empty()));
    }

    #[test]
    fn sorting_and_rendering_lists() {
        let mut ms = parse_matchers(r#"b="1", a=~"x", a="x", a="w""#).unwrap_or_default();
        ms.sort();
        assert_eq!(matchers_string(&ms), r#"{a="w",a="x",a=~"x",b="1"}"#);
        let m = Matcher::equal("x", "a\"b\\c\nd");
        assert_eq!(m.to_string(), r#"x="a\"b\\c\nd""#);
    }

    #[test]
    fn go_unquote_escapes() {
        assert_eq!(go_unquote(r#""a\tb\x41\101\u00e9\U0001F600""#), Ok("a\tbAAé😀".into()));
        assert!(go_unquote(r#""\'""#).is_err());
        assert!(go_unquote(r#""\xff""#).is_err());
    }
}
