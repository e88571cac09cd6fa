//! The database layout: DDL (generated from `model::tables`), inspection of an existing
//! file, bootstrap and in-place migration. Everything here runs inside the caller's
//! transaction, so a migration applies entirely or not at all.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use duckdb::Connection;

use crate::model::tables::{ColumnType, PROVENANCE, TableSpec, canonical_tables};

/// The layout version this server writes. 1.2 is the Python tooling's (canonical primary
/// key on the id column alone); 1.3 keys canonical rows per scenario.
pub const CURRENT_VERSION: &str = "1.3";

const STATE_DDL: &str = "
CREATE SEQUENCE IF NOT EXISTS scenario_entities_seq START 1;
CREATE SEQUENCE IF NOT EXISTS scenario_tags_seq START 1;
CREATE TABLE IF NOT EXISTS schema_migrations (
    version VARCHAR NOT NULL PRIMARY KEY,
    description VARCHAR,
    applied_at TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS scenarios (
    scenario_id VARCHAR NOT NULL PRIMARY KEY,
    name VARCHAR NOT NULL UNIQUE,
    description VARCHAR,
    created_at TIMESTAMP,
    updated_at TIMESTAMP,
    metadata JSON
);
";

/// `CREATE TABLE` of a child table under a given name (migrations rebuild under a temporary one).
type ChildDdl = fn(&str) -> String;

/// The two tables that belong to a scenario, by name and DDL (under a given name).
///
/// Unlike the Python tooling's 1.2 layout they carry no `REFERENCES scenarios`: DuckDB
/// refuses to delete a referenced row in the transaction that deleted the rows referencing
/// it (its documented foreign-key limitation), so with the foreign keys a scenario could
/// not be deleted in one transaction. Every write goes through the server's write
/// transaction, which removes a scenario's rows together with the scenario.
const CHILD_TABLES: [(&str, ChildDdl); 2] = [
    ("scenario_entities", |name| {
        format!(
            "CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER NOT NULL DEFAULT nextval('scenario_entities_seq') PRIMARY KEY,
    scenario_id VARCHAR NOT NULL{KEY},
    entity_type VARCHAR NOT NULL{KEY},
    entity_id VARCHAR NOT NULL{KEY},
    entity_data JSON,
    created_at TIMESTAMP,
    UNIQUE (scenario_id, entity_type, entity_id)
);"
        )
    }),
    ("scenario_tags", |name| {
        format!(
            "CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER NOT NULL DEFAULT nextval('scenario_tags_seq') PRIMARY KEY,
    scenario_id VARCHAR NOT NULL{KEY},
    tag VARCHAR NOT NULL{KEY},
    UNIQUE (scenario_id, tag)
);"
        )
    }),
];

/// Storage of the indexed text columns of our tables: uncompressed.
///
/// Deleting rows (a scenario's delete or overwrite) removes their keys from every index at
/// commit, and DuckDB 2.0 fetches the indexed values of each deleted row one at a time; a
/// row of a dictionary/FSST-compressed segment costs a decode of much of its segment, so a
/// 100,000-entity scenario took 10.7 s to delete (12.7 s to overwrite) with the file
/// locked all along. Uncompressed, 0.8 s (2.3 s). The file grows ~20% with the bench's
/// small entities (ids are much of their data); the JSON and other columns stay
/// compressed. Types and constraints are as specified; only storage differs.
const KEY: &str = " USING COMPRESSION uncompressed";

const STATE_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS idx_scenario_entities_type ON scenario_entities (entity_type);
CREATE INDEX IF NOT EXISTS idx_scenario_entities_scenario ON scenario_entities (scenario_id);
CREATE INDEX IF NOT EXISTS idx_scenario_tags_scenario ON scenario_tags (scenario_id);
CREATE INDEX IF NOT EXISTS idx_scenario_tags_tag ON scenario_tags (tag);
";

/// What an existing file looks like to us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// No `scenarios` table: a new (or reference-data-only) file.
    Empty,
    /// Everything of ours exists at the current version.
    Current,
    /// Ours but older or incomplete; the reasons say what a migration will do.
    NeedsMigration(Vec<String>),
    /// A layout we do not understand; writes are refused with this reason.
    Unsupported(String),
}

