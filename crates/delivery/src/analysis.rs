//! Analysis runs, pure: a metric's measurements judged by its conditions, the metric's
//! phase from its limits, and a run's phase from its metrics — Argo Rollouts'
//! semantics, with one rule kept strict: no data and errors are never success.

use std::collections::BTreeMap;

use andon_spec::analysis::{IntOrString, Metric, go_duration_seconds};
use serde::{Deserialize, Serialize};

use crate::expr::{self, Expr, Value};
use crate::rollout::RunPhase;

/// How long to wait before measuring again after an error (Argo's default).
pub const ERROR_RETRY_MS: i64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MeasurementPhase {
    Successful,
    Failed,
    Inconclusive,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    pub phase: MeasurementPhase,
    /// The result as the conditions saw it (Go's `%v`), or empty on error.
    pub value: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub message: String,
    pub finished_ms: i64,
}

/// A metric with its arguments resolved and its conditions parsed.
#[derive(Debug, Clone)]
pub struct MetricPlan {
    pub name: String,
    pub interval_ms: Option<i64>,
    pub initial_delay_ms: i64,
    /// Measurements to take; `None`: until the run is stopped.
    pub count: Option<i64>,
    pub success: Option<Expr>,
    pub failure: Option<Expr>,
    /// −1: failures never fail the metric.
    pub failure_limit: i64,
    pub inconclusive_limit: i64,
    pub consecutive_error_limit: i64,
    pub consecutive_success_limit: i64,
    pub dry_run: bool,
    /// Measurements kept for status.
    pub retention: usize,
}

