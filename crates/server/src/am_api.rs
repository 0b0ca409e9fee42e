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
