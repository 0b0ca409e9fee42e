//! Prometheus rule files (`groups:` of recording and alerting rules) read with
//! positions and validated the way Prometheus validates them: names, labels,
//! annotations, expressions and templates, every problem reported at once with
//! its `line:col`.

use std::collections::BTreeMap;

use andon_promql::Expr;
use andon_spec::decode::{Ctx, Obj, field, index};
use andon_spec::diag::{Diagnostic, Pos};
use andon_spec::yaml::{self, Node, Value};

/// A parsed rule file.
#[derive(Clone, Debug)]
pub struct RuleFile {
    pub groups: Vec<Group>,
}

/// One rule group: rules evaluated in order, every `interval`.
#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    /// The group's own evaluation interval; `None` means the global default.
    pub interval_ms: Option<i64>,
    /// How far in the past the group evaluates (`query_offset`).
    pub query_offset_ms: Option<i64>,
    /// The most series a rule may return (alerts: active alerts); 0 is no limit.
    pub limit: usize,
    /// Labels added to every rule's output (a rule's own labels win).
    pub labels: BTreeMap<String, String>,
    pub rules: Vec<Rule>,
    pub pos: Pos,
}

/// What a rule produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleKind {
    Recording,
    Alerting,
}

/// One recording or alerting rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub kind: RuleKind,
    /// The record name or the alert name.
    pub name: String,
    pub expr_text: String,
    pub expr: Expr,
    /// `for`: how long an alert stays pending before it fires.
    pub for_ms: i64,
    /// `keep_firing_for`: how long an alert keeps firing after its condition cleared.
    pub keep_firing_for_ms: i64,
    /// The rule's labels merged over its group's.
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub pos: Pos,
}

impl RuleFile {
    pub fn rule_count(&self) -> usize {
        self.groups.iter().map(|g| g.rules.len()).sum()
    }
}

/// Rules that record the same name with the same labels (recording rules) or
/// alert with the same name and labels: the lint `promtool check rules` runs.
/// Each duplicate is listed once, with its name and labels.
pub fn duplicate_rules(rf: &RuleFile) -> Vec<(String, BTreeMap<String, String>)> {
    let mut all: Vec<(&str, &BTreeMap<String, String>)> = rf
        .groups
        .iter()
        .flat_map(|g| g.rules.iter().map(|r| (r.name.as_str(), &r.labels)))
        .collect();
    all.sort();
    let mut out: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for w in all.windows(2) {
        if w[0] == w[1] && out.last().is_none_or(|(n, l)| (n.as_str(), l) != w[1]) {
            out.push((w[1].0.to_string(), w[1].1.clone()));
        }
    }
    out
}

/// Options for reading rule files.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions {
    /// Accept (and ignore) fields Prometheus does not know, like
    /// `promtool --ignore-unknown-fields`.
    pub ignore_unknown_fields: bool,
}

/// Reads a rule file. Only the first YAML document is read (as Prometheus
/// does); an empty file is an empty rule file.
pub fn parse(bytes: &[u8], file: &str, opts: ReadOptions) -> Result<RuleFile, Vec<Diagnostic>> {
    let with_file = |ds: Vec<Diagnostic>| ds.into_iter().map(|d| d.with_file(file)).collect();
    let docs = yaml::parse(bytes).map_err(|d| with_file(vec![d]))?;
    let source = String::from_utf8_lossy(bytes);
    let Some(doc) = docs.first() else { return Ok(RuleFile { groups: Vec::new() }) };
    let mut ctx = Ctx::default();
    let rf = read_root(&mut ctx, &doc.root, &source, opts);
    if ctx.diags.is_empty() { Ok(rf) } else { Err(with_file(ctx.diags)) }
}

/// Checks every `PrometheusRule` among `manifests` in depth (expressions,
/// templates, names); `source_of` gives a file's text for precise positions.
pub fn check_manifests(
    manifests: &[andon_spec::Manifest],
    source_of: &dyn Fn(&str) -> Option<String>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for m in manifests {
        let andon_spec::Spec::Foreign(f) = &m.spec else { continue };
        if m.kind.kind != "PrometheusRule" {
            continue;
        }
        let source = source_of(&m.origin.file).unwrap_or_default();
        if let Err(ds) = from_node(&f.node, &source, ReadOptions::default()) {
            out.extend(ds.into_iter().map(|d| d.with_file(&m.origin.file)));
        }
    }
    out
}

