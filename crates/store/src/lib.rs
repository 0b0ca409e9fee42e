//! andon's store: desired-state resources and the append-only event journal, on
//! SQLite (default, a file in the data dir) or PostgreSQL, through one code path.
//!
//! Every write goes through one writer task that batches whatever is queued into a
//! single transaction (group commit): many concurrent writers share one fsync, journal
//! sequence numbers are assigned in commit order without gaps, and an apply of many
//! resources is all or nothing.

mod error;
mod migrate;
mod store;
mod writer;

pub use error::StoreError;
pub use store::{ApplyResult, Backend, Desired, Outcome, Store, StoredObject};
pub use writer::{COMMIT_BUCKETS_MICROS, Stats};
