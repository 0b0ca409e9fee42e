//! The expression suite of actions/languageservices (`expressions/testdata/*.json`,
//! read in place from `../shared/suites/gha-expressions`): every case is parsed with
//! the case's context names as the allowed named values and evaluated against them;
//! a result must have the expected kind and JSON value, an error the expected stage
//! and a message containing the expected text (what the upstream harness checks).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)]

use std::path::PathBuf;

use andon_expr::{Allowed, ErrorKind, Object, Value, deep_eq as same, evaluate, parse, parse_json};

const EXPECTED_CASES: usize = 1020;

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/suites/gha-expressions")
}

fn run_case(case: &Object) -> Result<(), String> {
    let expr = case.get("expr").and_then(Value::as_str).unwrap_or("");
    let contexts = match case.get("contexts") {
        Some(Value::Object(o)) => (**o).clone(),
        _ => Object::new(),
    };
    let allowed = Allowed {
        named_values: contexts.iter().map(|(k, _)| k.to_string()).collect(),
        functions: Vec::new(),
    };
    let want_err = match case.get("err") {
        Some(Value::Object(e)) => Some((
            e.get("kind").and_then(Value::as_str).unwrap_or("").to_string(),
            e.get("value").and_then(Value::as_str).unwrap_or("").to_string(),
        )),
        _ => None,
    };
    let got = parse(expr, &allowed).and_then(|n| evaluate(n.as_ref(), &contexts));
    match (got, want_err) {
        (Err(e), Some((kind, text))) => {
            let described = e.describe(expr);
            if e.kind.as_str() != kind {
                return Err(format!(
                    "{expr:?}: {kind} error expected, got {} error {described:?}",
                    e.kind.as_str()
                ));
            }
            if !described.contains(&text) {
                return Err(format!("{expr:?}: message {described:?} lacks {text:?}"));
            }
            Ok(())
        }
        (Err(e), None) => {
            Err(format!("{expr:?}: unexpected {} error: {}", e.kind.as_str(), e.describe(expr)))
        }
        (Ok(v), Some((kind, text))) => {
            Err(format!("{expr:?}: expected {kind} error {text:?}, got {}", v.to_json()))
        }
        (Ok(v), None) => {
            let Some(Value::Object(r)) = case.get("result") else {
                return Err(format!("{expr:?}: the case has neither result nor err"));
            };
            let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
            let want = r.get("value").cloned().unwrap_or(Value::Null);
            if v.kind() != kind || !same(&v, &want) {
                return Err(format!(
                    "{expr:?}: expected {kind} {}, got {} {}",
                    want.to_json(),
                    v.kind(),
                    v.to_json()
                ));
            }
            Ok(())
        }
    }
}

#[test]
fn every_languageservices_expression_case_passes() {
    let dir = suite_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the expression suite is missing at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let (mut total, mut failures) = (0, Vec::new());
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let Value::Object(groups) = parse_json(&text).unwrap() else { panic!("{}", f.display()) };
        for (group, cases) in groups.iter() {
            let Value::Array(cases) = cases else { panic!("{group}") };
            for case in &cases.items {
                let Value::Object(case) = case else { panic!("{group}") };
                total += 1;
                if let Err(e) = run_case(case) {
                    let name = f.file_name().unwrap().to_string_lossy();
                    failures.push(format!("{name} / {group}: {e}"));
                }
            }
        }
    }
    eprintln!(
        "gha-expressions: {total} cases, {} passed, {} failed",
        total - failures.len(),
        failures.len()
    );
    assert_eq!(total, EXPECTED_CASES, "the suite changed");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    let _ = ErrorKind::Lexing;
}
