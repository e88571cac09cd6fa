//! MCP resources: every saved scenario as `healthsim://scenarios/{name}` (its whole
//! document, every entity, as JSON), the resource template and the completion of its
//! `{name}`, and the MCP App that draws a summary (`app.rs`). `server.rs` routes the
//! `resources/*` and `completion/complete` requests here.

use rmcp::ErrorData;
use rmcp::model::{
    CompleteRequestParams, CompleteResult, CompletionInfo, ListResourceTemplatesResult, ListResourcesResult,
    ReadResourceResult, Reference, Resource, ResourceContents, ResourceTemplate,
};
use serde_json::{Map, Value};

use crate::db::{DbError, LoadedScenario};
use crate::mcp::app;
use crate::mcp::server::HealthSim;

const SCENARIO_PREFIX: &str = "healthsim://scenarios/";
pub const SCENARIO_TEMPLATE: &str = "healthsim://scenarios/{name}";
const JSON: &str = "application/json";
/// Scenarios per `resources/list` page.
const PAGE: u32 = 100;

/// The URI of a scenario: its name percent-encoded as RFC 6570 expands `{name}` (every
/// byte but the unreserved characters).
pub fn scenario_uri(name: &str) -> String {
    let mut uri = String::from(SCENARIO_PREFIX);
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            uri.push(byte as char);
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// The scenario name (or id) a `healthsim://scenarios/...` URI names.
fn scenario_name(uri: &str) -> Option<String> {
    let encoded = uri.strip_prefix(SCENARIO_PREFIX)?;
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.bytes();
    while let Some(byte) = rest.next() {
        if byte == b'%' {
            let hex = [rest.next()?, rest.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(byte);
        }
    }
    String::from_utf8(bytes).ok().filter(|name| !name.is_empty())
}

/// A scenario's resource entry (also the resource link of a cut load).
pub fn scenario_resource(name: &str, description: Option<String>) -> Resource {
    Resource::new(scenario_uri(name), name.to_owned())
        .with_title(format!("HealthSim scenario {name}"))
        .with_description(description.unwrap_or_else(|| "every entity of the scenario, as saved".to_owned()))
        .with_mime_type(JSON)
}

/// The whole scenario as compact JSON: the keys of `healthsim_load_scenario`, every entity
/// spliced in from its stored text (nothing parsed).
pub fn document(loaded: &LoadedScenario) -> String {
    let scenario = &loaded.scenario;
    let text = |value: &Option<String>| value.clone().map_or(Value::Null, Value::String);
    let mut head = Map::new();
    head.insert("scenario_id".into(), Value::String(scenario.scenario_id.clone()));
    head.insert("name".into(), Value::String(scenario.name.clone()));
    head.insert("description".into(), text(&scenario.description));
    head.insert("created_at".into(), text(&scenario.created_at));
    head.insert("updated_at".into(), text(&scenario.updated_at));
    head.insert("tags".into(), Value::from(loaded.tags.clone()));
    head.insert("metadata".into(), scenario.metadata.clone());
    head.insert("entity_count".into(), Value::from(loaded.entity_count));
    let mut out = Value::Object(head).to_string();
    out.pop();
    out.push_str(",\"entities\":{");
    for (i, (kind, items)) in loaded.entities.iter().flatten().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(kind.clone()).to_string());
        out.push_str(":[");
        out.push_str(&items.join(","));
        out.push(']');
    }
    out.push_str("}}");
    out
}

fn db_error(err: DbError) -> ErrorData {
    ErrorData::internal_error(err.to_string(), None)
}

impl HealthSim {
    /// `resources/list`: the summary app, then the scenarios by name, `PAGE` at a time.
    pub(crate) async fn resource_page(&self, cursor: Option<String>) -> Result<ListResourcesResult, ErrorData> {
        let offset = match cursor.as_deref() {
            None => 0,
            Some(text) => text.parse::<u64>().map_err(|_| {
                ErrorData::invalid_params(
                    format!("cursor '{text}' is not one this server gave; list again without a cursor"),
                    None,
                )
            })?,
        };
        // Listing is discovery: a file whose scenarios cannot be read (an unknown layout, a
        // read-only server before the file exists) lists the app alone; reading a scenario
        // or calling a tool says why.
        let (names, total) = match self.db.scenario_names(String::new(), PAGE, offset).await {
            Ok(page) => page,
            Err(err) => {
                tracing::warn!("resources/list shows no scenarios: {err}");
                (Vec::new(), 0)
            }
        };
        let mut resources = if offset == 0 { vec![app::summary_resource()] } else { Vec::new() };
        let next = offset + names.len() as u64;
        resources.extend(names.into_iter().map(|(name, description)| scenario_resource(&name, description)));
        let mut result = ListResourcesResult::with_all_items(resources);
        result.next_cursor = (next < total).then(|| next.to_string());
        Ok(result)
    }

