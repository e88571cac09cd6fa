//! The synthetic reference data of `spec/schema.md` § reference data: a deterministic
//! generator of the five `population` tables (CDC PLACES county and tract, CDC/ATSDR SVI
//! county and tract, ADI block group) with the real column families, real state
//! abbreviations and FIPS codes, and a FIPS hierarchy that agrees across tables.
//!
//! Everything is computed by DuckDB from `range()` and `hash()`, so the same scale gives
//! the same rows on every run and machine, in about a second at national scale. Values are
//! plausible but **synthetic**: every table carries a `COMMENT` saying so.

use anyhow::Context;

use crate::db::{Db, DbError, ReferenceTable, Sql};
use crate::model::STATE_COUNTIES;

/// How many rows of each table to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// States (from [`STATE_COUNTIES`]) included, by abbreviation; `None` = all 51.
    pub states: Option<&'static [&'static str]>,
    /// Rows of `svi_tract`; every county gets at least one tract.
    pub svi_tracts: u32,
    /// Rows of `places_tract` (a subset of the SVI tracts).
    pub places_tracts: u32,
    /// Rows of `adi_blockgroup`; every tract gets at least one block group.
    pub blockgroups: u32,
    /// Rows of the synthetic provider registry `network.providers`.
    pub providers: u32,
}

impl Scale {
    /// The national row counts of the real datasets: 3,143 / 83,522 / 3,144 / 84,120 /
    /// 242,336 (PLACES leaves out one Alaska county that SVI has); NPPES has about 8.9
    /// million providers.
    pub const NATIONAL: Scale =
        Scale { states: None, svi_tracts: 84_120, places_tracts: 83_522, blockgroups: 242_336, providers: 8_900_000 };

    /// Five small states (22 counties), for fast tests.
    pub const SMALL: Scale = Scale {
        states: Some(&["CT", "DC", "DE", "HI", "RI"]),
        svi_tracts: 240,
        places_tracts: 230,
        blockgroups: 700,
        providers: 20_000,
    };
}

/// County name stems; a county's name is a stem, prefixed for states with many counties.
#[rustfmt::skip]
const COUNTY_STEMS: [&str; 64] = [
    "Washington", "Jefferson", "Franklin", "Jackson", "Lincoln", "Madison", "Clay", "Montgomery", "Marion",
    "Monroe", "Union", "Warren", "Wayne", "Greene", "Harris", "Grant", "Hamilton", "Adams",
    "Carroll", "Clark", "Douglas", "Lake", "Lee", "Marshall", "Polk", "Scott", "Shelby",
    "Morgan", "Johnson", "Benton", "Calhoun", "Crawford", "Fayette", "Henry", "Lawrence", "Logan",
    "Perry", "Pike", "Putnam", "Randolph", "Boone", "Brown", "Butler", "Cass", "Cedar",
    "Clinton", "Cumberland", "Dallas", "Decatur", "Floyd", "Fulton", "Hancock", "Howard", "Knox",
    "Lewis", "Mercer", "Mitchell", "Orange", "Richland", "Sullivan", "Taylor", "Travis", "Webster",
    "Wilson",
];
const COUNTY_PREFIXES: [&str; 5] = ["", "North ", "South ", "East ", "West "];

/// PLACES measures: name, typical prevalence (%), spread.
#[rustfmt::skip]
const MEASURES: &[(&str, f64, f64)] = &[
    ("arthritis", 25.0, 8.0), ("bphigh", 32.0, 8.0), ("cancer", 7.0, 2.0), ("casthma", 10.0, 2.0),
    ("chd", 6.0, 2.0), ("copd", 7.0, 3.0), ("depression", 20.0, 5.0), ("diabetes", 11.0, 4.0),
    ("highchol", 31.0, 5.0), ("kidney", 3.0, 1.0), ("obesity", 33.0, 7.0), ("stroke", 3.5, 1.2),
    ("access2", 12.0, 7.0), ("checkup", 76.0, 5.0), ("csmoking", 15.0, 6.0), ("lpa", 25.0, 8.0),
    ("sleep", 35.0, 5.0), ("disability", 29.0, 8.0), ("mhlth", 16.0, 4.0), ("phlth", 12.0, 4.0),
];

