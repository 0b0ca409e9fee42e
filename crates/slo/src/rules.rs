//! Rule generation for one SLO: the SLI error-ratio recordings per window, the
//! metadata recordings (objective, error budget, burn rates, remaining budget, info)
//! and the multiwindow multi-burn-rate page and ticket alerts, produced by a chain of
//! processors the way Sloth's plugin chain produces them.

use std::collections::BTreeMap;

use crate::gofmt::{go_f, go_g, hours, prom_duration};
use crate::{Rule, Severity, Sli, Slo};

pub(crate) const SLI_ERROR_METRIC: &str = "slo:sli_error:ratio_rate";
pub(crate) const OBJECTIVE_METRIC: &str = "slo:objective:ratio";
pub(crate) const ERROR_BUDGET_METRIC: &str = "slo:error_budget:ratio";
pub(crate) const PERIOD_DAYS_METRIC: &str = "slo:time_period:days";
pub(crate) const CURRENT_BURN_RATE_METRIC: &str = "slo:current_burn_rate:ratio";
pub(crate) const PERIOD_BURN_RATE_METRIC: &str = "slo:period_burn_rate:ratio";
pub(crate) const BUDGET_REMAINING_METRIC: &str = "slo:period_error_budget_remaining:ratio";
pub(crate) const INFO_METRIC: &str = "sloth_slo_info";
const NUMERATOR_CORRECTION_METRIC: &str = "slo:numerator_correction:ratio";

pub(crate) const LABEL_ID: &str = "sloth_id";
pub(crate) const LABEL_SERVICE: &str = "sloth_service";
pub(crate) const LABEL_SLO: &str = "sloth_slo";
pub(crate) const LABEL_WINDOW: &str = "sloth_window";
const LABEL_SEVERITY: &str = "sloth_severity";

/// The name of the SLI error-ratio recording for a window (`slo:sli_error:ratio_rate5m`).
pub fn sli_error_metric(window_ms: i64) -> String {
    format!("{SLI_ERROR_METRIC}{}", prom_duration(window_ms))
}

/// One step of the rule-generation chain. The first four are the default chain;
/// the others are Sloth's built-in SLO plugins that are expressed natively.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Processor {
    Validate,
    SliRules { disable_optimized: bool },
    MetadataRules,
    AlertRules,
    Debug,
    InfoLabels { labels: BTreeMap<String, String>, metric_name: String },
    RuleIntervals { default_ms: i64, sli_ms: i64, metadata_ms: i64, alert_ms: i64 },
    DenominatorCorrected { disable_optimized: bool },
    RemoveLabels { preserve: Vec<String>, skip_metrics: Vec<String> },
}

/// A plugin in an SLO's chain, with its priority (negative runs before the defaults).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChainItem {
    pub priority: i64,
    pub processor: Processor,
}

/// What `sloth_slo_info` says about the generator.
pub(crate) struct Info<'a> {
    pub version: &'a str,
    pub mode: &'a str,
    pub spec: &'a str,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Group {
    pub name: String,
    pub interval_ms: i64,
    pub rules: Vec<Rule>,
}

/// The rule groups of one SLO, in output order.
#[derive(Debug, Default, Clone)]
pub(crate) struct SloRules {
    pub sli: Group,
    pub meta: Group,
    pub alerts: Group,
    pub extra: Vec<Group>,
}

