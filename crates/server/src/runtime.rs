//! Wires the local runtime to the store: every applied Service is routed and supervised,
//! deleted ones are stopped; lifecycle changes become journal events, and status
//! snapshots are written back as the Service's `status`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use andon_core::{NewEvent, ObjectRef};
use andon_router::Router;
use andon_spec::Spec;
use andon_store::{Store, StoredObject};
use andon_supervisor::{Message, Supervisor};
use serde_json::json;
use tokio::sync::mpsc;

/// The runtime's parts, shared with the HTTP handlers.
#[derive(Clone)]
pub(crate) struct Runtime {
    pub(crate) router: Router,
    metrics: Arc<andon_metrics::Engine>,
    notifier: Arc<crate::notifier::Notifier>,
    pub(crate) supervisor: Arc<Supervisor>,
    pub(crate) rollouts: Arc<crate::rollouts::Rollouts>,
    autoscalers: crate::autoscaler::Autoscalers,
    pub(crate) pipelines: Arc<crate::pipelines::Pipelines>,
    /// Why a service has no address, when its port could not be served.
    route_errors: Arc<std::sync::Mutex<std::collections::HashMap<ObjectRef, String>>>,
}

/// Ready endpoints go to the router (traffic) and to the metrics engine
/// (every ready instance is scraped at `/metrics`).
struct Endpoints {
    router: Router,
    metrics: Arc<andon_metrics::Engine>,
}

impl andon_supervisor::EndpointSink for Endpoints {
    fn set_endpoints(&self, service: &ObjectRef, endpoints: Vec<andon_supervisor::Endpoint>) {
        let targets = endpoints
            .iter()
            .map(|e| {
                andon_metrics::Target::new(
                    format!("http://{}/metrics", e.addr),
                    andon_series::Labels::from_pairs(&[
                        ("job", service.name.as_str()),
                        ("namespace", service.namespace.as_str()),
                        ("instance", &e.addr.to_string()),
                        ("replica", &e.instance.to_string()),
                        ("revision", e.revision.as_str()),
                    ]),
                )
            })
            .collect();
        self.metrics
            .set_targets(&format!("service/{}/{}", service.namespace, service.name), targets);
        self.router.set_endpoints(service, endpoints);
    }
}

impl Runtime {
    /// Starts the runtime: stops leftovers of a crashed predecessor, runs every stored
    /// Service, then follows the journal for changes.
    pub(crate) async fn start(
        store: Store,
        data_dir: &std::path::Path,
        reaper: Option<std::path::PathBuf>,
        metrics: Arc<andon_metrics::Engine>,
        notifier: Arc<crate::notifier::Notifier>,
        autoscaler_interval: Duration,
    ) -> Runtime {
        let router = Router::new();
        let pipelines =
            crate::pipelines::Pipelines::start(store.clone(), data_dir, reaper.as_deref()).await;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut path_prepend = Vec::new();
        if let Some(dir) =
            std::env::current_exe().ok().and_then(|p| p.parent().map(std::path::Path::to_path_buf))
        {
            path_prepend.push(dir);
        }
        let config = andon_supervisor::Config {
            data_dir: Some(data_dir.to_path_buf()),
            path_prepend,
            reaper,
        };
        let sink = Arc::new(Endpoints { router: router.clone(), metrics: metrics.clone() });
        let supervisor = Arc::new(Supervisor::new(config, sink, tx.clone()));
        let deps = Arc::new(crate::analysis::Deps {
            store: store.clone(),
            metrics: metrics.clone(),
            supervisor: supervisor.clone(),
            http: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http(),
        });
        let rollouts = Arc::new(crate::rollouts::Rollouts::new(deps, router.clone(), tx.clone()));
        let autoscalers = crate::autoscaler::Autoscalers::default();
        tokio::spawn(crate::autoscaler::run(
            store.clone(),
            rollouts.clone(),
            supervisor.clone(),
            metrics.clone(),
            autoscalers.clone(),
            tx,
            autoscaler_interval,
        ));
        let rt = Runtime {
            router,
            metrics,
            notifier,
            supervisor,
            rollouts,
            autoscalers,
            pipelines,
            route_errors: Arc::default(),
        };
        tokio::spawn(record(store.clone(), rt.clone(), rx));
        let from = store.last_seq();
        rt.sync_all(&store).await;
        tokio::spawn(follow(store, rt.clone(), from));
        rt
    }

