//! healthsim_search_providers over the synthetic registry `demo` generates, and without one.

use std::process::Command;

use serde_json::{Value, json};

use crate::util::{BIN, Server, temp_db};

fn providers(result: &Value) -> &Vec<Value> {
    result["providers"].as_array().unwrap()
}

/// Every filter narrows the search the way its argument says, in the Python server's
/// output keys; bad arguments name the argument and what to pass.
#[tokio::test(flavor = "multi_thread")]
async fn filters_narrow_the_registry() {
    let (_dir, db) = temp_db();
    let demo = Command::new(BIN).arg("--db").arg(&db).args(["demo", "--small"]).output().unwrap();
    assert!(demo.status.success(), "{}", String::from_utf8_lossy(&demo.stderr));
    assert!(String::from_utf8_lossy(&demo.stdout).contains("network.providers"));
    // 200 providers are more than the default 50,000-character answer holds.
    let server = Server::start_with(&db, &["--max-output-chars", "1000000"], &[]).await;
    let search = |args: Value| server.ok("healthsim_search_providers", args);

    let all = search(json!({"state": "ct", "limit": 200})).await;
    let keys: Vec<&str> = all.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["source", "data_type", "filters_applied", "result_count", "providers"]);
    assert!(all["data_type"].as_str().unwrap().contains("SYNTHETIC"));
    assert_eq!(all["result_count"], 200);
    assert_eq!(all["filters_applied"]["state"], "CT");
    let first = &providers(&all)[0];
    for key in [
        "npi",
        "entity_type_code",
        "name",
        "credential",
        "primary_taxonomy",
        "practice_address",
        "practice_city",
        "practice_state",
        "practice_zip",
        "county_fips",
        "phone",
    ] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    assert!(providers(&all).iter().all(|p| p["practice_state"] == "CT"));

    // By state FIPS code, the same state.
    assert_eq!(search(json!({"state": "09", "limit": 5})).await["filters_applied"]["state"], "CT");
    let city = providers(&all)[3]["practice_city"].as_str().unwrap().to_owned();
    let in_city = search(json!({"state": "CT", "city": city.to_lowercase()})).await;
    assert!(
        providers(&in_city).iter().all(|p| p["practice_city"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains(&city.to_lowercase()))
    );
    let county = providers(&all)[0]["county_fips"].as_str().unwrap().to_owned();
    let in_county = search(json!({"state": "CT", "county_fips": county})).await;
    assert!(!providers(&in_county).is_empty() && providers(&in_county).iter().all(|p| p["county_fips"] == county));
    let zip3 = providers(&all)[0]["practice_zip"].as_str().unwrap()[..3].to_owned();
    let by_zip = search(json!({"state": "CT", "zip_code": zip3})).await;
    assert!(providers(&by_zip).iter().all(|p| p["practice_zip"].as_str().unwrap().starts_with(&zip3)));
    let family = search(json!({"state": "CT", "specialty": "Family Medicine", "entity_type": "individual"})).await;
    assert!(!providers(&family).is_empty());
    assert!(providers(&family).iter().all(|p| {
        let code = p["primary_taxonomy"].as_str().unwrap();
        p["entity_type_code"] == "1" && (code.starts_with("207Q") || code.starts_with("363LF"))
    }));
    let hospitals = search(json!({"state": "CT", "taxonomy_code": "282n00000x", "specialty": "ignored"})).await;
    assert!(!providers(&hospitals).is_empty());
    assert!(
        providers(&hospitals).iter().all(|p| p["primary_taxonomy"] == "282N00000X" && p["entity_type_code"] == "2")
    );
    assert_eq!(hospitals["filters_applied"]["specialty"], Value::Null);
    // The registry agrees with the reference data: every county is an SVI county of the state.
    let orphans = server
        .ok("healthsim_query", json!({"sql": "SELECT count(*) AS n FROM network.providers p ANTI JOIN population.svi_county c ON p.county_fips = c.stcnty AND p.practice_state = c.st_abbr"}))
        .await;
    assert_eq!(orphans["rows"][0]["n"], 0);
    let tables = server.ok("healthsim_tables", json!({})).await;
    assert!(tables["reference_tables"].as_array().unwrap().contains(&json!("network.providers")), "{tables}");
    assert_eq!(tables["row_counts"]["network.providers"], 20_000);

    for (args, expected) in [
        (json!({}), "state is required"),
        (json!({"state": "XX"}), "state 'XX' is not a US state"),
        (json!({"state": "CT", "county_fips": "9001"}), "county_fips must be a 5-digit"),
        (json!({"state": "CT", "zip_code": "06a"}), "zip_code must be"),
        (json!({"state": "CT", "taxonomy_code": "207Q"}), "taxonomy_code must be a 10-character"),
        (json!({"state": "CT", "specialty": "astrology"}), "specialty 'astrology' matches no specialty"),
        (json!({"state": "CT", "entity_type": "robot"}), "entity_type must be 'individual' or 'organization'"),
        (json!({"state": "CT", "limit": 500}), "limit must be between 1 and 200"),
        (json!({"state": "CT", "npi": "1"}), "unknown argument 'npi'"),
    ] {
        let message = server.err_msg("healthsim_search_providers", args.clone()).await;
        assert!(message.contains(expected), "{args}: {message}");
    }
    server.stop().await;
}

/// Without a registry: one line saying what to load. A results list longer than the output
/// limit is cut, marked `truncated`.
#[tokio::test(flavor = "multi_thread")]
async fn missing_registry_and_output_cap() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let message = server.err_msg("healthsim_search_providers", json!({"state": "TX"})).await;
    assert!(
        message.contains("no provider registry (network.providers)") && message.contains("healthsim-mcp demo"),
        "{message}"
    );
    server.stop().await;
    let demo = Command::new(BIN).arg("--db").arg(&db).args(["demo", "--small"]).output().unwrap();
    assert!(demo.status.success());
    let server = Server::start_with(&db, &["--max-output-chars", "3000"], &[]).await;
    let result = server.call("healthsim_search_providers", json!({"state": "RI", "limit": 200})).await;
    let text = crate::util::text_of(&result);
    assert!(text.chars().count() <= 3000, "{} chars", text.chars().count());
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["truncated"], true);
    assert_eq!(value["result_count"].as_u64().unwrap() as usize, providers(&value).len());
    assert!(!providers(&value).is_empty());
    server.stop().await;
}
