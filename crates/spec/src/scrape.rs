//! `kind: ScrapeConfig`: metrics targets andon scrapes besides the ones it
//! discovers itself. Field names follow the Prometheus Operator's
//! `ScrapeConfig` (camelCase), semantics follow Prometheus's `scrape_config`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::decode::{Ctx, index};
use crate::yaml::{Node, Value};

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScrapeConfigSpec {
    /// The `job` label; the resource's name when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    pub static_configs: Vec<StaticConfig>,
    /// Go-style duration (`15s`); the server's default when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<String>,
    pub metrics_path: String,
    pub scheme: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    /// 0: no limit.
    pub sample_limit: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relabelings: Vec<Relabeling>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metric_relabelings: Vec<Relabeling>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct StaticConfig {
    /// `host:port` addresses.
    pub targets: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// One relabeling step, as Prometheus's `relabel_config`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Relabeling {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    pub separator: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target_label: String,
    pub regex: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub modulus: u64,
    pub replacement: String,
    pub action: String,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Default for Relabeling {
    fn default() -> Self {
        Relabeling {
            source_labels: Vec::new(),
            separator: ";".into(),
            target_label: String::new(),
            regex: "(.*)".into(),
            modulus: 0,
            replacement: "$1".into(),
            action: "replace".into(),
        }
    }
}

impl Relabeling {
    /// Prometheus's relabel rule for this step (validated).
    pub fn to_config(&self) -> Result<andon_series::relabel::RelabelConfig, String> {
        let action: andon_series::relabel::Action = self.action.parse()?;
        let c = andon_series::relabel::RelabelConfig {
            source_labels: self.source_labels.clone(),
            separator: self.separator.clone(),
            target_label: self.target_label.clone(),
            regex: self.regex.clone(),
            modulus: self.modulus,
            replacement: self.replacement.clone(),
            action,
            ..andon_series::relabel::RelabelConfig::default()
        };
        c.validate()?;
        Ok(c)
    }
}

const FIELDS: &[&str] = &[
    "jobName",
    "staticConfigs",
    "scrapeInterval",
    "scrapeTimeout",
    "metricsPath",
    "scheme",
    "params",
    "honorLabels",
    "honorTimestamps",
    "sampleLimit",
    "relabelings",
    "metricRelabelings",
];

pub fn decode(ctx: &mut Ctx, node: &Node, path: &str) -> Option<ScrapeConfigSpec> {
    let before = ctx.diags.len();
    let o = ctx.object(node, path, FIELDS)?;
    let mut spec = ScrapeConfigSpec {
        metrics_path: "/metrics".into(),
        scheme: "http".into(),
        honor_timestamps: true,
        ..ScrapeConfigSpec::default()
    };
    spec.job_name = o.opt("jobName").and_then(|n| ctx.string(n, &o.path_of("jobName")));
    if let Some(n) = o.opt("staticConfigs") {
        let p = o.path_of("staticConfigs");
        for (i, item) in ctx.list(n, &p).unwrap_or_default().iter().enumerate() {
            let ip = index(&p, i);
            let Some(so) = ctx.object(item, &ip, &["targets", "labels"]) else { continue };
            let mut sc = StaticConfig::default();
            if let Some(t) = so.opt("targets") {
                let tp = so.path_of("targets");
                for (j, tn) in ctx.list(t, &tp).unwrap_or_default().iter().enumerate() {
                    let jp = index(&tp, j);
                    if let Some(addr) = ctx.string(tn, &jp) {
                        if !valid_address(&addr) {
                            ctx.error(tn.pos, jp, format!("{addr:?} is not a host:port address"));
                        }
                        sc.targets.push(addr);
                    }
                }
            }
            if let Some(l) = so.opt("labels") {
                sc.labels = ctx
                    .string_map(l, &so.path_of("labels"), |ctx, k, _v, key, _value| {
                        if key.is_empty() || key.starts_with("__") {
                            ctx.error(
                                k.pos,
                                key.to_string(),
                                format!("invalid label name {key:?}"),
                            );
                        }
                    })
                    .unwrap_or_default();
            }
            spec.static_configs.push(sc);
        }
    }
    for (key, slot) in
        [("scrapeInterval", &mut spec.scrape_interval), ("scrapeTimeout", &mut spec.scrape_timeout)]
    {
        if let Some(n) = o.opt(key) {
            let p = o.path_of(key);
            if let Some(s) = ctx.string(n, &p) {
                match andon_core::time::parse_duration(&s) {
                    Some(d) if !d.is_zero() => *slot = Some(s),
                    _ => ctx.error(
                        n.pos,
                        p,
                        format!("{s:?} is not a positive duration (like 15s, 1m)"),
                    ),
                }
            }
        }
    }
    if let (Some(i), Some(t)) = (&spec.scrape_interval, &spec.scrape_timeout)
        && let (Some(i), Some(t)) =
            (andon_core::time::parse_duration(i), andon_core::time::parse_duration(t))
        && t > i
        && let Some(n) = o.opt("scrapeTimeout")
    {
        ctx.error(n.pos, o.path_of("scrapeTimeout"), "must not be greater than scrapeInterval");
    }
    if let Some(n) = o.opt("metricsPath") {
        let p = o.path_of("metricsPath");
        if let Some(s) = ctx.string(n, &p) {
            if !s.starts_with('/') {
                ctx.error(n.pos, p, "must start with /");
            }
            spec.metrics_path = s;
        }
    }
    if let Some(n) = o.opt("scheme") {
        let p = o.path_of("scheme");
        if let Some(s) = ctx.string(n, &p) {
            if s != "http" {
                ctx.error(n.pos, p, format!("unsupported scheme {s:?}; only http is supported"));
            }
            spec.scheme = s;
        }
    }
    if let Some(n) = o.opt("params") {
        let p = o.path_of("params");
        match &n.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    let key = k.key_text().into_owned();
                    if let Some(vals) = ctx.string_list(v, &crate::decode::field(&p, &key)) {
                        spec.params.insert(key, vals);
                    }
                }
            }
            _ => ctx.error(n.pos, p, "expected a mapping of parameter names to lists of values"),
        }
    }
    spec.honor_labels =
        o.opt("honorLabels").and_then(|n| ctx.bool(n, &o.path_of("honorLabels"))).unwrap_or(false);
    spec.honor_timestamps = o
        .opt("honorTimestamps")
        .and_then(|n| ctx.bool(n, &o.path_of("honorTimestamps")))
        .unwrap_or(true);
    spec.sample_limit = o
        .opt("sampleLimit")
        .and_then(|n| ctx.int_min(n, &o.path_of("sampleLimit"), 0))
        .unwrap_or(0) as u64;
    spec.relabelings = o
        .opt("relabelings")
        .map(|n| relabelings(ctx, n, &o.path_of("relabelings")))
        .unwrap_or_default();
    spec.metric_relabelings = o
        .opt("metricRelabelings")
        .map(|n| relabelings(ctx, n, &o.path_of("metricRelabelings")))
        .unwrap_or_default();
    (ctx.diags.len() == before).then_some(spec)
}

