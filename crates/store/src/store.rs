//! The store's public face: open, read resources and events, and submit writes to the
//! writer task.

use std::sync::Arc;
use std::time::Duration;

use andon_core::{Clock, Event, NewEvent, ObjectRef, Timestamp};
use serde::Serialize;
use serde_json::{Value as Json, json};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::StoreError;
use crate::migrate;
use crate::writer::{Op, OpResult, WriteReq, Writer};

/// Which database engine holds the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A resource as stored: identity, metadata the server maintains, spec and status.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub generation: i64,
    pub resource_version: u64,
    pub created_at: Timestamp,
    pub labels: Json,
    pub annotations: Json,
    pub spec: Json,
    pub status: Json,
}

impl StoredObject {
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::new(&self.kind, &self.namespace, &self.name)
    }

    /// The whole resource document as the API serves it.
    pub fn to_document(&self, api_version: &str) -> Json {
        let mut metadata = json!({
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid,
            "generation": self.generation,
            "resourceVersion": self.resource_version.to_string(),
            "creationTimestamp": self.created_at.to_string(),
        });
        if self.labels.as_object().is_some_and(|m| !m.is_empty()) {
            metadata["labels"] = self.labels.clone();
        }
        if self.annotations.as_object().is_some_and(|m| !m.is_empty()) {
            metadata["annotations"] = self.annotations.clone();
        }
        json!({
            "apiVersion": api_version,
            "kind": self.kind,
            "metadata": metadata,
            "spec": self.spec,
            "status": self.status,
        })
    }

    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let text = |col: &str| -> Result<Json, StoreError> {
            let s: String = row.try_get(col)?;
            Ok(serde_json::from_str(&s)?)
        };
        Ok(StoredObject {
            kind: row.try_get("kind")?,
            namespace: row.try_get("namespace")?,
            name: row.try_get("name")?,
            uid: row.try_get("uid")?,
            generation: row.try_get("generation")?,
            resource_version: u64::try_from(row.try_get::<i64, _>("resource_version")?)
                .unwrap_or(0),
            created_at: Timestamp(row.try_get("created_at")?),
            labels: text("labels")?,
            annotations: text("annotations")?,
            spec: text("spec")?,
            status: text("status")?,
        })
    }
}

/// What a client wants a resource to be.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub labels: Json,
    pub annotations: Json,
    pub spec: Json,
    /// Optimistic concurrency: the write happens only if the stored version is this one.
    pub expected_version: Option<u64>,
    /// Refuse to create: the resource must already exist (PUT semantics).
    pub must_exist: bool,
}

impl Desired {
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::new(&self.kind, &self.namespace, &self.name)
    }
}

/// What an apply did to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApplyResult {
    pub object: StoredObject,
    pub outcome: Outcome,
}

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    writes: mpsc::Sender<WriteReq>,
    last_seq: watch::Receiver<u64>,
    stats: Arc<crate::writer::Stats>,
}

const RESOURCE_COLUMNS: &str = "kind, namespace, name, uid, generation, resource_version, created_at, labels, annotations, spec, status";

