//! Malformed manifests and the exact diagnostics each must produce; shared by the
//! spec tests (`andon lint`) and the API tests (problem documents).
#![allow(dead_code)]

pub const SVC: &str = "apiVersion: andon.dev/v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  command: [andon-demo]\n";

pub fn svc_with(extra: &str) -> String {
    format!("{SVC}{extra}")
}

pub const SCFG: &str =
    "apiVersion: andon.dev/v1\nkind: ScrapeConfig\nmetadata:\n  name: node\nspec:\n";

pub fn scfg_with(extra: &str) -> String {
    format!("{SCFG}{extra}")
}

pub fn cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let bomb = {
        let mut s = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (i, c) in "bcdefghij".chars().enumerate() {
            let prev = (b'a' + i as u8) as char;
            s.push_str(&format!("{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        s
    };
    let mut big = svc_with("  args:\n");
    while big.len() < 50 * 1024 * 1024 {
        big.push_str("  - xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
    }
    vec![
        ("unclosed flow sequence", b"apiVersion: andon.dev/v1\nkind: Service\nmetadata: {name: [api\n".to_vec(),
            "in.yaml:4:1: invalid YAML: while parsing a flow sequence, expected ',' or ']'"),
        ("tab indentation", b"apiVersion: andon.dev/v1\nkind: Service\nmetadata:\n\tname: api\n".to_vec(),
            "in.yaml:4:2: invalid YAML: tabs disallowed within this context (block indentation)"),
        ("replicas of wrong type", svc_with("  replicas: three\n").into_bytes(),
            "in.yaml:7:13: spec.replicas: expected an integer, found a string"),
        ("unknown field with suggestion", svc_with("  replica: 3\n").into_bytes(),
            "in.yaml:7:3: spec.replica: unknown field \"replica\" (did you mean \"replicas\"?)"),
        ("unknown top-level field", format!("{SVC}specs: {{}}\n").into_bytes(),
            "in.yaml:7:1: specs: unknown field \"specs\" (did you mean \"spec\"?)"),
        ("duplicate names in one apply", format!("{SVC}---\n{SVC}").into_bytes(),
            "in.yaml:8:1: metadata.name: duplicate Service default/api in one apply (first defined at in.yaml:1:1)"),
        ("invalid name", SVC.replace("name: api", "name: My_Service").into_bytes(),
            "in.yaml:4:9: metadata.name: \"My_Service\" is not a valid name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')"),
        ("name too long", SVC.replace("name: api", &format!("name: {}", "a".repeat(64))).into_bytes(),
            "in.yaml:4:9: metadata.name: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is 64 characters long; must be no more than 63"),
        ("probe with two handlers", svc_with("  livenessProbe:\n    httpGet: {path: /health, port: 8080}\n    tcpSocket: {port: 8080}\n").into_bytes(),
            "in.yaml:9:5: spec.livenessProbe.tcpSocket: may not specify more than 1 handler type (found httpGet and tcpSocket)"),
        ("probe without handler", svc_with("  readinessProbe: {periodSeconds: 5}\n").into_bytes(),
            "in.yaml:7:19: spec.readinessProbe: must specify a handler type: one of httpGet, tcpSocket, exec, grpc"),
        ("negative replicas", svc_with("  replicas: -1\n").into_bytes(),
            "in.yaml:7:13: spec.replicas: must be greater than or equal to 0, found -1"),
        ("non-UTF-8", b"apiVersion: andon.dev/v1\nkind: Service\nmetadata:\n  name: \xff\xfe\n".to_vec(),
            "in.yaml:4:9: input is not valid UTF-8 (invalid byte at offset 57)"),
        ("50 MB document", big.into_bytes(),
            "in.yaml:1:1: input is 52428852 bytes, more than the limit of 8388608 bytes (8 MiB)"),
        ("deeply nested", deep.into_bytes(),
            "in.yaml:1:65: nesting is deeper than the limit of 64 levels"),
        ("alias bomb", bomb.into_bytes(),
            "in.yaml:6:8: input expands to more than 200000 nodes (aliases are expanded); refusing it"),
        ("missing command", SVC.replace("  command: [andon-demo]\n", "  replicas: 2\n").into_bytes(),
            "in.yaml:6:3: spec.command: required field is missing"),
        ("empty command", SVC.replace("[andon-demo]", "[]").into_bytes(),
            "in.yaml:6:12: spec.command: must name the program to run (at least one element)"),
        ("missing name", SVC.replace("  name: api\n", "  labels: {team: a}\n").into_bytes(),
            "in.yaml:4:3: metadata.name: required field is missing"),
        ("wrong apiVersion", SVC.replace("andon.dev/v1", "apps/v1").into_bytes(),
            "in.yaml:1:13: apiVersion: unsupported apiVersion \"apps/v1\"; expected \"andon.dev/v1\""),
        ("unknown kind", SVC.replace("kind: Service", "kind: Servce").into_bytes(),
            "in.yaml:2:7: kind: unknown kind \"Servce\" (did you mean \"Service\"?); known kinds: Service, Environment, ScrapeConfig, PrometheusRule, PrometheusServiceLevel, AlertmanagerConfig, AnalysisTemplate, ClusterAnalysisTemplate, ErrorBudgetPolicy, Repository"),
        ("port out of range", svc_with("  ports: [{name: http, port: 70000}]\n").into_bytes(),
            "in.yaml:7:30: spec.ports[0].port: must be between 0 and 65535, inclusive, found 70000"),
        ("undefined named probe port", svc_with("  ports: [{name: http, port: 0}]\n  readinessProbe: {httpGet: {path: /health, port: web}}\n").into_bytes(),
            "in.yaml:8:51: spec.readinessProbe.httpGet.port: port name \"web\" is not defined in spec.ports (named ports are: http)"),
        ("duplicate port names", svc_with("  ports: [{name: http, port: 1}, {name: http, port: 2}]\n").into_bytes(),
            "in.yaml:7:41: spec.ports[1].name: duplicate port name \"http\" (also at spec.ports[0])"),
        ("invalid env name", svc_with("  env: [{name: 1BAD, value: x}]\n").into_bytes(),
            "in.yaml:7:16: spec.env[0].name: \"1BAD\" is not a valid environment variable name: must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit"),
        ("env value not a string", svc_with("  env: [{name: VERSION, value: 1.0}]\n").into_bytes(),
            "in.yaml:7:32: spec.env[0].value: expected a string, found a number"),
        ("duplicate env var", svc_with("  env: [{name: A, value: x}, {name: A, value: y}]\n").into_bytes(),
            "in.yaml:7:37: spec.env[1].name: duplicate environment variable \"A\" (also at spec.env[0])"),
        ("bad quantity", svc_with("  resources: {limits: {memory: 256MB}}\n").into_bytes(),
            "in.yaml:7:32: spec.resources.limits.memory: \"256MB\" is not a valid quantity: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (e.g. 128974848, 129e6, 129M, 123Mi, 500m)"),
        ("request above limit", svc_with("  resources: {limits: {cpu: 500m}, requests: {cpu: '1'}}\n").into_bytes(),
            "in.yaml:7:46: spec.resources.requests.cpu: must be less than or equal to cpu limit of 500m"),
        ("unknown resource", svc_with("  resources: {limits: {gpu: 1}}\n").into_bytes(),
            "in.yaml:7:24: spec.resources.limits.gpu: unknown field \"gpu\" (did you mean \"cpu\"?)"),
        ("liveness success threshold", svc_with("  livenessProbe: {exec: {command: [check]}, successThreshold: 2}\n").into_bytes(),
            "in.yaml:7:63: spec.livenessProbe.successThreshold: must be 1 for liveness and startup probes"),
        ("invalid label value", SVC.replace("  name: api\n", "  name: api\n  labels: {team: -x}\n").into_bytes(),
            "in.yaml:5:18: metadata.labels.team: \"-x\" is not a valid label value: must be 63 characters or less, empty or consisting of alphanumeric characters, '-', '_' or '.', and start and end with an alphanumeric character"),
        ("invalid namespace", SVC.replace("  name: api\n", "  name: api\n  namespace: Team_A\n").into_bytes(),
            "in.yaml:5:14: metadata.namespace: \"Team_A\" is not a valid name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')"),
        ("duplicate key", svc_with("  replicas: 1\n  replicas: 2\n").into_bytes(),
            "in.yaml:8:3: duplicate key \"replicas\" (first defined at line 7, column 3)"),
        ("document is a string", b"just a string\n".to_vec(),
            "in.yaml:1:1: expected a mapping, found a string"),
        ("negative period", svc_with("  readinessProbe: {tcpSocket: {port: 80}, periodSeconds: -5}\n").into_bytes(),
            "in.yaml:7:58: spec.readinessProbe.periodSeconds: must be greater than or equal to 0, found -5"),
        ("bad scheme", svc_with("  readinessProbe: {httpGet: {port: 80, scheme: FTP}}\n").into_bytes(),
            "in.yaml:7:48: spec.readinessProbe.httpGet.scheme: unsupported value \"FTP\": supported values: \"HTTP\", \"HTTPS\""),
        ("probe field typo", svc_with("  readinessProbe: {tcpSocket: {port: 80}, initialDelay: 5}\n").into_bytes(),
            "in.yaml:7:43: spec.readinessProbe.initialDelay: unknown field \"initialDelay\" (did you mean \"initialDelaySeconds\"?)"),
        ("approval not a boolean", b"apiVersion: andon.dev/v1\nkind: Environment\nmetadata: {name: production}\nspec: {requiresApproval: yes}\n".to_vec(),
            "in.yaml:4:26: spec.requiresApproval: expected a boolean (true or false), found a string"),
        ("several problems at once", svc_with("  replicas: -2\n  ports: [{port: 99999}]\n  terminationGracePeriodSeconds: -1\n  imagePullPolicy: Always\n").into_bytes(),
            "in.yaml:10:3: spec.imagePullPolicy: unknown field \"imagePullPolicy\"; expected one of: replicas, command, args, env, workingDir, ports, readinessProbe, livenessProbe, startupProbe, resources, terminationGracePeriodSeconds, image, strategy, minReadySeconds, progressDeadlineSeconds, paused, restartedAt, autoscaling\nin.yaml:7:13: spec.replicas: must be greater than or equal to 0, found -2\nin.yaml:8:18: spec.ports[0].port: must be between 0 and 65535, inclusive, found 99999\nin.yaml:9:34: spec.terminationGracePeriodSeconds: must be greater than or equal to 0, found -1"),
        ("unsupported tag", svc_with("  args: [!!binary aGVsbG8=]\n").into_bytes(),
            "in.yaml:7:10: unsupported YAML tag !!binary"),
        ("duplicate across kinds ok, same kind twice in a List", b"apiVersion: andon.dev/v1\nkind: List\nitems:\n- {apiVersion: andon.dev/v1, kind: Environment, metadata: {name: a}}\n- {apiVersion: andon.dev/v1, kind: Environment, metadata: {name: a}, spec: {bogus: 1}}\n".to_vec(),
            "in.yaml:5:77: items[1].spec.bogus: unknown field \"bogus\"; expected one of: description, requiresApproval"),
        ("scrape target without a port", scfg_with("  staticConfigs: [{targets: ['example.org']}]\n").into_bytes(),
            "in.yaml:6:30: spec.staticConfigs[0].targets[0]: \"example.org\" is not a host:port address"),
        ("scrape interval not a duration", scfg_with("  scrapeInterval: often\n").into_bytes(),
            "in.yaml:6:19: spec.scrapeInterval: \"often\" is not a positive duration (like 15s, 1m)"),
        ("scrape timeout over the interval", scfg_with("  scrapeInterval: 10s\n  scrapeTimeout: 1m\n").into_bytes(),
            "in.yaml:7:18: spec.scrapeTimeout: must not be greater than scrapeInterval"),
        ("metrics path without a slash", scfg_with("  metricsPath: metrics\n").into_bytes(),
            "in.yaml:6:16: spec.metricsPath: must start with /"),
        ("https scrapes", scfg_with("  scheme: https\n").into_bytes(),
            "in.yaml:6:11: spec.scheme: unsupported scheme \"https\"; only http is supported"),
        ("unknown relabel action", scfg_with("  relabelings: [{action: rename}]\n").into_bytes(),
            "in.yaml:6:17: spec.relabelings[0]: unknown relabel action \"rename\""),
        ("hashmod without modulus", scfg_with("  relabelings: [{action: hashmod, targetLabel: shard}]\n").into_bytes(),
            "in.yaml:6:17: spec.relabelings[0]: relabel configuration for hashmod requires non-zero modulus"),
        ("canary weight over 100", svc_with("  strategy: {canary: {steps: [{setWeight: 20}, {setWeight: 120}]}}\n").into_bytes(), "in.yaml:7:60: spec.strategy.canary.steps[1].setWeight: must be between 0 and 100, found 120"),
        ("unknown canary step", svc_with("  strategy:\n    canary:\n      steps:\n      - setWieght: 20\n").into_bytes(), "in.yaml:10:9: spec.strategy.canary.steps[0].setWieght: unknown field \"setWieght\" (did you mean \"setWeight\"?)"),
        ("header route without a name", svc_with("  strategy:\n    canary:\n      steps:\n      - setHeaderRoute: {match: [{headerName: x-beta, headerValue: {exact: 'yes'}}]}\n").into_bytes(), "in.yaml:10:25: spec.strategy.canary.steps[0].setHeaderRoute.name: required field is missing"),
        ("a step doing two things", svc_with("  strategy: {canary: {steps: [{setWeight: 20, pause: {}}]}}\n").into_bytes(), "in.yaml:7:31: spec.strategy.canary.steps[0]: a step does one of setWeight, pause and analysis; found setWeight and pause"),
        ("rolling update that cannot move", svc_with("  strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 0%}}\n").into_bytes(), "in.yaml:7:59: spec.strategy.rollingUpdate.maxUnavailable: may not be 0 when maxSurge is 0: nothing could be replaced"),
        ("two strategies", svc_with("  strategy: {recreate: {}, blueGreen: {}}\n").into_bytes(), "in.yaml:7:13: spec.strategy: must give only one strategy, found recreate and blueGreen"),
        ("analysis without templates", svc_with("  strategy: {canary: {steps: [{analysis: {templates: []}}]}}\n").into_bytes(), "in.yaml:7:54: spec.strategy.canary.steps[0].analysis.templates: must name at least one analysis template"),
        ("analysis template with an unsupported provider", b"apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: t}\nspec:\n  metrics:\n  - name: m\n    provider: {datadog: {query: q}}\n".to_vec(), "in.yaml:7:16: spec.metrics[0].provider.datadog: provider \"datadog\" is not supported by andon; use prometheus, web, job or slo"),
        ("analysis metric counting without an interval", b"apiVersion: andon.dev/v1\nkind: AnalysisTemplate\nmetadata: {name: t}\nspec:\n  metrics:\n  - name: m\n    count: 3\n    provider: {prometheus: {query: up}}\n".to_vec(), "in.yaml:7:12: spec.metrics[0].count: more than one measurement needs an interval"),
        ("restartedAt that is not a time", svc_with("  restartedAt: yesterday\n").into_bytes(),
            "in.yaml:7:16: spec.restartedAt: \"yesterday\" is not an RFC 3339 time"),
        ("error-budget policy with a threshold over 100%", b"apiVersion: andon.dev/v1\nkind: ErrorBudgetPolicy\nmetadata: {name: p}\nspec:\n  slo: shop-availability\n  freezeRolloutsBelow: 150%\n".to_vec(),
            "in.yaml:6:24: spec.freezeRolloutsBelow: must be a percentage from 0 to 100, such as 10% or 25"),
        ("error-budget policy without an SLO", b"apiVersion: andon.dev/v1\nkind: ErrorBudgetPolicy\nmetadata: {name: p}\nspec:\n  freezeRolloutsBelow: 10%\n".to_vec(),
            "in.yaml:5:3: spec.slo: required field is missing"),
        ("negative sample limit", scfg_with("  sampleLimit: -1\n").into_bytes(),
            "in.yaml:6:16: spec.sampleLimit: must be greater than or equal to 0, found -1"),
    ]
}
