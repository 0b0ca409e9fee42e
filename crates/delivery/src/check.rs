//! Checks of delivery resources beyond their shape: analysis conditions and PromQL
//! queries (of analysis metrics and autoscaling metrics) that do not parse, and strategies naming analysis templates that do not exist or leave one of
//! a template's arguments without a value. Each problem points at the document and the
//! field.

use std::collections::BTreeSet;

use andon_spec::analysis::AnalysisTemplateSpec;
use andon_spec::strategy::{AnalysisRef, ArgValueFrom, Strategy};
use andon_spec::{Diagnostic, Manifest, Spec};

/// The `valueFrom.fieldRef.fieldPath`s an analysis argument may read.
pub const FIELD_PATHS: &[&str] = &["metadata.name", "metadata.namespace", "status.previewUrl"];

/// An analysis template as a strategy names it: (kind, namespace, name).
pub type TemplateKey = (String, String, String);

/// Every analysis reference of a Service's strategy, with its field path.
pub fn analysis_refs(strategy: &Strategy) -> Vec<(String, &AnalysisRef)> {
    let mut out = Vec::new();
    match strategy {
        Strategy::Canary(c) => {
            if let Some(a) = &c.analysis {
                out.push(("spec.strategy.canary.analysis".to_owned(), a));
            }
            for (i, s) in c.steps.iter().enumerate() {
                if let Some(a) = &s.analysis {
                    out.push((format!("spec.strategy.canary.steps[{i}].analysis"), a));
                }
            }
        }
        Strategy::BlueGreen(b) => {
            if let Some(a) = &b.pre_promotion_analysis {
                out.push(("spec.strategy.blueGreen.prePromotionAnalysis".to_owned(), a));
            }
            if let Some(a) = &b.post_promotion_analysis {
                out.push(("spec.strategy.blueGreen.postPromotionAnalysis".to_owned(), a));
            }
        }
        Strategy::RollingUpdate(_) | Strategy::Recreate {} => {}
    }
    out
}

/// Where the template a reference names is stored: (kind, namespace, name).
pub fn key_of(namespace: &str, template: &andon_spec::strategy::TemplateRef) -> TemplateKey {
    if template.cluster_scope {
        ("ClusterAnalysisTemplate".into(), "default".into(), template.template_name.clone())
    } else {
        ("AnalysisTemplate".into(), namespace.to_owned(), template.template_name.clone())
    }
}

/// The templates the manifests' strategies name that the manifests do not define
/// themselves (the server looks these up in its store).
pub fn referenced_elsewhere(manifests: &[Manifest]) -> BTreeSet<TemplateKey> {
    let defined = defined(manifests);
    let mut out = BTreeSet::new();
    for m in manifests {
        let Spec::Service(s) = &m.spec else { continue };
        let Some(strategy) = &s.strategy else { continue };
        for (_, a) in analysis_refs(strategy) {
            for t in &a.templates {
                let k = key_of(&m.metadata.namespace, t);
                if !defined.iter().any(|(dk, _)| *dk == k) {
                    out.insert(k);
                }
            }
        }
    }
    out
}

fn defined(manifests: &[Manifest]) -> Vec<(TemplateKey, &AnalysisTemplateSpec)> {
    manifests
        .iter()
        .filter_map(|m| match &m.spec {
            Spec::AnalysisTemplate(t) => Some((
                (m.kind.kind.to_owned(), m.metadata.namespace.clone(), m.metadata.name.clone()),
                &**t,
            )),
            _ => None,
        })
        .collect()
}

