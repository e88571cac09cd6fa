//! Our database layout: DDL (generated from `model::tables`), bootstrap of a new file and
//! repair of one of ours (a table or column another program dropped). Files in the
//! Python tooling's layouts are adopted as they are (`layout.rs`) and converted only by
//! `healthsim-mcp migrate` (`migrate.rs`). Everything here runs inside the
//! caller's transaction, so it applies entirely or not at all.

use std::collections::BTreeMap;

use crate::engine::Sql;
use anyhow::Context;

use crate::model::tables::{ColumnType, PROVENANCE, TableSpec, canonical_tables};

/// The label this server records for its own layout in `schema_migrations`. The tooling
/// reads the newest label as its version and compares labels as strings: `"1.1" >
/// "healthsim-mcp-1"` is false, so it never runs its migrations on our files, and no
/// label it wrote can be mistaken for ours.
pub const OUR_LABEL: &str = "healthsim-mcp-1";

pub(super) const STATE_DDL: &str = "
CREATE SEQUENCE IF NOT EXISTS scenario_entities_seq START 1;
CREATE SEQUENCE IF NOT EXISTS scenario_tags_seq START 1;
CREATE TABLE IF NOT EXISTS schema_migrations (
    version VARCHAR NOT NULL,
    description VARCHAR,
    applied_at TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS scenarios (
    scenario_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
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
/// Our layout has no keys, unique constraints or indexes (December 2026 contract): a
/// DuckDB checkpoint rewrites every ART index of a touched table in full
/// (duckdb/duckdb#24848), so with them a save cost what the file held. The server is the
/// only writer of our layout, under its single write permit, and keeps what the keys
/// kept inside each transaction: a scenario's name is looked up before it is taken, a
/// save's entities and rows are deduplicated by its plan, an upsert deletes the rows it
/// replaces before inserting. Reads by scenario find its rows by DuckDB's zone maps: a
/// scenario's rows are appended together, and its id is time-ordered
/// (`model::new_scenario_uuid`). Unlike the Python tooling's 1.2 layout the tables carry no
/// `REFERENCES scenarios` either (see ARCHITECTURE.md, "Deliberate deviations").
pub(super) const CHILD_TABLES: [(&str, ChildDdl); 2] = [
    ("scenario_entities", |name| {
        format!(
            "CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER NOT NULL DEFAULT nextval('scenario_entities_seq'),
    scenario_id VARCHAR NOT NULL,
    entity_type VARCHAR NOT NULL,
    entity_id VARCHAR NOT NULL,
    entity_data JSON,
    created_at TIMESTAMP
);"
        )
    }),
    ("scenario_tags", |name| {
        format!(
            "CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER NOT NULL DEFAULT nextval('scenario_tags_seq'),
    scenario_id VARCHAR NOT NULL,
    tag VARCHAR NOT NULL
);"
        )
    }),
];

/// Prepares our layout inside the caller's transaction: creates what a new file lacks,
/// restores a table or column another program dropped, and records [`OUR_LABEL`].
/// Idempotent; never drops a row or a column. Returns the steps applied (empty when the
/// file was already complete: the common case costs one probe statement).
pub fn prepare_ours(conn: &Sql<'_>) -> anyhow::Result<Vec<String>> {
    if recorded_current(conn)? {
        return Ok(Vec::new());
    }
    let tables = main_tables(conn)?;
    let new_file = !tables.contains_key("scenarios");
    let mut steps = Vec::new();
    let lake = conn.is_lake()?;
    let shared = !lake && conn.is_shared()?;
    let ddl = |text: &str| match (lake, shared) {
        (true, _) => conn.execute_batch(&for_lake(text)),
        (false, true) => conn.execute_batch(&without_function_defaults(&with_keys(text))),
        (false, false) => conn.execute_batch(text),
    };
    ddl(STATE_DDL).context("cannot create the state tables")?;
    for (table, child) in CHILD_TABLES {
        if !tables.contains_key(table) && !new_file {
            steps.push(format!("create table {table}"));
        }
        ddl(&child(table)).with_context(|| format!("cannot create table {table}"))?;
    }
    add_missing_state_columns(conn)?;
    let tables = main_tables(conn)?;
    for spec in canonical_tables() {
        match tables.get(spec.name) {
            None => {
                if !new_file {
                    steps.push(format!("create table {}", spec.name));
                }
                ddl(&create_table_sql(spec, spec.name)).map_err(anyhow::Error::from)
            }
            Some(columns) => add_missing_columns(conn, spec, columns, &mut steps)
                .and_then(|()| relax_not_null(conn, spec, &mut steps)),
        }
        .with_context(|| format!("cannot prepare table {}", spec.name))?;
    }
    if new_file {
        steps.insert(0, "create the healthsim-mcp layout".to_owned());
    }
    record_label(conn, &steps)?;
    steps.push(format!("record layout label {OUR_LABEL}"));
    Ok(steps)
}

