//! Reading OpenSLO `SLO` documents: `openslo/v1alpha` the way Sloth maps it (each
//! ratio objective becomes a raw SLI `1 - good/total`), and `openslo/v1` with inline
//! or referenced indicators (ratio good/bad/total or raw, threshold). OpenSLO SLOs
//! carry no alerting, so both alerts are off.

use std::collections::HashMap;

use andon_spec::Pos;
use andon_spec::decode::{Ctx, Obj, index};
use andon_spec::yaml::{Document, Node, Value};

use crate::gofmt::go_g;
use crate::sloth::check_name;
use crate::{DocDraft, OutputFormat, Sli, SloDraft, query};

const DAY_MS: i64 = 86_400_000;

fn str_of<'a>(n: &'a Node, key: &str) -> Option<&'a str> {
    let Value::Map(entries) = &n.value else { return None };
    entries.iter().find(|(k, _)| k.key_text() == key).and_then(|(_, v)| match &v.value {
        Value::Str(s) => Some(s.as_str()),
        _ => None,
    })
}

/// OpenSLO documents that accompany SLOs in a file and are not SLOs themselves.
pub(crate) fn is_companion(root: &Node) -> bool {
    str_of(root, "apiVersion").is_some_and(|a| a.starts_with("openslo/"))
        && str_of(root, "kind").is_some_and(|k| {
            matches!(
                k,
                "SLI"
                    | "Service"
                    | "DataSource"
                    | "AlertPolicy"
                    | "AlertCondition"
                    | "AlertNotificationTarget"
            )
        })
}

/// The `openslo/v1` `SLI` documents of a file by name.
pub(crate) fn collect_indicators(docs: &[Document]) -> HashMap<String, &Node> {
    andon_spec::resource::openslo_indicators(docs)
}

pub(crate) fn decode(
    ctx: &mut Ctx,
    root: &Node,
    pos: Pos,
    indicators: &HashMap<String, &Node>,
) -> Option<DocDraft> {
    let version = str_of(root, "apiVersion").unwrap_or_default().to_owned();
    let slos = match version.as_str() {
        "openslo/v1alpha" => v1alpha(ctx, root)?,
        "openslo/v1" => v1(ctx, root, indicators)?,
        other => {
            let at = field_pos(root, "apiVersion").unwrap_or(pos);
            ctx.error(
                at,
                "apiVersion",
                format!(
                    "unsupported OpenSLO version {other:?}; expected \"openslo/v1alpha\" or \"openslo/v1\""
                ),
            );
            return None;
        }
    };
    Some(DocDraft {
        format: OutputFormat::PrometheusRules,
        spec: version,
        mode: "cli-gen-openslo",
        slos,
        pos,
    })
}

fn field_pos(n: &Node, key: &str) -> Option<Pos> {
    let Value::Map(entries) = &n.value else { return None };
    entries.iter().find(|(k, _)| k.key_text() == key).map(|(_, v)| v.pos)
}

/// `metadata.name` and `spec.service`, checked as Sloth checks SLO names and services.
fn names(ctx: &mut Ctx, root_obj: &Obj<'_>, spec: &Obj<'_>) -> (Option<String>, Option<String>) {
    let name = root_obj.require(ctx, "metadata").and_then(|m| {
        let mo = ctx.object(m, "metadata", &["name", "displayName", "labels", "annotations"])?;
        let n = mo.require(ctx, "name")?;
        let s = ctx.string(n, "metadata.name")?;
        check_name(ctx, n.pos, "metadata.name", &s, "SLO name");
        Some(s)
    });
    let service = spec.require(ctx, "service").and_then(|n| {
        let s = ctx.string(n, &spec.path_of("service"))?;
        check_name(ctx, n.pos, &spec.path_of("service"), &s, "service");
        Some(s)
    });
    (name, service)
}

/// The error ratio from good and total events, as Sloth writes it for OpenSLO.
fn good_total_query(good: &str, total: &str) -> String {
    format!("\n  1 - (\n    (\n      {good}\n    )\n    /\n    (\n      {total}\n    )\n  )\n")
}

