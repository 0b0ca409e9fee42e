//! The horizontal autoscaler's decision core, with the semantics of Kubernetes'
//! HorizontalPodAutoscaler (`autoscaling/v2`): per-instance samples and metric targets
//! give a replica proposal ([`replicas_for_metric`], [`recommend`]); an [`Autoscaler`]
//! per Service turns proposals into the replica count to run through stabilization
//! windows, scaling policies and the minimum/maximum bounds. No IO and no clock: the
//! caller passes the time in.
//!
//! # Model
//!
//! - An instance (a replica process) is [`InstanceState::Ready`], [`InstanceState::Unready`]
//!   (running, not ready), [`InstanceState::Pending`] (not started yet: always counted as
//!   unready) or [`InstanceState::Terminating`] (failed or stopping: ignored). An instance
//!   with no value for a metric is *missing* for that metric, whatever its readiness
//!   (pending instances stay unready).
//! - Readiness only matters for CPU resource metrics (`Metric::Resource { cpu: true, .. }`),
//!   whose samples are distorted while a process starts; for every other metric a running
//!   instance with a value counts, ready or not. The caller decides `Ready`/`Unready` for
//!   CPU; [`cpu_sample_state`] applies Kubernetes' rule (the 5-minute CPU initialization
//!   period and the 30-second initial readiness delay) when the caller knows the
//!   readiness transitions, and a plain ready flag is an acceptable approximation.
//! - Values are counted in thousandths, as Kubernetes counts quantities in milli-units:
//!   `0.3` cores and `300.0` millicores give the same ratios; sums are exact.
//! - Object and External metrics are one variant ([`Metric::Object`]): both compare one
//!   value (the total for External) with a target value or a per-instance average.
//! - `Autoscaler::new(None)` is Kubernetes' behaviour when the HPA has no `behavior`
//!   block: the legacy path (scale-up capped at `max(2 × current, 4)` per decision, the
//!   5-minute scale-down stabilization, no rate policies). `Some(Behavior::default())` is
//!   the documented default behavior (scale up by 4 instances or 100% per 15 s, scale down
//!   by 100% per 15 s after a 5-minute window); a spec layer that wants those defaults for
//!   an absent block passes that.
//! - Percent policies are computed exactly in integers (`ceil(start × (100 + v) / 100)`
//!   up, `start × (100 − v) / 100` truncated down); a floating-point product can land one
//!   replica off (25 replicas + 12% would give 29 instead of 28).
//! - When some metrics fail and the others would scale down, nothing changes (the first
//!   error is returned): a partial view never removes replicas.

use std::collections::VecDeque;
use std::fmt;

use andon_core::Timestamp;

/// How far the usage ratio may stray from 1.0 before the replica count changes.
pub const DEFAULT_TOLERANCE: f64 = 0.1;
/// The scale-down stabilization window when the rules give none (and on the legacy path).
pub const DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS: u32 = 300;
/// After a start, CPU samples are only trusted from ready instances whose readiness
/// predates the sample window.
pub const CPU_INITIALIZATION_PERIOD_MS: i64 = 5 * 60 * 1000;
/// An unready instance whose readiness last changed within this delay after its start
/// has never been ready.
pub const INITIAL_READINESS_DELAY_MS: i64 = 30 * 1000;

/// The legacy scale-up cap: `max(FACTOR × current, MINIMUM)`.
const LEGACY_SCALE_UP_FACTOR: u64 = 2;
const LEGACY_SCALE_UP_MINIMUM: u64 = 4;
/// The most entries each history keeps; the oldest go first beyond it.
const HISTORY_CAP: usize = 1024;

// ---------------------------------------------------------------------------------------
// Replica calculation

/// Where an instance stands for the replica calculation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstanceState {
    /// Running and ready.
    Ready,
    /// Running, not ready: counted as unready for CPU metrics only.
    Unready,
    /// Not started yet: counted as unready for every per-instance metric.
    Pending,
    /// Failed or being stopped: ignored.
    Terminating,
}

/// One instance's sample for one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstanceSample {
    pub state: InstanceState,
    /// The metric's value (resource usage, or the per-instance custom value); `None`
    /// when the instance reported none.
    pub value: Option<f64>,
    /// The resource request, in the same unit as `value`; needed by utilization targets.
    pub request: Option<f64>,
}

/// The target of a resource metric (CPU, memory).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResourceTarget {
    /// Average usage as a percentage of the instances' requests.
    Utilization(u32),
    /// Average usage per instance.
    AverageValue(f64),
}

/// The target of an object or external metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ObjectTarget {
    /// The value itself; the ratio scales the ready instances.
    Value(f64),
    /// The value divided among the current replicas.
    AverageValue(f64),
}

/// One metric of a Service's autoscaling spec, with what was observed for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric<'a> {
    /// A resource each instance uses; `cpu` makes readiness count (see the module docs).
    Resource { cpu: bool, target: ResourceTarget, samples: &'a [InstanceSample] },
    /// A custom per-instance metric, averaged over the instances.
    Pods { target_average_value: f64, samples: &'a [InstanceSample] },
    /// One value describing the Service or something outside it (a queue length, a
    /// PromQL expression); for external metrics, the sum of the series.
    Object { current: f64, target: ObjectTarget },
}

/// What the calculation needs besides the metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaleContext {
    /// The replica count the Service runs now.
    pub current_replicas: u32,
    /// Running and ready instances (the object/external `Value` target scales these).
    pub ready_instances: u32,
    pub tolerance: f64,
}

impl ScaleContext {
    /// A context with the default tolerance.
    pub fn new(current_replicas: u32, ready_instances: u32) -> Self {
        ScaleContext { current_replicas, ready_instances, tolerance: DEFAULT_TOLERANCE }
    }
}

/// The current value of a metric, as a status reports it (the fields of Kubernetes'
/// `MetricValueStatus` that apply to the target).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Observed {
    pub value: Option<f64>,
    pub average_value: Option<f64>,
    /// Percent of the requests.
    pub average_utilization: Option<i64>,
}

/// One metric's replica proposal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricProposal {
    pub replicas: u32,
    pub observed: Observed,
}

/// Why a metric gave no proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricError {
    /// The spec lists no metric.
    NoMetricsConfigured,
    /// A target is zero, negative or not a number.
    InvalidTarget,
    /// A value or request is not a finite number, or a request is negative.
    InvalidValue,
    /// An instance counted by a utilization target has no request.
    MissingRequest,
    /// The requests of the instances with samples add up to zero.
    NoRequests,
    /// No instance has a sample the calculation may use (all missing, unready or gone).
    NoSamples,
    /// A `Value` target must scale the ready instances and there are none.
    NoReadyInstances,
}

impl fmt::Display for MetricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MetricError::NoMetricsConfigured => "no metrics are configured",
            MetricError::InvalidTarget => "the metric's target must be a positive number",
            MetricError::InvalidValue => "a sample or request is not a valid number",
            MetricError::MissingRequest => {
                "an instance has no request for the resource, so its utilization is unknown"
            }
            MetricError::NoRequests => "the instances with samples request none of the resource",
            MetricError::NoSamples => {
                "no samples for the Service's instances (they might be unready or starting)"
            }
            MetricError::NoReadyInstances => "no ready instances to scale the metric's ratio by",
        })
    }
}

impl std::error::Error for MetricError {}

