//! A runner for Prometheus's `promqltest` script language.
//!
//! Commands: `load <interval>` (and `load_with_nhcb`), `clear`,
//! `eval instant [at <time>] <expr>`, `eval range from <t> to <t> step <d> <expr>`,
//! with `expect fail|warn|info|no_warn|no_info|ordered [msg:|regex:]`,
//! `expect string "..."` and `expect range vector from .. to .. step ..`.
//! Values use the series notation (`a+bxn`, `a-bxn`, `axn`, `_`, `_xn`,
//! `stale`). Every instant eval is also run with `@` pinned at several
//! evaluation times and as a range query around its time, as Prometheus's
//! runner does.
//!
//! Native histograms are not supported by the engine: loads of `{{...}}`
//! samples are left out and every eval that reads such a series or expects
//! one is skipped and counted. Annotations carry no source position, so an
//! expected annotation message is compared without its trailing `(line:col)`.

use andon_series::{Label, Labels, MemStorage, stale_nan};
use promql_parser::parser::{AtModifier, Expr};
use regex::Regex;

use crate::eval::{Options, QueryOutput, instant_query, range_query};
use crate::parse_duration;
use crate::value::{Value, almost_equal, format_float};

/// Counts and failure messages for one script.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// One line per failed eval: `line N: message`.
    pub failures: Vec<String>,
    /// One line per skipped eval: `line N: reason`.
    pub skips: Vec<String>,
}

impl Report {
    pub fn add(&mut self, other: &Report) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

/// Engine settings Prometheus's test engine uses.
pub fn test_options() -> Options {
    Options {
        max_samples: 10_000,
        timeout: std::time::Duration::from_secs(100),
        ..Options::default()
    }
}

#[derive(Clone, Debug)]
enum Expected {
    Value(f64),
    Missing,
}

#[derive(Clone, Debug)]
struct ExpectedSeries {
    labels: Labels,
    values: Vec<Expected>,
    pos: usize,
}

#[derive(Clone, Debug, Default)]
struct Expectations {
    fail: Option<Matcher>,
    warn: Option<Option<Matcher>>,
    info: Option<Option<Matcher>>,
    no_warn: bool,
    no_info: bool,
    ordered: bool,
    string: Option<String>,
    scalar: Option<f64>,
    /// `expect range vector from .. to .. step ..` (ms).
    range_vector: Option<(i64, i64, i64)>,
    series: Vec<ExpectedSeries>,
    native: bool,
}

#[derive(Clone, Debug)]
enum Matcher {
    Any,
    Msg(String),
    Regex(Regex),
}

impl Matcher {
    fn matches(&self, s: &str) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Msg(m) => s == m,
            Matcher::Regex(r) => r.is_match(s),
        }
    }
}

enum Mode {
    Instant(i64),
    Range(i64, i64, i64),
}

/// Runs one script.
pub fn run_script(text: &str, opts: &Options) -> Report {
    let lines: Vec<&str> = text.lines().collect();
    let mut storage = MemStorage::new();
    let mut native_series: Vec<Labels> = Vec::new();
    let mut report = Report::default();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        let lineno = i + 1;
        if line.is_empty() || line.starts_with('#') {
            i += 1;
            continue;
        }
        // Block: this line plus following indented (non-empty) lines.
        let mut j = i + 1;
        while j < lines.len() && !lines[j].trim().is_empty() && lines[j].starts_with([' ', '\t']) {
            j += 1;
        }
        let body: Vec<(usize, &str)> = (i + 1..j)
            .map(|k| (k + 1, lines[k].trim()))
            .filter(|(_, l)| !l.starts_with('#'))
            .collect();
        let words: Vec<&str> = line.split_whitespace().collect();
        let cmd = words.first().copied().unwrap_or("");
        let result = if cmd == "clear" {
            storage.clear();
            native_series.clear();
            Ok(())
        } else if cmd == "load" || cmd == "load_with_nhcb" {
            load(&mut storage, &mut native_series, cmd == "load_with_nhcb", line, &body)
        } else if cmd.starts_with("eval") {
            match run_eval(&storage, &native_series, line, &body, opts) {
                Outcome::Pass => report.passed += 1,
                Outcome::Fail(m) => {
                    report.failed += 1;
                    report.failures.push(format!("line {lineno}: {line}: {m}"));
                }
                Outcome::Skip(m) => {
                    report.skipped += 1;
                    report.skips.push(format!("line {lineno}: {m}"));
                }
            }
            Ok(())
        } else {
            Err(format!("unknown command {cmd:?}"))
        };
        if let Err(m) = result {
            report.failed += 1;
            report.failures.push(format!("line {lineno}: {m}"));
        }
        i = j;
    }
    report
}

