//! Which HealthSim layout a file has, recognised by its tables and columns (never by a
//! version label alone: the Python tooling and earlier builds of this server both wrote
//! `1.3`), and the names the scenario aggregate has in it. The tools speak of scenarios;
//! a file in the tooling's cohort layouts stores them as cohorts, and every query is
//! written once, from a [`Layout`]'s names, when the file is opened.
//!
//! Three families:
//! - **ours**: `scenarios.scenario_id`, canonical rows keyed per scenario, no foreign keys
//!   (files this server created or converted with `healthsim-mcp migrate`);
//! - **scenarios**: the tooling's layouts 1.2 to 1.4 (`scenarios.scenario_id`, or `.id`
//!   from 1.4), canonical rows keyed by id alone, foreign keys from the entity and tag
//!   tables in files it created;
//! - **cohorts**: the tooling's layouts 1.5 to 1.7 (`cohorts.id`, `cohort_entities`,
//!   `cohort_tags`, canonical column `cohort_id`), also keyed by id alone.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::engine::Sql;
use anyhow::Context;

use super::schema::{OUR_LABEL, all_column_names};
use crate::model::canonical_tables;

/// The newest layout of the tooling this server knows.
pub const NEWEST_TOOLING_VERSION: &str = "1.7";

/// Metadata key that hides a scenario whose deletion is half done (layouts with foreign
/// keys need two transactions; see [`Layout::child_foreign_keys`]).
pub const DELETING_KEY: &str = "healthsim_mcp_deleting";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Ours,
    Scenarios,
    Cohorts,
}

/// What a file holds, as far as scenarios go.
#[derive(Debug, Clone)]
pub enum Detected {
    /// No scenario tables at all: a new file (or reference data only). A write creates our layout.
    Empty,
    Known(Arc<Layout>),
    /// Scenario tables of a shape we do not understand: every scenario tool says this.
    Unknown(String),
}

/// One canonical table as this file has it.
#[derive(Debug, Clone)]
pub struct TableShape {
    /// Column name → NOT NULL.
    pub columns: BTreeMap<String, bool>,
    /// Primary key `(owner, id)` (ours) rather than the id alone.
    pub keyed_per_scenario: bool,
}

/// The names of the scenario aggregate in one file, and the SQL written from them.
#[derive(Debug, Clone)]
pub struct Layout {
    pub family: Family,
    /// For messages: "HealthSim 1.7 layout (cohorts)", "healthsim-mcp layout".
    pub description: String,
    /// `scenarios` or `cohorts`.
    pub scenarios: &'static str,
    /// Its key column: `scenario_id` or `id`.
    pub key: &'static str,
    pub entities: &'static str,
    pub tags: &'static str,
    /// Owner column of the entity and tag tables.
    pub owner: &'static str,
    pub entities_seq: &'static str,
    pub tags_seq: &'static str,
    /// Owner column of the canonical tables.
    pub canonical_owner: &'static str,
    /// Canonical tables present, by name.
    pub canonical: BTreeMap<&'static str, TableShape>,
    /// The entity or tag table references the scenario table: DuckDB then refuses to
    /// delete a scenario in the transaction that deleted its rows, so a delete takes two.
    pub child_foreign_keys: bool,
    /// `Some(reason)` when this server must not write to the file.
    pub read_only_reason: Option<String>,
    /// Labels in `schema_migrations`.
    pub labels: Vec<String>,
    /// The database is a DuckLake: no keys, indexes or sequences (its writers are
    /// serialised instead, and ids numbered from the highest; see `remote.rs`).
    pub lake: bool,
    pub sql: Statements,
}

/// The scenario aggregate's statements, written once per layout.
#[derive(Debug, Clone)]
pub struct Statements {
    /// Columns of a scenario row: id, name, description, created, updated, metadata.
    pub scenario_columns: String,
    /// `FROM ... WHERE` prefix for resolution: append a condition on `name`/the key.
    pub resolve_from: String,
    pub list: String,
    pub tags: String,
    pub entities: String,
    pub entity_counts: String,
    /// Names, descriptions and the number matching, of scenarios whose name starts with
    /// ?1 (case-insensitive), by name; ?2 rows from offset ?3.
    pub names: String,
}

