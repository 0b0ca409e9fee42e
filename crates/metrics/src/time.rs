//! Time parameters as Prometheus's API takes them: Unix seconds (float) or
//! RFC 3339; durations as seconds (float) or Prometheus durations.

/// Now as Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `1700000000`, `1700000000.123` or `2023-11-14T22:13:20.123Z` → ms.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() {
            return None;
        }
        return Some((f * 1000.0).round() as i64);
    }
    parse_rfc3339(s)
}

/// `15`, `1.5` (seconds) or `1m30s` → ms.
pub fn parse_duration(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() || f < 0.0 {
            return None;
        }
        return Some((f * 1000.0).round() as i64);
    }
    andon_promql::parse_duration(s).filter(|d| *d >= 0)
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    andon_core::Timestamp::parse_rfc3339(s).map(andon_core::Timestamp::millis)
}

/// ms → RFC 3339 with milliseconds, UTC.
pub fn format_rfc3339(ms: i64) -> String {
    andon_core::Timestamp::from_millis(ms).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1435781451.781"), Some(1_435_781_451_781));
        assert_eq!(parse_time("2015-07-01T20:10:51.781Z"), Some(1_435_781_451_781));
        assert_eq!(parse_time("2015-07-01T22:10:51+02:00"), Some(1_435_781_451_000));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(format_rfc3339(1_435_781_451_781), "2015-07-01T20:10:51.781Z");
        assert_eq!(parse_duration("15"), Some(15_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000));
        assert_eq!(parse_duration("-1"), None);
    }
}
