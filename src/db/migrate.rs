//! `healthsim-mcp migrate`: converting a file in one of the Python tooling's layouts to
//! ours, an explicit act (the server itself adopts those layouts as they are). A backup
//! copy is made first, then one transaction rebuilds the scenario (or cohort) tables as
//! ours and keys canonical rows per scenario, keeping every row and every column.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use duckdb::Connection;

use super::schema::{self, CHILD_TABLES, all_column_names, create_table_sql, prepare_ours, quote};
use crate::db::layout::{self, DELETING_KEY, Detected, Family, Layout};
use crate::engine::Sql;
use crate::engine::{Instance, Mode, OpenError};
use crate::model::canonical_tables;

/// What `migrate` did.
#[derive(Debug)]
pub struct Converted {
    /// The layout the file had.
    pub from: String,
    pub backup: Option<PathBuf>,
    pub steps: Vec<String>,
}

/// Converts the file at `path` to our layout, after copying it to a backup next to it.
/// A file already in our layout only gets what it lacks (no backup needed).
pub fn convert_file(path: &Path) -> anyhow::Result<Converted> {
    if !crate::engine::regular_file(path).map_err(|e| anyhow::anyhow!("{e}"))? {
        anyhow::bail!("{} does not exist; pass --db with an existing HealthSim database", path.display());
    }
    let settings =
        [("autoload_known_extensions", "false".to_owned()), ("autoinstall_known_extensions", "false".to_owned())];
    let open = || match Instance::open(path, Mode::ReadWrite, &settings) {
        Ok(instance) => Ok(instance),
        Err(OpenError::Locked(holder)) => Err(anyhow::anyhow!(
            "{} is in use by {}; close it there (and stop any server using it) and run migrate again",
            path.display(),
            holder.describe()
        )),
        Err(OpenError::Unreadable(reason)) => Err(anyhow::anyhow!("{reason}")),
        Err(OpenError::Other(err)) => Err(err.context(format!("cannot open {}", path.display()))),
    };
    let layout = {
        let instance = open()?;
        let handle = instance.connect()?;
        match layout::detect(&Sql::local(handle.conn()))? {
            Detected::Unknown(reason) => anyhow::bail!("{reason}"),
            Detected::Empty => None,
            Detected::Known(layout) => Some(layout),
        }
        // Closing checkpoints: the file alone holds everything for the backup.
    };
    let from = layout.as_ref().map_or("no HealthSim tables".to_owned(), |l| l.description.clone());
    let keyed_ours = layout.as_ref().is_some_and(|l| l.family == Family::Ours) && {
        let instance = open()?;
        let handle = instance.connect()?;
        has_keys(handle.conn())?
    };
    let convert_from = layout.filter(|l| l.family != Family::Ours);
    let backup = match convert_from.is_some() || keyed_ours {
        true => Some(backup(path)?),
        false => None,
    };
    let stamp = file_stamp(path)?;
    let instance = open()?;
    if let Some(backup) = &backup
        && file_stamp(path)? != stamp
    {
        let _ = std::fs::remove_file(backup);
        anyhow::bail!(
            "{} changed while it was being backed up; nothing was changed, run migrate again",
            path.display()
        );
    }
    let handle = instance.connect()?;
    let conn = handle.conn();
    conn.execute_batch("BEGIN TRANSACTION")?;
    let converted = match convert_from.as_deref() {
        Some(layout) => convert(conn, layout),
        None if keyed_ours => unkey(conn),
        None => prepare_ours(&Sql::local(conn)),
    };
    let steps = match converted {
        Ok(steps) => {
            conn.execute_batch("COMMIT").context("cannot commit the conversion; the file is unchanged")?;
            steps
        }
        Err(err) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(err.context("the conversion failed and was rolled back; the file is unchanged"));
        }
    };
    conn.execute_batch("CHECKPOINT").context("cannot checkpoint the converted file")?;
    Ok(Converted { from, backup, steps })
}