/// Inspects the layout through any connection (read-only is enough).
pub fn inspect(conn: &Connection) -> anyhow::Result<Layout> {
    let tables = main_tables(conn)?;
    if !tables.contains_key("scenarios") {
        return Ok(Layout::Empty);
    }
    let scenario_columns = &tables["scenarios"];
    for required in ["scenario_id", "name"] {
        if !scenario_columns.contains_key(required) {
            return Ok(Layout::Unsupported(format!(
                "table scenarios has no {required} column, so this is not a HealthSim layout this server understands; \
                 point --db at another file or migrate it with the tooling that created it"
            )));
        }
    }
    let versions = recorded_versions(conn, &tables)?;
    if let Some(newer) = versions.iter().find(|v| version_newer(v, CURRENT_VERSION)) {
        return Ok(Layout::Unsupported(format!(
            "database layout version {newer} is newer than this server's {CURRENT_VERSION}; \
             upgrade healthsim-mcp to write to it"
        )));
    }
    let mut reasons = Vec::new();
    for table in ["schema_migrations", "scenario_entities", "scenario_tags"] {
        if !tables.contains_key(table) {
            reasons.push(format!("create table {table}"));
        }
    }
    let referencing = foreign_key_tables(conn)?;
    for (table, _) in CHILD_TABLES {
        if referencing.contains(table) {
            reasons.push(format!("drop the foreign key of {table}, so a scenario can be deleted in one transaction"));
        }
    }
    let keys = primary_keys(conn)?;
    for spec in canonical_tables() {
        match tables.get(spec.name) {
            None => reasons.push(format!("create table {}", spec.name)),
            Some(columns) => {
                let expected = vec!["scenario_id".to_owned(), spec.id_column.to_owned()];
                if keys.get(spec.name) != Some(&expected) {
                    reasons.push(format!("key {} by (scenario_id, {})", spec.name, spec.id_column));
                }
                let missing: Vec<&str> = all_column_names(spec).filter(|c| !columns.contains_key(*c)).collect();
                if !missing.is_empty() {
                    reasons.push(format!("add columns {} to {}", missing.join(", "), spec.name));
                }
            }
        }
    }
    if !versions.iter().any(|v| v == CURRENT_VERSION) {
        reasons.push(format!("record layout version {CURRENT_VERSION}"));
    }
    Ok(if reasons.is_empty() { Layout::Current } else { Layout::NeedsMigration(reasons) })
}

/// Brings the file to the current layout (inside the caller's transaction). Idempotent;
/// never drops a row or a column of user data. Returns the steps applied.
pub fn migrate(conn: &Connection) -> anyhow::Result<Vec<String>> {
    if recorded_current(conn)? {
        return Ok(Vec::new());
    }
    let layout = inspect(conn)?;
    let steps = match layout {
        Layout::Current => return Ok(Vec::new()),
        Layout::Unsupported(reason) => anyhow::bail!("{reason}"),
        Layout::Empty => vec!["create the HealthSim layout".to_owned()],
        Layout::NeedsMigration(reasons) => reasons,
    };
    conn.execute_batch(STATE_DDL).context("cannot create the state tables")?;
    let referencing = foreign_key_tables(conn)?;
    for (table, ddl) in CHILD_TABLES {
        if referencing.contains(table) {
            rebuild_without_foreign_key(conn, table, ddl).with_context(|| format!("cannot migrate table {table}"))?;
        } else {
            conn.execute_batch(&ddl(table)).with_context(|| format!("cannot create table {table}"))?;
        }
    }
    conn.execute_batch(STATE_INDEXES).context("cannot index the state tables")?;
    add_missing_state_columns(conn)?;
    let tables = main_tables(conn)?;
    let keys = primary_keys(conn)?;
    for spec in canonical_tables() {
        match tables.get(spec.name) {
            None => conn.execute_batch(&create_table_sql(spec, spec.name)).map_err(anyhow::Error::from),
            Some(columns) => {
                let expected = vec!["scenario_id".to_owned(), spec.id_column.to_owned()];
                if keys.get(spec.name) == Some(&expected) {
                    add_missing_columns(conn, spec, columns)
                } else {
                    rekey_table(conn, spec, columns)
                }
            }
        }
        .with_context(|| format!("cannot migrate table {}", spec.name))?;
        conn.execute_batch(&index_sql(spec)).with_context(|| format!("cannot index table {}", spec.name))?;
    }
    let now = crate::db::values::utc_now_text();
    conn.execute(
        "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, CAST(? AS TIMESTAMP))
         ON CONFLICT (version) DO NOTHING",
        duckdb::params![CURRENT_VERSION, format!("healthsim-mcp layout: {}", steps.join("; ")), now],
    )
    .context("cannot record the layout version")?;
    Ok(steps)
}

