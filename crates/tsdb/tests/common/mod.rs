//! Helpers shared by the integration tests: label sets, options, whole-database
//! dumps compared bit for bit, and a generator of realistic scrape data.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use andon_series::{Labels, Querier, Series};
use andon_tsdb::{Options, Tsdb};

pub fn lbl(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs)
}

/// Options with a block duration in milliseconds and no time retention.
pub fn opts(block_ms: u64) -> Options {
    Options {
        block_duration: Duration::from_millis(block_ms),
        retention: Duration::ZERO,
        ..Options::default()
    }
}

pub fn open(dir: &Path, o: &Options) -> Tsdb {
    Tsdb::open(dir, o.clone()).unwrap()
}

/// A series as (labels, [(t, value bits)]), so NaNs compare by bit pattern.
pub type Dump = Vec<(Labels, Vec<(i64, u64)>)>;

pub fn to_dump(series: Vec<Series>) -> Dump {
    series
        .into_iter()
        .map(|s| (s.labels, s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect()))
        .collect()
}

/// Every sample of every series.
pub fn dump(db: &Tsdb) -> Dump {
    to_dump(db.select(&[], i64::MIN, i64::MAX).unwrap())
}

pub fn total_samples(d: &Dump) -> usize {
    d.iter().map(|(_, s)| s.len()).sum()
}

/// A small deterministic pseudo-random generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// One target's exposition: what a typical Go service with an HTTP latency
/// histogram exposes, 50 series. Returns (name and labels, sample source).
struct Target {
    instance: String,
    job: &'static str,
    series: Vec<(Labels, Vec<f64>)>,
}

const BUCKETS: [f64; 12] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, f64::INFINITY];

impl Target {
    fn push(&mut self, name: &str, extra: &[(&str, &str)], v: f64) {
        let mut pairs: Vec<(&str, &str)> =
            vec![("__name__", name), ("instance", &self.instance), ("job", self.job)];
        pairs.extend_from_slice(extra);
        let labels = Labels::from_pairs(&pairs);
        match self.series.iter_mut().find(|(l, _)| *l == labels) {
            Some((_, vs)) => vs.push(v),
            None => self.series.push((labels, vec![v])),
        }
    }
}

