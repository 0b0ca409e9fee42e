//! Numbers and durations written the way Sloth's generated rules spell them: floats
//! in Go's shortest `%g`/`%v` and `'f', -1` forms, durations in Prometheus' compact
//! form (`5m`, `1d`, `4w`, `1d12h`).

/// The shortest decimal digits that read back as `v` (no sign), and the decimal
/// exponent of the first digit (`1.5` → `("15", 0)`).
fn shortest_digits(v: f64, single: bool) -> (String, i32) {
    let s = if single { format!("{:e}", v.abs() as f32) } else { format!("{:e}", v.abs()) };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    (digits.to_owned(), exp.parse().unwrap_or(0))
}

fn special(v: f64) -> Option<String> {
    if v.is_nan() {
        Some("NaN".to_owned())
    } else if v.is_infinite() {
        Some(if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned())
    } else {
        None
    }
}

/// Go's `%g` with the shortest precision (also what `%v` and templates print):
/// the exponent form when the decimal exponent is below -4 or at least 6
/// (`1e-05`, `1e+06`), plain digits otherwise.
pub fn go_g(v: f64) -> String {
    g_common(v, false)
}

/// Go's `strconv.FormatFloat(v, 'g', -1, 32)`: the shortest float32 form.
pub fn go_g32(v: f64) -> String {
    g_common(v, true)
}

fn g_common(v: f64, single: bool) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let neg = v.is_sign_negative();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if v == 0.0 {
        out.push('0');
        return out;
    }
    let (digits, exp) = shortest_digits(v, single);
    if !(-4..6).contains(&exp) {
        let mut chars = digits.chars();
        if let Some(first) = chars.next() {
            out.push(first);
        }
        let rest: String = chars.collect();
        if !rest.is_empty() {
            out.push('.');
            out.push_str(&rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        out.push_str(&e.to_string());
        return out;
    }
    out.push_str(&fixed(&digits, exp));
    out
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest digits, never an exponent.
pub fn go_f(v: f64) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    if v == 0.0 {
        out.push('0');
        return out;
    }
    let (digits, exp) = shortest_digits(v, false);
    out.push_str(&fixed(&digits, exp));
    out
}

/// Places the decimal point in `digits` whose first digit has exponent `exp`.
fn fixed(digits: &str, exp: i32) -> String {
    let dp = exp + 1; // digits before the decimal point
    let nd = digits.len() as i32;
    let mut out = String::new();
    if dp > 0 {
        for i in 0..dp {
            out.push(digits.as_bytes().get(i as usize).map_or('0', |b| *b as char));
        }
    } else {
        out.push('0');
    }
    let frac = (nd - dp).max(0);
    if frac > 0 {
        out.push('.');
        for i in 0..frac {
            let idx = dp + i;
            let c = if idx < 0 { '0' } else { digits.as_bytes()[idx as usize] as char };
            out.push(c);
        }
    }
    out
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