fn load(
    storage: &mut MemStorage,
    native: &mut Vec<Labels>,
    nhcb: bool,
    line: &str,
    body: &[(usize, &str)],
) -> Result<(), String> {
    let interval = line.split_whitespace().nth(1).ok_or("load needs an interval")?;
    let step = parse_duration(interval).ok_or_else(|| format!("invalid interval {interval:?}"))?;
    for (no, l) in body {
        let (labels, rest) = parse_series(l).map_err(|e| format!("line {no}: {e}"))?;
        if rest.contains("{{") {
            native.push(labels);
            continue;
        }
        // The native histogram a classic one converts to: same labels
        // without `le`, named without `_bucket`.
        if nhcb && let Some(base) = labels.metric_name().and_then(|n| n.strip_suffix("_bucket")) {
            native.push(labels.without(&["le"]).with("__name__", base));
        }
        let values = parse_values(rest).map_err(|e| format!("line {no}: {e}"))?;
        for (k, v) in values.iter().enumerate() {
            if let Expected::Value(v) = v {
                storage.append(&labels, k as i64 * step, *v);
            }
        }
    }
    Ok(())
}

enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

fn run_eval(
    storage: &MemStorage,
    native: &[Labels],
    line: &str,
    body: &[(usize, &str)],
    opts: &Options,
) -> Outcome {
    let (mode, expr_s, mut exp) = match parse_eval_line(line) {
        Ok(x) => x,
        Err(e) => return Outcome::Fail(e),
    };
    if let Err(e) = parse_expectations(body, &mut exp) {
        return Outcome::Fail(e);
    }
    if exp.native {
        return Outcome::Skip("expects native histogram samples".into());
    }
    let expr = match crate::parse(expr_s) {
        Ok(e) => e,
        Err(e) => {
            if exp.fail.as_ref().is_some_and(|m| m.matches(&e.message)) {
                return Outcome::Pass;
            }
            return Outcome::Fail(format!("parse error: {}", e.message));
        }
    };
    if reads_native(&expr, native) {
        return Outcome::Skip("reads native histogram series".into());
    }
    match mode {
        Mode::Range(start, end, step) => {
            let res = range_query(storage, &expr, start, end, step, opts);
            match check(res, &exp, Some((start, step, end))) {
                Ok(()) => Outcome::Pass,
                Err(e) => Outcome::Fail(e),
            }
        }
        Mode::Instant(t) => {
            let res = instant_query(storage, &expr, t, opts);
            let failed = res.is_err();
            if let Err(e) = check(res.clone(), &exp, None) {
                return Outcome::Fail(e);
            }
            if failed {
                return Outcome::Pass;
            }
            // Re-run with every selector pinned by `@` at several times.
            if let Some(pinned) = pin_at(&expr, t) {
                let times: Vec<i64> =
                    if t == 0 { vec![-1000, 0, 1000] } else { vec![-10 * t, 0, t / 5, t, 10 * t] };
                for et in times {
                    let r = instant_query(storage, &pinned, et, opts);
                    if let Err(e) = check(r, &exp, None) {
                        return Outcome::Fail(format!("with @ {t} evaluated at {et}: {e}"));
                    }
                }
            }
            // Range mode must agree at the middle step.
            let value_kind = res.as_ref().map(|o| o.value.type_name()).unwrap_or("");
            if exp.ordered || matches!(value_kind, "string" | "matrix") || uses_start_end(expr_s) {
                return Outcome::Pass;
            }
            let r = range_query(storage, &expr, t - 60_000, t + 60_000, 60_000, opts);
            let out = match r {
                Ok(o) => o,
                Err(e) => return Outcome::Fail(format!("range mode: {}", e.message)),
            };
            let Value::Matrix(m) = out.value else {
                return Outcome::Fail("range mode: not a matrix".into());
            };
            if m.windows(2).any(|w| w[0].labels > w[1].labels) {
                return Outcome::Fail("range mode: result not sorted by labels".into());
            }
            let mid: Vec<crate::Sample> = m
                .iter()
                .filter_map(|s| {
                    s.points.iter().find(|p| p.t == t).map(|p| crate::Sample {
                        labels: s.labels.clone(),
                        t,
                        v: p.v,
                        drop_name: false,
                    })
                })
                .collect();
            let value = if value_kind == "scalar" {
                Value::Scalar(mid.first().map(|s| s.v).unwrap_or(f64::NAN))
            } else {
                Value::Vector(mid)
            };
            let relaxed = Expectations {
                warn: None,
                info: None,
                no_warn: false,
                no_info: false,
                ..exp.clone()
            };
            match check(Ok(QueryOutput { value, warnings: vec![], infos: vec![] }), &relaxed, None)
            {
                Ok(()) => Outcome::Pass,
                Err(e) => Outcome::Fail(format!("range mode: {e}")),
            }
        }
    }
}

