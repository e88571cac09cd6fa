//! Benchmarks of healthsim-mcp against the physical limit: raw DuckDB doing the same work
//! in-process (and, for start-up, a bare process spawn). Prints median and p95 per
//! measurement next to the raw figure and the target.
//!
//! The client speaks newline-delimited JSON-RPC to the child's stdin/stdout itself (as a
//! script would) and parses each answer with `serde_json`, so the figures are the
//! server's: rmcp's own client parses a large answer ~2.5x slower than that, which would
//! be measured instead. The tests use real MCP clients (rmcp, the Python SDK, the
//! Inspector). Reads alternate server call and raw work run by run, so both see the same
//! load on this shared machine.
//!
//! Run: `cargo run --release --locked --example bench` (uses the release binary next to
//! it, or `HEALTHSIM_MCP_BIN`). `BENCH_BIG_GB` sizes the large database of the write-cycle
//! measurement (default 1.5; 0 skips it). Takes a few minutes on 2 cores.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use healthsim_mcp::model::mapping::MAPPED_PROVENANCE;
use healthsim_mcp::model::{SavePlan, canonical_tables, new_uuid, plan_save};
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
    let mut push =
        |t: &str, v: Value| by_type.entry(t).or_insert_with(|| Value::Array(vec![])).as_array_mut().unwrap().push(v);
    for u in 0..n.div_ceil(10) {
        let mrn = format!("MRN{u:07}");
        push(
            "patients",
            json!({"patient_id": format!("P{u}"), "mrn": mrn, "name": {"given": ["Ana"], "family": format!("Fam{u}")},
            "birthDate": format!("19{:02}-0{}-1{}", 40 + u % 60, 1 + u % 9, u % 10), "gender": if u % 2 == 0 { "female" } else { "male" },
            "address": {"line": ["1 Main St"], "city": "Austin", "state": "TX", "postalCode": "78701"}}),
        );
        for e in 0..2 {
            push(
                "encounters",
                json!({"encounter_id": format!("E{u}-{e}"), "patient_mrn": mrn, "class_code": (["I", "O", "E"][(u + e) % 3]),
                "admission_time": format!("2024-0{}-1{}T08:30:00-06:00", 1 + e, u % 10)}),
            );
            push(
                "diagnoses",
                json!({"id": format!("D{u}-{e}"), "code": (["E11.9", "I10", "J06.9", "E78.5"][(u + e) % 4]),
                "description": "dx", "patient_mrn": mrn, "diagnosed_date": "2024-01-05"}),
            );
        }
        push(
            "medications",
            json!({"id": format!("M{u}"), "name": "Metformin", "dose": "500 mg", "route": "oral", "frequency": "BID",
            "patient_mrn": mrn, "start_date": "2024-01-08"}),
        );
        push(
            "lab_results",
            json!({"id": format!("L{u}"), "test_name": "HbA1c", "loinc_code": "4548-4", "value": "7.1",
            "patient_mrn": mrn, "collected_time": "2024-01-05T09:10:00Z"}),
        );
        push(
            "members",
            json!({"member_id": format!("MEM{u}"), "relationship": "self", "first_name": "Ana", "last_name": "X",
            "birth_date": "1980-01-01", "gender": "F", "group_number": "G1", "plan_id": "PPO", "effective_date": "2024-01-01"}),
        );
        push(
            "claims",
            json!({"claim_id": format!("C{u}"), "claim_type": "professional", "member_id": format!("MEM{u}"),
            "provider_npi": "1234567890", "service_date": "2024-02-01", "diagnosis_codes": ["E11.9"], "total_billed": 125.5, "total_paid": 100}),
        );
        push(
            "prescriptions",
            json!({"prescription_number": format!("RX{u}"), "member_id": format!("MEM{u}"), "ndc": "00093-1048-01",
            "drug_name": "Metformin", "quantity": 60, "days_supply": 30, "prescriber_npi": "1", "written_date": "2024-01-01", "expiration_date": "2025-01-01"}),
        );
    }
    by_type
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (median, p95) in milliseconds.
fn stats(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let p95 = samples[((samples.len() as f64 * 0.95).ceil() as usize).saturating_sub(1).min(samples.len() - 1)];
    (ms(samples[samples.len() / 2]), ms(p95))
}

