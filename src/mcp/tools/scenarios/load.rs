//! The load result, cut to the output limit: every stored entity measured once from its
//! text, the cut found by arithmetic, only the kept entities parsed, the document printed
//! once.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::db::LoadedScenario;
use crate::mcp::tools::printed;

const LOAD_HINT: &str = "entities were cut to fit the output limit; read the resource linked in this result (healthsim://scenarios/{name}) for every entity, use healthsim_get_summary for an overview, or healthsim_query to page through canonical tables";

/// The load result as JSON and its compact text, cut to fit `max_chars`: each entity
/// type's array is cut to the same fraction (the largest that fits), and `truncated` and
/// `hint` are added. Every entity is measured once from its stored text (see
/// [`PrintedSizes`]), so the cut is found by arithmetic, only the kept entities are
/// parsed, and the document is printed exactly once.
pub(super) fn fit_output(loaded: LoadedScenario, max_chars: usize) -> (Value, String) {
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
    let print = |value: &Value| serde_json::to_string(value).unwrap_or_default();
    let Some(full) = entities else {
        let json = document(None, false);
        let text = print(&json);
        return (json, text);
    };
    // The document with every array empty, and what each array adds per entity kept.
    let skeleton = |truncated: bool| {
        let empty = full.keys().map(|k| (k.clone(), Value::Array(Vec::new()))).collect();
        char_count(&print(&document(Some(Value::Object(empty)), truncated)))
    };
    let sizes: Vec<PrintedSizes> = full.values().map(|items| PrintedSizes::new(items)).collect();
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
        let text = print(&json);
        debug_assert!(char_count(&text) <= max_chars);
        return (json, text);
    }
    let base = skeleton(true);
    if base > max_chars {
        // Even the type names do not fit (thousands of types): no entities, and the
        // metadata (which lists every type) summarised.
        let mut json = document(Some(Value::Object(Map::new())), true);
        json["metadata"] = serde_json::json!({"entity_types": full.len(), "note": "too large for the output limit; read it with healthsim_query"});
        let text = print(&json);
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
    let text = print(&json);
    debug_assert_eq!(char_count(&text), size(base, low));
    (json, text)
}

/// A stored entity as JSON (`null` if the stored text is not JSON).
fn parse_entity(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn char_count(text: &str) -> usize {
    text.chars().count()
}

/// What the items of one JSON array add to the printed document, by how many items are
/// kept: `[]` grows to `[item,item]`.
struct PrintedSizes {
    /// `prefix[k]` = characters of the first `k` items.
    prefix: Vec<usize>,
}

impl PrintedSizes {
    fn new(items: &[String]) -> PrintedSizes {
        let mut prefix = Vec::with_capacity(items.len() + 1);
        prefix.push(0);
        let mut total = 0;
        for item in items {
            // Text serde_json would print differently is printed and counted.
            total += printed::measure(item).unwrap_or_else(|| printed::printed(&parse_entity(item)));
            prefix.push(total);
        }
        PrintedSizes { prefix }
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
        // The items and the k - 1 commas between them.
        self.prefix[k] + (k - 1)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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
        let whole = fit_output(loaded(awkward(60)), usize::MAX).1;
        assert!(!whole.contains("truncated"));
        let full = char_count(&whole);
        // Exactly at the limit nothing is cut; one character less cuts.
        assert_eq!(fit_output(loaded(awkward(60)), full).1, whole);
        for max in [full - 1, full / 2, full / 7, 1_000] {
            let (json, text) = fit_output(loaded(awkward(60)), max);
            assert!(char_count(&text) <= max, "{} > {max}", char_count(&text));
            assert_eq!(serde_json::to_string(&json).unwrap(), text);
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
            assert!(char_count(&serde_json::to_string(&larger).unwrap()) > max);
        }
    }
}
