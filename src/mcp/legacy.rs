//! The Python HealthSim MCP server's current names, accepted so the scripts and system
//! prompts written for it work here: its tools are called (never listed: each listed tool
//! costs the model tokens on every turn) and answered by ours, its argument names read as
//! ours, inside the `{"params": {...}}` envelope its clients send or without it.

use rmcp::model::CallToolRequestParams;
use serde_json::{Map, Value};

/// Its tool names → ours.
const TOOLS: &[(&str, &str)] = &[
    ("healthsim_list_cohorts", "healthsim_list_scenarios"),
    ("healthsim_load_cohort", "healthsim_load_scenario"),
    ("healthsim_save_cohort", "healthsim_save_scenario"),
    ("healthsim_delete_cohort", "healthsim_delete_scenario"),
    ("healthsim_get_cohort_summary", "healthsim_get_summary"),
];

/// (our tool, its argument name, ours).
const ARGUMENTS: &[(&str, &str, &str)] = &[
    ("healthsim_get_summary", "cohort_id_or_name", "scenario_id_or_name"),
    ("healthsim_add_entities", "cohort_id", "scenario_id"),
    ("healthsim_add_entities", "cohort_name", "scenario_name"),
];

/// Its arguments that mean nothing here: every entity type is accepted, so there is no
/// reference-entity check to override.
const WITHOUT_EFFECT: &[(&str, &str)] =
    &[("healthsim_save_scenario", "allow_reference_entities"), ("healthsim_add_entities", "allow_reference_entities")];

/// The tool of ours a name calls, when it is one of the Python server's.
pub fn our_name(name: &str) -> Option<&'static str> {
    TOOLS.iter().find(|(theirs, _)| *theirs == name).map(|(_, ours)| *ours)
}

/// Rewrites a call made in the Python server's terms into ours (tool and argument names);
/// a call in ours is left as it is.
pub fn translate(request: &mut CallToolRequestParams) {
    if let Some(ours) = our_name(&request.name) {
        request.name = ours.into();
    }
    let Some(arguments) = request.arguments.as_mut() else { return };
    let enveloped = arguments.len() == 1 && arguments.get("params").is_some_and(Value::is_object);
    let target: &mut Map<String, Value> = match arguments.get_mut("params") {
        Some(Value::Object(inner)) if enveloped => inner,
        _ => arguments,
    };
    for (tool, theirs, ours) in ARGUMENTS {
        if request.name == *tool
            && !target.contains_key(*ours)
            && let Some(value) = target.remove(*theirs)
        {
            target.insert((*ours).to_owned(), value);
        }
    }
    for (tool, name) in WITHOUT_EFFECT {
        if request.name == *tool {
            target.remove(*name);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(name: &str, arguments: Value) -> CallToolRequestParams {
        CallToolRequestParams::new(name.to_owned()).with_arguments(arguments.as_object().unwrap().clone())
    }

    /// Its names and arguments become ours, inside the envelope or without it; ours pass.
    #[test]
    fn python_server_calls_become_ours() {
        let mut request = call("healthsim_get_cohort_summary", json!({"params": {"cohort_id_or_name": "x"}}));
        translate(&mut request);
        assert_eq!(request.name, "healthsim_get_summary");
        assert_eq!(request.arguments.unwrap()["params"], json!({"scenario_id_or_name": "x"}));
        let mut request = call(
            "healthsim_add_entities",
            json!({"cohort_name": "c", "entities": {}, "allow_reference_entities": true}),
        );
        translate(&mut request);
        assert_eq!(Value::Object(request.arguments.unwrap()), json!({"scenario_name": "c", "entities": {}}));
        let mut request = call("healthsim_load_scenario", json!({"name_or_id": "x"}));
        translate(&mut request);
        assert_eq!(
            (request.name.as_ref(), request.arguments.unwrap()["name_or_id"].clone()),
            ("healthsim_load_scenario", json!("x"))
        );
    }
}
