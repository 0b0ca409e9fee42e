//! End-to-end tests of the template language, both function sets, errors and limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use crate::*;

/// A host with canned query results, the external URL Prometheus's tests use, a fixed
/// clock (2012-11-24 11:14:12 UTC) and one zone.
struct TestHost {
    samples: Vec<QuerySample>,
}

impl Host for TestHost {
    fn query(&self, _expr: &str) -> Result<Vec<QuerySample>, String> {
        Ok(self.samples.clone())
    }
    fn external_url(&self) -> &str {
        "http://testhost:9090/path/prefix"
    }
    fn path_prefix(&self) -> &str {
        "/path/prefix"
    }
    fn now(&self) -> f64 {
        1_353_755_652.0
    }
    fn time_zone(&self, name: &str, _unix_secs: i64) -> Option<(i32, String)> {
        (name == "Europe/Paris").then(|| (3600, "CET".to_owned()))
    }
}

fn host() -> TestHost {
    TestHost { samples: Vec::new() }
}

fn sample(labels: &[(&str, &str)], value: f64) -> QuerySample {
    QuerySample {
        labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        value,
    }
}

fn exec_with(funcs: Funcs, text: &str, data: &Value, h: &dyn Host) -> Result<String, Error> {
    Template::parse("test", text, funcs)?.execute(data, h)
}

/// Runs a Prometheus template.
fn run(text: &str, data: Value) -> String {
    match exec_with(Funcs::Prometheus, text, &data, &host()) {
        Ok(s) => s,
        Err(e) => panic!("{text}: {e}"),
    }
}

/// Runs an Alertmanager template.
fn run_am(text: &str, data: Value) -> String {
    match exec_with(Funcs::Alertmanager, text, &data, &host()) {
        Ok(s) => s,
        Err(e) => panic!("{text}: {e}"),
    }
}

/// The error text of a Prometheus template that must fail.
fn fail(text: &str, data: Value) -> String {
    match exec_with(Funcs::Prometheus, text, &data, &host()) {
        Ok(s) => panic!("{text}: expected an error, got {s:?}"),
        Err(e) => e.to_string(),
    }
}

fn fail_am(text: &str, data: Value) -> String {
    match exec_with(Funcs::Alertmanager, text, &data, &host()) {
        Ok(s) => panic!("{text}: expected an error, got {s:?}"),
        Err(e) => e.to_string(),
    }
}

fn nil() -> Value {
    Value::Nil
}

fn list<T: Into<Value>>(v: Vec<T>) -> Value {
    Value::from(v)
}

/// Test data in the spirit of Go's exec tests.
fn data() -> Value {
    Value::map([
        ("I", Value::Int(17)),
        ("F", Value::Float(1.5)),
        ("S", Value::from("xyz")),
        ("T", Value::Bool(true)),
        ("Fa", Value::Bool(false)),
        ("SI", list(vec![3i64, 4, 5])),
        ("SE", list(Vec::<Value>::new())),
        ("MSI", Value::map([("one", 1i64), ("two", 2), ("three", 3)])),
        ("MSS", Value::map([("a", "x"), ("b", "y")])),
        ("Empty", Value::map(Vec::<(String, Value)>::new())),
        ("Nested", Value::map([("Inner", Value::map([("Leaf", "deep")]))])),
        ("Nil", Value::Nil),
    ])
}

// ---- Text, literals, printing -------------------------------------------------------