fn uses_start_end(expr: &str) -> bool {
    ["start()", "end()", "range()", "step()"].iter().any(|f| expr.contains(f))
}

/// Functions whose result depends on the evaluation time even when their
/// arguments are pinned with `@`.
const AT_UNSAFE: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

/// A copy of `expr` with `@ t` on every selector and subquery that has no
/// `@` and is not inside a subquery that has one; `None` when the
/// expression calls a time-dependent function.
fn pin_at(expr: &Expr, t: i64) -> Option<Expr> {
    fn unsafe_call(e: &Expr) -> bool {
        match e {
            Expr::Call(c) => {
                AT_UNSAFE.contains(&c.func.name) || c.args.args.iter().any(|a| unsafe_call(a))
            }
            Expr::Aggregate(a) => {
                unsafe_call(&a.expr) || a.param.as_deref().is_some_and(unsafe_call)
            }
            Expr::Unary(u) => unsafe_call(&u.expr),
            Expr::Binary(b) => unsafe_call(&b.lhs) || unsafe_call(&b.rhs),
            Expr::Paren(p) => unsafe_call(&p.expr),
            Expr::Subquery(s) => unsafe_call(&s.expr),
            _ => false,
        }
    }
    fn at(t: i64) -> Option<AtModifier> {
        AtModifier::try_from(t as f64 / 1000.0).ok()
    }
    fn pin(e: &mut Expr, t: i64) {
        match e {
            Expr::VectorSelector(vs) => {
                if vs.at.is_none() {
                    vs.at = at(t);
                }
            }
            Expr::MatrixSelector(m) => {
                if m.vs.at.is_none() {
                    m.vs.at = at(t);
                }
            }
            Expr::Subquery(s) => {
                // Selectors inside keep their own timing.
                if s.at.is_none() {
                    s.at = at(t);
                }
            }
            Expr::Call(c) => c.args.args.iter_mut().for_each(|a| pin(a, t)),
            Expr::Aggregate(a) => {
                pin(&mut a.expr, t);
                if let Some(p) = a.param.as_deref_mut() {
                    pin(p, t);
                }
            }
            Expr::Unary(u) => pin(&mut u.expr, t),
            Expr::Binary(b) => {
                pin(&mut b.lhs, t);
                pin(&mut b.rhs, t);
            }
            Expr::Paren(p) => pin(&mut p.expr, t),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
    }
    if unsafe_call(expr) {
        return None;
    }
    let mut e = expr.clone();
    pin(&mut e, t);
    Some(e)
}

fn reads_native(e: &Expr, native: &[Labels]) -> bool {
    if native.is_empty() {
        return false;
    }
    let sel_reads = |vs: &promql_parser::parser::VectorSelector| -> bool {
        native.iter().any(|l| {
            vs.name.as_deref().is_none_or(|n| l.metric_name() == Some(n))
                && vs.matchers.matchers.iter().all(|m| m.is_match(l.value(&m.name)))
        })
    };
    match e {
        Expr::VectorSelector(vs) => sel_reads(vs),
        Expr::MatrixSelector(m) => sel_reads(&m.vs),
        Expr::Call(c) => c.args.args.iter().any(|a| reads_native(a, native)),
        Expr::Aggregate(a) => {
            reads_native(&a.expr, native)
                || a.param.as_deref().is_some_and(|p| reads_native(p, native))
        }
        Expr::Unary(u) => reads_native(&u.expr, native),
        Expr::Binary(b) => reads_native(&b.lhs, native) || reads_native(&b.rhs, native),
        Expr::Paren(p) => reads_native(&p.expr, native),
        Expr::Subquery(s) => reads_native(&s.expr, native),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => false,
    }
}

fn parse_eval_line(line: &str) -> Result<(Mode, &str, Expectations), String> {
    let mut exp = Expectations::default();
    let (head, rest) = line.split_once(char::is_whitespace).ok_or("eval needs a mode")?;
    match head {
        "eval" => {}
        "eval_fail" => exp.fail = Some(Matcher::Any),
        "eval_warn" => exp.warn = Some(None),
        "eval_info" => exp.info = Some(None),
        "eval_ordered" => exp.ordered = true,
        other => return Err(format!("unknown command {other:?}")),
    }
    let rest = rest.trim_start();
    if let Some(r) = rest.strip_prefix("instant") {
        let r = r.trim_start();
        if let Some(r) = r.strip_prefix("at ") {
            let r = r.trim_start();
            let (ts, expr) =
                r.split_once(char::is_whitespace).ok_or("eval instant needs an expression")?;
            let t = parse_time(ts).ok_or_else(|| format!("invalid time {ts:?}"))?;
            Ok((Mode::Instant(t), expr.trim(), exp))
        } else {
            Ok((Mode::Instant(0), r.trim(), exp))
        }
    } else if let Some(r) = rest.strip_prefix("range") {
        let w: Vec<&str> = r.split_whitespace().collect();
        if w.len() < 7 || w[0] != "from" || w[2] != "to" || w[4] != "step" {
            return Err("expected: eval range from <t> to <t> step <d> <expr>".into());
        }
        let start = parse_time(w[1]).ok_or("invalid start")?;
        let end = parse_time(w[3]).ok_or("invalid end")?;
        let step = parse_duration(w[5]).ok_or("invalid step")?;
        // The expression is everything after the step word.
        let pos = r.find(w[5]).map(|p| p + w[5].len()).unwrap_or(0);
        let pos = r[pos..].find(w[6]).map(|p| p + pos).unwrap_or(pos);
        Ok((Mode::Range(start, end, step), r[pos..].trim(), exp))
    } else {
        Err("eval needs `instant` or `range`".into())
    }
}

fn parse_matcher_suffix(s: &str) -> Result<Matcher, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Matcher::Any);
    }
    if let Some(m) = s.strip_prefix("msg:") {
        return Ok(Matcher::Msg(strip_position(m.trim()).to_string()));
    }
    if let Some(r) = s.strip_prefix("regex:") {
        return Regex::new(r.trim()).map(Matcher::Regex).map_err(|e| e.to_string());
    }
    Err(format!("invalid expect suffix {s:?}"))
}

