//! andon's own metrics, served on `/metrics` in the Prometheus text format. Every
//! metric name andon exports is defined in this module.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Instant;

use andon_core::prom::{escape, write_header, write_histogram};
use andon_store::Store;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

pub(crate) const HTTP_REQUESTS: &str = "andon_http_requests_total";
pub(crate) const HTTP_DURATION: &str = "andon_http_request_duration_seconds";
pub(crate) const JOURNAL_APPENDS: &str = "andon_journal_events_appended_total";
pub(crate) const JOURNAL_COMMITS: &str = "andon_journal_commits_total";
pub(crate) const JOURNAL_COMMIT_DURATION: &str = "andon_journal_commit_duration_seconds";
pub(crate) const JOURNAL_LAST_SEQ: &str = "andon_journal_last_sequence";
pub(crate) const BUILD_INFO: &str = "andon_build_info";
pub(crate) const START_TIME: &str = "andon_process_start_time_seconds";

const BUCKETS: [f64; 12] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

pub(crate) struct Metrics {
    started: f64,
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    durations: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        Metrics { started, requests: Mutex::default(), durations: Mutex::default() }
    }

    fn observe(&self, method: &str, route: &str, code: u16, seconds: f64) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method.to_owned(), route.to_owned(), code)).or_default() += 1;
        }
        if let Ok(mut d) = self.durations.lock() {
            let h = d.entry(route.to_owned()).or_default();
            h.count += 1;
            h.sum += seconds;
            if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
                h.counts[i] += 1;
            }
        }
    }

    pub(crate) fn render(
        &self,
        store: &Store,
        router: &andon_router::Router,
        supervisor: &andon_supervisor::Supervisor,
    ) -> String {
        let mut out = String::new();
        router.render_metrics(&mut out);
        render_services(&mut out, supervisor);
        write_header(&mut out, BUILD_INFO, "gauge", "Build information of the running andon.");
        let _ = writeln!(out, "{BUILD_INFO}{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
        write_header(
            &mut out,
            START_TIME,
            "gauge",
            "Start time of the process since the Unix epoch in seconds.",
        );
        let _ = writeln!(out, "{START_TIME} {}", self.started);

        write_header(
            &mut out,
            HTTP_REQUESTS,
            "counter",
            "HTTP requests answered, by method, route and status code.",
        );
        if let Ok(m) = self.requests.lock() {
            for ((method, route, code), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "{HTTP_REQUESTS}{{method=\"{method}\",route=\"{}\",code=\"{code}\"}} {n}",
                    escape(route)
                );
            }
        }
        write_header(
            &mut out,
            HTTP_DURATION,
            "histogram",
            "Time to answer HTTP requests, by route.",
        );
        if let Ok(d) = self.durations.lock() {
            for (route, h) in d.iter() {
                let labels = format!("route=\"{}\"", escape(route));
                write_histogram(
                    &mut out,
                    HTTP_DURATION,
                    &labels,
                    &BUCKETS,
                    &h.counts,
                    h.sum,
                    h.count,
                );
            }
        }

        let s = store.stats();
        write_header(&mut out, JOURNAL_APPENDS, "counter", "Events committed to the journal.");
        let _ = writeln!(out, "{JOURNAL_APPENDS} {}", s.events_appended.load(Ordering::Relaxed));
        write_header(
            &mut out,
            JOURNAL_COMMITS,
            "counter",
            "Store transactions committed (each may carry many writes).",
        );
        let commits = s.commits.load(Ordering::Relaxed);
        let _ = writeln!(out, "{JOURNAL_COMMITS} {commits}");
        write_header(
            &mut out,
            JOURNAL_COMMIT_DURATION,
            "histogram",
            "Time to commit one store transaction.",
        );
        let bounds: Vec<f64> =
            andon_store::COMMIT_BUCKETS_MICROS.iter().map(|b| *b as f64 / 1e6).collect();
        let counts: Vec<u64> = s.commit_buckets.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let sum = s.commit_micros.load(Ordering::Relaxed) as f64 / 1e6;
        write_histogram(&mut out, JOURNAL_COMMIT_DURATION, "", &bounds, &counts, sum, commits);
        write_header(
            &mut out,
            JOURNAL_LAST_SEQ,
            "gauge",
            "Sequence number of the newest journal event.",
        );
        let _ = writeln!(out, "{JOURNAL_LAST_SEQ} {}", store.last_seq());
        out
    }
}

/// Middleware: counts and times every request by its route template.
pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let resp = next.run(req).await;
    state.metrics.observe(&method, &route, resp.status().as_u16(), started.elapsed().as_secs_f64());
    resp
}

/// Each supervised Service's replica counts and its instances' restarts
/// (what the default crash-looping and availability rules read).
fn render_services(out: &mut String, supervisor: &andon_supervisor::Supervisor) {
    let mut statuses: Vec<_> = supervisor
        .services()
        .into_iter()
        .filter_map(|k| Some((k.clone(), supervisor.status(&k)?)))
        .collect();
    statuses.sort_by(|a, b| a.0.cmp(&b.0));
    write_header(out, "andon_service_replicas", "gauge", "Replicas a Service asks for.");
    for (k, s) in &statuses {
        let svc = escape(&format!("{}/{}", k.namespace, k.name));
        let _ = writeln!(out, "andon_service_replicas{{service=\"{svc}\"}} {}", s.replicas);
    }
    write_header(
        out,
        "andon_service_ready_replicas",
        "gauge",
        "Instances of a Service that are ready.",
    );
    for (k, s) in &statuses {
        let svc = escape(&format!("{}/{}", k.namespace, k.name));
        let _ =
            writeln!(out, "andon_service_ready_replicas{{service=\"{svc}\"}} {}", s.ready_replicas);
    }
    write_header(
        out,
        "andon_service_instance_restarts_total",
        "counter",
        "Restarts of a Service instance after it exited or failed its liveness probe.",
    );
    for (k, s) in &statuses {
        let svc = escape(&format!("{}/{}", k.namespace, k.name));
        for i in &s.instances {
            let _ = writeln!(
                out,
                "andon_service_instance_restarts_total{{service=\"{svc}\",replica=\"{}\"}} {}",
                i.id, i.restarts
            );
        }
    }
}
