//! YAML (and JSON, its subset) read into a tree that keeps the line and column of
//! every node, with the limits that make untrusted input safe: a size cap, a nesting
//! cap, an alias-expansion budget, duplicate keys refused.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YSpan, Tag};

use crate::diag::{Class, Diagnostic, Pos};

/// The largest input read, in bytes (the API's body limit is the same).
pub const MAX_INPUT_BYTES: usize = 8 * 1024 * 1024;
/// The deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 64;
/// The most nodes one input may produce once aliases are expanded.
pub const MAX_NODES: usize = 200_000;

/// A YAML node with its position (1-based line and column).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order; duplicate keys are refused while reading.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// How the value is described in "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The value as JSON (keys rendered as strings).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries.iter().map(|(k, v)| (k.key_text().into_owned(), v.to_json())).collect(),
            ),
        }
    }

    /// The string value of a mapping's field `key`, when it is a string.
    pub fn str_field(&self, key: &str) -> Option<&str> {
        let Value::Map(entries) = &self.value else { return None };
        entries.iter().find(|(k, _)| k.key_text() == key).and_then(|(_, v)| match &v.value {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        })
    }

    /// A mapping key as text: scalars render as written, anything else as JSON.
    pub fn key_text(&self) -> Cow<'_, str> {
        match &self.value {
            Value::Str(s) => Cow::Borrowed(s),
            Value::Null => Cow::Borrowed("null"),
            Value::Bool(b) => Cow::Owned(b.to_string()),
            Value::Int(i) => Cow::Owned(i.to_string()),
            Value::Float(f) => Cow::Owned(f.to_string()),
            _ => Cow::Owned(self.to_json().to_string()),
        }
    }
}

/// One document of a multi-document stream.
#[derive(Debug, Clone)]
pub struct Document {
    /// Zero-based index of the document in its stream.
    pub index: usize,
    /// Where the document starts.
    pub pos: Pos,
    pub root: Node,
}

/// Reads every document of `bytes`. On a syntax error the whole input is refused:
/// the documents before it are not returned, so nothing of a broken file is applied.
pub fn parse(bytes: &[u8]) -> Result<Vec<Document>, Diagnostic> {
    parse_inner(bytes, true).map_err(|d| match d.class {
        Class::Invalid => d.with_class(Class::Syntax),
        _ => d,
    })
}

/// Like [`parse`], but anchors and aliases are refused (GitHub Actions workflows do
/// not support them).
pub fn parse_without_anchors(bytes: &[u8]) -> Result<Vec<Document>, Diagnostic> {
    parse_inner(bytes, false).map_err(|d| match d.class {
        Class::Invalid => d.with_class(Class::Syntax),
        _ => d,
    })
}

fn parse_inner(bytes: &[u8], anchors: bool) -> Result<Vec<Document>, Diagnostic> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(Diagnostic::at(
            Pos::new(1, 1),
            "",
            format!(
                "input is {} bytes, more than the limit of {} bytes (8 MiB)",
                bytes.len(),
                MAX_INPUT_BYTES
            ),
        )
        .with_class(Class::TooLarge));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let col = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
            return Err(Diagnostic::at(
                Pos::new(line, col),
                "",
                format!("input is not valid UTF-8 (invalid byte at offset {})", e.valid_up_to()),
            ));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Builder { refuse_anchors: !anchors, ..Builder::default() }.run(text)
}

fn pos_of(span: &YSpan) -> Pos {
    Pos::new(span.start.line(), span.start.col() + 1)
}

enum Frame {
    Seq { anchor: usize, pos: Pos, items: Vec<Node> },
    Map { anchor: usize, pos: Pos, entries: Vec<(Node, Node)>, key: Option<Node> },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    docs: Vec<Document>,
    doc_pos: Option<Pos>,
    refuse_anchors: bool,
}

fn count_nodes(n: &Node) -> usize {
    match &n.value {
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries.iter().map(|(k, v)| count_nodes(k) + count_nodes(v)).sum::<usize>()
        }
        _ => 1,
    }
}

impl Builder {
    fn run(mut self, text: &str) -> Result<Vec<Document>, Diagnostic> {
        let mut parser = Parser::new_from_str(text);
        for item in parser.by_ref() {
            let (event, span) = item.map_err(|e| {
                let m = e.marker();
                Diagnostic::at(
                    Pos::new(m.line(), m.col() + 1),
                    "",
                    format!("invalid YAML: {}", e.info()),
                )
            })?;
            self.event(event, &span)?;
        }
        Ok(self.docs)
    }

