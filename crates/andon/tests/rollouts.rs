//! Progressive delivery through the real binary: canary steps with exact router
//! weights, analysis on the router's own metrics promoting a healthy version and
//! rolling back a failing one, blue-green with a preview address, header routes, the
//! operator's commands, and a `kill -9` in the middle of a rollout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use andon_cli::client::Client;
use common::services::*;
use common::*;
use hyper::Method;
use serde_json::Value;

fn service(name: &str, replicas: u32, version: &str, strategy: &str) -> String {
    format!(
        "apiVersion: andon.dev/v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  command: [andon-demo]\n  env:\n  - {{name: VERSION, value: \"{version}\"}}\n  ports: [{{name: http, port: 0}}]\n  readinessProbe: {{httpGet: {{path: /health, port: http}}, periodSeconds: 1}}\n  terminationGracePeriodSeconds: 5\n  strategy:\n{strategy}"
    )
}

async fn apply(c: &Client, yaml: &str) {
    let (s, v) = request(c, Method::POST, "/api/v1/apply", Some(yaml.as_bytes().to_vec())).await;
    assert_eq!(s, 200, "{v}");
}

async fn rollout(c: &Client, name: &str) -> Value {
    status(c, name).await["rollout"].clone()
}

async fn wait_rollout(c: &Client, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    wait_for(c, name, what, |s| pred(&s["rollout"])).await["rollout"].clone()
}

/// The versions `n` requests to `url` were answered by.
async fn versions(url: &str, n: usize, header: Option<(&str, &str)>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<hyper::body::Bytes>>();
    for _ in 0..n {
        let mut req = hyper::Request::get(format!("{url}/version"));
        if let Some((k, v)) = header {
            req = req.header(k, v);
        }
        let resp = http.request(req.body(http_body_util::Empty::new()).unwrap()).await.unwrap();
        let status = resp.status();
        let body = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&body).unwrap_or_default();
        let key = if status.is_success() {
            v["version"].as_str().unwrap_or("?").to_owned()
        } else {
            format!("HTTP {status}")
        };
        *out.entry(key).or_default() += 1;
    }
    out
}

