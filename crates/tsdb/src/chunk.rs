//! Compressed sample chunks.
//!
//! A chunk comes in one of two layouts, told apart by its first byte.
//!
//! **Open** (`0x80`): what an [`Encoder`] appends to one sample at a time, and
//! what [`Encoder::bytes`] returns: `0x80`, a big-endian `u16` sample count,
//! then the samples interleaved in the style of Facebook's Gorilla paper
//! (below). A first byte under `0x80` is the first half of such a count: the
//! same bit stream with no `0x80` in front, as chunks were first written
//! (never with 32768 samples or more).
//!
//! **Packed** (`0x81`): what a chunk becomes once complete
//! ([`Encoder::into_bytes`], [`encode`]): `0x81`, the sample count as a
//! varint, then a bit stream with every timestamp, then every value, each
//! column in whichever of several encodings takes the fewest bits for this
//! chunk (see *Packed columns*).
//!
//! # Open bit stream
//!
//! The first sample is a zigzag varint timestamp and its value: `0` + the raw
//! 64 bits, or, when shorter, `1` + 5 bits of leading zeros + 6 bits of
//! meaningful-bit count + the meaningful bits (a count of 0 meaning the value
//! +0.0), which keeps round numbers to a few bits. The second sample stores
//! its timestamp delta as a zigzag varint; every later one stores the delta of
//! deltas in a variable-width bucket:
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
//!
//! # Packed columns
//!
//! Timestamps are an integer column. Values are `0` + the XOR coding above
//! (first value, then one XOR code per later value), or, when every value is
//! an integer `m` divided by `10^d` for one `d` in `0..=15` with `|m| <= 2^53`
//! and the division giving back the value's exact bits (so never -0.0, NaN or
//! an infinity), `1` + `d` in 4 bits + the `m`s as an integer column. Counters,
//! gauges of whole units and short decimals (`12.34`) become small integers.
//!
//! An integer column `x_0 .. x_{n-1}` is `x_0` as a zigzag varint, then (for
//! two or more) a 2-bit predictor, a zigzag varint `B`, and one residual per
//! later element, wrapping arithmetic throughout:
//!
//! | predictor | residual of `x_k` | also stored |
//! |-----------|-------------------|-------------|
//! | `0` delta | `x_k - x_{k-1} - B` (`k >= 1`) | — |
//! | `1` delta of deltas | `(x_k - x_{k-1}) - (x_{k-1} - x_{k-2})` (`k >= 2`; `B = x_1 - x_0`) | — |
//! | `2` line | `x_k - x_0 - C - k*B` (`k >= 1`) | `C`, a zigzag varint |
//!
//! Unless there are none, the residuals follow as a 2-bit code: `0` all zero
//! (nothing more); else
//! a 6-bit parameter `p` (for code `3` a second one, `p2`), a bit saying
//! whether a varint `g >= 2` follows that divides every residual (each is then
//! stored divided by `g`), and the residuals, each zigzagged to `z`:
//!
//! * `1` gamma: with `b` the bit length of `z`, `0` + `z` in `p` bits when
//!   `b <= p`, else `b - p` ones, `0`, and the low `b - 1` bits of `z`;
//! * `2` Rice: `q = z >> p` ones, `0`, and the low `p` bits of `z` when
//!   `q < 16`; else 16 ones, `b - 1` in 6 bits and the low `b - 1` bits;
//! * `3` zero runs: the number of zeros before the next non-zero `z`, gamma
//!   with `p`, then `z - 1`, gamma with `p2`, repeated; a run reaching the
//!   end of the column ends it.
//!
//! The encoder picks the predictor and code (and the parameters, `B` as the
//! median delta and `C` as the median line residual) by the bits they take.
//!
//! A perfectly regular scrape interval costs a few bytes per chunk and no
//! bits per sample. Everything works on bit patterns and wrapping integers,
//! so every `f64` — NaN payloads such as the staleness marker, infinities,
//! negative zero — and every `i64` timestamp sequence decodes as it was.

use andon_series::Sample;

use crate::encoding::{unzigzag, uvarint_len, zigzag};

/// Samples per chunk before the head starts a new one (Prometheus's default).
pub const SAMPLES_PER_CHUNK: usize = 120;

/// The entry tag block files give every chunk; a chunk's own first byte
/// tells its layout.
pub const ENCODING_XOR: u8 = 1;

/// First byte of the open layout.
const OPEN: u8 = 0x80;
/// First byte of the packed layout.
const PACKED: u8 = 0x81;

