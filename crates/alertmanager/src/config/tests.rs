//! Tests for the configuration reader: every section, defaults and global fallbacks,
//! and problems reported all at once with positions.

use super::*;
use crate::tz::NoZones;

fn ok(yaml: &str) -> Config {
    parse(yaml.as_bytes(), "am.yml", &NoZones).unwrap_or_else(|ds| {
        panic!("{}", ds.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))
    })
}

fn errs(yaml: &str) -> Vec<String> {
    match parse(yaml.as_bytes(), "am.yml", &NoZones) {
        Ok(_) => panic!("expected errors for:\n{yaml}"),
        Err(ds) => ds.iter().map(|d| d.to_string()).collect(),
    }
}

fn has(all: &[String], want: &str) {
    assert!(all.iter().any(|e| e.contains(want)), "no {want:?} in {all:#?}");
}

const FULL: &str = r#"
global:
  resolve_timeout: 2m
  smtp_smarthost: 'mail.example.com:587'
  smtp_from: 'andon@example.com'
  smtp_auth_username: user
  smtp_auth_password: secret
  slack_api_url: 'https://hooks.slack.com/services/T/B/X'
  opsgenie_api_key: ignored
  http_config:
    follow_redirects: true
templates:
  - 'templates/*.tmpl'
route:
  receiver: default
  group_by: ['alertname', 'cluster']
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 3h
  routes:
    - matchers: ['severity="page"', 'team=~"db|infra"']
      receiver: pager
      continue: true
      mute_time_intervals: [weekends]
    - match:
        service: api
      match_re:
        env: 'prod|staging'
      receiver: team-mail
      group_by: ['...']
      active_time_intervals: [office]
      routes:
        - receiver: slack
          group_by: []
receivers:
  - name: default
    webhook_configs:
      - url: 'http://127.0.0.1:5001/hook'
        max_alerts: 5
      - url: 'http://127.0.0.1:5002/hook'
        send_resolved: false
  - name: pager
    pagerduty_configs:
      - routing_key: abc123
        severity: '{{ .CommonLabels.severity }}'
        details:
          runbook: '{{ .CommonAnnotations.runbook }}'
  - name: team-mail
    email_configs:
      - to: 'team@example.com'
        headers:
          subject: 'Alert {{ .GroupLabels.alertname }}'
  - name: slack
    slack_configs:
      - channel: '#alerts'
        send_resolved: true
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: ['alertname', 'cluster']
  - source_match: {severity: page}
    target_match_re: {severity: 'info|warning'}
time_intervals:
  - name: office
    time_intervals:
      - times:
          - start_time: '09:00'
            end_time: '17:00'
        weekdays: ['monday:friday']
        location: 'Etc/GMT-2'
mute_time_intervals:
  - name: weekends
    time_intervals:
      - weekdays: ['saturday', 'sunday']
"#;

