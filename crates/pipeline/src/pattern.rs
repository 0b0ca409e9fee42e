//! GitHub's filter patterns for `branches`, `tags` and `paths` (and their `-ignore`
//! forms). Not shell globs: `*` matches within one path segment, `**` across them
//! (`**/` also matches no directory at all), `?` makes the previous character
//! optional and `+` repeats it, `[a-z0-9]` is one character of a set, `\` escapes,
//! and a leading `!` excludes what earlier patterns included.

use regex::Regex;

/// One compiled pattern.
#[derive(Clone, Debug)]
pub struct Pattern {
    pub text: String,
    pub negative: bool,
    regex: Regex,
}

impl Pattern {
    /// Compiles a pattern; the error says what is wrong and where (0-based).
    pub fn new(raw: &str) -> Result<Pattern, String> {
        let (negative, body) = match raw.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let regex =
            Regex::new(&to_regex(body)?).map_err(|e| format!("invalid pattern '{raw}': {e}"))?;
        Ok(Pattern { text: raw.to_string(), negative, regex })
    }

    pub fn is_match(&self, s: &str) -> bool {
        self.regex.is_match(s)
    }
}

/// The regex for the stars at `c[i]`: `**/` (any directories, or none), `**`
/// (anything), `*` (within one segment), and how many characters they take.
fn stars(c: &[char], i: usize) -> Option<(&'static str, usize)> {
    match (c.get(i), c.get(i + 1), c.get(i + 2)) {
        (Some('*'), Some('*'), Some('/')) => Some(("(?:.+/)?", 3)),
        (Some('*'), Some('*'), _) => Some((".*", 2)),
        (Some('*'), _, _) => Some(("[^/]*", 1)),
        _ => None,
    }
}

/// A path glob (`hashFiles`, artifact and cache paths): the stars as in filters, `?`
/// one character within a segment, everything else literal.
pub fn glob_regex(p: &str) -> Result<Regex, String> {
    let c: Vec<char> = p.chars().collect();
    let mut re = String::from("^");
    let mut i = 0;
    while i < c.len() {
        if let Some((part, n)) = stars(&c, i) {
            re.push_str(part);
            i += n;
            continue;
        }
        match c[i] {
            '?' => re.push_str("[^/]"),
            ch => re.push_str(&regex::escape(&ch.to_string())),
        }
        i += 1;
    }
    re.push('$');
    Regex::new(&re).map_err(|e| format!("pattern '{p}': {e}"))
}

fn to_regex(p: &str) -> Result<String, String> {
    let c: Vec<char> = p.chars().collect();
    let mut re = String::from("^");
    let mut errors = Vec::new();
    let mut i = 0;
    let lit = |re: &mut String, ch: char| re.push_str(&regex::escape(&ch.to_string()));
    while i < c.len() {
        if let Some((part, n)) = stars(&c, i) {
            re.push_str(part);
            i += n;
            continue;
        }
        match c[i] {
            q @ ('?' | '+') => {
                if i == 0 {
                    lit(&mut re, q);
                } else {
                    re.push(q);
                }
                i += 1;
            }
            '[' => {
                i += 1;
                if c.get(i) == Some(&']') {
                    errors.push(format!("position {i}: empty brackets '[]'"));
                    i += 1;
                    continue;
                }
                re.push('[');
                let start = i;
                while i < c.len() && c[i] != ']' {
                    let ok = |x: char| x.is_ascii_alphanumeric();
                    if c[i] == '-' {
                        if i == start || i + 1 >= c.len() || c[i + 1] == ']' {
                            errors.push(format!("position {i}: invalid range"));
                        } else if !(ok(c[i - 1]) && ok(c[i + 1]) && c[i - 1] <= c[i + 1]) {
                            errors.push(format!(
                                "position {i}: ranges can only include a-z, A-Z and 0-9"
                            ));
                        } else {
                            re.push('-');
                        }
                        i += 1;
                    } else if ok(c[i]) {
                        lit(&mut re, c[i]);
                        i += 1;
                    } else {
                        errors
                            .push(format!("position {i}: sets can only include a-z, A-Z and 0-9"));
                        i += 1;
                    }
                }
                if i >= c.len() {
                    errors.push(format!("position {i}: missing closing bracket ']' after '['"));
                }
                re.push(']');
                i += 1;
            }
            '\\' => {
                match c.get(i + 1) {
                    Some(&n) => lit(&mut re, n),
                    None => errors.push(format!("position {i}: nothing after '\\'")),
                }
                i += 2;
            }
            ch => {
                lit(&mut re, ch);
                i += 1;
            }
        }
    }
    if !errors.is_empty() {
        return Err(format!("invalid pattern '{p}': {}", errors.join(", ")));
    }
    re.push('$');
    Ok(re)
}

