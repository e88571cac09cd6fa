//! Where a statement runs: on a local DuckDB connection (the file), or on a remote
//! database through Quack, where the statement is sent whole and runs on the server.
//!
//! The SQL modules (`scenarios`, `layout`, `schema`, `summary`, ...) take a [`Sql`] and use
//! the same calls either way (`prepare`, `query_map`, `execute`, an appender). A remote
//! statement is a local one over `quack_query_by_name(catalog, text)`, so rows come back
//! as `duckdb::Row`s with the server's column types; its parameters are written into the
//! text as typed literals first, because the server receives text only.

use duckdb::types::{TimeUnit, ToSqlOutput, Value};
use duckdb::{Connection, MappedRows, Params, Row, Rows, ToSql};

/// A connection to run statements on.
#[derive(Clone, Copy)]
pub enum Sql<'c> {
    Local(&'c Connection),
    Remote(Remote<'c>),
}

/// A remote database attached to a local connection as `catalog` (a Quack session: the
/// statements sent through one catalog share its transaction).
#[derive(Clone, Copy)]
pub struct Remote<'c> {
    pub conn: &'c Connection,
    pub catalog: &'c str,
}

impl<'c> Sql<'c> {
    pub fn local(conn: &'c Connection) -> Sql<'c> {
        Sql::Local(conn)
    }

    /// Prepares `sql` (cached on a local connection).
    pub fn prepare(&self, sql: &str) -> duckdb::Result<Stmt<'c>> {
        match self {
            Sql::Local(conn) => conn.prepare_cached(sql).map(Stmt::Local),
            Sql::Remote(remote) => Ok(Stmt::Remote { remote: *remote, sql: sql.to_owned(), running: None }),
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

    /// Runs statements without parameters (a remote server runs them in one call).
    pub fn execute_batch(&self, sql: &str) -> duckdb::Result<()> {
        match self {
            Sql::Local(conn) => conn.execute_batch(sql),
            Sql::Remote(remote) => remote.send(sql),
        }
    }

    /// Appends rows to `table` (DuckDB's appender locally, multi-row INSERTs remotely).
    pub fn appender(&self, table: &str, columns: &[&str]) -> duckdb::Result<Appender<'c>> {
        match self {
            Sql::Local(conn) => conn.appender_with_columns(table, columns).map(Appender::Local),
            Sql::Remote(remote) => Ok(Appender::Remote {
                remote: *remote,
                head: format!(
                    "INSERT INTO {} ({}) VALUES ",
                    quote_table(table),
                    columns.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", ")
                ),
                rows: String::new(),
            }),
        }
    }
}

impl<'c> Remote<'c> {
    /// The local statement that runs a text on the server: bind `[catalog, text]`.
    fn wrapper(&self) -> duckdb::Result<duckdb::Statement<'c>> {
        self.conn.prepare("SELECT * FROM quack_query_by_name(?, ?)")
    }

    /// Runs `sql` on the server, its result discarded.
    fn send(&self, sql: &str) -> duckdb::Result<()> {
        let mut stmt = self.wrapper()?;
        let mut rows = stmt.query([self.catalog, sql])?;
        while rows.next()?.is_some() {}
        Ok(())
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
    Remote { remote: Remote<'c>, sql: String, running: Option<duckdb::Statement<'c>> },
}

impl<'c> Stmt<'c> {
    /// For a remote statement: the local wrapper and the parameters it runs with.
    fn remote<P: Params>(&mut self, params: P) -> duckdb::Result<(&mut duckdb::Statement<'c>, [String; 2])> {
        let Stmt::Remote { remote, sql, running } = self else { unreachable!("local statements run themselves") };
        let text = remote.render(sql, params)?;
        let catalog = remote.catalog.to_owned();
        Ok((running.insert(remote.wrapper()?), [catalog, text]))
    }

    pub fn query<P: Params>(&mut self, params: P) -> duckdb::Result<Rows<'_>> {
        match self {
            Stmt::Local(stmt) => stmt.query(params),
            Stmt::Remote { .. } => {
                let (stmt, bound) = self.remote(params)?;
                stmt.query(bound)
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
                stmt.query_map(bound, f)
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
                stmt.query_row(bound, f)
            }
        }
    }

    /// Runs the statement; the number of rows it changed.
    pub fn execute<P: Params>(&mut self, params: P) -> duckdb::Result<usize> {
        match self {
            Stmt::Local(stmt) => stmt.execute(params),
            Stmt::Remote { .. } => {
                let (stmt, bound) = self.remote(params)?;
                let mut rows = stmt.query(bound)?;
                // DML answers with its row count; anything else with no rows or others.
                let changed = match rows.next()? {
                    Some(row) => row.get::<_, i64>(0).unwrap_or(0),
                    None => 0,
                };
                Ok(usize::try_from(changed).unwrap_or(0))
            }
        }
    }
}

/// Rows appended to one table.
pub enum Appender<'c> {
    Local(duckdb::Appender<'c>),
    /// Rows gathered into `INSERT ... VALUES` statements of about a megabyte.
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
                rows.push_str(if rows.is_empty() { "(" } else { ", (" });
                for (i, value) in values.into_iter().enumerate() {
                    if i > 0 {
                        rows.push_str(", ");
                    }
                    rows.push_str(&literal(&value.to_sql()?)?);
                }
                rows.push(')');
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
                    remote.send(&format!("{head}{rows}"))?;
                    rows.clear();
                }
                Ok(())
            }
        }
    }
}

