//! Chunk encoding: random series round-trip bit for bit, and the compression
//! reached on realistic series.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use andon_series::Sample;
use andon_tsdb::chunk::{self, Encoder};
use proptest::prelude::*;

fn assert_bit_exact(want: &[Sample], got: &[Sample]) {
    assert_eq!(want.len(), got.len());
    for (a, b) in want.iter().zip(got) {
        assert_eq!((a.t, a.v.to_bits()), (b.t, b.v.to_bits()));
    }
}

/// Values drawn from what breaks naive encoders: arbitrary bit patterns (NaN
/// payloads included), specials, and runs of similar numbers.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        Just(f64::from_bits(andon_series::STALE_NAN_BITS)),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(0.0),
        (0u32..1000).prop_map(f64::from),
        (-100_000i64..100_000).prop_map(|c| c as f64 / 100.0),
    ]
}

/// Timestamp steps: mostly regular, sometimes jittered or far apart.
fn step() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => Just(15_000i64),
        2 => 14_990i64..15_010,
        1 => 1i64..100,
        1 => 1i64..(1 << 40),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_series_round_trip_bit_exact(
        start in any::<i64>().prop_map(|t| t >> 2),
        steps in proptest::collection::vec(step(), 0..300),
        values in proptest::collection::vec(value(), 300),
    ) {
        let mut t = start;
        let mut samples = Vec::new();
        for (i, s) in steps.iter().enumerate() {
            samples.push(Sample { t, v: values[i] });
            t = t.wrapping_add(*s);
        }
        let bytes = chunk::encode(&samples);
        assert_bit_exact(&samples, &chunk::decode(&bytes).unwrap());
    }

    #[test]
    fn arbitrary_timestamps_and_bits_round_trip(
        raw in proptest::collection::vec((any::<i64>(), any::<u64>()), 0..200),
    ) {
        let samples: Vec<Sample> = raw.iter().map(|&(t, b)| Sample { t, v: f64::from_bits(b) }).collect();
        let mut e = Encoder::new();
        for s in &samples {
            prop_assert!(e.append(s.t, s.v));
        }
        prop_assert_eq!(e.num_samples(), samples.len());
        assert_bit_exact(&samples, &chunk::decode(e.bytes()).unwrap());
    }

    #[test]
    fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = chunk::decode(&bytes);
    }

    #[test]
    fn integer_and_decimal_series_round_trip_bit_exact(
        start in any::<i64>().prop_map(|t| t >> 2),
        steps in proptest::collection::vec(step(), 1..300),
        first in -(1i64 << 53)..=(1 << 53),
        moves in proptest::collection::vec(int_move(), 300),
        scale in 0u32..=17,
        special in proptest::option::of((0usize..300, value())),
    ) {
        let samples = int_series(start, &steps, first, &moves, scale, special);
        let bytes = chunk::encode(&samples);
        assert_bit_exact(&samples, &chunk::decode(&bytes).unwrap());
        prop_assert_eq!(chunk::num_samples(&bytes).unwrap(), samples.len());
        let mut e = Encoder::new();
        for s in &samples {
            e.append(s.t, s.v);
        }
        assert_bit_exact(&samples, &chunk::decode(e.bytes()).unwrap());
        prop_assert_eq!(e.into_bytes(), bytes);
    }

    #[test]
    fn damaged_chunks_never_panic(
        steps in proptest::collection::vec(step(), 1..150),
        first in -(1i64 << 53)..=(1 << 53),
        moves in proptest::collection::vec(int_move(), 300),
        scale in 0u32..=3,
        damage in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
    ) {
        let samples = int_series(1_700_000_000_000, &steps, first, &moves, scale, None);
        for mut bytes in [chunk::encode(&samples), encoder_bytes(&samples)] {
            let _ = chunk::decode(&bytes[..cut % (bytes.len() + 1)]);
            for &(at, x) in &damage {
                let i = at % bytes.len();
                bytes[i] ^= x;
            }
            let _ = chunk::decode(&bytes);
            let _ = chunk::num_samples(&bytes);
        }
    }
}

/// Steps of an integer series: mostly small, sometimes zero or huge.
fn int_move() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => -3i64..10,
        2 => Just(0i64),
        1 => -5_000i64..5_000,
        1 => any::<i64>().prop_map(|m| m >> 10),
    ]
}

/// Values `m / 10^scale` for a random walk `m` (wrapping into ±2^53), one of
/// them possibly replaced by an arbitrary value.
fn int_series(
    start: i64,
    steps: &[i64],
    first: i64,
    moves: &[i64],
    scale: u32,
    special: Option<(usize, f64)>,
) -> Vec<Sample> {
    let limit = 1i64 << 53;
    let mut t = start;
    let mut m = first;
    let mut out = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let v = if scale == 0 { m as f64 } else { m as f64 / 10f64.powi(scale as i32) };
        out.push(Sample { t, v });
        t = t.wrapping_add(*s);
        m = m.wrapping_add(moves[i % moves.len()]);
        if m.abs() > limit {
            m %= limit;
        }
    }
    if let Some((i, v)) = special {
        let n = out.len();
        out[i % n].v = v;
    }
    out
}

fn encoder_bytes(samples: &[Sample]) -> Vec<u8> {
    let mut e = Encoder::new();
    for s in samples {
        e.append(s.t, s.v);
    }
    e.bytes().to_vec()
}

/// Bytes per sample of one series stored in 120-sample chunks.
fn bytes_per_sample(samples: &[Sample]) -> f64 {
    let mut total = 0;
    for c in samples.chunks(chunk::SAMPLES_PER_CHUNK) {
        let bytes = chunk::encode(c);
        assert_bit_exact(c, &chunk::decode(&bytes).unwrap());
        total += bytes.len();
    }
    total as f64 / samples.len() as f64
}

#[test]
fn compression_of_realistic_series() {
    let mut rng = common::Rng::new(7);
    let n = 2_880; // 12 h at 15 s.
    let start = 1_700_000_000_000i64;
    let regular = |i: usize| start + i as i64 * 15_000;

    let mut v = 1_234_567.0;
    let counter: Vec<Sample> = (0..n)
        .map(|i| {
            v += rng.below(8) as f64;
            Sample { t: regular(i), v }
        })
        .collect();
    let mut cents = 2_345i64;
    let gauge: Vec<Sample> = (0..n)
        .map(|i| {
            cents += rng.below(41) as i64 - 20;
            Sample { t: regular(i), v: cents as f64 / 100.0 }
        })
        .collect();
    let constant: Vec<Sample> = (0..n).map(|i| Sample { t: regular(i), v: 1.0 }).collect();
    let jittered: Vec<Sample> =
        (0..n).map(|i| Sample { t: regular(i) + rng.below(25) as i64, v: 1.0 }).collect();

    let c = bytes_per_sample(&counter);
    let g = bytes_per_sample(&gauge);
    let k = bytes_per_sample(&constant);
    let j = bytes_per_sample(&jittered);
    println!("bytes/sample: counter +0..7 every 15 s: {c:.3}");
    println!("bytes/sample: gauge with two decimals: {g:.3}");
    println!("bytes/sample: constant: {k:.3}");
    println!("bytes/sample: constant, timestamps jittered 0..24 ms: {j:.3}");
    assert!(c < 0.65, "counter {c}");
    assert!(g < 0.95, "gauge {g}");
    assert!(k < 0.14, "constant {k}");
    assert!(j < 0.85, "jittered {j}");
}
