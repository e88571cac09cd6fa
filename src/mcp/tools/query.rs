//! Read-only SQL tools: healthsim_query, healthsim_query_reference, healthsim_tables.

use rmcp::handler::server::common::schema_for_output;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ArgError, ArgReader, Parameters, db_failure, describe, failure, success};
use crate::db::{QueryError, QueryResult, ReferenceResult, ReferenceTable, State, TableInventory, parse_state, states};
use crate::mcp::server::HealthSim;

fn default_query_limit() -> u32 {
    100
}
fn default_reference_limit() -> u32 {
    20
}

/// Arguments of healthsim_query.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryArgs {
    /// One read-only SQL statement (SELECT, WITH, VALUES, FROM-first, SHOW, DESCRIBE, SUMMARIZE, or EXPLAIN of those) over all schemas
    #[schemars(length(min = 1, max = 100000))]
    pub sql: String,
    /// Maximum rows to return; "truncated" says whether more existed
    #[serde(default = "default_query_limit")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: u32,
}

/// The reference tables of the population schema (inlined: the tool schemas stay flat).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum ReferenceTableArg {
    PlacesCounty,
    PlacesTract,
    SviCounty,
    SviTract,
    AdiBlockgroup,
}

impl ReferenceTableArg {
    fn table(&self) -> ReferenceTable {
        match self {
            ReferenceTableArg::PlacesCounty => ReferenceTable::PlacesCounty,
            ReferenceTableArg::PlacesTract => ReferenceTable::PlacesTract,
            ReferenceTableArg::SviCounty => ReferenceTable::SviCounty,
            ReferenceTableArg::SviTract => ReferenceTable::SviTract,
            ReferenceTableArg::AdiBlockgroup => ReferenceTable::AdiBlockgroup,
        }
    }
}

/// Arguments of healthsim_query_reference.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferenceArgs {
    /// Reference table: CDC PLACES (county, tract), CDC/ATSDR SVI (county, tract) or Area Deprivation Index (block group)
    pub table: ReferenceTableArg,
    /// State: 2-letter abbreviation (any case) or 2-digit FIPS code
    #[schemars(length(min = 2, max = 2))]
    #[serde(default)]
    #[schemars(with = "String")]
    pub state: Option<String>,
    /// County name or part of it (case-insensitive, literal)
    #[schemars(length(max = 100))]
    #[serde(default)]
    #[schemars(with = "String")]
    pub county: Option<String>,
    /// Maximum rows to return
    #[serde(default = "default_reference_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: u32,
}

/// healthsim_tables takes no arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

