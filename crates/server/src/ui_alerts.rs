//! The Alerts page: firing and pending alerts with their labels and annotations and
//! a button that silences one, the silences with a button that expires one, the
//! notification log (deliveries and failures), every rule group with its rules'
//! health, and the last 24 hours of alert history read back from the `ALERTS` series.

use std::fmt::Write as _;

use andon_rules::{AlertState, RuleKind};
use axum::extract::State;
use axum::response::Html;

use crate::AppState;
use crate::ui::{esc, layout};

fn labels_html(pairs: impl Iterator<Item = (String, String)>, skip: &str) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if k == skip {
            continue;
        }
        let _ = write!(out, "<span class=\"label\">{}={}</span> ", esc(&k), esc(&v));
    }
    out
}

fn ago(now_ms: i64, t_ms: i64) -> String {
    andon_core::time::human_age(std::time::Duration::from_millis((now_ms - t_ms).max(0) as u64))
}

pub(crate) async fn page(State(s): State<AppState>) -> Html<String> {
    let now = andon_metrics::time::now_ms();
    let groups = s.engine.rule_groups();
    let mut body = String::from("<h1>Alerts</h1>");

    // Active alerts, firing first.
    let mut active: Vec<(&andon_rules::Rule, &andon_rules::Alert)> = groups
        .iter()
        .flat_map(|g| g.rules.iter().flat_map(|r| r.alerts.iter().map(move |a| (&r.rule, a))))
        .filter(|(_, a)| a.state != AlertState::Inactive)
        .collect();
    active.sort_by(|a, b| {
        b.1.state.cmp(&a.1.state).then(a.0.name.cmp(&b.0.name)).then(a.1.labels.cmp(&b.1.labels))
    });
    let firing = active.iter().filter(|(_, a)| a.state == AlertState::Firing).count();
    let _ =
        write!(body, "<p class=\"muted\">{firing} firing, {} pending.</p>", active.len() - firing);
    if !active.is_empty() {
        body.push_str("<table class=\"alerts\"><thead><tr><th>alert</th><th>state</th><th>labels</th><th>annotations</th><th>active since</th><th>value</th><th>silence for</th></tr></thead><tbody>");
        for (rule, a) in &active {
            let ann: String = a
                .annotations
                .iter()
                .map(|(k, v)| format!("<div><b>{}</b>: {}</div>", esc(k), esc(v)))
                .collect();
            let _ = write!(
                body,
                "<tr class=\"{state}\"><td>{name}</td><td><span class=\"state {state}\">{state}</span></td><td>{labels}</td><td>{ann}</td><td title=\"{at}\">{ago} ago</td><td>{value}</td>\
                 <td class=\"silence\" data-matchers=\"{matchers}\"><input name=\"duration\" value=\"2h\" size=\"4\" aria-label=\"duration\"> <input name=\"comment\" placeholder=\"comment\" size=\"12\" aria-label=\"comment\"> <button type=\"button\" data-silence>Silence</button></td></tr>",
                state = a.state.as_str(),
                name = esc(&rule.name),
                labels = labels_html(
                    a.labels.iter().map(|l| (l.name.to_string(), l.value.to_string())),
                    "alertname"
                ),
                at = esc(&andon_core::Timestamp::from_millis(a.active_at).to_string()),
                ago = ago(now, a.active_at),
                value = esc(&andon_promql::format_float(a.value)),
                matchers = esc(&silence_matchers(&a.labels).to_string()),
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("<p id=\"silence-result\" class=\"muted\"></p>");
    silences_html(&s, now, &mut body);
    notifications_html(&s, &mut body).await;

    // Rule groups.
    body.push_str("<h2>Rules</h2>");
    if groups.is_empty() {
        body.push_str("<p class=\"muted\">No rules. Apply a Prometheus rule file with <code>andon apply -f rules.yml</code>.</p>");
    }
    for g in &groups {
        let _ = write!(
            body,
            "<h3>{} <span class=\"muted\">{} · every {}s{}</span></h3><table><thead><tr><th>rule</th><th>expression</th><th>health</th><th>evaluation time</th></tr></thead><tbody>",
            esc(&g.group.name),
            esc(&g.source),
            g.interval_ms / 1000,
            g.last_evaluation
                .map_or(String::new(), |t| format!(" · evaluated {} ago", ago(now, t))),
        );
        for r in &g.rules {
            let kind = if r.rule.kind == RuleKind::Alerting { "alert" } else { "record" };
            let health = match &r.health.last_error {
                Some(e) => format!("<span class=\"error\">{}</span>", esc(e)),
                None if r.health.last_evaluation.is_some() => "ok".to_string(),
                None => "unknown".to_string(),
            };
            let _ = write!(
                body,
                "<tr><td>{kind}: {}</td><td><code>{}</code></td><td>{health}</td><td>{:.1} ms</td></tr>",
                esc(&r.rule.name),
                esc(&r.rule.expr_text),
                r.health.evaluation_seconds * 1000.0
            );
        }
        body.push_str("</tbody></table>");
    }

    // History: when each alert was firing over the last day, from ALERTS.
    body.push_str("<h2>History (24 h)</h2>");
    let history = alert_history(&s, now).await;
    if history.is_empty() {
        body.push_str("<p class=\"muted\">No alert fired in the last 24 hours.</p>");
    } else {
        body.push_str("<table><thead><tr><th>alert</th><th>labels</th><th>firing from</th><th>until</th></tr></thead><tbody>");
        for (labels, from, until) in history {
            let name = labels.get("alertname").unwrap_or_default().to_string();
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&name),
                labels_html(
                    labels.iter().map(|l| (l.name.to_string(), l.value.to_string())),
                    "alertname"
                ),
                esc(&andon_core::Timestamp::from_millis(from).to_string()),
                if until >= now - 60_000 {
                    "now".to_string()
                } else {
                    esc(&andon_core::Timestamp::from_millis(until).to_string())
                }
            );
        }
        body.push_str("</tbody></table>");
    }
    layout("Alerts", "alerts", &body)
}

/// Firing intervals of every alert over the last day: consecutive minutes in
/// which `ALERTS{alertstate="firing"}` had a value, newest first.
async fn alert_history(s: &AppState, now: i64) -> Vec<(andon_series::Labels, i64, i64)> {
    let engine = s.engine.clone();
    let step = 60_000;
    let start = now - 86_400_000;
    let r = tokio::task::spawn_blocking(move || {
        let expr = andon_promql::parse("ALERTS{alertstate=\"firing\"}").ok()?;
        andon_promql::range_query(&**engine.db(), &expr, start, now, step, engine.query_options())
            .ok()
    })
    .await;
    let Ok(Some(out)) = r else { return Vec::new() };
    let andon_promql::Value::Matrix(m) = out.value else { return Vec::new() };
    let mut spans = Vec::new();
    for series in m {
        let labels = series.labels.without(&["__name__", "alertstate"]);
        let mut from: Option<(i64, i64)> = None;
        for p in &series.points {
            match from {
                Some((f, last)) if p.t - last <= step => from = Some((f, p.t)),
                Some((f, last)) => {
                    spans.push((labels.clone(), f, last));
                    from = Some((p.t, p.t));
                }
                None => from = Some((p.t, p.t)),
            }
        }
        if let Some((f, last)) = from {
            spans.push((labels, f, last));
        }
    }
    spans.sort_by_key(|s| std::cmp::Reverse(s.1));
    spans
}

/// Alertmanager matchers (`isEqual`, not regex) for every label of an alert: what the
/// Silence button posts.
fn silence_matchers(labels: &andon_series::Labels) -> serde_json::Value {
    serde_json::Value::Array(
        labels
            .iter()
            .map(|l| {
                serde_json::json!({
                    "name": l.name.to_string(),
                    "value": l.value.to_string(),
                    "isRegex": false,
                    "isEqual": true,
                })
            })
            .collect(),
    )
}

/// Pending and active silences, each with an Expire button; expired ones are left
/// to `andon silence list`.
fn silences_html(s: &AppState, now: i64, body: &mut String) {
    use andon_alertmanager::SilenceState;
    let mut list: Vec<_> =
        s.notifier.silences().into_iter().filter(|(_, st)| *st != SilenceState::Expired).collect();
    list.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.ends_at.cmp(&b.0.ends_at)));
    body.push_str("<h2>Silences</h2>");
    if list.is_empty() {
        body.push_str("<p class=\"muted\">No active silence.</p>");
        return;
    }
    body.push_str("<table class=\"silences\"><thead><tr><th>matchers</th><th>state</th><th>ends</th><th>created by</th><th>comment</th><th></th></tr></thead><tbody>");
    for (x, st) in &list {
        let matchers: String = x
            .matchers
            .iter()
            .map(|m| format!("<span class=\"label\">{}</span> ", esc(&m.to_string())))
            .collect();
        let _ = write!(
            body,
            "<tr data-silence-id=\"{id}\"><td>{matchers}</td><td>{state}</td><td title=\"{end}\">in {left}</td><td>{by}</td><td>{comment}</td><td><button type=\"button\" data-expire=\"{id}\">Expire</button></td></tr>",
            id = esc(&x.id),
            state = st.as_str(),
            end = esc(&andon_core::Timestamp::from_millis(x.ends_at).to_string()),
            left = ago(x.ends_at, now),
            by = esc(&x.created_by),
            comment = esc(&x.comment),
        );
    }
    body.push_str("</tbody></table>");
}

