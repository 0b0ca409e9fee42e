//! The router's metrics: requests by service, instance and status code, and latency by
//! service, rendered into andon's `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

pub(crate) const REQUESTS: &str = "andon_router_requests_total";
pub(crate) const DURATION: &str = "andon_router_request_duration_seconds";

const BUCKETS: [f64; 12] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Hist {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    durations: Mutex<BTreeMap<String, Hist>>,
}

impl Metrics {
    pub(crate) fn observe(&self, service: &str, instance: Option<u32>, code: u16, took: Duration) {
        let instance = instance.map_or_else(|| "none".to_owned(), |i| i.to_string());
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((service.to_owned(), instance, code)).or_default() += 1;
        }
        let secs = took.as_secs_f64();
        if let Ok(mut d) = self.durations.lock() {
            let h = d.entry(service.to_owned()).or_default();
            h.count += 1;
            h.sum += secs;
            for (i, b) in BUCKETS.iter().enumerate() {
                if secs <= *b {
                    h.counts[i] += 1;
                }
            }
        }
    }

    pub(crate) fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP {REQUESTS} Requests proxied by andon's router, by service, instance and status code."
        );
        let _ = writeln!(out, "# TYPE {REQUESTS} counter");
        if let Ok(m) = self.requests.lock() {
            for ((s, i, c), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "{REQUESTS}{{service=\"{s}\",instance=\"{i}\",code=\"{c}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP {DURATION} Time from request to response headers through andon's router."
        );
        let _ = writeln!(out, "# TYPE {DURATION} histogram");
        if let Ok(d) = self.durations.lock() {
            for (s, h) in d.iter() {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "{DURATION}_bucket{{service=\"{s}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ =
                    writeln!(out, "{DURATION}_bucket{{service=\"{s}\",le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "{DURATION}_sum{{service=\"{s}\"}} {}", h.sum);
                let _ = writeln!(out, "{DURATION}_count{{service=\"{s}\"}} {}", h.count);
            }
        }
    }
}
