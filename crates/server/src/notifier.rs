//! The notifier: alerts from the rule manager (and from external Prometheus servers
//! through `/alertmanager/api/v2/alerts`) go through the applied
//! `AlertmanagerConfig`'s routing, grouping, inhibition and silences
//! (`andon_alertmanager::Dispatcher`), and the notifications it decides on are
//! delivered over HTTP (webhook, Slack, PagerDuty) with retries and backoff; a
//! notification that still fails is handed back so the next flush retries it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_alertmanager::config::Config;
use andon_alertmanager::config::{Integration, IntegrationKind, Settings};
use andon_alertmanager::dispatch::{Dispatcher, NflogEntry, NflogKey, Notification};
use andon_alertmanager::payload::{RenderContext, Rendered, Templates};
use andon_alertmanager::silence::{Silence, SilenceState, Silences};
use andon_alertmanager::{Alert, tz::ZoneLookup};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::tls::TlsOptions;

/// A notification rendered for its integration with the TLS settings to send it
/// with, or why it could not be rendered.
type Outgoing = Result<(Rendered, TlsOptions), String>;

/// Attempts per notification before it is handed back to the dispatcher.
const ATTEMPTS: u32 = 5;

struct State {
    dispatcher: Option<Dispatcher>,
    /// The `namespace/name` of the AlertmanagerConfig in force.
    source: Option<String>,
    /// Every silence; copied into the dispatcher whenever it changes or is rebuilt.
    silences: Silences,
    /// Notification-log entries read back at start, given to the dispatcher once one exists.
    nflog: Vec<(NflogKey, NflogEntry)>,
    /// andon's default templates plus the configuration's `templates:` files.
    templates: Templates,
    /// `global.http_config`: the receivers' default HTTP client settings.
    global_http: Option<serde_json::Value>,
}

impl State {
    fn split(&mut self) -> (Option<&mut Dispatcher>, &Templates, Option<&serde_json::Value>) {
        (self.dispatcher.as_mut(), &self.templates, self.global_http.as_ref())
    }

    fn sync_nflog(&mut self) {
        if let Some(d) = self.dispatcher.as_mut() {
            for (k, e) in std::mem::take(&mut self.nflog) {
                d.restore_nflog(k, e);
            }
        }
    }

    fn sync_silences(&mut self) {
        if let Some(d) = self.dispatcher.as_mut() {
            for s in self.silences.iter() {
                d.silences_mut().restore(s.clone());
            }
        }
    }
}

pub(crate) struct Notifier {
    state: Mutex<State>,
    wake: tokio::sync::Notify,
    external_url: String,
    zones: Box<dyn ZoneLookup + Send + Sync>,
    http: Client<HttpConnector, Full<Bytes>>,
    /// Delivered notifications go to the journal (the notification log).
    store: andon_store::Store,
}

fn now_ms() -> i64 {
    andon_metrics::time::now_ms()
}

impl Notifier {
    pub(crate) fn new(
        external_url: String,
        store: andon_store::Store,
    ) -> Result<Arc<Notifier>, String> {
        let templates = Templates::new().map_err(|e| format!("notification templates: {}", e.0))?;
        Ok(Arc::new(Notifier {
            state: Mutex::new(State {
                dispatcher: None,
                source: None,
                silences: Silences::new(),
                nflog: Vec::new(),
                templates,
                global_http: None,
            }),
            wake: tokio::sync::Notify::new(),
            external_url,
            zones: Box::new(andon_alertmanager::system_zones()),
            http: Client::builder(TokioExecutor::new()).build_http(),
            store,
        }))
    }

    pub(crate) fn zones(&self) -> &dyn ZoneLookup {
        &*self.zones
    }

