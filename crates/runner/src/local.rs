//! A whole workflow run on this machine: the plan's jobs started as soon as their
//! needs finish (up to a parallelism limit), each in a workspace of its own, job
//! `if:` decided with the needs' results, matrices that read `needs` expanded when
//! those jobs finish, fail-fast, `timeout-minutes` per job, cancellation (Ctrl-C or
//! the caller) stopping every step's process group.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use andon_expr::{Host, Object, Value};
use andon_pipeline::plan::{self, Plan};
use andon_pipeline::schedule::{Decide, Scheduler, Status, job_status_function};
use andon_pipeline::workflow::Workflow;

use crate::job::{self, Contexts, JobEvent, JobResult, Place};
use crate::mask::Masker;

/// What to run and where.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The repository (checked out by `actions/checkout`).
    pub repo: PathBuf,
    pub sha: String,
    pub branch: Option<String>,
    /// A tag push's tag (then `github.ref` is `refs/tags/…`).
    pub tag: Option<String>,
    /// The cron of a `schedule` run (`github.event.schedule`).
    pub schedule: Option<String>,
    pub event: String,
    pub repository: String,
    pub actor: String,
    pub inputs: Object,
    pub vars: Object,
    pub secrets: Vec<(String, String)>,
    /// Only these combinations: `key` → value as text.
    pub matrix_filter: Vec<(String, String)>,
    /// Only this job and what it needs.
    pub only_job: Option<String>,
    /// How many jobs run at once.
    pub parallel: usize,
    /// Where workspaces go (one directory per job).
    pub work_dir: PathBuf,
    /// Where artifacts and caches are kept (content-addressed).
    pub store: PathBuf,
    /// The run's id (its workspaces' and artifacts' directory names); made up when
    /// empty.
    pub run_id: String,
    /// `github.run_number` and `github.run_attempt` (1 when 0).
    pub run_number: u64,
    pub run_attempt: u32,
    /// Keep the run's artifacts after it ends (a server keeps them with the run; a
    /// local run drops them).
    pub keep_artifacts: bool,
}

/// What a run reports as it goes.
#[derive(Clone, Debug)]
pub enum RunEvent {
    /// A job (one matrix combination of workflow job `job`) starts.
    JobStart {
        key: usize,
        job: String,
        name: String,
    },
    Job {
        key: usize,
        event: JobEvent,
    },
    JobEnd {
        key: usize,
        name: String,
        status: Status,
        elapsed: Duration,
    },
    JobSkipped {
        job: String,
        name: String,
    },
}

enum Msg {
    Event(usize, JobEvent),
    Done(usize, JobResult),
}

/// How many job events may wait for the run's loop (and its display) at once.
const EVENTS_IN_FLIGHT: usize = 1024;

/// The jobs' way to the run's loop. On a multi-threaded runtime the channel is bounded
/// and a job whose events are not taken fast enough waits for room (its step's output
/// then stays in the pipe, and the step itself waits): memory stays bounded however
/// slow the display. A single-threaded runtime cannot wait in place, so there the
/// channel is unbounded.
#[derive(Clone)]
enum Events {
    Bounded(tokio::sync::mpsc::Sender<Msg>),
    Unbounded(tokio::sync::mpsc::UnboundedSender<Msg>),
}

enum EventsRx {
    Bounded(tokio::sync::mpsc::Receiver<Msg>),
    Unbounded(tokio::sync::mpsc::UnboundedReceiver<Msg>),
}

fn events_channel() -> (Events, EventsRx) {
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi {
        let (tx, rx) = tokio::sync::mpsc::channel(EVENTS_IN_FLIGHT);
        (Events::Bounded(tx), EventsRx::Bounded(rx))
    } else {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Events::Unbounded(tx), EventsRx::Unbounded(rx))
    }
}

impl Events {
    fn send(&self, m: Msg) {
        match self {
            Events::Unbounded(tx) => {
                let _ = tx.send(m);
            }
            Events::Bounded(tx) => match tx.try_send(m) {
                Ok(()) | Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {}
                Err(tokio::sync::mpsc::error::TrySendError::Full(m)) => {
                    tokio::task::block_in_place(|| {
                        let _ = tx.blocking_send(m);
                    });
                }
            },
        }
    }
}

