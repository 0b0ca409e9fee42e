//! The functions templates can call: Go's builtins (`len`, `index`, `printf`, `eq`, …) and
//! the sets Prometheus (alert and console templates) and Alertmanager (notifications) add.

use std::collections::{BTreeMap, HashMap};

use regex::Regex;

use crate::gofmt::{self, Style};
use crate::gotime;
use crate::parse::parse_go_float;
use crate::value::{Time, Value};
use crate::{Host, QuerySample};

/// Which functions exist besides Go's builtins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Funcs {
    /// Prometheus's alert-rule template functions (`humanize`, `query`, `reReplaceAll`, …).
    Prometheus,
    /// Alertmanager's notification template functions (`toUpper`, `join`, `date`, `dict`, …);
    /// string maps also print as label sets (`a=b, c=d`).
    Alertmanager,
    /// Only Go's builtins.
    Builtins,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    // Go's builtins.
    And,
    Or,
    Not,
    Len,
    Index,
    Slice,
    Print,
    Printf,
    Println,
    Html,
    Js,
    Urlquery,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Call,
    // Shared by Prometheus and Alertmanager.
    ToUpper,
    ToLower,
    Match,
    SafeHtml,
    ReReplaceAll,
    HumanizeDuration,
    // Prometheus.
    Query,
    First,
    Label,
    SampleValue,
    StrValue,
    Args,
    PromTitle,
    GraphLink,
    TableLink,
    SortByLabel,
    Humanize,
    Humanize1024,
    HumanizePercentage,
    HumanizeTimestamp,
    ToTime,
    ToDuration,
    PromNow,
    PathPrefix,
    ExternalUrl,
    ParseDuration,
    StripPort,
    StripDomain,
    UrlQueryEscape,
    // Alertmanager.
    AmTitle,
    TrimSpace,
    Join,
    SafeUrl,
    UrlUnescape,
    StringSlice,
    Date,
    Tz,
    AmNow,
    Since,
    ToDate,
    MustToDate,
    ToJson,
    Base64Encode,
    Base64Decode,
    List,
    Append,
    Dict,
}

/// Resolves a function name in a function set.
pub(crate) fn lookup(name: &str, set: Funcs) -> Option<Func> {
    use Func::*;
    let builtin = match name {
        "and" => Some(And),
        "or" => Some(Or),
        "not" => Some(Not),
        "len" => Some(Len),
        "index" => Some(Index),
        "slice" => Some(Slice),
        "print" => Some(Print),
        "printf" => Some(Printf),
        "println" => Some(Println),
        "html" => Some(Html),
        "js" => Some(Js),
        "urlquery" => Some(Urlquery),
        "eq" => Some(Eq),
        "ne" => Some(Ne),
        "lt" => Some(Lt),
        "le" => Some(Le),
        "gt" => Some(Gt),
        "ge" => Some(Ge),
        "call" => Some(Call),
        _ => None,
    };
    if builtin.is_some() {
        return builtin;
    }
    let shared = match name {
        "toUpper" => Some(ToUpper),
        "toLower" => Some(ToLower),
        "match" => Some(Match),
        "safeHtml" => Some(SafeHtml),
        "reReplaceAll" => Some(ReReplaceAll),
        "humanizeDuration" => Some(HumanizeDuration),
        _ => None,
    };
    match set {
        Funcs::Builtins => None,
        Funcs::Prometheus => shared.or(match name {
            "query" => Some(Query),
            "first" => Some(First),
            "label" => Some(Label),
            "value" => Some(SampleValue),
            "strvalue" => Some(StrValue),
            "args" => Some(Args),
            "title" => Some(PromTitle),
            "graphLink" => Some(GraphLink),
            "tableLink" => Some(TableLink),
            "sortByLabel" => Some(SortByLabel),
            "humanize" => Some(Humanize),
            "humanize1024" => Some(Humanize1024),
            "humanizePercentage" => Some(HumanizePercentage),
            "humanizeTimestamp" => Some(HumanizeTimestamp),
            "toTime" => Some(ToTime),
            "toDuration" => Some(ToDuration),
            "now" => Some(PromNow),
            "pathPrefix" => Some(PathPrefix),
            "externalURL" => Some(ExternalUrl),
            "parseDuration" => Some(ParseDuration),
            "stripPort" => Some(StripPort),
            "stripDomain" => Some(StripDomain),
            "urlQueryEscape" => Some(UrlQueryEscape),
            _ => None,
        }),
        Funcs::Alertmanager => shared.or(match name {
            "title" => Some(AmTitle),
            "trimSpace" => Some(TrimSpace),
            "join" => Some(Join),
            "safeUrl" => Some(SafeUrl),
            "urlUnescape" => Some(UrlUnescape),
            "stringSlice" => Some(StringSlice),
            "date" => Some(Date),
            "tz" => Some(Tz),
            "now" => Some(AmNow),
            "since" => Some(Since),
            "toDate" => Some(ToDate),
            "mustToDate" => Some(MustToDate),
            "toJson" => Some(ToJson),
            "base64encode" => Some(Base64Encode),
            "base64decode" => Some(Base64Decode),
            "list" => Some(List),
            "append" => Some(Append),
            "dict" => Some(Dict),
            _ => None,
        }),
    }
}

