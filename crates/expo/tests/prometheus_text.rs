//! The Prometheus text format 0.0.4: exact entries for valid expositions
//! (values, labels, escapes, timestamps, metadata, leniency) and the line and
//! column of each rejected one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use andon_expo::{Entry, Family, Format, MetricType, ParseError, Parser, Sample, parse};
use andon_series::{Labels, is_stale_nan};

fn entries(input: &str) -> Vec<Entry> {
    parse(input, Format::PrometheusText).unwrap_or_else(|e| panic!("{e}\n---\n{input}"))
}

fn error(input: &str) -> ParseError {
    match parse(input, Format::PrometheusText) {
        Ok(got) => panic!("parsed, but must be rejected: {got:?}\n---\n{input}"),
        Err(e) => e,
    }
}

fn sample(pairs: &[(&str, &str)], value: f64, ts: Option<i64>) -> Entry {
    Entry::Sample(Sample {
        labels: Labels::from_pairs(pairs),
        value,
        timestamp_ms: ts,
        exemplar: None,
    })
}

fn family(name: &str, t: MetricType, help: Option<&str>) -> Entry {
    Entry::Family(Family {
        name: name.into(),
        metric_type: t,
        help: help.map(str::to_owned),
        unit: None,
    })
}

fn only_sample(input: &str) -> Sample {
    match entries(input).as_slice() {
        [Entry::Sample(s)] => s.clone(),
        other => panic!("expected one sample, got {other:?}"),
    }
}

