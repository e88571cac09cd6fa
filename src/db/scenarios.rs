//! SQL of the scenario aggregate: list, load and name-or-id resolution here, save and
//! delete in `scenarios/write.rs`. Functions take a `Connection` and the file's
//! [`Layout`] (whose statements name the scenario tables as that file has them), and run
//! inside whatever the caller set up (the write dispatcher's transaction for save and
//! delete, a pooled read connection otherwise).

mod executions;
mod write;

pub use write::{add, delete, finish_deletions, save};

use std::collections::BTreeMap;

use anyhow::Context;
use duckdb::params;

use crate::engine::Sql;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::layout::Layout;
use crate::model::SavePlan;

/// A scenario row, as resolution finds it.
#[derive(Debug, Clone)]
pub struct ScenarioRow {
    pub scenario_id: String,
    pub name: String,
    pub description: Option<String>,
    /// ISO 8601 (`2025-12-29T18:29:48.123456`).
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub metadata: Value,
}

/// Progress callback of a long save: rows written so far (of the plan's entities plus
/// canonical rows) and a short message.
pub type Progress = Box<dyn Fn(u64, &str) + Send>;

/// What a save writes besides the entities.
pub struct SaveRequest {
    pub name: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub overwrite: bool,
    pub plan: SavePlan,
    /// Called about every 10% of rows written, when the client asked for progress.
    pub progress: Option<Progress>,
    /// Further parts of the same scenario, written after `plan` in the same transaction
    /// until it answers `None` (a generated cohort, chunk by chunk: its memory stays that of
    /// one chunk). Local files only: a write on a server may run twice.
    pub more: Option<More>,
    /// A generated cohort's profile run, recorded in `profile_executions` where the layout
    /// has that table (the tooling's 1.6 and 1.7 layouts).
    pub execution: Option<Execution>,
}

/// What `profile_executions` records of a generated cohort.
pub struct Execution {
    pub profile_id: String,
    pub profile_name: String,
    /// The profile as given (JSON text).
    pub spec: String,
    pub products: String,
    pub seed: u64,
    pub started: std::time::Instant,
}

/// The next part of a scenario saved in parts (see [`SaveRequest::more`]).
/// An error rolls the whole save back (a cancelled generation).
pub type More = Box<dyn FnMut() -> anyhow::Result<Option<crate::model::SavePlan>> + Send>;

/// Outcome of a save; `NameTaken` is the error the tool reports.
#[derive(Debug)]
pub enum SaveOutcome {
    /// `warnings`: rows this file's layout could not hold (kept only as JSON), why, and how
    /// to convert; `skipped`: those rows per canonical table.
    Saved {
        scenario_id: String,
        warnings: Vec<String>,
        skipped: BTreeMap<&'static str, usize>,
        /// The time written (as text), by which a failed commit is checked.
        updated_at: String,
    },
    NameTaken,
}

/// Which scenario `healthsim_add_entities` adds to.
#[derive(Debug, Clone)]
pub enum AddTarget {
    /// An existing scenario by id (an error when there is none).
    Id(String),
    /// By name: the existing one, or a new one of that name.
    Name(String),
    /// A new scenario named after the time.
    Auto,
}

/// What `healthsim_add_entities` writes.
pub struct AddRequest {
    pub target: AddTarget,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub plan: SavePlan,
    pub progress: Option<Progress>,
}

/// Outcome of adding entities.
#[derive(Debug)]
pub enum AddOutcome {
    Added {
        scenario_id: String,
        name: String,
        is_new: bool,
        /// Entities of the scenario per type key, after the addition.
        totals: Vec<(String, u64)>,
        warnings: Vec<String>,
        skipped: BTreeMap<&'static str, usize>,
        updated_at: String,
    },
    NotFound(String),
}

/// Rows a delete removed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Removed {
    pub entities: u64,
    pub canonical_rows: u64,
    pub tags: u64,
    /// The disk reported an error while the delete was committed, yet the file shows it done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// One scenario in `healthsim_list_scenarios` output (keys in wire order).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ScenarioListing {
    pub scenario_id: String,
    pub name: String,
    pub description: Option<String>,
    pub entity_count: u64,
    pub tags: Vec<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// Filters of `healthsim_list_scenarios`; `None` = no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub tag: Option<String>,
    pub search: Option<String>,
    pub limit: u32,
}

/// How `resolve` may match the user's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Exact name, exact id, then a unique case-insensitive name (load, delete).
    NameOrId,
    /// As `NameOrId`, then a case-insensitive substring of the name, newest first.
    WithSubstring,
    /// Exact id only (a UUID-shaped input to get_summary).
    IdOnly,
}

fn scenario_from_row(row: &duckdb::Row<'_>) -> duckdb::Result<ScenarioRow> {
    let metadata: Option<String> = row.get(5)?;
    Ok(ScenarioRow {
        scenario_id: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        created_at: row.get::<_, Option<String>>(3)?.map(iso_text),
        updated_at: row.get::<_, Option<String>>(4)?.map(iso_text),
        metadata: metadata.and_then(|m| serde_json::from_str(&m).ok()).unwrap_or(Value::Object(Map::new())),
    })
}

