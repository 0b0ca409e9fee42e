//! `GET /api/v1/{plural}/{name}/logs`: a service's captured output, filtered by time and
//! instance, or followed live as server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use andon_core::object::DEFAULT_NAMESPACE;
use andon_core::{Clock, ErrorKind, ObjectRef, Timestamp};
use andon_supervisor::LogLine;
use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;
use crate::error::{ApiError, Q, Target};

#[derive(Deserialize)]
pub(crate) struct LogsQuery {
    since: Option<String>,
    instance: Option<u32>,
    #[serde(default)]
    follow: bool,
}

pub(crate) async fn logs(
    State(s): State<AppState>,
    t: Target,
    Q(q): Q<LogsQuery>,
) -> Result<Response, ApiError> {
    let (plural, ns, name) = (
        t.plural,
        t.ns.unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
        t.name.unwrap_or_default(),
    );
    if plural != "services" {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            format!("{plural} have no logs; services do"),
        ));
    }
    let key = ObjectRef::new("Service", &ns, &name);
    let since = match &q.since {
        Some(text) => {
            let d = andon_core::time::parse_duration(text).ok_or_else(|| {
                ApiError::new(
                    ErrorKind::InvalidArgument,
                    format!("since: {text:?} is not a duration such as 30s, 5m or 1h"),
                )
            })?;
            Some(Timestamp(
                s.clock.now().millis() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2),
            ))
        }
        None => None,
    };
    if s.store.get(&key).await?.is_none() {
        return Err(ApiError::new(ErrorKind::NotFound, format!("service {ns}/{name} not found")));
    }
    let Some(store) = s.runtime.supervisor.logs(&key) else {
        return Ok(Json(serde_json::json!({"items": []})).into_response());
    };
    let live = store.subscribe();
    let lines = store.read(since, q.instance);
    if !q.follow {
        return Ok(Json(serde_json::json!({"items": lines})).into_response());
    }
    let instance = q.instance;
    let shutdown = s.shutdown.clone();
    let backlog =
        futures_util::stream::iter(lines.into_iter().map(|l| Ok::<_, Infallible>(sse(&l))));
    let rest = futures_util::stream::unfold(
        (live, shutdown),
        move |(mut live, mut shutdown)| async move {
            loop {
                let next = tokio::select! {
                    r = live.recv() => Some(r),
                    _ = shutdown.wait_for(|s| *s) => None,
                };
                let line = match next? {
                    Ok(l) if instance.is_none_or(|i| i == l.instance) => l,
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => LogLine {
                        time: andon_core::SystemClock.now(),
                        instance: u32::MAX,
                        stream: "andon",
                        text: format!("[{n} lines skipped: the follower was too slow]"),
                    },
                    Err(_) => return None,
                };
                return Some((Ok(sse(&line)), (live, shutdown)));
            }
        },
    );
    use futures_util::StreamExt;
    Ok(Sse::new(backlog.chain(rest))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

fn sse(l: &LogLine) -> SseEvent {
    SseEvent::default().data(serde_json::to_string(l).unwrap_or_default())
}
