//! Which workflows an event triggers (event names, branch/tag/path filters, activity
//! types), and a run's plan: every job with its matrix expanded (GitHub's rules; a
//! matrix that reads `needs` is expanded when those jobs finish), its `needs`, and
//! the order a true DAG scheduler can start them in.

use andon_expr::{Host, Object, Value};

use crate::matrix;
use crate::pattern::{self, Pattern};
use crate::token::Token;
use crate::workflow::{Job, Workflow};

/// What happened, for trigger matching.
#[derive(Clone, Debug, Default)]
pub struct Trigger {
    /// `push`, `pull_request`, `workflow_dispatch`, …
    pub event: String,
    /// The branch (push: pushed to; pull_request: the base branch).
    pub branch: Option<String>,
    /// The tag pushed.
    pub tag: Option<String>,
    /// Files the change touches; `None` when unknown (path filters then pass).
    pub paths: Option<Vec<String>>,
    /// The activity type (`opened`, `synchronize`, …).
    pub activity: Option<String>,
}

fn compiled(list: Option<Vec<String>>) -> Option<Vec<Pattern>> {
    list.map(|l| pattern::compile(&l).unwrap_or_default())
}

/// Activity types an event runs for when the workflow names none.
fn default_types(event: &str) -> &'static [&'static str] {
    match event {
        "pull_request" | "pull_request_target" => &["opened", "synchronize", "reopened"],
        _ => &[],
    }
}

impl Workflow {
    /// Whether `t` triggers this workflow, and if not, why.
    pub fn triggered_by(&self, t: &Trigger) -> Result<(), String> {
        let Some(e) = self.events.iter().find(|e| e.name == t.event) else {
            return Err(format!("does not run on {}", t.event));
        };
        if let Some(activity) = &t.activity {
            let types = e.filter("types");
            let ok = match &types {
                Some(ts) => ts.iter().any(|x| x == activity),
                None => {
                    let d = default_types(&t.event);
                    d.is_empty() || d.contains(&activity.as_str())
                }
            };
            if !ok {
                return Err(format!("{} activity '{activity}' is not in its types", t.event));
            }
        }
        let (branches, branches_ignore) =
            (compiled(e.filter("branches")), compiled(e.filter("branches-ignore")));
        let (tags, tags_ignore) = (compiled(e.filter("tags")), compiled(e.filter("tags-ignore")));
        match (&t.branch, &t.tag) {
            (Some(b), _) => {
                // A push with only tag filters does not run for branches.
                if branches.is_none()
                    && branches_ignore.is_none()
                    && (tags.is_some() || tags_ignore.is_some())
                {
                    return Err(format!("filters only tags; '{b}' is a branch"));
                }
                if let Some(p) = &branches
                    && !pattern::included(p, b)
                {
                    return Err(format!("branch '{b}' is not in its branches"));
                }
                if let Some(p) = &branches_ignore
                    && pattern::ignored(p, b)
                {
                    return Err(format!("branch '{b}' is in its branches-ignore"));
                }
            }
            (None, Some(tag)) => {
                if tags.is_none()
                    && tags_ignore.is_none()
                    && (branches.is_some() || branches_ignore.is_some())
                {
                    return Err(format!("filters only branches; '{tag}' is a tag"));
                }
                if let Some(p) = &tags
                    && !pattern::included(p, tag)
                {
                    return Err(format!("tag '{tag}' is not in its tags"));
                }
                if let Some(p) = &tags_ignore
                    && pattern::ignored(p, tag)
                {
                    return Err(format!("tag '{tag}' is in its tags-ignore"));
                }
                return Ok(()); // path filters do not apply to tags
            }
            (None, None) => {}
        }
        if let Some(changed) = &t.paths {
            if let Some(p) = compiled(e.filter("paths"))
                && !pattern::any_included(&p, changed)
            {
                return Err("no changed file is in its paths".into());
            }
            if let Some(p) = compiled(e.filter("paths-ignore"))
                && pattern::all_ignored(&p, changed)
            {
                return Err("every changed file is in its paths-ignore".into());
            }
        }
        Ok(())
    }
}