    fn event(&mut self, event: Event<'_>, span: &YSpan) -> Result<(), Diagnostic> {
        let pos = pos_of(span);
        match event {
            Event::DocumentStart(_) => {
                self.doc_pos = Some(pos);
                self.anchors.clear();
            }
            Event::DocumentEnd => {}
            Event::Scalar(text, style, anchor, tag) => {
                self.check_anchor(anchor, pos)?;
                let value = resolve_scalar(&text, style, tag.as_deref(), pos)?;
                // An empty value (`image:`) is placed right after its key's colon.
                let pos = match self.stack.last() {
                    Some(Frame::Map { key: Some(k), .. })
                        if text.is_empty()
                            && style == ScalarStyle::Plain
                            && matches!(k.value, Value::Str(_)) =>
                    {
                        Pos::new(k.pos.line, k.pos.col + k.key_text().chars().count() + 1)
                    }
                    _ => pos,
                };
                self.push(Node { value, pos }, anchor, 1)?;
            }
            Event::Alias(_) if self.refuse_anchors => {
                return Err(Diagnostic::at(pos, "", "Anchors are not currently supported"));
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id).cloned() else {
                    return Err(Diagnostic::at(pos, "", "alias refers to an unknown anchor"));
                };
                self.push(Node { value: node.value, pos }, 0, size)?;
            }
            Event::SequenceStart(anchor, tag) => {
                self.check_anchor(anchor, pos)?;
                check_collection_tag(tag.as_deref(), "seq", pos)?;
                self.open(Frame::Seq { anchor, pos, items: Vec::new() }, pos)?;
            }
            Event::MappingStart(anchor, tag) => {
                self.check_anchor(anchor, pos)?;
                check_collection_tag(tag.as_deref(), "map", pos)?;
                self.open(Frame::Map { anchor, pos, entries: Vec::new(), key: None }, pos)?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { anchor, pos, items }) => {
                        (Node { value: Value::Seq(items), pos }, anchor)
                    }
                    Some(Frame::Map { anchor, pos, entries, .. }) => {
                        (Node { value: Value::Map(entries), pos }, anchor)
                    }
                    None => return Err(Diagnostic::at(pos, "", "invalid YAML: unbalanced end")),
                };
                self.push(node, anchor, 0)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn check_anchor(&self, anchor: usize, pos: Pos) -> Result<(), Diagnostic> {
        if self.refuse_anchors && anchor != 0 {
            return Err(Diagnostic::at(
                pos,
                "",
                "Anchors are not currently supported. Remove the anchor",
            ));
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), Diagnostic> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::at(
                pos,
                "",
                format!("nesting is deeper than the limit of {MAX_DEPTH} levels"),
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Places a finished node into its parent; `added` is how many new nodes it brings
    /// (aliases bring the size of what they expand to, containers were counted already).
    fn push(&mut self, node: Node, anchor: usize, added: usize) -> Result<(), Diagnostic> {
        self.nodes += added;
        if matches!(node.value, Value::Seq(_) | Value::Map(_)) && added == 0 {
            self.nodes += 1;
        }
        if self.nodes > MAX_NODES {
            return Err(Diagnostic::at(
                node.pos,
                "",
                format!(
                    "input expands to more than {MAX_NODES} nodes (aliases are expanded); refusing it"
                ),
            ));
        }
        if anchor != 0 {
            let size = count_nodes(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                let pos = self.doc_pos.take().unwrap_or(node.pos);
                self.docs.push(Document { index: self.docs.len(), pos, root: node });
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if matches!(k.value, Value::Seq(_) | Value::Map(_)) {
                        return Err(Diagnostic::at(
                            k.pos,
                            "",
                            "mapping keys must be scalars, found a collection",
                        ));
                    }
                    if let Some((first, _)) = entries.iter().find(|(e, _)| e.value == k.value) {
                        return Err(Diagnostic::at(
                            k.pos,
                            "",
                            format!(
                                "duplicate key {:?} (first defined at line {}, column {})",
                                k.key_text(),
                                first.pos.line,
                                first.pos.col
                            ),
                        ));
                    }
                    entries.push((k, node));
                }
            },
        }
        Ok(())
    }
}

/// The suffix of a core-schema tag (`!!int`, `!<tag:yaml.org,2002:int>`).
fn core_tag(t: &Tag) -> Option<&str> {
    if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" {
        return Some(&t.suffix);
    }
    if t.handle.is_empty() || t.handle == "!" {
        return t.suffix.strip_prefix("tag:yaml.org,2002:");
    }
    None
}

fn check_collection_tag(tag: Option<&Tag>, want: &str, pos: Pos) -> Result<(), Diagnostic> {
    match tag {
        None => Ok(()),
        Some(t) if core_tag(t) == Some(want) => Ok(()),
        Some(t) => {
            Err(Diagnostic::at(pos, "", format!("unsupported YAML tag {}{}", t.handle, t.suffix)))
        }
    }
}

