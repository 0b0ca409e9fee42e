//! Analysis runs of the rollout controller: a run's templates are read from the store,
//! its arguments resolved, each metric measured by its provider on its schedule and
//! judged by `andon_delivery::analysis`; every measurement is journaled and the run's
//! phase goes back to the controller the moment it is decided.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_core::{NewEvent, ObjectRef};
use andon_delivery::analysis::{Measurement, MeasurementPhase, MetricPlan, MetricState, resolve};
use andon_delivery::expr::Value;
use andon_delivery::rollout::{RunKey, RunPhase};
use andon_spec::analysis::{AnalysisTemplateSpec, KeyValue, Provider};
use andon_spec::strategy::{AnalysisRef, ArgValueFrom};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Serialize;
use serde_json::json;

/// What analysis needs of the rest of andon.
pub(crate) struct Deps {
    pub(crate) store: andon_store::Store,
    pub(crate) metrics: Arc<andon_metrics::Engine>,
    pub(crate) supervisor: Arc<andon_supervisor::Supervisor>,
    pub(crate) http: Client<HttpConnector, Full<Bytes>>,
}

/// A metric as status shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MetricView {
    pub(crate) name: String,
    pub(crate) phase: RunPhase,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) dry_run: bool,
    #[serde(flatten)]
    pub(crate) state: MetricState,
}

/// A run as status shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunView {
    pub(crate) run: RunKey,
    pub(crate) revision: String,
    pub(crate) phase: RunPhase,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) message: String,
    pub(crate) metrics: Vec<MetricView>,
}

/// A run's phase, for the controller.
#[derive(Debug, Clone)]
pub(crate) struct RunUpdate {
    pub(crate) key: RunKey,
    pub(crate) revision: String,
    pub(crate) phase: RunPhase,
    pub(crate) message: String,
}

/// Who a run is for: what `valueFrom` arguments refer to.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    pub(crate) service: ObjectRef,
    pub(crate) stable: String,
    pub(crate) latest: String,
    /// The preview address (`http://…`), while one is served.
    pub(crate) preview_url: Option<String>,
}

/// The templates a reference names, merged, with the arguments' values.
pub(crate) struct Prepared {
    pub(crate) metrics: Vec<(MetricPlan, Provider)>,
}

/// Reads a stored AnalysisTemplate (or ClusterAnalysisTemplate).
async fn template(
    store: &andon_store::Store,
    namespace: &str,
    t: &andon_spec::strategy::TemplateRef,
) -> Result<AnalysisTemplateSpec, String> {
    let (kind, ns, name) = andon_delivery::check::key_of(namespace, t);
    let key = ObjectRef::new(&kind, &ns, &name);
    let stored = store
        .get(&key)
        .await
        .map_err(|e| format!("cannot read {key}: {e}"))?
        .ok_or_else(|| format!("{kind} {name:?} does not exist in namespace {ns:?}"))?;
    let doc = stored.to_document(andon_spec::resource::ARGO_API_VERSION);
    let manifests = andon_spec::parse_manifests("stored", doc.to_string().as_bytes(), None)
        .map_err(|d| format!("stored {key} does not read back: {d:?}"))?;
    match manifests.into_iter().next().map(|m| m.spec) {
        Some(andon_spec::Spec::AnalysisTemplate(t)) => Ok(*t),
        _ => Err(format!("{key} is not an analysis template")),
    }
}

