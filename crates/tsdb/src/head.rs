//! The head: the in-memory part of the database holding the most recent
//! samples, which have not yet been written to a block.
//!
//! Every series is interned by its label set under a numeric reference that is
//! never reused. A series keeps closed chunks plus one open chunk that takes
//! new samples; a chunk is closed after [`SAMPLES_PER_CHUNK`] samples or when
//! a sample falls into a later block-duration window than the chunk's first
//! one, so chunks never straddle a block boundary and blocks can copy them as
//! they are.

use std::collections::HashMap;

use andon_series::{Labels, Matcher, Sample, Series, matches_all};

use crate::chunk::{self, ChunkData, Encoder, SAMPLES_PER_CHUNK};
use crate::postings::PostingsIndex;
use crate::record::{self, Record};

struct OpenChunk {
    enc: Encoder,
    min_t: i64,
    max_t: i64,
}

/// One series in the head.
pub struct MemSeries {
    pub labels: Labels,
    closed: Vec<ChunkData>,
    open: Option<OpenChunk>,
    /// The newest sample: timestamp and value bits.
    last: Option<(i64, u64)>,
}

impl MemSeries {
    fn new(labels: Labels) -> Self {
        Self { labels, closed: Vec::new(), open: None, last: None }
    }

    /// Every chunk, oldest first: (min time, max time, encoded bytes).
    fn chunks(&self) -> impl Iterator<Item = (i64, i64, &[u8])> {
        self.closed
            .iter()
            .map(|c| (c.min_t, c.max_t, c.bytes.as_slice()))
            .chain(self.open.iter().map(|o| (o.min_t, o.max_t, o.enc.bytes())))
    }

    fn is_empty(&self) -> bool {
        self.closed.is_empty() && self.open.is_none()
    }

    fn min_time(&self) -> Option<i64> {
        self.chunks().next().map(|c| c.0)
    }

    /// Appends a sample newer than every other sample of the series.
    fn append(&mut self, t: i64, v: f64, block_ms: i64) {
        let cut = match &self.open {
            None => true,
            Some(o) => {
                o.enc.num_samples() >= SAMPLES_PER_CHUNK
                    || t.div_euclid(block_ms) != o.min_t.div_euclid(block_ms)
            }
        };
        if cut {
            if let Some(o) = self.open.take() {
                self.closed.push(ChunkData {
                    min_t: o.min_t,
                    max_t: o.max_t,
                    bytes: o.enc.into_bytes(),
                });
            }
            self.open = Some(OpenChunk { enc: Encoder::new(), min_t: t, max_t: t });
        }
        if let Some(o) = &mut self.open {
            o.enc.append(t, v);
            o.max_t = t;
        }
        self.last = Some((t, v.to_bits()));
    }

    /// Samples with `mint <= t <= maxt`.
    fn samples(&self, mint: i64, maxt: i64) -> Vec<Sample> {
        let mut out = Vec::new();
        for (lo, hi, bytes) in self.chunks() {
            if hi < mint || lo > maxt {
                continue;
            }
            let samples = decode_own(bytes);
            if lo >= mint && hi <= maxt {
                out.extend(samples);
            } else {
                out.extend(samples.into_iter().filter(|s| s.t >= mint && s.t <= maxt));
            }
        }
        out
    }

    fn has_samples_in(&self, mint: i64, maxt: i64) -> bool {
        self.chunks().any(|(lo, hi, bytes)| {
            if hi < mint || lo > maxt {
                false
            } else if (mint..=maxt).contains(&lo) || (mint..=maxt).contains(&hi) {
                true
            } else {
                decode_own(bytes).iter().any(|s| s.t >= mint && s.t <= maxt)
            }
        })
    }

