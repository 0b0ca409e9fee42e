//! `spec.autoscaling` of a Service: Kubernetes' HorizontalPodAutoscaler v2 fields
//! (minReplicas, maxReplicas, metrics, behavior). Pods, Object and External metrics
//! name a PromQL `query` on andon's engine beside their `name`. Written back in the
//! shape it was read.

use serde::Serialize;

use crate::decode::{Ctx, Obj, index};
use crate::quantity::Quantity;
use crate::yaml::Node;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Autoscaling {
    pub min_replicas: i64,
    pub max_replicas: i64,
    /// Empty: CPU at 80% utilization, Kubernetes' default.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<ScaleMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behavior: Option<ScaleBehavior>,
}

/// One metric, spelled as HPA v2 spells it: `{type: Resource, resource: {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum ScaleMetric {
    Resource { resource: ResourceMetric },
    Pods { pods: QueryMetric },
    Object { object: QueryMetric },
    External { external: QueryMetric },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceMetric {
    /// `cpu` or `memory`.
    pub name: String,
    pub target: MetricTarget,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryMetric {
    pub metric: MetricIdentifier,
    pub target: MetricTarget,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricIdentifier {
    pub name: String,
    /// PromQL on andon's engine. Pods: one series per instance, told apart by the
    /// `replica` label andon's scrapes carry; Object: one value; External: the sum.
    pub query: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricTarget {
    /// `Utilization`, `Value` or `AverageValue`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_utilization: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Quantity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_value: Option<Quantity>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleBehavior {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_up: Option<ScaleRules>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<ScaleRules>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleRules {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stabilization_window_seconds: Option<i64>,
    /// `Max`, `Min` or `Disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub select_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<ScalePolicy>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalePolicy {
    /// `Pods` or `Percent`.
    #[serde(rename = "type")]
    pub kind: String,
    pub value: i64,
    pub period_seconds: i64,
}

fn one_of(ctx: &mut Ctx, o: &Obj<'_>, name: &str, allowed: &[&str]) -> Option<String> {
    let n = o.require(ctx, name)?;
    let p = o.path_of(name);
    let s = ctx.string(n, &p)?;
    if allowed.contains(&s.as_str()) {
        Some(s)
    } else {
        ctx.error(n.pos, &p, format!("{s:?} is not one of: {}", allowed.join(", ")));
        None
    }
}

fn quantity(ctx: &mut Ctx, o: &Obj<'_>, name: &str) -> Option<Quantity> {
    let n = o.opt(name)?;
    let p = o.path_of(name);
    let q = crate::service::decode_quantity(ctx, n, &p)?;
    if q.milli_value() <= 0 {
        ctx.error(n.pos, &p, "must be greater than 0");
        return None;
    }
    Some(q)
}

fn target(ctx: &mut Ctx, o: &Obj<'_>, allowed: &[&str]) -> Option<MetricTarget> {
    let n = o.require(ctx, "target")?;
    let p = o.path_of("target");
    let t = ctx.object(n, &p, &["type", "averageUtilization", "value", "averageValue"])?;
    let kind = one_of(ctx, &t, "type", allowed)?;
    let average_utilization = t
        .opt("averageUtilization")
        .and_then(|n| ctx.int_min(n, &t.path_of("averageUtilization"), 1));
    let value = quantity(ctx, &t, "value");
    let average_value = quantity(ctx, &t, "averageValue");
    let needed = match kind.as_str() {
        "Utilization" => ("averageUtilization", average_utilization.is_some()),
        "Value" => ("value", value.is_some()),
        _ => ("averageValue", average_value.is_some()),
    };
    if !needed.1 && t.opt(needed.0).is_none() {
        ctx.error(n.pos, &p, format!("a {kind} target needs {}", needed.0));
        return None;
    }
    Some(MetricTarget { kind, average_utilization, value, average_value })
}

fn query_metric(ctx: &mut Ctx, node: &Node, path: &str, targets: &[&str]) -> Option<QueryMetric> {
    let o = ctx.object(node, path, &["metric", "target", "describedObject"])?;
    let m = o.require(ctx, "metric")?;
    let mp = o.path_of("metric");
    let mo = ctx.object(m, &mp, &["name", "query", "selector"])?;
    let name = mo.require(ctx, "name").and_then(|n| ctx.string(n, &mo.path_of("name")));
    let query = match mo.get("query") {
        Some(n) => ctx.string(n, &mo.path_of("query")),
        None => {
            ctx.error(
                m.pos,
                &mp,
                "needs a query: andon reads the metric with PromQL on its own engine",
            );
            None
        }
    };
    let target = target(ctx, &o, targets);
    Some(QueryMetric { metric: MetricIdentifier { name: name?, query: query? }, target: target? })
}

fn resource_metric(ctx: &mut Ctx, node: &Node, path: &str) -> Option<ScaleMetric> {
    let ro = ctx.object(node, path, &["name", "target"])?;
    let name = one_of(ctx, &ro, "name", &["cpu", "memory"]);
    let target = target(ctx, &ro, &["Utilization", "AverageValue"]);
    Some(ScaleMetric::Resource { resource: ResourceMetric { name: name?, target: target? } })
}

fn rules(ctx: &mut Ctx, node: &Node, path: &str) -> Option<ScaleRules> {
    let o = ctx.object(node, path, &["stabilizationWindowSeconds", "selectPolicy", "policies"])?;
    let stabilization_window_seconds = o.opt("stabilizationWindowSeconds").and_then(|n| {
        let p = o.path_of("stabilizationWindowSeconds");
        let v = ctx.int_min(n, &p, 0)?;
        if v > 3600 {
            ctx.error(n.pos, &p, format!("must be at most 3600, found {v}"));
        }
        Some(v)
    });
    let select_policy = if o.opt("selectPolicy").is_some() {
        one_of(ctx, &o, "selectPolicy", &["Max", "Min", "Disabled"])
    } else {
        None
    };
    let policies = o.opt("policies").map(|n| {
        let p = o.path_of("policies");
        let mut out = Vec::new();
        for (i, item) in ctx.list(n, &p).unwrap_or_default().iter().enumerate() {
            let ip = index(&p, i);
            let Some(po) = ctx.object(item, &ip, &["type", "value", "periodSeconds"]) else {
                continue;
            };
            let kind = one_of(ctx, &po, "type", &["Pods", "Percent"]);
            let value =
                po.require(ctx, "value").and_then(|n| ctx.int_min(n, &po.path_of("value"), 1));
            let period = po.require(ctx, "periodSeconds").and_then(|n| {
                let pp = po.path_of("periodSeconds");
                let v = ctx.int_min(n, &pp, 1)?;
                if v > 1800 {
                    ctx.error(n.pos, &pp, format!("must be at most 1800, found {v}"));
                }
                Some(v)
            });
            if let (Some(kind), Some(value), Some(period_seconds)) = (kind, value, period) {
                out.push(ScalePolicy { kind, value, period_seconds });
            }
        }
        out
    });
    Some(ScaleRules { stabilization_window_seconds, select_policy, policies })
}

pub fn decode(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Autoscaling> {
    let before = ctx.diags.len();
    let o = ctx.object(node, path, &["minReplicas", "maxReplicas", "metrics", "behavior"])?;
    let min_replicas = o
        .opt("minReplicas")
        .and_then(|n| ctx.int_min(n, &o.path_of("minReplicas"), 1))
        .unwrap_or(1);
    let max_replicas = o.require(ctx, "maxReplicas").and_then(|n| {
        let p = o.path_of("maxReplicas");
        let v = ctx.int_min(n, &p, 1)?;
        if v < min_replicas {
            ctx.error(
                n.pos,
                &p,
                format!("must be at least minReplicas ({min_replicas}), found {v}"),
            );
        }
        Some(v)
    });
    let mut metrics = Vec::new();
    if let Some(n) = o.opt("metrics") {
        let p = o.path_of("metrics");
        for (i, item) in ctx.list(n, &p).unwrap_or_default().iter().enumerate() {
            let ip = index(&p, i);
            let Some(mo) = ctx.object(
                item,
                &ip,
                &["type", "resource", "pods", "object", "external", "containerResource"],
            ) else {
                continue;
            };
            let Some(kind) = one_of(ctx, &mo, "type", &["Resource", "Pods", "Object", "External"])
            else {
                continue;
            };
            let field = match kind.as_str() {
                "Resource" => "resource",
                "Pods" => "pods",
                "Object" => "object",
                _ => "external",
            };
            let Some(body) = mo.require(ctx, field) else { continue };
            let bp = mo.path_of(field);
            let m = match kind.as_str() {
                "Resource" => resource_metric(ctx, body, &bp),
                "Pods" => query_metric(ctx, body, &bp, &["AverageValue"])
                    .map(|pods| ScaleMetric::Pods { pods }),
                "Object" => query_metric(ctx, body, &bp, &["Value", "AverageValue"])
                    .map(|object| ScaleMetric::Object { object }),
                _ => query_metric(ctx, body, &bp, &["Value", "AverageValue"])
                    .map(|external| ScaleMetric::External { external }),
            };
            metrics.extend(m);
        }
    }
    let behavior = o.opt("behavior").and_then(|n| {
        let p = o.path_of("behavior");
        let b = ctx.object(n, &p, &["scaleUp", "scaleDown"])?;
        let scale_up = b.opt("scaleUp").and_then(|n| rules(ctx, n, &b.path_of("scaleUp")));
        let scale_down = b.opt("scaleDown").and_then(|n| rules(ctx, n, &b.path_of("scaleDown")));
        Some(ScaleBehavior { scale_up, scale_down })
    });
    (ctx.diags.len() == before).then_some(Autoscaling {
        min_replicas,
        max_replicas: max_replicas?,
        metrics,
        behavior,
    })
}
