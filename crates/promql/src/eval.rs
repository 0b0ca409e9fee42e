//! The evaluator: query drivers, selectors, subqueries and dispatch.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use andon_series::{Labels, MatchOp, Matcher, Querier, Sample as Point, Series, is_stale_nan};
use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{
    AtModifier, Expr, MatrixSelector, Offset, SubqueryExpr, VectorSelector,
};

use crate::value::{Matrix, RangeSeries, Sample, Value, Vector};
use crate::{ErrorKind, QueryError};

/// Engine limits and defaults.
#[derive(Clone, Debug)]
pub struct Options {
    /// How far back an instant selector looks for a sample (Prometheus: 5m).
    pub lookback_delta_ms: i64,
    /// The most samples one step may hold in memory.
    pub max_samples: usize,
    /// Wall-clock limit for one query.
    pub timeout: Duration,
    /// Step of a subquery written without one (`x[5m:]`).
    pub default_subquery_step_ms: i64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            lookback_delta_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step_ms: 60 * 1000,
        }
    }
}

/// A query's value and the annotations raised while computing it.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryOutput {
    pub value: Value,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

/// Evaluates `expr` at `t` (Unix ms).
pub fn instant_query(
    q: &dyn Querier,
    expr: &Expr,
    t: i64,
    opts: &Options,
) -> Result<QueryOutput, QueryError> {
    let ev = Evaluator::new(q, expr, t, t, opts);
    let v = ev.eval(expr, t)?;
    let value = match v {
        Value::Vector(vec) => Value::Vector(finish_vector(vec)?),
        Value::Matrix(m) => Value::Matrix(finish_matrix(m)?),
        other => other,
    };
    Ok(ev.output(value))
}

/// Evaluates `expr` at every step from `start` to `end` (Unix ms); the result
/// is a matrix sorted by labels.
pub fn range_query(
    q: &dyn Querier,
    expr: &Expr,
    start: i64,
    end: i64,
    step: i64,
    opts: &Options,
) -> Result<QueryOutput, QueryError> {
    if step <= 0 {
        return Err(QueryError::exec(
            "zero or negative query resolution step widths are not accepted",
        ));
    }
    match expr.value_type() {
        promql_parser::parser::value::ValueType::Vector
        | promql_parser::parser::value::ValueType::Scalar => {}
        other => {
            return Err(QueryError::exec(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                type_label(other)
            )));
        }
    }
    let mut ev = Evaluator::new(q, expr, start, end, opts);
    ev.schedule = Some((start, end, step));
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Matrix = Vec::new();
    let mut t = start;
    while t <= end {
        ev.check_deadline()?;
        let vec = match ev.eval(expr, t)? {
            Value::Scalar(v) => vec![Sample { labels: Labels::empty(), t, v, drop_name: false }],
            Value::Vector(vec) => finish_vector(vec)?,
            other => {
                return Err(QueryError::exec(format!(
                    "unexpected {} in range query",
                    other.type_name()
                )));
            }
        };
        for s in vec {
            let i = match index.get(&s.labels) {
                Some(i) => *i,
                None => {
                    out.push(RangeSeries {
                        labels: s.labels.clone(),
                        points: Vec::new(),
                        drop_name: false,
                    });
                    index.insert(s.labels, out.len() - 1);
                    out.len() - 1
                }
            };
            out[i].points.push(Point { t, v: s.v });
        }
        t += step;
    }
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(ev.output(Value::Matrix(out)))
}

fn type_label(t: promql_parser::parser::value::ValueType) -> &'static str {
    use promql_parser::parser::value::ValueType as T;
    match t {
        T::Vector => "instant vector",
        T::Scalar => "scalar",
        T::Matrix => "range vector",
        T::String => "string",
    }
}

