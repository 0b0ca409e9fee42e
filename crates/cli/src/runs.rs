//! `andon runs …`: workflow runs on the server — list, show, logs (followed live),
//! cancel, rerun — through `/api/v1/runs`.

use hyper::Method;
use serde_json::Value;

use crate::client::{Client, ClientError, read_sse};
use crate::commands::print_value;
use crate::{Format, RunsCommand, output};

pub(crate) async fn run(c: &Client, what: RunsCommand) -> Result<u8, ClientError> {
    match what {
        RunsCommand::List { repository, limit, output: fmt } => {
            let mut path = format!("/api/v1/runs?limit={limit}");
            if let Some(r) = &repository {
                path.push_str(&format!("&repository={}", crate::commands::form_escape(r)));
            }
            let v = c.get_json(&path).await?;
            if fmt != Format::Table {
                print_value(&v, fmt);
                return Ok(0);
            }
            let mut rows = vec![
                [
                    "ID",
                    "REPOSITORY",
                    "WORKFLOW",
                    "BRANCH",
                    "COMMIT",
                    "AUTHOR",
                    "RESULT",
                    "DURATION",
                ]
                .map(String::from)
                .to_vec(),
            ];
            for r in v["items"].as_array().into_iter().flatten() {
                rows.push(vec![
                    r["id"].to_string(),
                    format!("{} #{}", s(r, "repository"), r["number"]),
                    s(r, "workflowName"),
                    s(r, "branch"),
                    short_sha(r),
                    s(r, "author"),
                    result(r),
                    duration(r),
                ]);
            }
            output::table(&rows);
            Ok(0)
        }
        RunsCommand::Show { id, output: fmt } => {
            let r = c.get_json(&format!("/api/v1/runs/{id}")).await?;
            if fmt != Format::Table {
                print_value(&r, fmt);
                return Ok(0);
            }
            show(&r);
            Ok(0)
        }
        RunsCommand::Logs { id, follow, job } => logs(c, id, follow, job.as_deref()).await,
        RunsCommand::Cancel { id } => {
            c.json(Method::POST, &format!("/api/v1/runs/{id}/cancel"), None).await?;
            output::line(&format!("run {id} cancelling"));
            Ok(0)
        }
        RunsCommand::Dispatch { repository, workflow, git_ref, inputs, namespace } => {
            let pairs = match crate::workflow::parse_pairs(&inputs, '=', "--input") {
                Ok(p) => p,
                Err(e) => {
                    output::error(&e);
                    return Ok(2);
                }
            };
            let mut body = serde_json::json!({"inputs": {}});
            for (k, v) in pairs {
                body["inputs"][k] = Value::from(v);
            }
            if let Some(r) = git_ref {
                body["ref"] = Value::from(r);
            }
            let path = format!(
                "/api/v1/namespaces/{namespace}/repositories/{repository}/workflows/{}/dispatches",
                andon_core::url::encode_component(&workflow)
            );
            let r = c
                .json(
                    Method::POST,
                    &path,
                    Some(("application/json", body.to_string().into_bytes())),
                )
                .await?;
            output::line(&format!(
                "run {} queued ({} on {} at {})",
                r["id"],
                s(&r, "workflowName"),
                r["branch"].as_str().or(r["tag"].as_str()).unwrap_or(""),
                short_sha(&r)
            ));
            Ok(0)
        }
        RunsCommand::Rerun { id } => {
            let r = c.json(Method::POST, &format!("/api/v1/runs/{id}/rerun"), None).await?;
            output::line(&format!(
                "run {} queued (attempt {} of run {id})",
                r["id"],
                r["attempt"].as_u64().unwrap_or(0)
            ));
            Ok(0)
        }
    }
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or("").to_string()
}

fn short_sha(r: &Value) -> String {
    s(r, "sha").chars().take(7).collect()
}

/// `success`, `failure`, … once over; else the status (`queued`, `in_progress`).
fn result(r: &Value) -> String {
    r["conclusion"].as_str().unwrap_or(r["status"].as_str().unwrap_or("")).to_string()
}

