//! The synthetic provider registry `network.providers`: NPPES-shaped rows (the column set of
//! HealthSim NetworkSim's import, with its `county_fips` enrichment), deterministic, placed
//! in the counties of `population.svi_county` in proportion to their population, so joins
//! on county FIPS with the reference data work. Every NPI passes the NPPES check digit and
//! is fictional; the table's `COMMENT` says it is synthetic.

use anyhow::Context;

use super::Scale;
use crate::db::{Db, DbError, Sql, TAXONOMIES, Taxonomy};

/// Share of organizations (NPI type 2) among NPPES records, about 23%, in per mille.
const ORGANIZATION_PER_MILLE: u32 = 230;

/// First three ZIP digits each state's ZIP codes start with (lowest, highest).
#[rustfmt::skip]
pub(super) const ZIP3: &[(&str, u16, u16)] = &[
    ("AL", 350, 369), ("AK", 995, 999), ("AZ", 850, 865), ("AR", 716, 729), ("CA", 900, 961),
    ("CO", 800, 816), ("CT", 60, 69), ("DE", 197, 199), ("DC", 200, 205), ("FL", 320, 349),
    ("GA", 300, 319), ("HI", 967, 968), ("ID", 832, 838), ("IL", 600, 629), ("IN", 460, 479),
    ("IA", 500, 528), ("KS", 660, 679), ("KY", 400, 427), ("LA", 700, 714), ("ME", 39, 49),
    ("MD", 206, 219), ("MA", 10, 27), ("MI", 480, 499), ("MN", 550, 567), ("MS", 386, 397),
    ("MO", 630, 658), ("MT", 590, 599), ("NE", 680, 693), ("NV", 889, 898), ("NH", 30, 38),
    ("NJ", 70, 89), ("NM", 870, 884), ("NY", 100, 149), ("NC", 270, 289), ("ND", 580, 588),
    ("OH", 430, 458), ("OK", 730, 749), ("OR", 970, 979), ("PA", 150, 196), ("RI", 28, 29),
    ("SC", 290, 299), ("SD", 570, 577), ("TN", 370, 385), ("TX", 750, 799), ("UT", 840, 847),
    ("VT", 50, 59), ("VA", 220, 246), ("WA", 980, 994), ("WV", 247, 268), ("WI", 530, 549),
    ("WY", 820, 831),
];

#[rustfmt::skip]
pub(super) const FEMALE_NAMES: &[&str] = &[
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
    "Lisa", "Nancy", "Betty", "Sandra", "Margaret", "Ashley", "Kimberly", "Emily", "Donna", "Michelle",
    "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca", "Laura", "Sharon", "Cynthia", "Kathleen",
    "Amy", "Angela", "Anna", "Brenda", "Pamela", "Nicole", "Emma", "Samantha", "Katherine", "Christine",
    "Rachel", "Catherine", "Maria", "Heather", "Diane", "Julie", "Olivia", "Priya", "Mei", "Fatima",
    "Aisha", "Sofia", "Ana", "Lucia", "Grace", "Hannah", "Megan", "Lauren", "Rosa", "Yuki",
];
#[rustfmt::skip]
pub(super) const MALE_NAMES: &[&str] = &[
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Charles",
    "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew", "Joshua",
    "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward", "Jason", "Jeffrey", "Ryan",
    "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon",
    "Benjamin", "Samuel", "Gregory", "Alexander", "Patrick", "Raj", "Wei", "Ahmed", "Carlos", "Jose",
    "Luis", "Hiroshi", "Omar", "Arjun", "Samir", "Nathan", "Aaron", "Adam", "Peter", "Victor",
];
#[rustfmt::skip]
pub(super) const LAST_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Patel", "Shah", "Kim", "Chen", "Wang", "Singh", "Kumar", "Cohen", "Murphy", "Sullivan",
    "Okafor", "Nakamura", "Ali", "Khan", "Reyes", "Cruz", "Morales", "Ortiz", "Gutierrez", "Chavez",
    "Ward", "Cooper", "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Cox", "Richardson", "Wood",
];
#[rustfmt::skip]
pub(super) const STREETS: &[&str] = &[
    "Main", "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park", "Medical Center",
    "Church", "Market", "Spring", "River", "Highland", "Madison", "Jefferson", "College", "Hospital", "Center",
    "Sunset", "Franklin", "Lincoln", "Walnut", "Chestnut", "Broad", "Mill", "Union", "Meadow",
];
pub(super) const STREET_KINDS: &[&str] = &["St", "Ave", "Rd", "Blvd", "Dr", "Pkwy", "Ln", "Way"];
pub(super) const CITY_SUFFIXES: &[&str] = &["", "ville", " City", " Springs", "ton", " Heights", "burg", " Falls"];
const ORGANIZATION_SUFFIXES: &[&str] = &["LLC", "Inc", "PC", "PLLC", "PA", "LLP"];

