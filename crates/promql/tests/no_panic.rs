//! Property test: evaluating any parsed expression over arbitrary data never
//! panics; it returns a value or an error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use andon_promql::{Options, instant_query, parse, range_query};
use andon_series::{Labels, MemStorage, stale_nan};
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b{l=\"x\"}".to_string()),
        Just("{__name__=~\"a|b\"}".to_string()),
        Just("a offset 1m".to_string()),
        Just("b @ 100".to_string()),
        (-5.0f64..5.0).prop_map(|v| format!("{v}")),
        Just("NaN".to_string()),
        Just("time()".to_string()),
    ]
}

fn range_of(inner: String) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(format!("rate({inner}[1m:10s])")),
        Just(format!("max_over_time({inner}[2m:30s])")),
        Just(format!("quantile_over_time(0.5, {inner}[1m:15s])")),
        Just(format!("predict_linear({inner}[1m:20s], 60)")),
    ]
}

fn expr() -> impl Strategy<Value = String> {
    leaf().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec![
                    "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<=", "and", "or", "unless",
                    "atan2"
                ])
            )
                .prop_map(|(l, r, op)| format!("({l}) {op} ({r})")),
            (inner.clone(), inner.clone())
                .prop_map(|(l, r)| format!("({l}) > bool on(l) group_left ({r})")),
            (
                inner.clone(),
                prop::sample::select(vec!["sum", "avg", "min", "max", "count", "stddev", "group"])
            )
                .prop_map(|(e, agg)| format!("{agg} by (l) ({e})")),
            inner.clone().prop_map(|e| format!("topk(2, {e})")),
            inner.clone().prop_map(|e| format!("quantile(0.9, {e})")),
            inner.clone().prop_map(|e| format!("count_values(\"v\", {e})")),
            inner.clone().prop_map(|e| format!("abs({e})")),
            inner.clone().prop_map(|e| format!("clamp({e}, -1, 1)")),
            inner
                .clone()
                .prop_map(|e| format!("label_replace({e}, \"m\", \"$1\", \"l\", \"(.*)\")")),
            inner.clone().prop_map(|e| format!("histogram_quantile(0.5, {e})")),
            inner.clone().prop_map(|e| format!("absent({e})")),
            inner.clone().prop_map(|e| format!("sort_desc({e})")),
            inner.clone().prop_map(|e| format!("-({e})")),
            inner.prop_flat_map(range_of),
        ]
    })
}

fn data() -> impl Strategy<Value = Vec<(u8, u8, i64, f64)>> {
    prop::collection::vec(
        (
            0u8..2,
            0u8..3,
            0i64..40,
            prop_oneof![-1e6f64..1e6, Just(f64::NAN), Just(f64::INFINITY), Just(stale_nan())],
        ),
        0..60,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn evaluation_never_panics(e in expr(), points in data()) {
        let mut st = MemStorage::new();
        for (name, l, t, v) in points {
            let le = ["0.1", "1", "+Inf"][usize::from(l)];
            let labels = Labels::from_pairs(&[("__name__", if name == 0 { "a" } else { "b" }), ("l", ["x", "y", "z"][usize::from(l)]), ("le", le)]);
            st.append(&labels, t * 10_000, v);
        }
        let Ok(expr) = parse(&e) else { return Ok(()) };
        let opts = Options::default();
        let _ = instant_query(&st, &expr, 200_000, &opts);
        let _ = range_query(&st, &expr, 0, 400_000, 15_000, &opts);
    }
}
