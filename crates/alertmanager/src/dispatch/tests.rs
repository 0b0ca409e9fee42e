//! Tests for the dispatcher: flush timing at group_wait, group_interval and
//! repeat_interval, deduplication, resolution, and the mute stages in order.

use super::*;
use crate::config::parse;
use crate::matcher::parse_matchers;
use crate::silence::Silence;
use crate::tz::NoZones;

const S: i64 = 1000;
const M: i64 = 60 * S;

fn config(yaml: &str) -> Config {
    parse(yaml.as_bytes(), "am.yml", &NoZones).unwrap_or_else(|ds| {
        panic!("{}", ds.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))
    })
}

/// One receiver with a webhook (send_resolved) and a Slack integration (not).
const BASIC: &str = r#"
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 1m
  repeat_interval: 3m
receivers:
  - name: team
    webhook_configs: [{url: 'http://127.0.0.1:1/hook'}]
    slack_configs: [{api_url: 'https://127.0.0.1:1/slack'}]
"#;

fn alert(pairs: &[(&str, &str)], starts: i64, ends: Option<i64>) -> Alert {
    let mut a = Alert::new(pairs.iter().copied());
    a.starts_at = Some(starts);
    a.ends_at = ends;
    a
}

fn put(d: &mut Dispatcher, a: Alert, now: i64) {
    d.insert(a, now).unwrap_or_else(|e| panic!("{e}"));
}

