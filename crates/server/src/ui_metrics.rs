//! The UI's metrics views, rendered on the server: the Metrics page (an
//! expression box, the instant result as a table, a range query as an SVG
//! chart) and a service's golden signals (request rate, error ratio, p50 and
//! p99 latency from the router's metrics).

use std::fmt::Write as _;

use andon_promql::{QueryError, Value};
use andon_series::Querier;
use axum::extract::{Query, State};
use axum::response::Html;
use serde::Deserialize;

use crate::AppState;
use crate::ui::{esc, layout};

#[derive(Deserialize, Default)]
pub(crate) struct MetricsQuery {
    #[serde(default)]
    expr: String,
    /// Range of the chart: 15m, 1h (default), 6h, 1d.
    #[serde(default)]
    range: String,
}

const RANGES: &[(&str, i64)] = &[("15m", 900), ("1h", 3600), ("6h", 21_600), ("1d", 86_400)];

pub(crate) async fn run_range(
    s: &AppState,
    expr: String,
    range_s: i64,
    points: i64,
) -> Result<Value, QueryError> {
    let parsed = andon_promql::parse(&expr)?;
    let db = s.engine.db().clone();
    let opts = s.engine.query_options().clone();
    let end = andon_metrics::time::now_ms();
    let start = end - range_s * 1000;
    let step = (range_s * 1000 / points).max(1000);
    tokio::task::spawn_blocking(move || {
        andon_promql::range_query(&*db, &parsed, start, end, step, &opts)
    })
    .await
    .map_err(|e| QueryError { kind: andon_promql::ErrorKind::Execution, message: e.to_string() })?
    .map(|o| o.value)
}

async fn run_instant(s: &AppState, expr: String) -> Result<Value, QueryError> {
    let parsed = andon_promql::parse(&expr)?;
    let db = s.engine.db().clone();
    let opts = s.engine.query_options().clone();
    let t = andon_metrics::time::now_ms();
    tokio::task::spawn_blocking(move || andon_promql::instant_query(&*db, &parsed, t, &opts))
        .await
        .map_err(|e| QueryError {
            kind: andon_promql::ErrorKind::Execution,
            message: e.to_string(),
        })?
        .map(|o| o.value)
}

pub(crate) async fn page(State(s): State<AppState>, Query(q): Query<MetricsQuery>) -> Html<String> {
    let range = RANGES.iter().find(|(n, _)| *n == q.range).copied().unwrap_or(RANGES[1]);
    let mut options = String::new();
    for (n, _) in RANGES {
        let sel = if *n == range.0 { " selected" } else { "" };
        let _ = write!(options, "<option{sel}>{n}</option>");
    }
    let mut body = format!(
        "<h1>Metrics</h1><form method=\"get\" action=\"/ui/metrics\" class=\"query\">\
         <input name=\"expr\" value=\"{}\" placeholder=\"sum by (job) (rate(http_requests_total[5m]))\" autofocus spellcheck=\"false\">\
         <select name=\"range\">{options}</select><button>Run</button></form>",
        esc(&q.expr)
    );
    if q.expr.trim().is_empty() {
        let names = s
            .engine
            .db()
            .label_values("__name__", &[], i64::MIN / 2, i64::MAX / 2)
            .unwrap_or_default();
        let _ = write!(
            body,
            "<h2>Metric names</h2><p class=\"muted\">{} series names stored. ",
            names.len()
        );
        for n in names.iter().take(300) {
            let _ = write!(body, "<a href=\"/ui/metrics?expr={0}\">{1}</a> ", urlenc(n), esc(n));
        }
        body.push_str("</p>");
        return layout("Metrics", "metrics", &body);
    }
    match run_instant(&s, q.expr.clone()).await {
        Err(e) => body.push_str(&error_box(&q.expr, &e.message)),
        Ok(v) => {
            body.push_str("<h2>Now</h2>");
            body.push_str(&value_table(&v));
            if matches!(v, Value::Vector(_) | Value::Scalar(_)) {
                match run_range(&s, q.expr.clone(), range.1, 240).await {
                    Ok(Value::Matrix(m)) => {
                        let _ =
                            write!(body, "<h2>Last {}</h2>{}", range.0, svg_chart(&m, 900, 260));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let _ = write!(body, "<p class=\"error\">{}</p>", esc(&e.message));
                    }
                }
            }
        }
    }
    layout("Metrics", "metrics", &body)
}

