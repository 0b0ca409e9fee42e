//! Black-box tests of the server and CLI: the real binary on an ephemeral port.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::collections::BTreeSet;

use common::*;
use hyper::Method;
use serde_json::Value;

#[path = "../../spec/tests/data/malformed_cases.rs"]
mod malformed_cases;

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn tables_give_each_kind_its_own_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Andon::start(&tmp.path().join("data"));
    // An Argo analysis template lists its metrics.
    let at = write(
        tmp.path(),
        "at.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: errors}\nspec:\n  metrics:\n  - name: error-ratio\n    successCondition: result[0] < 0.05\n    provider: {prometheus: {query: up}}\n  - name: p99\n    provider: {web: {url: 'http://127.0.0.1:1/'}}\n",
    );
    let o = a.cli(&["apply", "-f", &at]);
    assert_eq!(stdout(&o), "analysistemplate/errors created\n", "{}", stderr(&o));
    let out = stdout(&a.cli(&["get", "at"]));
    assert!(
        out.starts_with("NAME     METRICS           AGE\nerrors   error-ratio,p99   "),
        "{out}"
    );
    let ebp = write(
        tmp.path(),
        "ebp.yaml",
        "apiVersion: andon.dev/v1\nkind: ErrorBudgetPolicy\nmetadata: {name: freeze}\nspec: {slo: shop-availability, freezeRolloutsBelow: 10%}\n",
    );
    let o = a.cli(&["apply", "-f", &ebp]);
    assert_eq!(stdout(&o), "errorbudgetpolicy/freeze created\n", "{}", stderr(&o));
    let out = stdout(&a.cli(&["get", "ebp"]));
    assert!(
        out.starts_with("NAME     SLO                 FREEZE-BELOW   SERVICES              AGE\nfreeze   shop-availability   10%            (the SLO's service)   "),
        "{out}"
    );
}

#[tokio::test]
async fn apply_get_put_delete_round_trip_through_cli_and_api() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Andon::start(&tmp.path().join("data"));
    let file = write(tmp.path(), "svc.yaml", SERVICE);

    let o = a.cli(&["apply", "-f", &file]);
    assert_eq!(
        (o.status.code(), stdout(&o).as_str()),
        (Some(0), "service/api created\n"),
        "{}",
        stderr(&o)
    );
    let o = a.cli(&["apply", "-f", &file]);
    assert_eq!(stdout(&o), "service/api unchanged\n");
    let file = write(tmp.path(), "svc.yaml", &SERVICE.replace("replicas: 2", "replicas: 4"));
    let o = a.cli(&["apply", "-f", &file]);
    assert_eq!(stdout(&o), "service/api configured\n");

    let o = a.cli(&["get", "svc", "api", "-o", "json"]);
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["spec"]["replicas"], 4);
    assert_eq!(doc["metadata"]["generation"], 2);
    assert_eq!(doc["spec"]["terminationGracePeriodSeconds"], 30, "defaults are filled in");
    let rv = doc["metadata"]["resourceVersion"].as_str().unwrap().to_owned();

    let o = a.cli(&["get", "services"]);
    let out = stdout(&o);
    assert!(
        out.starts_with(
            "NAME   REPLICAS   PORTS    COMMAND      AGE\napi    4          <none>   andon-demo   "
        ),
        "{out}"
    );

    // Two clients update from the same resourceVersion: exactly one wins, the other gets 409.
    let c = a.client();
    let body = |n: i64| {
        SERVICE
            .replace("replicas: 2", &format!("replicas: {n}"))
            .replace("name: api\n", &format!("name: api\n  resourceVersion: \"{rv}\"\n"))
    };
    let (r1, r2) = tokio::join!(
        request(&c, Method::PUT, "/api/v1/services/api", Some(body(5).into_bytes())),
        request(&c, Method::PUT, "/api/v1/services/api", Some(body(6).into_bytes())),
    );
    let mut statuses = [r1.0, r2.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{r1:?} {r2:?}");
    let conflict = if r1.0 == 409 { &r1.1 } else { &r2.1 };
    assert_eq!(conflict["title"], "Conflict");
    assert!(
        conflict["detail"].as_str().unwrap().contains(&format!("based on resourceVersion {rv}")),
        "{conflict}"
    );

    // A PUT for a resource that does not exist is a 404, and names in the URL must match the body.
    let (s, p) =
        request(&c, Method::PUT, "/api/v1/services/other", Some(SERVICE.as_bytes().to_vec())).await;
    assert_eq!(
        (s, p["detail"].as_str().unwrap()),
        (400, "metadata.name in the body (\"api\") does not match the URL (\"other\")")
    );

    let o = a.cli(&["delete", "service", "api"]);
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "service \"api\" deleted\n"));
    let o = a.cli(&["get", "svc", "api"]);
    assert_eq!(
        (o.status.code(), stderr(&o).as_str()),
        (Some(1), "error: Not found (404): service default/api not found\n")
    );

    let o = a.cli(&["events", "-o", "json"]);
    // The runtime adds its own events (instances starting); this test is about resources.
    let events: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["kind"].as_str().unwrap().starts_with("resource."))
        .collect();
    let summary: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("resource.created", "tester"),
            ("resource.configured", "tester"),
            ("resource.configured", "tester"),
            ("resource.deleted", "tester")
        ]
    );
    assert!(events.windows(2).all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64()));
    assert!(events.iter().all(|e| e["subject"] == "Service/default/api"));
}