/// The replica proposal of one metric.
pub fn replicas_for_metric(
    metric: &Metric<'_>,
    ctx: &ScaleContext,
) -> Result<MetricProposal, MetricError> {
    match *metric {
        Metric::Resource { cpu, target: ResourceTarget::Utilization(t), samples } => {
            utilization_replicas(samples, cpu, t, ctx)
        }
        Metric::Resource { cpu, target: ResourceTarget::AverageValue(t), samples } => {
            average_replicas(samples, cpu, t, ctx)
        }
        Metric::Pods { target_average_value, samples } => {
            average_replicas(samples, false, target_average_value, ctx)
        }
        Metric::Object { current, target: ObjectTarget::Value(t) } => {
            object_value_replicas(current, t, ctx)
        }
        Metric::Object { current, target: ObjectTarget::AverageValue(t) } => {
            object_average_replicas(current, t, ctx)
        }
    }
}

/// The proposal that wins among several metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recommendation {
    pub replicas: u32,
    /// The index of the metric that gave `replicas`.
    pub metric: usize,
    pub observed: Observed,
    /// How many metrics failed (and were skipped).
    pub failed: usize,
}

/// Why no recommendation could be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricFailure {
    /// The index of the first failing metric; `None` when no metric is configured.
    pub metric: Option<usize>,
    pub error: MetricError,
}

impl fmt::Display for MetricFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.metric {
            Some(i) => write!(f, "metric {i}: {}", self.error),
            None => write!(f, "{}", self.error),
        }
    }
}

impl std::error::Error for MetricFailure {}

/// The largest proposal of `metrics`. Failing metrics are skipped, unless all fail or the
/// others would scale down: then the first failure is returned and nothing should change.
pub fn recommend(
    metrics: &[Metric<'_>],
    ctx: &ScaleContext,
) -> Result<Recommendation, MetricFailure> {
    combine(ctx.current_replicas, metrics.iter().map(|m| replicas_for_metric(m, ctx)))
}

/// [`recommend`] over proposals already computed (for a caller that also keeps each
/// metric's status), in the metrics' order.
pub fn combine<I>(current_replicas: u32, results: I) -> Result<Recommendation, MetricFailure>
where
    I: IntoIterator<Item = Result<MetricProposal, MetricError>>,
{
    let mut best: Option<(usize, MetricProposal)> = None;
    let mut first_error: Option<(usize, MetricError)> = None;
    let mut failed = 0;
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(p) => {
                let better = match best {
                    None => true,
                    Some((_, b)) => p.replicas > b.replicas,
                };
                if better {
                    best = Some((i, p));
                }
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert((i, e));
            }
        }
    }
    match (best, first_error) {
        (None, None) => {
            Err(MetricFailure { metric: None, error: MetricError::NoMetricsConfigured })
        }
        (None, Some((i, error))) => Err(MetricFailure { metric: Some(i), error }),
        (Some((_, p)), Some((i, error))) if p.replicas < current_replicas => {
            Err(MetricFailure { metric: Some(i), error })
        }
        (Some((metric, p)), _) => {
            Ok(Recommendation { replicas: p.replicas, metric, observed: p.observed, failed })
        }
    }
}

/// What is known about an instance when one of its CPU samples is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuSampleContext {
    /// When the process started; `None` when not known yet.
    pub started: Option<Timestamp>,
    /// The readiness probe's verdict; `None` before the first one.
    pub ready: Option<bool>,
    /// When readiness last changed.
    pub last_transition: Timestamp,
    /// When the sample was taken (the end of its window).
    pub sample_time: Timestamp,
    /// How long a span of usage the sample covers.
    pub sample_window_ms: i64,
}

/// Whether a running instance's CPU sample counts as ready: during the initialization
/// period only if the instance is ready and the sample's window began after it became
/// ready; later, unless the instance has been unready since its start.
pub fn cpu_sample_state(now: Timestamp, c: &CpuSampleContext) -> InstanceState {
    let (Some(started), Some(ready)) = (c.started, c.ready) else {
        return InstanceState::Unready;
    };
    let started = started.millis();
    let unready = if started.saturating_add(CPU_INITIALIZATION_PERIOD_MS) > now.millis() {
        !ready
            || c.sample_time.millis()
                < c.last_transition.millis().saturating_add(c.sample_window_ms)
    } else {
        !ready && started.saturating_add(INITIAL_READINESS_DELAY_MS) > c.last_transition.millis()
    };
    if unready { InstanceState::Unready } else { InstanceState::Ready }
}

/// Counts, usage and requests of one group of instances, in thousandths.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    count: u64,
    usage: i128,
    request: i128,
    /// Requests scaled to the fallback utilization (each instance's share truncated).
    fill: i128,
}

#[derive(Debug, Clone, Copy, Default)]
struct Groups {
    ready: Tally,
    unready: Tally,
    missing: Tally,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    Ready,
    Unready,
    Missing,
}

/// Sorts the samples into ready, unready and missing in one pass. With
/// `fill_percent`, every counted instance needs a request.
fn group(
    samples: &[InstanceSample],
    readiness_counts: bool,
    fill_percent: Option<i128>,
) -> Result<Groups, MetricError> {
    let mut g = Groups::default();
    for s in samples {
        let which = match (s.state, s.value) {
            (InstanceState::Terminating, _) => continue,
            (InstanceState::Pending, _) => Group::Unready,
            (_, None) => Group::Missing,
            (InstanceState::Unready, Some(_)) if readiness_counts => Group::Unready,
            _ => Group::Ready,
        };
        let tally = match which {
            Group::Ready => &mut g.ready,
            Group::Unready => &mut g.unready,
            Group::Missing => &mut g.missing,
        };
        tally.count += 1;
        if let Some(percent) = fill_percent {
            let request = i128::from(milli(s.request.ok_or(MetricError::MissingRequest)?)?);
            if request < 0 {
                return Err(MetricError::InvalidValue);
            }
            tally.request += request;
            tally.fill += request * percent / 100;
        }
        if which == Group::Ready
            && let Some(v) = s.value
        {
            tally.usage += i128::from(milli(v)?);
        }
    }
    Ok(g)
}

/// A resource metric against a utilization target.
fn utilization_replicas(
    samples: &[InstanceSample],
    cpu: bool,
    target_percent: u32,
    ctx: &ScaleContext,
) -> Result<MetricProposal, MetricError> {
    if target_percent == 0 {
        return Err(MetricError::InvalidTarget);
    }
    let target = i128::from(target_percent);
    // Missing instances count as fully used on a scale-down, or as at the target when
    // the target is above 100%.
    let g = group(samples, cpu, Some(target.max(100)))?;
    if g.ready.count == 0 {
        return Err(MetricError::NoSamples);
    }
    if g.ready.request <= 0 {
        return Err(MetricError::NoRequests);
    }
    let utilization = g.ready.usage * 100 / g.ready.request;
    let ratio = utilization as f64 / target as f64;
    let replicas = rebalance(ctx, ratio, &g, |with_unready| {
        let mut usage = g.ready.usage;
        let mut request = g.ready.request;
        let mut n = g.ready.count;
        if g.missing.count > 0 && ratio != 1.0 {
            if ratio < 1.0 {
                usage += g.missing.fill;
            }
            request += g.missing.request;
            n += g.missing.count;
        }
        if with_unready {
            request += g.unready.request;
            n += g.unready.count;
        }
        ((usage * 100 / request) as f64 / target as f64, n)
    });
    Ok(MetricProposal {
        replicas,
        observed: Observed {
            value: None,
            average_value: Some(from_milli(g.ready.usage / i128::from(g.ready.count))),
            average_utilization: Some(saturate_i64(utilization)),
        },
    })
}

