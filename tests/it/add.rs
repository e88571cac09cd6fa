//! healthsim_add_entities: batches into one scenario, upsert by entity id, never deleting.

use serde_json::json;

use crate::util::{Server, temp_db};

fn patient(id: &str, given: &str) -> serde_json::Value {
    json!({"id": id, "given_name": given, "family_name": "Lee", "birth_date": "1990-01-01", "gender": "F"})
}

/// The first batch creates the scenario (by name), later ones add to it by id: an entity
/// already held is replaced (JSON and canonical row), others are added, nothing is
/// deleted, tags accumulate; an unknown id is refused; neither id nor name auto-names.
#[tokio::test(flavor = "multi_thread")]
async fn batches_upsert_and_never_delete() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let first = server
        .ok(
            "healthsim_add_entities",
            json!({"scenario_name": "grow", "entities": {"patients": [patient("p1", "A"), patient("p2", "B")]},
                   "tags": ["first"], "batch_number": 1, "total_batches": 2}),
        )
        .await;
    assert_eq!(first["is_new_scenario"], true);
    assert_eq!(first["entities_added_this_batch"], json!({"patients": 2}));
    assert_eq!(first["sample_ids"], json!({"patients": ["p1", "p2"]}));
    assert_eq!(first["batches_remaining"], 1);
    let id = first["scenario_id"].as_str().unwrap().to_owned();
    let second = server
        .ok(
            "healthsim_add_entities",
            json!({"scenario_id": id, "entities": {"patients": [patient("p2", "Changed"), patient("p3", "C")],
                   "encounters": [{"encounter_id": "e1", "admission_time": "2024-01-01T10:00:00"}]}, "tags": ["second", "FIRST"]}),
        )
        .await;
    assert_eq!(second["is_new_scenario"], false);
    assert_eq!(second["scenario_totals"], json!({"by_type": {"patients": 3, "encounters": 1}, "total_entities": 4}));
    // The encounter names no patient and the batch has two: none is guessed (a row without
    // its patient, warned).
    assert_eq!(second["canonical_rows"], json!({"patients": 2, "encounters": 1}));
    assert!(second["warnings"][0].as_str().unwrap().starts_with("encounters 'e1': patient_mrn unknown"), "{second}");
    let rows = server.ok("healthsim_query", json!({"sql": "SELECT id, given_name FROM patients ORDER BY id"})).await;
    assert_eq!(
        rows["rows"],
        json!([{"id": "p1", "given_name": "A"}, {"id": "p2", "given_name": "Changed"}, {"id": "p3", "given_name": "C"}])
    );
    let loaded = server.ok("healthsim_load_scenario", json!({"name_or_id": "grow"})).await;
    assert_eq!(loaded["tags"], json!(["first", "second"]));
    assert_eq!(loaded["entities"]["patients"].as_array().unwrap().len(), 3);
    let refused = server.err_msg("healthsim_add_entities", json!({"scenario_id": "nope", "entities": {}})).await;
    assert!(refused.starts_with("scenario 'nope' not found"), "{refused}");
    let auto = server.ok("healthsim_add_entities", json!({"entities": {"patients": [patient("x", "X")]}})).await;
    assert!(auto["scenario_name"].as_str().unwrap().starts_with("scenario-"), "{auto}");
    let listed = server.ok("healthsim_list_scenarios", json!({})).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    server.stop().await;
}
