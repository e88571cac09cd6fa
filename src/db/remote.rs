//! A database on a DuckDB server (`--db quack:HOST:PORT`), the second access strategy
//! beside the local file's state machine (`instance`): no file, no locks to wait for.
//!
//! A local in-memory DuckDB loads `httpfs` and `quack` from `--extension-dir` and sends
//! every statement whole to the server with `quack_query(uri, text, token)`
//! ([`Sql::Remote`]). Each call is a session of its own there: DuckDB 1.5.5 cannot ATTACH
//! a Quack server whose database has a column `DEFAULT nextval(...)` (every HealthSim
//! layout has one), so no session can be held across calls. Hence:
//!
//! - Reads: each statement on the committed state. Nothing read is kept but the layout:
//!   other servers write at any time, so every listing asks the server (no listing memo,
//!   which on a file rests on our read lock).
//! - Writes: one script per write, `BEGIN; ...; COMMIT`, all or nothing on the server (see
//!   `sql.rs`): the write's reads are checked again inside it, so a write that read
//!   something another server changed meanwhile, or that conflicts with another server's
//!   write (a key it took first, a row both changed), fails whole and runs again with
//!   backoff until the write timeout. A scenario name raced by several servers is saved
//!   once: the losers' second run finds it taken.
//! - User SQL: DuckDB's parser alone decides it is one SELECT (the binder needs the
//!   server's catalog), and it runs on the server in a `READ ONLY` transaction, which the
//!   server's engine enforces, rolled back at the end.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use duckdb::Connection;

use super::error::DbError;
use super::extensions::ExtensionSource;
use super::layout::{Detected, Family, Layout};
use super::query::{self, QueryError, QueryResult};
use super::sql::{GUARD_FAILED, Remote, Script, Server, Sql};
use crate::config::RemoteDb;

/// Shared handle to the server; cheap to clone.
#[derive(Clone)]
pub struct RemoteAccess {
    inner: Arc<Inner>,
}

struct Inner {
    server: Server,
    /// The local engine; each call works on a connection of its own to it.
    engine: Mutex<Connection>,
    write_permit: tokio::sync::Mutex<()>,
    write_timeout: Duration,
    /// The server's layout once found complete (it changes only by a migration, which
    /// works on files).
    layout: Mutex<Option<Arc<Layout>>>,
}

impl RemoteAccess {
    /// Starts the local engine with the extensions (blocking, a few ms). The server is
    /// not contacted: it may start later, and each call says if it cannot be reached.
    pub fn connect(remote: &RemoteDb, extensions: &ExtensionSource, write_timeout: Duration) -> anyhow::Result<Self> {
        let config = duckdb::Config::default()
            .enable_autoload_extension(false)
            .and_then(|c| c.with("autoinstall_known_extensions", "false"))
            .context("cannot configure the local engine")?;
        let conn = Connection::open_in_memory_with_flags(config).context("cannot start the local engine")?;
        for name in ["httpfs", "quack"] {
            extensions.load(&conn, name).with_context(|| format!("{} needs the {name} extension", remote.uri))?;
        }
        Ok(RemoteAccess {
            inner: Arc::new(Inner {
                server: Server { uri: remote.uri.clone(), token: remote.token.clone() },
                engine: Mutex::new(conn),
                write_permit: tokio::sync::Mutex::new(()),
                write_timeout,
                layout: Mutex::new(None),
            }),
        })
    }

    pub fn uri(&self) -> &str {
        &self.inner.server.uri
    }

