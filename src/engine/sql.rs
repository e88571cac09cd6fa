//! Where a statement runs: on a local DuckDB connection (the file), or on a DuckDB server
//! through Quack, where each statement is sent whole and runs on the server.
//!
//! The SQL modules (`scenarios`, `layout`, `schema`, `summary`, ...) take a [`Sql`] and use
//! the same calls either way (`prepare`, `query_map`, `execute`, an appender). A remote
//! statement is a local one over `quack_query(uri, text, token => ...)`, so rows come back
//! as `duckdb::Row`s with the server's column types; its parameters are written into the
//! text as typed literals first, because the server receives text only.
//!
//! Each `quack_query` call is a session of its own on the server, so a write cannot hold a
//! transaction open across calls. A remote write is therefore a [`Script`]: its statements
//! are gathered, and sent at commit as one `BEGIN; ...; COMMIT` text, which the server runs
//! whole or not at all. The write's reads run at once (on the committed state, or on a
//! rolled-back replay of the statements gathered so far) and each leaves a guard in the
//! script that runs the read again inside the transaction and fails it if the answer
//! changed meanwhile: optimistic concurrency, where a failed guard or a write-write
//! conflict sends the whole write round again (`remote.rs`).

use std::cell::RefCell;

mod literals;
use literals::{placeholders, quote_ident, quote_table, quote_text, substitute, text_of};

use duckdb::{Connection, MappedRows, OptionalExt, Params, Row, Rows, ToSql};

/// A connection to run statements on.
#[derive(Clone, Copy)]
pub enum Sql<'c> {
    Local(&'c Connection),
    Remote(Remote<'c>),
}

/// A DuckDB server reached through a local connection that has the quack extension.
#[derive(Clone, Copy)]
pub struct Remote<'c> {
    pub conn: &'c Connection,
    pub server: &'c Server,
    /// Set inside a write: statements are gathered here instead of sent.
    pub script: Option<&'c RefCell<Script>>,
}

/// Where the server is and its token (never logged, never in an error).
pub struct Server {
    pub uri: String,
    pub token: String,
}

/// The statements of one remote write, sent together at commit.
#[derive(Default)]
pub struct Script {
    statements: Vec<String>,
}

/// The error text a failed guard raises on the server.
pub const GUARD_FAILED: &str = "healthsim-mcp: a row this write read changed";

const FINGERPRINT: &str = "__healthsim_fp";
const READ_TABLE: &str = "__healthsim_read";

impl Script {
    /// The whole write as one text: it commits all or nothing on the server.
    pub fn text(&self) -> Option<String> {
        if self.statements.is_empty() {
            return None;
        }
        Some(format!("BEGIN TRANSACTION;\n{};\nCOMMIT", self.statements.join(";\n")))
    }

    pub fn len(&self) -> usize {
        self.statements.len()
    }
}

impl Server {
    /// Runs `text` on the server through `conn` and hands its rows to `f`. Errors read
    /// as the server's message, without the local wrapper's text.
    pub fn run<T>(
        &self,
        conn: &Connection,
        text: &str,
        f: impl FnOnce(Rows<'_>) -> duckdb::Result<T>,
    ) -> duckdb::Result<T> {
        let mut stmt = conn.prepare("SELECT * FROM quack_query(?, ?, token => ?)")?;
        let rows = stmt.query([self.uri.as_str(), text, self.token.as_str()]).map_err(scrub)?;
        f(rows).map_err(scrub)
    }

    /// Runs `text` on the server, its result discarded.
    pub fn send(&self, conn: &Connection, text: &str) -> duckdb::Result<()> {
        self.run(conn, text, |mut rows| {
            while rows.next()?.is_some() {}
            Ok(())
        })
        .or_else(|err| match err.to_string().contains("did not return any columns") {
            true => Ok(()),
            false => Err(err),
        })
    }
}

/// A server's error without DuckDB's `LINE 1: ...` pointer into the local wrapper.
fn scrub(err: duckdb::Error) -> duckdb::Error {
    match err {
        duckdb::Error::DuckDBFailure(code, Some(text)) => {
            duckdb::Error::DuckDBFailure(code, Some(without_pointer(&text).to_owned()))
        }
        other => other,
    }
}

/// An error text without the `LINE N: ...` pointer DuckDB appends into the statement
/// (here the local wrapper's text, which would only mislead).
pub(super) fn without_pointer(text: &str) -> &str {
    text.find("\n\nLINE ").map_or(text, |at| text[..at].trim_end())
}

impl<'c> Sql<'c> {
    pub fn local(conn: &'c Connection) -> Sql<'c> {
        Sql::Local(conn)
    }

    /// Prepares `sql` (cached on a local connection).
    pub fn prepare(&self, sql: &str) -> duckdb::Result<Stmt<'c>> {
        self.prepare_as(sql, true)
    }