/// The cheap check every write makes first: this version is recorded, none newer, and
/// every table of ours exists. Existence is checked by binding one statement over all of
/// them (a missing table fails to bind): listing `duckdb_tables()` on a freshly opened
/// instance costs 8-11 ms because it sizes every table, this about 3 ms.
fn recorded_current(conn: &Connection) -> anyhow::Result<bool> {
    let probes: Vec<String> = ["scenarios"]
        .into_iter()
        .chain(CHILD_TABLES.iter().map(|(name, _)| *name))
        .chain(canonical_tables().iter().map(|t| t.name))
        .map(|name| format!("(SELECT NULL FROM main.{} LIMIT 0)", quote(name)))
        .collect();
    let sql =
        format!("SELECT CAST(version AS VARCHAR) FROM main.schema_migrations UNION ALL {}", probes.join(" UNION ALL "));
    // On a connection of its own: a statement that fails to bind aborts the transaction
    // it runs in, and the caller's transaction must survive to migrate.
    let probe = conn.try_clone().context("cannot open a connection to check the layout")?;
    let Ok(mut stmt) = probe.prepare(&sql) else {
        // Something is missing; the full inspection says what.
        return Ok(false);
    };
    let versions: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(versions.iter().any(|v| v == CURRENT_VERSION) && !versions.iter().any(|v| version_newer(v, CURRENT_VERSION)))
}

/// `CREATE TABLE` for a canonical table under `name`, keyed per scenario.
pub fn create_table_sql(spec: &TableSpec, name: &str) -> String {
    let mut columns: Vec<String> = spec
        .columns
        .iter()
        .map(|c| {
            let mut text = format!("{} {}", quote(c.name), c.ty.sql());
            if c.not_null {
                text.push_str(" NOT NULL");
            }
            if c.ty == ColumnType::Varchar && (c.name == spec.id_column || spec.indexes.contains(&c.name)) {
                text.push_str(KEY);
            }
            if let Some(default) = c.default {
                let literal = match c.ty {
                    ColumnType::Varchar => format!("'{}'", default.replace('\'', "''")),
                    _ => default.to_owned(),
                };
                text.push_str(&format!(" DEFAULT {literal}"));
            }
            text
        })
        .collect();
    columns.extend(PROVENANCE.iter().map(|(name, ty)| {
        if *name == "scenario_id" { format!("{name} VARCHAR NOT NULL{KEY}") } else { format!("{name} {ty}") }
    }));
    columns.push(format!("PRIMARY KEY (scenario_id, {})", quote(spec.id_column)));
    format!("CREATE TABLE {} (\n    {}\n);", quote(name), columns.join(",\n    "))
}

