//! Immutable blocks: one directory per time range, `DIR/<id>/`, holding
//!
//! * `meta.json` — id, time range (`minTime` inclusive, `maxTime` exclusive,
//!   as the oldest sample and the newest sample + 1), counts, and the
//!   compaction level with the ids of the level-1 blocks it was made from;
//! * `chunks` — `magic "ANDC" | version u8 = 1 | 3 zero bytes`, then one entry
//!   per chunk: `length (varint) | encoding u8 | chunk bytes | CRC32C u32 LE`
//!   (the CRC covers the encoding byte and the chunk bytes);
//! * `index` — see [`crate::index`].
//!
//! A block is written under `<id>.tmp/`, every file is synced, then the
//! directory is renamed into place and its parent synced, so a block either
//! exists completely or not at all. Deleting renames it to `<id>.deleting`
//! first for the same reason. Readers keep the index in memory and read
//! chunks with positioned reads.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use andon_series::{Labels, Matcher, Sample, Series, matches_all};
use serde::{Deserialize, Serialize};

use crate::chunk::{self, ChunkData, ENCODING_XOR};
use crate::encoding::{Decoder, crc32c_update, put_uvarint, uvarint_len};
use crate::error::{Error, io_err};
use crate::index::{self, ChunkMeta, IndexSeries};
use crate::postings::PostingsIndex;
use crate::wal::sync_dir;

const CHUNKS_MAGIC: &[u8; 4] = b"ANDC";
const CHUNKS_VERSION: u8 = 1;
const META_VERSION: u32 = 1;

pub const META_FILE: &str = "meta.json";
pub const CHUNKS_FILE: &str = "chunks";
pub const INDEX_FILE: &str = "index";
pub const TMP_SUFFIX: &str = ".tmp";
pub const DELETING_SUFFIX: &str = ".deleting";