/// One printed line.
struct Line {
    name: String,
    server: (f64, f64),
    raw: Option<f64>,
    target: String,
}

fn print_line(line: &Line) {
    let raw = line.raw.map_or("-".to_owned(), |r| format!("{r:.2}"));
    let ratio = line.raw.filter(|r| *r > 0.0).map_or("-".to_owned(), |r| format!("{:.2}", line.server.0 / r));
    println!(
        "{:<46} {:>10.2} {:>10.2} {:>12} {:>7} {:>18}",
        line.name, line.server.0, line.server.1, raw, ratio, line.target
    );
}

/// A server child process and a JSON-RPC session over its stdin/stdout.
struct Client {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    next_id: u64,
    line: String,
}

impl Client {
    /// Spawns the server on `db` and completes the MCP handshake.
    fn start(db: &Path, args: &[&str]) -> Client {
        let mut child = Command::new(binary())
            .arg("--db")
            .arg(db)
            .args(args)
            .env("RUST_LOG", std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let input = child.stdin.take().expect("stdin");
        let output = BufReader::new(child.stdout.take().expect("stdout"));
        let mut client = Client { child, input, output, next_id: 0, line: String::new() };
        client.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}),
        );
        client.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        client
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn send(&mut self, message: &Value) {
        let mut bytes = serde_json::to_vec(message).unwrap();
        bytes.push(b'\n');
        self.input.write_all(&bytes).unwrap();
        self.input.flush().unwrap();
    }

    /// A request as the bytes to send, and its id.
    fn encode(&mut self, method: &str, params: Value) -> (u64, Vec<u8>) {
        self.next_id += 1;
        let id = self.next_id;
        let mut bytes =
            serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).unwrap();
        bytes.push(b'\n');
        (id, bytes)
    }

    /// Sends an encoded request and returns its `result` (skipping notifications).
    fn exchange(&mut self, id: u64, bytes: &[u8]) -> Value {
        self.input.write_all(bytes).unwrap();
        self.input.flush().unwrap();
        loop {
            self.line.clear();
            assert!(self.output.read_line(&mut self.line).unwrap() > 0, "the server closed stdout");
            let mut message: Value = serde_json::from_str(&self.line).unwrap();
            if message["id"] == json!(id) {
                assert!(message.get("error").is_none(), "request {id} failed: {}", message["error"]);
                return message["result"].take();
            }
        }
    }

    /// Sends a request and returns its `result`.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let (id, bytes) = self.encode(method, params);
        self.exchange(id, &bytes)
    }

    /// Ends the session: stdin closed, the server exits.
    fn stop(mut self) {
        drop(self.input);
        self.child.wait().unwrap();
    }
}

fn call(client: &mut Client, tool: &str, args: Value) -> Value {
    timed_call(client, tool, args).0
}

/// A tool call and its time from the first byte sent to the answer parsed (encoding the
/// request is the client's work, done before).
fn timed_call(client: &mut Client, tool: &str, args: Value) -> (Value, Duration) {
    let (id, bytes) = client.encode("tools/call", json!({"name": tool, "arguments": args}));
    let started = Instant::now();
    let mut result = client.exchange(id, &bytes);
    let elapsed = started.elapsed();
    assert_ne!(result["isError"], json!(true), "{tool} failed: {}", result["content"]);
    (result["structuredContent"].take(), elapsed)
}

fn time_calls(client: &mut Client, tool: &str, args: Value, runs: usize) -> (f64, f64) {
    call(client, tool, args.clone());
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        samples.push(timed_call(client, tool, args.clone()).1);
    }
    stats(samples)
}

/// The server call and the raw work, alternated run by run so that both see the same
/// machine load (this machine is shared): server (median, p95) and raw median.
fn paired(client: &mut Client, tool: &str, args: Value, runs: usize, mut raw: impl FnMut()) -> ((f64, f64), f64) {
    call(client, tool, args.clone());
    raw();
    let (mut server, mut direct) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        let started = Instant::now();
        raw();
        direct.push(started.elapsed());
        server.push(timed_call(client, tool, args.clone()).1);
    }
    (stats(server), stats(direct).0)
}

fn time_raw(runs: usize, mut work: impl FnMut()) -> f64 {
    work();
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        work();
        samples.push(started.elapsed());
    }
    stats(samples).0
}

