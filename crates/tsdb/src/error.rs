//! The database's errors.

use std::io;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation failed; `context` says which and on what path.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// A block file failed its checks (bad magic, checksum or structure).
    #[error("corrupt block data in {path}: {detail}")]
    Corrupt { path: String, detail: String },
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// An append named a series the database cannot store (an empty label set).
    #[error("invalid series: {0}")]
    InvalidSeries(String),
}

impl Error {
    pub(crate) fn corrupt(path: &Path, detail: impl std::fmt::Display) -> Self {
        Error::Corrupt { path: path.display().to_string(), detail: detail.to_string() }
    }
}

/// Wraps an IO error with what was being done to which path.
pub(crate) fn io_err(what: &str, path: &Path) -> impl FnOnce(io::Error) -> Error {
    let context = format!("{what} {}", path.display());
    move |source| Error::Io { context, source }
}
