//! andon's router: each Service gets a stable address on 127.0.0.1 that balances HTTP/1.1
//! and h2c requests over the service's ready instances (least outstanding requests), with
//! pooled upstream connections, one retry of idempotent requests on another instance when
//! a connection fails, timeouts, `X-Forwarded-*` headers, and per-instance metrics.
//!
//! The table (endpoints by revision, weights, header routes) is replaced atomically: the
//! supervisor publishes endpoints, progressive delivery sets the policy.

mod metrics;
pub mod table;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use andon_core::ObjectRef;
use andon_supervisor::{Endpoint, EndpointSink};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use table::{Backend, Dice, HeaderRoute, Policy, Table, ValueMatch};

type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// Bodies of idempotent requests up to this size are kept so the request can be retried.
const RETRY_BODY_LIMIT: usize = 64 * 1024;
/// How long an instance may take to start answering.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

struct Route {
    key: ObjectRef,
    table: RwLock<Arc<Table>>,
    endpoints: RwLock<Vec<Endpoint>>,
    policy: RwLock<Policy>,
    listener: RwLock<Option<(SocketAddr, JoinHandle<()>)>>,
}

impl Route {
    /// Rebuilds the table from endpoints and policy, keeping in-flight counts of backends that stay.
    fn rebuild(&self) {
        let endpoints = self.endpoints.read().map(|e| e.clone()).unwrap_or_default();
        let policy = self.policy.read().map(|p| p.clone()).unwrap_or_default();
        let old = self.table.read().map(|t| t.clone()).unwrap_or_default();
        let backends = endpoints
            .iter()
            .map(|e| {
                old.backends
                    .iter()
                    .find(|b| b.instance == e.instance && b.addr == e.addr)
                    .cloned()
                    .unwrap_or_else(|| {
                        Arc::new(Backend {
                            instance: e.instance,
                            revision: e.revision.clone(),
                            addr: e.addr,
                            inflight: Default::default(),
                        })
                    })
            })
            .collect();
        if let Ok(mut t) = self.table.write() {
            *t = Arc::new(Table { backends, policy });
        }
    }

    fn snapshot(&self) -> Arc<Table> {
        self.table.read().map(|t| t.clone()).unwrap_or_default()
    }
}

struct Inner {
    routes: RwLock<HashMap<ObjectRef, Arc<Route>>>,
    client: Client<HttpConnector, Body>,
    dice: Dice,
    metrics: metrics::Metrics,
}

/// The router: cheap to clone.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

impl Default for Router {
    fn default() -> Self {
        Router::new()
    }
}

impl Router {
    pub fn new() -> Router {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(2)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .build(connector);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(7, |d| d.as_nanos() as u64);
        Router {
            inner: Arc::new(Inner {
                routes: RwLock::new(HashMap::new()),
                client,
                dice: Dice::new(seed),
                metrics: metrics::Metrics::default(),
            }),
        }
    }

    fn route(&self, key: &ObjectRef) -> Arc<Route> {
        if let Some(r) = self.inner.routes.read().ok().and_then(|m| m.get(key).cloned()) {
            return r;
        }
        let Ok(mut m) = self.inner.routes.write() else {
            return Arc::new(Route::empty(key));
        };
        m.entry(key.clone()).or_insert_with(|| Arc::new(Route::empty(key))).clone()
    }

    /// Serves `key` on `127.0.0.1:port` (0 picks a port), keeping a listener that is already
    /// there when the port is the same. Returns the address.
    pub async fn listen(&self, key: &ObjectRef, port: u16) -> std::io::Result<SocketAddr> {
        let route = self.route(key);
        if let Some((addr, _)) = route
            .listener
            .read()
            .ok()
            .and_then(|l| l.as_ref().map(|(a, h)| (*a, h.is_finished())))
            .filter(|(_, done)| !done)
            && (port == 0 || addr.port() == port)
        {
            return Ok(addr);
        }
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let this = self.clone();
        let r = route.clone();
        let task = tokio::spawn(async move { this.accept(listener, r).await });
        if let Ok(mut l) = route.listener.write()
            && let Some((_, old)) = l.replace((addr, task))
        {
            old.abort();
        }
        Ok(addr)
    }