/// Quoted SQL list of `items`.
fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{}'", s.replace('\'', "''"))).collect();
    format!("[{}]", quoted.join(", "))
}

/// `items[1 + hash(key, salt) % len]` in SQL.
fn pick(items: &[&str], key: &str, salt: &str) -> String {
    format!("{}[(1 + hash({key}, '{salt}') % {})::BIGINT]", list(items), items.len())
}

/// Providers generated per statement: the placement of one chunk is sorted by state and
/// county before the wide rows are made, so memory stays bounded by the chunk (the whole
/// national registry at once peaked at 4.7 GB).
const CHUNK: u32 = 1_000_000;

/// The generator as one SQL script: `rows` providers across the counties of
/// `population.svi_county` (which must exist), made `CHUNK` at a time (each chunk sorted by
/// state and county, so a state's rows stay together in the file).
pub fn script(rows: u32) -> String {
    chunked(rows, CHUNK)
}

fn chunked(rows: u32, chunk_rows: u32) -> String {
    let template = template();
    let (head, rest) = template.split_once("-- chunk\n").expect("chunk marker");
    let (chunk, tail) = rest.split_once("-- end chunk\n").expect("end marker");
    let mut sql = head.to_owned();
    for start in (0..rows.max(1)).step_by(chunk_rows as usize) {
        let target = if start == 0 { "CREATE TABLE network.providers AS" } else { "INSERT INTO network.providers" };
        let end = (start + chunk_rows).min(rows);
        sql.push_str(&chunk.replace("@RANGE@", &format!("{start}, {end}")).replace("@TARGET@", target));
    }
    sql.push_str(tail);
    sql
}