/// Records [`OUR_LABEL`] (once) in `schema_migrations`.
pub(super) fn record_label(conn: &Sql<'_>, steps: &[String]) -> anyhow::Result<()> {
    let now = crate::engine::values::utc_now_text();
    let description = if steps.is_empty() {
        "healthsim-mcp layout".to_owned()
    } else {
        format!("healthsim-mcp layout: {}", steps.join("; "))
    };
    // Not `ON CONFLICT`: a DuckLake has no keys to conflict on.
    conn.execute(
        "INSERT INTO schema_migrations (version, description, applied_at)
         SELECT ?1, ?2, CAST(?3 AS TIMESTAMP) WHERE NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
        duckdb::params![OUR_LABEL, description, now],
    )
    .context("cannot record the layout label")?;
    Ok(())
}

/// The cheap check every write makes first: our label is recorded and every table of
/// ours exists. Existence is checked by binding one statement over all of them (a
/// missing table fails to bind): listing `duckdb_tables()` on a freshly opened instance
/// costs 8-11 ms because it sizes every table, this about 3 ms.
fn recorded_current(conn: &Sql<'_>) -> anyhow::Result<bool> {
    let probes: Vec<String> = ["scenarios"]
        .into_iter()
        .chain(CHILD_TABLES.iter().map(|(name, _)| *name))
        .chain(canonical_tables().iter().map(|t| t.name))
        .map(|name| format!("(SELECT NULL FROM main.{} LIMIT 0)", quote(name)))
        .collect();
    let sql =
        format!("SELECT CAST(version AS VARCHAR) FROM main.schema_migrations UNION ALL {}", probes.join(" UNION ALL "));
    // On a connection of its own: a statement that fails to bind aborts the transaction
    // it runs in, and the caller's transaction must survive to prepare the layout.
    let Sql::Local(conn) = conn else { return recorded_current_remote(conn) };
    let probe = conn.try_clone().context("cannot open a connection to check the layout")?;
    // The same database as the caller's (a connection starts on the default one).
    let database: String = conn.query_row("SELECT current_database()", [], |r| r.get(0))?;
    probe.execute_batch(&format!("USE {}", quote(&database)))?;
    let Ok(mut stmt) = probe.prepare(&sql) else {
        return Ok(false);
    };
    let versions: Vec<Option<String>> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(versions.iter().flatten().any(|v| v == OUR_LABEL))
}

/// [`recorded_current`] on a remote database, where a statement that fails to bind would
/// abort the transaction it runs in: the catalog says which tables exist.
fn recorded_current_remote(conn: &Sql<'_>) -> anyhow::Result<bool> {
    let wanted: Vec<&str> = ["scenarios", "schema_migrations"]
        .into_iter()
        .chain(CHILD_TABLES.iter().map(|(name, _)| *name))
        .chain(canonical_tables().iter().map(|t| t.name))
        .collect();
    let list = wanted.iter().map(|name| format!("'{name}'")).collect::<Vec<_>>().join(", ");
    let present: i64 = conn.query_row(
        &format!("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name IN ({list})"),
        [],
        |r| r.get(0),
    )?;
    if present < wanted.len() as i64 {
        return Ok(false);
    }
    let labelled: i64 =
        conn.query_row("SELECT count(*) FROM main.schema_migrations WHERE version = ?", [OUR_LABEL], |r| r.get(0))?;
    Ok(labelled > 0)
}

/// Our DDL as a DuckLake takes it: no sequences or defaults computed by a function
/// (DuckLake has neither). Works on the statements written here.
fn for_lake(ddl: &str) -> String {
    let statements: Vec<String> = ddl
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty() && !s.starts_with("CREATE SEQUENCE"))
        .map(|s| format!("{s};"))
        .collect();
    without_function_defaults(&statements.join("\n"))
}