/// How many arguments a function takes: (fixed, variadic).
pub(crate) fn arity(f: Func) -> (usize, bool) {
    use Func::*;
    match f {
        And | Or | Index | Slice | Printf | Eq | Call | Append => (1, true),
        Print | Println | Html | Js | Urlquery | Args | StringSlice | List | Dict => (0, true),
        Ne | Lt | Le | Gt | Ge | Label | SortByLabel | Match | Join | Date | Tz | ToDate
        | MustToDate => (2, false),
        ReReplaceAll => (3, false),
        PromNow | PathPrefix | ExternalUrl | AmNow => (0, false),
        _ => (1, false),
    }
}

/// Why a function failed: a wrong argument type (reported as is), or its own error
/// (reported as `error calling NAME: …`).
#[derive(Debug)]
pub(crate) enum FnErr {
    Type(String),
    Call(String),
}

type FnResult = Result<Value, FnErr>;

fn call_err<T>(msg: impl Into<String>) -> Result<T, FnErr> {
    Err(FnErr::Call(msg.into()))
}

fn wrong_type<T>(expected: &str, got: &Value) -> Result<T, FnErr> {
    Err(FnErr::Type(format!("wrong type for value; expected {expected}; got {}", got.type_name())))
}

fn str_arg(v: &Value) -> Result<&str, FnErr> {
    match v {
        Value::Str(s) => Ok(s),
        Value::Nil => Err(FnErr::Type("invalid value; expected string".into())),
        other => wrong_type("string", other),
    }
}

fn time_arg(v: &Value) -> Result<&Time, FnErr> {
    match v {
        Value::Time(t) => Ok(t),
        Value::Nil => Err(FnErr::Type("invalid value; expected time.Time".into())),
        other => wrong_type("time.Time", other),
    }
}

fn strings_arg(v: &Value) -> Result<Vec<&str>, FnErr> {
    match v {
        Value::List(l) => l.iter().map(str_arg).collect(),
        Value::Nil => Ok(Vec::new()),
        other => wrong_type("[]string", other),
    }
}

fn sample_arg(v: &Value) -> Result<&BTreeMap<String, Value>, FnErr> {
    match v {
        Value::Map(m) => Ok(m),
        Value::Nil => Err(FnErr::Type("invalid value; expected *template.sample".into())),
        other => wrong_type("*template.sample", other),
    }
}

fn sample_label<'a>(s: &'a BTreeMap<String, Value>, name: &str) -> &'a str {
    match s.get("Labels") {
        Some(Value::Map(l)) => l.get(name).and_then(Value::as_str).unwrap_or(""),
        _ => "",
    }
}

/// What functions may use while running.
pub(crate) struct Ctx<'a> {
    pub host: &'a dyn Host,
    pub style: Style,
    pub regexes: &'a mut HashMap<String, Regex>,
}

impl Ctx<'_> {
    fn regex(&mut self, pattern: &str) -> Result<Regex, FnErr> {
        if let Some(r) = self.regexes.get(pattern) {
            return Ok(r.clone());
        }
        let r = Regex::new(pattern).map_err(|e| {
            FnErr::Call(format!("regexp: Compile({}): {e}", gofmt::quote(pattern, false)))
        })?;
        if self.regexes.len() < 256 {
            self.regexes.insert(pattern.to_owned(), r.clone());
        }
        Ok(r)
    }

    fn now_time(&self) -> Time {
        Time::from_unix_nanos((self.host.now() * 1e9) as i128)
    }
}

