//! Prometheus's HTTP API (v1) under `/prometheus/api/v1/`: query,
//! query_range, series, labels, label values, metadata, targets, buildinfo and
//! format_query; GET with a query string or POST with a form body, JSON
//! shapes as Prometheus returns them.

use std::collections::BTreeMap;
use std::sync::Arc;

use andon_promql::Expr;
use andon_promql::{ErrorKind, QueryError, Value, format_float};
use andon_series::{Labels, Matcher, Querier};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value as Json, json};

use crate::Engine;
use crate::time::{format_rfc3339, now_ms, parse_duration, parse_time};

type E = Arc<Engine>;

pub(crate) fn routes<S: Clone + Send + Sync + 'static>(engine: E) -> Router<S> {
    Router::new()
        .route("/prometheus/api/v1/query", get(query).post(query))
        .route("/prometheus/api/v1/query_range", get(query_range).post(query_range))
        .route("/prometheus/api/v1/series", get(series).post(series))
        .route("/prometheus/api/v1/labels", get(labels).post(labels))
        .route("/prometheus/api/v1/label/{name}/values", get(label_values))
        .route("/prometheus/api/v1/metadata", get(metadata))
        .route("/prometheus/api/v1/targets", get(targets))
        .route("/prometheus/api/v1/status/buildinfo", get(buildinfo))
        .route("/prometheus/api/v1/format_query", get(format_query).post(format_query))
        .route("/prometheus/api/v1/admin/tsdb/flush", axum::routing::post(flush))
        .route("/prometheus/api/v1/query_exemplars", get(empty_list).post(empty_list))
        .route("/prometheus/api/v1/rules", get(rules))
        .route("/prometheus/api/v1/alerts", get(alerts))
        .route("/prometheus/api/v1/status/config", get(status_config))
        .route("/prometheus/api/v1/status/flags", get(status_flags))
        .route("/prometheus/api/v1/status/runtimeinfo", get(runtime_info))
        .route("/prometheus/api/v1/status/tsdb", get(tsdb_status))
        .route(
            "/prometheus/api/v1/write",
            axum::routing::post(remote_write).layer(axum::extract::DefaultBodyLimit::max(64 << 20)),
        )
        .with_state(engine)
}

/// A Prometheus API error.
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    fn bad(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, kind: "bad_data", message: message.into() }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        let (status, kind) = match e.kind {
            ErrorKind::Parse => (StatusCode::BAD_REQUEST, "bad_data"),
            ErrorKind::Execution | ErrorKind::TooManySamples => {
                (StatusCode::UNPROCESSABLE_ENTITY, "execution")
            }
            ErrorKind::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            ErrorKind::Storage => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        Self { status, kind, message: e.message }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({"status": "error", "errorType": self.kind, "error": self.message})),
        )
            .into_response()
    }
}

fn success(data: Json, warnings: &[String], infos: &[String]) -> Response {
    let mut body = json!({"status": "success", "data": data});
    if !warnings.is_empty() {
        body["warnings"] = json!(warnings);
    }
    if !infos.is_empty() {
        body["infos"] = json!(infos);
    }
    axum::Json(body).into_response()
}

/// Parameters from the query string and, for form posts, the body
/// (repeated keys such as `match[]` keep every value).
struct Params(Vec<(String, String)>);

impl Params {
    fn read(raw: Option<String>, headers: &HeaderMap, body: &Bytes) -> Result<Params, ApiError> {
        let mut out: Vec<(String, String)> = match raw {
            Some(q) => serde_urlencoded::from_str(&q)
                .map_err(|e| ApiError::bad(format!("invalid query string: {e}")))?,
            None => Vec::new(),
        };
        let is_form = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form && !body.is_empty() {
            let b =
                std::str::from_utf8(body).map_err(|_| ApiError::bad("form body is not UTF-8"))?;
            let more: Vec<(String, String)> = serde_urlencoded::from_str(b)
                .map_err(|e| ApiError::bad(format!("invalid form body: {e}")))?;
            out.extend(more);
        }
        Ok(Params(out))
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    fn all(&self, k: &str) -> Vec<&str> {
        self.0.iter().filter(|(n, _)| n == k).map(|(_, v)| v.as_str()).collect()
    }

    fn time(&self, k: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(k) {
            None | Some("") => Ok(default),
            Some(v) => parse_time(v).ok_or_else(|| {
                ApiError::bad(format!(
                    "invalid parameter \"{k}\": cannot parse {v:?} to a valid timestamp"
                ))
            }),
        }
    }
}

fn parse_expr(q: Option<&str>) -> Result<Expr, ApiError> {
    let q = q.ok_or_else(|| ApiError::bad("invalid parameter \"query\": missing"))?;
    andon_promql::parse(q)
        .map_err(|e| ApiError::bad(format!("invalid parameter \"query\": {}", e.message)))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        kind: "internal",
        message: e.to_string(),
    })
}

