//! andon's resource formats: positioned YAML, the Kubernetes-style envelope, each
//! kind's spec with Kubernetes' field names and defaults, and diagnostics that point at
//! `file:line:col: field.path`.
//!
//! Pure: no IO beyond reading the files `lint::collect_inputs` is given.

pub mod analysis;
pub mod autoscaling;
pub mod budget_policy;
pub mod decode;
pub mod diag;
pub mod environment;
pub mod kinds;
pub mod lint;
pub mod names;
pub mod pod;
pub mod quantity;
pub mod repository;
pub mod resource;
pub mod rollout;
pub mod scrape;
pub mod service;
pub mod strategy;
pub mod yaml;
pub mod yaml_out;

pub use diag::{Diagnostic, Pos};
pub use kinds::KindInfo;
pub use resource::{API_VERSION, Manifest, Metadata, Spec, parse_manifests};
