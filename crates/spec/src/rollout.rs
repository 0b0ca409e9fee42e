//! An Argo Rollouts `Rollout` read as another spelling of a Service: its strategy,
//! replicas and rollout settings, and its pod template's first container as the
//! process to run (the image itself is not run: andon runs `command`).

use crate::decode::Ctx;
use crate::pod;
use crate::service::{
    Port, PortRef, Probe, ProbeHandler, RolloutSettings, ServiceSpec, rollout_settings,
};
use crate::yaml::Node;

const ROLLOUT_FIELDS: &[&str] = &[
    "replicas",
    "selector",
    "template",
    "workloadRef",
    "minReadySeconds",
    "revisionHistoryLimit",
    "paused",
    "progressDeadlineSeconds",
    "progressDeadlineAbort",
    "restartAt",
    "rollbackWindow",
    "strategy",
    "analysis",
];

pub fn decode(ctx: &mut Ctx, node: &Node, path: &str) -> Option<ServiceSpec> {
    let before = ctx.diags.len();
    let o = ctx.object(node, path, ROLLOUT_FIELDS)?;
    if let Some(pos) = o.key_pos("workloadRef") {
        ctx.error(
            pos,
            o.path_of("workloadRef"),
            "workload references are not supported: give the pod template inline",
        );
    }
    let replicas =
        o.opt("replicas").and_then(|n| ctx.int_min(n, &o.path_of("replicas"), 0)).unwrap_or(1);
    let template_node =
        if o.opt("workloadRef").is_some() { o.opt("template") } else { o.require(ctx, "template") };
    let template = template_node.and_then(|n| pod::decode_template(ctx, n, &o.path_of("template")));
    let RolloutSettings { strategy, min_ready_seconds, progress_deadline_seconds, paused } =
        rollout_settings(ctx, &o, true);
    for f in ["revisionHistoryLimit"] {
        if let Some(n) = o.opt(f) {
            ctx.int_min(n, &o.path_of(f), 0);
        }
    }
    if let Some(n) = o.opt("progressDeadlineAbort") {
        ctx.bool(n, &o.path_of("progressDeadlineAbort"));
    }
    if ctx.diags.len() != before {
        return None;
    }
    let template = template?;
    let c = template.containers.into_iter().next()?;
    if c.command.is_empty() && c.image.is_none() {
        ctx.error(
            node.pos,
            "spec.template.spec.containers[0].command",
            "required field is missing: andon runs the container's command as a local process",
        );
        return None;
    }
    // Container ports become the service's named ports (the instance's own port); probes
    // that name a container port by number use the instance's port.
    let ports: Vec<Port> = c
        .ports
        .iter()
        .enumerate()
        .map(|(i, (name, _))| Port {
            name: Some(
                name.clone()
                    .unwrap_or_else(|| if i == 0 { "http".into() } else { format!("port-{i}") }),
            ),
            port: 0,
        })
        .collect();
    let by_number = |p: Option<Probe>| {
        p.map(|mut p| {
            let fix = |r: &mut PortRef| {
                if let PortRef::Number(n) = r
                    && let Some(i) = c.ports.iter().position(|(_, num)| num == n)
                    && let Some(name) = ports.get(i).and_then(|p| p.name.clone())
                {
                    *r = PortRef::Name(name);
                }
            };
            match &mut p.handler {
                ProbeHandler::HttpGet(h) => fix(&mut h.port),
                ProbeHandler::TcpSocket(t) => fix(&mut t.port),
                ProbeHandler::Exec(_) | ProbeHandler::Grpc(_) => {}
            }
            p
        })
    };
    Some(ServiceSpec {
        replicas,
        image: c.image.clone(),
        command: c.command.clone(),
        args: c.args.clone(),
        env: c.env.clone(),
        working_dir: c.working_dir.clone(),
        readiness_probe: by_number(c.readiness_probe.clone()),
        liveness_probe: by_number(c.liveness_probe.clone()),
        startup_probe: by_number(c.startup_probe.clone()),
        ports,
        resources: c.resources.clone(),
        termination_grace_period_seconds: template.termination_grace_period_seconds.unwrap_or(30),
        strategy,
        min_ready_seconds,
        progress_deadline_seconds,
        paused,
        restarted_at: None,
        autoscaling: None,
    })
}
