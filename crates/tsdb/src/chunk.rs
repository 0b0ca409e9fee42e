//! Compressed sample chunks in the style of Facebook's Gorilla paper.
//!
//! Layout: a big-endian `u16` sample count, then a bit stream. The first
//! sample is a zigzag varint timestamp and its value: `0` + the raw 64 bits,
//! or, when shorter, `1` + 5 bits of leading zeros + 6 bits of meaningful-bit
//! count + the meaningful bits (a count of 0 meaning the value +0.0), which
//! keeps round numbers to a few bits. The second sample stores its timestamp
//! delta as a zigzag varint; every later one stores the delta of deltas in a
//! variable-width bucket:
//!
//! | prefix | payload | range |
//! |--------|---------|-------|
//! | `0`    | —       | 0 |
//! | `10`   | 7 bits  | -63 ..= 64 |
//! | `110`  | 14 bits | -8191 ..= 8192 |
//! | `1110` | 20 bits | -524287 ..= 524288 |
//! | `1111` | 64 bits | anything |
//!
//! Values after the first are XORed with the previous value's bits: `0` for
//! an unchanged value; `10` + the meaningful bits when they fit the previous
//! leading/trailing-zero window; `11` + 5 bits of leading zeros + 6 bits of
//! meaningful-bit count (64 stored as 0) + the meaningful bits otherwise.
//! Everything works on bit patterns, so every `f64` — NaN payloads such as the
//! staleness marker, infinities, negative zero — decodes to the same bits.
//! Timestamp arithmetic wraps, so any `i64` sequence round-trips too.

use andon_series::Sample;

use crate::encoding::{unzigzag, zigzag};

/// Samples per chunk before the head starts a new one (Prometheus's default).
pub const SAMPLES_PER_CHUNK: usize = 120;

/// The only chunk encoding this crate writes, as tagged in block files.
pub const ENCODING_XOR: u8 = 1;

/// A chunk's bytes could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed chunk: {0}")]
pub struct ChunkError(&'static str);

#[derive(Clone)]
struct BitWriter {
    bytes: Vec<u8>,
    /// Unused low bits in the last byte.
    free: u32,
}

impl BitWriter {
    fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Writes the low `n` bits of `v`, most significant first.
    fn write_bits(&mut self, v: u64, mut n: u32) {
        while n > 0 {
            if self.free == 0 {
                self.bytes.push(0);
                self.free = 8;
            }
            let k = self.free.min(n);
            let bits = (v >> (n - k)) & ((1u64 << k) - 1);
            if let Some(last) = self.bytes.last_mut() {
                *last |= (bits as u8) << (self.free - k);
            }
            self.free -= k;
            n -= k;
        }
    }

    fn write_uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.write_bits((v & 0x7f) | 0x80, 8);
            v >>= 7;
        }
        self.write_bits(v, 8);
    }
}

struct BitReader<'a> {
    bytes: &'a [u8],
    /// Next bit to read, counted from the start of `bytes`.
    pos: usize,
}

impl BitReader<'_> {
    fn read_bit(&mut self) -> Result<bool, ChunkError> {
        Ok(self.read_bits(1)? == 1)
    }

    fn read_bits(&mut self, mut n: u32) -> Result<u64, ChunkError> {
        let mut out: u64 = 0;
        while n > 0 {
            let byte = *self.bytes.get(self.pos / 8).ok_or(ChunkError("bit stream ends early"))?;
            let avail = 8 - (self.pos % 8) as u32;
            let k = avail.min(n);
            let bits = (u64::from(byte) >> (avail - k)) & ((1u64 << k) - 1);
            out = (out << k) | bits;
            self.pos += k as usize;
            n -= k;
        }
        Ok(out)
    }

    fn read_uvarint(&mut self) -> Result<u64, ChunkError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.read_bits(8)?;
            v |= (b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(ChunkError("timestamp varint too long"))
    }
}

/// Delta-of-delta buckets: (prefix, prefix length, payload bits).
const BUCKETS: [(u64, u32, u32); 3] = [(0b10, 2, 7), (0b110, 3, 14), (0b1110, 4, 20)];

fn bucket_fits(dod: i64, bits: u32) -> bool {
    let half = 1i64 << (bits - 1);
    -half < dod && dod <= half
}

/// Appends samples to a chunk. Not limited to [`SAMPLES_PER_CHUNK`]; that is
/// the head's policy. Holds at most `u16::MAX` samples.
pub struct Encoder {
    w: BitWriter,
    count: u16,
    t: i64,
    t_delta: i64,
    v: u64,
    /// The current XOR window; `leading == u32::MAX` until the first one.
    leading: u32,
    trailing: u32,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    pub fn new() -> Self {
        Self {
            w: BitWriter { bytes: vec![0, 0], free: 0 },
            count: 0,
            t: 0,
            t_delta: 0,
            v: 0,
            leading: u32::MAX,
            trailing: 0,
        }
    }

