//! Differential tests against Alertmanager's own `amtool` (Debian's
//! `prometheus-alertmanager`): generated routing trees must route label sets to the
//! same receivers, print the same matchers per route, and configurations must be
//! accepted or refused alike. Skipped with a message when `amtool` is absent, unless
//! `CI` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

use andon_alertmanager::matcher::matchers_string;
use andon_alertmanager::tz::NoZones;
use andon_alertmanager::{LabelSet, RouteTree, config};

fn amtool() -> Option<PathBuf> {
    let candidates = ["/usr/bin/amtool", "/usr/local/bin/amtool"];
    let found = candidates.iter().map(PathBuf::from).find(|p| p.exists()).or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths).map(|d| d.join("amtool")).find(|p| p.exists())
        })
    });
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("amtool is required in CI (apt-get install prometheus-alertmanager)");
        }
        eprintln!("skipping: amtool not found (apt-get install prometheus-alertmanager)");
    }
    found
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("andon-am-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const NAMES: [&str; 4] = ["a", "b", "team", "env"];
const VALUES: [&str; 4] = ["x", "y", "xy", "prod"];
const REGEXES: [&str; 7] = ["x|y", ".*", "x.*", "[xy]+", "", "pro.", ".+"];

fn matcher_line(rng: &mut Rng) -> String {
    let name = rng.pick(&NAMES);
    match rng.below(7) {
        5 => format!("'{name}=\"q\\\"uo\\\\te\"'"),
        6 => format!("'{{{name}=~\"a.b\", {name}!=x}}'"),
        0 => format!("'{name}=\"{}\"'", rng.pick(&VALUES)),
        1 => format!("'{name}!=\"{}\"'", rng.pick(&VALUES)),
        2 => format!("'{name}=~\"{}\"'", rng.pick(&REGEXES)),
        3 => format!("'{name}!~\"{}\"'", rng.pick(&REGEXES)),
        _ => format!("'{name}={}'", rng.pick(&VALUES)),
    }
}

fn route(rng: &mut Rng, depth: usize, indent: usize, out: &mut String) {
    let mut keys: Vec<String> = Vec::new();
    // Some routes omit their receiver to exercise inheritance.
    if rng.chance(70) {
        keys.push(format!("receiver: r{}", rng.below(4)));
    }
    match rng.below(4) {
        0 => {
            let n = rng.pick(&NAMES);
            let v = if rng.chance(20) { "'q\"uo\\te'" } else { rng.pick(&VALUES) };
            keys.push(format!("match: {{{n}: {v}}}"));
        }
        1 => {
            let n = rng.pick(&NAMES);
            keys.push(format!("match_re: {{{n}: '{}'}}", rng.pick(&REGEXES)));
        }
        _ => {
            let count = 1 + rng.below(2);
            let ms: Vec<String> = (0..count).map(|_| matcher_line(rng)).collect();
            keys.push(format!("matchers: [{}]", ms.join(", ")));
        }
    }
    if rng.chance(35) {
        keys.push("continue: true".into());
    }
    for (i, k) in keys.iter().enumerate() {
        let lead = if i == 0 { "- " } else { "  " };
        out.push_str(&format!("{}{lead}{k}\n", " ".repeat(indent)));
    }
    if depth < 3 && rng.chance(50) {
        out.push_str(&format!("{}  routes:\n", " ".repeat(indent)));
        for _ in 0..1 + rng.below(3) {
            route(rng, depth + 1, indent + 4, out);
        }
    }
}

fn generate(seed: u64) -> String {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut out = String::from("route:\n  receiver: r0\n  routes:\n");
    for _ in 0..1 + rng.below(4) {
        route(&mut rng, 1, 4, &mut out);
    }
    out.push_str("receivers: [{name: r0}, {name: r1}, {name: r2}, {name: r3}]\n");
    out
}

fn label_sets(seed: u64, n: usize) -> Vec<LabelSet> {
    let mut rng = Rng(seed ^ 0xdead_beef_cafe_f00d);
    (0..n)
        .map(|_| {
            let mut l = LabelSet::new();
            l.insert("alertname".into(), "T".into());
            for name in NAMES {
                if rng.chance(60) {
                    l.insert(name.into(), rng.pick(&VALUES).into());
                }
            }
            l
        })
        .collect()
}

fn run(amtool: &Path, args: &[String]) -> (bool, String) {
    let out = Command::new(amtool).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The matcher text of every non-root route, depth-first, from `amtool config routes`.
fn amtool_tree_matchers(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.contains("default-route"))
        .skip(1)
        .filter_map(|l| {
            let start = l.find('{')?;
            let rest = &l[start..];
            let end = rest.find("  ").unwrap_or(rest.len());
            Some(rest[..end].trim_end().to_owned())
        })
        .collect()
}

#[test]
fn routing_matches_amtool() {
    let Some(amtool) = amtool() else { return };
    let dir = TempDir::new("routes");
    let mut compared = 0;
    for seed in 1..=60u64 {
        let yaml = generate(seed);
        let file = dir.write(&format!("c{seed}.yml"), &yaml);
        let f = format!("--config.file={}", file.display());
        let cfg = config::parse(yaml.as_bytes(), "gen.yml", &NoZones)
            .unwrap_or_else(|e| panic!("seed {seed}: {e:?}\n{yaml}"));
        let (ok, _) = run(&amtool, &["check-config".into(), file.display().to_string()]);
        assert!(ok, "amtool refused seed {seed}:\n{yaml}");
        let tree = RouteTree::new(&cfg.route);

        let (ok, printed) = run(&amtool, &["config".into(), "routes".into(), f.clone()]);
        assert!(ok);
        let ours: Vec<String> =
            tree.routes().iter().skip(1).map(|r| matchers_string(&r.matchers)).collect();
        assert_eq!(amtool_tree_matchers(&printed), ours, "seed {seed}:\n{yaml}\n{printed}");

        for labels in label_sets(seed, 10) {
            let mut args = vec!["config".into(), "routes".into(), "test".into(), f.clone()];
            args.extend(labels.iter().map(|(k, v)| format!("{k}={v}")));
            let (ok, printed) = run(&amtool, &args);
            assert!(ok, "amtool failed: {args:?}");
            let theirs = printed.lines().last().unwrap_or("").trim().to_owned();
            let ours: Vec<&str> =
                tree.match_routes(&labels).iter().map(|r| r.receiver.as_str()).collect();
            assert_eq!(ours.join(","), theirs, "seed {seed}, labels {labels:?}:\n{yaml}");
            compared += 1;
        }
    }
    eprintln!("compared {compared} routings against amtool");
}

const GOOD: &[&str] = &[
    "route: {receiver: a}\nreceivers: [{name: a}]\n",
    r#"global:
  resolve_timeout: 1m
  smtp_smarthost: 'localhost:25'
  smtp_from: 'am@example.com'
  slack_api_url: 'https://hooks.slack.com/services/x'
route:
  receiver: a
  group_by: ['...']
  group_wait: 10s
  group_interval: 2m
  repeat_interval: 1d
  routes:
    - matchers: ['severity=~"page|critical"', 'team!="ops"']
      receiver: b
      continue: true
      mute_time_intervals: [nights]
      active_time_intervals: [weekdays]
    - match_re: {service: 'api|web'}
      receiver: c
      group_by: [alertname, cluster]
receivers:
  - name: a
    webhook_configs: [{url: 'http://127.0.0.1:5001/', send_resolved: false, max_alerts: 10}]
  - name: b
    email_configs: [{to: 'ops@example.com', headers: {Subject: 'x'}}]
    pagerduty_configs: [{routing_key: 'k', severity: 'critical', details: {a: b}}]
  - name: c
    slack_configs: [{channel: '#c', title: 't', text: 'x', send_resolved: true}]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [alertname]
  - source_match: {a: b}
    target_match_re: {c: 'd.*'}
time_intervals:
  - name: nights
    time_intervals:
      - times: [{start_time: '00:00', end_time: '06:00'}]
        location: 'UTC'
  - name: weekdays
    time_intervals:
      - weekdays: ['monday:friday']
        days_of_month: ['1:10', '-3:-1']
        months: ['january:march', '11']
        years: ['2020:2030']
mute_time_intervals:
  - name: legacy
    time_intervals: [{weekdays: [saturday]}]
templates: ['/etc/am/*.tmpl']
"#,
];

const BAD: &[&str] = &[
    "route: {receiver: missing}\nreceivers: [{name: a}]\n",
    "route: {receiver: a}\nreceivers: [{name: a}, {name: a}]\n",
    "route: {receiver: a, matchers: ['x=\"y\"']}\nreceivers: [{name: a}]\n",
    "route: {receiver: a, continue: true}\nreceivers: [{name: a}]\n",
    "route: {receiver: a, group_by: [x, x]}\nreceivers: [{name: a}]\n",
    "route: {receiver: a, group_by: ['...', x]}\nreceivers: [{name: a}]\n",
    "route: {receiver: a, routes: [{group_interval: 0s}]}\nreceivers: [{name: a}]\n",
    "route: {receiver: a, routes: [{repeat_interval: 0s}]}\nreceivers: [{name: a}]\n",
    "route: {receiver: a, routes: [{mute_time_intervals: [nope]}]}\nreceivers: [{name: a}]\n",
    "route: {receiver: a, routes: [{matchers: ['x=~\"(\"']}]}\nreceivers: [{name: a}]\n",
    "route: {receiver: a, routes: [{matchers: ['x==\"y\"']}]}\nreceivers: [{name: a}]\n",
    "route: {receiver: a, routes: [{match_re: {x: '['}}]}\nreceivers: [{name: a}]\n",
    "route: {receiver: a, routes: [{group_wait: 5}]}\nreceivers: [{name: a}]\n",
    "receivers: [{name: a}]\n",
    "route: {}\nreceivers: [{name: a}]\n",
    "route: {receiver: a}\nreceivers: [{name: a, email_configs: [{from: a@b, smarthost: 'h:25'}]}]\n",
    "route: {receiver: a}\nreceivers: [{name: a, email_configs: [{to: a@b}]}]\n",
    "route: {receiver: a}\nreceivers: [{name: a, webhook_configs: [{}]}]\n",
    "route: {receiver: a}\nreceivers: [{name: a, pagerduty_configs: [{}]}]\n",
    "route: {receiver: a}\nreceivers: [{name: a, slack_configs: [{channel: x}]}]\n",
    "route: {receiver: a}\nreceivers: [{webhook_configs: [{url: 'http://h/'}]}]\n",
    "route: {receiver: a, recevier: b}\nreceivers: [{name: a}]\n",
    "route: {receiver: a}\nreceivers: [{name: a}]\ntime_intervals: [{name: t, time_intervals: [{weekdays: ['friday:monday']}]}]\n",
    "route: {receiver: a}\nreceivers: [{name: a}]\ntime_intervals: [{name: t, time_intervals: [{times: [{start_time: '10:00', end_time: '09:00'}]}]}]\n",
    "route: {receiver: a}\nreceivers: [{name: a}]\ntime_intervals: [{name: t, time_intervals: [{days_of_month: ['-1:1']}]}]\n",
    "route: {receiver: a}\nreceivers: [{name: a}]\ntime_intervals: [{name: t}, {name: t}]\n",
    "route: {receiver: a}\nreceivers: [{name: a}]\ntime_intervals: [{name: t, time_intervals: [{location: 'Nowhere/Land'}]}]\n",
    "route: {receiver: a}\nreceivers: [{name: a}]\ninhibit_rules: [{source_match: {'1x': y}}]\n",
];

#[test]
fn validity_matches_amtool() {
    let Some(amtool) = amtool() else { return };
    let dir = TempDir::new("check");
    for (i, yaml) in GOOD.iter().chain(BAD).enumerate() {
        let file = dir.write(&format!("c{i}.yml"), yaml);
        let (theirs, _) = run(&amtool, &["check-config".into(), file.display().to_string()]);
        let ours = config::parse(yaml.as_bytes(), "c.yml", &NoZones);
        assert_eq!(ours.is_ok(), theirs, "case {i}: amtool ok={theirs}, ours={ours:?}\n{yaml}");
        assert_eq!(theirs, i < GOOD.len(), "case {i} is in the wrong list\n{yaml}");
    }
}

// ---- the webhook payload against a running Alertmanager ----

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use andon_alertmanager::payload::webhook_body;
use andon_alertmanager::{Alert, Dispatcher};
use andon_core::time::Timestamp;

/// Receives webhook POSTs on loopback and passes each body on.
fn sink() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut conn = conn;
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = l.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0u8; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                    let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
                }
            });
        }
    });
    (port, rx)
}