/// Calls `f` with evaluated arguments (their count already checked).
pub(crate) fn call(cx: &mut Ctx<'_>, f: Func, args: Vec<Value>) -> FnResult {
    use Func::*;
    let a = &args;
    match f {
        And | Or => Ok(a.last().cloned().unwrap_or(Value::Nil)),
        Not => Ok(Value::Bool(!a[0].truth())),
        Len => length(&a[0]),
        Index => index(&a[0], &a[1..]),
        Slice => slice(&a[0], &a[1..]),
        Print => Ok(Value::Str(gofmt::sprint(a, cx.style))),
        Println => Ok(Value::Str(gofmt::sprintln(a, cx.style))),
        Printf => Ok(Value::Str(gofmt::sprintf(str_arg(&a[0])?, &a[1..], cx.style))),
        Html => Ok(Value::Str(html_escape(&eval_args(a, cx.style)))),
        Js => Ok(Value::Str(js_escape(&eval_args(a, cx.style)))),
        Urlquery => Ok(Value::Str(query_escape(&eval_args(a, cx.style)))),
        Eq => eq(&a[0], &a[1..]).map(Value::Bool),
        Ne => eq(&a[0], &a[1..]).map(|b| Value::Bool(!b)),
        Lt => lt(&a[0], &a[1]).map(Value::Bool),
        Le => le(&a[0], &a[1]).map(Value::Bool),
        Gt => le(&a[0], &a[1]).map(|b| Value::Bool(!b)),
        Ge => lt(&a[0], &a[1]).map(|b| Value::Bool(!b)),
        Call => call_err(format!("non-function of type {}", a[0].type_name())),
        ToUpper => Ok(Value::Str(str_arg(&a[0])?.to_uppercase())),
        ToLower => Ok(Value::Str(str_arg(&a[0])?.to_lowercase())),
        Match => {
            let re = cx.regex(str_arg(&a[0])?)?;
            Ok(Value::Bool(re.is_match(str_arg(&a[1])?)))
        }
        SafeHtml | SafeUrl => Ok(Value::Str(str_arg(&a[0])?.to_owned())),
        ReReplaceAll => {
            let re = cx.regex(str_arg(&a[0])?)?;
            Ok(Value::Str(re.replace_all(str_arg(&a[2])?, str_arg(&a[1])?).into_owned()))
        }
        HumanizeDuration => humanize_duration(to_float(&a[0])?).map(Value::Str),
        Query => {
            let samples = cx.host.query(str_arg(&a[0])?).map_err(FnErr::Call)?;
            Ok(Value::List(samples.into_iter().map(sample_value).collect()))
        }
        First => match &a[0] {
            Value::List(l) => l
                .first()
                .cloned()
                .ok_or_else(|| FnErr::Call("first() called on vector with no elements".into())),
            Value::Nil => call_err("first() called on vector with no elements"),
            other => wrong_type("template.queryResult", other),
        },
        Label => {
            let name = str_arg(&a[0])?;
            Ok(Value::Str(sample_label(sample_arg(&a[1])?, name).to_owned()))
        }
        SampleValue => Ok(sample_arg(&a[0])?.get("Value").cloned().unwrap_or(Value::Nil)),
        StrValue => Ok(Value::Str(sample_label(sample_arg(&a[0])?, "__value__").to_owned())),
        Args => Ok(Value::Map(
            a.iter().enumerate().map(|(i, v)| (format!("arg{i}"), v.clone())).collect(),
        )),
        PromTitle => Ok(Value::Str(title(str_arg(&a[0])?, false))),
        AmTitle => Ok(Value::Str(title(str_arg(&a[0])?, true))),
        GraphLink => {
            Ok(Value::Str(format!("/graph?g0.expr={}&g0.tab=0", query_escape(str_arg(&a[0])?))))
        }
        TableLink => {
            Ok(Value::Str(format!("/graph?g0.expr={}&g0.tab=1", query_escape(str_arg(&a[0])?))))
        }
        SortByLabel => {
            let name = str_arg(&a[0])?;
            let mut list = match &a[1] {
                Value::List(l) => l.clone(),
                Value::Nil => Vec::new(),
                other => return wrong_type("template.queryResult", other),
            };
            for s in &list {
                sample_arg(s)?;
            }
            list.sort_by(|x, y| {
                let lx = if let Value::Map(m) = x { sample_label(m, name) } else { "" };
                let ly = if let Value::Map(m) = y { sample_label(m, name) } else { "" };
                lx.cmp(ly)
            });
            Ok(Value::List(list))
        }
        Humanize => Ok(Value::Str(humanize(to_float(&a[0])?))),
        Humanize1024 => Ok(Value::Str(humanize1024(to_float(&a[0])?))),
        HumanizePercentage => Ok(Value::Str(format!(
            "{}%",
            gofmt::sprintf("%.4g", &[Value::Float(to_float(&a[0])? * 100.0)], Style::default())
        ))),
        HumanizeTimestamp => {
            let v = to_float(&a[0])?;
            if v.is_nan() || v.is_infinite() {
                return Ok(Value::Str(fmt4g(v)));
            }
            Ok(Value::Str(gotime::time_string(&float_to_time(v)?)))
        }
        ToTime => {
            let v = to_float(&a[0])?;
            if v.is_nan() || v.is_infinite() {
                return call_err("value is NaN or Inf");
            }
            Ok(Value::Time(float_to_time(v)?))
        }
        ToDuration => Ok(Value::Duration(float_to_i64(to_float(&a[0])? * 1e9))),
        PromNow => Ok(Value::Float(cx.host.now())),
        PathPrefix => Ok(Value::Str(cx.host.path_prefix().to_owned())),
        ExternalUrl => Ok(Value::Str(cx.host.external_url().to_owned())),
        ParseDuration => {
            let ms = gotime::parse_prom_duration(str_arg(&a[0])?).map_err(FnErr::Call)?;
            Ok(Value::Float(ms as f64 / 1000.0))
        }
        StripPort => {
            let hp = str_arg(&a[0])?;
            Ok(Value::Str(split_host_port(hp).map_or(hp, |(h, _)| h).to_owned()))
        }
        StripDomain => Ok(Value::Str(strip_domain(str_arg(&a[0])?))),
        UrlQueryEscape => Ok(Value::Str(query_escape(str_arg(&a[0])?))),
        TrimSpace => Ok(Value::Str(str_arg(&a[0])?.trim().to_owned())),
        Join => {
            let sep = str_arg(&a[0])?;
            Ok(Value::Str(strings_arg(&a[1])?.join(sep)))
        }
        UrlUnescape => query_unescape(str_arg(&a[0])?).map(Value::Str).map_err(FnErr::Call),
        StringSlice => {
            for v in a {
                str_arg(v)?;
            }
            Ok(Value::List(args))
        }
        Date => Ok(Value::Str(gotime::format(time_arg(&a[1])?, str_arg(&a[0])?))),
        Tz => {
            let name = str_arg(&a[0])?;
            let t = time_arg(&a[1])?;
            let zone = gotime::builtin_zone(name).or_else(|| cx.host.time_zone(name, t.secs));
            match zone {
                Some((offset, abbr)) => Ok(Value::Time(t.with_zone(offset, &abbr))),
                None => call_err(format!("unknown time zone {name}")),
            }
        }
        AmNow => Ok(Value::Time(cx.now_time())),
        Since => {
            let t = time_arg(&a[0])?;
            let now = cx.now_time().unix_nanos();
            let d = (now - t.unix_nanos()).clamp(i128::from(i64::MIN), i128::from(i64::MAX));
            Ok(Value::Duration(d as i64))
        }
        ToDate => Ok(Value::Time(
            gotime::parse(str_arg(&a[0])?, str_arg(&a[1])?).unwrap_or_else(|_| Time::zero()),
        )),
        MustToDate => {
            gotime::parse(str_arg(&a[0])?, str_arg(&a[1])?).map(Value::Time).map_err(FnErr::Call)
        }
        ToJson => {
            let mut out = String::new();
            to_json(&mut out, &a[0]).map_err(FnErr::Call)?;
            Ok(Value::Str(out))
        }
        Base64Encode => Ok(Value::Str(base64_encode(str_arg(&a[0])?.as_bytes()))),
        Base64Decode => {
            let bytes = base64_decode(str_arg(&a[0])?).map_err(FnErr::Call)?;
            Ok(Value::Str(String::from_utf8_lossy(&bytes).into_owned()))
        }
        List => Ok(Value::List(args)),
        Append => {
            let mut it = args.into_iter();
            let mut list = match it.next() {
                Some(Value::List(l)) => l,
                Some(Value::Nil) | None => Vec::new(),
                Some(other) => return wrong_type("[]interface {}", &other),
            };
            list.extend(it);
            Ok(Value::List(list))
        }
        Dict => {
            if !a.len().is_multiple_of(2) {
                return call_err("dict requires an even number of arguments");
            }
            let mut m = BTreeMap::new();
            let mut it = args.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                let Value::Str(k) = k else { return call_err("dict keys must be strings") };
                m.insert(k, v);
            }
            Ok(Value::Map(m))
        }
    }
}

