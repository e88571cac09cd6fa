//! A database on a server, the second access strategy beside the local file's state
//! machine (`instance`): no file, no locks to wait for. Nothing read is kept here: other
//! servers write at any time (the data layer keeps only a complete layout, which changes
//! by a migration alone, see `db/remote.rs`). Each write is one transaction,
//! run again with backoff while it loses races with other servers' writes (until the
//! write timeout); a scenario name raced by several servers is saved once, the losers'
//! second run finding it taken. User SQL: DuckDB's parser decides it is one SELECT, and it
//! runs in a `READ ONLY` transaction, which the engine enforces, rolled back at the end.
//!
//! **DuckLake and MotherDuck** (`--db ducklake:...`, `--db md:NAME`): a local in-memory
//! DuckDB loads the extensions from `--extension-dir` and ATTACHes the database as the
//! default catalog; statements run in real transactions there ([`Sql::Local`]). A DuckLake
//! has no keys or sequences, so each write first updates a one-row table every writer
//! updates (`healthsim_write_clock`): DuckLake lets one of two such transactions commit,
//! which serialises writers, makes the name check of a save exact and numbers ids from the
//! highest. A lake's folders (its data, a local catalog's) are the only files user SQL can reach.
//!
//! **Quack** (`--db quack:HOST:PORT`): a local DuckDB loads `httpfs` and `quack` and sends
//! every statement whole to the server with `quack_query(uri, text, token)`
//! ([`Sql::Remote`]). Each call is a session of its own there: DuckDB 1.5.5 cannot ATTACH
//! a Quack server whose database has a column `DEFAULT nextval(...)` (every HealthSim
//! layout has one), so no session can be held across calls. Hence:
//!
//! - Reads: each statement on the committed state.
//! - Writes: one script per write, `BEGIN; ...; COMMIT`, all or nothing on the server (see
//!   `sql.rs`): the write's reads are checked again inside it, so a write that read
//!   something another server changed meanwhile, or that conflicts with another server's
//!   write (a key it took first, a row both changed), fails whole and runs again.
//! - User SQL: sent whole inside `BEGIN TRANSACTION READ ONLY; ...; ROLLBACK`.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use duckdb::Connection;

use super::error::DbError;
use super::extensions::ExtensionSource;
use super::query::{self, QueryError, QueryResult};
use super::sql::{GUARD_FAILED, Remote, Script, Server, Sql, without_pointer};

/// Which kind of remote database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteKind {
    /// `quack:HOST:PORT`: a DuckDB process serving its database (`quack_serve`).
    Quack,
    /// `ducklake:CATALOG`: a DuckLake, attached in this process; its catalog database and
    /// data files are shared with the other writers.
    DuckLake,
    /// `md:NAME`: a MotherDuck database.
    MotherDuck,
}

/// A database on a server rather than a file.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteDb {
    pub kind: RemoteKind,
    /// What DuckDB attaches, as given (`quack:HOST:PORT`, `ducklake:sqlite:/x/lake.sqlite`,
    /// `md:healthsim`); a DuckLake's local catalog path made absolute.
    pub uri: String,
    /// The Quack server's token (`HEALTHSIM_QUACK_TOKEN`), MotherDuck's
    /// (`motherduck_token`), or the password in a DuckLake's PostgreSQL connection string
    /// (else empty): scrubbed from every message.
    pub token: String,
    /// Where a DuckLake keeps its data files (`HEALTHSIM_DUCKLAKE_DATA_PATH`, else beside a
    /// local catalog: `CATALOG.files/`).
    pub data_path: Option<PathBuf>,
}

impl std::fmt::Debug for RemoteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteDb")
            .field("kind", &self.kind)
            .field("uri", &self.shown())
            .field("token", &"<hidden>")
            .field("data_path", &self.data_path)
            .finish()
    }
}

