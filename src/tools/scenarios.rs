//! Scenario tools: list, load, get_summary (reads) and save, delete (writes). The save
//! path (argument checks, planning beside the write, progress) lives in `save`.

mod add;
mod save;

use std::collections::BTreeMap;

use rmcp::handler::server::common::schema_for_output;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::pretty::{self, INDENT};
use super::{ArgError, ArgReader, Parameters, db_failure, failure, success, success_text};
use crate::db::{ListFilter, LoadedScenario};
use crate::server::HealthSim;

fn default_list_limit() -> u32 {
    50
}
fn default_true() -> bool {
    true
}
fn default_samples() -> u32 {
    3
}

/// Arguments of healthsim_list_scenarios.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Keep scenarios having this tag (case-insensitive, exact match)
    #[schemars(length(max = 100))]
    #[serde(default)]
    #[schemars(with = "String")]
    pub tag: Option<String>,
    /// Keep scenarios whose name or description contains this text (case-insensitive, literal)
    #[schemars(length(max = 200))]
    #[serde(default)]
    #[schemars(with = "String")]
    pub search: Option<String>,
    /// Maximum number of scenarios to return
    #[serde(default = "default_list_limit")]
    #[schemars(range(min = 1, max = 200))]
    pub limit: u32,
}

/// Arguments of healthsim_load_scenario.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadArgs {
    /// Scenario name or scenario_id
    #[schemars(length(min = 1, max = 200))]
    pub name_or_id: String,
    /// Include the saved entities (false returns only the scenario's metadata)
    #[serde(default = "default_true")]
    pub include_entities: bool,
}

/// Arguments of healthsim_get_summary.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryArgs {
    /// Scenario id, name, or part of a name (newest match wins)
    #[schemars(length(min = 1, max = 200))]
    pub scenario_id_or_name: String,
    /// Include a few sample rows per entity table
    #[serde(default = "default_true")]
    pub include_samples: bool,
    /// Sample rows per entity table
    #[serde(default = "default_samples")]
    #[schemars(range(min = 1, max = 10))]
    pub samples_per_type: u32,
}

/// Arguments of healthsim_save_scenario.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveArgs {
    /// Scenario name (unique)
    #[schemars(length(min = 1, max = 200))]
    pub name: String,
    /// Entities by type, e.g. {"patients": [{...}], "encounters": [{...}]}; canonical types
    /// (patients, encounters, diagnoses, medications, lab_results, vital_signs, orders,
    /// clinical_notes, members, claims, claim_lines, prescriptions, pharmacy_claims,
    /// subjects, trial_visits, adverse_events, exposures, singular or plural) also become
    /// rows of the table of that name
    #[schemars(with = "BTreeMap<String, Vec<Map<String, Value>>>")]
    pub entities: Map<String, Value>,
    /// Free-text description
    #[schemars(length(max = 10000))]
    #[serde(default)]
    #[schemars(with = "String")]
    pub description: Option<String>,
    /// Tags for finding the scenario later (each 1-100 characters, at most 50)
    #[schemars(length(max = 50))]
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub tags: Option<Vec<String>>,
    /// Replace an existing scenario of the same name (keeps its id and created_at)
    #[serde(default)]
    pub overwrite: bool,
}

/// Arguments of healthsim_delete_scenario.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    /// Scenario name or scenario_id
    #[schemars(length(min = 1, max = 200))]
    pub name_or_id: String,
    /// Must be true: deleting is permanent
    #[serde(default)]
    pub confirm: bool,
}

/// Output of healthsim_load_scenario, keys in wire order.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LoadOutput {
    pub scenario_id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub tags: Vec<String>,
    /// `{"product": "healthsim", "entity_types": [...], "entity_counts": {...}}`.
    #[schemars(with = "Map<String, Value>")]
    pub metadata: Value,
    /// Entity-type key as saved → the entities (objects) in submission order. Declared
    /// as a plain object: a client validating the result against this schema then checks
    /// its shape without walking every entity (10,000 of them cost the Python SDK ~50 ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Map<String, Value>>")]
    pub entities: Option<BTreeMap<String, Vec<Value>>>,
    pub entity_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Output of healthsim_get_summary, keys in wire order.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SummaryOutput {
    pub scenario_id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub entity_counts: Map<String, Value>,
    pub statistics: Map<String, Value>,
    pub samples: Map<String, Value>,
    pub tags: Vec<String>,
}

/// Output of healthsim_save_scenario, keys in wire order.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SaveOutput {
    pub status: String,
    pub scenario_id: String,
    pub name: String,
    pub entity_counts: Map<String, Value>,
    pub total_entities: usize,
    pub canonical_rows: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

