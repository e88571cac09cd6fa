//! `healthsim-mcp call TOOL [JSON]`: a one-shot MCP client for people and shell scripts.
//! It runs the real server in-process over an in-memory pipe (the same `run`,
//! `ServerHandler` and line transport as stdio), calls one tool, and returns its text, so
//! a bug report can show exactly what a client would have received.

use anyhow::{Context, bail};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use serde_json::{Map, Value};

use crate::config::Config;

/// The outcome of one call: the result text and whether it was a tool error.
#[derive(Debug)]
pub struct CallOutcome {
    pub text: String,
    pub is_error: bool,
}

/// Parses the arguments of `call`: a JSON object (or nothing, meaning `{}`).
pub fn parse_arguments(raw: Option<&str>) -> anyhow::Result<Map<String, Value>> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else { return Ok(Map::new()) };
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => bail!("ARGS must be a JSON object such as '{{\"limit\": 5}}' (got {other})"),
        Err(err) => bail!("ARGS is not valid JSON ({err}); quote it for the shell, e.g. '{{\"limit\": 5}}'"),
    }
}

/// Starts the server on `config`, calls `tool` with `arguments`, and shuts down.
pub async fn call(config: Config, tool: &str, arguments: Map<String, Value>) -> anyhow::Result<CallOutcome> {
    let (server_side, client_side) = tokio::io::duplex(1 << 20);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The server side uses the same transport as stdio.
    let (read, write) = tokio::io::split(server_side);
    let transport = crate::mcp::stdio::LineTransport::new(read, write, crate::memory::MAX_MESSAGE_BYTES);
    let server = tokio::spawn(crate::mcp::run(config, transport, async {
        let _ = stopped.await;
    }));
    let outcome = async {
        let client = ().serve(client_side).await.context("the embedded server did not initialize")?;
        let tools = client.list_all_tools().await.context("cannot list the tools")?;
        if !tools.iter().any(|t| t.name == tool) {
            let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
            bail!("unknown tool '{tool}'; available tools: {}", names.join(", "));
        }
        let result = client
            .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
            .await
            .with_context(|| format!("calling {tool} failed"))?;
        let text =
            result.content.iter().filter_map(|c| c.as_text().map(|t| t.text.clone())).collect::<Vec<_>>().join("");
        let _ = client.cancel().await;
        Ok(CallOutcome { text, is_error: result.is_error == Some(true) })
    }
    .await;
    let _ = stop.send(());
    server.await.context("the embedded server panicked")??;
    outcome
}