impl RemoteDb {
    /// The database as messages and logs show it: a password in a PostgreSQL connection
    /// string (the token) replaced.
    pub fn shown(&self) -> String {
        scrub_secret(&self.uri, &self.token)
    }
}

/// The name the attached database has in the local engine.
const CATALOG: &str = "healthsim_remote";

/// What the sqlite extension says while another process holds a DuckLake's SQLite catalog
/// (a moment's wait: reads, writes and the ATTACH run again until the write timeout).
const CATALOG_LOCKED: &str = "database is locked";

/// Shared handle to the server; cheap to clone.
#[derive(Clone)]
pub struct RemoteAccess {
    inner: Arc<Inner>,
}

/// How statements reach the database.
enum Backend {
    /// Sent whole to a Quack server.
    Quack(Server),
    /// Run here on the attached catalog (DuckLake, MotherDuck).
    Attached { lake: bool },
}

struct Inner {
    /// The database as `--db` named it, for messages.
    uri: String,
    /// The token, scrubbed from every message (empty for a DuckLake).
    secret: String,
    backend: Backend,
    /// The local engine; each call works on a connection of its own to it.
    engine: Mutex<Connection>,
    write_permit: tokio::sync::Mutex<()>,
    write_timeout: Duration,
}

impl RemoteAccess {
    /// Starts the local engine with the extensions (blocking, a few ms) and, for DuckLake
    /// and MotherDuck, attaches the database. A Quack server is not contacted: it may
    /// start later, and each call says if it cannot be reached.
    pub fn connect(remote: &RemoteDb, extensions: &ExtensionSource, write_timeout: Duration) -> anyhow::Result<Self> {
        let config = duckdb::Config::default()
            .enable_autoload_extension(false)
            .and_then(|c| c.with("autoinstall_known_extensions", "false"))
            .context("cannot configure the local engine")?;
        let conn = Connection::open_in_memory_with_flags(config).context("cannot start the local engine")?;
        let needed: &[&str] = match remote.kind {
            RemoteKind::Quack => &["httpfs", "quack"],
            RemoteKind::MotherDuck => &["motherduck"],
            RemoteKind::DuckLake if remote.uri.starts_with("ducklake:sqlite:") => &["ducklake", "sqlite"],
            RemoteKind::DuckLake if remote.uri.starts_with("ducklake:postgres:") => &["ducklake", "postgres"],
            RemoteKind::DuckLake => &["ducklake"],
        };
        for name in needed {
            if let Err(err) = extensions.load(&conn, name) {
                let text = scrub_secret(&format!("{err:#}"), &remote.token);
                // MotherDuck's extension reaches its service as it loads.
                if remote.kind == RemoteKind::MotherDuck && !text.contains("is not in --extension-dir") {
                    anyhow::bail!(
                        "cannot reach MotherDuck for --db {}: {} (check the network and motherduck_token)",
                        remote.shown(),
                        text.lines().next().unwrap_or_default()
                    );
                }
                anyhow::bail!("{} needs the {name} extension: {text}", remote.shown());
            }
        }
        // The SQL dialect where the local engine runs user SQL (Quack's server runs it there).
        if remote.kind != RemoteKind::Quack {
            for file in extensions.dialect() {
                conn.execute_batch(&format!("LOAD '{}'", file.display().to_string().replace('\'', "''")))
                    .with_context(|| format!("cannot load {}", file.display()))?;
            }
        }
        let backend = match remote.kind {
            RemoteKind::Quack => Backend::Quack(Server { uri: remote.uri.clone(), token: remote.token.clone() }),
            _ => {
                attach(&conn, remote, write_timeout)?;
                Backend::Attached { lake: remote.kind == RemoteKind::DuckLake }
            }
        };
        Ok(RemoteAccess {
            inner: Arc::new(Inner {
                uri: remote.shown(),
                secret: remote.token.clone(),
                backend,
                engine: Mutex::new(conn),
                write_permit: tokio::sync::Mutex::new(()),
                write_timeout,
            }),
        })
    }

