//! Kubernetes pod templates as Argo Rollouts and Jobs carry them: andon reads the
//! containers' process fields (command, args, env, working dir, ports, probes,
//! resources) with the Service's rules and ignores what only a cluster uses.

use crate::decode::{Ctx, index};
use crate::service::{EnvVar, Probe, Resources, decode_env, decode_probe, decode_resources};
use crate::yaml::{Node, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct PodTemplate {
    pub containers: Vec<Container>,
    pub termination_grace_period_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub name: String,
    pub image: Option<String>,
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub env: Vec<EnvVar>,
    pub working_dir: Option<String>,
    /// (name, containerPort)
    pub ports: Vec<(Option<String>, u16)>,
    pub readiness_probe: Option<Probe>,
    pub liveness_probe: Option<Probe>,
    pub startup_probe: Option<Probe>,
    pub resources: Resources,
}

fn entries(node: &Node) -> &[(Node, Node)] {
    match &node.value {
        Value::Map(e) => e,
        _ => &[],
    }
}

fn get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    entries(node).iter().find(|(k, _)| k.key_text() == key).map(|(_, v)| v)
}

/// Reads `template` (`metadata` + `spec`); at least one container is required. Every
/// container list (`containers`, `initContainers`, `ephemeralContainers`) is checked.
pub fn decode_template(ctx: &mut Ctx, node: &Node, path: &str) -> Option<PodTemplate> {
    let before = ctx.diags.len();
    if !matches!(node.value, Value::Map(_)) {
        ctx.error(node.pos, path, format!("expected a mapping, found {}", node.value.type_name()));
        return None;
    }
    let Some(spec) = get(node, "spec") else {
        ctx.error(node.pos, format!("{path}.spec"), "required field is missing");
        return None;
    };
    let sp = format!("{path}.spec");
    if !matches!(spec.value, Value::Map(_)) {
        ctx.error(spec.pos, &sp, format!("expected a mapping, found {}", spec.value.type_name()));
        return None;
    }
    let mut containers = Vec::new();
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(n) = get(spec, list) else { continue };
        let lp = format!("{sp}.{list}");
        let mut names: Vec<String> = Vec::new();
        for (i, item) in ctx.list(n, &lp).unwrap_or_default().iter().enumerate() {
            let ip = index(&lp, i);
            if let Some(c) = decode_container(ctx, item, &ip) {
                if names.contains(&c.name) {
                    ctx.error(
                        item.pos,
                        format!("{ip}.name"),
                        format!("duplicate container name {:?}", c.name),
                    );
                }
                names.push(c.name.clone());
                if list == "containers" {
                    containers.push(c);
                }
            }
        }
    }
    if containers.is_empty() && ctx.diags.len() == before {
        ctx.error(spec.pos, format!("{sp}.containers"), "must define at least one container");
    }
    let termination_grace_period_seconds = get(spec, "terminationGracePeriodSeconds")
        .and_then(|n| ctx.int_min(n, &format!("{sp}.terminationGracePeriodSeconds"), 0));
    (ctx.diags.len() == before)
        .then_some(PodTemplate { containers, termination_grace_period_seconds })
}

fn decode_container(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Container> {
    let before = ctx.diags.len();
    if !matches!(node.value, Value::Map(_)) {
        ctx.error(node.pos, path, format!("expected a mapping, found {}", node.value.type_name()));
        return None;
    }
    let p = |f: &str| format!("{path}.{f}");
    let name = match get(node, "name") {
        Some(n) => ctx.string(n, &p("name")),
        None => {
            ctx.error(node.pos, p("name"), "required field is missing");
            None
        }
    };
    let image = get(node, "image").and_then(|n| ctx.string(n, &p("image")));
    let command =
        get(node, "command").and_then(|n| ctx.string_list(n, &p("command"))).unwrap_or_default();
    let args = get(node, "args").and_then(|n| ctx.string_list(n, &p("args"))).unwrap_or_default();
    let env = get(node, "env").map(|n| decode_env(ctx, n, &p("env"))).unwrap_or_default();
    let working_dir = get(node, "workingDir").and_then(|n| ctx.string(n, &p("workingDir")));
    let mut ports = Vec::new();
    if let Some(n) = get(node, "ports") {
        let pp = p("ports");
        for (i, item) in ctx.list(n, &pp).unwrap_or_default().iter().enumerate() {
            let ip = index(&pp, i);
            let port_name = get(item, "name").and_then(|n| ctx.string(n, &format!("{ip}.name")));
            let number = match get(item, "containerPort") {
                Some(n) => ctx.int(n, &format!("{ip}.containerPort")).and_then(|v| {
                    let ok = u16::try_from(v).ok().filter(|v| *v > 0);
                    if ok.is_none() {
                        ctx.error(
                            n.pos,
                            format!("{ip}.containerPort"),
                            format!("must be between 1 and 65535, inclusive, found {v}"),
                        );
                    }
                    ok
                }),
                None => {
                    ctx.error(item.pos, format!("{ip}.containerPort"), "required field is missing");
                    None
                }
            };
            if let Some(number) = number {
                ports.push((port_name, number));
            }
        }
    }
    let port_names: Vec<&str> = ports.iter().filter_map(|(n, _)| n.as_deref()).collect();
    let probe = |ctx: &mut Ctx, f: &str, single: bool| {
        get(node, f).and_then(|n| decode_probe(ctx, n, &p(f), &port_names, single))
    };
    let readiness_probe = probe(ctx, "readinessProbe", false);
    let liveness_probe = probe(ctx, "livenessProbe", true);
    let startup_probe = probe(ctx, "startupProbe", true);
    let resources = get(node, "resources")
        .map(|n| decode_resources(ctx, n, &p("resources")))
        .unwrap_or_default();
    (ctx.diags.len() == before).then_some(Container {
        name: name?,
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
    })
}
