//! `network.providers`, the provider registry in the NPPES layout of HealthSim NetworkSim
//! (the import of the real NPPES file, or the synthetic table `demo` generates): the search
//! behind `healthsim_search_providers`, wire-compatible with the Python server's tool.

use anyhow::Context;
use duckdb::params_from_iter;

use crate::engine::Sql;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::engine::query::objects;

/// A NUCC taxonomy the synthetic registry uses, and its share of NPPES records.
pub struct Taxonomy {
    pub code: &'static str,
    pub label: &'static str,
    /// An organization's taxonomy (NPI type 2) rather than an individual's.
    pub organization: bool,
    /// The credential individuals with it carry.
    pub credential: &'static str,
    /// Relative frequency among providers of its kind.
    pub weight: f64,
}

const fn person(code: &'static str, label: &'static str, credential: &'static str, weight: f64) -> Taxonomy {
    Taxonomy { code, label, organization: false, credential, weight }
}
const fn organization(code: &'static str, label: &'static str, weight: f64) -> Taxonomy {
    Taxonomy { code, label, organization: true, credential: "", weight }
}

/// NUCC codes and labels (real codes; the weights are rough NPPES proportions).
#[rustfmt::skip]
pub const TAXONOMIES: &[Taxonomy] = &[
    person("207Q00000X", "Family Medicine", "MD", 6.0), person("207R00000X", "Internal Medicine", "MD", 7.0),
    person("208D00000X", "General Practice", "MD", 1.0), person("363L00000X", "Nurse Practitioner", "NP", 7.0),
    person("363LF0000X", "Family Nurse Practitioner", "FNP", 5.0), person("363A00000X", "Physician Assistant", "PA-C", 5.0),
    person("207RC0000X", "Cardiovascular Disease", "MD", 1.0), person("207RG0100X", "Gastroenterology", "MD", 0.7),
    person("2084N0400X", "Neurology", "MD", 0.8), person("207RX0202X", "Medical Oncology", "MD", 0.6),
    person("207X00000X", "Orthopaedic Surgery", "MD", 1.0), person("208000000X", "Pediatrics", "MD", 3.0),
    person("207V00000X", "Obstetrics & Gynecology", "MD", 2.0), person("2084P0800X", "Psychiatry", "MD", 2.0),
    person("207P00000X", "Emergency Medicine", "MD", 2.0), person("2085R0202X", "Diagnostic Radiology", "MD", 1.5),
    person("207L00000X", "Anesthesiology", "MD", 2.0), person("208600000X", "Surgery", "MD", 1.5),
    person("207N00000X", "Dermatology", "MD", 0.7), person("207W00000X", "Ophthalmology", "MD", 0.9),
    person("208800000X", "Urology", "MD", 0.5), person("1223G0001X", "General Practice Dentistry", "DDS", 5.0),
    person("183500000X", "Pharmacist", "PharmD", 6.0), person("225100000X", "Physical Therapist", "PT", 5.0),
    person("163W00000X", "Registered Nurse", "RN", 8.0), person("1041C0700X", "Clinical Social Worker", "LCSW", 5.0),
    person("103T00000X", "Psychologist", "PhD", 3.0), person("111N00000X", "Chiropractor", "DC", 2.0),
    person("152W00000X", "Optometrist", "OD", 1.5),
    organization("282N00000X", "General Acute Care Hospital", 1.0), organization("261QU0200X", "Urgent Care", 1.0),
    organization("261QP2300X", "Primary Care Clinic", 3.0), organization("332B00000X", "Medical Equipment", 2.0),
    organization("3336C0003X", "Pharmacy", 5.0), organization("291U00000X", "Clinical Laboratory", 1.5),
    organization("251E00000X", "Home Health", 1.5), organization("314000000X", "Skilled Nursing Facility", 1.0),
    organization("193200000X", "Multi-Specialty Group", 3.0), organization("261QF0400X", "Community Health Center", 0.5),
];

