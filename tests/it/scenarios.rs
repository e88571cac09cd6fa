//! Scenario tools end to end: save → list → summary → load → delete, with values checked.

use chrono::Datelike;
use serde_json::{Value, json};

use crate::util::{Server, fixture, temp_db};

/// Whole years between a birth date and today (UTC).
fn age(birth: &str) -> i64 {
    let birth = chrono::NaiveDate::parse_from_str(birth, "%Y-%m-%d").unwrap();
    let today = chrono::Utc::now().date_naive();
    let mut years = i64::from(today.year() - birth.year());
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

/// The full round trip keeps every value, and summary statistics are computed.
#[tokio::test(flavor = "multi_thread")]
async fn save_list_summary_load_delete_round_trip() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let entities = fixture("patientsim_clinical");
    let saved = server
        .ok(
            "healthsim_save_scenario",
            json!({"name": "  Diabetes cohort  ", "description": "Four adults, one admission", "entities": entities,
                   "tags": ["diabetes", "Q1", "DIABETES", " cohort "]}),
        )
        .await;
    assert_eq!(saved["status"], "saved");
    assert_eq!(saved["name"], "Diabetes cohort", "name is trimmed");
    assert_eq!(saved["total_entities"], 20);
    assert_eq!(
        saved["entity_counts"],
        json!({"clinical_notes": 1, "diagnoses": 5, "encounters": 4, "lab_results": 2, "medications": 2, "orders": 1, "patients": 4, "vital_signs": 1})
    );
    assert_eq!(
        saved["canonical_rows"],
        json!({"patients": 4, "encounters": 4, "diagnoses": 5, "medications": 2, "lab_results": 2, "vital_signs": 1, "orders": 1, "clinical_notes": 1})
    );
    assert!(saved.get("warnings").is_none(), "no warnings: {saved}");
    let keys: Vec<&String> = saved.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["status", "scenario_id", "name", "entity_counts", "total_entities", "canonical_rows"]);
    let scenario_id = saved["scenario_id"].as_str().unwrap().to_owned();

    // List: a read right after the save sees it, with tags in given order, deduplicated.
    let list = server.ok("healthsim_list_scenarios", json!({})).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    let item = list[0].as_object().unwrap();
    let keys: Vec<&String> = item.keys().collect();
    assert_eq!(keys, ["scenario_id", "name", "description", "entity_count", "tags", "created_at", "updated_at"]);
    assert_eq!(item["scenario_id"], scenario_id.as_str());
    assert_eq!(item["entity_count"], 20);
    assert_eq!(item["tags"], json!(["diabetes", "Q1", "cohort"]));
    assert_eq!(item["description"], "Four adults, one admission");

    // Summary: statistics from the canonical tables.
    let summary = server.ok("healthsim_get_summary", json!({"scenario_id_or_name": "diabetes"})).await;
    assert_eq!(summary["scenario_id"], scenario_id.as_str());
    let created = summary["created_at"].as_str().unwrap();
    assert!(created.len() >= 19 && &created[10..11] == "T", "ISO 8601 with T: {created}");
    assert_eq!(summary["entity_counts"]["patients"], 4);
    let ages: Vec<i64> = ["1958-03-14", "1975-11-02", "1990-07-30", "1949-01-20"].iter().map(|b| age(b)).collect();
    let avg = (ages.iter().sum::<i64>() as f64 / 4.0 * 10.0).round() / 10.0;
    let stats = &summary["statistics"];
    assert_eq!(stats["age_range"], json!({"min": ages.iter().min(), "max": ages.iter().max(), "avg": avg}));
    assert_eq!(stats["gender_distribution"], json!({"female": 2, "male": 2}));
    assert_eq!(stats["date_range"], json!({"min": "2023-12-01", "max": "2024-03-20"}));
    assert_eq!(stats["encounter_types"], json!({"O": 2, "E": 1, "I": 1}));
    assert_eq!(
        stats["top_diagnoses"][0],
        json!({"code": "I10", "description": "Essential (primary) hypertension", "count": 2})
    );
    assert_eq!(stats["top_diagnoses"].as_array().unwrap().len(), 4);
    assert!(stats.get("financials").is_none(), "no claims, no financials");
    assert_eq!(summary["tags"], json!(["Q1", "cohort", "diabetes"]));
    // Samples are handed out round-robin within the 10,000-character budget: every table
    // with rows shows at least its first row before any table shows more.
    let samples = summary["samples"].as_object().unwrap();
    for table in summary["entity_counts"].as_object().unwrap().keys() {
        assert!(!samples[table].as_array().unwrap().is_empty(), "{table} has a sample");
    }
    assert!(serde_json::to_string_pretty(&summary).unwrap().chars().count() < 10_000);
    let patients = summary["samples"]["patients"].as_array().unwrap();
    assert!((1..=3).contains(&patients.len()));
    assert!(patients[0].get("scenario_id").is_none() && patients[0].get("generation_seed").is_none());
    assert_eq!(patients[0]["given_name"], "Maria");
    assert_eq!(patients[0]["birth_date"], "1958-03-14");
    assert_eq!(patients[0]["street_address"], "1200 Main St");
    let no_samples =
        server.ok("healthsim_get_summary", json!({"scenario_id_or_name": scenario_id, "include_samples": false})).await;
    assert_eq!(no_samples["samples"], json!({}));

    // Load: lossless, types sorted, submission order kept, unknown keys kept.
    let loaded = server.ok("healthsim_load_scenario", json!({"name_or_id": "diabetes COHORT"})).await;
    let keys: Vec<&String> = loaded.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "scenario_id",
            "name",
            "description",
            "created_at",
            "updated_at",
            "tags",
            "metadata",
            "entities",
            "entity_count"
        ]
    );
    assert_eq!(loaded["entities"], fixture("patientsim_clinical"), "every key and value comes back");
    let types: Vec<&String> = loaded["entities"].as_object().unwrap().keys().collect();
    let mut sorted = types.clone();
    sorted.sort();
    assert_eq!(types, sorted);
    assert_eq!(loaded["entity_count"], 20);
    assert_eq!(loaded["metadata"]["product"], "healthsim");
    assert_eq!(loaded["metadata"]["entity_counts"]["patients"], 4);
    let meta_only =
        server.ok("healthsim_load_scenario", json!({"name_or_id": scenario_id, "include_entities": false})).await;
    assert!(meta_only.get("entities").is_none());
    assert_eq!(meta_only["entity_count"], 20);

    // Canonical rows carry mapped values, checked by SQL.
    let rows = server
        .ok(
            "healthsim_query",
            json!({"sql": "SELECT id, mrn, given_name, family_name, postal_code, phone_mobile, deceased, CAST(death_date AS VARCHAR) AS death_date, skill_used, generation_seed FROM patients ORDER BY id"}),
        )
        .await;
    let rows = rows["rows"].as_array().unwrap();
    assert_eq!(rows[0]["mrn"], "MRN100001");
    assert_eq!(rows[0]["postal_code"], "77002");
    assert_eq!(rows[0]["phone_mobile"], "713-555-0199");
    assert_eq!(rows[0]["skill_used"], "diabetes-management");
    assert_eq!(rows[0]["generation_seed"], 42);
    assert_eq!(rows[1]["given_name"], "James");
    assert_eq!(rows[1]["postal_code"], "78701");
    let generated_mrn = rows[2]["mrn"].as_str().unwrap();
    assert!(generated_mrn.len() == 8 && generated_mrn.chars().all(|c| c.is_ascii_hexdigit()), "{generated_mrn}");
    assert_eq!(rows[3]["deceased"], true);
    assert_eq!(rows[3]["death_date"], "2024-02-11", "offset converted to the UTC date");
    let encounter = server
        .ok("healthsim_query", json!({"sql": "SELECT admission_time, status, chief_complaint FROM encounters WHERE encounter_id = 'ENC-002'"}))
        .await;
    assert_eq!(
        encounter["rows"][0],
        json!({"admission_time": "2024-02-11 22:05:00", "status": "finished", "chief_complaint": "Chest pain"})
    );

    // Delete: needs confirm; removes everything; then not_found.
    let refused = server.err("healthsim_delete_scenario", json!({"name_or_id": "Diabetes cohort"})).await;
    assert_eq!(refused["error"], "deleting 'Diabetes cohort' is permanent; call again with confirm=true");
    assert_eq!(refused["scenario"], "Diabetes cohort");
    let deleted =
        server.ok("healthsim_delete_scenario", json!({"name_or_id": "Diabetes cohort", "confirm": true})).await;
    assert_eq!(deleted["status"], "deleted");
    assert_eq!(deleted["scenario_id"], scenario_id.as_str());
    assert_eq!(deleted["removed"], json!({"entities": 20, "canonical_rows": 20, "tags": 3}));
    let left = server
        .ok("healthsim_query", json!({"sql": "SELECT (SELECT count(*) FROM patients) + (SELECT count(*) FROM scenario_entities) + (SELECT count(*) FROM scenario_tags) + (SELECT count(*) FROM scenarios) AS n"}))
        .await;
    assert_eq!(left["rows"][0]["n"], 0);
    let again = server.ok("healthsim_delete_scenario", json!({"name_or_id": "Diabetes cohort", "confirm": true})).await;
    assert_eq!(again, json!({"status": "not_found", "scenario": "Diabetes cohort"}));
    server.stop().await;
}

