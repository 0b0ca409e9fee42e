//! Inhibition: an alert matching a rule's target matchers is muted while a firing alert
//! matches its source matchers with the same values for the `equal` labels (a missing
//! label equals an empty one). An alert matching both sides is never muted by alerts
//! that also match both sides, so nothing inhibits itself.

use std::collections::HashMap;

use crate::alert::{Alert, Fingerprint, LabelSet};
use crate::config::InhibitRuleConfig;
use crate::matcher::{Matcher, matches_all};

/// One inhibition rule.
#[derive(Clone, Debug, Default)]
pub struct InhibitRule {
    pub name: Option<String>,
    pub source_matchers: Vec<Matcher>,
    pub target_matchers: Vec<Matcher>,
    pub equal: Vec<String>,
}

impl From<&InhibitRuleConfig> for InhibitRule {
    fn from(c: &InhibitRuleConfig) -> Self {
        InhibitRule {
            name: c.name.clone(),
            source_matchers: c.source_matchers.clone(),
            target_matchers: c.target_matchers.clone(),
            equal: c.equal.clone(),
        }
    }
}

fn value<'a>(labels: &'a LabelSet, name: &str) -> &'a str {
    labels.get(name).map_or("", String::as_str)
}

impl InhibitRule {
    /// The source alert (among `alerts`) that mutes `target` at `now` under this rule.
    pub fn source_for<'a>(
        &self,
        target: &LabelSet,
        alerts: impl IntoIterator<Item = &'a Alert>,
        now: i64,
    ) -> Option<&'a Alert> {
        if !matches_all(&self.target_matchers, target) {
            return None;
        }
        let two_sided = matches_all(&self.source_matchers, target);
        alerts.into_iter().find(|s| {
            !s.resolved(now)
                && matches_all(&self.source_matchers, &s.labels)
                && self.equal.iter().all(|l| value(&s.labels, l) == value(target, l))
                && !(two_sided && matches_all(&self.target_matchers, &s.labels))
        })
    }
}

/// A set of rules.
#[derive(Clone, Debug, Default)]
pub struct Inhibitor {
    pub rules: Vec<InhibitRule>,
}

impl Inhibitor {
    pub fn new(rules: &[InhibitRuleConfig]) -> Self {
        Inhibitor { rules: rules.iter().map(InhibitRule::from).collect() }
    }

    /// The fingerprint of the alert that inhibits `target` at `now`, if any, looking
    /// for sources among `alerts` (every alert Alertmanager holds).
    pub fn inhibited_by<'a, I>(&self, target: &LabelSet, alerts: I, now: i64) -> Option<Fingerprint>
    where
        I: IntoIterator<Item = &'a Alert> + Clone,
    {
        self.rules
            .iter()
            .find_map(|r| r.source_for(target, alerts.clone(), now))
            .map(Alert::fingerprint)
    }

    /// Indexes the firing source alerts of every rule by their `equal` label values, so
    /// that many targets can be checked against many alerts quickly (one flush).
    pub fn index<'a>(&self, alerts: impl IntoIterator<Item = &'a Alert>, now: i64) -> InhibitIndex {
        let mut rules: Vec<(InhibitRule, SourcesByEqual)> =
            self.rules.iter().map(|r| (r.clone(), HashMap::new())).collect();
        if rules.is_empty() {
            return InhibitIndex { rules };
        }
        for a in alerts {
            if a.resolved(now) {
                continue;
            }
            for (r, by_equal) in &mut rules {
                if matches_all(&r.source_matchers, &a.labels) {
                    let key = r.equal.iter().map(|l| value(&a.labels, l).to_owned()).collect();
                    by_equal.entry(key).or_default().push((a.fingerprint(), a.labels.clone()));
                }
            }
        }
        InhibitIndex { rules }
    }

    /// Whether `target` is inhibited at `now`.
    pub fn mutes<'a, I>(&self, target: &LabelSet, alerts: I, now: i64) -> bool
    where
        I: IntoIterator<Item = &'a Alert> + Clone,
    {
        self.inhibited_by(target, alerts, now).is_some()
    }
}

/// Firing source alerts (fingerprint and labels) by their `equal` label values.
type SourcesByEqual = HashMap<Vec<String>, Vec<(Fingerprint, LabelSet)>>;

/// Firing source alerts per rule, keyed by their `equal` label values (see
/// [`Inhibitor::index`]).
#[derive(Clone, Debug, Default)]
pub struct InhibitIndex {
    rules: Vec<(InhibitRule, SourcesByEqual)>,
}

