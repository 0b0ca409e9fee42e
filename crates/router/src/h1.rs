//! The HTTP/1.1 fast path: one task per client connection reads each request itself,
//! sends it on a pooled upstream connection and relays the answer, with no task or
//! channel between the two sides. Requests it does not handle — h2c, upgrades,
//! `Expect`, chunked or large request bodies — hand the connection (with what was
//! already read) to hyper, which streams them.
//!
//! Framing follows RFC 9112: the request body is its `Content-Length`; the response body
//! is none (HEAD, 1xx, 204, 304), chunked (relayed as is up to the last chunk and the
//! trailers), `Content-Length`, or until the instance closes (then the client's
//! connection closes too). Hop-by-hop headers are dropped both ways and `X-Forwarded-*`
//! set, as on the hyper path.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::{HOP_BY_HOP, RETRY_BODY_LIMIT, Route, Router, UPSTREAM_TIMEOUT, json_string};

/// The longest request or response head read.
const MAX_HEAD: usize = 64 * 1024;
/// The most headers in a head.
const MAX_HEADERS: usize = 100;
/// Idle upstream connections kept per instance.
const MAX_IDLE: usize = 256;
/// How long an idle upstream connection is kept.
const IDLE_FOR: Duration = Duration::from_secs(90);

/// Idle keep-alive connections to instances.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<Idle>,
}

#[derive(Default)]
struct Idle {
    by_addr: HashMap<SocketAddr, Vec<(TcpStream, Instant)>>,
    /// When connections past their idle time were last closed (instances come and go,
    /// so some addresses are never asked for again).
    swept: Option<Instant>,
}

impl Pool {
    fn take(&self, addr: SocketAddr) -> Option<TcpStream> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.by_addr.get_mut(&addr)?;
        while let Some((s, since)) = list.pop() {
            if since.elapsed() < IDLE_FOR {
                return Some(s);
            }
        }
        None
    }

    fn put(&self, addr: SocketAddr, s: TcpStream) {
        let Ok(mut idle) = self.idle.lock() else { return };
        let now = Instant::now();
        if idle.swept.is_none_or(|t| now.duration_since(t) > Duration::from_secs(10)) {
            idle.swept = Some(now);
            idle.by_addr.retain(|_, list| {
                list.retain(|(_, since)| now.duration_since(*since) < IDLE_FOR);
                !list.is_empty()
            });
        }
        let list = idle.by_addr.entry(addr).or_default();
        if list.len() < MAX_IDLE {
            list.push((s, now));
        }
    }
}

/// A stream that first yields bytes already read from it (for the hand-over to hyper).
pub(crate) struct Prefixed {
    pre: Vec<u8>,
    pos: usize,
    inner: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pos < self.pre.len() {
            let n = (self.pre.len() - self.pos).min(buf.remaining());
            let start = self.pos;
            buf.put_slice(&self.pre[start..start + n]);
            self.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// What one parsed request needs.
struct Head {
    method: String,
    path: String,
    /// (name, value) as received.
    headers: Vec<(String, Vec<u8>)>,
    /// The names its `Connection` header lists.
    listed: Vec<String>,
    keep_alive: bool,
    head_len: usize,
    body_len: usize,
}

enum Next {
    /// A request this path serves.
    Serve(Head),
    /// The connection goes to hyper from here.
    Hand,
    /// The client closed (or sent something that ends the connection).
    Close,
}

fn is_hop(name: &str, listed: &[String]) -> bool {
    HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h))
        || name.eq_ignore_ascii_case("proxy-connection")
        || listed.iter().any(|l| name.eq_ignore_ascii_case(l))
}

/// The header names a `Connection` header lists (they are hop-by-hop too).
fn connection_tokens(headers: &[(String, Vec<u8>)]) -> Vec<String> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| {
            String::from_utf8_lossy(v)
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
}

