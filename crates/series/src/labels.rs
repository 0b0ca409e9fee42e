//! Label sets: sorted name/value pairs identifying one series.
//!
//! A label with an empty value is the same as an absent label (Prometheus
//! semantics), so constructors drop empty values. Ordering is the pairwise
//! comparison Prometheus uses to sort series (names, then values, then length).

use std::fmt;
use std::sync::Arc;

/// The label holding the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One name/value pair.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    pub name: String,
    pub value: String,
}

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self { name: name.into(), value: value.into() }
    }
}

/// A label set, sorted by name, without duplicate names or empty values.
/// Cloning is cheap (the pairs are shared); changing a shared set copies it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Arc<[Label]>);

static EMPTY: std::sync::LazyLock<Arc<[Label]>> =
    std::sync::LazyLock::new(|| Arc::from(Vec::new()));

impl Default for Labels {
    fn default() -> Self {
        Labels(EMPTY.clone())
    }
}

impl Labels {
    /// The empty label set.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Builds a set from pairs in any order. Empty values are dropped; on a
    /// duplicate name the last pair wins.
    pub fn new(mut labels: Vec<Label>) -> Self {
        labels.retain(|l| !l.value.is_empty());
        // Stable sort keeps input order among equal names; keep the last.
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out: Vec<Label> = Vec::with_capacity(labels.len());
        for l in labels {
            match out.last_mut() {
                Some(prev) if prev.name == l.name => *prev = l,
                _ => out.push(l),
            }
        }
        Self(out.into())
    }

    /// Builds a set from string pairs.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> Self {
        Self::new(pairs.iter().map(|(n, v)| Label::new(n.as_ref(), v.as_ref())).collect())
    }

    /// Builds a set from pairs already sorted by name, unique and non-empty.
    /// Callers that cannot promise this must use [`Labels::new`].
    pub fn from_sorted(labels: Vec<Label>) -> Self {
        debug_assert!(labels.windows(2).all(|w| w[0].name < w[1].name));
        Self(labels.into())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// The value of `name`, or "" when absent.
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<Label> {
        self.0.to_vec()
    }

    /// A copy with `name` set to `value` (removed when `value` is empty).
    pub fn with(&self, name: &str, value: &str) -> Labels {
        let mut out = self.clone();
        out.set(name, value);
        out
    }

    /// Sets `name` to `value` in place (removes it when `value` is empty).
    pub fn set(&mut self, name: &str, value: &str) {
        let v = match self.0.binary_search_by(|l| l.name.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                let mut v = self.0.to_vec();
                v.remove(i);
                v
            }
            Ok(i) if self.0[i].value == value => return,
            Ok(i) => {
                let mut v = self.0.to_vec();
                v[i].value = value.to_string();
                v
            }
            Err(_) if value.is_empty() => return,
            Err(i) => {
                let mut v = Vec::with_capacity(self.0.len() + 1);
                v.extend_from_slice(&self.0[..i]);
                v.push(Label::new(name, value));
                v.extend_from_slice(&self.0[i..]);
                v
            }
        };
        self.0 = v.into();
    }

    /// A copy without the metric name.
    pub fn without_name(&self) -> Labels {
        self.without(&[METRIC_NAME])
    }

    /// A copy without the given names.
    pub fn without<S: AsRef<str>>(&self, names: &[S]) -> Labels {
        if !self.0.iter().any(|l| names.iter().any(|n| n.as_ref() == l.name)) {
            return self.clone();
        }
        Labels(
            self.0
                .iter()
                .filter(|l| !names.iter().any(|n| n.as_ref() == l.name))
                .cloned()
                .collect(),
        )
    }

    /// A copy keeping only the given names.
    pub fn keep<S: AsRef<str>>(&self, names: &[S]) -> Labels {
        if names.is_empty() {
            return Labels::default();
        }
        if self.0.iter().all(|l| names.iter().any(|n| n.as_ref() == l.name)) {
            return self.clone();
        }
        Labels(
            self.0.iter().filter(|l| names.iter().any(|n| n.as_ref() == l.name)).cloned().collect(),
        )
    }

    /// Identity of this set's shared storage: equal for clones of one set,
    /// different for sets built separately (even with equal contents). Only
    /// meaningful while a clone is kept alive.
    pub fn storage_id(&self) -> usize {
        self.0.as_ptr() as usize
    }

    /// A stable 64-bit fingerprint (FNV-1a over name, 0xff, value, 0xff...).
    /// Equal sets have equal fingerprints on every platform and version.
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for l in self.0.iter() {
            eat(l.name.as_bytes());
            eat(&[0xff]);
            eat(l.value.as_bytes());
            eat(&[0xff]);
        }
        h
    }

    /// `name{a="b"}` when a metric name is present, `{a="b"}` otherwise.
    pub fn series_string(&self) -> String {
        let mut out = String::new();
        let name = self.metric_name();
        if let Some(n) = name {
            out.push_str(n);
        }
        let rest: Vec<&Label> = self.0.iter().filter(|l| l.name != METRIC_NAME).collect();
        if rest.is_empty() && name.is_some() {
            return out;
        }
        out.push('{');
        for (i, l) in rest.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_pair(&mut out, l);
        }
        out.push('}');
        out
    }
}

fn push_pair(out: &mut String, l: &Label) {
    out.push_str(&l.name);
    out.push_str("=\"");
    for c in l.value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Prometheus's `Labels.String()`: `{__name__="x", a="b"}`.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::from("{");
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_pair(&mut out, l);
        }
        out.push('}');
        f.write_str(&out)
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromIterator<Label> for Labels {
    fn from_iter<I: IntoIterator<Item = Label>>(iter: I) -> Self {
        Labels::new(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_without_empty_values() {
        let l = Labels::from_pairs(&[("b", "2"), ("a", "1"), ("c", ""), ("a", "3")]);
        assert_eq!(l.to_string(), r#"{a="3", b="2"}"#);
        assert_eq!(l.get("a"), Some("3"));
        assert_eq!(l.get("c"), None);
    }

    #[test]
    fn set_and_remove() {
        let mut l = Labels::from_pairs(&[("__name__", "up"), ("job", "x")]);
        l.set("instance", "h:1");
        assert_eq!(l.series_string(), r#"up{instance="h:1", job="x"}"#);
        l.set("job", "");
        assert_eq!(l.series_string(), r#"up{instance="h:1"}"#);
        assert_eq!(l.without_name().to_string(), r#"{instance="h:1"}"#);
        assert_eq!(Labels::from_pairs(&[("__name__", "up")]).series_string(), "up");
    }

    #[test]
    fn ordering_is_pairwise() {
        let a = Labels::from_pairs(&[("a", "1")]);
        let b = Labels::from_pairs(&[("a", "1"), ("b", "1")]);
        let c = Labels::from_pairs(&[("a", "2")]);
        assert!(a < b && b < c);
    }

    #[test]
    fn fingerprint_is_stable_and_distinguishes_boundaries() {
        let a = Labels::from_pairs(&[("ab", "c")]);
        let b = Labels::from_pairs(&[("a", "bc")]);
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), Labels::from_pairs(&[("ab", "c")]).fingerprint());
        assert_eq!(Labels::empty().fingerprint(), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn values_are_escaped() {
        let l = Labels::from_pairs(&[("a", "x\"y\\z\n")]);
        assert_eq!(l.to_string(), r#"{a="x\"y\\z\n"}"#);
    }
}