    /// Puts the AlertmanagerConfig `source` in force with its templates (`None`: it
    /// was deleted). The last applied one wins; its groups and notification log carry
    /// over.
    pub(crate) fn set_config(&self, source: &str, config: Option<(Config, Templates)>) {
        let Ok(mut st) = self.state.lock() else { return };
        match config {
            Some((cfg, templates)) => {
                st.templates = templates;
                st.global_http = cfg.global.http_config.clone();
                for w in &cfg.warnings {
                    tracing::warn!(config = source, warning = %w, "alertmanager config");
                }
                match st.dispatcher.as_mut() {
                    Some(d) => d.reload(&cfg, now_ms()),
                    None => st.dispatcher = Some(Dispatcher::new(&cfg)),
                }
                st.source = Some(source.to_string());
                st.sync_silences();
                st.sync_nflog();
            }
            None if st.source.as_deref() == Some(source) => {
                st.dispatcher = None;
                st.source = None;
            }
            None => {}
        }
        drop(st);
        self.wake.notify_one();
    }

    /// Takes alerts in (firing or resolved); without a config in force they are
    /// not routed anywhere.
    pub(crate) fn insert(&self, alerts: Vec<Alert>) -> Result<(), String> {
        let now = now_ms();
        let Ok(mut st) = self.state.lock() else { return Err("notifier unavailable".into()) };
        let Some(d) = st.dispatcher.as_mut() else { return Ok(()) };
        let mut errors = Vec::new();
        for a in alerts {
            if let Err(e) = d.insert(a, now) {
                errors.push(e);
            }
        }
        drop(st);
        self.wake.notify_one();
        if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
    }

    /// Creates or updates a silence (Alertmanager's rules); returns every silence the
    /// change touched (an update that cannot be in place expires the old one), the
    /// resulting one first.
    pub(crate) fn set_silence(&self, s: Silence) -> Result<Vec<Silence>, String> {
        let now = now_ms();
        let Ok(mut st) = self.state.lock() else { return Err("notifier unavailable".into()) };
        let old_id = s.id.clone();
        let id = st.silences.set(s, now).map_err(|e| e.to_string())?;
        let mut touched: Vec<Silence> = st.silences.get(&id).cloned().into_iter().collect();
        if !old_id.is_empty() && old_id != id {
            touched.extend(st.silences.get(&old_id).cloned());
        }
        st.sync_silences();
        Ok(touched)
    }

    /// Expires a silence now.
    pub(crate) fn expire_silence(&self, id: &str) -> Result<Silence, String> {
        let Ok(mut st) = self.state.lock() else { return Err("notifier unavailable".into()) };
        st.silences.expire(id, now_ms()).map_err(|e| e.to_string())?;
        let s = st.silences.get(id).cloned().ok_or_else(|| format!("no silence {id}"))?;
        st.sync_silences();
        Ok(s)
    }

    /// Puts back a silence read from the journal at start-up.
    pub(crate) fn restore_silence(&self, s: Silence) {
        if let Ok(mut st) = self.state.lock() {
            st.silences.restore(s);
            st.sync_silences();
        }
    }

    /// Every silence with its state now.
    pub(crate) fn silences(&self) -> Vec<(Silence, SilenceState)> {
        let now = now_ms();
        let Ok(st) = self.state.lock() else { return Vec::new() };
        st.silences.iter().map(|s| (s.clone(), s.state(now))).collect()
    }

    /// The alerts the dispatcher holds, for `GET /alertmanager/api/v2/alerts`.
    pub(crate) fn alerts(&self) -> Vec<(Alert, bool)> {
        let now = now_ms();
        let Ok(st) = self.state.lock() else { return Vec::new() };
        let Some(d) = st.dispatcher.as_ref() else { return Vec::new() };
        d.alerts().map(|a| (a.clone(), d.suppression(&a.labels, now).is_suppressed())).collect()
    }

