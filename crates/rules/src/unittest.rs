//! `promtool test rules`: unit tests for rule files in promtool's format
//! (`rule_files`, `evaluation_interval`, `group_eval_order`, `fuzzy_compare`,
//! `tests` with `input_series`, `alert_rule_test`, `promql_expr_test`,
//! `external_labels`, `external_url`, `start_timestamp`), with promtool's
//! report text and outcome.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use andon_promql::Options;
use andon_promql::promqltest::{parse_metric, parse_series_line};
use andon_series::{Labels, MemStorage};
use andon_spec::decode::{Ctx, Obj, index};
use andon_spec::diag::Diagnostic;
use andon_spec::yaml::{self, Node, Value};

use crate::eval::{AlertState, GroupState, Settings, query_vector};
use crate::file::{self, ReadOptions, raw_scalar};

/// How a test file is run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Only test groups whose name matches one of these regexes (`--run`).
    pub run: Vec<String>,
    /// Ignore unknown fields in the rule files (`--ignore-unknown-fields`).
    pub ignore_unknown_fields: bool,
}

/// The outcome of one test file.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    /// Every failure, in promtool's words and layout.
    pub errors: Vec<String>,
    /// Test cases not run because they need a feature andon lacks (native histograms).
    pub skipped: Vec<String>,
    /// Warnings, such as a rule_files pattern that matches nothing.
    pub warnings: Vec<String>,
    /// Names of the test groups run, each with its failures, for JUnit output.
    pub groups: Vec<(String, Vec<String>)>,
}

impl FileReport {
    pub fn passed(&self) -> bool {
        self.errors.is_empty() && self.skipped.is_empty()
    }
}

struct TestFile {
    rule_files: Vec<String>,
    evaluation_interval: i64,
    group_eval_order: Vec<String>,
    fuzzy_compare: bool,
    tests: Vec<TestGroup>,
}

struct InputSeries {
    series: String,
    values: String,
}

struct AlertCase {
    eval_time: i64,
    alertname: String,
    exp_alerts: Vec<(BTreeMap<String, String>, BTreeMap<String, String>)>,
}

struct ExpSample {
    labels: String,
    value: f64,
    histogram: Option<String>,
}

struct ExprCase {
    expr: String,
    eval_time: i64,
    exp_samples: Vec<ExpSample>,
}

struct TestGroup {
    name: String,
    interval: i64,
    input_series: Vec<InputSeries>,
    alert_tests: Vec<AlertCase>,
    expr_tests: Vec<ExprCase>,
    external_labels: BTreeMap<String, String>,
    external_url: String,
    start_ms: i64,
}

