//! The rollout controller's shell: one task per Service runs
//! `andon_delivery::rollout::State` against what the supervisor reports, journals each
//! decision (and the state itself) before carrying it out, then sets the router's
//! weights and header routes first and the supervisor's instances per revision second,
//! starts and stops analysis runs, and serves the preview address. After a crash the
//! last journaled state is read back: the rollout continues from its recorded step with
//! the same weights.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_core::{NewEvent, ObjectRef};
use andon_delivery::rollout::{Command, Counts, Input, Plan, RunKey, RunPhase, State};
use andon_router::{HeaderRoute, Policy, Router, ValueMatch};
use andon_spec::service::ServiceSpec;
use andon_spec::strategy::StringMatch;
use andon_supervisor::{Desired, Message, RevisionSet, ServiceStatus};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::analysis::{self, Deps, RunUpdate, RunView, Subject};

/// How often a frozen rollout looks at the error budget again.
const FREEZE_RECHECK_MS: i64 = 15_000;

/// Revisions kept for `andon rollout undo` (Kubernetes' revisionHistoryLimit default).
const HISTORY_LIMIT: usize = 10;

/// One revision the service has run, for undo.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HistoryEntry {
    pub(crate) number: u64,
    pub(crate) revision: String,
    /// The Service spec that asked for it.
    pub(crate) spec: serde_json::Value,
}

/// What is journaled as `rollout.state` and read back at start.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
struct Saved {
    state: State,
    history: Vec<HistoryEntry>,
}

type Reply = oneshot::Sender<Result<String, String>>;

/// An operator's command, who gave it, and why (recorded with its event).
struct Order {
    command: Command,
    actor: String,
    reason: Option<String>,
    reply: Reply,
}

struct Handle {
    spec: watch::Sender<Option<Arc<ServiceSpec>>>,
    commands: mpsc::UnboundedSender<Order>,
    view: Arc<Mutex<serde_json::Value>>,
    history: Arc<Mutex<Vec<HistoryEntry>>>,
    task: JoinHandle<()>,
}

/// Every Service's rollout.
pub(crate) struct Rollouts {
    deps: Arc<Deps>,
    router: Router,
    out: mpsc::UnboundedSender<Message>,
    services: Mutex<HashMap<ObjectRef, Handle>>,
}

/// The address that serves a rollout's preview revision (blue-green's preview
/// service, a canary's canary service).
pub(crate) fn preview_key(key: &ObjectRef) -> ObjectRef {
    ObjectRef::new(&key.kind, &key.namespace, format!("{}:preview", key.name))
}

impl Rollouts {
    pub(crate) fn new(
        deps: Arc<Deps>,
        router: Router,
        out: mpsc::UnboundedSender<Message>,
    ) -> Rollouts {
        Rollouts { deps, router, out, services: Mutex::new(HashMap::new()) }
    }

    /// Rolls `key` out to `spec` (starting its controller the first time).
    pub(crate) fn apply(&self, key: &ObjectRef, spec: ServiceSpec) {
        let spec = Arc::new(spec);
        let Ok(mut services) = self.services.lock() else { return };
        if let Some(h) = services.get(key)
            && !h.task.is_finished()
        {
            h.spec.send_replace(Some(spec));
            return;
        }
        let (spec_tx, spec_rx) = watch::channel(Some(spec));
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let view = Arc::new(Mutex::new(serde_json::Value::Null));
        let history = Arc::new(Mutex::new(Vec::new()));
        let ctl = Controller {
            key: key.clone(),
            deps: self.deps.clone(),
            router: self.router.clone(),
            out: self.out.clone(),
            view: view.clone(),
            history_out: history.clone(),
        };
        let task = tokio::spawn(ctl.run(spec_rx, cmd_rx));
        services
            .insert(key.clone(), Handle { spec: spec_tx, commands: cmd_tx, view, history, task });
    }

    /// Stops the rollout of a deleted service (its analysis runs end with it).
    pub(crate) async fn remove(&self, key: &ObjectRef) {
        let handle = self.services.lock().ok().and_then(|mut s| s.remove(key));
        if let Some(h) = handle {
            h.spec.send_replace(None);
            let _ = tokio::time::timeout(Duration::from_secs(5), h.task).await;
        }
        self.router.remove(&preview_key(key));
    }

