//! Running one job on this machine: its steps in order, each with the contexts of
//! the moment (`github`, `env`, `vars`, `secrets`, `inputs`, `matrix`, `strategy`,
//! `needs`, `steps`, `job`, `runner`), `if:` with the status functions, `run:`
//! steps as processes, the built-in actions (`actions/checkout` from the local
//! repository, `actions/setup-*` as checks that the tool is on PATH), outputs,
//! `GITHUB_ENV`/`GITHUB_PATH` carried to later steps, `continue-on-error`,
//! `timeout-minutes`, and the job's outputs at the end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use andon_expr::{Host, Object, Value};
use andon_pipeline::Token;
use andon_pipeline::pattern::glob_regex;
use andon_pipeline::schedule::{Status, StepResult};
use andon_pipeline::workflow::{Job, Step, Workflow};

use crate::mask::Masker;
use crate::step::{self, Event, Script, which};

/// What one job run reports as it goes.
#[derive(Clone, Debug)]
pub enum JobEvent {
    StepStart {
        name: String,
    },
    Line(Event),
    StepEnd {
        name: String,
        result: StepResult,
        elapsed: Duration,
    },
    /// A problem of the runner itself (an expression that failed, a missing tool).
    Problem(String),
    /// What a step wrote to `GITHUB_STEP_SUMMARY` (Markdown, masked).
    Summary(String),
}

/// Where a job runs and what it starts from.
#[derive(Clone, Debug)]
pub struct Place {
    /// The repository the workflow comes from (checked out by `actions/checkout`).
    pub repo: PathBuf,
    /// The commit to check out.
    pub sha: String,
    /// The job's workspace (`GITHUB_WORKSPACE`).
    pub workspace: PathBuf,
    /// The job's temporary directory (`RUNNER_TEMP`; scripts and command files).
    pub temp: PathBuf,
    /// The content store for artifacts and caches.
    pub store: PathBuf,
    /// The run's id (its artifacts are the run's).
    pub run_id: String,
}

/// The contexts a job starts with.
#[derive(Clone, Debug, Default)]
pub struct Contexts {
    pub github: Object,
    pub vars: Object,
    pub secrets: Object,
    pub inputs: Object,
    pub matrix: Option<Object>,
    pub strategy: Object,
    pub needs: Object,
}

/// How a job ended.
#[derive(Clone, Debug)]
pub struct JobResult {
    pub status: Status,
    pub outputs: Object,
    pub steps: Vec<(String, StepResult)>,
}

/// Named values and the status functions of a step's expressions.
struct StepHost<'a> {
    values: &'a Object,
    failed: bool,
    cancelled: bool,
    workspace: &'a Path,
}

impl Host for StepHost<'_> {
    fn named_value(&self, name: &str) -> Value {
        self.values.get(name).cloned().unwrap_or(Value::Null)
    }

    fn call(&self, name: &str, args: &[Value]) -> Result<Value, String> {
        Ok(match name {
            "always" => Value::Bool(true),
            "success" => Value::Bool(!self.failed && !self.cancelled),
            "failure" => Value::Bool(self.failed && !self.cancelled),
            "cancelled" => Value::Bool(self.cancelled),
            "hashfiles" => Value::from(hash_files(self.workspace, args)?),
            other => return Err(format!("the function {other} is not available here")),
        })
    }
}

/// `hashFiles(patterns…)`: SHA-256 over the SHA-256 of each matching file under the
/// workspace, in path order; `''` when none matches. Patterns use `*`, `**` and `?`
/// as globs; a leading `!` excludes.
pub fn hash_files(workspace: &Path, patterns: &[Value]) -> Result<String, String> {
    let globs: Vec<(bool, regex::Regex)> = patterns
        .iter()
        .map(|p| {
            let p = p.to_display();
            let (neg, body) = match p.strip_prefix('!') {
                Some(b) => (true, b.to_string()),
                None => (false, p),
            };
            glob_regex(body.trim_start_matches("./")).map(|r| (neg, r))
        })
        .collect::<Result<_, _>>()?;
    let mut files = Vec::new();
    crate::store::walk_files(workspace, &mut files);
    files.sort();
    let mut outer = andon_core::sha256::Sha256::new();
    let mut any = false;
    for file in files {
        let rel = crate::store::relative(&file, workspace);
        let mut keep = false;
        for (neg, r) in &globs {
            if r.is_match(&rel) {
                keep = !neg;
            }
        }
        if keep {
            outer.update(&crate::store::file_digest(&file).map_err(|e| format!("hashFiles: {e}"))?);
            any = true;
        }
    }
    Ok(if any { andon_core::sha256::hex(&outer.finish()) } else { String::new() })
}

