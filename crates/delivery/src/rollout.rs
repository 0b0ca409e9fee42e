//! The rollout state machine of one Service: given the strategy, the revision the spec
//! asks for, what runs (instances per revision) and the clock, it decides how many
//! instances each revision gets, how traffic is split, which analysis runs, and when
//! the rollout is promoted, paused or aborted. Pure: the shell carries the decisions
//! out and feeds back what it observes.
//!
//! Semantics follow Argo Rollouts (canary, blue-green) and Kubernetes Deployments
//! (rolling update, recreate). The router always splits traffic exactly, so a canary's
//! weight is never approximated by replica counts.

use std::collections::BTreeMap;

use andon_spec::strategy::{
    AnalysisRef, BlueGreen, Canary, CanaryScale, HeaderRouteStep, RollingUpdate, Strategy,
    fenceposts,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What runs of one revision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Instances not asked to stop.
    pub total: i64,
    /// Ready and ready for at least `minReadySeconds`.
    pub available: i64,
    /// Asked to stop, not gone yet.
    pub terminating: i64,
}

/// Which analysis a run serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum RunKey {
    /// The `analysis` step at this index.
    Step {
        step: usize,
    },
    Background,
    PrePromotion,
    PostPromotion,
}

/// An analysis run's verdict, as Argo Rollouts names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunPhase {
    Running,
    Successful,
    Failed,
    Error,
    Inconclusive,
}

/// The current run of each kind and its phase (filled in by the shell).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub key: RunKey,
    pub revision: String,
    pub phase: RunPhase,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PauseReason {
    CanaryPauseStep,
    BlueGreenPause,
    InconclusiveAnalysisRun,
    /// `andon rollout pause` or `spec.paused`.
    PausedByUser,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Phase {
    #[default]
    Healthy,
    Progressing,
    Paused,
    Degraded,
}

/// Everything the rollout remembers; kept across restarts (the shell journals it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct State {
    /// The revision that serves users.
    pub stable: Option<String>,
    /// The revision being rolled out, when it is not the stable one.
    pub current: Option<String>,
    /// Canary: the index of the step being carried out (`steps.len()`: all done).
    pub step: usize,
    pub step_started_ms: i64,
    /// The canary's share of traffic, 0–100.
    pub weight: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary_scale: Option<CanaryScale>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub header_routes: BTreeMap<String, HeaderRouteStep>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause: Option<PauseReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aborted: Option<String>,
    /// `promote --full`: skip every remaining step, pause and analysis.
    pub promote_full: bool,
    /// Blue-green: an operator promoted; switch once the new revision is available.
    pub promoted: bool,
    /// Blue-green: traffic goes to `current` (promoted, post-promotion analysis pending).
    pub switched: bool,
    /// Blue-green: since when the preview has been fully available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_ready_ms: Option<i64>,
    /// Revisions kept running until a time (scale-down delays), then stopped.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub scale_down_at: BTreeMap<String, i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<Run>,
    /// When the rollout last made progress (for progressDeadlineSeconds).
    pub progress_ms: i64,
    /// A revision held back by an error-budget freeze (its event was recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frozen: Option<String>,
    /// A revision an operator let start despite the freeze.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeze_override: Option<String>,
}

/// What the rollout sees at one moment.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub now_ms: i64,
    pub replicas: i64,
    /// `None`: the default rolling update (25% / 25%).
    pub strategy: Option<&'a Strategy>,
    /// The revision the spec asks for.
    pub desired: &'a str,
    /// `spec.paused`.
    pub paused: bool,
    pub progress_deadline_seconds: i64,
    /// Instances per revision.
    pub observed: &'a BTreeMap<String, Counts>,
    /// Why new rollouts may not start now (an error-budget policy), if they may not.
    pub freeze: Option<&'a str>,
}

/// A header route in force: requests matching it go to `revision`.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub route: HeaderRouteStep,
    pub revision: String,
}

/// What the shell must make true.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Instances each revision should have; revisions not listed have none.
    pub sets: BTreeMap<String, i64>,
    /// Traffic split by revision; empty: every ready instance shares the traffic.
    pub weights: Vec<(String, u32)>,
    pub routes: Vec<Route>,
    /// The revision the preview address serves (blue-green, canary).
    pub preview: Option<String>,
    /// Analysis runs that should exist (the shell starts those it does not run yet and
    /// stops the others).
    pub analysis: Vec<(RunKey, String, AnalysisRef)>,
    pub events: Vec<(&'static str, serde_json::Value)>,
    /// Reconcile again at this time even if nothing else changes.
    pub wake_at_ms: Option<i64>,
    pub phase: Phase,
    pub message: String,
}

/// An operator's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Go past the current pause (or inconclusive analysis); `full`: skip everything left.
    Promote {
        full: bool,
    },
    Abort,
    /// Start an aborted rollout again from its first step.
    Retry,
    Pause,
    /// Lift a pause by the operator.
    Resume,
    /// Let the revision an error-budget freeze holds back start anyway.
    OverrideFreeze,
}

impl State {
    /// Applies an operator's command; an error says why it does not apply now.
    pub fn command(
        &mut self,
        c: Command,
        now_ms: i64,
    ) -> Result<(&'static str, serde_json::Value), String> {
        if c == Command::OverrideFreeze {
            let Some(rev) = self.frozen.clone() else {
                return Err("no rollout is held back by an error-budget freeze".into());
            };
            self.freeze_override = Some(rev.clone());
            return Ok(("rollout.freeze_overridden", json!({"revision": rev})));
        }
        let Some(current) = self.current.clone() else {
            return Err("no rollout in progress: the service runs its stable revision".into());
        };
        match c {
            Command::Promote { full } => {
                if self.aborted.is_some() {
                    return Err("the rollout was aborted: retry it first".into());
                }
                if full {
                    self.promote_full = true;
                } else if self.pause != Some(PauseReason::PausedByUser) {
                    // Past the current pause or step (canary); past the pause or an
                    // inconclusive gate to the switch (blue-green).
                    self.step += 1;
                    self.step_started_ms = now_ms;
                    self.promoted = true;
                }
                self.pause = None;
                self.progress_ms = now_ms;
                Ok(("rollout.promoted_by_user", json!({"revision": current, "full": full})))
            }
            Command::Abort => {
                if self.aborted.is_some() {
                    return Err("the rollout is already aborted".into());
                }
                self.aborted = Some("aborted by the user".into());
                self.pause = None;
                Ok((
                    "rollout.aborted",
                    json!({"revision": current, "reason": "aborted by the user"}),
                ))
            }
            Command::Retry => {
                if self.aborted.is_none() {
                    return Err("only an aborted rollout can be retried".into());
                }
                self.restart_rollout(now_ms);
                Ok(("rollout.retried", json!({"revision": current})))
            }
            Command::Pause => {
                if self.aborted.is_some() {
                    return Err("the rollout was aborted".into());
                }
                self.pause = Some(PauseReason::PausedByUser);
                Ok(("rollout.paused", json!({"revision": current, "reason": "PausedByUser"})))
            }
            Command::OverrideFreeze => Err("no rollout is held back".into()),
            Command::Resume => {
                if self.pause != Some(PauseReason::PausedByUser) {
                    return Err("the rollout is not paused by a user".into());
                }
                self.pause = None;
                self.progress_ms = now_ms;
                Ok(("rollout.resumed", json!({"revision": current})))
            }
        }
    }

