//! Streaming parsers for the two text formats scrape targets expose: the
//! Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text.
//!
//! # Use
//!
//! Pick the format from the response's `Content-Type` with
//! [`Format::from_content_type`], then iterate a [`Parser`] over the body (or
//! call [`parse`] to collect everything). The parser walks the input one line
//! at a time and hands out [`Entry`] values as it goes; it never builds a tree
//! of the whole exposition.
//!
//! ```
//! use andon_expo::{Entry, Format, Parser};
//!
//! let body = "# TYPE jobs counter\njobs_total{queue=\"a\"} 3 1700000000.5\n# EOF\n";
//! let format = Format::from_content_type("application/openmetrics-text; version=1.0.0");
//! for entry in Parser::new(body, format) {
//!     match entry {
//!         Ok(Entry::Family(f)) => assert_eq!(f.name, "jobs"),
//!         Ok(Entry::Sample(s)) => assert_eq!(s.timestamp_ms, Some(1_700_000_000_500)),
//!         Err(e) => panic!("{e}"),
//!     }
//! }
//! ```
//!
//! Each [`Sample`] carries its full label set (with `__name__`), its value,
//! its timestamp in Unix milliseconds when the line had one, and its exemplar.
//! Each [`Family`] carries the metadata of one metric family (name, type, help,
//! unit), which is what `/api/v1/metadata` serves.
//!
//! # Errors are final
//!
//! The first problem ends the parse with a [`ParseError`] naming the 1-based
//! line and column; the iterator yields nothing after it. Because entries are
//! handed out before the end of the input has been seen, a caller that must
//! reject an exposition as a whole (a scrape) buffers what it receives and
//! commits it only when the iterator finishes without an error. Some
//! OpenMetrics rules can only be checked once a family or a series ends (a
//! histogram without a `+Inf` bucket, a name that clashes with a later
//! family); those errors point at the line where the offending series or
//! family is.
//!
//! # Prometheus text format 0.0.4
//!
//! - `# HELP name text` (escapes `\\` and `\n`) and `# TYPE name type` with
//!   type `counter`, `gauge`, `histogram`, `summary` or `untyped` (any letter
//!   case). Every other line starting with `#` is a comment and is skipped.
//! - Samples: `name{label="value",...} value [timestamp]`, the timestamp an
//!   integer in milliseconds. Label values escape `\\`, `\"` and `\n`; any
//!   other backslash sequence is kept as written.
//! - Lenient like Prometheus's own parser: blank lines, leading and trailing
//!   blanks (spaces, tabs, a trailing `\r`), blanks around label tokens, a
//!   trailing comma in a label set, metadata in any order and repeated.
//!   Values are decimal numbers or `NaN`, `Inf`, `+Inf`, `-Inf`, `Infinity` in
//!   any letter case.
//! - Rejected: invalid metric or label names, unterminated or unquoted label
//!   values, duplicate label names, missing values, hexadecimal or `1_000`
//!   style numbers, fractional or out-of-range timestamps, trailing text,
//!   unknown `# TYPE` types, lines that are not UTF-8.
//! - A family is reported once per run of `# HELP`/`# TYPE` lines for the same
//!   name; samples carry no link to a family.
//!
//! # OpenMetrics 1.0 text
//!
//! Everything the specification requires of a text exposition is checked:
//!
//! - UTF-8, `\n` line endings, no blank lines, no comments, and a final
//!   `# EOF` line with nothing after it.
//! - `# TYPE`, `# HELP` and `# UNIT` at most once per family and before its
//!   samples; types `unknown`, `gauge`, `counter`, `stateset`, `info`,
//!   `histogram`, `gaugehistogram`, `summary`; a unit must be the suffix of the
//!   family name and is not allowed on `info` and `stateset`.
//! - A family's samples are contiguous and each family appears once; names
//!   that one family's samples could use (`foo_total`, `foo_created`, ...) may
//!   not be used by another family.
//! - Sample names per type: counter `_total`/`_created`; histogram `_bucket`,
//!   `_count`, `_sum`, `_created`; gaugehistogram `_bucket`, `_gcount`,
//!   `_gsum`; summary the bare name (with `quantile`), `_count`, `_sum`,
//!   `_created`; info `_info`; stateset the bare name. Any other name starts a
//!   new family of type unknown.
//! - Values: counters, counts, sums and buckets are neither negative nor NaN,
//!   counts and buckets are integers; buckets have ascending `le` bounds, end
//!   with `le="+Inf"`, do not decrease, and the `+Inf` bucket equals `_count`;
//!   `_sum` and `_count` come together; `_sum` is absent when a bucket bound is
//!   negative and `_gsum` is negative only then; quantiles lie in \[0, 1\];
//!   stateset values are 0 or 1 and carry a label named like the family; info
//!   values are 1.
//! - Timestamps are decimal seconds (converted to whole milliseconds,
//!   truncated toward zero and saturating), never `NaN` or infinite. Within a
//!   series they do not go backwards, and a series either always has them or
//!   never.
//! - Exemplars (`# {labels} value [timestamp]`) only on counter `_total` and
//!   histogram/gaugehistogram `_bucket` samples, with at most 128 characters of
//!   label names and values.
//! - Strict syntax: single spaces, no blanks inside label sets, no trailing
//!   comma, label values escaping `\\`, `\"`, `\n` (other backslash sequences
//!   are kept as written), no duplicate label names.
//! - Families are reported only when they have at least one metadata line;
//!   `_created` samples are handed out like any other sample.