fn minutes(v: &Value) -> Option<Duration> {
    let n = v.to_number();
    (n.is_finite() && n > 0.0).then(|| Duration::from_secs_f64(n * 60.0))
}

/// The first line of a step's script, for its default name.
fn default_name(s: &Step) -> String {
    if let Some(u) = &s.uses {
        return format!("Run {u}");
    }
    let text = s.run.as_ref().map(Token::source_text).unwrap_or_default();
    format!("Run {}", text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or(""))
}

/// The `defaults.run` value of a key (`shell`, `working-directory`): the job's, else
/// the workflow's.
fn default_run(job: &Job, wf: &Workflow, key: &str) -> Option<Token> {
    job.defaults
        .as_ref()
        .and_then(|d| d.get("run"))
        .and_then(|r| r.get(key))
        .or_else(|| wf.defaults.as_ref().and_then(|d| d.get("run")).and_then(|r| r.get(key)))
        .cloned()
}

fn map_of(v: Value) -> Vec<(String, String)> {
    match v {
        Value::Object(o) => o.iter().map(|(k, v)| (k.to_string(), v.to_display())).collect(),
        _ => Vec::new(),
    }
}

/// The tool an `actions/setup-*` action stands for.
fn setup_tool(action: &str) -> Option<&'static [&'static str]> {
    Some(match action {
        "actions/setup-node" => &["node"],
        "actions/setup-python" => &["python3", "python"],
        "actions/setup-go" => &["go"],
        "actions/setup-java" => &["java"],
        "actions/setup-dotnet" => &["dotnet"],
        "actions/setup-ruby" | "ruby/setup-ruby" => &["ruby"],
        _ => return None,
    })
}

