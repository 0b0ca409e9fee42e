//! `/api/v1/runs…` (workflow runs: list, one, logs — followed live as server-sent
//! events —, artifacts, cancel, rerun) and `…/repositories/{name}/hooks/push` (a git
//! post-receive hook or a GitHub/Gitea push webhook: fetch now and run what is new).

use std::convert::Infallible;
use std::time::Duration;

use andon_core::ErrorKind;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::api::actor;
use crate::error::{ApiError, Q, Target, list_limit};
use crate::pipelines::{LogLine, RunRecord};

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    repository: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn list(
    State(s): State<AppState>,
    Q(q): Q<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = list_limit(q.limit)?;
    let runs = s.runtime.pipelines.runs(q.repository.as_deref(), limit);
    Ok(Json(json!({"items": runs})))
}

fn run_id(text: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| {
        ApiError::new(ErrorKind::InvalidArgument, format!("{text:?} is not a run id (a number)"))
    })
}

fn find(s: &AppState, id: &str) -> Result<RunRecord, ApiError> {
    let id = run_id(id)?;
    s.runtime
        .pipelines
        .run(id)
        .ok_or_else(|| ApiError::new(ErrorKind::NotFound, format!("run {id} not found")))
}

/// One run with its jobs' step summaries and its artifacts.
pub(crate) async fn one(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let run = find(&s, &id)?;
    Ok(Json(detail(&s, &run)))
}

pub(crate) fn detail(s: &AppState, run: &RunRecord) -> serde_json::Value {
    let p = &s.runtime.pipelines;
    let mut v = serde_json::to_value(run).unwrap_or_default();
    let mut summaries = serde_json::Map::new();
    for j in &run.jobs {
        if let Some(text) = p.summary(run.id, j.key) {
            summaries.insert(j.name.clone(), json!(text));
        }
    }
    v["summaries"] = serde_json::Value::Object(summaries);
    let store = andon_runner::store::Store::new(p.store_dir());
    v["artifacts"] = p
        .artifacts(run.id)
        .into_iter()
        .map(|(name, files)| {
            let files: Vec<serde_json::Value> = files
                .iter()
                .map(|f| {
                    let size = std::fs::metadata(store.blob(&f.digest)).map_or(0, |m| m.len());
                    json!({"path": f.path, "sha256": f.digest, "size": size})
                })
                .collect();
            json!({"name": name, "files": files})
        })
        .collect();
    v
}

#[derive(Deserialize)]
pub(crate) struct LogsQuery {
    #[serde(default)]
    follow: bool,
    /// Only this job (its display name or its workflow job id).
    job: Option<String>,
}

/// Reads complete lines of a log file from `offset`: the lines and the new offset.
fn read_from(path: &std::path::Path, offset: u64) -> (Vec<LogLine>, u64) {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else { return (Vec::new(), offset) };
    if f.seek(SeekFrom::Start(offset)).is_err() {
        return (Vec::new(), offset);
    }
    let mut buf = Vec::new();
    // At most 4 MiB per read: a follower of a huge log catches up in pieces.
    let _ = f.take(4 << 20).read_to_end(&mut buf);
    let Some(end) = buf.iter().rposition(|b| *b == b'\n') else { return (Vec::new(), offset) };
    let lines = buf[..end]
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice::<LogLine>(l).ok())
        .collect();
    (lines, offset + end as u64 + 1)
}

