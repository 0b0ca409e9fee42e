//! The router's metrics: requests by service, instance and status code, and latency by
//! service, rendered into andon's `/metrics`. Counting is lock-light: one small map per
//! service keyed by (instance, code), and atomic histogram buckets.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub(crate) const REQUESTS: &str = "andon_router_requests_total";
pub(crate) const DURATION: &str = "andon_router_request_duration_seconds";

const BUCKETS: [f64; 12] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// One service's counters; `None` instance means no instance could be picked.
#[derive(Default)]
pub(crate) struct ServiceMetrics {
    requests: Mutex<BTreeMap<(Option<u32>, u16), u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl ServiceMetrics {
    pub(crate) fn observe(&self, instance: Option<u32>, code: u16, took: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((instance, code)).or_default() += 1;
        }
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// Renders every service's metrics; `services` is (label, metrics) sorted by label.
pub(crate) fn render(services: &[(String, std::sync::Arc<ServiceMetrics>)], out: &mut String) {
    use andon_core::prom::{escape, write_header, write_histogram};
    write_header(
        out,
        REQUESTS,
        "counter",
        "Requests proxied by andon's router, by service, instance and status code.",
    );
    for (s, m) in services {
        if let Ok(map) = m.requests.lock() {
            for ((i, c), n) in map.iter() {
                let i = i.map_or_else(|| "none".to_owned(), |i| i.to_string());
                let _ = writeln!(
                    out,
                    "{REQUESTS}{{service=\"{}\",instance=\"{i}\",code=\"{c}\"}} {n}",
                    escape(s)
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
        let counts: Vec<u64> = m.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let sum = m.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        write_histogram(
            out,
            DURATION,
            &format!("service=\"{}\"", escape(s)),
            &BUCKETS,
            &counts,
            sum,
            m.count.load(Ordering::Relaxed),
        );
    }
}
