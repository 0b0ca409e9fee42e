//! Rule group evaluation with Prometheus's semantics: recording rules write
//! their result under the record name, alerting rules move alerts through
//! pending → firing → inactive (`for`, `keep_firing_for`, 15 minutes of
//! resolved retention) and write `ALERTS` / `ALERTS_FOR_STATE`; series a rule
//! stops returning get a staleness marker; `for` state is restored after a
//! restart from `ALERTS_FOR_STATE`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use andon_promql::{Options, QueryError, Value as PValue, Vector};
use andon_series::{Labels, Matcher, Querier, is_stale_nan, stale_nan};
use andon_template::{Host, QuerySample};

use crate::file::{Group, Rule, RuleKind};

/// How long a resolved alert is still reported (Prometheus: 15 minutes).
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// The state of one alert instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert instance of an alerting rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// The result's labels without `__name__`, plus the rule's (expanded) labels and `alertname`.
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub state: AlertState,
    pub value: f64,
    /// When the condition first held (ms).
    pub active_at: i64,
    pub fired_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub keep_firing_since: Option<i64>,
    /// When it was last handed to the notifier.
    pub last_sent_at: Option<i64>,
    /// The latest evaluation it was seen in (ms).
    pub valid_until: i64,
}

/// An alert that started firing or was resolved in an evaluation (alert history).
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub alertname: String,
    /// `Firing` or `Inactive` (resolved).
    pub state: AlertState,
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub active_at: i64,
    /// The evaluation it happened at (ms).
    pub at: i64,
    pub value: f64,
}

/// A rule's last evaluation outcome.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Health {
    pub last_error: Option<String>,
    /// When it last ran (ms), and how long it took (seconds).
    pub last_evaluation: Option<i64>,
    pub evaluation_seconds: f64,
}

/// What the evaluator needs from its surroundings: data to query, somewhere to
/// write results.
pub trait RuleEnv {
    fn querier(&self) -> &dyn Querier;
    fn options(&self) -> &Options;
    /// Writes one rule's output (and staleness markers) at once.
    fn append(&mut self, samples: &[(Labels, i64, f64)]) -> Result<(), String>;
}

/// A rule environment in memory (unit tests of rules, `promtool test rules`).
pub struct MemEnv {
    pub store: andon_series::MemStorage,
    pub opts: Options,
}

impl RuleEnv for MemEnv {
    fn querier(&self) -> &dyn Querier {
        &self.store
    }
    fn options(&self) -> &Options {
        &self.opts
    }
    fn append(&mut self, samples: &[(Labels, i64, f64)]) -> Result<(), String> {
        for (l, t, v) in samples {
            self.store.append(l, *t, *v);
        }
        Ok(())
    }
}

/// Where alerts are expanded: external labels and URL for templates.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub external_labels: BTreeMap<String, String>,
    pub external_url: String,
}

/// The live state of one rule.
#[derive(Debug)]
pub struct RuleState {
    pub rule: Rule,
    pub health: Health,
    /// Alerting rules: active alerts by label fingerprint.
    pub active: HashMap<u64, Alert>,
    /// Whether `ALERTS`/`ALERTS_FOR_STATE` may be written (after restoring `for` state).
    pub restored: bool,
    previous_series: HashSet<Labels>,
    /// Parsed label and annotation templates, by text (parsed once, run per alert).
    templates: TemplateCache,
}

#[derive(Default)]
struct TemplateCache(HashMap<String, Result<andon_template::Template, String>>);

impl std::fmt::Debug for TemplateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} templates", self.0.len())
    }
}

/// A rule group being evaluated.
#[derive(Debug)]
pub struct GroupState {
    pub group: Arc<Group>,
    pub rules: Vec<RuleState>,
    pub last_evaluation: Option<i64>,
    pub evaluation_seconds: f64,
    /// Alerts that fired or resolved since the last [`GroupState::take_transitions`].
    transitions: Vec<Transition>,
}

/// The host templates see: `query` runs against the rule environment at the evaluation time.
struct TemplateHost<'a> {
    querier: &'a dyn Querier,
    opts: &'a Options,
    t: i64,
    external_url: &'a str,
}