/// `message (1:5)` → `message`.
fn strip_position(m: &str) -> &str {
    if let Some(open) = m.rfind(" (")
        && m.ends_with(')')
    {
        let inner = &m[open + 2..m.len() - 1];
        if inner.split(':').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())) {
            return &m[..open];
        }
    }
    m
}

fn parse_expectations(body: &[(usize, &str)], exp: &mut Expectations) -> Result<(), String> {
    let mut pos = 0;
    for (no, l) in body {
        if let Some(r) = l.strip_prefix("expect ") {
            let r = r.trim_start();
            let (kw, rest) = r.split_once(char::is_whitespace).unwrap_or((r, ""));
            match kw {
                "fail" => exp.fail = Some(parse_matcher_suffix(rest)?),
                "warn" => exp.warn = Some(Some(parse_matcher_suffix(rest)?)),
                "info" => exp.info = Some(Some(parse_matcher_suffix(rest)?)),
                "no_warn" => exp.no_warn = true,
                "no_info" => exp.no_info = true,
                "ordered" => exp.ordered = true,
                "string" => {
                    exp.string =
                        Some(unquote(rest.trim()).ok_or_else(|| format!("line {no}: bad string"))?)
                }
                "range" => {
                    let w: Vec<&str> = rest.split_whitespace().collect();
                    if w.len() != 7
                        || w[0] != "vector"
                        || w[1] != "from"
                        || w[3] != "to"
                        || w[5] != "step"
                    {
                        return Err(format!(
                            "line {no}: expected `expect range vector from <t> to <t> step <d>`"
                        ));
                    }
                    let s = parse_time(w[2]).ok_or("bad start")?;
                    let e = parse_time(w[4]).ok_or("bad end")?;
                    let st = parse_duration(w[6]).ok_or("bad step")?;
                    exp.range_vector = Some((s, e, st));
                }
                other => return Err(format!("line {no}: unknown expectation {other:?}")),
            }
            continue;
        }
        if l.contains("{{") {
            exp.native = true;
            continue;
        }
        if let Some(v) = parse_number(l) {
            exp.scalar = Some(v);
            continue;
        }
        let (labels, rest) = parse_series(l).map_err(|e| format!("line {no}: {e}"))?;
        let values = parse_values(rest).map_err(|e| format!("line {no}: {e}"))?;
        pos += 1;
        exp.series.push(ExpectedSeries { labels, values, pos });
    }
    Ok(())
}