/// Specialty keywords: words in the argument → taxonomy code prefixes of `taxonomy_1`.
/// The first eleven are the Python server's (its "ortho" prefix `2086S` is plastic surgery
/// in NUCC; orthopaedics is `207X`).
#[rustfmt::skip]
const SPECIALTIES: &[(&[&str], &[&str])] = &[
    (&["family"], &["207Q", "363LF"]), (&["internal"], &["207R"]), (&["cardio"], &["207RC"]),
    (&["neuro"], &["2084N"]), (&["gastro"], &["207RG"]), (&["oncol"], &["207RX"]), (&["ortho"], &["207X"]),
    (&["nurse", "np"], &["363L"]), (&["physician assistant", "pa-c", "pa"], &["363A"]),
    (&["hospital"], &["282N"]), (&["urgent"], &["261QU"]),
    (&["general practice"], &["208D"]), (&["primary care"], &["207Q", "207R", "208D", "363L", "363A", "261QP"]),
    (&["pediatric"], &["2080"]), (&["psychiatr"], &["2084P"]), (&["obstetric", "gynecolog", "ob/gyn", "obgyn"], &["207V"]),
    (&["emergency"], &["207P"]), (&["radiolog"], &["2085R"]), (&["anesthes"], &["207L"]), (&["surgery", "surgeon"], &["2086", "207X"]),
    (&["dermatolog"], &["207N"]), (&["ophthalmolog"], &["207W"]), (&["urolog"], &["2088"]),
    (&["dentist", "dental"], &["122"]), (&["pharmac"], &["1835", "3336"]), (&["physical therap"], &["2251"]),
    (&["registered nurse"], &["163W"]), (&["social work"], &["1041"]), (&["psycholog"], &["103T"]),
    (&["chiropract"], &["111N"]), (&["optometr"], &["152W"]), (&["laborator", "lab"], &["291U"]),
    (&["home health"], &["251E"]), (&["nursing facility", "skilled nursing"], &["314"]),
    (&["community health", "fqhc"], &["261QF"]), (&["multi-specialty", "multispecialty"], &["1932"]),
    (&["equipment", "dme"], &["332B"]),
];

/// The taxonomy code prefixes a specialty keyword selects; `None` when no keyword matches.
/// Keywords match word beginnings ("cardiology" matches "cardio"); keywords of three
/// letters or fewer ("np", "pa", "lab") and phrases match only as whole words.
pub fn specialty_prefixes(specialty: &str) -> Option<Vec<&'static str>> {
    let text = specialty.to_lowercase();
    let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric() && c != '-' && c != '/').collect();
    let matches = |keyword: &str| {
        if keyword.contains(' ') {
            format!(" {} ", words.join(" ")).contains(&format!(" {keyword} "))
        } else if keyword.len() <= 3 {
            words.contains(&keyword)
        } else {
            words.iter().any(|w| w.starts_with(keyword))
        }
    };
    let mut prefixes: Vec<&str> = SPECIALTIES
        .iter()
        .filter(|(keywords, _)| keywords.iter().any(|k| matches(k)))
        .flat_map(|(_, prefixes)| prefixes.iter().copied())
        .collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    (!prefixes.is_empty()).then_some(prefixes)
}

/// The specialty keywords, for error messages.
pub fn specialty_keywords() -> Vec<&'static str> {
    SPECIALTIES.iter().map(|(keywords, _)| keywords[0]).collect()
}

/// Individuals (NPI type 1) or organizations (type 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Individual,
    Organization,
}

/// A validated provider search.
#[derive(Debug, Clone, Default)]
pub struct ProviderSearch {
    /// State abbreviation, upper case.
    pub state: String,
    pub city: Option<String>,
    pub county_fips: Option<String>,
    /// A ZIP code or its first digits.
    pub zip_code: Option<String>,
    /// The keyword as given (for `filters_applied`) and the prefixes it selects.
    pub specialty: Option<(String, Vec<&'static str>)>,
    pub taxonomy_code: Option<String>,
    pub entity_type: Option<ProviderKind>,
    pub limit: u32,
}

/// The search result, keys in the Python server's order.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProviderResult {
    pub source: String,
    pub data_type: String,
    pub filters_applied: Map<String, Value>,
    pub result_count: usize,
    pub providers: Vec<Map<String, Value>>,
    /// Present (true) when providers were dropped to fit the output limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
}

