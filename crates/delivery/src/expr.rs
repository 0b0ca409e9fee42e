//! Analysis conditions: parses and evaluates the expr-lang dialect of a metric's
//! `successCondition` / `failureCondition` (`result[0] >= 0.99`, `all(result, # < 1000)`, …)
//! over named values such as the measured `result`.
//!
//! Any source text yields either a value or an error message, never a panic: the source
//! length, the nesting depth and the work done by one evaluation are all bounded.
//!
//! The language: literals (`1`, `0x1f`, `1_000`, `1.5`, `.5`, `1e3`, `'a'`, `"a\n"`, `` `raw` ``,
//! `true`, `false`, `nil`, `[1, 2]`, `{a: 1, "b": 2}`), names, member and index access
//! (`a.b`, `a["b"]`, `a[0]`, `a[-1]`, `a[1:3]`, `a?.b`, `a?.[0]`), the operators of expr-lang
//! with its precedence (`not`/`!`, unary `-`/`+`, `**`/`^`, `*` `/` `%`, `+` `-`, `..`,
//! comparisons with chaining `1 < x < 3`, `in`, `contains`, `startsWith`, `endsWith`,
//! `matches` and their `not` forms, `and`/`&&`, `or`/`||`, `??`, `c ? a : b`, the pipe
//! `a | f(b)`), the builtin functions (see [`FUNCS`]) with closures over `#`, `#index`,
//! `#acc` and the `.field` shorthand, and comments (`// …`, `/* … */`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use regex::{Regex, RegexBuilder};

/// Longest accepted source text, in bytes.
pub const MAX_SOURCE_LEN: usize = 64 * 1024;
/// Deepest accepted nesting of sub-expressions.
pub const MAX_DEPTH: usize = 200;
/// Work one evaluation may do: a unit per node evaluated and per element (or 16 bytes of
/// text) produced or copied.
const MAX_WORK: u64 = 10_000_000;
/// Most elements an `a..b` range may produce.
const MAX_RANGE_LEN: i64 = 1_000_000;
/// Most stack the recursive parser or evaluator may use, in bytes; deeper nesting is
/// reported as too deep even below [`MAX_DEPTH`].
const STACK_BUDGET: usize = 1 << 20;
/// Compiled size limit of a `matches` pattern.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/// A value an expression reads or produces. The derived `PartialEq` is structural
/// (`Int(1) != Float(1.0)`); the language's `==` compares numbers by value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `nil`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Value>),
    /// A map with string keys.
    Map(BTreeMap<String, Value>),
}

static NIL: Value = Value::Nil;

impl Value {
    /// The value of a JSON document: numbers that are integers in range become `Int`,
    /// other numbers `Float`, objects `Map`.
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => n.as_f64().map_or(Value::Nil, Value::Float),
            },
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(items) => {
                Value::Array(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(fields) => {
                Value::Map(fields.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
            }
        }
    }

    /// The name of the value's type, as used in error messages and by `type(x)`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
        }
    }

    /// Whether the value is `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The value as a float if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(x) => Some(*x),
            _ => None,
        }
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Float(x)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
}

impl fmt::Display for Value {
    /// Shows a value the way Go's `%v` does: `<nil>`, `0.95`, `1e+06`, `NaN`, `+Inf`,
    /// `[1 2 3]`, `map[a:1 b:2]`; strings without quotes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("<nil>"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&andon_template::go_float(*x)),
            Value::Str(s) => f.write_str(s),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Map(fields) => {
                f.write_str("map[")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{k}:{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Roughly how much copying a value costs, charged against the work budget.
fn weight(v: &Value) -> u64 {
    match v {
        Value::Str(s) => 1 + s.len() as u64 / 16,
        Value::Array(items) => 1 + weight_all(items),
        Value::Map(fields) => {
            1 + fields.iter().map(|(k, v)| 1 + k.len() as u64 / 16 + weight(v)).sum::<u64>()
        }
        _ => 1,
    }
}

fn weight_all(items: &[Value]) -> u64 {
    items.iter().map(weight).sum()
}

/// `weight(v)`, or something above `cap` once it is clear the weight exceeds it; the cost
/// of computing it is bounded by `cap`.
fn weight_capped(v: &Value, cap: u64) -> u64 {
    let mut total: u64 = 1;
    match v {
        Value::Str(s) => total += s.len() as u64 / 16,
        Value::Array(items) => {
            for item in items {
                if total > cap {
                    break;
                }
                total = total.saturating_add(weight_capped(item, cap - total));
            }
        }
        Value::Map(fields) => {
            for (k, item) in fields {
                if total > cap {
                    break;
                }
                total = total.saturating_add(1 + k.len() as u64 / 16);
                total = total.saturating_add(weight_capped(item, cap.saturating_sub(total)));
            }
        }
        _ => {}
    }
    total
}

/// Roughly what comparing `a` with `b` for equality or order costs: strings by their
/// shorter length, arrays and maps only when their lengths match (otherwise the comparison
/// stops at once).
fn compare_cost(a: &Value, b: &Value, cap: u64) -> u64 {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x.len().min(y.len()) as u64 / 16,
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => weight_capped(a, cap),
        (Value::Map(x), Value::Map(y)) if x.len() == y.len() => weight_capped(a, cap),
        _ => 0,
    }
}

/// The size of a value's top level: string bytes / 16, array or map length.
fn shallow_size(v: &Value) -> u64 {
    match v {
        Value::Str(s) => s.len() as u64 / 16,
        Value::Array(items) => items.len() as u64,
        Value::Map(fields) => fields.len() as u64,
        _ => 0,
    }
}

/// The language's equality: numbers by value (`1 == 1.0`, `NaN != NaN`), arrays and maps
/// element by element, values of different types unequal.
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Int(i), Value::Float(x)) | (Value::Float(x), Value::Int(i)) => *i as f64 == *x,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter().zip(y).all(|((k1, v1), (k2, v2))| k1 == k2 && values_equal(v1, v2))
        }
        _ => false,
    }
}

/// A float truncated toward zero, if it fits an `i64`.
fn f64_to_i64(x: f64) -> Option<i64> {
    // 2^63 is exactly representable; every float below it (and at or above -2^63) fits.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (x.is_finite() && (-LIMIT..LIMIT).contains(&x)).then(|| x.trunc() as i64)
}

/// A value as shown in an error message: at most 64 characters of it.
fn brief(v: &Value) -> String {
    const LIMIT: usize = 64;
    let text = match v {
        Value::Str(s) => s.chars().take(LIMIT + 1).collect(),
        Value::Array(items) if weight_capped(v, LIMIT as u64) > LIMIT as u64 => {
            format!("[{} elements]", items.len())
        }
        Value::Map(fields) if weight_capped(v, LIMIT as u64) > LIMIT as u64 => {
            format!("map[{} entries]", fields.len())
        }
        other => other.to_string(),
    };
    if text.chars().count() > LIMIT {
        let mut cut: String = text.chars().take(LIMIT).collect();
        cut.push('…');
        cut
    } else {
        text
    }
}

fn usize_to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------------------------
// Errors and the compiled expression
// ---------------------------------------------------------------------------------------------

/// Why a source text is not a valid expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// 1-based position, in characters from the start of the source, of the offending text.
    pub column: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ExprError {}

fn err(column: usize, message: impl Into<String>) -> ExprError {
    ExprError { column, message: message.into() }
}

/// A parsed expression, evaluated any number of times against different values.
#[derive(Debug, Clone)]
pub struct Expr {
    root: Node,
    source: String,
}

impl Expr {
    /// The source text the expression was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression with `vars` as its names (`result`, …).
    pub fn eval(&self, vars: &BTreeMap<String, Value>) -> Result<Value, String> {
        let mut ctx = Ctx { vars, scopes: Vec::new(), work: 0, stack_base: stack_position() };
        let v = eval(&self.root, &mut ctx)?;
        ctx.own(v)
    }

    /// Evaluates a condition: the result must be a bool.
    pub fn eval_bool(&self, vars: &BTreeMap<String, Value>) -> Result<bool, String> {
        match self.eval(vars)? {
            Value::Bool(b) => Ok(b),
            other => Err(format!("expected bool, but got {}", other.type_name())),
        }
    }
}

impl std::str::FromStr for Expr {
    type Err = ExprError;

    fn from_str(src: &str) -> Result<Expr, ExprError> {
        parse(src)
    }
}

/// Parses an expression.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    if src.len() > MAX_SOURCE_LEN {
        return Err(err(
            1,
            format!("expression is too long ({} bytes, at most {MAX_SOURCE_LEN})", src.len()),
        ));
    }
    let chars: Vec<char> = src.chars().collect();
    let toks = lex(&chars)?;
    let mut parser = Parser {
        src: &chars,
        eof: Token { tok: Tok::Eof, col: chars.len() + 1, len: 0 },
        toks,
        pos: 0,
        depth: 0,
        closures: 0,
        stack_base: stack_position(),
    };
    let root = parser.parse_expression(0)?;
    let next = parser.peek();
    if next.tok != Tok::Eof {
        return Err(parser.unexpected(next));
    }
    Ok(Expr { root, source: src.to_string() })
}

// ---------------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i64),
    Float(f64),
    Str(String),
    /// A name, keyword or word operator (`and`, `in`, `contains`, …).
    Word(String),
    /// `#`, `#index`, `#acc`: the name after the `#`.
    Pointer(String),
    Op(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// 1-based character column of the first character.
    col: usize,
    /// Length in characters.
    len: usize,
}

/// Punctuation, longest first so that a prefix never shadows a longer operator.
const OPERATORS: [&str; 30] = [
    "??", "?.", "..", "**", "==", "!=", "<=", ">=", "&&", "||", "?", ".", "+", "-", "*", "/", "%",
    "^", "<", ">", "!", "(", ")", "[", "]", "{", "}", ",", ":", "|",
];

fn at(chars: &[char], i: usize) -> Option<char> {
    chars.get(i).copied()
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

fn is_digit(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_digit())
}

fn lex(chars: &[char]) -> Result<Vec<Token>, ExprError> {
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(c) = at(chars, i) {
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && at(chars, i + 1) == Some('/') {
            while at(chars, i).is_some_and(|c| c != '\n') {
                i += 1;
            }
            continue;
        }
        if c == '/' && at(chars, i + 1) == Some('*') {
            i += 2;
            loop {
                match at(chars, i) {
                    None => return Err(err(start + 1, "comment not terminated")),
                    Some('*') if at(chars, i + 1) == Some('/') => break,
                    Some(_) => i += 1,
                }
            }
            i += 2;
            continue;
        }
        let tok = if c.is_ascii_digit() || (c == '.' && is_digit(at(chars, i + 1))) {
            let (tok, end) = lex_number(chars, i)?;
            i = end;
            tok
        } else if c == '"' || c == '\'' {
            let (s, end) = lex_string(chars, i)?;
            i = end;
            Tok::Str(s)
        } else if c == '`' {
            i += 1;
            let mut s = String::new();
            loop {
                match at(chars, i) {
                    None => return Err(err(start + 1, "literal not terminated")),
                    Some('`') => break,
                    Some(c) => s.push(c),
                }
                i += 1;
            }
            i += 1;
            Tok::Str(s)
        } else if is_ident_start(c) {
            let mut w = String::new();
            while let Some(c) = at(chars, i).filter(|c| is_ident_char(*c)) {
                w.push(c);
                i += 1;
            }
            Tok::Word(w)
        } else if c == '#' {
            i += 1;
            let mut w = String::new();
            while let Some(c) = at(chars, i).filter(|c| is_ident_char(*c)) {
                w.push(c);
                i += 1;
            }
            Tok::Pointer(w)
        } else {
            let op = OPERATORS
                .iter()
                .copied()
                .find(|op| op.chars().enumerate().all(|(k, oc)| at(chars, i + k) == Some(oc)));
            let op = match op {
                // `c ?.5 : 1` is a ternary, not an optional member.
                Some("?.") if is_digit(at(chars, i + 2)) => "?",
                Some(op) => op,
                None => return Err(err(start + 1, format!("unrecognized character {c:?}"))),
            };
            i += op.chars().count();
            Tok::Op(op)
        };
        toks.push(Token { tok, col: start + 1, len: i - start });
    }
    Ok(toks)
}

fn lex_number(chars: &[char], start: usize) -> Result<(Tok, usize), ExprError> {
    let col = start + 1;
    let mut i = start;
    if at(chars, i) == Some('0') {
        let radix = match at(chars, i + 1) {
            Some('x' | 'X') => 16,
            Some('o' | 'O') => 8,
            Some('b' | 'B') => 2,
            _ => 0,
        };
        if radix != 0 {
            i += 2;
            let mut digits = String::new();
            while let Some(c) = at(chars, i) {
                if c == '_' {
                } else if c.is_digit(radix) {
                    digits.push(c);
                } else if c.is_ascii_alphanumeric() {
                    return Err(err(i + 1, format!("invalid digit {c:?} in number")));
                } else {
                    break;
                }
                i += 1;
            }
            if digits.is_empty() {
                return Err(err(col, "number has no digits"));
            }
            let v = i64::from_str_radix(&digits, radix)
                .map_err(|_| err(col, "integer literal is out of range"))?;
            return Ok((Tok::Int(v), i));
        }
    }
    let mut text = String::from("0");
    let mut float = false;
    let digits = |text: &mut String, i: &mut usize| {
        while let Some(c) = at(chars, *i).filter(|c| c.is_ascii_digit() || *c == '_') {
            if c != '_' {
                text.push(c);
            }
            *i += 1;
        }
    };
    digits(&mut text, &mut i);
    if at(chars, i) == Some('.') {
        match at(chars, i + 1) {
            Some(c) if c.is_ascii_digit() => {
                float = true;
                text.push('.');
                i += 1;
                digits(&mut text, &mut i);
            }
            // `1..3` is a range; `1.foo` is left for the parser to reject.
            Some(c) if c == '.' || is_ident_start(c) => {}
            _ => {
                float = true;
                i += 1;
            }
        }
    }
    if matches!(at(chars, i), Some('e' | 'E')) {
        let signed = matches!(at(chars, i + 1), Some('+' | '-'));
        let first_digit = if signed { i + 2 } else { i + 1 };
        if is_digit(at(chars, first_digit)) {
            float = true;
            text.push('e');
            if signed {
                text.push(at(chars, i + 1).unwrap_or('+'));
            }
            i = first_digit;
            digits(&mut text, &mut i);
        }
    }
    let tok = if float {
        Tok::Float(text.parse().map_err(|_| err(col, "invalid float literal"))?)
    } else {
        Tok::Int(text.parse().map_err(|_| err(col, "integer literal is out of range"))?)
    };
    Ok((tok, i))
}