#[test]
fn a_typical_exposition() {
    let input = "\
# HELP jobs_done_total Jobs finished, by queue.
# TYPE jobs_done_total counter
jobs_done_total{queue=\"mail\",result=\"ok\"} 1027 1395066363000
jobs_done_total{queue=\"mail\",result=\"error\"}    3 1395066363000

# A plain comment.
queue_depth 12.47
# HELP wait_seconds Time spent waiting.
# TYPE wait_seconds histogram
wait_seconds_bucket{le=\"0.05\"} 24054
wait_seconds_bucket{le=\"+Inf\"} 144320
wait_seconds_sum 53423
wait_seconds_count 144320
";
    assert_eq!(
        entries(input),
        vec![
            family("jobs_done_total", MetricType::Counter, Some("Jobs finished, by queue.")),
            sample(
                &[("__name__", "jobs_done_total"), ("queue", "mail"), ("result", "ok")],
                1027.0,
                Some(1_395_066_363_000)
            ),
            sample(
                &[("__name__", "jobs_done_total"), ("queue", "mail"), ("result", "error")],
                3.0,
                Some(1_395_066_363_000)
            ),
            sample(&[("__name__", "queue_depth")], 12.47, None),
            family("wait_seconds", MetricType::Histogram, Some("Time spent waiting.")),
            sample(&[("__name__", "wait_seconds_bucket"), ("le", "0.05")], 24054.0, None),
            sample(&[("__name__", "wait_seconds_bucket"), ("le", "+Inf")], 144_320.0, None),
            sample(&[("__name__", "wait_seconds_sum")], 53423.0, None),
            sample(&[("__name__", "wait_seconds_count")], 144_320.0, None),
        ]
    );
}

#[test]
fn values_in_every_spelling() {
    let cases: &[(&str, f64)] = &[
        ("1", 1.0),
        ("-1", -1.0),
        ("+1", 1.0),
        ("1.5e3", 1500.0),
        ("1E-3", 0.001),
        (".5", 0.5),
        ("5.", 5.0),
        ("0001.2e-1", 0.12),
        ("+Inf", f64::INFINITY),
        ("-Inf", f64::NEG_INFINITY),
        ("Inf", f64::INFINITY),
        ("inf", f64::INFINITY),
        ("Infinity", f64::INFINITY),
        ("9223372036854775808", 9_223_372_036_854_775_808.0),
    ];
    for (text, want) in cases {
        let s = only_sample(&format!("m {text}\n"));
        assert_eq!(s.value, *want, "{text}");
    }
    for text in ["NaN", "Nan", "nan"] {
        let s = only_sample(&format!("m {text}\n"));
        assert!(s.value.is_nan(), "{text}");
        assert!(!is_stale_nan(s.value), "a written NaN is not a staleness marker");
    }
    assert_eq!(only_sample("m -0").value.to_bits(), (-0.0f64).to_bits());
}

#[test]
fn timestamps_are_integer_milliseconds() {
    assert_eq!(only_sample("m 1 1700000000123").timestamp_ms, Some(1_700_000_000_123));
    assert_eq!(only_sample("m 1 -3982045").timestamp_ms, Some(-3_982_045));
    assert_eq!(only_sample("m 1 0").timestamp_ms, Some(0));
    assert_eq!(only_sample("m 1").timestamp_ms, None);
    assert_eq!(only_sample("m 1 9223372036854775807").timestamp_ms, Some(i64::MAX));
}

#[test]
fn label_values_unescape_backslash_quote_and_newline_only() {
    let s = only_sample(
        r#"m{path="C:\\DIR\\FILE.TXT",msg="Cannot find:\n\"FILE.TXT\"",odd="a\tb\z"} 1"#,
    );
    assert_eq!(
        s.labels,
        Labels::from_pairs(&[
            ("__name__", "m"),
            ("path", r"C:\DIR\FILE.TXT"),
            ("msg", "Cannot find:\n\"FILE.TXT\""),
            ("odd", r"a\tb\z"),
        ])
    );
}

#[test]
fn labels_are_sorted_and_empty_values_dropped() {
    let s = only_sample(r#"m{zone="b",app="",instance="x:1",a_b="hash # and } brace"} 2"#);
    assert_eq!(
        s.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect::<Vec<_>>(),
        [("__name__", "m"), ("a_b", "hash # and } brace"), ("instance", "x:1"), ("zone", "b")]
    );
    assert_eq!(s.labels.metric_name(), Some("m"));
}

#[test]
fn lenient_whitespace_and_commas_like_prometheus() {
    let want = sample(&[("__name__", "m"), ("a", "1"), ("b", "2")], 3.0, Some(4));
    for input in [
        "m{a=\"1\",b=\"2\"} 3 4\n",
        "  m{a=\"1\",b=\"2\"} 3 4  \n",
        "m{a=\"1\",b=\"2\",} 3 4\n",
        "m { a = \"1\" , b = \"2\" } 3 4\n",
        "m{a=\"1\",b=\"2\"}\t3\t4\n",
        "m{a=\"1\",b=\"2\"}3 4\n",
        "m{a=\"1\",b=\"2\"} 3 4\r\n",
        "m{a=\"1\",b=\"2\"} 3 4",
        "\n\n   \n\t\nm{a=\"1\",b=\"2\"} 3 4\n\n",
    ] {
        assert_eq!(entries(input), vec![want.clone()], "{input:?}");
    }
    assert_eq!(entries("m{} 1\n"), vec![sample(&[("__name__", "m")], 1.0, None)]);
    assert_eq!(
        entries("m:sub_1:rate5m 1\n"),
        vec![sample(&[("__name__", "m:sub_1:rate5m")], 1.0, None)]
    );
}

#[test]
fn comments_and_empty_input_yield_nothing() {
    assert_eq!(entries(""), vec![]);
    assert_eq!(entries("\n\n"), vec![]);
    let comments =
        "#\n# plain\n#HELP not metadata\n# HELPER x\n# HELP\n  # TYPE\n# EOF\n# \u{0}\u{7f}\n";
    assert_eq!(entries(comments), vec![]);
    // A comment line is skipped without being read as UTF-8.
    assert_eq!(parse(b"# caf\xe9\nm 1\n", Format::PrometheusText).unwrap().len(), 1);
}

#[test]
fn metadata_lines_make_one_family_per_run() {
    let input = "\
# TYPE a gauge
# HELP a First \\\\ line\\nsecond \\\"quoted\\\" \\t.
a 1
# HELP b only help
# TYPE c SUMMARY
# HELP c
c_sum 2
# TYPE d untyped
";
    assert_eq!(
        entries(input),
        vec![
            family("a", MetricType::Gauge, Some("First \\ line\nsecond \\\"quoted\\\" \\t.")),
            sample(&[("__name__", "a")], 1.0, None),
            family("b", MetricType::Untyped, Some("only help")),
            family("c", MetricType::Summary, Some("")),
            sample(&[("__name__", "c_sum")], 2.0, None),
            family("d", MetricType::Untyped, None),
        ]
    );
}

#[test]
fn help_text_keeps_inner_blanks_and_drops_outer_ones() {
    assert_eq!(
        entries("# HELP m \t two  words \t\n"),
        vec![family("m", MetricType::Untyped, Some("two  words"))]
    );
}

#[test]
fn the_parser_streams_entries_before_the_end() {
    let input = "a 1\nb 2\nc{ 3\nd 4\n";
    let mut p = Parser::new(input, Format::PrometheusText);
    assert_eq!(p.next(), Some(Ok(sample(&[("__name__", "a")], 1.0, None))));
    assert_eq!(p.next(), Some(Ok(sample(&[("__name__", "b")], 2.0, None))));
    let e = p.next().unwrap().unwrap_err();
    assert_eq!((e.line, e.column), (3, 4));
    assert_eq!(p.next(), None);
    assert_eq!(p.next(), None);
}

#[test]
fn errors_name_line_and_column() {
    let cases: &[(&str, usize, usize, &str)] = &[
        ("m 1\nm{a=\"1} 2\n", 2, 5, "label value has no closing `\"`"),
        ("m 1 2 3\n", 1, 7, "unexpected text after the timestamp"),
        ("m 0x10\n", 1, 3, "invalid sample value `0x10`"),
        ("m 1_000\n", 1, 3, "invalid sample value `1_000`"),
        ("m 0x1p3\n", 1, 3, "invalid sample value `0x1p3`"),
        ("m{a=\"1\",a=\"2\"} 1\n", 1, 9, "duplicate label name `a`"),
        ("m{__name__=\"x\"} 1\n", 1, 3, "duplicate label name `__name__`"),
        ("m 1 1.5\n", 1, 5, "invalid timestamp `1.5` (expected integer milliseconds)"),
        ("m 1 99999999999999999999\n", 1, 5, "timestamp `99999999999999999999` is out of range"),
        ("m\n", 1, 2, "expected a sample value, found end of line"),
        ("m{a=\"b\"}\n", 1, 9, "expected a sample value, found end of line"),
        ("{a=\"b\"} 1\n", 1, 1, "expected a metric name, found `{`"),
        ("\n\n  9m 1\n", 3, 3, "expected a metric name, found `9`"),
        ("m.x 1\n", 1, 2, "expected a blank or `{` after the metric name, found `.`"),
        ("m{a=1} 1\n", 1, 5, "expected `\"` opening the label value, found `1`"),
        ("m{a=\"1\" b=\"2\"} 1\n", 1, 9, "expected `,` or `}` after the label, found `b`"),
        ("m{,} 1\n", 1, 3, "expected a label name, found `,`"),
        ("m{a=\"1\",,} 1\n", 1, 9, "expected a label name, found `,`"),
        ("m{1=\"1\"} 1\n", 1, 3, "expected a label name, found `1`"),
        ("m{a} 1\n", 1, 4, "expected `=` after the label name, found `}`"),
        ("m 1 # {a=\"b\"} 1\n", 1, 5, "invalid timestamp `#` (expected integer milliseconds)"),
        (
            "# TYPE m foo\n",
            1,
            10,
            "unknown metric type `foo` (expected counter, gauge, histogram, summary or untyped)",
        ),
        ("# TYPE m gauge extra\n", 1, 15, "unexpected text after the metric type"),
        ("# TYPE m\n", 1, 9, "expected a metric type, found end of line"),
        ("# HELP 9 text\n", 1, 8, "expected a metric name, found `9`"),
        ("# HELP m.x text\n", 1, 9, "expected a blank after the metric name, found `.`"),
        ("m{é=\"1\"} 1\n", 1, 3, "expected a label name, found `é`"),
    ];
    for (input, line, column, message) in cases {
        let e = error(input);
        assert_eq!((e.line, e.column, e.message.as_str()), (*line, *column, *message), "{input:?}");
    }
}

#[test]
fn invalid_utf8_is_rejected_at_its_column() {
    let e = parse(b"m 1\nm{a=\"\xc3\xa9\xff\"} 1\n", Format::PrometheusText).unwrap_err();
    assert_eq!((e.line, e.column, e.message.as_str()), (2, 7, "invalid UTF-8"));
}

#[test]
fn errors_display_line_column_and_message() {
    let e = error("m 1 2 3\n");
    assert_eq!(e.to_string(), "line 1:7: unexpected text after the timestamp");
}

#[test]
fn utf8_label_values_and_columns_in_characters() {
    let s = only_sample("m{city=\"Zürich\",emoji=\"☃\"} 1");
    assert_eq!(s.labels.get("city"), Some("Zürich"));
    assert_eq!(s.labels.get("emoji"), Some("☃"));
    let e = error("m{city=\"Zürich\"} x\n");
    assert_eq!((e.line, e.column), (1, 18));
}

#[test]
fn content_types_select_the_format() {
    assert_eq!(Format::from_content_type("text/plain; version=0.0.4"), Format::PrometheusText);
    assert_eq!(
        Format::from_content_type("text/plain; version=0.0.4; charset=utf-8"),
        Format::PrometheusText
    );
    assert_eq!(Format::from_content_type(""), Format::PrometheusText);
    assert_eq!(Format::from_content_type("application/json"), Format::PrometheusText);
    assert_eq!(
        Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        Format::OpenMetrics
    );
    assert_eq!(
        Format::from_content_type("Application/OpenMetrics-Text;version=0.0.1"),
        Format::OpenMetrics
    );
    assert_eq!(Format::from_content_type(Format::OpenMetrics.content_type()), Format::OpenMetrics);
    assert_eq!(
        Format::from_content_type(Format::PrometheusText.content_type()),
        Format::PrometheusText
    );
}

#[test]
fn metric_types_print_as_written() {
    let all = [
        (MetricType::Counter, "counter"),
        (MetricType::Gauge, "gauge"),
        (MetricType::Histogram, "histogram"),
        (MetricType::GaugeHistogram, "gaugehistogram"),
        (MetricType::Summary, "summary"),
        (MetricType::Info, "info"),
        (MetricType::StateSet, "stateset"),
        (MetricType::Unknown, "unknown"),
        (MetricType::Untyped, "untyped"),
    ];
    for (t, s) in all {
        assert_eq!(t.as_str(), s);
        assert_eq!(t.to_string(), s);
    }
}
