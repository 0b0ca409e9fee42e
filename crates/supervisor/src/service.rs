//! The controller of one service: turns its desired spec into running instances with
//! `plan::decide`, publishes ready endpoints to the router, keeps a status snapshot and
//! reports every lifecycle change.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use andon_core::{Clock, ObjectRef, SystemClock, Timestamp};
use andon_spec::service::ServiceSpec;
use serde::Serialize;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::instance::{self, Change, InstanceEnv, Report};
use crate::logs::LogStore;
use crate::plan::{Action, View, decide};
use crate::{Endpoint, RuntimeEvent, Shared};

/// The instances of one revision.
#[derive(Debug, Clone)]
pub struct RevisionSet {
    pub spec: Arc<ServiceSpec>,
    pub replicas: usize,
}

/// What the service should be: how many instances of each revision run.
#[derive(Debug, Clone)]
pub struct Desired {
    /// The revision the spec asks for (status counts its instances as updated).
    pub revision: String,
    /// The replicas the spec asks for.
    pub replicas: usize,
    /// Instances per revision (identified by [`crate::revision`]); unlisted revisions
    /// have none.
    pub sets: BTreeMap<String, RevisionSet>,
}

impl Desired {
    /// All `spec.replicas` instances at the spec's revision, nothing else.
    pub fn single(spec: ServiceSpec) -> Desired {
        let revision = crate::revision(&spec);
        let replicas = usize::try_from(spec.replicas).unwrap_or(0);
        let spec = Arc::new(spec);
        let sets = BTreeMap::from([(revision.clone(), RevisionSet { spec, replicas })]);
        Desired { revision, replicas, sets }
    }

