//! Binary operators: arithmetic, comparison (with and without `bool`), set
//! operators, and vector matching (`on`/`ignoring`, `group_left`/`group_right`).

use std::collections::{HashMap, HashSet};

use andon_series::{Labels, METRIC_NAME};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use crate::QueryError;
use crate::eval::Evaluator;
use crate::value::{Sample, Value, Vector};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl Op {
    fn from_token(s: &str) -> Option<Op> {
        Some(match s {
            "+" => Op::Add,
            "-" => Op::Sub,
            "*" => Op::Mul,
            "/" => Op::Div,
            "%" => Op::Mod,
            "^" => Op::Pow,
            "atan2" => Op::Atan2,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            "and" => Op::And,
            "or" => Op::Or,
            "unless" => Op::Unless,
            _ => return None,
        })
    }

    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    /// Arithmetic drops the metric name; comparisons keep it.
    fn drops_name(self) -> bool {
        matches!(self, Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod | Op::Pow | Op::Atan2)
    }
}

/// The result of `l op r` and whether a comparison holds.
fn apply(op: Op, l: f64, r: f64) -> (f64, bool) {
    match op {
        Op::Add => (l + r, true),
        Op::Sub => (l - r, true),
        Op::Mul => (l * r, true),
        Op::Div => (l / r, true),
        Op::Mod => (l % r, true),
        Op::Pow => (l.powf(r), true),
        Op::Atan2 => (l.atan2(r), true),
        Op::Eq => (l, l == r),
        Op::Ne => (l, l != r),
        Op::Gt => (l, l > r),
        Op::Lt => (l, l < r),
        Op::Ge => (l, l >= r),
        Op::Le => (l, l <= r),
        Op::And | Op::Or | Op::Unless => (l, true),
    }
}

struct Matching<'a> {
    card: &'a VectorMatchCardinality,
    /// `Some(true)` for `on`, `Some(false)` for `ignoring`, `None` for neither.
    on: Option<bool>,
    labels: Vec<String>,
}

impl Matching<'_> {
    fn signature(&self, l: &Labels) -> Labels {
        match self.on {
            Some(true) => l.keep(&self.labels),
            _ => {
                let mut names: Vec<&str> = self.labels.iter().map(String::as_str).collect();
                names.push(METRIC_NAME);
                l.without(&names)
            }
        }
    }
}

pub(crate) fn eval_binary(ev: &Evaluator<'_>, b: &BinaryExpr, t: i64) -> Result<Value, QueryError> {
    let token_s = b.op.to_string();
    let token = token_s.as_str();
    let op = Op::from_token(token)
        .ok_or_else(|| QueryError::exec(format!("unknown binary operator {token}")))?;
    let return_bool = b.return_bool();
    let lhs = ev.eval(&b.lhs, t)?;
    // `and`/`unless` with an empty left side need not evaluate the right.
    let rhs = ev.eval(&b.rhs, t)?;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            let (v, keep) = apply(op, l, r);
            let v = if op.is_comparison() { f64::from(u8::from(keep)) } else { v };
            Ok(Value::Scalar(v))
        }
        (Value::Vector(l), Value::Scalar(r)) => {
            Ok(Value::Vector(vector_scalar(op, l, r, false, return_bool)))
        }
        (Value::Scalar(l), Value::Vector(r)) => {
            Ok(Value::Vector(vector_scalar(op, r, l, true, return_bool)))
        }
        (Value::Vector(l), Value::Vector(r)) => {
            let default_card = if matches!(op, Op::And | Op::Or | Op::Unless) {
                VectorMatchCardinality::ManyToMany
            } else {
                VectorMatchCardinality::OneToOne
            };
            let (card, on, labels) = match &b.modifier {
                None => (&default_card, None, Vec::new()),
                Some(m) => {
                    let (on, labels) = match &m.matching {
                        None => (None, Vec::new()),
                        Some(LabelModifier::Include(ls)) => (Some(true), ls.labels.clone()),
                        Some(LabelModifier::Exclude(ls)) => (Some(false), ls.labels.clone()),
                    };
                    (&m.card, on, labels)
                }
            };
            let matching = Matching { card, on, labels };
            let out = match op {
                Op::And => and(l, r, &matching),
                Op::Or => or(l, r, &matching),
                Op::Unless => unless(l, r, &matching),
                _ => vector_vector(op, l, r, &matching, return_bool)?,
            };
            Ok(Value::Vector(out))
        }
        (l, r) => Err(QueryError::exec(format!(
            "binary operator {token} is not defined between {} and {}",
            l.type_name(),
            r.type_name()
        ))),
    }
}

