//! The routing table of one service: ready endpoints grouped by revision, the weights
//! between groups, header-match routes, and the pick of one backend per request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// How a header value must look for a route to match.
#[derive(Debug, Clone)]
pub enum ValueMatch {
    Exact(String),
    Prefix(String),
    Regex(regex_lite::Regex),
}

impl ValueMatch {
    /// A regular-expression match; `None` when `re` does not compile.
    pub fn regex(re: &str) -> Option<ValueMatch> {
        regex_lite::Regex::new(re).ok().map(ValueMatch::Regex)
    }

    fn matches(&self, v: &str) -> bool {
        match self {
            ValueMatch::Exact(e) => v == e,
            ValueMatch::Prefix(p) => v.starts_with(p.as_str()),
            ValueMatch::Regex(r) => r.is_match(v),
        }
    }
}

/// Requests whose headers all match go to `revision` (Argo Rollouts' setHeaderRoute).
#[derive(Debug, Clone)]
pub struct HeaderRoute {
    pub name: String,
    pub matches: Vec<(String, ValueMatch)>,
    pub revision: String,
}

/// How traffic is split. Empty weights: every ready endpoint shares the traffic.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// (revision, weight); a request picks a group in proportion to its weight.
    pub weights: Vec<(String, u32)>,
    pub header_routes: Vec<HeaderRoute>,
    /// Only the weighted revisions serve: when none of them has a ready instance, the
    /// request gets 503 rather than another revision (a preview address).
    pub only_weighted: bool,
}

/// One upstream instance, with its in-flight request count for least-outstanding picks.
#[derive(Debug)]
pub struct Backend {
    pub instance: u32,
    pub revision: String,
    pub addr: SocketAddr,
    /// `addr` as a URI authority, built once.
    pub authority: hyper::http::uri::Authority,
    pub inflight: AtomicUsize,
}

impl Backend {
    pub fn new(instance: u32, revision: String, addr: SocketAddr) -> Backend {
        let authority = hyper::http::uri::Authority::try_from(addr.to_string().as_str())
            .unwrap_or_else(|_| hyper::http::uri::Authority::from_static("127.0.0.1"));
        Backend { instance, revision, addr, authority, inflight: AtomicUsize::new(0) }
    }
}

#[derive(Debug, Default)]
pub struct Table {
    pub backends: Vec<Arc<Backend>>,
    pub policy: Policy,
}

/// A source of cheap pseudo-random numbers for weighted picks.
#[derive(Debug)]
pub struct Dice(AtomicU64);

impl Dice {
    pub fn new(seed: u64) -> Dice {
        Dice(AtomicU64::new(seed | 1))
    }

    pub fn roll(&self, below: u64) -> u64 {
        let mut x = self.0.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0.store(x, Ordering::Relaxed);
        if below == 0 { 0 } else { x % below }
    }
}

impl Table {
    /// Picks the backend for a request: a matching header route's revision, else a group by
    /// weight (falling back to any ready group when the chosen one is empty), then the
    /// backend with the fewest requests in flight. `exclude` skips a backend that just failed.
    pub fn pick<'h>(
        &self,
        header: impl Fn(&str) -> Option<&'h str>,
        dice: &Dice,
        exclude: Option<u32>,
    ) -> Option<Arc<Backend>> {
        let usable = |b: &&Arc<Backend>| Some(b.instance) != exclude;
        let in_revision = |rev: &str| -> Vec<&Arc<Backend>> {
            self.backends.iter().filter(usable).filter(|b| b.revision == rev).collect()
        };
        for r in &self.policy.header_routes {
            if r.matches.iter().all(|(name, m)| header(name).is_some_and(|v| m.matches(v))) {
                let group = in_revision(&r.revision);
                if !group.is_empty() {
                    return least_loaded(&group, dice);
                }
            }
        }
        let weights: Vec<(&str, u64)> = self
            .policy
            .weights
            .iter()
            .filter(|(_, w)| *w > 0)
            .map(|(r, w)| (r.as_str(), u64::from(*w)))
            .collect();
        if !weights.is_empty() {
            let total: u64 = weights.iter().map(|(_, w)| w).sum();
            let mut roll = dice.roll(total);
            let mut chosen = weights[0].0;
            for (rev, w) in &weights {
                if roll < *w {
                    chosen = rev;
                    break;
                }
                roll -= w;
            }
            let group = in_revision(chosen);
            if !group.is_empty() {
                return least_loaded(&group, dice);
            }
            // The chosen group has no ready instance: any weighted group that has one.
            for (rev, _) in &weights {
                let group = in_revision(rev);
                if !group.is_empty() {
                    return least_loaded(&group, dice);
                }
            }
            if self.policy.only_weighted {
                return None;
            }
        }
        let all: Vec<&Arc<Backend>> = self.backends.iter().filter(usable).collect();
        least_loaded(&all, dice)
    }
}