    /// Chunks holding exactly the samples with `a <= t < b`.
    fn range_chunks(&self, a: i64, b: i64) -> Vec<ChunkData> {
        let mut out = Vec::new();
        for (lo, hi, bytes) in self.chunks() {
            if hi < a || lo >= b {
                continue;
            }
            if lo >= a && hi < b {
                out.push(ChunkData { min_t: lo, max_t: hi, bytes: chunk::packed(bytes) });
            } else {
                let kept: Vec<Sample> =
                    decode_own(bytes).into_iter().filter(|s| s.t >= a && s.t < b).collect();
                if let Some(c) = ChunkData::from_samples(&kept) {
                    out.push(c);
                }
            }
        }
        out
    }

    /// Drops every sample older than `b`.
    fn truncate_before(&mut self, b: i64) {
        let keep = self.closed.iter().position(|c| c.max_t >= b).unwrap_or(self.closed.len());
        self.closed.drain(..keep);
        if let Some(first) = self.closed.first_mut() {
            if first.min_t < b {
                let kept: Vec<Sample> =
                    decode_own(&first.bytes).into_iter().filter(|s| s.t >= b).collect();
                if let Some(c) = ChunkData::from_samples(&kept) {
                    *first = c;
                }
            }
            return;
        }
        let Some(open) = &self.open else { return };
        if open.max_t < b {
            self.open = None;
        } else if open.min_t < b {
            let kept: Vec<Sample> =
                decode_own(open.enc.bytes()).into_iter().filter(|s| s.t >= b).collect();
            let mut enc = Encoder::new();
            for s in &kept {
                enc.append(s.t, s.v);
            }
            let min_t = kept.first().map_or(open.max_t, |s| s.t);
            self.open = Some(OpenChunk { enc, min_t, max_t: open.max_t });
        }
    }

    fn num_samples(&self) -> usize {
        self.chunks().map(|(_, _, b)| chunk::num_samples(b).unwrap_or(0)).sum()
    }

    fn num_chunks(&self) -> usize {
        self.closed.len() + usize::from(self.open.is_some())
    }
}

/// Decodes a chunk the head wrote itself; such chunks are always well formed.
fn decode_own(bytes: &[u8]) -> Vec<Sample> {
    match chunk::decode(bytes) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "a head chunk failed to decode; its samples are skipped");
            Vec::new()
        }
    }
}

/// Counters from replaying the write-ahead log into the head.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReplayCounts {
    pub samples: u64,
    pub unknown_series: u64,
    pub skipped: u64,
}

pub struct Head {
    series: HashMap<u64, MemSeries>,
    refs: HashMap<Labels, u64>,
    postings: PostingsIndex,
    next_ref: u64,
    /// Samples older than this are rejected as too old: their range is already
    /// in a block (or being written to one).
    min_valid: i64,
    block_ms: i64,
    /// During replay: references whose series was already known under another
    /// reference.
    aliases: HashMap<u64, u64>,
    pub replay: ReplayCounts,
}

impl Head {
    pub fn new(block_ms: i64, min_valid: i64) -> Self {
        Self {
            series: HashMap::new(),
            refs: HashMap::new(),
            postings: PostingsIndex::new(),
            next_ref: 1,
            min_valid,
            block_ms,
            aliases: HashMap::new(),
            replay: ReplayCounts::default(),
        }
    }

    pub fn lookup(&self, labels: &Labels) -> Option<u64> {
        self.refs.get(labels).copied()
    }

    /// The newest sample of a series: timestamp and value bits.
    pub fn last(&self, r: u64) -> Option<(i64, u64)> {
        self.series.get(&r).and_then(|s| s.last)
    }

    pub fn next_ref(&self) -> u64 {
        self.next_ref
    }

    pub fn min_valid(&self) -> i64 {
        self.min_valid
    }

    pub fn raise_min_valid(&mut self, t: i64) {
        self.min_valid = self.min_valid.max(t);
    }

    /// Adds a series under `r`; a no-op when `r` is known.
    pub fn create(&mut self, r: u64, labels: Labels) {
        self.next_ref = self.next_ref.max(r.saturating_add(1));
        if self.series.contains_key(&r) {
            return;
        }
        self.postings.add(r, &labels);
        self.refs.insert(labels.clone(), r);
        self.series.insert(r, MemSeries::new(labels));
    }

