//! The OpenMetrics parser conformance suite: every case folder holds a
//! `metrics` exposition and a `test.json` saying whether it must parse.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::path::PathBuf;

use andon_expo::{Format, parse};

const EXPECTED_CASES: usize = 211;

/// The suite lives beside the workspace checkout: `<root>/../shared/suites/openmetrics`.
fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/suites/openmetrics")
}

#[test]
fn every_openmetrics_suite_case_gets_the_expected_verdict() {
    let dir = suite_dir();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the OpenMetrics suite is missing at {}: {e}", dir.display()));
    let mut cases: Vec<PathBuf> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.join("test.json").is_file()).collect();
    cases.sort();

    let mut passed = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.join("test.json")).unwrap()).unwrap();
        assert_eq!(spec["type"], "text", "{name}: only text cases are expected");
        let should_parse = spec["shouldParse"].as_bool().expect("shouldParse is a boolean");
        let file = spec["file"].as_str().unwrap_or("metrics");
        let input = std::fs::read(case.join(file)).unwrap();
        match (parse(&input, Format::OpenMetrics), should_parse) {
            (Ok(_), true) | (Err(_), false) => passed += 1,
            (Ok(_), false) => failures.push(format!("{name}: parsed, but must be rejected")),
            (Err(e), true) => failures.push(format!("{name}: rejected, but must parse: {e}")),
        }
    }

    println!("openmetrics: {passed} passed, {} failed", failures.len());
    for f in &failures {
        println!("  {f}");
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(cases.len(), EXPECTED_CASES, "the suite at {} changed size", dir.display());
}

/// Prints why each rejected case was rejected; run with `--nocapture` to read.
#[test]
fn rejected_cases_say_why() {
    let dir = suite_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        panic!("the OpenMetrics suite is missing at {}", dir.display())
    };
    let mut cases: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    cases.sort();
    for case in cases.iter().filter(|c| c.join("metrics").is_file()) {
        if let Err(e) = parse(&std::fs::read(case.join("metrics")).unwrap(), Format::OpenMetrics) {
            assert!(e.line >= 1 && e.column >= 1 && !e.message.is_empty());
            println!("{}: {e}", case.file_name().unwrap().to_string_lossy());
        }
    }
}
