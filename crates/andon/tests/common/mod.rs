//! Test harness: starts the real `andon` binary on an ephemeral port with a temp data
//! dir, and drives it over HTTP and the CLI.
#![allow(dead_code)]

pub mod services;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use andon_cli::client::Client;
use hyper::Method;

pub const BIN: &str = env!("CARGO_BIN_EXE_andon");

/// A running `andon server`.
pub struct Andon {
    pub child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    pub logs: mpsc::Receiver<String>,
}

impl Andon {
    pub fn start(data_dir: &Path) -> Andon {
        Andon::start_with(data_dir, &[])
    }

    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Andon {
        let mut child = Command::new(BIN)
            .args(["server", "--listen", "127.0.0.1:0", "--log-format", "json", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn andon");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("andon did not become ready: {:?}", child.try_wait()));
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["fields"]["message"] == "andon server ready"
            {
                let addr = v["fields"]["addr"].as_str().unwrap().to_owned();
                return Andon {
                    child,
                    url: format!("http://{addr}"),
                    data_dir: data_dir.to_owned(),
                    logs: rx,
                };
            }
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url).unwrap().with_actor("tester")
    }

    /// Runs the CLI against this server.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli_with_stdin(&self.url, args, None)
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        self.child.wait().unwrap()
    }
}

impl Drop for Andon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn cli_with_stdin(url: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("ANDON_SERVER", url)
        .env("USER", "tester")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// A peer program the tests use, from `VAR` or its default path. In CI a
/// missing one fails the test (scripts/setup installs `package`); elsewhere the
/// test is skipped with a message.
pub fn program(var: &str, default: &str, package: &str) -> Option<String> {
    let p = std::env::var(var).unwrap_or_else(|_| default.to_owned());
    if Path::new(&p).exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!("{p} is missing: scripts/setup installs {package}");
    }
    eprintln!("SKIPPED: {p} is not installed (run scripts/setup)");
    None
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Sends a raw request; returns status and body as JSON (or a string).
pub async fn request(
    c: &Client,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> (u16, serde_json::Value) {
    use http_body_util::BodyExt;
    let resp = c.send(method, path, body.map(|b| ("application/yaml", b))).await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    if status >= 400 {
        assert_eq!(
            ct,
            "application/problem+json",
            "errors are problem documents: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let v = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
    });
    (status, v)
}

pub const SERVICE: &str = "apiVersion: andon.dev/v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  replicas: 2\n  command: [andon-demo]\n";

/// A fresh PostgreSQL database URL from `ANDON_TEST_DATABASE_URL` (an admin URL); `None`
/// only outside CI when the variable is unset. `scripts/setup` provides it.
pub async fn fresh_postgres() -> Option<String> {
    use sqlx::Executor;
    let admin = match std::env::var("ANDON_TEST_DATABASE_URL") {
        Ok(u) => u,
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!(
                "ANDON_TEST_DATABASE_URL must be set in CI (scripts/setup writes it to scripts/test-env)"
            )
        }
        Err(_) => {
            eprintln!("SKIPPED postgres: ANDON_TEST_DATABASE_URL is not set");
            return None;
        }
    };
    sqlx::any::install_default_drivers();
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let name = format!("andon_bb_{}_{nanos}", std::process::id());
    let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
    pool.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    pool.close().await;
    Some(format!("{}/{name}", admin.rsplit_once('/').unwrap().0))
}

/// Reads one HTTP/1.1 request from `sock` for the tests' small receivers: its head
/// and its body (by `content-length`). `buf` carries bytes read past the request to
/// the next call on a kept-alive connection. `None` when the connection ends first.
pub async fn read_request<S: tokio::io::AsyncRead + Unpin>(
    sock: &mut S,
    buf: &mut Vec<u8>,
) -> Option<(String, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse())
                })
                .and_then(Result::ok)
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let body = buf[end + 4..end + 4 + len].to_vec();
                buf.drain(..end + 4 + len);
                return Some((head, body));
            }
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
