//! Pipelines on the server through the real binary: a `Repository` watched for new
//! commits (first look, push hooks in git's post-receive and GitHub's forms, branch
//! filters), the runs stored with jobs, steps, logs, summaries and artifacts, the
//! `andon runs` commands, cancel and rerun, an invalid workflow file, concurrency
//! groups, and `kill -9` of the server in the middle of a run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use andon_cli::client::Client;
use common::services::alive;
use common::*;
use hyper::Method;
use serde_json::Value;

/// Runs a shell script in `dir` as a fixed author (and committer).
fn sh(dir: &Path, script: &str) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Grace Hopper")
        .env("GIT_AUTHOR_EMAIL", "grace@example.com")
        .env("GIT_COMMITTER_NAME", "Grace Hopper")
        .env("GIT_COMMITTER_EMAIL", "grace@example.com")
        .env("GIT_COMMITTER_DATE", "2026-03-04T05:06:07Z")
        .output()
        .unwrap();
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn repository(name: &str, url: &Path, extra: &str) -> String {
    format!(
        "apiVersion: andon.dev/v1\nkind: Repository\nmetadata:\n  name: {name}\nspec:\n  url: {}\n  pollInterval: 0s\n{extra}",
        url.display()
    )
}

/// A GitHub-style webhook delivery (with its `X-GitHub-Event` header): the raw answer.
fn github_hook(url: &str, event: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /api/v1/repositories/app/hooks/push HTTP/1.1\r\nHost: {addr}\r\nX-GitHub-Event: {event}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

async fn apply(c: &Client, yaml: &str) {
    let (s, v) = request(c, Method::POST, "/api/v1/apply", Some(yaml.as_bytes().to_vec())).await;
    assert_eq!(s, 200, "{v}");
}

/// Waits until run `id` satisfies `pred`.
async fn wait_run(c: &Client, id: u64, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        let (s, v) = request(c, Method::GET, &format!("/api/v1/runs/{id}"), None).await;
        if s == 200 && pred(&v) {
            return v;
        }
        last = v;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {id}: {what} did not happen; last: {last}");
}

async fn finished(c: &Client, id: u64) -> Value {
    wait_run(c, id, "finish", |v| v["status"] == "completed").await
}

const CI: &str = r#"name: CI
on:
  push:
    branches: [main, 'release/**']
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "building $(cat VERSION)"
      - run: echo "token ${{ secrets.DEPLOY_TOKEN }} has ${#T} characters"
        env: {T: "${{ secrets.DEPLOY_TOKEN }}"}
      - run: mkdir dist && cp VERSION dist/app.txt
      - uses: actions/upload-artifact@v4
        with: {name: dist, path: dist/}
  test:
    needs: build
    strategy:
      matrix: {shard: [1, 2]}
    runs-on: ubuntu-latest
    steps:
      - run: echo "shard ${{ matrix.shard }} for ${{ vars.TEAM }}"
  report:
    needs: test
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "**Report**" >> "$GITHUB_STEP_SUMMARY"
          echo "| job | result |" >> "$GITHUB_STEP_SUMMARY"
          echo "|---|---|" >> "$GITHUB_STEP_SUMMARY"
          echo "| test | ${{ needs.test.result }} |" >> "$GITHUB_STEP_SUMMARY"
"#;

const PR_ONLY: &str = "on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo never\n";

#[tokio::test]
async fn pushed_commits_run_their_workflows_on_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = tmp.path().join("origin");
    std::fs::create_dir_all(origin.join(".github/workflows")).unwrap();
    std::fs::write(origin.join(".github/workflows/ci.yml"), CI).unwrap();
    std::fs::write(origin.join(".github/workflows/pr.yml"), PR_ONLY).unwrap();
    std::fs::write(origin.join("VERSION"), "1.0.0\n").unwrap();
    sh(&origin, "git init -q -b main . && git add -A && git commit -q -m 'First release'");
    let first = sh(&origin, "git rev-parse HEAD");
    let a = Andon::start(&tmp.path().join("data"));
    let c = a.client();
    let secrets = tmp.path().join("app.env");
    std::fs::write(&secrets, "# deploy credentials\nDEPLOY_TOKEN=\"tk-9f8e7d6c\"\n").unwrap();
    let extra = format!("  vars: {{TEAM: platform}}\n  secretsFile: {}\n", secrets.display());
    apply(&c, &repository("app", &origin, &extra)).await;

    // The first look at the repository runs its branches' heads.
    let run = finished(&c, 1).await;
    assert_eq!(run["conclusion"], "success", "{run}");
    assert_eq!(run["repository"], "default/app");
    assert_eq!((run["sha"].as_str(), run["branch"].as_str()), (Some(first.as_str()), Some("main")));
    assert_eq!(
        (run["author"].as_str(), run["commitTime"].as_i64()),
        (Some("Grace Hopper"), Some(1_772_600_767))
    );
    assert_eq!(run["workflowName"], "CI");
    let jobs: Vec<(String, String)> = run["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (j["name"].as_str().unwrap().to_string(), j["conclusion"].as_str().unwrap().to_string())
        })
        .collect();
    let mut sorted = jobs.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            ("build", "success"),
            ("report", "success"),
            ("test (1)", "success"),
            ("test (2)", "success")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(run["graph"][2]["needs"], serde_json::json!(["test"]));
    assert_eq!(run["jobs"][0]["steps"].as_array().unwrap().len(), 5, "{run}");
    assert!(run["summaries"]["report"].as_str().unwrap().contains("| test | success |"), "{run}");
    let files = &run["artifacts"][0];
    assert_eq!(
        (files["name"].as_str(), files["files"][0]["path"].as_str()),
        (Some("dist"), Some("app.txt"))
    );
    let (s, body) = request(&c, Method::GET, "/api/v1/runs/1/artifacts/dist/app.txt", None).await;
    assert_eq!((s, body.as_str()), (200, Some("1.0.0\n")));
    // The pull_request-only workflow did not run: one run in all.
    let (_, list) = request(&c, Method::GET, "/api/v1/runs", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");

    // The CLI: list, show, logs.
    let o = a.cli(&["runs", "list"]);
    let text = stdout(&o);
    assert!(
        text.contains("default/app #1") && text.contains(&first[..7]) && text.contains("success"),
        "{text}"
    );
    let o = a.cli(&["runs", "show", "1"]);
    let text = stdout(&o);
    assert!(
        text.contains("push on main at")
            && text.contains("Grace Hopper <grace@example.com>: First release"),
        "{text}"
    );
    assert!(
        text.contains("  Run echo \"building $(cat VERSION)\"")
            && text.contains("dist (1 files, 6 bytes)"),
        "{text}"
    );
    let o = a.cli(&["runs", "logs", "1", "--job", "build"]);
    let text = stdout(&o);
    assert!(text.contains("[build]   token *** has 11 characters"), "the secret is masked: {text}");
    assert!(!text.contains("tk-9f8e7d6c"), "{text}");
    let (_, stored) = request(&c, Method::GET, "/api/v1/repositories/app", None).await;
    assert!(!stored.to_string().contains("tk-9f8e7d6c"), "{stored}");
    let o = a.cli(&["runs", "logs", "1", "--job", "test"]);
    let text = stdout(&o);
    assert!(
        text.contains("[test (1)]   shard 1 for platform")
            && text.contains("[test (2)]   shard 2 for platform"),
        "{text}"
    );
    assert!(!text.contains("building 1.0.0"), "--job test shows only the test jobs: {text}");

    // Every transition is journaled with the commit's sha, author and time.
    let (_, ev) = request(&c, Method::GET, "/api/v1/events?limit=1000", None).await;
    let pipeline: Vec<&Value> = ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"].as_str().unwrap().starts_with("pipeline."))
        .collect();
    let kinds: Vec<&str> = pipeline.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for k in [
        "pipeline.push",
        "pipeline.run.queued",
        "pipeline.run.started",
        "pipeline.job.started",
        "pipeline.step.completed",
        "pipeline.job.completed",
        "pipeline.run.completed",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    for e in &pipeline {
        assert_eq!(e["subject"], "Repository/default/app");
        assert_eq!(
            (e["data"]["sha"].as_str(), e["data"]["author"].as_str()),
            (Some(first.as_str()), Some("Grace Hopper")),
            "{e}"
        );
        assert_eq!(e["data"]["commitTime"], 1_772_600_767, "{e}");
    }

    // A post-receive hook: a push to a filtered-out branch runs nothing, one to main runs.
    sh(
        &origin,
        "git checkout -q -b feature && echo f > f.txt && git add -A && git commit -q -m feature",
    );
    sh(
        &origin,
        "git checkout -q main && echo 1.1.0 > VERSION && git commit -q -am 'Version 1.1.0'",
    );
    let second = sh(&origin, "git rev-parse HEAD");
    let hook = format!(
        "{first} {second} refs/heads/main\n0000000000000000000000000000000000000000 {} refs/heads/feature\n",
        sh(&origin, "git rev-parse feature")
    );
    let (s, v) =
        request(&c, Method::POST, "/api/v1/repositories/app/hooks/push", Some(hook.into_bytes()))
            .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["runs"], serde_json::json!([2]), "{v}");
    // `runs logs -f` follows the run to its end and exits with its result.
    let o = a.cli(&["runs", "logs", "-f", "2"]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", stderr(&o));
    assert!(text.contains("building 1.1.0") && text.ends_with("run 2: success\n"), "{text}");
    let run2 = finished(&c, 2).await;
    assert_eq!(
        (run2["sha"].as_str(), run2["before"].as_str()),
        (Some(second.as_str()), Some(first.as_str()))
    );
    assert_eq!(run2["actor"], "tester", "the hook's Andon-Actor");
    // Nothing new: the same hook again runs nothing.
    let (s, v) =
        request(&c, Method::POST, "/api/v1/repositories/app/hooks/push", Some(Vec::new())).await;
    assert_eq!((s, &v["runs"]), (200, &serde_json::json!([])), "{v}");

    // GitHub's webhook: ping answered, a push payload fetched and run.
    let ping = github_hook(&a.url, "ping", "{\"zen\":\"Design for failure.\",\"hook_id\":1}");
    assert!(ping.starts_with("HTTP/1.1 200") && ping.ends_with("{\"ok\":true}"), "{ping}");
    let other = github_hook(&a.url, "issues", "{}");
    assert!(other.ends_with("{\"ignored\":\"issues events are not handled\"}"), "{other}");
    sh(
        &origin,
        "git checkout -q -b release/2.0 && echo 2.0.0 > VERSION && git commit -q -am 'Release 2.0'",
    );
    let payload = format!(
        "{{\"ref\":\"refs/heads/release/2.0\",\"before\":\"{second}\",\"after\":\"{}\"}}",
        sh(&origin, "git rev-parse HEAD")
    );
    let (s, v) = request(
        &c,
        Method::POST,
        "/api/v1/repositories/app/hooks/push",
        Some(payload.into_bytes()),
    )
    .await;
    assert_eq!((s, &v["runs"]), (200, &serde_json::json!([3])), "{v}");
    assert_eq!(finished(&c, 3).await["branch"], "release/2.0");

    // Bad hooks: unknown repository, unreadable body, not a repository.
    let (s, v) =
        request(&c, Method::POST, "/api/v1/repositories/nope/hooks/push", Some(Vec::new())).await;
    assert_eq!((s, v["detail"].as_str()), (404, Some("repository default/nope not found")));
    let (s, v) = request(
        &c,
        Method::POST,
        "/api/v1/repositories/app/hooks/push",
        Some(b"refs/heads/main\n".to_vec()),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["detail"],
        "line 1: expected \"<old-sha> <new-sha> <ref>\" as a post-receive hook reads them"
    );
    let (s, _) =
        request(&c, Method::POST, "/api/v1/services/app/hooks/push", Some(Vec::new())).await;
    assert_eq!(s, 404);

    // An invalid workflow file: a failed run naming the problem's place; nothing runs.
    sh(
        &origin,
        "git checkout -q main && printf 'on: push\\njobs:\\n  a:\\n    runs-on: x\\n    needs: [ghost]\\n    steps: [{run: echo}]\\n' > .github/workflows/bad.yml && git add -A && git commit -q -m 'Bad workflow'",
    );
    let (_, v) =
        request(&c, Method::POST, "/api/v1/repositories/app/hooks/push", Some(Vec::new())).await;
    let ids: Vec<u64> = v["runs"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 2, "ci.yml and bad.yml: {v}");
    let bad = finished(&c, ids[0]).await;
    assert_eq!(
        (bad["conclusion"].as_str(), bad["reason"].as_str()),
        (Some("failure"), Some("invalid workflow file")),
        "{bad}"
    );
    let problems = bad["problems"].as_array().unwrap();
    assert!(problems[0].as_str().unwrap().starts_with(".github/workflows/bad.yml:5:"), "{bad}");
    assert!(bad["jobs"].as_array().unwrap().is_empty());

    // A secrets file that cannot be read fails the run with the reason.
    std::fs::remove_file(&secrets).unwrap();
    let (_, v) = request(
        &c,
        Method::POST,
        "/api/v1/repositories/app/workflows/ci.yml/dispatches",
        Some(Vec::new()),
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("does not run on workflow_dispatch"), "{v}");
    let (_, v) = request(&c, Method::POST, "/api/v1/runs/2/rerun", None).await;
    let run = finished(&c, v["id"].as_u64().unwrap()).await;
    assert_eq!(run["conclusion"], "failure");
    assert!(
        run["reason"]
            .as_str()
            .unwrap()
            .starts_with(&format!("secretsFile: {}: ", secrets.display())),
        "{run}"
    );

    // Bad input: runs that do not exist, ids that are not numbers.
    let (s, v) = request(&c, Method::GET, "/api/v1/runs/99", None).await;
    assert_eq!((s, v["detail"].as_str()), (404, Some("run 99 not found")));
    let (s, _) = request(&c, Method::GET, "/api/v1/runs/x", None).await;
    assert_eq!(s, 400);
    let o = a.cli(&["runs", "cancel", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("run 1 is already success"), "{}", stderr(&o));
    for (doc, field, line, message) in [
        (
            "  url: relative/path\n  pollInterval: soon\n",
            "spec.url",
            5,
            "\"relative/path\" is neither an absolute path nor a URL (https://, ssh://, git://, file://, user@host:path)",
        ),
        (
            "  url: /srv/git/x\n  pollInterval: soon\n",
            "spec.pollInterval",
            6,
            "\"soon\" is not a duration (like 30s, 5m; 0s turns polling off)",
        ),
        (
            "  url: /srv/git/x\n  branches: [main, '[oops']\n",
            "spec.branches[1]",
            6,
            "invalid pattern '[oops': position 5: missing closing bracket ']' after '['",
        ),
        (
            "  url: /srv/git/x\n  branch: [main]\n",
            "spec.branch",
            6,
            "unknown field \"branch\" (did you mean \"branches\"?)",
        ),
        (
            "  url: /srv/git/x\n  secretsFile: secrets.env\n",
            "spec.secretsFile",
            6,
            "\"secrets.env\" is not an absolute path",
        ),
    ] {
        let yaml = format!(
            "apiVersion: andon.dev/v1\nkind: Repository\nmetadata: {{name: r}}\nspec:\n{doc}"
        );
        let (s, v) = request(&c, Method::POST, "/api/v1/apply", Some(yaml.into_bytes())).await;
        assert_eq!(s, 422, "{v}");
        let e = &v["errors"][0];
        assert_eq!((e["field"].as_str(), e["line"].as_i64()), (Some(field), Some(line)), "{v}");
        assert!(e["message"].as_str().unwrap().starts_with(message), "{v}");
    }
    let (_, v) = request(&c, Method::GET, "/api/v1/repositories/r", None).await;
    assert_eq!(v["status"], 404, "nothing stored: {v}");
}

const SLOW: &str = r#"on: push
concurrency: {group: deploy, cancel-in-progress: true}
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - run: |
          sleep 120 &
          echo $! > "$PID_FILE"
          echo "sleeping as $!"
          wait
        env:
          PID_FILE: ${{ vars.PID_DIR }}/${{ github.run_id }}.pid
"#;

fn pid_of(dir: &Path, run: &str) -> Option<u64> {
    std::fs::read_to_string(dir.join(format!("{run}.pid"))).ok()?.trim().parse().ok()
}

async fn wait_gone(pid: u64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while alive(pid) {
        assert!(Instant::now() < deadline, "step process {pid} outlived its run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn cancel_rerun_concurrency_and_a_crash_in_the_middle_of_a_run() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = tmp.path().join("origin");
    let pids = tmp.path().join("pids");
    std::fs::create_dir_all(origin.join(".github/workflows")).unwrap();
    std::fs::create_dir_all(&pids).unwrap();
    std::fs::write(origin.join(".github/workflows/slow.yml"), SLOW).unwrap();
    sh(&origin, "git init -q -b main . && git add -A && git commit -q -m one");
    let data = tmp.path().join("data");
    let mut a = Andon::start(&data);
    let c = a.client();
    apply(&c, &repository("svc", &origin, &format!("  vars: {{PID_DIR: {}}}\n", pids.display())))
        .await;

    // Cancel: the run ends cancelled and its step's processes are gone.
    wait_run(&c, 1, "the step to start", |v| {
        v["jobs"][0]["steps"].as_array().is_some_and(|s| !s.is_empty())
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while pid_of(&pids, "1").is_none() {
        assert!(Instant::now() < deadline, "no pid file");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let o = a.cli(&["runs", "cancel", "1"]);
    assert_eq!(stdout(&o), "run 1 cancelling\n", "{}", stderr(&o));
    let run = finished(&c, 1).await;
    assert_eq!(run["conclusion"], "cancelled", "{run}");
    wait_gone(pid_of(&pids, "1").unwrap()).await;

    // Concurrency group with cancel-in-progress: a newer push cancels the running one.
    sh(&origin, "git commit -q --allow-empty -m two");
    let (_, v) =
        request(&c, Method::POST, "/api/v1/repositories/svc/hooks/push", Some(Vec::new())).await;
    assert_eq!(v["runs"], serde_json::json!([2]));
    wait_run(&c, 2, "start", |v| v["status"] == "in_progress").await;
    sh(&origin, "git commit -q --allow-empty -m three");
    let (_, v) =
        request(&c, Method::POST, "/api/v1/repositories/svc/hooks/push", Some(Vec::new())).await;
    assert_eq!(v["runs"], serde_json::json!([3]));
    assert_eq!(finished(&c, 2).await["conclusion"], "cancelled");
    wait_run(&c, 3, "start after run 2 ended", |v| v["status"] == "in_progress").await;
    let o = a.cli(&["runs", "cancel", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(finished(&c, 3).await["conclusion"], "cancelled");

    // Rerun: the same commit and workflow as the next attempt.
    let o = a.cli(&["runs", "rerun", "1"]);
    assert_eq!(stdout(&o), "run 4 queued (attempt 2 of run 1)\n", "{}", stderr(&o));
    let run4 = wait_run(&c, 4, "its step to print", |v| v["status"] == "in_progress").await;
    assert_eq!((run4["sha"].as_str(), run4["rerunOf"].as_u64()), (run["sha"].as_str(), Some(1)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while pid_of(&pids, "4").is_none() {
        assert!(Instant::now() < deadline, "no pid file for run 4");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let step_pid = pid_of(&pids, "4").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // kill -9 of the server mid-run: no step process survives; after a restart the run
    // is failed with a reason and its log up to the crash is kept.
    a.kill9();
    wait_gone(step_pid).await;
    let a = Andon::start(&data);
    let c = a.client();
    let run4 = finished(&c, 4).await;
    assert_eq!(run4["conclusion"], "failure", "{run4}");
    assert!(
        run4["reason"].as_str().unwrap().starts_with("andon stopped while the run was in progress"),
        "{run4}"
    );
    assert_eq!(run4["jobs"][0]["conclusion"], "failure", "{run4}");
    let o = a.cli(&["runs", "logs", "4"]);
    let text = stdout(&o);
    assert!(text.contains(&format!("[slow]   sleeping as {step_pid}")), "{text}");
    assert!(text.contains("! andon stopped while the run was in progress"), "{text}");
    // The restarted andon does not run the same commit again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, list) = request(&c, Method::GET, "/api/v1/runs", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 4, "{list}");
}

const RELEASE: &str = r#"name: Release
on:
  push:
    tags: ['v*']
  schedule:
    - cron: '* * * * *'
  workflow_dispatch:
    inputs:
      target: {type: choice, options: [staging, production], default: staging}
      dry-run: {type: boolean, default: true}
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ github.event_name }} ref=${{ github.ref }} target=${{ inputs.target }} dry=${{ inputs.dry-run }} cron=${{ github.event.schedule }}"
"#;

#[tokio::test]
async fn tags_dispatches_and_schedules_start_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = tmp.path().join("origin");
    std::fs::create_dir_all(origin.join(".github/workflows")).unwrap();
    std::fs::write(origin.join(".github/workflows/release.yml"), RELEASE).unwrap();
    sh(&origin, "git init -q -b main . && git add -A && git commit -q -m one && git tag v0.1");
    let a = Andon::start(&tmp.path().join("data"));
    let c = a.client();
    apply(&c, &repository("rel", &origin, "")).await;
    // The first look runs nothing: the workflow runs on tags, and tags that were
    // already there are only recorded.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, v) = request(&c, Method::GET, "/api/v1/repositories/rel", None).await;
        if v["status"]["lastFetch"].is_string() {
            break;
        }
        assert!(Instant::now() < deadline, "never fetched: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, list) = request(&c, Method::GET, "/api/v1/runs", None).await;
    let runs = list["items"].as_array().unwrap();
    assert!(runs.iter().all(|r| r["event"] == "schedule"), "only a schedule may have run: {list}");

    // A new tag is a push of that tag.
    sh(&origin, "git tag v1.0");
    let (_, v) =
        request(&c, Method::POST, "/api/v1/repositories/rel/hooks/push", Some(Vec::new())).await;
    let id = v["runs"][0].as_u64().unwrap_or_else(|| panic!("{v}"));
    let run = finished(&c, id).await;
    assert_eq!(
        (run["tag"].as_str(), run["event"].as_str(), run["conclusion"].as_str()),
        (Some("v1.0"), Some("push"), Some("success")),
        "{run}"
    );
    let o = a.cli(&["runs", "logs", &id.to_string()]);
    assert!(stdout(&o).contains("push ref=refs/tags/v1.0 target= dry= cron="), "{}", stdout(&o));

    // workflow_dispatch with typed inputs, through the CLI and the API.
    let o = a.cli(&[
        "runs",
        "dispatch",
        "rel",
        "release.yml",
        "--input",
        "target=production",
        "--input",
        "dry-run=false",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let id: u64 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(
        text.ends_with(&format!(
            "queued (Release on main at {})\n",
            &sh(&origin, "git rev-parse HEAD")[..7]
        )),
        "{text}"
    );
    let run = finished(&c, id).await;
    assert_eq!(
        run["inputs"],
        serde_json::json!({"target": "production", "dry-run": false}),
        "{run}"
    );
    let o = a.cli(&["runs", "logs", &id.to_string()]);
    assert!(
        stdout(&o)
            .contains("workflow_dispatch ref=refs/heads/main target=production dry=false cron="),
        "{}",
        stdout(&o)
    );
    let (s, v) = request(
        &c,
        Method::POST,
        "/api/v1/repositories/rel/workflows/release.yml/dispatches",
        Some(br#"{"ref": "v0.1", "inputs": {"target": "prod"}}"#.to_vec()),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(
        v["detail"],
        "input 'target': \"prod\" is not one of its options (staging, production)"
    );
    let (s, v) = request(
        &c,
        Method::POST,
        "/api/v1/repositories/rel/workflows/nope.yml/dispatches",
        Some(Vec::new()),
    )
    .await;
    assert_eq!(s, 422);
    assert!(
        v["detail"].as_str().unwrap().starts_with("no workflow .github/workflows/nope.yml at "),
        "{v}"
    );
    let (s, v) = request(
        &c,
        Method::POST,
        "/api/v1/repositories/rel/workflows/release.yml/dispatches",
        Some(br#"{"ref": "v0.1"}"#.to_vec()),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["tag"].as_str(), v["branch"].as_str()),
        (Some("v0.1"), None),
        "a tag is dispatched as a tag: {v}"
    );
    let o = a.cli(&["runs", "dispatch", "rel", "release.yml", "--input", "oops"]);
    assert_eq!(
        (o.status.code(), stderr(&o).trim()),
        (Some(2), "error: --input \"oops\": expected NAME=VALUE")
    );

    // The schedule fires within a minute, on the default branch's head.
    let deadline = Instant::now() + Duration::from_secs(75);
    let scheduled = loop {
        let (_, list) = request(&c, Method::GET, "/api/v1/runs", None).await;
        if let Some(r) = list["items"].as_array().unwrap().iter().find(|r| r["event"] == "schedule")
        {
            break r.clone();
        }
        assert!(Instant::now() < deadline, "the schedule never fired: {list}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        (scheduled["branch"].as_str(), scheduled["actor"].as_str()),
        (Some("main"), Some("schedule")),
        "{scheduled}"
    );
    let id = scheduled["id"].as_u64().unwrap();
    finished(&c, id).await;
    let o = a.cli(&["runs", "logs", &id.to_string()]);
    assert!(
        stdout(&o).contains("schedule ref=refs/heads/main target= dry= cron=* * * * *"),
        "{}",
        stdout(&o)
    );
}