fn lex_string(chars: &[char], start: usize) -> Result<(String, usize), ExprError> {
    let quote = at(chars, start);
    let unterminated = || err(start + 1, "literal not terminated");
    let mut i = start + 1;
    let mut s = String::new();
    loop {
        let c = at(chars, i).ok_or_else(unterminated)?;
        if Some(c) == quote {
            return Ok((s, i + 1));
        }
        if c != '\\' {
            s.push(c);
            i += 1;
            continue;
        }
        let esc_col = i + 1;
        i += 1;
        let e = at(chars, i).ok_or_else(unterminated)?;
        i += 1;
        let code = |i: &mut usize, n: usize, radix: u32| -> Result<char, ExprError> {
            let mut v: u32 = 0;
            for _ in 0..n {
                let d = at(chars, *i)
                    .and_then(|c| c.to_digit(radix))
                    .ok_or_else(|| err(esc_col, "invalid escape sequence"))?;
                v = v.saturating_mul(radix).saturating_add(d);
                *i += 1;
            }
            char::from_u32(v).ok_or_else(|| err(esc_col, "invalid unicode code point in escape"))
        };
        let decoded = match e {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'a' => '\x07',
            'b' => '\x08',
            'f' => '\x0c',
            'v' => '\x0b',
            '\\' | '\'' | '"' | '`' => e,
            'x' => code(&mut i, 2, 16)?,
            'u' => code(&mut i, 4, 16)?,
            'U' => code(&mut i, 8, 16)?,
            '0'..='7' => {
                i -= 1;
                code(&mut i, 3, 8)?
            }
            other => return Err(err(esc_col, format!("invalid escape sequence \\{other}"))),
        };
        s.push(decoded);
    }
}

// ---------------------------------------------------------------------------------------------
// Syntax tree
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    /// Column of the token the node is reported at.
    col: usize,
    /// 1 for a leaf, 1 + the tallest child otherwise.
    height: usize,
}

#[derive(Debug, Clone)]
enum Kind {
    Lit(Value),
    Var(String),
    /// `$env`: every name as a map.
    Env,
    /// `#`: the current element of the innermost closure.
    Pointer,
    /// `#index`: the current element's index.
    PointerIndex,
    /// `#acc`: the accumulator of `reduce`.
    PointerAcc,
    Array(Vec<Node>),
    Map(Vec<(String, Node)>),
    Member {
        obj: Box<Node>,
        key: Box<Node>,
        optional: bool,
    },
    Slice {
        obj: Box<Node>,
        from: Option<Box<Node>>,
        to: Option<Box<Node>>,
        optional: bool,
    },
    /// The end of a member chain that holds a `?.`: a `nil` short-circuit stops here.
    ChainEnd(Box<Node>),
    Unary(UnOp, Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    /// `a < b <= c`: each neighbouring pair compared, every operand evaluated once.
    Compare(Box<Node>, Vec<(BinOp, Node)>),
    /// `a matches 'literal'`, the pattern compiled once.
    Matches(Box<Node>, Regex),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
    /// A builtin's predicate or mapping, evaluated once per element.
    Closure(Box<Node>),
}

impl Kind {
    fn child_height(&self) -> usize {
        match self {
            Kind::Lit(_)
            | Kind::Var(_)
            | Kind::Env
            | Kind::Pointer
            | Kind::PointerIndex
            | Kind::PointerAcc => 0,
            Kind::Array(items) | Kind::Call(_, items) => {
                items.iter().map(|n| n.height).max().unwrap_or(0)
            }
            Kind::Map(entries) => entries.iter().map(|(_, n)| n.height).max().unwrap_or(0),
            Kind::Member { obj, key, .. } => obj.height.max(key.height),
            Kind::Slice { obj, from, to, .. } => obj
                .height
                .max(from.as_ref().map_or(0, |n| n.height))
                .max(to.as_ref().map_or(0, |n| n.height)),
            Kind::ChainEnd(n) | Kind::Unary(_, n) | Kind::Matches(n, _) | Kind::Closure(n) => {
                n.height
            }
            Kind::Binary(_, l, r) => l.height.max(r.height),
            Kind::Compare(first, rest) => {
                rest.iter().map(|(_, n)| n.height).fold(first.height, usize::max)
            }
            Kind::Cond(c, a, b) => c.height.max(a.height).max(b.height),
        }
    }
}

fn too_deep(col: usize) -> ExprError {
    err(col, format!("expression is nested too deeply (more than {MAX_DEPTH} levels)"))
}

fn mk(kind: Kind, col: usize) -> Result<Node, ExprError> {
    let height = kind.child_height() + 1;
    if height > MAX_DEPTH {
        return Err(too_deep(col));
    }
    Ok(Node { kind, col, height })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnOp {
    Not,
    Neg,
    Plus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    In,
    Contains,
    StartsWith,
    EndsWith,
    Matches,
    Range,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Coalesce,
}

impl BinOp {
    fn from_token(tok: &Tok) -> Option<BinOp> {
        let op = match tok {
            Tok::Op(op) => match *op {
                "||" => BinOp::Or,
                "&&" => BinOp::And,
                "==" => BinOp::Eq,
                "!=" => BinOp::Ne,
                "<" => BinOp::Lt,
                ">" => BinOp::Gt,
                "<=" => BinOp::Le,
                ">=" => BinOp::Ge,
                ".." => BinOp::Range,
                "+" => BinOp::Add,
                "-" => BinOp::Sub,
                "*" => BinOp::Mul,
                "/" => BinOp::Div,
                "%" => BinOp::Mod,
                "**" | "^" => BinOp::Pow,
                "??" => BinOp::Coalesce,
                _ => return None,
            },
            Tok::Word(w) => match w.as_str() {
                "or" => BinOp::Or,
                "and" => BinOp::And,
                "in" => BinOp::In,
                "contains" => BinOp::Contains,
                "startsWith" => BinOp::StartsWith,
                "endsWith" => BinOp::EndsWith,
                "matches" => BinOp::Matches,
                _ => return None,
            },
            _ => return None,
        };
        Some(op)
    }

    fn precedence(self) -> u16 {
        match self {
            BinOp::Or => 10,
            BinOp::And => 15,
            BinOp::Eq
            | BinOp::Ne
            | BinOp::Lt
            | BinOp::Gt
            | BinOp::Le
            | BinOp::Ge
            | BinOp::In
            | BinOp::Contains
            | BinOp::StartsWith
            | BinOp::EndsWith
            | BinOp::Matches => 20,
            BinOp::Range => 25,
            BinOp::Add | BinOp::Sub => 30,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 60,
            BinOp::Pow => 100,
            BinOp::Coalesce => 500,
        }
    }

    /// Ordering comparisons chain: `a < b < c` means `a < b and b < c`.
    fn chains(self) -> bool {
        matches!(self, BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge)
    }

    /// Word operators that take a `not` in front: `a not in b`.
    fn negatable(self) -> bool {
        matches!(
            self,
            BinOp::In | BinOp::Contains | BinOp::StartsWith | BinOp::EndsWith | BinOp::Matches
        )
    }

    fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Gt => ">",
            BinOp::Le => "<=",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::Contains => "contains",
            BinOp::StartsWith => "startsWith",
            BinOp::EndsWith => "endsWith",
            BinOp::Matches => "matches",
            BinOp::Range => "..",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "**",
            BinOp::Coalesce => "??",
        }
    }
}

/// The builtin functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Len,
    Abs,
    Int,
    Float,
    String,
    Upper,
    Lower,
    Trim,
    TrimPrefix,
    TrimSuffix,
    Split,
    Join,
    Replace,
    IndexOf,
    LastIndexOf,
    HasPrefix,
    HasSuffix,
    Max,
    Min,
    Sum,
    Mean,
    Median,
    Round,
    Ceil,
    Floor,
    First,
    Last,
    Keys,
    Values,
    Type,
    Reverse,
    Concat,
    All,
    Any,
    NoneOf,
    One,
    Filter,
    Map,
    Count,
    Find,
    FindIndex,
    FindLast,
    FindLastIndex,
    Reduce,
    IsNaN,
    IsInf,
    IsNil,
    AsInt,
    AsFloat,
    Default,
}

/// A builtin's name and arity.
#[derive(Debug)]
pub struct FuncInfo {
    /// The name it is called by.
    pub name: &'static str,
    func: Func,
    /// Fewest arguments.
    pub min_args: usize,
    /// Most arguments (`usize::MAX`: any number).
    pub max_args: usize,
    /// Whether the second argument is a closure over `#`.
    pub closure: bool,
}

const fn fi(name: &'static str, func: Func, min_args: usize, max_args: usize) -> FuncInfo {
    FuncInfo { name, func, min_args, max_args, closure: false }
}

const fn fc(name: &'static str, func: Func, min_args: usize, max_args: usize) -> FuncInfo {
    FuncInfo { name, func, min_args, max_args, closure: true }
}

const ANY: usize = usize::MAX;

/// Every builtin function.
pub const FUNCS: &[FuncInfo] = &[
    fi("len", Func::Len, 1, 1),
    fi("abs", Func::Abs, 1, 1),
    fi("int", Func::Int, 1, 1),
    fi("float", Func::Float, 1, 1),
    fi("string", Func::String, 1, 1),
    fi("upper", Func::Upper, 1, 1),
    fi("lower", Func::Lower, 1, 1),
    fi("trim", Func::Trim, 1, 2),
    fi("trimPrefix", Func::TrimPrefix, 2, 2),
    fi("trimSuffix", Func::TrimSuffix, 2, 2),
    fi("split", Func::Split, 2, 2),
    fi("join", Func::Join, 1, 2),
    fi("replace", Func::Replace, 3, 3),
    fi("indexOf", Func::IndexOf, 2, 2),
    fi("lastIndexOf", Func::LastIndexOf, 2, 2),
    fi("hasPrefix", Func::HasPrefix, 2, 2),
    fi("hasSuffix", Func::HasSuffix, 2, 2),
    fi("max", Func::Max, 1, ANY),
    fi("min", Func::Min, 1, ANY),
    fc("sum", Func::Sum, 1, 2),
    fi("mean", Func::Mean, 1, ANY),
    fi("median", Func::Median, 1, ANY),
    fi("round", Func::Round, 1, 1),
    fi("ceil", Func::Ceil, 1, 1),
    fi("floor", Func::Floor, 1, 1),
    fi("first", Func::First, 1, 1),
    fi("last", Func::Last, 1, 1),
    fi("keys", Func::Keys, 1, 1),
    fi("values", Func::Values, 1, 1),
    fi("type", Func::Type, 1, 1),
    fi("reverse", Func::Reverse, 1, 1),
    fi("concat", Func::Concat, 1, ANY),
    fc("all", Func::All, 2, 2),
    fc("any", Func::Any, 2, 2),
    fc("none", Func::NoneOf, 2, 2),
    fc("one", Func::One, 2, 2),
    fc("filter", Func::Filter, 2, 2),
    fc("map", Func::Map, 2, 2),
    fc("count", Func::Count, 1, 2),
    fc("find", Func::Find, 2, 2),
    fc("findIndex", Func::FindIndex, 2, 2),
    fc("findLast", Func::FindLast, 2, 2),
    fc("findLastIndex", Func::FindLastIndex, 2, 2),
    fc("reduce", Func::Reduce, 2, 3),
    fi("isNaN", Func::IsNaN, 1, 1),
    fi("isInf", Func::IsInf, 1, 1),
    fi("isNil", Func::IsNil, 1, 1),
    fi("asInt", Func::AsInt, 1, 1),
    fi("asFloat", Func::AsFloat, 1, 1),
    fi("default", Func::Default, 2, 2),
];

impl Func {
    fn name(self) -> &'static str {
        FUNCS.iter().find(|f| f.func == self).map_or("?", |f| f.name)
    }
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