impl Layout {
    fn new(family: Family, key: &'static str, canonical_owner: &'static str) -> Layout {
        let (scenarios, entities, tags, owner, entities_seq, tags_seq) = match family {
            Family::Cohorts => {
                ("cohorts", "cohort_entities", "cohort_tags", "cohort_id", "cohort_entities_seq", "cohort_tags_seq")
            }
            _ => (
                "scenarios",
                "scenario_entities",
                "scenario_tags",
                "scenario_id",
                "scenario_entities_seq",
                "scenario_tags_seq",
            ),
        };
        let mut layout = Layout {
            family,
            description: String::new(),
            scenarios,
            key,
            entities,
            tags,
            owner,
            entities_seq,
            tags_seq,
            canonical_owner,
            canonical: BTreeMap::new(),
            child_foreign_keys: false,
            read_only_reason: None,
            labels: Vec::new(),
            lake: false,
            sql: Statements {
                scenario_columns: String::new(),
                resolve_from: String::new(),
                list: String::new(),
                tags: String::new(),
                entities: String::new(),
                entity_counts: String::new(),
                names: String::new(),
            },
        };
        layout.sql = layout.statements();
        layout
    }

    /// Condition hiding scenarios whose deletion is half done (only layouts with foreign keys have them).
    pub(crate) fn visible(&self, alias: &str) -> String {
        if self.child_foreign_keys {
            format!(" AND json_extract_string({alias}metadata, '$.{DELETING_KEY}') IS DISTINCT FROM 'true'")
        } else {
            String::new()
        }
    }

    fn statements(&self) -> Statements {
        let (s, key, e, t, owner) = (self.scenarios, self.key, self.entities, self.tags, self.owner);
        let scenario_columns = format!(
            "{key}, name, description, strftime(created_at, '%Y-%m-%dT%H:%M:%S.%f'), \
             strftime(updated_at, '%Y-%m-%dT%H:%M:%S.%f'), CAST(metadata AS VARCHAR)"
        );
        let visible = self.visible("");
        let resolve_from = format!("SELECT {scenario_columns} FROM {s} WHERE true{visible} AND ");
        // Counts and tags come from two grouped joins rather than correlated subqueries:
        // DuckDB plans that about 1.5 ms faster, and this is the most frequent call.
        let list = format!(
            "SELECT s.{key}, s.name, s.description, coalesce(e.n, 0), coalesce(t.tags, []),
                   strftime(s.created_at, '%Y-%m-%dT%H:%M:%S.%f'), strftime(s.updated_at, '%Y-%m-%dT%H:%M:%S.%f')
            FROM {s} s
            LEFT JOIN (SELECT {owner} AS k, count(*) AS n FROM {e} GROUP BY ALL) e ON e.k = s.{key}
            LEFT JOIN (SELECT {owner} AS k, list(tag ORDER BY id) AS tags FROM {t} GROUP BY ALL) t ON t.k = s.{key}
            WHERE (CAST(?1 AS VARCHAR) IS NULL OR EXISTS (
                      SELECT 1 FROM {t} f WHERE f.{owner} = s.{key} AND lower(f.tag) = lower(?1)))
              AND (CAST(?2 AS VARCHAR) IS NULL OR contains(lower(s.name), lower(?2))
                   OR contains(lower(coalesce(s.description, '')), lower(?2))){visible}
            ORDER BY s.updated_at DESC NULLS LAST, s.name
            LIMIT ?3",
            visible = self.visible("s."),
        );
        Statements {
            scenario_columns,
            resolve_from,
            list,
            tags: format!("SELECT id, tag FROM {t} WHERE {owner} = ?"),
            entities: format!("SELECT id, entity_type, CAST(entity_data AS VARCHAR) FROM {e} WHERE {owner} = ?"),
            entity_counts: format!(
                "SELECT min(id), entity_type, count(*) FROM {e} WHERE {owner} = ? GROUP BY entity_type"
            ),
            names: format!(
                "SELECT name, description, count(*) OVER () FROM {s}
                 WHERE starts_with(lower(name), lower(?1)){visible} ORDER BY name LIMIT ?2 OFFSET ?3"
            ),
        }
    }

    /// Ours, labelled, with every table and column of our layout: nothing to prepare
    /// before a write (what `schema::prepare_ours` would otherwise probe for).
    pub fn complete(&self) -> bool {
        self.family == Family::Ours
            && self.labels.iter().any(|l| l == OUR_LABEL)
            && canonical_tables().iter().all(|spec| {
                self.canonical.get(spec.name).is_some_and(|t| {
                    t.keyed_per_scenario
                        && all_column_names(spec).all(|c| t.columns.contains_key(c))
                        && spec.columns.iter().all(|c| c.not_null || t.columns.get(c.name) == Some(&false))
                })
            })
    }