/// SVI variables: name, theme (1-4), share of the denominator at the least and at the most
/// deprived end, denominator (`pop` or `hh`).
#[rustfmt::skip]
const SVI_VARIABLES: &[(&str, u8, f64, f64, &str)] = &[
    ("pov150", 1, 0.08, 0.45, "pop"), ("unemp", 1, 0.02, 0.12, "pop"), ("hburd", 1, 0.15, 0.45, "hh"),
    ("nohsdp", 1, 0.03, 0.30, "pop"), ("uninsur", 1, 0.03, 0.22, "pop"), ("age65", 2, 0.10, 0.24, "pop"),
    ("age17", 2, 0.18, 0.28, "pop"), ("disabl", 2, 0.08, 0.20, "pop"), ("sngpnt", 2, 0.03, 0.12, "hh"),
    ("limeng", 2, 0.00, 0.12, "pop"), ("minrty", 3, 0.08, 0.85, "pop"), ("munit", 4, 0.01, 0.30, "hu"),
    ("mobile", 4, 0.00, 0.15, "hu"), ("crowd", 4, 0.01, 0.08, "hh"), ("noveh", 4, 0.02, 0.15, "hh"),
    ("groupq", 4, 0.00, 0.06, "pop"),
];

/// A number in [0, 1) derived from `key` (a SQL expression) and a salt.
fn unit(key: &str, salt: &str) -> String {
    format!("((hash({key} || '{salt}') % 1000003) / 1000003.0)")
}

/// Creates schema `population` and the five tables (replacing any synthetic ones).
/// Returns the row count of each table in the order of the spec.
pub fn generate(conn: &Sql<'_>, scale: Scale) -> anyhow::Result<Vec<(String, i64)>> {
    conn.execute_batch(&script(scale)).context("cannot generate the synthetic reference data")?;
    counts(conn)
}

/// Row count of each reference table, in the order of the spec.
pub fn counts(conn: &Sql<'_>) -> anyhow::Result<Vec<(String, i64)>> {
    let mut counts = Vec::new();
    for table in ReferenceTable::ALL.map(ReferenceTable::name) {
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM population.{table}"), [], |r| r.get(0))?;
        counts.push((format!("population.{table}"), n));
    }
    Ok(counts)
}

/// Creates the synthetic reference tables of schema `population` at `scale` in `db`, in
/// one write, unless they are all there already (see [`ensure`]). Returns the row count of
/// each table and whether it was generated now.
pub async fn ensure_reference_data(db: &Db, scale: Scale) -> Result<(Vec<(String, i64)>, bool), DbError> {
    db.write_tables("demo", move |sql| ensure(sql, scale)).await
}

/// Generates the tables at `scale` unless all five are there already; never replaces a
/// table it did not generate (real CDC/ATSDR data has no "SYNTHETIC" comment). Returns
/// the row counts and whether they were generated now.
fn ensure(conn: &Sql<'_>, scale: Scale) -> anyhow::Result<(Vec<(String, i64)>, bool)> {
    let names = ReferenceTable::ALL.map(|t| format!("'{}'", t.name())).join(", ");
    let present: Vec<(String, Option<String>)> = conn
        .prepare(&format!(
            "SELECT table_name, comment FROM duckdb_tables()
             WHERE database_name = current_database() AND schema_name = 'population' AND table_name IN ({names})"
        ))?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if present.len() == ReferenceTable::ALL.len() {
        return Ok((counts(conn)?, false));
    }
    let real: Vec<&str> = present
        .iter()
        .filter(|(_, comment)| !comment.as_deref().is_some_and(|c| c.contains("SYNTHETIC")))
        .map(|(name, _)| name.as_str())
        .collect();
    if !real.is_empty() {
        anyhow::bail!(
            "population.{} holds reference data this server did not generate, and other reference tables are missing; \
             load the missing tables with the tooling that loaded it, or use another --db for the demo",
            real.join(", population.")
        );
    }
    Ok((generate(conn, scale)?, true))
}

