//! Answers sized for the model: by default every result fits what Claude's clients show
//! inline (50,000 characters for a success, ~11,000 for an error); a server configured for
//! more declares it on every tool (`_meta["anthropic/maxResultSizeChars"]`).

use serde_json::json;

use crate::util::{Server, temp_db, text_of};

/// No declaration at the default cap; the configured cap declared on every tool above it.
#[tokio::test(flavor = "multi_thread")]
async fn tools_declare_a_cap_above_the_inline_size() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let tools = server.client.list_all_tools().await.unwrap();
    assert!(tools.iter().all(|t| t.meta.as_ref().is_none_or(|m| !m.contains_key("anthropic/maxResultSizeChars"))));
    server.stop().await;
    let server = Server::start_with(&db, &["--max-output-chars", "400000"], &[]).await;
    let tools = server.client.list_all_tools().await.unwrap();
    for tool in &tools {
        let meta = tool.meta.as_ref().unwrap_or_else(|| panic!("{} has no _meta", tool.name));
        assert_eq!(meta.get("anthropic/maxResultSizeChars"), Some(&json!(400000)), "{}", tool.name);
    }
    // The summary keeps its app beside the declaration.
    let summary = tools.iter().find(|t| t.name == "healthsim_get_summary").unwrap();
    assert!(summary.meta.as_ref().unwrap().len() >= 2, "{:?}", summary.meta);
    server.stop().await;
}

/// A load of a scenario far larger than 50,000 characters is cut to fit by default; an
/// error echoing a huge statement stays under 11,000 characters.
#[tokio::test(flavor = "multi_thread")]
async fn results_fit_inline_by_default() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let patients: Vec<_> = (0..2_000)
        .map(|i| json!({"id": format!("p{i}"), "given_name": "Ana", "family_name": format!("Family{i}"), "birth_date": "1970-01-01", "gender": "F"}))
        .collect();
    server.ok("healthsim_save_scenario", json!({"name": "big", "entities": {"patients": patients}})).await;
    let loaded = server.call("healthsim_load_scenario", json!({"name_or_id": "big"})).await;
    let text = text_of(&loaded);
    assert!(text.chars().count() <= 50_000, "{} characters", text.chars().count());
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["truncated"], true);
    let huge = format!("SELECT {} FROM nowhere_at_all", vec!["1 +"; 6_000].join(" "));
    let failed = server.call("healthsim_query", json!({"sql": huge})).await;
    assert_eq!(failed.is_error, Some(true));
    assert!(text_of(&failed).chars().count() < 11_000, "{} characters", text_of(&failed).chars().count());
    server.stop().await;
}

/// The text the model reads is compact JSON; `--pretty` indents it for people, and the cut
/// is measured on the compact text either way (the same entities are kept).
#[tokio::test(flavor = "multi_thread")]
async fn text_is_compact_unless_pretty_is_asked_for() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let patients: Vec<_> = (0..600)
        .map(|i| json!({"id": format!("p{i}"), "name": {"given": ["Ana"], "family": format!("Family{i}")}, "birth_date": "1970-01-01", "gender": "F"}))
        .collect();
    server.ok("healthsim_save_scenario", json!({"name": "mid", "entities": {"patients": patients}})).await;
    // `ok` asserts text == compact JSON == structuredContent.
    let compact = server.ok("healthsim_load_scenario", json!({"name_or_id": "mid"})).await;
    let compact_text = serde_json::to_string(&compact).unwrap();
    assert!(compact_text.chars().count() <= 50_000);
    assert_eq!(compact["truncated"], true, "600 patients exceed 50,000 characters");
    server.stop().await;
    let server = Server::start_with(&db, &["--pretty"], &[]).await;
    let loaded = server.call("healthsim_load_scenario", json!({"name_or_id": "mid"})).await;
    let text = text_of(&loaded);
    assert!(text.starts_with("{\n  \""), "{}", &text[..40]);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(loaded.structured_content.as_ref(), Some(&value));
    assert_eq!(value, compact, "the same entities are kept");
    // Errors too.
    let failed = server.call("healthsim_query", json!({"sql": "SELECT * FROM nowhere"})).await;
    assert!(text_of(&failed).starts_with("{\n  \"error\""), "{}", text_of(&failed));
    server.stop().await;
}

/// What every turn pays: the tools array stays within the 15,351 characters of December
/// 2026 (the Python server's ten tools are 17,574), and the descriptions teach the
/// workflow: summary before load, batches through add_entities, which table holds what,
/// a query to copy.
#[tokio::test(flavor = "multi_thread")]
async fn tools_list_is_small_and_teaches_the_workflow() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let tools = server.client.list_all_tools().await.unwrap();
    let size = serde_json::to_string(&tools).unwrap().chars().count();
    assert!(size <= 15_351, "tools/list is {size} characters");
    let description = |name: &str| {
        tools.iter().find(|t| t.name == name).and_then(|t| t.description.clone()).unwrap_or_default().to_string()
    };
    assert!(description("healthsim_load_scenario").contains("healthsim_get_summary first"));
    assert!(description("healthsim_save_scenario").contains("healthsim_add_entities"));
    let query = description("healthsim_query");
    for needle in ["patient_mrn", "member_id", "usubjid", "scenario_id", "Example: SELECT"] {
        assert!(query.contains(needle), "{needle} in {query}");
    }
    server.stop().await;
}