    pub fn uri(&self) -> &str {
        &self.inner.uri
    }

    /// Runs `work` on the server's committed state (on a Quack server each statement a
    /// call of its own). Run again while a DuckLake's SQLite catalog is locked by another
    /// server's write (until the write timeout).
    pub async fn read<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: Fn(&Sql<'_>) -> anyhow::Result<T> + Send + Sync + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let deadline = Instant::now() + inner.write_timeout;
            loop {
                match inner.read_once(&work) {
                    Ok(value) => return Ok(value),
                    Err(err) if format!("{err:#}").contains(CATALOG_LOCKED) && Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(5 + fastrand::u64(0..20)));
                    }
                    Err(err) => return Err(inner.explain(err)),
                }
            }
        })
        .await
    }

    /// Runs user SQL: one SELECT (by DuckDB's parser here), sent whole, in a read-only
    /// transaction on the server that is rolled back.
    pub async fn query(&self, sql: String, limit: usize, max_chars: usize) -> Result<QueryResult, QueryError> {
        let inner = Arc::clone(&self.inner);
        let ran = blocking(move || {
            let conn = inner.connection().map_err(|err| inner.explain(err))?;
            let result = query::check_single_select(&conn, &sql).and_then(|()| match &inner.backend {
                Backend::Quack(server) => {
                    let statement = sql.trim().trim_end_matches(';');
                    // The newline ends a trailing `--` comment before the ROLLBACK.
                    let text = format!("BEGIN TRANSACTION READ ONLY;\n{statement}\n;\nROLLBACK");
                    query::execute(
                        &conn,
                        "SELECT * FROM quack_query(?, ?, token => ?)",
                        [server.uri.as_str(), text.as_str(), server.token.as_str()],
                        limit,
                        max_chars,
                    )
                }
                Backend::Attached { .. } => {
                    conn.execute_batch("BEGIN TRANSACTION READ ONLY").map_err(|e| QueryError::Failed(e.to_string()))?;
                    let result = query::execute(&conn, &sql, [], limit, max_chars);
                    let _ = conn.execute_batch("ROLLBACK");
                    result
                }
            });
            Ok(result.map_err(|err| match err {
                QueryError::Failed(text) => QueryError::Failed(inner.scrub(&text)),
                refused => refused,
            }))
        })
        .await;
        ran.unwrap_or_else(|err| Err(QueryError::Failed(err.to_string())))
    }

    /// Runs `work` as one transaction on the server. A write that lost a race with another
    /// server's (a guard failed, a write-write conflict, a key taken first) runs again
    /// with backoff until the write timeout.
    pub async fn write<T, F>(&self, mut work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnMut(&Sql<'_>) -> anyhow::Result<T> + Send + 'static,
    {
        let _permit = self.inner.write_permit.lock().await;
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let conn = inner.connection().map_err(|err| inner.explain(err))?;
            let deadline = Instant::now() + inner.write_timeout;
            let mut backoff = Duration::from_millis(10);
            loop {
                let attempt = match &inner.backend {
                    Backend::Quack(server) => {
                        let script = RefCell::new(Script::default());
                        let sql = Sql::Remote(Remote { conn: &conn, server, script: Some(&script) });
                        let started = Instant::now();
                        work(&sql).and_then(|value| {
                            let worked = started.elapsed();
                            let text = script.borrow().text();
                            if let Some(text) = &text {
                                server.send(&conn, text).context("the write failed on the server")?;
                            }
                            tracing::debug!(
                                statements = script.borrow().len(),
                                script_bytes = text.as_ref().map_or(0, String::len),
                                work_ms = worked.as_secs_f64() * 1e3,
                                send_ms = (started.elapsed() - worked).as_secs_f64() * 1e3,
                                "remote write"
                            );
                            Ok(value)
                        })
                    }
                    Backend::Attached { lake } => {
                        let sql = Sql::Local(&conn);
                        let attempt =
                            conn.execute_batch("BEGIN TRANSACTION").map_err(anyhow::Error::from).and_then(|()| {
                                let started = Instant::now();
                                if *lake {
                                    serialise(&conn)?;
                                }
                                let serialised = started.elapsed();
                                let value = work(&sql)?;
                                let worked = started.elapsed();
                                conn.execute_batch("COMMIT").context("cannot commit the write")?;
                                tracing::debug!(
                                    clock_ms = serialised.as_secs_f64() * 1e3,
                                    work_ms = (worked - serialised).as_secs_f64() * 1e3,
                                    commit_ms = (started.elapsed() - worked).as_secs_f64() * 1e3,
                                    "remote write"
                                );
                                Ok(value)
                            });
                        if attempt.is_err() {
                            let _ = conn.execute_batch("ROLLBACK");
                        }
                        attempt
                    }
                };
                match attempt {
                    Ok(value) => return Ok(value),
                    Err(err) => {
                        let text = format!("{err:#}");
                        if !is_conflict(&text) || Instant::now() >= deadline {
                            return Err(inner.explain(err));
                        }
                        tracing::debug!(?backoff, "the write lost a race with another server's; running it again");
                        // Full jitter, capped low: a long wait would let newer writers
                        // overtake this one again and again.
                        std::thread::sleep(backoff.mul_f64(fastrand::f64()));
                        backoff = (backoff * 2).min(Duration::from_millis(100));
                    }
                }
            }
        })
        .await
    }
}

