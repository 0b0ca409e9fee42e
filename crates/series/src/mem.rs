//! An in-memory storage: every sample kept uncompressed in a sorted map.
//! Used by the PromQL test runner and unit tests; the TSDB is the real store.

use std::collections::{BTreeMap, BTreeSet};

use crate::{Labels, Matcher, Querier, Sample, Series, StorageError, matches_all};

#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    series: BTreeMap<Labels, Vec<Sample>>,
}

impl MemStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sample; a sample at an existing timestamp replaces it.
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) {
        let samples = self.series.entry(labels.clone()).or_default();
        match samples.last() {
            Some(last) if last.t < t => samples.push(Sample { t, v }),
            None => samples.push(Sample { t, v }),
            _ => match samples.binary_search_by(|s| s.t.cmp(&t)) {
                Ok(i) => samples[i].v = v,
                Err(i) => samples.insert(i, Sample { t, v }),
            },
        }
    }

    pub fn clear(&mut self) {
        self.series.clear();
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    fn matching(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> impl Iterator<Item = (&Labels, &[Sample])> {
        self.series.iter().filter_map(move |(l, s)| {
            if !matches_all(l, matchers) {
                return None;
            }
            let lo = s.partition_point(|x| x.t < mint);
            let hi = s.partition_point(|x| x.t <= maxt);
            (lo < hi).then(|| (l, &s[lo..hi]))
        })
    }
}

impl Querier for MemStorage {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, StorageError> {
        Ok(self
            .matching(matchers, mint, maxt)
            .map(|(l, s)| Series { labels: l.clone(), samples: s.to_vec() })
            .collect())
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let mut names = BTreeSet::new();
        for (l, _) in self.matching(matchers, mint, maxt) {
            names.extend(l.iter().map(|x| x.name.clone()));
        }
        Ok(names.into_iter().collect())
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let mut values = BTreeSet::new();
        for (l, _) in self.matching(matchers, mint, maxt) {
            if let Some(v) = l.get(name) {
                values.insert(v.to_string());
            }
        }
        Ok(values.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MatchOp;

    #[test]
    fn select_is_inclusive_and_sorted() {
        let mut m = MemStorage::new();
        let a = Labels::from_pairs(&[("__name__", "x"), ("i", "a")]);
        let b = Labels::from_pairs(&[("__name__", "x"), ("i", "b")]);
        for t in [0, 10, 20] {
            m.append(&b, t, t as f64);
            m.append(&a, t, 1.0);
        }
        m.append(&a, 10, 5.0);
        let sel = m.select(&[Matcher::equal("__name__", "x")], 10, 20).unwrap();
        assert_eq!(sel.len(), 2);
        assert_eq!(sel[0].labels, a);
        assert_eq!(sel[0].samples, vec![Sample { t: 10, v: 5.0 }, Sample { t: 20, v: 1.0 }]);
        let re = Matcher::new(MatchOp::Regex, "i", "b|c").unwrap();
        assert_eq!(m.select(std::slice::from_ref(&re), 21, 30).unwrap(), vec![]);
        assert_eq!(m.label_values("i", &[re], 0, 30).unwrap(), vec!["b".to_string()]);
        assert_eq!(
            m.label_names(&[], 0, 0).unwrap(),
            vec!["__name__".to_string(), "i".to_string()]
        );
    }
}
