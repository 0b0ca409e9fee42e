//! The pure decisions of the service controller: which instances to start and stop to
//! reach the desired replicas at the desired revision (a rolling replacement with
//! maxSurge 1 and maxUnavailable 0), and CrashLoopBackOff's delays.

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
    /// Start one more instance at the desired revision.
    Start,
    Stop(u32),
}

/// One step towards `replicas` instances of `revision`, never dropping below `replicas`
/// ready instances while replacing (maxUnavailable 0) and never running more than one
/// extra (maxSurge 1). Call again after each change.
pub fn decide(replicas: usize, revision: &str, instances: &[View]) -> Vec<Action> {
    let live: Vec<&View> = instances.iter().filter(|v| !v.terminating).collect();
    let (new, old): (Vec<&View>, Vec<&View>) = live.iter().partition(|v| v.revision == revision);
    let surge = if old.is_empty() { 0 } else { 1 };
    let mut actions = Vec::new();

    // Old instances that are not ready serve nobody: replace them first.
    for v in old.iter().filter(|v| !v.ready) {
        actions.push(Action::Stop(v.id));
    }
    let old_ready: Vec<&&View> = old.iter().filter(|v| v.ready).collect();
    let live_after_unready = new.len() + old_ready.len();

    let mut starting = 0;
    while new.len() + starting < replicas && live_after_unready + starting < replicas + surge {
        actions.push(Action::Start);
        starting += 1;
    }
    // Stop old ready instances, newest first, while every replica stays ready.
    let mut ready_left = live.iter().filter(|v| v.ready).count();
    for v in old_ready.iter().rev() {
        if ready_left > replicas {
            actions.push(Action::Stop(v.id));
            ready_left -= 1;
        }
    }
    // Too many at the desired revision (scale down): not-ready first, then the newest.
    if old.is_empty() && new.len() > replicas {
        let mut by_pref: Vec<&&View> = new.iter().collect();
        by_pref.sort_by_key(|v| (v.ready, std::cmp::Reverse(v.id)));
        for v in by_pref.into_iter().take(new.len() - replicas) {
            actions.push(Action::Stop(v.id));
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

    #[test]
    fn scales_up_from_nothing() {
        assert_eq!(decide(3, "a", &[]), [Action::Start, Action::Start, Action::Start]);
        assert_eq!(decide(3, "a", &[v(0, "a", false)]), [Action::Start, Action::Start]);
    }

    #[test]
    fn scales_down_unready_then_newest() {
        let inst = [v(0, "a", true), v(1, "a", false), v(2, "a", true), v(3, "a", true)];
        assert_eq!(decide(2, "a", &inst), [Action::Stop(1), Action::Stop(3)]);
        assert_eq!(decide(0, "a", &[v(0, "a", true)]), [Action::Stop(0)]);
    }

    #[test]
    fn rolls_one_at_a_time_keeping_every_replica_ready() {
        // Three ready at revision a, b desired: one surge instance first, nothing stopped.
        let mut inst = vec![v(0, "a", true), v(1, "a", true), v(2, "a", true)];
        assert_eq!(decide(3, "b", &inst), [Action::Start]);
        // The surge instance starts but is not ready: wait.
        inst.push(v(3, "b", false));
        assert_eq!(decide(3, "b", &inst), []);
        // Ready: one old one may go.
        inst[3].ready = true;
        assert_eq!(decide(3, "b", &inst), [Action::Stop(2)]);
        inst[2].terminating = true;
        // Then the next surge.
        assert_eq!(decide(3, "b", &inst), [Action::Start]);
        inst.push(v(4, "b", true));
        assert_eq!(decide(3, "b", &inst), [Action::Stop(1)]);
        inst[1].terminating = true;
        inst.push(v(5, "b", true));
        assert_eq!(decide(3, "b", &inst), [Action::Stop(0)]);
        inst[0].terminating = true;
        assert_eq!(decide(3, "b", &inst), []);
    }

    #[test]
    fn broken_old_instances_are_replaced_first() {
        let inst = [v(0, "a", false), v(1, "a", true)];
        assert_eq!(decide(2, "b", &inst), [Action::Stop(0), Action::Start, Action::Start]);
    }

    #[test]
    fn backoff_doubles_to_five_minutes() {
        let got: Vec<u64> = (0..8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(got, [0, 10, 20, 40, 80, 160, 300, 300]);
    }
}