impl Inner {
    /// One run of a read.
    fn read_once<T>(&self, work: &dyn Fn(&Sql<'_>) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let conn = self.connection()?;
        match &self.backend {
            Backend::Quack(server) => work(&Sql::Remote(Remote { conn: &conn, server, script: None })),
            // One snapshot for all the statements of the read.
            Backend::Attached { .. } => {
                conn.execute_batch("BEGIN TRANSACTION READ ONLY")?;
                let result = work(&Sql::Local(&conn));
                let _ = conn.execute_batch("ROLLBACK");
                result
            }
        }
    }

    fn connection(&self) -> anyhow::Result<Connection> {
        let engine = self.engine.lock().unwrap_or_else(|e| e.into_inner());
        let conn = engine.try_clone().context("cannot open a local connection")?;
        drop(engine);
        if let Backend::Attached { .. } = self.backend {
            // `USE` reads a DuckLake's latest snapshot from its catalog: with SQLite's, while
            // another server holds its lock that fails at once ("database is locked"), which
            // is only that server's write in progress; tried again until the write timeout.
            let deadline = Instant::now() + self.write_timeout;
            loop {
                match conn.execute_batch(&format!("USE {CATALOG}")) {
                    Ok(()) => break,
                    Err(err) if err.to_string().contains(CATALOG_LOCKED) && Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(5 + fastrand::u64(0..20)));
                    }
                    Err(err) => return Err(anyhow::Error::from(err).context("cannot use the attached database")),
                }
            }
        }
        Ok(conn)
    }

    /// An error as the user reads it: why, naming the server, never the token.
    fn explain(&self, err: anyhow::Error) -> DbError {
        let text = self.scrub(&format!("{err:#}"));
        if text.contains("Could not connect") || text.contains("Failed to send message") {
            return DbError::Other(anyhow::anyhow!(
                "cannot reach the Quack server {}: start it (CALL quack_serve(...)) or check --db ({})",
                self.uri,
                text.lines().next().unwrap_or_default()
            ));
        }
        if text.contains("Authentication failed") {
            return DbError::Other(anyhow::anyhow!(
                "the Quack server {} refused the token: set HEALTHSIM_QUACK_TOKEN to the token its quack_serve was given",
                self.uri
            ));
        }
        if let Some(reason) = catalog_unreachable(&text) {
            return DbError::Other(anyhow::anyhow!(
                "cannot reach the PostgreSQL catalog of --db {}: {reason}; start PostgreSQL or check the connection \
                 string (the next call tries again)",
                self.uri
            ));
        }
        if text.contains(CATALOG_LOCKED) {
            return DbError::Other(anyhow::anyhow!(
                "the catalog of --db {} stayed locked by other servers' writes for the whole write timeout ({} ms); \
                 nothing was written: try again, raise --write-timeout-ms, or give several servers a PostgreSQL \
                 catalog (ducklake:postgres:...)",
                self.uri,
                self.write_timeout.as_millis()
            ));
        }
        // One line: DuckDB's messages from the extensions run over several.
        DbError::Other(anyhow::anyhow!(text.split_whitespace().collect::<Vec<_>>().join(" ")))
    }

    fn scrub(&self, text: &str) -> String {
        scrub_secret(without_pointer(text), &self.secret)
    }
}

