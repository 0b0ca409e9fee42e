//! Scrape loops with Prometheus semantics: `job`/`instance` labels (exposed
//! labels that clash are kept as `exported_<name>`), the sample's own
//! timestamp when it has one, `up`, `scrape_duration_seconds`,
//! `scrape_samples_scraped`, `sample_limit`, and staleness markers for series
//! that vanish from a target and for every series of a target that goes away.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use andon_expo::{Entry, Format, Parser};
use andon_series::{Labels, stale_nan};
use andon_tsdb::Tsdb;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::watch;

use crate::Options;
use crate::time::now_ms;

/// One scrape target.
#[derive(Clone, Debug)]
pub struct Target {
    /// `http://host:port/metrics`.
    pub url: String,
    /// Labels added to every scraped series, including `job` and `instance`.
    pub labels: Labels,
    /// The labels before relabeling (shown by the targets API).
    pub discovered: Labels,
    /// How this target is scraped; `None` uses the engine's defaults.
    pub settings: Option<Arc<ScrapeSettings>>,
}

impl Target {
    /// A target scraped with the engine's default settings.
    pub fn new(url: String, labels: Labels) -> Target {
        Target { url, discovered: labels.clone(), labels, settings: None }
    }
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url
            && self.labels == other.labels
            && self.settings.as_ref().map(|s| &s.key) == other.settings.as_ref().map(|s| &s.key)
    }
}

/// Per-pool scrape settings (from a `ScrapeConfig`).
pub struct ScrapeSettings {
    pub interval: Duration,
    pub timeout: Duration,
    /// Exposed labels win over target labels (no `exported_` renaming).
    pub honor_labels: bool,
    /// Use timestamps the target exposes (otherwise the scrape time).
    pub honor_timestamps: bool,
    /// More samples than this fail the scrape (0: no limit).
    pub sample_limit: usize,
    /// Applied to every scraped series after the target labels.
    pub metric_relabel: Option<andon_series::relabel::Relabeler>,
    /// Identity of the settings: targets with a changed config restart.
    pub key: String,
}

impl std::fmt::Debug for ScrapeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key)
    }
}

/// The last scrape's outcome.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetStatus {
    /// "up", "down" or "unknown" (not scraped yet).
    pub health: &'static str,
    pub last_error: String,
    /// Unix ms of the last scrape's start (0: never).
    pub last_scrape: i64,
    pub last_duration: Duration,
    pub samples: usize,
}

/// Metric metadata from the latest scrapes: name → (type, help, unit).
pub(crate) type Metadata = Arc<Mutex<HashMap<String, (String, String, String)>>>;

struct Running {
    target: Target,
    status: Arc<Mutex<TargetStatus>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

pub(crate) struct Manager {
    db: Arc<Tsdb>,
    interval: Duration,
    timeout: Duration,
    sample_limit: usize,
    client: Client<HttpConnector, Empty<Bytes>>,
    pools: Mutex<HashMap<String, Vec<Running>>>,
    /// Scrape loops run here even when targets change from another thread.
    handle: tokio::runtime::Handle,
    senders: Arc<[Arc<crate::remote::Sender>]>,
    /// Metric metadata from the latest scrapes: name → (type, help, unit).
    pub(crate) metadata: Metadata,
}

impl Manager {
    pub(crate) fn new(
        db: Arc<Tsdb>,
        opts: &Options,
        senders: Arc<[Arc<crate::remote::Sender>]>,
    ) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        Manager {
            db,
            interval: opts.scrape_interval,
            timeout: opts.scrape_timeout,
            sample_limit: opts.sample_limit,
            client,
            pools: Mutex::new(HashMap::new()),
            handle: tokio::runtime::Handle::current(),
            senders,
            metadata: Arc::default(),
        }
    }

    pub(crate) fn set_targets(&self, pool: &str, targets: Vec<Target>) {
        let Ok(mut pools) = self.pools.lock() else { return };
        let current = pools.remove(pool).unwrap_or_default();
        let mut keep = Vec::new();
        for r in current {
            if targets.contains(&r.target) {
                keep.push(r);
            } else {
                let _ = r.stop.send(true);
            }
        }
        for t in targets {
            if keep.iter().any(|r| r.target == t) {
                continue;
            }
            keep.push(self.spawn(t));
        }
        pools.insert(pool.to_string(), keep);
    }

