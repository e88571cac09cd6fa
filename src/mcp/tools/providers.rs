//! healthsim_search_providers: the provider lookup of the Python server (arguments and
//! output keys), over `network.providers`.

use rmcp::handler::server::common::schema_for_output;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::query::read_state;
use super::{ArgError, ArgReader, Parameters, db_failure, failure, success_text};
use crate::db::{ProviderKind, ProviderResult, ProviderSearch, specialty_keywords, specialty_prefixes};
use crate::mcp::server::HealthSim;

fn default_provider_limit() -> u32 {
    50
}

/// Arguments of healthsim_search_providers (the Python server's names).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderArgs {
    /// State: 2-letter abbreviation or 2-digit FIPS code
    #[schemars(length(min = 2, max = 2))]
    pub state: String,
    /// City name or part of it (case-insensitive)
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub city: Option<String>,
    /// 5-digit county FIPS code
    #[serde(default)]
    #[schemars(length(min = 5, max = 5))]
    pub county_fips: Option<String>,
    /// ZIP code or its first digits (1-5 digits)
    #[serde(default)]
    #[schemars(length(min = 1, max = 5))]
    pub zip_code: Option<String>,
    /// Specialty keyword, e.g. 'Cardiology', 'Pharmacy' (ignored with taxonomy_code)
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub specialty: Option<String>,
    /// NUCC taxonomy code, e.g. '207Q00000X'; matches any of a provider's taxonomies
    #[serde(default)]
    #[schemars(length(min = 10, max = 10))]
    pub taxonomy_code: Option<String>,
    /// 'individual' (NPI type 1) or 'organization' (type 2); both when absent
    #[serde(default)]
    pub entity_type: Option<String>,
    /// Maximum providers to return
    #[serde(default = "default_provider_limit")]
    #[schemars(range(min = 1, max = 200))]
    pub limit: u32,
}

/// The validated search, from the raw arguments.
fn read(raw: Map<String, Value>) -> Result<ProviderSearch, ArgError> {
    let mut a = ArgReader::new::<ProviderArgs>(raw)?;
    let state = read_state(&a.string("state", 1, 100)?)?.abbr.to_owned();
    let city = a.optional_string("city", 100)?;
    let county_fips = a.optional_string("county_fips", 100)?;
    if let Some(fips) = &county_fips
        && (fips.len() != 5 || !fips.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ArgError(format!("county_fips must be a 5-digit county FIPS code such as '06037' (got '{fips}')")));
    }
    let zip_code = a.optional_string("zip_code", 100)?;
    if let Some(zip) = &zip_code
        && (zip.len() > 5 || !zip.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ArgError(format!("zip_code must be a ZIP code or its first digits, 1-5 digits (got '{zip}')")));
    }
    let taxonomy_code = a.optional_string("taxonomy_code", 100)?.map(|code| code.to_ascii_uppercase());
    if let Some(code) = &taxonomy_code
        && (code.len() != 10 || !code.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(ArgError(format!(
            "taxonomy_code must be a 10-character NUCC code such as '207Q00000X' (got '{code}')"
        )));
    }
    let specialty = match a.optional_string("specialty", 100)? {
        // A taxonomy code wins, as in the Python server.
        Some(_) if taxonomy_code.is_some() => None,
        Some(keyword) => match specialty_prefixes(&keyword) {
            Some(prefixes) => Some((keyword, prefixes)),
            None => {
                return Err(ArgError(format!(
                    "specialty '{keyword}' matches no specialty this tool knows; use one of: {}, or pass a NUCC taxonomy_code",
                    specialty_keywords().join(", ")
                )));
            }
        },
        None => None,
    };
    let entity_type = match a.optional_string("entity_type", 100)?.map(|t| t.to_ascii_lowercase()) {
        None => None,
        Some(t) if t == "individual" => Some(ProviderKind::Individual),
        Some(t) if t == "organization" => Some(ProviderKind::Organization),
        Some(other) => {
            return Err(ArgError(format!("entity_type must be 'individual' or 'organization' (got '{other}')")));
        }
    };
    let limit = a.integer("limit", 50, 1, 200)? as u32;
    Ok(ProviderSearch { state, city, county_fips, zip_code, specialty, taxonomy_code, entity_type, limit })
}

#[tool_router(router = provider_tools, vis = "pub(crate)")]
impl HealthSim {
    #[tool(
        name = "healthsim_search_providers",
        description = "Search the provider registry (network.providers, NPPES layout) by state (required), city, county FIPS, ZIP prefix, NUCC taxonomy code or specialty keyword, and individual or organization. Use it to pick real-shaped providers for scenarios instead of inventing them.",
        output_schema = schema_for_output::<ProviderResult>(),
        annotations(title = "Search Providers", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn healthsim_search_providers(&self, args: Parameters<ProviderArgs>) -> CallToolResult {
        let search = match read(args.raw) {
            Ok(search) => search,
            Err(err) => return err.into(),
        };
        match self.db.search_providers(search).await {
            Ok(Some(result)) => fit(result, self.limits.max_output_chars),
            Ok(None) => failure(
                "this database has no provider registry (network.providers); load NPPES data with HealthSim NetworkSim's import, or run `healthsim-mcp demo` for a synthetic registry, then call again",
                Map::new(),
            ),
            Err(err) => db_failure("healthsim_search_providers", err),
        }
    }
}

/// The result, with providers dropped from the end (and `truncated: true`) until its text
/// fits `max_chars`.
fn fit(result: ProviderResult, max_chars: usize) -> CallToolResult {
    let render = |result: &ProviderResult| {
        let json = serde_json::to_value(result).unwrap_or_default();
        let text = serde_json::to_string(&json).unwrap_or_default();
        (json, text)
    };
    let (json, text) = render(&result);
    if text.chars().count() <= max_chars {
        return success_text(json, text, true);
    }
    let all = result.providers.clone();
    let (mut low, mut high) = (0, all.len());
    while low < high {
        let mid = (low + high).div_ceil(2);
        let cut = ProviderResult {
            providers: all[..mid].to_vec(),
            result_count: mid,
            truncated: Some(true),
            ..result.clone()
        };
        if render(&cut).1.chars().count() <= max_chars { low = mid } else { high = mid - 1 }
    }
    let cut = ProviderResult { providers: all[..low].to_vec(), result_count: low, truncated: Some(true), ..result };
    let (json, text) = render(&cut);
    success_text(json, text, true)
}