/// A resource or per-instance metric against an average value per instance.
fn average_replicas(
    samples: &[InstanceSample],
    readiness_counts: bool,
    target: f64,
    ctx: &ScaleContext,
) -> Result<MetricProposal, MetricError> {
    let target = i128::from(positive_milli(target)?);
    let g = group(samples, readiness_counts, None)?;
    if g.ready.count == 0 {
        return Err(MetricError::NoSamples);
    }
    let average = g.ready.usage / i128::from(g.ready.count);
    let ratio = average as f64 / target as f64;
    let replicas = rebalance(ctx, ratio, &g, |with_unready| {
        let mut usage = g.ready.usage;
        let mut n = g.ready.count;
        if g.missing.count > 0 && ratio != 1.0 {
            // Missing instances sit at the target on a scale-down, at zero on a scale-up.
            if ratio < 1.0 {
                usage += i128::from(g.missing.count) * target;
            }
            n += g.missing.count;
        }
        if with_unready {
            n += g.unready.count;
        }
        ((usage / i128::from(n)) as f64 / target as f64, n)
    });
    Ok(MetricProposal {
        replicas,
        observed: Observed { average_value: Some(from_milli(average)), ..Observed::default() },
    })
}

/// The replica count for a per-instance ratio. When unready instances could hold back a
/// scale-up, or missing ones distort the average, the ratio is recomputed with unready
/// instances at zero and missing ones at zero (scale-up) or the fallback (scale-down);
/// `recompute(with_unready)` gives that ratio and the instance count behind it. A
/// recomputed ratio within tolerance, or pointing the other way, keeps the count.
fn rebalance(
    ctx: &ScaleContext,
    ratio: f64,
    g: &Groups,
    recompute: impl FnOnce(bool) -> (f64, u64),
) -> u32 {
    let current = ctx.current_replicas;
    let with_unready = g.unready.count > 0 && ratio > 1.0;
    if !with_unready && g.missing.count == 0 {
        if within_tolerance(ctx.tolerance, ratio) {
            return current;
        }
        return ceil_replicas(ratio * g.ready.count as f64);
    }
    let (new_ratio, n) = recompute(with_unready);
    if within_tolerance(ctx.tolerance, new_ratio)
        || (ratio < 1.0 && new_ratio > 1.0)
        || (ratio > 1.0 && new_ratio < 1.0)
    {
        return current;
    }
    let proposed = ceil_replicas(new_ratio * n as f64);
    if (new_ratio < 1.0 && proposed > current) || (new_ratio > 1.0 && proposed < current) {
        current
    } else {
        proposed
    }
}

/// An object or external value against a target value: the ratio scales the ready
/// instances, or gives the count itself when scaling from zero.
fn object_value_replicas(
    current: f64,
    target: f64,
    ctx: &ScaleContext,
) -> Result<MetricProposal, MetricError> {
    let target = positive_milli(target)?;
    let usage = milli(current)?;
    let ratio = usage as f64 / target as f64;
    let replicas = if ctx.current_replicas == 0 {
        ceil_replicas(ratio)
    } else if within_tolerance(ctx.tolerance, ratio) {
        ctx.current_replicas
    } else if ctx.ready_instances == 0 {
        return Err(MetricError::NoReadyInstances);
    } else {
        ceil_replicas(ratio * f64::from(ctx.ready_instances))
    };
    Ok(MetricProposal {
        replicas,
        observed: Observed { value: Some(from_milli(i128::from(usage))), ..Observed::default() },
    })
}

/// An object or external value against a target average per replica.
fn object_average_replicas(
    current: f64,
    target: f64,
    ctx: &ScaleContext,
) -> Result<MetricProposal, MetricError> {
    let target = i128::from(positive_milli(target)?);
    let usage = i128::from(milli(current)?);
    let proposed = ceil_replicas(usage as f64 / target as f64);
    let (replicas, average) = match i128::from(ctx.current_replicas) {
        0 => (proposed, usage),
        n => {
            let ratio = usage as f64 / (target * n) as f64;
            let replicas = if within_tolerance(ctx.tolerance, ratio) {
                ctx.current_replicas
            } else {
                proposed
            };
            (replicas, ceil_div(usage, n))
        }
    };
    Ok(MetricProposal {
        replicas,
        observed: Observed { average_value: Some(from_milli(average)), ..Observed::default() },
    })
}

fn within_tolerance(tolerance: f64, ratio: f64) -> bool {
    (1.0 - ratio).abs() <= tolerance
}

/// `ceil(x)` as a replica count: negative and NaN give 0, huge values saturate.
fn ceil_replicas(x: f64) -> u32 {
    x.ceil() as u32
}

/// A value in thousandths.
fn milli(v: f64) -> Result<i64, MetricError> {
    if v.is_finite() { Ok((v * 1000.0).round() as i64) } else { Err(MetricError::InvalidValue) }
}

fn positive_milli(target: f64) -> Result<i64, MetricError> {
    match milli(target) {
        Ok(t) if t > 0 => Ok(t),
        _ => Err(MetricError::InvalidTarget),
    }
}

fn from_milli(v: i128) -> f64 {
    v as f64 / 1000.0
}

fn saturate_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// `ceil(a / b)` for `b > 0`, any sign of `a`.
fn ceil_div(a: i128, b: i128) -> i128 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 { q } else { q + 1 }
}

// ---------------------------------------------------------------------------------------
// Behavior

/// How a scaling policy measures the change it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// A number of instances.
    Pods,
    /// A percentage of the replica count at the start of the period.
    Percent,
}

/// At most `value` (instances or percent) of change within any `period_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    pub kind: PolicyKind,
    pub value: u32,
    pub period_seconds: u32,
}

/// Which policy limits a direction when there are several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SelectPolicy {
    /// The policy allowing the largest change.
    #[default]
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// The rules of one scaling direction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rules {
    /// `None`: 0 for scaling up, [`DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS`] for down.
    pub stabilization_window_seconds: Option<u32>,
    pub select_policy: SelectPolicy,
    /// With none, nothing moves in this direction under `Max` and nothing limits it
    /// under `Min`.
    pub policies: Vec<Policy>,
}

impl Rules {
    /// Kubernetes' scale-up defaults: no window; 4 instances or 100% per 15 s, whichever
    /// is larger.
    pub fn scale_up_default() -> Self {
        Rules {
            stabilization_window_seconds: Some(0),
            select_policy: SelectPolicy::Max,
            policies: vec![
                Policy { kind: PolicyKind::Pods, value: 4, period_seconds: 15 },
                Policy { kind: PolicyKind::Percent, value: 100, period_seconds: 15 },
            ],
        }
    }

    /// Kubernetes' scale-down defaults: the 5-minute window; 100% per 15 s.
    pub fn scale_down_default() -> Self {
        Rules {
            stabilization_window_seconds: None,
            select_policy: SelectPolicy::Max,
            policies: vec![Policy { kind: PolicyKind::Percent, value: 100, period_seconds: 15 }],
        }
    }

    fn longest_period_ms(&self) -> i64 {
        self.policies.iter().map(|p| i64::from(p.period_seconds) * 1000).max().unwrap_or(0)
    }
}

/// The HPA `behavior` block.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Behavior {
    pub scale_up: Rules,
    pub scale_down: Rules,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior { scale_up: Rules::scale_up_default(), scale_down: Rules::scale_down_default() }
    }
}

impl Behavior {
    fn up_window_ms(&self) -> i64 {
        i64::from(self.scale_up.stabilization_window_seconds.unwrap_or(0)) * 1000
    }

    fn down_window_ms(&self) -> i64 {
        i64::from(
            self.scale_down
                .stabilization_window_seconds
                .unwrap_or(DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS),
        ) * 1000
    }
}

