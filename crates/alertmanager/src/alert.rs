//! The alert as Alertmanager holds it: labels, annotations, activity range, the label-set
//! fingerprint, status at a time, validation, and the merge of a re-sent alert.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::text::is_classic_label_name;

/// An alert's labels or annotations.
pub type LabelSet = BTreeMap<String, String>;

/// An alert. Times are Unix milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    /// When the alert started; unset on input means "now" (or `ends_at` if that is set).
    pub starts_at: Option<i64>,
    /// When the alert ends (or ended). Unset on input means "firing until it is not
    /// re-sent for `resolve_timeout`"; a stored alert always has it.
    pub ends_at: Option<i64>,
    pub generator_url: String,
    /// When Alertmanager last received this alert.
    pub updated_at: i64,
    /// Whether `ends_at` was set by Alertmanager from `resolve_timeout` rather than
    /// sent by the client.
    pub timeout: bool,
}

/// Firing or resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Alertmanager's label-set fingerprint: 64-bit FNV-1a over the sorted names and values,
/// each followed by a 0xff byte. Displays as 16 lower-case hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fingerprint(pub u64);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// The fingerprint of a label set (an empty set has the FNV offset basis).
pub fn fingerprint(labels: &LabelSet) -> Fingerprint {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (k, v) in labels {
        eat(k.as_bytes());
        eat(&[0xff]);
        eat(v.as_bytes());
        eat(&[0xff]);
    }
    Fingerprint(h)
}

impl Alert {
    /// A firing alert with these labels and nothing else set.
    pub fn new<K: Into<String>, V: Into<String>>(labels: impl IntoIterator<Item = (K, V)>) -> Self {
        Alert {
            labels: labels.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            ..Alert::default()
        }
    }

    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint(&self.labels)
    }

    /// The `alertname` label.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }

    /// Whether the alert is resolved at `now`: it has an end time that is not after `now`.
    pub fn resolved(&self, now: i64) -> bool {
        self.ends_at.is_some_and(|e| e <= now)
    }

    pub fn status_at(&self, now: i64) -> Status {
        if self.resolved(now) { Status::Resolved } else { Status::Firing }
    }

    /// The start time, or 0 when unset.
    pub fn starts(&self) -> i64 {
        self.starts_at.unwrap_or(0)
    }

    /// What Alertmanager does to a posted alert before storing it: records `now` as the
    /// receive time, fills a missing start (`ends_at`, else `now`), gives an alert without
    /// an end `now + resolve_timeout` (marking it as timed out), and drops empty labels.
    pub fn normalize(&mut self, now: i64, resolve_timeout_ms: i64) {
        self.updated_at = now;
        if self.starts_at.is_none() {
            self.starts_at = Some(self.ends_at.unwrap_or(now));
        }
        if self.ends_at.is_none() {
            self.timeout = true;
            self.ends_at = Some(now.saturating_add(resolve_timeout_ms));
        }
        self.labels.retain(|_, v| !v.is_empty());
    }

    /// Alertmanager's checks of a posted alert (after [`Alert::normalize`]).
    pub fn validate(&self) -> Result<(), String> {
        let Some(start) = self.starts_at else { return Err("start time missing".into()) };
        if let Some(end) = self.ends_at
            && end < start
        {
            return Err("start time must be before end time".into());
        }
        if self.labels.is_empty() {
            return Err("at least one label pair required".into());
        }
        for k in self.labels.keys() {
            if k.is_empty() {
                return Err(format!("invalid label set: invalid name {k:?}"));
            }
        }
        for k in self.annotations.keys() {
            if k.is_empty() {
                return Err(format!("invalid annotations: invalid name {k:?}"));
            }
        }
        Ok(())
    }

    /// Combines a stored alert with a newer copy of it, keeping the earliest start and
    /// the end Alertmanager would keep: the newer copy wins unless the older one ends
    /// later (and, for a firing newer copy, the older end was client-given).
    pub fn merge(&self, other: &Alert) -> Alert {
        if other.updated_at < self.updated_at {
            return other.merge(self);
        }
        let mut res = other.clone();
        if let (Some(a), Some(b)) = (self.starts_at, other.starts_at)
            && a < b
        {
            res.starts_at = Some(a);
        }
        let later = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (Some(a), Some(b)) => a > b,
            (Some(_), None) => false,
            (None, _) => false,
        };
        let other_resolved = other.ends_at.is_some_and(|e| e <= other.updated_at);
        let self_resolved = self.ends_at.is_some_and(|e| e <= other.updated_at);
        if other_resolved {
            if self_resolved && later(self.ends_at, other.ends_at) {
                res.ends_at = self.ends_at;
            }
        } else if later(self.ends_at, other.ends_at) && !self.timeout {
            res.ends_at = self.ends_at;
        }
        res
    }

    /// Whether label names look like Prometheus's classic names (a lint, not a rule).
    pub fn has_classic_label_names(&self) -> bool {
        self.labels.keys().all(|k| is_classic_label_name(k))
    }
}

