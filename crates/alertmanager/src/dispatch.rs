//! The dispatcher: alerts in, notifications out, with time always passed in.
//!
//! Alerts are stored (merged with earlier copies as Alertmanager merges them) and
//! routed into aggregation groups, one per (route, group labels). A new group flushes
//! after `group_wait` (at once when its first alert is older than that), then every
//! `group_interval`. A flush runs Alertmanager's pipeline in its order — inhibition,
//! active time intervals, mute time intervals, silences — and then, per integration of
//! the route's receiver, the notification log decides whether anything changed since
//! the last notification (new firing alerts, newly resolved ones for integrations that
//! send resolved alerts, everything resolved) or `repeat_interval` has passed. Resolved
//! alerts are dropped from the group after the flush; an emptied group is removed.

use std::collections::{BTreeMap, BTreeSet};

use crate::alert::{Alert, Fingerprint, LabelSet, Status, alert_order};
use crate::config::{Config, Integration, IntegrationKind, Receiver};
use crate::inhibit::{InhibitIndex, Inhibitor};
use crate::route::RouteTree;
use crate::silence::Silences;
use crate::timeinterval::{Intervals, in_intervals};

/// Why a notification is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotifyReason {
    FirstNotification,
    NewAlertsInGroup,
    NewResolvedAlerts,
    AllAlertsResolved,
    RepeatIntervalElapsed,
}

impl NotifyReason {
    /// Alertmanager's wording.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyReason::FirstNotification => "first notification",
            NotifyReason::NewAlertsInGroup => "new alerts added",
            NotifyReason::NewResolvedAlerts => "some alerts resolved",
            NotifyReason::AllAlertsResolved => "all alerts resolved",
            NotifyReason::RepeatIntervalElapsed => "repeat interval elapsed",
        }
    }
}

/// Identifies one notification-log entry: which integration of which receiver was told
/// about which group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NflogKey {
    pub receiver: String,
    pub integration: IntegrationKind,
    pub index: usize,
    pub group_key: String,
}

/// What was last notified for a key: the alerts (by fingerprint) that were firing and
/// resolved, when, and when the entry may be forgotten (twice `repeat_interval` later).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NflogEntry {
    pub firing: BTreeSet<u64>,
    pub resolved: BTreeSet<u64>,
    pub timestamp: i64,
    pub expires_at: i64,
}

/// An alert as it goes out in a notification.
#[derive(Clone, Debug, PartialEq)]
pub struct NotifiedAlert {
    pub status: Status,
    pub fingerprint: Fingerprint,
    /// The alert; `ends_at` is unset for firing alerts, as Alertmanager sends them.
    pub alert: Alert,
}

/// One message for one integration of a receiver.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub receiver: String,
    pub integration: IntegrationKind,
    /// Position among the receiver's integrations of this kind.
    pub integration_index: usize,
    pub group_key: String,
    pub group_labels: LabelSet,
    pub common_labels: LabelSet,
    pub common_annotations: LabelSet,
    /// In Alertmanager's order (by `job`, `instance`, then labels).
    pub alerts: Vec<NotifiedAlert>,
    /// Firing when any alert in it is firing.
    pub status: Status,
    pub reason: NotifyReason,
    /// The route (index in the tree) whose group this is.
    pub route: usize,
    /// The flush time.
    pub time: i64,
    key: NflogKey,
    prev: Option<NflogEntry>,
    logged: NflogEntry,
}

impl Notification {
    pub fn firing(&self) -> impl Iterator<Item = &NotifiedAlert> {
        self.alerts.iter().filter(|a| a.status == Status::Firing)
    }

    pub fn resolved(&self) -> impl Iterator<Item = &NotifiedAlert> {
        self.alerts.iter().filter(|a| a.status == Status::Resolved)
    }

    /// The notification-log key this notification was recorded under.
    pub fn nflog_key(&self) -> &NflogKey {
        &self.key
    }