/// Runs one unit-test file.
pub fn run_file(path: &Path, opts: &RunOptions) -> FileReport {
    let mut report = FileReport::default();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            report.errors.push(format!("{}: {e}", path.display()));
            return report;
        }
    };
    let source = String::from_utf8_lossy(&bytes).into_owned();
    let tf = match read_test_file(&bytes, &source) {
        Ok(t) => t,
        Err(ds) => {
            report.errors.extend(
                ds.into_iter().map(|d| d.with_file(&path.display().to_string()).to_string()),
            );
            return report;
        }
    };
    let run: Vec<regex::Regex> = match opts.run.iter().map(|r| regex::Regex::new(r)).collect() {
        Ok(v) => v,
        Err(e) => {
            report.errors.push(format!("invalid --run pattern: {e}"));
            return report;
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let rule_files = resolve_rule_files(base, &tf.rule_files, &mut report.warnings);
    let mut order = BTreeMap::new();
    for (i, g) in tf.group_eval_order.iter().enumerate() {
        if order.insert(g.clone(), i).is_some() {
            report.errors.push(format!("group name repeated in evaluation order: {g}"));
            return report;
        }
    }
    for (i, tg) in tf.tests.iter().enumerate() {
        if !run.is_empty() && !run.iter().any(|r| r.is_match(&tg.name)) {
            continue;
        }
        let name = if tg.name.is_empty() { format!("unnamed#{i}") } else { tg.name.clone() };
        let before = report.errors.len();
        run_group(tg, &tf, &rule_files, &order, opts, &mut report);
        let errs = report.errors[before..].to_vec();
        report.groups.push((name, errs));
    }
    report
}

fn resolve_rule_files(
    base: &Path,
    patterns: &[String],
    warnings: &mut Vec<String>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in patterns {
        let full = if Path::new(p).is_absolute() { PathBuf::from(p) } else { base.join(p) };
        let matched = andon_spec::lint::glob(&full);
        if matched.is_empty() {
            warnings.push(format!("no file match pattern {}", full.display()));
        }
        out.extend(matched);
    }
    out
}

fn read_test_file(bytes: &[u8], source: &str) -> Result<TestFile, Vec<Diagnostic>> {
    let docs = yaml::parse(bytes).map_err(|d| vec![d])?;
    let mut ctx = Ctx::default();
    let mut tf = TestFile {
        rule_files: Vec::new(),
        evaluation_interval: 60_000,
        group_eval_order: Vec::new(),
        fuzzy_compare: false,
        tests: Vec::new(),
    };
    let Some(doc) = docs.first() else { return Ok(tf) };
    if doc.root.value == Value::Null {
        return Ok(tf);
    }
    let Some(obj) = ctx.object(
        &doc.root,
        "",
        &["rule_files", "evaluation_interval", "group_eval_order", "tests", "fuzzy_compare"],
    ) else {
        return Err(ctx.diags);
    };
    if let Some(n) = obj.opt("rule_files") {
        tf.rule_files = ctx.string_list(n, "rule_files").unwrap_or_default();
    }
    if let Some(n) = obj.opt("evaluation_interval")
        && let Some(d) = duration(&mut ctx, n, "evaluation_interval", source)
        && d > 0
    {
        tf.evaluation_interval = d;
    }
    if let Some(n) = obj.opt("group_eval_order") {
        tf.group_eval_order = ctx.string_list(n, "group_eval_order").unwrap_or_default();
    }
    if let Some(n) = obj.opt("fuzzy_compare") {
        tf.fuzzy_compare = ctx.bool(n, "fuzzy_compare").unwrap_or(false);
    }
    if let Some(n) = obj.opt("tests")
        && let Some(items) = ctx.list(n, "tests")
    {
        for (i, t) in items.iter().enumerate() {
            if let Some(g) =
                read_group(&mut ctx, t, &index("tests", i), source, tf.evaluation_interval)
            {
                tf.tests.push(g);
            }
        }
    }
    if ctx.diags.is_empty() { Ok(tf) } else { Err(ctx.diags) }
}

/// A scalar as text, as written (numbers keep their spelling).
fn text(ctx: &mut Ctx, n: &Node, path: &str, source: &str) -> Option<String> {
    match &n.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => Some(raw_scalar(source, n.pos)),
        _ => ctx.string(n, path),
    }
}

fn duration(ctx: &mut Ctx, n: &Node, path: &str, source: &str) -> Option<i64> {
    let t = text(ctx, n, path, source)?;
    match andon_promql::parse_duration(&t) {
        Some(d) => Some(d),
        None => {
            ctx.error(n.pos, path, format!("not a valid duration string: {t:?}"));
            None
        }
    }
}

fn opt_obj<'a>(ctx: &mut Ctx, n: &'a Node, path: &str, known: &[&str]) -> Option<Obj<'a>> {
    ctx.object(n, path, known)
}

