//! andon's own API under `/api/v1`: apply, resources by kind, the journal, health.

use andon_api::{ApplyItem, ApplyResponse, ListMeta, Problem, ResourceList};
use andon_core::ErrorKind;
use andon_spec::kinds::{self, KindInfo};
use andon_spec::{API_VERSION, Manifest};
use andon_store::{Desired, StoredObject};
use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::error::{ApiError, Q, Target};
use crate::{AppState, events};

/// The largest request body accepted.
pub(crate) const MAX_BODY_BYTES: usize = andon_spec::yaml::MAX_INPUT_BYTES;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/api/v1/version",
            get(|| async { Json(serde_json::json!({"version": env!("CARGO_PKG_VERSION")})) }),
        )
        .route("/api/v1/apply", post(apply))
        .route("/api/v1/events", get(events::list_or_follow))
        .route("/api/v1/alert-history", get(crate::alerts::history))
        .route("/api/v1/notifications", get(crate::alerts::notifications))
        .route(
            "/alertmanager/api/v2/silences",
            get(crate::am_api::get_silences).post(crate::am_api::post_silence),
        )
        .route(
            "/alertmanager/api/v2/silence/{id}",
            axum::routing::delete(crate::am_api::delete_silence),
        )
        .route(
            "/alertmanager/api/v2/alerts",
            get(crate::am_api::get_alerts).post(crate::am_api::post_alerts),
        )
        .route("/api/v1/slo-status", get(crate::slo_api::list))
        .route("/api/v1/slo-status/{id}", get(crate::slo_api::one))
        // Each path comes in two shapes, short (namespace `default`, or every namespace for
        // a list) and namespaced; `Target` reads either.
        .route("/api/v1/{plural}", get(list))
        .route("/api/v1/namespaces/{ns}/{plural}", get(list))
        .route("/api/v1/{plural}/{name}", get(get_one).put(put).delete(delete))
        .route("/api/v1/namespaces/{ns}/{plural}/{name}", get(get_one).put(put).delete(delete))
        .route("/api/v1/{plural}/{name}/logs", get(crate::logs::logs))
        .route("/api/v1/{plural}/{name}/rollout/history", get(crate::rollout_api::history))
        .route(
            "/api/v1/namespaces/{ns}/{plural}/{name}/rollout/history",
            get(crate::rollout_api::history),
        )
        .route("/api/v1/{plural}/{name}/rollout/{action}", post(crate::rollout_api::command))
        .route(
            "/api/v1/namespaces/{ns}/{plural}/{name}/rollout/{action}",
            post(crate::rollout_api::command),
        )
        .route("/api/v1/namespaces/{ns}/{plural}/{name}/logs", get(crate::logs::logs))
        .route("/api/v1/runs", get(crate::pipelines_api::list))
        .route("/api/v1/runs/{id}", get(crate::pipelines_api::one))
        .route("/api/v1/runs/{id}/logs", get(crate::pipelines_api::logs))
        .route("/api/v1/runs/{id}/cancel", post(crate::pipelines_api::cancel))
        .route("/api/v1/runs/{id}/rerun", post(crate::pipelines_api::rerun))
        .route(
            "/api/v1/runs/{id}/artifacts/{name}/{*path}",
            get(crate::pipelines_api::artifact_file),
        )
        .route(
            "/api/v1/{plural}/{name}/workflows/{workflow}/dispatches",
            post(crate::pipelines_api::dispatch),
        )
        .route(
            "/api/v1/namespaces/{ns}/{plural}/{name}/workflows/{workflow}/dispatches",
            post(crate::pipelines_api::dispatch),
        )
        .route("/api/v1/{plural}/{name}/hooks/push", post(crate::pipelines_api::push_hook))
        .route(
            "/api/v1/namespaces/{ns}/{plural}/{name}/hooks/push",
            post(crate::pipelines_api::push_hook),
        )
}

async fn readyz(State(s): State<AppState>) -> Response {
    if *s.shutdown.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match s.store.ping().await {
        Ok(()) => "ready\n".into_response(),
        Err(e) => {
            (StatusCode::SERVICE_UNAVAILABLE, format!("store unavailable: {e}\n")).into_response()
        }
    }
}

async fn metrics(State(s): State<AppState>) -> Response {
    let body = s.metrics.render(&s.store, &s.runtime.router, &s.runtime.supervisor);
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
        .into_response()
}

/// Who performs a write; until tokens exist, the client's `Andon-Actor` header names it.
pub(crate) fn actor(headers: &HeaderMap) -> String {
    headers
        .get("andon-actor")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 256)
        .unwrap_or("anonymous")
        .to_owned()
}