    /// Flushes due groups and delivers their notifications, until the process ends.
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            let now = now_ms();
            let (due, next) = match self.state.lock() {
                Ok(mut guard) => match guard.split() {
                    (Some(d), st_templates, global_http) => {
                        let due = d.tick(now);
                        let rendered: Vec<(Notification, Outgoing)> = due
                            .into_iter()
                            .map(|n| {
                                let r = match d.integration(&n) {
                                    Some(integ) => {
                                        let read = |p: &str| {
                                            std::fs::read_to_string(p).map_err(|e| e.to_string())
                                        };
                                        let cx = RenderContext {
                                            external_url: &self.external_url,
                                            templates: st_templates,
                                            zones: &*self.zones,
                                            read_file: &read,
                                            hostname: "andon",
                                        };
                                        andon_alertmanager::payload::render(&n, integ, &cx)
                                            .map(|r| (r, tls_of(integ, global_http)))
                                            .map_err(|e| e.0)
                                    }
                                    None => Err("the receiver is gone".into()),
                                };
                                (n, r)
                            })
                            .collect();
                        (rendered, d.next_deadline())
                    }
                    (None, ..) => (Vec::new(), None),
                },
                Err(_) => return,
            };
            for (n, r) in due {
                let me = self.clone();
                tokio::spawn(async move { me.deliver(n, r).await });
            }
            let wait = next.map_or(Duration::from_secs(1), |t| {
                Duration::from_millis((t - now_ms()).clamp(10, 1000) as u64)
            });
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    async fn deliver(&self, n: Notification, r: Outgoing) {
        let result = match r {
            Ok((Rendered::Http { url, body }, tls)) => {
                self.with_retries(|| self.post(&url, body.clone(), &tls)).await
            }
            Ok((Rendered::Email(m), tls)) => {
                self.with_retries(|| async {
                    crate::smtp::send(&m, &tls, m.force_implicit_tls)
                        .await
                        .map_err(|e| (e.retry, e.message))
                })
                .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                tracing::info!(
                    receiver = %n.receiver,
                    group = %n.group_key,
                    alerts = n.alerts.len(),
                    status = n.status.as_str(),
                    "notification sent"
                );
                self.log_sent(&n).await;
            }
            Err(e) => {
                tracing::warn!(receiver = %n.receiver, group = %n.group_key, error = %e, "notification failed; the next flush retries it");
                self.log_failed(&n, &e).await;
                if let Ok(mut st) = self.state.lock()
                    && let Some(d) = st.dispatcher.as_mut()
                {
                    d.failed(&n);
                }
            }
        }
    }

    /// Records a delivered notification in the journal: the notification log, read
    /// back at start so a restart does not notify the same groups again.
    async fn log_sent(&self, n: &Notification) {
        let entry = n.nflog_entry();
        let hex = |s: &std::collections::BTreeSet<u64>| {
            s.iter().map(|f| format!("{f:016x}")).collect::<Vec<_>>()
        };
        let more = serde_json::json!({
            "firing": hex(&entry.firing),
            "resolved": hex(&entry.resolved),
            "timestamp": entry.timestamp,
            "expiresAt": entry.expires_at,
        });
        self.log(n, "notification.sent", more).await;
    }

    /// Records a notification that failed after its retries (the dispatcher tries it
    /// again at the group's next flush), for the notification-log view.
    async fn log_failed(&self, n: &Notification, error: &str) {
        let more = serde_json::json!({ "attempts": ATTEMPTS, "error": error });
        self.log(n, "notification.failed", more).await;
    }

    /// Appends a notification-log event: what every entry says of its notification,
    /// and `more`.
    async fn log(&self, n: &Notification, kind: &str, more: serde_json::Value) {
        let key = n.nflog_key();
        let mut data = serde_json::json!({
            "receiver": key.receiver,
            "integration": key.integration.as_str(),
            "index": key.index,
            "groupKey": key.group_key,
            "status": n.status.as_str(),
            "reason": n.reason.as_str(),
            "alerts": n.alerts.len(),
        });
        if let (Some(d), serde_json::Value::Object(m)) = (data.as_object_mut(), more) {
            d.extend(m);
        }
        let event = andon_core::NewEvent {
            kind: kind.into(),
            subject: format!("Receiver/{}", key.receiver),
            actor: "notifier".into(),
            data,
        };
        if let Err(e) = self.store.append(vec![event]).await {
            tracing::warn!(error = %e, kind, "notification log not recorded");
        }
    }

