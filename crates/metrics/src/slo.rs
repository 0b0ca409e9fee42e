//! SLOs the server evaluates: their generated rules run in the rule manager,
//! and their status (SLI now, error budget remaining over the period, burn
//! rates, projected exhaustion) is computed on demand from the TSDB with the
//! same SLI expressions the rules record.

use std::collections::BTreeMap;

use andon_promql::Value;
use andon_slo::Slo;
use serde::Serialize;

use crate::Engine;

/// The burn-rate windows reported by `slo status`.
pub const BURN_WINDOWS: [&str; 5] = ["5m", "1h", "6h", "1d", "3d"];

/// One SLO's state at a moment.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SloStatus {
    /// The `PrometheusServiceLevel` it comes from (`namespace/name`).
    pub source: String,
    pub id: String,
    pub service: String,
    pub name: String,
    /// Target in percent.
    pub objective: f64,
    pub period: String,
    /// The error ratio over the last 5 minutes (`None`: no data).
    pub sli_error_ratio: Option<f64>,
    /// The error ratio over the whole period.
    pub period_error_ratio: Option<f64>,
    /// 1 − period error ratio / error budget (negative when overspent).
    pub budget_remaining: Option<f64>,
    /// Error ratio / error budget over each of [`BURN_WINDOWS`].
    pub burn_rates: BTreeMap<String, Option<f64>>,
    /// At the last hour's burn rate, seconds until the remaining budget is spent
    /// (`None`: not burning, or no data).
    pub exhaustion_seconds: Option<f64>,
    /// Alerts of this SLO that are firing now.
    pub firing_alerts: Vec<String>,
}

/// An SLO's error ratio over `window` at `t` (ms), from its recorded SLI; `None`
/// without data. Blocking.
pub fn error_ratio(engine: &Engine, slo: &Slo, window: &str, t: i64) -> Option<f64> {
    let v = match engine.instant_query(&slo.sli_error_ratio_expr(window), t).ok()? {
        Value::Vector(v) if v.len() == 1 => v[0].v,
        Value::Scalar(v) => v,
        _ => return None,
    };
    v.is_finite().then_some(v)
}

/// Computes an SLO's status at `t` (ms); `groups` is one snapshot of the rule groups
/// (for the SLO's firing alerts), shared by every SLO of a request. Blocking: call off
/// the async workers.
pub fn status(
    engine: &Engine,
    groups: &[crate::rules::GroupSnapshot],
    source: &str,
    slo: &Slo,
    t: i64,
) -> SloStatus {
    let budget = slo.error_budget_ratio();
    let ratio = |w: &str| error_ratio(engine, slo, w, t);
    let period = andon_promql::format_duration(slo.period_ms);
    let sli = ratio("5m");
    let period_ratio = ratio(&period);
    let burn_rates: BTreeMap<String, Option<f64>> =
        BURN_WINDOWS.iter().map(|w| (w.to_string(), ratio(w).map(|r| r / budget))).collect();
    let budget_remaining = period_ratio.map(|r| 1.0 - r / budget);
    let exhaustion_seconds = match (budget_remaining, burn_rates.get("1h").copied().flatten()) {
        (Some(rem), Some(burn)) if burn > 0.0 => {
            Some((rem.max(0.0) * slo.period_ms as f64 / 1000.0) / burn)
        }
        _ => None,
    };
    let firing_alerts = groups
        .iter()
        .filter(|g| g.source == format!("slo/{source}"))
        .flat_map(|g| g.rules.iter())
        .flat_map(|r| r.alerts.iter())
        .filter(|a| {
            a.state == andon_rules::AlertState::Firing
                && a.labels.get("sloth_id") == Some(slo.id.as_str())
        })
        .map(|a| {
            format!(
                "{} ({})",
                a.labels.get("alertname").unwrap_or_default(),
                a.labels.get("sloth_severity").unwrap_or_default()
            )
        })
        .collect();
    SloStatus {
        source: source.to_string(),
        id: slo.id.clone(),
        service: slo.service.clone(),
        name: slo.name.clone(),
        objective: slo.objective,
        period,
        sli_error_ratio: sli,
        period_error_ratio: period_ratio,
        budget_remaining,
        burn_rates,
        exhaustion_seconds,
        firing_alerts,
    }
}

/// Renders generated rule groups as a rule file the rule manager runs.
pub fn rule_file(generated: &andon_slo::Generated) -> Result<andon_rules::RuleFile, String> {
    let text = andon_slo::render(&generated.groups, &andon_slo::Options::default());
    andon_rules::file::parse(text.as_bytes(), "generated", andon_rules::ReadOptions::default())
        .map_err(|d| format!("generated rules do not read back: {d:?}"))
}
