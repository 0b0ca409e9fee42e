//! `spec.autoscaling`: HPA v2 fields read, written back in the same shape, and bad
//! input reported with its location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use andon_spec::{Spec, parse_manifests};

const SERVICE: &str = "apiVersion: andon.dev/v1
kind: Service
metadata: {name: web}
spec:
  command: [andon-demo]
  resources: {requests: {cpu: 100m}}
  autoscaling:
    minReplicas: 2
    maxReplicas: 10
    metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
    - type: Pods
      pods:
        metric: {name: inflight, query: 'sum by (replica) (inflight)'}
        target: {type: AverageValue, averageValue: '20'}
    - type: External
      external:
        metric: {name: queue, query: 'queue_length'}
        target: {type: AverageValue, averageValue: 30}
    behavior:
      scaleDown:
        stabilizationWindowSeconds: 60
        policies: [{type: Pods, value: 1, periodSeconds: 30}]
        selectPolicy: Min
";

#[test]
fn autoscaling_reads_and_reads_back() {
    let ms = parse_manifests("in.yaml", SERVICE.as_bytes(), None).unwrap();
    let Spec::Service(s) = &ms[0].spec else { panic!("a service") };
    let a = s.autoscaling.as_ref().unwrap();
    assert_eq!((a.min_replicas, a.max_replicas, a.metrics.len()), (2, 10, 3));
    // The stored form reads back identically.
    let doc = serde_json::json!({"apiVersion": "andon.dev/v1", "kind": "Service", "metadata": {"name": "web"}, "spec": ms[0].spec_json()});
    let again = parse_manifests("stored", doc.to_string().as_bytes(), None).unwrap();
    assert_eq!(again[0].spec, ms[0].spec);
    assert_eq!(
        ms[0].spec_json()["autoscaling"]["metrics"][1]["pods"]["metric"]["query"],
        "sum by (replica) (inflight)"
    );
}

fn errors(yaml: &str) -> Vec<String> {
    parse_manifests("in.yaml", yaml.as_bytes(), None)
        .unwrap_err()
        .iter()
        .map(|d| format!("{}:{}: {}: {}", d.line, d.column, d.field, d.message))
        .collect()
}

#[test]
fn bad_autoscaling_is_reported_where_it_is() {
    let bad = SERVICE
        .replace("maxReplicas: 10", "maxReplicas: 1")
        .replace("averageUtilization: 50", "averageValue: x")
        .replace("type: Pods, value: 1", "type: Instances, value: 1")
        .replace("  resources: {requests: {cpu: 100m}}\n", "");
    let got = errors(&bad);
    assert_eq!(
        got,
        [
            "8:18: spec.autoscaling.maxReplicas: must be at least minReplicas (2), found 1",
            "11:71: spec.autoscaling.metrics[0].resource.target.averageValue: \"x\" is not a valid quantity: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (e.g. 128974848, 129e6, 129M, 123Mi, 500m)",
            "11:37: spec.autoscaling.metrics[0].resource.target: a Utilization target needs averageUtilization",
            "23:27: spec.autoscaling.behavior.scaleDown.policies[0].type: \"Instances\" is not one of: Pods, Percent",
        ],
        "{got:#?}"
    );
    let no_query = SERVICE.replace("name: queue, query: 'queue_length'", "name: queue");
    assert_eq!(
        errors(&no_query),
        [
            "19:17: spec.autoscaling.metrics[2].external.metric: needs a query: andon reads the metric with PromQL on its own engine"
        ]
    );
    let no_request = SERVICE.replace("  resources: {requests: {cpu: 100m}}\n", "");
    assert_eq!(
        errors(&no_request),
        ["7:5: spec.autoscaling: a cpu utilization target needs resources.requests.cpu"]
    );
}