#[test]
fn text_and_literals() {
    assert_eq!(run("plain text", nil()), "plain text");
    assert_eq!(run("", nil()), "");
    assert_eq!(run("{{ 1 }}", nil()), "1");
    assert_eq!(run("{{ -7 }} {{ +3 }}", nil()), "-7 3");
    assert_eq!(
        run("{{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }}", nil()),
        "31 15 15 5 1000"
    );
    assert_eq!(
        run("{{ 1.5 }} {{ 1e3 }} {{ 1.0 }} {{ .5 }} {{ 0x1p-2 }} {{ 1e6 }} {{ 1e-5 }}", nil()),
        "1.5 1000 1 0.5 0.25 1e+06 1e-05"
    );
    assert_eq!(run("{{ 'a' }} {{ '\\n' }} {{ '\\u00e9' }} {{ '\\x41' }}", nil()), "97 10 233 65");
    assert_eq!(
        run(r#"{{ "a\tb\n\"q\"\\ \x41\101\u00e9\U0001F600" }}"#, nil()),
        "a\tb\n\"q\"\\ AAé😀"
    );
    assert_eq!(run("{{ `raw \\n ` }}", nil()), "raw \\n ");
    assert_eq!(run("{{ true }} {{ false }}", nil()), "true false");
    assert_eq!(run("{{ print nil }}", nil()), "<nil>");
    assert_eq!(run("{{\n1\n}}", nil()), "1");
}

#[test]
fn values_print_like_go() {
    assert_eq!(
        run("{{ .SI }} {{ .MSI }} {{ .SE }} {{ .Empty }}", data()),
        "[3 4 5] map[one:1 three:3 two:2] [] map[]"
    );
    assert_eq!(run("{{ .F }} {{ .I }} {{ .T }}", data()), "1.5 17 true");
    assert_eq!(run("{{ .Nil }} {{ .Missing }}", data()), "<no value> <no value>");
    assert_eq!(run("{{ .Foo }}", nil()), "<no value>");
    assert_eq!(
        run("{{ 100000.0 }} {{ 1234567.0 }} {{ 0.0001 }} {{ 123456789.0 }}", nil()),
        "100000 1.234567e+06 0.0001 1.23456789e+08"
    );
}

#[test]
fn trim_markers() {
    assert_eq!(run("a  {{- 3 -}}  b", nil()), "a3b");
    assert_eq!(run("a \n\t{{- 3 }} b", nil()), "a3 b");
    assert_eq!(run("a {{ 3 -}} \n\n b", nil()), "a 3b");
    assert_eq!(run("a {{-3}} b", nil()), "a -3 b");
    assert_eq!(run("a {{ 3 -}}", nil()), "a 3");
    assert_eq!(
        run("{{- range .SI }}\n  - {{ . }}\n{{- end }}\n", data()),
        "\n  - 3\n  - 4\n  - 5\n"
    );
    assert_eq!(run("x\n{{- /* c */ -}}\ny", nil()), "xy");
}

#[test]
fn comments() {
    assert_eq!(run("a{{/* comment */}}b", nil()), "ab");
    assert_eq!(run("a{{/* multi\nline */}}b", nil()), "ab");
    assert_eq!(run("a {{- /* c */}} b", nil()), "a b");
    assert_eq!(
        fail("{{/* x */ 1}}", nil()),
        "template: test:1:1: comment ends before closing delimiter"
    );
    assert_eq!(fail("a\n{{/* x ", nil()), "template: test:2:1: unclosed comment");
}

// ---- Fields and variables ------------------------------------------------------------

#[test]
fn fields_and_maps() {
    assert_eq!(run("{{ .Nested.Inner.Leaf }}", data()), "deep");
    assert_eq!(run("{{ .MSS.a }}{{ .MSS.zzz }}|", data()), "x|");
    assert_eq!(run("{{ .MSI.zzz }}", data()), "<no value>");
    assert_eq!(run("{{ .Nil.a.b }}", data()), "<no value>");
    assert_eq!(run("{{ $.S }}", data()), "xyz");
    assert_eq!(run("{{ with .Nested }}{{ .Inner.Leaf }}{{ $.S }}{{ end }}", data()), "deepxyz");
    assert_eq!(run("{{ (.Nested).Inner.Leaf }}", data()), "deep");
    assert_eq!(
        fail("{{ .S.x }}", data()),
        "template: test:1:4: executing \"test\" at <.S.x>: can't evaluate field x in type string"
    );
    assert_eq!(
        fail("{{ .SI.x }}", data()),
        "template: test:1:4: executing \"test\" at <.SI.x>: can't evaluate field x in type []interface {}"
    );
    assert_eq!(
        fail("{{ .MSI.one 1 }}", data()),
        "template: test:1:4: executing \"test\" at <.MSI.one>: one is not a method but has arguments"
    );
    assert_eq!(
        fail("{{ 1 | .MSI.one }}", data()),
        "template: test:1:8: executing \"test\" at <.MSI.one>: one is not a method but has arguments"
    );
}

#[test]
fn variables() {
    assert_eq!(run("{{ $x := 1 }}{{ $x }}", nil()), "1");
    assert_eq!(run("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", nil()), "2");
    assert_eq!(run("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", nil()), "2");
    assert_eq!(
        run("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", nil()),
        "21"
    );
    assert_eq!(run("{{ $m := .MSS }}{{ $m.b }}", data()), "y");
    assert_eq!(run("{{ $ }}", Value::Int(5)), "5");
    assert_eq!(run("{{ with $x := .S }}{{ $x }}{{ . }}{{ end }}", data()), "xyzxyz");
    assert_eq!(run("{{ $x := .S | printf \"%s!\" }}{{ $x }}", data()), "xyz!");
    assert_eq!(run("{{ range $i := .SI }}{{ $x := $i }}{{ $x }}{{ end }}", data()), "345");
    assert_eq!(fail("{{ $x }}", nil()), "template: test:1:4: undefined variable \"$x\"");
    assert_eq!(fail("\n  {{ $y = 3 }}", nil()), "template: test:2:6: undefined variable \"$y\"");
    assert!(fail("{{ $x 1 }}", nil()).contains("undefined variable"));
    assert_eq!(
        fail("{{ $x := 1 }}{{ $x 2 }}", nil()),
        "template: test:1:17: executing \"test\" at <$x 2>: can't give argument to non-function $x"
    );
}

// ---- Control structures --------------------------------------------------------------

#[test]
fn if_else_chains() {
    let t = "{{ if eq .I 1 }}one{{ else if eq .I 17 }}seventeen{{ else }}other{{ end }}";
    assert_eq!(run(t, data()), "seventeen");
    assert_eq!(run("{{ if .Fa }}a{{ else if .Fa }}b{{ else if .T }}c{{ end }}", data()), "c");
    assert_eq!(run("{{ if .Fa }}a{{ end }}", data()), "");
    assert_eq!(run("{{ if $x := .I }}{{ $x }}{{ end }}", data()), "17");
    assert_eq!(run("{{ if $x := 0 }}yes{{ else }}{{ $x }}{{ end }}", data()), "0");
}

#[test]
fn truthiness_matches_go() {
    let cases: Vec<(Value, bool)> = vec![
        (Value::Nil, false),
        (Value::Bool(false), false),
        (Value::Bool(true), true),
        (Value::Int(0), false),
        (Value::Int(-1), true),
        (Value::Float(0.0), false),
        (Value::Float(0.1), true),
        (Value::from(""), false),
        (Value::from(" "), true),
        (list(Vec::<Value>::new()), false),
        (list(vec![0i64]), true),
        (Value::map(Vec::<(String, Value)>::new()), false),
        (Value::map([("a", 0i64)]), true),
        (Value::Duration(0), false),
        (Value::Time(Time::zero()), true),
    ];
    for (v, want) in cases {
        assert_eq!(
            run("{{ if . }}T{{ else }}F{{ end }}", v.clone()),
            if want { "T" } else { "F" },
            "{v:?}"
        );
        assert_eq!(run("{{ not . }}", v.clone()), if want { "false" } else { "true" }, "{v:?}");
    }
}

#[test]
fn with_else_with() {
    assert_eq!(run("{{ with .S }}{{ . }}{{ end }}", data()), "xyz");
    assert_eq!(run("{{ with .SE }}{{ . }}{{ else }}empty{{ end }}", data()), "empty");
    assert_eq!(run("{{ with .Fa }}a{{ else with .I }}{{ . }}{{ else }}c{{ end }}", data()), "17");
    assert_eq!(
        run("{{ with .Fa }}a{{ else with .SE }}b{{ else }}{{ .S }}{{ end }}", data()),
        "xyz"
    );
}

#[test]
fn range_forms() {
    assert_eq!(run("{{ range .SI }}-{{ . }}-{{ end }}", data()), "-3--4--5-");
    assert_eq!(run("{{ range $x := .SI }}<{{ $x }}>{{ end }}", data()), "<3><4><5>");
    assert_eq!(
        run("{{ range $i, $x := .SI }}<{{ $i }}={{ $x }}>{{ end }}", data()),
        "<0=3><1=4><2=5>"
    );
    assert_eq!(run("{{ range .MSI }}-{{ . }}-{{ end }}", data()), "-1--3--2-");
    assert_eq!(
        run("{{ range $k, $v := .MSI }}{{ $k }}={{ $v }};{{ end }}", data()),
        "one=1;three=3;two=2;"
    );
    assert_eq!(run("{{ range .SE }}x{{ else }}empty{{ end }}", data()), "empty");
    assert_eq!(run("{{ range .Nil }}x{{ else }}nil{{ end }}", data()), "nil");
    assert_eq!(run("{{ range .Empty }}x{{ else }}none{{ end }}", data()), "none");
    assert_eq!(run("{{ range 3 }}{{ . }}{{ end }}", nil()), "012");
    assert_eq!(run("{{ range $i := 3 }}{{ $i }}{{ end }}", nil()), "012");
    assert_eq!(run("{{ range 0 }}x{{ else }}zero{{ end }}", nil()), "zero");
    assert_eq!(
        run("{{ range .SI }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}", data()),
        "3"
    );
    assert_eq!(
        run("{{ range .SI }}{{ if eq . 4 }}{{ continue }}{{ end }}{{ . }}{{ end }}", data()),
        "35"
    );
    assert_eq!(
        run(
            "{{ range .SI }}{{ range $.SI }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }};{{ end }}",
            data()
        ),
        "3;3;3;"
    );
    assert_eq!(
        run("{{ $i := 0 }}{{ $e := 0 }}{{ range $i, $e = .SI }}{{ end }}{{ $i }}{{ $e }}", data()),
        "25"
    );
    assert_eq!(
        fail("{{ range .S }}{{ end }}", data()),
        "template: test:1:4: executing \"test\" at <.S>: range can't iterate over xyz"
    );
    assert_eq!(
        fail("{{ range $i, $e := 3 }}{{ end }}", nil()),
        "template: test:1:4: executing \"test\" at <$i, $e := 3>: can't use 3 to iterate over more than one variable"
    );
}

#[test]
fn define_template_block() {
    assert_eq!(
        run(
            "{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" .S }}{{ template \"x\" }}",
            data()
        ),
        "[xyz][<no value>]"
    );
    assert_eq!(run("{{ define `x` }}{{ $ }}{{ end }}{{ template \"x\" 5 }}", nil()), "5");
    assert_eq!(run("{{ block \"b\" .S }}<{{ . }}>{{ end }}", data()), "<xyz>");
    assert_eq!(
        run("{{define \"x\"}}{{.arg0}} {{.arg1}}{{end}}{{template \"x\" (args 1 \"2\")}}", nil()),
        "1 2"
    );
    // A later definition (from an added text) replaces the block's default body.
    let mut t =
        Template::parse("main", "{{ block \"b\" . }}default{{ end }}", Funcs::Prometheus).unwrap();
    assert_eq!(t.execute(&nil(), &host()).unwrap(), "default");
    t.add("override", "{{ define \"b\" }}custom{{ end }}").unwrap();
    assert_eq!(t.execute(&nil(), &host()).unwrap(), "custom");
    // Recursion through templates works until the depth limit.
    let rec = "{{ define \"r\" }}{{ if . }}{{ len . }}{{ template \"r\" (slice . 1) }}{{ end }}{{ end }}{{ template \"r\" . }}";
    assert_eq!(run(rec, list(vec![1i64, 2, 3])), "321");
    assert_eq!(
        fail("{{ template \"nope\" }}", nil()),
        "template: test:1:4: executing \"test\" at <{{template \"nope\"}}>: template \"nope\" not defined"
    );
}

#[test]
fn template_sets_and_named_execution() {
    let mut t = Template::parse(
        "a.tmpl",
        "{{ define \"greet\" }}hello {{ . }}{{ end }}",
        Funcs::Alertmanager,
    )
    .unwrap();
    t.add("b.tmpl", "{{ define \"shout\" }}{{ template \"greet\" . }}!{{ end }}body of b").unwrap();
    assert_eq!(t.execute_named("shout", &Value::from("bob"), &host()).unwrap(), "hello bob!");
    assert_eq!(t.execute_named("b.tmpl", &nil(), &host()).unwrap(), "body of b");
    assert_eq!(t.names(), ["a.tmpl", "b.tmpl", "greet", "shout"]);
    assert!(t.has("greet"));
    // An empty redefinition does not replace a real one.
    t.add("c.tmpl", "{{ define \"greet\" }}{{ end }}").unwrap();
    assert_eq!(t.execute_named("greet", &Value::from("x"), &host()).unwrap(), "hello x");
    let e = t.execute_named("missing", &nil(), &host()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: a.tmpl: no template \"missing\" associated with template \"a.tmpl\""
    );
    // Errors inside an added text point into that text.
    t.add("d.tmpl", "{{ define \"bad\" }}\n  {{ index . 5 }}{{ end }}").unwrap();
    let e = t.execute_named("bad", &list(vec![1i64]), &host()).unwrap_err();
    assert_eq!((e.name.as_str(), e.line, e.col), ("d.tmpl", 2, 6));
    assert_eq!(
        e.message,
        "executing \"bad\" at <index . 5>: error calling index: index out of range: 5"
    );
}

#[test]
fn pipelines_and_parentheses() {
    assert_eq!(run("{{ \"x\" | printf \"%s-%s\" \"y\" }}", nil()), "y-x");
    assert_eq!(run("{{ .S | len | printf \"%03d\" }}", data()), "003");
    assert_eq!(run("{{ (1) }} {{ (printf \"%d\" 1) }} {{ $x := (2) }}{{ $x }}", nil()), "1 1 2");
    assert_eq!(run("{{ printf \"%d-%d\" (len .SI) (index .SI 0) }}", data()), "3-3");
    assert_eq!(run("{{ (index .MSS \"a\") | printf \"<%s>\" }}", data()), "<x>");
    assert_eq!(
        fail("{{ 1 | 2 }}", nil()),
        "template: test:1:8: non executable command in pipeline stage 2"
    );
    assert_eq!(
        fail("{{ 1 2 }}", nil()),
        "template: test:1:4: executing \"test\" at <1 2>: can't give argument to non-function 1"
    );
    assert_eq!(
        fail("{{ nil }}", nil()),
        "template: test:1:4: executing \"test\" at <nil>: nil is not a command"
    );
    assert_eq!(
        fail("{{ 18446744073709551615 }}", nil()),
        "template: test:1:4: executing \"test\" at <18446744073709551615>: 18446744073709551615 overflows int"
    );
}

// ---- Builtins ------------------------------------------------------------------------

#[test]
fn and_or_not_short_circuit() {
    assert_eq!(
        run("{{ or 0 1 2 }} {{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 \"\" }}|", nil()),
        "1 0 2 |"
    );
    assert_eq!(run("{{ or 1 (index nil 0) }}", nil()), "1");
    assert_eq!(run("{{ and 0 (index nil 0) }}", nil()), "0");
    assert_eq!(run("{{ 3 | and 1 }} {{ 0 | or 0 }}", nil()), "3 0");
    assert_eq!(run("{{ if and .T (not .Fa) }}yes{{ end }}", data()), "yes");
    assert_eq!(
        fail("{{ and }}", nil()),
        "template: test:1:4: executing \"test\" at <and>: wrong number of args for and: want at least 1 got 0"
    );
    assert_eq!(
        fail("{{ not 1 2 }}", nil()),
        "template: test:1:4: executing \"test\" at <not 1 2>: wrong number of args for not: want 1 got 2"
    );
}

#[test]
fn len_index_slice() {
    assert_eq!(
        run("{{ len .SI }} {{ len .S }} {{ len .MSI }} {{ len \"日本\" }}", data()),
        "3 3 3 6"
    );
    assert_eq!(run("{{ index .SI 1 }} {{ index .MSS \"b\" }} {{ index .S 0 }}", data()), "4 y 120");
    assert_eq!(run("{{ index .MSI \"nope\" }} {{ index .MSS \"nope\" }}|", data()), "<no value> |");
    assert_eq!(
        run("{{ index .Nested \"Inner\" \"Leaf\" }} {{ index .SI }}", data()),
        "deep [3 4 5]"
    );
    assert_eq!(
        run(
            "{{ slice .SI 1 }} {{ slice .SI 1 2 }} {{ slice .S 1 2 }} {{ slice .S }} {{ slice .SI 0 1 2 }}",
            data()
        ),
        "[4 5] [4] y xyz [3]"
    );
    let e = |t: &str| fail(t, data()).split(": ").skip(3).collect::<Vec<_>>().join(": ");
    assert_eq!(e("{{ index .SI 3 }}"), "error calling index: index out of range: 3");
    assert_eq!(e("{{ index .SI -1 }}"), "error calling index: index out of range: -1");
    assert_eq!(
        e("{{ index .SI \"a\" }}"),
        "error calling index: cannot index slice/array with type string"
    );
    assert_eq!(
        e("{{ index .MSI 1 }}"),
        "error calling index: value has type int; should be string"
    );
    assert_eq!(e("{{ index nil 1 }}"), "error calling index: index of untyped nil");
    assert_eq!(e("{{ index .I 1 }}"), "error calling index: can't index item of type int");
    assert_eq!(e("{{ slice .SI 2 1 }}"), "error calling slice: invalid slice index: 2 > 1");
    assert_eq!(e("{{ slice .SI 4 }}"), "error calling slice: index out of range: 4");
    assert_eq!(e("{{ slice .S 1 2 3 }}"), "error calling slice: cannot 3-index slice a string");
    assert_eq!(e("{{ slice .I 1 }}"), "error calling slice: can't slice item of type int");
    assert_eq!(e("{{ len .I }}"), "error calling len: len of type int");
    assert_eq!(e("{{ len nil }}"), "error calling len: len of nil pointer");
}

#[test]
fn print_family() {
    assert_eq!(run("{{ print 1 2 \"a\" 3 \"b\" }}", nil()), "1 2a3b");
    assert_eq!(run("{{ println 1 \"a\" }}", nil()), "1 a\n");
    assert_eq!(
        run(
            "{{ printf \"%d %s %v %q %5.2f|%-4d|%x %t %c %%\" 5 \"s\" .SI \"q\" 3.14159 7 255 true 65 }}",
            data()
        ),
        "5 s [3 4 5] \"q\"  3.14|7   |ff true A %"
    );
    assert_eq!(run("{{ printf \"%d\" \"x\" }}", nil()), "%!d(string=x)");
    assert_eq!(run("{{ printf \"%s %s\" \"a\" }}", nil()), "a %!s(MISSING)");
    assert_eq!(run("{{ printf \"%s\" \"a\" \"b\" }}", nil()), "a%!(EXTRA string=b)");
    assert_eq!(run("{{ printf \"%v %v\" .MSS .Missing }}", data()), "map[a:x b:y] <nil>");
    assert_eq!(run("{{ printf \"%*d|%.*f\" 5 42 2 3.14159 }}", nil()), "   42|3.14");
    assert_eq!(
        run("{{ printf \"%T %T %T %T %T\" 1 1.5 \"s\" .SI .MSI }}", data()),
        "int float64 string []interface {} map[string]interface {}"
    );
    assert_eq!(
        run("{{ printf \"%v %.3g %e %G\" 1e21 1234.5678 123456.789 1e-7 }}", nil()),
        "1e+21 1.23e+03 1.234568e+05 1E-07"
    );
    assert_eq!(
        fail("{{ printf 1 }}", nil()),
        "template: test:1:4: executing \"test\" at <printf 1>: wrong type for value; expected string; got int"
    );
}

#[test]
fn escapers() {
    assert_eq!(
        run("{{ html \"<a href='x'>&</a>\" }}", nil()),
        "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
    );
    assert_eq!(run("{{ html .Missing }}", data()), "&lt;no value&gt;");
    assert_eq!(run("{{ html 1 2 }}", nil()), "1 2");
    assert_eq!(run("{{ js \"it's <b>\" }}", nil()), "it\\'s \\u003Cb\\u003E");
    assert_eq!(
        run("{{ urlquery \"http://www.example.org/\" }}", nil()),
        "http%3A%2F%2Fwww.example.org%2F"
    );
    assert_eq!(run("{{ \"a b\" | urlquery }}", nil()), "a+b");
}

#[test]
fn comparisons() {
    assert_eq!(
        run(
            "{{ eq 1 1 }} {{ eq 1 2 }} {{ eq 1 2 3 1 }} {{ eq \"a\" \"a\" }} {{ eq .T true }}",
            data()
        ),
        "true false true true true"
    );
    assert_eq!(run("{{ ne 1 2 }} {{ ne \"a\" \"a\" }}", nil()), "true false");
    assert_eq!(
        run(
            "{{ lt 1 2 }} {{ le 2 2 }} {{ gt 1.5 2.5 }} {{ ge \"b\" \"a\" }} {{ lt \"a\" \"b\" }}",
            nil()
        ),
        "true true false true true"
    );
    assert_eq!(
        run("{{ eq .Missing nil }} {{ eq .Missing 1 }}", data()),
        "<no value> false".replace("<no value>", "true")
    );
    assert_eq!(run("{{ if gt .F 1.0 }}big{{ end }}", data()), "big");
    let e = |t: &str| fail(t, data()).split(": ").skip(3).collect::<Vec<_>>().join(": ");
    assert_eq!(e("{{ eq 1 \"a\" }}"), "error calling eq: incompatible types for comparison");
    assert_eq!(e("{{ gt .F 1 }}"), "error calling gt: incompatible types for comparison");
    assert_eq!(e("{{ lt true false }}"), "error calling lt: invalid type for comparison");
    assert_eq!(e("{{ lt .SI 1 }}"), "error calling lt: invalid type for comparison");
    assert_eq!(
        e("{{ eq .SI .SI }}"),
        "error calling eq: non-comparable type [3 4 5]: []interface {}"
    );
    assert_eq!(e("{{ eq 1 }}"), "error calling eq: missing argument for comparison");
    assert_eq!(e("{{ ne 1 }}"), "wrong number of args for ne: want 2 got 1");
}

// ---- Prometheus functions (cases follow Prometheus's own template tests) ---------------

fn prom_host(samples: Vec<QuerySample>) -> TestHost {
    TestHost { samples }
}

fn run_q(text: &str, samples: Vec<QuerySample>) -> String {
    exec_with(Funcs::Prometheus, text, &nil(), &prom_host(samples))
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn prometheus_query_functions() {
    let metric_a = vec![sample(&[("__name__", "metric"), ("instance", "a")], 11.0)];
    assert_eq!(run_q("{{ query \"1.5\" | first | value }}", vec![sample(&[], 1.5)]), "1.5");
    assert_eq!(
        run_q("{{ query \"metric{instance='a'}\" | first | value }}", metric_a.clone()),
        "11"
    );
    assert_eq!(
        run_q(
            "{{ query \"metric{instance='a'}\" | first | label \"instance\" }}",
            metric_a.clone()
        ),
        "a"
    );
    assert_eq!(
        run_q("{{ query \"metric{instance='a'}\" | first | label \"foo\" }}", metric_a.clone()),
        ""
    );
    assert_eq!(
        run_q("{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}", metric_a.clone()),
        ""
    );
    assert_eq!(
        run_q(
            "{{ query \"metric{__value__='a'}\" | first | strvalue }}",
            vec![sample(&[("__name__", "metric"), ("__value__", "a")], 11.0)]
        ),
        "a"
    );
    let two = vec![
        sample(&[("__name__", "metric"), ("instance", "b")], 21.0),
        sample(&[("__name__", "metric"), ("instance", "a")], 11.0),
    ];
    assert_eq!(
        run_q(
            "{{ range query \"metric\" | sortByLabel \"instance\" }}{{.Labels.instance}}:{{.Value}}: {{end}}",
            two.clone()
        ),
        "a:11: b:21: "
    );
    assert_eq!(
        run_q("{{ with query \"metric\" }}{{ len . }}{{ (index . 0).Value }}{{ end }}", two),
        "221"
    );
    let e =
        exec_with(Funcs::Prometheus, "{{ query \"missing\" | first }}", &nil(), &prom_host(vec![]))
            .unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: test:1:22: executing \"test\" at <first>: error calling first: first() called on vector with no elements"
    );
    let e = exec_with(
        Funcs::Prometheus,
        "{{ (query \"missing\").banana }}",
        &nil(),
        &prom_host(vec![]),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: test:1:21: executing \"test\" at <(query \"missing\").banana>: can't evaluate field banana in type []interface {}"
    );
    let e = exec_with(Funcs::Prometheus, "{{ query \"up\" }}", &nil(), &NoHost).unwrap_err();
    assert_eq!(
        e.message,
        "executing \"test\" at <query \"up\">: error calling query: no query engine"
    );
}

#[test]
fn prometheus_string_functions() {
    assert_eq!(run("{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}", nil()), "xa");
    assert_eq!(run("{{ reReplaceAll \"^(.*):.*$\" \"${1}\" \"host:9100\" }}", nil()), "host");
    assert_eq!(run("{{ \"aa bb CC\" | title }}", nil()), "Aa Bb CC");
    assert_eq!(run("{{ \"aa bb CC\" | toUpper }}", nil()), "AA BB CC");
    assert_eq!(run("{{ \"aA bB CC\" | toLower }}", nil()), "aa bb cc");
    assert_eq!(run("{{ match \"a+\" \"aa\" }} {{ match \"a+\" \"b\" }}", nil()), "true false");
    assert_eq!(run("{{ graphLink \"up\" }}", nil()), "/graph?g0.expr=up&g0.tab=0");
    assert_eq!(
        run("{{ tableLink \"rate(x[5m]) > 1\" }}", nil()),
        "/graph?g0.expr=rate%28x%5B5m%5D%29+%3E+1&g0.tab=1"
    );
    assert_eq!(run("{{ \"<b>\" | safeHtml }}", nil()), "<b>");
    assert_eq!(run("{{ \"<b>\" }}", nil()), "<b>");
    assert_eq!(run("{{ urlQueryEscape \"a b&c\" }}", nil()), "a+b%26c");
    let e = fail("{{ reReplaceAll \"(\" \"x\" \"y\" }}", nil());
    assert!(e.contains("error calling reReplaceAll: regexp: Compile(\"(\"): "), "{e}");
    for (input, port, domain) in [
        ("foo.example.com", "foo.example.com", "foo"),
        ("foo.example.com:12345", "foo.example.com", "foo:12345"),
        ("192.0.2.1", "192.0.2.1", "192.0.2.1"),
        ("192.0.2.1:12345", "192.0.2.1", "192.0.2.1:12345"),
        ("2001:0DB8::1", "2001:0DB8::1", "2001:0DB8::1"),
        ("[2001:0DB8::1]:12345", "2001:0DB8::1", "[2001:0DB8::1]:12345"),
        ("[2001:0DB8::1]::12345", "[2001:0DB8::1]::12345", "[2001:0DB8::1]::12345"),
    ] {
        assert_eq!(run("{{ . | stripPort }}", Value::from(input)), port);
        assert_eq!(run("{{ . | stripDomain }}", Value::from(input)), domain);
    }
}

#[test]
fn prometheus_humanize_family() {
    let floats = |v: &[f64]| list(v.to_vec());
    let strs = |v: &[&str]| list(v.to_vec());
    let ints = |v: &[i64]| list(v.to_vec());
    let h = "{{ range . }}{{ humanize . }}:{{ end }}";
    assert_eq!(run(h, floats(&[0.0, 1.0, 1234567.0, 0.12])), "0:1:1.235M:120m:");
    assert_eq!(run(h, strs(&["0.0", "1.0", "1234567.0", ".12"])), "0:1:1.235M:120m:");
    assert_eq!(run(h, ints(&[0, -1, 1, 1234567, i64::MAX])), "0:-1:1:1.235M:9.223E:");
    assert_eq!(run("{{ humanize 0.00123 }}", nil()), "1.23m");
    let h = "{{ range . }}{{ humanize1024 . }}:{{ end }}";
    assert_eq!(run(h, floats(&[0.0, 1.0, 1048576.0, 0.12])), "0:1:1Mi:0.12:");
    assert_eq!(run(h, strs(&["0.0", "1.0", "1048576.0", ".12"])), "0:1:1Mi:0.12:");
    assert_eq!(run(h, ints(&[0, -1, 1, 1234567, i64::MAX])), "0:-1:1:1.177Mi:8Ei:");
    let h = "{{ range . }}{{ humanizeDuration . }}:{{ end }}";
    assert_eq!(
        run(
            h,
            floats(&[
                0.0,
                1.0,
                60.0,
                3600.0,
                86400.0,
                86400.0 + 3600.0,
                -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0),
                899.99
            ])
        ),
        "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:"
    );
    assert_eq!(
        run(h, strs(&["0", "1", "60", "3600", "86400"])),
        "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:"
    );
    assert_eq!(
        run(h, floats(&[0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345])),
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"
    );
    assert_eq!(
        run(h, strs(&[".1", ".0001", ".12345", "60.1", "60.5", "1.2345", "12.345"])),
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"
    );
    assert_eq!(run(h, ints(&[0, -1, 1, 1234567])), "0s:-1s:1s:14d 6h 56m 7s:");
    assert_eq!(
        run("{{ humanizeDuration 3.5 }} {{ humanizeDuration 90061 }}", nil()),
        "3.5s 1d 1h 1m 1s"
    );
    let all = "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}";
    let want = "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:";
    assert_eq!(run(all, floats(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN])), want);
    assert_eq!(run(all, strs(&["+Inf", "-Inf", "NaN"])), want);
    assert_eq!(
        run(
            "{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}",
            nil()
        ),
        "-22.22%:0%:12.35%:123.5%"
    );
    assert_eq!(
        run(
            "{{ range . }}{{ humanizePercentage . }}:{{ end }}",
            ints(&[0, -1, 1, 1234567, i64::MAX])
        ),
        "0%:-100%:100%:1.235e+08%:9.223e+20%:"
    );
    assert_eq!(
        run(
            r#"{{ "-0.22222" | humanizePercentage }}:{{ "0.0" | humanizePercentage }}:{{ "0.1234567" | humanizePercentage }}:{{ "1.23456" | humanizePercentage }}"#,
            nil()
        ),
        "-22.22%:0%:12.35%:123.5%"
    );
    assert_eq!(run("{{ humanizePercentage 0.1234 }}", nil()), "12.34%");
    assert_eq!(
        run(
            "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
            ints(&[0, -1, 1, 1234567, 9223372036])
        ),
        "1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:"
    );
    assert_eq!(
        run("{{ 1435065584.128 | humanizeTimestamp }}", nil()),
        "2015-06-23 13:19:44.128 +0000 UTC"
    );
    assert_eq!(
        run(r#"{{ "1435065584.128" | humanizeTimestamp }}"#, nil()),
        "2015-06-23 13:19:44.128 +0000 UTC"
    );
}

