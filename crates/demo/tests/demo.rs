//! andon-demo as a user runs it: endpoints, errors, metrics, failure knobs, graceful stop.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Demo(Child, u16);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(env: &[(&str, &str)]) -> Demo {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_andon-demo"))
        .env("PORT", port.to_string())
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "andon-demo did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    Demo(child, port)
}

/// One HTTP/1.1 GET; returns (status, body).
fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[test]
fn endpoints_answer_as_documented() {
    let d = start(&[("VERSION", "1.2.3")]);
    assert_eq!(get(d.1, "/health"), (200, r#"{"status":"ok"}"#.into()));
    assert_eq!(get(d.1, "/sum?a=2&b=3"), (200, r#"{"sum":5}"#.into()));
    assert_eq!(get(d.1, "/sum?a=1.5&b=1"), (200, r#"{"sum":2.5}"#.into()));
    assert_eq!(
        get(d.1, "/sum?a=2"),
        (400, r#"{"error":"parameter b is missing","parameter":"b"}"#.into())
    );
    assert_eq!(
        get(d.1, "/sum?a=x&b=1"),
        (400, r#"{"error":"parameter a is not a number: \"x\"","parameter":"a"}"#.into())
    );
    assert_eq!(get(d.1, "/version"), (200, r#"{"version":"1.2.3"}"#.into()));
    let (status, metrics) = get(d.1, "/metrics");
    assert_eq!(status, 200);
    for want in [
        "http_requests_total{method=\"GET\",path=\"/sum\",code=\"200\"} 2",
        "http_requests_total{method=\"GET\",path=\"/sum\",code=\"400\"} 2",
        "http_request_duration_seconds_count{method=\"GET\",path=\"/sum\"} 4",
        "build_info{version=\"1.2.3\",service=\"andon-demo\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == want), "{want} missing:\n{metrics}");
    }
    assert!(metrics.contains("process_resident_memory_bytes "));
    assert!(metrics.contains("process_cpu_seconds_total "));
}

#[test]
fn failure_knobs_misbehave_on_purpose() {
    let d = start(&[("ERROR_RATE", "1"), ("FAIL_HEALTH_AFTER_S", "0")]);
    assert_eq!(get(d.1, "/sum?a=1&b=1").0, 500);
    assert_eq!(get(d.1, "/version").0, 500);
    assert_eq!(get(d.1, "/health"), (500, r#"{"status":"failing"}"#.into()));
    let slow = start(&[("EXTRA_LATENCY_MS", "300")]);
    let t = Instant::now();
    assert_eq!(get(slow.1, "/version").0, 200);
    assert!(t.elapsed() >= Duration::from_millis(300), "the extra latency was added");
    let mut crash = start(&[("CRASH_AFTER_S", "0.3")]);
    let status = crash.0.wait().unwrap();
    assert_eq!(status.code(), Some(1));
}

#[test]
fn sigterm_finishes_the_request_in_flight() {
    let d = start(&[("EXTRA_LATENCY_MS", "500")]);
    let port = d.1;
    let inflight = std::thread::spawn(move || get(port, "/version"));
    std::thread::sleep(Duration::from_millis(150));
    Command::new("kill").args(["-TERM", &d.0.id().to_string()]).status().unwrap();
    assert_eq!(inflight.join().unwrap().0, 200, "the request in flight was answered");
    let mut d = d;
    assert_eq!(d.0.wait().unwrap().code(), Some(0));
    let mut err = String::new();
    d.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("SIGTERM received, draining"), "{err}");
}
