//! SLO specs — Sloth `prometheus/v1`, Sloth's Kubernetes `PrometheusServiceLevel`, OpenSLO — read and turned into Prometheus recording and alerting rules the way Sloth generates them.
//!
//! [`generate`] reads a (possibly multi-document) file, checks every SLO and reports
//! all problems at once as `file:line:col: field.path: message` diagnostics, and
//! produces the rule groups Sloth would: per SLO an SLI recording group (one error
//! ratio per alert window plus the whole period), a metadata group (objective, error
//! budget, period length, current and period burn rates, remaining budget,
//! `sloth_slo_info`) and a multiwindow multi-burn-rate alert group (page and ticket).
//! [`render_generated`] prints them byte for byte as Sloth does: a Prometheus rule
//! file for `prometheus/v1` and OpenSLO input, a prometheus-operator `PrometheusRule`
//! object for `PrometheusServiceLevel` input.
//!
//! Supported input, beyond Sloth's event and raw SLIs:
//! - Sloth SLO plugins that are part of Sloth are expressed natively:
//!   `sloth.dev/core/{validate,sli_rules,metadata_rules,alert_rules,debug}/v1` and
//!   `sloth.dev/contrib/{info_labels,rule_intervals,denominator_corrected_rules,remove_labels}/v1`.
//!   Any other SLO plugin, and every SLI plugin (they are Go programs), is refused
//!   with a diagnostic naming it.
//! - OpenSLO `openslo/v1alpha` as Sloth reads it (ratio metrics with `prometheus` or
//!   `sloth` sources, `target`, one day-based time window), and `openslo/v1` `SLO`s
//!   with an inline or referenced (`indicatorRef`, to an `SLI` document in the same
//!   file) indicator: `ratioMetric` with `good`/`bad` and `total` (or `raw` with
//!   `rawType`), and `thresholdMetric` with the objective's `op` and `value`;
//!   `target` or `targetPercent`; one rolling `timeWindow` in m/h/d/w units.
//!   Each objective becomes one SLO named `<metadata.name>-<index>`. Queries use
//!   `{{.window}}` as in Sloth; with `counter: true` a bare series selector becomes
//!   `sum(rate(<selector>[{{.window}}]))`. A threshold SLI's error ratio is the share
//!   of evaluations in the window where the metric misses `op value`:
//!   `1 - avg_over_time(((<query>) <op> bool <value>)[{{.window}}:])`. Other OpenSLO
//!   kinds (`Service`, `DataSource`, alert policies) are skipped; calendar windows,
//!   `RatioTimeslices` and non-Prometheus metric sources are refused.
//!
//! Unknown fields are errors (with a suggestion), where Sloth ignores them. Numbers
//! and booleans given as label values are turned into strings as Sloth does.

mod gofmt;
mod goyaml;
mod openslo;
mod query;
mod render;
mod rules;
mod sloth;
mod windows;

use std::collections::{BTreeMap, HashMap};

use andon_spec::decode::Ctx;
use andon_spec::yaml::{self, Node, Value};
use andon_spec::{Diagnostic, Pos};

pub use gofmt::{parse_prom_duration, prom_duration};
pub use render::{render, render_generated};
pub use rules::sli_error_metric;
pub use windows::{AlertWindows, Window, read_windows};

/// The `sloth_version` label value when none is given.
pub const DEFAULT_INFO_VERSION: &str = "andon";

/// How rules are generated and printed; the fields mirror Sloth's `generate` flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The SLO period in milliseconds (`--default-slo-period`); defaults to the
    /// custom windows' period, else 30 days. OpenSLO time windows take precedence.
    pub period: Option<i64>,
    /// Custom alert windows (`--slo-period-windows-path`); replaces the built-in
    /// 30d and 28d sets.
    pub windows: Option<AlertWindows>,
    /// Labels added to every SLO (`--extra-labels`), overriding spec labels.
    pub extra_labels: BTreeMap<String, String>,
    /// Drops the SLI and metadata recording groups (`--disable-recordings`).
    pub disable_recordings: bool,
    /// Drops the alert groups (`--disable-alerts`).
    pub disable_alerts: bool,
    /// The `sloth_version` label value of `sloth_slo_info`.
    pub info_version: String,
    /// Starts each output document with a "generated, do not edit" comment.
    pub header: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            period: None,
            windows: None,
            extra_labels: BTreeMap::new(),
            disable_recordings: false,
            disable_alerts: false,
            info_version: DEFAULT_INFO_VERSION.to_owned(),
            header: false,
        }
    }
}

