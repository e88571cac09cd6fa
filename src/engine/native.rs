//! The DuckDB instance itself, at the FFI level: opening the file with a configuration,
//! the process-wide "one instance per file" registry, lock-conflict parsing, and
//! parse-only statement classification.
//!
//! This is the only file that calls `duckdb::ffi`. We open the database ourselves (rather
//! than through `Connection::open_with_flags`) so that we hold the raw `duckdb_database`:
//! it lets us create a raw connection for `duckdb_extract_statements`, which parses
//! without executing. (duckdb-rs `Connection::prepare` *executes* every statement but the
//! last, so it must never see unvetted multi-statement SQL.)

use std::collections::HashSet;
use std::ffi::{CStr, CString, c_char};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow};
use duckdb::{Connection, ffi};

mod attached;
mod file;
pub use attached::{Engine, EngineSlot};
pub use file::FileHeader;
use file::{explain_storage_version, foreign_file};

/// Prepared statements kept per connection: the summary alone uses about 30 distinct ones.
const STATEMENT_CACHE: usize = 64;

/// How an instance opens the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ReadOnly,
    ReadWrite,
}

/// Why an open failed; `Locked` is the case callers retry.
#[derive(Debug)]
pub enum OpenError {
    /// Another process holds a conflicting lock on the file.
    Locked(LockHolder),
    /// The file is in a storage version this engine cannot read (written by a newer, or a
    /// much older, DuckDB); the text is the one-line explanation for the user.
    Unreadable(String),
    /// Anything else (missing file in read-only mode, corrupt file, bad setting...).
    Other(anyhow::Error),
}

/// The process DuckDB names in a lock conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub program: Option<String>,
    pub pid: Option<u32>,
    /// DuckDB's full message, for logs.
    pub message: String,
}

impl LockHolder {
    /// `python3 (PID 4242)`, or a neutral phrase when DuckDB did not say.
    pub fn describe(&self) -> String {
        match (&self.program, self.pid) {
            (Some(program), Some(pid)) => format!("{program} (PID {pid})"),
            (None, Some(pid)) => format!("PID {pid}"),
            (Some(program), None) => program.clone(),
            (None, None) => "another process".to_owned(),
        }
    }
}

/// Paths with a live instance in this process. DuckDB's locks are per process, so a
/// second instance of the same file would silently share (and on close, drop) the
/// first one's lock; this registry makes that a hard error instead.
static OPEN_FILES: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// An open DuckDB instance of one file. Connections made from it keep it alive through
/// an `Arc`, so the instance closes only after its last connection is dropped.
pub struct Instance {
    raw: ffi::duckdb_database,
    mode: Mode,
    path: PathBuf,
    serial: u64,
    /// Set when the file is attached to an [`Engine`] rather than opened as the main
    /// database of `raw` (see `attached.rs`).
    attachment: Option<attached::Attachment>,
    /// The connection [`Instance::classify`] parses and binds on, made at its first use
    /// (making one and selecting the attached file cost about a tenth of a small query).
    classifier: Mutex<RawConnection>,
}

/// A raw connection handle (null until made); disconnected by its [`Instance`]'s drop.
struct RawConnection(ffi::duckdb_connection);

/// Source of [`Instance::serial`].
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

// The raw handle is an opaque pointer to a thread-safe DuckDB `DatabaseInstance`.
unsafe impl Send for Instance {}
unsafe impl Sync for Instance {}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("mode", &self.mode).field("path", &self.path).finish()
    }
}

impl Instance {
    /// Opens `path` in `mode` with DuckDB configuration `settings` (name, value).
    /// Fails if this process already has an instance of the file.
    pub fn open(path: &Path, mode: Mode, settings: &[(&str, String)]) -> Result<Arc<Instance>, OpenError> {
        register(path).map_err(OpenError::Other)?;
        if let Some(reason) = foreign_file(path) {
            unregister(path);
            return Err(OpenError::Unreadable(reason));
        }
        match open_raw(path, mode, settings).map_err(|err| explain_storage_version(path, err)) {
            Ok(raw) => {
                tracing::debug!(?mode, path = %path.display(), "opened database instance");
                Ok(Arc::new(Instance {
                    raw,
                    mode,
                    path: path.to_owned(),
                    serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
                    attachment: None,
                    classifier: Mutex::new(RawConnection(ptr::null_mut())),
                }))
            }
            Err(err) => {
                unregister(path);
                Err(err)
            }
        }
    }

