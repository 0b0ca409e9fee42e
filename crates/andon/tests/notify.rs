//! Notification delivery through the real binary: e-mail over SMTP with STARTTLS
//! and AUTH against a test mail server, an HTTPS webhook checked against the
//! configuration's CA, the configuration's own template files (relative to the
//! configuration file), a receiver that is down recorded in the notification log
//! while the others still deliver, and template files that do not parse refused
//! with their own positions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Andon, stderr, stdout};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc::UnboundedSender;

/// A CA and a server certificate for `localhost` and 127.0.0.1 it signed.
fn certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir).output();
        let out = out.expect("openssl (installed by scripts/setup)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=andon test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

fn acceptor(dir: &Path) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

/// What the test mail server received in one session.
#[derive(Debug, Default)]
struct Mail {
    tls: bool,
    auth: Option<String>,
    from: String,
    to: Vec<String>,
    data: String,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Accepts connections on a loopback port and hands each to `serve` on a task of its own.
async fn listen<F, Fut>(serve: F) -> u16
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(serve(sock));
        }
    });
    port
}

/// A small SMTP server: STARTTLS (with `acceptor`), AUTH PLAIN, one message per session.
async fn mail_server(acceptor: tokio_rustls::TlsAcceptor, tx: UnboundedSender<Mail>) -> u16 {
    listen(move |sock| {
        let (acceptor, tx) = (acceptor.clone(), tx.clone());
        async move {
            let _ = session(Box::new(sock), acceptor, tx).await;
        }
    })
    .await
}

async fn session(
    sock: Box<dyn Io>,
    acceptor: tokio_rustls::TlsAcceptor,
    tx: UnboundedSender<Mail>,
) -> std::io::Result<()> {
    let mut io = BufReader::new(sock);
    let mut mail = Mail::default();
    io.get_mut().write_all(b"220 test ESMTP\r\n").await?;
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end().to_string();
        let upper = line.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            if mail.tls {
                "250-test\r\n250 AUTH PLAIN LOGIN\r\n".into()
            } else {
                "250-test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n".into()
            }
        } else if upper == "STARTTLS" {
            io.get_mut().write_all(b"220 go ahead\r\n").await?;
            let tls = acceptor.accept(io.into_inner()).await?;
            io = BufReader::new(Box::new(tls));
            mail.tls = true;
            continue;
        } else if let Some(token) = line.strip_prefix("AUTH PLAIN ") {
            mail.auth = Some(token.to_string());
            "235 ok\r\n".into()
        } else if let Some(from) = upper.strip_prefix("MAIL FROM:") {
            mail.from = line[10..10 + from.len()].trim_matches(['<', '>']).to_string();
            "250 ok\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(line[8..].trim_matches(['<', '>']).to_string());
            "250 ok\r\n".into()
        } else if upper == "DATA" {
            io.get_mut().write_all(b"354 end with .\r\n").await?;
            loop {
                let mut l = String::new();
                if io.read_line(&mut l).await? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" {
                    break;
                }
                mail.data.push_str(&l);
            }
            "250 queued\r\n".into()
        } else if upper == "QUIT" {
            io.get_mut().write_all(b"221 bye\r\n").await?;
            let _ = tx.send(std::mem::take(&mut mail));
            return Ok(());
        } else {
            "502 not implemented\r\n".into()
        };
        io.get_mut().write_all(reply.as_bytes()).await?;
    }
}

/// An HTTPS endpoint that answers 200 to every POST and hands the JSON body over.
async fn https_hook(
    acceptor: tokio_rustls::TlsAcceptor,
    tx: UnboundedSender<serde_json::Value>,
) -> u16 {
    listen(move |sock| {
        let (acceptor, tx) = (acceptor.clone(), tx.clone());
        async move {
            let Ok(mut tls) = acceptor.accept(sock).await else { return };
            let mut buf = Vec::new();
            let Some((head, body)) = common::read_request(&mut tls, &mut buf).await else {
                return;
            };
            assert!(head.starts_with("POST /hook HTTP/1.1\r\n"), "{head}");
            let _ = tx.send(serde_json::from_slice(&body).unwrap());
            let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
            let _ = tls.shutdown().await;
        }
    })
    .await
}