/// Output of healthsim_delete_scenario, keys in wire order.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeleteOutput {
    /// `deleted` or `not_found`.
    pub status: String,
    pub scenario: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<crate::db::Removed>,
}

const LOAD_HINT: &str = "entities were cut to fit the output limit; read the resource linked in this result (healthsim://scenarios/{name}) for every entity, use healthsim_get_summary for an overview, or healthsim_query to page through canonical tables";

fn not_found(input: &str) -> CallToolResult {
    failure(format!("scenario '{input}' not found; call healthsim_list_scenarios to see saved scenarios"), Map::new())
}

#[tool_router(router = scenario_tools, vis = "pub(crate)")]
impl HealthSim {
    #[tool(
        name = "healthsim_list_scenarios",
        description = "List saved HealthSim scenarios, newest first, with entity counts and tags. Filter by tag (exact, case-insensitive) or by text in the name or description.",
        annotations(
            title = "List HealthSim Scenarios",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn healthsim_list_scenarios(&self, args: Parameters<ListArgs>) -> CallToolResult {
        let read = || -> Result<ListArgs, ArgError> {
            let mut a = ArgReader::new::<ListArgs>(args.raw)?;
            Ok(ListArgs {
                tag: a.optional_string("tag", 100)?,
                search: a.optional_string("search", 200)?,
                limit: a.integer("limit", 50, 1, 200)? as u32,
            })
        };
        let args = match read() {
            Ok(args) => args,
            Err(err) => return err.into(),
        };
        let filter = ListFilter { tag: args.tag, search: args.search, limit: args.limit };
        match self.db.list_scenarios(filter).await {
            Ok(list) => success(&list, false),
            Err(err) => db_failure("healthsim_list_scenarios", err),
        }
    }

    #[tool(
        name = "healthsim_load_scenario",
        description = "Load a saved scenario by name or id: metadata, tags and every entity exactly as saved. Large scenarios are cut to the output limit; prefer healthsim_get_summary for an overview.",
        output_schema = schema_for_output::<LoadOutput>(),
        annotations(title = "Load HealthSim Scenario", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn healthsim_load_scenario(&self, args: Parameters<LoadArgs>) -> CallToolResult {
        let read = || -> Result<LoadArgs, ArgError> {
            let mut a = ArgReader::new::<LoadArgs>(args.raw)?;
            Ok(LoadArgs {
                name_or_id: a.string("name_or_id", 1, 200)?,
                include_entities: a.boolean("include_entities", true)?,
            })
        };
        let args = match read() {
            Ok(args) => args,
            Err(err) => return err.into(),
        };
        match self.db.load_scenario(args.name_or_id.clone(), args.include_entities).await {
            Ok(Some(loaded)) => {
                let link =
                    crate::resources::scenario_resource(&loaded.scenario.name, loaded.scenario.description.clone());
                let (json, text) = fit_load_output(loaded, self.limits.max_output_chars);
                let truncated = json.get("truncated").is_some();
                let mut result = success_text(json, text, true);
                if truncated {
                    // The whole scenario stays one read away.
                    result.content.push(ContentBlock::resource_link(link));
                }
                result
            }
            Ok(None) => not_found(&args.name_or_id),
            Err(err) => db_failure("healthsim_load_scenario", err),
        }
    }

    #[tool(
        name = "healthsim_get_summary",
        description = "Summarise a scenario cheaply: entity counts, statistics (ages, genders, encounter dates and types, claim financials, top diagnoses, plans, drugs, study arms) and a few sample rows per table. Accepts an id, a name, or part of a name.",
        output_schema = schema_for_output::<SummaryOutput>(),
        meta = crate::app::summary_tool_meta(),
        annotations(title = "Get Scenario Summary", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn healthsim_get_summary(&self, args: Parameters<SummaryArgs>) -> CallToolResult {
        let read = || -> Result<SummaryArgs, ArgError> {
            let mut a = ArgReader::new::<SummaryArgs>(args.raw)?;
            Ok(SummaryArgs {
                scenario_id_or_name: a.string("scenario_id_or_name", 1, 200)?,
                include_samples: a.boolean("include_samples", true)?,
                samples_per_type: a.integer("samples_per_type", 3, 1, 10)? as u32,
            })
        };
        let args = match read() {
            Ok(args) => args,
            Err(err) => return err.into(),
        };
        let input = args.scenario_id_or_name;
        match self.db.summary(input.clone(), args.include_samples, args.samples_per_type as usize).await {
            Ok(Some(summary)) => success(
                &SummaryOutput {
                    scenario_id: summary.scenario.scenario_id,
                    name: summary.scenario.name,
                    description: summary.scenario.description,
                    created_at: summary.scenario.created_at,
                    updated_at: summary.scenario.updated_at,
                    entity_counts: summary.entity_counts,
                    statistics: summary.statistics,
                    samples: summary.samples,
                    tags: summary.tags,
                },
                true,
            ),
            Ok(None) => not_found(&input),
            Err(err) => db_failure("healthsim_get_summary", err),
        }
    }

    #[tool(
        name = "healthsim_save_scenario",
        description = "Save a scenario: entities by type (all-or-nothing, one transaction). Canonical types also become rows of the matching table (patients, encounters, claims, members, prescriptions, subjects, ...) for SQL analysis. An existing name needs overwrite=true, which replaces everything of that scenario.",
        output_schema = schema_for_output::<SaveOutput>(),
        annotations(title = "Save HealthSim Scenario", read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = false)
    )]
    async fn healthsim_save_scenario(
        &self,
        args: Parameters<SaveArgs>,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.save(args, context).await
    }

    #[tool(
        name = "healthsim_delete_scenario",
        description = "Permanently delete a scenario (its entities, tags and canonical rows) by name or id. Requires confirm=true.",
        output_schema = schema_for_output::<DeleteOutput>(),
        annotations(title = "Delete HealthSim Scenario", read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = false)
    )]
    async fn healthsim_delete_scenario(&self, args: Parameters<DeleteArgs>) -> CallToolResult {
        if let Err(reason) = self.db.writes_enabled().await {
            return failure(reason, Map::new());
        }
        let read = || -> Result<DeleteArgs, ArgError> {
            let mut a = ArgReader::new::<DeleteArgs>(args.raw)?;
            Ok(DeleteArgs { name_or_id: a.string("name_or_id", 1, 200)?, confirm: a.boolean("confirm", false)? })
        };
        let DeleteArgs { name_or_id: input, confirm } = match read() {
            Ok(args) => args,
            Err(err) => return err.into(),
        };
        if !confirm {
            let mut extra = Map::new();
            extra.insert("scenario".into(), Value::String(input.clone()));
            return failure(format!("deleting '{input}' is permanent; call again with confirm=true"), extra);
        }
        match self.db.delete(input.clone()).await {
            Ok(Some((scenario, removed))) => success(
                &DeleteOutput {
                    status: "deleted".into(),
                    scenario: input,
                    scenario_id: Some(scenario.scenario_id),
                    removed: Some(removed),
                },
                true,
            ),
            Ok(None) => success(
                &DeleteOutput { status: "not_found".into(), scenario: input, scenario_id: None, removed: None },
                true,
            ),
            Err(err) => db_failure("healthsim_delete_scenario", err),
        }
    }
}

