//! Pipelines on the server: each `Repository` is mirrored into the data dir and watched
//! for new commits (polling, and push hooks through `kick`); the workflows a push
//! triggers run on the server's executor (`andon_runner::local`), one task per run,
//! under a limit of runs at once and GitHub's `concurrency:` groups.
//!
//! Every transition of a run (queued, started, each job and step, completed) is a
//! journal event about the repository, carrying the commit's sha, author and time. The
//! in-memory registry is the fold of those events (`Registry::apply`), used both live
//! and when andon starts, so what the API shows is what the journal says. A run that
//! was in progress when andon died is marked failed at the next start. Logs are JSON
//! lines in `DATA/pipelines/runs/<id>/log.jsonl`, step summaries beside them; artifacts
//! stay in the content store under the run's id.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_core::{NewEvent, ObjectRef};
use andon_expr::{Object, Value};
use andon_runner::git::{Commit, Mirror};
use andon_runner::job::JobEvent;
use andon_runner::local::{self, RunEvent};
use andon_runner::step::Event as Line;
use andon_spec::Spec;
use andon_spec::repository::RepositorySpec;
use andon_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{Notify, Semaphore, mpsc, watch};

/// The journal kinds of pipelines, in the order a run meets them.
pub(crate) const PUSH: &str = "pipeline.push";
pub(crate) const RUN_QUEUED: &str = "pipeline.run.queued";
pub(crate) const RUN_STARTED: &str = "pipeline.run.started";
pub(crate) const JOB_STARTED: &str = "pipeline.job.started";
pub(crate) const STEP_STARTED: &str = "pipeline.step.started";
pub(crate) const STEP_COMPLETED: &str = "pipeline.step.completed";
pub(crate) const JOB_COMPLETED: &str = "pipeline.job.completed";
pub(crate) const JOB_SKIPPED: &str = "pipeline.job.skipped";
pub(crate) const RUN_COMPLETED: &str = "pipeline.run.completed";
const KINDS: &[&str] = &[
    PUSH,
    RUN_QUEUED,
    RUN_STARTED,
    JOB_STARTED,
    STEP_STARTED,
    STEP_COMPLETED,
    JOB_COMPLETED,
    JOB_SKIPPED,
    RUN_COMPLETED,
];

/// How many runs execute at once (the rest wait, queued).
const RUNS_AT_ONCE: usize = 4;

/// How many journal events are read back at start.
const RESTORE_LIMIT: usize = 2_000_000;

/// A job of the workflow, for drawing the run's graph before its jobs start.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphJob {
    pub id: String,
    pub name: String,
    pub needs: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StepRecord {
    pub name: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    pub started_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<i64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobRecord {
    /// The run's job key (one per matrix combination).
    pub key: usize,
    /// The workflow's job id.
    pub job: String,
    pub name: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<i64>,
    pub steps: Vec<StepRecord>,
}

/// A run as the API shows it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunRecord {
    pub id: u64,
    /// `namespace/name` of the Repository.
    pub repository: String,
    /// The run's number within its repository.
    pub number: u64,
    pub attempt: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<u64>,
    /// The workflow file (`.github/workflows/ci.yml`).
    pub workflow: String,
    pub workflow_name: String,
    pub event: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The cron of a scheduled run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// A `workflow_dispatch` run's inputs, typed.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty", default)]
    pub inputs: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    pub sha: String,
    pub author: String,
    pub author_email: String,
    /// The commit's time, seconds since the epoch.
    pub commit_time: i64,
    pub message: String,
    pub actor: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Problems of an invalid workflow file (the run fails without running).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub problems: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub cancel_in_progress: bool,
    pub queued_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<i64>,
    pub graph: Vec<GraphJob>,
    pub jobs: Vec<JobRecord>,
}

impl RunRecord {
    fn subject(&self) -> String {
        let (ns, name) = self.repository.split_once('/').unwrap_or(("default", &self.repository));
        format!("Repository/{ns}/{name}")
    }

    /// What every journal event of the run carries besides its own fields.
    fn head(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("run".into(), json!(self.id));
        m.insert("repository".into(), json!(self.repository));
        m.insert("workflow".into(), json!(self.workflow));
        m.insert("sha".into(), json!(self.sha));
        m.insert("author".into(), json!(self.author));
        m.insert("commitTime".into(), json!(self.commit_time));
        if let Some(b) = &self.branch {
            m.insert("branch".into(), json!(b));
        }
        if let Some(t) = &self.tag {
            m.insert("tag".into(), json!(t));
        }
        m
    }

    pub(crate) fn finished(&self) -> bool {
        self.status == "completed"
    }
}

/// The runs and pushes known, as folded from the journal.
#[derive(Default)]
struct Registry {
    runs: BTreeMap<u64, RunRecord>,
    /// The last commit run per (repository, branch).
    heads: HashMap<(String, String), String>,
}

fn now_ms() -> i64 {
    andon_core::Clock::now(&andon_core::SystemClock).millis()
}

fn num(v: &serde_json::Value, k: &str) -> i64 {
    v[k].as_i64().unwrap_or(0)
}

fn text(v: &serde_json::Value, k: &str) -> String {
    v[k].as_str().unwrap_or("").to_string()
}

