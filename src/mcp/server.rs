//! The MCP server: the `ServerHandler`, tool router composition and the instructions
//! clients show the model.

use std::sync::Arc;

use rmcp::ErrorData;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::JsonObject;
use rmcp::model::{
    ClientRequest, CompleteRequestParams, CompleteResult, CustomRequest, CustomResult, ErrorCode, Implementation,
    JsonRpcMessage, ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::{ServerHandler, tool_handler};

use crate::db::Db;

mod schemas;

use schemas::{published_output_schema, standard_schema};

/// How long shutdown waits for a write in progress before closing anyway (the write
/// then finishes or rolls back in its own thread before the process exits).
pub(crate) const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// What Claude's clients show the model inline: Claude Code writes a larger successful
/// result to a file (the model sees its path) unless the tool declares a larger size.
pub const INLINE_RESULT_CHARS: usize = 50_000;

/// Output and input bounds the tools enforce.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest result text, in characters (load and query cut to it).
    pub max_output_chars: usize,
    /// Most entities one save may carry.
    pub max_save_entities: usize,
    /// `--pretty`: the text copy of results indented for people reading raw output (sizes
    /// are measured on the compact text the model reads).
    pub pretty: bool,
}

impl From<&crate::config::Config> for Limits {
    fn from(config: &crate::config::Config) -> Limits {
        Limits {
            max_output_chars: config.max_output_chars,
            max_save_entities: config.max_save_entities,
            pretty: config.pretty,
        }
    }
}

/// The server: one per connection; cheap to clone (the `Db` handle is shared).
#[derive(Clone)]
pub struct HealthSim {
    /// The database handle every tool goes through.
    pub(crate) db: Db,
    pub(crate) limits: Limits,
    /// The composed tools of `tools::scenarios` and `tools::query`.
    tool_router: ToolRouter<HealthSim>,
}

impl HealthSim {
    pub fn new(db: Db, limits: Limits) -> HealthSim {
        // Composed once per process: the HTTP transport makes a `HealthSim` per session.
        static ROUTER: std::sync::LazyLock<ToolRouter<HealthSim>> = std::sync::LazyLock::new(HealthSim::router);
        let mut tool_router = ROUTER.clone();
        if limits.max_output_chars > INLINE_RESULT_CHARS {
            // Declared so Claude Code keeps results up to the configured cap inline.
            for route in tool_router.map.values_mut() {
                let meta = route.attr.meta.get_or_insert_with(Default::default);
                meta.insert("anthropic/maxResultSizeChars".into(), limits.max_output_chars.into());
            }
        }
        HealthSim { db, limits, tool_router }
    }

    /// Every tool, with schemas in standard JSON Schema only.
    fn router() -> ToolRouter<HealthSim> {
        let mut router = Self::scenario_tools()
            + Self::add_router()
            + Self::profile_router()
            + Self::query_tools()
            + Self::provider_tools();
        for route in router.map.values_mut() {
            let tool = &mut route.attr;
            tool.input_schema = Arc::new(standard_schema(tool.input_schema.as_ref().clone()));
            tool.output_schema =
                tool.output_schema.take().map(|schema| Arc::new(published_output_schema((*schema).clone())));
        }
        router
    }
}

const INSTRUCTIONS: &str = "\
HealthSim database tools. The database holds synthetic healthcare scenarios (patients, encounters, \
diagnoses, medications, labs, vitals, orders, notes, members, claims, claim lines, prescriptions, \
pharmacy claims, trial subjects, visits, adverse events, exposures) and population reference data \
(CDC PLACES, CDC/ATSDR SVI, Area Deprivation Index).

Workflow: healthsim_save_scenario stores generated entities under a name (one transaction: all or \
nothing; overwrite=true replaces a scenario); for large or growing scenarios, \
healthsim_add_entities adds batches to one scenario (first call by scenario_name, then by the \
scenario_id it returns; same ids replace, nothing is deleted). healthsim_list_scenarios finds saved scenarios. \
healthsim_get_summary is the cheap way to look at a scenario of any size (counts, statistics, a few \
sample rows); use it before healthsim_load_scenario, which returns every entity and is cut to the \
output limit for big scenarios. healthsim_delete_scenario needs confirm=true.

