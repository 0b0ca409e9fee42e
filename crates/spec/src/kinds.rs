//! The resource kinds andon knows, with the names the API and the CLI use for them.

/// How a kind is named across the API (`plural`), the CLI (any of the names) and files (`kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindInfo {
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub short: &'static [&'static str],
}

pub const SERVICE: KindInfo =
    KindInfo { kind: "Service", plural: "services", singular: "service", short: &["svc"] };
pub const ENVIRONMENT: KindInfo = KindInfo {
    kind: "Environment",
    plural: "environments",
    singular: "environment",
    short: &["env"],
};

pub const SCRAPE_CONFIG: KindInfo = KindInfo {
    kind: "ScrapeConfig",
    plural: "scrapeconfigs",
    singular: "scrapeconfig",
    short: &["scfg"],
};

/// Prometheus recording and alerting rules (the Prometheus Operator's kind;
/// a bare Prometheus rule file with top-level `groups:` reads as one).
pub const PROMETHEUS_RULE: KindInfo = KindInfo {
    kind: "PrometheusRule",
    plural: "prometheusrules",
    singular: "prometheusrule",
    short: &["rules", "promrule"],
};

/// An SLO spec: Sloth's `prometheus/v1` or `PrometheusServiceLevel`, or an OpenSLO
/// `SLO`, kept as written (`spec.document`); its rules are generated and evaluated.
pub const PROMETHEUS_SERVICE_LEVEL: KindInfo = KindInfo {
    kind: "PrometheusServiceLevel",
    plural: "prometheusservicelevels",
    singular: "prometheusservicelevel",
    short: &["slo", "slos"],
};

/// Alert routing and receivers in Alertmanager's configuration format (a bare
/// `alertmanager.yml`, with top-level `route:` and `receivers:`, reads as one).
pub const ALERTMANAGER_CONFIG: KindInfo = KindInfo {
    kind: "AlertmanagerConfig",
    plural: "alertmanagerconfigs",
    singular: "alertmanagerconfig",
    short: &["amconfig"],
};

/// Metrics and the conditions that judge them, for rollouts' analysis (Argo Rollouts'
/// shape; `argoproj.io/v1alpha1` documents read as they are).
pub const ANALYSIS_TEMPLATE: KindInfo = KindInfo {
    kind: "AnalysisTemplate",
    plural: "analysistemplates",
    singular: "analysistemplate",
    short: &["at"],
};

/// An AnalysisTemplate any namespace's rollouts may use (`clusterScope: true`); kept in
/// the `default` namespace.
pub const CLUSTER_ANALYSIS_TEMPLATE: KindInfo = KindInfo {
    kind: "ClusterAnalysisTemplate",
    plural: "clusteranalysistemplates",
    singular: "clusteranalysistemplate",
    short: &["cat"],
};

/// While an SLO's remaining error budget is below a threshold, rollouts of the services
/// it covers do not start.
pub const ERROR_BUDGET_POLICY: KindInfo = KindInfo {
    kind: "ErrorBudgetPolicy",
    plural: "errorbudgetpolicies",
    singular: "errorbudgetpolicy",
    short: &["ebp"],
};

/// A git repository whose workflows run on the server when its branches change.
pub const REPOSITORY: KindInfo = KindInfo {
    kind: "Repository",
    plural: "repositories",
    singular: "repository",
    short: &["repo"],
};

/// Every kind, in the order the UI and `andon get all` list them.
pub const KINDS: &[KindInfo] = &[
    SERVICE,
    ENVIRONMENT,
    SCRAPE_CONFIG,
    PROMETHEUS_RULE,
    PROMETHEUS_SERVICE_LEVEL,
    ALERTMANAGER_CONFIG,
    ANALYSIS_TEMPLATE,
    CLUSTER_ANALYSIS_TEMPLATE,
    ERROR_BUDGET_POLICY,
    REPOSITORY,
];

/// Finds a kind by any of its names, case-insensitively (`Service`, `services`, `svc`).
pub fn lookup(name: &str) -> Option<&'static KindInfo> {
    KINDS.iter().find(|k| {
        k.kind.eq_ignore_ascii_case(name)
            || k.plural.eq_ignore_ascii_case(name)
            || k.singular.eq_ignore_ascii_case(name)
            || k.short.iter().any(|s| s.eq_ignore_ascii_case(name))
    })
}

/// Finds a kind by its exact `kind` spelling, as manifests must write it.
pub fn by_kind(kind: &str) -> Option<&'static KindInfo> {
    KINDS.iter().find(|k| k.kind == kind)
}

/// Finds a kind by its API plural (`services`).
pub fn by_plural(plural: &str) -> Option<&'static KindInfo> {
    KINDS.iter().find(|k| k.plural == plural)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_finds_its_kind() {
        for name in ["Service", "services", "SERVICE", "svc"] {
            assert_eq!(lookup(name).map(|k| k.kind), Some("Service"), "{name}");
        }
        assert_eq!(lookup("env").map(|k| k.kind), Some("Environment"));
        assert_eq!(lookup("pods"), None);
        assert_eq!(by_plural("environments"), Some(&ENVIRONMENT));
        assert_eq!(by_kind("service"), None);
    }
}