#[test]
fn prometheus_humanize_errors() {
    for f in ["humanize", "humanize1024", "humanizeDuration"] {
        assert_eq!(
            fail(&format!("{{{{ {f} \"one\" }}}}"), nil()),
            format!(
                "template: test:1:4: executing \"test\" at <{f} \"one\">: error calling {f}: strconv.ParseFloat: parsing \"one\": invalid syntax"
            )
        );
    }
    assert_eq!(
        fail("{{ \"one\" | humanizePercentage }}", nil()),
        "template: test:1:12: executing \"test\" at <humanizePercentage>: error calling humanizePercentage: strconv.ParseFloat: parsing \"one\": invalid syntax"
    );
    assert_eq!(
        fail("{{ range . }}{{ humanizeTimestamp . }}:{{ end }}", list(vec![i64::MIN, i64::MAX])),
        "template: test:1:17: executing \"test\" at <humanizeTimestamp .>: error calling humanizeTimestamp: -9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64"
    );
    assert_eq!(
        fail("{{ humanize .SI }}", data()),
        "template: test:1:4: executing \"test\" at <humanize .SI>: error calling humanize: can't convert []interface {} to float"
    );
    assert!(
        fail("{{ humanize }}", nil()).ends_with("wrong number of args for humanize: want 1 got 0")
    );
}