    /// Appends one sample; returns false (and changes nothing) when the
    /// chunk already holds `u16::MAX` samples.
    pub fn append(&mut self, t: i64, v: f64) -> bool {
        if self.count == u16::MAX {
            return false;
        }
        let bits = v.to_bits();
        match self.count {
            0 => {
                self.w.write_uvarint(zigzag(t));
                self.write_first_value(bits);
            }
            1 => {
                let delta = t.wrapping_sub(self.t);
                self.w.write_uvarint(zigzag(delta));
                self.write_value(bits);
                self.t_delta = delta;
            }
            _ => {
                let delta = t.wrapping_sub(self.t);
                let dod = delta.wrapping_sub(self.t_delta);
                if dod == 0 {
                    self.w.write_bit(false);
                } else if let Some(&(prefix, plen, n)) =
                    BUCKETS.iter().find(|(_, _, n)| bucket_fits(dod, *n))
                {
                    self.w.write_bits(prefix, plen);
                    self.w.write_bits(dod as u64, n);
                } else {
                    self.w.write_bits(0b1111, 4);
                    self.w.write_bits(dod as u64, 64);
                }
                self.write_value(bits);
                self.t_delta = delta;
            }
        }
        self.t = t;
        self.v = bits;
        self.count += 1;
        let [hi, lo] = self.count.to_be_bytes();
        self.w.bytes[0] = hi;
        self.w.bytes[1] = lo;
        true
    }

    fn write_first_value(&mut self, bits: u64) {
        if bits == 0 {
            self.w.write_bits(0b1, 1);
            self.w.write_bits(0, 11);
            return;
        }
        let leading = bits.leading_zeros().min(31);
        let trailing = bits.trailing_zeros();
        let sig = 64 - leading - trailing;
        if 12 + sig < 65 {
            self.w.write_bit(true);
            self.w.write_bits(u64::from(leading), 5);
            self.w.write_bits(u64::from(sig), 6);
            self.w.write_bits(bits >> trailing, sig);
        } else {
            self.w.write_bit(false);
            self.w.write_bits(bits, 64);
        }
    }

    fn write_value(&mut self, bits: u64) {
        let x = bits ^ self.v;
        if x == 0 {
            self.w.write_bit(false);
            return;
        }
        self.w.write_bit(true);
        let leading = x.leading_zeros().min(31);
        let trailing = x.trailing_zeros();
        if self.leading != u32::MAX && leading >= self.leading && trailing >= self.trailing {
            self.w.write_bit(false);
            self.w.write_bits(x >> self.trailing, 64 - self.leading - self.trailing);
        } else {
            let sig = 64 - leading - trailing;
            self.w.write_bit(true);
            self.w.write_bits(u64::from(leading), 5);
            self.w.write_bits(u64::from(sig & 63), 6);
            self.w.write_bits(x >> trailing, sig);
            self.leading = leading;
            self.trailing = trailing;
        }
    }

    pub fn num_samples(&self) -> usize {
        usize::from(self.count)
    }

    /// The encoded chunk so far (complete and decodable at every point).
    pub fn bytes(&self) -> &[u8] {
        &self.w.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.w.bytes
    }
}

/// An encoded chunk with the time range of its samples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChunkData {
    pub min_t: i64,
    pub max_t: i64,
    pub bytes: Vec<u8>,
}

impl ChunkData {
    /// Encodes samples (at most `u16::MAX`); `None` when there are none.
    pub fn from_samples(samples: &[Sample]) -> Option<Self> {
        let (first, last) = (samples.first()?, samples.last()?);
        Some(Self { min_t: first.t, max_t: last.t, bytes: encode(samples) })
    }
}

/// Encodes samples into one chunk (at most `u16::MAX` of them).
pub fn encode(samples: &[Sample]) -> Vec<u8> {
    let mut e = Encoder::new();
    for s in samples {
        e.append(s.t, s.v);
    }
    e.into_bytes()
}