/// Columns the search reads.
const NEEDED: [&str; 12] = [
    "npi",
    "entity_type_code",
    "first_name",
    "last_name",
    "organization_name",
    "credential",
    "taxonomy_1",
    "practice_address_1",
    "practice_city",
    "practice_state",
    "practice_zip",
    "phone",
];

/// Searches `network.providers`; `Ok(None)` when the database has no such table.
pub fn search(conn: &Sql<'_>, search: &ProviderSearch) -> anyhow::Result<Option<ProviderResult>> {
    let Some((comment, columns)) = table(conn)? else { return Ok(None) };
    let missing: Vec<&str> = NEEDED.iter().copied().filter(|c| !columns.iter().any(|have| have == c)).collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "network.providers is not in the NPPES layout of HealthSim NetworkSim (no column {}); load the NetworkSim provider import or run `healthsim-mcp demo` on another database",
            missing.join(", ")
        );
    }
    let has_county = columns.iter().any(|c| c == "county_fips");
    let mut conditions = vec!["practice_state = ?".to_owned()];
    let mut params: Vec<String> = vec![search.state.clone()];
    if let Some(city) = &search.city {
        conditions.push("contains(lower(practice_city), lower(?))".to_owned());
        params.push(city.clone());
    }
    if let Some(fips) = &search.county_fips {
        if !has_county {
            anyhow::bail!(
                "network.providers has no county_fips column (the NetworkSim geography enrichment adds it); search by city or zip_code instead"
            );
        }
        conditions.push("county_fips = ?".to_owned());
        params.push(fips.clone());
    }
    if let Some(zip) = &search.zip_code {
        conditions.push("starts_with(practice_zip, ?)".to_owned());
        params.push(zip.clone());
    }
    if let Some(code) = &search.taxonomy_code {
        let taxonomy_columns: Vec<&str> = ["taxonomy_1", "taxonomy_2", "taxonomy_3", "taxonomy_4"]
            .into_iter()
            .filter(|c| columns.iter().any(|have| have == c))
            .collect();
        conditions.push(format!("? IN ({})", taxonomy_columns.join(", ")));
        params.push(code.clone());
    } else if let Some((_, prefixes)) = &search.specialty {
        let any: Vec<&str> = prefixes.iter().map(|_| "starts_with(taxonomy_1, ?)").collect();
        conditions.push(format!("({})", any.join(" OR ")));
        params.extend(prefixes.iter().map(|p| (*p).to_owned()));
    }
    match search.entity_type {
        Some(ProviderKind::Individual) => conditions.push("entity_type_code::VARCHAR = '1'".to_owned()),
        Some(ProviderKind::Organization) => conditions.push("entity_type_code::VARCHAR = '2'".to_owned()),
        None => {}
    }
    let labels: Vec<String> =
        TAXONOMIES.iter().map(|t| format!("('{}', '{}')", t.code, t.label.replace('\'', "''"))).collect();
    let sql = format!(
        "SELECT p.npi::VARCHAR AS npi, p.entity_type_code::VARCHAR AS entity_type_code,
                CASE WHEN p.entity_type_code::VARCHAR = '1' THEN concat_ws(' ', p.first_name, p.last_name)
                     ELSE p.organization_name END AS name,
                p.credential, p.taxonomy_1 AS primary_taxonomy, l.label AS specialty,
                p.practice_address_1 AS practice_address, p.practice_city, p.practice_state, p.practice_zip,
                {county} AS county_fips, p.phone::VARCHAR AS phone
         FROM network.providers p LEFT JOIN (VALUES {labels}) l(code, label) ON l.code = p.taxonomy_1
         WHERE {where}
         ORDER BY p.npi LIMIT {limit}",
        county = if has_county { "p.county_fips" } else { "NULL::VARCHAR" },
        labels = labels.join(", "),
        where = conditions.join(" AND "),
        limit = search.limit,
    );
    let mut stmt = conn.prepare(&sql).context("cannot search network.providers")?;
    let (_, providers) = objects(stmt.query(params_from_iter(params.iter()))?)?;
    let synthetic = comment.as_deref().is_some_and(|c| c.contains("SYNTHETIC"));
    let (source, data_type) = if synthetic {
        ("healthsim-mcp demo: synthetic providers in the NPPES layout", "SYNTHETIC providers (fictional NPIs)")
    } else {
        ("NPPES (National Plan and Provider Enumeration System)", "REAL registered providers")
    };
    Ok(Some(ProviderResult {
        source: source.to_owned(),
        data_type: data_type.to_owned(),
        filters_applied: filters(search),
        result_count: providers.len(),
        providers,
        truncated: None,
    }))
}

