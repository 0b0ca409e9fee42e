//! `kind: ErrorBudgetPolicy`: while an SLO's remaining error budget is below a
//! threshold, new rollouts of the services it covers do not start (an operator may
//! override, audited in the journal).

use serde::Serialize;

use crate::decode::Ctx;
use crate::yaml::{Node, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBudgetPolicySpec {
    /// The SLO's id (`service-name`, as `andon slo list` shows it).
    pub slo: String,
    /// Remaining budget, in percent, below which rollouts are frozen.
    pub freeze_rollouts_below: f64,
    /// The Services frozen; empty: the one named like the SLO's `service`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
}

pub fn decode(ctx: &mut Ctx, node: &Node, path: &str) -> Option<ErrorBudgetPolicySpec> {
    let before = ctx.diags.len();
    let o = ctx.object(node, path, &["slo", "freezeRolloutsBelow", "services"])?;
    let slo = o.require(ctx, "slo").and_then(|n| ctx.string(n, &o.path_of("slo")));
    let below = o.require(ctx, "freezeRolloutsBelow").and_then(|n| {
        let p = o.path_of("freezeRolloutsBelow");
        let v = match &n.value {
            Value::Str(s) => s.trim().strip_suffix('%').and_then(|x| x.trim().parse::<f64>().ok()),
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        };
        match v {
            Some(v) if (0.0..=100.0).contains(&v) => Some(v),
            _ => {
                ctx.error(n.pos, &p, "must be a percentage from 0 to 100, such as 10% or 25");
                None
            }
        }
    });
    let services = o
        .opt("services")
        .and_then(|n| ctx.string_list(n, &o.path_of("services")))
        .unwrap_or_default();
    (ctx.diags.len() == before).then_some(ErrorBudgetPolicySpec {
        slo: slo?,
        freeze_rollouts_below: below?,
        services,
    })
}
