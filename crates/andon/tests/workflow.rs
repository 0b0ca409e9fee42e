//! `andon workflow …` through the binary: expressions evaluated with contexts from a
//! file, results as JSON on stdout, errors with their place and exit 1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_andon");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn expressions_evaluate_with_contexts_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx.json");
    std::fs::write(
        &ctx,
        r#"{"github": {"event_name": "push", "commits": [{"id": "a1"}, {"id": "b2"}]},
            "job": {"status": "failure"}, "custom": {"n": 3}}"#,
    )
    .unwrap();
    let ctx = ctx.to_str().unwrap();
    let cases: &[(&str, &str)] = &[
        ("1 == '1' && format('{0}-{1}', 'a', 2)", "\"a-2\"\n"),
        ("github.commits.*.id", "[\n  \"a1\",\n  \"b2\"\n]\n"),
        ("failure() && github.EVENT_NAME == 'PUSH'", "true\n"),
        ("success()", "false\n"),
        ("custom.n > 2 || 'never'", "true\n"),
        (
            "toJSON(fromJSON('{\"b\":1,\"a\":[true,null]}'))",
            "\"{\\n  \\\"b\\\": 1,\\n  \\\"a\\\": [\\n    true,\\n    null\\n  ]\\n}\"\n",
        ),
        ("steps.build.outputs.tag", "null\n"),
    ];
    for (expr, want) in cases {
        let (code, out, err) = run(&["workflow", "expr", expr, "--context", ctx]);
        assert_eq!((code, out.as_str()), (0, *want), "{expr}: {err}");
    }
}