/// The newest notifications: delivered, or failed after their retries.
async fn notifications_html(s: &AppState, body: &mut String) {
    body.push_str("<h2>Notifications</h2>");
    let items = s
        .store
        .events_of_kinds(&["notification.sent", "notification.failed"], 20)
        .await
        .unwrap_or_default();
    if items.is_empty() {
        body.push_str("<p class=\"muted\">No notification sent yet. Apply an Alertmanager configuration (<code>route:</code> and <code>receivers:</code>) with <code>andon apply -f</code>.</p>");
        return;
    }
    body.push_str("<table class=\"notifications\"><thead><tr><th>time</th><th>receiver</th><th>integration</th><th>result</th><th>status</th><th>alerts</th><th>group</th><th>error</th></tr></thead><tbody>");
    for e in &items {
        let d = &e.data;
        let text = |k: &str| esc(d[k].as_str().unwrap_or(""));
        let result = e.kind.trim_start_matches("notification.");
        let _ = write!(
            body,
            "<tr class=\"{result}\"><td>{}</td><td>{}</td><td>{}</td><td>{result}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            esc(&e.time.to_string()),
            text("receiver"),
            text("integration"),
            text("status"),
            d["alerts"].as_u64().unwrap_or(0),
            text("groupKey"),
            text("error"),
        );
    }
    body.push_str("</tbody></table>");
}
