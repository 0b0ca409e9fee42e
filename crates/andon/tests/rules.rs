//! Prometheus rules through the real binary: a bare rule file applied with
//! `andon apply -f` is evaluated on the server (recorded series, `ALERTS`,
//! the Prometheus `/rules` and `/alerts` API), pending `for` timers resume
//! after `kill -9`, bad rule files are refused with their positions, and
//! `andon rules check|test` behave like promtool's.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::time::{Duration, Instant};

use common::{Andon, stderr, stdout};
use http_body_util::BodyExt;
use hyper::Method;

const RULES: &str = r#"groups:
- name: andon-self
  interval: 1s
  rules:
  - record: job:up:sum
    expr: sum by (job) (up{job="andon"})
  - alert: AndonUp
    expr: up{job="andon"} == 1
    labels:
      severity: info
    annotations:
      summary: "{{ $labels.job }} is up ({{ $value }})"
  - alert: SlowBurn
    expr: vector(1)
    for: 1h
"#;

async fn api(a: &Andon, path: &str) -> serde_json::Value {
    let (status, v) = common::request(&a.client(), Method::GET, path, None).await;
    assert_eq!(status, 200, "{path}: {v}");
    v
}

/// Polls `/alerts` until `ok` accepts the list.
async fn wait_alerts(
    a: &Andon,
    what: &str,
    ok: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = api(a, "/prometheus/api/v1/alerts").await;
        let alerts = v["data"]["alerts"].as_array().cloned().unwrap_or_default();
        if ok(&alerts) {
            return alerts;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {v}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn find<'a>(alerts: &'a [serde_json::Value], name: &str) -> Option<&'a serde_json::Value> {
    alerts.iter().find(|a| a["labels"]["alertname"] == name)
}

/// Runs the CLI for a command that needs no server.
fn offline(args: &[&str]) -> std::process::Output {
    common::cli_with_stdin("http://127.0.0.1:1", args, None)
}

fn rfc3339_ms(s: &str) -> i64 {
    andon_core::Timestamp::parse_rfc3339(s).unwrap().millis()
}

