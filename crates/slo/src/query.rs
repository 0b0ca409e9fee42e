//! SLI query templates: `{{.window}}` (spaces allowed inside the braces) replaced by
//! a Prometheus duration, and the checks Sloth makes on them — the variable present,
//! and the result valid PromQL.

/// Replaces every `{{.window}}` (also `{{ .window }}`) in `tpl` with `window`.
/// Any other `{{ … }}` action is an error: queries have no other variables.
pub fn render(tpl: &str, window: &str) -> Result<String, String> {
    let mut out = String::with_capacity(tpl.len());
    let mut rest = tpl;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("unclosed template action \"{{\"".to_owned());
        };
        let inner = &after[..end];
        if inner.trim_matches(' ') != ".window" {
            return Err(format!(
                "unsupported template action \"{{{{{inner}}}}}\": only {{{{.window}}}} is available in SLI queries"
            ));
        }
        out.push_str(window);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether the query uses the window variable (`{{ *.window *}}`).
pub fn has_window(tpl: &str) -> bool {
    let mut rest = tpl;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        if let Some(end) = after.find("}}")
            && after[..end].trim_matches(' ') == ".window"
        {
            return true;
        }
        rest = after;
    }
    false
}

/// Checks a query template: it renders, and the result (with a 1m window) parses as
/// PromQL yielding an instant vector or a scalar. Returns the problem as a message.
pub fn check(tpl: &str) -> Result<(), String> {
    if tpl.trim().is_empty() {
        return Err("query is required".to_owned());
    }
    let rendered = render(tpl, "1m")?;
    let expr = andon_promql::parse(&rendered).map_err(|e| format!("invalid PromQL: {e}"))?;
    match expr.value_type().to_string().as_str() {
        t @ ("matrix" | "string") => Err(format!(
            "the query yields a {} where an instant vector or a scalar is needed",
            if t == "matrix" { "range vector" } else { "string" }
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_substituted() {
        assert_eq!(
            render("sum(rate(x[{{.window}}])) / sum(rate(y[{{ .window }}]))", "5m").unwrap(),
            "sum(rate(x[5m])) / sum(rate(y[5m]))"
        );
        assert!(has_window("x[{{ .window}}]"));
        assert!(!has_window("x[5m]"));
        assert_eq!(
            render("x[{{.win}}]", "5m").unwrap_err(),
            "unsupported template action \"{{.win}}\": only {{.window}} is available in SLI queries"
        );
    }

    #[test]
    fn queries_must_parse() {
        assert!(check("sum(rate(x[{{.window}}]))").is_ok());
        let err = check("sum(rate(x[{{.window}}])").unwrap_err();
        assert!(err.starts_with("invalid PromQL: "), "{err}");
        assert_eq!(
            check("x[{{.window}}]").unwrap_err(),
            "the query yields a range vector where an instant vector or a scalar is needed"
        );
    }
}