/// How an SLO's error ratio is measured.
#[derive(Debug, Clone, PartialEq)]
pub enum Sli {
    /// Bad events over total events; both queries use `{{.window}}`.
    Events { error_query: String, total_query: String },
    /// A query that already yields the error ratio, using `{{.window}}`.
    Raw { error_ratio_query: String },
}

/// An alert's name and the labels and annotations it adds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertMeta {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Page,
    Ticket,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }
}

/// One burn-rate condition: the error ratio over both windows above
/// `burn_rate_factor` × the error budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnRateAlert {
    pub severity: Severity,
    pub short_window_ms: i64,
    pub long_window_ms: i64,
    pub burn_rate_factor: f64,
}

/// One SLO after reading: everything its rules are generated from.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    /// `<service>-<name>`; the `sloth_id` label.
    pub id: String,
    pub service: String,
    pub name: String,
    /// Target in percent, in (0, 100].
    pub objective: f64,
    pub description: String,
    /// Spec labels merged with the extra labels.
    pub labels: BTreeMap<String, String>,
    pub period_ms: i64,
    pub sli: Sli,
    /// The alert windows for the period.
    pub windows: AlertWindows,
    /// `None` when the page alert is disabled.
    pub page_alert: Option<AlertMeta>,
    /// `None` when the ticket alert is disabled.
    pub ticket_alert: Option<AlertMeta>,
    /// The `sloth_spec` label value: the input format.
    pub spec: String,
}

impl Slo {
    /// The PromQL expression of the SLI error ratio over `window` (a Prometheus
    /// duration such as `5m` or `30d`), exactly as the SLI recording writes it.
    pub fn sli_error_ratio_expr(&self, window: &str) -> String {
        rules::sli_expr(&self.sli, window)
    }

    /// The error budget as a ratio (`0.001` for a 99.9% objective).
    pub fn error_budget_ratio(&self) -> f64 {
        (100.0 - self.objective) / 100.0
    }

    /// The objective as a ratio (`0.999` for 99.9%).
    pub fn objective_ratio(&self) -> f64 {
        self.objective / 100.0
    }

    /// Page quick, page slow, ticket quick, ticket slow.
    pub fn burn_rate_alerts(&self) -> [BurnRateAlert; 4] {
        let w = &self.windows;
        let mk = |severity, win: &Window| BurnRateAlert {
            severity,
            short_window_ms: win.short_window_ms,
            long_window_ms: win.long_window_ms,
            burn_rate_factor: w.burn_rate_factor(win),
        };
        [
            mk(Severity::Page, &w.page_quick),
            mk(Severity::Page, &w.page_slow),
            mk(Severity::Ticket, &w.ticket_quick),
            mk(Severity::Ticket, &w.ticket_slow),
        ]
    }

    /// The windows with an SLI recording: the alert windows, shortest first, then the period.
    pub fn recording_windows_ms(&self) -> Vec<i64> {
        rules::recording_windows(self)
    }

    /// `{sloth_id="…", sloth_service="…", sloth_slo="…"}`: the selector of this SLO's series.
    pub fn selector(&self) -> String {
        rules::label_filter(&rules::id_labels(self))
    }
}

/// One Prometheus rule.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rule {
    pub record: Option<String>,
    pub alert: Option<String>,
    pub expr: String,
    pub for_: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// One Prometheus rule group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleGroup {
    pub name: String,
    /// A Prometheus duration such as `5m`, when set.
    pub interval: Option<String>,
    pub rules: Vec<Rule>,
}

/// The metadata of the prometheus-operator `PrometheusRule` a
/// `PrometheusServiceLevel` becomes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct K8sMeta {
    pub name: String,
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// The shape of one output document.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputFormat {
    /// A Prometheus rule file (`groups:`).
    PrometheusRules,
    /// A `monitoring.coreos.com/v1` `PrometheusRule` object.
    PrometheusRule(K8sMeta),
}

/// The rules of one input document, printed as one output document.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputDocument {
    pub format: OutputFormat,
    pub groups: Vec<RuleGroup>,
}

/// Everything generated from one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub slos: Vec<Slo>,
    /// Every rule group, in output order.
    pub groups: Vec<RuleGroup>,
    /// One per SLO document of the input.
    pub documents: Vec<OutputDocument>,
}

/// What an input document is, judged by its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DocKind {
    SlothPrometheus,
    SlothKubernetes,
    OpenSlo,
}

