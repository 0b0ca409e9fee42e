//! The single writer: drains queued writes into one transaction (group commit) so that
//! concurrent writers share one fsync, sequence numbers follow commit order, and each
//! operation is checked before anything of it is written.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use andon_core::event::kinds;
use andon_core::{Clock, NewEvent, ObjectRef};
use serde_json::json;
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::StoreError;
use crate::store::{ApplyResult, Backend, Desired, Outcome, StoredObject};

/// Most operations folded into one transaction.
const MAX_BATCH: usize = 1024;

pub(crate) enum Op {
    Apply { items: Vec<Desired>, actor: String },
    Delete { r: ObjectRef, expected_version: Option<u64>, actor: String },
    Append { events: Vec<NewEvent> },
    SetStatus { r: ObjectRef, status: serde_json::Value },
}

pub(crate) enum OpResult {
    Applied(Vec<ApplyResult>),
    Deleted(Box<StoredObject>),
    Appended(Vec<u64>),
    StatusSet(bool),
}

pub(crate) struct WriteReq {
    pub(crate) op: Op,
    pub(crate) reply: oneshot::Sender<Result<OpResult, StoreError>>,
}

/// Journal counters, exported by the server on `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Events appended (committed).
    pub events_appended: AtomicU64,
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Sum of commit durations in microseconds.
    pub commit_micros: AtomicU64,
    /// Commit durations bucketed by the bounds in [`COMMIT_BUCKETS_MICROS`].
    pub commit_buckets: [AtomicU64; COMMIT_BUCKETS_MICROS.len()],
}

/// Upper bounds of the commit-latency histogram, in microseconds.
pub const COMMIT_BUCKETS_MICROS: [u64; 10] =
    [100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 100_000, 1_000_000];

pub(crate) struct Writer {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) last_seq: watch::Sender<u64>,
    pub(crate) stats: Arc<Stats>,
    /// The newest committed seq, when this writer is the database's only writer (SQLite:
    /// the data-dir lock guarantees it). PostgreSQL may be shared by replicas, so it asks.
    pub(crate) cached_seq: Option<u64>,
}

/// Events are inserted this many rows per statement.
const ROWS_PER_INSERT: usize = 64;

/// An event with its assigned seq and time, waiting to be inserted with its batch.
struct PendingEvent {
    seq: u64,
    time: i64,
    event: NewEvent,
}

/// One operation's planned outcome within a batch; its reply is sent after commit.
type Pending = (oneshot::Sender<Result<OpResult, StoreError>>, Result<OpResult, StoreError>);

impl Writer {
    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<WriteReq>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let started = Instant::now();
            match self.commit_batch(batch).await {
                Ok((pending, last, appended)) => {
                    if self.backend == Backend::Sqlite {
                        self.cached_seq = Some(last);
                    }
                    self.record(started, appended);
                    if last > *self.last_seq.borrow() {
                        self.last_seq.send_replace(last);
                    }
                    for (reply, result) in pending {
                        let _ = reply.send(result);
                    }
                }
                Err((replies, e)) => {
                    self.cached_seq = None;
                    tracing::error!(error = %e, "journal commit failed");
                    let msg = e.to_string();
                    for reply in replies {
                        let _ = reply
                            .send(Err(StoreError::Database(sqlx::Error::Protocol(msg.clone()))));
                    }
                }
            }
        }
    }

    fn record(&self, started: Instant, appended: u64) {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let s = &self.stats;
        s.events_appended.fetch_add(appended, Ordering::Relaxed);
        s.commits.fetch_add(1, Ordering::Relaxed);
        s.commit_micros.fetch_add(micros, Ordering::Relaxed);
        if let Some(i) = COMMIT_BUCKETS_MICROS.iter().position(|b| micros <= *b) {
            s.commit_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    #[allow(clippy::type_complexity)]
    async fn commit_batch(
        &self,
        batch: Vec<WriteReq>,
    ) -> Result<
        (Vec<Pending>, u64, u64),
        (Vec<oneshot::Sender<Result<OpResult, StoreError>>>, StoreError),
    > {
        let mut pending: Vec<Pending> = Vec::with_capacity(batch.len());
        let result: Result<(u64, u64), StoreError> = async {
            let mut tx = self.pool.begin().await?;
            if self.backend == Backend::Postgres {
                // Replicas sharing one database take turns, so seq follows commit order.
                tx.execute("SELECT pg_advisory_xact_lock(7070002)").await?;
            }
            let mut seq = match self.cached_seq {
                Some(s) => s,
                None => {
                    let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM events")
                        .fetch_one(&mut *tx)
                        .await?;
                    u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0)
                }
            };
            let first = seq;
            let now = self.clock.now().millis();
            let mut rows: Vec<PendingEvent> = Vec::new();
            for req in batch {
                let result = match req.op {
                    Op::Append { events } => {
                        let mut seqs = Vec::with_capacity(events.len());
                        for event in events {
                            seq += 1;
                            seqs.push(seq);
                            rows.push(PendingEvent { seq, time: now, event });
                        }
                        Ok(OpResult::Appended(seqs))
                    }
                    Op::Apply { items, actor } => {
                        apply(&mut tx, &mut seq, now, items, &actor, &mut rows).await?
                    }
                    Op::SetStatus { r, status } => {
                        let done = sqlx::query("UPDATE resources SET status = $1 WHERE kind = $2 AND namespace = $3 AND name = $4")
                            .bind(status.to_string())
                            .bind(&r.kind)
                            .bind(&r.namespace)
                            .bind(&r.name)
                            .execute(&mut *tx)
                            .await?;
                        Ok(OpResult::StatusSet(done.rows_affected() > 0))
                    }
                    Op::Delete { r, expected_version, actor } => {
                        delete(&mut tx, &mut seq, now, &r, expected_version, &actor, &mut rows)
                            .await?
                    }
                };
                pending.push((req.reply, result));
            }
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                insert_events(&mut tx, chunk).await?;
            }
            tx.commit().await?;
            Ok((seq, seq - first))
        }
        .await;
        match result {
            Ok((last, appended)) => Ok((pending, last, appended)),
            Err(e) => Err((pending.into_iter().map(|(r, _)| r).collect(), e)),
        }
    }
}