fn check(
    res: Result<QueryOutput, crate::QueryError>,
    exp: &Expectations,
    range: Option<(i64, i64, i64)>,
) -> Result<(), String> {
    let out = match res {
        Err(e) => {
            return match &exp.fail {
                Some(m) if m.matches(&e.message) => Ok(()),
                Some(_) => Err(format!("unexpected error message {:?}", e.message)),
                None => Err(format!("error evaluating query: {}", e.message)),
            };
        }
        Ok(o) => o,
    };
    if exp.fail.is_some() {
        return Err("expected an error but got none".into());
    }
    check_annotations("warn", &out.warnings, &exp.warn, exp.no_warn)?;
    check_annotations("info", &out.infos, &exp.info, exp.no_info)?;
    match out.value {
        Value::String(s) => match &exp.string {
            Some(e) if *e == s => Ok(()),
            Some(e) => Err(format!("expected string {e:?}, got {s:?}")),
            None => Err(format!("unexpected string result {s:?}")),
        },
        Value::Scalar(v) => match exp.scalar {
            Some(e) if almost_equal(v, e, 1e-6) => Ok(()),
            Some(e) => {
                Err(format!("expected scalar {} but got {}", format_float(e), format_float(v)))
            }
            None => {
                Err(format!("expected vector or matrix result, but got scalar {}", format_float(v)))
            }
        },
        Value::Vector(vec) => {
            if exp.scalar.is_some() {
                return Err("expected scalar result, but got vector".into());
            }
            let mut seen = vec![false; exp.series.len()];
            for (pos, s) in vec.iter().enumerate() {
                let Some(k) = exp.series.iter().position(|e| e.labels == s.labels) else {
                    return Err(format!(
                        "unexpected metric {} in result, has value {}",
                        s.labels,
                        format_float(s.v)
                    ));
                };
                let e = &exp.series[k];
                if exp.ordered && e.pos != pos + 1 {
                    return Err(format!(
                        "expected metric {} at position {} but was at {}",
                        s.labels,
                        e.pos,
                        pos + 1
                    ));
                }
                match e.values.first() {
                    Some(Expected::Value(v)) if almost_equal(s.v, *v, 1e-6) => {}
                    Some(Expected::Value(v)) => {
                        return Err(format!(
                            "expected {} for {} but got {}",
                            format_float(*v),
                            s.labels,
                            format_float(s.v)
                        ));
                    }
                    _ => return Err(format!("no expected value for {}", s.labels)),
                }
                seen[k] = true;
            }
            if let Some(k) = seen.iter().position(|s| !s) {
                return Err(format!("expected metric {} not found", exp.series[k].labels));
            }
            Ok(())
        }
        Value::Matrix(m) => {
            if exp.ordered {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            if exp.scalar.is_some() {
                return Err("expected scalar result, but got matrix".into());
            }
            let (start, step, end) = match (range, exp.range_vector) {
                (Some(r), _) => r,
                (None, Some((s, e, st))) => (s, st, e),
                (None, None) => return Err("unexpected range vector result".into()),
            };
            let mut seen = vec![false; exp.series.len()];
            for s in &m {
                let Some(k) = exp.series.iter().position(|e| e.labels == s.labels) else {
                    return Err(format!("unexpected metric {} in result", s.labels));
                };
                seen[k] = true;
                let mut want = Vec::new();
                for (i, e) in exp.series[k].values.iter().enumerate() {
                    let t = start + i as i64 * step;
                    if t > end {
                        return Err(format!(
                            "expected more points for {} than the time range holds",
                            s.labels
                        ));
                    }
                    if let Expected::Value(v) = e {
                        want.push((t, *v));
                    }
                }
                if want.len() != s.points.len() {
                    return Err(format!(
                        "expected {} points for {}, got {}: {:?}",
                        want.len(),
                        s.labels,
                        s.points.len(),
                        s.points.iter().map(|p| (p.t, p.v)).collect::<Vec<_>>()
                    ));
                }
                for ((t, v), p) in want.iter().zip(&s.points) {
                    if *t != p.t || !almost_equal(p.v, *v, 1e-6) {
                        return Err(format!(
                            "for {} expected {} at {} but got {} at {}",
                            s.labels,
                            format_float(*v),
                            t,
                            format_float(p.v),
                            p.t
                        ));
                    }
                }
            }
            if let Some(k) = seen.iter().position(|s| !s) {
                return Err(format!("expected metric {} not found", exp.series[k].labels));
            }
            Ok(())
        }
    }
}

fn check_annotations(
    kind: &str,
    got: &[String],
    want: &Option<Option<Matcher>>,
    none: bool,
) -> Result<(), String> {
    if none && !got.is_empty() {
        return Err(format!("unexpected {kind} annotations: {got:?}"));
    }
    if let Some(m) = want {
        if got.is_empty() {
            return Err(format!("expected {kind} annotations but got none"));
        }
        if let Some(m) = m
            && !got.iter().any(|g| m.matches(g))
        {
            return Err(format!("no {kind} annotation matched; got {got:?}"));
        }
    }
    Ok(())
}

/// Parses one line of series notation, `name{a="b"} 1+1x3 _ stale`, into
/// its labels and values (`None` for a missing sample `_`). Shared with
/// `promtool test rules`-style input series.
pub fn parse_series_line(line: &str) -> Result<(Labels, Vec<Option<f64>>), String> {
    let (labels, rest) = parse_series(line)?;
    let values = parse_values(rest)?
        .into_iter()
        .map(|e| match e {
            Expected::Value(v) => Some(v),
            Expected::Missing => None,
        })
        .collect();
    Ok((labels, values))
}

/// Parses a metric written as `name{a="b"}`, `{a="b"}` or `name` with
/// nothing after it.
pub fn parse_metric(s: &str) -> Result<Labels, String> {
    let (labels, rest) = parse_series(s)?;
    if !rest.trim().is_empty() {
        return Err(format!("unexpected {:?} after the metric", rest.trim()));
    }
    Ok(labels)
}

/// A time in the test language: a duration since the epoch.
fn parse_time(s: &str) -> Option<i64> {
    parse_duration(s)
}

fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    match lower.as_str() {
        "nan" => return Some(f64::NAN),
        "inf" | "+inf" => return Some(f64::INFINITY),
        "-inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    if !t.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == '.') {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Expands the value notation: `1 2 _ stale 1+2x3 5x2 _x4 -2-1x2`.
fn parse_values(s: &str) -> Result<Vec<Expected>, String> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        if tok == "_" {
            out.push(Expected::Missing);
            continue;
        }
        if let Some(n) = tok.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("bad repetition {tok:?}"))?;
            out.extend((0..n).map(|_| Expected::Missing));
            continue;
        }
        if tok == "stale" {
            out.push(Expected::Value(stale_nan()));
            continue;
        }
        if let Some(v) = parse_number(tok) {
            out.push(Expected::Value(v));
            continue;
        }
        let (head, times) = tok.rsplit_once('x').ok_or_else(|| format!("bad value {tok:?}"))?;
        let times: usize = times.parse().map_err(|_| format!("bad value {tok:?}"))?;
        // Split head into start and signed increment.
        let hb = head.as_bytes();
        let mut split = None;
        for k in 1..hb.len() {
            if (hb[k] == b'+' || hb[k] == b'-') && !matches!(hb[k - 1], b'e' | b'E') {
                split = Some(k);
            }
        }
        let (start, inc) = match split {
            Some(k) => {
                let a = parse_number(&head[..k]).ok_or_else(|| format!("bad value {tok:?}"))?;
                let b = parse_number(&head[k + 1..]).ok_or_else(|| format!("bad value {tok:?}"))?;
                (a, if hb[k] == b'-' { -b } else { b })
            }
            None => (parse_number(head).ok_or_else(|| format!("bad value {tok:?}"))?, 0.0),
        };
        if head == "stale" {
            return Err("stale cannot be repeated".into());
        }
        let mut v = start;
        for _ in 0..=times {
            out.push(Expected::Value(v));
            v += inc;
        }
    }
    Ok(out)
}

