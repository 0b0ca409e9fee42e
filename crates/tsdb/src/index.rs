//! A block's `index` file: which series the block holds and where their
//! chunks are.
//!
//! Layout (integers are unsigned LEB128 varints unless noted):
//!
//! ```text
//! magic "ANDX" | version u8 = 1 | 3 zero bytes
//! symbols:        section { count, strings (length + UTF-8) sorted }
//! series:         section { count, base time (signed), per series in
//!                   label order:
//!                     label count, (name symbol, value symbol)...,
//!                     chunk count, offset of the first chunk's entry in
//!                     `chunks`, per chunk:
//!                       min time (the first chunk's relative to the base
//!                         time, later ones as min time - previous max time - 1),
//!                       max time - min time,
//!                       encoded length }
//!                   A series' chunk entries are contiguous, so each later
//!                   offset follows from the previous entry's length. Time
//!                   differences are stored as wrapping unsigned values.
//! postings:       one section per label pair { count, series ordinals as
//!                   deltas (the first absolute) }
//! postings table: section { count, per pair: name symbol, value symbol,
//!                   offset of its postings section }
//! table of contents (fixed size, at the end of the file):
//!   u64 LE offsets of symbols, series, first postings, postings table |
//!   u32 LE CRC32C of those 32 bytes
//! ```
//!
//! A section is `length: u32 LE | payload | CRC32C(payload): u32 LE`. Series
//! are referred to by their ordinal in the series section.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use andon_series::{Label, Labels};

use crate::encoding::{
    DecodeError, Decoder, crc32c, put_str, put_u32_le, put_u64_le, put_uvarint, put_varint,
    uvarint_len,
};
use crate::postings::PostingsIndex;

const MAGIC: &[u8; 4] = b"ANDX";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 8;
const TOC_LEN: usize = 36;

/// Where one chunk is in the block's `chunks` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkMeta {
    pub min_t: i64,
    pub max_t: i64,
    pub offset: u64,
    /// Length of the encoded chunk (without the entry's framing).
    pub len: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IndexSeries {
    pub labels: Labels,
    pub chunks: Vec<ChunkMeta>,
}

/// The parsed index: series in label order and their postings.
pub struct Index {
    pub series: Vec<IndexSeries>,
    pub postings: PostingsIndex,
}

/// Bytes of a `chunks` file entry holding `len` bytes of chunk data: length
/// varint, encoding byte, data, CRC32C.
pub fn entry_len(len: u64) -> u64 {
    uvarint_len(len) as u64 + 1 + len + 4
}

fn section(out: &mut Vec<u8>, payload: &[u8]) -> Result<(), DecodeError> {
    let len = u32::try_from(payload.len()).map_err(|_| DecodeError("index section over 4 GiB"))?;
    put_u32_le(out, len);
    out.extend_from_slice(payload);
    put_u32_le(out, crc32c(payload));
    Ok(())
}

