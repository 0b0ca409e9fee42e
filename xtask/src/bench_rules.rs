//! Rule benchmarks:
//! - rules-eval: 10,000 alerting rules (100 groups of 100) over 100,000 series
//!   in the embedded TSDB, evaluated as the server evaluates them; CPU seconds
//!   per round against the 15 s evaluation interval (the target: under half a core);
//! - rules-test: `andon rules test` vs `promtool test rules` on the promtool
//!   fixtures both read, wall time of repeated runs, as a ratio;
//! - notify: an alert posted to `/api/v2/alerts` → the webhook receiving it, minus
//!   `group_wait`, for andon and Debian's Alertmanager 0.25 with the same config.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use andon_metrics::rules::TsdbEnv;
use andon_rules::eval::{GroupState, Settings};
use andon_series::Labels;
use andon_tsdb::Tsdb;

const SERIES: usize = 100_000;
const RULES: usize = 10_000;
const RULES_PER_GROUP: usize = 100;
const STEP_MS: i64 = 15_000;
const SAMPLES: usize = 21;

fn self_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// 100k series `bench_requests_total`-like gauges: 1,000 jobs × 100 instances.
fn series_labels(i: usize) -> Labels {
    Labels::from_pairs(&[
        ("__name__", "bench_error_ratio"),
        ("job", &format!("job-{}", i / 100)),
        ("instance", &format!("host-{}:9100", i % 100)),
    ])
}

pub(crate) fn eval() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = Tsdb::open(dir.path(), andon_tsdb::Options::default())?;
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let start = now - (SAMPLES as i64 - 1) * STEP_MS;
    let labels: Vec<Labels> = (0..SERIES).map(series_labels).collect();
    for k in 0..SAMPLES {
        let mut app = db.appender();
        for (i, l) in labels.iter().enumerate() {
            // A few instances are bad, so some alerts are active.
            let v = if i % 997 == 0 { 0.2 } else { 0.001 * ((i + k) % 7) as f64 };
            app.append(l, start + k as i64 * STEP_MS, v)?;
        }
        app.commit()?;
    }
    // Each rule watches one job (100 series), like a per-service error-ratio alert.
    let mut text = String::from("groups:\n");
    for g in 0..RULES / RULES_PER_GROUP {
        text.push_str(&format!("- name: g{g}\n  rules:\n"));
        for r in 0..RULES_PER_GROUP {
            let n = g * RULES_PER_GROUP + r;
            text.push_str(&format!(
                "  - alert: HighErrorRatio{n}\n    expr: bench_error_ratio{{job=\"job-{}\"}} > 0.1\n    for: 5m\n    labels: {{severity: page}}\n    annotations: {{summary: '{{{{ $labels.instance }}}} error ratio {{{{ $value | humanizePercentage }}}}'}}\n",
                n % 1000
            ));
        }
    }
    let file = andon_rules::file::parse(text.as_bytes(), "bench.yml", Default::default())
        .map_err(|d| anyhow::anyhow!("{d:?}"))?;
    let mut groups: Vec<GroupState> =
        file.groups.into_iter().map(|g| GroupState::new(Arc::new(g))).collect();
    for g in &mut groups {
        g.set_restored();
    }
    let opts = andon_promql::Options::default();
    let mut env = TsdbEnv { db: &db, opts: &opts, senders: &[] };
    let settings = Settings::default();
    let t_end = start + (SAMPLES as i64 - 1) * STEP_MS;
    // Warm-up round, then measured rounds at the same timestamp cadence.
    for g in &mut groups {
        g.eval(t_end, &mut env, &settings);
    }
    let rounds = 5;
    let cpu0 = self_cpu_seconds();
    let wall0 = Instant::now();
    for r in 1..=rounds {
        for g in &mut groups {
            g.eval(t_end + r * 1000, &mut env, &settings);
        }
    }
    let cpu = (self_cpu_seconds() - cpu0) / rounds as f64;
    let wall = wall0.elapsed().as_secs_f64() / rounds as f64;
    let active: usize = groups.iter().map(|g| g.alerts().count()).sum();
    let errors: usize = groups
        .iter()
        .flat_map(|g| g.rules.iter())
        .filter(|r| r.health.last_error.is_some())
        .count();
    anyhow::ensure!(errors == 0, "{errors} rules failed to evaluate");
    println!("rules-eval: {RULES} alerting rules over {SERIES} series, {active} active alerts");
    println!("  per round: {cpu:.3} CPU-s, {wall:.3} s wall");
    println!("  share of one core at a 15 s interval: {:.3} (target < 0.5)", cpu / 15.0);
    Ok(())
}

const FIXTURES: &[&str] = &[
    "long-period.yml",
    "at-modifier-test.yml",
    "negative-offset-test.yml",
    "failing.yml",
    "bad-promql.yml",
    "rules_run.yml",
];

