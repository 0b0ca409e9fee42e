//! PromQL functions: math, time, label manipulation, range-vector functions
//! with Prometheus's extrapolation, and `histogram_quantile` over classic
//! buckets.

use std::collections::HashMap;

use andon_series::{Labels, METRIC_NAME, Sample as Point};
use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{Call, Expr};
use regex::Regex;

use andon_core::time::{civil_from_days, days_from_civil};

use crate::QueryError;
use crate::aggregate::{Mean, kahan_inc, quantile, valid_label_name};
use crate::eval::{Evaluator, check_unique};
use crate::value::{Matrix, Sample, Value, Vector, almost_equal};

/// Go's `math.Max`: NaN wins, then +Inf.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

/// Go's `math.Min`: NaN wins, then -Inf.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) }
}

fn arg(c: &Call, i: usize) -> Result<&Expr, QueryError> {
    c.args
        .args
        .get(i)
        .map(|b| &**b)
        .ok_or_else(|| QueryError::exec(format!("{}: missing argument {}", c.func.name, i + 1)))
}

fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        other => other,
    }
}

fn string_arg(ev: &Evaluator<'_>, c: &Call, i: usize, t: i64) -> Result<String, QueryError> {
    match ev.eval(arg(c, i)?, t)? {
        Value::String(s) => Ok(s),
        other => Err(QueryError::exec(format!(
            "{}: expected string, got {}",
            c.func.name,
            other.type_name()
        ))),
    }
}

/// Applies `f` to every sample's value and drops the metric name.
fn map_values(vec: Vector, f: impl Fn(f64) -> f64) -> Value {
    Value::Vector(
        vec.into_iter()
            .map(|mut s| {
                s.v = f(s.v);
                s.drop_name = true;
                s
            })
            .collect(),
    )
}

