//! The connection model of `spec/concurrency.md`: at most one DuckDB instance of the file
//! in this process, either a hardened read-only one shared by a pool of cloned
//! connections, or a read-write one owned by the single write in progress.
//!
//! Two locks order everything:
//! - `gate` (tokio `RwLock`, fair): a read holds it shared while it uses a connection; a
//!   write, idle release and shutdown hold it exclusively while they close or replace the
//!   instance. Because the lock is fair, a waiting write stops new reads from starting
//!   and waits for the ones in flight (step 1 of a write).
//! - `write_permit` (tokio `Mutex`, FIFO): one write at a time, in arrival order. A write
//!   keeps the permit through its lock wait but releases `gate` between attempts, so reads
//!   continue while another process holds the file (reads never wait for a lock wait).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};

use tokio::sync::{RwLock, oneshot};
use tokio_util::sync::CancellationToken;

use super::error::DbError;
use super::native::{Engine, EngineSlot, Instance, InstanceConnection, LockHolder, Mode, OpenError};

mod engines;
mod fold;
mod idle;
mod write;
use engines::Engines;
pub use fold::wal_path;
pub use write::Committed;

/// Largest pause between two attempts to open a locked file. Small enough that a write
/// starts well within 500 ms of the other process closing.
const MAX_BACKOFF: Duration = Duration::from_millis(200);
/// How often a stopped read is interrupted again until it returns.
const INTERRUPT_REPEAT: Duration = Duration::from_millis(10);
/// Memory budget of the read instance. Spilling to disk is impossible once the local file
/// system is disabled, so this bounds what one query may hold.
const READ_MAX_MEMORY: &str = "4GB";

/// Storage version of the files the server creates: what DuckDB 1.0 and every later
/// release reads (storage number 64), so a file we create opens in the Python tooling's
/// `duckdb>=1.0.0`, in 1.4 LTS notebooks and in DuckDB 2.0. DuckDB 1.5's own default
/// (`v0.10.2`) writes the same format; naming it keeps an engine upgrade from silently
/// locking older readers out, as DuckDB 2.0's default (`latest`) did.
pub const NEW_FILE_STORAGE: &str = "v1.0.0";

/// Timing settings of the access layer.
#[derive(Debug, Clone)]
pub struct AccessSettings {
    pub path: PathBuf,
    pub write_timeout: Duration,
    pub query_timeout: Duration,
    pub idle_release: Option<Duration>,
    /// DuckDB `memory_limit` of our instances under a memory budget (`--max-memory`).
    pub duckdb_memory: Option<String>,
    /// Extension files loaded into every read engine before it is hardened: the SQL
    /// dialect's (ICU), so user SQL reads as in the duckdb CLI (`ExtensionSource::dialect`).
    pub dialect: Vec<PathBuf>,
}

/// Shared handle to the file; cheap to clone.
#[derive(Clone)]
pub struct Access {
    inner: Arc<Inner>,
}

struct Inner {
    settings: AccessSettings,
    /// Held shared by reads in flight, exclusively by whoever closes or swaps the instance.
    gate: Arc<RwLock<()>>,
    /// The single write permit (FIFO).
    write_permit: tokio::sync::Mutex<()>,
    /// The read-only instance and its idle connections, when in the "reading" state.
    slot: Mutex<Option<ReadInstance>>,
    /// When the last read finished; drives idle release.
    last_used: Mutex<Instant>,
    /// When the client last called a tool (a call may allocate much without touching the
    /// database, e.g. a huge save refused for a bad argument); drives memory trimming.
    last_activity: Mutex<Instant>,
    /// Set by shutdown: nothing new starts.
    closed: CancellationToken,
    /// When an open last found the file locked by another process.
    contended: Mutex<Option<Instant>>,
    /// The DuckDB engines kept between opens of the file (see `engines.rs`).
    engines: Engines,
    /// Whether a client read ran since the last write, and when that write ended: they
    /// decide whether a write reopens the read instance (see `write.rs::reopen_after_write`).
    read_since_write: std::sync::atomic::AtomicBool,
    last_write_end: Mutex<Option<Instant>>,
    /// Commits the WAL holds since it was last folded into the file (see `fold.rs`).
    wal_commits: std::sync::atomic::AtomicU32,
}

/// The hardened read-only instance plus connections not currently lent out.
struct ReadInstance {
    idle: Vec<InstanceConnection>,
    instance: Arc<Instance>,
}

/// Why a cancellable read stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    Timeout,
    Cancelled,
}