#[tokio::test]
async fn namespaces_are_part_of_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Andon::start(&tmp.path().join("data"));
    let file = write(tmp.path(), "svc.yaml", SERVICE);
    assert_eq!(stdout(&a.cli(&["apply", "-f", &file])), "service/api created\n");
    assert_eq!(stdout(&a.cli(&["apply", "-n", "team-a", "-f", &file])), "service/api created\n");
    let o = a.cli(&["get", "svc", "-A"]);
    let names: Vec<String> = stdout(&o)
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join("/"))
        .collect();
    assert_eq!(names, ["default/api", "team-a/api"]);
    let c = a.client();
    let (s, v) = request(&c, Method::GET, "/api/v1/namespaces/team-a/services/api", None).await;
    assert_eq!((s, v["metadata"]["namespace"].as_str()), (200, Some("team-a")));
    let (s, v) =
        request(&c, Method::GET, "/api/v1/namespaces/default/services?limit=1", None).await;
    assert_eq!(
        (s, v["items"].as_array().unwrap().len(), v["kind"].as_str()),
        (200, 1, Some("ServiceList"))
    );
    let (s, v) = request(&c, Method::GET, "/api/v1/services?limit=1", None).await;
    assert_eq!(v["metadata"]["continue"], "default/api", "{s} {v}");
    let (_, v) =
        request(&c, Method::GET, "/api/v1/services?limit=1&continue=default/api", None).await;
    assert_eq!(v["items"][0]["metadata"]["namespace"], "team-a");
    assert!(v["metadata"].get("continue").is_none());
    let (s, v) = request(&c, Method::GET, "/api/v1/widgets", None).await;
    assert_eq!(
        (s, v["detail"].as_str().unwrap()),
        (
            404,
            "unknown resource type \"widgets\"; known: services, environments, scrapeconfigs, prometheusrules, prometheusservicelevels, alertmanagerconfigs, analysistemplates, clusteranalysistemplates, errorbudgetpolicies, repositories"
        )
    );
    let (s, v) = request(&c, Method::GET, "/api/v1/services?limit=many", None).await;
    assert_eq!(s, 400, "{v}");
}