async fn git(args: &[&str], dir: &Path) -> Result<(), String> {
    let out = tokio::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .map_err(|e| format!("git: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// `actions/checkout`: the repository at the commit, into the workspace (or `path`).
async fn checkout(place: &Place, with: &[(String, String)]) -> Result<String, String> {
    let get = |k: &str| with.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let dest = match get("path") {
        Some(p) if !p.is_empty() => place.workspace.join(p),
        _ => place.workspace.clone(),
    };
    let target = get("ref").filter(|r| !r.is_empty()).unwrap_or_else(|| place.sha.clone());
    // The directory is emptied, not replaced: a job's container has it mounted.
    std::fs::create_dir_all(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    for entry in std::fs::read_dir(&dest).map_err(|e| format!("{}: {e}", dest.display()))? {
        let p = entry.map_err(|e| format!("{}: {e}", dest.display()))?.path();
        let gone = if p.is_dir() && !p.is_symlink() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        gone.map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let repo = place.repo.display().to_string();
    // Objects are shared with the local repository (no copy); the workspace is its own.
    git(&["clone", "--quiet", "--shared", "--no-checkout", &repo, "."], &dest).await?;
    git(&["-c", "advice.detachedHead=false", "checkout", "--quiet", &target], &dest).await?;
    Ok(format!("checked out {target} of {repo} into {}", dest.display()))
}

/// The environment variables every step gets (`CI`, `GITHUB_*`, `RUNNER_*`).
fn base_env(place: &Place, cx: &Contexts) -> Vec<(String, String)> {
    let g = |k: &str| cx.github.get(k).map(Value::to_display).unwrap_or_default();
    let mut e: Vec<(String, String)> = vec![
        ("CI".into(), "true".into()),
        ("GITHUB_ACTIONS".into(), "true".into()),
        ("GITHUB_WORKSPACE".into(), place.workspace.display().to_string()),
        ("RUNNER_TEMP".into(), place.temp.display().to_string()),
        ("RUNNER_OS".into(), "Linux".into()),
        ("RUNNER_ARCH".into(), "X64".into()),
        ("RUNNER_NAME".into(), "andon".into()),
    ];
    for (var, key) in [
        ("GITHUB_SHA", "sha"),
        ("GITHUB_REF", "ref"),
        ("GITHUB_REF_NAME", "ref_name"),
        ("GITHUB_REF_TYPE", "ref_type"),
        ("GITHUB_REPOSITORY", "repository"),
        ("GITHUB_REPOSITORY_OWNER", "repository_owner"),
        ("GITHUB_EVENT_NAME", "event_name"),
        ("GITHUB_EVENT_PATH", "event_path"),
        ("GITHUB_ACTOR", "actor"),
        ("GITHUB_RUN_ID", "run_id"),
        ("GITHUB_RUN_NUMBER", "run_number"),
        ("GITHUB_RUN_ATTEMPT", "run_attempt"),
        ("GITHUB_WORKFLOW", "workflow"),
        ("GITHUB_JOB", "job"),
        ("GITHUB_SERVER_URL", "server_url"),
        ("GITHUB_API_URL", "api_url"),
    ] {
        e.push((var.into(), g(key)));
    }
    e
}

fn env_object(env: &[(String, String)]) -> Value {
    Value::from(env.iter().cloned().map(|(k, v)| (k, Value::from(v))).collect::<Object>())
}

/// How deep local composite actions may call each other.
const MAX_COMPOSITE_DEPTH: usize = 9;

/// A job being run: its contexts and what its steps have done so far.
struct Session<'a> {
    wf: &'a Workflow,
    job: &'a Job,
    cx: &'a Contexts,
    place: &'a Place,
    masker: &'a mut Masker,
    cancel: tokio::sync::watch::Receiver<bool>,
    events: &'a mut (dyn FnMut(JobEvent) + Send),
    values: Object,
    env: Vec<(String, String)>,
    paths: Vec<PathBuf>,
    post: Vec<PostSave>,
    /// The job's container (`container:`), when it runs in one.
    container: Option<crate::container::Exec>,
    failed: bool,
    cancelled: bool,
    results: Vec<(String, StepResult)>,
}

impl Session<'_> {
    fn problem(&mut self, m: String) {
        (self.events)(JobEvent::Problem(m));
    }

    fn host(&self) -> StepHost<'_> {
        StepHost {
            values: &self.values,
            failed: self.failed,
            cancelled: self.cancelled,
            workspace: &self.place.workspace,
        }
    }

    /// Runs steps in order; `steps_ctx` is the `steps` context they see and fill.
    fn steps<'s>(
        &'s mut self,
        steps: &'s [Step],
        steps_ctx: &'s mut Object,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 's>> {
        Box::pin(async move {
            for s in steps {
                self.step(s, steps_ctx, depth).await;
            }
        })
    }

    async fn step(&mut self, s: &Step, steps_ctx: &mut Object, depth: usize) {
        self.values.insert("env", env_object(&self.env));
        self.values.insert("steps", Value::from(steps_ctx.clone()));
        let status = if self.cancelled {
            "cancelled"
        } else if self.failed {
            "failure"
        } else {
            "success"
        };
        let mut job_ctx = Object::new();
        job_ctx.insert("status", Value::from(status));
        self.values.insert("job", Value::from(job_ctx));
        self.cancelled = self.cancelled || *self.cancel.borrow();
        let name = match &s.name {
            Some(t) => t.evaluate_string(&self.host()).unwrap_or_else(|_| t.literal().to_display()),
            None => default_name(s),
        };
        let allowed = andon_pipeline::schema::everything();
        let run_it = match andon_expr::eval_str(&s.condition, allowed, &self.host()) {
            Ok(v) => v.truthy(),
            Err(e) => {
                self.problem(format!("step '{name}': if: {}", e.describe(&s.condition)));
                false
            }
        };
        if !run_it {
            let r = StepResult { outcome: Status::Skipped, conclusion: Status::Skipped };
            record(steps_ctx, s, r, &[]);
            self.results.push((s.id.clone(), r));
            return;
        }
        (self.events)(JobEvent::StepStart { name: name.clone() });
        let started = Instant::now();
        // The step's own env on top, then the step's other fields with it.
        let mut step_env = self.env.clone();
        if let Some(t) = &s.env {
            match t.evaluate(&self.host()) {
                Ok(v) => step_env.extend(map_of(v)),
                Err(e) => self.problem(format!("step '{name}': env: {e}")),
            }
        }
        self.values.insert("env", env_object(&step_env));
        let host = self.host();
        let eval = |t: &Option<Token>| t.as_ref().and_then(|t| t.evaluate(&host).ok());
        let continue_on_error = eval(&s.continue_on_error).is_some_and(|v| v.truthy());
        let timeout = eval(&s.timeout_minutes).and_then(|v| minutes(&v));
        let script = s.run.as_ref().map(|t| t.evaluate_string(&host));
        let shell = s.shell.clone().or_else(|| {
            default_run(self.job, self.wf, "shell").and_then(|t| t.evaluate_string(&host).ok())
        });
        let wd = s
            .working_directory
            .clone()
            .or_else(|| default_run(self.job, self.wf, "working-directory"))
            .and_then(|t| t.evaluate_string(&host).ok())
            .map_or(self.place.workspace.clone(), |d| self.place.workspace.join(d));
        let with =
            s.with.as_ref().and_then(|t| t.evaluate(&host).ok()).map(map_of).unwrap_or_default();
        let mut outputs: Vec<(String, String)> = Vec::new();
        let outcome = match (script, &s.uses) {
            (Some(Err(e)), _) => {
                self.problem(format!("step '{name}': run: {e}"));
                Status::Failure
            }
            (Some(Ok(script)), _) => {
                let mut process_env: std::collections::BTreeMap<String, String> =
                    base_env(self.place, self.cx).into_iter().collect();
                process_env.extend(step_env.iter().cloned());
                let sc = Script {
                    script,
                    shell,
                    working_dir: wd,
                    env: process_env,
                    path_prepend: self.paths.clone(),
                    timeout,
                    container: self.container.clone(),
                };
                let events = &mut *self.events;
                let mut forward = |e: Event| events(JobEvent::Line(e));
                let done = step::run(
                    &sc,
                    &self.place.temp,
                    self.masker,
                    self.cancel.clone(),
                    &mut forward,
                )
                .await;
                match done {
                    Ok(f) => {
                        if let Some(summary) = &f.summary {
                            (self.events)(JobEvent::Summary(summary.clone()));
                        }
                        outputs = f.outputs.clone();
                        self.env.extend(f.env.iter().cloned());
                        for p in f.paths.iter().rev() {
                            self.paths.insert(0, PathBuf::from(p));
                        }
                        if f.cancelled {
                            self.cancelled = true;
                            Status::Cancelled
                        } else if f.timed_out {
                            let mins = timeout.map_or(0.0, |t| t.as_secs_f64() / 60.0);
                            self.problem(format!("step '{name}' timed out after {mins} minutes"));
                            Status::Failure
                        } else if f.success() {
                            Status::Success
                        } else {
                            if let Some(c) = f.code {
                                self.problem(format!("Process completed with exit code {c}."));
                            }
                            Status::Failure
                        }
                    }
                    Err(e) => {
                        self.problem(format!("step '{name}': {e}"));
                        Status::Failure
                    }
                }
            }
            (None, Some(uses)) if uses.starts_with("./") => {
                match self.composite(uses, &with, depth).await {
                    Ok((status, outs)) => {
                        outputs = outs;
                        status
                    }
                    Err(e) => {
                        self.problem(e);
                        Status::Failure
                    }
                }
            }
            (None, Some(uses)) => {
                let events = &mut *self.events;
                let mut say = |m: String| events(JobEvent::Line(Event::Out(m)));
                let done =
                    action(uses, &with, self.place, &self.paths, &mut say, &mut self.post).await;
                match done {
                    Ok(outs) => {
                        outputs = outs;
                        Status::Success
                    }
                    Err(e) => {
                        self.problem(e);
                        Status::Failure
                    }
                }
            }
            (None, None) => Status::Failure,
        };
        let r = StepResult::new(outcome, continue_on_error);
        if r.conclusion == Status::Failure {
            self.failed = true;
        }
        record(steps_ctx, s, r, &outputs);
        self.results.push((s.id.clone(), r));
        (self.events)(JobEvent::StepEnd { name, result: r, elapsed: started.elapsed() });
    }

    /// A local composite action (`uses: ./path`): its `action.yml` read from the
    /// workspace, its steps run with its `inputs` (given or defaults), its outputs
    /// evaluated from its steps.
    async fn composite(
        &mut self,
        uses: &str,
        with: &[(String, String)],
        depth: usize,
    ) -> Result<(Status, Vec<(String, String)>), String> {
        if depth >= MAX_COMPOSITE_DEPTH {
            return Err(format!(
                "{uses}: composite actions nest deeper than {MAX_COMPOSITE_DEPTH}"
            ));
        }
        let dir = self.place.workspace.join(uses.trim_start_matches("./"));
        let file = ["action.yml", "action.yaml"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                format!(
                    "Can't find 'action.yml' or 'action.yaml' under '{}'. Did you forget to run actions/checkout before running your local action?",
                    dir.display()
                )
            })?;
        let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let shown = format!(
            "{}/{}",
            uses.trim_end_matches('/'),
            file.file_name().map(|f| f.to_string_lossy()).unwrap_or_default()
        );
        let action = andon_pipeline::workflow::read_action(&shown, &bytes)
            .map_err(|ps| ps.iter().map(|p| p.render(&shown)).collect::<Vec<_>>().join("\n"))?;
        if action.using != "composite" {
            return Err(format!(
                "{shown}: runs.using '{}' is not supported; andon runs local composite actions",
                action.using
            ));
        }
        let mut inputs = Object::new();
        for i in &action.inputs {
            let given =
                with.iter().find(|(k, _)| k.eq_ignore_ascii_case(&i.name)).map(|(_, v)| v.clone());
            let value = match (given, &i.default) {
                (Some(v), _) => v,
                (None, Some(d)) => d.evaluate_string(&self.host()).map_err(|e| e.to_string())?,
                (None, None) if i.required => {
                    return Err(format!("{shown}: input '{}' is required", i.name));
                }
                (None, None) => String::new(),
            };
            inputs.insert(i.name.clone(), Value::from(value));
        }
        let saved_inputs = self.values.get("inputs").cloned().unwrap_or(Value::Null);
        self.values.insert("inputs", Value::from(inputs));
        let failed_before = self.failed;
        self.failed = false;
        let mut ctx = Object::new();
        self.steps(&action.steps, &mut ctx, depth + 1).await;
        let failed_inside = self.failed;
        self.values.insert("steps", Value::from(ctx));
        let mut outs = Vec::new();
        for (k, t) in &action.outputs {
            match t.evaluate_string(&self.host()) {
                Ok(v) => outs.push((k.clone(), v)),
                Err(e) => self.problem(format!("{shown}: outputs.{k}: {e}")),
            }
        }
        self.values.insert("inputs", saved_inputs);
        self.failed = failed_before;
        let status = if self.cancelled {
            Status::Cancelled
        } else if failed_inside {
            Status::Failure
        } else {
            Status::Success
        };
        Ok((status, outs))
    }
}

/// Runs a job; `cancel` turning true cancels it.
pub async fn run(
    wf: &Workflow,
    job: &Job,
    cx: &Contexts,
    place: &Place,
    masker: &mut Masker,
    cancel: tokio::sync::watch::Receiver<bool>,
    events: &mut (dyn FnMut(JobEvent) + Send),
) -> JobResult {
    let _ = std::fs::create_dir_all(&place.workspace);
    let _ = std::fs::create_dir_all(&place.temp);
    let mut values = Object::new();
    values.insert("github", Value::from(cx.github.clone()));
    values.insert("vars", Value::from(cx.vars.clone()));
    values.insert("secrets", Value::from(cx.secrets.clone()));
    values.insert("inputs", Value::from(cx.inputs.clone()));
    values.insert("matrix", cx.matrix.clone().map(Value::from).unwrap_or(Value::Null));
    values.insert("strategy", Value::from(cx.strategy.clone()));
    values.insert("needs", Value::from(cx.needs.clone()));
    let mut runner = Object::new();
    runner.insert("os", Value::from("Linux"));
    runner.insert("arch", Value::from(if cfg!(target_arch = "aarch64") { "ARM64" } else { "X64" }));
    runner.insert("name", Value::from("andon"));
    runner.insert("temp", Value::from(place.temp.display().to_string()));
    runner.insert("tool_cache", Value::from(place.temp.join("tool-cache").display().to_string()));
    values.insert("runner", Value::from(runner));
    values.insert("steps", Value::from(Object::new()));
    let mut session = Session {
        wf,
        job,
        cx,
        place,
        masker,
        cancel,
        events,
        values,
        env: Vec::new(),
        paths: Vec::new(),
        post: Vec::new(),
        container: None,
        failed: false,
        cancelled: false,
        results: Vec::new(),
    };
    let failed =
        || JobResult { status: Status::Failure, outputs: Object::new(), steps: Vec::new() };
    if job.services.is_some() {
        session.problem(
            "the job's `services:` (service containers) are not supported yet; start what the job needs in a step, or as an andon Service".into(),
        );
        return failed();
    }
    // env: the workflow's, then the job's (each evaluated with what came before).
    for t in [wf.env.as_ref(), job.env.as_ref()].into_iter().flatten() {
        session.values.insert("env", env_object(&session.env));
        match t.evaluate(&session.host()) {
            Ok(v) => session.env.extend(map_of(v)),
            Err(e) => {
                session.problem(format!("env: {}", e.describe(&t.literal().to_display())));
                return JobResult {
                    status: Status::Failure,
                    outputs: Object::new(),
                    steps: Vec::new(),
                };
            }
        }
    }
    // `container:` — the job's run steps go into a container of that image.
    let mut running = None;
    if let Some(t) = &job.container {
        let spec = t
            .evaluate(&session.host())
            .map_err(|e| e.to_string())
            .and_then(|v| crate::container::spec_of(&v));
        match spec {
            Err(e) => {
                session.problem(format!("container: {e}"));
                return failed();
            }
            // An empty image runs the job on the host, as GitHub does.
            Ok(spec) if spec.image.is_empty() => {}
            Ok(spec) => {
                let name = place
                    .workspace
                    .parent()
                    .and_then(Path::file_name)
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let name: String = format!("{}-{name}", place.run_id)
                    .chars()
                    .map(
                        |c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' },
                    )
                    .collect();
                let started = match crate::container::find_engine().await {
                    Ok(engine) => {
                        crate::container::start(
                            &engine,
                            &spec,
                            &name,
                            &place.workspace,
                            &place.temp,
                        )
                        .await
                    }
                    Err(e) => Err(format!("the job's `container:` {e}")),
                };
                match started {
                    Ok(c) => {
                        (session.events)(JobEvent::Line(Event::Out(format!(
                            "started container {} from {} ({})",
                            c.exec.name, spec.image, c.exec.engine
                        ))));
                        session.container = Some(c.exec.clone());
                        running = Some(c);
                    }
                    Err(e) => {
                        session.problem(e);
                        return failed();
                    }
                }
            }
        }
    }
    let mut steps_ctx = Object::new();
    session.steps(&job.steps, &mut steps_ctx, 0).await;
    if let Some(c) = running {
        c.stop().await;
    }
    let status = if session.cancelled {
        Status::Cancelled
    } else if session.failed {
        Status::Failure
    } else {
        Status::Success
    };
    // Caches are saved after the steps, when the job succeeded (as actions/cache's
    // post step does).
    if status == Status::Success {
        for p in std::mem::take(&mut session.post) {
            match save_cache(place, &p) {
                Ok(m) => (session.events)(JobEvent::Line(Event::Out(m))),
                Err(e) => session.problem(format!("cache save: {e}")),
            }
        }
    }
    // The job's outputs, with everything the steps set.
    let mut outputs = Object::new();
    if let Some(o) = &job.outputs {
        session.values.insert("steps", Value::from(steps_ctx.clone()));
        session.values.insert("env", env_object(&session.env));
        for (k, v) in o.as_map().unwrap_or_default() {
            let key = k.as_str().unwrap_or_default().to_string();
            match v.evaluate_string(&session.host()) {
                Ok(s) => outputs.insert(key, Value::from(s)),
                Err(e) => session.problem(format!("outputs.{key}: {e}")),
            }
        }
    }
    JobResult { status, outputs, steps: session.results }
}

/// A cache to save after the job's steps.
#[derive(Clone, Debug)]
pub struct PostSave {
    key: String,
    paths: String,
}

fn input<'a>(with: &'a [(String, String)], k: &str) -> Option<&'a str> {
    with.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