    async fn sync_all(&self, store: &Store) {
        for kind in [
            "AlertmanagerConfig",
            "PrometheusRule",
            "PrometheusServiceLevel",
            "ScrapeConfig",
            "Service",
            "Repository",
        ] {
            self.sync_kind(store, kind).await;
        }
    }

    async fn sync_kind(&self, store: &Store, kind: &str) {
        let mut after: Option<(String, String)> = None;
        loop {
            let page = match store
                .list(kind, None, after.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), 500)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "cannot list services");
                    return;
                }
            };
            for o in &page {
                self.run(store, o).await;
            }
            match page.last() {
                Some(o) if page.len() == 500 => after = Some((o.namespace.clone(), o.name.clone())),
                _ => return,
            }
        }
    }

    /// Scrapes the targets of one stored ScrapeConfig (or stops, when `o` is gone).
    fn scrape(&self, key: &ObjectRef, o: Option<&StoredObject>) {
        let pool = format!("scrapeconfig/{}/{}", key.namespace, key.name);
        let spec = o.and_then(|o| match stored_spec(o) {
            Some(Spec::ScrapeConfig(s)) => Some(*s),
            _ => None,
        });
        if let Err(e) = self.metrics.set_scrape_config(&pool, &key.name, spec.as_ref()) {
            tracing::error!(scrape_config = %key, error = %e, "scrape config not applied");
        }
    }

    /// Evaluates the rule groups of one stored PrometheusRule (or stops them, when `o` is gone).
    fn rules(&self, key: &ObjectRef, o: Option<&StoredObject>) {
        let source = format!("{}/{}", key.namespace, key.name);
        let file = o.and_then(|o| {
            let spec = o.to_document(andon_spec::API_VERSION)["spec"].clone();
            match andon_rules::file::from_spec_json(&spec) {
                Ok(f) => Some(f),
                Err(d) => {
                    tracing::error!(rules = %key, problems = ?d, "stored rules do not read back");
                    None
                }
            }
        });
        self.metrics.set_rules(&source, file);
    }

    /// Evaluates the rules generated for one stored PrometheusServiceLevel and
    /// tracks its SLOs (or drops them, when `o` is gone).
    fn slos(&self, key: &ObjectRef, o: Option<&StoredObject>) {
        let source = format!("{}/{}", key.namespace, key.name);
        let generated = o.and_then(|o| {
            let spec = o.to_document(andon_spec::API_VERSION)["spec"].clone();
            match andon_slo::from_spec_json(&spec) {
                Ok(g) => Some(g),
                Err(d) => {
                    tracing::error!(slo = %key, problems = ?d, "stored SLO spec does not read back");
                    None
                }
            }
        });
        if let Err(e) = self.metrics.set_slos(&source, generated.as_ref()) {
            tracing::error!(slo = %key, error = %e, "SLO rules not loaded");
        }
    }

    /// Puts one stored AlertmanagerConfig in force (or withdraws it, when `o` is gone).
    fn alertmanager(&self, key: &ObjectRef, o: Option<&StoredObject>) {
        let source = format!("{}/{}", key.namespace, key.name);
        let config = o.and_then(|o| {
            let spec = o.to_document(andon_spec::API_VERSION)["spec"].to_string();
            let c = match andon_alertmanager::config::parse(spec.as_bytes(), "stored", self.notifier.zones()) {
                Ok(c) => c,
                Err(d) => {
                    tracing::error!(config = %key, problems = ?d, "stored alertmanager config does not read back");
                    return None;
                }
            };
            match andon_alertmanager::load_templates(&c.templates, std::path::Path::new(".")) {
                Ok(t) => Some((c, t)),
                Err(d) => {
                    // Routing still works; notifications naming a missing template fail
                    // (and are retried) until the files are back and the config reapplied.
                    tracing::error!(config = %key, problems = ?d, "the alertmanager config's template files do not read; using andon's default templates");
                    andon_alertmanager::payload::Templates::new().ok().map(|t| (c, t))
                }
            }
        });
        self.notifier.set_config(&source, config);
    }

    /// Routes and supervises one stored Service.
    async fn run(&self, store: &Store, o: &StoredObject) {
        let key = o.object_ref();
        if key.kind == "ScrapeConfig" {
            self.scrape(&key, Some(o));
            return;
        }
        if key.kind == "PrometheusRule" {
            self.rules(&key, Some(o));
            return;
        }
        if key.kind == "PrometheusServiceLevel" {
            self.slos(&key, Some(o));
            return;
        }
        if key.kind == "AlertmanagerConfig" {
            self.alertmanager(&key, Some(o));
            return;
        }
        if key.kind == "Repository" {
            self.pipelines.watch(&key, crate::pipelines::repository_spec(o));
            return;
        }
        let Some(Spec::Service(spec)) = stored_spec(o) else { return };
        let spec = *spec;
        let port = spec.ports.first().map_or(0, |p| p.port);
        let listened = self.router.listen(&key, port).await;
        if let Ok(mut errors) = self.route_errors.lock() {
            match &listened {
                Ok(_) => errors.remove(&key),
                Err(e) => errors.insert(key.clone(), format!("cannot serve 127.0.0.1:{port}: {e}")),
            };
        }
        if let Err(e) = listened {
            let message = format!("cannot serve 127.0.0.1:{port}: {e}");
            tracing::error!(service = %key, %message, "router");
            let _ = store
                .append(vec![NewEvent {
                    kind: "service.router_failed".into(),
                    subject: key.to_string(),
                    actor: "router".into(),
                    data: json!({"message": message}),
                }])
                .await;
        }
        self.rollouts.apply(&key, spec);
    }

    async fn stop(&self, key: &ObjectRef) {
        if let Ok(mut errors) = self.route_errors.lock() {
            errors.remove(key);
        }
        self.rollouts.remove(key).await;
        self.supervisor.remove(key).await;
        self.router.remove(key);
    }

    /// The status document of a Service, as stored and served.
    pub(crate) fn status_of(&self, key: &ObjectRef, generation: i64) -> Option<serde_json::Value> {
        // A service being started (its rollout reads its state back first) shows an empty
        // live status, never the stored one a previous andon left.
        let s = match self.supervisor.status(key) {
            Some(s) => s,
            None if self.rollouts.runs(key) => andon_supervisor::ServiceStatus::default(),
            None => return None,
        };
        let mut v = serde_json::to_value(&s).ok()?;
        if let Some(addr) = self.router.addr(key) {
            v["url"] = json!(format!("http://{addr}"));
        }
        let route_error = self.route_errors.lock().ok().and_then(|e| e.get(key).cloned());
        if let (Some(message), Some(conds)) = (route_error, v["conditions"].as_array_mut()) {
            conds.push(json!({"type": "Routed", "status": "False", "reason": "ListenFailed", "message": message}));
        }
        if let Some(r) = self.rollouts.status(key) {
            v["rollout"] = r;
        }
        if let Some(a) = self.autoscalers.status(key) {
            v["autoscaling"] = a;
        }
        v["observedGeneration"] = json!(generation);
        Some(v)
    }

    pub(crate) async fn shutdown(&self) {
        self.pipelines.shutdown().await;
        let keys = self.supervisor.services();
        self.rollouts.shutdown().await;
        self.supervisor.shutdown().await;
        for key in keys {
            self.router.remove(&key);
        }
    }
}