/// Python's `isoformat()`: drops a zero fraction.
fn iso_text(text: String) -> String {
    match text.strip_suffix(".000000") {
        Some(whole) => whole.to_owned(),
        None => text,
    }
}

/// Finds a scenario by the user's text, per `mode`.
pub fn resolve(conn: &Sql<'_>, layout: &Layout, input: &str, mode: Resolution) -> anyhow::Result<Option<ScenarioRow>> {
    let key = layout.key;
    // The matches, unordered: the newest is picked here, not by an ORDER BY (DuckDB 1.5's
    // sort costs ~0.7 ms to set up, for the zero or one row most lookups find).
    let by = |condition: &str| -> anyhow::Result<Vec<ScenarioRow>> {
        let sql = format!("{}{condition}", layout.sql.resolve_from);
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([input], scenario_from_row)?;
        rows.collect::<Result<Vec<_>, _>>().context("cannot look up the scenario")
    };
    if mode == Resolution::IdOnly {
        return Ok(newest(by(&format!("{key} = ?"))?));
    }
    if let Some(found) = newest(by("name = ?")?) {
        return Ok(Some(found));
    }
    if let Some(found) = newest(by(&format!("{key} = ?"))?) {
        return Ok(Some(found));
    }
    let mut folded = by("lower(name) = lower(?)")?;
    if folded.len() == 1 {
        return Ok(folded.pop());
    }
    if mode == Resolution::WithSubstring {
        // `contains` matches literally: `%` and `_` in user text are not wildcards.
        return Ok(newest(by("contains(lower(name), lower(?))")?));
    }
    Ok(None)
}

/// The first of `rows` by `updated_at DESC NULLS LAST, name`, as DuckDB orders them: the
/// timestamps are compared as their ISO text (which sorts as the instants do; `None` sorts
/// below any text, so last when descending) and names byte by byte (DuckDB's default
/// collation).
fn newest(rows: Vec<ScenarioRow>) -> Option<ScenarioRow> {
    rows.into_iter().min_by(|a, b| b.updated_at.cmp(&a.updated_at).then_with(|| a.name.cmp(&b.name)))
}

/// Scenarios matching `filter`, newest `updated_at` first, then name.
pub fn list(conn: &Sql<'_>, layout: &Layout, filter: &ListFilter) -> anyhow::Result<Vec<ScenarioListing>> {
    let mut stmt = conn.prepare(&layout.sql.list)?;
    let rows = stmt.query_map(params![filter.tag, filter.search, filter.limit], |r| {
        let tags = match r.get::<_, duckdb::types::Value>(4)? {
            duckdb::types::Value::List(items) => items
                .into_iter()
                .filter_map(|v| if let duckdb::types::Value::Text(t) = v { Some(t) } else { None })
                .collect(),
            _ => Vec::new(),
        };
        Ok(ScenarioListing {
            scenario_id: r.get(0)?,
            name: r.get(1)?,
            description: r.get(2)?,
            entity_count: r.get::<_, i64>(3)? as u64,
            tags,
            created_at: r.get::<_, Option<String>>(5)?.map(iso_text),
            updated_at: r.get::<_, Option<String>>(6)?.map(iso_text),
        })
    })?;
    rows.collect::<Result<_, _>>().context("cannot list scenarios")
}

/// A scenario's name and description.
pub type NameAndDescription = (String, Option<String>);

/// A page of scenario names (with descriptions) starting with `prefix`, by name, and how
/// many match in all (0 for a page past the end).
pub fn names(
    conn: &Sql<'_>,
    layout: &Layout,
    prefix: &str,
    limit: u32,
    offset: u64,
) -> anyhow::Result<(Vec<NameAndDescription>, u64)> {
    let mut stmt = conn.prepare(&layout.sql.names)?;
    let mut total = 0;
    let rows = stmt.query_map(params![prefix, limit, offset], |r| {
        total = r.get::<_, i64>(2)? as u64;
        Ok((r.get(0)?, r.get(1)?))
    })?;
    let page = rows.collect::<Result<_, _>>().context("cannot list scenario names")?;
    Ok((page, total))
}