/// Resolves a run: templates merged, arguments from the templates' defaults, the
/// reference's values and `valueFrom`, every metric's fields resolved.
pub(crate) async fn prepare(
    store: &andon_store::Store,
    subject: &Subject,
    aref: &AnalysisRef,
) -> Result<Prepared, String> {
    let mut templates = Vec::new();
    for t in &aref.templates {
        templates
            .push((t.template_name.clone(), template(store, &subject.service.namespace, t).await?));
    }
    let mut args: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (_, t) in &templates {
        for a in &t.args {
            let slot = args.entry(a.name.clone()).or_default();
            if a.value.is_some() {
                slot.clone_from(&a.value);
            }
        }
    }
    for a in &aref.args {
        let v = match (&a.value, &a.value_from) {
            (Some(v), _) => v.clone(),
            (None, Some(ArgValueFrom::PodTemplateHashValue(which))) => match which.as_str() {
                "Stable" => subject.stable.clone(),
                _ => subject.latest.clone(),
            },
            (None, Some(ArgValueFrom::FieldRef { field_path })) => match field_path.as_str() {
                "metadata.name" => subject.service.name.clone(),
                "metadata.namespace" => subject.service.namespace.clone(),
                "status.previewUrl" => subject.preview_url.clone().ok_or_else(|| {
                    format!("argument {:?}: the service has no preview address now", a.name)
                })?,
                other => {
                    return Err(format!(
                        "argument {:?}: fieldRef {other:?} is not known (metadata.name, metadata.namespace and status.previewUrl are)",
                        a.name
                    ));
                }
            },
            (None, None) => continue,
        };
        args.insert(a.name.clone(), Some(v));
    }
    let mut values = BTreeMap::new();
    for (name, v) in args {
        match v {
            Some(v) => {
                values.insert(name, v);
            }
            None => return Err(format!("argument {name:?} has no value")),
        }
    }
    let mut metrics: Vec<(MetricPlan, Provider)> = Vec::new();
    for (tname, t) in &templates {
        for m in &t.metrics {
            if metrics.iter().any(|(p, _)| p.name == m.name) {
                return Err(format!("metric {:?} appears in more than one template", m.name));
            }
            let dry = t.dry_run.iter().any(|d| d.metric_name == m.name || d.metric_name == ".*");
            let retention = t
                .measurement_retention
                .iter()
                .find(|r| r.metric_name == m.name || r.metric_name == ".*")
                .map(|r| r.limit);
            let plan = MetricPlan::new(m, &values, dry, retention)
                .map_err(|e| format!("template {tname:?}, metric {:?}: {e}", m.name))?;
            let provider = resolve_provider(&m.provider, &values)
                .map_err(|e| format!("template {tname:?}, metric {:?}: {e}", m.name))?;
            metrics.push((plan, provider));
        }
    }
    if metrics.is_empty() {
        return Err("the analysis has no metrics".into());
    }
    Ok(Prepared { metrics })
}

fn resolve_provider(p: &Provider, args: &BTreeMap<String, String>) -> Result<Provider, String> {
    let r = |s: &String| resolve(s, args);
    let ro = |s: &Option<String>| s.as_ref().map(|s| resolve(s, args)).transpose();
    let kvs = |h: &[KeyValue]| -> Result<Vec<KeyValue>, String> {
        h.iter().map(|kv| Ok(KeyValue { key: kv.key.clone(), value: r(&kv.value)? })).collect()
    };
    Ok(match p {
        Provider::Prometheus(q) => {
            let mut q = q.clone();
            q.address = ro(&q.address)?;
            q.query = r(&q.query)?;
            q.headers = kvs(&q.headers)?;
            Provider::Prometheus(q)
        }
        Provider::Web(w) => {
            let mut w = w.clone();
            w.url = r(&w.url)?;
            w.headers = kvs(&w.headers)?;
            w.body = ro(&w.body)?;
            if let Some(j) = &w.json_body {
                let text = resolve(&j.to_string(), args)?;
                w.json_body = Some(
                    serde_json::from_str(&text)
                        .map_err(|e| format!("jsonBody after arguments: {e}"))?,
                );
            }
            Provider::Web(w)
        }
        Provider::Job(j) => {
            let mut j = j.clone();
            j.command = j.command.iter().map(r).collect::<Result<_, _>>()?;
            j.args = j.args.iter().map(r).collect::<Result<_, _>>()?;
            for e in &mut j.env {
                e.value = r(&e.value)?;
            }
            Provider::Job(j)
        }
        Provider::Slo(s) => {
            let mut s = s.clone();
            s.name = r(&s.name)?;
            Provider::Slo(s)
        }
    })
}