    /// Appends a sample; false when the series is unknown or the sample is not
    /// newer than the series' newest one.
    pub fn append(&mut self, r: u64, t: i64, v: f64) -> bool {
        let block_ms = self.block_ms;
        match self.series.get_mut(&r) {
            Some(s) if s.last.is_none_or(|(lt, _)| t > lt) => {
                s.append(t, v, block_ms);
                true
            }
            _ => false,
        }
    }

    /// Applies one write-ahead-log record.
    pub fn replay(&mut self, rec: Record) {
        match rec {
            Record::Series(list) => {
                for (r, labels) in list {
                    self.next_ref = self.next_ref.max(r.saturating_add(1));
                    match self.refs.get(&labels) {
                        Some(&known) if known != r => {
                            self.aliases.insert(r, known);
                        }
                        Some(_) => {}
                        None => self.create(r, labels),
                    }
                }
            }
            Record::Samples(list) => {
                for s in list {
                    self.replay_sample(s.r, s.t, s.v);
                }
            }
            Record::Chunks(list) => {
                for (r, samples) in list {
                    for s in samples {
                        self.replay_sample(r, s.t, s.v);
                    }
                }
            }
        }
    }

    fn replay_sample(&mut self, r: u64, t: i64, v: f64) {
        let r = self.aliases.get(&r).copied().unwrap_or(r);
        if !self.series.contains_key(&r) {
            self.replay.unknown_series += 1;
        } else if t < self.min_valid || !self.append(r, t, v) {
            self.replay.skipped += 1;
        } else {
            self.replay.samples += 1;
        }
    }

    /// Ends replay: forgets aliases and drops series left without samples.
    pub fn finish_replay(&mut self) {
        self.aliases.clear();
        self.gc();
    }

    fn gc(&mut self) -> usize {
        let empty: Vec<u64> =
            self.series.iter().filter(|(_, s)| s.is_empty()).map(|(r, _)| *r).collect();
        let mut removed = Vec::with_capacity(empty.len());
        for r in empty {
            if let Some(s) = self.series.remove(&r) {
                self.refs.remove(&s.labels);
                removed.push((r, s.labels));
            }
        }
        self.postings.remove_many(&removed);
        removed.len()
    }

    fn matching(&self, matchers: &[Matcher]) -> impl Iterator<Item = &MemSeries> {
        self.postings
            .candidates(matchers)
            .into_iter()
            .filter_map(|r| self.series.get(&r))
            .filter(move |s| matches_all(&s.labels, matchers))
    }

    /// Matching series with their samples in `[mint, maxt]` (unsorted).
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Series> {
        self.matching(matchers)
            .filter_map(|s| {
                let samples = s.samples(mint, maxt);
                (!samples.is_empty()).then(|| Series { labels: s.labels.clone(), samples })
            })
            .collect()
    }

    /// Label sets of matching series with a sample in `[mint, maxt]`.
    pub fn matching_labels(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<&Labels> {
        self.matching(matchers)
            .filter(|s| s.has_samples_in(mint, maxt))
            .map(|s| &s.labels)
            .collect()
    }

    /// The oldest and newest sample times, when the head holds any.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let mut range: Option<(i64, i64)> = None;
        for s in self.series.values() {
            let (Some(lo), Some((hi, _))) = (s.min_time(), s.last) else { continue };
            range = Some(match range {
                None => (lo, hi),
                Some((a, b)) => (a.min(lo), b.max(hi)),
            });
        }
        range
    }

    /// Every series with samples in `[a, b)`, sorted by labels, with chunks
    /// holding exactly those samples.
    pub fn range_chunks(&self, a: i64, b: i64) -> Vec<(Labels, Vec<ChunkData>)> {
        let mut out: Vec<(Labels, Vec<ChunkData>)> = self
            .series
            .values()
            .filter_map(|s| {
                let chunks = s.range_chunks(a, b);
                (!chunks.is_empty()).then(|| (s.labels.clone(), chunks))
            })
            .collect();
        out.sort_by(|x, y| x.0.cmp(&y.0));
        out
    }

