//! healthsim_query and healthsim_tables end to end.

use serde_json::json;

use crate::util::{Server, temp_db};

/// Read statements run; everything else is refused by statement type before running.
#[tokio::test(flavor = "multi_thread")]
async fn only_single_read_statements_run() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    server.ok("healthsim_save_scenario", json!({"name": "keep", "entities": {"widgets": [{"id": 1}]}})).await;
    for sql in [
        "SELECT 1 AS one",
        "WITH t AS (SELECT 2 AS x) SELECT * FROM t",
        "VALUES (1), (2)",
        "FROM scenarios",
        "SELECT 1 UNION ALL SELECT 2",
        "SHOW TABLES",
        "DESCRIBE scenarios",
        "SUMMARIZE scenarios",
        "EXPLAIN SELECT * FROM scenarios",
        "SELECT 'delete from scenarios' AS note",
        "select 1; ",
    ] {
        let result = server.ok("healthsim_query", json!({"sql": sql})).await;
        assert!(result["row_count"].as_u64().unwrap() >= 1, "{sql}: {result}");
    }
    for (sql, refused) in [
        ("DELETE FROM scenarios", "DELETE statements are not allowed"),
        ("INSERT INTO scenario_tags (scenario_id, tag) VALUES ('x', 'y')", "INSERT statements are not allowed"),
        ("DROP TABLE scenarios", "DROP statements are not allowed"),
        ("CREATE TEMP TABLE t AS SELECT 1", "CREATE statements are not allowed"),
        ("SELECT 1; DELETE FROM scenarios", "2 statements in one call are not allowed"),
        ("ATTACH ':memory:' AS other", "ATTACH statements are not allowed"),
        ("COPY scenarios TO '/tmp/out.csv'", "COPY statements are not allowed"),
        ("SET threads = 1", "SET statements are not allowed"),
        ("PRAGMA enable_profiling", "PRAGMA statements are not allowed"),
        ("CHECKPOINT", "CALL statements are not allowed"),
        ("BEGIN TRANSACTION", "TRANSACTION statements are not allowed"),
        ("EXPLAIN DELETE FROM scenarios", "EXPLAIN DELETE statements are not allowed"),
    ] {
        let message = server.err_msg("healthsim_query", json!({"sql": sql})).await;
        assert!(message.starts_with(&format!("query refused: {refused};")), "{sql}: {message}");
    }
    let failed = server.err_msg("healthsim_query", json!({"sql": "SELEC 1"})).await;
    assert!(failed.starts_with("query failed: Parser Error"), "{failed}");
    let still = server.ok("healthsim_list_scenarios", json!({})).await;
    assert_eq!(still.as_array().unwrap().len(), 1, "nothing was deleted");
    server.stop().await;
}

/// The row cap applies while fetching, whatever the SQL says, and duplicate column names
/// are made unique.
#[tokio::test(flavor = "multi_thread")]
async fn row_cap_truncation_and_column_names() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let result = server
        .ok("healthsim_query", json!({"sql": "SELECT range AS credit_limit FROM range(100000000)", "limit": 5}))
        .await;
    assert_eq!(result["row_count"], 5);
    assert_eq!(result["truncated"], true);
    assert_eq!(result["columns"], json!(["credit_limit"]));
    assert_eq!(result["rows"][4], json!({"credit_limit": 4}));
    let exact = server.ok("healthsim_query", json!({"sql": "SELECT * FROM range(3) LIMIT 1000", "limit": 3})).await;
    assert_eq!((exact["row_count"].as_u64(), exact["truncated"].as_bool()), (Some(3), Some(false)));
    let dup = server.ok("healthsim_query", json!({"sql": "SELECT 1 AS a, 2 AS a, 3 AS b, 4 AS a"})).await;
    assert_eq!(dup["columns"], json!(["a", "a_2", "b", "a_3"]));
    assert_eq!(dup["rows"][0], json!({"a": 1, "a_2": 2, "b": 3, "a_3": 4}));
    let empty = server.ok("healthsim_query", json!({"sql": "SELECT 1 AS x WHERE false"})).await;
    assert_eq!(empty, json!({"columns": ["x"], "row_count": 0, "rows": [], "truncated": false}));
    let types = server
        .ok("healthsim_query", json!({"sql": "SELECT 1.50::DECIMAL(5,2) AS d, 'NaN'::DOUBLE AS n, DATE '2024-01-02' AS dt, '{\"k\": [1]}'::JSON AS j, [1,2] AS l"}))
        .await;
    assert_eq!(types["rows"][0], json!({"d": "1.50", "n": "NaN", "dt": "2024-01-02", "j": {"k": [1]}, "l": [1, 2]}));
    server.stop().await;
}