    fn restart_rollout(&mut self, now_ms: i64) {
        self.step = 0;
        self.step_started_ms = now_ms;
        self.weight = 0;
        self.canary_scale = None;
        self.header_routes.clear();
        self.pause = None;
        self.aborted = None;
        self.promote_full = false;
        self.promoted = false;
        self.switched = false;
        self.preview_ready_ms = None;
        self.runs.clear();
        self.progress_ms = now_ms;
    }

    fn run_phase(&self, key: &RunKey, revision: &str) -> Option<(RunPhase, &str)> {
        self.runs
            .iter()
            .find(|r| &r.key == key && r.revision == revision)
            .map(|r| (r.phase, r.message.as_str()))
    }

    /// Records a run's phase (from the shell's measurements).
    pub fn set_run_phase(
        &mut self,
        key: &RunKey,
        revision: &str,
        phase: RunPhase,
        message: String,
    ) {
        if let Some(r) = self.runs.iter_mut().find(|r| &r.key == key && r.revision == revision) {
            r.phase = phase;
            r.message = message;
        }
    }

    fn ensure_run(&mut self, key: RunKey, revision: &str, plan: &mut Plan, spec: &AnalysisRef) {
        if self.run_phase(&key, revision).is_none() {
            self.runs.push(Run {
                key: key.clone(),
                revision: revision.to_owned(),
                phase: RunPhase::Running,
                message: String::new(),
            });
            plan.events.push(("analysis.started", json!({"run": key, "revision": revision})));
        }
        if self.run_phase(&key, revision).is_some_and(|(p, _)| p == RunPhase::Running) {
            plan.analysis.push((key, revision.to_owned(), spec.clone()));
        }
    }

    fn abort(&mut self, reason: String, plan: &mut Plan) {
        if self.aborted.is_none() {
            plan.events
                .push(("rollout.aborted", json!({"revision": self.current, "reason": reason})));
            self.aborted = Some(reason);
            self.pause = None;
        }
    }

    /// Decides what should run now. Call after every change of spec, instances, run
    /// phases or commands, and at `wake_at_ms`.
    pub fn reconcile(&mut self, input: &Input<'_>) -> Plan {
        let mut plan = Plan::default();
        let n = input.replicas.max(0);
        let now = input.now_ms;
        let default_rolling = Strategy::RollingUpdate(RollingUpdate::default());
        let strategy = input.strategy.unwrap_or(&default_rolling);

        // The first revision ever: nothing to protect, run it.
        let Some(stable) = self.stable.clone() else {
            self.stable = Some(input.desired.to_owned());
            self.progress_ms = now;
            plan.events.push(("rollout.initial", json!({"revision": input.desired})));
            plan.sets.insert(input.desired.to_owned(), n);
            return self.finish(plan, input);
        };

        if input.desired == stable {
            self.frozen = None;
            if let Some(cur) = self.current.take() {
                // Back to the stable revision while rolling out: no steps, traffic at once.
                plan.events
                    .push(("rollout.fast_tracked", json!({"revision": stable, "abandoned": cur})));
                let delay = abort_delay(strategy);
                self.scale_down_later(&cur, now, delay);
                self.restart_rollout(now);
            }
        } else if self.current.as_deref() != Some(input.desired)
            && let Some(reason) =
                input.freeze.filter(|_| self.freeze_override.as_deref() != Some(input.desired))
        {
            // An error-budget policy holds new rollouts back: the running revisions stay.
            if self.frozen.as_deref() != Some(input.desired) {
                self.frozen = Some(input.desired.to_owned());
                plan.events
                    .push(("rollout.frozen", json!({"revision": input.desired, "reason": reason})));
            }
            if self.current.is_none() {
                plan.sets.insert(stable.clone(), n);
                plan.weights = vec![(stable.clone(), 100)];
                let mut plan = self.finish(plan, input);
                plan.phase = Phase::Paused;
                plan.message = format!("ErrorBudgetFrozen: {reason}");
                return plan;
            }
        } else if self.current.as_deref() != Some(input.desired) {
            self.frozen = None;
            if let Some(prev) = self.current.take() {
                self.scale_down_at.insert(prev, now);
            }
            self.current = Some(input.desired.to_owned());
            self.restart_rollout(now);
            plan.events
                .push(("rollout.started", json!({"revision": input.desired, "stable": stable})));
        }

        // Revisions whose scale-down delay has passed go away.
        let due: Vec<String> =
            self.scale_down_at.iter().filter(|(_, t)| **t <= now).map(|(r, _)| r.clone()).collect();
        for r in due {
            if input.observed.get(&r).is_none_or(|c| c.total == 0 && c.terminating == 0) {
                self.scale_down_at.remove(&r);
            }
        }
        for (r, t) in &self.scale_down_at {
            if *t > now {
                plan.sets.insert(r.clone(), input.observed.get(r).map_or(0, |c| c.total));
                plan.wake_at_ms = min_time(plan.wake_at_ms, *t);
            }
        }

        let Some(current) = self.current.clone() else {
            plan.sets.insert(stable.clone(), n);
            plan.weights = vec![(stable.clone(), 100)];
            return self.finish(plan, input);
        };
        match strategy {
            Strategy::Canary(c) => self.canary(c, &stable, &current, input, &mut plan),
            Strategy::BlueGreen(b) => self.blue_green(b, &stable, &current, input, &mut plan),
            Strategy::RollingUpdate(r) => self.rolling(r, &stable, &current, input, &mut plan),
            Strategy::Recreate {} => self.recreate(&stable, &current, input, &mut plan),
        }
        self.finish(plan, input)
    }