/// Runs an SLO's processor chain: plugins with negative priority, then (unless the
/// chain overrides them) the defaults, then the rest, each in priority order.
pub(crate) fn generate(
    slo: &Slo,
    chain: &[ChainItem],
    override_defaults: bool,
    info: &Info<'_>,
) -> SloRules {
    let mut items: Vec<&ChainItem> = chain.iter().collect();
    items.sort_by_key(|c| c.priority);
    let mut processors: Vec<&Processor> =
        items.iter().filter(|c| c.priority < 0).map(|c| &c.processor).collect();
    let defaults = [
        Processor::Validate,
        Processor::SliRules { disable_optimized: false },
        Processor::MetadataRules,
        Processor::AlertRules,
    ];
    if !override_defaults {
        processors.extend(defaults.iter());
    }
    processors.extend(items.iter().filter(|c| c.priority >= 0).map(|c| &c.processor));

    let mut out = SloRules::default();
    for p in processors {
        process(slo, p, info, &mut out);
    }
    if out.sli.name.is_empty() {
        out.sli.name = format!("sloth-slo-sli-recordings-{}", slo.id);
    }
    if out.meta.name.is_empty() {
        out.meta.name = format!("sloth-slo-meta-recordings-{}", slo.id);
    }
    if out.alerts.name.is_empty() {
        out.alerts.name = format!("sloth-slo-alerts-{}", slo.id);
    }
    out
}

fn process(slo: &Slo, p: &Processor, info: &Info<'_>, out: &mut SloRules) {
    match p {
        Processor::Validate | Processor::Debug => {}
        Processor::SliRules { disable_optimized } => {
            out.sli.rules = recording_windows(slo)
                .into_iter()
                .map(|w| {
                    let expr = if w == slo.period_ms && !disable_optimized {
                        optimized_expr(slo, w)
                    } else {
                        slo.sli_error_ratio_expr(&prom_duration(w))
                    };
                    sli_rule(slo, w, expr)
                })
                .collect();
        }
        Processor::MetadataRules => out.meta.rules = metadata_rules(slo, info),
        Processor::AlertRules => {
            let mut rules = Vec::new();
            if let Some(meta) = &slo.page_alert {
                rules.push(alert_rule(slo, meta, Severity::Page));
            }
            if let Some(meta) = &slo.ticket_alert {
                rules.push(alert_rule(slo, meta, Severity::Ticket));
            }
            out.alerts.rules = rules;
        }
        Processor::InfoLabels { labels, metric_name } => {
            if let Some(r) =
                out.meta.rules.iter_mut().find(|r| r.record.as_deref() == Some(metric_name))
            {
                r.labels.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        Processor::RuleIntervals { default_ms, sli_ms, metadata_ms, alert_ms } => {
            let pick = |v: i64| if v != 0 { v } else { *default_ms };
            out.sli.interval_ms = pick(*sli_ms);
            out.meta.interval_ms = pick(*metadata_ms);
            out.alerts.interval_ms = pick(*alert_ms);
        }
        Processor::DenominatorCorrected { disable_optimized } => {
            denominator_corrected(slo, *disable_optimized, out);
        }
        Processor::RemoveLabels { preserve, skip_metrics } => {
            let mut keep: Vec<&str> = vec![LABEL_WINDOW, LABEL_ID, LABEL_SERVICE, LABEL_SLO];
            keep.extend(preserve.iter().map(String::as_str));
            let skipped = |r: &Rule| {
                let rec = r.record.as_deref().unwrap_or("");
                rec == INFO_METRIC || skip_metrics.iter().any(|s| s == rec)
            };
            for r in out.sli.rules.iter_mut().filter(|r| !skipped(r)) {
                r.labels.retain(|k, _| keep.contains(&k.as_str()));
            }
            keep.retain(|k| *k != LABEL_WINDOW);
            for r in out.meta.rules.iter_mut().filter(|r| !skipped(r)) {
                r.labels.retain(|k, _| keep.contains(&k.as_str()));
            }
        }
    }
}

/// The windows SLI recordings exist for: every alert window, then the period.
pub(crate) fn recording_windows(slo: &Slo) -> Vec<i64> {
    let mut w = slo.windows.alert_windows_ms();
    w.push(slo.period_ms);
    w
}

/// The labels that identify an SLO's series.
pub(crate) fn id_labels(slo: &Slo) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_ID.to_owned(), slo.id.clone()),
        (LABEL_SERVICE.to_owned(), slo.service.clone()),
        (LABEL_SLO.to_owned(), slo.name.clone()),
    ])
}

