//! andon's local runtime: each Service's replicas run as supervised child processes,
//! probed like Kubernetes would, restarted with CrashLoopBackOff, stopped gracefully,
//! and never left behind when andon dies.
//!
//! The pure decisions live in `plan` (what to start and stop) and `probe::Tracker`
//! (when a probe's verdict changes); the rest is the IO shell around them.

pub mod instance;
pub mod logs;
pub mod plan;
pub mod probe;
pub mod process;
pub mod reaper;
pub mod records;
pub mod service;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_core::ObjectRef;
use andon_spec::service::ServiceSpec;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use logs::{LogLine, LogStore};
pub use service::{Desired, RevisionSet, ServiceStatus};

/// A ready instance the router may send traffic to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub instance: u32,
    pub addr: SocketAddr,
    pub revision: String,
}

/// Receives each service's ready endpoints whenever they change (the router).
pub trait EndpointSink: Send + Sync {
    fn set_endpoints(&self, service: &ObjectRef, endpoints: Vec<Endpoint>);
}

/// A lifecycle change worth a journal event (`instance.ready`, `service.scaled`, …).
#[derive(Debug, Clone)]
pub struct RuntimeEvent {
    pub service: ObjectRef,
    pub kind: &'static str,
    pub instance: Option<u32>,
    pub data: serde_json::Value,
}

/// What the runtime tells the rest of andon.
#[derive(Debug, Clone)]
pub enum Message {
    Event(RuntimeEvent),
    /// The service's status snapshot changed.
    StatusChanged(ObjectRef),
}

pub(crate) struct Shared {
    pub(crate) sink: Arc<dyn EndpointSink>,
    pub(crate) out: mpsc::UnboundedSender<Message>,
    pub(crate) path_prepend: Vec<PathBuf>,
    pub(crate) records: Arc<records::Records>,
}

impl Shared {
    pub(crate) fn emit(&self, e: RuntimeEvent) {
        let _ = self.out.send(Message::Event(e));
    }

    pub(crate) fn status_changed(&self, key: &ObjectRef) {
        let _ = self.out.send(Message::StatusChanged(key.clone()));
    }
}

struct Svc {
    desired: watch::Sender<Option<Desired>>,
    status: watch::Sender<ServiceStatus>,
    logs: Arc<LogStore>,
    task: JoinHandle<()>,
    grace: Duration,
}

/// How many lines of a job's output are kept for its result.
const JOB_TAIL_LINES: usize = 20;

/// How a one-off job ended.
#[derive(Debug, Clone)]
pub struct JobOutcome {
    /// Exited 0.
    pub succeeded: bool,
    pub reason: String,
    /// The last lines it wrote (stdout and stderr).
    pub output: String,
}

/// Settings of the runtime.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where the record of running processes is kept (`None`: no record).
    pub data_dir: Option<PathBuf>,
    /// Put first on every child's PATH.
    pub path_prepend: Vec<PathBuf>,
    /// A binary that runs [`reaper::main`] when given [`reaper::ARG`] (andon's own).
    pub reaper: Option<PathBuf>,
}

pub struct Supervisor {
    shared: Arc<Shared>,
    services: Mutex<HashMap<ObjectRef, Svc>>,
}

