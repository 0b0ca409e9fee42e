//! Alertmanager's API where andon receives alerts: `POST /alertmanager/api/v2/alerts`
//! (what Prometheus sends to its Alertmanagers) and `GET` of the alerts the notifier
//! holds, in Alertmanager's v2 shapes.

use std::collections::BTreeMap;

use andon_core::{ErrorKind, Timestamp};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

use andon_alertmanager::matcher::Matcher;
use andon_alertmanager::silence::{Silence, SilenceState};

use crate::AppState;
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PostableAlert {
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    #[serde(rename = "generatorURL", default)]
    generator_url: String,
}

fn time(field: &str, i: usize, s: &Option<String>) -> Result<Option<i64>, ApiError> {
    match s.as_deref() {
        None | Some("") | Some("0001-01-01T00:00:00Z") => Ok(None),
        Some(t) => Timestamp::parse_rfc3339(t).map(|t| Some(t.millis())).ok_or_else(|| {
            ApiError::new(
                ErrorKind::InvalidArgument,
                format!("[{i}].{field}: {t:?} is not an RFC 3339 time"),
            )
        }),
    }
}

pub(crate) async fn post_alerts(
    State(s): State<AppState>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list: Vec<PostableAlert> = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(ErrorKind::InvalidArgument, format!("expected a JSON array of alerts: {e}"))
    })?;
    let mut alerts = Vec::with_capacity(list.len());
    for (i, p) in list.into_iter().enumerate() {
        if p.labels.is_empty() {
            return Err(ApiError::new(
                ErrorKind::InvalidArgument,
                format!("[{i}].labels: at least one label is required"),
            ));
        }
        let mut a = andon_alertmanager::Alert::new(p.labels);
        a.annotations = p.annotations.into_iter().collect();
        a.starts_at = time("startsAt", i, &p.starts_at)?;
        a.ends_at = time("endsAt", i, &p.ends_at)?;
        a.generator_url = p.generator_url;
        alerts.push(a);
    }
    s.notifier.insert(alerts).map_err(|e| ApiError::new(ErrorKind::InvalidArgument, e))?;
    Ok(Json(json!({})))
}

pub(crate) async fn get_alerts(State(s): State<AppState>) -> Json<serde_json::Value> {
    let fmt = |t: Option<i64>| {
        t.map_or("0001-01-01T00:00:00Z".to_string(), |t| Timestamp::from_millis(t).to_string())
    };
    let items: Vec<serde_json::Value> = s
        .notifier
        .alerts()
        .into_iter()
        .map(|(a, suppressed)| {
            json!({
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": fmt(a.starts_at),
                "endsAt": fmt(a.ends_at),
                "updatedAt": fmt(Some(a.updated_at)),
                "generatorURL": a.generator_url,
                "fingerprint": a.fingerprint().to_string(),
                "status": {"state": if suppressed { "suppressed" } else { "active" }, "silencedBy": [], "inhibitedBy": []},
            })
        })
        .collect();
    Json(json!(items))
}

fn rfc(t: i64) -> String {
    Timestamp::from_millis(t).to_string()
}

/// A silence in Alertmanager's v2 shape (also how it is kept in the journal).
pub(crate) fn silence_json(s: &Silence, state: Option<SilenceState>) -> serde_json::Value {
    let matchers: Vec<serde_json::Value> = s.matchers.iter().map(Matcher::to_api).collect();
    let mut v = json!({
        "id": s.id,
        "matchers": matchers,
        "startsAt": rfc(s.starts_at),
        "endsAt": rfc(s.ends_at),
        "updatedAt": rfc(s.updated_at),
        "createdBy": s.created_by,
        "comment": s.comment,
    });
    if let Some(st) = state {
        v["status"] = json!({"state": st.as_str()});
    }
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableMatcher {
    name: String,
    value: String,
    #[serde(default)]
    is_regex: bool,
    #[serde(default = "yes")]
    is_equal: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PostableSilence {
    #[serde(default)]
    id: String,
    matchers: Vec<PostableMatcher>,
    starts_at: String,
    ends_at: String,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    updated_at: Option<String>,
}

/// Reads a silence from its v2 JSON (API requests and journal events).
pub(crate) fn silence_from(p: PostableSilence) -> Result<Silence, String> {
    let mut matchers = Vec::new();
    for m in p.matchers {
        matchers.push(Matcher::from_api(m.name, m.value, m.is_regex, m.is_equal)?);
    }
    let t = |field: &str, s: &str| {
        Timestamp::parse_rfc3339(s)
            .map(Timestamp::millis)
            .ok_or_else(|| format!("{field}: {s:?} is not an RFC 3339 time"))
    };
    Ok(Silence {
        id: p.id,
        matchers,
        starts_at: t("startsAt", &p.starts_at)?,
        ends_at: t("endsAt", &p.ends_at)?,
        created_by: p.created_by,
        comment: p.comment,
        updated_at: match p.updated_at {
            Some(u) => t("updatedAt", &u)?,
            None => 0,
        },
    })
}

async fn record_silences(s: &AppState, touched: &[Silence], actor: &str) -> Result<(), ApiError> {
    let events = touched
        .iter()
        .map(|x| andon_core::NewEvent {
            kind: "silence.set".into(),
            subject: format!("Silence/{}", x.id),
            actor: actor.to_string(),
            data: silence_json(x, None),
        })
        .collect();
    s.store.append(events).await?;
    Ok(())
}

/// `POST /alertmanager/api/v2/silences`: creates or updates a silence; the change is
/// in the journal before the answer.
pub(crate) async fn post_silence(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p: PostableSilence = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(ErrorKind::InvalidArgument, format!("expected a silence: {e}"))
    })?;
    let silence = silence_from(p).map_err(|e| ApiError::new(ErrorKind::InvalidArgument, e))?;
    let touched = s
        .notifier
        .set_silence(silence)
        .map_err(|e| ApiError::new(ErrorKind::InvalidArgument, e))?;
    record_silences(&s, &touched, &crate::api::actor(&headers)).await?;
    let id = touched.first().map(|x| x.id.clone()).unwrap_or_default();
    Ok(Json(json!({ "silenceID": id })))
}

/// `GET /alertmanager/api/v2/silences`.
pub(crate) async fn get_silences(State(s): State<AppState>) -> Json<serde_json::Value> {
    let mut list = s.notifier.silences();
    list.sort_by(|a, b| a.1.cmp(&b.1).then(b.0.ends_at.cmp(&a.0.ends_at)));
    Json(json!(list.iter().map(|(x, st)| silence_json(x, Some(*st))).collect::<Vec<_>>()))
}

/// `DELETE /alertmanager/api/v2/silence/{id}`: expires it.
pub(crate) async fn delete_silence(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let expired =
        s.notifier.expire_silence(&id).map_err(|e| ApiError::new(ErrorKind::NotFound, e))?;
    record_silences(&s, &[expired], &crate::api::actor(&headers)).await?;
    Ok(Json(json!({})))
}

/// Puts back every silence the journal holds (the newest state of each).
pub(crate) async fn restore_silences(
    store: &andon_store::Store,
    notifier: &crate::notifier::Notifier,
) {
    let events = match store.events_of_kinds(&["silence.set"], 1_000_000).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "silences not restored");
            return;
        }
    };
    for e in events.into_iter().rev() {
        match serde_json::from_value::<PostableSilence>(e.data.clone())
            .map_err(|x| x.to_string())
            .and_then(silence_from)
        {
            Ok(s) => notifier.restore_silence(s),
            Err(err) => {
                tracing::warn!(seq = e.seq, error = %err, "a stored silence does not read back")
            }
        }
    }
}
