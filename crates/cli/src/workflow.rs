//! `andon workflow …`: GitHub Actions workflow tools that need no server.

use std::path::Path;

use andon_expr::{Allowed, Function, Host, Object, STATUS_FUNCTIONS, Value};

use crate::output;

/// The contexts a workflow can name; `--context` may add more.
pub const CONTEXTS: &[&str] = &[
    "github", "env", "vars", "job", "jobs", "steps", "runner", "secrets", "strategy", "matrix",
    "needs", "inputs",
];

/// Named values from a context file; the status functions read `job.status`
/// (default `success`), as they would in a step.
struct FileHost(Object);

impl Host for FileHost {
    fn named_value(&self, name: &str) -> Value {
        self.0.named_value(name)
    }

    fn call(&self, name: &str, _args: &[Value]) -> Result<Value, String> {
        let status = match self.0.get("job") {
            Some(Value::Object(j)) => j.get("status").map(Value::to_display),
            _ => None,
        }
        .unwrap_or_else(|| "success".into());
        Ok(Value::Bool(match name {
            "always" => true,
            "success" | "failure" | "cancelled" => status.eq_ignore_ascii_case(name),
            other => return Err(format!("the function {other} is not available here")),
        }))
    }
}

/// `andon workflow expr EXPR [--context FILE]`.
pub fn expr(text: &str, context: Option<&Path>) -> u8 {
    let contexts = match context {
        None => Object::new(),
        Some(path) => {
            let read = std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|t| andon_expr::parse_json(&t));
            match read {
                Ok(Value::Object(o)) => (*o).clone(),
                Ok(other) => {
                    output::error(&format!(
                        "{}: the contexts must be a JSON object keyed by context name, found {}",
                        path.display(),
                        other.kind()
                    ));
                    return 2;
                }
                Err(e) => {
                    output::error(&format!("{}: {e}", path.display()));
                    return 2;
                }
            }
        }
    };
    let mut named: Vec<String> = CONTEXTS.iter().map(|s| s.to_string()).collect();
    named.extend(contexts.iter().map(|(k, _)| k.to_string()));
    let allowed = Allowed {
        named_values: named,
        functions: STATUS_FUNCTIONS.iter().map(|n| Function { name: n, min: 0, max: 0 }).collect(),
    };
    match andon_expr::eval_str(text, &allowed, &FileHost(contexts)) {
        Ok(v) => {
            output::line(&v.to_json_pretty());
            0
        }
        Err(e) => {
            output::error(&format!("{} error: {}", e.kind.as_str(), e.describe(text)));
            1
        }
    }
}