#[tokio::test]
async fn rules_run_on_the_server_and_pending_timers_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Andon::start_with(dir.path(), &["--scrape-interval", "1"]);
    let f = dir.path().join("self-rules.yml");
    std::fs::write(&f, RULES).unwrap();
    let out = a.cli(&["apply", "-f", f.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The bare file became a PrometheusRule named after the file.
    let got = a.cli(&["get", "prometheusrule", "self-rules", "-o", "json"]);
    assert!(got.status.success(), "{}", stderr(&got));

    let alerts = wait_alerts(&a, "AndonUp firing and SlowBurn pending", |al| {
        find(al, "AndonUp").is_some_and(|x| x["state"] == "firing")
            && find(al, "SlowBurn").is_some_and(|x| x["state"] == "pending")
    })
    .await;
    let up = find(&alerts, "AndonUp").unwrap();
    assert_eq!(up["labels"]["severity"], "info");
    assert_eq!(up["annotations"]["summary"], "andon is up (1)");
    assert_eq!(up["value"], "1e+00");
    let first_active = rfc3339_ms(find(&alerts, "SlowBurn").unwrap()["activeAt"].as_str().unwrap());

    // The CLI lists them, and the history has AndonUp's firing.
    let list = a.cli(&["alerts", "list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(stdout(&list).contains("andon is up (1)"), "{}", stdout(&list));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let h = a.cli(&["alerts", "history", "--alertname", "AndonUp", "-o", "json"]);
        assert!(h.status.success(), "{}", stderr(&h));
        let v: serde_json::Value = serde_json::from_str(&stdout(&h)).unwrap();
        if v[0]["kind"] == "alert.firing" {
            assert_eq!(v[0]["data"]["labels"]["severity"], "info", "{v}");
            break;
        }
        assert!(Instant::now() < deadline, "no firing in the history: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The rules API reports both kinds with their health.
    let rules = api(&a, "/prometheus/api/v1/rules").await;
    let groups = rules["data"]["groups"].as_array().unwrap();
    // The rules andon ships are there too.
    assert!(groups.iter().any(|g| g["file"] == "andon/defaults"), "{rules}");
    let group = groups.iter().find(|g| g["name"] == "andon-self").unwrap();
    assert_eq!(group["name"], "andon-self");
    assert_eq!(group["file"], "default/self-rules");
    assert_eq!(group["interval"], 1.0);
    let kinds: Vec<&str> =
        group["rules"].as_array().unwrap().iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["recording", "alerting", "alerting"]);
    assert!(group["rules"].as_array().unwrap().iter().all(|r| r["health"] == "ok"), "{rules}");
    let only_alerts = api(&a, "/prometheus/api/v1/rules?type=alert").await;
    let mine = only_alerts["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "andon-self")
        .cloned()
        .unwrap();
    assert_eq!(mine["rules"].as_array().unwrap().len(), 2);

    // Recorded series and ALERTS are in the TSDB.
    let q = api(&a, "/prometheus/api/v1/query?query=job%3Aup%3Asum").await;
    assert_eq!(q["data"]["result"][0]["value"][1], "1", "{q}");
    // ALERTS is written from the evaluation after the one that restored `for` state.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let q =
            api(&a, "/prometheus/api/v1/query?query=ALERTS%7Balertname%3D%22SlowBurn%22%7D").await;
        if q["data"]["result"][0]["metric"]["alertstate"] == "pending" {
            break;
        }
        assert!(Instant::now() < deadline, "no pending ALERTS series: {q}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The Alerts page shows both, with the expanded annotation, and the rule groups.
    let resp = a.client().send(Method::GET, "/ui/alerts", None).await.unwrap();
    let html =
        String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(html.contains("1 firing, 1 pending"), "{html}");
    assert!(html.contains("andon is up (1)"), "{html}");
    assert!(html.contains("andon-self") && html.contains("andon-defaults"), "{html}");

    // kill -9, a pause, a restart: SlowBurn's `for` timer resumes instead of starting over.
    tokio::time::sleep(Duration::from_secs(2)).await;
    a.kill9();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let restarted_at =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as i64;
    let a = Andon::start_with(dir.path(), &["--scrape-interval", "1"]);
    let alerts = wait_alerts(&a, "SlowBurn pending again", |al| {
        find(al, "SlowBurn").is_some_and(|x| x["state"] == "pending")
    })
    .await;
    let resumed = rfc3339_ms(find(&alerts, "SlowBurn").unwrap()["activeAt"].as_str().unwrap());
    // Restored: active since before the restart (the downtime is added, as Prometheus does).
    assert!(
        resumed < restarted_at - 1000,
        "activeAt {resumed} not restored (restart at {restarted_at})"
    );
    assert!(resumed >= first_active, "activeAt {resumed} before the original {first_active}");
}

#[tokio::test]
async fn bad_rule_files_are_refused_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let a = Andon::start(dir.path());
    let f = dir.path().join("bad.yml");
    std::fs::write(
        &f,
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: sum(rate(x[5m])\n    annotations:\n      summary: '{{ $labels.job '\n",
    )
    .unwrap();
    let out = a.cli(&["apply", "-f", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("bad.yml:5:"), "{err}");
    assert!(err.contains("could not parse expression"), "{err}");
    assert!(err.contains("annotation \"summary\""), "{err}");
    assert!(err.contains("nothing was applied"), "{err}");
    let list = a.cli(&["get", "prometheusrules", "-o", "json"]);
    assert!(!stdout(&list).contains("\"g\""), "{}", stdout(&list));

    // The same file through the API directly: 422 with the problems.
    let resp = a
        .client()
        .send(Method::POST, "/api/v1/apply", Some(("application/yaml", std::fs::read(&f).unwrap())))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
}

#[test]
fn rules_check_and_test_behave_like_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n- name: g\n  rules:\n  - alert: InstanceDown\n    expr: up == 0\n    for: 5m\n    labels: {severity: page}\n    annotations:\n      summary: 'Instance {{ $labels.instance }} down'\n  - record: job:up:sum\n    expr: sum by (job) (up)\n",
    )
    .unwrap();
    let check = offline(&["rules", "check", rules.to_str().unwrap()]);
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(stdout(&check).contains("  SUCCESS: 2 rules found"), "{}", stdout(&check));

    let tests = dir.path().join("tests.yml");
    std::fs::write(
        &tests,
        "rule_files: [rules.yml]\ntests:\n- interval: 1m\n  input_series:\n  - series: 'up{job=\"api\", instance=\"a:1\"}'\n    values: '0x10'\n  alert_rule_test:\n  - eval_time: 6m\n    alertname: InstanceDown\n    exp_alerts:\n    - exp_labels: {severity: page, job: api, instance: 'a:1'}\n      exp_annotations: {summary: 'Instance a:1 down'}\n  promql_expr_test:\n  - expr: job:up:sum\n    eval_time: 2m\n    exp_samples:\n    - labels: 'job:up:sum{job=\"api\"}'\n      value: 0\n",
    )
    .unwrap();
    let ok = offline(&["rules", "test", tests.to_str().unwrap()]);
    assert!(ok.status.success(), "{}{}", stdout(&ok), stderr(&ok));
    assert!(stdout(&ok).contains("  SUCCESS"), "{}", stdout(&ok));

    // A test file with an unknown field is refused with its position.
    let typo = dir.path().join("typo.yml");
    std::fs::write(
        &typo,
        "rule_files: [rules.yml]
tests:
- intervall: 1m
",
    )
    .unwrap();
    let t = offline(&["rules", "test", typo.to_str().unwrap()]);
    assert_eq!(t.status.code(), Some(1));
    assert!(
        stderr(&t).contains(
            ":3:3: tests[0].intervall: unknown field \"intervall\" (did you mean \"interval\"?)"
        ),
        "{}",
        stderr(&t)
    );

    // A wrong expectation fails with promtool's report and exit code 1.
    let text = std::fs::read_to_string(&tests).unwrap().replace("value: 0", "value: 3");
    std::fs::write(&tests, text).unwrap();
    let bad = offline(&["rules", "test", tests.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    let err = stderr(&bad);
    assert!(err.contains("  FAILED:"), "{err}");
    assert!(
        err.contains("    expr: \"job:up:sum\", time: 2m,\n        exp: {__name__=\"job:up:sum\", job=\"api\"} 3E+00\n        got: {__name__=\"job:up:sum\", job=\"api\"} 0E+00"),
        "{err}"
    );
}

const SLO: &str = r#"version: "prometheus/v1"
service: "andon-api"
labels:
  owner: platform
slos:
  - name: "requests-availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(andon_http_requests_total{code=~"5.."}[{{.window}}])) or vector(0)
        total_query: sum(rate(andon_http_requests_total[{{.window}}]))
    alerting:
      name: AndonApiHighErrorRate
      page_alert:
        labels: {severity: page}
      ticket_alert:
        labels: {severity: ticket}
"#;

#[tokio::test]
async fn slo_specs_apply_generate_rules_and_report_status() {
    let dir = tempfile::tempdir().unwrap();
    let a =
        Andon::start_with(dir.path(), &["--scrape-interval", "1", "--evaluation-interval", "1"]);
    let f = dir.path().join("slo.yml");
    std::fs::write(&f, SLO).unwrap();
    let out = a.cli(&["apply", "-f", f.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("prometheusservicelevel/andon-api created"), "{}", stdout(&out));
    // Traffic for the SLI.
    for _ in 0..10 {
        api(&a, "/api/v1/services").await;
    }
    // Sloth's three groups run on the server under the SLO's source.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rules = api(&a, "/prometheus/api/v1/rules").await;
        let names: Vec<String> = rules["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["file"] == "slo/default/andon-api")
            .map(|g| g["name"].as_str().unwrap().to_string())
            .collect();
        let evaluated = rules["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["file"] == "slo/default/andon-api")
            .all(|g| g["rules"].as_array().unwrap().iter().all(|r| r["health"] == "ok"));
        if names.len() == 3 && evaluated {
            assert_eq!(
                names,
                [
                    "sloth-slo-alerts-andon-api-requests-availability",
                    "sloth-slo-meta-recordings-andon-api-requests-availability",
                    "sloth-slo-sli-recordings-andon-api-requests-availability"
                ]
            );
            break;
        }
        assert!(Instant::now() < deadline, "SLO rules not evaluated: {rules}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The recorded SLI is queryable under Sloth's name.
    // (once two scrapes of andon's request counter give `rate` something to work with).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let q = api(&a, "/prometheus/api/v1/query?query=slo%3Asli_error%3Aratio_rate5m").await;
        if q["data"]["result"][0]["metric"]["sloth_id"] == "andon-api-requests-availability" {
            break;
        }
        assert!(Instant::now() < deadline, "no recorded SLI: {q}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Status: no 5xx so far, the whole budget left.
    let deadline = Instant::now() + Duration::from_secs(30);
    let v = loop {
        let list = a.cli(&["slo", "list", "-o", "json"]);
        assert!(list.status.success(), "{}", stderr(&list));
        let v: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
        if v["items"][0]["sliErrorRatio"].is_number() {
            break v;
        }
        assert!(Instant::now() < deadline, "no SLI in the status: {v}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let s = &v["items"][0];
    assert_eq!(s["id"], "andon-api-requests-availability");
    assert_eq!(s["objective"], 99.9);
    assert_eq!(s["period"], "30d");
    assert_eq!(s["sliErrorRatio"], 0.0, "{s}");
    assert_eq!(s["budgetRemaining"], 1.0, "{s}");
    assert_eq!(s["burnRates"]["1h"], 0.0, "{s}");
    let status = a.cli(&["slo", "status", "requests-availability"]);
    assert!(status.status.success(), "{}", stderr(&status));
    assert!(stdout(&status).contains("Budget left:  100.000%"), "{}", stdout(&status));
    // The SLOs page lists it with its budget.
    let resp = a.client().send(Method::GET, "/ui/slos", None).await.unwrap();
    let html =
        String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(
        html.contains("andon-api-requests-availability") && html.contains("100.000%"),
        "{html}"
    );
    let missing = a.cli(&["slo", "status", "nope"]);
    assert_eq!(missing.status.code(), Some(1), "{}", stderr(&missing));

    // A bad spec is refused with its position, nothing applied.
    let bad = dir.path().join("bad-slo.yml");
    std::fs::write(
        &bad,
        SLO.replace("objective: 99.9", "objective: 140").replace("andon-api", "other"),
    )
    .unwrap();
    let out = a.cli(&["apply", "-f", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("bad-slo.yml:7:"), "{}", stderr(&out));
    let got = a.cli(&["get", "slos", "-o", "json"]);
    assert!(!stdout(&got).contains("\"other\""), "{}", stdout(&got));
}

/// A webhook receiver on loopback: every POST body, in arrival order.
async fn webhook_receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>) {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Some((_, body)) = common::read_request(&mut sock, &mut buf).await {
                    let _ = tx.send(serde_json::from_slice(&body).unwrap());
                    let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
                }
            });
        }
    });
    (url, rx)
}

#[tokio::test]
async fn alerts_reach_a_webhook_through_alertmanager_routing() {
    let dir = tempfile::tempdir().unwrap();
    let a = Andon::start_with(dir.path(), &["--scrape-interval", "1"]);
    let (url, mut hook) = webhook_receiver().await;
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 2s\n  routes:\n  - matchers: ['severity=\"never\"']\n    receiver: nowhere\nreceivers:\n- name: hook\n  webhook_configs:\n  - url: {url}\n- name: nowhere\n"
        ),
    )
    .unwrap();
    let rules = dir.path().join("up.yml");
    std::fs::write(
        &rules,
        "groups:\n- name: g\n  interval: 1s\n  rules:\n  - alert: AndonUp\n    expr: up{job=\"andon\"} == 1\n    labels: {severity: info}\n    annotations: {summary: 'andon is up'}\n  - alert: AlwaysOn\n    expr: vector(1)\n",
    )
    .unwrap();
    let out = a.cli(&["apply", "-f", am.to_str().unwrap(), "-f", rules.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("alertmanagerconfig/alertmanager created"), "{}", stdout(&out));

    // Both groups are notified once; keep AndonUp's for the checks below.
    let mut body = serde_json::Value::Null;
    let mut always_on = false;
    while body.is_null() || !always_on {
        let b = tokio::time::timeout(Duration::from_secs(30), hook.recv()).await.unwrap().unwrap();
        match b["groupLabels"]["alertname"].as_str() {
            Some("AndonUp") => body = b,
            Some("AlwaysOn") => always_on = true,
            _ => {}
        }
    }
    assert_eq!(body["version"], "4", "{body}");
    assert_eq!(body["status"], "firing", "{body}");
    assert_eq!(body["receiver"], "hook", "{body}");
    assert_eq!(body["groupKey"], "{}:{alertname=\"AndonUp\"}", "{body}");
    assert_eq!(body["groupLabels"]["alertname"], "AndonUp", "{body}");
    let alert = &body["alerts"][0];
    assert_eq!(alert["labels"]["severity"], "info", "{body}");
    assert_eq!(alert["annotations"]["summary"], "andon is up", "{body}");
    assert_eq!(alert["fingerprint"].as_str().unwrap().len(), 16, "{body}");
    assert!(alert["generatorURL"].as_str().unwrap().contains("/ui/metrics?expr="), "{body}");

    // An external Prometheus posts an alert; it is routed the same way.
    let ext = serde_json::json!([{"labels": {"alertname": "External", "job": "node"}, "annotations": {"summary": "from outside"}}]);
    let resp = a
        .client()
        .send(
            Method::POST,
            "/alertmanager/api/v2/alerts",
            Some(("application/json", ext.to_string().into_bytes())),
        )
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let b = tokio::time::timeout(Duration::from_secs(30), hook.recv()).await.unwrap().unwrap();
        if b["groupLabels"]["alertname"] == "External" {
            assert_eq!(b["alerts"][0]["annotations"]["summary"], "from outside", "{b}");
            break;
        }
        assert!(Instant::now() < deadline, "External never notified");
    }
    let held = api(&a, "/alertmanager/api/v2/alerts").await;
    assert!(
        held.as_array().unwrap().iter().any(|x| x["labels"]["alertname"] == "External"),
        "{held}"
    );

    // A silence mutes AndonUp: the notifier reports it suppressed.
    let add = a.cli(&[
        "silence",
        "add",
        "alertname=AndonUp",
        "--duration",
        "2h",
        "--comment",
        "maintenance",
    ]);
    assert!(add.status.success(), "{}", stderr(&add));
    let id = stdout(&add).trim().to_string();
    assert_eq!(id.len(), 36, "{id}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let held = api(&a, "/alertmanager/api/v2/alerts").await;
        let up = held
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["labels"]["alertname"] == "AndonUp")
            .cloned();
        if up.is_some_and(|x| x["status"]["state"] == "suppressed") {
            break;
        }
        assert!(Instant::now() < deadline, "AndonUp not suppressed: {held}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let list = a.cli(&["silence", "list"]);
    assert!(stdout(&list).contains(&id) && stdout(&list).contains("active"), "{}", stdout(&list));

    // A bad config is refused with its position; the one in force stays.
    let bad = dir.path().join("bad-am.yml");
    std::fs::write(&bad, "route:\n  receiver: missing\nreceivers:\n- name: hook\n").unwrap();
    let out = a.cli(&["apply", "-f", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("bad-am.yml:"), "{}", stderr(&out));

    // Silences are in the journal: they survive kill -9; expiring one is recorded too.
    let mut a = a;
    a.kill9();
    let a = Andon::start_with(dir.path(), &["--scrape-interval", "1"]);
    // The notification log is in the journal too: AlwaysOn fires again after the
    // restart but its group was notified already, so no second notification.
    tokio::time::sleep(Duration::from_secs(5)).await;
    while let Ok(b) = hook.try_recv() {
        assert_ne!(
            b["groupLabels"]["alertname"], "AlwaysOn",
            "notified again after a restart: {b}"
        );
    }
    let list = a.cli(&["silence", "list", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(v[0]["id"], id.as_str(), "{v}");
    assert_eq!(v[0]["status"]["state"], "active", "{v}");
    assert_eq!(v[0]["comment"], "maintenance", "{v}");
    let exp = a.cli(&["silence", "expire", &id]);
    assert!(exp.status.success(), "{}", stderr(&exp));
    let list = a.cli(&["silence", "list", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(v[0]["status"]["state"], "expired", "{v}");
}

#[tokio::test]
async fn alert_and_silence_inputs_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let a = Andon::start(dir.path());
    let c = a.client();
    let post = |path: &'static str, body: &'static str| {
        let c = c.clone();
        async move {
            let resp = c
                .send(Method::POST, path, Some(("application/json", body.as_bytes().to_vec())))
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let v: serde_json::Value =
                serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes())
                    .unwrap();
            (status, v["detail"].as_str().unwrap_or("").to_string())
        }
    };
    let cases: [(&str, &str, &str); 6] = [
        ("/alertmanager/api/v2/alerts", "{}", "expected a JSON array of alerts: invalid type: map"),
        (
            "/alertmanager/api/v2/alerts",
            r#"[{"labels": {}}]"#,
            "[0].labels: at least one label is required",
        ),
        (
            "/alertmanager/api/v2/alerts",
            r#"[{"labels": {"a": "b"}}, {"labels": {"a": "c"}, "startsAt": "yesterday"}]"#,
            "[1].startsAt: \"yesterday\" is not an RFC 3339 time",
        ),
        (
            "/alertmanager/api/v2/silences",
            r#"{"matchers": []}"#,
            "expected a silence: missing field `startsAt`",
        ),
        (
            "/alertmanager/api/v2/silences",
            r#"{"matchers": [{"name": "a", "value": "(", "isRegex": true}], "startsAt": "2030-01-01T00:00:00Z", "endsAt": "2030-01-02T00:00:00Z"}"#,
            "error parsing regexp \"(\"",
        ),
        (
            "/alertmanager/api/v2/silences",
            r#"{"matchers": [{"name": "a", "value": "b"}], "startsAt": "2030-01-02T00:00:00Z", "endsAt": "2030-01-01T00:00:00Z"}"#,
            "invalid silence: ",
        ),
    ];
    for (path, body, want) in cases {
        let (status, detail) = post(path, body).await;
        assert_eq!(status, 400, "{path} {body}: {detail}");
        assert!(detail.contains(want), "{path} {body}: {detail:?} lacks {want:?}");
    }
    // Nothing was stored.
    assert_eq!(api(&a, "/alertmanager/api/v2/silences").await, serde_json::json!([]));
    let (status, v) = common::request(&c, Method::GET, "/api/v1/alert-history?limit=0", None).await;
    assert_eq!(status, 400);
    assert_eq!(v["detail"], "limit must be between 1 and 10000, found 0");

    // The CLI checks matchers and durations before asking.
    let bad = a.cli(&["silence", "add", "job=~\"(\""]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("matcher \"job=~\\\"(\\\"\""), "{}", stderr(&bad));
    let bad = a.cli(&["silence", "add", "job=api", "--duration", "soon"]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        stderr(&bad).trim(),
        "error: --duration \"soon\": expected a duration such as 30m or 2h"
    );
}
