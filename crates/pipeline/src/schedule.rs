//! The run state machine, pure: jobs queued, in progress, then success, failure,
//! cancelled or skipped; a job starts the moment every job it needs has finished (a
//! true DAG, not stage by stage), up to a parallelism limit and its matrix's
//! `max-parallel`; its `if:` decides with its needs' results (a failed or skipped
//! need skips it unless the condition says otherwise); `fail-fast` cancels the other
//! combinations of a failing matrix job; `continue-on-error` keeps a failing job from
//! failing what depends on it and the run. Steps have an outcome (what happened) and
//! a conclusion (after `continue-on-error`).

use crate::plan::Plan;
use crate::workflow::Workflow;

/// Where a job or step is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Queued,
    InProgress,
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::InProgress => "in_progress",
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Cancelled => "cancelled",
            Status::Skipped => "skipped",
        }
    }

    pub fn finished(self) -> bool {
        !matches!(self, Status::Queued | Status::InProgress)
    }
}

/// A step's result: its outcome, and its conclusion once `continue-on-error` applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepResult {
    pub outcome: Status,
    pub conclusion: Status,
}

impl StepResult {
    pub fn new(outcome: Status, continue_on_error: bool) -> StepResult {
        let conclusion =
            if outcome == Status::Failure && continue_on_error { Status::Success } else { outcome };
        StepResult { outcome, conclusion }
    }
}

/// What a job's `if:` needs to decide: the results of the jobs it needs, and whether
/// the run is being cancelled.
pub struct Decide<'a> {
    pub needs: Vec<(&'a str, Status)>,
    pub cancelled: bool,
}

/// The state of one run.
pub struct Scheduler {
    /// Per planned job (a matrix combination each).
    pub status: Vec<Status>,
    /// Per workflow job: the indexes of its planned jobs.
    groups: Vec<Vec<usize>>,
    needs: Vec<Vec<usize>>,
    ids: Vec<String>,
    fail_fast: Vec<bool>,
    max_parallel: Vec<Option<usize>>,
    continue_on_error: Vec<bool>,
    /// Planned job → workflow job.
    owner: Vec<usize>,
    limit: usize,
    cancelled: bool,
}

impl Scheduler {
    /// `limit`: how many jobs may run at once. `fail_fast`, `max_parallel` and
    /// `continue_on_error` per workflow job come from the evaluated strategy.
    pub fn new(
        wf: &Workflow,
        plan: &Plan,
        limit: usize,
        fail_fast: Vec<bool>,
        max_parallel: Vec<Option<usize>>,
        continue_on_error: Vec<bool>,
    ) -> Scheduler {
        let n = wf.jobs.len();
        let mut groups = vec![Vec::new(); n];
        for (i, pj) in plan.jobs.iter().enumerate() {
            groups[pj.job].push(i);
        }
        let needs = wf
            .jobs
            .iter()
            .map(|j| {
                j.needs
                    .iter()
                    .filter_map(|(id, _)| {
                        wf.jobs.iter().position(|x| x.id.eq_ignore_ascii_case(id))
                    })
                    .collect()
            })
            .collect();
        Scheduler {
            status: vec![Status::Queued; plan.jobs.len()],
            groups,
            needs,
            ids: wf.jobs.iter().map(|j| j.id.clone()).collect(),
            fail_fast,
            max_parallel,
            continue_on_error,
            owner: plan.jobs.iter().map(|p| p.job).collect(),
            limit: limit.max(1),
            cancelled: false,
        }
    }

    /// A workflow job's result from its planned jobs: failure if one failed (unless
    /// the job continues on error), cancelled if one was, skipped if all were,
    /// success otherwise; `None` while any is unfinished.
    pub fn job_result(&self, job: usize) -> Option<Status> {
        let sts: Vec<Status> = self.groups[job].iter().map(|&i| self.status[i]).collect();
        if sts.iter().any(|s| !s.finished()) {
            return None;
        }
        Some(if sts.contains(&Status::Failure) {
            if self.continue_on_error[job] { Status::Success } else { Status::Failure }
        } else if sts.contains(&Status::Cancelled) {
            Status::Cancelled
        } else if !sts.is_empty() && sts.iter().all(|s| *s == Status::Skipped) {
            Status::Skipped
        } else {
            Status::Success
        })
    }