fn read_group(
    ctx: &mut Ctx,
    n: &Node,
    path: &str,
    source: &str,
    default_interval: i64,
) -> Option<TestGroup> {
    let obj = opt_obj(
        ctx,
        n,
        path,
        &[
            "interval",
            "input_series",
            "alert_rule_test",
            "promql_expr_test",
            "external_labels",
            "external_url",
            "name",
            "start_timestamp",
        ],
    )?;
    let mut g = TestGroup {
        name: String::new(),
        interval: default_interval,
        input_series: Vec::new(),
        alert_tests: Vec::new(),
        expr_tests: Vec::new(),
        external_labels: BTreeMap::new(),
        external_url: String::new(),
        start_ms: 0,
    };
    if let Some(v) = obj.opt("name") {
        g.name = text(ctx, v, &obj.path_of("name"), source).unwrap_or_default();
    }
    if let Some(v) = obj.opt("interval")
        && let Some(d) = duration(ctx, v, &obj.path_of("interval"), source)
        && d > 0
    {
        g.interval = d;
    }
    if let Some(v) = obj.opt("external_url") {
        g.external_url = ctx.string(v, &obj.path_of("external_url")).unwrap_or_default();
    }
    if let Some(v) = obj.opt("external_labels") {
        g.external_labels = ctx
            .string_map(v, &obj.path_of("external_labels"), |_, _, _, _, _| {})
            .unwrap_or_default();
    }
    if let Some(v) = obj.opt("start_timestamp") {
        let p = obj.path_of("start_timestamp");
        if let Some(t) = text(ctx, v, &p, source) {
            match parse_start(&t) {
                Some(ms) => g.start_ms = ms,
                None => ctx.error(
                    v.pos,
                    p,
                    format!("cannot parse {t:?} as an RFC 3339 time or Unix seconds"),
                ),
            }
        }
    }
    if let Some(v) = obj.opt("input_series")
        && let Some(items) = ctx.list(v, &obj.path_of("input_series"))
    {
        for (i, it) in items.iter().enumerate() {
            let p = index(&obj.path_of("input_series"), i);
            let Some(o) = opt_obj(ctx, it, &p, &["series", "values"]) else { continue };
            let series = o.opt("series").and_then(|x| text(ctx, x, &o.path_of("series"), source));
            let values = o.opt("values").and_then(|x| text(ctx, x, &o.path_of("values"), source));
            g.input_series.push(InputSeries {
                series: series.unwrap_or_default(),
                values: values.unwrap_or_default(),
            });
        }
    }
    if let Some(v) = obj.opt("alert_rule_test")
        && let Some(items) = ctx.list(v, &obj.path_of("alert_rule_test"))
    {
        for (i, it) in items.iter().enumerate() {
            let p = index(&obj.path_of("alert_rule_test"), i);
            let Some(o) = opt_obj(ctx, it, &p, &["eval_time", "alertname", "exp_alerts"]) else {
                continue;
            };
            let eval_time =
                o.opt("eval_time").and_then(|x| duration(ctx, x, &o.path_of("eval_time"), source));
            let alertname =
                o.opt("alertname").and_then(|x| text(ctx, x, &o.path_of("alertname"), source));
            let mut exp = Vec::new();
            if let Some(list) = o.opt("exp_alerts")
                && let Some(alerts) = ctx.list(list, &o.path_of("exp_alerts"))
            {
                for (j, a) in alerts.iter().enumerate() {
                    let ap = index(&o.path_of("exp_alerts"), j);
                    let Some(ao) = opt_obj(ctx, a, &ap, &["exp_labels", "exp_annotations"]) else {
                        continue;
                    };
                    let labels = ao
                        .opt("exp_labels")
                        .and_then(|x| {
                            ctx.string_map(x, &ao.path_of("exp_labels"), |_, _, _, _, _| {})
                        })
                        .unwrap_or_default();
                    let ann = ao
                        .opt("exp_annotations")
                        .and_then(|x| {
                            ctx.string_map(x, &ao.path_of("exp_annotations"), |_, _, _, _, _| {})
                        })
                        .unwrap_or_default();
                    exp.push((labels, ann));
                }
            }
            g.alert_tests.push(AlertCase {
                eval_time: eval_time.unwrap_or(0),
                alertname: alertname.unwrap_or_default(),
                exp_alerts: exp,
            });
        }
    }
    if let Some(v) = obj.opt("promql_expr_test")
        && let Some(items) = ctx.list(v, &obj.path_of("promql_expr_test"))
    {
        for (i, it) in items.iter().enumerate() {
            let p = index(&obj.path_of("promql_expr_test"), i);
            let Some(o) = opt_obj(ctx, it, &p, &["expr", "eval_time", "exp_samples"]) else {
                continue;
            };
            let expr = o.opt("expr").and_then(|x| text(ctx, x, &o.path_of("expr"), source));
            let eval_time =
                o.opt("eval_time").and_then(|x| duration(ctx, x, &o.path_of("eval_time"), source));
            let mut exp_samples = Vec::new();
            if let Some(list) = o.opt("exp_samples")
                && let Some(samples) = ctx.list(list, &o.path_of("exp_samples"))
            {
                for (j, s) in samples.iter().enumerate() {
                    let sp = index(&o.path_of("exp_samples"), j);
                    let Some(so) = opt_obj(ctx, s, &sp, &["labels", "value", "histogram"]) else {
                        continue;
                    };
                    let labels =
                        so.opt("labels").and_then(|x| text(ctx, x, &so.path_of("labels"), source));
                    let value = match so.opt("value") {
                        None => 0.0,
                        Some(x) => match &x.value {
                            Value::Int(i) => *i as f64,
                            Value::Float(f) => *f,
                            Value::Str(s) => match parse_float(s) {
                                Some(f) => f,
                                None => {
                                    ctx.error(
                                        x.pos,
                                        so.path_of("value"),
                                        format!("cannot parse {s:?} as a number"),
                                    );
                                    0.0
                                }
                            },
                            _ => {
                                ctx.error(x.pos, so.path_of("value"), "expected a number");
                                0.0
                            }
                        },
                    };
                    let histogram = so
                        .opt("histogram")
                        .and_then(|x| text(ctx, x, &so.path_of("histogram"), source));
                    exp_samples.push(ExpSample {
                        labels: labels.unwrap_or_default(),
                        value,
                        histogram,
                    });
                }
            }
            g.expr_tests.push(ExprCase {
                expr: expr.unwrap_or_default(),
                eval_time: eval_time.unwrap_or(0),
                exp_samples,
            });
        }
    }
    Some(g)
}