/// Inserts events with one multi-row statement (one round trip for many rows).
async fn insert_events(
    tx: &mut Transaction<'static, Any>,
    rows: &[PendingEvent],
) -> Result<(), StoreError> {
    let mut sql =
        String::from("INSERT INTO events (seq, time, kind, subject, actor, data) VALUES ");
    for i in 0..rows.len() {
        let b = i * 6;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6
        ));
    }
    let mut q = sqlx::query(&sql);
    for r in rows {
        q = q
            .bind(i64::try_from(r.seq).unwrap_or(i64::MAX))
            .bind(r.time)
            .bind(r.event.kind.clone())
            .bind(r.event.subject.clone())
            .bind(r.event.actor.clone())
            .bind(r.event.data.to_string());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

async fn load(
    tx: &mut Transaction<'static, Any>,
    r: &ObjectRef,
) -> Result<Option<StoredObject>, StoreError> {
    let row = sqlx::query(
        "SELECT kind, namespace, name, uid, generation, resource_version, created_at, labels, annotations, spec, status \
         FROM resources WHERE kind = $1 AND namespace = $2 AND name = $3",
    )
    .bind(&r.kind)
    .bind(&r.namespace)
    .bind(&r.name)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(StoredObject::from_row).transpose()
}

fn stale(r: &ObjectRef, expected: u64, found: Option<u64>) -> StoreError {
    StoreError::Conflict(match found {
        Some(v) => format!(
            "{r} was modified: the request was based on resourceVersion {expected}, the stored one is {v}; read it again and retry"
        ),
        None => format!("{r} does not exist, but the request expects resourceVersion {expected}"),
    })
}

/// Checks every item against the stored state first; writes only if all pass.
async fn apply(
    tx: &mut Transaction<'static, Any>,
    seq: &mut u64,
    now: i64,
    items: Vec<Desired>,
    actor: &str,
    rows: &mut Vec<PendingEvent>,
) -> Result<Result<OpResult, StoreError>, StoreError> {
    let mut current = Vec::with_capacity(items.len());
    for d in &items {
        let r = d.object_ref();
        let existing = load(tx, &r).await?;
        if let Some(expected) = d.expected_version {
            let found = existing.as_ref().map(|o| o.resource_version);
            if found != Some(expected) {
                return Ok(Err(stale(&r, expected, found)));
            }
        }
        if d.must_exist && existing.is_none() {
            return Ok(Err(StoreError::NotFound(r.to_string())));
        }
        current.push(existing);
    }
    let mut results = Vec::with_capacity(items.len());
    for (d, existing) in items.into_iter().zip(current) {
        let (object, outcome) = match existing {
            Some(old)
                if old.spec == d.spec
                    && old.labels == d.labels
                    && old.annotations == d.annotations =>
            {
                (old, Outcome::Unchanged)
            }
            Some(old) => {
                *seq += 1;
                let generation =
                    if old.spec == d.spec { old.generation } else { old.generation + 1 };
                let obj = StoredObject {
                    generation,
                    resource_version: *seq,
                    labels: d.labels,
                    annotations: d.annotations,
                    spec: d.spec,
                    ..old
                };
                sqlx::query(
                    "UPDATE resources SET generation = $1, resource_version = $2, updated_at = $3, labels = $4, \
                     annotations = $5, spec = $6 WHERE kind = $7 AND namespace = $8 AND name = $9",
                )
                .bind(obj.generation)
                .bind(i64::try_from(*seq).unwrap_or(i64::MAX))
                .bind(now)
                .bind(obj.labels.to_string())
                .bind(obj.annotations.to_string())
                .bind(obj.spec.to_string())
                .bind(&obj.kind)
                .bind(&obj.namespace)
                .bind(&obj.name)
                .execute(&mut **tx)
                .await?;
                (obj, Outcome::Configured)
            }
            None => {
                *seq += 1;
                let obj = StoredObject {
                    kind: d.kind,
                    namespace: d.namespace,
                    name: d.name,
                    uid: new_uid(),
                    generation: 1,
                    resource_version: *seq,
                    created_at: andon_core::Timestamp(now),
                    labels: d.labels,
                    annotations: d.annotations,
                    spec: d.spec,
                    status: json!({}),
                };
                sqlx::query(
                    "INSERT INTO resources (kind, namespace, name, uid, generation, resource_version, created_at, \
                     updated_at, labels, annotations, spec, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(&obj.kind)
                .bind(&obj.namespace)
                .bind(&obj.name)
                .bind(&obj.uid)
                .bind(obj.generation)
                .bind(i64::try_from(*seq).unwrap_or(i64::MAX))
                .bind(now)
                .bind(now)
                .bind(obj.labels.to_string())
                .bind(obj.annotations.to_string())
                .bind(obj.spec.to_string())
                .bind(obj.status.to_string())
                .execute(&mut **tx)
                .await?;
                (obj, Outcome::Created)
            }
        };
        if outcome != Outcome::Unchanged {
            let kind = if outcome == Outcome::Created {
                kinds::RESOURCE_CREATED
            } else {
                kinds::RESOURCE_CONFIGURED
            };
            rows.push(PendingEvent {
                seq: *seq,
                time: now,
                event: resource_event(kind, &object, actor),
            });
        }
        results.push(ApplyResult { object, outcome });
    }
    Ok(Ok(OpResult::Applied(results)))
}

async fn delete(
    tx: &mut Transaction<'static, Any>,
    seq: &mut u64,
    now: i64,
    r: &ObjectRef,
    expected_version: Option<u64>,
    actor: &str,
    rows: &mut Vec<PendingEvent>,
) -> Result<Result<OpResult, StoreError>, StoreError> {
    let Some(obj) = load(tx, r).await? else {
        return Ok(Err(StoreError::NotFound(r.to_string())));
    };
    if let Some(expected) = expected_version
        && obj.resource_version != expected
    {
        return Ok(Err(stale(r, expected, Some(obj.resource_version))));
    }
    sqlx::query("DELETE FROM resources WHERE kind = $1 AND namespace = $2 AND name = $3")
        .bind(&r.kind)
        .bind(&r.namespace)
        .bind(&r.name)
        .execute(&mut **tx)
        .await?;
    *seq += 1;
    rows.push(PendingEvent {
        seq: *seq,
        time: now,
        event: resource_event(kinds::RESOURCE_DELETED, &obj, actor),
    });
    Ok(Ok(OpResult::Deleted(Box::new(obj))))
}

fn resource_event(kind: &str, obj: &StoredObject, actor: &str) -> NewEvent {
    NewEvent {
        kind: kind.to_owned(),
        subject: obj.object_ref().to_string(),
        actor: actor.to_owned(),
        data: json!({
            "generation": obj.generation,
            "labels": obj.labels,
            "spec": obj.spec,
        }),
    }
}

/// A random RFC 4122 version-4 UUID from the OS's random source.
fn new_uid() -> String {
    let mut b = [0u8; 16];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_err()
    {
        // Without /dev/urandom, mix the clock and a process-wide counter.
        static N: AtomicU64 = AtomicU64::new(0);
        let t = andon_core::SystemClock.now().millis() as u64;
        b[..8].copy_from_slice(&t.to_le_bytes());
        b[8..].copy_from_slice(&N.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}