/// A chunk's bytes could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed chunk: {0}")]
pub struct ChunkError(&'static str);

#[derive(Clone, Default)]
struct BitWriter {
    bytes: Vec<u8>,
    /// Unused low bits in the last byte.
    free: u32,
}

impl BitWriter {
    fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Writes the low `n` bits of `v` (`n <= 64`), most significant first.
    fn write_bits(&mut self, v: u64, mut n: u32) {
        if n == 0 {
            return;
        }
        let v = if n < 64 { v & ((1u64 << n) - 1) } else { v };
        if self.free > 0 {
            let k = self.free.min(n);
            if let Some(last) = self.bytes.last_mut() {
                *last |= ((v >> (n - k)) as u8) << (self.free - k);
            }
            self.free -= k;
            n -= k;
        }
        while n >= 8 {
            n -= 8;
            self.bytes.push((v >> n) as u8);
        }
        if n > 0 {
            self.bytes.push((v << (8 - n)) as u8);
            self.free = 8 - n;
        }
    }

    /// Writes `n` one bits (`n <= 64`).
    fn write_ones(&mut self, n: u32) {
        self.write_bits(u64::MAX, n);
    }

    fn write_uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.write_bits((v & 0x7f) | 0x80, 8);
            v >>= 7;
        }
        self.write_bits(v, 8);
    }

    fn bit_len(&self) -> usize {
        self.bytes.len() * 8 - self.free as usize
    }

    /// Appends every bit written to `other`.
    fn append(&mut self, other: &BitWriter) {
        let partial = usize::from(other.free > 0);
        let (whole, last) = other.bytes.split_at(other.bytes.len() - partial);
        let f = self.free;
        if f == 0 {
            self.bytes.extend_from_slice(whole);
        } else {
            // Each byte's top `f` bits fill the last byte; the rest start
            // the next, which then has `f` bits free again.
            self.bytes.reserve(whole.len());
            for &b in whole {
                if let Some(last) = self.bytes.last_mut() {
                    *last |= b >> (8 - f);
                }
                self.bytes.push(b << f);
            }
        }
        if let Some(&b) = last.first() {
            self.write_bits(u64::from(b) >> other.free, 8 - other.free);
        }
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

    /// Reads `n <= 64` bits.
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

    /// Counts one bits up to the first zero bit (consumed), or up to `limit`
    /// ones (no zero bit consumed then).
    fn read_ones(&mut self, limit: u32) -> Result<u32, ChunkError> {
        let mut n = 0;
        while n < limit && self.read_bit()? {
            n += 1;
        }
        Ok(n)
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
        Err(ChunkError("varint too long"))
    }
}

/// Delta-of-delta buckets of the open layout: (prefix, prefix length,
/// payload bits).
const BUCKETS: [(u64, u32, u32); 3] = [(0b10, 2, 7), (0b110, 3, 14), (0b1110, 4, 20)];

fn bucket_fits(dod: i64, bits: u32) -> bool {
    let half = 1i64 << (bits - 1);
    -half < dod && dod <= half
}

fn write_dod(w: &mut BitWriter, dod: i64) {
    if dod == 0 {
        w.write_bit(false);
    } else if let Some(&(prefix, plen, n)) = BUCKETS.iter().find(|(_, _, n)| bucket_fits(dod, *n)) {
        w.write_bits(prefix, plen);
        w.write_bits(dod as u64, n);
    } else {
        w.write_bits(0b1111, 4);
        w.write_bits(dod as u64, 64);
    }
}

fn read_dod(r: &mut BitReader<'_>) -> Result<i64, ChunkError> {
    let width = match r.read_ones(4)? {
        0 => return Ok(0),
        1 => 7,
        2 => 14,
        3 => 20,
        _ => return Ok(r.read_bits(64)? as i64),
    };
    let raw = r.read_bits(width)?;
    Ok(if raw > 1u64 << (width - 1) { (raw as i64) - (1i64 << width) } else { raw as i64 })
}

/// State of the XOR value coding: the previous value's bits and the current
/// window of meaningful bits.
struct Xor {
    prev: u64,
    /// `u32::MAX` until the first window.
    leading: u32,
    trailing: u32,
}

impl Xor {
    fn new() -> Self {
        Self { prev: 0, leading: u32::MAX, trailing: 0 }
    }

    fn write_first(&mut self, w: &mut BitWriter, bits: u64) {
        self.prev = bits;
        if bits == 0 {
            w.write_bits(0b1, 1);
            w.write_bits(0, 11);
            return;
        }
        let leading = bits.leading_zeros().min(31);
        let trailing = bits.trailing_zeros();
        let sig = 64 - leading - trailing;
        if 12 + sig < 65 {
            w.write_bit(true);
            w.write_bits(u64::from(leading), 5);
            w.write_bits(u64::from(sig), 6);
            w.write_bits(bits >> trailing, sig);
        } else {
            w.write_bit(false);
            w.write_bits(bits, 64);
        }
    }

    fn write(&mut self, w: &mut BitWriter, bits: u64) {
        let x = bits ^ self.prev;
        self.prev = bits;
        if x == 0 {
            w.write_bit(false);
            return;
        }
        w.write_bit(true);
        let leading = x.leading_zeros().min(31);
        let trailing = x.trailing_zeros();
        if self.leading != u32::MAX && leading >= self.leading && trailing >= self.trailing {
            w.write_bit(false);
            w.write_bits(x >> self.trailing, 64 - self.leading - self.trailing);
        } else {
            let sig = 64 - leading - trailing;
            w.write_bit(true);
            w.write_bits(u64::from(leading), 5);
            w.write_bits(u64::from(sig & 63), 6);
            w.write_bits(x >> trailing, sig);
            self.leading = leading;
            self.trailing = trailing;
        }
    }