fn parse_float(s: &str) -> Option<f64> {
    match s.trim().to_ascii_lowercase().as_str() {
        "nan" | ".nan" => Some(f64::NAN),
        "inf" | "+inf" | ".inf" | "+.inf" => Some(f64::INFINITY),
        "-inf" | "-.inf" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

/// `start_timestamp`: Unix seconds (fractions allowed) or RFC 3339.
fn parse_start(s: &str) -> Option<i64> {
    if let Ok(f) = s.trim().parse::<f64>() {
        return Some((f * 1000.0).round() as i64);
    }
    andon_core::Timestamp::parse_rfc3339(s.trim()).map(|t| t.millis())
}

/// The test storage: input series loaded up to the evaluation time, rule output appended.
type TestEnv = crate::eval::MemEnv;

fn run_group(
    tg: &TestGroup,
    tf: &TestFile,
    rule_files: &[PathBuf],
    order: &BTreeMap<String, usize>,
    opts: &RunOptions,
    report: &mut FileReport,
) {
    let eval_interval = tf.evaluation_interval;
    let name_line =
        if tg.name.is_empty() { String::new() } else { format!("    name: {},\n", tg.name) };
    // Input series, expanded; series written in native-histogram notation are not supported.
    let mut pending: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
    let mut native: Vec<Labels> = Vec::new();
    for is in &tg.input_series {
        if is.values.contains("{{") {
            match parse_metric(&is.series) {
                Ok(l) => native.push(l),
                Err(e) => {
                    report.errors.push(format!("input series {:?}: {e}", is.series));
                    return;
                }
            }
            continue;
        }
        let labels = match parse_metric(&is.series) {
            Ok(l) => l,
            Err(e) => {
                report.errors.push(format!("input series {:?}: {e}", is.series));
                return;
            }
        };
        match parse_series_line(&format!("{{}} {}", is.values)) {
            Ok((_, values)) => {
                let points = values
                    .into_iter()
                    .enumerate()
                    .filter_map(|(k, v)| v.map(|v| (tg.start_ms + k as i64 * tg.interval, v)))
                    .collect();
                pending.push((labels, points));
            }
            Err(e) => {
                report
                    .errors
                    .push(format!("input series {:?}: values {:?}: {e}", is.series, is.values));
                return;
            }
        }
    }
    // Rule groups from every rule file, ordered by group_eval_order.
    let mut groups: Vec<GroupState> = Vec::new();
    let mut load_errors = Vec::new();
    for f in rule_files {
        let bytes = match std::fs::read(f) {
            Ok(b) => b,
            Err(e) => {
                load_errors.push(format!("{}: {e}", f.display()));
                continue;
            }
        };
        let ro = ReadOptions { ignore_unknown_fields: opts.ignore_unknown_fields };
        match file::parse(&bytes, &f.display().to_string(), ro) {
            Ok(rf) => {
                for g in rf.groups {
                    groups.push(GroupState::new(Arc::new(g)));
                }
            }
            Err(ds) => load_errors.extend(ds.into_iter().map(|d| d.to_string())),
        }
    }
    if !load_errors.is_empty() {
        report.errors.extend(load_errors);
        return;
    }
    groups.sort_by_key(|g| order.get(&g.group.name).copied().unwrap_or(0));
    for g in &mut groups {
        g.set_restored();
    }
    let settings = Settings {
        external_labels: tg.external_labels.clone(),
        external_url: tg.external_url.clone(),
    };
    let mut env = TestEnv {
        store: MemStorage::new(),
        opts: Options {
            lookback_delta_ms: 5 * 60 * 1000,
            default_subquery_step_ms: eval_interval,
            timeout: std::time::Duration::from_secs(100),
            ..Options::default()
        },
    };
    for a in &tg.alert_tests {
        if a.alertname.is_empty() {
            let in_group = if tg.name.is_empty() {
                String::new()
            } else {
                format!(" (in TestGroup {})", tg.name)
            };
            report.errors.push(format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                model_duration(a.eval_time)
            ));
            return;
        }
    }
    let mint = tg.start_ms;
    let max_eval = tg
        .alert_tests
        .iter()
        .map(|a| a.eval_time)
        .chain(tg.expr_tests.iter().map(|e| e.eval_time))
        .max()
        .unwrap_or(0);
    let maxt = mint + max_eval;
    let alert_times: BTreeSet<i64> = tg.alert_tests.iter().map(|a| a.eval_time).collect();
    let alert_times: Vec<i64> = alert_times.into_iter().collect();
    let mut curr = 0;
    let mut cursor = vec![0usize; pending.len()];
    let mut ts = mint;
    while ts <= maxt {
        for (k, (labels, points)) in pending.iter().enumerate() {
            while cursor[k] < points.len() && points[cursor[k]].0 <= ts {
                let (t, v) = points[cursor[k]];
                env.store.append(labels, t, v);
                cursor[k] += 1;
            }
        }
        let mut eval_errs = Vec::new();
        for g in &mut groups {
            g.eval(ts, &mut env, &settings);
            for r in &g.rules {
                if let Some(e) = &r.health.last_error {
                    eval_errs.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        r.rule.name,
                        go_duration(ts)
                    ));
                }
            }
        }
        if !eval_errs.is_empty() {
            report.errors.extend(eval_errs);
            return;
        }
        while curr < alert_times.len()
            && ts - mint <= alert_times[curr]
            && alert_times[curr] < ts + eval_interval - mint
        {
            let t = alert_times[curr];
            for case in tg.alert_tests.iter().filter(|c| c.eval_time == t) {
                let mut got: Vec<(Labels, Labels)> = groups
                    .iter()
                    .flat_map(|g| g.alerts())
                    .filter(|(r, a)| r.name == case.alertname && a.state == AlertState::Firing)
                    .map(|(_, a)| (a.labels.clone(), map_labels(&a.annotations)))
                    .collect();
                let mut exp: Vec<(Labels, Labels)> = case
                    .exp_alerts
                    .iter()
                    .map(|(l, ann)| {
                        let mut l = l.clone();
                        l.insert("alertname".into(), case.alertname.clone());
                        (map_labels(&l), map_labels(ann))
                    })
                    .collect();
                got.sort();
                exp.sort();
                if got != exp {
                    report.errors.push(format!(
                        "{name_line}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                        case.alertname,
                        model_duration(case.eval_time),
                        indent_lines(&alerts_string(&exp), "            "),
                        indent_lines(&alerts_string(&got), "            "),
                    ));
                }
            }
            curr += 1;
        }
        ts += eval_interval;
    }
    // Expression tests, against everything loaded and recorded.
    for (k, (labels, points)) in pending.iter().enumerate() {
        for &(t, v) in &points[cursor[k]..] {
            if t <= maxt {
                env.store.append(labels, t, v);
            }
        }
    }
    'cases: for case in &tg.expr_tests {
        let at = mint + case.eval_time;
        let reads_native = !native.is_empty()
            && (native.iter().any(|l| l.metric_name().is_some_and(|n| case.expr.contains(n)))
                || case.exp_samples.iter().any(|s| s.histogram.is_some()));
        if reads_native || case.exp_samples.iter().any(|s| s.histogram.is_some()) {
            report.skipped.push(format!(
                "    expr: {:?}, time: {}: native histograms are not supported",
                case.expr,
                model_duration(case.eval_time)
            ));
            continue;
        }
        let got = andon_promql::parse(&case.expr)
            .map_err(|e| e.message)
            .and_then(|e| query_vector(&env.store, &e, at, &env.opts).map_err(|e| e.message));
        let got = match got {
            Ok(v) => v,
            Err(e) => {
                report.errors.push(format!(
                    "    expr: {:?}, time: {}, err: {e}",
                    case.expr,
                    model_duration(case.eval_time)
                ));
                continue;
            }
        };
        let mut exp = Vec::new();
        for s in &case.exp_samples {
            match parse_metric(&s.labels) {
                Ok(l) => exp.push((l, s.value)),
                Err(e) => {
                    report.errors.push(format!(
                        "    expr: {:?}, time: {}, err: labels {:?}: {e}",
                        case.expr,
                        model_duration(case.eval_time),
                        s.labels
                    ));
                    continue 'cases;
                }
            }
        }
        let mut got: Vec<(Labels, f64)> = got.into_iter().map(|s| (s.labels, s.v)).collect();
        exp.sort_by(|a, b| a.0.cmp(&b.0));
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let same = exp.len() == got.len()
            && exp
                .iter()
                .zip(&got)
                .all(|(e, g)| e.0 == g.0 && float_eq(e.1, g.1, tf.fuzzy_compare));
        if !same {
            report.errors.push(format!(
                "    expr: {:?}, time: {},\n        exp: {}\n        got: {}",
                case.expr,
                model_duration(case.eval_time),
                samples_string(&exp),
                samples_string(&got)
            ));
        }
    }
}

