//! `healthsim_get_summary`: counts, statistics computed from the canonical tables of one
//! scenario, and evenly spread sample rows.

use crate::engine::Sql;
use anyhow::Context;
use serde_json::{Map, Value, json};

mod charts;

use charts::{TimeUnit, age_pyramid, age_pyramid_sql, encounter_timeline};

use super::Summary;
use super::layout::Layout;
use super::scenarios::{self, Resolution, ScenarioRow};
use super::schema::quote;
use crate::engine::values::{ColumnHint, cell, to_json};
use crate::model::{TableSpec, canonical_tables, canonical_type_name};

/// Sample text values longer than this are shortened, so one clinical note cannot blow
/// the summary's size budget.
const SAMPLE_TEXT_CHARS: usize = 200;

/// The summary's size budget (spec: under 10,000 characters for any scenario).
const SUMMARY_BUDGET_CHARS: usize = 6_500;

/// The summary of the scenario `input` names (get_summary's resolution rules), with
/// samples given out only while the printed document fits the size budget. Public so
/// the benchmark can run the same statements on a bare connection.
pub fn summarize(
    conn: &Sql<'_>,
    layout: &Layout,
    input: &str,
    include_samples: bool,
    per_type: usize,
) -> anyhow::Result<Option<Summary>> {
    let mode = if crate::model::is_uuid_shaped(input) { Resolution::IdOnly } else { Resolution::WithSubstring };
    let Some(scenario) = scenarios::resolve(conn, layout, input, mode)? else { return Ok(None) };
    let entity_counts = entity_counts(conn, layout, &scenario)?;
    let statistics = statistics(conn, layout, &scenario.scenario_id)?;
    let mut tags = scenarios::tags(conn, layout, &scenario.scenario_id)?;
    tags.sort();
    // Measure the document as the tool will print it (same keys and nesting), and
    // give out sample rows only while it fits the budget.
    let size = |samples: &Map<String, Value>| {
        let document = serde_json::json!({
            "scenario_id": scenario.scenario_id, "name": scenario.name,
            "description": scenario.description, "created_at": scenario.created_at,
            "updated_at": scenario.updated_at, "entity_counts": entity_counts,
            "statistics": statistics, "samples": samples, "tags": tags,
        });
        serde_json::to_string(&document).map_or(usize::MAX, |t| t.chars().count())
    };
    let samples = if include_samples {
        samples(conn, layout, &scenario.scenario_id, per_type, |samples| size(samples) <= SUMMARY_BUDGET_CHARS)?
    } else {
        Map::new()
    };
    Ok(Some(Summary { scenario, entity_counts, statistics, samples, tags }))
}

