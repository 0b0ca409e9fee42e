//! The UI: server-rendered pages for the areas that exist (overview, each kind, each
//! resource, the journal), with a small script that follows the journal live over SSE.

use std::fmt::Write;
use std::time::Duration;

use andon_core::Event;
use andon_core::time::human_age;
use andon_spec::kinds::{self, KINDS, KindInfo};
use andon_store::StoredObject;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::error::ApiError;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(overview))
        .route("/ui/events", get(journal))
        .route("/ui/metrics", get(crate::ui_metrics::page))
        .route("/ui/alerts", get(crate::ui_alerts::page))
        .route("/ui/slos", get(crate::ui_slos::page))
        .route("/ui/rollouts", get(crate::ui_rollouts::list))
        .route("/ui/rollouts/{ns}/{name}", get(crate::ui_rollouts::detail))
        .route("/ui/pipelines", get(crate::ui_pipelines::list))
        .route("/ui/pipelines/{id}", get(crate::ui_pipelines::detail))
        .route(
            "/ui/app.js",
            get(|| async {
                static_file("text/javascript; charset=utf-8", include_str!("ui/app.js"))
            }),
        )
        .route(
            "/ui/style.css",
            get(|| async { static_file("text/css; charset=utf-8", include_str!("ui/style.css")) }),
        )
        .route("/ui/{plural}", get(kind_page))
        .route("/ui/{plural}/{ns}/{name}", get(resource_page))
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body)
        .into_response()
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A kind's name in the plural, for titles: `Services`, `ErrorBudgetPolicies`.
fn kind_title(k: &KindInfo) -> String {
    match k.kind.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{}s", k.kind),
    }
}

pub(crate) fn layout(title: &str, active: &str, body: &str) -> Html<String> {
    let mut nav = String::new();
    let mut item = |href: &str, label: &str, key: &str| {
        let class = if key == active { " class=\"active\"" } else { "" };
        let _ = write!(nav, "<a href=\"{href}\"{class}>{label}</a>");
    };
    item("/", "Overview", "overview");
    for k in KINDS {
        item(&format!("/ui/{}", k.plural), &kind_title(k), k.plural);
    }
    item("/ui/metrics", "Metrics", "metrics");
    item("/ui/alerts", "Alerts", "alerts");
    item("/ui/slos", "SLOs", "slos");
    item("/ui/rollouts", "Rollouts", "rollouts");
    item("/ui/pipelines", "Pipelines", "pipelines");
    item("/ui/events", "Events", "events");
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · andon</title><link rel=\"stylesheet\" href=\"/ui/style.css\"></head>\
         <body><header><a class=\"brand\" href=\"/\">andon</a><nav>{nav}</nav></header><main>{body}</main>\
         <script src=\"/ui/app.js\"></script></body></html>\n",
        esc(title)
    ))
}

fn plurals_json() -> String {
    let m: serde_json::Map<String, serde_json::Value> =
        KINDS.iter().map(|k| (k.kind.to_owned(), serde_json::Value::from(k.plural))).collect();
    esc(&serde_json::Value::Object(m).to_string())
}

fn resource_href(kind: &str, ns: &str, name: &str) -> Option<String> {
    kinds::by_kind(kind).map(|k| format!("/ui/{}/{}/{}", k.plural, esc(ns), esc(name)))
}