    fn read_first(&mut self, r: &mut BitReader<'_>) -> Result<u64, ChunkError> {
        self.prev = if r.read_bit()? {
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
        Ok(self.prev)
    }

    fn read(&mut self, r: &mut BitReader<'_>) -> Result<u64, ChunkError> {
        if !r.read_bit()? {
            return Ok(self.prev);
        }
        if r.read_bit()? {
            let leading = r.read_bits(5)? as u32;
            let mut sig = r.read_bits(6)? as u32;
            if sig == 0 {
                sig = 64;
            }
            if leading + sig > 64 {
                return Err(ChunkError("value window wider than 64 bits"));
            }
            self.leading = leading;
            self.trailing = 64 - leading - sig;
        } else if self.leading == u32::MAX {
            return Err(ChunkError("value reuses a window before one exists"));
        }
        let x = r.read_bits(64 - self.leading - self.trailing)?;
        self.prev ^= x << self.trailing;
        Ok(self.prev)
    }
}

/// Appends samples to a chunk in the open layout. Not limited to
/// [`SAMPLES_PER_CHUNK`]; that is the head's policy. Holds at most `u16::MAX`
/// samples.
pub struct Encoder {
    w: BitWriter,
    count: u16,
    t: i64,
    t_delta: i64,
    xor: Xor,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    pub fn new() -> Self {
        Self {
            w: BitWriter { bytes: vec![OPEN, 0, 0], free: 0 },
            count: 0,
            t: 0,
            t_delta: 0,
            xor: Xor::new(),
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
                self.xor.write_first(&mut self.w, bits);
            }
            1 => {
                let delta = t.wrapping_sub(self.t);
                self.w.write_uvarint(zigzag(delta));
                self.xor.write(&mut self.w, bits);
                self.t_delta = delta;
            }
            _ => {
                let delta = t.wrapping_sub(self.t);
                write_dod(&mut self.w, delta.wrapping_sub(self.t_delta));
                self.xor.write(&mut self.w, bits);
                self.t_delta = delta;
            }
        }
        self.t = t;
        self.count += 1;
        let [hi, lo] = self.count.to_be_bytes();
        self.w.bytes[1] = hi;
        self.w.bytes[2] = lo;
        true
    }

    pub fn num_samples(&self) -> usize {
        usize::from(self.count)
    }

    /// The encoded chunk so far, in the open layout (complete and decodable
    /// at every point).
    pub fn bytes(&self) -> &[u8] {
        &self.w.bytes
    }

    /// The complete chunk, packed.
    pub fn into_bytes(self) -> Vec<u8> {
        match decode(&self.w.bytes) {
            Ok(samples) => encode(&samples),
            Err(_) => self.w.bytes,
        }
    }
}

/// A chunk's bytes in the packed layout: a copy when they already are.
pub(crate) fn packed(bytes: &[u8]) -> Vec<u8> {
    if bytes.first() == Some(&PACKED) {
        return bytes.to_vec();
    }
    match decode(bytes) {
        Ok(samples) => encode(&samples),
        Err(_) => bytes.to_vec(),
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

/// Encodes samples into one packed chunk; samples past the first `u16::MAX`
/// are left out.
pub fn encode(samples: &[Sample]) -> Vec<u8> {
    let samples = &samples[..samples.len().min(usize::from(u16::MAX))];
    let mut w = BitWriter { bytes: Vec::with_capacity(32 + samples.len() * 2), free: 0 };
    w.bytes.push(PACKED);
    w.write_uvarint(samples.len() as u64);
    if samples.is_empty() {
        return w.bytes;
    }
    let ts: Vec<i64> = samples.iter().map(|s| s.t).collect();
    write_column(&mut w, &ts);

    let Some((d, ms)) = as_integers(samples) else {
        w.write_bit(false);
        write_xor(&mut w, samples, usize::MAX);
        return w.bytes;
    };
    let mut int = BitWriter { bytes: Vec::with_capacity(16 + ms.len()), free: 0 };
    int.write_bits(u64::from(d), 4);
    write_column(&mut int, &ms);
    // XOR unless the integers take fewer bits; the trial stops once it
    // cannot win.
    let mut xor = BitWriter { bytes: Vec::with_capacity(16 + samples.len() * 2), free: 0 };
    if write_xor(&mut xor, samples, int.bit_len()) {
        w.write_bit(false);
        w.append(&xor);
    } else {
        w.write_bit(true);
        w.append(&int);
    }
    w.bytes
}

/// Writes the values XOR-coded; stops and returns false once that takes
/// `limit` bits or more.
fn write_xor(w: &mut BitWriter, samples: &[Sample], limit: usize) -> bool {
    let start = w.bit_len();
    let mut state = Xor::new();
    for (i, s) in samples.iter().enumerate() {
        if i == 0 {
            state.write_first(w, s.v.to_bits());
        } else {
            state.write(w, s.v.to_bits());
        }
        if w.bit_len() - start >= limit {
            return false;
        }
    }
    true
}

/// Powers of ten for decimal scales, all exact in `f64`.
const POW10: [f64; 16] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
const MAX_SCALE: u32 = 15;
/// 2^53: integers up to this magnitude are exact in `f64`.
const EXACT_INTS: f64 = 9_007_199_254_740_992.0;

fn unscale(m: i64, d: u32) -> f64 {
    m as f64 / POW10[d as usize]
}

/// `m` with `m / 10^d` bit-identical to `v`, if there is one.
fn scaled(v: f64, d: u32) -> Option<i64> {
    let m = (v * POW10[d as usize]).round();
    if m.abs() <= EXACT_INTS {
        let m = m as i64;
        (unscale(m, d).to_bits() == v.to_bits()).then_some(m)
    } else {
        None
    }
}

/// The smallest decimal scale `d` and the integers `m` with `m / 10^d` giving
/// back every value's bits, if there are such.
fn as_integers(samples: &[Sample]) -> Option<(u32, Vec<i64>)> {
    let mut d = 0;
    let mut ms = Vec::with_capacity(samples.len());
    let mut i = 0;
    while let Some(s) = samples.get(i) {
        if let Some(m) = scaled(s.v, d) {
            ms.push(m);
            i += 1;
            continue;
        }
        // A larger scale, then every value again at that scale.
        let exact = s.v.abs() <= EXACT_INTS;
        if !exact {
            return None;
        }
        d = (d + 1..=MAX_SCALE).find(|&e| scaled(s.v, e).is_some())?;
        ms.clear();
        i = 0;
    }
    Some((d, ms))
}

/// How an integer column predicts each element (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Predictor {
    Delta = 0,
    DeltaOfDelta = 1,
    Line = 2,
}

/// How an integer column stores its zigzagged residuals (see the module
/// docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Code {
    Zero,
    Gamma(u32),
    Rice(u32),
    /// Gamma-coded lengths of zero runs with this parameter, each followed by
    /// the next residual minus one, gamma-coded with the second.
    Runs(u32, u32),
}

