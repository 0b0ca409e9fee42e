//! andon's metric data model, shared by the exposition parsers, the TSDB and
//! the PromQL engine: label sets, matchers, samples, stale markers, and the
//! [`Querier`] trait the engine reads through.
//!
//! Times are Unix milliseconds (`i64`), values are `f64`, as in Prometheus.

pub mod labels;
pub mod matcher;
pub mod mem;
pub mod relabel;

pub use labels::{Label, Labels, METRIC_NAME};
pub use matcher::{MatchOp, Matcher};
pub use mem::MemStorage;
pub use relabel::{RelabelConfig, Relabeler};

/// The bit pattern Prometheus writes for a staleness marker. It is a NaN, but
/// one that is told apart from every NaN a computation produces.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// A staleness marker value.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `v` is a staleness marker (not merely a NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One sample: Unix milliseconds and a value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub t: i64,
    pub v: f64,
}

/// A series and its samples in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// A storage failure while reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageError(pub String);

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StorageError {}

/// Read access to stored series.
pub trait Querier {
    /// Every series matching all `matchers` that has at least one sample with
    /// `mint <= t <= maxt`, with exactly those samples (stale markers
    /// included), sorted by labels.
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, StorageError>;

    /// Label names of matching series with samples in `[mint, maxt]`, sorted.
    /// No matchers means every series.
    fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError>;

    /// Values of label `name` over matching series with samples in
    /// `[mint, maxt]`, sorted. No matchers means every series.
    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError>;
}

/// Whether `labels` satisfies every matcher (an absent label reads as "").
pub fn matches_all(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers.iter().all(|m| m.matches(labels.value(&m.name)))
}
