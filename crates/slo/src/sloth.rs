//! Reading Sloth's own formats: the `version: prometheus/v1` spec (snake_case fields)
//! and the Kubernetes `PrometheusServiceLevel` (`sloth.slok.dev/v1`, camelCase
//! fields), with Sloth's checks on names, objectives, labels, queries and alerts,
//! and its SLO plugin chains mapped to the plugins implemented natively.

use std::collections::BTreeMap;

use andon_spec::decode::{Ctx, Obj, field, index};
use andon_spec::yaml::{Node, Value};
use andon_spec::{Pos, diag::did_you_mean};

use crate::gofmt::go_g32;
use crate::rules::{ChainItem, INFO_METRIC, Processor};
use crate::{AlertMeta, DocDraft, K8sMeta, OutputFormat, Sli, SloDraft, query};

/// Field names that differ between the two formats.
struct Names {
    slo_plugins: &'static str,
    error_ratio_query: &'static str,
    error_query: &'static str,
    total_query: &'static str,
    page_alert: &'static str,
    ticket_alert: &'static str,
}

const SNAKE: Names = Names {
    slo_plugins: "slo_plugins",
    error_ratio_query: "error_ratio_query",
    error_query: "error_query",
    total_query: "total_query",
    page_alert: "page_alert",
    ticket_alert: "ticket_alert",
};

const CAMEL: Names = Names {
    slo_plugins: "sloPlugins",
    error_ratio_query: "errorRatioQuery",
    error_query: "errorQuery",
    total_query: "totalQuery",
    page_alert: "pageAlert",
    ticket_alert: "ticketAlert",
};

const K8S_METADATA_FIELDS: &[&str] = &[
    "name",
    "namespace",
    "labels",
    "annotations",
    "uid",
    "resourceVersion",
    "generation",
    "generateName",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "finalizers",
    "ownerReferences",
    "managedFields",
    "selfLink",
];

/// Reads one Sloth document; problems go to `ctx`.
pub(crate) fn decode(ctx: &mut Ctx, root: &Node, pos: Pos, k8s: bool) -> Option<DocDraft> {
    if k8s {
        let obj = ctx.object(root, "", &["apiVersion", "kind", "metadata", "spec", "status"])?;
        if let Some(n) = obj.get("apiVersion")
            && let Value::Str(v) = &n.value
            && v != "sloth.slok.dev/v1"
        {
            ctx.error(
                n.pos,
                "apiVersion",
                format!("unsupported version {v:?}; expected \"sloth.slok.dev/v1\""),
            );
        }
        let meta = obj.require(ctx, "metadata").and_then(|m| k8s_meta(ctx, m));
        let spec = obj.require(ctx, "spec")?;
        let spec_obj =
            ctx.object(spec, "spec", &["service", "labels", CAMEL.slo_plugins, "slos"])?;
        let slos = group(ctx, &spec_obj, &CAMEL, spec.pos);
        Some(DocDraft {
            format: OutputFormat::PrometheusRule(meta?),
            spec: "sloth.slok.dev/v1".to_owned(),
            mode: "cli-gen-k8s",
            slos,
            pos,
        })
    } else {
        let obj =
            ctx.object(root, "", &["version", "service", "labels", SNAKE.slo_plugins, "slos"])?;
        if let Some(n) = obj.get("version")
            && let Value::Str(v) = &n.value
            && v != "prometheus/v1"
        {
            ctx.error(
                n.pos,
                "version",
                format!("unsupported version {v:?}; expected \"prometheus/v1\""),
            );
            return None;
        }
        let slos = group(ctx, &obj, &SNAKE, root.pos);
        Some(DocDraft {
            format: OutputFormat::PrometheusRules,
            spec: "prometheus/v1".to_owned(),
            mode: "cli-gen-prom",
            slos,
            pos,
        })
    }
}