pub(crate) fn eval_call(ev: &Evaluator<'_>, c: &Call, t: i64) -> Result<Value, QueryError> {
    let name = c.func.name;
    match name {
        "time" => return Ok(Value::Scalar(t as f64 / 1000.0)),
        "pi" => return Ok(Value::Scalar(std::f64::consts::PI)),
        "vector" => {
            let v = ev.eval_scalar(arg(c, 0)?, t)?;
            return Ok(Value::Vector(vec![Sample {
                labels: Labels::empty(),
                t,
                v,
                drop_name: false,
            }]));
        }
        "scalar" => {
            let vec = ev.eval_vector(arg(c, 0)?, t)?;
            return Ok(Value::Scalar(if vec.len() == 1 { vec[0].v } else { f64::NAN }));
        }
        "timestamp" => {
            let a = unparen(arg(c, 0)?);
            let vec = match a {
                Expr::VectorSelector(vs) => ev
                    .vector_points(vs, t)?
                    .into_iter()
                    .map(|(labels, p)| Sample {
                        labels,
                        t,
                        v: p.t as f64 / 1000.0,
                        drop_name: true,
                    })
                    .collect(),
                other => ev
                    .eval_vector(other, t)?
                    .into_iter()
                    .map(|mut s| {
                        s.v = s.t as f64 / 1000.0;
                        s.drop_name = true;
                        s
                    })
                    .collect(),
            };
            return Ok(Value::Vector(vec));
        }
        "absent" => {
            let a = arg(c, 0)?;
            let vec = ev.eval_vector(a, t)?;
            if !vec.is_empty() {
                return Ok(Value::Vector(Vec::new()));
            }
            return Ok(Value::Vector(vec![Sample {
                labels: absent_labels(a),
                t,
                v: 1.0,
                drop_name: false,
            }]));
        }
        "absent_over_time" => {
            let a = arg(c, 0)?;
            let (m, _, _) = range_arg(ev, a, t)?;
            if !m.is_empty() {
                return Ok(Value::Vector(Vec::new()));
            }
            return Ok(Value::Vector(vec![Sample {
                labels: absent_labels(a),
                t,
                v: 1.0,
                drop_name: false,
            }]));
        }
        "label_replace" => return label_replace(ev, c, t),
        "label_join" => return label_join(ev, c, t),
        "sort" | "sort_desc" => {
            let mut vec = ev.eval_vector(arg(c, 0)?, t)?;
            let desc = name == "sort_desc";
            vec.sort_by(|a, b| crate::value::by_value_nan_last(a, b, desc));
            return Ok(Value::Vector(vec));
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let mut vec = ev.eval_vector(arg(c, 0)?, t)?;
            let mut names = Vec::new();
            for i in 1..c.args.args.len() {
                names.push(string_arg(ev, c, i, t)?);
            }
            vec.sort_by(|a, b| a.labels.cmp(&b.labels));
            vec.sort_by(|a, b| {
                for n in &names {
                    let (x, y) = (a.labels.value(n), b.labels.value(n));
                    if x != y {
                        return natural_cmp(x, y);
                    }
                }
                std::cmp::Ordering::Equal
            });
            if name == "sort_by_label_desc" {
                vec.reverse();
            }
            return Ok(Value::Vector(vec));
        }
        "histogram_quantile" => return histogram_quantile(ev, c, t),
        "histogram_fraction" => return histogram_fraction(ev, c, t),
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => {
            // Native histograms only: float samples give no result.
            let i = c.args.args.len() - 1;
            let _ = ev.eval_vector(arg(c, i)?, t)?;
            return Ok(Value::Vector(Vec::new()));
        }
        _ => {}
    }

    if let Some(f) = simple_math(name) {
        let vec = ev.eval_vector(arg(c, 0)?, t)?;
        return Ok(map_values(vec, f));
    }
    match name {
        "round" => {
            let vec = ev.eval_vector(arg(c, 0)?, t)?;
            let to = if c.args.args.len() > 1 { ev.eval_scalar(arg(c, 1)?, t)? } else { 1.0 };
            let inv = 1.0 / to;
            return Ok(map_values(vec, move |v| (v * inv + 0.5).floor() / inv));
        }
        "clamp" => {
            let vec = ev.eval_vector(arg(c, 0)?, t)?;
            let lo = ev.eval_scalar(arg(c, 1)?, t)?;
            let hi = ev.eval_scalar(arg(c, 2)?, t)?;
            if hi < lo {
                return Ok(Value::Vector(Vec::new()));
            }
            return Ok(map_values(vec, move |v| go_max(lo, go_min(hi, v))));
        }
        "clamp_min" => {
            let vec = ev.eval_vector(arg(c, 0)?, t)?;
            let lo = ev.eval_scalar(arg(c, 1)?, t)?;
            return Ok(map_values(vec, move |v| go_max(lo, v)));
        }
        "clamp_max" => {
            let vec = ev.eval_vector(arg(c, 0)?, t)?;
            let hi = ev.eval_scalar(arg(c, 1)?, t)?;
            return Ok(map_values(vec, move |v| go_min(hi, v)));
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute"
        | "month" | "year" => {
            let vec = if c.args.args.is_empty() {
                vec![Sample { labels: Labels::empty(), t, v: t as f64 / 1000.0, drop_name: false }]
            } else {
                ev.eval_vector(arg(c, 0)?, t)?
            };
            return Ok(map_values(vec, move |v| date_part(name, v)));
        }
        _ => {}
    }

    // Range-vector functions.
    let matrix_index = c
        .args
        .args
        .iter()
        .position(|a| matches!(unparen(a), Expr::MatrixSelector(_) | Expr::Subquery(_)));
    let Some(mi) = matrix_index else {
        return Err(QueryError::exec(format!("function {name} is not supported")));
    };
    let mut scalars = Vec::new();
    for (i, a) in c.args.args.iter().enumerate() {
        if i != mi {
            scalars.push(ev.eval_scalar(a, t)?);
        }
    }
    let keep_name = matches!(name, "last_over_time" | "first_over_time");
    let mut out = Vec::new();
    if let Expr::MatrixSelector(ms) = unparen(&c.args.args[mi]) {
        // In a range query with constant parameters, every step at once.
        let constant = c
            .args
            .args
            .iter()
            .enumerate()
            .all(|(i, a)| i == mi || matches!(unparen(a), Expr::NumberLiteral(_)));
        if constant
            && let Some((batch, k)) =
                ev.range_batch(c as *const Call as usize, ms, t, |points, ts, reft, range| {
                    range_fn(name, points, ts, reft, range, &scalars)
                })?
        {
            let mut first: Option<&str> = None;
            for (labels, v) in batch.step(k) {
                if first.is_none() {
                    first = labels.metric_name();
                }
                out.push(Sample { labels: labels.clone(), t, v, drop_name: !keep_name });
            }
            range_annotations(ev, name, &scalars, first)?;
            return Ok(Value::Vector(out));
        }
        // Straight from the stored samples, no copies.
        let mut first_name: Option<String> = None;
        ev.matrix_slices(ms, t, |labels, points| {
            if first_name.is_none() {
                first_name = Some(labels.metric_name().unwrap_or("").to_string());
            }
            let reft = ev.at_time(&ms.vs.at, t) - crate::eval::offset_ms(&ms.vs.offset);
            if let Some(v) = range_fn(name, points, t, reft, crate::eval::ms(&ms.range), &scalars)?
            {
                out.push(Sample { labels: labels.clone(), t, v, drop_name: !keep_name });
            }
            Ok(())
        })?;
        range_annotations(ev, name, &scalars, first_name.as_deref())?;
        return Ok(Value::Vector(out));
    }
    let (m, reft, range) = range_arg(ev, &c.args.args[mi], t)?;
    range_annotations(ev, name, &scalars, m.first().and_then(|s| s.labels.metric_name()))?;
    out.reserve(m.len());
    for s in m {
        let v = match range_fn(name, &s.points, t, reft, range, &scalars)? {
            Some(v) => v,
            None => continue,
        };
        out.push(Sample {
            labels: s.labels,
            t,
            v,
            drop_name: if keep_name { s.drop_name } else { true },
        });
    }
    Ok(Value::Vector(out))
}

/// The matrix a range function reads, with the range's end and length.
fn range_arg(ev: &Evaluator<'_>, e: &Expr, t: i64) -> Result<(Matrix, i64, i64), QueryError> {
    match e {
        Expr::MatrixSelector(m) => ev.matrix_at(m, t),
        Expr::Subquery(sq) => ev.subquery_at(sq, t),
        Expr::Paren(p) => range_arg(ev, &p.expr, t),
        _ => Err(QueryError::exec("expected a range vector")),
    }
}

fn simple_math(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "sgn" => |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

fn range_fn(
    name: &str,
    p: &[Point],
    t: i64,
    reft: i64,
    range: i64,
    scalars: &[f64],
) -> Result<Option<f64>, QueryError> {
    let n = p.len();
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(match name {
        "rate" => return Ok(extrapolated_rate(p, reft, range, true, true)),
        "increase" => return Ok(extrapolated_rate(p, reft, range, true, false)),
        "delta" => return Ok(extrapolated_rate(p, reft, range, false, false)),
        "irate" | "idelta" => {
            if n < 2 {
                return Ok(None);
            }
            let (last, prev) = (p[n - 1], p[n - 2]);
            let is_rate = name == "irate";
            let mut v = if is_rate && last.v < prev.v { last.v } else { last.v - prev.v };
            let dt = last.t - prev.t;
            if dt == 0 {
                return Ok(None);
            }
            if is_rate {
                v /= dt as f64 / 1000.0;
            }
            v
        }
        "deriv" => {
            if n < 2 {
                return Ok(None);
            }
            linear_regression(p, p[0].t).0
        }
        "predict_linear" => {
            if n < 2 {
                return Ok(None);
            }
            let d = scalars.first().copied().unwrap_or(0.0);
            // The intercept is at the evaluation time, also under `offset`/`@`.
            let (slope, intercept) = linear_regression(p, t);
            slope * d + intercept
        }
        "changes" => {
            let mut c = 0.0;
            for w in p.windows(2) {
                let (a, b) = (w[0].v, w[1].v);
                if !(a == b || (a.is_nan() && b.is_nan())) {
                    c += 1.0;
                }
            }
            c
        }
        "resets" => p.windows(2).filter(|w| w[1].v < w[0].v).count() as f64,
        "avg_over_time" => {
            let mut m = Mean::default();
            for x in p {
                m.add(x.v);
            }
            m.value()
        }
        "sum_over_time" => {
            let (mut s, mut c) = (0.0, 0.0);
            for x in p {
                (s, c) = kahan_inc(x.v, s, c);
            }
            if s.is_infinite() { s } else { s + c }
        }
        "count_over_time" => n as f64,
        "present_over_time" => 1.0,
        "last_over_time" => p[n - 1].v,
        "first_over_time" => p[0].v,
        "ts_of_last_over_time" => p[n - 1].t as f64 / 1000.0,
        "ts_of_first_over_time" => p[0].t as f64 / 1000.0,
        "max_over_time" | "ts_of_max_over_time" => {
            let mut best = p[0];
            for x in &p[1..] {
                if x.v > best.v
                    || best.v.is_nan()
                    || (name == "ts_of_max_over_time" && x.v == best.v)
                {
                    best = *x;
                }
            }
            if name == "max_over_time" { best.v } else { best.t as f64 / 1000.0 }
        }
        "min_over_time" | "ts_of_min_over_time" => {
            let mut best = p[0];
            for x in &p[1..] {
                if x.v < best.v
                    || best.v.is_nan()
                    || (name == "ts_of_min_over_time" && x.v == best.v)
                {
                    best = *x;
                }
            }
            if name == "min_over_time" { best.v } else { best.t as f64 / 1000.0 }
        }
        "stddev_over_time" | "stdvar_over_time" => {
            let (mut count, mut mean, mut cmean, mut aux, mut caux) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for x in p {
                count += 1.0;
                let delta = x.v - (mean + cmean);
                (mean, cmean) = kahan_inc(delta / count, mean, cmean);
                (aux, caux) = kahan_inc(delta * (x.v - (mean + cmean)), aux, caux);
            }
            let var = (aux + caux) / count;
            if name == "stddev_over_time" { var.sqrt() } else { var }
        }
        "quantile_over_time" => {
            let q = scalars.first().copied().unwrap_or(f64::NAN);
            let mut vals: Vec<f64> = p.iter().map(|x| x.v).collect();
            quantile(q, &mut vals)
        }
        "mad_over_time" => {
            let mut vals: Vec<f64> = p.iter().map(|x| x.v).collect();
            let med = quantile(0.5, &mut vals);
            let mut dev: Vec<f64> = vals.iter().map(|v| (v - med).abs()).collect();
            quantile(0.5, &mut dev)
        }
        "double_exponential_smoothing" | "holt_winters" => {
            if n < 2 {
                return Ok(None);
            }
            let sf = scalars.first().copied().unwrap_or(f64::NAN);
            let tf = scalars.get(1).copied().unwrap_or(f64::NAN);
            let (mut s0, mut s1) = (0.0, p[0].v);
            let mut b = p[1].v - p[0].v;
            for (i, x) in p.iter().enumerate().skip(1) {
                let xv = sf * x.v;
                if i > 1 {
                    b = tf * (s1 - s0) + (1.0 - tf) * b;
                }
                let y = (1.0 - sf) * (s1 + b);
                s0 = s1;
                s1 = xv + y;
            }
            s1
        }
        other => return Err(QueryError::exec(format!("function {other} is not supported"))),
    }))
}

/// Least-squares slope and intercept, x in seconds relative to `intercept_t`.
fn linear_regression(p: &[Point], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init = p[0].v;
    let mut const_y = true;
    for (i, s) in p.iter().enumerate() {
        if const_y && i > 0 && s.v != init {
            const_y = false;
        }
        n += 1.0;
        let x = (s.t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(s.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * s.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// `rate`, `increase` and `delta` with Prometheus's extrapolation.
fn extrapolated_rate(
    p: &[Point],
    reft: i64,
    range: i64,
    counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let n = p.len();
    if n < 2 {
        return None;
    }
    let range_start = reft - range;
    let range_end = reft;
    let mut result = p[n - 1].v - p[0].v;
    if counter {
        let mut last = 0.0;
        for s in p {
            if s.v < last {
                result += last;
            }
            last = s.v;
        }
    }
    let (first_t, last_t) = (p[0].t, p[n - 1].t);
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg = sampled / (n - 1) as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if counter && result > 0.0 && p[0].v >= 0.0 {
        let to_zero = sampled * (p[0].v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= range as f64 / 1000.0;
    }
    Some(result * factor)
}

fn absent_labels(e: &Expr) -> Labels {
    let vs = match e {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(m) => &m.vs,
        _ => return Labels::empty(),
    };
    let mut out = Labels::empty();
    let mut has: Vec<&str> = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if matches!(m.op, PMatchOp::Equal) && !has.contains(&m.name.as_str()) {
            out.set(&m.name, &m.value);
            has.push(&m.name);
        } else {
            out.set(&m.name, "");
        }
    }
    out
}

fn compile_anchored(re: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?s:{re})$")).map_err(|e| e.to_string())
}

fn label_replace(ev: &Evaluator<'_>, c: &Call, t: i64) -> Result<Value, QueryError> {
    let vec = ev.eval_vector(arg(c, 0)?, t)?;
    let dst = string_arg(ev, c, 1, t)?;
    let repl = string_arg(ev, c, 2, t)?;
    let src = string_arg(ev, c, 3, t)?;
    let re_s = string_arg(ev, c, 4, t)?;
    let re = compile_anchored(&re_s).map_err(|e| {
        QueryError::exec(format!("invalid regular expression in label_replace(): {re_s}: {e}"))
    })?;
    if !valid_label_name(&dst) {
        return Err(QueryError::exec(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let mut out = Vec::with_capacity(vec.len());
    for mut s in vec {
        let v = s.labels.value(&src).to_string();
        if let Some(caps) = re.captures(&v) {
            let mut res = String::new();
            caps.expand(&repl, &mut res);
            s.labels.set(&dst, &res);
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
        out.push(s);
    }
    check_unique_pending(&out)?;
    Ok(Value::Vector(out))
}

fn label_join(ev: &Evaluator<'_>, c: &Call, t: i64) -> Result<Value, QueryError> {
    let vec = ev.eval_vector(arg(c, 0)?, t)?;
    let dst = string_arg(ev, c, 1, t)?;
    let sep = string_arg(ev, c, 2, t)?;
    let mut srcs = Vec::new();
    for i in 3..c.args.args.len() {
        srcs.push(string_arg(ev, c, i, t)?);
    }
    if !valid_label_name(&dst) {
        return Err(QueryError::exec(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let mut out = Vec::with_capacity(vec.len());
    for mut s in vec {
        let joined: Vec<&str> = srcs.iter().map(|n| s.labels.value(n)).collect();
        let joined = joined.join(&sep);
        s.labels.set(&dst, &joined);
        if dst == METRIC_NAME {
            s.drop_name = false;
        }
        out.push(s);
    }
    check_unique_pending(&out)?;
    Ok(Value::Vector(out))
}

/// Duplicate label sets are an error, comparing label sets as they will be
/// once pending name removal is applied.
fn check_unique_pending(vec: &Vector) -> Result<(), QueryError> {
    let view: Vector = vec
        .iter()
        .map(|s| Sample {
            labels: if s.drop_name { s.labels.without_name() } else { s.labels.clone() },
            t: s.t,
            v: s.v,
            drop_name: false,
        })
        .collect();
    check_unique(&view)
}

/// Natural order: digit runs compare as numbers.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let na = a[si..i].trim_start_matches('0');
            let nb = b[sj..j].trim_start_matches('0');
            let o = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            if ab[i] != bb[j] {
                return ab[i].cmp(&bb[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j))
}

struct Bucket {
    le: f64,
    count: f64,
}

/// Groups classic bucket series (`le` label) into histograms.
fn classic_histograms(ev: &Evaluator<'_>, vec: Vector) -> Vec<(Labels, Vec<Bucket>)> {
    let mut groups: Vec<(Labels, Vec<Bucket>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for s in vec {
        let le_s = s.labels.value("le");
        let Some(le) = parse_go_float(le_s) else {
            ev.warn(format!(
                "bucket label \"le\" is missing or has a malformed value of {:?} for metric name {:?}",
                le_s,
                s.labels.value(METRIC_NAME)
            ));
            continue;
        };
        let key = s.labels.without(&["le"]);
        let gi = match index.get(&key) {
            Some(i) => *i,
            None => {
                groups.push((key.without(&[METRIC_NAME]), Vec::new()));
                index.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[gi].1.push(Bucket { le, count: s.v });
    }
    groups
}

fn histogram_quantile(ev: &Evaluator<'_>, c: &Call, t: i64) -> Result<Value, QueryError> {
    let q = ev.eval_scalar(arg(c, 0)?, t)?;
    let vec = ev.eval_vector(arg(c, 1)?, t)?;
    if !(0.0..=1.0).contains(&q) {
        ev.warn(format!(
            "quantile value should be between 0 and 1, got {}",
            crate::format_float(q)
        ));
    }
    let mut out = Vec::new();
    for (labels, mut buckets) in classic_histograms(ev, vec) {
        let (v, forced) = bucket_quantile(q, &mut buckets);
        if forced {
            ev.info(
                "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".to_string(),
            );
        }
        out.push(Sample { labels, t, v, drop_name: false });
    }
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

fn histogram_fraction(ev: &Evaluator<'_>, c: &Call, t: i64) -> Result<Value, QueryError> {
    let lower = ev.eval_scalar(arg(c, 0)?, t)?;
    let upper = ev.eval_scalar(arg(c, 1)?, t)?;
    let vec = ev.eval_vector(arg(c, 2)?, t)?;
    let mut out = Vec::new();
    for (labels, mut buckets) in classic_histograms(ev, vec) {
        let v = bucket_fraction(lower, upper, &mut buckets);
        out.push(Sample { labels, t, v, drop_name: false });
    }
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// Sorts by bound, requires a `+Inf` bucket, and merges equal bounds.
fn normalize_buckets(buckets: &mut Vec<Bucket>) -> Option<Vec<Bucket>> {
    buckets.sort_by(|a, b| a.le.partial_cmp(&b.le).unwrap_or(std::cmp::Ordering::Equal));
    match buckets.last() {
        Some(b) if b.le == f64::INFINITY => {}
        _ => return None,
    }
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.drain(..) {
        match merged.last_mut() {
            Some(last) if last.le == b.le => last.count += b.count,
            _ => merged.push(b),
        }
    }
    Some(merged)
}

/// The fraction of observations between `lower` and `upper`, interpolating
/// linearly inside finite buckets. The first bucket starts at 0 when its
/// bound is positive; inside a bucket of infinite width a value counts as
/// the bucket's finite boundary.
fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    let Some(b) = normalize_buckets(buckets) else { return f64::NAN };
    let total = b[b.len() - 1].count;
    if total == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let rank_at = |v: f64, rank: f64, count: f64, lo: f64, hi: f64| -> f64 {
        if lo == f64::NEG_INFINITY {
            rank + count
        } else if hi == f64::INFINITY {
            rank
        } else {
            rank + count * (v - lo) / (hi - lo)
        }
    };
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, None, None);
    for (i, bk) in b.iter().enumerate() {
        let lo = if i > 0 {
            b[i - 1].le
        } else if bk.le > 0.0 {
            0.0
        } else {
            f64::NEG_INFINITY
        };
        let hi = bk.le;
        let count = bk.count - if i > 0 { b[i - 1].count } else { 0.0 };
        if lower_rank.is_none() && lo >= lower {
            lower_rank = Some(rank);
        }
        if upper_rank.is_none() && lo >= upper {
            upper_rank = Some(rank);
        }
        if lower_rank.is_none() && lo < lower && hi > lower {
            lower_rank = Some(rank_at(lower, rank, count, lo, hi));
        }
        if upper_rank.is_none() && lo < upper && hi > upper {
            upper_rank = Some(rank_at(upper, rank, count, lo, hi));
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        rank = bk.count;
    }
    let lr = lower_rank.unwrap_or(total).min(total);
    let ur = upper_rank.unwrap_or(total).min(total);
    (ur - lr) / total
}

fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" | "nan" => {}
        rest if rest.starts_with("0x") => return None,
        _ => {}
    }
    s.parse::<f64>().ok()
}

fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    let Some(mut merged) = normalize_buckets(buckets) else { return (f64::NAN, false) };
    let mut forced = false;
    let mut prev = merged[0].count;
    for b in merged.iter_mut().skip(1) {
        let cur = b.count;
        if cur == prev {
            continue;
        }
        if almost_equal(prev, cur, 1e-12) {
            b.count = prev;
            continue;
        }
        if cur < prev {
            b.count = prev;
            forced = true;
            continue;
        }
        prev = cur;
    }
    if merged.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = merged[merged.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let last = merged.len() - 1;
    let b = merged[..last].partition_point(|x| x.count < rank);
    if b == last {
        return (merged[last - 1].le, forced);
    }
    if b == 0 && merged[0].le <= 0.0 {
        return (merged[0].le, forced);
    }
    let mut start = 0.0;
    let end = merged[b].le;
    let mut count = merged[b].count;
    if b > 0 {
        start = merged[b - 1].le;
        count -= merged[b - 1].count;
        rank -= merged[b - 1].count;
    }
    (start + (end - start) * (rank / count), forced)
}

/// Calendar fields of a Unix time in seconds, in UTC.
fn date_part(name: &str, secs: f64) -> f64 {
    if secs.is_nan() || secs.is_infinite() {
        return f64::NAN;
    }
    let s = secs.floor() as i64;
    let days = s.div_euclid(86_400);
    let sod = s.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    match name {
        "day_of_month" => d as f64,
        "day_of_week" => (days + 4).rem_euclid(7) as f64,
        "day_of_year" => (days - days_from_civil(y, 1, 1) + 1) as f64,
        "days_in_month" => {
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as f64
        }
        "hour" => (sod / 3600) as f64,
        "minute" => ((sod % 3600) / 60) as f64,
        "month" => m as f64,
        "year" => y as f64,
        _ => f64::NAN,
    }
}

/// Warnings and parameter checks of range-vector functions.
fn range_annotations(
    ev: &Evaluator<'_>,
    name: &str,
    scalars: &[f64],
    metric: Option<&str>,
) -> Result<(), QueryError> {
    match name {
        "quantile_over_time" => {
            let q = scalars.first().copied().unwrap_or(f64::NAN);
            if !(0.0..=1.0).contains(&q) {
                ev.warn(format!(
                    "quantile value should be between 0 and 1, got {}",
                    crate::format_float(q)
                ));
            }
        }
        "double_exponential_smoothing" | "holt_winters" => {
            let sf = scalars.first().copied().unwrap_or(f64::NAN);
            let tf = scalars.get(1).copied().unwrap_or(f64::NAN);
            if !(sf > 0.0 && sf < 1.0) {
                return Err(QueryError::exec(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
                )));
            }
            if !(tf > 0.0 && tf < 1.0) {
                return Err(QueryError::exec(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
                )));
            }
        }
        "rate" | "increase" | "irate" => {
            if let Some(n) = metric
                && !["_total", "_sum", "_count", "_bucket"].iter().any(|suf| n.ends_with(suf))
            {
                ev.info(format!("metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {n:?}"));
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        // 2024-02-29T13:45:00Z
        let t = 1_709_214_300.0;
        assert_eq!(date_part("year", t), 2024.0);
        assert_eq!(date_part("month", t), 2.0);
        assert_eq!(date_part("day_of_month", t), 29.0);
        assert_eq!(date_part("days_in_month", t), 29.0);
        assert_eq!(date_part("day_of_week", t), 4.0);
        assert_eq!(date_part("day_of_year", t), 60.0);
        assert_eq!(date_part("hour", t), 13.0);
        assert_eq!(date_part("minute", t), 45.0);
    }

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("a2", "a10"), std::cmp::Ordering::Less);
        assert_eq!(natural_cmp("b", "a10"), std::cmp::Ordering::Greater);
    }
}