/// `filters_applied`: the Python server's five keys, then ours.
fn filters(search: &ProviderSearch) -> Map<String, Value> {
    let text = |value: &Option<String>| value.clone().map_or(Value::Null, Value::String);
    let mut map = Map::new();
    map.insert("state".into(), Value::String(search.state.clone()));
    map.insert("city".into(), text(&search.city));
    map.insert("specialty".into(), text(&search.specialty.as_ref().map(|(keyword, _)| keyword.clone())));
    map.insert("taxonomy_code".into(), text(&search.taxonomy_code));
    let kind = search.entity_type.map(|k| match k {
        ProviderKind::Individual => "individual".to_owned(),
        ProviderKind::Organization => "organization".to_owned(),
    });
    map.insert("entity_type".into(), text(&kind));
    map.insert("county_fips".into(), text(&search.county_fips));
    map.insert("zip_code".into(), text(&search.zip_code));
    map.insert("limit".into(), Value::from(search.limit));
    map
}

/// The comment and column names of `network.providers`, if the database has it.
fn table(conn: &Sql<'_>) -> anyhow::Result<Option<(Option<String>, Vec<String>)>> {
    let mut stmt = conn.prepare(
        "SELECT t.comment, c.column_name FROM duckdb_tables() t
         JOIN duckdb_columns() c ON c.table_oid = t.table_oid
         WHERE t.database_name = current_database() AND t.schema_name = 'network' AND t.table_name = 'providers'",
    )?;
    let found: Vec<(Option<String>, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let Some(comment) = found.first().map(|(comment, _)| comment.clone()) else { return Ok(None) };
    Ok(Some((comment, found.into_iter().map(|(_, column)| column).collect())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specialty_keywords_select_prefixes() {
        assert_eq!(specialty_prefixes("Family Medicine").unwrap(), vec!["207Q", "363LF"]);
        assert_eq!(specialty_prefixes("Cardiology").unwrap(), vec!["207RC"]);
        assert_eq!(specialty_prefixes("pediatrics").unwrap(), vec!["2080"]);
        assert!(specialty_prefixes("Internal Medicine").unwrap().contains(&"207R"));
        // "np" is a word, not a substring of "inpatient".
        assert_eq!(specialty_prefixes("inpatient"), None);
        assert_eq!(specialty_prefixes("NP").unwrap(), vec!["363L"]);
        assert_eq!(specialty_prefixes("astrology"), None);
        assert_eq!(specialty_prefixes("pain management"), None);
        assert_eq!(specialty_prefixes("Physician Assistant").unwrap(), vec!["363A"]);
    }

    /// Every keyword selects a taxonomy of the synthetic registry, so none finds nothing there.
    #[test]
    fn every_keyword_selects_a_generated_taxonomy() {
        for (keywords, prefixes) in SPECIALTIES {
            assert!(
                prefixes.iter().any(|p| TAXONOMIES.iter().any(|t| t.code.starts_with(p))),
                "{keywords:?} selects no generated taxonomy"
            );
        }
    }
}
