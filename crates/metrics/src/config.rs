//! From a `ScrapeConfig` to scrape targets, with Prometheus's target label
//! rules: discovered labels (`__address__`, `__scheme__`,
//! `__metrics_path__`, `__param_<name>`, `__scrape_interval__`,
//! `__scrape_timeout__`, `job`, static labels) go through `relabelings`; a
//! dropped target is reported, not scraped; `instance` defaults to the
//! address; labels starting with `__` are removed; the URL is built from the
//! relabeled scheme, address, path and parameters.

use std::sync::Arc;
use std::time::Duration;

use andon_series::Labels;
use andon_series::relabel::Relabeler;
use andon_spec::scrape::ScrapeConfigSpec;

use crate::scrape::{ScrapeSettings, Target};

/// The targets of one ScrapeConfig, and the discovered label sets its
/// relabeling dropped.
pub struct Resolved {
    pub targets: Vec<Target>,
    pub dropped: Vec<Labels>,
}

/// Resolves a ScrapeConfig named `name` (the default job).
pub fn resolve(
    name: &str,
    spec: &ScrapeConfigSpec,
    default_interval: Duration,
    default_timeout: Duration,
) -> Result<Resolved, String> {
    let interval = spec
        .scrape_interval
        .as_deref()
        .and_then(andon_core::time::parse_duration)
        .unwrap_or(default_interval);
    let timeout = spec
        .scrape_timeout
        .as_deref()
        .and_then(andon_core::time::parse_duration)
        .unwrap_or(default_timeout)
        .min(interval);
    let relabel = compile(&spec.relabelings)?;
    let metric_relabel = if spec.metric_relabelings.is_empty() {
        None
    } else {
        Some(compile(&spec.metric_relabelings)?)
    };
    let settings = Arc::new(ScrapeSettings {
        interval,
        timeout,
        honor_labels: spec.honor_labels,
        honor_timestamps: spec.honor_timestamps,
        sample_limit: usize::try_from(spec.sample_limit).unwrap_or(usize::MAX),
        metric_relabel,
        key: serde_json::to_string(spec).unwrap_or_default(),
    });
    let job = spec.job_name.clone().unwrap_or_else(|| name.to_string());
    let mut out = Resolved { targets: Vec::new(), dropped: Vec::new() };
    for sc in &spec.static_configs {
        for addr in &sc.targets {
            let mut l = Labels::from_pairs(&[
                ("__address__", addr.as_str()),
                ("__scheme__", spec.scheme.as_str()),
                ("__metrics_path__", spec.metrics_path.as_str()),
                ("__scrape_interval__", &go_duration(interval)),
                ("__scrape_timeout__", &go_duration(timeout)),
                ("job", job.as_str()),
            ]);
            for (k, vals) in &spec.params {
                if let Some(v) = vals.first() {
                    l.set(&format!("__param_{k}"), v);
                }
            }
            for (k, v) in &sc.labels {
                l.set(k, v);
            }
            let discovered = l.clone();
            let Some(mut l) = relabel.apply(&l) else {
                out.dropped.push(discovered);
                continue;
            };
            let Some(address) = l.get("__address__").map(str::to_string) else {
                out.dropped.push(discovered);
                continue;
            };
            if !l.has("instance") {
                l.set("instance", &address);
            }
            let url = target_url(&l, spec, &address);
            let names: Vec<String> =
                l.iter().filter(|x| x.name.starts_with("__")).map(|x| x.name.clone()).collect();
            let labels = l.without(&names);
            out.targets.push(Target { url, labels, discovered, settings: Some(settings.clone()) });
        }
    }
    Ok(out)
}

fn compile(steps: &[andon_spec::scrape::Relabeling]) -> Result<Relabeler, String> {
    let configs = steps.iter().map(|r| r.to_config()).collect::<Result<Vec<_>, _>>()?;
    Relabeler::new(&configs)
}

fn target_url(l: &Labels, spec: &ScrapeConfigSpec, address: &str) -> String {
    let scheme = l.get("__scheme__").unwrap_or("http");
    let path = l.get("__metrics_path__").unwrap_or("/metrics");
    let mut query: Vec<(String, String)> = Vec::new();
    for (k, vals) in &spec.params {
        match l.get(&format!("__param_{k}")) {
            Some(v) => query.push((k.clone(), v.to_string())),
            None => query.extend(vals.iter().map(|v| (k.clone(), v.clone()))),
        }
    }
    for x in l.iter() {
        if let Some(k) = x.name.strip_prefix("__param_")
            && !spec.params.contains_key(k)
        {
            query.push((k.to_string(), x.value.clone()));
        }
    }
    let mut url = format!("{scheme}://{address}{path}");
    if !query.is_empty() {
        url.push('?');
        url.push_str(&serde_urlencoded::to_string(&query).unwrap_or_default());
    }
    url
}

/// `15s`, `1m30s`, as Prometheus prints durations.
fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut s = (ms / 1000) as u64;
    let mut out = String::new();
    for (unit, len) in [("h", 3600), ("m", 60)] {
        if s >= len {
            out.push_str(&format!("{}{unit}", s / len));
            s %= len;
        }
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> ScrapeConfigSpec {
        let doc = format!(
            "apiVersion: andon.dev/v1\nkind: ScrapeConfig\nmetadata:\n  name: node\nspec:\n{yaml}"
        );
        match andon_spec::parse_manifests("t.yaml", doc.as_bytes(), None).unwrap().remove(0).spec {
            andon_spec::Spec::ScrapeConfig(s) => *s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn static_targets_get_job_instance_and_relabeling() {
        let s = spec(
            "  staticConfigs:\n  - targets: ['10.0.0.1:9100', '10.0.0.2:9100']\n    labels: {env: prod}\n  params: {module: [cpu]}\n  relabelings:\n  - {sourceLabels: [__address__], regex: '10.0.0.2:.*', action: drop}\n  - {sourceLabels: [__address__], regex: '(.*):.*', targetLabel: host}\n",
        );
        let r = resolve("node", &s, Duration::from_secs(15), Duration::from_secs(10)).unwrap();
        assert_eq!(r.targets.len(), 1);
        assert_eq!(r.dropped.len(), 1);
        let t = &r.targets[0];
        assert_eq!(t.url, "http://10.0.0.1:9100/metrics?module=cpu");
        assert_eq!(
            t.labels.to_string(),
            r#"{env="prod", host="10.0.0.1", instance="10.0.0.1:9100", job="node"}"#
        );
        assert_eq!(t.discovered.value("__scrape_interval__"), "15s");
    }

    #[test]
    fn relabeling_can_rewrite_the_address_and_path() {
        let s = spec(
            "  jobName: blackbox\n  staticConfigs: [{targets: ['example.org:80']}]\n  relabelings:\n  - {sourceLabels: [__address__], targetLabel: __param_target}\n  - {sourceLabels: [__param_target], targetLabel: instance}\n  - {targetLabel: __address__, replacement: '127.0.0.1:9115'}\n  - {targetLabel: __metrics_path__, replacement: /probe}\n",
        );
        let r = resolve("bb", &s, Duration::from_secs(15), Duration::from_secs(10)).unwrap();
        let t = &r.targets[0];
        assert_eq!(t.url, "http://127.0.0.1:9115/probe?target=example.org%3A80");
        assert_eq!(t.labels.to_string(), r#"{instance="example.org:80", job="blackbox"}"#);
    }

    #[test]
    fn durations_print_like_prometheus() {
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h");
    }
}
