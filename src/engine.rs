//! The engine: the one owner of DuckDB, and how we reach it. A file is reached through
//! [`Access`] (the state machine of `spec/concurrency.md`: at most one instance of the file
//! in the process, a pooled hardened read instance, the write dispatcher); a database on a
//! server (Quack, DuckLake, MotherDuck) through [`RemoteAccess`]. Statements run through
//! [`Sql`] on either. The engine knows nothing of HealthSim: layouts, scenarios and
//! reference data live in `db`, which hands the engine its work as closures over [`Sql`].

mod error;
mod extensions;
mod instance;
mod native;
pub mod query;
mod remote;
mod sql;
pub mod values;

pub use error::DbError;
pub use extensions::{DIALECT, ExtensionSource, Origin as ExtensionOrigin, platform as extension_platform};
pub use instance::{Access, AccessSettings, Committed, NEW_FILE_STORAGE, regular_file, wal_path};
pub use native::{
    FileHeader, Instance, InstanceConnection, Mode, OpenError, StatementKind, library_version, open_instances,
};
pub use query::{QueryError, QueryResult};
pub use remote::{RemoteAccess, RemoteDb, RemoteKind};
pub use sql::Sql;

/// What the engine needs to reach the database; `config` builds it from the command line
/// (the engine knows nothing of flags).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file's path (absolute; for a database on a server, its address as given, for
    /// messages), timeouts, idle release and DuckDB's memory limit.
    pub file: AccessSettings,
    /// Set when the database is on a server instead of in a file.
    pub remote: Option<RemoteDb>,
    /// Where the extensions the engine loads come from (`--extension-dir`).
    pub extensions: ExtensionSource,
}