/// Tags of a scenario in the order given at save.
pub fn tags(conn: &Sql<'_>, layout: &Layout, scenario_id: &str) -> anyhow::Result<Vec<String>> {
    let mut stmt = conn.prepare(&layout.sql.tags)?;
    let rows = stmt.query_map([scenario_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut tags = rows.collect::<Result<Vec<_>, _>>().context("cannot read tags")?;
    // Ordered here rather than by an ORDER BY (see `newest`); ids are unique.
    tags.sort_unstable_by_key(|(id, _)| *id);
    Ok(tags.into_iter().map(|(_, tag)| tag).collect())
}

/// Entities of a scenario: type key as saved → the entities' JSON text in submission order
/// (`null` for a missing value). Parsing is left to the caller, which may need only some.
pub fn entities(conn: &Sql<'_>, layout: &Layout, scenario_id: &str) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let mut stmt = conn.prepare(&layout.sql.entities)?;
    let mut rows = stmt.query([scenario_id])?;
    let mut read: Vec<(i64, String, Option<String>)> = Vec::new();
    while let Some(row) = rows.next()? {
        read.push((row.get(0)?, row.get(1)?, row.get(2)?));
    }
    // Submission order is id order, sorted here rather than by an ORDER BY (see `newest`).
    read.sort_unstable_by_key(|(id, _, _)| *id);
    let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, entity_type, data) in read {
        grouped.entry(entity_type).or_default().push(data.unwrap_or_else(|| "null".to_owned()));
    }
    Ok(grouped)
}

/// `{type key as saved: count}` for a scenario.
pub fn entity_counts(conn: &Sql<'_>, layout: &Layout, scenario_id: &str) -> anyhow::Result<Vec<(String, u64)>> {
    let mut stmt = conn.prepare(&layout.sql.entity_counts)?;
    let rows = stmt
        .query_map([scenario_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)? as u64)))?;
    let mut counts = rows.collect::<Result<Vec<_>, _>>().context("cannot count entities")?;
    // In order of each type's first entity, sorted here (see `newest`).
    counts.sort_unstable_by_key(|(first, _, _)| *first);
    Ok(counts.into_iter().map(|(_, entity_type, n)| (entity_type, n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::layout::{self, Detected};
    use crate::db::schema::prepare_ours;

    fn row(name: &str, updated_at: Option<&str>) -> ScenarioRow {
        ScenarioRow {
            scenario_id: format!("id-{name}"),
            name: name.to_owned(),
            description: None,
            created_at: None,
            updated_at: updated_at.map(str::to_owned),
            metadata: Value::Null,
        }
    }

    fn picked(rows: Vec<ScenarioRow>) -> Option<String> {
        newest(rows).map(|r| r.name)
    }

    /// Rows stored in the reverse of their id order (a scan returns storage order): the
    /// lookups still give tags, entities and type counts in id order.
    #[test]
    fn lookups_order_by_id_not_by_storage() {
        let raw = duckdb::Connection::open_in_memory().unwrap();
        let conn = Sql::local(&raw);
        prepare_ours(&conn).unwrap();
        let Detected::Known(layout) = layout::detect(&conn).unwrap() else { panic!("our layout is not recognised") };
        raw.execute_batch(
            "INSERT INTO scenarios (scenario_id, name, updated_at) VALUES ('s', 'one', TIMESTAMP '2025-01-01 10:00:00');
             INSERT INTO scenario_tags (id, scenario_id, tag) VALUES (30, 's', 'third'), (20, 's', 'second'), (10, 's', 'first');
             INSERT INTO scenario_entities (id, scenario_id, entity_type, entity_id, entity_data) VALUES
                 (5, 's', 'members', 'm2', '{\"n\":5}'), (4, 's', 'patients', 'p2', '{\"n\":4}'),
                 (3, 's', 'members', 'm1', '{\"n\":3}'), (2, 's', 'claims', 'c1', '{\"n\":2}'),
                 (1, 's', 'patients', 'p1', '{\"n\":1}');",
        )
        .unwrap();
        assert_eq!(tags(&conn, &layout, "s").unwrap(), ["first", "second", "third"]);
        let read = entities(&conn, &layout, "s").unwrap();
        assert_eq!(read["patients"], [r#"{"n":1}"#, r#"{"n":4}"#]);
        assert_eq!(read["members"], [r#"{"n":3}"#, r#"{"n":5}"#]);
        let counts = entity_counts(&conn, &layout, "s").unwrap();
        assert_eq!(counts, [("patients".to_owned(), 2), ("claims".to_owned(), 1), ("members".to_owned(), 2)]);
        let found = resolve(&conn, &layout, "ONE", Resolution::NameOrId).unwrap().unwrap();
        assert_eq!((found.name.as_str(), found.updated_at.as_deref()), ("one", Some("2025-01-01T10:00:00")));
    }

    #[test]
    fn newest_is_latest_update_then_name_with_missing_times_last() {
        assert_eq!(picked(vec![]), None);
        // A fraction of a second is later than the whole second before it.
        let rows = vec![
            row("b", Some("2025-01-01T10:00:00")),
            row("a", Some("2025-01-01T10:00:00.500000")),
            row("c", Some("2024-12-31T23:59:59.999999")),
        ];
        assert_eq!(picked(rows).as_deref(), Some("a"));
        // Equal times: the smaller name, byte by byte (upper case first, as in DuckDB).
        let rows = vec![row("b", Some("2025-01-01T10:00:00")), row("B", Some("2025-01-01T10:00:00"))];
        assert_eq!(picked(rows).as_deref(), Some("B"));
        // No time sorts after any time (DuckDB's NULLS LAST), then by name among those.
        let rows = vec![row("a", None), row("z", Some("2000-01-01T00:00:00")), row("0", None)];
        assert_eq!(picked(rows).as_deref(), Some("z"));
        assert_eq!(picked(vec![row("y", None), row("x", None)]).as_deref(), Some("x"));
    }
}