    /// Reads the notification log back from the journal (entries not yet expired).
    pub(crate) async fn restore_nflog(&self) {
        let events = match self.store.events_of_kinds(&["notification.sent"], 100_000).await {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "notification log not restored");
                return;
            }
        };
        let now = now_ms();
        let mut entries = Vec::new();
        for e in events.into_iter().rev() {
            let d = &e.data;
            let kind = match d["integration"].as_str() {
                Some("webhook") => IntegrationKind::Webhook,
                Some("slack") => IntegrationKind::Slack,
                Some("email") => IntegrationKind::Email,
                Some("pagerduty") => IntegrationKind::PagerDuty,
                _ => continue,
            };
            let expires_at = d["expiresAt"].as_i64().unwrap_or(0);
            if expires_at <= now {
                continue;
            }
            let set = |v: &serde_json::Value| {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().and_then(|h| u64::from_str_radix(h, 16).ok()))
                    .collect()
            };
            entries.push((
                NflogKey {
                    receiver: d["receiver"].as_str().unwrap_or("").to_string(),
                    integration: kind,
                    index: d["index"].as_u64().unwrap_or(0) as usize,
                    group_key: d["groupKey"].as_str().unwrap_or("").to_string(),
                },
                NflogEntry {
                    firing: set(&d["firing"]),
                    resolved: set(&d["resolved"]),
                    timestamp: d["timestamp"].as_i64().unwrap_or(0),
                    expires_at,
                },
            ));
        }
        if let Ok(mut st) = self.state.lock() {
            st.nflog = entries;
            st.sync_nflog();
        }
    }

    /// Runs one delivery attempt up to [`ATTEMPTS`] times with exponential backoff
    /// while its errors say a retry may help.
    async fn with_retries<F, Fut>(&self, attempt_once: F) -> Result<(), String>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), (bool, String)>>,
    {
        let mut backoff = Duration::from_millis(200);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            match attempt_once().await {
                Ok(()) => return Ok(()),
                Err((retry, e)) => {
                    last = e;
                    if !retry || attempt == ATTEMPTS {
                        break;
                    }
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
        Err(last)
    }

    async fn post(&self, url: &str, body: String, tls: &TlsOptions) -> Result<(), (bool, String)> {
        let uri: hyper::Uri = url.parse().map_err(|e| (false, format!("url {url:?}: {e}")))?;
        let req = hyper::Request::post(&uri)
            .header("content-type", "application/json")
            .header("user-agent", concat!("andon/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| (false, e.to_string()))?;
        let send = async {
            if uri.scheme_str() == Some("https") {
                https_send(&uri, req, tls).await
            } else {
                self.http.request(req).await.map_err(|e| e.to_string())
            }
        };
        let resp = match tokio::time::timeout(Duration::from_secs(10), send).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err((true, e)),
            Err(_) => return Err((true, "timed out".into())),
        };
        let status = resp.status();
        let text = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        if status.is_success() {
            return Ok(());
        }
        let msg =
            format!("{status}: {}", String::from_utf8_lossy(&text[..text.len().min(300)]).trim());
        Err((status.is_server_error() || status.as_u16() == 429, msg))
    }
}

/// The TLS settings of an integration's HTTP client (its `http_config`, or the
/// global one) or of its SMTP client.
fn tls_of(integ: &Integration, global_http: Option<&serde_json::Value>) -> TlsOptions {
    let http = |own: &Option<serde_json::Value>| {
        TlsOptions::from_http_config(own.as_ref().or(global_http))
    };
    match &integ.settings {
        Settings::Webhook(c) => http(&c.http_config),
        Settings::Slack(c) => http(&c.http_config),
        Settings::PagerDuty(c) => http(&c.http_config),
        Settings::Email(c) => TlsOptions::from_json(c.tls_config.as_ref()),
    }
}

/// One HTTPS request on a connection of its own (notifications are few; no pool).
async fn https_send(
    uri: &hyper::Uri,
    mut req: hyper::Request<Full<Bytes>>,
    tls: &TlsOptions,
) -> Result<hyper::Response<hyper::body::Incoming>, String> {
    let host = uri.host().ok_or("url has no host")?;
    // HTTP/1.1 on a connection of our own: the request needs its Host header.
    let authority = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
    let value = hyper::header::HeaderValue::from_str(&authority).map_err(|e| e.to_string())?;
    req.headers_mut().insert(hyper::header::HOST, value);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *req.uri_mut() = path.parse().map_err(|e: hyper::http::uri::InvalidUri| e.to_string())?;
    let port = uri.port_u16().unwrap_or(443);
    let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
    let stream = crate::tls::connect(tcp, host, tls).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(req).await.map_err(|e| e.to_string())
}