fn map_labels(m: &BTreeMap<String, String>) -> Labels {
    Labels::from_pairs(&m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>())
}

/// Exact equality (NaN equals NaN), or within one ULP with `fuzzy_compare`.
fn float_eq(a: f64, b: f64, fuzzy: bool) -> bool {
    if a == b || (a.is_nan() && b.is_nan()) {
        return true;
    }
    fuzzy
        && a.is_finite()
        && b.is_finite()
        && (next_toward(a, f64::NEG_INFINITY) == b || next_toward(a, f64::INFINITY) == b)
}

fn next_toward(x: f64, dir: f64) -> f64 {
    if x == 0.0 {
        let tiny = f64::from_bits(1);
        return if dir > 0.0 { tiny } else { -tiny };
    }
    let bits = x.to_bits();
    let up = (dir > x) == (x > 0.0);
    f64::from_bits(if up { bits + 1 } else { bits - 1 })
}

fn alerts_string(list: &[(Labels, Labels)]) -> String {
    if list.is_empty() {
        return "[]".into();
    }
    let one = |(l, a): &(Labels, Labels)| format!("\nLabels:{l}\nAnnotations:{a}");
    let mut s = format!("[\n0:{}", indent_lines(&one(&list[0]), "  "));
    for (i, x) in list[1..].iter().enumerate() {
        s.push_str(&format!(",\n{}:{}", i + 1, indent_lines(&one(x), "  ")));
    }
    s.push_str("\n]");
    s
}