    fn scale_down_later(&mut self, revision: &str, now: i64, delay_seconds: i64) {
        // A delay of 0 for an abort means: keep it running (Argo's abortScaleDownDelaySeconds).
        let at = now.saturating_add(delay_seconds.saturating_mul(1000));
        self.scale_down_at.insert(revision.to_owned(), at);
    }

    /// The canary: steps move the weight, pauses wait, analyses judge; the stable
    /// revision keeps every replica until promotion (unless dynamicStableScale).
    fn canary(
        &mut self,
        c: &Canary,
        stable: &str,
        current: &str,
        input: &Input<'_>,
        plan: &mut Plan,
    ) {
        let n = input.replicas.max(0);
        let now = input.now_ms;
        let observed = |r: &str| input.observed.get(r).copied().unwrap_or_default();
        if let Some(reason) = self.aborted.clone() {
            plan.weights = vec![(stable.to_owned(), 100)];
            plan.sets.insert(stable.to_owned(), n);
            self.keep_until_abort_delay(
                current,
                c.abort_scale_down_delay_seconds,
                now,
                input,
                plan,
            );
            plan.phase = Phase::Degraded;
            plan.message = format!("RolloutAborted: {reason}");
            return;
        }
        // Carry out steps until one has to wait.
        let hold = |s: &State| input.paused || s.pause.is_some() || s.aborted.is_some();
        while !hold(self) && !self.promote_full && self.step < c.steps.len() {
            let step = &c.steps[self.step];
            if let Some(scale) = &step.set_canary_scale {
                self.canary_scale = Some(scale.clone());
            }
            if let Some(route) = &step.set_header_route {
                if route.matches.is_empty() {
                    self.header_routes.remove(&route.name);
                } else {
                    self.header_routes.insert(route.name.clone(), route.clone());
                }
            }
            let done = if let Some(w) = step.set_weight {
                if self.weight != w {
                    plan.events.push(("rollout.weight", json!({"revision": current, "weight": w})));
                    self.weight = w;
                }
                observed(current).available >= canary_replicas(self, n)
            } else if let Some(p) = &step.pause {
                match p.duration {
                    Some(d) => {
                        let until = self.step_started_ms.saturating_add(d.saturating_mul(1000));
                        if now >= until {
                            true
                        } else {
                            plan.wake_at_ms = min_time(plan.wake_at_ms, until);
                            false
                        }
                    }
                    None => {
                        self.pause = Some(PauseReason::CanaryPauseStep);
                        plan.events.push(("rollout.paused", json!({"revision": current, "step": self.step, "reason": "CanaryPauseStep"})));
                        false
                    }
                }
            } else if let Some(a) = &step.analysis {
                let key = RunKey::Step { step: self.step };
                self.ensure_run(key.clone(), current, plan, a);
                match self.run_phase(&key, current) {
                    Some((RunPhase::Successful, _)) => true,
                    Some((RunPhase::Failed | RunPhase::Error, m)) => {
                        let m = format!("analysis of step {} {}", self.step, m);
                        self.abort(m, plan);
                        false
                    }
                    Some((RunPhase::Inconclusive, _)) => {
                        self.pause = Some(PauseReason::InconclusiveAnalysisRun);
                        plan.events.push(("rollout.paused", json!({"revision": current, "step": self.step, "reason": "InconclusiveAnalysisRun"})));
                        false
                    }
                    _ => false,
                }
            } else {
                // Only a scale or a route: in force at once.
                observed(current).available >= canary_replicas(self, n)
            };
            if !done {
                break;
            }
            self.step += 1;
            self.step_started_ms = now;
            self.progress_ms = now;
            plan.events.push((
                "rollout.step",
                json!({"revision": current, "step": self.step, "weight": self.weight}),
            ));
        }
        // Background analysis from its starting step until the end.
        if let Some(bg) = &c.analysis
            && self.aborted.is_none()
            && !self.promote_full
            && self.step >= bg.starting_step.map_or(0, |s| usize::try_from(s).unwrap_or(0))
        {
            self.ensure_run(RunKey::Background, current, plan, bg);
            match self.run_phase(&RunKey::Background, current) {
                Some((RunPhase::Failed | RunPhase::Error, m)) => {
                    let m = format!("background analysis {m}");
                    self.abort(m, plan);
                }
                Some((RunPhase::Inconclusive, _)) if self.pause.is_none() => {
                    self.pause = Some(PauseReason::InconclusiveAnalysisRun);
                    plan.events.push((
                        "rollout.paused",
                        json!({"revision": current, "reason": "InconclusiveAnalysisRun"}),
                    ));
                }
                _ => {}
            }
        }
        if self.aborted.is_some() {
            // Aborted during this pass: stable traffic first, in this very plan.
            plan.analysis.clear();
            return self.canary(c, stable, current, input, plan);
        }
        let finished = self.promote_full || self.step >= c.steps.len();
        if finished && !input.paused && self.pause.is_none() {
            // Promotion: the new revision at full scale takes all traffic once available.
            plan.sets.insert(current.to_owned(), n);
            if observed(current).available >= n {
                self.promote(current, stable, c.scale_down_delay_seconds, input, plan);
                plan.sets.insert(current.to_owned(), n);
                plan.weights = vec![(current.to_owned(), 100)];
                return;
            }
            plan.sets.insert(stable.to_owned(), n);
            plan.weights = weights(stable, current, self.weight);
            plan.phase = Phase::Progressing;
            plan.message = format!("promoting {current}: waiting for {n} available instances");
            return;
        }
        let canary_n = canary_replicas(self, n);
        let stable_n = if c.dynamic_stable_scale { ceil_percent(100 - self.weight, n) } else { n };
        plan.sets.insert(stable.to_owned(), stable_n);
        plan.sets.insert(current.to_owned(), canary_n);
        plan.weights = weights(stable, current, self.weight);
        plan.routes = self
            .header_routes
            .values()
            .map(|r| Route { route: r.clone(), revision: current.to_owned() })
            .collect();
        // Header routes in managedRoutes order.
        if !c.managed_routes.is_empty() {
            plan.routes.sort_by_key(|r| c.managed_routes.iter().position(|m| *m == r.route.name));
        }
        plan.preview = Some(current.to_owned());
        self.pause_phase(current, input, plan);
    }

    fn pause_phase(&self, current: &str, input: &Input<'_>, plan: &mut Plan) {
        let (phase, message) = match (self.pause, input.paused) {
            (Some(p), _) => (Phase::Paused, format!("{p:?}")),
            (None, true) => (Phase::Paused, "PausedByUser: spec.paused is true".to_owned()),
            (None, false) => (Phase::Progressing, format!("rolling out {current}")),
        };
        plan.phase = phase;
        plan.message = message;
    }