/// A stored resource's typed spec (checked when it was applied; a failure to read it
/// back is logged).
pub(crate) fn stored_spec(o: &StoredObject) -> Option<Spec> {
    let doc = o.to_document(andon_spec::API_VERSION);
    match andon_spec::parse_manifests("stored", doc.to_string().as_bytes(), None) {
        Ok(ms) => ms.into_iter().next().map(|m| m.spec),
        Err(d) => {
            tracing::error!(resource = %o.object_ref(), problems = ?d, "stored resource does not read back");
            None
        }
    }
}

/// Follows resource events for Services and converges the runtime to them.
async fn follow(store: Store, rt: Runtime, mut after: u64) {
    let mut seq = store.subscribe();
    loop {
        let events = match store.events(after, 500).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "runtime: cannot read the journal; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if events.is_empty() {
            if seq.changed().await.is_err() {
                return;
            }
            continue;
        }
        for e in &events {
            after = e.seq;
            if !e.kind.starts_with("resource.") {
                continue;
            }
            let Some((kind, rest)) = e.subject.split_once('/') else { continue };
            if !matches!(
                kind,
                "Service"
                    | "ScrapeConfig"
                    | "PrometheusRule"
                    | "PrometheusServiceLevel"
                    | "AlertmanagerConfig"
                    | "Repository"
            ) {
                continue;
            }
            let Some((ns, name)) = rest.split_once('/') else { continue };
            let key = ObjectRef::new(kind, ns, name);
            match store.get(&key).await {
                Ok(Some(o)) => rt.run(&store, &o).await,
                Ok(None) if kind == "ScrapeConfig" => rt.scrape(&key, None),
                Ok(None) if kind == "PrometheusRule" => rt.rules(&key, None),
                Ok(None) if kind == "PrometheusServiceLevel" => rt.slos(&key, None),
                Ok(None) if kind == "AlertmanagerConfig" => rt.alertmanager(&key, None),
                Ok(None) if kind == "Repository" => rt.pipelines.watch(&key, None),
                Ok(None) => rt.stop(&key).await,
                Err(err) => {
                    tracing::warn!(error = %err, service = %key, "runtime: cannot read service")
                }
            }
        }
    }
}

