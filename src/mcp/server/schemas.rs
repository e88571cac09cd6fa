//! The JSON Schemas the tools publish: input schemas in standard JSON Schema only, and
//! output schemas that clients check cheaply.

use rmcp::model::JsonObject;
use serde_json::Value;

/// The `format` values JSON Schema 2020-12 defines. schemars also writes `uint64`,
/// `uint32`, `int64`, `double`...: TypeScript clients' validators (Ajv, as the Inspector
/// uses it) print `unknown format "uint64" ignored` for each, on every tools/list.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// `schema` without non-standard `format` keywords; an unsigned one becomes `minimum: 0`
/// (schemars writes that beside it already; kept explicit here). Words a model pays for on
/// every turn and no client needs are left out: `$schema` (2020-12 is MCP's default
/// dialect) and `"default": null` (an absent optional argument).
pub(super) fn standard_schema(mut schema: JsonObject) -> JsonObject {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(object) => {
                if object.get("default") == Some(&Value::Null) {
                    object.remove("default");
                }
                if let Some(Value::String(format)) = object.get("format")
                    && !STANDARD_FORMATS.contains(&format.as_str())
                {
                    let unsigned = format.starts_with("uint");
                    object.remove("format");
                    if unsigned && !object.contains_key("minimum") {
                        object.insert("minimum".into(), Value::from(0));
                    }
                }
                object.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    schema.remove("$schema");
    schema.values_mut().for_each(walk);
    schema
}

/// The `outputSchema` a tool publishes, made from the schema of its output type: an
/// object with the keys that are always there in `required`, and the shape of every key
/// in words (`description`), with no subschema.
///
/// Clients check `structuredContent` against it on every call. The MCP Python SDK 1.x does
/// so with `jsonschema.validate()`, which first checks the schema itself against the
/// 2020-12 metaschema, every call, at a cost that grows with each subschema: measured
/// through SDK 1.25 against a canned server, 0.45-0.7 ms per call for this shape against
/// 1.7-2.6 ms for the same four keys each declared with a type (and 0.14 ms for a tool with
/// no `outputSchema`). The shapes are the contract's (`tools.md`) and README's; the
/// description carries each key's type and documentation for readers of the schema.
pub(super) fn published_output_schema(detailed: JsonObject) -> JsonObject {
    let mut lean = JsonObject::new();
    lean.insert("type".into(), "object".into());
    if let Some(required) = detailed.get("required") {
        lean.insert("required".into(), required.clone());
    }
    let defs = detailed.get("$defs").and_then(Value::as_object);
    let keys: Vec<String> = detailed
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, schema)| {
            // Each key's shape; what it means is the contract's and README's (the words
            // would be paid on every turn).
            format!("{name} ({})", shape_in_words(schema, defs, 0))
        })
        .collect();
    let mut text = detailed.get("description").and_then(Value::as_str).map(|d| format!("{d} ")).unwrap_or_default();
    if !keys.is_empty() {
        text.push_str(&format!("Keys: {}.", keys.join("; ")));
    }
    if !text.is_empty() {
        lean.insert("description".into(), text.into());
    }
    lean
}

