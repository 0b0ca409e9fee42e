//! andon's router: each Service gets a stable address on 127.0.0.1 that balances HTTP/1.1
//! and h2c requests over the service's ready instances (least outstanding requests), with
//! pooled upstream connections, one retry of idempotent requests on another instance when
//! a connection fails, timeouts, `X-Forwarded-*` headers, and per-instance metrics.
//!
//! The table (endpoints by revision, weights, header routes) is replaced atomically: the
//! supervisor publishes endpoints, progressive delivery sets the policy.

mod h1;
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
use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use table::{Backend, Dice, HeaderRoute, Policy, Table, ValueMatch};

/// A body the router sends either way without boxing: bytes it holds, or a stream it relays.
pub enum ProxyBody {
    Bytes(Option<Bytes>),
    Stream(Incoming),
}

impl hyper::body::Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ProxyBody::Bytes(b) => std::task::Poll::Ready(
                b.take().filter(|b| !b.is_empty()).map(|b| Ok(hyper::body::Frame::data(b))),
            ),
            ProxyBody::Stream(s) => std::pin::Pin::new(s).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Bytes(b) => b.as_ref().is_none_or(Bytes::is_empty),
            ProxyBody::Stream(s) => s.is_end_stream(),
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            ProxyBody::Bytes(b) => {
                hyper::body::SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64))
            }
            ProxyBody::Stream(s) => s.size_hint(),
        }
    }
}

type Body = ProxyBody;

/// Bodies of idempotent requests up to this size are kept so the request can be retried.
const RETRY_BODY_LIMIT: usize = 64 * 1024;
/// How long an instance may take to start answering.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

struct Route {
    /// `namespace/name`, the `service` label.
    label: String,
    metrics: Arc<metrics::ServiceMetrics>,
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
                        Arc::new(Backend::new(e.instance, e.revision.clone(), e.addr))
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
    /// The router's own single-threaded runtime: proxying is short, IO-bound work that
    /// runs best without cross-thread wake-ups (like one nginx worker).
    rt: tokio::runtime::Handle,
    routes: RwLock<HashMap<ObjectRef, Arc<Route>>>,
    client: Client<HttpConnector, Body>,
    /// Idle upstream connections of the HTTP/1.1 fast path.
    pool: h1::Pool,
    dice: Dice,
    /// Metrics of services that were removed, kept so counters never go backwards.
    retired: RwLock<Vec<(String, Arc<metrics::ServiceMetrics>)>>,
    /// source service → routes that serve the same endpoints (preview addresses).
    mirrors: RwLock<HashMap<ObjectRef, Vec<ObjectRef>>>,
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
                rt: router_runtime(),
                routes: RwLock::new(HashMap::new()),
                client,
                pool: h1::Pool::default(),
                dice: Dice::new(seed),
                retired: RwLock::new(Vec::new()),
                mirrors: RwLock::new(HashMap::new()),
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
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let this = self.clone();
        let r = route.clone();
        let task = self.inner.rt.spawn(async move {
            match TcpListener::from_std(listener) {
                Ok(l) => this.accept(l, r).await,
                Err(e) => tracing::error!(error = %e, %addr, "router cannot listen"),
            }
        });
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

    /// Makes `mirror` serve `source`'s endpoints, now and whenever they change (with
    /// its own policy): a preview address.
    pub fn mirror(&self, mirror: &ObjectRef, source: &ObjectRef) {
        // Registered and copied under the lock `set_endpoints` takes to update mirrors:
        // a change of the source's endpoints lands either before the copy or after it.
        let Ok(mut m) = self.inner.mirrors.write() else { return };
        let list = m.entry(source.clone()).or_default();
        if !list.contains(mirror) {
            list.push(mirror.clone());
        }
        let r = self.route(mirror);
        if let Ok(mut e) = r.endpoints.write() {
            *e = self.endpoints(source);
        }
        r.rebuild();
    }

