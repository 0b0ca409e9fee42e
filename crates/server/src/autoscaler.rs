//! The autoscaler's shell: every interval (15 s by default, Kubernetes' sync period)
//! each Service with `spec.autoscaling` gets its metrics measured — CPU and memory of
//! its instances from `/proc`, Pods/Object/External metrics with PromQL on andon's
//! engine — the HPA's calculation and behaviour decide (`delivery::autoscale`), and a
//! change of count is written to the Service's `spec.replicas` (actor `autoscaler`),
//! like the HPA writing the scale subresource; the rollout controller follows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_core::{NewEvent, ObjectRef, Timestamp};
use andon_delivery::autoscale::{
    self, Autoscaler, Behavior, InstanceSample, InstanceState, Metric, MetricProposal,
    ObjectTarget, Policy, PolicyKind, ResourceTarget, Rules, ScaleContext, SelectPolicy,
};
use andon_spec::autoscaling::{Autoscaling, MetricTarget, ScaleBehavior, ScaleMetric, ScaleRules};
use andon_spec::service::ServiceSpec;
use andon_supervisor::ServiceStatus;
use serde_json::json;

/// How long one metric's PromQL query may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// `/proc` reports CPU time in these ticks per second (USER_HZ, fixed on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// The autoscaler of one Service and the CPU times it saw last.
#[derive(Default)]
struct Scaler {
    core: Autoscaler,
    /// pid → (CPU ticks, when).
    cpu: HashMap<u32, (u64, i64)>,
    last_scale: Option<Timestamp>,
}

/// Every Service's autoscaler, and the status each reports.
#[derive(Clone, Default)]
pub(crate) struct Autoscalers {
    status: Arc<Mutex<HashMap<ObjectRef, serde_json::Value>>>,
}

impl Autoscalers {
    pub(crate) fn status(&self, key: &ObjectRef) -> Option<serde_json::Value> {
        self.status.lock().ok()?.get(key).cloned()
    }
}

fn rules(given: Option<&ScaleRules>, default: Rules) -> Rules {
    let Some(r) = given else { return default };
    Rules {
        stabilization_window_seconds: r
            .stabilization_window_seconds
            .map(|s| u32::try_from(s).unwrap_or(0))
            .or(default.stabilization_window_seconds),
        select_policy: match r.select_policy.as_deref() {
            Some("Min") => SelectPolicy::Min,
            Some("Disabled") => SelectPolicy::Disabled,
            _ => SelectPolicy::Max,
        },
        policies: match &r.policies {
            Some(ps) => ps
                .iter()
                .map(|p| Policy {
                    kind: if p.kind == "Pods" { PolicyKind::Pods } else { PolicyKind::Percent },
                    value: u32::try_from(p.value).unwrap_or(0),
                    period_seconds: u32::try_from(p.period_seconds).unwrap_or(15),
                })
                .collect(),
            None => default.policies,
        },
    }
}

/// The spec's behavior with Kubernetes' defaults for whatever it leaves out.
pub(crate) fn behavior(b: Option<&ScaleBehavior>) -> Behavior {
    Behavior {
        scale_up: rules(b.and_then(|b| b.scale_up.as_ref()), Rules::scale_up_default()),
        scale_down: rules(b.and_then(|b| b.scale_down.as_ref()), Rules::scale_down_default()),
    }
}