/// A block's `meta.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockMeta {
    pub ulid: String,
    /// The oldest sample's time.
    pub min_time: i64,
    /// The newest sample's time + 1.
    pub max_time: i64,
    pub stats: BlockStats,
    pub compaction: BlockCompaction,
    pub version: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockStats {
    pub num_samples: u64,
    pub num_series: u64,
    pub num_chunks: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockCompaction {
    /// 1 for a block cut from the head, one more than its highest source for
    /// a compacted block.
    pub level: u32,
    /// The level-1 blocks whose data this block holds, sorted.
    pub sources: Vec<String>,
    /// The blocks merged to make this one (empty at level 1).
    #[serde(default)]
    pub parents: Vec<String>,
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new block id: 26 Crockford base-32 characters, a 48-bit millisecond
/// timestamp followed by 80 random bits (a ULID). Ids made by one process
/// sort in creation order: within a millisecond the random part counts up.
pub fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static LAST: Mutex<(u128, u128)> = Mutex::new((0, 0));
    const RANDOM_BITS: u128 = (1 << 80) - 1;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let ms = now.as_millis() & ((1 << 48) - 1);
    let mut last = LAST.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let random = if ms <= last.0 && last.1 < RANDOM_BITS {
        last.1 + 1
    } else {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(now.as_nanos());
        h.write_u32(std::process::id());
        let a = h.finish();
        h.write_u64(a);
        // Leave headroom so counting up within a millisecond cannot overflow.
        ((u128::from(a) << 16) ^ u128::from(h.finish())) & (RANDOM_BITS >> 1)
    };
    let ms = ms.max(last.0);
    *last = (ms, random);
    let v = (ms << 80) | random;
    (0..26).rev().map(|i| CROCKFORD[((v >> (i * 5)) & 31) as usize] as char).collect()
}

/// Whether `name` looks like a block id.
pub fn is_id(name: &str) -> bool {
    name.len() == 26 && name.bytes().all(|b| CROCKFORD.contains(&b))
}

/// Deletes a block directory: renamed aside first, so a crash never leaves a
/// half-deleted block under its real name.
pub fn remove_dir(dir: &Path) -> Result<(), Error> {
    let mut aside = dir.as_os_str().to_owned();
    aside.push(DELETING_SUFFIX);
    let aside = PathBuf::from(aside);
    fs::rename(dir, &aside).map_err(io_err("renaming block for deletion", dir))?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    fs::remove_dir_all(&aside).map_err(io_err("removing", &aside))
}

fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// A loaded block.
pub struct Block {
    pub meta: BlockMeta,
    pub dir: PathBuf,
    /// Bytes of the block's files.
    pub bytes: u64,
    chunks_path: PathBuf,
    chunks: File,
    chunks_len: u64,
    series: Vec<IndexSeries>,
    postings: PostingsIndex,
}

impl Block {
    pub fn open(dir: &Path) -> Result<Block, Error> {
        let meta_path = dir.join(META_FILE);
        let meta_bytes = fs::read(&meta_path).map_err(io_err("reading", &meta_path))?;
        let meta: BlockMeta =
            serde_json::from_slice(&meta_bytes).map_err(|e| Error::corrupt(&meta_path, e))?;
        if meta.version != META_VERSION {
            return Err(Error::corrupt(
                &meta_path,
                format!("unsupported version {}", meta.version),
            ));
        }
        let index_path = dir.join(INDEX_FILE);
        let index_bytes = fs::read(&index_path).map_err(io_err("reading", &index_path))?;
        let idx = index::read(&index_bytes).map_err(|e| Error::corrupt(&index_path, e))?;
        let chunks_path = dir.join(CHUNKS_FILE);
        let chunks = File::open(&chunks_path).map_err(io_err("opening", &chunks_path))?;
        let mut header = [0u8; 8];
        chunks.read_exact_at(&mut header, 0).map_err(io_err("reading", &chunks_path))?;
        if &header[..4] != CHUNKS_MAGIC || header[4] != CHUNKS_VERSION {
            return Err(Error::corrupt(&chunks_path, "not a chunks file"));
        }
        let chunks_len =
            chunks.metadata().map_err(io_err("reading metadata of", &chunks_path))?.len();
        Ok(Block {
            meta,
            dir: dir.to_path_buf(),
            bytes: dir_bytes(dir),
            chunks_path,
            chunks,
            chunks_len,
            series: idx.series,
            postings: idx.postings,
        })
    }

    pub fn id(&self) -> &str {
        &self.meta.ulid
    }

    /// Whether the block's range meets `[mint, maxt]`.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.meta.min_time <= maxt && self.meta.max_time > mint
    }

    pub fn series(&self) -> &[IndexSeries] {
        &self.series
    }

    /// Reads and checks one chunk's bytes.
    pub fn read_chunk(&self, c: &ChunkMeta) -> Result<Vec<u8>, Error> {
        let corrupt =
            |d: &str| Error::corrupt(&self.chunks_path, format!("{d} at offset {}", c.offset));
        if c.offset.saturating_add(index::entry_len(c.len)) > self.chunks_len {
            return Err(corrupt("chunk extends past the end of the file"));
        }
        let len = usize::try_from(c.len).map_err(|_| corrupt("chunk length out of range"))?;
        let head = uvarint_len(c.len) + 1;
        let mut buf = vec![0u8; index::entry_len(c.len) as usize];
        self.chunks
            .read_exact_at(&mut buf, c.offset)
            .map_err(io_err("reading", &self.chunks_path))?;
        let mut d = Decoder::new(&buf);
        let stored = d.uvarint().map_err(|_| corrupt("bad chunk length"))?;
        let encoding = d.u8().map_err(|_| corrupt("bad chunk header"))?;
        if stored != c.len || encoding != ENCODING_XOR {
            return Err(corrupt("chunk header does not match the index"));
        }
        let data = &buf[head..head + len];
        let crc = u32::from_le_bytes([
            buf[head + len],
            buf[head + len + 1],
            buf[head + len + 2],
            buf[head + len + 3],
        ]);
        if crc32c_update(crc32c_update(0, &[encoding]), data) != crc {
            return Err(corrupt("chunk checksum mismatch"));
        }
        Ok(data.to_vec())
    }

    fn decode_chunk(&self, c: &ChunkMeta) -> Result<Vec<Sample>, Error> {
        let bytes = self.read_chunk(c)?;
        chunk::decode(&bytes)
            .map_err(|e| Error::corrupt(&self.chunks_path, format!("{e} at offset {}", c.offset)))
    }

    fn matching(&self, matchers: &[Matcher]) -> impl Iterator<Item = &IndexSeries> {
        self.postings
            .candidates(matchers)
            .into_iter()
            .filter_map(|i| usize::try_from(i).ok().and_then(|i| self.series.get(i)))
            .filter(move |s| matches_all(&s.labels, matchers))
    }

    /// Matching series with their samples in `[mint, maxt]`.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, Error> {
        let mut out = Vec::new();
        for s in self.matching(matchers) {
            let mut samples = Vec::new();
            for c in s.chunks.iter().filter(|c| c.max_t >= mint && c.min_t <= maxt) {
                let decoded = self.decode_chunk(c)?;
                samples.extend(decoded.into_iter().filter(|x| x.t >= mint && x.t <= maxt));
            }
            if !samples.is_empty() {
                out.push(Series { labels: s.labels.clone(), samples });
            }
        }
        Ok(out)
    }

    /// Label sets of matching series with a sample in `[mint, maxt]`.
    pub fn matching_labels(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<&Labels>, Error> {
        let mut out = Vec::new();
        for s in self.matching(matchers) {
            let mut found = false;
            for c in s.chunks.iter().filter(|c| c.max_t >= mint && c.min_t <= maxt) {
                let inside = |t: i64| (mint..=maxt).contains(&t);
                if inside(c.min_t)
                    || inside(c.max_t)
                    || self.decode_chunk(c)?.iter().any(|x| inside(x.t))
                {
                    found = true;
                    break;
                }
            }
            if found {
                out.push(&s.labels);
            }
        }
        Ok(out)
    }
}