/// Applies delayed name removal and checks for label sets that collide.
pub(crate) fn finish_vector(mut vec: Vector) -> Result<Vector, QueryError> {
    let mut any = false;
    for s in &mut vec {
        if s.drop_name {
            s.labels = s.labels.without_name();
            s.drop_name = false;
            any = true;
        }
    }
    if any {
        check_unique(&vec)?;
    }
    Ok(vec)
}

pub(crate) fn check_unique(vec: &Vector) -> Result<(), QueryError> {
    if vec.len() > 1 {
        let mut seen = std::collections::HashSet::with_capacity(vec.len());
        for s in vec {
            if !seen.insert(&s.labels) {
                return Err(QueryError::exec(
                    "vector cannot contain metrics with the same labelset",
                ));
            }
        }
    }
    Ok(())
}

fn finish_matrix(mut m: Matrix) -> Result<Matrix, QueryError> {
    let mut any = false;
    for s in &mut m {
        if s.drop_name {
            s.labels = s.labels.without_name();
            s.drop_name = false;
            any = true;
        }
    }
    if any {
        let mut seen = std::collections::HashSet::new();
        for s in &m {
            if !seen.insert(&s.labels) {
                return Err(QueryError::exec(
                    "matrix cannot contain metrics with the same labelset",
                ));
            }
        }
    }
    Ok(m)
}

pub(crate) fn ms(d: &Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => ms(d),
        Some(Offset::Neg(d)) => -ms(d),
    }
}

pub(crate) fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => ms(&d),
        Err(e) => -ms(&e.duration()),
    }
}

pub(crate) struct Evaluator<'a> {
    q: &'a dyn Querier,
    pub(crate) opts: &'a Options,
    pub(crate) start: i64,
    pub(crate) end: i64,
    fetch_min: i64,
    fetch_max: i64,
    deadline: Instant,
    series: RefCell<HashMap<usize, Rc<Selected>>>,
    subqueries: RefCell<HashMap<(usize, i64), Rc<Vector>>>,
    warnings: RefCell<BTreeSet<String>>,
    /// Aggregation group keys per (aggregation node, input label set), and
    /// one shared key per distinct group, so grouping a series costs two
    /// integer lookups after the first step.
    group_keys: RefCell<GroupKeys>,
    interned_keys: RefCell<HashMap<(usize, Labels), Labels>>,
    /// A range query's steps (start, end, step); `None` for an instant query.
    pub(crate) schedule: Option<(i64, i64, i64)>,
    /// Range-vector function results for every step, computed series by
    /// series (cache-friendly) the first time a step asks: per call node,
    /// per step, (series index, value).
    batches: RefCell<HashMap<usize, Rc<Batch>>>,
    infos: RefCell<BTreeSet<String>>,
}

impl<'a> Evaluator<'a> {
    fn new(q: &'a dyn Querier, expr: &Expr, start: i64, end: i64, opts: &'a Options) -> Self {
        let mut w = Window { back: 0, fwd: 0, ats: Vec::new() };
        window(expr, 0, 0, opts, &mut w);
        let lo = w.ats.iter().copied().chain([start]).min().unwrap_or(start);
        let hi = w.ats.iter().copied().chain([end]).max().unwrap_or(end);
        Evaluator {
            q,
            opts,
            start,
            end,
            fetch_min: lo.saturating_sub(w.back),
            fetch_max: hi.saturating_add(w.fwd),
            deadline: Instant::now() + opts.timeout,
            series: RefCell::new(HashMap::new()),
            subqueries: RefCell::new(HashMap::new()),
            warnings: RefCell::new(BTreeSet::new()),
            group_keys: RefCell::default(),
            interned_keys: RefCell::default(),
            schedule: None,
            batches: RefCell::default(),
            infos: RefCell::new(BTreeSet::new()),
        }
    }

    fn output(&self, value: Value) -> QueryOutput {
        QueryOutput {
            value,
            warnings: self.warnings.borrow().iter().cloned().collect(),
            infos: self.infos.borrow().iter().cloned().collect(),
        }
    }

