//! Conformance with Prometheus's `promtool` rule fixtures (v3.8.0
//! `cmd/promtool/testdata`, read in place from `../shared/suites/promtool-rules`):
//! the unit-test files pass or fail as promtool's own test table says, with the
//! same differences reported, and the rule files check as promtool checks them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)]

use std::path::PathBuf;

use andon_rules::file::{ReadOptions, duplicate_rules, parse};
use andon_rules::unittest::{FileReport, RunOptions, run_file};

fn suite() -> Option<PathBuf> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/suites/promtool-rules");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the promtool-rules suite is missing at {}",
        dir.display()
    );
    eprintln!("skipping: {} is missing", dir.display());
    None
}

fn run(file: &str, run: &[&str], ignore_unknown_fields: bool) -> FileReport {
    let dir = suite().unwrap();
    let opts =
        RunOptions { run: run.iter().map(|s| s.to_string()).collect(), ignore_unknown_fields };
    run_file(&dir.join(file), &opts)
}

#[test]
fn the_unit_test_table() {
    if suite().is_none() {
        return;
    }
    // (file, --run, --ignore-unknown-fields, passes) as promtool's own test table has them.
    let table: &[(&str, &[&str], bool, bool)] = &[
        ("long-period.yml", &[], false, true),
        ("bad-input-series.yml", &[], false, false),
        ("bad-promql.yml", &[], false, false),
        ("bad-rules-syntax-test.yml", &[], false, false),
        ("bad-rules-error-test.yml", &[], false, false),
        ("failing.yml", &[], false, false),
        ("at-modifier-test.yml", &[], false, true),
        ("negative-offset-test.yml", &[], false, true),
        ("no-test-group-interval.yml", &[], false, true),
        ("rules_run.yml", &[], false, false),
        ("rules_run.yml", &["correct", "wrong"], false, false),
        ("rules_run.yml", &["correct"], false, true),
        ("rules_run.yml", &["wrong"], false, false),
        ("rules_run_extrafields.yml", &[], true, true),
        ("rules_run_extrafields.yml", &[], false, false),
        ("rules_run_no_fuzzy.yml", &[], false, false),
        ("rules_run_fuzzy.yml", &["correct"], false, true),
        ("rules_run_fuzzy.yml", &["wrong"], false, false),
    ];
    let mut wrong = Vec::new();
    for (file, run_args, ignore, passes) in table {
        let r = run(file, run_args, *ignore);
        if r.passed() != *passes {
            wrong.push(format!("{file} {run_args:?}: expected pass={passes}, got {:?}", r.errors));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn unittest_yml_passes_except_native_histograms() {
    if suite().is_none() {
        return;
    }
    let r = run("unittest.yml", &[], false);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    // The three cases whose input or expectation is a native histogram.
    assert_eq!(r.skipped.len(), 3, "{:#?}", r.skipped);
    assert!(r.skipped.iter().all(|s| s.contains("test_histogram")), "{:#?}", r.skipped);
}

#[test]
fn failing_yml_reports_promtools_differences() {
    if suite().is_none() {
        return;
    }
    let r = run("failing.yml", &[], false);
    let want = [
        "    name: Failing test,\n    alertname: Test, time: 0s, \n        exp:[\n            0:\n              Labels:{alertname=\"Test\"}\n              Annotations:{}\n            ], \n        got:[]",
        "    expr: \"test\", time: 0s,\n        exp: {__name__=\"test\"} 1E+00\n        got: {__name__=\"test\"} 0E+00",
        "    name: Failing alert test,\n    alertname: InstanceDown, time: 5m, \n        exp:[], \n        got:[\n            0:\n              Labels:{alertname=\"InstanceDown\", job=\"test\", severity=\"page\"}\n              Annotations:{description=\" of job test has been down for more than 5 minutes.\", summary=\"Instance  down\"}\n            ]",
        "    name: Failing alert test,\n    alertname: AlwaysFiring, time: 5m, \n        exp:[], \n        got:[\n            0:\n              Labels:{alertname=\"AlwaysFiring\"}\n              Annotations:{}\n            ]",
    ];
    assert_eq!(r.errors, want);
}

#[test]
fn bad_files_say_what_is_wrong() {
    if suite().is_none() {
        return;
    }
    let cases = [
        ("bad-input-series.yml", "unexpected end of input inside braces"),
        ("bad-promql.yml", "many-to-many matching not allowed"),
        ("bad-rules-error-test.yml", "    rule: joined, time: 0s, err: found duplicate series"),
        (
            "bad-rules-syntax-test.yml",
            "bad-rules-syntax.yml:7:22: groups[0].rules[0].expr: group \"bad-syntax\", rule 1, \"x\": could not parse expression: 1:7: parse error",
        ),
    ];
    for (file, want) in cases {
        let r = run(file, &[], false);
        assert!(r.errors.iter().any(|e| e.contains(want)), "{file}: {:#?}", r.errors);
    }
}

#[test]
fn rule_files_check_like_promtool() {
    let Some(dir) = suite() else { return };
    let read = |f: &str, ignore: bool| {
        parse(
            &std::fs::read(dir.join(f)).unwrap(),
            f,
            ReadOptions { ignore_unknown_fields: ignore },
        )
    };
    assert_eq!(read("rules.yml", false).unwrap().rule_count(), 5);
    let bad = read("rules-bad.yml", false).unwrap_err();
    assert!(
        bad.iter()
            .any(|d| d.message.contains("annotation \"summary\"") && d.message.contains("$label")),
        "{bad:#?}"
    );
    assert!(read("rules_extrafields.yml", false).is_err());
    assert_eq!(read("rules_extrafields.yml", true).unwrap().rule_count(), 5);
    let dups = duplicate_rules(&read("rules_duplicates.yml", false).unwrap());
    assert_eq!(dups.len(), 1);
    assert_eq!(dups[0].0, "job:test:count_over_time1m");
    let lint = duplicate_rules(&read("prometheus-rules.lint.yml", false).unwrap());
    assert_eq!(lint.len(), 1);
    assert_eq!(lint[0].0, "HighRequestLatency");
    let large = read("rules_large.yml", false).unwrap();
    assert_eq!(large.rule_count(), 10_002);
    let dups: Vec<String> = duplicate_rules(&large).into_iter().map(|(m, _)| m).collect();
    assert_eq!(
        dups,
        ["job:http_inprogress_requests:sum:1", "job:http_inprogress_requests:sum:10000"]
    );
}