impl Registry {
    /// Applies one transition (live, or read back from the journal).
    fn apply(&mut self, kind: &str, d: &serde_json::Value) {
        if kind == PUSH {
            let repo = text(d, "repository");
            // The refs first seen (a repository's tags), or one ref's new commit.
            if let Some(refs) = d["refs"].as_object() {
                for (r, sha) in refs {
                    self.heads.insert((repo.clone(), r.clone()), sha.as_str().unwrap_or("").into());
                }
                return;
            }
            let r = d["ref"].as_str().map_or_else(|| text(d, "branch"), str::to_owned);
            self.heads.insert((repo, r), text(d, "after"));
            return;
        }
        if kind == RUN_QUEUED {
            if let Ok(r) = serde_json::from_value::<RunRecord>(d["record"].clone()) {
                self.runs.insert(r.id, r);
            }
            return;
        }
        let id = d["run"].as_u64().unwrap_or(0);
        let Some(run) = self.runs.get_mut(&id) else { return };
        let at = num(d, "at");
        let key = d["key"].as_u64().map(|k| k as usize);
        let job = key.and_then(|k| run.jobs.iter_mut().find(|j| j.key == k));
        match kind {
            RUN_STARTED => {
                run.status = "in_progress".into();
                run.started_at = Some(at);
            }
            JOB_STARTED => {
                let (key, name) = (key.unwrap_or(0), text(d, "name"));
                run.jobs.retain(|j| j.key != key);
                run.jobs.push(JobRecord {
                    key,
                    job: text(d, "job"),
                    name,
                    status: "in_progress".into(),
                    started_at: Some(at),
                    ..JobRecord::default()
                });
            }
            JOB_SKIPPED => run.jobs.push(JobRecord {
                key: usize::MAX - run.jobs.len(),
                job: text(d, "job"),
                name: text(d, "name"),
                status: "completed".into(),
                conclusion: Some("skipped".into()),
                ..JobRecord::default()
            }),
            STEP_STARTED => {
                if let Some(j) = job {
                    j.steps.push(StepRecord {
                        name: text(d, "step"),
                        status: "in_progress".into(),
                        started_at: at,
                        ..StepRecord::default()
                    });
                }
            }
            STEP_COMPLETED => {
                if let Some(j) = job {
                    let step = text(d, "step");
                    let found = j
                        .steps
                        .iter_mut()
                        .rev()
                        .find(|s| s.name == step && s.status != "completed");
                    let s = match found {
                        Some(s) => s,
                        None => {
                            // A step skipped by its `if:` never started.
                            j.steps.push(StepRecord {
                                name: step,
                                started_at: at,
                                ..StepRecord::default()
                            });
                            let Some(s) = j.steps.last_mut() else { return };
                            s
                        }
                    };
                    s.status = "completed".into();
                    s.outcome = Some(text(d, "outcome"));
                    s.conclusion = Some(text(d, "conclusion"));
                    s.completed_at = Some(at);
                }
            }
            JOB_COMPLETED => {
                if let Some(j) = job {
                    j.status = "completed".into();
                    j.conclusion = Some(text(d, "conclusion"));
                    j.completed_at = Some(at);
                }
            }
            RUN_COMPLETED => {
                run.status = "completed".into();
                run.conclusion = Some(text(d, "conclusion"));
                if let Some(r) = d["reason"].as_str() {
                    run.reason = Some(r.to_string());
                }
                run.completed_at = Some(at);
                // Whatever was still going when the run ended (a crash) ends with it.
                let left = if d["reason"].is_string() { "failure" } else { "cancelled" };
                for j in &mut run.jobs {
                    for s in &mut j.steps {
                        if s.status != "completed" {
                            s.status = "completed".into();
                            s.conclusion = Some(left.into());
                            s.completed_at = Some(at);
                        }
                    }
                    if j.status != "completed" {
                        j.status = "completed".into();
                        j.conclusion = Some(left.into());
                        j.completed_at = Some(at);
                    }
                }
            }
            _ => {}
        }
    }
}

/// A run's live parts: its cancel switch and how much of its log is written.
struct Live {
    cancel: watch::Sender<bool>,
    log_len: watch::Sender<u64>,
    /// The log, opened at its first line and kept open while the run goes on.
    log: Option<std::fs::File>,
}

/// One watched repository.
struct Watch {
    stop: watch::Sender<bool>,
    /// Told after each fetch (the watcher reads the schedules again).
    fetched: Arc<Notify>,
}

pub(crate) struct Pipelines {
    store: Store,
    dir: PathBuf,
    reg: Mutex<Registry>,
    live: Mutex<HashMap<u64, Live>>,
    watches: Mutex<HashMap<ObjectRef, Watch>>,
    /// One poll at a time per repository.
    polling: Mutex<HashMap<ObjectRef, Arc<tokio::sync::Mutex<()>>>>,
    journal: mpsc::UnboundedSender<NewEvent>,
    slots: Arc<Semaphore>,
    /// Woken whenever a run ends (waiting runs look again at their group).
    ended: Notify,
}

/// What starts runs: an event about a commit.
#[derive(Default)]
struct Start {
    /// `push`, `workflow_dispatch` or `schedule`.
    event: String,
    branch: Option<String>,
    tag: Option<String>,
    before: Option<String>,
    commit: Commit,
    actor: String,
    /// The files a push changed (`None`: unknown; path filters pass).
    paths: Option<Vec<String>>,
    /// `workflow_dispatch` inputs, as text.
    inputs: Vec<(String, String)>,
    /// Only this workflow file.
    workflow: Option<String>,
    /// The cron that fired.
    schedule: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A stored Repository's spec.
pub(crate) fn repository_spec(o: &andon_store::StoredObject) -> Option<RepositorySpec> {
    match crate::runtime::stored_spec(o) {
        Some(Spec::Repository(s)) => Some(*s),
        _ => None,
    }
}

/// Where a log line is written: one JSON object per line.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub(crate) struct LogLine {
    /// Milliseconds since the epoch.
    pub t: i64,
    /// The job's key in the run (`None`: the run itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<usize>,
    /// The job's display name.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub name: String,
    /// `out`, `err`, `group`, `endgroup`, `step`, `stepend`, `annotation`, `note`,
    /// `problem`, `job`, `run`.
    pub k: String,
    pub m: String,
    /// A step's end: whether it succeeded (its conclusion).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ok: Option<bool>,
}

impl LogLine {
    /// A line about the run itself.
    fn run(k: &str, m: String) -> LogLine {
        LogLine { t: now_ms(), job: None, name: String::new(), k: k.into(), m, ok: None }
    }
}