/// Our DDL with the keys of the layout before December 2026, for a database other
/// servers write to at the same moment (Quack, MotherDuck: `Sql::is_shared`), where no
/// single write permit keeps rows unique: two servers saving the same name each see it
/// free, and only a key makes the second commit fail (and run again, see
/// `RemoteAccess::write`). Works on the statements written here.
fn with_keys(ddl: &str) -> String {
    let key_of = |table: &str| -> Option<String> {
        let key = match table {
            "schema_migrations" => "PRIMARY KEY (version)".to_owned(),
            "scenarios" => "PRIMARY KEY (scenario_id),\n    UNIQUE (name)".to_owned(),
            "scenario_entities" => "PRIMARY KEY (id),\n    UNIQUE (scenario_id, entity_type, entity_id)".to_owned(),
            "scenario_tags" => "PRIMARY KEY (id),\n    UNIQUE (scenario_id, tag)".to_owned(),
            name => {
                let spec = canonical_tables().iter().find(|t| quote(t.name) == name || t.name == name)?;
                format!("PRIMARY KEY (scenario_id, {})", quote(spec.id_column))
            }
        };
        Some(key)
    };
    let mut out = Vec::new();
    for statement in ddl.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let table = statement
            .strip_prefix("CREATE TABLE IF NOT EXISTS ")
            .or_else(|| statement.strip_prefix("CREATE TABLE "))
            .and_then(|rest| rest.split_whitespace().next());
        match (table.and_then(key_of), statement.rfind("\n)")) {
            (Some(key), Some(end)) => out.push(format!("{},\n    {key}{}", &statement[..end], &statement[end..])),
            _ => out.push(statement.to_owned()),
        }
    }
    out.iter().map(|s| format!("{s};")).collect::<Vec<_>>().join("\n")
}

