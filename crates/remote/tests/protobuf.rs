//! The protobuf layer: hand-assembled `WriteRequest` bytes checked against
//! the encoder and decoder, skipping of unknown fields, and one case for
//! each class of malformed input with the field path it must report.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use andon_remote::{
    DecodeError, DecodeErrorKind, Exemplar, MetricKind, MetricMetadata, TimeSeries, WireType,
    WriteRequest, decode, encode,
};
use andon_series::{Labels, Sample, stale_nan};

/// Concatenates byte pieces, so vectors can be written with string parts.
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A length-delimited field: a one-byte key, the varint length, the body.
fn len_field(key: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![key];
    let mut n = body.len();
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(body);
    out
}

fn up_series() -> TimeSeries {
    TimeSeries {
        labels: Labels::from_pairs(&[("__name__", "up"), ("job", "a")]),
        samples: vec![Sample { t: 1000, v: 1.0 }],
        ..TimeSeries::default()
    }
}

/// `{__name__="up", job="a"}` with one sample 1.0 at t=1000, byte by byte.
fn up_bytes() -> Vec<u8> {
    cat(&[
        &[0x0a, 0x28], // WriteRequest.timeseries (field 1, LEN), 40 bytes
        &[0x0a, 0x0e], //   TimeSeries.labels (field 1, LEN), 14 bytes
        &[0x0a, 0x08], //     Label.name (field 1, LEN), 8 bytes
        b"__name__",
        &[0x12, 0x02], //     Label.value (field 2, LEN), 2 bytes
        b"up",
        &[0x0a, 0x08], //   TimeSeries.labels, 8 bytes
        &[0x0a, 0x03],
        b"job",
        &[0x12, 0x01],
        b"a",
        &[0x12, 0x0c], //   TimeSeries.samples (field 2, LEN), 12 bytes
        &[0x09],       //     Sample.value (field 1, I64) = 1.0 = 0x3ff0_0000_0000_0000
        &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f],
        &[0x10, 0xe8, 0x07], // Sample.timestamp (field 2, VARINT) = 1000 = 0b111_1101000
    ])
}

#[test]
fn one_series_matches_hand_built_bytes() {
    let req = WriteRequest { timeseries: vec![up_series()], metadata: vec![] };
    let bytes = up_bytes();
    assert_eq!(bytes.len(), 42);
    assert_eq!(encode(&req), bytes);
    assert_eq!(decode(&bytes).unwrap(), req);
}

#[test]
fn metadata_matches_hand_built_bytes() {
    let req = WriteRequest {
        timeseries: vec![],
        metadata: vec![MetricMetadata {
            kind: MetricKind::Counter,
            family: "http_requests".into(),
            help: "Total.".into(),
            unit: String::new(),
        }],
    };
    let bytes = cat(&[
        &[0x1a, 0x19], // WriteRequest.metadata (field 3, LEN), 25 bytes
        &[0x08, 0x01], //   type (field 1, VARINT) = COUNTER
        &[0x12, 0x0d], //   metric_family_name (field 2, LEN), 13 bytes
        b"http_requests",
        &[0x22, 0x06], //   help (field 4, LEN), 6 bytes; empty unit is left out
        b"Total.",
    ]);
    assert_eq!(encode(&req), bytes);
    assert_eq!(decode(&bytes).unwrap(), req);
}

#[test]
fn exemplar_and_negative_timestamp_match_hand_built_bytes() {
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: Labels::from_pairs(&[("__name__", "x")]),
            exemplars: vec![Exemplar {
                labels: Labels::from_pairs(&[("trace_id", "ab")]),
                value: 0.5,
                timestamp: -1,
            }],
            ..TimeSeries::default()
        }],
        metadata: vec![],
    };
    let bytes = cat(&[
        &[0x0a, 0x35], // timeseries, 53 bytes
        &[0x0a, 0x0d], //   labels, 13 bytes
        &[0x0a, 0x08],
        b"__name__",
        &[0x12, 0x01],
        b"x",
        &[0x1a, 0x24], //   exemplars (field 3, LEN), 36 bytes
        &[0x0a, 0x0e], //     labels, 14 bytes
        &[0x0a, 0x08],
        b"trace_id",
        &[0x12, 0x02],
        b"ab",
        &[0x11], //     value (field 2, I64) = 0.5 = 0x3fe0_0000_0000_0000
        &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x3f],
        &[0x18], //     timestamp (field 3, VARINT) = -1: all 64 bits set, ten bytes
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    ]);
    assert_eq!(bytes.len(), 55);
    assert_eq!(encode(&req), bytes);
    assert_eq!(decode(&bytes).unwrap(), req);
}

