//! `andon rollout …`: a service's rollout status (optionally watched until it ends)
//! and the operator's commands, sent to `/api/v1/namespaces/{ns}/services/{name}/rollout/…`.

use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::Value;

use crate::client::{Client, ClientError};
use crate::commands::print_value;
use crate::{Format, RolloutCommand, output};

pub(crate) async fn run(c: &Client, ns: &str, what: RolloutCommand) -> Result<u8, ClientError> {
    let base = |service: &str| format!("/api/v1/namespaces/{ns}/services/{service}");
    let post = |service: &str, action: &str, query: String| {
        let path = format!("{}/rollout/{action}{query}", base(service));
        async move { c.json(Method::POST, &path, None).await }
    };
    let say = |service: &str, v: &Value| {
        output::line(&format!("service/{service} {}", v["message"].as_str().unwrap_or("done")));
        Ok(0)
    };
    match what {
        RolloutCommand::Status { service, watch, timeout, output: fmt } => {
            status(c, &base(&service), &service, watch, &timeout, fmt).await
        }
        RolloutCommand::Promote { service, full } => {
            let q = if full { "?full=true".to_owned() } else { String::new() };
            say(&service, &post(&service, "promote", q).await?)
        }
        RolloutCommand::Abort { service } => {
            say(&service, &post(&service, "abort", String::new()).await?)
        }
        RolloutCommand::Retry { service } => {
            say(&service, &post(&service, "retry", String::new()).await?)
        }
        RolloutCommand::Pause { service } => {
            say(&service, &post(&service, "pause", String::new()).await?)
        }
        RolloutCommand::Resume { service } => {
            say(&service, &post(&service, "resume", String::new()).await?)
        }
        RolloutCommand::Restart { service } => {
            say(&service, &post(&service, "restart", String::new()).await?)
        }
        RolloutCommand::OverrideFreeze { service, reason } => {
            let q = format!("?reason={}", crate::commands::form_escape(&reason));
            say(&service, &post(&service, "override-freeze", q).await?)
        }
        RolloutCommand::Undo { service, to_revision } => {
            let q = to_revision.map(|n| format!("?toRevision={n}")).unwrap_or_default();
            say(&service, &post(&service, "undo", q).await?)
        }
        RolloutCommand::History { service, output: fmt } => {
            let h = c.get_json(&format!("{}/rollout/history", base(&service))).await?;
            if fmt != Format::Table {
                print_value(&h, fmt);
                return Ok(0);
            }
            let mut lines = vec![format!("{:<10} {:<12} {}", "REVISION", "HASH", "CHANGE")];
            let items = h["items"].as_array().cloned().unwrap_or_default();
            let mut prev: Option<&Value> = None;
            for item in &items {
                lines.push(format!(
                    "{:<10} {:<12} {}",
                    item["number"].to_string(),
                    item["revision"].as_str().unwrap_or(""),
                    change(prev.map(|p| &p["spec"]), &item["spec"])
                ));
                prev = Some(item);
            }
            output::line(&lines.join("\n"));
            Ok(0)
        }
    }
}

/// What changed between two revisions' specs, in a few words.
fn change(before: Option<&Value>, after: &Value) -> String {
    let Some(before) = before else { return "(oldest kept)".into() };
    let mut parts = Vec::new();
    if let Some(a) = after.as_object() {
        for (k, v) in a {
            if andon_spec::service::ROLLOUT_FIELDS.contains(&k.as_str()) {
                continue;
            }
            if before.get(k) != Some(v) {
                if k == "env" {
                    parts.push(env_change(&before["env"], v));
                } else {
                    parts.push(format!("{k} changed"));
                }
            }
        }
    }
    if parts.is_empty() { "no change to what runs".into() } else { parts.join(", ") }
}