/// Statistics of one scenario: `{name: value}` in a fixed order; keys only where data exists.
pub fn statistics(conn: &Sql<'_>, layout: &Layout, scenario_id: &str) -> anyhow::Result<Map<String, Value>> {
    let mut stats = Map::new();
    // Each statistic reads one table; a file of the tooling's layouts may lack it (or a
    // column), and then the statistic is left out. Its rows belong to the scenario by the
    // layout's owner column.
    let owned =
        |sql: &str| sql.replace("WHERE scenario_id = ?", &format!("WHERE {} = ?", quote(layout.canonical_owner)));
    let has = |sql: &str, table: &str, columns: &[&str]| layout.has(table, columns).then(|| owned(sql));
    let one_row = |sql: Option<String>| -> anyhow::Result<Vec<Value>> {
        let Some(sql) = sql else { return Ok(vec![Value::Null; 8]) };
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([scenario_id])?;
        // (The width is known once the statement ran.)
        let width = rows.as_ref().map_or(0, |executed| executed.column_count());
        let row = rows.next()?.context("aggregate returned no row")?;
        (0..width).map(|i| Ok(to_json(row.get::<_, duckdb::types::Value>(i)?, ColumnHint::default()))).collect()
    };
    let counts = |sql: Option<String>| -> anyhow::Result<Map<String, Value>> {
        let Some(sql) = sql else { return Ok(Map::new()) };
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([scenario_id], |r| {
            Ok((r.get::<_, Option<String>>(0)?.unwrap_or_else(|| "unknown".into()), r.get::<_, i64>(1)?))
        })?;
        rows.map(|r| r.map(|(k, n)| (k, Value::from(n)))).collect::<Result<_, _>>().context("cannot count values")
    };

    // Patients: whole years at today's UTC date. (DuckDB's current_date needs the ICU
    // extension, which is not built in, so the date comes from here.)
    let today = chrono::Utc::now().date_naive().format("%Y-%m-%d");
    let ages = one_row(has(
        &format!(
            "SELECT min(age), max(age), round(avg(age), 1), count(*) FROM (
             SELECT date_sub('year', birth_date, DATE '{today}') AS age FROM patients WHERE scenario_id = ?)"
        ),
        "patients",
        &["birth_date", "gender"],
    ))?;
    if ages[3].as_i64().unwrap_or(0) > 0 {
        stats.insert("age_range".into(), json!({"min": ages[0], "max": ages[1], "avg": ages[2]}));
        stats.insert(
            "gender_distribution".into(),
            Value::Object(counts(has(
                "SELECT gender, count(*) AS n FROM patients WHERE scenario_id = ? GROUP BY gender ORDER BY n DESC, gender",
                "patients",
                &["gender"],
            ))?),
        );
        if let Some(sql) = has(&age_pyramid_sql(&today.to_string()), "patients", &["birth_date", "gender"]) {
            stats.insert("age_pyramid".into(), age_pyramid(conn, &sql, scenario_id)?);
        }
    }
    // Encounters.
    let dates = one_row(has(
        "SELECT strftime(min(admission_time), '%Y-%m-%d'), strftime(max(admission_time), '%Y-%m-%d'), count(*)
         FROM encounters WHERE scenario_id = ?",
        "encounters",
        &["admission_time", "class_code"],
    ))?;
    if dates[2].as_i64().unwrap_or(0) > 0 {
        stats.insert("date_range".into(), json!({"min": dates[0], "max": dates[1]}));
        stats.insert(
            "encounter_types".into(),
            Value::Object(counts(has(
                "SELECT class_code, count(*) AS n FROM encounters WHERE scenario_id = ?
                 GROUP BY class_code ORDER BY n DESC, class_code LIMIT 5",
                "encounters",
                &["class_code"],
            ))?),
        );
        if let (Some(first), Some(last)) = (dates[0].as_str(), dates[1].as_str()) {
            let unit = TimeUnit::spanning(first, last);
            if let Some(sql) = has(&unit.timeline_sql(), "encounters", &["admission_time", "class_code"]) {
                stats.insert(
                    "encounter_timeline".into(),
                    encounter_timeline(conn, &sql, scenario_id, unit, first, last)?,
                );
            }
        }
    }
    // Claims: money as numbers rounded to cents.
    let money = one_row(has(
        "SELECT round(coalesce(sum(total_charge), 0), 2)::DOUBLE, round(coalesce(sum(total_paid), 0), 2)::DOUBLE,
                round(coalesce(sum(member_responsibility), 0), 2)::DOUBLE, round(coalesce(avg(total_charge), 0), 2)::DOUBLE,
                count(*)
         FROM claims WHERE scenario_id = ?",
        "claims",
        &["total_charge", "total_paid", "member_responsibility", "claim_type"],
    ))?;
    if money[4].as_i64().unwrap_or(0) > 0 {
        stats.insert(
            "financials".into(),
            json!({"total_billed": money[0], "total_paid": money[1], "total_member_responsibility": money[2], "avg_charge": money[3]}),
        );
        stats.insert(
            "claim_types".into(),
            Value::Object(counts(has(
                "SELECT claim_type, count(*) AS n FROM claims WHERE scenario_id = ? GROUP BY claim_type ORDER BY n DESC, claim_type",
                "claims",
                &["claim_type"],
            ))?),
        );
    }
    // Diagnoses.
    let top: Vec<Value> = match has(
        "SELECT code, any_value(description ORDER BY description NULLS LAST), count(*) AS n FROM diagnoses
         WHERE scenario_id = ? GROUP BY code ORDER BY n DESC, code LIMIT 5",
        "diagnoses",
        &["code", "description"],
    ) {
        Some(sql) => conn
            .prepare(&sql)?
            .query_map([scenario_id], |r| {
                Ok(json!({"code": r.get::<_, String>(0)?, "description": r.get::<_, Option<String>>(1)?, "count": r.get::<_, i64>(2)?}))
            })?
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    if !top.is_empty() {
        stats.insert("top_diagnoses".into(), Value::Array(top));
    }
    // Members: plan mix and relationship mix.
    let plans = counts(has(
        "SELECT plan_code, count(*) AS n FROM members WHERE scenario_id = ? GROUP BY plan_code ORDER BY n DESC, plan_code LIMIT 10",
        "members",
        &["plan_code"],
    ))?;
    if !plans.is_empty() {
        stats.insert("plan_distribution".into(), Value::Object(plans));
        stats.insert(
            "relationship_distribution".into(),
            Value::Object(counts(has(
                "SELECT relationship_code, count(*) AS n FROM members WHERE scenario_id = ?
                 GROUP BY relationship_code ORDER BY n DESC, relationship_code",
                "members",
                &["relationship_code"],
            ))?),
        );
    }
    // Prescriptions: most prescribed drugs.
    let drugs = counts(has(
        "SELECT drug_name, count(*) AS n FROM prescriptions WHERE scenario_id = ? GROUP BY drug_name ORDER BY n DESC, drug_name LIMIT 5",
        "prescriptions",
        &["drug_name"],
    ))?;
    if !drugs.is_empty() {
        stats.insert("top_drugs".into(), Value::Object(drugs));
    }
    // Pharmacy claims: money and supply.
    let pharmacy = one_row(has(
        "SELECT round(coalesce(sum(gross_amount_due), 0), 2)::DOUBLE, round(coalesce(sum(patient_pay_amount), 0), 2)::DOUBLE,
                round(coalesce(avg(days_supply), 0), 1)::DOUBLE, count(*)
         FROM pharmacy_claims WHERE scenario_id = ?",
        "pharmacy_claims",
        &["gross_amount_due", "patient_pay_amount", "days_supply"],
    ))?;
    if pharmacy[3].as_i64().unwrap_or(0) > 0 {
        stats.insert(
            "pharmacy_financials".into(),
            json!({"total_gross_amount_due": pharmacy[0], "total_patient_pay": pharmacy[1], "avg_days_supply": pharmacy[2]}),
        );
    }
    // Trial subjects: arms and status.
    let arms = counts(has(
        "SELECT treatment_arm, count(*) AS n FROM subjects WHERE scenario_id = ? GROUP BY treatment_arm ORDER BY n DESC, treatment_arm",
        "subjects",
        &["treatment_arm", "status"],
    ))?;
    if !arms.is_empty() {
        stats.insert("study_arms".into(), Value::Object(arms));
        stats.insert(
            "subject_status".into(),
            Value::Object(counts(has(
                "SELECT status, count(*) AS n FROM subjects WHERE scenario_id = ? GROUP BY status ORDER BY n DESC, status",
                "subjects",
                &["status"],
            ))?),
        );
    }
    let events = counts(has(
        "SELECT aeterm, count(*) AS n FROM adverse_events WHERE scenario_id = ? GROUP BY aeterm ORDER BY n DESC, aeterm LIMIT 5",
        "adverse_events",
        &["aeterm"],
    ))?;
    if !events.is_empty() {
        stats.insert("top_adverse_events".into(), Value::Object(events));
    }
    Ok(stats)
}

