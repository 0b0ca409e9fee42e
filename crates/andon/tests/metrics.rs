#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]
//! The metrics engine through the real binary: andon and every ready service
//! instance are scraped into the TSDB; the Prometheus API and `andon promql
//! query` read it back; acknowledged samples survive `kill -9`.

mod common;

use std::time::{Duration, Instant};

use common::{Andon, stdout};
use http_body_util::BodyExt;
use hyper::Method;

const DEMO: &str = "apiVersion: andon.dev/v1\nkind: Service\nmetadata:\n  name: shop\nspec:\n  replicas: 2\n  command: [andon-demo]\n  ports: [{name: http, port: 0}]\n  readinessProbe: {httpGet: {path: /health, port: http}, periodSeconds: 1}\n";

async fn api(a: &Andon, path: &str) -> (u16, serde_json::Value) {
    let resp = a.client().send(Method::GET, path, None).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(
            |b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            },
        )
        .collect()
}

/// Polls an instant query until `ok` accepts its result vector.
async fn wait_query(
    a: &Andon,
    q: &str,
    what: &str,
    ok: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, v) = api(a, &format!("/prometheus/api/v1/query?query={}", enc(q))).await;
        assert_eq!(status, 200, "{v}");
        let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
        if ok(&result) {
            return result;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: last result {v}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn scrapes_andon_and_services_and_serves_the_prometheus_api() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Andon::start_with(dir.path(), &["--scrape-interval", "1"]);
    let f = dir.path().join("shop.yaml");
    std::fs::write(&f, DEMO).unwrap();
    assert!(a.cli(&["apply", "-f", f.to_str().unwrap()]).status.success());

    // andon scrapes itself.
    let up = wait_query(&a, "up{job=\"andon\"}", "andon's own up", |r| {
        r.len() == 1 && r[0]["value"][1] == "1"
    })
    .await;
    assert_eq!(up[0]["metric"]["instance"].as_str().unwrap(), a.url.trim_start_matches("http://"));
    // Both ready instances of the service are scraped, with their metrics.
    wait_query(&a, "sum(up{job=\"shop\"})", "two shop instances up", |r| {
        r.len() == 1 && r[0]["value"][1] == "2"
    })
    .await;
    let series = wait_query(
        &a,
        "count by (instance) (process_resident_memory_bytes{job=\"shop\"})",
        "shop process metrics",
        |r| r.len() == 2,
    )
    .await;
    assert_eq!(series.len(), 2);

    // Targets, labels, series, metadata, buildinfo, format_query.
    let (_, t) = api(&a, "/prometheus/api/v1/targets").await;
    let active = t["data"]["activeTargets"].as_array().unwrap();
    assert_eq!(active.len(), 3, "{t}");
    assert!(active.iter().all(|x| x["health"] == "up" && x["lastError"] == ""), "{t}");
    let (_, l) = api(&a, "/prometheus/api/v1/label/job/values").await;
    assert_eq!(l["data"], serde_json::json!(["andon", "shop"]));
    let (_, s) = api(
        &a,
        &format!("/prometheus/api/v1/series?{}={}", enc("match[]"), enc("up{job=\"shop\"}")),
    )
    .await;
    assert_eq!(s["data"].as_array().unwrap().len(), 2, "{s}");
    let (_, m) = api(&a, "/prometheus/api/v1/metadata?metric=http_requests_total").await;
    assert_eq!(m["data"]["http_requests_total"][0]["type"], "counter", "{m}");
    let (_, b) = api(&a, "/prometheus/api/v1/status/buildinfo").await;
    assert_eq!(b["status"], "success");
    let (_, fq) =
        api(&a, &format!("/prometheus/api/v1/format_query?query={}", enc("sum(rate(x[5m]))by(a)")))
            .await;
    assert_eq!(fq["data"], "sum by (a) (rate(x[5m]))");

    // Bad PromQL is a 400 with Prometheus's error shape; the CLI exits 2.
    let (status, e) = api(&a, &format!("/prometheus/api/v1/query?query={}", enc("sum(up"))).await;
    assert_eq!(status, 400);
    assert_eq!(e["errorType"], "bad_data");
    assert!(e["error"].as_str().unwrap().contains("unclosed left parenthesis"), "{e}");
    let o = a.cli(&["promql", "query", "sum(up"]);
    assert_eq!(o.status.code(), Some(2));

    // The CLI prints instant and range results.
    let o = a.cli(&["promql", "query", "up{job=\"andon\"}"]);
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("up{instance="), "{}", stdout(&o));
    assert!(stdout(&o).contains("=> 1 @"), "{}", stdout(&o));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (s0, e0) = ((now - 3).to_string(), now.to_string());
    let o = a.cli(&[
        "promql",
        "query",
        "up{job=\"andon\"}",
        "--start",
        &s0,
        "--end",
        &e0,
        "--step",
        "1",
        "-o",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["resultType"], "matrix");
    assert!(!v["result"][0]["values"].as_array().unwrap().is_empty(), "{v}");

    // Deleting the service stops its scrapes and marks its series stale.
    assert!(a.cli(&["delete", "service", "shop"]).status.success());
    wait_query(&a, "up{job=\"shop\"}", "shop series to go stale", |r| r.is_empty()).await;

    // kill -9: every sample acknowledged before is still there after a restart.
    let before =
        wait_query(&a, "count_over_time(up{job=\"andon\"}[1h])", "andon samples", |r| r.len() == 1)
            .await;
    let n_before: f64 = before[0]["value"][1].as_str().unwrap().parse().unwrap();
    let t_before = before[0]["value"][0].as_f64().unwrap();
    a.kill9();
    let a = Andon::start_with(dir.path(), &["--scrape-interval", "1"]);
    let (_, v) = api(
        &a,
        &format!(
            "/prometheus/api/v1/query?query={}&time={t_before}",
            enc("count_over_time(up{job=\"andon\"}[1h])")
        ),
    )
    .await;
    let n_after: f64 = v["data"]["result"][0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(n_after >= n_before, "samples lost across kill -9: {n_before} before, {n_after} after");
}
