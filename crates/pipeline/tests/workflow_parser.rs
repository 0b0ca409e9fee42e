//! The workflow-reader fixtures of actions/languageservices
//! (`workflow-parser/testdata/reader`, read in place from
//! `../shared/suites/gha-workflow-parser`): each fixture is an options document, a
//! workflow, and the expected result — the converted model, or errors with their
//! line and column. A valid fixture passes when andon reads it to the same model
//! (written in the fixtures' JSON form); an error fixture when andon refuses it at
//! the same places (messages are compared too, and counted, but may differ).
//! Fixtures that call reusable workflows from other repositories are not run: the
//! local engine runs only local workflows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)]

use std::path::PathBuf;

use andon_expr::{Object, Value, deep_eq as same, parse_json};
use andon_pipeline::workflow::{Job, Permissions, Step, Workflow};
use andon_pipeline::{Kind, Token};

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/suites/gha-workflow-parser")
}

struct Out {
    source: bool,
}

impl Out {
    fn num(n: f64) -> Value {
        if n.is_finite() {
            Value::Number(if n == 0.0 { 0.0 } else { n })
        } else {
            Value::from(andon_expr::js_number(n))
        }
    }

    fn positioned(&self, ty: f64, t: &Token, rest: &[(&str, Value)]) -> Value {
        let mut o = Object::new();
        o.insert("type", Value::Number(ty));
        if self.source {
            o.insert("file", Value::Number(1.0));
            o.insert("line", Value::Number(t.pos.line as f64));
            o.insert("col", Value::Number(t.pos.col as f64));
        }
        for (k, v) in rest {
            o.insert(*k, v.clone());
        }
        Value::from(o)
    }

    fn token(&self, t: &Token) -> Value {
        match &t.kind {
            Kind::String(s) if self.source => {
                self.positioned(0.0, t, &[("lit", Value::from(s.as_str()))])
            }
            Kind::String(s) => Value::from(s.as_str()),
            Kind::Seq(items) => self.positioned(
                1.0,
                t,
                &[("seq", Value::from(items.iter().map(|i| self.token(i)).collect::<Vec<_>>()))],
            ),
            Kind::Map(entries) => {
                let pairs = entries
                    .iter()
                    .map(|(k, v)| {
                        let mut o = Object::new();
                        o.insert("Key", self.token(k));
                        o.insert("Value", self.token(v));
                        Value::from(o)
                    })
                    .collect::<Vec<_>>();
                self.positioned(2.0, t, &[("map", Value::from(pairs))])
            }
            Kind::Expr(e) => self.positioned(3.0, t, &[("expr", Value::from(e.as_str()))]),
            Kind::Bool(b) if self.source => self.positioned(5.0, t, &[("bool", Value::Bool(*b))]),
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Number(n) if self.source => self.positioned(6.0, t, &[("num", Out::num(*n))]),
            Kind::Number(n) => Out::num(*n),
            Kind::Null if self.source => self.positioned(7.0, t, &[]),
            Kind::Insert => self.positioned(4.0, t, &[("directive", Value::from("insert"))]),
            Kind::Null => Value::Null,
        }
    }

    fn expr(e: &str) -> Value {
        let mut o = Object::new();
        o.insert("type", Value::Number(3.0));
        o.insert("expr", Value::from(e));
        Value::from(o)
    }

    fn permissions(p: &Permissions) -> Value {
        Value::from(
            p.iter()
                .filter(|(_, v)| v.as_str() != "none")
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect::<Object>(),
        )
    }

    fn step(&self, s: &Step) -> Value {
        let mut o = Object::new();
        o.insert("id", Value::from(s.id.as_str()));
        let put = |o: &mut Object, k: &str, t: &Option<Token>| {
            if let Some(t) = t {
                o.insert(k, self.token(t));
            }
        };
        put(&mut o, "name", &s.name);
        o.insert("if", Out::expr(&s.condition));
        put(&mut o, "continue-on-error", &s.continue_on_error);
        put(&mut o, "timeout-minutes", &s.timeout_minutes);
        put(&mut o, "env", &s.env);
        put(&mut o, "working-directory", &s.working_directory);
        if let Some(sh) = &s.shell {
            o.insert("shell", Value::from(sh.as_str()));
        }
        put(&mut o, "run", &s.run);
        if let Some(u) = &s.uses {
            o.insert("uses", Value::from(u.as_str()));
        }
        put(&mut o, "with", &s.with);
        Value::from(o)
    }

