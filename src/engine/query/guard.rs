//! What user SQL may run: exactly one read statement as the user wrote it, classified by
//! DuckDB's own parser and binder before anything executes. A statement DuckDB expands
//! into several (a PIVOT without an `IN` list first creates a temporary enum of the
//! pivoted values) is still one statement: the text holds one, DuckDB's expansion is
//! temporary types followed by the read, and it runs on the hardened read instance.

use serde_json::Value;

use super::QueryError;
use crate::engine::native::{InstanceConnection, StatementKind};

/// Refuses anything but exactly one SELECT (or EXPLAIN of one) before it runs.
pub(super) fn check_read_only(conn: &InstanceConnection, sql: &str) -> Result<(), QueryError> {
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
        [expansion @ .., last] if is_expanded_read(sql, expansion, *last) => Ok(()),
        many => Err(QueryError::Refused(format!("{} statements in one call are not allowed", many.len()))),
    }
}

/// Whether DuckDB expanded one read statement into several: the text holds a single
/// statement that starts as a read, and the expansion is CREATE statements (temporary
/// enum types) before a last statement that is the read (it may bind only once they
/// exist).
fn is_expanded_read(sql: &str, expansion: &[StatementKind], last: StatementKind) -> bool {
    const READS: [&str; 7] = ["SELECT", "WITH", "FROM", "PIVOT", "PIVOT_WIDER", "UNPIVOT", "PIVOT_LONGER"];
    let rest = skip_space_and_comments(sql);
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphabetic() || *c == '_').collect();
    !expansion.is_empty()
        && expansion.iter().all(|kind| *kind == StatementKind::Other("CREATE"))
        && matches!(last, StatementKind::Select | StatementKind::Unbound)
        && (READS.contains(&word.to_ascii_uppercase().as_str()) || rest.starts_with('('))
        && statements_written(sql) == 1
}

/// How many statements the text holds as written: non-empty pieces between semicolons
/// outside quotes ('', "", $$ and $tag$ strings) and comments.
fn statements_written(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let (mut count, mut piece_has_code, mut i) = (0, false, 0);
    while i < bytes.len() {
        match bytes[i] {
            b';' => {
                count += usize::from(piece_has_code);
                piece_has_code = false;
                i += 1;
                continue;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..].find("*/").map_or(bytes.len(), |n| i + 2 + n + 2);
                continue;
            }
            quote @ (b'\'' | b'"') => {
                // A doubled quote inside is an escaped one: scanning on finds it again.
                i = sql[i + 1..].find(quote as char).map_or(bytes.len(), |n| i + 1 + n + 1);
            }
            b'$' => {
                let tag_end = sql[i + 1..]
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map(|n| i + 1 + n)
                    .filter(|end| bytes[*end] == b'$');
                if let Some(end) = tag_end {
                    let tag = &sql[i..=end];
                    i = sql[end + 1..].find(tag).map_or(bytes.len(), |n| end + 1 + n + tag.len());
                } else {
                    i += 1;
                }
            }
            b if b.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            _ => i += 1,
        }
        piece_has_code = true;
    }
    count + usize::from(piece_has_code)
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Statements are counted as written: semicolons in strings and comments do not count.
    #[test]
    fn statements_as_written() {
        assert_eq!(statements_written("PIVOT t ON c USING sum(n)"), 1);
        assert_eq!(statements_written("  SELECT 1 ; ; -- two? no\n"), 1);
        assert_eq!(statements_written("SELECT ';', \"a;b\", 'it''s;' /* ; */ FROM t -- ;\n"), 1);
        assert_eq!(statements_written("SELECT $$a;b$$, $x$ ; $x$"), 1);
        assert_eq!(statements_written("CREATE TYPE e AS ENUM ('a'); SELECT 1"), 2);
        assert_eq!(statements_written("SELECT 1; SELECT 2"), 2);
        assert_eq!(statements_written("-- only a comment"), 0);
        assert_eq!(statements_written("SELECT 'unterminated; SELECT 2"), 1);
    }

    /// Only one written read whose expansion is temporary types before the read passes.
    #[test]
    fn expanded_reads() {
        let create = StatementKind::Other("CREATE");
        let pivot = "PIVOT t ON c USING sum(n)";
        assert!(is_expanded_read(pivot, &[create], StatementKind::Unbound));
        assert!(is_expanded_read(
            "WITH x AS (PIVOT t ON c USING sum(n)) FROM x",
            &[create, create],
            StatementKind::Select
        ));
        assert!(!is_expanded_read("CREATE TYPE e AS ENUM ('a'); SELECT 1", &[create], StatementKind::Select));
        assert!(!is_expanded_read("SELECT 1; CREATE TABLE x (a INT)", &[create], StatementKind::Select));
        assert!(!is_expanded_read(pivot, &[StatementKind::Other("INSERT")], StatementKind::Select));
        assert!(!is_expanded_read(pivot, &[create], StatementKind::Other("DELETE")));
        assert!(!is_expanded_read(pivot, &[], StatementKind::Select));
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