fn k8s_meta(ctx: &mut Ctx, node: &Node) -> Option<K8sMeta> {
    let o = ctx.object(node, "metadata", K8S_METADATA_FIELDS)?;
    let name = o.require(ctx, "name").and_then(|n| ctx.string(n, "metadata.name"));
    let namespace = o.opt("namespace").and_then(|n| ctx.string(n, "metadata.namespace"));
    let labels = o
        .opt("labels")
        .and_then(|n| ctx.string_map(n, "metadata.labels", |_, _, _, _, _| {}))
        .unwrap_or_default();
    let annotations = o
        .opt("annotations")
        .and_then(|n| ctx.string_map(n, "metadata.annotations", |_, _, _, _, _| {}))
        .unwrap_or_default();
    Some(K8sMeta { name: name?, namespace, labels, annotations })
}

/// The service, labels, group plugins and SLOs shared by both formats.
fn group(ctx: &mut Ctx, o: &Obj<'_>, names: &Names, pos: Pos) -> Vec<SloDraft> {
    let service = o.require(ctx, "service").and_then(|n| {
        let path = o.path_of("service");
        let s = ctx.string(n, &path)?;
        check_name(ctx, n.pos, &path, &s, "service");
        Some(s)
    });
    let labels =
        o.opt("labels").map(|n| labels_map(ctx, n, &o.path_of("labels"), LabelKind::Label));
    let group_chain =
        o.opt(names.slo_plugins).map(|n| chain(ctx, n, &o.path_of(names.slo_plugins)));
    let slos_path = o.path_of("slos");
    let Some(slos) = o.opt("slos").and_then(|n| ctx.list(n, &slos_path)) else {
        ctx.error(o.key_pos("slos").unwrap_or(pos), slos_path, "at least one SLO is required");
        return Vec::new();
    };
    if slos.is_empty() {
        ctx.error(o.key_pos("slos").unwrap_or(pos), &slos_path, "at least one SLO is required");
    }
    let mut out = Vec::new();
    for (i, node) in slos.iter().enumerate() {
        let path = index(&slos_path, i);
        if let Some(d) =
            slo(ctx, node, &path, names, service.as_deref(), labels.as_ref(), group_chain.as_ref())
        {
            out.push(d);
        }
    }
    out
}

fn slo(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    names: &Names,
    service: Option<&str>,
    group_labels: Option<&BTreeMap<String, String>>,
    group_chain: Option<&Chain>,
) -> Option<SloDraft> {
    let o = ctx.object(
        node,
        path,
        &["name", "description", "objective", "plugins", "labels", "sli", "alerting"],
    )?;
    let name = o.require(ctx, "name").and_then(|n| {
        let p = o.path_of("name");
        let s = ctx.string(n, &p)?;
        check_name(ctx, n.pos, &p, &s, "SLO name");
        Some((s, n.pos))
    });
    let description = o
        .opt("description")
        .and_then(|n| ctx.string(n, &o.path_of("description")))
        .unwrap_or_default();
    let objective =
        o.require(ctx, "objective").and_then(|n| objective(ctx, n, &o.path_of("objective")));
    let mut labels = group_labels.cloned().unwrap_or_default();
    if let Some(n) = o.opt("labels") {
        labels.extend(labels_map(ctx, n, &o.path_of("labels"), LabelKind::Label));
    }
    let own_chain = o.opt("plugins").map(|n| chain(ctx, n, &o.path_of("plugins")));
    let sli = o.require(ctx, "sli").and_then(|n| sli(ctx, n, &o.path_of("sli"), names));
    let (page, ticket) = match o.opt("alerting") {
        Some(n) => alerting(ctx, n, &o.path_of("alerting"), names),
        None => {
            ctx.error(
                node.pos,
                o.path_of("alerting"),
                format!(
                    "required field is missing: give alerting.name, or disable both {} and {}",
                    names.page_alert, names.ticket_alert
                ),
            );
            (None, None)
        }
    };

    // Plugins: the group's chain, unless this SLO's chain overrides it.
    let mut items: Vec<ChainItem> = Vec::new();
    let mut override_defaults = group_chain.is_some_and(|c| c.override_previous);
    if let Some(own) = &own_chain
        && own.override_previous
    {
        override_defaults = true;
    } else if let Some(g) = group_chain {
        items.extend(g.items.iter().map(|(_, c)| c.clone()));
    }
    if let Some(own) = &own_chain {
        items.extend(own.items.iter().map(|(_, c)| c.clone()));
    }
    if override_defaults && items.is_empty() {
        ctx.error(node.pos, path, "override plugins is set but no plugins are defined");
    }
    let needs_events = group_chain
        .into_iter()
        .chain(own_chain.as_ref())
        .flat_map(|c| c.items.iter())
        .find(|(_, c)| matches!(c.processor, Processor::DenominatorCorrected { .. }));
    if let (Some(((pos, p), _)), Some(s)) = (needs_events, &sli)
        && !matches!(s, Sli::Events { .. })
    {
        ctx.error(*pos, p.clone(), "the denominator corrected rules plugin needs an events SLI");
    }

    let (name, name_pos) = name?;
    let service = service?;
    Some(SloDraft {
        id: format!("{service}-{name}"),
        name,
        service: service.to_owned(),
        description,
        objective: objective?,
        labels,
        sli: sli?,
        page_alert: page,
        ticket_alert: ticket,
        chain: items,
        override_defaults,
        period: None,
        pos: name_pos,
        path: path.to_owned(),
    })
}