/// The load result as JSON and its pretty text, cut to fit `max_chars`: each entity
/// type's array is cut to the same fraction (the largest that fits), and `truncated` and
/// `hint` are added. Every entity is measured once from its stored text (see
/// [`PrettySizes`]), so the cut is found by arithmetic, only the kept entities are
/// parsed, and the document is printed exactly once.
fn fit_load_output(loaded: LoadedScenario, max_chars: usize) -> (Value, String) {
    let LoadedScenario { scenario, tags, entities, entity_count } = loaded;
    let document = |entities: Option<Value>, truncated: bool| -> Value {
        let mut object = Map::new();
        object.insert("scenario_id".into(), Value::String(scenario.scenario_id.clone()));
        object.insert("name".into(), Value::String(scenario.name.clone()));
        object.insert("description".into(), scenario.description.clone().map_or(Value::Null, Value::String));
        object.insert("created_at".into(), scenario.created_at.clone().map_or(Value::Null, Value::String));
        object.insert("updated_at".into(), scenario.updated_at.clone().map_or(Value::Null, Value::String));
        object.insert("tags".into(), Value::from(tags.clone()));
        object.insert("metadata".into(), scenario.metadata.clone());
        if let Some(entities) = entities {
            object.insert("entities".into(), entities);
        }
        object.insert("entity_count".into(), Value::from(entity_count));
        if truncated {
            object.insert("truncated".into(), Value::Bool(true));
            object.insert("hint".into(), Value::String(LOAD_HINT.to_owned()));
        }
        Value::Object(object)
    };
    let pretty = |value: &Value| serde_json::to_string_pretty(value).unwrap_or_default();
    let Some(full) = entities else {
        let json = document(None, false);
        let text = pretty(&json);
        return (json, text);
    };
    // The document with every array empty, and what each array adds per entity kept.
    let skeleton = |truncated: bool| {
        let empty = full.keys().map(|k| (k.clone(), Value::Array(Vec::new()))).collect();
        char_count(&pretty(&document(Some(Value::Object(empty)), truncated)))
    };
    let sizes: Vec<PrettySizes> = full.values().map(|items| PrettySizes::new(items, ENTITY_DEPTH)).collect();
    let size =
        |base: usize, fraction: f64| -> usize { base + sizes.iter().map(|s| s.added(s.keep(fraction))).sum::<usize>() };
    // Only the entities that are printed are parsed.
    let as_value = |map: BTreeMap<String, Vec<String>>| -> Value {
        Value::Object(
            map.into_iter().map(|(k, v)| (k, Value::Array(v.iter().map(|t| parse_entity(t)).collect()))).collect(),
        )
    };
    if size(skeleton(false), 1.0) <= max_chars {
        let json = document(Some(as_value(full)), false);
        let text = pretty(&json);
        debug_assert!(char_count(&text) <= max_chars);
        return (json, text);
    }
    let base = skeleton(true);
    if base > max_chars {
        // Even the type names do not fit (thousands of types): no entities, and the
        // metadata (which lists every type) summarised.
        let mut json = document(Some(Value::Object(Map::new())), true);
        json["metadata"] = serde_json::json!({"entity_types": full.len(), "note": "too large for the output limit; read it with healthsim_query"});
        let text = pretty(&json);
        return (json, text);
    }
    // Binary search for the largest fraction that fits.
    let (mut low, mut high) = (0.0f64, 1.0f64);
    for _ in 0..30 {
        let mid = (low + high) / 2.0;
        if size(base, mid) <= max_chars { low = mid } else { high = mid }
    }
    let cut = full
        .into_iter()
        .zip(&sizes)
        .map(|((key, mut items), sized)| {
            items.truncate(sized.keep(low));
            (key, items)
        })
        .collect();
    let json = document(Some(as_value(cut)), true);
    let text = pretty(&json);
    debug_assert_eq!(char_count(&text), size(base, low));
    (json, text)
}