/// Builds one SLO draft per objective.
#[allow(clippy::too_many_arguments)]
fn draft(
    name: &str,
    service: &str,
    idx: usize,
    description: &str,
    objective: f64,
    sli: Sli,
    period: Option<(i64, Pos, String)>,
    pos: Pos,
    path: String,
) -> SloDraft {
    SloDraft {
        id: format!("{service}-{name}-{idx}"),
        name: format!("{name}-{idx}"),
        service: service.to_owned(),
        description: description.to_owned(),
        objective,
        labels: Default::default(),
        sli,
        page_alert: None,
        ticket_alert: None,
        chain: Vec::new(),
        override_defaults: false,
        period,
        pos,
        path,
    }
}

fn v1alpha(ctx: &mut Ctx, root: &Node) -> Option<Vec<SloDraft>> {
    let ro = ctx.object(root, "", &["apiVersion", "kind", "metadata", "spec"])?;
    let spec = ro.require(ctx, "spec")?;
    let so = ctx.object(
        spec,
        "spec",
        &["description", "service", "budgetingMethod", "objectives", "timeWindows", "indicator"],
    )?;
    let (name, service) = names(ctx, &ro, &so);
    let description =
        so.opt("description").and_then(|n| ctx.string(n, "spec.description")).unwrap_or_default();
    if let Some(n) = so.opt("indicator") {
        ctx.error(n.pos, "spec.indicator", "threshold indicators are not supported in openslo/v1alpha; use ratioMetrics objectives");
    }
    let period = so.opt("timeWindows").and_then(|n| {
        let items = ctx.list(n, "spec.timeWindows")?;
        if items.len() > 1 {
            ctx.error(n.pos, "spec.timeWindows", "only 1 time window is supported");
            return None;
        }
        let item = items.first()?;
        let p = index("spec.timeWindows", 0);
        let o = ctx.object(item, &p, &["unit", "count", "isRolling", "calendar"])?;
        let unit = o.require(ctx, "unit").and_then(|u| ctx.string(u, &o.path_of("unit")));
        let count = o.require(ctx, "count").and_then(|c| ctx.int_min(c, &o.path_of("count"), 1));
        if let Some(u) = &unit
            && !u.eq_ignore_ascii_case("day")
        {
            ctx.error(
                o.get("unit").map_or(item.pos, |u| u.pos),
                o.path_of("unit"),
                format!("only day based time windows are supported, found {u:?}"),
            );
            return None;
        }
        Some((count? * DAY_MS, item.pos, p))
    });
    let op = "spec.objectives";
    let objectives = so.require(ctx, "objectives").and_then(|n| ctx.list(n, op))?;
    if objectives.is_empty() {
        ctx.error(spec.pos, op, "at least one objective is required");
    }
    let mut out = Vec::new();
    for (i, obj) in objectives.iter().enumerate() {
        let p = index(op, i);
        let Some(o) = ctx.object(
            obj,
            &p,
            &["displayName", "op", "value", "target", "timeSliceTarget", "ratioMetrics"],
        ) else {
            continue;
        };
        let target =
            o.require(ctx, "target").and_then(|t| ratio_target(ctx, t, &o.path_of("target")));
        let sli = match o.opt("ratioMetrics") {
            Some(rm) => v1alpha_ratio(ctx, rm, &o.path_of("ratioMetrics")),
            None => {
                ctx.error(
                    obj.pos,
                    o.path_of("ratioMetrics"),
                    "missing ratioMetrics: only ratio objectives are supported",
                );
                None
            }
        };
        if let (Some(name), Some(service), Some(target), Some(sli)) = (&name, &service, target, sli)
        {
            out.push(draft(
                name,
                service,
                i,
                &description,
                target,
                sli,
                period.clone(),
                obj.pos,
                p,
            ));
        }
    }
    Some(out)
}

