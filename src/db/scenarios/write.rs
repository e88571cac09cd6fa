//! Saving and deleting a scenario, inside the write dispatcher's transaction, in the
//! file's own layout. In our layout canonical rows are keyed per scenario; in the Python
//! tooling's layouts they are keyed by id alone, so a row whose id another scenario
//! already holds is kept only as JSON (warned, with how to convert), and a row missing a
//! column that file requires likewise. Where the entity and tag tables carry foreign keys
//! to the scenario table, a delete takes two transactions (see [`delete`]).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use duckdb::types::{ToSqlOutput, Value as DuckValue};
use duckdb::{OptionalExt, ToSql, params};

use crate::engine::Sql;

use super::{
    AddOutcome, AddRequest, AddTarget, Progress, Removed, Resolution, SaveOutcome, SaveRequest, ScenarioRow, resolve,
};
use crate::db::layout::{DELETING_KEY, Family, Layout};
use crate::db::schema::quote;
use crate::engine::values::utc_now;
use crate::model::mapping::MAPPED_PROVENANCE;
use crate::model::row::CanonicalRow;
use crate::model::{SavePlan, TableSpec, canonical_tables};

/// Counts written rows and calls the progress callback at every tenth of the total.
struct Reporter {
    progress: Option<Progress>,
    total: u64,
    done: u64,
    next: u64,
}

impl Reporter {
    fn new(progress: Option<Progress>, total: u64) -> Reporter {
        Reporter { progress, total, done: 0, next: total.div_ceil(10).max(1) }
    }

    fn advance(&mut self, rows: u64, what: &str) -> anyhow::Result<()> {
        self.done += rows;
        if let Some(limit) = failpoint_rows()
            && self.done >= limit
        {
            anyhow::bail!("failpoint save-after-rows:{limit} reached; the save is rolled back");
        }
        if let Some(progress) = &self.progress
            && (self.done >= self.next || self.done == self.total)
        {
            progress(self.done.min(self.total), what);
            while self.next <= self.done {
                self.next += self.total.div_ceil(10).max(1);
            }
        }
        Ok(())
    }
}

/// Test failpoint: `HEALTHSIM_FAILPOINT=save-after-rows:N` makes every save fail after
/// writing N rows, inside its transaction. The test suite uses it to prove that a failed
/// save leaves nothing behind; unset (always, in normal use) it does nothing.
fn failpoint_rows() -> Option<u64> {
    static ROWS: std::sync::LazyLock<Option<u64>> = std::sync::LazyLock::new(|| {
        std::env::var("HEALTHSIM_FAILPOINT")
            .ok()
            .and_then(|v| v.strip_prefix("save-after-rows:").and_then(|n| n.trim().parse().ok()))
    });
    *ROWS
}

/// Writes a scenario (inside the caller's transaction). With `overwrite`, an existing
/// scenario of that name keeps its id and `created_at` and loses every old row.
pub fn save(conn: &Sql<'_>, layout: &Layout, request: &mut SaveRequest) -> anyhow::Result<SaveOutcome> {
    let (now, stamp) = utc_now();
    let (table, key) = (quote(layout.scenarios), layout.key);
    let existing: Option<String> = conn
        .query_row(&format!("SELECT {key} FROM {table} WHERE name = ?"), [&request.name], |r| r.get(0))
        .optional()
        .context("cannot look up the scenario name")?;
    let metadata = metadata_json(&request.plan);
    let scenario_id = match existing {
        Some(_) if !request.overwrite => return Ok(SaveOutcome::NameTaken),
        Some(scenario_id) => {
            remove_contents(conn, layout, &scenario_id)?;
            conn.execute(
                &format!(
                    "UPDATE {table} SET description = ?, updated_at = CAST(? AS TIMESTAMP), metadata = ? WHERE {key} = ?"
                ),
                params![request.description, now, metadata, scenario_id],
            )
            .context("cannot update the scenario")?;
            scenario_id
        }
        None => insert_scenario(conn, layout, &request.name, request.description.as_deref(), &now, &metadata)?,
    };
    insert_tags(conn, layout, &scenario_id, request.tags.iter())?;
    let canonical: usize = request.plan.rows.values().map(Vec::len).sum();
    let mut reporter = Reporter::new(request.progress.take(), (request.plan.entities.len() + canonical) as u64);
    insert_entities(conn, layout, &scenario_id, &request.plan, &stamp, &mut reporter)?;
    let mut skipped = Skipped::default();
    insert_canonical_rows(conn, layout, &scenario_id, &request.plan, &stamp, &mut reporter, &mut skipped)?;
    if let Some(more) = request.more.as_mut() {
        let mut counts = request.plan.entity_counts.clone();
        while let Some(part) = more()? {
            insert_entities(conn, layout, &scenario_id, &part, &stamp, &mut reporter)?;
            insert_canonical_rows(conn, layout, &scenario_id, &part, &stamp, &mut reporter, &mut skipped)?;
            crate::model::add_counts(&mut counts, part.entity_counts);
        }
        conn.execute(
            &format!("UPDATE {table} SET metadata = ? WHERE {key} = ?"),
            params![metadata_of(&counts), scenario_id],
        )
        .context("cannot record the scenario's entity counts")?;
        if let Some(execution) = &request.execution {
            let total: usize = counts.iter().map(|(_, n)| n).sum();
            super::executions::record(conn, layout, &scenario_id, execution, total, &now)?;
        }
    } else if let Some(execution) = &request.execution {
        super::executions::record(conn, layout, &scenario_id, execution, request.plan.total_entities(), &now)?;
    }
    Ok(SaveOutcome::Saved {
        scenario_id,
        warnings: skipped.warnings(layout),
        skipped: skipped.counts(),
        updated_at: now.to_string(),
    })
}

