//! The metrics engine through the real binary: andon and every ready service
//! instance are scraped into the TSDB; the Prometheus API and `andon promql
//! query` read it back; acknowledged samples survive `kill -9`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

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
    // What Grafana's Prometheus data source also asks for.
    let (_, x) = api(&a, "/prometheus/api/v1/query_exemplars?query=up&start=0&end=1").await;
    assert_eq!(x["data"], serde_json::json!([]));
    let (_, r) = api(&a, "/prometheus/api/v1/rules").await;
    // Only the rules andon ships are loaded.
    let groups: Vec<&str> = r["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["file"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["andon/defaults"], "{r}");
    let (_, ts) = api(&a, "/prometheus/api/v1/status/tsdb").await;
    assert!(ts["data"]["headStats"]["numSeries"].as_u64().unwrap() > 10, "{ts}");
    let (_, ri) = api(&a, "/prometheus/api/v1/status/runtimeinfo").await;
    assert_eq!(ri["data"]["storageRetention"], "15d");
    let (_, fq) =
        api(&a, &format!("/prometheus/api/v1/format_query?query={}", enc("sum(rate(x[5m]))by(a)")))
            .await;
    assert_eq!(fq["data"], "sum by (a) (rate(x[5m]))");

    // Bad PromQL is a 400 with Prometheus's error shape; the CLI exits 2.
    let (status, e) = api(&a, &format!("/prometheus/api/v1/query?query={}", enc("sum(up"))).await;
    assert_eq!(status, 400);
    assert_eq!(e["errorType"], "bad_data");
    assert_eq!(
        e["error"], "invalid parameter \"query\": 1:4: parse error: unclosed left parenthesis",
        "{e}"
    );
    let o = a.cli(&["promql", "query", "sum(up"]);
    assert_eq!(o.status.code(), Some(2));
    // Bad parameters: 400 with the parameter and the value.
    for (path, want) in [
        (
            "/prometheus/api/v1/query?query=up&time=yesterday",
            "invalid parameter \"time\": cannot parse \"yesterday\" to a valid timestamp",
        ),
        (
            "/prometheus/api/v1/query_range?query=up&start=10&end=5&step=1",
            "invalid parameter \"end\": end timestamp must not be before start time",
        ),
        (
            "/prometheus/api/v1/query_range?query=up&start=0&end=100000&step=1",
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ),
        (
            "/prometheus/api/v1/query_range?query=up&start=0&end=10&step=0",
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ),
        (
            "/prometheus/api/v1/series?match%5B%5D=rate(up%5B1m%5D)",
            "invalid parameter \"match[]\": \"rate(up[1m])\" is not a series selector",
        ),
        ("/prometheus/api/v1/series", "no match[] parameter provided"),
    ] {
        let (status, e) = api(&a, path).await;
        assert_eq!(
            (status, e["errorType"].as_str(), e["error"].as_str()),
            (400, Some("bad_data"), Some(want)),
            "{path}"
        );
    }
    // A remote-write body that is not snappy is refused and stores nothing.
    let resp = a
        .client()
        .send(
            Method::POST,
            "/prometheus/api/v1/write",
            Some(("application/x-protobuf", b"not snappy".to_vec())),
        )
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body =
        String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert_eq!(body, "snappy: copy at byte 1 reaches 1853038708 bytes back with only 0 produced\n");

    // The CLI prints instant and range results.
    let o = a.cli(&["promql", "query", "up{job=\"andon\"}"]);
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("up{instance="), "{}", stdout(&o));
    assert!(stdout(&o).contains("=> 1 @"), "{}", stdout(&o));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (s0, e0) = ((now - 3).to_string(), (now + 1).to_string());
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

    // The UI: a table and a chart for an expression, the error for a bad one, and the
    // service page's golden signals.
    let page = |path: String| {
        let a = &a;
        async move {
            let resp = a.client().send(Method::GET, &path, None).await.unwrap();
            String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec())
                .unwrap()
        }
    };
    let html = page(format!("/ui/metrics?expr={}", enc("up{job=\"andon\"}"))).await;
    assert!(html.contains("<svg class=\"chart\""), "{html}");
    assert!(html.contains("up{instance=&quot;") || html.contains("up{instance=\""), "{html}");
    let html = page(format!("/ui/metrics?expr={}", enc("sum(up"))).await;
    assert!(
        html.contains("id=\"query-error\"") && html.contains("unclosed left parenthesis"),
        "{html}"
    );
    assert!(html.contains("<pre class=\"error-at\" id=\"error-at\">sum(up\n   ^</pre>"), "{html}");
    let html = page("/ui/services/default/shop".to_string()).await;
    for signal in ["Golden signals", "Request rate", "Error ratio", "Latency p50", "Latency p99"] {
        assert!(html.contains(signal), "{signal} missing: {html}");
    }

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