    /// Unique per instance opened by this process. A read-only instance sees a file no
    /// other process can change while it is open (it holds the shared lock), so results
    /// computed on it stay valid for as long as the same serial is open.
    pub fn serial(&self) -> u64 {
        self.serial
    }

    #[cfg(test)]
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A new connection to this instance. The returned handle keeps the instance alive.
    pub fn connect(self: &Arc<Self>) -> anyhow::Result<InstanceConnection> {
        // SAFETY: `raw` is a live database; the Arc stored beside the connection keeps it
        // open until the connection (declared first, so dropped first) is gone.
        let conn = unsafe { Connection::open_from_raw(self.raw) }.context("cannot connect to the database instance")?;
        // Pooled read connections live as long as their instance, whose data cannot
        // change meanwhile: the tools' fixed statements are prepared once per connection.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        if let Some(attachment) = &self.attachment {
            conn.execute_batch(attachment.use_sql.to_str().expect("built from a String"))
                .context("cannot select the attached database")?;
        }
        Ok(InstanceConnection { conn, instance: Arc::clone(self) })
    }

    /// Classifies `sql` by DuckDB's own parser and binder without executing anything: on
    /// the instance's classifier connection, or (while another call uses that) on a
    /// connection of its own.
    pub fn classify(&self, sql: &str) -> Result<Vec<StatementKind>, String> {
        let c_sql = CString::new(sql).map_err(|_| "the SQL contains a NUL character".to_owned())?;
        let use_sql = self.attachment.as_ref().map(|a| a.use_sql.as_c_str());
        if let Ok(mut kept) = self.classifier.try_lock() {
            if kept.0.is_null() {
                kept.0 = connect_raw(self.raw, use_sql)?;
            }
            // SAFETY: a live connection of `raw`, used by one caller at a time (the lock).
            return unsafe { classify_on(kept.0, &c_sql) };
        }
        let mut con = connect_raw(self.raw, use_sql)?;
        // SAFETY: a live connection made above, disconnected right after.
        let kinds = unsafe { classify_on(con, &c_sql) };
        // SAFETY: as above; nothing refers to `con` any more.
        unsafe { ffi::duckdb_disconnect(&mut con) };
        kinds
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let classifier = &mut self.classifier.get_mut().unwrap_or_else(|e| e.into_inner()).0;
        if !classifier.is_null() {
            // SAFETY: the classifier is a connection of `raw`, which is still open.
            unsafe { ffi::duckdb_disconnect(classifier) };
        }
        match self.attachment.take() {
            Some(attachment) => attachment.release(self.raw),
            // SAFETY: no connection refers to `raw` any more (each holds an Arc to us).
            None => unsafe { ffi::duckdb_close(&mut self.raw) },
        }
        unregister(&self.path);
        tracing::debug!(mode = ?self.mode, "closed database instance");
    }
}

/// A duckdb-rs connection bound to the [`Instance`] it came from.
pub struct InstanceConnection {
    // Field order matters: the connection must be dropped before the instance.
    conn: Connection,
    instance: Arc<Instance>,
}

impl InstanceConnection {
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn instance(&self) -> &Arc<Instance> {
        &self.instance
    }
}

/// How many instances of `path` this process has open (0 or 1); for tests and asserts.
pub fn open_instances(path: &Path) -> usize {
    let guard = OPEN_FILES.lock().unwrap_or_else(|e| e.into_inner());
    guard.as_ref().map_or(0, |set| usize::from(set.contains(path)))
}