/// Replaces `{{args.name}}` (spaces allowed inside the braces) with argument values.
pub fn resolve(text: &str, args: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err(format!("unterminated {{{{ in {text:?}"));
        };
        let inner = after[..j].trim();
        let Some(name) = inner.strip_prefix("args.") else {
            return Err(format!(
                "unknown template reference {{{{{inner}}}}}: only args.NAME is known"
            ));
        };
        match args.get(name) {
            Some(v) => out.push_str(v),
            None => return Err(format!("argument {name:?} has no value")),
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resolved_int(
    v: &Option<IntOrString>,
    args: &BTreeMap<String, String>,
    default: i64,
    field: &str,
) -> Result<i64, String> {
    match v {
        None => Ok(default),
        Some(IntOrString::Int(i)) => Ok(*i),
        Some(IntOrString::Str(s)) => {
            let t = resolve(s, args)?;
            t.trim().parse::<i64>().map_err(|_| format!("{field}: {t:?} is not an integer"))
        }
    }
}

fn resolved_ms(
    v: &Option<String>,
    args: &BTreeMap<String, String>,
    field: &str,
) -> Result<Option<i64>, String> {
    match v {
        None => Ok(None),
        Some(s) => {
            let t = resolve(s, args)?;
            let secs = go_duration_seconds(&t)
                .ok_or_else(|| format!("{field}: {t:?} is not a duration"))?;
            Ok(Some((secs * 1000.0).round() as i64))
        }
    }
}

impl MetricPlan {
    /// Resolves a template's metric with the run's arguments.
    pub fn new(
        m: &Metric,
        args: &BTreeMap<String, String>,
        dry_run: bool,
        retention: Option<i64>,
    ) -> Result<MetricPlan, String> {
        let cond = |c: &Option<String>| -> Result<Option<Expr>, String> {
            match c {
                None => Ok(None),
                Some(text) => {
                    let t = resolve(text, args)?;
                    expr::parse(&t).map(Some).map_err(|e| format!("condition {t:?}: {e}"))
                }
            }
        };
        let interval_ms = resolved_ms(&m.interval, args, "interval")?;
        let count = match (&m.count, interval_ms) {
            (None, None) => Some(1),
            (None, Some(_)) => None,
            (c, _) => match resolved_int(c, args, 1, "count")? {
                0 => None,
                n => Some(n),
            },
        };
        Ok(MetricPlan {
            name: m.name.clone(),
            interval_ms,
            initial_delay_ms: resolved_ms(&m.initial_delay, args, "initialDelay")?.unwrap_or(0),
            count,
            success: cond(&m.success_condition)?,
            failure: cond(&m.failure_condition)?,
            failure_limit: resolved_int(&m.failure_limit, args, 0, "failureLimit")?,
            inconclusive_limit: resolved_int(&m.inconclusive_limit, args, 0, "inconclusiveLimit")?,
            consecutive_error_limit: resolved_int(
                &m.consecutive_error_limit,
                args,
                4,
                "consecutiveErrorLimit",
            )?,
            consecutive_success_limit: resolved_int(
                &m.consecutive_success_limit,
                args,
                0,
                "consecutiveSuccessLimit",
            )?,
            dry_run,
            retention: retention.map_or(10, |r| usize::try_from(r).unwrap_or(10)),
        })
    }

    /// Judges one result. A result the conditions cannot read (no data: `result[0]` of
    /// an empty vector) is an Error, never a success.
    pub fn judge(&self, result: Result<Value, String>, now_ms: i64) -> Measurement {
        let value = match result {
            Ok(v) => v,
            Err(message) => {
                return Measurement {
                    phase: MeasurementPhase::Error,
                    value: String::new(),
                    message,
                    finished_ms: now_ms,
                };
            }
        };
        let shown = value.to_string();
        let mut vars = BTreeMap::new();
        vars.insert("result".to_owned(), value);
        let eval = |e: &Option<Expr>| e.as_ref().map(|e| e.eval_bool(&vars)).transpose();
        let (failed, succeeded) = match (eval(&self.failure), eval(&self.success)) {
            (Ok(f), Ok(s)) => (f, s),
            (Err(m), _) | (_, Err(m)) => {
                return Measurement {
                    phase: MeasurementPhase::Error,
                    value: shown,
                    message: m,
                    finished_ms: now_ms,
                };
            }
        };
        let phase = match (failed, succeeded) {
            (Some(true), _) => MeasurementPhase::Failed,
            (_, Some(true)) => MeasurementPhase::Successful,
            (None, Some(false)) => MeasurementPhase::Failed,
            (Some(false), None) => MeasurementPhase::Successful,
            _ => MeasurementPhase::Inconclusive,
        };
        Measurement { phase, value: shown, message: String::new(), finished_ms: now_ms }
    }
}

/// A metric's measurements so far, with Argo's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricState {
    pub measurements: Vec<Measurement>,
    pub successful: i64,
    pub failed: i64,
    pub inconclusive: i64,
    pub error: i64,
    pub consecutive_error: i64,
    pub consecutive_success: i64,
    pub last_ms: Option<i64>,
    pub last_phase: Option<MeasurementPhase>,
}

impl MetricState {
    pub fn record(&mut self, plan: &MetricPlan, m: Measurement) {
        match m.phase {
            MeasurementPhase::Successful => {
                self.successful += 1;
                self.consecutive_success += 1;
                self.consecutive_error = 0;
            }
            MeasurementPhase::Failed => {
                self.failed += 1;
                self.consecutive_success = 0;
                self.consecutive_error = 0;
            }
            MeasurementPhase::Inconclusive => {
                self.inconclusive += 1;
                self.consecutive_success = 0;
                self.consecutive_error = 0;
            }
            MeasurementPhase::Error => {
                self.error += 1;
                self.consecutive_error += 1;
                self.consecutive_success = 0;
            }
        }
        self.last_ms = Some(m.finished_ms);
        self.last_phase = Some(m.phase);
        self.measurements.push(m);
        let keep = plan.retention.max(1);
        if self.measurements.len() > keep {
            let drop = self.measurements.len() - keep;
            self.measurements.drain(..drop);
        }
    }

