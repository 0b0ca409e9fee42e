//! `kind: AnalysisTemplate` (and `ClusterAnalysisTemplate`) in Argo Rollouts' shape:
//! arguments, and metrics measured by a provider (`prometheus`, `web`, `job`, `slo`)
//! whose results are judged by success and failure conditions.

use serde::Serialize;

use crate::decode::{Ctx, Obj, index};
use crate::service::EnvVar;
use crate::strategy::scalar_text;
use crate::yaml::{Node, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplateSpec {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgDef>,
    pub metrics: Vec<Metric>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<MetricSelector>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<Retention>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArgDef {
    pub name: String,
    /// `None`: the rollout must supply it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSelector {
    pub metric_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    pub metric_name: String,
    pub limit: i64,
}

/// A number, or text with `{{args.…}}` to be resolved when the analysis starts.
#[derive(Debug, Clone, PartialEq)]
pub enum IntOrString {
    Int(i64),
    Str(String),
}

impl Serialize for IntOrString {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrString::Int(i) => s.serialize_i64(*i),
            IntOrString::Str(t) => s.serialize_str(t),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    pub name: String,
    /// A duration (`5m`), possibly templated. `None`: one measurement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<IntOrString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_limit: Option<IntOrString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inconclusive_limit: Option<IntOrString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consecutive_error_limit: Option<IntOrString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consecutive_success_limit: Option<IntOrString>,
    pub provider: Provider,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Provider {
    Prometheus(PrometheusProvider),
    Web(WebProvider),
    Job(JobProvider),
    Slo(SloProvider),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusProvider {
    /// An external Prometheus; `None`: andon's own engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub query: String,
    /// Seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebProvider {
    pub url: String,
    pub method: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_body: Option<serde_json::Value>,
    pub timeout_seconds: i64,
    /// `{$.data.ok}`: the part of the response the conditions see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
}

/// A Kubernetes Job's first container, run by andon as a local process: the
/// measurement succeeds when it exits 0.
#[derive(Debug, Clone, PartialEq)]
pub struct JobProvider {
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub env: Vec<EnvVar>,
    pub working_dir: Option<String>,
    pub active_deadline_seconds: Option<i64>,
}

/// Written back in a Job's shape, so a stored template reads as it was given.
impl Serialize for JobProvider {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut container = serde_json::json!({"name": "job", "command": self.command});
        if !self.args.is_empty() {
            container["args"] = serde_json::json!(self.args);
        }
        if !self.env.is_empty() {
            container["env"] = serde_json::json!(self.env);
        }
        if let Some(w) = &self.working_dir {
            container["workingDir"] = serde_json::json!(w);
        }
        let mut spec = serde_json::json!({"template": {"spec": {"containers": [container]}}});
        if let Some(d) = self.active_deadline_seconds {
            spec["activeDeadlineSeconds"] = serde_json::json!(d);
        }
        serde_json::json!({ "spec": spec }).serialize(s)
    }
}

/// The burn rate of one of andon's SLOs over a window: `result` is
/// `{burnRate, errorRatio, budgetRemaining, objective}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloProvider {
    /// `name` or `namespace/name` of a PrometheusServiceLevel's SLO (`service-slo`).
    pub name: String,
    /// The burn-rate window: 5m, 30m, 1h, 2h, 6h, 1d or 3d.
    pub window: String,
}

const METRIC_FIELDS: &[&str] = &[
    "name",
    "interval",
    "initialDelay",
    "count",
    "successCondition",
    "failureCondition",
    "failureLimit",
    "inconclusiveLimit",
    "consecutiveErrorLimit",
    "consecutiveSuccessLimit",
    "provider",
];
const PROVIDERS: &[&str] = &[
    "prometheus",
    "web",
    "job",
    "slo",
    "datadog",
    "newRelic",
    "wavefront",
    "kayenta",
    "cloudWatch",
    "graphite",
    "influxdb",
    "skywalking",
    "plugin",
];
/// The windows andon's SLO rules record burn rates for.
pub const SLO_WINDOWS: &[&str] = &["5m", "30m", "1h", "2h", "6h", "1d", "3d"];

pub fn decode(ctx: &mut Ctx, node: &Node, path: &str) -> Option<AnalysisTemplateSpec> {
    let before = ctx.diags.len();
    let o = ctx.object(node, path, &["args", "metrics", "dryRun", "measurementRetention"])?;
    let mut args: Vec<ArgDef> = Vec::new();
    if let Some(n) = o.opt("args") {
        let p = o.path_of("args");
        for (i, item) in ctx.list(n, &p).unwrap_or_default().iter().enumerate() {
            let ip = index(&p, i);
            let Some(a) = ctx.object(item, &ip, &["name", "value", "valueFrom"]) else { continue };
            let name = a.require(ctx, "name").and_then(|n| ctx.string(n, &a.path_of("name")));
            let value = a.opt("value").and_then(|n| scalar_text(ctx, n, &a.path_of("value")));
            if let Some(pos) = a.key_pos("valueFrom") {
                ctx.error(pos, a.path_of("valueFrom"), "secret references are not supported yet");
            }
            if let Some(name) = name {
                if args.iter().any(|x| x.name == name)
                    && let Some(n) = a.get("name")
                {
                    ctx.error(n.pos, a.path_of("name"), format!("duplicate argument {name:?}"));
                }
                args.push(ArgDef { name, value });
            }
        }
    }
    let mut metrics: Vec<Metric> = Vec::new();
    if let Some(n) = o.require(ctx, "metrics") {
        let p = o.path_of("metrics");
        let items = ctx.list(n, &p).unwrap_or_default();
        if items.is_empty() && matches!(n.value, Value::Seq(_)) {
            ctx.error(n.pos, &p, "must define at least one metric");
        }
        for (i, item) in items.iter().enumerate() {
            let ip = index(&p, i);
            if let Some(m) = decode_metric(ctx, item, &ip) {
                if metrics.iter().any(|x| x.name == m.name) {
                    ctx.error(
                        item.pos,
                        format!("{ip}.name"),
                        format!("duplicate metric {:?}", m.name),
                    );
                }
                metrics.push(m);
            }
        }
    }
    let names: Vec<String> = metrics.iter().map(|m| m.name.clone()).collect();
    let selectors = |ctx: &mut Ctx, field: &str, with_limit: bool| -> Vec<(String, i64)> {
        let Some(n) = o.opt(field) else { return Vec::new() };
        let p = o.path_of(field);
        let known: &[&str] = if with_limit { &["metricName", "limit"] } else { &["metricName"] };
        let mut out = Vec::new();
        for (i, item) in ctx.list(n, &p).unwrap_or_default().iter().enumerate() {
            let ip = index(&p, i);
            let Some(s) = ctx.object(item, &ip, known) else { continue };
            let Some(mn) = s.require(ctx, "metricName") else { continue };
            let Some(name) = ctx.string(mn, &s.path_of("metricName")) else { continue };
            if name != ".*" && !names.contains(&name) {
                ctx.error(mn.pos, s.path_of("metricName"), format!("no metric named {name:?}"));
            }
            let limit = if with_limit {
                s.require(ctx, "limit").and_then(|l| ctx.int_min(l, &s.path_of("limit"), 1))
            } else {
                Some(0)
            };
            out.push((name, limit.unwrap_or(0)));
        }
        out
    };
    let dry_run = selectors(ctx, "dryRun", false)
        .into_iter()
        .map(|(metric_name, _)| MetricSelector { metric_name })
        .collect();
    let measurement_retention = selectors(ctx, "measurementRetention", true)
        .into_iter()
        .map(|(metric_name, limit)| Retention { metric_name, limit })
        .collect();
    (ctx.diags.len() == before).then_some(AnalysisTemplateSpec {
        args,
        metrics,
        dry_run,
        measurement_retention,
    })
}

fn int_or_string(ctx: &mut Ctx, o: &Obj<'_>, name: &str, min: i64) -> Option<IntOrString> {
    let n = o.opt(name)?;
    let p = o.path_of(name);
    match &n.value {
        Value::Str(s) if s.contains("{{") => Some(IntOrString::Str(s.clone())),
        Value::Str(s) => match s.trim().parse::<i64>() {
            Ok(v) if v >= min => Some(IntOrString::Int(v)),
            _ => {
                ctx.error(
                    n.pos,
                    &p,
                    format!("{s:?}: expected an integer ≥ {min} or {{{{args.name}}}}"),
                );
                None
            }
        },
        _ => ctx.int_min(n, &p, min).map(IntOrString::Int),
    }
}

/// A Go-style duration (`30s`, `5m`, `1h30m`), or text with `{{args.…}}`.
fn duration_text(ctx: &mut Ctx, o: &Obj<'_>, name: &str) -> Option<String> {
    let n = o.opt(name)?;
    let p = o.path_of(name);
    let s = match &n.value {
        Value::Int(i) if *i >= 0 => return Some(format!("{i}s")),
        _ => ctx.string(n, &p)?,
    };
    if !s.contains("{{") && go_duration_seconds(&s).is_none() {
        ctx.error(n.pos, &p, format!("{s:?}: expected a duration like \"30s\", \"5m\", \"1h\""));
        return None;
    }
    Some(s)
}

/// Seconds in a Go duration string (`1h30m`, `500ms`, `2.5s`); `None` when malformed.
pub fn go_duration_seconds(s: &str) -> Option<f64> {
    let s = s.trim();
    if s == "0" {
        return Some(0.0);
    }
    let mut rest = s;
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * mult;
    }
    Some(total)
}

fn decode_metric(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Metric> {
    let before = ctx.diags.len();
    let o = ctx.object(node, path, METRIC_FIELDS)?;
    let name = o.require(ctx, "name").and_then(|n| ctx.string(n, &o.path_of("name")));
    let interval = duration_text(ctx, &o, "interval");
    let initial_delay = duration_text(ctx, &o, "initialDelay");
    let count = int_or_string(ctx, &o, "count", 0);
    if let (Some(IntOrString::Int(c)), None, Some(n)) = (&count, &interval, o.opt("count"))
        && *c > 1
    {
        ctx.error(n.pos, o.path_of("count"), "more than one measurement needs an interval");
    }
    let text = |ctx: &mut Ctx, f: &str| o.opt(f).and_then(|n| ctx.string(n, &o.path_of(f)));
    let success_condition = text(ctx, "successCondition");
    let failure_condition = text(ctx, "failureCondition");
    let failure_limit = int_or_string(ctx, &o, "failureLimit", -1);
    let inconclusive_limit = int_or_string(ctx, &o, "inconclusiveLimit", 0);
    let consecutive_error_limit = int_or_string(ctx, &o, "consecutiveErrorLimit", 0);
    let consecutive_success_limit = int_or_string(ctx, &o, "consecutiveSuccessLimit", 0);
    if matches!(failure_limit, Some(IntOrString::Int(-1)))
        && matches!(consecutive_success_limit, None | Some(IntOrString::Int(0)))
        && let Some(n) = o.opt("failureLimit")
    {
        ctx.error(
            n.pos,
            o.path_of("failureLimit"),
            "failureLimit -1 needs a consecutiveSuccessLimit: the metric could never end",
        );
    }
    let provider =
        o.require(ctx, "provider").and_then(|n| decode_provider(ctx, n, &o.path_of("provider")));
    (ctx.diags.len() == before).then_some(Metric {
        name: name?,
        interval,
        initial_delay,
        count,
        success_condition,
        failure_condition,
        failure_limit,
        inconclusive_limit,
        consecutive_error_limit,
        consecutive_success_limit,
        provider: provider?,
    })
}

fn key_values(ctx: &mut Ctx, o: &Obj<'_>, name: &str) -> Vec<KeyValue> {
    let Some(n) = o.opt(name) else { return Vec::new() };
    let p = o.path_of(name);
    let mut out = Vec::new();
    for (i, item) in ctx.list(n, &p).unwrap_or_default().iter().enumerate() {
        let ip = index(&p, i);
        let Some(h) = ctx.object(item, &ip, &["key", "value"]) else { continue };
        let key = h.require(ctx, "key").and_then(|n| ctx.string(n, &h.path_of("key")));
        let value = h.require(ctx, "value").and_then(|n| ctx.string(n, &h.path_of("value")));
        if let (Some(key), Some(value)) = (key, value) {
            out.push(KeyValue { key, value });
        }
    }
    out
}

fn decode_provider(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Provider> {
    let o = ctx.object(node, path, PROVIDERS)?;
    let given: Vec<&str> = PROVIDERS.iter().copied().filter(|p| o.get(p).is_some()).collect();
    if given.len() != 1 {
        ctx.error(
            node.pos,
            path,
            if given.is_empty() {
                "must give one provider: prometheus, web, job or slo".to_owned()
            } else {
                format!("must give one provider, found {}", given.join(" and "))
            },
        );
        return None;
    }
    let kind = given[0];
    let n = o.get(kind)?;
    let p = o.path_of(kind);
    match kind {
        "prometheus" => {
            let po = ctx.object(
                n,
                &p,
                &[
                    "address",
                    "query",
                    "timeout",
                    "headers",
                    "insecure",
                    "authentication",
                    "rangeQuery",
                ],
            )?;
            for unsupported in ["authentication", "rangeQuery"] {
                if let Some(pos) = po.key_pos(unsupported) {
                    ctx.error(pos, po.path_of(unsupported), "is not supported yet");
                }
            }
            let address = po.opt("address").and_then(|n| ctx.string(n, &po.path_of("address")));
            let query = po.require(ctx, "query").and_then(|n| ctx.string(n, &po.path_of("query")));
            let timeout = po.opt("timeout").and_then(|n| ctx.int_min(n, &po.path_of("timeout"), 1));
            let headers = key_values(ctx, &po, "headers");
            if let Some(n) = po.opt("insecure") {
                ctx.bool(n, &po.path_of("insecure"));
            }
            Some(Provider::Prometheus(PrometheusProvider {
                address,
                query: query?,
                timeout,
                headers,
            }))
        }
        "web" => {
            let wo = ctx.object(
                n,
                &p,
                &[
                    "url",
                    "method",
                    "headers",
                    "body",
                    "jsonBody",
                    "timeoutSeconds",
                    "jsonPath",
                    "insecure",
                ],
            )?;
            let url = wo.require(ctx, "url").and_then(|n| ctx.string(n, &wo.path_of("url")));
            let method = match wo.opt("method") {
                Some(n) => {
                    let m = ctx.string(n, &wo.path_of("method"))?;
                    if !["GET", "POST", "PUT"].contains(&m.as_str()) {
                        ctx.error(
                            n.pos,
                            wo.path_of("method"),
                            format!("{m:?}: expected GET, POST or PUT"),
                        );
                    }
                    m
                }
                None => "GET".to_owned(),
            };
            let headers = key_values(ctx, &wo, "headers");
            let body = wo.opt("body").and_then(|n| ctx.string(n, &wo.path_of("body")));
            let json_body = wo.opt("jsonBody").map(Node::to_json);
            if body.is_some() && json_body.is_some() {
                ctx.error(n.pos, &p, "give body or jsonBody, not both");
            }
            let timeout_seconds = wo
                .opt("timeoutSeconds")
                .and_then(|n| ctx.int_min(n, &wo.path_of("timeoutSeconds"), 1))
                .unwrap_or(10);
            let json_path = wo.opt("jsonPath").and_then(|n| ctx.string(n, &wo.path_of("jsonPath")));
            if let Some(n) = wo.opt("insecure") {
                ctx.bool(n, &wo.path_of("insecure"));
            }
            Some(Provider::Web(WebProvider {
                url: url?,
                method,
                headers,
                body,
                json_body,
                timeout_seconds,
                json_path,
            }))
        }
        "job" => decode_job(ctx, n, &p).map(Provider::Job),
        "slo" => {
            let so = ctx.object(n, &p, &["name", "window"])?;
            let name = so.require(ctx, "name").and_then(|n| ctx.string(n, &so.path_of("name")));
            let window = match so.opt("window") {
                Some(w) => {
                    let v = ctx.string(w, &so.path_of("window"))?;
                    if !SLO_WINDOWS.contains(&v.as_str()) {
                        ctx.error(
                            w.pos,
                            so.path_of("window"),
                            format!("{v:?}: expected one of {}", SLO_WINDOWS.join(", ")),
                        );
                    }
                    v
                }
                None => "1h".to_owned(),
            };
            Some(Provider::Slo(SloProvider { name: name?, window }))
        }
        other => {
            ctx.error(
                o.key_pos(other).unwrap_or(n.pos),
                &p,
                format!(
                    "provider {other:?} is not supported by andon; use prometheus, web, job or slo"
                ),
            );
            None
        }
    }
}

/// A Job: `spec.template.spec.containers[0]` runs as a local process (the image is not
/// used); `activeDeadlineSeconds` bounds it.
fn decode_job(ctx: &mut Ctx, node: &Node, path: &str) -> Option<JobProvider> {
    let before = ctx.diags.len();
    let o = ctx.object(node, path, &["metadata", "spec"])?;
    let spec = o.require(ctx, "spec")?;
    let sp = o.path_of("spec");
    let (template, active_deadline_seconds) = match &spec.value {
        Value::Map(entries) => {
            let mut template = None;
            let mut deadline = None;
            for (k, v) in entries {
                match k.key_text().as_ref() {
                    "template" => template = Some(v),
                    "activeDeadlineSeconds" => {
                        deadline = ctx.int_min(v, &format!("{sp}.activeDeadlineSeconds"), 1)
                    }
                    _ => {}
                }
            }
            (template, deadline)
        }
        other => {
            ctx.error(spec.pos, &sp, format!("expected a mapping, found {}", other.type_name()));
            return None;
        }
    };
    let Some(template) = template else {
        ctx.error(spec.pos, format!("{sp}.template"), "required field is missing");
        return None;
    };
    let pod = crate::pod::decode_template(ctx, template, &format!("{sp}.template"))?;
    let c = pod.containers.into_iter().next()?;
    if c.command.is_empty() && c.args.is_empty() {
        ctx.error(
            template.pos,
            format!("{sp}.template.spec.containers[0].command"),
            "andon runs the job's container as a local process: give its command",
        );
    }
    let (command, args) =
        if c.command.is_empty() { (c.args, Vec::new()) } else { (c.command, c.args) };
    (ctx.diags.len() == before).then_some(JobProvider {
        command,
        args,
        env: c.env,
        working_dir: c.working_dir,
        active_deadline_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration_seconds("1h30m"), Some(5400.0));
        assert_eq!(go_duration_seconds("500ms"), Some(0.5));
        assert_eq!(go_duration_seconds("0"), Some(0.0));
        assert_eq!(go_duration_seconds("5"), None);
        assert_eq!(go_duration_seconds("1x"), None);
        assert_eq!(go_duration_seconds(""), None);
    }
}
