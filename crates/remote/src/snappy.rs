//! Snappy block compression (the raw block format, not the framing format).
//!
//! A block is the uncompressed length as a little-endian base-128 varint,
//! then a sequence of elements. The low two bits of each element's tag byte
//! say what it is:
//!
//! - `00` literal: the upper six bits hold `len - 1` when below 60; 60..=63
//!   mean `len - 1` follows in 1..=4 little-endian bytes. The bytes follow.
//! - `01` copy, 1-byte offset: length 4..=11 in bits 2..=4 (`len - 4`), the
//!   offset's high three bits in bits 5..=7 and its low eight in the next byte.
//! - `10` copy, 2-byte offset: `len - 1` (1..=64) in the upper six bits, then
//!   a little-endian 16-bit offset.
//! - `11` copy, 4-byte offset: as `10` with a 32-bit offset.
//!
//! A copy repeats `len` bytes starting `offset` bytes back in the output; the
//! ranges may overlap, in which case the copied bytes repeat with period
//! `offset`.
//!
//! [`compress`] is a greedy LZ77 matcher over a hash table of four-byte
//! sequences. [`decompress`] checks every length and offset and refuses
//! declared sizes above a limit before allocating.

use std::fmt;

/// The largest decompressed size [`decompress`] accepts: 256 MiB.
pub const MAX_DECOMPRESSED_LEN: usize = 256 << 20;

/// Why a Snappy block could not be decompressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnappyError {
    /// The length header is missing, truncated, or wider than 32 bits.
    BadHeader,
    /// The declared length is above the limit.
    TooLarge { declared: u64, limit: usize },
    /// The declared length is more than the elements could possibly produce.
    ImpossibleLength { declared: u64, input: usize },
    /// An element's tag, length bytes, offset or literal run past the input.
    Truncated { at: usize },
    /// A copy with offset zero.
    ZeroOffset { at: usize },
    /// A copy reaching back before the start of the output.
    OffsetTooFar { at: usize, offset: usize, produced: usize },
    /// An element would produce more bytes than declared.
    Overrun { at: usize, declared: usize },
    /// The elements produced fewer bytes than declared.
    Underrun { declared: usize, produced: usize },
}

impl fmt::Display for SnappyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadHeader => f.write_str("missing or malformed length header"),
            Self::TooLarge { declared, limit } => {
                write!(f, "declared length {declared} exceeds the limit of {limit} bytes")
            }
            Self::ImpossibleLength { declared, input } => {
                write!(f, "declared length {declared} cannot come from {input} bytes of input")
            }
            Self::Truncated { at } => write!(f, "element at byte {at} is truncated"),
            Self::ZeroOffset { at } => write!(f, "copy at byte {at} has offset 0"),
            Self::OffsetTooFar { at, offset, produced } => write!(
                f,
                "copy at byte {at} reaches {offset} bytes back with only {produced} produced"
            ),
            Self::Overrun { at, declared } => {
                write!(f, "element at byte {at} runs past the declared length {declared}")
            }
            Self::Underrun { declared, produced } => {
                write!(f, "produced {produced} bytes of the declared {declared}")
            }
        }
    }
}

impl std::error::Error for SnappyError {}

// ---- compression ----

/// The shortest match worth a copy element.
const MIN_MATCH: usize = 4;
/// The hash table never has more than 2^14 slots.
const MAX_TABLE_BITS: u32 = 14;
/// Misses before the scan starts to skip ahead faster, as a shift.
const SKIP_SHIFT: u32 = 5;

