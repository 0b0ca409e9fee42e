//! The Pipelines pages: the runs of every watched repository, and one run — its jobs as
//! a graph (columns by `needs`) with live status, each job's steps, its log followed
//! live, rendered step summaries, artifacts, and Cancel / Re-run buttons.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::response::Html;

use crate::AppState;
use crate::pipelines::{JobRecord, RunRecord};
use crate::ui::{esc, layout};

/// The CSS class and text of a status or conclusion.
fn badge(status: &str, conclusion: Option<&str>) -> String {
    let (class, text) = match (status, conclusion) {
        (_, Some("success")) => ("ok", "success"),
        (_, Some(c @ ("failure" | "cancelled"))) => ("bad", c),
        (_, Some(c)) => ("muted", c),
        ("in_progress", None) => ("running", "running"),
        (s, None) => ("muted", s),
    };
    format!("<span class=\"badge {class}\">{}</span>", esc(text))
}

fn seconds(from: Option<i64>, to: Option<i64>) -> String {
    match (from, to) {
        (Some(a), Some(b)) => format!("{:.2}s", (b - a) as f64 / 1000.0),
        (Some(_), None) => "…".into(),
        _ => String::new(),
    }
}

fn time_of(ms: i64) -> String {
    let t = andon_core::Timestamp(ms).to_string().replace('T', " ");
    t[..19.min(t.len())].to_string()
}

pub(crate) async fn list(State(s): State<AppState>) -> Html<String> {
    let runs = s.runtime.pipelines.runs(None, 200);
    let repos = s.store.list("Repository", None, None, 1000).await.unwrap_or_default();
    let mut body = String::from("<h1>Pipelines <span id=\"live\" class=\"live\"></span></h1>");
    let _ = write!(
        body,
        "<div data-refresh-on=\"pipeline.\" data-after=\"{}\" id=\"runs\">",
        s.store.last_seq()
    );
    if repos.is_empty() && runs.is_empty() {
        body.push_str("<p class=\"muted\">No repositories are watched. Apply a <code>Repository</code> (a local path or a git URL) and its workflows run when its branches get new commits.</p></div>");
        return layout("Pipelines", "pipelines", &body);
    }
    body.push_str("<table><thead><tr><th>run</th><th>repository</th><th>workflow</th><th>event</th><th>ref</th><th>commit</th><th>author</th><th>result</th><th>duration</th><th>queued</th></tr></thead><tbody>");
    for r in &runs {
        let _ = write!(
            body,
            "<tr><td><a href=\"/ui/pipelines/{id}\">{id}</a></td><td>{repo} #{n}</td><td>{wf}</td><td>{event}</td><td>{branch}</td><td><code>{sha}</code> {msg}</td><td>{author}</td><td>{badge}</td><td>{dur}</td><td>{queued}</td></tr>",
            id = r.id,
            repo = esc(&r.repository),
            n = r.number,
            wf = esc(&r.workflow_name),
            event = esc(&r.event),
            branch = esc(r.branch.as_deref().or(r.tag.as_deref()).unwrap_or("")),
            sha = esc(&r.sha[..r.sha.len().min(7)]),
            msg = esc(&r.message),
            author = esc(&r.author),
            badge = badge(&r.status, r.conclusion.as_deref()),
            dur = seconds(r.started_at, r.completed_at),
            queued = time_of(r.queued_at),
        );
    }
    body.push_str("</tbody></table>");
    if !repos.is_empty() {
        // Run a workflow by hand (workflow_dispatch), like GitHub's "Run workflow".
        body.push_str("<form class=\"query\" id=\"dispatch\"><select name=\"repository\" aria-label=\"repository\">");
        for o in &repos {
            let _ = write!(
                body,
                "<option value=\"{ns}/{name}\">{ns}/{name}</option>",
                ns = esc(&o.namespace),
                name = esc(&o.name)
            );
        }
        body.push_str("</select><input name=\"workflow\" placeholder=\"workflow file (deploy.yml)\" aria-label=\"workflow\"><input name=\"ref\" placeholder=\"branch or tag (default branch)\" aria-label=\"ref\"><input name=\"inputs\" placeholder=\"inputs: name=value, …\" aria-label=\"inputs\"><button type=\"submit\">Run workflow</button></form><p id=\"dispatch-result\"></p>");
    }
    if runs.is_empty() {
        body.push_str("<p class=\"muted\">No runs yet: the watched repositories' branches have no new commits that trigger a workflow.</p>");
    }
    body.push_str("</div>");
    layout("Pipelines", "pipelines", &body)
}