fn now_ms() -> i64 {
    andon_metrics::time::now_ms()
}

/// Runs the analysis until it is decided (or the controller drops it): measures each
/// metric when due, journals every measurement, keeps `view` current, and reports
/// the run's phase whenever a measurement was taken.
pub(crate) async fn run(
    deps: Arc<Deps>,
    subject: Subject,
    key: RunKey,
    aref: AnalysisRef,
    view: Arc<Mutex<RunView>>,
    out: tokio::sync::mpsc::UnboundedSender<RunUpdate>,
) {
    let service = subject.service.clone();
    let revision = subject.latest.clone();
    let send = |phase: RunPhase, message: String| {
        if let Ok(mut v) = view.lock() {
            v.phase = phase;
            v.message.clone_from(&message);
        }
        let _ =
            out.send(RunUpdate { key: key.clone(), revision: revision.clone(), phase, message });
    };
    let prepared = match prepare(&deps.store, &subject, &aref).await {
        Ok(p) => p,
        Err(message) => {
            journal(
                &deps,
                &service,
                "analysis.error",
                json!({"run": key, "revision": revision, "message": message}),
            )
            .await;
            send(RunPhase::Error, message);
            return;
        }
    };
    if let Ok(mut v) = view.lock() {
        v.metrics = prepared
            .metrics
            .iter()
            .map(|(p, _)| MetricView {
                name: p.name.clone(),
                phase: RunPhase::Running,
                dry_run: p.dry_run,
                state: MetricState::default(),
            })
            .collect();
    }
    let started = now_ms();
    let mut states = vec![MetricState::default(); prepared.metrics.len()];
    loop {
        let now = now_ms();
        let mut next: Option<i64> = None;
        let mut measured = false;
        for (i, (plan, provider)) in prepared.metrics.iter().enumerate() {
            let Some(due) = states[i].next_due(plan, started) else { continue };
            if due > now {
                next = Some(next.map_or(due, |n: i64| n.min(due)));
                continue;
            }
            let m = measure(&deps, plan, provider).await;
            journal(
                &deps,
                &service,
                "analysis.measurement",
                json!({"run": key, "revision": revision, "metric": plan.name, "phase": m.phase, "value": m.value, "message": m.message, "dryRun": plan.dry_run}),
            )
            .await;
            states[i].record(plan, m);
            measured = true;
            if let Ok(mut v) = view.lock()
                && let Some(mv) = v.metrics.get_mut(i)
            {
                mv.state = states[i].clone();
                mv.phase = states[i].phase(plan);
            }
            if let Some(due) = states[i].next_due(plan, started) {
                next = Some(next.map_or(due, |n: i64| n.min(due)));
            }
        }
        let phases: Vec<(RunPhase, bool)> = prepared
            .metrics
            .iter()
            .zip(&states)
            .map(|((plan, _), st)| (st.phase(plan), plan.dry_run))
            .collect();
        let phase = andon_delivery::analysis::run_phase(&phases);
        if phase != RunPhase::Running || next.is_none() {
            let message = describe(&prepared, &states, phase);
            journal(
                &deps,
                &service,
                "analysis.completed",
                json!({"run": key, "revision": revision, "phase": phase, "message": message}),
            )
            .await;
            send(if phase == RunPhase::Running { RunPhase::Successful } else { phase }, message);
            return;
        }
        if measured {
            send(RunPhase::Running, String::new());
        }
        let wait = next.map_or(1000, |t| (t - now_ms()).max(0));
        tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0))).await;
    }
}

