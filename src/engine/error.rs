//! The errors of the DB layer that callers branch on (busy, read-only, timeout...);
//! everything else is an `anyhow` chain.

use std::time::Duration;

use super::native::LockHolder;

#[derive(Debug)]
pub enum DbError {
    /// Another process kept the file locked for the whole wait.
    Busy {
        holder: LockHolder,
        waited: Duration,
    },
    /// Writes are disabled; the text says why.
    ReadOnly(String),
    /// The file is in a storage version this engine cannot read; the text says which
    /// DuckDB wrote it and how to convert it.
    Unreadable(String),
    /// A read ran longer than the query timeout and was interrupted.
    TimedOut(Duration),
    /// The client cancelled the request; the query was interrupted.
    Cancelled,
    /// The server is shutting down and takes no new work.
    ShuttingDown,
    Other(anyhow::Error),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Busy { holder, waited } => write!(
                f,
                "database is locked by {} (waited {} ms); nothing was written; close that program's connection or retry later",
                holder.describe(),
                waited.as_millis()
            ),
            DbError::ReadOnly(reason) | DbError::Unreadable(reason) => write!(f, "{reason}"),
            DbError::TimedOut(limit) => write!(
                f,
                "query interrupted after the {} ms timeout; add filters or a LIMIT, or raise --query-timeout-ms",
                limit.as_millis()
            ),
            DbError::Cancelled => write!(f, "query cancelled by the client"),
            DbError::ShuttingDown => write!(f, "server is shutting down; retry with a new server"),
            DbError::Other(err) => write!(f, "{err:#}"),
        }
    }
}

impl std::error::Error for DbError {}

impl From<anyhow::Error> for DbError {
    fn from(err: anyhow::Error) -> Self {
        DbError::Other(err)
    }
}
