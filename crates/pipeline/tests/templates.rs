//! Strings with `${{ }}` and `if:` conditions as a workflow reads them: pieces joined
//! with `format(…)`, a lone expression keeping its value, a lone string literal being
//! that string, escaped braces, and the implicit `success() &&` evaluated against the
//! job's status.
#![allow(clippy::unwrap_used, clippy::panic)]

use andon_expr::{Host, Object, Value};
use andon_pipeline::workflow::read;

fn contexts() -> Object {
    let mut github = Object::new();
    github.insert("event_name", Value::from("push"));
    github.insert("ref", Value::from("refs/heads/main"));
    let mut matrix = Object::new();
    matrix.insert("os", Value::from("linux"));
    matrix.insert("include", Value::from(vec![Value::from(1.0), Value::from(2.0)]));
    let mut c = Object::new();
    c.insert("github", Value::from(github));
    c.insert("matrix", Value::from(matrix));
    c
}

/// Named values from `contexts()`, and the status functions for a fixed job status.
struct Status(&'static str, Object);

impl Host for Status {
    fn named_value(&self, name: &str) -> Value {
        self.1.named_value(name)
    }

    fn call(&self, name: &str, _args: &[Value]) -> Result<Value, String> {
        Ok(Value::Bool(match name {
            "always" => true,
            "success" => self.0 == "success",
            "failure" => self.0 == "failure",
            "cancelled" => self.0 == "cancelled",
            other => return Err(format!("no {other}")),
        }))
    }
}

const STEPS: &str = r#"on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: "os=${{ matrix.os }} on ${{ github.event_name }}!"
      - run: ${{ matrix.include }}
      - run: no expressions
      - run: ${{ format('{{0}}') }}
      - run: "${{ 'a }} b' }}"
"#;

#[test]
fn templates_interpolate_and_keep_whole_values() {
    let wf = read("w.yml", STEPS.as_bytes()).unwrap_or_else(|p| panic!("{p:?}"));
    let host = Status("success", contexts());
    let run = |i: usize| wf.jobs[0].steps[i].run.clone().unwrap();
    assert_eq!(run(0).evaluate_string(&host).unwrap(), "os=linux on push!");
    assert!(
        matches!(run(1).evaluate(&host).unwrap(), Value::Array(_)),
        "a lone expression keeps its value"
    );
    assert_eq!(run(2).evaluate_string(&host).unwrap(), "no expressions");
    assert_eq!(run(3).evaluate_string(&host).unwrap(), "{0}");
    assert_eq!(run(4).evaluate_string(&host).unwrap(), "a }} b");
}

#[test]
fn template_errors_name_the_expression() {
    let bad = |run: &str| {
        let text =
            format!("on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: \"{run}\"\n");
        read("w.yml", text.as_bytes()).unwrap_err()[0].render("w.yml")
    };
    assert_eq!(
        bad("echo ${{ matrix.os"),
        "w.yml (Line: 6, Col: 14): The expression is not closed. An unescaped ${{ sequence was found, but the closing }} sequence was not found."
    );
    assert_eq!(
        bad("x ${{ jobs.b }}"),
        "w.yml (Line: 6, Col: 14): Unrecognized named-value: 'jobs'. Located at position 1 within expression: jobs.b"
    );
}

const CONDITIONS: &str = r#"on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: a
      - run: b
        if: github.event_name == 'push'
      - run: c
        if: ${{ failure() && github.event_name == 'push' }}
      - run: d
        if: always()
      - run: e
        if: ${{ github.ref == 'refs/heads/dev' }}
      - run: f
        if: "!cancelled()"
"#;

#[test]
fn conditions_get_the_implicit_success() {
    let wf = read("w.yml", CONDITIONS.as_bytes()).unwrap_or_else(|p| panic!("{p:?}"));
    let allowed = andon_pipeline::schema::allowed(andon_pipeline::schema::STEP_IF);
    let holds = |i: usize, status: &'static str| {
        let c = &wf.jobs[0].steps[i].condition;
        andon_expr::eval_str(c, &allowed, &Status(status, contexts())).unwrap().truthy()
    };
    assert_eq!(wf.jobs[0].steps[1].condition, "success() && (github.event_name == 'push')");
    assert!(holds(0, "success") && !holds(0, "failure"), "empty means success()");
    assert!(holds(1, "success"));
    assert!(!holds(1, "failure"), "success() && … is implied");
    assert!(holds(2, "failure"));
    assert!(holds(3, "cancelled"));
    assert!(!holds(4, "success"));
    assert!(holds(5, "failure"), "a status function anywhere turns the default off");
}