/// Why a run ended as it did: the deciding metrics and their last values.
fn describe(prepared: &Prepared, states: &[MetricState], phase: RunPhase) -> String {
    let parts: Vec<String> = prepared
        .metrics
        .iter()
        .zip(states)
        .filter(|((plan, _), st)| st.phase(plan) == phase && !plan.dry_run)
        .map(|((plan, _), st)| {
            let last = st.measurements.last();
            let value = last.map_or("", |m| m.value.as_str());
            let msg = last.map_or("", |m| m.message.as_str());
            let mut s = format!(
                "metric {:?} {phase:?} ({} successful, {} failed, {} inconclusive, {} errors",
                plan.name, st.successful, st.failed, st.inconclusive, st.error
            );
            if !value.is_empty() {
                s.push_str(&format!("; last value {value}"));
            }
            if !msg.is_empty() {
                s.push_str(&format!("; {msg}"));
            }
            s.push(')');
            s
        })
        .collect();
    parts.join("; ")
}

async fn journal(deps: &Deps, service: &ObjectRef, kind: &str, data: serde_json::Value) {
    let e = NewEvent {
        kind: kind.into(),
        subject: service.to_string(),
        actor: "analysis".into(),
        data,
    };
    if let Err(err) = deps.store.append(vec![e]).await {
        tracing::warn!(error = %err, %service, "cannot journal an analysis event");
    }
}

/// Takes one measurement.
async fn measure(deps: &Deps, plan: &MetricPlan, provider: &Provider) -> Measurement {
    let now = now_ms();
    match provider {
        Provider::Prometheus(q) => {
            let timeout = Duration::from_secs(u64::try_from(q.timeout.unwrap_or(30)).unwrap_or(30));
            let result = match &q.address {
                None => local_query(deps, &q.query, timeout).await,
                Some(addr) => remote_query(deps, addr, &q.query, &q.headers, timeout).await,
            };
            plan.judge(result, now_ms())
        }
        Provider::Web(w) => plan.judge(web(deps, w).await, now_ms()),
        Provider::Slo(s) => plan.judge(slo(deps, &s.name, &s.window).await, now_ms()),
        Provider::Job(j) => {
            let Some((program, rest)) = j.command.split_first() else {
                return error_measurement("the job has no command", now);
            };
            let mut args: Vec<String> = rest.to_vec();
            args.extend(j.args.iter().cloned());
            let env = j.env.iter().map(|e| (e.name.clone(), e.value.clone())).collect();
            let deadline = Duration::from_secs(
                u64::try_from(j.active_deadline_seconds.unwrap_or(600)).unwrap_or(600),
            );
            match deps
                .supervisor
                .run_job(program, &args, &env, j.working_dir.as_deref(), deadline)
                .await
            {
                Ok(o) => Measurement {
                    phase: if o.succeeded {
                        MeasurementPhase::Successful
                    } else {
                        MeasurementPhase::Failed
                    },
                    value: o.reason,
                    message: o.output,
                    finished_ms: now_ms(),
                },
                Err(e) => error_measurement(&e, now_ms()),
            }
        }
    }
}

fn error_measurement(message: &str, now: i64) -> Measurement {
    Measurement {
        phase: MeasurementPhase::Error,
        value: String::new(),
        message: message.to_owned(),
        finished_ms: now,
    }
}

/// A PromQL query on andon's own engine, at now.
async fn local_query(deps: &Deps, query: &str, timeout: Duration) -> Result<Value, String> {
    let v = off_the_workers(&deps.metrics, timeout, {
        let q = query.to_owned();
        move |engine: &andon_metrics::Engine| engine.instant_query(&q, now_ms())
    })
    .await??;
    Ok(promql_value(&v))
}

/// Runs blocking work on the metrics engine (PromQL evaluation) off the async workers,
/// for at most `timeout`.
pub(crate) async fn off_the_workers<T: Send + 'static>(
    engine: &Arc<andon_metrics::Engine>,
    timeout: Duration,
    work: impl FnOnce(&andon_metrics::Engine) -> T + Send + 'static,
) -> Result<T, String> {
    let engine = engine.clone();
    tokio::time::timeout(timeout, tokio::task::spawn_blocking(move || work(&engine)))
        .await
        .map_err(|_| format!("timed out after {}s", timeout.as_secs()))?
        .map_err(|e| format!("evaluation failed: {e}"))
}