    pub(crate) fn warn(&self, m: String) {
        self.warnings.borrow_mut().insert(format!("PromQL warning: {m}"));
    }

    pub(crate) fn info(&self, m: String) {
        self.infos.borrow_mut().insert(format!("PromQL info: {m}"));
    }

    /// The shared group key of `labels` under aggregation `node`.
    pub(crate) fn group_key(
        &self,
        node: usize,
        labels: &Labels,
        make: impl FnOnce() -> Labels,
    ) -> Labels {
        let id = (node, labels.storage_id());
        if let Some((held, key)) = self.group_keys.borrow().get(&id)
            && held.storage_id() == labels.storage_id()
        {
            return key.clone();
        }
        let fresh = make();
        let key =
            self.interned_keys.borrow_mut().entry((node, fresh.clone())).or_insert(fresh).clone();
        // Holding `labels` keeps its storage, so the id cannot be reused.
        self.group_keys.borrow_mut().insert(id, (labels.clone(), key.clone()));
        key
    }

    pub(crate) fn check_deadline(&self) -> Result<(), QueryError> {
        if Instant::now() > self.deadline {
            return Err(QueryError {
                kind: ErrorKind::Timeout,
                message: format!(
                    "query timed out in query execution (limit: {:?})",
                    self.opts.timeout
                ),
            });
        }
        Ok(())
    }

    pub(crate) fn check_samples(&self, n: usize) -> Result<(), QueryError> {
        if n > self.opts.max_samples {
            return Err(QueryError {
                kind: ErrorKind::TooManySamples,
                message: format!(
                    "query processing would load too many samples into memory in query execution (limit: {} samples per step)",
                    self.opts.max_samples
                ),
            });
        }
        Ok(())
    }

    pub(crate) fn at_time(&self, at: &Option<AtModifier>, t: i64) -> i64 {
        match at {
            None => t,
            Some(AtModifier::Start) => self.start,
            Some(AtModifier::End) => self.end,
            Some(AtModifier::At(st)) => system_time_ms(st),
        }
    }