pub(crate) fn objective(ctx: &mut Ctx, n: &Node, path: &str) -> Option<f64> {
    let v = ctx.number(n, path)?;
    if !(v > 0.0 && v <= 100.0) {
        ctx.error(
            n.pos,
            path,
            format!("objective must be greater than 0 and at most 100, found {v}"),
        );
        return None;
    }
    Some(v)
}

fn sli(ctx: &mut Ctx, node: &Node, path: &str, names: &Names) -> Option<Sli> {
    let o = ctx.object(node, path, &["raw", "events", "plugin"])?;
    let kinds: Vec<&str> =
        ["raw", "events", "plugin"].into_iter().filter(|k| o.opt(k).is_some()).collect();
    if kinds.is_empty() {
        ctx.error(node.pos, path, "at least one SLI type is required (events, raw or plugin)");
        return None;
    }
    if kinds.len() > 1 {
        ctx.error(
            node.pos,
            path,
            format!("only one SLI type is allowed, found {}", kinds.join(" and ")),
        );
        return None;
    }
    if let Some(n) = o.opt("plugin") {
        let p = o.path_of("plugin");
        let po = ctx.object(n, &p, &["id", "options"])?;
        let id = po.require(ctx, "id").and_then(|i| ctx.string(i, &po.path_of("id")));
        let at = po.get("id").map_or(n.pos, |i| i.pos);
        ctx.error(
            at,
            po.path_of("id"),
            format!(
                "SLI plugin {:?} is not supported: Sloth SLI plugins are Go programs, which are not run here; write the SLI as an events or raw query",
                id.unwrap_or_default()
            ),
        );
        return None;
    }
    if let Some(n) = o.opt("events") {
        let p = o.path_of("events");
        let eo = ctx.object(n, &p, &[names.error_query, names.total_query])?;
        let err = eo
            .require(ctx, names.error_query)
            .and_then(|q| sli_query(ctx, q, &eo.path_of(names.error_query)));
        let total = eo
            .require(ctx, names.total_query)
            .and_then(|q| sli_query(ctx, q, &eo.path_of(names.total_query)));
        let (err, total) = (err?, total?);
        if err == total {
            ctx.error(n.pos, &p, "both error and total queries can't be the same");
            return None;
        }
        return Some(Sli::Events { error_query: err, total_query: total });
    }
    let n = o.opt("raw")?;
    let p = o.path_of("raw");
    let ro = ctx.object(n, &p, &[names.error_ratio_query])?;
    let q = ro
        .require(ctx, names.error_ratio_query)
        .and_then(|q| sli_query(ctx, q, &ro.path_of(names.error_ratio_query)))?;
    Some(Sli::Raw { error_ratio_query: q })
}

