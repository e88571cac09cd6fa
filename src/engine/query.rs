//! User SQL for `healthsim_query`: one read statement, classified by DuckDB's parser and
//! binder (never by keywords), executed on the hardened read instance with results
//! streamed so that at most `limit + 1` rows are ever fetched.

use duckdb::Statement;
use duckdb::core::LogicalTypeId;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::native::{InstanceConnection, StatementKind};
use super::values::{ColumnHint, cell};

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

/// Refuses anything but exactly one SELECT (or EXPLAIN of one) before it runs.
fn check_read_only(conn: &InstanceConnection, sql: &str) -> Result<(), QueryError> {
    let kinds = conn.instance().classify(sql).map_err(|message| match leading_write_keyword(sql) {
        // DuckDB could not even bind it (COPY and EXPORT need the file system that the
        // read instance has disabled, for instance): nothing ran, and the refusal names
        // what the statement is.
        Some(kind) => QueryError::Refused(format!("{kind} statements are not allowed")),
        None => QueryError::Failed(message),
    })?;
    match kinds.as_slice() {
        [StatementKind::Select] => Ok(()),
        [StatementKind::Explain] => {
            let inner = explained_statement(sql)
                .ok_or_else(|| QueryError::Refused("EXPLAIN with an options list is not allowed".to_owned()))?;
            match conn.instance().classify(inner).map_err(QueryError::Failed)?.as_slice() {
                [StatementKind::Select] => Ok(()),
                [other] => Err(QueryError::Refused(format!("EXPLAIN {} statements are not allowed", other.name()))),
                _ => Err(QueryError::Refused("EXPLAIN of several statements is not allowed".to_owned())),
            }
        }
        [other] => Err(QueryError::Refused(format!("{} statements are not allowed", other.name()))),
        many => Err(QueryError::Refused(format!("{} statements in one call are not allowed", many.len()))),
    }
}

/// For a database on a server, where binding needs the server's catalog: exactly one
/// SELECT by DuckDB's parser alone (`json_serialize_sql` serialises SELECT statements only).
pub fn check_single_select(conn: &duckdb::Connection, sql: &str) -> Result<(), QueryError> {
    let parsed: String = conn
        .query_row(&format!("SELECT CAST(json_serialize_sql('{}') AS VARCHAR)", sql.replace('\'', "''")), [], |r| {
            r.get(0)
        })
        .map_err(|e| QueryError::Failed(e.to_string()))?;
    let parsed: Value = serde_json::from_str(&parsed).map_err(|e| QueryError::Failed(e.to_string()))?;
    if parsed["error"] == Value::Bool(true) {
        if let Some(kind) = leading_write_keyword(sql) {
            return Err(QueryError::Refused(format!("{kind} statements are not allowed")));
        }
        if parsed["error_type"] == "parser" {
            return Err(QueryError::Failed(parsed["error_message"].as_str().unwrap_or("syntax error").to_owned()));
        }
        return Err(QueryError::Refused(
            "statements other than one SELECT are not allowed on a database on a server (no SHOW, DESCRIBE, \
             EXPLAIN, PRAGMA or SET)"
                .to_owned(),
        ));
    }
    match parsed["statements"].as_array().map(Vec::len) {
        Some(1) => Ok(()),
        Some(n) => Err(QueryError::Refused(format!("{n} statements in one call are not allowed"))),
        None => Err(QueryError::Failed("the statement could not be parsed".to_owned())),
    }
}

/// The statement type named by the first keyword, for a single statement DuckDB could
/// not prepare; `None` for anything that starts like a read (its error is DuckDB's own).
fn leading_write_keyword(sql: &str) -> Option<&'static str> {
    let rest = skip_space_and_comments(sql);
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>().to_ascii_uppercase();
    Some(match word.as_str() {
        "COPY" => "COPY",
        "EXPORT" => "EXPORT",
        "IMPORT" => "IMPORT",
        "INSERT" => "INSERT",
        "UPDATE" => "UPDATE",
        "DELETE" | "TRUNCATE" => "DELETE",
        "MERGE" => "MERGE INTO",
        "CREATE" => "CREATE",
        "DROP" => "DROP",
        "ALTER" => "ALTER",
        "ATTACH" => "ATTACH",
        "DETACH" => "DETACH",
        "INSTALL" | "LOAD" => "LOAD",
        "SET" | "RESET" => "SET",
        "PRAGMA" => "PRAGMA",
        "CALL" => "CALL",
        "CHECKPOINT" | "FORCE" => "CHECKPOINT",
        "VACUUM" => "VACUUM",
        "ANALYZE" => "ANALYZE",
        "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" => "TRANSACTION",
        "USE" => "USE",
        "PREPARE" => "PREPARE",
        "EXECUTE" => "EXECUTE",
        "DEALLOCATE" => "DEALLOCATE",
        _ => return None,
    })
}

/// The statement after `EXPLAIN [ANALYZE]`, skipping comments; `None` if the text has
/// another shape (e.g. an options list), which is then refused.
fn explained_statement(sql: &str) -> Option<&str> {
    let rest = skip_space_and_comments(sql);
    let rest = strip_keyword(rest, "explain")?;
    let rest = skip_space_and_comments(rest);
    let rest = match strip_keyword(rest, "analyze").or_else(|| strip_keyword(rest, "analyse")) {
        Some(after) => skip_space_and_comments(after),
        None => rest,
    };
    if rest.starts_with('(') { None } else { Some(rest) }
}

fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let head = text.get(..keyword.len())?;
    let rest = &text[keyword.len()..];
    let boundary = rest.chars().next().is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
    (head.eq_ignore_ascii_case(keyword) && boundary).then_some(rest)
}

fn skip_space_and_comments(mut text: &str) -> &str {
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix("--") {
            text = rest.find('\n').map_or("", |i| &rest[i + 1..]);
        } else if let Some(rest) = text.strip_prefix("/*") {
            text = rest.find("*/").map_or("", |i| &rest[i + 2..]);
        } else {
            return text;
        }
    }
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

    /// Statements DuckDB cannot prepare are named by their first keyword; reads are not.
    #[test]
    fn leading_keywords() {
        assert_eq!(leading_write_keyword("  /* x */ copy t TO 'f'"), Some("COPY"));
        assert_eq!(leading_write_keyword("-- c\nEXPORT DATABASE 'd'"), Some("EXPORT"));
        assert_eq!(leading_write_keyword("truncate t"), Some("DELETE"));
        assert_eq!(leading_write_keyword("SELECT * FROM nowhere"), None);
        assert_eq!(leading_write_keyword("WITH x AS (SELECT 1) SELECT * FROM y"), None);
        assert_eq!(leading_write_keyword("COPYX"), None);
    }

    /// The EXPLAIN prefix is found through comments and case; options lists are refused.
    #[test]
    fn explain_prefix() {
        assert_eq!(explained_statement("  /* c */ explain -- x\n SELECT 1"), Some("SELECT 1"));
        assert_eq!(explained_statement("EXPLAIN ANALYZE SELECT 1"), Some("SELECT 1"));
        assert_eq!(explained_statement("EXPLAIN (FORMAT json) SELECT 1"), None);
        assert_eq!(explained_statement("EXPLAINX SELECT 1"), None);
    }
}
