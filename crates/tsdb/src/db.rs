//! The database: options, opening, appending, querying and maintenance.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use andon_series::{Labels, Matcher, Querier, Sample, Series, StorageError};

use crate::block::{self, Block, BlockMeta, BlockWriter};
use crate::compact;
use crate::error::{Error, io_err};
use crate::head::Head;
use crate::record::{self, RefSample};
use crate::wal::{self, Wal};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// How the database stores data. Durations are converted to milliseconds,
/// the unit of sample timestamps.
#[derive(Clone, Debug)]
pub struct Options {
    /// The time range of a block cut from the head (default 2 h). Once the
    /// head spans more than 1.5× this, its oldest aligned range becomes a
    /// block.
    pub block_duration: Duration,
    /// The largest time range compaction builds (default: a tenth of
    /// `retention`, at most 31 days; with no time retention, 31 days).
    pub max_block_duration: Option<Duration>,
    /// Blocks whose newest sample is older than `now - retention` are deleted
    /// by [`Tsdb::maintain`] (default 15 days; zero keeps data forever).
    pub retention: Duration,
    /// When set, the oldest blocks are deleted while blocks plus the
    /// write-ahead log take more bytes than this.
    pub retention_bytes: Option<u64>,
    /// Sync the write-ahead log after every commit (default false). Without
    /// it a commit is durable against the process being killed once
    /// [`Appender::commit`] returns (the data is in the kernel); with it, also
    /// against power loss and kernel crashes, at the cost of one `fdatasync`
    /// per commit. Blocks and log checkpoints are always synced.
    pub fsync: bool,
    /// A write-ahead-log segment is closed and a new one started when it would
    /// grow past this many bytes (default 32 MiB).
    pub wal_segment_size: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            block_duration: 2 * HOUR,
            max_block_duration: None,
            retention: 15 * DAY,
            retention_bytes: None,
            fsync: false,
            wal_segment_size: 32 << 20,
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Options in milliseconds, checked.
#[derive(Clone, Debug)]
struct Config {
    block_ms: i64,
    max_block_ms: i64,
    retention_ms: i64,
    retention_bytes: Option<u64>,
    fsync: bool,
    wal_segment_size: u64,
}

impl Config {
    fn new(o: &Options) -> Result<Config, Error> {
        let block_ms = millis(o.block_duration);
        if block_ms < 1 || block_ms > millis(366 * DAY) {
            return Err(Error::InvalidOptions(
                "block_duration must be between 1 ms and 366 days".into(),
            ));
        }
        if o.wal_segment_size < 64 {
            return Err(Error::InvalidOptions("wal_segment_size must be at least 64 bytes".into()));
        }
        let retention_ms = millis(o.retention);
        let max_block_ms = match o.max_block_duration {
            Some(d) => millis(d),
            None if retention_ms > 0 => (retention_ms / 10).min(millis(31 * DAY)),
            None => millis(31 * DAY),
        }
        .max(block_ms);
        Ok(Config {
            block_ms,
            max_block_ms,
            retention_ms,
            retention_bytes: o.retention_bytes,
            fsync: o.fsync,
            wal_segment_size: o.wal_segment_size,
        })
    }
}

/// Why a sample was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectKind {
    /// Older than the series' newest sample.
    OutOfOrder,
    /// At the series' newest timestamp with a different value (bit pattern).
    DuplicateTimestamp,
    /// Older than the head's lower bound: that time range is already in a
    /// block (or being written to one).
    TooOld,
}

/// One rejected sample, for logs.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    pub kind: RejectKind,
    pub labels: Labels,
    pub t: i64,
}

/// What a commit did with its samples. Rejected samples never fail the
/// commit: the other samples are stored and the rejections counted here.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommitStats {
    /// Samples stored.
    pub appended: usize,
    /// Samples equal (timestamp and value bits) to the series' newest sample:
    /// accepted and not stored twice, as Prometheus does.
    pub unchanged: usize,
    pub out_of_order: usize,
    pub duplicate: usize,
    pub too_old: usize,
    /// The first [`CommitStats::MAX_EXAMPLES`] rejections.
    pub examples: Vec<Rejection>,
}

impl CommitStats {
    pub const MAX_EXAMPLES: usize = 10;