/// Prometheus's `LabelSet.Before`: smaller sets first, then by the first differing
/// label in name order (a set lacking the name sorts first).
pub fn labels_before(a: &LabelSet, b: &LabelSet) -> bool {
    if a.len() != b.len() {
        return a.len() < b.len();
    }
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    for n in names {
        let Some(x) = a.get(n) else { return true };
        let Some(y) = b.get(n) else { return false };
        match x.cmp(y) {
            Ordering::Less => return true,
            Ordering::Greater => return false,
            Ordering::Equal => {}
        }
    }
    false
}

/// The order of alerts in a notification: by `job`, then `instance` (alerts that have
/// the label first), then by label set.
pub fn alert_order(a: &LabelSet, b: &LabelSet) -> Ordering {
    for key in ["job", "instance"] {
        match (a.get(key), b.get(key)) {
            (None, None) => continue,
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    if labels_before(a, b) {
        Ordering::Less
    } else if labels_before(b, a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn fingerprints_match_alertmanager() {
        // Values Alertmanager computes for these label sets.
        assert_eq!(fingerprint(&LabelSet::new()).to_string(), "cbf29ce484222325");
        let fp = |p: &[(&str, &str)]| fingerprint(&ls(p)).to_string();
        assert_eq!(fp(&[("severity", "warning"), ("job", "foo")]), "9266ef3da838ad95");
        assert_eq!(fp(&[("severity", "critical"), ("job", "foo")]), "3b15fd163d36582e");
        assert_eq!(fp(&[("severity", "critical"), ("job", "bar")]), "c7e68cb08e3e67f9");
        let fp = fingerprint(&ls(&[("alertname", "TestAlert")]));
        assert_eq!(fp.to_string().len(), 16);
        assert_eq!(fp, Alert::new([("alertname", "TestAlert")]).fingerprint());
        assert_ne!(fp, fingerprint(&ls(&[("alertname", "TestAlert2")])));
        // Name/value boundaries matter.
        assert_ne!(fingerprint(&ls(&[("ab", "c")])), fingerprint(&ls(&[("a", "bc")])));
    }

    #[test]
    fn resolution_is_inclusive_of_the_end() {
        let mut a = Alert::new([("a", "b")]);
        assert!(!a.resolved(10));
        a.ends_at = Some(10);
        assert!(!a.resolved(9));
        assert!(a.resolved(10));
        assert_eq!(a.status_at(11), Status::Resolved);
    }

    #[test]
    fn normalize_fills_times_and_drops_empty_labels() {
        let mut a = Alert::new([("a", "b"), ("empty", "")]);
        a.normalize(1000, 300_000);
        assert_eq!(a.starts_at, Some(1000));
        assert_eq!(a.ends_at, Some(301_000));
        assert!(a.timeout);
        assert!(!a.labels.contains_key("empty"));
        let mut b = Alert::new([("a", "b")]);
        b.ends_at = Some(500);
        b.normalize(1000, 300_000);
        assert_eq!(b.starts_at, Some(500));
        assert!(!b.timeout);
        assert!(b.validate().is_ok());
        b.starts_at = Some(600);
        assert!(b.validate().is_err());
        assert!(Alert::default().validate().is_err());
    }

    #[test]
    fn merge_keeps_earliest_start_and_client_end() {
        let mut old = Alert::new([("a", "b")]);
        old.starts_at = Some(100);
        old.ends_at = Some(10_000);
        old.updated_at = 100;
        let mut new = old.clone();
        new.starts_at = Some(200);
        new.ends_at = Some(5_000);
        new.updated_at = 200;
        let m = old.merge(&new);
        assert_eq!(m.starts_at, Some(100));
        assert_eq!(m.ends_at, Some(10_000));
        // A timed-out end does not outlive a newer firing copy.
        old.timeout = true;
        assert_eq!(old.merge(&new).ends_at, Some(5_000));
        // Order of arguments does not matter.
        assert_eq!(new.merge(&old).ends_at, Some(5_000));
    }

    #[test]
    fn ordering_puts_job_and_instance_first() {
        let a = ls(&[("job", "a"), ("x", "9")]);
        let b = ls(&[("job", "b")]);
        let c = ls(&[("x", "1")]);
        assert_eq!(alert_order(&a, &b), Ordering::Less);
        assert_eq!(alert_order(&c, &a), Ordering::Greater);
        assert!(labels_before(&ls(&[("a", "1")]), &ls(&[("a", "2")])));
        assert!(labels_before(&ls(&[("z", "1")]), &ls(&[("a", "1"), ("b", "1")])));
        // A set lacking the first name in order sorts first.
        assert!(labels_before(&ls(&[("b", "1")]), &ls(&[("a", "1")])));
        assert!(!labels_before(&ls(&[("a", "1")]), &ls(&[("b", "1")])));
        assert!(!labels_before(&ls(&[("a", "1")]), &ls(&[("a", "1")])));
    }
}
