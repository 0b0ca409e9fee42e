//! `/api/v1/.../services/{name}/rollout/...`: an operator's commands to a rollout
//! (promote, abort, retry, pause, resume, undo, restart) and its revision history.

use std::collections::HashMap;

use andon_core::{ErrorKind, ObjectRef};
use andon_delivery::rollout::Command;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::error::{ApiError, Q, Target};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CommandQuery {
    /// `promote`: skip every remaining step, pause and analysis.
    #[serde(default)]
    full: bool,
    /// `undo`: the revision number to go back to (default: the previous one).
    to_revision: Option<u64>,
    /// `override-freeze`: why (recorded in the journal).
    reason: Option<String>,
}

fn service_of(t: &Target) -> Result<ObjectRef, ApiError> {
    if t.plural != "services" {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            format!("{} have no rollouts; services do", t.plural),
        ));
    }
    Ok(ObjectRef::new(
        "Service",
        t.ns.as_deref().unwrap_or(andon_core::object::DEFAULT_NAMESPACE),
        t.name.as_deref().unwrap_or_default(),
    ))
}

/// `POST .../rollout/{action}`.
pub(crate) async fn command(
    State(s): State<AppState>,
    t: Target,
    Path(p): Path<HashMap<String, String>>,
    Q(q): Q<CommandQuery>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let key = service_of(&t)?;
    let Some(stored) = s.store.get(&key).await? else {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            format!("service {}/{} not found", key.namespace, key.name),
        ));
    };
    let action = p.get("action").map(String::as_str).unwrap_or_default();
    let c = match action {
        "promote" => Command::Promote { full: q.full },
        "abort" => Command::Abort,
        "retry" => Command::Retry,
        "pause" => Command::Pause,
        "resume" => Command::Resume,
        "override-freeze" => {
            if q.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                return Err(ApiError::new(
                    ErrorKind::InvalidArgument,
                    "override-freeze needs a reason (?reason=…); it is recorded in the journal",
                ));
            }
            Command::OverrideFreeze
        }
        "undo" => return undo(&s, &stored, q.to_revision, &headers).await,
        "restart" => {
            let mut spec = stored.spec.clone();
            spec["restartedAt"] = json!(s.clock.now().to_string());
            let o = replace_spec(&s, &stored, spec, &headers).await?;
            return Ok(Json(json!({"message": "restarting", "generation": o.generation})));
        }
        other => {
            return Err(ApiError::new(
                ErrorKind::NotFound,
                format!(
                    "unknown rollout action {other:?}; known: promote, abort, retry, pause, resume, undo, restart, override-freeze"
                ),
            ));
        }
    };
    let message = s
        .runtime
        .rollouts
        .command(&key, c, crate::api::actor(&headers), q.reason.clone())
        .await
        .map_err(|e| ApiError::new(ErrorKind::Conflict, e))?;
    Ok(Json(json!({"message": message})))
}

/// `GET .../rollout/history`: the revisions kept for undo, oldest first.
pub(crate) async fn history(
    State(s): State<AppState>,
    t: Target,
) -> Result<Json<serde_json::Value>, ApiError> {
    let key = service_of(&t)?;
    if s.store.get(&key).await?.is_none() {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            format!("service {}/{} not found", key.namespace, key.name),
        ));
    }
    let h = s.runtime.rollouts.history(&key);
    Ok(Json(json!({"items": h})))
}

/// Writes a new spec of a stored Service through the same checks as an apply.
async fn replace_spec(
    s: &AppState,
    stored: &andon_store::StoredObject,
    spec: serde_json::Value,
    headers: &HeaderMap,
) -> Result<andon_store::StoredObject, ApiError> {
    let mut doc = stored.to_document(andon_spec::API_VERSION);
    doc["spec"] = spec;
    let manifests = crate::api::parse_checked(doc.to_string().as_bytes(), None)?;
    let [m] = manifests.as_slice() else {
        return Err(ApiError::new(ErrorKind::Internal, "the service did not read back as one"));
    };
    crate::api::check_templates(s, &manifests).await?;
    let mut d = crate::api::desired(m);
    d.must_exist = true;
    d.expected_version = Some(stored.resource_version);
    let mut results = s.store.apply(vec![d], &crate::api::actor(headers)).await?;
    results
        .pop()
        .map(|r| r.object)
        .ok_or_else(|| ApiError::new(ErrorKind::Internal, "the store returned no result"))
}

/// `kubectl rollout undo`: what runs (everything but the rollout fields) goes back to
/// an earlier revision's; replicas, ports and strategy stay.
async fn undo(
    s: &AppState,
    stored: &andon_store::StoredObject,
    to: Option<u64>,
    headers: &HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let key = stored.object_ref();
    let history = s.runtime.rollouts.history(&key);
    let Some(current) = history.last() else {
        return Err(ApiError::new(ErrorKind::Conflict, "no revision history yet"));
    };
    let target = match to {
        Some(n) => history.iter().find(|h| h.number == n).ok_or_else(|| {
            let known: Vec<String> = history.iter().map(|h| h.number.to_string()).collect();
            ApiError::new(
                ErrorKind::NotFound,
                format!("revision {n} not found; kept: {}", known.join(", ")),
            )
        })?,
        None => history.iter().rev().nth(1).ok_or_else(|| {
            ApiError::new(ErrorKind::Conflict, "no previous revision to go back to")
        })?,
    };
    if target.revision == current.revision {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            format!("revision {} is the current one", target.number),
        ));
    }
    let keep = andon_spec::service::ROLLOUT_FIELDS;
    let mut spec = serde_json::Map::new();
    if let Some(cur) = stored.spec.as_object() {
        for (k, v) in cur {
            if keep.contains(&k.as_str()) {
                spec.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(old) = target.spec.as_object() {
        for (k, v) in old {
            if !keep.contains(&k.as_str()) {
                spec.insert(k.clone(), v.clone());
            }
        }
    }
    let o = replace_spec(s, stored, serde_json::Value::Object(spec), headers).await?;
    Ok(Json(json!({
        "message": format!("rolled back to revision {}", target.number),
        "revision": target.revision,
        "generation": o.generation,
    })))
}