impl Workflow {
    /// The indexes of the job `id` and every job it needs, directly or not (`None`:
    /// no such job).
    pub fn job_with_needs(&self, id: &str) -> Option<Vec<usize>> {
        let start = self.jobs.iter().position(|j| j.id == id)?;
        let mut out = vec![start];
        let mut i = 0;
        while i < out.len() {
            for (n, _) in &self.jobs[out[i]].needs {
                if let Some(x) = self.jobs.iter().position(|j| j.id.eq_ignore_ascii_case(n))
                    && !out.contains(&x)
                {
                    out.push(x);
                }
            }
            i += 1;
        }
        Some(out)
    }
}

/// Whether a matrix combination has every `key` → value (as text) asked for
/// (`--matrix os:linux`).
pub fn matches_filter(m: &Object, filter: &[(String, String)]) -> bool {
    filter.iter().all(|(k, v)| m.get(k).is_some_and(|x| x.to_display() == *v))
}

/// One job of a plan (a matrix job is one per combination).
#[derive(Clone, Debug)]
pub struct PlannedJob {
    /// Index of the workflow job.
    pub job: usize,
    /// `build`, or `build (linux, 14)` for a matrix combination.
    pub display: String,
    pub matrix: Option<Object>,
    /// The matrix is an expression that reads `needs`: it is expanded when they finish.
    pub deferred_matrix: bool,
}

/// A run's jobs and the order they can start in.
#[derive(Clone, Debug)]
pub struct Plan {
    pub jobs: Vec<PlannedJob>,
    /// Workflow-job indexes by level: a job's needs are all in earlier levels.
    pub levels: Vec<Vec<usize>>,
}

/// How a matrix combination is shown after the job's name.
pub fn combination_label(m: &Object) -> String {
    let parts: Vec<String> = m
        .iter()
        .map(|(_, v)| match v {
            Value::Object(_) | Value::Array(_) => v.to_json(),
            other => other.to_display(),
        })
        .collect();
    parts.join(", ")
}

fn reads_needs(t: &Token) -> bool {
    match &t.kind {
        crate::Kind::Expr(e) => e.to_ascii_lowercase().contains("needs"),
        crate::Kind::Seq(items) => items.iter().any(reads_needs),
        crate::Kind::Map(entries) => entries.iter().any(|(k, v)| reads_needs(k) || reads_needs(v)),
        _ => false,
    }
}

/// The matrix combinations of a job's `strategy` (`None`: no matrix).
pub fn job_matrix(job: &Job, host: &dyn Host) -> Result<Option<Vec<Object>>, String> {
    let Some(strategy) = &job.strategy else { return Ok(None) };
    let value = strategy.evaluate(host).map_err(|e| e.to_string())?;
    let Value::Object(s) = value else { return Ok(None) };
    match s.get("matrix") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => matrix::expand(m).map(Some),
        Some(other) => Err(format!("strategy.matrix must be a mapping, found {}", other.kind())),
    }
}