/// Ones before the escape of the Rice code.
const RICE_ESCAPE: u32 = 16;

/// An integer column's encoding: predictor, `B`, `C`, divisor and code.
#[derive(Clone, Copy, Debug)]
struct Plan {
    pred: Predictor,
    base: i64,
    offset: i64,
    gcd: u64,
    code: Code,
}

fn bit_len(z: u64) -> u32 {
    64 - z.leading_zeros()
}

fn rice_bits(z: u64, k: u32) -> u64 {
    let q = z >> k;
    if q < u64::from(RICE_ESCAPE) {
        q + 1 + u64::from(k)
    } else {
        u64::from(RICE_ESCAPE + 6 + bit_len(z) - 1)
    }
}

fn varint_bits(v: u64) -> u64 {
    8 * uvarint_len(v) as u64
}

/// Numbers counted by bit length.
struct Lengths([u64; 65]);

impl Lengths {
    fn of(zs: impl Iterator<Item = u64>) -> Self {
        let mut h = [0u64; 65];
        for z in zs {
            h[bit_len(z) as usize] += 1;
        }
        Self(h)
    }

    /// The cheapest gamma parameter and the bits it takes.
    fn best_gamma(&self) -> (u32, u64) {
        let h = &self.0;
        let (Some(lo), Some(hi)) = (h.iter().position(|&n| n > 0), h.iter().rposition(|&n| n > 0))
        else {
            return (0, 0);
        };
        // cost(k) = (1 + k) * #(b <= k) + sum over b > k of (2b - k).
        let mut le = h[..=lo].iter().sum::<u64>();
        let mut gt = h[lo + 1..].iter().sum::<u64>();
        let mut gt_2b: u64 =
            h.iter().enumerate().skip(lo + 1).map(|(b, &n)| n * 2 * b as u64).sum();
        let mut best = (0, u64::MAX);
        for (k, &n) in h.iter().enumerate().take(hi.min(63) + 1).skip(lo) {
            let k = k as u64;
            if k > lo as u64 {
                le += n;
                gt -= n;
                gt_2b -= n * 2 * k;
            }
            let cost = le * (1 + k) + gt_2b - k * gt;
            if cost < best.1 {
                best = (k as u32, cost);
            }
        }
        best
    }
}

fn write_gamma(w: &mut BitWriter, z: u64, k: u32) {
    let b = bit_len(z);
    if b <= k {
        w.write_bit(false);
        w.write_bits(z, k);
    } else {
        w.write_ones(b - k);
        w.write_bit(false);
        w.write_bits(z, b - 1);
    }
}

fn read_gamma(r: &mut BitReader<'_>, k: u32) -> Result<u64, ChunkError> {
    match r.read_ones(64 - k + 1)? {
        0 => r.read_bits(k),
        u if k + u > 64 => Err(ChunkError("residual wider than 64 bits")),
        u => Ok((1u64 << (k + u - 1)) | r.read_bits(k + u - 1)?),
    }
}

fn median(v: &mut [i64]) -> i64 {
    let mid = v.len() / 2;
    match v.get(mid) {
        Some(_) => *v.select_nth_unstable(mid).1,
        None => 0,
    }
}

/// The median of `i64`s held as their bits in `v` (reordered).
fn median_of_bits(v: &mut [u64]) -> i64 {
    let mid = v.len() / 2;
    match v.get(mid) {
        Some(_) => *v.select_nth_unstable_by_key(mid, |&x| x as i64).1 as i64,
        None => 0,
    }
}