/// The repository around the working directory: its root (where `.git` is).
fn repo_root() -> Option<std::path::PathBuf> {
    let mut dir = std::env::current_dir().ok()?;
    loop {
        if dir.join(".git").exists() {
            return Some(dir);
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// The checked-out branch, from `.git/HEAD`.
fn current_branch(root: &Path) -> Option<String> {
    let head = std::fs::read_to_string(root.join(".git/HEAD")).ok()?;
    head.trim().strip_prefix("ref: refs/heads/").map(str::to_owned)
}

/// The files the checked-out commit changes (`git show --name-only HEAD`), when git can
/// tell.
fn changed_paths(root: &Path) -> Option<Vec<String>> {
    let out = std::process::Command::new("git")
        .args(["show", "--name-only", "--format=", "HEAD"])
        .current_dir(root)
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

/// The workflow files to read: `-W` (a file or a directory) or the repository's.
fn workflow_files(
    args: &crate::RunArgs,
    root: Option<&Path>,
) -> Result<Vec<std::path::PathBuf>, String> {
    let dir = match (&args.workflows, root) {
        (Some(p), _) if p.is_file() => return Ok(vec![p.clone()]),
        (Some(p), _) => p.clone(),
        (None, Some(r)) => r.join(".github/workflows"),
        (None, None) => {
            return Err("not in a git repository (no .git found here or above); use -W FILE".into());
        }
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no workflow files (*.yml, *.yaml) in {}", dir.display()));
    }
    Ok(files)
}

fn display_path(p: &Path, root: Option<&Path>) -> String {
    root.and_then(|r| p.strip_prefix(r).ok()).unwrap_or(p).display().to_string()
}

/// Reads every workflow; problems are printed as `file:line:col: message`.
fn read_all(
    files: &[std::path::PathBuf],
    root: Option<&Path>,
) -> (Vec<(String, andon_pipeline::Workflow)>, usize) {
    let mut out = Vec::new();
    let mut problems = 0;
    for f in files {
        let name = display_path(f, root);
        let bytes = match std::fs::read(f) {
            Ok(b) => b,
            Err(e) => {
                output::error(&format!("{name}: {e}"));
                problems += 1;
                continue;
            }
        };
        match andon_pipeline::read(&name, &bytes) {
            Ok(wf) => out.push((name, wf)),
            Err(ps) => {
                for p in &ps {
                    match p.pos {
                        Some(pos) => output::error(&format!(
                            "{name}:{}:{}: {}",
                            pos.line, pos.col, p.message
                        )),
                        None => output::error(&format!("{name}: {}", p.message)),
                    }
                }
                problems += ps.len();
            }
        }
    }
    (out, problems)
}

pub(crate) fn parse_pairs(
    items: &[String],
    sep: char,
    what: &str,
) -> Result<Vec<(String, String)>, String> {
    items
        .iter()
        .map(|i| {
            i.split_once(sep)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("{what} {i:?}: expected NAME{sep}VALUE"))
        })
        .collect()
}

/// The `inputs` context: the workflow's `workflow_dispatch` defaults, then `--input`s.
fn input_values(wf: &andon_pipeline::Workflow, given: &[(String, String)]) -> Object {
    let mut out = Object::new();
    for i in &wf.dispatch_inputs {
        if let Some(d) = &i.default {
            out.insert(i.name.clone(), d.literal());
        }
    }
    for (k, v) in given {
        out.insert(k.clone(), Value::from(v.as_str()));
    }
    out
}

/// The `inputs` context for `--event`: a `workflow_dispatch`'s checked and typed (a
/// problem is printed, and `None`), else the defaults and `--input`s as text.
fn inputs_for(
    wf: &andon_pipeline::Workflow,
    file: &str,
    given: &[(String, String)],
    event: &str,
) -> Option<Object> {
    if event != "workflow_dispatch" {
        return Some(input_values(wf, given));
    }
    andon_pipeline::plan::dispatch_inputs(wf, given)
        .map_err(|e| output::error(&format!("{file}: {e}")))
        .ok()
}

/// What `--event` on the checked-out branch means for trigger matching (a push's
/// paths are the last commit's files).
fn trigger_of(
    args: &crate::RunArgs,
    root: Option<&Path>,
    branch: Option<String>,
) -> andon_pipeline::plan::Trigger {
    andon_pipeline::plan::Trigger {
        event: args.event.clone(),
        branch,
        tag: None,
        paths: if args.event == "push" { root.and_then(changed_paths) } else { None },
        activity: args.event.starts_with("pull_request").then(|| "opened".to_string()),
    }
}

/// Where `andon run` keeps artifacts and caches: `$XDG_CACHE_HOME/andon`, else
/// `~/.cache/andon`.
fn cache_dir() -> std::path::PathBuf {
    match (std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME")) {
        (Some(x), _) if !x.is_empty() => std::path::PathBuf::from(x).join("andon"),
        (_, Some(h)) => std::path::PathBuf::from(h).join(".cache/andon"),
        _ => std::env::temp_dir().join("andon-cache"),
    }
}

/// `andon run`.
pub async fn run(args: &crate::RunArgs) -> u8 {
    let root = repo_root();
    let files = match workflow_files(args, root.as_deref()) {
        Ok(f) => f,
        Err(e) => {
            output::error(&e);
            return 2;
        }
    };
    let (workflows, problems) = read_all(&files, root.as_deref());
    if problems > 0 {
        output::note(&format!("{problems} problems found; nothing runs"));
        return 2;
    }
    if args.list {
        let mut rows =
            vec![["WORKFLOW", "JOB", "NAME", "NEEDS", "EVENTS"].map(String::from).to_vec()];
        for (file, wf) in &workflows {
            let events: Vec<&str> = wf.events.iter().map(|e| e.name.as_str()).collect();
            for j in &wf.jobs {
                rows.push(vec![
                    file.clone(),
                    j.id.clone(),
                    j.name.as_str().unwrap_or(&j.id).to_string(),
                    j.needs.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(","),
                    events.join(","),
                ]);
            }
        }
        output::table(&rows);
        return 0;
    }
    if !args.dry_run {
        return execute(args, root.as_deref(), &workflows).await;
    }
    dry_run(args, root.as_deref(), &workflows)
}

fn git_out(root: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).current_dir(root).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `owner/name` from the `origin` remote, else the directory's name.
fn repository_name(root: &Path) -> String {
    if let Some(url) = git_out(root, &["remote", "get-url", "origin"]) {
        let path = url.trim_end_matches(".git").replace(':', "/");
        let parts: Vec<&str> = path.rsplit('/').take(2).collect();
        if parts.len() == 2 && !parts[0].is_empty() && !parts[1].is_empty() {
            return format!("{}/{}", parts[1], parts[0]);
        }
    }
    let dir = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!("local/{dir}")
}

fn secrets_of(args: &crate::RunArgs) -> Result<Vec<(String, String)>, String> {
    let mut out = parse_pairs(&args.secrets, '=', "--secret")?;
    if let Some(f) = &args.secret_file {
        out.extend(andon_runner::files::read_secret_file(f)?);
    }
    Ok(out)
}

/// Runs the triggered workflows' jobs here, with a live display and a summary.
async fn execute(
    args: &crate::RunArgs,
    root: Option<&Path>,
    workflows: &[(String, andon_pipeline::Workflow)],
) -> u8 {
    use andon_pipeline::schedule::Status;
    use andon_runner::job::JobEvent;
    use andon_runner::local::{self, RunEvent};
    use andon_runner::step::Event as Line;
    let Some(root) = root else {
        output::error("andon run needs a git repository (the jobs check out its commit)");
        return 2;
    };
    let Some(sha) = git_out(root, &["rev-parse", "HEAD"]) else {
        output::error("the repository has no commit to run (git rev-parse HEAD failed)");
        return 2;
    };
    let (inputs, filters, secrets) = match (
        parse_pairs(&args.inputs, '=', "--input"),
        parse_pairs(&args.matrix, ':', "--matrix"),
        secrets_of(args),
    ) {
        (Ok(i), Ok(m), Ok(s)) => (i, m, s),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => {
            output::error(&e);
            return 2;
        }
    };
    let branch = current_branch(root);
    let trigger = trigger_of(args, Some(root), branch.clone());
    // If andon dies (even kill -9), the reaper kills the steps' process groups.
    if let Ok(exe) = std::env::current_exe()
        && let Ok(r) = andon_supervisor::reaper::Reaper::spawn(&exe)
    {
        let _ = andon_runner::step::REAPER.set(r);
    }
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = cancel_tx.send(true);
        }
    });
    let actor = std::env::var("USER").unwrap_or_else(|_| "andon".into());
    let repository = repository_name(root);
    let mut failed = false;
    let mut ran = 0;
    for (file, wf) in workflows {
        if let Err(why) = wf.triggered_by(&trigger) {
            output::note(&format!("{file}: not triggered: {why}"));
            continue;
        }
        if args.job.as_ref().is_some_and(|j| !wf.jobs.iter().any(|x| x.id == *j)) {
            continue;
        }
        ran += 1;
        let Some(input_values) = inputs_for(wf, file, &inputs, &args.event) else { return 2 };
        let opts = local::Options {
            repo: root.to_path_buf(),
            sha: sha.clone(),
            branch: branch.clone(),
            tag: None,
            schedule: None,
            event: args.event.clone(),
            repository: repository.clone(),
            actor: actor.clone(),
            inputs: input_values,
            vars: Object::new(),
            secrets: secrets.clone(),
            matrix_filter: filters.clone(),
            only_job: args.job.clone(),
            parallel: std::thread::available_parallelism().map_or(2, |n| n.get()),
            work_dir: std::env::temp_dir().join("andon-runs"),
            store: cache_dir(),
            run_id: String::new(),
            run_number: 1,
            run_attempt: 1,
            keep_artifacts: false,
        };
        output::line(&format!(
            "▶ {} ({file}) on {} at {}",
            wf.name.as_deref().unwrap_or(file),
            args.event,
            &sha[..sha.len().min(12)]
        ));
        let mut names: Vec<String> = Vec::new();
        let mut summary: Vec<(String, Status, std::time::Duration)> = Vec::new();
        let mut depth: Vec<usize> = Vec::new();
        let mut summaries: Vec<(String, String)> = Vec::new();
        let mut on_event = |e: RunEvent| match e {
            RunEvent::JobStart { key, name, .. } => {
                if names.len() <= key {
                    names.resize(key + 1, String::new());
                    depth.resize(key + 1, 0);
                }
                names[key] = name.clone();
                output::line(&format!("[{name}] ▶ job started"));
            }
            RunEvent::Job { key, event } => {
                let name = names.get(key).cloned().unwrap_or_default();
                let indent = "  ".repeat(depth.get(key).copied().unwrap_or(0));
                match event {
                    JobEvent::StepStart { name: step } => {
                        output::line(&format!("[{name}] ⏵ {step}"))
                    }
                    JobEvent::StepEnd { name: step, result, elapsed } => {
                        let mark = match (result.outcome, result.conclusion) {
                            (Status::Success, _) => "✓",
                            (Status::Failure, Status::Success) => "✗ (continue-on-error)",
                            (Status::Cancelled, _) => "⊘",
                            _ => "✗",
                        };
                        output::line(&format!(
                            "[{name}] {mark} {step} ({:.2}s)",
                            elapsed.as_secs_f64()
                        ));
                    }
                    JobEvent::Line(Line::Out(l)) | JobEvent::Line(Line::Err(l)) => {
                        output::line(&format!("[{name}]   {indent}{l}"));
                    }
                    JobEvent::Line(Line::GroupStart(t)) => {
                        output::line(&format!("[{name}]   {indent}▸ {t}"));
                        if let Some(d) = depth.get_mut(key) {
                            *d += 1;
                        }
                    }
                    JobEvent::Line(Line::GroupEnd) => {
                        if let Some(d) = depth.get_mut(key) {
                            *d = d.saturating_sub(1);
                        }
                    }
                    JobEvent::Line(Line::Annotation { level, message, file, line }) => {
                        let place = match (file, line) {
                            (Some(f), Some(l)) => format!(" {f}:{l}"),
                            (Some(f), None) => format!(" {f}"),
                            _ => String::new(),
                        };
                        output::line(&format!("[{name}]   {level}{place}: {message}"));
                    }
                    JobEvent::Line(Line::Debug(_)) => {}
                    JobEvent::Summary(text) => summaries.push((name, text)),
                    JobEvent::Line(Line::Note(n)) | JobEvent::Problem(n) => {
                        output::line(&format!("[{name}] ! {n}"))
                    }
                }
            }
            RunEvent::JobEnd { name, status, elapsed, .. } => {
                output::line(&format!(
                    "[{name}] {} in {:.2}s",
                    status.as_str(),
                    elapsed.as_secs_f64()
                ));
                summary.push((name, status, elapsed));
            }
            RunEvent::JobSkipped { name, .. } => {
                summary.push((name, Status::Skipped, std::time::Duration::ZERO))
            }
        };
        match local::run(wf, &opts, cancel_rx.clone(), &mut on_event).await {
            Ok(conclusion) => {
                let mut rows = vec![["JOB", "RESULT", "DURATION"].map(String::from).to_vec()];
                for (n, s, d) in &summary {
                    rows.push(vec![
                        n.clone(),
                        s.as_str().to_string(),
                        format!("{:.2}s", d.as_secs_f64()),
                    ]);
                }
                output::line("");
                output::table(&rows);
                for (job, text) in &summaries {
                    output::line(&format!("\n── step summary: {job} ──"));
                    output::line(text.trim_end());
                }
                output::line(&format!(
                    "{}: {}",
                    wf.name.as_deref().unwrap_or(file),
                    conclusion.as_str()
                ));
                if conclusion != Status::Success {
                    failed = true;
                }
            }
            Err(e) => {
                output::error(&format!("{file}: {e}"));
                failed = true;
            }
        }
    }
    if ran == 0 {
        output::note(&format!("no workflow runs on {}", args.event));
    }
    if failed { 1 } else { 0 }
}

