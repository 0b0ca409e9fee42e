//! `spec.strategy` of a Service: how a new revision replaces the running one —
//! `recreate`, `rollingUpdate`, `blueGreen` or `canary` — spelled as Kubernetes and Argo
//! Rollouts spell them, with their defaults and validation rules.

use serde::Serialize;

use crate::decode::{Ctx, Obj, index};
use crate::yaml::{Node, Value};

/// An integer or a percentage of the replicas (`maxSurge: 1`, `maxSurge: "25%"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntOrPercent {
    Int(i64),
    Percent(i64),
}

impl Serialize for IntOrPercent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrPercent::Int(i) => s.serialize_i64(*i),
            IntOrPercent::Percent(p) => s.serialize_str(&format!("{p}%")),
        }
    }
}

impl IntOrPercent {
    /// The value for `replicas`: percentages round up (surge) or down (unavailable).
    pub fn scaled(self, replicas: i64, round_up: bool) -> i64 {
        match self {
            IntOrPercent::Int(i) => i,
            IntOrPercent::Percent(p) => {
                let num = p.saturating_mul(replicas);
                if round_up { (num + 99).div_euclid(100) } else { num.div_euclid(100) }
            }
        }
    }

    fn is_zero(self) -> bool {
        matches!(self, IntOrPercent::Int(0) | IntOrPercent::Percent(0))
    }
}