    /// Samples rejected for any reason.
    pub fn rejected(&self) -> usize {
        self.out_of_order + self.duplicate + self.too_old
    }

    fn reject(&mut self, kind: RejectKind, labels: &Labels, t: i64) {
        match kind {
            RejectKind::OutOfOrder => self.out_of_order += 1,
            RejectKind::DuplicateTimestamp => self.duplicate += 1,
            RejectKind::TooOld => self.too_old += 1,
        }
        if self.examples.len() < Self::MAX_EXAMPLES {
            self.examples.push(Rejection { kind, labels: labels.clone(), t });
        }
    }
}

/// What one [`Tsdb::maintain`] call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaintainReport {
    /// Blocks written from the head.
    pub blocks_cut: usize,
    /// Blocks written by merging others.
    pub compactions: usize,
    /// Blocks deleted by retention.
    pub blocks_deleted: usize,
}

/// Sizes and counts, for self-metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Series in the head.
    pub series: usize,
    pub head_samples: u64,
    pub head_chunks: u64,
    pub head_min_time: Option<i64>,
    pub head_max_time: Option<i64>,
    /// Samples older than this are rejected as too old.
    pub head_min_valid_time: i64,
    pub blocks: usize,
    /// Samples stored in blocks.
    pub block_samples: u64,
    pub block_chunks: u64,
    pub block_bytes: u64,
    pub wal_bytes: u64,
    /// Blocks plus write-ahead log.
    pub disk_bytes: u64,
}

struct State {
    head: Head,
    /// Sorted by time range.
    blocks: Vec<Arc<Block>>,
}

impl State {
    fn sort_blocks(&mut self) {
        self.blocks.sort_by(|a, b| {
            (a.meta.min_time, a.meta.max_time, a.id()).cmp(&(
                b.meta.min_time,
                b.meta.max_time,
                b.id(),
            ))
        });
    }
}

/// andon's embedded time-series database. `Send + Sync`: share it behind an
/// `Arc`; appends, queries and maintenance may run from any thread.
///
/// Lock order: `maint`, then `writer`, then `state`. Every change to the head
/// holds `writer`, so a commit can validate under a read lock, write the log
/// without blocking queries, and apply under a short write lock.
pub struct Tsdb {
    dir: PathBuf,
    cfg: Config,
    /// The write-ahead log; held by whatever changes the head.
    writer: Mutex<Wal>,
    state: RwLock<State>,
    /// Serialises maintenance.
    maint: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

/// Removes leftovers of interrupted block writes and deletions.
fn remove_leftovers(dir: &Path) -> Result<(), Error> {
    for entry in fs::read_dir(dir).map_err(io_err("listing", dir))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let leftover = [block::TMP_SUFFIX, block::DELETING_SUFFIX]
            .iter()
            .any(|s| name.strip_suffix(s).is_some_and(block::is_id));
        if leftover && path.is_dir() {
            tracing::info!(dir = %path.display(), "removing an unfinished block directory");
            fs::remove_dir_all(&path).map_err(io_err("removing", &path))?;
        }
    }
    Ok(())
}

/// Blocks whose sources another block covers (left by a crash during
/// compaction).
fn covered(blocks: &[Arc<Block>]) -> Vec<usize> {
    let rank =
        |b: &Block| (b.meta.compaction.sources.len(), b.meta.compaction.level, b.meta.ulid.clone());
    let sets: Vec<BTreeSet<&String>> =
        blocks.iter().map(|b| b.meta.compaction.sources.iter().collect()).collect();
    (0..blocks.len())
        .filter(|&i| {
            (0..blocks.len()).any(|j| {
                j != i && sets[i].is_subset(&sets[j]) && rank(&blocks[j]) > rank(&blocks[i])
            })
        })
        .collect()
}

/// Concatenates per-source sample lists of one series, oldest source first,
/// keeping the first sample at each timestamp.
fn merge_samples(mut parts: Vec<Vec<Sample>>) -> Vec<Sample> {
    if parts.len() == 1 {
        return parts.pop().unwrap_or_default();
    }
    let ordered = parts.windows(2).all(|w| match (w[0].last(), w[1].first()) {
        (Some(a), Some(b)) => a.t < b.t,
        _ => true,
    });
    let mut out: Vec<Sample> = parts.concat();
    if !ordered {
        out.sort_by_key(|s| s.t);
        out.dedup_by_key(|s| s.t);
    }
    out
}