fn dry_run(
    args: &crate::RunArgs,
    root: Option<&Path>,
    workflows: &[(String, andon_pipeline::Workflow)],
) -> u8 {
    use andon_pipeline::plan::plan;
    let (inputs, filters) = match (
        parse_pairs(&args.inputs, '=', "--input"),
        parse_pairs(&args.matrix, ':', "--matrix"),
    ) {
        (Ok(i), Ok(m)) => (i, m),
        (Err(e), _) | (_, Err(e)) => {
            output::error(&e);
            return 2;
        }
    };
    let branch = root.and_then(current_branch);
    let trigger = trigger_of(args, root, branch.clone());
    let mut any = false;
    for (file, wf) in workflows {
        if let Err(why) = wf.triggered_by(&trigger) {
            output::line(&format!("{file}: not triggered: {why}"));
            continue;
        }
        let mut github = Object::new();
        github.insert("event_name", Value::from(args.event.as_str()));
        if let Some(b) = &branch {
            github.insert("ref", Value::from(format!("refs/heads/{b}")));
            github.insert("ref_name", Value::from(b.as_str()));
        }
        let Some(input_values) = inputs_for(wf, file, &inputs, &args.event) else { return 2 };
        let mut host = Object::new();
        host.insert("github", Value::from(github));
        host.insert("inputs", Value::from(input_values));
        host.insert("vars", Value::from(Object::new()));
        let p = match plan(wf, &host) {
            Ok(p) => p,
            Err(e) => {
                output::error(&format!("{file}: {e}"));
                return 2;
            }
        };
        // -j: the job and everything it needs.
        let wanted: Vec<usize> = match &args.job {
            None => (0..wf.jobs.len()).collect(),
            Some(j) => match wf.job_with_needs(j) {
                Some(w) => w,
                None => {
                    output::line(&format!("{file}: has no job '{j}'"));
                    continue;
                }
            },
        };
        any = true;
        output::line(&format!(
            "{file}: {} on {}{}",
            wf.name.as_deref().unwrap_or(file),
            args.event,
            branch.as_ref().map(|b| format!(" ({b})")).unwrap_or_default()
        ));
        for (level, jobs) in p.levels.iter().enumerate() {
            for &ji in jobs.iter().filter(|j| wanted.contains(j)) {
                let job = &wf.jobs[ji];
                let needs = if job.needs.is_empty() {
                    String::new()
                } else {
                    format!(
                        " after {}",
                        job.needs.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                    )
                };
                let cond = if job.condition == "success()" {
                    String::new()
                } else {
                    format!(" if {}", job.condition)
                };
                output::line(&format!("  [{level}] job {}{needs}{cond}", job.id));
                for pj in p.jobs.iter().filter(|pj| pj.job == ji) {
                    if let Some(m) = &pj.matrix
                        && !andon_pipeline::plan::matches_filter(m, &filters)
                    {
                        continue;
                    }
                    let note = if pj.deferred_matrix {
                        " (matrix expanded when its needs finish)"
                    } else {
                        ""
                    };
                    output::line(&format!("      {}{note}", pj.display));
                    for s in &job.steps {
                        let what = s.uses.clone().unwrap_or_else(|| {
                            s.run
                                .as_ref()
                                .map(|r| r.literal().to_display())
                                .unwrap_or_default()
                                .lines()
                                .next()
                                .unwrap_or("")
                                .to_string()
                        });
                        let name =
                            s.name.as_ref().map(|n| n.literal().to_display()).unwrap_or(what);
                        let cond = if s.condition == "success()" {
                            String::new()
                        } else {
                            format!("  [if {}]", s.condition)
                        };
                        output::line(&format!("        - {name}{cond}"));
                    }
                }
            }
        }
    }
    if !any {
        output::note(&format!("no workflow runs on {}", args.event));
    }
    0
}