    /// The spec each running Service asks for now.
    pub(crate) fn specs(&self) -> Vec<(ObjectRef, Arc<ServiceSpec>)> {
        let Ok(services) = self.services.lock() else { return Vec::new() };
        services.iter().filter_map(|(k, h)| Some((k.clone(), h.spec.borrow().clone()?))).collect()
    }

    /// Whether `key` has a rollout controller (it is being run).
    pub(crate) fn runs(&self, key: &ObjectRef) -> bool {
        self.services.lock().is_ok_and(|s| s.contains_key(key))
    }

    /// The rollout part of a Service's status.
    pub(crate) fn status(&self, key: &ObjectRef) -> Option<serde_json::Value> {
        let services = self.services.lock().ok()?;
        let v = services.get(key)?.view.lock().ok()?.clone();
        (!v.is_null()).then_some(v)
    }

    /// The revisions a service has run, oldest first.
    pub(crate) fn history(&self, key: &ObjectRef) -> Vec<HistoryEntry> {
        let Ok(services) = self.services.lock() else { return Vec::new() };
        services.get(key).and_then(|h| h.history.lock().ok().map(|h| h.clone())).unwrap_or_default()
    }

    /// Carries out an operator's command; the answer says what happened or why not.
    /// The command's journal event names `actor` and carries `reason`.
    pub(crate) async fn command(
        &self,
        key: &ObjectRef,
        command: Command,
        actor: String,
        reason: Option<String>,
    ) -> Result<String, String> {
        let (tx, rx) = oneshot::channel();
        {
            let services = self.services.lock().map_err(|_| "rollouts unavailable".to_owned())?;
            let h = services.get(key).ok_or_else(|| format!("{key} is not running"))?;
            h.commands
                .send(Order { command, actor, reason, reply: tx })
                .map_err(|_| format!("the rollout of {key} has stopped"))?;
        }
        rx.await.map_err(|_| format!("the rollout of {key} has stopped"))?
    }

    /// Stops every controller (andon is shutting down); instances are the supervisor's.
    pub(crate) async fn shutdown(&self) {
        let handles: Vec<Handle> = match self.services.lock() {
            Ok(mut s) => s.drain().map(|(_, h)| h).collect(),
            Err(_) => return,
        };
        for h in handles {
            h.spec.send_replace(None);
            let _ = tokio::time::timeout(Duration::from_secs(5), h.task).await;
        }
    }
}

/// A running analysis and what it shows.
struct RunHandle {
    key: RunKey,
    revision: String,
    task: JoinHandle<()>,
    view: Arc<Mutex<RunView>>,
}

struct Controller {
    key: ObjectRef,
    deps: Arc<Deps>,
    router: Router,
    out: mpsc::UnboundedSender<Message>,
    view: Arc<Mutex<serde_json::Value>>,
    history_out: Arc<Mutex<Vec<HistoryEntry>>>,
}

fn now_ms() -> i64 {
    andon_metrics::time::now_ms()
}

/// Instances per revision; available = ready for `min_ready_seconds`. Also when the
/// next not-yet-available ready instance becomes available.
fn observe(
    status: &ServiceStatus,
    min_ready_seconds: i64,
    now: i64,
) -> (BTreeMap<String, Counts>, Option<i64>) {
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    let mut wake: Option<i64> = None;
    let min_ready = min_ready_seconds.max(0).saturating_mul(1000);
    for i in &status.instances {
        let c = out.entry(i.revision.clone()).or_default();
        if i.phase == "Terminating" {
            c.terminating += 1;
            continue;
        }
        c.total += 1;
        if let Some(since) = i.ready_since.filter(|_| i.ready) {
            let at = since.millis().saturating_add(min_ready);
            if at <= now {
                c.available += 1;
            } else {
                wake = Some(wake.map_or(at, |w: i64| w.min(at)));
            }
        }
    }
    (out, wake)
}