/// A query template that must use `{{.window}}` and be valid PromQL.
pub(crate) fn sli_query(ctx: &mut Ctx, n: &Node, path: &str) -> Option<String> {
    let q = ctx.string(n, path)?;
    if q.trim().is_empty() {
        ctx.error(n.pos, path, "query is required");
        return None;
    }
    if !query::has_window(&q) {
        ctx.error(n.pos, path, "the query must use the {{.window}} variable");
        return None;
    }
    if let Err(m) = query::check(&q) {
        ctx.error(n.pos, path, m);
        return None;
    }
    Some(q)
}

fn alerting(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    names: &Names,
) -> (Option<AlertMeta>, Option<AlertMeta>) {
    let Some(o) = ctx.object(
        node,
        path,
        &["name", "labels", "annotations", names.page_alert, names.ticket_alert],
    ) else {
        return (None, None);
    };
    let name = o.opt("name").and_then(|n| ctx.string(n, &o.path_of("name")));
    let labels =
        o.opt("labels").map(|n| labels_map(ctx, n, &o.path_of("labels"), LabelKind::Label));
    let annotations = o
        .opt("annotations")
        .map(|n| labels_map(ctx, n, &o.path_of("annotations"), LabelKind::Annotation));
    let one = |ctx: &mut Ctx, key: &str, what: &str| -> Option<AlertMeta> {
        let p = o.path_of(key);
        let (disable, own_labels, own_annotations) = match o.opt(key) {
            Some(n) => {
                let ao = ctx.object(n, &p, &["disable", "labels", "annotations"])?;
                let disable = ao
                    .opt("disable")
                    .and_then(|d| ctx.bool(d, &ao.path_of("disable")))
                    .unwrap_or(false);
                let l = ao
                    .opt("labels")
                    .map(|l| labels_map(ctx, l, &ao.path_of("labels"), LabelKind::Label));
                let a = ao
                    .opt("annotations")
                    .map(|a| labels_map(ctx, a, &ao.path_of("annotations"), LabelKind::Annotation));
                (disable, l, a)
            }
            None => (false, None, None),
        };
        if disable {
            return None;
        }
        let Some(name) = name.clone().filter(|n| !n.is_empty()) else {
            ctx.error(
                o.key_pos("name").unwrap_or(node.pos),
                o.path_of("name"),
                format!("alert name is required (the {what} alert is not disabled)"),
            );
            return None;
        };
        let mut l = labels.clone().unwrap_or_default();
        l.extend(own_labels.unwrap_or_default());
        let mut a = annotations.clone().unwrap_or_default();
        a.extend(own_annotations.unwrap_or_default());
        Some(AlertMeta { name, labels: l, annotations: a })
    };
    let page = one(ctx, names.page_alert, "page");
    let ticket = one(ctx, names.ticket_alert, "ticket");
    (page, ticket)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LabelKind {
    Label,
    Annotation,
}

/// A scalar as the string Sloth's decoder makes of it (numbers and booleans are
/// accepted where strings are expected, as Kubernetes' YAML reader converts them).
fn scalar_string(ctx: &mut Ctx, n: &Node, path: &str) -> Option<String> {
    match &n.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(go_g32(*f)),
        Value::Bool(b) => Some(b.to_string()),
        other => {
            ctx.error(n.pos, path, format!("expected a string, found {}", other.type_name()));
            None
        }
    }
}

/// A label or annotation map, every key and value checked.
pub(crate) fn labels_map(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    kind: LabelKind,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Value::Map(entries) = &node.value else {
        ctx.error(
            node.pos,
            path,
            format!("expected a mapping of strings, found {}", node.value.type_name()),
        );
        return out;
    };
    for (k, v) in entries {
        let key = k.key_text().into_owned();
        let p = field(path, &key);
        let what = if kind == LabelKind::Label { "label" } else { "annotation" };
        if kind == LabelKind::Label {
            if let Err(m) = check_label_name(&key) {
                ctx.error(k.pos, &p, m);
            }
        } else if key.is_empty() {
            ctx.error(k.pos, &p, "the annotation key is required");
        }
        let Some(value) = scalar_string(ctx, v, &p) else { continue };
        if value.is_empty() {
            ctx.error(v.pos, &p, format!("the {what} value is required"));
        }
        out.insert(key, value);
    }
    out
}