#[test]
fn default_values_are_left_out() {
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            samples: vec![Sample { t: 0, v: 0.0 }],
            ..TimeSeries::default()
        }],
        metadata: vec![MetricMetadata::default()],
    };
    // An empty series holding an empty sample, and an empty metadata entry.
    let bytes = [0x0a, 0x02, 0x12, 0x00, 0x1a, 0x00];
    assert_eq!(encode(&req), bytes);
    assert_eq!(decode(&bytes).unwrap(), req);
    assert_eq!(encode(&WriteRequest::default()), b"");
    assert_eq!(decode(b"").unwrap(), WriteRequest::default());
}

#[test]
fn special_values_survive_bit_for_bit() {
    let values = [stale_nan(), f64::NAN, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::MIN_POSITIVE];
    let times = [i64::MIN, -1, 0, 1, i64::MAX];
    let samples: Vec<Sample> =
        values.iter().zip(times.iter().cycle()).map(|(&v, &t)| Sample { t, v }).collect();
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: Labels::from_pairs(&[("__name__", "m"), ("ünï", "cödé ✓")]),
            samples: samples.clone(),
            ..TimeSeries::default()
        }],
        metadata: vec![],
    };
    let back = decode(&encode(&req)).unwrap();
    let got = &back.timeseries[0];
    assert_eq!(got.labels, req.timeseries[0].labels);
    assert_eq!(got.samples.len(), samples.len());
    for (a, b) in got.samples.iter().zip(&samples) {
        assert_eq!((a.t, a.v.to_bits()), (b.t, b.v.to_bits()));
    }
}

#[test]
fn every_metric_kind_round_trips() {
    let kinds = [
        MetricKind::Unknown,
        MetricKind::Counter,
        MetricKind::Gauge,
        MetricKind::Histogram,
        MetricKind::GaugeHistogram,
        MetricKind::Summary,
        MetricKind::Info,
        MetricKind::StateSet,
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        assert_eq!(kind.to_wire(), i as i32);
        assert_eq!(MetricKind::from_wire(kind.to_wire()), kind);
        let req = WriteRequest {
            timeseries: vec![],
            metadata: vec![MetricMetadata { kind, family: "f".into(), ..Default::default() }],
        };
        assert_eq!(decode(&encode(&req)).unwrap(), req, "{}", kind.as_str());
    }
    // Values outside the enum, including a negative one, read as unknown.
    let m = decode(&len_field(0x1a, &[0x08, 42])).unwrap();
    assert_eq!(m.metadata[0].kind, MetricKind::Unknown);
    let neg = cat(&[&[0x08], &[0xff; 9], &[0x01]]);
    let m = decode(&len_field(0x1a, &neg)).unwrap();
    assert_eq!(m.metadata[0].kind, MetricKind::Unknown);
}

#[test]
fn labels_are_normalised_on_decode() {
    // Unsorted, an empty value, and a duplicate name (the last one wins).
    let label = |n: &str, v: &str| {
        len_field(0x0a, &cat(&[&len_field(0x0a, n.as_bytes()), &len_field(0x12, v.as_bytes())]))
    };
    let series =
        cat(&[&label("zone", "b"), &label("empty", ""), &label("a", "1"), &label("a", "2")]);
    let req = decode(&len_field(0x0a, &series)).unwrap();
    assert_eq!(req.timeseries[0].labels, Labels::from_pairs(&[("a", "2"), ("zone", "b")]));
}

#[test]
fn repeated_scalar_fields_keep_the_last_value() {
    let sample = [0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0x01, 0x10, 0x02];
    let req = decode(&len_field(0x0a, &len_field(0x12, &sample))).unwrap();
    assert_eq!(req.timeseries[0].samples, [Sample { t: 2, v: 1.0 }]);
}