    /// The canonical table `name` with every column in `columns`, if this file has it.
    pub fn has(&self, name: &str, columns: &[&str]) -> bool {
        self.canonical.get(name).is_some_and(|t| {
            t.columns.contains_key(self.canonical_owner) && columns.iter().all(|c| t.columns.contains_key(*c))
        })
    }
}

/// A table's columns as `duckdb_columns()` reports them: name → NOT NULL.
type Tables = BTreeMap<String, BTreeMap<String, bool>>;

/// Recognises the layout of the file behind `conn` (any connection; read-only is enough).
pub fn detect(conn: &Sql<'_>) -> anyhow::Result<Detected> {
    let state_tables = ["scenarios", "scenario_entities", "scenario_tags", "cohorts", "cohort_entities", "cohort_tags"];
    let present = table_names(conn)?;
    if !state_tables.iter().any(|t| present.contains(*t)) {
        return Ok(Detected::Empty);
    }
    let (tables, keys) = table_info(conn, &present)?;
    let has =
        |table: &str, columns: &[&str]| tables.get(table).is_some_and(|c| columns.iter().all(|n| c.contains_key(*n)));
    let labels = labels(conn, &tables)?;
    let referencing = foreign_key_tables(conn)?;
    let entity_columns = ["id", "entity_type", "entity_id", "entity_data", "created_at"];
    let scenario_columns = ["name", "description", "created_at", "updated_at", "metadata"];
    let labelled_ours = labels.iter().any(|l| l == OUR_LABEL);
    let mut layout = if has("cohorts", &[&["id"][..], &scenario_columns].concat())
        && has("cohort_entities", &[&["cohort_id"][..], &entity_columns].concat())
        && has("cohort_tags", &["cohort_id", "tag", "id"])
        && !labelled_ours
    {
        Layout::new(Family::Cohorts, "id", "cohort_id")
    } else if labelled_ours && has("scenarios", &["scenario_id"]) {
        // Ours, perhaps missing a table or column another program dropped: the next
        // write restores it (`schema::prepare_ours`).
        Layout::new(Family::Ours, "scenario_id", "scenario_id")
    } else if has("scenarios", &scenario_columns)
        && has("scenario_entities", &[&["scenario_id"][..], &entity_columns].concat())
        && has("scenario_tags", &["scenario_id", "tag", "id"])
    {
        let key = if has("scenarios", &["scenario_id"]) {
            "scenario_id"
        } else if has("scenarios", &["id"]) {
            "id"
        } else {
            return Ok(Detected::Unknown(unknown("table scenarios has neither a scenario_id nor an id column")));
        };
        let per_scenario = canonical_tables().iter().filter(|spec| tables.contains_key(spec.name)).all(|spec| {
            // (Key columns in table order: ours declares the id first.)
            keys.get(spec.name).is_some_and(|k| {
                k.len() == 2 && k.iter().any(|c| c == "scenario_id") && k.iter().any(|c| c == spec.id_column)
            })
        });
        let child_keys = referencing.contains("scenario_entities") || referencing.contains("scenario_tags");
        // An earlier build of this server labelled its layout `1.3`, as the tooling did;
        // its canonical keys tell them apart.
        let any_canonical = canonical_tables().iter().any(|spec| tables.contains_key(spec.name));
        let ours = key == "scenario_id" && !child_keys && per_scenario && any_canonical;
        let family = if ours { Family::Ours } else { Family::Scenarios };
        Layout::new(family, key, "scenario_id")
    } else {
        let present: Vec<&str> = state_tables.iter().copied().filter(|t| tables.contains_key(*t)).collect();
        return Ok(Detected::Unknown(unknown(&format!(
            "it has {} but not the columns of any HealthSim layout (1.2 to {NEWEST_TOOLING_VERSION})",
            present.join(", ")
        ))));
    };
    layout.child_foreign_keys = referencing.contains(layout.entities) || referencing.contains(layout.tags);
    layout.lake = conn.is_lake()?;
    for spec in canonical_tables() {
        if let Some(columns) = tables.get(spec.name) {
            // Our layout has no keys since December 2026 (nor has a DuckLake): its rows are
            // kept unique per scenario by our writes.
            let keyed_per_scenario = keys.get(spec.name).is_some_and(|k| k.len() == 2) || layout.family == Family::Ours;
            layout.canonical.insert(spec.name, TableShape { columns: columns.clone(), keyed_per_scenario });
        }
    }
    let newest = newest_numeric(&labels);
    layout.description = match layout.family {
        Family::Ours => "healthsim-mcp layout".to_owned(),
        Family::Scenarios => format!("the HealthSim {} scenario layout", newest.as_deref().unwrap_or("1.2-1.4")),
        Family::Cohorts => format!("the HealthSim {} cohort layout", newest.as_deref().unwrap_or("1.5-1.7")),
    };
    if layout.family != Family::Ours
        && let Some(newer) = newest.as_deref().filter(|v| version_newer(v, NEWEST_TOOLING_VERSION))
    {
        layout.read_only_reason = Some(format!(
            "the database layout is HealthSim {newer}, newer than the {NEWEST_TOOLING_VERSION} this server knows; \
             scenarios are served read-only: upgrade healthsim-mcp to save or delete"
        ));
    }
    layout.labels = labels;
    layout.sql = layout.statements();
    Ok(Detected::Known(Arc::new(layout)))
}