fn secs(ms: i64) -> Json {
    json!(ms as f64 / 1000.0)
}

fn labels_json(l: &Labels) -> Json {
    let m: serde_json::Map<String, Json> =
        l.iter().map(|x| (x.name.clone(), Json::String(x.value.clone()))).collect();
    Json::Object(m)
}

fn value_json(v: &Value, t: i64) -> Json {
    match v {
        Value::Scalar(f) => json!({"resultType": "scalar", "result": [secs(t), format_float(*f)]}),
        Value::String(s) => json!({"resultType": "string", "result": [secs(t), s]}),
        Value::Vector(vec) => json!({
            "resultType": "vector",
            "result": vec.iter().map(|s| json!({"metric": labels_json(&s.labels), "value": [secs(s.t), format_float(s.v)]})).collect::<Vec<_>>()
        }),
        Value::Matrix(m) => json!({
            "resultType": "matrix",
            "result": m.iter().map(|s| json!({
                "metric": labels_json(&s.labels),
                "values": s.points.iter().map(|p| json!([secs(p.t), format_float(p.v)])).collect::<Vec<_>>()
            })).collect::<Vec<_>>()
        }),
    }
}

async fn query(
    State(e): State<E>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::read(raw, &headers, &body)?;
    let expr = parse_expr(p.get("query"))?;
    let t = p.time("time", now_ms())?;
    let opts = query_options(&e, &p)?;
    let db = e.db.clone();
    let out = blocking(move || andon_promql::instant_query(&*db, &expr, t, &opts)).await??;
    Ok(success(value_json(&out.value, t), &out.warnings, &out.infos))
}

fn query_options(e: &Engine, p: &Params) -> Result<andon_promql::Options, ApiError> {
    let mut opts = e.opts.query.clone();
    if let Some(t) = p.get("timeout") {
        let d = parse_duration(t)
            .ok_or_else(|| ApiError::bad(format!("invalid parameter \"timeout\": {t:?}")))?;
        opts.timeout = opts.timeout.min(std::time::Duration::from_millis(d.max(0) as u64));
    }
    Ok(opts)
}