impl EventsRx {
    async fn recv(&mut self) -> Option<Msg> {
        match self {
            EventsRx::Bounded(rx) => rx.recv().await,
            EventsRx::Unbounded(rx) => rx.recv().await,
        }
    }
}

/// Named values of a job's `if:` and the status functions from its needs' results.
struct JobIfHost<'a> {
    values: &'a Object,
    decide: &'a Decide<'a>,
}

impl Host for JobIfHost<'_> {
    fn named_value(&self, name: &str) -> Value {
        self.values.get(name).cloned().unwrap_or(Value::Null)
    }

    fn call(&self, name: &str, args: &[Value]) -> Result<Value, String> {
        if args.is_empty() {
            return Ok(Value::Bool(job_status_function(name, self.decide)));
        }
        // success(job…) / failure(job…): only those needs.
        let wanted: Vec<String> = args.iter().map(Value::to_display).collect();
        let needs = self
            .decide
            .needs
            .iter()
            .filter(|(id, _)| wanted.iter().any(|w| w.eq_ignore_ascii_case(id)))
            .copied()
            .collect();
        let d = Decide { needs, cancelled: self.decide.cancelled };
        Ok(Value::Bool(job_status_function(name, &d)))
    }
}

/// The `needs` context: each needed job's result and outputs.
fn needs_object<'a>(
    wf: &Workflow,
    results: impl Iterator<Item = (&'a str, Option<Status>)>,
    outputs: &[Object],
) -> Object {
    let mut o = Object::new();
    for (id, result) in results {
        let i = wf.jobs.iter().position(|j| j.id.eq_ignore_ascii_case(id));
        let mut e = Object::new();
        e.insert("result", Value::from(result.map_or("", Status::as_str)));
        e.insert("outputs", Value::from(i.map(|i| outputs[i].clone()).unwrap_or_default()));
        o.insert(i.map_or(id, |i| wf.jobs[i].id.as_str()).to_string(), Value::from(e));
    }
    o
}

/// The `needs` context of a job from the scheduler's results so far.
fn needs_context(wf: &Workflow, job: usize, s: &Scheduler, outputs: &[Object]) -> Object {
    let results = wf.jobs[job].needs.iter().map(|(n, _)| {
        let i = wf.jobs.iter().position(|j| j.id.eq_ignore_ascii_case(n));
        (n.as_str(), i.and_then(|i| s.job_result(i)))
    });
    needs_object(wf, results, outputs)
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(80)
        .collect()
}

/// The `github` context of a run (`o.run_id` as `github.run_id`).
pub fn github_context(wf: &Workflow, o: &Options, event_path: &std::path::Path) -> Object {
    let mut g = Object::new();
    let put = |g: &mut Object, k: &str, v: &str| g.insert(k, Value::from(v));
    put(&mut g, "event_name", &o.event);
    put(&mut g, "sha", &o.sha);
    let git_ref = match (&o.tag, &o.branch) {
        (Some(t), _) => Some((format!("refs/tags/{t}"), t, "tag")),
        (None, Some(b)) => Some((format!("refs/heads/{b}"), b, "branch")),
        (None, None) => None,
    };
    if let Some((r, name, kind)) = &git_ref {
        put(&mut g, "ref", r);
        put(&mut g, "ref_name", name);
        put(&mut g, "ref_type", kind);
    }
    put(&mut g, "repository", &o.repository);
    put(&mut g, "repository_owner", o.repository.split('/').next().unwrap_or(""));
    put(&mut g, "actor", &o.actor);
    put(&mut g, "triggering_actor", &o.actor);
    put(&mut g, "run_id", &o.run_id);
    put(&mut g, "run_number", &o.run_number.max(1).to_string());
    put(&mut g, "run_attempt", &o.run_attempt.max(1).to_string());
    put(&mut g, "workflow", wf.name.as_deref().unwrap_or(&wf.file));
    put(&mut g, "server_url", "https://github.com");
    put(&mut g, "api_url", "https://api.github.com");
    put(&mut g, "event_path", &event_path.display().to_string());
    let mut event = Object::new();
    if let Some((r, _, _)) = &git_ref {
        event.insert("ref", Value::from(r.as_str()));
    }
    if let Some(cron) = &o.schedule {
        event.insert("schedule", Value::from(cron.as_str()));
    }
    event.insert("after", Value::from(o.sha.as_str()));
    let mut commit = Object::new();
    commit.insert("id", Value::from(o.sha.as_str()));
    event.insert("head_commit", Value::from(commit));
    let mut repo = Object::new();
    repo.insert("full_name", Value::from(o.repository.as_str()));
    repo.insert("name", Value::from(o.repository.rsplit('/').next().unwrap_or("")));
    event.insert("repository", Value::from(repo));
    if o.event == "workflow_dispatch" {
        event.insert("inputs", Value::from(o.inputs.clone()));
    }
    g.insert("event", Value::from(event));
    g
}

