//! Query values: scalars, strings, instant vectors and range vectors (matrices).

use andon_series::{Labels, Sample as Point};

/// One element of an instant vector.
///
/// `drop_name` implements Prometheus 3's delayed name removal: operations
/// that would drop `__name__` mark the sample instead, so later
/// `label_replace`/`label_join` can still read it; the name is removed when
/// the query finishes.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub t: i64,
    pub v: f64,
    pub drop_name: bool,
}

/// One series of a range vector.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeSeries {
    pub labels: Labels,
    pub points: Vec<Point>,
    pub drop_name: bool,
}

pub type Vector = Vec<Sample>;
pub type Matrix = Vec<RangeSeries>;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    String(String),
    Vector(Vector),
    Matrix(Matrix),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar(_) => "scalar",
            Value::String(_) => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// Formats a float the way Prometheus's API and test output do.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{v}")
    }
}

/// Relative float comparison as Prometheus's tests use it: NaN equals NaN,
/// a stale marker equals only a stale marker.
pub fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    if andon_series::is_stale_nan(a) || andon_series::is_stale_nan(b) {
        return andon_series::is_stale_nan(a) && andon_series::is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < eps * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < eps
}

/// Orders samples by value, ascending or descending, with NaN last either
/// way (how `sort`, `sort_desc`, `topk` and `bottomk` rank).
pub(crate) fn by_value_nan_last(a: &Sample, b: &Sample, desc: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.v.is_nan(), b.v.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => {
            let o = a.v.partial_cmp(&b.v).unwrap_or(Ordering::Equal);
            if desc { o.reverse() } else { o }
        }
    }
}
