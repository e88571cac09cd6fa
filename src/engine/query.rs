//! User SQL for `healthsim_query`: one read statement, classified by DuckDB's parser and
//! binder (never by keywords), executed on the hardened read instance with results
//! streamed so that at most `limit + 1` rows are ever fetched.

use duckdb::Statement;
use duckdb::core::LogicalTypeId;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::native::InstanceConnection;
use super::values::{ColumnHint, cell};

mod guard;

use guard::check_read_only;
pub use guard::check_single_select;

/// The result of a read query, in wire order.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub row_count: usize,
    /// One object per row, keyed by the (de-duplicated) column names.
    pub rows: Vec<Map<String, Value>>,
    pub truncated: bool,
}

/// Why a query did not run or failed; the tool turns these into error texts.
#[derive(Debug)]
pub enum QueryError {
    /// Not a single read statement; the phrase names what was refused
    /// (`DELETE statements are not allowed`).
    Refused(String),
    /// DuckDB's own error (parse, bind or execution), already worded.
    Failed(String),
}

/// Classifies and runs `sql`, returning at most `limit` rows and at most about
/// `max_chars` characters of pretty-printed rows.
pub fn run(conn: &InstanceConnection, sql: &str, limit: usize, max_chars: usize) -> Result<QueryResult, QueryError> {
    check_read_only(conn, sql)?;
    execute(conn.conn(), sql, [], limit, max_chars)
}

/// Runs `sql` with `params`, already checked, as [`run`] does.
pub fn execute<P: duckdb::Params>(
    conn: &duckdb::Connection,
    sql: &str,
    params: P,
    limit: usize,
    max_chars: usize,
) -> Result<QueryResult, QueryError> {
    let failed = |e: duckdb::Error| {
        let message = e.to_string();
        if message.contains("decoding Variant columns is not supported") {
            // duckdb-rs cannot read VARIANT values (e.g. duckdb_settings().value).
            return QueryError::Failed(
                "a result column has DuckDB's VARIANT type, which this server cannot return; \
                 select it as CAST(column AS VARCHAR)"
                    .to_owned(),
            );
        }
        QueryError::Failed(message)
    };
    let mut stmt = conn.prepare(sql).map_err(failed)?;
    // Streaming execution: chunks are produced as rows are pulled, so stopping at the cap
    // stops the query too.
    drop(stmt.stream_arrow(params).map_err(failed)?);
    let (columns, hints) = columns_of(Some(&stmt));
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    let mut truncated = false;
    // Room taken by everything but the rows (keys, columns list, braces).
    let mut used = 200 + columns.iter().map(|c| c.len() + 8).sum::<usize>();
    while let Some(row) = rows.next().map_err(failed)? {
        if out.len() == limit {
            truncated = true;
            break;
        }
        let mut object = Map::with_capacity(columns.len());
        for (i, name) in columns.iter().enumerate() {
            object.insert(name.clone(), cell(row, i, hints[i]).map_err(failed)?);
        }
        let size = printed_size(&object);
        if used + size > max_chars {
            truncated = true;
            break;
        }
        used += size;
        out.push(object);
    }
    Ok(QueryResult { columns, row_count: out.len(), rows: out, truncated })
}

/// `a, a, b, a` → `a, a_2, b, a_3` (suffixes skip names already taken).
pub fn unique_names(names: Vec<String>) -> Vec<String> {
    let mut taken: std::collections::HashSet<String> = names.iter().cloned().collect();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    names
        .into_iter()
        .map(|name| {
            let count = seen.entry(name.clone()).or_insert(0);
            *count += 1;
            if *count == 1 {
                return name;
            }
            let mut n = *count;
            loop {
                let candidate = format!("{name}_{n}");
                if taken.insert(candidate.clone()) {
                    return candidate;
                }
                n += 1;
            }
        })
        .collect()
}

/// De-duplicated column names and hints of an executed statement (empty if none).
pub fn columns_of(stmt: Option<&Statement<'_>>) -> (Vec<String>, Vec<ColumnHint>) {
    let Some(stmt) = stmt else { return (Vec::new(), Vec::new()) };
    let names = unique_names(stmt.column_names());
    let hints = (0..names.len()).map(|i| column_hint(stmt, i)).collect();
    (names, hints)
}

/// A result row as a JSON object keyed by column name.
pub type Object = Map<String, Value>;

/// Every row of `rows` as a JSON object keyed by column name, and the column names.
pub fn objects(mut rows: duckdb::Rows<'_>) -> anyhow::Result<(Vec<String>, Vec<Object>)> {
    let (columns, hints) = columns_of(rows.as_ref());
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut object = Map::new();
        for (i, column) in columns.iter().enumerate() {
            object.insert(column.clone(), cell(row, i, hints[i])?);
        }
        out.push(object);
    }
    Ok((columns, out))
}

/// Whether column `i` is JSON-typed or a TIMESTAMPTZ (neither is visible in the value).
pub fn column_hint(stmt: &Statement<'_>, i: usize) -> ColumnHint {
    let logical = stmt.column_logical_type(i);
    ColumnHint {
        json: logical.get_alias().is_some_and(|a| a.eq_ignore_ascii_case("JSON")),
        with_time_zone: logical.id() == LogicalTypeId::TimestampTZ,
        always_null: matches!(stmt.column_type(i), duckdb::arrow::datatypes::DataType::Null)
            || logical.id() == LogicalTypeId::SqlNull,
    }
}

/// Characters a row takes in the compact output, with its comma.
fn printed_size(row: &Map<String, Value>) -> usize {
    serde_json::to_string(row).map_or(0, |text| text.chars().count()) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Duplicate names get _2, _3 suffixes that avoid existing names.
    #[test]
    fn duplicate_column_names() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(unique_names(names(&["a", "a", "b", "a"])), names(&["a", "a_2", "b", "a_3"]));
        assert_eq!(unique_names(names(&["a", "a", "a_2"])), names(&["a", "a_3", "a_2"]));
    }
}