fn duration(v: &Value) -> String {
    match (v["startedAt"].as_i64(), v["completedAt"].as_i64()) {
        (Some(a), Some(b)) => format!("{:.2}s", (b - a) as f64 / 1000.0),
        (Some(_), None) => "running".into(),
        _ => String::new(),
    }
}

fn show(r: &Value) {
    output::line(&format!(
        "run {} · {} #{} · {} · attempt {}",
        r["id"],
        s(r, "repository"),
        r["number"],
        s(r, "workflowName"),
        r["attempt"]
    ));
    output::line(&format!(
        "{} on {} at {} by {} <{}>: {}",
        s(r, "event"),
        s(r, "branch"),
        short_sha(r),
        s(r, "author"),
        s(r, "authorEmail"),
        s(r, "message")
    ));
    let mut status = format!("result: {} · queued by {}", result(r), s(r, "actor"));
    if let Some(reason) = r["reason"].as_str() {
        status.push_str(&format!(" ({reason})"));
    }
    if !duration(r).is_empty() {
        status.push_str(&format!(" · {}", duration(r)));
    }
    output::line(&status);
    for p in r["problems"].as_array().into_iter().flatten() {
        output::line(&format!("  {}", p.as_str().unwrap_or("")));
    }
    output::line("");
    let mut rows = vec![["JOB / STEP", "RESULT", "DURATION"].map(String::from).to_vec()];
    for j in r["jobs"].as_array().into_iter().flatten() {
        rows.push(vec![s(j, "name"), result(j), duration(j)]);
        for st in j["steps"].as_array().into_iter().flatten() {
            rows.push(vec![format!("  {}", s(st, "name")), result(st), duration(st)]);
        }
    }
    output::table(&rows);
    let artifacts = r["artifacts"].as_array().map_or(&[][..], Vec::as_slice);
    if !artifacts.is_empty() {
        output::line("\nartifacts:");
        for a in artifacts {
            let files = a["files"].as_array().map_or(&[][..], Vec::as_slice);
            let size: u64 = files.iter().filter_map(|f| f["size"].as_u64()).sum();
            output::line(&format!("  {} ({} files, {size} bytes)", s(a, "name"), files.len()));
        }
    }
    if let Some(sums) = r["summaries"].as_object() {
        for (job, text) in sums {
            output::line(&format!("\n── step summary: {job} ──"));
            output::line(text.as_str().unwrap_or("").trim_end());
        }
    }
}

fn print_line(l: &Value) {
    let name = s(l, "name");
    let m = s(l, "m");
    let text = match l["k"].as_str().unwrap_or("") {
        "run" => format!("▶ {m}"),
        "job" => format!("[{name}] {m}"),
        "step" => format!("[{name}] ⏵ {m}"),
        "stepend" if l["ok"].as_bool() == Some(true) => format!("[{name}] ✓ {m}"),
        "stepend" => format!("[{name}] ✗ {m}"),
        "group" => format!("[{name}]   ▸ {m}"),
        "endgroup" => return,
        "problem" | "note" if name.is_empty() => format!("! {m}"),
        "problem" | "note" => format!("[{name}] ! {m}"),
        _ => format!("[{name}]   {m}"),
    };
    output::line(&text);
}

async fn logs(c: &Client, id: u64, follow: bool, job: Option<&str>) -> Result<u8, ClientError> {
    let mut path = format!("/api/v1/runs/{id}/logs?follow={follow}");
    if let Some(j) = job {
        path.push_str(&format!("&job={}", crate::commands::form_escape(j)));
    }
    if !follow {
        let v = c.get_json(&path).await?;
        for l in v["items"].as_array().into_iter().flatten() {
            print_line(l);
        }
        return Ok(0);
    }
    let resp = c.send(Method::GET, &path, None).await?;
    let mut code = 0;
    read_sse(resp, |data| {
        let Ok(v) = serde_json::from_str::<Value>(data) else { return true };
        if v.get("k").is_some() {
            print_line(&v);
            return true;
        }
        // The run's end.
        let conclusion = v["conclusion"].as_str().unwrap_or("unknown");
        output::line(&format!("run {id}: {conclusion}"));
        if conclusion != "success" {
            code = 1;
        }
        false
    })
    .await?;
    Ok(code)
}
