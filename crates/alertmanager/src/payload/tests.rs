//! Tests for notification payloads: webhook golden JSON, Slack, PagerDuty, e-mail, and
//! the default and user templates.

use super::*;
use crate::Alert;
use crate::config::{Config, parse};
use crate::dispatch::Dispatcher;
use crate::tz::NoZones;

const T0: i64 = 1_700_000_000_000; // 2023-11-14T22:13:20Z

fn config(yaml: &str) -> Config {
    parse(yaml.as_bytes(), "am.yml", &NoZones).unwrap_or_else(|ds| {
        panic!("{}", ds.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))
    })
}

/// Runs alerts through a dispatcher and returns the first flush's notifications.
fn notify(cfg: &Config, alerts: Vec<Alert>) -> (Dispatcher, Vec<Notification>) {
    let mut d = Dispatcher::new(cfg);
    for a in alerts {
        d.insert(a, T0).unwrap_or_else(|e| panic!("{e}"));
    }
    let n = d.tick(T0 + 30_000);
    (d, n)
}

fn alert(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> Alert {
    let mut a = Alert::new(labels.iter().copied());
    a.annotations = annotations.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    a.starts_at = Some(T0);
    a.generator_url = "http://prom:9090/graph?g0.expr=up&g0.tab=1".into();
    a
}

fn no_files(p: &str) -> Result<String, String> {
    Err(format!("no file {p}"))
}

fn with_cx<R>(f: impl FnOnce(&RenderContext<'_>) -> R) -> R {
    let templates = Templates::new().unwrap_or_else(|e| panic!("{e}"));
    let cx = RenderContext {
        external_url: "http://am.example.com",
        templates: &templates,
        zones: &NoZones,
        read_file: &no_files,
        hostname: "andon.test",
    };
    f(&cx)
}

const WEBHOOK: &str = r#"
route:
  receiver: team
  group_by: [job]
receivers:
  - name: team
    webhook_configs: [{url: 'http://127.0.0.1:9/hook', max_alerts: 1}]
"#;

#[test]
fn webhook_golden() {
    let cfg = config(WEBHOOK);
    let (_, n) = notify(
        &cfg,
        vec![alert(
            &[("job", "foo"), ("severity", "warning")],
            &[("summary", "<b>disk</b> & more")],
        )],
    );
    let body = webhook_body(&n[0], 0, "http://am.example.com");
    let want = concat!(
        r#"{"receiver":"team","status":"firing","alerts":[{"status":"firing","#,
        r#""labels":{"job":"foo","severity":"warning"},"#,
        r#""annotations":{"summary":"\u003cb\u003edisk\u003c/b\u003e \u0026 more"},"#,
        r#""startsAt":"2023-11-14T22:13:20Z","endsAt":"0001-01-01T00:00:00Z","#,
        r#""generatorURL":"http://prom:9090/graph?g0.expr=up\u0026g0.tab=1","fingerprint":"9266ef3da838ad95"}],"#,
        r#""groupLabels":{"job":"foo"},"commonLabels":{"job":"foo","severity":"warning"},"#,
        r#""commonAnnotations":{"summary":"\u003cb\u003edisk\u003c/b\u003e \u0026 more"},"#,
        r#""externalURL":"http://am.example.com","version":"4","groupKey":"{}:{job=\"foo\"}","truncatedAlerts":0}"#,
        "\n"
    );
    assert_eq!(body, want);
}

#[test]
fn webhook_truncation_and_resolved() {
    let cfg = config(WEBHOOK);
    let mut d = Dispatcher::new(&cfg);
    let a = alert(&[("job", "foo"), ("instance", "a")], &[]);
    let b = alert(&[("job", "foo"), ("instance", "b")], &[]);
    d.insert(a.clone(), T0).unwrap_or_default();
    d.insert(b.clone(), T0).unwrap_or_default();
    assert_eq!(d.tick(T0 + 30_000).len(), 1);
    let mut ra = a.clone();
    ra.ends_at = Some(T0 + 60_000);
    let mut rb = b.clone();
    rb.ends_at = Some(T0 + 60_500);
    d.insert(ra, T0 + 61_000).unwrap_or_default();
    d.insert(rb, T0 + 61_000).unwrap_or_default();
    let n = d.tick(T0 + 330_000);
    assert_eq!(n.len(), 1);
    let integ = d.integration(&n[0]).cloned().unwrap_or_else(|| panic!("integration"));
    let Settings::Webhook(wc) = &integ.settings else { panic!("webhook") };
    let r = with_cx(|cx| render(&n[0], &integ, cx)).unwrap_or_else(|e| panic!("{e}"));
    let Rendered::Http { url, body } = r else { panic!("http") };
    assert_eq!(url, "http://127.0.0.1:9/hook");
    assert_eq!(body, webhook_body(&n[0], wc.max_alerts, "http://am.example.com"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(v["status"], "resolved");
    assert_eq!(v["truncatedAlerts"], 1);
    assert_eq!(v["alerts"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["alerts"][0]["endsAt"], "2023-11-14T22:14:20Z");
    assert_eq!(v["commonLabels"]["instance"], "a", "common labels describe the alerts sent");
    let fp = a.fingerprint().to_string();
    assert_eq!(v["alerts"][0]["fingerprint"], fp.as_str());
}

#[test]
fn receiver_names_are_regex_quoted_like_alertmanager() {
    let cfg = config(
        "route: {receiver: 'a.b'}\nreceivers: [{name: 'a.b', webhook_configs: [{url: 'http://h/x'}]}]\n",
    );
    let (_, n) = notify(&cfg, vec![alert(&[("job", "x")], &[])]);
    assert!(webhook_body(&n[0], 0, "").starts_with(r#"{"receiver":"a\\.b","#));
}

#[test]
fn slack_default_message() {
    let cfg = config(
        r#"
route: {receiver: s, group_by: [alertname]}
receivers:
  - name: s
    slack_configs: [{api_url: 'https://hooks.slack.test/x', channel: '#ops'}]
"#,
    );
    let (d, n) = notify(
        &cfg,
        vec![
            alert(
                &[("alertname", "Disk"), ("instance", "a"), ("job", "node")],
                &[("summary", "disk almost full")],
            ),
            alert(&[("alertname", "Disk"), ("instance", "b"), ("job", "node")], &[]),
        ],
    );
    let integ = d.integration(&n[0]).cloned().unwrap_or_else(|| panic!("integration"));
    let r = with_cx(|cx| render(&n[0], &integ, cx)).unwrap_or_else(|e| panic!("{e}"));
    let Rendered::Http { url, body } = r else { panic!("http") };
    assert_eq!(url, "https://hooks.slack.test/x");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(v["channel"], "#ops");
    assert_eq!(v["username"], "andon");
    assert!(v.get("link_names").is_none());
    let att = &v["attachments"][0];
    assert_eq!(att["title"], "[FIRING 2] Disk");
    assert_eq!(att["title_link"], "http://am.example.com");
    assert_eq!(att["color"], "danger");
    assert_eq!(att["fallback"], "[FIRING 2] Disk");
    assert_eq!(att["callback_id"], "");
    assert_eq!(att["footer"], "");
    assert_eq!(att["mrkdwn_in"], serde_json::json!(["fallback", "pretext", "text"]));
    assert_eq!(
        att["text"],
        ":red_circle: *disk almost full*\n`alertname=Disk` `instance=a` `job=node`\n:red_circle: *Disk*\n`alertname=Disk` `instance=b` `job=node`\n"
    );
    // Key order is Alertmanager's.
    assert!(body.starts_with(r##"{"channel":"#ops","username":"andon","attachments":[{"title":"##));
}

#[test]
fn slack_custom_templates_and_files() {
    let cfg = config(
        r#"
route: {receiver: s}
receivers:
  - name: s
    slack_configs:
      - api_url: 'https://hooks.slack.test/x'
        title: '{{ template "my.title" . }}'
        text: '{{ range .Alerts }}{{ .Labels.instance }} since {{ .StartsAt.Format "15:04" }}; {{ end }}'
        color: '#123456'
        link_names: true
"#,
    );
    let (d, n) = notify(&cfg, vec![alert(&[("instance", "a")], &[])]);
    let Some(Settings::Slack(sc)) = d.integration(&n[0]).map(|i| i.settings.clone()) else {
        panic!("slack")
    };
    let mut templates = Templates::new().unwrap_or_else(|e| panic!("{e}"));
    templates
        .add_template_file(
            "mine.tmpl",
            r#"{{ define "my.title" }}{{ .Receiver }}: {{ .Status | title }}{{ end }}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let cx = RenderContext {
        external_url: "",
        templates: &templates,
        zones: &NoZones,
        read_file: &no_files,
        hostname: "",
    };
    let v: serde_json::Value =
        serde_json::from_str(&slack_body(&n[0], &sc, &cx).unwrap_or_default()).unwrap_or_default();
    assert_eq!(v["attachments"][0]["title"], "s: Firing");
    assert_eq!(v["attachments"][0]["text"], "a since 22:13; ");
    assert_eq!(v["attachments"][0]["color"], "#123456");
    assert!(v["attachments"][0].get("title_link").is_none(), "empty title_link is omitted");
    assert_eq!(v["link_names"], true);
    // A template error is reported, not sent.
    let mut bad = sc.clone();
    bad.title = Some("{{ .Nope.Deeper }".into());
    assert!(slack_body(&n[0], &bad, &cx).is_err());
}

#[test]
fn pagerduty_v2_events() {
    let cfg = config(
        r#"
route: {receiver: pd, group_by: [job]}
receivers:
  - name: pd
    pagerduty_configs:
      - routing_key: 'rk-{{ .CommonLabels.job }}'
        severity: '{{ .CommonLabels.severity }}'
        details: {runbook: 'https://runbooks/{{ .CommonLabels.job }}'}
"#,
    );
    let mut d = Dispatcher::new(&cfg);
    let a = alert(&[("job", "foo"), ("severity", "warning")], &[("summary", "s")]);
    d.insert(a.clone(), T0).unwrap_or_default();
    let n = d.tick(T0 + 30_000);
    let integ = d.integration(&n[0]).cloned().unwrap_or_else(|| panic!("integration"));
    let Rendered::Http { url, body } =
        with_cx(|cx| render(&n[0], &integ, cx)).unwrap_or_else(|e| panic!("{e}"))
    else {
        panic!("http")
    };
    assert_eq!(url, "https://events.pagerduty.com/v2/enqueue");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(v["routing_key"], "rk-foo");
    assert_eq!(v["event_action"], "trigger");
    assert_eq!(v["dedup_key"], "6105319df087d47fed8e4ed9eb895d094d10a1e5d6628504284a32d482338c66");
    assert_eq!(v["payload"]["summary"], "[FIRING 1] 1 alerts (job=foo)");
    assert_eq!(v["payload"]["source"], "andon");
    assert_eq!(v["payload"]["severity"], "warning");
    assert_eq!(v["payload"]["custom_details"]["num_firing"], "1");
    assert_eq!(v["payload"]["custom_details"]["num_resolved"], "0");
    assert_eq!(v["payload"]["custom_details"]["runbook"], "https://runbooks/foo");
    assert_eq!(v["client"], "andon");
    assert_eq!(v["client_url"], "http://am.example.com");
    assert!(body.starts_with(r#"{"routing_key":"rk-foo","dedup_key":"#));
    // Resolution sends a resolve event with the same dedup key.
    let mut r = a.clone();
    r.ends_at = Some(T0 + 40_000);
    d.insert(r, T0 + 41_000).unwrap_or_default();
    let n = d.tick(T0 + 330_000);
    let v: serde_json::Value = serde_json::from_str(
        &with_cx(|cx| {
            pagerduty_body(
                &n[0],
                match &integ.settings {
                    Settings::PagerDuty(p) => p,
                    _ => panic!("pd"),
                },
                cx,
            )
        })
        .unwrap_or_default(),
    )
    .unwrap_or_default();
    assert_eq!(v["event_action"], "resolve");
    assert_eq!(v["dedup_key"], "6105319df087d47fed8e4ed9eb895d094d10a1e5d6628504284a32d482338c66");
    assert_eq!(v["payload"]["severity"], "warning");
    assert_eq!(v["payload"]["summary"], "[RESOLVED] 1 alerts (job=foo)");
    assert_eq!(v["payload"]["custom_details"]["num_resolved"], "1");
}

#[test]
fn pagerduty_v1_for_service_keys() {
    let cfg = config(
        "route: {receiver: pd}\nreceivers: [{name: pd, pagerduty_configs: [{service_key: sk}]}]\n",
    );
    let (d, n) = notify(&cfg, vec![alert(&[("job", "foo")], &[])]);
    let integ = d.integration(&n[0]).cloned().unwrap_or_else(|| panic!("integration"));
    let Rendered::Http { url, body } =
        with_cx(|cx| render(&n[0], &integ, cx)).unwrap_or_else(|e| panic!("{e}"))
    else {
        panic!("http")
    };
    assert_eq!(url, "https://events.pagerduty.com/generic/2010-04-15/create_event.json");
    assert!(body.starts_with(r#"{"service_key":"sk","incident_key":""#), "{body}");
    assert!(body.contains(r#""event_type":"trigger","description":"[FIRING 1] 1 alerts","event_action":"","payload":null,"client":"andon""#), "{body}");
}

#[test]
fn routing_key_files_are_read_through_the_caller() {
    let cfg = config(
        "route: {receiver: pd}\nreceivers: [{name: pd, pagerduty_configs: [{routing_key_file: /secret/pd}]}]\n",
    );
    let (d, n) = notify(&cfg, vec![alert(&[("job", "foo")], &[])]);
    let integ = d.integration(&n[0]).cloned().unwrap_or_else(|| panic!("integration"));
    let templates = Templates::new().unwrap_or_else(|e| panic!("{e}"));
    let files = |p: &str| {
        if p == "/secret/pd" { Ok("from-file\n".to_owned()) } else { Err("missing".to_owned()) }
    };
    let cx = RenderContext {
        external_url: "",
        templates: &templates,
        zones: &NoZones,
        read_file: &files,
        hostname: "",
    };
    let Ok(Rendered::Http { body, .. }) = render(&n[0], &integ, &cx) else { panic!("render") };
    assert!(body.starts_with(r#"{"routing_key":"from-file","#));
    assert!(with_cx(|cx| render(&n[0], &integ, cx)).is_err(), "an unreadable file is an error");
}

#[test]
fn email_message() {
    let cfg = config(
        r#"
global: {smtp_smarthost: 'smtp.test:587', smtp_from: 'Andon <andon@example.com>'}
route: {receiver: m, group_by: [alertname]}
receivers:
  - name: m
    email_configs:
      - to: 'Ops <ops@example.com>, oncall@example.com'
        headers: {x-team: 'db-{{ .GroupLabels.alertname }}'}
"#,
    );
    let (d, n) = notify(
        &cfg,
        vec![alert(&[("alertname", "Disk"), ("instance", "a")], &[("description", "über = voll")])],
    );
    let integ = d.integration(&n[0]).cloned().unwrap_or_else(|| panic!("integration"));
    let Rendered::Email(m) =
        with_cx(|cx| render(&n[0], &integ, cx)).unwrap_or_else(|e| panic!("{e}"))
    else {
        panic!("email")
    };
    assert_eq!(m.smarthost, "smtp.test:587");
    assert_eq!(m.envelope_from, "andon@example.com");
    assert_eq!(m.recipients, vec!["ops@example.com".to_owned(), "oncall@example.com".to_owned()]);
    assert!(m.require_tls);
    let (head, body) = m.data.split_once("\r\n\r\n").unwrap_or_default();
    let lines: Vec<&str> = head.split("\r\n").collect();
    assert_eq!(lines[0], "From: Andon <andon@example.com>");
    assert_eq!(lines[1], "To: Ops <ops@example.com>, oncall@example.com");
    assert_eq!(lines[2], "Subject: [FIRING 1] Disk");
    assert_eq!(lines[3], "X-Team: db-Disk");
    assert!(
        lines[4].starts_with("Message-Id: <1700000030000.") && lines[4].ends_with("@andon.test>")
    );
    assert_eq!(lines[5], "Date: Tue, 14 Nov 2023 22:13:50 +0000");
    assert!(lines[6].starts_with("Content-Type: multipart/alternative;  boundary="));
    assert_eq!(lines[7], "MIME-Version: 1.0");
    let boundary = lines[6].rsplit('=').next().unwrap_or_default();
    assert_eq!(boundary.len(), 60);
    assert!(body.starts_with(&format!("--{boundary}\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n[FIRING 1] Disk\r\n")));
    assert!(body.contains("  =C3=BCber =3D voll\r\n"), "{body}");
    assert!(body.contains("Content-Type: text/html; charset=UTF-8"));
    assert!(body.ends_with(&format!("--{boundary}--\r\n")));
    assert!(body.split("\r\n").all(|l| l.len() <= 76), "quoted-printable keeps lines short");
}

#[test]
fn default_text_template() {
    let cfg = config(WEBHOOK);
    let (_, n) = notify(
        &cfg,
        vec![alert(
            &[("job", "foo"), ("alertname", "A")],
            &[("summary", "sum"), ("description", "desc")],
        )],
    );
    let alerts: Vec<&NotifiedAlert> = n[0].alerts.iter().collect();
    let data = template_data(&n[0], &alerts, "http://am");
    let out = with_cx(|cx| {
        let host = TemplateHost { external_url: "http://am", now_ms: T0, zones: &NoZones };
        cx.templates.render(r#"{{ template "andon.text" . }}"#, &data, &host)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out,
        "[FIRING 1] A (job=foo)\n\nFiring (1):\n- [firing] sum\n  desc\n  labels: alertname=A, job=foo\n  since: 2023-11-14 22:13:20 UTC\n  source: http://prom:9090/graph?g0.expr=up&g0.tab=1\n\nhttp://am\n"
    );
}

#[test]
fn header_and_body_encodings() {
    assert_eq!(q_encode("plain subject"), "plain subject");
    assert_eq!(q_encode("Störung"), "=?utf-8?q?St=C3=B6rung?=");
    assert_eq!(q_encode("a b=c?"), "a b=c?");
    assert_eq!(q_encode("é é"), "=?utf-8?q?=C3=A9_=C3=A9?=");
    let long = q_encode(&"é".repeat(40));
    assert!(long.split(' ').all(|w| w.len() <= 75 && w.starts_with("=?utf-8?q?")), "{long}");
    assert_eq!(quoted_printable("a=b\nc "), "a=3Db\r\nc=20");
    let qp = quoted_printable(&"x".repeat(200));
    assert!(qp.split("\r\n").all(|l| l.len() <= 76));
    assert_eq!(qp.replace("=\r\n", ""), "x".repeat(200));
    assert_eq!(addresses("A <a@x>, \"B, Jr\" <b@x>, c@x"), vec!["a@x", "b@x", "c@x"]);
    assert!(addresses("nobody").is_empty());
    assert_eq!(rfc1123z(0), "Thu, 01 Jan 1970 00:00:00 +0000");
}
