//! Bootstrap, the Python tooling's 1.2 layout served and converted, unknown layouts, read-only.

use std::path::Path;

use serde_json::json;

use crate::util::{Server, temp_db, unknown_layout_file};

/// Builds a 1.2-layout database the way the Python tooling did: canonical tables keyed
/// on their id column alone, a couple of rows, one with no scenario.
pub(crate) fn build_legacy(path: &Path) {
    let conn = duckdb::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE SEQUENCE scenario_entities_seq START 1;
         CREATE SEQUENCE scenario_tags_seq START 1;
         CREATE TABLE schema_migrations (version VARCHAR PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP DEFAULT current_timestamp);
         INSERT INTO schema_migrations (version, description) VALUES ('1.0', 'initial'), ('1.2', 'canonical tables');
         CREATE TABLE scenarios (scenario_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, description VARCHAR,
             created_at TIMESTAMP, updated_at TIMESTAMP, metadata JSON);
         CREATE TABLE scenario_entities (id INTEGER PRIMARY KEY DEFAULT nextval('scenario_entities_seq'),
             scenario_id VARCHAR NOT NULL REFERENCES scenarios(scenario_id), entity_type VARCHAR NOT NULL,
             entity_id VARCHAR NOT NULL, entity_data JSON, created_at TIMESTAMP, UNIQUE (scenario_id, entity_type, entity_id));
         CREATE TABLE scenario_tags (id INTEGER PRIMARY KEY DEFAULT nextval('scenario_tags_seq'),
             scenario_id VARCHAR NOT NULL REFERENCES scenarios(scenario_id), tag VARCHAR NOT NULL, UNIQUE (scenario_id, tag));
         CREATE TABLE patients (id VARCHAR PRIMARY KEY, mrn VARCHAR NOT NULL, ssn VARCHAR, given_name VARCHAR NOT NULL,
             middle_name VARCHAR, family_name VARCHAR NOT NULL, birth_date DATE NOT NULL, gender VARCHAR NOT NULL,
             scenario_id VARCHAR, created_at TIMESTAMP DEFAULT current_timestamp, source_type VARCHAR, notebook_flag BOOLEAN);
         CREATE INDEX idx_patients_mrn ON patients (mrn);
         INSERT INTO scenarios VALUES ('11111111-1111-4111-8111-111111111111', 'legacy cohort', 'from python', TIMESTAMP '2025-01-02 03:04:05', TIMESTAMP '2025-01-02 03:04:05', '{\"product\": \"healthsim\"}');
         INSERT INTO scenario_entities (scenario_id, entity_type, entity_id, entity_data) VALUES
             ('11111111-1111-4111-8111-111111111111', 'patients', 'p1', '{\"id\": \"p1\", \"given_name\": \"Old\"}');
         INSERT INTO scenario_tags (scenario_id, tag) VALUES ('11111111-1111-4111-8111-111111111111', 'legacy');
         INSERT INTO patients (id, mrn, given_name, family_name, birth_date, gender, scenario_id, notebook_flag) VALUES
             ('p1', 'M1', 'Old', 'Timer', '1950-05-05', 'F', '11111111-1111-4111-8111-111111111111', true),
             ('orphan', 'M2', 'No', 'Scenario', '1960-06-06', 'M', NULL, NULL);",
    )
    .unwrap();
}