/// Adds entities to a scenario (inside the caller's transaction), creating it when the
/// target names none that exists: an entity whose (type, id) the scenario holds replaces
/// it (its JSON and its canonical row), others are added, nothing else is touched.
pub fn add(conn: &Sql<'_>, layout: &Layout, request: &mut AddRequest) -> anyhow::Result<AddOutcome> {
    let (now, stamp) = utc_now();
    let (table, key) = (quote(layout.scenarios), layout.key);
    let visible = layout.visible("");
    let by = |column: &str, value: &str| -> anyhow::Result<Option<(String, String)>> {
        conn.query_row(&format!("SELECT {key}, name FROM {table} WHERE {column} = ?{visible}"), [value], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .context("cannot look up the scenario")
    };
    let existing = match &request.target {
        AddTarget::Id(id) => match by(key, id)? {
            Some(found) => Some(found),
            None => return Ok(AddOutcome::NotFound(id.clone())),
        },
        AddTarget::Name(name) => by("name", name)?,
        AddTarget::Auto => None,
    };
    let (scenario_id, name, is_new) = match existing {
        Some((id, name)) => (id, name, false),
        None => {
            let name = match &request.target {
                AddTarget::Name(name) => name.clone(),
                _ => {
                    let base = format!("scenario-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
                    let mut name = base.clone();
                    let mut n = 1;
                    while by("name", &name)?.is_some() {
                        n += 1;
                        name = format!("{base}-{n}");
                    }
                    name
                }
            };
            let metadata = metadata_json(&request.plan);
            let id = insert_scenario(conn, layout, &name, request.description.as_deref(), &now, &metadata)?;
            (id, name, true)
        }
    };
    // Tags the scenario does not have yet.
    let held = super::tags(conn, layout, &scenario_id)?;
    insert_tags(
        conn,
        layout,
        &scenario_id,
        request.tags.iter().filter(|t| !held.iter().any(|h| h.eq_ignore_ascii_case(t))),
    )?;
    // Upsert: the scenario's rows for these entities go first.
    let keys: Vec<String> =
        request.plan.entities.iter().map(|e| format!("{}\u{1f}{}", e.entity_type, e.entity_id)).collect();
    conn.execute(
        &format!(
            "DELETE FROM {} WHERE {} = ? AND entity_type || chr(31) || entity_id IN (SELECT unnest(from_json(?, '[\"VARCHAR\"]')))",
            quote(layout.entities),
            layout.owner
        ),
        params![scenario_id, serde_json::to_string(&keys)?],
    )
    .context("cannot replace entities")?;
    for spec in canonical_tables() {
        let Some(rows) = request.plan.rows.get(spec.name).filter(|r| !r.is_empty()) else { continue };
        if !layout.canonical.get(spec.name).is_some_and(|s| s.columns.contains_key(layout.canonical_owner)) {
            continue;
        }
        let id_index = spec.columns.iter().position(|c| c.name == spec.id_column).expect("the id is a column");
        let ids: Vec<&str> = rows.iter().filter_map(|r| r.get(id_index)).collect();
        conn.execute(
            &format!(
                "DELETE FROM {} WHERE {} = ? AND {} IN (SELECT unnest(from_json(?, '[\"VARCHAR\"]')))",
                quote(spec.name),
                quote(layout.canonical_owner),
                quote(spec.id_column)
            ),
            params![scenario_id, serde_json::to_string(&ids)?],
        )
        .with_context(|| format!("cannot replace rows of {}", spec.name))?;
    }
    let canonical: usize = request.plan.rows.values().map(Vec::len).sum();
    let mut reporter = Reporter::new(request.progress.take(), (request.plan.entities.len() + canonical) as u64);
    insert_entities(conn, layout, &scenario_id, &request.plan, &stamp, &mut reporter)?;
    let mut skipped = Skipped::default();
    insert_canonical_rows(conn, layout, &scenario_id, &request.plan, &stamp, &mut reporter, &mut skipped)?;
    let totals = super::entity_counts(conn, layout, &scenario_id)?;
    let counts: Vec<(String, usize)> = totals.iter().map(|(t, n)| (t.clone(), *n as usize)).collect();
    let metadata = metadata_of(&counts);
    conn.execute(
        &format!("UPDATE {table} SET updated_at = CAST(? AS TIMESTAMP), metadata = ? WHERE {key} = ?"),
        params![now, metadata, scenario_id],
    )
    .context("cannot update the scenario")?;
    Ok(AddOutcome::Added {
        scenario_id,
        name,
        is_new,
        totals,
        warnings: skipped.warnings(layout),
        skipped: skipped.counts(),
        updated_at: now.to_string(),
    })
}

/// A new scenario row (a fresh time-ordered UUID, both times `now`); returns its id.
fn insert_scenario(
    conn: &Sql<'_>,
    layout: &Layout,
    name: &str,
    description: Option<&str>,
    now: &str,
    metadata: &str,
) -> anyhow::Result<String> {
    let scenario_id = crate::model::new_scenario_uuid();
    conn.execute(
        &format!(
            "INSERT INTO {} ({}, name, description, created_at, updated_at, metadata)
             VALUES (?, ?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), ?)",
            quote(layout.scenarios),
            layout.key
        ),
        params![scenario_id, name, description, now, now, metadata],
    )
    .context("cannot insert the scenario")?;
    Ok(scenario_id)
}

/// Tag rows for a scenario, numbered from the tag table's sequence.
fn insert_tags<'a>(
    conn: &Sql<'_>,
    layout: &Layout,
    scenario_id: &str,
    tags: impl Iterator<Item = &'a String>,
) -> anyhow::Result<()> {
    let tags: Vec<&String> = tags.collect();
    let ids = reserve_ids(conn, layout, layout.tags, layout.tags_seq, tags.len())?;
    let mut insert =
        conn.prepare(&format!("INSERT INTO {} (id, {}, tag) VALUES (?, ?, ?)", quote(layout.tags), layout.owner))?;
    for (id, tag) in ids.iter().zip(tags) {
        insert.execute(params![id, scenario_id, tag]).context("cannot save the tags")?;
    }
    Ok(())
}