/// Plans a run: matrices expanded, jobs in DAG levels. `host` supplies `github`,
/// `inputs` and `vars` for matrices written as expressions.
pub fn plan(wf: &Workflow, host: &dyn Host) -> Result<Plan, String> {
    let mut jobs = Vec::new();
    for (i, j) in wf.jobs.iter().enumerate() {
        let name = match &j.name.kind {
            crate::Kind::String(s) => s.clone(),
            _ => j.id.clone(),
        };
        let deferred = j.strategy.as_ref().and_then(|s| s.get("matrix")).is_some_and(reads_needs);
        if deferred {
            jobs.push(PlannedJob { job: i, display: name, matrix: None, deferred_matrix: true });
            continue;
        }
        match job_matrix(j, host).map_err(|e| format!("job '{}': {e}", j.id))? {
            None => jobs.push(PlannedJob {
                job: i,
                display: name,
                matrix: None,
                deferred_matrix: false,
            }),
            Some(combos) => {
                for m in combos {
                    let display = format!("{name} ({})", combination_label(&m));
                    jobs.push(PlannedJob {
                        job: i,
                        display,
                        matrix: Some(m),
                        deferred_matrix: false,
                    });
                }
            }
        }
    }
    let mut levels: Vec<Vec<usize>> = Vec::new();
    let mut placed: Vec<Option<usize>> = vec![None; wf.jobs.len()];
    while placed.iter().any(Option::is_none) {
        let level = levels.len();
        let ready: Vec<usize> = (0..wf.jobs.len())
            .filter(|&i| placed[i].is_none())
            .filter(|&i| {
                wf.jobs[i].needs.iter().all(|(n, _)| {
                    wf.jobs
                        .iter()
                        .position(|j| j.id.eq_ignore_ascii_case(n))
                        .is_some_and(|p| placed[p].is_some_and(|l| l < level))
                })
            })
            .collect();
        if ready.is_empty() {
            return Err("the jobs' needs form a cycle".into());
        }
        for &i in &ready {
            placed[i] = Some(level);
        }
        levels.push(ready);
    }
    Ok(Plan { jobs, levels })
}