/// Reads the whole body, refusing more than [`MAX_BODY_BYTES`] with a 413 problem. An
/// oversized body is still read (and dropped) up to a bound, so that the client, which may
/// be busy sending it, receives the 413 instead of a broken connection.
async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    use http_body_util::BodyExt;
    const DRAIN_LIMIT: usize = 64 * 1024 * 1024;
    let mut body = body;
    let mut buf: Vec<u8> = Vec::new();
    let mut seen = 0usize;
    let drain_deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(
                ErrorKind::InvalidArgument,
                format!("reading the request body failed: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else { continue };
        seen += data.len();
        if seen <= MAX_BODY_BYTES {
            buf.extend_from_slice(&data);
        } else if seen > DRAIN_LIMIT || tokio::time::Instant::now() > drain_deadline {
            break;
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(ApiError::new(
            ErrorKind::TooLarge,
            format!("the request body is larger than the limit of {MAX_BODY_BYTES} bytes (8 MiB)"),
        ));
    }
    Ok(Bytes::from(buf))
}

fn kind_of(plural: &str) -> Result<&'static KindInfo, ApiError> {
    kinds::by_plural(plural).ok_or_else(|| {
        let known: Vec<&str> = kinds::KINDS.iter().map(|k| k.plural).collect();
        ApiError::new(
            ErrorKind::NotFound,
            format!("unknown resource type {plural:?}; known: {}", known.join(", ")),
        )
    })
}

/// Refuses strategies naming analysis templates that neither the request nor the
/// store holds.
pub(crate) async fn check_templates(s: &AppState, manifests: &[Manifest]) -> Result<(), ApiError> {
    let mut known = std::collections::BTreeSet::new();
    for k in andon_delivery::check::referenced_elsewhere(manifests) {
        if s.store.get(&andon_core::ObjectRef::new(&k.0, &k.1, &k.2)).await?.is_some() {
            known.insert(k);
        }
    }
    let diags = andon_delivery::check::check_manifests(manifests, &known);
    if diags.is_empty() { Ok(()) } else { Err(Problem::from_diagnostics(diags).into()) }
}

pub(crate) fn desired(m: &Manifest) -> Desired {
    Desired {
        kind: m.kind.kind.to_owned(),
        namespace: m.metadata.namespace.clone(),
        name: m.metadata.name.clone(),
        labels: m.labels_json(),
        annotations: m.annotations_json(),
        spec: m.spec_json(),
        expected_version: m.metadata.resource_version,
        must_exist: false,
    }
}

#[derive(Deserialize)]
struct ApplyQuery {
    namespace: Option<String>,
}