/// Why a DuckLake's PostgreSQL catalog could not be reached (libpq's first line), if
/// that is what failed: the server refused or dropped the connection.
fn catalog_unreachable(text: &str) -> Option<String> {
    let lost = ["Unable to connect to Postgres", "server closed the connection", "no connection to the server"];
    let at = lost.iter().filter_map(|needle| text.find(needle)).min()?;
    let rest = &text[at..];
    // libpq's reason follows the connection string: `...": connection to server ... failed: X`.
    let reason = rest.split_once("failed: ").map_or(rest, |(_, reason)| reason);
    let reason = reason.lines().next().unwrap_or_default().trim();
    Some(reason.strip_prefix("FATAL:").unwrap_or(reason).trim().trim_end_matches('.').to_owned())
}

fn scrub_secret(text: &str, secret: &str) -> String {
    match secret.is_empty() {
        true => text.to_owned(),
        false => text.replace(secret, "<token>"),
    }
}

/// Attaches a DuckLake or MotherDuck database as the local engine's default catalog,
/// trying again while its catalog is busy (another writer holding SQLite's lock, or preparing
/// a new catalog at the same moment), until the write timeout. A lake's data folder (and a
/// local catalog's folder) become the only files the engine may reach.
fn attach(conn: &Connection, remote: &RemoteDb, timeout: Duration) -> anyhow::Result<()> {
    let quoted = |text: &str| format!("'{}'", text.replace('\'', "''"));
    let options = match &remote.data_path {
        Some(path) => format!(" (DATA_PATH {})", quoted(&format!("{}/", path.display()))),
        None => String::new(),
    };
    // The data folder is made here: once the engine is confined to it, DuckLake could not.
    if let Some(path) = remote.data_path.as_ref().filter(|p| !p.to_string_lossy().contains("://")) {
        std::fs::create_dir_all(path).with_context(|| {
            format!("cannot create the lake's data folder {} (HEALTHSIM_DUCKLAKE_DATA_PATH)", path.display())
        })?;
    }
    let statement = format!("ATTACH {} AS {CATALOG}{options}", quoted(&remote.uri));
    let deadline = Instant::now() + timeout;
    loop {
        match conn.execute_batch(&statement) {
            Ok(()) => break,
            Err(err) if is_busy_catalog(&err.to_string()) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20 + fastrand::u64(0..30)));
            }
            Err(err) => {
                let text = scrub_secret(&err.to_string(), &remote.token);
                let first = text.lines().next().unwrap_or_default().to_owned();
                return Err(match remote.kind {
                    RemoteKind::MotherDuck => anyhow::anyhow!(
                        "cannot reach MotherDuck for --db {}: {first} (check the network and motherduck_token)",
                        remote.shown()
                    ),
                    _ => match catalog_unreachable(&text) {
                        Some(reason) => anyhow::anyhow!(
                            "cannot reach the PostgreSQL catalog of --db {}: {reason}; start PostgreSQL or check the \
                             connection string (the next call tries again)",
                            remote.shown()
                        ),
                        None if text.contains("data_path is not set") => anyhow::anyhow!(
                            "--db {} is a new DuckLake: set HEALTHSIM_DUCKLAKE_DATA_PATH to the folder for its data \
                             files",
                            remote.shown()
                        ),
                        None => anyhow::anyhow!("cannot attach --db {}: {first}", remote.shown()),
                    },
                });
            }
        }
    }
    conn.execute_batch(&format!("USE {CATALOG}")).context("cannot use the attached database")?;
    if remote.kind == RemoteKind::DuckLake {
        // Our writes all conflict with each other (the clock): DuckLake's own retries, with
        // waits growing from 100 ms, only delay the retry with jitter that `write` makes.
        conn.execute_batch("SET ducklake_max_retry_count = 0").context("cannot configure DuckLake")?;
    }
    // Confine the engine to the lake's folders: its data (as configured, else as the
    // catalog records it) and a local catalog's folder; user SQL reaches no other file.
    if remote.kind == RemoteKind::DuckLake {
        let data = match &remote.data_path {
            Some(path) => Some(path.display().to_string()),
            None => conn
                .query_row(
                    &format!("SELECT options['data_path'] FROM duckdb_databases() WHERE database_name = '{CATALOG}'"),
                    [],
                    |r| r.get::<_, Option<String>>(0),
                )
                .context("cannot read the lake's data path")?,
        };
        let local_catalog = remote.uri.strip_prefix("ducklake:").filter(|rest| !rest.starts_with("postgres:"));
        let catalog_folder = local_catalog.map(|rest| {
            let catalog = std::path::Path::new(rest.split_once(':').map_or(rest, |(_, path)| path));
            catalog.parent().unwrap_or(catalog).display().to_string()
        });
        let folders: Vec<String> = catalog_folder
            .into_iter()
            .chain(data)
            .map(|folder| quoted(&format!("{}/", folder.trim_end_matches('/'))))
            .collect();
        conn.execute_batch(&format!(
            "SET allowed_directories = [{}]; SET enable_external_access = false;",
            folders.join(", ")
        ))
        .context("cannot confine the engine to the lake's folders")?;
    }
    Ok(())
}