    pub(crate) fn resource_templates() -> ListResourceTemplatesResult {
        let template = ResourceTemplate::new(SCENARIO_TEMPLATE, "scenario")
            .with_title("HealthSim scenario")
            .with_description("A saved scenario by name (or id): metadata, tags and every entity as saved, as JSON")
            .with_mime_type(JSON);
        ListResourceTemplatesResult::with_all_items(vec![template])
    }

    /// `resources/read`: a scenario's whole document, or the summary app.
    pub(crate) async fn read_uri(&self, uri: &str) -> Result<ReadResourceResult, ErrorData> {
        if uri == app::SUMMARY_URI {
            return Ok(ReadResourceResult::new(vec![app::summary_contents()]));
        }
        let Some(name) = scenario_name(uri) else {
            return Err(ErrorData::resource_not_found(
                format!(
                    "resource '{uri}' is not one of this server's; read {SCENARIO_TEMPLATE} with a scenario name, or list resources"
                ),
                None,
            ));
        };
        match self.db.load_scenario(name.clone(), true).await.map_err(db_error)? {
            Some(loaded) => Ok(ReadResourceResult::new(vec![ResourceContents::TextResourceContents {
                uri: uri.to_owned(),
                mime_type: Some(JSON.to_owned()),
                text: document(&loaded),
                meta: None,
            }])),
            None => Err(ErrorData::resource_not_found(
                format!("scenario '{name}' not found; list resources or call healthsim_list_scenarios"),
                Some(serde_json::json!({ "uri": uri })),
            )),
        }
    }

    /// `completion/complete` of the template's `{name}`: saved names starting with the
    /// typed value (case-insensitive), by name.
    pub(crate) async fn complete_name(&self, request: CompleteRequestParams) -> Result<CompleteResult, ErrorData> {
        let Reference::Resource(reference) = &request.r#ref else {
            return Err(ErrorData::invalid_params("this server has no prompts to complete", None));
        };
        if reference.uri != SCENARIO_TEMPLATE || request.argument.name != "name" {
            return Err(ErrorData::invalid_params(
                format!(
                    "nothing to complete for argument '{}' of '{}'; this server completes {{name}} of {SCENARIO_TEMPLATE}",
                    request.argument.name, reference.uri
                ),
                None,
            ));
        }
        let limit = CompletionInfo::MAX_VALUES as u32;
        let (names, total) =
            self.db.scenario_names(request.argument.value.clone(), limit, 0).await.map_err(db_error)?;
        let has_more = total > names.len() as u64;
        let values = names.into_iter().map(|(name, _)| name).collect();
        let info = CompletionInfo::with_pagination(values, Some(total.min(u64::from(u32::MAX)) as u32), has_more)
            .map_err(|e| ErrorData::internal_error(e, None))?;
        Ok(CompleteResult::new(info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_any_name() {
        for name in ["diabetes-cohort", "Q3 claims / north", "Ünïcödé 🩺", "100%", "a+b?c#d"] {
            let uri = scenario_uri(name);
            assert!(uri.bytes().all(|b| b.is_ascii_graphic()), "{uri}");
            assert_eq!(scenario_name(&uri).as_deref(), Some(name));
        }
        assert_eq!(scenario_uri("a b"), "healthsim://scenarios/a%20b");
        assert_eq!(scenario_name("healthsim://scenarios/"), None);
        assert_eq!(scenario_name("healthsim://scenarios/%F"), None);
        assert_eq!(scenario_name("healthsim://scenarios/%FF"), None);
        assert_eq!(scenario_name("file:///etc/passwd"), None);
    }
}
