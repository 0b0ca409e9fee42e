//! `kind: Service`: a program andon runs as replicas, with Kubernetes' probe,
//! resource and port fields and defaults.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::decode::{Ctx, Obj, field, index};
use crate::names::{check_env_name, check_port_name};
use crate::quantity::Quantity;
use crate::strategy::{self, Strategy};
use crate::yaml::{Node, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    pub replicas: i64,
    /// A container image named by an Argo Rollout; andon runs `command`, so a service
    /// with an image and no command is stored but cannot start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub env: Vec<EnvVar>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    pub ports: Vec<Port>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    pub termination_grace_period_seconds: i64,
    /// How a new revision replaces the running one; `None`: a rolling update with
    /// maxSurge 25% and maxUnavailable 25%.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// A ready instance counts as available after staying ready this long.
    #[serde(skip_serializing_if = "is_zero")]
    pub min_ready_seconds: i64,
    /// A rollout that makes no progress for this long is marked ProgressDeadlineExceeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i64>,
    /// Rollouts of this service wait until it is resumed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Set by `andon rollout restart` (RFC 3339): a new value makes a new revision, so
    /// every instance is replaced through the strategy, like `kubectl rollout restart`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restarted_at: Option<String>,
    /// The replica count follows these metrics (Kubernetes' HorizontalPodAutoscaler).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<crate::autoscaling::Autoscaling>,
}

/// The fields of a Service spec that say how many instances run, where they are served
/// and how a new revision rolls out: changing them makes no new revision, and
/// `andon rollout undo` keeps them as they are.
pub const ROLLOUT_FIELDS: &[&str] = &[
    "replicas",
    "ports",
    "strategy",
    "minReadySeconds",
    "progressDeadlineSeconds",
    "paused",
    "autoscaling",
];

/// The fields of a Service (and of an Argo Rollout) that say how revisions roll out.
pub(crate) struct RolloutSettings {
    pub strategy: Option<Strategy>,
    pub min_ready_seconds: i64,
    pub progress_deadline_seconds: Option<i64>,
    pub paused: bool,
}

