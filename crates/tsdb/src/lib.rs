//! andon's embedded time-series database.
//!
//! Samples arrive through an [`Appender`] and land in the *head*: per-series
//! Gorilla-compressed chunks in memory ([`chunk`]), found through an inverted
//! index of label pairs. Every commit is first appended to a write-ahead log
//! in `DIR/wal/`, so it survives a crash and is replayed on open. When the
//! head spans more than 1.5 block durations, [`Tsdb::maintain`] writes its
//! oldest block-duration range into an immutable block directory
//! (`DIR/<id>/` with `meta.json`, `chunks` and `index`), drops that range from
//! memory and truncates the log; it also merges small blocks into larger ones
//! and deletes blocks past retention. Queries ([`andon_series::Querier`])
//! merge blocks and head.
//!
//! # Appending
//!
//! A commit stores its acceptable samples all together or not at all. A
//! sample is rejected — counted in [`CommitStats`], never failing the commit —
//! when it is older than its series' newest sample ([`RejectKind::OutOfOrder`];
//! there is no out-of-order window), when it has the newest sample's timestamp
//! but another value ([`RejectKind::DuplicateTimestamp`]; the same value is
//! accepted and not stored twice), or when it is older than the head's lower
//! bound, the end of the range last moved into a block
//! ([`RejectKind::TooOld`]).
//!
//! # Durability
//!
//! `commit` returns after the write-ahead-log record is written with
//! `write(2)`: the commit survives the process being killed. With
//! [`Options::fsync`] it is also synced, surviving power loss. Blocks and
//! log checkpoints are always synced before they replace anything. Opening
//! truncates a torn or corrupt log tail with a warning instead of failing.
//!
//! ```no_run
//! # fn main() -> Result<(), andon_tsdb::Error> {
//! use andon_series::{Labels, Matcher, Querier};
//! use andon_tsdb::{Options, Tsdb};
//!
//! let db = Tsdb::open(std::path::Path::new("/var/lib/andon/tsdb"), Options::default())?;
//! let up = Labels::from_pairs(&[("__name__", "up"), ("job", "api")]);
//! let mut app = db.appender();
//! app.append(&up, 1_700_000_000_000, 1.0)?;
//! let stats = app.commit()?;
//! assert_eq!(stats.appended, 1);
//! let series = db.select(&[Matcher::equal("job", "api")], 0, i64::MAX);
//! db.maintain(1_700_000_000_000)?;
//! # let _ = series;
//! # Ok(())
//! # }
//! ```

mod block;
pub mod chunk;
mod compact;
mod db;
mod encoding;
mod error;
mod head;
mod index;
mod postings;
mod record;
mod wal;

pub use block::{BlockCompaction, BlockMeta, BlockStats};
pub use db::{Appender, CommitStats, MaintainReport, Options, RejectKind, Rejection, Stats, Tsdb};
pub use error::Error;
