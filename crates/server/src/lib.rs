//! andon's server: the HTTP API over the store, the UI, andon's own metrics, and the
//! lifecycle (data-dir lock, readiness, graceful drain).

mod alerts;
mod am_api;
mod analysis;
mod api;
mod autoscaler;
mod error;
mod events;
mod logs;
mod markdown;
mod metrics;
mod notifier;
mod pipelines;
mod pipelines_api;
mod rollout_api;
mod rollouts;
mod runtime;
mod slo_api;
mod smtp;
mod tls;
mod ui;
mod ui_alerts;
mod ui_metrics;
mod ui_pipelines;
mod ui_rollouts;
mod ui_slos;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use andon_core::{Clock, SystemClock};
use andon_store::Store;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use error::ServerError;

/// How the server is run; every field has an `ANDON_*` environment equivalent in the CLI.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    /// `postgres://...` to use PostgreSQL; SQLite in the data dir otherwise.
    pub database_url: Option<String>,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    /// A binary that runs the supervisor's reaper when given `__reap` (andon's own), so
    /// that even a `kill -9` of andon leaves no service process behind.
    pub reaper: Option<PathBuf>,
    /// Scraping, storage and query settings of the metrics engine.
    pub metrics: andon_metrics::Options,
    /// How often autoscaled services are evaluated (Kubernetes' HPA sync period: 15 s).
    pub autoscaler_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:7070".into(),
            data_dir: PathBuf::from(".andon"),
            database_url: None,
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            reaper: None,
            metrics: andon_metrics::Options::default(),
            autoscaler_interval: Duration::from_secs(15),
        }
    }
}

/// State shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Store,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: Arc<metrics::Metrics>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) runtime: runtime::Runtime,
    pub(crate) engine: Arc<andon_metrics::Engine>,
    pub(crate) notifier: Arc<notifier::Notifier>,
}

/// A started server.
pub struct Server {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<Result<(), ServerError>>,
    store: Store,
    runtime: runtime::Runtime,
    engine: Arc<andon_metrics::Engine>,
    grace: Duration,
    _lock: std::fs::File,
}

/// Opens the store, binds the listener and starts serving.
pub async fn start(config: Config) -> Result<Server, ServerError> {
    let started = Instant::now();
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| ServerError::DataDir(config.data_dir.display().to_string(), e.to_string()))?;
    let lock = lock_data_dir(&config.data_dir)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let url = match &config.database_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", config.data_dir.join("andon.db").display()),
    };
    let store = Store::open(&url, clock.clone()).await?;
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| ServerError::Listen(config.listen.clone(), e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Listen(config.listen.clone(), e.to_string()))?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut metrics_opts = config.metrics.clone();
    // `--listen 127.0.0.1:0` picks a port: alert links point at the one bound.
    if metrics_opts.external_url.is_empty() || metrics_opts.external_url.ends_with(":0") {
        metrics_opts.external_url = format!("http://{addr}");
    }
    let external_url = metrics_opts.external_url.clone();
    let engine = andon_metrics::Engine::open(&config.data_dir.join("tsdb"), metrics_opts)
        .map_err(|e| ServerError::Metrics(e.0))?;
    engine.set_targets(
        "andon",
        vec![andon_metrics::Target::new(
            format!("http://{addr}/metrics"),
            andon_series::Labels::from_pairs(&[("job", "andon"), ("instance", &addr.to_string())]),
        )],
    );
    tokio::spawn(alerts::record(store.clone(), engine.alert_events()));
    let notifier =
        notifier::Notifier::new(external_url, store.clone()).map_err(ServerError::Metrics)?;
    am_api::restore_silences(&store, &notifier).await;
    notifier.restore_nflog().await;
    tokio::spawn(notifier.clone().run());
    let mut outgoing = engine.outgoing_alerts();
    let to_notifier = notifier.clone();
    tokio::spawn(async move {
        while let Some(alerts) = outgoing.recv().await {
            if let Err(e) = to_notifier.insert(alerts) {
                tracing::warn!(error = %e, "alerts not taken by the notifier");
            }
        }
    });
    let runtime = runtime::Runtime::start(
        store.clone(),
        &config.data_dir,
        config.reaper.clone(),
        engine.clone(),
        notifier.clone(),
        config.autoscaler_interval,
    )
    .await;
    let state = AppState {
        store: store.clone(),
        clock,
        metrics: Arc::new(metrics::Metrics::new()),
        shutdown: shutdown_rx.clone(),
        runtime: runtime.clone(),
        engine: engine.clone(),
        notifier,
    };
    let app = router(state, config.request_timeout).merge(engine.routes());
    let mut stop = shutdown_rx;
    let task = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
            .map_err(|e| ServerError::Listen(addr.to_string(), e.to_string()))
    });
    tracing::info!(%addr, data_dir = %config.data_dir.display(), backend = ?store.backend(), startup_ms = started.elapsed().as_millis() as u64, "andon server ready");
    Ok(Server {
        addr,
        shutdown: shutdown_tx,
        task,
        store,
        runtime,
        engine,
        grace: config.shutdown_grace,
        _lock: lock,
    })
}

fn router(state: AppState, timeout: Duration) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(ui::routes())
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(axum::middleware::from_fn(move |req, next| error::with_timeout(timeout, req, next)))
        .with_state(state)
}

/// Takes the data dir's lock (one andon process per data dir); held until
/// the returned file is dropped.
pub fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, ServerError> {
    let path = dir.join("andon.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| ServerError::DataDir(dir.display().to_string(), e.to_string()))?;
    match file.try_lock() {
        Ok(()) => {
            use std::io::Write;
            let _ = file.set_len(0);
            let _ = (&file).write_all(format!("{}\n", std::process::id()).as_bytes());
            Ok(file)
        }
        Err(_) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            Err(ServerError::DataDirInUse(dir.display().to_string(), holder.trim().to_owned()))
        }
    }
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops accepting connections, lets in-flight requests and streams finish within the
    /// grace period, then closes the store.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        let _ = self.shutdown.send(true);
        let result = match tokio::time::timeout(self.grace, self.task).await {
            Ok(joined) => {
                joined.map_err(|e| ServerError::Listen(self.addr.to_string(), e.to_string()))?
            }
            Err(_) => {
                tracing::warn!(
                    grace_s = self.grace.as_secs(),
                    "requests still running after the grace period; stopping anyway"
                );
                Ok(())
            }
        };
        // Services stop before the store closes, so their last events are recorded.
        self.runtime.shutdown().await;
        self.engine.shutdown().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.store.close().await;
        result
    }

    /// Runs until the server stops on its own (a listener error).
    pub async fn wait_for(&mut self, signal: impl std::future::Future<Output = ()>) {
        tokio::select! {
            _ = signal => {}
            _ = &mut self.task => {}
        }
    }
}