/// Runs a workflow; the result is the run's conclusion.
pub async fn run(
    wf: &Workflow,
    o: &Options,
    mut cancel: tokio::sync::watch::Receiver<bool>,
    on_event: &mut (dyn FnMut(RunEvent) + Send),
) -> Result<Status, String> {
    let run_id = if o.run_id.is_empty() {
        format!(
            "{}-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis()),
            std::process::id()
        )
    } else {
        o.run_id.clone()
    };
    // One id for the run's directories and `github.run_id`.
    let o = &Options { run_id: run_id.clone(), ..o.clone() };
    let run_dir = o.work_dir.join(format!("run-{run_id}"));
    std::fs::create_dir_all(&run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
    let event_path = run_dir.join("event.json");
    let github = github_context(wf, o, &event_path);
    let _ = std::fs::write(
        &event_path,
        github.get("event").map(Value::to_json_pretty).unwrap_or_default(),
    );
    let mut base = Object::new();
    base.insert("github", Value::from(github.clone()));
    base.insert("inputs", Value::from(o.inputs.clone()));
    base.insert("vars", Value::from(o.vars.clone()));
    let plan: Plan = plan::plan(wf, &base)?;
    let n = wf.jobs.len();
    let eval_with = |t: Option<&andon_pipeline::Token>, matrix: Option<&Object>| {
        let mut v = base.clone();
        if let Some(m) = matrix {
            v.insert("matrix", Value::from(m.clone()));
        }
        t.and_then(|t| t.evaluate(&v).ok())
    };
    // Each job's strategy, evaluated once.
    let strategies: Vec<Option<Value>> = (0..n)
        .map(|j| wf.jobs[j].strategy.as_ref().and_then(|s| eval_with(Some(s), None)))
        .collect();
    let fail_fast: Vec<bool> = (0..n)
        .map(|j| match &strategies[j] {
            Some(Value::Object(s)) => s.get("fail-fast").is_none_or(Value::truthy),
            _ => true,
        })
        .collect();
    let max_parallel: Vec<Option<usize>> = (0..n)
        .map(|j| match &strategies[j] {
            Some(Value::Object(s)) => s.get("max-parallel").map(|v| v.to_number() as usize),
            _ => None,
        })
        .collect();
    let continue_on_error: Vec<bool> = (0..n)
        .map(|j| eval_with(wf.jobs[j].continue_on_error.as_ref(), None).is_some_and(|v| v.truthy()))
        .collect();
    let mut sched = Scheduler::new(
        wf,
        &plan,
        o.parallel.max(1),
        fail_fast.clone(),
        max_parallel.clone(),
        continue_on_error,
    );
    let mut matrices: Vec<Option<Object>> = plan.jobs.iter().map(|p| p.matrix.clone()).collect();
    let mut deferred: Vec<bool> = plan.jobs.iter().map(|p| p.deferred_matrix).collect();
    let mut names: Vec<String> = plan.jobs.iter().map(|p| p.display.clone()).collect();
    // -j: the job and what it needs; --matrix: only matching combinations.
    let wanted: Vec<bool> = match &o.only_job {
        None => vec![true; n],
        Some(j) => {
            let with =
                wf.job_with_needs(j).ok_or_else(|| format!("no job '{j}' in {}", wf.file))?;
            (0..n).map(|i| with.contains(&i)).collect()
        }
    };
    let matches_filter = |m: &Object| plan::matches_filter(m, &o.matrix_filter);
    for (i, m) in matrices.iter().enumerate() {
        if m.as_ref().is_some_and(|m| !matches_filter(m)) {
            sched.status[i] = Status::Skipped;
        }
    }
    let mut masker = Masker::new();
    let mut secrets = Object::new();
    for (k, v) in &o.secrets {
        masker.add(v);
        secrets.insert(k.clone(), Value::from(v.as_str()));
    }
    secrets.insert("GITHUB_TOKEN", Value::from(""));
    let mut outputs: Vec<Object> = vec![Object::new(); n];
    let (tx, mut rx) = events_channel();
    let mut stops: Vec<Option<tokio::sync::watch::Sender<bool>>> = Vec::new();
    let mut started_at: Vec<Option<Instant>> = Vec::new();
    let mut timed_out: Vec<bool> = Vec::new();
    let mut cancelled = false;
    // Each job's timeout timer, stopped when the run ends.
    let mut timers: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    loop {
        // Deferred matrices whose needs are done.
        for i in 0..deferred.len() {
            let job = sched.owner(i);
            if !deferred[i] || !sched.needs_finished(job) {
                continue;
            }
            deferred[i] = false;
            let mut v = base.clone();
            v.insert("needs", Value::from(needs_context(wf, job, &sched, &outputs)));
            let combos = match plan::job_matrix(&wf.jobs[job], &v) {
                Ok(c) => c.unwrap_or_else(|| vec![Object::new()]),
                Err(e) => {
                    on_event(RunEvent::Job {
                        key: i,
                        event: JobEvent::Problem(format!("job '{}': {e}", wf.jobs[job].id)),
                    });
                    Vec::new()
                }
            };
            let idx = sched.expand(i, combos.len());
            let name = names[i].clone();
            for (k, m) in idx.iter().zip(combos) {
                let display = if m.is_empty() {
                    name.clone()
                } else {
                    format!("{name} ({})", plan::combination_label(&m))
                };
                if *k >= matrices.len() {
                    matrices.push(None);
                    deferred.push(false);
                    names.push(String::new());
                }
                if !m.is_empty() && !matches_filter(&m) {
                    sched.status[*k] = Status::Skipped;
                }
                matrices[*k] = (!m.is_empty()).then_some(m);
                names[*k] = display;
            }
        }
        let starts = sched.next(|job, d| {
            if !wanted[job] {
                return false;
            }
            let mut values = base.clone();
            values.insert(
                "needs",
                Value::from(needs_object(
                    wf,
                    d.needs.iter().map(|(id, r)| (*id, Some(*r))),
                    &outputs,
                )),
            );
            let host = JobIfHost { values: &values, decide: d };
            let allowed = andon_pipeline::schema::everything();
            andon_expr::eval_str(&wf.jobs[job].condition, allowed, &host).is_ok_and(|v| v.truthy())
        });
        for i in starts {
            while stops.len() <= i {
                stops.push(None);
                started_at.push(None);
                timed_out.push(false);
            }
            let job_i = sched.owner(i);
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(cancelled);
            stops[i] = Some(stop_tx.clone());
            started_at[i] = Some(Instant::now());
            let mut strategy = Object::new();
            strategy.insert("fail-fast", Value::Bool(fail_fast[job_i]));
            let (index, total) = sched.combination(i);
            strategy.insert("job-index", Value::Number(index as f64));
            strategy.insert("job-total", Value::Number(total as f64));
            if let Some(mp) = max_parallel[job_i] {
                strategy.insert("max-parallel", Value::Number(mp as f64));
            }
            let dir = run_dir.join(format!("{}-{i}", sanitize(&wf.jobs[job_i].id)));
            let mut gh = github.clone();
            gh.insert("job", Value::from(wf.jobs[job_i].id.as_str()));
            gh.insert("workspace", Value::from(dir.join("workspace").display().to_string()));
            let cx = Contexts {
                github: gh,
                vars: o.vars.clone(),
                secrets: secrets.clone(),
                inputs: o.inputs.clone(),
                matrix: matrices[i].clone(),
                strategy,
                needs: needs_context(wf, job_i, &sched, &outputs),
            };
            let place = Place {
                repo: o.repo.clone(),
                sha: o.sha.clone(),
                workspace: dir.join("workspace"),
                temp: dir.join("temp"),
                store: o.store.clone(),
                run_id: run_id.clone(),
            };
            let wf2 = wf.clone();
            let tx2 = tx.clone();
            let mut m = masker.clone();
            on_event(RunEvent::JobStart {
                key: i,
                job: wf.jobs[job_i].id.clone(),
                name: names[i].clone(),
            });
            // timeout-minutes (default 360) stops the job.
            let limit = eval_with(wf.jobs[job_i].timeout_minutes.as_ref(), matrices[i].as_ref())
                .map(|v| v.to_number())
                .filter(|n| n.is_finite() && *n > 0.0)
                .unwrap_or(360.0);
            let timer_tx = stop_tx.clone();
            let timer_done = tx.clone();
            timers.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs_f64(limit * 60.0)).await;
                if timer_tx.send(true).is_ok() {
                    timer_done.send(Msg::Event(
                        i,
                        JobEvent::Problem(format!(
                            "The job has exceeded the maximum execution time of {limit} minutes."
                        )),
                    ));
                }
            }));
            tokio::spawn(async move {
                let job = &wf2.jobs[job_i];
                let mut forward = |e: JobEvent| tx2.send(Msg::Event(i, e));
                let r = job::run(&wf2, job, &cx, &place, &mut m, stop_rx, &mut forward).await;
                tx2.send(Msg::Done(i, r));
            });
        }
        if sched.done() {
            break;
        }
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Event(i, e)) => {
                    if let JobEvent::Problem(p) = &e
                        && p.starts_with("The job has exceeded")
                        && let Some(t) = timed_out.get_mut(i)
                    {
                        *t = true;
                    }
                    on_event(RunEvent::Job { key: i, event: e });
                }
                Some(Msg::Done(i, r)) => {
                    let job_i = sched.owner(i);
                    for (k, v) in r.outputs.iter() {
                        outputs[job_i].insert(k, v.clone());
                    }
                    let status = if timed_out.get(i).copied().unwrap_or(false) { Status::Failure } else { r.status };
                    let elapsed = started_at.get(i).copied().flatten().map_or(Duration::ZERO, |t| t.elapsed());
                    on_event(RunEvent::JobEnd { key: i, name: names[i].clone(), status, elapsed });
                    if let Some(Some(s)) = stops.get(i) {
                        let _ = s.send(false);
                    }
                    for stop in sched.finished(i, status) {
                        if let Some(Some(s)) = stops.get(stop) {
                            let _ = s.send(true);
                        }
                    }
                }
                None => break,
            },
            changed = cancel.changed(), if !cancelled => {
                if changed.is_err() || *cancel.borrow() {
                    cancelled = true;
                    for i in sched.cancel() {
                        if let Some(Some(s)) = stops.get(i) {
                            let _ = s.send(true);
                        }
                    }
                }
            }
        }
    }
    for (i, st) in sched.status.iter().enumerate() {
        if *st == Status::Skipped && wanted[sched.owner(i)] && i < names.len() {
            on_event(RunEvent::JobSkipped {
                job: wf.jobs[sched.owner(i)].id.clone(),
                name: names[i].clone(),
            });
        }
    }
    for t in timers {
        t.abort();
    }
    let _ = std::fs::remove_dir_all(&run_dir);
    // A local run's artifacts go with it (their blobs stay, shared with caches).
    if !o.keep_artifacts {
        let _ = std::fs::remove_dir_all(o.store.join("artifacts").join(&run_id));
    }
    Ok(sched.conclusion())
}
