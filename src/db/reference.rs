//! Reference data (`population` schema, or legacy `main.ref_*` tables) and the table
//! inventory of `healthsim_tables`.

use anyhow::Context;
use duckdb::params_from_iter;

use crate::engine::Sql;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::schema::quote;
use crate::engine::query::objects;
use crate::model::STATE_COUNTIES;
use crate::model::canonical_tables;

/// The five reference tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceTable {
    PlacesCounty,
    PlacesTract,
    SviCounty,
    SviTract,
    AdiBlockgroup,
}

impl ReferenceTable {
    pub const ALL: [ReferenceTable; 5] = [
        ReferenceTable::PlacesCounty,
        ReferenceTable::PlacesTract,
        ReferenceTable::SviCounty,
        ReferenceTable::SviTract,
        ReferenceTable::AdiBlockgroup,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReferenceTable::PlacesCounty => "places_county",
            ReferenceTable::PlacesTract => "places_tract",
            ReferenceTable::SviCounty => "svi_county",
            ReferenceTable::SviTract => "svi_tract",
            ReferenceTable::AdiBlockgroup => "adi_blockgroup",
        }
    }

    /// The geographic key rows are ordered by.
    fn key(self) -> &'static str {
        match self {
            ReferenceTable::PlacesCounty => "countyfips",
            ReferenceTable::PlacesTract => "tractfips",
            ReferenceTable::SviCounty => "stcnty",
            ReferenceTable::SviTract | ReferenceTable::AdiBlockgroup => "fips",
        }
    }
}

/// A validated state filter: abbreviation and FIPS code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub abbr: &'static str,
    pub fips: &'static str,
}

/// Puerto Rico: a valid filter (the real PLACES, SVI and ADI files carry it) though the
/// synthetic generator makes no counties for it.
const PUERTO_RICO: (&str, &str) = ("PR", "72");

/// The 50 states, DC and PR, as (abbreviation, FIPS): the generator's state table plus PR.
pub fn states() -> impl Iterator<Item = (&'static str, &'static str)> {
    STATE_COUNTIES.iter().map(|(abbr, fips, ..)| (*abbr, *fips)).chain(std::iter::once(PUERTO_RICO))
}

/// Parses a state abbreviation (any case) or a 2-digit FIPS code.
pub fn parse_state(text: &str) -> Option<State> {
    let text = text.trim();
    states()
        .find(|(abbr, fips)| abbr.eq_ignore_ascii_case(text) || *fips == text)
        .map(|(abbr, fips)| State { abbr, fips })
}

/// Rows of a reference table, in wire order.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReferenceResult {
    pub table: String,
    pub columns: Vec<String>,
    pub row_count: usize,
    pub rows: Vec<Map<String, Value>>,
}

