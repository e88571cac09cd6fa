//! healthsim_query_reference over a small population schema built by the test.

use std::path::Path;

use serde_json::{Value, json};

use crate::util::{Server, temp_db};

/// Two states, three counties, tracts and block groups, consistent FIPS codes.
fn build_population(path: &Path) {
    let conn = duckdb::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE SCHEMA population;
         CREATE TABLE population.places_county (stateabbr VARCHAR, statedesc VARCHAR, countyname VARCHAR, countyfips VARCHAR,
             totalpopulation INTEGER, diabetes_crudeprev DOUBLE);
         INSERT INTO population.places_county VALUES
             ('TX', 'Texas', 'Harris County', '48201', 4731145, 12.1),
             ('TX', 'Texas', 'Travis County', '48453', 1290188, 8.4),
             ('CA', 'California', 'Harris_Like%County', '06001', 1682353, 9.0);
         CREATE TABLE population.places_tract (stateabbr VARCHAR, statedesc VARCHAR, countyname VARCHAR, countyfips VARCHAR,
             tractfips VARCHAR, diabetes_crudeprev DOUBLE);
         INSERT INTO population.places_tract VALUES
             ('TX', 'Texas', 'Harris County', '48201', '48201100000', 13.0),
             ('TX', 'Texas', 'Harris County', '48201', '48201100100', 11.0),
             ('TX', 'Texas', 'Travis County', '48453', '48453000100', 7.5),
             ('CA', 'California', 'Harris_Like%County', '06001', '06001400100', 9.2);
         CREATE TABLE population.svi_county (st VARCHAR, state VARCHAR, st_abbr VARCHAR, stcnty VARCHAR, county VARCHAR,
             rpl_themes DOUBLE);
         INSERT INTO population.svi_county VALUES
             ('48', 'Texas', 'TX', '48453', 'Travis County', 0.41),
             ('48', 'Texas', 'TX', '48201', 'Harris County', 0.79),
             ('06', 'California', 'CA', '06001', 'Harris_Like%County', 0.33);
         CREATE TABLE population.svi_tract (st VARCHAR, state VARCHAR, st_abbr VARCHAR, stcnty VARCHAR, county VARCHAR,
             fips VARCHAR, rpl_themes DOUBLE);
         INSERT INTO population.svi_tract VALUES
             ('48', 'Texas', 'TX', '48201', 'Harris County', '48201100000', 0.9),
             ('48', 'Texas', 'TX', '48453', 'Travis County', '48453000100', 0.2),
             ('06', 'California', 'CA', '06001', 'Harris_Like%County', '06001400100', 0.5);
         CREATE TABLE population.adi_blockgroup (gisjoin VARCHAR, fips VARCHAR, adi_natrank VARCHAR, adi_staternk VARCHAR);
         INSERT INTO population.adi_blockgroup VALUES
             ('G48020101000001', '482011000001', '88', '9'),
             ('G48020101000002', '482011000002', 'GQ', 'GQ'),
             ('G48045300001001', '484530001001', '23', '2'),
             ('G06000104001001', '060014001001', '41', '5');",
    )
    .unwrap();
}

fn column(result: &Value, name: &str) -> Vec<String> {
    result["rows"].as_array().unwrap().iter().map(|r| r[name].as_str().unwrap().to_owned()).collect()
}