/// `{a="x", b="y"}` with names sorted, as Prometheus prints a label set.
pub(crate) fn label_filter(labels: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={}", go_quote(v))).collect();
    format!("{{{}}}", parts.join(", "))
}

/// A string in double quotes with Go's escapes.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn merged(parts: &[&BTreeMap<String, String>]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for p in parts {
        out.extend(p.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    out
}

fn sli_rule(slo: &Slo, window_ms: i64, expr: String) -> Rule {
    let window = BTreeMap::from([(LABEL_WINDOW.to_owned(), prom_duration(window_ms))]);
    Rule {
        record: Some(sli_error_metric(window_ms)),
        expr,
        labels: merged(&[&id_labels(slo), &window, &slo.labels]),
        ..Rule::default()
    }
}

/// The period's SLI as the average of the shortest window's recordings over it.
fn optimized_expr(slo: &Slo, window_ms: i64) -> String {
    let metric = sli_error_metric(slo.windows.page_quick.short_window_ms);
    let filter = label_filter(&id_labels(slo));
    let w = prom_duration(window_ms);
    format!(
        "sum_over_time({metric}{filter}[{w}])\n/ ignoring ({LABEL_WINDOW})\ncount_over_time({metric}{filter}[{w}])\n"
    )
}

/// The SLI error-ratio expression for a window, as the SLI recordings write it.
pub(crate) fn sli_expr(sli: &Sli, window: &str) -> String {
    // Queries were checked when read, so rendering cannot fail here; an
    // unexpected action is left as written.
    let r = |q: &str| crate::query::render(q, window).unwrap_or_else(|_| q.to_owned());
    match sli {
        Sli::Events { error_query, total_query } => {
            format!("({})\n/\n({})\n", r(error_query), r(total_query))
        }
        Sli::Raw { error_ratio_query } => format!("({})", r(error_ratio_query)),
    }
}

fn burn_rate_expr(metric: &str, filter: &str) -> String {
    format!(
        "{metric}{filter}\n/ on({LABEL_ID}, {LABEL_SLO}, {LABEL_SERVICE}) group_left\n{ERROR_BUDGET_METRIC}{filter}\n"
    )
}

fn metadata_rules(slo: &Slo, info: &Info<'_>) -> Vec<Rule> {
    let labels = merged(&[&id_labels(slo), &slo.labels]);
    let ratio = slo.objective / 100.0;
    let filter = label_filter(&id_labels(slo));
    let rule = |record: &str, expr: String| Rule {
        record: Some(record.to_owned()),
        expr,
        labels: labels.clone(),
        ..Rule::default()
    };
    let info_labels = BTreeMap::from([
        ("sloth_version".to_owned(), info.version.to_owned()),
        ("sloth_mode".to_owned(), info.mode.to_owned()),
        ("sloth_spec".to_owned(), info.spec.to_owned()),
        ("sloth_objective".to_owned(), go_f(slo.objective)),
    ]);
    vec![
        rule(OBJECTIVE_METRIC, format!("vector({})", go_g(ratio))),
        rule(ERROR_BUDGET_METRIC, format!("vector(1-{})", go_g(ratio))),
        rule(PERIOD_DAYS_METRIC, format!("vector({})", go_g(hours(slo.period_ms) / 24.0))),
        rule(
            CURRENT_BURN_RATE_METRIC,
            burn_rate_expr(&sli_error_metric(slo.windows.page_quick.short_window_ms), &filter),
        ),
        rule(PERIOD_BURN_RATE_METRIC, burn_rate_expr(&sli_error_metric(slo.period_ms), &filter)),
        rule(BUDGET_REMAINING_METRIC, format!("1 - {PERIOD_BURN_RATE_METRIC}{filter}")),
        Rule {
            record: Some(INFO_METRIC.to_owned()),
            expr: "vector(1)".to_owned(),
            labels: merged(&[&labels, &info_labels]),
            ..Rule::default()
        },
    ]
}