/// Writes a new block; series must be added in label order.
pub struct BlockWriter {
    parent: PathBuf,
    id: String,
    tmp: PathBuf,
    chunks: BufWriter<File>,
    offset: u64,
    series: Vec<IndexSeries>,
    stats: BlockStats,
    min_t: i64,
    max_t: i64,
    finished: bool,
}

impl BlockWriter {
    pub fn new(parent: &Path) -> Result<BlockWriter, Error> {
        let id = new_id();
        let tmp = parent.join(format!("{id}{TMP_SUFFIX}"));
        fs::create_dir_all(&tmp).map_err(io_err("creating", &tmp))?;
        let path = tmp.join(CHUNKS_FILE);
        let file = File::create(&path).map_err(io_err("creating", &path))?;
        let mut chunks = BufWriter::with_capacity(1 << 16, file);
        chunks
            .write_all(&[
                CHUNKS_MAGIC[0],
                CHUNKS_MAGIC[1],
                CHUNKS_MAGIC[2],
                CHUNKS_MAGIC[3],
                CHUNKS_VERSION,
                0,
                0,
                0,
            ])
            .map_err(io_err("writing", &path))?;
        Ok(BlockWriter {
            parent: parent.to_path_buf(),
            id,
            tmp,
            chunks,
            offset: 8,
            series: Vec::new(),
            stats: BlockStats::default(),
            min_t: i64::MAX,
            max_t: i64::MIN,
            finished: false,
        })
    }