/// State (abbreviation or FIPS) and county filters work on all five tables, literally.
#[tokio::test(flavor = "multi_thread")]
async fn filters_on_every_table() {
    let (_dir, db) = temp_db();
    build_population(&db);
    let server = Server::start(&db).await;
    let call = |args: Value| server.ok("healthsim_query_reference", args);

    let all = call(json!({"table": "places_county"})).await;
    assert_eq!(all["table"], "population.places_county");
    assert_eq!(all["row_count"], 3);
    assert_eq!(column(&all, "countyfips"), ["06001", "48201", "48453"], "ordered by the geographic key");
    let keys: Vec<&String> = all.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["table", "columns", "row_count", "rows"]);

    assert_eq!(column(&call(json!({"table": "places_county", "state": "tx"})).await, "countyfips"), ["48201", "48453"]);
    assert_eq!(column(&call(json!({"table": "places_county", "state": "48"})).await, "countyfips"), ["48201", "48453"]);
    assert_eq!(
        column(&call(json!({"table": "places_county", "county": "harris"})).await, "countyfips"),
        ["06001", "48201"]
    );
    assert_eq!(
        column(&call(json!({"table": "places_county", "county": "_like%"})).await, "countyfips"),
        ["06001"],
        "wildcards are literal"
    );
    assert_eq!(
        column(&call(json!({"table": "places_tract", "state": "TX", "county": "Harris"})).await, "tractfips"),
        ["48201100000", "48201100100"]
    );
    assert_eq!(column(&call(json!({"table": "svi_county", "state": "ca"})).await, "stcnty"), ["06001"]);
    assert_eq!(column(&call(json!({"table": "svi_county", "county": "TRAVIS"})).await, "stcnty"), ["48453"]);
    assert_eq!(
        column(&call(json!({"table": "svi_tract", "county": "harris", "state": "TX"})).await, "fips"),
        ["48201100000"]
    );
    // ADI: state on the first two digits, county through svi_county on the first five.
    assert_eq!(
        column(&call(json!({"table": "adi_blockgroup", "state": "TX"})).await, "fips"),
        ["482011000001", "482011000002", "484530001001"]
    );
    assert_eq!(
        column(&call(json!({"table": "adi_blockgroup", "county": "Harris"})).await, "fips"),
        ["060014001001", "482011000001", "482011000002"]
    );
    assert_eq!(
        column(&call(json!({"table": "adi_blockgroup", "county": "Harris", "state": "TX"})).await, "fips"),
        ["482011000001", "482011000002"]
    );
    assert_eq!(call(json!({"table": "adi_blockgroup", "county": "Nowhere"})).await["row_count"], 0);
    let suppressed = call(json!({"table": "adi_blockgroup", "state": "TX", "limit": 2})).await;
    assert_eq!(suppressed["row_count"], 2);
    assert_eq!(suppressed["rows"][1]["adi_natrank"], "GQ");
    server.stop().await;
}

/// Legacy `main.ref_*` tables are used when the population schema is absent.
#[tokio::test(flavor = "multi_thread")]
async fn legacy_ref_tables() {
    let (_dir, db) = temp_db();
    {
        let conn = duckdb::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE ref_svi_county (st VARCHAR, state VARCHAR, st_abbr VARCHAR, stcnty VARCHAR, county VARCHAR);
             INSERT INTO ref_svi_county VALUES ('48', 'Texas', 'TX', '48201', 'Harris County');",
        )
        .unwrap();
    }
    let server = Server::start(&db).await;
    let result = server.ok("healthsim_query_reference", json!({"table": "svi_county", "state": "TX"})).await;
    assert_eq!(result["table"], "main.ref_svi_county");
    assert_eq!(result["row_count"], 1);
    let tables = server.ok("healthsim_tables", json!({})).await;
    assert_eq!(tables["reference_tables"], json!(["ref_svi_county"]));
    let missing = server.err_msg("healthsim_query_reference", json!({"table": "places_county"})).await;
    assert!(missing.contains("population.places_county is missing"), "{missing}");
    server.stop().await;
}

/// healthsim_tables lists population, network (NetworkSim) and other schemas qualified.
#[tokio::test(flavor = "multi_thread")]
async fn tables_include_population_and_other_schemas() {
    let (_dir, db) = temp_db();
    build_population(&db);
    {
        let conn = duckdb::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE SCHEMA network; CREATE TABLE network.providers AS SELECT range AS npi FROM range(5);
             CREATE SCHEMA analytics; CREATE TABLE analytics.results AS SELECT range AS n FROM range(2);",
        )
        .unwrap();
    }
    let server = Server::start(&db).await;
    let tables = server.ok("healthsim_tables", json!({})).await;
    assert_eq!(
        tables["reference_tables"],
        json!([
            "network.providers",
            "population.adi_blockgroup",
            "population.places_county",
            "population.places_tract",
            "population.svi_county",
            "population.svi_tract"
        ])
    );
    assert_eq!(tables["other_tables"], json!(["analytics.results"]));
    assert_eq!(tables["row_counts"]["network.providers"], 5);
    assert_eq!(tables["row_counts"]["population.adi_blockgroup"], 4);
    assert_eq!(tables["total"], 5 + 2 + 24);
    server.stop().await;
}