/// The workflow's jobs in columns: a job stands one column right of its last need.
fn levels(run: &RunRecord) -> Vec<Vec<usize>> {
    let mut level: HashMap<&str, usize> = HashMap::new();
    // The graph is acyclic (the reader refuses cycles); a pass per job settles it.
    for _ in 0..run.graph.len() {
        for g in &run.graph {
            let l = g
                .needs
                .iter()
                .filter_map(|n| level.get(n.as_str()).map(|l| l + 1))
                .max()
                .unwrap_or(0);
            level.insert(g.id.as_str(), l);
        }
    }
    let depth = level.values().copied().max().map_or(0, |m| m + 1);
    let mut cols = vec![Vec::new(); depth];
    for (i, g) in run.graph.iter().enumerate() {
        if let Some(col) = level.get(g.id.as_str()).and_then(|l| cols.get_mut(*l)) {
            col.push(i);
        }
    }
    cols
}

fn job_box(j: &JobRecord) -> String {
    format!(
        "<li class=\"job {cls}\"><span class=\"name\">{name}</span> {badge} <span class=\"muted\">{dur}</span></li>",
        cls = j.conclusion.as_deref().unwrap_or(&j.status),
        name = esc(&j.name),
        badge = badge(&j.status, j.conclusion.as_deref()),
        dur = seconds(j.started_at, j.completed_at),
    )
}