pub(crate) async fn logs(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<LogsQuery>,
) -> Result<Response, ApiError> {
    let run = find(&s, &id)?;
    let p = s.runtime.pipelines.clone();
    let path = p.log_path(run.id);
    let keys: Option<Vec<usize>> = match &q.job {
        None => None,
        Some(j) => {
            let keys: Vec<usize> =
                run.jobs.iter().filter(|x| x.name == *j || x.job == *j).map(|x| x.key).collect();
            if keys.is_empty() && (run.finished() || !run.graph.iter().any(|g| g.id == *j)) {
                return Err(ApiError::new(
                    ErrorKind::NotFound,
                    format!("run {} has no job {j:?}", run.id),
                ));
            }
            Some(keys)
        }
    };
    let wanted_job = q.job.clone();
    let wanted = move |l: &LogLine| match (&wanted_job, l.job) {
        (None, _) => true,
        (Some(j), Some(k)) => l.name == *j || keys.as_ref().is_some_and(|ks| ks.contains(&k)),
        (Some(_), None) => true,
    };
    if !q.follow {
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let (lines, next) = read_from(&path, offset);
            if next == offset {
                break;
            }
            out.extend(lines.into_iter().filter(|l| wanted(l)));
            offset = next;
        }
        return Ok(Json(json!({"items": out})).into_response());
    }
    // Follow: what is written, then each new piece, until the run is over.
    let live = p.follow_log(run.id);
    let shutdown = s.shutdown.clone();
    let id = run.id;
    let stream = futures_util::stream::unfold(
        (0u64, live, shutdown, false),
        move |(offset, mut live, mut shutdown, done)| {
            let path = path.clone();
            let p = p.clone();
            let wanted = wanted.clone();
            async move {
                if done {
                    return None;
                }
                loop {
                    let (lines, next) = read_from(&path, offset);
                    if next != offset {
                        let events: Vec<Result<SseEvent, Infallible>> = lines
                            .iter()
                            .filter(|l| wanted(l))
                            .map(|l| {
                                Ok(SseEvent::default()
                                    .data(serde_json::to_string(l).unwrap_or_default()))
                            })
                            .collect();
                        return Some((
                            futures_util::stream::iter(events),
                            (next, live, shutdown, false),
                        ));
                    }
                    let Some(rx) = &mut live else {
                        // Over, and everything written has been sent: the run's end.
                        let run = p.run(id).unwrap_or_default();
                        let end = SseEvent::default().event("end").data(
                            json!({"status": run.status, "conclusion": run.conclusion}).to_string(),
                        );
                        return Some((
                            futures_util::stream::iter(vec![Ok(end)]),
                            (offset, None, shutdown, true),
                        ));
                    };
                    let over = tokio::select! {
                        r = rx.changed() => r.is_err(),
                        _ = shutdown.wait_for(|s| *s) => true,
                    };
                    if over {
                        // One more look at the file, then the end.
                        live = None;
                    }
                }
            }
        },
    );
    use futures_util::StreamExt;
    Ok(Sse::new(stream.flatten())
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// `POST /api/v1/runs/{id}/cancel`.
pub(crate) async fn cancel(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let run = find(&s, &id)?;
    if run.finished()
        || !s.runtime.pipelines.cancel(run.id, &format!("cancelled by {}", actor(&headers)))
    {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            format!("run {} is already {}", run.id, run.conclusion.as_deref().unwrap_or("over")),
        ));
    }
    Ok(Json(json!({"run": run.id, "cancelling": true})))
}

/// `POST /api/v1/runs/{id}/rerun`: the same commit and workflow, next attempt.
pub(crate) async fn rerun(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let run = find(&s, &id)?;
    let new = s
        .runtime
        .pipelines
        .rerun(run.id, &actor(&headers))
        .await
        .map_err(|e| ApiError::new(ErrorKind::Conflict, e))?;
    let record = s.runtime.pipelines.run(new).unwrap_or_default();
    Ok(Json(serde_json::to_value(record).unwrap_or_default()))
}

/// `GET /api/v1/runs/{id}/artifacts/{name}/{*path}`: one file of an artifact.
pub(crate) async fn artifact_file(
    State(s): State<AppState>,
    Path((id, name, path)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let run = find(&s, &id)?;
    let p = &s.runtime.pipelines;
    let not_found = || {
        ApiError::new(
            ErrorKind::NotFound,
            format!("run {} has no artifact file {name}/{path}", run.id),
        )
    };
    let entry = p
        .artifacts(run.id)
        .into_iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, files)| files.into_iter().find(|f| f.path == path))
        .ok_or_else(not_found)?;
    let blob = andon_runner::store::Store::new(p.store_dir()).blob(&entry.digest);
    let bytes = tokio::fs::read(&blob).await.map_err(|_| not_found())?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// What a push hook's body says: GitHub/Gitea JSON (`ref`, `after`), or a git