    /// The stable address of a service, when it is being served.
    pub fn addr(&self, key: &ObjectRef) -> Option<SocketAddr> {
        let routes = self.inner.routes.read().ok()?;
        let l = routes.get(key)?.listener.read().ok()?;
        l.as_ref().map(|(a, _)| *a)
    }

    /// Stops serving a service.
    pub fn remove(&self, key: &ObjectRef) {
        let removed = self.inner.routes.write().ok().and_then(|mut m| m.remove(key));
        if let Some(r) = removed
            && let Some((_, task)) = r.listener.write().ok().and_then(|mut l| l.take())
        {
            task.abort();
        }
    }

    /// Replaces how traffic is split between revisions, atomically.
    pub fn set_policy(&self, key: &ObjectRef, policy: Policy) {
        let r = self.route(key);
        if let Ok(mut p) = r.policy.write() {
            *p = policy;
        }
        r.rebuild();
    }

    /// The current table of a service (for status and tests).
    pub fn table(&self, key: &ObjectRef) -> Arc<Table> {
        self.route(key).snapshot()
    }

    /// Appends the router's metrics in the Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        self.inner.metrics.render(out);
    }

    async fn accept(self, listener: TcpListener, route: Arc<Route>) {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "router accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let this = self.clone();
            let route = route.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let this = this.clone();
                    let route = route.clone();
                    async move { Ok::<_, Infallible>(this.proxy(&route, req, peer).await) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    }

    async fn proxy(
        &self,
        route: &Route,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Body> {
        let started = Instant::now();
        let service = format!("{}/{}", route.key.namespace, route.key.name);
        let (mut parts, body) = req.into_parts();
        let idempotent = matches!(
            parts.method,
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::PUT
                | Method::DELETE
                | Method::TRACE
        );
        let small = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
            .is_some_and(|n| n <= RETRY_BODY_LIMIT)
            || (parts.headers.get(hyper::header::CONTENT_LENGTH).is_none()
                && parts.headers.get(hyper::header::TRANSFER_ENCODING).is_none());
        prepare_headers(&mut parts, peer);
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();

        // Keep the body when the request may be retried; stream it otherwise.
        let mut kept: Option<Bytes> = None;
        let mut streamed: Option<Incoming> = None;
        if idempotent && small {
            match body.collect().await {
                Ok(c) => kept = Some(c.to_bytes()),
                Err(e) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        &format!("reading the request body failed: {e}"),
                    );
                }
            }
        } else {
            streamed = Some(body);
        }
        let table = route.snapshot();
        let mut failed: Option<u32> = None;
        for attempt in 0..2 {
            let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
            let Some(backend) = table.pick(header, &self.inner.dice, failed) else {
                let status = StatusCode::SERVICE_UNAVAILABLE;
                self.inner.metrics.observe(&service, None, status.as_u16(), started.elapsed());
                return error(status, &format!("service {service} has no ready instance"));
            };
            let uri = match format!("http://{}{path}", backend.addr).parse::<hyper::Uri>() {
                Ok(u) => u,
                Err(e) => {
                    return error(StatusCode::BAD_REQUEST, &format!("invalid request path: {e}"));
                }
            };
            let body: Body = match (&kept, streamed.take()) {
                (Some(b), _) => Full::new(b.clone()).map_err(|e| match e {}).boxed(),
                (None, Some(s)) => {
                    s.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>).boxed()
                }
                (None, None) => Full::new(Bytes::new()).map_err(|e| match e {}).boxed(),
            };
            let mut up = Request::from_parts(parts.clone(), body);
            *up.uri_mut() = uri;
            backend.inflight.fetch_add(1, Ordering::Relaxed);
            let result =
                tokio::time::timeout(UPSTREAM_TIMEOUT, self.inner.client.request(up)).await;
            backend.inflight.fetch_sub(1, Ordering::Relaxed);
            match result {
                Ok(Ok(resp)) => {
                    let status = resp.status().as_u16();
                    self.inner.metrics.observe(
                        &service,
                        Some(backend.instance),
                        status,
                        started.elapsed(),
                    );
                    let (mut rparts, rbody) = resp.into_parts();
                    strip_hop_by_hop(&mut rparts.headers);
                    return Response::from_parts(
                        rparts,
                        rbody
                            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
                            .boxed(),
                    );
                }
                Ok(Err(e)) => {
                    // Retry once elsewhere when the request never reached the instance's handler.
                    if attempt == 0 && kept.is_some() && (e.is_connect() || is_reset(&e)) {
                        tracing::debug!(service = %service, instance = backend.instance, error = %e, "retrying on another instance");
                        failed = Some(backend.instance);
                        continue;
                    }
                    self.inner.metrics.observe(
                        &service,
                        Some(backend.instance),
                        502,
                        started.elapsed(),
                    );
                    return error(
                        StatusCode::BAD_GATEWAY,
                        &format!("instance {} of {service} failed: {e}", backend.instance),
                    );
                }
                Err(_) => {
                    self.inner.metrics.observe(
                        &service,
                        Some(backend.instance),
                        504,
                        started.elapsed(),
                    );
                    return error(
                        StatusCode::GATEWAY_TIMEOUT,
                        &format!(
                            "instance {} of {service} did not answer within {}s",
                            backend.instance,
                            UPSTREAM_TIMEOUT.as_secs()
                        ),
                    );
                }
            }
        }
        error(StatusCode::BAD_GATEWAY, &format!("no instance of {service} could take the request"))
    }
}