    fn keep_until_abort_delay(
        &mut self,
        current: &str,
        delay: i64,
        now: i64,
        input: &Input<'_>,
        plan: &mut Plan,
    ) {
        let keep = input.observed.get(current).map_or(0, |c| c.total);
        if keep == 0 {
            return;
        }
        if delay == 0 {
            // Kept running until a retry or a new revision.
            plan.sets.insert(current.to_owned(), keep);
            return;
        }
        if !self.scale_down_at.contains_key(current) {
            self.scale_down_later(current, now, delay);
        }
        if let Some(t) = self.scale_down_at.get(current).copied() {
            if t > now {
                plan.sets.insert(current.to_owned(), keep);
                plan.wake_at_ms = min_time(plan.wake_at_ms, t);
            } else {
                plan.sets.remove(current);
            }
        }
    }

    fn promote(
        &mut self,
        current: &str,
        old: &str,
        delay: i64,
        input: &Input<'_>,
        plan: &mut Plan,
    ) {
        let now = input.now_ms;
        plan.events.push(("rollout.promoted", json!({"revision": current, "previous": old})));
        self.stable = Some(current.to_owned());
        self.current = None;
        self.restart_rollout(now);
        self.runs.clear();
        self.scale_down_later(old, now, delay);
        let t = self.scale_down_at.get(old).copied().unwrap_or(now);
        if t > now {
            let keep = input.observed.get(old).map_or(0, |c| c.total);
            if keep > 0 {
                plan.sets.insert(old.to_owned(), keep);
            }
            plan.wake_at_ms = min_time(plan.wake_at_ms, t);
        }
    }

    /// Blue-green: the new revision runs beside the active one on the preview address;
    /// promotion switches all traffic at once; the old one stays up for the delay.
    fn blue_green(
        &mut self,
        b: &BlueGreen,
        stable: &str,
        current: &str,
        input: &Input<'_>,
        plan: &mut Plan,
    ) {
        let n = input.replicas.max(0);
        let now = input.now_ms;
        let available = input.observed.get(current).map_or(0, |c| c.available);
        if let Some(reason) = self.aborted.clone() {
            plan.weights = vec![(stable.to_owned(), 100)];
            plan.sets.insert(stable.to_owned(), n);
            self.switched = false;
            self.keep_until_abort_delay(
                current,
                b.abort_scale_down_delay_seconds,
                now,
                input,
                plan,
            );
            plan.phase = Phase::Degraded;
            plan.message = format!("RolloutAborted: {reason}");
            return;
        }
        plan.preview = Some(current.to_owned());
        plan.sets.insert(stable.to_owned(), n);
        if self.switched {
            plan.sets.insert(current.to_owned(), n);
            plan.weights = vec![(current.to_owned(), 100)];
            let post = b.post_promotion_analysis.as_ref().filter(|_| !self.promote_full);
            let verdict = match post {
                Some(a) => {
                    self.ensure_run(RunKey::PostPromotion, current, plan, a);
                    self.run_phase(&RunKey::PostPromotion, current).map(|(p, m)| (p, m.to_owned()))
                }
                None => Some((RunPhase::Successful, String::new())),
            };
            match verdict {
                Some((RunPhase::Successful, _)) => {
                    self.promote(current, stable, b.scale_down_delay_seconds, input, plan);
                }
                Some((RunPhase::Failed | RunPhase::Error, m)) => {
                    self.abort(format!("post-promotion analysis {m}"), plan);
                    plan.analysis.clear();
                    self.blue_green(b, stable, current, input, plan);
                }
                Some((RunPhase::Inconclusive, _)) => {
                    self.pause = Some(PauseReason::InconclusiveAnalysisRun);
                    plan.phase = Phase::Paused;
                    plan.message = "InconclusiveAnalysisRun: post-promotion analysis".into();
                }
                _ => {
                    plan.phase = Phase::Progressing;
                    plan.message = "post-promotion analysis running".into();
                }
            }
            return;
        }
        plan.weights = vec![(stable.to_owned(), 100)];
        let preview_n = b.preview_replica_count.unwrap_or(n).min(n);
        let promoting = self.promote_full || self.promoted;
        plan.sets.insert(current.to_owned(), if promoting { n } else { preview_n });
        if available < preview_n {
            self.preview_ready_ms = None;
            plan.phase = Phase::Progressing;
            plan.message =
                format!("preview {current}: {available} of {preview_n} instances available");
            return;
        }
        let ready_since = *self.preview_ready_ms.get_or_insert(now);
        let mut gate_passed = true;
        if let Some(a) = b.pre_promotion_analysis.as_ref().filter(|_| !self.promote_full) {
            self.ensure_run(RunKey::PrePromotion, current, plan, a);
            match self.run_phase(&RunKey::PrePromotion, current).map(|(p, m)| (p, m.to_owned())) {
                Some((RunPhase::Successful, _)) => {}
                Some((RunPhase::Failed | RunPhase::Error, m)) => {
                    self.abort(format!("pre-promotion analysis {m}"), plan);
                    plan.analysis.clear();
                    return self.blue_green(b, stable, current, input, plan);
                }
                Some((RunPhase::Inconclusive, _)) => {
                    self.pause = Some(PauseReason::InconclusiveAnalysisRun);
                    gate_passed = false;
                }
                _ => gate_passed = false,
            }
        }
        let mut promote = promoting;
        if gate_passed && !promote && !input.paused && self.pause.is_none() {
            if !b.auto_promotion_enabled {
                self.pause = Some(PauseReason::BlueGreenPause);
                plan.events.push((
                    "rollout.paused",
                    json!({"revision": current, "reason": "BlueGreenPause"}),
                ));
            } else if let Some(secs) = b.auto_promotion_seconds {
                let at = ready_since.saturating_add(secs.saturating_mul(1000));
                if now >= at {
                    promote = true;
                } else {
                    plan.wake_at_ms = min_time(plan.wake_at_ms, at);
                }
            } else {
                promote = true;
            }
        }
        if promote && !input.paused {
            plan.sets.insert(current.to_owned(), n);
            if available >= n {
                self.switched = true;
                self.progress_ms = now;
                plan.events
                    .push(("rollout.switched", json!({"revision": current, "previous": stable})));
                plan.analysis.retain(|(k, _, _)| *k != RunKey::PrePromotion);
                return self.blue_green(b, stable, current, input, plan);
            }
        }
        self.pause_phase(current, input, plan);
    }

