//! Protobuf wire primitives: varints, field keys, length-delimited slices,
//! skipping of unknown fields, the decode error type, and the writers the
//! encoder uses.

use std::fmt;

/// The largest field number protobuf allows.
const MAX_FIELD_NUMBER: u64 = (1 << 29) - 1;
/// How deeply groups inside an unknown field may nest before the input is
/// refused.
const MAX_GROUP_DEPTH: usize = 100;

/// The wire type in the low three bits of a field key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WireType {
    /// 0: a base-128 varint.
    Varint,
    /// 1: eight little-endian bytes.
    I64,
    /// 2: a varint length and that many bytes.
    Len,
    /// 3: the start of a (deprecated) group.
    StartGroup,
    /// 4: the end of a group.
    EndGroup,
    /// 5: four little-endian bytes.
    I32,
}

impl WireType {
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0 => Self::Varint,
            1 => Self::I64,
            2 => Self::Len,
            3 => Self::StartGroup,
            4 => Self::EndGroup,
            5 => Self::I32,
            _ => return None,
        })
    }

    pub(crate) fn bits(self) -> u64 {
        match self {
            Self::Varint => 0,
            Self::I64 => 1,
            Self::Len => 2,
            Self::StartGroup => 3,
            Self::EndGroup => 4,
            Self::I32 => 5,
        }
    }
}

impl fmt::Display for WireType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Varint => "varint",
            Self::I64 => "fixed64",
            Self::Len => "length-delimited",
            Self::StartGroup => "start-group",
            Self::EndGroup => "end-group",
            Self::I32 => "fixed32",
        })
    }
}

/// What was wrong with the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input ended inside a varint.
    TruncatedVarint,
    /// A varint ran past ten bytes or past 64 bits.
    VarintOverflow,
    /// A length prefix or fixed-width value reaches past the end of its
    /// enclosing message.
    Truncated { needed: u64, remaining: usize },
    /// A string field is not valid UTF-8.
    InvalidUtf8,
    /// A known field arrived with a different wire type than its declaration.
    WireTypeMismatch { expected: WireType, found: WireType },
    /// Wire types 6 and 7 do not exist.
    InvalidWireType(u8),
    /// Field number 0, or one above 2^29 - 1.
    InvalidFieldNumber(u64),
    /// An end-group key with no open group, or closing a different group.
    UnexpectedEndGroup(u32),
    /// A group is still open at the end of its enclosing message.
    UnterminatedGroup(u32),
    /// Groups nest deeper than this decoder accepts.
    GroupsTooDeep,
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TruncatedVarint => f.write_str("truncated varint"),
            Self::VarintOverflow => f.write_str("varint longer than 64 bits"),
            Self::Truncated { needed, remaining } => {
                write!(f, "needs {needed} bytes but only {remaining} remain")
            }
            Self::InvalidUtf8 => f.write_str("string is not valid UTF-8"),
            Self::WireTypeMismatch { expected, found } => {
                write!(f, "wire type {found}, expected {expected}")
            }
            Self::InvalidWireType(t) => write!(f, "invalid wire type {t}"),
            Self::InvalidFieldNumber(n) => write!(f, "invalid field number {n}"),
            Self::UnexpectedEndGroup(n) => write!(f, "unexpected end of group {n}"),
            Self::UnterminatedGroup(n) => write!(f, "group {n} is never closed"),
            Self::GroupsTooDeep => {
                write!(f, "groups nested deeper than {MAX_GROUP_DEPTH}")
            }
        }
    }
}

/// A malformed `WriteRequest`: what was wrong, where in the message tree, and
/// at which byte of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub kind: DecodeErrorKind,
    /// The field path from the `WriteRequest` down, such as
    /// `timeseries[2].labels[0].value`; repeated fields carry their index in
    /// wire order and unknown fields show as `#<number>`. Empty when the fault
    /// is in the `WriteRequest`'s own keys.
    pub path: String,
    /// Byte offset in the input where the fault was found.
    pub offset: usize,
}