    /// The longest a stop of everything may take.
    pub(crate) fn stop_budget(&self) -> Duration {
        self.sets.values().map(|s| stop_budget(&s.spec)).max().unwrap_or(Duration::from_secs(35))
    }
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Termination {
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    pub message: String,
    pub finished_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceStatus {
    pub id: u32,
    pub revision: String,
    /// Starting, Running, BackOff or Terminating.
    pub phase: &'static str,
    pub ready: bool,
    /// Since when it has been ready (for `minReadySeconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_since: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub restarts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_termination: Option<Termination>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub status: &'static str,
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    pub replicas: usize,
    pub ready_replicas: usize,
    pub updated_replicas: usize,
    pub restarts: u32,
    pub revision: String,
    pub conditions: Vec<Condition>,
    pub instances: Vec<InstanceStatus>,
}

struct Inst {
    revision: String,
    ready: bool,
    ready_since: Option<Timestamp>,
    terminating: bool,
    stop: watch::Sender<bool>,
    pid: Option<u32>,
    port: Option<u16>,
    restarts: u32,
    backing_off: bool,
    started_at: Option<Timestamp>,
    last_termination: Option<Termination>,
}

pub(crate) async fn control(
    key: ObjectRef,
    shared: Arc<Shared>,
    mut desired_rx: watch::Receiver<Option<Desired>>,
    status: watch::Sender<ServiceStatus>,
    logs: Arc<LogStore>,
) {
    let (reports_tx, mut reports_rx) = mpsc::unbounded_channel::<Report>();
    let mut instances: BTreeMap<u32, Inst> = BTreeMap::new();
    let mut next_id: u32 = 0;
    let mut envs: BTreeMap<String, Arc<InstanceEnv>> = BTreeMap::new();
    let mut last_replicas: Option<usize> = None;
    let mut last_revision = String::new();
    let emit = |kind: &'static str, instance: Option<u32>, data: serde_json::Value| {
        shared.emit(RuntimeEvent { service: key.clone(), kind, instance, data });
    };
    loop {
        let desired = desired_rx.borrow_and_update().clone();
        let (replicas, sets) = match &desired {
            Some(d) => {
                last_revision.clone_from(&d.revision);
                (d.replicas, d.sets.iter().map(|(r, s)| (r.clone(), s.replicas)).collect())
            }
            None => (0, BTreeMap::new()),
        };
        let revision = last_revision.clone();
        if desired.is_some() && last_replicas != Some(replicas) {
            if let Some(from) = last_replicas {
                emit("service.scaled", None, json!({"from": from, "to": replicas}));
            }
            last_replicas = Some(replicas);
        }
        if let Some(d) = &desired {
            envs.retain(|rev, _| {
                d.sets.contains_key(rev) || instances.values().any(|i| &i.revision == rev)
            });
            for (rev, set) in &d.sets {
                if envs.get(rev).is_none_or(|e| !Arc::ptr_eq(&e.spec, &set.spec)) {
                    envs.insert(
                        rev.clone(),
                        Arc::new(InstanceEnv {
                            spec: set.spec.clone(),
                            path_prepend: shared.path_prepend.clone(),
                            logs: logs.clone(),
                            records: shared.records.clone(),
                            reports: reports_tx.clone(),
                        }),
                    );
                }
            }
        }
        let views: Vec<View> = instances
            .iter()
            .map(|(id, i)| View {
                id: *id,
                revision: i.revision.clone(),
                ready: i.ready,
                terminating: i.terminating,
            })
            .collect();
        for action in decide(&sets, &views) {
            match action {
                Action::Start(revision) => {
                    let Some(env) = envs.get(&revision).cloned() else { continue };
                    let id = next_id;
                    next_id += 1;
                    let (stop_tx, stop_rx) = watch::channel(false);
                    tokio::spawn(instance::run(id, env, stop_rx));
                    instances.insert(
                        id,
                        Inst {
                            revision,
                            ready: false,
                            ready_since: None,
                            terminating: false,
                            stop: stop_tx,
                            pid: None,
                            port: None,
                            restarts: 0,
                            backing_off: false,
                            started_at: None,
                            last_termination: None,
                        },
                    );
                }
                Action::Stop(id) => {
                    if let Some(i) = instances.get_mut(&id) {
                        i.terminating = true;
                        i.ready = false;
                        i.ready_since = None;
                        let _ = i.stop.send(true);
                    }
                }
            }
        }
        publish(&key, &shared, &instances);
        status.send_replace(snapshot(replicas, &revision, &instances));
        shared.status_changed(&key);
        if desired.is_none() && instances.is_empty() {
            return;
        }
        tokio::select! {
            changed = desired_rx.changed() => {
                if changed.is_err() && instances.is_empty() {
                    return;
                }
            }
            Some(r) = reports_rx.recv() => {
                apply_report(&mut instances, r, &emit);
                // Take every report already queued before deciding again.
                while let Ok(r) = reports_rx.try_recv() {
                    apply_report(&mut instances, r, &emit);
                }
            }
        }
    }
}

fn apply_report(
    instances: &mut BTreeMap<u32, Inst>,
    r: Report,
    emit: &impl Fn(&'static str, Option<u32>, serde_json::Value),
) {
    let id = r.instance;
    let Some(i) = instances.get_mut(&id) else { return };
    match r.change {
        Change::Started { pid, port } => {
            i.pid = Some(pid);
            i.port = Some(port);
            i.backing_off = false;
            i.started_at = Some(SystemClock.now());
            let kind = if i.restarts > 0 { "instance.restarted" } else { "instance.started" };
            emit(
                kind,
                Some(id),
                json!({"pid": pid, "port": port, "revision": i.revision, "restarts": i.restarts}),
            );
        }
        Change::Ready { port } => {
            i.ready = !i.terminating;
            if i.ready {
                i.ready_since = Some(SystemClock.now());
            }
            emit("instance.ready", Some(id), json!({"port": port}));
        }
        Change::Unready { reason } => {
            let was = i.ready;
            i.ready = false;
            i.ready_since = None;
            if was {
                emit("instance.unready", Some(id), json!({"reason": reason}));
            }
        }
        Change::Exited { reason, exit_code, signal, message, restarting, delay } => {
            i.ready = false;
            i.ready_since = None;
            i.pid = None;
            i.port = None;
            i.backing_off = restarting;
            if restarting {
                i.restarts += 1;
            }
            emit(
                "instance.exited",
                Some(id),
                json!({"reason": reason, "exitCode": exit_code, "signal": signal, "message": message, "restartInSeconds": delay.as_secs()}),
            );
            i.last_termination = Some(Termination {
                reason,
                exit_code,
                signal,
                message,
                finished_at: SystemClock.now(),
            });
        }
        Change::ProbeFailed { probe, message } => {
            i.ready = false;
            i.ready_since = None;
            emit("instance.probe_failed", Some(id), json!({"probe": probe, "message": message}));
        }
        Change::Stopped => {
            emit("instance.stopped", Some(id), json!({}));
            instances.remove(&id);
        }
    }
}

fn publish(key: &ObjectRef, shared: &Shared, instances: &BTreeMap<u32, Inst>) {
    let endpoints: Vec<Endpoint> = instances
        .iter()
        .filter(|(_, i)| i.ready && !i.terminating)
        .filter_map(|(id, i)| {
            Some(Endpoint {
                instance: *id,
                addr: SocketAddr::from(([127, 0, 0, 1], i.port?)),
                revision: i.revision.clone(),
            })
        })
        .collect();
    shared.sink.set_endpoints(key, endpoints);
}

fn snapshot(replicas: usize, revision: &str, instances: &BTreeMap<u32, Inst>) -> ServiceStatus {
    let live = || instances.values().filter(|i| !i.terminating);
    let ready = live().filter(|i| i.ready).count();
    let updated = live().filter(|i| i.revision == revision).count();
    let restarts = instances.values().map(|i| i.restarts).sum();
    let crashing: Vec<String> = instances
        .iter()
        .filter(|(_, i)| i.backing_off)
        .map(|(id, i)| {
            let t = i.last_termination.as_ref();
            format!(
                "instance {id}: {} ({})",
                t.map_or("", |t| t.reason.as_str()),
                t.map_or("", |t| t.message.as_str())
            )
        })
        .collect();
    let available = ready >= replicas;
    let mut conditions = vec![Condition {
        type_: "Available",
        status: if available { "True" } else { "False" },
        reason: if available {
            "MinimumReplicasAvailable".into()
        } else {
            "MinimumReplicasUnavailable".into()
        },
        message: format!("{ready} of {replicas} replicas ready"),
    }];
    let progressing = updated == replicas && ready >= replicas;
    conditions.push(Condition {
        type_: "Progressing",
        status: "True",
        reason: if progressing {
            "NewReplicaSetAvailable".into()
        } else {
            "ReplicaSetUpdating".into()
        },
        message: format!("{updated} of {replicas} replicas at revision {revision}"),
    });
    if !crashing.is_empty() {
        conditions.push(Condition {
            type_: "CrashLoopBackOff",
            status: "True",
            reason: "BackOff".into(),
            message: crashing.join("; "),
        });
    }
    ServiceStatus {
        replicas,
        ready_replicas: ready,
        updated_replicas: updated,
        restarts,
        revision: revision.to_owned(),
        conditions,
        instances: instances
            .iter()
            .map(|(id, i)| InstanceStatus {
                id: *id,
                revision: i.revision.clone(),
                phase: if i.terminating {
                    "Terminating"
                } else if i.backing_off {
                    "BackOff"
                } else if i.pid.is_some() {
                    "Running"
                } else {
                    "Starting"
                },
                ready: i.ready,
                ready_since: i.ready_since,
                pid: i.pid,
                port: i.port,
                restarts: i.restarts,
                started_at: i.started_at,
                last_termination: i.last_termination.clone(),
            })
            .collect(),
    }
}

/// How long a stop of everything may take: the longest grace period plus a margin.
pub(crate) fn stop_budget(spec: &ServiceSpec) -> Duration {
    Duration::from_secs(u64::try_from(spec.termination_grace_period_seconds).unwrap_or(30) + 5)
}
