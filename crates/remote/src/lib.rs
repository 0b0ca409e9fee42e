//! The Prometheus remote-write 1.0 wire format: the protobuf `WriteRequest`
//! message and the Snappy block compression its HTTP bodies use.
//!
//! A remote-write body is a `prometheus.WriteRequest` encoded as protobuf and
//! then compressed with Snappy's *block* format (not the framing format). It
//! travels as an HTTP `POST` with the headers in [`CONTENT_TYPE`],
//! [`CONTENT_ENCODING`] and [`VERSION_HEADER`]/[`VERSION`].
//!
//! # Use
//!
//! ```
//! use andon_remote::{TimeSeries, WriteRequest, decode_snappy, encode_snappy};
//! use andon_series::{Labels, Sample};
//!
//! let req = WriteRequest {
//!     timeseries: vec![TimeSeries {
//!         labels: Labels::from_pairs(&[("__name__", "up"), ("job", "node")]),
//!         samples: vec![Sample { t: 1_700_000_000_000, v: 1.0 }],
//!         ..TimeSeries::default()
//!     }],
//!     metadata: vec![],
//! };
//! let body = encode_snappy(&req);
//! assert_eq!(decode_snappy(&body).unwrap(), req);
//! ```
//!
//! [`encode`]/[`decode`] handle the protobuf layer alone and [`snappy`] the
//! compression layer alone.
//!
//! # Decoding rules
//!
//! - Fields this crate does not model are skipped, whatever their wire type.
//!   Native histograms (`TimeSeries` field 4) are skipped and counted in
//!   [`TimeSeries::histograms_skipped`].
//! - Labels may arrive in any order; they are normalised by
//!   [`andon_series::Labels::new`], which sorts them, drops empty values and
//!   keeps the last of duplicate names.
//! - Malformed input (truncated varints or lengths, invalid UTF-8, a known
//!   field with the wrong wire type, broken groups) is a [`DecodeError`] that
//!   names the field path. Decoding never panics, and no length prefix is
//!   trusted beyond the bytes that remain, so memory grows only with the
//!   input.

mod proto;
pub mod snappy;
mod wire;

pub use proto::{decode, encode};
pub use wire::{DecodeError, DecodeErrorKind, WireType};

use andon_series::{Labels, Sample};

/// The `Content-Type` of a remote-write body.
pub const CONTENT_TYPE: &str = "application/x-protobuf";
/// The `Content-Encoding` of a remote-write body.
pub const CONTENT_ENCODING: &str = "snappy";
/// The header naming the remote-write protocol version.
pub const VERSION_HEADER: &str = "X-Prometheus-Remote-Write-Version";
/// The protocol version this crate speaks (remote write 1.0).
pub const VERSION: &str = "0.1.0";

/// One remote-write request: series with their samples, and metric metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteRequest {
    pub timeseries: Vec<TimeSeries>,
    pub metadata: Vec<MetricMetadata>,
}

/// One series: its labels and the samples and exemplars sent for it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeSeries {
    pub labels: Labels,
    /// Samples in the order they were sent (normally oldest first).
    pub samples: Vec<Sample>,
    pub exemplars: Vec<Exemplar>,
    /// How many native-histogram samples were present and skipped while
    /// decoding. Ignored when encoding: native histograms are never written.
    pub histograms_skipped: usize,
}

/// An exemplar attached to a series: its own labels (such as a trace id), a
/// value and a timestamp in Unix milliseconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exemplar {
    pub labels: Labels,
    pub value: f64,
    pub timestamp: i64,
}

/// Metadata for one metric family.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricMetadata {
    pub kind: MetricKind,
    /// The metric family name (without `_total`, `_bucket` and similar
    /// suffixes of the individual series).
    pub family: String,
    pub help: String,
    pub unit: String,
}

/// A metric family's type, as numbered on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Wire value 0. Values this crate does not know also decode to this.
    #[default]
    Unknown,
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
}

impl MetricKind {
    /// The kind for a wire value; unrecognised values are [`MetricKind::Unknown`].
    pub fn from_wire(v: i32) -> Self {
        match v {
            1 => Self::Counter,
            2 => Self::Gauge,
            3 => Self::Histogram,
            4 => Self::GaugeHistogram,
            5 => Self::Summary,
            6 => Self::Info,
            7 => Self::StateSet,
            _ => Self::Unknown,
        }
    }

    /// The wire value of this kind.
    pub fn to_wire(self) -> i32 {
        match self {
            Self::Unknown => 0,
            Self::Counter => 1,
            Self::Gauge => 2,
            Self::Histogram => 3,
            Self::GaugeHistogram => 4,
            Self::Summary => 5,
            Self::Info => 6,
            Self::StateSet => 7,
        }
    }

    /// The lower-case name Prometheus uses for this type in its metadata API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::GaugeHistogram => "gaugehistogram",
            Self::Summary => "summary",
            Self::Info => "info",
            Self::StateSet => "stateset",
        }
    }
}

/// Why a remote-write body could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The Snappy layer is corrupt or too large.
    Snappy(snappy::SnappyError),
    /// The decompressed bytes are not a valid `WriteRequest`.
    Decode(DecodeError),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Snappy(e) => write!(f, "snappy: {e}"),
            Self::Decode(e) => write!(f, "protobuf: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Snappy(e) => Some(e),
            Self::Decode(e) => Some(e),
        }
    }
}

impl From<snappy::SnappyError> for Error {
    fn from(e: snappy::SnappyError) -> Self {
        Self::Snappy(e)
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

/// Encodes `req` as protobuf and compresses it: a complete remote-write body.
pub fn encode_snappy(req: &WriteRequest) -> Vec<u8> {
    snappy::compress(&encode(req))
}

/// Decompresses and decodes a remote-write body. The decompressed size is
/// limited to [`snappy::MAX_DECOMPRESSED_LEN`].
pub fn decode_snappy(body: &[u8]) -> Result<WriteRequest, Error> {
    let raw = snappy::decompress(body)?;
    Ok(decode(&raw)?)
}