/// Why a decision came out as it did (Kubernetes' condition reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The proposal was applied as it is.
    DesiredWithinRange,
    /// A lower recent recommendation held a scale-up back.
    ScaleUpStabilized,
    /// A higher recent recommendation held a scale-down back.
    ScaleDownStabilized,
    /// A scale-up policy (or the legacy cap) limited the change.
    ScaleUpLimit,
    /// A scale-down policy limited the change.
    ScaleDownLimit,
    /// The count was raised to the minimum.
    TooFewReplicas,
    /// The count was lowered to the maximum.
    TooManyReplicas,
    /// The Service runs no replicas and its minimum is not zero: autoscaling is off.
    ScalingDisabled,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::DesiredWithinRange => "DesiredWithinRange",
            Reason::ScaleUpStabilized => "ScaleUpStabilized",
            Reason::ScaleDownStabilized => "ScaleDownStabilized",
            Reason::ScaleUpLimit => "ScaleUpLimit",
            Reason::ScaleDownLimit => "ScaleDownLimit",
            Reason::TooFewReplicas => "TooFewReplicas",
            Reason::TooManyReplicas => "TooManyReplicas",
            Reason::ScalingDisabled => "ScalingDisabled",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Reason::DesiredWithinRange => "the recommended count is within the allowed range",
            Reason::ScaleUpStabilized => {
                "a lower recent recommendation applies: scaling up waits for the stabilization window"
            }
            Reason::ScaleDownStabilized => {
                "a higher recent recommendation applies: scaling down waits for the stabilization window"
            }
            Reason::ScaleUpLimit => {
                "the recommended count grows faster than the scale-up policies allow"
            }
            Reason::ScaleDownLimit => {
                "the recommended count shrinks faster than the scale-down policies allow"
            }
            Reason::TooFewReplicas => "the recommended count is below the minimum replica count",
            Reason::TooManyReplicas => "the recommended count is above the maximum replica count",
            Reason::ScalingDisabled => {
                "autoscaling is off while the Service runs no replicas and its minimum is above zero"
            }
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the autoscaler decided for one round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The replica count to run.
    pub replicas: u32,
    pub reason: Reason,
    pub message: &'static str,
    /// The recommendation after stabilization, before policies and bounds.
    pub stabilized: u32,
}

/// The autoscaler of one Service: the behavior and the histories it needs.
#[derive(Debug, Clone, Default)]
pub struct Autoscaler {
    behavior: Option<Behavior>,
    /// (time in ms, proposal) of past rounds; consecutive equal proposals are merged.
    recommendations: VecDeque<(i64, u32)>,
    /// (time in ms, signed change) of past scalings; kept only with a behavior.
    events: VecDeque<(i64, i64)>,
}

impl Autoscaler {
    /// `None` is the legacy behaviour of an HPA without a `behavior` block.
    pub fn new(behavior: Option<Behavior>) -> Self {
        Autoscaler { behavior, recommendations: VecDeque::new(), events: VecDeque::new() }
    }

    pub fn behavior(&self) -> Option<&Behavior> {
        self.behavior.as_ref()
    }

    /// A changed spec keeps the histories.
    pub fn set_behavior(&mut self, behavior: Option<Behavior>) {
        self.behavior = behavior;
    }

    /// The replica count to run given the metrics' `proposal` (see [`recommend`]) and the
    /// bounds (a maximum below the minimum counts as the minimum). A change of count is
    /// recorded as a scaling event: the caller is expected to apply it.
    pub fn decide(
        &mut self,
        now: Timestamp,
        current: u32,
        proposal: u32,
        min: u32,
        max: u32,
    ) -> Decision {
        let now = now.millis();
        let max = max.max(min);
        self.prune(now);
        let decision = if current == 0 && min != 0 {
            decision(0, 0, Reason::ScalingDisabled)
        } else if current > max {
            Decision {
                message: "the current replica count is above the maximum replica count",
                ..decision(max, max, Reason::TooManyReplicas)
            }
        } else if current < min {
            Decision {
                message: "the current replica count is below the minimum replica count",
                ..decision(min, min, Reason::TooFewReplicas)
            }
        } else {
            match &self.behavior {
                Some(b) => {
                    let stabilized = stabilize(&self.recommendations, now, b, current, proposal);
                    remember(&mut self.recommendations, now, proposal);
                    let (replicas, limit) =
                        limit_rate(&self.events, now, b, current, stabilized, min, max);
                    summarize(current, proposal, stabilized, replicas, limit)
                }
                None => {
                    let stabilized = stabilize_legacy(&self.recommendations, now, proposal);
                    remember(&mut self.recommendations, now, proposal);
                    let (replicas, limit) = limit_legacy(current, stabilized, min, max);
                    let mut d = summarize(current, proposal, stabilized, replicas, limit);
                    if d.reason == Reason::ScaleUpStabilized {
                        // The legacy path only stabilizes downward moves; a higher
                        // recent recommendation can raise a proposal above the count.
                        d.reason = Reason::ScaleDownStabilized;
                        d.message = Reason::ScaleDownStabilized.message();
                    }
                    d
                }
            }
        };
        if decision.replicas != current && self.behavior.is_some() {
            if self.events.len() >= HISTORY_CAP {
                self.events.pop_front();
            }
            self.events.push_back((now, i64::from(decision.replicas) - i64::from(current)));
        }
        decision
    }

    /// Drops what no window or period can still see.
    fn prune(&mut self, now: i64) {
        let (keep_recommendations, keep_events) = match &self.behavior {
            Some(b) => (
                b.up_window_ms().max(b.down_window_ms()),
                b.scale_up.longest_period_ms().max(b.scale_down.longest_period_ms()),
            ),
            None => (i64::from(DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS) * 1000, 0),
        };
        let cutoff = now.saturating_sub(keep_recommendations);
        while self.recommendations.front().is_some_and(|&(t, _)| t < cutoff) {
            self.recommendations.pop_front();
        }
        if self.behavior.is_none() {
            self.events.clear();
        }
        let cutoff = now.saturating_sub(keep_events);
        while self.events.front().is_some_and(|&(t, _)| t < cutoff) {
            self.events.pop_front();
        }
    }
}

fn decision(replicas: u32, stabilized: u32, reason: Reason) -> Decision {
    Decision { replicas, reason, message: reason.message(), stabilized }
}

/// The limit's reason when it changed the count, else the stabilization's, else none.
fn summarize(
    current: u32,
    proposal: u32,
    stabilized: u32,
    replicas: u32,
    limit: Reason,
) -> Decision {
    let reason = if replicas != stabilized {
        limit
    } else if stabilized != proposal {
        if proposal >= current { Reason::ScaleUpStabilized } else { Reason::ScaleDownStabilized }
    } else {
        Reason::DesiredWithinRange
    };
    decision(replicas, stabilized, reason)
}

/// Records a proposal; a repeat of the last one only moves its time forward.
fn remember(history: &mut VecDeque<(i64, u32)>, now: i64, proposal: u32) {
    if let Some(last) = history.back_mut()
        && last.1 == proposal
    {
        last.0 = last.0.max(now);
        return;
    }
    if history.len() >= HISTORY_CAP {
        history.pop_front();
    }
    history.push_back((now, proposal));
}

