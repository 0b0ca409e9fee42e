//! Kubernetes probe semantics: a tracker that turns check results into state changes
//! (success/failure thresholds), and the checks themselves (HTTP GET, TCP, exec).

use std::net::SocketAddr;
use std::time::Duration;

use andon_spec::service::{Probe, ProbeHandler};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

/// Counts consecutive results and says when the probe's verdict changes.
#[derive(Debug, Clone)]
pub struct Tracker {
    success_threshold: i64,
    failure_threshold: i64,
    successes: i64,
    failures: i64,
    /// The current verdict: `None` until the thresholds have been met once.
    pub state: Option<bool>,
}

impl Tracker {
    pub fn new(p: &Probe) -> Tracker {
        Tracker {
            success_threshold: p.success_threshold.max(1),
            failure_threshold: p.failure_threshold.max(1),
            successes: 0,
            failures: 0,
            state: None,
        }
    }

    /// Records one result; returns the new verdict when it changed.
    pub fn record(&mut self, ok: bool) -> Option<bool> {
        if ok {
            self.failures = 0;
            self.successes += 1;
            if self.successes >= self.success_threshold && self.state != Some(true) {
                self.state = Some(true);
                return Some(true);
            }
        } else {
            self.successes = 0;
            self.failures += 1;
            if self.failures >= self.failure_threshold && self.state != Some(false) {
                self.state = Some(false);
                return Some(false);
            }
        }
        None
    }
}

/// Everything a check needs besides the probe itself.
#[derive(Clone)]
pub struct Checker {
    pub http: Client<HttpConnector, Empty<Bytes>>,
    /// The instance's port; named ports and the service's own port numbers map to it.
    pub port: u16,
    pub service_ports: Vec<u16>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<std::path::PathBuf>,
}

impl Checker {
    pub fn http_client() -> Client<HttpConnector, Empty<Bytes>> {
        Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(HttpConnector::new())
    }

    fn port_of(&self, r: &andon_spec::service::PortRef) -> u16 {
        match r {
            andon_spec::service::PortRef::Name(_) => self.port,
            andon_spec::service::PortRef::Number(n) if self.service_ports.contains(n) => self.port,
            andon_spec::service::PortRef::Number(n) => *n,
        }
    }

    /// Runs one check within the probe's timeout. `Err` carries what went wrong.
    pub async fn check(&self, p: &Probe) -> Result<(), String> {
        let timeout = Duration::from_secs(u64::try_from(p.timeout_seconds).unwrap_or(1).max(1));
        match tokio::time::timeout(timeout, self.run(&p.handler)).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {}s", timeout.as_secs())),
        }
    }

    async fn run(&self, h: &ProbeHandler) -> Result<(), String> {
        match h {
            ProbeHandler::HttpGet(g) => {
                let host = g.host.clone().unwrap_or_else(|| "127.0.0.1".into());
                if g.scheme == "HTTPS" {
                    return Err("HTTPS probes are not supported by the local runtime".into());
                }
                let path =
                    if g.path.starts_with('/') { g.path.clone() } else { format!("/{}", g.path) };
                let uri = format!("http://{host}:{}{path}", self.port_of(&g.port));
                let mut req = hyper::Request::get(&uri).header("user-agent", "andon-probe/1");
                for h in &g.http_headers {
                    req = req.header(h.name.as_str(), h.value.as_str());
                }
                let req = req
                    .body(Empty::new())
                    .map_err(|e| format!("invalid probe request {uri}: {e}"))?;
                let resp = self
                    .http
                    .request(req)
                    .await
                    .map_err(|e| format!("GET {uri}: {}", chain(&e)))?;
                let status = resp.status();
                let _ = resp.into_body().collect().await;
                if status.is_success() || status.is_redirection() {
                    Ok(())
                } else {
                    Err(format!(
                        "GET {uri}: HTTP probe failed with statuscode: {}",
                        status.as_u16()
                    ))
                }
            }
            ProbeHandler::TcpSocket(t) => {
                let host = t.host.clone().unwrap_or_else(|| "127.0.0.1".into());
                let addr = format!("{host}:{}", self.port_of(&t.port));
                tokio::net::TcpStream::connect(&addr)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("dial tcp {addr}: {e}"))
            }
            ProbeHandler::Exec(e) => {
                let Some((prog, args)) = e.command.split_first() else {
                    return Err("empty command".into());
                };
                let mut cmd = tokio::process::Command::new(prog);
                cmd.args(args).stdin(std::process::Stdio::null()).kill_on_drop(true);
                cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
                for (k, v) in &self.env {
                    cmd.env(k, v);
                }
                if let Some(d) = &self.working_dir {
                    cmd.current_dir(d);
                }
                let out = cmd.output().await.map_err(|e| format!("exec {prog}: {e}"))?;
                if out.status.success() {
                    Ok(())
                } else {
                    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                    Err(format!(
                        "command {prog} exited with {}{}",
                        out.status,
                        if text.is_empty() { String::new() } else { format!(": {text}") }
                    ))
                }
            }
            ProbeHandler::Grpc(g) => {
                let port = self.port_of(&andon_spec::service::PortRef::Number(g.port));
                grpc_check(port, g.service.as_deref().unwrap_or("")).await
            }
        }
    }
}

