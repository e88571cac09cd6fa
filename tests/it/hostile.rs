//! healthsim_query against a corpus of hostile and tricky inputs: each has one exact,
//! safe outcome, and the database is unchanged afterwards.

use serde_json::json;

use crate::util::{Server, temp_db};

/// What must happen to one input.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// Runs and returns this many rows.
    Rows(u64),
    /// Refused before running; the message names this.
    Refused(&'static str),
    /// Classified as a read but refused by the engine itself; the message contains this.
    Failed(&'static str),
}
use Outcome::*;

fn corpus(db: &str) -> Vec<(String, Outcome)> {
    let mut cases: Vec<(String, Outcome)> = vec![
        // Comments.
        ("-- leading comment\nSELECT 1".into(), Rows(1)),
        ("/* DELETE FROM scenarios; */ SELECT 1".into(), Rows(1)),
        ("SELECT 1 -- ; DELETE FROM scenarios".into(), Rows(1)),
        ("SELECT 1 /* ; DROP TABLE scenarios */".into(), Rows(1)),
        ("SELECT 1; -- trailing comment".into(), Rows(1)),
        // Case tricks.
        ("sElEcT 1".into(), Rows(1)),
        ("DeLeTe FROM scenarios".into(), Refused("DELETE statements")),
        ("iNsErT INTO scenario_tags VALUES (99, 'x', 'y')".into(), Refused("INSERT statements")),
        ("UpDaTe scenarios SET name = 'x'".into(), Refused("UPDATE statements")),
        // Keywords inside strings and identifiers.
        ("SELECT 'DROP TABLE scenarios' AS s".into(), Rows(1)),
        ("SELECT 'a; DELETE FROM scenarios' AS s".into(), Rows(1)),
        ("SELECT $$; DELETE FROM scenarios; $$ AS s".into(), Rows(1)),
        ("SELECT 1 AS \"delete\", 2 AS \"drop table\"".into(), Rows(1)),
        ("SELECT * FROM scenarios WHERE name = 'x''; DELETE FROM scenarios; --'".into(), Rows(0)),
        // Semicolon games.
        ("SELECT 1; SELECT 2".into(), Refused("2 statements in one call")),
        ("SELECT 1;\nDROP TABLE scenarios".into(), Refused("2 statements in one call")),
        ("SELECT 1;;".into(), Rows(1)),
        (";".into(), Failed("")),
        ("SELECT 1; DELETE FROM scenarios; SELECT 2".into(), Refused("3 statements in one call")),
        // Unicode.
        ("SELECT 'ü€😀' AS ü".into(), Rows(1)),
        ("SELECT 1 AS \"名前\"".into(), Rows(1)),
        // A full-width semicolon is no separator: DuckDB reads `；DELETE` as a column alias.
        ("SELECT 1；DELETE FROM scenarios".into(), Rows(1)),
        ("SELECT '\u{202e}DROP' AS bidi".into(), Rows(1)),
        // CTEs hiding writes.
        ("WITH d AS (DELETE FROM scenarios RETURNING *) SELECT * FROM d".into(), Failed("")),
        (
            "WITH x AS (SELECT 1) INSERT INTO scenario_tags SELECT 99, 'x', 'y' FROM x".into(),
            Refused("INSERT statements"),
        ),
        ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r".into(), Rows(5)),
        ("WITH a AS (WITH b AS (SELECT 1 AS x) SELECT * FROM b) SELECT * FROM a".into(), Rows(1)),
        // Table functions reaching files, URLs, the database itself.
        ("SELECT * FROM read_csv('/etc/passwd')".into(), Failed("")),
        ("SELECT * FROM read_csv_auto('/etc/passwd')".into(), Failed("")),
        ("SELECT * FROM read_json('/etc/passwd')".into(), Failed("")),
        ("SELECT * FROM read_text('/etc/hostname')".into(), Failed("")),
        ("SELECT * FROM '/etc/passwd'".into(), Failed("")),
        ("SELECT * FROM glob('/etc/*')".into(), Failed("")),
        ("SELECT * FROM read_csv('https://example.com/a.csv')".into(), Failed("")),
        ("SELECT * FROM sniff_csv('/etc/passwd')".into(), Failed("")),
        (format!("SELECT * FROM read_blob('{db}')"), Failed("")),
        (format!("SELECT * FROM read_text('{db}')"), Failed("")),
        ("SELECT * FROM query('DELETE FROM scenarios')".into(), Failed("")),
        // Settings and state.
        ("SET threads = 1".into(), Refused("SET statements")),
        ("RESET threads".into(), Refused("SET statements")),
        ("SET enable_external_access = true".into(), Refused("SET statements")),
        // DuckDB's parser turns this PRAGMA into a SET.
        ("PRAGMA enable_profiling".into(), Refused("PRAGMA statements")),
        ("PRAGMA threads = 1".into(), Refused("statements are not allowed")),
        ("SELECT current_setting('threads') AS t".into(), Rows(1)),
        ("SELECT name, description FROM duckdb_settings() WHERE name = 'enable_external_access'".into(), Rows(1)),
        ("SELECT * FROM duckdb_settings() WHERE name = 'threads'".into(), Rows(1)),
        ("SELECT 1::VARIANT AS v".into(), Failed("VARIANT type")),
        ("SELECT name, CAST(value AS VARCHAR) AS v FROM duckdb_settings() WHERE name = 'threads'".into(), Rows(1)),
        ("CALL pragma_version()".into(), Refused("CALL statements")),
        // Everything else that is not a read.
        ("ATTACH ':memory:' AS scratch".into(), Refused("ATTACH statements")),
        (format!("ATTACH '{db}' AS again (READ_ONLY)"), Refused("ATTACH statements")),
        ("DETACH scratch".into(), Refused("DETACH statements")),
        ("INSTALL httpfs".into(), Refused("statements")),
        ("LOAD httpfs".into(), Refused("LOAD statements")),
        ("COPY scenarios TO '/tmp/healthsim-stolen.csv'".into(), Refused("COPY statements")),
        ("COPY (SELECT 1) TO '/tmp/healthsim-stolen.csv'".into(), Refused("COPY statements")),
        ("EXPORT DATABASE '/tmp/healthsim-export'".into(), Refused("EXPORT statements")),
        ("CHECKPOINT".into(), Refused("statements")),
        ("VACUUM".into(), Refused("VACUUM statements")),
        ("BEGIN TRANSACTION".into(), Refused("TRANSACTION statements")),
        ("COMMIT".into(), Refused("TRANSACTION statements")),
        ("CREATE TEMP TABLE t AS SELECT 1".into(), Refused("CREATE statements")),
        ("CREATE MACRO m(x) AS x + 1".into(), Refused("CREATE statements")),
        ("CREATE VIEW v AS SELECT 1".into(), Refused("CREATE statements")),
        ("DROP TABLE scenarios".into(), Refused("DROP statements")),
        ("ALTER TABLE scenarios ADD COLUMN x INTEGER".into(), Refused("ALTER statements")),
        ("TRUNCATE scenarios".into(), Refused("DELETE statements")),
        ("PREPARE p AS SELECT 1".into(), Refused("PREPARE statements")),
        ("USE memory".into(), Refused("statements")),
        ("EXPLAIN DELETE FROM scenarios".into(), Refused("EXPLAIN DELETE statements")),
        ("EXPLAIN ANALYZE DELETE FROM scenarios".into(), Refused("EXPLAIN DELETE statements")),
        ("EXPLAIN (FORMAT json) SELECT 1".into(), Refused("EXPLAIN with an options list")),
        ("SELECT nextval('scenario_entities_seq')".into(), Failed("")),
        // Legitimate reads that must keep working.
        ("SHOW TABLES".into(), Rows(21)),
        ("DESCRIBE scenarios".into(), Rows(6)),
        ("SUMMARIZE scenarios".into(), Rows(6)),
        ("SHOW scenarios".into(), Rows(6)),
        ("DESCRIBE SELECT 1 AS x".into(), Rows(1)),
        ("EXPLAIN SELECT * FROM scenarios".into(), Rows(1)),
        ("EXPLAIN ANALYZE SELECT 1".into(), Rows(1)),
        ("FROM scenarios".into(), Rows(1)),
        ("VALUES (1), (2), (3)".into(), Rows(3)),
        ("SELECT 1 UNION SELECT 2 EXCEPT SELECT 2".into(), Rows(1)),
        ("SELECT 1 AS credit_limit".into(), Rows(1)),
        ("SELECT * FROM scenarios WHERE description LIKE '%delete%'".into(), Rows(0)),
        ("SELECT 'please delete me' AS note".into(), Rows(1)),
        ("SELECT * FROM duckdb_tables() WHERE schema_name = 'main'".into(), Rows(21)),
        ("SELECT * FROM range(100000000) LIMIT 100000000".into(), Rows(100_000_000)),
    ];
    // Huge SQL text at the limit still runs.
    let padding = 100_000 - "SELECT 1 AS big".len();
    cases.push((format!("SELECT 1 AS big{}", " ".repeat(padding)), Rows(1)));
    cases
}

/// Every corpus input gets its exact outcome, and the database is unchanged.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_corpus() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    server
        .ok("healthsim_save_scenario", json!({"name": "guarded", "entities": {"widgets": [{"id": 1}]}, "tags": ["t"]}))
        .await;
    let cases = corpus(&db.display().to_string());
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut wrong = Vec::new();
    for (sql, expected) in &cases {
        let result = server.call("healthsim_query", json!({"sql": sql, "limit": 3})).await;
        let text = crate::util::text_of(&result);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let ok = match (expected, result.is_error == Some(true)) {
            // The call passes limit 3: more rows than that are cut and flagged.
            (Rows(n), false) => {
                value["row_count"].as_u64() == Some((*n).min(3)) && value["truncated"].as_bool() == Some(*n > 3)
            }
            (Refused(what), true) => {
                let message = value["error"].as_str().unwrap();
                message.starts_with("query refused: ") && message.contains(what)
            }
            (Failed(what), true) => {
                let message = value["error"].as_str().unwrap();
                message.starts_with("query failed: ") && message.contains(what)
            }
            _ => false,
        };
        if !ok {
            wrong.push(format!(
                "{:?} expected {expected:?}, got {}",
                &sql[..sql.len().min(80)],
                text.replace('\n', " ")
            ));
        }
    }
    assert!(wrong.is_empty(), "{} wrong outcomes:\n{}", wrong.len(), wrong.join("\n"));
    assert!(!std::path::Path::new("/tmp/healthsim-stolen.csv").exists());
    assert!(!std::path::Path::new("/tmp/healthsim-export").exists());
    let after = server
        .ok("healthsim_query", json!({"sql": "SELECT (SELECT count(*) FROM scenarios) AS s, (SELECT count(*) FROM scenario_tags) AS t, (SELECT count(*) FROM duckdb_tables()) AS n"}))
        .await;
    assert_eq!(after["rows"][0], json!({"s": 1, "t": 1, "n": 24}));
    server.stop().await;
}