impl Host for TemplateHost<'_> {
    fn query(&self, expr: &str) -> Result<Vec<QuerySample>, String> {
        let e = andon_promql::parse(expr).map_err(|e| e.message)?;
        let out = andon_promql::instant_query(self.querier, &e, self.t, self.opts)
            .map_err(|e| e.message)?;
        Ok(match out.value {
            PValue::Vector(v) => v
                .into_iter()
                .map(|s| QuerySample {
                    labels: s
                        .labels
                        .iter()
                        .map(|l| (l.name.to_string(), l.value.to_string()))
                        .collect(),
                    value: s.v,
                })
                .collect(),
            PValue::Scalar(v) => vec![QuerySample { labels: BTreeMap::new(), value: v }],
            _ => return Err("query result is neither a vector nor a scalar".into()),
        })
    }
    fn external_url(&self) -> &str {
        self.external_url
    }
    fn path_prefix(&self) -> &str {
        ""
    }
    fn now(&self) -> f64 {
        self.t as f64 / 1000.0
    }
}

/// Runs an expression at `t` and returns an instant vector (a scalar becomes one unlabelled sample).
pub fn query_vector(
    q: &dyn Querier,
    expr: &andon_promql::Expr,
    t: i64,
    opts: &Options,
) -> Result<Vector, QueryError> {
    let out = andon_promql::instant_query(q, expr, t, opts)?;
    match out.value {
        PValue::Vector(v) => Ok(v),
        PValue::Scalar(v) => {
            Ok(vec![andon_promql::Sample { labels: Labels::empty(), t, v, drop_name: false }])
        }
        _ => Err(QueryError {
            kind: andon_promql::ErrorKind::Execution,
            message: "rule result is not a vector or scalar".into(),
        }),
    }
}

impl GroupState {
    pub fn new(group: Arc<Group>) -> Self {
        let rules = group
            .rules
            .iter()
            .map(|r| RuleState {
                rule: r.clone(),
                health: Health::default(),
                active: HashMap::new(),
                restored: false,
                previous_series: HashSet::new(),
                templates: TemplateCache::default(),
            })
            .collect();
        GroupState {
            group,
            rules,
            last_evaluation: None,
            evaluation_seconds: 0.0,
            transitions: Vec::new(),
        }
    }

    /// Marks every alerting rule restored, so `ALERTS` is written from the first
    /// evaluation (unit tests, or when there is nothing to restore).
    pub fn set_restored(&mut self) {
        for r in &mut self.rules {
            r.restored = true;
        }
    }

    /// Takes over the alert states and staleness bookkeeping of rules that
    /// exist, unchanged in name, labels and kind, in `old` (a reload).
    pub fn copy_state(&mut self, old: &mut GroupState) {
        for r in &mut self.rules {
            if let Some(o) = old.rules.iter_mut().find(|o| {
                o.rule.name == r.rule.name
                    && o.rule.labels == r.rule.labels
                    && o.rule.kind == r.rule.kind
            }) {
                r.active = std::mem::take(&mut o.active);
                r.previous_series = std::mem::take(&mut o.previous_series);
                r.restored = o.restored;
                r.health = o.health.clone();
            }
        }
    }

    /// Evaluates every rule at `ts` (ms), in order; each rule's output is
    /// appended before the next rule runs, so later rules see earlier ones.
    pub fn eval(&mut self, ts: i64, env: &mut dyn RuleEnv, settings: &Settings) {
        let started = std::time::Instant::now();
        let offset = self.group.query_offset_ms.unwrap_or(0);
        let limit = self.group.limit;
        for rs in &mut self.rules {
            let rule_started = std::time::Instant::now();
            let result = match rs.rule.kind {
                RuleKind::Recording => eval_recording(rs, ts - offset, env, limit),
                RuleKind::Alerting => {
                    eval_alerting(rs, ts, offset, env, settings, limit, &mut self.transitions)
                }
            };
            rs.health.last_evaluation = Some(ts);
            rs.health.evaluation_seconds = rule_started.elapsed().as_secs_f64();
            match result {
                Err(e) => rs.health.last_error = Some(e),
                Ok(samples) => {
                    rs.health.last_error = None;
                    let mut returned = HashSet::with_capacity(samples.len());
                    for (l, _, _) in &samples {
                        returned.insert(l.clone());
                    }
                    let mut out = samples;
                    for gone in rs.previous_series.difference(&returned) {
                        out.push((gone.clone(), ts - offset, stale_nan()));
                    }
                    match env.append(&out) {
                        Ok(()) => rs.previous_series = returned,
                        Err(e) => rs.health.last_error = Some(e),
                    }
                }
            }
        }
        self.last_evaluation = Some(ts);
        self.evaluation_seconds = started.elapsed().as_secs_f64();
    }

