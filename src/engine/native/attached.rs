//! The file attached to an engine made beforehand, instead of opened as an instance's main
//! database: creating a DuckDB instance costs ~7 ms (its catalog of built-in functions),
//! attaching our layout's file ~5 ms. An [`Engine`] is an in-memory DuckDB made before it
//! is needed (its settings given at creation); [`Instance::attach`] attaches the file to
//! it as the default database of every connection. When the instance closes, the file is
//! detached and the engine goes to a slot: to be used again (the write engine) or closed
//! later, off the path of the next open (the hardened read instance's, whose settings
//! cannot be undone).

use std::ffi::CString;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use duckdb::{Connection, ffi};

use super::file::{explain_storage_version, foreign_file};
use super::{
    Instance, Mode, NEXT_SERIAL, OpenError, RawConnection, open_raw, parse_lock_conflict, register, unregister,
};

/// An in-memory DuckDB instance with no file attached, ready to take one.
pub struct Engine {
    raw: ffi::duckdb_database,
}

// The raw handle is an opaque pointer to a thread-safe DuckDB `DatabaseInstance`.
unsafe impl Send for Engine {}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Engine")
    }
}

impl Engine {
    /// A new engine with DuckDB configuration `settings` (name, value).
    pub fn create(settings: &[(&str, String)]) -> anyhow::Result<Engine> {
        match open_raw(Path::new(":memory:"), Mode::ReadWrite, settings) {
            Ok(raw) => Ok(Engine { raw }),
            Err(OpenError::Other(err)) => Err(err.context("cannot create a DuckDB engine")),
            Err(other) => Err(anyhow!("cannot create a DuckDB engine: {other:?}")),
        }
    }

    /// Loads the extension in `file` (signed extensions only: the engine's default).
    pub fn load_extension(&self, file: &Path) -> anyhow::Result<()> {
        let literal = file.to_str().ok_or_else(|| anyhow!("extension path {} is not UTF-8", file.display()))?;
        // SAFETY: the engine's handle is live; the connection is dropped before we return.
        let conn = unsafe { Connection::open_from_raw(self.raw) }?;
        conn.execute_batch(&format!("LOAD '{}'", literal.replace('\'', "''")))
            .map_err(|err| anyhow!("cannot load extension {}: {err}", file.display()))
    }

    /// Hands the raw handle over (to an [`Instance`], which closes or returns it).
    fn into_raw(self) -> ffi::duckdb_database {
        let raw = self.raw;
        std::mem::forget(self);
        raw
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: nothing else refers to an engine's handle (connections are made only by
        // the instance it was handed to, and are gone when it comes back).
        unsafe { ffi::duckdb_close(&mut self.raw) };
    }
}

/// Where an engine goes when its instance closes: `None` closes it, a slot takes it back
/// (after the file is detached) for the next instance.
pub type EngineSlot = Arc<Mutex<Option<Engine>>>;

/// How an attached instance names and releases its file.
pub(super) struct Attachment {
    /// The database name: what DuckDB names a file it opens (`healthsim` for
    /// `healthsim.duckdb`, so user SQL naming the catalog works as before), quoted for SQL.
    quoted: String,
    /// `USE "<alias>"`, run on every connection (the default database is per connection).
    pub(super) use_sql: CString,
    home: Option<EngineSlot>,
}

impl Instance {
    /// Attaches `path` in `mode` to `engine` (`options`: more ATTACH options, e.g.
    /// `STORAGE_VERSION 'v1.0.0'`). On success the instance holds the engine, and on
    /// close detaches the file and puts the engine into `home` (`None`: closes it).
    /// On failure the engine comes back unchanged beside the error.
    pub fn attach(
        engine: Engine,
        path: &Path,
        mode: Mode,
        options: &str,
        home: Option<EngineSlot>,
    ) -> Result<Arc<Instance>, (OpenError, Engine)> {
        if let Err(err) = register(path) {
            return Err((OpenError::Other(err), engine));
        }
        if let Some(reason) = foreign_file(path) {
            unregister(path);
            return Err((OpenError::Unreadable(reason), engine));
        }
        // ATTACH takes the path as SQL text: a path that is not UTF-8 cannot be named
        // exactly (a lossy form could name, and create, another file).
        let Some(text) = path.to_str() else {
            unregister(path);
            let err = anyhow!("database path {} is not valid UTF-8; pass --db with another path", path.display());
            return Err((OpenError::Other(err), engine));
        };
        let alias = alias_for(path);
        let literal = text.replace('\'', "''");
        let access = match mode {
            Mode::ReadOnly => "READ_ONLY",
            Mode::ReadWrite => "READ_WRITE",
        };
        let options = if options.is_empty() { String::new() } else { format!(", {options}") };
        let quoted = format!("\"{}\"", alias.replace('"', "\"\""));
        let attach = format!("ATTACH '{literal}' AS {quoted} ({access}{options})");
        // SAFETY: the engine's handle is live; the connection is dropped before we return.
        let outcome = match unsafe { Connection::open_from_raw(engine.raw) } {
            Ok(conn) => conn.execute_batch(&attach).map_err(|err| err.to_string()),
            Err(err) => Err(err.to_string()),
        };
        if let Err(message) = outcome {
            unregister(path);
            let err = match parse_lock_conflict(&message) {
                Some(holder) => OpenError::Locked(holder),
                None => explain_storage_version(path, OpenError::Other(anyhow!("{message}"))),
            };
            return Err((err, engine));
        }
        tracing::debug!(?mode, path = %path.display(), "attached database file");
        let use_sql = CString::new(format!("USE {quoted}")).expect("a file name has no NUL byte");
        Ok(Arc::new(Instance {
            raw: engine.into_raw(),
            mode,
            path: path.to_owned(),
            serial: NEXT_SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            attachment: Some(Attachment { quoted, use_sql, home }),
            classifier: Mutex::new(RawConnection(std::ptr::null_mut())),
        }))
    }
}

