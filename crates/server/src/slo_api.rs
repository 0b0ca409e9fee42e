//! SLO status over HTTP: `GET /api/v1/slo-status` (every SLO) and
//! `GET /api/v1/slo-status/{id}` (one, by its `service-name` id or its name),
//! computed from the TSDB on a blocking thread.

use axum::Json;
use axum::extract::{Path, State};

use crate::AppState;
use crate::error::ApiError;
use andon_core::ErrorKind;

async fn compute(
    s: &AppState,
    only: Option<String>,
) -> Result<Vec<andon_metrics::slo::SloStatus>, ApiError> {
    let engine = s.engine.clone();
    let now = andon_metrics::time::now_ms();
    tokio::task::spawn_blocking(move || {
        let groups = engine.rule_groups();
        engine
            .slos()
            .iter()
            .filter(|(_, slo)| only.as_ref().is_none_or(|id| &slo.id == id || &slo.name == id))
            .map(|(source, slo)| andon_metrics::slo::status(&engine, &groups, source, slo, now))
            .collect()
    })
    .await
    .map_err(|e| ApiError::new(ErrorKind::Internal, format!("computing SLO status: {e}")))
}

pub(crate) async fn list(State(s): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let items = compute(&s, None).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

pub(crate) async fn one(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut items = compute(&s, Some(id.clone())).await?;
    match items.len() {
        0 => Err(ApiError::new(ErrorKind::NotFound, format!("no SLO {id:?}"))),
        1 => Ok(Json(serde_json::to_value(items.remove(0)).unwrap_or_default())),
        n => Err(ApiError::new(
            ErrorKind::Conflict,
            format!("{n} SLOs are named {id:?}; use the id (service-name)"),
        )),
    }
}