/// Sloth's rule for label names: any non-empty name except `__name__`.
pub(crate) fn check_label_name(k: &str) -> Result<(), String> {
    if k.is_empty() {
        return Err("the label name is required".to_owned());
    }
    if k == "__name__" {
        return Err("the label name \"__name__\" is not allowed".to_owned());
    }
    Ok(())
}

fn is_valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_alphanumeric();
    b.len() >= 2
        && alnum(&b[0])
        && alnum(&b[b.len() - 1])
        && b.iter().all(|c| alnum(c) || matches!(c, b'-' | b'_' | b'.'))
}

/// Service and SLO names: alphanumerics, `.`, `_` and `-`, starting and ending with
/// an alphanumeric.
pub(crate) fn check_name(ctx: &mut Ctx, pos: Pos, path: &str, s: &str, what: &str) {
    if s.is_empty() {
        ctx.error(pos, path, format!("the {what} is required"));
    } else if !is_valid_name(s) {
        ctx.error(
            pos,
            path,
            format!(
                "invalid {what} {s:?}: it must start and end with an alphanumeric and can only contain alphanumerics, '.', '_' and '-'"
            ),
        );
    }
}

/// A plugin chain with where each plugin was declared.
struct Chain {
    override_previous: bool,
    items: Vec<((Pos, String), ChainItem)>,
}

const NATIVE_PLUGINS: &[&str] = &[
    "sloth.dev/core/validate/v1",
    "sloth.dev/core/sli_rules/v1",
    "sloth.dev/core/metadata_rules/v1",
    "sloth.dev/core/alert_rules/v1",
    "sloth.dev/core/debug/v1",
    "sloth.dev/contrib/info_labels/v1",
    "sloth.dev/contrib/rule_intervals/v1",
    "sloth.dev/contrib/denominator_corrected_rules/v1",
    "sloth.dev/contrib/remove_labels/v1",
];

fn chain(ctx: &mut Ctx, node: &Node, path: &str) -> Chain {
    let mut out = Chain { override_previous: false, items: Vec::new() };
    let Some(o) = ctx.object(node, path, &["overridePrevious", "chain"]) else { return out };
    out.override_previous = o
        .opt("overridePrevious")
        .and_then(|n| ctx.bool(n, &o.path_of("overridePrevious")))
        .unwrap_or(false);
    let cp = o.path_of("chain");
    let Some(items) = o.opt("chain").and_then(|n| ctx.list(n, &cp)) else { return out };
    for (i, item) in items.iter().enumerate() {
        let p = index(&cp, i);
        let Some(io) = ctx.object(item, &p, &["id", "config", "priority"]) else { continue };
        let priority = io.opt("priority").and_then(|n| ctx.int(n, &io.path_of("priority")));
        let Some(id_node) = io.require(ctx, "id") else { continue };
        let id_path = io.path_of("id");
        let Some(id) = ctx.string(id_node, &id_path) else { continue };
        let config = io.opt("config");
        let cfg_path = io.path_of("config");
        let processor = match id.as_str() {
            "sloth.dev/core/validate/v1" => Some(Processor::Validate),
            "sloth.dev/core/metadata_rules/v1" => Some(Processor::MetadataRules),
            "sloth.dev/core/alert_rules/v1" => Some(Processor::AlertRules),
            "sloth.dev/core/debug/v1" => {
                config_obj(ctx, config, &cfg_path, &["msg", "result", "request"]);
                Some(Processor::Debug)
            }
            "sloth.dev/core/sli_rules/v1" => {
                let d = disable_optimized(ctx, config, &cfg_path);
                Some(Processor::SliRules { disable_optimized: d })
            }
            "sloth.dev/contrib/denominator_corrected_rules/v1" => {
                let d = disable_optimized(ctx, config, &cfg_path);
                Some(Processor::DenominatorCorrected { disable_optimized: d })
            }
            "sloth.dev/contrib/info_labels/v1" => info_labels(ctx, config, &cfg_path, item.pos),
            "sloth.dev/contrib/rule_intervals/v1" => {
                rule_intervals(ctx, config, &cfg_path, item.pos)
            }
            "sloth.dev/contrib/remove_labels/v1" => remove_labels(ctx, config, &cfg_path),
            other => {
                let hint = match did_you_mean(other, NATIVE_PLUGINS) {
                    Some(s) => format!(" (did you mean {s:?}?)"),
                    None => String::new(),
                };
                ctx.error(
                    id_node.pos,
                    &id_path,
                    format!(
                        "SLO plugin {other:?} is not supported{hint}: Sloth plugins are Go programs, which are not run here; the plugins implemented natively are {}",
                        NATIVE_PLUGINS.join(", ")
                    ),
                );
                None
            }
        };
        if let Some(processor) = processor {
            out.items.push((
                (id_node.pos, id_path),
                ChainItem { priority: priority.unwrap_or(0), processor },
            ));
        }
    }
    out
}