    /// Prepares a read whose answer may change without making the write that uses it
    /// wrong (a sequence's next values, the highest id so far): inside a remote write it is
    /// not checked again at commit.
    pub fn prepare_volatile(&self, sql: &str) -> duckdb::Result<Stmt<'c>> {
        self.prepare_as(sql, false)
    }

    fn prepare_as(&self, sql: &str, guarded: bool) -> duckdb::Result<Stmt<'c>> {
        match self {
            Sql::Local(conn) => conn.prepare_cached(sql).map(Stmt::Local),
            Sql::Remote(remote) => Ok(Stmt::Remote { remote: *remote, sql: sql.to_owned(), guarded, running: None }),
        }
    }

    pub fn execute<P: Params>(&self, sql: &str, params: P) -> duckdb::Result<usize> {
        self.prepare(sql)?.execute(params)
    }

    pub fn query_row<T, P: Params, F: FnOnce(&Row<'_>) -> duckdb::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> duckdb::Result<T> {
        self.prepare(sql)?.query_row(params, f)
    }

    /// Whether writes are gathered for a later commit (a remote write), so a statement's
    /// row count is not known when it is issued.
    pub fn is_deferred(&self) -> bool {
        matches!(self, Sql::Remote(Remote { script: Some(_), .. }))
    }

    /// Whether the current database is a DuckLake.
    pub fn is_lake(&self) -> anyhow::Result<bool> {
        Ok(self.database_type()?.as_deref() == Some("ducklake"))
    }

    /// The type of the database statements run in (`duckdb`, `ducklake`, `motherduck`, ...).
    fn database_type(&self) -> anyhow::Result<Option<String>> {
        Ok(self
            .query_row("SELECT type FROM duckdb_databases() WHERE database_name = current_database()", [], |r| r.get(0))
            .optional()?)
    }

    /// Whether other servers may write to this database at the same moment with no lock
    /// between them (a Quack server, MotherDuck): our single write permit does not cover
    /// them, so our layout keeps its keys there. (A DuckLake's writers are serialised.)
    pub fn is_shared(&self) -> anyhow::Result<bool> {
        if let Sql::Remote(_) = self {
            return Ok(true);
        }
        Ok(self.database_type()?.as_deref() == Some("motherduck"))
    }

    /// Runs statements without parameters (a remote server runs them in one call).
    pub fn execute_batch(&self, sql: &str) -> duckdb::Result<()> {
        match self {
            Sql::Local(conn) => conn.execute_batch(sql),
            Sql::Remote(remote) => remote.issue(sql.to_owned()),
        }
    }

    /// Appends rows to `table` (DuckDB's appender locally, multi-row INSERTs remotely).
    pub fn appender(&self, table: &str, columns: &[&str]) -> duckdb::Result<Appender<'c>> {
        match self {
            Sql::Local(conn) => conn.appender_with_columns(table, columns).map(Appender::Local),
            Sql::Remote(remote) => Ok(Appender::Remote {
                remote: *remote,
                head: format!(
                    "INSERT INTO {} ({}) SELECT {} FROM (SELECT unnest(from_json(decode(from_base64(",
                    quote_table(table),
                    columns.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", "),
                    (1..=columns.len()).map(|i| format!("r[{i}]")).collect::<Vec<_>>().join(", ")
                ),
                rows: String::new(),
            }),
        }
    }
}