    /// The metric's phase; `Running` until a limit or the count decides.
    pub fn phase(&self, plan: &MetricPlan) -> RunPhase {
        if plan.failure_limit >= 0 && self.failed > plan.failure_limit {
            return RunPhase::Failed;
        }
        if self.inconclusive > plan.inconclusive_limit {
            return RunPhase::Inconclusive;
        }
        if self.consecutive_error > plan.consecutive_error_limit {
            return RunPhase::Error;
        }
        if plan.consecutive_success_limit > 0
            && self.consecutive_success >= plan.consecutive_success_limit
        {
            return RunPhase::Successful;
        }
        let taken = self.successful + self.failed + self.inconclusive;
        if let Some(count) = plan.count
            && taken >= count
        {
            if plan.consecutive_success_limit > 0 {
                return RunPhase::Inconclusive;
            }
            if self.inconclusive > 0 && self.successful == 0 {
                return RunPhase::Inconclusive;
            }
            return RunPhase::Successful;
        }
        RunPhase::Running
    }

    /// When to measure next (`None`: the metric is done).
    pub fn next_due(&self, plan: &MetricPlan, started_ms: i64) -> Option<i64> {
        if self.phase(plan) != RunPhase::Running {
            return None;
        }
        Some(match (self.last_ms, self.last_phase) {
            (None, _) => started_ms.saturating_add(plan.initial_delay_ms),
            (Some(t), Some(MeasurementPhase::Error)) => {
                t.saturating_add(plan.interval_ms.unwrap_or(ERROR_RETRY_MS).min(ERROR_RETRY_MS))
            }
            (Some(t), _) => t.saturating_add(plan.interval_ms.unwrap_or(0)),
        })
    }
}