/// Our DDL without defaults computed by a function (`nextval(...)`, `current_timestamp`,
/// `now()`: the server supplies ids and timestamps in every write), for a DuckLake (which
/// has none) and a Quack server (DuckDB 1.5.5 cannot ATTACH a Quack database that has
/// them; without them a notebook can). Constant defaults stay. Works on the statements
/// written here.
fn without_function_defaults(ddl: &str) -> String {
    ddl.lines()
        .map(|line| {
            let mut line = line.replace(" DEFAULT current_timestamp", "").replace(" DEFAULT now()", "");
            if let Some(at) = line.find(" DEFAULT nextval(") {
                let end = line[at..].find(')').map_or(line.len(), |e| at + e + 1);
                line.replace_range(at..end, "");
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `CREATE TABLE` for a canonical table under `name`: no key (see [`CHILD_TABLES`]); the
/// server keeps its rows unique per (scenario_id, id column).
pub fn create_table_sql(spec: &TableSpec, name: &str) -> String {
    let mut columns: Vec<String> = spec
        .columns
        .iter()
        .map(|c| {
            let mut text = format!("{} {}", quote(c.name), c.ty.sql());
            if c.not_null {
                text.push_str(" NOT NULL");
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
        if *name == "scenario_id" { format!("{name} VARCHAR NOT NULL") } else { format!("{name} {ty}") }
    }));
    format!("CREATE TABLE {} (\n    {}\n);", quote(name), columns.join(",\n    "))
}

/// Every column name of a canonical table, data then provenance.
pub fn all_column_names(spec: &TableSpec) -> impl Iterator<Item = &'static str> + '_ {
    spec.columns.iter().map(|c| c.name).chain(PROVENANCE.iter().map(|(n, _)| *n))
}

fn add_missing_columns(
    conn: &Sql<'_>,
    spec: &TableSpec,
    columns: &BTreeMap<String, String>,
    steps: &mut Vec<String>,
) -> anyhow::Result<()> {
    for column in &spec.columns {
        if !columns.contains_key(column.name) {
            steps.push(format!("add column {} to {}", column.name, spec.name));
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
            steps.push(format!("add column {name} to {}", spec.name));
            conn.execute_batch(&format!("ALTER TABLE {} ADD COLUMN {name} {ty};", quote(spec.name)))?;
        }
    }
    Ok(())
}

/// Drops NOT NULL from columns our layout no longer requires (descriptive columns
/// HealthSim's own documents leave out; see ARCHITECTURE.md, "Schema decisions"). DuckDB
/// cannot alter a table that has indexes, so the table's indexes are dropped and
/// recreated from their own SQL around it.
fn relax_not_null(conn: &Sql<'_>, spec: &TableSpec, steps: &mut Vec<String>) -> anyhow::Result<()> {
    let required: Vec<String> = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('main.{}') WHERE \"notnull\"", spec.name))?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    let relaxed: Vec<&str> =
        spec.columns.iter().filter(|c| !c.not_null && required.iter().any(|r| r == c.name)).map(|c| c.name).collect();
    if relaxed.is_empty() {
        return Ok(());
    }
    let indexes: Vec<(String, String)> = conn
        .prepare(
            "SELECT index_name, sql FROM duckdb_indexes()
             WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ? AND sql IS NOT NULL",
        )?
        .query_map([spec.name], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (name, _) in &indexes {
        conn.execute_batch(&format!("DROP INDEX main.{}", quote(name)))?;
    }
    for column in &relaxed {
        conn.execute_batch(&format!(
            "ALTER TABLE main.{} ALTER COLUMN {} DROP NOT NULL",
            quote(spec.name),
            quote(column)
        ))?;
    }
    for (_, sql) in &indexes {
        conn.execute_batch(sql)?;
    }
    steps.push(format!("allow NULL in {}.{}", spec.name, relaxed.join(", ")));
    Ok(())
}

fn add_missing_state_columns(conn: &Sql<'_>) -> anyhow::Result<()> {
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
pub(super) fn main_tables(conn: &Sql<'_>) -> anyhow::Result<BTreeMap<String, BTreeMap<String, String>>> {
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

/// Double-quotes an identifier.
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use duckdb::Connection;

    use super::*;
    use crate::db::layout::{self, Detected, Family};

    fn memory() -> Connection {
        Connection::open_in_memory().unwrap()
    }

    fn family(conn: &Sql<'_>) -> Option<Family> {
        match layout::detect(conn).unwrap() {
            Detected::Known(layout) => Some(layout.family),
            Detected::Empty => None,
            Detected::Unknown(reason) => panic!("unknown layout: {reason}"),
        }
    }

    /// Our DDL, locally and for a DuckLake, has no key, unique constraint or index (a
    /// checkpoint would rewrite each in full); the DuckLake's also no sequence or default.
    #[test]
    fn our_ddl_has_no_keys_or_indexes() {
        let mut all = String::from(STATE_DDL);
        all.extend(CHILD_TABLES.iter().map(|(name, ddl)| ddl(name)));
        all.extend(canonical_tables().iter().map(|spec| create_table_sql(spec, spec.name)));
        for absent in ["PRIMARY KEY", "UNIQUE", "INDEX", "COMPRESSION"] {
            assert!(!all.contains(absent), "{absent} in:\n{all}");
        }
        let lake = for_lake(&all);
        for absent in ["SEQUENCE", "nextval", "current_timestamp"] {
            assert!(!lake.contains(absent), "{absent} left in:\n{lake}");
        }
        for ddl in [&all, &lake] {
            let raw = memory();
            Sql::local(&raw).execute_batch(ddl).unwrap();
            let count = |sql: &str| -> i64 { raw.query_row(sql, [], |r| r.get(0)).unwrap() };
            assert_eq!(count("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main'"), 4 + 20);
            let keys = "SELECT count(*) FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE')";
            assert_eq!(count(keys), 0);
            assert_eq!(count("SELECT count(*) FROM duckdb_indexes()"), 0);
        }
    }

    /// On a database other servers write to at once, our DDL keeps the keys that make a
    /// raced name or id fail the later commit.
    #[test]
    fn shared_ddl_keeps_the_keys() {
        let mut all = String::from(STATE_DDL);
        all.extend(CHILD_TABLES.iter().map(|(name, ddl)| ddl(name)));
        all.extend(canonical_tables().iter().map(|spec| create_table_sql(spec, spec.name)));
        let raw = memory();
        Sql::local(&raw).execute_batch(&with_keys(&all)).unwrap();
        let keys = |kind: &str| -> i64 {
            let sql = format!("SELECT count(*) FROM duckdb_constraints() WHERE constraint_type = '{kind}'");
            raw.query_row(&sql, [], |r| r.get(0)).unwrap()
        };
        assert_eq!(keys("PRIMARY KEY"), 4 + 20);
        assert_eq!(keys("UNIQUE"), 3);
        let shared = without_function_defaults(&with_keys(&all));
        for absent in ["nextval", "current_timestamp", "now()"] {
            assert!(!shared.contains(absent), "{absent} left in:\n{shared}");
        }
        assert!(shared.contains("DEFAULT 'en'"), "constant defaults stay");
        Sql::local(&memory()).execute_batch(&shared).unwrap();
        raw.execute_batch("INSERT INTO scenarios (scenario_id, name) VALUES ('a', 'n')").unwrap();
        assert!(raw.execute_batch("INSERT INTO scenarios (scenario_id, name) VALUES ('b', 'n')").is_err());
    }

    /// A new database gets every table and our label, is then ours, and preparing again
    /// is a no-op.
    #[test]
    fn bootstrap_is_complete_and_idempotent() {
        let raw = memory();
        let conn = Sql::local(&raw);
        assert_eq!(family(&conn), None);
        let steps = prepare_ours(&conn).unwrap();
        assert_eq!(
            steps,
            vec!["create the healthsim-mcp layout".to_owned(), format!("record layout label {OUR_LABEL}")]
        );
        assert_eq!(family(&conn), Some(Family::Ours));
        assert!(prepare_ours(&conn).unwrap().is_empty());
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 4 + 20);
        let version: String = conn.query_row("SELECT version FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(version, OUR_LABEL);
    }

    /// The per-write check notices a table another program dropped, and preparing
    /// brings it back.
    #[test]
    fn a_dropped_table_is_noticed_and_recreated() {
        let raw = memory();
        let conn = Sql::local(&raw);
        prepare_ours(&conn).unwrap();
        assert!(recorded_current(&conn).unwrap());
        for table in ["exposures", "scenario_tags", "schema_migrations"] {
            conn.execute_batch(&format!("DROP TABLE {table}")).unwrap();
            // Inside a transaction, as every write runs: the failed check must not abort it.
            conn.execute_batch("BEGIN").unwrap();
            assert!(!recorded_current(&conn).unwrap(), "{table} missing went unnoticed");
            assert!(!prepare_ours(&conn).unwrap().is_empty());
            conn.execute_batch("COMMIT").unwrap();
            assert!(recorded_current(&conn).unwrap());
            assert_eq!(family(&conn), Some(Family::Ours));
        }
    }

    /// A file an earlier build of this server made (labelled `1.3`, the label the tooling
    /// also wrote) is recognised as ours by its keys, and gets our label at its next write.
    #[test]
    fn an_earlier_build_of_ours_is_ours() {
        let raw = memory();
        let conn = Sql::local(&raw);
        prepare_ours(&conn).unwrap();
        // That build keyed canonical rows per scenario.
        for spec in canonical_tables() {
            let key = format!("ALTER TABLE {} ADD PRIMARY KEY (scenario_id, {})", spec.name, quote(spec.id_column));
            conn.execute_batch(&key).unwrap();
        }
        conn.execute_batch("DELETE FROM schema_migrations; INSERT INTO schema_migrations (version) VALUES ('1.3')")
            .unwrap();
        assert_eq!(family(&conn), Some(Family::Ours));
        assert_eq!(prepare_ours(&conn).unwrap(), vec![format!("record layout label {OUR_LABEL}")]);
        assert!(recorded_current(&conn).unwrap());
    }

    /// A file of ours made before December 2026 (a descriptive column NOT NULL, no
    /// procedures table) gets the new shape at its next write: NULLs allowed, the new
    /// tables created, nothing else touched.
    #[test]
    fn a_file_of_before_gets_the_new_shape() {
        let raw = memory();
        let conn = Sql::local(&raw);
        prepare_ours(&conn).unwrap();
        // The patients table as before: its indexes set aside while NOT NULL is restored.
        let indexes: Vec<(String, String)> = raw
            .prepare("SELECT index_name, sql FROM duckdb_indexes() WHERE table_name = 'patients'")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (name, _) in &indexes {
            raw.execute_batch(&format!("DROP INDEX {}", quote(name))).unwrap();
        }
        raw.execute_batch("DROP TABLE procedures; ALTER TABLE patients ALTER COLUMN birth_date SET NOT NULL").unwrap();
        for (_, sql) in &indexes {
            raw.execute_batch(sql).unwrap();
        }
        raw.execute_batch(
            "INSERT INTO patients (id, mrn, birth_date, scenario_id) VALUES ('p1', 'M1', DATE '1990-01-01', 's1')",
        )
        .unwrap();
        let steps = prepare_ours(&conn).unwrap();
        assert!(steps.iter().any(|s| s == "allow NULL in patients.birth_date"), "{steps:?}");
        assert!(steps.iter().any(|s| s.contains("procedures")), "{steps:?}");
        conn.execute_batch("INSERT INTO patients (id, scenario_id) VALUES ('p2', 's1'); SELECT * FROM procedures")
            .unwrap();
        let n: i64 = conn.query_row("SELECT count(*) FROM patients", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2);
        assert!(prepare_ours(&conn).unwrap().is_empty(), "complete afterwards");
    }
}
