//! E-mail delivery over SMTP with Alertmanager's rules: implicit TLS on port 465
//! (or when `force_implicit_tls` says so), otherwise a plain connection upgraded with
//! STARTTLS when `require_tls` (the default) — refused if the server does not offer
//! it; AUTH PLAIN or LOGIN when a username is set and the server offers one of them
//! (PLAIN, as in Go's client, only over TLS or to a loopback server).

use std::time::Duration;

use andon_alertmanager::payload::EmailMessage;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::tls::{self, TlsOptions};

/// How long one SMTP exchange (connect to QUIT) may take.
const TIMEOUT: Duration = Duration::from_secs(30);

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// An SMTP error; `retry` is false for answers that will not change on a retry (5xx).
#[derive(Debug)]
pub(crate) struct SmtpError {
    pub retry: bool,
    pub message: String,
}

fn fail(retry: bool, message: impl Into<String>) -> SmtpError {
    SmtpError { retry, message: message.into() }
}

struct Conn {
    io: BufReader<Box<dyn Stream>>,
    /// Extensions from the last EHLO answer, upper-cased keyword → parameters.
    ext: Vec<(String, String)>,
}

impl Conn {
    /// Reads one (possibly multi-line) reply: its code and its lines' texts.
    async fn reply(&mut self) -> Result<(u16, Vec<String>), SmtpError> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self
                .io
                .read_line(&mut line)
                .await
                .map_err(|e| fail(true, format!("reading the server's reply: {e}")))?;
            if n == 0 {
                return Err(fail(true, "the server closed the connection"));
            }
            let line = line.trim_end_matches(['\r', '\n']);
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
            let Some(code) = code else {
                return Err(fail(true, format!("not an SMTP reply: {line:?}")));
            };
            lines.push(line.get(4..).unwrap_or("").to_owned());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, lines));
            }
        }
    }

    /// Sends a command and expects a reply with the given first digit.
    async fn cmd(&mut self, line: &str, want: u16, shown: &str) -> Result<Vec<String>, SmtpError> {
        self.io
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| fail(true, format!("sending {shown}: {e}")))?;
        self.expect(want, shown).await
    }

    async fn expect(&mut self, want: u16, shown: &str) -> Result<Vec<String>, SmtpError> {
        let (code, lines) = self.reply().await?;
        if code / 100 != want / 100 {
            return Err(fail(code < 500, format!("{shown}: {code} {}", lines.join(" "))));
        }
        Ok(lines)
    }

    async fn ehlo(&mut self, hello: &str) -> Result<(), SmtpError> {
        let lines = self.cmd(&format!("EHLO {hello}"), 250, "EHLO").await?;
        self.ext = lines
            .iter()
            .skip(1)
            .map(|l| {
                let (k, v) = l.split_once(' ').unwrap_or((l, ""));
                (k.to_ascii_uppercase(), v.to_owned())
            })
            .collect();
        Ok(())
    }

    fn extension(&self, name: &str) -> Option<&str> {
        self.ext.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn b64(data: &[u8]) -> String {
    andon_core::base64::encode(data, andon_core::base64::STANDARD)
}

/// The message with lines starting with `.` doubled and CRLF line ends, ending with
/// the lone `.` line.
fn dot_stuffed(data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 16);
    for line in data.split_inclusive('\n') {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Sends one e-mail; `tls` is the email config's `tls_config`.
pub(crate) async fn send(
    m: &EmailMessage,
    tls_opts: &TlsOptions,
    force_implicit_tls: Option<bool>,
) -> Result<(), SmtpError> {
    match tokio::time::timeout(TIMEOUT, exchange(m, tls_opts, force_implicit_tls)).await {
        Ok(r) => r,
        Err(_) => Err(fail(true, format!("SMTP exchange with {} timed out", m.smarthost))),
    }
}

async fn exchange(
    m: &EmailMessage,
    tls_opts: &TlsOptions,
    force_implicit_tls: Option<bool>,
) -> Result<(), SmtpError> {
    let (host, port) = m
        .smarthost
        .rsplit_once(':')
        .ok_or_else(|| fail(false, format!("smarthost {:?} has no port", m.smarthost)))?;
    let implicit = force_implicit_tls.unwrap_or(port == "465");
    let tcp = TcpStream::connect(&m.smarthost)
        .await
        .map_err(|e| fail(true, format!("connecting to {}: {e}", m.smarthost)))?;
    let stream: Box<dyn Stream> = if implicit {
        Box::new(tls::connect(tcp, host, tls_opts).await.map_err(|e| fail(true, e))?)
    } else {
        Box::new(tcp)
    };
    let mut c = Conn { io: BufReader::new(stream), ext: Vec::new() };
    c.expect(220, "greeting").await?;
    let hello = if m.hello.is_empty() { "localhost" } else { m.hello.as_str() };
    c.ehlo(hello).await?;
    let mut secure = implicit;
    if !implicit && m.require_tls {
        if c.extension("STARTTLS").is_none() {
            return Err(fail(
                false,
                format!(
                    "'require_tls' is true (default) but {:?} does not advertise the STARTTLS extension",
                    m.smarthost
                ),
            ));
        }
        c.cmd("STARTTLS", 220, "STARTTLS").await?;
        // Nothing may be buffered past the 220 answer (a server that pipelines here
        // is attempting an injection).
        if !c.io.buffer().is_empty() {
            return Err(fail(false, "the server sent data after its STARTTLS answer"));
        }
        let plain = c.io.into_inner();
        let upgraded = tls::connect(plain, host, tls_opts).await.map_err(|e| fail(true, e))?;
        c = Conn { io: BufReader::new(Box::new(upgraded)), ext: Vec::new() };
        c.ehlo(hello).await?;
        secure = true;
    }
    if !m.auth_username.is_empty()
        && let Some(mechs) = c.extension("AUTH").map(str::to_owned)
    {
        auth(&mut c, m, &mechs, secure || is_loopback(host)).await?;
    }
    c.cmd(&format!("MAIL FROM:<{}>", m.envelope_from), 250, "MAIL FROM").await?;
    for r in &m.recipients {
        c.cmd(&format!("RCPT TO:<{r}>"), 250, "RCPT TO").await?;
    }
    c.cmd("DATA", 354, "DATA").await?;
    c.io.get_mut()
        .write_all(dot_stuffed(&m.data).as_bytes())
        .await
        .map_err(|e| fail(true, format!("sending the message: {e}")))?;
    c.expect(250, "end of DATA").await?;
    // The message is accepted; a failing QUIT does not make it undelivered.
    let _ = c.cmd("QUIT", 221, "QUIT").await;
    Ok(())
}

async fn auth(c: &mut Conn, m: &EmailMessage, mechs: &str, secure: bool) -> Result<(), SmtpError> {
    let offered: Vec<String> = mechs.split_whitespace().map(str::to_ascii_uppercase).collect();
    let has = |name: &str| offered.iter().any(|o| o == name);
    if has("PLAIN") && !m.auth_password.is_empty() {
        if !secure {
            return Err(fail(false, "refusing AUTH PLAIN over an unencrypted connection"));
        }
        let token = format!("{}\0{}\0{}", m.auth_identity, m.auth_username, m.auth_password);
        c.cmd(&format!("AUTH PLAIN {}", b64(token.as_bytes())), 235, "AUTH PLAIN").await?;
        return Ok(());
    }
    if has("LOGIN") && !m.auth_password.is_empty() {
        c.cmd("AUTH LOGIN", 334, "AUTH LOGIN").await?;
        c.cmd(&b64(m.auth_username.as_bytes()), 334, "AUTH LOGIN username").await?;
        c.cmd(&b64(m.auth_password.as_bytes()), 235, "AUTH LOGIN password").await?;
        return Ok(());
    }
    Err(fail(false, format!("unknown auth mechanism: {mechs}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn data_is_dot_stuffed_and_terminated() {
        assert_eq!(dot_stuffed("a\r\n.b\r\nc"), "a\r\n..b\r\nc\r\n.\r\n");
        assert_eq!(dot_stuffed(".\n"), "..\r\n.\r\n");
    }

    /// A server without STARTTLS that records the commands it gets.
    async fn plain_server(log: std::sync::Arc<std::sync::Mutex<Vec<String>>>) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (sock, _) = l.accept().await.unwrap();
            let mut io = BufReader::new(sock);
            io.get_mut().write_all(b"220 hi\r\n").await.unwrap();
            let mut in_data = false;
            loop {
                let mut line = String::new();
                if io.read_line(&mut line).await.unwrap() == 0 {
                    return;
                }
                log.lock().unwrap().push(line.clone());
                let reply: &[u8] = if in_data {
                    if line != ".\r\n" {
                        continue;
                    }
                    in_data = false;
                    b"250 queued\r\n"
                } else if line.starts_with("EHLO") {
                    b"250-hi\r\n250-SIZE 100\r\n250 AUTH LOGIN\r\n"
                } else if line.starts_with("DATA") {
                    in_data = true;
                    b"354 go\r\n"
                } else if line.starts_with("AUTH LOGIN") || line.starts_with("dXNlcg") {
                    b"334 more\r\n"
                } else if line.starts_with("QUIT") {
                    b"221 bye\r\n"
                } else if line.starts_with("RCPT TO:<bad") {
                    b"550 no such user\r\n"
                } else {
                    b"250 ok\r\n"
                };
                io.get_mut().write_all(reply).await.unwrap();
            }
        });
        addr
    }

    fn message(smarthost: String) -> EmailMessage {
        EmailMessage {
            smarthost,
            hello: "andon.test".into(),
            envelope_from: "a@example.com".into(),
            recipients: vec!["b@example.com".into()],
            auth_username: "user".into(),
            auth_password: "pw".into(),
            auth_identity: String::new(),
            auth_secret: String::new(),
            require_tls: false,
            tls_config: None,
            force_implicit_tls: None,
            data: "Subject: x\r\n\r\n.leading dot\r\nend\r\n".into(),
        }
    }

    #[tokio::test]
    async fn delivers_over_a_plain_connection_with_auth_login() {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let addr = plain_server(log.clone()).await;
        send(&message(addr), &TlsOptions::default(), None).await.unwrap();
        let got = log.lock().unwrap().concat();
        assert_eq!(
            got,
            "EHLO andon.test\r\nAUTH LOGIN\r\ndXNlcg==\r\ncHc=\r\nMAIL FROM:<a@example.com>\r\n\
             RCPT TO:<b@example.com>\r\nDATA\r\nSubject: x\r\n\r\n..leading dot\r\nend\r\n.\r\nQUIT\r\n"
        );
    }

    #[tokio::test]
    async fn require_tls_refuses_a_server_without_starttls() {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let addr = plain_server(log.clone()).await;
        let mut m = message(addr.clone());
        m.require_tls = true;
        let e = send(&m, &TlsOptions::default(), None).await.unwrap_err();
        assert!(!e.retry);
        assert_eq!(
            e.message,
            format!(
                "'require_tls' is true (default) but {addr:?} does not advertise the STARTTLS extension"
            )
        );
        assert!(!log.lock().unwrap().concat().contains("MAIL FROM"), "nothing sent");
    }

    #[tokio::test]
    async fn a_permanent_refusal_is_not_retried() {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let addr = plain_server(log).await;
        let mut m = message(addr);
        m.recipients = vec!["bad@example.com".into()];
        let e = send(&m, &TlsOptions::default(), None).await.unwrap_err();
        assert!(!e.retry, "{e:?}");
        assert_eq!(e.message, "RCPT TO: 550 no such user");
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("localhost"));
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("[::1]"));
        assert!(!is_loopback("mail.example.com"));
    }
}
