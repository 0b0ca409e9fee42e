//! The router's metrics: requests by service, revision, instance and status code, and
//! latency by service and revision, rendered into andon's `/metrics`. Counting takes one
//! small per-service lock: a map per revision keyed by (instance, code) and the
//! revision's histogram.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

pub(crate) const REQUESTS: &str = "andon_router_requests_total";
pub(crate) const DURATION: &str = "andon_router_request_duration_seconds";

const BUCKETS: [f64; 12] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// The counts of one revision (`""`: no instance could be picked).
#[derive(Default)]
struct Revision {
    requests: BTreeMap<(Option<u32>, u16), u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_micros: u64,
}

/// One service's counters.
#[derive(Default)]
pub(crate) struct ServiceMetrics {
    revisions: Mutex<BTreeMap<String, Revision>>,
}

impl ServiceMetrics {
    /// Counts one answer; `backend` is `(revision, instance)`, `None` when no instance
    /// could be picked.
    pub(crate) fn observe(&self, backend: Option<(&str, u32)>, code: u16, took: Duration) {
        let Ok(mut revs) = self.revisions.lock() else { return };
        let rev = backend.map_or("", |(r, _)| r);
        let r = match revs.get_mut(rev) {
            Some(r) => r,
            None => revs.entry(rev.to_owned()).or_default(),
        };
        *r.requests.entry((backend.map(|(_, i)| i), code)).or_default() += 1;
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            r.buckets[i] += 1;
        }
        r.count += 1;
        r.sum_micros =
            r.sum_micros.saturating_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
    }
}

/// Renders every service's metrics; `services` is (label, metrics) sorted by label.
pub(crate) fn render(services: &[(String, std::sync::Arc<ServiceMetrics>)], out: &mut String) {
    use andon_core::prom::{escape, write_header, write_histogram};
    write_header(
        out,
        REQUESTS,
        "counter",
        "Requests proxied by andon's router, by service, revision, instance and status code.",
    );
    for (s, m) in services {
        let Ok(revs) = m.revisions.lock() else { continue };
        for (rev, r) in revs.iter() {
            for ((i, c), n) in &r.requests {
                let i = i.map_or_else(|| "none".to_owned(), |i| i.to_string());
                let _ = writeln!(
                    out,
                    "{REQUESTS}{{service=\"{}\",revision=\"{}\",instance=\"{i}\",code=\"{c}\"}} {n}",
                    escape(s),
                    escape(rev)
                );
            }
        }
    }
    write_header(
        out,
        DURATION,
        "histogram",
        "Time from request to response headers through andon's router.",
    );
    for (s, m) in services {
        let Ok(revs) = m.revisions.lock() else { continue };
        for (rev, r) in revs.iter() {
            write_histogram(
                out,
                DURATION,
                &format!("service=\"{}\",revision=\"{}\"", escape(s), escape(rev)),
                &BUCKETS,
                &r.buckets,
                r.sum_micros as f64 / 1e6,
                r.count,
            );
        }
    }
}
