//! andon's HTTP boundary types: RFC 9457 problem documents, the mapping from error
//! kinds to statuses, and the request/response shapes shared by server and CLI.
//!
//! This crate and `spec` are the only ones that define wire formats.

pub mod problem;
pub mod types;

pub use problem::Problem;
pub use types::{ApplyItem, ApplyResponse, ListMeta, ResourceList};