impl Supervisor {
    /// Creates the runtime, first stopping whatever a crashed predecessor left running.
    pub fn new(
        config: Config,
        sink: Arc<dyn EndpointSink>,
        out: mpsc::UnboundedSender<Message>,
    ) -> Supervisor {
        process::sweep_cpu_groups();
        let reaper = config.reaper.as_deref().and_then(|p| match reaper::Reaper::spawn(p) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the reaper; a crash may leave services' own children running");
                None
            }
        });
        let records = Arc::new(records::Records::new(
            config.data_dir.map(|d| d.join("processes.json")),
            reaper,
        ));
        let reaped = records.reap_leftovers();
        if reaped > 0 {
            tracing::warn!(reaped, "stopped processes left by a previous andon");
        }
        Supervisor {
            shared: Arc::new(Shared { sink, out, path_prepend: config.path_prepend, records }),
            services: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `key` as `desired` says: starts and stops instances of each revision.
    pub fn apply(&self, key: &ObjectRef, desired: Desired) {
        let Ok(mut services) = self.services.lock() else { return };
        if let Some(s) = services.get_mut(key)
            && !s.task.is_finished()
        {
            s.grace = desired.stop_budget();
            s.desired.send_replace(Some(desired));
            return;
        }
        let grace = desired.stop_budget();
        let (tx, rx) = watch::channel(Some(desired));
        let (status, _) = watch::channel(ServiceStatus::default());
        let logs = services
            .get(key)
            .map(|s| s.logs.clone())
            .unwrap_or_else(|| Arc::new(LogStore::new(logs::DEFAULT_BUDGET_BYTES)));
        let task = tokio::spawn(service::control(
            key.clone(),
            self.shared.clone(),
            rx,
            status.clone(),
            logs.clone(),
        ));
        services.insert(key.clone(), Svc { desired: tx, status, logs, task, grace });
    }

    /// Stops every instance of `key`; returns once they are gone.
    pub async fn remove(&self, key: &ObjectRef) {
        let waiting = {
            let Ok(mut services) = self.services.lock() else { return };
            services.remove(key).map(|s| {
                s.desired.send_replace(None);
                (s.task, s.grace)
            })
        };
        if let Some((task, grace)) = waiting {
            let _ = tokio::time::timeout(grace, task).await;
        }
        self.shared.sink.set_endpoints(key, Vec::new());
    }

    pub fn status(&self, key: &ObjectRef) -> Option<ServiceStatus> {
        let services = self.services.lock().ok()?;
        Some(services.get(key)?.status.borrow().clone())
    }

    /// Follows the status of `key` (once it has been applied).
    pub fn subscribe(&self, key: &ObjectRef) -> Option<watch::Receiver<ServiceStatus>> {
        let services = self.services.lock().ok()?;
        Some(services.get(key)?.status.subscribe())
    }

    pub fn logs(&self, key: &ObjectRef) -> Option<Arc<LogStore>> {
        self.services.lock().ok()?.get(key).map(|s| s.logs.clone())
    }

    /// Runs a one-off process to completion (an analysis job): recorded like an
    /// instance so it never outlives andon, stopped (SIGTERM, 5 s, SIGKILL) at
    /// `deadline`. Returns how it ended and the last lines of its output.
    pub async fn run_job(
        &self,
        program: &str,
        args: &[String],
        env: &std::collections::BTreeMap<String, String>,
        working_dir: Option<&str>,
        deadline: Duration,
    ) -> Result<JobOutcome, String> {
        let launch = process::Launch {
            program: program.to_owned(),
            args: args.to_vec(),
            env: env.clone(),
            working_dir: working_dir.map(PathBuf::from),
            path_prepend: self.shared.path_prepend.clone(),
            memory_limit: None,
            cpu_limit_millis: None,
        };
        let mut child =
            process::spawn(&launch).map_err(|e| format!("cannot start {program:?}: {e}"))?;
        let pid = child.id();
        if let Some(pid) = pid {
            self.shared.records.add(pid);
        }
        let tail = Arc::new(Mutex::new(std::collections::VecDeque::<String>::new()));
        let mut readers = Vec::new();
        for out in [
            child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let tail = tail.clone();
            readers.push(tokio::spawn(async move {
                use tokio::io::AsyncBufReadExt;
                let mut lines = tokio::io::BufReader::new(out).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(mut t) = tail.lock() {
                        t.push_back(line);
                        if t.len() > JOB_TAIL_LINES {
                            t.pop_front();
                        }
                    }
                }
            }));
        }
        let (status, timed_out) = match tokio::time::timeout(deadline, child.wait()).await {
            Ok(s) => (s.ok(), false),
            Err(_) => (process::stop(&mut child, Duration::from_secs(5)).await, true),
        };
        if let Some(pid) = pid {
            // Whatever the job left in its group goes with it.
            process::signal_group(pid, process::SIGKILL);
            self.shared.records.remove(pid);
        }
        for r in readers {
            let _ = tokio::time::timeout(Duration::from_secs(1), r).await;
        }
        let output = tail
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default();
        if timed_out {
            return Ok(JobOutcome {
                succeeded: false,
                reason: format!("DeadlineExceeded: still running after {}s", deadline.as_secs()),
                output,
            });
        }
        let (reason, code, signal) =
            status.as_ref().map_or(("Unknown".into(), None, None), process::termination);
        Ok(JobOutcome {
            succeeded: code == Some(0),
            reason: match (code, signal) {
                (Some(c), _) => format!("{reason}: exit code {c}"),
                (_, Some(s)) => format!("{reason}: signal {s}"),
                _ => reason,
            },
            output,
        })
    }

    pub fn services(&self) -> Vec<ObjectRef> {
        self.services.lock().map(|s| s.keys().cloned().collect()).unwrap_or_default()
    }

    /// Stops every service gracefully: all are told at once, then awaited together for at
    /// most the longest grace period.
    pub async fn shutdown(&self) {
        let mut stopping: Vec<(ObjectRef, JoinHandle<()>, Duration)> = match self.services.lock() {
            Ok(mut services) => services
                .drain()
                .map(|(k, s)| {
                    s.desired.send_replace(None);
                    (k, s.task, s.grace)
                })
                .collect(),
            Err(_) => return,
        };
        let budget = stopping.iter().map(|(_, _, g)| *g).max().unwrap_or_default();
        let all = async {
            for (_, task, _) in &mut stopping {
                let _ = task.await;
            }
        };
        let _ = tokio::time::timeout(budget, all).await;
        for (key, _, _) in &stopping {
            self.shared.sink.set_endpoints(key, Vec::new());
        }
    }
}

/// Identifies what runs: a hash of everything in the spec except how many run, where
/// they are served and how a new revision rolls out, like Kubernetes' pod-template-hash.
pub fn revision(spec: &ServiceSpec) -> String {
    let mut v = serde_json::to_value(spec).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        for f in andon_spec::service::ROLLOUT_FIELDS {
            m.remove(*f);
        }
    }
    let text = v.to_string();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:010x}", h & 0xff_ffff_ffff)
}
