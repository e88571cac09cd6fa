//! DuckDB values → JSON, per the value table of `spec/tools.md`: output is always strict
//! JSON (NaN and infinities become strings, wide integers become decimal strings).

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta};
use duckdb::types::{TimeUnit, Value};
use serde_json::{Map, Number, Value as Json};

/// What the column's logical type adds to the value (DuckDB aliases and time zones are
/// not visible in the value itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColumnHint {
    /// JSON-typed column: the text is parsed.
    pub json: bool,
    /// TIMESTAMPTZ column: printed with a `+00` offset.
    pub with_time_zone: bool,
    /// A column of DuckDB's NULL type (`SELECT NULL`): always null. duckdb-rs panics when
    /// asked for such a value, so it is never asked.
    pub always_null: bool,
}

/// Reads cell `i` of `row` as JSON. A type duckdb-rs cannot decode (it panics on some)
/// becomes a marker string instead of taking the worker thread down.
pub fn cell(row: &duckdb::Row<'_>, i: usize, hint: ColumnHint) -> duckdb::Result<Json> {
    if hint.always_null {
        return Ok(Json::Null);
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| row.get::<_, Value>(i))) {
        Ok(value) => Ok(to_json(value?, hint)),
        Err(_) => Ok(Json::String("<value of a type this server cannot decode>".into())),
    }
}

/// Largest integer a JSON number carries exactly (2^53).
const MAX_SAFE: i128 = 1 << 53;

pub fn to_json(value: Value, hint: ColumnHint) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(b),
        Value::TinyInt(n) => n.into(),
        Value::SmallInt(n) => n.into(),
        Value::Int(n) => n.into(),
        Value::BigInt(n) => n.into(),
        Value::UTinyInt(n) => n.into(),
        Value::USmallInt(n) => n.into(),
        Value::UInt(n) => n.into(),
        Value::UBigInt(n) => n.into(),
        Value::HugeInt(n) if (-MAX_SAFE..=MAX_SAFE).contains(&n) => (n as i64).into(),
        Value::HugeInt(n) => Json::String(n.to_string()),
        Value::UHugeInt(n) if n <= MAX_SAFE as u128 => (n as u64).into(),
        Value::UHugeInt(n) => Json::String(n.to_string()),
        Value::Float(f) => float(f64::from(f)),
        Value::Double(f) => float(f),
        Value::Decimal(d) => Json::String(d.to_string()),
        Value::Timestamp(unit, raw) => Json::String(timestamp_text(unit, raw, hint.with_time_zone)),
        Value::Text(text) if hint.json => serde_json::from_str(&text).unwrap_or(Json::String(text)),
        Value::Text(text) | Value::Enum(text) => Json::String(text),
        Value::Blob(bytes) | Value::Geometry(bytes) => Json::String(blob_text(&bytes)),
        Value::Date32(days) => Json::String(date_text(days)),
        Value::Time64(unit, raw) => Json::String(time_text(unit.to_micros(raw))),
        Value::Interval { months, days, nanos } => Json::String(interval_text(months, days, nanos)),
        Value::List(items) | Value::Array(items) => {
            Json::Array(items.into_iter().map(|v| to_json(v, ColumnHint::default())).collect())
        }
        Value::Struct(fields) => {
            Json::Object(fields.iter().map(|(k, v)| (k.clone(), to_json(v.clone(), ColumnHint::default()))).collect())
        }
        Value::Map(entries) => {
            if entries.keys().all(|k| matches!(k, Value::Text(_) | Value::Enum(_))) {
                let mut object = Map::new();
                for (k, v) in entries.iter() {
                    let (Value::Text(key) | Value::Enum(key)) = k else { unreachable!("checked above") };
                    object.insert(key.clone(), to_json(v.clone(), ColumnHint::default()));
                }
                Json::Object(object)
            } else {
                Json::Array(
                    entries
                        .iter()
                        .map(|(k, v)| {
                            let mut pair = Map::new();
                            pair.insert("key".into(), to_json(k.clone(), ColumnHint::default()));
                            pair.insert("value".into(), to_json(v.clone(), ColumnHint::default()));
                            Json::Object(pair)
                        })
                        .collect(),
                )
            }
        }
        Value::Union(inner) => to_json(*inner, hint),
        // A type this version of duckdb-rs added: DuckDB's debug text beats failing the query.
        other => Json::String(format!("{other:?}")),
    }
}