impl Pipelines {
    /// Reads the journal back, fails the runs a dead predecessor left in progress and
    /// starts recording.
    pub(crate) async fn start(
        store: Store,
        data_dir: &Path,
        reaper: Option<&Path>,
    ) -> Arc<Pipelines> {
        let dir = data_dir.join("pipelines");
        let _ = std::fs::create_dir_all(dir.join("runs"));
        // A dead andon's workspaces are of no use to anyone.
        let _ = std::fs::remove_dir_all(dir.join("work"));
        if let Some(exe) = reaper
            && andon_runner::step::REAPER.get().is_none()
        {
            match andon_supervisor::reaper::Reaper::spawn(exe) {
                Ok(r) => {
                    let _ = andon_runner::step::REAPER.set(r);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "pipelines: no reaper; a crash may leave step processes")
                }
            }
        }
        let mut reg = Registry::default();
        match store.events_of_kinds(KINDS, RESTORE_LIMIT).await {
            Ok(mut events) => {
                events.reverse();
                for e in &events {
                    reg.apply(&e.kind, &e.data);
                }
            }
            Err(e) => tracing::error!(error = %e, "pipelines: cannot read the journal back"),
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let unfinished: Vec<RunRecord> =
            reg.runs.values().filter(|r| !r.finished()).cloned().collect();
        let p = Arc::new(Pipelines {
            store: store.clone(),
            dir,
            reg: Mutex::new(reg),
            live: Mutex::default(),
            watches: Mutex::default(),
            polling: Mutex::default(),
            journal: tx,
            slots: Arc::new(Semaphore::new(RUNS_AT_ONCE)),
            ended: Notify::new(),
        });
        for r in unfinished {
            let reason = if r.status == "queued" {
                "andon stopped before the run started"
            } else {
                "andon stopped while the run was in progress; its step processes were stopped"
            };
            p.log(r.id, &LogLine::run("problem", reason.into()));
            p.transition(
                &r,
                RUN_COMPLETED,
                json!({"at": now_ms(), "conclusion": "failure", "reason": reason}),
                "andon",
            );
        }
        tokio::spawn(record(store, rx));
        p
    }

    /// Applies a transition to the registry and sends it to the journal.
    fn transition(&self, run: &RunRecord, kind: &str, fields: serde_json::Value, actor: &str) {
        let mut data = run.head();
        if let serde_json::Value::Object(f) = fields {
            data.extend(f);
        }
        let data = serde_json::Value::Object(data);
        lock(&self.reg).apply(kind, &data);
        let _ = self.journal.send(NewEvent {
            kind: kind.into(),
            subject: run.subject(),
            actor: actor.into(),
            data,
        });
    }

    pub(crate) fn runs(&self, repository: Option<&str>, limit: usize) -> Vec<RunRecord> {
        lock(&self.reg)
            .runs
            .values()
            .rev()
            .filter(|r| {
                repository
                    .is_none_or(|x| r.repository == x || r.repository.ends_with(&format!("/{x}")))
            })
            .take(limit)
            .cloned()
            .collect()
    }

    pub(crate) fn run(&self, id: u64) -> Option<RunRecord> {
        lock(&self.reg).runs.get(&id).cloned()
    }

    pub(crate) fn run_dir(&self, id: u64) -> PathBuf {
        self.dir.join("runs").join(id.to_string())
    }

    pub(crate) fn log_path(&self, id: u64) -> PathBuf {
        self.run_dir(id).join("log.jsonl")
    }

    pub(crate) fn store_dir(&self) -> PathBuf {
        self.dir.join("store")
    }

    /// How much of a live run's log is written; `None` once the run is over.
    pub(crate) fn follow_log(&self, id: u64) -> Option<watch::Receiver<u64>> {
        lock(&self.live).get(&id).map(|l| l.log_len.subscribe())
    }

    /// A job's step summaries (Markdown), in step order.
    pub(crate) fn summary(&self, id: u64, key: usize) -> Option<String> {
        std::fs::read_to_string(self.run_dir(id).join(format!("summary-{key}.md"))).ok()
    }

    /// Appends a line to a run's log (one write; the file stays open while the run is
    /// live) and tells its followers.
    fn log(&self, id: u64, line: &LogLine) {
        use std::io::Write;
        let Ok(mut text) = serde_json::to_string(line) else { return };
        text.push('\n');
        let open = || {
            let path = self.log_path(id);
            if let Some(d) = path.parent() {
                let _ = std::fs::create_dir_all(d);
            }
            std::fs::OpenOptions::new().create(true).append(true).open(&path)
        };
        let mut live = lock(&self.live);
        let written = match live.get_mut(&id) {
            Some(l) => {
                if l.log.is_none() {
                    l.log = open().map_err(|e| tracing::warn!(run = id, error = %e, "pipelines: cannot open the log")).ok();
                }
                l.log.as_mut().map(|f| f.write_all(text.as_bytes())).map(|r| {
                    r.map(|()| {
                        l.log_len.send_modify(|n| *n += text.len() as u64);
                    })
                })
            }
            None => Some(open().and_then(|mut f| f.write_all(text.as_bytes()))),
        };
        if let Some(Err(e)) = written {
            tracing::warn!(run = id, error = %e, "pipelines: cannot write the log");
        }
    }