/// Realistic scrape data: targets of 50 series each (see below), scraped
/// every 15 s from `start` for `duration_ms`; `series` is rounded up to a
/// multiple of 50. Per target:
///
/// * constants: `up`, `scrape_samples_scraped`, `scrape_series_added`,
///   `process_start_time_seconds`, `process_max_fds`, `go_info`, `build_info`;
/// * counters: `process_cpu_seconds_total` (10 ms steps), GC count, errors,
///   `http_requests_total` for 2 handlers x 3 codes, and a latency histogram
///   per handler (12 cumulative buckets, `_count`, and `_sum`, a float
///   that changes in every bit);
/// * gauges: `scrape_duration_seconds` (a float), resident memory (pages),
///   open fds, goroutines, heap bytes (changes every scrape), in-flight
///   requests.
///
/// 5 % of scrapes are 3 to 22 ms late, beyond Prometheus's 2 ms timestamp
/// alignment.
pub fn realistic(
    series: usize,
    start: i64,
    duration_ms: i64,
    seed: u64,
) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(series);
    for target in 0..series.div_ceil(50) {
        let offset = rng.below(15_000) as i64;
        let mut times = Vec::new();
        let mut t = start + offset;
        while t < start + duration_ms {
            let late = if rng.chance(0.05) { 3 + rng.below(20) as i64 } else { 0 };
            times.push(t + late);
            t += 15_000;
        }
        let mut tg = Target {
            instance: format!("10.0.{}.{}:8080", target / 200, target % 200),
            job: if target % 2 == 0 { "api" } else { "worker" },
            series: Vec::new(),
        };
        let mut cpu_cents = rng.below(100_000) as i64;
        let mut rss_pages = 10_000 + rng.below(5_000) as i64;
        let mut fds = 20 + rng.below(10) as i64;
        let mut goroutines = 40 + rng.below(20) as i64;
        let mut gc = rng.below(1_000) as f64;
        let mut errors = rng.below(10) as f64;
        let mut codes = [[0f64; 3]; 2];
        let mut buckets = [[0f64; 12]; 2];
        let mut sums = [0f64; 2];
        for _ in &times {
            tg.push("up", &[], 1.0);
            let scrape =
                0.002 + (rng.below(3_000) as f64) * 1e-6 * (1.0 + rng.below(7) as f64 / 13.0);
            tg.push("scrape_duration_seconds", &[], scrape);
            tg.push("scrape_samples_scraped", &[], 50.0);
            tg.push("scrape_series_added", &[], 0.0);
            tg.push("process_start_time_seconds", &[], 1_699_990_000.0 + target as f64);
            cpu_cents += rng.below(30) as i64;
            tg.push("process_cpu_seconds_total", &[], cpu_cents as f64 / 100.0);
            if rng.chance(0.5) {
                rss_pages += rng.below(64) as i64 - 30;
            }
            tg.push("process_resident_memory_bytes", &[], (rss_pages * 4096) as f64);
            if rng.chance(0.1) {
                fds = (fds + rng.below(3) as i64 - 1).max(10);
            }
            tg.push("process_open_fds", &[], fds as f64);
            tg.push("process_max_fds", &[], 1_048_576.0);
            if rng.chance(0.3) {
                goroutines = (goroutines + rng.below(5) as i64 - 2).max(10);
            }
            tg.push("go_goroutines", &[], goroutines as f64);
            tg.push("go_memstats_heap_alloc_bytes", &[], (2_000_000 + rng.below(3_000_000)) as f64);
            if rng.chance(0.3) {
                gc += 1.0;
            }
            tg.push("go_gc_duration_seconds_count", &[], gc);
            tg.push("go_info", &[("version", "go1.22.1")], 1.0);
            tg.push("build_info", &[("version", "1.4.2"), ("revision", "9f3c2a1")], 1.0);
            tg.push("http_requests_in_flight", &[], rng.below(3) as f64);
            if rng.chance(0.05) {
                errors += 1.0;
            }
            tg.push("app_errors_total", &[], errors);
            for (h, handler) in ["/api/v1/query", "/api/v1/push"].iter().enumerate() {
                let n = rng.below(if h == 0 { 11 } else { 3 });
                for _ in 0..n {
                    // Latencies between 2 ms and ~1 s, mostly fast.
                    let lat = 0.002
                        * (1.0 + rng.below(1_000) as f64 / 10.0)
                            .powf(1.0 + rng.below(3) as f64 / 4.0);
                    sums[h] += lat;
                    for (b, le) in BUCKETS.iter().enumerate() {
                        if lat <= *le {
                            buckets[h][b] += 1.0;
                        }
                    }
                    let code = if rng.chance(0.97) {
                        0
                    } else if rng.chance(0.8) {
                        1
                    } else {
                        2
                    };
                    codes[h][code] += 1.0;
                }
                for (b, le) in BUCKETS.iter().enumerate() {
                    let le = if le.is_infinite() { "+Inf".to_string() } else { le.to_string() };
                    tg.push(
                        "http_request_duration_seconds_bucket",
                        &[("handler", handler), ("le", &le)],
                        buckets[h][b],
                    );
                }
                tg.push("http_request_duration_seconds_sum", &[("handler", handler)], sums[h]);
                tg.push(
                    "http_request_duration_seconds_count",
                    &[("handler", handler)],
                    buckets[h][11],
                );
                for (c, code) in ["200", "404", "500"].iter().enumerate() {
                    tg.push(
                        "http_requests_total",
                        &[("handler", handler), ("code", code)],
                        codes[h][c],
                    );
                }
            }
        }
        for (labels, values) in tg.series {
            out.push((labels, times.iter().copied().zip(values).collect()));
        }
    }
    out
}

/// Appends generated data in scrape order (one commit per 15 s step).
pub fn load(db: &Tsdb, data: &[(Labels, Vec<(i64, f64)>)]) {
    let steps = data.iter().map(|(_, s)| s.len()).max().unwrap_or(0);
    for step in 0..steps {
        let mut app = db.appender();
        for (labels, samples) in data {
            if let Some(&(t, v)) = samples.get(step) {
                app.append(labels, t, v).unwrap();
            }
        }
        let stats = app.commit().unwrap();
        assert_eq!(stats.rejected(), 0, "{stats:?}");
    }
}