/// A `target` ratio in (0, 1), as a percent.
fn ratio_target(ctx: &mut Ctx, n: &Node, path: &str) -> Option<f64> {
    let v = ctx.number(n, path)?;
    if !(v > 0.0 && v <= 1.0) {
        ctx.error(
            n.pos,
            path,
            format!("target must be a ratio greater than 0 and at most 1, found {v}"),
        );
        return None;
    }
    Some(v * 100.0)
}

fn v1alpha_ratio(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Sli> {
    let o = ctx.object(node, path, &["incremental", "good", "total"])?;
    let metric = |ctx: &mut Ctx, key: &str| -> Option<String> {
        let p = o.path_of(key);
        let n = o.require(ctx, key)?;
        let mo = ctx.object(n, &p, &["source", "queryType", "query", "metadata"])?;
        let source = mo.require(ctx, "source").and_then(|s| ctx.string(s, &mo.path_of("source")));
        if let Some(s) = &source
            && s != "prometheus"
            && s != "sloth"
        {
            ctx.error(
                mo.get("source").map_or(n.pos, |s| s.pos),
                mo.path_of("source"),
                format!("unsupported source {s:?}; expected \"prometheus\" or \"sloth\""),
            );
        }
        let qt = mo.require(ctx, "queryType").and_then(|s| ctx.string(s, &mo.path_of("queryType")));
        if let Some(q) = &qt
            && q != "promql"
        {
            ctx.error(
                mo.get("queryType").map_or(n.pos, |s| s.pos),
                mo.path_of("queryType"),
                format!("unsupported query type {q:?}; expected \"promql\""),
            );
        }
        let qn = mo.require(ctx, "query")?;
        let q = ctx.string(qn, &mo.path_of("query"))?;
        if let Err(m) = query::check(&q) {
            ctx.error(qn.pos, mo.path_of("query"), m);
            return None;
        }
        Some(q)
    };
    let good = metric(ctx, "good");
    let total = metric(ctx, "total");
    let raw = good_total_query(&good?, &total?);
    finish_raw(ctx, node.pos, path, raw)
}

/// A raw error-ratio query assembled from parts: it must use `{{.window}}` and parse.
fn finish_raw(ctx: &mut Ctx, pos: Pos, path: &str, raw: String) -> Option<Sli> {
    if !query::has_window(&raw) {
        ctx.error(pos, path, "the queries must use the {{.window}} variable");
        return None;
    }
    if let Err(m) = query::check(&raw) {
        ctx.error(pos, path, m);
        return None;
    }
    Some(Sli::Raw { error_ratio_query: raw })
}

fn v1(ctx: &mut Ctx, root: &Node, indicators: &HashMap<String, &Node>) -> Option<Vec<SloDraft>> {
    let ro = ctx.object(root, "", &["apiVersion", "kind", "metadata", "spec"])?;
    let spec = ro.require(ctx, "spec")?;
    let so = ctx.object(
        spec,
        "spec",
        &[
            "description",
            "service",
            "indicator",
            "indicatorRef",
            "timeWindow",
            "budgetingMethod",
            "objectives",
            "alertPolicies",
        ],
    )?;
    let (name, service) = names(ctx, &ro, &so);
    let description =
        so.opt("description").and_then(|n| ctx.string(n, "spec.description")).unwrap_or_default();
    let method = so
        .opt("budgetingMethod")
        .and_then(|n| ctx.string(n, "spec.budgetingMethod").map(|s| (s, n.pos)));
    let method = match method {
        Some((m, pos)) => {
            match m.as_str() {
                "Occurrences" | "Timeslices" => Some(m),
                other => {
                    ctx.error(
                    pos,
                    "spec.budgetingMethod",
                    format!("unsupported budgeting method {other:?}; expected Occurrences or Timeslices"),
                );
                    None
                }
            }
        }
        None => Some("Occurrences".to_owned()),
    };
    let period = so.opt("timeWindow").and_then(|n| v1_time_window(ctx, n));
    let op = "spec.objectives";
    let objectives = so.require(ctx, "objectives").and_then(|n| ctx.list(n, op))?;
    if objectives.is_empty() {
        ctx.error(spec.pos, op, "at least one objective is required");
    }
    let slo_indicator = indicator_of(ctx, &so, "spec", indicators);
    let mut out = Vec::new();
    for (i, obj) in objectives.iter().enumerate() {
        let p = index(op, i);
        let Some(o) = ctx.object(
            obj,
            &p,
            &[
                "displayName",
                "op",
                "value",
                "target",
                "targetPercent",
                "timeSliceTarget",
                "timeSliceWindow",
                "indicator",
                "indicatorRef",
                "compositeWeight",
            ],
        ) else {
            continue;
        };
        let objective = match (o.opt("target"), o.opt("targetPercent")) {
            (Some(t), None) => ratio_target(ctx, t, &o.path_of("target")),
            (None, Some(t)) => crate::sloth::objective(ctx, t, &o.path_of("targetPercent")),
            (Some(_), Some(t)) => {
                ctx.error(
                    t.pos,
                    o.path_of("targetPercent"),
                    "give either target or targetPercent, not both",
                );
                None
            }
            (None, None) => {
                ctx.error(
                    obj.pos,
                    o.path_of("target"),
                    "required field is missing (or targetPercent)",
                );
                None
            }
        };
        let own = if o.opt("indicator").is_some() || o.opt("indicatorRef").is_some() {
            indicator_of(ctx, &o, &p, indicators)
        } else {
            None
        };
        let Some((ind, ind_path)) = own.or_else(|| slo_indicator.clone()) else {
            if o.opt("indicator").is_none()
                && o.opt("indicatorRef").is_none()
                && so.opt("indicator").is_none()
                && so.opt("indicatorRef").is_none()
            {
                ctx.error(spec.pos, "spec.indicator", "an indicator (or indicatorRef) is required");
            }
            continue;
        };
        let sli = v1_sli(ctx, ind, &ind_path, &o, obj.pos, method.as_deref());
        if let (Some(name), Some(service), Some(objective), Some(sli)) =
            (&name, &service, objective, sli)
        {
            out.push(draft(
                name,
                service,
                i,
                &description,
                objective,
                sli,
                period.clone(),
                obj.pos,
                p,
            ));
        }
    }
    Some(out)
}

/// One rolling time window of whole minutes, hours, days or weeks.
fn v1_time_window(ctx: &mut Ctx, n: &Node) -> Option<(i64, Pos, String)> {
    let items = ctx.list(n, "spec.timeWindow")?;
    if items.len() != 1 {
        ctx.error(n.pos, "spec.timeWindow", "exactly one time window is supported");
        return None;
    }
    let item = &items[0];
    let p = index("spec.timeWindow", 0);
    let o = ctx.object(item, &p, &["duration", "isRolling", "calendar"])?;
    if let Some(c) = o.opt("calendar") {
        ctx.error(
            c.pos,
            o.path_of("calendar"),
            "calendar-aligned time windows are not supported; use a rolling window",
        );
        return None;
    }
    if let Some(r) = o.opt("isRolling")
        && ctx.bool(r, &o.path_of("isRolling")) == Some(false)
    {
        ctx.error(r.pos, o.path_of("isRolling"), "only rolling time windows are supported");
        return None;
    }
    let dn = o.require(ctx, "duration")?;
    let d = ctx.string(dn, &o.path_of("duration"))?;
    let (num, unit) = d.split_at(d.find(|c: char| !c.is_ascii_digit()).unwrap_or(d.len()));
    let mult = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => DAY_MS,
        "w" => 7 * DAY_MS,
        _ => {
            ctx.error(
                dn.pos,
                o.path_of("duration"),
                format!("unsupported duration {d:?}: use a number of minutes, hours, days or weeks (m, h, d, w)"),
            );
            return None;
        }
    };
    match num.parse::<i64>() {
        Ok(v) if v > 0 => Some((v * mult, dn.pos, o.path_of("duration"))),
        _ => {
            ctx.error(dn.pos, o.path_of("duration"), format!("invalid duration {d:?}"));
            None
        }
    }
}