fn vector_scalar(op: Op, vec: Vector, scalar: f64, swap: bool, return_bool: bool) -> Vector {
    let mut out = Vec::with_capacity(vec.len());
    for mut s in vec {
        let (l, r) = if swap { (scalar, s.v) } else { (s.v, scalar) };
        let (mut v, mut keep) = apply(op, l, r);
        if op.is_comparison() && swap {
            v = r;
        }
        if return_bool {
            v = f64::from(u8::from(keep));
            keep = true;
        }
        if keep {
            s.v = v;
            if op.drops_name() || return_bool {
                s.drop_name = true;
            }
            out.push(s);
        }
    }
    out
}

fn and(l: Vector, r: Vector, m: &Matching<'_>) -> Vector {
    if l.is_empty() || r.is_empty() {
        return Vec::new();
    }
    let right: HashSet<Labels> = r.iter().map(|s| m.signature(&s.labels)).collect();
    l.into_iter().filter(|s| right.contains(&m.signature(&s.labels))).collect()
}

fn or(l: Vector, r: Vector, m: &Matching<'_>) -> Vector {
    if l.is_empty() {
        return r;
    }
    if r.is_empty() {
        return l;
    }
    let left: HashSet<Labels> = l.iter().map(|s| m.signature(&s.labels)).collect();
    let mut out = l;
    out.extend(r.into_iter().filter(|s| !left.contains(&m.signature(&s.labels))));
    out
}

fn unless(l: Vector, r: Vector, m: &Matching<'_>) -> Vector {
    if l.is_empty() || r.is_empty() {
        return l;
    }
    let right: HashSet<Labels> = r.iter().map(|s| m.signature(&s.labels)).collect();
    l.into_iter().filter(|s| !right.contains(&m.signature(&s.labels))).collect()
}

fn vector_vector(
    op: Op,
    l: Vector,
    r: Vector,
    m: &Matching<'_>,
    return_bool: bool,
) -> Result<Vector, QueryError> {
    if l.is_empty() || r.is_empty() {
        return Ok(Vec::new());
    }
    let (include, one_to_many, one_to_one) = match m.card {
        VectorMatchCardinality::OneToOne => (Vec::new(), false, true),
        VectorMatchCardinality::ManyToOne(ls) => (ls.labels.clone(), false, false),
        VectorMatchCardinality::OneToMany(ls) => (ls.labels.clone(), true, false),
        VectorMatchCardinality::ManyToMany => (Vec::new(), false, true),
    };
    // The "many" side is iterated; the "one" side is hashed.
    let (many, one) = if one_to_many { (r, l) } else { (l, r) };
    let mut one_side: HashMap<Labels, &Sample> = HashMap::with_capacity(one.len());
    for s in &one {
        let sig = m.signature(&s.labels);
        if let Some(dup) = one_side.get(&sig) {
            let side = if one_to_many { "left" } else { "right" };
            let matched = match m.on {
                Some(true) => s.labels.keep(&m.labels),
                _ => s.labels.without(&m.labels),
            };
            return Err(QueryError::exec(format!(
                "found duplicate series for the match group {matched} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                s.labels, dup.labels
            )));
        }
        one_side.insert(sig, s);
    }
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for ms in &many {
        let sig = m.signature(&ms.labels);
        let Some(os) = one_side.get(&sig) else { continue };
        let (fl, fr) = if one_to_many { (os.v, ms.v) } else { (ms.v, os.v) };
        let (mut v, mut keep) = apply(op, fl, fr);
        if return_bool {
            v = f64::from(u8::from(keep));
            keep = true;
        }
        if !keep {
            continue;
        }
        let labels = result_labels(&ms.labels, &os.labels, m, &include, one_to_one);
        if one_to_one {
            if matched.contains_key(&sig) {
                return Err(QueryError::exec(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                ));
            }
            matched.insert(sig, HashSet::new());
        } else {
            let set = matched.entry(sig).or_default();
            if !set.insert(labels.clone()) {
                return Err(QueryError::exec(
                    "multiple matches for labels: grouping labels must ensure unique matches",
                ));
            }
        }
        let drop_name = if op.drops_name() || return_bool { true } else { ms.drop_name };
        out.push(Sample { labels, t: ms.t, v, drop_name });
    }
    Ok(out)
}

fn result_labels(
    many: &Labels,
    one: &Labels,
    m: &Matching<'_>,
    include: &[String],
    one_to_one: bool,
) -> Labels {
    let mut l = many.clone();
    if one_to_one {
        match m.on {
            Some(true) => l = l.keep(&m.labels),
            _ => l = l.without(&m.labels),
        }
    }
    for name in include {
        l.set(name, one.value(name));
    }
    l
}