#[test]
fn prometheus_time_functions() {
    assert_eq!(run("{{ (1435065584.128 | toTime).Format \"2006\" }}", nil()), "2015");
    assert_eq!(run(r#"{{ ("1435065584.128" | toTime).Format "2006" }}"#, nil()), "2015");
    assert_eq!(run("{{ 1657155181 | toTime }}", nil()), "2022-07-07 00:53:01 +0000 UTC");
    assert_eq!(run("{{ (1800 | toDuration).String }}", nil()), "30m0s");
    assert_eq!(
        run(r#"{{ ("1800" | toDuration).String }} {{ 90 | toDuration }}"#, nil()),
        "30m0s 1m30s"
    );
    assert_eq!(run("{{ now }}", nil()), "1.353755652e+09");
    assert_eq!(
        run("{{ (now | toTime).Format \"Mon Jan 2 15:04:05 2006\" }}", nil()),
        "Sat Nov 24 11:14:12 2012"
    );
    assert_eq!(
        run("{{ (\"-30m\" | parseDuration | toDuration | (now | toTime).Add).UnixMilli }}", nil()),
        "1353753852000"
    );
    assert_eq!(run("{{ printf \"%0.2f\" (parseDuration \"1h2m10ms\") }}", nil()), "3720.01");
    assert_eq!(run("{{ printf \"%0.2f\" (parseDuration \"-1h2m10ms\") }}", nil()), "-3720.01");
    assert_eq!(run("{{ parseDuration \"1d\" }}", nil()), "86400");
    assert_eq!(
        fail("{{ parseDuration \"1x\" }}", nil()),
        "template: test:1:4: executing \"test\" at <parseDuration \"1x\">: error calling parseDuration: not a valid duration string: \"1x\""
    );
    assert!(fail("{{ toTime 1e300 }}", nil()).ends_with("error calling toTime: 1e+300 cannot be represented as a nanoseconds timestamp since it overflows int64"));
    assert!(
        fail("{{ toTime \"NaN\" }}", nil()).ends_with("error calling toTime: value is NaN or Inf")
    );
    let t = "{{ $t := 1353755652 | toTime }}{{ $t.Year }}-{{ $t.Month }}-{{ $t.Day }} {{ $t.Hour }}:{{ $t.Minute }}:{{ $t.Second }} {{ $t.Weekday }} {{ $t.Unix }} {{ $t.UTC.IsZero }}";
    assert_eq!(run(t, nil()), "2012-11-24 11:14:12 Saturday 1353755652 false");
    let d = "{{ $d := 5400.5 | toDuration }}{{ $d.Seconds }} {{ $d.Minutes }} {{ $d.Hours }} {{ $d.Milliseconds }}";
    assert_eq!(run(d, nil()), "5400.5 90.00833333333334 1.500138888888889 5400500");
}

#[test]
fn prometheus_urls() {
    assert_eq!(run("{{ pathPrefix }}", nil()), "/path/prefix");
    assert_eq!(run("{{ externalURL }}", nil()), "http://testhost:9090/path/prefix");
}

#[test]
fn unknown_function_is_a_parse_error() {
    assert_eq!(fail("{{ foo }}", nil()), "template: test:1:4: function \"foo\" not defined");
    assert_eq!(
        fail("{{ 1 }}\n{{ .X | bar 1 }}", nil()),
        "template: test:2:9: function \"bar\" not defined"
    );
    // Each set knows only its own functions.
    assert!(Template::parse("t", "{{ dict }}", Funcs::Prometheus).is_err());
    assert!(Template::parse("t", "{{ humanize 1 }}", Funcs::Alertmanager).is_err());
    assert!(Template::parse("t", "{{ toUpper `a` }}", Funcs::Builtins).is_err());
    assert!(Template::parse("t", "{{ printf `a` }}", Funcs::Builtins).is_ok());
}

// ---- Alertmanager ----------------------------------------------------------------------

#[test]
fn alertmanager_string_functions() {
    assert_eq!(run_am("{{ \"abc\" | toUpper }}", nil()), "ABC");
    assert_eq!(run_am("{{ \"ABC\" | toLower }}", nil()), "abc");
    assert_eq!(run_am("{{ \"abc\" | title }} {{ \"aa bb CC\" | title }}", nil()), "Abc Aa Bb Cc");
    assert_eq!(run_am("{{ \" a b c \" | trimSpace }}", nil()), "a b c");
    assert_eq!(run_am("{{ if match \"^a\" \"abc\"}}abc{{ end }}", nil()), "abc");
    assert_eq!(run_am("{{ if match \"abcd\" \"abc\" }}abc{{ end }}", nil()), "");
    assert_eq!(run_am("{{ . | join \",\" }}", list(vec!["a", "b", "c"])), "a,b,c");
    assert_eq!(run_am("{{ reReplaceAll \"ab\" \"AB\" \"abcdabcda\"}}", nil()), "ABcdABcda");
    assert_eq!(run_am("{{ \"search?q=test%20foo\" | urlUnescape }}", nil()), "search?q=test foo");
    assert_eq!(
        run_am("{{ \"q=test%20foo\" | safeUrl }} {{ \"<b>\" | safeHtml }}", nil()),
        "q=test%20foo <b>"
    );
    assert_eq!(run_am("{{ stringSlice \"a\" \"b\" | join \"-\" }}", nil()), "a-b");
    assert_eq!(
        run_am(
            "{{ \"test\" | base64encode }} {{ \"flush>>\" | base64encode }} {{ \"dGVzdA==\" | base64decode }}",
            nil()
        ),
        "dGVzdA== Zmx1c2g-Pg== test"
    );
    assert!(
        fail_am("{{ \"not-valid-base64!\" | base64decode }}", nil())
            .contains("error calling base64decode: illegal base64 data")
    );
    assert!(
        fail_am("{{ \"%zz\" | urlUnescape }}", nil())
            .ends_with("error calling urlUnescape: invalid URL escape \"%zz\"")
    );
    assert!(
        fail_am("{{ join \",\" (list 1 2) }}", nil())
            .ends_with("wrong type for value; expected string; got int")
    );
}

#[test]
fn alertmanager_collections() {
    assert_eq!(run_am("{{- $test := dict -}}{{ $test }}", nil()), "map[]");
    assert_eq!(
        run_am("{{- $test := dict \"a\" 1 \"b\" 2 \"c\" 3 -}}{{ $test }}", nil()),
        "map[a:1 b:2 c:3]"
    );
    assert_eq!(run_am("{{ (dict \"a\" 1).a }}", nil()), "1");
    assert!(
        fail_am("{{ dict \"a\" }}", nil())
            .ends_with("error calling dict: dict requires an even number of arguments")
    );
    assert!(
        fail_am("{{ dict 1 \"value\" }}", nil())
            .ends_with("error calling dict: dict keys must be strings")
    );
    assert_eq!(run_am("{{- $test := list -}}{{ $test }}", nil()), "[]");
    assert_eq!(run_am("{{- $test := list \"a\" \"b\" \"c\" -}}{{ $test }}", nil()), "[a b c]");
    assert_eq!(
        run_am(
            "{{- $test := list \"a\" \"b\" -}}{{ $test = append $test \"c\" \"d\" -}}{{ $test }}",
            nil()
        ),
        "[a b c d]"
    );
    assert_eq!(
        run_am("{{ \"test\" | toJson }} {{ 42 | toJson }} {{ true | toJson }}", nil()),
        "\"test\" 42 true"
    );
    assert_eq!(
        run_am(
            "{{ . | toJson }}",
            Value::map([("key", Value::from("value")), ("number", Value::Int(123))])
        ),
        r#"{"key":"value","number":123}"#
    );
    assert_eq!(run_am("{{ . | toJson }}", list(vec!["a", "b", "c"])), r#"["a","b","c"]"#);
}

fn am_time(secs: i64) -> Value {
    Value::Time(Time::from_unix(secs, 0))
}

#[test]
fn alertmanager_time_functions() {
    // 2024-01-01 08:15:30 UTC.
    let t = am_time(1_704_096_930);
    assert_eq!(run_am("{{ . | date \"2006-01-02\" }}", t.clone()), "2024-01-01");
    assert_eq!(
        run_am("{{ . | date \"Mon, 02 Jan 2006 15:04:05 MST\" }}", t.clone()),
        "Mon, 01 Jan 2024 08:15:30 UTC"
    );
    assert_eq!(run_am("{{ . | tz \"Europe/Paris\" }}", t.clone()), "2024-01-01 09:15:30 +0100 CET");
    assert_eq!(
        run_am("{{ . | tz \"Europe/Paris\" | date \"15:04 MST\" }}", t.clone()),
        "09:15 CET"
    );
    assert_eq!(run_am("{{ . | tz \"UTC\" | date \"15:04 Z07:00\" }}", t.clone()), "08:15 Z");
    assert_eq!(
        run_am("{{ . | tz \"Etc/GMT+5\" | date \"15:04 -0700\" }}", t.clone()),
        "03:15 -0500"
    );
    assert!(
        fail_am("{{ . | tz \"Invalid/Timezone\" }}", t)
            .ends_with("error calling tz: unknown time zone Invalid/Timezone")
    );
    let hour_ago = am_time(1_353_755_652 - 3600);
    assert_eq!(run_am("{{ . | since | humanizeDuration }}", hour_ago), "1h 0m 0s");
    assert_eq!(run_am("{{ now }}", nil()), "2012-11-24 11:14:12 +0000 UTC");
    assert_eq!(
        run_am("{{ toDate \"2006-01-02\" \"2024-03-15\" | date \"02 Jan 2006\" }}", nil()),
        "15 Mar 2024"
    );
    assert_eq!(run_am("{{ toDate \"2006-01-02\" \"not-a-date\" | date \"2006\" }}", nil()), "0001");
    assert_eq!(
        run_am("{{ mustToDate \"2006-01-02\" \"2024-03-15\" | date \"02 Jan 2006\" }}", nil()),
        "15 Mar 2024"
    );
    assert!(
        fail_am("{{ mustToDate \"2006-01-02\" \"not-a-date\" }}", nil())
            .contains("error calling mustToDate: parsing time \"not-a-date\"")
    );
    assert!(
        fail_am("{{ date \"2006\" \"x\" }}", nil())
            .ends_with("wrong type for value; expected time.Time; got string")
    );
}

/// Notification data shaped like Alertmanager's: the lead's code builds the same shape.
fn am_data() -> Value {
    let alert = |status: &str, name: &str, instance: &str| {
        Value::map([
            ("Status", Value::from(status)),
            ("Labels", Value::map([("alertname", name), ("instance", instance), ("job", "node")])),
            ("Annotations", Value::map([("summary", format!("{instance} is down"))])),
            ("StartsAt", am_time(1_704_096_930)),
            ("EndsAt", Value::Time(Time::zero())),
            ("GeneratorURL", Value::from("http://prom/graph")),
            ("Fingerprint", Value::from("abc")),
        ])
    };
    Value::map([
        ("Receiver", Value::from("team-x")),
        ("Status", Value::from("firing")),
        (
            "Alerts",
            list(vec![
                alert("firing", "InstanceDown", "a:9100"),
                alert("resolved", "InstanceDown", "b:9100"),
                alert("firing", "InstanceDown", "c:9100"),
            ]),
        ),
        ("GroupLabels", Value::map([("alertname", "InstanceDown")])),
        (
            "CommonLabels",
            Value::map([("alertname", "InstanceDown"), ("job", "node"), ("severity", "page")]),
        ),
        ("CommonAnnotations", Value::map(Vec::<(String, String)>::new())),
        ("ExternalURL", Value::from("http://am:9093")),
    ])
}

#[test]
fn alertmanager_data_helpers() {
    let d = am_data();
    assert_eq!(run_am("{{ .Alerts.Firing | len }} {{ len .Alerts.Resolved }}", d.clone()), "2 1");
    assert_eq!(
        run_am("{{ range .Alerts.Firing }}{{ .Labels.instance }} {{ end }}", d.clone()),
        "a:9100 c:9100 "
    );
    assert_eq!(
        run_am("{{ .CommonLabels.SortedPairs.Values | join \" \" }}", d.clone()),
        "InstanceDown node page"
    );
    assert_eq!(run_am("{{ .CommonLabels.Names }}", d.clone()), "[alertname job severity]");
    assert_eq!(
        run_am("{{ .CommonLabels.Values.Join \":\" }}", d.clone()),
        "InstanceDown:node:page"
    );
    assert_eq!(
        run_am(
            "{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }};{{ end }}",
            d.clone()
        ),
        "alertname=InstanceDown;job=node;severity=page;"
    );
    assert_eq!(
        run_am("{{ .CommonLabels }}", d.clone()),
        "alertname=InstanceDown, job=node, severity=page"
    );
    assert_eq!(
        run_am("{{ .CommonLabels.SortedPairs }}", d.clone()),
        "alertname=InstanceDown, job=node, severity=page"
    );
    assert_eq!(
        run_am("{{ .CommonLabels.String }}", d.clone()),
        "alertname=InstanceDown, job=node, severity=page"
    );
    assert_eq!(
        run_am("{{ (.CommonLabels.Remove .GroupLabels.Names).Values }}", d.clone()),
        "[node page]"
    );
    assert_eq!(
        run_am("{{ .CommonAnnotations.summary }}|{{ .CommonLabels.nope }}|", d.clone()),
        "||"
    );
    assert_eq!(
        run_am(
            "{{ range .Alerts }}{{ .StartsAt | date \"15:04\" }} {{ .EndsAt.IsZero }};{{ end }}",
            d.clone()
        ),
        "08:15 true;08:15 true;08:15 true;"
    );
    let kv = Value::map([(
        "GroupLabels",
        Value::map([("key1", "key1"), ("key2", "key2"), ("key3", "key3"), ("key4", "key4")]),
    )]);
    assert_eq!(
        run_am(
            "{{ with .GroupLabels }}{{ with .Remove (stringSlice \"key1\" \"key3\") }}{{ .SortedPairs.Values }}{{ end }}{{ end }}",
            kv
        ),
        "[key2 key4]"
    );
    assert!(
        fail_am("{{ .CommonLabels.Remove }}", d.clone())
            .ends_with("wrong number of args for Remove: want 1 got 0")
    );
    assert!(
        fail_am("{{ .Alerts.Join }}", d).ends_with("wrong number of args for Join: want 1 got 0")
    );
}

#[test]
fn alertmanager_default_style_templates() {
    let text = r#"{{ define "__subject" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .GroupLabels.SortedPairs.Values | join " " }} {{ if gt (len .CommonLabels) (len .GroupLabels) }}({{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join " " }}{{ end }}){{ end }}{{ end }}
{{ define "__alertmanagerURL" }}{{ .ExternalURL }}/#/alerts?receiver={{ .Receiver | urlquery }}{{ end }}
{{ define "__text_alert_list" }}{{ range . }}Labels:
{{ range .Labels.SortedPairs }} - {{ .Name }} = {{ .Value }}
{{ end }}Annotations:
{{ range .Annotations.SortedPairs }} - {{ .Name }} = {{ .Value }}
{{ end }}Source: {{ .GeneratorURL }}
{{ end }}{{ end }}
{{ define "slack.default.title" }}{{ template "__subject" . }}{{ end }}
{{ define "slack.default.text" }}{{ if gt (len .Alerts.Firing) 0 -}}
Alerts Firing:
{{ template "__text_alert_list" .Alerts.Firing }}
{{- end }}{{ end }}"#;
    let t = Template::parse("default.tmpl", text, Funcs::Alertmanager).unwrap();
    let d = am_data();
    assert_eq!(
        t.execute_named("slack.default.title", &d, &host()).unwrap(),
        "[FIRING:2] InstanceDown (node page)"
    );
    assert_eq!(
        t.execute_named("__alertmanagerURL", &d, &host()).unwrap(),
        "http://am:9093/#/alerts?receiver=team-x"
    );
    assert_eq!(
        t.execute_named("slack.default.text", &d, &host()).unwrap(),
        "Alerts Firing:\nLabels:\n - alertname = InstanceDown\n - instance = a:9100\n - job = node\nAnnotations:\n - summary = a:9100 is down\nSource: http://prom/graph\nLabels:\n - alertname = InstanceDown\n - instance = c:9100\n - job = node\nAnnotations:\n - summary = c:9100 is down\nSource: http://prom/graph\n"
    );
}

// ---- Alert expansion -----------------------------------------------------------------

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn alert_expansion() {
    let l = labels(&[("instance", "a:9100"), ("job", "node")]);
    let ext = labels(&[("cluster", "eu1")]);
    let out = expand_alert(
        "summary",
        "{{ $labels.instance }} of {{ $labels.job }} in {{ $externalLabels.cluster }} is at {{ $value | humanizePercentage }} ({{ .Value }}, {{ .Labels.job }}, {{ $externalURL }}){{ $labels.missing }}",
        &l,
        &ext,
        "http://prom:9090",
        0.1234,
        &host(),
    )
    .unwrap();
    assert_eq!(out, "a:9100 of node in eu1 is at 12.34% (0.1234, node, http://prom:9090)");
    assert_eq!(
        expand_alert("v", "{{ $value }} {{ humanize $value }}", &l, &ext, "", 1234567.0, &host())
            .unwrap(),
        "1.234567e+06 1.235M"
    );
    assert_eq!(
        expand_alert("v", "{{ $labels }}", &l, &ext, "", 0.0, &host()).unwrap(),
        "map[instance:a:9100 job:node]"
    );
    // Positions point into the user's text, not a hidden prefix.
    let e = expand_alert("desc", "value:\n  {{ humanize \"x\" }}", &l, &ext, "", 0.0, &host())
        .unwrap_err();
    assert_eq!((e.name.as_str(), e.line, e.col), ("desc", 2, 6));
    assert_eq!(
        e.to_string(),
        "template: desc:2:6: executing \"desc\" at <humanize \"x\">: error calling humanize: strconv.ParseFloat: parsing \"x\": invalid syntax"
    );
    let t = parse_alert("s", "{{ $labels.job }}={{ $value }}").unwrap();
    assert_eq!(execute_alert(&t, &l, &ext, "", 2.0, &host()).unwrap(), "node=2");
    assert_eq!(
        execute_alert(&t, &labels(&[("job", "api")]), &ext, "", 0.5, &host()).unwrap(),
        "api=0.5"
    );
    // Definitions do not see the alert variables, as in Prometheus.
    assert!(check_alert("d", "{{ define \"x\" }}{{ $labels }}{{ end }}").is_err());
}

#[test]
fn alert_checks() {
    assert_eq!(
        check_alert(
            "ok",
            "{{ $labels.job }} {{ $value | humanize }} {{ query `up` | first | value }}"
        ),
        Ok(())
    );
    let e = check_alert("bad", "x {{ $undefined }}").unwrap_err();
    assert_eq!(e.to_string(), "template: bad:1:6: undefined variable \"$undefined\"");
    let e = check_alert("bad", "{{ if $labels.x }}").unwrap_err();
    assert_eq!(e.to_string(), "template: bad:1:19: unexpected EOF");
    let e = check_alert("bad", "{{ $labels.x | nosuch }}").unwrap_err();
    assert_eq!(e.to_string(), "template: bad:1:16: function \"nosuch\" not defined");
    let e = check_alert("bad", "ok\n\n{{ $value ").unwrap_err();
    assert_eq!(e.to_string(), "template: bad:3:1: unclosed action");
    let e = check_alert("bad", "{{ 1 }}{{end}}").unwrap_err();
    assert_eq!(e.to_string(), "template: bad:1:10: unexpected {{end}}");
    let e = check_alert("bad", "{{ 3x }}").unwrap_err();
    assert_eq!(e.to_string(), "template: bad:1:4: bad number syntax: \"3x\"");
    let e = check_alert("bad", "{{ \u{a0}}}").unwrap_err();
    assert_eq!(e.to_string(), "template: bad:1:4: unrecognized character in action: U+00A0");
}

// ---- Limits --------------------------------------------------------------------------

#[test]
fn recursion_is_bounded() {
    // Whichever comes first: the call limit, or the stack budget (frames are larger in
    // unoptimized builds).
    let e = fail("{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}", nil());
    assert!(
        e.contains("executing \"r\" at <{{template \"r\"}}>: exceeded maximum template depth ("),
        "{e}"
    );
    let e = fail(
        "{{ define \"r\" }}{{ if true }}{{ with 1 }}{{ range 1 }}{{ template \"r\" 1 }}{{ end }}{{ end }}{{ end }}{{ end }}{{ template \"r\" . }}",
        nil(),
    );
    assert!(e.contains("exceeded maximum template depth ("), "{e}");
    // A counted recursion well inside the limits runs to the end.
    let deep = "{{ define \"d\" }}{{ if . }}x{{ template \"d\" (slice . 1) }}{{ end }}{{ end }}{{ template \"d\" . }}";
    let out = exec_with(Funcs::Prometheus, deep, &list(vec![0i64; 50]), &host()).unwrap();
    assert_eq!(out, "x".repeat(50));
}

#[test]
fn output_is_capped() {
    let e = fail("{{ range 100000 }}0123456789abcdefghij{{ end }}", nil());
    assert!(e.ends_with("output exceeds 1048576 bytes"), "{e}");
    let e = fail("{{ $s := \"xx\" }}{{ range 40 }}{{ $s = print $s $s }}{{ end }}", nil());
    assert!(e.ends_with("error calling print: result exceeds 1048576 bytes"), "{e}");
    let e = fail("{{ printf \"%1000000d%1000000d\" 1 2 }}", nil());
    assert!(e.ends_with("error calling printf: result exceeds 1048576 bytes"), "{e}");
    let e = fail("{{ printf \"%1000000d\" 1 }}{{ printf \"%1000000d\" 1 }}", nil());
    assert!(e.ends_with("output exceeds 1048576 bytes"), "{e}");
}

#[test]
fn work_is_capped() {
    let e = fail("{{ range 100000000 }}{{ end }}", nil());
    assert!(e.ends_with("template execution exceeded 10000000 steps"), "{e}");
    let e = fail_am("{{ $l := list 1 }}{{ range 60 }}{{ $l = list $l $l }}{{ end }}", nil());
    assert!(e.ends_with("template execution exceeded 10000000 steps"), "{e}");
    let e = fail_am("{{ $l := list }}{{ range 100000 }}{{ $l = append $l 1 }}{{ end }}", nil());
    assert!(e.ends_with("template execution exceeded 10000000 steps"), "{e}");
    let e = fail_am("{{ $l := list }}{{ range 200 }}{{ $l = list $l }}{{ end }}", nil());
    assert!(e.ends_with("values nest deeper than 100 levels"), "{e}");
}

#[test]
fn errors_display_and_fields() {
    let e = Template::parse("multi", "line one\nline two {{ .x | nope }}", Funcs::Prometheus)
        .unwrap_err();
    assert_eq!(
        e,
        Error {
            name: "multi".into(),
            line: 2,
            col: 18,
            message: "function \"nope\" not defined".into()
        }
    );
    assert_eq!(e.to_string(), "template: multi:2:18: function \"nope\" not defined");
    // Columns count characters, not bytes.
    let e = Template::parse("u", "é日{{ $z }}", Funcs::Prometheus).unwrap_err();
    assert_eq!((e.line, e.col), (1, 6));
    let e = Template::parse("p", "{{ if 1 }}{{ else }}{{ else }}{{ end }}", Funcs::Prometheus)
        .unwrap_err();
    assert_eq!(e.to_string(), "template: p:1:24: expected end; found {{else}}");
}

#[test]
fn templates_are_shareable() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Template>();
    check::<Value>();
    check::<Error>();
}

#[test]
fn extra_variables() {
    let t = Template::parse_with_vars(
        "v",
        "{{ $who }} sees {{ .x }}{{ define \"d\" }}{{ . }}{{ end }}",
        Funcs::Builtins,
        &["$who"],
    )
    .unwrap();
    let out = t
        .execute_with_vars(&Value::map([("x", 1i64)]), &host(), &[("$who", Value::from("ada"))])
        .unwrap();
    assert_eq!(out, "ada sees 1");
    assert_eq!(t.execute(&Value::map([("x", 2i64)]), &host()).unwrap(), "<no value> sees 2");
    assert_eq!(t.name(), "v");
}

#[test]
fn times_and_durations_in_print_and_compare() {
    assert_eq!(
        run("{{ printf \"%v|%s|%d\" (toDuration 90) (toDuration 0.0015) (toDuration 1) }}", nil()),
        "1m30s|1.5ms|1000000000"
    );
    assert_eq!(run("{{ printf \"%q\" (toDuration 90) }}", nil()), "\"1m30s\"");
    assert_eq!(run("{{ print (toTime 0) }}", nil()), "1970-01-01 00:00:00 +0000 UTC");
    assert_eq!(run("{{ if gt (toDuration 90) (toDuration 60) }}longer{{ end }}", nil()), "longer");
    assert_eq!(
        run("{{ eq (toTime 5) (toTime 5) }} {{ ((toTime 5).Sub (toTime 2)).Seconds }}", nil()),
        "true 3"
    );
    assert_eq!(
        run("{{ ((toTime 5).Before (toTime 6)) }} {{ (toTime 5).After (toTime 6) }}", nil()),
        "true false"
    );
    assert_eq!(run("{{ humanizeDuration (toDuration 3725) }}", nil()), "1h 2m 5s");
    assert_eq!(run("{{ (toDuration -1.5).Abs }}", nil()), "1.5s");
    assert!(
        fail("{{ (toTime 5).Nope }}", nil())
            .ends_with("can't evaluate field Nope in type time.Time")
    );
    assert!(
        fail("{{ (toTime 5).Format }}", nil())
            .ends_with("wrong number of args for Format: want 1 got 0")
    );
    assert!(
        fail("{{ (toTime 5).Add \"x\" }}", nil())
            .ends_with("wrong type for value; expected time.Duration; got string")
    );
}

#[test]
fn go_exec_style_cases() {
    let d = data();
    let cases = [
        ("{{ .I }}", "17"),
        ("{{ printf \"%d\" .I }}", "17"),
        ("{{ .MSI.one }}", "1"),
        ("{{ range .SI }}{{ . }}{{ end }}", "345"),
        ("{{ range $i, $x := .SI }}{{ $i }}{{ end }}", "012"),
        ("{{ with $x := .I }}{{ $x }}{{ end }}", "17"),
        ("{{ if and .T .Fa }}yes{{ else }}no{{ end }}", "no"),
        ("{{ if or .Fa .T }}yes{{ else }}no{{ end }}", "yes"),
        ("{{ not .T }}", "false"),
        ("{{ index .MSI \"two\" }}", "2"),
        ("{{ slice .SI 1 2 }}", "[4]"),
        ("{{ print 1 2 3 }}", "1 2 3"),
        ("{{ print \"a\" \"b\" }}", "ab"),
        ("{{ eq .I 17 }}", "true"),
        ("{{ lt 1.5 2.5 }}", "true"),
        ("{{ le \"a\" \"a\" }}", "true"),
        ("{{ len .Nested.Inner }}", "1"),
        ("{{ $x := .MSS }}{{ $x.a }}{{ $x.b }}", "xy"),
        ("{{ with .Nested }}{{ with .Inner }}{{ .Leaf }}{{ end }}{{ end }}", "deep"),
        ("{{ range .SI }}{{ if ge . 4 }}{{ . }}{{ end }}{{ end }}", "45"),
        ("{{ template \"t\" .SI }}{{ define \"t\" }}{{ len . }}{{ end }}", "3"),
        ("{{ \"\\u00e9\" | printf \"%q\" }}", "\"é\""),
        ("{{ printf \"%5.1f|%-5s|%05d\" 3.14159 \"ab\" 42 }}", "  3.1|ab   |00042"),
    ];
    for (t, want) in cases {
        assert_eq!(run(t, d.clone()), want, "{t}");
    }
}

#[test]
fn deepest_allowed_nesting_runs() {
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(100), ")".repeat(100));
    assert_eq!(run(&parens, nil()), "1");
    let calls = format!("{{{{ {}1{} }}}}", "(print ".repeat(100), ")".repeat(100));
    assert_eq!(run(&calls, nil()), "1");
    let ifs =
        format!("{}x{}", "{{ if true }}{{ with 1 }}".repeat(49), "{{ end }}{{ end }}".repeat(49));
    assert_eq!(run(&ifs, nil()), "x");
}

#[test]
fn parse_error_positions() {
    let pos = |text: &str| {
        let e = Template::parse("p", text, Funcs::Prometheus).unwrap_err();
        (e.line, e.col, e.message)
    };
    assert_eq!(pos("ab\ncd {{ \"x }}"), (2, 7, "unterminated quoted string".into()));
    assert_eq!(
        pos("{{ range . }}{{ else if true }}{{ end }}{{ end }}"),
        (1, 22, "unexpected <if> in input".into())
    );
    assert_eq!(pos("{{ with 1 }}\n{{ end }}\n{{ end }}"), (3, 4, "unexpected {{end}}".into()));
    assert_eq!(
        pos("{{ define \"a\" }}{{ else }}{{ end }}"),
        (1, 20, "unexpected {{else}} in define clause".into())
    );
    assert_eq!(pos("{{ .x 'ab' }}"), (1, 7, "malformed character constant: 'ab'".into()));
    assert_eq!(pos("{{ \"\\z\" }}"), (1, 4, "invalid syntax".into()));
    assert_eq!(
        pos("{{ 1 }}{{ 99999999999999999999999 }}"),
        (1, 11, "integer overflow: \"99999999999999999999999\"".into())
    );
    // A trailing pipe symbol is accepted, as Go's parser does.
    assert_eq!(run("{{ 1 | }}", nil()), "1");
}

#[test]
fn large_notifications_stay_within_budget() {
    let alerts: Vec<Value> = (0..2000)
        .map(|i| {
            Value::map([
                ("Status", Value::from(if i % 3 == 0 { "resolved" } else { "firing" })),
                (
                    "Labels",
                    Value::map([
                        ("alertname", "Down".to_owned()),
                        ("instance", format!("host-{i}:9100")),
                        ("job", "node".to_owned()),
                    ]),
                ),
                ("Annotations", Value::map([("summary", format!("host {i} is down"))])),
            ])
        })
        .collect();
    let d =
        Value::map([("Alerts", Value::List(alerts)), ("ExternalURL", Value::from("http://am"))]);
    let t = "{{ range .Alerts.Firing }}{{ .Labels.instance }} {{ $.ExternalURL }} {{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }},{{ end }}\n{{ end }}{{ len .Alerts.Resolved }}";
    let out = run_am(t, d);
    assert_eq!(out.lines().count(), 1334);
    assert!(
        out.starts_with("host-1:9100 http://am alertname=Down,instance=host-1:9100,job=node,\n")
    );
    assert!(out.ends_with("\n667"));
}
