//! Tests for the routing tree: matching tables with `continue`, inheritance and
//! defaults, route and group keys.

use super::*;
use crate::config::parse;
use crate::tz::NoZones;

fn tree(yaml: &str) -> RouteTree {
    let c = parse(yaml.as_bytes(), "am.yml", &NoZones).unwrap_or_else(|ds| {
        panic!("{}", ds.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))
    });
    RouteTree::new(&c.route)
}

fn ls(pairs: &[(&str, &str)]) -> LabelSet {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

const TREE: &str = r#"
route:
  receiver: notify-def
  routes:
    - matchers: ['owner="team-A"']
      receiver: notify-A
      routes:
        - matchers: ['env="testing"']
          receiver: notify-testing
          group_by: ['...']
        - matchers: ['env="production"']
          receiver: notify-productionA
          group_wait: 1m
          continue: true
        - match_re:
            env: 'produ.*'
            job: '.*'
          receiver: notify-productionB
          group_wait: 30s
          group_interval: 5m
          repeat_interval: 1h
          group_by: [job]
    - match_re:
        owner: 'team-(B|C)'
      group_by: [foo, bar]
      group_wait: 2m
      receiver: notify-BC
    - match:
        group_by: role
      group_by: [role]
      routes:
        - matchers: ['env="testing"']
          receiver: notify-testing
          routes:
            - match: {wait: long}
              group_wait: 2m
receivers:
  - name: notify-def
  - name: notify-A
  - name: notify-testing
  - name: notify-productionA
  - name: notify-productionB
  - name: notify-BC
"#;

struct Want {
    receiver: &'static str,
    group_by: &'static [&'static str],
    group_by_all: bool,
    timers: (i64, i64, i64),
    key: &'static str,
}

const DEFAULT_TIMERS: (i64, i64, i64) = (30_000, 300_000, 14_400_000);

#[test]
fn alertmanager_route_match_table() {
    let t = tree(TREE);
    let cases: Vec<(LabelSet, Vec<Want>)> = vec![
        (
            ls(&[("owner", "team-A"), ("env", "unset")]),
            vec![Want {
                receiver: "notify-A",
                group_by: &[],
                group_by_all: false,
                timers: DEFAULT_TIMERS,
                key: r#"{}/{owner="team-A"}"#,
            }],
        ),
        (
            ls(&[("owner", "team-C")]),
            vec![Want {
                receiver: "notify-BC",
                group_by: &["bar", "foo"],
                group_by_all: false,
                timers: (120_000, 300_000, 14_400_000),
                key: r#"{}/{owner=~"^(?:team-(B|C))$"}"#,
            }],
        ),
        (
            ls(&[("owner", "team-A"), ("env", "testing")]),
            vec![Want {
                receiver: "notify-testing",
                group_by: &[],
                group_by_all: true,
                timers: DEFAULT_TIMERS,
                key: r#"{}/{owner="team-A"}/{env="testing"}"#,
            }],
        ),
        (
            ls(&[("owner", "team-A"), ("env", "production")]),
            vec![
                Want {
                    receiver: "notify-productionA",
                    group_by: &[],
                    group_by_all: false,
                    timers: (60_000, 300_000, 14_400_000),
                    key: r#"{}/{owner="team-A"}/{env="production"}"#,
                },
                Want {
                    receiver: "notify-productionB",
                    group_by: &["job"],
                    group_by_all: false,
                    timers: (30_000, 300_000, 3_600_000),
                    key: r#"{}/{owner="team-A"}/{env=~"^(?:produ.*)$",job=~"^(?:.*)$"}"#,
                },
            ],
        ),
        (
            ls(&[("group_by", "role")]),
            vec![Want {
                receiver: "notify-def",
                group_by: &["role"],
                group_by_all: false,
                timers: DEFAULT_TIMERS,
                key: r#"{}/{group_by="role"}"#,
            }],
        ),
        (
            ls(&[("env", "testing"), ("group_by", "role")]),
            vec![Want {
                receiver: "notify-testing",
                group_by: &["role"],
                group_by_all: false,
                timers: DEFAULT_TIMERS,
                key: r#"{}/{group_by="role"}/{env="testing"}"#,
            }],
        ),
        (
            ls(&[("env", "testing"), ("group_by", "role"), ("wait", "long")]),
            vec![Want {
                receiver: "notify-testing",
                group_by: &["role"],
                group_by_all: false,
                timers: (120_000, 300_000, 14_400_000),
                key: r#"{}/{group_by="role"}/{env="testing"}/{wait="long"}"#,
            }],
        ),
        (
            ls(&[("unrelated", "x")]),
            vec![Want {
                receiver: "notify-def",
                group_by: &[],
                group_by_all: false,
                timers: DEFAULT_TIMERS,
                key: "{}",
            }],
        ),
    ];
    for (labels, wants) in cases {
        let got = t.match_routes(&labels);
        assert_eq!(got.len(), wants.len(), "{labels:?}");
        for (r, w) in got.iter().zip(&wants) {
            assert_eq!(r.receiver, w.receiver, "{labels:?}");
            let gb: Vec<&str> = r.group_by.iter().map(String::as_str).collect();
            if !w.group_by_all {
                assert_eq!(gb, w.group_by, "{labels:?}");
            }
            assert_eq!(r.group_by_all, w.group_by_all, "{labels:?}");
            assert_eq!(
                (r.group_wait_ms, r.group_interval_ms, r.repeat_interval_ms),
                w.timers,
                "{labels:?}"
            );
            assert_eq!(r.key, w.key, "{labels:?}");
        }
    }
}

