//! `healthsim-mcp demo` and `healthsim-mcp call`: the newcomer's first commands.

use std::process::{Command, Output};

use serde_json::Value;

use crate::util::{BIN, temp_db};

fn run(db: &std::path::Path, args: &[&str]) -> Output {
    Command::new(BIN).arg("--db").arg(db).args(args).env_remove("RUST_LOG").output().expect("run healthsim-mcp")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// demo creates layout, reference data and sample scenarios once; a second run adds
/// nothing; `call` then answers from it with the JSON a client would receive.
#[test]
fn demo_then_call() {
    let (_dir, db) = temp_db();
    let first = run(&db, &["demo", "--small"]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let text = stdout(&first);
    assert!(text.contains("HealthSim demo database ready"), "{text}");
    assert!(text.contains("population.svi_tract"), "{text}");
    assert!(text.contains("demo-patientsim-clinical (saved now)"), "{text}");
    assert!(first.stderr.is_empty(), "no routine logs: {}", String::from_utf8_lossy(&first.stderr));

    let second = run(&db, &["demo", "--small"]);
    assert!(second.status.success());
    let text = stdout(&second);
    assert!(text.contains("already present):"), "{text}");
    assert!(text.contains("demo-trialsim-oncology (already present)"), "{text}");
    assert!(!text.contains("saved now"), "{text}");

    let listed = run(&db, &["call", "healthsim_list_scenarios"]);
    assert!(listed.status.success());
    let scenarios: Value = serde_json::from_str(&stdout(&listed)).unwrap();
    let mut names: Vec<&str> = scenarios.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        ["demo-membersim-claims", "demo-patientsim-clinical", "demo-rxmembersim-pharmacy", "demo-trialsim-oncology"]
    );

    let tables = run(&db, &["call", "healthsim_tables", "{}"]);
    let tables: Value = serde_json::from_str(&stdout(&tables)).unwrap();
    assert_eq!(tables["row_counts"]["population.svi_county"], 22);
    assert_eq!(tables["row_counts"]["population.adi_blockgroup"], 700);

    let svi = run(&db, &["call", "healthsim_query_reference", r#"{"table": "svi_county", "state": "de"}"#]);
    assert!(svi.status.success());
    let svi: Value = serde_json::from_str(&stdout(&svi)).unwrap();
    assert_eq!(svi["row_count"], 3);
    assert!(
        svi["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["st_abbr"] == "DE" && r["stcnty"].as_str().unwrap().starts_with("10"))
    );
}

/// A tool error prints the error JSON and exits 1; bad usage is explained on stderr.
#[test]
fn call_errors() {
    let (_dir, db) = temp_db();
    let missing = run(&db, &["call", "healthsim_load_scenario", r#"{"name_or_id": "nope"}"#]);
    assert_eq!(missing.status.code(), Some(1));
    let error: Value = serde_json::from_str(&stdout(&missing)).unwrap();
    assert!(error["error"].as_str().unwrap().starts_with("scenario 'nope' not found"), "{error}");

    let unknown = run(&db, &["call", "healthsim_nothing"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown tool 'healthsim_nothing'; available tools: "));
    assert!(unknown.stdout.is_empty());

    let bad_json = run(&db, &["call", "healthsim_tables", "{limit"]);
    assert_eq!(bad_json.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_json.stderr).contains("ARGS is not valid JSON"));
    let not_object = run(&db, &["call", "healthsim_tables", "[1]"]);
    assert!(String::from_utf8_lossy(&not_object.stderr).contains("ARGS must be a JSON object"));
}