fn register(path: &Path) -> anyhow::Result<()> {
    let mut guard = OPEN_FILES.lock().unwrap_or_else(|e| e.into_inner());
    let set = guard.get_or_insert_with(HashSet::new);
    if !set.insert(path.to_owned()) {
        debug_assert!(false, "a second DuckDB instance of {} was requested", path.display());
        return Err(anyhow!(
            "internal error: this process already has {} open; refusing a second instance",
            path.display()
        ));
    }
    Ok(())
}

fn unregister(path: &Path) {
    let mut guard = OPEN_FILES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(set) = guard.as_mut() {
        set.remove(path);
    }
}

fn open_raw(path: &Path, mode: Mode, settings: &[(&str, String)]) -> Result<ffi::duckdb_database, OpenError> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| OpenError::Other(anyhow!("database path {} contains a NUL byte", path.display())))?;
    let mut config: ffi::duckdb_config = ptr::null_mut();
    // SAFETY: plain C API calls; the config is destroyed on every path below.
    unsafe {
        if ffi::duckdb_create_config(&mut config) != ffi::DuckDBSuccess {
            return Err(OpenError::Other(anyhow!("cannot create a DuckDB configuration")));
        }
        let access = match mode {
            Mode::ReadOnly => "READ_ONLY",
            Mode::ReadWrite => "READ_WRITE",
        };
        let mut all: Vec<(&str, String)> = vec![("access_mode", access.to_owned()), ("duckdb_api", "rust".to_owned())];
        all.extend(settings.iter().cloned());
        for (name, value) in &all {
            let (c_name, c_value) = (CString::new(*name).expect("setting name"), CString::new(value.as_str()));
            let Ok(c_value) = c_value else {
                ffi::duckdb_destroy_config(&mut config);
                return Err(OpenError::Other(anyhow!("setting {name} contains a NUL byte")));
            };
            if ffi::duckdb_set_config(config, c_name.as_ptr(), c_value.as_ptr()) != ffi::DuckDBSuccess {
                ffi::duckdb_destroy_config(&mut config);
                return Err(OpenError::Other(anyhow!("DuckDB rejected setting {name}={value}")));
            }
        }
        let mut db: ffi::duckdb_database = ptr::null_mut();
        let mut c_err: *mut c_char = ptr::null_mut();
        let state = ffi::duckdb_open_ext(c_path.as_ptr(), &mut db, config, &mut c_err);
        ffi::duckdb_destroy_config(&mut config);
        if state == ffi::DuckDBSuccess {
            return Ok(db);
        }
        let message = if c_err.is_null() {
            "unknown error".to_owned()
        } else {
            let text = CStr::from_ptr(c_err).to_string_lossy().into_owned();
            ffi::duckdb_free(c_err.cast());
            text
        };
        if !db.is_null() {
            ffi::duckdb_close(&mut db);
        }
        Err(match parse_lock_conflict(&message) {
            Some(holder) => OpenError::Locked(holder),
            None => OpenError::Other(anyhow!("{message}")),
        })
    }
}

/// The DuckDB library this binary runs, e.g. `v1.5.5`.
pub fn library_version() -> String {
    // SAFETY: returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(ffi::duckdb_library_version()) }.to_string_lossy().into_owned()
}

/// Reads program and PID out of DuckDB's `Could not set lock on file "...": Conflicting
/// lock is held in <program> (PID <n>)` message.
pub fn parse_lock_conflict(message: &str) -> Option<LockHolder> {
    if !message.contains("Could not set lock on file") {
        return None;
    }
    let after = message.split("Conflicting lock is held in ").nth(1);
    let (program, pid) = match after {
        Some(rest) => {
            let program = rest.split(" (PID ").next().map(str::trim).filter(|p| !p.is_empty());
            let pid = rest
                .split(" (PID ")
                .nth(1)
                .and_then(|p| p.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|digits| digits.parse().ok());
            (program.map(str::to_owned), pid)
        }
        None => (None, None),
    };
    Some(LockHolder { program, pid, message: message.to_owned() })
}

