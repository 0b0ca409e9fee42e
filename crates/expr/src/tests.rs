//! Expression spans in strings, and the evaluation limits.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;

#[test]
fn expression_spans_skip_closing_braces_in_strings() {
    assert_eq!(expression_spans("a ${{ x }} b"), Ok(vec![(2, 5, 8, 10)]));
    assert_eq!(expression_spans("${{ 'a }} b' }}"), Ok(vec![(0, 3, 13, 15)]));
    assert_eq!(expression_spans("echo ${{ matrix.os"), Err(5));
    assert_eq!(expression_spans("no expressions"), Ok(vec![]));
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