/// A query result sample as templates see it: `.Labels` and `.Value`.
fn sample_value(s: QuerySample) -> Value {
    Value::map([("Labels", Value::from(s.labels)), ("Value", Value::Float(s.value))])
}

/// Go's `evalArgs`: a lone string as is, anything else printed with `fmt.Sprint`.
fn eval_args(args: &[Value], style: Style) -> String {
    if let [Value::Str(s)] = args {
        return s.clone();
    }
    let printable: Vec<Value> = args
        .iter()
        .map(|v| if matches!(v, Value::Nil) { Value::Str("<no value>".into()) } else { v.clone() })
        .collect();
    gofmt::sprint(&printable, style)
}

fn length(v: &Value) -> FnResult {
    match v {
        Value::Str(s) => Ok(Value::from(s.len())),
        Value::List(l) => Ok(Value::from(l.len())),
        Value::Map(m) => Ok(Value::from(m.len())),
        Value::Nil => call_err("len of nil pointer"),
        other => call_err(format!("len of type {}", other.type_name())),
    }
}

fn index_arg(v: &Value, cap: usize) -> Result<usize, FnErr> {
    let x = match v {
        Value::Int(i) | Value::Duration(i) => *i,
        Value::Nil => return call_err("cannot index slice/array with nil"),
        other => {
            return call_err(format!("cannot index slice/array with type {}", other.type_name()));
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return call_err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn missing_key(m: &Value) -> Value {
    if m.is_string_map() { Value::Str(String::new()) } else { Value::Nil }
}

fn index(item: &Value, indexes: &[Value]) -> FnResult {
    if matches!(item, Value::Nil) {
        return call_err("index of untyped nil");
    }
    let mut cur = item.clone();
    for ix in indexes {
        cur = match &cur {
            Value::List(l) => {
                let x = index_arg(ix, l.len())?;
                match l.get(x) {
                    Some(v) => v.clone(),
                    None => return call_err(format!("index out of range: {x}")),
                }
            }
            Value::Str(s) => {
                let x = index_arg(ix, s.len())?;
                match s.as_bytes().get(x) {
                    Some(b) => Value::Int(i64::from(*b)),
                    None => return call_err(format!("index out of range: {x}")),
                }
            }
            Value::Map(m) => match ix {
                Value::Str(k) => m.get(k).cloned().unwrap_or_else(|| missing_key(&cur)),
                Value::Nil => return call_err("value is nil; should be of type string"),
                other => {
                    return call_err(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    ));
                }
            },
            Value::Nil => return call_err("index of nil pointer"),
            other => return call_err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(cur)
}

fn slice(item: &Value, indexes: &[Value]) -> FnResult {
    if matches!(item, Value::Nil) {
        return call_err("slice of untyped nil");
    }
    if indexes.len() > 3 {
        return call_err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match item {
        Value::Str(s) => {
            if indexes.len() == 3 {
                return call_err("cannot 3-index slice a string");
            }
            s.len()
        }
        Value::List(l) => l.len(),
        other => return call_err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut idx = [0usize, len, len];
    for (i, ix) in indexes.iter().enumerate() {
        idx[i] = index_arg(ix, len)?;
    }
    if idx[0] > idx[1] {
        return call_err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return call_err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    match item {
        Value::Str(s) => {
            Ok(Value::Str(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned()))
        }
        Value::List(l) => Ok(Value::List(l[idx[0]..idx[1]].to_vec())),
        _ => Ok(Value::Nil),
    }
}

#[derive(PartialEq, Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Duration(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::Str,
        _ => Kind::Other,
    }
}

const BAD_COMPARISON: &str = "incompatible types for comparison";
const BAD_COMPARISON_TYPE: &str = "invalid type for comparison";

fn eq(a: &Value, others: &[Value]) -> Result<bool, FnErr> {
    if others.is_empty() {
        return call_err("missing argument for comparison");
    }
    for b in others {
        let truth = match (a, b) {
            (Value::Nil, Value::Nil) => true,
            (Value::Nil, _) | (_, Value::Nil) => false,
            (Value::List(_) | Value::Map(_), _) => {
                return call_err(format!(
                    "non-comparable type {}: {}",
                    gofmt::display(a, Style::default()),
                    a.type_name()
                ));
            }
            (_, Value::List(_) | Value::Map(_)) => {
                return call_err(format!(
                    "non-comparable type {}: {}",
                    gofmt::display(b, Style::default()),
                    b.type_name()
                ));
            }
            (Value::Time(x), Value::Time(y)) => x == y,
            _ if kind(a) != kind(b) => return call_err(BAD_COMPARISON),
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Float(x), Value::Float(y)) => x == y,
            (Value::Str(x), Value::Str(y)) => x == y,
            (Value::Int(x) | Value::Duration(x), Value::Int(y) | Value::Duration(y)) => x == y,
            _ => return call_err(BAD_COMPARISON),
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value, b: &Value) -> Result<bool, FnErr> {
    let (ka, kb) = (kind(a), kind(b));
    if ka == Kind::Other || kb == Kind::Other {
        return call_err(BAD_COMPARISON_TYPE);
    }
    if ka != kb {
        return call_err(BAD_COMPARISON);
    }
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::Str(x), Value::Str(y)) => Ok(x < y),
        (Value::Int(x) | Value::Duration(x), Value::Int(y) | Value::Duration(y)) => Ok(x < y),
        _ => call_err(BAD_COMPARISON_TYPE),
    }
}

fn le(a: &Value, b: &Value) -> Result<bool, FnErr> {
    Ok(lt(a, b)? || eq(a, std::slice::from_ref(b))?)
}

/// Go's `template.HTMLEscapeString`.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_ascii() || gofmt::is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `url.QueryUnescape`.
fn query_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if i + 2 >= b.len()
                    || !b[i + 1].is_ascii_hexdigit()
                    || !b[i + 2].is_ascii_hexdigit()
                {
                    let bad: String = s[i..].chars().take(3).collect();
                    return Err(format!("invalid URL escape {}", gofmt::quote(&bad, false)));
                }
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(b[i + 1]) << 4 | hex(b[i + 2]));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `net.SplitHostPort`.
fn split_host_port(hp: &str) -> Option<(&str, &str)> {
    let i = hp.rfind(':')?;
    let (host, j, k);
    if hp.starts_with('[') {
        let end = hp.find(']')?;
        if end + 1 != i {
            return None;
        }
        host = &hp[1..end];
        j = 1;
        k = end + 1;
    } else {
        host = &hp[..i];
        if host.contains(':') {
            return None;
        }
        j = 0;
        k = 0;
    }
    if hp[j..].contains('[') || hp[k..].contains(']') {
        return None;
    }
    Some((host, &hp[i + 1..]))
}

fn strip_domain(hp: &str) -> String {
    let (host, port) = split_host_port(hp).unwrap_or((hp, ""));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return hp.to_owned();
    }
    let host = host.split('.').next().unwrap_or("");
    if port.is_empty() {
        return host.to_owned();
    }
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// Capitalizes the first letter of each word; Alertmanager's variant lowers the rest.
fn title(s: &str, lower_rest: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for (i, &c) in chars.iter().enumerate() {
        let word_char = c.is_alphanumeric() || c == '_';
        // Apostrophes, dots and colons between letters keep a word going ("don't", "a.b").
        let joiner = matches!(c, '\'' | '’' | '.' | ':')
            && in_word
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic())
            && i > 0
            && chars[i - 1].is_alphabetic();
        if word_char {
            if in_word {
                if lower_rest {
                    out.extend(c.to_lowercase());
                } else {
                    out.push(c);
                }
            } else {
                out.extend(c.to_uppercase());
            }
            in_word = true;
        } else {
            out.push(c);
            in_word = joiner;
        }
    }
    out
}

/// Go's `strconv.ParseFloat(s, 64)`, with its error texts.
pub(crate) fn parse_float(s: &str) -> Result<f64, String> {
    let syntax =
        || format!("strconv.ParseFloat: parsing {}: invalid syntax", gofmt::quote(s, false));
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let neg = s.starts_with('-');
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Ok(if neg { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if lower == "nan" && body.len() == s.len() {
        return Ok(f64::NAN);
    }
    let has_digit = body.bytes().any(|b| b.is_ascii_digit());
    let v = if has_digit { parse_go_float(s) } else { None };
    match v {
        Some(v) if v.is_infinite() => Err(format!(
            "strconv.ParseFloat: parsing {}: value out of range",
            gofmt::quote(s, false)
        )),
        Some(v) => Ok(v),
        None => Err(syntax()),
    }
}

/// Prometheus's `ConvertToFloat`: numbers, numeric strings and durations (in seconds).
fn to_float(v: &Value) -> Result<f64, FnErr> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => parse_float(s).map_err(FnErr::Call),
        Value::Duration(d) => Ok(*d as f64 / 1e9),
        other => call_err(format!("can't convert {} to float", other.type_name())),
    }
}

fn float_to_i64(f: f64) -> i64 {
    if f.is_nan() { i64::MIN } else { f as i64 }
}

/// Prometheus's seconds-to-time conversion (millisecond precision, UTC).
fn float_to_time(v: f64) -> Result<Time, FnErr> {
    let ts = v * 1e9;
    if ts > i64::MAX as f64 || ts < i64::MIN as f64 {
        return call_err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            gofmt::display(&Value::Float(v), Style::default())
        ));
    }
    let ns = ts as i64;
    Ok(Time::from_millis(ns / 1_000_000))
}