#[test]
fn full_configuration() {
    let c = ok(FULL);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.global.resolve_timeout_ms, 120_000);
    assert_eq!(c.templates, vec!["templates/*.tmpl".to_owned()]);
    assert_eq!(c.route.receiver.as_deref(), Some("default"));
    assert_eq!(c.route.group_by, Some(vec!["alertname".into(), "cluster".into()]));
    assert_eq!(c.route.group_wait_ms, Some(10_000));
    let pager = &c.route.routes[0];
    assert!(pager.continue_matching);
    assert_eq!(pager.matchers.len(), 2);
    assert_eq!(pager.matchers[0].name, "severity", "matchers are sorted");
    assert_eq!(pager.mute_time_intervals, vec!["weekends".to_owned()]);
    let mail = &c.route.routes[1];
    assert!(mail.group_by_all);
    assert_eq!(mail.group_by, None);
    assert_eq!(mail.matchers[0].to_string(), r#"env=~"^(?:prod|staging)$""#);
    assert_eq!(mail.matchers[1].to_string(), r#"service="api""#);
    assert_eq!(mail.routes[0].group_by, Some(vec![]));

    assert_eq!(c.receivers.len(), 4);
    let def = &c.receivers[0];
    assert_eq!(def.integrations.len(), 2);
    assert!(def.integrations[0].send_resolved, "webhooks send resolved alerts by default");
    assert!(!def.integrations[1].send_resolved);
    assert_eq!(def.integrations[1].index, 1);
    match &def.integrations[0].settings {
        Settings::Webhook(w) => assert_eq!(w.max_alerts, 5),
        other => panic!("{other:?}"),
    }
    match &c.receiver("pager").map(|r| &r.integrations[0].settings) {
        Some(Settings::PagerDuty(p)) => {
            assert_eq!(p.url, DEFAULT_PAGERDUTY_URL);
            assert_eq!(p.routing_key.as_deref(), Some("abc123"));
            assert_eq!(
                p.details.get("runbook").map(String::as_str),
                Some("{{ .CommonAnnotations.runbook }}")
            );
        }
        other => panic!("{other:?}"),
    }
    match c.receiver("team-mail").map(|r| &r.integrations[0]) {
        Some(Integration { settings: Settings::Email(e), send_resolved, .. }) => {
            assert!(!send_resolved, "e-mail does not send resolved alerts by default");
            assert_eq!(e.smarthost, "mail.example.com:587", "from global");
            assert_eq!(e.from, "andon@example.com");
            assert_eq!(e.auth_password, "secret");
            assert_eq!(e.hello, "localhost");
            assert!(e.require_tls);
            assert!(e.headers.contains_key("Subject"), "header names are canonical");
        }
        other => panic!("{other:?}"),
    }
    match c.receiver("slack").map(|r| &r.integrations[0]) {
        Some(Integration { settings: Settings::Slack(s), send_resolved, .. }) => {
            assert!(*send_resolved);
            assert_eq!(s.api_url.as_deref(), Some("https://hooks.slack.com/services/T/B/X"));
            assert_eq!(s.channel.as_deref(), Some("#alerts"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.inhibit_rules.len(), 2);
    assert_eq!(c.inhibit_rules[0].equal, vec!["alertname".to_owned(), "cluster".to_owned()]);
    assert_eq!(c.inhibit_rules[1].target_matchers[0].op, MatchOp::Regex);
    assert_eq!(c.time_intervals.len(), 2);
    let office = &c.time_intervals["office"][0];
    assert_eq!(office.times, Some(vec![(540, 1020)]));
    assert_eq!(office.weekdays, Some(vec![(1, 5)]));
    assert_eq!(office.location.as_ref().map(|z| z.offset_at(0).0), Some(7200));
}

#[test]
fn minimal_configuration_and_defaults() {
    let c = ok("route: {receiver: a}\nreceivers: [{name: a}]\n");
    assert_eq!(c.global, Global::default());
    assert_eq!(c.global.resolve_timeout_ms, 300_000);
    assert!(c.receivers[0].integrations.is_empty());
    assert!(c.inhibit_rules.is_empty());
}

#[test]
fn recognises_alertmanager_documents() {
    let doc = |s: &str| yaml::parse(s.as_bytes()).unwrap_or_default().remove(0).root;
    assert!(andon_spec::resource::is_bare_alertmanager_config(&doc(
        "route: {receiver: a}\nreceivers: []\n"
    )));
    assert!(!andon_spec::resource::is_bare_alertmanager_config(&doc("groups: []\n")));
    assert!(!andon_spec::resource::is_bare_alertmanager_config(&doc("route: {}\n")));
    assert!(!andon_spec::resource::is_bare_alertmanager_config(&doc("- a\n")));
}

#[test]
fn every_problem_at_once_with_positions() {
    let yaml = r#"route:
  receiver: missing
  matchers: ['a="b"']
  continue: true
  group_by: [a, a]
  routes:
    - receiver: also-missing
      group_interval: 0s
      repeat_interval: 0
      mute_time_intervals: [nope]
    - matchers: ['a=~"("']
      group_by: ['...', x]
    - match_re: {b: '('}
      match: {'0bad': x}
      group_wait: 5
receivers:
  - name: r
  - name: r
    email_configs:
      - from: x@example.com
  - webhook_configs: [{}]
  - name: pd
    pagerduty_configs: [{}]
  - name: s
    slack_configs: [{channel: x}]
    webhok_configs: []
"#;
    let e = errs(yaml);
    has(&e, r#"am.yml:2:13: route.receiver: undefined receiver "missing" used in route"#);
    has(&e, "am.yml:2:3: route: root route must not have any matchers");
    has(&e, "route: cannot have continue in root route");
    has(&e, r#"am.yml:5:17: route.group_by: duplicated label "a" in group_by"#);
    has(
        &e,
        r#"am.yml:7:17: route.routes[0].receiver: undefined receiver "also-missing" used in route"#,
    );
    has(&e, "route.routes[0].group_interval: group_interval cannot be zero");
    has(&e, "route.routes[0].repeat_interval: repeat_interval cannot be zero");
    has(
        &e,
        r#"am.yml:10:29: route.routes[0].mute_time_intervals[0]: undefined time interval "nope" used in route"#,
    );
    has(&e, "am.yml:11:18: route.routes[1].matchers[0]: error parsing regexp");
    has(&e, "cannot have wildcard group_by (`...`) and other labels at the same time");
    has(&e, r#"route.routes[2].match_re.b: error parsing regexp "(": unclosed group"#);
    has(&e, r#"route.routes[2].match.0bad: invalid label name "0bad""#);
    has(&e, r#"route.routes[2].group_wait: not a valid duration string: "5""#);
    has(&e, r#"receivers[1].name: notification config name "r" is not unique"#);
    has(&e, "receivers[1].email_configs[0].to: missing to address in email config");
    has(&e, "receivers[1].email_configs[0].smarthost: no global SMTP smarthost set");
    has(&e, "am.yml:21:5: receivers[2].name: missing name in receiver");
    has(&e, "receivers[2].webhook_configs[0]: one of url or url_file must be configured");
    has(
        &e,
        "receivers[3].pagerduty_configs[0]: missing service or routing key in PagerDuty config",
    );
    has(&e, "receivers[4].slack_configs[0]: no Slack API URL nor App token set");
    has(
        &e,
        r#"am.yml:26:5: receivers[4].webhok_configs: unknown field "webhok_configs" (did you mean "webhook_configs"?)"#,
    );
    // Sorted by position.
    let lines: Vec<usize> =
        e.iter().filter_map(|s| s.split(':').nth(1).and_then(|l| l.parse().ok())).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
}

#[test]
fn root_route_rules() {
    let e = errs("route: {}\nreceivers: []\n");
    has(&e, "root route must specify a default receiver");
    let e = errs(
        "route: {receiver: a, mute_time_intervals: [x], active_time_intervals: [x]}\nreceivers: [{name: a}]\ntime_intervals: [{name: x}]\n",
    );
    has(&e, "root route must not have any mute time intervals");
    has(&e, "root route must not have any active time intervals");
    let e = errs("receivers: [{name: a}]\n");
    has(&e, "route: no route provided in config");
    let e = errs("");
    has(&e, "no route provided in config");
}

#[test]
fn time_interval_problems() {
    let yaml = r#"route: {receiver: a}
receivers: [{name: a}]
time_intervals:
  - name: x
    time_intervals:
      - times: [{start_time: '17:00', end_time: '09:00'}]
        weekdays: ['friday:monday']
        days_of_month: ['0']
        months: ['smarch']
        years: ['2025:2020']
        location: 'Mars/Olympus'
  - name: x
  - time_intervals: []
mute_time_intervals:
  - name: x
"#;
    let e = errs(yaml);
    has(&e, "start time cannot be equal or greater than end time");
    has(&e, "start day cannot be before end day");
    has(&e, "0 is not a valid day of the month: out of range");
    has(&e, "smarch is not a valid month");
    has(&e, "end year 2020 is before start year 2025");
    has(&e, "unknown time zone Mars/Olympus");
    has(&e, r#"time_intervals[1].name: time interval "x" is not unique"#);
    has(&e, "time_intervals[2].name: missing name in time interval");
    // mute_time_intervals are read first, so the clash is reported on the newer list.
    has(&e, r#"time_intervals[0].name: time interval "x" is not unique"#);
}

#[test]
fn numbers_are_accepted_where_go_reads_strings() {
    let c = ok(r#"route: {receiver: a, routes: [{match: {code: 500}, receiver: a}]}
receivers: [{name: a}]
time_intervals:
  - name: t
    time_intervals: [{days_of_month: [1, '-1'], years: [2024], months: [3]}]
"#);
    assert_eq!(c.route.routes[0].matchers[0].value, "500");
    let t = &c.time_intervals["t"][0];
    assert_eq!(t.days_of_month, Some(vec![(1, 1), (-1, -1)]));
    assert_eq!(t.years, Some(vec![(2024, 2024)]));
    assert_eq!(t.months, Some(vec![(3, 3)]));
}

#[test]
fn unsupported_receivers_and_options_are_warnings() {
    let c = ok(r#"route: {receiver: a}
tracing: {endpoint: x}
receivers:
  - name: a
    opsgenie_configs: [{api_key: k}]
    telegram_configs: [{bot_token: t, chat_id: 1}]
    webhook_configs:
      - url: 'http://h/x'
        payload: {a: b}
    slack_configs:
      - api_url: 'https://h/s'
        actions: []
    email_configs:
      - to: a@b.c
        from: x@y.z
        smarthost: 'h:25'
        tls_config: {insecure_skip_verify: true}
        threading: {enabled: true}
"#);
    let w: Vec<String> = c.warnings.iter().map(|d| d.to_string()).collect();
    has(
        &w,
        "am.yml:5:5: receivers[0].opsgenie_configs: opsgenie receivers are not supported by andon",
    );
    has(&w, "receivers[0].telegram_configs: telegram receivers are not supported");
    has(&w, "am.yml:2:1: tracing: not supported by andon; ignored");
    has(&w, "receivers[0].webhook_configs[0].payload: not supported by andon; ignored");
    has(&w, "receivers[0].slack_configs[0].actions: not supported");
    has(&w, "receivers[0].email_configs[0].threading: not supported");
    assert!(!w.iter().any(|x| x.contains("tls_config")), "tls_config is applied: {w:#?}");
    let Some(Settings::Email(e)) =
        c.receivers[0].integrations.iter().find_map(|i| match &i.settings {
            s @ Settings::Email(_) => Some(s.clone()),
            _ => None,
        })
    else {
        panic!("no email integration")
    };
    assert_eq!(e.tls_config, Some(serde_json::json!({"insecure_skip_verify": true})));
    assert_eq!(
        c.receivers[0].unsupported,
        vec!["opsgenie_configs".to_owned(), "telegram_configs".to_owned()]
    );
    assert_eq!(c.receivers[0].integrations.len(), 3);
}

#[test]
fn integration_details() {
    let e = errs(
        r#"route: {receiver: a}
receivers:
  - name: a
    webhook_configs:
      - {url: 'ftp://x/y'}
      - {url: 'http://x/y', url_file: /f}
      - {url: 'http://x/y', max_alerts: -1}
    email_configs:
      - {to: a@b, from: c@d, smarthost: 'nohost'}
      - {to: a@b, from: c@d, smarthost: 'h:25', headers: {subject: a, Subject: b}}
    pagerduty_configs:
      - {routing_key: a, routing_key_file: /f}
      - {service_key: a, url: 'mailto:x'}
"#,
    );
    has(&e, "unsupported scheme in URL");
    has(&e, "at most one of url & url_file must be configured");
    has(&e, "max_alerts: must be greater than or equal to 0");
    has(&e, "address nohost: missing port in address");
    has(&e, r#"duplicate header "Subject" in email config"#);
    has(&e, "at most one of routing_key & routing_key_file must be configured");
    has(&e, "receivers[0].pagerduty_configs[1].url: unsupported scheme");
    // Templated webhook URLs are not checked as URLs.
    ok(
        "route: {receiver: a}\nreceivers: [{name: a, webhook_configs: [{url: '{{ .ExternalURL }}/x'}]}]\n",
    );
}

#[test]
fn canonical_headers() {
    assert_eq!(canonical_header("x-team-name"), "X-Team-Name");
    assert_eq!(canonical_header("SUBJECT"), "Subject");
    assert_eq!(canonical_header("message-id"), "Message-Id");
}

#[test]
fn utf8_matchers_in_config() {
    let c = ok(r#"route:
  receiver: a
  routes:
    - matchers: ['"service.name"="checkout"', '{env=prod, "a b"!~"x"}']
      receiver: a
receivers: [{name: a}]
"#);
    let ms = &c.route.routes[0].matchers;
    assert_eq!(ms.len(), 3);
    assert_eq!(
        crate::matcher::matchers_string(ms),
        r#"{"a b"!~"x",env="prod",service.name="checkout"}"#
    );
}

#[test]
fn tls_configs_are_checked() {
    let e = errs(
        r#"route: {receiver: a}
global:
  smtp_tls_config: {ca_fil: /x}
receivers:
  - name: a
    email_configs:
      - to: a@b.c
        from: x@y.z
        smarthost: 'h:25'
        tls_config: {min_version: TLS9, cert_file: /c}
    webhook_configs:
      - url: 'https://h/x'
        http_config:
          tls_config: {insecure_skip_verify: maybe}
"#,
    );
    for want in [
        "am.yml:3:21: global.smtp_tls_config.ca_fil: unknown field \"ca_fil\" (did you mean \"ca_file\"?)",
        "am.yml:10:21: receivers[0].email_configs[0].tls_config: cert_file and key_file must be given together",
        "am.yml:10:35: receivers[0].email_configs[0].tls_config.min_version: unknown TLS version \"TLS9\" (TLS10, TLS11, TLS12 or TLS13)",
        "am.yml:14:46: receivers[0].webhook_configs[0].http_config.tls_config.insecure_skip_verify: expected a boolean (true or false), found a string",
    ] {
        has(&e, want);
    }
    assert_eq!(e.len(), 4, "{e:#?}");
}
