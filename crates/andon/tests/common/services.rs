//! Helpers for tests of supervised services: the demo service's manifest, status
//! polling, and a bounded client load through the router.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use andon_cli::client::Client;
use hyper::Method;
use serde_json::Value;

use super::request;

pub fn demo(name: &str, replicas: u32, extra_env: &str) -> String {
    format!(
        "apiVersion: andon.dev/v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  command: [andon-demo]\n  env:\n  - {{name: VERSION, value: \"1.0.0\"}}\n{extra_env}  ports: [{{name: http, port: 0}}]\n  readinessProbe: {{httpGet: {{path: /health, port: http}}, periodSeconds: 1}}\n  livenessProbe: {{httpGet: {{path: /health, port: http}}, periodSeconds: 1}}\n  terminationGracePeriodSeconds: 5\n"
    )
}

pub async fn status(c: &Client, name: &str) -> Value {
    let (_, v) = request(c, Method::GET, &format!("/api/v1/services/{name}"), None).await;
    v["status"].clone()
}

pub async fn wait_for(c: &Client, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let s = status(c, name).await;
        if pred(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn all_ready(n: u64) -> impl Fn(&Value) -> bool {
    move |s: &Value| {
        s["readyReplicas"] == n
            && s["updatedReplicas"] == n
            && s["instances"].as_array().is_some_and(|i| i.len() as u64 == n)
    }
}

pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<Vec<String>>>,
}

/// Two clients sending GETs through the router until stopped (bounded to 60 s).
pub fn load(url: &str) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let tasks = (0..2)
        .map(|_| {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            let c = Client::new(url).unwrap();
            tokio::spawn(async move {
                let started = Instant::now();
                let mut errors = Vec::new();
                while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) {
                    match c.json(Method::GET, "/sum?a=1&b=2", None).await {
                        Ok(v) if v["sum"] == 3 => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(v) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            errors.push(v.to_string());
                        }
                        Err(e) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            errors.push(e.to_string());
                        }
                    }
                }
                errors
            })
        })
        .collect();
    Load { stop, ok, failed, tasks }
}

impl Load {
    pub async fn finish(self) -> (u64, u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let mut errors = Vec::new();
        for t in self.tasks {
            errors.extend(t.await.unwrap());
        }
        (self.ok.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed), errors)
    }
}

pub fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

/// The kinds of the journal's first `limit` events.
pub async fn event_kinds(c: &Client, limit: usize) -> Vec<String> {
    let (_, ev) = request(c, Method::GET, &format!("/api/v1/events?limit={limit}"), None).await;
    ev["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
}
