//! The Kubernetes-style envelope (`apiVersion`, `kind`, `metadata`, `spec`) and the
//! reading of a multi-document input into validated manifests.

use std::collections::{BTreeMap, HashMap};

use andon_core::ObjectRef;
use andon_core::object::DEFAULT_NAMESPACE;
use serde::Serialize;

use crate::analysis::AnalysisTemplateSpec;
use crate::decode::{Ctx, index};
use crate::diag::{Diagnostic, Pos, did_you_mean};
use crate::environment::{self, EnvironmentSpec};
use crate::kinds::{self, KINDS, KindInfo};
use crate::names::{check_dns1123_label, check_label_key, check_label_value};
use crate::scrape::{self, ScrapeConfigSpec};
use crate::service::{self, ServiceSpec};
use crate::yaml::{self, Node, Value};

pub const API_VERSION: &str = "andon.dev/v1";

/// The typed spec of each kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Spec {
    Service(Box<ServiceSpec>),
    Environment(EnvironmentSpec),
    ScrapeConfig(Box<ScrapeConfigSpec>),
    AnalysisTemplate(Box<AnalysisTemplateSpec>),
    ErrorBudgetPolicy(crate::budget_policy::ErrorBudgetPolicySpec),
    Repository(Box<crate::repository::RepositorySpec>),
    /// A format another crate validates in depth (rule files): the spec as
    /// written, and its tree for positions.
    Foreign(Box<ForeignSpec>),
}

/// A spec kept as written; the crate owning its format checks it
/// (`andon_rules::check_manifests` for `PrometheusRule`).
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignSpec {
    pub value: serde_json::Value,
    /// The spec's YAML tree, with positions.
    pub node: Node,
}

impl Serialize for ForeignSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

/// The apiVersions a kind may be written with besides andon's own.
fn accepts_api_version(kind: Option<&str>, v: &str) -> bool {
    v == API_VERSION
        || (kind == Some("PrometheusRule") && v == "monitoring.coreos.com/v1")
        || (matches!(kind, Some("AnalysisTemplate" | "ClusterAnalysisTemplate" | "Rollout"))
            && v == ARGO_API_VERSION)
}

/// Argo Rollouts' API group: its `Rollout` reads as a Service, its analysis templates as
/// andon's.
pub const ARGO_API_VERSION: &str = "argoproj.io/v1alpha1";

/// What kind of SLO document `node` is, by shape: a Sloth spec
/// (`version: prometheus/v1`), a Sloth `PrometheusServiceLevel`, an OpenSLO document.
fn slo_shape(node: &Node) -> Option<&'static str> {
    if node.str_field("version").is_some_and(|v| v.starts_with("prometheus/"))
        && node.str_field("apiVersion").is_none()
    {
        return Some("sloth");
    }
    let api = node.str_field("apiVersion")?;
    if api.starts_with("sloth.slok.dev/") {
        return Some("sloth-kubernetes");
    }
    if api.starts_with("openslo/") {
        return Some("openslo");
    }
    None
}

/// The `openslo/v1` `SLI` documents among `docs`, by `metadata.name`: what SLOs name
/// with `indicatorRef`.
pub fn openslo_indicators(docs: &[yaml::Document]) -> HashMap<String, &Node> {
    let mut out = HashMap::new();
    for d in docs {
        if d.root.str_field("apiVersion") == Some("openslo/v1")
            && d.root.str_field("kind") == Some("SLI")
            && let Value::Map(entries) = &d.root.value
            && let Some((_, meta)) = entries.iter().find(|(k, _)| k.key_text() == "metadata")
            && let Some(name) = meta.str_field("name")
        {
            out.insert(name.to_owned(), &d.root);
        }
    }
    out
}