fn decode_b64(s: &str) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        bits = (bits << 6) | alphabet.iter().position(|a| *a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn email_over_starttls_https_webhooks_and_template_files() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    certificates(&certs);
    let (mail_tx, mut mails) = tokio::sync::mpsc::unbounded_channel();
    let smtp_port = mail_server(acceptor(&certs), mail_tx).await;
    let (hook_tx, mut hooks) = tokio::sync::mpsc::unbounded_channel();
    let hook_port = https_hook(acceptor(&certs), hook_tx).await;
    let dead_port = common::free_port();

    // The configuration and its template files live in their own directory; the
    // templates are named relative to it.
    let conf = dir.path().join("conf");
    std::fs::create_dir_all(conf.join("tmpl")).unwrap();
    std::fs::write(
        conf.join("tmpl/mail.tmpl"),
        "{{ define \"team.subject\" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} for {{ .Receiver }}{{ end }}\n",
    )
    .unwrap();
    let ca = certs.join("ca.pem");
    let am = conf.join("alertmanager.yml");
    std::fs::write(
        &am,
        format!(
            r#"global:
  smtp_smarthost: 127.0.0.1:{smtp_port}
  smtp_from: andon@example.com
  smtp_auth_username: alerts
  smtp_auth_password: s3cret
templates: ['tmpl/*.tmpl']
route:
  receiver: mail
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  routes:
  - matchers: ['alertname="AlwaysOn"']
    receiver: mail
    continue: true
  - matchers: ['alertname="AlwaysOn"']
    receiver: secure-hook
    continue: true
  - matchers: ['alertname="AlwaysOn"']
    receiver: down
receivers:
- name: mail
  email_configs:
  - to: 'Ops <ops@example.com>, oncall@example.com'
    headers:
      Subject: '{{{{ template "team.subject" . }}}}'
    tls_config:
      ca_file: {ca}
- name: secure-hook
  webhook_configs:
  - url: https://localhost:{hook_port}/hook
    http_config:
      tls_config:
        ca_file: {ca}
- name: down
  email_configs:
  - to: nobody@example.com
    smarthost: 127.0.0.1:{dead_port}
"#,
            ca = ca.display()
        ),
    )
    .unwrap();
    let rules = dir.path().join("always.yml");
    std::fs::write(
        &rules,
        "groups:\n- name: g\n  interval: 1s\n  rules:\n  - alert: AlwaysOn\n    expr: vector(1)\n    labels: {severity: page}\n",
    )
    .unwrap();

    // `lint` reads the template files too.
    let a = Andon::start_with(dir.path(), &[]);
    let out = a.cli(&["lint", am.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Applied from another directory: the relative template path still resolves.
    let out = a.cli(&["apply", "-f", am.to_str().unwrap(), "-f", rules.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    let mail = tokio::time::timeout(Duration::from_secs(30), mails.recv()).await.unwrap().unwrap();
    assert!(mail.tls, "STARTTLS was used: {mail:?}");
    assert_eq!(
        decode_b64(mail.auth.as_deref().unwrap_or("")),
        "\0alerts\0s3cret",
        "AUTH PLAIN with the configured user"
    );
    assert_eq!(mail.from, "andon@example.com");
    assert_eq!(mail.to, ["ops@example.com", "oncall@example.com"]);
    assert!(
        mail.data.contains("Subject: [FIRING] AlwaysOn for mail\r\n"),
        "the subject comes from the configuration's template file: {}",
        mail.data
    );
    assert!(
        mail.data.contains("To: Ops <ops@example.com>, oncall@example.com\r\n"),
        "{}",
        mail.data
    );
    assert!(mail.data.contains("Content-Type: multipart/alternative"), "{}", mail.data);

    let hook = tokio::time::timeout(Duration::from_secs(30), hooks.recv()).await.unwrap().unwrap();
    assert_eq!(hook["receiver"], "secure-hook", "{hook}");
    assert_eq!(hook["status"], "firing", "{hook}");
    assert_eq!(hook["alerts"][0]["labels"]["alertname"], "AlwaysOn", "{hook}");

    // The notification log has both deliveries, and the receiver that is down
    // failed after its retries without holding the others up.
    let deadline = Instant::now() + Duration::from_secs(40);
    let log = loop {
        let out = a.cli(&["alerts", "notifications", "-o", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let has = |receiver: &str, kind: &str| {
            v.as_array()
                .unwrap()
                .iter()
                .any(|e| e["data"]["receiver"] == receiver && e["kind"] == kind)
        };
        if has("mail", "notification.sent")
            && has("secure-hook", "notification.sent")
            && has("down", "notification.failed")
        {
            break v;
        }
        assert!(Instant::now() < deadline, "notification log incomplete: {v}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let failed = log.as_array().unwrap().iter().find(|e| e["data"]["receiver"] == "down").unwrap();
    assert_eq!(failed["data"]["integration"], "email", "{failed}");
    assert!(
        failed["data"]["error"]
            .as_str()
            .unwrap()
            .contains(&format!("connecting to 127.0.0.1:{dead_port}")),
        "{failed}"
    );
    let table = a.cli(&["alerts", "notifications", "--receiver", "mail"]);
    let text = stdout(&table);
    assert!(text.contains("RECEIVER") && text.contains("email") && text.contains("sent"), "{text}");
    assert!(!text.contains("down"), "only the mail receiver: {text}");

    // A template file that does not parse: refused with its own line and column;
    // the configuration in force is kept.
    std::fs::write(conf.join("tmpl/broken.tmpl"), "{{ define \"x\" }}\n{{ .Foo \n").unwrap();
    let out = a.cli(&["apply", "-f", am.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("broken.tmpl:2:"), "{err}");
    assert!(err.contains("nothing was applied"), "{err}");
    let out = a.cli(&["lint", am.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).contains("broken.tmpl:2:1: unclosed action"), "{}", stdout(&out));
}
