//! `andon promql test`: runs promqltest scripts, prints counts, exit codes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_andon");

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn suite_file_passes_with_counts() {
    let file =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/suites/promql/v3.8.0/literals.test");
    let (code, out) = run(&["promql", "test", file]);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("total: 25 passed, 0 failed, 0 skipped\n"), "{out}");
}

#[test]
fn a_wrong_expectation_fails_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.test");
    std::fs::write(
        &f,
        "load 1m\n  up{job=\"a\"} 1 0 1\n\neval instant at 2m up\n  up{job=\"a\"} 1\n\neval instant at 1m up\n  up{job=\"a\"} 1\n",
    )
    .unwrap();
    let (code, out) = run(&["promql", "test", f.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            ":7: eval instant at 1m up: expected 1 for {__name__=\"up\", job=\"a\"} but got 0"
        ),
        "{out}"
    );
    assert!(out.contains("total: 1 passed, 1 failed, 0 skipped"), "{out}");
}

#[test]
fn unreadable_file_is_an_error() {
    let (code, _) = run(&["promql", "test", "/nonexistent/x.test"]);
    assert_eq!(code, 1);
}