#[tokio::test]
async fn malformed_inputs_get_problem_documents_and_nothing_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Andon::start(&tmp.path().join("data"));
    let c = a.client();
    let mut checked = 0;
    for (name, input, want) in malformed_cases::cases() {
        let (status, problem) =
            request(&c, Method::POST, "/api/v1/apply", Some(input.clone())).await;
        if input.len() > 8 * 1024 * 1024 {
            assert_eq!(status, 413, "{name}");
            assert_eq!(
                problem["detail"],
                "the request body is larger than the limit of 8388608 bytes (8 MiB)"
            );
            checked += 1;
            continue;
        }
        assert!(matches!(status, 400 | 422), "{name}: {status}");
        let got: Vec<String> = problem["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {problem}"))
            .iter()
            .map(|e| {
                let field = e["field"].as_str().unwrap();
                let field = if field.is_empty() { String::new() } else { format!("{field}: ") };
                format!(
                    "request:{}:{}: {field}{}",
                    e["line"],
                    e["column"],
                    e["message"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(got.join("\n"), want.replace("in.yaml", "request"), "{name}");
        let syntax = want.contains("invalid YAML")
            || want.contains("UTF-8")
            || want.contains("nesting")
            || want.contains("expands")
            || want.contains("duplicate key")
            || want.contains("YAML tag");
        assert_eq!(status, if syntax { 400 } else { 422 }, "{name}");
        checked += 1;
    }
    assert!(checked >= 30);
    let (_, events) = request(&c, Method::GET, "/api/v1/events", None).await;
    assert_eq!(events["items"], serde_json::json!([]), "nothing was stored");
    let (_, list) = request(&c, Method::GET, "/api/v1/services", None).await;
    assert_eq!(list["items"], serde_json::json!([]));
}

#[tokio::test]
async fn cli_exit_codes_follow_the_convention() {
    let tmp = tempfile::tempdir().unwrap();
    let good = write(tmp.path(), "good.yaml", SERVICE);
    let bad = write(
        tmp.path(),
        "bad.yaml",
        &SERVICE.replace("replicas: 2", "replicas: -2\n  replica: 1"),
    );
    let nowhere = "http://127.0.0.1:9";

    let o = cli_with_stdin(nowhere, &["lint", &good], None);
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "ok: 1 resources in 1 files\n"));
    let o = cli_with_stdin(nowhere, &["lint", &bad, &good], None);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stdout(&o),
        format!(
            "{bad}:7:3: spec.replica: unknown field \"replica\" (did you mean \"replicas\"?)\n{bad}:6:13: spec.replicas: must be greater than or equal to 0, found -2\n"
        )
    );
    // A bad file is refused before any request is made: exit 2 even with no server.
    let o = cli_with_stdin(nowhere, &["apply", "-f", &bad], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).ends_with("2 problems found; nothing was applied\n"), "{}", stderr(&o));
    let o = cli_with_stdin(nowhere, &["apply", "-f", &good], None);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("error: cannot reach the andon server at http://127.0.0.1:9"),
        "{}",
        stderr(&o)
    );
    let o = cli_with_stdin(nowhere, &["get", "pods"], None);
    assert_eq!(
        (o.status.code(), stderr(&o).as_str()),
        (
            Some(2),
            "error: Invalid input (400): unknown resource type \"pods\"; known: service (svc), environment (env), scrapeconfig (scfg), prometheusrule (rules, promrule), prometheusservicelevel (slo, slos), alertmanagerconfig (amconfig), analysistemplate (at), clusteranalysistemplate (cat), errorbudgetpolicy (ebp), repository (repo)\n"
        )
    );
    let o = cli_with_stdin(nowhere, &["frobnicate"], None);
    assert_eq!(o.status.code(), Some(2));
    let o = cli_with_stdin(nowhere, &["lint", "/does/not/exist.yaml"], None);
    assert_eq!(
        (o.status.code(), stdout(&o).as_str()),
        (
            Some(2),
            "/does/not/exist.yaml:1:1: cannot read: No such file or directory (os error 2)\n"
        )
    );
    let o = cli_with_stdin(nowhere, &["completions", "bash"], None);
    assert!(o.status.success() && stdout(&o).contains("_andon()"));
    // Input from standard input.
    let o = cli_with_stdin(nowhere, &["lint", "-"], Some(b"kind: Service\n"));
    assert_eq!(
        stdout(&o),
        "-:1:1: apiVersion: required field is missing\n-:1:1: metadata: required field is missing\n-:1:1: spec: required field is missing\n"
    );
}