/// The rule file a stored `PrometheusRule` spec (`{"groups": [...]}`) holds.
pub fn from_spec_json(spec: &serde_json::Value) -> Result<RuleFile, Vec<Diagnostic>> {
    let text = spec.to_string();
    parse(text.as_bytes(), "stored", ReadOptions::default())
}

/// Reads a rule file from an already parsed YAML document (used when rule files
/// arrive through `andon apply` among other resources).
pub fn from_node(
    root: &Node,
    source: &str,
    opts: ReadOptions,
) -> Result<RuleFile, Vec<Diagnostic>> {
    let mut ctx = Ctx::default();
    let rf = read_root(&mut ctx, root, source, opts);
    if ctx.diags.is_empty() { Ok(rf) } else { Err(ctx.diags) }
}

fn object<'a>(
    ctx: &mut Ctx,
    node: &'a Node,
    path: &str,
    known: &[&str],
    opts: ReadOptions,
) -> Option<Obj<'a>> {
    if opts.ignore_unknown_fields {
        let mut scratch = Ctx::default();
        let o = scratch.object(node, path, known);
        // Keep type errors, drop unknown-field complaints.
        ctx.diags
            .extend(scratch.diags.into_iter().filter(|d| !d.message.starts_with("unknown field")));
        o
    } else {
        ctx.object(node, path, known)
    }
}

fn read_root(ctx: &mut Ctx, root: &Node, source: &str, opts: ReadOptions) -> RuleFile {
    let mut groups = Vec::new();
    if root.value == Value::Null {
        return RuleFile { groups };
    }
    let Some(obj) = object(ctx, root, "", &["groups"], opts) else { return RuleFile { groups } };
    let Some(list) = obj.opt("groups") else { return RuleFile { groups } };
    let Some(items) = ctx.list(list, "groups") else { return RuleFile { groups } };
    let mut seen: BTreeMap<String, Pos> = BTreeMap::new();
    for (i, g) in items.iter().enumerate() {
        let path = index("groups", i);
        if let Some(group) = read_group(ctx, g, &path, source, opts) {
            if let Some(first) = seen.get(&group.name) {
                ctx.error(
                    g.pos,
                    field(&path, "name"),
                    format!(
                        "group name {:?} is repeated in the same file (first at line {})",
                        group.name, first.line
                    ),
                );
            } else {
                seen.insert(group.name.clone(), g.pos);
            }
            groups.push(group);
        }
    }
    RuleFile { groups }
}

fn duration(ctx: &mut Ctx, node: &Node, path: &str) -> Option<i64> {
    let text = match &node.value {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        _ => {
            ctx.error(
                node.pos,
                path,
                format!("expected a duration, found {}", node.value.type_name()),
            );
            return None;
        }
    };
    match andon_promql::parse_duration(&text) {
        Some(ms) if ms >= 0 => Some(ms),
        _ => {
            ctx.error(
                node.pos,
                path,
                format!("not a valid duration string: {text:?} (expected e.g. 30s, 5m, 1h30m)"),
            );
            None
        }
    }
}

fn read_group(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    source: &str,
    opts: ReadOptions,
) -> Option<Group> {
    let obj = object(
        ctx,
        node,
        path,
        &["name", "interval", "query_offset", "limit", "rules", "labels"],
        opts,
    )?;
    let name = match obj.opt("name") {
        Some(n) => ctx.string(n, &obj.path_of("name")).unwrap_or_default(),
        None => String::new(),
    };
    if name.is_empty() {
        ctx.error(node.pos, obj.path_of("name"), "group name must not be empty");
    }
    let interval_ms = match obj.opt("interval") {
        Some(n) => match duration(ctx, n, &obj.path_of("interval")) {
            Some(0) => None,
            other => other,
        },
        None => None,
    };
    let query_offset_ms =
        obj.opt("query_offset").and_then(|n| duration(ctx, n, &obj.path_of("query_offset")));
    let limit = match obj.opt("limit") {
        Some(n) => ctx.int_min(n, &obj.path_of("limit"), 0).unwrap_or(0) as usize,
        None => 0,
    };
    let labels = match obj.opt("labels") {
        Some(n) => read_labels(ctx, n, &obj.path_of("labels")),
        None => BTreeMap::new(),
    };
    let mut rules = Vec::new();
    if let Some(list) = obj.opt("rules")
        && let Some(items) = ctx.list(list, &obj.path_of("rules"))
    {
        for (i, r) in items.iter().enumerate() {
            let rpath = index(&obj.path_of("rules"), i);
            if let Some(rule) = read_rule(ctx, r, &rpath, &name, i, &labels, source, opts) {
                rules.push(rule);
            }
        }
    }
    Some(Group { name, interval_ms, query_offset_ms, limit, labels, rules, pos: node.pos })
}