/// Raw DuckDB: a planned save appended in-process in one transaction (entities and
/// canonical rows; with `replace`, the previous rows of that scenario are deleted first),
/// then checkpointed.
fn raw_save(conn: &duckdb::Connection, plan: &SavePlan, scenario: &str, replace: bool) {
    conn.execute_batch("BEGIN").unwrap();
    conn.execute(
        "INSERT INTO scenarios (scenario_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [scenario, scenario],
    )
    .unwrap();
    if replace {
        raw_remove_rows(conn, scenario);
    }
    {
        let mut app = conn
            .appender_with_columns(
                "scenario_entities",
                &["id", "scenario_id", "entity_type", "entity_id", "entity_data"],
            )
            .unwrap();
        let first: i64 =
            conn.query_row("SELECT coalesce(max(id), 0) + 1 FROM scenario_entities", [], |r| r.get(0)).unwrap();
        for (i, entity) in plan.entities.iter().enumerate() {
            app.append_row(duckdb::params![
                first + i as i64,
                scenario,
                entity.entity_type,
                entity.entity_id,
                entity.json
            ])
            .unwrap();
        }
    }
    for spec in canonical_tables() {
        let Some(rows) = plan.rows.get(spec.name) else { continue };
        let mut columns: Vec<&str> = spec.columns.iter().map(|c| c.name).collect();
        columns.push("scenario_id");
        columns.extend(MAPPED_PROVENANCE);
        let mut app = conn.appender_with_columns(spec.name, &columns).unwrap();
        let data = spec.columns.len();
        for row in rows {
            let values = row.values().take(data).chain([Some(scenario)]).chain(row.values().skip(data));
            app.append_row(duckdb::appender_params_from_iter(values)).unwrap();
        }
    }
    conn.execute_batch("COMMIT; CHECKPOINT").unwrap();
}

/// Deletes a scenario's entities and canonical rows (inside the caller's transaction).
fn raw_remove_rows(conn: &duckdb::Connection, scenario: &str) {
    for table in ["scenario_entities"].into_iter().chain(canonical_tables().iter().map(|t| t.name)) {
        conn.execute(&format!("DELETE FROM {table} WHERE scenario_id = ?"), [scenario]).unwrap();
    }
}

