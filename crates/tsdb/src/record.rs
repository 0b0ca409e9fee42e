//! Write-ahead-log records and their framing.
//!
//! A frame is `len: u32 LE | crc: u32 LE | payload[len]`, where the CRC32C
//! covers the payload and the payload's first byte is the record type:
//!
//! * `1` series: `n`, then per series `ref`, label count, and name/value
//!   strings (all counts, refs and lengths are unsigned varints);
//! * `2` samples: `n`, a base timestamp (signed varint), then per sample
//!   `ref`, the timestamp's offset from the base (signed varint) and the raw
//!   value bits (`u64` LE);
//! * `3` chunks (checkpoints only): `n`, then per chunk `ref`, byte length and
//!   the encoded chunk (see [`crate::chunk`]).

use andon_series::{Label, Labels, Sample};

use crate::chunk;
use crate::encoding::{DecodeError, Decoder, crc32c, put_str, put_u64_le, put_uvarint, put_varint};

pub const SERIES: u8 = 1;
pub const SAMPLES: u8 = 2;
pub const CHUNKS: u8 = 3;

/// Bytes before a frame's payload.
pub const FRAME_HEADER: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefSample {
    pub r: u64,
    pub t: i64,
    pub v: f64,
}

#[derive(Debug, PartialEq)]
pub enum Record {
    Series(Vec<(u64, Labels)>),
    Samples(Vec<RefSample>),
    Chunks(Vec<(u64, Vec<Sample>)>),
}

/// Appends one frame whose payload `body` writes after the type byte.
fn frame(out: &mut Vec<u8>, kind: u8, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    out.push(kind);
    body(out);
    let payload = &out[start + FRAME_HEADER..];
    let len = (payload.len() as u32).to_le_bytes();
    let crc = crc32c(payload).to_le_bytes();
    out[start..start + 4].copy_from_slice(&len);
    out[start + 4..start + 8].copy_from_slice(&crc);
}

pub fn encode_series(out: &mut Vec<u8>, series: &[(u64, &Labels)]) {
    frame(out, SERIES, |b| {
        put_uvarint(b, series.len() as u64);
        for (r, labels) in series {
            put_uvarint(b, *r);
            put_uvarint(b, labels.len() as u64);
            for l in *labels {
                put_str(b, &l.name);
                put_str(b, &l.value);
            }
        }
    });
}

pub fn encode_samples(out: &mut Vec<u8>, samples: &[RefSample]) {
    frame(out, SAMPLES, |b| {
        put_uvarint(b, samples.len() as u64);
        let base = samples.first().map_or(0, |s| s.t);
        put_varint(b, base);
        for s in samples {
            put_uvarint(b, s.r);
            put_varint(b, s.t.wrapping_sub(base));
            put_u64_le(b, s.v.to_bits());
        }
    });
}

pub fn encode_chunks(out: &mut Vec<u8>, chunks: &[(u64, &[u8])]) {
    frame(out, CHUNKS, |b| {
        put_uvarint(b, chunks.len() as u64);
        for (r, bytes) in chunks {
            put_uvarint(b, *r);
            put_uvarint(b, bytes.len() as u64);
            b.extend_from_slice(bytes);
        }
    });
}

/// What starts at some offset of a log file.
#[derive(Debug, PartialEq)]
pub enum Frame<'a> {
    /// A frame with a valid checksum: its payload and where the next starts.
    Ok(&'a [u8], usize),
    /// The clean end of the data.
    End,
    /// A partial or corrupt frame.
    Bad(&'static str),
}

pub fn next_frame(buf: &[u8], pos: usize) -> Frame<'_> {
    let rest = &buf[pos.min(buf.len())..];
    if rest.is_empty() {
        return Frame::End;
    }
    if rest.len() < FRAME_HEADER {
        return Frame::Bad("partial record header");
    }
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    if len == 0 {
        return Frame::Bad("zero-length record");
    }
    if len > rest.len() - FRAME_HEADER {
        return Frame::Bad("partial record");
    }
    let payload = &rest[FRAME_HEADER..FRAME_HEADER + len];
    if crc32c(payload) != crc {
        return Frame::Bad("checksum mismatch");
    }
    Frame::Ok(payload, pos + FRAME_HEADER + len)
}