impl Store {
    /// Opens (creating if needed) the database at `url`: `sqlite://PATH` or `postgres://...`.
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let url = match backend {
            Backend::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            _ => url.to_owned(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 6 } else { 10 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers proceed during writes; FULL makes each commit durable.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        {
            let mut conn = pool.acquire().await?;
            migrate::run(&mut conn, backend).await?;
        }
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM events").fetch_one(&pool).await?;
        let last: i64 = row.try_get(0)?;
        let (seq_tx, seq_rx) = watch::channel(u64::try_from(last).unwrap_or(0));
        let (tx, rx) = mpsc::channel(4096);
        let stats = Arc::new(crate::writer::Stats::default());
        let writer = Writer {
            pool: pool.clone(),
            backend,
            clock,
            last_seq: seq_tx,
            stats: stats.clone(),
            cached_seq: None,
        };
        tokio::spawn(writer.run(rx));
        Ok(Store { pool, backend, writes: tx, last_seq: seq_rx, stats })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Counters the server exports on `/metrics`.
    pub fn stats(&self) -> &crate::writer::Stats {
        &self.stats
    }

    async fn submit(&self, op: Op) -> Result<OpResult, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writes.send(WriteReq { op, reply }).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Creates or updates every resource in one transaction: all succeed or none is stored.
    pub async fn apply(
        &self,
        items: Vec<Desired>,
        actor: &str,
    ) -> Result<Vec<ApplyResult>, StoreError> {
        match self.submit(Op::Apply { items, actor: actor.to_owned() }).await? {
            OpResult::Applied(r) => Ok(r),
            _ => Err(StoreError::Corrupt("unexpected writer reply".into())),
        }
    }

    /// Deletes a resource, optionally only if it is still at `expected_version`.
    pub async fn delete(
        &self,
        r: &ObjectRef,
        expected_version: Option<u64>,
        actor: &str,
    ) -> Result<StoredObject, StoreError> {
        let op = Op::Delete { r: r.clone(), expected_version, actor: actor.to_owned() };
        match self.submit(op).await? {
            OpResult::Deleted(o) => Ok(*o),
            _ => Err(StoreError::Corrupt("unexpected writer reply".into())),
        }
    }

    /// Replaces a resource's status (observed state, written by controllers). Does not
    /// change `resourceVersion` or `generation` and writes no event; false when the
    /// resource does not exist.
    pub async fn set_status(&self, r: &ObjectRef, status: Json) -> Result<bool, StoreError> {
        match self.submit(Op::SetStatus { r: r.clone(), status }).await? {
            OpResult::StatusSet(found) => Ok(found),
            _ => Err(StoreError::Corrupt("unexpected writer reply".into())),
        }
    }

    /// Appends events durably; returns their sequence numbers once committed.
    pub async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<u64>, StoreError> {
        match self.submit(Op::Append { events }).await? {
            OpResult::Appended(seqs) => Ok(seqs),
            _ => Err(StoreError::Corrupt("unexpected writer reply".into())),
        }
    }

    pub async fn get(&self, r: &ObjectRef) -> Result<Option<StoredObject>, StoreError> {
        let sql = format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources WHERE kind = $1 AND namespace = $2 AND name = $3"
        );
        let row = sqlx::query(&sql)
            .bind(&r.kind)
            .bind(&r.namespace)
            .bind(&r.name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(StoredObject::from_row).transpose()
    }

    /// Lists one kind, in one namespace or all, ordered by (namespace, name), after a cursor.
    pub async fn list(
        &self,
        kind: &str,
        namespace: Option<&str>,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<StoredObject>, StoreError> {
        let (after_ns, after_name) = after.unwrap_or(("", ""));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match namespace {
            Some(ns) => {
                let sql = format!(
                    "SELECT {RESOURCE_COLUMNS} FROM resources WHERE kind = $1 AND namespace = $2 AND name > $3 ORDER BY name LIMIT $4"
                );
                sqlx::query(&sql)
                    .bind(kind)
                    .bind(ns)
                    .bind(after_name)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!(
                    "SELECT {RESOURCE_COLUMNS} FROM resources WHERE kind = $1 AND (namespace > $2 OR (namespace = $2 AND name > $3)) ORDER BY namespace, name LIMIT $4"
                );
                sqlx::query(&sql)
                    .bind(kind)
                    .bind(after_ns)
                    .bind(after_name)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(StoredObject::from_row).collect()
    }

    /// Events with `seq > after`, oldest first.
    pub async fn events(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query("SELECT seq, time, kind, subject, actor, data FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(i64::try_from(after).unwrap_or(i64::MAX))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows_to_events(&rows)
    }

    /// The newest `limit` events about one subject (`Kind/namespace/name`), newest first.
    pub async fn events_about(
        &self,
        subject: &str,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query("SELECT seq, time, kind, subject, actor, data FROM events WHERE subject = $1 ORDER BY seq DESC LIMIT $2")
            .bind(subject)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows_to_events(&rows)
    }

    /// The newest event of one kind about one subject.
    pub async fn last_event(&self, subject: &str, kind: &str) -> Result<Option<Event>, StoreError> {
        let rows = sqlx::query("SELECT seq, time, kind, subject, actor, data FROM events WHERE subject = $1 AND kind = $2 ORDER BY seq DESC LIMIT 1")
            .bind(subject)
            .bind(kind)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows_to_events(&rows)?.into_iter().next())
    }

    /// The newest `limit` events of the given kinds, newest first.
    pub async fn events_of_kinds(
        &self,
        kinds: &[&str],
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let params: Vec<String> = (1..=kinds.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT seq, time, kind, subject, actor, data FROM events WHERE kind IN ({}) ORDER BY seq DESC LIMIT ${}",
            params.join(", "),
            kinds.len() + 1
        );
        let mut q = sqlx::query(&sql);
        for k in kinds {
            q = q.bind(*k);
        }
        let rows = q.bind(i64::try_from(limit).unwrap_or(i64::MAX)).fetch_all(&self.pool).await?;
        rows_to_events(&rows)
    }

    /// The newest `limit` events, newest first.
    pub async fn recent_events(&self, limit: usize) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, time, kind, subject, actor, data FROM events ORDER BY seq DESC LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows_to_events(&rows)
    }

    /// How many resources of each kind are stored.
    pub async fn count_by_kind(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT kind, COUNT(*) AS n FROM resources GROUP BY kind ORDER BY kind")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| Ok((r.try_get("kind")?, r.try_get("n")?))).collect()
    }

    /// The newest committed sequence number.
    pub fn last_seq(&self) -> u64 {
        *self.last_seq.borrow()
    }

    /// Changes whenever new events are committed (the value is the newest seq).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.last_seq.clone()
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }

    /// Closes the database pool. Call it last, after the server and controllers stopped
    /// writing: a write still queued, or sent through another handle, then fails.
    pub async fn close(self) {
        drop(self.writes);
        self.pool.close().await;
    }
}

fn rows_to_events(rows: &[AnyRow]) -> Result<Vec<Event>, StoreError> {
    rows.iter()
        .map(|row| {
            let data: String = row.try_get("data")?;
            Ok(Event {
                seq: u64::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0),
                time: Timestamp(row.try_get("time")?),
                kind: row.try_get("kind")?,
                subject: row.try_get("subject")?,
                actor: row.try_get("actor")?,
                data: serde_json::from_str(&data)?,
            })
        })
        .collect()
}