/// CPU ticks (user + system) of a process.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Resident memory of a process, in bytes.
fn rss_bytes(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

fn state_of(i: &andon_supervisor::service::InstanceStatus) -> InstanceState {
    match (i.phase, i.pid, i.ready) {
        ("Terminating", _, _) => InstanceState::Terminating,
        (_, None, _) => InstanceState::Pending,
        (_, Some(_), true) => InstanceState::Ready,
        (_, Some(_), false) => InstanceState::Unready,
    }
}

fn quantity(q: Option<&andon_spec::quantity::Quantity>) -> f64 {
    q.map_or(0.0, |q| q.milli_value() as f64 / 1000.0)
}

/// What one round measured and decided, for status.
struct Round {
    metrics: Vec<serde_json::Value>,
    result: Result<(u32, usize), String>,
}

impl Scaler {
    /// The instances' CPU usage in cores since the last round (`None` on the first).
    fn cpu_samples(&mut self, st: &ServiceStatus, request: f64, now: i64) -> Vec<InstanceSample> {
        let mut seen = HashMap::new();
        let samples = st
            .instances
            .iter()
            .map(|i| {
                let value = i.pid.and_then(|pid| {
                    let ticks = cpu_ticks(pid)?;
                    seen.insert(pid, (ticks, now));
                    let (t0, at) = self.cpu.get(&pid).copied()?;
                    let secs = (now - at) as f64 / 1000.0;
                    (secs > 0.0).then(|| ticks.saturating_sub(t0) as f64 / TICKS_PER_SECOND / secs)
                });
                InstanceSample {
                    state: state_of(i),
                    value,
                    request: (request > 0.0).then_some(request),
                }
            })
            .collect();
        self.cpu = seen;
        samples
    }
}

/// A PromQL query's samples, each with its `replica` label (the instance id andon's
/// scrapes attach), evaluated off the async workers.
async fn query(
    engine: &Arc<andon_metrics::Engine>,
    q: &str,
) -> Result<Vec<(Option<String>, f64)>, String> {
    let text = q.to_owned();
    let t = andon_metrics::time::now_ms();
    let v =
        crate::analysis::off_the_workers(engine, QUERY_TIMEOUT, move |e| e.instant_query(&text, t))
            .await??;
    Ok(match v {
        andon_promql::Value::Scalar(v) => vec![(None, v)],
        andon_promql::Value::Vector(v) => {
            v.iter().map(|s| (s.labels.get("replica").map(str::to_owned), s.v)).collect()
        }
        other => return Err(format!("query {q:?} returned a {}", other.type_name())),
    })
}

fn object_target(t: &MetricTarget) -> ObjectTarget {
    if t.kind == "Value" {
        ObjectTarget::Value(quantity(t.value.as_ref()))
    } else {
        ObjectTarget::AverageValue(quantity(t.average_value.as_ref()))
    }
}

impl Scaler {
    async fn measure(
        &mut self,
        engine: &Arc<andon_metrics::Engine>,
        spec: &ServiceSpec,
        a: &Autoscaling,
        st: &ServiceStatus,
        now: i64,
    ) -> Round {
        let default_cpu = [ScaleMetric::Resource {
            resource: andon_spec::autoscaling::ResourceMetric {
                name: "cpu".into(),
                target: MetricTarget {
                    kind: "Utilization".into(),
                    average_utilization: Some(80),
                    value: None,
                    average_value: None,
                },
            },
        }];
        let metrics: &[ScaleMetric] = if a.metrics.is_empty() { &default_cpu } else { &a.metrics };
        let current = u32::try_from(spec.replicas).unwrap_or(0);
        let ready = u32::try_from(
            st.instances.iter().filter(|i| i.ready && i.phase != "Terminating").count(),
        )
        .unwrap_or(0);
        let ctx = ScaleContext::new(current, ready);
        let mut results: Vec<Result<MetricProposal, String>> = Vec::new();
        let mut shown = Vec::new();
        for m in metrics {
            let (kind, name, r) = match m {
                ScaleMetric::Resource { resource } => {
                    let cpu = resource.name == "cpu";
                    let request = quantity(spec.resources.requests.get(&resource.name));
                    let samples: Vec<InstanceSample> = if cpu {
                        self.cpu_samples(st, request, now)
                    } else {
                        st.instances
                            .iter()
                            .map(|i| InstanceSample {
                                state: state_of(i),
                                value: i.pid.and_then(rss_bytes),
                                request: (request > 0.0).then_some(request),
                            })
                            .collect()
                    };
                    let target = match resource.target.average_utilization {
                        Some(u) if resource.target.kind == "Utilization" => {
                            ResourceTarget::Utilization(u32::try_from(u).unwrap_or(80))
                        }
                        _ => ResourceTarget::AverageValue(quantity(
                            resource.target.average_value.as_ref(),
                        )),
                    };
                    let m = Metric::Resource { cpu, target, samples: &samples };
                    (
                        "Resource",
                        resource.name.clone(),
                        autoscale::replicas_for_metric(&m, &ctx).map_err(|e| e.to_string()),
                    )
                }
                ScaleMetric::Pods { pods } => {
                    let r = match query(engine, &pods.metric.query).await {
                        Ok(series) => {
                            let by_replica: HashMap<String, f64> =
                                series.into_iter().filter_map(|(r, v)| Some((r?, v))).collect();
                            let samples: Vec<InstanceSample> = st
                                .instances
                                .iter()
                                .map(|i| InstanceSample {
                                    state: state_of(i),
                                    value: by_replica.get(&i.id.to_string()).copied(),
                                    request: None,
                                })
                                .collect();
                            let m = Metric::Pods {
                                target_average_value: quantity(pods.target.average_value.as_ref()),
                                samples: &samples,
                            };
                            autoscale::replicas_for_metric(&m, &ctx).map_err(|e| e.to_string())
                        }
                        Err(e) => Err(e),
                    };
                    ("Pods", pods.metric.name.clone(), r)
                }
                ScaleMetric::Object { object: q } | ScaleMetric::External { external: q } => {
                    let external = matches!(m, ScaleMetric::External { .. });
                    let r = match query(engine, &q.metric.query).await {
                        Ok(series) if series.is_empty() => {
                            Err(format!("query {:?} returned no data", q.metric.query))
                        }
                        Ok(series) => {
                            let current = if external {
                                series.iter().map(|(_, v)| v).sum()
                            } else {
                                series[0].1
                            };
                            let m = Metric::Object { current, target: object_target(&q.target) };
                            autoscale::replicas_for_metric(&m, &ctx).map_err(|e| e.to_string())
                        }
                        Err(e) => Err(e),
                    };
                    (if external { "External" } else { "Object" }, q.metric.name.clone(), r)
                }
            };
            shown.push(match &r {
                Ok(p) => json!({"type": kind, "name": name, "proposal": p.replicas, "current": {
                    "value": p.observed.value, "averageValue": p.observed.average_value, "averageUtilization": p.observed.average_utilization}}),
                Err(e) => json!({"type": kind, "name": name, "error": e}),
            });
            results.push(r);
        }
        let combined = autoscale::combine(
            current,
            results
                .iter()
                .map(|r| r.clone().map_err(|_| autoscale::MetricError::NoMetricsConfigured)),
        );
        let result = match combined {
            Ok(rec) => Ok((rec.replicas, rec.metric)),
            Err(f) => Err(match f.metric.and_then(|i| results.get(i)) {
                Some(Err(e)) => e.clone(),
                _ => f.to_string(),
            }),
        };
        Round { metrics: shown, result }
    }
}

/// Writes a new `spec.replicas` to the stored Service, as the HPA writes the scale
/// subresource (refused if the Service changed meanwhile; the next round retries).
async fn write_replicas(
    store: &andon_store::Store,
    key: &ObjectRef,
    replicas: u32,
) -> Result<(), String> {
    let o = store.get(key).await.map_err(|e| e.to_string())?.ok_or("the service is gone")?;
    let mut spec = o.spec.clone();
    spec["replicas"] = json!(replicas);
    let d = andon_store::Desired {
        kind: o.kind,
        namespace: o.namespace,
        name: o.name,
        labels: o.labels,
        annotations: o.annotations,
        spec,
        expected_version: Some(o.resource_version),
        must_exist: true,
    };
    store.apply(vec![d], "autoscaler").await.map(|_| ()).map_err(|e| e.to_string())
}

/// Evaluates every autoscaled Service each `interval`, until the runtime stops.
pub(crate) async fn run(
    store: andon_store::Store,
    rollouts: Arc<crate::rollouts::Rollouts>,
    supervisor: Arc<andon_supervisor::Supervisor>,
    engine: Arc<andon_metrics::Engine>,
    scalers: Autoscalers,
    out: tokio::sync::mpsc::UnboundedSender<andon_supervisor::Message>,
    interval: Duration,
) {
    let mut state: HashMap<ObjectRef, Scaler> = HashMap::new();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // The specs the runtime runs, already read: no store listing or parsing per round.
        let mut seen = Vec::new();
        for (key, spec) in rollouts.specs() {
            let Some(a) = spec.autoscaling.clone() else { continue };
            seen.push(key.clone());
            let Some(st) = supervisor.status(&key) else { continue };
            let now = andon_metrics::time::now_ms();
            let scaler = state.entry(key.clone()).or_default();
            scaler.core.set_behavior(Some(behavior(a.behavior.as_ref())));
            let round = scaler.measure(&engine, &spec, &a, &st, now).await;
            let current = u32::try_from(spec.replicas).unwrap_or(0);
            let min = u32::try_from(a.min_replicas).unwrap_or(1);
            let max = u32::try_from(a.max_replicas).unwrap_or(1);
            let (desired, conditions) = match &round.result {
                Ok((proposal, _)) => {
                    let d = scaler.core.decide(
                        Timestamp::from_millis(now),
                        current,
                        *proposal,
                        min,
                        max,
                    );
                    let limited = matches!(
                        d.reason.as_str(),
                        "TooFewReplicas" | "TooManyReplicas" | "ScaleUpLimit" | "ScaleDownLimit"
                    );
                    (
                        d.replicas,
                        json!([
                            {"type": "AbleToScale", "status": "True", "reason": "SucceededRescale", "message": "the autoscaler can change the replica count"},
                            {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "message": format!("the proposal is {proposal} replicas")},
                            {"type": "ScalingLimited", "status": if limited {"True"} else {"False"}, "reason": d.reason.as_str(), "message": d.message},
                        ]),
                    )
                }
                Err(e) => (
                    current,
                    json!([{"type": "ScalingActive", "status": "False", "reason": "FailedGetMetrics", "message": e}]),
                ),
            };
            if desired != current {
                match write_replicas(&store, &key, desired).await {
                    Ok(()) => {
                        scaler.last_scale = Some(Timestamp::from_millis(now));
                        let e = NewEvent {
                            kind: "autoscaler.scaled".into(),
                            subject: key.to_string(),
                            actor: "autoscaler".into(),
                            data: json!({"from": current, "to": desired, "metrics": round.metrics}),
                        };
                        if let Err(err) = store.append(vec![e]).await {
                            tracing::warn!(error = %err, service = %key, "autoscaler: cannot journal");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, service = %key, "autoscaler: cannot write replicas; next round retries")
                    }
                }
            }
            let status = json!({
                "currentReplicas": current,
                "desiredReplicas": desired,
                "minReplicas": min,
                "maxReplicas": max,
                "lastScaleTime": scaler.last_scale.map(|t| t.to_string()),
                "currentMetrics": round.metrics,
                "conditions": conditions,
            });
            if let Ok(mut m) = scalers.status.lock() {
                m.insert(key.clone(), status);
            }
            let _ = out.send(andon_supervisor::Message::StatusChanged(key));
        }
        state.retain(|k, _| seen.contains(k));
        if let Ok(mut m) = scalers.status.lock() {
            m.retain(|k, _| seen.contains(k));
        }
    }
}