    /// Restores `for` timers from `ALERTS_FOR_STATE` after a restart, like
    /// Prometheus: only alerts active again at `ts` are touched; the time they
    /// spent pending before the outage counts, and at least `grace_ms` is left
    /// before one fires.
    pub fn restore_for_state(
        &mut self,
        q: &dyn Querier,
        ts: i64,
        outage_tolerance_ms: i64,
        grace_ms: i64,
    ) {
        for rs in &mut self.rules {
            if rs.rule.kind != RuleKind::Alerting || rs.restored {
                continue;
            }
            rs.restored = true;
            let hold = rs.rule.for_ms;
            if hold < grace_ms {
                continue;
            }
            let mut matchers = vec![
                Matcher::equal("__name__", "ALERTS_FOR_STATE"),
                Matcher::equal("alertname", rs.rule.name.clone()),
            ];
            for (k, v) in &rs.rule.labels {
                if !v.contains("{{") {
                    matchers.push(Matcher::equal(k.clone(), v.clone()));
                }
            }
            let Ok(series) = q.select(&matchers, ts - outage_tolerance_ms, ts) else { continue };
            let by_labels: HashMap<Labels, (i64, f64)> = series
                .into_iter()
                .filter_map(|s| {
                    let last = s.samples.last()?;
                    Some((s.labels.without_name(), (last.t, last.v)))
                })
                .collect();
            for a in rs.active.values_mut() {
                let Some(&(down_at, v)) = by_labels.get(&a.labels) else { continue };
                if is_stale_nan(v) {
                    continue;
                }
                let down_at = down_at / 1000 * 1000;
                let mut active_at = (v as i64) * 1000;
                let remaining = hold - (down_at - active_at);
                if remaining <= 0 {
                    // It was firing: it fires again at the next evaluation.
                } else if remaining < grace_ms {
                    active_at = ts + grace_ms - hold;
                } else {
                    active_at += ts - down_at;
                }
                a.active_at = active_at;
            }
        }
    }

    /// The alerts that fired or resolved since the last call, oldest first.
    pub fn take_transitions(&mut self) -> Vec<Transition> {
        std::mem::take(&mut self.transitions)
    }

    /// The alerts due to go to the notifier at `ts`, as Prometheus decides: never a
    /// pending one; a resolved one once after it resolved; a firing one when it was not
    /// sent within `resend_delay_ms`. Marks them sent.
    pub fn alerts_to_send(&mut self, ts: i64, resend_delay_ms: i64) -> Vec<(&Rule, Alert)> {
        let mut due = Vec::new();
        for (i, r) in self.rules.iter_mut().enumerate() {
            for a in r.active.values_mut() {
                let send = match a.state {
                    AlertState::Pending => false,
                    _ if a
                        .resolved_at
                        .is_some_and(|res| a.last_sent_at.is_none_or(|s| res > s)) =>
                    {
                        true
                    }
                    _ => a.last_sent_at.is_none_or(|s| s + resend_delay_ms <= ts),
                };
                if send {
                    a.last_sent_at = Some(ts);
                    due.push((i, a.clone()));
                }
            }
        }
        due.into_iter().map(|(i, a)| (&self.rules[i].rule, a)).collect()
    }

    /// Every alert of every alerting rule (not inactive unless still retained).
    pub fn alerts(&self) -> impl Iterator<Item = (&Rule, &Alert)> {
        self.rules.iter().flat_map(|r| r.active.values().map(move |a| (&r.rule, a)))
    }
}

fn transition(alertname: &str, a: &Alert, state: AlertState, at: i64) -> Transition {
    Transition {
        alertname: alertname.to_string(),
        state,
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        active_at: a.active_at,
        at,
        value: a.value,
    }
}