/// Checks templates' conditions and strategies' references. `known` holds templates
/// that exist outside `manifests` (stored ones); a reference to anything else is an
/// error.
pub fn check_manifests(manifests: &[Manifest], known: &BTreeSet<TemplateKey>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let defined = defined(manifests);
    for m in manifests {
        let at = |field: String, message: String| {
            Diagnostic::at(m.origin.pos, field, message).with_file(&m.origin.file)
        };
        match &m.spec {
            Spec::AnalysisTemplate(t) => {
                for (i, metric) in t.metrics.iter().enumerate() {
                    if let andon_spec::analysis::Provider::Prometheus(p) = &metric.provider
                        && !p.query.contains("{{")
                        && let Err(e) = andon_promql::parse(&p.query)
                    {
                        out.push(at(
                            format!("spec.metrics[{i}].provider.prometheus.query"),
                            e.to_string(),
                        ));
                    }
                    for (field, cond) in [
                        ("successCondition", &metric.success_condition),
                        ("failureCondition", &metric.failure_condition),
                    ] {
                        // Conditions with arguments are parsed once the arguments are known.
                        let Some(text) = cond.as_ref().filter(|c| !c.contains("{{")) else {
                            continue;
                        };
                        if let Err(e) = crate::expr::parse(text) {
                            out.push(at(format!("spec.metrics[{i}].{field}"), e.to_string()));
                        }
                    }
                }
            }
            Spec::Service(s) => {
                if let Some(a) = &s.autoscaling {
                    for (i, m) in a.metrics.iter().enumerate() {
                        use andon_spec::autoscaling::ScaleMetric;
                        let (field, q) = match m {
                            ScaleMetric::Resource { .. } => continue,
                            ScaleMetric::Pods { pods } => ("pods", &pods.metric.query),
                            ScaleMetric::Object { object } => ("object", &object.metric.query),
                            ScaleMetric::External { external } => {
                                ("external", &external.metric.query)
                            }
                        };
                        if let Err(e) = andon_promql::parse(q) {
                            out.push(at(
                                format!("spec.autoscaling.metrics[{i}].{field}.metric.query"),
                                e.to_string(),
                            ));
                        }
                    }
                }
                let Some(strategy) = &s.strategy else { continue };
                for (path, a) in analysis_refs(strategy) {
                    for (j, arg) in a.args.iter().enumerate() {
                        if let Some(ArgValueFrom::FieldRef { field_path }) = &arg.value_from
                            && !FIELD_PATHS.contains(&field_path.as_str())
                        {
                            out.push(at(
                                format!("{path}.args[{j}].valueFrom.fieldRef.fieldPath"),
                                format!(
                                    "{field_path:?} is not known; andon knows {}",
                                    FIELD_PATHS.join(", ")
                                ),
                            ));
                        }
                    }
                    let mut declared: Vec<(&str, bool)> = Vec::new();
                    for (j, t) in a.templates.iter().enumerate() {
                        let k = key_of(&m.metadata.namespace, t);
                        let field = format!("{path}.templates[{j}].templateName");
                        match defined.iter().find(|(dk, _)| *dk == k) {
                            Some((_, spec)) => {
                                for arg in &spec.args {
                                    declared.push((arg.name.as_str(), arg.value.is_some()));
                                }
                            }
                            None if known.contains(&k) => {}
                            None => out.push(at(
                                field,
                                format!(
                                    "{} {:?} not found in namespace {:?}: apply it with this service or before it",
                                    k.0, k.2, k.1
                                ),
                            )),
                        }
                    }
                    for (name, has_default) in &declared {
                        if !has_default && !a.args.iter().any(|x| x.name == *name) {
                            out.push(at(
                                format!("{path}.args"),
                                format!("the template's argument {name:?} needs a value here"),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifests(yaml: &str) -> Vec<Manifest> {
        andon_spec::parse_manifests("f.yaml", yaml.as_bytes(), None).unwrap()
    }

    const SERVICE: &str = "apiVersion: andon.dev/v1\nkind: Service\nmetadata: {name: web}\nspec:\n  command: [x]\n  strategy:\n    canary:\n      steps:\n      - setWeight: 10\n      - analysis:\n          templates: [{templateName: checks}]\n          args:\n          - {name: who, valueFrom: {fieldRef: {fieldPath: spec.replicas}}}\n";

    const TEMPLATE: &str = "---\napiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: checks}\nspec:\n  args: [{name: who}, {name: where}]\n  metrics:\n  - name: m\n    successCondition: result[0] >=\n    provider: {web: {url: \"http://x/{{args.who}}\"}}\n";

    fn messages(ds: &[Diagnostic]) -> Vec<String> {
        ds.iter().map(|d| format!("{}:{} {}: {}", d.line, d.column, d.field, d.message)).collect()
    }

    #[test]
    fn a_missing_template_is_named_with_its_field() {
        let ms = manifests(SERVICE);
        let got = messages(&check_manifests(&ms, &BTreeSet::new()));
        assert!(
            got.contains(&"1:1 spec.strategy.canary.steps[1].analysis.templates[0].templateName: AnalysisTemplate \"checks\" not found in namespace \"default\": apply it with this service or before it".to_owned()),
            "{got:?}"
        );
        // Stored elsewhere (the server's store): fine.
        let elsewhere = referenced_elsewhere(&ms);
        assert_eq!(elsewhere.len(), 1);
        let got = messages(&check_manifests(&ms, &elsewhere));
        assert!(got.iter().all(|m| !m.contains("not found")), "{got:?}");
    }

    #[test]
    fn conditions_arguments_and_field_paths_are_checked() {
        let ms = manifests(&format!("{SERVICE}{TEMPLATE}"));
        let got = messages(&check_manifests(&ms, &BTreeSet::new()));
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].starts_with("1:1 spec.strategy.canary.steps[1].analysis.args[0].valueFrom.fieldRef.fieldPath: \"spec.replicas\" is not known"), "{got:?}");
        assert_eq!(
            got[1],
            "1:1 spec.strategy.canary.steps[1].analysis.args: the template's argument \"where\" needs a value here"
        );
        assert!(got[2].starts_with("15:1 spec.metrics[0].successCondition: "), "{got:?}");
    }

    #[test]
    fn promql_queries_are_parsed() {
        let t = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: q}\nspec:\n  metrics:\n  - name: m\n    provider: {prometheus: {query: 'sum(rate(x[5m]'}}\n";
        let got = messages(&check_manifests(&manifests(t), &BTreeSet::new()));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("1:1 spec.metrics[0].provider.prometheus.query: "), "{got:?}");
        let s = "apiVersion: andon.dev/v1\nkind: Service\nmetadata: {name: w}\nspec:\n  command: [x]\n  autoscaling:\n    maxReplicas: 3\n    metrics:\n    - type: External\n      external: {metric: {name: q, query: 'rate(('}, target: {type: Value, value: 1}}\n";
        let got = messages(&check_manifests(&manifests(s), &BTreeSet::new()));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with("1:1 spec.autoscaling.metrics[0].external.metric.query: "),
            "{got:?}"
        );
    }
}
