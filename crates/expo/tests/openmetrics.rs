//! OpenMetrics 1.0 text: exact entries for valid expositions (metadata,
//! timestamps in seconds, exemplars, escapes, every type) and the line and
//! column of each rejected one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use andon_expo::{Entry, Exemplar, Family, Format, MetricType, ParseError, Parser, Sample, parse};
use andon_series::Labels;

fn entries(input: &str) -> Vec<Entry> {
    parse(input, Format::OpenMetrics).unwrap_or_else(|e| panic!("{e}\n---\n{input}"))
}

fn error(input: &str) -> ParseError {
    match parse(input, Format::OpenMetrics) {
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

fn with_exemplar(e: Entry, pairs: &[(&str, &str)], value: f64, ts: Option<i64>) -> Entry {
    let Entry::Sample(mut s) = e else { panic!("not a sample") };
    s.exemplar = Some(Exemplar { labels: Labels::from_pairs(pairs), value, timestamp_ms: ts });
    Entry::Sample(s)
}

fn family(name: &str, t: MetricType, help: Option<&str>, unit: Option<&str>) -> Entry {
    Entry::Family(Family {
        name: name.into(),
        metric_type: t,
        help: help.map(str::to_owned),
        unit: unit.map(str::to_owned),
    })
}

fn samples(input: &str) -> Vec<Sample> {
    entries(input)
        .into_iter()
        .filter_map(|e| match e {
            Entry::Sample(s) => Some(s),
            Entry::Family(_) => None,
        })
        .collect()
}

#[test]
fn a_typical_exposition() {
    let input = "\
# TYPE jobs counter
# HELP jobs Jobs done.
jobs_total{queue=\"mail\"} 17 1700000000.250 # {trace_id=\"abc\"} 1 1699999999.5
jobs_created{queue=\"mail\"} 1600000000 1700000000.250
# TYPE wait_seconds histogram
# UNIT wait_seconds seconds
wait_seconds_bucket{le=\"0.1\"} 2 # {trace_id=\"x\"} 0.05
wait_seconds_bucket{le=\"+Inf\"} 3
wait_seconds_count 3
wait_seconds_sum 0.75
temperature 21.5
# EOF
";
    assert_eq!(
        entries(input),
        vec![
            family("jobs", MetricType::Counter, Some("Jobs done."), None),
            with_exemplar(
                sample(
                    &[("__name__", "jobs_total"), ("queue", "mail")],
                    17.0,
                    Some(1_700_000_000_250)
                ),
                &[("trace_id", "abc")],
                1.0,
                Some(1_699_999_999_500)
            ),
            sample(
                &[("__name__", "jobs_created"), ("queue", "mail")],
                1.6e9,
                Some(1_700_000_000_250)
            ),
            family("wait_seconds", MetricType::Histogram, None, Some("seconds")),
            with_exemplar(
                sample(&[("__name__", "wait_seconds_bucket"), ("le", "0.1")], 2.0, None),
                &[("trace_id", "x")],
                0.05,
                None
            ),
            sample(&[("__name__", "wait_seconds_bucket"), ("le", "+Inf")], 3.0, None),
            sample(&[("__name__", "wait_seconds_count")], 3.0, None),
            sample(&[("__name__", "wait_seconds_sum")], 0.75, None),
            sample(&[("__name__", "temperature")], 21.5, None),
        ]
    );
}

#[test]
fn every_type_with_its_sample_names() {
    let input = "\
# TYPE g gauge
g{x=\"1\"} -3
# TYPE u unknown
u 1
# TYPE s summary
s{quantile=\"0.5\"} 0.2
s{quantile=\"1\"} NaN
s_sum 4
s_count 7
s_created 1.5
# TYPE gh gaugehistogram
gh_bucket{le=\"-1\"} 1
gh_bucket{le=\"+Inf\"} 2
gh_gcount 2
gh_gsum -3
# TYPE st stateset
st{st=\"on\"} 1
st{st=\"off\"} 0
# TYPE build info
build_info{version=\"1.2\"} 1
# HELP only_meta nothing else
# EOF";
    let got = entries(input);
    let families: Vec<(String, MetricType)> = got
        .iter()
        .filter_map(|e| match e {
            Entry::Family(f) => Some((f.name.clone(), f.metric_type)),
            Entry::Sample(_) => None,
        })
        .collect();
    assert_eq!(
        families,
        [
            ("g".to_owned(), MetricType::Gauge),
            ("u".to_owned(), MetricType::Unknown),
            ("s".to_owned(), MetricType::Summary),
            ("gh".to_owned(), MetricType::GaugeHistogram),
            ("st".to_owned(), MetricType::StateSet),
            ("build".to_owned(), MetricType::Info),
            ("only_meta".to_owned(), MetricType::Unknown),
        ]
    );
    let names: Vec<String> = samples(input)
        .iter()
        .map(|s| format!("{} {}", s.labels.series_string(), s.value))
        .collect();
    assert_eq!(
        names,
        [
            "g{x=\"1\"} -3",
            "u 1",
            "s{quantile=\"0.5\"} 0.2",
            "s{quantile=\"1\"} NaN",
            "s_sum 4",
            "s_count 7",
            "s_created 1.5",
            "gh_bucket{le=\"-1\"} 1",
            "gh_bucket{le=\"+Inf\"} 2",
            "gh_gcount 2",
            "gh_gsum -3",
            "st{st=\"on\"} 1",
            "st{st=\"off\"} 0",
            "build_info{version=\"1.2\"} 1",
        ]
    );
}

#[test]
fn timestamps_are_seconds_converted_to_milliseconds() {
    let input = "\
a{i=\"1\"} 1 0
a{i=\"2\"} 1 1.5
a{i=\"3\"} 1 1.0059
a{i=\"4\"} 1 -1.5
a{i=\"5\"} 1 1.5e3
a{i=\"6\"} 1 000
a{i=\"7\"} 1 12345678901234567890.1234567890
a{i=\"8\"} 1 .5
# EOF
";
    let ts: Vec<Option<i64>> = samples(input).iter().map(|s| s.timestamp_ms).collect();
    assert_eq!(
        ts,
        [
            Some(0),
            Some(1500),
            Some(1005),
            Some(-1500),
            Some(1_500_000),
            Some(0),
            Some(i64::MAX),
            Some(500)
        ]
    );
}

#[test]
fn values_and_special_numbers() {
    let input = "\
a{i=\"1\"} +Inf
a{i=\"2\"} -Inf
a{i=\"3\"} 0000000000000000000000001.2e-1
a{i=\"4\"} 9223372036854775808
a{i=\"5\"} -0.5
a{i=\"6\"} 1E3
# EOF
";
    let values: Vec<f64> = samples(input).iter().map(|s| s.value).collect();
    assert_eq!(values, [f64::INFINITY, f64::NEG_INFINITY, 0.12, 2f64.powi(63), -0.5, 1000.0]);
    assert!(samples("a NaN\n# EOF\n")[0].value.is_nan());
}

#[test]
fn label_and_help_escapes() {
    let input = "\
# TYPE a counter
# HELP a he\\n\\\\l\\tp \\\"q\\\"
a_total{foo=\"b\\\"a\\nr\",bar=\"b\\\\a\\z\",hash=\"x # y\",brace=\"}{\"} 1
# EOF
";
    assert_eq!(
        entries(input),
        vec![
            family("a", MetricType::Counter, Some("he\n\\l\\tp \"q\""), None),
            sample(
                &[
                    ("__name__", "a_total"),
                    ("foo", "b\"a\nr"),
                    ("bar", "b\\a\\z"),
                    ("hash", "x # y"),
                    ("brace", "}{"),
                ],
                1.0,
                None
            ),
        ]
    );
}

#[test]
fn exemplars_with_hashes_and_wide_characters() {
    let wide = format!("☃{}", "x".repeat(126));
    let input = format!(
        "# TYPE h histogram\n\
         h_bucket{{le=\"1\",foo=\"bar # \"}} 0 # {{a=\"b\",foo=\"bar # bar\"}} 0.5\n\
         h_bucket{{le=\"+Inf\",foo=\"bar # \"}} 3 # {{a=\"{wide}\"}} 4 123\n\
         # EOF\n"
    );
    let got = samples(&input);
    assert_eq!(
        got[0].exemplar,
        Some(Exemplar {
            labels: Labels::from_pairs(&[("a", "b"), ("foo", "bar # bar")]),
            value: 0.5,
            timestamp_ms: None,
        })
    );
    assert_eq!(got[1].exemplar.as_ref().unwrap().timestamp_ms, Some(123_000));
    assert_eq!(got[1].exemplar.as_ref().unwrap().labels.get("a"), Some(wide.as_str()));
    // One more character is one too many.
    let e = error(&input.replace(&wide, &format!("{wide}y")));
    assert_eq!((e.line, e.column), (3, 38));
    assert_eq!(e.message, "exemplar labels have 129 characters, more than 128");
}

#[test]
fn metadata_only_families_are_reported_at_their_end() {
    assert_eq!(
        entries("# HELP a \n# UNIT a \n# TYPE b_bytes gauge\n# UNIT b_bytes bytes\n# EOF\n"),
        vec![
            family("a", MetricType::Unknown, Some(""), Some("")),
            family("b_bytes", MetricType::Gauge, None, Some("bytes")),
        ]
    );
}

#[test]
fn eof_rules() {
    assert_eq!(entries("# EOF"), vec![]);
    assert_eq!(entries("a 1\n# EOF"), vec![sample(&[("__name__", "a")], 1.0, None)]);
    let cases: &[(&str, usize, usize, &str)] = &[
        ("", 1, 1, "missing `# EOF` at the end of the exposition"),
        ("a 1\n", 2, 1, "missing `# EOF` at the end of the exposition"),
        ("a 1", 1, 4, "missing `# EOF` at the end of the exposition"),
        ("# EOF\n\n", 2, 1, "text after `# EOF`"),
        ("# EOF\na 1\n", 2, 1, "text after `# EOF`"),
        ("a 1\n\n# EOF\n", 2, 1, "blank line (not allowed in OpenMetrics)"),
        ("a 1\r\n# EOF\n", 1, 3, "invalid number `1\\r` for the sample value"),
    ];
    for (input, line, column, message) in cases {
        let e = error(input);
        assert_eq!((e.line, e.column, e.message.as_str()), (*line, *column, *message), "{input:?}");
    }
}

#[test]
fn errors_name_line_and_column() {
    let cases: &[(&str, usize, usize, &str)] = &[
        ("# TYPE a counter\na_total -1\n# EOF\n", 2, 9, "a counter value cannot be negative"),
        (
            "# TYPE a counter\na 1\n# EOF\n",
            2,
            1,
            "metric family `a` appears twice or clashes with an earlier family",
        ),
        (
            "a 1\nb 1\na 2\n# EOF\n",
            3,
            1,
            "metric family `a` appears twice or clashes with an earlier family",
        ),
        (
            "# TYPE a_created gauge\n# TYPE a counter\n# EOF\n",
            2,
            1,
            "metric family `a` clashes with an earlier family that uses the name `a_created`",
        ),
        ("# TYPE a gauge\na 1\n# HELP a late\n# EOF\n", 3, 1, "`# HELP` for `a` after its samples"),
        ("# HELP a x\n# HELP a y\n# EOF\n", 2, 1, "second `# HELP` for `a`"),
        (
            "# UNIT a seconds\n# EOF\n",
            1,
            10,
            "the metric name `a` must end in `_seconds`, its unit",
        ),
        (
            "# TYPE a_u info\n# UNIT a_u u\n# EOF\n",
            2,
            12,
            "a family of type info cannot have a unit",
        ),
        (
            "# comment\n# EOF\n",
            1,
            3,
            "unknown line `# comment` (expected HELP, TYPE, UNIT or EOF; OpenMetrics has no comments)",
        ),
        ("a{b=\"c\"}  1\n# EOF\n", 1, 10, "expected the sample value, found a space"),
        ("a{b=\"c\", d=\"e\"} 1\n# EOF\n", 1, 9, "expected a label name, found a space"),
        ("a{b=\"c\",} 1\n# EOF\n", 1, 9, "expected a label name, found `}`"),
        ("a 1 z\n# EOF\n", 1, 5, "invalid timestamp `z` (expected decimal seconds)"),
        ("a 1 NaN\n# EOF\n", 1, 5, "invalid timestamp `NaN` (expected decimal seconds)"),
        ("a 0 2\na 0 1\n# EOF\n", 2, 5, "timestamp goes backwards within the series"),
        ("a 0\na 0 1\n# EOF\n", 2, 5, "a series mixes samples with and without timestamps"),
        (
            "a{x=\"1\"} 0\na{x=\"2\"} 0\na{x=\"1\"} 0\n# EOF\n",
            3,
            1,
            "the samples of series {x=\"1\"} of `a` are not together",
        ),
        (
            "a 1 # {b=\"c\"} 1\n# EOF\n",
            1,
            5,
            "exemplars are only allowed on counter `_total` and histogram `_bucket` samples, not on `a`",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"2\"} 0\nh_bucket{le=\"1\"} 0\n# EOF\n",
            3,
            9,
            "bucket bounds must increase: le=1 after le=2",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n# EOF\n",
            3,
            21,
            "bucket counts must not decrease: 1 after 2",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_count 0\nh_sum 0\n# EOF\n",
            4,
            1,
            "histogram `h` has a point without a `le=\"+Inf\"` bucket",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1.5\n# EOF\n",
            2,
            21,
            "a bucket count must be an integer",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"inf\"} 1\n# EOF\n",
            2,
            9,
            "`le=\"inf\"`: write an infinite bound as `+Inf` or `-Inf`",
        ),
        (
            "# TYPE s summary\ns{quantile=\"1.5\"} 1\n# EOF\n",
            2,
            2,
            "quantile 1.5 is outside [0, 1]",
        ),
        ("# TYPE st stateset\nst{st=\"a\"} 2\n# EOF\n", 2, 12, "a stateset value must be 0 or 1"),
        ("# TYPE i info\ni_info 0\n# EOF\n", 2, 8, "an info value must be 1"),
        ("a{b=\"1\",b=\"2\"} 1\n# EOF\n", 1, 9, "duplicate label name `b`"),
    ];
    for (input, line, column, message) in cases {
        let e = error(input);
        assert_eq!((e.line, e.column, e.message.as_str()), (*line, *column, *message), "{input:?}");
    }
}

#[test]
fn invalid_utf8_is_rejected() {
    let e = parse(b"a{b=\"\xff\"} 1\n# EOF\n", Format::OpenMetrics).unwrap_err();
    assert_eq!((e.line, e.column, e.message.as_str()), (1, 6, "invalid UTF-8"));
}

#[test]
fn the_parser_streams_and_stops_at_the_first_error() {
    // The missing `# EOF` is only known at the end; everything before it has
    // been handed out by then.
    let mut p = Parser::new("# TYPE a gauge\na 1\na 2\n", Format::OpenMetrics);
    assert_eq!(p.next(), Some(Ok(family("a", MetricType::Gauge, None, None))));
    assert_eq!(p.next(), Some(Ok(sample(&[("__name__", "a")], 1.0, None))));
    assert_eq!(p.next(), Some(Ok(sample(&[("__name__", "a")], 2.0, None))));
    let e = p.next().unwrap().unwrap_err();
    assert_eq!(e.to_string(), "line 4:1: missing `# EOF` at the end of the exposition");
    assert_eq!(p.next(), None);
}

#[test]
fn bytes_strings_and_owned_inputs_parse_alike() {
    let text = "a 1\n# EOF\n";
    let want = parse(text, Format::OpenMetrics).unwrap();
    assert_eq!(parse(text.as_bytes(), Format::OpenMetrics).unwrap(), want);
    assert_eq!(parse(&text.to_owned(), Format::OpenMetrics).unwrap(), want);
    assert_eq!(parse(&text.as_bytes().to_vec(), Format::OpenMetrics).unwrap(), want);
}

#[test]
fn the_formats_differ_where_the_specifications_do() {
    // Valid Prometheus text that OpenMetrics rejects.
    for input in ["a 1\n", "# comment\na 1\n# EOF\n", "a  1\n# EOF\n", "a{b=\"c\",} 1\n# EOF\n"] {
        assert!(parse(input, Format::PrometheusText).is_ok(), "{input:?}");
        assert!(parse(input, Format::OpenMetrics).is_err(), "{input:?}");
    }
    // Timestamps: seconds with a fraction in OpenMetrics, integer milliseconds in Prometheus text.
    let input = "a 1 1000.5\n# EOF\n";
    assert_eq!(samples(input)[0].timestamp_ms, Some(1_000_500));
    assert!(parse(input, Format::PrometheusText).is_err());
}