pub(crate) async fn detail(State(s): State<AppState>, Path(id): Path<u64>) -> Html<String> {
    let p = &s.runtime.pipelines;
    let Some(run) = p.run(id) else {
        return layout(
            "Run not found",
            "pipelines",
            &format!("<h1>Run {id}</h1><p class=\"error\">run {id} not found</p>"),
        );
    };
    let mut body = format!(
        "<h1>{wf} · run {id} <span id=\"live\" class=\"live\"></span></h1>",
        wf = esc(&run.workflow_name)
    );
    let _ = write!(
        body,
        "<p class=\"actions\" data-run=\"/api/v1/runs/{id}/\"><button type=\"button\" data-run-action=\"cancel\"{dis_c}>Cancel</button> <button type=\"button\" data-run-action=\"rerun\"{dis_r}>Re-run</button> <span id=\"run-result\"></span></p>",
        dis_c = if run.finished() { " disabled" } else { "" },
        dis_r = if run.finished() { "" } else { " disabled" },
    );
    let _ = write!(
        body,
        "<div id=\"run-state\" data-refresh-on=\"pipeline.\" data-after=\"{}\">",
        s.store.last_seq()
    );
    let _ = write!(
        body,
        "<dl><dt>result</dt><dd>{badge}{reason}</dd><dt>repository</dt><dd>{repo} #{n} (attempt {attempt}{rerun})</dd><dt>workflow</dt><dd><code>{file}</code></dd><dt>event</dt><dd>{event} on <b>{branch}</b>{inputs}</dd><dt>commit</dt><dd><code>{sha}</code> {msg}</dd><dt>author</dt><dd>{author} &lt;{email}&gt; at {ctime}</dd><dt>queued</dt><dd>{queued} by {actor}</dd><dt>duration</dt><dd>{dur}</dd></dl>",
        badge = badge(&run.status, run.conclusion.as_deref()),
        reason = run
            .reason
            .as_deref()
            .map(|r| format!(" <span class=\"error\">{}</span>", esc(r)))
            .unwrap_or_default(),
        repo = esc(&run.repository),
        n = run.number,
        attempt = run.attempt,
        rerun = run
            .rerun_of
            .map(|r| format!(", re-run of <a href=\"/ui/pipelines/{r}\">run {r}</a>"))
            .unwrap_or_default(),
        file = esc(&run.workflow),
        event = esc(&run.event),
        branch = esc(run.branch.as_deref().or(run.tag.as_deref()).unwrap_or("")),
        inputs = if run.inputs.is_empty() {
            String::new()
        } else {
            format!(
                " with inputs <code>{}</code>",
                esc(&serde_json::Value::Object(run.inputs.clone()).to_string())
            )
        },
        sha = esc(&run.sha),
        msg = esc(&run.message),
        author = esc(&run.author),
        email = esc(&run.author_email),
        ctime = time_of(run.commit_time * 1000),
        queued = time_of(run.queued_at),
        actor = esc(&run.actor),
        dur = seconds(run.started_at, run.completed_at),
    );
    if !run.problems.is_empty() {
        body.push_str("<h2>Workflow problems</h2><pre class=\"error-at\">");
        for pr in &run.problems {
            body.push_str(&esc(pr));
            body.push('\n');
        }
        body.push_str("</pre>");
    }
    if !run.graph.is_empty() {
        body.push_str("<h2>Jobs</h2><div class=\"dag\">");
        for col in levels(&run) {
            body.push_str("<div class=\"col\">");
            for gi in col {
                let g = &run.graph[gi];
                let mine: Vec<&JobRecord> = run.jobs.iter().filter(|j| j.job == g.id).collect();
                let needs = if g.needs.is_empty() {
                    String::new()
                } else {
                    format!("<div class=\"needs muted\">needs {}</div>", esc(&g.needs.join(", ")))
                };
                let _ = write!(
                    body,
                    "<div class=\"node\" data-job=\"{}\"><div class=\"title\">{}</div>{needs}<ul>",
                    esc(&g.id),
                    esc(&g.name)
                );
                if mine.is_empty() {
                    let waiting = if run.finished() { "not run" } else { "waiting" };
                    let _ = write!(body, "<li class=\"job muted\">{waiting}</li>");
                }
                for j in mine {
                    body.push_str(&job_box(j));
                }
                body.push_str("</ul></div>");
            }
            body.push_str("</div>");
        }
        body.push_str("</div>");
    }
    for j in run.jobs.iter().filter(|j| !j.steps.is_empty()) {
        let _ = write!(
            body,
            "<h3>{} {}</h3><table><thead><tr><th>step</th><th>result</th><th>duration</th></tr></thead><tbody>",
            esc(&j.name),
            badge(&j.status, j.conclusion.as_deref())
        );
        for st in &j.steps {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&st.name),
                badge(&st.status, st.conclusion.as_deref()),
                seconds(Some(st.started_at), st.completed_at)
            );
        }
        body.push_str("</tbody></table>");
    }
    let artifacts = p.artifacts(id);
    if !artifacts.is_empty() {
        body.push_str("<h2>Artifacts</h2><ul>");
        for (name, files) in &artifacts {
            let _ = write!(body, "<li>{} <ul>", esc(name));
            for f in files {
                let _ = write!(
                    body,
                    "<li><a href=\"/api/v1/runs/{id}/artifacts/{}/{}\">{}</a></li>",
                    esc(name),
                    esc(&f.path),
                    esc(&f.path)
                );
            }
            body.push_str("</ul></li>");
        }
        body.push_str("</ul>");
    }
    for j in &run.jobs {
        if let Some(md) = p.summary(id, j.key) {
            let _ = write!(
                body,
                "<h2>Summary · {}</h2><div class=\"summary\">{}</div>",
                esc(&j.name),
                crate::markdown::to_html(&md)
            );
        }
    }
    body.push_str("</div>");
    let follow = if run.finished() { "false" } else { "true" };
    let _ = write!(
        body,
        "<h2>Log</h2><pre class=\"logs run-logs\" id=\"run-logs\" data-src=\"/api/v1/runs/{id}/logs?follow={follow}\"></pre>"
    );
    layout(&format!("Run {id}"), "pipelines", &body)
}