impl<'c> Remote<'c> {
    /// A statement that changes something: gathered in a write, sent at once otherwise.
    fn issue(&self, text: String) -> duckdb::Result<()> {
        match self.script {
            Some(script) => {
                script.borrow_mut().statements.push(text);
                Ok(())
            }
            None => self.server.send(self.conn, &text),
        }
    }

    /// The local statement over the rows of the read `text` (rendered). Inside a write a
    /// guarded read sees the statements gathered so far and leaves its guard.
    fn read(&self, text: &str, guarded: bool) -> duckdb::Result<duckdb::Statement<'c>> {
        let wrapper = "SELECT * FROM quack_query(?, ?, token => ?)";
        let Some(script) = self.script.filter(|_| guarded) else {
            return self.conn.prepare(wrapper);
        };
        // The rows and a fingerprint of them, computed by the server in one statement.
        let read = format!(
            "SELECT * FROM ({text}) POSITIONAL JOIN (SELECT CAST(list(x ORDER BY x) AS VARCHAR) AS {FINGERPRINT} FROM ({text}) AS x)"
        );
        let gathered = script.borrow();
        let sent = match gathered.statements.is_empty() {
            true => read,
            // The first result of a script is its first SELECT's, here the read.
            false => format!("BEGIN TRANSACTION;\n{};\n{read};\nROLLBACK", gathered.statements.join(";\n")),
        };
        drop(gathered);
        self.conn
            .execute(
                &format!("CREATE OR REPLACE TEMP TABLE {READ_TABLE} AS {wrapper}"),
                [self.server.uri.as_str(), sent.as_str(), self.server.token.as_str()],
            )
            .map_err(scrub)?;
        let fingerprint: Option<String> =
            self.conn.query_row(&format!("SELECT max({FINGERPRINT}) FROM {READ_TABLE}"), [], |r| r.get(0))?;
        let expected = fingerprint.as_deref().map_or_else(|| "NULL".to_owned(), quote_text);
        script.borrow_mut().statements.push(format!(
            "SET VARIABLE __healthsim_guard = (SELECT CASE WHEN (SELECT CAST(list(x ORDER BY x) AS VARCHAR) FROM ({text}) AS x) \
             IS NOT DISTINCT FROM {expected} THEN true ELSE error({}) END)",
            quote_text(GUARD_FAILED)
        ));
        // No fingerprint: the read found no rows (the join's one row is padding).
        let filter = if fingerprint.is_some() { "" } else { " WHERE false" };
        self.conn.prepare(&format!("SELECT * EXCLUDE ({FINGERPRINT}) FROM {READ_TABLE}{filter}"))
    }

    /// `sql` with its parameters written in as typed literals.
    fn render<P: Params>(&self, sql: &str, params: P) -> duckdb::Result<String> {
        let count = placeholders(sql).iter().map(|p| p.index + 1).max().unwrap_or(0);
        if count == 0 {
            return Ok(sql.to_owned());
        }
        // The local engine tells each value's type and text, whatever Rust type it came in.
        let probe: Vec<String> =
            (1..=count).map(|i| format!("CAST(${i} AS VARCHAR), CAST(typeof(${i}) AS VARCHAR)")).collect();
        let mut stmt = self.conn.prepare(&format!("SELECT {}", probe.join(", ")))?;
        let literals: Vec<String> = stmt.query_row(params, |row| {
            (0..count)
                .map(|i| {
                    let text: Option<String> = row.get(2 * i)?;
                    let kind: String = row.get(2 * i + 1)?;
                    Ok(match text {
                        None => "NULL".to_owned(),
                        Some(text) => format!("CAST({} AS {kind})", quote_text(&text)),
                    })
                })
                .collect()
        })?;
        Ok(substitute(sql, &literals))
    }
}

