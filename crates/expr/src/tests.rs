//! Templates, `if:` conditions and host functions.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;

fn ctx() -> Object {
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

fn allowed() -> Allowed {
    Allowed {
        named_values: vec!["github".into(), "matrix".into()],
        functions: STATUS_FUNCTIONS.iter().map(|n| Function { name: n, min: 0, max: 0 }).collect(),
    }
}

/// A host whose status is fixed.
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

#[test]
fn templates_interpolate_and_keep_whole_values() {
    let a = allowed();
    let t = Template::parse("os=${{ matrix.os }} on ${{ github.event_name }}!", &a).unwrap();
    assert_eq!(t.render(&ctx()).unwrap(), "os=linux on push!");
    let whole = Template::parse("${{ matrix.include }}", &a).unwrap();
    assert!(matches!(whole.evaluate(&ctx()).unwrap(), Value::Array(_)));
    let plain = Template::parse("no expressions", &a).unwrap();
    assert!(!plain.has_expressions());
    assert_eq!(plain.render(&ctx()).unwrap(), "no expressions");
    let braces = Template::parse("${{ format('{{0}}') }}", &a).unwrap();
    assert_eq!(braces.render(&ctx()).unwrap(), "{0}");
    let quoted = Template::parse("${{ 'a }} b' }}", &a).unwrap();
    assert_eq!(quoted.render(&ctx()).unwrap(), "a }} b");
    let e = Template::parse("echo ${{ matrix.os", &a).unwrap_err();
    assert_eq!(e.offset, Some(5));
    let e = Template::parse("x ${{ secrets.token }}", &a).unwrap_err();
    assert_eq!(
        e.describe("x ${{ secrets.token }}"),
        "Unrecognized named-value: 'secrets'. Located at position 7 within expression: x ${{ secrets.token }}"
    );
}

#[test]
fn conditions_get_the_implicit_success() {
    let a = allowed();
    let eval = |cond: &str, status: &'static str| {
        let n = parse_condition(cond, &a).unwrap();
        evaluate(Some(&n), &Status(status, ctx())).unwrap().truthy()
    };
    assert!(eval("", "success"));
    assert!(!eval("", "failure"));
    assert!(eval("github.event_name == 'push'", "success"));
    assert!(!eval("github.event_name == 'push'", "failure"), "success() && … is implied");
    assert!(eval("${{ failure() && github.event_name == 'push' }}", "failure"));
    assert!(eval("always()", "cancelled"));
    assert!(!eval("${{ github.ref == 'refs/heads/dev' }}", "success"));
    assert!(eval("!cancelled()", "failure"), "a status function anywhere turns the default off");
}

#[test]
fn memory_budget_and_depth() {
    let mut big = Object::new();
    big.insert("s", Value::from("x".repeat(100_000)));
    let allowed = Allowed { named_values: vec!["big".into()], functions: vec![] };
    let mut c = Object::new();
    c.insert("big", Value::from(big));
    let e = eval_str("format('{0}{0}{0}{0}{0}{0}', big.s)", &allowed, &c).unwrap_err();
    assert_eq!(e.message, "The maximum allowed memory size was exceeded");
    assert!(eval_str("format('{0}{0}', big.s)", &allowed, &c).is_ok());
    let deep = format!("{}1{}", "(".repeat(60), ")".repeat(60));
    let e = parse(&deep, &allowed).unwrap_err();
    assert!(e.message.starts_with("Exceeded max expression depth 50"), "{e}");
    let long = "1 == ".repeat(5000) + "1";
    assert_eq!(parse(&long, &allowed).unwrap_err().message, "Exceeded max expression length 21000");
}