/// An OpenSLO v1 SLO with each `indicatorRef` (of the SLO or of an objective)
/// replaced by the named SLI inline (`indicator: {metadata, spec}`), so the stored
/// document stands alone. The SLI keeps its own positions.
fn inline_indicator_refs(ctx: &mut Ctx, node: &Node, slis: &HashMap<String, &Node>) -> Node {
    fn replace(ctx: &mut Ctx, map: &mut Node, path: &str, slis: &HashMap<String, &Node>) {
        let Value::Map(entries) = &mut map.value else { return };
        for (k, v) in entries.iter_mut() {
            if k.key_text() != "indicatorRef" {
                continue;
            }
            let Value::Str(name) = &v.value else { return };
            let Some(sli) = slis.get(name.as_str()) else {
                ctx.error(
                    v.pos,
                    format!("{path}.indicatorRef"),
                    format!("no openslo/v1 SLI named {name:?} in the applied files"),
                );
                return;
            };
            let Value::Map(parts) = &sli.value else { return };
            let kept: Vec<(Node, Node)> = parts
                .iter()
                .filter(|(pk, _)| matches!(pk.key_text().as_ref(), "metadata" | "spec"))
                .cloned()
                .collect();
            *k = Node { value: Value::Str("indicator".into()), pos: k.pos };
            *v = Node { value: Value::Map(kept), pos: sli.pos };
        }
    }
    let mut out = node.clone();
    if node.str_field("apiVersion") != Some("openslo/v1") {
        return out;
    }
    if let Value::Map(entries) = &mut out.value
        && let Some((_, spec)) = entries.iter_mut().find(|(k, _)| k.key_text() == "spec")
    {
        replace(ctx, spec, "spec", slis);
        if let Value::Map(spec_entries) = &mut spec.value
            && let Some((_, objectives)) =
                spec_entries.iter_mut().find(|(k, _)| k.key_text() == "objectives")
            && let Value::Seq(items) = &mut objectives.value
        {
            for (i, o) in items.iter_mut().enumerate() {
                replace(ctx, o, &index("spec.objectives", i), slis);
            }
        }
    }
    out
}

/// An SLO document as a `PrometheusServiceLevel` manifest: its name is
/// `metadata.name`, or for a Sloth spec its `service`. OpenSLO `SLI` and `Service`
/// documents beside the SLOs are read, not stored: SLIs go inline into the SLOs that
/// name them.
fn slo_manifest(
    ctx: &mut Ctx,
    node: &Node,
    shape: &str,
    file: &str,
    ns: &str,
    slis: &HashMap<String, &Node>,
) -> Option<Manifest> {
    if shape == "openslo" && node.str_field("kind") != Some("SLO") {
        let kind = node.str_field("kind").unwrap_or("?");
        if matches!(kind, "SLI" | "Service") {
            return None;
        }
        let at = match &node.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.key_text() == "kind")
                .map_or(node.pos, |(_, v)| v.pos),
            _ => node.pos,
        };
        ctx.error(
            at,
            "kind",
            format!(
                "OpenSLO {kind} documents are not applied: andon alerts on SLOs with \
                 multi-window multi-burn-rate rules and routes alerts with an Alertmanager \
                 configuration (`andon slo generate` reads and skips them)"
            ),
        );
        return None;
    }
    let inlined;
    let node = if shape == "openslo" {
        inlined = inline_indicator_refs(ctx, node, slis);
        &inlined
    } else {
        node
    };
    let meta = match &node.value {
        Value::Map(entries) => {
            entries.iter().find(|(k, _)| k.key_text() == "metadata").map(|(_, v)| v)
        }
        _ => None,
    };
    let (name, namespace) = match (shape, meta) {
        ("sloth", _) => (node.str_field("service").map(name_from_file), None),
        (_, Some(m)) => {
            (m.str_field("name").map(str::to_owned), m.str_field("namespace").map(str::to_owned))
        }
        _ => (None, None),
    };
    let Some(name) = name else {
        ctx.error(node.pos, "metadata.name", "required field is missing");
        return None;
    };
    if let Err(e) = check_dns1123_label(&name) {
        ctx.error(node.pos, "metadata.name", e);
        return None;
    }
    Some(Manifest {
        kind: &kinds::PROMETHEUS_SERVICE_LEVEL,
        metadata: Metadata {
            name,
            namespace: namespace.unwrap_or_else(|| ns.to_owned()),
            ..Metadata::default()
        },
        spec: Spec::Foreign(Box::new(ForeignSpec {
            value: serde_json::json!({ "document": node.to_json() }),
            node: node.clone(),
        })),
        origin: Origin { file: file.to_owned(), pos: node.pos },
    })
}

/// Whether a document is a bare Alertmanager configuration (`route:` and `receivers:`
/// at the top, no `apiVersion`).
pub fn is_bare_alertmanager_config(node: &Node) -> bool {
    let Value::Map(entries) = &node.value else { return false };
    let has = |k: &str| entries.iter().any(|(key, _)| key.key_text() == k);
    has("route") && has("receivers") && !has("apiVersion")
}