mod lex;
mod om;
mod parser;
mod prom;

use std::fmt;

pub use parser::{Parser, parse};

use andon_series::Labels;

/// The text format of an exposition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// The Prometheus text exposition format 0.0.4 (`text/plain; version=0.0.4`).
    PrometheusText,
    /// OpenMetrics 1.0 text (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics,
}

impl Format {
    /// The format a `Content-Type` header announces: OpenMetrics for
    /// `application/openmetrics-text` (any version), the Prometheus text format
    /// for `text/plain` and for anything else, including an empty header.
    pub fn from_content_type(content_type: &str) -> Format {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::PrometheusText
        }
    }

    /// The `Content-Type` value of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::PrometheusText => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The type of a metric family as declared by a `# TYPE` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    /// OpenMetrics only.
    GaugeHistogram,
    Summary,
    /// OpenMetrics only.
    Info,
    /// OpenMetrics only.
    StateSet,
    /// OpenMetrics' type for a family without a `# TYPE` line or with
    /// `# TYPE name unknown`.
    Unknown,
    /// The Prometheus text format's type for a family without a `# TYPE`
    /// line or with `# TYPE name untyped`.
    Untyped,
}

impl MetricType {
    /// The type as written in a `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
            MetricType::Untyped => "untyped",
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One item of an exposition, in input order.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    /// The metadata of a family, reported before the family's first sample
    /// (or, for a family without samples, when it ends).
    Family(Family),
    /// One sample.
    Sample(Sample),
}

/// The metadata of one metric family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Family {
    /// The family name (for an OpenMetrics counter `foo`, `foo`, not `foo_total`).
    pub name: String,
    /// The declared type, or [`MetricType::Untyped`] (Prometheus text) /
    /// [`MetricType::Unknown`] (OpenMetrics) without a `# TYPE` line.
    pub metric_type: MetricType,
    /// The unescaped `# HELP` text, if there was a `# HELP` line.
    pub help: Option<String>,
    /// The `# UNIT` value, if there was a `# UNIT` line (OpenMetrics only).
    pub unit: Option<String>,
}

/// One sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The full label set, including `__name__`. Labels with empty values
    /// are dropped, as everywhere in Prometheus.
    pub labels: Labels,
    pub value: f64,
    /// The sample's own timestamp in Unix milliseconds, if the line had one.
    pub timestamp_ms: Option<i64>,
    pub exemplar: Option<Exemplar>,
}

/// An exemplar attached to an OpenMetrics sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    pub labels: Labels,
    pub value: f64,
    /// Unix milliseconds, if the exemplar had a timestamp.
    pub timestamp_ms: Option<i64>,
}

/// Why an exposition was rejected. `line` and `column` are 1-based; the
/// column counts characters, not bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for ParseError {}