/// The script with one chunk between `-- chunk` and `-- end chunk` markers, its range
/// `@RANGE@` and its statement `@TARGET@` left open.
fn template() -> String {
    let zip_rows: Vec<String> = ZIP3.iter().map(|(st, low, high)| format!("('{st}', {low}, {high})")).collect();
    let taxonomy_rows: Vec<String> = TAXONOMIES
        .iter()
        .map(|Taxonomy { code, label, organization, credential, weight }| {
            format!("('{code}', '{label}', {organization}, '{credential}', {weight})")
        })
        .collect();
    let individual_codes: Vec<&str> = TAXONOMIES.iter().filter(|t| !t.organization).map(|t| t.code).collect();
    let digit = |p: u32| format!("((b // {}) % 10)", 10u64.pow(9 - p));
    // The NPPES check digit: Luhn over "80840" + the nine digits (the prefix adds 24).
    let luhn = (1..=9)
        .map(|p| if p % 2 == 1 { format!("((2 * {d}) // 10 + (2 * {d}) % 10)", d = digit(p)) } else { digit(p) })
        .collect::<Vec<_>>()
        .join(" + ");
    let city = format!(
        "CASE WHEN city_k = 0 THEN stem ELSE {} || {} END",
        pick(&STREETS[..20], "stcnty || city_k::VARCHAR", "cs"),
        pick(CITY_SUFFIXES, "stcnty || city_k::VARCHAR", "cx")
    );
    format!(
        "
CREATE SCHEMA IF NOT EXISTS network;
DROP TABLE IF EXISTS network.providers;
CREATE TEMP TABLE hs_zip3 (st_abbr VARCHAR, low INTEGER, high INTEGER);
INSERT INTO hs_zip3 VALUES {zip_rows};
CREATE TEMP TABLE hs_taxonomy (code VARCHAR, label VARCHAR, org BOOLEAN, credential VARCHAR, weight DOUBLE);
INSERT INTO hs_taxonomy VALUES {taxonomy_rows};
CREATE TEMP TABLE hs_tax_cum AS
SELECT *, (sum(weight) OVER (PARTITION BY org ORDER BY code) - weight) / sum(weight) OVER (PARTITION BY org) AS start
FROM hs_taxonomy;
-- Counties by population: a county's providers share its ZIP3, area code and city names.
CREATE TEMP TABLE hs_pcounties AS
SELECT c.st_abbr, c.stcnty, regexp_replace(c.county, ' (County|Parish|Borough|Census Area|Municipality)$', '') AS stem,
       lpad((z.low + hash(c.stcnty, 'z') % (z.high - z.low + 1))::VARCHAR, 3, '0') AS zip3,
       (201 + hash(c.stcnty, 'area') % 780)::VARCHAR AS area,
       (sum(c.e_totpop) OVER (ORDER BY c.stcnty) - c.e_totpop) / sum(c.e_totpop) OVER () AS start
FROM population.svi_county c JOIN hs_zip3 z USING (st_abbr)
WHERE c.e_totpop > 0;
-- chunk
CREATE TEMP TABLE hs_placed AS
SELECT s.i, s.org, s.b, c.st_abbr, c.stcnty, c.stem, c.zip3, c.area, t.code, t.label, t.credential,
       hash(s.i, 'k') % 5 AS city_k, hash(s.i, 'g') % 100 < 56 AS female
FROM (
    SELECT i, (hash(i, 'c') % 1000003) / 1000003.0 AS x, hash(i, 'o') % 1000 < {ORGANIZATION_PER_MILLE} AS org,
           (hash(i, 't') % 1000003) / 1000003.0 AS tx,
           (i * 7919 + 104729) % 900000000 + 100000000 AS b
    FROM range(@RANGE@) r(i)) s
ASOF JOIN hs_pcounties c ON s.x >= c.start
ASOF JOIN hs_tax_cum t ON s.org = t.org AND s.tx >= t.start
ORDER BY c.st_abbr, c.stcnty, s.b;
@TARGET@
SELECT
    b::VARCHAR || ((10 - (24 + {luhn}) % 10) % 10)::VARCHAR AS npi,
    CASE WHEN org THEN '2' ELSE '1' END AS entity_type_code,
    CASE WHEN NOT org THEN {last} END AS last_name,
    CASE WHEN NOT org THEN CASE WHEN female THEN {female} ELSE {male} END END AS first_name,
    CASE WHEN NOT org AND hash(i, 'm') % 3 = 0 THEN chr((65 + hash(i, 'mi') % 26)::INTEGER) END AS middle_name,
    CASE WHEN NOT org AND credential IN ('MD', 'DO') AND hash(i, 'dr') % 4 = 0 THEN 'Dr.' END AS name_prefix,
    CASE WHEN NOT org AND NOT female AND hash(i, 'sx') % 40 = 0 THEN 'Jr.' END AS name_suffix,
    CASE WHEN org THEN NULL WHEN credential = 'MD' AND hash(i, 'do') % 10 = 0 THEN 'DO' ELSE credential END AS credential,
    CASE WHEN org THEN NULL WHEN female THEN 'F' ELSE 'M' END AS gender,
    CASE WHEN org THEN practice_city || ' ' || label || ' ' || {org_suffix} END AS organization_name,
    practice_address_1 AS mailing_address_1, practice_city AS mailing_city, st_abbr AS mailing_state,
    practice_zip AS mailing_zip,
    practice_address_1, practice_address_2, practice_city, st_abbr AS practice_state, practice_zip,
    area || (200 + hash(i, 'ex') % 800)::VARCHAR || lpad((hash(i, 'ph') % 10000)::VARCHAR, 4, '0') AS phone,
    code AS taxonomy_1,
    CASE WHEN NOT org AND hash(i, 't2') % 12 = 0 THEN {second} END AS taxonomy_2,
    NULL::VARCHAR AS taxonomy_3, NULL::VARCHAR AS taxonomy_4, 'Y' AS primary_taxonomy_switch,
    enumeration_date,
    least(DATE '2025-06-30', enumeration_date + (hash(i, 'up') % 3000)::INTEGER) AS last_update_date,
    NULL::DATE AS deactivation_date, NULL::DATE AS reactivation_date,
    TIMESTAMP '2025-07-01 00:00:00' AS created_at,
    stcnty AS county_fips
FROM (
    SELECT *,
        (100 + hash(i, 'no') % 9900)::VARCHAR || ' ' || {street} || ' ' || {street_kind} AS practice_address_1,
        CASE WHEN hash(i, 'su') % 3 = 0 THEN 'Suite ' || (100 + hash(i, 'sn') % 800)::VARCHAR END AS practice_address_2,
        {city} AS practice_city,
        zip3 || lpad((hash(stcnty, city_k, 'zip') % 100)::VARCHAR, 2, '0') AS practice_zip,
        DATE '2005-05-23' + (hash(i, 'en') % 7300)::INTEGER AS enumeration_date
    FROM hs_placed);
DROP TABLE hs_placed;
-- end chunk
COMMENT ON TABLE network.providers IS 'SYNTHETIC provider registry in the NPPES layout generated by healthsim-mcp (deterministic; fictional providers and NPIs)';
DROP TABLE hs_zip3; DROP TABLE hs_taxonomy; DROP TABLE hs_tax_cum; DROP TABLE hs_pcounties;
",
        zip_rows = zip_rows.join(", "),
        taxonomy_rows = taxonomy_rows.join(", "),
        last = pick(LAST_NAMES, "i", "ln"),
        female = pick(FEMALE_NAMES, "i", "fn"),
        male = pick(MALE_NAMES, "i", "mn"),
        org_suffix = pick(ORGANIZATION_SUFFIXES, "i", "os"),
        second = pick(&individual_codes, "i", "t2c"),
        street = pick(STREETS, "i", "st"),
        street_kind = pick(STREET_KINDS, "i", "sk"),
    )
}

