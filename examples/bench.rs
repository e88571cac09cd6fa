//! Benchmarks of healthsim-mcp against the physical limit (raw DuckDB in-process doing the
//! same work). Run: `cargo run --release --example bench` (it uses the release binary next
//! to it, or `HEALTHSIM_MCP_BIN`). Prints median and p95 per measurement.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Map, Value, json};

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("HEALTHSIM_MCP_BIN") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().and_then(Path::parent).expect("target dir").join("healthsim-mcp")
}

/// `n` mixed entities: per unit of 10, a patient, 2 encounters, 2 diagnoses, a medication,
/// a lab result, a member, a claim and a prescription.
fn mixed(n: usize) -> Map<String, Value> {
    let mut by_type: Map<String, Value> = Map::new();
    let mut push = |t: &str, v: Value| by_type.entry(t).or_insert_with(|| Value::Array(vec![])).as_array_mut().unwrap().push(v);
    for u in 0..n.div_ceil(10) {
        let mrn = format!("MRN{u:07}");
        push("patients", json!({"patient_id": format!("P{u}"), "mrn": mrn, "name": {"given": ["Ana"], "family": format!("Fam{u}")},
            "birthDate": format!("19{:02}-0{}-1{}", 40 + u % 60, 1 + u % 9, u % 10), "gender": if u % 2 == 0 { "female" } else { "male" },
            "address": {"line": ["1 Main St"], "city": "Austin", "state": "TX", "postalCode": "78701"}}));
        for e in 0..2 {
            push("encounters", json!({"encounter_id": format!("E{u}-{e}"), "patient_mrn": mrn, "class_code": (["I", "O", "E"][(u + e) % 3]),
                "admission_time": format!("2024-0{}-1{}T08:30:00-06:00", 1 + e, u % 10)}));
            push("diagnoses", json!({"id": format!("D{u}-{e}"), "code": (["E11.9", "I10", "J06.9", "E78.5"][(u + e) % 4]),
                "description": "dx", "patient_mrn": mrn, "diagnosed_date": "2024-01-05"}));
        }
        push("medications", json!({"id": format!("M{u}"), "name": "Metformin", "dose": "500 mg", "route": "oral", "frequency": "BID",
            "patient_mrn": mrn, "start_date": "2024-01-08"}));
        push("lab_results", json!({"id": format!("L{u}"), "test_name": "HbA1c", "loinc_code": "4548-4", "value": "7.1",
            "patient_mrn": mrn, "collected_time": "2024-01-05T09:10:00Z"}));
        push("members", json!({"member_id": format!("MEM{u}"), "relationship": "self", "first_name": "Ana", "last_name": "X",
            "birth_date": "1980-01-01", "gender": "F", "group_number": "G1", "plan_id": "PPO", "effective_date": "2024-01-01"}));
        push("claims", json!({"claim_id": format!("C{u}"), "claim_type": "professional", "member_id": format!("MEM{u}"),
            "provider_npi": "1234567890", "service_date": "2024-02-01", "diagnosis_codes": ["E11.9"], "total_billed": 125.5, "total_paid": 100}));
        push("prescriptions", json!({"prescription_number": format!("RX{u}"), "member_id": format!("MEM{u}"), "ndc": "00093-1048-01",
            "drug_name": "Metformin", "quantity": 60, "days_supply": 30, "prescriber_npi": "1", "written_date": "2024-01-01", "expiration_date": "2025-01-01"}));
    }
    by_type
}

fn stats(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p95 = samples[((samples.len() as f64 * 0.95).ceil() as usize).saturating_sub(1).min(samples.len() - 1)];
    (ms(samples[samples.len() / 2]), ms(p95))
}

async fn start(db: &Path) -> RunningService<RoleClient, ()> {
    let command = tokio::process::Command::new(binary()).configure(|cmd| {
        cmd.arg("--db").arg(db).env("RUST_LOG", "warn");
    });
    ().serve(TokioChildProcess::new(command).expect("spawn")).await.expect("initialize")
}

async fn call(client: &RunningService<RoleClient, ()>, tool: &str, args: Value) -> Value {
    let Value::Object(map) = args else { unreachable!() };
    let result = client.call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(map)).await.expect("call");
    assert_ne!(result.is_error, Some(true), "{tool} failed: {:?}", result.content);
    result.structured_content.unwrap_or(Value::Null)
}

/// Raw DuckDB: the same plan appended in-process in one transaction (the physical limit).
fn raw_save(path: &Path, entities: &Map<String, Value>) -> Duration {
    let conn = duckdb::Connection::open(path).expect("open raw");
    let started = Instant::now();
    conn.execute_batch("BEGIN").unwrap();
    {
        let mut app = conn.appender("raw_entities").unwrap();
        let mut id = 0i64;
        for (t, items) in entities {
            for item in items.as_array().unwrap() {
                id += 1;
                app.append_row(duckdb::params![id, "s", t, id.to_string(), item.to_string()]).unwrap();
            }
        }
    }
    conn.execute_batch("COMMIT; CHECKPOINT").unwrap();
    let elapsed = started.elapsed();
    conn.execute_batch("DELETE FROM raw_entities; CHECKPOINT").unwrap();
    elapsed
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.duckdb");
    let raw_db = dir.path().join("raw.duckdb");
    duckdb::Connection::open(&raw_db)
        .unwrap()
        .execute_batch("CREATE TABLE raw_entities (id INTEGER, scenario_id VARCHAR, entity_type VARCHAR, entity_id VARCHAR, entity_data JSON)")
        .unwrap();
    let client = start(&db).await;
    println!("healthsim-mcp save benchmark ({} cores)", std::thread::available_parallelism().map_or(0, |n| n.get()));
    println!("{:<34} {:>12} {:>12} {:>16}", "measurement", "median ms", "p95 ms", "raw DuckDB med ms");
    for (n, runs) in [(10_000usize, 7usize), (100_000, 3)] {
        let entities = mixed(n);
        let mut server_times = Vec::new();
        let mut raw_times = Vec::new();
        for run in 0..runs {
            let args = json!({"name": format!("bench-{n}"), "entities": entities, "overwrite": run > 0});
            let started = Instant::now();
            let out = call(&client, "healthsim_save_scenario", args).await;
            server_times.push(started.elapsed());
            assert_eq!(out["total_entities"], json!(n));
            raw_times.push(raw_save(&raw_db, &entities));
        }
        let (median, p95) = stats(server_times);
        let (raw_median, _) = stats(raw_times);
        println!("{:<34} {median:>12.1} {p95:>12.1} {raw_median:>16.1}", format!("save {n} mixed entities"));
    }
    let _ = client.cancel().await;
}
