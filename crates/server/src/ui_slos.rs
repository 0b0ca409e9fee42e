//! The SLOs page: every SLO with its objective, errors now, error budget left,
//! burn rates and projected exhaustion, and the budget's burn-down over the
//! SLO period as a chart (from the recorded `slo:period_error_budget_remaining:ratio`),
//! and the error-budget policies on each SLO with whether they freeze rollouts now.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::Html;

use crate::AppState;
use crate::ui::{esc, layout};

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{:.3}%", x * 100.0))
}

pub(crate) async fn page(State(s): State<AppState>) -> Html<String> {
    let engine = s.engine.clone();
    let now = andon_metrics::time::now_ms();
    let slos = engine.slos();
    let statuses = tokio::task::spawn_blocking(move || {
        let groups = engine.rule_groups();
        slos.iter()
            .map(|(source, slo)| {
                (slo.clone(), andon_metrics::slo::status(&engine, &groups, source, slo, now))
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let mut body = String::from("<h1>SLOs</h1>");
    if statuses.is_empty() {
        body.push_str("<p class=\"muted\">No SLOs. Apply a Sloth or OpenSLO spec with <code>andon apply -f slo.yml</code>.</p>");
        return layout("SLOs", "slos", &body);
    }
    let policies = s.store.list("ErrorBudgetPolicy", None, None, 1000).await.unwrap_or_default();
    body.push_str("<table><thead><tr><th>SLO</th><th>objective</th><th>errors (5m)</th><th>budget left</th><th>burn 5m · 1h · 6h · 1d · 3d</th><th>exhausted in</th><th>firing</th><th>rollout policy</th></tr></thead><tbody>");
    for (_, st) in &statuses {
        let burns: Vec<String> = andon_metrics::slo::BURN_WINDOWS
            .iter()
            .map(|w| {
                st.burn_rates
                    .get(*w)
                    .copied()
                    .flatten()
                    .map_or("–".into(), |b| format!("{b:.2}×"))
            })
            .collect();
        let left_class = match st.budget_remaining {
            Some(r) if r <= 0.0 => "bad",
            Some(r) if r < 0.25 => "bad",
            Some(_) => "ok",
            None => "",
        };
        let ns = st.source.split('/').next().unwrap_or_default();
        let policy: Vec<String> = policies
            .iter()
            .filter(|p| p.namespace == ns && p.spec["slo"].as_str() == Some(st.id.as_str()))
            .map(|p| {
                let below = p.spec["freezeRolloutsBelow"].as_f64().unwrap_or(0.0);
                let frozen = st.budget_remaining.is_some_and(|r| r * 100.0 < below);
                format!(
                    "{}: freeze below {below}% — <span class=\"{}\">{}</span>",
                    esc(&p.name),
                    if frozen { "bad" } else { "ok" },
                    if frozen { "rollouts frozen" } else { "rollouts allowed" }
                )
            })
            .collect();
        let _ = write!(
            body,
            "<tr><td>{id}<div class=\"muted\">{src}</div></td><td>{obj}% / {period}</td><td>{now}</td><td class=\"{left_class}\">{left}</td><td>{burns}</td><td>{ex}</td><td>{firing}</td><td>{policy}</td></tr>",
            id = esc(&st.id),
            src = esc(&st.source),
            obj = st.objective,
            period = esc(&st.period),
            now = pct(st.sli_error_ratio),
            left = pct(st.budget_remaining),
            burns = burns.join(" · "),
            ex = st.exhaustion_seconds.map_or("–".into(), |x| andon_core::time::human_age(
                std::time::Duration::from_secs_f64(x.clamp(0.0, 1e12))
            )),
            firing = if st.firing_alerts.is_empty() {
                "none".to_string()
            } else {
                esc(&st.firing_alerts.join(", "))
            },
            policy = if policy.is_empty() { "none".to_string() } else { policy.join("<br>") },
        );
    }
    body.push_str("</tbody></table>");
    for (slo, st) in &statuses {
        let expr = format!("slo:period_error_budget_remaining:ratio{}", slo.selector());
        let _ =
            write!(body, "<h2>{} — error budget left over {}</h2>", esc(&st.id), esc(&st.period));
        match crate::ui_metrics::run_range(&s, expr, slo.period_ms / 1000, 240).await {
            Ok(andon_promql::Value::Matrix(m)) => {
                body.push_str(&crate::ui_metrics::svg_chart(&m, 900, 200))
            }
            Ok(_) => {}
            Err(e) => {
                let _ = write!(body, "<p class=\"error\">{}</p>", esc(&e.message));
            }
        }
    }
    layout("SLOs", "slos", &body)
}