impl InhibitIndex {
    /// The fingerprint of an alert inhibiting `target`, as [`Inhibitor::inhibited_by`].
    pub fn inhibited_by(&self, target: &LabelSet) -> Option<Fingerprint> {
        self.rules.iter().find_map(|(r, by_equal)| {
            if !matches_all(&r.target_matchers, target) {
                return None;
            }
            let two_sided = matches_all(&r.source_matchers, target);
            let key: Vec<String> = r.equal.iter().map(|l| value(target, l).to_owned()).collect();
            by_equal.get(&key)?.iter().find_map(|(fp, labels)| {
                (!(two_sided && matches_all(&r.target_matchers, labels))).then_some(*fp)
            })
        })
    }

    pub fn mutes(&self, target: &LabelSet) -> bool {
        self.inhibited_by(target).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::parse_matchers;

    fn rule(src: &str, tgt: &str, equal: &[&str]) -> InhibitRule {
        InhibitRule {
            name: None,
            source_matchers: parse_matchers(src).unwrap_or_default(),
            target_matchers: parse_matchers(tgt).unwrap_or_default(),
            equal: equal.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn alert(pairs: &[(&str, &str)], ends_at: Option<i64>) -> Alert {
        let mut a = Alert::new(pairs.iter().copied());
        a.starts_at = Some(0);
        a.ends_at = ends_at;
        a
    }

    #[test]
    fn source_must_fire_and_equal_labels_agree() {
        let inh = Inhibitor {
            rules: vec![rule(r#"severity="critical""#, r#"severity="warning""#, &["cluster"])],
        };
        let crit =
            alert(&[("alertname", "Down"), ("severity", "critical"), ("cluster", "a")], None);
        let warn_a =
            alert(&[("alertname", "Slow"), ("severity", "warning"), ("cluster", "a")], None);
        let warn_b =
            alert(&[("alertname", "Slow"), ("severity", "warning"), ("cluster", "b")], None);
        let all = [crit.clone(), warn_a.clone(), warn_b.clone()];
        assert_eq!(inh.inhibited_by(&warn_a.labels, &all, 10), Some(crit.fingerprint()));
        let idx = inh.index(&all, 10);
        assert_eq!(idx.inhibited_by(&warn_a.labels), Some(crit.fingerprint()));
        assert!(!idx.mutes(&warn_b.labels));
        assert!(!idx.mutes(&crit.labels));
        assert!(!inh.mutes(&warn_b.labels, &all, 10));
        assert!(!inh.mutes(&crit.labels, &all, 10), "sources are not targets");
        // A resolved source no longer inhibits.
        let resolved = alert(&[("severity", "critical"), ("cluster", "a")], Some(5));
        assert!(!inh.mutes(&warn_a.labels, std::slice::from_ref(&resolved), 10));
        assert!(inh.mutes(&warn_a.labels, &[resolved], 4), "still firing before its end");
    }

    #[test]
    fn missing_equal_label_counts_as_empty() {
        let inh = Inhibitor { rules: vec![rule(r#"a="src""#, r#"a="tgt""#, &["zone"])] };
        let src = alert(&[("a", "src")], None);
        let tgt = alert(&[("a", "tgt")], None);
        let tgt_zone = alert(&[("a", "tgt"), ("zone", "z")], None);
        let src_empty = alert(&[("a", "src"), ("zone", "")], None);
        assert!(inh.mutes(&tgt.labels, std::slice::from_ref(&src), 0));
        assert!(inh.mutes(&tgt.labels, &[src_empty], 0));
        assert!(!inh.mutes(&tgt_zone.labels, std::slice::from_ref(&src), 0));
        let idx = inh.index(std::slice::from_ref(&src), 0);
        assert!(idx.mutes(&tgt.labels));
        assert!(!idx.mutes(&tgt_zone.labels));
    }

    #[test]
    fn nothing_inhibits_itself() {
        // Both sides match any alert with `job`: two-sided alerts cannot mute each other.
        let inh = Inhibitor { rules: vec![rule(r#"job=~".+""#, r#"job=~".+""#, &["job"])] };
        let a = alert(&[("job", "x"), ("n", "1")], None);
        let b = alert(&[("job", "x"), ("n", "2")], None);
        assert!(!inh.mutes(&a.labels, &[a.clone(), b.clone()], 0));
        assert!(!inh.index(&[a.clone(), b.clone()], 0).mutes(&a.labels));
        // A source matching only the source side still inhibits a two-sided target.
        let inh2 =
            Inhibitor { rules: vec![rule(r#"job=~".+""#, r#"job=~".+", n!="src""#, &["job"])] };
        let src = alert(&[("job", "x"), ("n", "src")], None);
        assert!(inh2.mutes(&a.labels, &[a.clone(), src.clone()], 0));
        assert!(inh2.index(&[a.clone(), src], 0).mutes(&a.labels));
    }

    #[test]
    fn no_rules_no_inhibition() {
        let a = alert(&[("a", "b")], None);
        assert!(!Inhibitor::default().mutes(&a.labels, std::slice::from_ref(&a), 0));
    }
}
