//! `GET /api/v1/events`: the journal read from any position, or followed live as
//! server-sent events (each event's `id` is its seq, so `Last-Event-ID` resumes).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use andon_core::Event;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{ApiError, Q};

#[derive(Deserialize)]
pub(crate) struct EventsQuery {
    after: Option<u64>,
    limit: Option<usize>,
    #[serde(default)]
    follow: bool,
}

#[derive(Serialize)]
struct EventPage {
    items: Vec<Event>,
    /// Pass as `after` to read on from here.
    last: u64,
}

pub(crate) async fn list_or_follow(
    State(s): State<AppState>,
    Q(q): Q<EventsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let after = resume.or(q.after).unwrap_or(0);
    if q.follow {
        return Ok(follow(s, after).into_response());
    }
    let limit = crate::error::list_limit(q.limit)?;
    let items = s.store.events(after, limit).await?;
    let last = items.last().map_or(after, |e| e.seq);
    Ok(Json(EventPage { items, last }).into_response())
}

struct FollowState {
    s: AppState,
    cursor: u64,
    buffered: VecDeque<Event>,
    seq: tokio::sync::watch::Receiver<u64>,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

fn follow(
    s: AppState,
    after: u64,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    let init = FollowState {
        seq: s.store.subscribe(),
        shutdown: s.shutdown.clone(),
        s,
        cursor: after,
        buffered: VecDeque::new(),
    };
    let stream = futures_util::stream::unfold(init, |mut st| async move {
        loop {
            if let Some(e) = st.buffered.pop_front() {
                st.cursor = e.seq;
                let data = serde_json::to_string(&e).unwrap_or_default();
                return Some((Ok(SseEvent::default().id(e.seq.to_string()).data(data)), st));
            }
            if *st.shutdown.borrow() {
                return None;
            }
            if *st.seq.borrow_and_update() > st.cursor {
                match st.s.store.events(st.cursor, 500).await {
                    Ok(events) if !events.is_empty() => {
                        st.buffered.extend(events);
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "event follow: read failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                }
            }
            tokio::select! {
                changed = st.seq.changed() => if changed.is_err() { return None },
                _ = st.shutdown.wait_for(|s| *s) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