/// Whether an ATTACH failed only because another server was using or preparing the
/// catalog at that moment: SQLite's lock held, or, on a new PostgreSQL catalog, another
/// server's DuckLake creating the same tables (PostgreSQL's catalog refuses the second
/// `CREATE TABLE` of a name as a duplicate key, and the loser's transaction rolls back).
fn is_busy_catalog(text: &str) -> bool {
    [CATALOG_LOCKED, "duplicate key value violates unique constraint", "already exists"]
        .iter()
        .any(|needle| text.contains(needle))
}

/// Makes this DuckLake write conflict with every other writer's: each updates the one
/// row of `healthsim_write_clock`, and DuckLake commits only one of two transactions that
/// changed the same table.
fn serialise(conn: &Connection) -> anyhow::Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS healthsim_write_clock (writes BIGINT NOT NULL)")?;
    let updated = conn.execute("UPDATE healthsim_write_clock SET writes = writes + 1", [])?;
    if updated == 0 {
        conn.execute("INSERT INTO healthsim_write_clock VALUES (1)", [])?;
    }
    Ok(())
}

/// Runs blocking work off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, DbError> + Send + 'static) -> Result<T, DbError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(DbError::Other(anyhow::anyhow!("the server task failed: {e}"))))
}

/// Whether a failed write lost a race with another server's write: a guard saw a row it
/// read change, a write-write conflict, or a key the other write committed first.
fn is_conflict(text: &str) -> bool {
    [GUARD_FAILED, "onflict", "Duplicate key", "violates primary key", "violates unique constraint", CATALOG_LOCKED]
        .iter()
        .any(|needle| text.contains(needle))
}