/// The residuals of `xs` under a predictor (see the module docs).
fn residuals(xs: &[i64], pred: Predictor, base: i64, offset: i64, out: &mut Vec<i64>) {
    out.clear();
    let x0 = xs.first().copied().unwrap_or(0);
    match pred {
        Predictor::Delta => {
            out.extend(xs.windows(2).map(|p| p[1].wrapping_sub(p[0]).wrapping_sub(base)));
        }
        Predictor::DeltaOfDelta => {
            out.extend(
                xs.windows(3)
                    .map(|p| p[2].wrapping_sub(p[1]).wrapping_sub(p[1].wrapping_sub(p[0]))),
            );
        }
        Predictor::Line => out.extend(xs.iter().enumerate().skip(1).map(|(k, x)| {
            x.wrapping_sub(x0).wrapping_sub(offset).wrapping_sub((k as i64).wrapping_mul(base))
        })),
    }
}

/// Greatest common divisor (binary, no divisions); `gcd(0, b) == b`.
fn gcd(mut a: u64, mut b: u64) -> u64 {
    if a == 0 || b == 0 {
        return a | b;
    }
    let shift = (a | b).trailing_zeros();
    a >>= a.trailing_zeros();
    loop {
        b >>= b.trailing_zeros();
        if a > b {
            (a, b) = (b, a);
        }
        b -= a;
        if b == 0 {
            return a << shift;
        }
    }
}

/// The zigzagged residuals divided by their greatest common divisor, which
/// is returned: 0 when every residual is 0, 1 when it does not fit an `i64`.
fn divide(res: &[i64], zs: &mut Vec<u64>) -> u64 {
    let mut g = 0;
    for r in res {
        g = gcd(g, r.unsigned_abs());
        if g == 1 {
            break;
        }
    }
    zs.clear();
    if g > 1 && g <= i64::MAX as u64 {
        zs.extend(res.iter().map(|r| zigzag(r / g as i64)));
        g
    } else {
        zs.extend(res.iter().map(|&r| zigzag(r)));
        g.min(1)
    }
}

/// The cheapest code for zigzagged residuals whose cheapest gamma parameter
/// is `kg` at `bits` bits.
fn refine(zs: &[u64], kg: u32, mut bits: u64) -> Code {
    let mut code = Code::Gamma(kg);
    for k in kg.saturating_sub(1)..=(kg + 1).min(63) {
        let cost: u64 = zs.iter().map(|&z| rice_bits(z, k)).sum();
        if cost < bits {
            (code, bits) = (Code::Rice(k), cost);
        }
    }
    let zeros = zs.iter().filter(|&&z| z == 0).count();
    if zeros * 2 >= zs.len() {
        let mut runs = Lengths([0; 65]);
        let mut run = 0u64;
        for &z in zs {
            if z == 0 {
                run += 1;
            } else {
                runs.0[bit_len(run) as usize] += 1;
                run = 0;
            }
        }
        if run > 0 {
            runs.0[bit_len(run) as usize] += 1;
        }
        let (kr, run_bits) = runs.best_gamma();
        let (kv, value_bits) =
            Lengths::of(zs.iter().filter(|&&z| z != 0).map(|z| z - 1)).best_gamma();
        if 6 + run_bits + value_bits < bits {
            code = Code::Runs(kr, kv);
        }
    }
    code
}

/// The bits a code's fields take before the residuals.
fn code_fields(code: Code, gcd: u64) -> u64 {
    match code {
        Code::Zero => 2,
        _ => 2 + 6 + 1 + if gcd > 1 { varint_bits(gcd) } else { 0 },
    }
}

/// The cheapest plan for an integer column of two or more elements, with
/// its zigzagged (divided) residuals.
fn plan(xs: &[i64]) -> (Plan, Vec<u64>) {
    let mut res: Vec<i64> = xs.windows(2).map(|p| p[1].wrapping_sub(p[0])).collect();
    let first_delta = res.first().copied().unwrap_or(0);
    let base = median(&mut res);
    let mut zs = Vec::with_capacity(xs.len());
    let mut best_zs = Vec::with_capacity(xs.len());
    let mut best =
        (u64::MAX, Plan { pred: Predictor::Delta, base, offset: 0, gcd: 1, code: Code::Zero });
    // The predictor whose residuals take the fewest bits gamma-coded, then
    // the cheapest code for those.
    for pred in [Predictor::Delta, Predictor::DeltaOfDelta, Predictor::Line] {
        let b = if pred == Predictor::DeltaOfDelta { first_delta } else { base };
        residuals(xs, pred, b, 0, &mut res);
        let mut offset = 0;
        let mut header = 2 + varint_bits(zigzag(b));
        if pred == Predictor::Line {
            zs.clear();
            zs.extend(res.iter().map(|&r| r as u64));
            offset = median_of_bits(&mut zs);
            for r in &mut res {
                *r = r.wrapping_sub(offset);
            }
            header += varint_bits(zigzag(offset));
        }
        if res.is_empty() {
            return (Plan { pred, base: b, offset, gcd: 1, code: Code::Zero }, Vec::new());
        }
        // Ranked by the bits of gamma with parameter 0; the parameter and
        // code are chosen for the winner only.
        let (g, code, bits) = match divide(&res, &mut zs) {
            0 => (1, Code::Zero, 0),
            g => (g, Code::Gamma(0), zs.iter().map(|&z| u64::from((2 * bit_len(z)).max(1))).sum()),
        };
        let total = header + code_fields(code, g) + bits;
        if total < best.0 {
            best = (total, Plan { pred, base: b, offset, gcd: g, code });
            std::mem::swap(&mut zs, &mut best_zs);
        }
        if code == Code::Zero {
            // Another predictor could save at most a byte of header.
            break;
        }
    }
    let (_, mut p) = best;
    if p.code != Code::Zero {
        let (k, bits) = Lengths::of(best_zs.iter().copied()).best_gamma();
        p.code = refine(&best_zs, k, bits);
    }
    (p, best_zs)
}

