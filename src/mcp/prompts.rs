//! The MCP prompts: the workflows a model follows with these tools, offered to the user
//! (Claude Code shows prompts as slash commands, Claude Desktop in its prompt menu). Each
//! is a short instruction naming the tools in the order that keeps answers small: the
//! summary before any load, SQL over the canonical tables for questions, batches through
//! `healthsim_add_entities` for new data.

use rmcp::ErrorData;
use rmcp::model::{GetPromptResult, ListPromptsResult, Prompt, PromptArgument, PromptMessage, Role};
use serde_json::{Map, Value};

/// (name, title, description, arguments as (name, description, required)).
type Spec = (&'static str, &'static str, &'static str, &'static [(&'static str, &'static str, bool)]);

const PROMPTS: &[Spec] = &[
    (
        "explore_scenario",
        "Explore a scenario",
        "Summarize a saved HealthSim scenario and answer questions about it with SQL",
        &[("scenario", "the scenario's name or id", true), ("question", "what you want to know (optional)", false)],
    ),
    (
        "compare_scenarios",
        "Compare two scenarios",
        "Compare two saved scenarios: sizes, demographics, conditions and utilization",
        &[("first", "a scenario's name or id", true), ("second", "the other scenario's name or id", true)],
    ),
    (
        "build_cohort",
        "Build a cohort",
        "Create a synthetic cohort in batches and check what was saved",
        &[
            ("description", "who the cohort is (condition, ages, place, coverage)", true),
            ("size", "how many patients (default 50)", false),
            ("name", "the scenario to save into", false),
        ],
    ),
];

/// Every prompt with its arguments.
pub fn list() -> ListPromptsResult {
    let prompts = PROMPTS
        .iter()
        .map(|(name, title, description, arguments)| {
            let arguments = arguments
                .iter()
                .map(|(arg, text, required)| PromptArgument::new(*arg).with_description(*text).with_required(*required))
                .collect();
            Prompt::new(*name, Some(*description), Some(arguments)).with_title(*title)
        })
        .collect();
    ListPromptsResult { prompts, ..Default::default() }
}

/// The prompt `name` with `arguments` filled in; a missing required argument or an
/// unknown prompt is an invalid-params error naming it.
pub fn get(name: &str, arguments: Option<&Map<String, Value>>) -> Result<GetPromptResult, ErrorData> {
    let Some((_, _, description, specs)) = PROMPTS.iter().find(|(n, ..)| *n == name) else {
        let names: Vec<&str> = PROMPTS.iter().map(|(n, ..)| *n).collect();
        return Err(ErrorData::invalid_params(format!("unknown prompt '{name}'; prompts: {}", names.join(", ")), None));
    };
    let arg = |key: &str| -> Option<String> {
        arguments
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    for (key, _, required) in specs.iter() {
        if *required && arg(key).is_none() {
            return Err(ErrorData::invalid_params(format!("prompt '{name}' needs the argument '{key}'"), None));
        }
    }
    let text = match name {
        "explore_scenario" => {
            let scenario = arg("scenario").unwrap_or_default();
            let question = arg("question").map_or_else(String::new, |q| format!(" The question: {q}"));
            format!(
                "Explore the HealthSim scenario '{scenario}'.{question}\n\
                 1. Call healthsim_get_summary with scenario_id_or_name='{scenario}' first: entity counts, \
                 demographics, conditions and samples, in a few thousand characters.\n\
                 2. Answer questions with healthsim_query: SQL over the canonical tables (patients, encounters, \
                 diagnoses, medications, lab_results, vital_signs, procedures, claims, ...), joined on patient_mrn, \
                 member_id or encounter_id and filtered by the scenario, e.g. SELECT d.code, count(*) FROM diagnoses d \
                 JOIN scenarios s USING (scenario_id) WHERE s.name = '{scenario}' GROUP BY ALL ORDER BY 2 DESC.\n\
                 3. Load entities (healthsim_load_scenario) only when the raw documents are needed, and prefer \
                 include_entities=false.\n\
                 Report numbers with the SQL that produced them."
            )
        }
        "compare_scenarios" => {
            let (first, second) = (arg("first").unwrap_or_default(), arg("second").unwrap_or_default());
            format!(
                "Compare the HealthSim scenarios '{first}' and '{second}'.\n\
                 1. Call healthsim_get_summary for each.\n\
                 2. With healthsim_query, compute side by side per scenario (JOIN scenarios USING (scenario_id), \
                 GROUP BY s.name): patients, mean age, gender shares, the ten most common diagnosis codes with their \
                 share of patients, encounters per patient, and claims paid per member where there are claims.\n\
                 3. Present one table with a column per scenario, and name the largest differences."
            )
        }
        _ => {
            let description = arg("description").unwrap_or_default();
            let size = arg("size").and_then(|s| s.parse::<u32>().ok()).unwrap_or(50);
            let name = arg("name").unwrap_or_else(|| "new-cohort".to_owned());
            format!(
                "Build a synthetic HealthSim cohort of {size} patients: {description}.\n\
                 1. Write entities in HealthSim's shapes: patients (id, mrn, given_name, family_name, birth_date, \
                 gender), and for each what the description implies (encounters, diagnoses with ICD-10-CM codes, \
                 medications, lab_results with LOINC codes, vital_signs; members and claims for coverage), each child \
                 naming its patient by patient_mrn or patient_id.\n\
                 2. Save them in batches of at most 50 patients with their entities through healthsim_add_entities \
                 (scenario_name='{name}', batch_number and total_batches), not one huge call.\n\
                 3. Check the result with healthsim_get_summary and a healthsim_query or two (counts per table, \
                 rows without their patient)."
            )
        }
    };
    Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).with_description(*description))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Arguments fill the text; a missing required one and an unknown prompt are refused.
    #[test]
    fn prompts_fill_their_arguments() {
        assert_eq!(list().prompts.len(), 3);
        let args = json!({"scenario": "diabetes-tx"});
        let prompt = get("explore_scenario", args.as_object()).unwrap();
        let text = serde_json::to_string(&prompt.messages).unwrap();
        assert!(text.contains("scenario_id_or_name='diabetes-tx'"), "{text}");
        let err = get("compare_scenarios", json!({"first": "a"}).as_object()).unwrap_err();
        assert!(err.message.contains("needs the argument 'second'"), "{}", err.message);
        assert!(get("nope", None).unwrap_err().message.contains("unknown prompt 'nope'"));
    }
}