#[test]
fn errors_exit_1_with_the_place() {
    for (expr, want) in [
        (
            "1 < )",
            "error: parsing error: Unexpected symbol: ')'. Located at position 5 within expression: 1 < )",
        ),
        (
            "nope.x",
            "error: parsing error: Unrecognized named-value: 'nope'. Located at position 1 within expression: nope.x",
        ),
        (
            "format('{1}', 'a')",
            "error: evaluation error: The following format string references more arguments than were supplied: {1}",
        ),
        (
            "'open",
            "error: lexing error: Unexpected symbol: ''open'. Located at position 1 within expression: 'open",
        ),
        (
            "join()",
            "error: parsing error: Too few parameters supplied: 'join'. Located at position 1 within expression: join()",
        ),
    ] {
        let (code, out, err) = run(&["workflow", "expr", expr]);
        assert_eq!(code, 1, "{expr}: {out}");
        assert!(out.is_empty(), "{expr}: nothing on stdout: {out}");
        assert!(err.starts_with(want), "{expr}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[1, 2]").unwrap();
    let (code, _, err) = run(&["workflow", "expr", "1", "--context", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("the contexts must be a JSON object keyed by context name, found Array"),
        "{err}"
    );
}

fn run_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).current_dir(dir).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const CI: &str = "name: CI
on:
  push:
    branches: [main]
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: echo lint
  test:
    needs: lint
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: [linux, mac]
        node: [18, 20]
        exclude: [{os: mac, node: 18}]
    steps:
      - run: npm test
  deploy:
    needs: test
    if: github.ref == 'refs/heads/main'
    runs-on: linux
    steps:
      - run: ./deploy.sh
";

#[test]
fn run_lists_and_plans_the_repositorys_workflows() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::write(wf.join("ci.yml"), CI).unwrap();
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();

    let (code, out, err) = run_in(dir.path(), &["run", "--list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(".github/workflows/ci.yml   test     test     lint    push"), "{out}");

    let (code, out, err) = run_in(dir.path(), &["run", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    let want = "  [1] job test after lint\n      test (linux, 18)\n        - npm test\n      test (linux, 20)\n        - npm test\n      test (mac, 20)\n        - npm test\n  [2] job deploy after test if success() && (github.ref == 'refs/heads/main')\n";
    assert!(out.contains(want), "{out}");
    let (_, out, _) = run_in(dir.path(), &["run", "--dry-run", "-j", "test", "--matrix", "os:mac"]);
    assert!(
        out.contains("test (mac, 20)") && !out.contains("test (linux") && !out.contains("deploy"),
        "{out}"
    );

    // Another branch: the push filter does not match.
    std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/feature\n").unwrap();
    let (_, out, _) = run_in(dir.path(), &["run", "--dry-run"]);
    assert!(
        out.contains("ci.yml: not triggered: branch 'feature' is not in its branches"),
        "{out}"
    );

    // A broken workflow: every problem with its place, nothing runs.
    std::fs::write(
        wf.join("broken.yml"),
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - runn: echo\n",
    )
    .unwrap();
    let (code, _, err) = run_in(dir.path(), &["run", "--dry-run"]);
    assert_eq!(code, 2);
    assert!(err.contains(".github/workflows/broken.yml:6:9: Unexpected value 'runn'"), "{err}");
    assert!(err.contains("2 problems found; nothing runs"), "{err}");

    let elsewhere = tempfile::tempdir().unwrap();
    let (code, _, err) = run_in(elsewhere.path(), &["run", "--list"]);
    assert_eq!(code, 2);
    assert!(err.contains("not in a git repository"), "{err}");
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

const PIPELINE: &str = r#"name: Pipeline
on: push
env:
  GREETING: hello
jobs:
  build:
    runs-on: ubuntu-latest
    outputs:
      version: ${{ steps.v.outputs.version }}
    steps:
      - uses: actions/checkout@v4
      - run: cat data.txt; echo "$GREETING from ${GITHUB_REF_NAME}"
      - id: v
        run: echo "version=1.2.$((1+1))" >> "$GITHUB_OUTPUT"
  test:
    needs: build
    runs-on: ubuntu-latest
    strategy:
      matrix:
        n: [1, 2]
    steps:
      - run: echo "n=${{ matrix.n }} v=${{ needs.build.outputs.version }} token=${{ secrets.TOKEN }} index=${{ strategy.job-index }}/${{ strategy.job-total }}"
  flaky:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: exit 3
        continue-on-error: true
      - run: echo "still here after ${{ steps.nothing.outcome }}"
      - id: boom
        run: "false"
      - run: echo never printed
      - if: failure()
        run: echo "cleanup after ${{ steps.boom.outcome }}"
  deploy:
    needs: [test, flaky]
    runs-on: ubuntu-latest
    steps:
      - run: echo deploying
  report:
    needs: deploy
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo "deploy was ${{ needs.deploy.result }}"
"#;

#[test]
fn run_executes_jobs_in_workspaces_with_contexts_and_results() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::write(wf.join("pipeline.yml"), PIPELINE).unwrap();
    std::fs::write(dir.path().join("data.txt"), "committed data\n").unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "first"]);

    let (code, out, err) = run_in(dir.path(), &["run", "--secret", "TOKEN=s3cr3t-value"]);
    assert_eq!(code, 1, "a failing job fails the run: {out}\n{err}");
    for want in [
        "[build]   committed data",
        "[build]   hello from main",
        "[test (1)]   n=1 v=1.2.2 token=*** index=0/2",
        "[test (2)]   n=2 v=1.2.2 token=*** index=1/2",
        "[flaky] ✗ (continue-on-error) Run exit 3",
        "[flaky]   still here after ",
        "[flaky]   cleanup after failure",
        "[report]   deploy was skipped",
        "Pipeline: failure",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(!out.contains("s3cr3t-value"), "the secret never shows: {out}");
    assert!(!out.contains("never printed") && !out.contains("deploying"), "{out}");
    let table: Vec<&str> = out.lines().skip_while(|l| !l.starts_with("JOB")).collect();
    assert!(table.iter().any(|l| l.starts_with("deploy") && l.contains("skipped")), "{table:?}");
    assert!(table.iter().any(|l| l.starts_with("flaky") && l.contains("failure")), "{table:?}");

    // One job and what it needs; a passing run exits 0.
    let (code, out, err) = run_in(dir.path(), &["run", "-j", "test", "--matrix", "n:2"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("[test (2)]   n=2") && !out.contains("[test (1)]   n=1"), "{out}");
    assert!(!out.contains("[flaky]"), "{out}");
}

#[test]
fn a_job_over_its_timeout_is_stopped_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::write(
        wf.join("slow.yml"),
        "on: push\njobs:\n  slow:\n    runs-on: x\n    timeout-minutes: 0.02\n    steps:\n      - run: sleep 60\n",
    )
    .unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "slow"]);
    let t = std::time::Instant::now();
    let (code, out, _) = run_in(dir.path(), &["run"]);
    assert_eq!(code, 1, "{out}");
    assert!(t.elapsed() < std::time::Duration::from_secs(30), "stopped, not waited for");
    assert!(
        out.contains("The job has exceeded the maximum execution time of 0.02 minutes."),
        "{out}"
    );
    assert!(out.contains("slow: failure") || out.contains("[slow] failure"), "{out}");
}

const ARTIFACTS: &str = r#"on: push
jobs:
  build:
    runs-on: x
    steps:
      - run: mkdir -p dist/docs && echo "binary v1" > dist/app && echo "readme" > dist/docs/README && chmod +x dist/app
      - uses: actions/upload-artifact@v4
        with:
          name: dist
          path: dist/
      - id: deps
        uses: actions/cache@v4
        with:
          path: deps
          key: deps-${{ hashFiles('lock.txt') }}
          restore-keys: deps-
      - if: steps.deps.outputs.cache-hit != 'true'
        run: mkdir -p deps && echo "fetched once" > deps/lib && echo "FETCHED"
      - run: cat deps/lib
  ship:
    needs: build
    runs-on: x
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: dist
          path: out
      - run: cat out/app out/docs/README && test -x out/app && echo "executable kept"
      - uses: actions/download-artifact@v4
        with:
          name: missing
"#;

#[test]
fn artifacts_pass_between_jobs_and_caches_between_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::write(wf.join("a.yml"), ARTIFACTS).unwrap();
    std::fs::write(dir.path().join("lock.txt"), "dep 1.0\n").unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "a"]);
    let run = |dir: &std::path::Path| {
        let out = Command::new(BIN)
            .arg("run")
            .env("XDG_CACHE_HOME", cache.path())
            .current_dir(dir)
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (code, out) = run(dir.path());
    assert_eq!(code, 1, "the missing artifact fails the last step: {out}");
    for want in [
        "[build]   uploaded artifact 'dist': 2 files",
        "[build]   Cache not found for input keys: deps-",
        "[build]   FETCHED",
        "[build]   fetched once",
        "[build]   Cache saved with key: deps-",
        "[ship]   binary v1",
        "[ship]   readme",
        "[ship]   executable kept",
        "[ship] ! Unable to download artifact(s): Artifact not found for name: missing",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // A second run restores the cache by its exact key: nothing fetched again.
    let (_, out) = run(dir.path());
    assert!(out.contains("[build]   Cache restored from key: deps-"), "{out}");
    assert!(!out.contains("FETCHED") && out.contains("[build]   fetched once"), "{out}");
    // Artifacts belong to their run: none left behind.
    let left: Vec<_> = std::fs::read_dir(cache.path().join("andon/artifacts"))
        .map(|r| r.count())
        .into_iter()
        .collect();
    assert!(left.iter().all(|n| *n == 0), "{left:?}");
}

#[test]
fn local_composite_actions_run_with_their_inputs_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::create_dir_all(dir.path().join(".github/actions/greet")).unwrap();
    std::fs::write(
        dir.path().join(".github/actions/greet/action.yml"),
        r#"name: Greet
inputs:
  who:
    description: whom to greet
    required: true
  punctuation:
    default: "!"
outputs:
  message:
    value: ${{ steps.say.outputs.message }}
runs:
  using: composite
  steps:
    - id: say
      shell: bash
      run: |
        echo "Hello, ${{ inputs.who }}${{ inputs.punctuation }}"
        echo "message=greeted ${{ inputs.who }}" >> "$GITHUB_OUTPUT"
"#,
    )
    .unwrap();
    std::fs::write(
        wf.join("use.yml"),
        r#"on: push
jobs:
  a:
    runs-on: x
    steps:
      - uses: actions/checkout@v4
      - id: hi
        uses: ./.github/actions/greet
        with:
          who: andon
      - run: echo "the action said ${{ steps.hi.outputs.message }}"
      - uses: ./.github/actions/greet
"#,
    )
    .unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "composite"]);
    let (code, out, err) = run_in(dir.path(), &["run"]);
    assert_eq!(code, 1, "the last use misses a required input: {out}\n{err}");
    for want in [
        "[a]   Hello, andon!",
        "[a]   the action said greeted andon",
        "[a] ! ./.github/actions/greet/action.yml: input 'who' is required",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

#[test]
fn kill_9_of_andon_run_leaves_no_step_process() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    let pidfile = dir.path().join("pids");
    std::fs::write(
        wf.join("long.yml"),
        format!(
            "on: push\njobs:\n  long:\n    runs-on: x\n    steps:\n      - run: |\n          sleep 120 &\n          echo $! >> {p}\n          echo $$ >> {p}\n          wait\n",
            p = pidfile.display()
        ),
    )
    .unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "long"]);
    let mut child = Command::new(BIN)
        .arg("run")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let pids = loop {
        let text = std::fs::read_to_string(&pidfile).unwrap_or_default();
        let pids: Vec<String> = text.lines().map(str::to_owned).collect();
        if pids.len() == 2 {
            break pids;
        }
        assert!(std::time::Instant::now() < deadline, "the step never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    let alive = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rsplit(')').next().is_some_and(|r| !r.trim_start().starts_with('Z')))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while pids.iter().any(|p| alive(p)) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(pids.iter().all(|p| !alive(p)), "step processes outlived andon: {pids:?}");
}

fn run_env(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out =
        Command::new(BIN).args(args).envs(env.iter().copied()).current_dir(dir).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_job_in_a_container_says_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::write(
        wf.join("c.yml"),
        "on: push\njobs:\n  boxed:\n    runs-on: x\n    container: node:20\n    steps:\n      - run: echo inside\n  served:\n    runs-on: x\n    services:\n      db: {image: postgres}\n    steps:\n      - run: echo served\n",
    )
    .unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "c"]);
    let (code, out, _) =
        run_env(dir.path(), &["run"], &[("ANDON_CONTAINER_ENGINE", "/nonexistent/podman")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[boxed] ! the job's `container:` needs a container engine: /nonexistent/podman is not installed here"),
        "the reason is shown: {out}"
    );
    assert!(
        out.contains("[served] ! the job's `services:` (service containers) are not supported yet"),
        "{out}"
    );
    assert!(
        !out.contains("inside") && !out.contains("  served"),
        "nothing ran on the host instead: {out}"
    );
}

