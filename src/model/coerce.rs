//! Coercion of loosely typed entity JSON values into the canonical text form of a column
//! type: ISO dates, UTC timestamps, integers, decimals, booleans, JSON text.
//!
//! The output is the literal DuckDB casts into the column, so the DB layer can bulk-append
//! every value as text. Every function here is total: it returns `Err(reason)` instead of
//! guessing.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use serde_json::Value;

use super::tables::ColumnType;

/// Converts `value` to the text DuckDB casts into a column of type `ty`.
pub fn coerce(value: &Value, ty: ColumnType) -> Result<String, String> {
    match ty {
        ColumnType::Varchar => Ok(text_of(value)),
        ColumnType::Json => Ok(value.to_string()),
        ColumnType::Date => parse_instant(value).map(|(date, _)| format_date(date)),
        ColumnType::Timestamp => parse_instant(value).map(|(_, ts)| format_timestamp(ts)),
        ColumnType::Integer => integer(value).map(|n| n.to_string()),
        ColumnType::Boolean => boolean(value).map(|b| b.to_string()),
        ColumnType::Decimal(precision, scale) => decimal(value, precision, scale),
    }
}

/// The plain text of a value: strings as they are, numbers and booleans printed, objects
/// by their FHIR-ish `text` / `display` / `code` when present, else as JSON.
pub fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(map) => ["text", "display", "code"]
            .iter()
            .find_map(|key| map.get(*key).filter(|v| !is_empty(v)).map(text_of))
            .unwrap_or_else(|| value.to_string()),
        other => other.to_string(),
    }
}

/// `null`, `""` (after trimming) and `[]` count as absent for "first non-empty wins".
pub fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// `YYYY-MM-DD`. (chrono's `Display` prints that without interpreting a format string
/// for every value, which `format("%Y-%m-%d")` does; it is the same text in years 0-9999,
/// outside them both print a sign.)
fn format_date(date: NaiveDate) -> String {
    if (0..=9999).contains(&date.year()) { date.to_string() } else { date.format("%Y-%m-%d").to_string() }
}

/// `YYYY-MM-DD HH:MM:SS` plus `.ffffff` only when the fraction is non-zero.
pub fn format_timestamp(ts: NaiveDateTime) -> String {
    let micros = ts.and_utc().timestamp_subsec_micros();
    let time = ts.time();
    if time.nanosecond() >= 1_000_000_000 {
        // A leap second, which only the format string prints as `:60`.
        return ts.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    }
    let date = format_date(ts.date());
    let hms = format!("{:02}:{:02}:{:02}", time.hour(), time.minute(), time.second());
    if micros == 0 { format!("{date} {hms}") } else { format!("{date} {hms}.{micros:06}") }
}

/// Parses an ISO 8601 date or date-time; offsets are converted to UTC. Returns the UTC
/// date and the UTC timestamp (midnight for plain dates).
fn parse_instant(value: &Value) -> Result<(NaiveDate, NaiveDateTime), String> {
    let Value::String(raw) = value else {
        return Err(format!("expected an ISO 8601 date string, got {value}"));
    };
    let text = raw.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let ts = date.and_hms_opt(0, 0, 0).expect("midnight exists");
        return Ok((date, ts));
    }
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
        let utc = with_offset.with_timezone(&Utc).naive_utc();
        return Ok((utc.date(), utc));
    }
    // Offsets without a colon (`+0500`) and space-separated forms.
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(with_offset) = DateTime::parse_from_str(text, format) {
            let utc = with_offset.with_timezone(&Utc).naive_utc();
            return Ok((utc.date(), utc));
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Ok((naive.date(), naive));
        }
    }
    Err(format!("'{text}' is not an ISO 8601 date or date-time"))
}

fn integer(value: &Value) -> Result<i64, String> {
    let parsed = match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().filter(|f| f.is_finite() && f.fract() == 0.0).map(|f| f as i64))
        }
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    };
    match parsed {
        Some(n) if i32::try_from(n).is_ok() => Ok(n),
        Some(n) => Err(format!("{n} is out of range for INTEGER")),
        None => Err(format!("expected a whole number, got {value}")),
    }
}

fn boolean(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(false),
        Value::Number(n) if n.as_i64() == Some(1) => Ok(true),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "t" | "1" => Ok(true),
            "false" | "no" | "n" | "f" | "0" => Ok(false),
            _ => Err(format!("expected true or false, got {value}")),
        },
        _ => Err(format!("expected true or false, got {value}")),
    }
}