struct Parser<'s> {
    src: &'s [char],
    toks: Vec<Token>,
    eof: Token,
    pos: usize,
    /// Current nesting of `parse_expression` calls.
    depth: usize,
    /// How many closures enclose the current position.
    closures: usize,
    /// Stack position when parsing started.
    stack_base: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.toks.get(self.pos).unwrap_or(&self.eof)
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        self.toks.get(self.pos + ahead).unwrap_or(&self.eof)
    }

    fn advance(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek().tok, Tok::Op(o) if o == op)
    }

    fn text(&self, t: &Token) -> String {
        let start = t.col.saturating_sub(1);
        self.src.get(start..start + t.len).map(|cs| cs.iter().collect()).unwrap_or_default()
    }

    fn unexpected(&self, t: &Token) -> ExprError {
        if t.tok == Tok::Eof {
            err(t.col, "unexpected end of expression")
        } else {
            err(t.col, format!("unexpected token {:?}", self.text(t)))
        }
    }

    /// Consumes the operator `op`, giving its column, or fails.
    fn expect_op(&mut self, op: &str) -> Result<usize, ExprError> {
        if self.is_op(op) {
            return Ok(self.advance().col);
        }
        Err(self.expected(op))
    }

    fn expected(&self, op: &str) -> ExprError {
        let t = self.peek();
        let found = if t.tok == Tok::Eof {
            "end of expression".to_string()
        } else {
            format!("{:?}", self.text(t))
        };
        err(t.col, format!("expected {op:?}, found {found}"))
    }

    /// Every nested sub-expression starts here, so the nesting limits are checked here.
    fn parse_expression(&mut self, min_prec: u16) -> Result<Node, ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH || stack_exhausted(self.stack_base) {
            return Err(too_deep(self.peek().col));
        }
        let node = self.parse_binary(min_prec);
        self.depth -= 1;
        node
    }

    fn parse_binary(&mut self, min_prec: u16) -> Result<Node, ExprError> {
        let mut left = self.parse_primary()?;
        while let Some(step) = self.next_operator(min_prec) {
            left = match step {
                Step::Pipe => self.parse_pipe(left)?,
                Step::Infix(op, negate, col) => self.parse_infix(left, op, negate, col)?,
            };
        }
        if min_prec == 0 {
            while self.is_op("?") {
                left = self.parse_conditional(left)?;
            }
        }
        Ok(left)
    }

    /// Consumes the binary operator that comes next if it binds at least as tightly as
    /// `min_prec`.
    fn next_operator(&mut self, min_prec: u16) -> Option<Step> {
        let t = self.peek();
        if t.tok == Tok::Op("|") {
            if min_prec > 0 {
                return None;
            }
            self.pos += 1;
            return Some(Step::Pipe);
        }
        let col = t.col;
        let (op, negate) = if matches!(&t.tok, Tok::Word(w) if w == "not") {
            (BinOp::from_token(&self.peek_at(1).tok).filter(|op| op.negatable())?, true)
        } else {
            (BinOp::from_token(&t.tok)?, false)
        };
        if op.precedence() < min_prec {
            return None;
        }
        self.pos += if negate { 2 } else { 1 };
        Some(Step::Infix(op, negate, col))
    }

    /// `left | f(args)`, which calls `f(left, args)`; the `|` is consumed.
    fn parse_pipe(&mut self, left: Node) -> Result<Node, ExprError> {
        let f = self.advance();
        match &f.tok {
            Tok::Word(name) if self.is_op("(") => self.parse_call(name, f.col, Some(left)),
            _ => Err(err(f.col, "expected a function call after |")),
        }
    }

    fn parse_infix(
        &mut self,
        left: Node,
        op: BinOp,
        negate: bool,
        col: usize,
    ) -> Result<Node, ExprError> {
        if op.chains() {
            return self.parse_comparison(left, op, col);
        }
        let prec = op.precedence();
        let right = self.parse_expression(if op == BinOp::Pow { prec } else { prec + 1 })?;
        binary_node(op, left, right, negate, col)
    }

    /// `left op right [op right …]` for the chaining comparisons; the first `op` is consumed.
    fn parse_comparison(&mut self, left: Node, op: BinOp, col: usize) -> Result<Node, ExprError> {
        let mut rest = Vec::new();
        let mut op = op;
        loop {
            rest.push((op, self.parse_expression(op.precedence() + 1)?));
            match BinOp::from_token(&self.peek().tok) {
                Some(next) if next.chains() => {
                    self.pos += 1;
                    op = next;
                }
                _ => break,
            }
        }
        comparison_node(left, rest, col)
    }

    /// `cond ? then : otherwise`; the `?` is next.
    fn parse_conditional(&mut self, cond: Node) -> Result<Node, ExprError> {
        let col = self.advance().col;
        let then = self.parse_expression(0)?;
        self.expect_op(":")?;
        let otherwise = self.parse_expression(0)?;
        mk(Kind::Cond(Box::new(cond), Box::new(then), Box::new(otherwise)), col)
    }

    fn parse_unary(&mut self, op: UnOp, col: usize, prec: u16) -> Result<Node, ExprError> {
        let operand = self.parse_expression(prec)?;
        mk(Kind::Unary(op, Box::new(operand)), col)
    }

    fn parse_primary(&mut self) -> Result<Node, ExprError> {
        let t = self.advance();
        let node = match &t.tok {
            Tok::Op("-") => return self.parse_unary(UnOp::Neg, t.col, 90),
            Tok::Op("+") => return self.parse_unary(UnOp::Plus, t.col, 90),
            Tok::Op("!") => return self.parse_unary(UnOp::Not, t.col, 50),
            Tok::Word(w) if w == "not" => return self.parse_unary(UnOp::Not, t.col, 50),
            Tok::Word(w) if self.is_op("(") && !is_keyword(w) => self.parse_call(w, t.col, None)?,
            Tok::Op("(") => self.parse_paren()?,
            Tok::Op("[") => self.parse_array(t.col)?,
            Tok::Op("{") => self.parse_map(t.col)?,
            _ => self.parse_leaf(&t)?,
        };
        self.parse_postfix(node)
    }

    /// A primary expression without sub-expressions: literal, name, pointer, `.field`.
    fn parse_leaf(&mut self, t: &Token) -> Result<Node, ExprError> {
        let kind = match &t.tok {
            Tok::Int(i) => Kind::Lit(Value::Int(*i)),
            Tok::Float(x) => Kind::Lit(Value::Float(*x)),
            Tok::Str(s) => Kind::Lit(Value::Str(s.clone())),
            Tok::Word(w) => match w.as_str() {
                "true" => Kind::Lit(Value::Bool(true)),
                "false" => Kind::Lit(Value::Bool(false)),
                "nil" => Kind::Lit(Value::Nil),
                "$env" => Kind::Env,
                _ if is_keyword(w) => return Err(self.unexpected(t)),
                _ => Kind::Var(w.clone()),
            },
            Tok::Pointer(name) => {
                if self.closures == 0 {
                    return Err(err(
                        t.col,
                        "# can only be used inside a closure such as all(x, # > 0)",
                    ));
                }
                match name.as_str() {
                    "" => Kind::Pointer,
                    "index" => Kind::PointerIndex,
                    "acc" => Kind::PointerAcc,
                    other => return Err(err(t.col, format!("unknown pointer #{other}"))),
                }
            }
            Tok::Op(".") if self.closures > 0 => {
                let obj = mk(Kind::Pointer, t.col)?;
                return self.parse_field(obj, t.col, false);
            }
            _ => return Err(self.unexpected(t)),
        };
        mk(kind, t.col)
    }

    fn parse_paren(&mut self) -> Result<Node, ExprError> {
        let inner = self.parse_expression(0)?;
        self.expect_op(")")?;
        Ok(inner)
    }

    fn parse_array(&mut self, col: usize) -> Result<Node, ExprError> {
        let mut items = Vec::new();
        while !self.is_op("]") {
            items.push(self.parse_expression(0)?);
            if !self.is_op(",") {
                break;
            }
            self.pos += 1;
        }
        self.expect_op("]")?;
        mk(Kind::Array(items), col)
    }

    fn parse_map(&mut self, col: usize) -> Result<Node, ExprError> {
        let mut entries = Vec::new();
        while !self.is_op("}") {
            let key = self.parse_map_key()?;
            entries.push((key, self.parse_expression(0)?));
            if !self.is_op(",") {
                break;
            }
            self.pos += 1;
        }
        self.expect_op("}")?;
        mk(Kind::Map(entries), col)
    }

    /// `name:` or `"name":` in a map literal.
    fn parse_map_key(&mut self) -> Result<String, ExprError> {
        let k = self.advance();
        let (Tok::Word(key) | Tok::Str(key)) = k.tok else {
            return Err(err(k.col, "map keys must be names or strings"));
        };
        self.expect_op(":")?;
        Ok(key)
    }

    fn parse_postfix(&mut self, mut node: Node) -> Result<Node, ExprError> {
        let start_col = node.col;
        let mut optional_seen = false;
        loop {
            if self.is_op("[") {
                node = self.parse_index(node, false)?;
                continue;
            }
            let optional = self.is_op("?.");
            if !optional && !self.is_op(".") {
                break;
            }
            let col = self.advance().col;
            optional_seen |= optional;
            node = if optional && self.is_op("[") {
                self.parse_index(node, true)?
            } else {
                self.parse_field(node, col, optional)?
            };
        }
        if optional_seen {
            node = mk(Kind::ChainEnd(Box::new(node)), start_col)?;
        }
        Ok(node)
    }

    /// The name after `obj.` (the dot at `col` is consumed).
    fn parse_field(&mut self, obj: Node, col: usize, optional: bool) -> Result<Node, ExprError> {
        let name = self.advance();
        let Tok::Word(field) = name.tok else {
            return Err(err(name.col, "expected a field name after ."));
        };
        if self.is_op("(") {
            return Err(err(name.col, format!("unknown method {field}")));
        }
        let key = mk(Kind::Lit(Value::Str(field)), name.col)?;
        mk(Kind::Member { obj: Box::new(obj), key: Box::new(key), optional }, col)
    }

    /// `[index]` or `[from:to]` after `obj`; the `[` is next.
    fn parse_index(&mut self, obj: Node, optional: bool) -> Result<Node, ExprError> {
        let col = self.expect_op("[")?;
        let from = if self.is_op(":") { None } else { Some(self.parse_expression(0)?) };
        let kind = if self.is_op(":") {
            self.pos += 1;
            let to = if self.is_op("]") { None } else { Some(Box::new(self.parse_expression(0)?)) };
            Kind::Slice { obj: Box::new(obj), from: from.map(Box::new), to, optional }
        } else {
            let Some(key) = from else {
                return Err(self.unexpected(self.peek()));
            };
            Kind::Member { obj: Box::new(obj), key: Box::new(key), optional }
        };
        self.expect_op("]")?;
        mk(kind, col)
    }

    fn parse_call(
        &mut self,
        name: &str,
        col: usize,
        piped: Option<Node>,
    ) -> Result<Node, ExprError> {
        let Some(info) = FUNCS.iter().find(|f| f.name == name) else {
            return Err(err(col, format!("unknown func {name}")));
        };
        self.expect_op("(")?;
        let mut args: Vec<Node> = piped.into_iter().collect();
        while !self.is_op(")") {
            let arg = if info.closure && args.len() == 1 {
                self.parse_closure()?
            } else {
                self.parse_expression(0)?
            };
            args.push(arg);
            if !self.is_op(",") {
                break;
            }
            self.pos += 1;
        }
        self.expect_op(")")?;
        call_node(info, args, col)
    }

    /// A closure argument: an expression over `#`, optionally wrapped in braces.
    fn parse_closure(&mut self) -> Result<Node, ExprError> {
        let col = self.peek().col;
        self.closures += 1;
        let body = if self.is_op("{") && !self.brace_opens_map() {
            self.pos += 1;
            self.parse_expression(0).and_then(|body| self.expect_op("}").map(|_| body))
        } else {
            self.parse_expression(0)
        };
        self.closures -= 1;
        mk(Kind::Closure(Box::new(body?)), col)
    }

    /// Whether the `{` that is next starts a map literal (`{}`, `{a: …}`, `{"a": …}`).
    fn brace_opens_map(&self) -> bool {
        matches!(self.peek_at(1).tok, Tok::Op("}"))
            || (matches!(self.peek_at(1).tok, Tok::Word(_) | Tok::Str(_))
                && matches!(self.peek_at(2).tok, Tok::Op(":")))
    }
}

/// What follows an operand in `parse_binary`.
enum Step {
    Pipe,
    Infix(BinOp, bool, usize),
}

/// Words that are operators or literals, never names or functions.
fn is_keyword(w: &str) -> bool {
    matches!(
        w,
        "true"
            | "false"
            | "nil"
            | "not"
            | "and"
            | "or"
            | "in"
            | "matches"
            | "contains"
            | "startsWith"
            | "endsWith"
    )
}

fn binary_node(
    op: BinOp,
    left: Node,
    right: Node,
    negate: bool,
    col: usize,
) -> Result<Node, ExprError> {
    let node = match (&right.kind, op) {
        (Kind::Lit(Value::Str(pattern)), BinOp::Matches) => {
            let re = compile_regex(pattern).map_err(|m| err(col, m))?;
            mk(Kind::Matches(Box::new(left), re), col)?
        }
        _ => mk(Kind::Binary(op, Box::new(left), Box::new(right)), col)?,
    };
    if negate { mk(Kind::Unary(UnOp::Not, Box::new(node)), col) } else { Ok(node) }
}

fn comparison_node(
    left: Node,
    mut rest: Vec<(BinOp, Node)>,
    col: usize,
) -> Result<Node, ExprError> {
    if rest.len() == 1
        && let Some((op, right)) = rest.pop()
    {
        return mk(Kind::Binary(op, Box::new(left), Box::new(right)), col);
    }
    mk(Kind::Compare(Box::new(left), rest), col)
}

fn call_node(info: &FuncInfo, args: Vec<Node>, col: usize) -> Result<Node, ExprError> {
    if args.len() < info.min_args {
        return Err(err(col, format!("not enough arguments to call {}", info.name)));
    }
    if args.len() > info.max_args {
        return Err(err(col, format!("too many arguments to call {}", info.name)));
    }
    mk(Kind::Call(info.func, args), col)
}

/// Where the stack is now: the address of a local variable.
#[inline(never)]
fn stack_position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&raw const marker).addr()
}

/// Whether recursion has used more than [`STACK_BUDGET`] bytes since `base`.
fn stack_exhausted(base: usize) -> bool {
    stack_position().abs_diff(base) > STACK_BUDGET
}

fn compile_regex(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).build().map_err(|e| {
        let text = e.to_string();
        let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("invalid");
        format!("invalid regular expression {pattern:?}: {}", last.trim())
    })
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

type Cv<'a> = Cow<'a, Value>;
type R<T> = Result<T, String>;

/// One closure invocation's `#`, `#index` and `#acc`.
struct Scope<'a> {
    elem: Cv<'a>,
    index: usize,
    acc: Option<Value>,
}

struct Ctx<'a> {
    vars: &'a BTreeMap<String, Value>,
    scopes: Vec<Scope<'a>>,
    work: u64,
    /// Stack position when evaluation started.
    stack_base: usize,
}

