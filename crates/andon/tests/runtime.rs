//! The local runtime through the real binary: andon-demo replicas supervised and routed,
//! failures rehearsed under load, and nothing left behind when andon is killed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::time::{Duration, Instant};

use andon_cli::client::Client;
use common::services::*;
use common::*;
use hyper::Method;
use serde_json::Value;

#[tokio::test]
async fn instances_are_routed_and_a_killed_instance_costs_no_request() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Andon::start(&tmp.path().join("data"));
    let c = a.client();
    let (s, _) =
        request(&c, Method::POST, "/api/v1/apply", Some(demo("web", 3, "").into_bytes())).await;
    assert_eq!(s, 200);
    let st = wait_for(&c, "web", "3 ready replicas", all_ready(3)).await;
    let url = st["url"].as_str().unwrap().to_owned();
    assert_eq!(st["observedGeneration"], 1);
    assert_eq!(st["conditions"][0]["type"], "Available");
    assert_eq!(st["conditions"][0]["status"], "True");

    // h2c (HTTP/2 with prior knowledge) is served too.
    let h2 = std::process::Command::new("curl")
        .args([
            "-sS",
            "--http2-prior-knowledge",
            "-w",
            " %{http_version}",
            &format!("{url}/version"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&h2.stdout),
        "{\"version\":\"1.0.0\"} 2",
        "{}",
        String::from_utf8_lossy(&h2.stderr)
    );

    // HTTP/1.1 in every framing: a chunked request body (streamed through hyper), a
    // small body, HTTP/1.0 without keep-alive, and pipelined requests on one connection.
    let curl = |args: &[&str]| {
        let o = std::process::Command::new("curl").args(["-sS"]).args(args).output().unwrap();
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    for args in [
        vec!["-H", "Transfer-Encoding: chunked", "--data-binary", "a=1"],
        vec!["--data-binary", "a=1"],
        vec!["--http1.0"],
    ] {
        let mut all = args.clone();
        let sum = format!("{url}/sum?a=2&b=3");
        all.extend(["-w", " %{http_code}", sum.as_str()]);
        let (out, err) = curl(&all);
        assert!(out.ends_with(" 200") || out.ends_with(" 405"), "{args:?}: {out} {err}");
    }
    let addr = url.trim_start_matches("http://").to_owned();
    let pipelined = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(b"GET /sum?a=1&b=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /sum?a=2&b=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    assert_eq!(pipelined.matches("HTTP/1.1 200 OK").count(), 2, "{pipelined}");
    assert!(pipelined.contains("{\"sum\":2}") && pipelined.contains("{\"sum\":4}"), "{pipelined}");

    let l = load(&url);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let victim = st["instances"][1]["pid"].as_u64().unwrap();
    std::process::Command::new("kill").args(["-9", &victim.to_string()]).status().unwrap();
    let st = wait_for(&c, "web", "the killed instance to come back", |s| {
        all_ready(3)(s) && s["restarts"] == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (ok, failed, errors) = l.finish().await;
    assert_eq!(failed, 0, "failed requests: {errors:?}");
    assert!(ok > 100, "the load ran: {ok} requests");
    let inst = &st["instances"][1];
    assert_eq!(inst["lastTermination"]["reason"], "Killed");
    assert_eq!(inst["lastTermination"]["signal"], 9);

    // The journal tells the story; the router's metrics count the traffic.
    let kinds = event_kinds(&c, 1000).await;
    for k in [
        "instance.started",
        "instance.ready",
        "instance.unready",
        "instance.exited",
        "instance.restarted",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    let (_, m) = request(&c, Method::GET, "/metrics", None).await;
    let revision = st["revision"].as_str().unwrap();
    let line = format!(
        "andon_router_requests_total{{service=\"default/web\",revision=\"{revision}\",instance=\"0\",code=\"200\"}}"
    );
    assert!(m.as_str().unwrap().contains(&line), "{line} missing");
    // Bad log queries are refused with a problem document.
    let (s, p) = request(&c, Method::GET, "/api/v1/services/web/logs?since=soon", None).await;
    assert_eq!(
        (s, p["detail"].as_str().unwrap()),
        (400, "since: \"soon\" is not a duration such as 30s, 5m or 1h")
    );
    let (s, p) = request(&c, Method::GET, "/api/v1/environments/web/logs", None).await;
    assert_eq!((s, p["detail"].as_str().unwrap()), (404, "environments have no logs; services do"));
    let (s, p) = request(&c, Method::GET, "/api/v1/namespaces/other/services/web/logs", None).await;
    assert_eq!((s, p["detail"].as_str().unwrap()), (404, "service other/web not found"));
    let o = a.cli(&["logs", "web", "--instance", "1"]);
    assert!(
        stdout(&o).lines().any(|l| l.starts_with("[1] andon-demo 1.0.0 listening on 127.0.0.1:")),
        "{}",
        stdout(&o)
    );
}

#[tokio::test]
async fn a_rolling_replacement_costs_no_request() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Andon::start(&tmp.path().join("data"));
    let c = a.client();
    request(&c, Method::POST, "/api/v1/apply", Some(demo("web", 3, "").into_bytes())).await;
    let st = wait_for(&c, "web", "3 ready replicas", all_ready(3)).await;
    let url = st["url"].as_str().unwrap().to_owned();
    let old_revision = st["revision"].as_str().unwrap().to_owned();
    let l = load(&url);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let o = a.cli(&["set", "env", "web", "VERSION=2.0.0", "EXTRA=1"]);
    assert_eq!(stdout(&o), "service/web env updated\n", "{}", stderr(&o));
    let st = wait_for(&c, "web", "the new revision everywhere", |s| {
        all_ready(3)(s) && s["revision"] != old_revision.as_str()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (ok, failed, errors) = l.finish().await;
    assert_eq!(failed, 0, "failed requests during the rollout: {errors:?}");
    assert!(ok > 100);
    let version = Client::new(&url).unwrap().get_json("/version").await.unwrap();
    assert_eq!(version["version"], "2.0.0");
    assert!(st["instances"].as_array().unwrap().iter().all(|i| i["revision"] == st["revision"]));
    // The rollout's completion is journaled right after the last instance is ready.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let kinds = loop {
        let kinds = event_kinds(&c, 1000).await;
        if kinds.iter().any(|k| k == "rollout.completed") || std::time::Instant::now() > deadline {
            break kinds;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        kinds.iter().any(|k| k == "rollout.started")
            && kinds.iter().any(|k| k == "rollout.completed"),
        "{kinds:?}"
    );
    // Scaling down keeps the oldest instances.
    let o = a.cli(&["get", "svc", "web", "-o", "json"]);
    let mut doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    doc["spec"]["replicas"] = 1.into();
    request(&c, Method::PUT, "/api/v1/services/web", Some(doc.to_string().into_bytes())).await;
    wait_for(&c, "web", "one replica", all_ready(1)).await;
}

#[tokio::test]
async fn killing_andon_leaves_no_process_and_a_restart_comes_back() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut a = Andon::start(&data);
    let c = a.client();
    request(&c, Method::POST, "/api/v1/apply", Some(demo("web", 2, "").into_bytes())).await;
    let st = wait_for(&c, "web", "2 ready replicas", all_ready(2)).await;
    let pids: Vec<u64> =
        st["instances"].as_array().unwrap().iter().map(|i| i["pid"].as_u64().unwrap()).collect();
    assert!(pids.iter().all(|p| alive(*p)));
    a.kill9();
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|p| alive(*p)) {
        assert!(Instant::now() < deadline, "instances outlived andon: {pids:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let b = Andon::start(&data);
    let c = b.client();
    let st = wait_for(&c, "web", "2 ready replicas after the restart", all_ready(2)).await;
    let new: Vec<u64> =
        st["instances"].as_array().unwrap().iter().map(|i| i["pid"].as_u64().unwrap()).collect();
    assert!(new.iter().all(|p| !pids.contains(p)));
    let url = st["url"].as_str().unwrap();
    assert_eq!(Client::new(url).unwrap().get_json("/sum?a=2&b=40").await.unwrap()["sum"], 42);
}

#[tokio::test]
async fn broken_services_get_a_clear_status_and_andon_stays_healthy() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Andon::start(&tmp.path().join("data"));
    let c = a.client();
    let missing = "apiVersion: andon.dev/v1\nkind: Service\nmetadata: {name: missing}\nspec: {command: [no-such-program-anywhere]}\n";
    let crashing = "apiVersion: andon.dev/v1\nkind: Service\nmetadata: {name: crashing}\nspec: {command: [sh, -c, 'echo about to fail; exit 3']}\n";
    let unready = demo("unready", 1, "  - {name: FAIL_HEALTH_AFTER_S, value: \"0\"}\n")
        .replace("  livenessProbe: {httpGet: {path: /health, port: http}, periodSeconds: 1}\n", "");
    for body in [missing.to_owned(), crashing.to_owned(), unready] {
        let (s, v) = request(&c, Method::POST, "/api/v1/apply", Some(body.into_bytes())).await;
        assert_eq!(s, 200, "{v}");
    }
    let st = wait_for(&c, "missing", "a start error", |s| {
        s["instances"][0]["lastTermination"]["reason"] == "StartError"
    })
    .await;
    let msg = st["instances"][0]["lastTermination"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("cannot start \"no-such-program-anywhere\": No such file or directory"),
        "{msg}"
    );
    assert!(
        st["conditions"].as_array().unwrap().iter().any(|c| c["type"] == "CrashLoopBackOff"),
        "{st}"
    );

    let st = wait_for(&c, "crashing", "an exit with code 3", |s| {
        s["instances"][0]["lastTermination"]["exitCode"] == 3
    })
    .await;
    assert_eq!(st["instances"][0]["lastTermination"]["reason"], "Error");
    // Back-off, not a busy loop: the first restart is immediate, the next waits 10 s.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let st = status(&c, "crashing").await;
    assert!(st["restarts"].as_u64().unwrap() <= 2, "restarts: {}", st["restarts"]);
    assert_eq!(st["instances"][0]["phase"], "BackOff");
    let o = a.cli(&["logs", "crashing"]);
    assert!(stdout(&o).contains("[0] about to fail"), "{}", stdout(&o));

    let st = wait_for(&c, "unready", "a running, never ready instance", |s| {
        s["instances"][0]["phase"] == "Running"
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let st2 = status(&c, "unready").await;
    assert_eq!(st2["readyReplicas"], 0, "{st} {st2}");
    assert_eq!(st2["conditions"][0]["status"], "False");
    let url = st2["url"].as_str().unwrap();
    let resp = Client::new(url).unwrap().send(Method::GET, "/version", None).await.unwrap();
    assert_eq!(resp.status(), 503, "no ready instance: the router answers 503");

    assert_eq!(request(&c, Method::GET, "/readyz", None).await.0, 200);
    // Deleting a service stops its instances.
    let pid = st2["instances"][0]["pid"].as_u64().unwrap();
    let o = a.cli(&["delete", "service", "unready"]);
    assert!(o.status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(Instant::now() < deadline, "the deleted service's process still runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn pids_running(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(needle))
                && alive(u64::from(*pid))
        })
        .collect()
}

#[tokio::test]
async fn a_services_own_children_die_with_andon_too() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = Andon::start(&tmp.path().join("data"));
    let c = a.client();
    // The shell leaves a child behind in the instance's process group, then becomes another sleep.
    let marker = format!("{}", 4000 + std::process::id() % 1000);
    let body = format!(
        "apiVersion: andon.dev/v1\nkind: Service\nmetadata: {{name: family}}\nspec: {{command: [sh, -c, 'sleep {marker}1 & exec sleep {marker}2']}}\n"
    );
    request(&c, Method::POST, "/api/v1/apply", Some(body.into_bytes())).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids_running(&format!("sleep {marker}1")).is_empty()
        || pids_running(&format!("sleep {marker}2")).is_empty()
    {
        assert!(Instant::now() < deadline, "the service did not start its processes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.kill9();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left =
            [pids_running(&format!("sleep {marker}1")), pids_running(&format!("sleep {marker}2"))]
                .concat();
        if left.is_empty() {
            break;
        }
        let states: Vec<String> = left
            .iter()
            .map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default())
            .collect();
        assert!(Instant::now() < deadline, "processes outlived andon: {states:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_taken_port_is_reported_not_waited_for() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Andon::start(&tmp.path().join("data"));
    let c = a.client();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let body = demo("web", 1, "").replace("port: 0", &format!("port: {port}"));
    request(&c, Method::POST, "/api/v1/apply", Some(body.into_bytes())).await;
    let st = wait_for(&c, "web", "the Routed condition", |s| {
        s["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == "Routed"))
    })
    .await;
    let cond = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Routed")
        .unwrap()
        .clone();
    assert_eq!(cond["status"], "False");
    assert_eq!(cond["reason"], "ListenFailed");
    assert!(
        cond["message"].as_str().unwrap().starts_with(&format!("cannot serve 127.0.0.1:{port}: ")),
        "{cond}"
    );
    assert!(st["url"].is_null());
    // The instances run all the same; freeing the port and re-applying serves it.
    wait_for(&c, "web", "a ready instance", |s| s["readyReplicas"] == 1).await;
    drop(taken);
    let body = demo("web", 1, "")
        .replace("port: 0", &format!("port: {port}"))
        .replace("replicas: 1", "replicas: 2");
    request(&c, Method::POST, "/api/v1/apply", Some(body.into_bytes())).await;
    let st = wait_for(&c, "web", "an address", |s| !s["url"].is_null()).await;
    assert_eq!(st["url"], format!("http://127.0.0.1:{port}"));
    assert!(!st["conditions"].as_array().unwrap().iter().any(|c| c["type"] == "Routed"));
}

/// CPU time (user + system, in clock ticks) a process has used.
fn cpu_ticks(pid: u64) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    // After the command: state is field 3, utime 14 and stime 15 (1-based, whole line).
    let n = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    n(14) + n(15)
}

#[tokio::test]
async fn a_cpu_limit_holds_a_busy_service_to_its_share() {
    if andon_supervisor::process::cpu_group(100).is_none() {
        eprintln!(
            "skipped: no writable cgroup (v2 cpu controller or v1 cpu hierarchy) on this machine"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let a = Andon::start(&tmp.path().join("data"));
    let c = a.client();
    let spin = "apiVersion: andon.dev/v1\nkind: Service\nmetadata: {name: spin}\nspec:\n  command: [sh, -c, 'while :; do :; done']\n  resources: {limits: {cpu: 200m}}\n";
    request(&c, Method::POST, "/api/v1/apply", Some(spin.as_bytes().to_vec())).await;
    let st = wait_for(&c, "spin", "a running instance", |s| {
        s["instances"].as_array().is_some_and(|i| i.len() == 1 && i[0]["pid"].as_u64().is_some())
    })
    .await;
    let pid = st["instances"][0]["pid"].as_u64().unwrap();
    let ticks_per_s = 100.0; // USER_HZ
    let before = cpu_ticks(pid);
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = (cpu_ticks(pid) - before) as f64 / ticks_per_s / t.elapsed().as_secs_f64();
    eprintln!("busy loop under a 200m limit: {used:.2} of a core");
    assert!(used < 0.35, "the busy loop used {used:.2} of a core with a 0.2 limit");
    assert!(used > 0.01, "the busy loop ran at all ({used:.2} of a core)");
}