    /// Stops serving a service (and mirroring it or into it).
    pub fn remove(&self, key: &ObjectRef) {
        if let Ok(mut m) = self.inner.mirrors.write() {
            m.remove(key);
            for list in m.values_mut() {
                list.retain(|k| k != key);
            }
        }
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

    /// The ready endpoints of a service, as last set.
    pub fn endpoints(&self, key: &ObjectRef) -> Vec<Endpoint> {
        self.route(key).endpoints.read().map(|e| e.clone()).unwrap_or_default()
    }

    /// The current table of a service (for status and tests).
    pub fn table(&self, key: &ObjectRef) -> Arc<Table> {
        self.route(key).snapshot()
    }

    /// Appends the router's metrics in the Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        let mut all: Vec<(String, Arc<metrics::ServiceMetrics>)> = self
            .inner
            .routes
            .read()
            .map(|m| m.values().map(|r| (r.label.clone(), r.metrics.clone())).collect())
            .unwrap_or_default();
        if let Ok(r) = self.inner.retired.read() {
            all.extend(
                r.iter()
                    .filter(|(l, _)| !all.iter().any(|(a, _)| a == l))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        metrics::render(&all, out);
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
                // HTTP/1.1 is served directly; what that path does not take goes to hyper.
                let Some(rest) = h1::serve(&this, &route, stream, peer).await else { return };
                let svc = hyper::service::service_fn(move |req| {
                    let this = this.clone();
                    let route = route.clone();
                    async move { Ok::<_, Infallible>(this.proxy(&route, req, peer).await) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = builder.serve_connection(TokioIo::new(rest), svc).await;
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
        let service = route.label.as_str();
        let m = &route.metrics;
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
        let path = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| hyper::http::uri::PathAndQuery::from_static("/"));

        // Keep the body when the request may be retried; stream it otherwise.
        let mut kept: Option<Bytes> = None;
        let mut streamed: Option<Incoming> = None;
        if idempotent && small && hyper::body::Body::is_end_stream(&body) {
            kept = Some(Bytes::new());
        } else if idempotent && small {
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
                m.observe(None, status.as_u16(), started.elapsed());
                return error(status, &format!("service {service} has no ready instance"));
            };
            let uri = match format!("http://{}{path}", backend.addr).parse::<hyper::Uri>() {
                Ok(u) => u,
                Err(e) => {
                    return error(StatusCode::BAD_REQUEST, &format!("invalid request path: {e}"));
                }
            };
            let body = match (&kept, streamed.take()) {
                (Some(b), _) => ProxyBody::Bytes(Some(b.clone())),
                (None, Some(s)) => ProxyBody::Stream(s),
                (None, None) => ProxyBody::Bytes(None),
            };
            // The request is only needed again for a retry, which needs a kept body.
            let up_parts = if kept.is_some() && attempt == 0 {
                parts.clone()
            } else {
                std::mem::replace(&mut parts, Request::new(()).into_parts().0)
            };
            let mut up = Request::from_parts(up_parts, body);
            *up.uri_mut() = uri;
            backend.inflight.fetch_add(1, Ordering::Relaxed);
            let result =
                tokio::time::timeout(UPSTREAM_TIMEOUT, self.inner.client.request(up)).await;
            backend.inflight.fetch_sub(1, Ordering::Relaxed);
            match result {
                Ok(Ok(resp)) => {
                    let status = resp.status().as_u16();
                    m.observe(
                        Some((&backend.revision, backend.instance)),
                        status,
                        started.elapsed(),
                    );
                    let (mut rparts, rbody) = resp.into_parts();
                    strip_hop_by_hop(&mut rparts.headers);
                    return Response::from_parts(rparts, ProxyBody::Stream(rbody));
                }
                Ok(Err(e)) => {
                    // Retry once elsewhere when the request never reached the instance's handler.
                    if attempt == 0 && kept.is_some() && (e.is_connect() || is_reset(&e)) {
                        tracing::debug!(service = %service, instance = backend.instance, error = %e, "retrying on another instance");
                        failed = Some(backend.instance);
                        continue;
                    }
                    m.observe(Some((&backend.revision, backend.instance)), 502, started.elapsed());
                    return error(
                        StatusCode::BAD_GATEWAY,
                        &format!("instance {} of {service} failed: {e}", backend.instance),
                    );
                }
                Err(_) => {
                    m.observe(Some((&backend.revision, backend.instance)), 504, started.elapsed());
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
            label: format!("{}/{}", key.namespace, key.name),
            metrics: Arc::default(),
            table: RwLock::new(Arc::new(Table::default())),
            endpoints: RwLock::new(Vec::new()),
            policy: RwLock::new(Policy::default()),
            listener: RwLock::new(None),
        }
    }
}

/// Starts the router's runtime on its own thread; falls back to the caller's runtime.
fn router_runtime() -> tokio::runtime::Handle {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().name("andon-router".into()).spawn(move || {
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => {
                let _ = tx.send(Some(rt.handle().clone()));
                rt.block_on(std::future::pending::<()>());
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot start the router's runtime");
                let _ = tx.send(None);
            }
        }
    });
    match spawned.ok().and_then(|_| rx.recv().ok().flatten()) {
        Some(h) => h,
        None => tokio::runtime::Handle::current(),
    }
}

impl EndpointSink for Router {
    fn set_endpoints(&self, service: &ObjectRef, endpoints: Vec<Endpoint>) {
        let r = self.route(service);
        if let Ok(mut e) = r.endpoints.write() {
            e.clone_from(&endpoints);
        }
        r.rebuild();
        let Ok(mirrors) = self.inner.mirrors.read() else { return };
        for key in mirrors.get(service).into_iter().flatten() {
            let m = self.route(key);
            if let Ok(mut e) = m.endpoints.write() {
                e.clone_from(&endpoints);
            }
            m.rebuild();
        }
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
    let mut r = Response::new(ProxyBody::Bytes(Some(Bytes::from(body))));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_headers_are_set_and_hop_by_hop_dropped() {
        let req = Request::get("/x?y=1")
            .header("host", "svc.local:8080")
            .header("x-forwarded-for", "10.0.0.1")
            .header("connection", "keep-alive, x-private")
            .header("x-private", "drop me")
            .header("keep-alive", "timeout=5")
            .header("accept", "application/json")
            .body(())
            .unwrap();
        let (mut parts, ()) = req.into_parts();
        prepare_headers(&mut parts, SocketAddr::from(([127, 0, 0, 9], 5555)));
        let h = &parts.headers;
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 127.0.0.9");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "svc.local:8080");
        assert_eq!(h["accept"], "application/json");
        for gone in ["connection", "keep-alive", "x-private"] {
            assert!(h.get(gone).is_none(), "{gone} was forwarded");
        }
    }
}