fn config_obj<'a>(
    ctx: &mut Ctx,
    config: Option<&'a Node>,
    path: &str,
    known: &[&str],
) -> Option<Obj<'a>> {
    ctx.object(config?, path, known)
}

fn disable_optimized(ctx: &mut Ctx, config: Option<&Node>, path: &str) -> bool {
    config_obj(ctx, config, path, &["disableOptimized"])
        .and_then(|o| {
            o.opt("disableOptimized").and_then(|n| ctx.bool(n, &o.path_of("disableOptimized")))
        })
        .unwrap_or(false)
}

fn info_labels(ctx: &mut Ctx, config: Option<&Node>, path: &str, pos: Pos) -> Option<Processor> {
    let o = config_obj(ctx, config, path, &["labels", "metricName"]);
    let labels = o
        .as_ref()
        .and_then(|o| {
            o.opt("labels").map(|n| labels_map(ctx, n, &o.path_of("labels"), LabelKind::Label))
        })
        .unwrap_or_default();
    let metric_name = o
        .as_ref()
        .and_then(|o| o.opt("metricName").and_then(|n| ctx.string(n, &o.path_of("metricName"))))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| INFO_METRIC.to_owned());
    if labels.is_empty() {
        ctx.error(
            config.map_or(pos, |c| c.pos),
            field(path, "labels"),
            "at least one label is required",
        );
        return None;
    }
    Some(Processor::InfoLabels { labels, metric_name })
}

fn rule_intervals(ctx: &mut Ctx, config: Option<&Node>, path: &str, pos: Pos) -> Option<Processor> {
    let o = config_obj(ctx, config, path, &["interval"]);
    let io = o.as_ref().and_then(|o| {
        let n = o.opt("interval")?;
        ctx.object(n, &o.path_of("interval"), &["default", "sliError", "metadata", "alert"])
    });
    let get = |ctx: &mut Ctx, key: &str| -> i64 {
        io.as_ref()
            .and_then(|io| {
                io.opt(key).and_then(|n| crate::windows::duration(ctx, n, &io.path_of(key)))
            })
            .unwrap_or(0)
    };
    let default_ms = get(ctx, "default");
    let (sli_ms, metadata_ms, alert_ms) =
        (get(ctx, "sliError"), get(ctx, "metadata"), get(ctx, "alert"));
    if default_ms == 0 {
        ctx.error(
            config.map_or(pos, |c| c.pos),
            format!("{path}.interval.default"),
            "at least the default interval is required",
        );
        return None;
    }
    Some(Processor::RuleIntervals { default_ms, sli_ms, metadata_ms, alert_ms })
}

fn remove_labels(ctx: &mut Ctx, config: Option<&Node>, path: &str) -> Option<Processor> {
    let o = config_obj(ctx, config, path, &["preserveLabels", "skipMetrics"]);
    let list = |ctx: &mut Ctx, key: &str| -> Vec<String> {
        o.as_ref()
            .and_then(|o| o.opt(key).and_then(|n| ctx.string_list(n, &o.path_of(key))))
            .unwrap_or_default()
    };
    let preserve = list(ctx, "preserveLabels");
    let skip_metrics = list(ctx, "skipMetrics");
    Some(Processor::RemoveLabels { preserve, skip_metrics })
}