    /// The notification-log entry this notification recorded (kept to restore the log).
    pub fn nflog_entry(&self) -> &NflogEntry {
        &self.logged
    }
}

/// Why an alert is not notified right now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Suppression {
    pub silenced_by: Vec<String>,
    /// Fingerprints of the alerts inhibiting it.
    pub inhibited_by: Vec<String>,
}

impl Suppression {
    pub fn is_suppressed(&self) -> bool {
        !self.silenced_by.is_empty() || !self.inhibited_by.is_empty()
    }
}

/// An aggregation group as the API lists them.
#[derive(Clone, Debug)]
pub struct GroupView<'a> {
    pub receiver: &'a str,
    pub route: usize,
    pub group_key: &'a str,
    pub labels: &'a LabelSet,
    pub alerts: Vec<&'a Alert>,
    pub next_flush: i64,
}

#[derive(Clone, Debug)]
struct Group {
    route: usize,
    labels: LabelSet,
    key: String,
    alerts: BTreeMap<Fingerprint, Alert>,
    next_flush: i64,
}

type GroupId = (usize, String);

/// The aggregation-group state machine. See the module docs.
#[derive(Clone, Debug)]
pub struct Dispatcher {
    tree: RouteTree,
    receivers: BTreeMap<String, Receiver>,
    inhibitor: Inhibitor,
    intervals: Intervals,
    resolve_timeout_ms: i64,
    alerts: BTreeMap<Fingerprint, Alert>,
    groups: BTreeMap<GroupId, Group>,
    nflog: BTreeMap<NflogKey, NflogEntry>,
    silences: Silences,
}

impl Dispatcher {
    pub fn new(config: &Config) -> Self {
        Dispatcher {
            tree: RouteTree::new(&config.route),
            receivers: config.receivers.iter().map(|r| (r.name.clone(), r.clone())).collect(),
            inhibitor: Inhibitor::new(&config.inhibit_rules),
            intervals: config.time_intervals.clone(),
            resolve_timeout_ms: config.global.resolve_timeout_ms,
            alerts: BTreeMap::new(),
            groups: BTreeMap::new(),
            nflog: BTreeMap::new(),
            silences: Silences::new(),
        }
    }

    /// Applies a new configuration: the routing tree, receivers, rules and intervals are
    /// replaced, groups are rebuilt from the stored alerts (starting their `group_wait`
    /// again, or flushing at once for old alerts); silences and the notification log stay.
    pub fn reload(&mut self, config: &Config, now: i64) {
        let mut next = Dispatcher::new(config);
        next.nflog = std::mem::take(&mut self.nflog);
        next.silences = std::mem::take(&mut self.silences);
        next.alerts = std::mem::take(&mut self.alerts);
        let alerts: Vec<Alert> = next.alerts.values().cloned().collect();
        for a in alerts {
            next.route_alert(&a, now);
        }
        *self = next;
    }

    pub fn tree(&self) -> &RouteTree {
        &self.tree
    }

    pub fn silences(&self) -> &Silences {
        &self.silences
    }

    /// The silences, for the caller to create, update, expire, restore and collect them.
    pub fn silences_mut(&mut self) -> &mut Silences {
        &mut self.silences
    }

