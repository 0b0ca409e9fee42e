//! One instance (replica) of a service: start the process, capture its output, run its
//! probes with Kubernetes semantics, restart it with CrashLoopBackOff, stop it gracefully.

use std::sync::Arc;
use std::time::Duration;

use andon_core::{Clock, SystemClock};
use andon_spec::service::{Probe, ServiceSpec};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::logs::{LogLine, LogStore};
use crate::plan::{BACKOFF_RESET_AFTER, backoff};
use crate::probe::{Checker, Tracker};
use crate::process::{Launch, free_port, spawn_limited, stop, termination};
use crate::records::Records;

/// What happened to an instance, reported to its service's controller.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Started {
        pid: u32,
        port: u16,
    },
    Ready {
        port: u16,
    },
    Unready {
        reason: String,
    },
    /// The process ended (`restarting` when the instance will start again after `delay`).
    Exited {
        reason: String,
        exit_code: Option<i32>,
        signal: Option<i32>,
        message: String,
        restarting: bool,
        delay: Duration,
    },
    /// A liveness or startup probe failed its threshold: the process is being restarted.
    ProbeFailed {
        probe: &'static str,
        message: String,
    },
    /// Stopped on request; the instance is gone.
    Stopped,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub instance: u32,
    pub change: Change,
}

/// Shared by all instances of one service.
pub struct InstanceEnv {
    pub spec: Arc<ServiceSpec>,
    pub path_prepend: Vec<std::path::PathBuf>,
    pub logs: Arc<LogStore>,
    pub records: Arc<Records>,
    pub reports: mpsc::UnboundedSender<Report>,
}

/// Runs instance `id` until `stop_rx` turns true.
pub async fn run(id: u32, env: Arc<InstanceEnv>, mut stop_rx: watch::Receiver<bool>) {
    let report = |change: Change| {
        let _ = env.reports.send(Report { instance: id, change });
    };
    let spec = &env.spec;
    let grace =
        Duration::from_secs(u64::try_from(spec.termination_grace_period_seconds).unwrap_or(30));
    let mut streak: u32 = 0;
    loop {
        let port = match free_port() {
            Ok(p) => p,
            Err(e) => {
                report(Change::Exited {
                    reason: "StartError".into(),
                    exit_code: None,
                    signal: None,
                    message: format!("no free port: {e}"),
                    restarting: true,
                    delay: backoff(streak),
                });
                if sleep_or_stop(backoff(streak), &mut stop_rx).await {
                    return report(Change::Stopped);
                }
                streak += 1;
                continue;
            }
        };
        let launch = launch_for(spec, port, &env.path_prepend);
        let (mut child, _cpu_group) = match spawn_limited(&launch) {
            Ok(c) => c,
            Err(e) => {
                let delay = backoff(streak);
                let message = match &spec.image {
                    Some(image) if launch.program.is_empty() => format!(
                        "image {image:?} has no command: andon runs local processes, give spec.command"
                    ),
                    _ => format!("cannot start {:?}: {e}", launch.program),
                };
                env.logs.push(LogLine {
                    time: SystemClock.now(),
                    instance: id,
                    stream: "andon",
                    text: message.clone(),
                });
                report(Change::Exited {
                    reason: "StartError".into(),
                    exit_code: None,
                    signal: None,
                    message,
                    restarting: true,
                    delay,
                });
                if sleep_or_stop(delay, &mut stop_rx).await {
                    return report(Change::Stopped);
                }
                streak += 1;
                continue;
            }
        };
        let pid = child.id().unwrap_or(0);
        env.records.add(pid);
        let started = Instant::now();
        report(Change::Started { pid, port });
        for (stream, pipe) in [
            (
                "stdout",
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            ),
            (
                "stderr",
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            ),
        ] {
            let Some(pipe) = pipe else { continue };
            let logs = env.logs.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(text)) = lines.next_line().await {
                    logs.push(LogLine { time: SystemClock.now(), instance: id, stream, text });
                }
            });
        }
        let checker = Checker {
            http: Checker::http_client(),
            port,
            service_ports: spec.ports.iter().map(|p| p.port).filter(|p| *p != 0).collect(),
            env: launch.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            working_dir: launch.working_dir.clone(),
        };
        let outcome =
            watch_process(&mut child, spec, &checker, started, &mut stop_rx, &report).await;
        let status = match outcome {
            Outcome::StopRequested => {
                report(Change::Unready { reason: "Terminating".into() });
                stop(&mut child, grace).await;
                env.records.remove(pid);
                return report(Change::Stopped);
            }
            Outcome::Exited(status) => status,
            Outcome::ProbeFailed(probe, message) => {
                report(Change::ProbeFailed { probe, message });
                let probe_grace = match probe {
                    "liveness" => spec.liveness_probe.as_ref(),
                    _ => spec.startup_probe.as_ref(),
                }
                .and_then(|p| p.termination_grace_period_seconds)
                .map_or(grace, |s| Duration::from_secs(u64::try_from(s).unwrap_or(30)));
                stop(&mut child, probe_grace).await
            }
        };
        env.records.remove(pid);
        if started.elapsed() >= BACKOFF_RESET_AFTER {
            streak = 0;
        }
        let delay = backoff(streak);
        let (reason, exit_code, signal) =
            status.as_ref().map_or(("Unknown".into(), None, None), termination);
        let message = match (exit_code, signal) {
            (Some(c), _) => {
                format!("exited with code {c} after {:.1}s", started.elapsed().as_secs_f64())
            }
            (_, Some(s)) => {
                format!("killed by signal {s} after {:.1}s", started.elapsed().as_secs_f64())
            }
            _ => "ended".into(),
        };
        report(Change::Exited { reason, exit_code, signal, message, restarting: true, delay });
        if sleep_or_stop(delay, &mut stop_rx).await {
            return report(Change::Stopped);
        }
        streak = streak.saturating_add(1);
    }
}