impl<'a> Ctx<'a> {
    fn tick(&mut self, units: u64) -> R<()> {
        self.work = self.work.saturating_add(units);
        if self.work > MAX_WORK {
            return Err("expression is too expensive to evaluate (work limit reached)".into());
        }
        Ok(())
    }

    fn remaining(&self) -> u64 {
        MAX_WORK.saturating_sub(self.work).saturating_add(1)
    }

    /// Accounts for evaluating one node.
    fn enter(&mut self) -> R<()> {
        self.tick(1)?;
        if stack_exhausted(self.stack_base) {
            return Err("expression is nested too deeply to evaluate".into());
        }
        Ok(())
    }

    /// An owned copy of `v`, charging for the copy when one is needed.
    fn own(&mut self, v: Cv<'a>) -> R<Value> {
        match v {
            Cow::Owned(v) => Ok(v),
            Cow::Borrowed(b) => {
                self.tick(weight(b))?;
                Ok(b.clone())
            }
        }
    }

    fn scope(&self) -> R<&Scope<'a>> {
        self.scopes.last().ok_or_else(|| "# used outside a closure".to_string())
    }
}

fn eval<'a>(n: &'a Node, ctx: &mut Ctx<'a>) -> R<Cv<'a>> {
    ctx.enter()?;
    match &n.kind {
        Kind::Lit(v) => Ok(Cow::Borrowed(v)),
        Kind::Var(_) | Kind::Env | Kind::Pointer | Kind::PointerIndex | Kind::PointerAcc => {
            name_value(&n.kind, ctx)
        }
        Kind::Array(items) => array_literal(items, ctx),
        Kind::Map(entries) => map_literal(entries, ctx),
        Kind::Member { .. } | Kind::Slice { .. } => member(n, ctx),
        Kind::ChainEnd(inner) => eval(inner, ctx),
        Kind::Unary(op, operand) => eval_unary(*op, operand, ctx),
        Kind::Binary(op, l, r) => binary(*op, l, r, ctx),
        Kind::Compare(first, rest) => compare_chain(first, rest, ctx),
        Kind::Matches(subject, re) => eval_matches(subject, re, ctx),
        Kind::Cond(c, a, b) => eval_cond(c, a, b, ctx),
        Kind::Call(f, args) => call(*f, args, ctx),
        Kind::Closure(_) => Err("a closure can only be a builtin's argument".into()),
    }
}

/// The value of a name, `$env` or one of the closure pointers.
fn name_value<'a>(kind: &'a Kind, ctx: &mut Ctx<'a>) -> R<Cv<'a>> {
    let vars = ctx.vars;
    match kind {
        Kind::Var(name) => {
            vars.get(name).map(Cow::Borrowed).ok_or_else(|| format!("unknown name {name}"))
        }
        Kind::Env => {
            ctx.tick(vars.values().map(weight).sum())?;
            Ok(Cow::Owned(Value::Map(vars.clone())))
        }
        Kind::Pointer => {
            let cost = match &ctx.scope()?.elem {
                Cow::Borrowed(_) => 0,
                Cow::Owned(v) => weight(v),
            };
            ctx.tick(cost)?;
            Ok(ctx.scope()?.elem.clone())
        }
        Kind::PointerIndex => Ok(Cow::Owned(Value::Int(usize_to_i64(ctx.scope()?.index)))),
        _ => {
            let acc = ctx.scope()?.acc.as_ref().ok_or("#acc is only defined inside reduce")?;
            let cost = weight(acc);
            let acc = acc.clone();
            ctx.tick(cost)?;
            Ok(Cow::Owned(acc))
        }
    }
}

fn member<'a>(n: &'a Node, ctx: &mut Ctx<'a>) -> R<Cv<'a>> {
    Ok(access(n, ctx)?.unwrap_or(Cow::Owned(Value::Nil)))
}

fn eval_unary<'a>(op: UnOp, operand: &'a Node, ctx: &mut Ctx<'a>) -> R<Cv<'a>> {
    let v = eval(operand, ctx)?;
    unary(op, &v).map(Cow::Owned)
}

fn eval_matches<'a>(subject: &'a Node, re: &Regex, ctx: &mut Ctx<'a>) -> R<Cv<'a>> {
    let v = eval(subject, ctx)?;
    ctx.tick(shallow_size(&v))?;
    match v.as_ref() {
        Value::Str(s) => Ok(Cow::Owned(Value::Bool(re.is_match(s)))),
        other => Err(mismatched(BinOp::Matches, other, &Value::Str(String::new()))),
    }
}

fn eval_cond<'a>(c: &'a Node, a: &'a Node, b: &'a Node, ctx: &mut Ctx<'a>) -> R<Cv<'a>> {
    let branch = match eval(c, ctx)?.as_ref() {
        Value::Bool(true) => a,
        Value::Bool(false) => b,
        other => return Err(format!("non-bool condition {} in ternary", other.type_name())),
    };
    eval(branch, ctx)
}

fn array_literal<'a>(items: &'a [Node], ctx: &mut Ctx<'a>) -> R<Cv<'a>> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let v = eval(item, ctx)?;
        out.push(ctx.own(v)?);
    }
    Ok(Cow::Owned(Value::Array(out)))
}

fn map_literal<'a>(entries: &'a [(String, Node)], ctx: &mut Ctx<'a>) -> R<Cv<'a>> {
    let mut out = BTreeMap::new();
    for (k, node) in entries {
        let v = eval(node, ctx)?;
        out.insert(k.clone(), ctx.own(v)?);
    }
    Ok(Cow::Owned(Value::Map(out)))
}

fn mismatched(op: BinOp, a: &Value, b: &Value) -> String {
    format!(
        "invalid operation: {} (mismatched types {} and {})",
        op.symbol(),
        a.type_name(),
        b.type_name()
    )
}

fn unary(op: UnOp, v: &Value) -> R<Value> {
    match (op, v) {
        (UnOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
        (UnOp::Neg, Value::Int(i)) => {
            i.checked_neg().map(Value::Int).ok_or_else(|| format!("integer overflow in -{i}"))
        }
        (UnOp::Neg, Value::Float(x)) => Ok(Value::Float(-x)),
        (UnOp::Plus, Value::Int(_) | Value::Float(_)) => Ok(v.clone()),
        (op, other) => {
            let sym = match op {
                UnOp::Not => "not",
                UnOp::Neg => "-",
                UnOp::Plus => "+",
            };
            Err(format!("invalid operation: {sym} (mismatched type {})", other.type_name()))
        }
    }
}

fn truth(op: BinOp, v: &Value) -> R<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(format!(
            "invalid operation: {} on {} (expected bool)",
            op.symbol(),
            other.type_name()
        )),
    }
}

fn binary<'a>(op: BinOp, l: &'a Node, r: &'a Node, ctx: &mut Ctx<'a>) -> R<Cv<'a>> {
    match op {
        BinOp::And | BinOp::Or => {
            let left = truth(op, eval(l, ctx)?.as_ref())?;
            if left == (op == BinOp::Or) {
                return Ok(Cow::Owned(Value::Bool(left)));
            }
            let right = truth(op, eval(r, ctx)?.as_ref())?;
            Ok(Cow::Owned(Value::Bool(right)))
        }
        BinOp::Coalesce => {
            let left = eval(l, ctx)?;
            if left.is_nil() { eval(r, ctx) } else { Ok(left) }
        }
        _ => {
            let left = eval(l, ctx)?;
            let right = eval(r, ctx)?;
            apply_binary(op, &left, &right, ctx).map(Cow::Owned)
        }
    }
}

fn compare_chain<'a>(first: &'a Node, rest: &'a [(BinOp, Node)], ctx: &mut Ctx<'a>) -> R<Cv<'a>> {
    let mut prev = eval(first, ctx)?;
    for (op, node) in rest {
        let next = eval(node, ctx)?;
        ctx.tick(compare_cost(&prev, &next, 0))?;
        if !compare(*op, &prev, &next)? {
            return Ok(Cow::Owned(Value::Bool(false)));
        }
        prev = next;
    }
    Ok(Cow::Owned(Value::Bool(true)))
}

fn compare(op: BinOp, a: &Value, b: &Value) -> R<bool> {
    let ord = match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => return Err(mismatched(op, a, b)),
        },
    };
    Ok(ord.is_some_and(|o| match op {
        BinOp::Lt => o.is_lt(),
        BinOp::Gt => o.is_gt(),
        BinOp::Le => o.is_le(),
        BinOp::Ge => o.is_ge(),
        _ => false,
    }))
}

fn apply_binary(op: BinOp, a: &Value, b: &Value, ctx: &mut Ctx<'_>) -> R<Value> {
    use Value::{Array, Bool, Int, Str};
    let overflow = || format!("integer overflow in {a} {} {b}", op.symbol());
    match op {
        BinOp::Eq | BinOp::Ne => {
            ctx.tick(compare_cost(a, b, ctx.remaining()))?;
            Ok(Bool(values_equal(a, b) == (op == BinOp::Eq)))
        }
        BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => {
            ctx.tick(compare_cost(a, b, 0))?;
            compare(op, a, b).map(Bool)
        }
        BinOp::In => match b {
            Array(items) => {
                ctx.tick(items.len() as u64)?;
                for item in items {
                    ctx.tick(compare_cost(a, item, ctx.remaining()))?;
                    if values_equal(a, item) {
                        return Ok(Bool(true));
                    }
                }
                Ok(Bool(false))
            }
            Value::Map(fields) => match a {
                Str(k) => Ok(Bool(fields.contains_key(k))),
                other => Err(format!("cannot use {} as a map key", other.type_name())),
            },
            Value::Nil => Ok(Bool(false)),
            other => Err(format!("operator \"in\" not defined on {}", other.type_name())),
        },
        BinOp::Contains | BinOp::StartsWith | BinOp::EndsWith | BinOp::Matches => {
            let (Str(s), Str(t)) = (a, b) else {
                return Err(mismatched(op, a, b));
            };
            ctx.tick(s.len() as u64 / 16)?;
            let result = match op {
                BinOp::Contains => s.contains(t.as_str()),
                BinOp::StartsWith => s.starts_with(t.as_str()),
                BinOp::EndsWith => s.ends_with(t.as_str()),
                _ => {
                    ctx.tick(1 + t.len() as u64)?;
                    compile_regex(t)?.is_match(s)
                }
            };
            Ok(Bool(result))
        }
        BinOp::Range => {
            let (Int(lo), Int(hi)) = (a, b) else {
                return Err(mismatched(op, a, b));
            };
            if hi < lo {
                return Ok(Array(Vec::new()));
            }
            let len = i128::from(*hi) - i128::from(*lo) + 1;
            if len > i128::from(MAX_RANGE_LEN) {
                return Err(format!(
                    "range {lo}..{hi} is too large (at most {MAX_RANGE_LEN} elements)"
                ));
            }
            ctx.tick(u64::try_from(len).unwrap_or(u64::MAX))?;
            Ok(Array((*lo..=*hi).map(Int).collect()))
        }
        BinOp::Add => match (a, b) {
            (Int(x), Int(y)) => x.checked_add(*y).map(Int).ok_or_else(overflow),
            (Str(x), Str(y)) => {
                ctx.tick(1 + (x.len() + y.len()) as u64 / 16)?;
                Ok(Str(format!("{x}{y}")))
            }
            (Array(x), Array(y)) => {
                ctx.tick(1 + weight_all(x) + weight_all(y))?;
                Ok(Array(x.iter().chain(y).cloned().collect()))
            }
            _ => float_op(op, a, b, |x, y| x + y),
        },
        BinOp::Sub => match (a, b) {
            (Int(x), Int(y)) => x.checked_sub(*y).map(Int).ok_or_else(overflow),
            _ => float_op(op, a, b, |x, y| x - y),
        },
        BinOp::Mul => match (a, b) {
            (Int(x), Int(y)) => x.checked_mul(*y).map(Int).ok_or_else(overflow),
            _ => float_op(op, a, b, |x, y| x * y),
        },
        BinOp::Div => float_op(op, a, b, |x, y| x / y),
        BinOp::Mod => match (a, b) {
            (Int(_), Int(0)) => Err("integer divide by zero".into()),
            (Int(_), Int(-1)) => Ok(Int(0)),
            (Int(x), Int(y)) => Ok(Int(x % y)),
            _ => Err(mismatched(op, a, b)),
        },
        BinOp::Pow => float_op(op, a, b, f64::powf),
        BinOp::And | BinOp::Or | BinOp::Coalesce => {
            Err(format!("internal error: {} evaluated eagerly", op.symbol()))
        }
    }
}

fn float_op(op: BinOp, a: &Value, b: &Value, f: impl Fn(f64, f64) -> f64) -> R<Value> {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => Ok(Value::Float(f(x, y))),
        _ => Err(mismatched(op, a, b)),
    }
}

/// Evaluates a member or slice node; `None` when a `?.` met `nil` somewhere up the chain.
fn access<'a>(n: &'a Node, ctx: &mut Ctx<'a>) -> R<Option<Cv<'a>>> {
    let (obj, optional) = match &n.kind {
        Kind::Member { obj, optional, .. } | Kind::Slice { obj, optional, .. } => (obj, *optional),
        _ => return eval(n, ctx).map(Some),
    };
    let base = match obj.kind {
        Kind::Member { .. } | Kind::Slice { .. } => {
            ctx.enter()?;
            match access(obj, ctx)? {
                Some(v) => v,
                None => return Ok(None),
            }
        }
        _ => eval(obj, ctx)?,
    };
    if optional && base.is_nil() {
        return Ok(None);
    }
    match &n.kind {
        Kind::Member { key, .. } => {
            let key = eval(key, ctx)?;
            if let Value::Str(s) = base.as_ref() {
                ctx.tick(s.len() as u64 / 16)?;
            }
            fetch(base, &key).map(Some)
        }
        Kind::Slice { from, to, .. } => {
            access_slice(base, from.as_deref(), to.as_deref(), ctx).map(Some)
        }
        _ => Ok(Some(base)),
    }
}