/// The gRPC health checking protocol (`grpc.health.v1.Health/Check`) over h2c, as the
/// kubelet's gRPC probe: success only when the answer is SERVING.
async fn grpc_check(port: u16, service: &str) -> Result<(), String> {
    use http_body_util::Full;
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new())
            .http2_only(true)
            .build(HttpConnector::new());
    // HealthCheckRequest { string service = 1 }, in a gRPC frame (no compression, length).
    let mut msg = Vec::new();
    if !service.is_empty() {
        msg.push(0x0a);
        let mut n = service.len();
        while n >= 0x80 {
            msg.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        msg.push(n as u8);
        msg.extend_from_slice(service.as_bytes());
    }
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(msg.len()).unwrap_or(0).to_be_bytes());
    frame.extend_from_slice(&msg);
    let uri = format!("http://127.0.0.1:{port}/grpc.health.v1.Health/Check");
    let req = hyper::Request::post(&uri)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("user-agent", "andon-probe/1")
        .body(Full::new(Bytes::from(frame)))
        .map_err(|e| format!("invalid gRPC probe request: {e}"))?;
    let resp = client
        .request(req)
        .await
        .map_err(|e| format!("gRPC health check on port {port}: {}", chain(&e)))?;
    let headers_status =
        resp.headers().get("grpc-status").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let collected = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("gRPC health check on port {port}: {e}"))?;
    let grpc_status = collected
        .trailers()
        .and_then(|t| t.get("grpc-status"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(headers_status);
    if grpc_status.as_deref() != Some("0") {
        return Err(format!(
            "gRPC health check on port {port} failed: grpc-status {}",
            grpc_status.unwrap_or_else(|| "missing".into())
        ));
    }
    let body = collected.to_bytes();
    // HealthCheckResponse { ServingStatus status = 1 }: SERVING is 1.
    let status =
        body.get(5..).and_then(|m| m.windows(2).find(|w| w[0] == 0x08).map(|w| w[1])).unwrap_or(0);
    match status {
        1 => Ok(()),
        0 => Err(format!("service unhealthy (responded with \"UNKNOWN\") on port {port}")),
        2 => Err(format!("service unhealthy (responded with \"NOT_SERVING\") on port {port}")),
        3 => Err(format!("service unhealthy (responded with \"SERVICE_UNKNOWN\") on port {port}")),
        n => Err(format!("service unhealthy (responded with status {n}) on port {port}")),
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}

/// The loopback address of an instance.
pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(success: i64, failure: i64) -> Probe {
        Probe {
            handler: ProbeHandler::Exec(andon_spec::service::ExecAction {
                command: vec!["true".into()],
            }),
            initial_delay_seconds: 0,
            period_seconds: 10,
            timeout_seconds: 1,
            success_threshold: success,
            failure_threshold: failure,
            termination_grace_period_seconds: None,
        }
    }

    #[test]
    fn thresholds_count_consecutive_results() {
        let mut t = Tracker::new(&probe(2, 3));
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(true), Some(true));
        assert_eq!(t.record(true), None, "no change, no report");
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(true), None, "a success resets the failure count");
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), Some(false));
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(true), Some(true));
    }

    /// A response body of fixed frames (data, then trailers).
    struct Frames(std::collections::VecDeque<hyper::body::Frame<Bytes>>);

    impl hyper::body::Body for Frames {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
            std::task::Poll::Ready(self.get_mut().0.pop_front().map(Ok))
        }
    }

    /// A minimal gRPC health server over h2c answering `status` (1 = SERVING).
    async fn grpc_health_server(status: u8) -> u16 {
        use hyper::body::Frame;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| async move {
                            assert_eq!(req.uri().path(), "/grpc.health.v1.Health/Check");
                            let _ = req.into_body().collect().await;
                            let mut trailers = hyper::HeaderMap::new();
                            trailers.insert(
                                "grpc-status",
                                hyper::header::HeaderValue::from_static("0"),
                            );
                            let frames = Frames(
                                vec![
                                    Frame::data(Bytes::from(vec![0, 0, 0, 0, 2, 0x08, status])),
                                    Frame::trailers(trailers),
                                ]
                                .into(),
                            );
                            let resp = hyper::Response::builder()
                                .header("content-type", "application/grpc")
                                .body(frames)
                                .unwrap();
                            Ok::<_, std::convert::Infallible>(resp)
                        },
                    );
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn grpc_probes_speak_the_health_protocol() {
        let serving = grpc_health_server(1).await;
        assert_eq!(grpc_check(serving, "").await, Ok(()));
        assert_eq!(grpc_check(serving, "demo.Service").await, Ok(()));
        let not_serving = grpc_health_server(2).await;
        assert_eq!(
            grpc_check(not_serving, "").await,
            Err(format!(
                "service unhealthy (responded with \"NOT_SERVING\") on port {not_serving}"
            ))
        );
        assert!(grpc_check(1, "").await.unwrap_err().starts_with("gRPC health check on port 1: "));
    }

    #[tokio::test]
    async fn checks_report_what_failed() {
        let c = Checker {
            http: Checker::http_client(),
            port: 1,
            service_ports: vec![],
            env: vec![],
            working_dir: None,
        };
        let mut p = probe(1, 1);
        assert_eq!(c.check(&p).await, Ok(()));
        p.handler =
            ProbeHandler::Exec(andon_spec::service::ExecAction { command: vec!["false".into()] });
        assert_eq!(c.check(&p).await, Err("command false exited with exit status: 1".into()));
        p.handler = ProbeHandler::TcpSocket(andon_spec::service::TcpSocket {
            port: andon_spec::service::PortRef::Number(1),
            host: None,
        });
        assert!(c.check(&p).await.unwrap_err().starts_with("dial tcp 127.0.0.1:1: "));
    }
}
