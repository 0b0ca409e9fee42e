//! The inverted index shared by the head and by loaded blocks: for every label
//! name and value, the sorted ids of the series carrying that pair.
//!
//! [`PostingsIndex::candidates`] narrows a selector to a superset of the
//! matching series: matchers that cannot match the empty string and name
//! their values exactly (`=`, `=~"a|b"`) or by prefix (`=~"a.*"`) are looked
//! up and intersected; when there is none, the first other matcher that
//! cannot match "" is evaluated once per distinct value of its label. Callers
//! then check every matcher against each candidate's labels, which is also
//! how matchers accepting "" (`!=`, `!~`, `=""`) apply: a series lacking the
//! label reads as having the value "".

use std::collections::BTreeMap;

use andon_series::{Labels, Matcher};

#[derive(Clone, Debug, Default)]
pub struct PostingsIndex {
    labels: BTreeMap<String, BTreeMap<String, Vec<u64>>>,
    all: Vec<u64>,
}

impl PostingsIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Indexes series `id`. Ids added in increasing order are appended;
    /// others are inserted in place.
    pub fn add(&mut self, id: u64, labels: &Labels) {
        insert_sorted(&mut self.all, id);
        for l in labels {
            let list =
                self.labels.entry(l.name.clone()).or_default().entry(l.value.clone()).or_default();
            insert_sorted(list, id);
        }
    }

    /// Sets the ids of one label pair (sorted), replacing any earlier list.
    pub fn insert_list(&mut self, name: &str, value: &str, ids: Vec<u64>) {
        if !ids.is_empty() {
            self.labels.entry(name.to_string()).or_default().insert(value.to_string(), ids);
        }
    }

    /// Sets the list of every id (sorted).
    pub fn set_all(&mut self, ids: Vec<u64>) {
        self.all = ids;
    }

    /// Removes many series at once.
    pub fn remove_many(&mut self, removed: &[(u64, Labels)]) {
        if removed.is_empty() {
            return;
        }
        let mut ids: Vec<u64> = removed.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        let gone = |id: &u64| ids.binary_search(id).is_ok();
        self.all.retain(|id| !gone(id));
        let mut pairs: BTreeMap<(&str, &str), ()> = BTreeMap::new();
        for (_, labels) in removed {
            for l in labels {
                pairs.insert((l.name.as_str(), l.value.as_str()), ());
            }
        }
        for (name, value) in pairs.keys() {
            let Some(values) = self.labels.get_mut(*name) else { continue };
            if let Some(list) = values.get_mut(*value) {
                list.retain(|id| !gone(id));
                if list.is_empty() {
                    values.remove(*value);
                }
            }
            if values.is_empty() {
                self.labels.remove(*name);
            }
        }
    }

    /// Every indexed id, sorted.
    #[cfg(test)]
    pub fn all(&self) -> &[u64] {
        &self.all
    }

    pub fn get(&self, name: &str, value: &str) -> &[u64] {
        self.labels.get(name).and_then(|v| v.get(value)).map_or(&[], Vec::as_slice)
    }

    /// All (name, value, ids) triples in name/value order.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &[u64])> {
        self.labels.iter().flat_map(|(n, vs)| {
            vs.iter().map(move |(v, ids)| (n.as_str(), v.as_str(), ids.as_slice()))
        })
    }

    /// A sorted superset of the ids matching every matcher (see the module docs).
    pub fn candidates(&self, matchers: &[Matcher]) -> Vec<u64> {
        let mut acc: Option<Vec<u64>> = None;
        for m in matchers.iter().filter(|m| !m.matches_empty()) {
            let set = if let Some(values) = m.literal_set() {
                union(values.iter().map(|v| self.get(&m.name, v)))
            } else if let Some(prefix) = m.literal_prefix() {
                match self.labels.get(&m.name) {
                    Some(values) => union(
                        values
                            .range::<str, _>((
                                std::ops::Bound::Included(prefix),
                                std::ops::Bound::Unbounded,
                            ))
                            .take_while(|(v, _)| v.starts_with(prefix))
                            .map(|(_, ids)| ids.as_slice()),
                    ),
                    None => Vec::new(),
                }
            } else {
                continue;
            };
            let next = match acc {
                None => set,
                Some(prev) => intersect(&prev, &set),
            };
            if next.is_empty() {
                return next;
            }
            acc = Some(next);
        }
        if let Some(acc) = acc {
            return acc;
        }
        match matchers.iter().find(|m| !m.matches_empty()) {
            Some(m) => match self.labels.get(&m.name) {
                Some(values) => union(
                    values.iter().filter(|(v, _)| m.matches(v)).map(|(_, ids)| ids.as_slice()),
                ),
                None => Vec::new(),
            },
            None => self.all.clone(),
        }
    }
}