/// Writes an integer column (at least one element) in its cheapest plan.
fn write_column(w: &mut BitWriter, xs: &[i64]) {
    match xs {
        [] => {}
        [x0] => w.write_uvarint(zigzag(*x0)),
        _ => {
            let (p, zs) = plan(xs);
            write_planned(w, xs, &p, &zs);
        }
    }
}

/// Writes an integer column of two or more elements under a plan, given its
/// zigzagged (divided) residuals.
fn write_planned(w: &mut BitWriter, xs: &[i64], p: &Plan, zs: &[u64]) {
    let Some(&x0) = xs.first() else { return };
    w.write_uvarint(zigzag(x0));
    w.write_bits(p.pred as u64, 2);
    w.write_uvarint(zigzag(p.base));
    if p.pred == Predictor::Line {
        w.write_uvarint(zigzag(p.offset));
    }
    if zs.is_empty() {
        return;
    }
    let (kind, k) = match p.code {
        Code::Zero => {
            w.write_bits(0, 2);
            return;
        }
        Code::Gamma(k) => (1, k),
        Code::Rice(k) => (2, k),
        Code::Runs(k, _) => (3, k),
    };
    w.write_bits(kind, 2);
    w.write_bits(u64::from(k), 6);
    if let Code::Runs(_, kv) = p.code {
        w.write_bits(u64::from(kv), 6);
    }
    w.write_bit(p.gcd > 1);
    if p.gcd > 1 {
        w.write_uvarint(p.gcd);
    }
    let mut run = 0;
    for &z in zs {
        match p.code {
            Code::Rice(k) if z >> k < u64::from(RICE_ESCAPE) => {
                w.write_ones((z >> k) as u32);
                w.write_bit(false);
                w.write_bits(z, k);
            }
            Code::Rice(_) => {
                let b = bit_len(z);
                w.write_ones(RICE_ESCAPE);
                w.write_bits(u64::from(b - 1), 6);
                w.write_bits(z, b - 1);
            }
            Code::Runs(..) if z == 0 => run += 1,
            Code::Runs(kr, kv) => {
                write_gamma(w, run, kr);
                write_gamma(w, z - 1, kv);
                run = 0;
            }
            _ => write_gamma(w, z, k),
        }
    }
    if let Code::Runs(kr, _) = p.code
        && run > 0
    {
        write_gamma(w, run, kr);
    }
}

/// Reads `m` zigzagged residuals.
fn read_residuals(
    r: &mut BitReader<'_>,
    m: usize,
    code: Code,
    out: &mut Vec<u64>,
) -> Result<(), ChunkError> {
    while out.len() < m {
        match code {
            Code::Zero => out.push(0),
            Code::Gamma(k) => out.push(read_gamma(r, k)?),
            Code::Rice(k) => out.push(match r.read_ones(RICE_ESCAPE)? {
                RICE_ESCAPE => {
                    let b = r.read_bits(6)? as u32;
                    (1u64 << b) | r.read_bits(b)?
                }
                q => (u64::from(q) << k) | r.read_bits(k)?,
            }),
            Code::Runs(kr, kv) => {
                let run = read_gamma(r, kr)?;
                if run > (m - out.len()) as u64 {
                    return Err(ChunkError("zero run past the end of the column"));
                }
                out.resize(out.len() + run as usize, 0);
                if out.len() < m {
                    out.push(read_gamma(r, kv)?.wrapping_add(1));
                }
            }
        }
    }
    Ok(())
}

/// Reads an integer column of `n >= 1` elements into `out`.
fn read_column(r: &mut BitReader<'_>, n: usize, out: &mut Vec<i64>) -> Result<(), ChunkError> {
    let x0 = unzigzag(r.read_uvarint()?);
    out.push(x0);
    if n < 2 {
        return Ok(());
    }
    let pred = match r.read_bits(2)? {
        0 => Predictor::Delta,
        1 => Predictor::DeltaOfDelta,
        2 => Predictor::Line,
        _ => return Err(ChunkError("unknown predictor")),
    };
    let base = unzigzag(r.read_uvarint()?);
    let offset = if pred == Predictor::Line { unzigzag(r.read_uvarint()?) } else { 0 };
    let m = if pred == Predictor::DeltaOfDelta { n - 2 } else { n - 1 };
    let mut zs = Vec::with_capacity(m);
    let mut g = 1i64;
    if m > 0 {
        let kind = r.read_bits(2)?;
        let code = if kind == 0 {
            Code::Zero
        } else {
            let k = r.read_bits(6)? as u32;
            let code = match kind {
                1 => Code::Gamma(k),
                2 => Code::Rice(k),
                _ => Code::Runs(k, r.read_bits(6)? as u32),
            };
            if r.read_bit()? {
                g = r.read_uvarint()? as i64;
            }
            code
        };
        read_residuals(r, m, code, &mut zs)?;
    }
    let mut res = zs.iter().map(|&z| unzigzag(z).wrapping_mul(g));
    let mut prev = x0;
    let mut delta = base;
    for k in 1..n {
        let x = match pred {
            Predictor::Delta => prev.wrapping_add(base).wrapping_add(res.next().unwrap_or(0)),
            Predictor::DeltaOfDelta => {
                if k >= 2 {
                    delta = delta.wrapping_add(res.next().unwrap_or(0));
                }
                prev.wrapping_add(delta)
            }
            Predictor::Line => x0
                .wrapping_add(offset)
                .wrapping_add((k as i64).wrapping_mul(base))
                .wrapping_add(res.next().unwrap_or(0)),
        };
        out.push(x);
        prev = x;
    }
    Ok(())
}