fn samples_string(list: &[(Labels, f64)]) -> String {
    if list.is_empty() {
        return "nil".into();
    }
    list.iter().map(|(l, v)| format!("{l} {}", go_float_e(*v))).collect::<Vec<_>>().join(", ")
}

/// Prefixes every line but the first with `indent`.
fn indent_lines(s: &str, indent: &str) -> String {
    s.split('\n').collect::<Vec<_>>().join(&format!("\n{indent}"))
}

/// A float as Go's `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+00`, `2.5E-07`.
pub fn go_float_e(v: f64) -> String {
    andon_template::go_format_float(v, b'E')
}

/// A duration as Prometheus writes it: `0s`, `5m`, `1h30m`, `2w`, `106700d`.
pub fn model_duration(ms: i64) -> String {
    andon_promql::format_duration(ms)
}

/// A duration as Go's `time.Duration.String()`: `0s`, `1m0s`, `1h0m0s`, `1.5s`, `100ms`.
pub fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let neg = ms < 0;
    let ms = ms.unsigned_abs();
    let body = if ms < 1000 {
        format!("{ms}ms")
    } else {
        let h = ms / 3_600_000;
        let m = ms % 3_600_000 / 60_000;
        let s = ms % 60_000;
        let secs = if s.is_multiple_of(1000) {
            format!("{}s", s / 1000)
        } else {
            let frac = format!("{:03}", s % 1000);
            format!("{}.{}s", s / 1000, frac.trim_end_matches('0'))
        };
        if h > 0 {
            format!("{h}h{m}m{secs}")
        } else if m > 0 {
            format!("{m}m{secs}")
        } else {
            secs
        }
    };
    if neg { format!("-{body}") } else { body }
}