#[tokio::test]
async fn kill_9_during_applies_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut a = Andon::start(&data);
    let c = a.client();
    let acked = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let mut writers = Vec::new();
    for w in 0..6 {
        let c = c.clone();
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("env-{w}-{i}");
                let body = format!(
                    "apiVersion: andon.dev/v1\nkind: Environment\nmetadata: {{name: {name}}}\n"
                );
                match c
                    .json(
                        Method::POST,
                        "/api/v1/apply",
                        Some(("application/yaml", body.into_bytes())),
                    )
                    .await
                {
                    Ok(_) => {
                        acked.lock().unwrap().insert(name);
                    }
                    Err(_) => break,
                }
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    a.kill9();
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 20, "the load ran: {} applies acknowledged", acked.len());
    eprintln!("{} applies acknowledged before kill -9", acked.len());

    let b = Andon::start(&data);
    let c = b.client();
    let mut stored = BTreeSet::new();
    let mut path = "/api/v1/environments?limit=1000".to_owned();
    loop {
        let (_, page) = request(&c, Method::GET, &path, None).await;
        stored.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned()),
        );
        match page["metadata"]["continue"].as_str() {
            Some(cur) => path = format!("/api/v1/environments?limit=1000&continue={cur}"),
            None => break,
        }
    }
    let missing: Vec<_> = acked.difference(&stored).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    // The journal has no gap: seq runs 1..=n, one created event per stored service.
    let mut seqs = Vec::new();
    let mut after = 0;
    loop {
        let (_, page) =
            request(&c, Method::GET, &format!("/api/v1/events?after={after}&limit=10000"), None)
                .await;
        let items = page["items"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        seqs.extend(items.iter().map(|e| e["seq"].as_u64().unwrap()));
        after = page["last"].as_u64().unwrap();
    }
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(seqs.len(), stored.len());
}

#[tokio::test]
async fn sigterm_drains_followers_and_exits_zero_and_the_data_dir_is_exclusive() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut a = Andon::start_with(&data, &["--shutdown-grace", "5"]);
    let second = std::process::Command::new(BIN)
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    let msg = stderr(&second);
    assert!(
        msg.contains(&format!(
            "error: data dir {} is in use by another andon server (pid {})",
            data.display(),
            a.child.id()
        )),
        "{msg}"
    );

    // A follower is connected when SIGTERM arrives; the server ends its stream and exits.
    let c = a.client();
    let resp = c.send(Method::GET, "/api/v1/events?follow=true", None).await.unwrap();
    assert_eq!(resp.status(), 200);
    let follower = tokio::spawn(andon_cli::client::read_sse(resp, |_| true));
    let started = std::time::Instant::now();
    let status = a.terminate();
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "stopped before the grace period ran out"
    );
    follower.await.unwrap().unwrap();
    let logs: Vec<String> = a.logs.try_iter().collect();
    assert!(logs.iter().any(|l| l.contains("shutting down")), "{logs:?}");
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Andon::start(&tmp.path().join("data"));
    let c = a.client();
    assert_eq!(
        request(&c, Method::GET, "/healthz", None).await,
        (200, Value::String("ok\n".into()))
    );
    assert_eq!(
        request(&c, Method::GET, "/readyz", None).await,
        (200, Value::String("ready\n".into()))
    );
    // An Environment: nothing runs, so the journal holds exactly the apply's event.
    let file = write(
        tmp.path(),
        "env.yaml",
        "apiVersion: andon.dev/v1\nkind: Environment\nmetadata: {name: staging}\n",
    );
    a.cli(&["apply", "-f", &file]);
    let (_, m) = request(&c, Method::GET, "/metrics", None).await;
    let m = m.as_str().unwrap();
    for want in [
        "andon_build_info{version=\"0.1.0\"} 1",
        "andon_http_requests_total{method=\"POST\",route=\"/api/v1/apply\",code=\"200\"} 1",
        "andon_http_request_duration_seconds_count{route=\"/api/v1/apply\"} 1",
        "andon_journal_events_appended_total 1",
        "andon_journal_commit_duration_seconds_count 1",
        "andon_journal_last_sequence 1",
    ] {
        assert!(m.lines().any(|l| l == want), "missing {want:?} in\n{m}");
    }
    let (s, p) = request(&c, Method::GET, "/nope", None).await;
    assert_eq!((s, p["detail"].as_str().unwrap()), (404, "no route for GET /nope"));
    // UI pages answer errors as pages.
    use http_body_util::BodyExt;
    let resp = c.send(Method::GET, "/ui/services/default/nope", None).await.unwrap();
    assert_eq!(resp.status(), 404);
    let html =
        String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(html.contains("<h1>Not found</h1><p>service default/nope not found</p>"), "{html}");
}