/// The layout, sample count and bit stream of a chunk.
fn header(bytes: &[u8]) -> Result<(u8, usize, &[u8]), ChunkError> {
    let short = ChunkError("shorter than its header");
    match bytes {
        [OPEN, hi, lo, rest @ ..] => Ok((OPEN, usize::from(u16::from_be_bytes([*hi, *lo])), rest)),
        [PACKED, rest @ ..] => {
            let mut r = BitReader { bytes: rest, pos: 0 };
            let n = r.read_uvarint().map_err(|_| short)?;
            let n = u16::try_from(n).map_err(|_| ChunkError("more than u16::MAX samples"))?;
            Ok((PACKED, usize::from(n), &rest[r.pos / 8..]))
        }
        [first, ..] if *first >= OPEN => Err(ChunkError("unknown layout")),
        [hi, lo, rest @ ..] => Ok((OPEN, usize::from(u16::from_be_bytes([*hi, *lo])), rest)),
        _ => Err(short),
    }
}

/// The sample count recorded in a chunk's header.
pub fn num_samples(bytes: &[u8]) -> Result<usize, ChunkError> {
    header(bytes).map(|(_, n, _)| n)
}

/// Decodes every sample of a chunk.
pub fn decode(bytes: &[u8]) -> Result<Vec<Sample>, ChunkError> {
    let (layout, n, stream) = header(bytes)?;
    let mut r = BitReader { bytes: stream, pos: 0 };
    if layout == PACKED { decode_packed(&mut r, n) } else { decode_open(&mut r, n) }
}

fn decode_open(r: &mut BitReader<'_>, n: usize) -> Result<Vec<Sample>, ChunkError> {
    let mut out = Vec::with_capacity(n);
    let (mut t, mut t_delta) = (0i64, 0i64);
    let mut xor = Xor::new();
    for i in 0..n {
        let v = match i {
            0 => {
                t = unzigzag(r.read_uvarint()?);
                xor.read_first(r)?
            }
            _ => {
                if i == 1 {
                    t_delta = unzigzag(r.read_uvarint()?);
                } else {
                    t_delta = t_delta.wrapping_add(read_dod(r)?);
                }
                t = t.wrapping_add(t_delta);
                xor.read(r)?
            }
        };
        out.push(Sample { t, v: f64::from_bits(v) });
    }
    Ok(out)
}