fn unquote(s: &str) -> Option<String> {
    let q = s.chars().next()?;
    if !matches!(q, '"' | '\'' | '`') || s.len() < 2 || !s.ends_with(q) {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    if q == '`' {
        return Some(inner.to_string());
    }
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Parses `name{a="b", c='d'}` or `{__name__="x"}` or `{"utf8.name"}` at the
/// start of `s`; returns the labels and the rest of the line.
fn parse_series(s: &str) -> Result<(Labels, &str), String> {
    let s = s.trim_start();
    let name_end =
        s.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(s.len());
    let mut labels: Vec<Label> = Vec::new();
    if name_end > 0 {
        labels.push(Label::new("__name__", &s[..name_end]));
    }
    let mut rest = &s[name_end..];
    if let Some(r) = rest.strip_prefix('{') {
        let mut r = r;
        loop {
            r = r.trim_start();
            if let Some(x) = r.strip_prefix('}') {
                rest = x;
                break;
            }
            // Label name: identifier or quoted string.
            let (lname, after) = if r.starts_with(['"', '\'']) {
                let (q, after) = take_quoted(r)?;
                (q, after)
            } else {
                let e = r.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(r.len());
                if e == 0 {
                    let col = s.len() - r.len() + 1;
                    return Err(match r.chars().next() {
                        None => format!("1:{col}: unexpected end of input inside braces"),
                        Some(c) => format!("1:{col}: unexpected character inside braces: {c:?}"),
                    });
                }
                (r[..e].to_string(), &r[e..])
            };
            let after = after.trim_start();
            if let Some(a) = after.strip_prefix('=') {
                let (v, a2) = take_quoted(a.trim_start())?;
                labels.push(Label::new(lname, v));
                r = a2;
            } else {
                // A bare quoted name is the metric name.
                labels.push(Label::new("__name__", lname));
                r = after;
            }
            r = r.trim_start();
            if let Some(x) = r.strip_prefix(',') {
                r = x;
            }
        }
    }
    Ok((Labels::new(labels), rest))
}

fn take_quoted(s: &str) -> Result<(String, &str), String> {
    let q = s.chars().next().ok_or("expected a quoted string")?;
    if !matches!(q, '"' | '\'' | '`') {
        return Err(format!("expected a quoted string at {s:?}"));
    }
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        if b[i] == b'\\' && q != '`' {
            i += 2;
            continue;
        }
        if b[i] as char == q {
            let lit = &s[..=i];
            return Ok((unquote(lit).ok_or("bad string")?, &s[i + 1..]));
        }
        i += 1;
    }
    Err(format!("unterminated string {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(s: &str) -> Vec<String> {
        parse_values(s)
            .unwrap()
            .into_iter()
            .map(|e| match e {
                Expected::Missing => "_".to_string(),
                Expected::Value(v) if andon_series::is_stale_nan(v) => "stale".to_string(),
                Expected::Value(v) => format_float(v),
            })
            .collect()
    }

    #[test]
    fn value_notation() {
        assert_eq!(vals("-2+4x3"), ["-2", "2", "6", "10"]);
        assert_eq!(vals("1 _x3 stale"), ["1", "_", "_", "_", "stale"]);
        assert_eq!(vals("5x2"), ["5", "5", "5"]);
        assert_eq!(vals("10-1x2 Inf -Inf NaN"), ["10", "9", "8", "+Inf", "-Inf", "NaN"]);
        assert_eq!(vals("1e3+1e3x1"), ["1000", "2000"]);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s"), Some(90_000));
        assert_eq!(parse_duration("10s53ms"), Some(10_053));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("5x"), None);
    }

    #[test]
    fn series_syntax() {
        let (l, rest) = parse_series(r#"http_requests{job="api", instance='0'} 1 2"#).unwrap();
        assert_eq!(l.to_string(), r#"{__name__="http_requests", instance="0", job="api"}"#);
        assert_eq!(rest.trim(), "1 2");
        let (l, _) = parse_series(r#"{"my.metric", a="b"} 1"#).unwrap();
        assert_eq!(l.metric_name(), Some("my.metric"));
        let (l, _) = parse_series("{} 3").unwrap();
        assert!(l.is_empty());
    }

    #[test]
    fn positions_are_stripped_from_expected_messages() {
        assert_eq!(strip_position("PromQL info: x \"m\" (1:6)"), "PromQL info: x \"m\"");
        assert_eq!(strip_position("a (b)"), "a (b)");
    }

    #[test]
    fn a_script_runs_and_counts() {
        let script = "load 5m\n  m{a=\"1\"} 0+10x10\n\neval instant at 50m m\n  m{a=\"1\"} 100\n\neval instant at 50m m\n  m{a=\"1\"} 7\n";
        let r = run_script(script, &test_options());
        assert_eq!((r.passed, r.failed, r.skipped), (1, 1, 0), "{r:?}");
        assert!(r.failures[0].contains("expected 7"), "{:?}", r.failures);
    }
}