    /// Every stored alert, by fingerprint.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    pub fn alert(&self, fp: Fingerprint) -> Option<&Alert> {
        self.alerts.get(&fp)
    }

    /// Receives one alert at `now` (Unix ms): fills unset times as Alertmanager does
    /// (`ends_at` = `now + resolve_timeout`), checks it, merges it with the stored copy
    /// and routes it into its groups.
    pub fn insert(&mut self, mut alert: Alert, now: i64) -> Result<(), String> {
        alert.normalize(now, self.resolve_timeout_ms);
        alert.validate()?;
        let fp = alert.fingerprint();
        if let Some(old) = self.alerts.get(&fp) {
            let (os, oe) = (old.starts(), old.ends_at.unwrap_or(i64::MAX));
            let (ns, ne) = (alert.starts(), alert.ends_at.unwrap_or(i64::MAX));
            if (ne > os && ne < oe) || (ns > os && ns < oe) {
                alert = old.merge(&alert);
            }
        }
        self.alerts.insert(fp, alert.clone());
        self.route_alert(&alert, now);
        Ok(())
    }

    fn route_alert(&mut self, alert: &Alert, now: i64) {
        let fp = alert.fingerprint();
        let targets: Vec<(usize, LabelSet, String, i64)> = self
            .tree
            .match_routes(&alert.labels)
            .into_iter()
            .map(|r| {
                let gl = r.group_labels(&alert.labels);
                let key = r.group_key(&gl);
                (r.id, gl, key, r.group_wait_ms)
            })
            .collect();
        for (route, labels, key, wait) in targets {
            let g = self.groups.entry((route, key.clone())).or_insert_with(|| {
                let old_enough = alert.starts().saturating_add(wait) < now;
                Group {
                    route,
                    labels,
                    key,
                    alerts: BTreeMap::new(),
                    next_flush: if old_enough { now } else { now.saturating_add(wait) },
                }
            });
            g.alerts.insert(fp, alert.clone());
        }
    }

    /// When [`Dispatcher::tick`] next has work: the earliest group flush.
    pub fn next_deadline(&self) -> Option<i64> {
        self.groups.values().map(|g| g.next_flush).min()
    }

    /// Flushes every group that is due at `now` and returns the notifications to send.
    /// Each is recorded in the notification log as sent; report a delivery that failed
    /// with [`Dispatcher::failed`] so the next flush tries again. Also forgets resolved
    /// alerts no group holds and expired notification-log entries.
    pub fn tick(&mut self, now: i64) -> Vec<Notification> {
        let due: Vec<GroupId> = self
            .groups
            .iter()
            .filter(|(_, g)| g.next_flush <= now)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::new();
        let inhibit = if due.is_empty() {
            InhibitIndex::default()
        } else {
            self.inhibitor.index(self.alerts.values(), now)
        };
        for id in due {
            let Some(mut g) = self.groups.remove(&id) else { continue };
            let interval = self.tree.get(g.route).map_or(300_000, |r| r.group_interval_ms);
            g.next_flush = now.saturating_add(interval);
            out.extend(self.flush(&mut g, &inhibit, now));
            if !g.alerts.is_empty() {
                self.groups.insert(id, g);
            }
        }
        let held: BTreeSet<Fingerprint> =
            self.groups.values().flat_map(|g| g.alerts.keys().copied()).collect();
        self.alerts.retain(|fp, a| !a.resolved(now) || held.contains(fp));
        self.nflog.retain(|_, e| e.expires_at > now);
        out
    }

    fn flush(&mut self, g: &mut Group, inhibit: &InhibitIndex, now: i64) -> Vec<Notification> {
        let mut flushed: Vec<Alert> = g.alerts.values().cloned().collect();
        let resolved_snapshot: Vec<(Fingerprint, i64)> = flushed
            .iter()
            .filter(|a| a.resolved(now))
            .map(|a| (a.fingerprint(), a.updated_at))
            .collect();
        for a in &mut flushed {
            if !a.resolved(now) {
                a.ends_at = None;
            }
        }
        flushed.sort_by(|a, b| alert_order(&a.labels, &b.labels));
        let out = self.pipeline(g, flushed, inhibit, now);
        // The flush succeeded: forget resolved alerts not updated since.
        for (fp, updated) in resolved_snapshot {
            if g.alerts.get(&fp).is_some_and(|a| a.updated_at == updated) {
                g.alerts.remove(&fp);
            }
        }
        out
    }

    fn pipeline(
        &mut self,
        g: &Group,
        mut alerts: Vec<Alert>,
        inhibit: &InhibitIndex,
        now: i64,
    ) -> Vec<Notification> {
        let Some(route) = self.tree.get(g.route) else { return Vec::new() };
        // Inhibition.
        alerts.retain(|a| !inhibit.mutes(&a.labels));
        if alerts.is_empty() {
            return Vec::new();
        }
        // Active and mute time intervals mute the whole group.
        if !route.active_time_intervals.is_empty()
            && in_intervals(&self.intervals, &route.active_time_intervals, now).is_empty()
        {
            return Vec::new();
        }
        if !in_intervals(&self.intervals, &route.mute_time_intervals, now).is_empty() {
            return Vec::new();
        }
        // Silences.
        alerts.retain(|a| !self.silences.is_silenced(&a.labels, now));
        if alerts.is_empty() {
            return Vec::new();
        }
        let Some(receiver) = self.receivers.get(&route.receiver) else { return Vec::new() };
        let firing: BTreeSet<u64> =
            alerts.iter().filter(|a| !a.resolved(now)).map(|a| a.fingerprint().0).collect();
        let resolved: BTreeSet<u64> =
            alerts.iter().filter(|a| a.resolved(now)).map(|a| a.fingerprint().0).collect();
        let repeat = route.repeat_interval_ms;
        let mut out = Vec::new();
        for integ in &receiver.integrations {
            let key = NflogKey {
                receiver: receiver.name.clone(),
                integration: integ.kind,
                index: integ.index,
                group_key: g.key.clone(),
            };
            let prev = self.nflog.get(&key).filter(|e| e.expires_at > now).cloned();
            let Some(reason) =
                needs_update(prev.as_ref(), &firing, &resolved, integ.send_resolved, repeat, now)
            else {
                continue;
            };
            let logged = NflogEntry {
                firing: firing.clone(),
                resolved: resolved.clone(),
                timestamp: now,
                expires_at: now.saturating_add(repeat.saturating_mul(2)),
            };
            self.nflog.insert(key.clone(), logged.clone());
            let sent: Vec<&Alert> = if integ.send_resolved {
                alerts.iter().collect()
            } else {
                if firing.is_empty() {
                    // Nothing to say without resolved alerts; the log still records it.
                    continue;
                }
                alerts.iter().filter(|a| !a.resolved(now)).collect()
            };
            out.push(build(integ, &receiver.name, g, &sent, reason, key, prev, logged, now));
        }
        out
    }

    /// Reports that a notification could not be delivered: its notification-log entry
    /// is rolled back and its resolved alerts are put back into their group, so the
    /// group's next flush sends it again.
    pub fn failed(&mut self, n: &Notification) {
        if self.nflog.get(&n.key) == Some(&n.logged) {
            match &n.prev {
                Some(p) => {
                    self.nflog.insert(n.key.clone(), p.clone());
                }
                None => {
                    self.nflog.remove(&n.key);
                }
            }
        }
        let resolved: Vec<&NotifiedAlert> = n.resolved().collect();
        if resolved.is_empty() {
            return;
        }
        let interval = self.tree.get(n.route).map_or(300_000, |r| r.group_interval_ms);
        let g = self.groups.entry((n.route, n.group_key.clone())).or_insert_with(|| Group {
            route: n.route,
            labels: n.group_labels.clone(),
            key: n.group_key.clone(),
            alerts: BTreeMap::new(),
            next_flush: n.time.saturating_add(interval),
        });
        for a in resolved {
            g.alerts.entry(a.fingerprint).or_insert_with(|| a.alert.clone());
        }
    }

    /// The notification log, for persistence.
    pub fn nflog(&self) -> impl Iterator<Item = (&NflogKey, &NflogEntry)> {
        self.nflog.iter()
    }

    /// Puts back a notification-log entry (loading a snapshot).
    pub fn restore_nflog(&mut self, key: NflogKey, entry: NflogEntry) {
        self.nflog.insert(key, entry);
    }

    /// The aggregation groups, in route order then group key.
    pub fn groups(&self) -> Vec<GroupView<'_>> {
        self.groups
            .values()
            .map(|g| GroupView {
                receiver: self.tree.get(g.route).map_or("", |r| r.receiver.as_str()),
                route: g.route,
                group_key: &g.key,
                labels: &g.labels,
                alerts: g.alerts.values().collect(),
                next_flush: g.next_flush,
            })
            .collect()
    }

    /// Why an alert with these labels would not be notified at `now`: the active
    /// silences muting it and the alerts inhibiting it.
    pub fn suppression(&self, labels: &LabelSet, now: i64) -> Suppression {
        Suppression {
            silenced_by: self
                .silences
                .silenced_by(labels, now)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            inhibited_by: self
                .inhibitor
                .inhibited_by(labels, self.alerts.values(), now)
                .map(|fp| fp.to_string())
                .into_iter()
                .collect(),
        }
    }

    /// The integrations of a notification's receiver, to render and send it.
    pub fn integration(&self, n: &Notification) -> Option<&Integration> {
        self.receivers
            .get(&n.receiver)?
            .integrations
            .iter()
            .find(|i| i.kind == n.integration && i.index == n.integration_index)
    }
}