    fn spawn(&self, target: Target) -> Running {
        let status =
            Arc::new(Mutex::new(TargetStatus { health: "unknown", ..TargetStatus::default() }));
        let (stop, stop_rx) = watch::channel(false);
        let defaults = ScrapeSettings {
            interval: self.interval,
            timeout: self.timeout,
            honor_labels: false,
            honor_timestamps: true,
            sample_limit: self.sample_limit,
            metric_relabel: None,
            key: String::new(),
        };
        let settings = target.settings.clone().unwrap_or_else(|| Arc::new(defaults));
        let lp = Loop {
            db: self.db.clone(),
            client: self.client.clone(),
            target: target.clone(),
            settings,
            senders: self.senders.clone(),
            status: status.clone(),
            metadata: self.metadata.clone(),
            last_series: HashSet::new(),
        };
        let task = self.handle.spawn(lp.run(stop_rx));
        Running { target, status, stop, task }
    }

    pub(crate) fn targets(&self) -> Vec<(Target, TargetStatus)> {
        let Ok(pools) = self.pools.lock() else { return Vec::new() };
        let mut out: Vec<(Target, TargetStatus)> = pools
            .values()
            .flatten()
            .map(|r| (r.target.clone(), r.status.lock().map(|s| s.clone()).unwrap_or_default()))
            .collect();
        out.sort_by(|a, b| a.0.labels.cmp(&b.0.labels));
        out
    }

    pub(crate) async fn stop_all(&self) {
        let running: Vec<Running> = match self.pools.lock() {
            Ok(mut p) => p.drain().flat_map(|(_, v)| v).collect(),
            Err(_) => return,
        };
        for r in &running {
            let _ = r.stop.send(true);
        }
        for r in running {
            let _ = r.task.await;
        }
    }
}

struct Loop {
    db: Arc<Tsdb>,
    client: Client<HttpConnector, Empty<Bytes>>,
    target: Target,
    settings: Arc<ScrapeSettings>,
    senders: Arc<[Arc<crate::remote::Sender>]>,
    status: Arc<Mutex<TargetStatus>>,
    metadata: Metadata,
    last_series: HashSet<Labels>,
}

/// The largest scrape body read (512 MiB).
const MAX_BODY: usize = 512 << 20;
/// With a sample limit, the body may hold this many bytes per allowed sample.
const BYTES_PER_SAMPLE_LIMIT: usize = 1024;

const ACCEPT: &str =
    "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.1";