/// A run's phase from its metrics': any failure fails it, then errors, then
/// inconclusive; successful only when every metric is. Dry-run metrics never decide.
pub fn run_phase(metrics: &[(RunPhase, bool)]) -> RunPhase {
    let decisive: Vec<RunPhase> = metrics.iter().filter(|(_, dry)| !dry).map(|(p, _)| *p).collect();
    for worst in [RunPhase::Failed, RunPhase::Error, RunPhase::Inconclusive] {
        if decisive.contains(&worst) {
            return worst;
        }
    }
    if decisive.iter().all(|p| *p == RunPhase::Successful)
        && metrics.iter().all(|(p, _)| *p != RunPhase::Running)
    {
        RunPhase::Successful
    } else {
        RunPhase::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use andon_spec::analysis::{PrometheusProvider, Provider};

    fn metric(success: Option<&str>, failure: Option<&str>) -> Metric {
        Metric {
            name: "error-rate".into(),
            interval: Some("{{args.interval}}".into()),
            initial_delay: None,
            count: Some(IntOrString::Str("{{ args.count }}".into())),
            success_condition: success.map(Into::into),
            failure_condition: failure.map(Into::into),
            failure_limit: None,
            inconclusive_limit: None,
            consecutive_error_limit: None,
            consecutive_success_limit: None,
            provider: Provider::Prometheus(PrometheusProvider {
                address: None,
                query: "q".into(),
                timeout: None,
                headers: vec![],
            }),
        }
    }

    fn args() -> BTreeMap<String, String> {
        [("interval".to_owned(), "30s".to_owned()), ("count".to_owned(), "3".to_owned())].into()
    }

    fn vector(xs: &[f64]) -> Result<Value, String> {
        Ok(Value::Array(xs.iter().map(|x| Value::Float(*x)).collect()))
    }

    #[test]
    fn arguments_resolve_and_missing_ones_are_errors() {
        let p =
            MetricPlan::new(&metric(Some("result[0] < 0.05"), None), &args(), false, None).unwrap();
        assert_eq!((p.interval_ms, p.count), (Some(30_000), Some(3)));
        assert!(
            MetricPlan::new(&metric(None, None), &BTreeMap::new(), false, None)
                .unwrap_err()
                .contains("\"interval\" has no value")
        );
        assert_eq!(
            resolve("a {{args.x}} b", &[("x".to_owned(), "1".to_owned())].into()).unwrap(),
            "a 1 b"
        );
        assert!(resolve("{{secrets.x}}", &BTreeMap::new()).is_err());
    }

    #[test]
    fn conditions_judge_like_argo() {
        let both = MetricPlan::new(
            &metric(Some("result[0] < 0.05"), Some("result[0] > 0.2")),
            &args(),
            false,
            None,
        )
        .unwrap();
        assert_eq!(both.judge(vector(&[0.01]), 0).phase, MeasurementPhase::Successful);
        assert_eq!(both.judge(vector(&[0.5]), 0).phase, MeasurementPhase::Failed);
        assert_eq!(
            both.judge(vector(&[0.1]), 0).phase,
            MeasurementPhase::Inconclusive,
            "neither matched"
        );
        let only_success =
            MetricPlan::new(&metric(Some("result[0] < 0.05"), None), &args(), false, None).unwrap();
        assert_eq!(only_success.judge(vector(&[0.1]), 0).phase, MeasurementPhase::Failed);
        let only_failure =
            MetricPlan::new(&metric(None, Some("result[0] > 0.2")), &args(), false, None).unwrap();
        assert_eq!(only_failure.judge(vector(&[0.1]), 0).phase, MeasurementPhase::Successful);
        let none = MetricPlan::new(&metric(None, None), &args(), false, None).unwrap();
        assert_eq!(none.judge(vector(&[0.1]), 0).phase, MeasurementPhase::Inconclusive);
    }

    #[test]
    fn no_data_is_an_error_never_a_success() {
        let p =
            MetricPlan::new(&metric(Some("result[0] < 0.05"), None), &args(), false, None).unwrap();
        let m = p.judge(vector(&[]), 0);
        assert_eq!(m.phase, MeasurementPhase::Error);
        assert!(m.message.contains("out of range"), "{}", m.message);
        assert_eq!(p.judge(Err("connection refused".into()), 0).phase, MeasurementPhase::Error);
        // Five errors in a row (more than consecutiveErrorLimit 4) make the metric Error.
        let mut s = MetricState::default();
        for i in 0..4 {
            s.record(&p, p.judge(vector(&[]), i));
            assert_eq!(s.phase(&p), RunPhase::Running);
        }
        s.record(&p, p.judge(vector(&[]), 5));
        assert_eq!(s.phase(&p), RunPhase::Error);
        assert_eq!(run_phase(&[(s.phase(&p), false)]), RunPhase::Error);
    }

    #[test]
    fn count_limits_and_schedule() {
        let p =
            MetricPlan::new(&metric(Some("result[0] < 0.05"), None), &args(), false, None).unwrap();
        let mut s = MetricState::default();
        assert_eq!(s.next_due(&p, 1000), Some(1000));
        s.record(&p, p.judge(vector(&[0.01]), 1000));
        assert_eq!(s.next_due(&p, 1000), Some(31_000));
        s.record(&p, p.judge(vector(&[]), 31_000));
        assert_eq!(s.next_due(&p, 1000), Some(41_000), "an error is retried after 10 s");
        s.record(&p, p.judge(vector(&[0.01]), 41_000));
        assert_eq!(s.phase(&p), RunPhase::Running, "errors do not count towards count");
        s.record(&p, p.judge(vector(&[0.01]), 71_000));
        assert_eq!(s.phase(&p), RunPhase::Successful);
        assert_eq!(s.next_due(&p, 1000), None);
        // failureLimit 0: one failure fails the metric.
        let mut f = MetricState::default();
        f.record(&p, p.judge(vector(&[0.9]), 0));
        assert_eq!(f.phase(&p), RunPhase::Failed);
        assert_eq!(
            run_phase(&[(RunPhase::Successful, false), (f.phase(&p), false)]),
            RunPhase::Failed
        );
        assert_eq!(
            run_phase(&[(RunPhase::Successful, false), (RunPhase::Failed, true)]),
            RunPhase::Successful,
            "dry run never decides"
        );
        assert_eq!(
            run_phase(&[(RunPhase::Successful, false), (RunPhase::Running, false)]),
            RunPhase::Running
        );
    }
}
