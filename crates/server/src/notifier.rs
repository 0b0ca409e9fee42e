//! The notifier: alerts from the rule manager (and from external Prometheus servers
//! through `/alertmanager/api/v2/alerts`) go through the applied
//! `AlertmanagerConfig`'s routing, grouping, inhibition and silences
//! (`andon_alertmanager::Dispatcher`), and the notifications it decides on are
//! delivered over HTTP (webhook, Slack, PagerDuty) with retries and backoff; a
//! notification that still fails is handed back so the next flush retries it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_alertmanager::config::Config;
use andon_alertmanager::config::IntegrationKind;
use andon_alertmanager::dispatch::{Dispatcher, NflogEntry, NflogKey, Notification};
use andon_alertmanager::payload::{RenderContext, Rendered, Templates};
use andon_alertmanager::silence::{Silence, SilenceState, Silences};
use andon_alertmanager::{Alert, tz::ZoneLookup};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

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
}

impl State {
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
    templates: Templates,
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
            }),
            wake: tokio::sync::Notify::new(),
            external_url,
            templates,
            zones: Box::new(andon_alertmanager::system_zones()),
            http: Client::builder(TokioExecutor::new()).build_http(),
            store,
        }))
    }

    pub(crate) fn zones(&self) -> &dyn ZoneLookup {
        &*self.zones
    }

    /// Puts the AlertmanagerConfig `source` in force (`None`: it was deleted). The
    /// last applied one wins; its groups and notification log carry over.
    pub(crate) fn set_config(&self, source: &str, config: Option<Config>) {
        let Ok(mut st) = self.state.lock() else { return };
        match config {
            Some(cfg) => {
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
                Ok(mut st) => match st.dispatcher.as_mut() {
                    Some(d) => {
                        let due = d.tick(now);
                        let rendered: Vec<(Notification, Result<Rendered, String>)> = due
                            .into_iter()
                            .map(|n| {
                                let r = match d.integration(&n) {
                                    Some(integ) => {
                                        let read = |p: &str| {
                                            std::fs::read_to_string(p).map_err(|e| e.to_string())
                                        };
                                        let cx = RenderContext {
                                            external_url: &self.external_url,
                                            templates: &self.templates,
                                            zones: &*self.zones,
                                            read_file: &read,
                                            hostname: "andon",
                                        };
                                        andon_alertmanager::payload::render(&n, integ, &cx)
                                            .map_err(|e| e.0)
                                    }
                                    None => Err("the receiver is gone".into()),
                                };
                                (n, r)
                            })
                            .collect();
                        (rendered, d.next_deadline())
                    }
                    None => (Vec::new(), None),
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

    async fn deliver(&self, n: Notification, r: Result<Rendered, String>) {
        let result = match r {
            Ok(Rendered::Http { url, body }) => self.post_with_retries(&url, body).await,
            Ok(Rendered::Email(_)) => Err("e-mail delivery is not available yet".to_string()),
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
        let key = n.nflog_key();
        let entry = n.nflog_entry();
        let hex = |s: &std::collections::BTreeSet<u64>| {
            s.iter().map(|f| format!("{f:016x}")).collect::<Vec<_>>()
        };
        let event = andon_core::NewEvent {
            kind: "notification.sent".into(),
            subject: format!("Receiver/{}", key.receiver),
            actor: "notifier".into(),
            data: serde_json::json!({
                "receiver": key.receiver,
                "integration": key.integration.as_str(),
                "index": key.index,
                "groupKey": key.group_key,
                "status": n.status.as_str(),
                "reason": n.reason.as_str(),
                "alerts": n.alerts.len(),
                "firing": hex(&entry.firing),
                "resolved": hex(&entry.resolved),
                "timestamp": entry.timestamp,
                "expiresAt": entry.expires_at,
            }),
        };
        if let Err(e) = self.store.append(vec![event]).await {
            tracing::warn!(error = %e, "notification log not recorded");
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

    async fn post_with_retries(&self, url: &str, body: String) -> Result<(), String> {
        let mut backoff = Duration::from_millis(200);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            match self.post(url, body.clone()).await {
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

    async fn post(&self, url: &str, body: String) -> Result<(), (bool, String)> {
        let req = hyper::Request::post(url)
            .header("content-type", "application/json")
            .header("user-agent", concat!("andon/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| (false, e.to_string()))?;
        let resp = match tokio::time::timeout(Duration::from_secs(10), self.http.request(req)).await
        {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err((true, e.to_string())),
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