/// The live feed table: newest first, followed from `after` by app.js.
fn feed(events: &[Event], after: u64, subject: Option<&str>) -> String {
    let mut rows = String::new();
    for e in events {
        let subject_cell = match e.subject.splitn(3, '/').collect::<Vec<_>>().as_slice() {
            [k, ns, n] => match resource_href(k, ns, n) {
                Some(href) => format!("<a href=\"{href}\">{}</a>", esc(&e.subject)),
                None => esc(&e.subject),
            },
            _ => esc(&e.subject),
        };
        let time = e.time.to_string().replace('T', " ");
        let _ = write!(
            rows,
            "<tr data-seq=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{subject_cell}</td><td>{}</td></tr>",
            e.seq,
            e.seq,
            esc(&time[..19.min(time.len())]),
            esc(&e.kind),
            esc(&e.actor)
        );
    }
    let empty = if events.is_empty() {
        "<p id=\"feed-empty\" class=\"muted\">No events yet.</p>"
    } else {
        ""
    };
    format!(
        "<table><thead><tr><th>Seq</th><th>Time (UTC)</th><th>Event</th><th>Subject</th><th>Actor</th></tr></thead>\
         <tbody id=\"feed\" data-after=\"{after}\" data-subject=\"{}\" data-plurals=\"{}\">{rows}</tbody></table>{empty}",
        esc(subject.unwrap_or("")),
        plurals_json()
    )
}

fn resource_table(objects: &[StoredObject], now: andon_core::Timestamp, with_kind: bool) -> String {
    if objects.is_empty() {
        return "<p class=\"muted\">None yet. Apply some with <code>andon apply -f FILE</code>.</p>".into();
    }
    let mut rows = String::new();
    for o in objects {
        let href = resource_href(&o.kind, &o.namespace, &o.name).unwrap_or_default();
        let kind = if with_kind { format!("<td>{}</td>", esc(&o.kind)) } else { String::new() };
        let _ = write!(
            rows,
            "<tr>{kind}<td>{}</td><td><a href=\"{href}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&o.namespace),
            esc(&o.name),
            o.generation,
            o.resource_version,
            human_age(o.created_at.until(now))
        );
    }
    let kind_th = if with_kind { "<th>Kind</th>" } else { "" };
    format!(
        "<table><thead><tr>{kind_th}<th>Namespace</th><th>Name</th><th>Generation</th><th>Version</th><th>Age</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

async fn overview(State(s): State<AppState>) -> Result<Html<String>, UiError> {
    let now = s.clock.now();
    let counts = s.store.count_by_kind().await?;
    let mut cards = String::new();
    let mut all = Vec::new();
    for k in KINDS {
        let n = counts.iter().find(|(kind, _)| kind == k.kind).map_or(0, |(_, n)| *n);
        let _ = write!(
            cards,
            "<a class=\"card\" href=\"/ui/{}\"><div class=\"n\" data-count=\"{}\">{n}</div><div class=\"label\">{}</div></a>",
            k.plural,
            k.kind,
            kind_title(k)
        );
        all.extend(s.store.list(k.kind, None, None, 50).await?);
    }
    let after = s.store.last_seq();
    let events = s.store.recent_events(50).await?;
    let body = format!(
        "<h1>Overview</h1><div class=\"cards\">{cards}</div>\
         <h2>Resources</h2>{}\
         <h2>Activity <span id=\"live\" class=\"live\">connecting…</span></h2>{}",
        resource_table(&all, now, true),
        feed(&events, after, None)
    );
    Ok(layout("Overview", "overview", &body))
}

async fn journal(State(s): State<AppState>) -> Result<Html<String>, UiError> {
    let after = s.store.last_seq();
    let events = s.store.recent_events(200).await?;
    let body = format!(
        "<h1>Events <span id=\"live\" class=\"live\">connecting…</span></h1>\
         <p class=\"muted\">The journal: everything that happened, newest first. The same history is at <code>/api/v1/events</code>.</p>{}",
        feed(&events, after, None)
    );
    Ok(layout("Events", "events", &body))
}

fn page_kind(plural: &str) -> Result<&'static KindInfo, UiError> {
    kinds::by_plural(plural).ok_or_else(|| {
        UiError(ApiError::new(
            andon_core::ErrorKind::NotFound,
            format!("there is no page for {plural:?}"),
        ))
    })
}

/// A failed page: the problem shown as HTML, with the problem's status.
pub(crate) struct UiError(ApiError);

impl<E: Into<ApiError>> From<E> for UiError {
    fn from(e: E) -> Self {
        UiError(e.into())
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let p = &self.0.0;
        let body = format!(
            "<h1>{}</h1><p>{}</p><p><a href=\"/\">Back to the overview</a></p>",
            esc(&p.title),
            esc(&p.detail)
        );
        (p.status_code(), layout(&p.title, "", &body)).into_response()
    }
}

async fn kind_page(
    State(s): State<AppState>,
    Path(plural): Path<String>,
) -> Result<Html<String>, UiError> {
    let kind = page_kind(&plural)?;
    let objects = s.store.list(kind.kind, None, None, 1000).await?;
    let table = if kind.kind == "Service" {
        services_table(&s, &objects)
    } else {
        resource_table(&objects, s.clock.now(), false)
    };
    let body = format!("<h1>{}</h1>{table}", kind_title(kind));
    Ok(layout(&kind_title(kind), kind.plural, &body))
}

async fn resource_page(
    State(s): State<AppState>,
    Path((plural, ns, name)): Path<(String, String, String)>,
) -> Result<Html<String>, UiError> {
    let kind = page_kind(&plural)?;
    let r = andon_core::ObjectRef::new(kind.kind, &ns, &name);
    let Some(o) = s.store.get(&r).await? else {
        return Err(UiError(ApiError::new(
            andon_core::ErrorKind::NotFound,
            format!("{} {ns}/{name} not found", kind.singular),
        )));
    };
    let events = s.store.events_about(&r.to_string(), 100).await?;
    let labels = o.labels.as_object().map(|m| {
        m.iter()
            .map(|(k, v)| format!("{}={}", esc(k), esc(v.as_str().unwrap_or_default())))
            .collect::<Vec<_>>()
            .join(", ")
    });
    let age = human_age(o.created_at.until(s.clock.now()).max(Duration::ZERO));
    let runtime = if kind.kind == "Service" {
        let signals = crate::ui_metrics::golden_signals(&s, &ns, &name).await;
        format!("{}{signals}", service_sections(&s, &r, &o))
    } else {
        String::new()
    };
    let body = format!(
        "<h1>{} {}/{}</h1>{runtime}<h2>Resource</h2><dl><dt>UID</dt><dd>{}</dd><dt>Generation</dt><dd>{}</dd><dt>Resource version</dt><dd>{}</dd>\
         <dt>Created</dt><dd>{} ({age} ago)</dd><dt>Labels</dt><dd>{}</dd></dl>\
         <h2>Spec</h2><pre>{}</pre><details><summary>Status as stored</summary><pre>{}</pre></details>\
         <h2>History <span id=\"live\" class=\"live\">connecting…</span></h2>{}",
        kind.kind,
        esc(&ns),
        esc(&name),
        esc(&o.uid),
        o.generation,
        o.resource_version,
        o.created_at,
        labels
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "<span class=\"muted\">none</span>".into()),
        esc(&andon_spec::yaml_out::to_yaml(&o.spec)),
        esc(&andon_spec::yaml_out::to_yaml(&o.status)),
        feed(&events, s.store.last_seq(), Some(&r.to_string()))
    );
    Ok(layout(&format!("{} {name}", kind.kind), kind.plural, &body))
}