/// Whether a document is a bare Prometheus rule file (only `groups:` at the top).
pub fn is_bare_rule_file(node: &Node) -> bool {
    let Value::Map(entries) = &node.value else { return false };
    !entries.is_empty() && entries.iter().all(|(k, _)| k.key_text() == "groups")
}

/// The name a bare rule file gets: its file name without extension, as a DNS label.
pub fn name_from_file(file: &str) -> String {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let stem = base
        .strip_suffix(".yaml")
        .or_else(|| base.strip_suffix(".yml"))
        .or_else(|| base.strip_suffix(".json"))
        .unwrap_or(base);
    let mut out = String::new();
    for c in stem.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(63).collect();
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() || matches!(file, "-" | "request") { "rules".to_string() } else { out }
}

/// The user-settable part of `metadata`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Metadata {
    pub name: String,
    pub namespace: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// When given, the write succeeds only if the stored resource is still at this version.
    #[serde(skip)]
    pub resource_version: Option<u64>,
}

/// Where a manifest came from, for messages that point back at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub pos: Pos,
}

/// One validated resource document.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub kind: &'static KindInfo,
    pub metadata: Metadata,
    pub spec: Spec,
    pub origin: Origin,
}

impl Manifest {
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::new(self.kind.kind, &self.metadata.namespace, &self.metadata.name)
    }

    /// The spec as stored and served, defaults filled in.
    pub fn spec_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.spec).unwrap_or_default()
    }

    /// The manifest as a document again (defaults filled in), e.g. to send it to the server.
    pub fn to_document(&self) -> serde_json::Value {
        let mut metadata =
            serde_json::json!({"name": self.metadata.name, "namespace": self.metadata.namespace});
        if !self.metadata.labels.is_empty() {
            metadata["labels"] = self.labels_json();
        }
        if !self.metadata.annotations.is_empty() {
            metadata["annotations"] = self.annotations_json();
        }
        if let Some(v) = self.metadata.resource_version {
            metadata["resourceVersion"] = v.to_string().into();
        }
        serde_json::json!({"apiVersion": API_VERSION, "kind": self.kind.kind, "metadata": metadata, "spec": self.spec_json()})
    }

    pub fn labels_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.metadata.labels).unwrap_or_default()
    }

    pub fn annotations_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.metadata.annotations).unwrap_or_default()
    }
}

const ENVELOPE_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status"];
const METADATA_FIELDS: &[&str] = &[
    "name",
    "namespace",
    "labels",
    "annotations",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
];

/// Reads every document of one input. Returns the manifests, or every problem found
/// (each carrying `file`). Empty documents are skipped; `kind: List` expands its `items`.
pub fn parse_manifests(
    file: &str,
    bytes: &[u8],
    default_namespace: Option<&str>,
) -> Result<Vec<Manifest>, Vec<Diagnostic>> {
    let docs = yaml::parse(bytes).map_err(|d| vec![d.with_file(file)])?;
    let mut ctx = Ctx::default();
    let mut out = Vec::new();
    let ns = default_namespace.unwrap_or(DEFAULT_NAMESPACE);
    let slis = openslo_indicators(&docs);
    for doc in &docs {
        if doc.root.value == Value::Null {
            continue;
        }
        if is_bare_rule_file(&doc.root) {
            out.push(Manifest {
                kind: &kinds::PROMETHEUS_RULE,
                metadata: Metadata {
                    name: name_from_file(file),
                    namespace: ns.to_owned(),
                    ..Metadata::default()
                },
                spec: Spec::Foreign(Box::new(ForeignSpec {
                    value: doc.root.to_json(),
                    node: doc.root.clone(),
                })),
                origin: Origin { file: file.to_owned(), pos: doc.root.pos },
            });
        } else if is_bare_alertmanager_config(&doc.root) {
            out.push(Manifest {
                kind: &kinds::ALERTMANAGER_CONFIG,
                metadata: Metadata {
                    name: match file {
                        "-" | "request" => "alertmanager".to_owned(),
                        f => name_from_file(f),
                    },
                    namespace: ns.to_owned(),
                    ..Metadata::default()
                },
                spec: Spec::Foreign(Box::new(ForeignSpec {
                    value: doc.root.to_json(),
                    node: doc.root.clone(),
                })),
                origin: Origin { file: file.to_owned(), pos: doc.root.pos },
            });
        } else if let Some(shape) = slo_shape(&doc.root) {
            out.extend(slo_manifest(&mut ctx, &doc.root, shape, file, ns, &slis));
        } else if is_list(&doc.root) {
            decode_list(&mut ctx, &doc.root, file, ns, &mut out);
        } else if let Some(m) = decode_manifest(&mut ctx, &doc.root, file, ns) {
            out.push(m);
        }
    }
    let mut diags = ctx.diags;
    diags.extend(check_unique(&out));
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags.into_iter().map(|d| d.with_file(file)).collect())
    }
}

