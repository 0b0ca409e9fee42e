//! andon's metrics engine as a service: the TSDB in the data dir, scrape
//! loops that fill it (every ready instance the supervisor runs, and andon
//! itself), and the Prometheus-compatible HTTP API under `/prometheus`.

mod api;
pub mod config;
pub mod import;
pub mod remote;
mod scrape;
pub mod time;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use andon_tsdb::Tsdb;

pub use scrape::{ScrapeSettings, Target, TargetStatus};

/// Engine settings.
#[derive(Clone, Debug)]
pub struct Options {
    pub scrape_interval: Duration,
    pub scrape_timeout: Duration,
    /// A scrape exposing more samples than this fails (0: no limit).
    pub sample_limit: usize,
    pub query: andon_promql::Options,
    pub tsdb: andon_tsdb::Options,
    /// Remote-write endpoints every stored sample is forwarded to.
    pub remote_write: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            scrape_interval: Duration::from_secs(15),
            scrape_timeout: Duration::from_secs(10),
            sample_limit: 0,
            query: andon_promql::Options::default(),
            tsdb: andon_tsdb::Options::default(),
            remote_write: Vec::new(),
        }
    }
}

/// The engine: storage, scraping, queries.
pub struct Engine {
    pub(crate) db: Arc<Tsdb>,
    pub(crate) opts: Options,
    pub(crate) scrapes: scrape::Manager,
    pub(crate) senders: Arc<[Arc<remote::Sender>]>,
    pub(crate) started_ms: i64,
    /// Per ScrapeConfig pool: discovered label sets its relabeling dropped.
    pub(crate) dropped:
        std::sync::Mutex<std::collections::HashMap<String, Vec<andon_series::Labels>>>,
}

#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl Engine {
    /// Opens (or creates) the TSDB in `dir` and starts its maintenance task.
    /// Must be called inside a Tokio runtime.
    pub fn open(dir: &Path, opts: Options) -> Result<Arc<Engine>, Error> {
        let db = Tsdb::open(dir, opts.tsdb.clone())
            .map_err(|e| Error(format!("tsdb at {}: {e}", dir.display())))?;
        let db = Arc::new(db);
        let senders: Arc<[Arc<remote::Sender>]> =
            opts.remote_write.iter().map(|u| remote::Sender::start(u.clone())).collect();
        let engine = Arc::new(Engine {
            db: db.clone(),
            scrapes: scrape::Manager::new(db.clone(), &opts, senders.clone()),
            senders,
            opts,
            dropped: Default::default(),
            started_ms: time::now_ms(),
        });
        let weak = Arc::downgrade(&db);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(db) = weak.upgrade() else { return };
                let now = time::now_ms();
                let r = tokio::task::spawn_blocking(move || db.maintain(now)).await;
                if let Ok(Err(e)) = r {
                    tracing::warn!(error = %e, "tsdb maintenance failed");
                }
            }
        });
        Ok(engine)
    }

    /// Limits and defaults for PromQL queries.
    pub fn query_options(&self) -> &andon_promql::Options {
        &self.opts.query
    }

    /// The storage, for queries and imports.
    pub fn db(&self) -> &Arc<Tsdb> {
        &self.db
    }

    /// Replaces the targets of one scrape pool (a job): new targets start
    /// being scraped, removed ones stop and their series are marked stale.
    pub fn set_targets(&self, pool: &str, targets: Vec<Target>) {
        self.scrapes.set_targets(pool, targets);
    }

    /// Applies (or, with `None`, removes) the ScrapeConfig `name` as pool `pool`.
    pub fn set_scrape_config(
        &self,
        pool: &str,
        name: &str,
        spec: Option<&andon_spec::scrape::ScrapeConfigSpec>,
    ) -> Result<(), String> {
        let resolved = match spec {
            Some(s) => {
                config::resolve(name, s, self.opts.scrape_interval, self.opts.scrape_timeout)?
            }
            None => config::Resolved { targets: Vec::new(), dropped: Vec::new() },
        };
        if let Ok(mut d) = self.dropped.lock() {
            if resolved.dropped.is_empty() {
                d.remove(pool);
            } else {
                d.insert(pool.to_string(), resolved.dropped);
            }
        }
        self.scrapes.set_targets(pool, resolved.targets);
        Ok(())
    }

    /// Discovered label sets that relabeling dropped.
    pub fn dropped_targets(&self) -> Vec<andon_series::Labels> {
        self.dropped.lock().map(|d| d.values().flatten().cloned().collect()).unwrap_or_default()
    }

    /// Every active target with its last scrape's outcome.
    pub fn targets(&self) -> Vec<(Target, TargetStatus)> {
        self.scrapes.targets()
    }

    /// Routes under `/prometheus/api/v1/`.
    pub fn routes<S: Clone + Send + Sync + 'static>(self: &Arc<Self>) -> axum::Router<S> {
        api::routes(self.clone())
    }

    /// The remote-write endpoints and their counters.
    pub fn remote_writes(&self) -> &[Arc<remote::Sender>] {
        &self.senders
    }

    /// Stops every scrape loop, marking their series stale.
    pub async fn shutdown(&self) {
        self.scrapes.stop_all().await;
    }
}