/// Turns runtime messages into journal events (batched) and status writes (debounced).
async fn record(store: Store, rt: Runtime, mut rx: mpsc::UnboundedReceiver<Message>) {
    let mut events = Vec::new();
    let mut dirty: BTreeSet<ObjectRef> = BTreeSet::new();
    while let Some(first) = rx.recv().await {
        let take = |m: Message, events: &mut Vec<NewEvent>, dirty: &mut BTreeSet<ObjectRef>| match m
        {
            Message::Event(e) => {
                let mut data = e.data;
                if let (Some(i), Some(obj)) = (e.instance, data.as_object_mut()) {
                    obj.insert("instance".into(), json!(i));
                }
                events.push(NewEvent {
                    kind: e.kind.into(),
                    subject: e.service.to_string(),
                    actor: "supervisor".into(),
                    data,
                });
            }
            Message::StatusChanged(k) => {
                dirty.insert(k);
            }
        };
        take(first, &mut events, &mut dirty);
        // Gather what arrives within a short window: one commit, one status write per service.
        let window = tokio::time::sleep(Duration::from_millis(50));
        tokio::pin!(window);
        loop {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => take(m, &mut events, &mut dirty),
                    None => break,
                },
                _ = &mut window => break,
            }
        }
        if !events.is_empty()
            && let Err(e) = store.append(std::mem::take(&mut events)).await
        {
            tracing::error!(error = %e, "cannot record runtime events");
        }
        for key in std::mem::take(&mut dirty) {
            let generation = match store.get(&key).await {
                Ok(Some(o)) => o.generation,
                _ => continue,
            };
            if let Some(status) = rt.status_of(&key, generation)
                && let Err(e) = store.set_status(&key, status).await
            {
                tracing::warn!(error = %e, service = %key, "cannot write status");
            }
        }
    }
}