/// The output cap drops rows and sets truncated.
#[tokio::test(flavor = "multi_thread")]
async fn output_cap_drops_rows() {
    let (_dir, db) = temp_db();
    let server = Server::start_with(&db, &["--max-output-chars", "2000"], &[]).await;
    let result = server
        .call("healthsim_query", json!({"sql": "SELECT repeat('x', 100) AS s FROM range(100)", "limit": 100}))
        .await;
    let text = crate::util::text_of(&result);
    assert!(text.len() <= 2000, "{} chars", text.len());
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["truncated"], true);
    assert!(value["row_count"].as_u64().unwrap() >= 5);
    server.stop().await;
}

/// healthsim_tables sees every schema and counts rows.
#[tokio::test(flavor = "multi_thread")]
async fn tables_lists_all_schemas() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    server.ok("healthsim_save_scenario", json!({"name": "t", "entities": {"widgets": [{"id": 1}, {"id": 2}]}})).await;
    let tables = server.ok("healthsim_tables", json!({})).await;
    let keys: Vec<&String> = tables.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["reference_tables", "entity_tables", "system_tables", "other_tables", "row_counts", "total"]);
    assert_eq!(tables["entity_tables"].as_array().unwrap().len(), 20);
    assert_eq!(
        tables["system_tables"],
        json!(["scenario_entities", "scenario_tags", "scenarios", "schema_migrations"])
    );
    assert_eq!(tables["row_counts"]["scenario_entities"], 2);
    assert_eq!(tables["total"], 24);
    server.stop().await;
}

/// A query past --query-timeout-ms is interrupted with a clear error; the server (and its
/// pooled connection) keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn query_timeout_interrupts() {
    let (_dir, db) = crate::util::temp_db();
    let server = crate::util::Server::start_with(&db, &["--query-timeout-ms", "300"], &[]).await;
    let slow = json!({"sql": "SELECT count(*) FROM range(10000000000) a, range(10) b"});
    let message = server.err_msg("healthsim_query", slow).await;
    assert_eq!(
        message,
        "query interrupted after the 300 ms timeout; add filters or a LIMIT, or raise --query-timeout-ms"
    );
    for _ in 0..3 {
        let ok = server.ok("healthsim_query", json!({"sql": "SELECT 42 AS x"})).await;
        assert_eq!(ok["rows"], json!([{"x": 42}]));
    }
    server.stop().await;
}

/// notifications/cancelled for a running query interrupts it: a save, which must wait for
/// every read in flight, goes through at once although the query alone would run for
/// minutes and the query timeout is ten minutes.
#[tokio::test(flavor = "multi_thread")]
async fn cancellation_interrupts_a_running_query() {
    use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest};
    use rmcp::service::PeerRequestOptions;

    let (_dir, db) = crate::util::temp_db();
    let server = crate::util::Server::start_with(&db, &["--query-timeout-ms", "600000"], &[]).await;
    server.ok("healthsim_list_scenarios", json!({})).await;
    let mut arguments = serde_json::Map::new();
    arguments.insert("sql".into(), json!("SELECT count(*) FROM range(10000000000) a, range(10) b"));
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(
        CallToolRequestParams::new("healthsim_query").with_arguments(arguments),
    ));
    let handle =
        server.client.peer().send_cancellable_request(request, PeerRequestOptions::no_options()).await.unwrap();
    // Let the query start: a read answered after it was sent was queued behind it.
    server.ok("healthsim_query", json!({"sql": "SELECT 1 AS x"})).await;
    let cancelled_at = std::time::Instant::now();
    handle.cancel(Some("test".into())).await.unwrap();
    let saved = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        server.ok("healthsim_save_scenario", json!({"name": "after-cancel", "entities": {}})),
    )
    .await
    .expect("the save went through, so the cancelled query was interrupted");
    assert_eq!(saved["status"], "saved");
    eprintln!("save completed {:?} after the cancellation", cancelled_at.elapsed());
    server.stop().await;
}