fn float(f: f64) -> Json {
    if f.is_nan() {
        Json::String("NaN".into())
    } else if f.is_infinite() {
        Json::String(if f > 0.0 { "Infinity" } else { "-Infinity" }.into())
    } else {
        Number::from_f64(f).map_or(Json::Null, Json::Number)
    }
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff][+00]`, UTC.
fn timestamp_text(unit: TimeUnit, raw: i64, with_time_zone: bool) -> String {
    let micros = unit.to_micros(raw);
    let text = match DateTime::from_timestamp_micros(micros) {
        Some(ts) => crate::model::coerce::format_timestamp(ts.naive_utc()),
        None => micros.to_string(),
    };
    if with_time_zone { format!("{text}+00") } else { text }
}

fn date_text(days: i32) -> String {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    epoch
        .checked_add_signed(TimeDelta::days(i64::from(days)))
        .map_or_else(|| days.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

fn time_text(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    match NaiveTime::from_num_seconds_from_midnight_opt(secs as u32, 0) {
        Some(t) if frac == 0 => t.format("%H:%M:%S").to_string(),
        Some(t) => format!("{}.{frac:06}", t.format("%H:%M:%S")),
        None => micros.to_string(),
    }
}

/// DuckDB's interval text: `1 year 2 months 3 days 04:05:06.5`.
fn interval_text(months: i32, days: i32, nanos: i64) -> String {
    let mut parts = Vec::new();
    let (years, months) = (months / 12, months % 12);
    let plural = |n: i64, word: &str| format!("{n} {word}{}", if n.abs() == 1 { "" } else { "s" });
    if years != 0 {
        parts.push(plural(i64::from(years), "year"));
    }
    if months != 0 {
        parts.push(plural(i64::from(months), "month"));
    }
    if days != 0 {
        parts.push(plural(i64::from(days), "day"));
    }
    let micros = nanos / 1000;
    if micros != 0 || parts.is_empty() {
        let sign = if micros < 0 { "-" } else { "" };
        let micros = micros.unsigned_abs();
        let (h, m, s, f) =
            (micros / 3_600_000_000, micros / 60_000_000 % 60, micros / 1_000_000 % 60, micros % 1_000_000);
        let mut time = format!("{sign}{h:02}:{m:02}:{s:02}");
        if f != 0 {
            time.push_str(format!(".{f:06}").trim_end_matches('0'));
        }
        parts.push(time);
    }
    parts.join(" ")
}

/// DuckDB's BLOB text: printable ASCII as is, everything else `\xAB`.
fn blob_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'\\' && b != b'\'' && b != b'"' {
            text.push(b as char);
        } else {
            text.push_str(&format!("\\x{b:02X}"));
        }
    }
    text
}

/// The current UTC time as DuckDB TIMESTAMP text (server timestamps are UTC).
pub fn utc_now_text() -> String {
    utc_now().0
}

/// The current UTC time to the microsecond (TIMESTAMP's precision), as TIMESTAMP text for
/// SQL statements and as the typed value, which appenders store without parsing text on
/// every row.
pub fn utc_now() -> (String, Value) {
    let now = chrono::Utc::now().naive_utc();
    let micros = now.and_utc().timestamp_micros();
    (crate::model::coerce::format_timestamp(now), Value::Timestamp(TimeUnit::Microsecond, micros))
}

#[cfg(test)]
mod tests {
    use duckdb::Connection;
    use serde_json::json;

    use super::*;

    fn one(sql: &str, hint: ColumnHint) -> Json {
        let conn = Connection::open_in_memory().unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        let mut rows = stmt.query([]).unwrap();
        let (_, hints) = crate::engine::query::columns_of(rows.as_ref());
        let row = rows.next().unwrap().unwrap();
        let detected = hints[0];
        assert_eq!(detected.json || detected.with_time_zone, hint.json || hint.with_time_zone, "{sql}: hint detected");
        cell(row, 0, detected).unwrap()
    }

    /// Each DuckDB type maps to the JSON form the spec lists.
    #[test]
    fn value_table() {
        let plain = ColumnHint::default();
        assert_eq!(one("SELECT 42::INTEGER", plain), json!(42));
        assert_eq!(
            one("SELECT 170141183460469231731687303715884105727::HUGEINT", plain),
            json!("170141183460469231731687303715884105727")
        );
        assert_eq!(one("SELECT 12::HUGEINT", plain), json!(12));
        assert_eq!(one("SELECT 'NaN'::DOUBLE", plain), json!("NaN"));
        assert_eq!(one("SELECT '-inf'::DOUBLE", plain), json!("-Infinity"));
        assert_eq!(one("SELECT 1.5::DOUBLE", plain), json!(1.5));
        assert_eq!(one("SELECT 1.5::DECIMAL(10,2)", plain), json!("1.50"));
        assert_eq!(one("SELECT DATE '2024-02-29'", plain), json!("2024-02-29"));
        assert_eq!(one("SELECT TIMESTAMP '2024-02-29 10:11:12'", plain), json!("2024-02-29 10:11:12"));
        assert_eq!(one("SELECT TIMESTAMP '2024-02-29 10:11:12.5'", plain), json!("2024-02-29 10:11:12.500000"));
        assert_eq!(one("SELECT TIME '10:11:12'", plain), json!("10:11:12"));
        assert_eq!(one("SELECT INTERVAL 3 DAY", plain), json!("3 days"));
        assert_eq!(one("SELECT INTERVAL '1 year 2 months 4 hours'", plain), json!("1 year 2 months 04:00:00"));
        assert_eq!(one("SELECT true", plain), json!(true));
        assert_eq!(one("SELECT NULL", plain), json!(null));
        assert_eq!(one("SELECT [1, 2]", plain), json!([1, 2]));
        assert_eq!(one("SELECT {'a': 1, 'b': 'x'}", plain), json!({"a": 1, "b": "x"}));
        assert_eq!(one("SELECT MAP {'k': 1}", plain), json!({"k": 1}));
        assert_eq!(one("SELECT MAP {1: 'v'}", plain), json!([{"key": 1, "value": "v"}]));
        assert_eq!(one("SELECT '\\x00AB'::BLOB", plain), json!("\\x00AB"));
        assert_eq!(one("SELECT '{\"a\": [1]}'::JSON", ColumnHint { json: true, ..plain }), json!({"a": [1]}));
        assert_eq!(
            one("SELECT TIMESTAMPTZ '2024-01-01 10:00:00+00'", ColumnHint { with_time_zone: true, ..plain }),
            json!("2024-01-01 10:00:00+00")
        );
    }
}
