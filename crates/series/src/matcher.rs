//! Label matchers (`=`, `!=`, `=~`, `!~`) with Prometheus's regex semantics.
//!
//! Regexes are fully anchored and `.` matches newlines (`^(?s:RE)$`). Common
//! shapes skip the regex engine: `.*`, `.+`, a literal, a set of literal
//! alternatives (`a|b|c`), and a literal prefix followed by `.*`. Indexes can
//! ask [`Matcher::literal_set`] for the values a matcher can match and look
//! them up directly instead of scanning every value.

use std::fmt;

use regex::Regex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// How a regex is evaluated.
#[derive(Clone, Debug)]
enum Fast {
    /// `.*`: every value.
    Any,
    /// `.+`: every non-empty value.
    NonEmpty,
    /// Literal alternatives, sorted (one element for a plain literal).
    Set(Vec<String>),
    /// A literal prefix followed by `.*`.
    Prefix(String),
    /// Anything else.
    Engine(Regex),
}

#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    fast: Option<Fast>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl Matcher {
    /// A matcher; fails only for an invalid regex.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, String> {
        let name = name.into();
        let value = value.into();
        let fast = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(compile(&value)?),
            _ => None,
        };
        Ok(Self { name, op, value, fast })
    }

    /// An equality matcher (never fails).
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self { name: name.into(), op: MatchOp::Equal, value: value.into(), fast: None }
    }

    /// Whether `value` (the label's value, "" when absent) matches.
    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            MatchOp::Equal => self.value == value,
            MatchOp::NotEqual => self.value != value,
            MatchOp::Regex => self.regex_matches(value),
            MatchOp::NotRegex => !self.regex_matches(value),
        }
    }

    fn regex_matches(&self, value: &str) -> bool {
        match &self.fast {
            Some(Fast::Any) => true,
            Some(Fast::NonEmpty) => !value.is_empty(),
            Some(Fast::Set(set)) => set.binary_search_by(|s| s.as_str().cmp(value)).is_ok(),
            Some(Fast::Prefix(p)) => value.starts_with(p.as_str()),
            Some(Fast::Engine(re)) => re.is_match(value),
            None => false,
        }
    }

    /// Whether the matcher accepts the empty string (so it also selects
    /// series that lack the label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For `=` and for `=~` over literal alternatives: the exact values it
    /// matches, so an index can look them up instead of scanning.
    pub fn literal_set(&self) -> Option<Vec<&str>> {
        match (self.op, &self.fast) {
            (MatchOp::Equal, _) => Some(vec![self.value.as_str()]),
            (MatchOp::Regex, Some(Fast::Set(set))) => {
                Some(set.iter().map(String::as_str).collect())
            }
            _ => None,
        }
    }

    /// For `=~` with a literal prefix followed by `.*`: the prefix.
    pub fn literal_prefix(&self) -> Option<&str> {
        match (self.op, &self.fast) {
            (MatchOp::Regex, Some(Fast::Prefix(p))) => Some(p.as_str()),
            _ => None,
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

const META: &[char] = &['\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$'];

fn is_literal(s: &str) -> bool {
    !s.contains(META)
}

fn compile(value: &str) -> Result<Fast, String> {
    // Validate with the real engine first so an invalid regex is an error even
    // when a fast path would have applied.
    let re = Regex::new(&format!("^(?s:{value})$"))
        .map_err(|e| format!("invalid regular expression {value:?}: {e}"))?;
    Ok(match value {
        ".*" => Fast::Any,
        ".+" => Fast::NonEmpty,
        _ if !value.contains(['(', ')']) && value.split('|').all(is_literal) => {
            let mut set: Vec<String> = value.split('|').map(str::to_string).collect();
            set.sort();
            set.dedup();
            Fast::Set(set)
        }
        _ => match value.strip_suffix(".*") {
            Some(prefix) if is_literal(prefix) => Fast::Prefix(prefix.to_string()),
            _ => Fast::Engine(re),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(v: &str) -> Matcher {
        Matcher::new(MatchOp::Regex, "l", v).unwrap()
    }

    #[test]
    fn anchored_and_dot_matches_newline() {
        assert!(re("a.c").matches("a\nc"));
        assert!(!re("b").matches("abc"));
        assert!(re("a(b|c)").matches("ac"));
    }

    #[test]
    fn fast_paths_agree_with_the_engine() {
        let values = ["", "a", "b", "ab", "abc", "foo", "foobar", "x|y", "\n"];
        for pat in [".*", ".+", "a|b", "foo", "foo.*", "a|ab|abc", "", "a|"] {
            let m = re(pat);
            let engine = Regex::new(&format!("^(?s:{pat})$")).unwrap();
            for v in values {
                assert_eq!(m.matches(v), engine.is_match(v), "pattern {pat:?} value {v:?}");
            }
        }
        assert_eq!(re("a|b").literal_set(), Some(vec!["a", "b"]));
        assert_eq!(re("foo.*").literal_prefix(), Some("foo"));
        assert!(re("a|").matches_empty());
    }

    #[test]
    fn invalid_regex_is_an_error() {
        let err = Matcher::new(MatchOp::Regex, "l", "a(").unwrap_err();
        assert!(err.contains("invalid regular expression"), "{err}");
    }

    #[test]
    fn negative_ops() {
        assert!(Matcher::new(MatchOp::NotRegex, "l", "a.*").unwrap().matches("b"));
        assert!(!Matcher::new(MatchOp::NotEqual, "l", "a").unwrap().matches("a"));
    }
}