/// The legacy `{"params": {...}}` envelope is accepted by every tool.
#[tokio::test(flavor = "multi_thread")]
async fn params_envelope_is_unwrapped() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let saved = server
        .ok("healthsim_save_scenario", json!({"params": {"name": "wrapped", "entities": {"widgets": [{"id": "w1"}]}}}))
        .await;
    assert_eq!(saved["name"], "wrapped");
    let list = server.ok("healthsim_list_scenarios", json!({"params": {"search": "WRAP"}})).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let loaded = server.ok("healthsim_load_scenario", json!({"params": {"name_or_id": "wrapped"}})).await;
    assert_eq!(loaded["entities"], json!({"widgets": [{"id": "w1"}]}));
    server.stop().await;
}

/// Overwrite keeps id and created_at and replaces entities, tags and canonical rows.
#[tokio::test(flavor = "multi_thread")]
async fn overwrite_replaces_everything() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let first = server
        .ok(
            "healthsim_save_scenario",
            json!({"name": "s", "entities": fixture("patientsim_clinical"), "tags": ["old"]}),
        )
        .await;
    let taken = server.err_msg("healthsim_save_scenario", json!({"name": "s", "entities": {}})).await;
    assert_eq!(taken, "scenario 's' already exists; pass overwrite=true to replace it");
    let before = server.ok("healthsim_load_scenario", json!({"name_or_id": "s", "include_entities": false})).await;
    let second = server
        .ok(
            "healthsim_save_scenario",
            json!({"name": "s", "overwrite": true, "tags": ["new"],
                   "entities": {"patient": [{"id": "only", "given_name": "A", "family_name": "B", "birth_date": "2000-01-01", "gender": "F"}]}}),
        )
        .await;
    assert_eq!(second["scenario_id"], first["scenario_id"]);
    let after = server.ok("healthsim_load_scenario", json!({"name_or_id": "s"})).await;
    assert_eq!(after["created_at"], before["created_at"]);
    assert_eq!(after["tags"], json!(["new"]));
    assert_eq!(after["entity_count"], 1);
    let counts = server
        .ok("healthsim_query", json!({"sql": "SELECT (SELECT count(*) FROM patients) AS p, (SELECT count(*) FROM encounters) AS e, (SELECT string_agg(id, ',') FROM patients) AS ids"}))
        .await;
    assert_eq!(counts["rows"][0], json!({"p": 1, "e": 0, "ids": "only"}), "stale canonical rows are gone");
    server.stop().await;
}