/// Argo's shapes: a vector is a list of sample values, a scalar a number.
fn promql_value(v: &andon_promql::Value) -> Value {
    match v {
        andon_promql::Value::Scalar(f) => Value::Float(*f),
        andon_promql::Value::String(s) => Value::Str(s.clone()),
        andon_promql::Value::Vector(samples) => {
            Value::Array(samples.iter().map(|s| Value::Float(s.v)).collect())
        }
        andon_promql::Value::Matrix(series) => Value::Array(
            series
                .iter()
                .map(|s| Value::Array(s.points.iter().map(|p| Value::Float(p.v)).collect()))
                .collect(),
        ),
    }
}

async fn http_call(
    deps: &Deps,
    method: &str,
    url: &str,
    headers: &[KeyValue],
    body: Option<String>,
    timeout: Duration,
) -> Result<Bytes, String> {
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("user-agent", concat!("andon/", env!("CARGO_PKG_VERSION")));
    for h in headers {
        req = req.header(h.key.as_str(), h.value.as_str());
    }
    let req = req
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let resp = tokio::time::timeout(timeout, deps.http.request(req))
        .await
        .map_err(|_| format!("{method} {url}: no answer within {}s", timeout.as_secs()))?
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let status = resp.status();
    let bytes = tokio::time::timeout(timeout, resp.into_body().collect())
        .await
        .map_err(|_| format!("{method} {url}: body not read within {}s", timeout.as_secs()))?
        .map_err(|e| format!("{method} {url}: {e}"))?
        .to_bytes();
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).trim().to_owned();
        return Err(format!("{method} {url}: {status}: {text}"));
    }
    Ok(bytes)
}

/// A query on an external Prometheus's HTTP API.
async fn remote_query(
    deps: &Deps,
    address: &str,
    query: &str,
    headers: &[KeyValue],
    timeout: Duration,
) -> Result<Value, String> {
    let url = format!(
        "{}/api/v1/query?query={}",
        address.trim_end_matches('/'),
        andon_core::url::encode_component(query)
    );
    let body = http_call(deps, "GET", &url, headers, None, timeout).await?;
    let doc: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON: {e}"))?;
    if doc["status"] != "success" {
        return Err(format!("{url}: {}", doc["error"].as_str().unwrap_or("query failed")));
    }
    let number = |v: &serde_json::Value| -> Value {
        let text = v.get(1).and_then(serde_json::Value::as_str).unwrap_or("NaN");
        Value::Float(text.parse::<f64>().unwrap_or(f64::NAN))
    };
    let result = &doc["data"]["result"];
    match doc["data"]["resultType"].as_str() {
        Some("scalar") => Ok(number(result)),
        Some("vector") => Ok(Value::Array(
            result.as_array().into_iter().flatten().map(|s| number(&s["value"])).collect(),
        )),
        Some("string") => {
            Ok(Value::Str(result.get(1).and_then(|s| s.as_str()).unwrap_or("").to_owned()))
        }
        other => Err(format!("{url}: result type {other:?} is not supported")),
    }
}

async fn web(deps: &Deps, w: &andon_spec::analysis::WebProvider) -> Result<Value, String> {
    let mut headers = w.headers.clone();
    let body = match (&w.json_body, &w.body) {
        (Some(j), _) => {
            if !headers.iter().any(|h| h.key.eq_ignore_ascii_case("content-type")) {
                headers.push(KeyValue {
                    key: "Content-Type".into(),
                    value: "application/json".into(),
                });
            }
            Some(j.to_string())
        }
        (None, b) => b.clone(),
    };
    let timeout = Duration::from_secs(u64::try_from(w.timeout_seconds).unwrap_or(10));
    let bytes = http_call(deps, &w.method, &w.url, &headers, body, timeout).await?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: the answer is not JSON: {e}", w.url))?;
    let picked = match &w.json_path {
        Some(p) => json_path(&doc, p)?,
        None => &doc,
    };
    Ok(json_value(picked))
}

