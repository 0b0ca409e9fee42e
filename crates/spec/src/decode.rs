//! Reading typed values out of a positioned YAML tree while collecting every problem
//! (wrong type, unknown field with a suggestion, missing field) instead of stopping at the first.

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, Pos, did_you_mean};
use crate::yaml::{Node, Value};

/// Collects diagnostics for one document.
#[derive(Debug, Default)]
pub struct Ctx {
    pub diags: Vec<Diagnostic>,
}

/// Builds child paths: `spec` + `ports` = `spec.ports`, `spec.ports` + 0 = `spec.ports[0]`.
pub fn field(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A mapping whose keys were checked against the fields a type knows.
pub struct Obj<'a> {
    pub node: &'a Node,
    pub path: String,
    entries: &'a [(Node, Node)],
}

impl<'a> Obj<'a> {
    pub fn get(&self, name: &str) -> Option<&'a Node> {
        self.entries.iter().find(|(k, _)| k.key_text() == name).map(|(_, v)| v)
    }

    /// The field's node unless it is absent or explicitly null (null means "use the default", as in Kubernetes).
    pub fn opt(&self, name: &str) -> Option<&'a Node> {
        self.get(name).filter(|n| n.value != Value::Null)
    }

    /// Where the key `name` is written, for problems about the field itself.
    pub fn key_pos(&self, name: &str) -> Option<crate::diag::Pos> {
        self.entries.iter().find(|(k, _)| k.key_text() == name).map(|(k, _)| k.pos)
    }

    pub fn path_of(&self, name: &str) -> String {
        field(&self.path, name)
    }

    /// Reports a missing required field at the position of the mapping that lacks it.
    pub fn require(&self, ctx: &mut Ctx, name: &str) -> Option<&'a Node> {
        let n = self.opt(name);
        if n.is_none() {
            ctx.error(self.node.pos, self.path_of(name), "required field is missing");
        }
        n
    }
}

impl Ctx {
    pub fn error(&mut self, pos: Pos, path: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::at(pos, path, message));
    }

    fn expected(&mut self, node: &Node, path: &str, what: &str) {
        self.error(node.pos, path, format!("expected {what}, found {}", node.value.type_name()));
    }

    /// Checks `node` is a mapping and that every key is one of `known`.
    pub fn object<'a>(&mut self, node: &'a Node, path: &str, known: &[&str]) -> Option<Obj<'a>> {
        let Value::Map(entries) = &node.value else {
            self.expected(node, path, "a mapping");
            return None;
        };
        for (k, _) in entries {
            let name = k.key_text();
            if !known.contains(&name.as_ref()) {
                let hint = match did_you_mean(&name, known) {
                    Some(s) => format!(" (did you mean {s:?}?)"),
                    None if known.is_empty() => " (no fields are allowed here)".to_owned(),
                    None => format!("; expected one of: {}", known.join(", ")),
                };
                self.error(k.pos, field(path, &name), format!("unknown field {name:?}{hint}"));
            }
        }
        Some(Obj { node, path: path.to_owned(), entries })
    }

    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.expected(node, path, "a string");
                None
            }
        }
    }

    /// An integer or a float, as a float.
    pub fn number(&mut self, node: &Node, path: &str) -> Option<f64> {
        match &node.value {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => {
                self.expected(node, path, "a number");
                None
            }
        }
    }

    pub fn int(&mut self, node: &Node, path: &str) -> Option<i64> {
        match &node.value {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => {
                self.expected(node, path, "an integer");
                None
            }
        }
    }

    /// An integer that must be at least `min`.
    pub fn int_min(&mut self, node: &Node, path: &str, min: i64) -> Option<i64> {
        let v = self.int(node, path)?;
        if v < min {
            self.error(
                node.pos,
                path,
                format!("must be greater than or equal to {min}, found {v}"),
            );
            return None;
        }
        Some(v)
    }

    pub fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            _ => {
                self.expected(node, path, "a boolean (true or false)");
                None
            }
        }
    }

    pub fn list<'a>(&mut self, node: &'a Node, path: &str) -> Option<&'a [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => {
                self.expected(node, path, "a list");
                None
            }
        }
    }

    pub fn string_list(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        let items = self.list(node, path)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.string(item, &index(path, i)) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A mapping of strings to strings (labels, annotations), with `check` run on each pair.
    pub fn string_map(
        &mut self,
        node: &Node,
        path: &str,
        mut check: impl FnMut(&mut Ctx, &Node, &Node, &str, &str),
    ) -> Option<BTreeMap<String, String>> {
        let Value::Map(entries) = &node.value else {
            self.expected(node, path, "a mapping of strings");
            return None;
        };
        let mut out = BTreeMap::new();
        for (k, v) in entries {
            let key = k.key_text().into_owned();
            let p = field(path, &key);
            let Some(value) = self.string(v, &p) else { continue };
            check(self, k, v, &key, &value);
            out.insert(key, value);
        }
        Some(out)
    }
}