fn alert_rule(slo: &Slo, meta: &crate::AlertMeta, severity: Severity) -> Rule {
    let filter = label_filter(&id_labels(slo));
    let eb = go_g(slo.error_budget_ratio());
    let [page_quick, page_slow, ticket_quick, ticket_slow] = slo.burn_rate_alerts();
    let (quick, slow) = match severity {
        Severity::Page => (page_quick, page_slow),
        Severity::Ticket => (ticket_quick, ticket_slow),
    };
    let qf = go_g(quick.burn_rate_factor);
    let sf = go_g(slow.burn_rate_factor);
    let m = sli_error_metric;
    let expr = format!(
        "(\n    max({qs}{filter} > ({qf} * {eb})) without ({LABEL_WINDOW})\n    and\n    max({ql}{filter} > ({qf} * {eb})) without ({LABEL_WINDOW})\n)\nor\n(\n    max({ss}{filter} > ({sf} * {eb})) without ({LABEL_WINDOW})\n    and\n    max({sl}{filter} > ({sf} * {eb})) without ({LABEL_WINDOW})\n)\n",
        qs = m(quick.short_window_ms),
        ql = m(quick.long_window_ms),
        ss = m(slow.short_window_ms),
        sl = m(slow.long_window_ms),
    );
    let sev = severity.as_str();
    let default_annotations = BTreeMap::from([
        (
            "title".to_owned(),
            format!(
                "({sev}) {{{{$labels.{LABEL_SERVICE}}}}} {{{{$labels.{LABEL_SLO}}}}} SLO error budget burn rate is too fast."
            ),
        ),
        (
            "summary".to_owned(),
            format!(
                "{{{{$labels.{LABEL_SERVICE}}}}} {{{{$labels.{LABEL_SLO}}}}} SLO error budget burn rate is over expected."
            ),
        ),
    ]);
    let severity_label = BTreeMap::from([(LABEL_SEVERITY.to_owned(), sev.to_owned())]);
    Rule {
        alert: Some(meta.name.clone()),
        expr,
        labels: merged(&[&severity_label, &meta.labels]),
        annotations: merged(&[&default_annotations, &meta.annotations]),
        ..Rule::default()
    }
}

fn denominator_corrected(slo: &Slo, disable_optimized: bool, out: &mut SloRules) {
    let Sli::Events { error_query, total_query } = &slo.sli else { return };
    let filter = label_filter(&id_labels(slo));
    let r = |q: &str, w: &str| crate::query::render(q, w).unwrap_or_else(|_| q.to_owned());
    out.sli.rules = recording_windows(slo)
        .into_iter()
        .map(|w| {
            let ws = prom_duration(w);
            let expr = if w == slo.period_ms && disable_optimized {
                format!("({})\n/\n({})\n", r(error_query, &ws), r(total_query, &ws))
            } else if w == slo.period_ms {
                optimized_expr(slo, w)
            } else {
                format!(
                    "(\n{NUMERATOR_CORRECTION_METRIC}{ws}{filter}\n* on()\n{}\n)\n/\n({})\n",
                    r(error_query, &ws),
                    r(total_query, &ws)
                )
            };
            sli_rule(slo, w, expr)
        })
        .collect();
    let labels = merged(&[&id_labels(slo), &slo.labels]);
    let period = prom_duration(slo.period_ms);
    for w in slo.windows.alert_windows_ms() {
        let ws = prom_duration(w);
        out.meta.rules.push(Rule {
            record: Some(format!("{NUMERATOR_CORRECTION_METRIC}{ws}")),
            expr: format!("({})/({})", r(total_query, &ws), r(total_query, &period)),
            labels: labels.clone(),
            ..Rule::default()
        });
    }
}