fn access_slice<'a>(
    base: Cv<'a>,
    from: Option<&'a Node>,
    to: Option<&'a Node>,
    ctx: &mut Ctx<'a>,
) -> R<Cv<'a>> {
    let from = match from {
        Some(f) => Some(eval(f, ctx)?),
        None => None,
    };
    let to = match to {
        Some(t) => Some(eval(t, ctx)?),
        None => None,
    };
    slice(base, from.as_deref(), to.as_deref(), ctx)
}

/// An index into a sequence of `len` elements, negative counting from the end.
fn resolve_index(key: &Value, len: usize) -> R<usize> {
    let i = match key {
        Value::Int(i) => *i,
        Value::Float(x) => f64_to_i64(*x).ok_or_else(|| format!("cannot use {key} as an index"))?,
        other => return Err(format!("cannot use {} as an array index", other.type_name())),
    };
    let n = usize_to_i64(len);
    let j = if i < 0 { i.saturating_add(n) } else { i };
    if j < 0 || j >= n {
        return Err(format!("index out of range: {i} (array length is {len})"));
    }
    usize::try_from(j).map_err(|_| format!("index out of range: {i} (array length is {len})"))
}

/// `base[key]` / `base.key`: array element, string character, or map entry (`nil` when
/// the key is absent).
fn fetch<'a>(base: Cv<'a>, key: &Value) -> R<Cv<'a>> {
    match (base, key) {
        (Cow::Borrowed(Value::Array(items)), _) => {
            let i = resolve_index(key, items.len())?;
            Ok(items.get(i).map_or(Cow::Owned(Value::Nil), Cow::Borrowed))
        }
        (Cow::Owned(Value::Array(mut items)), _) => {
            let i = resolve_index(key, items.len())?;
            Ok(Cow::Owned(if i < items.len() { items.swap_remove(i) } else { Value::Nil }))
        }
        (Cow::Borrowed(Value::Map(fields)), Value::Str(k)) => {
            Ok(fields.get(k).map_or(Cow::Owned(Value::Nil), Cow::Borrowed))
        }
        (Cow::Owned(Value::Map(mut fields)), Value::Str(k)) => {
            Ok(Cow::Owned(fields.remove(k).unwrap_or(Value::Nil)))
        }
        (base, _) => {
            if let Value::Str(s) = base.as_ref() {
                let i = resolve_index(key, s.chars().count())?;
                let c = s.chars().nth(i).map(String::from).unwrap_or_default();
                return Ok(Cow::Owned(Value::Str(c)));
            }
            Err(format!("cannot fetch {} from {}", brief(key), base.type_name()))
        }
    }
}

fn slice<'a>(
    base: Cv<'a>,
    from: Option<&Value>,
    to: Option<&Value>,
    ctx: &mut Ctx<'a>,
) -> R<Cv<'a>> {
    let len = match base.as_ref() {
        Value::Array(items) => items.len(),
        Value::Str(s) => {
            ctx.tick(s.len() as u64 / 16)?;
            s.chars().count()
        }
        other => return Err(format!("cannot slice {}", other.type_name())),
    };
    let n = usize_to_i64(len);
    let bound = |v: Option<&Value>, default: i64| -> R<i64> {
        let i = match v {
            None => return Ok(default),
            Some(Value::Int(i)) => *i,
            Some(Value::Float(x)) => f64_to_i64(*x).ok_or("slice bound is not an integer")?,
            Some(other) => {
                return Err(format!("cannot use {} as a slice bound", other.type_name()));
            }
        };
        Ok(if i < 0 { i.saturating_add(n) } else { i }.clamp(0, n))
    };
    let hi = usize::try_from(bound(to, n)?).unwrap_or(0);
    let lo = usize::try_from(bound(from, 0)?).unwrap_or(0).min(hi);
    match base {
        Cow::Borrowed(Value::Array(items)) => {
            let part = items.get(lo..hi).unwrap_or_default();
            ctx.tick(1 + weight_all(part))?;
            Ok(Cow::Owned(Value::Array(part.to_vec())))
        }
        Cow::Owned(Value::Array(mut items)) => {
            items.truncate(hi);
            items.drain(..lo);
            Ok(Cow::Owned(Value::Array(items)))
        }
        other => {
            let s: String = match other.as_ref() {
                Value::Str(s) => s.chars().skip(lo).take(hi - lo).collect(),
                _ => String::new(),
            };
            ctx.tick(1 + s.len() as u64 / 16)?;
            Ok(Cow::Owned(Value::Str(s)))
        }
    }
}

fn call<'a>(f: Func, args: &'a [Node], ctx: &mut Ctx<'a>) -> R<Cv<'a>> {
    if args.iter().any(|a| matches!(a.kind, Kind::Closure(_))) {
        return call_closure(f, args, ctx);
    }
    match f {
        Func::Default => call_default(args, ctx),
        Func::First | Func::Last => call_first_last(f, args, ctx),
        _ => {
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(eval(a, ctx)?);
            }
            builtin(f, &vals, ctx).map(Cow::Owned)
        }
    }
}

/// `default(x, d)`: `d`, evaluated only when `x` is `nil`.
fn call_default<'a>(args: &'a [Node], ctx: &mut Ctx<'a>) -> R<Cv<'a>> {
    let (Some(x), Some(d)) = (args.first(), args.get(1)) else {
        return Err(format!("not enough arguments to call {}", Func::Default.name()));
    };
    let v = eval(x, ctx)?;
    if v.is_nil() { eval(d, ctx) } else { Ok(v) }
}

/// `first(a)` / `last(a)`, without copying the array.
fn call_first_last<'a>(f: Func, args: &'a [Node], ctx: &mut Ctx<'a>) -> R<Cv<'a>> {
    let arr = args.first().ok_or_else(|| format!("not enough arguments to call {}", f.name()))?;
    let v = eval(arr, ctx)?;
    let len = match v.as_ref() {
        Value::Array(items) => items.len(),
        Value::Nil => return Ok(v),
        other => return Err(want(f, "array", other)),
    };
    if len == 0 {
        return Ok(Cow::Owned(Value::Nil));
    }
    let i = if f == Func::First { 0 } else { len - 1 };
    fetch(v, &Value::Int(usize_to_i64(i)))
}

fn want(f: Func, what: &str, got: &Value) -> String {
    format!("{}: expected {what}, but got {}", f.name(), got.type_name())
}

/// The elements of an array, borrowed when the array is.
fn elements<'a>(f: Func, v: Cv<'a>) -> R<Vec<Cv<'a>>> {
    match v {
        Cow::Borrowed(Value::Array(items)) => Ok(items.iter().map(Cow::Borrowed).collect()),
        Cow::Owned(Value::Array(items)) => Ok(items.into_iter().map(Cow::Owned).collect()),
        other => Err(want(f, "array", other.as_ref())),
    }
}

/// Evaluates a closure body with `elem` as `#`; gives back the result and `#`.
fn run<'a>(
    body: &'a Node,
    elem: Cv<'a>,
    index: usize,
    acc: Option<Value>,
    ctx: &mut Ctx<'a>,
) -> R<(Cv<'a>, Cv<'a>)> {
    ctx.scopes.push(Scope { elem, index, acc });
    let out = eval(body, ctx);
    let scope = ctx.scopes.pop();
    match (out, scope) {
        (Ok(out), Some(scope)) => Ok((out, scope.elem)),
        (Err(e), _) => Err(e),
        (Ok(_), None) => Err("internal error: closure scope lost".into()),
    }
}

fn predicate<'a>(
    f: Func,
    body: &'a Node,
    elem: Cv<'a>,
    index: usize,
    ctx: &mut Ctx<'a>,
) -> R<(bool, Cv<'a>)> {
    let (out, elem) = run(body, elem, index, None, ctx)?;
    match out.as_ref() {
        Value::Bool(b) => Ok((*b, elem)),
        other => Err(not_bool_predicate(f, other)),
    }
}

fn not_bool_predicate(f: Func, got: &Value) -> String {
    format!("predicate of {} must return bool, but got {}", f.name(), got.type_name())
}

/// The builtins whose second argument is a closure.
fn call_closure<'a>(f: Func, args: &'a [Node], ctx: &mut Ctx<'a>) -> R<Cv<'a>> {
    let (Some(arr), Some(Kind::Closure(body))) = (args.first(), args.get(1).map(|n| &n.kind))
    else {
        return Err(format!("{}: expected an array and a closure", f.name()));
    };
    let items = elements(f, eval(arr, ctx)?)?;
    ctx.tick(items.len() as u64)?;
    match f {
        Func::All | Func::Any | Func::NoneOf | Func::One | Func::Count => {
            quantify(f, body, items, ctx).map(Cow::Owned)
        }
        Func::Filter => filter(body, items, ctx).map(Cow::Owned),
        Func::Find | Func::FindIndex | Func::FindLast | Func::FindLastIndex => {
            find(f, body, items, ctx)
        }
        Func::Map | Func::Sum => map_sum(f, body, items, ctx).map(Cow::Owned),
        Func::Reduce => reduce(body, items, args.get(2), ctx).map(Cow::Owned),
        _ => Err(format!("{} does not take a closure", f.name())),
    }
}

/// `all`, `any`, `none`, `one` and `count` with a predicate.
fn quantify<'a>(f: Func, body: &'a Node, items: Vec<Cv<'a>>, ctx: &mut Ctx<'a>) -> R<Value> {
    let mut count: i64 = 0;
    for (i, e) in items.into_iter().enumerate() {
        if !predicate(f, body, e, i, ctx)?.0 {
            if f == Func::All {
                return Ok(Value::Bool(false));
            }
            continue;
        }
        count += 1;
        match f {
            Func::Any => return Ok(Value::Bool(true)),
            Func::NoneOf => return Ok(Value::Bool(false)),
            Func::One if count > 1 => return Ok(Value::Bool(false)),
            _ => {}
        }
    }
    Ok(match f {
        Func::Count => Value::Int(count),
        Func::One => Value::Bool(count == 1),
        Func::Any => Value::Bool(false),
        _ => Value::Bool(true),
    })
}

fn filter<'a>(body: &'a Node, items: Vec<Cv<'a>>, ctx: &mut Ctx<'a>) -> R<Value> {
    let mut out = Vec::new();
    for (i, e) in items.into_iter().enumerate() {
        let (keep, e) = predicate(Func::Filter, body, e, i, ctx)?;
        if keep {
            out.push(ctx.own(e)?);
        }
    }
    Ok(Value::Array(out))
}

/// `find`, `findIndex`, `findLast` and `findLastIndex`.
fn find<'a>(f: Func, body: &'a Node, items: Vec<Cv<'a>>, ctx: &mut Ctx<'a>) -> R<Cv<'a>> {
    let from_end = matches!(f, Func::FindLast | Func::FindLastIndex);
    let want_index = matches!(f, Func::FindIndex | Func::FindLastIndex);
    let mut indexed: Vec<(usize, Cv<'a>)> = items.into_iter().enumerate().collect();
    if from_end {
        indexed.reverse();
    }
    for (i, e) in indexed {
        let (hit, e) = predicate(f, body, e, i, ctx)?;
        if hit {
            return Ok(if want_index { Cow::Owned(Value::Int(usize_to_i64(i))) } else { e });
        }
    }
    Ok(Cow::Owned(if want_index { Value::Int(-1) } else { Value::Nil }))
}

/// `map(a, expr)` and `sum(a, expr)`.
fn map_sum<'a>(f: Func, body: &'a Node, items: Vec<Cv<'a>>, ctx: &mut Ctx<'a>) -> R<Value> {
    let mut out = Vec::with_capacity(items.len());
    for (i, e) in items.into_iter().enumerate() {
        let (v, _) = run(body, e, i, None, ctx)?;
        out.push(ctx.own(v)?);
    }
    if f == Func::Sum {
        return sum(f, &out.iter().collect::<Vec<_>>());
    }
    Ok(Value::Array(out))
}

/// `reduce(a, expr[, init])`: `#acc` starts at `init` or the first element.
fn reduce<'a>(
    body: &'a Node,
    items: Vec<Cv<'a>>,
    init: Option<&'a Node>,
    ctx: &mut Ctx<'a>,
) -> R<Value> {
    let mut items = items.into_iter().enumerate();
    let mut acc = match init {
        Some(init) => {
            let v = eval(init, ctx)?;
            ctx.own(v)?
        }
        None => match items.next() {
            Some((_, first)) => ctx.own(first)?,
            None => return Err("reduce of an empty array with no initial value".into()),
        },
    };
    for (i, e) in items {
        let (v, _) = run(body, e, i, Some(acc), ctx)?;
        acc = ctx.own(v)?;
    }
    Ok(acc)
}