fn index_sql(spec: &TableSpec) -> String {
    spec.indexes
        .iter()
        .copied()
        .chain(std::iter::once("scenario_id"))
        .map(|column| {
            format!(
                "CREATE INDEX IF NOT EXISTS {} ON {} ({});",
                quote(&format!("idx_{}_{}", spec.name, column)),
                quote(spec.name),
                quote(column)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every column name of a canonical table, data then provenance.
pub fn all_column_names(spec: &TableSpec) -> impl Iterator<Item = &'static str> + '_ {
    spec.columns.iter().map(|c| c.name).chain(PROVENANCE.iter().map(|(n, _)| *n))
}

/// Rebuilds a 1.2 table (key on the id column alone) with the per-scenario key, keeping
/// every row and every column, including columns we do not know.
fn rekey_table(conn: &Connection, spec: &TableSpec, old_columns: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let staging = format!("{}__healthsim_migrating", spec.name);
    conn.execute_batch(&create_table_sql(spec, &staging))?;
    let known: BTreeSet<&str> = all_column_names(spec).collect();
    for (column, ty) in old_columns {
        if !known.contains(column.as_str()) {
            conn.execute_batch(&format!("ALTER TABLE {} ADD COLUMN {} {ty};", quote(&staging), quote(column)))?;
        }
    }
    let copied: Vec<&String> = old_columns.keys().collect();
    let targets = copied.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
    let sources = copied
        .iter()
        .map(|c| if c.as_str() == "scenario_id" { "coalesce(scenario_id, '')".to_owned() } else { quote(c) })
        .collect::<Vec<_>>()
        .join(", ");
    conn.execute_batch(&format!(
        "INSERT INTO {staging_q} ({targets}) SELECT {sources} FROM {old};
         DROP TABLE {old};
         ALTER TABLE {staging_q} RENAME TO {old};",
        staging_q = quote(&staging),
        old = quote(spec.name),
    ))?;
    Ok(())
}

/// Rebuilds a 1.2 child table without its foreign key, keeping every row and column.
fn rebuild_without_foreign_key(conn: &Connection, table: &str, ddl: fn(&str) -> String) -> anyhow::Result<()> {
    let staging = format!("{table}__healthsim_migrating");
    conn.execute_batch(&ddl(&staging))?;
    let old_columns = main_tables(conn)?.remove(table).unwrap_or_default();
    let new_columns = main_tables(conn)?.remove(&staging).unwrap_or_default();
    for (column, ty) in &old_columns {
        if !new_columns.contains_key(column) {
            conn.execute_batch(&format!("ALTER TABLE {} ADD COLUMN {} {ty};", quote(&staging), quote(column)))?;
        }
    }
    let columns = old_columns.keys().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
    conn.execute_batch(&format!(
        "INSERT INTO {staging_q} ({columns}) SELECT {columns} FROM {old};
         DROP TABLE {old};
         ALTER TABLE {staging_q} RENAME TO {old};",
        staging_q = quote(&staging),
        old = quote(table),
    ))?;
    Ok(())
}

/// Tables of `main` that have a foreign key.
fn foreign_key_tables(conn: &Connection) -> anyhow::Result<BTreeSet<String>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT table_name FROM duckdb_constraints()
         WHERE database_name = current_database() AND schema_name = 'main' AND constraint_type = 'FOREIGN KEY'",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect::<Result<_, _>>().context("cannot read foreign keys")
}

fn add_missing_columns(conn: &Connection, spec: &TableSpec, columns: &BTreeMap<String, String>) -> anyhow::Result<()> {
    for column in &spec.columns {
        if !columns.contains_key(column.name) {
            conn.execute_batch(&format!(
                "ALTER TABLE {} ADD COLUMN {} {};",
                quote(spec.name),
                quote(column.name),
                column.ty.sql()
            ))?;
        }
    }
    for (name, ty) in PROVENANCE {
        if !columns.contains_key(*name) {
            conn.execute_batch(&format!("ALTER TABLE {} ADD COLUMN {name} {ty};", quote(spec.name)))?;
        }
    }
    Ok(())
}

fn add_missing_state_columns(conn: &Connection) -> anyhow::Result<()> {
    let wanted: &[(&str, &str, &str)] = &[
        ("scenarios", "description", "VARCHAR"),
        ("scenarios", "created_at", "TIMESTAMP"),
        ("scenarios", "updated_at", "TIMESTAMP"),
        ("scenarios", "metadata", "JSON"),
        ("scenario_entities", "entity_data", "JSON"),
        ("scenario_entities", "created_at", "TIMESTAMP"),
    ];
    let tables = main_tables(conn)?;
    for (table, column, ty) in wanted {
        if tables.get(*table).is_some_and(|columns| !columns.contains_key(*column)) {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty};"))?;
        }
    }
    Ok(())
}

/// Tables of schema `main` → (column → type).
fn main_tables(conn: &Connection) -> anyhow::Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut stmt = conn.prepare(
        "SELECT table_name, column_name, data_type FROM duckdb_columns()
         WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal
         ORDER BY table_name, column_index",
    )?;
    let mut tables: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
    for row in rows {
        let (table, column, ty) = row?;
        tables.entry(table).or_default().insert(column, ty);
    }
    Ok(tables)
}

/// Table → its primary key columns, for tables of `main`.
fn primary_keys(conn: &Connection) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let mut stmt = conn.prepare(
        "SELECT table_name, constraint_column_names FROM duckdb_constraints()
         WHERE database_name = current_database() AND schema_name = 'main' AND constraint_type = 'PRIMARY KEY'",
    )?;
    let rows = stmt.query_map([], |r| {
        let columns = match r.get::<_, duckdb::types::Value>(1)? {
            duckdb::types::Value::List(items) => items
                .into_iter()
                .filter_map(|v| if let duckdb::types::Value::Text(s) = v { Some(s) } else { None })
                .collect(),
            _ => Vec::new(),
        };
        Ok((r.get::<_, String>(0)?, columns))
    })?;
    rows.collect::<Result<_, _>>().context("cannot read primary keys")
}