fn unknown(why: &str) -> String {
    format!(
        "this database's scenario tables are not a HealthSim layout this server understands ({why}); \
         point --db at another file, or open this one with the tool that created it"
    )
}

/// Names of the tables of schema `main`. (Without `estimated_size` in the projection
/// `duckdb_tables()` does not size every table: ~1 ms.)
fn table_names(conn: &Sql<'_>) -> anyhow::Result<BTreeSet<String>> {
    let mut stmt = conn.prepare(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect::<Result<_, _>>().context("cannot list tables")
}

/// Columns (→ NOT NULL) and primary keys of the tables a layout can involve, in one
/// statement over `pragma_table_info` (`duckdb_columns()` costs 12 ms on any instance).
fn table_info(conn: &Sql<'_>, present: &BTreeSet<String>) -> anyhow::Result<(Tables, BTreeMap<String, Vec<String>>)> {
    let wanted = [
        "schema_migrations",
        "scenarios",
        "scenario_entities",
        "scenario_tags",
        "cohorts",
        "cohort_entities",
        "cohort_tags",
    ]
    .into_iter()
    .chain(canonical_tables().iter().map(|t| t.name))
    .filter(|t| present.contains(*t));
    let sql = wanted
        .map(|t| format!("SELECT '{t}' AS t, cid, name, \"notnull\", pk FROM pragma_table_info('main.{t}')"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let mut tables = Tables::new();
    let mut keys: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    let mut stmt = conn.prepare(&format!("{sql} ORDER BY t, cid"))?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, bool>(3)?,
            r.get::<_, bool>(4)?,
        ))
    })?;
    for row in rows {
        let (table, index, column, not_null, pk) = row?;
        if pk {
            keys.entry(table.clone()).or_default().push((index, column.clone()));
        }
        tables.entry(table).or_default().insert(column, not_null);
    }
    let keys = keys.into_iter().map(|(t, columns)| (t, columns.into_iter().map(|(_, c)| c).collect())).collect();
    Ok((tables, keys))
}

/// Tables of `main` that have a foreign key.
pub(super) fn foreign_key_tables(conn: &Sql<'_>) -> anyhow::Result<BTreeSet<String>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT table_name FROM duckdb_constraints()
         WHERE database_name = current_database() AND schema_name = 'main' AND constraint_type = 'FOREIGN KEY'",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect::<Result<_, _>>().context("cannot read foreign keys")
}

fn labels(conn: &Sql<'_>, tables: &Tables) -> anyhow::Result<Vec<String>> {
    if !tables.get("schema_migrations").is_some_and(|c| c.contains_key("version")) {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT CAST(version AS VARCHAR) FROM main.schema_migrations")?;
    let rows = stmt.query_map([], |r| r.get::<_, Option<String>>(0))?;
    let labels: Vec<Option<String>> = rows.collect::<Result<_, _>>().context("cannot read schema_migrations")?;
    Ok(labels.into_iter().flatten().collect())
}

/// The highest dotted-numeric label (`1.7`), ignoring ours.
fn newest_numeric(labels: &[String]) -> Option<String> {
    labels
        .iter()
        .filter(|l| !l.is_empty() && l.split('.').all(|p| p.trim().parse::<u64>().is_ok()))
        .max_by(|a, b| if version_newer(a, b) { std::cmp::Ordering::Greater } else { std::cmp::Ordering::Less })
        .cloned()
}

/// Dotted numeric comparison (`1.10` > `1.9`); non-numeric parts compare as 0.
fn version_newer(version: &str, than: &str) -> bool {
    let parse = |v: &str| v.split('.').map(|p| p.trim().parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    parse(version) > parse(than)
}
