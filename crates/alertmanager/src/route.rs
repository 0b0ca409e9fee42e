//! The routing tree: options inherited from parents over Alertmanager's defaults,
//! depth-first matching with `continue`, group labels, and route and group keys written
//! exactly as Alertmanager writes them (`{}/{severity="page"}:{alertname="X"}`).

use std::collections::BTreeSet;

use andon_spec::diag::Pos;

use crate::alert::LabelSet;
use crate::config::RouteConfig;
use crate::matcher::{Matcher, matchers_string, matches_all};
use crate::text::label_set_string;

/// Alertmanager's default `group_wait` (30s).
pub const DEFAULT_GROUP_WAIT_MS: i64 = 30_000;
/// Alertmanager's default `group_interval` (5m).
pub const DEFAULT_GROUP_INTERVAL_MS: i64 = 300_000;
/// Alertmanager's default `repeat_interval` (4h).
pub const DEFAULT_REPEAT_INTERVAL_MS: i64 = 14_400_000;

/// One node of the tree with its effective options.
#[derive(Clone, Debug)]
pub struct Route {
    /// Index in [`RouteTree::routes`] (depth-first, parents before children).
    pub id: usize,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    pub receiver: String,
    /// The labels alerts are grouped by (ignored when `group_by_all`).
    pub group_by: BTreeSet<String>,
    pub group_by_all: bool,
    pub group_wait_ms: i64,
    pub group_interval_ms: i64,
    pub repeat_interval_ms: i64,
    /// Sorted as Alertmanager sorts them.
    pub matchers: Vec<Matcher>,
    pub continue_matching: bool,
    /// Not inherited: each route names its own.
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    /// Alertmanager's route key: the parents' matchers and this route's, `/`-separated.
    pub key: String,
    /// Alertmanager's route ID: the key with each node's position among its siblings.
    pub route_id: String,
    pub pos: Pos,
}

/// A routing tree built from the configuration's `route`.
#[derive(Clone, Debug)]
pub struct RouteTree {
    routes: Vec<Route>,
}

impl RouteTree {
    pub fn new(cfg: &RouteConfig) -> RouteTree {
        let mut tree = RouteTree { routes: Vec::new() };
        tree.add(cfg, None, 0);
        tree
    }

    fn add(&mut self, cfg: &RouteConfig, parent: Option<usize>, sibling: usize) -> usize {
        let id = self.routes.len();
        let p = parent.and_then(|i| self.routes.get(i));
        let mut group_by = p.map_or_else(BTreeSet::new, |p| p.group_by.clone());
        let mut group_by_all = p.is_some_and(|p| p.group_by_all);
        if let Some(g) = &cfg.group_by {
            group_by = g.iter().cloned().collect();
            group_by_all = false;
        } else if cfg.group_by_all {
            group_by_all = true;
        }
        let matchers_text = matchers_string(&cfg.matchers);
        let (key, route_id) = match p {
            Some(p) => (
                format!("{}/{}", p.key, matchers_text),
                format!("{}/{}/{}", p.route_id, matchers_text, sibling),
            ),
            None => (matchers_text.clone(), matchers_text),
        };
        let route = Route {
            id,
            parent,
            children: Vec::new(),
            receiver: cfg
                .receiver
                .clone()
                .or_else(|| p.map(|p| p.receiver.clone()))
                .unwrap_or_default(),
            group_by,
            group_by_all,
            group_wait_ms: cfg
                .group_wait_ms
                .or(p.map(|p| p.group_wait_ms))
                .unwrap_or(DEFAULT_GROUP_WAIT_MS),
            group_interval_ms: cfg
                .group_interval_ms
                .or(p.map(|p| p.group_interval_ms))
                .unwrap_or(DEFAULT_GROUP_INTERVAL_MS),
            repeat_interval_ms: cfg
                .repeat_interval_ms
                .or(p.map(|p| p.repeat_interval_ms))
                .unwrap_or(DEFAULT_REPEAT_INTERVAL_MS),
            matchers: cfg.matchers.clone(),
            continue_matching: cfg.continue_matching,
            mute_time_intervals: cfg.mute_time_intervals.clone(),
            active_time_intervals: cfg.active_time_intervals.clone(),
            key,
            route_id,
            pos: cfg.pos,
        };
        self.routes.push(route);
        for (i, child) in cfg.routes.iter().enumerate() {
            let c = self.add(child, Some(id), i);
            self.routes[id].children.push(c);
        }
        id
    }

    /// The root route.
    pub fn root(&self) -> &Route {
        &self.routes[0]
    }

    pub fn get(&self, id: usize) -> Option<&Route> {
        self.routes.get(id)
    }

    /// Every route, depth-first.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The routes an alert with these labels goes to: depth-first, left to right; a
    /// matching child stops the search among its siblings unless it has `continue`; a
    /// node none of whose children matched handles the alert itself.
    pub fn match_routes(&self, labels: &LabelSet) -> Vec<&Route> {
        let mut out = Vec::new();
        self.match_into(0, labels, &mut out);
        out
    }

    fn match_into<'a>(&'a self, id: usize, labels: &LabelSet, out: &mut Vec<&'a Route>) -> bool {
        let r = &self.routes[id];
        if !matches_all(&r.matchers, labels) {
            return false;
        }
        let before = out.len();
        for c in &r.children {
            let matched = self.match_into(*c, labels, out);
            if matched && !self.routes[*c].continue_matching {
                break;
            }
        }
        if out.len() == before {
            out.push(r);
        }
        true
    }
}

impl Route {
    /// The labels of an alert that decide its group on this route.
    pub fn group_labels(&self, labels: &LabelSet) -> LabelSet {
        labels
            .iter()
            .filter(|(k, _)| self.group_by_all || self.group_by.contains(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Alertmanager's group key: `<route key>:<group labels>`.
    pub fn group_key(&self, group_labels: &LabelSet) -> String {
        format!("{}:{}", self.key, label_set_string(group_labels))
    }
}

#[cfg(test)]
mod tests;