/// The numbers among `vals`: the elements of a single array argument, or the arguments.
fn numbers<'v>(f: Func, vals: &'v [Cv<'_>]) -> R<Vec<&'v Value>> {
    let list: Vec<&Value> = match vals {
        [one] => match one.as_ref() {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        },
        _ => vals.iter().map(|v| v.as_ref()).collect(),
    };
    match list.iter().find(|v| v.as_f64().is_none()) {
        Some(bad) => Err(want(f, "numbers", bad)),
        None => Ok(list),
    }
}

fn sum(f: Func, vals: &[&Value]) -> R<Value> {
    let mut int_total: Option<i64> = Some(0);
    let mut float_total = 0.0;
    for v in vals {
        match v {
            Value::Int(i) => {
                int_total = int_total.and_then(|t| t.checked_add(*i));
                float_total += *i as f64;
            }
            Value::Float(x) => {
                int_total = None;
                float_total += x;
            }
            other => return Err(want(f, "numbers", other)),
        }
    }
    let all_int = vals.iter().all(|v| matches!(v, Value::Int(_)));
    match (all_int, int_total) {
        (true, Some(t)) => Ok(Value::Int(t)),
        (true, None) => Err(format!("integer overflow in {}", f.name())),
        _ => Ok(Value::Float(float_total)),
    }
}

fn num_cmp(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn to_int(f: Func, v: &Value) -> R<Value> {
    match v {
        Value::Int(_) => Ok(v.clone()),
        Value::Float(x) => f64_to_i64(*x)
            .map(Value::Int)
            .ok_or_else(|| format!("{}: cannot convert {v} to int", f.name())),
        Value::Str(s) => s
            .parse()
            .map(Value::Int)
            .map_err(|_| format!("{}: cannot parse {:?} as an integer", f.name(), brief(v))),
        other => {
            Err(format!("{}() not supported on {} {}", f.name(), other.type_name(), brief(other)))
        }
    }
}

fn to_float(f: Func, v: &Value) -> R<Value> {
    match v {
        Value::Int(_) | Value::Float(_) => Ok(Value::Float(v.as_f64().unwrap_or(f64::NAN))),
        Value::Str(s) => s
            .parse()
            .map(Value::Float)
            .map_err(|_| format!("{}: cannot parse {:?} as a float", f.name(), brief(v))),
        other => {
            Err(format!("{}() not supported on {} {}", f.name(), other.type_name(), brief(other)))
        }
    }
}

fn char_index(s: &str, byte: Option<usize>) -> Value {
    Value::Int(byte.map_or(-1, |b| usize_to_i64(s.get(..b).map_or(0, |p| p.chars().count()))))
}

/// The builtins that take evaluated arguments only.
fn builtin(f: Func, vals: &[Cv<'_>], ctx: &mut Ctx<'_>) -> R<Value> {
    use Value::{Array, Bool, Float, Int, Str};
    let arg = |i: usize| vals.get(i).map_or(&NIL, |v| v.as_ref());
    let text = |i: usize| match arg(i) {
        Str(s) => Ok(s.as_str()),
        other => Err(want(f, "string", other)),
    };
    let number = |i: usize| arg(i).as_f64().ok_or_else(|| want(f, "number", arg(i)));
    let a0 = arg(0);
    ctx.tick(vals.iter().map(|v| shallow_size(v)).sum())?;
    match f {
        Func::Len => match a0 {
            Str(s) => Ok(Int(usize_to_i64(s.chars().count()))),
            Array(items) => Ok(Int(usize_to_i64(items.len()))),
            Value::Map(fields) => Ok(Int(usize_to_i64(fields.len()))),
            other => Err(format!("invalid argument for len (type {})", other.type_name())),
        },
        Func::Abs => match a0 {
            Int(i) => {
                i.checked_abs().map(Int).ok_or_else(|| format!("integer overflow in abs({i})"))
            }
            Float(x) => Ok(Float(x.abs())),
            other => Err(want(f, "number", other)),
        },
        Func::Int | Func::AsInt => to_int(f, a0),
        Func::Float | Func::AsFloat => to_float(f, a0),
        Func::String => {
            ctx.tick(weight(a0))?;
            Ok(Str(a0.to_string()))
        }
        Func::Upper | Func::Lower | Func::Trim | Func::TrimPrefix | Func::TrimSuffix => {
            let s = text(0)?;
            ctx.tick(1 + s.len() as u64 / 16)?;
            let out = match f {
                Func::Upper => s.to_uppercase(),
                Func::Lower => s.to_lowercase(),
                Func::Trim if vals.len() > 1 => {
                    let cut = text(1)?;
                    s.trim_matches(|c| cut.contains(c)).to_string()
                }
                Func::Trim => s.trim().to_string(),
                Func::TrimPrefix => s.strip_prefix(text(1)?).unwrap_or(s).to_string(),
                _ => s.strip_suffix(text(1)?).unwrap_or(s).to_string(),
            };
            Ok(Str(out))
        }
        Func::Split => {
            let (s, sep) = (text(0)?, text(1)?);
            ctx.tick(1 + s.len() as u64)?;
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Str(c.to_string())).collect()
            } else {
                s.split(sep).map(|p| Str(p.to_string())).collect()
            };
            Ok(Array(parts))
        }
        Func::Join => {
            let Array(items) = a0 else {
                return Err(want(f, "array", a0));
            };
            let sep = if vals.len() > 1 { text(1)? } else { "" };
            ctx.tick(1 + weight_all(items) + items.len().saturating_mul(sep.len()) as u64 / 16)?;
            let parts: Vec<String> = items.iter().map(Value::to_string).collect();
            Ok(Str(parts.join(sep)))
        }
        Func::Replace => {
            let (s, old, new) = (text(0)?, text(1)?, text(2)?);
            let hits = if old.is_empty() { s.chars().count() + 1 } else { s.matches(old).count() };
            ctx.tick(1 + hits.saturating_mul(new.len()).saturating_add(s.len()) as u64 / 16)?;
            Ok(Str(s.replace(old, new)))
        }
        Func::IndexOf => {
            let s = text(0)?;
            Ok(char_index(s, s.find(text(1)?)))
        }
        Func::LastIndexOf => {
            let s = text(0)?;
            Ok(char_index(s, s.rfind(text(1)?)))
        }
        Func::HasPrefix => Ok(Bool(text(0)?.starts_with(text(1)?))),
        Func::HasSuffix => Ok(Bool(text(0)?.ends_with(text(1)?))),
        Func::Max | Func::Min => {
            let want_order =
                if f == Func::Max { std::cmp::Ordering::Greater } else { std::cmp::Ordering::Less };
            let mut best: Option<&Value> = None;
            for v in numbers(f, vals)? {
                best = match best {
                    Some(b) if num_cmp(v, b) != Some(want_order) => Some(b),
                    _ => Some(v),
                };
            }
            best.cloned().ok_or_else(|| format!("not enough arguments to call {}", f.name()))
        }
        Func::Sum => match a0 {
            Array(items) => sum(f, &items.iter().collect::<Vec<_>>()),
            other => Err(want(f, "array", other)),
        },
        Func::Mean | Func::Median => {
            let mut xs: Vec<f64> = numbers(f, vals)?.iter().filter_map(|v| v.as_f64()).collect();
            if xs.is_empty() {
                return Ok(Float(0.0));
            }
            if f == Func::Mean {
                return Ok(Float(xs.iter().sum::<f64>() / xs.len() as f64));
            }
            xs.sort_by(f64::total_cmp);
            let mid = xs.len() / 2;
            let upper = xs.get(mid).copied().unwrap_or(f64::NAN);
            if xs.len() % 2 == 1 {
                Ok(Float(upper))
            } else {
                let lower = xs.get(mid.wrapping_sub(1)).copied().unwrap_or(f64::NAN);
                Ok(Float((lower + upper) / 2.0))
            }
        }
        Func::Round => Ok(Float(number(0)?.round())),
        Func::Ceil => Ok(Float(number(0)?.ceil())),
        Func::Floor => Ok(Float(number(0)?.floor())),
        Func::Keys | Func::Values => {
            let Value::Map(fields) = a0 else {
                return Err(want(f, "map", a0));
            };
            ctx.tick(weight(a0))?;
            Ok(Array(if f == Func::Keys {
                fields.keys().map(|k| Str(k.clone())).collect()
            } else {
                fields.values().cloned().collect()
            }))
        }
        Func::Type => Ok(Str(a0.type_name().to_string())),
        Func::Reverse => match a0 {
            Array(items) => {
                ctx.tick(weight(a0))?;
                Ok(Array(items.iter().rev().cloned().collect()))
            }
            other => Err(want(f, "array", other)),
        },
        Func::Concat => {
            let mut out = Vec::new();
            for v in vals {
                match v.as_ref() {
                    Array(items) => {
                        ctx.tick(weight_all(items))?;
                        out.extend(items.iter().cloned());
                    }
                    other => return Err(want(f, "arrays", other)),
                }
            }
            Ok(Array(out))
        }
        Func::Count => match a0 {
            Array(items) => {
                let mut n: i64 = 0;
                for item in items {
                    match item {
                        Bool(true) => n += 1,
                        Bool(false) => {}
                        other => return Err(want(f, "an array of bools", other)),
                    }
                }
                Ok(Int(n))
            }
            other => Err(want(f, "array", other)),
        },
        Func::IsNaN => match a0 {
            Float(x) => Ok(Bool(x.is_nan())),
            Int(_) => Ok(Bool(false)),
            other => Err(want(f, "number", other)),
        },
        Func::IsInf => match a0 {
            Float(x) => Ok(Bool(x.is_infinite())),
            Int(_) => Ok(Bool(false)),
            other => Err(want(f, "number", other)),
        },
        Func::IsNil => Ok(Bool(a0.is_nil())),
        Func::Default => Ok(if a0.is_nil() { arg(1).clone() } else { a0.clone() }),
        Func::First | Func::Last => match a0 {
            Array(items) => {
                let item = if f == Func::First { items.first() } else { items.last() };
                Ok(item.cloned().unwrap_or(Value::Nil))
            }
            Value::Nil => Ok(Value::Nil),
            other => Err(want(f, "array", other)),
        },
        Func::All
        | Func::Any
        | Func::NoneOf
        | Func::One
        | Func::Filter
        | Func::Map
        | Func::Find
        | Func::FindIndex
        | Func::FindLast
        | Func::FindLastIndex
        | Func::Reduce => Err(format!("{} needs a closure argument", f.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(result: Value) -> BTreeMap<String, Value> {
        BTreeMap::from([("result".to_string(), result)])
    }

    fn json(text: &str) -> Value {
        Value::from_json(&serde_json::from_str(text).unwrap())
    }

    fn ev(src: &str, result: Value) -> Result<Value, String> {
        parse(src).map_err(|e| e.to_string())?.eval(&vars(result))
    }

    fn ok(src: &str, result: Value) -> Value {
        ev(src, result).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    fn truthy(src: &str, result: Value) -> bool {
        parse(src)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .eval_bool(&vars(result))
            .unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    fn c(src: &str) -> Value {
        ok(src, Value::Nil)
    }

    fn eval_err(src: &str, result: Value) -> String {
        match ev(src, result) {
            Ok(v) => panic!("{src}: expected an error, got {v}"),
            Err(e) => e,
        }
    }

    fn parse_err(src: &str) -> ExprError {
        match parse(src) {
            Ok(e) => panic!("{src}: expected a parse error, got {e:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn argo_manifest_conditions() {
        let vector = Value::Array(vec![Value::Float(0.995)]);
        assert!(truthy("result[0] >= 0.99", vector.clone()));
        assert!(!truthy("result[0] >= 0.999", vector.clone()));
        assert!(truthy("result == 'It worked!'", "It worked!".into()));
        assert!(!truthy("result == 'It worked!'", "nope".into()));
        assert!(truthy("result.Status == -1", json(r#"{"Status": -1}"#)));
        assert!(truthy("result.Status == -1", json(r#"{"Status": -1.0}"#)));
        assert!(truthy("result.major == '1'", json(r#"{"major": "1", "minor": "29"}"#)));
        assert!(truthy("len(result) == 0 || result[0] < 0.05", Value::Array(vec![])));
        assert!(truthy("len(result) == 0 || result[0] < 0.05", Value::Array(vec![0.01.into()])));
        assert!(!truthy("len(result) == 0 || result[0] < 0.05", Value::Array(vec![0.5.into()])));
        assert!(truthy("all(result, # < 1000)", json("[1, 999.5, 3]")));
        assert!(!truthy("all(result, # < 1000)", json("[1, 1000, 3]")));
        assert!(truthy("isNaN(result) || result >= 0.95", Value::Float(f64::NAN)));
        assert!(truthy("isNaN(result) || result >= 0.95", Value::Float(0.96)));
        assert!(!truthy("isNaN(result) || result >= 0.95", Value::Float(0.5)));
        assert!(truthy("result[0] >= 0.9 && result[0] < 1.1", Value::Array(vec![1.0.into()])));
        assert!(!truthy("result[0] >= 0.9 && result[0] < 1.1", Value::Array(vec![1.2.into()])));
        assert!(truthy("default(result, 0) > 1", Value::Float(2.0)));
        assert!(!truthy("default(result, 0) > 1", Value::Nil));
        assert!(truthy("asInt(result.count) > 3", json(r#"{"count": "4"}"#)));
        assert!(truthy("asInt(result.count) > 3", json(r#"{"count": 4.7}"#)));
        assert!(!truthy("asInt(result.count) > 3", json(r#"{"count": 3}"#)));
        assert!(truthy("asFloat(result) > 0.5", "0.75".into()));
        assert!(truthy("isNil(result)", Value::Nil));
        assert!(truthy("isInf(result)", Value::Float(f64::INFINITY)));
        assert!(truthy("result > 0 and result < 10", Value::Int(5)));
    }

    #[test]
    fn precedence() {
        assert!(truthy("1 + 2 * 3 == 7", Value::Nil));
        assert_eq!(c("2 ** 3 ** 2"), Value::Float(512.0));
        assert_eq!(c("2 ^ 3 ^ 2"), Value::Float(512.0));
        assert_eq!(c("not true or true"), Value::Bool(true));
        assert_eq!(c("not (true or true)"), Value::Bool(false));
        assert_eq!(c("!false && false"), Value::Bool(false));
        assert_eq!(c("true || false && false"), Value::Bool(true));
        assert_eq!(c("-2 ** 2"), Value::Float(-4.0));
        assert_eq!(c("-2 * 3"), Value::Int(-6));
        assert_eq!(c("10 - 4 - 3"), Value::Int(3));
        assert_eq!(c("2 * 3 % 4"), Value::Int(2));
        assert_eq!(c("(1 + 2) * 3"), Value::Int(9));
        assert_eq!(c("1 + 2 .. 2 * 3"), json("[3, 4, 5, 6]"));
        assert_eq!(c("2 in 1..3 == true"), Value::Bool(true));
        assert_eq!(c("nil ?? 1 + 1"), Value::Int(2));
        assert_eq!(c("true ? 1 : 2 + 10"), Value::Int(1));
        assert_eq!(c("false ? 1 : true ? 2 : 3"), Value::Int(2));
        assert_eq!(c("1 < 2 ? 'a' : 'b'"), "a".into());
        assert_eq!(c("1 < 2 < 3"), Value::Bool(true));
        assert_eq!(c("3 > 2 > 1"), Value::Bool(true));
        assert_eq!(c("1 < 3 < 2"), Value::Bool(false));
        assert_eq!(c("1 < 2 == true"), Value::Bool(true));
        assert_eq!(c("- -3"), Value::Int(3));
        assert_eq!(c("+3"), Value::Int(3));
    }

    #[test]
    fn short_circuit() {
        let r = Value::Array(vec![1.0.into()]);
        assert!(!truthy("false && result[5] > 1", r.clone()));
        assert!(truthy("true || result[5] > 1", r.clone()));
        assert!(!truthy("false and unknown_name", r.clone()));
        assert_eq!(ok("result[0] ?? result[5]", r.clone()), Value::Float(1.0));
        assert_eq!(ok("true ? 1 : result[5]", r.clone()), Value::Int(1));
        assert!(!truthy("all(result, # > 5 && result[9] > 0)", r.clone()));
        assert!(eval_err("true && result[5] > 1", r).contains("index out of range"));
    }

    #[test]
    fn numbers_mix() {
        assert_eq!(c("1 + 1"), Value::Int(2));
        assert_eq!(c("1 + 1.0"), Value::Float(2.0));
        assert_eq!(c("3 / 2"), Value::Float(1.5));
        assert_eq!(c("4 / 2"), Value::Float(2.0));
        assert_eq!(c("7 % 3"), Value::Int(1));
        assert_eq!(c("-7 % 3"), Value::Int(-1));
        assert_eq!(c("1 / 0"), Value::Float(f64::INFINITY));
        assert!(truthy("1 == 1.0", Value::Nil));
        assert!(truthy("1 < 1.5 && 2.5 > 2", Value::Nil));
        assert!(truthy("0.1 + 0.2 > 0.3", Value::Nil));
        assert!(truthy("result != result", Value::Float(f64::NAN)));
        assert!(!truthy("result == result", Value::Float(f64::NAN)));
        assert!(!truthy("result < 1 || result >= 1", Value::Float(f64::NAN)));
        assert_eq!(c("int(2.9)"), Value::Int(2));
        assert_eq!(c("int(-2.9)"), Value::Int(-2));
        assert_eq!(c("int('42')"), Value::Int(42));
        assert_eq!(c("float(2) / 4"), Value::Float(0.5));
        assert_eq!(c("float('1e3')"), Value::Float(1000.0));
        assert_eq!(c("abs(-3)"), Value::Int(3));
        assert_eq!(c("abs(-3.5)"), Value::Float(3.5));
        assert_eq!(c("max(1, 2.5, 2)"), Value::Float(2.5));
        assert_eq!(c("min([3, 1, 2])"), Value::Int(1));
        assert_eq!(c("sum([1, 2, 3])"), Value::Int(6));
        assert_eq!(c("sum([1, 2.5])"), Value::Float(3.5));
        assert_eq!(c("sum([])"), Value::Int(0));
        assert_eq!(c("mean([1, 2, 3, 4])"), Value::Float(2.5));
        assert_eq!(c("median([5, 1, 3])"), Value::Float(3.0));
        assert_eq!(c("median([4, 1, 3, 2])"), Value::Float(2.5));
        assert_eq!(c("round(2.5) + ceil(0.1) + floor(-0.5)"), Value::Float(3.0));
        assert_eq!(c("0x1f + 0o10 + 0b11 + 1_000"), Value::Int(1042));
        assert_eq!(c(".5 + 1e3 + 2.5e-1 + 1E+1"), Value::Float(1010.75));
        assert_eq!(c("1."), Value::Float(1.0));
        assert_eq!(c("9223372036854775807"), Value::Int(i64::MAX));
        assert!(eval_err("9223372036854775807 + 1", Value::Nil).contains("integer overflow"));
        assert!(eval_err("-result", Value::Int(i64::MIN)).contains("integer overflow"));
        assert!(eval_err("result * 2", Value::Int(i64::MIN)).contains("integer overflow"));
        assert!(eval_err("abs(result)", Value::Int(i64::MIN)).contains("integer overflow"));
        assert_eq!(ok("result % -1", Value::Int(i64::MIN)), Value::Int(0));
        assert!(eval_err("1 % 0", Value::Nil).contains("integer divide by zero"));
        assert!(eval_err("1.5 % 1", Value::Nil).contains("mismatched types float and int"));
        assert!(eval_err("int(result)", Value::Float(f64::NAN)).contains("cannot convert"));
        assert!(eval_err("int('x')", Value::Nil).contains("cannot parse"));
        assert!(eval_err("asInt('1.5')", Value::Nil).contains("cannot parse"));
        assert!(eval_err("asInt(true)", Value::Nil).contains("not supported on bool"));
        assert_eq!(c("9.5 > 9 == true"), Value::Bool(true));
    }

    #[test]
    fn strings() {
        assert_eq!(c("'foo' + \"bar\""), "foobar".into());
        assert_eq!(c(r#""a\tb\n\u00e9\x41\101\"\\""#), "a\tb\n\u{e9}AA\"\\".into());
        assert_eq!(c("'it\\'s'"), "it's".into());
        assert_eq!(c("`raw\\n`"), "raw\\n".into());
        assert!(truthy("'abc' contains 'b'", Value::Nil));
        assert!(truthy("'abc' not contains 'x'", Value::Nil));
        assert!(truthy("'abc' startsWith 'ab' and 'abc' endsWith 'bc'", Value::Nil));
        assert!(truthy("result matches '^v[0-9]+\\\\.[0-9]+$'", "v1.29".into()));
        assert!(truthy("result matches \"^v\\\\d\"", "v1.29".into()));
        assert!(truthy("result not matches '^x'", "v1.29".into()));
        assert!(truthy("result matches 'b' + 'c'", "abc".into()));
        assert!(truthy("'a' < 'b' && 'B' < 'a' && 'abc' >= 'abc'", Value::Nil));
        assert_eq!(
            c("upper('ab') + lower('CD') + trim('  x  ') + trim('--y--', '-')"),
            "ABcdxy".into()
        );
        assert_eq!(c("len('héllo')"), Value::Int(5));
        assert_eq!(c("'héllo'[1]"), "é".into());
        assert_eq!(c("'héllo'[-1]"), "o".into());
        assert_eq!(c("'héllo'[1:3]"), "él".into());
        assert_eq!(c("split('a,b,c', ',')"), json(r#"["a", "b", "c"]"#));
        assert_eq!(c("join(['a', 'b'], '-')"), "a-b".into());
        assert_eq!(c("replace('aXbX', 'X', '.')"), "a.b.".into());
        assert_eq!(c("indexOf('héllo', 'l')"), Value::Int(2));
        assert_eq!(c("lastIndexOf('hello', 'l')"), Value::Int(3));
        assert_eq!(c("indexOf('hello', 'z')"), Value::Int(-1));
        assert_eq!(c("trimPrefix('v1.2', 'v') + trimSuffix('a.yaml', '.yaml')"), "1.2a".into());
        assert!(truthy("hasPrefix('abc', 'a') && hasSuffix('abc', 'c')", Value::Nil));
        assert_eq!(
            c("string(1.5) + string(2) + string(true) + string(nil)"),
            "1.52true<nil>".into()
        );
        assert!(truthy("result == '1'", json(r#""1""#)));
        assert!(!truthy("result == 1", json(r#""1""#)));
    }

    #[test]
    fn membership() {
        assert!(truthy("2 in [1, 2, 3]", Value::Nil));
        assert!(truthy("2.0 in [1, 2, 3]", Value::Nil));
        assert!(truthy("4 not in [1, 2, 3]", Value::Nil));
        assert!(truthy("'a' in {a: 1}", Value::Nil));
        assert!(truthy("'b' not in {a: 1}", Value::Nil));
        assert!(truthy("'status' in result", json(r#"{"status": "ok"}"#)));
        assert!(truthy("3 in 1..5", Value::Nil));
        assert!(truthy("[1, 2] in [[1, 2], [3]]", Value::Nil));
        assert!(!truthy("1 in nil", Value::Nil));
        assert_eq!(c("5..3"), Value::Array(vec![]));
        assert!(eval_err("1 in 'abc'", Value::Nil).contains("not defined on string"));
        assert!(eval_err("1 in {a: 1}", Value::Nil).contains("map key"));
    }

    #[test]
    fn access_and_literals() {
        let r = json(r#"{"a": {"b": [10, 20, 30]}, "n": null, "s": "x"}"#);
        assert_eq!(ok("result.a.b[0]", r.clone()), Value::Int(10));
        assert_eq!(ok("result['a'][\"b\"][-1]", r.clone()), Value::Int(30));
        assert_eq!(ok("result.a.b[1:]", r.clone()), json("[20, 30]"));
        assert_eq!(ok("result.a.b[:2]", r.clone()), json("[10, 20]"));
        assert_eq!(ok("result.a.b[-2:]", r.clone()), json("[20, 30]"));
        assert_eq!(ok("result.a.b[5:9]", r.clone()), json("[]"));
        assert_eq!(ok("result.a.b[:]", r.clone()), json("[10, 20, 30]"));
        assert_eq!(ok("result.missing", r.clone()), Value::Nil);
        assert_eq!(ok("result.n?.x.y", r.clone()), Value::Nil);
        assert_eq!(ok("result?.a?.b?.[2]", r.clone()), Value::Int(30));
        assert_eq!(ok("result.missing?.x ?? 'dflt'", r.clone()), "dflt".into());
        assert!(eval_err("result.n.x", r.clone()).contains("cannot fetch x from nil"));
        assert!(eval_err("(result.n?.x).y", r.clone()).contains("cannot fetch y from nil"));
        assert_eq!(ok("first(result.a.b) + last(result.a.b)", r.clone()), Value::Int(40));
        assert_eq!(c("first([])"), Value::Nil);
        assert_eq!(ok("keys(result)", r.clone()), json(r#"["a", "n", "s"]"#));
        assert_eq!(c("values({b: 2, a: 1})"), json("[1, 2]"));
        assert_eq!(c("{a: 1, 'b c': [true, nil]}['b c'][0]"), Value::Bool(true));
        assert_eq!(c("[1, 'a', [2],]"), json(r#"[1, "a", [2]]"#));
        assert_eq!(c("[1, 2] + [3]"), json("[1, 2, 3]"));
        assert_eq!(c("concat([1], [2, 3])"), json("[1, 2, 3]"));
        assert_eq!(c("reverse([1, 2, 3])"), json("[3, 2, 1]"));
        assert_eq!(
            c("type(1) + type(1.0) + type('') + type([]) + type({}) + type(nil)"),
            "intfloatstringarraymapnil".into()
        );
        assert_eq!(c("len({a: 1, b: 2}) + len([1])"), Value::Int(3));
        assert_eq!(c("default(nil, 'x') + default('y', 'z')"), "xy".into());
        assert_eq!(c("result?.x"), Value::Nil);
        let env = parse("$env.result + 1").unwrap().eval(&vars(Value::Int(1))).unwrap();
        assert_eq!(env, Value::Int(2));
        assert_eq!(c("[1, 2, 3] | filter(# > 1) | map(# * 10)"), json("[20, 30]"));
        assert_eq!(c("/* comment */ 1 + // rest of line\n 2"), Value::Int(3));
    }

    #[test]
    fn closures() {
        let pods = json(
            r#"[{"name": "a", "ready": true, "restarts": 0, "latency": 120.5},
                {"name": "b", "ready": false, "restarts": 3, "latency": 80},
                {"name": "c", "ready": true, "restarts": 1, "latency": 99}]"#,
        );
        assert!(!truthy("all(result, .ready)", pods.clone()));
        assert!(truthy("any(result, .restarts > 2)", pods.clone()));
        assert!(truthy("none(result, #.latency > 200)", pods.clone()));
        assert!(truthy("one(result, !.ready)", pods.clone()));
        assert!(!truthy("one(result, .ready)", pods.clone()));
        assert_eq!(ok("count(result, .ready)", pods.clone()), Value::Int(2));
        assert_eq!(ok("count(map(result, .ready))", pods.clone()), Value::Int(2));
        assert_eq!(
            ok("map(filter(result, .latency < 100), .name)", pods.clone()),
            json(r#"["b", "c"]"#)
        );
        assert_eq!(ok("find(result, .restarts == 1).name", pods.clone()), "c".into());
        assert_eq!(ok("find(result, .restarts == 9)", pods.clone()), Value::Nil);
        assert_eq!(ok("findIndex(result, !.ready)", pods.clone()), Value::Int(1));
        assert_eq!(ok("findLast(result, .ready).name", pods.clone()), "c".into());
        assert_eq!(ok("findLastIndex(result, .ready)", pods.clone()), Value::Int(2));
        assert_eq!(ok("sum(result, .restarts)", pods.clone()), Value::Int(4));
        assert_eq!(ok("max(map(result, .latency))", pods.clone()), Value::Float(120.5));
        assert_eq!(
            ok("map(result, {.name + string(#index)})", pods.clone()),
            json(r#"["a0", "b1", "c2"]"#)
        );
        assert_eq!(c("map([1, 2], {a: #})"), json(r#"[{"a": 1}, {"a": 2}]"#));
        assert_eq!(c("reduce(1..4, #acc + #)"), Value::Int(10));
        assert_eq!(c("reduce([1, 2], #acc + #, 10)"), Value::Int(13));
        assert_eq!(c("map([[1, 2], [3]], sum(map(#, # * 2)))"), json("[6, 6]"));
        assert_eq!(c("all([], # > 1) && !any([], true)"), Value::Bool(true));
        assert!(eval_err("all([1], #)", Value::Nil).contains("must return bool, but got int"));
        assert!(
            eval_err("all(result, # > 0)", Value::Float(1.0))
                .contains("expected array, but got float")
        );
        assert!(eval_err("reduce([], #acc)", Value::Nil).contains("empty array"));
        assert!(eval_err("map([1], #acc)", Value::Nil).contains("#acc"));
    }

    #[test]
    fn display() {
        let show = |v: Value| v.to_string();
        assert_eq!(show(Value::Float(0.95)), "0.95");
        assert_eq!(show(Value::Float(1.0)), "1");
        assert_eq!(show(Value::Float(100000.0)), "100000");
        assert_eq!(show(Value::Float(1e6)), "1e+06");
        assert_eq!(show(Value::Float(1234567.0)), "1.234567e+06");
        assert_eq!(show(Value::Float(0.0001)), "0.0001");
        assert_eq!(show(Value::Float(0.00001)), "1e-05");
        assert_eq!(show(Value::Float(-1.5e-7)), "-1.5e-07");
        assert_eq!(show(Value::Float(1e100)), "1e+100");
        assert_eq!(show(Value::Float(0.1 + 0.2)), "0.30000000000000004");
        assert_eq!(show(Value::Float(-0.0)), "-0");
        assert_eq!(show(Value::Float(f64::NAN)), "NaN");
        assert_eq!(show(Value::Float(f64::INFINITY)), "+Inf");
        assert_eq!(show(Value::Float(f64::NEG_INFINITY)), "-Inf");
        assert_eq!(show(Value::Int(-42)), "-42");
        assert_eq!(show(Value::Nil), "<nil>");
        assert_eq!(show(json(r#"[1, 2.5, "a", [true]]"#)), "[1 2.5 a [true]]");
        assert_eq!(show(json(r#"{"b": 1, "a": [0.5]}"#)), "map[a:[0.5] b:1]");
        assert_eq!(Value::Float(2.0).type_name(), "float");
        assert_eq!(json("18446744073709551615"), Value::Float(18446744073709551615.0));
        assert_eq!(json("null"), Value::Nil);
    }

    #[test]
    fn parse_errors_have_columns() {
        let e = parse_err("result[0] >=");
        assert_eq!((e.column, e.message.as_str()), (13, "unexpected end of expression"));
        assert_eq!(e.to_string(), "column 13: unexpected end of expression");
        let e = parse_err("result ** * 2");
        assert_eq!(e.column, 11);
        assert!(e.message.contains("unexpected token \"*\""), "{e}");
        let e = parse_err("1 + @");
        assert_eq!(e.column, 5);
        assert!(e.message.contains("unrecognized character"), "{e}");
        let e = parse_err("result == 'abc");
        assert_eq!((e.column, e.message.as_str()), (11, "literal not terminated"));
        let e = parse_err("é + nope(1)");
        assert_eq!((e.column, e.message.as_str()), (5, "unknown func nope"));
        let e = parse_err("len(1, 2)");
        assert_eq!((e.column, e.message.as_str()), (1, "too many arguments to call len"));
        let e = parse_err("all(result)");
        assert_eq!(e.message, "not enough arguments to call all");
        let e = parse_err("# > 1");
        assert_eq!(e.column, 1);
        assert!(e.message.contains("closure"), "{e}");
        let e = parse_err("(1 + 2");
        assert_eq!((e.column, e.message.as_str()), (7, "expected \")\", found end of expression"));
        let e = parse_err("[1, 2");
        assert_eq!(e.column, 6);
        let e = parse_err("1 2");
        assert_eq!((e.column, e.message.as_str()), (3, "unexpected token \"2\""));
        let e = parse_err("'a' matches '('");
        assert_eq!(e.column, 5);
        assert!(e.message.contains("invalid regular expression"), "{e}");
        let e = parse_err("'\\q'");
        assert_eq!((e.column, e.message.as_str()), (2, "invalid escape sequence \\q"));
        assert_eq!(parse_err("").column, 1);
        assert_eq!(parse_err("result.foo(1)").message, "unknown method foo");
        assert_eq!(parse_err("99999999999999999999").message, "integer literal is out of range");
        assert_eq!(parse_err("1 /* open").column, 3);
        assert_eq!(parse_err("a ? b").message, "expected \":\", found end of expression");
        assert_eq!(parse_err("a and or b").column, 7);
        assert_eq!(parse_err("#foo").column, 1);
        assert!(parse_err(".a").message.contains("unexpected token"));
    }

    #[test]
    fn eval_errors() {
        assert_eq!(eval_err("foo > 1", Value::Nil), "unknown name foo");
        assert_eq!(
            eval_err("result[5] > 1", json("[1, 2, 3]")),
            "index out of range: 5 (array length is 3)"
        );
        assert!(eval_err("result[-4]", json("[1, 2, 3]")).contains("index out of range: -4"));
        assert_eq!(eval_err("result[0]", Value::Float(1.0)), "cannot fetch 0 from float");
        assert_eq!(eval_err("result.x", Value::Float(1.0)), "cannot fetch x from float");
        assert_eq!(eval_err("result['x']", json("[1]")), "cannot use string as an array index");
        assert_eq!(
            eval_err("'a' + 1", Value::Nil),
            "invalid operation: + (mismatched types string and int)"
        );
        assert_eq!(
            eval_err("result < 1", "a".into()),
            "invalid operation: < (mismatched types string and int)"
        );
        assert_eq!(
            eval_err("nil > 0", Value::Nil),
            "invalid operation: > (mismatched types nil and int)"
        );
        assert_eq!(
            eval_err("1 contains 'a'", Value::Nil),
            "invalid operation: contains (mismatched types int and string)"
        );
        assert!(eval_err("not 1", Value::Nil).contains("invalid operation: not"));
        assert!(eval_err("1 && true", Value::Nil).contains("expected bool"));
        assert!(eval_err("true && 1", Value::Nil).contains("expected bool"));
        assert!(eval_err("1 ? 2 : 3", Value::Nil).contains("non-bool condition"));
        assert!(eval_err("len(1)", Value::Nil).contains("invalid argument for len"));
        assert!(eval_err("upper(1)", Value::Nil).contains("expected string, but got int"));
        assert!(eval_err("max([])", Value::Nil).contains("not enough arguments"));
        assert!(eval_err("max('a', 1)", Value::Nil).contains("expected numbers"));
        assert!(eval_err("isNaN(result)", json("[1]")).contains("expected number, but got array"));
        assert!(eval_err("result[1:2]", Value::Int(3)).contains("cannot slice int"));
        assert!(eval_err("'a' matches result", "(".into()).contains("invalid regular expression"));
        let big = Value::Array((0..1000).map(Value::Int).collect());
        let e = eval_err("asInt(result)", big.clone());
        assert_eq!(e, "asInt() not supported on array [1000 elements]");
        let e = eval_err("result[big]", Value::Float(1.0));
        assert_eq!(e, "unknown name big");
        let e = eval_err(&format!("2.5[['{}']]", "x".repeat(500)), Value::Nil);
        assert!(e.starts_with("cannot fetch [xxx") && e.ends_with("… from float"), "{e}");
        let cond = parse("result").unwrap();
        assert_eq!(
            cond.eval_bool(&vars(Value::Float(0.5))).unwrap_err(),
            "expected bool, but got float"
        );
        assert_eq!(cond.eval_bool(&vars(json("[1]"))).unwrap_err(), "expected bool, but got array");
        assert!(cond.eval_bool(&vars(Value::Bool(true))).unwrap());
    }

    #[test]
    fn limits() {
        let long = format!("1{}", " + 1".repeat(MAX_SOURCE_LEN / 4));
        let e = parse_err(&long);
        assert_eq!(e.column, 1);
        assert!(e.message.contains("too long"), "{e}");

        let nested = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(c(&nested(150)), Value::Int(1));
        assert!(parse_err(&nested(300)).message.contains("nested too deeply"));
        assert!(parse_err(&"-".repeat(1000)).message.contains("nested too deeply"));
        assert!(parse_err(&format!("1{}", "+1".repeat(500))).message.contains("nested too deeply"));
        assert!(
            parse_err(&format!("result{}", "[0]".repeat(500)))
                .message
                .contains("nested too deeply")
        );
        assert!(
            parse_err(&format!("{}1{}", "[".repeat(500), "]".repeat(500)))
                .message
                .contains("nested too deeply")
        );

        assert!(eval_err("1..2000000", Value::Nil).contains("too large"));
        assert!(eval_err("map(1..100000, 1..1000)", Value::Nil).contains("too expensive"));
        assert!(
            eval_err("len(map(1..1000000, map(1..1000000, #)))", Value::Nil)
                .contains("too expensive")
        );
        let big = Value::Array((0..100_000).map(Value::Int).collect());
        assert!(eval_err("map(result, [result, result])", big).contains("too expensive"));
        let big = Value::Array((0..100_000).map(Value::Int).collect());
        assert_eq!(ok("result == result", big.clone()), Value::Bool(true));
        assert!(eval_err("all(1..1000, result == result)", big.clone()).contains("too expensive"));
        let pair = Value::Map(BTreeMap::from([
            ("a".to_string(), big.clone()),
            ("b".to_string(), Value::Array(vec![big])),
        ]));
        assert!(eval_err("all(1..1000, result.a in result.b)", pair).contains("too expensive"));
        let text = Value::Str("a".repeat(1 << 20));
        assert!(
            eval_err("all(1..1000, result contains 'b' == false)", text.clone())
                .contains("too expensive")
        );
        assert!(
            eval_err("all(1..1000, result[-1] == 'a')", text.clone()).contains("too expensive")
        );
        assert!(eval_err("all(1..1000, len(result) > 0)", text).contains("too expensive"));
    }

    /// Deep but accepted expressions of every recursive shape evaluate without running out
    /// of stack on a default-size thread.
    #[test]
    fn deepest_accepted_expressions_evaluate() {
        let d = MAX_DEPTH / 2 - 2;
        let shapes = [
            format!("{}1{}", "(".repeat(d), ")".repeat(d)),
            format!("{}true", "!".repeat(d)),
            format!("{}1{}", "abs(".repeat(d), ")".repeat(d)),
            format!("{}1{}", "[".repeat(d), "]".repeat(d)),
            format!("{}[1]{}", "map(".repeat(d), ", #)".repeat(d)),
            format!("{}[1]{}", "all(".repeat(d / 2), ", true)".repeat(d / 2)),
            format!("result{}", "?.[0]".repeat(d)),
            format!("1{}", " + 1".repeat(d)),
            format!("{}1{}", "(true ? ".repeat(d), " : 2)".repeat(d)),
            format!("{}1{}", "{a: ".repeat(d), "}".repeat(d)),
        ];
        for src in shapes {
            let expr = parse(&src).unwrap_or_else(|e| panic!("{src}: {e}"));
            let _ = expr.eval(&vars(Value::Nil));
        }
    }

    #[test]
    fn random_token_soup_never_panics() {
        const PIECES: &[&str] = &[
            "result",
            "#",
            ".",
            "?.",
            "[",
            "]",
            "(",
            ")",
            "{",
            "}",
            ",",
            ":",
            "?",
            "??",
            "..",
            "+",
            "-",
            "*",
            "/",
            "%",
            "**",
            "^",
            "==",
            "!=",
            "<",
            ">",
            "<=",
            ">=",
            "!",
            "&&",
            "||",
            "|",
            "not",
            "and",
            "or",
            "in",
            "contains",
            "startsWith",
            "endsWith",
            "matches",
            "true",
            "false",
            "nil",
            "0",
            "1",
            "-1",
            "2.5",
            ".5",
            "1e3",
            "0x1f",
            "9223372036854775807",
            "'a'",
            "\"b\\n\"",
            "'(['",
            "`r`",
            "len",
            "abs",
            "int",
            "float",
            "string",
            "max",
            "min",
            "sum",
            "mean",
            "all",
            "any",
            "none",
            "one",
            "filter",
            "map",
            "count",
            "find",
            "reduce",
            "first",
            "last",
            "keys",
            "values",
            "isNaN",
            "asInt",
            "asFloat",
            "default",
            "split",
            "replace",
            "#index",
            "#acc",
            "$env",
            "a",
            " ",
            "'",
            "\"",
            "\\",
            "é",
            "/*",
            "//",
            "@",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let result = json(r#"[1, 2.5, {"a": "x", "b": [true, null]}, "s"]"#);
        let env = vars(result);
        let mut parsed = 0;
        for round in 0..2000 {
            let len = 1 + (next() % 14) as usize;
            let mut src = String::new();
            for _ in 0..len {
                if round % 5 == 0 {
                    src.push(char::from((next() % 128) as u8));
                } else {
                    src.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
                    if next() % 2 == 0 {
                        src.push(' ');
                    }
                }
            }
            if let Ok(expr) = parse(&src) {
                parsed += 1;
                let _ = expr.eval(&env);
                let _ = expr.eval_bool(&env);
            }
        }
        assert!(parsed > 50, "only {parsed} random expressions parsed");

        // Near-valid input: real conditions with characters deleted, duplicated or swapped.
        let seeds = [
            "len(result) == 0 || result[0] < 0.05",
            "all(result, # < 1000) && result?.[0] ?? 1 > 0",
            "map(filter(result, .b != nil), {.a + 'x'})[0:1]",
            "result[2].b[-1] not in 1..3 ? 'a' matches '^a' : asInt('4') ** 2",
        ];
        for round in 0..1000 {
            let mut chars: Vec<char> = seeds[round % seeds.len()].chars().collect();
            for _ in 0..1 + next() % 3 {
                let i = (next() % chars.len() as u64) as usize;
                match next() % 3 {
                    0 => {
                        chars.remove(i);
                    }
                    1 => {
                        let c = chars[i];
                        chars.insert(i, c);
                    }
                    _ => {
                        let j = (next() % chars.len() as u64) as usize;
                        chars.swap(i, j);
                    }
                }
            }
            let src: String = chars.into_iter().collect();
            if let Ok(expr) = parse(&src) {
                let _ = expr.eval(&env);
            }
        }
    }
}
