//! Every listed argument error and bound, as tool errors; the server keeps serving.

use serde_json::json;

use crate::util::{Server, temp_db};

/// Bounds and types are checked with messages naming field, value and range.
#[tokio::test(flavor = "multi_thread")]
async fn bad_arguments_are_tool_errors() {
    let (_dir, db) = temp_db();
    let server = Server::start_with(&db, &["--max-save-entities", "3"], &[]).await;
    let cases = [
        ("healthsim_list_scenarios", json!({"limit": 0}), "limit must be between 1 and 200 (got 0)"),
        ("healthsim_list_scenarios", json!({"limit": 201}), "limit must be between 1 and 200 (got 201)"),
        (
            "healthsim_list_scenarios",
            json!({"limit": "ten"}),
            "limit must be an integer between 1 and 200 (got \"ten\")",
        ),
        ("healthsim_list_scenarios", json!({"limit": 2.5}), "limit must be an integer between 1 and 200 (got 2.5)"),
        ("healthsim_list_scenarios", json!({"tag": 5}), "tag must be a string (got 5)"),
        (
            "healthsim_list_scenarios",
            json!({"colour": "red"}),
            "unknown argument 'colour'; accepted arguments: tag, search, limit",
        ),
        ("healthsim_load_scenario", json!({}), "name_or_id is required and must be a non-empty string"),
        (
            "healthsim_load_scenario",
            json!({"name_or_id": "   "}),
            "name_or_id is required and must be a non-empty string",
        ),
        (
            "healthsim_load_scenario",
            json!({"name_or_id": "x".repeat(201)}),
            "name_or_id must be at most 200 characters (got 201)",
        ),
        (
            "healthsim_load_scenario",
            json!({"name_or_id": "x", "include_entities": "yes"}),
            "include_entities must be true or false (got \"yes\")",
        ),
        (
            "healthsim_get_summary",
            json!({"scenario_id_or_name": "x", "samples_per_type": 11}),
            "samples_per_type must be between 1 and 10 (got 11)",
        ),
        (
            "healthsim_get_summary",
            json!({"scenario_id_or_name": "x", "samples_per_type": 0}),
            "samples_per_type must be between 1 and 10 (got 0)",
        ),
        ("healthsim_query", json!({"sql": ""}), "sql is required and must be a non-empty string"),
        ("healthsim_query", json!({"sql": "SELECT 1", "limit": 1001}), "limit must be between 1 and 1000 (got 1001)"),
        ("healthsim_query", json!({"sql": "x".repeat(100_001)}), "sql must be at most 100000 characters (got 100001)"),
        (
            "healthsim_query_reference",
            json!({"table": "zip_codes"}),
            "table must be one of places_county, places_tract, svi_county, svi_tract, adi_blockgroup (got \"zip_codes\")",
        ),
        (
            "healthsim_query_reference",
            json!({}),
            "table is required: one of places_county, places_tract, svi_county, svi_tract, adi_blockgroup",
        ),
        (
            "healthsim_query_reference",
            json!({"table": "svi_county", "limit": 101}),
            "limit must be between 1 and 100 (got 101)",
        ),
        ("healthsim_tables", json!({"verbose": true}), "unknown argument 'verbose'; accepted arguments: none"),
        ("healthsim_save_scenario", json!({"entities": {}}), "name is required and must be a non-empty string"),
        (
            "healthsim_save_scenario",
            json!({"name": "n"}),
            "entities is required: an object mapping entity type to an array of objects (may be {})",
        ),
        (
            "healthsim_save_scenario",
            json!({"name": "n", "entities": []}),
            "entities must be an object mapping entity type to an array of objects (got [])",
        ),
        (
            "healthsim_save_scenario",
            json!({"name": "n", "entities": {"patients": {}}}),
            "entities['patients'] must be an array of objects (got {})",
        ),
        (
            "healthsim_save_scenario",
            json!({"name": "n", "entities": {"patients": ["p"]}}),
            "entities['patients'][0] must be an object (got \"p\")",
        ),
        (
            "healthsim_save_scenario",
            json!({"name": "n", "entities": {"a": [{}, {}], "b": [{}, {}]}}),
            "entities must hold at most 3 entities in one save (got 4); split the scenario or raise --max-save-entities",
        ),
        (
            "healthsim_save_scenario",
            json!({"name": "n", "entities": {}, "description": "d".repeat(10_001)}),
            "description must be at most 10000 characters (got 10001)",
        ),
        (
            "healthsim_save_scenario",
            json!({"name": "n", "entities": {}, "tags": (0..51).map(|i| i.to_string()).collect::<Vec<_>>()}),
            "tags must have at most 50 entries (got 51)",
        ),
        (
            "healthsim_save_scenario",
            json!({"name": "n", "entities": {}, "tags": ["x".repeat(101)]}),
            "tags[0] must be between 1 and 100 characters (got 101)",
        ),
        (
            "healthsim_save_scenario",
            json!({"name": "n", "entities": {}, "overwrite": "true"}),
            "overwrite must be true or false (got \"true\")",
        ),
        (
            "healthsim_delete_scenario",
            json!({"name_or_id": "n", "confirm": 1}),
            "confirm must be true or false (got 1)",
        ),
    ];
    for (tool, args, expected) in cases {
        let message = server.err_msg(tool, args.clone()).await;
        assert_eq!(message, expected, "{tool} {args}");
    }
    // Nothing was written by any of them, and the server still serves.
    let list = server.ok("healthsim_list_scenarios", json!({})).await;
    assert_eq!(list, json!([]));
    server.stop().await;
}