/// The indicator node (an `SLI`'s `spec`) an object defines inline or refers to.
fn indicator_of<'a>(
    ctx: &mut Ctx,
    o: &Obj<'a>,
    path: &str,
    indicators: &HashMap<String, &'a Node>,
) -> Option<(&'a Node, String)> {
    if let Some(n) = o.opt("indicator") {
        let p = format!("{path}.indicator");
        let io = ctx.object(n, &p, &["metadata", "spec"])?;
        let spec = io.require(ctx, "spec")?;
        return Some((spec, format!("{p}.spec")));
    }
    let r = o.opt("indicatorRef")?;
    let name = ctx.string(r, &o.path_of("indicatorRef"))?;
    let Some(doc) = indicators.get(&name) else {
        ctx.error(
            r.pos,
            o.path_of("indicatorRef"),
            format!("no openslo/v1 SLI named {name:?} in this file"),
        );
        return None;
    };
    let Value::Map(entries) = &doc.value else { return None };
    let spec = entries.iter().find(|(k, _)| k.key_text() == "spec").map(|(_, v)| v);
    match spec {
        Some(s) => Some((s, "spec".to_owned())),
        None => {
            ctx.error(doc.pos, "spec", format!("the SLI {name:?} has no spec"));
            None
        }
    }
}