/// A 1.2 database is served in its own layout: nothing is converted by reads or saves, a
/// save whose canonical id another scenario holds keeps that row as JSON only (warned);
/// `healthsim-mcp migrate` then converts it without losing a row, and the same save
/// writes its canonical row.
#[tokio::test(flavor = "multi_thread")]
async fn python_layout_is_adopted_and_converted_on_request() {
    let (_dir, db) = temp_db();
    build_legacy(&db);
    let server = Server::start(&db).await;
    let list = server.ok("healthsim_list_scenarios", json!({})).await;
    assert_eq!(list[0]["name"], "legacy cohort");
    assert_eq!(list[0]["tags"], json!(["legacy"]));
    assert_eq!(list[0]["created_at"], "2025-01-02T03:04:05");
    let patient = json!({"patients": [{"id": "p1", "given_name": "New", "family_name": "X", "birth_date": "2000-01-01", "gender": "M"}]});
    let saved = server.ok("healthsim_save_scenario", json!({"name": "new", "entities": patient})).await;
    assert_eq!(saved["canonical_rows"], json!({}));
    let warning = saved["warnings"][0].as_str().unwrap();
    assert!(
        warning.starts_with("patients: 1 row(s) kept only as JSON ('p1'): patients are keyed by id alone"),
        "{warning}"
    );
    assert!(warning.contains("healthsim-mcp migrate --db FILE"), "{warning}");
    let key = "SELECT constraint_column_names AS k FROM duckdb_constraints() WHERE table_name = 'patients' AND constraint_type = 'PRIMARY KEY'";
    assert_eq!(server.ok("healthsim_query", json!({"sql": key})).await["rows"][0]["k"], json!(["id"]));
    let versions = json!({"sql": "SELECT version FROM schema_migrations ORDER BY version"});
    assert_eq!(
        server.ok("healthsim_query", versions.clone()).await["rows"],
        json!([{"version": "1.0"}, {"version": "1.2"}]),
        "the tooling's version bookkeeping is left alone"
    );
    server.stop().await;

    let migrated =
        std::process::Command::new(crate::util::BIN).args(["--db"]).arg(&db).arg("migrate").output().unwrap();
    let report = String::from_utf8_lossy(&migrated.stdout);
    assert!(migrated.status.success(), "{report} {}", String::from_utf8_lossy(&migrated.stderr));
    assert!(report.contains("was the HealthSim 1.2 scenario layout"), "{report}");
    assert!(report.contains("- rebuild patients owned by scenario_id, without keys"), "{report}");
    let backup = db.with_file_name("healthsim.duckdb.before-migrate-1.duckdb");
    assert!(report.contains(&format!("backup: {}", backup.display())), "{report}");
    {
        let old = duckdb::Connection::open(&backup).unwrap();
        let n: i64 = old.query_row("SELECT count(*) FROM patients", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2, "the backup is the file as it was");
    }

    let server = Server::start(&db).await;
    let rows = server
        .ok(
            "healthsim_query",
            json!({"sql": "SELECT id, scenario_id, notebook_flag, language FROM patients ORDER BY id"}),
        )
        .await;
    assert_eq!(
        rows["rows"],
        json!([{"id": "orphan", "scenario_id": "", "notebook_flag": null, "language": "en"},
               {"id": "p1", "scenario_id": "11111111-1111-4111-8111-111111111111", "notebook_flag": true, "language": "en"}])
    );
    // Our layout has no keys: the server keeps rows unique per scenario.
    assert_eq!(server.ok("healthsim_query", json!({"sql": key})).await["rows"], json!([]));
    assert_eq!(
        server.ok("healthsim_query", versions).await["rows"],
        json!([{"version": "1.0"}, {"version": "1.2"}, {"version": "healthsim-mcp-1"}])
    );
    // The same id in another scenario is now its own row.
    let saved =
        server.ok("healthsim_save_scenario", json!({"name": "new", "entities": patient, "overwrite": true})).await;
    assert_eq!(saved["canonical_rows"], json!({"patients": 1}));
    let count =
        server.ok("healthsim_query", json!({"sql": "SELECT count(*) AS n FROM patients WHERE id = 'p1'"})).await;
    assert_eq!(count["rows"][0]["n"], 2);
    let loaded = server.ok("healthsim_load_scenario", json!({"name_or_id": "legacy cohort"})).await;
    assert_eq!(loaded["entities"], json!({"patients": [{"id": "p1", "given_name": "Old"}]}));
    server.stop().await;
}

/// Scenario tables of a shape no HealthSim layout has: every scenario tool, reads
/// included, answers with the one-line layout message; SQL still reads the file.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_layout_is_refused_in_one_line() {
    let (_dir, db) = temp_db();
    unknown_layout_file(&db);
    let server = Server::start(&db).await;
    for (tool, args) in [
        ("healthsim_list_scenarios", json!({})),
        ("healthsim_load_scenario", json!({"name_or_id": "x"})),
        ("healthsim_get_summary", json!({"scenario_id_or_name": "x"})),
        ("healthsim_save_scenario", json!({"name": "n", "entities": {}})),
        ("healthsim_delete_scenario", json!({"name_or_id": "n", "confirm": true})),
    ] {
        let message = server.err_msg(tool, args).await;
        assert!(
            message.starts_with("this database's scenario tables are not a HealthSim layout this server understands (it has scenarios but not the columns"),
            "{tool}: {message}"
        );
        assert!(!message.contains('\n') && !message.contains("Binder"), "{tool}: {message}");
    }
    let rows = server.ok("healthsim_query", json!({"sql": "SELECT title FROM scenarios"})).await;
    assert_eq!(rows["rows"], json!([{"title": "x"}]), "reads still work and nothing changed");
    server.stop().await;
}