impl DecodeError {
    pub(crate) fn new(kind: DecodeErrorKind, offset: usize) -> Self {
        Self { kind, path: String::new(), offset }
    }

    /// Prefixes the path with the segment of the enclosing field.
    pub(crate) fn within(mut self, segment: impl fmt::Display) -> Self {
        self.path = if self.path.is_empty() {
            segment.to_string()
        } else {
            format!("{segment}.{}", self.path)
        };
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "WriteRequest" } else { &self.path };
        write!(f, "{} at {path} (byte {})", self.kind, self.offset)
    }
}

impl std::error::Error for DecodeError {}

pub(crate) type Result<T> = std::result::Result<T, DecodeError>;

/// A cursor over one message: `buf[pos..end]`, with offsets kept absolute so
/// errors point into the whole input.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0, end: buf.len() }
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    fn fault(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(kind, self.pos)
    }

    pub(crate) fn varint(&mut self) -> Result<u64> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos).filter(|_| self.pos < self.end) else {
                return Err(DecodeError::new(DecodeErrorKind::TruncatedVarint, start));
            };
            self.pos += 1;
            // The tenth byte holds only bit 63.
            if i == 9 && b > 1 {
                return Err(DecodeError::new(DecodeErrorKind::VarintOverflow, start));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(DecodeError::new(DecodeErrorKind::VarintOverflow, start))
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        let remaining = self.remaining();
        let Some(n) = usize::try_from(n).ok().filter(|&n| n <= remaining) else {
            return Err(self.fault(DecodeErrorKind::Truncated { needed: n, remaining }));
        };
        let start = self.pos;
        self.pos += n;
        self.buf.get(start..self.pos).ok_or_else(|| {
            DecodeError::new(DecodeErrorKind::Truncated { needed: n as u64, remaining }, start)
        })
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Reads a field key. At the key's offset on failure.
    pub(crate) fn key(&mut self) -> Result<(u32, WireType)> {
        let start = self.pos;
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 || number > MAX_FIELD_NUMBER {
            return Err(DecodeError::new(DecodeErrorKind::InvalidFieldNumber(number), start));
        }
        // Both conversions hold: three bits, and a number below 2^29.
        let bits = (key & 7) as u8;
        let Some(wire) = WireType::from_bits(bits) else {
            return Err(DecodeError::new(DecodeErrorKind::InvalidWireType(bits), start));
        };
        Ok((number as u32, wire))
    }

    fn expect(&self, found: WireType, expected: WireType) -> Result<()> {
        if found == expected {
            Ok(())
        } else {
            Err(self.fault(DecodeErrorKind::WireTypeMismatch { expected, found }))
        }
    }

    /// A length-delimited field's bytes; the length is checked against what
    /// remains before anything is touched.
    pub(crate) fn bytes(&mut self, wire: WireType) -> Result<&'a [u8]> {
        self.expect(wire, WireType::Len)?;
        let n = self.varint()?;
        self.take(n)
    }

    /// An embedded message: a reader over just its bytes.
    pub(crate) fn message(&mut self, wire: WireType) -> Result<Reader<'a>> {
        self.expect(wire, WireType::Len)?;
        let n = self.varint()?;
        let start = self.pos;
        self.take(n)?;
        Ok(Reader { buf: self.buf, pos: start, end: self.pos })
    }

    pub(crate) fn string(&mut self, wire: WireType) -> Result<String> {
        let start = self.pos;
        let bytes = self.bytes(wire)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(DecodeError::new(DecodeErrorKind::InvalidUtf8, start)),
        }
    }

    pub(crate) fn uint64(&mut self, wire: WireType) -> Result<u64> {
        self.expect(wire, WireType::Varint)?;
        self.varint()
    }

    pub(crate) fn double(&mut self, wire: WireType) -> Result<f64> {
        self.expect(wire, WireType::I64)?;
        Ok(f64::from_le_bytes(self.fixed::<8>()?))
    }

    /// Skips the value of a field this decoder does not model, whatever its
    /// wire type; a group is skipped up to its matching end.
    pub(crate) fn skip(&mut self, number: u32, wire: WireType) -> Result<()> {
        match wire {
            WireType::Varint => self.varint().map(drop),
            WireType::I64 => self.take(8).map(drop),
            WireType::I32 => self.take(4).map(drop),
            WireType::Len => {
                let n = self.varint()?;
                self.take(n).map(drop)
            }
            WireType::EndGroup => Err(self.fault(DecodeErrorKind::UnexpectedEndGroup(number))),
            WireType::StartGroup => self.skip_group(number),
        }
    }

    fn skip_group(&mut self, number: u32) -> Result<()> {
        let mut open = vec![number];
        while let Some(&innermost) = open.last() {
            if self.at_end() {
                return Err(self.fault(DecodeErrorKind::UnterminatedGroup(innermost)));
            }
            let key_at = self.pos;
            let (n, wire) = self.key()?;
            match wire {
                WireType::StartGroup => {
                    if open.len() >= MAX_GROUP_DEPTH {
                        return Err(DecodeError::new(DecodeErrorKind::GroupsTooDeep, key_at));
                    }
                    open.push(n);
                }
                WireType::EndGroup if n == innermost => {
                    open.pop();
                }
                WireType::EndGroup => {
                    return Err(DecodeError::new(DecodeErrorKind::UnexpectedEndGroup(n), key_at));
                }
                other => self.skip(n, other)?,
            }
        }
        Ok(())
    }
}

