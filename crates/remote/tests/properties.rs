//! Property tests: generated requests and byte strings survive both layers
//! unchanged, and arbitrary or damaged input never panics in either decoder.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use andon_remote::{
    Exemplar, MetricKind, MetricMetadata, TimeSeries, WriteRequest, decode, decode_snappy, encode,
    encode_snappy, snappy,
};
use andon_series::{Label, Labels, Sample, stale_nan};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        1 => Just(stale_nan()),
        1 => Just(-0.0),
        1 => Just(0.0),
        1 => Just(f64::INFINITY),
        1 => (-1000i32..1000).prop_map(f64::from),
    ]
}

fn timestamp() -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), 1_600_000_000_000i64..1_800_000_000_000, Just(0), -5i64..5]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z_]{0,12}", "\\PC{0,8}", Just(String::new())]
}

fn labels() -> impl Strategy<Value = Labels> {
    prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,10}", text()), 0..6)
        .prop_map(|pairs| Labels::new(pairs.into_iter().map(|(n, v)| Label::new(n, v)).collect()))
}

fn kind() -> impl Strategy<Value = MetricKind> {
    (0i32..8).prop_map(MetricKind::from_wire)
}

fn request() -> impl Strategy<Value = WriteRequest> {
    let sample = (timestamp(), value()).prop_map(|(t, v)| Sample { t, v });
    let exemplar = (labels(), value(), timestamp())
        .prop_map(|(labels, value, timestamp)| Exemplar { labels, value, timestamp });
    let series =
        (labels(), prop::collection::vec(sample, 0..6), prop::collection::vec(exemplar, 0..3))
            .prop_map(|(labels, samples, exemplars)| TimeSeries {
                labels,
                samples,
                exemplars,
                histograms_skipped: 0,
            });
    let meta = (kind(), text(), text(), text())
        .prop_map(|(kind, family, help, unit)| MetricMetadata { kind, family, help, unit });
    (prop::collection::vec(series, 0..6), prop::collection::vec(meta, 0..4))
        .prop_map(|(timeseries, metadata)| WriteRequest { timeseries, metadata })
}

/// Equality that compares floats by their bits, so NaNs count.
fn same(a: &WriteRequest, b: &WriteRequest) -> bool {
    let samples_eq = |x: &[Sample], y: &[Sample]| {
        x.len() == y.len()
            && x.iter().zip(y).all(|(p, q)| p.t == q.t && p.v.to_bits() == q.v.to_bits())
    };
    let exemplars_eq = |x: &[Exemplar], y: &[Exemplar]| {
        x.len() == y.len()
            && x.iter().zip(y).all(|(p, q)| {
                p.labels == q.labels
                    && p.timestamp == q.timestamp
                    && p.value.to_bits() == q.value.to_bits()
            })
    };
    a.metadata == b.metadata
        && a.timeseries.len() == b.timeseries.len()
        && a.timeseries.iter().zip(&b.timeseries).all(|(p, q)| {
            p.labels == q.labels
                && p.histograms_skipped == q.histograms_skipped
                && samples_eq(&p.samples, &q.samples)
                && exemplars_eq(&p.exemplars, &q.exemplars)
        })
}

/// Byte strings with long repeats: pieces of a small vocabulary, some of
/// them copied again from earlier output.
fn repetitive() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::collection::vec(any::<u8>(), 1..8),
        (any::<u8>(), 1usize..300).prop_map(|(b, n)| vec![b; n]),
        prop::sample::select(vec![
            b"http_requests_total".to_vec(),
            b"{job=\"api\"} ".to_vec(),
            b"1700000000000\n".to_vec(),
        ]),
    ];
    prop::collection::vec((piece, any::<bool>(), any::<prop::sample::Index>(), 1usize..200), 0..60)
        .prop_map(|steps| {
            let mut out: Vec<u8> = Vec::new();
            for (piece, copy, at, len) in steps {
                if copy && !out.is_empty() {
                    let start = at.index(out.len());
                    let end = (start + len).min(out.len());
                    out.extend_from_within(start..end);
                } else {
                    out.extend_from_slice(&piece);
                }
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn requests_round_trip(req in request()) {
        let bytes = encode(&req);
        let back = decode(&bytes).unwrap();
        prop_assert!(same(&back, &req), "{back:?} != {req:?}");
        prop_assert_eq!(encode(&back), bytes);
        let body = encode_snappy(&req);
        prop_assert!(same(&decode_snappy(&body).unwrap(), &req));
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&input);
        let _ = snappy::decompress(&input);
        let _ = decode_snappy(&input);
    }

    #[test]
    fn damaged_requests_never_panic(
        req in request(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode(&req);
        if !bytes.is_empty() {
            for (at, b) in &flips {
                let i = at.index(bytes.len());
                bytes[i] = *b;
            }
            let _ = decode(&bytes);
            bytes.truncate(cut.index(bytes.len()));
        }
        let _ = decode(&bytes);
    }

    #[test]
    fn random_bytes_round_trip_through_snappy(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        let c = snappy::compress(&data);
        prop_assert_eq!(snappy::decompress(&c).unwrap(), data);
    }

    #[test]
    fn repetitive_bytes_round_trip_through_snappy(data in repetitive()) {
        let c = snappy::compress(&data);
        prop_assert_eq!(snappy::decompress(&c).unwrap(), data);
    }

    #[test]
    fn damaged_blocks_never_panic(
        data in repetitive(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut c = snappy::compress(&data);
        for (at, b) in &flips {
            let i = at.index(c.len());
            c[i] = *b;
        }
        let _ = snappy::decompress(&c);
        c.truncate(cut.index(c.len()));
        let _ = snappy::decompress(&c);
    }
}