impl Access {
    pub fn new(settings: AccessSettings) -> Access {
        let inner = Arc::new(Inner {
            settings,
            gate: Arc::new(RwLock::new(())),
            write_permit: tokio::sync::Mutex::new(()),
            slot: Mutex::new(None),
            last_used: Mutex::new(Instant::now()),
            last_activity: Mutex::new(Instant::now()),
            closed: CancellationToken::new(),
            contended: Mutex::new(None),
            engines: Engines::default(),
            read_since_write: std::sync::atomic::AtomicBool::new(false),
            last_write_end: Mutex::new(None),
            wal_commits: std::sync::atomic::AtomicU32::new(0),
        });
        if let Some(idle) = inner.settings.idle_release {
            tokio::spawn(idle::idle_release_loop(Arc::downgrade(&inner), idle));
        }
        Access { inner }
    }

    pub fn path(&self) -> &Path {
        &self.inner.settings.path
    }

    /// Runs `work` on a pooled read connection in a blocking thread.
    pub async fn read<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&InstanceConnection) -> anyhow::Result<T> + Send + 'static,
    {
        self.read_cancellable(CancellationToken::new(), work).await
    }

    /// Like [`read`](Self::read), but the query is interrupted when `cancel` fires or
    /// when it runs longer than the query timeout; the connection stays usable.
    pub async fn read_cancellable<T, F>(&self, cancel: CancellationToken, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&InstanceConnection) -> anyhow::Result<T> + Send + 'static,
    {
        if self.inner.closed.is_cancelled() {
            return Err(DbError::ShuttingDown);
        }
        let guard = self.inner.gate.clone().read_owned().await;
        self.inner.read_since_write.store(true, std::sync::atomic::Ordering::Relaxed);
        let inner = Arc::clone(&self.inner);
        // The running query's interrupt handle; emptied (under the lock) before the
        // connection goes back to the pool, so a late interrupt never hits another read.
        let running: Arc<Mutex<Option<Arc<duckdb::InterruptHandle>>>> = Arc::new(Mutex::new(None));
        let worker_slot = Arc::clone(&running);
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let task = tokio::task::spawn_blocking(move || {
            let _guard = guard;
            let conn = inner.checkout()?;
            *worker_slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn.conn().interrupt_handle());
            let _ = started_tx.send(());
            let result = work(&conn);
            worker_slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            inner.checkin(conn);
            result.map_err(DbError::Other)
        });
        let timeout = self.inner.settings.query_timeout;
        let watchdog = async move {
            if started_rx.await.is_err() {
                return std::future::pending::<StopReason>().await;
            }
            tokio::select! {
                _ = tokio::time::sleep(timeout) => StopReason::Timeout,
                _ = cancel.cancelled() => StopReason::Cancelled,
            }
        };
        tokio::pin!(task, watchdog);
        let (joined, stopped) = tokio::select! {
            joined = &mut task => (joined, None),
            reason = &mut watchdog => {
                // Interrupt until the work returns: an interrupt that lands between two
                // statements (or before the first) would otherwise be lost.
                let joined = loop {
                    if let Some(handle) = running.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                        handle.interrupt();
                    }
                    if let Ok(joined) = tokio::time::timeout(INTERRUPT_REPEAT, &mut task).await {
                        break joined;
                    }
                };
                (joined, Some(reason))
            }
        };
        let result = joined.map_err(|e| DbError::Other(anyhow!("read task failed: {e}")))?;
        match (result, stopped) {
            (Err(_), Some(StopReason::Timeout)) => Err(DbError::TimedOut(timeout)),
            (Err(_), Some(StopReason::Cancelled)) => Err(DbError::Cancelled),
            (result, _) => result,
        }
    }

    /// Runs `work` on the read instance only if it is open and no write is waiting, in a
    /// blocking thread, without counting as a client's read (see `reopen_after_write`):
    /// warming up what the next read needs. `None` when it did not run.
    pub async fn warm<T, F>(&self, work: F) -> Option<anyhow::Result<T>>
    where
        T: Send + 'static,
        F: FnOnce(&InstanceConnection) -> anyhow::Result<T> + Send + 'static,
    {
        let guard = self.inner.gate.clone().try_read_owned().ok()?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let _guard = guard;
            if inner.slot.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
                return None;
            }
            let conn = match inner.checkout() {
                Ok(conn) => conn,
                Err(err) => return Some(Err(anyhow!("{err}"))),
            };
            let result = work(&conn);
            inner.checkin(conn);
            Some(result)
        })
        .await
        .ok()
        .flatten()
    }

    /// Stops new work, lets a write in progress finish (up to `grace`), and closes the
    /// instance so other processes can open the file read-write at once.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.closed.cancel();
        let permit = tokio::time::timeout(grace, self.inner.write_permit.lock()).await;
        if permit.is_err() {
            tracing::warn!("a write was still running at shutdown; it finishes or rolls back before exit");
        }
        let gate = tokio::time::timeout(grace, self.inner.gate.clone().write_owned()).await;
        match gate {
            Ok(_gate) => {
                // Closes the read instance; the WAL goes into the file, which then holds
                // everything on its own (unless the write in progress still runs).
                let inner = Arc::clone(&self.inner);
                let folding = permit.is_ok();
                let _ = tokio::task::spawn_blocking(move || match folding {
                    true => drop(inner.fold_wal()),
                    false => inner.close_read(),
                })
                .await;
            }
            Err(_) => tracing::warn!("reads still running at shutdown; the instance closes when they end"),
        }
        drop(permit);
    }

    /// Records that the client called a tool. Only memory trimming waits for quiet; the
    /// read instance is still released after `idle_release` without reads, so a client
    /// that pings forever cannot keep other processes from writing.
    pub fn note_activity(&self) {
        *self.inner.last_activity.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// Whether this process currently has the file open (for tests and diagnostics).
    pub fn is_open(&self) -> bool {
        super::native::open_instances(self.path()) > 0
    }
}

