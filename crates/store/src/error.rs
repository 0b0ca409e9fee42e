//! The store's errors and how they map onto andon's error kinds.

use andon_core::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "the database schema is at version {found}, newer than this andon knows ({known}); upgrade andon"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("the store is shutting down")]
    Closed,
}

impl StoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::NotFound(_) => ErrorKind::NotFound,
            StoreError::Conflict(_) => ErrorKind::Conflict,
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_))
            | StoreError::Closed => ErrorKind::Unavailable,
            StoreError::Database(_) | StoreError::Corrupt(_) | StoreError::SchemaTooNew { .. } => {
                ErrorKind::Internal
            }
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