/// Alertmanager's deduplication decision for one integration.
fn needs_update(
    entry: Option<&NflogEntry>,
    firing: &BTreeSet<u64>,
    resolved: &BTreeSet<u64>,
    send_resolved: bool,
    repeat_ms: i64,
    now: i64,
) -> Option<NotifyReason> {
    let Some(e) = entry else {
        return (!firing.is_empty()).then_some(NotifyReason::FirstNotification);
    };
    if !firing.is_subset(&e.firing) {
        return Some(if e.firing.is_empty() {
            NotifyReason::FirstNotification
        } else {
            NotifyReason::NewAlertsInGroup
        });
    }
    if firing.is_empty() {
        return (!e.firing.is_empty()).then_some(NotifyReason::AllAlertsResolved);
    }
    if send_resolved && !resolved.is_subset(&e.resolved) {
        return Some(NotifyReason::NewResolvedAlerts);
    }
    (e.timestamp < now - repeat_ms).then_some(NotifyReason::RepeatIntervalElapsed)
}

#[allow(clippy::too_many_arguments)]
fn build(
    integ: &Integration,
    receiver: &str,
    g: &Group,
    sent: &[&Alert],
    reason: NotifyReason,
    key: NflogKey,
    prev: Option<NflogEntry>,
    logged: NflogEntry,
    now: i64,
) -> Notification {
    let alerts: Vec<NotifiedAlert> = sent
        .iter()
        .map(|a| NotifiedAlert {
            status: a.status_at(now),
            fingerprint: a.fingerprint(),
            alert: (*a).clone(),
        })
        .collect();
    let status = if alerts.iter().any(|a| a.status == Status::Firing) {
        Status::Firing
    } else {
        Status::Resolved
    };
    Notification {
        receiver: receiver.to_owned(),
        integration: integ.kind,
        integration_index: integ.index,
        group_key: g.key.clone(),
        group_labels: g.labels.clone(),
        common_labels: common(sent.iter().map(|a| &a.labels)),
        common_annotations: common(sent.iter().map(|a| &a.annotations)),
        alerts,
        status,
        reason,
        route: g.route,
        time: now,
        key,
        prev,
        logged,
    }
}

/// The pairs every set has.
pub fn common<'a>(mut sets: impl Iterator<Item = &'a LabelSet>) -> LabelSet {
    let Some(first) = sets.next() else { return LabelSet::new() };
    let mut out = first.clone();
    for s in sets {
        out.retain(|k, v| s.get(k) == Some(v));
        if out.is_empty() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests;