impl Inner {
    /// Lends a connection of the read instance, opening the instance if needed.
    fn checkout(&self) -> Result<InstanceConnection, DbError> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(self.open_read()?);
        }
        let read = slot.as_mut().expect("opened above");
        match read.idle.pop() {
            Some(conn) => Ok(conn),
            None => read.instance.connect().map_err(DbError::Other),
        }
    }

    fn checkin(&self, conn: InstanceConnection) {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        // A connection of an instance that was replaced meanwhile is simply dropped.
        if let Some(read) = slot.as_mut().filter(|r| Arc::ptr_eq(&r.instance, conn.instance())) {
            read.idle.push(conn);
        }
        *self.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// Opens the hardened read-only instance, retrying while another process writes.
    fn open_read(&self) -> Result<ReadInstance, DbError> {
        let path = &self.settings.path;
        if !regular_file(path)? {
            return Err(DbError::Other(anyhow!(
                "database file {} does not exist yet: the first save creates it (unless the server runs with \
                 --read-only); check --db",
                path.display()
            )));
        }
        let started = Instant::now();
        let mut backoff = Duration::from_millis(5);
        loop {
            match self.try_open_read() {
                Ok(read) => return Ok(read),
                Err(OpenError::Locked(holder)) => {
                    self.note_contention();
                    let waited = started.elapsed();
                    if waited >= self.settings.write_timeout || self.closed.is_cancelled() {
                        return Err(DbError::Busy { holder, waited });
                    }
                    std::thread::sleep(backoff.mul_f64(0.5 + fastrand::f64() * 0.5));
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(OpenError::Unreadable(reason)) => return Err(DbError::Unreadable(reason)),
                Err(OpenError::Other(err)) => {
                    return Err(DbError::Other(err.context(format!("cannot open {} for reading", path.display()))));
                }
            }
        }
    }

    /// One attempt at the hardened read-only instance: the file attached read-only to the
    /// spare engine (made now if there is none; writes make the next one).
    fn try_open_read(&self) -> Result<ReadInstance, OpenError> {
        let engine = self.engines.for_read(&self.settings).map_err(OpenError::Other)?;
        let retired = Some(self.engines.retired_slot());
        let instance = match Instance::attach(engine, &self.settings.path, Mode::ReadOnly, "", retired) {
            Ok(instance) => instance,
            Err((err, engine)) => {
                self.engines.give_back_read(engine);
                return Err(err);
            }
        };
        let first = instance.connect().map_err(OpenError::Other)?;
        // External access goes off once the file is attached (attaching needs it); the
        // database's own path stays reachable to user SQL (read_blob, ATTACH) until the
        // local file system is disabled; the configuration is locked last so user SQL
        // cannot undo any of it.
        first
            .conn()
            .execute_batch(
                "SET enable_external_access = false; SET disabled_filesystems = 'LocalFileSystem'; \
                 SET lock_configuration = true;",
            )
            .context("cannot harden the read-only instance")
            .map_err(OpenError::Other)?;
        Ok(ReadInstance { idle: vec![first], instance })
    }

    /// Whether another process held the file within the last write timeout (it may be
    /// waiting to write again).
    fn recently_contended(&self) -> bool {
        let contended = *self.contended.lock().unwrap_or_else(|e| e.into_inner());
        contended.is_some_and(|at| at.elapsed() < self.settings.write_timeout)
    }

    fn note_contention(&self) {
        *self.contended.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Drops the read instance and all its idle connections (callers hold the gate
    /// exclusively, so none is lent out).
    fn close_read(&self) {
        let taken = self.slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(taken);
    }
}

/// Whether `path` is an existing regular file (false: nothing there yet). Anything else at
/// the path (a directory, a named pipe, a device) is refused before DuckDB opens it: a
/// FIFO would block the open until a writer appears (a stat, never an open: invariant 3).
pub fn regular_file(path: &Path) -> Result<bool, DbError> {
    let Ok(metadata) = std::fs::metadata(path) else { return Ok(false) };
    if metadata.is_file() {
        return Ok(true);
    }
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a named pipe"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    };
    Err(DbError::Other(anyhow!(
        "database path {} is {what}, not a DuckDB database file; pass --db with a file path",
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access_for(path: &Path) -> Access {
        Access::new(AccessSettings {
            path: path.to_owned(),
            write_timeout: Duration::from_secs(2),
            query_timeout: Duration::from_secs(5),
            idle_release: None,
            duckdb_memory: None,
            dialect: Vec::new(),
        })
    }

    /// Each escape class is refused by the engine itself on the hardened read instance,
    /// with no statement classifier in front of it.
    #[tokio::test]
    async fn hardened_read_instance_refuses_every_escape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.duckdb");
        let outside = dir.path().join("outside.csv");
        std::fs::write(&outside, "a,b\n1,2\n").unwrap();
        let access = access_for(&path);
        access.write(|conn| Ok(conn.execute_batch("CREATE TABLE t AS SELECT 1 AS x")?)).await.unwrap();
        let db_path = path.display().to_string();
        let outside_path = outside.display().to_string();
        let refused: Vec<(String, String)> = access
            .read(move |conn| {
                let escapes = [
                    format!(
                        "COPY (SELECT 1) TO '{}/copied.csv'",
                        std::path::Path::new(&outside_path).parent().unwrap().display()
                    ),
                    format!("SELECT * FROM read_csv('{outside_path}')"),
                    format!("SELECT * FROM read_text('{outside_path}')"),
                    format!("SELECT * FROM read_blob('{db_path}')"),
                    format!("ATTACH '{db_path}' AS again (READ_ONLY)"),
                    "INSTALL httpfs".to_owned(),
                    "LOAD httpfs".to_owned(),
                    "SELECT * FROM read_csv('https://example.com/x.csv')".to_owned(),
                    "SET threads = 1".to_owned(),
                    "SET enable_external_access = true".to_owned(),
                    "RESET lock_configuration".to_owned(),
                    "SET disabled_filesystems = ''".to_owned(),
                    "PRAGMA threads = 1".to_owned(),
                    "INSERT INTO t VALUES (2)".to_owned(),
                    "CREATE TABLE u (x INTEGER)".to_owned(),
                    "DROP TABLE t".to_owned(),
                    "EXPORT DATABASE '/tmp/healthsim-export-test'".to_owned(),
                ];
                let mut refused = Vec::new();
                for sql in escapes {
                    if let Err(err) = conn.conn().execute_batch(&sql) {
                        refused.push((sql, err.to_string()));
                    } else {
                        refused.push((sql, String::new()));
                    }
                }
                Ok(refused)
            })
            .await
            .unwrap();
        // (CHECKPOINT is not in the list: on a read-only instance it is a harmless no-op,
        // and the statement classifier refuses it before it gets here. Nor is ATTACH
        // ':memory:': the engine the file is attached to is not read-only itself, so an
        // in-memory database can be attached; it touches no file, is bounded by the memory
        // limit, and the classifier refuses ATTACH first.)
        for (sql, error) in &refused {
            assert!(!error.is_empty(), "the engine allowed: {sql}");
        }
        assert!(!dir.path().join("copied.csv").exists());
        assert!(!std::path::Path::new("/tmp/healthsim-export-test").exists());
        // Normal reads still work after all of that, on the same instance.
        let x: i64 = access.read(|conn| Ok(conn.conn().query_row("SELECT x FROM t", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(x, 1);
    }

    /// A read right after a write sees it (the read instance is reopened).
    #[tokio::test]
    async fn read_your_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ryw.duckdb");
        let access = access_for(&path);
        access.write(|conn| Ok(conn.execute_batch("CREATE TABLE t (x INTEGER)")?)).await.unwrap();
        for i in 0..5i64 {
            let before: i64 = access
                .read(|conn| Ok(conn.conn().query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
                .await
                .unwrap();
            assert_eq!(before, i);
            access.write(move |conn| Ok(conn.execute("INSERT INTO t VALUES (?)", [i])?)).await.unwrap();
        }
        // Writes leave their changes in the WAL, which a checkpoint folds into the file.
        assert!(access.wal_pending(), "writes commit to the WAL");
        assert!(access.fold_wal().await.unwrap());
        assert!(!access.wal_pending() && !wal_path(&path).exists(), "the WAL is folded into the file");
        assert!(!access.fold_wal().await.unwrap(), "nothing left to fold");
        let n: i64 =
            access.read(|conn| Ok(conn.conn().query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(n, 5);
    }

    /// The WAL never holds more than `WAL_COMMITS` commits (every DuckDB opening the file
    /// replays it commit by commit): the write that would add one more folds it into the
    /// file, and every row stays.
    #[tokio::test]
    async fn the_wal_holds_a_bounded_number_of_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bounded.duckdb");
        let access = access_for(&path);
        access.write(|conn| Ok(conn.execute_batch("CREATE TABLE t (x INTEGER)")?)).await.unwrap();
        let mut folds = 0;
        let mut previous = access.inner.wal_commits.load(std::sync::atomic::Ordering::Relaxed);
        for i in 0..3 * fold::WAL_COMMITS as i64 {
            access.write(move |conn| Ok(conn.execute("INSERT INTO t VALUES (?)", [i])?)).await.unwrap();
            let held = access.inner.wal_commits.load(std::sync::atomic::Ordering::Relaxed);
            assert!(held < fold::WAL_COMMITS, "{held} commits in the WAL");
            assert_eq!(held == 0, !access.wal_pending());
            if held < previous {
                folds += 1;
            }
            previous = held;
        }
        assert!(folds >= 2, "folded {folds} times");
        let n: i64 =
            access.read(|conn| Ok(conn.conn().query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(n, 3 * fold::WAL_COMMITS as i64);
    }

    /// A failing write rolls back and leaves the instance usable.
    #[tokio::test]
    async fn failed_write_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rb.duckdb");
        let access = access_for(&path);
        access.write(|conn| Ok(conn.execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY)")?)).await.unwrap();
        let failed: Result<(), DbError> = access
            .write(|conn| {
                conn.execute_batch("INSERT INTO t VALUES (1)")?;
                anyhow::bail!("boom")
            })
            .await;
        assert!(matches!(failed, Err(DbError::Other(_))));
        let n: i64 =
            access.read(|conn| Ok(conn.conn().query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(n, 0);
    }

    /// The query timeout interrupts a long query, and the pooled connection is reusable.
    #[tokio::test]
    async fn timeout_interrupts_and_connection_is_reusable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("to.duckdb");
        let access = Access::new(AccessSettings {
            path: path.clone(),
            write_timeout: Duration::from_secs(2),
            query_timeout: Duration::from_millis(200),
            idle_release: None,
            duckdb_memory: None,
            dialect: Vec::new(),
        });
        access.write(|conn| Ok(conn.execute_batch("CREATE TABLE t (x INTEGER)")?)).await.unwrap();
        let slow = access
            .read(|conn| {
                Ok(conn
                    .conn()
                    .query_row("SELECT count(*) FROM range(10000000000) a, range(10) b", [], |r| r.get::<_, i64>(0))?)
            })
            .await;
        assert!(matches!(slow, Err(DbError::TimedOut(_))), "{slow:?}");
        let ok: i64 = access.read(|conn| Ok(conn.conn().query_row("SELECT 7", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(ok, 7);
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        let cancelled = tokio::spawn({
            let access = access.clone();
            async move {
                access
                    .read_cancellable(cancel, |conn| {
                        Ok(conn.conn().query_row(
                            "SELECT count(*) FROM range(10000000000) a, range(10) b",
                            [],
                            |r| r.get::<_, i64>(0),
                        )?)
                    })
                    .await
            }
        });
        trigger.cancel();
        let cancelled = cancelled.await.unwrap();
        assert!(matches!(cancelled, Err(DbError::Cancelled)), "{cancelled:?}");
    }
}