fn lines(v: Option<&str>) -> Vec<String> {
    v.unwrap_or("").lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// The built-in actions.
async fn action(
    uses: &str,
    with: &[(String, String)],
    place: &Place,
    paths: &[PathBuf],
    say: &mut (dyn FnMut(String) + Send),
    post: &mut Vec<PostSave>,
) -> Result<Vec<(String, String)>, String> {
    let name = uses.split('@').next().unwrap_or(uses);
    let store = crate::store::Store::new(&place.store);
    let artifacts = place.store.join("artifacts").join(&place.run_id);
    match name {
        "actions/checkout" => {
            say(checkout(place, with).await?);
            Ok(Vec::new())
        }
        "actions/upload-artifact" => {
            let art = input(with, "name").unwrap_or("artifact");
            let spec = input(with, "path").ok_or("upload-artifact: the path input is required")?;
            let (files, rel) = crate::store::expand_paths(&place.workspace, spec)?;
            if files.is_empty() {
                let msg = format!(
                    "No files were found with the provided path: {spec}. No artifacts will be uploaded."
                );
                return match input(with, "if-no-files-found").unwrap_or("warn") {
                    "error" => Err(msg),
                    "ignore" => Ok(Vec::new()),
                    _ => {
                        say(format!("warning: {msg}"));
                        Ok(Vec::new())
                    }
                };
            }
            let manifest = artifacts.join(art);
            if manifest.exists() && input(with, "overwrite") != Some("true") {
                return Err(format!(
                    "an artifact named '{art}' already exists in this run (set overwrite: true to replace it)"
                ));
            }
            let entries = store.put_all(&files, &rel)?;
            store.write_manifest(&manifest, &entries, art)?;
            let listing: String =
                entries.iter().map(|e| format!("{} {}\n", e.digest, e.path)).collect();
            let digest = andon_core::sha256::digest_hex(listing.as_bytes());
            say(format!("uploaded artifact '{art}': {} files", entries.len()));
            Ok(vec![
                ("artifact-id".into(), digest[..16].to_string()),
                ("artifact-digest".into(), digest),
            ])
        }
        "actions/download-artifact" => {
            let dest =
                input(with, "path").map_or(place.workspace.clone(), |p| place.workspace.join(p));
            let single = input(with, "name").is_some();
            let names: Vec<String> = match input(with, "name") {
                Some(n) => vec![n.to_string()],
                None => std::fs::read_dir(&artifacts)
                    .into_iter()
                    .flatten()
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.contains(".tmp"))
                    .collect(),
            };
            for n in &names {
                let (_, entries) =
                    crate::store::Store::read_manifest(&artifacts.join(n)).map_err(|_| {
                        format!("Unable to download artifact(s): Artifact not found for name: {n}")
                    })?;
                let to = if single { dest.clone() } else { dest.join(n) };
                let count = store.restore(&entries, &to)?;
                say(format!("downloaded artifact '{n}': {count} files into {}", to.display()));
            }
            Ok(vec![("download-path".into(), dest.display().to_string())])
        }
        "actions/cache" | "actions/cache/restore" | "actions/cache/save" => {
            let key = input(with, "key").ok_or("cache: the key input is required")?.to_string();
            let spec = input(with, "path").ok_or("cache: the path input is required")?.to_string();
            if name == "actions/cache/save" {
                say(save_cache(place, &PostSave { key: key.clone(), paths: spec })?);
                return Ok(Vec::new());
            }
            let restore_keys = lines(input(with, "restore-keys"));
            let found = store.cache_lookup(&key, &restore_keys);
            let hit = found.as_ref().is_some_and(|(k, _)| *k == key);
            if let Some((k, entries)) = &found {
                let (home, ws): (Vec<_>, Vec<_>) =
                    entries.iter().cloned().partition(|e| e.path.starts_with("~/"));
                store.restore(&ws, &place.workspace)?;
                if let Ok(h) = std::env::var("HOME") {
                    let home: Vec<_> = home
                        .into_iter()
                        .map(|mut e| {
                            e.path = e.path.trim_start_matches("~/").to_string();
                            e
                        })
                        .collect();
                    store.restore(&home, Path::new(&h))?;
                }
                say(format!("Cache restored from key: {k}"));
            } else {
                let keys: Vec<String> = std::iter::once(key.clone()).chain(restore_keys).collect();
                say(format!("Cache not found for input keys: {}", keys.join(", ")));
            }
            if name == "actions/cache" && !hit {
                post.push(PostSave { key: key.clone(), paths: spec });
            }
            Ok(vec![
                ("cache-hit".into(), hit.to_string()),
                ("cache-primary-key".into(), key),
                ("cache-matched-key".into(), found.map(|f| f.0).unwrap_or_default()),
            ])
        }
        _ => {
            if let Some(tools) = setup_tool(name) {
                return match tools.iter().find_map(|t| which(t, paths)) {
                    Some(p) => {
                        say(format!("{uses}: using {} from PATH", p.display()));
                        Ok(Vec::new())
                    }
                    None => Err(format!(
                        "{uses}: {} is not on PATH; andon does not download tools",
                        tools.join(" or ")
                    )),
                };
            }
            Err(format!(
                "the action '{uses}' is not available: andon runs without network access to actions; built in are actions/checkout, actions/setup-*, actions/upload-artifact, actions/download-artifact and actions/cache"
            ))
        }
    }
}