fn load_u32(buf: &[u8], i: usize) -> Option<u32> {
    let bytes = buf.get(i..i + 4)?;
    Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn hash(v: u32, shift: u32) -> usize {
    // Multiplicative hashing by the 32-bit golden-ratio constant; the top
    // bits are the best mixed.
    (v.wrapping_mul(0x9e37_79b1) >> shift) as usize
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn emit_literal(out: &mut Vec<u8>, lit: &[u8]) {
    // One element holds at most 2^32 bytes.
    for chunk in lit.chunks(u32::MAX as usize) {
        let n = chunk.len() - 1;
        if n < 60 {
            out.push((n as u8) << 2);
        } else {
            let width = (usize::BITS - n.leading_zeros()).div_ceil(8) as usize;
            out.push((59 + width as u8) << 2);
            out.extend_from_slice(&(n as u64).to_le_bytes()[..width]);
        }
        out.extend_from_slice(chunk);
    }
}

/// One copy element of 1..=64 bytes (4..=64 when a 1-byte offset may be used).
fn emit_one_copy(out: &mut Vec<u8>, offset: usize, len: usize) {
    if (4..=11).contains(&len) && offset < 2048 {
        out.push((((offset >> 8) as u8) << 5) | (((len - 4) as u8) << 2) | 0b01);
        out.push(offset as u8);
    } else if offset <= 0xffff {
        out.push((((len - 1) as u8) << 2) | 0b10);
        out.extend_from_slice(&(offset as u16).to_le_bytes());
    } else {
        out.push((((len - 1) as u8) << 2) | 0b11);
        out.extend_from_slice(&(offset as u32).to_le_bytes());
    }
}

/// Copy elements for a match of at least [`MIN_MATCH`] bytes, split so that no
/// piece is shorter than four bytes.
fn emit_copy(out: &mut Vec<u8>, offset: usize, mut len: usize) {
    while len >= 68 {
        emit_one_copy(out, offset, 64);
        len -= 64;
    }
    if len > 64 {
        emit_one_copy(out, offset, 60);
        len -= 60;
    }
    emit_one_copy(out, offset, len);
}

/// Compresses `input` into one Snappy block.
///
/// The format's length header is 32 bits wide; inputs of 4 GiB or more give
/// a block other decoders refuse.
pub fn compress(input: &[u8]) -> Vec<u8> {
    let n = input.len();
    let mut out = Vec::with_capacity(16 + n + n / 6);
    put_varint(&mut out, n as u64);
    if n < MIN_MATCH + 1 {
        if n > 0 {
            emit_literal(&mut out, input);
        }
        return out;
    }

    // Size the table to the input so short bodies do not pay for 16K slots.
    let bits = (usize::BITS - n.leading_zeros()).clamp(8, MAX_TABLE_BITS);
    let shift = 32 - bits;
    let mut table = vec![0usize; 1 << bits];

    let mut lit_start = 0;
    let mut i = 0;
    let mut misses: usize = 1 << SKIP_SHIFT;
    while let Some(cur) = load_u32(input, i) {
        let h = hash(cur, shift);
        let candidate = table[h];
        table[h] = i;
        let offset = i - candidate.min(i);
        if offset > 0 && offset <= u32::MAX as usize && load_u32(input, candidate) == Some(cur) {
            let mut len = MIN_MATCH;
            while input.get(i + len).is_some_and(|&b| b == input[candidate + len]) {
                len += 1;
            }
            emit_literal(&mut out, &input[lit_start..i]);
            emit_copy(&mut out, offset, len);
            i += len;
            lit_start = i;
            // Remember the sequence just before the resume point, so a run
            // that continues is found again at once.
            if let Some(prev) = load_u32(input, i - 1) {
                table[hash(prev, shift)] = i - 1;
            }
            misses = 1 << SKIP_SHIFT;
        } else {
            // Scan faster through data that keeps failing to match.
            i += misses >> SKIP_SHIFT;
            misses += 1;
        }
    }
    if lit_start < n {
        emit_literal(&mut out, &input[lit_start..]);
    }
    out
}

// ---- decompression ----

/// The most output one input byte can yield: a three-byte copy of 64 bytes.
fn max_output(input_len: usize) -> u64 {
    (input_len as u64).saturating_mul(64) / 3
}

/// The declared uncompressed length and where the elements start.
fn read_header(input: &[u8]) -> Result<(u64, usize), SnappyError> {
    let mut v: u64 = 0;
    for (i, &b) in input.iter().take(5).enumerate() {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return if v > u64::from(u32::MAX) {
                Err(SnappyError::BadHeader)
            } else {
                Ok((v, i + 1))
            };
        }
    }
    Err(SnappyError::BadHeader)
}

/// The uncompressed length a block declares, without decompressing it.
pub fn decompressed_len(input: &[u8]) -> Result<u64, SnappyError> {
    read_header(input).map(|(n, _)| n)
}

/// Decompresses one Snappy block of at most [`MAX_DECOMPRESSED_LEN`] bytes.
pub fn decompress(input: &[u8]) -> Result<Vec<u8>, SnappyError> {
    decompress_with_limit(input, MAX_DECOMPRESSED_LEN)
}

/// Decompresses one Snappy block, refusing a declared length above `limit`.
pub fn decompress_with_limit(input: &[u8], limit: usize) -> Result<Vec<u8>, SnappyError> {
    let (declared_raw, mut pos) = read_header(input)?;
    let declared = usize::try_from(declared_raw)
        .ok()
        .filter(|&d| d <= limit)
        .ok_or(SnappyError::TooLarge { declared: declared_raw, limit })?;
    let body = input.len() - pos;
    if declared_raw > max_output(body) {
        return Err(SnappyError::ImpossibleLength { declared: declared_raw, input: body });
    }

    let mut out: Vec<u8> = Vec::with_capacity(declared);
    while let Some(&tag) = input.get(pos) {
        let at = pos;
        let truncated = SnappyError::Truncated { at };
        // Reads `k` little-endian bytes after the tag.
        let le = |k: usize| -> Result<usize, SnappyError> {
            let bytes = input.get(at + 1..at + 1 + k).ok_or(truncated.clone())?;
            Ok(bytes.iter().rev().fold(0usize, |acc, &b| (acc << 8) | usize::from(b)))
        };
        let upper = usize::from(tag >> 2);
        let (len, offset, next) = match tag & 0b11 {
            0b00 => {
                let (len, start) = if upper < 60 {
                    (upper + 1, at + 1)
                } else {
                    let width = upper - 59;
                    (le(width)?.saturating_add(1), at + 1 + width)
                };
                let end = start.checked_add(len).ok_or(truncated.clone())?;
                let lit = input.get(start..end).ok_or(truncated)?;
                if len > declared - out.len() {
                    return Err(SnappyError::Overrun { at, declared });
                }
                out.extend_from_slice(lit);
                pos = end;
                continue;
            }
            0b01 => (4 + (upper & 0b111), ((upper >> 3) << 8) | le(1)?, at + 2),
            0b10 => (upper + 1, le(2)?, at + 3),
            _ => (upper + 1, le(4)?, at + 5),
        };
        if offset == 0 {
            return Err(SnappyError::ZeroOffset { at });
        }
        if offset > out.len() {
            return Err(SnappyError::OffsetTooFar { at, offset, produced: out.len() });
        }
        if len > declared - out.len() {
            return Err(SnappyError::Overrun { at, declared });
        }
        // The source from `start` is periodic with period `offset`, so it can
        // be appended in ever longer pieces until `len` bytes are written.
        let start = out.len() - offset;
        let mut left = len;
        while left > 0 {
            let piece = left.min(out.len() - start);
            out.extend_from_within(start..start + piece);
            left -= piece;
        }
        pos = next;
    }
    if out.len() != declared {
        return Err(SnappyError::Underrun { declared, produced: out.len() });
    }
    Ok(out)
}
