//! Aggregation operators: sum, avg, count, min, max, group, stddev, stdvar,
//! quantile, topk, bottomk, count_values, limitk and limit_ratio.

use std::collections::HashMap;

use andon_series::{Labels, METRIC_NAME};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use crate::QueryError;
use crate::eval::Evaluator;
use crate::value::{Sample, Value, Vector};

/// Kahan–Babuška (Neumaier) compensated addition, as Prometheus sums.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Incremental/direct mean with overflow fallback, as Prometheus averages.
#[derive(Default)]
pub(crate) struct Mean {
    count: f64,
    sum: f64,
    c: f64,
    incremental: bool,
    mean: f64,
}

impl Mean {
    pub(crate) fn add(&mut self, f: f64) {
        self.count += 1.0;
        if !self.incremental {
            let (s, c) = kahan_inc(f, self.sum, self.c);
            if !s.is_infinite() || self.count == 1.0 {
                self.sum = s;
                self.c = c;
                return;
            }
            self.incremental = true;
            self.mean = self.sum / (self.count - 1.0);
            self.c /= self.count - 1.0;
        }
        if self.mean.is_infinite() {
            if f.is_infinite() && (self.mean > 0.0) == (f > 0.0) {
                return;
            }
            if !f.is_infinite() && !f.is_nan() {
                return;
            }
        }
        let q = (self.count - 1.0) / self.count;
        let (m, c) = kahan_inc(f / self.count, q * self.mean, q * self.c);
        self.mean = m;
        self.c = c;
    }

    pub(crate) fn value(&self) -> f64 {
        if self.incremental { self.mean + self.c } else { (self.sum + self.c) / self.count }
    }
}

/// Prometheus's quantile over a set of values (NaN sorts first).
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

enum Acc {
    Sum { sum: f64, c: f64 },
    Avg(Mean),
    Count(f64),
    Group,
    Min(f64),
    Max(f64),
    Var { count: f64, mean: f64, m2: f64 },
    Values(Vec<f64>),
    Samples(Vec<Sample>),
}

struct Group {
    labels: Labels,
    drop_name: bool,
    acc: Acc,
}