/// Kubernetes' fenceposts: surge rounds up, unavailable rounds down, and when both come
/// out 0 one instance may be unavailable.
pub fn fenceposts(surge: IntOrPercent, unavailable: IntOrPercent, replicas: i64) -> (i64, i64) {
    let s = surge.scaled(replicas, true).max(0);
    let u = unavailable.scaled(replicas, false).max(0);
    if s == 0 && u == 0 { (0, 1) } else { (s, u) }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Strategy {
    /// Stop every old instance, then start the new ones.
    Recreate {},
    RollingUpdate(RollingUpdate),
    BlueGreen(Box<BlueGreen>),
    Canary(Box<Canary>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdate {
    pub max_surge: IntOrPercent,
    pub max_unavailable: IntOrPercent,
}

impl Default for RollingUpdate {
    fn default() -> Self {
        RollingUpdate {
            max_surge: IntOrPercent::Percent(25),
            max_unavailable: IntOrPercent::Percent(25),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueGreen {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_service: Option<String>,
    /// Instances of the new revision before promotion (default: all replicas).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_replica_count: Option<i64>,
    pub auto_promotion_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_promotion_seconds: Option<i64>,
    pub scale_down_delay_seconds: i64,
    pub abort_scale_down_delay_seconds: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_promotion_analysis: Option<AnalysisRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_promotion_analysis: Option<AnalysisRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Canary {
    pub steps: Vec<Step>,
    /// Background analysis, run from `startingStep` until the rollout completes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisRef>,
    pub max_surge: IntOrPercent,
    pub max_unavailable: IntOrPercent,
    pub scale_down_delay_seconds: i64,
    pub abort_scale_down_delay_seconds: i64,
    pub dynamic_stable_scale: bool,
    /// Header routes' names in precedence order (`trafficRouting.managedRoutes`).
    #[serde(
        rename = "trafficRouting",
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "serialize_managed_routes"
    )]
    pub managed_routes: Vec<String>,
}

fn serialize_managed_routes<S: serde::Serializer>(
    routes: &[String],
    s: S,
) -> Result<S::Ok, S::Error> {
    let list: Vec<serde_json::Value> =
        routes.iter().map(|r| serde_json::json!({ "name": r })).collect();
    serde_json::json!({ "managedRoutes": list }).serialize(s)
}

/// One canary step. As in Argo Rollouts, a step does at most one of setWeight, pause
/// and analysis, and may also set the canary's scale and a header route (applied first).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_canary_scale: Option<CanaryScale>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_header_route: Option<HeaderRouteStep>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_weight: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause: Option<Pause>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pause {
    /// Seconds; `None` waits for a promote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CanaryScale {
    Replicas(i64),
    Weight(i64),
    MatchTrafficWeight(bool),
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct HeaderRouteStep {
    pub name: String,
    /// Empty: remove the route.
    #[serde(rename = "match", default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<HeaderMatch>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderMatch {
    pub header_name: String,
    pub header_value: StringMatch,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StringMatch {
    Exact(String),
    Prefix(String),
    Regex(String),
}

/// Analysis to run: templates by name and the arguments they take.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRef {
    pub templates: Vec<TemplateRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<AnalysisArg>,
    /// Background analysis starts at this step index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_step: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRef {
    pub template_name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cluster_scope: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisArg {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ArgValueFrom>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ArgValueFrom {
    /// `Stable` or `Latest`: the revision of that side.
    PodTemplateHashValue(String),
    FieldRef {
        #[serde(rename = "fieldPath")]
        field_path: String,
    },
}

const STRATEGIES: &[&str] = &["recreate", "rollingUpdate", "blueGreen", "canary"];
/// From `canaryService` on: fields of Kubernetes objects andon does not have, read and
/// ignored (andon's router gives every service a stable and a preview address itself).
const CANARY_FIELDS: &[&str] = &[
    "steps",
    "analysis",
    "maxSurge",
    "maxUnavailable",
    "scaleDownDelaySeconds",
    "abortScaleDownDelaySeconds",
    "dynamicStableScale",
    "trafficRouting",
    "pingPong",
    "canaryService",
    "stableService",
    "canaryMetadata",
    "stableMetadata",
    "antiAffinity",
    "minPodsPerReplicaSet",
    "scaleDownDelayRevisionLimit",
];
const BLUE_GREEN_FIELDS: &[&str] = &[
    "activeService",
    "previewService",
    "previewReplicaCount",
    "autoPromotionEnabled",
    "autoPromotionSeconds",
    "scaleDownDelaySeconds",
    "abortScaleDownDelaySeconds",
    "prePromotionAnalysis",
    "postPromotionAnalysis",
    "scaleDownDelayRevisionLimit",
    "antiAffinity",
    "activeMetadata",
    "previewMetadata",
];
const STEPS: &[&str] = &[
    "setWeight",
    "pause",
    "setCanaryScale",
    "setHeaderRoute",
    "analysis",
    "experiment",
    "setMirrorRoute",
    "plugin",
    "replicaProgressThreshold",
];

/// Reads `spec.strategy`.
pub fn decode(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Strategy> {
    let before = ctx.diags.len();
    let o = ctx.object(node, path, STRATEGIES)?;
    let given: Vec<&str> = STRATEGIES.iter().copied().filter(|s| o.get(s).is_some()).collect();
    if given.len() != 1 {
        ctx.error(
            node.pos,
            path,
            if given.is_empty() {
                "must give one of: recreate, rollingUpdate, blueGreen, canary".to_owned()
            } else {
                format!("must give only one strategy, found {}", given.join(" and "))
            },
        );
        return None;
    }
    let name = given[0];
    let n = o.get(name)?;
    let p = o.path_of(name);
    let s = match name {
        "recreate" => {
            if !matches!(n.value, Value::Null) {
                ctx.object(n, &p, &[])?;
            }
            Strategy::Recreate {}
        }
        "rollingUpdate" => Strategy::RollingUpdate(decode_rolling(ctx, n, &p)?),
        "blueGreen" => Strategy::BlueGreen(Box::new(decode_blue_green(ctx, n, &p)?)),
        _ => Strategy::Canary(Box::new(decode_canary(ctx, n, &p)?)),
    };
    (ctx.diags.len() == before).then_some(s)
}

fn int_or_percent(ctx: &mut Ctx, node: &Node, path: &str) -> Option<IntOrPercent> {
    match &node.value {
        Value::Int(i) if *i >= 0 => Some(IntOrPercent::Int(*i)),
        Value::Str(s) => match s.strip_suffix('%').and_then(|n| n.parse::<i64>().ok()) {
            Some(p) if (0..=100).contains(&p) => Some(IntOrPercent::Percent(p)),
            Some(_) => {
                ctx.error(node.pos, path, format!("{s:?}: a percentage must be 0% to 100%"));
                None
            }
            None => match s.parse::<i64>() {
                Ok(i) if i >= 0 => Some(IntOrPercent::Int(i)),
                _ => {
                    ctx.error(
                        node.pos,
                        path,
                        format!(
                            "{s:?}: expected a number of instances or a percentage like \"25%\""
                        ),
                    );
                    None
                }
            },
        },
        _ => {
            ctx.error(
                node.pos,
                path,
                format!(
                    "expected a non-negative number of instances or a percentage like \"25%\", found {}",
                    node.value.type_name()
                ),
            );
            None
        }
    }
}

/// maxSurge and maxUnavailable, with the rule that they may not both be 0.
fn surge_fields(ctx: &mut Ctx, o: &Obj<'_>) -> (IntOrPercent, IntOrPercent) {
    let d = RollingUpdate::default();
    let surge = o
        .opt("maxSurge")
        .and_then(|n| int_or_percent(ctx, n, &o.path_of("maxSurge")))
        .unwrap_or(d.max_surge);
    let unavailable = o
        .opt("maxUnavailable")
        .and_then(|n| int_or_percent(ctx, n, &o.path_of("maxUnavailable")))
        .unwrap_or(d.max_unavailable);
    if surge.is_zero()
        && unavailable.is_zero()
        && let Some(n) = o.opt("maxUnavailable").or(o.opt("maxSurge"))
    {
        ctx.error(
            n.pos,
            o.path_of("maxUnavailable"),
            "may not be 0 when maxSurge is 0: nothing could be replaced",
        );
    }
    (surge, unavailable)
}

fn decode_rolling(ctx: &mut Ctx, node: &Node, path: &str) -> Option<RollingUpdate> {
    if matches!(node.value, Value::Null) {
        return Some(RollingUpdate::default());
    }
    let o = ctx.object(node, path, &["maxSurge", "maxUnavailable"])?;
    let (max_surge, max_unavailable) = surge_fields(ctx, &o);
    Some(RollingUpdate { max_surge, max_unavailable })
}

fn seconds_field(ctx: &mut Ctx, o: &Obj<'_>, name: &str, default: i64) -> i64 {
    o.opt(name).and_then(|n| ctx.int_min(n, &o.path_of(name), 0)).unwrap_or(default)
}

fn decode_blue_green(ctx: &mut Ctx, node: &Node, path: &str) -> Option<BlueGreen> {
    let o = ctx.object(node, path, BLUE_GREEN_FIELDS)?;
    let text =
        |ctx: &mut Ctx, name: &str| o.opt(name).and_then(|n| ctx.string(n, &o.path_of(name)));
    let active_service = text(ctx, "activeService");
    let preview_service = text(ctx, "previewService");
    let preview_replica_count = o
        .opt("previewReplicaCount")
        .and_then(|n| ctx.int_min(n, &o.path_of("previewReplicaCount"), 1));
    let auto_promotion_enabled = o
        .opt("autoPromotionEnabled")
        .and_then(|n| ctx.bool(n, &o.path_of("autoPromotionEnabled")))
        .unwrap_or(true);
    let auto_promotion_seconds = o
        .opt("autoPromotionSeconds")
        .and_then(|n| ctx.int_min(n, &o.path_of("autoPromotionSeconds"), 0));
    if !auto_promotion_enabled
        && let (Some(n), Some(_)) = (o.opt("autoPromotionSeconds"), auto_promotion_seconds)
    {
        ctx.error(
            n.pos,
            o.path_of("autoPromotionSeconds"),
            "has no effect when autoPromotionEnabled is false",
        );
    }
    let scale_down_delay_seconds = seconds_field(ctx, &o, "scaleDownDelaySeconds", 30);
    let abort_scale_down_delay_seconds = seconds_field(ctx, &o, "abortScaleDownDelaySeconds", 30);
    let analysis = |ctx: &mut Ctx, name: &str| {
        o.opt(name).and_then(|n| decode_analysis_ref(ctx, n, &o.path_of(name), false))
    };
    let pre_promotion_analysis = analysis(ctx, "prePromotionAnalysis");
    let post_promotion_analysis = analysis(ctx, "postPromotionAnalysis");
    Some(BlueGreen {
        active_service,
        preview_service,
        preview_replica_count,
        auto_promotion_enabled,
        auto_promotion_seconds,
        scale_down_delay_seconds,
        abort_scale_down_delay_seconds,
        pre_promotion_analysis,
        post_promotion_analysis,
    })
}

fn decode_canary(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Canary> {
    if matches!(node.value, Value::Null) {
        return Some(canary_default());
    }
    let o = ctx.object(node, path, CANARY_FIELDS)?;
    if let Some(pos) = o.key_pos("pingPong") {
        ctx.error(
            pos,
            o.path_of("pingPong"),
            "ping-pong services are not supported by andon's router",
        );
    }
    let (max_surge, max_unavailable) = surge_fields(ctx, &o);
    let scale_down_delay_seconds = seconds_field(ctx, &o, "scaleDownDelaySeconds", 30);
    let abort_scale_down_delay_seconds = seconds_field(ctx, &o, "abortScaleDownDelaySeconds", 30);
    let dynamic_stable_scale = o
        .opt("dynamicStableScale")
        .and_then(|n| ctx.bool(n, &o.path_of("dynamicStableScale")))
        .unwrap_or(false);
    let managed_routes =
        o.opt("trafficRouting").map(|n| managed_routes(ctx, n, &o.path_of("trafficRouting")));
    let analysis =
        o.opt("analysis").and_then(|n| decode_analysis_ref(ctx, n, &o.path_of("analysis"), true));
    let steps = match o.opt("steps") {
        Some(n) => {
            let p = o.path_of("steps");
            let items = ctx.list(n, &p).unwrap_or_default();
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    decode_step(ctx, item, &index(&p, i), managed_routes.as_deref())
                })
                .collect()
        }
        None => Vec::new(),
    };
    if let (Some(a), Some(n)) = (&analysis, o.opt("analysis"))
        && let Some(s) = a.starting_step
        && s > steps.len() as i64
    {
        ctx.error(
            n.pos,
            format!("{}.startingStep", o.path_of("analysis")),
            format!("is past the last step ({} steps)", steps.len()),
        );
    }
    Some(Canary {
        steps,
        analysis,
        max_surge,
        max_unavailable,
        scale_down_delay_seconds,
        abort_scale_down_delay_seconds,
        dynamic_stable_scale,
        managed_routes: managed_routes.unwrap_or_default(),
    })
}

fn canary_default() -> Canary {
    let d = RollingUpdate::default();
    Canary {
        steps: Vec::new(),
        analysis: None,
        max_surge: d.max_surge,
        max_unavailable: d.max_unavailable,
        scale_down_delay_seconds: 30,
        abort_scale_down_delay_seconds: 30,
        dynamic_stable_scale: false,
        managed_routes: Vec::new(),
    }
}

/// `trafficRouting`: andon's router is the traffic router, so a provider block (istio,
/// nginx, …) is read and not needed; `managedRoutes` orders header routes.
fn managed_routes(ctx: &mut Ctx, node: &Node, path: &str) -> Vec<String> {
    let Value::Map(entries) = &node.value else {
        ctx.error(node.pos, path, format!("expected a mapping, found {}", node.value.type_name()));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        if k.key_text() != "managedRoutes" {
            continue;
        }
        let p = format!("{path}.managedRoutes");
        for (i, item) in ctx.list(v, &p).unwrap_or_default().iter().enumerate() {
            let ip = index(&p, i);
            let Some(r) = ctx.object(item, &ip, &["name"]) else { continue };
            if let Some(name) =
                r.require(ctx, "name").and_then(|n| ctx.string(n, &r.path_of("name")))
            {
                out.push(name);
            }
        }
    }
    out
}

fn decode_step(ctx: &mut Ctx, node: &Node, path: &str, managed: Option<&[String]>) -> Option<Step> {
    let before = ctx.diags.len();
    let o = ctx.object(node, path, STEPS)?;
    let given: Vec<&str> = STEPS.iter().copied().filter(|s| o.get(s).is_some()).collect();
    let exclusive: Vec<&str> = given
        .iter()
        .copied()
        .filter(|s| ["setWeight", "pause", "analysis", "experiment"].contains(s))
        .collect();
    if given.is_empty() {
        // An unknown key has been reported with a suggestion already.
        if matches!(&node.value, Value::Map(e) if e.is_empty()) {
            ctx.error(
                node.pos,
                path,
                "a step must be one of: setWeight, pause, setCanaryScale, setHeaderRoute, analysis",
            );
        }
        return None;
    }
    if exclusive.len() > 1 {
        ctx.error(
            node.pos,
            path,
            format!(
                "a step does one of setWeight, pause and analysis; found {}",
                exclusive.join(" and ")
            ),
        );
        return None;
    }
    let mut step = Step::default();
    for name in given {
        let Some(n) = o.get(name) else { continue };
        let p = o.path_of(name);
        match name {
            "setWeight" => {
                let Some(w) = ctx.int(n, &p) else { continue };
                if !(0..=100).contains(&w) {
                    ctx.error(n.pos, &p, format!("must be between 0 and 100, found {w}"));
                }
                step.set_weight = Some(w);
            }
            "pause" => {
                if matches!(n.value, Value::Null) {
                    step.pause = Some(Pause { duration: None });
                    continue;
                }
                let Some(po) = ctx.object(n, &p, &["duration"]) else { continue };
                let duration = po
                    .opt("duration")
                    .and_then(|d| pause_duration(ctx, d, &po.path_of("duration")));
                step.pause = Some(Pause { duration });
            }
            "setCanaryScale" => step.set_canary_scale = decode_canary_scale(ctx, n, &p),
            "setHeaderRoute" => step.set_header_route = decode_header_route(ctx, n, &p, managed),
            "analysis" => step.analysis = decode_analysis_ref(ctx, n, &p, false),
            other => {
                ctx.error(
                    o.key_pos(other).unwrap_or(n.pos),
                    &p,
                    format!("step {other:?} is not supported by andon"),
                );
            }
        }
    }
    (ctx.diags.len() == before).then_some(step)
}

fn decode_canary_scale(ctx: &mut Ctx, n: &Node, p: &str) -> Option<CanaryScale> {
    let so = ctx.object(n, p, &["replicas", "weight", "matchTrafficWeight"])?;
    let set: Vec<&str> = ["replicas", "weight", "matchTrafficWeight"]
        .into_iter()
        .filter(|k| so.get(k).is_some())
        .collect();
    if set.len() != 1 {
        ctx.error(n.pos, p, "must give exactly one of replicas, weight, matchTrafficWeight");
        return None;
    }
    let v = so.get(set[0])?;
    let vp = so.path_of(set[0]);
    match set[0] {
        "replicas" => ctx.int_min(v, &vp, 0).map(CanaryScale::Replicas),
        "weight" => {
            let w = ctx.int(v, &vp)?;
            if !(0..=100).contains(&w) {
                ctx.error(v.pos, &vp, format!("must be between 0 and 100, found {w}"));
                return None;
            }
            Some(CanaryScale::Weight(w))
        }
        _ => ctx.bool(v, &vp).map(CanaryScale::MatchTrafficWeight),
    }
}

/// A pause's duration: seconds as a number, or a string with unit s, m or h.
fn pause_duration(ctx: &mut Ctx, node: &Node, path: &str) -> Option<i64> {
    let bad = |ctx: &mut Ctx, what: &str| {
        ctx.error(
            node.pos,
            path,
            format!("{what}: expected seconds or a duration like \"30s\", \"5m\", \"1h\""),
        );
    };
    match &node.value {
        Value::Int(i) if *i >= 0 => Some(*i),
        Value::Str(s) => {
            let (num, mult) = match s.char_indices().last() {
                Some((i, 's')) => (&s[..i], 1),
                Some((i, 'm')) => (&s[..i], 60),
                Some((i, 'h')) => (&s[..i], 3600),
                _ => (s.as_str(), 1),
            };
            match num.parse::<i64>() {
                Ok(n) if n >= 0 => Some(n.saturating_mul(mult)),
                _ => {
                    bad(ctx, &format!("{s:?}"));
                    None
                }
            }
        }
        other => {
            bad(ctx, &format!("found {}", other.type_name()));
            None
        }
    }
}

fn decode_header_route(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    managed: Option<&[String]>,
) -> Option<HeaderRouteStep> {
    let o = ctx.object(node, path, &["name", "match"])?;
    let name = o.require(ctx, "name").and_then(|n| ctx.string(n, &o.path_of("name")));
    if let (Some(name), Some(managed), Some(n)) = (&name, managed, o.get("name"))
        && !managed.is_empty()
        && !managed.contains(name)
    {
        ctx.error(
            n.pos,
            o.path_of("name"),
            format!(
                "route {name:?} is not in trafficRouting.managedRoutes ({})",
                managed.join(", ")
            ),
        );
    }
    let mut matches = Vec::new();
    if let Some(m) = o.opt("match") {
        let mp = o.path_of("match");
        for (i, item) in ctx.list(m, &mp).unwrap_or_default().iter().enumerate() {
            let ip = index(&mp, i);
            let Some(mo) = ctx.object(item, &ip, &["headerName", "headerValue"]) else { continue };
            let header_name = mo
                .require(ctx, "headerName")
                .and_then(|n| ctx.string(n, &mo.path_of("headerName")));
            let header_value = mo
                .require(ctx, "headerValue")
                .and_then(|n| string_match(ctx, n, &mo.path_of("headerValue")));
            if let (Some(header_name), Some(header_value)) = (header_name, header_value) {
                matches.push(HeaderMatch { header_name, header_value });
            }
        }
    }
    Some(HeaderRouteStep { name: name?, matches })
}

fn string_match(ctx: &mut Ctx, node: &Node, path: &str) -> Option<StringMatch> {
    let o = ctx.object(node, path, &["exact", "prefix", "regex"])?;
    let set: Vec<&str> =
        ["exact", "prefix", "regex"].into_iter().filter(|k| o.get(k).is_some()).collect();
    if set.len() != 1 {
        ctx.error(node.pos, path, "must give exactly one of exact, prefix, regex");
        return None;
    }
    let n = o.get(set[0])?;
    let vp = o.path_of(set[0]);
    let v = ctx.string(n, &vp)?;
    Some(match set[0] {
        "exact" => StringMatch::Exact(v),
        "prefix" => StringMatch::Prefix(v),
        _ => {
            if let Err(e) = regex::Regex::new(&v) {
                ctx.error(n.pos, &vp, format!("invalid regular expression: {e}"));
                return None;
            }
            StringMatch::Regex(v)
        }
    })
}

/// `analysis` of a step or a strategy: `templates[]`, `args[]` (and, for background
/// analysis, `startingStep`).
pub fn decode_analysis_ref(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    background: bool,
) -> Option<AnalysisRef> {
    let known: &[&str] = if background {
        &["templates", "args", "startingStep", "dryRun", "measurementRetention"]
    } else {
        &["templates", "args", "dryRun", "measurementRetention"]
    };
    let before = ctx.diags.len();
    let o = ctx.object(node, path, known)?;
    let mut templates = Vec::new();
    if let Some(n) = o.require(ctx, "templates") {
        let tp = o.path_of("templates");
        let items = ctx.list(n, &tp).unwrap_or_default();
        if items.is_empty() && matches!(n.value, Value::Seq(_)) {
            ctx.error(n.pos, &tp, "must name at least one analysis template");
        }
        for (i, item) in items.iter().enumerate() {
            let ip = index(&tp, i);
            let Some(t) = ctx.object(item, &ip, &["templateName", "clusterScope"]) else {
                continue;
            };
            let name = t
                .require(ctx, "templateName")
                .and_then(|n| ctx.string(n, &t.path_of("templateName")));
            let cluster_scope = t
                .opt("clusterScope")
                .and_then(|n| ctx.bool(n, &t.path_of("clusterScope")))
                .unwrap_or(false);
            if let Some(template_name) = name {
                templates.push(TemplateRef { template_name, cluster_scope });
            }
        }
    }
    let mut args = Vec::new();
    if let Some(n) = o.opt("args") {
        let ap = o.path_of("args");
        for (i, item) in ctx.list(n, &ap).unwrap_or_default().iter().enumerate() {
            let ip = index(&ap, i);
            let Some(a) = ctx.object(item, &ip, &["name", "value", "valueFrom"]) else { continue };
            let name = a.require(ctx, "name").and_then(|n| ctx.string(n, &a.path_of("name")));
            let value = a.opt("value").and_then(|n| scalar_text(ctx, n, &a.path_of("value")));
            let value_from =
                a.opt("valueFrom").and_then(|n| arg_value_from(ctx, n, &a.path_of("valueFrom")));
            if value.is_some() == value_from.is_some()
                && (a.opt("value").is_some() || a.opt("valueFrom").is_some())
            {
                ctx.error(item.pos, &ip, "give either value or valueFrom, not both");
            }
            if let Some(name) = name {
                args.push(AnalysisArg { name, value, value_from });
            }
        }
    }
    let starting_step =
        o.opt("startingStep").and_then(|n| ctx.int_min(n, &o.path_of("startingStep"), 0));
    (ctx.diags.len() == before).then_some(AnalysisRef { templates, args, starting_step })
}

/// A scalar written as a string, number or boolean, as text (argument values).
pub fn scalar_text(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => {
            ctx.error(node.pos, path, format!("expected a string, found {}", other.type_name()));
            None
        }
    }
}

fn arg_value_from(ctx: &mut Ctx, node: &Node, path: &str) -> Option<ArgValueFrom> {
    let o = ctx.object(node, path, &["podTemplateHashValue", "fieldRef", "secretKeyRef"])?;
    if let Some(n) = o.get("podTemplateHashValue") {
        let p = o.path_of("podTemplateHashValue");
        let v = ctx.string(n, &p)?;
        if v != "Stable" && v != "Latest" {
            ctx.error(n.pos, &p, format!("must be Stable or Latest, found {v:?}"));
            return None;
        }
        return Some(ArgValueFrom::PodTemplateHashValue(v));
    }
    if let Some(n) = o.get("fieldRef") {
        let p = o.path_of("fieldRef");
        let f = ctx.object(n, &p, &["fieldPath"])?;
        let field_path =
            f.require(ctx, "fieldPath").and_then(|n| ctx.string(n, &f.path_of("fieldPath")))?;
        return Some(ArgValueFrom::FieldRef { field_path });
    }
    if let Some(pos) = o.key_pos("secretKeyRef") {
        ctx.error(pos, o.path_of("secretKeyRef"), "secret references are not supported yet");
        return None;
    }
    ctx.error(node.pos, path, "must give podTemplateHashValue or fieldRef");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenceposts_round_like_kubernetes() {
        let p = IntOrPercent::Percent;
        assert_eq!(fenceposts(p(25), p(25), 10), (3, 2));
        assert_eq!(fenceposts(p(25), p(25), 3), (1, 0));
        assert_eq!(fenceposts(p(25), p(25), 1), (1, 0));
        assert_eq!(fenceposts(IntOrPercent::Int(0), p(10), 3), (0, 1));
    }
}