fn eval_recording(
    rs: &mut RuleState,
    t: i64,
    env: &mut dyn RuleEnv,
    limit: usize,
) -> Result<Vec<(Labels, i64, f64)>, String> {
    let vector =
        query_vector(env.querier(), &rs.rule.expr, t, env.options()).map_err(|e| e.message)?;
    let mut out = Vec::with_capacity(vector.len());
    let mut seen = HashSet::with_capacity(vector.len());
    for s in vector {
        let mut labels = s.labels.with("__name__", &rs.rule.name);
        for (k, v) in &rs.rule.labels {
            labels.set(k, v);
        }
        if !seen.insert(labels.clone()) {
            return Err(
                "vector contains metrics with the same labelset after applying rule labels".into(),
            );
        }
        out.push((labels, t, s.v));
    }
    if limit > 0 && out.len() > limit {
        return Err(format!("exceeded limit of {limit} with {} series", out.len()));
    }
    Ok(out)
}

fn eval_alerting(
    rs: &mut RuleState,
    ts: i64,
    offset: i64,
    env: &mut dyn RuleEnv,
    settings: &Settings,
    limit: usize,
    transitions: &mut Vec<Transition>,
) -> Result<Vec<(Labels, i64, f64)>, String> {
    let t = ts - offset;
    let rule = &rs.rule;
    let vector =
        query_vector(env.querier(), &rule.expr, t, env.options()).map_err(|e| e.message)?;
    let host = TemplateHost {
        querier: env.querier(),
        opts: env.options(),
        t: ts,
        external_url: &settings.external_url,
    };
    let tmpl_name = format!("__alert_{}", rule.name);
    let cache = &mut rs.templates.0;
    for text in rule.labels.values().chain(rule.annotations.values()) {
        if text.contains("{{") && !cache.contains_key(text) {
            let parsed = andon_template::parse_alert(&tmpl_name, text).map_err(|e| e.to_string());
            cache.insert(text.clone(), parsed);
        }
    }
    let cache = &rs.templates.0;
    let mut fresh: HashMap<u64, Alert> = HashMap::with_capacity(vector.len());
    for s in &vector {
        // Templates see the labels as a map; rules without templates skip building it.
        let sample_labels: BTreeMap<String, String> = if cache.is_empty() {
            BTreeMap::new()
        } else {
            s.labels.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect()
        };
        let expand = |text: &str| {
            let Some(parsed) = cache.get(text) else { return text.to_string() };
            let result = match parsed {
                Ok(t) => andon_template::execute_alert(
                    t,
                    &sample_labels,
                    &settings.external_labels,
                    &settings.external_url,
                    s.v,
                    &host,
                )
                .map_err(|e| e.to_string()),
                Err(e) => Err(e.clone()),
            };
            result.unwrap_or_else(|e| format!("<error expanding template: {e}>"))
        };
        let mut lab = s.labels.without_name();
        for (k, v) in &rule.labels {
            lab.set(k, &expand(v));
        }
        lab.set("alertname", &rule.name);
        let annotations = rule.annotations.iter().map(|(k, v)| (k.clone(), expand(v))).collect();
        let fp = lab.fingerprint();
        if fresh.contains_key(&fp) {
            return Err(
                "vector contains metrics with the same labelset after applying alert labels".into(),
            );
        }
        fresh.insert(
            fp,
            Alert {
                labels: lab,
                annotations,
                state: AlertState::Pending,
                value: s.v,
                active_at: ts,
                fired_at: None,
                resolved_at: None,
                keep_firing_since: None,
                last_sent_at: None,
                valid_until: ts,
            },
        );
    }
    let present: HashSet<u64> = fresh.keys().copied().collect();
    for (fp, a) in fresh {
        match rs.active.get_mut(&fp) {
            Some(old) if old.state != AlertState::Inactive => {
                old.value = a.value;
                old.annotations = a.annotations;
                old.valid_until = ts;
            }
            _ => {
                rs.active.insert(fp, a);
            }
        }
    }
    let hold = rule.for_ms;
    let keep = rule.keep_firing_for_ms;
    let mut out = Vec::new();
    let mut active_count = 0usize;
    let mut remove = Vec::new();
    for (fp, a) in rs.active.iter_mut() {
        if !present.contains(fp) {
            let mut keep_firing = false;
            if a.state == AlertState::Firing && keep > 0 {
                let since = *a.keep_firing_since.get_or_insert(ts);
                keep_firing = ts - since < keep;
            }
            if a.state == AlertState::Pending
                || a.resolved_at.is_some_and(|r| ts - r > RESOLVED_RETENTION_MS)
            {
                remove.push(*fp);
            }
            if a.state != AlertState::Inactive && !keep_firing {
                if a.state == AlertState::Firing {
                    transitions.push(transition(&rule.name, a, AlertState::Inactive, ts));
                }
                a.state = AlertState::Inactive;
                a.resolved_at = Some(ts);
            }
            if !keep_firing {
                continue;
            }
        } else {
            a.keep_firing_since = None;
        }
        active_count += 1;
        if a.state == AlertState::Pending && ts - a.active_at >= hold {
            a.state = AlertState::Firing;
            a.fired_at = Some(ts);
            transitions.push(transition(&rule.name, a, AlertState::Firing, ts));
        }
        if a.state == AlertState::Firing && ts - a.active_at < hold {
            a.state = AlertState::Pending;
            a.fired_at = None;
            a.last_sent_at = None;
            a.keep_firing_since = None;
        }
        if rs.restored {
            let mut alerts = a.labels.clone();
            for (k, v) in &rule.labels {
                if alerts.get(k).is_none() {
                    alerts.set(k, v);
                }
            }
            let mut for_state = alerts.with("__name__", "ALERTS_FOR_STATE");
            for_state.set("alertname", &rule.name);
            alerts.set("__name__", "ALERTS");
            alerts.set("alertstate", a.state.as_str());
            out.push((alerts, t, 1.0));
            out.push((for_state, t, (a.active_at / 1000) as f64));
        }
    }
    for fp in remove {
        rs.active.remove(&fp);
    }
    if limit > 0 && active_count > limit {
        rs.active.clear();
        return Err(format!("exceeded limit of {limit} with {active_count} alerts"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use andon_series::MemStorage;

    type Env = MemEnv;

    fn group(text: &str) -> GroupState {
        let f = crate::file::parse(text.as_bytes(), "t.yml", Default::default()).unwrap();
        let mut g = GroupState::new(Arc::new(f.groups[0].clone()));
        g.set_restored();
        g
    }

    fn state_at(g: &GroupState) -> Vec<&'static str> {
        let mut v: Vec<_> = g.alerts().map(|(_, a)| a.state.as_str()).collect();
        v.sort();
        v
    }

    #[test]
    fn pending_then_firing_then_resolved() {
        let mut g = group(
            "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 2m\n",
        );
        let mut env = Env { store: MemStorage::new(), opts: Options::default() };
        let up = Labels::from_pairs(&[("__name__", "up"), ("job", "a")]);
        let s = Settings::default();
        for (i, v) in [0.0, 0.0, 0.0, 0.0, 1.0].iter().enumerate() {
            env.store.append(&up, i as i64 * 60_000, *v);
        }
        g.eval(0, &mut env, &s);
        assert_eq!(state_at(&g), ["pending"]);
        g.eval(60_000, &mut env, &s);
        assert_eq!(state_at(&g), ["pending"]);
        g.eval(120_000, &mut env, &s);
        assert_eq!(state_at(&g), ["firing"]);
        g.eval(240_000, &mut env, &s);
        assert_eq!(state_at(&g), ["inactive"]);
        let history: Vec<(AlertState, i64)> =
            g.take_transitions().iter().map(|t| (t.state, t.at)).collect();
        assert_eq!(history, [(AlertState::Firing, 120_000), (AlertState::Inactive, 240_000)]);
        assert!(g.take_transitions().is_empty());
        // Resolved: sent once, then not again.
        assert_eq!(g.alerts_to_send(240_000, 60_000).len(), 1);
        assert!(g.alerts_to_send(250_000, 60_000).is_empty());
        // ALERTS went firing, then stale.
        let alerts = env
            .store
            .select(
                &[Matcher::equal("__name__", "ALERTS"), Matcher::equal("alertstate", "firing")],
                0,
                300_000,
            )
            .unwrap();
        assert_eq!(alerts.len(), 1);
        let last = alerts[0].samples.last().unwrap();
        assert!(is_stale_nan(last.v) && last.t == 240_000, "{:?}", alerts[0].samples);
    }

    #[test]
    fn firing_alerts_are_resent_after_the_delay_only() {
        let mut g = group(
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: vector(1)\n  - alert: P\n    expr: vector(1)\n    for: 1h\n",
        );
        let mut env = Env { store: MemStorage::new(), opts: Options::default() };
        let s = Settings::default();
        g.eval(0, &mut env, &s);
        // The pending one is never sent; the firing one now, then after a minute.
        let names =
            |v: Vec<(&Rule, Alert)>| v.iter().map(|(r, _)| r.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(g.alerts_to_send(0, 60_000)), ["A"]);
        assert!(g.alerts_to_send(15_000, 60_000).is_empty());
        assert_eq!(names(g.alerts_to_send(60_000, 60_000)), ["A"]);
    }

    #[test]
    fn keep_firing_for_holds_a_firing_alert() {
        let mut g = group(
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    keep_firing_for: 2m\n",
        );
        let mut env = Env { store: MemStorage::new(), opts: Options::default() };
        let up = Labels::from_pairs(&[("__name__", "up")]);
        let s = Settings::default();
        env.store.append(&up, 0, 0.0);
        env.store.append(&up, 60_000, 1.0);
        g.eval(0, &mut env, &s);
        assert_eq!(state_at(&g), ["firing"]);
        g.eval(60_000, &mut env, &s);
        assert_eq!(state_at(&g), ["firing"]);
        g.eval(120_000, &mut env, &s);
        assert_eq!(state_at(&g), ["firing"]);
        g.eval(180_000, &mut env, &s);
        assert_eq!(state_at(&g), ["inactive"]);
    }

    #[test]
    fn recording_rules_chain_and_go_stale() {
        let mut g = group(
            "groups:\n- name: g\n  rules:\n  - record: a\n    expr: up * 2\n  - record: b\n    expr: a + 1\n",
        );
        let mut env = Env { store: MemStorage::new(), opts: Options::default() };
        let up = Labels::from_pairs(&[("__name__", "up"), ("i", "1")]);
        env.store.append(&up, 0, 3.0);
        let s = Settings::default();
        g.eval(0, &mut env, &s);
        let b = env.store.select(&[Matcher::equal("__name__", "b")], 0, 0).unwrap();
        assert_eq!(b[0].samples[0].v, 7.0);
        env.store.append(&up, 60_000, stale_nan());
        g.eval(60_000, &mut env, &s);
        let b = env.store.select(&[Matcher::equal("__name__", "b")], 0, 60_000).unwrap();
        assert!(is_stale_nan(b[0].samples[1].v));
    }

    #[test]
    fn errors_are_recorded_per_rule() {
        let mut g =
            group("groups:\n- name: g\n  limit: 1\n  rules:\n  - record: a\n    expr: up\n");
        let mut env = Env { store: MemStorage::new(), opts: Options::default() };
        env.store.append(&Labels::from_pairs(&[("__name__", "up"), ("i", "1")]), 0, 1.0);
        env.store.append(&Labels::from_pairs(&[("__name__", "up"), ("i", "2")]), 0, 1.0);
        g.eval(0, &mut env, &Settings::default());
        assert_eq!(
            g.rules[0].health.last_error.as_deref(),
            Some("exceeded limit of 1 with 2 series")
        );
    }

    #[test]
    fn for_state_is_restored() {
        let text = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 30m\n";
        let mut env = Env { store: MemStorage::new(), opts: Options::default() };
        let up = Labels::from_pairs(&[("__name__", "up")]);
        for i in 0..=60 {
            env.store.append(&up, i * 60_000, 0.0);
        }
        let s = Settings::default();
        let mut g = group(text);
        for i in 0..=10 {
            g.eval(i * 60_000, &mut env, &s);
        }
        assert_eq!(state_at(&g), ["pending"]);
        // A restart 5 minutes later: a new group state, first evaluation, then restore.
        let f = crate::file::parse(text.as_bytes(), "t.yml", Default::default()).unwrap();
        let mut g2 = GroupState::new(Arc::new(f.groups[0].clone()));
        g2.eval(15 * 60_000, &mut env, &s);
        g2.restore_for_state(&env.store, 15 * 60_000, 3_600_000, 600_000);
        let a = g2.alerts().next().unwrap().1.clone();
        // Active since 0, down from 10m to 15m: the 5 minutes down are added.
        assert_eq!(a.active_at, 5 * 60_000);
        g2.eval(34 * 60_000, &mut env, &s);
        assert_eq!(state_at(&g2), ["pending"]);
        g2.eval(35 * 60_000, &mut env, &s);
        assert_eq!(state_at(&g2), ["firing"]);
    }
}