    /// Runs `work` on the server's committed state (each statement a call of its own).
    pub async fn read<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Sql<'_>) -> anyhow::Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let conn = inner.connection()?;
            let result = work(&Sql::Remote(Remote { conn: &conn, server: &inner.server, script: None }));
            result.map_err(|err| inner.explain(err))
        })
        .await
    }

    /// Runs `work` with the server's layout (`None`: no scenario tables there yet).
    pub async fn scenario_read<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Sql<'_>, Option<&Layout>) -> anyhow::Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        self.read(move |sql| {
            let layout = inner.layout(sql)?;
            work(sql, layout.as_deref())
        })
        .await
    }

    /// Runs user SQL: one SELECT (by DuckDB's parser here), sent whole, in a read-only
    /// transaction on the server that is rolled back.
    pub async fn query(&self, sql: String, limit: usize, max_chars: usize) -> Result<QueryResult, QueryError> {
        let inner = Arc::clone(&self.inner);
        let ran = blocking(move || {
            let conn = inner.connection()?;
            let result = query::check_single_select(&conn, &sql).and_then(|()| {
                let statement = sql.trim().trim_end_matches(';');
                // The newline ends a trailing `--` comment before the ROLLBACK.
                let text = format!("BEGIN TRANSACTION READ ONLY;\n{statement}\n;\nROLLBACK");
                let server = &inner.server;
                query::execute(
                    &conn,
                    "SELECT * FROM quack_query(?, ?, token => ?)",
                    [server.uri.as_str(), text.as_str(), server.token.as_str()],
                    limit,
                    max_chars,
                )
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
        F: FnMut(&Sql<'_>, &Layout) -> anyhow::Result<T> + Send + 'static,
    {
        let _permit = self.inner.write_permit.lock().await;
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let conn = inner.connection()?;
            let deadline = Instant::now() + inner.write_timeout;
            let mut backoff = Duration::from_millis(10);
            loop {
                let script = RefCell::new(Script::default());
                let sql = Sql::Remote(Remote { conn: &conn, server: &inner.server, script: Some(&script) });
                let attempt = inner.layout_for_write(&sql).and_then(|layout| {
                    let value = work(&sql, &layout)?;
                    if let Some(text) = script.borrow().text() {
                        inner.server.send(&conn, &text).context("the write failed on the server")?;
                    }
                    Ok((value, layout))
                });
                match attempt {
                    Ok((value, layout)) => {
                        if layout.complete() {
                            *inner.layout.lock().unwrap_or_else(|e| e.into_inner()) = Some(layout);
                        }
                        return Ok(value);
                    }
                    Err(err) => {
                        let text = format!("{err:#}");
                        if !is_conflict(&text) || Instant::now() >= deadline {
                            return Err(inner.explain(err));
                        }
                        tracing::debug!(?backoff, "the write lost a race with another server's; running it again");
                        std::thread::sleep(backoff.mul_f64(0.5 + fastrand::f64() * 0.5));
                        backoff = (backoff * 2).min(Duration::from_millis(500));
                    }
                }
            }
        })
        .await
    }
}

impl Inner {
    fn connection(&self) -> anyhow::Result<Connection> {
        let engine = self.engine.lock().unwrap_or_else(|e| e.into_inner());
        engine.try_clone().context("cannot open a local connection")
    }

    /// The layout found before, or found now (kept once complete).
    fn layout(&self, sql: &Sql<'_>) -> anyhow::Result<Option<Arc<Layout>>> {
        if let Some(layout) = self.layout.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(Some(layout));
        }
        match super::layout::detect(sql)? {
            Detected::Empty => Ok(None),
            Detected::Known(layout) => {
                if layout.complete() {
                    *self.layout.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&layout));
                }
                Ok(Some(layout))
            }
            Detected::Unknown(reason) => Err(anyhow::anyhow!(reason)),
        }
    }

    /// The layout a write uses: the known one, or the one found (and prepared where
    /// missing, in this write's transaction) as on a file.
    fn layout_for_write(&self, sql: &Sql<'_>) -> anyhow::Result<Arc<Layout>> {
        let known = self.layout.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match known {
            Some(layout) => {
                if layout.family != Family::Ours {
                    super::scenarios::finish_deletions(sql, &layout)?;
                }
                Ok(layout)
            }
            None => super::layout_for_write(sql),
        }
    }

    /// An error as the user reads it: why, naming the server, never the token.
    fn explain(&self, err: anyhow::Error) -> DbError {
        let text = self.scrub(&format!("{err:#}"));
        if text.contains("Could not connect") || text.contains("Failed to send message") {
            return DbError::Other(anyhow::anyhow!(
                "cannot reach the Quack server {}: start it (CALL quack_serve(...)) or check --db ({})",
                self.server.uri,
                text.lines().next().unwrap_or_default()
            ));
        }
        if text.contains("Authentication failed") {
            return DbError::Other(anyhow::anyhow!(
                "the Quack server {} refused the token: set HEALTHSIM_QUACK_TOKEN to the token its quack_serve was given",
                self.server.uri
            ));
        }
        DbError::Other(anyhow::anyhow!(text))
    }

    fn scrub(&self, text: &str) -> String {
        let text = match text.find("\n\nLINE ") {
            Some(at) => &text[..at],
            None => text,
        };
        match self.server.token.is_empty() {
            true => text.to_owned(),
            false => text.replace(&self.server.token, "<token>"),
        }
    }
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
    [GUARD_FAILED, "onflict", "Duplicate key", "violates primary key", "violates unique constraint"]
        .iter()
        .any(|needle| text.contains(needle))
}

impl super::Db {
    /// For a database on a server: its access, once the startup has made it (or why it
    /// could not); `None` for a file.
    pub(super) async fn remote_access(&self) -> Option<Result<RemoteAccess, DbError>> {
        let remote = self.remote.as_ref()?;
        let mut ready = self.ready.clone();
        let _ = ready.wait_for(|done| *done).await;
        Some(match remote.get() {
            Some(Ok(access)) => Ok(access.clone()),
            Some(Err(reason)) => Err(DbError::Other(anyhow::anyhow!("{reason}"))),
            None => Err(DbError::ShuttingDown),
        })
    }

    /// The startup for a database on a server: the local engine, then our layout prepared
    /// there if it has none (a server that cannot be reached yet: the first write will).
    pub(super) async fn connect_remote(&self, remote: RemoteDb, extensions: ExtensionSource, timeout: Duration) {
        let Some(slot) = self.remote.clone() else { return };
        let connected = tokio::task::spawn_blocking(move || RemoteAccess::connect(&remote, &extensions, timeout)).await;
        let access = match connected {
            Ok(Ok(access)) => access,
            Ok(Err(err)) => {
                tracing::warn!("{err:#}");
                let _ = slot.set(Err(format!("{err:#}")));
                return;
            }
            Err(err) => {
                let _ = slot.set(Err(format!("cannot start the local engine: {err}")));
                return;
            }
        };
        let _ = slot.set(Ok(access.clone()));
        if self.check_writable().is_err() {
            return;
        }
        match access.write(|_, layout| Ok(layout.description.clone())).await {
            Ok(layout) => tracing::info!(server = access.uri(), layout, "serving the database"),
            Err(err) => tracing::warn!("{err}; the first write will prepare the layout"),
        }
    }
}