/// The router's policy for a plan: weights and header routes by revision.
fn policy(plan: &Plan) -> Policy {
    Policy {
        weights: plan.weights.clone(),
        header_routes: plan
            .routes
            .iter()
            .map(|r| HeaderRoute {
                name: r.route.name.clone(),
                matches: r
                    .route
                    .matches
                    .iter()
                    .filter_map(|m| {
                        let v = match &m.header_value {
                            StringMatch::Exact(s) => ValueMatch::Exact(s.clone()),
                            StringMatch::Prefix(s) => ValueMatch::Prefix(s.clone()),
                            // Checked when the spec was read; an invalid one matches nothing.
                            StringMatch::Regex(s) => ValueMatch::regex(s)?,
                        };
                        Some((m.header_name.to_ascii_lowercase(), v))
                    })
                    .collect(),
                revision: r.revision.clone(),
            })
            .collect(),
        only_weighted: false,
    }
}

/// Reads a journaled Service spec back.
fn spec_from_json(key: &ObjectRef, spec: &serde_json::Value) -> Option<ServiceSpec> {
    let doc = json!({
        "apiVersion": andon_spec::API_VERSION,
        "kind": "Service",
        "metadata": {"name": key.name, "namespace": key.namespace},
        "spec": spec,
    });
    match andon_spec::parse_manifests("journal", doc.to_string().as_bytes(), None) {
        Ok(ms) => match ms.into_iter().next().map(|m| m.spec) {
            Some(andon_spec::Spec::Service(s)) => Some(*s),
            _ => None,
        },
        Err(d) => {
            tracing::warn!(service = %key, problems = ?d, "a journaled revision does not read back");
            None
        }
    }
}

impl Controller {
    fn event(&self, kind: &str, data: serde_json::Value) -> NewEvent {
        NewEvent { kind: kind.into(), subject: self.key.to_string(), actor: "rollout".into(), data }
    }

    async fn restore(&self) -> Saved {
        match self.deps.store.last_event(&self.key.to_string(), "rollout.state").await {
            Ok(Some(e)) => serde_json::from_value(e.data).unwrap_or_else(|err| {
                tracing::warn!(service = %self.key, error = %err, "the journaled rollout state does not read back; starting afresh");
                Saved::default()
            }),
            Ok(None) => Saved::default(),
            Err(err) => {
                tracing::error!(service = %self.key, error = %err, "cannot read the rollout state; starting afresh");
                Saved::default()
            }
        }
    }

