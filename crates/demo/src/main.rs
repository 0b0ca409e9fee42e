//! `andon-demo`: the small HTTP service of the seeds' CI/CD walkthrough, with knobs to
//! rehearse failure. Reads `PORT`; `VERSION`, `ERROR_RATE`, `EXTRA_LATENCY_MS`,
//! `FAIL_HEALTH_AFTER_S` and `CRASH_AFTER_S` make it misbehave on purpose.
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

const BUCKETS: [f64; 11] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

struct Knobs {
    version: String,
    error_rate: f64,
    extra_latency: Duration,
    fail_health_after: Option<Duration>,
}

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

struct Demo {
    knobs: Knobs,
    started: Instant,
    started_unix: f64,
    rng: AtomicU64,
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    durations: Mutex<BTreeMap<(String, String), Histogram>>,
}

type Shared = Arc<Demo>;

impl Demo {
    /// A uniform number in [0, 1) from a xorshift generator (no cryptographic needs here).
    fn random(&self) -> f64 {
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Applies the failure knobs to an application endpoint: latency, then maybe a 500.
    async fn misbehave(&self) -> Option<Response> {
        if !self.knobs.extra_latency.is_zero() {
            tokio::time::sleep(self.knobs.extra_latency).await;
        }
        (self.knobs.error_rate > 0.0 && self.random() < self.knobs.error_rate).then(|| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"error": "injected failure (ERROR_RATE)"})),
            )
                .into_response()
        })
    }
}

fn env_f64(name: &str) -> Option<f64> {
    let v = std::env::var(name).ok()?;
    match v.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 0.0 => Some(f),
        _ => {
            eprintln!("andon-demo: ignoring {name}={v:?}: expected a non-negative number");
            None
        }
    }
}

#[tokio::main]
async fn main() {
    let port = match std::env::var("PORT").unwrap_or_else(|_| "8080".into()).parse::<u16>() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("andon-demo: PORT must be a port number: {e}");
            std::process::exit(2);
        }
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let demo = Arc::new(Demo {
        knobs: Knobs {
            version: std::env::var("VERSION").unwrap_or_else(|_| "0.0.0".into()),
            error_rate: env_f64("ERROR_RATE").unwrap_or(0.0).min(1.0),
            extra_latency: Duration::from_secs_f64(
                env_f64("EXTRA_LATENCY_MS").unwrap_or(0.0) / 1000.0,
            ),
            fail_health_after: env_f64("FAIL_HEALTH_AFTER_S").map(Duration::from_secs_f64),
        },
        started: Instant::now(),
        started_unix: now.as_secs_f64(),
        rng: AtomicU64::new((now.as_nanos() as u64) ^ u64::from(std::process::id()) | 1),
        requests: Mutex::default(),
        durations: Mutex::default(),
    });
    if let Some(after) = env_f64("CRASH_AFTER_S") {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(after)).await;
            eprintln!("andon-demo: crashing as asked (CRASH_AFTER_S={after})");
            std::process::exit(1);
        });
    }
    let app = Router::new()
        .route("/health", get(health))
        .route("/sum", get(sum))
        .route("/version", get(version))
        .route("/metrics", get(metrics))
        .fallback(|| async { (StatusCode::NOT_FOUND, axum::Json(json!({"error": "not found"}))) })
        .layer(axum::middleware::from_fn_with_state(demo.clone(), observe))
        .with_state(demo.clone());
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("andon-demo: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("andon-demo {} listening on 127.0.0.1:{port}", demo.knobs.version);
    let served = axum::serve(listener, app).with_graceful_shutdown(terminated()).await;
    if let Err(e) = served {
        eprintln!("andon-demo: server error: {e}");
        std::process::exit(1);
    }
    eprintln!("andon-demo: stopped after finishing in-flight requests");
}

async fn terminated() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    eprintln!("andon-demo: SIGTERM received, draining");
}