fn recorded_versions(
    conn: &Connection,
    tables: &BTreeMap<String, BTreeMap<String, String>>,
) -> anyhow::Result<Vec<String>> {
    if !tables.contains_key("schema_migrations") {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT CAST(version AS VARCHAR) FROM schema_migrations")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect::<Result<_, _>>().context("cannot read schema_migrations")
}

/// Dotted numeric comparison (`1.10` > `1.9`); non-numeric parts compare as 0.
fn version_newer(version: &str, than: &str) -> bool {
    let parse = |v: &str| v.split('.').map(|p| p.trim().parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    parse(version) > parse(than)
}

/// Double-quotes an identifier.
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Connection {
        Connection::open_in_memory().unwrap()
    }

    /// A new database gets every table, is then current, and migrating again is a no-op.
    #[test]
    fn bootstrap_is_complete_and_idempotent() {
        let conn = memory();
        assert_eq!(inspect(&conn).unwrap(), Layout::Empty);
        let steps = migrate(&conn).unwrap();
        assert_eq!(steps, vec!["create the HealthSim layout".to_owned()]);
        assert_eq!(inspect(&conn).unwrap(), Layout::Current);
        assert!(migrate(&conn).unwrap().is_empty());
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 4 + 17);
        let version: String = conn.query_row("SELECT version FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(version, CURRENT_VERSION);
    }

    /// The per-write check notices a table another program dropped, and migrating
    /// brings it back.
    #[test]
    fn a_dropped_table_is_noticed_and_recreated() {
        let conn = memory();
        migrate(&conn).unwrap();
        assert!(recorded_current(&conn).unwrap());
        for table in ["exposures", "scenario_tags", "schema_migrations"] {
            conn.execute_batch(&format!("DROP TABLE {table}")).unwrap();
            // Inside a transaction, as every write runs: the failed check must not abort it.
            conn.execute_batch("BEGIN").unwrap();
            assert!(!recorded_current(&conn).unwrap(), "{table} missing went unnoticed");
            assert!(!migrate(&conn).unwrap().is_empty());
            conn.execute_batch("COMMIT").unwrap();
            assert!(recorded_current(&conn).unwrap());
            assert_eq!(inspect(&conn).unwrap(), Layout::Current);
        }
    }

    /// A 1.2 table keyed on id alone is re-keyed per scenario, keeping rows and extras.
    #[test]
    fn legacy_key_is_migrated_without_losing_rows() {
        let conn = memory();
        migrate(&conn).unwrap();
        conn.execute_batch(
            "DROP TABLE diagnoses;
             CREATE TABLE diagnoses (id VARCHAR PRIMARY KEY, code VARCHAR NOT NULL, description VARCHAR,
                 patient_mrn VARCHAR NOT NULL, diagnosed_date DATE NOT NULL, scenario_id VARCHAR, legacy_note VARCHAR);
             INSERT INTO diagnoses VALUES ('d1', 'E11.9', 'Diabetes', 'M1', '2020-01-01', 's1', 'keep me'),
                                          ('d2', 'I10', NULL, 'M2', '2021-01-01', NULL, NULL);
             DELETE FROM schema_migrations;",
        )
        .unwrap();
        let Layout::NeedsMigration(reasons) = inspect(&conn).unwrap() else { panic!("expected migration") };
        assert!(reasons.contains(&"key diagnoses by (scenario_id, id)".to_owned()), "{reasons:?}");
        migrate(&conn).unwrap();
        assert_eq!(inspect(&conn).unwrap(), Layout::Current);
        let rows: Vec<(String, String, Option<String>, Option<String>)> = conn
            .prepare("SELECT id, scenario_id, legacy_note, type FROM diagnoses ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                // Columns the old table lacked take their DDL default, as ADD COLUMN would.
                ("d1".into(), "s1".into(), Some("keep me".into()), Some("final".into())),
                ("d2".into(), "".into(), None, Some("final".into())),
            ]
        );
        // The same id may now exist in two scenarios.
        conn.execute_batch("INSERT INTO diagnoses (id, code, patient_mrn, diagnosed_date, scenario_id) VALUES ('d1', 'X', 'M', '2020-01-01', 's2')")
            .unwrap();
    }

    /// 1.2's foreign keys from the scenario tables are dropped (keeping rows and extra
    /// columns), after which a scenario is deleted in one transaction.
    #[test]
    fn foreign_keys_are_dropped_so_deletes_are_atomic() {
        let conn = memory();
        conn.execute_batch(
            "CREATE SEQUENCE scenario_entities_seq START 1;
             CREATE SEQUENCE scenario_tags_seq START 1;
             CREATE TABLE scenarios (scenario_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, description VARCHAR,
                 created_at TIMESTAMP, updated_at TIMESTAMP, metadata JSON);
             CREATE TABLE scenario_entities (id INTEGER PRIMARY KEY DEFAULT nextval('scenario_entities_seq'),
                 scenario_id VARCHAR NOT NULL REFERENCES scenarios(scenario_id), entity_type VARCHAR NOT NULL,
                 entity_id VARCHAR NOT NULL, entity_data JSON, created_at TIMESTAMP, extra VARCHAR,
                 UNIQUE (scenario_id, entity_type, entity_id));
             CREATE TABLE scenario_tags (id INTEGER PRIMARY KEY DEFAULT nextval('scenario_tags_seq'),
                 scenario_id VARCHAR NOT NULL REFERENCES scenarios(scenario_id), tag VARCHAR NOT NULL, UNIQUE (scenario_id, tag));
             INSERT INTO scenarios (scenario_id, name) VALUES ('s1', 'one'), ('s2', 'two');
             INSERT INTO scenario_entities (scenario_id, entity_type, entity_id, extra) VALUES ('s1', 'x', 'e1', 'kept'), ('s2', 'x', 'e1', NULL);
             INSERT INTO scenario_tags (scenario_id, tag) VALUES ('s1', 't');",
        )
        .unwrap();
        let Layout::NeedsMigration(reasons) = inspect(&conn).unwrap() else { panic!("expected migration") };
        assert!(reasons.iter().any(|r| r.starts_with("drop the foreign key of scenario_entities")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.starts_with("drop the foreign key of scenario_tags")), "{reasons:?}");
        migrate(&conn).unwrap();
        assert_eq!(inspect(&conn).unwrap(), Layout::Current);
        assert!(foreign_key_tables(&conn).unwrap().is_empty());
        let extra: String =
            conn.query_row("SELECT extra FROM scenario_entities WHERE scenario_id = 's1'", [], |r| r.get(0)).unwrap();
        assert_eq!(extra, "kept");
        conn.execute_batch(
            "BEGIN; DELETE FROM scenario_entities WHERE scenario_id = 's1'; DELETE FROM scenario_tags WHERE scenario_id = 's1';
             DELETE FROM scenarios WHERE scenario_id = 's1'; COMMIT;",
        )
        .unwrap();
        let left: i64 = conn.query_row("SELECT count(*) FROM scenario_entities", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 1);
        // New ids continue from the sequence.
        conn.execute_batch(
            "INSERT INTO scenario_entities (scenario_id, entity_type, entity_id) VALUES ('s2', 'x', 'e2')",
        )
        .unwrap();
        let max: i64 = conn.query_row("SELECT max(id) FROM scenario_entities", [], |r| r.get(0)).unwrap();
        assert_eq!(max, 3);
    }

    /// Layouts we do not understand are reported, not migrated.
    #[test]
    fn unknown_layouts_are_refused() {
        let conn = memory();
        conn.execute_batch("CREATE TABLE scenarios (id INTEGER, name VARCHAR)").unwrap();
        assert!(matches!(inspect(&conn).unwrap(), Layout::Unsupported(reason) if reason.contains("no scenario_id")));
        let conn = memory();
        migrate(&conn).unwrap();
        conn.execute_batch("INSERT INTO schema_migrations (version) VALUES ('2.0')").unwrap();
        assert!(matches!(inspect(&conn).unwrap(), Layout::Unsupported(reason) if reason.contains("2.0 is newer")));
        assert!(migrate(&conn).is_err());
    }
}