/// Creates the synthetic `network.providers` at `scale` in `db`, in one write (after the
/// reference data, whose counties it uses), unless a providers table is there. Returns its
/// row count and whether it was generated now.
pub async fn ensure_providers(db: &Db, scale: Scale) -> Result<(i64, bool), DbError> {
    db.write_tables("demo", move |sql| ensure(sql, scale.providers)).await
}

/// Creates `network.providers` with `rows` synthetic providers unless a providers table is
/// there already (never replaces one it did not generate). Returns its row count and
/// whether it was generated now.
fn ensure(conn: &Sql<'_>, rows: u32) -> anyhow::Result<(i64, bool)> {
    let present: i64 = conn.query_row(
        "SELECT count(*) FROM duckdb_tables()
         WHERE database_name = current_database() AND schema_name = 'network' AND table_name = 'providers'",
        [],
        |r| r.get(0),
    )?;
    let count = |conn: &Sql<'_>| -> anyhow::Result<i64> {
        Ok(conn.query_row("SELECT count(*) FROM network.providers", [], |r| r.get(0))?)
    };
    if present > 0 {
        return Ok((count(conn)?, false));
    }
    conn.execute_batch(&script(rows)).context("cannot generate the synthetic providers (network.providers)")?;
    Ok((count(conn)?, true))
}