fn fmt4g(v: f64) -> String {
    gofmt::sprintf("%.4g", &[Value::Float(v)], Style::default())
}

/// Prometheus's `humanize`: SI prefixes, 4 significant digits.
pub(crate) fn humanize(mut v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return fmt4g(v);
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", fmt4g(v))
}

/// Prometheus's `humanize1024`: binary prefixes, 4 significant digits.
pub(crate) fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return fmt4g(v);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", fmt4g(v))
}

/// Prometheus's `humanizeDuration`: `1d 2h 3m 4s`, or 4 significant digits below a minute.
pub(crate) fn humanize_duration(mut v: f64) -> Result<String, FnErr> {
    if v.is_nan() || v.is_infinite() {
        return Ok(fmt4g(v));
    }
    if v == 0.0 {
        return Ok(format!("{}s", fmt4g(v)));
    }
    if v.abs() >= 1.0 {
        let mut sign = "";
        if v < 0.0 {
            sign = "-";
            v = -v;
        }
        let d = float_to_i64(v);
        let (seconds, minutes, hours, days) = (d % 60, d / 60 % 60, d / 3600 % 24, d / 86_400);
        if days != 0 {
            return Ok(format!("{sign}{days}d {hours}h {minutes}m {seconds}s"));
        }
        if hours != 0 {
            return Ok(format!("{sign}{hours}h {minutes}m {seconds}s"));
        }
        if minutes != 0 {
            return Ok(format!("{sign}{minutes}m {seconds}s"));
        }
        return Ok(format!("{sign}{}s", fmt4g(v)));
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    Ok(format!("{}{prefix}s", fmt4g(v)))
}

/// JSON the way Go's `encoding/json` writes it (sorted keys, HTML-safe strings).
fn to_json(out: &mut String, v: &Value) -> Result<(), String> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Duration(i) => out.push_str(&i.to_string()),
        Value::Float(f) => {
            if f.is_nan() || f.is_infinite() {
                return Err(format!(
                    "json: unsupported value: {}",
                    gofmt::display(v, Style::default())
                ));
            }
            let abs = f.abs();
            let use_exp = abs != 0.0 && !(1e-6..1e21).contains(&abs);
            let mut s = gofmt::format_float(*f, if use_exp { b'e' } else { b'f' }, -1);
            if use_exp {
                // "1e-07" becomes "1e-7".
                if let Some(i) = s.find("e-0") {
                    s.replace_range(i..i + 3, "e-");
                } else if let Some(i) = s.find("e+0") {
                    s.replace_range(i..i + 3, "e+");
                }
            }
            out.push_str(&s);
        }
        Value::Str(s) => json_string(out, s),
        Value::Time(t) => {
            json_string(out, &gotime::format(t, "2006-01-02T15:04:05.999999999Z07:00"))
        }
        Value::List(l) => {
            out.push('[');
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                to_json(out, e)?;
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, k);
                out.push(':');
                to_json(out, e)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

const B64: &[u8; 64] = andon_core::base64::URL_SAFE;

/// Base64 with the URL-safe alphabet and padding.
fn base64_encode(data: &[u8]) -> String {
    andon_core::base64::encode(data, B64)
}

fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return Err(format!("illegal base64 data at input byte {}", bytes.len() / 4 * 4));
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (ci, chunk) in bytes.chunks(4).enumerate() {
        let mut n = 0u32;
        let mut pad = 0;
        for (k, &c) in chunk.iter().enumerate() {
            let v = if c == b'=' && ci * 4 + 4 == bytes.len() && k >= 2 {
                pad += 1;
                0
            } else if pad > 0 {
                return Err(format!("illegal base64 data at input byte {}", ci * 4 + k));
            } else {
                match B64.iter().position(|b| *b == c) {
                    Some(p) => p as u32,
                    None => {
                        return Err(format!("illegal base64 data at input byte {}", ci * 4 + k));
                    }
                }
            };
            n = n << 6 | v;
        }
        let b = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&b[..3 - pad]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_matches_prometheus() {
        let h: Vec<String> =
            [0.0, 1.0, 1234567.0, 0.12, -1.0, 9.223372036854776e18, 1.8446744073709552e19, 0.00123]
                .into_iter()
                .map(humanize)
                .collect();
        assert_eq!(h, ["0", "1", "1.235M", "120m", "-1", "9.223E", "18.45E", "1.23m"]);
        let h: Vec<String> = [
            0.0,
            1.0,
            1048576.0,
            0.12,
            -1.0,
            1234567.0,
            9.223372036854776e18,
            1.8446744073709552e19,
        ]
        .into_iter()
        .map(humanize1024)
        .collect();
        assert_eq!(h, ["0", "1", "1Mi", "0.12", "-1", "1.177Mi", "8Ei", "16Ei"]);
        assert_eq!(humanize(f64::INFINITY), "+Inf");
        assert_eq!(humanize1024(f64::NEG_INFINITY), "-Inf");
        assert_eq!(humanize(f64::NAN), "NaN");
    }

    #[test]
    fn humanize_duration_matches_prometheus() {
        let d = |v: f64| humanize_duration(v).ok().unwrap_or_default();
        let cases = [
            (0.0, "0s"),
            (1.0, "1s"),
            (60.0, "1m 0s"),
            (3600.0, "1h 0m 0s"),
            (86400.0, "1d 0h 0m 0s"),
            (86400.0 + 3600.0, "1d 1h 0m 0s"),
            (-(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0), "-2d 3h 4m 5s"),
            (899.99, "14m 59s"),
            (0.1, "100ms"),
            (0.0001, "100us"),
            (0.12345, "123.5ms"),
            (60.1, "1m 0s"),
            (60.5, "1m 0s"),
            (1.2345, "1.234s"),
            (12.345, "12.35s"),
            (3.5, "3.5s"),
            (90061.0, "1d 1h 1m 1s"),
            (1234567.0, "14d 6h 56m 7s"),
            (-1.0, "-1s"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ];
        for (v, want) in cases {
            assert_eq!(d(v), want, "{v}");
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>\0"),
            "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;\u{FFFD}"
        );
        assert_eq!(
            js_escape("'a'=\"b\"\\<&>\n\u{2028}é"),
            "\\'a\\'\\u003D\\\"b\\\"\\\\\\u003C\\u0026\\u003E\\u000A\\u2028é"
        );
        assert_eq!(query_escape("a b&c=d/é~"), "a+b%26c%3Dd%2F%C3%A9~");
        assert_eq!(query_unescape("search?q=test%20foo+bar"), Ok("search?q=test foo bar".into()));
        assert_eq!(query_unescape("%zz"), Err("invalid URL escape \"%zz\"".into()));
        assert_eq!(query_unescape("ab%4"), Err("invalid URL escape \"%4\"".into()));
    }

    #[test]
    fn host_port_helpers() {
        assert_eq!(split_host_port("foo.example.com:12345"), Some(("foo.example.com", "12345")));
        assert_eq!(split_host_port("[2001:0DB8::1]:12345"), Some(("2001:0DB8::1", "12345")));
        assert_eq!(split_host_port("2001:0DB8::1"), None);
        assert_eq!(split_host_port("[2001:0DB8::1]::12345"), None);
        assert_eq!(split_host_port("foo"), None);
        assert_eq!(strip_domain("foo.example.com"), "foo");
        assert_eq!(strip_domain("foo.example.com:12345"), "foo:12345");
        assert_eq!(strip_domain("192.0.2.1:12345"), "192.0.2.1:12345");
        assert_eq!(strip_domain("2001:0DB8::1"), "2001:0DB8::1");
        assert_eq!(strip_domain("[2001:0DB8::1]:12345"), "[2001:0DB8::1]:12345");
        assert_eq!(strip_domain("[2001:0DB8::1]::12345"), "[2001:0DB8::1]::12345");
    }

    #[test]
    fn titles() {
        assert_eq!(title("aa bb CC", false), "Aa Bb CC");
        assert_eq!(title("aa bb CC", true), "Aa Bb Cc");
        assert_eq!(title("don't stop-me now_please", true), "Don't Stop-Me Now_please");
        assert_eq!(title("éa", false), "Éa");
    }

    #[test]
    fn floats_parse_like_strconv() {
        assert_eq!(parse_float("1.5"), Ok(1.5));
        assert_eq!(parse_float(".12"), Ok(0.12));
        assert_eq!(parse_float("+Inf"), Ok(f64::INFINITY));
        assert_eq!(parse_float("-inf"), Ok(f64::NEG_INFINITY));
        assert!(parse_float("NaN").is_ok_and(f64::is_nan));
        assert_eq!(parse_float("0x1p4"), Ok(16.0));
        assert_eq!(
            parse_float("one"),
            Err("strconv.ParseFloat: parsing \"one\": invalid syntax".into())
        );
        assert_eq!(parse_float(""), Err("strconv.ParseFloat: parsing \"\": invalid syntax".into()));
        assert_eq!(
            parse_float("1e400"),
            Err("strconv.ParseFloat: parsing \"1e400\": value out of range".into())
        );
    }

    #[test]
    fn json_and_base64() {
        let mut s = String::new();
        let v = Value::map([
            ("key", Value::from("va<l>\"ue\"")),
            ("n", Value::Int(123)),
            ("f", Value::Float(1e21)),
            ("g", Value::Float(0.0000001)),
            ("h", Value::Float(1.5)),
            ("l", Value::from(vec![Value::Nil, Value::Bool(true)])),
            ("t", Value::Time(Time::zero())),
        ]);
        to_json(&mut s, &v).unwrap();
        assert_eq!(
            s,
            r#"{"f":1e+21,"g":1e-7,"h":1.5,"key":"va\u003cl\u003e\"ue\"","l":[null,true],"n":123,"t":"0001-01-01T00:00:00Z"}"#
        );
        assert!(to_json(&mut String::new(), &Value::Float(f64::NAN)).is_err());
        assert_eq!(base64_encode(b"test"), "dGVzdA==");
        assert_eq!(base64_encode(b"flush>>"), "Zmx1c2g-Pg==");
        assert_eq!(base64_decode("dGVzdA=="), Ok(b"test".to_vec()));
        assert_eq!(base64_decode("Zmx1c2g-Pg=="), Ok(b"flush>>".to_vec()));
        assert!(base64_decode("not-valid-base64!").is_err());
    }

    #[test]
    fn comparisons_follow_go() {
        let e = |a: Value, b: Value| match eq(&a, &[b]) {
            Ok(t) => t.to_string(),
            Err(FnErr::Call(m) | FnErr::Type(m)) => m,
        };
        assert_eq!(e(Value::Int(1), Value::Int(1)), "true");
        assert_eq!(e(Value::Int(1), Value::Float(1.0)), "incompatible types for comparison");
        assert_eq!(e(Value::Nil, Value::Int(1)), "false");
        assert_eq!(e(Value::Nil, Value::Nil), "true");
        assert_eq!(e(Value::Duration(5), Value::Int(5)), "true");
        assert_eq!(
            e(Value::from(vec![1i64]), Value::Int(1)),
            "non-comparable type [1]: []interface {}"
        );
        let l = |a: Value, b: Value| match lt(&a, &b) {
            Ok(t) => t.to_string(),
            Err(FnErr::Call(m) | FnErr::Type(m)) => m,
        };
        assert_eq!(l(Value::from("a"), Value::from("b")), "true");
        assert_eq!(l(Value::Float(2.0), Value::Float(1.5)), "false");
        assert_eq!(l(Value::Bool(true), Value::Bool(false)), "invalid type for comparison");
        assert_eq!(l(Value::Int(1), Value::from("b")), "incompatible types for comparison");
        assert_eq!(l(Value::Nil, Value::Int(1)), "invalid type for comparison");
    }
}