/// Every kind of write (a save, an overwrite with deletes, a delete) is seen by a reader
/// opened right after its answer, whether it is still in the WAL or not; once the server has
/// been idle for its idle-release period the WAL is folded into the file, which then holds
/// everything alone.
#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_are_seen_and_folded_into_the_file_when_idle() {
    let (_dir, db) = temp_db();
    let wal = healthsim_mcp::engine::wal_path(&db);
    let server = Server::start_with(&db, &["--idle-release-ms", "300"], &[]).await;
    let count = || {
        let conn = duckdb::Connection::open_with_flags(
            &db,
            duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap(),
        );
        // The server may hold its read instance: a read-only open shares the file.
        let conn = conn.expect("a reader opens the file next to the server");
        conn.query_row("SELECT count(*) FROM scenario_entities", [], |r| r.get::<_, i64>(0)).unwrap()
    };
    let entities = fixture("patientsim_clinical");
    server.ok("healthsim_save_scenario", json!({"name": "s", "entities": entities})).await;
    assert!(wal.exists(), "a save commits to the WAL");
    let saved = count();
    assert!(saved > 1);
    let one = json!({"patient": [{"id": "only", "given_name": "A", "family_name": "B", "birth_date": "2000-01-01", "gender": "F"}]});
    server.ok("healthsim_save_scenario", json!({"name": "s", "overwrite": true, "entities": one})).await;
    assert_eq!(count(), 1);
    server.ok("healthsim_delete_scenario", json!({"name_or_id": "s", "confirm": true})).await;
    assert_eq!(count(), 0);
    server.ok("healthsim_save_scenario", json!({"name": "kept", "entities": one})).await;
    // Idle: the server folds the WAL into the file on its own (polled, with a deadline).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while wal.exists() {
        assert!(std::time::Instant::now() < deadline, "the WAL was not folded into the file while idle");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(count(), 1, "the file alone holds the last save");
    server.stop().await;
}