fn doc_kind(root: &Node) -> Option<DocKind> {
    if root.str_field("version").is_some_and(|v| v.starts_with("prometheus/")) {
        return Some(DocKind::SlothPrometheus);
    }
    let api = root.str_field("apiVersion")?;
    let kind = root.str_field("kind");
    if api.starts_with("sloth.slok.dev/") && kind == Some("PrometheusServiceLevel") {
        return Some(DocKind::SlothKubernetes);
    }
    if api.starts_with("openslo/") && matches!(kind, Some("SLO")) {
        return Some(DocKind::OpenSlo);
    }
    None
}

/// An SLO as read from a spec, before its period and windows are settled.
#[derive(Debug, Clone)]
pub(crate) struct SloDraft {
    pub id: String,
    pub name: String,
    pub service: String,
    pub description: String,
    pub objective: f64,
    pub labels: BTreeMap<String, String>,
    pub sli: Sli,
    pub page_alert: Option<AlertMeta>,
    pub ticket_alert: Option<AlertMeta>,
    pub chain: Vec<rules::ChainItem>,
    pub override_defaults: bool,
    /// A period the spec itself sets (OpenSLO time windows), with where.
    pub period: Option<(i64, Pos, String)>,
    /// Where the SLO is defined, for problems found later.
    pub pos: Pos,
    pub path: String,
}

/// One input document, read.
#[derive(Debug, Clone)]
pub(crate) struct DocDraft {
    pub format: OutputFormat,
    /// The `sloth_spec` label value.
    pub spec: String,
    /// The `sloth_mode` label value.
    pub mode: &'static str,
    pub slos: Vec<SloDraft>,
    pub pos: Pos,
}

const DAY_MS: i64 = 86_400_000;

/// Reads an SLO spec file and generates its rules.
pub fn generate(bytes: &[u8], file: &str, opts: &Options) -> Result<Generated, Vec<Diagnostic>> {
    let docs = yaml::parse(bytes).map_err(|d| vec![d.with_file(file)])?;
    generate_from(&docs, file, opts)
}