/// Label names as Prometheus 3 accepts them (any UTF-8 but empty), label
/// values any UTF-8; `__name__` cannot be set by a rule.
fn read_labels(ctx: &mut Ctx, node: &Node, path: &str) -> BTreeMap<String, String> {
    ctx.string_map(node, path, |ctx, k, _v, key, _value| {
        if key.is_empty() || key == "__name__" {
            ctx.error(k.pos, field(path, key), format!("invalid label name: {key:?}"));
        }
    })
    .unwrap_or_default()
}

fn valid_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[allow(clippy::too_many_arguments)]
fn read_rule(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    group: &str,
    i: usize,
    group_labels: &BTreeMap<String, String>,
    source: &str,
    opts: ReadOptions,
) -> Option<Rule> {
    let obj = object(
        ctx,
        node,
        path,
        &["record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"],
        opts,
    )?;
    let record = obj.opt("record").and_then(|n| ctx.string(n, &obj.path_of("record")));
    let alert = obj.opt("alert").and_then(|n| ctx.string(n, &obj.path_of("alert")));
    let name = alert.clone().or_else(|| record.clone()).unwrap_or_default();
    let here = |f: &str| format!("group {group:?}, rule {}, {name:?}: {f}", i + 1);
    let (kind, name_pos) = match (&record, &alert) {
        (Some(_), Some(_)) => {
            let p = obj.key_pos("alert").unwrap_or(node.pos);
            ctx.error(p, path, here("only one of 'record' and 'alert' must be set"));
            return None;
        }
        (None, None) => {
            ctx.error(node.pos, path, here("one of 'record' or 'alert' must be set"));
            return None;
        }
        (Some(_), None) => (RuleKind::Recording, obj.opt("record").map_or(node.pos, |n| n.pos)),
        (None, Some(_)) => (RuleKind::Alerting, obj.opt("alert").map_or(node.pos, |n| n.pos)),
    };
    if name.is_empty() {
        ctx.error(name_pos, path, here("the rule name must not be empty"));
    }
    if kind == RuleKind::Recording {
        if !valid_metric_name(&name) {
            let hint = if name.contains('{') || name.contains('}') {
                "; braces belong in expr, not in the record name"
            } else {
                ""
            };
            ctx.error(
                name_pos,
                obj.path_of("record"),
                here(&format!("invalid recording rule name: {name}{hint}")),
            );
        }
        for f in ["annotations", "for", "keep_firing_for"] {
            if obj.opt(f).is_some() {
                let p = obj.key_pos(f).unwrap_or(node.pos);
                ctx.error(
                    p,
                    obj.path_of(f),
                    here(&format!("invalid field '{f}' in recording rule")),
                );
            }
        }
    }
    let mut expr = None;
    let mut expr_text = String::new();
    match obj.opt("expr") {
        None => ctx.error(node.pos, obj.path_of("expr"), here("field 'expr' must be set in rule")),
        Some(n) => {
            let text = match &n.value {
                Value::Str(s) => Some(s.clone()),
                Value::Int(_) | Value::Float(_) => {
                    let raw = raw_scalar(source, n.pos);
                    Some(if raw.is_empty() { n.key_text().into_owned() } else { raw })
                }
                _ => {
                    ctx.string(n, &obj.path_of("expr"));
                    None
                }
            };
            if let Some(text) = text {
                if text.trim().is_empty() {
                    ctx.error(n.pos, obj.path_of("expr"), here("field 'expr' must be set in rule"));
                } else {
                    match andon_promql::parse(&text) {
                        Ok(e) => expr = Some(e),
                        Err(e) => {
                            let at = andon_promql::error_position(&e.message)
                                .map_or(n.pos, |(l, c)| locate_in_scalar(source, n.pos, l, c));
                            ctx.error(
                                at,
                                obj.path_of("expr"),
                                here(&format!("could not parse expression: {}", e.message)),
                            );
                        }
                    }
                }
                expr_text = text;
            }
        }
    }
    let for_ms = obj.opt("for").and_then(|n| duration(ctx, n, &obj.path_of("for"))).unwrap_or(0);
    let keep_firing_for_ms = obj
        .opt("keep_firing_for")
        .and_then(|n| duration(ctx, n, &obj.path_of("keep_firing_for")))
        .unwrap_or(0);
    let own_labels = match obj.opt("labels") {
        Some(n) => read_labels(ctx, n, &obj.path_of("labels")),
        None => BTreeMap::new(),
    };
    let annotations = match obj.opt("annotations") {
        Some(n) => ctx
            .string_map(n, &obj.path_of("annotations"), |ctx, k, _v, key, _value| {
                if key.is_empty() {
                    ctx.error(k.pos, obj.path_of("annotations"), "invalid annotation name: \"\"");
                }
            })
            .unwrap_or_default(),
        None => BTreeMap::new(),
    };
    if kind == RuleKind::Alerting {
        check_templates(ctx, &obj, &name, &own_labels, &annotations, source, &here);
    }
    let mut labels = group_labels.clone();
    labels.extend(own_labels);
    Some(Rule {
        kind,
        name,
        expr_text,
        expr: expr?,
        for_ms,
        keep_firing_for_ms,
        labels,
        annotations,
        pos: node.pos,
    })
}

