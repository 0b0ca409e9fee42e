//! A small HTTP/1.1 client for andon's API: JSON and YAML bodies, problem documents
//! turned into errors, and streaming for server-sent events.

use std::time::Duration;

use andon_api::Problem;
use http_body_util::{BodyExt, Full};
pub use hyper::Method;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Why a request failed, with the exit code the CLI uses for it.
#[derive(Debug)]
pub enum ClientError {
    /// The server could not be reached (exit 3).
    Unreachable(String),
    /// The server answered with a problem document.
    Problem(Problem),
    /// Anything else unexpected (exit 1).
    Other(String),
}

impl ClientError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Unreachable(_) => 3,
            ClientError::Problem(p) if matches!(p.status, 400 | 413 | 422) => 2,
            _ => 1,
        }
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unreachable(m) | ClientError::Other(m) => f.write_str(m),
            ClientError::Problem(p) => {
                write!(f, "{} ({}): {}", p.title, p.status, p.detail)?;
                if p.errors.len() > 1 {
                    for e in &p.errors {
                        write!(f, "\n  {e}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// A client bound to one andon server.
#[derive(Clone)]
pub struct Client {
    base: String,
    actor: String,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Client {
    /// `base` is like `http://127.0.0.1:7070`.
    pub fn new(base: &str) -> Result<Client, ClientError> {
        let base = base.trim_end_matches('/').to_owned();
        if !base.starts_with("http://") {
            return Err(ClientError::Other(format!("server URL {base:?} must start with http://")));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        let http = HyperClient::builder(TokioExecutor::new()).build(connector);
        let actor = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "cli".into());
        Ok(Client { base, actor, http })
    }

    /// Names who performs the writes sent through this client (the `Andon-Actor` header).
    pub fn with_actor(mut self, actor: &str) -> Client {
        actor.clone_into(&mut self.actor);
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request and returns the streaming response (any status).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<Response<Incoming>, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut req =
            Request::builder().method(method).uri(&url).header("andon-actor", &self.actor);
        let bytes = match body {
            Some((ct, b)) => {
                req = req.header(hyper::header::CONTENT_TYPE, ct);
                Bytes::from(b)
            }
            None => Bytes::new(),
        };
        let req = req
            .body(Full::new(bytes))
            .map_err(|e| ClientError::Other(format!("invalid request {url}: {e}")))?;
        self.http.request(req).await.map_err(|e| {
            let mut msg = e.to_string();
            let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            ClientError::Unreachable(format!(
                "cannot reach the andon server at {}: {msg}",
                self.base
            ))
        })
    }

    /// Sends a request and reads a JSON answer; non-2xx answers become errors.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<serde_json::Value, ClientError> {
        let resp = self.send(method, path, body).await?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| {
                ClientError::Unreachable(format!(
                    "connection to {} failed while reading: {e}",
                    self.base
                ))
            })?
            .to_bytes();
        if !status.is_success() {
            return Err(problem(status, &bytes));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Other(format!("the server sent invalid JSON: {e}")))
    }

    pub async fn get_json(&self, path: &str) -> Result<serde_json::Value, ClientError> {
        self.json(Method::GET, path, None).await
    }
}

fn problem(status: StatusCode, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<Problem>(body) {
        Ok(p) => ClientError::Problem(p),
        Err(_) => ClientError::Other(format!(
            "the server answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(500)]).trim()
        )),
    }
}

/// Reads server-sent events from a streaming response, calling `on_data` with each `data:` payload.
pub async fn read_sse(
    resp: Response<Incoming>,
    mut on_data: impl FnMut(&str) -> bool,
) -> Result<(), ClientError> {
    if !resp.status().is_success() {
        let status = resp.status();
        let bytes = resp.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
        return Err(problem(status, &bytes));
    }
    let mut body = resp.into_body();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ClientError::Unreachable(format!("the event stream broke: {e}")))?;
        let Some(chunk) = frame.data_ref() else { continue };
        buf.extend_from_slice(chunk);
        while let Some(end) = find_blank_line(&buf) {
            let block: Vec<u8> = buf.drain(..end.1).collect();
            let text = String::from_utf8_lossy(&block[..end.0]);
            let data: Vec<&str> = text
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if !data.is_empty() && !on_data(&data.join("\n")) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Finds the end of one SSE block: (content length, length including the blank line).
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    (0..buf.len()).find_map(|i| {
        if buf[i..].starts_with(b"\n\n") {
            Some((i, i + 2))
        } else if buf[i..].starts_with(b"\r\n\r\n") {
            Some((i, i + 4))
        } else {
            None
        }
    })
}