    fn running(&self) -> usize {
        self.status.iter().filter(|s| **s == Status::InProgress).count()
    }

    /// Jobs to start now (marked in progress). Jobs whose needs have all finished
    /// are decided by `condition` (their `if:` evaluated with the needs' results);
    /// a job whose condition is false is skipped, and so on down the graph.
    pub fn next(&mut self, mut condition: impl FnMut(usize, &Decide<'_>) -> bool) -> Vec<usize> {
        let mut start = Vec::new();
        loop {
            let mut changed = false;
            for job in 0..self.groups.len() {
                let queued: Vec<usize> = self.groups[job]
                    .iter()
                    .copied()
                    .filter(|&i| self.status[i] == Status::Queued)
                    .collect();
                if queued.is_empty() {
                    continue;
                }
                let results: Option<Vec<(usize, Status)>> =
                    self.needs[job].iter().map(|&n| self.job_result(n).map(|r| (n, r))).collect();
                let Some(results) = results else { continue };
                // Decided once per workflow job: all its combinations share the answer,
                // except that combinations not started yet can still be started later.
                let undecided = self.groups[job].iter().all(|&i| self.status[i] == Status::Queued);
                if undecided {
                    let decide = Decide {
                        needs: results.iter().map(|(n, r)| (self.ids[*n].as_str(), *r)).collect(),
                        cancelled: self.cancelled,
                    };
                    if !condition(job, &decide) {
                        for &i in &queued {
                            self.status[i] = Status::Skipped;
                        }
                        changed = true;
                        continue;
                    }
                }
                if self.cancelled && !undecided {
                    continue; // no more combinations of a job once the run is cancelled
                }
                let in_job = self.groups[job]
                    .iter()
                    .filter(|&&i| self.status[i] == Status::InProgress)
                    .count();
                let mut room =
                    self.max_parallel[job].map_or(usize::MAX, |m| m.max(1).saturating_sub(in_job));
                for i in queued {
                    if room == 0 || self.running() >= self.limit {
                        break;
                    }
                    self.status[i] = Status::InProgress;
                    start.push(i);
                    room -= 1;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        start
    }

    /// Turns a planned job whose matrix was deferred into `count` combinations (the
    /// first keeps its index); none marks it skipped. Returns the indexes.
    pub fn expand(&mut self, planned: usize, count: usize) -> Vec<usize> {
        if count == 0 {
            self.status[planned] = Status::Skipped;
            return Vec::new();
        }
        let job = self.owner[planned];
        let mut out = vec![planned];
        for _ in 1..count {
            let i = self.status.len();
            self.status.push(Status::Queued);
            self.owner.push(job);
            self.groups[job].push(i);
            out.push(i);
        }
        out
    }

    /// A planned job's place among its workflow job's combinations: (index, total).
    pub fn combination(&self, planned: usize) -> (usize, usize) {
        let g = &self.groups[self.owner[planned]];
        (g.iter().position(|&i| i == planned).unwrap_or(0), g.len())
    }

    /// The workflow job a planned job belongs to.
    pub fn owner(&self, planned: usize) -> usize {
        self.owner[planned]
    }

    /// Whether every job a workflow job needs has finished.
    pub fn needs_finished(&self, job: usize) -> bool {
        self.needs[job].iter().all(|&n| self.job_result(n).is_some())
    }

    /// Records a finished job. A failure of a fail-fast matrix job cancels its other
    /// combinations (those running are returned, for the caller to stop).
    pub fn finished(&mut self, planned: usize, result: Status) -> Vec<usize> {
        self.status[planned] = result;
        let job = self.owner[planned];
        let mut stop = Vec::new();
        if result == Status::Failure && self.fail_fast[job] && !self.continue_on_error[job] {
            for &i in &self.groups[job] {
                match self.status[i] {
                    Status::Queued => self.status[i] = Status::Cancelled,
                    Status::InProgress => stop.push(i),
                    _ => {}
                }
            }
        }
        stop
    }

    /// Cancels the run: jobs not started yet run only if their `if:` holds with
    /// `cancelled()` true (`always()`, `cancelled()`); running ones are returned for
    /// the caller to stop.
    pub fn cancel(&mut self) -> Vec<usize> {
        self.cancelled = true;
        self.status
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == Status::InProgress)
            .map(|(i, _)| i)
            .collect()
    }

    /// Whether every job has finished (cancelled queued jobs included).
    pub fn done(&mut self) -> bool {
        if self.cancelled {
            for s in self.status.iter_mut() {
                if *s == Status::Queued {
                    *s = Status::Cancelled;
                }
            }
        }
        self.status.iter().all(|s| s.finished())
    }

    /// The run's conclusion.
    pub fn conclusion(&self) -> Status {
        let results: Vec<Status> =
            (0..self.groups.len()).filter_map(|j| self.job_result(j)).collect();
        if self.cancelled || results.contains(&Status::Cancelled) {
            Status::Cancelled
        } else if results.contains(&Status::Failure) {
            Status::Failure
        } else {
            Status::Success
        }
    }
}

/// The status functions of a job's `if:`, from its needs' results: `success()` when
/// every need succeeded, `failure()` when one failed, `cancelled()` when the run is
/// being cancelled, `always()`.
pub fn job_status_function(name: &str, d: &Decide<'_>) -> bool {
    match name {
        "always" => true,
        "cancelled" => d.cancelled,
        "failure" => !d.cancelled && d.needs.iter().any(|(_, r)| *r == Status::Failure),
        _ => !d.cancelled && d.needs.iter().all(|(_, r)| *r == Status::Success),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plan::plan;

    fn setup(text: &str, limit: usize) -> (Workflow, Scheduler) {
        let wf = crate::read("w.yml", text.as_bytes()).unwrap_or_else(|p| panic!("{p:?}"));
        let p = plan(&wf, &andon_expr::Object::new()).unwrap();
        let n = wf.jobs.len();
        let ff = wf
            .jobs
            .iter()
            .map(|j| {
                !matches!(
                    j.strategy.as_ref().and_then(|s| s.get("fail-fast")).map(|t| &t.kind),
                    Some(crate::Kind::Bool(false))
                )
            })
            .collect();
        let coe = wf
            .jobs
            .iter()
            .map(|j| {
                matches!(
                    j.continue_on_error.as_ref().map(|t| &t.kind),
                    Some(crate::Kind::Bool(true))
                )
            })
            .collect();
        let s = Scheduler::new(&wf, &p, limit, ff, vec![None; n], coe);
        (wf, s)
    }

    /// Decides with the job's normalised condition: its status functions from the
    /// needs' results, and nothing else (these tests use no other expression).
    fn by_condition(wf: &Workflow) -> impl FnMut(usize, &Decide<'_>) -> bool + '_ {
        move |job, d| {
            let c = &wf.jobs[job].condition;
            if c.contains("always()") {
                return true;
            }
            if c.contains("failure()") {
                return job_status_function("failure", d);
            }
            if c.contains("cancelled()") {
                return job_status_function("cancelled", d);
            }
            job_status_function("success", d)
        }
    }

    const DAG: &str = "on: push
jobs:
  a: {runs-on: x, steps: [{run: a}]}
  b: {runs-on: x, steps: [{run: b}]}
  c: {needs: a, runs-on: x, steps: [{run: c}]}
  d: {needs: [b, c], runs-on: x, steps: [{run: d}]}
  report: {needs: d, if: always(), runs-on: x, steps: [{run: r}]}
  on-failure: {needs: d, if: failure(), runs-on: x, steps: [{run: f}]}
";

    #[test]
    fn a_job_starts_when_its_own_needs_finish() {
        let (wf, mut s) = setup(DAG, 10);
        assert_eq!(s.next(by_condition(&wf)), [0, 1]);
        s.finished(0, Status::Success);
        // c starts although b (same level as a) is still running: no stages.
        assert_eq!(s.next(by_condition(&wf)), [2]);
        s.finished(2, Status::Success);
        assert!(s.next(by_condition(&wf)).is_empty(), "d waits for b");
        s.finished(1, Status::Success);
        assert_eq!(s.next(by_condition(&wf)), [3]);
        s.finished(3, Status::Success);
        assert_eq!(s.next(by_condition(&wf)), [4]);
        assert_eq!(s.status[5], Status::Skipped, "failure() is false");
        s.finished(4, Status::Success);
        assert!(s.done());
        assert_eq!(s.conclusion(), Status::Success);
    }

    #[test]
    fn failures_skip_dependents_unless_their_condition_says_otherwise() {
        let (wf, mut s) = setup(DAG, 10);
        s.next(by_condition(&wf));
        s.finished(0, Status::Failure);
        s.finished(1, Status::Success);
        let started = s.next(by_condition(&wf));
        assert_eq!(s.status[2], Status::Skipped, "c needs the failed a");
        assert_eq!(s.status[3], Status::Skipped, "d needs the skipped c");
        assert_eq!(started, [4], "report runs always; on-failure sees d skipped, not failed");
        assert_eq!(s.status[5], Status::Skipped);
        s.finished(4, Status::Success);
        assert!(s.done());
        assert_eq!(s.conclusion(), Status::Failure);
    }

    #[test]
    fn parallelism_limit_and_fail_fast() {
        let text = "on: push
jobs:
  t:
    runs-on: x
    strategy: {matrix: {n: [1, 2, 3, 4]}}
    steps: [{run: t}]
  u:
    runs-on: x
    strategy: {fail-fast: false, matrix: {n: [1, 2]}}
    steps: [{run: u}]
";
        let (wf, mut s) = setup(text, 2);
        assert_eq!(s.next(by_condition(&wf)), [0, 1], "two at a time");
        let stop = s.finished(0, Status::Failure);
        assert_eq!(stop, [1], "the running sibling is stopped");
        assert_eq!(&s.status[2..4], [Status::Cancelled, Status::Cancelled]);
        s.finished(1, Status::Cancelled);
        assert_eq!(s.next(by_condition(&wf)), [4, 5]);
        let stop = s.finished(4, Status::Failure);
        assert!(stop.is_empty(), "fail-fast: false");
        s.finished(5, Status::Success);
        assert!(s.done());
        assert_eq!(s.job_result(0), Some(Status::Failure));
        assert_eq!(s.conclusion(), Status::Failure);
    }

    #[test]
    fn continue_on_error_and_cancellation() {
        let text = "on: push
jobs:
  flaky: {runs-on: x, continue-on-error: true, steps: [{run: f}]}
  next: {needs: flaky, runs-on: x, steps: [{run: n}]}
  cleanup: {needs: next, if: always(), runs-on: x, steps: [{run: c}]}
";
        let (wf, mut s) = setup(text, 4);
        s.next(by_condition(&wf));
        s.finished(0, Status::Failure);
        assert_eq!(s.job_result(0), Some(Status::Success), "continue-on-error");
        assert_eq!(s.next(by_condition(&wf)), [1]);
        assert_eq!(s.cancel(), [1], "the running job is to be stopped");
        s.finished(1, Status::Cancelled);
        assert_eq!(s.next(by_condition(&wf)), [2], "always() runs even when cancelled");
        s.finished(2, Status::Success);
        assert!(s.done());
        assert_eq!(s.conclusion(), Status::Cancelled);
        assert_eq!(
            StepResult::new(Status::Failure, true),
            StepResult { outcome: Status::Failure, conclusion: Status::Success }
        );
    }
}
