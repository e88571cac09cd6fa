//! The summary statistics the summary's picture (the MCP App) draws as charts: patients
//! by age band and gender, encounters per period and type.

use crate::engine::Sql;
use serde_json::{Map, Value, json};

/// Patients by ten-year age band and gender (`female`, `male`, anything else `other`).
pub(super) fn age_pyramid_sql(today: &str) -> String {
    format!(
        "SELECT least(greatest(date_sub('year', birth_date, DATE '{today}'), 0) // 10, 9)::INTEGER,
                CASE WHEN lower(gender) IN ('f', 'female') THEN 0 WHEN lower(gender) IN ('m', 'male') THEN 1 ELSE 2 END,
                count(*)
         FROM patients WHERE scenario_id = ? AND birth_date IS NOT NULL GROUP BY ALL"
    )
}

/// `{"bands": ["0-9", ...], "female": [...], "male": [...], "other": [...]}` up to the
/// oldest band with patients (`other` only when some patients have another gender).
pub(super) fn age_pyramid(conn: &Sql<'_>, sql: &str, scenario_id: &str) -> anyhow::Result<Value> {
    let mut counts = [[0i64; 10]; 3];
    let mut stmt = conn.prepare(sql)?;
    let rows =
        stmt.query_map([scenario_id], |r| Ok((r.get::<_, i32>(0)?, r.get::<_, i32>(1)?, r.get::<_, i64>(2)?)))?;
    let mut oldest = 0;
    for row in rows {
        let (band, gender, n) = row?;
        let band = band.clamp(0, 9) as usize;
        counts[gender.clamp(0, 2) as usize][band] += n;
        oldest = oldest.max(band);
    }
    let bands: Vec<String> =
        (0..=oldest).map(|b| if b == 9 { "90+".to_owned() } else { format!("{}-{}", b * 10, b * 10 + 9) }).collect();
    let mut pyramid = Map::new();
    pyramid.insert("bands".into(), json!(bands));
    for (i, name) in ["female", "male", "other"].iter().enumerate() {
        if i < 2 || counts[i].iter().any(|&n| n > 0) {
            pyramid.insert((*name).into(), json!(counts[i][..=oldest]));
        }
    }
    Ok(Value::Object(pyramid))
}

/// The period of an encounter timeline: months for up to two years, then quarters, then years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimeUnit {
    Month,
    Quarter,
    Year,
}

/// Most periods a timeline shows (the latest ones).
const TIMELINE_PERIODS: usize = 24;

impl TimeUnit {
    pub(super) fn spanning(first: &str, last: &str) -> TimeUnit {
        let months = |date: &str| -> i64 {
            let year: i64 = date.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0);
            let month: i64 = date.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1);
            year * 12 + month - 1
        };
        let span = (months(last) - months(first)).max(0) as usize + 1;
        if span <= TIMELINE_PERIODS {
            TimeUnit::Month
        } else if span.div_ceil(3) <= TIMELINE_PERIODS {
            TimeUnit::Quarter
        } else {
            TimeUnit::Year
        }
    }

    fn name(self) -> &'static str {
        match self {
            TimeUnit::Month => "month",
            TimeUnit::Quarter => "quarter",
            TimeUnit::Year => "year",
        }
    }

    /// The period label of a `YYYY-MM...` date.
    fn label(self, date: &str) -> String {
        let year = date.get(..4).unwrap_or("0000");
        let month: u32 = date.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1);
        match self {
            TimeUnit::Month => format!("{year}-{month:02}"),
            TimeUnit::Quarter => format!("{year}-Q{}", (month - 1) / 3 + 1),
            TimeUnit::Year => year.to_owned(),
        }
    }

    /// Every period label from the one of `first` to the one of `last`.
    fn periods(self, first: &str, last: &str) -> Vec<String> {
        let parse = |date: &str| -> (i32, u32) {
            (
                date.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0),
                date.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1),
            )
        };
        let step = match self {
            TimeUnit::Month => 1,
            TimeUnit::Quarter => 3,
            TimeUnit::Year => 12,
        };
        let (mut year, mut month) = parse(first);
        let end = self.label(last);
        let mut labels = Vec::new();
        loop {
            let label = self.label(&format!("{year:04}-{month:02}"));
            if labels.last() != Some(&label) {
                labels.push(label.clone());
            }
            if label >= end || labels.len() > 2000 {
                break;
            }
            month += step;
            while month > 12 {
                month -= 12;
                year += 1;
            }
        }
        labels
    }

    pub(super) fn timeline_sql(self) -> String {
        let period = match self {
            TimeUnit::Month => "strftime(admission_time, '%Y-%m')",
            TimeUnit::Quarter => "strftime(admission_time, '%Y') || '-Q' || quarter(admission_time)",
            TimeUnit::Year => "strftime(admission_time, '%Y')",
        };
        format!(
            "SELECT {period}, coalesce(class_code, 'unknown'), count(*) FROM encounters
             WHERE scenario_id = ? AND admission_time IS NOT NULL GROUP BY ALL"
        )
    }
}

