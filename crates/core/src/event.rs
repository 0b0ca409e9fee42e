//! The event journal's record: what happened, when, to what, by whom.
//!
//! The journal is append-only; incident timelines, DORA metrics, the audit log and
//! the UI's activity feed are all reads of it.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Event kinds written by the resource store.
pub mod kinds {
    pub const RESOURCE_CREATED: &str = "resource.created";
    pub const RESOURCE_CONFIGURED: &str = "resource.configured";
    pub const RESOURCE_DELETED: &str = "resource.deleted";
}

/// An event as stored: `seq` is strictly increasing, without gaps, in commit order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub time: Timestamp,
    pub kind: String,
    pub subject: String,
    pub actor: String,
    pub data: serde_json::Value,
}

/// An event before the journal has given it a sequence number and time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    pub kind: String,
    pub subject: String,
    pub actor: String,
    pub data: serde_json::Value,
}