#[test]
fn unknown_fields_of_every_wire_type_are_skipped() {
    let unknown: Vec<u8> = cat(&[
        &[0x48, 0x96, 0x01],                   // field 9, VARINT 150
        &[0x7d, 1, 2, 3, 4],                   // field 15, I32
        &[0x81, 0x01],                         // field 16, I64 (a two-byte key)
        &[1, 2, 3, 4, 5, 6, 7, 8],             //
        &[0x3a, 0x03, 9, 9, 9],                // field 7, LEN
        &[0x2b, 0x33, 0x08, 0x01, 0x34, 0x2c], // group 5 { group 6 { field 1 } }
        &[0xfa, 0xff, 0xff, 0xff, 0x0f, 0x00], // field 2^29 - 1, LEN, empty
    ]);
    let label = |n: &[u8], v: &[u8]| {
        len_field(0x0a, &cat(&[&len_field(0x0a, n), &unknown, &len_field(0x12, v)]))
    };
    let sample = cat(&[&[0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f], &unknown, &[0x10, 0xe8, 0x07]]);
    let series = cat(&[
        &label(b"__name__", b"up"),
        &unknown,
        &len_field(0x22, &[0x08, 0x05, 0x12, 0x00]), // a native histogram
        &label(b"job", b"a"),
        &len_field(0x12, &sample),
        &len_field(0x22, &[]), // another, empty
    ]);
    let bytes = cat(&[&unknown, &len_field(0x0a, &series), &unknown]);
    let mut want = up_series();
    want.histograms_skipped = 2;
    assert_eq!(decode(&bytes).unwrap(), WriteRequest { timeseries: vec![want], metadata: vec![] });
}

fn fails(bytes: &[u8]) -> DecodeError {
    match decode(bytes) {
        Ok(req) => panic!("decoded {req:?} from {bytes:02x?}"),
        Err(e) => e,
    }
}

fn fails_at(bytes: &[u8], kind: DecodeErrorKind, path: &str) {
    let e = fails(bytes);
    assert_eq!((&e.kind, e.path.as_str()), (&kind, path), "{e}");
}

#[test]
fn truncated_varints_are_rejected() {
    fails_at(&[0x8a], DecodeErrorKind::TruncatedVarint, "");
    fails_at(&[0x0a], DecodeErrorKind::TruncatedVarint, "timeseries[0]");
    fails_at(&[0x0a, 0x80], DecodeErrorKind::TruncatedVarint, "timeseries[0]");
    let sample = len_field(0x12, &[0x10, 0xe8]);
    fails_at(
        &len_field(0x0a, &sample),
        DecodeErrorKind::TruncatedVarint,
        "timeseries[0].samples[0].timestamp",
    );
}

#[test]
fn overlong_varints_are_rejected() {
    let sample = cat(&[&[0x10], &[0xff; 10], &[0x01]]);
    fails_at(
        &len_field(0x0a, &len_field(0x12, &sample)),
        DecodeErrorKind::VarintOverflow,
        "timeseries[0].samples[0].timestamp",
    );
    // Ten bytes, but the last carries bits past 64.
    let sample = cat(&[&[0x10], &[0xff; 9], &[0x02]]);
    fails_at(
        &len_field(0x0a, &len_field(0x12, &sample)),
        DecodeErrorKind::VarintOverflow,
        "timeseries[0].samples[0].timestamp",
    );
}

#[test]
fn lengths_past_the_end_are_rejected_without_allocating() {
    fails_at(
        &[0x0a, 0x05, 0x0a],
        DecodeErrorKind::Truncated { needed: 5, remaining: 1 },
        "timeseries[0]",
    );
    // A length of 2^32 - 1 in a six-byte input.
    fails_at(
        &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],
        DecodeErrorKind::Truncated { needed: 0xffff_ffff, remaining: 0 },
        "timeseries[0]",
    );
    fails_at(
        &cat(&[&[0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]]),
        DecodeErrorKind::Truncated { needed: u64::MAX, remaining: 0 },
        "timeseries[0]",
    );
    // A label whose length fits the whole input but not its own series.
    let bytes = cat(&[&[0x0a, 0x02, 0x0a, 0x05], &[0x0a, 0x01, b'a', 0x12, 0x01]]);
    fails_at(
        &bytes,
        DecodeErrorKind::Truncated { needed: 5, remaining: 0 },
        "timeseries[0].labels[0]",
    );
    // A double cut short.
    fails_at(
        &len_field(0x0a, &len_field(0x12, &[0x09, 0, 0, 0])),
        DecodeErrorKind::Truncated { needed: 8, remaining: 3 },
        "timeseries[0].samples[0].value",
    );
}

