//! The rule manager: every applied rule group evaluated on its own clock
//! against the TSDB (on blocking threads), results written back and
//! remote-written, alert states kept across reloads and restored after a
//! restart from `ALERTS_FOR_STATE`; snapshots for the API and the UI.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_rules::eval::{GroupState, RuleEnv, Settings};
use andon_rules::file::{Group, RuleFile};
use andon_series::{Labels, Querier};
use andon_tsdb::Tsdb;

use crate::time::now_ms;

/// How long after a restart `for` state may still be restored (Prometheus: 1h).
const OUTAGE_TOLERANCE_MS: i64 = 3_600_000;
/// The least time a restored pending alert waits before firing (Prometheus: 10m).
const FOR_GRACE_MS: i64 = 600_000;

/// One group as the manager runs it.
struct Running {
    /// The source (a `PrometheusRule` resource) it came from.
    source: String,
    state: Arc<Mutex<GroupState>>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// Runs rule groups.
pub struct RuleManager {
    db: Arc<Tsdb>,
    query: andon_promql::Options,
    default_interval: Duration,
    settings: Settings,
    senders: Arc<[Arc<crate::remote::Sender>]>,
    /// By (source, group name).
    groups: Mutex<BTreeMap<(String, String), Running>>,
    /// Where alerts that fire or resolve are reported, once someone listens.
    events: Arc<Mutex<Option<tokio::sync::mpsc::UnboundedSender<AlertEvent>>>>,
    /// Where firing and resolved alerts go after every evaluation (the notifier), once set.
    outgoing:
        Arc<Mutex<Option<tokio::sync::mpsc::UnboundedSender<Vec<andon_alertmanager::Alert>>>>>,
}

/// An alert that started firing or was resolved.
#[derive(Clone, Debug)]
pub struct AlertEvent {
    /// The rule source (`namespace/name` of a PrometheusRule, `slo/…`, `andon/defaults`).
    pub source: String,
    pub group: String,
    pub transition: andon_rules::Transition,
}

/// The rule environment over the TSDB: each rule's output is one commit,
/// then queued for every remote-write endpoint.
pub struct TsdbEnv<'a> {
    pub db: &'a Tsdb,
    pub opts: &'a andon_promql::Options,
    pub senders: &'a [Arc<crate::remote::Sender>],
}

impl RuleEnv for TsdbEnv<'_> {
    fn querier(&self) -> &dyn Querier {
        self.db
    }
    fn options(&self) -> &andon_promql::Options {
        self.opts
    }
    fn append(&mut self, samples: &[(Labels, i64, f64)]) -> Result<(), String> {
        if samples.is_empty() {
            return Ok(());
        }
        let mut app = self.db.appender();
        for (l, t, v) in samples {
            app.append(l, *t, *v).map_err(|e| e.to_string())?;
        }
        app.commit().map_err(|e| e.to_string())?;
        for s in self.senders {
            s.enqueue(samples);
        }
        Ok(())
    }
}

/// A consistent copy of one group for the API and the UI.
pub struct GroupSnapshot {
    pub source: String,
    pub group: Arc<Group>,
    pub interval_ms: i64,
    pub rules: Vec<RuleSnapshot>,
    pub last_evaluation: Option<i64>,
    pub evaluation_seconds: f64,
}

pub struct RuleSnapshot {
    pub rule: andon_rules::Rule,
    pub health: andon_rules::Health,
    pub alerts: Vec<andon_rules::Alert>,
}

impl RuleManager {
    pub(crate) fn new(
        db: Arc<Tsdb>,
        query: andon_promql::Options,
        default_interval: Duration,
        settings: Settings,
        senders: Arc<[Arc<crate::remote::Sender>]>,
    ) -> Self {
        RuleManager {
            db,
            query,
            default_interval,
            settings,
            senders,
            groups: Mutex::new(BTreeMap::new()),
            events: Arc::new(Mutex::new(None)),
            outgoing: Arc::new(Mutex::new(None)),
        }
    }

