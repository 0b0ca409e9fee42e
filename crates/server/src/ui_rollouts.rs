//! The Rollouts pages: every Service's rollout at a glance, and one rollout in detail —
//! its step timeline, the canary's weight over time (from the journal), the analysis
//! measurements, and the operator's buttons (promote, abort, retry, pause, resume, and
//! override-freeze with its reason while an error-budget policy holds the rollout).

use std::fmt::Write as _;

use andon_core::ObjectRef;
use axum::extract::{Path, State};
use axum::response::Html;
use serde_json::Value;

use crate::AppState;
use crate::ui::{esc, layout};

fn strategy_name(spec: &Value) -> String {
    spec["strategy"]
        .as_object()
        .and_then(|o| o.keys().next().cloned())
        .unwrap_or_else(|| "rollingUpdate".into())
}

fn weights_text(r: &Value) -> String {
    let parts: Vec<String> = r["weights"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(rev, w)| format!("{} {w}%", esc(rev)))
        .collect();
    if parts.is_empty() { "every ready instance".into() } else { parts.join(", ") }
}

fn phase_class(phase: &str) -> &'static str {
    match phase {
        "Healthy" => "ok",
        "Degraded" => "bad",
        _ => "",
    }
}

pub(crate) async fn list(State(s): State<AppState>) -> Html<String> {
    let mut body = String::from("<h1>Rollouts</h1>");
    let services = s.store.list("Service", None, None, 1000).await.unwrap_or_default();
    if services.is_empty() {
        body.push_str("<p class=\"muted\">No services. Apply one with a <code>strategy</code> and change what it runs (<code>andon set env NAME K=V</code>) to start a rollout.</p>");
        return layout("Rollouts", "rollouts", &body);
    }
    body.push_str("<table><thead><tr><th>service</th><th>strategy</th><th>phase</th><th>step</th><th>traffic</th><th>revision</th></tr></thead><tbody>");
    for o in &services {
        let key = o.object_ref();
        let r = s.runtime.rollouts.status(&key).unwrap_or(Value::Null);
        let steps = o.spec["strategy"]["canary"]["steps"].as_array().map_or(0, Vec::len);
        let phase = r["phase"].as_str().unwrap_or("–");
        let _ = write!(
            body,
            "<tr><td><a href=\"/ui/rollouts/{ns}/{name}\">{ns}/{name}</a></td><td>{strategy}</td><td class=\"{class}\">{phase}</td><td>{step}</td><td>{weights}</td><td>{rev}</td></tr>",
            ns = esc(&key.namespace),
            name = esc(&key.name),
            strategy = esc(&strategy_name(&o.spec)),
            class = phase_class(phase),
            phase = esc(phase),
            step = if r["step"].is_u64() { format!("{}/{steps}", r["step"]) } else { "–".into() },
            weights = weights_text(&r),
            rev = r["revision"].as_u64().map_or("–".into(), |n| n.to_string()),
        );
    }
    body.push_str("</tbody></table>");
    layout("Rollouts", "rollouts", &body)
}