/// The current count moved toward the proposal, but no higher than the lowest
/// recommendation within the scale-up window and no lower than the highest within the
/// scale-down window.
fn stabilize(
    history: &VecDeque<(i64, u32)>,
    now: i64,
    b: &Behavior,
    current: u32,
    proposal: u32,
) -> u32 {
    let up_cutoff = now.saturating_sub(b.up_window_ms());
    let down_cutoff = now.saturating_sub(b.down_window_ms());
    let (mut up, mut down) = (proposal, proposal);
    for &(t, r) in history {
        if t > up_cutoff {
            up = up.min(r);
        }
        if t > down_cutoff {
            down = down.max(r);
        }
    }
    current.max(up).min(down)
}

/// The legacy stabilization: the highest recommendation within the scale-down window.
fn stabilize_legacy(history: &VecDeque<(i64, u32)>, now: i64, proposal: u32) -> u32 {
    let cutoff = now.saturating_sub(i64::from(DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS) * 1000);
    history.iter().filter(|&&(t, _)| t >= cutoff).fold(proposal, |m, &(_, r)| m.max(r))
}

/// The stabilized count within the policies' rate limits and the bounds, and the reason
/// that applies if the count had to be limited.
fn limit_rate(
    events: &VecDeque<(i64, i64)>,
    now: i64,
    b: &Behavior,
    current: u32,
    stabilized: u32,
    min: u32,
    max: u32,
) -> (u32, Reason) {
    let (current_i, stabilized_i) = (i64::from(current), i64::from(stabilized));
    if stabilized > current {
        let limit = scale_limit(events, now, current_i, &b.scale_up, Direction::Up).max(current_i);
        let (allowed, reason) = if i64::from(max) > limit {
            (limit, Reason::ScaleUpLimit)
        } else {
            (i64::from(max), Reason::TooManyReplicas)
        };
        if stabilized_i > allowed { (to_u32(allowed), reason) } else { (stabilized, reason) }
    } else if stabilized < current {
        let limit =
            scale_limit(events, now, current_i, &b.scale_down, Direction::Down).min(current_i);
        let (allowed, reason) = if i64::from(min) < limit {
            (limit, Reason::ScaleDownLimit)
        } else {
            (i64::from(min), Reason::TooFewReplicas)
        };
        if stabilized_i < allowed { (to_u32(allowed), reason) } else { (stabilized, reason) }
    } else {
        (stabilized, Reason::DesiredWithinRange)
    }
}

