//! andon's workflow schema table against GitHub's own schema file
//! (`workflow-v1.0.json`, read in place from `../shared/suites/gha-workflow-parser`):
//! walking both from the workflow root, every mapping must have the same keys with
//! the same required flags, and every place must allow expressions exactly where the
//! schema's accumulated `context` lists allow them, with the same named values and
//! functions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use andon_pipeline::schema::{Mapping, Ty, WORKFLOW};
use serde_json::Value as J;

/// Keys of GitHub's experimental background steps, which andon does not read.
const EXPERIMENTAL: &[&str] = &["background", "wait", "wait-all", "cancel"];

struct Walk<'a> {
    defs: &'a serde_json::Map<String, J>,
    checked: usize,
    problems: Vec<String>,
    seen: BTreeSet<(String, usize)>,
}

fn norm(list: &[String]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_ascii_lowercase()).collect()
}

impl Walk<'_> {
    fn def(&self, name: &str) -> Option<&J> {
        self.defs.get(name)
    }

    /// Unwraps `Ctx` layers, returning the innermost type and the context in force.
    fn unwrap<'t>(&self, ty: &'t Ty, ctx: &[String]) -> (&'t Ty, Vec<String>) {
        match ty {
            Ty::Ctx(list, inner) => {
                self.unwrap(inner, &list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            }
            _ => (ty, ctx.to_vec()),
        }
    }

    fn compare(
        &mut self,
        name: &str,
        ty: &Ty,
        schema_ctx: &[String],
        our_ctx: &[String],
        path: &str,
    ) {
        if matches!(name, "wait-step" | "wait-all-step" | "cancel-step") {
            return; // experimental background steps
        }
        let Some(def) = self.def(name).cloned() else { return };
        let mut schema_ctx = schema_ctx.to_vec();
        if let Some(J::Array(c)) = def.get("context") {
            for e in c {
                let e = e.as_str().unwrap().to_string();
                if !schema_ctx.iter().any(|x| x.eq_ignore_ascii_case(&e)) {
                    schema_ctx.push(e);
                }
            }
        }
        let (ty, our_ctx) = self.unwrap(ty, our_ctx);
        let key = (name.to_string(), ty as *const Ty as usize);
        if !self.seen.insert(key) {
            return;
        }
        self.checked += 1;
        // Expressions: allowed by the same named values and functions.
        let leaf = def.get("string").is_some()
            || def.get("boolean").is_some()
            || def.get("number").is_some();
        if leaf && norm(&schema_ctx) != norm(&our_ctx) {
            self.problems
                .push(format!("{path} ({name}): context {schema_ctx:?}, andon has {our_ctx:?}"));
        }
        if let Some(m) = def.get("mapping") {
            let Some(ours) = find_map(ty, m) else {
                self.problems.push(format!("{path} ({name}): andon has no such mapping"));
                return;
            };
            self.mapping(m, ours, &schema_ctx, &our_ctx, path);
        } else if let Some(seq) = def.get("sequence") {
            let item = seq["item-type"].as_str().unwrap();
            match ty {
                Ty::Seq(i) => self.compare(item, i, &schema_ctx, &our_ctx, &format!("{path}[]")),
                Ty::OneOf(alts) => match alts.iter().find(|a| matches!(a, Ty::Seq(_))) {
                    Some(Ty::Seq(i)) => {
                        self.compare(item, i, &schema_ctx, &our_ctx, &format!("{path}[]"))
                    }
                    _ => self.problems.push(format!("{path} ({name}): andon has no sequence")),
                },
                Ty::Any => {}
                _ => self.problems.push(format!("{path} ({name}): andon has no sequence")),
            }
        } else if let Some(J::Array(alts)) = def.get("one-of") {
            for a in alts {
                let a = a.as_str().unwrap();
                self.compare(a, ty, &schema_ctx, &our_ctx, path);
            }
        }
    }

    fn mapping(
        &mut self,
        m: &J,
        ours: &Mapping,
        schema_ctx: &[String],
        our_ctx: &[String],
        path: &str,
    ) {
        let props = m.get("properties").and_then(J::as_object).cloned().unwrap_or_default();
        let theirs: BTreeSet<&str> =
            props.keys().map(String::as_str).filter(|k| !EXPERIMENTAL.contains(k)).collect();
        let mine: BTreeSet<&str> = ours.props.iter().map(|p| p.name).collect();
        if theirs != mine {
            self.problems.push(format!("{path}: keys {theirs:?}, andon has {mine:?}"));
        }
        for (k, v) in &props {
            if EXPERIMENTAL.contains(&k.as_str()) {
                continue;
            }
            let (ty_name, required) = match v {
                J::String(t) => (t.clone(), false),
                J::Object(o) => (
                    o["type"].as_str().unwrap().to_string(),
                    o.get("required").and_then(J::as_bool).unwrap_or(false),
                ),
                _ => continue,
            };
            let Some(p) = ours.props.iter().find(|p| p.name == k) else { continue };
            if p.required != required {
                self.problems
                    .push(format!("{path}.{k}: required {required}, andon {}", p.required));
            }
            self.compare(&ty_name, p.ty, schema_ctx, our_ctx, &format!("{path}.{k}"));
        }
        let loose = m.get("loose-value-type").and_then(J::as_str);
        match (loose, ours.loose) {
            (Some(vt), Some((_, ovt))) => {
                self.compare(vt, ovt, schema_ctx, our_ctx, &format!("{path}.*"))
            }
            (None, None) => {}
            (l, o) => {
                self.problems.push(format!("{path}: loose keys {l:?}, andon {}", o.is_some()))
            }
        }
    }
}

/// The mapping in `ty` (or among its alternatives) that has the schema mapping's keys.
fn find_map<'t>(ty: &'t Ty, m: &J) -> Option<&'t Mapping> {
    let want: BTreeSet<&str> = m
        .get("properties")
        .and_then(J::as_object)
        .map(|p| p.keys().map(String::as_str).filter(|k| !EXPERIMENTAL.contains(k)).collect())
        .unwrap_or_default();
    let fits = |mm: &Mapping| mm.props.iter().map(|p| p.name).collect::<BTreeSet<_>>() == want;
    match ty {
        Ty::Map(mm) => Some(mm),
        Ty::OneOf(alts) => alts.iter().find_map(|a| match a {
            Ty::Map(mm) if fits(mm) => Some(*mm),
            _ => None,
        }),
        _ => None,
    }
}

#[test]
fn the_table_matches_githubs_schema() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/suites/gha-workflow-parser/workflow-v1.0.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: J = serde_json::from_str(&text).unwrap();
    let defs = schema["definitions"].as_object().unwrap();
    let mut w = Walk { defs, checked: 0, problems: Vec::new(), seen: BTreeSet::new() };
    w.compare("workflow-root-strict", &WORKFLOW, &[], &[], "");
    assert!(w.checked > 150, "only {} definitions compared", w.checked);
    assert!(w.problems.is_empty(), "{} differences:\n{}", w.problems.len(), w.problems.join("\n"));
}