/// A prepared statement of either kind.
pub enum Stmt<'c> {
    Local(duckdb::CachedStatement<'c>),
    Remote { remote: Remote<'c>, sql: String, guarded: bool, running: Option<duckdb::Statement<'c>> },
}

impl<'c> Stmt<'c> {
    /// For a remote read: the local statement over its rows, and the parameters it takes.
    fn remote<P: Params>(&mut self, params: P) -> duckdb::Result<(&mut duckdb::Statement<'c>, Vec<String>)> {
        let Stmt::Remote { remote, sql, guarded, running } = self else {
            unreachable!("local statements run themselves")
        };
        let text = remote.render(sql, params)?;
        let stmt = remote.read(&text, *guarded)?;
        let bound = match remote.script.filter(|_| *guarded) {
            Some(_) => Vec::new(),
            None => vec![remote.server.uri.clone(), text, remote.server.token.clone()],
        };
        Ok((running.insert(stmt), bound))
    }

    pub fn query<P: Params>(&mut self, params: P) -> duckdb::Result<Rows<'_>> {
        match self {
            Stmt::Local(stmt) => stmt.query(params),
            Stmt::Remote { .. } => {
                let (stmt, bound) = self.remote(params)?;
                stmt.query(duckdb::params_from_iter(bound)).map_err(scrub)
            }
        }
    }

    pub fn query_map<T, P: Params, F: FnMut(&Row<'_>) -> duckdb::Result<T>>(
        &mut self,
        params: P,
        f: F,
    ) -> duckdb::Result<MappedRows<'_, F>> {
        match self {
            Stmt::Local(stmt) => stmt.query_map(params, f),
            Stmt::Remote { .. } => {
                let (stmt, bound) = self.remote(params)?;
                stmt.query_map(duckdb::params_from_iter(bound), f).map_err(scrub)
            }
        }
    }

    pub fn query_row<T, P: Params, F: FnOnce(&Row<'_>) -> duckdb::Result<T>>(
        &mut self,
        params: P,
        f: F,
    ) -> duckdb::Result<T> {
        match self {
            Stmt::Local(stmt) => stmt.query_row(params, f),
            Stmt::Remote { .. } => {
                let (stmt, bound) = self.remote(params)?;
                stmt.query_row(duckdb::params_from_iter(bound), f).map_err(scrub)
            }
        }
    }

    /// Runs the statement; the number of rows it changed (0 inside a remote write, where
    /// it runs at commit: see [`Sql::is_deferred`]).
    pub fn execute<P: Params>(&mut self, params: P) -> duckdb::Result<usize> {
        match self {
            Stmt::Local(stmt) => stmt.execute(params),
            Stmt::Remote { remote, sql, .. } => {
                let text = remote.render(sql, params)?;
                if remote.script.is_some() {
                    remote.issue(text)?;
                    return Ok(0);
                }
                remote.server.run(remote.conn, &text, |mut rows| {
                    // DML answers with its row count; anything else with no rows or others.
                    let changed = match rows.next()? {
                        Some(row) => row.get::<_, i64>(0).unwrap_or(0),
                        None => 0,
                    };
                    Ok(usize::try_from(changed).unwrap_or(0))
                })
            }
        }
    }
}

/// Rows appended to one table.
pub enum Appender<'c> {
    Local(duckdb::Appender<'c>),
    /// Rows gathered as a JSON array of arrays of text, about a megabyte per statement,
    /// sent base64-encoded and inserted with `from_json`: DuckDB's parser takes ~40x longer
    /// over the same rows as `VALUES` lists, and a long string literal with quotes in it
    /// (which JSON text has) is slow to scan, while base64 has none.
    Remote {
        remote: Remote<'c>,
        head: String,
        rows: String,
    },
}