/// The legacy bounds: the minimum, and the maximum or `max(2 × current, 4)`, whichever
/// is lower.
fn limit_legacy(current: u32, stabilized: u32, min: u32, max: u32) -> (u32, Reason) {
    let cap = (LEGACY_SCALE_UP_FACTOR * u64::from(current)).max(LEGACY_SCALE_UP_MINIMUM);
    let (allowed, reason) = if u64::from(max) > cap {
        (u32::try_from(cap).unwrap_or(u32::MAX), Reason::ScaleUpLimit)
    } else {
        (max, Reason::TooManyReplicas)
    };
    if stabilized < min {
        (min, Reason::TooFewReplicas)
    } else if stabilized > allowed {
        (allowed, reason)
    } else {
        (stabilized, reason)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

/// The furthest count the rules allow in `dir`: each policy measures from the count at
/// the start of its period (the current count minus the changes made within it), and
/// the selection keeps the largest change (`Max`) or the smallest (`Min`).
fn scale_limit(
    events: &VecDeque<(i64, i64)>,
    now: i64,
    current: i64,
    rules: &Rules,
    dir: Direction,
) -> i64 {
    let widest = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Max => true,
        SelectPolicy::Min => false,
    };
    // Up, the largest change is the highest count; down, the lowest.
    let highest = widest == (dir == Direction::Up);
    let mut limit = if highest { i64::MIN } else { i64::MAX };
    for p in &rules.policies {
        let cutoff = now.saturating_sub(i64::from(p.period_seconds) * 1000);
        let start = events
            .iter()
            .filter(|&&(t, _)| t > cutoff)
            .fold(current, |s, &(_, change)| s.saturating_sub(change));
        let value = i64::from(p.value);
        let proposed = match (p.kind, dir) {
            (PolicyKind::Pods, Direction::Up) => start.saturating_add(value),
            (PolicyKind::Pods, Direction::Down) => start.saturating_sub(value),
            (PolicyKind::Percent, Direction::Up) => {
                saturate_i64(ceil_div(i128::from(start) * i128::from(100 + value), 100))
            }
            (PolicyKind::Percent, Direction::Down) => {
                saturate_i64(i128::from(start) * i128::from(100 - value) / 100)
            }
        };
        limit = if highest { limit.max(proposed) } else { limit.min(proposed) };
    }
    limit
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: f64 = 1000.0;

    fn at(state: InstanceState, value: Option<f64>) -> InstanceSample {
        InstanceSample { state, value, request: Some(REQUEST) }
    }
    fn ready(v: f64) -> InstanceSample {
        at(InstanceState::Ready, Some(v))
    }
    fn unready(v: f64) -> InstanceSample {
        at(InstanceState::Unready, Some(v))
    }
    fn missing() -> InstanceSample {
        at(InstanceState::Ready, None)
    }

    fn cpu(target: u32, samples: &[InstanceSample]) -> Metric<'_> {
        Metric::Resource { cpu: true, target: ResourceTarget::Utilization(target), samples }
    }

    /// The proposal with the current count and ready instances taken from the samples.
    fn propose(metric: Metric<'_>, current: u32) -> MetricProposal {
        let ready = match metric {
            Metric::Resource { samples, .. } | Metric::Pods { samples, .. } => {
                samples.iter().filter(|s| s.state == InstanceState::Ready).count() as u32
            }
            Metric::Object { .. } => current,
        };
        replicas_for_metric(&metric, &ScaleContext::new(current, ready)).unwrap()
    }

    fn utilization(p: MetricProposal) -> i64 {
        p.observed.average_utilization.unwrap()
    }

    // Replica calculation: the held-out cases.

    #[test]
    fn scale_up() {
        let p = propose(cpu(30, &[ready(300.0), ready(500.0), ready(700.0)]), 3);
        assert_eq!((p.replicas, utilization(p)), (5, 50));
    }

    #[test]
    fn scale_up_unready_less_scale() {
        let p = propose(cpu(30, &[unready(300.0), ready(500.0), ready(700.0)]), 3);
        assert_eq!((p.replicas, utilization(p)), (4, 60));
    }

    #[test]
    fn scale_up_unready_no_scale() {
        let p = propose(cpu(30, &[ready(400.0), unready(500.0), unready(700.0)]), 3);
        assert_eq!((p.replicas, utilization(p)), (3, 40));
    }

    #[test]
    fn scale_up_ignores_failed_instances() {
        let failed = |v| at(InstanceState::Terminating, Some(v));
        let p = propose(cpu(30, &[ready(500.0), ready(700.0), failed(100.0), failed(300.0)]), 2);
        assert_eq!((p.replicas, utilization(p)), (4, 60));
    }

    #[test]
    fn scale_up_custom_metric() {
        let samples = [ready(20.0), ready(10.0), ready(30.0)];
        let p = propose(Metric::Pods { target_average_value: 15.0, samples: &samples }, 3);
        assert_eq!((p.replicas, p.observed.average_value), (4, Some(20.0)));
    }

    #[test]
    fn scale_up_object_metric_ignores_unready_instances() {
        let metric = Metric::Object { current: 50.0, target: ObjectTarget::Value(10.0) };
        let p = replicas_for_metric(&metric, &ScaleContext::new(3, 1)).unwrap();
        assert_eq!((p.replicas, p.observed.value), (5, Some(50.0)));
    }

    #[test]
    fn scale_up_per_instance_external_metric() {
        let metric = Metric::Object { current: 8.6, target: ObjectTarget::AverageValue(2.15) };
        let p = propose(metric, 3);
        assert_eq!((p.replicas, p.observed.average_value), (4, Some(2.867)));
    }

    #[test]
    fn scale_down() {
        let samples = [ready(100.0), ready(300.0), ready(500.0), ready(250.0), ready(250.0)];
        let p = propose(cpu(50, &samples), 5);
        assert_eq!((p.replicas, utilization(p)), (3, 28));
    }

    #[test]
    fn scale_down_include_unready_instances() {
        let samples = [ready(100.0), ready(300.0), ready(500.0), unready(250.0), unready(250.0)];
        let p = propose(cpu(50, &samples), 5);
        assert_eq!((p.replicas, utilization(p)), (2, 30));
    }

    #[test]
    fn scale_down_excludes_pending_instances() {
        let pending = at(InstanceState::Pending, None);
        let p = propose(cpu(50, &[ready(100.0), pending, pending, pending, pending]), 5);
        assert_eq!((p.replicas, utilization(p)), (1, 10));
    }

    #[test]
    fn tolerance() {
        let sample =
            |v, r| InstanceSample { state: InstanceState::Ready, value: Some(v), request: Some(r) };
        let samples = [sample(1.010, 0.9), sample(1.030, 1.0), sample(1.020, 1.1)];
        let p = propose(cpu(100, &samples), 3);
        assert_eq!((p.replicas, utilization(p)), (3, 102));
    }

    #[test]
    fn superfluous_metrics_are_ignored() {
        // Metrics arrive for six names; only four are the Service's instances, so the
        // samples (one per instance) carry only theirs.
        let instances = ["a", "b", "c", "d"];
        let metrics = [
            ("a", 4000.0),
            ("b", 9500.0),
            ("c", 3000.0),
            ("d", 7000.0),
            ("x", 3200.0),
            ("y", 2000.0),
        ];
        let samples: Vec<_> = instances
            .iter()
            .map(|i| {
                let value = metrics.iter().find(|(n, _)| n == i).map(|&(_, v)| v);
                at(InstanceState::Ready, value)
            })
            .collect();
        let p = propose(cpu(100, &samples), 4);
        assert_eq!((p.replicas, utilization(p)), (24, 587));
    }

    #[test]
    fn missing_metrics_count_as_full_usage_on_scale_down() {
        let p = propose(cpu(100, &[ready(400.0), ready(95.0), missing(), missing()]), 4);
        assert_eq!((p.replicas, utilization(p)), (3, 24));
    }

    #[test]
    fn missing_metrics_no_change_when_rebalanced_within_tolerance() {
        let p = propose(cpu(100, &[ready(1900.0), missing()]), 2);
        assert_eq!((p.replicas, utilization(p)), (2, 190));
    }

    #[test]
    fn missing_metrics_unready_scale_up() {
        let p = propose(cpu(50, &[unready(100.0), ready(2000.0), missing()]), 3);
        assert_eq!((p.replicas, utilization(p)), (4, 200));
    }

    #[test]
    fn missing_metrics_unready_scale_down() {
        let samples = [unready(100.0), ready(100.0), ready(100.0), missing()];
        let p = propose(cpu(50, &samples), 4);
        assert_eq!((p.replicas, utilization(p)), (3, 10));
    }

    // Replica calculation: other targets and edges.

    #[test]
    fn readiness_only_counts_for_cpu() {
        let samples = [unready(300.0), ready(500.0), ready(700.0)];
        let memory = Metric::Resource {
            cpu: false,
            target: ResourceTarget::Utilization(30),
            samples: &samples,
        };
        assert_eq!(propose(memory, 3).replicas, 5);
        let pods = Metric::Pods { target_average_value: 300.0, samples: &samples };
        assert_eq!(propose(pods, 3).replicas, 5);
        let cpu_average = Metric::Resource {
            cpu: true,
            target: ResourceTarget::AverageValue(300.0),
            samples: &samples,
        };
        // Ready average 600 → ratio 2; rebalanced with the unready one at zero: 400 → 4.
        assert_eq!(propose(cpu_average, 3).replicas, 4);
    }

    #[test]
    fn pods_metric_missing_instances_sit_at_target_on_scale_down() {
        let samples = [ready(2.0), ready(4.0), missing(), missing()];
        let p = propose(Metric::Pods { target_average_value: 10.0, samples: &samples }, 4);
        // Average 3 → 0.3; rebalanced (3 + 3 + 10 + 10) / 4 = 6.5 → 0.65 × 4 → 3.
        assert_eq!((p.replicas, p.observed.average_value), (3, Some(3.0)));
    }

    #[test]
    fn object_value_scales_from_zero_and_respects_tolerance() {
        let metric = Metric::Object { current: 25.0, target: ObjectTarget::Value(10.0) };
        assert_eq!(replicas_for_metric(&metric, &ScaleContext::new(0, 0)).unwrap().replicas, 3);
        let near = Metric::Object { current: 10.5, target: ObjectTarget::Value(10.0) };
        assert_eq!(replicas_for_metric(&near, &ScaleContext::new(7, 2)).unwrap().replicas, 7);
        assert_eq!(
            replicas_for_metric(&metric, &ScaleContext::new(3, 0)),
            Err(MetricError::NoReadyInstances)
        );
    }

    #[test]
    fn object_average_within_tolerance_keeps_the_count() {
        let metric = Metric::Object { current: 30.5, target: ObjectTarget::AverageValue(10.0) };
        assert_eq!(propose(metric, 3).replicas, 3);
    }

    #[test]
    fn a_utilization_target_above_100_fills_missing_instances_at_the_target() {
        // Ready at 100% of a 200% target → 0.5; missing ones at 200%: (1000 + 2000) / 2000
        // = 150% → 0.75 × 2 → 2, the current count.
        let p = propose(cpu(200, &[ready(1000.0), missing()]), 2);
        assert_eq!(p.replicas, 2);
    }

    #[test]
    fn calculation_errors() {
        let ctx = ScaleContext::new(3, 3);
        let none = [missing(), unready(1.0)];
        assert_eq!(replicas_for_metric(&cpu(50, &none), &ctx), Err(MetricError::NoSamples));
        let no_request = [InstanceSample { request: None, ..ready(1.0) }];
        assert_eq!(
            replicas_for_metric(&cpu(50, &no_request), &ctx),
            Err(MetricError::MissingRequest)
        );
        assert_eq!(
            replicas_for_metric(&cpu(0, &[ready(1.0)]), &ctx),
            Err(MetricError::InvalidTarget)
        );
        let nan = Metric::Pods { target_average_value: 1.0, samples: &[ready(f64::NAN)] };
        assert_eq!(replicas_for_metric(&nan, &ctx), Err(MetricError::InvalidValue));
        let zero = [InstanceSample { request: Some(0.0), ..ready(1.0) }];
        assert_eq!(replicas_for_metric(&cpu(50, &zero), &ctx), Err(MetricError::NoRequests));
        let huge = Metric::Object { current: f64::MAX, target: ObjectTarget::Value(1e-3) };
        assert_eq!(replicas_for_metric(&huge, &ctx).unwrap().replicas, u32::MAX);
    }

    #[test]
    fn the_largest_proposal_wins_and_failures_are_skipped() {
        let samples = [ready(300.0), ready(500.0), ready(700.0)];
        let metrics = [
            cpu(30, &samples),                                                   // 5
            Metric::Object { current: 70.0, target: ObjectTarget::Value(10.0) }, // 21
            Metric::Pods { target_average_value: 0.0, samples: &samples },       // error
        ];
        let r = recommend(&metrics, &ScaleContext::new(3, 3)).unwrap();
        assert_eq!((r.replicas, r.metric, r.failed), (21, 1, 1));
        assert_eq!(r.observed.value, Some(70.0));
    }

    #[test]
    fn all_failing_or_failing_while_scaling_down_changes_nothing() {
        let ctx = ScaleContext::new(5, 5);
        let bad = Metric::Pods { target_average_value: -1.0, samples: &[] };
        let failure = MetricFailure { metric: Some(0), error: MetricError::InvalidTarget };
        assert_eq!(recommend(&[bad, bad], &ctx), Err(failure));
        let low = Metric::Object { current: 1.0, target: ObjectTarget::Value(10.0) };
        assert_eq!(recommend(&[bad, low], &ctx), Err(failure));
        assert_eq!(
            recommend(&[], &ctx),
            Err(MetricFailure { metric: None, error: MetricError::NoMetricsConfigured })
        );
        let high = Metric::Object { current: 20.0, target: ObjectTarget::Value(10.0) };
        assert_eq!(recommend(&[bad, high], &ctx).unwrap().replicas, 10);
    }

    #[test]
    fn cpu_samples_during_initialization() {
        let min = 60_000;
        let c = CpuSampleContext {
            started: Some(Timestamp(0)),
            ready: Some(true),
            last_transition: Timestamp(10_000),
            sample_time: Timestamp(2 * min),
            sample_window_ms: min,
        };
        let now = Timestamp(2 * min);
        assert_eq!(cpu_sample_state(now, &c), InstanceState::Ready);
        // The sample's window began before the instance became ready.
        let early = CpuSampleContext { sample_time: Timestamp(30_000), ..c };
        assert_eq!(cpu_sample_state(now, &early), InstanceState::Unready);
        assert_eq!(
            cpu_sample_state(now, &CpuSampleContext { ready: Some(false), ..c }),
            InstanceState::Unready
        );
        assert_eq!(
            cpu_sample_state(now, &CpuSampleContext { ready: None, ..c }),
            InstanceState::Unready
        );
        // After the period: unready counts only when never ready since the start.
        let later = Timestamp(10 * min);
        let became_unready = CpuSampleContext {
            ready: Some(false),
            last_transition: Timestamp(8 * min),
            sample_time: later,
            ..c
        };
        assert_eq!(cpu_sample_state(later, &became_unready), InstanceState::Ready);
        let never_ready = CpuSampleContext { last_transition: Timestamp(5_000), ..became_unready };
        assert_eq!(cpu_sample_state(later, &never_ready), InstanceState::Unready);
    }

    // Behavior.

    const S: i64 = 1000;

    fn t(seconds: i64) -> Timestamp {
        Timestamp(seconds * S)
    }

    fn with(scale_up: Rules, scale_down: Rules) -> Autoscaler {
        Autoscaler::new(Some(Behavior { scale_up, scale_down }))
    }

    fn rules(select: SelectPolicy, window: Option<u32>, policies: &[Policy]) -> Rules {
        Rules {
            stabilization_window_seconds: window,
            select_policy: select,
            policies: policies.to_vec(),
        }
    }

    #[test]
    fn default_behavior_values() {
        let b = Behavior::default();
        assert_eq!(b.up_window_ms(), 0);
        assert_eq!(b.down_window_ms(), 300 * S);
        assert_eq!(b.scale_up.select_policy, SelectPolicy::Max);
        assert_eq!(b.scale_up.policies.len(), 2);
        assert_eq!(
            b.scale_down.policies,
            [Policy { kind: PolicyKind::Percent, value: 100, period_seconds: 15 }]
        );
    }

    #[test]
    fn heavy_load_from_one_replica_doubles_every_period() {
        let mut a = Autoscaler::new(Some(Behavior::default()));
        let mut current = 1;
        for (step, expected) in [5, 10, 20, 40].into_iter().enumerate() {
            let d = a.decide(t(15 * step as i64), current, 1000, 1, 100);
            assert_eq!((d.replicas, d.reason), (expected, Reason::ScaleUpLimit), "step {step}");
            current = d.replicas;
        }
        // Within the same period nothing more is allowed.
        let d = a.decide(t(50), current, 1000, 1, 100);
        assert_eq!((d.replicas, d.reason), (40, Reason::ScaleUpLimit));
    }

    #[test]
    fn from_ten_replicas_the_percent_policy_wins() {
        let mut a = Autoscaler::new(Some(Behavior::default()));
        let d = a.decide(t(0), 10, 1000, 1, 100);
        assert_eq!((d.replicas, d.reason, d.stabilized), (20, Reason::ScaleUpLimit, 1000));
        let d = Autoscaler::new(Some(Behavior::default())).decide(t(0), 10, 12, 1, 100);
        assert_eq!((d.replicas, d.reason), (12, Reason::DesiredWithinRange));
    }

    #[test]
    fn scale_down_waits_for_the_window_then_drops_to_the_recommendation() {
        let mut a = Autoscaler::new(Some(Behavior::default()));
        assert_eq!(a.decide(t(0), 10, 10, 1, 20).replicas, 10);
        for s in (15..300).step_by(15) {
            let d = a.decide(t(s), 10, 2, 1, 20);
            assert_eq!((d.replicas, d.reason), (10, Reason::ScaleDownStabilized), "at {s}s");
        }
        let d = a.decide(t(300), 10, 2, 1, 20);
        assert_eq!((d.replicas, d.reason), (2, Reason::DesiredWithinRange));
    }

    #[test]
    fn scale_down_follows_the_highest_recommendation_in_the_window() {
        let mut a = Autoscaler::new(Some(Behavior::default()));
        a.decide(t(0), 10, 8, 1, 20);
        a.decide(t(100), 10, 6, 1, 20);
        assert_eq!(a.decide(t(200), 10, 3, 1, 20).replicas, 8);
        assert_eq!(a.decide(t(300), 10, 3, 1, 20).replicas, 6);
        assert_eq!(a.decide(t(400), 6, 3, 1, 20).replicas, 3);
    }

    #[test]
    fn scale_up_window_applies_the_lowest_recommendation() {
        let up = rules(SelectPolicy::Max, Some(60), &Rules::scale_up_default().policies);
        let mut a = with(up, Rules::scale_down_default());
        a.decide(t(0), 2, 3, 1, 20);
        let d = a.decide(t(15), 2, 6, 1, 20);
        assert_eq!((d.replicas, d.reason), (3, Reason::ScaleUpStabilized));
        // The 3 at 0 s has left the window; the 6 at 15 s is the lowest left.
        assert_eq!(a.decide(t(61), 3, 6, 1, 20).replicas, 6);
    }

    #[test]
    fn min_select_policy_takes_the_smallest_change() {
        let up = rules(SelectPolicy::Min, Some(0), &Rules::scale_up_default().policies);
        let mut a = with(up, Rules::scale_down_default());
        let d = a.decide(t(0), 1, 100, 1, 100);
        assert_eq!((d.replicas, d.reason), (2, Reason::ScaleUpLimit));
        assert_eq!(a.decide(t(15), 2, 100, 1, 100).replicas, 4);
        assert_eq!(a.decide(t(30), 4, 100, 1, 100).replicas, 8);
        assert_eq!(a.decide(t(45), 8, 100, 1, 100).replicas, 12);
        let down = rules(
            SelectPolicy::Min,
            Some(0),
            &[
                Policy { kind: PolicyKind::Pods, value: 2, period_seconds: 15 },
                Policy { kind: PolicyKind::Percent, value: 50, period_seconds: 15 },
            ],
        );
        let mut a = with(Rules::scale_up_default(), down);
        let d = a.decide(t(0), 10, 1, 1, 100);
        assert_eq!((d.replicas, d.reason), (8, Reason::ScaleDownLimit));
    }

    #[test]
    fn disabled_direction_does_not_move() {
        let off = rules(SelectPolicy::Disabled, Some(0), &Rules::scale_down_default().policies);
        let mut a = with(Rules::scale_up_default(), off.clone());
        let d = a.decide(t(0), 5, 1, 1, 10);
        assert_eq!((d.replicas, d.reason), (5, Reason::ScaleDownLimit));
        assert_eq!(a.decide(t(15), 5, 9, 1, 10).replicas, 9);
        let mut a = with(off, Rules::scale_down_default());
        assert_eq!(a.decide(t(0), 5, 9, 1, 10).replicas, 5);
    }

    #[test]
    fn one_instance_per_minute_scale_down_policy() {
        let down = rules(
            SelectPolicy::Max,
            Some(0),
            &[Policy { kind: PolicyKind::Pods, value: 1, period_seconds: 60 }],
        );
        let mut a = with(Rules::scale_up_default(), down);
        let mut current = 5;
        let mut seen = Vec::new();
        for s in (0..=180).step_by(15) {
            current = a.decide(t(s), current, 1, 1, 10).replicas;
            seen.push(current);
        }
        assert_eq!(seen, [4, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 1]);
    }

    #[test]
    fn scale_ups_within_the_period_count_against_scale_downs() {
        // Period start = current − added + removed: after +4 within 15 s, a scale-down by
        // 100% is measured from the count before it.
        let b = Behavior {
            scale_up: Rules::scale_up_default(),
            scale_down: rules(
                SelectPolicy::Max,
                Some(0),
                &[Policy { kind: PolicyKind::Pods, value: 1, period_seconds: 15 }],
            ),
        };
        let mut a = Autoscaler::new(Some(b));
        assert_eq!(a.decide(t(0), 2, 6, 1, 10).replicas, 6);
        // Start of the period: 6 − 4 = 2; Pods 1 → 1, so nothing holds the drop to 3.
        assert_eq!(a.decide(t(5), 6, 3, 1, 10).replicas, 3);
        // Now −3 within the period: start 3 − 4 + 3 = 2 → 1 allowed; 2 is fine.
        assert_eq!(a.decide(t(10), 3, 2, 1, 10).replicas, 2);
    }

    #[test]
    fn bounds_clamp_the_decision() {
        let mut a = Autoscaler::new(Some(Behavior::default()));
        let d = a.decide(t(0), 5, 100, 1, 8);
        assert_eq!((d.replicas, d.reason), (8, Reason::TooManyReplicas));
        let no_window = rules(SelectPolicy::Max, Some(0), &Rules::scale_down_default().policies);
        let mut a = with(Rules::scale_up_default(), no_window);
        let d = a.decide(t(0), 5, 0, 2, 8);
        assert_eq!((d.replicas, d.reason), (2, Reason::TooFewReplicas));
        // A count outside the bounds is brought back at once.
        let d = a.decide(t(15), 12, 12, 2, 8);
        assert_eq!((d.replicas, d.reason), (8, Reason::TooManyReplicas));
        let d = a.decide(t(30), 1, 1, 2, 8);
        assert_eq!((d.replicas, d.reason), (2, Reason::TooFewReplicas));
        // No replicas with a minimum above zero: autoscaling is off.
        let d = a.decide(t(45), 0, 5, 2, 8);
        assert_eq!((d.replicas, d.reason), (0, Reason::ScalingDisabled));
        // With a minimum of zero, scaling from zero works.
        let d = a.decide(t(60), 0, 3, 0, 8);
        assert_eq!((d.replicas, d.reason), (3, Reason::DesiredWithinRange));
    }

    #[test]
    fn legacy_without_behavior() {
        let mut a = Autoscaler::new(None);
        let d = a.decide(t(0), 1, 100, 1, 100);
        assert_eq!((d.replicas, d.reason), (4, Reason::ScaleUpLimit));
        assert_eq!(a.decide(t(15), 4, 100, 1, 100).replicas, 8);
        assert_eq!(a.decide(t(30), 10, 100, 1, 15).replicas, 15);
        // Scale-down waits 5 minutes for the highest recommendation to age out.
        let mut a = Autoscaler::new(None);
        a.decide(t(0), 6, 6, 1, 10);
        let d = a.decide(t(60), 6, 2, 1, 10);
        assert_eq!((d.replicas, d.reason), (6, Reason::ScaleDownStabilized));
        assert_eq!(a.decide(t(301), 6, 2, 1, 10).replicas, 2);
        let d = Autoscaler::new(None).decide(t(0), 2, 0, 1, 10);
        assert_eq!((d.replicas, d.reason), (1, Reason::TooFewReplicas));
    }

    #[test]
    fn histories_stay_bounded() {
        let mut a = Autoscaler::new(Some(Behavior::default()));
        let mut current = 10;
        for i in 0..10_000 {
            let proposal = 5 + (i % 7) as u32;
            current = a.decide(Timestamp(i * 10), current, proposal, 1, 50).replicas;
        }
        assert!(a.recommendations.len() <= HISTORY_CAP);
        assert!(a.events.len() <= HISTORY_CAP);
        // Far later, everything has aged out.
        a.decide(Timestamp(10_000_000), current, current, 1, 50);
        assert_eq!(a.recommendations.len(), 1);
        assert!(a.events.is_empty());
    }

    #[test]
    fn extreme_inputs_do_not_overflow() {
        let b = Behavior {
            scale_up: rules(
                SelectPolicy::Max,
                Some(u32::MAX),
                &[Policy { kind: PolicyKind::Percent, value: u32::MAX, period_seconds: u32::MAX }],
            ),
            scale_down: rules(
                SelectPolicy::Min,
                Some(u32::MAX),
                &[Policy { kind: PolicyKind::Percent, value: u32::MAX, period_seconds: u32::MAX }],
            ),
        };
        let mut a = Autoscaler::new(Some(b));
        for now in [i64::MIN, 0, i64::MAX] {
            a.decide(Timestamp(now), u32::MAX, 0, 0, u32::MAX);
            a.decide(Timestamp(now), 1, u32::MAX, 0, u32::MAX);
        }
        let mut legacy = Autoscaler::new(None);
        assert_eq!(
            legacy.decide(Timestamp(i64::MIN), u32::MAX - 1, u32::MAX, 0, u32::MAX).replicas,
            u32::MAX
        );
    }

    #[test]
    fn a_hundred_services_decide_quickly() {
        let samples: Vec<_> = (0..20).map(|i| ready(100.0 + f64::from(i) * 40.0)).collect();
        let mut scalers: Vec<_> =
            (0..100).map(|_| Autoscaler::new(Some(Behavior::default()))).collect();
        let mut currents = vec![20u32; 100];
        let mut worst = std::time::Duration::ZERO;
        for round in 0..40 {
            let start = std::time::Instant::now();
            for (a, current) in scalers.iter_mut().zip(&mut currents) {
                let ctx = ScaleContext::new(*current, *current);
                let metrics = [cpu(50, &samples)];
                let proposal = recommend(&metrics, &ctx).map_or(*current, |r| r.replicas);
                *current = a.decide(t(15 * round), *current, proposal, 1, 100).replicas;
            }
            worst = worst.max(start.elapsed());
        }
        assert!(worst < std::time::Duration::from_millis(10), "one round took {worst:?}");
    }
}