/// Saves a cache entry: the files under the paths (relative to the workspace, or
/// `~/…` under the home directory).
fn save_cache(place: &Place, p: &PostSave) -> Result<String, String> {
    let store = crate::store::Store::new(&place.store);
    let manifest = store.cache_manifest(&p.key);
    if manifest.exists() {
        return Ok(format!("Cache hit occurred on the primary key {}, not saving cache.", p.key));
    }
    let home = std::env::var("HOME").map(PathBuf::from).unwrap_or_default();
    let mut entries = Vec::new();
    for line in lines(Some(&p.paths)) {
        let (base, spec, prefix) = match line.strip_prefix("~/") {
            Some(rest) => (home.clone(), rest.to_string(), "~/"),
            None => (place.workspace.clone(), line.clone(), ""),
        };
        let (files, _) = crate::store::expand_paths(&base, &spec)?;
        for mut e in store.put_all(&files, &base)? {
            e.path = format!("{prefix}{}", e.path);
            entries.push(e);
        }
    }
    if entries.is_empty() {
        return Ok(format!(
            "Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved ({})",
            p.key
        ));
    }
    store.write_manifest(&manifest, &entries, &p.key)?;
    Ok(format!("Cache saved with key: {} ({} files)", p.key, entries.len()))
}

fn record(steps: &mut Object, s: &Step, r: StepResult, outputs: &[(String, String)]) {
    let mut o = Object::new();
    o.insert(
        "outputs",
        Value::from(
            outputs.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect::<Object>(),
        ),
    );
    o.insert("outcome", Value::from(r.outcome.as_str()));
    o.insert("conclusion", Value::from(r.conclusion.as_str()));
    steps.insert(s.id.clone(), Value::from(o));
}