/// The sample count recorded in a chunk's header.
pub fn num_samples(bytes: &[u8]) -> Result<usize, ChunkError> {
    match bytes {
        [hi, lo, ..] => Ok(usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => Err(ChunkError("shorter than its header")),
    }
}

/// Decodes every sample of a chunk.
pub fn decode(bytes: &[u8]) -> Result<Vec<Sample>, ChunkError> {
    let n = num_samples(bytes)?;
    let mut out = Vec::with_capacity(n);
    let mut r = BitReader { bytes: &bytes[2..], pos: 0 };
    let (mut t, mut t_delta, mut v) = (0i64, 0i64, 0u64);
    let (mut leading, mut trailing) = (0u32, 0u32);
    for i in 0..n {
        match i {
            0 => {
                t = unzigzag(r.read_uvarint()?);
                v = if r.read_bit()? {
                    let lead = r.read_bits(5)? as u32;
                    let sig = r.read_bits(6)? as u32;
                    if sig == 0 {
                        0
                    } else if lead + sig > 64 {
                        return Err(ChunkError("first value wider than 64 bits"));
                    } else {
                        r.read_bits(sig)? << (64 - lead - sig)
                    }
                } else {
                    r.read_bits(64)?
                };
            }
            _ => {
                if i == 1 {
                    t_delta = unzigzag(r.read_uvarint()?);
                } else {
                    let width = if !r.read_bit()? {
                        0
                    } else if !r.read_bit()? {
                        7
                    } else if !r.read_bit()? {
                        14
                    } else if !r.read_bit()? {
                        20
                    } else {
                        64
                    };
                    let dod = match width {
                        0 => 0,
                        64 => r.read_bits(64)? as i64,
                        n => {
                            let raw = r.read_bits(n)?;
                            if raw > 1u64 << (n - 1) {
                                (raw as i64) - (1i64 << n)
                            } else {
                                raw as i64
                            }
                        }
                    };
                    t_delta = t_delta.wrapping_add(dod);
                }
                t = t.wrapping_add(t_delta);
                if r.read_bit()? {
                    if r.read_bit()? {
                        leading = r.read_bits(5)? as u32;
                        let mut sig = r.read_bits(6)? as u32;
                        if sig == 0 {
                            sig = 64;
                        }
                        if leading + sig > 64 {
                            return Err(ChunkError("value window wider than 64 bits"));
                        }
                        trailing = 64 - leading - sig;
                    } else if i == 1 {
                        return Err(ChunkError("value reuses a window before one exists"));
                    }
                    let sig = 64 - leading - trailing;
                    let x = r.read_bits(sig)?;
                    v ^= x << trailing;
                }
            }
        }
        out.push(Sample { t, v: f64::from_bits(v) });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(samples: &[Sample]) {
        let bytes = encode(samples);
        let back = decode(&bytes).unwrap();
        assert_eq!(back.len(), samples.len());
        for (a, b) in samples.iter().zip(&back) {
            assert_eq!(a.t, b.t);
            assert_eq!(a.v.to_bits(), b.v.to_bits());
        }
    }

    #[test]
    fn special_values_keep_their_bits() {
        let vals = [
            f64::from_bits(andon_series::STALE_NAN_BITS),
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff8_dead_beef_0001),
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::MAX,
            f64::MIN,
            1.0,
            1.0,
        ];
        let samples: Vec<Sample> =
            vals.iter().enumerate().map(|(i, v)| Sample { t: i as i64 * 15_000, v: *v }).collect();
        round_trip(&samples);
    }

    #[test]
    fn extreme_timestamps_round_trip() {
        let ts = [i64::MIN, i64::MAX, 0, -1, i64::MIN + 1, 1_700_000_000_000, 1_700_000_000_063];
        let samples: Vec<Sample> = ts.iter().map(|t| Sample { t: *t, v: 1.5 }).collect();
        round_trip(&samples);
    }

    #[test]
    fn every_bucket_edge_round_trips() {
        let mut t = 1_000_000;
        let mut samples = vec![Sample { t, v: 0.0 }, Sample { t: t + 1_000_000, v: 0.0 }];
        t += 1_000_000;
        let mut delta = 1_000_000i64;
        for dod in [0, 1, -1, 64, -63, 65, -64, 8192, -8191, 8193, -8192, 524_288, -524_287] {
            for d in [dod, -dod] {
                delta += d;
                t += delta;
                samples.push(Sample { t, v: t as f64 });
            }
        }
        round_trip(&samples);
    }

    #[test]
    fn empty_and_single_chunks() {
        assert_eq!(decode(&encode(&[])).unwrap(), vec![]);
        for v in [2.0, 0.0, -0.0, 1.0, f64::from_bits(1), f64::from_bits(u64::MAX)] {
            round_trip(&[Sample { t: 5, v }, Sample { t: 6, v }]);
        }
        assert!(decode(&[0]).is_err());
        assert!(decode(&[0, 3, 1]).is_err());
    }

    #[test]
    fn bytes_are_decodable_after_every_append() {
        let mut e = Encoder::new();
        let mut want = Vec::new();
        for i in 0..200 {
            let s = Sample { t: i * 15_000 + (i % 3), v: (i * i) as f64 / 7.0 };
            e.append(s.t, s.v);
            want.push(s);
            assert_eq!(decode(e.bytes()).unwrap(), want);
        }
    }
}
