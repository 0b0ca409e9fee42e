//! `run:` steps as real processes: GitHub's shells and their error semantics, file
//! commands, workflow commands and masking on the output, bounded lines, timeouts
//! and cancellation stopping the whole process group.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use andon_runner::mask::Masker;
use andon_runner::step::{Event, Finished, MAX_LINE, Script, run, shell_command};

async fn go(
    script: &str,
    shell: Option<&str>,
    masker: &mut Masker,
    timeout: Option<Duration>,
) -> (Finished, Vec<Event>) {
    let dir = tempfile::tempdir().unwrap();
    let step = Script {
        script: script.into(),
        shell: shell.map(Into::into),
        working_dir: dir.path().to_path_buf(),
        timeout,
        ..Script::default()
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut events = Vec::new();
    let f =
        run(&step, &dir.path().join("_temp"), masker, rx, &mut |e| events.push(e)).await.unwrap();
    (f, events)
}

fn out(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Out(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn shells_stop_at_the_first_failure_and_bash_adds_pipefail() {
    let mut m = Masker::new();
    let (f, ev) = go("echo one\nfalse\necho never", None, &mut m, None).await;
    assert_eq!(f.code, Some(1));
    assert_eq!(out(&ev), ["one"]);
    let (f, _) = go("false | true", None, &mut m, None).await;
    assert!(f.success(), "the default shell has no pipefail");
    let (f, _) = go("false | true", Some("bash"), &mut m, None).await;
    assert_eq!(f.code, Some(1), "shell: bash has pipefail");
    let (f, ev) =
        go("import sys\nprint('from python', sys.version_info[0])", Some("python"), &mut m, None)
            .await;
    assert!(f.success(), "{ev:?}");
    assert_eq!(out(&ev), ["from python 3"]);
    let (f, ev) = go("echo custom $0", Some("bash -e {0}"), &mut m, None).await;
    assert!(f.success());
    assert!(out(&ev)[0].starts_with("custom /"), "{ev:?}");
    assert_eq!(
        shell_command(Some("perl -w")).unwrap_err(),
        "Invalid shell option. Shell path with arguments must include {0}: 'perl -w'"
    );
}

#[tokio::test]
async fn file_commands_and_workflow_commands() {
    let mut m = Masker::new();
    let script = [
        "echo \"tag=v1.2.3\" >> \"$GITHUB_OUTPUT\"",
        "{ echo 'notes<<EOF'; echo 'line 1'; echo 'line 2'; echo EOF; } >> \"$GITHUB_OUTPUT\"",
        "echo \"GREETING=hello\" >> \"$GITHUB_ENV\"",
        "echo \"/opt/tools/bin\" >> \"$GITHUB_PATH\"",
        "echo \"## Summary\" >> \"$GITHUB_STEP_SUMMARY\"",
        "echo \"::group::Build\"",
        "echo \"::add-mask::hunter2\"",
        "echo \"password is hunter2\"",
        "echo \"::warning file=src/a.rs,line=7::look here\"",
        "echo \"::endgroup::\"",
        "echo \"::set-env name=X::1\"",
    ]
    .join("\n");
    let (f, ev) = go(&script, None, &mut m, None).await;
    assert!(f.success(), "{ev:?}");
    assert_eq!(
        f.outputs,
        [("tag".to_string(), "v1.2.3".to_string()), ("notes".into(), "line 1\nline 2".into())]
    );
    assert_eq!(f.env, [("GREETING".to_string(), "hello".to_string())]);
    assert_eq!(f.paths, ["/opt/tools/bin"]);
    assert_eq!(f.summary.as_deref(), Some("## Summary\n"));
    assert_eq!(ev[0], Event::GroupStart("Build".into()));
    assert_eq!(ev[1], Event::Out("password is ***".into()));
    assert_eq!(
        ev[2],
        Event::Annotation {
            level: "warning".into(),
            message: "look here".into(),
            file: Some("src/a.rs".into()),
            line: Some(7)
        }
    );
    assert_eq!(ev[3], Event::GroupEnd);
    assert!(matches!(&ev[4], Event::Note(n) if n.contains("set-env")), "{ev:?}");
}

#[tokio::test]
async fn secrets_are_masked_also_when_encoded() {
    let mut m = Masker::new();
    m.add("p@ss w0rd");
    let (f, ev) = go(
        "echo 'plain p@ss w0rd'; printf 'p@ss w0rd' | base64; echo 'url p%40ss%20w0rd'",
        None,
        &mut m,
        None,
    )
    .await;
    assert!(f.success());
    assert_eq!(out(&ev), ["plain ***", "***", "url ***"]);
}

#[tokio::test]
async fn long_output_is_cut_into_bounded_pieces() {
    let mut m = Masker::new();
    let (f, ev) =
        go("head -c 1000000 /dev/zero | tr '\\0' x; echo; echo done", None, &mut m, None).await;
    assert!(f.success());
    let lines = out(&ev);
    assert!(lines.iter().all(|l| l.len() <= MAX_LINE));
    assert_eq!(lines.iter().map(String::len).sum::<usize>(), 1_000_000 + 4);
    assert_eq!(lines.last().map(String::as_str), Some("done"));
}

/// Whether a process is still running (a zombie waiting to be reaped is not).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
        .is_ok_and(|s| s.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
}

async fn gone(pid: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    !alive(pid)
}

#[tokio::test]
async fn a_timeout_stops_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let mut m = Masker::new();
    let t = Instant::now();
    let (f, _) = go(
        &format!("sleep 60 &\necho $! > {}\nwait", pidfile.display()),
        None,
        &mut m,
        Some(Duration::from_millis(500)),
    )
    .await;
    assert!(f.timed_out && !f.success());
    assert!(t.elapsed() < Duration::from_secs(20));
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    assert!(gone(&pid).await, "the background sleep was stopped with its step");
}

#[tokio::test]
async fn cancellation_stops_a_step_and_leftovers_go_when_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    let step = Script {
        script: "echo started; sleep 60".into(),
        working_dir: dir.path().into(),
        ..Script::default()
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = tx.send(true);
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let mut m = Masker::new();
    let mut events = Vec::new();
    let f =
        run(&step, &dir.path().join("_temp"), &mut m, rx, &mut |e| events.push(e)).await.unwrap();
    assert!(f.cancelled);
    assert_eq!(out(&events), ["started"]);

    // A step that exits leaving a child holding its output: done after a moment,
    // and the child is gone.
    let pidfile = dir.path().join("pid2");
    let (f, _) =
        go(&format!("sleep 60 &\necho $! > {}", pidfile.display()), None, &mut m, None).await;
    assert!(f.success());
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    assert!(gone(&pid).await, "the step's leftover child was stopped");
}