    fn job(&self, j: &Job, wf: &Workflow) -> Value {
        let mut o = Object::new();
        o.insert("type", Value::from("job"));
        o.insert("id", self.token(&Token::new(Kind::String(j.id.clone()), j.pos)));
        o.insert("name", self.token(&j.name));
        if !j.needs.is_empty() {
            let needs =
                j.needs.iter().map(|(n, p)| self.token(&Token::new(Kind::String(n.clone()), *p)));
            o.insert("needs", Value::from(needs.collect::<Vec<_>>()));
        }
        o.insert("if", Out::expr(&j.condition));
        let put = |o: &mut Object, k: &str, t: &Option<Token>| {
            if let Some(t) = t {
                o.insert(k, self.token(t));
            }
        };
        put(&mut o, "strategy", &j.strategy);
        put(&mut o, "continue-on-error", &j.continue_on_error);
        put(&mut o, "timeout-minutes", &j.timeout_minutes);
        put(&mut o, "cancel-timeout-minutes", &j.cancel_timeout_minutes);
        put(&mut o, "concurrency", &j.concurrency);
        if let Some(p) = j.permissions.as_ref().or(wf.permissions.as_ref()) {
            o.insert("permissions", Out::permissions(p));
        }
        put(&mut o, "env", &j.env);
        put(&mut o, "environment", &j.environment);
        put(&mut o, "defaults", &j.defaults);
        put(&mut o, "runs-on", &j.runs_on);
        put(&mut o, "container", &j.container);
        put(&mut o, "services", &j.services);
        put(&mut o, "outputs", &j.outputs);
        if !j.steps.is_empty() {
            o.insert(
                "steps",
                Value::from(j.steps.iter().map(|s| self.step(s)).collect::<Vec<_>>()),
            );
        }
        put(&mut o, "snapshot", &j.snapshot);
        Value::from(o)
    }

    fn workflow(&self, wf: &Workflow) -> Value {
        let mut o = Object::new();
        if !wf.dispatch_inputs.is_empty() {
            o.insert(
                "input-types",
                Value::from(
                    wf.dispatch_inputs
                        .iter()
                        .map(|i| (i.name.clone(), Value::from(i.kind.as_str())))
                        .collect::<Object>(),
                ),
            );
        }
        for (k, t) in [("env", &wf.env)] {
            if let Some(t) = t {
                o.insert(k, self.token(t));
            }
        }
        if let Some(p) = &wf.permissions {
            o.insert("permissions", Out::permissions(p));
        }
        for (k, t) in [("defaults", &wf.defaults), ("concurrency", &wf.concurrency)] {
            if let Some(t) = t {
                o.insert(k, self.token(t));
            }
        }
        o.insert("jobs", Value::from(wf.jobs.iter().map(|j| self.job(j, wf)).collect::<Vec<_>>()));
        if self.source {
            o.insert("file-table", Value::from(vec![Value::from(wf.file.as_str())]));
        }
        Value::from(o)
    }
}

/// `file (Line: L, Col: C): message` → ((L, C), message).
fn split_message(m: &str) -> (Option<(usize, usize)>, String) {
    if let Some(i) = m.find(" (Line: ")
        && let Some(j) = m[i..].find("): ")
    {
        let inner = &m[i + 8..i + j];
        if let Some((l, c)) = inner.split_once(", Col: ")
            && let (Ok(l), Ok(c)) = (l.parse(), c.parse())
        {
            return (Some((l, c)), m[i + j + 3..].to_string());
        }
    }
    (None, m.split_once(": ").map_or(m, |(_, r)| r).to_string())
}

#[derive(Debug, PartialEq)]
enum Verdict {
    Model,
    ErrorsExact,
    ErrorsSamePlaces,
    Differs(String),
    NotRun,
}

