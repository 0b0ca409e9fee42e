//! Everything the CLI prints goes through here: tables, JSON, YAML, diagnostics.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal, Write};

use andon_spec::Diagnostic;

pub fn line(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}");
}

pub fn raw(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

pub fn error(s: &str) {
    eprintln!("error: {s}");
}

pub fn note(s: &str) {
    eprintln!("{s}");
}

pub fn json(v: &serde_json::Value) {
    line(&serde_json::to_string_pretty(v).unwrap_or_default());
}

pub fn yaml(v: &serde_json::Value) {
    raw(&andon_spec::yaml_out::to_yaml(v));
}

/// Prints diagnostics, with source snippets when `to` is a terminal.
pub fn diagnostics(diags: &[Diagnostic], sources: &[andon_spec::lint::Input], to_stdout: bool) {
    let tty =
        if to_stdout { std::io::stdout().is_terminal() } else { std::io::stderr().is_terminal() };
    let mut text = String::new();
    for d in diags {
        let source = sources
            .iter()
            .find(|s| Some(&s.name) == d.file.as_ref())
            .and_then(|s| std::str::from_utf8(&s.bytes).ok());
        match (tty, source) {
            (true, Some(src)) => text.push_str(&d.render_with_snippet(src)),
            _ => text.push_str(&d.to_string()),
        }
        text.push('\n');
    }
    if to_stdout {
        raw(&text);
    } else {
        eprint!("{text}");
    }
}

/// Renders rows as aligned columns, the first row being the header.
pub fn table(rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r.get(c).map_or(0, |s| s.chars().count())).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut l = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}   ", w = widths[c]));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    }
    raw(&out);
}