    /// Starts or stops watching a Repository (`None`: deleted).
    pub(crate) fn watch(self: &Arc<Self>, key: &ObjectRef, spec: Option<RepositorySpec>) {
        let mut watches = lock(&self.watches);
        if let Some(old) = watches.remove(key) {
            let _ = old.stop.send(true);
        }
        let Some(spec) = spec else { return };
        let (stop, mut stopped) = watch::channel(false);
        let fetched = Arc::new(Notify::new());
        watches.insert(key.clone(), Watch { stop, fetched: fetched.clone() });
        let p = self.clone();
        let key = key.clone();
        tokio::spawn(async move {
            let every = spec.poll_every();
            let mut next_poll = Some(tokio::time::Instant::now());
            // The default branch's schedules: (workflow, cron text, cron, next time in ms).
            let mut crons: Vec<(String, String, andon_pipeline::cron::Cron, i64)> = Vec::new();
            // The default branch's commit the schedules were read at.
            let mut seen: Option<String> = None;
            loop {
                if next_poll.is_some_and(|t| t <= tokio::time::Instant::now()) {
                    if let Err(e) = p.poll(&key, "andon").await {
                        tracing::warn!(repository = %key, error = %e, "pipelines: poll failed");
                    }
                    next_poll = every.map(|d| tokio::time::Instant::now() + d);
                    if let Some(c) = p.schedules(&key, &mut seen).await {
                        crons = c;
                    }
                }
                let now = now_ms();
                for (file, text, cron, next) in &mut crons {
                    if *next <= now {
                        if let Err(e) = p.scheduled(&key, file, text).await {
                            tracing::warn!(repository = %key, workflow = %file, error = %e, "pipelines: scheduled run not started");
                        }
                        *next = cron.next_after(now).unwrap_or(i64::MAX);
                    }
                }
                let until_cron = crons
                    .iter()
                    .map(|c| c.3)
                    .min()
                    .map(|t| Duration::from_millis(u64::try_from(t - now).unwrap_or(0)));
                let until_poll =
                    next_poll.map(|t| t.saturating_duration_since(tokio::time::Instant::now()));
                let wait = match (until_cron, until_poll) {
                    (Some(a), Some(b)) => a.min(b),
                    (Some(a), None) | (None, Some(a)) => a,
                    (None, None) => Duration::from_secs(3600),
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    // A push hook fetched: the schedules may have changed.
                    _ = fetched.notified() => {
                        if let Some(c) = p.schedules(&key, &mut seen).await {
                            crons = c;
                        }
                    }
                    _ = stopped.changed() => return,
                }
            }
        });
    }

    /// The schedules of the workflows on a repository's default branch, each with its
    /// next time.
    /// `None` when the default branch is still at `seen` (nothing to read again).
    async fn schedules(
        &self,
        key: &ObjectRef,
        seen: &mut Option<String>,
    ) -> Option<Vec<(String, String, andon_pipeline::cron::Cron, i64)>> {
        let mirror = self.mirror(key);
        let branch = mirror.default_branch().await?;
        let sha = mirror.resolve(&branch).await.ok()?;
        if seen.as_deref() == Some(sha.as_str()) {
            return None;
        }
        *seen = Some(sha.clone());
        let Ok(files) = mirror.workflow_files(&sha).await else { return Some(Vec::new()) };
        let now = now_ms();
        let mut out = Vec::new();
        for (file, bytes) in files {
            let Ok(wf) = andon_pipeline::read(&file, &bytes) else { continue };
            for e in wf.events.iter().filter(|e| e.name == "schedule") {
                for item in e.config.as_ref().and_then(|c| c.as_seq()).unwrap_or_default() {
                    let Some(text) = item.get("cron").and_then(|c| c.as_str()) else { continue };
                    if let Ok(cron) = andon_pipeline::cron::Cron::parse(text)
                        && let Some(next) = cron.next_after(now)
                    {
                        out.push((file.clone(), text.to_string(), cron, next));
                    }
                }
            }
        }
        Some(out)
    }

    /// A schedule fired: the workflow runs on the default branch's head.
    async fn scheduled(
        self: &Arc<Self>,
        key: &ObjectRef,
        file: &str,
        cron: &str,
    ) -> Result<Vec<u64>, String> {
        let mirror = self.mirror(key);
        let branch = mirror.default_branch().await.ok_or("the repository has no default branch")?;
        let sha = mirror.resolve(&branch).await?;
        let start = Start {
            event: "schedule".into(),
            branch: Some(branch),
            commit: mirror.commit(&sha).await?,
            actor: "schedule".into(),
            workflow: Some(file.to_string()),
            schedule: Some(cron.to_string()),
            ..Start::default()
        };
        self.start_runs(key, &self.spec_of(key).await?, start).await
    }

    /// Runs a workflow by hand (`workflow_dispatch`) on a branch or tag (default: the
    /// default branch), with inputs as text.
    pub(crate) async fn dispatch(
        self: &Arc<Self>,
        key: &ObjectRef,
        workflow: &str,
        git_ref: Option<&str>,
        inputs: Vec<(String, String)>,
        actor: &str,
    ) -> Result<u64, String> {
        let mirror = self.mirror(key);
        if !mirror.dir.join("HEAD").exists() {
            self.poll(key, actor).await?;
        }
        let wanted = match git_ref {
            Some(r) => r.to_string(),
            None => mirror.default_branch().await.ok_or("the repository has no default branch")?,
        };
        let name = wanted.strip_prefix("refs/heads/").unwrap_or(&wanted).to_string();
        let (branch, tag) = match name.strip_prefix("refs/tags/") {
            Some(t) => (None, Some(t.to_string())),
            None if mirror.tags().await?.iter().any(|(t, _)| *t == name)
                && !mirror.heads().await?.iter().any(|(b, _)| *b == name) =>
            {
                (None, Some(name.clone()))
            }
            None => (Some(name.clone()), None),
        };
        let sha = mirror.resolve(&wanted).await?;
        let workflow = if workflow.contains('/') {
            workflow.to_string()
        } else {
            format!(".github/workflows/{workflow}")
        };
        let start = Start {
            event: "workflow_dispatch".into(),
            branch,
            tag,
            commit: mirror.commit(&sha).await?,
            actor: actor.to_string(),
            workflow: Some(workflow),
            inputs,
            ..Start::default()
        };
        let ids = self.start_runs(key, &self.spec_of(key).await?, start).await?;
        ids.first().copied().ok_or_else(|| "no run started".to_string())
    }