/// `n` fresh ids for `table` from its sequence, past every id the table holds in the
/// tooling's layouts: its 1.4 and 1.5 migrations copied rows with their ids into tables
/// whose sequence starts at 1, and the tooling numbers its own rows from the same sequence
/// (so the sequence must move past ours too).
///
/// A DuckLake has no sequences; its writers are serialised (`remote.rs`), so the ids
/// after the highest are free.
fn reserve_ids(conn: &Sql<'_>, layout: &Layout, table: &str, sequence: &str, n: usize) -> anyhow::Result<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if layout.lake {
        let highest: i64 = conn
            .query_row(&format!("SELECT coalesce(max(id), 0) FROM {}", quote(table)), [], |r| r.get(0))
            .context("cannot number rows")?;
        return Ok((highest + 1..=highest + n as i64).collect());
    }
    let sequence = sequence.replace('\'', "''");
    // Our layout numbers its rows from the sequence alone (every build of ours moved it
    // past the ids it wrote, `migrate` past the rows it copies): reading the highest id
    // scans the table, a cost that grew with the file.
    let highest: Option<i64> = match layout.family {
        Family::Ours => None,
        _ => conn
            .prepare_volatile(&format!("SELECT max(id) FROM {}", quote(table)))?
            .query_row([], |r| r.get(0))
            .context("cannot number rows")?,
    };
    let first: i64 = conn.prepare_volatile(&format!("SELECT nextval('{sequence}')"))?.query_row([], |r| r.get(0))?;
    let mut ids = vec![first];
    if let Some(highest) = highest.filter(|h| *h >= first) {
        conn.prepare_volatile(&format!("SELECT count(nextval('{sequence}')) FROM range(?)"))?
            .query_row([highest - first], |r| r.get::<_, i64>(0))?;
        ids.clear();
    }
    // Ids come from the sequence in one statement, so insertion order (the load order) is
    // the submission order.
    let more: Vec<i64> = conn
        .prepare_volatile(&format!("SELECT nextval('{sequence}') AS id FROM range(?) ORDER BY id"))?
        .query_map([(n - ids.len()) as i64], |r| r.get(0))?
        .collect::<Result<_, _>>()
        .context("cannot reserve row ids")?;
    ids.extend(more);
    Ok(ids)
}