    /// Kubernetes' rolling update: at most `replicas + maxSurge` instances, at least
    /// `replicas - maxUnavailable` available; weights follow the instances.
    fn rolling(
        &mut self,
        r: &RollingUpdate,
        stable: &str,
        current: &str,
        input: &Input<'_>,
        plan: &mut Plan,
    ) {
        let n = input.replicas.max(0);
        let (surge, unavailable) = fenceposts(r.max_surge, r.max_unavailable, n);
        let new = input.observed.get(current).copied().unwrap_or_default();
        let olds: Vec<(String, Counts)> = input
            .observed
            .iter()
            .filter(|(rev, _)| rev.as_str() != current)
            .map(|(rev, c)| (rev.clone(), *c))
            .collect();
        let old_total: i64 = olds.iter().map(|(_, c)| c.total).sum();
        let old_available: i64 = olds.iter().map(|(_, c)| c.available).sum();
        if input.paused || self.pause.is_some() {
            for (rev, c) in &olds {
                plan.sets.insert(rev.clone(), c.total);
            }
            plan.sets.insert(current.to_owned(), new.total);
            return self.pause_phase(current, input, plan);
        }
        // Scale the new revision up within the surge.
        let total = new.total + old_total;
        let new_target = if total < n + surge {
            (new.total + (n + surge - total)).min(n)
        } else {
            new.total.min(n)
        };
        // Scale old ones down while enough stay available: broken ones first.
        let min_available = n - unavailable;
        let new_unavailable = new.total - new.available;
        let mut can_remove = (total - min_available - new_unavailable).max(0);
        let old_unhealthy = old_total - old_available;
        let mut remove_unhealthy = old_unhealthy.min(can_remove);
        can_remove -= remove_unhealthy;
        let mut remove_healthy =
            (old_available + new.available - min_available).clamp(0, can_remove);
        // Spread removals over old revisions, oldest-listed last revision first.
        for (rev, c) in &olds {
            let unhealthy = (c.total - c.available).min(remove_unhealthy);
            remove_unhealthy -= unhealthy;
            let healthy = c.available.min(remove_healthy);
            remove_healthy -= healthy;
            plan.sets.insert(rev.clone(), c.total - unhealthy - healthy);
        }
        plan.sets.insert(current.to_owned(), new_target);
        plan.sets.entry(stable.to_owned()).or_insert(0);
        if new_target != new.total
            || olds.iter().any(|(rev, c)| plan.sets.get(rev) != Some(&c.total))
        {
            self.progress_ms = input.now_ms;
        }
        if new.available >= n && old_total == 0 && new.total == n {
            plan.events
                .push(("rollout.completed", json!({"revision": current, "previous": stable})));
            self.stable = Some(current.to_owned());
            self.current = None;
            self.restart_rollout(input.now_ms);
            plan.sets.retain(|rev, _| rev == current);
            return;
        }
        plan.phase = Phase::Progressing;
        plan.message = format!("{} of {n} instances at {current} available", new.available);
    }

    /// Recreate: every old instance stops before a new one starts.
    fn recreate(&mut self, stable: &str, current: &str, input: &Input<'_>, plan: &mut Plan) {
        let n = input.replicas.max(0);
        let old_left: i64 = input
            .observed
            .iter()
            .filter(|(rev, _)| rev.as_str() != current)
            .map(|(_, c)| c.total + c.terminating)
            .sum();
        let new = input.observed.get(current).copied().unwrap_or_default();
        plan.sets.insert(current.to_owned(), if old_left == 0 { n } else { 0 });
        if old_left == 0 && new.available >= n && new.total == n {
            plan.events
                .push(("rollout.completed", json!({"revision": current, "previous": stable})));
            self.stable = Some(current.to_owned());
            self.current = None;
            self.restart_rollout(input.now_ms);
            return;
        }
        plan.phase = Phase::Progressing;
        plan.message = if old_left > 0 {
            format!("stopping {old_left} old instances")
        } else {
            format!("{} of {n} instances at {current} available", new.available)
        };
    }

    /// Common ending: drop analyses no longer wanted, report a stalled rollout.
    fn finish(&mut self, mut plan: Plan, input: &Input<'_>) -> Plan {
        let wanted: Vec<(RunKey, String)> =
            plan.analysis.iter().map(|(k, r, _)| (k.clone(), r.clone())).collect();
        self.runs.retain(|r| {
            r.phase != RunPhase::Running
                || wanted.iter().any(|(k, rev)| *k == r.key && *rev == r.revision)
        });
        if self.current.is_none() {
            plan.phase = match self.stable.as_deref().and_then(|s| input.observed.get(s)) {
                Some(c) if c.available >= input.replicas.max(0) => Phase::Healthy,
                _ => Phase::Progressing,
            };
            if plan.message.is_empty() {
                plan.message = match plan.phase {
                    Phase::Healthy => "all instances available".into(),
                    _ => "waiting for instances to become available".into(),
                };
            }
        } else if plan.phase == Phase::Progressing
            && input.progress_deadline_seconds > 0
            && input.now_ms - self.progress_ms
                > input.progress_deadline_seconds.saturating_mul(1000)
        {
            plan.phase = Phase::Degraded;
            plan.message = format!(
                "ProgressDeadlineExceeded: no progress for {}s ({})",
                input.progress_deadline_seconds, plan.message
            );
        }
        plan
    }
}

fn abort_delay(s: &Strategy) -> i64 {
    match s {
        Strategy::Canary(c) => c.abort_scale_down_delay_seconds,
        Strategy::BlueGreen(b) => b.abort_scale_down_delay_seconds,
        _ => 0,
    }
}

fn min_time(a: Option<i64>, b: i64) -> Option<i64> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// `ceil(percent × n / 100)`: Argo's trafficWeightToReplicas.
pub fn ceil_percent(percent: i64, n: i64) -> i64 {
    let num = percent.clamp(0, 100).saturating_mul(n.max(0));
    (num + 99).div_euclid(100)
}

/// How many canary instances the current weight (or an explicit canary scale) needs.
fn canary_replicas(s: &State, n: i64) -> i64 {
    match &s.canary_scale {
        Some(CanaryScale::Replicas(r)) => *r,
        Some(CanaryScale::Weight(w)) => ceil_percent(*w, n),
        Some(CanaryScale::MatchTrafficWeight(_)) | None => ceil_percent(s.weight, n),
    }
}