/// With --read-only the server never writes; write tools explain how to enable writes.
#[tokio::test(flavor = "multi_thread")]
async fn read_only_flag_refuses_writes() {
    let (_dir, db) = temp_db();
    Server::start(&db).await.stop().await;
    let server = Server::start_with(&db, &["--read-only"], &[]).await;
    let message = server.err_msg("healthsim_save_scenario", json!({"name": "n", "entities": {}})).await;
    assert!(message.starts_with("server is read-only (--read-only);"), "{message}");
    assert_eq!(server.ok("healthsim_list_scenarios", json!({})).await, json!([]));
    server.stop().await;
    // On a missing file, reads say what to do instead of crashing.
    let (_dir2, missing) = temp_db();
    let server = Server::start_with(&missing, &["--read-only"], &[]).await;
    let message = server.err_msg("healthsim_list_scenarios", json!({})).await;
    assert!(
        message.contains("does not exist yet: the first save creates it (unless the server runs with --read-only)"),
        "{message}"
    );
    assert!(!missing.exists());
    server.stop().await;
}

/// Something at the path that is not a regular file (a named pipe would block DuckDB's
/// open forever, a directory cannot be a database) is refused at once by every tool.
#[tokio::test(flavor = "multi_thread")]
async fn a_path_that_is_not_a_regular_file_is_refused() {
    let (dir, fifo) = temp_db();
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let server = Server::start(&fifo).await;
    for (tool, args) in
        [("healthsim_list_scenarios", json!({})), ("healthsim_save_scenario", json!({"name": "n", "entities": {}}))]
    {
        let message = server.err_msg(tool, args).await;
        assert_eq!(
            message,
            format!(
                "database path {} is a named pipe, not a DuckDB database file; pass --db with a file path",
                fifo.display()
            ),
            "{tool}"
        );
    }
    server.stop().await;
    let server = Server::start(dir.path()).await;
    let message = server.err_msg("healthsim_tables", json!({})).await;
    assert!(message.contains("is a directory, not a DuckDB database file"), "{message}");
    server.stop().await;
    // A SQLite file: refused by reads and writes alike, never opened through an extension.
    let sqlite = dir.path().join("other.db");
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.resize(8192, 7);
    std::fs::write(&sqlite, &bytes).unwrap();
    let server = Server::start(&sqlite).await;
    for (tool, args) in
        [("healthsim_list_scenarios", json!({})), ("healthsim_save_scenario", json!({"name": "n", "entities": {}}))]
    {
        let message = server.err_msg(tool, args).await;
        assert!(message.contains("is a SQLite database, not a DuckDB one"), "{tool}: {message}");
    }
    server.stop().await;
    assert_eq!(std::fs::read(&sqlite).unwrap(), bytes, "the SQLite file is untouched");
}

/// A new file gets the whole layout at startup, in a directory created for it.
#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_creates_directory_and_layout() {
    let (dir, _) = temp_db();
    let db = dir.path().join("nested/deeper/h.duckdb");
    let server = Server::start(&db).await;
    // Startup prepares the file in the background; the first call waits for it.
    let tables = server.ok("healthsim_tables", json!({})).await;
    assert!(db.exists());
    assert_eq!(tables["total"], 24);
    let version = server.ok("healthsim_query", json!({"sql": "SELECT version FROM schema_migrations"})).await;
    assert_eq!(version["rows"], json!([{"version": "healthsim-mcp-1"}]));
    server.stop().await;
}

