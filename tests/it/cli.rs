//! The command line: --help, --version, invalid values, and protocol metadata.

use std::process::Command;

use serde_json::Value;

use crate::util::{BIN, Server, temp_db};

/// --help documents every flag with its environment variable.
#[test]
fn help_lists_flags_and_environment() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    // It opens with what the server is, both transports named.
    assert!(help.starts_with("MCP server (stdio or Streamable HTTP)"), "{help}");
    for needle in [
        "--db",
        "HEALTHSIM_DB_PATH",
        "--read-only",
        "--idle-release-ms",
        "--write-timeout-ms",
        "--query-timeout-ms",
        "--max-output-chars",
        "--max-save-entities",
        "[default: 2000]",
        "[default: 10000]",
        "[default: 30000]",
    ] {
        assert!(help.contains(needle), "--help mentions {needle}:\n{help}");
    }
    let version = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8(version.stdout).unwrap().trim(),
        format!("healthsim-mcp {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Invalid values exit with status 2 and a one-line message naming the flag.
#[test]
fn invalid_values_exit_2() {
    for (args, expected) in [
        (vec!["--idle-release-ms", "-5"], "--idle-release-ms"),
        (vec!["--write-timeout-ms", "0"], "--write-timeout-ms must be between 1 and 3600000 (got 0)"),
        (vec!["--max-output-chars", "abc"], "--max-output-chars"),
    ] {
        let output = Command::new(BIN).args(["--db", "/tmp/never-created.duckdb"]).args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "nothing on stdout");
    }
    assert!(!std::path::Path::new("/tmp/never-created.duckdb").exists());
    // A database on a server without its token, or malformed, is refused in one line, not
    // created as a local file named after it.
    let dir = tempfile::tempdir().unwrap();
    for (db, expected) in [
        ("md:healthsim", "--db md:healthsim needs a MotherDuck token in motherduck_token"),
        ("quack:db.example.org:9494", "needs the Quack server's token in HEALTHSIM_QUACK_TOKEN"),
        ("quack:db.example.org", "is not a Quack address: use quack:HOST:PORT"),
        ("ducklake:", "is not a DuckLake catalog"),
    ] {
        let output = Command::new(BIN)
            .current_dir(dir.path())
            .env_remove("motherduck_token")
            .env_remove("MOTHERDUCK_TOKEN")
            .env_remove("HEALTHSIM_QUACK_TOKEN")
            .args(["--db", db, "call", "healthsim_tables"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{db}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(expected), "{db}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{db}: one line: {stderr}");
        assert!(output.stdout.is_empty(), "nothing on stdout");
    }
    for command in ["migrate", "demo", "engine"] {
        let output = Command::new(BIN)
            .current_dir(dir.path())
            .args(["--db", "ducklake:sqlite:lake.sqlite", command])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains("work on a local database file, not on --db ducklake:sqlite:"), "{stderr}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file was created");
}

/// initialize carries name, version and instructions; tools carry titles, annotations
/// and schemas; bounds appear in the input schemas.
#[tokio::test(flavor = "multi_thread")]
async fn server_metadata_and_tool_list() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let info = server.client.peer_info().expect("server info");
    assert_eq!(info.server_info.as_ref().map(|s| s.name.as_str()), Some("healthsim-mcp"));
    assert_eq!(info.server_info.as_ref().map(|s| s.version.as_str()), Some(env!("CARGO_PKG_VERSION")));
    let instructions = info.instructions.clone().unwrap_or_default();
    for needle in [
        "healthsim_get_summary",
        "read-only SQL",
        "shared with other programs",
        "healthsim_save_scenario",
        "healthsim_add_entities",
    ] {
        assert!(instructions.contains(needle), "instructions mention {needle}");
    }
    let tools = server.client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "healthsim_add_entities",
            "healthsim_delete_scenario",
            "healthsim_execute_profile",
            "healthsim_get_summary",
            "healthsim_list_scenarios",
            "healthsim_load_scenario",
            "healthsim_query",
            "healthsim_query_reference",
            "healthsim_save_scenario",
            "healthsim_search_providers",
            "healthsim_tables"
        ]
    );
    let by_name = |n: &str| tools.iter().find(|t| t.name == n).unwrap();
    let list = by_name("healthsim_list_scenarios");
    let annotations = list.annotations.as_ref().unwrap();
    assert_eq!(annotations.title.as_deref(), Some("List HealthSim Scenarios"));
    assert_eq!(
        (annotations.read_only_hint, annotations.destructive_hint, annotations.idempotent_hint),
        (Some(true), Some(false), Some(true))
    );
    let limit = &list.input_schema["properties"]["limit"];
    assert_eq!(
        (limit["minimum"].as_u64(), limit["maximum"].as_u64(), limit["default"].as_u64()),
        (Some(1), Some(200), Some(50))
    );
    assert_eq!(list.input_schema.get("additionalProperties"), Some(&Value::Bool(false)));
    assert!(list.output_schema.is_none(), "list returns an array, text only");
    let delete = by_name("healthsim_delete_scenario").annotations.as_ref().unwrap();
    assert_eq!(
        (delete.read_only_hint, delete.destructive_hint, delete.idempotent_hint),
        (Some(false), Some(true), Some(false))
    );
    let query = by_name("healthsim_query");
    assert_eq!(query.annotations.as_ref().unwrap().open_world_hint, Some(false));
    assert_eq!(query.input_schema["properties"]["sql"]["maxLength"].as_u64(), Some(100_000));
    let reference = by_name("healthsim_query_reference");
    let table = serde_json::to_string(&reference.input_schema["properties"]["table"]).unwrap();
    assert!(table.contains("adi_blockgroup") && table.contains("places_county"), "{table}");
    for name in [
        "healthsim_load_scenario",
        "healthsim_get_summary",
        "healthsim_query",
        "healthsim_save_scenario",
        "healthsim_tables",
    ] {
        assert!(by_name(name).output_schema.is_some(), "{name} declares an outputSchema");
    }
    assert!(by_name("healthsim_save_scenario").input_schema["required"].to_string().contains("entities"));
    server.stop().await;
}