    /// Adds a series with its chunks (oldest first); a series without chunks
    /// is skipped.
    pub fn add_series(&mut self, labels: Labels, chunks: &[ChunkData]) -> Result<(), Error> {
        if chunks.is_empty() {
            return Ok(());
        }
        if self.series.last().is_some_and(|s| s.labels >= labels) {
            return Err(Error::corrupt(&self.tmp, "series added out of label order"));
        }
        let path = self.tmp.join(CHUNKS_FILE);
        let mut metas = Vec::with_capacity(chunks.len());
        let mut entry = Vec::new();
        for c in chunks {
            entry.clear();
            put_uvarint(&mut entry, c.bytes.len() as u64);
            entry.push(ENCODING_XOR);
            entry.extend_from_slice(&c.bytes);
            let crc = crc32c_update(crc32c_update(0, &[ENCODING_XOR]), &c.bytes);
            entry.extend_from_slice(&crc.to_le_bytes());
            self.chunks.write_all(&entry).map_err(io_err("writing", &path))?;
            metas.push(ChunkMeta {
                min_t: c.min_t,
                max_t: c.max_t,
                offset: self.offset,
                len: c.bytes.len() as u64,
            });
            self.offset += entry.len() as u64;
            self.stats.num_chunks += 1;
            self.stats.num_samples += chunk::num_samples(&c.bytes).unwrap_or(0) as u64;
            self.min_t = self.min_t.min(c.min_t);
            self.max_t = self.max_t.max(c.max_t);
        }
        self.stats.num_series += 1;
        self.series.push(IndexSeries { labels, chunks: metas });
        Ok(())
    }

    /// Completes the block and moves it into place; `None` (and nothing on
    /// disk) when no series was added. `sources` empty means a level-1 block
    /// that is its own source.
    pub fn finish(
        mut self,
        level: u32,
        sources: Vec<String>,
        parents: Vec<String>,
    ) -> Result<Option<Arc<Block>>, Error> {
        if self.series.is_empty() {
            return Ok(None);
        }
        let chunks_path = self.tmp.join(CHUNKS_FILE);
        self.chunks.flush().map_err(io_err("writing", &chunks_path))?;
        self.chunks.get_ref().sync_all().map_err(io_err("syncing", &chunks_path))?;

        let index_path = self.tmp.join(INDEX_FILE);
        let index = index::write(&self.series).map_err(|e| Error::corrupt(&index_path, e))?;
        write_synced(&index_path, &index)?;

        let sources = if sources.is_empty() { vec![self.id.clone()] } else { sources };
        let meta = BlockMeta {
            ulid: self.id.clone(),
            min_time: self.min_t,
            max_time: self.max_t.saturating_add(1),
            stats: self.stats.clone(),
            compaction: BlockCompaction { level, sources, parents },
            version: META_VERSION,
        };
        let meta_path = self.tmp.join(META_FILE);
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| Error::corrupt(&meta_path, e))?;
        write_synced(&meta_path, &json)?;
        sync_dir(&self.tmp)?;

        let dir = self.parent.join(&self.id);
        fs::rename(&self.tmp, &dir).map_err(io_err("renaming", &self.tmp))?;
        self.finished = true;
        sync_dir(&self.parent)?;
        Ok(Some(Arc::new(Block::open(&dir)?)))
    }
}

impl Drop for BlockWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

fn write_synced(path: &Path, data: &[u8]) -> Result<(), Error> {
    let mut f = File::create(path).map_err(io_err("creating", path))?;
    f.write_all(data).map_err(io_err("writing", path))?;
    f.sync_all().map_err(io_err("syncing", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_sorted_and_recognised() {
        let a = new_id();
        let b = new_id();
        assert!(a < b, "{a} {b}");
        let many: Vec<String> = (0..1000).map(|_| new_id()).collect();
        assert!(many.windows(2).all(|w| w[0] < w[1]));
        assert!(is_id(&a) && is_id(&b), "{a} {b}");
        assert!(!is_id("wal"));
        assert!(!is_id(&format!("{a}.tmp")));
    }
}