/// Decodes a frame's payload.
pub fn decode(payload: &[u8]) -> Result<Record, DecodeError> {
    let mut d = Decoder::new(payload);
    let kind = d.u8()?;
    let n = d.len()?;
    let rec = match kind {
        SERIES => {
            let mut list = Vec::with_capacity(n);
            for _ in 0..n {
                let r = d.uvarint()?;
                let nl = d.len()?;
                let mut labels = Vec::with_capacity(nl);
                for _ in 0..nl {
                    let name = d.str()?;
                    let value = d.str()?;
                    labels.push(Label::new(name, value));
                }
                list.push((r, Labels::new(labels)));
            }
            Record::Series(list)
        }
        SAMPLES => {
            let base = d.varint()?;
            let mut list = Vec::with_capacity(n);
            for _ in 0..n {
                let r = d.uvarint()?;
                let t = base.wrapping_add(d.varint()?);
                let v = f64::from_bits(d.u64_le()?);
                list.push(RefSample { r, t, v });
            }
            Record::Samples(list)
        }
        CHUNKS => {
            let mut list = Vec::with_capacity(n);
            for _ in 0..n {
                let r = d.uvarint()?;
                let len = d.len()?;
                let samples =
                    chunk::decode(d.bytes(len)?).map_err(|_| DecodeError("malformed chunk"))?;
                list.push((r, samples));
            }
            Record::Chunks(list)
        }
        _ => return Err(DecodeError("unknown record type")),
    };
    if !d.is_empty() {
        return Err(DecodeError("trailing bytes after the record"));
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_frames() {
        let labels = Labels::from_pairs(&[("__name__", "up"), ("job", "a")]);
        let mut buf = Vec::new();
        encode_series(&mut buf, &[(7, &labels)]);
        let samples = [
            RefSample { r: 7, t: 1_000, v: 1.5 },
            RefSample { r: 7, t: 900, v: f64::from_bits(andon_series::STALE_NAN_BITS) },
        ];
        encode_samples(&mut buf, &samples);
        let c = chunk::encode(&[Sample { t: 5, v: 2.0 }, Sample { t: 6, v: 3.0 }]);
        encode_chunks(&mut buf, &[(7, &c)]);

        let Frame::Ok(p1, next) = next_frame(&buf, 0) else { panic!() };
        assert_eq!(decode(p1).unwrap(), Record::Series(vec![(7, labels)]));
        let Frame::Ok(p2, next) = next_frame(&buf, next) else { panic!() };
        let Record::Samples(got) = decode(p2).unwrap() else { panic!() };
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], samples[0]);
        assert_eq!(got[1].v.to_bits(), andon_series::STALE_NAN_BITS);
        let Frame::Ok(p3, next) = next_frame(&buf, next) else { panic!() };
        assert_eq!(
            decode(p3).unwrap(),
            Record::Chunks(vec![(7, vec![Sample { t: 5, v: 2.0 }, Sample { t: 6, v: 3.0 }])])
        );
        assert_eq!(next_frame(&buf, next), Frame::End);
    }

    #[test]
    fn damaged_frames_are_detected() {
        let mut buf = Vec::new();
        encode_samples(&mut buf, &[RefSample { r: 1, t: 1, v: 1.0 }]);
        for cut in 1..buf.len() {
            assert!(matches!(next_frame(&buf[..cut], 0), Frame::Bad(_)), "cut at {cut}");
        }
        for i in 0..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x10;
            assert!(matches!(next_frame(&b, 0), Frame::Bad(_)), "flip at {i}");
        }
        assert!(matches!(next_frame(&[0u8; 16], 0), Frame::Bad(_)));
    }
}