pub(crate) fn eval_aggregate(
    ev: &Evaluator<'_>,
    a: &AggregateExpr,
    t: i64,
) -> Result<Value, QueryError> {
    let op_s = a.op.to_string();
    let op = op_s.as_str();
    let input = ev.eval_vector(&a.expr, t)?;
    let (without, grouping): (bool, Vec<String>) = match &a.modifier {
        None => (false, Vec::new()),
        Some(LabelModifier::Include(ls)) => (false, ls.labels.clone()),
        Some(LabelModifier::Exclude(ls)) => (true, ls.labels.clone()),
    };
    let key_of = |l: &Labels| -> Labels {
        if without {
            let mut names: Vec<&str> = grouping.iter().map(String::as_str).collect();
            names.push(METRIC_NAME);
            l.without(&names)
        } else {
            l.keep(&grouping)
        }
    };

    // Parameters.
    let mut k_param = 0f64;
    let mut label_param = String::new();
    match op {
        "topk" | "bottomk" | "limitk" | "quantile" | "limit_ratio" => {
            let p = a
                .param
                .as_deref()
                .ok_or_else(|| QueryError::exec(format!("{op} needs a parameter")))?;
            k_param = ev.eval_scalar(p, t)?;
        }
        "count_values" => {
            let p = a
                .param
                .as_deref()
                .ok_or_else(|| QueryError::exec("count_values needs a label name"))?;
            label_param = match ev.eval(p, t)? {
                Value::String(s) => s,
                other => {
                    return Err(QueryError::exec(format!(
                        "expected string, got {}",
                        other.type_name()
                    )));
                }
            };
            if !valid_label_name(&label_param) {
                return Err(QueryError::exec(format!("invalid label name {label_param:?}")));
            }
        }
        _ => {}
    }
    match op {
        "topk" | "bottomk" | "limitk" if k_param.is_nan() => {
            return Err(QueryError::exec("Parameter value is NaN"));
        }
        "limit_ratio" if k_param.is_nan() => return Err(QueryError::exec("Ratio value is NaN")),
        "quantile" if !(0.0..=1.0).contains(&k_param) => {
            ev.warn(format!(
                "quantile value should be between 0 and 1, got {}",
                crate::format_float(k_param)
            ));
        }
        _ => {}
    }
    if matches!(op, "topk" | "bottomk" | "limitk") && k_param < 1.0 {
        return Ok(Value::Vector(Vec::new()));
    }

    let node = a as *const AggregateExpr as usize;
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<usize, usize, crate::eval::IdHash> = HashMap::default();
    let mut by_labels: HashMap<Labels, usize> = HashMap::new();
    for s in input {
        let (found, key) = if op == "count_values" {
            let mut key = key_of(&s.labels);
            key.set(&label_param, &crate::format_float(s.v));
            (by_labels.get(&key).copied(), key)
        } else {
            let key = ev.group_key(node, &s.labels, || key_of(&s.labels));
            (index.get(&key.storage_id()).copied(), key)
        };
        let gi = match found {
            Some(i) => i,
            None => {
                let acc = match op {
                    "sum" => Acc::Sum { sum: 0.0, c: 0.0 },
                    "avg" => Acc::Avg(Mean::default()),
                    "count" | "count_values" => Acc::Count(0.0),
                    "group" => Acc::Group,
                    "min" => Acc::Min(f64::NAN),
                    "max" => Acc::Max(f64::NAN),
                    "stddev" | "stdvar" => Acc::Var { count: 0.0, mean: 0.0, m2: 0.0 },
                    "quantile" => Acc::Values(Vec::new()),
                    "topk" | "bottomk" | "limitk" | "limit_ratio" => Acc::Samples(Vec::new()),
                    other => return Err(QueryError::exec(format!("unknown aggregation {other}"))),
                };
                groups.push(Group { labels: key.clone(), drop_name: s.drop_name, acc });
                if op == "count_values" {
                    by_labels.insert(key, groups.len() - 1);
                } else {
                    index.insert(key.storage_id(), groups.len() - 1);
                }
                groups.len() - 1
            }
        };
        let g = &mut groups[gi];
        match &mut g.acc {
            Acc::Sum { sum, c } => (*sum, *c) = kahan_inc(s.v, *sum, *c),
            Acc::Avg(m) => m.add(s.v),
            Acc::Count(n) => *n += 1.0,
            Acc::Group => {}
            Acc::Min(m) => {
                if *m > s.v || m.is_nan() {
                    *m = s.v;
                }
            }
            Acc::Max(m) => {
                if *m < s.v || m.is_nan() {
                    *m = s.v;
                }
            }
            Acc::Var { count, mean, m2 } => {
                *count += 1.0;
                let delta = s.v - *mean;
                *mean += delta / *count;
                *m2 += delta * (s.v - *mean);
            }
            Acc::Values(v) => v.push(s.v),
            Acc::Samples(v) => v.push(s),
        }
    }

    let mut out: Vector = Vec::new();
    for g in groups {
        let v = match g.acc {
            Acc::Sum { sum, c } => sum + c,
            Acc::Avg(m) => m.value(),
            Acc::Count(n) => n,
            Acc::Group => 1.0,
            Acc::Min(m) | Acc::Max(m) => m,
            Acc::Var { count, m2, .. } => {
                let var = m2 / count;
                if op == "stddev" { var.sqrt() } else { var }
            }
            Acc::Values(mut vals) => quantile(k_param, &mut vals),
            Acc::Samples(samples) => {
                out.extend(select_samples(op, k_param, samples));
                continue;
            }
        };
        out.push(Sample { labels: g.labels, t, v, drop_name: g.drop_name });
    }
    Ok(Value::Vector(out))
}

fn select_samples(op: &str, k: f64, mut samples: Vec<Sample>) -> Vec<Sample> {
    let n = samples.len();
    match op {
        "topk" | "bottomk" => {
            let k = if k >= n as f64 { n } else { k as usize };
            let desc = op == "topk";
            // NaN ranks last in both directions.
            samples.sort_by(|a, b| crate::value::by_value_nan_last(a, b, desc));
            samples.truncate(k);
            samples
        }
        "limitk" => {
            let k = if k >= n as f64 { n } else { k as usize };
            samples.sort_by_key(|s| s.labels.fingerprint());
            samples.truncate(k);
            samples
        }
        _ => {
            // limit_ratio: a deterministic sample of the series by label hash.
            let ratio = k.clamp(-1.0, 1.0);
            samples
                .into_iter()
                .filter(|s| {
                    let r = (s.labels.fingerprint() as f64) / (u64::MAX as f64);
                    if ratio >= 0.0 { r < ratio } else { r >= 1.0 + ratio }
                })
                .collect()
        }
    }
}

pub(crate) fn valid_label_name(s: &str) -> bool {
    !s.is_empty() && !s.contains(char::REPLACEMENT_CHARACTER)
}