/// The canonical tables holding rows of the scenario, with their row counts.
fn tables_with_rows(
    conn: &Sql<'_>,
    layout: &Layout,
    scenario_id: &str,
) -> anyhow::Result<Vec<(&'static TableSpec, i64)>> {
    // One statement for every table the file has; `$1` is the scenario in every branch.
    let sql = canonical_tables()
        .iter()
        .enumerate()
        .filter(|(_, spec)| layout.has(spec.name, &[]))
        .map(|(i, spec)| {
            format!(
                "SELECT {i} AS t, count(*) AS n FROM {} WHERE {} = $1",
                quote(spec.name),
                quote(layout.canonical_owner)
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    if sql.is_empty() {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare(&format!("SELECT t, n FROM ({sql}) WHERE n > 0 ORDER BY t"))?;
    let rows = stmt.query_map([scenario_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
    let tables = canonical_tables();
    rows.map(|row| row.map(|(t, n)| (&tables[t as usize], n)))
        .collect::<Result<_, _>>()
        .context("cannot count sample rows")
}

/// Positions (in insertion order) of `k` rows spread evenly over `n`: `floor(i*n/k)`.
fn spread(n: i64, k: usize) -> Vec<i64> {
    let k = (k as i64).min(n);
    (0..k).map(|i| i * n / k).collect()
}

/// The rows of one canonical table of the scenario at `positions` (insertion order),
/// without `scenario_id`, `created_at` and `generation_seed`, long texts shortened.
fn rows_at(
    conn: &Sql<'_>,
    layout: &Layout,
    scenario_id: &str,
    spec: &TableSpec,
    positions: &[i64],
) -> anyhow::Result<std::collections::BTreeMap<i64, Value>> {
    // Positions are found on the row ids alone; only the picked rows are read in full.
    // Bookkeeping columns are left out: the owner (both, in a file the tooling upgraded
    // from scenarios to cohorts), the save time and the seed.
    let shape = &layout.canonical[spec.name];
    let excluded: Vec<String> = ["scenario_id", "cohort_id", "created_at", "generation_seed"]
        .iter()
        .filter(|c| shape.columns.contains_key(**c))
        .map(|c| quote(c))
        .collect();
    let exclude = if excluded.is_empty() { String::new() } else { format!(" EXCLUDE ({})", excluded.join(", ")) };
    let sql = format!(
        "SELECT t.*{exclude}, p.healthsim_rn FROM {table} t
         JOIN (SELECT rowid AS healthsim_row, row_number() OVER (ORDER BY rowid) - 1 AS healthsim_rn
               FROM {table} WHERE {owner} = $1 QUALIFY list_contains(CAST($2 AS BIGINT[]), healthsim_rn)) p
           ON t.rowid = p.healthsim_row
         ORDER BY p.healthsim_rn",
        table = quote(spec.name),
        owner = quote(layout.canonical_owner),
    );
    // Bound as list text: duckdb-rs 1.5 cannot bind LIST parameters.
    let positions = format!("[{}]", positions.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(duckdb::params![scenario_id, positions])?;
    let (names, hints) = crate::engine::query::columns_of(rows.as_ref());
    let mut out = std::collections::BTreeMap::new();
    while let Some(row) = rows.next()? {
        let mut object = Map::new();
        let mut position = 0;
        for (i, name) in names.iter().enumerate() {
            if name == "healthsim_rn" {
                position = row.get::<_, i64>(i)?;
                continue;
            }
            object.insert(name.clone(), shorten(cell(row, i, hints[i])?));
        }
        out.insert(position, Value::Object(object));
    }
    Ok(out)
}

/// Samples for the summary: up to `per_type` rows per table, spread evenly over the
/// table's rows of the scenario, handed out round-robin (one row for every table, then
/// two for every table, ...) while `fits` accepts the result, so a tight budget still
/// shows every table before it shows more of any. One query per table fetches every row
/// any level could need.
pub fn samples(
    conn: &Sql<'_>,
    layout: &Layout,
    scenario_id: &str,
    per_type: usize,
    fits: impl Fn(&Map<String, Value>) -> bool,
) -> anyhow::Result<Map<String, Value>> {
    let tables = tables_with_rows(conn, layout, scenario_id)?;
    let mut candidates = Vec::with_capacity(tables.len());
    for (spec, n) in &tables {
        let mut positions: Vec<i64> = (1..=per_type).flat_map(|k| spread(*n, k)).collect();
        positions.sort_unstable();
        positions.dedup();
        candidates.push(rows_at(conn, layout, scenario_id, spec, &positions)?);
    }
    let assemble = |levels: &[usize]| -> Map<String, Value> {
        tables
            .iter()
            .zip(levels)
            .zip(&candidates)
            .filter(|((_, level), _)| **level > 0)
            .map(|(((spec, n), level), rows)| {
                let picked = spread(*n, *level).iter().filter_map(|p| rows.get(p).cloned()).collect();
                (spec.name.to_owned(), Value::Array(picked))
            })
            .collect()
    };
    let mut levels = vec![0usize; tables.len()];
    'levels: for level in 1..=per_type {
        let mut grew = false;
        for (index, (_, n)) in tables.iter().enumerate() {
            if level as i64 > *n {
                continue;
            }
            levels[index] = level;
            if !fits(&assemble(&levels)) {
                levels[index] = level - 1;
                break 'levels;
            }
            grew = true;
        }
        if !grew {
            break;
        }
    }
    Ok(assemble(&levels))
}

fn shorten(value: Value) -> Value {
    match value {
        Value::String(s) if s.chars().count() > SAMPLE_TEXT_CHARS => {
            Value::String(format!("{}…", s.chars().take(SAMPLE_TEXT_CHARS).collect::<String>()))
        }
        other => other,
    }
}

/// `{canonical plural or key as saved: count}` with singular keys folded into plurals.
pub fn entity_counts(conn: &Sql<'_>, layout: &Layout, scenario: &ScenarioRow) -> anyhow::Result<Map<String, Value>> {
    let mut counts = Map::new();
    for (key, n) in scenarios::entity_counts(conn, layout, &scenario.scenario_id)? {
        let name = canonical_type_name(&key);
        let total = counts.get(&name).and_then(Value::as_u64).unwrap_or(0) + n;
        if total > 0 {
            counts.insert(name, Value::from(total));
        }
    }
    Ok(cap_types(counts))
}

/// Entity types a summary lists by name; the rest are counted together, so a scenario of
/// thousands of types (written by another program) still fits the summary's budget.
const SUMMARY_TYPES: usize = 50;

/// The `SUMMARY_TYPES` largest counts (ties by name), then one entry for the others.
fn cap_types(counts: Map<String, Value>) -> Map<String, Value> {
    if counts.len() <= SUMMARY_TYPES {
        return counts;
    }
    let mut sorted: Vec<(String, u64)> = counts.into_iter().map(|(k, v)| (k, v.as_u64().unwrap_or(0))).collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rest: Vec<(String, u64)> = sorted.split_off(SUMMARY_TYPES);
    let mut capped: Map<String, Value> = sorted.into_iter().map(|(k, n)| (k, Value::from(n))).collect();
    let others: u64 = rest.iter().map(|(_, n)| n).sum();
    capped.insert(format!("({} other types)", rest.len()), Value::from(others));
    capped
}