#[test]
fn every_example_lints() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let o = cli_with_stdin("http://127.0.0.1:9", &["lint", examples], None);
    assert_eq!(
        (o.status.code(), stdout(&o).as_str()),
        (Some(0), "ok: 7 resources in 5 files\n"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test]
async fn up_runs_the_quickstart_as_the_readme_says() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/quickstart");
    let o = cli_with_stdin("http://127.0.0.1:9", &["lint", examples], None);
    assert_eq!(
        (o.status.code(), stdout(&o).as_str()),
        (Some(0), "ok: 4 resources in 3 files\n"),
        "{}",
        stderr(&o)
    );
    // A copy with an ephemeral service port, so tests never collide on 8080.
    let dir = tmp.path().join("quickstart");
    std::fs::create_dir(&dir).unwrap();
    for f in ["demo.yaml", "analysis.yaml", "environments.yaml"] {
        let text = std::fs::read_to_string(format!("{examples}/{f}"))
            .unwrap()
            .replace("port: 8080", "port: 0");
        std::fs::write(dir.join(f), text).unwrap();
    }
    let mut child = std::process::Command::new(BIN)
        .args(["up", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("ANDON_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = Vec::new();
    let ui = loop {
        let line = lines.next().expect("andon up printed the UI address").unwrap();
        if let Some(rest) = line.strip_prefix("UI: ") {
            break rest.split_whitespace().next().unwrap().trim_end_matches('/').to_owned();
        }
        out.push(line);
    };
    let table = out.join("\n");
    assert!(table.contains("service/demo created"), "{table}");
    let row = out.iter().find(|l| l.starts_with("demo ")).unwrap_or_else(|| panic!("{table}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[1], "3/3", "{table}");
    let demo = andon_cli::client::Client::new(cols[2]).unwrap();
    assert_eq!(demo.get_json("/sum?a=2&b=3").await.unwrap()["sum"], 5);
    assert_eq!(demo.get_json("/version").await.unwrap()["version"], "1.0.0");
    assert!(dir.join(".andon/andon.db").exists(), "state lives in DIR/.andon");
    let c = andon_cli::client::Client::new(&ui).unwrap();
    let (status, page) = request(&c, Method::GET, "/", None).await;
    assert_eq!(status, 200);
    assert!(page.as_str().unwrap().contains("<title>Overview · andon</title>"));
    // The live event log follows on stdout.
    let next = lines.next().unwrap().unwrap();
    assert!(
        next.is_empty() || next.contains("resource.created") || next.contains("rollout."),
        "{next}"
    );
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while demo.get_json("/health").await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "services stop with andon up");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