impl Attachment {
    /// Closes the file: detaches it and puts the engine into its slot (to be used again,
    /// or closed when it suits the owner: closing a DuckDB instance takes milliseconds the
    /// file need not wait for), or closes the engine (no slot, or the detach failed: the
    /// file must not stay open).
    pub(super) fn release(self, mut raw: ffi::duckdb_database) {
        let quoted = &self.quoted;
        // SAFETY: `raw` is live; the connection is dropped before the engine moves on.
        let detached = unsafe { Connection::open_from_raw(raw) }
            .and_then(|conn| conn.execute_batch(&format!("DETACH {quoted}")))
            .map_err(|err| tracing::warn!("could not detach the database file; closing its engine: {err}"));
        match (detached, self.home) {
            (Ok(()), Some(home)) => {
                // An engine still in the slot (not yet taken) is closed here instead.
                let previous = home.lock().unwrap_or_else(|e| e.into_inner()).replace(Engine { raw });
                drop(previous);
            }
            // SAFETY: no connection refers to `raw` any more.
            _ => unsafe { ffi::duckdb_close(&mut raw) },
        }
    }
}

/// What DuckDB names a database file it opens: the file name up to its first dot
/// (`healthsim` for `healthsim.duckdb`); a name DuckDB reserves, or none, gets
/// `healthsim_db`.
fn alias_for(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default();
    match stem.to_ascii_lowercase().as_str() {
        "" | "memory" | "system" | "temp" | "main" => "healthsim_db".to_owned(),
        _ => stem.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_what_duckdb_names_a_file() {
        assert_eq!(alias_for(Path::new("/x/healthsim.duckdb")), "healthsim");
        assert_eq!(alias_for(Path::new("/x/a.b-c d.duckdb")), "a");
        assert_eq!(alias_for(Path::new("/x/memory.duckdb")), "healthsim_db");
        assert_eq!(alias_for(Path::new("/x/.duckdb")), "healthsim_db");
    }

    /// A file attached to an engine reads as the default database of every connection,
    /// is refused a second time while attached, and comes back to its slot detached.
    #[test]
    fn an_attached_file_is_everyones_default_and_detaches_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("it's.duckdb");
        let slot: EngineSlot = Arc::default();
        let engine = Engine::create(&[]).unwrap();
        let writer = Instance::attach(engine, &path, Mode::ReadWrite, "", Some(Arc::clone(&slot))).unwrap();
        let conn = writer.connect().unwrap();
        conn.conn().execute_batch("CREATE TABLE t AS SELECT 42 AS x").unwrap();
        let name: String = conn.conn().query_row("SELECT current_database()", [], |r| r.get(0)).unwrap();
        assert_eq!(name, "it's");
        assert_eq!(super::super::open_instances(&path), 1);
        drop(conn);
        drop(writer);
        assert_eq!(super::super::open_instances(&path), 0);
        let engine = slot.lock().unwrap().take().expect("the engine came back");
        let reader = Instance::attach(engine, &path, Mode::ReadOnly, "", None).unwrap();
        let first = reader.connect().unwrap();
        let second = reader.connect().unwrap();
        for conn in [&first, &second] {
            let x: i64 = conn.conn().query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
            assert_eq!(x, 42);
        }
        assert!(first.conn().execute_batch("INSERT INTO t VALUES (1)").is_err(), "read-only");
        assert_eq!(reader.classify("SELECT x FROM t").unwrap(), vec![super::super::StatementKind::Select]);
    }
}