    async fn run(
        self,
        mut spec_rx: watch::Receiver<Option<Arc<ServiceSpec>>>,
        mut cmd_rx: mpsc::UnboundedReceiver<Order>,
    ) {
        let saved = self.restore().await;
        let mut last_saved = serde_json::to_value(&saved).unwrap_or_default();
        let Saved { mut state, mut history } = saved;
        let mut specs: BTreeMap<String, Arc<ServiceSpec>> = BTreeMap::new();
        let mut runs: Vec<RunHandle> = Vec::new();
        let (run_tx, mut run_rx) = mpsc::unbounded_channel::<RunUpdate>();
        let mut sup_rx: Option<watch::Receiver<ServiceStatus>> = None;
        let mut pending: Vec<NewEvent> = Vec::new();
        let mut preview_addr: Option<SocketAddr> = None;
        // Answers to commands, sent once their effect is in force and published.
        let mut answers: Vec<(Reply, Result<String, String>)> = Vec::new();
        loop {
            let Some(spec) = spec_rx.borrow_and_update().clone() else { break };
            let desired = andon_supervisor::revision(&spec);
            record_history(&mut history, &desired, &spec);
            specs.insert(desired.clone(), spec.clone());
            // Specs of the other revisions in play come from the history.
            let in_play: Vec<String> = state
                .stable
                .iter()
                .chain(state.current.iter())
                .chain(state.scale_down_at.keys())
                .cloned()
                .collect();
            for rev in &in_play {
                if !specs.contains_key(rev)
                    && let Some(s) = history
                        .iter()
                        .find(|h| &h.revision == rev)
                        .and_then(|h| spec_from_json(&self.key, &h.spec))
                {
                    specs.insert(rev.clone(), Arc::new(s));
                }
            }
            if state.stable.as_ref().is_some_and(|s| !specs.contains_key(s)) {
                tracing::warn!(service = %self.key, "the stable revision's spec is not known; the desired one becomes stable");
                state = State::default();
            }
            specs.retain(|rev, _| {
                *rev == desired || in_play.contains(rev) || runs.iter().any(|r| r.revision == *rev)
            });
            trim_history(&mut history, &in_play);

            let would_start = state.stable.as_deref().is_some_and(|s| s != desired)
                && state.current.as_deref() != Some(desired.as_str())
                && state.freeze_override.as_deref() != Some(desired.as_str());
            let freeze = if would_start { self.freeze_reason().await } else { None };
            let now = now_ms();
            let status = self.deps.supervisor.status(&self.key).unwrap_or_default();
            let (observed, ready_wake) = observe(&status, spec.min_ready_seconds, now);
            let input = Input {
                now_ms: now,
                replicas: spec.replicas,
                strategy: spec.strategy.as_ref(),
                desired: &desired,
                paused: spec.paused,
                progress_deadline_seconds: spec.progress_deadline(),
                observed: &observed,
                freeze: freeze.as_deref(),
            };
            let plan = state.reconcile(&input);

            // Journal first: what is carried out is never newer than what is recorded.
            for (kind, data) in &plan.events {
                pending.push(self.event(kind, data.clone()));
            }
            let saved_now = json!({"state": state, "history": history});
            let state_changed = saved_now != last_saved;
            if state_changed {
                pending.push(self.event("rollout.state", saved_now.clone()));
            }
            if !pending.is_empty() {
                match self.deps.store.append(pending.clone()).await {
                    Ok(_) => {
                        pending.clear();
                        last_saved = saved_now;
                    }
                    Err(e) => {
                        tracing::error!(service = %self.key, error = %e, "cannot journal the rollout; holding still");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
            if let Ok(mut h) = self.history_out.lock() {
                h.clone_from(&history);
            }

            // Traffic first, then instances.
            self.router.set_policy(&self.key, policy(&plan));
            preview_addr = self.preview(plan.preview.as_deref(), preview_addr).await;
            let sets = plan
                .sets
                .iter()
                .filter_map(|(rev, n)| {
                    Some((
                        rev.clone(),
                        RevisionSet {
                            spec: specs.get(rev)?.clone(),
                            replicas: usize::try_from(*n).unwrap_or(0),
                        },
                    ))
                })
                .collect();
            self.deps.supervisor.apply(
                &self.key,
                Desired {
                    revision: desired.clone(),
                    replicas: usize::try_from(spec.replicas).unwrap_or(0),
                    sets,
                },
            );
            if sup_rx.is_none() {
                sup_rx = self.deps.supervisor.subscribe(&self.key);
            }

            // Analysis runs: the plan's, each once; decided ones stay for status.
            runs.retain(|r| {
                let wanted =
                    plan.analysis.iter().any(|(k, rev, _)| *k == r.key && *rev == r.revision);
                let decided = state.runs.iter().any(|s| {
                    s.key == r.key && s.revision == r.revision && s.phase != RunPhase::Running
                });
                if !wanted {
                    r.task.abort();
                }
                wanted || decided
            });
            for (k, rev, aref) in &plan.analysis {
                if runs.iter().any(|r| r.key == *k && r.revision == *rev) {
                    continue;
                }
                let view = Arc::new(Mutex::new(RunView {
                    run: k.clone(),
                    revision: rev.clone(),
                    phase: RunPhase::Running,
                    message: String::new(),
                    metrics: Vec::new(),
                }));
                let subject = Subject {
                    service: self.key.clone(),
                    stable: state.stable.clone().unwrap_or_default(),
                    latest: rev.clone(),
                    preview_url: preview_addr.map(|a| format!("http://{a}")),
                };
                let task = tokio::spawn(analysis::run(
                    self.deps.clone(),
                    subject,
                    k.clone(),
                    aref.clone(),
                    view.clone(),
                    run_tx.clone(),
                ));
                runs.push(RunHandle { key: k.clone(), revision: rev.clone(), task, view });
            }

            self.publish(&state, &plan, &history, &runs, preview_addr);
            for (reply, answer) in answers.drain(..) {
                let _ = reply.send(answer);
            }

            let deadline_wake = (state.current.is_some()
                && plan.phase == andon_delivery::rollout::Phase::Progressing
                && spec.progress_deadline() > 0)
                .then(|| state.progress_ms + spec.progress_deadline() * 1000 + 1);
            // A freeze is looked at again, as the budget recovers.
            let freeze_wake = freeze.as_ref().map(|_| now_ms() + FREEZE_RECHECK_MS);
            let wake = [plan.wake_at_ms, ready_wake, deadline_wake, freeze_wake]
                .into_iter()
                .flatten()
                .min();
            let sleep = async {
                match wake {
                    Some(t) => {
                        let ms = u64::try_from((t - now_ms()).max(0)).unwrap_or(0);
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let sup_changed = async {
                match sup_rx.as_mut() {
                    Some(rx) => {
                        if rx.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            };
            tokio::select! {
                changed = spec_rx.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                () = sup_changed => {}
                Some(u) = run_rx.recv() => {
                    state.set_run_phase(&u.key, &u.revision, u.phase, u.message);
                    while let Ok(u) = run_rx.try_recv() {
                        state.set_run_phase(&u.key, &u.revision, u.phase, u.message);
                    }
                }
                Some(order) = cmd_rx.recv() => {
                    let r = state.command(order.command, now_ms());
                    let answer = match r {
                        Ok((kind, mut data)) => {
                            if let (Some(reason), Some(o)) = (&order.reason, data.as_object_mut()) {
                                o.insert("reason".into(), json!(reason));
                            }
                            let mut e = self.event(kind, data);
                            e.actor = order.actor;
                            pending.push(e);
                            Ok(kind.trim_start_matches("rollout.").replace('_', " "))
                        }
                        Err(e) => Err(e),
                    };
                    if answer.is_ok() {
                        answers.push((order.reply, answer));
                    } else {
                        let _ = order.reply.send(answer);
                    }
                }
                () = sleep => {}
            }
        }
        for r in runs {
            r.task.abort();
        }
        self.router.remove(&preview_key(&self.key));
    }

    /// Why new rollouts of this service may not start now: an ErrorBudgetPolicy covering
    /// it whose SLO has less budget left than its threshold. An SLO without data does
    /// not freeze (its budget is unknown).
    async fn freeze_reason(&self) -> Option<String> {
        let policies = self
            .deps
            .store
            .list("ErrorBudgetPolicy", Some(&self.key.namespace), None, 1000)
            .await
            .ok()?;
        let slos = self.deps.metrics.slos();
        for p in policies {
            let Some(slo_id) = p.spec["slo"].as_str() else { continue };
            let below = p.spec["freezeRolloutsBelow"].as_f64().unwrap_or(0.0);
            let Some((source, slo)) = slos.iter().find(|(src, s)| {
                s.id == slo_id && src.split('/').next() == Some(self.key.namespace.as_str())
            }) else {
                continue;
            };
            let services: Vec<&str> = p.spec["services"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str())
                .collect();
            let covered = if services.is_empty() {
                slo.service == self.key.name
            } else {
                services.contains(&self.key.name.as_str())
            };
            if !covered {
                continue;
            }
            let engine = self.deps.metrics.clone();
            let (source, slo) = (source.clone(), slo.clone());
            let remaining = tokio::task::spawn_blocking(move || {
                let groups = engine.rule_groups();
                andon_metrics::slo::status(&engine, &groups, &source, &slo, now_ms())
                    .budget_remaining
            })
            .await
            .ok()
            .flatten()?;
            if remaining * 100.0 < below {
                return Some(format!(
                    "SLO {slo_id} has {:.1}% of its error budget left, below the {below}% of ErrorBudgetPolicy {}",
                    remaining * 100.0,
                    p.name
                ));
            }
        }
        None
    }

    /// Serves the preview revision on its own address (or stops serving it).
    async fn preview(
        &self,
        revision: Option<&str>,
        addr: Option<SocketAddr>,
    ) -> Option<SocketAddr> {
        let pk = preview_key(&self.key);
        let Some(rev) = revision else {
            if addr.is_some() {
                self.router.remove(&pk);
            }
            return None;
        };
        let addr = match addr {
            Some(a) => a,
            None => match self.router.listen(&pk, 0).await {
                Ok(a) => {
                    self.router.mirror(&pk, &self.key);
                    a
                }
                Err(e) => {
                    tracing::warn!(service = %self.key, error = %e, "cannot serve the preview");
                    return None;
                }
            },
        };
        self.router.set_policy(
            &pk,
            Policy {
                weights: vec![(rev.to_owned(), 100)],
                header_routes: Vec::new(),
                only_weighted: true,
            },
        );
        Some(addr)
    }

    fn publish(
        &self,
        state: &State,
        plan: &Plan,
        history: &[HistoryEntry],
        runs: &[RunHandle],
        preview: Option<SocketAddr>,
    ) {
        let number = |rev: &Option<String>| {
            rev.as_ref().and_then(|r| history.iter().find(|h| &h.revision == r)).map(|h| h.number)
        };
        let analysis: Vec<serde_json::Value> = runs
            .iter()
            .filter_map(|r| {
                r.view.lock().ok().map(|v| serde_json::to_value(&*v).unwrap_or_default())
            })
            .collect();
        let mut measurements = Vec::new();
        for r in runs {
            let Ok(v) = r.view.lock() else { continue };
            for m in &v.metrics {
                for x in &m.state.measurements {
                    measurements.push(json!({
                        "run": v.run,
                        "revision": v.revision,
                        "metric": m.name,
                        "phase": x.phase,
                        "value": x.value,
                        "message": x.message,
                        "finishedAt": andon_metrics::time::format_rfc3339(x.finished_ms),
                    }));
                }
            }
        }
        let weights: serde_json::Map<String, serde_json::Value> =
            plan.weights.iter().map(|(r, w)| (r.clone(), json!(w))).collect();
        let v = json!({
            "phase": plan.phase,
            "message": plan.message,
            "stableRevision": state.stable,
            "currentRevision": state.current,
            "revision": number(&state.current).or(number(&state.stable)),
            "step": state.current.as_ref().map(|_| state.step),
            "weight": state.current.as_ref().map(|_| state.weight),
            "weights": weights,
            "sets": plan.sets,
            "headerRoutes": plan.routes.iter().map(|r| json!({"name": r.route.name, "revision": r.revision})).collect::<Vec<_>>(),
            "pause": state.pause,
            "aborted": state.aborted,
            "previewRevision": plan.preview,
            "previewUrl": preview.map(|a| format!("http://{a}")),
            "analysis": analysis,
            "measurements": measurements,
        });
        if let Ok(mut view) = self.view.lock() {
            *view = v;
        }
        let _ = self.out.send(Message::StatusChanged(self.key.clone()));
    }
}

/// Numbers a revision when the spec first asks for it (or asks for it again).
fn record_history(history: &mut Vec<HistoryEntry>, revision: &str, spec: &ServiceSpec) {
    if history.last().is_some_and(|h| h.revision == revision) {
        return;
    }
    let number = history.iter().map(|h| h.number).max().unwrap_or(0) + 1;
    history.retain(|h| h.revision != revision);
    history.push(HistoryEntry {
        number,
        revision: revision.to_owned(),
        spec: serde_json::to_value(spec).unwrap_or_default(),
    });
}

/// Keeps the newest [`HISTORY_LIMIT`] revisions and every revision still in play.
fn trim_history(history: &mut Vec<HistoryEntry>, in_play: &[String]) {
    while history.len() > HISTORY_LIMIT {
        let Some(i) = history.iter().position(|h| !in_play.contains(&h.revision)) else { break };
        if i + 1 == history.len() {
            break;
        }
        history.remove(i);
    }
}