    pub(crate) fn eval(&self, e: &Expr, t: i64) -> Result<Value, QueryError> {
        match e {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, t),
            Expr::Unary(u) => match self.eval(&u.expr, t)? {
                Value::Scalar(v) => Ok(Value::Scalar(-v)),
                Value::Vector(mut vec) => {
                    for s in &mut vec {
                        s.v = -s.v;
                        s.drop_name = true;
                    }
                    Ok(Value::Vector(vec))
                }
                other => Err(QueryError::exec(format!("unary minus on {}", other.type_name()))),
            },
            Expr::Binary(b) => crate::binary::eval_binary(self, b, t),
            Expr::Aggregate(a) => crate::aggregate::eval_aggregate(self, a, t),
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.vector_at(vs, t)?)),
            Expr::MatrixSelector(m) => Ok(Value::Matrix(self.matrix_at(m, t)?.0)),
            Expr::Subquery(sq) => Ok(Value::Matrix(self.subquery_at(sq, t)?.0)),
            Expr::Call(c) => crate::functions::eval_call(self, c, t),
            Expr::Extension(_) => Err(QueryError::exec("extension expressions are not supported")),
        }
    }

    /// Evaluates to an instant vector (scalars are an error).
    pub(crate) fn eval_vector(&self, e: &Expr, t: i64) -> Result<Vector, QueryError> {
        match self.eval(e, t)? {
            Value::Vector(v) => Ok(v),
            other => {
                Err(QueryError::exec(format!("expected instant vector, got {}", other.type_name())))
            }
        }
    }

    pub(crate) fn eval_scalar(&self, e: &Expr, t: i64) -> Result<f64, QueryError> {
        match self.eval(e, t)? {
            Value::Scalar(v) => Ok(v),
            other => Err(QueryError::exec(format!("expected scalar, got {}", other.type_name()))),
        }
    }

    /// The series a selector reads, fetched once per query.
    fn selected(&self, vs: &VectorSelector) -> Result<Rc<Selected>, QueryError> {
        let key = vs as *const VectorSelector as usize;
        if let Some(s) = self.series.borrow().get(&key) {
            return Ok(s.clone());
        }
        let sets = selector_matchers(vs)?;
        let mut all: Vec<Series> = Vec::new();
        for set in &sets {
            let got = self
                .q
                .select(set, self.fetch_min, self.fetch_max)
                .map_err(|e| QueryError { kind: ErrorKind::Storage, message: e.0 })?;
            all.extend(got);
        }
        if sets.len() > 1 {
            all.sort_by(|a, b| a.labels.cmp(&b.labels));
            all.dedup_by(|a, b| a.labels == b.labels);
        }
        let has_stale = all.iter().map(|s| s.samples.iter().any(|p| is_stale_nan(p.v))).collect();
        let cursors = RefCell::new(vec![(0, 0); all.len()]);
        let rc = Rc::new(Selected { series: all, has_stale, cursors });
        self.series.borrow_mut().insert(key, rc.clone());
        Ok(rc)
    }

    /// An instant selector at `t`: each series' newest sample in
    /// `(ref - lookback, ref]`, unless it is a stale marker.
    pub(crate) fn vector_at(&self, vs: &VectorSelector, t: i64) -> Result<Vector, QueryError> {
        Ok(self
            .vector_points(vs, t)?
            .into_iter()
            .map(|(labels, p)| Sample { labels, t, v: p.v, drop_name: false })
            .collect())
    }

    /// Like [`vector_at`] but keeping each sample's own timestamp.
    pub(crate) fn vector_points(
        &self,
        vs: &VectorSelector,
        t: i64,
    ) -> Result<Vec<(Labels, Point)>, QueryError> {
        let sel = self.selected(vs)?;
        let reft = self.at_time(&vs.at, t) - offset_ms(&vs.offset);
        let lo = reft - self.opts.lookback_delta_ms;
        let mut out = Vec::new();
        let mut cursors = sel.cursors.borrow_mut();
        for (s, cur) in sel.series.iter().zip(cursors.iter_mut()) {
            let i = seek(&s.samples, cur.1, reft);
            cur.1 = i;
            if i == 0 {
                continue;
            }
            let p = s.samples[i - 1];
            if p.t <= lo || is_stale_nan(p.v) {
                continue;
            }
            out.push((s.labels.clone(), p));
        }
        self.check_samples(out.len())?;
        Ok(out)
    }

    /// A range selector at `t`: points in `(ref - range, ref]` without stale
    /// markers. Returns the matrix and the range's end and length.
    pub(crate) fn matrix_at(
        &self,
        m: &MatrixSelector,
        t: i64,
    ) -> Result<(Matrix, i64, i64), QueryError> {
        let vs = &m.vs;
        let sel = self.selected(vs)?;
        let reft = self.at_time(&vs.at, t) - offset_ms(&vs.offset);
        let range = ms(&m.range);
        let lo = reft - range;
        let mut out = Vec::new();
        let mut total = 0usize;
        for s in sel.series.iter() {
            let a = s.samples.partition_point(|p| p.t <= lo);
            let b = s.samples.partition_point(|p| p.t <= reft);
            if a >= b {
                continue;
            }
            let mut scratch = Vec::new();
            let Some(points) = live_points(&s.samples[a..b], true, &mut scratch) else { continue };
            let points = points.to_vec();
            total += points.len();
            out.push(RangeSeries { labels: s.labels.clone(), points, drop_name: false });
        }
        self.check_samples(total)?;
        Ok((out, reft, range))
    }

    /// Calls `f` with each series' points in a range selector's window at `t`
    /// (stale markers left out) without copying when there are none; returns
    /// the range's end and length.
    pub(crate) fn matrix_slices(
        &self,
        m: &MatrixSelector,
        t: i64,
        mut f: impl FnMut(&Labels, &[Point]) -> Result<(), QueryError>,
    ) -> Result<(i64, i64), QueryError> {
        let vs = &m.vs;
        let sel = self.selected(vs)?;
        let reft = self.at_time(&vs.at, t) - offset_ms(&vs.offset);
        let range = ms(&m.range);
        let lo = reft - range;
        let mut total = 0usize;
        let mut scratch: Vec<Point> = Vec::new();
        let mut cursors = sel.cursors.borrow_mut();
        for ((s, cur), stale) in sel.series.iter().zip(cursors.iter_mut()).zip(&sel.has_stale) {
            let a = seek(&s.samples, cur.0, lo);
            let b = seek(&s.samples, cur.1.max(a), reft);
            *cur = (a, b);
            if a >= b {
                continue;
            }
            let Some(points) = live_points(&s.samples[a..b], *stale, &mut scratch) else {
                continue;
            };
            total += points.len();
            if total > self.opts.max_samples {
                self.check_samples(total)?;
            }
            f(&s.labels, points)?;
        }
        Ok((reft, range))
    }

    /// The batch of a range function over a range selector for the query's
    /// steps, computing it on first use; `None` when `t` is not a step.
    pub(crate) fn range_batch(
        &self,
        call: usize,
        m: &MatrixSelector,
        t: i64,
        f: impl Fn(&[Point], i64, i64, i64) -> Result<Option<f64>, QueryError>,
    ) -> Result<Option<(Rc<Batch>, usize)>, QueryError> {
        let Some((start, end, step)) = self.schedule else { return Ok(None) };
        if t < start || t > end || (t - start) % step != 0 {
            return Ok(None);
        }
        let k = ((t - start) / step) as usize;
        if let Some(b) = self.batches.borrow().get(&call) {
            return Ok(Some((b.clone(), k)));
        }
        let vs = &m.vs;
        let sel = self.selected(vs)?;
        let steps = ((end - start) / step + 1) as usize;
        if sel.series.len().saturating_mul(steps) > 50_000_000 {
            return Ok(None);
        }
        let range = ms(&m.range);
        let off = offset_ms(&vs.offset);
        let mut per_step: Vec<Vec<(u32, f64)>> = vec![Vec::new(); steps];
        let mut points_at: Vec<usize> = vec![0; steps];
        let mut scratch: Vec<Point> = Vec::new();
        for (si, (s, stale)) in sel.series.iter().zip(&sel.has_stale).enumerate() {
            self.check_deadline()?;
            let (mut a, mut b) = (0usize, 0usize);
            for (kk, out) in per_step.iter_mut().enumerate() {
                let ts = start + kk as i64 * step;
                let reft = self.at_time(&vs.at, ts) - off;
                a = seek(&s.samples, a, reft - range);
                b = seek(&s.samples, b.max(a), reft);
                if a >= b {
                    continue;
                }
                let Some(points) = live_points(&s.samples[a..b], *stale, &mut scratch) else {
                    continue;
                };
                points_at[kk] += points.len();
                if let Some(v) = f(points, ts, reft, range)? {
                    out.push((si as u32, v));
                }
            }
        }
        if let Some(max) = points_at.iter().max() {
            self.check_samples(*max)?;
        }
        let b = Rc::new(Batch { selected: sel, per_step });
        self.batches.borrow_mut().insert(call, b.clone());
        Ok(Some((b, k)))
    }

    /// A subquery at `t`: the inner expression at every multiple of the
    /// step in `(ref - range, ref]`.
    pub(crate) fn subquery_at(
        &self,
        sq: &SubqueryExpr,
        t: i64,
    ) -> Result<(Matrix, i64, i64), QueryError> {
        let step = sq
            .step
            .as_ref()
            .map(ms)
            .filter(|s| *s > 0)
            .unwrap_or(self.opts.default_subquery_step_ms);
        let reft = self.at_time(&sq.at, t) - offset_ms(&sq.offset);
        let range = ms(&sq.range);
        let lo = reft - range;
        let mut ts = lo.div_euclid(step) * step;
        if ts <= lo {
            ts += step;
        }
        let key = &*sq.expr as *const Expr as usize;
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut out: Matrix = Vec::new();
        let mut total = 0usize;
        while ts <= reft {
            self.check_deadline()?;
            let cached = self.subqueries.borrow().get(&(key, ts)).cloned();
            let vec = match cached {
                Some(v) => v,
                None => {
                    let v = match self.eval(&sq.expr, ts)? {
                        Value::Scalar(v) => {
                            vec![Sample { labels: Labels::empty(), t: ts, v, drop_name: false }]
                        }
                        Value::Vector(v) => v,
                        other => {
                            return Err(QueryError::exec(format!(
                                "subquery over {}",
                                other.type_name()
                            )));
                        }
                    };
                    let v = Rc::new(finish_vector(v)?);
                    self.subqueries.borrow_mut().insert((key, ts), v.clone());
                    v
                }
            };
            for s in vec.iter() {
                if is_stale_nan(s.v) {
                    continue;
                }
                let i = match index.get(&s.labels) {
                    Some(i) => *i,
                    None => {
                        out.push(RangeSeries {
                            labels: s.labels.clone(),
                            points: Vec::new(),
                            drop_name: false,
                        });
                        index.insert(s.labels.clone(), out.len() - 1);
                        out.len() - 1
                    }
                };
                out[i].points.push(Point { t: ts, v: s.v });
                total += 1;
            }
            ts += step;
        }
        self.check_samples(total)?;
        Ok((out, reft, range))
    }
}