/// Our layout has no key, unique constraint or index (a DuckDB checkpoint rewrites each in
/// full, so saves cost what the file held), and its columns are stored as DuckDB chooses.
#[tokio::test(flavor = "multi_thread")]
async fn our_tables_have_no_keys_or_indexes() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let entities = crate::util::fixture("patientsim_clinical");
    server.ok("healthsim_save_scenario", json!({"name": "clinical", "entities": entities})).await;
    let shape = server
        .ok(
            "healthsim_query",
            json!({"sql": "SELECT (SELECT count(*) FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE')) AS keys,
                                  (SELECT count(*) FROM duckdb_indexes()) AS indexes,
                                  (SELECT count(*) FROM duckdb_tables() WHERE sql LIKE '%COMPRESSION%') AS storage"}),
        )
        .await;
    assert_eq!(shape["rows"], json!([{"keys": 0, "indexes": 0, "storage": 0}]));
    let columns = server
        .ok(
            "healthsim_query",
            json!({"sql": "SELECT data_type, is_nullable FROM information_schema.columns
                           WHERE table_name = 'patients' AND column_name = 'mrn'"}),
        )
        .await;
    // December 2026: only ids are NOT NULL; the MRN (generated when absent) may be NULL.
    assert_eq!(columns["rows"], json!([{"data_type": "VARCHAR", "is_nullable": "YES"}]));
    server.stop().await;
}

/// A file of ours made before December 2026 (keys and indexes on every table) is served as
/// it is; `migrate` backs it up and rebuilds its tables without keys or indexes, keeping
/// every row and id; a second run changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn migrate_drops_the_keys_of_a_file_of_ours_from_before() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let entities = crate::util::fixture("patientsim_clinical");
    server.ok("healthsim_save_scenario", json!({"name": "clinical", "entities": entities, "tags": ["t"]})).await;
    server.stop().await;
    let snapshot = |conn: &duckdb::Connection| -> String {
        conn.query_row(
            "SELECT (SELECT string_agg(id || scenario_id || entity_id, ',' ORDER BY id) FROM scenario_entities)
                 || (SELECT string_agg(id || mrn, ',' ORDER BY id) FROM patients)
                 || (SELECT string_agg(tag, ',') FROM scenario_tags) || (SELECT string_agg(name, ',') FROM scenarios)",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let before = {
        // As that build made them: keys and indexes.
        let conn = duckdb::Connection::open(&db).unwrap();
        conn.execute_batch(
            "ALTER TABLE scenarios ADD PRIMARY KEY (scenario_id);
             ALTER TABLE scenario_entities ADD PRIMARY KEY (id);
             CREATE UNIQUE INDEX u ON scenario_entities (scenario_id, entity_type, entity_id);
             CREATE INDEX idx_scenario_entities_type ON scenario_entities (entity_type);
             ALTER TABLE patients ADD PRIMARY KEY (scenario_id, id);
             CREATE INDEX idx_patients_mrn ON patients (mrn);",
        )
        .unwrap();
        snapshot(&conn)
    };
    let server = Server::start(&db).await;
    let listed = server.ok("healthsim_list_scenarios", json!({})).await;
    assert_eq!(listed[0]["name"], "clinical", "served as it is");
    server.stop().await;
    let migrate =
        || std::process::Command::new(crate::util::BIN).args(["--db"]).arg(&db).arg("migrate").output().unwrap();
    let first = migrate();
    let report = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{report} {}", String::from_utf8_lossy(&first.stderr));
    assert!(report.contains("- rebuild the canonical tables without keys or indexes"), "{report}");
    assert!(report.contains("backup: "), "{report}");
    let conn = duckdb::Connection::open(&db).unwrap();
    assert_eq!(snapshot(&conn), before, "every row and id kept");
    let keys: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE') AND table_name <> 'schema_migrations')
                  + (SELECT count(*) FROM duckdb_indexes())",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(keys, 0);
    drop(conn);
    let again = migrate();
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to change"));
    let server = Server::start(&db).await;
    let loaded = server.ok("healthsim_load_scenario", json!({"name_or_id": "clinical"})).await;
    assert_eq!(loaded["tags"], json!(["t"]));
    server.stop().await;
}

/// A file in the tooling's layout has none of the tables added in December 2026: an
/// allergy saved there is kept as JSON only, warned, and the file gets no new table.
#[tokio::test(flavor = "multi_thread")]
async fn new_tables_are_not_added_to_a_tooling_layout() {
    let (_dir, db) = temp_db();
    build_legacy(&db);
    let server = Server::start(&db).await;
    let entities = json!({"allergies": [{"id": "a1", "substance": "Penicillin", "reaction": "Hives"}]});
    let saved = server.ok("healthsim_save_scenario", json!({"name": "allergic", "entities": entities})).await;
    assert_eq!(saved["canonical_rows"], json!({}));
    let warning = saved["warnings"][0].as_str().unwrap();
    assert!(
        warning.starts_with("allergies: 1 row(s) kept only as JSON ('a1'): there is no table allergies"),
        "{warning}"
    );
    let tables = server
        .ok(
            "healthsim_query",
            json!({"sql": "SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'allergies'"}),
        )
        .await;
    assert_eq!(tables["rows"], json!([{"n": 0}]));
    let loaded = server.ok("healthsim_load_scenario", json!({"name_or_id": "allergic"})).await;
    assert_eq!(loaded["entities"]["allergies"][0]["substance"], "Penicillin");
    server.stop().await;
}
