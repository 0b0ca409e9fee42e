//! Compaction: merging blocks into larger ones.
//!
//! Planning looks at windows of growing size — 3, 9, 27, ... times the block
//! duration, up to the maximum block span — aligned to multiples of their
//! size. When a window's end is no later than the head's lower bound (so no
//! new block can land in it) and at least two blocks lie entirely inside it,
//! those blocks are merged into one whose level is one more than the highest
//! among them. Blocks whose time ranges overlap (which only a crash between
//! writing and deleting could leave behind, and which opening also repairs)
//! are merged first, regardless of windows.
//!
//! The merged block is complete on disk before the source blocks are deleted;
//! its `sources` name every level-1 block it covers, so opening the database
//! deletes sources left over by a crash.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use andon_series::{Labels, Sample};

use crate::block::{Block, BlockWriter};
use crate::chunk::{ChunkData, SAMPLES_PER_CHUNK};
use crate::error::Error;

/// Window sizes for compaction: 3^k block durations no larger than `max_span`.
pub fn ranges(block_ms: i64, max_span: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut r = block_ms.saturating_mul(3);
    while r <= max_span && r > 0 {
        out.push(r);
        if r > i64::MAX / 3 {
            break;
        }
        r *= 3;
    }
    out
}

/// The next group of blocks to merge, if any (see the module docs).
pub fn plan(blocks: &[Arc<Block>], ranges: &[i64], boundary: i64) -> Option<Vec<Arc<Block>>> {
    let mut sorted: Vec<&Arc<Block>> = blocks.iter().collect();
    sorted.sort_by_key(|b| (b.meta.min_time, b.meta.max_time));
    // Overlapping blocks.
    let mut i = 0;
    while i < sorted.len() {
        let mut end = sorted[i].meta.max_time;
        let mut j = i + 1;
        while j < sorted.len() && sorted[j].meta.min_time < end {
            end = end.max(sorted[j].meta.max_time);
            j += 1;
        }
        if j - i > 1 {
            return Some(sorted[i..j].iter().map(|b| Arc::clone(b)).collect());
        }
        i = j;
    }
    for &r in ranges {
        let mut windows: BTreeMap<i64, Vec<&Arc<Block>>> = BTreeMap::new();
        for b in &sorted {
            let w = b.meta.min_time.div_euclid(r);
            let end = (w + 1).saturating_mul(r);
            if b.meta.max_time <= end && end <= boundary {
                windows.entry(w).or_default().push(b);
            }
        }
        if let Some(group) = windows.into_values().find(|g| g.len() > 1) {
            return Some(group.into_iter().map(Arc::clone).collect());
        }
    }
    None
}

/// Merges `blocks` into a new block under `parent`.
pub fn compact(parent: &Path, blocks: &[Arc<Block>]) -> Result<Option<Arc<Block>>, Error> {
    let mut ordered: Vec<&Arc<Block>> = blocks.iter().collect();
    ordered.sort_by_key(|b| (b.meta.min_time, b.meta.max_time));
    let mut by_labels: BTreeMap<&Labels, Vec<(usize, usize)>> = BTreeMap::new();
    for (bi, b) in ordered.iter().enumerate() {
        for (si, s) in b.series().iter().enumerate() {
            by_labels.entry(&s.labels).or_default().push((bi, si));
        }
    }
    let mut w = BlockWriter::new(parent)?;
    for (labels, refs) in by_labels {
        let mut chunks = Vec::new();
        for (bi, si) in refs {
            let b = ordered[bi];
            for c in &b.series()[si].chunks {
                chunks.push(ChunkData { min_t: c.min_t, max_t: c.max_t, bytes: b.read_chunk(c)? });
            }
        }
        chunks.sort_by_key(|c| c.min_t);
        if chunks.windows(2).any(|p| p[1].min_t <= p[0].max_t) {
            chunks = merge_overlapping(&chunks)?;
        }
        w.add_series(labels.clone(), &chunks)?;
    }
    let level = ordered.iter().map(|b| b.meta.compaction.level).max().unwrap_or(0) + 1;
    let mut sources: Vec<String> =
        ordered.iter().flat_map(|b| b.meta.compaction.sources.iter().cloned()).collect();
    sources.sort();
    sources.dedup();
    let parents = ordered.iter().map(|b| b.id().to_string()).collect();
    w.finish(level, sources, parents)
}

/// Decodes overlapping chunks, keeps one sample per timestamp (the one from
/// the earliest chunk) and re-encodes them.
fn merge_overlapping(chunks: &[ChunkData]) -> Result<Vec<ChunkData>, Error> {
    let mut samples: Vec<Sample> = Vec::new();
    for c in chunks {
        let decoded = crate::chunk::decode(&c.bytes)
            .map_err(|e| Error::corrupt(Path::new("<compaction>"), e))?;
        samples.extend(decoded);
    }
    samples.sort_by_key(|s| s.t);
    samples.dedup_by_key(|s| s.t);
    Ok(samples.chunks(SAMPLES_PER_CHUNK).filter_map(ChunkData::from_samples).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_grow_by_three_up_to_the_limit() {
        assert_eq!(ranges(2, 54), vec![6, 18, 54]);
        assert_eq!(ranges(2, 53), vec![6, 18]);
        assert_eq!(ranges(2, 5), Vec::<i64>::new());
    }
}
