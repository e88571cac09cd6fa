//! `healthsim_add_entities`: entities added to a scenario in batches (upsert by entity id
//! within the scenario, never deleting), wire-compatible with the Python HealthSim server's
//! tool of the same name; with our warnings and canonical row counts.

use std::collections::BTreeMap;

use rmcp::RoleServer;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use rmcp::handler::server::common::schema_for_output;

use super::super::{ArgError, ArgReader, Parameters, db_failure, failure, success};
use super::save::{cap_warnings, check_entities, check_tags, progress_reporter, without_skipped};
use crate::db::{AddOutcome, AddRequest, AddTarget};
use crate::mcp::server::HealthSim;

/// Arguments of healthsim_add_entities.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddArgs {
    /// The scenario to add to, by the id an earlier call returned
    #[serde(default)]
    #[schemars(with = "String")]
    pub scenario_id: Option<String>,
    /// Without scenario_id: the scenario of this name, created if there is none (neither:
    /// a new scenario named after the time)
    #[serde(default)]
    #[schemars(with = "String", length(max = 200))]
    pub scenario_name: Option<String>,
    /// Entities by type, as for healthsim_save_scenario; an entity whose type and id the
    /// scenario already holds replaces it
    #[schemars(with = "BTreeMap<String, Vec<Map<String, Value>>>")]
    pub entities: Map<String, Value>,
    /// Description of a new scenario
    #[serde(default)]
    #[schemars(with = "String", length(max = 10000))]
    pub description: Option<String>,
    /// Tags to add (each 1-100 characters, at most 50)
    #[serde(default)]
    #[schemars(with = "Vec<String>", length(max = 50))]
    pub tags: Option<Vec<String>>,
    /// This batch's number, echoed back
    #[serde(default)]
    pub batch_number: Option<u32>,
    /// The number of batches expected, echoed back
    #[serde(default)]
    pub total_batches: Option<u32>,
}

/// Totals of the scenario after the call.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ScenarioTotals {
    pub by_type: Map<String, Value>,
    pub total_entities: u64,
}

/// Output of healthsim_add_entities, keys in wire order (the Python server's, then ours).
#[derive(Debug, Serialize, JsonSchema)]
pub struct AddOutput {
    /// `added`.
    pub status: String,
    pub scenario_id: String,
    pub scenario_name: String,
    pub is_new_scenario: bool,
    pub entities_added_this_batch: Map<String, Value>,
    /// Up to five ids per type.
    pub sample_ids: Map<String, Value>,
    pub scenario_totals: ScenarioTotals,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_number: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_batches: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batches_remaining: Option<i64>,
    /// Canonical rows written by this call, per table.
    pub canonical_rows: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

#[tool_router(router = add_tools, vis = "pub(crate)")]
impl HealthSim {
    #[tool(
        name = "healthsim_add_entities",
        description = "Add entities to a scenario in batches (one huge save would hit the output limit). First call: scenario_name (or nothing) creates the scenario and returns its scenario_id; later calls: scenario_id adds to it. An entity whose type and id the scenario already holds is replaced; nothing is deleted. Each call is one transaction. For a small, complete scenario use healthsim_save_scenario.",
        output_schema = schema_for_output::<AddOutput>(),
        annotations(title = "Add Entities to Scenario", read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn healthsim_add_entities(
        &self,
        args: Parameters<AddArgs>,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        if let Err(reason) = self.db.writes_enabled().await {
            return failure(reason, Map::new());
        }
        let max_entities = self.limits.max_save_entities;
        let read = || -> Result<AddArgs, ArgError> {
            let mut a = ArgReader::new::<AddArgs>(args.raw)?;
            Ok(AddArgs {
                scenario_id: a.optional_string("scenario_id", 200)?,
                scenario_name: a.optional_string("scenario_name", 200)?,
                entities: check_entities(a.value("entities"), max_entities)?,
                description: a.optional_string("description", 10_000)?,
                tags: Some(check_tags(a.value("tags"))?),
                batch_number: a.optional_integer("batch_number", 0, 1_000_000)?.map(|n| n as u32),
                total_batches: a.optional_integer("total_batches", 0, 1_000_000)?.map(|n| n as u32),
            })
        };
        let args = match read() {
            Ok(args) => args,
            Err(err) => return err.into(),
        };
        let target = match (args.scenario_id, args.scenario_name) {
            (Some(id), _) => AddTarget::Id(id),
            (None, Some(name)) => AddTarget::Name(name),
            (None, None) => AddTarget::Auto,
        };
        let entities = args.entities;
        let Ok(plan) = tokio::task::spawn_blocking(move || super::plan(entities)).await else {
            return failure("internal error while preparing the entities; nothing was written", Map::new());
        };
        let mut added = Map::new();
        let mut samples = Map::new();
        for (type_key, n) in &plan.entity_counts {
            added.insert(type_key.clone(), Value::from(*n));
            let ids: Vec<Value> = plan
                .entities
                .iter()
                .filter(|e| &e.entity_type == type_key)
                .take(5)
                .map(|e| Value::String(e.entity_id.clone()))
                .collect();
            samples.insert(type_key.clone(), Value::Array(ids));
        }
        let canonical_rows: Map<String, Value> =
            plan.canonical_counts().into_iter().map(|(t, n)| (t.to_owned(), Value::from(n))).collect();
        let plan_warnings = plan.warnings.clone();
        let total = plan.total_entities() as u64 + canonical_rows.values().filter_map(Value::as_u64).sum::<u64>();
        let (progress, forwarder) = match progress_reporter(&context, total) {
            Some((progress, forwarder)) => (Some(progress), Some(forwarder)),
            None => (None, None),
        };
        let request =
            AddRequest { target, description: args.description, tags: args.tags.unwrap_or_default(), plan, progress };
        let outcome = self.db.add_entities(request).await;
        if let Some(forwarder) = forwarder {
            let _ = forwarder.await;
        }
        match outcome {
            Ok(AddOutcome::Added { scenario_id, name, is_new, totals, warnings, skipped, .. }) => {
                let canonical_rows = without_skipped(canonical_rows, skipped);
                let total_entities = totals.iter().map(|(_, n)| n).sum();
                let by_type = totals.into_iter().map(|(t, n)| (t, Value::from(n))).collect();
                tracing::info!(%name, %scenario_id, "entities added");
                success(
                    &AddOutput {
                        status: "added".into(),
                        scenario_id,
                        scenario_name: name,
                        is_new_scenario: is_new,
                        entities_added_this_batch: added,
                        sample_ids: samples,
                        scenario_totals: ScenarioTotals { by_type, total_entities },
                        batch_number: args.batch_number,
                        total_batches: args.total_batches,
                        batches_remaining: args
                            .total_batches
                            .zip(args.batch_number)
                            .map(|(total, n)| i64::from(total) - i64::from(n)),
                        canonical_rows,
                        warnings: cap_warnings(&[warnings, plan_warnings].concat()),
                    },
                    true,
                )
            }
            Ok(AddOutcome::NotFound(id)) => failure(
                format!(
                    "scenario '{id}' not found; pass the scenario_id an earlier call returned, or scenario_name to create one"
                ),
                Map::new(),
            ),
            Err(err) => db_failure("healthsim_add_entities", err),
        }
    }
}

impl HealthSim {
    /// The router of this file's tool, for `server.rs` to compose.
    pub(crate) fn add_router() -> ToolRouter<HealthSim> {
        Self::add_tools()
    }
}
