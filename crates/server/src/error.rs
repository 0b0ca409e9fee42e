//! Errors: the server's startup errors, and handler errors rendered as problem documents.

use std::time::Duration;

use andon_api::Problem;
use andon_api::problem::CONTENT_TYPE;
use andon_core::ErrorKind;
use andon_store::StoreError;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot use data dir {0}: {1}")]
    DataDir(String, String),
    #[error("data dir {0} is in use by another andon server (pid {1})")]
    DataDirInUse(String, String),
    #[error("cannot listen on {0}: {1}")]
    Listen(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("metrics engine: {0}")]
    Metrics(String),
}

/// A handler's failure: always answered as `application/problem+json`.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) Problem);

impl ApiError {
    pub(crate) fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        ApiError(Problem::new(kind, detail))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.kind() == ErrorKind::Internal {
            tracing::error!(error = %e, "store error");
        }
        ApiError::new(e.kind(), e.to_string())
    }
}

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        ApiError(p)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status_code();
        let body = serde_json::to_vec(&self.0).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        resp
    }
}

pub(crate) async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        format!("no route for {} {}", req.method(), req.uri().path()),
    )
}

/// Bounds the time to produce a response (streams, once started, are not cut).
pub(crate) async fn with_timeout(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            ErrorKind::Timeout,
            format!("the request took longer than {}s", limit.as_secs()),
        )
        .into_response(),
    }
}

/// A query-string extractor whose rejections are problem documents.
pub(crate) struct Q<T>(pub(crate) T);

impl<T, S> axum::extract::FromRequestParts<S> for Q<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| Q(q.0)).map_err(
            |e| {
                ApiError::new(
                    ErrorKind::InvalidArgument,
                    format!("invalid query: {}", e.body_text()),
                )
            },
        )
    }
}

/// The resources a request names, from either path shape: `/api/v1/{plural}[/{name}]`
/// (no namespace: `default` for one resource, every namespace for a list) or
/// `/api/v1/namespaces/{ns}/{plural}[/{name}]`.
pub(crate) struct Target {
    pub(crate) ns: Option<String>,
    pub(crate) plural: String,
    pub(crate) name: Option<String>,
}

impl Target {
    /// The one resource named; its namespace is `default` on the short path.
    pub(crate) fn object(&self, kind: &andon_spec::KindInfo) -> andon_core::ObjectRef {
        andon_core::ObjectRef::new(
            kind.kind,
            self.ns.as_deref().unwrap_or(andon_core::object::DEFAULT_NAMESPACE),
            self.name.as_deref().unwrap_or_default(),
        )
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Target {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(mut p) = axum::extract::Path::<
            std::collections::HashMap<String, String>,
        >::from_request_parts(parts, state)
        .await
        .map_err(|e| {
            ApiError::new(ErrorKind::InvalidArgument, format!("invalid path: {}", e.body_text()))
        })?;
        Ok(Target {
            ns: p.remove("ns"),
            plural: p.remove("plural").unwrap_or_default(),
            name: p.remove("name"),
        })
    }
}

/// A list endpoint's `limit` (default 100): between 1 and 10,000.
pub(crate) fn list_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(100);
    if limit == 0 || limit > 10_000 {
        return Err(ApiError::new(
            ErrorKind::InvalidArgument,
            format!("limit must be between 1 and 10000, found {limit}"),
        ));
    }
    Ok(limit)
}