/// The whole generator as one SQL script.
pub fn script(scale: Scale) -> String {
    let states: Vec<&(&str, &str, &str, u32)> =
        STATE_COUNTIES.iter().filter(|(abbr, ..)| scale.states.is_none_or(|wanted| wanted.contains(abbr))).collect();
    let counties: u32 = states.iter().map(|s| s.3).sum();
    // At national scale PLACES leaves out Alaska's last county.
    let places_omits_one = scale.states.is_none();
    let state_rows = states
        .iter()
        .map(|(abbr, fips, name, n)| format!("('{abbr}', '{fips}', '{}', '{name}', {n})", name.to_uppercase()))
        .collect::<Vec<_>>()
        .join(", ");
    let stems = COUNTY_STEMS.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
    let prefixes = COUNTY_PREFIXES.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
    let extra_tracts = scale.svi_tracts - counties;
    let extra_groups = scale.blockgroups - scale.svi_tracts;
    let mut sql = format!(
        "
CREATE SCHEMA IF NOT EXISTS population;
DROP TABLE IF EXISTS population.places_county;
DROP TABLE IF EXISTS population.places_tract;
DROP TABLE IF EXISTS population.svi_county;
DROP TABLE IF EXISTS population.svi_tract;
DROP TABLE IF EXISTS population.adi_blockgroup;

CREATE TEMP TABLE hs_states (st_abbr VARCHAR, st VARCHAR, state VARCHAR, statedesc VARCHAR, counties INTEGER);
INSERT INTO hs_states VALUES {state_rows};

-- Counties: odd 3-digit codes as in real FIPS, names unique within the state.
CREATE TEMP TABLE hs_counties AS
SELECT s.st_abbr, s.st, s.state, s.statedesc, s.st || lpad((2 * k + 1)::VARCHAR, 3, '0') AS stcnty,
       [{prefixes}][1 + k // 64] || [{stems}][1 + (k * 7 + s.st::INTEGER) % 64] || ' County' AS county,
       k = s.counties - 1 AND s.st_abbr = 'AK' AND {places_omits_one} AS places_omitted,
       exp(5 * {w}) AS weight
FROM hs_states s, range(s.counties) r(k);

-- Tracts: one per county, the rest spread by county weight (heavy-tailed, like population).
CREATE TEMP TABLE hs_county_cum AS
SELECT *, sum(weight) OVER (ORDER BY stcnty) - weight AS cum_start, sum(weight) OVER () AS total
FROM hs_counties;
CREATE TEMP TABLE hs_tract_slots AS
SELECT stcnty FROM hs_counties
UNION ALL
SELECT c.stcnty FROM (SELECT (j + 0.5) / {extra_tracts} AS x FROM range({extra_tracts}) r(j)) t
ASOF JOIN (SELECT stcnty, cum_start / total AS start FROM hs_county_cum) c ON t.x >= c.start;
CREATE TEMP TABLE hs_tracts AS
SELECT c.st_abbr, c.st, c.state, c.statedesc, c.stcnty, c.county, c.places_omitted,
       c.stcnty || lpad((100 * row_number() OVER (PARTITION BY c.stcnty ORDER BY 1))::VARCHAR, 6, '0') AS fips
FROM hs_tract_slots t JOIN hs_counties c USING (stcnty);
ALTER TABLE hs_tracts ADD COLUMN d DOUBLE;
ALTER TABLE hs_tracts ADD COLUMN pop INTEGER;
UPDATE hs_tracts SET d = 0.75 * {d_tract} + 0.25 * {d_county}, pop = (1200 + 6800 * {p_tract})::INTEGER;
",
        w = unit("st || lpad(k::VARCHAR, 3, '0')", "w"),
        d_tract = unit("fips", "d"),
        d_county = unit("stcnty", "d"),
        p_tract = unit("fips", "p"),
    );

    // SVI tract: estimates (e_), margins (m_), percentages (ep_, mp_), national
    // percentile ranks (epl_), theme sums (spl_), theme ranks (rpl_), flags (f_).
    let mut est = vec![
        "t.st".to_owned(),
        "t.state".to_owned(),
        "t.st_abbr".to_owned(),
        "t.stcnty".to_owned(),
        "t.county".to_owned(),
        "t.fips".to_owned(),
        format!("round(0.4 + 40 * {}, 2) AS area_sqmi", unit("t.fips", "a")),
        "t.pop AS e_totpop".to_owned(),
        "round(t.pop * 0.42)::INTEGER AS e_hu".to_owned(),
        "round(t.pop * 0.38)::INTEGER AS e_hh".to_owned(),
    ];
    for (name, _, low, high, denominator) in SVI_VARIABLES {
        let base = match *denominator {
            "hh" => "t.pop * 0.38",
            "hu" => "t.pop * 0.42",
            _ => "t.pop",
        };
        let share = format!("({low} + ({high} - {low}) * (0.8 * t.d + 0.2 * {}))", unit("t.fips", name));
        est.push(format!("round({base} * {share})::INTEGER AS e_{name}"));
        est.push(format!("round(12 + {base} * {share} * 0.18)::INTEGER AS m_{name}"));
        est.push(format!("round(100 * {share}, 1) AS ep_{name}"));
        est.push(format!("round(1 + 100 * {share} * 0.2, 1) AS mp_{name}"));
    }
    est.push("t.d".to_owned());
    sql.push_str(&format!("CREATE TEMP TABLE hs_svi_est AS SELECT {} FROM hs_tracts t;\n", est.join(",\n    ")));
    let mut ranked = vec!["*".to_owned()];
    for (name, ..) in SVI_VARIABLES {
        ranked.push(format!("round(percent_rank() OVER (ORDER BY ep_{name}), 4) AS epl_{name}"));
    }
    sql.push_str(&format!("CREATE TEMP TABLE hs_svi_epl AS SELECT {} FROM hs_svi_est;\n", ranked.join(",\n    ")));
    let theme_sum = |theme: u8| {
        SVI_VARIABLES.iter().filter(|v| v.1 == theme).map(|v| format!("epl_{}", v.0)).collect::<Vec<_>>().join(" + ")
    };
    let mut spl = vec!["*".to_owned()];
    for theme in 1..=4u8 {
        spl.push(format!("round({}, 4) AS spl_theme{theme}", theme_sum(theme)));
    }
    spl.push(format!("round({}, 4) AS spl_themes", (1..=4u8).map(theme_sum).collect::<Vec<_>>().join(" + ")));
    sql.push_str(&format!("CREATE TEMP TABLE hs_svi_spl AS SELECT {} FROM hs_svi_epl;\n", spl.join(",\n    ")));
    let mut rpl = vec!["*".to_owned()];
    for theme in 1..=4u8 {
        rpl.push(format!("round(percent_rank() OVER (ORDER BY spl_theme{theme}), 4) AS rpl_theme{theme}"));
    }
    rpl.push("round(percent_rank() OVER (ORDER BY spl_themes), 4) AS rpl_themes".to_owned());
    for (name, ..) in SVI_VARIABLES {
        rpl.push(format!("(epl_{name} >= 0.9)::INTEGER AS f_{name}"));
    }
    sql.push_str(&format!("CREATE TEMP TABLE hs_svi_rpl AS SELECT {} FROM hs_svi_spl;\n", rpl.join(",\n    ")));
    let mut flags = vec!["* EXCLUDE (d)".to_owned()];
    for theme in 1..=4u8 {
        let sum =
            SVI_VARIABLES.iter().filter(|v| v.1 == theme).map(|v| format!("f_{}", v.0)).collect::<Vec<_>>().join(" + ");
        flags.push(format!("{sum} AS f_theme{theme}"));
    }
    flags.push(format!(
        "{} AS f_total",
        SVI_VARIABLES.iter().map(|v| format!("f_{}", v.0)).collect::<Vec<_>>().join(" + ")
    ));
    sql.push_str(&format!(
        "CREATE TABLE population.svi_tract AS SELECT {} FROM hs_svi_rpl ORDER BY fips;\n",
        flags.join(",\n    ")
    ));

    // SVI county: tract estimates summed, percentages recomputed, ranks across counties.
    let mut county = vec![
        "st".to_owned(),
        "state".to_owned(),
        "st_abbr".to_owned(),
        "stcnty".to_owned(),
        "county".to_owned(),
        "round(sum(area_sqmi), 2) AS area_sqmi".to_owned(),
        "sum(e_totpop)::INTEGER AS e_totpop".to_owned(),
        "sum(e_hu)::INTEGER AS e_hu".to_owned(),
        "sum(e_hh)::INTEGER AS e_hh".to_owned(),
    ];
    for (name, _, _, _, denominator) in SVI_VARIABLES {
        county.push(format!("sum(e_{name})::INTEGER AS e_{name}"));
        county.push(format!(
            "round(100.0 * sum(e_{name}) / greatest(sum(e_{denominator}), 1), 1) AS ep_{name}",
            denominator = match *denominator {
                "hh" => "hh",
                "hu" => "hu",
                _ => "totpop",
            }
        ));
    }
    sql.push_str(&format!(
        "CREATE TEMP TABLE hs_svi_county AS SELECT {} FROM population.svi_tract GROUP BY ALL;\n",
        county.join(",\n    ")
    ));
    let county_rank = |theme: Option<u8>| {
        let vars: Vec<String> = SVI_VARIABLES
            .iter()
            .filter(|v| theme.is_none_or(|t| v.1 == t))
            .map(|v| format!("percent_rank() OVER (ORDER BY ep_{})", v.0))
            .collect();
        vars.join(" + ")
    };
    let mut county_ranks = vec!["*".to_owned()];
    for theme in 1..=4u8 {
        county_ranks.push(format!("{} AS s{theme}", county_rank(Some(theme))));
    }
    county_ranks.push(format!("{} AS s0", county_rank(None)));
    sql.push_str(&format!(
        "CREATE TEMP TABLE hs_svi_county_s AS SELECT {} FROM hs_svi_county;
CREATE TABLE population.svi_county AS
SELECT * EXCLUDE (s0, s1, s2, s3, s4),
       round(percent_rank() OVER (ORDER BY s1), 4) AS rpl_theme1,
       round(percent_rank() OVER (ORDER BY s2), 4) AS rpl_theme2,
       round(percent_rank() OVER (ORDER BY s3), 4) AS rpl_theme3,
       round(percent_rank() OVER (ORDER BY s4), 4) AS rpl_theme4,
       round(percent_rank() OVER (ORDER BY s0), 4) AS rpl_themes
FROM hs_svi_county_s ORDER BY stcnty;\n",
        county_ranks.join(",\n    ")
    ));

    // PLACES: prevalences rise with deprivation (checkup is independent of it).
    let measure_columns = |key: &str, d: &str| {
        let mut columns = Vec::new();
        for (name, typical, spread) in MEASURES {
            let tilt = if *name == "checkup" { "0".to_owned() } else { format!("({d} - 0.5) * 1.4") };
            let crude =
                format!("round(greatest(0.3, {typical} + {spread} * ({tilt} + 0.6 * ({} - 0.5))), 1)", unit(key, name));
            let adjusted =
                format!("round(greatest(0.3, {crude} + 1.2 * ({} - 0.5)), 1)", unit(key, &format!("{name}a")));
            let ci = |value: &str, salt: &str| {
                let half = format!("(0.2 + 0.02 * {value} * (0.5 + {}))", unit(key, salt));
                format!("'(' || round(greatest(0.1, {value} - {half}), 1) || ', ' || round({value} + {half}, 1) || ')'")
            };
            columns.push(format!("{crude} AS {name}_crudeprev"));
            columns.push(format!("{} AS {name}_crude95ci", ci(&crude, &format!("{name}c"))));
            columns.push(format!("{adjusted} AS {name}_adjprev"));
            columns.push(format!("{} AS {name}_adj95ci", ci(&adjusted, &format!("{name}j"))));
        }
        columns.join(",\n    ")
    };
    let places_excluded = scale.svi_tracts - scale.places_tracts;
    sql.push_str(&format!(
        "
CREATE TEMP TABLE hs_places_tracts AS
SELECT * FROM (
    SELECT t.*, row_number() OVER (ORDER BY t.places_omitted DESC, hash(t.fips || 'x')) AS pick FROM hs_tracts t)
WHERE pick > {places_excluded};
CREATE TABLE population.places_tract AS
SELECT st_abbr AS stateabbr, statedesc, county AS countyname, stcnty AS countyfips,
       fips AS tractfips, pop AS totalpopulation, round(pop * (0.74 + 0.1 * {adult}))::INTEGER AS totalpop18plus,
    {tract_measures}
FROM hs_places_tracts ORDER BY tractfips;
CREATE TABLE population.places_county AS
SELECT c.st_abbr AS stateabbr, c.statedesc, c.county AS countyname, c.stcnty AS countyfips,
       s.e_totpop AS totalpopulation, round(s.e_totpop * (0.74 + 0.1 * {county_adult}))::INTEGER AS totalpop18plus,
    {county_measures}
FROM hs_counties c JOIN population.svi_county s USING (stcnty)
JOIN (SELECT stcnty, avg(d) AS d FROM hs_tracts GROUP BY stcnty) dd USING (stcnty)
WHERE NOT c.places_omitted ORDER BY countyfips;
",
        adult = unit("fips", "adult"),
        county_adult = unit("c.stcnty", "adult"),
        tract_measures = measure_columns("fips", "d"),
        county_measures = measure_columns("c.stcnty", "dd.d"),
    ));

    // ADI block groups: national percentile (1-100) and state decile (1-10) of a
    // deprivation score tied to the tract's, about 2% suppressed with the real codes.
    sql.push_str(&format!(
        "
CREATE TEMP TABLE hs_group_slots AS
SELECT fips FROM hs_tracts
UNION ALL
SELECT t.fips FROM (SELECT (j + 0.5) / {extra_groups} AS x FROM range({extra_groups}) r(j)) g
ASOF JOIN (SELECT fips, (row_number() OVER (ORDER BY fips) - 1) / count(*) OVER () AS start FROM hs_tracts) t
ON g.x >= t.start;
CREATE TEMP TABLE hs_groups AS
SELECT t.st, t.st_abbr, t.fips || (row_number() OVER (PARTITION BY t.fips ORDER BY 1))::VARCHAR AS fips,
       0.7 * t.d + 0.3 * {noise} AS score
FROM hs_group_slots g JOIN hs_tracts t USING (fips);
CREATE TABLE population.adi_blockgroup AS
SELECT 'G' || substr(fips, 1, 2) || '0' || substr(fips, 3, 3) || '0' || substr(fips, 6, 7) AS gisjoin,
       fips,
       CASE WHEN {suppressed} < 0.012 THEN 'GQ' WHEN {suppressed} < 0.016 THEN 'PH'
            WHEN {suppressed} < 0.018 THEN 'GQ-PH' WHEN {suppressed} < 0.02 THEN 'QDI'
            ELSE least(100, 1 + floor(100 * percent_rank() OVER (ORDER BY score)))::INTEGER::VARCHAR END AS adi_natrank,
       CASE WHEN {suppressed} < 0.012 THEN 'GQ' WHEN {suppressed} < 0.016 THEN 'PH'
            WHEN {suppressed} < 0.018 THEN 'GQ-PH' WHEN {suppressed} < 0.02 THEN 'QDI'
            ELSE least(10, 1 + floor(10 * percent_rank() OVER (PARTITION BY st ORDER BY score)))::INTEGER::VARCHAR END AS adi_staternk
FROM hs_groups ORDER BY fips;
",
        noise = unit("t.fips || row_number() OVER (PARTITION BY t.fips ORDER BY 1)::VARCHAR", "n"),
        suppressed = unit("fips", "s"),
    ));
    for table in ReferenceTable::ALL.map(ReferenceTable::name) {
        sql.push_str(&format!(
            "COMMENT ON TABLE population.{table} IS 'SYNTHETIC data generated by healthsim-mcp (deterministic; not real CDC/ATSDR/ADI values)';\n"
        ));
    }
    sql.push_str(
        "DROP TABLE hs_states; DROP TABLE hs_counties; DROP TABLE hs_county_cum; DROP TABLE hs_tract_slots;
DROP TABLE hs_tracts; DROP TABLE hs_svi_est; DROP TABLE hs_svi_epl; DROP TABLE hs_svi_spl; DROP TABLE hs_svi_rpl;
DROP TABLE hs_svi_county; DROP TABLE hs_svi_county_s; DROP TABLE hs_places_tracts; DROP TABLE hs_group_slots;
DROP TABLE hs_groups;\n",
    );
    sql
}

#[cfg(test)]
mod tests {
    use duckdb::Connection;

    use super::*;

    fn generated(scale: Scale) -> (Connection, Vec<(String, i64)>) {
        let conn = Connection::open_in_memory().unwrap();
        let counts = generate(&Sql::local(&conn), scale).unwrap();
        (conn, counts)
    }

    fn one<T: duckdb::types::FromSql>(conn: &Connection, sql: &str) -> T {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// National scale has exactly the real datasets' row counts.
    #[test]
    fn national_row_counts() {
        assert_eq!(STATE_COUNTIES.iter().map(|s| s.3).sum::<u32>(), 3_144);
        let (_, counts) = generated(Scale::NATIONAL);
        let counts: Vec<i64> = counts.into_iter().map(|(_, n)| n).collect();
        assert_eq!(counts, vec![3_143, 83_522, 3_144, 84_120, 242_336]);
    }

    /// FIPS codes nest (block group → tract → county → state) and agree across tables;
    /// values are in plausible ranges; ADI uses only ranks or suppression codes.
    #[test]
    fn hierarchy_and_ranges() {
        let (conn, counts) = generated(Scale::SMALL);
        assert_eq!(counts.iter().map(|c| c.1).collect::<Vec<_>>(), vec![22, 230, 22, 240, 700]);
        let checks: &[(&str, i64)] = &[
            ("SELECT count(*) FROM population.svi_tract WHERE length(fips) <> 11 OR fips[1:5] <> stcnty OR stcnty[1:2] <> st", 0),
            ("SELECT count(*) FROM population.adi_blockgroup WHERE length(fips) <> 12 OR length(gisjoin) <> 15", 0),
            ("SELECT count(*) FROM population.adi_blockgroup a ANTI JOIN population.svi_tract t ON a.fips[1:11] = t.fips", 0),
            ("SELECT count(*) FROM population.places_tract p ANTI JOIN population.svi_tract t ON p.tractfips = t.fips", 0),
            ("SELECT count(*) FROM population.places_county p ANTI JOIN population.svi_county s
              ON p.countyfips = s.stcnty AND p.countyname = s.county AND p.stateabbr = s.st_abbr", 0),
            ("SELECT count(DISTINCT (st, county)) - count(*) FROM population.svi_county", 0),
            ("SELECT count(*) FROM population.svi_tract WHERE rpl_themes NOT BETWEEN 0 AND 1 OR ep_pov150 NOT BETWEEN 0 AND 100", 0),
            ("SELECT count(*) FROM population.places_county WHERE diabetes_crudeprev NOT BETWEEN 0.3 AND 40
              OR checkup_crudeprev NOT BETWEEN 50 AND 95 OR NOT regexp_matches(diabetes_crude95ci, '^\\(\\d+\\.?\\d*, \\d+\\.?\\d*\\)$')", 0),
            ("SELECT count(*) FROM population.adi_blockgroup WHERE adi_natrank NOT IN ('GQ', 'PH', 'GQ-PH', 'QDI')
              AND TRY_CAST(adi_natrank AS INTEGER) NOT BETWEEN 1 AND 100", 0),
            ("SELECT count(*) FROM population.adi_blockgroup WHERE adi_staternk NOT IN ('GQ', 'PH', 'GQ-PH', 'QDI')
              AND TRY_CAST(adi_staternk AS INTEGER) NOT BETWEEN 1 AND 10", 0),
            ("SELECT count(*) FROM population.svi_county c WHERE e_totpop <>
              (SELECT sum(e_totpop) FROM population.svi_tract t WHERE t.stcnty = c.stcnty)", 0),
        ];
        for (sql, expected) in checks {
            assert_eq!(one::<i64>(&conn, sql), *expected, "{sql}");
        }
        // Deprivation shows: the most vulnerable tracts have more poverty on average.
        let gap: f64 = one(
            &conn,
            "SELECT avg(ep_pov150) FILTER (rpl_themes > 0.75) - avg(ep_pov150) FILTER (rpl_themes < 0.25) FROM population.svi_tract",
        );
        assert!(gap > 5.0, "poverty gap {gap}");
        let states: Vec<String> = conn
            .prepare("SELECT DISTINCT stateabbr FROM population.places_county ORDER BY 1")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(states, ["CT", "DC", "DE", "HI", "RI"]);
        let comment: String = one(&conn, "SELECT comment FROM duckdb_tables() WHERE table_name = 'svi_tract'");
        assert!(comment.contains("SYNTHETIC"));
    }

    /// The same scale gives the same rows every time.
    #[test]
    fn deterministic() {
        let digest = |conn: &Connection| -> (i64, String) {
            (
                one(conn, "SELECT sum(hash(fips || adi_natrank) % 1000)::BIGINT FROM population.adi_blockgroup"),
                one(conn, "SELECT string_agg(countyname, ',' ORDER BY countyfips) FROM population.places_county"),
            )
        };
        let (a, _) = generated(Scale::SMALL);
        let (b, _) = generated(Scale::SMALL);
        assert_eq!(digest(&a), digest(&b));
    }
}