/// Reads the next request head from `buf` (filling it from the client).
async fn next_request(client: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Next> {
    loop {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut slots);
        match req.parse(buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let method = req.method.unwrap_or("GET").to_string();
                let path = req.path.unwrap_or("/").to_string();
                let version = req.version.unwrap_or(1);
                let headers: Vec<(String, Vec<u8>)> =
                    req.headers.iter().map(|h| (h.name.to_string(), h.value.to_vec())).collect();
                let special = ["upgrade", "transfer-encoding", "expect"]
                    .iter()
                    .any(|h| header(&headers, h).is_some());
                let body_len = match header(&headers, "content-length") {
                    None => Some(0),
                    Some(v) => {
                        std::str::from_utf8(v).ok().and_then(|s| s.trim().parse::<usize>().ok())
                    }
                };
                let Some(body_len) = body_len.filter(|n| *n <= RETRY_BODY_LIMIT) else {
                    return Ok(Next::Hand);
                };
                if special || method == "PRI" || method == "CONNECT" || !path.starts_with('/') {
                    return Ok(Next::Hand);
                }
                let tokens = connection_tokens(&headers);
                let keep_alive = if version == 1 {
                    !tokens.iter().any(|t| t == "close")
                } else {
                    tokens.iter().any(|t| t == "keep-alive")
                };
                while buf.len() < head_len + body_len {
                    if client.read_buf(buf).await? == 0 {
                        return Ok(Next::Close);
                    }
                }
                return Ok(Next::Serve(Head {
                    method,
                    path,
                    headers,
                    listed: tokens,
                    keep_alive,
                    head_len,
                    body_len,
                }));
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() >= MAX_HEAD {
                    return Ok(Next::Hand);
                }
                if client.read_buf(buf).await? == 0 {
                    return Ok(Next::Close);
                }
            }
            // Let hyper answer what it cannot read, with its own status.
            Err(_) => return Ok(Next::Hand),
        }
    }
}