/// Compiles every pattern of a filter.
pub fn compile(patterns: &[String]) -> Result<Vec<Pattern>, String> {
    patterns.iter().map(|p| Pattern::new(p)).collect()
}

/// Whether `value` passes a positive filter (`branches`, `tags`, `paths`): the last
/// pattern that matches it decides, a `!` pattern excluding. An empty filter lets
/// everything through.
pub fn included(patterns: &[Pattern], value: &str) -> bool {
    if patterns.is_empty() {
        return true;
    }
    let mut included = false;
    for p in patterns {
        if p.is_match(value) {
            included = !p.negative;
        }
    }
    included
}

/// `paths`: at least one of the changed files is included.
pub fn any_included(patterns: &[Pattern], values: &[String]) -> bool {
    patterns.is_empty() || values.iter().any(|v| included(patterns, v))
}

/// `*-ignore` filters: whether `value` is ignored (matched by a pattern, and not
/// brought back by a later `!` one).
pub fn ignored(patterns: &[Pattern], value: &str) -> bool {
    !patterns.is_empty() && included(patterns, value)
}

/// `paths-ignore`: the event is ignored when every changed file is.
pub fn all_ignored(patterns: &[Pattern], values: &[String]) -> bool {
    !patterns.is_empty() && !values.is_empty() && values.iter().all(|v| ignored(patterns, v))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Pattern::new(p).unwrap().is_match(s)
    }

    #[test]
    fn stars_stay_within_or_cross_segments() {
        assert!(m("feature/*", "feature/login"));
        assert!(!m("feature/*", "feature/login/v2"));
        assert!(m("feature/**", "feature/login/v2"));
        assert!(m("**/README.md", "README.md"), "**/ also matches no directory");
        assert!(m("**/README.md", "docs/a/README.md"));
        assert!(!m("*.js", "src/app.js"));
        assert!(m("**.js", "src/app.js"));
        assert!(m("docs/**/*.md", "docs/guide.md"));
        assert!(m("docs/**/*.md", "docs/a/b/guide.md"));
    }

    #[test]
    fn question_mark_and_plus_quantify_the_previous_character() {
        assert!(m("v2?", "v"), "? makes the 2 optional");
        assert!(m("v2?", "v2"));
        assert!(!m("v2?", "v22"));
        assert!(m("v1+", "v111"));
        assert!(!m("v1+", "v"));
        assert!(m("?x", "?x"), "a leading ? is literal");
        assert!(m("v1.0", "v1.0") && !m("v1.0", "v1x0"), "dots are literal");
    }

    #[test]
    fn sets_ranges_and_escapes() {
        assert!(m("v[12].[0-9]+", "v1.10"));
        assert!(!m("v[12].[0-9]+", "v3.1"));
        assert!(m("release\\*", "release*"));
        assert!(!m("release\\*", "release1"));
        assert!(Pattern::new("v[]").is_err());
        assert!(Pattern::new("v[z-a]").is_err());
        assert!(Pattern::new("v[0-9").is_err());
        assert!(Pattern::new("x\\").is_err());
    }

    #[test]
    fn path_globs_use_question_marks_as_one_character() {
        let g = |p: &str, s: &str| glob_regex(p).unwrap().is_match(s);
        assert!(g("**/*.lock", "a/b/c.lock") && g("**/*.lock", "c.lock"));
        assert!(g("src/?.rs", "src/a.rs") && !g("src/?.rs", "src/ab.rs"));
        assert!(!g("*.rs", "src/a.rs"), "* stays within a segment");
        assert!(g("v1+.txt", "v1+.txt") && !g("v1+.txt", "v11.txt"), "+ is literal in globs");
    }

    #[test]
    fn later_patterns_win_and_ignores() {
        let f = compile(&["releases/**".into(), "!releases/**-alpha".into()]).unwrap();
        assert!(included(&f, "releases/v1"));
        assert!(!included(&f, "releases/v1-alpha"));
        assert!(!included(&f, "main"));
        let back = compile(&["!releases/**-alpha".into(), "releases/**".into()]).unwrap();
        assert!(included(&back, "releases/v1-alpha"), "order matters");
        let docs = compile(&["docs/**".into()]).unwrap();
        assert!(all_ignored(&docs, &["docs/a.md".into(), "docs/b.md".into()]));
        assert!(!all_ignored(&docs, &["docs/a.md".into(), "src/main.rs".into()]));
        assert!(any_included(&docs, &["src/x".into(), "docs/y".into()]));
        assert!(!any_included(&docs, &["src/x".into()]));
        assert!(included(&[], "anything") && !ignored(&[], "anything"));
    }
}