type Summary = (String, &'static str, NotifyReason, Vec<(String, Status)>);

fn summary(ns: &[Notification]) -> Vec<Summary> {
    ns.iter()
        .map(|n| {
            (
                n.receiver.clone(),
                n.integration.as_str(),
                n.reason,
                n.alerts
                    .iter()
                    .map(|a| {
                        (a.alert.labels.get("instance").cloned().unwrap_or_default(), a.status)
                    })
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn first_flush_after_group_wait_then_every_group_interval() {
    let mut d = Dispatcher::new(&config(BASIC));
    put(&mut d, alert(&[("alertname", "Down"), ("instance", "a")], 0, None), 0);
    assert_eq!(d.next_deadline(), Some(30 * S));
    assert!(d.tick(29_999).is_empty());
    let n = d.tick(30 * S);
    assert_eq!(n.len(), 2, "webhook and slack");
    assert_eq!(n[0].integration, IntegrationKind::Webhook);
    assert_eq!(n[1].integration, IntegrationKind::Slack);
    assert_eq!(n[0].reason, NotifyReason::FirstNotification);
    assert_eq!(n[0].group_key, r#"{}:{alertname="Down"}"#);
    assert_eq!(n[0].status, Status::Firing);
    assert_eq!(n[0].alerts[0].alert.ends_at, None, "firing alerts go out without an end");
    assert_eq!(d.next_deadline(), Some(90 * S));

    // A second alert joins; nothing is sent before the next group_interval tick.
    put(&mut d, alert(&[("alertname", "Down"), ("instance", "b")], 40 * S, None), 40 * S);
    assert!(d.tick(89 * S).is_empty());
    let n = d.tick(90 * S);
    assert_eq!(
        summary(&n),
        vec![
            (
                "team".into(),
                "webhook",
                NotifyReason::NewAlertsInGroup,
                vec![("a".into(), Status::Firing), ("b".into(), Status::Firing)]
            ),
            (
                "team".into(),
                "slack",
                NotifyReason::NewAlertsInGroup,
                vec![("a".into(), Status::Firing), ("b".into(), Status::Firing)]
            ),
        ]
    );
    assert_eq!(d.next_deadline(), Some(150 * S));
}

#[test]
fn repeat_interval_is_checked_on_group_interval_ticks() {
    let mut d = Dispatcher::new(&config(BASIC));
    // Keep the alert alive by re-sending it, as Prometheus does.
    let a = alert(&[("alertname", "Down"), ("instance", "a")], 0, None);
    put(&mut d, a.clone(), 0);
    assert_eq!(d.tick(30 * S).len(), 2);
    let mut sent_at = Vec::new();
    let mut t = 90 * S;
    while t <= 600 * S {
        put(&mut d, a.clone(), t - S);
        let n = d.tick(t);
        if !n.is_empty() {
            assert!(n.iter().all(|n| n.reason == NotifyReason::RepeatIntervalElapsed));
            sent_at.push(t / S);
        }
        t += M;
    }
    // Last sent at 30s; 3m later is 210s, which is not past; 270s is.
    assert_eq!(sent_at, vec![270, 510]);
}

#[test]
fn re_sent_alerts_are_deduplicated() {
    let mut d = Dispatcher::new(&config(BASIC));
    let a = alert(&[("alertname", "Down"), ("instance", "a")], 0, None);
    put(&mut d, a.clone(), 0);
    assert_eq!(d.tick(30 * S).len(), 2);
    for t in [60, 75, 89] {
        put(&mut d, a.clone(), t * S);
    }
    assert!(d.tick(90 * S).is_empty());
}

#[test]
fn resolved_alerts_go_to_send_resolved_integrations_then_leave() {
    let mut d = Dispatcher::new(&config(BASIC));
    put(&mut d, alert(&[("alertname", "Down"), ("instance", "a")], 0, None), 0);
    put(&mut d, alert(&[("alertname", "Down"), ("instance", "b")], 0, None), 0);
    assert_eq!(d.tick(30 * S).len(), 2);
    // b resolves: only the webhook (send_resolved) hears of it.
    put(&mut d, alert(&[("alertname", "Down"), ("instance", "b")], 0, Some(50 * S)), 60 * S);
    let n = d.tick(90 * S);
    assert_eq!(
        summary(&n),
        vec![(
            "team".into(),
            "webhook",
            NotifyReason::NewResolvedAlerts,
            vec![("a".into(), Status::Firing), ("b".into(), Status::Resolved)]
        )]
    );
    assert_eq!(n[0].status, Status::Firing);
    assert_eq!(n[0].alerts[1].alert.ends_at, Some(50 * S));
    assert_eq!(d.groups()[0].alerts.len(), 1, "the resolved alert left the group");
    // a resolves: both integrations are told everything is resolved (Slack only
    // records it, since it does not send resolved alerts).
    put(&mut d, alert(&[("alertname", "Down"), ("instance", "a")], 0, Some(100 * S)), 100 * S);
    let n = d.tick(150 * S);
    assert_eq!(
        summary(&n),
        vec![(
            "team".into(),
            "webhook",
            NotifyReason::AllAlertsResolved,
            vec![("a".into(), Status::Resolved)]
        )]
    );
    assert_eq!(n[0].status, Status::Resolved);
    assert!(d.groups().is_empty(), "an emptied group is removed");
    assert_eq!(d.next_deadline(), None);
    assert_eq!(d.alerts().count(), 0, "resolved alerts no group holds are forgotten");
    let slack_entry =
        d.nflog().find(|(k, _)| k.integration == IntegrationKind::Slack).map(|(_, e)| e.clone());
    assert_eq!(slack_entry.map(|e| e.firing.is_empty()), Some(true));
}

#[test]
fn alerts_without_end_resolve_after_resolve_timeout() {
    let cfg = config(&format!("global: {{resolve_timeout: 2m}}\n{BASIC}"));
    let mut d = Dispatcher::new(&cfg);
    put(&mut d, alert(&[("alertname", "Down"), ("instance", "a")], 0, None), 0);
    assert_eq!(
        d.alert(Alert::new([("alertname", "Down"), ("instance", "a")]).fingerprint())
            .and_then(|a| a.ends_at),
        Some(120 * S)
    );
    assert_eq!(d.tick(30 * S).len(), 2);
    assert!(d.tick(90 * S).is_empty());
    let n = d.tick(150 * S);
    assert_eq!(
        summary(&n),
        vec![(
            "team".into(),
            "webhook",
            NotifyReason::AllAlertsResolved,
            vec![("a".into(), Status::Resolved)]
        )]
    );
    assert_eq!(n[0].alerts[0].alert.ends_at, Some(120 * S));
}

#[test]
fn old_alerts_flush_at_once() {
    let mut d = Dispatcher::new(&config(BASIC));
    let now = 3_600 * S;
    put(&mut d, alert(&[("alertname", "Down")], now - 10 * M, None), now);
    assert_eq!(d.next_deadline(), Some(now));
    assert_eq!(d.tick(now).len(), 2);
}

#[test]
fn continue_sends_to_several_receivers() {
    let mut d = Dispatcher::new(&config(
        r#"
route:
  receiver: default
  group_wait: 10s
  routes:
    - {matchers: ['severity="page"'], receiver: pager, continue: true, group_by: [alertname]}
    - {matchers: ['team="db"'], receiver: db}
receivers:
  - {name: default, webhook_configs: [{url: 'http://h/d'}]}
  - {name: pager, webhook_configs: [{url: 'http://h/p'}]}
  - {name: db, webhook_configs: [{url: 'http://h/db'}]}
"#,
    ));
    put(&mut d, alert(&[("alertname", "X"), ("severity", "page"), ("team", "db")], 0, None), 0);
    let n = d.tick(10 * S);
    let who: Vec<(&str, &str)> =
        n.iter().map(|n| (n.receiver.as_str(), n.group_key.as_str())).collect();
    assert_eq!(
        who,
        vec![("pager", r#"{}/{severity="page"}:{alertname="X"}"#), ("db", r#"{}/{team="db"}:{}"#)]
    );
}

#[test]
fn inhibited_alerts_are_not_sent() {
    let mut d = Dispatcher::new(&config(&format!(
        "{BASIC}inhibit_rules:\n  - source_matchers: ['severity=\"critical\"']\n    target_matchers: ['severity=\"warning\"']\n    equal: [cluster]\n"
    )));
    put(
        &mut d,
        alert(&[("alertname", "Down"), ("severity", "critical"), ("cluster", "a")], 0, None),
        0,
    );
    put(
        &mut d,
        alert(&[("alertname", "Slow"), ("severity", "warning"), ("cluster", "a")], 0, None),
        0,
    );
    put(
        &mut d,
        alert(
            &[("alertname", "Slow"), ("severity", "warning"), ("cluster", "b"), ("instance", "b")],
            0,
            None,
        ),
        0,
    );
    let n = d.tick(30 * S);
    let keys: Vec<(&str, usize)> = n
        .iter()
        .filter(|n| n.integration == IntegrationKind::Webhook)
        .map(|n| (n.group_key.as_str(), n.alerts.len()))
        .collect();
    assert_eq!(keys, vec![(r#"{}:{alertname="Down"}"#, 1), (r#"{}:{alertname="Slow"}"#, 1)]);
    let slow = n
        .iter()
        .find(|n| n.group_key.contains("Slow"))
        .map(|n| n.alerts[0].alert.labels["cluster"].clone());
    assert_eq!(slow.as_deref(), Some("b"));
    let target =
        alert(&[("alertname", "Slow"), ("severity", "warning"), ("cluster", "a")], 0, None);
    let sup = d.suppression(&target.labels, 30 * S);
    assert!(sup.is_suppressed());
    assert_eq!(sup.inhibited_by.len(), 1);
    // Once the source resolves, the target is notified at the next flush.
    put(
        &mut d,
        alert(
            &[("alertname", "Down"), ("severity", "critical"), ("cluster", "a")],
            0,
            Some(60 * S),
        ),
        60 * S,
    );
    let n = d.tick(90 * S);
    let slow: Vec<usize> = n
        .iter()
        .filter(|n| n.integration == IntegrationKind::Webhook && n.group_key.contains("Slow"))
        .map(|n| n.alerts.len())
        .collect();
    assert_eq!(slow, vec![2]);
}

#[test]
fn silenced_alerts_are_not_sent_until_the_silence_ends() {
    let mut d = Dispatcher::new(&config(BASIC));
    let s = Silence {
        id: String::new(),
        matchers: parse_matchers(r#"instance="a""#).unwrap_or_default(),
        starts_at: 0,
        ends_at: 100 * S,
        created_by: "ops".into(),
        comment: "deploy".into(),
        updated_at: 0,
    };
    let id = d.silences_mut().set(s, 0).unwrap_or_default();
    put(&mut d, alert(&[("alertname", "Down"), ("instance", "a")], 0, None), 0);
    put(&mut d, alert(&[("alertname", "Other"), ("instance", "b")], 0, None), 0);
    let n = d.tick(30 * S);
    assert!(n.iter().all(|n| n.group_key.contains("Other")), "{:?}", summary(&n));
    assert_eq!(
        d.suppression(&Alert::new([("alertname", "Down"), ("instance", "a")]).labels, 30 * S)
            .silenced_by,
        vec![id]
    );
    for t in [60, 90] {
        put(&mut d, alert(&[("alertname", "Down"), ("instance", "a")], 0, None), t * S);
        assert!(d.tick(t * S).is_empty() || t == 60);
    }
    let n = d.tick(150 * S);
    assert_eq!(summary(&n)[0].2, NotifyReason::FirstNotification);
    assert!(n.iter().all(|n| n.group_key.contains("Down")));
}

#[test]
fn time_intervals_mute_whole_groups() {
    let yaml = r#"
route:
  receiver: r
  group_wait: 10s
  group_interval: 1m
  routes:
    - {matchers: ['m="mute"'], receiver: r, mute_time_intervals: [always]}
    - {matchers: ['m="active"'], receiver: r, active_time_intervals: [never]}
    - {matchers: ['m="open"'], receiver: r, active_time_intervals: [always], mute_time_intervals: [never]}
receivers: [{name: r, webhook_configs: [{url: 'http://h/x'}]}]
time_intervals:
  - {name: always, time_intervals: [{}]}
  - {name: never, time_intervals: [{times: []}]}
"#;
    let mut d = Dispatcher::new(&config(yaml));
    for m in ["mute", "active", "open"] {
        put(&mut d, alert(&[("m", m)], 0, None), 0);
    }
    let n = d.tick(10 * S);
    let keys: Vec<&str> = n.iter().map(|n| n.group_key.as_str()).collect();
    assert_eq!(keys, vec![r#"{}/{m="open"}:{}"#]);
    // Muted groups keep flushing (and dropping resolved alerts) without sending.
    assert_eq!(d.groups().len(), 3);
}

#[test]
fn weekday_mute_interval_follows_the_clock() {
    let yaml = r#"
route:
  receiver: r
  group_wait: 0s
  group_interval: 1h
  routes: [{matchers: ['a="b"'], mute_time_intervals: [weekend]}]
receivers: [{name: r, webhook_configs: [{url: 'http://h/x'}]}]
time_intervals:
  - {name: weekend, time_intervals: [{weekdays: [saturday, sunday]}]}
"#;
    let mut d = Dispatcher::new(&config(yaml));
    // 2024-05-04 is a Saturday.
    let sat = andon_core::time::days_from_civil(2024, 5, 4) * 86_400 * S;
    put(&mut d, alert(&[("a", "b")], sat, None), sat);
    assert!(d.tick(sat).is_empty());
    let mon = sat + 2 * 86_400 * S;
    put(&mut d, alert(&[("a", "b")], sat, None), mon - 3_600 * S);
    // The group flushes hourly; the first flush on Monday notifies.
    let mut t = sat;
    let mut first = None;
    while first.is_none() && t < sat + 3 * 86_400 * S {
        t += 3_600 * S;
        if t % (6 * 3_600 * S) == 0 {
            put(&mut d, alert(&[("a", "b")], sat, None), t);
        }
        if !d.tick(t).is_empty() {
            first = Some(t);
        }
    }
    assert_eq!(first, Some(mon));
}

#[test]
fn failed_deliveries_are_retried_on_the_next_flush() {
    let mut d = Dispatcher::new(&config(BASIC));
    let a = alert(&[("alertname", "Down"), ("instance", "a")], 0, None);
    put(&mut d, a.clone(), 0);
    let n = d.tick(30 * S);
    let webhook = n.iter().find(|n| n.integration == IntegrationKind::Webhook).cloned();
    let Some(webhook) = webhook else { panic!("no webhook notification") };
    d.failed(&webhook);
    put(&mut d, a.clone(), 60 * S);
    let n = d.tick(90 * S);
    assert_eq!(
        summary(&n),
        vec![(
            "team".into(),
            "webhook",
            NotifyReason::FirstNotification,
            vec![("a".into(), Status::Firing)]
        )]
    );
    // A failed "all resolved" message is kept and sent again.
    put(&mut d, alert(&[("alertname", "Down"), ("instance", "a")], 0, Some(100 * S)), 100 * S);
    let n = d.tick(150 * S);
    assert_eq!(n.len(), 1);
    assert!(d.groups().is_empty());
    d.failed(&n[0]);
    assert_eq!(d.groups().len(), 1);
    assert_eq!(d.next_deadline(), Some(210 * S));
    let again = d.tick(210 * S);
    assert_eq!(
        summary(&again),
        vec![(
            "team".into(),
            "webhook",
            NotifyReason::AllAlertsResolved,
            vec![("a".into(), Status::Resolved)]
        )]
    );
    assert!(d.tick(270 * S).is_empty());
}

#[test]
fn reload_keeps_the_notification_log() {
    let cfg = config(BASIC);
    let mut d = Dispatcher::new(&cfg);
    let a = alert(&[("alertname", "Down"), ("instance", "a")], 0, None);
    put(&mut d, a.clone(), 0);
    assert_eq!(d.tick(30 * S).len(), 2);
    d.reload(&cfg, 40 * S);
    // The rebuilt group flushes at once (its alert is old) but nothing changed.
    assert_eq!(d.next_deadline(), Some(40 * S));
    assert!(d.tick(40 * S).is_empty());
    let entries: Vec<(NflogKey, NflogEntry)> =
        d.nflog().map(|(k, e)| (k.clone(), e.clone())).collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].1.expires_at, 30 * S + 6 * M);
    let mut fresh = Dispatcher::new(&cfg);
    for (k, e) in entries {
        fresh.restore_nflog(k, e);
    }
    put(&mut fresh, a, 50 * S);
    assert!(fresh.tick(80 * S).is_empty(), "a restored log suppresses duplicates");
}

#[test]
fn merge_keeps_the_earliest_start() {
    let mut d = Dispatcher::new(&config(BASIC));
    put(&mut d, alert(&[("alertname", "Down")], 10 * S, None), 10 * S);
    put(&mut d, alert(&[("alertname", "Down")], 20 * S, None), 20 * S);
    let fp = Alert::new([("alertname", "Down")]).fingerprint();
    assert_eq!(d.alert(fp).and_then(|a| a.starts_at), Some(10 * S));
    assert_eq!(d.alert(fp).and_then(|a| a.ends_at), Some(20 * S + 5 * M));
    assert!(d.insert(Alert::default(), 0).is_err(), "alerts without labels are refused");
}

#[test]
fn notification_fields() {
    let mut d = Dispatcher::new(&config(BASIC));
    let mut a = alert(&[("alertname", "Down"), ("instance", "b"), ("job", "api")], 0, None);
    a.annotations.insert("summary".into(), "down".into());
    a.annotations.insert("runbook".into(), "r1".into());
    put(&mut d, a, 0);
    let mut b = alert(&[("alertname", "Down"), ("instance", "a"), ("job", "api")], 0, None);
    b.annotations.insert("summary".into(), "down".into());
    put(&mut d, b, 0);
    let n = d.tick(30 * S);
    let w = &n[0];
    assert_eq!(w.group_labels, LabelSet::from([("alertname".into(), "Down".into())]));
    assert_eq!(
        w.common_labels,
        LabelSet::from([("alertname".into(), "Down".into()), ("job".into(), "api".into())])
    );
    assert_eq!(w.common_annotations, LabelSet::from([("summary".into(), "down".into())]));
    let order: Vec<&str> = w.alerts.iter().map(|a| a.alert.labels["instance"].as_str()).collect();
    assert_eq!(order, vec!["a", "b"], "sorted by job, then instance");
    assert_eq!(w.firing().count(), 2);
    assert_eq!(w.resolved().count(), 0);
    assert_eq!(w.time, 30 * S);
    assert_eq!(w.reason.as_str(), "first notification");
    assert_eq!(d.integration(w).map(|i| i.kind), Some(IntegrationKind::Webhook));
    assert_eq!(w.nflog_key().receiver, "team");
}

#[test]
fn dedup_decisions() {
    let set = |v: &[u64]| v.iter().copied().collect::<BTreeSet<u64>>();
    let entry = |f: &[u64], r: &[u64], ts: i64| NflogEntry {
        firing: set(f),
        resolved: set(r),
        timestamp: ts,
        expires_at: i64::MAX,
    };
    use NotifyReason::*;
    assert_eq!(needs_update(None, &set(&[]), &set(&[1]), true, 10, 0), None);
    assert_eq!(needs_update(None, &set(&[1]), &set(&[]), true, 10, 0), Some(FirstNotification));
    let e = entry(&[1, 2], &[], 100);
    assert_eq!(needs_update(Some(&e), &set(&[1, 2]), &set(&[]), true, 10, 105), None);
    assert_eq!(
        needs_update(Some(&e), &set(&[1]), &set(&[]), true, 10, 105),
        None,
        "fewer firing is no news"
    );
    assert_eq!(
        needs_update(Some(&e), &set(&[1, 3]), &set(&[]), true, 10, 105),
        Some(NewAlertsInGroup)
    );
    assert_eq!(
        needs_update(Some(&e), &set(&[1]), &set(&[2]), true, 10, 105),
        Some(NewResolvedAlerts)
    );
    assert_eq!(needs_update(Some(&e), &set(&[1]), &set(&[2]), false, 10, 105), None);
    assert_eq!(
        needs_update(Some(&e), &set(&[]), &set(&[1, 2]), false, 10, 105),
        Some(AllAlertsResolved)
    );
    assert_eq!(
        needs_update(Some(&e), &set(&[1, 2]), &set(&[]), true, 10, 111),
        Some(RepeatIntervalElapsed)
    );
    assert_eq!(needs_update(Some(&e), &set(&[1, 2]), &set(&[]), true, 10, 110), None);
    let empty = entry(&[], &[1], 100);
    assert_eq!(
        needs_update(Some(&empty), &set(&[1]), &set(&[]), true, 10, 105),
        Some(FirstNotification)
    );
    assert_eq!(needs_update(Some(&empty), &set(&[]), &set(&[1]), true, 10, 105), None);
}