/// A busybox image made here (no registry): `localhost/andon-test-busybox:1`.
fn busybox_image(podman: &str, dir: &std::path::Path) {
    let root = dir.join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    for app in ["sh", "cat", "echo", "ls", "sleep", "test", "tr", "mkdir"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(app)).unwrap();
    }
    let tar = dir.join("rootfs.tar");
    let ok =
        Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".").status().unwrap();
    assert!(ok.success());
    let out = Command::new(podman)
        .args(["import", "--quiet"])
        .arg(&tar)
        .arg("localhost/andon-test-busybox:1")
        .output()
        .unwrap();
    assert!(out.status.success(), "podman import: {}", String::from_utf8_lossy(&out.stderr));
}

fn containers(podman: &str) -> Vec<String> {
    let out = Command::new(podman).args(["ps", "-a", "--format", "{{.Names}}"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|n| n.starts_with("andon-"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn jobs_run_in_their_container_and_leave_none_behind() {
    let Some(podman) = common::program("ANDON_TEST_PODMAN", "/usr/bin/podman", "podman") else {
        return;
    };
    if common::program("ANDON_TEST_BUSYBOX", "/bin/busybox", "busybox-static").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    busybox_image(&podman, dir.path());
    let repo = dir.path().join("repo");
    let wf = repo.join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::write(repo.join("README"), "hello from the repository\n").unwrap();
    std::fs::write(
        wf.join("c.yml"),
        r#"on: push
jobs:
  boxed:
    runs-on: x
    container:
      image: localhost/andon-test-busybox:1
      env: {IN_BOX: "yes"}
    outputs:
      answer: ${{ steps.calc.outputs.answer }}
    steps:
      - uses: actions/checkout@v4
      - run: |
          echo "pid 1 is: $(cat /proc/1/cmdline | tr '\0' ' ')"
          echo "workspace $GITHUB_WORKSPACE has: $(cat README)"
          echo "IN_BOX=$IN_BOX SECRET_LEN=${#SECRET}"
          echo "**From the box**" >> "$GITHUB_STEP_SUMMARY"
        env: {SECRET: "${{ secrets.TOKEN }}"}
      - id: calc
        run: echo "answer=42" >> "$GITHUB_OUTPUT"
      - run: mkdir -p out && echo built > out/file.txt
      - uses: actions/upload-artifact@v4
        with: {name: out, path: out/}
  after:
    needs: boxed
    runs-on: x
    steps:
      - run: echo "answer on the host is ${{ needs.boxed.outputs.answer }}"
"#,
    )
    .unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "c"]);
    let cache = dir.path().join("cache");
    let (code, out, err) = run_env(
        &repo,
        &["run", "--secret", "TOKEN=s3cr3t-value"],
        &[("XDG_CACHE_HOME", cache.to_str().unwrap())],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("[boxed]   started container andon-"), "{out}");
    // PID 1 is the container's lifeline reader (sh has exec'd into cat): the step is
    // in the container's PID namespace, not the host's.
    assert!(
        out.contains("[boxed]   pid 1 is: cat /__w/_temp/_lifeline"),
        "steps run in the container: {out}"
    );
    assert!(
        out.contains("[boxed]   workspace /__w/workspace has: hello from the repository"),
        "{out}"
    );
    assert!(out.contains("[boxed]   IN_BOX=yes SECRET_LEN=12"), "{out}");
    assert!(out.contains("[after]   answer on the host is 42"), "{out}");
    assert!(out.contains("uploaded artifact 'out': 1 files"), "{out}");
    assert!(out.contains("**From the box**"), "the summary is printed: {out}");
    assert!(!out.contains("s3cr3t-value"), "{out}");
    assert!(
        containers(&podman).is_empty(),
        "the job's container is gone: {:?}",
        containers(&podman)
    );

    // kill -9 of andon while a container job runs: the container ends with it.
    std::fs::write(
        wf.join("c.yml"),
        "on: push\njobs:\n  long:\n    runs-on: x\n    container: localhost/andon-test-busybox:1\n    steps:\n      - run: echo started; sleep 120\n",
    )
    .unwrap();
    git(&repo, &["commit", "-q", "-am", "long"]);
    let mut child = Command::new(BIN)
        .arg("run")
        .current_dir(&repo)
        .env("XDG_CACHE_HOME", &cache)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    loop {
        let l = lines.next().expect("andon run ended early").unwrap();
        if l.contains("[long]   started") {
            break;
        }
    }
    assert_eq!(containers(&podman).len(), 1, "one container while the job runs");
    child.kill().unwrap();
    let _ = child.wait();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !containers(&podman).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the container outlived andon: {:?}",
            containers(&podman)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn bad_run_inputs_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::create_dir_all(dir.path().join("act")).unwrap();
    std::fs::write(
        wf.join("w.yml"),
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@v4\n      - uses: ./act\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("act/action.yml"), "name: broken\nruns:\n  usin: composite\n")
        .unwrap();
    std::fs::write(dir.path().join("secrets.env"), "# comment\nGOOD=1\nnot a pair\n").unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "w"]);
    for (args, want) in [
        (vec!["run", "--input", "novalue"], "error: --input \"novalue\": expected NAME=VALUE"),
        (vec!["run", "--matrix", "os=linux"], "error: --matrix \"os=linux\": expected NAME:VALUE"),
        (vec!["run", "--secret", "TOKEN"], "error: --secret \"TOKEN\": expected NAME=VALUE"),
        (vec!["run", "--secret-file", "secrets.env"], "secrets.env:3: expected NAME=VALUE"),
        (vec!["run", "-W", "missing.yml"], "error: missing.yml: No such file or directory"),
    ] {
        let (code, _, err) = run_in(dir.path(), &args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let (code, out, _) = run_in(dir.path(), &["run", "-j", "nope", "--dry-run"]);
    assert_eq!((code, out.trim()), (0, ".github/workflows/w.yml: has no job 'nope'"));
    // A local action whose action.yml is malformed: every problem with its place.
    let (code, out, _) = run_in(dir.path(), &["run"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[a] ! ./act/action.yml (Line: 3, Col: 3): Unexpected value 'usin'"),
        "{out}"
    );
    assert!(
        out.contains("./act/action.yml (Line: 3, Col: 3): Required property is missing: using"),
        "{out}"
    );
}