/// The error, and for a parse error the expression's line with a caret under
/// the position.
fn error_box(expr: &str, message: &str) -> String {
    let mut out = format!("<p class=\"error\" id=\"query-error\">{}</p>", esc(message));
    if let Some((line, col)) = andon_promql::error_position(message)
        && let Some(text) = expr.lines().nth(line.saturating_sub(1))
    {
        let caret = format!("{}^", " ".repeat(col.saturating_sub(1)));
        let _ = write!(out, "<pre class=\"error-at\" id=\"error-at\">{}\n{caret}</pre>", esc(text));
    }
    out
}

fn urlenc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn value_table(v: &Value) -> String {
    let mut rows = String::new();
    match v {
        Value::Scalar(f) => {
            let _ =
                write!(rows, "<tr><td>scalar</td><td>{}</td></tr>", andon_promql::format_float(*f));
        }
        Value::String(s) => {
            let _ = write!(rows, "<tr><td>string</td><td>{}</td></tr>", esc(s));
        }
        Value::Vector(vec) => {
            for s in vec.iter().take(500) {
                let _ = write!(
                    rows,
                    "<tr><td>{}</td><td>{}</td></tr>",
                    esc(&s.labels.series_string()),
                    andon_promql::format_float(s.v)
                );
            }
            if vec.is_empty() {
                rows.push_str("<tr><td colspan=\"2\" class=\"muted\">no data</td></tr>");
            }
        }
        Value::Matrix(m) => {
            for s in m.iter().take(500) {
                let last =
                    s.points.last().map(|p| andon_promql::format_float(p.v)).unwrap_or_default();
                let _ = write!(
                    rows,
                    "<tr><td>{}</td><td>{} points, last {}</td></tr>",
                    esc(&s.labels.series_string()),
                    s.points.len(),
                    last
                );
            }
        }
    }
    format!(
        "<table class=\"result\"><thead><tr><th>Series</th><th>Value</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

const COLORS: &[&str] =
    &["#c0392b", "#2471a3", "#1e8449", "#b7950b", "#7d3c98", "#117a65", "#a04000", "#5d6d7e"];

/// An SVG line chart of up to 8 series with min/max and time labels.
pub(crate) fn svg_chart(m: &andon_promql::Matrix, w: i64, h: i64) -> String {
    let series: Vec<_> =
        m.iter().filter(|s| s.points.iter().any(|p| p.v.is_finite())).take(COLORS.len()).collect();
    if series.is_empty() {
        return "<p class=\"muted\">no data in this range</p>".into();
    }
    let (mut t0, mut t1, mut lo, mut hi) = (i64::MAX, i64::MIN, f64::INFINITY, f64::NEG_INFINITY);
    for s in &series {
        for p in s.points.iter().filter(|p| p.v.is_finite()) {
            t0 = t0.min(p.t);
            t1 = t1.max(p.t);
            lo = lo.min(p.v);
            hi = hi.max(p.v);
        }
    }
    if hi == lo {
        hi = lo + 1.0;
    }
    let (pad_l, pad_b) = (70, 22);
    let (pw, ph) = (w - pad_l - 10, h - pad_b - 10);
    let x = |t: i64| pad_l as f64 + (t - t0) as f64 / ((t1 - t0).max(1)) as f64 * pw as f64;
    let y = |v: f64| 10.0 + (hi - v) / (hi - lo) * ph as f64;
    let mut out = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\">\
         <line x1=\"{pad_l}\" y1=\"10\" x2=\"{pad_l}\" y2=\"{}\" stroke=\"#ccc\"/><line x1=\"{pad_l}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#ccc\"/>\
         <text x=\"{}\" y=\"18\" text-anchor=\"end\" font-size=\"11\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\">{}</text>\
         <text x=\"{pad_l}\" y=\"{}\" font-size=\"11\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\">{}</text>",
        10 + ph,
        10 + ph,
        pad_l + pw,
        10 + ph,
        pad_l - 6,
        short(hi),
        pad_l - 6,
        10 + ph,
        short(lo),
        h - 4,
        clock(t0),
        pad_l + pw,
        h - 4,
        clock(t1),
    );
    for (i, s) in series.iter().enumerate() {
        let mut d = String::new();
        let mut pen_up = true;
        let mut prev_t = i64::MIN;
        for p in &s.points {
            if !p.v.is_finite() {
                pen_up = true;
                continue;
            }
            // A gap of more than 3 steps breaks the line.
            if prev_t != i64::MIN && p.t - prev_t > 3 * ((t1 - t0) / 240).max(1000) {
                pen_up = true;
            }
            let _ = write!(d, "{}{:.1},{:.1} ", if pen_up { "M" } else { "L" }, x(p.t), y(p.v));
            pen_up = false;
            prev_t = p.t;
        }
        let _ = write!(
            out,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\"><title>{}</title></path>",
            COLORS[i],
            esc(&s.labels.series_string())
        );
    }
    out.push_str("</svg><ul class=\"legend\">");
    for (i, s) in series.iter().enumerate() {
        let _ = write!(
            out,
            "<li><span style=\"background:{}\"></span>{}</li>",
            COLORS[i],
            esc(&s.labels.series_string())
        );
    }
    out.push_str("</ul>");
    out
}

fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.2}k", v / 1e3)
    } else if a >= 1.0 || a == 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