fn http(port: u16, method: &str, path: &str, body: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn webhook_payload_matches_a_running_alertmanager() {
    let Some(amtool) = amtool() else { return };
    let binary = amtool.with_file_name("prometheus-alertmanager");
    let binary = if binary.exists() { binary } else { amtool.with_file_name("alertmanager") };
    if !binary.exists() {
        if std::env::var_os("CI").is_some() {
            panic!("the Alertmanager binary is required in CI next to amtool");
        }
        eprintln!("skipping: no Alertmanager binary next to {}", amtool.display());
        return;
    }
    let dir = TempDir::new("live");
    let (sink_port, bodies) = sink();
    let am_port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let yaml = format!(
        r#"
route:
  receiver: team
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1h
  routes:
    - matchers: ['severity=~"warning|critical"']
      receiver: team
receivers:
  - name: team
    webhook_configs: [{{url: 'http://127.0.0.1:{sink_port}/hook'}}]
"#
    );
    let file = dir.write("am.yml", &yaml);
    let _child = Child(
        Command::new(&binary)
            .arg(format!("--config.file={}", file.display()))
            .arg(format!("--storage.path={}", dir.0.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--cluster.listen-address=")
            .arg("--web.external-url=http://am.example.com")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while http(am_port, "GET", "/-/ready", "").is_none_or(|r| !r.starts_with("HTTP/1.1 200")) {
        assert!(Instant::now() < deadline, "Alertmanager did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let posted = r#"[
      {"labels":{"alertname":"Disk","severity":"warning","job":"node","instance":"b:9100"},
       "annotations":{"summary":"<disk> & \"more\"","runbook":"r"},
       "startsAt":"2023-11-14T22:13:20.5Z","generatorURL":"http://prom/graph?g0.expr=up&x=1"},
      {"labels":{"alertname":"Disk","severity":"critical","job":"node","instance":"a:9100"},
       "annotations":{"runbook":"r"},"startsAt":"2023-11-14T22:13:21Z"},
      {"labels":{"alertname":"Disk","severity":"warning","instance":"c:9100"},
       "annotations":{"runbook":"r"},"startsAt":"2023-11-14T22:00:00Z","endsAt":"2023-11-14T22:10:00Z"}
    ]"#;
    let resp = http(am_port, "POST", "/api/v2/alerts", posted).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let theirs =
        bodies.recv_timeout(Duration::from_secs(20)).expect("no webhook from Alertmanager");

    let cfg = config::parse(yaml.as_bytes(), "am.yml", &NoZones).unwrap();
    let mut d = Dispatcher::new(&cfg);
    let v: serde_json::Value = serde_json::from_str(posted).unwrap();
    let now = Timestamp::parse_rfc3339("2023-11-14T22:30:00Z").unwrap().millis();
    for a in v.as_array().unwrap() {
        let map = |k: &str| -> LabelSet {
            a[k].as_object()
                .map(|o| {
                    o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect()
                })
                .unwrap_or_default()
        };
        let mut alert = Alert::new(map("labels"));
        alert.annotations = map("annotations");
        alert.starts_at =
            a["startsAt"].as_str().and_then(Timestamp::parse_rfc3339).map(Timestamp::millis);
        alert.ends_at =
            a["endsAt"].as_str().and_then(Timestamp::parse_rfc3339).map(Timestamp::millis);
        alert.generator_url = a["generatorURL"].as_str().unwrap_or("").to_owned();
        d.insert(alert, now).unwrap();
    }
    let ns = d.tick(now);
    assert_eq!(ns.len(), 1);
    let ours = webhook_body(&ns[0], 0, "http://am.example.com");
    assert_eq!(ours.trim_end(), theirs.trim_end());
    eprintln!("webhook payload identical to Alertmanager's ({} bytes)", theirs.len());
}