/// DuckDB's statement type, as far as we branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// SELECT, and what DuckDB turns into one (SHOW, DESCRIBE, SUMMARIZE, FROM-first...).
    Select,
    Explain,
    /// Anything else, with DuckDB's name for it.
    Other(&'static str),
    /// A statement of several that could not be bound before the ones ahead of it run
    /// (the read after a PIVOT's temporary enum type).
    Unbound,
}

impl StatementKind {
    pub fn name(self) -> &'static str {
        match self {
            StatementKind::Select => "SELECT",
            StatementKind::Explain => "EXPLAIN",
            StatementKind::Other(name) => name,
            StatementKind::Unbound => "unbound",
        }
    }
}

fn statement_kind(code: ffi::duckdb_statement_type) -> StatementKind {
    match code {
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_SELECT => StatementKind::Select,
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_EXPLAIN => StatementKind::Explain,
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_INSERT => StatementKind::Other("INSERT"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_UPDATE => StatementKind::Other("UPDATE"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_DELETE => StatementKind::Other("DELETE"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_PREPARE => StatementKind::Other("PREPARE"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_CREATE => StatementKind::Other("CREATE"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_EXECUTE => StatementKind::Other("EXECUTE"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_ALTER => StatementKind::Other("ALTER"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_TRANSACTION => StatementKind::Other("TRANSACTION"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_COPY => StatementKind::Other("COPY"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_ANALYZE => StatementKind::Other("ANALYZE"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_VARIABLE_SET => StatementKind::Other("SET VARIABLE"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_CREATE_FUNC => StatementKind::Other("CREATE FUNCTION"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_DROP => StatementKind::Other("DROP"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_EXPORT => StatementKind::Other("EXPORT"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_PRAGMA => StatementKind::Other("PRAGMA"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_VACUUM => StatementKind::Other("VACUUM"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_CALL => StatementKind::Other("CALL"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_SET => StatementKind::Other("SET"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_LOAD => StatementKind::Other("LOAD"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_RELATION => StatementKind::Other("RELATION"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_EXTENSION => StatementKind::Other("EXTENSION"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_LOGICAL_PLAN => StatementKind::Other("LOGICAL PLAN"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_ATTACH => StatementKind::Other("ATTACH"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_DETACH => StatementKind::Other("DETACH"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_MULTI => StatementKind::Other("MULTI"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_COPY_DATABASE => StatementKind::Other("COPY DATABASE"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_UPDATE_EXTENSIONS => StatementKind::Other("UPDATE EXTENSIONS"),
        ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_MERGE_INTO => StatementKind::Other("MERGE INTO"),
        _ => StatementKind::Other("UNKNOWN"),
    }
}

/// A new raw connection of `db`, with the attached file selected when there is one.
fn connect_raw(db: ffi::duckdb_database, use_sql: Option<&CStr>) -> Result<ffi::duckdb_connection, String> {
    // SAFETY: standard C API usage; the connection is disconnected again on failure.
    unsafe {
        let mut con: ffi::duckdb_connection = ptr::null_mut();
        if ffi::duckdb_connect(db, &mut con) != ffi::DuckDBSuccess {
            return Err("cannot connect to the database instance".to_owned());
        }
        if let Some(use_sql) = use_sql
            && ffi::duckdb_query(con, use_sql.as_ptr(), ptr::null_mut()) != ffi::DuckDBSuccess
        {
            ffi::duckdb_disconnect(&mut con);
            return Err("cannot select the attached database".to_owned());
        }
        Ok(con)
    }
}

/// Parses `sql` into statements and prepares each (binding, never executing) to learn
/// its type. An error is DuckDB's parser or binder message.
///
/// # Safety
/// `con` is a live connection that no other thread uses meanwhile.
unsafe fn classify_on(con: ffi::duckdb_connection, c_sql: &CStr) -> Result<Vec<StatementKind>, String> {
    // SAFETY: standard C API usage; every handle created here is destroyed before return.
    unsafe {
        let mut extracted: ffi::duckdb_extracted_statements = ptr::null_mut();
        let count = ffi::duckdb_extract_statements(con, c_sql.as_ptr(), &mut extracted);
        let result = if count == 0 {
            let err = ffi::duckdb_extract_statements_error(extracted);
            Err(if err.is_null() {
                "the SQL contains no statement".to_owned()
            } else {
                CStr::from_ptr(err).to_string_lossy().into_owned()
            })
        } else {
            let mut kinds = Vec::with_capacity(count as usize);
            let mut failure = None;
            for index in 0..count {
                let mut stmt: ffi::duckdb_prepared_statement = ptr::null_mut();
                let state = ffi::duckdb_prepare_extracted_statement(con, extracted, index, &mut stmt);
                if state == ffi::DuckDBSuccess {
                    kinds.push(statement_kind(ffi::duckdb_prepared_statement_type(stmt)));
                } else {
                    // Of several statements, a later one may bind only once the ones
                    // ahead of it ran; the caller decides by the kinds.
                    kinds.push(StatementKind::Unbound);
                    let err = ffi::duckdb_prepare_error(stmt);
                    failure.get_or_insert_with(|| {
                        if err.is_null() {
                            "the statement could not be prepared".to_owned()
                        } else {
                            CStr::from_ptr(err).to_string_lossy().into_owned()
                        }
                    });
                }
                ffi::duckdb_destroy_prepare(&mut stmt);
            }
            match failure {
                Some(message) if count == 1 => Err(message),
                _ => Ok(kinds),
            }
        };
        ffi::duckdb_destroy_extracted(&mut extracted);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DuckDB's lock message yields program and PID; other messages are not conflicts.
    #[test]
    fn lock_conflict_message_is_parsed() {
        let message = "IO Error: Could not set lock on file \"/tmp/x.duckdb\": Conflicting lock is held in /usr/bin/python3.11 (PID 4242) by user me. See also https://duckdb.org/docs/connect/concurrency";
        let holder = parse_lock_conflict(message).unwrap();
        assert_eq!(holder.program.as_deref(), Some("/usr/bin/python3.11"));
        assert_eq!(holder.pid, Some(4242));
        assert_eq!(holder.describe(), "/usr/bin/python3.11 (PID 4242)");
        assert!(parse_lock_conflict("IO Error: Cannot open file").is_none());
        let bare = parse_lock_conflict("IO Error: Could not set lock on file \"/x\": Resource busy").unwrap();
        assert_eq!(bare.describe(), "another process");
    }

    /// The main header yields the storage number and the writer; other bytes do not.
    #[test]
    fn file_header_is_parsed() {
        let mut head = vec![0u8; 128];
        head[8..12].copy_from_slice(b"DUCK");
        head[12..20].copy_from_slice(&999u64.to_le_bytes());
        head[52..58].copy_from_slice(b"v2.0.0");
        assert_eq!(FileHeader::parse(&head), Some(FileHeader { storage: 999, writer: "v2.0.0".into() }));
        head[52..58].fill(0);
        assert_eq!(FileHeader::parse(&head).unwrap().writer, "an unknown version");
        head[8] = b'X';
        assert_eq!(FileHeader::parse(&head), None);
        assert_eq!(FileHeader::parse(b"DUCK"), None);
        // And the file this engine creates says who wrote it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.duckdb");
        drop(Instance::open(&path, Mode::ReadWrite, &[("storage_compatibility_version", "v1.0.0".into())]).unwrap());
        assert_eq!(FileHeader::read(&path), Some(FileHeader { storage: 64, writer: library_version() }));
    }

    /// A SQLite file or another foreign file is refused before DuckDB guesses its type
    /// (and loads an extension for it); an empty file is named as such.
    #[test]
    fn foreign_files_are_refused_before_duckdb_opens_them() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = dir.path().join("s.db");
        let mut bytes = b"SQLite format 3\0".to_vec();
        bytes.resize(4096, 0);
        std::fs::write(&sqlite, &bytes).unwrap();
        let Err(OpenError::Unreadable(reason)) = Instance::open(&sqlite, Mode::ReadWrite, &[]) else { panic!() };
        assert!(reason.contains("is a SQLite database, not a DuckDB one"), "{reason}");
        assert_eq!(std::fs::read(&sqlite).unwrap(), bytes, "untouched");
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello, this is not a database\n").unwrap();
        let Err(OpenError::Unreadable(reason)) = Instance::open(&text, Mode::ReadOnly, &[]) else { panic!() };
        assert!(reason.contains("is not a DuckDB database (unknown format)"), "{reason}");
        assert_eq!(open_instances(&text), 0);
        let empty = dir.path().join("empty.duckdb");
        std::fs::write(&empty, b"").unwrap();
        let Err(OpenError::Unreadable(reason)) = Instance::open(&empty, Mode::ReadWrite, &[]) else { panic!() };
        assert!(reason.contains("is empty (0 bytes)"), "{reason}");
        assert!(Instance::open(&dir.path().join("new.duckdb"), Mode::ReadWrite, &[]).is_ok(), "a new file is created");
    }

    /// A second instance of the same file in one process is refused, and the slot frees
    /// when the first closes.
    #[test]
    fn a_second_instance_of_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one.duckdb");
        let first = Instance::open(&path, Mode::ReadWrite, &[]).unwrap();
        assert_eq!(open_instances(&path), 1);
        let second = std::panic::catch_unwind(|| Instance::open(&path, Mode::ReadOnly, &[]));
        // Debug builds assert; release builds return an error. Either way: no instance.
        if let Ok(result) = second {
            assert!(matches!(result, Err(OpenError::Other(_))));
        }
        assert_eq!(open_instances(&path), 1);
        drop(first);
        assert_eq!(open_instances(&path), 0);
        let reopened = Instance::open(&path, Mode::ReadOnly, &[]).unwrap();
        assert_eq!(reopened.mode(), Mode::ReadOnly);
    }

    /// Classification parses and binds but never executes, even for multi-statements.
    #[test]
    fn classify_never_executes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.duckdb");
        let instance = Instance::open(&path, Mode::ReadWrite, &[]).unwrap();
        let conn = instance.connect().unwrap();
        conn.conn().execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1)").unwrap();
        assert_eq!(instance.classify("SELECT * FROM t").unwrap(), vec![StatementKind::Select]);
        assert_eq!(instance.classify("DELETE FROM t").unwrap(), vec![StatementKind::Other("DELETE")]);
        assert_eq!(instance.classify("DELETE FROM t; SELECT 1").unwrap().len(), 2);
        assert_eq!(instance.classify("DROP TABLE t; SELECT * FROM t").unwrap().len(), 2);
        let count: i64 = conn.conn().query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(count, 1, "nothing was executed");
        assert!(instance.classify("SELEC 1").unwrap_err().contains("syntax error"));
    }

    /// The kept classifier connection serves call after call, survives parse and bind
    /// errors, and callers that find it busy classify on a connection of their own: the
    /// same answers from four threads at once.
    #[test]
    fn classification_is_the_same_on_the_kept_connection_and_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.duckdb");
        let instance = Instance::open(&path, Mode::ReadWrite, &[]).unwrap();
        instance.connect().unwrap().conn().execute_batch("CREATE TABLE t(x INTEGER)").unwrap();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..200 {
                        assert_eq!(instance.classify("SELECT * FROM t").unwrap(), vec![StatementKind::Select]);
                        assert!(instance.classify("SELECT * FROM missing").unwrap_err().contains("missing"));
                        assert_eq!(instance.classify("DELETE FROM t").unwrap(), vec![StatementKind::Other("DELETE")]);
                    }
                });
            }
        });
        assert!(!instance.classifier.lock().unwrap().0.is_null(), "the kept connection was made");
        drop(instance);
        Instance::open(&path, Mode::ReadOnly, &[]).expect("the file was released with the classifier connection");
    }
}
