//! Expression values: null, booleans, numbers (f64), strings, arrays and objects
//! whose keys match case-insensitively and keep their order. Coercions follow the
//! Actions runner: `Number(…)`-style string → number, at most 15 decimals when a
//! number becomes a string, falsy `null`/`false`/`0`/`NaN`/`''`. JSON goes both ways
//! with key order kept (`fromJSON`, `toJSON` pretty-printed with two spaces).

use std::fmt::Write as _;
use std::sync::Arc;

/// An expression value. Arrays and objects are shared: equality between them is
/// identity, as in the runner.
#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(Arc<str>),
    Array(Arc<Array>),
    Object(Arc<Object>),
}

/// An array; `filtered` marks the result of a `*` filter, to which a further index
/// applies element-wise.
#[derive(Clone, Debug, Default)]
pub struct Array {
    pub items: Vec<Value>,
    pub filtered: bool,
}

/// An object: keys in insertion order, looked up without regard to case.
#[derive(Clone, Debug, Default)]
pub struct Object {
    entries: Vec<(String, Value)>,
}

fn same_key(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
        || (!(a.is_ascii() && b.is_ascii()) && a.to_lowercase() == b.to_lowercase())
}

impl Object {
    pub fn new() -> Object {
        Object::default()
    }

    /// Sets `key` (replacing an entry whose key matches it without regard to case).
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        match self.entries.iter_mut().find(|(k, _)| same_key(k, &key)) {
            Some(e) => e.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| same_key(k, key)).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl FromIterator<(String, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let mut o = Object::new();
        for (k, v) in iter {
            o.insert(k, v);
        }
        o
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(Arc::from(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(Arc::from(s))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(n)
    }
}

impl From<Object> for Value {
    fn from(o: Object) -> Value {
        Value::Object(Arc::new(o))
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(Arc::new(Array { items, filtered: false }))
    }
}

impl Value {
    /// The kind's name as the runner reports it.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "Null",
            Value::Bool(_) => "Boolean",
            Value::Number(_) => "Number",
            Value::String(_) => "String",
            Value::Array(_) => "Array",
            Value::Object(_) => "Object",
        }
    }

    pub fn is_primitive(&self) -> bool {
        !matches!(self, Value::Array(_) | Value::Object(_))
    }

    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => !(*n == 0.0 || n.is_nan()),
            Value::String(s) => !s.is_empty(),
            Value::Array(_) | Value::Object(_) => true,
        }
    }

    /// The value as a number: strings as `Number(…)` reads them, `true` 1,
    /// `false`/`null` 0, arrays and objects NaN.
    pub fn to_number(&self) -> f64 {
        match self {
            Value::Null => 0.0,
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::Number(n) => *n,
            Value::String(s) => parse_number(s),
            Value::Array(_) | Value::Object(_) => f64::NAN,
        }
    }

    /// The value as a string: numbers with at most 15 decimals, `null` as `''`,
    /// arrays as `Array` and objects as `Object`.
    pub fn to_display(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => number_to_string(*n),
            Value::String(s) => s.to_string(),
            Value::Array(_) => "Array".into(),
            Value::Object(_) => "Object".into(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Compact JSON (what `toJSON` pretty-prints).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        write_json(self, None, 0, &mut out);
        out
    }

    /// JSON indented by two spaces, as `toJSON` prints it.
    pub fn to_json_pretty(&self) -> String {
        let mut out = String::new();
        write_json(self, Some("  "), 0, &mut out);
        out
    }
}

/// Whether two values are equal: after coercion (number against string: the string
/// as a number; booleans and null as numbers), strings without regard to case,
/// arrays and objects only as the same reference, NaN never.
pub fn loose_eq(a: &Value, b: &Value) -> bool {
    let (a, b) = coerce(a, b);
    match (&a, &b) {
        (Value::Null, Value::Null) => true,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::String(x), Value::String(y)) => upper(x) == upper(y),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => Arc::ptr_eq(x, y),
        (Value::Object(x), Value::Object(y)) => Arc::ptr_eq(x, y),
        _ => false,
    }
}