/// Sleeps for `d`; true when a stop was requested meanwhile.
async fn sleep_or_stop(d: Duration, stop_rx: &mut watch::Receiver<bool>) -> bool {
    if *stop_rx.borrow() {
        return true;
    }
    let stopped = tokio::select! {
        _ = tokio::time::sleep(d) => false,
        r = stop_rx.wait_for(|s| *s) => r.is_ok(),
    };
    stopped || *stop_rx.borrow()
}

fn launch_for(spec: &ServiceSpec, port: u16, path_prepend: &[std::path::PathBuf]) -> Launch {
    let mut env: std::collections::BTreeMap<String, String> =
        spec.env.iter().map(|e| (e.name.clone(), e.value.clone())).collect();
    env.insert("PORT".into(), port.to_string());
    let (program, rest) =
        spec.command.split_first().map_or((String::new(), &[][..]), |(p, r)| (p.clone(), r));
    let mut args: Vec<String> = rest.to_vec();
    args.extend(spec.args.iter().cloned());
    Launch {
        program,
        args,
        env,
        working_dir: spec.working_dir.as_ref().map(std::path::PathBuf::from),
        path_prepend: path_prepend.to_vec(),
        memory_limit: spec
            .resources
            .limits
            .get("memory")
            .and_then(|q| u64::try_from(q.value()).ok())
            .filter(|b| *b > 0),
        cpu_limit_millis: spec
            .resources
            .limits
            .get("cpu")
            .and_then(|q| u64::try_from(q.milli_value()).ok())
            .filter(|m| *m > 0),
    }
}

