//! Shared test helpers: spawn the real binary on a temp database and talk MCP to it over
//! stdio with the rmcp client.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Map, Value};
use tokio::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_healthsim-mcp");

/// A running server process with an MCP client attached.
pub struct Server {
    pub client: RunningService<RoleClient, ()>,
}

/// A fresh temp directory and a database path inside it (not created).
pub fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("healthsim.duckdb");
    (dir, path)
}

impl Server {
    /// Starts the binary on `db` with extra flags and environment; waits for initialize.
    pub async fn start_with(db: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let command = Command::new(BIN).configure(|cmd| {
            cmd.arg("--db").arg(db).args(args).env("RUST_LOG", "healthsim_mcp=warn");
            for (key, value) in env {
                cmd.env(key, value);
            }
        });
        let (transport, _stderr) =
            TokioChildProcess::builder(command).stderr(Stdio::inherit()).spawn().expect("spawn healthsim-mcp");
        let client = ().serve(transport).await.expect("initialize");
        Server { client }
    }

    pub async fn start(db: &Path) -> Server {
        Server::start_with(db, &[], &[]).await
    }

    /// Calls a tool with `args` (must be a JSON object).
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        let Value::Object(map) = args else { panic!("arguments must be an object") };
        self.client
            .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(map))
            .await
            .unwrap_or_else(|e| panic!("{tool} call failed at the protocol level: {e}"))
    }

    /// Calls a tool that must succeed; returns its JSON (checks text == structuredContent).
    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        let result = self.call(tool, args.clone()).await;
        let text = text_of(&result);
        assert_ne!(result.is_error, Some(true), "{tool} {args} failed: {text}");
        let value: Value = serde_json::from_str(&text).expect("result text is JSON");
        assert_eq!(text, serde_json::to_string(&value).unwrap(), "result text is compact JSON");
        if value.is_object() {
            assert_eq!(result.structured_content.as_ref(), Some(&value), "structuredContent equals the text");
        }
        value
    }

    /// Calls a tool that must fail with a tool error; returns the parsed error object.
    pub async fn err(&self, tool: &str, args: Value) -> Map<String, Value> {
        let result = self.call(tool, args.clone()).await;
        let text = text_of(&result);
        assert_eq!(result.is_error, Some(true), "{tool} {args} should fail but returned {text}");
        let Value::Object(object) = serde_json::from_str(&text).expect("error text is JSON") else {
            panic!("error is not an object: {text}")
        };
        assert!(object.get("error").and_then(Value::as_str).is_some(), "error key present: {text}");
        object
    }

    /// The error message of a failing call.
    pub async fn err_msg(&self, tool: &str, args: Value) -> String {
        self.err(tool, args).await["error"].as_str().unwrap().to_owned()
    }

    /// Closes stdin and waits for the process to exit.
    pub async fn stop(self) {
        let _ = self.client.cancel().await;
    }
}

pub fn text_of(result: &CallToolResult) -> String {
    result.content.iter().filter_map(|c| c.as_text().map(|t| t.text.clone())).collect::<Vec<_>>().join("")
}

/// Makes `path` a DuckDB file whose `scenarios` table has the columns of no HealthSim layout.
pub fn unknown_layout_file(path: &Path) {
    let conn = duckdb::Connection::open(path).unwrap();
    conn.execute_batch("CREATE TABLE scenarios (id INTEGER, title VARCHAR); INSERT INTO scenarios VALUES (1, 'x');")
        .unwrap();
}

/// A fixture payload from `fixtures/scenarios/<name>.json`.
pub fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture exists")).expect("fixture is JSON")
}