/// Encodes an index for `series`, which must be sorted by labels.
pub fn write(series: &[IndexSeries]) -> Result<Vec<u8>, DecodeError> {
    let mut symbols: BTreeSet<&str> = BTreeSet::new();
    for s in series {
        for l in &s.labels {
            symbols.insert(&l.name);
            symbols.insert(&l.value);
        }
    }
    let symbol_ref: HashMap<&str, u64> =
        symbols.iter().enumerate().map(|(i, s)| (*s, i as u64)).collect();
    let sym = |s: &str| symbol_ref.get(s).copied().unwrap_or(0);

    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[VERSION, 0, 0, 0]);

    let symbols_off = out.len() as u64;
    let mut p = Vec::new();
    put_uvarint(&mut p, symbols.len() as u64);
    for s in &symbols {
        put_str(&mut p, s);
    }
    section(&mut out, &p)?;

    let series_off = out.len() as u64;
    let mut p = Vec::new();
    put_uvarint(&mut p, series.len() as u64);
    let base = series.iter().filter_map(|s| s.chunks.first()).map(|c| c.min_t).min().unwrap_or(0);
    put_varint(&mut p, base);
    let mut pairs: BTreeMap<(&str, &str), Vec<u64>> = BTreeMap::new();
    for (ordinal, s) in series.iter().enumerate() {
        put_uvarint(&mut p, s.labels.len() as u64);
        for l in &s.labels {
            put_uvarint(&mut p, sym(&l.name));
            put_uvarint(&mut p, sym(&l.value));
            pairs.entry((&l.name, &l.value)).or_default().push(ordinal as u64);
        }
        put_uvarint(&mut p, s.chunks.len() as u64);
        let mut prev: Option<&ChunkMeta> = None;
        for c in &s.chunks {
            match prev {
                None => {
                    put_uvarint(&mut p, c.offset);
                    put_uvarint(&mut p, c.min_t.wrapping_sub(base) as u64);
                }
                Some(pc) => {
                    if c.offset != pc.offset + entry_len(pc.len) {
                        return Err(DecodeError("a series' chunks are not contiguous"));
                    }
                    put_uvarint(&mut p, c.min_t.wrapping_sub(pc.max_t).wrapping_sub(1) as u64);
                }
            }
            put_uvarint(&mut p, c.max_t.wrapping_sub(c.min_t) as u64);
            put_uvarint(&mut p, c.len);
            prev = Some(c);
        }
    }
    section(&mut out, &p)?;

    let postings_off = out.len() as u64;
    let mut table = Vec::new();
    put_uvarint(&mut table, pairs.len() as u64);
    for ((name, value), ordinals) in &pairs {
        put_uvarint(&mut table, sym(name));
        put_uvarint(&mut table, sym(value));
        put_uvarint(&mut table, out.len() as u64);
        let mut p = Vec::new();
        put_uvarint(&mut p, ordinals.len() as u64);
        let mut prev = 0;
        for &o in ordinals {
            put_uvarint(&mut p, o - prev);
            prev = o;
        }
        section(&mut out, &p)?;
    }
    let table_off = out.len() as u64;
    section(&mut out, &table)?;

    let mut toc = Vec::with_capacity(TOC_LEN);
    for off in [symbols_off, series_off, postings_off, table_off] {
        put_u64_le(&mut toc, off);
    }
    let crc = crc32c(&toc);
    put_u32_le(&mut toc, crc);
    out.extend_from_slice(&toc);
    Ok(out)
}

/// The checked payload of the section at `off`.
fn read_section(buf: &[u8], off: u64) -> Result<&[u8], DecodeError> {
    let off = usize::try_from(off).map_err(|_| DecodeError("section offset out of range"))?;
    let mut d = Decoder::new(buf.get(off..).ok_or(DecodeError("section offset out of range"))?);
    let len = d.u32_le()? as usize;
    let payload = d.bytes(len)?;
    if d.u32_le()? != crc32c(payload) {
        return Err(DecodeError("section checksum mismatch"));
    }
    Ok(payload)
}

