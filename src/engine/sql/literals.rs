//! A remote statement's parameters written into its text as typed literals (a Quack
//! server receives text only): values as the text DuckDB casts to a column's type, quoting,
//! and the placeholders (`?`, `?N`, `$N`) found outside literals, quoted names and comments.

use duckdb::types::{TimeUnit, ToSqlOutput, Value};

/// A value as the text DuckDB casts to its column's type (`None` for NULL).
pub(super) fn text_of(output: &ToSqlOutput<'_>) -> duckdb::Result<Option<String>> {
    let value: Value = match output {
        ToSqlOutput::Borrowed(value) => Value::from(*value),
        ToSqlOutput::Owned(value) => value.clone(),
        _ => return Err(duckdb::Error::ToSqlConversionFailure("a value cannot be sent to a remote database".into())),
    };
    Ok(Some(match value {
        Value::Null => return Ok(None),
        Value::Boolean(b) => b.to_string(),
        Value::TinyInt(n) => n.to_string(),
        Value::SmallInt(n) => n.to_string(),
        Value::Int(n) => n.to_string(),
        Value::BigInt(n) => n.to_string(),
        Value::HugeInt(n) => n.to_string(),
        Value::UTinyInt(n) => n.to_string(),
        Value::USmallInt(n) => n.to_string(),
        Value::UInt(n) => n.to_string(),
        Value::UBigInt(n) => n.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Double(f) => format!("{f:?}"),
        Value::Text(text) => text,
        Value::Timestamp(unit, n) => {
            let micros = match unit {
                TimeUnit::Second => n.saturating_mul(1_000_000),
                TimeUnit::Millisecond => n.saturating_mul(1_000),
                TimeUnit::Microsecond => n,
                TimeUnit::Nanosecond => n / 1_000,
            };
            let stamp = chrono::DateTime::from_timestamp_micros(micros).ok_or_else(|| {
                duckdb::Error::ToSqlConversionFailure("a timestamp out of range cannot be sent".into())
            })?;
            stamp.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
        }
        other => {
            return Err(duckdb::Error::ToSqlConversionFailure(
                format!("a {other:?} value cannot be sent to a remote database").into(),
            ));
        }
    }))
}

pub(super) fn quote_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema.table` or `table`, each part quoted.
pub(super) fn quote_table(name: &str) -> String {
    name.split('.').map(quote_ident).collect::<Vec<_>>().join(".")
}

/// A parameter's place in a statement: its byte range and which value it takes.
#[derive(Debug, PartialEq)]
pub(super) struct Placeholder {
    range: std::ops::Range<usize>,
    /// The parameter's position, from 0.
    pub(super) index: usize,
}

/// The `?`, `?N` and `$N` parameters of `sql`, outside string literals, quoted names and comments.
pub(super) fn placeholders(sql: &str) -> Vec<Placeholder> {
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
            b'?' if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                found.push(Placeholder { range: i..i + 1, index: next });
                next += 1;
            }
            b'$' | b'?' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
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
pub(super) fn substitute(sql: &str, literals: &[String]) -> String {
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
        let numbered: Vec<usize> = placeholders("SELECT ?2, ?1, ?12").iter().map(|p| p.index).collect();
        assert_eq!(numbered, vec![1, 0, 11]);
        let literals = vec!["'x'".to_owned(), "7".to_owned()];
        assert_eq!(substitute(sql, &literals), "SELECT '?', \"a?\" , 'x' -- ?\n/* ? */ , 7, 'it''s ?', 'x', 7");
    }
}
