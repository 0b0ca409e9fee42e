//! The metrics engine against real peers: Prometheus's `promtool` queries
//! andon's API; andon forwards by remote write to VictoriaMetrics and to
//! another andon, and both read the data back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Andon, free_port, program, stdout};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn promtool(args: &[&str]) -> (bool, String, String) {
    let bin = program("ANDON_TEST_PROMTOOL", "/usr/bin/promtool", "prometheus").unwrap();
    let o = Command::new(bin).args(args).output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> Option<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn promtool_queries_andon() {
    if program("ANDON_TEST_PROMTOOL", "/usr/bin/promtool", "prometheus").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let a = Andon::start_with(dir.path(), &["--scrape-interval", "1"]);
    let base = format!("{}/prometheus", a.url);
    let instant = wait_until("promtool to see up", 20, || {
        let (ok, out, _) = promtool(&["query", "instant", &base, "up{job=\"andon\"}"]);
        (ok && out.contains("=> 1 @[")).then_some(out)
    });
    let addr = a.url.trim_start_matches("http://");
    assert!(
        instant.starts_with(&format!("up{{instance=\"{addr}\", job=\"andon\"}} => 1 @[")),
        "{instant}"
    );

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (ok, out, err) = promtool(&[
        "query",
        "range",
        &format!("--start={}", now - 60),
        &format!("--end={}", now + 1),
        "--step=1s",
        &base,
        "sum(up)",
    ]);
    assert!(ok, "{err}");
    assert!(out.starts_with("{} =>\n1 @["), "{out}");

    let (ok, out, err) = promtool(&["query", "series", "--match=up", &base]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("{{__name__=\"up\", instance=\"{addr}\", job=\"andon\"}}")),
        "{out}"
    );
    let (ok, out, err) = promtool(&["query", "labels", &base, "job"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "andon");

    // A bad expression is reported by promtool with andon's message.
    let (ok, _, err) = promtool(&["query", "instant", &base, "sum(up"]);
    assert!(!ok);
    assert!(err.contains("unclosed left parenthesis"), "{err}");
}

#[test]
fn remote_write_reaches_victoria_metrics_and_another_andon() {
    let Some(vm) =
        program("ANDON_TEST_VICTORIA_METRICS", "/usr/bin/victoria-metrics", "victoria-metrics")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let vm_port = free_port();
    let _vm = Kill(
        Command::new(vm)
            .arg(format!("-storageDataPath={}", dir.path().join("vm").display()))
            .arg(format!("-httpListenAddr=127.0.0.1:{vm_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The receiving andon.
    let mut b = Andon::start_with(&dir.path().join("b"), &["--scrape-interval", "3600"]);
    let b_write = format!("{}/prometheus/api/v1/write", b.url);
    let vm_write = format!("http://127.0.0.1:{vm_port}/api/v1/write");
    let a = Andon::start_with(
        &dir.path().join("a"),
        &[
            "--scrape-interval",
            "1",
            "--remote-write-url",
            &vm_write,
            "--remote-write-url",
            &b_write,
        ],
    );
    let a_addr = a.url.trim_start_matches("http://").to_string();

    // VictoriaMetrics has andon's own series, with andon's labels and values.
    let export = wait_until("VictoriaMetrics to receive samples", 30, || {
        let o = Command::new("curl")
            .args([
                "-sg",
                &format!("http://127.0.0.1:{vm_port}/api/v1/export?match[]=up{{job=\"andon\"}}"),
            ])
            .output()
            .ok()?;
        let s = String::from_utf8_lossy(&o.stdout).into_owned();
        s.contains("\"values\":[1").then_some(s)
    });
    let line: serde_json::Value = serde_json::from_str(export.lines().next().unwrap()).unwrap();
    assert_eq!(line["metric"]["instance"], a_addr.as_str(), "{line}");
    assert!(line["values"].as_array().unwrap().iter().all(|v| v == 1), "{line}");

    // The other andon stored the forwarded series; they survive its kill -9.
    let query = |andon: &Andon| {
        let o = andon.cli(&[
            "promql",
            "query",
            &format!("count_over_time(up{{instance=\"{a_addr}\"}}[1h])"),
            "-o",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap_or_default();
        v["result"][0]["value"][1].as_str().and_then(|s| s.parse::<f64>().ok())
    };
    let before = wait_until("andon to receive remote writes", 30, || {
        query(&b).filter(|n| *n >= 2.0).map(|n| n.to_string())
    });
    let before: f64 = before.parse().unwrap();
    b.kill9();
    let b = Andon::start_with(&dir.path().join("b"), &["--scrape-interval", "3600"]);
    let after = query(&b).unwrap_or(0.0);
    assert!(
        after >= before,
        "remote-written samples lost across kill -9: {before} before, {after} after"
    );
    drop(a);
}