fn weights(stable: &str, canary: &str, w: i64) -> Vec<(String, u32)> {
    let w = u32::try_from(w.clamp(0, 100)).unwrap_or(0);
    vec![(stable.to_owned(), 100 - w), (canary.to_owned(), w)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use andon_spec::strategy::{Pause, Step, TemplateRef};

    /// A world where instances become available when the test says so.
    struct World {
        observed: BTreeMap<String, Counts>,
        state: State,
        now: i64,
        n: i64,
        strategy: Option<Strategy>,
        desired: String,
        paused: bool,
        freeze: Option<String>,
    }

    impl World {
        fn new(n: i64, strategy: Option<Strategy>) -> World {
            let mut w = World {
                observed: BTreeMap::new(),
                state: State::default(),
                now: 1_000_000,
                n,
                strategy,
                desired: "a".into(),
                paused: false,
                freeze: None,
            };
            let p = w.tick();
            w.settle(&p);
            w.tick();
            w
        }

        fn tick(&mut self) -> Plan {
            let input = Input {
                now_ms: self.now,
                replicas: self.n,
                strategy: self.strategy.as_ref(),
                desired: &self.desired,
                paused: self.paused,
                progress_deadline_seconds: 600,
                observed: &self.observed,
                freeze: self.freeze.as_deref(),
            };
            self.state.reconcile(&input)
        }

        /// Every instance the plan asks for exists and is available.
        fn settle(&mut self, p: &Plan) {
            self.observed.retain(|rev, _| p.sets.contains_key(rev));
            for (rev, n) in &p.sets {
                self.observed
                    .insert(rev.clone(), Counts { total: *n, available: *n, terminating: 0 });
            }
        }

        /// Ticks and settles until the plan stops changing.
        fn run(&mut self) -> Plan {
            let mut last = self.tick();
            for _ in 0..20 {
                self.settle(&last);
                let p = self.tick();
                if p.sets == last.sets && p.weights == last.weights && p.phase == last.phase {
                    return p;
                }
                last = p;
            }
            last
        }
    }

    fn canary(steps: Vec<Step>) -> Strategy {
        Strategy::Canary(Box::new(Canary {
            steps,
            analysis: None,
            max_surge: andon_spec::strategy::IntOrPercent::Percent(25),
            max_unavailable: andon_spec::strategy::IntOrPercent::Percent(25),
            scale_down_delay_seconds: 30,
            abort_scale_down_delay_seconds: 30,
            dynamic_stable_scale: false,
            managed_routes: Vec::new(),
        }))
    }

    fn weight(w: i64) -> Step {
        Step { set_weight: Some(w), ..Step::default() }
    }

    fn pause(d: Option<i64>) -> Step {
        Step { pause: Some(Pause { duration: d }), ..Step::default() }
    }

    fn analysis_step() -> Step {
        Step { analysis: Some(template("error-rate")), ..Step::default() }
    }

    fn template(name: &str) -> AnalysisRef {
        AnalysisRef {
            templates: vec![TemplateRef { template_name: name.into(), cluster_scope: false }],
            args: Vec::new(),
            starting_step: None,
        }
    }

    fn sets(p: &Plan) -> Vec<(&str, i64)> {
        p.sets.iter().map(|(r, n)| (r.as_str(), *n)).collect()
    }

    fn ws(p: &Plan) -> Vec<(&str, u32)> {
        p.weights.iter().map(|(r, w)| (r.as_str(), *w)).collect()
    }

    #[test]
    fn an_error_budget_freeze_holds_new_rollouts_until_overridden() {
        let mut w = World::new(4, Some(canary(vec![weight(50), pause(None)])));
        w.freeze = Some("SLO shop-availability has 3% of its budget left".into());
        w.desired = "b".into();
        let p = w.tick();
        assert_eq!(p.phase, Phase::Paused);
        assert!(p.message.starts_with("ErrorBudgetFrozen: SLO shop-availability"), "{}", p.message);
        assert_eq!(sets(&p), [("a", 4)], "the stable revision keeps running, b does not start");
        assert_eq!(ws(&p), [("a", 100)]);
        assert_eq!(p.events.iter().filter(|(k, _)| *k == "rollout.frozen").count(), 1);
        assert!(w.tick().events.is_empty(), "the freeze is recorded once");
        // Other commands do not apply; the override does, once, for this revision.
        assert!(w.state.command(Command::Promote { full: false }, w.now).is_err());
        let (kind, _) = w.state.command(Command::OverrideFreeze, w.now).unwrap();
        assert_eq!(kind, "rollout.freeze_overridden");
        let p = w.run();
        assert_eq!(ws(&p), [("a", 50), ("b", 50)], "the overridden rollout starts");
        // Going back to the stable revision is never frozen.
        w.desired = "a".into();
        let p = w.run();
        assert_eq!(p.phase, Phase::Healthy);
    }

    #[test]
    fn the_first_revision_runs_without_steps() {
        let mut w = World::new(3, Some(canary(vec![weight(20), pause(None)])));
        let p = w.tick();
        assert_eq!(sets(&p), [("a", 3)]);
        assert_eq!(ws(&p), [("a", 100)]);
        assert_eq!(p.phase, Phase::Healthy);
        assert_eq!(w.state.stable.as_deref(), Some("a"));
    }

    #[test]
    fn canary_walks_its_steps_and_promotes() {
        let mut w =
            World::new(4, Some(canary(vec![weight(20), pause(None), weight(50), pause(Some(10))])));
        w.desired = "b".into();
        let p = w.tick();
        assert_eq!(
            sets(&p),
            [("a", 4), ("b", 1)],
            "ceil(20% of 4) canary instances, stable untouched"
        );
        assert_eq!(ws(&p), [("a", 80), ("b", 20)]);
        assert!(p.events.iter().any(|(k, _)| *k == "rollout.started"));
        let p = w.run();
        assert_eq!(p.phase, Phase::Paused);
        assert_eq!(w.state.pause, Some(PauseReason::CanaryPauseStep));
        assert_eq!(w.state.step, 1);
        w.state.command(Command::Promote { full: false }, w.now).unwrap();
        let p = w.tick();
        assert_eq!(ws(&p), [("a", 50), ("b", 50)]);
        assert_eq!(sets(&p), [("a", 4), ("b", 2)]);
        let p = w.run();
        assert_eq!(w.state.step, 3, "waiting out the timed pause");
        assert_eq!(p.wake_at_ms, Some(w.now + 10_000));
        w.now += 10_000;
        let p = w.run();
        assert_eq!(w.state.stable.as_deref(), Some("b"));
        assert_eq!(w.state.current, None);
        assert_eq!(ws(&p), [("b", 100)]);
        assert_eq!(
            sets(&p),
            [("a", 4), ("b", 4)],
            "the old revision stays for scaleDownDelaySeconds"
        );
        w.now += 30_000;
        let p = w.run();
        assert_eq!(sets(&p), [("b", 4)]);
        assert_eq!(p.phase, Phase::Healthy);
    }

    #[test]
    fn a_failed_analysis_returns_all_traffic_to_stable_in_the_same_decision() {
        let mut w = World::new(2, Some(canary(vec![weight(50), analysis_step(), weight(100)])));
        w.desired = "b".into();
        let p = w.run();
        assert_eq!(p.analysis.len(), 1, "the step's analysis is wanted");
        assert_eq!(p.analysis[0].0, RunKey::Step { step: 1 });
        assert_eq!(ws(&p), [("a", 50), ("b", 50)]);
        w.state.set_run_phase(
            &RunKey::Step { step: 1 },
            "b",
            RunPhase::Failed,
            "error-rate failed".into(),
        );
        let p = w.tick();
        assert_eq!(ws(&p), [("a", 100)]);
        assert_eq!(p.phase, Phase::Degraded);
        assert!(p.message.contains("error-rate failed"), "{}", p.message);
        assert!(p.analysis.is_empty());
        assert_eq!(
            sets(&p),
            [("a", 2), ("b", 1)],
            "the canary stays for abortScaleDownDelaySeconds"
        );
        w.now += 30_000;
        let p = w.run();
        assert_eq!(sets(&p), [("a", 2)]);
        assert_eq!(p.phase, Phase::Degraded, "aborted until retried or replaced");
        // Retry starts over from the first step.
        w.state.command(Command::Retry, w.now).unwrap();
        let p = w.tick();
        assert_eq!(ws(&p), [("a", 50), ("b", 50)]);
        assert_eq!(w.state.aborted, None);
    }

    #[test]
    fn an_error_is_never_success_and_inconclusive_pauses() {
        let mut w = World::new(2, Some(canary(vec![weight(50), analysis_step()])));
        w.desired = "b".into();
        w.run();
        w.state.set_run_phase(
            &RunKey::Step { step: 1 },
            "b",
            RunPhase::Inconclusive,
            String::new(),
        );
        let p = w.tick();
        assert_eq!(p.phase, Phase::Paused);
        assert_eq!(w.state.pause, Some(PauseReason::InconclusiveAnalysisRun));
        w.state.command(Command::Promote { full: false }, w.now).unwrap();
        let p = w.run();
        assert_eq!(w.state.stable.as_deref(), Some("b"), "promote skips the inconclusive step");
        assert_eq!(ws(&p), [("b", 100)]);

        let mut w = World::new(2, Some(canary(vec![weight(50), analysis_step()])));
        w.desired = "b".into();
        w.run();
        w.state.set_run_phase(&RunKey::Step { step: 1 }, "b", RunPhase::Error, "no data".into());
        let p = w.tick();
        assert_eq!(ws(&p), [("a", 100)]);
        assert_eq!(p.phase, Phase::Degraded);
    }

    #[test]
    fn background_analysis_aborts_from_its_starting_step() {
        let mut s = canary(vec![weight(20), pause(None), weight(60), pause(None)]);
        if let Strategy::Canary(c) = &mut s {
            c.analysis = Some(AnalysisRef { starting_step: Some(2), ..template("latency") });
        }
        let mut w = World::new(5, Some(s));
        w.desired = "b".into();
        let p = w.run();
        assert!(p.analysis.is_empty(), "not before step 2");
        w.state.command(Command::Promote { full: false }, w.now).unwrap();
        let p = w.run();
        assert_eq!(p.analysis.len(), 1);
        assert_eq!(p.analysis[0].0, RunKey::Background);
        w.state.set_run_phase(&RunKey::Background, "b", RunPhase::Failed, "p99 over 500ms".into());
        let p = w.tick();
        assert_eq!(ws(&p), [("a", 100)]);
        assert_eq!(p.phase, Phase::Degraded);
    }

    #[test]
    fn going_back_to_stable_is_fast_tracked() {
        let mut w = World::new(3, Some(canary(vec![weight(30), pause(None)])));
        w.desired = "b".into();
        w.run();
        w.desired = "a".into();
        let p = w.tick();
        assert_eq!(ws(&p), [("a", 100)]);
        assert!(p.events.iter().any(|(k, _)| *k == "rollout.fast_tracked"));
        assert_eq!(p.phase, Phase::Healthy);
        assert_eq!(w.state.current, None);
    }

    #[test]
    fn header_routes_send_matching_requests_to_the_canary() {
        let route = HeaderRouteStep {
            name: "beta".into(),
            matches: vec![andon_spec::strategy::HeaderMatch {
                header_name: "x-beta".into(),
                header_value: andon_spec::strategy::StringMatch::Exact("yes".into()),
            }],
        };
        let steps = vec![
            Step { set_canary_scale: Some(CanaryScale::Replicas(1)), ..Step::default() },
            Step { set_header_route: Some(route.clone()), ..Step::default() },
            pause(None),
            Step {
                set_header_route: Some(HeaderRouteStep { name: "beta".into(), matches: vec![] }),
                ..Step::default()
            },
        ];
        let mut w = World::new(3, Some(canary(steps)));
        w.desired = "b".into();
        let p = w.run();
        assert_eq!(sets(&p), [("a", 3), ("b", 1)]);
        assert_eq!(ws(&p), [("a", 100), ("b", 0)]);
        assert_eq!(p.routes, [Route { route, revision: "b".into() }]);
        w.state.command(Command::Promote { full: false }, w.now).unwrap();
        let p = w.run();
        assert!(p.routes.is_empty());
        assert_eq!(w.state.stable.as_deref(), Some("b"));
    }

    #[test]
    fn promote_full_skips_everything_left() {
        let mut w =
            World::new(2, Some(canary(vec![weight(10), pause(None), analysis_step(), weight(50)])));
        w.desired = "b".into();
        w.run();
        w.state.command(Command::Promote { full: true }, w.now).unwrap();
        let p = w.run();
        assert_eq!(ws(&p), [("b", 100)]);
        assert!(p.analysis.is_empty());
    }

    fn blue_green(auto: bool, pre: Option<AnalysisRef>, post: Option<AnalysisRef>) -> Strategy {
        Strategy::BlueGreen(Box::new(BlueGreen {
            active_service: None,
            preview_service: None,
            preview_replica_count: Some(1),
            auto_promotion_enabled: auto,
            auto_promotion_seconds: None,
            scale_down_delay_seconds: 30,
            abort_scale_down_delay_seconds: 30,
            pre_promotion_analysis: pre,
            post_promotion_analysis: post,
        }))
    }

    #[test]
    fn blue_green_previews_then_switches_at_once() {
        let mut w = World::new(3, Some(blue_green(false, None, None)));
        w.desired = "b".into();
        let p = w.run();
        assert_eq!(sets(&p), [("a", 3), ("b", 1)], "previewReplicaCount instances");
        assert_eq!(ws(&p), [("a", 100)]);
        assert_eq!(p.preview.as_deref(), Some("b"));
        assert_eq!(w.state.pause, Some(PauseReason::BlueGreenPause));
        w.state.command(Command::Promote { full: false }, w.now).unwrap();
        let p = w.tick();
        assert_eq!(sets(&p), [("a", 3), ("b", 3)], "scaled up before the switch");
        assert_eq!(ws(&p), [("a", 100)]);
        let p = w.run();
        assert_eq!(ws(&p), [("b", 100)]);
        assert_eq!(sets(&p), [("a", 3), ("b", 3)], "the old one stays for the delay");
        w.now += 30_000;
        assert_eq!(sets(&w.run()), [("b", 3)]);
    }

    #[test]
    fn blue_green_analyses_gate_and_undo_the_switch() {
        let mut w = World::new(2, Some(blue_green(true, Some(template("smoke")), None)));
        w.desired = "b".into();
        let p = w.run();
        assert_eq!(p.analysis[0].0, RunKey::PrePromotion);
        w.state.set_run_phase(&RunKey::PrePromotion, "b", RunPhase::Failed, "smoke failed".into());
        let p = w.tick();
        assert_eq!(p.phase, Phase::Degraded);
        assert_eq!(ws(&p), [("a", 100)]);

        let mut w = World::new(2, Some(blue_green(true, None, Some(template("post")))));
        w.desired = "b".into();
        let p = w.run();
        assert_eq!(ws(&p), [("b", 100)], "auto-promoted");
        assert_eq!(p.analysis[0].0, RunKey::PostPromotion);
        w.state.set_run_phase(&RunKey::PostPromotion, "b", RunPhase::Failed, "errors".into());
        let p = w.tick();
        assert_eq!(ws(&p), [("a", 100)], "switched back: the old revision is still up");
        assert_eq!(p.phase, Phase::Degraded);
    }

    #[test]
    fn promoting_a_blue_green_pause_still_runs_post_promotion_analysis() {
        let mut w = World::new(2, Some(blue_green(false, None, Some(template("post")))));
        w.desired = "b".into();
        w.run();
        assert_eq!(w.state.pause, Some(PauseReason::BlueGreenPause));
        w.state.command(Command::Promote { full: false }, w.now).unwrap();
        let p = w.run();
        assert_eq!(ws(&p), [("b", 100)]);
        assert_eq!(p.analysis.len(), 1);
        assert_eq!(p.analysis[0].0, RunKey::PostPromotion);
        w.state.set_run_phase(&RunKey::PostPromotion, "b", RunPhase::Successful, String::new());
        w.run();
        assert_eq!(w.state.stable.as_deref(), Some("b"));
    }

    #[test]
    fn rolling_update_keeps_within_surge_and_unavailable() {
        let mut w = World::new(4, None);
        w.desired = "b".into();
        // 25%/25% of 4: surge 1, unavailable 1.
        let p = w.tick();
        assert_eq!(sets(&p), [("a", 3), ("b", 1)]);
        assert!(p.weights.is_empty(), "traffic follows the instances");
        let mut seen = vec![sets(&p).iter().map(|(r, n)| (r.to_string(), *n)).collect::<Vec<_>>()];
        for _ in 0..10 {
            let p = w.tick();
            let total: i64 = p.sets.values().sum();
            assert!(total <= 5, "never more than replicas + surge: {:?}", p.sets);
            w.settle(&p);
            seen.push(sets(&p).iter().map(|(r, n)| (r.to_string(), *n)).collect());
            if w.state.current.is_none() {
                break;
            }
        }
        assert_eq!(w.state.stable.as_deref(), Some("b"), "{seen:?}");
        assert_eq!(sets(&w.tick()), [("b", 4)]);
    }

    #[test]
    fn recreate_stops_everything_first() {
        let mut w = World::new(2, Some(Strategy::Recreate {}));
        w.desired = "b".into();
        let p = w.tick();
        assert_eq!(sets(&p), [("b", 0)]);
        w.settle(&p);
        let p = w.tick();
        assert_eq!(sets(&p), [("b", 2)]);
        w.settle(&p);
        w.tick();
        assert_eq!(w.state.stable.as_deref(), Some("b"));
    }

    #[test]
    fn a_stalled_rollout_is_degraded_after_the_deadline() {
        let mut w = World::new(2, Some(canary(vec![weight(50)])));
        w.desired = "b".into();
        let p = w.tick();
        assert_eq!(p.phase, Phase::Progressing);
        // The canary never becomes available.
        w.now += 601_000;
        let p = w.tick();
        assert_eq!(p.phase, Phase::Degraded);
        assert!(p.message.starts_with("ProgressDeadlineExceeded"), "{}", p.message);
    }

    #[test]
    fn state_survives_a_journal_round_trip() {
        let mut w = World::new(3, Some(canary(vec![weight(30), pause(None)])));
        w.desired = "b".into();
        w.run();
        let text = serde_json::to_string(&w.state).unwrap();
        let back: State = serde_json::from_str(&text).unwrap();
        assert_eq!(back, w.state);
    }

    #[test]
    fn commands_that_do_not_apply_say_why() {
        let mut s = State { stable: Some("a".into()), ..State::default() };
        assert!(s.command(Command::Abort, 0).unwrap_err().contains("no rollout in progress"));
        s.current = Some("b".into());
        assert!(s.command(Command::Retry, 0).unwrap_err().contains("only an aborted"));
        s.command(Command::Abort, 0).unwrap();
        assert!(s.command(Command::Promote { full: false }, 0).unwrap_err().contains("retry"));
    }

    #[test]
    fn traffic_weight_to_replicas_rounds_up() {
        // Argo Rollouts' TestTrafficWeightToReplicas: 33% of 10 is 4.
        assert_eq!(ceil_percent(33, 10), 4);
        assert_eq!(ceil_percent(0, 10), 0);
        assert_eq!(ceil_percent(100, 3), 3);
        assert_eq!(ceil_percent(1, 1), 1);
    }
}