async fn query_range(
    State(e): State<E>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::read(raw, &headers, &body)?;
    let expr = parse_expr(p.get("query"))?;
    let start =
        p.get("start").ok_or_else(|| ApiError::bad("invalid parameter \"start\": missing"))?;
    let start = parse_time(start).ok_or_else(|| {
        ApiError::bad(format!(
            "invalid parameter \"start\": cannot parse {start:?} to a valid timestamp"
        ))
    })?;
    let end = p.get("end").ok_or_else(|| ApiError::bad("invalid parameter \"end\": missing"))?;
    let end = parse_time(end).ok_or_else(|| {
        ApiError::bad(format!(
            "invalid parameter \"end\": cannot parse {end:?} to a valid timestamp"
        ))
    })?;
    if end < start {
        return Err(ApiError::bad(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    let step = p.get("step").ok_or_else(|| ApiError::bad("invalid parameter \"step\": missing"))?;
    let step = parse_duration(step).ok_or_else(|| {
        ApiError::bad(format!(
            "invalid parameter \"step\": cannot parse {step:?} to a valid duration"
        ))
    })?;
    if step <= 0 {
        return Err(ApiError::bad(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step > 11_000 {
        return Err(ApiError::bad(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let opts = query_options(&e, &p)?;
    let db = e.db.clone();
    let out =
        blocking(move || andon_promql::range_query(&*db, &expr, start, end, step, &opts)).await??;
    Ok(success(value_json(&out.value, end), &out.warnings, &out.infos))
}

/// `match[]` selectors as matcher sets.
fn selectors(p: &Params) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let mut out = Vec::new();
    for m in p.all("match[]") {
        let sets = andon_promql::series_selector(m)
            .map_err(|e| ApiError::bad(format!("invalid parameter \"match[]\": {}", e.message)))?;
        out.extend(sets);
    }
    Ok(out)
}

async fn series(
    State(e): State<E>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::read(raw, &headers, &body)?;
    let sets = selectors(&p)?;
    if sets.is_empty() {
        return Err(ApiError::bad("no match[] parameter provided"));
    }
    let start = p.time("start", i64::MIN / 2)?;
    let end = p.time("end", i64::MAX / 2)?;
    let db = e.db.clone();
    let found = blocking(move || {
        let mut all: BTreeMap<Labels, ()> = BTreeMap::new();
        for set in &sets {
            for s in db.select(set, start, end)? {
                all.insert(s.labels, ());
            }
        }
        Ok::<_, andon_series::StorageError>(all)
    })
    .await?
    .map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        kind: "internal",
        message: e.0,
    })?;
    Ok(success(Json::Array(found.keys().map(labels_json).collect()), &[], &[]))
}

async fn names_or_values(e: E, p: Params, name: Option<String>) -> Result<Response, ApiError> {
    let sets = selectors(&p)?;
    let start = p.time("start", i64::MIN / 2)?;
    let end = p.time("end", i64::MAX / 2)?;
    let db = e.db.clone();
    let found = blocking(move || {
        let sets = if sets.is_empty() { vec![Vec::new()] } else { sets };
        let mut all = std::collections::BTreeSet::new();
        for set in &sets {
            let got = match &name {
                Some(n) => db.label_values(n, set, start, end)?,
                None => db.label_names(set, start, end)?,
            };
            all.extend(got);
        }
        Ok::<_, andon_series::StorageError>(all)
    })
    .await?
    .map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        kind: "internal",
        message: e.0,
    })?;
    Ok(success(json!(found.into_iter().collect::<Vec<_>>()), &[], &[]))
}

async fn labels(
    State(e): State<E>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::read(raw, &headers, &body)?;
    names_or_values(e, p, None).await
}

async fn label_values(
    State(e): State<E>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::read(raw, &HeaderMap::new(), &Bytes::new())?;
    names_or_values(e, p, Some(name)).await
}

async fn metadata(State(e): State<E>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let p = Params::read(raw, &HeaderMap::new(), &Bytes::new())?;
    let want = p.get("metric").map(str::to_string);
    let limit: usize =
        p.get("limit").and_then(|l| l.parse().ok()).filter(|l| *l > 0).unwrap_or(usize::MAX);
    let meta = e.scrapes.metadata.lock().map(|m| m.clone()).unwrap_or_default();
    let mut out = serde_json::Map::new();
    let mut names: Vec<&String> = meta.keys().collect();
    names.sort();
    for name in names {
        if want.as_ref().is_some_and(|w| w != name) || out.len() >= limit {
            continue;
        }
        let (ty, help, unit) = &meta[name];
        out.insert(name.clone(), json!([{"type": ty, "help": help, "unit": unit}]));
    }
    Ok(success(Json::Object(out), &[], &[]))
}

async fn targets(State(e): State<E>) -> Response {
    let active: Vec<Json> = e
        .targets()
        .into_iter()
        .map(|(t, s)| {
            let pool = t.labels.value("job").to_string();
            json!({
                "discoveredLabels": labels_json(&t.discovered),
                "labels": labels_json(&t.labels),
                "scrapePool": pool,
                "scrapeUrl": t.url,
                "globalUrl": t.url,
                "lastError": s.last_error,
                "lastScrape": if s.last_scrape == 0 { "0001-01-01T00:00:00Z".to_string() } else { format_rfc3339(s.last_scrape) },
                "lastScrapeDuration": s.last_duration.as_secs_f64(),
                "health": s.health,
                "scrapeInterval": format!("{}s", t.settings.as_ref().map_or(e.opts.scrape_interval, |s| s.interval).as_secs_f64()),
                "scrapeTimeout": format!("{}s", t.settings.as_ref().map_or(e.opts.scrape_timeout, |s| s.timeout).as_secs_f64()),
            })
        })
        .collect();
    let dropped: Vec<Json> =
        e.dropped_targets().iter().map(|l| json!({"discoveredLabels": labels_json(l)})).collect();
    success(json!({"activeTargets": active, "droppedTargets": dropped}), &[], &[])
}

async fn buildinfo() -> Response {
    success(
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "revision": "",
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "",
        }),
        &[],
        &[],
    )
}

async fn format_query(
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::read(raw, &headers, &body)?;
    let expr = parse_expr(p.get("query"))?;
    Ok(success(Json::String(expr.prettify()), &[], &[]))
}

/// Remote write receiver: 204 once every sample is in the write-ahead log.
async fn remote_write(State(e): State<E>, body: Bytes) -> Response {
    let (samples, histograms) = match crate::remote::decode_body(&body) {
        Ok(x) => x,
        Err(m) => return (StatusCode::BAD_REQUEST, format!("{m}\n")).into_response(),
    };
    let db = e.db.clone();
    let committed = blocking(move || {
        let mut app = db.appender();
        for (l, t, v) in &samples {
            app.append(l, *t, *v).map_err(|e| e.to_string())?;
        }
        let stats = app.commit().map_err(|e| e.to_string())?;
        Ok::<_, String>((stats, samples))
    })
    .await;
    match committed {
        Ok(Ok((stats, samples))) => {
            for s in e.senders.iter() {
                s.enqueue(&samples);
            }
            if stats.rejected() > 0 {
                let why = stats.examples.first().map(|r| format!("{r:?}")).unwrap_or_default();
                return (
                    StatusCode::BAD_REQUEST,
                    format!(
                        "{} of {} samples rejected (out of order or duplicate), e.g. {why}\n",
                        stats.rejected(),
                        samples.len()
                    ),
                )
                    .into_response();
            }
            if histograms > 0 {
                tracing::debug!(histograms, "remote write: native histograms are not stored");
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Err(m)) => (StatusCode::BAD_REQUEST, format!("{m}\n")).into_response(),
        Err(err) => err.into_response(),
    }
}

/// Persists everything in memory as blocks (for backups and measurements);
/// afterwards samples older than the newest persisted one are refused.
async fn flush(State(e): State<E>) -> Result<Response, ApiError> {
    let db = e.db.clone();
    let blocks = blocking(move || db.flush()).await?.map_err(|err| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        kind: "internal",
        message: err.to_string(),
    })?;
    Ok(success(json!({"blocks": blocks}), &[], &[]))
}

/// Exemplars are not stored: every exemplar query is answered with none.
async fn empty_list() -> Response {
    success(json!([]), &[], &[])
}

/// The `type` filter of `/rules`: `alert` or `record`.
#[derive(serde::Deserialize, Default)]
struct RulesQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

fn alert_json(a: &andon_rules::Alert) -> Json {
    json!({
        "labels": a.labels.iter().map(|l| (l.name.to_string(), Json::from(l.value.to_string()))).collect::<serde_json::Map<_, _>>(),
        "annotations": a.annotations,
        "state": a.state.as_str(),
        "activeAt": format_rfc3339(a.active_at),
        "value": crate::rules::go_float_e_lower(a.value),
    })
}

/// Rule groups with their rules' state, health and alerts, as Prometheus serves them.
async fn rules(State(e): State<E>, Query(q): Query<RulesQuery>) -> Result<Response, ApiError> {
    let want = match q.kind.as_deref() {
        None | Some("") => None,
        Some("alert") => Some(andon_rules::RuleKind::Alerting),
        Some("record") => Some(andon_rules::RuleKind::Recording),
        Some(other) => {
            return Err(ApiError::bad(format!(
                "unsupported type {other:?}: expected alert or record"
            )));
        }
    };
    let groups: Vec<Json> = e
        .rule_groups()
        .iter()
        .filter_map(|g| {
            let rules: Vec<Json> = g
                .rules
                .iter()
                .filter(|r| want.is_none_or(|k| r.rule.kind == k))
                .map(|r| {
                    let health = match (&r.health.last_error, r.health.last_evaluation) {
                        (Some(_), _) => "err",
                        (None, Some(_)) => "ok",
                        (None, None) => "unknown",
                    };
                    let mut v = json!({
                        "name": r.rule.name,
                        "query": r.rule.expr_text,
                        "labels": r.rule.labels,
                        "health": health,
                        "lastError": r.health.last_error.clone().unwrap_or_default(),
                        "evaluationTime": r.health.evaluation_seconds,
                        "lastEvaluation": r.health.last_evaluation.map_or("0001-01-01T00:00:00Z".to_string(), format_rfc3339),
                    });
                    if r.rule.kind == andon_rules::RuleKind::Alerting {
                        let state = r
                            .alerts
                            .iter()
                            .map(|a| a.state)
                            .filter(|s| *s != andon_rules::AlertState::Inactive)
                            .max()
                            .unwrap_or(andon_rules::AlertState::Inactive);
                        v["type"] = json!("alerting");
                        v["state"] = json!(state.as_str());
                        v["duration"] = json!(r.rule.for_ms as f64 / 1000.0);
                        v["keepFiringFor"] = json!(r.rule.keep_firing_for_ms as f64 / 1000.0);
                        v["annotations"] = json!(r.rule.annotations);
                        v["alerts"] = r
                            .alerts
                            .iter()
                            .filter(|a| a.state != andon_rules::AlertState::Inactive)
                            .map(alert_json)
                            .collect();
                    } else {
                        v["type"] = json!("recording");
                    }
                    v
                })
                .collect();
            if want.is_some() && rules.is_empty() {
                return None;
            }
            Some(json!({
                "name": g.group.name,
                "file": g.source,
                "rules": rules,
                "interval": g.interval_ms as f64 / 1000.0,
                "limit": g.group.limit,
                "evaluationTime": g.evaluation_seconds,
                "lastEvaluation": g.last_evaluation.map_or("0001-01-01T00:00:00Z".to_string(), format_rfc3339),
            }))
        })
        .collect();
    Ok(success(json!({"groups": groups}), &[], &[]))
}

/// Every pending and firing alert.
async fn alerts(State(e): State<E>) -> Response {
    let alerts: Vec<Json> = e
        .rule_groups()
        .iter()
        .flat_map(|g| g.rules.iter().flat_map(|r| r.alerts.iter()))
        .filter(|a| a.state != andon_rules::AlertState::Inactive)
        .map(alert_json)
        .collect();
    success(json!({"alerts": alerts}), &[], &[])
}

async fn status_config(State(e): State<E>) -> Response {
    let yaml = format!(
        "global:\n  scrape_interval: {}s\n  scrape_timeout: {}s\n  evaluation_interval: 1m\n",
        e.opts.scrape_interval.as_secs(),
        e.opts.scrape_timeout.as_secs()
    );
    success(json!({"yaml": yaml}), &[], &[])
}

async fn status_flags(State(e): State<E>) -> Response {
    success(
        json!({
            "query.lookback-delta": format!("{}s", e.opts.query.lookback_delta_ms / 1000),
            "query.max-samples": e.opts.query.max_samples.to_string(),
            "query.timeout": format!("{}s", e.opts.query.timeout.as_secs()),
            "storage.tsdb.retention.time": format!("{}s", e.opts.tsdb.retention.as_secs()),
        }),
        &[],
        &[],
    )
}

async fn runtime_info(State(e): State<E>) -> Response {
    let st = e.db.stats();
    success(
        json!({
            "startTime": format_rfc3339(e.started_ms),
            "CWD": std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
            "reloadConfigSuccess": true,
            "lastConfigTime": format_rfc3339(e.started_ms),
            "corruptionCount": 0,
            "goroutineCount": 0,
            "GOMAXPROCS": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": format!("{}d", e.opts.tsdb.retention.as_secs() / 86_400),
            "headSeries": st.series,
        }),
        &[],
        &[],
    )
}

/// Head statistics (Prometheus's shape; the per-name breakdowns are empty).
async fn tsdb_status(State(e): State<E>) -> Response {
    let st = e.db.stats();
    success(
        json!({
            "headStats": {
                "numSeries": st.series,
                "numLabelPairs": 0,
                "chunkCount": st.head_chunks,
                "minTime": st.head_min_time.unwrap_or(0),
                "maxTime": st.head_max_time.unwrap_or(0),
            },
            "seriesCountByMetricName": [],
            "labelValueCountByLabelName": [],
            "memoryInBytesByLabelName": [],
            "seriesCountByLabelValuePair": [],
        }),
        &[],
        &[],
    )
}