impl Loop {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        // Spread targets over the interval, as Prometheus does, by a stable offset.
        let offset =
            self.target.labels.fingerprint() % (self.settings.interval.as_millis().max(1) as u64);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(offset)) => {}
            _ = stop.changed() => return self.go_stale(),
        }
        let mut tick = tokio::time::interval(self.settings.interval.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = tick.tick() => self.scrape_once().await,
                _ = stop.changed() => return self.go_stale(),
            }
        }
    }

    async fn fetch(&self) -> Result<(String, Vec<u8>), String> {
        let req = hyper::Request::get(&self.target.url)
            .header("accept", ACCEPT)
            .header(
                "x-prometheus-scrape-timeout-seconds",
                format!("{}", self.settings.timeout.as_secs_f64()),
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let fut = async {
            let resp = self.client.request(req).await.map_err(|e| format!("{e}"))?;
            if !resp.status().is_success() {
                return Err(format!("server returned HTTP status {}", resp.status()));
            }
            let ct = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            // Read at most what the sample limit can need, so a target
            // exposing millions of series is cut before its body is in memory.
            let limit = match self.settings.sample_limit {
                0 => MAX_BODY,
                n => n.saturating_mul(BYTES_PER_SAMPLE_LIMIT).clamp(1 << 20, MAX_BODY),
            };
            let mut body = resp.into_body();
            let mut buf: Vec<u8> = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| e.to_string())?;
                if let Some(data) = frame.data_ref() {
                    if buf.len() + data.len() > limit {
                        return Err(match self.settings.sample_limit {
                            0 => format!("body size limit exceeded: more than {limit} bytes"),
                            n => format!(
                                "sample_limit exceeded: the body is larger than {n} samples can be ({limit} bytes)"
                            ),
                        });
                    }
                    buf.extend_from_slice(data);
                }
            }
            Ok((ct, buf))
        };
        match tokio::time::timeout(self.settings.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "context deadline exceeded (scrape timeout {:?})",
                self.settings.timeout
            )),
        }
    }

    async fn scrape_once(&mut self) {
        let started = Instant::now();
        let ts = now_ms();
        let fetched = self.fetch().await;
        let parsed = fetched.and_then(|(ct, body)| self.parse(&ct, &body, ts));
        let duration = started.elapsed();
        let (samples, err) = match parsed {
            Ok(s) => (s, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let scraped = samples.len();
        let current: HashSet<Labels> = samples.iter().map(|(l, _, _)| l.clone()).collect();
        let mut all = samples;
        // Series the target stopped exposing (or all of them when the scrape failed).
        for gone in self.last_series.difference(&current) {
            all.push((gone.clone(), ts, stale_nan()));
        }
        let up = if err.is_none() { 1.0 } else { 0.0 };
        for (name, v) in [
            ("up", up),
            ("scrape_duration_seconds", duration.as_secs_f64()),
            ("scrape_samples_scraped", scraped as f64),
        ] {
            all.push((self.target.labels.with("__name__", name), ts, v));
        }
        let mut app = self.db.appender();
        let mut ok = true;
        for (l, t, v) in &all {
            ok &= app.append(l, *t, *v).is_ok();
        }
        match app.commit() {
            Ok(_) => {
                for sender in self.senders.iter() {
                    sender.enqueue(&all);
                }
            }
            Err(e) => {
                tracing::warn!(target = %self.target.url, error = %e, "storing a scrape failed")
            }
        }
        if !ok {
            tracing::debug!(target = %self.target.url, "some scraped samples were rejected");
        }
        self.last_series = current;
        if let Ok(mut s) = self.status.lock() {
            s.health = if err.is_none() { "up" } else { "down" };
            s.last_error = err.unwrap_or_default();
            s.last_scrape = ts;
            s.last_duration = duration;
            s.samples = scraped;
        }
    }

    /// Parses an exposition into labelled samples, all or nothing.
    fn parse(
        &self,
        content_type: &str,
        body: &[u8],
        ts: i64,
    ) -> Result<Vec<(Labels, i64, f64)>, String> {
        let mut out = Vec::new();
        let mut meta = Vec::new();
        for entry in Parser::new(body, Format::from_content_type(content_type)) {
            match entry.map_err(|e| format!("parse error: {e}"))? {
                Entry::Family(f) => meta.push((
                    f.name,
                    (
                        f.metric_type.as_str().replace("untyped", "unknown"),
                        f.help.unwrap_or_default(),
                        f.unit.unwrap_or_default(),
                    ),
                )),
                Entry::Sample(s) => {
                    let limit = self.settings.sample_limit;
                    if limit > 0 && out.len() >= limit {
                        return Err(format!("sample_limit exceeded: more than {limit} samples"));
                    }
                    let labels = self.target_labels(s.labels);
                    let labels = match &self.settings.metric_relabel {
                        Some(r) => match r.apply(&labels) {
                            Some(l) => l,
                            None => continue,
                        },
                        None => labels,
                    };
                    let t = if self.settings.honor_timestamps {
                        s.timestamp_ms.unwrap_or(ts)
                    } else {
                        ts
                    };
                    out.push((labels, t, s.value));
                }
            }
        }
        if let Ok(mut m) = self.metadata.lock() {
            m.extend(meta);
        }
        Ok(out)
    }

    /// Adds the target's labels; exposed labels that clash become
    /// `exported_<name>`, or win with `honor_labels`.
    fn target_labels(&self, exposed: Labels) -> Labels {
        let mut l = exposed;
        for t in self.target.labels.iter() {
            if self.settings.honor_labels && l.has(&t.name) {
                continue;
            }
            if let Some(v) = l.get(&t.name).map(str::to_string) {
                if v == t.value {
                    continue;
                }
                l.set(&format!("exported_{}", t.name), &v);
            }
            l.set(&t.name, &t.value);
        }
        l
    }

    /// The target went away: every series it exposed ends now.
    fn go_stale(self) {
        let ts = now_ms();
        let mut app = self.db.appender();
        for l in &self.last_series {
            let _ = app.append(l, ts, stale_nan());
        }
        for name in ["up", "scrape_duration_seconds", "scrape_samples_scraped"] {
            let _ = app.append(&self.target.labels.with("__name__", name), ts, stale_nan());
        }
        if let Err(e) = app.commit() {
            tracing::warn!(target = %self.target.url, error = %e, "storing staleness markers failed");
        }
    }
}
