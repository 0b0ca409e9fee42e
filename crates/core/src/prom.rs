//! Writing metrics in the Prometheus text format, shared by everything andon exports
//! about itself.

use std::fmt::Write;

/// Writes a histogram's series: cumulative `_bucket`s (from per-bucket `counts`, one per
/// bound), `+Inf`, `_sum` and `_count`. `labels` is `a="x",b="y"` or empty.
pub fn write_histogram(
    out: &mut String,
    name: &str,
    labels: &str,
    bounds: &[f64],
    counts: &[u64],
    sum: f64,
    count: u64,
) {
    let sep = if labels.is_empty() { "" } else { "," };
    let mut cumulative = 0;
    for (b, c) in bounds.iter().zip(counts) {
        cumulative += c;
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
    let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
    let _ = writeln!(out, "{name}_sum{braces} {sum}");
    let _ = writeln!(out, "{name}_count{braces} {count}");
}

/// Writes `# HELP` and `# TYPE` lines.
pub fn write_header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Escapes a label value.
pub fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Prometheus's duration units, largest first, in milliseconds.
const DURATION_UNITS: [(&str, i64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

/// A Prometheus duration in milliseconds: `0`, or `1h30m`, `5m`, `10s53ms`, units
/// y w d h m s ms, each at most once and largest first, integers only (as
/// Prometheus and Alertmanager read them). `None` when malformed or too large.
pub fn parse_prom_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let mut i = 0;
    let mut total: i64 = 0;
    let mut last: Option<usize> = None;
    while i < b.len() {
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if st == i {
            return None;
        }
        let n: i64 = s[st..i].parse().ok()?;
        let us = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let idx = DURATION_UNITS.iter().position(|(u, _)| *u == &s[us..i])?;
        if last.is_some_and(|l| idx <= l) {
            return None;
        }
        last = Some(idx);
        total = total.checked_add(n.checked_mul(DURATION_UNITS[idx].1)?)?;
    }
    Some(total)
}

/// A duration as Prometheus writes one: `0s`, `5m`, `1h30m`, `2w`, `106700d`
/// (years and weeks only when they divide it exactly).
pub fn format_prom_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms;
    if rest < 0 {
        out.push('-');
        rest = rest.saturating_neg();
    }
    for (unit, mult) in DURATION_UNITS {
        if matches!(unit, "y" | "w") && rest % mult != 0 {
            continue;
        }
        let v = rest / mult;
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
            rest -= v * mult;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let mut out = String::new();
        write_histogram(&mut out, "h", "route=\"/x\"", &[0.1, 1.0], &[2, 3], 1.5, 6);
        assert_eq!(
            out,
            "h_bucket{route=\"/x\",le=\"0.1\"} 2\nh_bucket{route=\"/x\",le=\"1\"} 5\nh_bucket{route=\"/x\",le=\"+Inf\"} 6\nh_sum{route=\"/x\"} 1.5\nh_count{route=\"/x\"} 6\n"
        );
        let mut out = String::new();
        write_histogram(&mut out, "j", "", &[1.0], &[1], 0.5, 1);
        assert_eq!(out, "j_bucket{le=\"1\"} 1\nj_bucket{le=\"+Inf\"} 1\nj_sum 0.5\nj_count 1\n");
    }
}