fn run_fixture(name: &str, text: &str) -> Verdict {
    let docs: Vec<&str> = regex::Regex::new(r"\r?\n---\r?\n").unwrap().split(text).collect();
    let options = docs[0];
    let workflow = docs[1];
    let expected = docs[docs.len() - 1].trim();
    if docs.len() > 3 && name != "errors-reusable-workflow-job-secrets.yml" {
        return Verdict::NotRun;
    }
    let source = options.contains("include-source: true");
    let ts_only = options.contains("C#") && options.contains("Go");
    let file = format!(".github/workflows/{name}");
    let mut opts = andon_pipeline::workflow::ReadOptions::default();
    for line in options.lines() {
        let number =
            |key: &str| line.strip_prefix(key).and_then(|v| v.trim().parse::<usize>().ok());
        if let Some(n) = number("max-depth:") {
            opts.max_depth = n;
        }
        if let Some(n) = number("max-file-size:") {
            opts.max_file_size = n;
        }
    }
    let Ok(Value::Object(want)) = parse_json(expected) else {
        return Verdict::Differs(format!("unreadable expectation in {name}"));
    };
    let got = andon_pipeline::workflow::read_with(&file, workflow.as_bytes(), &opts);
    match (want.get("errors"), got) {
        (Some(Value::Array(errs)), Err(problems)) => {
            let want: Vec<(Option<(usize, usize)>, String)> = errs
                .items
                .iter()
                .filter_map(|e| match e {
                    Value::Object(o) => o.get("Message").and_then(Value::as_str).map(split_message),
                    _ => None,
                })
                .collect();
            let got: Vec<(Option<(usize, usize)>, String)> = problems
                .iter()
                .map(|p| (p.pos.map(|p| (p.line, p.col)), p.message.clone()))
                .collect();
            let places = |v: &[(Option<(usize, usize)>, String)]| {
                v.iter().map(|(p, _)| *p).collect::<Vec<_>>()
            };
            if got == want {
                Verdict::ErrorsExact
            } else if places(&got) == places(&want)
                || (want.iter().all(|(p, _)| p.is_none()) && !got.is_empty())
            {
                Verdict::ErrorsSamePlaces
            } else {
                Verdict::Differs(format!("errors: want {want:?}\n      got {got:?}"))
            }
        }
        (Some(_), Ok(_)) => Verdict::Differs("read without errors; errors were expected".into()),
        (Some(_), Err(_)) => Verdict::Differs("unreadable expected errors".into()),
        (None, Err(problems)) => Verdict::Differs(format!(
            "refused: {:?}",
            problems.iter().map(|p| p.render(&file)).collect::<Vec<_>>()
        )),
        (None, Ok(wf)) => {
            let mut want = (*want).clone();
            // `events` is the TypeScript parser's own addition (not in the converted model).
            let filtered: Object = want
                .iter()
                .filter(|(k, _)| *k != "events")
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            want = filtered;
            let mut got = Out { source }.workflow(&wf);
            // The TypeScript parser's fixtures have no `input-types` (a field of the
            // C# model).
            if ts_only && let Value::Object(o) = &got {
                let kept: Object = o
                    .iter()
                    .filter(|(k, _)| *k != "input-types")
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect();
                got = Value::from(kept);
            }
            if same(&got, &Value::from(want.clone())) {
                Verdict::Model
            } else {
                Verdict::Differs(format!(
                    "model:\n  want {}\n  got  {}",
                    Value::from(want).to_json(),
                    got.to_json()
                ))
            }
        }
    }
}

/// Fixtures andon reads differently, and why (docs/compatibility.md lists them).
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "background-steps.yml",
        "experimental background steps (background, wait, wait-all, cancel) are not supported",
    ),
    (
        "errors-max-result-size.yml",
        "the limit counts bytes the way GitHub's C# parser allocates them",
    ),
    (
        "errors-step-run-exceeds-length.yml",
        "refused, but placed at the block scalar's first line, not at its `|`",
    ),
    (
        "errors-yaml-invalid-style.yml",
        "a quoted scalar with an explicit !!int tag is read as YAML 1.2 reads it",
    ),
    ("mvp.yml", "a literal block ending the file without a line break keeps one"),
    (
        "on-workflow_dispatch-unknown-keys-ignored.yml",
        "events are read with GitHub's strict schema (as its TypeScript parser reads them): an unknown key under an event is an error",
    ),
    ("yaml-schema-sequence.yml", "`]#` (a comment not after a space) is a YAML error"),
];

#[test]
fn workflow_parser_fixtures() {
    let dir = suite_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!("the workflow-parser suite is missing at {}: {e}", dir.display())
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    let mut counts = std::collections::BTreeMap::new();
    let mut differs = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(f).unwrap();
        let v = run_fixture(&name, &text);
        let key = match &v {
            Verdict::Model => "model",
            Verdict::ErrorsExact => "errors (exact)",
            Verdict::ErrorsSamePlaces => "errors (same places)",
            Verdict::Differs(_) => "differs",
            Verdict::NotRun => "not run",
        };
        *counts.entry(key).or_insert(0) += 1;
        if let Verdict::Differs(why) = v {
            differs.push(format!("{name}: {why}"));
        }
    }
    eprintln!("gha-workflow-parser: {} fixtures: {counts:?}", files.len());
    for d in &differs {
        eprintln!("{d}");
    }
    assert_eq!(files.len(), 195, "the suite changed");
    let differing: Vec<&str> = differs.iter().map(|d| d.split(':').next().unwrap_or("")).collect();
    assert_eq!(
        differing,
        KNOWN_DIFFERENCES.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        "the fixtures that differ are not the known ones"
    );
    assert_eq!(counts.get("not run"), Some(&58));
}
