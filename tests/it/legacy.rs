//! Scripts written for the Python HealthSim server as it is today: its tool and argument
//! names, in the `{"params": {...}}` envelope its clients send, answered with our output;
//! none of them is listed.

use serde_json::json;

use crate::util::{Server, temp_db};

/// Save, list, load, summarize, add to and delete a cohort with the Python server's names.
#[tokio::test(flavor = "multi_thread")]
async fn python_server_names_are_answered() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let patient =
        json!({"id": "p1", "given_name": "Ana", "family_name": "Ruiz", "birth_date": "1970-01-01", "gender": "F"});
    let saved = server
        .ok(
            "healthsim_save_cohort",
            json!({"params": {"name": "legacy", "entities": {"patients": [patient]}, "tags": ["py"], "allow_reference_entities": false}}),
        )
        .await;
    assert_eq!(saved["canonical_rows"], json!({"patients": 1}));
    let listed = server.ok("healthsim_list_cohorts", json!({"params": {"tag": "py"}})).await;
    assert_eq!(listed[0]["name"], "legacy");
    let loaded = server.ok("healthsim_load_cohort", json!({"params": {"name_or_id": "legacy"}})).await;
    assert_eq!(loaded["entities"]["patients"][0]["given_name"], "Ana");
    let added = server
        .ok(
            "healthsim_add_entities",
            json!({"params": {"cohort_name": "legacy", "entities": {"encounters": [{"encounter_id": "e1", "patient_id": "p1", "admission_time": "2025-01-02T03:04:05"}]}}}),
        )
        .await;
    assert_eq!(added["canonical_rows"], json!({"encounters": 1}));
    let summary = server.ok("healthsim_get_cohort_summary", json!({"params": {"cohort_id_or_name": "legacy"}})).await;
    assert_eq!(summary["entity_counts"], json!({"encounters": 1, "patients": 1}));
    let deleted =
        server.ok("healthsim_delete_cohort", json!({"params": {"name_or_id": "legacy", "confirm": true}})).await;
    assert_eq!(deleted["status"], "deleted");
    assert_eq!(deleted["removed"]["entities"], 2);
    let tools = server.client.list_all_tools().await.unwrap();
    assert!(tools.iter().all(|t| !t.name.contains("cohort")), "the Python names are not listed");
    server.stop().await;
}