/// Alerting rules' label values and annotations are templates: each must parse.
fn check_templates(
    ctx: &mut Ctx,
    obj: &Obj<'_>,
    name: &str,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    source: &str,
    here: &dyn Fn(&str) -> String,
) {
    for (section, map) in [("labels", labels), ("annotations", annotations)] {
        let Some(node) = obj.opt(section) else { continue };
        let Value::Map(entries) = &node.value else { continue };
        for (key, text) in map {
            if let Err(e) = andon_template::check_alert(&format!("__alert_{name}"), text) {
                let vnode =
                    entries.iter().find(|(k, _)| k.key_text() == key.as_str()).map(|(_, v)| v);
                let at = vnode.map_or(node.pos, |v| locate_in_scalar(source, v.pos, e.line, e.col));
                let what = if section == "labels" { "label" } else { "annotation" };
                ctx.error(
                    at,
                    field(&field(&obj.path, section), key),
                    here(&format!("{what} {key:?}: {}", e.message)),
                );
            }
        }
    }
}

/// The text of a plain scalar as written (`0x10` stays `0x10`, not 16).
pub fn raw_scalar(source: &str, pos: Pos) -> String {
    let Some(line) = source.lines().nth(pos.line.saturating_sub(1)) else { return String::new() };
    let start: String = line.chars().skip(pos.col.saturating_sub(1)).collect();
    let end = start
        .find(|c: char| c.is_whitespace() || matches!(c, ',' | ']' | '}' | '#'))
        .unwrap_or(start.len());
    start[..end].to_string()
}

