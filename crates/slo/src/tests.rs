//! Unit tests for reading specs, validation diagnostics and generated rules.

use super::*;

fn gen_ok(text: &str, opts: &Options) -> Generated {
    match generate(text.as_bytes(), "slo.yaml", opts) {
        Ok(g) => g,
        Err(e) => panic!("{}", e.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")),
    }
}

fn gen_err(text: &str, opts: &Options) -> Vec<String> {
    match generate(text.as_bytes(), "slo.yaml", opts) {
        Ok(g) => panic!("expected errors, got {g:?}"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

const BASE: &str = r#"version: "prometheus/v1"
service: "svc"
labels:
  owner: team
slos:
  - name: "avail"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      name: HighErrorRate
      page_alert:
        labels:
          severity: critical
      ticket_alert:
        disable: true
"#;

#[test]
fn base_spec_generates_three_groups() {
    let g = gen_ok(BASE, &Options::default());
    let names: Vec<&str> = g.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "sloth-slo-sli-recordings-svc-avail",
            "sloth-slo-meta-recordings-svc-avail",
            "sloth-slo-alerts-svc-avail"
        ]
    );
    assert_eq!(g.groups[0].rules.len(), 8);
    assert_eq!(g.groups[2].rules.len(), 1);
    let slo = &g.slos[0];
    assert_eq!(slo.id, "svc-avail");
    assert_eq!(slo.period_ms, 30 * DAY_MS);
    assert_eq!(
        slo.sli_error_ratio_expr("1h"),
        "(sum(rate(http_requests_total{code=~\"5..\"}[1h])))\n/\n(sum(rate(http_requests_total[1h])))\n"
    );
    let f: Vec<f64> = slo.burn_rate_alerts().iter().map(|a| a.burn_rate_factor).collect();
    assert_eq!(f, [14.4, 6.0, 3.0, 1.0]);
    assert_eq!(
        slo.selector(),
        "{sloth_id=\"svc-avail\", sloth_service=\"svc\", sloth_slo=\"avail\"}"
    );
    let info = &g.groups[1].rules[6];
    assert_eq!(info.labels["sloth_version"], "andon");
    assert_eq!(info.labels["sloth_objective"], "99.9");
}

#[test]
fn options_disable_and_label() {
    let mut opts = Options { disable_alerts: true, ..Options::default() };
    opts.extra_labels.insert("env".into(), "prod".into());
    let g = gen_ok(BASE, &opts);
    assert_eq!(g.groups.len(), 2);
    assert_eq!(g.groups[0].rules[0].labels["env"], "prod");
    let opts = Options { disable_alerts: true, disable_recordings: true, ..Options::default() };
    assert_eq!(
        gen_err(BASE, &opts),
        ["slo.yaml:1:1: no rules were generated (recordings and alerts are all disabled)"]
    );
}

#[test]
fn periods_need_windows() {
    let opts = Options { period: Some(7 * DAY_MS), ..Options::default() };
    assert_eq!(
        gen_err(BASE, &opts),
        [
            "slo.yaml:6:11: slos[0]: there are no built-in alert windows for a 1w SLO period (built in: 30d and 28d); give an AlertWindows file for it"
        ]
    );
    let opts = Options { period: Some(28 * DAY_MS), ..Options::default() };
    let g = gen_ok(BASE, &opts);
    assert_eq!(g.groups[0].rules[7].record.as_deref(), Some("slo:sli_error:ratio_rate4w"));
}

#[test]
fn every_problem_is_reported_with_its_place() {
    let text = r#"version: prometheus/v1
service: "my service"
labels:
  __name__: x
  team: ""
slos:
  - name: a
    objective: 120
    sli:
      events:
        error_query: sum(rate(x[5m]))
        total_query: sum(rate(y[{{.window}}])
    alerting:
      page_alert: {}
      ticket_alert: {disable: true}
    extra: 1
  - name: b1
    objective: 99
    sli:
      plugin:
        id: my_plugin
"#;
    assert_eq!(
        gen_err(text, &Options::default()),
        [
            "slo.yaml:2:10: service: invalid service \"my service\": it must start and end with an alphanumeric and can only contain alphanumerics, '.', '_' and '-'",
            "slo.yaml:4:3: labels.__name__: the label name \"__name__\" is not allowed",
            "slo.yaml:5:9: labels.team: the label value is required",
            "slo.yaml:16:5: slos[0].extra: unknown field \"extra\"; expected one of: name, description, objective, plugins, labels, sli, alerting",
            "slo.yaml:7:11: slos[0].name: invalid SLO name \"a\": it must start and end with an alphanumeric and can only contain alphanumerics, '.', '_' and '-'",
            "slo.yaml:8:16: slos[0].objective: objective must be greater than 0 and at most 100, found 120",
            "slo.yaml:11:22: slos[0].sli.events.error_query: the query must use the {{.window}} variable",
            "slo.yaml:12:22: slos[0].sli.events.total_query: invalid PromQL: 1:4: parse error: unclosed left parenthesis",
            "slo.yaml:14:7: slos[0].alerting.name: alert name is required (the page alert is not disabled)",
            "slo.yaml:21:13: slos[1].sli.plugin.id: SLI plugin \"my_plugin\" is not supported: Sloth SLI plugins are Go programs, which are not run here; write the SLI as an events or raw query",
            "slo.yaml:17:5: slos[1].alerting: required field is missing: give alerting.name, or disable both page_alert and ticket_alert",
        ]
    );
}

#[test]
fn renders_like_sloth() {
    let g = gen_ok(BASE, &Options { disable_recordings: true, ..Options::default() });
    let out = render_generated(&g, &Options::default());
    let want = "groups:
- name: sloth-slo-alerts-svc-avail
  rules:
  - alert: HighErrorRate
    expr: |
      (
          max(slo:sli_error:ratio_rate5m{sloth_id=\"svc-avail\", sloth_service=\"svc\", sloth_slo=\"avail\"} > (14.4 * 0.0009999999999999432)) without (sloth_window)
          and
          max(slo:sli_error:ratio_rate1h{sloth_id=\"svc-avail\", sloth_service=\"svc\", sloth_slo=\"avail\"} > (14.4 * 0.0009999999999999432)) without (sloth_window)
      )
      or
      (
          max(slo:sli_error:ratio_rate30m{sloth_id=\"svc-avail\", sloth_service=\"svc\", sloth_slo=\"avail\"} > (6 * 0.0009999999999999432)) without (sloth_window)
          and
          max(slo:sli_error:ratio_rate6h{sloth_id=\"svc-avail\", sloth_service=\"svc\", sloth_slo=\"avail\"} > (6 * 0.0009999999999999432)) without (sloth_window)
      )
    labels:
      severity: critical
      sloth_severity: page
    annotations:
      summary: '{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn
        rate is over expected.'
      title: (page) {{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget
        burn rate is too fast.
";
    assert_eq!(out, want);
}

#[test]
fn shapes_are_recognised() {
    assert_eq!(
        gen_err(
            "---
apiVersion: openslo/v1
kind: Service
metadata: {name: x}
",
            &Options::default()
        ),
        ["slo.yaml:1:1: the file holds no SLO spec"]
    );
}

const OPENSLO_V1: &str = r#"apiVersion: openslo/v1
kind: SLI
metadata:
  name: http-errors
spec:
  ratioMetric:
    counter: true
    bad:
      metricSource:
        type: Prometheus
        spec:
          query: http_requests_total{code=~"5.."}
    total:
      metricSource:
        type: Prometheus
        spec:
          query: http_requests_total
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability
spec:
  service: api
  indicatorRef: http-errors
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.995
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: latency
spec:
  service: api
  budgetingMethod: Timeslices
  indicator:
    metadata: {name: p99}
    spec:
      thresholdMetric:
        metricSource:
          type: Prometheus
          spec:
            query: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))
  objectives:
    - op: lte
      value: 0.3
      targetPercent: 99
    - op: lte
      value: 1
      target: 0.999
---
apiVersion: openslo/v1
kind: Service
metadata: {name: api}
spec: {description: The API}
"#;

#[test]
fn openslo_v1_ratio_and_threshold() {
    let g = gen_ok(OPENSLO_V1, &Options::default());
    let ids: Vec<&str> = g.slos.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["api-availability-0", "api-latency-0", "api-latency-1"]);
    let a = &g.slos[0];
    assert_eq!(a.period_ms, 28 * DAY_MS);
    assert_eq!(a.objective, 99.5);
    assert_eq!(a.spec, "openslo/v1");
    assert_eq!(
        a.sli,
        Sli::Events {
            error_query: "sum(rate(http_requests_total{code=~\"5..\"}[{{.window}}]))".into(),
            total_query: "sum(rate(http_requests_total[{{.window}}]))".into(),
        }
    );
    assert!(a.page_alert.is_none() && a.ticket_alert.is_none());
    let l = &g.slos[1];
    assert_eq!(l.objective, 99.0);
    assert_eq!(l.period_ms, 30 * DAY_MS);
    assert_eq!(
        l.sli_error_ratio_expr("5m"),
        "(1 - avg_over_time(((histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))) <= bool 0.3)[5m:]))"
    );
    // Two groups per SLO: OpenSLO carries no alerting.
    assert_eq!(g.groups.len(), 6);
    let info = &g.groups[1].rules[6];
    assert_eq!(info.labels["sloth_spec"], "openslo/v1");
    assert_eq!(info.labels["sloth_mode"], "cli-gen-openslo");
    assert_eq!(g.groups[0].rules[7].record.as_deref(), Some("slo:sli_error:ratio_rate4w"));
}

#[test]
fn openslo_v1_applied_with_its_sli_documents() {
    // `andon apply` stores each SLO with the SLI it names inline; Service documents
    // are read and not stored.
    let ms = andon_spec::parse_manifests("slo.yaml", OPENSLO_V1.as_bytes(), None)
        .unwrap_or_else(|d| panic!("{d:?}"));
    let names: Vec<&str> = ms.iter().map(|m| m.metadata.name.as_str()).collect();
    assert_eq!(names, ["availability", "latency"]);
    assert!(ms.iter().all(|m| m.kind.kind == "PrometheusServiceLevel"));
    let andon_spec::Spec::Foreign(f) = &ms[0].spec else { panic!("foreign spec") };
    let doc = &f.value["document"];
    assert!(doc["spec"].get("indicatorRef").is_none(), "{doc}");
    assert_eq!(doc["spec"]["indicator"]["metadata"]["name"], "http-errors", "{doc}");
    let stored = from_spec_json(&f.value).unwrap_or_else(|d| panic!("{d:?}"));
    let direct = gen_ok(OPENSLO_V1, &Options::default());
    assert_eq!(stored.slos[0].sli, direct.slos[0].sli);
    assert!(check_manifests(&ms).is_empty());

    let missing = OPENSLO_V1.replace("indicatorRef: http-errors", "indicatorRef: http-error");
    let diags = andon_spec::parse_manifests("slo.yaml", missing.as_bytes(), None).unwrap_err();
    let got: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "slo.yaml:25:17: spec.indicatorRef: no openslo/v1 SLI named \"http-error\" in the applied files"
        ]
    );
    let policy = format!(
        "{OPENSLO_V1}---\napiVersion: openslo/v1\nkind: AlertPolicy\nmetadata: {{name: p}}\nspec: {{}}\n"
    );
    let diags = andon_spec::parse_manifests("slo.yaml", policy.as_bytes(), None).unwrap_err();
    assert!(
        diags[0]
            .to_string()
            .starts_with("slo.yaml:62:7: kind: OpenSLO AlertPolicy documents are not applied"),
        "{diags:?}"
    );
}

#[test]
fn openslo_v1_problems() {
    let text = r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: bad
spec:
  service: api
  indicatorRef: missing
  timeWindow:
    - duration: 1M
      isRolling: true
  objectives:
    - target: 1.5
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: other
spec:
  service: api
  timeWindow:
    - duration: 30d
      calendar: {startTime: "2024-01-01 00:00:00", timeZone: UTC}
  indicator:
    spec:
      ratioMetric:
        good:
          metricSource:
            type: Datadog
            spec:
              query: sum:requests{ok}
        total:
          metricSource:
            spec:
              query: http_requests_total
  objectives:
    - target: 0.99
---
apiVersion: openslo/v2
kind: SLO
"#;
    assert_eq!(
        gen_err(text, &Options::default()),
        [
            "slo.yaml:9:17: spec.timeWindow[0].duration: unsupported duration \"1M\": use a number of minutes, hours, days or weeks (m, h, d, w)",
            "slo.yaml:7:17: spec.indicatorRef: no openslo/v1 SLI named \"missing\" in this file",
            "slo.yaml:12:15: spec.objectives[0].target: target must be a ratio greater than 0 and at most 1, found 1.5",
            "slo.yaml:22:17: spec.timeWindow[0].calendar: calendar-aligned time windows are not supported; use a rolling window",
            "slo.yaml:34:22: spec.indicator.spec.ratioMetric.total.metricSource.spec.query: the query must use the {{.window}} variable (or be a counter's series selector with counter: true)",
            "slo.yaml:28:19: spec.indicator.spec.ratioMetric.good.metricSource.type: unsupported metric source type \"Datadog\"; expected Prometheus",
            "slo.yaml:38:13: apiVersion: unsupported OpenSLO version \"openslo/v2\"; expected \"openslo/v1alpha\" or \"openslo/v1\"",
        ]
    );
}

const K8S: &str = r#"apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata:
  name: rules
  namespace: mon
  labels: {team: a}
  annotations: {note: "x y"}
spec:
  service: svc
  sloPlugins:
    chain:
      - id: sloth.dev/contrib/rule_intervals/v1
        config: {interval: {default: 1m, alert: 30s}}
  slos:
    - name: raw-slo
      objective: 95
      sli:
        raw:
          errorRatioQuery: 1 - avg_over_time(up[{{.window}}])
      plugins:
        chain:
          - id: sloth.dev/contrib/info_labels/v1
            config: {labels: {dashboard: "https://x"}}
          - id: sloth.dev/core/debug/v1
            priority: -10
            config: {msg: hello}
      alerting:
        pageAlert: {disable: true}
        ticketAlert: {disable: true}
"#;

#[test]
fn kubernetes_output_and_native_plugins() {
    let opts = Options { disable_recordings: false, ..Options::default() };
    let g = gen_ok(K8S, &opts);
    assert_eq!(g.groups.len(), 2);
    assert_eq!(g.groups[0].interval.as_deref(), Some("1m"));
    assert_eq!(g.groups[1].interval.as_deref(), Some("1m"));
    assert_eq!(g.groups[1].rules[6].labels["dashboard"], "https://x");
    assert_eq!(g.slos[0].sli_error_ratio_expr("1h"), "(1 - avg_over_time(up[1h]))");
    let out = render_generated(&g, &Options::default());
    assert!(
        out.starts_with(
            "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  annotations:\n    note: x y\n  labels:\n    app.kubernetes.io/component: SLO\n    app.kubernetes.io/managed-by: sloth\n    team: a\n  name: rules\n  namespace: mon\nspec:\n  groups:\n  - interval: 1m\n    name: sloth-slo-sli-recordings-svc-raw-slo\n    rules:\n    - expr: (1 - avg_over_time(up[5m]))\n      labels:\n"
        ),
        "{out}"
    );
    // Without alerts and recordings, the object remains with no groups.
    let opts = Options { disable_recordings: true, ..Options::default() };
    let g = gen_ok(K8S, &opts);
    assert!(render_generated(&g, &opts).ends_with("spec:\n  groups: []\n"));
}

#[test]
fn plugin_problems_are_reported() {
    let text = r#"version: prometheus/v1
service: svc
slo_plugins:
  chain:
    - id: sloth.dev/contrib/info_label/v1
    - id: sloth.dev/contrib/info_labels/v1
      config: {metricName: x}
    - id: sloth.dev/contrib/rule_intervals/v1
      config: {interval: {sliError: 5m}}
slos:
  - name: raw-slo
    objective: 99
    plugins:
      overridePrevious: true
      chain:
        - id: sloth.dev/contrib/denominator_corrected_rules/v1
          config: {disableOptimised: true}
    sli:
      raw:
        error_ratio_query: sum(rate(x[{{.window}}]))
"#;
    let errs = gen_err(text, &Options::default());
    assert_eq!(errs.len(), 6, "{errs:#?}");
    assert!(errs[0].starts_with("slo.yaml:5:11: slo_plugins.chain[0].id: SLO plugin \"sloth.dev/contrib/info_label/v1\" is not supported (did you mean \"sloth.dev/contrib/info_labels/v1\"?)"), "{}", errs[0]);
    assert_eq!(
        errs[1],
        "slo.yaml:7:15: slo_plugins.chain[1].config.labels: at least one label is required"
    );
    assert_eq!(
        errs[2],
        "slo.yaml:9:15: slo_plugins.chain[2].config.interval.default: at least the default interval is required"
    );
    assert!(errs[3].starts_with("slo.yaml:17:20: slos[0].plugins.chain[0].config.disableOptimised: unknown field \"disableOptimised\" (did you mean \"disableOptimized\"?)"), "{}", errs[3]);
    assert_eq!(
        errs[4],
        "slo.yaml:11:5: slos[0].alerting: required field is missing: give alerting.name, or disable both page_alert and ticket_alert"
    );
    assert_eq!(
        errs[5],
        "slo.yaml:16:15: slos[0].plugins.chain[0].id: the denominator corrected rules plugin needs an events SLI"
    );
}

#[test]
fn override_chains_run_only_their_plugins() {
    let text = r#"version: prometheus/v1
service: svc
slo_plugins:
  overridePrevious: true
  chain:
    - id: sloth.dev/core/sli_rules/v1
      config: {disableOptimized: true}
    - id: sloth.dev/contrib/remove_labels/v1
      priority: 10
      config: {preserveLabels: [team]}
labels: {team: a, other: b}
slos:
  - name: raw-slo
    objective: 99
    sli:
      raw:
        error_ratio_query: sum(rate(errors[{{.window}}])) / sum(rate(total[{{.window}}]))
    alerting: {page_alert: {disable: true}, ticket_alert: {disable: true}}
"#;
    let g = gen_ok(text, &Options::default());
    assert_eq!(g.groups.len(), 1);
    let last = &g.groups[0].rules[7];
    assert_eq!(last.expr, "(sum(rate(errors[30d])) / sum(rate(total[30d])))");
    let keys: Vec<&str> = last.labels.keys().map(String::as_str).collect();
    assert_eq!(keys, ["sloth_id", "sloth_service", "sloth_slo", "sloth_window", "team"]);
}

#[test]
fn custom_windows_set_the_period() {
    let windows = AlertWindows { slo_period_ms: 7 * DAY_MS, ..AlertWindows::default_30d() };
    let opts = Options { windows: Some(windows.clone()), ..Options::default() };
    let g = gen_ok(BASE, &opts);
    assert_eq!(g.slos[0].period_ms, 7 * DAY_MS);
    assert_eq!(g.slos[0].windows, windows);
    let opts = Options { windows: Some(windows), period: Some(30 * DAY_MS), ..Options::default() };
    assert_eq!(
        gen_err(BASE, &opts),
        ["slo.yaml:6:11: slos[0]: the SLO period is 30d but the alert windows given are for 1w"]
    );
}

#[test]
fn duplicate_ids_and_foreign_documents() {
    let text = format!("{BASE}---\n{BASE}---\napiVersion: v1\nkind: ConfigMap\n");
    assert_eq!(
        gen_err(&text, &Options::default()),
        [
            "slo.yaml:38:1: not an SLO spec: expected a Sloth spec (version: prometheus/v1), a Sloth PrometheusServiceLevel (apiVersion: sloth.slok.dev/v1) or an OpenSLO SLO (apiVersion: openslo/v1alpha or openslo/v1)",
            "slo.yaml:25:11: slos[0].name: SLO ID \"svc-avail\" is repeated (first defined at line 6, column 11)",
        ]
    );
    let mut opts = Options::default();
    opts.extra_labels.insert("__name__".into(), "x".into());
    assert_eq!(
        gen_err(BASE, &opts),
        [
            "slo.yaml:1:1: extra_labels.__name__: extra label: the label name \"__name__\" is not allowed"
        ]
    );
}

#[test]
fn headers_and_document_separators() {
    let text = BASE.replace("svc", "one") + "---\n" + &BASE.replace("svc", "two");
    let opts = Options { disable_alerts: true, info_version: "1.2.3".into(), ..Options::default() };
    let g = gen_ok(&text, &opts);
    let plain = render_generated(&g, &opts);
    assert_eq!(plain.matches("\n---\n").count(), 1);
    assert!(plain.starts_with("groups:\n"));
    let opts = Options { header: true, ..opts };
    let with_header = render_generated(&g, &opts);
    assert!(with_header.starts_with(
        "\n---\n# Code generated by andon (1.2.3) from a Sloth-compatible SLO spec.\n# DO NOT EDIT.\n\ngroups:\n"
    ));
    assert!(with_header.contains("      sloth_version: 1.2.3\n"));
    assert_eq!(render(&g.documents[0].groups, &opts), with_header[..with_header.len() / 2]);
}