/// post-receive hook's `old new ref` lines; empty means "look now".
fn pushed_refs(body: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_string())?;
    let t = text.trim();
    if t.is_empty() {
        return Ok(Vec::new());
    }
    if t.starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(t).map_err(|e| format!("the body is not JSON: {e}"))?;
        return match v["ref"].as_str() {
            Some(r) => Ok(vec![r.to_string()]),
            None => Err("a push payload needs \"ref\" (like refs/heads/main)".into()),
        };
    }
    let mut refs = Vec::new();
    for (n, line) in t.lines().enumerate() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            [old, new, r]
                if old.chars().all(|c| c.is_ascii_hexdigit())
                    && new.chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                refs.push((*r).to_string())
            }
            _ => {
                return Err(format!(
                    "line {}: expected \"<old-sha> <new-sha> <ref>\" as a post-receive hook reads them",
                    n + 1
                ));
            }
        }
    }
    Ok(refs)
}

/// The stored Repository a `…/repositories/{name}/…` path names.
async fn repository(
    s: &AppState,
    t: &Target,
    what: &str,
) -> Result<andon_core::ObjectRef, ApiError> {
    if t.plural != "repositories" {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            format!("{} have no {what}; repositories do", t.plural),
        ));
    }
    let key = t.object(&andon_spec::kinds::REPOSITORY);
    if s.store.get(&key).await?.is_none() {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            format!("repository {}/{} not found", key.namespace, key.name),
        ));
    }
    Ok(key)
}

/// `POST …/repositories/{name}/hooks/push`.
pub(crate) async fn push_hook(
    State(s): State<AppState>,
    t: Target,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let key = repository(&s, &t, "push hooks").await?;
    let event = ["x-github-event", "x-gitea-event", "x-gogs-event"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .unwrap_or("push");
    if event == "ping" {
        return Ok(Json(json!({"ok": true})));
    }
    if event != "push" {
        return Ok(Json(json!({"ignored": format!("{event} events are not handled")})));
    }
    let refs = pushed_refs(&body).map_err(|e| ApiError::new(ErrorKind::InvalidArgument, e))?;
    let pusher =
        if headers.contains_key("andon-actor") { actor(&headers) } else { "push-hook".into() };
    let runs = s
        .runtime
        .pipelines
        .pushed(&key, &pusher)
        .await
        .map_err(|e| ApiError::new(ErrorKind::Unavailable, e))?;
    Ok(Json(json!({"refs": refs, "runs": runs})))
}

#[derive(Deserialize)]
pub(crate) struct DispatchBody {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    #[serde(default)]
    inputs: serde_json::Map<String, serde_json::Value>,
}

/// `POST …/repositories/{name}/workflows/{workflow}/dispatches` (GitHub's shape): runs a
/// workflow with `workflow_dispatch` on `ref` (default: the default branch); answers the
/// run.
pub(crate) async fn dispatch(
    State(s): State<AppState>,
    t: Target,
    Path(p): Path<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let key = repository(&s, &t, "workflows").await?;
    let b: DispatchBody = if body.iter().all(u8::is_ascii_whitespace) {
        DispatchBody { git_ref: None, inputs: serde_json::Map::new() }
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                ErrorKind::InvalidArgument,
                format!("the body is not a dispatch ({{\"ref\", \"inputs\"}}): {e}"),
            )
        })?
    };
    let inputs = b
        .inputs
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
        .collect();
    let workflow = p.get("workflow").cloned().unwrap_or_default();
    let id = s
        .runtime
        .pipelines
        .dispatch(&key, &workflow, b.git_ref.as_deref(), inputs, &actor(&headers))
        .await
        .map_err(|e| ApiError::new(ErrorKind::Unprocessable, e))?;
    let record = s.runtime.pipelines.run(id).unwrap_or_default();
    Ok(Json(serde_json::to_value(record).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::pushed_refs;

    #[test]
    fn push_bodies() {
        assert_eq!(pushed_refs(b"").unwrap(), Vec::<String>::new());
        assert_eq!(
            pushed_refs(br#"{"ref":"refs/heads/main","after":"abc"}"#).unwrap(),
            vec!["refs/heads/main"]
        );
        assert_eq!(pushed_refs(b"0000 1234abcd refs/heads/dev\n").unwrap(), vec!["refs/heads/dev"]);
        assert_eq!(
            pushed_refs(b"refs/heads/x\n").unwrap_err(),
            "line 1: expected \"<old-sha> <new-sha> <ref>\" as a post-receive hook reads them"
        );
        assert!(pushed_refs(b"{\"after\":1}").unwrap_err().contains("needs \"ref\""));
        assert!(pushed_refs(b"{nope").unwrap_err().starts_with("the body is not JSON"));
    }
}