fn is_list(node: &Node) -> bool {
    let Value::Map(entries) = &node.value else { return false };
    entries.iter().any(|(k, v)| k.key_text() == "kind" && v.value == Value::Str("List".into()))
}

fn decode_list(ctx: &mut Ctx, node: &Node, file: &str, ns: &str, out: &mut Vec<Manifest>) {
    let Some(o) = ctx.object(node, "", &["apiVersion", "kind", "metadata", "items"]) else {
        return;
    };
    let Some(items) = o.require(ctx, "items").and_then(|n| ctx.list(n, "items")) else { return };
    for (i, item) in items.iter().enumerate() {
        let before = ctx.diags.len();
        let m = decode_manifest(ctx, item, file, ns);
        for d in &mut ctx.diags[before..] {
            d.field = if d.field.is_empty() {
                index("items", i)
            } else {
                format!("{}.{}", index("items", i), d.field)
            };
        }
        out.extend(m);
    }
}

/// Finds resources named twice in one input set; reported at the second occurrence.
pub fn check_unique(manifests: &[Manifest]) -> Vec<Diagnostic> {
    let mut seen: HashMap<ObjectRef, &Origin> = HashMap::new();
    let mut out = Vec::new();
    for m in manifests {
        if let Some(first) = seen.insert(m.object_ref(), &m.origin) {
            let mut d = Diagnostic::at(
                m.origin.pos,
                "metadata.name",
                format!(
                    "duplicate {} {}/{} in one apply (first defined at {}:{}:{})",
                    m.kind.kind,
                    m.metadata.namespace,
                    m.metadata.name,
                    first.file,
                    first.pos.line,
                    first.pos.col
                ),
            );
            d.file = Some(m.origin.file.clone());
            out.push(d);
            seen.insert(m.object_ref(), first);
        }
    }
    out
}

fn decode_manifest(ctx: &mut Ctx, node: &Node, file: &str, ns: &str) -> Option<Manifest> {
    let before = ctx.diags.len();
    let o = ctx.object(node, "", ENVELOPE_FIELDS)?;
    let kind_text = o.get("kind").and_then(|n| match &n.value {
        Value::Str(s) => Some(s.as_str()),
        _ => None,
    });
    if let Some(n) = o.require(ctx, "apiVersion")
        && let Some(v) = ctx.string(n, "apiVersion")
        && !accepts_api_version(kind_text, &v)
    {
        ctx.error(
            n.pos,
            "apiVersion",
            format!("unsupported apiVersion {v:?}; expected {API_VERSION:?}"),
        );
    }
    let kind = o.require(ctx, "kind").and_then(|n| {
        let k = ctx.string(n, "kind")?;
        let found = if k == "Rollout" { Some(&kinds::SERVICE) } else { kinds::by_kind(&k) };
        if found.is_none() {
            let names: Vec<&str> = KINDS.iter().map(|k| k.kind).collect();
            let hint = match did_you_mean(&k, &names) {
                Some(s) => format!(" (did you mean {s:?}?)"),
                None => String::new(),
            };
            ctx.error(
                n.pos,
                "kind",
                format!("unknown kind {k:?}{hint}; known kinds: {}", names.join(", ")),
            );
        }
        found
    });
    let mut metadata = o.require(ctx, "metadata").and_then(|n| decode_metadata(ctx, n, ns));
    if kind.is_some_and(|k| k.kind == "ClusterAnalysisTemplate")
        && let Some(m) = &mut metadata
    {
        m.namespace = DEFAULT_NAMESPACE.to_owned();
    }
    let spec = match kind {
        Some(_) if kind_text == Some("Rollout") => o
            .require(ctx, "spec")
            .and_then(|n| crate::rollout::decode(ctx, n, "spec"))
            .map(|s| Spec::Service(Box::new(s))),
        Some(k) if k.kind == "AnalysisTemplate" || k.kind == "ClusterAnalysisTemplate" => o
            .require(ctx, "spec")
            .and_then(|n| crate::analysis::decode(ctx, n, "spec"))
            .map(|s| Spec::AnalysisTemplate(Box::new(s))),
        Some(k) if k.kind == "ErrorBudgetPolicy" => o
            .require(ctx, "spec")
            .and_then(|n| crate::budget_policy::decode(ctx, n, "spec"))
            .map(Spec::ErrorBudgetPolicy),
        Some(k) if k.kind == "Repository" => o
            .require(ctx, "spec")
            .and_then(|n| crate::repository::decode(ctx, n, "spec"))
            .map(|s| Spec::Repository(Box::new(s))),
        Some(k) if k.kind == "Service" => o
            .require(ctx, "spec")
            .and_then(|n| service::decode(ctx, n, "spec"))
            .map(|s| Spec::Service(Box::new(s))),
        Some(k) if k.kind == "ScrapeConfig" => o
            .require(ctx, "spec")
            .and_then(|n| scrape::decode(ctx, n, "spec"))
            .map(|s| Spec::ScrapeConfig(Box::new(s))),
        Some(k) if k.kind == "AlertmanagerConfig" => o
            .require(ctx, "spec")
            .map(|n| Spec::Foreign(Box::new(ForeignSpec { value: n.to_json(), node: n.clone() }))),
        Some(k) if k.kind == "PrometheusServiceLevel" => o.require(ctx, "spec").and_then(|n| {
            let spec = ctx.object(n, "spec", &["document"])?;
            let doc = spec.require(ctx, "document")?;
            Some(Spec::Foreign(Box::new(ForeignSpec { value: n.to_json(), node: doc.clone() })))
        }),
        Some(k) if k.kind == "PrometheusRule" => o.require(ctx, "spec").and_then(|n| {
            let spec = ctx.object(n, "spec", &["groups"])?;
            spec.require(ctx, "groups")?;
            Some(Spec::Foreign(Box::new(ForeignSpec { value: n.to_json(), node: n.clone() })))
        }),
        Some(_) => match o.opt("spec") {
            Some(n) => environment::decode(ctx, n, "spec").map(Spec::Environment),
            None => Some(Spec::Environment(EnvironmentSpec::default())),
        },
        None => None,
    };
    if ctx.diags.len() != before {
        return None;
    }
    Some(Manifest {
        kind: kind?,
        metadata: metadata?,
        spec: spec?,
        origin: Origin { file: file.to_owned(), pos: node.pos },
    })
}