#[tool_router(router = query_tools, vis = "pub(crate)")]
impl HealthSim {
    #[tool(
        name = "healthsim_query",
        description = "Run one read-only DuckDB SQL statement over the database. Tables (rows carry scenario_id): patients (mrn) with encounters, diagnoses, medications, lab_results, vital_signs, procedures, allergies, immunizations, orders, clinical_notes by patient_mrn; members with claims by member_id, claim_lines by claim_id; prescriptions, pharmacy_claims by member_id; subjects, trial_visits, adverse_events, exposures by usubjid; scenarios (scenario_id, name); reference data (healthsim_tables lists all). Example: SELECT p.gender, count(*) FROM patients p JOIN scenarios s USING (scenario_id) WHERE s.name = 'x' GROUP BY ALL. Read-only; rows capped by limit.",
        output_schema = schema_for_output::<QueryResult>(),
        annotations(title = "Query HealthSim Database", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn healthsim_query(
        &self,
        args: Parameters<QueryArgs>,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let read = || -> Result<QueryArgs, ArgError> {
            let mut a = ArgReader::new::<QueryArgs>(args.raw)?;
            Ok(QueryArgs { sql: a.string("sql", 1, 100_000)?, limit: a.integer("limit", 100, 1, 1000)? as u32 })
        };
        let args = match read() {
            Ok(args) => args,
            Err(err) => return err.into(),
        };
        match self.db.query(args.sql, args.limit as usize, self.limits.max_output_chars, context.ct.clone()).await {
            Ok(Ok(result)) => success(&result, true),
            Ok(Err(QueryError::Refused(what))) => failure(
                format!(
                    "query refused: {what}; healthsim_query runs exactly one read-only statement (SELECT, WITH, VALUES, SHOW, DESCRIBE, SUMMARIZE, EXPLAIN)"
                ),
                Map::new(),
            ),
            Ok(Err(QueryError::Failed(message))) => failure(failed_query(&message), Map::new()),
            Err(err) => db_failure("healthsim_query", err),
        }
    }

    #[tool(
        name = "healthsim_query_reference",
        description = "Look up population reference data: CDC PLACES health measures (county, tract), CDC/ATSDR Social Vulnerability Index (county, tract) and Area Deprivation Index (block group), filtered by state and county name.",
        output_schema = schema_for_output::<ReferenceResult>(),
        annotations(title = "Query Reference Data", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn healthsim_query_reference(&self, args: Parameters<ReferenceArgs>) -> CallToolResult {
        let read = || -> Result<_, ArgError> {
            let mut a = ArgReader::new::<ReferenceArgs>(args.raw)?;
            let table = match a.value("table") {
                Some(Value::String(text)) => {
                    let text = text.trim().to_ascii_lowercase();
                    serde_json::from_value::<ReferenceTableArg>(Value::String(text.clone()))
                        .map_err(|_| ArgError(format!("table must be one of {} (got \"{text}\")", table_names())))?
                }
                Some(other) => {
                    return Err(ArgError(format!("table must be one of {} (got {})", table_names(), describe(&other))));
                }
                None => return Err(ArgError(format!("table is required: one of {}", table_names()))),
            };
            let args = ReferenceArgs {
                table,
                state: a.optional_string("state", 100)?,
                county: a.optional_string("county", 100)?,
                limit: a.integer("limit", 20, 1, 100)? as u32,
            };
            let state = args.state.as_deref().map(read_state).transpose()?;
            Ok((args, state))
        };
        let (args, state) = match read() {
            Ok(v) => v,
            Err(err) => return err.into(),
        };
        let ReferenceArgs { table, county, limit, .. } = args;
        let table = table.table();
        match self.db.query_reference(table, state, county, limit).await {
            Ok(Some(result)) => success(&result, true),
            Ok(None) => failure(
                format!(
                    "reference table population.{} is missing; load the CDC PLACES, SVI or ADI data into schema population of this database, or run `healthsim-mcp demo` for synthetic data, then call again",
                    table.name()
                ),
                Map::new(),
            ),
            Err(err) => db_failure("healthsim_query_reference", err),
        }
    }

    #[tool(
        name = "healthsim_tables",
        description = "List every table of the database by kind (reference data, canonical entity tables, system tables, others) with row counts.",
        output_schema = schema_for_output::<TableInventory>(),
        annotations(title = "List Database Tables", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn healthsim_tables(&self, args: Parameters<NoArgs>) -> CallToolResult {
        if let Err(err) = ArgReader::new::<NoArgs>(args.raw) {
            return err.into();
        }
        match self.db.tables().await {
            Ok(inventory) => success(&inventory, true),
            Err(err) => db_failure("healthsim_tables", err),
        }
    }
}

/// A state argument: a 2-letter abbreviation (any case) or a 2-digit FIPS code.
pub(super) fn read_state(text: &str) -> Result<State, ArgError> {
    parse_state(text).ok_or_else(|| {
        let valid: Vec<&str> = states().map(|(abbr, _)| abbr).collect();
        ArgError(format!(
            "state '{text}' is not a US state abbreviation or 2-digit FIPS code; valid abbreviations: {}",
            valid.join(", ")
        ))
    })
}

fn table_names() -> String {
    ReferenceTable::ALL.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
}

/// A failed query's message. DuckDB's advice for a function of a missing extension (run
/// INSTALL and LOAD, which the read instance refuses) is replaced by what the user can do.
fn failed_query(message: &str) -> String {
    if let Some(at) = message.find(", but it exists in the ")
        && let Some(name) = message[at + 23..].split_whitespace().next()
    {
        return format!(
            "query failed: {} needs DuckDB's {name} extension, which this server has not loaded; ask the user to \
             pip install duckdb-extension-{name}=={} and restart the server with --extension-dir set to that \
             site-packages (healthsim-mcp engine shows what loads)",
            message[..at].trim_end(),
            crate::db::engine_version().trim_start_matches('v'),
        );
    }
    format!("query failed: {message}; fix the SQL and try again")
}
