//! Prometheus's duration syntax (`1h30m`, `5m`, `10s`, `250ms`, `1w`, `1y`, `0`) as
//! Alertmanager reads it in configuration, to and from milliseconds.

/// Parses a duration: units in decreasing order, each at most once, integers only.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    andon_core::prom::parse_prom_duration(s)
        .ok_or_else(|| format!("not a valid duration string: {s:?}"))
}

/// Writes milliseconds the way Prometheus prints durations: `1h30m`, `5m`, `0s`.
pub fn format_duration(ms: i64) -> String {
    andon_core::prom::format_prom_duration(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(parse_duration("30s"), Ok(30_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("4h"), Ok(14_400_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("1w"), Ok(604_800_000));
        assert_eq!(parse_duration("1y"), Ok(31_536_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("0s"), Ok(0));
        for bad in ["", "5", "1.5h", "30m1h", "1h1h", "-1m", "1 m", "1x", "m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_like_prometheus() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(300_000), "5m");
        assert_eq!(format_duration(86_400_000), "1d");
        assert_eq!(format_duration(1_500), "1s500ms");
    }
}
