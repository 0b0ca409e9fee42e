//! Progressive-delivery benchmarks, on the release binary with real andon-demo instances:
//! - rollback: from a failed analysis measurement to all traffic on the stable revision
//!   (the journal's `analysis.measurement` → `rollout.aborted` times; the router's
//!   policy swap follows the abort's commit), over several failing canaries;
//! - split: the share of 10,000 requests through the router that reach a canary at
//!   `setWeight: 20`;
//! - policy: how long `Router::set_policy` takes, in process (the next request picks
//!   from the table it installs);
//! - autoscale: one autoscaler round's calculation and decision for 100 services.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::time::{Duration, Instant};

use andon_cli::client::{Client, Method};
use anyhow::{Context, bail};

use crate::bench::{Proc, apply, free_port};

const TEMPLATE: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: success}
spec:
  args: [{name: revision}]
  metrics:
  - name: success-ratio
    interval: 1s
    failureLimit: 0
    consecutiveErrorLimit: 30
    successCondition: result[0] >= 0.95
    provider:
      prometheus:
        query: sum(rate(andon_router_requests_total{service="default/fail",revision="{{args.revision}}",code!~"5.."}[3s])) / sum(rate(andon_router_requests_total{service="default/fail",revision="{{args.revision}}"}[3s]))
"#;

fn service(name: &str, strategy: &str) -> String {
    format!(
        "apiVersion: andon.dev/v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  replicas: 2\n  command: [andon-demo]\n  env: [{{name: VERSION, value: '1'}}]\n  ports: [{{name: http, port: 0}}]\n  readinessProbe: {{httpGet: {{path: /health, port: http}}, periodSeconds: 1}}\n  terminationGracePeriodSeconds: 2\n  strategy:\n{strategy}"
    )
}

async fn get(c: &Client, path: &str) -> anyhow::Result<serde_json::Value> {
    c.get_json(path).await.map_err(|e| anyhow::anyhow!("{e}"))
}

