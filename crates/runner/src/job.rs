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
use andon_pipeline::schedule::{Status, StepResult};
use andon_pipeline::workflow::{Job, Step, Workflow};
use andon_pipeline::{Kind, Token};

use crate::mask::Masker;
use crate::step::{self, Event, Script};

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
    walk(workspace, workspace, &mut files);
    files.sort();
    let mut outer = andon_core::sha256::Sha256::new();
    let mut any = false;
    for rel in files {
        let mut keep = false;
        for (neg, r) in &globs {
            if r.is_match(&rel) {
                keep = !neg;
            }
        }
        if !keep {
            continue;
        }
        let data =
            std::fs::read(workspace.join(&rel)).map_err(|e| format!("hashFiles: {rel}: {e}"))?;
        outer.update(&andon_core::sha256::digest(&data));
        any = true;
    }
    Ok(if any { andon_core::sha256::hex(&outer.finish()) } else { String::new() })
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if e.file_name() != ".git" {
                walk(root, &p, out);
            }
        } else if ft.is_file()
            && let Ok(rel) = p.strip_prefix(root)
        {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// A path glob: `**` any depth, `*` within a segment, `?` one character.
pub fn glob_regex(p: &str) -> Result<regex::Regex, String> {
    let mut re = String::from("^");
    let c: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '*' if c.get(i + 1) == Some(&'*') => {
                if c.get(i + 2) == Some(&'/') {
                    re.push_str("(?:.*/)?");
                    i += 3;
                } else {
                    re.push_str(".*");
                    i += 2;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                i += 1;
            }
            '?' => {
                re.push_str("[^/]");
                i += 1;
            }
            ch => {
                re.push_str(&regex::escape(&ch.to_string()));
                i += 1;
            }
        }
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|e| format!("pattern '{p}': {e}"))
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

fn which(program: &str, path_prepend: &[PathBuf]) -> Option<PathBuf> {
    let system = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    path_prepend.iter().chain(system.iter()).map(|d| d.join(program)).find(|p| p.is_file())
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
    if dest.exists() {
        std::fs::remove_dir_all(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    std::fs::create_dir_all(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let repo = place.repo.display().to_string();
    git(&["clone", "--quiet", "--no-checkout", &repo, "."], &dest).await?;
    git(&["-c", "advice.detachedHead=false", "checkout", "--quiet", &target], &dest).await?;
    Ok(format!("checked out {target} of {repo} into {}", dest.display()))
}

/// Runs a job. `job_env` is the workflow's `env` already evaluated; `cancel` turning
/// true cancels it.
#[allow(clippy::too_many_arguments)]
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
    let mut job_ctx = Object::new();
    job_ctx.insert("status", Value::from("success"));
    values.insert("job", Value::from(job_ctx.clone()));
    values.insert("steps", Value::from(Object::new()));
    let mut result =
        JobResult { status: Status::Success, outputs: Object::new(), steps: Vec::new() };
    let problem =
        |events: &mut (dyn FnMut(JobEvent) + Send), m: String| events(JobEvent::Problem(m));

    // env: the workflow's, then the job's (each evaluated with what came before).
    let mut env: Vec<(String, String)> = Vec::new();
    for t in [wf.env.as_ref(), job.env.as_ref()].into_iter().flatten() {
        values.insert(
            "env",
            Value::from(env.iter().cloned().map(|(k, v)| (k, Value::from(v))).collect::<Object>()),
        );
        let host = StepHost {
            values: &values,
            failed: false,
            cancelled: false,
            workspace: &place.workspace,
        };
        match t.evaluate(&host) {
            Ok(v) => env.extend(map_of(v)),
            Err(e) => {
                problem(events, format!("env: {}", e.describe(&t.literal().to_display())));
                result.status = Status::Failure;
                return result;
            }
        }
    }
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut post: Vec<PostSave> = Vec::new();
    let mut steps_ctx = Object::new();
    let mut failed = false;
    let mut cancelled = false;
    let base_env = |place: &Place, cx: &Contexts| {
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
    };
    for s in &job.steps {
        values.insert(
            "env",
            Value::from(env.iter().cloned().map(|(k, v)| (k, Value::from(v))).collect::<Object>()),
        );
        values.insert("steps", Value::from(steps_ctx.clone()));
        job_ctx.insert(
            "status",
            Value::from(if cancelled {
                "cancelled"
            } else if failed {
                "failure"
            } else {
                "success"
            }),
        );
        values.insert("job", Value::from(job_ctx.clone()));
        cancelled = cancelled || *cancel.borrow();
        let host = StepHost { values: &values, failed, cancelled, workspace: &place.workspace };
        let name = match &s.name {
            Some(t) => t.evaluate_string(&host).unwrap_or_else(|_| t.literal().to_display()),
            None => default_name(s),
        };
        let run_it = match andon_expr::eval_str(
            &s.condition,
            &andon_pipeline::schema::allowed(andon_pipeline::schema::STEP_IF),
            &host,
        ) {
            Ok(v) => v.truthy(),
            Err(e) => {
                problem(events, format!("step '{name}': if: {}", e.describe(&s.condition)));
                false
            }
        };
        if !run_it {
            let r = StepResult { outcome: Status::Skipped, conclusion: Status::Skipped };
            record(&mut steps_ctx, s, r, &[]);
            result.steps.push((s.id.clone(), r));
            continue;
        }
        events(JobEvent::StepStart { name: name.clone() });
        let started = Instant::now();
        // The step's own env on top, then the step's other fields with it.
        let mut step_env = env.clone();
        if let Some(t) = &s.env {
            match t.evaluate(&host) {
                Ok(v) => step_env.extend(map_of(v)),
                Err(e) => problem(events, format!("step '{name}': env: {e}")),
            }
        }
        values.insert(
            "env",
            Value::from(
                step_env.iter().cloned().map(|(k, v)| (k, Value::from(v))).collect::<Object>(),
            ),
        );
        let host = StepHost { values: &values, failed, cancelled, workspace: &place.workspace };
        let eval_bool = |t: &Option<Token>| {
            t.as_ref().and_then(|t| t.evaluate(&host).ok()).is_some_and(|v| v.truthy())
        };
        let continue_on_error = eval_bool(&s.continue_on_error);
        let timeout = s
            .timeout_minutes
            .as_ref()
            .and_then(|t| t.evaluate(&host).ok())
            .and_then(|v| minutes(&v));
        let mut outputs: Vec<(String, String)> = Vec::new();
        let outcome = if let Some(run_t) = &s.run {
            let script = match run_t.evaluate_string(&host) {
                Ok(s) => Some(s),
                Err(e) => {
                    problem(events, format!("step '{name}': run: {e}"));
                    None
                }
            };
            let shell = s.shell.clone().or_else(|| {
                default_run(job, wf, "shell").and_then(|t| t.evaluate_string(&host).ok())
            });
            let wd = s
                .working_directory
                .clone()
                .or_else(|| default_run(job, wf, "working-directory"))
                .and_then(|t| t.evaluate_string(&host).ok())
                .map_or(place.workspace.clone(), |d| place.workspace.join(d));
            match script {
                None => Status::Failure,
                Some(script) => {
                    let mut process_env: std::collections::BTreeMap<String, String> =
                        base_env(place, cx).into_iter().collect();
                    process_env.extend(step_env.iter().cloned());
                    let sc = Script {
                        script,
                        shell,
                        working_dir: wd,
                        env: process_env,
                        path_prepend: paths.clone(),
                        timeout,
                    };
                    let mut forward = |e: Event| events(JobEvent::Line(e));
                    match step::run(&sc, &place.temp, masker, cancel.clone(), &mut forward).await {
                        Ok(f) => {
                            outputs = f.outputs.clone();
                            env.extend(f.env.iter().cloned());
                            for p in f.paths.iter().rev() {
                                paths.insert(0, PathBuf::from(p));
                            }
                            if f.cancelled {
                                cancelled = true;
                                Status::Cancelled
                            } else if f.timed_out {
                                problem(
                                    events,
                                    format!(
                                        "step '{name}' timed out after {} minutes",
                                        timeout.map_or(0.0, |t| t.as_secs_f64() / 60.0)
                                    ),
                                );
                                Status::Failure
                            } else if f.success() {
                                Status::Success
                            } else {
                                if let Some(c) = f.code {
                                    problem(
                                        events,
                                        format!("Process completed with exit code {c}."),
                                    );
                                }
                                Status::Failure
                            }
                        }
                        Err(e) => {
                            problem(events, format!("step '{name}': {e}"));
                            Status::Failure
                        }
                    }
                }
            }
        } else if let Some(uses) = &s.uses {
            let with = s
                .with
                .as_ref()
                .and_then(|t| t.evaluate(&host).ok())
                .map(map_of)
                .unwrap_or_default();
            let mut say = |m: String| events(JobEvent::Line(Event::Out(m)));
            let done = action(uses, &with, place, &paths, &mut say, &mut post).await;
            match done {
                Ok(outs) => {
                    outputs = outs;
                    Status::Success
                }
                Err(e) => {
                    problem(events, e);
                    Status::Failure
                }
            }
        } else {
            Status::Failure
        };
        let r = StepResult::new(outcome, continue_on_error);
        if r.conclusion == Status::Failure {
            failed = true;
        }
        record(&mut steps_ctx, s, r, &outputs);
        result.steps.push((s.id.clone(), r));
        events(JobEvent::StepEnd { name, result: r, elapsed: started.elapsed() });
    }
    result.status = if cancelled {
        Status::Cancelled
    } else if failed {
        Status::Failure
    } else {
        Status::Success
    };
    // Caches are saved after the steps, when the job succeeded (as actions/cache's
    // post step does).
    if result.status == Status::Success {
        for p in &post {
            match save_cache(place, p) {
                Ok(m) => events(JobEvent::Line(Event::Out(m))),
                Err(e) => problem(events, format!("cache save: {e}")),
            }
        }
    }
    // The job's outputs, with everything the steps set.
    if let Some(o) = &job.outputs {
        values.insert("steps", Value::from(steps_ctx.clone()));
        values.insert(
            "env",
            Value::from(env.iter().cloned().map(|(k, v)| (k, Value::from(v))).collect::<Object>()),
        );
        let host = StepHost { values: &values, failed, cancelled, workspace: &place.workspace };
        for (k, v) in o.as_map().unwrap_or_default() {
            let key = k.as_str().unwrap_or_default().to_string();
            match v.evaluate_string(&host) {
                Ok(s) => result.outputs.insert(key, Value::from(s)),
                Err(e) => problem(events, format!("outputs.{key}: {e}")),
            }
        }
    }
    result
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

/// Whether a token is a literal `true` (for `fail-fast` and `continue-on-error` when
/// they need no contexts).
pub fn literal_bool(t: Option<&Token>) -> Option<bool> {
    match t.map(|t| &t.kind) {
        Some(Kind::Bool(b)) => Some(*b),
        _ => None,
    }
}