/// A value as an SQL literal of its type.
fn literal(output: &ToSqlOutput<'_>) -> duckdb::Result<String> {
    let value: Value = match output {
        ToSqlOutput::Borrowed(value) => Value::from(*value),
        ToSqlOutput::Owned(value) => value.clone(),
        _ => return Err(duckdb::Error::ToSqlConversionFailure("a value cannot be sent to a remote database".into())),
    };
    Ok(match value {
        Value::Null => "NULL".to_owned(),
        Value::Boolean(b) => b.to_string(),
        Value::TinyInt(n) => n.to_string(),
        Value::SmallInt(n) => n.to_string(),
        Value::Int(n) => n.to_string(),
        Value::BigInt(n) => n.to_string(),
        Value::HugeInt(n) => format!("{n}::HUGEINT"),
        Value::UTinyInt(n) => n.to_string(),
        Value::USmallInt(n) => n.to_string(),
        Value::UInt(n) => n.to_string(),
        Value::UBigInt(n) => format!("{n}::UBIGINT"),
        Value::Float(f) => format!("CAST('{f:?}' AS FLOAT)"),
        Value::Double(f) => format!("CAST('{f:?}' AS DOUBLE)"),
        Value::Text(text) => quote_text(&text),
        Value::Timestamp(unit, n) => {
            let micros = match unit {
                TimeUnit::Second => n.saturating_mul(1_000_000),
                TimeUnit::Millisecond => n.saturating_mul(1_000),
                TimeUnit::Microsecond => n,
                TimeUnit::Nanosecond => n / 1_000,
            };
            format!("make_timestamp({micros}::BIGINT)")
        }
        Value::Blob(bytes) => {
            format!("from_hex('{}')", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
        }
        other => {
            return Err(duckdb::Error::ToSqlConversionFailure(
                format!("a {other:?} value cannot be sent to a remote database").into(),
            ));
        }
    })
}

fn quote_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema.table` or `table`, each part quoted.
fn quote_table(name: &str) -> String {
    name.split('.').map(quote_ident).collect::<Vec<_>>().join(".")
}

/// A parameter's place in a statement: its byte range and which value it takes.
#[derive(Debug, PartialEq)]
struct Placeholder {
    range: std::ops::Range<usize>,
    index: usize,
}

/// The `?` and `$N` parameters of `sql`, outside string literals, quoted names and comments.
fn placeholders(sql: &str) -> Vec<Placeholder> {
    let bytes = sql.as_bytes();
    let (mut found, mut next, mut i) = (Vec::new(), 0, 0);
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"') => {
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == quote {
                        if bytes.get(i + 1) == Some(&quote) {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'?' => {
                found.push(Placeholder { range: i..i + 1, index: next });
                next += 1;
            }
            b'$' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let end = (i + 1..bytes.len()).find(|&j| !bytes[j].is_ascii_digit()).unwrap_or(bytes.len());
                let number: usize = sql[i + 1..end].parse().unwrap_or(0);
                if number > 0 {
                    found.push(Placeholder { range: i..end, index: number - 1 });
                }
                i = end - 1;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// `sql` with each placeholder replaced by its literal.
fn substitute(sql: &str, literals: &[String]) -> String {
    let mut out = String::with_capacity(sql.len() + literals.iter().map(String::len).sum::<usize>());
    let mut at = 0;
    for placeholder in placeholders(sql) {
        out.push_str(&sql[at..placeholder.range.start]);
        out.push_str(&literals[placeholder.index]);
        at = placeholder.range.end;
    }
    out.push_str(&sql[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parameters are found outside literals, quoted names and comments, numbered or not.
    #[test]
    fn placeholders_skip_literals_and_comments() {
        let sql = "SELECT '?', \"a?\" , ? -- ?\n/* ? */ , $2, 'it''s ?', $1, ?";
        let found: Vec<usize> = placeholders(sql).iter().map(|p| p.index).collect();
        assert_eq!(found, vec![0, 1, 0, 1]);
        let literals = vec!["'x'".to_owned(), "7".to_owned()];
        assert_eq!(substitute(sql, &literals), "SELECT '?', \"a?\" , 'x' -- ?\n/* ? */ , 7, 'it''s ?', 'x', 7");
    }

    /// Rendered parameters read back as the values bound (locally, through the same probe
    /// a remote statement uses); appender literals too.
    #[test]
    fn literals_round_trip() {
        let conn = Connection::open_in_memory().unwrap();
        let remote = Remote { conn: &conn, catalog: "unused" };
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
        let cells: [&dyn ToSql; 4] = [&"o'k", &Option::<&str>::None, &stamp, &7i32];
        let row: Vec<String> = cells.iter().map(|c| literal(&c.to_sql().unwrap()).unwrap()).collect();
        let (a, b, d, n): (String, Option<String>, Value, i32) = conn
            .query_row(&format!("SELECT {}", row.join(", ")), [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap();
        assert_eq!((a.as_str(), b, d, n), ("o'k", None, stamp, 7));
    }
}