/// The matcher sets a selector selects (more than one with `or` in braces).
pub(crate) fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Vec<Matcher>>, QueryError> {
    let base = convert_matchers(vs.name.as_deref(), &vs.matchers.matchers)?;
    if vs.matchers.or_matchers.is_empty() {
        return Ok(vec![base]);
    }
    let mut sets = Vec::new();
    for group in &vs.matchers.or_matchers {
        let mut m = convert_matchers(vs.name.as_deref(), group)?;
        m.extend(base.iter().cloned());
        sets.push(m);
    }
    Ok(sets)
}

/// Hashes integer keys by mixing them (no SipHash for pointer-sized keys).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^ (x >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(29) ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(crate) type IdHash = std::hash::BuildHasherDefault<IdHasher>;

/// (aggregation node, input label storage) → (the input labels, held so
/// the storage id stays unique, and the shared group key).
type GroupKeys = HashMap<(usize, usize), (Labels, Labels), IdHash>;

/// Results of one range function for every step of a range query.
pub(crate) struct Batch {
    selected: Rc<Selected>,
    per_step: Vec<Vec<(u32, f64)>>,
}

impl Batch {
    /// Step `k`'s samples: label sets and values.
    pub(crate) fn step(&self, k: usize) -> impl Iterator<Item = (&Labels, f64)> {
        self.per_step
            .get(k)
            .into_iter()
            .flatten()
            .map(|(i, v)| (&self.selected.series[*i as usize].labels, *v))
    }
}