fn relabelings(ctx: &mut Ctx, node: &Node, path: &str) -> Vec<Relabeling> {
    let mut out = Vec::new();
    let items = ctx.list(node, path).unwrap_or_default();
    for (i, item) in items.iter().enumerate() {
        let p = index(path, i);
        let Some(o) = ctx.object(
            item,
            &p,
            &[
                "sourceLabels",
                "separator",
                "targetLabel",
                "regex",
                "modulus",
                "replacement",
                "action",
            ],
        ) else {
            continue;
        };
        let mut r = Relabeling::default();
        if let Some(n) = o.opt("sourceLabels") {
            r.source_labels = ctx.string_list(n, &o.path_of("sourceLabels")).unwrap_or_default();
        }
        for (key, slot) in [
            ("separator", &mut r.separator),
            ("targetLabel", &mut r.target_label),
            ("regex", &mut r.regex),
            ("replacement", &mut r.replacement),
            ("action", &mut r.action),
        ] {
            if let Some(n) = o.opt(key)
                && let Some(s) = ctx.string(n, &o.path_of(key))
            {
                *slot = s;
            }
        }
        r.action = r.action.to_ascii_lowercase();
        if let Some(n) = o.opt("modulus") {
            r.modulus = ctx.int_min(n, &o.path_of("modulus"), 0).unwrap_or(0) as u64;
        }
        if let Err(e) = r.to_config() {
            ctx.error(item.pos, p, e);
        }
        out.push(r);
    }
    out
}

fn valid_address(a: &str) -> bool {
    match a.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && !a.contains('/') && port.parse::<u16>().is_ok(),
        None => false,
    }
}