    /// Starts handing firing and resolved alerts, after every evaluation, to the receiver
    /// (as Prometheus sends them to Alertmanager: `endsAt` a few intervals ahead while
    /// firing, the resolve time once resolved; external labels added).
    pub fn subscribe_alerts(
        &self,
    ) -> tokio::sync::mpsc::UnboundedReceiver<Vec<andon_alertmanager::Alert>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if let Ok(mut o) = self.outgoing.lock() {
            *o = Some(tx);
        }
        rx
    }

    /// Replaces the groups of `source` with `file`'s (`None` removes them).
    /// A group whose rules are unchanged keeps running untouched; a changed
    /// group restarts and takes over the alert state of its unchanged rules.
    pub fn set_source(&self, source: &str, file: Option<RuleFile>) {
        let Ok(mut groups) = self.groups.lock() else { return };
        let new_groups = file.map(|f| f.groups).unwrap_or_default();
        let keys: Vec<(String, String)> =
            groups.keys().filter(|(s, _)| s == source).cloned().collect();
        let mut old: BTreeMap<String, Running> = BTreeMap::new();
        for k in keys {
            if let Some(r) = groups.remove(&k) {
                old.insert(k.1, r);
            }
        }
        for g in new_groups {
            let name = g.name.clone();
            if let Some(prev) = old.remove(&name) {
                let same = prev.state.lock().is_ok_and(|s| same_group(&s.group, &g));
                if same {
                    groups.insert((source.to_string(), name), prev);
                    continue;
                }
                let _ = prev.stop.send(true);
                let mut state = GroupState::new(Arc::new(g));
                if let Ok(mut p) = prev.state.lock() {
                    state.copy_state(&mut p);
                }
                groups.insert((source.to_string(), name), self.start(source, state));
            } else {
                let state = GroupState::new(Arc::new(g));
                groups.insert((source.to_string(), name), self.start(source, state));
            }
        }
        for (_, r) in old {
            let _ = r.stop.send(true);
        }
    }

    /// Starts reporting alerts that fire or resolve; the receiver gets them in order.
    pub fn subscribe(&self) -> tokio::sync::mpsc::UnboundedReceiver<AlertEvent> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if let Ok(mut e) = self.events.lock() {
            *e = Some(tx);
        }
        rx
    }

    fn interval_of(&self, g: &Group) -> i64 {
        g.interval_ms.unwrap_or(self.default_interval.as_millis() as i64).max(1)
    }

    fn start(&self, source: &str, state: GroupState) -> Running {
        let interval = self.interval_of(&state.group);
        let offset = group_offset(source, &state.group.name, interval);
        let state = Arc::new(Mutex::new(state));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let shared = state.clone();
        let db = self.db.clone();
        let query = self.query.clone();
        let settings = self.settings.clone();
        let senders = self.senders.clone();
        let events = self.events.clone();
        let outgoing = self.outgoing.clone();
        let source_name = source.to_string();
        tokio::spawn(async move {
            let mut first = true;
            loop {
                // Evaluate at the group's slot: a multiple of the interval plus a fixed offset.
                let now = now_ms();
                let next = (now - offset).div_euclid(interval) * interval + offset + interval;
                let wait = Duration::from_millis((next - now).max(0) as u64);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stopped.changed() => return,
                }
                if *stopped.borrow() {
                    return;
                }
                let (shared, db, query, settings, senders, events, outgoing, source_name) = (
                    shared.clone(),
                    db.clone(),
                    query.clone(),
                    settings.clone(),
                    senders.clone(),
                    events.clone(),
                    outgoing.clone(),
                    source_name.clone(),
                );
                let restore = first;
                first = false;
                let done = tokio::task::spawn_blocking(move || {
                    let Ok(mut g) = shared.lock() else { return };
                    let mut env = TsdbEnv { db: &db, opts: &query, senders: &senders };
                    g.eval(next, &mut env, &settings);
                    if restore {
                        g.restore_for_state(&*db, next, OUTAGE_TOLERANCE_MS, FOR_GRACE_MS);
                    }
                    if let Ok(tx) = outgoing.lock()
                        && let Some(tx) = tx.as_ref()
                    {
                        let out = to_send(&mut g, next, interval, &settings);
                        if !out.is_empty() {
                            let _ = tx.send(out);
                        }
                    }
                    let transitions = g.take_transitions();
                    if let Ok(tx) = events.lock()
                        && let Some(tx) = tx.as_ref()
                    {
                        for t in transitions {
                            let _ = tx.send(AlertEvent {
                                source: source_name.clone(),
                                group: g.group.name.clone(),
                                transition: t,
                            });
                        }
                    }
                })
                .await;
                if done.is_err() {
                    tracing::error!("rule evaluation task failed");
                }
            }
        });
        Running { source: source.to_string(), state, stop }
    }

    /// Every group with its rules' health and alerts.
    pub fn snapshot(&self) -> Vec<GroupSnapshot> {
        let Ok(groups) = self.groups.lock() else { return Vec::new() };
        groups
            .values()
            .filter_map(|r| {
                let g = r.state.lock().ok()?;
                Some(GroupSnapshot {
                    source: r.source.clone(),
                    group: g.group.clone(),
                    interval_ms: self.interval_of(&g.group),
                    rules: g
                        .rules
                        .iter()
                        .map(|rs| RuleSnapshot {
                            rule: rs.rule.clone(),
                            health: rs.health.clone(),
                            alerts: rs.active.values().cloned().collect(),
                        })
                        .collect(),
                    last_evaluation: g.last_evaluation,
                    evaluation_seconds: g.evaluation_seconds,
                })
            })
            .collect()
    }

    /// Stops every group.
    pub fn stop_all(&self) {
        if let Ok(mut groups) = self.groups.lock() {
            for (_, r) in std::mem::take(&mut *groups) {
                let _ = r.stop.send(true);
            }
        }
    }
}