enum Outcome {
    StopRequested,
    Exited(Option<std::process::ExitStatus>),
    ProbeFailed(&'static str, String),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Startup,
    Readiness,
    Liveness,
}

fn secs(n: i64) -> Duration {
    Duration::from_secs(u64::try_from(n).unwrap_or(0))
}

/// Watches the running process: exits, stop requests, and the probe schedule.
async fn watch_process(
    child: &mut tokio::process::Child,
    spec: &ServiceSpec,
    checker: &Checker,
    started: Instant,
    stop_rx: &mut watch::Receiver<bool>,
    report: &impl Fn(Change),
) -> Outcome {
    let probes: Vec<(Kind, &Probe)> = [
        (Kind::Startup, spec.startup_probe.as_ref()),
        (Kind::Readiness, spec.readiness_probe.as_ref()),
        (Kind::Liveness, spec.liveness_probe.as_ref()),
    ]
    .into_iter()
    .filter_map(|(k, p)| p.map(|p| (k, p)))
    .collect();
    let mut trackers: Vec<Tracker> = probes.iter().map(|(_, p)| Tracker::new(p)).collect();
    let startup_done = spec.startup_probe.is_none();
    // Probes after startup count their initial delay from when the startup probe passed.
    let mut due: Vec<Option<Instant>> = probes
        .iter()
        .map(|(k, p)| {
            (*k == Kind::Startup || startup_done).then(|| started + secs(p.initial_delay_seconds))
        })
        .collect();
    let mut in_flight = vec![false; probes.len()];
    let mut ready = false;
    // Until the instance is first ready, a failed readiness probe is tried again sooner
    // than its period (25 ms, doubling): a new instance joins the rotation moments after
    // it listens, not a whole period later. Failures before the first success change
    // nothing (the instance is not ready yet), so this only shortens the wait.
    let mut ever_ready = false;
    let mut early_failures: u32 = 0;
    let has_readiness = spec.readiness_probe.is_some();
    if startup_done && !has_readiness {
        ready = true;
        report(Change::Ready { port: checker.port });
    }
    let (res_tx, mut res_rx) = mpsc::unbounded_channel::<(usize, Result<(), String>)>();
    loop {
        let next = due.iter().zip(&in_flight).filter(|(_, f)| !**f).filter_map(|(d, _)| *d).min();
        let sleep = async {
            match next {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = child.wait() => {
                if ready {
                    report(Change::Unready { reason: "Exited".into() });
                }
                return Outcome::Exited(status.ok());
            }
            _ = stop_rx.wait_for(|s| *s) => return Outcome::StopRequested,
            Some((i, result)) = res_rx.recv() => {
                in_flight[i] = false;
                let (kind, probe) = probes[i];
                let ok = result.is_ok();
                let changed = trackers[i].record(ok);
                match (kind, changed) {
                    (Kind::Startup, Some(true)) => {
                        due[i] = None;
                        let now = Instant::now();
                        for (j, (k, p)) in probes.iter().enumerate() {
                            if *k != Kind::Startup {
                                due[j] = Some(now + secs(p.initial_delay_seconds));
                            }
                        }
                        if !has_readiness {
                            ready = true;
                            report(Change::Ready { port: checker.port });
                        }
                    }
                    (Kind::Startup, Some(false)) => {
                        return Outcome::ProbeFailed("startup", result.err().unwrap_or_default());
                    }
                    (Kind::Liveness, Some(false)) => {
                        return Outcome::ProbeFailed("liveness", result.err().unwrap_or_default());
                    }
                    (Kind::Readiness, Some(true)) if !ready => {
                        ready = true;
                        report(Change::Ready { port: checker.port });
                    }
                    (Kind::Readiness, Some(false)) if ready => {
                        ready = false;
                        report(Change::Unready { reason: format!("readiness probe failed: {}", result.err().unwrap_or_default()) });
                    }
                    _ => {}
                }
                ever_ready |= ready;
                if due[i].is_some() {
                    let period = secs(probe.period_seconds).max(Duration::from_millis(100));
                    let wait = if kind == Kind::Readiness && !ever_ready && !ok {
                        early_failures += 1;
                        (Duration::from_millis(25) * 2u32.saturating_pow(early_failures.min(10) - 1)).min(period)
                    } else {
                        period
                    };
                    due[i] = Some(Instant::now() + wait);
                }
            }
            _ = sleep => {
                let now = Instant::now();
                for (i, d) in due.iter().enumerate() {
                    if in_flight[i] || d.is_none_or(|t| t > now) {
                        continue;
                    }
                    in_flight[i] = true;
                    let (c, p, tx) = (checker.clone(), probes[i].1.clone(), res_tx.clone());
                    tokio::spawn(async move {
                        let r = c.check(&p).await;
                        let _ = tx.send((i, r));
                    });
                }
            }
        }
    }
}