/// Where line `l`, column `c` of a scalar's content is in the file: inside a
/// block scalar (`|`, `>`) content starts on the next line at its indentation;
/// inside a quoted scalar one column after the quote.
pub fn locate_in_scalar(source: &str, pos: Pos, l: usize, c: usize) -> Pos {
    let Some(first) = source.lines().nth(pos.line.saturating_sub(1)) else { return pos };
    let before: String = first.chars().take(pos.col.saturating_sub(1)).collect();
    let head: String = first.chars().skip(pos.col.saturating_sub(1)).collect();
    if head.starts_with('|') || head.starts_with('>') {
        // Positioned at the indicator: content starts on the next line.
        let indent = source
            .lines()
            .nth(pos.line)
            .map_or(0, |t| t.chars().take_while(|ch| *ch == ' ').count());
        return Pos::new(pos.line + l, indent + c);
    }
    if before.trim().is_empty() {
        // Positioned at the first content line of a block scalar: every line
        // shares its indentation.
        return Pos::new(pos.line + l - 1, pos.col + c - 1);
    }
    let quote = usize::from(head.starts_with('"') || head.starts_with('\''));
    if l <= 1 { Pos::new(pos.line, pos.col + quote + c - 1) } else { Pos::new(pos.line + l - 1, c) }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        match parse(text.as_bytes(), "r.yml", ReadOptions::default()) {
            Ok(_) => Vec::new(),
            Err(ds) => {
                ds.iter().map(|d| format!("{}:{}: {}", d.line, d.column, d.message)).collect()
            }
        }
    }

    #[test]
    fn reads_groups_and_rules() {
        let f = parse(
            b"groups:\n- name: g\n  interval: 30s\n  labels: {team: a}\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n  - alert: Down\n    expr: up == 0\n    for: 5m\n    keep_firing_for: 1m\n    labels: {severity: page, team: b}\n    annotations: {summary: '{{ $labels.instance }} down'}\n",
            "r.yml",
            ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(f.rule_count(), 2);
        let g = &f.groups[0];
        assert_eq!((g.name.as_str(), g.interval_ms), ("g", Some(30_000)));
        assert_eq!(g.rules[0].kind, RuleKind::Recording);
        assert_eq!(g.rules[0].labels.get("team").map(String::as_str), Some("a"));
        let a = &g.rules[1];
        assert_eq!((a.kind, a.for_ms, a.keep_firing_for_ms), (RuleKind::Alerting, 300_000, 60_000));
        assert_eq!(a.labels.get("team").map(String::as_str), Some("b"));
    }

    #[test]
    fn expression_errors_point_into_the_expression() {
        let e = errors(
            "groups:\n  - name: bad-syntax\n    rules:\n      - record: x\n        expr: 'test +'\n",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        // The position is the error inside the quoted expression: column 15 + quote + 6.
        assert!(
            e[0].starts_with(
                "5:22: group \"bad-syntax\", rule 1, \"x\": could not parse expression: 1:7:"
            ),
            "{e:?}"
        );
        let e = errors(
            "groups:\n- name: g\n  rules:\n  - record: x\n    expr: |\n      sum(\n        up +\n      )\n",
        );
        assert!(e[0].starts_with("8:7:"), "{e:?}");
    }

    #[test]
    fn every_problem_is_reported() {
        let e = errors(
            "groups:\n- name: g\n  rules:\n  - record: 'a{b}'\n    expr: up\n    for: 5m\n  - alert: A\n    record: b\n    expr: up\n  - expr: up\n  - alert: T\n    expr: up\n    annotations: {s: '{{ .Foo '}\n- name: g\n  rules: []\n",
        );
        let joined = e.join("\n");
        for want in [
            "invalid recording rule name: a{b}",
            "invalid field 'for' in recording rule",
            "only one of 'record' and 'alert' must be set",
            "one of 'record' or 'alert' must be set",
            "annotation \"s\"",
            "is repeated in the same file",
        ] {
            assert!(joined.contains(want), "missing {want:?} in\n{joined}");
        }
    }

    #[test]
    fn unknown_fields_are_errors_unless_ignored() {
        let text = b"groups:\n- name: g\n  owner: me\n  rules:\n  - record: x\n    expr: up\n";
        let e = parse(text, "r.yml", ReadOptions::default()).unwrap_err();
        assert!(e[0].message.contains("unknown field \"owner\""), "{e:?}");
        assert!(parse(text, "r.yml", ReadOptions { ignore_unknown_fields: true }).is_ok());
    }

    #[test]
    fn duplicates_are_listed_once() {
        let f = parse(
            b"groups:\n- name: a\n  rules:\n  - record: x\n    expr: up\n  - record: x\n    expr: up\n- name: b\n  rules:\n  - record: x\n    expr: up\n  - record: x\n    expr: up\n    labels: {a: b}\n",
            "r.yml",
            ReadOptions::default(),
        )
        .unwrap();
        let d = duplicate_rules(&f);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].0, "x");
        assert!(d[0].1.is_empty());
    }

    #[test]
    fn shape_recognition() {
        let docs = yaml::parse(b"groups: []\n").unwrap();
        assert!(andon_spec::resource::is_bare_rule_file(&docs[0].root));
        let docs = yaml::parse(b"apiVersion: v1\ngroups: []\n").unwrap();
        assert!(!andon_spec::resource::is_bare_rule_file(&docs[0].root));
    }
}