/// One appended value of a canonical row: mapped text (DuckDB casts it to the column's
/// type) or the save's timestamp.
enum Cell<'a> {
    Text(Option<&'a str>),
    Stamp(&'a DuckValue),
}

impl ToSql for Cell<'_> {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        match self {
            Cell::Text(text) => text.to_sql(),
            Cell::Stamp(stamp) => stamp.to_sql(),
        }
    }
}

fn metadata_json(plan: &SavePlan) -> String {
    metadata_of(&plan.entity_counts)
}

/// The scenario's metadata as the tooling writes it: product, types, counts per type.
fn metadata_of(entity_counts: &[(String, usize)]) -> String {
    let types: Vec<&str> = entity_counts.iter().map(|(t, _)| t.as_str()).collect();
    let counts: serde_json::Map<String, serde_json::Value> =
        entity_counts.iter().map(|(t, n)| (t.clone(), serde_json::Value::from(*n))).collect();
    serde_json::json!({"product": "healthsim", "entity_types": types, "entity_counts": counts}).to_string()
}

fn insert_entities(
    conn: &Sql<'_>,
    layout: &Layout,
    scenario_id: &str,
    plan: &SavePlan,
    now: &DuckValue,
    reporter: &mut Reporter,
) -> anyhow::Result<()> {
    if plan.entities.is_empty() {
        return Ok(());
    }
    let ids = reserve_ids(conn, layout, layout.entities, layout.entities_seq, plan.entities.len())?;
    let mut appender = conn
        .appender(layout.entities, &["id", layout.owner, "entity_type", "entity_id", "entity_data", "created_at"])
        .context("cannot open the entity appender")?;
    for (id, entity) in ids.iter().zip(&plan.entities) {
        appender
            .append_row(params![id, scenario_id, entity.entity_type, entity.entity_id, entity.json, now])
            .with_context(|| format!("cannot save {} '{}'", entity.entity_type, entity.entity_id))?;
        reporter.advance(1, "saving entities")?;
    }
    appender.flush().context("cannot save the entities")?;
    Ok(())
}

/// Canonical rows a file's layout could not hold, by (table, reason).
#[derive(Default)]
struct Skipped {
    by_reason: BTreeMap<(&'static str, String), Vec<String>>,
}

impl Skipped {
    fn add(&mut self, table: &'static str, reason: String, id: &str) {
        self.by_reason.entry((table, reason)).or_default().push(id.to_owned());
    }

    fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for ((table, _), ids) in &self.by_reason {
            *counts.entry(*table).or_default() += ids.len();
        }
        counts
    }

    /// One line per (table, reason): the count, up to three ids, why and what to do.
    fn warnings(&self, layout: &Layout) -> Vec<String> {
        self.by_reason
            .iter()
            .map(|((table, reason), ids)| {
                let shown: Vec<String> = ids.iter().take(3).map(|id| format!("'{id}'")).collect();
                let more = if ids.len() > 3 { format!(" and {} more", ids.len() - 3) } else { String::new() };
                format!(
                    "{table}: {} row(s) kept only as JSON ({}{more}): {reason} in this file ({}); \
                     `healthsim-mcp migrate --db FILE` converts it to the healthsim-mcp layout, which keys rows per scenario",
                    ids.len(),
                    shown.join(", "),
                    layout.description
                )
            })
            .collect()
    }
}