/// The request as sent to an instance: head with forwarded headers, then the body.
fn upstream_request(h: &Head, body: &[u8], peer_ip: &str) -> Vec<u8> {
    let listed = &h.listed;
    let mut out = Vec::with_capacity(512 + body.len());
    out.extend_from_slice(h.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(h.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut xff: Option<Vec<u8>> = None;
    let mut host: Option<&[u8]> = None;
    for (n, v) in &h.headers {
        if is_hop(n, listed)
            || n.eq_ignore_ascii_case("x-forwarded-proto")
            || n.eq_ignore_ascii_case("x-forwarded-host")
        {
            continue;
        }
        if n.eq_ignore_ascii_case("x-forwarded-for") {
            xff = Some(v.clone());
            continue;
        }
        if n.eq_ignore_ascii_case("host") {
            host = Some(v);
        }
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"x-forwarded-for: ");
    if let Some(prev) = xff {
        out.extend_from_slice(&prev);
        out.extend_from_slice(b", ");
    }
    out.extend_from_slice(peer_ip.as_bytes());
    out.extend_from_slice(b"\r\nx-forwarded-proto: http\r\n");
    if let Some(h) = host {
        out.extend_from_slice(b"x-forwarded-host: ");
        out.extend_from_slice(h);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// An error answer of the router's own (as on the hyper path), closing nothing.
fn error_response(status: u16, reason: &str, message: &str, keep_alive: bool) -> Vec<u8> {
    let body = format!("{{\"error\":{}}}", json_string(message));
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\nx-andon-router: error\r\ncontent-length: {}\r\n{}\r\n{body}",
        body.len(),
        if keep_alive { "" } else { "connection: close\r\n" }
    )
    .into_bytes()
}

/// How a response's body ends.
enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

/// A parsed response head: status, the head to send on, the framing, and whether the
/// instance keeps the connection.
struct Answer {
    status: u16,
    head: Vec<u8>,
    framing: Framing,
    reusable: bool,
}

fn answer(buf: &[u8], method: &str, keep_client: bool) -> Result<Option<(Answer, usize)>, String> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Err("the instance's response head is too large".into());
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("the instance's response is not HTTP: {e}")),
    };
    let status = resp.code.unwrap_or(502);
    let headers: Vec<(String, Vec<u8>)> =
        resp.headers.iter().map(|h| (h.name.to_string(), h.value.to_vec())).collect();
    let listed = connection_tokens(&headers);
    let chunked = header(&headers, "transfer-encoding")
        .is_some_and(|v| String::from_utf8_lossy(v).to_ascii_lowercase().contains("chunked"));
    let length = header(&headers, "content-length")
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<usize>().ok());
    let framing = if method == "HEAD" || status < 200 || status == 204 || status == 304 {
        Framing::None
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    let reusable = resp.version == Some(1)
        && !listed.iter().any(|t| t == "close")
        && !matches!(framing, Framing::UntilClose);
    let keep = keep_client && !matches!(framing, Framing::UntilClose);
    let mut head = Vec::with_capacity(len + 32);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(status.to_string().as_bytes());
    head.push(b' ');
    head.extend_from_slice(resp.reason.unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    for (n, v) in &headers {
        // The body is relayed as framed, so its Transfer-Encoding stays.
        if is_hop(n, &listed) && !(chunked && n.eq_ignore_ascii_case("transfer-encoding")) {
            continue;
        }
        head.extend_from_slice(n.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(v);
        head.extend_from_slice(b"\r\n");
    }
    if !keep {
        head.extend_from_slice(b"connection: close\r\n");
    }
    head.extend_from_slice(b"\r\n");
    Ok(Some((Answer { status, head, framing, reusable }, len)))
}

/// Relays a chunked body from `buf` + `up` to `client`, up to and with the trailers.
async fn relay_chunked(
    up: &mut TcpStream,
    buf: &mut Vec<u8>,
    client: &mut TcpStream,
) -> std::io::Result<()> {
    loop {
        // A chunk-size line.
        let line_end = loop {
            if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                break p;
            }
            if buf.len() > MAX_HEAD || up.read_buf(buf).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // Trailers up to the empty line.
            loop {
                if let Some(p) = find_blank(buf, line_end) {
                    client.write_all(&buf[..p]).await?;
                    buf.drain(..p);
                    return Ok(());
                }
                if buf.len() > MAX_HEAD || up.read_buf(buf).await? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
            }
        }
        // The size line, the chunk and its CRLF: what is here now, then the rest as it
        // comes; bytes past the chunk stay in `buf` for the next size line.
        let need = line_end + 2 + size + 2;
        if buf.len() >= need {
            client.write_all(&buf[..need]).await?;
            buf.drain(..need);
            continue;
        }
        client.write_all(buf).await?;
        let mut left = need - buf.len();
        buf.clear();
        while left > 0 {
            if up.read_buf(buf).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let take = buf.len().min(left);
            client.write_all(&buf[..take]).await?;
            buf.drain(..take);
            left -= take;
        }
    }
}

/// The end (after `\r\n\r\n`, or `\r\n` when there are no trailers) of a last chunk
/// whose size line ends at `line_end`.
fn find_blank(buf: &[u8], line_end: usize) -> Option<usize> {
    if buf.len() >= line_end + 4 && &buf[line_end..line_end + 4] == b"\r\n\r\n" {
        return Some(line_end + 4);
    }
    buf[line_end..].windows(4).position(|w| w == b"\r\n\r\n").map(|p| line_end + p + 4)
}

/// Relays the response body; true when the instance's connection can be reused.
async fn relay_body(
    a: &Answer,
    up: &mut TcpStream,
    mut rest: Vec<u8>,
    client: &mut TcpStream,
) -> std::io::Result<bool> {
    match a.framing {
        Framing::None => Ok(rest.is_empty()),
        Framing::Length(n) => {
            let first = rest.len().min(n);
            client.write_all(&rest[..first]).await?;
            let mut left = n - first;
            let extra = rest.len() > first;
            let mut chunk = if left > 0 { vec![0u8; left.min(64 * 1024)] } else { Vec::new() };
            while left > 0 {
                let want = left.min(chunk.len());
                let got = up.read(&mut chunk[..want]).await?;
                if got == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                client.write_all(&chunk[..got]).await?;
                left -= got;
            }
            Ok(!extra)
        }
        Framing::Chunked => {
            relay_chunked(up, &mut rest, client).await?;
            Ok(rest.is_empty())
        }
        Framing::UntilClose => {
            client.write_all(&rest).await?;
            tokio::io::copy(up, client).await?;
            Ok(false)
        }
    }
}

/// One attempt on one instance: the response head relayed, then the body. `Err` before
/// anything was sent to the client means the request may go elsewhere.
enum Outcome {
    Done {
        status: u16,
        keep: bool,
    },
    /// Nothing reached the client; the instance did not take the request.
    Unsent(String),
    /// The client's connection is broken or the answer was cut: close it.
    Broken(u16),
    TimedOut,
}

async fn attempt(
    pool: &Pool,
    addr: SocketAddr,
    request: &[u8],
    method: &str,
    keep_client: bool,
    client: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> Outcome {
    // A pooled connection may have been closed by the instance meanwhile: one more try
    // on a new connection before giving up on this instance.
    let mut pooled = pool.take(addr);
    for _ in 0..2 {
        let reused = pooled.is_some();
        let mut up = match pooled.take() {
            Some(s) => s,
            None => {
                match tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await {
                    Ok(Ok(s)) => {
                        let _ = s.set_nodelay(true);
                        s
                    }
                    Ok(Err(e)) => return Outcome::Unsent(format!("connect: {e}")),
                    Err(_) => return Outcome::Unsent("connect: timed out".into()),
                }
            }
        };
        if let Err(e) = up.write_all(request).await {
            if reused {
                continue;
            }
            return Outcome::Unsent(format!("sending the request: {e}"));
        }
        buf.clear();
        let head = tokio::time::timeout(UPSTREAM_TIMEOUT, async {
            loop {
                match up.read_buf(buf).await {
                    Ok(0) => return Err("the connection closed before a response".to_string()),
                    Ok(_) => {}
                    Err(e) => return Err(format!("reading the response: {e}")),
                }
                loop {
                    match answer(buf, method, keep_client) {
                        // An interim answer (103 Early Hints …) is passed on; the final
                        // one follows on the same connection.
                        Ok(Some((a, len))) if (100..200).contains(&a.status) => {
                            client
                                .write_all(&a.head)
                                .await
                                .map_err(|e| format!("writing to the client: {e}"))?;
                            buf.drain(..len);
                        }
                        Ok(Some(x)) => return Ok(x),
                        Ok(None) => break,
                        Err(e) => return Err(e),
                    }
                }
            }
        })
        .await;
        let (a, len) = match head {
            Err(_) => return Outcome::TimedOut,
            Ok(Err(_)) if reused && buf.is_empty() => continue,
            Ok(Err(e)) => return Outcome::Unsent(e),
            Ok(Ok(x)) => x,
        };
        // A whole small answer goes out in one write.
        if let Framing::Length(n) = a.framing
            && buf.len() - len == n
        {
            let mut all = a.head;
            all.extend_from_slice(&buf[len..]);
            if client.write_all(&all).await.is_err() {
                return Outcome::Broken(a.status);
            }
            if a.reusable {
                pool.put(addr, up);
            }
            return Outcome::Done { status: a.status, keep: keep_client };
        }
        let rest = buf.split_off(len);
        if client.write_all(&a.head).await.is_err() {
            return Outcome::Broken(a.status);
        }
        return match relay_body(&a, &mut up, rest, client).await {
            Ok(reusable) => {
                if reusable && a.reusable {
                    pool.put(addr, up);
                }
                Outcome::Done {
                    status: a.status,
                    keep: keep_client && !matches!(a.framing, Framing::UntilClose),
                }
            }
            Err(_) => Outcome::Broken(a.status),
        };
    }
    Outcome::Unsent("the instance closed the connection".into())
}

const IDEMPOTENT: [&str; 6] = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"];

/// Serves one client connection; returns what hyper must take over, if anything.
pub(crate) async fn serve(
    router: &Router,
    route: &Route,
    mut client: TcpStream,
    peer: SocketAddr,
) -> Option<Prefixed> {
    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    let mut scratch: Vec<u8> = Vec::with_capacity(8 * 1024);
    let peer_ip = peer.ip().to_string();
    loop {
        let h = match next_request(&mut client, &mut buf).await {
            Ok(Next::Serve(h)) => h,
            Ok(Next::Hand) => return Some(Prefixed { pre: buf, pos: 0, inner: client }),
            Ok(Next::Close) | Err(_) => return None,
        };
        let started = Instant::now();
        let body = &buf[h.head_len..h.head_len + h.body_len];
        let request = upstream_request(&h, body, &peer_ip);
        buf.drain(..h.head_len + h.body_len);
        let m = &route.metrics;
        let table = route.snapshot();
        let idempotent = IDEMPOTENT.contains(&h.method.as_str());
        let mut failed: Option<u32> = None;
        let mut reply: Option<Vec<u8>> = None;
        let mut keep = h.keep_alive;
        for attempt_no in 0..2 {
            let lookup = |n: &str| header(&h.headers, n).and_then(|v| std::str::from_utf8(v).ok());
            let Some(backend) = table.pick(lookup, &router.inner.dice, failed) else {
                m.observe(None, 503, started.elapsed());
                reply = Some(error_response(
                    503,
                    "Service Unavailable",
                    &format!("service {} has no ready instance", route.label),
                    keep,
                ));
                break;
            };
            backend.inflight.fetch_add(1, Ordering::Relaxed);
            let out = attempt(
                &router.inner.pool,
                backend.addr,
                &request,
                &h.method,
                keep,
                &mut client,
                &mut scratch,
            )
            .await;
            backend.inflight.fetch_sub(1, Ordering::Relaxed);
            let who = Some((backend.revision.as_str(), backend.instance));
            match out {
                Outcome::Done { status, keep: k } => {
                    m.observe(who, status, started.elapsed());
                    keep = k;
                    break;
                }
                Outcome::Broken(status) => {
                    m.observe(who, status, started.elapsed());
                    return None;
                }
                Outcome::TimedOut => {
                    m.observe(who, 504, started.elapsed());
                    reply = Some(error_response(
                        504,
                        "Gateway Timeout",
                        &format!(
                            "instance {} of {} did not answer within {}s",
                            backend.instance,
                            route.label,
                            UPSTREAM_TIMEOUT.as_secs()
                        ),
                        keep,
                    ));
                    break;
                }
                Outcome::Unsent(e) => {
                    if attempt_no == 0 && idempotent {
                        tracing::debug!(service = %route.label, instance = backend.instance, error = %e, "retrying on another instance");
                        failed = Some(backend.instance);
                        continue;
                    }
                    m.observe(who, 502, started.elapsed());
                    reply = Some(error_response(
                        502,
                        "Bad Gateway",
                        &format!("instance {} of {} failed: {e}", backend.instance, route.label),
                        keep,
                    ));
                    break;
                }
            }
        }
        if let Some(r) = reply
            && client.write_all(&r).await.is_err()
        {
            return None;
        }
        if !keep {
            let _ = client.shutdown().await;
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn requests_are_rewritten_for_the_instance() {
        let h = Head {
            method: "GET".into(),
            path: "/sum?a=1".into(),
            headers: vec![
                ("Host".into(), b"svc:8080".to_vec()),
                ("Connection".into(), b"keep-alive, X-Private".to_vec()),
                ("X-Private".into(), b"drop".to_vec()),
                ("X-Forwarded-For".into(), b"10.0.0.1".to_vec()),
                ("X-Forwarded-Proto".into(), b"https".to_vec()),
                ("Accept".into(), b"*/*".to_vec()),
            ],
            listed: vec!["keep-alive".into(), "x-private".into()],
            keep_alive: true,
            head_len: 0,
            body_len: 0,
        };
        let r = upstream_request(&h, b"", "127.0.0.9");
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "GET /sum?a=1 HTTP/1.1\r\nHost: svc:8080\r\nAccept: */*\r\nx-forwarded-for: 10.0.0.1, 127.0.0.9\r\nx-forwarded-proto: http\r\nx-forwarded-host: svc:8080\r\n\r\n"
        );
    }

    #[test]
    fn responses_are_framed() {
        let (a, len) = answer(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nKeep-Alive: timeout=5\r\n\r\nhello",
            "GET",
            true,
        )
        .unwrap()
        .unwrap();
        assert_eq!(len, 61);
        assert!(matches!(a.framing, Framing::Length(5)) && a.reusable);
        assert_eq!(
            String::from_utf8(a.head).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
        );
        let (a, _) = answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", false)
            .unwrap()
            .unwrap();
        assert!(matches!(a.framing, Framing::Chunked));
        assert_eq!(
            String::from_utf8(a.head).unwrap(),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nconnection: close\r\n\r\n"
        );
        let (a, _) = answer(b"HTTP/1.1 200 OK\r\n\r\n", "GET", true).unwrap().unwrap();
        assert!(matches!(a.framing, Framing::UntilClose) && !a.reusable);
        assert!(String::from_utf8(a.head).unwrap().ends_with("connection: close\r\n\r\n"));
        let (a, _) =
            answer(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", "GET", true)
                .unwrap()
                .unwrap();
        assert!(matches!(a.framing, Framing::None));
        assert!(answer(b"HTTP/1.1 200 OK\r\nContent-Le", "GET", true).unwrap().is_none());
        assert!(answer(b"SSH-2.0\r\n\r\n", "GET", true).is_err());
    }

    #[tokio::test]
    async fn interim_answers_are_passed_on_before_the_final_one() {
        let up_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cl_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (up_addr, cl_addr) = (up_l.local_addr().unwrap(), cl_l.local_addr().unwrap());
        let upstream = tokio::spawn(async move {
            for _ in 0..2 {
                let (mut s, _) = up_l.accept().await.unwrap();
                let mut req = vec![0u8; 1024];
                let _ = s.read(&mut req).await.unwrap();
                s.write_all(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await.unwrap();
                // Wait for the client's side to finish.
                let _ = s.read(&mut req).await;
            }
        });
        let reader = tokio::spawn(async move {
            let (mut s, _) = cl_l.accept().await.unwrap();
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got).await;
            got
        });
        let mut client = TcpStream::connect(cl_addr).await.unwrap();
        let pool = Pool::default();
        let mut scratch = Vec::new();
        let out = attempt(
            &pool,
            up_addr,
            b"GET / HTTP/1.1\r\n\r\n",
            "GET",
            true,
            &mut client,
            &mut scratch,
        )
        .await;
        assert!(matches!(out, Outcome::Done { status: 200, keep: true }));
        drop(client);
        let got = String::from_utf8(reader.await.unwrap()).unwrap();
        assert_eq!(
            got,
            "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        );
        // The upstream connection went back to the pool, nothing pending on it.
        assert!(pool.take(up_addr).is_some());
        upstream.abort();
    }

    #[tokio::test]
    async fn chunked_bodies_are_relayed_to_their_end() {
        let up_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cl_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (up_addr, cl_addr) = (up_l.local_addr().unwrap(), cl_l.local_addr().unwrap());
        let body = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nNEXT";
        tokio::spawn(async move {
            let (mut s, _) = up_l.accept().await.unwrap();
            s.write_all(&body[..12]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            s.write_all(&body[12..]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        });
        let reader = tokio::spawn(async move {
            let (mut s, _) = cl_l.accept().await.unwrap();
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got).await;
            got
        });
        let mut up = TcpStream::connect(up_addr).await.unwrap();
        let mut client = TcpStream::connect(cl_addr).await.unwrap();
        let mut buf = Vec::new();
        relay_chunked(&mut up, &mut buf, &mut client).await.unwrap();
        assert_eq!(buf, b"NEXT", "what follows the body stays");
        drop(client);
        let got = reader.await.unwrap();
        assert_eq!(got, &body[..body.len() - 4]);
    }
}