/// One step of a canary in words.
fn step_text(step: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(w) = step["setWeight"].as_i64() {
        parts.push(format!("weight {w}%"));
    }
    if let Some(p) = step.get("pause") {
        parts.push(match p["duration"].as_i64() {
            Some(d) => format!("pause {d}s"),
            None => "pause until promoted".into(),
        });
    }
    if let Some(a) = step.get("analysis") {
        let names: Vec<&str> = a["templates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["templateName"].as_str())
            .collect();
        parts.push(format!("analysis {}", names.join(", ")));
    }
    if let Some(c) = step.get("setCanaryScale") {
        parts.push(format!("canary scale {c}"));
    }
    if let Some(h) = step.get("setHeaderRoute") {
        parts.push(format!("header route {}", h["name"].as_str().unwrap_or("")));
    }
    parts.join(" · ")
}

/// The canary's weight over time, from the journal's rollout events (oldest first).
fn weight_series(events: &[andon_core::Event]) -> andon_promql::Matrix {
    let mut points: Vec<andon_series::Sample> = Vec::new();
    let mut push = |t: i64, v: f64| {
        if let Some(last) = points.last().copied() {
            // A step: hold the previous value until this moment.
            points.push(andon_series::Sample { t, v: last.v });
        }
        points.push(andon_series::Sample { t, v });
    };
    for e in events {
        let t = e.time.millis();
        match e.kind.as_str() {
            "rollout.started" | "rollout.aborted" | "rollout.fast_tracked" | "rollout.initial" => {
                push(t, 0.0)
            }
            "rollout.weight" => push(t, e.data["weight"].as_f64().unwrap_or(0.0)),
            "rollout.promoted" | "rollout.switched" | "rollout.completed" => push(t, 100.0),
            _ => {}
        }
    }
    if let Some(last) = points.last().copied() {
        points.push(andon_series::Sample { t: andon_metrics::time::now_ms(), v: last.v });
    }
    vec![andon_promql::RangeSeries {
        labels: andon_series::Labels::from_pairs(&[("series", "new revision's traffic %")]),
        points,
        drop_name: false,
    }]
}

pub(crate) async fn detail(
    State(s): State<AppState>,
    Path((ns, name)): Path<(String, String)>,
) -> Html<String> {
    let key = ObjectRef::new("Service", &ns, &name);
    let title = format!("Rollout {ns}/{name}");
    let Ok(Some(o)) = s.store.get(&key).await else {
        let body = format!(
            "<h1>{}</h1><p class=\"error\">No service {}/{}.</p>",
            esc(&title),
            esc(&ns),
            esc(&name)
        );
        return layout(&title, "rollouts", &body);
    };
    let r = s.runtime.rollouts.status(&key).unwrap_or(Value::Null);
    let phase = r["phase"].as_str().unwrap_or("–");
    let mut body = format!(
        "<h1>{}</h1><p><span class=\"{}\">{}</span> {} · strategy {} · revision {} · traffic: {}</p>",
        esc(&title),
        phase_class(phase),
        esc(phase),
        esc(r["message"].as_str().unwrap_or("")),
        esc(&strategy_name(&o.spec)),
        r["revision"].as_u64().map_or("–".into(), |n| n.to_string()),
        weights_text(&r),
    );
    let _ = write!(
        body,
        "<p class=\"actions\" data-rollout=\"/api/v1/namespaces/{}/services/{}/rollout/\">",
        esc(&ns),
        esc(&name)
    );
    for (action, label) in [
        ("promote", "Promote"),
        ("promote?full=true", "Promote fully"),
        ("abort", "Abort"),
        ("retry", "Retry"),
        ("pause", "Pause"),
        ("resume", "Resume"),
    ] {
        let _ = write!(body, "<button type=\"button\" data-action=\"{action}\">{label}</button> ");
    }
    if r["message"].as_str().is_some_and(|m| m.starts_with("ErrorBudgetFrozen")) {
        body.push_str("<input id=\"freeze-reason\" placeholder=\"why the freeze is overridden\" size=\"30\" aria-label=\"reason\"> <button type=\"button\" data-action=\"override-freeze\">Override freeze</button> ");
    }
    body.push_str("<span id=\"rollout-result\" class=\"muted\"></span></p>");
    if let Some(url) = r["previewUrl"].as_str() {
        let _ = write!(
            body,
            "<p>Preview: <code>{}</code> serves {}</p>",
            esc(url),
            esc(r["previewRevision"].as_str().unwrap_or(""))
        );
    }

    // Step timeline.
    if let Some(steps) = o.spec["strategy"]["canary"]["steps"].as_array() {
        let current = r["step"].as_u64().map(|s| s as usize);
        body.push_str("<h2>Steps</h2><ol class=\"steps\">");
        for (i, step) in steps.iter().enumerate() {
            let state = match current {
                Some(c) if i < c => "done",
                Some(c) if i == c => "current",
                Some(_) => "pending",
                None => "done",
            };
            let _ = write!(
                body,
                "<li class=\"{state}\">{} <span class=\"muted\">{state}</span></li>",
                esc(&step_text(step))
            );
        }
        body.push_str("</ol>");
    }

    // Weight over time, from the journal.
    let mut events = s.store.events_about(&key.to_string(), 2000).await.unwrap_or_default();
    events.reverse();
    body.push_str("<h2>New revision's share of traffic</h2>");
    body.push_str(&crate::ui_metrics::svg_chart(&weight_series(&events), 900, 180));

    // Measurements.
    body.push_str("<h2>Analysis</h2>");
    let measurements = r["measurements"].as_array().cloned().unwrap_or_default();
    if measurements.is_empty() {
        body.push_str("<p class=\"muted\">No measurements in this rollout.</p>");
    } else {
        body.push_str("<table><thead><tr><th>time</th><th>run</th><th>metric</th><th>phase</th><th>value</th><th>message</th></tr></thead><tbody>");
        for m in measurements.iter().rev() {
            let run = match m["run"]["type"].as_str() {
                Some("step") => format!("step {}", m["run"]["step"]),
                Some(t) => t.to_owned(),
                None => String::new(),
            };
            let p = m["phase"].as_str().unwrap_or("");
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&m["finishedAt"].as_str().unwrap_or("").replace('T', " ")),
                esc(&run),
                esc(m["metric"].as_str().unwrap_or("")),
                match p {
                    "Successful" => "ok",
                    "Failed" | "Error" => "bad",
                    _ => "",
                },
                esc(p),
                esc(m["value"].as_str().unwrap_or("")),
                esc(m["message"].as_str().unwrap_or("")),
            );
        }
        body.push_str("</tbody></table>");
    }
    layout(&title, "rollouts", &body)
}
