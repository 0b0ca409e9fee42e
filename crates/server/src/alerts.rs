//! Alert history: every alert that starts firing or is resolved becomes a journal
//! event (`alert.firing`, `alert.resolved`, subject `Alert/<alertname>`), so it is
//! durable, ordered with everything else andon records, and readable at
//! `GET /api/v1/alert-history` (`andon alerts history`). The notifier's deliveries
//! (`notification.sent`, `notification.failed`) read back the same way at
//! `GET /api/v1/notifications` (`andon alerts notifications`).

use andon_core::NewEvent;
use andon_metrics::rules::AlertEvent;
use andon_store::Store;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::AppState;
use crate::error::{ApiError, Q};

fn event(e: &AlertEvent) -> NewEvent {
    let t = &e.transition;
    let firing = t.state == andon_rules::AlertState::Firing;
    let labels: serde_json::Map<String, serde_json::Value> =
        t.labels.iter().map(|l| (l.name.to_string(), json!(l.value.to_string()))).collect();
    NewEvent {
        kind: if firing { "alert.firing" } else { "alert.resolved" }.into(),
        subject: format!("Alert/{}", t.alertname),
        actor: "rules".into(),
        data: json!({
            "labels": labels,
            "annotations": t.annotations,
            "activeAt": andon_core::Timestamp::from_millis(t.active_at).to_string(),
            "at": andon_core::Timestamp::from_millis(t.at).to_string(),
            "value": t.value,
            "source": e.source,
            "group": e.group,
        }),
    }
}

/// Writes alert transitions to the journal, batching what arrives together.
pub(crate) async fn record(store: Store, mut rx: UnboundedReceiver<AlertEvent>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![event(&first)];
        while let Ok(more) = rx.try_recv() {
            batch.push(event(&more));
        }
        if let Err(e) = store.append(batch).await {
            tracing::error!(error = %e, "alert history not recorded");
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct HistoryQuery {
    limit: Option<usize>,
    alertname: Option<String>,
}

/// The newest alert transitions, newest first.
pub(crate) async fn history(
    State(s): State<AppState>,
    Q(q): Q<HistoryQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = crate::error::list_limit(q.limit)?;
    let items = match &q.alertname {
        Some(name) => s.store.events_about(&format!("Alert/{name}"), limit).await?,
        None => s.store.events_of_kinds(&["alert.firing", "alert.resolved"], limit).await?,
    };
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
pub(crate) struct NotificationsQuery {
    limit: Option<usize>,
    receiver: Option<String>,
}

/// The newest notification attempts (sent, or failed after retries), newest first.
pub(crate) async fn notifications(
    State(s): State<AppState>,
    Q(q): Q<NotificationsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = crate::error::list_limit(q.limit)?;
    let items = match &q.receiver {
        Some(r) => s.store.events_about(&format!("Receiver/{r}"), limit).await?,
        None => {
            s.store.events_of_kinds(&["notification.sent", "notification.failed"], limit).await?
        }
    };
    Ok(Json(json!({ "items": items })))
}