/// Parses and checks an index file.
pub fn read(buf: &[u8]) -> Result<Index, DecodeError> {
    if buf.len() < HEADER_LEN + TOC_LEN || &buf[..4] != MAGIC {
        return Err(DecodeError("not an index file"));
    }
    if buf[4] != VERSION || buf[5..8] != [0, 0, 0] {
        return Err(DecodeError("unsupported index version"));
    }
    let toc = &buf[buf.len() - TOC_LEN..];
    let mut d = Decoder::new(toc);
    let offs = [d.u64_le()?, d.u64_le()?, d.u64_le()?, d.u64_le()?];
    if d.u32_le()? != crc32c(&toc[..32]) {
        return Err(DecodeError("table of contents checksum mismatch"));
    }
    let [symbols_off, series_off, _postings_off, table_off] = offs;

    let mut d = Decoder::new(read_section(buf, symbols_off)?);
    let n = d.len()?;
    let mut symbols = Vec::with_capacity(n);
    for _ in 0..n {
        symbols.push(d.str()?);
    }
    let symbol = |r: u64| -> Result<&str, DecodeError> {
        usize::try_from(r)
            .ok()
            .and_then(|i| symbols.get(i).copied())
            .ok_or(DecodeError("unknown symbol reference"))
    };

    let mut d = Decoder::new(read_section(buf, series_off)?);
    let n = d.len()?;
    let base = d.varint()?;
    let mut series = Vec::with_capacity(n);
    for _ in 0..n {
        let nl = d.len()?;
        let mut labels = Vec::with_capacity(nl);
        for _ in 0..nl {
            let name = symbol(d.uvarint()?)?;
            let value = symbol(d.uvarint()?)?;
            labels.push(Label::new(name, value));
        }
        let nc = d.len()?;
        let mut chunks: Vec<ChunkMeta> = Vec::with_capacity(nc);
        let mut offset = if nc > 0 { d.uvarint()? } else { 0 };
        for _ in 0..nc {
            let min_t = match chunks.last() {
                None => base.wrapping_add(d.uvarint()? as i64),
                Some(pc) => {
                    offset = offset.wrapping_add(entry_len(pc.len));
                    pc.max_t.wrapping_add(1).wrapping_add(d.uvarint()? as i64)
                }
            };
            let max_t = min_t.wrapping_add(d.uvarint()? as i64);
            let len = d.uvarint()?;
            chunks.push(ChunkMeta { min_t, max_t, offset, len });
        }
        series.push(IndexSeries { labels: Labels::new(labels), chunks });
    }
    if series.windows(2).any(|w| w[0].labels >= w[1].labels) {
        return Err(DecodeError("series are not sorted by labels"));
    }

    let mut postings = PostingsIndex::new();
    let mut d = Decoder::new(read_section(buf, table_off)?);
    let n = d.len()?;
    for _ in 0..n {
        let name = symbol(d.uvarint()?)?;
        let value = symbol(d.uvarint()?)?;
        let mut p = Decoder::new(read_section(buf, d.uvarint()?)?);
        let count = p.len()?;
        let mut ids = Vec::with_capacity(count);
        let mut prev = 0u64;
        for _ in 0..count {
            prev = prev.wrapping_add(p.uvarint()?);
            if prev >= series.len() as u64 {
                return Err(DecodeError("postings name an unknown series"));
            }
            ids.push(prev);
        }
        postings.insert_list(name, value, ids);
    }
    postings.set_all((0..series.len() as u64).collect());
    Ok(Index { series, postings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips_and_detects_damage() {
        let series = vec![
            IndexSeries {
                labels: Labels::from_pairs(&[("__name__", "a"), ("job", "x")]),
                chunks: vec![
                    ChunkMeta { min_t: -5, max_t: 10, offset: 8, len: 20 },
                    ChunkMeta { min_t: 11, max_t: 99, offset: 8 + entry_len(20), len: 33 },
                    ChunkMeta {
                        min_t: 50,
                        max_t: 40,
                        offset: 8 + entry_len(20) + entry_len(33),
                        len: 200,
                    },
                ],
            },
            IndexSeries {
                labels: Labels::from_pairs(&[("__name__", "b"), ("job", "x")]),
                chunks: vec![ChunkMeta { min_t: 0, max_t: 0, offset: 90, len: 12 }],
            },
        ];
        let buf = write(&series).unwrap();
        let idx = read(&buf).unwrap();
        assert_eq!(idx.series, series);
        assert_eq!(idx.postings.get("job", "x"), &[0, 1]);
        assert_eq!(idx.postings.get("__name__", "b"), &[1]);
        assert_eq!(idx.postings.all(), &[0, 1]);
        for i in 0..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x01;
            assert!(read(&b).is_err(), "flip at {i} went unnoticed");
        }
    }
}