/// Not-found errors name the input and the next step.
#[tokio::test(flavor = "multi_thread")]
async fn not_found_errors() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let expected = "scenario 'q3' not found; call healthsim_list_scenarios to see saved scenarios";
    assert_eq!(server.err_msg("healthsim_load_scenario", json!({"name_or_id": "q3"})).await, expected);
    assert_eq!(server.err_msg("healthsim_get_summary", json!({"scenario_id_or_name": "q3"})).await, expected);
    let missing = server.err_msg("healthsim_query_reference", json!({"table": "svi_county"})).await;
    assert!(missing.starts_with("reference table population.svi_county is missing;"), "{missing}");
    let state = server.err_msg("healthsim_query_reference", json!({"table": "svi_county", "state": "ZZ"})).await;
    assert!(
        state.starts_with(
            "state 'ZZ' is not a US state abbreviation or 2-digit FIPS code; valid abbreviations: AL, AK,"
        ),
        "{state}"
    );
    server.stop().await;
}

/// LIKE wildcards in user text match literally; search and tag are case-insensitive;
/// name resolution prefers exact name, then id, then a unique case-insensitive name.
#[tokio::test(flavor = "multi_thread")]
async fn filters_and_resolution_are_literal() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    for (name, tags) in
        [("100% synthetic", vec!["Alpha"]), ("plain_one", vec!["beta"]), ("PLAIN ONE", vec![]), ("plain one", vec![])]
    {
        server.ok("healthsim_save_scenario", json!({"name": name, "entities": {}, "tags": tags})).await;
    }
    let names = |v: serde_json::Value| -> Vec<String> {
        let mut names: Vec<String> =
            v.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect();
        names.sort();
        names
    };
    assert_eq!(names(server.ok("healthsim_list_scenarios", json!({"search": "%"})).await), ["100% synthetic"]);
    assert_eq!(names(server.ok("healthsim_list_scenarios", json!({"search": "_"})).await), ["plain_one"]);
    assert_eq!(names(server.ok("healthsim_list_scenarios", json!({"tag": "ALPHA"})).await), ["100% synthetic"]);
    assert_eq!(names(server.ok("healthsim_list_scenarios", json!({"tag": "alp"})).await), Vec::<String>::new());
    assert_eq!(server.ok("healthsim_list_scenarios", json!({"limit": 2})).await.as_array().unwrap().len(), 2);
    // Exact name wins over case-insensitive matches; an ambiguous folded name is not found.
    assert_eq!(server.ok("healthsim_load_scenario", json!({"name_or_id": "PLAIN ONE"})).await["name"], "PLAIN ONE");
    assert!(server.err_msg("healthsim_load_scenario", json!({"name_or_id": "Plain One"})).await.contains("not found"));
    // get_summary falls back to a literal substring.
    assert_eq!(
        server.ok("healthsim_get_summary", json!({"scenario_id_or_name": "0% SYN"})).await["name"],
        "100% synthetic"
    );
    assert!(server.err_msg("healthsim_get_summary", json!({"scenario_id_or_name": "1%s"})).await.contains("not found"));
    // Several substring matches: the most recently updated wins (the last saved above).
    assert_eq!(server.ok("healthsim_get_summary", json!({"scenario_id_or_name": "plain"})).await["name"], "plain one");
    server.stop().await;
}