/// A selector's series, fetched once per query, with per-series read
/// positions that make stepping forward through time cheap.
pub(crate) struct Selected {
    series: Vec<Series>,
    /// Whether the series holds any stale marker (most hold none).
    has_stale: Vec<bool>,
    /// Last (window start, window end) indexes per series.
    cursors: RefCell<Vec<(usize, usize)>>,
}

/// A window's points without stale markers: the window itself when it holds
/// none (`may_hold_stale` false skips the scan), else a filtered copy in
/// `scratch`; `None` when nothing is left.
fn live_points<'a>(
    window: &'a [Point],
    may_hold_stale: bool,
    scratch: &'a mut Vec<Point>,
) -> Option<&'a [Point]> {
    let points = if may_hold_stale && window.iter().any(|p| is_stale_nan(p.v)) {
        scratch.clear();
        scratch.extend(window.iter().copied().filter(|p| !is_stale_nan(p.v)));
        &scratch[..]
    } else {
        window
    };
    (!points.is_empty()).then_some(points)
}

/// The index of the first sample after `bound`, searching forward from
/// `hint` (evaluation steps move forward) or from scratch when the hint is
/// past it.
fn seek(samples: &[Point], hint: usize, bound: i64) -> usize {
    let mut i = hint.min(samples.len());
    if i > 0 && samples[i - 1].t > bound {
        return samples.partition_point(|p| p.t <= bound);
    }
    let stop = (i + 8).min(samples.len());
    while i < stop {
        if samples[i].t > bound {
            return i;
        }
        i += 1;
    }
    i + samples[i..].partition_point(|p| p.t <= bound)
}