fn weights(r: &Value) -> BTreeMap<String, u64> {
    r["weights"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

const CANARY_STEPS: &str = "    canary:\n      steps:\n      - setWeight: 25\n      - pause: {}\n      - setWeight: 50\n      - pause: {duration: 1}\n";

#[tokio::test]
async fn canary_steps_set_exact_weights_and_commands_steer_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = Andon::start(&tmp.path().join("data"));
    let c = a.client();
    apply(&c, &service("web", 4, "1", CANARY_STEPS)).await;
    let r = wait_rollout(&c, "web", "healthy", |r| r["phase"] == "Healthy").await;
    let stable = r["stableRevision"].as_str().unwrap().to_owned();
    let url = status(&c, "web").await["url"].as_str().unwrap().to_owned();
    let l = load(&url);

    let o = a.cli(&["set", "env", "web", "VERSION=2"]);
    assert_eq!(stdout(&o), "service/web env updated\n", "{}", stderr(&o));
    let r = wait_rollout(&c, "web", "the first pause", |r| r["phase"] == "Paused").await;
    let canary = r["currentRevision"].as_str().unwrap().to_owned();
    assert_eq!(r["step"], 1);
    assert_eq!(weights(&r), BTreeMap::from([(stable.clone(), 75), (canary.clone(), 25)]));
    assert_eq!(r["sets"][&stable], 4, "the stable revision keeps every replica: {r}");
    assert_eq!(r["sets"][&canary], 1, "ceil(25% of 4) canary instances: {r}");
    // The router splits by weight, not by instance count.
    let seen = versions(&url, 400, None).await;
    let v2 = *seen.get("2").unwrap_or(&0);
    assert!((60..=140).contains(&v2), "about 25% of 400 to the canary: {seen:?}");
    // The preview address serves the canary only.
    let preview = r["previewUrl"].as_str().unwrap().to_owned();
    assert_eq!(versions(&preview, 20, None).await, BTreeMap::from([("2".to_owned(), 20)]));

    // kill -9 while paused: the rollout comes back at the same step and weights, with
    // no instance of the dead andon left and none duplicated.
    let pids: Vec<u64> = status(&c, "web").await["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["pid"].as_u64())
        .collect();
    let (ok, failed, errors) = l.finish().await;
    assert_eq!(failed, 0, "{errors:?}");
    assert!(ok > 50);
    a.kill9();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|p| alive(*p)) {
        assert!(Instant::now() < deadline, "instances outlived andon");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let a = Andon::start(&tmp.path().join("data"));
    let c = a.client();
    let r = wait_for(&c, "web", "the same step after the restart", |s| {
        s["rollout"]["phase"] == "Paused" && s["readyReplicas"] == 5
    })
    .await["rollout"]
        .clone();
    assert_eq!(
        (r["step"].clone(), r["currentRevision"].as_str()),
        (1.into(), Some(canary.as_str()))
    );
    assert_eq!(weights(&r), BTreeMap::from([(stable.clone(), 75), (canary.clone(), 25)]));
    let st = status(&c, "web").await;
    let per_rev = |rev: &str| {
        st["instances"].as_array().unwrap().iter().filter(|i| i["revision"] == rev).count()
    };
    assert_eq!((per_rev(&stable), per_rev(&canary)), (4, 1), "{st}");

    // Abort: all traffic to stable at once; retry starts over; promote goes on.
    let url = st["url"].as_str().unwrap().to_owned();
    let l = load(&url);
    let o = a.cli(&["rollout", "abort", "web"]);
    assert_eq!(stdout(&o), "service/web aborted\n", "{}", stderr(&o));
    let r = rollout(&c, "web").await;
    assert_eq!(r["phase"], "Degraded");
    assert_eq!(weights(&r), BTreeMap::from([(stable.clone(), 100)]));
    assert_eq!(versions(&url, 50, None).await, BTreeMap::from([("1".to_owned(), 50)]));
    let o = a.cli(&["rollout", "promote", "web"]);
    assert_eq!(o.status.code(), Some(1), "promoting an aborted rollout is refused");
    assert!(stderr(&o).contains("the rollout was aborted: retry it first"), "{}", stderr(&o));
    let o = a.cli(&["rollout", "retry", "web"]);
    assert!(o.status.success(), "{}", stderr(&o));
    wait_rollout(&c, "web", "the pause again", |r| r["phase"] == "Paused" && r["step"] == 1).await;
    let o = a.cli(&["rollout", "promote", "web"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = wait_rollout(&c, "web", "promotion", |r| r["phase"] == "Healthy").await;
    assert_eq!(r["stableRevision"], canary.as_str());
    assert_eq!(versions(&url, 20, None).await, BTreeMap::from([("2".to_owned(), 20)]));
    let (ok, failed, errors) = l.finish().await;
    assert_eq!(failed, 0, "abort, retry and promotion under load: {errors:?}");
    assert!(ok > 50);

    // Undo goes back to revision 1's environment; the history numbers it anew.
    let o = a.cli(&["rollout", "undo", "web"]);
    assert_eq!(stdout(&o), "service/web rolled back to revision 1\n", "{}", stderr(&o));
    let r = wait_rollout(&c, "web", "revision 3", |r| r["revision"] == 3 && r["phase"] == "Paused")
        .await;
    assert_eq!(r["currentRevision"], stable.as_str(), "undo rolls out the old revision again");
    let o = a.cli(&["rollout", "promote", "web", "--full"]);
    assert!(o.status.success(), "{}", stderr(&o));
    wait_rollout(&c, "web", "healthy", |r| {
        r["phase"] == "Healthy" && r["stableRevision"] == stable.as_str()
    })
    .await;
    // Commands that do not apply, and bad ones, say why.
    for (path, status, detail) in [
        (
            "/api/v1/services/web/rollout/jump",
            404,
            "unknown rollout action \"jump\"; known: promote, abort, retry, pause, resume, undo, restart, override-freeze",
        ),
        (
            "/api/v1/services/web/rollout/undo?toRevision=99",
            404,
            "revision 99 not found; kept: 2, 3",
        ),
        (
            "/api/v1/services/web/rollout/promote",
            409,
            "no rollout in progress: the service runs its stable revision",
        ),
        (
            "/api/v1/services/web/rollout/override-freeze",
            400,
            "override-freeze needs a reason (?reason=…); it is recorded in the journal",
        ),
        (
            "/api/v1/environments/web/rollout/promote",
            404,
            "environments have no rollouts; services do",
        ),
        ("/api/v1/services/nope/rollout/abort", 404, "service default/nope not found"),
    ] {
        let (s, p) = request(&c, Method::POST, path, None).await;
        assert_eq!((s, p["detail"].as_str().unwrap_or("")), (status, detail), "{path}: {p}");
    }
    let o = a.cli(&["rollout", "history", "web"]);
    let text = stdout(&o);
    assert!(text.contains("2          ") && text.contains("(oldest kept)"), "{text}");
    assert!(text.contains("3          ") && text.contains("env VERSION=1"), "{text}");
    let kinds = event_kinds(&c, 2000).await;
    for k in [
        "rollout.started",
        "rollout.weight",
        "rollout.step",
        "rollout.paused",
        "rollout.aborted",
        "rollout.retried",
        "rollout.promoted",
        "rollout.state",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from the journal");
    }
}

const ANALYSIS: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-ratio
spec:
  args:
  - name: service
  - name: revision
  metrics:
  - name: success-ratio
    interval: 2s
    count: 3
    failureLimit: 0
    consecutiveErrorLimit: 10
    successCondition: result[0] >= 0.95
    provider:
      prometheus:
        query: |
          sum(rate(andon_router_requests_total{service="default/{{args.service}}",revision="{{args.revision}}",code!~"5.."}[4s]))
          /
          sum(rate(andon_router_requests_total{service="default/{{args.service}}",revision="{{args.revision}}"}[4s]))
"#;

const ANALYSED_CANARY: &str = "    canary:\n      steps:\n      - setWeight: 50\n      - analysis:\n          templates: [{templateName: error-ratio}]\n          args:\n          - {name: service, valueFrom: {fieldRef: {fieldPath: metadata.name}}}\n          - {name: revision, valueFrom: {podTemplateHashValue: Latest}}\n";

#[tokio::test]
async fn analysis_promotes_a_healthy_canary_and_rolls_back_a_failing_one() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Andon::start_with(&tmp.path().join("data"), &["--scrape-interval", "1"]);
    let c = a.client();
    apply(&c, ANALYSIS).await;
    apply(&c, &service("shop", 2, "1", ANALYSED_CANARY)).await;
    wait_rollout(&c, "shop", "healthy", |r| r["phase"] == "Healthy").await;
    let url = status(&c, "shop").await["url"].as_str().unwrap().to_owned();
    let l = load(&url);

    // A healthy version passes its analysis and is promoted without anyone's help.
    a.cli(&["set", "env", "shop", "VERSION=2"]);
    let r = wait_rollout(&c, "shop", "promotion of version 2", |r| {
        r["phase"] == "Healthy"
            && r["weights"].as_object().is_some_and(|w| w.len() == 1)
            && r["currentRevision"].is_null()
            && r["revision"] == 2
    })
    .await;
    let (ok, failed, errors) = l.finish().await;
    assert_eq!(failed, 0, "{errors:?}");
    assert!(ok > 50);
    let stable = r["stableRevision"].as_str().unwrap().to_owned();
    let (_, ev) = request(&c, Method::GET, "/api/v1/events?limit=5000", None).await;
    let measured: Vec<&Value> = ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "analysis.measurement" && e["data"]["phase"] == "Successful")
        .collect();
    assert!(measured.len() >= 3, "three successful measurements: {measured:?}");

    // A version failing half its requests fails its analysis: all traffic back to the stable one.
    let l = load(&url);
    a.cli(&["set", "env", "shop", "VERSION=3", "ERROR_RATE=0.5"]);
    let r = wait_rollout(&c, "shop", "the rollback", |r| r["phase"] == "Degraded").await;
    let (_, failed, _) = l.finish().await;
    assert!(failed > 0, "the canary failed some of the users' requests before the rollback");
    assert!(r["message"].as_str().unwrap().contains("success-ratio"), "{r}");
    assert_eq!(weights(&r), BTreeMap::from([(stable.clone(), 100)]));
    let failed_measurement = r["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["phase"] == "Failed")
        .unwrap_or_else(|| panic!("a failed measurement in {r}"));
    assert_eq!(failed_measurement["metric"], "success-ratio");
    // Users are served by the stable version again.
    assert_eq!(versions(&url, 50, None).await, BTreeMap::from([("2".to_owned(), 50)]));
    let o = a.cli(&["rollout", "status", "shop", "-o", "json"]);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    for k in ["phase", "step", "weights", "revision", "measurements"] {
        assert!(j.get(k).is_some(), "{k} missing from `rollout status -o json`: {j}");
    }
    let o = a.cli(&["rollout", "status", "shop", "-w", "--timeout", "5s"]);
    assert_eq!(o.status.code(), Some(1), "watching a degraded rollout exits 1");
    assert!(stdout(&o).contains("Degraded — RolloutAborted: analysis of step 1"), "{}", stdout(&o));
}

#[tokio::test]
async fn blue_green_previews_then_switches_and_header_routes_pick_the_canary() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Andon::start(&tmp.path().join("data"));
    let c = a.client();
    let bg = "    blueGreen:\n      autoPromotionEnabled: false\n      scaleDownDelaySeconds: 1\n";
    apply(&c, &service("bg", 2, "1", bg)).await;
    wait_rollout(&c, "bg", "healthy", |r| r["phase"] == "Healthy").await;
    let url = status(&c, "bg").await["url"].as_str().unwrap().to_owned();
    let l = load(&url);
    a.cli(&["set", "env", "bg", "VERSION=2"]);
    let r = wait_rollout(&c, "bg", "the preview", |r| r["phase"] == "Paused").await;
    let preview = r["previewUrl"].as_str().unwrap().to_owned();
    assert_eq!(versions(&preview, 20, None).await, BTreeMap::from([("2".to_owned(), 20)]));
    assert_eq!(versions(&url, 20, None).await, BTreeMap::from([("1".to_owned(), 20)]));
    let o = a.cli(&["rollout", "promote", "bg"]);
    assert!(o.status.success(), "{}", stderr(&o));
    wait_rollout(&c, "bg", "the switch", |r| r["phase"] == "Healthy" && r["revision"] == 2).await;
    assert_eq!(versions(&url, 20, None).await, BTreeMap::from([("2".to_owned(), 20)]));
    wait_for(&c, "bg", "the old revision gone after its delay", |s| {
        s["instances"].as_array().is_some_and(|i| i.len() == 2)
    })
    .await;
    let (ok, failed, errors) = l.finish().await;
    assert_eq!(failed, 0, "a blue-green switch under load: {errors:?}");
    assert!(ok > 50);

    let ab = "    canary:\n      steps:\n      - setCanaryScale: {replicas: 1}\n      - setHeaderRoute:\n          name: beta\n          match:\n          - {headerName: X-Beta, headerValue: {exact: \"yes\"}}\n      - pause: {}\n";
    apply(&c, &service("ab", 2, "1", ab)).await;
    wait_rollout(&c, "ab", "healthy", |r| r["phase"] == "Healthy").await;
    a.cli(&["set", "env", "ab", "VERSION=2"]);
    let r = wait_rollout(&c, "ab", "the header route", |r| r["phase"] == "Paused").await;
    assert_eq!(r["headerRoutes"][0]["name"], "beta");
    let url = status(&c, "ab").await["url"].as_str().unwrap().to_owned();
    assert_eq!(
        versions(&url, 20, Some(("x-beta", "yes"))).await,
        BTreeMap::from([("2".to_owned(), 20)])
    );
    assert_eq!(versions(&url, 20, None).await, BTreeMap::from([("1".to_owned(), 20)]));
}

#[tokio::test]
async fn the_demo_under_load_scales_out_and_back_in_after_the_window() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Andon::start_with(&tmp.path().join("data"), &["--autoscaler-interval", "1"]);
    let c = a.client();
    let svc = "apiVersion: andon.dev/v1\nkind: Service\nmetadata: {name: busy}\nspec:\n  command: [andon-demo]\n  ports: [{name: http, port: 0}]\n  readinessProbe: {httpGet: {path: /health, port: http}, periodSeconds: 1}\n  resources: {requests: {cpu: 20m}}\n  autoscaling:\n    minReplicas: 1\n    maxReplicas: 3\n    metrics:\n    - type: Resource\n      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n    behavior:\n      scaleDown: {stabilizationWindowSeconds: 3}\n";
    apply(&c, svc).await;
    let st = wait_for(&c, "busy", "one ready instance", |s| s["readyReplicas"] == 1).await;
    let url = st["url"].as_str().unwrap().to_owned();
    let l = load(&url);
    let spec_replicas = |doc: &Value| doc["spec"]["replicas"].as_u64().unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, doc) = request(&c, Method::GET, "/api/v1/services/busy", None).await;
        if spec_replicas(&doc) == 3 && doc["status"]["readyReplicas"] == 3 {
            assert_eq!(doc["status"]["autoscaling"]["desiredReplicas"], 3, "{}", doc["status"]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no scale-out under load: {}",
            doc["status"]["autoscaling"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (ok, failed, errors) = l.finish().await;
    assert_eq!(failed, 0, "scaling out under load: {errors:?}");
    assert!(ok > 50);
    // Idle: back to the minimum once the 3 s window has passed.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, doc) = request(&c, Method::GET, "/api/v1/services/busy", None).await;
        if spec_replicas(&doc) == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no scale-in when idle: {}",
            doc["status"]["autoscaling"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kinds = event_kinds(&c, 5000).await;
    assert!(kinds.iter().filter(|k| *k == "autoscaler.scaled").count() >= 2, "{kinds:?}");
}

const SHOP_SLO: &str = r#"version: "prometheus/v1"
service: "shop"
slos:
  - name: "availability"
    objective: 99
    sli:
      events:
        error_query: sum(rate(andon_router_requests_total{service="default/shop",code=~"5.."}[{{.window}}])) or vector(0)
        total_query: sum(rate(andon_router_requests_total{service="default/shop"}[{{.window}}]))
    alerting:
      page_alert: {disable: true}
      ticket_alert: {disable: true}
"#;

#[tokio::test]
async fn an_exhausted_error_budget_freezes_rollouts_until_an_audited_override() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Andon::start_with(
        &tmp.path().join("data"),
        &["--scrape-interval", "1", "--evaluation-interval", "1"],
    );
    let c = a.client();
    // A shop failing half its requests spends its budget at once.
    let svc = service("shop", 1, "1", "    canary:\n      steps: [{setWeight: 50}, {analysis: {templates: [{templateName: burn}]}}, {pause: {}}]\n")
        .replace(
            "  - {name: VERSION, value: \"1\"}\n",
            "  - {name: VERSION, value: \"1\"}\n  - {name: ERROR_RATE, value: \"0.5\"}\n",
        );
    // The canary's analysis asks the same SLO for its burn rate over 5 minutes.
    apply(&c, "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: burn}\nspec:\n  metrics:\n  - name: burn-rate\n    successCondition: result.burnRate < 1\n    provider: {slo: {name: shop-availability, window: 5m}}\n").await;
    apply(&c, &svc).await;
    apply(&c, SHOP_SLO).await;
    apply(&c, "apiVersion: andon.dev/v1\nkind: ErrorBudgetPolicy\nmetadata: {name: shop-freeze}\nspec: {slo: shop-availability, freezeRolloutsBelow: 25%}\n").await;
    let st = wait_for(&c, "shop", "ready", |s| s["readyReplicas"] == 1).await;
    let url = st["url"].as_str().unwrap().to_owned();
    let l = load(&url);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, s) = request(&c, Method::GET, "/api/v1/slo-status/shop-availability", None).await;
        if s["budgetRemaining"].as_f64().is_some_and(|b| b < 0.25) {
            break;
        }
        assert!(Instant::now() < deadline, "the budget was not spent: {s}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let _ = l.finish().await;

    // The SLOs page shows the policy in force.
    let (_, page) = request(&c, Method::GET, "/ui/slos", None).await;
    assert!(
        page.as_str()
            .unwrap()
            .contains("shop-freeze: freeze below 25% — <span class=\"bad\">rollouts frozen</span>"),
        "the SLOs page shows the freeze"
    );

    // The rollout does not start; status and CLI say why; the journal records it.
    let o = a.cli(&["set", "env", "shop", "VERSION=2", "ERROR_RATE-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = wait_rollout(&c, "shop", "the freeze", |r| r["phase"] == "Paused").await;
    assert!(
        r["message"].as_str().unwrap().starts_with("ErrorBudgetFrozen: SLO shop-availability has "),
        "{r}"
    );
    assert!(r["currentRevision"].is_null(), "nothing rolls out: {r}");
    let o = a.cli(&["rollout", "status", "shop"]);
    assert!(
        stdout(&o).contains("below the 25% of ErrorBudgetPolicy shop-freeze"),
        "{}",
        stdout(&o)
    );
    assert!(event_kinds(&c, 5000).await.iter().any(|k| k == "rollout.frozen"));
    // The Rollouts page offers the override with a reason field while frozen.
    let (_, page) = request(&c, Method::GET, "/ui/rollouts/default/shop", None).await;
    let page = page.as_str().unwrap();
    assert!(page.contains("data-action=\"override-freeze\">Override freeze</button>"), "{page}");
    assert!(page.contains("id=\"freeze-reason\""), "{page}");

    // An override needs a reason, and the journal keeps who gave it and why.
    let o = a.cli(&["rollout", "override-freeze", "shop"]);
    assert_eq!(o.status.code(), Some(2), "the reason is required");
    let (s, v) = request(
        &c,
        Method::POST,
        "/api/v1/services/shop/rollout/override-freeze?reason=fixes%20the%20errors",
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    wait_rollout(&c, "shop", "the rollout under way", |r| r["currentRevision"].is_string()).await;
    let (_, ev) = request(&c, Method::GET, "/api/v1/events?limit=5000", None).await;
    let o = ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "rollout.freeze_overridden")
        .unwrap_or_else(|| panic!("no override event"));
    assert_eq!(
        (o["actor"].as_str(), o["data"]["reason"].as_str()),
        (Some("tester"), Some("fixes the errors"))
    );
    // The slo provider sees the budget burning (about 50× over 5 minutes): rolled back.
    let r = wait_rollout(&c, "shop", "the burn-rate analysis", |r| r["phase"] == "Degraded").await;
    assert!(r["message"].as_str().unwrap().contains("burn-rate"), "{r}");
    let m = &r["measurements"][0];
    assert_eq!(m["phase"], "Failed", "{r}");
    assert!(m["value"].as_str().unwrap().contains("burnRate:"), "{m}");
}