fn insert_sorted(list: &mut Vec<u64>, id: u64) {
    match list.last() {
        Some(&last) if last >= id => {
            if let Err(i) = list.binary_search(&id) {
                list.insert(i, id);
            }
        }
        _ => list.push(id),
    }
}

/// The sorted union of sorted lists.
pub fn union<'a>(lists: impl Iterator<Item = &'a [u64]>) -> Vec<u64> {
    let lists: Vec<&[u64]> = lists.filter(|l| !l.is_empty()).collect();
    match lists.as_slice() {
        [] => Vec::new(),
        [one] => one.to_vec(),
        _ => {
            let mut out: Vec<u64> = lists.concat();
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

/// The intersection of two sorted lists.
pub fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use andon_series::MatchOp;

    use super::*;

    fn index() -> PostingsIndex {
        let mut p = PostingsIndex::new();
        p.add(1, &Labels::from_pairs(&[("__name__", "up"), ("job", "api")]));
        p.add(2, &Labels::from_pairs(&[("__name__", "up"), ("job", "db")]));
        p.add(3, &Labels::from_pairs(&[("__name__", "up")]));
        p.add(5, &Labels::from_pairs(&[("__name__", "rps"), ("job", "apex")]));
        p
    }

    fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
        Matcher::new(op, n, v).unwrap()
    }

    #[test]
    fn narrows_by_literals_prefixes_and_value_scans() {
        let p = index();
        assert_eq!(p.candidates(&[m(MatchOp::Equal, "__name__", "up")]), vec![1, 2, 3]);
        assert_eq!(
            p.candidates(&[
                m(MatchOp::Equal, "__name__", "up"),
                m(MatchOp::Regex, "job", "api|db")
            ]),
            vec![1, 2]
        );
        assert_eq!(p.candidates(&[m(MatchOp::Regex, "job", "ap.*")]), vec![1, 5]);
        assert_eq!(p.candidates(&[m(MatchOp::Regex, "job", "a.*x")]), vec![5]);
        // Matchers accepting "" do not narrow: every series is a candidate.
        assert_eq!(p.candidates(&[m(MatchOp::NotEqual, "job", "api")]), vec![1, 2, 3, 5]);
        assert_eq!(p.candidates(&[m(MatchOp::Equal, "nope", "x")]), Vec::<u64>::new());
    }

    #[test]
    fn removal_drops_empty_values_and_names() {
        let mut p = index();
        p.remove_many(&[(5, Labels::from_pairs(&[("__name__", "rps"), ("job", "apex")]))]);
        assert_eq!(p.all(), &[1, 2, 3]);
        assert_eq!(p.get("__name__", "rps"), &[] as &[u64]);
        assert!(p.iter().all(|(_, v, _)| v != "apex"));
        p.add(4, &Labels::from_pairs(&[("__name__", "up")]));
        assert_eq!(p.get("__name__", "up"), &[1, 2, 3, 4]);
    }

    #[test]
    fn set_operations() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[2, 3, 7, 9]), vec![3, 7]);
        assert_eq!(union([&[1u64, 4][..], &[2, 4, 6][..]].into_iter()), vec![1, 2, 4, 6]);
    }
}