/// Where a reference table lives: `population.x`, else legacy `main.ref_x`.
fn locate(conn: &Sql<'_>, table: ReferenceTable) -> anyhow::Result<Option<(String, String)>> {
    let found: Vec<(String, String)> = conn
        .prepare(
            "SELECT schema_name, table_name FROM duckdb_tables()
             WHERE database_name = current_database()
               AND ((schema_name = 'population' AND table_name = ?1) OR (schema_name = 'main' AND table_name = 'ref_' || ?1))
             ORDER BY schema_name = 'population' DESC",
        )?
        .query_map([table.name()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(found.into_iter().next())
}

/// Filtered rows of a reference table; `Ok(None)` when the table is missing.
pub fn query(
    conn: &Sql<'_>,
    table: ReferenceTable,
    state: Option<State>,
    county: Option<&str>,
    limit: u32,
) -> anyhow::Result<Option<ReferenceResult>> {
    let Some((schema, name)) = locate(conn, table)? else { return Ok(None) };
    let qualified = format!("{}.{}", quote(&schema), quote(&name));
    let mut conditions = Vec::new();
    let mut params: Vec<String> = Vec::new();
    match table {
        ReferenceTable::PlacesCounty | ReferenceTable::PlacesTract => {
            if let Some(state) = state {
                conditions.push("upper(stateabbr) = ?".to_owned());
                params.push(state.abbr.to_owned());
            }
            if let Some(county) = county {
                conditions.push("contains(lower(countyname), lower(?))".to_owned());
                params.push(county.to_owned());
            }
        }
        ReferenceTable::SviCounty | ReferenceTable::SviTract => {
            if let Some(state) = state {
                conditions.push("upper(st_abbr) = ?".to_owned());
                params.push(state.abbr.to_owned());
            }
            if let Some(county) = county {
                conditions.push("contains(lower(county), lower(?))".to_owned());
                params.push(county.to_owned());
            }
        }
        ReferenceTable::AdiBlockgroup => {
            if let Some(state) = state {
                conditions.push("substr(fips, 1, 2) = ?".to_owned());
                params.push(state.fips.to_owned());
            }
            if let Some(county) = county {
                // County names live in svi_county; resolve them to 5-digit county FIPS.
                let Some((svi_schema, svi_name)) = locate(conn, ReferenceTable::SviCounty)? else {
                    anyhow::bail!(
                        "the county filter on adi_blockgroup needs population.svi_county, which is missing; load it or filter by state"
                    );
                };
                let mut lookup = format!(
                    "substr(fips, 1, 5) IN (SELECT stcnty FROM {}.{} WHERE contains(lower(county), lower(?))",
                    quote(&svi_schema),
                    quote(&svi_name)
                );
                params.push(county.to_owned());
                if let Some(state) = state {
                    lookup.push_str(" AND upper(st_abbr) = ?");
                    params.push(state.abbr.to_owned());
                }
                lookup.push(')');
                conditions.push(lookup);
            }
        }
    }
    let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let sql = format!("SELECT * FROM {qualified} {filter} ORDER BY {} LIMIT {limit}", quote(table.key()));
    let mut stmt = conn.prepare(&sql).with_context(|| format!("cannot query {schema}.{name}"))?;
    let (columns, out) = objects(stmt.query(params_from_iter(params.iter()))?)?;
    Ok(Some(ReferenceResult { table: format!("{schema}.{name}"), columns, row_count: out.len(), rows: out }))
}

/// The table inventory, keys in wire order.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TableInventory {
    pub reference_tables: Vec<String>,
    pub entity_tables: Vec<String>,
    pub system_tables: Vec<String>,
    pub other_tables: Vec<String>,
    /// Qualified table name → number of rows.
    pub row_counts: serde_json::Map<String, Value>,
    pub total: usize,
}

/// Bookkeeping tables of our layout and of the Python tooling's (cohorts from 1.5,
/// profiles from 1.6, journeys from 1.7).
const SYSTEM_TABLES: [&str; 11] = [
    "scenarios",
    "scenario_entities",
    "scenario_tags",
    "schema_migrations",
    "cohorts",
    "cohort_entities",
    "cohort_tags",
    "profiles",
    "profile_executions",
    "journeys",
    "journey_executions",
];

/// Every table of the database, in every schema, with its row count.
pub fn inventory(conn: &Sql<'_>) -> anyhow::Result<TableInventory> {
    let tables: Vec<(String, String)> = conn
        .prepare(
            "SELECT schema_name, table_name FROM duckdb_tables()
             WHERE database_name = current_database() AND NOT internal AND NOT temporary
             ORDER BY schema_name, table_name",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut inventory = TableInventory {
        reference_tables: Vec::new(),
        entity_tables: Vec::new(),
        system_tables: Vec::new(),
        other_tables: Vec::new(),
        row_counts: Map::new(),
        total: tables.len(),
    };
    let canonical: Vec<&str> = canonical_tables().iter().map(|t| t.name).collect();
    for (schema, name) in tables {
        let (list, label) = match schema.as_str() {
            "population" => (&mut inventory.reference_tables, format!("population.{name}")),
            // NetworkSim's registry (providers and the tables its import adds).
            "network" => (&mut inventory.reference_tables, format!("network.{name}")),
            "main" if name.starts_with("ref_") => (&mut inventory.reference_tables, name.clone()),
            "main" if canonical.contains(&name.as_str()) => (&mut inventory.entity_tables, name.clone()),
            "main" if SYSTEM_TABLES.contains(&name.as_str()) => (&mut inventory.system_tables, name.clone()),
            _ => (&mut inventory.other_tables, format!("{schema}.{name}")),
        };
        let count: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {}.{}", quote(&schema), quote(&name)), [], |r| r.get(0))
            .with_context(|| format!("cannot count rows of {schema}.{name}"))?;
        inventory.row_counts.insert(label.clone(), Value::from(count));
        list.push(label);
    }
    Ok(inventory)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Abbreviations in any case and FIPS codes resolve; others do not.
    #[test]
    fn states_parse() {
        assert_eq!(parse_state("tx"), Some(State { abbr: "TX", fips: "48" }));
        assert_eq!(parse_state("06"), Some(State { abbr: "CA", fips: "06" }));
        assert_eq!(parse_state("pr").map(|s| s.fips), Some("72"));
        assert_eq!(states().count(), 52);
        assert!(parse_state("XX").is_none());
        assert!(parse_state("03").is_none());
    }
}

/// A place a profile names, in the reference data's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Area {
    /// State abbreviations (one or several).
    States(Vec<String>),
    /// A 5-digit county FIPS code.
    County(String),
}