#[cfg(test)]
mod tests {
    use duckdb::Connection;

    use super::*;
    use crate::synth::population::generate;

    fn generated(rows: u32) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        generate(&Sql::local(&conn), Scale::SMALL).unwrap();
        assert_eq!(ensure(&Sql::local(&conn), rows).unwrap(), (i64::from(rows), true));
        conn
    }

    fn rows(conn: &Connection, sql: &str) -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    /// Every NPI is ten digits, unique and passes the NPPES check (Luhn over 80840 + NPI).
    #[test]
    fn npis_are_unique_and_check_digit_valid() {
        let conn = generated(3000);
        let npis = rows(&conn, "SELECT npi FROM network.providers");
        let unique: std::collections::BTreeSet<&String> = npis.iter().collect();
        assert_eq!(unique.len(), 3000);
        for npi in &npis {
            assert_eq!(npi.len(), 10, "{npi}");
            let digits: Vec<u32> = format!("80840{npi}").chars().map(|c| c.to_digit(10).unwrap()).collect();
            let sum: u32 = digits
                .iter()
                .rev()
                .enumerate()
                .map(|(i, &d)| if i % 2 == 1 { (2 * d) / 10 + (2 * d) % 10 } else { d })
                .sum();
            assert_eq!(sum % 10, 0, "{npi} fails the check digit");
        }
    }

    /// Providers sit in counties of the reference data, in their state, with that state's ZIPs;
    /// individuals have names and credentials, organizations names; the mix is NPPES-like.
    #[test]
    fn rows_agree_with_the_reference_data() {
        let conn = generated(4000);
        let orphans: i64 = conn
            .query_row(
                "SELECT count(*) FROM network.providers p LEFT JOIN population.svi_county c ON p.county_fips = c.stcnty
                 WHERE c.stcnty IS NULL OR c.st_abbr <> p.practice_state",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0);
        let ct_zips =
            rows(&conn, "SELECT DISTINCT left(practice_zip, 2) FROM network.providers WHERE practice_state = 'CT'");
        assert_eq!(ct_zips, vec!["06".to_owned()]);
        let (organizations, unnamed): (i64, i64) = conn
            .query_row(
                "SELECT count(*) FILTER (entity_type_code = '2'),
                        count(*) FILTER ((entity_type_code = '1' AND (last_name IS NULL OR credential IS NULL))
                                      OR (entity_type_code = '2' AND organization_name IS NULL))
                 FROM network.providers",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(unnamed, 0);
        assert!((700..1200).contains(&organizations), "{organizations} organizations of 4000");
        let comment = rows(&conn, "SELECT comment FROM duckdb_tables() WHERE table_name = 'providers'");
        assert!(comment[0].contains("SYNTHETIC"));
    }

    /// Made in chunks, the registry has the same rows as made at once.
    #[test]
    fn chunks_make_the_same_rows() {
        let digest = "SELECT count(*)::VARCHAR || md5(string_agg(npi || coalesce(last_name, organization_name) || practice_zip, ',' ORDER BY npi)) FROM network.providers";
        let once = generated(2000);
        let conn = Connection::open_in_memory().unwrap();
        generate(&Sql::local(&conn), Scale::SMALL).unwrap();
        conn.execute_batch(&chunked(2000, 700)).unwrap();
        assert_eq!(rows(&once, digest), rows(&conn, digest));
    }

    /// Same rows on every run; a present table is never replaced.
    #[test]
    fn deterministic_and_never_replaced() {
        let digest = "SELECT md5(string_agg(npi || coalesce(last_name, organization_name) || practice_zip, ',' ORDER BY npi)) FROM network.providers";
        let a = rows(&generated(500), digest);
        let conn = generated(500);
        assert_eq!(a, rows(&conn, digest));
        assert_eq!(ensure(&Sql::local(&conn), 900).unwrap(), (500, false));
    }
}
