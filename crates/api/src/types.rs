//! Request and response bodies of andon's own API (`/api/v1`).

use serde::{Deserialize, Serialize};

/// What `POST /api/v1/apply` did to one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyItem {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `created`, `configured` or `unchanged`.
    pub action: String,
    pub resource_version: String,
    pub generation: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyResponse {
    pub results: Vec<ApplyItem>,
}

/// List metadata: `continue` is the cursor for the next page, absent on the last one.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    #[serde(rename = "continue", default, skip_serializing_if = "Option::is_none")]
    pub continue_: Option<String>,
    /// The journal position the list was read at.
    pub resource_version: String,
}

/// A page of resources of one kind, shaped like a Kubernetes list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceList {
    pub api_version: String,
    pub kind: String,
    pub metadata: ListMeta,
    pub items: Vec<serde_json::Value>,
}