impl Route {
    fn empty(key: &ObjectRef) -> Route {
        Route {
            key: key.clone(),
            table: RwLock::new(Arc::new(Table::default())),
            endpoints: RwLock::new(Vec::new()),
            policy: RwLock::new(Policy::default()),
            listener: RwLock::new(None),
        }
    }
}

impl EndpointSink for Router {
    fn set_endpoints(&self, service: &ObjectRef, endpoints: Vec<Endpoint>) {
        let r = self.route(service);
        if let Ok(mut e) = r.endpoints.write() {
            *e = endpoints;
        }
        r.rebuild();
    }
}

/// A connection that broke before any response: safe to send elsewhere for idempotent requests.
fn is_reset(e: &hyper_util::client::legacy::Error) -> bool {
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(h) = s.downcast_ref::<hyper::Error>()
            && (h.is_incomplete_message() || h.is_canceled())
        {
            return true;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::BrokenPipe
            )
        {
            return true;
        }
        src = s.source();
    }
    false
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn strip_hop_by_hop(h: &mut hyper::HeaderMap) {
    let listed: Vec<String> = h
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .collect();
    for name in HOP_BY_HOP.iter().map(|s| (*s).to_owned()).chain(listed) {
        h.remove(name.as_str());
    }
}

fn prepare_headers(parts: &mut hyper::http::request::Parts, peer: SocketAddr) {
    strip_hop_by_hop(&mut parts.headers);
    let ip = peer.ip().to_string();
    let xff = match parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {ip}"),
        None => ip,
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        parts.headers.insert(HeaderName::from_static("x-forwarded-for"), v);
    }
    parts
        .headers
        .insert(HeaderName::from_static("x-forwarded-proto"), HeaderValue::from_static("http"));
    let host = parts
        .headers
        .get(hyper::header::HOST)
        .cloned()
        .or_else(|| parts.uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()));
    if let Some(h) = host {
        parts.headers.insert(HeaderName::from_static("x-forwarded-host"), h);
    }
    // Upstream connections are HTTP/1.1 whatever the client spoke.
    parts.version = hyper::Version::HTTP_11;
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    let body = format!("{{\"error\":{}}}", json_string(message));
    let mut r = Response::new(Full::new(Bytes::from(body)).map_err(|e| match e {}).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert(HeaderName::from_static("x-andon-router"), HeaderValue::from_static("error"));
    r
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