/// What a schema accepts, in a few words: `string`, `integer or null`, `array of strings`,
/// `object` (named types are not expanded, nor are nested objects' keys).
fn shape_in_words(schema: &Value, defs: Option<&serde_json::Map<String, Value>>, depth: usize) -> String {
    let resolved = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|path| path.strip_prefix("#/$defs/"))
        .and_then(|name| defs?.get(name));
    if let Some(target) = resolved
        && depth < 4
    {
        return shape_in_words(target, defs, depth + 1);
    }
    if let Some(variants) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array)
        && depth < 4
    {
        let words: Vec<String> = variants.iter().map(|v| shape_in_words(v, defs, depth + 1)).collect();
        return words.join(" or ");
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => return "any value".into(),
    };
    let words: Vec<String> = types
        .into_iter()
        .map(|ty| match (ty, schema.get("items")) {
            ("array", Some(items)) if depth < 4 => {
                let inner = shape_in_words(items, defs, depth + 1);
                if inner.contains(' ') { format!("array of ({inner})") } else { format!("array of {inner}s") }
            }
            _ => ty.to_owned(),
        })
        .collect();
    words.join(" or ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::HealthSim;
    use super::*;

    /// Every input schema uses standard formats only; unsigned integers keep their lower
    /// bound.
    #[test]
    fn schemas_use_standard_formats_only() {
        let router = HealthSim::router();
        let mut unsigned_bounds = 0;
        for route in router.map.values() {
            let tool = &route.attr;
            let schemas = std::iter::once(tool.input_schema.as_ref()).chain(tool.output_schema.as_deref());
            for schema in schemas {
                let text = serde_json::to_string(schema).unwrap();
                for format in text.split("\"format\":\"").skip(1) {
                    let name = format.split('"').next().unwrap();
                    assert!(STANDARD_FORMATS.contains(&name), "{}: format {name}", tool.name);
                }
                unsigned_bounds += text.matches("\"minimum\":0").count();
            }
        }
        assert!(unsigned_bounds >= 2, "unsigned arguments keep minimum 0 ({unsigned_bounds})");
        let raw = HealthSim::scenario_tools()
            + HealthSim::add_router()
            + HealthSim::profile_router()
            + HealthSim::query_tools()
            + HealthSim::provider_tools();
        let before: usize = raw
            .map
            .values()
            .map(|r| serde_json::to_string(r.attr.input_schema.as_ref()).unwrap().matches("\"format\":\"uint").count())
            .sum();
        assert!(before > 0, "schemars still writes uint formats, so the rewrite is tested");
    }

    /// Every published output schema is an object schema without subschemas (nothing a
    /// validator descends into): its required keys, and every key of the output type named
    /// with its shape in the description.
    #[test]
    fn output_schemas_have_no_subschemas_and_name_every_key() {
        let raw = HealthSim::scenario_tools()
            + HealthSim::add_router()
            + HealthSim::profile_router()
            + HealthSim::query_tools()
            + HealthSim::provider_tools();
        let published = HealthSim::router();
        let mut checked = 0;
        for (name, route) in &published.map {
            let Some(schema) = route.attr.output_schema.as_deref() else { continue };
            let detailed = raw.map[name].attr.output_schema.as_deref().unwrap();
            for key in schema.keys() {
                assert!(["type", "required", "description"].contains(&key.as_str()), "{name}: {key}");
            }
            assert_eq!(schema["type"], "object", "{name}");
            assert_eq!(schema.get("required"), detailed.get("required"), "{name}");
            let description = schema["description"].as_str().unwrap();
            for key in detailed["properties"].as_object().unwrap().keys() {
                assert!(description.contains(&format!("{key} (")), "{name}: {key} in {description}");
            }
            checked += 1;
        }
        assert!(checked >= 9, "{checked}");
    }

    /// The words for a key's shape follow references, unions, nullable types and arrays.
    #[test]
    fn shapes_in_words() {
        let detailed = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "description": "A result.",
            "type": "object",
            "required": ["rows"],
            "properties": {
                "rows": {"type": "array", "items": {"type": "object"}, "description": "One per row."},
                "note": {"type": ["string", "null"]},
                "inner": {"anyOf": [{"$ref": "#/$defs/Inner"}, {"type": "null"}]},
                "ids": {"type": "array", "items": {"type": ["string", "null"]}},
                "anything": {}
            },
            "$defs": {"Inner": {"type": "object", "properties": {"x": {"type": "integer"}}}}
        });
        let lean = published_output_schema(detailed.as_object().unwrap().clone());
        assert_eq!(
            Value::Object(lean),
            json!({
                "type": "object",
                "required": ["rows"],
                "description": "A result. Keys: rows (array of objects); \
                    note (string or null); inner (object or null); ids (array of (string or null)); anything (any value)."
            })
        );
    }
}