/// A decimal as text rounded to `scale` digits, refusing values that would overflow
/// `DECIMAL(precision, scale)`.
fn decimal(value: &Value, precision: u8, scale: u8) -> Result<String, String> {
    let number = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let s = s.trim();
            let plain = s.strip_prefix(['-', '+']).unwrap_or(s);
            let looks_numeric = !plain.is_empty()
                && plain.chars().all(|c| c.is_ascii_digit() || c == '.')
                && plain.chars().filter(|c| *c == '.').count() <= 1
                && plain.chars().any(|c| c.is_ascii_digit());
            if looks_numeric { s.parse::<f64>().ok() } else { None }
        }
        _ => None,
    };
    let number = number.filter(|n| n.is_finite()).ok_or_else(|| format!("expected a number, got {value}"))?;
    let limit = 10f64.powi(i32::from(precision - scale));
    let text = format!("{number:.prec$}", prec = usize::from(scale));
    if text.trim_start_matches('-').parse::<f64>().unwrap_or(f64::INFINITY) >= limit {
        return Err(format!("{number} does not fit DECIMAL({precision},{scale})"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The hand-written formatting prints what chrono's format strings print, at the edges
    /// of years, fractions and leap seconds.
    #[test]
    fn formatting_matches_chrono_format_strings() {
        let by_format = |ts: NaiveDateTime| {
            if ts.and_utc().timestamp_subsec_micros() == 0 {
                ts.format("%Y-%m-%d %H:%M:%S").to_string()
            } else {
                ts.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
            }
        };
        for year in [-1, 0, 1, 999, 1970, 2024, 9999, 10000] {
            for (h, m, s, nanos) in [
                (0, 0, 0, 0),
                (23, 59, 59, 999_999_999),
                (12, 5, 9, 1_000),
                (1, 2, 3, 999),
                (23, 59, 59, 1_500_000_000),
            ] {
                let date = NaiveDate::from_ymd_opt(year, 2, 28).unwrap();
                let ts = date.and_hms_nano_opt(h, m, s, nanos).unwrap();
                assert_eq!(format_timestamp(ts), by_format(ts), "{ts:?}");
                assert_eq!(format_date(date), date.format("%Y-%m-%d").to_string());
            }
        }
    }

    /// Dates accept plain dates and date-times with offsets, converted to the UTC date.
    #[test]
    fn dates_and_timestamps_are_normalised_to_utc() {
        assert_eq!(coerce(&json!("1980-05-01"), ColumnType::Date).unwrap(), "1980-05-01");
        assert_eq!(coerce(&json!("2024-03-01T23:30:00-05:00"), ColumnType::Date).unwrap(), "2024-03-02");
        assert_eq!(coerce(&json!("2024-03-01T23:30:00-05:00"), ColumnType::Timestamp).unwrap(), "2024-03-02 04:30:00");
        assert_eq!(coerce(&json!("2024-03-01T10:00:00Z"), ColumnType::Timestamp).unwrap(), "2024-03-01 10:00:00");
        assert_eq!(
            coerce(&json!("2024-03-01T10:00:00.250+0100"), ColumnType::Timestamp).unwrap(),
            "2024-03-01 09:00:00.250000"
        );
        assert_eq!(coerce(&json!("2024-03-01 08:15"), ColumnType::Timestamp).unwrap(), "2024-03-01 08:15:00");
        assert_eq!(coerce(&json!("2024-03-01"), ColumnType::Timestamp).unwrap(), "2024-03-01 00:00:00");
        assert!(coerce(&json!("March 1st"), ColumnType::Date).is_err());
        assert!(coerce(&json!(20240301), ColumnType::Date).is_err());
    }

    /// Numbers arrive as numbers or numeric strings; junk and overflow are refused.
    #[test]
    fn numbers_accept_numeric_strings() {
        assert_eq!(coerce(&json!("42"), ColumnType::Integer).unwrap(), "42");
        assert_eq!(coerce(&json!(42.0), ColumnType::Integer).unwrap(), "42");
        assert!(coerce(&json!(4.5), ColumnType::Integer).is_err());
        assert!(coerce(&json!("4000000000"), ColumnType::Integer).is_err());
        assert_eq!(coerce(&json!("125.5"), ColumnType::Decimal(12, 2)).unwrap(), "125.50");
        assert_eq!(coerce(&json!(1.005e2), ColumnType::Decimal(12, 2)).unwrap(), "100.50");
        assert_eq!(coerce(&json!(-3), ColumnType::Decimal(5, 1)).unwrap(), "-3.0");
        assert!(coerce(&json!("1e3"), ColumnType::Decimal(12, 2)).is_err());
        assert!(coerce(&json!(1000.0), ColumnType::Decimal(5, 2)).is_err());
        assert!(coerce(&json!("abc"), ColumnType::Decimal(12, 2)).is_err());
    }

    /// Booleans, JSON columns and text of nested FHIR-ish objects.
    #[test]
    fn other_types() {
        assert_eq!(coerce(&json!("Yes"), ColumnType::Boolean).unwrap(), "true");
        assert_eq!(coerce(&json!(0), ColumnType::Boolean).unwrap(), "false");
        assert!(coerce(&json!("maybe"), ColumnType::Boolean).is_err());
        assert_eq!(coerce(&json!(["E11.9", "I10"]), ColumnType::Json).unwrap(), r#"["E11.9","I10"]"#);
        assert_eq!(coerce(&json!(2134), ColumnType::Varchar).unwrap(), "2134");
        assert_eq!(text_of(&json!({"coding": [], "text": "Chest pain"})), "Chest pain");
    }
}