/// The backend with the fewest requests in flight; ties broken from a random start.
fn least_loaded(group: &[&Arc<Backend>], dice: &Dice) -> Option<Arc<Backend>> {
    if group.is_empty() {
        return None;
    }
    let start = dice.roll(group.len() as u64) as usize;
    let mut best: Option<&Arc<Backend>> = None;
    for i in 0..group.len() {
        let b = group[(start + i) % group.len()];
        if best
            .is_none_or(|x| b.inflight.load(Ordering::Relaxed) < x.inflight.load(Ordering::Relaxed))
        {
            best = Some(b);
        }
    }
    best.cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(instance: u32, rev: &str, inflight: usize) -> Arc<Backend> {
        let b = Backend::new(
            instance,
            rev.into(),
            SocketAddr::from(([127, 0, 0, 1], 1000 + instance as u16)),
        );
        b.inflight.store(inflight, Ordering::Relaxed);
        Arc::new(b)
    }

    #[test]
    fn least_outstanding_wins() {
        let t = Table {
            backends: vec![backend(0, "a", 3), backend(1, "a", 1), backend(2, "a", 2)],
            policy: Policy::default(),
        };
        let d = Dice::new(7);
        for _ in 0..20 {
            assert_eq!(t.pick(|_| None, &d, None).unwrap().instance, 1);
        }
        assert_ne!(
            t.pick(|_| None, &d, Some(1)).unwrap().instance,
            1,
            "a failed backend is skipped"
        );
    }

    #[test]
    fn weights_split_traffic_and_empty_groups_fall_back() {
        let policy = Policy {
            weights: vec![("stable".into(), 80), ("canary".into(), 20)],
            header_routes: vec![],
            only_weighted: false,
        };
        let t = Table {
            backends: vec![backend(0, "stable", 0), backend(1, "canary", 0)],
            policy: policy.clone(),
        };
        let d = Dice::new(42);
        let canary = (0..10_000)
            .filter(|_| t.pick(|_| None, &d, None).unwrap().revision == "canary")
            .count();
        assert!((1700..2300).contains(&canary), "about 20% went to the canary: {canary}");
        let only_stable = Table { backends: vec![backend(0, "stable", 0)], policy };
        assert!(
            (0..100).all(|_| only_stable.pick(|_| None, &d, None).unwrap().revision == "stable")
        );
    }

    #[test]
    fn header_routes_take_precedence() {
        let route = HeaderRoute {
            name: "beta".into(),
            matches: vec![
                ("x-user".into(), ValueMatch::Prefix("beta-".into())),
                ("x-env".into(), ValueMatch::Exact("test".into())),
            ],
            revision: "canary".into(),
        };
        let policy = Policy {
            weights: vec![("stable".into(), 100), ("canary".into(), 0)],
            header_routes: vec![route],
            only_weighted: false,
        };
        let t = Table { backends: vec![backend(0, "stable", 0), backend(1, "canary", 0)], policy };
        let d = Dice::new(1);
        let headers = |user: &'static str| {
            move |n: &str| match n {
                "x-user" => Some(user),
                "x-env" => Some("test"),
                _ => None,
            }
        };
        assert_eq!(t.pick(headers("beta-anna"), &d, None).unwrap().revision, "canary");
        assert_eq!(t.pick(headers("anna"), &d, None).unwrap().revision, "stable");
        let re = ValueMatch::Regex(regex_lite::Regex::new("^v[0-9]+$").unwrap());
        assert!(re.matches("v12") && !re.matches("v1x"));
    }
}