/// Copies the file byte for byte to `NAME.before-migrate-N.duckdb` beside it, while no
/// process has it open (DuckDB's lock was just free), and checks that it did not change
/// during the copy (size and modification time before and after).
fn backup(path: &Path) -> anyhow::Result<PathBuf> {
    let stem = path.file_name().and_then(|n| n.to_str()).unwrap_or("healthsim.duckdb");
    let target = (1..)
        .map(|n| path.with_file_name(format!("{stem}.before-migrate-{n}.duckdb")))
        .find(|p| !p.exists())
        .expect("some backup name is free");
    let before = file_stamp(path)?;
    let copied = std::fs::copy(path, &target);
    let after = file_stamp(path)?;
    match copied {
        Ok(_) if before == after => Ok(target),
        Ok(_) => {
            let _ = std::fs::remove_file(&target);
            anyhow::bail!(
                "{} changed while it was being backed up; nothing was changed, run migrate again",
                path.display()
            )
        }
        Err(err) => {
            let _ = std::fs::remove_file(&target);
            anyhow::bail!(
                "cannot write the backup {} ({err}); nothing was changed, free space or check permissions",
                target.display()
            )
        }
    }
}

/// Size and modification time of a file.
fn file_stamp(path: &Path) -> anyhow::Result<(u64, std::time::SystemTime)> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((meta.len(), meta.modified()?))
}

/// Rebuilds a tooling layout as ours (inside the caller's transaction); returns the steps.
pub fn convert(conn: &Connection, layout: &Layout) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    // A deletion left half done (two transactions under foreign keys) is finished.
    let pending: i64 = conn.query_row(
        &format!(
            "SELECT count(*) FROM {} WHERE json_extract_string(metadata, '$.{DELETING_KEY}') = 'true'",
            quote(layout.scenarios)
        ),
        [],
        |r| r.get(0),
    )?;
    // Stage the scenario tables under our column names, every other column kept.
    let rename = |table: &str, from: &str, extra_filter: &str| {
        let select = if from == "scenario_id" {
            "*".to_owned()
        } else {
            format!("* EXCLUDE ({}), {} AS scenario_id", quote(from), quote(from))
        };
        format!(
            "CREATE TEMP TABLE {} AS SELECT {select} FROM main.{}{extra_filter};",
            quote(&format!("hs_{table}")),
            quote(table)
        )
    };
    let hidden = format!(" WHERE true{}", layout.visible(""));
    conn.execute_batch(&format!(
        "{}\n{}\n{}",
        rename(layout.scenarios, layout.key, &hidden),
        rename(layout.entities, layout.owner, ""),
        rename(layout.tags, layout.owner, ""),
    ))
    .context("cannot stage the scenario tables")?;
    if pending > 0 {
        steps.push(format!("finish {pending} deletion(s) left half done"));
    }
    let referencing = referencing_tables(conn)?;
    // Children before parents; every old state table goes, except a cohorts table other
    // tables of the tooling (profile and journey executions) still reference.
    let mut drop = vec![layout.entities, layout.tags];
    let stale_scenarios = layout.family == Family::Cohorts;
    if stale_scenarios {
        for table in ["scenario_entities", "scenario_tags"] {
            if table_exists(conn, table)? {
                drop.push(table);
            }
        }
    }
    let parent_referenced =
        referencing.get(layout.scenarios).is_some_and(|by| by.iter().any(|t| t != layout.entities && t != layout.tags));
    if !parent_referenced {
        drop.push(layout.scenarios);
    }
    if stale_scenarios && table_exists(conn, "scenarios")? {
        drop.push("scenarios");
    }
    for table in &drop {
        conn.execute_batch(&format!("DROP TABLE main.{}", quote(table)))
            .with_context(|| format!("cannot replace table {table}"))?;
    }
    if layout.family == Family::Cohorts {
        steps.push(format!(
            "move cohorts to scenarios, cohort_entities to scenario_entities, cohort_tags to scenario_tags{}",
            if parent_referenced { " (cohorts stays: profile and journey executions reference it)" } else { "" }
        ));
        if drop.contains(&"scenario_entities") || drop.contains(&"scenarios") {
            steps.push("drop the stale pre-1.5 scenario tables (the backup keeps them)".to_owned());
        }
    } else {
        steps.push(format!(
            "rebuild scenarios{}, scenario_entities and scenario_tags without foreign keys",
            if layout.key == "id" { " keyed by scenario_id (was id)" } else { "" }
        ));
    }
    let sources =
        [("scenarios", layout.scenarios), ("scenario_entities", layout.entities), ("scenario_tags", layout.tags)];
    for table in rebuild_from_staged(conn, sources, layout.canonical_owner)? {
        steps.push(format!("rebuild {table} owned by scenario_id, without keys"));
    }
    if table_exists(conn, "scenarios_new")? {
        let n: i64 = conn.query_row("SELECT count(*) FROM main.scenarios_new", [], |r| r.get(0))?;
        if n == 0 {
            conn.execute_batch("DROP TABLE main.scenarios_new")?;
            steps.push("drop the empty scenarios_new a failed tooling upgrade left".to_owned());
        }
    }
    steps.extend(prepare_ours(&Sql::local(conn))?.into_iter().filter(|s| !s.starts_with("record layout label")));
    steps.push(format!("record layout label {}", schema::OUR_LABEL));
    Ok(steps)
}

