//! Rule benchmarks:
//! - rules-eval: 10,000 alerting rules (100 groups of 100) over 100,000 series
//!   in the embedded TSDB, evaluated as the server evaluates them; CPU seconds
//!   per round against the 15 s evaluation interval (the target: under half a core);
//! - rules-test: `andon rules test` vs `promtool test rules` on the promtool
//!   fixtures both read, wall time of repeated runs, as a ratio.
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