fn decode_metadata(ctx: &mut Ctx, node: &Node, default_ns: &str) -> Option<Metadata> {
    let before = ctx.diags.len();
    let o = ctx.object(node, "metadata", METADATA_FIELDS)?;
    let dns_name = |ctx: &mut Ctx, field: &str| -> Option<String> {
        let n = o.opt(field)?;
        let p = o.path_of(field);
        let v = ctx.string(n, &p)?;
        if let Err(e) = check_dns1123_label(&v) {
            ctx.error(n.pos, &p, e);
        }
        Some(v)
    };
    let name = dns_name(ctx, "name");
    if name.is_none() && o.opt("name").is_none() {
        ctx.error(node.pos, "metadata.name", "required field is missing");
    }
    let namespace = dns_name(ctx, "namespace").unwrap_or_else(|| default_ns.to_owned());
    let labels = o
        .opt("labels")
        .and_then(|n| {
            ctx.string_map(n, "metadata.labels", |ctx, k, v, key, value| {
                if let Err(e) = check_label_key(key) {
                    ctx.error(k.pos, format!("metadata.labels.{key}"), e);
                }
                if let Err(e) = check_label_value(value) {
                    ctx.error(v.pos, format!("metadata.labels.{key}"), e);
                }
            })
        })
        .unwrap_or_default();
    let annotations = o
        .opt("annotations")
        .and_then(|n| {
            ctx.string_map(n, "metadata.annotations", |ctx, k, _, key, _| {
                if let Err(e) = check_label_key(key) {
                    ctx.error(
                        k.pos,
                        format!("metadata.annotations.{key}"),
                        e.replace("label key", "annotation key"),
                    );
                }
            })
        })
        .unwrap_or_default();
    let resource_version = o.opt("resourceVersion").and_then(|n| {
        let parsed = match &n.value {
            Value::Str(s) => s.parse::<u64>().ok(),
            Value::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        };
        if parsed.is_none() {
            ctx.error(
                n.pos,
                "metadata.resourceVersion",
                "expected a resource version as returned by the server (a number)",
            );
        }
        parsed
    });
    if ctx.diags.len() != before {
        return None;
    }
    Some(Metadata { name: name?, namespace, labels, annotations, resource_version })
}
