//! Malformed inputs, each with the exact diagnostics it must produce. Run with
//! `UPDATE_EXPECT=1` to print the actual output of every case instead of asserting.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use andon_spec::lint::{Input, load};

#[path = "data/malformed_cases.rs"]
mod malformed_cases;
use malformed_cases::cases;

fn diagnostics(bytes: &[u8]) -> String {
    let input = Input { name: "in.yaml".into(), bytes: bytes.to_vec() };
    match load(&[input], None) {
        Ok(ms) => format!("OK ({} manifests)", ms.len()),
        Err(ds) => ds.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"),
    }
}

#[test]
fn malformed_inputs_report_exact_diagnostics() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() >= 30);
    for (name, input, want) in &all {
        let got = diagnostics(input);
        if update {
            println!("== {name}\n{got}");
        } else if got != *want {
            failures.push(format!("{name}:\n  want: {want}\n  got:  {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn a_valid_service_reads_with_kubernetes_defaults() {
    let text = "apiVersion: andon.dev/v1\nkind: Service\nmetadata:\n  name: api\n  labels: {team: payments}\nspec:\n  replicas: 3\n  command: [andon-demo]\n  env: [{name: VERSION, value: \"1.0.0\"}]\n  ports: [{name: http, port: 8080}]\n  readinessProbe: {httpGet: {path: /health, port: http}, periodSeconds: 5}\n  livenessProbe: {httpGet: {port: http}}\n  resources: {limits: {memory: 256Mi, cpu: 500m}}\n";
    let ms =
        load(&[Input { name: "ok.yaml".into(), bytes: text.as_bytes().to_vec() }], None).unwrap();
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].metadata.namespace, "default");
    assert_eq!(
        ms[0].spec_json(),
        serde_json::json!({
            "replicas": 3,
            "command": ["andon-demo"],
            "args": [],
            "env": [{"name": "VERSION", "value": "1.0.0"}],
            "ports": [{"name": "http", "port": 8080}],
            "readinessProbe": {"httpGet": {"path": "/health", "port": "http", "scheme": "HTTP"},
                "initialDelaySeconds": 0, "periodSeconds": 5, "timeoutSeconds": 1,
                "successThreshold": 1, "failureThreshold": 3},
            "livenessProbe": {"httpGet": {"path": "/", "port": "http", "scheme": "HTTP"},
                "initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 1,
                "successThreshold": 1, "failureThreshold": 3},
            "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
            "terminationGracePeriodSeconds": 30
        })
    );
}
