//! Property tests: arbitrary bytes and exposition-shaped noise never panic
//! and always end in entries or one located error; generated expositions
//! come back exactly as written in both formats.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::BTreeMap;

use andon_expo::{Entry, Format, Parser, parse};
use andon_series::{Label, Labels};
use proptest::prelude::*;

/// Runs the parser to its end and checks the shape of what it yields.
fn drain(input: &[u8], format: Format) {
    let lines = input.iter().filter(|b| **b == b'\n').count() + 1;
    let mut parser = Parser::new(input, format);
    let mut yielded = 0;
    while let Some(item) = parser.next() {
        yielded += 1;
        assert!(yielded <= 2 * lines + 1, "more entries than the input can hold");
        if let Err(e) = item {
            assert!(e.line >= 1 && e.line <= lines + 1, "{e}");
            assert!(e.column >= 1, "{e}");
            assert!(!e.message.is_empty());
            assert!(parser.next().is_none(), "nothing follows an error");
            return;
        }
    }
}

const FRAGMENTS: &[&str] = &[
    "a",
    "b_c",
    ":",
    "_total",
    "_created",
    "_bucket",
    "_count",
    "_sum",
    "_gcount",
    "_gsum",
    "_info",
    "{",
    "}",
    "=",
    ",",
    "\"",
    "\\",
    "\\\"",
    "\\n",
    "\\\\",
    " ",
    "  ",
    "\t",
    "\n",
    "\r",
    "#",
    "# ",
    "# TYPE ",
    "# HELP ",
    "# UNIT ",
    "# EOF",
    "# EOF\n",
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "summary",
    "info",
    "stateset",
    "unknown",
    "untyped",
    "le=\"+Inf\"",
    "le=\"1\"",
    "quantile=\"0.5\"",
    "0",
    "1",
    "-1",
    "1.5",
    "1e3",
    "+Inf",
    "-Inf",
    "NaN",
    "0x1",
    "1_0",
    ".",
    "é",
    "☃",
    "\u{0}",
    " # {",
    "} 1 ",
    "9223372036854775807",
    "99999999999999999999",
];

fn noise() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..60).prop_map(|v| v.concat())
}

fn metric_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}"
}

fn label_set() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map("[a-zA-Z][a-zA-Z0-9_]{0,8}", any::<String>(), 0..5)
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `name{labels} value`, labels escaped.
fn render_series(name: &str, labels: &BTreeMap<String, String>, value: f64) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("{name}{{{}}} {value:?}", pairs.join(","))
}

fn expected_labels(name: &str, labels: &BTreeMap<String, String>) -> Labels {
    let mut all: Vec<Label> = labels.iter().map(|(k, v)| Label::new(k, v)).collect();
    all.push(Label::new("__name__", name));
    Labels::new(all)
}

/// Milliseconds written as exact decimal seconds.
fn seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
}

type Series = BTreeMap<String, (BTreeMap<String, String>, f64, Option<i64>)>;

fn series() -> impl Strategy<Value = Series> {
    prop::collection::btree_map(
        metric_name(),
        (label_set(), any::<f64>().prop_filter("finite", |v| v.is_finite()), any::<Option<i64>>()),
        1..8,
    )
}

fn check_round_trip(text: &str, format: Format, series: &Series) {
    let got = parse(text, format).unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
    assert_eq!(got.len(), series.len());
    for (entry, (name, (labels, value, ts))) in got.iter().zip(series) {
        let Entry::Sample(s) = entry else { panic!("unexpected {entry:?}") };
        assert_eq!(s.labels, expected_labels(name, labels));
        assert_eq!(s.value.to_bits(), value.to_bits());
        assert_eq!(s.timestamp_ms, *ts);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512)) {
        drain(&input, Format::PrometheusText);
        drain(&input, Format::OpenMetrics);
    }

    #[test]
    fn exposition_shaped_noise_never_panics(input in noise()) {
        drain(input.as_bytes(), Format::PrometheusText);
        drain(input.as_bytes(), Format::OpenMetrics);
        let terminated = format!("{input}\n# EOF\n");
        drain(terminated.as_bytes(), Format::OpenMetrics);
    }

    #[test]
    fn prometheus_text_round_trips(series in series()) {
        let mut text = String::new();
        for (name, (labels, value, ts)) in &series {
            text.push_str(&render_series(name, labels, *value));
            if let Some(ts) = ts {
                text.push_str(&format!(" {ts}"));
            }
            text.push('\n');
        }
        check_round_trip(&text, Format::PrometheusText, &series);
    }

    #[test]
    fn openmetrics_round_trips(series in series()) {
        let mut text = String::new();
        for (name, (labels, value, ts)) in &series {
            text.push_str(&render_series(name, labels, *value));
            if let Some(ts) = ts {
                text.push_str(&format!(" {}", seconds(*ts)));
            }
            text.push('\n');
        }
        text.push_str("# EOF\n");
        check_round_trip(&text, Format::OpenMetrics, &series);
    }
}
