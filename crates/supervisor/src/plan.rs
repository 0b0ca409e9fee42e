//! The pure decisions of the service controller: which instances to start and stop so
//! that each revision runs the number of instances the rollout asks for, and
//! CrashLoopBackOff's delays. How revisions replace each other (surge, unavailability,
//! canary steps) is the rollout's business (`andon_delivery::rollout`); here a count per
//! revision is simply made true.

use std::collections::BTreeMap;
use std::time::Duration;

/// What the controller sees of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub id: u32,
    pub revision: String,
    pub ready: bool,
    /// Asked to stop, not gone yet: counts for nothing.
    pub terminating: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start one more instance of this revision.
    Start(String),
    Stop(u32),
}

/// Starts and stops instances so each revision has `sets[revision]` live instances
/// (revisions not listed have none). Surplus instances go not-ready first, then the
/// newest, like a ReplicaSet scaling down.
pub fn decide(sets: &BTreeMap<String, usize>, instances: &[View]) -> Vec<Action> {
    let mut live: BTreeMap<&str, Vec<&View>> = BTreeMap::new();
    for v in instances.iter().filter(|v| !v.terminating) {
        live.entry(v.revision.as_str()).or_default().push(v);
    }
    let mut actions = Vec::new();
    for (rev, vs) in &live {
        let want = sets.get(*rev).copied().unwrap_or(0);
        if vs.len() > want {
            let mut by_pref: Vec<&&View> = vs.iter().collect();
            by_pref.sort_by_key(|v| (v.ready, std::cmp::Reverse(v.id)));
            for v in by_pref.into_iter().take(vs.len() - want) {
                actions.push(Action::Stop(v.id));
            }
        }
    }
    for (rev, want) in sets {
        let have = live.get(rev.as_str()).map_or(0, Vec::len);
        for _ in have..*want {
            actions.push(Action::Start(rev.clone()));
        }
    }
    actions
}

/// CrashLoopBackOff as the kubelet does it: the first restart at once, then 10 s doubling
/// per restart in a row, at most 5 minutes.
pub fn backoff(restarts_in_a_row: u32) -> Duration {
    if restarts_in_a_row == 0 {
        return Duration::ZERO;
    }
    let secs = 10u64.saturating_mul(1u64 << (restarts_in_a_row - 1).min(10));
    Duration::from_secs(secs.min(300))
}

/// A run this long resets the backoff.
pub const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(600);

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: u32, rev: &str, ready: bool) -> View {
        View { id, revision: rev.into(), ready, terminating: false }
    }

    fn sets(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
        pairs.iter().map(|(r, n)| ((*r).to_owned(), *n)).collect()
    }

    fn start(rev: &str) -> Action {
        Action::Start(rev.into())
    }

    #[test]
    fn scales_up_from_nothing() {
        assert_eq!(decide(&sets(&[("a", 3)]), &[]), [start("a"), start("a"), start("a")]);
        assert_eq!(decide(&sets(&[("a", 3)]), &[v(0, "a", false)]), [start("a"), start("a")]);
    }

    #[test]
    fn scales_down_unready_then_newest() {
        let inst = [v(0, "a", true), v(1, "a", false), v(2, "a", true), v(3, "a", true)];
        assert_eq!(decide(&sets(&[("a", 2)]), &inst), [Action::Stop(1), Action::Stop(3)]);
        assert_eq!(decide(&sets(&[("a", 0)]), &[v(0, "a", true)]), [Action::Stop(0)]);
    }

    #[test]
    fn each_revision_gets_its_count_and_unlisted_ones_stop() {
        let mut inst = vec![v(0, "a", true), v(1, "a", true), v(2, "old", true)];
        assert_eq!(
            decide(&sets(&[("a", 2), ("b", 1)]), &inst),
            [Action::Stop(2), start("b")],
            "old is not listed: it stops; b starts beside a"
        );
        inst[2].terminating = true;
        inst.push(v(3, "b", false));
        assert_eq!(decide(&sets(&[("a", 2), ("b", 1)]), &inst), []);
        assert_eq!(decide(&sets(&[("a", 1), ("b", 1)]), &inst), [Action::Stop(1)]);
    }

    #[test]
    fn backoff_doubles_to_five_minutes() {
        let got: Vec<u64> = (0..8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(got, [0, 10, 20, 40, 80, 160, 300, 300]);
    }
}