async fn health(State(d): State<Shared>) -> Response {
    if d.knobs.fail_health_after.is_some_and(|after| d.started.elapsed() >= after) {
        return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"status": "failing"})))
            .into_response();
    }
    axum::Json(json!({"status": "ok"})).into_response()
}

fn number(q: &BTreeMap<String, String>, name: &str) -> Result<f64, Box<Response>> {
    let bad = |msg: String| {
        Box::new(
            (StatusCode::BAD_REQUEST, axum::Json(json!({"error": msg, "parameter": name})))
                .into_response(),
        )
    };
    match q.get(name) {
        None => Err(bad(format!("parameter {name} is missing"))),
        Some(v) => match v.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(f),
            _ => Err(bad(format!("parameter {name} is not a number: {v:?}"))),
        },
    }
}

async fn sum(State(d): State<Shared>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    if let Some(r) = d.misbehave().await {
        return r;
    }
    let (a, b) = match (number(&q, "a"), number(&q, "b")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return *r,
    };
    let s = a + b;
    // Whole numbers print as integers ({"sum": 5}), others as decimals.
    let value = if s.fract() == 0.0 && s.abs() < 9.0e15 { json!(s as i64) } else { json!(s) };
    axum::Json(json!({"sum": value})).into_response()
}

async fn version(State(d): State<Shared>) -> Response {
    if let Some(r) = d.misbehave().await {
        return r;
    }
    axum::Json(json!({"version": d.knobs.version})).into_response()
}

async fn observe(State(d): State<Shared>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let path = match req.uri().path() {
        p @ ("/health" | "/sum" | "/version" | "/metrics") => p.to_owned(),
        _ => "other".to_owned(),
    };
    let resp = next.run(req).await;
    let secs = started.elapsed().as_secs_f64();
    if let Ok(mut m) = d.requests.lock() {
        *m.entry((method.clone(), path.clone(), resp.status().as_u16())).or_default() += 1;
    }
    if let Ok(mut m) = d.durations.lock() {
        let h = m.entry((method, path)).or_default();
        h.count += 1;
        h.sum += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.buckets[i] += 1;
            }
        }
    }
    resp
}

/// Resident memory and CPU seconds from /proc, as Prometheus' client libraries export them.
fn process_stats() -> (Option<f64>, Option<f64>) {
    let page = 4096.0;
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|pages| pages * page);
    let cpu = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| {
        let rest = s.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = f.get(11)?.parse().ok()?;
        let stime: f64 = f.get(12)?.parse().ok()?;
        Some((utime + stime) / 100.0)
    });
    (rss, cpu)
}

async fn metrics(State(d): State<Shared>) -> Response {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP http_requests_total HTTP requests answered.\n# TYPE http_requests_total counter"
    );
    if let Ok(m) = d.requests.lock() {
        for ((method, path, code), n) in m.iter() {
            let _ = writeln!(
                out,
                "http_requests_total{{method=\"{method}\",path=\"{path}\",code=\"{code}\"}} {n}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP http_request_duration_seconds Time to answer HTTP requests.\n# TYPE http_request_duration_seconds histogram"
    );
    if let Ok(m) = d.durations.lock() {
        for ((method, path), h) in m.iter() {
            let l = format!("method=\"{method}\",path=\"{path}\"");
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{l},le=\"{b}\"}} {}",
                    h.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "http_request_duration_seconds_sum{{{l}}} {}", h.sum);
            let _ = writeln!(out, "http_request_duration_seconds_count{{{l}}} {}", h.count);
        }
    }
    let (rss, cpu) = process_stats();
    if let Some(cpu) = cpu {
        let _ = writeln!(
            out,
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu}"
        );
    }
    if let Some(rss) = rss {
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {}",
        d.started_unix
    );
    let _ = writeln!(
        out,
        "# HELP build_info Build information.\n# TYPE build_info gauge\nbuild_info{{version=\"{}\",service=\"andon-demo\"}} 1",
        d.knobs.version
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}