healthsim_query runs one read-only SQL statement (SELECT, WITH, SHOW, DESCRIBE, SUMMARIZE, EXPLAIN) \
over all schemas with a row cap (limit, default 100); canonical tables such as patients, claims and \
members have a scenario_id column (cohort_id in a HealthSim 1.5-1.7 database). healthsim_tables lists tables; healthsim_query_reference filters \
reference data by state and county.

The database file is shared with other programs (notebooks, pytest, the duckdb CLI, other copies of \
this server). Reads never block them for long; a save waits for other programs to release the file \
and, if one keeps it open, fails after a timeout naming that program without writing anything: \
ask the user to close it, then retry.";

#[tool_handler(router = self.tool_router)]
impl ServerHandler for HealthSim {
    /// Every tool call, whatever the transport (stdio, HTTP, in-process), tells the
    /// database layer the client is active: its memory is trimmed once the client has
    /// been quiet for the idle period (a refused huge request allocates much without
    /// touching the database).
    async fn call_tool(
        &self,
        mut request: rmcp::model::CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, ErrorData> {
        self.db.note_activity();
        // The Python HealthSim server's names, called but not listed.
        super::legacy::translate(&mut request);
        let call = rmcp::handler::server::tool::ToolCallContext::new(self, request, context);
        let mut response = self.tool_router.call(call).await?;
        if self.limits.pretty
            && let rmcp::model::CallToolResponse::Complete(result) = &mut response
        {
            indent_text(result);
        }
        Ok(response)
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListPromptsResult, ErrorData> {
        Ok(super::prompts::list())
    }

    async fn get_prompt(
        &self,
        request: rmcp::model::GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetPromptResponse, ErrorData> {
        super::prompts::get(&request.name, request.arguments.as_ref()).map(Into::into)
    }

    /// Unknown methods get a message that names them (rmcp's default echoes only the name).
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        Err(ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!(
                "method '{}' not found; this server offers tools/list, tools/call, resources/list, resources/templates/list, resources/read and completion/complete",
                request.method
            ),
            None,
        ))
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.db.note_activity();
        self.resource_page(request.and_then(|r| r.cursor)).await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(HealthSim::resource_templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.db.note_activity();
        self.read_uri(&request.uri).await.map(Into::into)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        self.complete_name(request).await
    }

    fn get_info(&self) -> ServerConfig {
        let mut extensions = rmcp::model::ExtensionCapabilities::new();
        extensions.insert(crate::mcp::app::EXTENSION_ID.to_owned(), JsonObject::new());
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_prompts()
            .enable_resources()
            .enable_completions()
            .enable_extensions_with(extensions)
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("healthsim-mcp", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}

/// A transport that drops what a client must not send before `initialize` (notifications,
/// stray responses). rmcp ends the session on such a message before the handshake; a
/// confused or hostile client should get a server that keeps waiting for a proper
/// `initialize` instead. Requests (and pings) pass through and are answered per the protocol.
pub struct LenientHandshake<T> {
    inner: T,
    /// Set once the client's `initialize` request has passed.
    initialized: bool,
}

impl<T> LenientHandshake<T> {
    pub fn new(inner: T) -> LenientHandshake<T> {
        LenientHandshake { inner, initialized: false }
    }
}

impl<T: Transport<RoleServer>> Transport<RoleServer> for LenientHandshake<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            let message = self.inner.receive().await?;
            if self.initialized {
                return Some(message);
            }
            match &message {
                JsonRpcMessage::Request(request) => {
                    if matches!(request.request, ClientRequest::InitializeRequest(_)) {
                        self.initialized = true;
                    }
                    return Some(message);
                }
                _ => tracing::debug!("ignoring a notification or response sent before initialize"),
            }
        }
    }

    fn close(&mut self) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

/// `--pretty`: each JSON text of a result indented with two spaces (text that is not JSON
/// stays as it is).
fn indent_text(result: &mut rmcp::model::CallToolResult) {
    for content in &mut result.content {
        if let rmcp::model::ContentBlock::Text(text) = content
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(&text.text)
            && let Ok(indented) = serde_json::to_string_pretty(&value)
        {
            text.text = indented;
        }
    }
}
