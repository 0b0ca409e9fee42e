//! Diagnostics: one problem with its place in a file, a field path and a message,
//! rendered as `file:line:col: field.path: message`, optionally with a source snippet.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    pub fn new(line: usize, col: usize) -> Self {
        Pos { line, col }
    }
}

/// What sort of problem a diagnostic reports; the API picks its status from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Class {
    /// The input is not readable as YAML (syntax, encoding, nesting, alias expansion).
    Syntax,
    /// The input is larger than the limit.
    TooLarge,
    /// The input was read but a resource in it breaks a rule.
    #[default]
    Invalid,
}

/// One problem found in an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// The file (or `-`/`<request>`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub line: usize,
    pub column: usize,
    /// Dotted field path, such as `spec.ports[0].port`; empty for problems with the input as a whole.
    pub field: String,
    pub message: String,
    #[serde(skip)]
    pub class: Class,
}

impl Diagnostic {
    pub fn at(pos: Pos, field: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: None,
            line: pos.line,
            column: pos.col,
            field: field.into(),
            message: message.into(),
            class: Class::Invalid,
        }
    }

    pub fn with_class(mut self, class: Class) -> Self {
        self.class = class;
        self
    }

    pub fn with_file(mut self, file: &str) -> Self {
        self.file = Some(file.to_owned());
        self
    }

    pub fn pos(&self) -> Pos {
        Pos::new(self.line, self.column)
    }

    /// The one-line form followed by the offending source line and a caret.
    pub fn render_with_snippet(&self, source: &str) -> String {
        let mut out = self.to_string();
        if let Some(line) = source.lines().nth(self.line.saturating_sub(1)) {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            let caret_pad: String = line
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!("\n {pad} |\n {num} | {line}\n {pad} | {caret_pad}^"));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}:")?;
        }
        write!(f, "{}:{}: ", self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// The closest candidate to `word` by edit distance, if close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    if lower.len() >= 4
        && let Some(c) = candidates.iter().find(|c| c.to_ascii_lowercase().starts_with(&lower))
    {
        return Some(c);
    }
    candidates
        .iter()
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_only() {
        let fields = ["replicas", "command", "readinessProbe", "ports"];
        assert_eq!(did_you_mean("replica", &fields), Some("replicas"));
        assert_eq!(did_you_mean("readinesProbe", &fields), Some("readinessProbe"));
        assert_eq!(did_you_mean("Ports", &fields), Some("ports"));
        assert_eq!(did_you_mean("image", &fields), None);
    }

    #[test]
    fn snippet_points_at_the_column() {
        let d = Diagnostic::at(Pos::new(2, 3), "spec.x", "bad").with_file("a.yaml");
        assert_eq!(
            d.render_with_snippet("a: 1\n  x: 2\n"),
            "a.yaml:2:3: spec.x: bad\n   |\n 2 |   x: 2\n   |   ^"
        );
    }
}
