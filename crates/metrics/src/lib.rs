//! andon's metrics engine as a service: the TSDB in the data dir, scrape
//! loops that fill it (every ready instance the supervisor runs, and andon
//! itself), and the Prometheus-compatible HTTP API under `/prometheus`.

mod api;
pub mod config;
pub mod import;
pub mod remote;
pub mod rules;
mod scrape;
pub mod slo;
pub mod time;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use andon_tsdb::Tsdb;

pub use scrape::{ScrapeSettings, Target, TargetStatus};

/// The source name of the rules andon ships (in `/rules` as the group's `file`).
pub const DEFAULT_RULES_SOURCE: &str = "andon/defaults";

/// The rules andon ships for the services it runs.
pub fn default_rules() -> Result<andon_rules::RuleFile, Error> {
    andon_rules::file::parse(
        include_bytes!("default_rules.yml"),
        "default_rules.yml",
        andon_rules::ReadOptions::default(),
    )
    .map_err(|d| Error(format!("built-in rules: {d:?}")))
}

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
    /// How often rule groups without their own `interval` are evaluated.
    pub evaluation_interval: Duration,
    /// Labels and URL alert templates see as `$externalLabels` / `$externalURL`.
    pub external_labels: std::collections::BTreeMap<String, String>,
    pub external_url: String,
    /// Evaluate the rules andon ships for the services it runs (`default_rules.yml`).
    pub default_rules: bool,
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
            evaluation_interval: Duration::from_secs(15),
            external_labels: Default::default(),
            external_url: String::new(),
            default_rules: true,
        }
    }
}

/// The engine: storage, scraping, queries.
pub struct Engine {
    pub(crate) db: Arc<Tsdb>,
    pub(crate) opts: Options,
    pub(crate) scrapes: scrape::Manager,
    pub(crate) senders: Arc<[Arc<remote::Sender>]>,
    pub(crate) rules: rules::RuleManager,
    /// SLOs by source (`namespace/name` of their PrometheusServiceLevel).
    pub(crate) slos: std::sync::Mutex<std::collections::BTreeMap<String, Vec<andon_slo::Slo>>>,
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
            rules: rules::RuleManager::new(
                db.clone(),
                opts.query.clone(),
                opts.evaluation_interval,
                andon_rules::Settings {
                    external_labels: opts.external_labels.clone(),
                    external_url: opts.external_url.clone(),
                },
                senders.clone(),
            ),
            senders,
            opts,
            slos: Default::default(),
            dropped: Default::default(),
            started_ms: time::now_ms(),
        });
        if engine.opts.default_rules {
            engine.rules.set_source(DEFAULT_RULES_SOURCE, Some(default_rules()?));
        }
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

    /// Evaluates a PromQL query at `t` (ms) with the engine's limits. Blocking: call off
    /// the async workers.
    pub fn instant_query(&self, query: &str, t: i64) -> Result<andon_promql::Value, String> {
        let expr = andon_promql::parse(query).map_err(|e| format!("query {query:?}: {e}"))?;
        andon_promql::instant_query(&*self.db, &expr, t, &self.opts.query)
            .map(|out| out.value)
            .map_err(|e| format!("query {query:?}: {e}"))
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

    /// Replaces the rule groups of `source` (a `PrometheusRule` resource); `None` removes them.
    pub fn set_rules(&self, source: &str, file: Option<andon_rules::RuleFile>) {
        self.rules.set_source(source, file);
    }

    /// Replaces the SLOs of `source` (a `PrometheusServiceLevel`, `namespace/name`)
    /// and the rules generated for them (rule source `slo/<source>`); `None` removes them.
    pub fn set_slos(
        &self,
        source: &str,
        generated: Option<&andon_slo::Generated>,
    ) -> Result<(), String> {
        let file = generated.map(slo::rule_file).transpose()?;
        self.rules.set_source(&format!("slo/{source}"), file);
        if let Ok(mut slos) = self.slos.lock() {
            match generated {
                Some(g) => {
                    slos.insert(source.to_string(), g.slos.clone());
                }
                None => {
                    slos.remove(source);
                }
            }
        }
        Ok(())
    }

    /// Every SLO with its source.
    pub fn slos(&self) -> Vec<(String, andon_slo::Slo)> {
        self.slos
            .lock()
            .map(|m| {
                m.iter().flat_map(|(k, v)| v.iter().map(move |s| (k.clone(), s.clone()))).collect()
            })
            .unwrap_or_default()
    }

    /// Alerts that fire or resolve from now on, in order (alert history).
    pub fn alert_events(&self) -> tokio::sync::mpsc::UnboundedReceiver<rules::AlertEvent> {
        self.rules.subscribe()
    }

    /// Firing and resolved alerts after every rule evaluation, for the notifier.
    pub fn outgoing_alerts(
        &self,
    ) -> tokio::sync::mpsc::UnboundedReceiver<Vec<andon_alertmanager::Alert>> {
        self.rules.subscribe_alerts()
    }

    /// Every rule group with its rules' health and alerts.
    pub fn rule_groups(&self) -> Vec<rules::GroupSnapshot> {
        self.rules.snapshot()
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
        self.rules.stop_all();
        self.scrapes.stop_all().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn default_rules_read_and_pass_their_unit_tests() {
        let file = super::default_rules().unwrap();
        assert_eq!(file.rule_count(), 5);
        let tests =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/default_rules_test.yml");
        let report = andon_rules::unittest::run_file(&tests, &Default::default());
        assert!(report.passed(), "{:#?}", report.errors);
        assert_eq!(report.groups.len(), 3);
    }
}
