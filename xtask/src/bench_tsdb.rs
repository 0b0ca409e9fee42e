//! `cargo xtask bench tsdb`: andon's metrics engine beside Prometheus and
//! VictoriaMetrics (Debian's packages), each fed the same remote-write load
//! in the same run:
//! - ingestion: samples per second of wall time and per CPU-second of the
//!   receiving process;
//! - resident memory per active series after ingest (RSS growth / series);
//! - disk bytes per sample once the data is persisted (andon: flush to blocks;
//!   Prometheus: a snapshot of the head as a block; VictoriaMetrics: force
//!   flush and merge, then the whole data dir);
//! - query latency of a dashboard set (median of 5 runs per query) and the
//!   median andon/Prometheus ratio.
//!
//! Size with `ANDON_BENCH_SERIES` (default 100,000 series × 1 h at 15 s).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use andon_remote::{TimeSeries, WriteRequest};
use andon_series::{Labels, Sample};
use anyhow::{Context, bail};

use crate::bench::{Proc, free_port};

const STEP_MS: i64 = 15_000;
const POINTS: usize = 240;
const SAMPLES_PER_SERIES_PER_REQUEST: usize = 10;
const SERIES_PER_REQUEST: usize = 1000;
const SENDERS: usize = 4;
const LE: [&str; 11] =
    ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"];

struct Peer {
    name: &'static str,
    proc: Proc,
    write_url: String,
    query_base: String,
    data: std::path::PathBuf,
}

/// Deterministic noise.
fn mix(a: u64, b: u64) -> u64 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_add(0xD1B5_4A32_D192_ED03);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

/// The series and their value at point `k`.
struct Data {
    labels: Vec<Labels>,
    start_ms: i64,
}

impl Data {
    fn new(series: usize, start_ms: i64) -> Data {
        let histograms = (series / 20) / LE.len();
        let counters = series - histograms * LE.len();
        let mut labels = Vec::with_capacity(series);
        for i in 0..counters {
            labels.push(Labels::from_pairs(&[
                ("__name__", "bench_requests_total"),
                ("job", &format!("job-{}", i % 20)),
                ("instance", &format!("inst-{i}")),
            ]));
        }
        for h in 0..histograms {
            for le in LE {
                labels.push(Labels::from_pairs(&[
                    ("__name__", "bench_latency_seconds_bucket"),
                    ("job", &format!("job-{}", h % 20)),
                    ("instance", &format!("inst-{h}")),
                    ("le", le),
                ]));
            }
        }
        Data { labels, start_ms }
    }

    /// Counters grow by 3..9 per step; buckets are cumulative.
    fn value(&self, i: usize, k: usize) -> f64 {
        let l = &self.labels[i];
        if let Some(le) = l.get("le") {
            let idx = LE.iter().position(|x| *x == le).unwrap_or(0) as u64;
            let h = mix(i as u64 / LE.len() as u64, 7);
            (k as u64 * (idx + 1) * (1 + h % 3)) as f64
        } else {
            // A per-series rate of 3..9 per step plus jitter of 0..2: never decreasing.
            ((k as u64) * (3 + mix(i as u64, 1) % 7) + mix(i as u64, k as u64) % 3) as f64
        }
    }

    fn requests(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let chunks = POINTS / SAMPLES_PER_SERIES_PER_REQUEST;
        for c in 0..chunks {
            for shard in (0..self.labels.len()).step_by(SERIES_PER_REQUEST) {
                let mut req = WriteRequest { timeseries: Vec::new(), metadata: Vec::new() };
                for i in shard..(shard + SERIES_PER_REQUEST).min(self.labels.len()) {
                    let samples = (0..SAMPLES_PER_SERIES_PER_REQUEST)
                        .map(|j| {
                            let k = c * SAMPLES_PER_SERIES_PER_REQUEST + j;
                            Sample { t: self.start_ms + k as i64 * STEP_MS, v: self.value(i, k) }
                        })
                        .collect();
                    req.timeseries.push(TimeSeries {
                        labels: self.labels[i].clone(),
                        samples,
                        exemplars: Vec::new(),
                        histograms_skipped: 0,
                    });
                }
                out.push(andon_remote::encode_snappy(&req));
            }
        }
        out
    }
}

fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn dir_bytes(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else { return 0 };
    rd.filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

async fn curl(args: &[&str]) -> anyhow::Result<String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let o = tokio::task::spawn_blocking(move || {
        Command::new("curl").args(["-sgf", "--max-time", "600"]).args(&args).output()
    })
    .await??;
    if !o.status.success() {
        bail!("curl failed ({}): {}", o.status, String::from_utf8_lossy(&o.stderr));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

async fn wait_http(url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while curl(&[url]).await.is_err() {
        if Instant::now() > deadline {
            bail!("{url} did not come up");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

async fn start_peers(bin: &Path, dir: &Path) -> anyhow::Result<Vec<Peer>> {
    let mut peers = Vec::new();
    let port = free_port()?;
    let data = dir.join("andon");
    let child = Command::new(bin)
        .args([
            "server",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--scrape-interval",
            "3600",
            "--data-dir",
        ])
        .arg(&data)
        .env("ANDON_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let base = format!("http://127.0.0.1:{port}/prometheus");
    peers.push(Peer {
        name: "andon",
        proc: Proc(child),
        write_url: format!("{base}/api/v1/write"),
        query_base: base,
        data: data.join("tsdb"),
    });
    if Path::new("/usr/bin/prometheus").exists() {
        let port = free_port()?;
        let data = dir.join("prometheus");
        std::fs::create_dir_all(&data)?;
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, "global: {}\n")?;
        let child = Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args([
                "--web.enable-remote-write-receiver",
                "--web.enable-admin-api",
                "--log.level=warn",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let base = format!("http://127.0.0.1:{port}");
        peers.push(Peer {
            name: "prometheus",
            proc: Proc(child),
            write_url: format!("{base}/api/v1/write"),
            query_base: base,
            data,
        });
    } else {
        println!("prometheus: skipped (not installed; scripts/setup installs it)");
    }
    if Path::new("/usr/bin/victoria-metrics").exists() {
        let port = free_port()?;
        let data = dir.join("vm");
        let child = Command::new("/usr/bin/victoria-metrics")
            .arg(format!("-storageDataPath={}", data.display()))
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .args(["-search.latencyOffset=0s", "-loggerLevel=ERROR"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let base = format!("http://127.0.0.1:{port}");
        peers.push(Peer {
            name: "victoria-metrics",
            proc: Proc(child),
            write_url: format!("{base}/api/v1/write"),
            query_base: base,
            data,
        });
    } else {
        println!("victoria-metrics: skipped (not installed; scripts/setup installs it)");
    }
    for p in &peers {
        let ready = if p.name == "andon" {
            format!("{}/api/v1/status/buildinfo", p.query_base)
        } else if p.name == "prometheus" {
            format!("{}/-/ready", p.query_base)
        } else {
            format!("{}/health", p.query_base)
        };
        wait_http(&ready).await.with_context(|| p.name)?;
    }
    Ok(peers)
}

/// Sends every request in order per shard over `SENDERS` connections.
async fn ingest(url: &str, requests: Arc<Vec<Vec<u8>>>, shards: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..SENDERS {
        let requests = requests.clone();
        let url = url.to_string();
        tasks.push(tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let agent_url = url;
            for (i, body) in requests.iter().enumerate() {
                if (i % shards) % SENDERS != w {
                    continue;
                }
                post(&agent_url, body)?;
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(started.elapsed())
}

/// One remote-write POST over a fresh connection (std only, keeps xtask light).
fn post(url: &str, body: &[u8]) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").context("http only")?;
    let (host, path) = rest.split_once('/').context("no path")?;
    let mut s = std::net::TcpStream::connect(host)?;
    write!(
        s,
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let head = String::from_utf8_lossy(&resp[..resp.len().min(200)]).into_owned();
    let status: u16 = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    if !(200..300).contains(&status) {
        bail!("{url} answered {head}");
    }
    Ok(())
}

async fn query_ms(base: &str, path: &str, params: &[(&str, String)]) -> anyhow::Result<f64> {
    let mut args = vec![format!("{base}{path}")];
    for (k, v) in params {
        args.push("--data-urlencode".into());
        args.push(format!("{k}={v}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let out = curl(&refs).await?;
    let took = started.elapsed().as_secs_f64() * 1000.0;
    if !out.contains("\"success\"") {
        bail!("query failed: {}", &out[..out.len().min(300)]);
    }
    Ok(took)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

pub(crate) async fn tsdb(bin: &Path) -> anyhow::Result<()> {
    let series: usize =
        std::env::var("ANDON_BENCH_SERIES").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let start_ms = (now - 3_600_000) / STEP_MS * STEP_MS;
    let data = Data::new(series, start_ms);
    let samples = data.labels.len() * POINTS;
    println!(
        "tsdb: {} series x {POINTS} points at 15s = {samples} samples, remote write, {SENDERS} senders",
        data.labels.len()
    );
    let requests = Arc::new(data.requests());
    let shards = data.labels.len().div_ceil(SERIES_PER_REQUEST);
    let wire: usize = requests.iter().map(Vec::len).sum();
    println!("  {} requests, {:.1} MB on the wire", requests.len(), wire as f64 / 1e6);

    let dir = tempfile::tempdir()?;
    let peers = start_peers(bin, dir.path()).await?;
    struct Row {
        name: &'static str,
        rate: f64,
        per_cpu: f64,
        bytes_per_series: f64,
        bytes_per_sample: f64,
        queries: Vec<f64>,
    }
    let end_s = (start_ms + (POINTS as i64 - 1) * STEP_MS) as f64 / 1000.0;
    let start_s = start_ms as f64 / 1000.0;
    let qs: Vec<(&str, String)> = vec![
        ("sum(rate[5m])", "sum(rate(bench_requests_total[5m]))".into()),
        ("sum by job (rate[5m])", "sum by (job) (rate(bench_requests_total[5m]))".into()),
        (
            "histogram_quantile 5m",
            "histogram_quantile(0.99, sum by (le) (rate(bench_latency_seconds_bucket[5m])))".into(),
        ),
        (
            "histogram_quantile 1h",
            "histogram_quantile(0.99, sum by (le) (rate(bench_latency_seconds_bucket[1h])))".into(),
        ),
        ("topk(5, rate[5m])", "topk(5, rate(bench_requests_total[5m]))".into()),
        (
            "regex over ~11k series",
            "sum(rate(bench_requests_total{instance=~\"inst-1.*\"}[5m]))".into(),
        ),
    ];
    let mut rows = Vec::new();
    for p in &peers {
        let pid = p.proc.0.id();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss0 = crate::bench::rss_kib(pid).unwrap_or(0);
        let cpu0 = cpu_seconds(pid);
        let took = ingest(&p.write_url, requests.clone(), shards).await.with_context(|| p.name)?;
        let cpu = cpu_seconds(pid) - cpu0;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss1 = crate::bench::rss_kib(pid).unwrap_or(0);
        // Queries over the hour just written (range queries, step 60s).
        let path = if p.name == "andon" || p.name == "prometheus" || p.name == "victoria-metrics" {
            "/api/v1/query_range"
        } else {
            ""
        };
        let mut lat = Vec::new();
        for (_, q) in &qs {
            let mut runs = Vec::new();
            for _ in 0..5 {
                let params = [
                    ("query", q.clone()),
                    ("start", format!("{start_s}")),
                    ("end", format!("{end_s}")),
                    ("step", "60".to_string()),
                ];
                runs.push(
                    query_ms(&p.query_base, path, &params)
                        .await
                        .with_context(|| format!("{} {q}", p.name))?,
                );
            }
            lat.push(median(runs));
        }
        // Persist and measure disk.
        let disk = match p.name {
            "andon" => {
                curl(&["-XPOST", &format!("{}/api/v1/admin/tsdb/flush", p.query_base)]).await?;
                let mut blocks = 0;
                for e in std::fs::read_dir(&p.data)?.filter_map(Result::ok) {
                    if e.path().join("meta.json").is_file() {
                        blocks += dir_bytes(&e.path());
                    }
                }
                blocks
            }
            "prometheus" => {
                curl(&["-XPOST", &format!("{}/api/v1/admin/tsdb/snapshot", p.query_base)]).await?;
                dir_bytes(&p.data.join("snapshots"))
            }
            _ => {
                curl(&[&format!("{}/internal/force_flush", p.query_base)]).await?;
                let month = crate::bench::utc_month(start_ms);
                let _ = curl(&[&format!(
                    "{}/internal/force_merge?partition_prefix={month}",
                    p.query_base
                )])
                .await;
                tokio::time::sleep(Duration::from_secs(5)).await;
                dir_bytes(&p.data)
            }
        };
        let row = Row {
            name: p.name,
            rate: samples as f64 / took.as_secs_f64(),
            per_cpu: samples as f64 / cpu.max(0.001),
            bytes_per_series: (rss1.saturating_sub(rss0) * 1024) as f64 / data.labels.len() as f64,
            bytes_per_sample: disk as f64 / samples as f64,
            queries: lat,
        };
        println!(
            "  {:<17} ingest {:>9.0} samples/s ({:>9.0} per CPU-second), RSS +{:>6.0} B/series, disk {:.2} B/sample",
            row.name, row.rate, row.per_cpu, row.bytes_per_series, row.bytes_per_sample
        );
        rows.push(row);
    }
    println!("  query latency (median of 5, ms):");
    print!("  {:<26}", "");
    for r in &rows {
        print!("{:>18}", r.name);
    }
    println!();
    for (i, (name, _)) in qs.iter().enumerate() {
        print!("  {name:<26}");
        for r in &rows {
            print!("{:>18.1}", r.queries[i]);
        }
        println!();
    }
    let andon = rows.iter().find(|r| r.name == "andon");
    for peer in rows.iter().filter(|r| r.name != "andon") {
        if let Some(a) = andon {
            let ratios: Vec<f64> =
                a.queries.iter().zip(&peer.queries).map(|(x, y)| x / y).collect();
            println!(
                "  andon/{}: ingest per CPU-second {:.2}x, memory per series {:.2}x, disk per sample {:.2}x, median query latency ratio {:.2}",
                peer.name,
                a.per_cpu / peer.per_cpu,
                a.bytes_per_series / peer.bytes_per_series.max(1.0),
                a.bytes_per_sample / peer.bytes_per_sample.max(1e-9),
                median(ratios)
            );
        }
    }
    drop(peers);
    Ok(())
}