#[test]
fn continue_goes_on_to_later_siblings_only() {
    let t = tree(
        r#"
route:
  receiver: root
  routes:
    - {matchers: ['a="1"'], receiver: first, continue: true}
    - {matchers: ['b="1"'], receiver: second}
    - {matchers: ['a="1"'], receiver: third}
    - {matchers: ['c="1"'], receiver: fourth, continue: true}
receivers: [{name: root}, {name: first}, {name: second}, {name: third}, {name: fourth}]
"#,
    );
    let rcv = |pairs: &[(&str, &str)]| -> Vec<String> {
        t.match_routes(&ls(pairs)).into_iter().map(|r| r.receiver.clone()).collect()
    };
    assert_eq!(rcv(&[("a", "1")]), vec!["first", "third"]);
    assert_eq!(rcv(&[("a", "1"), ("b", "1")]), vec!["first", "second"]);
    assert_eq!(rcv(&[("b", "1")]), vec!["second"]);
    assert_eq!(rcv(&[("c", "1")]), vec!["fourth"]);
    assert_eq!(rcv(&[("z", "1")]), vec!["root"]);
    // A matching route with `continue` that is the last match still counts as matched.
    assert_eq!(rcv(&[("a", "1"), ("c", "1")]), vec!["first", "third"]);
}

#[test]
fn group_by_all_is_inherited_and_overridden() {
    let t = tree(
        r#"
route:
  receiver: r
  group_by: ['...']
  routes:
    - matchers: ['a="1"']
      routes:
        - matchers: ['b="1"']
          group_by: [b]
        - matchers: ['c="1"']
          group_by: []
receivers: [{name: r}]
"#,
    );
    let labels = ls(&[("a", "1"), ("x", "y")]);
    let r = t.match_routes(&labels)[0];
    assert!(r.group_by_all);
    assert_eq!(r.group_labels(&labels), labels);
    let labels = ls(&[("a", "1"), ("b", "1"), ("x", "y")]);
    let r = t.match_routes(&labels)[0];
    assert!(!r.group_by_all);
    assert_eq!(r.group_labels(&labels), ls(&[("b", "1")]));
    let labels = ls(&[("a", "1"), ("c", "1")]);
    let r = t.match_routes(&labels)[0];
    assert!(r.group_labels(&labels).is_empty(), "group_by: [] puts everything in one group");
    assert_eq!(r.group_key(&r.group_labels(&labels)), r#"{}/{a="1"}/{c="1"}:{}"#);
}

#[test]
fn group_keys_and_ids() {
    let t = tree(
        r#"
route:
  receiver: r
  group_by: [alertname, cluster]
  routes:
    - matchers: ['severity="page"']
    - matchers: ['severity="page"']
      receiver: r
receivers: [{name: r}]
"#,
    );
    let labels = ls(&[("alertname", "High \"CPU\""), ("cluster", "eu-1"), ("severity", "page")]);
    let r = t.match_routes(&labels)[0];
    let gl = r.group_labels(&labels);
    assert_eq!(gl, ls(&[("alertname", "High \"CPU\""), ("cluster", "eu-1")]));
    assert_eq!(
        r.group_key(&gl),
        r#"{}/{severity="page"}:{alertname="High \"CPU\"", cluster="eu-1"}"#
    );
    // Same key for both siblings, distinct IDs.
    let ids: Vec<&str> = t.routes().iter().map(|r| r.route_id.as_str()).collect();
    assert_eq!(ids, vec!["{}", r#"{}/{severity="page"}/0"#, r#"{}/{severity="page"}/1"#]);
    assert_eq!(t.routes()[1].key, t.routes()[2].key);
    assert_eq!(t.root().children, vec![1, 2]);
    assert_eq!(t.get(2).and_then(|r| r.parent), Some(0));
}

#[test]
fn time_intervals_are_not_inherited() {
    let t = tree(
        r#"
route:
  receiver: r
  routes:
    - matchers: ['a="1"']
      mute_time_intervals: [m]
      active_time_intervals: [m]
      routes:
        - matchers: ['b="1"']
receivers: [{name: r}]
time_intervals: [{name: m}]
"#,
    );
    let parent = t.match_routes(&ls(&[("a", "1")]))[0];
    assert_eq!(parent.mute_time_intervals, vec!["m".to_owned()]);
    let child = t.match_routes(&ls(&[("a", "1"), ("b", "1")]))[0];
    assert!(child.mute_time_intervals.is_empty());
    assert!(child.active_time_intervals.is_empty());
}