fn insert_canonical_rows(
    conn: &Sql<'_>,
    layout: &Layout,
    scenario_id: &str,
    plan: &SavePlan,
    now: &DuckValue,
    reporter: &mut Reporter,
    skipped: &mut Skipped,
) -> anyhow::Result<()> {
    for spec in canonical_tables() {
        let Some(rows) = plan.rows.get(spec.name).filter(|r| !r.is_empty()) else { continue };
        let id_index = spec.columns.iter().position(|c| c.name == spec.id_column).expect("the id is a column");
        let Some(shape) = layout.canonical.get(spec.name).filter(|s| s.columns.contains_key(layout.canonical_owner))
        else {
            for row in rows {
                let id = row.get(id_index).unwrap_or("");
                let reason = format!("there is no table {} with a {} column", spec.name, layout.canonical_owner);
                skipped.add(spec.name, reason, id);
            }
            reporter.advance(rows.len() as u64, spec.name)?;
            continue;
        };
        // Columns of the file, in our mapping's order: (name, index in the row, required).
        let data_len = spec.columns.len();
        let mut columns: Vec<(&str, Option<usize>, bool)> = Vec::new();
        for (i, column) in spec.columns.iter().enumerate() {
            if let Some(not_null) = shape.columns.get(column.name) {
                columns.push((column.name, Some(i), *not_null));
            }
        }
        columns.push((layout.canonical_owner, None, false));
        if shape.columns.contains_key("created_at") {
            columns.push(("created_at", None, false));
        }
        for (i, name) in MAPPED_PROVENANCE.iter().enumerate() {
            if shape.columns.contains_key(*name) {
                columns.push((name, Some(data_len + i), false));
            }
        }
        let taken = if shape.keyed_per_scenario { BTreeSet::new() } else { ids_taken(conn, spec, rows, id_index)? };
        let required: Vec<(&str, usize)> =
            columns.iter().filter(|(_, _, nn)| *nn).filter_map(|(n, i, _)| i.map(|i| (*n, i))).collect();
        let names: Vec<&str> = columns.iter().map(|(n, _, _)| *n).collect();
        let mut appender =
            conn.appender(spec.name, &names).with_context(|| format!("cannot open the {} appender", spec.name))?;
        for row in rows {
            let id = row.get(id_index).unwrap_or("");
            if taken.contains(id) {
                let reason =
                    format!("{} are keyed by {} alone and another scenario holds these ids", spec.name, spec.id_column);
                skipped.add(spec.name, reason, id);
            } else if let Some((missing, _)) = required.iter().find(|(_, i)| row.get(*i).is_none()) {
                skipped.add(spec.name, format!("{} requires {missing}, which these entities lack", spec.name), id);
            } else {
                let values = columns.iter().map(|(name, index, _)| match index {
                    Some(i) => Cell::Text(row.get(*i)),
                    None if *name == "created_at" => Cell::Stamp(now),
                    None => Cell::Text(Some(scenario_id)),
                });
                appender.append_row(values).with_context(|| format!("cannot save a {} row", spec.singular))?;
            }
            reporter.advance(1, spec.name)?;
        }
        appender.flush().with_context(|| format!("cannot save the {} rows", spec.name))?;
    }
    Ok(())
}