fn decode_packed(r: &mut BitReader<'_>, n: usize) -> Result<Vec<Sample>, ChunkError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut ts = Vec::with_capacity(n);
    read_column(r, n, &mut ts)?;
    let mut out = Vec::with_capacity(n);
    if r.read_bit()? {
        let d = r.read_bits(4)? as u32;
        let mut ms = Vec::with_capacity(n);
        read_column(r, n, &mut ms)?;
        out.extend(ts.iter().zip(&ms).map(|(&t, &m)| Sample { t, v: unscale(m, d) }));
    } else {
        let mut xor = Xor::new();
        for (i, &t) in ts.iter().enumerate() {
            let v = if i == 0 { xor.read_first(r)? } else { xor.read(r)? };
            out.push(Sample { t, v: f64::from_bits(v) });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(samples: &[Sample]) -> Vec<(i64, u64)> {
        samples.iter().map(|s| (s.t, s.v.to_bits())).collect()
    }

    fn round_trip(samples: &[Sample]) -> Vec<u8> {
        let bytes = encode(samples);
        assert_eq!(bits(&decode(&bytes).unwrap()), bits(samples));
        let mut e = Encoder::new();
        for s in samples {
            e.append(s.t, s.v);
        }
        assert_eq!(bits(&decode(e.bytes()).unwrap()), bits(samples));
        assert_eq!(e.into_bytes(), bytes);
        bytes
    }

    fn regular(values: &[f64]) -> Vec<Sample> {
        values.iter().enumerate().map(|(i, v)| Sample { t: i as i64 * 15_000, v: *v }).collect()
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
        round_trip(&regular(&vals));
        // One special value among integers sends the chunk to XOR.
        for special in &vals[..8] {
            let mut v: Vec<f64> = (0..50).map(f64::from).collect();
            v[25] = *special;
            round_trip(&regular(&v));
        }
    }

    #[test]
    fn extreme_timestamps_round_trip() {
        let ts = [i64::MIN, i64::MAX, 0, -1, i64::MIN + 1, 1_700_000_000_000, 1_700_000_000_063];
        let samples: Vec<Sample> = ts.iter().map(|t| Sample { t: *t, v: 1.5 }).collect();
        round_trip(&samples);
        let samples: Vec<Sample> =
            ts.iter().rev().map(|t| Sample { t: *t, v: *t as f64 }).collect();
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
        assert_eq!(decode(Encoder::new().bytes()).unwrap(), vec![]);
        for v in [2.0, 0.0, -0.0, 1.0, 0.25, f64::from_bits(1), f64::from_bits(u64::MAX)] {
            round_trip(&[Sample { t: 5, v }]);
            round_trip(&[Sample { t: 5, v }, Sample { t: 6, v }]);
            round_trip(&[Sample { t: 5, v }, Sample { t: 6, v }, Sample { t: 9, v }]);
        }
        assert!(decode(&[0]).is_err());
        assert!(decode(&[0, 3, 1]).is_err());
        assert!(decode(&[OPEN, 0]).is_err());
        assert!(decode(&[PACKED]).is_err());
        assert!(decode(&[PACKED, 1]).is_err());
        assert!(decode(&[0x82, 0, 0]).is_err());
        assert!(decode(&[PACKED, 0xff, 0xff, 0x04]).is_err());
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
        assert_eq!(num_samples(e.bytes()).unwrap(), 200);
        let packed = e.into_bytes();
        assert_eq!(packed[0], PACKED);
        assert_eq!(num_samples(&packed).unwrap(), 200);
        assert_eq!(decode(&packed).unwrap(), want);
    }

    #[test]
    fn chunks_without_the_open_byte_still_decode() {
        let samples = regular(&[1.0, 2.5, f64::NAN, -0.0, 7.0]);
        let mut e = Encoder::new();
        for s in &samples {
            e.append(s.t, s.v);
        }
        let first_layout = &e.bytes()[1..];
        assert_eq!(num_samples(first_layout).unwrap(), 5);
        assert_eq!(bits(&decode(first_layout).unwrap()), bits(&samples));
        assert_eq!(packed(first_layout), encode(&samples));
    }

    #[test]
    fn integers_and_short_decimals_take_few_bits() {
        // A counter with a steady rate: a few bytes for the whole chunk.
        let steady: Vec<f64> = (0..120).map(|k| f64::from(k * 7)).collect();
        assert!(round_trip(&regular(&steady)).len() < 16);
        // Cents: scaled by 100 and stored as small integers.
        let mut cents = 12_345i64;
        let prices: Vec<f64> = (0..120)
            .map(|k| {
                cents += (k * 37 % 41) - 20;
                cents as f64 / 100.0
            })
            .collect();
        let bytes = round_trip(&regular(&prices));
        assert!(bytes.len() < 120, "{} bytes", bytes.len());
        // The scale grows mid-chunk: 0.5, then 0.25, then 0.001.
        round_trip(&regular(&[3.0, 0.5, 1.0, 0.25, 2.0, 0.001, 4.0, 1e-15, 5e-16]));
        // Integers at the edge of exactness, and past it.
        let big = EXACT_INTS;
        round_trip(&regular(&[big, -big, big - 1.0, 0.0, 1.0, -big]));
        round_trip(&regular(&[big, big * 2.0, 1.0]));
        // Page-sized steps: the residuals' common divisor is factored out.
        let pages: Vec<f64> = (0..120).map(|k| ((k * k % 61) * 4096) as f64).collect();
        round_trip(&regular(&pages));
    }

    #[test]
    fn residual_codes_round_trip_at_their_edges() {
        let mut zs = Vec::new();
        for k in 0..64u32 {
            for z in [0, 1, (1 << k) - 1, 1 << k, (1 << k) + 1, u64::MAX >> 1, u64::MAX] {
                zs.push(z);
            }
        }
        zs.extend([0, 0, 7, 0, 0, 0]);
        for code in [
            Code::Gamma(0),
            Code::Gamma(5),
            Code::Gamma(63),
            Code::Rice(0),
            Code::Rice(63),
            Code::Runs(0, 0),
            Code::Runs(63, 63),
        ] {
            let res: Vec<i64> = zs.iter().map(|&z| unzigzag(z)).collect();
            let mut xs = vec![0i64];
            for r in &res {
                let last = *xs.last().unwrap();
                xs.push(last.wrapping_add(*r));
            }
            let p = Plan { pred: Predictor::Delta, base: 0, offset: 0, gcd: 1, code };
            let mut w = BitWriter::default();
            write_planned(&mut w, &xs, &p, &zs);
            let mut r = BitReader { bytes: &w.bytes, pos: 0 };
            let mut out = Vec::new();
            read_column(&mut r, xs.len(), &mut out).unwrap();
            assert_eq!(out, xs, "{code:?}");
        }
    }

    #[test]
    fn regular_timestamps_cost_no_bits_per_sample() {
        let short = encode(&regular(&[1.0; 10]));
        let long = encode(&regular(&[1.0; 120]));
        assert_eq!(short.len(), long.len());
    }
}