pub(crate) fn unit_tests(bin: &Path) -> anyhow::Result<()> {
    let suite = crate::tidy::workspace_root().join("../shared/suites/promtool-rules");
    anyhow::ensure!(suite.is_dir(), "{} is missing", suite.display());
    let promtool =
        std::env::var("ANDON_TEST_PROMTOOL").unwrap_or_else(|_| "/usr/bin/promtool".into());
    anyhow::ensure!(
        Path::new(&promtool).exists(),
        "{promtool} is missing: scripts/setup installs prometheus"
    );
    let runs = 20;
    let time = |program: &str, args: &[&str]| -> anyhow::Result<f64> {
        let t = Instant::now();
        for _ in 0..runs {
            for f in FIXTURES {
                Command::new(program)
                    .args(args)
                    .arg(f)
                    .current_dir(&suite)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()?;
            }
        }
        Ok(t.elapsed().as_secs_f64())
    };
    let bin = bin.to_string_lossy();
    let andon = time(&bin, &["rules", "test"])?;
    let peer = time(&promtool, &["test", "rules"])?;
    println!("rules-test: {} fixtures × {runs} runs", FIXTURES.len());
    println!("  andon rules test     {andon:.2} s");
    println!("  promtool test rules  {peer:.2} s");
    println!("  time ratio andon/promtool: {:.2}", andon / peer);
    Ok(())
}

const GROUP_WAIT_MS: u64 = 500;
const NOTIFY_ROUNDS: usize = 20;

/// A webhook receiver thread: the arrival time of each POST, with the body's
/// first alert name.
fn receiver() -> anyhow::Result<(String, std::sync::mpsc::Receiver<(Instant, String)>)> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 16384];
                loop {
                    let Ok(n) = s.read(&mut chunk) else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some(end) = text.find("\r\n\r\n") else { continue };
                    let len: usize = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .and_then(|v| v.trim().parse().ok())
                        })
                        .unwrap_or(0);
                    if buf.len() < end + 4 + len {
                        continue;
                    }
                    let at = Instant::now();
                    let body: serde_json::Value =
                        serde_json::from_slice(&buf[end + 4..end + 4 + len]).unwrap_or_default();
                    let name = body["groupLabels"]["alertname"].as_str().unwrap_or("").to_string();
                    let _ = tx.send((at, name));
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                    buf.drain(..end + 4 + len);
                }
            });
        }
    });
    Ok((url, rx))
}

fn am_config(url: &str) -> String {
    format!(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: {GROUP_WAIT_MS}ms\n  group_interval: 1m\nreceivers:\n- name: hook\n  webhook_configs:\n  - url: {url}\n"
    )
}

/// Posts one alert per round and measures until its webhook arrives, minus group_wait.
async fn latencies(
    post_url: &str,
    rx: &std::sync::mpsc::Receiver<(Instant, String)>,
    tag: &str,
) -> anyhow::Result<Vec<f64>> {
    let client = andon_cli::client::Client::new(post_url).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = Vec::new();
    for i in 0..NOTIFY_ROUNDS {
        let name = format!("{tag}{i}");
        let body = serde_json::json!([{"labels": {"alertname": name, "job": "bench"}}]).to_string();
        let sent = Instant::now();
        let resp = client
            .send(
                andon_cli::client::Method::POST,
                "/api/v2/alerts",
                Some(("application/json", body.into_bytes())),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(
            resp.status().is_success(),
            "{post_url}: posting an alert answered {}",
            resp.status()
        );
        loop {
            let (at, got) = rx.recv_timeout(std::time::Duration::from_secs(10))?;
            if got == name {
                out.push(at.duration_since(sent).as_secs_f64() * 1000.0 - GROUP_WAIT_MS as f64);
                break;
            }
        }
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

pub(crate) async fn notify(bin: &Path) -> anyhow::Result<()> {
    let am_bin = "/usr/bin/prometheus-alertmanager";
    anyhow::ensure!(
        Path::new(am_bin).exists(),
        "{am_bin} is missing: scripts/setup installs prometheus-alertmanager"
    );
    let dir = tempfile::tempdir()?;
    let (url, rx) = receiver()?;

    let (_andon, c) = crate::bench::fresh_andon(bin, dir.path()).await?;
    crate::bench::apply(&c, &am_config(&url)).await?;
    let andon_url = format!("{}/alertmanager", c.base());
    let andon = latencies(&andon_url, &rx, "Andon").await?;

    let port = crate::bench::free_port()?;
    let cfg = dir.path().join("am.yml");
    std::fs::write(&cfg, am_config(&url))?;
    let _am = crate::bench::Proc(
        Command::new(am_bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.path={}", dir.path().join("am").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let am_url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "alertmanager did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let peer = latencies(&am_url, &rx, "Peer").await?;
    let med = |v: &[f64]| v[v.len() / 2];
    let max = |v: &[f64]| v[v.len() - 1];
    println!(
        "notify: alert posted → webhook received, minus group_wait ({GROUP_WAIT_MS} ms), {NOTIFY_ROUNDS} alerts"
    );
    println!(
        "  andon                      median {:.1} ms, max {:.1} ms",
        med(&andon),
        max(&andon)
    );
    println!("  alertmanager 0.25 (peer)   median {:.1} ms, max {:.1} ms", med(&peer), max(&peer));
    println!(
        "  ratio of medians andon/peer: {:.2} (target: andon ≤ 50 ms)",
        med(&andon) / med(&peer).max(0.001)
    );
    Ok(())
}