fn same_group(a: &Group, b: &Group) -> bool {
    a.interval_ms == b.interval_ms
        && a.query_offset_ms == b.query_offset_ms
        && a.limit == b.limit
        && a.labels == b.labels
        && a.rules.len() == b.rules.len()
        && a.rules.iter().zip(&b.rules).all(|(x, y)| {
            x.kind == y.kind
                && x.name == y.name
                && x.expr_text == y.expr_text
                && x.for_ms == y.for_ms
                && x.keep_firing_for_ms == y.keep_firing_for_ms
                && x.labels == y.labels
                && x.annotations == y.annotations
        })
}

/// A stable offset within the interval, so groups spread their evaluations.
fn group_offset(source: &str, name: &str, interval: i64) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in source.bytes().chain([0]).chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % interval.max(1) as u64) as i64
}

/// A float as Go's `strconv.FormatFloat(v, 'e', -1, 64)`, the API's alert value format.
pub fn go_float_e_lower(v: f64) -> String {
    andon_template::go_format_float(v, b'e')
}

/// How often a firing alert is handed to the notifier again (Prometheus's
/// `--rules.alert.resend-delay`).
const RESEND_DELAY_MS: i64 = 60_000;

/// The alerts of a group to hand to the notifier after an evaluation at `ts`, when
/// due: firing ones valid for four intervals (at least four minutes), resolved ones with
/// their resolve time, external labels added, like Prometheus's sending to Alertmanager.
fn to_send(
    g: &mut GroupState,
    ts: i64,
    interval: i64,
    settings: &Settings,
) -> Vec<andon_alertmanager::Alert> {
    let valid_for = 4 * interval.max(RESEND_DELAY_MS);
    g.alerts_to_send(ts, RESEND_DELAY_MS)
        .into_iter()
        .map(|(rule, a)| {
            let ends_at = match a.state {
                andon_rules::AlertState::Inactive => a.resolved_at.unwrap_or(ts),
                _ => ts + valid_for,
            };
            let mut labels: andon_alertmanager::LabelSet =
                a.labels.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect();
            for (k, v) in &settings.external_labels {
                labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
            andon_alertmanager::Alert {
                labels,
                annotations: a.annotations.into_iter().collect(),
                starts_at: Some(a.fired_at.unwrap_or(a.active_at)),
                ends_at: Some(ends_at),
                generator_url: format!(
                    "{}/ui/metrics?expr={}",
                    settings.external_url.trim_end_matches('/'),
                    andon_core::url::encode_component(&rule.expr_text)
                ),
                ..andon_alertmanager::Alert::default()
            }
        })
        .collect()
}