/// A server that never idles (`--idle-release-ms 0`) folds the WAL into the file when it
/// exits: the file alone holds every write.
#[tokio::test(flavor = "multi_thread")]
async fn the_wal_is_folded_into_the_file_at_exit() {
    let (_dir, db) = temp_db();
    let wal = healthsim_mcp::engine::wal_path(&db);
    let server = Server::start_with(&db, &["--idle-release-ms", "0"], &[]).await;
    server.ok("healthsim_save_scenario", json!({"name": "s", "entities": fixture("patientsim_clinical")})).await;
    assert!(wal.exists(), "a save commits to the WAL");
    server.stop().await;
    assert!(!wal.exists(), "the WAL is folded into the file at exit");
    let conn = duckdb::Connection::open(&db).unwrap();
    let n: i64 = conn.query_row("SELECT count(*) FROM scenarios WHERE name = 's'", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
}

/// The same entity ids in two scenarios give independent rows; deleting one keeps the other.
#[tokio::test(flavor = "multi_thread")]
async fn scenarios_are_isolated() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    server.ok("healthsim_save_scenario", json!({"name": "a", "entities": fixture("patientsim_clinical")})).await;
    server.ok("healthsim_save_scenario", json!({"name": "b", "entities": fixture("patientsim_clinical")})).await;
    let per = server
        .ok("healthsim_query", json!({"sql": "SELECT s.name, count(*) AS n FROM patients p JOIN scenarios s USING (scenario_id) GROUP BY s.name ORDER BY s.name"}))
        .await;
    assert_eq!(per["rows"], json!([{"name": "a", "n": 4}, {"name": "b", "n": 4}]));
    server.ok("healthsim_delete_scenario", json!({"name_or_id": "a", "confirm": true})).await;
    let left = server.ok("healthsim_query", json!({"sql": "SELECT count(*) AS n FROM patients"})).await;
    assert_eq!(left["rows"][0]["n"], 4);
    let b = server.ok("healthsim_get_summary", json!({"scenario_id_or_name": "b"})).await;
    assert_eq!(b["statistics"]["gender_distribution"], json!({"female": 2, "male": 2}));
    server.stop().await;
}

/// A save that fails midway (failpoint after 7 rows) leaves nothing behind, and the
/// server keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn failed_save_leaves_nothing_behind() {
    let (_dir, db) = temp_db();
    {
        let server = Server::start(&db).await;
        server.ok("healthsim_save_scenario", json!({"name": "kept", "entities": {"widgets": [{"id": 1}]}})).await;
        server.stop().await;
    }
    let server = Server::start_with(&db, &[], &[("HEALTHSIM_FAILPOINT", "save-after-rows:7")]).await;
    let message = server
        .err_msg("healthsim_save_scenario", json!({"name": "doomed", "entities": fixture("patientsim_clinical")}))
        .await;
    assert!(message.contains("failpoint"), "{message}");
    let overwrite = server
        .err_msg(
            "healthsim_save_scenario",
            json!({"name": "kept", "overwrite": true, "entities": fixture("patientsim_clinical")}),
        )
        .await;
    assert!(overwrite.contains("failpoint"), "{overwrite}");
    let counts = server
        .ok("healthsim_query", json!({"sql": "SELECT (SELECT count(*) FROM scenarios) AS s, (SELECT count(*) FROM scenario_entities) AS e, (SELECT count(*) FROM patients) AS p"}))
        .await;
    assert_eq!(counts["rows"][0], json!({"s": 1, "e": 1, "p": 0}));
    let kept = server.ok("healthsim_load_scenario", json!({"name_or_id": "kept"})).await;
    assert_eq!(kept["entities"], json!({"widgets": [{"id": 1}]}), "the old scenario is untouched");
    server.stop().await;
}