/// Nesting level of an entity object in the load document (`{"entities": {"type": [{...}]}}`).
const ENTITY_DEPTH: usize = 3;

/// A stored entity as JSON (`null` if the stored text is not JSON).
fn parse_entity(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn char_count(text: &str) -> usize {
    text.chars().count()
}

/// What the items of one pretty-printed JSON array at nesting level `depth` add to the
/// document, by how many items are kept: `[]` grows to `[\n<indent>item,\n<indent>item\n<indent>]`.
struct PrettySizes {
    depth: usize,
    /// `prefix[k]` = characters of the first `k` items, each as printed at `depth`.
    prefix: Vec<usize>,
}

impl PrettySizes {
    fn new(items: &[String], depth: usize) -> PrettySizes {
        let mut prefix = Vec::with_capacity(items.len() + 1);
        prefix.push(0);
        let mut total = 0;
        for item in items {
            // Text serde_json would print differently is printed and counted.
            let len = pretty::measure(item).unwrap_or_else(|| pretty::printed(&parse_entity(item)));
            // Printed deeper, every line break inside the item gains the outer indentation.
            total += len.chars + len.newlines * depth * INDENT;
            prefix.push(total);
        }
        PrettySizes { depth, prefix }
    }

    /// Items kept when every array is cut to `fraction`.
    fn keep(&self, fraction: f64) -> usize {
        let n = self.prefix.len() - 1;
        ((n as f64 * fraction).floor() as usize).min(n)
    }

    /// Characters the first `k` items add to an empty array `[]`.
    fn added(&self, k: usize) -> usize {
        if k == 0 {
            return 0;
        }
        // Each item: line break + indentation; k - 1 commas; the closing line break and
        // indentation before `]`.
        self.prefix[k] + k * (1 + self.depth * INDENT) + (k - 1) + 1 + (self.depth - 1) * INDENT
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::save::{cap_warnings, check_entities, check_tags};
    use super::*;

    fn loaded(entities: BTreeMap<String, Vec<Value>>) -> LoadedScenario {
        let entity_count = entities.values().map(|v| v.len() as u64).sum();
        // Stored as the server stores them (compact), plus one entity in a form serde would
        // print differently (escapes, number spelling), which is measured by printing it.
        let mut entities: BTreeMap<String, Vec<String>> = entities
            .into_iter()
            .map(|(k, v)| (k, v.iter().map(|e| serde_json::to_string(e).unwrap()).collect()))
            .collect();
        if let Some(first) = entities.get_mut("patients").and_then(|p| p.first_mut()) {
            *first = r#"{ "id": "p0", "note": "caf\u00e9 \/", "n": 1.50 }"#.to_owned();
        }
        LoadedScenario {
            scenario: crate::db::ScenarioRow {
                scenario_id: "id-1".into(),
                name: "Ünïcode \"quoted\" name".into(),
                description: None,
                created_at: Some("2026-01-01T00:00:00".into()),
                updated_at: None,
                metadata: json!({"k": [1, {}]}),
            },
            tags: vec!["a".into()],
            entities: Some(entities),
            entity_count,
        }
    }

    /// Entities of awkward shapes: multi-byte text, escapes, empty and nested containers.
    fn awkward(n: usize) -> BTreeMap<String, Vec<Value>> {
        let mut map = BTreeMap::new();
        map.insert(
            "patients".to_owned(),
            (0..n)
                .map(|i| json!({"id": format!("p{i}"), "name": {"given": ["Zoë", "李"], "family": "O'Brien\n\t\u{1}"}, "tags": [], "extra": {}, "n": i, "x": [[1, [2]], {"a": null}]}))
                .collect(),
        );
        map.insert(
            "claims".to_owned(),
            (0..n / 3).map(|i| json!({"claim_id": i, "lines": [{"amount": 1.5}]})).collect(),
        );
        map.insert("empty".to_owned(), Vec::new());
        map
    }

    /// The computed size is the printed size, and the cut is the largest that fits.
    #[test]
    fn load_output_is_cut_exactly() {
        let whole = fit_load_output(loaded(awkward(60)), usize::MAX).1;
        assert!(!whole.contains("truncated"));
        let full = char_count(&whole);
        // Exactly at the limit nothing is cut; one character less cuts.
        assert_eq!(fit_load_output(loaded(awkward(60)), full).1, whole);
        for max in [full - 1, full / 2, full / 7, 1_000] {
            let (json, text) = fit_load_output(loaded(awkward(60)), max);
            assert!(char_count(&text) <= max, "{} > {max}", char_count(&text));
            assert_eq!(serde_json::to_string_pretty(&json).unwrap(), text);
            assert_eq!(json["truncated"], true);
            let kept = json["entities"]["patients"].as_array().unwrap().len();
            assert!(kept < 60);
            // The next larger fraction (the smallest that keeps one more item of some
            // type) would not fit: print it and see.
            let full_entities = awkward(60);
            let next = full_entities
                .iter()
                .filter(|(_, items)| !items.is_empty())
                .map(|(key, items)| (json["entities"][key].as_array().unwrap().len() + 1) as f64 / items.len() as f64)
                .fold(f64::INFINITY, f64::min);
            let mut larger = json.clone();
            larger["entities"] = full_entities
                .into_iter()
                .map(|(key, mut items)| {
                    items.truncate(((items.len() as f64 * next).floor() as usize).min(items.len()));
                    (key, Value::Array(items))
                })
                .collect::<Map<_, _>>()
                .into();
            assert!(char_count(&serde_json::to_string_pretty(&larger).unwrap()) > max);
        }
    }

    /// Tags are trimmed and de-duplicated case-insensitively, keeping order.
    #[test]
    fn tags_are_deduplicated() {
        let tags = check_tags(Some(json!([" Diabetes ", "diabetes", "Q3", "DIABETES"]))).unwrap();
        assert_eq!(tags, vec!["Diabetes".to_owned(), "Q3".to_owned()]);
        assert_eq!(
            check_tags(Some(json!(["  "]))).unwrap_err().0,
            "tags[0] must be between 1 and 100 characters (got 0)"
        );
        assert!(check_tags(Some(json!("x"))).is_err());
    }

    /// Entity payload shape errors name the exact place.
    #[test]
    fn entity_shape_errors() {
        assert_eq!(
            check_entities(Some(json!({"patients": [{}, 5]})), 10).unwrap_err().0,
            "entities['patients'][1] must be an object (got 5)"
        );
        assert!(check_entities(Some(json!({"patients": [{}, {}]})), 1).unwrap_err().0.contains("at most 1 entities"));
        assert!(check_entities(Some(json!({"": []})), 1).is_err());
        assert!(check_entities(Some(json!({})), 1).unwrap().is_empty());
    }

    /// Warnings are capped at 20 plus a count of the rest.
    #[test]
    fn warnings_are_capped() {
        let many: Vec<String> = (0..25).map(|i| format!("w{i}")).collect();
        let shown = cap_warnings(&many).unwrap();
        assert_eq!(shown.len(), 21);
        assert_eq!(shown[20], "... and 5 more warnings");
        assert!(cap_warnings(&[]).is_none());
    }
}