/// Generates the rules of already-read documents (positions are theirs).
pub fn generate_from(
    docs: &[yaml::Document],
    file: &str,
    opts: &Options,
) -> Result<Generated, Vec<Diagnostic>> {
    let mut ctx = Ctx::default();

    let start = docs.first().map_or(Pos::new(1, 1), |d| d.pos);
    check_extra_labels(&mut ctx, start, &opts.extra_labels);
    if opts.period.is_some_and(|p| p <= 0) {
        ctx.error(start, "", "the SLO period must be a positive duration");
    }

    // OpenSLO v1 SLO documents may point at SLI documents anywhere in the file.
    let indicators = openslo::collect_indicators(docs);

    let mut drafts = Vec::new();
    let mut any = false;
    for doc in docs {
        if doc.root.value == Value::Null || openslo::is_companion(&doc.root) {
            continue;
        }
        any = true;
        match doc_kind(&doc.root) {
            Some(DocKind::SlothPrometheus) => {
                drafts.extend(sloth::decode(&mut ctx, &doc.root, doc.pos, false));
            }
            Some(DocKind::SlothKubernetes) => {
                drafts.extend(sloth::decode(&mut ctx, &doc.root, doc.pos, true));
            }
            Some(DocKind::OpenSlo) => {
                drafts.extend(openslo::decode(&mut ctx, &doc.root, doc.pos, &indicators));
            }
            None => ctx.error(
                doc.pos,
                "",
                "not an SLO spec: expected a Sloth spec (version: prometheus/v1), a Sloth \
                 PrometheusServiceLevel (apiVersion: sloth.slok.dev/v1) or an OpenSLO SLO \
                 (apiVersion: openslo/v1alpha or openslo/v1)",
            ),
        }
    }
    if !any {
        ctx.error(start, "", "the file holds no SLO spec");
    }

    let default_period =
        opts.period.or(opts.windows.as_ref().map(|w| w.slo_period_ms)).unwrap_or(30 * DAY_MS);
    let mut seen: HashMap<String, Pos> = HashMap::new();
    let mut built: Vec<(&DocDraft, Vec<(Slo, &SloDraft)>)> = Vec::new();
    for d in &drafts {
        let mut slos = Vec::new();
        for s in &d.slos {
            if let Some(first) = seen.get(&s.id) {
                ctx.error(
                    s.pos,
                    format!("{}.name", s.path),
                    format!(
                        "SLO ID {:?} is repeated (first defined at line {}, column {})",
                        s.id, first.line, first.col
                    ),
                );
                continue;
            }
            seen.insert(s.id.clone(), s.pos);
            if let Some(slo) = finish(&mut ctx, d, s, default_period, opts) {
                slos.push((slo, s));
            }
        }
        built.push((d, slos));
    }
    if !ctx.diags.is_empty() {
        return Err(ctx.diags.into_iter().map(|d| d.with_file(file)).collect());
    }

    let mut out = Generated { slos: Vec::new(), groups: Vec::new(), documents: Vec::new() };
    let mut errors = Vec::new();
    for (d, slos) in built {
        let mut groups = Vec::new();
        for (slo, draft) in slos {
            let info = rules::Info { version: &opts.info_version, mode: d.mode, spec: &d.spec };
            let mut r = rules::generate(&slo, &draft.chain, draft.override_defaults, &info);
            if opts.disable_alerts {
                r.alerts.rules.clear();
            }
            if opts.disable_recordings {
                r.sli.rules.clear();
                r.meta.rules.clear();
            }
            for g in [r.sli, r.meta, r.alerts].into_iter().chain(r.extra) {
                if g.rules.is_empty() {
                    continue;
                }
                groups.push(RuleGroup {
                    name: g.name,
                    interval: (g.interval_ms != 0).then(|| prom_duration(g.interval_ms)),
                    rules: g.rules,
                });
            }
            out.slos.push(slo);
        }
        if groups.is_empty() && d.format == OutputFormat::PrometheusRules {
            errors.push(
                Diagnostic::at(
                    d.pos,
                    "",
                    "no rules were generated (recordings and alerts are all disabled)",
                )
                .with_file(file),
            );
        }
        out.groups.extend(groups.iter().cloned());
        out.documents.push(OutputDocument { format: d.format.clone(), groups });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(out)
}

/// Settles an SLO's period and alert windows and applies the extra labels.
fn finish(
    ctx: &mut Ctx,
    doc: &DocDraft,
    s: &SloDraft,
    default_period: i64,
    opts: &Options,
) -> Option<Slo> {
    let (period, pos, path) = match &s.period {
        Some((p, pos, path)) => (*p, *pos, path.clone()),
        None => (default_period, s.pos, s.path.clone()),
    };
    let windows = match &opts.windows {
        Some(w) if w.slo_period_ms == period => Some(w.clone()),
        Some(_) => None,
        None => AlertWindows::builtin(period),
    };
    let Some(windows) = windows else {
        ctx.error(pos, path, windows::missing_windows_message(period, opts.windows.as_ref()));
        return None;
    };
    if windows.alert_windows_ms().contains(&period) {
        ctx.error(
            pos,
            path,
            format!(
                "the SLO period ({}) must differ from every alert window",
                prom_duration(period)
            ),
        );
        return None;
    }
    let mut labels = s.labels.clone();
    labels.extend(opts.extra_labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    Some(Slo {
        id: s.id.clone(),
        service: s.service.clone(),
        name: s.name.clone(),
        objective: s.objective,
        description: s.description.clone(),
        labels,
        period_ms: period,
        sli: s.sli.clone(),
        windows,
        page_alert: s.page_alert.clone(),
        ticket_alert: s.ticket_alert.clone(),
        spec: doc.spec.clone(),
    })
}

fn check_extra_labels(ctx: &mut Ctx, pos: Pos, labels: &BTreeMap<String, String>) {
    for (k, v) in labels {
        let path = format!("extra_labels.{k}");
        if let Err(m) = sloth::check_label_name(k) {
            ctx.error(pos, &path, format!("extra label: {m}"));
        }
        if v.is_empty() {
            ctx.error(pos, &path, "extra label: the label value is required");
        }
    }
}

#[cfg(test)]
mod tests;

/// Checks every applied `PrometheusServiceLevel` among `manifests` in depth (the
/// whole SLO spec, as `generate` reads it), with the document's own positions.
pub fn check_manifests(manifests: &[andon_spec::Manifest]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for m in manifests {
        let andon_spec::Spec::Foreign(f) = &m.spec else { continue };
        if m.kind.kind != "PrometheusServiceLevel" {
            continue;
        }
        if let Err(ds) = from_node(&f.node, &m.origin.file) {
            out.extend(ds);
        }
    }
    out
}

/// Generates the rules of one SLO document with the server's defaults.
pub fn from_node(node: &Node, file: &str) -> Result<Generated, Vec<Diagnostic>> {
    let doc = yaml::Document { index: 0, pos: node.pos, root: node.clone() };
    generate_from(std::slice::from_ref(&doc), file, &Options::default())
}

/// Generates the rules of a stored `PrometheusServiceLevel` spec (`{"document": …}`).
pub fn from_spec_json(spec: &serde_json::Value) -> Result<Generated, Vec<Diagnostic>> {
    let text = spec["document"].to_string();
    generate(text.as_bytes(), "stored", &Options::default())
}