impl Tsdb {
    /// Opens (creating if needed) the database in `dir`: removes leftovers of
    /// interrupted writes, loads blocks, deletes blocks superseded by a
    /// compaction, and replays the write-ahead log into the head. A torn or
    /// corrupt log tail is truncated with a warning, never an error; a damaged
    /// block is an error.
    ///
    /// One process at a time may use a directory; the caller ensures that.
    pub fn open(dir: &Path, opts: Options) -> Result<Tsdb, Error> {
        let cfg = Config::new(&opts)?;
        fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
        remove_leftovers(dir)?;

        let mut blocks = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_err("listing", dir))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if block::is_id(&name) && entry.path().is_dir() {
                blocks.push(Arc::new(Block::open(&entry.path())?));
            }
        }
        let doomed = covered(&blocks);
        for &i in doomed.iter().rev() {
            let b = blocks.remove(i);
            tracing::info!(block = %b.id(), "removing a block already merged into another");
            block::remove_dir(&b.dir)?;
        }

        let min_valid = blocks.iter().map(|b| b.meta.max_time).max().unwrap_or(i64::MIN);
        let mut head = Head::new(cfg.block_ms, min_valid);
        let wal = Wal::open(&dir.join("wal"), cfg.wal_segment_size, cfg.fsync, &mut |rec| {
            head.replay(rec)
        })?;
        head.finish_replay();
        let r = head.replay;
        if r.unknown_series > 0 || r.skipped > 0 {
            tracing::info!(
                samples = r.samples,
                unknown_series = r.unknown_series,
                skipped = r.skipped,
                "replayed the write-ahead log; some samples were not loaded"
            );
        }
        let mut state = State { head, blocks };
        state.sort_blocks();
        Ok(Tsdb {
            dir: dir.to_path_buf(),
            cfg,
            writer: Mutex::new(wal),
            state: RwLock::new(state),
            maint: Mutex::new(()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A batch of samples to commit together.
    pub fn appender(&self) -> Appender<'_> {
        Appender {
            db: self,
            series: Vec::new(),
            index: HashMap::new(),
            samples: Vec::new(),
            last: None,
        }
    }

    /// Metadata of every block, oldest first.
    pub fn blocks(&self) -> Vec<BlockMeta> {
        read(&self.state).blocks.iter().map(|b| b.meta.clone()).collect()
    }

    pub fn stats(&self) -> Stats {
        let st = read(&self.state);
        let (series, head_samples, head_chunks) = st.head.counts();
        let range = st.head.time_range();
        let wal_bytes = wal::disk_bytes(&self.dir.join("wal"));
        let block_bytes: u64 = st.blocks.iter().map(|b| b.bytes).sum();
        Stats {
            series,
            head_samples,
            head_chunks,
            head_min_time: range.map(|r| r.0),
            head_max_time: range.map(|r| r.1),
            head_min_valid_time: st.head.min_valid(),
            blocks: st.blocks.len(),
            block_samples: st.blocks.iter().map(|b| b.meta.stats.num_samples).sum(),
            block_chunks: st.blocks.iter().map(|b| b.meta.stats.num_chunks).sum(),
            block_bytes,
            wal_bytes,
            disk_bytes: block_bytes + wal_bytes,
        }
    }

    /// Periodic upkeep: while the head spans more than 1.5 block durations,
    /// writes its oldest aligned block-duration range to a block; merges
    /// adjacent blocks into larger ones (3, 9, 27... block durations, up to
    /// the maximum block duration, once no new data can land in their
    /// window); deletes blocks past retention
    /// relative to `now_ms`.
    pub fn maintain(&self, now_ms: i64) -> Result<MaintainReport, Error> {
        let _m = lock(&self.maint);
        let mut report = MaintainReport::default();
        let bd = self.cfg.block_ms;
        loop {
            let Some((mn, mx)) = read(&self.state).head.time_range() else { break };
            if (i128::from(mx) - i128::from(mn)) * 2 <= i128::from(bd) * 3 {
                break;
            }
            let a = mn.div_euclid(bd).saturating_mul(bd);
            if self.persist_range(a, a.saturating_add(bd))? {
                report.blocks_cut += 1;
            }
        }
        self.compact_all(&mut report)?;
        self.apply_retention(now_ms, &mut report)?;
        Ok(report)
    }

    /// Writes everything in the head to blocks (one per block-duration
    /// window) and empties it; returns how many blocks were written. Samples
    /// older than the newest flushed one are rejected as too old afterwards.
    pub fn flush(&self) -> Result<usize, Error> {
        let _m = lock(&self.maint);
        let Some((_, mx)) = read(&self.state).head.time_range() else { return Ok(0) };
        let end = mx.saturating_add(1);
        let bd = self.cfg.block_ms;
        let mut written = 0;
        loop {
            let mn = match read(&self.state).head.time_range() {
                Some((mn, _)) if mn < end => mn,
                _ => break,
            };
            let a = mn.div_euclid(bd).saturating_mul(bd);
            if self.persist_range(a, a.saturating_add(bd).min(end))? {
                written += 1;
            }
        }
        Ok(written)
    }

    /// Syncs the write-ahead log and closes the database. Dropping it without
    /// `close` loses nothing either: every commit is already in the log.
    pub fn close(self) -> Result<(), Error> {
        lock(&self.writer).sync()
    }

    /// Moves the head's samples in `[a, b)` — which must hold all of the
    /// head's samples older than `b` — into a block, then truncates the head
    /// and the log. Returns whether a block was written.
    fn persist_range(&self, a: i64, b: i64) -> Result<bool, Error> {
        {
            let _w = lock(&self.writer);
            write(&self.state).head.raise_min_valid(b);
        }
        // Nothing older than `b` can be appended any more; write the block
        // without blocking commits.
        let snapshot = read(&self.state).head.range_chunks(a, b);
        let block = if snapshot.is_empty() {
            None
        } else {
            let mut w = BlockWriter::new(&self.dir)?;
            for (labels, chunks) in snapshot {
                w.add_series(labels, &chunks)?;
            }
            w.finish(1, Vec::new(), Vec::new())?
        };
        let mut wal = lock(&self.writer);
        {
            let mut st = write(&self.state);
            if let Some(blk) = &block {
                st.blocks.push(Arc::clone(blk));
                st.sort_blocks();
            }
            let dropped = st.head.truncate_before(b);
            tracing::info!(
                block = block.as_ref().map(|b| b.id().to_string()),
                min_time = a,
                max_time = b,
                dropped_series = dropped,
                "persisted a head range"
            );
        }
        let n = wal.rotate()?;
        let checkpoint = read(&self.state).head.checkpoint();
        wal.checkpoint(n, &checkpoint)?;
        Ok(block.is_some())
    }

    fn compact_all(&self, report: &mut MaintainReport) -> Result<(), Error> {
        let ranges = compact::ranges(self.cfg.block_ms, self.cfg.max_block_ms);
        loop {
            let group = {
                let st = read(&self.state);
                compact::plan(&st.blocks, &ranges, st.head.min_valid())
            };
            let Some(group) = group else { return Ok(()) };
            let merged = compact::compact(&self.dir, &group)?;
            {
                let mut st = write(&self.state);
                st.blocks.retain(|b| !group.iter().any(|g| Arc::ptr_eq(g, b)));
                if let Some(m) = &merged {
                    st.blocks.push(Arc::clone(m));
                }
                st.sort_blocks();
            }
            tracing::info!(
                block = merged.as_ref().map(|b| b.id().to_string()),
                sources = group.len(),
                "compacted blocks"
            );
            for g in &group {
                block::remove_dir(&g.dir)?;
            }
            report.compactions += 1;
        }
    }

    fn apply_retention(&self, now_ms: i64, report: &mut MaintainReport) -> Result<(), Error> {
        let doomed: Vec<Arc<Block>> = {
            let st = read(&self.state);
            let mut doomed: Vec<Arc<Block>> = Vec::new();
            if self.cfg.retention_ms > 0 {
                let cutoff = now_ms.saturating_sub(self.cfg.retention_ms);
                doomed.extend(st.blocks.iter().filter(|b| b.meta.max_time <= cutoff).cloned());
            }
            if let Some(limit) = self.cfg.retention_bytes {
                let gone = |b: &Arc<Block>, d: &[Arc<Block>]| d.iter().any(|x| Arc::ptr_eq(x, b));
                let mut total = wal::disk_bytes(&self.dir.join("wal"))
                    + st.blocks.iter().filter(|b| !gone(b, &doomed)).map(|b| b.bytes).sum::<u64>();
                for b in &st.blocks {
                    if total <= limit {
                        break;
                    }
                    if !gone(b, &doomed) {
                        total = total.saturating_sub(b.bytes);
                        doomed.push(Arc::clone(b));
                    }
                }
            }
            doomed
        };
        if doomed.is_empty() {
            return Ok(());
        }
        write(&self.state).blocks.retain(|b| !doomed.iter().any(|d| Arc::ptr_eq(d, b)));
        for b in &doomed {
            tracing::info!(block = %b.id(), max_time = b.meta.max_time, "retention deleted a block");
            block::remove_dir(&b.dir)?;
            report.blocks_deleted += 1;
        }
        Ok(())
    }

    /// Matching series from the blocks and the head, merged per label set.
    fn select_merged(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<BTreeMap<Labels, Vec<Vec<Sample>>>, Error> {
        let (blocks, head) = {
            let st = read(&self.state);
            let blocks: Vec<Arc<Block>> =
                st.blocks.iter().filter(|b| b.overlaps(mint, maxt)).cloned().collect();
            (blocks, st.head.select(matchers, mint, maxt))
        };
        let mut merged: BTreeMap<Labels, Vec<Vec<Sample>>> = BTreeMap::new();
        for b in &blocks {
            for s in b.select(matchers, mint, maxt)? {
                merged.entry(s.labels).or_default().push(s.samples);
            }
        }
        for s in head {
            merged.entry(s.labels).or_default().push(s.samples);
        }
        Ok(merged)
    }

    /// Label sets of matching series with a sample in `[mint, maxt]`.
    fn matching_labels(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<BTreeSet<Labels>, Error> {
        let (blocks, mut out) = {
            let st = read(&self.state);
            let blocks: Vec<Arc<Block>> =
                st.blocks.iter().filter(|b| b.overlaps(mint, maxt)).cloned().collect();
            let head: BTreeSet<Labels> =
                st.head.matching_labels(matchers, mint, maxt).into_iter().cloned().collect();
            (blocks, head)
        };
        for b in &blocks {
            out.extend(b.matching_labels(matchers, mint, maxt)?.into_iter().cloned());
        }
        Ok(out)
    }
}

fn storage_err(e: Error) -> StorageError {
    StorageError(e.to_string())
}

impl Querier for Tsdb {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, StorageError> {
        let merged = self.select_merged(matchers, mint, maxt).map_err(storage_err)?;
        Ok(merged
            .into_iter()
            .map(|(labels, parts)| Series { labels, samples: merge_samples(parts) })
            .collect())
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let labels = self.matching_labels(matchers, mint, maxt).map_err(storage_err)?;
        let names: BTreeSet<&str> =
            labels.iter().flat_map(|l| l.iter().map(|x| x.name.as_str())).collect();
        Ok(names.into_iter().map(str::to_string).collect())
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let labels = self.matching_labels(matchers, mint, maxt).map_err(storage_err)?;
        let values: BTreeSet<&str> = labels.iter().filter_map(|l| l.get(name)).collect();
        Ok(values.into_iter().map(str::to_string).collect())
    }
}

/// Collects samples and stores them together with [`Appender::commit`].
/// Dropping an appender without committing discards its samples.
pub struct Appender<'a> {
    db: &'a Tsdb,
    series: Vec<Labels>,
    index: HashMap<Labels, usize>,
    samples: Vec<(usize, i64, f64)>,
    /// The storage id and index of the last appended series.
    last: Option<(usize, usize)>,
}

impl Appender<'_> {
    /// Adds a sample to the batch. Fails only for an empty label set;
    /// ordering and duplicates are decided by [`Appender::commit`].
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), Error> {
        if labels.is_empty() {
            return Err(Error::InvalidSeries("a series needs at least one label".into()));
        }
        // Consecutive samples of one series (remote write sends them so)
        // share the label set's storage: skip the lookup.
        let i = match self.last {
            Some((id, i)) if id == labels.storage_id() && self.series[i].storage_id() == id => i,
            _ => match self.index.get(labels) {
                Some(&i) => i,
                None => {
                    self.series.push(labels.clone());
                    self.index.insert(labels.clone(), self.series.len() - 1);
                    self.series.len() - 1
                }
            },
        };
        self.last = Some((self.series[i].storage_id(), i));
        self.samples.push((i, t, v));
        Ok(())
    }

    /// Samples in the batch.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Discards the batch.
    pub fn rollback(self) {}

    /// Stores the batch's acceptable samples, in the order appended, as one
    /// write-ahead-log write; when this returns `Ok` they are visible to
    /// queries and survive a crash of the process. A sample is rejected (and
    /// counted) when older than the series' newest sample — including one
    /// earlier in the same batch — when at that timestamp with another value,
    /// or when older than the head's lower bound. An `Err` (a failed log
    /// write) stores nothing.
    pub fn commit(self) -> Result<CommitStats, Error> {
        let mut stats = CommitStats::default();
        if self.samples.is_empty() {
            return Ok(stats);
        }
        let db = self.db;
        let mut wal = lock(&db.writer);
        let mut new_series: Vec<(u64, usize)> = Vec::new();
        let mut accepted: Vec<RefSample> = Vec::with_capacity(self.samples.len());
        {
            let st = read(&db.state);
            let head = &st.head;
            let min_valid = head.min_valid();
            let mut next_ref = head.next_ref();
            let mut refs: Vec<Option<u64>> = self.series.iter().map(|l| head.lookup(l)).collect();
            let mut last: Vec<Option<(i64, u64)>> =
                refs.iter().map(|r| r.and_then(|r| head.last(r))).collect();
            for &(i, t, v) in &self.samples {
                let bits = v.to_bits();
                let kind = if t < min_valid {
                    Some(RejectKind::TooOld)
                } else {
                    match last[i] {
                        Some((lt, _)) if t < lt => Some(RejectKind::OutOfOrder),
                        Some((lt, lb)) if t == lt => {
                            if lb == bits {
                                stats.unchanged += 1;
                                continue;
                            }
                            Some(RejectKind::DuplicateTimestamp)
                        }
                        _ => None,
                    }
                };
                if let Some(kind) = kind {
                    stats.reject(kind, &self.series[i], t);
                    continue;
                }
                let r = match refs[i] {
                    Some(r) => r,
                    None => {
                        let r = next_ref;
                        next_ref += 1;
                        refs[i] = Some(r);
                        new_series.push((r, i));
                        r
                    }
                };
                last[i] = Some((t, bits));
                accepted.push(RefSample { r, t, v });
            }
        }
        if accepted.is_empty() {
            return Ok(stats);
        }
        let mut buf = Vec::with_capacity(accepted.len() * 14 + 64);
        if !new_series.is_empty() {
            let list: Vec<(u64, &Labels)> =
                new_series.iter().map(|&(r, i)| (r, &self.series[i])).collect();
            record::encode_series(&mut buf, &list);
        }
        record::encode_samples(&mut buf, &accepted);
        wal.log(&buf)?;

        let mut series = self.series;
        let mut st = write(&db.state);
        for (r, i) in new_series {
            st.head.create(r, std::mem::take(&mut series[i]));
        }
        for s in &accepted {
            st.head.append(s.r, s.t, s.v);
        }
        stats.appended = accepted.len();
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_prefers_the_first_source_and_sorts() {
        let s = |t: i64, v: f64| Sample { t, v };
        assert_eq!(
            merge_samples(vec![vec![s(1, 1.0)], vec![s(2, 2.0)]]),
            vec![s(1, 1.0), s(2, 2.0)]
        );
        assert_eq!(
            merge_samples(vec![vec![s(1, 1.0), s(3, 3.0)], vec![s(2, 2.0), s(3, 9.0)]]),
            vec![s(1, 1.0), s(2, 2.0), s(3, 3.0)]
        );
    }

    #[test]
    fn options_are_checked() {
        let bad = Options { block_duration: Duration::ZERO, ..Options::default() };
        assert!(matches!(Config::new(&bad), Err(Error::InvalidOptions(_))));
        let cfg = Config::new(&Options::default()).unwrap();
        assert_eq!(cfg.block_ms, 7_200_000);
        assert_eq!(cfg.max_block_ms, 15 * 86_400_000 / 10);
    }

    #[test]
    fn tsdb_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Tsdb>();
    }
}