#[test]
fn invalid_utf8_is_rejected() {
    let labels = cat(&[
        &len_field(0x0a, &cat(&[&len_field(0x0a, b"__name__"), &len_field(0x12, b"up")])),
        &len_field(0x0a, &cat(&[&len_field(0x0a, b"job"), &len_field(0x12, &[b'a', 0xff])])),
    ]);
    fails_at(
        &len_field(0x0a, &labels),
        DecodeErrorKind::InvalidUtf8,
        "timeseries[0].labels[1].value",
    );
    let meta = len_field(0x22, &[0xc3, 0x28]);
    fails_at(&len_field(0x1a, &meta), DecodeErrorKind::InvalidUtf8, "metadata[0].help");
    let ex = len_field(0x0a, &len_field(0x0a, &[0xed, 0xa0, 0x80])); // a UTF-16 surrogate
    fails_at(
        &len_field(0x0a, &len_field(0x1a, &ex)),
        DecodeErrorKind::InvalidUtf8,
        "timeseries[0].exemplars[0].labels[0].name",
    );
}

#[test]
fn wire_type_mismatches_are_rejected() {
    let mismatch = |expected, found| DecodeErrorKind::WireTypeMismatch { expected, found };
    fails_at(&[0x08, 0x01], mismatch(WireType::Len, WireType::Varint), "timeseries[0]");
    fails_at(
        &len_field(0x0a, &len_field(0x12, &[0x08, 0x01])),
        mismatch(WireType::I64, WireType::Varint),
        "timeseries[0].samples[0].value",
    );
    fails_at(
        &len_field(0x0a, &len_field(0x12, &[0x11, 0, 0, 0, 0, 0, 0, 0, 0])),
        mismatch(WireType::Varint, WireType::I64),
        "timeseries[0].samples[0].timestamp",
    );
    fails_at(
        &len_field(0x1a, &[0x0a, 0x00]),
        mismatch(WireType::Varint, WireType::Len),
        "metadata[0].type",
    );
    fails_at(
        &len_field(0x0a, &[0x20, 0x01]),
        mismatch(WireType::Len, WireType::Varint),
        "timeseries[0].histograms[0]",
    );
    fails_at(
        &len_field(0x0a, &len_field(0x0a, &[0x0d, 0, 0, 0, 0])),
        mismatch(WireType::Len, WireType::I32),
        "timeseries[0].labels[0].name",
    );
}

#[test]
fn bad_keys_are_rejected() {
    fails_at(&[0x0e, 0x00], DecodeErrorKind::InvalidWireType(6), "");
    fails_at(&len_field(0x0a, &[0x0f]), DecodeErrorKind::InvalidWireType(7), "timeseries[0]");
    fails_at(&[0x00, 0x00], DecodeErrorKind::InvalidFieldNumber(0), "");
    fails_at(&[0x82, 0x80, 0x80, 0x80, 0x10], DecodeErrorKind::InvalidFieldNumber(1 << 29), "");
}

#[test]
fn broken_groups_are_rejected() {
    fails_at(&[0x14], DecodeErrorKind::UnexpectedEndGroup(2), "#2");
    fails_at(&[0x13, 0x08, 0x01], DecodeErrorKind::UnterminatedGroup(2), "#2");
    fails_at(&[0x13, 0x1c], DecodeErrorKind::UnexpectedEndGroup(3), "#2");
    fails_at(&[0x13; 500], DecodeErrorKind::GroupsTooDeep, "#2");
    // A group may not run past the end of its enclosing message.
    fails_at(
        &cat(&[&len_field(0x0a, &[0x2b]), &[0x2c]]),
        DecodeErrorKind::UnterminatedGroup(5),
        "timeseries[0].#5",
    );
}

#[test]
fn errors_say_where() {
    let e = fails(&[0x0a, 0x05, 0x0a]);
    assert_eq!(e.offset, 2);
    assert_eq!(e.to_string(), "needs 5 bytes but only 1 remain at timeseries[0] (byte 2)");
    let e = fails(&[0x8a]);
    assert_eq!(e.to_string(), "truncated varint at WriteRequest (byte 0)");
}