/// The `inputs` of a `workflow_dispatch` run: the given values (text, as a form or
/// `--input k=v` gives them) checked against the workflow's inputs and typed as GitHub
/// types them (`boolean` → true/false, `number` → a number, others text), defaults for
/// the rest. Unknown inputs, missing required ones, a choice outside its options, and
/// values that are not of their type are errors, all of them reported.
pub fn dispatch_inputs(wf: &Workflow, given: &[(String, String)]) -> Result<Object, String> {
    let mut out = Object::new();
    let mut problems = Vec::new();
    for (k, _) in given {
        if !wf.dispatch_inputs.iter().any(|i| i.name == *k) {
            problems.push(format!("unexpected input '{k}'"));
        }
    }
    for i in &wf.dispatch_inputs {
        let value = given.iter().rev().find(|(k, _)| *k == i.name).map(|(_, v)| v.clone());
        let text = match (&value, &i.default) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(d)) => Some(d.literal().to_display()),
            (None, None) => None,
        };
        let Some(text) = text else {
            if i.required {
                problems.push(format!("input '{}' is required", i.name));
            }
            continue;
        };
        let typed = match i.kind.as_str() {
            "boolean" => match text.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => {
                    problems.push(format!(
                        "input '{}': {text:?} is not a boolean (true or false)",
                        i.name
                    ));
                    continue;
                }
            },
            "number" => match text.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => Value::Number(n),
                _ => {
                    problems.push(format!("input '{}': {text:?} is not a number", i.name));
                    continue;
                }
            },
            "choice" if !i.options.contains(&text) => {
                problems.push(format!(
                    "input '{}': {text:?} is not one of its options ({})",
                    i.name,
                    i.options.join(", ")
                ));
                continue;
            }
            _ => Value::from(text.as_str()),
        };
        out.insert(i.name.clone(), typed);
    }
    if problems.is_empty() { Ok(out) } else { Err(problems.join("; ")) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn wf(text: &str) -> Workflow {
        crate::read("w.yml", text.as_bytes()).unwrap_or_else(|p| panic!("{p:?}"))
    }

    fn trig(
        event: &str,
        branch: Option<&str>,
        tag: Option<&str>,
        paths: Option<&[&str]>,
    ) -> Trigger {
        Trigger {
            event: event.into(),
            branch: branch.map(Into::into),
            tag: tag.map(Into::into),
            paths: paths.map(|p| p.iter().map(|s| s.to_string()).collect()),
            activity: None,
        }
    }

    const JOB: &str = "jobs:\n  a:\n    runs-on: x\n    steps: [{run: echo}]\n";

    #[test]
    fn dispatch_inputs_are_checked_and_typed() {
        let w = wf(&format!(
            "on:\n  workflow_dispatch:\n    inputs:\n      env: {{type: choice, options: [staging, production], default: staging}}\n      dry: {{type: boolean, default: true}}\n      count: {{type: number, required: true}}\n      note: {{type: string}}\n{JOB}"
        ));
        let given = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let o = dispatch_inputs(&w, &given(&[("count", "3"), ("dry", "false")])).unwrap();
        assert_eq!(Value::from(o).to_json(), r#"{"env":"staging","dry":false,"count":3}"#);
        let e = dispatch_inputs(&w, &given(&[("env", "prod"), ("dry", "yes"), ("color", "red")]))
            .unwrap_err();
        assert_eq!(
            e,
            "unexpected input 'color'; input 'env': \"prod\" is not one of its options (staging, production); input 'dry': \"yes\" is not a boolean (true or false); input 'count' is required"
        );
    }

    #[test]
    fn triggers_follow_the_filters() {
        let w = wf(&format!(
            "on:\n  push:\n    branches: [main, 'releases/**', '!releases/**-alpha']\n    paths-ignore: ['docs/**']\n  pull_request:\n{JOB}"
        ));
        assert!(w.triggered_by(&trig("push", Some("main"), None, None)).is_ok());
        assert!(w.triggered_by(&trig("push", Some("releases/v1"), None, None)).is_ok());
        assert_eq!(
            w.triggered_by(&trig("push", Some("releases/v1-alpha"), None, None)).unwrap_err(),
            "branch 'releases/v1-alpha' is not in its branches"
        );
        assert_eq!(
            w.triggered_by(&trig("push", Some("main"), None, Some(&["docs/a.md"]))).unwrap_err(),
            "every changed file is in its paths-ignore"
        );
        assert!(
            w.triggered_by(&trig("push", Some("main"), None, Some(&["docs/a.md", "src/x"])))
                .is_ok()
        );
        assert_eq!(
            w.triggered_by(&trig("push", None, Some("v1"), None)).unwrap_err(),
            "filters only branches; 'v1' is a tag"
        );
        assert_eq!(
            w.triggered_by(&trig("schedule", None, None, None)).unwrap_err(),
            "does not run on schedule"
        );
        let mut pr = trig("pull_request", Some("main"), None, None);
        pr.activity = Some("closed".into());
        assert!(w.triggered_by(&pr).is_err(), "closed is not a default activity type");
        pr.activity = Some("opened".into());
        assert!(w.triggered_by(&pr).is_ok());
        let tags = wf(&format!("on:\n  push:\n    tags: ['v*']\n{JOB}"));
        assert!(tags.triggered_by(&trig("push", None, Some("v1.2"), Some(&["x"]))).is_ok());
        assert!(tags.triggered_by(&trig("push", Some("main"), None, None)).is_err());
    }

    #[test]
    fn plans_expand_matrices_and_level_the_dag() {
        let w = wf(
            "on: push\njobs:\n  lint:\n    runs-on: x\n    steps: [{run: a}]\n  test:\n    needs: lint\n    runs-on: x\n    strategy:\n      matrix:\n        os: [linux, mac]\n        v: [1, 2]\n        exclude: [{os: mac, v: 1}]\n    steps: [{run: a}]\n  deploy:\n    needs: [test, lint]\n    runs-on: x\n    strategy:\n      matrix: ${{ fromJSON(needs.test.outputs.m) }}\n    steps: [{run: a}]\n",
        );
        let p = plan(&w, &Object::new()).unwrap();
        let names: Vec<&str> = p.jobs.iter().map(|j| j.display.as_str()).collect();
        assert_eq!(
            names,
            ["lint", "test (linux, 1)", "test (linux, 2)", "test (mac, 2)", "deploy"]
        );
        assert!(p.jobs[4].deferred_matrix);
        assert_eq!(p.levels, vec![vec![0], vec![1], vec![2]]);
    }
}