/// Appends `v` as a base-128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The encoded size of `v` as a varint.
pub(crate) fn varint_len(v: u64) -> usize {
    // One byte per started group of seven significant bits, at least one.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

pub(crate) fn put_key(out: &mut Vec<u8>, number: u32, wire: WireType) {
    put_varint(out, (u64::from(number) << 3) | wire.bits());
}

/// The size of a key for a field number below 16 (all this crate writes).
pub(crate) const KEY_LEN: usize = 1;

/// The size of a length-delimited field whose payload is `n` bytes.
pub(crate) fn len_field_size(n: usize) -> usize {
    KEY_LEN + varint_len(n as u64) + n
}

/// Writes a length-delimited field's key and length; the payload follows.
pub(crate) fn put_len_prefix(out: &mut Vec<u8>, number: u32, n: usize) {
    put_key(out, number, WireType::Len);
    put_varint(out, n as u64);
}

/// Writes a string field unless it is empty (the proto3 default).
pub(crate) fn put_string(out: &mut Vec<u8>, number: u32, s: &str) {
    if !s.is_empty() {
        put_len_prefix(out, number, s.len());
        out.extend_from_slice(s.as_bytes());
    }
}

pub(crate) fn string_size(s: &str) -> usize {
    if s.is_empty() { 0 } else { len_field_size(s.len()) }
}

/// Writes a double field unless its bits are all zero (so `-0.0` and NaNs
/// are kept).
pub(crate) fn put_double(out: &mut Vec<u8>, number: u32, v: f64) {
    if v.to_bits() != 0 {
        put_key(out, number, WireType::I64);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

pub(crate) fn double_size(v: f64) -> usize {
    if v.to_bits() != 0 { KEY_LEN + 8 } else { 0 }
}

/// Writes a varint field (int64, enum) unless it is zero.
pub(crate) fn put_uint64(out: &mut Vec<u8>, number: u32, v: u64) {
    if v != 0 {
        put_key(out, number, WireType::Varint);
        put_varint(out, v);
    }
}

pub(crate) fn uint64_size(v: u64) -> usize {
    if v != 0 { KEY_LEN + varint_len(v) } else { 0 }
}