/// `a > b` (`Less` for `<`) after the same coercion; `None` when the kinds cannot
/// be compared (then every ordering is false).
pub fn loose_cmp(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    let (a, b) = coerce(a, b);
    match (&a, &b) {
        (Value::Number(x), Value::Number(y)) => x.partial_cmp(y),
        (Value::String(x), Value::String(y)) => {
            Some(upper(x).encode_utf16().cmp(upper(y).encode_utf16()))
        }
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn coerce(a: &Value, b: &Value) -> (Value, Value) {
    let num = |v: &Value| Value::Number(v.to_number());
    match (a, b) {
        _ if std::mem::discriminant(a) == std::mem::discriminant(b) => (a.clone(), b.clone()),
        (Value::Number(_), Value::String(_)) => (a.clone(), num(b)),
        (Value::String(_), Value::Number(_)) => (num(a), b.clone()),
        (Value::Null | Value::Bool(_), _) => coerce(&num(a), b),
        (_, Value::Null | Value::Bool(_)) => coerce(a, &num(b)),
        _ => (a.clone(), b.clone()),
    }
}

/// Upper case for comparisons, leaving the dotless `ı` as it is (as the runner does).
pub fn upper(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == 'ı' {
            out.push(c);
        } else {
            out.extend(c.to_uppercase());
        }
    }
    out
}

fn is_js_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// A string read as a number the way JavaScript's `Number(…)` reads it: trimmed,
/// empty is 0, decimal with optional sign and exponent, `0x`/`0o`/`0b` integers,
/// `Infinity` with optional sign; anything else NaN.
pub fn parse_number(s: &str) -> f64 {
    let t = s.trim_matches(is_js_space);
    if t.is_empty() {
        return 0.0;
    }
    for (prefix, radix) in [("0x", 16), ("0X", 16), ("0o", 8), ("0O", 8), ("0b", 2), ("0B", 2)] {
        if let Some(digits) = t.strip_prefix(prefix) {
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return f64::NAN;
            }
            return digits
                .chars()
                .filter_map(|c| c.to_digit(radix))
                .fold(0.0, |acc, d| acc * f64::from(radix) + f64::from(d));
        }
    }
    let (sign, body) = match t.as_bytes()[0] {
        b'-' => (-1.0, &t[1..]),
        b'+' => (1.0, &t[1..]),
        _ => (1.0, t),
    };
    if body == "Infinity" {
        return sign * f64::INFINITY;
    }
    // Digits, an optional fraction, an optional exponent; at least one digit before
    // the exponent.
    let b = body.as_bytes();
    let mut i = 0;
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - f;
    }
    if digits == 0 {
        return f64::NAN;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return f64::NAN;
        }
    }
    if i != b.len() {
        return f64::NAN;
    }
    body.parse::<f64>().map_or(f64::NAN, |v| sign * v)
}

/// A number as the runner writes it into strings: rounded to 15 decimals, then in
/// JavaScript's shortest form; `-0` is `0`.
pub fn number_to_string(n: f64) -> String {
    if n == 0.0 {
        return "0".into();
    }
    if !n.is_finite() || n.abs() >= 1e21 {
        return js_number(n);
    }
    let rounded: f64 = format!("{n:.15}").parse().unwrap_or(n);
    js_number(rounded)
}

/// The significant digits of a finite, non-zero number (no trailing zeros) and its
/// decimal exponent (`d.ddd × 10^exp`): the shortest digits that read back to the
/// same double, or rounded to `precision` significant digits.
pub fn significant_digits(n: f64, precision: Option<usize>) -> (String, i32) {
    let sci = match precision {
        Some(p) => format!("{:.*e}", p.saturating_sub(1), n.abs()),
        None => format!("{:e}", n.abs()),
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    (digits.to_string(), exp.parse().unwrap_or(0))
}

/// Deep equality of plain values: arrays in order, objects by their keys (whatever
/// the order), strings exactly, NaN equal to NaN.
pub fn deep_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.items.len() == y.items.len()
                && x.items.iter().zip(&y.items).all(|(p, q)| deep_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| deep_eq(v, w)))
        }
        _ => false,
    }
}