fn v1_sli(
    ctx: &mut Ctx,
    ind: &Node,
    path: &str,
    objective: &Obj<'_>,
    obj_pos: Pos,
    method: Option<&str>,
) -> Option<Sli> {
    let io = ctx.object(ind, path, &["description", "ratioMetric", "thresholdMetric"])?;
    match (io.opt("ratioMetric"), io.opt("thresholdMetric")) {
        (Some(rm), None) => {
            if method == Some("Timeslices") {
                ctx.error(
                    rm.pos,
                    io.path_of("ratioMetric"),
                    "ratio metrics are supported with the Occurrences budgeting method only",
                );
                return None;
            }
            v1_ratio(ctx, rm, &io.path_of("ratioMetric"))
        }
        (None, Some(tm)) => {
            v1_threshold(ctx, tm, &io.path_of("thresholdMetric"), objective, obj_pos)
        }
        (Some(_), Some(_)) => {
            ctx.error(ind.pos, path, "only one of ratioMetric and thresholdMetric is allowed");
            None
        }
        (None, None) => {
            ctx.error(ind.pos, path, "a ratioMetric or thresholdMetric is required");
            None
        }
    }
}

/// A Prometheus query from `{metricSource: {type, spec: {query}}}`.
fn metric_query(ctx: &mut Ctx, n: &Node, path: &str) -> Option<(String, Pos, String)> {
    let o = ctx.object(n, path, &["metricSource"])?;
    let ms = o.require(ctx, "metricSource")?;
    let mp = o.path_of("metricSource");
    let mo = ctx.object(ms, &mp, &["metricSourceRef", "type", "spec"])?;
    if let Some(t) = mo.opt("type")
        && let Some(ty) = ctx.string(t, &mo.path_of("type"))
        && !ty.eq_ignore_ascii_case("prometheus")
    {
        ctx.error(
            t.pos,
            mo.path_of("type"),
            format!("unsupported metric source type {ty:?}; expected Prometheus"),
        );
        return None;
    }
    let spec = mo.require(ctx, "spec")?;
    let sp = mo.path_of("spec");
    let so = ctx.object(spec, &sp, &["query"])?;
    let qn = so.require(ctx, "query")?;
    let qp = so.path_of("query");
    let q = ctx.string(qn, &qp)?;
    Some((q, qn.pos, qp))
}

/// A counter's selector becomes its per-second rate over the window; other queries
/// must use `{{.window}}` themselves.
fn windowed(ctx: &mut Ctx, q: String, pos: Pos, path: &str, counter: bool) -> Option<String> {
    if query::has_window(&q) {
        if let Err(m) = query::check(&q) {
            ctx.error(pos, path, m);
            return None;
        }
        return Some(q);
    }
    let selector =
        matches!(andon_promql::parse(q.trim()), Ok(andon_promql::Expr::VectorSelector(_)));
    if counter && selector {
        return Some(format!("sum(rate({}[{{{{.window}}}}]))", q.trim()));
    }
    ctx.error(
        pos,
        path,
        "the query must use the {{.window}} variable (or be a counter's series selector with counter: true)",
    );
    None
}