/// Serves a fixed exposition body on an ephemeral port, forever.
fn exposition_server(body: &'static str) -> String {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut s in l.incoming().map_while(Result::ok) {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes());
        }
    });
    addr
}

#[tokio::test]
async fn scrape_configs_relabel_limit_and_report_bad_targets() {
    let good = exposition_server(
        "# TYPE jobs_total counter\njobs_total{queue=\"a\"} 3\njobs_total{queue=\"b\"} 4\n# TYPE debug_info gauge\ndebug_info 1\n",
    );
    let bad = exposition_server("jobs_total{queue=\"a\"} 3\njobs_total{queue=\"b\" 4\n");
    let big = exposition_server(
        "m 1\nm{a=\"1\"} 1\nm{a=\"2\"} 1\nm{a=\"3\"} 1\nm{a=\"4\"} 1\nm{a=\"5\"} 1\n",
    );
    // Millions of series: cut by the body size the sample limit allows, never read whole.
    let huge: &'static str = Box::leak(
        (0..60_000)
            .map(|i| format!("huge_series{{i=\"{i:08}\"}} {i}\n"))
            .collect::<String>()
            .into_boxed_str(),
    );
    let huge = exposition_server(huge);
    let dir = tempfile::tempdir().unwrap();
    let a = Andon::start_with(dir.path(), &["--scrape-interval", "1"]);
    let f = dir.path().join("scrape.yaml");
    std::fs::write(
        &f,
        format!(
            "apiVersion: andon.dev/v1\nkind: ScrapeConfig\nmetadata:\n  name: workers\nspec:\n  scrapeInterval: 1s\n  staticConfigs:\n  - targets: ['{good}', '{bad}']\n    labels: {{team: infra}}\n  relabelings:\n  - {{sourceLabels: [__address__], regex: '.*:(.*)', targetLabel: port}}\n  metricRelabelings:\n  - {{sourceLabels: [__name__], regex: debug_.*, action: drop}}\n---\napiVersion: andon.dev/v1\nkind: ScrapeConfig\nmetadata:\n  name: big\nspec:\n  scrapeInterval: 1s\n  sampleLimit: 5\n  staticConfigs: [{{targets: ['{big}', '{huge}']}}]\n"
        ),
    )
    .unwrap();
    let o = a.cli(&["apply", "-f", f.to_str().unwrap()]);
    assert!(o.status.success(), "{}", common::stderr(&o));

    let port = good.rsplit(':').next().unwrap().to_string();
    let r = wait_query(&a, "jobs_total", "the good target's series", |r| r.len() == 2).await;
    for s in &r {
        assert_eq!(s["metric"]["job"], "workers");
        assert_eq!(s["metric"]["team"], "infra");
        assert_eq!(s["metric"]["port"], port.as_str());
        assert_eq!(s["metric"]["instance"], good.as_str());
    }
    // metricRelabelings dropped debug_info.
    let (_, v) = api(&a, "/prometheus/api/v1/query?query=debug_info").await;
    assert_eq!(v["data"]["result"], serde_json::json!([]));

    // The malformed target is down with the line and reason; the others are unaffected.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, t) = api(&a, "/prometheus/api/v1/targets").await;
        let active = t["data"]["activeTargets"].as_array().unwrap().clone();
        let find = |addr: &str| active.iter().find(|x| x["labels"]["instance"] == addr).cloned();
        if let (Some(g), Some(b), Some(big_t), Some(huge_t)) =
            (find(&good), find(&bad), find(&big), find(&huge))
            && b["health"] == "down"
            && big_t["health"] == "down"
            && huge_t["health"] == "down"
        {
            let err = huge_t["lastError"].as_str().unwrap();
            assert!(err.contains("the body is larger than 5 samples can be"), "{err}");
            assert_eq!(g["health"], "up", "{g}");
            let err = b["lastError"].as_str().unwrap();
            assert!(err.contains("line 2:"), "{err}");
            let err = big_t["lastError"].as_str().unwrap();
            assert!(err.contains("sample_limit exceeded"), "{err}");
            break;
        }
        assert!(Instant::now() < deadline, "targets never reported: {t}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let r = wait_query(&a, "up{job=\"workers\"}", "up for both workers", |r| r.len() == 2).await;
    let ups: Vec<&str> = r.iter().map(|s| s["value"][1].as_str().unwrap()).collect();
    assert!(ups.contains(&"1") && ups.contains(&"0"), "{r:?}");
    // Nothing of the over-limit scrape was stored.
    let (_, v) = api(&a, "/prometheus/api/v1/query?query=m").await;
    assert_eq!(v["data"]["result"], serde_json::json!([]));

    // An invalid relabeling is refused at apply, with its location.
    std::fs::write(
        &f,
        "apiVersion: andon.dev/v1\nkind: ScrapeConfig\nmetadata:\n  name: broken\nspec:\n  staticConfigs: [{targets: ['127.0.0.1:1']}]\n  relabelings:\n  - {sourceLabels: [a], regex: '(', targetLabel: b}\n",
    )
    .unwrap();
    let o = a.cli(&["apply", "-f", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(common::stderr(&o).contains(":8:"), "{}", common::stderr(&o));

    // Deleting a ScrapeConfig stops its scrapes and marks its series stale.
    assert!(a.cli(&["delete", "scrapeconfig", "workers"]).status.success());
    wait_query(&a, "jobs_total", "workers series to go stale", |r| r.is_empty()).await;
}

#[tokio::test]
async fn tsdb_import_backfills_blocks_the_server_serves() {
    let dir = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let start = now - 2 * 86_400;
    let mut om = String::from("# TYPE backfill gauge\n");
    for i in 0..600u64 {
        om.push_str(&format!("backfill{{src=\"file\"}} {i} {}\n", start + i * 30));
    }
    om.push_str("# EOF\n");
    let file = dir.path().join("in.om");
    std::fs::write(&file, &om).unwrap();
    let data = dir.path().join("data");
    let o = std::process::Command::new(common::BIN)
        .args(["tsdb", "import", file.to_str().unwrap(), "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(stdout(&o).starts_with("imported 600 samples of 1 series into "), "{}", stdout(&o));

    // A malformed file imports nothing.
    let bad = dir.path().join("bad.om");
    std::fs::write(&bad, "backfill 1 1\n").unwrap();
    let o = std::process::Command::new(common::BIN)
        .args(["tsdb", "import", bad.to_str().unwrap(), "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(common::stderr(&o).contains("line"), "{}", common::stderr(&o));

    let a = Andon::start(&data);
    let q = format!(
        "/prometheus/api/v1/query_range?query={}&start={start}&end={}&step=300",
        enc("backfill"),
        start + 599 * 30
    );
    let (_, v) = api(&a, &q).await;
    let values = v["data"]["result"][0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 60, "{v}");
    assert_eq!(values[0][1], "0");
    assert_eq!(values[59][1], "590");
    let (_, v) = api(
        &a,
        &format!(
            "/prometheus/api/v1/query?query={}&time={}",
            enc("count_over_time(backfill[1d])"),
            start + 600 * 30
        ),
    )
    .await;
    assert_eq!(v["data"]["result"][0]["value"][1], "600", "{v}");
}

#[tokio::test]
async fn queries_over_their_limits_fail_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let a = Andon::start_with(dir.path(), &["--scrape-interval", "1", "--query-max-samples", "5"]);
    wait_query(&a, "up", "a first scrape", |r| r.len() == 1).await;
    // andon's own metrics are far more than 5 series.
    let (status, v) =
        api(&a, &format!("/prometheus/api/v1/query?query={}", enc("{job=\"andon\"}"))).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["errorType"], "execution");
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains("too many samples") && msg.contains("limit: 5 samples"), "{msg}");
}