/// YAML 1.2 core schema resolution; quoted and block scalars are always strings.
fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    pos: Pos,
) -> Result<Value, Diagnostic> {
    if let Some(t) = tag {
        if let Some(suffix) = core_tag(t) {
            return match suffix {
                "str" => Ok(Value::Str(text.to_owned())),
                "null" | "bool" | "int" | "float" => {
                    let v = resolve_plain(text);
                    let ok = matches!(
                        (&v, suffix),
                        (Value::Null, "null")
                            | (Value::Bool(_), "bool")
                            | (Value::Int(_), "int")
                            | (Value::Float(_) | Value::Int(_), "float")
                    );
                    if ok {
                        Ok(match v {
                            Value::Int(i) if suffix == "float" => Value::Float(i as f64),
                            v => v,
                        })
                    } else {
                        Err(Diagnostic::at(pos, "", format!("{text:?} is not a valid !!{suffix}")))
                    }
                }
                other => Err(Diagnostic::at(pos, "", format!("unsupported YAML tag !!{other}"))),
            };
        }
        if !(t.handle == "!" && t.suffix.is_empty()) {
            return Err(Diagnostic::at(
                pos,
                "",
                format!("unsupported YAML tag {}{}", t.handle, t.suffix),
            ));
        }
        return Ok(Value::Str(text.to_owned()));
    }
    Ok(match style {
        ScalarStyle::Plain => resolve_plain(text),
        _ => Value::Str(text.to_owned()),
    })
}

fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let b = text.as_bytes();
    let digits =
        |s: &str, radix: u32| -> bool { !s.is_empty() && s.chars().all(|c| c.is_digit(radix)) };
    if let Some(hex) = text.strip_prefix("0x")
        && digits(hex, 16)
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Value::Int(i);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && digits(oct, 8)
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Int(i);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits(unsigned, 10) {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Int(i);
        }
        if let Ok(f) = text.parse::<f64>() {
            return Value::Float(f);
        }
    }
    // Core schema float: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    if !b.is_empty()
        && is_core_float(unsigned)
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(text.to_owned())
}

fn is_core_float(s: &str) -> bool {
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (a.chars().all(|c| c.is_ascii_digit()) && b.chars().all(|c| c.is_ascii_digit()))
                && !(a.is_empty() && b.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.chars().all(|c| c.is_ascii_digit()),
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exp_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let docs = parse(text.as_bytes()).unwrap();
        assert_eq!(docs.len(), 1);
        docs.into_iter().next().unwrap().root
    }

    #[test]
    fn scalars_resolve_by_the_core_schema() {
        let cases = [
            ("a: 1", serde_json::json!({"a": 1})),
            ("a: -0x10", serde_json::json!({"a": "-0x10"})),
            ("a: 0x10", serde_json::json!({"a": 16})),
            ("a: 1.5e3", serde_json::json!({"a": 1500.0})),
            ("a: '1'", serde_json::json!({"a": "1"})),
            ("a: yes", serde_json::json!({"a": "yes"})),
            ("a: True", serde_json::json!({"a": true})),
            ("a: ~", serde_json::json!({"a": null})),
            ("a: 500m", serde_json::json!({"a": "500m"})),
            ("{\"a\": [1, \"x\", null]}", serde_json::json!({"a": [1, "x", null]})),
        ];
        for (text, want) in cases {
            assert_eq!(one(text).to_json(), want, "{text}");
        }
    }

    #[test]
    fn positions_are_one_based() {
        let n = one("a:\n  b: [1, 2]\n");
        let Value::Map(m) = &n.value else { panic!() };
        assert_eq!(m[0].0.pos, Pos::new(1, 1));
        let Value::Map(inner) = &m[0].1.value else { panic!() };
        assert_eq!(inner[0].0.pos, Pos::new(2, 3));
        assert_eq!(inner[0].1.pos, Pos::new(2, 6));
    }

    #[test]
    fn multi_document_streams_keep_order() {
        let docs = parse(b"a: 1\n---\nb: 2\n---\n").unwrap();
        // A trailing `---` opens an empty (null) document, which manifests skip.
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1].pos.line, 2);
        assert_eq!(docs[2].root.value, Value::Null);
    }

    #[test]
    fn aliases_expand_within_budget() {
        let n = one("a: &x {k: v}\nb: *x\n");
        assert_eq!(n.to_json(), serde_json::json!({"a": {"k": "v"}, "b": {"k": "v"}}));
    }
}