fn env_change(before: &Value, after: &Value) -> String {
    let pairs = |v: &Value| -> Vec<(String, String)> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["name"].as_str().unwrap_or("").to_owned(),
                    e["value"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    let (b, a) = (pairs(before), pairs(after));
    let mut out = Vec::new();
    for (k, v) in &a {
        if !b.contains(&(k.clone(), v.clone())) {
            out.push(format!("{k}={v}"));
        }
    }
    for (k, _) in &b {
        if !a.iter().any(|(n, _)| n == k) {
            out.push(format!("{k}-"));
        }
    }
    format!("env {}", out.join(" "))
}

async fn status(
    c: &Client,
    path: &str,
    service: &str,
    watch: bool,
    timeout: &str,
    fmt: Format,
) -> Result<u8, ClientError> {
    let limit = match andon_core::time::parse_duration(timeout) {
        Some(d) if d.is_zero() => None,
        Some(d) => Some(d),
        None if timeout == "0" => None,
        None => {
            output::error(&format!("--timeout: {timeout:?} is not a duration such as 30s or 5m"));
            return Ok(2);
        }
    };
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let doc = c.get_json(path).await?;
        let r = &doc["status"]["rollout"];
        let text = match fmt {
            Format::Table => describe(service, &doc),
            _ => serde_json::to_string_pretty(r).unwrap_or_default(),
        };
        if text != last {
            match (fmt, watch) {
                (Format::Table, _) => output::line(&text),
                (_, false) => print_value(r, fmt),
                // Watching: one JSON document per line, as it changes.
                (_, true) => output::line(&serde_json::to_string(r).unwrap_or_default()),
            }
            last = text;
        }
        let phase = r["phase"].as_str().unwrap_or("");
        if !watch {
            return Ok(0);
        }
        match phase {
            "Healthy" => return Ok(0),
            "Degraded" => return Ok(1),
            _ => {}
        }
        if limit.is_some_and(|l| started.elapsed() >= l) {
            output::error(&format!("timed out waiting for service/{service} to roll out"));
            return Ok(1);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn short(rev: &Value) -> String {
    rev.as_str().unwrap_or("-").to_owned()
}

/// The human view of a rollout.
fn describe(service: &str, doc: &Value) -> String {
    let r = &doc["status"]["rollout"];
    if r.is_null() {
        return format!("service/{service}: no rollout status yet");
    }
    let spec = &doc["spec"];
    let strategy = spec["strategy"]
        .as_object()
        .and_then(|o| o.keys().next().cloned())
        .unwrap_or_else(|| "rollingUpdate".into());
    let mut lines = vec![
        format!("Service:    {service}"),
        format!(
            "Phase:      {}{}",
            r["phase"].as_str().unwrap_or(""),
            r["message"]
                .as_str()
                .filter(|m| !m.is_empty())
                .map(|m| format!(" — {m}"))
                .unwrap_or_default()
        ),
    ];
    let steps = spec["strategy"]["canary"]["steps"].as_array().map_or(0, Vec::len);
    let mut s = format!("Strategy:   {strategy}");
    if strategy == "canary" && !r["step"].is_null() {
        s.push_str(&format!(", step {}/{steps}, weight {}", r["step"], r["weight"]));
    }
    lines.push(s);
    lines.push(format!(
        "Revision:   {} (stable {}{})",
        r["revision"],
        short(&r["stableRevision"]),
        r["currentRevision"].as_str().map(|c| format!(", rolling out {c}")).unwrap_or_default()
    ));
    if let Some(sets) = r["sets"].as_object() {
        let parts: Vec<String> = sets.iter().map(|(rev, n)| format!("{rev}: {n}")).collect();
        lines.push(format!("Instances:  {}", parts.join(", ")));
    }
    if let Some(w) = r["weights"].as_object().filter(|w| !w.is_empty()) {
        let parts: Vec<String> = w.iter().map(|(rev, n)| format!("{rev} {n}%")).collect();
        lines.push(format!("Traffic:    {}", parts.join(", ")));
    }
    for route in r["headerRoutes"].as_array().into_iter().flatten() {
        lines.push(format!(
            "Route:      {} → {}",
            route["name"].as_str().unwrap_or(""),
            short(&route["revision"])
        ));
    }
    if let Some(u) = r["previewUrl"].as_str() {
        lines.push(format!("Preview:    {u} ({})", short(&r["previewRevision"])));
    }
    for run in r["analysis"].as_array().into_iter().flatten() {
        let which = match run["run"]["type"].as_str() {
            Some("step") => format!("step {}", run["run"]["step"]),
            Some(t) => t.to_owned(),
            None => String::new(),
        };
        lines.push(format!(
            "Analysis:   {which} {} {}",
            run["phase"].as_str().unwrap_or(""),
            run["message"].as_str().unwrap_or("")
        ));
        for m in run["metrics"].as_array().into_iter().flatten() {
            let last = m["measurements"].as_array().and_then(|v| v.last());
            lines.push(format!(
                "  {:<20} {:<12} {} ok, {} failed, {} inconclusive, {} errors{}",
                m["name"].as_str().unwrap_or(""),
                m["phase"].as_str().unwrap_or(""),
                m["successful"],
                m["failed"],
                m["inconclusive"],
                m["error"],
                last.map(|l| format!(
                    "; last {} {}",
                    l["phase"].as_str().unwrap_or(""),
                    l["value"]
                        .as_str()
                        .filter(|v| !v.is_empty())
                        .or(l["message"].as_str())
                        .unwrap_or("")
                ))
                .unwrap_or_default()
            ));
        }
    }
    lines.join("\n")
}