/// Argo's `{$.a.b[0].c}` paths (braces optional), read literally.
fn json_path<'a>(doc: &'a serde_json::Value, path: &str) -> Result<&'a serde_json::Value, String> {
    let p = path.trim();
    let p = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')).unwrap_or(p).trim();
    let Some(mut rest) = p.strip_prefix('$') else {
        return Err(format!("jsonPath {path:?} must start with $"));
    };
    let mut cur = doc;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return Err(format!("jsonPath {path:?}: unclosed ["));
            };
            let inner = r[..end].trim();
            cur = match inner.parse::<usize>() {
                Ok(i) => cur.get(i),
                Err(_) => cur.get(inner.trim_matches(|c| c == '\'' || c == '"')),
            }
            .ok_or_else(|| format!("jsonPath {path:?}: no {inner} in the answer"))?;
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            cur = cur
                .get(name)
                .ok_or_else(|| format!("jsonPath {path:?}: no {name:?} in the answer"))?;
            rest = &r[end..];
        } else {
            return Err(format!("jsonPath {path:?}: cannot read {rest:?}"));
        }
    }
    Ok(cur)
}

fn json_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(json_value).collect()),
        serde_json::Value::Object(o) => {
            Value::Map(o.iter().map(|(k, v)| (k.clone(), json_value(v))).collect())
        }
    }
}

/// An SLO's burn rate over a window: `{burnRate, errorRatio, budgetRemaining, objective}`.
async fn slo(deps: &Deps, name: &str, window: &str) -> Result<Value, String> {
    let slos = deps.metrics.slos();
    let found = slos.iter().find(|(source, s)| {
        s.id == name || source.split('/').next().is_some_and(|ns| format!("{ns}/{}", s.id) == name)
    });
    let Some((_, slo)) = found else {
        return Err(format!("no SLO {name:?} (give the SLO's id, service-name, or namespace/id)"));
    };
    let (budget, objective) = (slo.error_budget_ratio(), slo.objective);
    let (slo, w) = (slo.clone(), window.to_owned());
    let (ratio, period_ratio) = off_the_workers(&deps.metrics, Duration::from_secs(30), move |e| {
        let t = now_ms();
        let period = andon_promql::format_duration(slo.period_ms);
        (
            andon_metrics::slo::error_ratio(e, &slo, &w, t),
            andon_metrics::slo::error_ratio(e, &slo, &period, t),
        )
    })
    .await?;
    let ratio = ratio.ok_or_else(|| format!("SLO {name:?} over {window}: no data"))?;
    let mut m = BTreeMap::new();
    m.insert("burnRate".to_owned(), Value::Float(ratio / budget));
    m.insert("errorRatio".to_owned(), Value::Float(ratio));
    m.insert("objective".to_owned(), Value::Float(objective));
    m.insert(
        "budgetRemaining".to_owned(),
        period_ratio.map_or(Value::Nil, |r| Value::Float(1.0 - r / budget)),
    );
    Ok(Value::Map(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_read_argo_style() {
        let doc = json!({"data": {"ok": true, "items": [{"v": 1.5}]}, "a b": 2});
        assert_eq!(json_path(&doc, "{$.data.ok}").unwrap(), &json!(true));
        assert_eq!(json_path(&doc, "$.data.items[0].v").unwrap(), &json!(1.5));
        assert_eq!(json_path(&doc, "{$['a b']}").unwrap(), &json!(2));
        assert!(json_path(&doc, "$.data.missing").unwrap_err().contains("no \"missing\""));
        assert!(json_path(&doc, "data.ok").is_err());
    }

    #[test]
    fn promql_results_take_argo_shapes() {
        assert_eq!(promql_value(&andon_promql::Value::Scalar(0.5)), Value::Float(0.5));
        assert_eq!(
            promql_value(&andon_promql::Value::Vector(Vec::new())),
            Value::Array(Vec::new()),
            "no data is an empty list: result[0] errors, never succeeds"
        );
    }
}