fn convert_matchers(
    name: Option<&str>,
    ms: &[promql_parser::label::Matcher],
) -> Result<Vec<Matcher>, QueryError> {
    let mut out = Vec::with_capacity(ms.len() + 1);
    if let Some(n) = name {
        out.push(Matcher::equal(andon_series::METRIC_NAME, n));
    }
    for m in ms {
        let op = match m.op {
            PMatchOp::Equal => MatchOp::Equal,
            PMatchOp::NotEqual => MatchOp::NotEqual,
            PMatchOp::Re(_) => MatchOp::Regex,
            PMatchOp::NotRe(_) => MatchOp::NotRegex,
        };
        out.push(Matcher::new(op, m.name.clone(), m.value.clone()).map_err(QueryError::exec)?);
    }
    Ok(out)
}

/// How far before the query start and after its end selectors can read.
struct Window {
    back: i64,
    fwd: i64,
    ats: Vec<i64>,
}

fn window(e: &Expr, back: i64, fwd: i64, opts: &Options, w: &mut Window) {
    let note = |at: &Option<AtModifier>, off: i64, range: i64, w: &mut Window| {
        if let Some(AtModifier::At(st)) = at {
            w.ats.push(system_time_ms(st));
        }
        w.back = w.back.max(back + off.max(0) + range);
        w.fwd = w.fwd.max(fwd + (-off).max(0));
    };
    match e {
        Expr::VectorSelector(vs) => note(&vs.at, offset_ms(&vs.offset), opts.lookback_delta_ms, w),
        Expr::MatrixSelector(m) => note(&m.vs.at, offset_ms(&m.vs.offset), ms(&m.range), w),
        Expr::Subquery(sq) => {
            let off = offset_ms(&sq.offset);
            if let Some(AtModifier::At(st)) = &sq.at {
                w.ats.push(system_time_ms(st));
            }
            let step = sq.step.as_ref().map(ms).unwrap_or(opts.default_subquery_step_ms);
            window(
                &sq.expr,
                back + off.max(0) + ms(&sq.range) + step,
                fwd + (-off).max(0),
                opts,
                w,
            );
        }
        Expr::Aggregate(a) => {
            window(&a.expr, back, fwd, opts, w);
            if let Some(p) = &a.param {
                window(p, back, fwd, opts, w);
            }
        }
        Expr::Unary(u) => window(&u.expr, back, fwd, opts, w),
        Expr::Binary(b) => {
            window(&b.lhs, back, fwd, opts, w);
            window(&b.rhs, back, fwd, opts, w);
        }
        Expr::Paren(p) => window(&p.expr, back, fwd, opts, w),
        Expr::Call(c) => {
            for a in &c.args.args {
                window(a, back, fwd, opts, w);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}