/// Encounters per period and type: `{"unit": "month", "periods": [...], "counts": {type:
/// [per period]}}`, the five most frequent types and `other`, the latest periods only.
pub(super) fn encounter_timeline(
    conn: &Sql<'_>,
    sql: &str,
    scenario_id: &str,
    unit: TimeUnit,
    first: &str,
    last: &str,
) -> anyhow::Result<Value> {
    let mut stmt = conn.prepare(sql)?;
    let rows: Vec<(String, String, i64)> =
        stmt.query_map([scenario_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
    let mut totals: std::collections::BTreeMap<&str, i64> = Default::default();
    for (_, kind, n) in &rows {
        *totals.entry(kind.as_str()).or_default() += n;
    }
    let mut ranked: Vec<(&str, i64)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut kinds: Vec<&str> = ranked.iter().take(5).map(|(k, _)| *k).collect();
    if ranked.len() > 5 {
        kinds.push("other");
    }
    let mut periods = unit.periods(first, last);
    if periods.len() > TIMELINE_PERIODS {
        periods.drain(..periods.len() - TIMELINE_PERIODS);
    }
    let mut counts: Vec<Vec<i64>> = vec![vec![0; periods.len()]; kinds.len()];
    for (period, kind, n) in &rows {
        let Some(p) = periods.iter().position(|x| x == period) else { continue };
        let k = kinds.iter().position(|x| x == kind).unwrap_or(kinds.len() - 1);
        counts[k][p] += n;
    }
    let counts: Map<String, Value> = kinds.iter().zip(counts).map(|(k, c)| ((*k).to_owned(), json!(c))).collect();
    Ok(json!({"unit": unit.name(), "periods": periods, "counts": counts}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_periods_fit_the_span() {
        assert_eq!(TimeUnit::spanning("2023-12-01", "2024-03-20"), TimeUnit::Month);
        assert_eq!(TimeUnit::Month.periods("2023-12-01", "2024-03-20"), ["2023-12", "2024-01", "2024-02", "2024-03"]);
        assert_eq!(TimeUnit::spanning("2019-01-01", "2024-12-31"), TimeUnit::Quarter);
        let quarters = TimeUnit::Quarter.periods("2019-02-10", "2024-12-31");
        assert_eq!((quarters.first().unwrap().as_str(), quarters.len()), ("2019-Q1", 24));
        assert_eq!(TimeUnit::spanning("1990-05-01", "2024-01-01"), TimeUnit::Year);
        assert_eq!(TimeUnit::Year.periods("1990-05-01", "2024-01-01").len(), 35);
        assert_eq!(TimeUnit::Month.periods("2024-05-01", "2024-05-30"), ["2024-05"]);
    }

    #[test]
    fn pyramid_and_timeline_from_rows() {
        let raw = duckdb::Connection::open_in_memory().unwrap();
        let conn = Sql::local(&raw);
        conn.execute_batch(
            "CREATE TABLE patients (scenario_id VARCHAR, birth_date DATE, gender VARCHAR);
             INSERT INTO patients VALUES ('s', DATE '2000-06-01', 'F'), ('s', DATE '1950-01-01', 'male'),
                 ('s', DATE '1951-01-01', 'female'), ('s', DATE '1920-01-01', 'unknown'), ('t', DATE '2000-01-01', 'M');
             CREATE TABLE encounters (scenario_id VARCHAR, admission_time TIMESTAMP, class_code VARCHAR);
             INSERT INTO encounters SELECT 's', TIMESTAMP '2024-01-15' + INTERVAL (i * 20) DAY,
                 ['A', 'B', 'C', 'D', 'E', 'F', 'G'][1 + i % 7] FROM range(30) r(i);",
        )
        .unwrap();
        let pyramid = age_pyramid(&conn, &age_pyramid_sql("2025-01-01"), "s").unwrap();
        assert_eq!(pyramid["bands"].as_array().unwrap().len(), 10);
        assert_eq!(pyramid["bands"][9], "90+");
        assert_eq!(pyramid["female"][2], 1);
        assert_eq!(pyramid["female"][7], 1);
        assert_eq!(pyramid["male"][7], 1);
        assert_eq!(pyramid["other"][9], 1);
        let unit = TimeUnit::spanning("2024-01-15", "2025-08-04");
        let timeline = encounter_timeline(&conn, &unit.timeline_sql(), "s", unit, "2024-01-15", "2025-08-04").unwrap();
        assert_eq!(timeline["unit"], "month");
        assert_eq!(timeline["periods"].as_array().unwrap().len(), 20);
        let counts = timeline["counts"].as_object().unwrap();
        assert_eq!(counts.len(), 6, "five types and other: {counts:?}");
        let total: i64 = counts.values().flat_map(|v| v.as_array().unwrap()).map(|n| n.as_i64().unwrap()).sum();
        assert_eq!(total, 30);
    }
}