    /// Fetches a repository now and runs what its new commits trigger: the ids of the
    /// runs queued. Branches (matching the Repository's filters) and tags are pushes
    /// when their commit moved; the first look at a repository runs its branches' heads
    /// and only records its tags.
    pub(crate) async fn poll(
        self: &Arc<Self>,
        key: &ObjectRef,
        actor: &str,
    ) -> Result<Vec<u64>, String> {
        let gate = lock(&self.polling).entry(key.clone()).or_default().clone();
        let _one = gate.lock().await;
        let spec = self.spec_of(key).await?;
        let mirror = self.mirror(key);
        let fetched = mirror.sync(&spec.url).await;
        let mut status = json!({"lastFetch": andon_core::Timestamp(now_ms()).to_string()});
        if let Err(e) = &fetched {
            status["error"] = json!(e);
            let _ = self.store.set_status(key, status).await;
            return Err(e.clone());
        }
        let heads = mirror.heads().await?;
        let tags = mirror.tags().await?;
        let patterns = andon_pipeline::pattern::compile(&spec.branches)?;
        let repo = format!("{}/{}", key.namespace, key.name);
        let first_look = !lock(&self.reg).heads.keys().any(|(r, _)| *r == repo);
        if first_look && !tags.is_empty() {
            let refs: serde_json::Map<String, serde_json::Value> =
                tags.iter().map(|(t, sha)| (format!("refs/tags/{t}"), json!(sha))).collect();
            self.record_refs(key, actor, json!({"repository": repo, "refs": refs}));
        }
        let mut queued = Vec::new();
        let mut branches = serde_json::Map::new();
        let mut pushes = Vec::new();
        for (branch, sha) in heads {
            branches.insert(branch.clone(), json!(sha));
            if spec.branches.is_empty() || andon_pipeline::pattern::included(&patterns, &branch) {
                pushes.push((Some(branch), None, sha));
            }
        }
        if !first_look {
            pushes.extend(tags.iter().map(|(t, sha)| (None, Some(t.clone()), sha.clone())));
        }
        for (branch, tag, sha) in pushes {
            let refname = match (&branch, &tag) {
                (Some(b), _) => b.clone(),
                (None, t) => format!("refs/tags/{}", t.as_deref().unwrap_or("")),
            };
            let before = lock(&self.reg).heads.get(&(repo.clone(), refname.clone())).cloned();
            if before.as_deref() == Some(sha.as_str()) {
                continue;
            }
            let commit = mirror.commit(&sha).await?;
            let c = &commit;
            self.record_refs(
                key,
                actor,
                json!({
                    "repository": repo, "ref": refname, "branch": branch, "tag": tag,
                    "before": before, "after": c.sha, "sha": c.sha, "author": c.author,
                    "authorEmail": c.email, "commitTime": c.time, "message": c.message,
                }),
            );
            let paths = mirror.changed_paths(before.as_deref(), &c.sha).await;
            let start = Start {
                event: "push".into(),
                branch,
                tag,
                before,
                commit,
                actor: actor.to_string(),
                paths,
                ..Start::default()
            };
            match self.start_runs(key, &spec, start).await {
                Ok(ids) => queued.extend(ids),
                Err(e) => tracing::warn!(repository = %key, error = %e, "pipelines: push not run"),
            }
        }
        status["branches"] = serde_json::Value::Object(branches);
        let _ = self.store.set_status(key, status).await;
        Ok(queued)
    }

    /// A push hook: fetches now, runs what is new, and has the watcher read the default
    /// branch's schedules again.
    pub(crate) async fn pushed(
        self: &Arc<Self>,
        key: &ObjectRef,
        actor: &str,
    ) -> Result<Vec<u64>, String> {
        let queued = self.poll(key, actor).await?;
        if let Some(w) = lock(&self.watches).get(key) {
            w.fetched.notify_one();
        }
        Ok(queued)
    }

    /// Journals a push (or the refs first seen) and folds it into the registry.
    fn record_refs(&self, key: &ObjectRef, actor: &str, data: serde_json::Value) {
        lock(&self.reg).apply(PUSH, &data);
        let _ = self.journal.send(NewEvent {
            kind: PUSH.into(),
            subject: format!("Repository/{}/{}", key.namespace, key.name),
            actor: actor.to_string(),
            data,
        });
    }