    /// Drops every sample older than `b` and the series left empty; returns
    /// how many series were dropped.
    pub fn truncate_before(&mut self, b: i64) -> usize {
        self.raise_min_valid(b);
        for s in self.series.values_mut() {
            s.truncate_before(b);
        }
        self.gc()
    }

    /// The head's content as write-ahead-log records: every series, then its
    /// chunks.
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut refs: Vec<u64> = self.series.keys().copied().collect();
        refs.sort_unstable();
        let mut out = Vec::new();
        for group in refs.chunks(4096) {
            let list: Vec<(u64, &Labels)> =
                group.iter().filter_map(|r| self.series.get(r).map(|s| (*r, &s.labels))).collect();
            record::encode_series(&mut out, &list);
        }
        let mut batch: Vec<(u64, &[u8])> = Vec::new();
        let mut batch_bytes = 0;
        for r in &refs {
            let Some(s) = self.series.get(r) else { continue };
            for (_, _, bytes) in s.chunks() {
                batch.push((*r, bytes));
                batch_bytes += bytes.len();
                if batch_bytes >= 1 << 20 {
                    record::encode_chunks(&mut out, &batch);
                    batch.clear();
                    batch_bytes = 0;
                }
            }
        }
        if !batch.is_empty() {
            record::encode_chunks(&mut out, &batch);
        }
        out
    }

    /// (series, samples, chunks) held.
    pub fn counts(&self) -> (usize, u64, u64) {
        let mut samples = 0;
        let mut chunks = 0;
        for s in self.series.values() {
            samples += s.num_samples() as u64;
            chunks += s.num_chunks() as u64;
        }
        (self.series.len(), samples, chunks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series_with(ts: &[i64]) -> MemSeries {
        let mut s = MemSeries::new(Labels::from_pairs(&[("a", "b")]));
        for &t in ts {
            s.append(t, t as f64, 1000);
        }
        s
    }

    #[test]
    fn chunks_are_cut_at_the_sample_limit_and_at_block_boundaries() {
        let ts: Vec<i64> = (0..300).collect();
        let s = series_with(&ts);
        assert_eq!(s.num_chunks(), 3);
        let ts: Vec<i64> = (0..20).map(|i| i * 100).collect();
        let s = series_with(&ts);
        // 0..=900 in the first window, 1000..=1900 in the second.
        assert_eq!(
            s.chunks().map(|c| (c.0, c.1)).collect::<Vec<_>>(),
            vec![(0, 900), (1000, 1900)]
        );
    }

    #[test]
    fn truncation_and_ranges_keep_exact_samples() {
        let ts: Vec<i64> = (0..250).map(|i| i * 3).collect();
        let mut s = series_with(&ts);
        let r = s.range_chunks(100, 400);
        let got: Vec<i64> =
            r.iter().flat_map(|c| chunk::decode(&c.bytes).unwrap()).map(|x| x.t).collect();
        let want: Vec<i64> = ts.iter().copied().filter(|t| (100..400).contains(t)).collect();
        assert_eq!(got, want);
        assert!(s.has_samples_in(301, 303));
        assert!(!s.has_samples_in(301, 302));
        s.truncate_before(400);
        let left: Vec<i64> = s.samples(i64::MIN, i64::MAX).iter().map(|x| x.t).collect();
        assert_eq!(left, ts.iter().copied().filter(|t| *t >= 400).collect::<Vec<_>>());
        s.append(10_000, 1.0, 1000);
        assert_eq!(s.samples(9_000, 20_000), vec![Sample { t: 10_000, v: 1.0 }]);
        s.truncate_before(20_000);
        assert!(s.is_empty());
    }
}