async fn set_env(c: &Client, name: &str, env: &[(&str, &str)]) -> anyhow::Result<()> {
    let path = format!("/api/v1/services/{name}");
    let mut doc = get(c, &path).await?;
    doc["spec"]["env"] =
        env.iter().map(|(k, v)| serde_json::json!({"name": k, "value": v})).collect();
    if let Some(o) = doc.as_object_mut() {
        o.remove("status");
    }
    c.json(Method::PUT, &path, Some(("application/json", doc.to_string().into_bytes())))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

async fn wait_rollout(
    c: &Client,
    name: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> anyhow::Result<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let doc = get(c, &format!("/api/v1/services/{name}")).await?;
        let r = &doc["status"]["rollout"];
        if pred(r) {
            return Ok(doc["status"].clone());
        }
        if Instant::now() > deadline {
            bail!("service {name}: the rollout did not reach the expected state: {r}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Keeps `url` busy until the returned flag is set.
fn traffic(url: String) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    tokio::spawn(async move {
        let Ok(c) = Client::new(&url) else { return };
        while !s.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = c.send(Method::GET, "/sum?a=1&b=2", None).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    stop
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub(crate) async fn delivery(bin: &Path) -> anyhow::Result<()> {
    println!(
        "== delivery: failed measurement → stable traffic; canary share of 10,000 requests; set_policy"
    );
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let child = std::process::Command::new(bin)
        .args([
            "server",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--scrape-interval",
            "1",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .env("ANDON_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let _andon = Proc(child);
    let url = format!("http://127.0.0.1:{port}");
    let c = Client::new(&url).map_err(|e| anyhow::anyhow!("{e}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = c.send(Method::GET, "/readyz", None).await
            && r.status().is_success()
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("andon did not start");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The canary's share of 10,000 requests at setWeight 20.
    apply(
        &c,
        &service("split", "    canary:\n      steps:\n      - setWeight: 20\n      - pause: {}\n"),
    )
    .await?;
    wait_rollout(&c, "split", |r| r["phase"] == "Healthy").await?;
    set_env(&c, "split", &[("VERSION", "2")]).await?;
    let st = wait_rollout(&c, "split", |r| r["phase"] == "Paused").await?;
    let router = st["url"].as_str().context("no address")?.to_owned();
    let rc = Client::new(&router).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (mut canary, mut total) = (0u32, 0u32);
    for _ in 0..10_000 {
        let v = rc.get_json("/version").await.map_err(|e| anyhow::anyhow!("{e}"))?;
        total += 1;
        if v["version"] == "2" {
            canary += 1;
        }
    }
    let share = f64::from(canary) * 100.0 / f64::from(total);
    println!(
        "split: {canary} of {total} requests reached the canary at setWeight 20: {share:.2}% ({:+.2} points)",
        share - 20.0
    );

    // Failing canaries: failed measurement → abort (traffic back on stable).
    apply(&c, TEMPLATE).await?;
    let strategy = "    canary:\n      analysis:\n        templates: [{templateName: success}]\n        args: [{name: revision, valueFrom: {podTemplateHashValue: Latest}}]\n      steps:\n      - setWeight: 50\n      - pause: {}\n";
    apply(&c, &service("fail", strategy)).await?;
    let st = wait_rollout(&c, "fail", |r| r["phase"] == "Healthy").await?;
    let stop = traffic(st["url"].as_str().context("no address")?.to_owned());
    let mut latencies = Vec::new();
    let mut before = 0;
    for round in 0..8 {
        set_env(&c, "fail", &[("VERSION", &format!("bad-{round}")), ("ERROR_RATE", "0.5")]).await?;
        wait_rollout(&c, "fail", |r| r["phase"] == "Degraded").await?;
        let ev = get(&c, &format!("/api/v1/events?after={before}&limit=10000")).await?;
        let items = ev["items"].as_array().cloned().unwrap_or_default();
        before = ev["last"].as_u64().unwrap_or(before);
        let time = |pred: &dyn Fn(&serde_json::Value) -> bool| {
            items
                .iter()
                .find(|e| e["subject"] == "Service/default/fail" && pred(e))
                .and_then(|e| andon_core::Timestamp::parse_rfc3339(e["time"].as_str()?))
        };
        let failed =
            time(&|e| e["kind"] == "analysis.measurement" && e["data"]["phase"] == "Failed");
        let aborted = time(&|e| e["kind"] == "rollout.aborted");
        if let (Some(f), Some(a)) = (failed, aborted) {
            latencies.push((a.millis() - f.millis()) as f64);
        }
        set_env(&c, "fail", &[("VERSION", "1")]).await?;
        wait_rollout(&c, "fail", |r| r["phase"] == "Healthy").await?;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    latencies.sort_by(f64::total_cmp);
    println!(
        "rollback: failed measurement → all traffic on stable, {} rounds: min {:.0} ms, p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms (Flagger's default: interval 1m × threshold, ≥ 60,000 ms)",
        latencies.len(),
        quantile(&latencies, 0.0),
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.9),
        quantile(&latencies, 1.0)
    );
    policy_swap();
    autoscale();
    Ok(())
}

/// `Router::set_policy` in process, alternating weights; the table read right after
/// holds the new weights.
fn policy_swap() {
    use andon_router::{Policy, Router};
    use andon_supervisor::EndpointSink;
    let router = Router::new();
    let key = andon_core::ObjectRef::new("Service", "default", "bench");
    let endpoints = (0..4)
        .map(|i| andon_supervisor::Endpoint {
            instance: i,
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], 20_000 + i as u16)),
            revision: if i < 2 { "stable".into() } else { "canary".into() },
        })
        .collect();
    router.set_endpoints(&key, endpoints);
    let mut took = Vec::new();
    for i in 0..10_000u32 {
        let w = i % 100;
        let p = Policy {
            weights: vec![("stable".into(), 100 - w), ("canary".into(), w)],
            header_routes: Vec::new(),
            only_weighted: false,
        };
        let t = Instant::now();
        router.set_policy(&key, p);
        took.push(t.elapsed().as_secs_f64() * 1e6);
        if router.table(&key).policy.weights[1].1 != w {
            println!("policy: the table did not hold the new weights");
            return;
        }
    }
    took.sort_by(f64::total_cmp);
    println!(
        "policy: Router::set_policy over 10,000 swaps: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs; the next request reads the new table",
        quantile(&took, 0.5),
        quantile(&took, 0.99),
        quantile(&took, 1.0)
    );
}

/// One autoscaler round for 100 services of 3 instances each, CPU utilization and an
/// external metric per service: the replica calculation and the behaviour's decision
/// (what the driver does after reading `/proc` and the engine).
pub(crate) fn autoscale() {
    use andon_delivery::autoscale::{
        Autoscaler, Behavior, InstanceSample, InstanceState, Metric, ObjectTarget, ResourceTarget,
        ScaleContext, combine, replicas_for_metric,
    };
    let mut scalers: Vec<Autoscaler> =
        (0..100).map(|_| Autoscaler::new(Some(Behavior::default()))).collect();
    let mut rounds = Vec::new();
    for round in 0..200i64 {
        let t = Instant::now();
        for (i, s) in scalers.iter_mut().enumerate() {
            let load = 0.01 * ((i as i64 + round) % 90) as f64;
            let samples: Vec<InstanceSample> = (0..3)
                .map(|k| InstanceSample {
                    state: if k == 2 && round % 7 == 0 {
                        InstanceState::Unready
                    } else {
                        InstanceState::Ready
                    },
                    value: Some(load * (1.0 + 0.1 * f64::from(k))),
                    request: Some(0.1),
                })
                .collect();
            let ctx = ScaleContext::new(3, 3);
            let cpu = Metric::Resource {
                cpu: true,
                target: ResourceTarget::Utilization(50),
                samples: &samples,
            };
            let ext =
                Metric::Object { current: load * 100.0, target: ObjectTarget::AverageValue(30.0) };
            let proposal =
                combine(3, [replicas_for_metric(&cpu, &ctx), replicas_for_metric(&ext, &ctx)])
                    .map_or(3, |r| r.replicas);
            let now = andon_core::Timestamp::from_millis(1_000_000 + round * 15_000);
            let _ = s.decide(now, 3, proposal, 1, 10);
        }
        rounds.push(t.elapsed().as_secs_f64() * 1e3);
    }
    rounds.sort_by(f64::total_cmp);
    println!(
        "autoscale: one round for 100 services (3 instances, CPU + external metric each), 200 rounds: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        quantile(&rounds, 0.5),
        quantile(&rounds, 0.99),
        quantile(&rounds, 1.0)
    );
}
