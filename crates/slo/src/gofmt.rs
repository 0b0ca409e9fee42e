//! Numbers and durations written the way Sloth's generated rules spell them: floats
//! in Go's shortest `%g`/`%v` and `'f', -1` forms, durations in Prometheus' compact
//! form (`5m`, `1d`, `4w`, `1d12h`).

pub use andon_template::{go_float as go_g, go_float_fixed as go_f};

/// Go's `strconv.FormatFloat(v, 'g', -1, 32)`: the shortest float32 form. The shortest
/// float32 digits (at most 9) read as a float64 print back as themselves.
pub fn go_g32(v: f64) -> String {
    let single = v as f32;
    if !single.is_finite() {
        return go_g(f64::from(single));
    }
    format!("{single:e}").parse::<f64>().map_or_else(|_| go_g(v), go_g)
}

pub use andon_promql::{format_duration as prom_duration, parse_duration as parse_prom_duration};

/// A duration in hours as Go's `time.Duration.Hours()` computes it.
pub fn hours(ms: i64) -> f64 {
    (ms / 3_600_000) as f64 + (ms % 3_600_000) as f64 / 3_600_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_match_go() {
        assert_eq!(go_g(99.9 / 100.0), "0.9990000000000001");
        assert_eq!(go_g((100.0 - 99.9) / 100.0), "0.0009999999999999432");
        assert_eq!(go_g(14.4), "14.4");
        assert_eq!(go_g(6.0), "6");
        assert_eq!(go_g(30.0), "30");
        assert_eq!(go_g(1e6), "1e+06");
        assert_eq!(go_g(123456.0), "123456");
        assert_eq!(go_g(0.00001), "1e-05");
        assert_eq!(go_g(0.0001), "0.0001");
        assert_eq!(go_g(2.5e-7), "2.5e-07");
        assert_eq!(go_g(1e100), "1e+100");
        assert_eq!(go_g(-0.5), "-0.5");
        assert_eq!(go_g32(0.2), "0.2");
        assert_eq!(go_g32(1e7), "1e+07");
        assert_eq!(go_f(99.9), "99.9");
        assert_eq!(go_f(100.0), "100");
        assert_eq!(go_f(1e21), "1000000000000000000000");
        assert_eq!(go_f(0.000123), "0.000123");
    }

    #[test]
    fn durations_match_prometheus() {
        assert_eq!(prom_duration(5 * 60_000), "5m");
        assert_eq!(prom_duration(30 * 86_400_000), "30d");
        assert_eq!(prom_duration(28 * 86_400_000), "4w");
        assert_eq!(prom_duration(7 * 86_400_000), "1w");
        assert_eq!(prom_duration(36 * 3_600_000), "1d12h");
        assert_eq!(prom_duration(24 * 3_600_000), "1d");
        assert_eq!(prom_duration(0), "0s");
        assert_eq!(parse_prom_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_prom_duration("30m1h"), None);
        assert_eq!(parse_prom_duration("72h"), Some(3 * 86_400_000));
        assert_eq!(parse_prom_duration("5x"), None);
        assert_eq!(hours(30 * 86_400_000), 720.0);
    }
}