pub(crate) fn rollout_settings(
    ctx: &mut Ctx,
    o: &Obj<'_>,
    strategy_required: bool,
) -> RolloutSettings {
    let strategy_node =
        if strategy_required { o.require(ctx, "strategy") } else { o.opt("strategy") };
    let strategy = strategy_node.and_then(|n| strategy::decode(ctx, n, &o.path_of("strategy")));
    let min_ready_seconds = o
        .opt("minReadySeconds")
        .and_then(|n| ctx.int_min(n, &o.path_of("minReadySeconds"), 0))
        .unwrap_or(0);
    let progress_deadline_seconds = o
        .opt("progressDeadlineSeconds")
        .and_then(|n| ctx.int_min(n, &o.path_of("progressDeadlineSeconds"), 1));
    if let (Some(d), Some(n)) = (progress_deadline_seconds, o.opt("progressDeadlineSeconds"))
        && d <= min_ready_seconds
    {
        ctx.error(
            n.pos,
            o.path_of("progressDeadlineSeconds"),
            format!("must be greater than minReadySeconds ({min_ready_seconds})"),
        );
    }
    let paused = o.opt("paused").and_then(|n| ctx.bool(n, &o.path_of("paused"))).unwrap_or(false);
    RolloutSettings { strategy, min_ready_seconds, progress_deadline_seconds, paused }
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl ServiceSpec {
    /// The progress deadline in seconds (Kubernetes' default: 600).
    pub fn progress_deadline(&self) -> i64 {
        self.progress_deadline_seconds.unwrap_or(600)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Port {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The service's stable address; 0 picks a free port.
    pub port: u16,
}

/// A port given as a number or as the name of one of the service's ports.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PortRef {
    Number(u16),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    #[serde(flatten)]
    pub handler: ProbeHandler,
    pub initial_delay_seconds: i64,
    pub period_seconds: i64,
    pub timeout_seconds: i64,
    pub success_threshold: i64,
    pub failure_threshold: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ProbeHandler {
    HttpGet(HttpGet),
    TcpSocket(TcpSocket),
    Exec(ExecAction),
    Grpc(GrpcAction),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpGet {
    pub path: String,
    pub port: PortRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub scheme: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_headers: Vec<HttpHeader>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TcpSocket {
    pub port: PortRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecAction {
    pub command: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrpcAction {
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Resources {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Quantity>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, Quantity>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty() && self.requests.is_empty()
    }
}

const SERVICE_FIELDS: &[&str] = &[
    "replicas",
    "command",
    "args",
    "env",
    "workingDir",
    "ports",
    "readinessProbe",
    "livenessProbe",
    "startupProbe",
    "resources",
    "terminationGracePeriodSeconds",
    "image",
    "strategy",
    "minReadySeconds",
    "progressDeadlineSeconds",
    "paused",
    "restartedAt",
    "autoscaling",
];
const PROBE_FIELDS: &[&str] = &[
    "httpGet",
    "tcpSocket",
    "exec",
    "grpc",
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "successThreshold",
    "failureThreshold",
    "terminationGracePeriodSeconds",
];
const HANDLERS: &[&str] = &["httpGet", "tcpSocket", "exec", "grpc"];
const RESOURCE_NAMES: &[&str] = &["cpu", "memory", "ephemeral-storage"];

pub fn decode(ctx: &mut Ctx, node: &Node, path: &str) -> Option<ServiceSpec> {
    let errors_before = ctx.diags.len();
    let o = ctx.object(node, path, SERVICE_FIELDS)?;
    let replicas = match o.opt("replicas") {
        Some(n) => ctx.int_min(n, &o.path_of("replicas"), 0).unwrap_or(1),
        None => 1,
    };
    let image = o.opt("image").and_then(|n| ctx.string(n, &o.path_of("image")));
    let command_node = if image.is_some() { o.opt("command") } else { o.require(ctx, "command") };
    let command = match command_node {
        Some(n) => {
            let p = o.path_of("command");
            let cmd = ctx.string_list(n, &p).unwrap_or_default();
            if image.is_none() && matches!(&n.value, Value::Seq(s) if s.is_empty()) {
                ctx.error(n.pos, &p, "must name the program to run (at least one element)");
            } else if cmd.first().is_some_and(|c| c.is_empty()) {
                ctx.error(n.pos, index(&p, 0), "must not be empty");
            }
            cmd
        }
        None => Vec::new(),
    };
    let args =
        o.opt("args").and_then(|n| ctx.string_list(n, &o.path_of("args"))).unwrap_or_default();
    let env = o.opt("env").map(|n| decode_env(ctx, n, &o.path_of("env"))).unwrap_or_default();
    let working_dir = o.opt("workingDir").and_then(|n| ctx.string(n, &o.path_of("workingDir")));
    let ports =
        o.opt("ports").map(|n| decode_ports(ctx, n, &o.path_of("ports"))).unwrap_or_default();
    let port_names: Vec<&str> = ports.iter().filter_map(|p| p.name.as_deref()).collect();
    let probe = |ctx: &mut Ctx, name: &str, single_success: bool| {
        o.opt(name)
            .and_then(|n| decode_probe(ctx, n, &o.path_of(name), &port_names, single_success))
    };
    let readiness_probe = probe(ctx, "readinessProbe", false);
    let liveness_probe = probe(ctx, "livenessProbe", true);
    let startup_probe = probe(ctx, "startupProbe", true);
    let resources = o
        .opt("resources")
        .map(|n| decode_resources(ctx, n, &o.path_of("resources")))
        .unwrap_or_default();
    let termination_grace_period_seconds = match o.opt("terminationGracePeriodSeconds") {
        Some(n) => ctx.int_min(n, &o.path_of("terminationGracePeriodSeconds"), 0).unwrap_or(30),
        None => 30,
    };
    let RolloutSettings { strategy, min_ready_seconds, progress_deadline_seconds, paused } =
        rollout_settings(ctx, &o, false);
    let restarted_at = o.opt("restartedAt").and_then(|n| {
        let p = o.path_of("restartedAt");
        let text = ctx.string(n, &p)?;
        if andon_core::Timestamp::parse_rfc3339(&text).is_none() {
            ctx.error(n.pos, &p, format!("{text:?} is not an RFC 3339 time"));
        }
        Some(text)
    });
    let autoscaling = o.opt("autoscaling").and_then(|n| {
        let p = o.path_of("autoscaling");
        let a = crate::autoscaling::decode(ctx, n, &p)?;
        // Utilization is relative to each instance's request.
        let default_cpu = a.metrics.is_empty().then_some("cpu");
        let needs = a
            .metrics
            .iter()
            .filter_map(|m| match m {
                crate::autoscaling::ScaleMetric::Resource { resource }
                    if resource.target.kind == "Utilization" =>
                {
                    Some(resource.name.as_str())
                }
                _ => None,
            })
            .chain(default_cpu);
        for name in needs {
            if !resources.requests.contains_key(name) {
                ctx.error(
                    n.pos,
                    &p,
                    format!("a {name} utilization target needs resources.requests.{name}"),
                );
            }
        }
        Some(a)
    });
    (ctx.diags.len() == errors_before).then_some(ServiceSpec {
        replicas,
        image,
        command,
        args,
        env,
        working_dir,
        ports,
        readiness_probe,
        liveness_probe,
        startup_probe,
        resources,
        termination_grace_period_seconds,
        strategy,
        min_ready_seconds,
        progress_deadline_seconds,
        paused,
        restarted_at,
        autoscaling,
    })
}

pub(crate) fn decode_env(ctx: &mut Ctx, node: &Node, path: &str) -> Vec<EnvVar> {
    let Some(items) = ctx.list(node, path) else { return Vec::new() };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = index(path, i);
        let Some(o) = ctx.object(item, &p, &["name", "value"]) else { continue };
        let name = o.require(ctx, "name").and_then(|n| {
            let name = ctx.string(n, &o.path_of("name"))?;
            if let Err(e) = check_env_name(&name) {
                ctx.error(n.pos, o.path_of("name"), e);
            }
            if let Some(first) = seen.insert(name.clone(), i) {
                ctx.error(
                    n.pos,
                    o.path_of("name"),
                    format!(
                        "duplicate environment variable {name:?} (also at {})",
                        index(path, first)
                    ),
                );
            }
            Some(name)
        });
        let value =
            o.opt("value").and_then(|n| ctx.string(n, &o.path_of("value"))).unwrap_or_default();
        if let Some(name) = name {
            out.push(EnvVar { name, value });
        }
    }
    out
}

fn decode_ports(ctx: &mut Ctx, node: &Node, path: &str) -> Vec<Port> {
    let Some(items) = ctx.list(node, path) else { return Vec::new() };
    let mut out: Vec<Port> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = index(path, i);
        let Some(o) = ctx.object(item, &p, &["name", "port"]) else { continue };
        let name = o.opt("name").and_then(|n| {
            let name = ctx.string(n, &o.path_of("name"))?;
            if let Err(e) = check_port_name(&name) {
                ctx.error(n.pos, o.path_of("name"), e);
            } else if let Some(j) = out.iter().position(|q| q.name.as_deref() == Some(&*name)) {
                ctx.error(
                    n.pos,
                    o.path_of("name"),
                    format!("duplicate port name {name:?} (also at {})", index(path, j)),
                );
            }
            Some(name)
        });
        let port = o.require(ctx, "port").and_then(|n| {
            let v = port_number(ctx, n, &o.path_of("port"), 0)?;
            if v != 0
                && let Some(j) = out.iter().position(|q| q.port == v)
            {
                ctx.error(
                    n.pos,
                    o.path_of("port"),
                    format!("duplicate port {v} (also at {})", index(path, j)),
                );
            }
            Some(v)
        });
        if let Some(port) = port {
            out.push(Port { name, port });
        }
    }
    out
}

fn port_number(ctx: &mut Ctx, node: &Node, path: &str, min: i64) -> Option<u16> {
    let v = ctx.int(node, path)?;
    if v < min || v > 65535 {
        ctx.error(node.pos, path, format!("must be between {min} and 65535, inclusive, found {v}"));
        return None;
    }
    u16::try_from(v).ok()
}

fn port_ref(ctx: &mut Ctx, o: &Obj<'_>, port_names: &[&str]) -> Option<PortRef> {
    let n = o.require(ctx, "port")?;
    let p = o.path_of("port");
    match &n.value {
        Value::Str(name) => {
            if let Err(e) = check_port_name(name) {
                ctx.error(n.pos, &p, e);
                None
            } else if !port_names.contains(&name.as_str()) {
                let known = if port_names.is_empty() {
                    "spec.ports names no ports".to_owned()
                } else {
                    format!("named ports are: {}", port_names.join(", "))
                };
                ctx.error(
                    n.pos,
                    &p,
                    format!("port name {name:?} is not defined in spec.ports ({known})"),
                );
                None
            } else {
                Some(PortRef::Name(name.clone()))
            }
        }
        Value::Int(_) => port_number(ctx, n, &p, 1).map(PortRef::Number),
        other => {
            ctx.error(
                n.pos,
                &p,
                format!("expected a port number or a port name, found {}", other.type_name()),
            );
            None
        }
    }
}

pub(crate) fn decode_probe(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    port_names: &[&str],
    single_success: bool,
) -> Option<Probe> {
    let before = ctx.diags.len();
    let o = ctx.object(node, path, PROBE_FIELDS)?;
    let present: Vec<&str> = HANDLERS.iter().copied().filter(|h| o.opt(h).is_some()).collect();
    let handler = match present.as_slice() {
        [] => {
            ctx.error(
                node.pos,
                path,
                "must specify a handler type: one of httpGet, tcpSocket, exec, grpc",
            );
            None
        }
        [one] => {
            let hp = o.path_of(one);
            let hn = o.opt(one)?;
            match *one {
                "httpGet" => {
                    let h =
                        ctx.object(hn, &hp, &["path", "port", "host", "scheme", "httpHeaders"])?;
                    let port = port_ref(ctx, &h, port_names);
                    let path_v = h.opt("path").and_then(|n| ctx.string(n, &h.path_of("path")));
                    let host = h.opt("host").and_then(|n| ctx.string(n, &h.path_of("host")));
                    let scheme = match h.opt("scheme") {
                        Some(n) => ctx.string(n, &h.path_of("scheme")).and_then(|s| {
                            if s == "HTTP" || s == "HTTPS" {
                                Some(s)
                            } else {
                                ctx.error(n.pos, h.path_of("scheme"), format!("unsupported value {s:?}: supported values: \"HTTP\", \"HTTPS\""));
                                None
                            }
                        }),
                        None => Some("HTTP".to_owned()),
                    };
                    let headers = h
                        .opt("httpHeaders")
                        .map(|n| decode_headers(ctx, n, &h.path_of("httpHeaders")))
                        .unwrap_or_default();
                    Some(ProbeHandler::HttpGet(HttpGet {
                        path: path_v.filter(|p| !p.is_empty()).unwrap_or_else(|| "/".to_owned()),
                        port: port?,
                        host,
                        scheme: scheme?,
                        http_headers: headers,
                    }))
                }
                "tcpSocket" => {
                    let h = ctx.object(hn, &hp, &["port", "host"])?;
                    let port = port_ref(ctx, &h, port_names);
                    let host = h.opt("host").and_then(|n| ctx.string(n, &h.path_of("host")));
                    Some(ProbeHandler::TcpSocket(TcpSocket { port: port?, host }))
                }
                "exec" => {
                    let h = ctx.object(hn, &hp, &["command"])?;
                    let cmd = h.require(ctx, "command").and_then(|n| {
                        let c = ctx.string_list(n, &h.path_of("command"))?;
                        if c.is_empty() {
                            ctx.error(
                                n.pos,
                                h.path_of("command"),
                                "must name the program to run (at least one element)",
                            );
                            return None;
                        }
                        Some(c)
                    });
                    Some(ProbeHandler::Exec(ExecAction { command: cmd? }))
                }
                _ => {
                    let h = ctx.object(hn, &hp, &["port", "service"])?;
                    let port = h
                        .require(ctx, "port")
                        .and_then(|n| port_number(ctx, n, &h.path_of("port"), 1));
                    let service =
                        h.opt("service").and_then(|n| ctx.string(n, &h.path_of("service")));
                    Some(ProbeHandler::Grpc(GrpcAction { port: port?, service }))
                }
            }
        }
        many => {
            let second = o.key_pos(many[1]).unwrap_or(node.pos);
            ctx.error(
                second,
                o.path_of(many[1]),
                format!("may not specify more than 1 handler type (found {})", many.join(" and ")),
            );
            None
        }
    };
    let num = |ctx: &mut Ctx, name: &str, min: i64, default: i64| -> i64 {
        match o.opt(name) {
            // Zero means "unset" in Kubernetes and takes the default.
            Some(n) => match ctx.int_min(n, &o.path_of(name), 0) {
                Some(0) => default,
                Some(v) if v < min => {
                    ctx.error(
                        n.pos,
                        o.path_of(name),
                        format!("must be greater than or equal to {min}"),
                    );
                    default
                }
                Some(v) => v,
                None => default,
            },
            None => default,
        }
    };
    let initial_delay_seconds = num(ctx, "initialDelaySeconds", 0, 0);
    let period_seconds = num(ctx, "periodSeconds", 1, 10);
    let timeout_seconds = num(ctx, "timeoutSeconds", 1, 1);
    let success_threshold = num(ctx, "successThreshold", 1, 1);
    let failure_threshold = num(ctx, "failureThreshold", 1, 3);
    if single_success
        && success_threshold != 1
        && let Some(n) = o.opt("successThreshold")
    {
        ctx.error(
            n.pos,
            o.path_of("successThreshold"),
            "must be 1 for liveness and startup probes",
        );
    }
    let termination_grace_period_seconds = o
        .opt("terminationGracePeriodSeconds")
        .and_then(|n| ctx.int_min(n, &o.path_of("terminationGracePeriodSeconds"), 1));
    if ctx.diags.len() != before {
        return None;
    }
    Some(Probe {
        handler: handler?,
        initial_delay_seconds,
        period_seconds,
        timeout_seconds,
        success_threshold,
        failure_threshold,
        termination_grace_period_seconds,
    })
}

fn decode_headers(ctx: &mut Ctx, node: &Node, path: &str) -> Vec<HttpHeader> {
    let Some(items) = ctx.list(node, path) else { return Vec::new() };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = index(path, i);
        let Some(o) = ctx.object(item, &p, &["name", "value"]) else { continue };
        let name = o.require(ctx, "name").and_then(|n| ctx.string(n, &o.path_of("name")));
        let value = o.require(ctx, "value").and_then(|n| ctx.string(n, &o.path_of("value")));
        if let (Some(name), Some(value)) = (name, value) {
            out.push(HttpHeader { name, value });
        }
    }
    out
}

/// A Kubernetes quantity written as a string or a number; errors name `path`.
pub(crate) fn decode_quantity(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Quantity> {
    let text = match &node.value {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        other => {
            ctx.error(
                node.pos,
                path,
                format!("expected a quantity such as 500m or 256Mi, found {}", other.type_name()),
            );
            return None;
        }
    };
    Quantity::parse(&text).map_err(|e| ctx.error(node.pos, path, e)).ok()
}

pub(crate) fn decode_resources(ctx: &mut Ctx, node: &Node, path: &str) -> Resources {
    let Some(o) = ctx.object(node, path, &["limits", "requests"]) else {
        return Resources::default();
    };
    let list = |ctx: &mut Ctx, name: &str| -> BTreeMap<String, Quantity> {
        let Some(n) = o.opt(name) else { return BTreeMap::new() };
        let p = o.path_of(name);
        let Some(m) = ctx.object(n, &p, RESOURCE_NAMES) else { return BTreeMap::new() };
        let mut out = BTreeMap::new();
        for res in RESOURCE_NAMES {
            let Some(v) = m.opt(res) else { continue };
            let rp = field(&p, res);
            let Some(q) = decode_quantity(ctx, v, &rp) else { continue };
            if q.milli_value() < 0 {
                ctx.error(v.pos, &rp, "must be greater than or equal to 0");
            } else if *res == "cpu" && q.milli_value() == 0 && name == "limits" {
                ctx.error(v.pos, &rp, "must be greater than 0");
            } else {
                out.insert((*res).to_owned(), q);
            }
        }
        out
    };
    let limits = list(ctx, "limits");
    let requests = list(ctx, "requests");
    for (res, req) in &requests {
        if let Some(lim) = limits.get(res)
            && req.milli_value() > lim.milli_value()
        {
            let pos = o.opt("requests").map_or(node.pos, |n| n.pos);
            ctx.error(
                pos,
                field(&field(path, "requests"), res),
                format!("must be less than or equal to {res} limit of {lim}"),
            );
        }
    }
    Resources { limits, requests }
}