/// JUnit XML for a run (`--junit FILE`), one suite per file, one case per test group.
pub fn junit_xml(reports: &[(String, FileReport)]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (file, r) in reports {
        let failures = r.groups.iter().filter(|(_, e)| !e.is_empty()).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">\n",
            esc(file),
            r.groups.len()
        ));
        for (name, errs) in &r.groups {
            if errs.is_empty() {
                out.push_str(&format!("    <testcase name=\"{}\"></testcase>\n", esc(name)));
            } else {
                out.push_str(&format!(
                    "    <testcase name=\"{}\"><failure>{}</failure></testcase>\n",
                    esc(name),
                    esc(&errs.join("\n"))
                ));
            }
        }
        if r.groups.is_empty() && !r.errors.is_empty() {
            out.push_str(&format!("    <error>{}</error>\n", esc(&r.errors.join("\n"))));
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn go_formats() {
        assert_eq!(go_float_e(1.0), "1E+00");
        assert_eq!(go_float_e(0.0), "0E+00");
        assert_eq!(go_float_e(2.5e-7), "2.5E-07");
        assert_eq!(go_float_e(1234.5), "1.2345E+03");
        assert_eq!(go_float_e(3e100), "3E+100");
        assert_eq!(model_duration(0), "0s");
        assert_eq!(model_duration(300_000), "5m");
        assert_eq!(model_duration(86_400_000), "1d");
        assert_eq!(model_duration(14 * 86_400_000), "2w");
        assert_eq!(model_duration(106_700 * 86_400_000), "106700d");
        assert_eq!(model_duration(179_999), "2m59s999ms");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(3_600_000), "1h0m0s");
        assert_eq!(go_duration(1_500), "1.5s");
        assert_eq!(go_duration(100), "100ms");
    }

    #[test]
    fn fuzzy_compare_allows_one_ulp() {
        assert!(float_eq(3.0, 2.9999999999999996, true));
        assert!(float_eq(3.0, 3.0000000000000004, true));
        assert!(!float_eq(3.0, 2.9999999999999987, true));
        assert!(!float_eq(3.0, 3.0000000000000004, false));
        assert!(float_eq(f64::NAN, f64::NAN, false));
    }
}
