//! The UI in a real headless Chromium driven over WebDriver (chromedriver): the overview
//! loads, a resource applied through the API appears in the live feed without a reload,
//! and every navigation link leads to a working page.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use andon_cli::client::Client;
use common::*;
use hyper::Method;
use serde_json::{Value, json};

struct Driver {
    child: Child,
    client: Client,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Option<Driver> {
        let chromedriver =
            program("ANDON_TEST_CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver")?;
        let chromium = program("ANDON_TEST_CHROMIUM", "/usr/bin/chromium", "chromium")?;
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let client = Client::new(&format!("http://127.0.0.1:{port}")).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while client.get_json("/status").await.map(|s| s["value"]["ready"] != true).unwrap_or(true)
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ]}
        }}});
        let mut d = Driver { child, client, session: String::new(), _profile: profile };
        let v = d.call(Method::POST, "/session", Some(caps)).await;
        d.session = v["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {v}")).to_owned();
        Some(d)
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
        let v = self
            .client
            .json(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("webdriver {path}: {e}"));
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(
            Method::POST,
            &format!("/session/{}/url", self.session),
            Some(json!({"url": url})),
        )
        .await;
    }

    async fn script(&self, js: &str) -> Value {
        self.call(
            Method::POST,
            &format!("/session/{}/execute/sync", self.session),
            Some(json!({"script": js, "args": []})),
        )
        .await
    }

    /// Polls a script until it returns something other than null/false.
    async fn wait_for(&self, js: &str, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let v = self.script(js).await;
            if !v.is_null() && v != false {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn the_overview_shows_applied_resources_live_without_a_reload() {
    let Some(d) = Driver::start().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let a = Andon::start(&tmp.path().join("data"));
    let file = tmp.path().join("env.yaml");
    std::fs::write(
        &file,
        "apiVersion: andon.dev/v1\nkind: Environment\nmetadata: {name: staging}\n",
    )
    .unwrap();
    a.cli(&["apply", "-f", file.to_str().unwrap()]);

    d.goto(&format!("{}/", a.url)).await;
    assert_eq!(d.script("return document.title").await, "Overview · andon");
    d.wait_for(
        "return document.getElementById('live').textContent === 'live'",
        "the live feed to connect",
    )
    .await;
    let first = d.script("return document.querySelector('#feed tr').innerText").await;
    assert!(first.as_str().unwrap().contains("Environment/default/staging"), "{first}");
    d.script("window.__noReload = 42; return true").await;

    let (status, _) =
        request(&a.client(), Method::POST, "/api/v1/apply", Some(SERVICE.as_bytes().to_vec()))
            .await;
    assert_eq!(status, 200);
    let row = d
        .wait_for(
            "var r = Array.from(document.querySelectorAll('#feed tr')).find(r => r.innerText.indexOf('Service/default/api') >= 0 && r.innerText.indexOf('resource.created') >= 0); return r ? r.innerText : null",
            "the applied service to appear in the feed",
        )
        .await;
    assert!(row.as_str().unwrap().contains("resource.created"), "{row}");
    assert_eq!(d.script("return window.__noReload").await, 42, "the page was not reloaded");
    assert_eq!(
        d.script("return document.querySelector('[data-count=Service]').textContent").await,
        "1"
    );

    // Every navigation link leads to a page that renders (no placeholders, no errors).
    let links = d.script("return Array.from(document.querySelectorAll('nav a')).map(a => a.getAttribute('href'))").await;
    let links: Vec<String> =
        links.as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_owned()).collect();
    assert_eq!(
        links,
        [
            "/",
            "/ui/services",
            "/ui/environments",
            "/ui/scrapeconfigs",
            "/ui/prometheusrules",
            "/ui/prometheusservicelevels",
            "/ui/alertmanagerconfigs",
            "/ui/analysistemplates",
            "/ui/clusteranalysistemplates",
            "/ui/errorbudgetpolicies",
            "/ui/repositories",
            "/ui/metrics",
            "/ui/alerts",
            "/ui/slos",
            "/ui/rollouts",
            "/ui/pipelines",
            "/ui/events"
        ]
    );
    let labels = d.script("return Array.from(document.querySelectorAll('nav a')).map(a => a.textContent).join(',')").await;
    assert!(labels.as_str().unwrap().contains(",ErrorBudgetPolicies,"), "{labels}");
    for (href, title) in [
        ("/ui/services", "Services"),
        ("/ui/environments", "Environments"),
        ("/ui/repositories", "Repositories"),
        ("/ui/pipelines", "Pipelines"),
        ("/ui/events", "Events"),
    ] {
        d.goto(&format!("{}{href}", a.url)).await;
        assert_eq!(
            d.script("return document.querySelector('h1').firstChild.textContent.trim()").await,
            title
        );
    }
    d.goto(&format!("{}/ui/services/default/api", a.url)).await;
    let spec = d
        .script(
            "return Array.from(document.querySelectorAll('pre')).map(p => p.innerText).join('\\n')",
        )
        .await;
    assert!(spec.as_str().unwrap().contains("replicas: 2"), "{spec}");
    // The service page shows its instances and follows their logs live.
    d.wait_for(
        "return document.querySelectorAll('tr[data-instance]').length === 2",
        "two instances listed",
    )
    .await;
    d.wait_for(
        "return document.getElementById('logs').innerText.indexOf('listening on 127.0.0.1:') >= 0",
        "the instances' logs",
    )
    .await;
    d.goto(&format!("{}/ui/services", a.url)).await;
    let row = d.script("return document.querySelector('tbody tr').innerText").await;
    assert!(row.as_str().unwrap().contains("api") && row.as_str().unwrap().contains("/2"), "{row}");
    // The Rollouts page steers a rollout: its Abort button sends all traffic to stable.
    let canary = "apiVersion: andon.dev/v1\nkind: Service\nmetadata: {name: canary}\nspec:\n  command: [andon-demo]\n  ports: [{name: http, port: 0}]\n  readinessProbe: {httpGet: {path: /health, port: http}, periodSeconds: 1}\n  strategy:\n    canary:\n      steps: [{setWeight: 50}, {pause: {}}]\n";
    request(&a.client(), Method::POST, "/api/v1/apply", Some(canary.as_bytes().to_vec())).await;
    d.goto(&format!("{}/ui/rollouts", a.url)).await;
    d.wait_for(
        "return document.body.innerText.indexOf('default/canary') >= 0",
        "the canary listed on the Rollouts page",
    )
    .await;
    let o = a.cli(&["set", "env", "canary", "VERSION=2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        d.goto(&format!("{}/ui/rollouts/default/canary", a.url)).await;
        let text = d.script("return document.body.innerText").await;
        if text.as_str().unwrap().contains("Paused") {
            assert!(text.as_str().unwrap().contains("weight 50%"), "{text}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the rollout did not pause: {text}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    d.script("document.querySelector('button[data-action=abort]').click(); return true").await;
    d.wait_for(
        "return document.body.innerText.indexOf('Degraded') >= 0",
        "the aborted rollout after the page reloads",
    )
    .await;
    // The Alerts page silences a firing alert (every label matched) and expires the
    // silence again; both are recorded with the UI as actor.
    let rules = "groups:\n- name: ui\n  interval: 1s\n  rules:\n  - alert: AlwaysOn\n    expr: vector(1)\n    labels: {team: web}\n";
    request(&a.client(), Method::POST, "/api/v1/apply", Some(rules.as_bytes().to_vec())).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        d.goto(&format!("{}/ui/alerts", a.url)).await;
        let n = d
            .script("return document.querySelectorAll('tr.firing button[data-silence]').length")
            .await;
        if n == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "AlwaysOn never listed as firing");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    d.script("document.querySelector('tr.firing input[name=duration]').value = '45m'; document.querySelector('tr.firing input[name=comment]').value = 'known issue'; document.querySelector('tr.firing button[data-silence]').click(); return true").await;
    d.wait_for(
        "return document.querySelectorAll('tr[data-silence-id]').length === 1",
        "the new silence listed after the page reloads",
    )
    .await;
    let row = d.script("return document.querySelector('tr[data-silence-id]').innerText").await;
    let row = row.as_str().unwrap();
    assert!(row.contains("alertname=\"AlwaysOn\"") && row.contains("team=\"web\""), "{row}");
    assert!(row.contains("active") && row.contains("known issue") && row.contains("ui"), "{row}");
    let (_, silences) =
        request(&a.client(), Method::GET, "/alertmanager/api/v2/silences", None).await;
    let s0 = &silences[0];
    let span = andon_core::Timestamp::parse_rfc3339(s0["endsAt"].as_str().unwrap())
        .unwrap()
        .millis()
        - andon_core::Timestamp::parse_rfc3339(s0["startsAt"].as_str().unwrap()).unwrap().millis();
    assert!((span - 45 * 60_000).abs() < 5_000, "45 minutes: {s0}");
    d.script("document.querySelector('button[data-expire]').click(); return true").await;
    d.wait_for(
        "return document.body.innerText.indexOf('No active silence.') >= 0",
        "the silence gone after expiring it",
    )
    .await;
    let (_, silences) =
        request(&a.client(), Method::GET, "/alertmanager/api/v2/silences", None).await;
    assert_eq!(silences[0]["status"]["state"], "expired", "{silences}");
    let shot = d.call(Method::GET, &format!("/session/{}/screenshot", d.session), None).await;
    assert!(shot.as_str().is_some_and(|s| s.len() > 1000), "a screenshot was taken");
    d.call(Method::DELETE, &format!("/session/{}", d.session), None).await;
}

#[tokio::test]
async fn the_pipelines_page_follows_a_run_live() {
    let Some(d) = Driver::start().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let origin = tmp.path().join("origin");
    let gate = tmp.path().join("gate");
    std::fs::create_dir_all(origin.join(".github/workflows")).unwrap();
    std::fs::write(
        origin.join(".github/workflows/ci.yml"),
        "name: CI\non: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          echo compiling\n          while [ ! -f \"${{ vars.GATE }}\" ]; do sleep 0.1; done\n          echo compiled\n  test:\n    needs: build\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo '## All green' >> \"$GITHUB_STEP_SUMMARY\"\n",
    )
    .unwrap();
    let git = |script: &str| {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(&origin)
            .env("GIT_AUTHOR_NAME", "Ada")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .status()
            .unwrap()
            .success();
        assert!(ok, "{script}");
    };
    git("git init -q -b main . && git add -A && git commit -q -m 'Gated build'");
    let a = Andon::start(&tmp.path().join("data"));
    let repo = format!(
        "apiVersion: andon.dev/v1\nkind: Repository\nmetadata: {{name: app}}\nspec:\n  url: {}\n  pollInterval: 0s\n  vars: {{GATE: {}}}\n",
        origin.display(),
        gate.display()
    );
    let (s, v) = request(&a.client(), Method::POST, "/api/v1/apply", Some(repo.into_bytes())).await;
    assert_eq!(s, 200, "{v}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while request(&a.client(), Method::GET, "/api/v1/runs/1", None).await.0 != 200 {
        assert!(Instant::now() < deadline, "no run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The run page follows the log live and shows the graph: test waits on build.
    d.goto(&format!("{}/ui/pipelines/1", a.url)).await;
    d.wait_for(
        "return document.getElementById('run-logs').textContent.indexOf('[build]   compiling') >= 0",
        "the live log to show the first line",
    )
    .await;
    let test_node =
        d.script("return document.querySelector('.node[data-job=test]').innerText").await;
    assert!(test_node.as_str().unwrap().contains("needs build"), "{test_node}");
    assert!(test_node.as_str().unwrap().contains("waiting"), "{test_node}");
    assert_eq!(
        d.script("return document.querySelector('button[data-run-action=rerun]').disabled").await,
        true
    );
    // The build goes on: the log, graph and summary follow without a reload.
    std::fs::write(&gate, "").unwrap();
    d.wait_for(
        "return document.querySelector('.summary h2') && document.querySelector('.summary h2').textContent === 'All green'",
        "the test job's summary rendered",
    )
    .await;
    d.wait_for(
        "return document.querySelector('.node[data-job=test] .badge.ok') !== null && document.querySelector('button[data-run-action=rerun]').disabled === false",
        "the graph and buttons to show the finished run",
    )
    .await;
    d.wait_for(
        "return document.getElementById('run-logs').textContent.indexOf('[build]   compiled') >= 0",
        "the rest of the log",
    )
    .await;
    // Re-run: the new run's page opens.
    d.script("document.querySelector('button[data-run-action=rerun]').click(); return true").await;
    d.wait_for("return location.pathname === '/ui/pipelines/2'", "the new run's page").await;
    d.goto(&format!("{}/ui/pipelines", a.url)).await;
    let rows = d.wait_for(
        "var r = document.querySelectorAll('#runs tbody tr'); return r.length === 2 ? document.getElementById('runs').innerText : null",
        "both runs listed",
    )
    .await;
    let rows = rows.as_str().unwrap();
    assert!(
        rows.contains("default/app #2") && rows.contains("Gated build") && rows.contains("Ada"),
        "{rows}"
    );
    // "Run workflow" says why a workflow that does not run on workflow_dispatch cannot.
    d.script("var f = document.getElementById('dispatch'); f.elements.workflow.value = 'ci.yml'; f.querySelector('button').click(); return true").await;
    let why = d
        .wait_for(
            "var p = document.getElementById('dispatch-result'); return p.className === 'bad' ? p.textContent : null",
            "the dispatch's answer",
        )
        .await;
    assert_eq!(why, ".github/workflows/ci.yml does not run on workflow_dispatch");
    d.call(Method::DELETE, &format!("/session/{}", d.session), None).await;
}
