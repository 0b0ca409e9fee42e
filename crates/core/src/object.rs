//! Identity of a stored resource: kind, namespace and name.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The namespace a resource lands in when its manifest names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Names one resource. Two resources with the same kind, namespace and name are the same resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn new(
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        ObjectRef { kind: kind.into(), namespace: namespace.into(), name: name.into() }
    }
}

/// Renders as the journal's `subject`: `Kind/namespace/name`.
impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
    }
}