/// Raw DuckDB: a scenario's rows deleted in one transaction, then checkpointed.
fn raw_delete(conn: &duckdb::Connection, scenario: &str) {
    conn.execute_batch("BEGIN").unwrap();
    raw_remove_rows(conn, scenario);
    conn.execute("DELETE FROM scenarios WHERE scenario_id = ?", [scenario]).unwrap();
    conn.execute_batch("COMMIT; CHECKPOINT").unwrap();
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn run_binary(db: &Path, args: &[&str]) {
    let status = Command::new(binary()).arg("--db").arg(db).args(args).env("RUST_LOG", "warn").output().expect("run");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.duckdb");
    let raw_db = dir.path().join("raw.duckdb");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("healthsim-mcp benchmark: {cores} cores, {} binary {}", std::env::consts::ARCH, binary().display());
    eprintln!("preparing: demo database with national synthetic reference data ...");
    run_binary(&db, &["demo"]);
    run_binary(&raw_db, &["demo", "--small"]);
    println!(
        "\n{:<46} {:>10} {:>10} {:>12} {:>7} {:>18}",
        "measurement (ms)", "median", "p95", "raw median", "ratio", "target"
    );

    // Start-up: process spawn to tools/list answered.
    let mut starts = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        let mut client = Client::start(&db, &[]);
        let tools = client.request("tools/list", json!({}));
        starts.push(started.elapsed());
        assert_eq!(tools["tools"].as_array().map(Vec::len), Some(10));
        client.stop();
    }
    let spawn_floor = time_raw(15, || {
        Command::new(binary()).arg("--version").output().unwrap();
    });
    let open_floor = time_raw(15, || {
        let conn = duckdb::Connection::open_with_flags(
            &db,
            duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap(),
        )
        .unwrap();
        drop(conn);
    });
    print_line(&Line {
        name: "start to tools/list answered".into(),
        server: stats(starts),
        raw: Some(spawn_floor + open_floor),
        target: "<= 50".into(),
    });
    println!("  (raw = process spawn {spawn_floor:.2} + DuckDB read-only open/close {open_floor:.2})");

    let mut client = Client::start(&db, &[]);
    let pid = client.pid();
    let raw_read = duckdb::Connection::open_with_flags(
        &db,
        duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap(),
    )
    .unwrap();
    let list_sql = "SELECT s.scenario_id, s.name, s.description, coalesce(e.n, 0), coalesce(t.tags, []),
               strftime(s.created_at, '%Y-%m-%dT%H:%M:%S.%f'), strftime(s.updated_at, '%Y-%m-%dT%H:%M:%S.%f')
        FROM scenarios s
        LEFT JOIN (SELECT scenario_id, count(*) AS n FROM scenario_entities GROUP BY ALL) e USING (scenario_id)
        LEFT JOIN (SELECT scenario_id, list(tag ORDER BY id) AS tags FROM scenario_tags GROUP BY ALL) t USING (scenario_id)
        ORDER BY s.updated_at DESC NULLS LAST, s.name LIMIT 50";
    let (list, raw_list) = paired(&mut client, "healthsim_list_scenarios", json!({}), 200, || {
        let mut stmt = raw_read.prepare(list_sql).unwrap();
        let n = stmt.query_map([], |r| r.get::<_, String>(1)).unwrap().count();
        assert!(n >= 4);
    });
    print_line(&Line {
        name: "healthsim_list_scenarios round trip".into(),
        server: list,
        raw: Some(raw_list),
        target: "<= 2".into(),
    });
    // The same call when its listing is not reused (a different filter every time, more
    // filters than the server keeps): the cost of the first listing after a write.
    let mut uncached = Vec::new();
    for i in 0..200 {
        let args = json!({"limit": 100 + i % 100});
        uncached.push(timed_call(&mut client, "healthsim_list_scenarios", args).1);
    }
    print_line(&Line {
        name: "  same, listing not reused (first after a write)".into(),
        server: stats(uncached),
        raw: Some(raw_list),
        target: "-".into(),
    });

    let reference_sql = "SELECT substr(fips, 1, 2) AS state, count(*) AS groups, \
         avg(TRY_CAST(adi_natrank AS INTEGER)) AS mean_rank FROM population.adi_blockgroup GROUP BY ALL ORDER BY 1";
    let (reference, raw_reference) = paired(&mut client, "healthsim_query", json!({"sql": reference_sql}), 21, || {
        let mut stmt = raw_read.prepare(reference_sql).unwrap();
        assert_eq!(stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().count(), 51);
    });
    print_line(&Line {
        name: "reference aggregate over adi_blockgroup".into(),
        server: reference,
        raw: Some(raw_reference),
        target: "ratio <= 1.5".into(),
    });
    // The row cap is applied while fetching: a 10^8-row result costs no memory.
    let before = rss_kib(pid, "VmHWM:");
    let huge =
        time_calls(&mut client, "healthsim_query", json!({"sql": "SELECT * FROM range(100000000)", "limit": 1000}), 5);
    let after = rss_kib(pid, "VmHWM:");
    let raw_huge = time_raw(5, || {
        let mut stmt = raw_read.prepare("SELECT * FROM range(100000000)").unwrap();
        let mut n = 0;
        for batch in stmt.stream_arrow([]).unwrap() {
            n += batch.num_rows();
            if n > 1000 {
                break;
            }
        }
    });
    print_line(&Line {
        name: "query SELECT * FROM range(10^8), limit 1000".into(),
        server: huge,
        raw: Some(raw_huge),
        target: "flat memory".into(),
    });
    println!("  (server peak RSS before {:.1} MB, after {:.1} MB)", before as f64 / 1024.0, after as f64 / 1024.0);
    drop(raw_read);

    // Saves, against raw appends of the same planned rows into another file.
    let raw_write = duckdb::Connection::open(&raw_db).unwrap();
    // As the server does: a commit this large checkpoints straight away, skipping the WAL.
    raw_write.execute_batch("SET checkpoint_threshold = '0b'").unwrap();
    for (n, fresh_runs, overwrite_runs) in [(10_000usize, 7usize, 3usize), (100_000, 3, 1)] {
        let entities = mixed(n);
        let plan = plan_save(entities.clone(), new_uuid);
        let (mut fresh, mut raw_fresh, mut replace, mut raw_replace) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for run in 0..fresh_runs + overwrite_runs {
            let overwrite = run >= fresh_runs;
            let name = format!("bench-{n}-{}", if overwrite { 0 } else { run });
            let args = json!({"name": name, "entities": entities, "overwrite": overwrite});
            let (out, elapsed) = timed_call(&mut client, "healthsim_save_scenario", args);
            assert_eq!(out["total_entities"], json!(n));
            let started = Instant::now();
            raw_save(&raw_write, &plan, &name, overwrite);
            let raw_elapsed = started.elapsed();
            if overwrite {
                replace.push(elapsed);
                raw_replace.push(raw_elapsed);
            } else {
                fresh.push(elapsed);
                raw_fresh.push(raw_elapsed);
            }
        }
        print_line(&Line {
            name: format!("save {n} mixed entities (new scenario)"),
            server: stats(fresh),
            raw: Some(stats(raw_fresh).0),
            target: if n == 10_000 { "< 300; ratio <= 3".into() } else { "< 3000; ratio <= 3".into() },
        });
        print_line(&Line {
            name: format!("save {n} mixed entities (overwrite)"),
            server: stats(replace),
            raw: Some(stats(raw_replace).0),
            target: "ratio <= 3".into(),
        });
    }
    // Deleting a large scenario: every deleted row leaves every index at commit.
    let (_, deleted) =
        timed_call(&mut client, "healthsim_delete_scenario", json!({"name_or_id": "bench-100000-2", "confirm": true}));
    let started = Instant::now();
    raw_delete(&raw_write, "bench-100000-2");
    print_line(&Line {
        name: "delete a 100000-entity scenario".into(),
        server: (ms(deleted), ms(deleted)),
        raw: Some(ms(started.elapsed())),
        target: "ratio <= 3".into(),
    });
    drop(raw_write);

    let raw_read = duckdb::Connection::open_with_flags(
        &db,
        duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap(),
    )
    .unwrap();
    let load_args = json!({"name_or_id": "bench-10000-0"});
    let (load, raw_load) = paired(&mut client, "healthsim_load_scenario", load_args, 21, || {
        let mut stmt = raw_read
            .prepare(
                "SELECT e.entity_type, CAST(e.entity_data AS VARCHAR) FROM scenario_entities e JOIN scenarios s USING (scenario_id)
                 WHERE s.name = 'bench-10000-0' ORDER BY e.id",
            )
            .unwrap();
        let rows: Vec<Value> = stmt
            .query_map([], |r| r.get::<_, String>(1))
            .unwrap()
            .map(|t| serde_json::from_str(&t.unwrap()).unwrap())
            .collect();
        assert_eq!(rows.len(), 10_000);
    });
    print_line(&Line {
        name: "load a 10,000-entity scenario".into(),
        server: load,
        raw: Some(raw_load),
        target: "ratio <= 1.5".into(),
    });
    // Raw: the server's own summary statements (statistics, sample rows, counts) run on a
    // bare connection, statements prepared once as the server's pooled connections do.
    raw_read.set_prepared_statement_cache_capacity(64);
    let summary_args = json!({"scenario_id_or_name": "bench-100000-0"});
    let healthsim_mcp::db::Detected::Known(layout) =
        healthsim_mcp::db::detect(&healthsim_mcp::db::Sql::local(&raw_read)).unwrap()
    else {
        panic!("the bench file has no scenario layout")
    };
    let (summary, raw_summary) = paired(&mut client, "healthsim_get_summary", summary_args, 21, || {
        let summary =
            healthsim_mcp::db::summarize(&healthsim_mcp::db::Sql::local(&raw_read), &layout, "bench-100000-0", true, 3)
                .unwrap()
                .unwrap();
        assert!(!summary.samples.is_empty());
    });
    print_line(&Line {
        name: "get_summary of a 100,000-entity scenario".into(),
        server: summary,
        raw: Some(raw_summary),
        target: "ratio <= 1.5".into(),
    });
    drop(raw_read);
    let peak = rss_kib(pid, "VmHWM:");
    // Idle: past the 2 s idle release the read instance is closed.
    std::thread::sleep(Duration::from_millis(3000));
    let idle = rss_kib(pid, "VmRSS:");
    let (idle_anon, idle_file) = (rss_kib(pid, "RssAnon:"), rss_kib(pid, "RssFile:"));
    client.stop();

    // Write cycle on a large file: the server's save of one entity against the same
    // insert on an already open read-write connection.
    let big_gb: f64 = std::env::var("BENCH_BIG_GB").ok().and_then(|v| v.parse().ok()).unwrap_or(1.5);
    let mut cycle_note = String::new();
    if big_gb > 0.0 {
        let big = dir.path().join("big.duckdb");
        std::fs::copy(&db, &big).unwrap();
        eprintln!("preparing: growing a copy of the database to {big_gb} GB ...");
        {
            let conn = duckdb::Connection::open(&big).unwrap();
            conn.execute_batch("CREATE SCHEMA IF NOT EXISTS network; CREATE TABLE network.providers (npi BIGINT, name VARCHAR, taxonomy VARCHAR, address VARCHAR);")
                .unwrap();
            let mut chunk = 0i64;
            while (std::fs::metadata(&big).unwrap().len() as f64) < big_gb * 1e9 {
                conn.execute(
                    "INSERT INTO network.providers SELECT i, md5(i::VARCHAR) || ' ' || md5((i * 7)::VARCHAR), md5((i * 3)::VARCHAR), \
                     md5((i * 11)::VARCHAR) || md5((i * 13)::VARCHAR) FROM range(?, ? + 5000000) r(i)",
                    [chunk * 5_000_000, chunk * 5_000_000],
                )
                .unwrap();
                conn.execute_batch("CHECKPOINT").unwrap();
                chunk += 1;
            }
        }
        let size_gb = std::fs::metadata(&big).unwrap().len() as f64 / 1e9;
        let one = |i: usize| json!({"name": "cycle", "entities": {"patients": [{"id": format!("p{i}"), "given_name": "A", "family_name": "B", "birth_date": "1990-01-01", "gender": "F"}]}, "overwrite": true});
        let raw_insert = {
            let conn = duckdb::Connection::open(&big).unwrap();
            conn.execute_batch("INSERT INTO scenarios (scenario_id, name) VALUES ('raw-cycle', 'raw-cycle')").unwrap();
            let mut i = 0;
            let insert = time_raw(10, || {
                i += 1;
                conn.execute_batch("BEGIN").unwrap();
                conn.execute("DELETE FROM scenario_entities WHERE scenario_id = 'raw-cycle'", []).unwrap();
                conn.execute(
                    "INSERT INTO scenario_entities (scenario_id, entity_type, entity_id, entity_data) VALUES ('raw-cycle', 'patients', ?, '{}')",
                    [format!("p{i}")],
                )
                .unwrap();
                conn.execute_batch("COMMIT").unwrap();
            });
            conn.execute_batch(
                "DELETE FROM scenario_entities WHERE scenario_id = 'raw-cycle'; DELETE FROM scenarios WHERE scenario_id = 'raw-cycle'; CHECKPOINT",
            )
            .unwrap();
            insert
        };
        let mut client = Client::start(&big, &[]);
        call(&mut client, "healthsim_list_scenarios", json!({}));
        let mut samples = Vec::new();
        for i in 0..10 {
            // A read first, so every save has a read instance to drain and reopen.
            call(&mut client, "healthsim_list_scenarios", json!({}));
            samples.push(timed_call(&mut client, "healthsim_save_scenario", one(i)).1);
        }
        client.stop();
        let (median, p95) = stats(samples);
        print_line(&Line {
            name: format!("save of 1 entity on a {size_gb:.2} GB file"),
            server: (median, p95),
            raw: Some(raw_insert),
            target: "-".into(),
        });
        cycle_note =
            format!("write cycle overhead (server - raw, median): {:.2} ms (target <= 80)", median - raw_insert);
    }
    println!("\n{cycle_note}");
    println!(
        "server RSS: peak {:.1} MB ({:.2} KB per entity of the 100,000-entity save, whose peak it is), \
         idle {:.1} MB (target idle <= 60): {:.1} MB heap, {:.1} MB mapped code",
        peak as f64 / 1024.0,
        peak as f64 / 100_000.0,
        idle as f64 / 1024.0,
        idle_anon as f64 / 1024.0,
        idle_file as f64 / 1024.0
    );
}
