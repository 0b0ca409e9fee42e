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