/// Entities that cannot become rows, duplicates and unknown types are saved as JSON and
/// reported as warnings.
#[tokio::test(flavor = "multi_thread")]
async fn warnings_for_unmappable_entities() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let saved = server
        .ok(
            "healthsim_save_scenario",
            json!({"name": "w", "entities": {
                "patients": [{"id": "p1", "given_name": "A", "family_name": "B", "gender": "F"},
                             {"id": "p2", "given_name": "A", "family_name": "B", "gender": "F", "birth_date": "1990-01-01"},
                             {"id": "p2", "given_name": "C", "family_name": "D", "gender": "M", "birth_date": "1991-01-01"}],
                "gizmos": [{"x": 1}]}}),
        )
        .await;
    let warnings: Vec<&str> = saved["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    // December 2026: a patient without a birth date is still a row (only ids are required).
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("'p2': given more than once")));
    assert!(warnings.iter().any(|w| w.contains("'gizmos' is not a canonical type")));
    assert_eq!(saved["entity_counts"], json!({"gizmos": 1, "patients": 2}));
    assert_eq!(saved["canonical_rows"], json!({"patients": 2}));
    let p2 = server.ok("healthsim_query", json!({"sql": "SELECT given_name FROM patients WHERE id = 'p2'"})).await;
    assert_eq!(p2["rows"], json!([{"given_name": "C"}]), "the later duplicate wins");
    let loaded = server.ok("healthsim_load_scenario", json!({"name_or_id": "w"})).await;
    assert_eq!(loaded["entities"]["patients"].as_array().unwrap().len(), 2);
    assert_eq!(loaded["entities"]["gizmos"], json!([{"x": 1}]));
    server.stop().await;
}

/// Load honours the output cap with truncated and hint.
#[tokio::test(flavor = "multi_thread")]
async fn load_is_cut_to_the_output_cap() {
    let (_dir, db) = temp_db();
    let server = Server::start_with(&db, &["--max-output-chars", "5000"], &[]).await;
    let widgets: Vec<Value> = (0..200).map(|i| json!({"id": format!("w{i}"), "payload": "x".repeat(40)})).collect();
    server.ok("healthsim_save_scenario", json!({"name": "big", "entities": {"widgets": widgets}})).await;
    let result = server.call("healthsim_load_scenario", json!({"name_or_id": "big"})).await;
    let text = crate::util::text_of(&result);
    assert!(text.chars().count() <= 5000, "{} chars", text.chars().count());
    let loaded: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(loaded["truncated"], true);
    assert!(loaded["hint"].as_str().unwrap().contains("healthsim_get_summary"));
    let kept = loaded["entities"]["widgets"].as_array().unwrap();
    assert!(!kept.is_empty() && kept.len() < 200);
    assert_eq!(kept[0]["id"], "w0", "order kept");
    assert_eq!(loaded["entity_count"], 200);
    server.stop().await;
}

/// Every answer respects its cap, whatever the scenario holds: a save naming too many
/// entity types is refused before anything is written, and a scenario of 5,000 types
/// (written by another program) gets a summary under 10,000 characters and a load within
/// --max-output-chars.
#[tokio::test(flavor = "multi_thread")]
async fn answers_stay_within_their_caps() {
    let (_dir, db) = temp_db();
    let server = Server::start_with(&db, &["--max-output-chars", "20000"], &[]).await;
    let types: serde_json::Map<String, Value> = (0..1_001).map(|i| (format!("t{i}"), json!([{"id": "x"}]))).collect();
    let refused = server.err_msg("healthsim_save_scenario", json!({"name": "wide", "entities": types})).await;
    assert!(refused.starts_with("entities must hold at most 1000 entity types in one save (got 1001)"), "{refused}");
    server.ok("healthsim_save_scenario", json!({"name": "wide", "entities": {"patients": []}})).await;
    server.stop().await;
    {
        let conn = duckdb::Connection::open(&db).unwrap();
        conn.execute_batch(
            "INSERT INTO scenario_entities (scenario_id, entity_type, entity_id, entity_data)
             SELECT s.scenario_id, 'kind_' || i, 'e' || i, '{\"v\": ' || i || '}' FROM scenarios s, range(5000) r(i)",
        )
        .unwrap();
    }
    let server = Server::start_with(&db, &["--max-output-chars", "20000"], &[]).await;
    let summary = server.call("healthsim_get_summary", json!({"scenario_id_or_name": "wide"})).await;
    let text = crate::util::text_of(&summary);
    assert!(text.chars().count() < 10_000, "summary is {} characters", text.chars().count());
    let summary: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(summary["entity_counts"]["(4950 other types)"], 4950);
    let loaded = server.call("healthsim_load_scenario", json!({"name_or_id": "wide"})).await;
    let text = crate::util::text_of(&loaded);
    assert!(text.chars().count() <= 20_000, "load is {} characters", text.chars().count());
    let loaded: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((loaded["truncated"].clone(), loaded["entity_count"].clone()), (json!(true), json!(5000)));
    server.stop().await;
}