    /// The stored Repository's spec.
    async fn spec_of(&self, key: &ObjectRef) -> Result<RepositorySpec, String> {
        let o = self
            .store
            .get(key)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("repository {}/{} not found", key.namespace, key.name))?;
        repository_spec(&o).ok_or_else(|| "the stored repository does not read back".into())
    }

    fn mirror(&self, key: &ObjectRef) -> Mirror {
        Mirror::new(self.dir.join("repos").join(&key.namespace).join(format!("{}.git", key.name)))
    }

    /// Queues the runs an event starts: the workflows at the commit that it triggers
    /// (one named workflow for `workflow_dispatch` and `schedule`). An invalid workflow
    /// file a push would read becomes a failed run, as on GitHub.
    async fn start_runs(
        self: &Arc<Self>,
        key: &ObjectRef,
        spec: &RepositorySpec,
        s: Start,
    ) -> Result<Vec<u64>, String> {
        let mirror = self.mirror(key);
        let repo = format!("{}/{}", key.namespace, key.name);
        let c = &s.commit;
        let mut files = mirror.workflow_files(&c.sha).await?;
        if let Some(w) = &s.workflow {
            files.retain(|(f, _)| f == w);
            if files.is_empty() {
                return Err(format!("no workflow {w} at {}", &c.sha[..c.sha.len().min(12)]));
            }
        }
        let trigger = andon_pipeline::plan::Trigger {
            event: s.event.clone(),
            branch: s.branch.clone(),
            tag: s.tag.clone(),
            paths: s.paths.clone(),
            activity: None,
        };
        let mut out = Vec::new();
        for (file, bytes) in files {
            let mut base = RunRecord {
                repository: repo.clone(),
                attempt: 1,
                workflow: file.clone(),
                workflow_name: file.clone(),
                event: s.event.clone(),
                branch: s.branch.clone(),
                tag: s.tag.clone(),
                schedule: s.schedule.clone(),
                before: s.before.clone(),
                sha: c.sha.clone(),
                author: c.author.clone(),
                author_email: c.email.clone(),
                commit_time: c.time,
                message: c.message.clone(),
                actor: s.actor.clone(),
                ..RunRecord::default()
            };
            let wf = match andon_pipeline::read(&file, &bytes) {
                Ok(wf) => wf,
                Err(problems) => {
                    let problems: Vec<String> = problems
                        .iter()
                        .map(|p| match p.pos {
                            Some(pos) => format!("{file}:{}:{}: {}", pos.line, pos.col, p.message),
                            None => format!("{file}: {}", p.message),
                        })
                        .collect();
                    if s.event != "push" {
                        return Err(problems.join("; "));
                    }
                    out.push(self.queue_invalid(base, problems));
                    continue;
                }
            };
            if s.event == "workflow_dispatch" {
                wf.triggered_by(&trigger).map_err(|why| format!("{file} {why}"))?;
                let inputs = andon_pipeline::plan::dispatch_inputs(&wf, &s.inputs)?;
                base.inputs =
                    serde_json::from_str(&Value::from(inputs).to_json()).unwrap_or_default();
            } else if wf.triggered_by(&trigger).is_err() {
                continue;
            }
            out.push(self.queue(base, wf, spec.clone(), mirror.clone()));
        }
        Ok(out)
    }

    /// A new run's record with its id and number taken (held in the registry at once,
    /// so two pushes at the same moment never share an id).
    fn new_record(&self, mut r: RunRecord) -> RunRecord {
        let mut reg = lock(&self.reg);
        r.id = reg.runs.keys().next_back().map_or(1, |n| n + 1);
        r.number = reg.runs.values().filter(|x| x.repository == r.repository).count() as u64 + 1;
        r.status = "queued".into();
        r.queued_at = now_ms();
        reg.runs.insert(r.id, r.clone());
        r
    }

    fn queue_invalid(&self, base: RunRecord, problems: Vec<String>) -> u64 {
        let mut r = self.new_record(base);
        r.problems = problems;
        self.transition(&r, RUN_QUEUED, json!({"record": r}), &r.actor.clone());
        for p in &r.problems {
            self.log(r.id, &LogLine::run("problem", p.clone()));
        }
        self.transition(
            &r,
            RUN_COMPLETED,
            json!({"at": now_ms(), "conclusion": "failure", "reason": "invalid workflow file"}),
            "andon",
        );
        r.id
    }

    /// Queues a run of `wf` and starts its task (it waits for a slot and its group).
    fn queue(
        self: &Arc<Self>,
        base: RunRecord,
        wf: andon_pipeline::Workflow,
        spec: RepositorySpec,
        mirror: Mirror,
    ) -> u64 {
        let mut r = self.new_record(base);
        r.workflow_name = wf.name.clone().unwrap_or_else(|| r.workflow.clone());
        r.graph = wf
            .jobs
            .iter()
            .map(|j| GraphJob {
                id: j.id.clone(),
                name: j.name.as_str().map_or_else(|| j.id.clone(), str::to_owned),
                needs: j.needs.iter().map(|(n, _)| n.clone()).collect(),
            })
            .collect();
        let opts = self.options(&r, &spec, &mirror);
        let github = local::github_context(&wf, &opts, Path::new(""));
        if let Some(t) = &wf.concurrency {
            let mut cx = Object::new();
            cx.insert("github", Value::from(github));
            cx.insert("inputs", Value::from(Object::new()));
            cx.insert("vars", Value::from(opts.vars.clone()));
            match t.evaluate(&cx) {
                Ok(Value::Object(o)) => {
                    r.concurrency = o.get("group").map(Value::to_display).filter(|g| !g.is_empty());
                    r.cancel_in_progress = o.get("cancel-in-progress").is_some_and(Value::truthy);
                }
                Ok(v) => r.concurrency = Some(v.to_display()).filter(|g| !g.is_empty()),
                Err(e) => {
                    tracing::warn!(run = r.id, error = %e, "pipelines: concurrency group not evaluated")
                }
            }
            // Groups are per repository, as GitHub's are.
            r.concurrency = r.concurrency.map(|g| format!("{}:{g}", r.repository));
        }
        let (cancel, _) = watch::channel(false);
        lock(&self.live).insert(r.id, Live { cancel, log_len: watch::channel(0).0, log: None });
        self.transition(&r, RUN_QUEUED, json!({"record": r}), &r.actor.clone());
        // Only one pending run per group: a newer one replaces it; with
        // cancel-in-progress, the running one is cancelled too.
        if let Some(g) = &r.concurrency {
            let others: Vec<RunRecord> = lock(&self.reg)
                .runs
                .values()
                .filter(|x| x.id != r.id && !x.finished() && x.concurrency.as_deref() == Some(g))
                .cloned()
                .collect();
            for o in others {
                if o.status == "queued" || r.cancel_in_progress {
                    let _ = self.cancel(
                        o.id,
                        &format!("superseded by run {} in concurrency group {g:?}", r.id),
                    );
                }
            }
        }
        let p = self.clone();
        let id = r.id;
        let secrets_file = spec.secrets_file.clone();
        tokio::spawn(async move { p.execute(id, wf, opts, secrets_file).await });
        id
    }

    fn options(&self, r: &RunRecord, spec: &RepositorySpec, mirror: &Mirror) -> local::Options {
        let mut vars = Object::new();
        for (k, v) in &spec.vars {
            vars.insert(k.clone(), Value::from(v.as_str()));
        }
        local::Options {
            repo: mirror.dir.clone(),
            sha: r.sha.clone(),
            branch: r.branch.clone(),
            tag: r.tag.clone(),
            schedule: r.schedule.clone(),
            event: r.event.clone(),
            repository: r.repository.clone(),
            actor: r.actor.clone(),
            inputs: andon_expr::parse_json(
                &serde_json::Value::Object(r.inputs.clone()).to_string(),
            )
            .ok()
            .and_then(|v| match v {
                Value::Object(o) => Some((*o).clone()),
                _ => None,
            })
            .unwrap_or_default(),
            vars,
            secrets: Vec::new(),
            matrix_filter: Vec::new(),
            only_job: None,
            parallel: spec.parallelism.map_or_else(
                || std::thread::available_parallelism().map_or(2, |n| n.get()),
                |n| n as usize,
            ),
            work_dir: self.dir.join("work"),
            store: self.store_dir(),
            run_id: r.id.to_string(),
            run_number: r.number,
            run_attempt: r.attempt,
            keep_artifacts: true,
        }
    }

    /// Cancels a queued or running run; false when it is not going on.
    pub(crate) fn cancel(&self, id: u64, why: &str) -> bool {
        let live = lock(&self.live);
        let Some(l) = live.get(&id) else { return false };
        tracing::info!(run = id, why, "pipelines: cancelling");
        l.cancel.send_replace(true);
        true
    }

    /// Runs a finished run again (same commit and workflow, next attempt).
    pub(crate) async fn rerun(self: &Arc<Self>, id: u64, actor: &str) -> Result<u64, String> {
        let old = self.run(id).ok_or_else(|| format!("no run {id}"))?;
        if !old.finished() {
            return Err(format!(
                "run {id} is still {}; cancel it first",
                old.status.replace('_', " ")
            ));
        }
        let (ns, name) = old.repository.split_once('/').unwrap_or(("default", ""));
        let key = ObjectRef::new("Repository", ns, name);
        let spec = self.spec_of(&key).await?;
        let mirror = self.mirror(&key);
        let files = mirror.workflow_files(&old.sha).await?;
        let (_, bytes) = files
            .into_iter()
            .find(|(f, _)| *f == old.workflow)
            .ok_or_else(|| format!("{} is not in commit {}", old.workflow, old.sha))?;
        let base = RunRecord {
            attempt: old.attempt + 1,
            rerun_of: Some(old.id),
            actor: actor.to_string(),
            jobs: Vec::new(),
            graph: Vec::new(),
            problems: Vec::new(),
            conclusion: None,
            reason: None,
            started_at: None,
            completed_at: None,
            concurrency: None,
            cancel_in_progress: false,
            ..old
        };
        match andon_pipeline::read(&base.workflow, &bytes) {
            Ok(wf) => Ok(self.queue(base, wf, spec, mirror)),
            Err(ps) => Ok(self.queue_invalid(base, ps.into_iter().map(|p| p.message).collect())),
        }
    }

    /// Waits for a slot and for the run's concurrency group, then runs it.
    async fn execute(
        self: Arc<Self>,
        id: u64,
        wf: andon_pipeline::Workflow,
        opts: local::Options,
        secrets_file: Option<String>,
    ) {
        let Some(mut cancel) = lock(&self.live).get(&id).map(|l| l.cancel.subscribe()) else {
            return;
        };
        let permit = loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if *cancel.borrow() {
                break None;
            }
            let Some(r) = self.run(id) else { return };
            let busy = r.concurrency.as_ref().is_some_and(|g| {
                lock(&self.reg).runs.values().any(|x| {
                    x.id != id && x.status == "in_progress" && x.concurrency.as_ref() == Some(g)
                })
            });
            if !busy && let Ok(p) = self.slots.clone().try_acquire_owned() {
                break Some(p);
            }
            tokio::select! {
                _ = &mut ended => {}
                _ = cancel.changed() => {}
            }
        };
        let Some(run) = self.run(id) else { return };
        let Some(slot) = permit else {
            self.transition(
                &run,
                RUN_COMPLETED,
                json!({"at": now_ms(), "conclusion": "cancelled"}),
                "andon",
            );
            self.finish(id);
            return;
        };
        self.transition(&run, RUN_STARTED, json!({"at": now_ms()}), "andon");
        self.log(
            id,
            &LogLine::run(
                "run",
                format!(
                    "{} on {} at {} ({})",
                    run.workflow_name,
                    run.event,
                    &run.sha[..run.sha.len().min(12)],
                    run.branch.as_deref().unwrap_or("")
                ),
            ),
        );
        // Secrets are read as the run starts, so a changed file counts from the next run.
        let mut opts = opts;
        if let Some(f) = &secrets_file {
            match andon_runner::files::read_secret_file(Path::new(f)) {
                Ok(pairs) => opts.secrets = pairs,
                Err(e) => {
                    let why = format!("secretsFile: {e}");
                    self.log(id, &LogLine::run("problem", why.clone()));
                    self.transition(
                        &run,
                        RUN_COMPLETED,
                        json!({"at": now_ms(), "conclusion": "failure", "reason": why}),
                        "andon",
                    );
                    drop(slot);
                    self.finish(id);
                    return;
                }
            }
        }
        let mut names: HashMap<usize, String> = HashMap::new();
        let p = self.clone();
        let mut on_event = |e: RunEvent| p.on_run_event(&run, &mut names, e);
        let result = local::run(&wf, &opts, cancel.clone(), &mut on_event).await;
        let (conclusion, reason) = match result {
            Ok(s) => (s.as_str().to_string(), None),
            Err(e) => {
                self.log(id, &LogLine::run("problem", e.clone()));
                ("failure".to_string(), Some(e))
            }
        };
        let mut fields = json!({"at": now_ms(), "conclusion": conclusion});
        if let Some(r) = reason {
            fields["reason"] = json!(r);
        }
        self.transition(&run, RUN_COMPLETED, fields, "andon");
        // The slot is free before waiting runs are woken to take it.
        drop(slot);
        self.finish(id);
    }

    fn finish(&self, id: u64) {
        lock(&self.live).remove(&id);
        self.ended.notify_waiters();
    }

    /// One event of a running run: its log line, and its transition when it is one.
    fn on_run_event(&self, run: &RunRecord, names: &mut HashMap<usize, String>, e: RunEvent) {
        let t = now_ms();
        let line = |job: usize, name: &str, k: &str, m: String| LogLine {
            t,
            job: Some(job),
            name: name.to_string(),
            k: k.into(),
            m,
            ok: None,
        };
        match e {
            RunEvent::JobStart { key, job, name } => {
                names.insert(key, name.clone());
                self.transition(
                    run,
                    JOB_STARTED,
                    json!({"at": t, "key": key, "job": job, "name": name}),
                    "andon",
                );
                self.log(run.id, &line(key, &name, "job", "job started".into()));
            }
            RunEvent::JobEnd { key, name, status, elapsed } => {
                self.transition(run, JOB_COMPLETED, json!({"at": t, "key": key, "conclusion": status.as_str(), "seconds": elapsed.as_secs_f64()}), "andon");
                self.log(
                    run.id,
                    &line(
                        key,
                        &name,
                        "job",
                        format!("{} in {:.2}s", status.as_str(), elapsed.as_secs_f64()),
                    ),
                );
            }
            RunEvent::JobSkipped { job, name } => {
                self.transition(
                    run,
                    JOB_SKIPPED,
                    json!({"at": t, "job": job, "name": name}),
                    "andon",
                );
            }
            RunEvent::Job { key, event } => {
                let name = names.get(&key).cloned().unwrap_or_default();
                let mut ok = None;
                let (k, m) = match event {
                    JobEvent::StepStart { name: step } => {
                        self.transition(
                            run,
                            STEP_STARTED,
                            json!({"at": t, "key": key, "step": step}),
                            "andon",
                        );
                        ("step", step)
                    }
                    JobEvent::StepEnd { name: step, result, elapsed } => {
                        self.transition(
                            run,
                            STEP_COMPLETED,
                            json!({"at": t, "key": key, "step": step, "outcome": result.outcome.as_str(), "conclusion": result.conclusion.as_str()}),
                            "andon",
                        );
                        ok = Some(result.conclusion == andon_pipeline::schedule::Status::Success);
                        (
                            "stepend",
                            format!(
                                "{step}: {} ({:.2}s)",
                                result.conclusion.as_str(),
                                elapsed.as_secs_f64()
                            ),
                        )
                    }
                    JobEvent::Summary(text) => {
                        use std::io::Write;
                        let path = self.run_dir(run.id).join(format!("summary-{key}.md"));
                        let _ = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&path)
                            .and_then(|mut f| {
                                f.write_all(format!("{}\n", text.trim_end()).as_bytes())
                            });
                        return;
                    }
                    JobEvent::Problem(p) => ("problem", p),
                    JobEvent::Line(l) => match l {
                        Line::Out(s) => ("out", s),
                        Line::Err(s) => ("err", s),
                        Line::GroupStart(s) => ("group", s),
                        Line::GroupEnd => ("endgroup", String::new()),
                        Line::Annotation { level, message, file, line } => {
                            let place = match (file, line) {
                                (Some(f), Some(l)) => format!(" {f}:{l}"),
                                (Some(f), None) => format!(" {f}"),
                                _ => String::new(),
                            };
                            ("annotation", format!("{level}{place}: {message}"))
                        }
                        Line::Debug(_) => return,
                        Line::Note(s) => ("note", s),
                    },
                };
                self.log(run.id, &LogLine { ok, ..line(key, &name, k, m) });
            }
        }
    }

    /// The artifacts a run uploaded: name → files (path, digest).
    pub(crate) fn artifacts(&self, id: u64) -> Vec<(String, Vec<andon_runner::store::Entry>)> {
        let dir = self.store_dir().join("artifacts").join(id.to_string());
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(&dir) else { return out };
        for e in rd.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains(".tmp") {
                continue;
            }
            if let Ok((_, entries)) = andon_runner::store::Store::read_manifest(&e.path()) {
                out.push((name, entries));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Stops every run (andon is shutting down): each is cancelled and recorded.
    pub(crate) async fn shutdown(&self) {
        let ids: Vec<u64> = lock(&self.live).keys().copied().collect();
        for id in &ids {
            self.cancel(*id, "andon is stopping");
        }
        for (_, w) in lock(&self.watches).drain() {
            let _ = w.stop.send(true);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !lock(&self.live).is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Let the recorder commit the last transitions.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Writes transitions to the journal in batches (one commit per short window).
async fn record(store: Store, mut rx: mpsc::UnboundedReceiver<NewEvent>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let window = tokio::time::sleep(Duration::from_millis(20));
        tokio::pin!(window);
        loop {
            tokio::select! {
                e = rx.recv() => match e {
                    Some(e) => batch.push(e),
                    None => break,
                },
                _ = &mut window => break,
            }
        }
        if let Err(e) = store.append(batch).await {
            tracing::error!(error = %e, "pipelines: cannot record run transitions");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_registry_is_the_fold_of_the_journal() {
        let mut reg = Registry::default();
        let r = RunRecord {
            id: 7,
            repository: "default/app".into(),
            status: "queued".into(),
            ..RunRecord::default()
        };
        reg.apply(RUN_QUEUED, &json!({"record": r}));
        reg.apply(RUN_STARTED, &json!({"run": 7, "at": 10}));
        reg.apply(
            JOB_STARTED,
            &json!({"run": 7, "at": 11, "key": 0, "job": "build", "name": "Build"}),
        );
        reg.apply(STEP_STARTED, &json!({"run": 7, "at": 12, "key": 0, "step": "make"}));
        reg.apply(STEP_COMPLETED, &json!({"run": 7, "at": 13, "key": 0, "step": "make", "outcome": "success", "conclusion": "success"}));
        reg.apply(STEP_STARTED, &json!({"run": 7, "at": 14, "key": 0, "step": "test"}));
        // andon died here: the next start completes the run with a reason.
        reg.apply(
            RUN_COMPLETED,
            &json!({"run": 7, "at": 20, "conclusion": "failure", "reason": "andon stopped"}),
        );
        let run = &reg.runs[&7];
        assert_eq!(
            (run.status.as_str(), run.conclusion.as_deref()),
            ("completed", Some("failure"))
        );
        assert_eq!(run.started_at, Some(10));
        let job = &run.jobs[0];
        assert_eq!((job.job.as_str(), job.conclusion.as_deref()), ("build", Some("failure")));
        assert_eq!(job.steps[0].conclusion.as_deref(), Some("success"));
        assert_eq!(job.steps[1].conclusion.as_deref(), Some("failure"));
        assert_eq!(job.steps[1].completed_at, Some(20));
        reg.apply(PUSH, &json!({"repository": "default/app", "branch": "main", "after": "abc"}));
        assert_eq!(reg.heads[&("default/app".to_string(), "main".to_string())], "abc");
    }
}