impl Appender<'_> {
    const REMOTE_BATCH_BYTES: usize = 1 << 20;

    pub fn append_row<I>(&mut self, values: I) -> duckdb::Result<()>
    where
        I: IntoIterator,
        I::Item: ToSql,
    {
        match self {
            Appender::Local(appender) => appender.append_row(duckdb::appender_params_from_iter(values)),
            Appender::Remote { rows, .. } => {
                rows.push_str(if rows.is_empty() { "[" } else { ",[" });
                for (i, value) in values.into_iter().enumerate() {
                    if i > 0 {
                        rows.push(',');
                    }
                    match text_of(&value.to_sql()?)? {
                        Some(text) => rows.push_str(&serde_json::Value::String(text).to_string()),
                        None => rows.push_str("null"),
                    }
                }
                rows.push(']');
                if rows.len() >= Self::REMOTE_BATCH_BYTES {
                    self.flush()?;
                }
                Ok(())
            }
        }
    }

    pub fn flush(&mut self) -> duckdb::Result<()> {
        match self {
            Appender::Local(appender) => appender.flush(),
            Appender::Remote { remote, head, rows } => {
                if !rows.is_empty() {
                    let json = format!("[{}]", std::mem::take(rows));
                    remote.issue(remote_insert(head, &json))?;
                }
                Ok(())
            }
        }
    }
}

/// The statement inserting `json` (an array of rows, each an array of text or null).
fn remote_insert(head: &str, json: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(json);
    format!("{head}'{encoded}')), '[[\"VARCHAR\"]]')) AS r)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckdb::types::{TimeUnit, Value};

    /// Rendered parameters read back as the values bound (locally, through the same probe
    /// a remote statement uses); appender literals too.
    #[test]
    fn literals_round_trip() {
        let conn = Connection::open_in_memory().unwrap();
        let server = Server { uri: String::new(), token: String::new() };
        let remote = Remote { conn: &conn, server: &server, script: None };
        let stamp = Value::Timestamp(TimeUnit::Microsecond, 1_700_000_000_123_456);
        let text = remote
            .render(
                "SELECT ?, ?, ?, ?, $1",
                duckdb::params!["it's \u{1F600}", 42i64, Option::<String>::None, stamp.clone()],
            )
            .unwrap();
        let (a, b, c, d, e): (String, i64, Option<String>, Value, String) =
            conn.query_row(&text, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).unwrap();
        assert_eq!((a.as_str(), b, c, e.as_str()), ("it's \u{1F600}", 42, None, "it's \u{1F600}"));
        assert_eq!(d, stamp);
        // Appended rows: inserted through the statement a remote appender sends.
        conn.execute_batch("CREATE TABLE t (a VARCHAR, b VARCHAR, d TIMESTAMP, n INTEGER)").unwrap();
        let cells: [&dyn ToSql; 4] = [&"o'k \"q\" \\ \u{1F600}", &Option::<&str>::None, &stamp, &7i32];
        let row: Vec<String> = cells
            .iter()
            .map(|c| {
                text_of(&c.to_sql().unwrap())
                    .unwrap()
                    .map_or("null".to_owned(), |t| serde_json::Value::String(t).to_string())
            })
            .collect();
        let head = "INSERT INTO \"t\" (\"a\", \"b\", \"d\", \"n\") SELECT r[1], r[2], r[3], r[4] FROM (SELECT unnest(from_json(decode(from_base64(";
        conn.execute_batch(&remote_insert(head, &format!("[[{}]]", row.join(",")))).unwrap();
        let (a, b, d, n): (String, Option<String>, Value, i32) =
            conn.query_row("SELECT * FROM t", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap();
        assert_eq!((a.as_str(), b, d, n), ("o'k \"q\" \\ \u{1F600}", None, stamp, 7));
    }
}