async fn apply(
    State(s): State<AppState>,
    Q(q): Q<ApplyQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ApplyResponse>, ApiError> {
    let bytes = read_body(body).await?;
    if let Some(ns) = &q.namespace {
        andon_spec::names::check_dns1123_label(ns)
            .map_err(|e| ApiError::new(ErrorKind::InvalidArgument, format!("namespace: {e}")))?;
    }
    let manifests = parse_checked(&bytes, q.namespace.as_deref())?;
    if manifests.is_empty() {
        return Err(ApiError::new(ErrorKind::InvalidArgument, "the request holds no resources"));
    }
    check_templates(&s, &manifests).await?;
    let results = s.store.apply(manifests.iter().map(desired).collect(), &actor(&headers)).await?;
    Ok(Json(ApplyResponse {
        results: results
            .into_iter()
            .map(|r| ApplyItem {
                kind: r.object.kind,
                namespace: r.object.namespace,
                name: r.object.name,
                action: r.outcome.as_str().to_owned(),
                resource_version: r.object.resource_version.to_string(),
                generation: r.object.generation,
            })
            .collect(),
    }))
}

fn document(o: &StoredObject) -> serde_json::Value {
    o.to_document(API_VERSION)
}

/// A resource with its freshest status: for Services the runtime's live view (the stored
/// copy trails it by a moment, and is stale right after a restart).
pub(crate) fn live_document(s: &AppState, o: &StoredObject) -> serde_json::Value {
    let mut doc = document(o);
    if o.kind == "Service"
        && let Some(status) = s.runtime.status_of(&o.object_ref(), o.generation)
    {
        doc["status"] = status;
    }
    doc
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
    #[serde(rename = "continue")]
    continue_: Option<String>,
}

/// Lists one kind. The short path lists every namespace, like `kubectl get -A`;
/// the namespaced path lists one.
async fn list(
    State(s): State<AppState>,
    t: Target,
    Q(q): Q<ListQuery>,
) -> Result<Json<ResourceList>, ApiError> {
    let (kind, ns) = (kind_of(&t.plural)?, t.ns);
    let limit = q.limit.unwrap_or(500).clamp(1, 5000);
    let cursor = match &q.continue_ {
        Some(c) => Some(c.split_once('/').ok_or_else(|| {
            ApiError::new(ErrorKind::InvalidArgument, format!("invalid continue token {c:?}"))
        })?),
        None => None,
    };
    let at = s.store.last_seq();
    let items = s.store.list(kind.kind, ns.as_deref(), cursor, limit + 1).await?;
    let more = items.len() > limit;
    let items: Vec<_> = items.into_iter().take(limit).collect();
    let continue_ =
        if more { items.last().map(|o| format!("{}/{}", o.namespace, o.name)) } else { None };
    Ok(Json(ResourceList {
        api_version: API_VERSION.to_owned(),
        kind: format!("{}List", kind.kind),
        metadata: ListMeta { continue_, resource_version: at.to_string() },
        items: items.iter().map(|o| live_document(&s, o)).collect(),
    }))
}

async fn get_one(
    State(s): State<AppState>,
    t: Target,
) -> Result<Json<serde_json::Value>, ApiError> {
    let kind = kind_of(&t.plural)?;
    let r = t.object(kind);
    match s.store.get(&r).await? {
        Some(o) => Ok(Json(live_document(&s, &o))),
        None => Err(ApiError::new(
            ErrorKind::NotFound,
            format!("{} {}/{} not found", kind.singular, r.namespace, r.name),
        )),
    }
}

/// Replaces an existing resource; with `metadata.resourceVersion` it succeeds only if
/// nobody changed the resource since that version (409 otherwise).
async fn put(
    State(s): State<AppState>,
    t: Target,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let kind = kind_of(&t.plural)?;
    let andon_core::ObjectRef { namespace: ns, name, .. } = t.object(kind);
    let bytes = read_body(body).await?;
    let manifests = parse_checked(&bytes, Some(&ns))?;
    let [m] = manifests.as_slice() else {
        return Err(ApiError::new(
            ErrorKind::InvalidArgument,
            format!("expected exactly one resource in the body, found {}", manifests.len()),
        ));
    };
    let mismatch = |what: &str, body: &str, path: &str| {
        ApiError::new(
            ErrorKind::InvalidArgument,
            format!("{what} in the body ({body:?}) does not match the URL ({path:?})"),
        )
    };
    if m.kind.kind != kind.kind {
        return Err(mismatch("kind", m.kind.kind, kind.kind));
    }
    if m.metadata.name != name {
        return Err(mismatch("metadata.name", &m.metadata.name, &name));
    }
    if m.metadata.namespace != ns {
        return Err(mismatch("metadata.namespace", &m.metadata.namespace, &ns));
    }
    check_templates(&s, &manifests).await?;
    let mut d = desired(m);
    d.must_exist = true;
    let mut results = s.store.apply(vec![d], &actor(&headers)).await?;
    let r = results
        .pop()
        .ok_or_else(|| ApiError::new(ErrorKind::Internal, "the store returned no result"))?;
    Ok(Json(document(&r.object)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteQuery {
    resource_version: Option<u64>,
}

async fn delete(
    State(s): State<AppState>,
    t: Target,
    Q(q): Q<DeleteQuery>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let kind = kind_of(&t.plural)?;
    let r = t.object(kind);
    let gone =
        s.store.delete(&r, q.resource_version, &actor(&headers)).await.map_err(|e| match e {
            andon_store::StoreError::NotFound(_) => ApiError::new(
                ErrorKind::NotFound,
                format!("{} {}/{} not found", kind.singular, r.namespace, r.name),
            ),
            other => other.into(),
        })?;
    Ok(Json(document(&gone)))
}

/// Reads a request body into manifests, rule files checked in depth.
pub(crate) fn parse_checked(
    bytes: &[u8],
    ns: Option<&str>,
) -> Result<Vec<andon_spec::Manifest>, ApiError> {
    let manifests =
        andon_spec::parse_manifests("request", bytes, ns).map_err(Problem::from_diagnostics)?;
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut diags = andon_rules::file::check_manifests(&manifests, &|_| Some(text.clone()));
    diags.extend(andon_slo::check_manifests(&manifests));
    diags.extend(andon_pipeline::check_manifests(&manifests));
    diags.extend(andon_alertmanager::check_manifests(
        &manifests,
        &andon_alertmanager::system_zones(),
    ));
    diags.extend(andon_delivery::check::check_manifests(
        &manifests,
        &andon_delivery::check::referenced_elsewhere(&manifests),
    ));
    if diags.is_empty() { Ok(manifests) } else { Err(Problem::from_diagnostics(diags).into()) }
}