/// How NaN, the infinities and zero are written (the same in JavaScript and .NET).
pub fn special_number(n: f64) -> Option<String> {
    if n.is_nan() {
        return Some("NaN".into());
    }
    if n.is_infinite() {
        return Some(if n > 0.0 { "Infinity" } else { "-Infinity" }.into());
    }
    (n == 0.0).then(|| "0".into())
}

/// JavaScript's `Number.prototype.toString()` for a double.
pub fn js_number(n: f64) -> String {
    if let Some(s) = special_number(n) {
        return s;
    }
    let (digits, exp) = significant_digits(n, None);
    let k = digits.len() as i32;
    let point = exp + 1; // value = 0.digits × 10^point
    let mut out = String::new();
    if n < 0.0 {
        out.push('-');
    }
    if k <= point && point <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (point - k) as usize));
    } else if 0 < point && point <= 21 {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    } else if -6 < point && point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = point - 1;
        let _ = write!(out, "e{}{}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    out
}

fn write_json(v: &Value, indent: Option<&str>, depth: usize, out: &mut String) {
    let newline = |out: &mut String, depth: usize| {
        if let Some(ind) = indent {
            out.push('\n');
            for _ in 0..depth {
                out.push_str(ind);
            }
        }
    };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_finite() => out.push_str(&js_number(*n)),
        Value::Number(_) => out.push_str("null"),
        Value::String(s) => json_string(s, out),
        Value::Array(a) if a.items.is_empty() => out.push_str("[]"),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_json(item, indent, depth + 1, out);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(o) if o.is_empty() => out.push_str("{}"),
        Value::Object(o) => {
            out.push('{');
            for (i, (k, item)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                json_string(k, out);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_json(item, indent, depth + 1, out);
            }
            newline(out, depth);
            out.push('}');
        }
    }
}

/// A JSON string literal as JavaScript's `JSON.stringify` writes it.
pub fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Reads JSON text into a value, object keys in their order (a repeated key keeps
/// its last value). The error names the byte offset.
pub fn parse_json(text: &str) -> Result<Value, String> {
    let mut p = JsonReader { b: text.as_bytes(), i: 0, text, depth: 0 };
    p.ws();
    let v = p.value()?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("unexpected data after the JSON value"));
    }
    Ok(v)
}

struct JsonReader<'a> {
    b: &'a [u8],
    i: usize,
    text: &'a str,
    depth: usize,
}