fn v1_ratio(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Sli> {
    let o = ctx.object(node, path, &["counter", "good", "bad", "total", "rawType", "raw"])?;
    let counter =
        o.opt("counter").and_then(|n| ctx.bool(n, &o.path_of("counter"))).unwrap_or(false);
    if let Some(raw) = o.opt("raw") {
        let rt = o
            .require(ctx, "rawType")
            .and_then(|n| ctx.string(n, &o.path_of("rawType")).map(|s| (s, n.pos)));
        let (q, pos, qp) = metric_query(ctx, raw, &o.path_of("raw"))?;
        let q = windowed(ctx, q, pos, &qp, false)?;
        let (rt, rt_pos) = rt?;
        return match rt.as_str() {
            "failure" => Some(Sli::Raw { error_ratio_query: q }),
            "success" => finish_raw(ctx, pos, &qp, format!("1 - ({q})")),
            other => {
                ctx.error(
                    rt_pos,
                    o.path_of("rawType"),
                    format!("unsupported rawType {other:?}; expected success or failure"),
                );
                None
            }
        };
    }
    let total = o.require(ctx, "total").and_then(|n| {
        let (q, pos, qp) = metric_query(ctx, n, &o.path_of("total"))?;
        windowed(ctx, q, pos, &qp, counter)
    });
    match (o.opt("good"), o.opt("bad")) {
        (Some(g), None) => {
            let (q, pos, qp) = metric_query(ctx, g, &o.path_of("good"))?;
            let good = windowed(ctx, q, pos, &qp, counter)?;
            finish_raw(ctx, node.pos, path, good_total_query(&good, &total?))
        }
        (None, Some(b)) => {
            let (q, pos, qp) = metric_query(ctx, b, &o.path_of("bad"))?;
            let bad = windowed(ctx, q, pos, &qp, counter)?;
            let total = total?;
            if bad == total {
                ctx.error(node.pos, path, "both bad and total queries can't be the same");
                return None;
            }
            Some(Sli::Events { error_query: bad, total_query: total })
        }
        (Some(_), Some(b)) => {
            ctx.error(b.pos, o.path_of("bad"), "give either good or bad, not both");
            None
        }
        (None, None) => {
            ctx.error(node.pos, o.path_of("good"), "a good or bad metric is required");
            None
        }
    }
}

/// The share of evaluations in the window where the metric misses `op value`.
fn v1_threshold(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    objective: &Obj<'_>,
    obj_pos: Pos,
) -> Option<Sli> {
    let (q, pos, qp) = metric_query(ctx, node, path)?;
    if let Err(m) = query::check(&q) {
        ctx.error(pos, &qp, m);
        return None;
    }
    let op = objective.require(ctx, "op").and_then(|n| {
        let s = ctx.string(n, &objective.path_of("op"))?;
        let op = match s.as_str() {
            "lt" => "<",
            "lte" => "<=",
            "gt" => ">",
            "gte" => ">=",
            other => {
                ctx.error(
                    n.pos,
                    objective.path_of("op"),
                    format!("unsupported operator {other:?}; expected lt, lte, gt or gte"),
                );
                return None;
            }
        };
        Some(op)
    });
    let value = objective.require(ctx, "value").and_then(|n| match n.value {
        Value::Int(i) => Some(i as f64),
        Value::Float(f) if f.is_finite() => Some(f),
        _ => {
            ctx.error(n.pos, objective.path_of("value"), "expected a number");
            None
        }
    });
    let raw = format!(
        "1 - avg_over_time((({}) {} bool {})[{{{{.window}}}}:])",
        q.trim(),
        op?,
        go_g(value?)
    );
    finish_raw(ctx, obj_pos, path, raw)
}