/// Whether a file of ours still has the keys and indexes our layout had before December
/// 2026 (on its scenario and canonical tables; `schema_migrations` keeps its key).
fn has_keys(conn: &Connection) -> anyhow::Result<bool> {
    let ours: Vec<String> = ["scenarios", "scenario_entities", "scenario_tags"]
        .into_iter()
        .chain(canonical_tables().iter().map(|t| t.name))
        .map(|name| format!("'{name}'"))
        .collect();
    let ours = ours.join(", ");
    let n: i64 = conn.query_row(
        &format!(
            "SELECT (SELECT count(*) FROM duckdb_constraints()
                     WHERE database_name = current_database() AND schema_name = 'main'
                       AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') AND table_name IN ({ours}))
                  + (SELECT count(*) FROM duckdb_indexes()
                     WHERE database_name = current_database() AND schema_name = 'main' AND table_name IN ({ours}))"
        ),
        [],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Rebuilds a file of ours made before December 2026 without its keys and indexes
/// (inside the caller's transaction), keeping every row, column and id; returns the steps.
fn unkey(conn: &Connection) -> anyhow::Result<Vec<String>> {
    let state = ["scenarios", "scenario_entities", "scenario_tags"];
    for table in state {
        conn.execute_batch(&format!(
            "CREATE TEMP TABLE {} AS SELECT * FROM main.{};",
            quote(&format!("hs_{table}")),
            quote(table)
        ))
        .with_context(|| format!("cannot stage table {table}"))?;
    }
    for table in state.iter().rev() {
        conn.execute_batch(&format!("DROP TABLE main.{}", quote(table)))
            .with_context(|| format!("cannot replace table {table}"))?;
    }
    rebuild_from_staged(conn, state.map(|table| (table, table)), "scenario_id")?;
    let mut steps = vec![
        "rebuild scenarios, scenario_entities and scenario_tags without keys or indexes".to_owned(),
        "rebuild the canonical tables without keys or indexes".to_owned(),
    ];
    steps.extend(prepare_ours(&Sql::local(conn))?);
    Ok(steps)
}

/// Creates our state tables and fills them from the staged copies (`temp.hs_THEIRS` for
/// each `(ours, theirs)`, dropped after), moves the sequences past the copied ids, then
/// rebuilds every canonical table in our shape (its owner column `owner` becoming
/// `scenario_id`); returns the canonical tables rebuilt.
fn rebuild_from_staged(
    conn: &Connection,
    sources: [(&str, &str); 3],
    owner: &str,
) -> anyhow::Result<Vec<&'static str>> {
    conn.execute_batch(schema::STATE_DDL).context("cannot create the state tables")?;
    for (table, ddl) in CHILD_TABLES {
        conn.execute_batch(&ddl(table)).with_context(|| format!("cannot create table {table}"))?;
    }
    for (ours, theirs) in sources {
        let staged = format!("hs_{theirs}");
        copy_into(conn, &staged, ours)?;
        conn.execute_batch(&format!("DROP TABLE temp.{}", quote(&staged)))?;
    }
    advance_sequences(conn)?;
    let tables = schema::main_tables(&Sql::local(conn))?;
    let mut rebuilt = Vec::new();
    for spec in canonical_tables() {
        let Some(old) = tables.get(spec.name) else { continue };
        rebuild_table(conn, spec, old, owner).with_context(|| format!("cannot rebuild table {}", spec.name))?;
        rebuilt.push(spec.name);
    }
    Ok(rebuilt)
}

/// Moves the entity and tag sequences past every id their tables hold (rows copied with
/// their ids): our writes number rows from the sequences alone.
fn advance_sequences(conn: &Connection) -> anyhow::Result<()> {
    for (table, sequence) in [("scenario_entities", "scenario_entities_seq"), ("scenario_tags", "scenario_tags_seq")] {
        let highest: Option<i64> =
            conn.query_row(&format!("SELECT max(id) FROM main.{}", quote(table)), [], |r| r.get(0))?;
        let next: i64 = conn.query_row(&format!("SELECT nextval('{sequence}')"), [], |r| r.get(0))?;
        if let Some(highest) = highest.filter(|h| *h >= next) {
            conn.query_row(&format!("SELECT count(nextval('{sequence}')) FROM range(?)"), [highest - next], |r| {
                r.get::<_, i64>(0)
            })?;
        }
    }
    Ok(())
}

/// Inserts every row of temp table `staged` into `table`, adding its unknown columns first.
fn copy_into(conn: &Connection, staged: &str, table: &str) -> anyhow::Result<()> {
    let all = schema::main_tables(&Sql::local(conn))?;
    let target = all.get(table).cloned().unwrap_or_default();
    let source: Vec<String> = {
        let mut stmt = conn.prepare(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = 'temp' AND table_name = ? ORDER BY column_index",
        )?;
        let rows: Vec<(String, String)> =
            stmt.query_map([staged], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        for (column, ty) in &rows {
            if !target.contains_key(column) {
                conn.execute_batch(&format!("ALTER TABLE main.{} ADD COLUMN {} {ty}", quote(table), quote(column)))?;
            }
        }
        rows.into_iter().map(|(c, _)| c).collect()
    };
    let list = source.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
    conn.execute_batch(&format!(
        "INSERT INTO main.{} ({list}) SELECT {list} FROM temp.{}",
        quote(table),
        quote(staged)
    ))
    .with_context(|| format!("cannot copy rows into {table}"))?;
    Ok(())
}

/// Rebuilds a canonical table in our shape (owned by `scenario_id`, no key or index),
/// keeping every row and every column (the owner column becomes `scenario_id`; a
/// `cohort_id` column stays beside it).
fn rebuild_table(
    conn: &Connection,
    spec: &crate::model::TableSpec,
    old_columns: &BTreeMap<String, String>,
    owner: &str,
) -> anyhow::Result<()> {
    let staging = format!("{}__healthsim_migrating", spec.name);
    conn.execute_batch(&create_table_sql(spec, &staging))?;
    let known: BTreeSet<&str> = all_column_names(spec).collect();
    for (column, ty) in old_columns {
        if !known.contains(column.as_str()) {
            conn.execute_batch(&format!("ALTER TABLE {} ADD COLUMN {} {ty};", quote(&staging), quote(column)))?;
        }
    }
    let mut targets: Vec<String> =
        old_columns.keys().filter(|c| c.as_str() != "scenario_id").map(|c| quote(c)).collect();
    let mut sources = targets.clone();
    let owner_sources: Vec<String> =
        [owner, "scenario_id"].iter().filter(|c| old_columns.contains_key(**c)).map(|c| quote(c)).collect();
    targets.push("scenario_id".to_owned());
    sources.push(format!(
        "coalesce({}, '')",
        if owner_sources.is_empty() { "NULL".to_owned() } else { owner_sources.join(", ") }
    ));
    conn.execute_batch(&format!(
        "INSERT INTO {staging_q} ({}) SELECT {} FROM {old};
         DROP TABLE {old};
         ALTER TABLE {staging_q} RENAME TO {old};",
        targets.join(", "),
        sources.join(", "),
        staging_q = quote(&staging),
        old = quote(spec.name),
    ))?;
    Ok(())
}

fn table_exists(conn: &Connection, table: &str) -> anyhow::Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?",
        [table],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Referenced table → the tables whose foreign keys reference it.
fn referencing_tables(conn: &Connection) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let mut stmt = conn.prepare(
        "SELECT referenced_table, table_name FROM duckdb_constraints()
         WHERE database_name = current_database() AND schema_name = 'main' AND constraint_type = 'FOREIGN KEY'",
    )?;
    let rows: Vec<(String, String)> = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (referenced, table) in rows {
        by.entry(referenced).or_default().push(table);
    }
    Ok(by)
}