fn clock(ms: i64) -> String {
    let s = andon_metrics::time::format_rfc3339(ms);
    s.get(11..19).unwrap_or("").to_string()
}

/// A service's golden signals over the last 30 minutes, from the router's metrics.
pub(crate) async fn golden_signals(s: &AppState, namespace: &str, name: &str) -> String {
    let svc = format!("{namespace}/{name}");
    let sel = format!("service=\"{}\"", svc.replace('\\', "\\\\").replace('"', "\\\""));
    let signals = [
        ("Request rate (req/s)", format!("sum(rate(andon_router_requests_total{{{sel}}}[1m]))")),
        (
            "Error ratio (5xx)",
            format!(
                "sum(rate(andon_router_requests_total{{{sel},code=~\"5..\"}}[1m])) / sum(rate(andon_router_requests_total{{{sel}}}[1m]))"
            ),
        ),
        (
            "Latency p50 (s)",
            format!(
                "histogram_quantile(0.5, sum by (le) (rate(andon_router_request_duration_seconds_bucket{{{sel}}}[1m])))"
            ),
        ),
        (
            "Latency p99 (s)",
            format!(
                "histogram_quantile(0.99, sum by (le) (rate(andon_router_request_duration_seconds_bucket{{{sel}}}[1m])))"
            ),
        ),
    ];
    let mut out = String::from(
        "<h2>Golden signals <span class=\"muted\">(last 30 minutes)</span></h2><div class=\"signals\">",
    );
    for (title, expr) in signals {
        let chart = match run_range(s, expr.clone(), 1800, 120).await {
            Ok(Value::Matrix(m)) => {
                let now = m
                    .first()
                    .and_then(|s| s.points.last())
                    .map(|p| short(p.v))
                    .unwrap_or_else(|| "–".into());
                format!("<div class=\"n\">{now}</div>{}", svg_chart(&m, 420, 120))
            }
            Ok(_) => String::new(),
            Err(e) => format!("<p class=\"error\">{}</p>", esc(&e.message)),
        };
        let _ = write!(
            out,
            "<div class=\"signal\"><div class=\"label\"><a href=\"/ui/metrics?expr={}\">{}</a></div>{chart}</div>",
            urlenc(&expr),
            esc(title)
        );
    }
    out.push_str("</div>");
    out
}