impl Area {
    /// The condition on county rows (their state abbreviation and FIPS columns) and its
    /// parameters.
    fn condition(&self, state_column: &str, fips_column: &str) -> (String, Vec<String>) {
        match self {
            Area::States(states) => {
                let marks = vec!["?"; states.len()].join(", ");
                (format!("upper({state_column}) IN ({marks})"), states.iter().map(|s| s.to_ascii_uppercase()).collect())
            }
            Area::County(fips) => (format!("{fips_column} = ?"), vec![fips.clone()]),
        }
    }
}

/// The shares (0..1) of people under 18 and 65 or over in `area`, from SVI's county rows
/// (`ep_age17`, `ep_age65`, percents weighted by `e_totpop`); `None` without the table or
/// rows (SVI marks a missing value -999).
pub fn svi_age_shares(conn: &Sql<'_>, area: &Area) -> anyhow::Result<Option<(f64, f64)>> {
    let Some((schema, name)) = locate(conn, ReferenceTable::SviCounty)? else { return Ok(None) };
    let (condition, params) = area.condition("st_abbr", "stcnty");
    let sql = format!(
        "SELECT sum(ep_age17 * e_totpop) / sum(e_totpop), sum(ep_age65 * e_totpop) / sum(e_totpop) FROM {}.{} \
         WHERE {condition} AND ep_age17 >= 0 AND ep_age65 >= 0",
        quote(&schema),
        quote(&name)
    );
    let (young, old): (Option<f64>, Option<f64>) =
        conn.query_row(&sql, params_from_iter(params), |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(young.zip(old).map(|(young, old)| (young / 100.0, old / 100.0)))
}

/// PLACES crude prevalences (0..1) of `columns` in `area`: the mean over its county rows;
/// empty without the table, rows or values.
pub fn places_prevalence(conn: &Sql<'_>, area: &Area, columns: &[&str]) -> anyhow::Result<Vec<(String, f64)>> {
    let Some((schema, name)) = locate(conn, ReferenceTable::PlacesCounty)? else { return Ok(Vec::new()) };
    let present: Vec<String> = conn
        .prepare(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ? \
             AND table_name = ?",
        )?
        .query_map([schema.as_str(), name.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    // PLACES files differ in which measures they carry: the ones this table has.
    let wanted: Vec<&str> =
        columns.iter().copied().filter(|c| present.iter().any(|p| p.eq_ignore_ascii_case(c))).collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let (condition, params) = area.condition("stateabbr", "countyfips");
    let select = wanted.iter().map(|c| format!("avg(TRY_CAST({} AS DOUBLE))", quote(c))).collect::<Vec<_>>().join(", ");
    let sql = format!("SELECT {select} FROM {}.{} WHERE {condition}", quote(&schema), quote(&name));
    let values: Vec<Option<f64>> = conn.query_row(&sql, params_from_iter(params), |r| {
        (0..wanted.len()).map(|i| r.get::<_, Option<f64>>(i)).collect()
    })?;
    Ok(wanted.iter().zip(values).filter_map(|(c, v)| v.map(|v| ((*c).to_owned(), v / 100.0))).collect())
}