/// A Service's live status from the runtime, falling back to the stored copy.
fn live_status(s: &AppState, o: &StoredObject) -> serde_json::Value {
    s.runtime.status_of(&o.object_ref(), o.generation).unwrap_or_else(|| o.status.clone())
}

fn services_table(s: &AppState, objects: &[StoredObject]) -> String {
    if objects.is_empty() {
        return "<p class=\"muted\">None yet. Apply some with <code>andon apply -f FILE</code>.</p>".into();
    }
    let now = s.clock.now();
    let mut rows = String::new();
    for o in objects {
        let st = live_status(s, o);
        let href = resource_href(&o.kind, &o.namespace, &o.name).unwrap_or_default();
        let url = st["url"].as_str().map_or_else(
            || "<span class=\"muted\">none</span>".to_owned(),
            |u| format!("<a href=\"{0}\">{0}</a>", esc(u)),
        );
        let ready = st["readyReplicas"].as_u64().unwrap_or(0);
        let want = o.spec["replicas"].as_u64().unwrap_or(0);
        let class = if ready >= want { "ok" } else { "bad" };
        let _ = write!(
            rows,
            "<tr><td>{}</td><td><a href=\"{href}\">{}</a></td><td class=\"{class}\">{ready}/{want}</td><td>{}</td><td>{url}</td><td>{}</td><td>{}</td></tr>",
            esc(&o.namespace),
            esc(&o.name),
            st["restarts"].as_u64().unwrap_or(0),
            esc(st["revision"].as_str().unwrap_or("")),
            human_age(o.created_at.until(now))
        );
    }
    format!(
        "<table><thead><tr><th>Namespace</th><th>Name</th><th>Ready</th><th>Restarts</th><th>Address</th><th>Revision</th><th>Age</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// The runtime's view of one service: address, conditions, instances, live logs.
fn service_sections(s: &AppState, r: &andon_core::ObjectRef, o: &StoredObject) -> String {
    let st = live_status(s, o);
    let url = st["url"].as_str().map_or_else(
        || "<span class=\"muted\">not served</span>".to_owned(),
        |u| format!("<a href=\"{0}\">{0}</a>", esc(u)),
    );
    let mut conditions = String::new();
    for c in st["conditions"].as_array().into_iter().flatten() {
        let ok = c["status"] == "True" && c["type"] != "CrashLoopBackOff";
        let _ = write!(
            conditions,
            "<li class=\"{}\"><b>{}</b> {}: {}</li>",
            if ok { "ok" } else { "bad" },
            esc(c["type"].as_str().unwrap_or("")),
            esc(c["reason"].as_str().unwrap_or("")),
            esc(c["message"].as_str().unwrap_or(""))
        );
    }
    let mut rows = String::new();
    for i in st["instances"].as_array().into_iter().flatten() {
        let term = &i["lastTermination"];
        let last = if term.is_null() {
            String::new()
        } else {
            format!(
                "{}: {}",
                term["reason"].as_str().unwrap_or(""),
                term["message"].as_str().unwrap_or("")
            )
        };
        let ready = i["ready"] == true;
        let _ = write!(
            rows,
            "<tr data-instance=\"{}\"><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i["id"],
            i["id"],
            esc(i["phase"].as_str().unwrap_or("")),
            if ready { "ok" } else { "bad" },
            if ready { "ready" } else { "not ready" },
            i["pid"].as_u64().map_or_else(String::new, |p| p.to_string()),
            i["port"].as_u64().map_or_else(String::new, |p| p.to_string()),
            i["restarts"],
            esc(i["revision"].as_str().unwrap_or("")),
            esc(&last)
        );
    }
    let logs_src = format!(
        "/api/v1/namespaces/{}/services/{}/logs?follow=true&since=15m",
        esc(&r.namespace),
        esc(&r.name)
    );
    format!(
        "<dl><dt>Address</dt><dd>{url}</dd><dt>Ready</dt><dd>{} of {}</dd><dt>Restarts</dt><dd>{}</dd><dt>Revision</dt><dd>{}</dd></dl>\
         <ul class=\"conditions\">{conditions}</ul>\
         <h2>Instances</h2><table><thead><tr><th>#</th><th>Phase</th><th>Ready</th><th>PID</th><th>Port</th><th>Restarts</th><th>Revision</th><th>Last termination</th></tr></thead><tbody>{rows}</tbody></table>\
         <h2>Logs <span class=\"muted\">(last 15 minutes, live)</span></h2><pre id=\"logs\" class=\"logs\" data-src=\"{logs_src}\"></pre>",
        st["readyReplicas"].as_u64().unwrap_or(0),
        o.spec["replicas"].as_u64().unwrap_or(0),
        st["restarts"].as_u64().unwrap_or(0),
        esc(st["revision"].as_str().unwrap_or(""))
    )
}