impl JsonReader<'_> {
    fn err(&self, what: &str) -> String {
        format!("invalid JSON at offset {}: {what}", self.i)
    }

    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.depth += 1;
        if self.depth > 512 {
            return Err(self.err("nested too deeply"));
        }
        let v = match self.b.get(self.i) {
            None => Err(self.err("unexpected end")),
            Some(b'{') => {
                self.i += 1;
                let mut o = Object::new();
                self.ws();
                if !self.eat(b'}') {
                    loop {
                        self.ws();
                        if self.b.get(self.i) != Some(&b'"') {
                            return Err(self.err("expected a string key"));
                        }
                        let k = self.string()?;
                        self.ws();
                        if !self.eat(b':') {
                            return Err(self.err("expected ':'"));
                        }
                        self.ws();
                        let v = self.value()?;
                        o.entries.retain(|(x, _)| *x != k);
                        o.entries.push((k, v));
                        self.ws();
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.err("expected ',' or '}'"));
                        }
                    }
                }
                Ok(Value::from(o))
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if !self.eat(b']') {
                    loop {
                        self.ws();
                        items.push(self.value()?);
                        self.ws();
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.err("expected ',' or ']'"));
                        }
                    }
                }
                Ok(Value::from(items))
            }
            Some(b'"') => self.string().map(Value::from),
            Some(b't') if self.b[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Value::Bool(true))
            }
            Some(b'f') if self.b[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Value::Bool(false))
            }
            Some(b'n') if self.b[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(Value::Null)
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => self.number(),
            Some(_) => Err(self.err("unexpected character")),
        };
        self.depth -= 1;
        v
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        self.eat(b'-');
        let digits = |r: &mut Self| {
            let s = r.i;
            while r.i < r.b.len() && r.b[r.i].is_ascii_digit() {
                r.i += 1;
            }
            r.i - s
        };
        let int_start = self.i;
        let n = digits(self);
        if n == 0 || (n > 1 && self.b[int_start] == b'0') {
            return Err(self.err("invalid number"));
        }
        if self.eat(b'.') && digits(self) == 0 {
            return Err(self.err("invalid number"));
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _ = self.eat(b'+') || self.eat(b'-');
            if digits(self) == 0 {
                return Err(self.err("invalid number"));
            }
        }
        self.text[start..self.i]
            .parse::<f64>()
            .map(Value::Number)
            .map_err(|_| self.err("invalid number"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self.text.get(self.i..self.i + 4).ok_or_else(|| self.err("bad \\u escape"))?;
        let v = u32::from_str_radix(h, 16).map_err(|_| self.err("bad \\u escape"))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // the opening quote
        let mut out = String::new();
        loop {
            let start = self.i;
            while self.i < self.b.len() && !matches!(self.b[self.i], b'"' | b'\\') {
                if self.b[self.i] < 0x20 {
                    return Err(self.err("control character in a string"));
                }
                self.i += 1;
            }
            out.push_str(&self.text[start..self.i]);
            match self.b.get(self.i) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                _ => {}
            }
            self.i += 1; // the backslash
            let c = *self.b.get(self.i).ok_or_else(|| self.err("unterminated string"))?;
            self.i += 1;
            match c {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let hi = self.hex4()?;
                    let code =
                        if (0xd800..0xdc00).contains(&hi) && self.b[self.i..].starts_with(b"\\u") {
                            self.i += 2;
                            let lo = self.hex4()?;
                            0x10000 + ((hi - 0xd800) << 10) + (lo.wrapping_sub(0xdc00) & 0x3ff)
                        } else {
                            hi
                        };
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                }
                _ => return Err(self.err("bad escape")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_javascript() {
        for (s, want) in [
            ("", 0.0),
            (" 12 ", 12.0),
            ("0x1F", 31.0),
            ("0o17", 15.0),
            ("0b101", 5.0),
            ("-1.5e2", -150.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("+Infinity", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
        ] {
            assert_eq!(parse_number(s), want, "{s:?}");
        }
        for s in ["abc", "-0xff", "1e", "inf", "nan", "1_0", "0x", "1.2.3"] {
            assert!(parse_number(s).is_nan(), "{s:?}");
        }
    }

    #[test]
    fn numbers_print_like_the_runner() {
        for (n, want) in [
            (0.845_512_408_225_570_1, "0.84551240822557"),
            (123456.789, "123456.789"),
            (1.2e-2, "0.012"),
            (-0.0, "0"),
            (1e21, "1e+21"),
            (1e-7, "1e-7"),
            (120.0, "120"),
        ] {
            assert_eq!(number_to_string(n), want, "{n}");
        }
        assert_eq!(js_number(1e-7), "1e-7");
        assert_eq!(js_number(123456789.123), "123456789.123");
        assert_eq!(js_number(1.5e300), "1.5e+300");
    }

    #[test]
    fn json_keeps_key_order_and_pretty_prints() {
        let v = parse_json(r#"{"b": [1, 2.5, "x\n"], "a": {}, "c": null}"#).unwrap_or(Value::Null);
        assert_eq!(v.to_json(), r#"{"b":[1,2.5,"x\n"],"a":{},"c":null}"#);
        assert_eq!(
            v.to_json_pretty(),
            "{\n  \"b\": [\n    1,\n    2.5,\n    \"x\\n\"\n  ],\n  \"a\": {},\n  \"c\": null\n}"
        );
        assert!(parse_json("[1,]").is_err());
        assert!(parse_json("01").is_err());
        assert!(parse_json("\"\\ud83d\\ude00\"").is_ok_and(|v| v.as_str() == Some("😀")));
    }
}