/// Ids of `rows` that rows of other scenarios already hold in a table keyed by id alone
/// (this scenario's own old rows are gone by now).
fn ids_taken(
    conn: &Sql<'_>,
    spec: &TableSpec,
    rows: &[CanonicalRow],
    id_index: usize,
) -> anyhow::Result<BTreeSet<String>> {
    let ids: Vec<&str> = rows.iter().filter_map(|r| r.get(id_index)).collect();
    // Bound as JSON text: duckdb-rs cannot bind a LIST parameter.
    let sql = format!(
        "SELECT CAST({id} AS VARCHAR) FROM {table} WHERE {id} IN (SELECT unnest(from_json(?, '[\"VARCHAR\"]')))",
        id = quote(spec.id_column),
        table = quote(spec.name)
    );
    let mut stmt = conn.prepare(&sql)?;
    let taken = stmt
        .query_map([serde_json::to_string(&ids)?], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot look up the ids of {}", spec.name))?;
    Ok(taken)
}

/// Deletes every row a scenario owns except the scenario row; returns the counts.
fn remove_contents(conn: &Sql<'_>, layout: &Layout, scenario_id: &str) -> anyhow::Result<Removed> {
    let mut canonical_rows = 0u64;
    for (name, shape) in &layout.canonical {
        if !shape.columns.contains_key(layout.canonical_owner) {
            continue;
        }
        canonical_rows += delete_owned(conn, name, layout.canonical_owner, scenario_id)
            .with_context(|| format!("cannot delete rows of {name}"))?;
    }
    let entities = delete_owned(conn, layout.entities, layout.owner, scenario_id).context("cannot delete entities")?;
    let tags = delete_owned(conn, layout.tags, layout.owner, scenario_id).context("cannot delete tags")?;
    Ok(Removed { entities, canonical_rows, tags, warning: None })
}

/// Deletes the rows of `table` whose `owner` is `id`; how many. Where the delete runs only
/// at commit (a remote write), the rows are counted first, a read checked again at commit.
fn delete_owned(conn: &Sql<'_>, table: &str, owner: &str, id: &str) -> anyhow::Result<u64> {
    let table = quote(table);
    let delete = format!("DELETE FROM {table} WHERE {owner} = ?");
    if !conn.is_deferred() {
        return Ok(conn.execute(&delete, [id])? as u64);
    }
    let count = conn.query_row(&format!("SELECT count(*) FROM {table} WHERE {owner} = ?"), [id], |r| r.get(0))?;
    conn.execute(&delete, [id])?;
    Ok(count)
}

/// Deletes a scenario and everything it owns; `None` when nothing matches.
///
/// Where the entity and tag tables reference the scenario table (the tooling's layouts),
/// DuckDB refuses to delete the scenario in the transaction that deleted its rows. The
/// delete then commits the rows' removal with the scenario marked as being deleted
/// (every read hides it), and removes the scenario row in a second transaction; should
/// the process die between the two, the next write finishes it ([`finish_deletions`]).
pub fn delete(conn: &Sql<'_>, layout: &Layout, input: &str) -> anyhow::Result<Option<(ScenarioRow, Removed)>> {
    let Some(scenario) = resolve(conn, layout, input, Resolution::NameOrId)? else { return Ok(None) };
    let removed = remove_contents(conn, layout, &scenario.scenario_id)?;
    let (table, key) = (quote(layout.scenarios), layout.key);
    if layout.child_foreign_keys {
        conn.execute(
            &format!(
                "UPDATE {table} SET metadata = json_merge_patch(coalesce(CAST(metadata AS JSON), '{{}}'), '{{\"{DELETING_KEY}\": true}}')
                 WHERE {key} = ?"
            ),
            [&scenario.scenario_id],
        )
        .context("cannot mark the scenario as being deleted")?;
        conn.execute_batch("COMMIT; BEGIN TRANSACTION").context("cannot commit the removal of the scenario's rows")?;
    }
    conn.execute(&format!("DELETE FROM {table} WHERE {key} = ?"), [&scenario.scenario_id])
        .context("cannot delete the scenario")?;
    Ok(Some((scenario, removed)))
}

/// Removes scenarios a delete marked but could not finish (see [`delete`]), unless the
/// tooling has since given them rows again. Every write in a layout with foreign keys runs it.
pub fn finish_deletions(conn: &Sql<'_>, layout: &Layout) -> anyhow::Result<()> {
    if !layout.child_foreign_keys || layout.family == Family::Ours {
        return Ok(());
    }
    let (s, key, e, t, owner) =
        (quote(layout.scenarios), layout.key, quote(layout.entities), quote(layout.tags), layout.owner);
    conn.execute(
        &format!(
            "DELETE FROM {s} WHERE json_extract_string(metadata, '$.{DELETING_KEY}') = 'true'
               AND NOT EXISTS (SELECT 1 FROM {e} WHERE {e}.{owner} = {s}.{key})
               AND NOT EXISTS (SELECT 1 FROM {t} WHERE {t}.{owner} = {s}.{key})"
        ),
        [],
    )
    .context("cannot finish an earlier deletion")?;
    Ok(())
}
