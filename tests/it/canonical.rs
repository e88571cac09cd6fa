//! Every entity of the product-line fixtures becomes a canonical row; columns are checked
//! on samples, and statistics against hand-computed values.

use serde_json::{Value, json};

use crate::util::{Server, fixture, temp_db};

/// Saves a fixture and checks every entity became a canonical row without warnings.
async fn save_fixture(server: &Server, name: &str) -> Value {
    let entities = fixture(name);
    let saved = server.ok("healthsim_save_scenario", json!({"name": name, "entities": entities})).await;
    assert!(saved.get("warnings").is_none(), "{name}: {saved}");
    assert_eq!(saved["canonical_rows"], saved["entity_counts"], "{name}: one row per entity");
    saved
}

async fn rows(server: &Server, sql: &str) -> Vec<Value> {
    server.ok("healthsim_query", json!({"sql": sql, "limit": 1000})).await["rows"].as_array().unwrap().clone()
}

/// membersim: X12 relationships, coverage and plan aliases, claim money and lines.
#[tokio::test(flavor = "multi_thread")]
async fn membersim_claims_fixture() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    save_fixture(&server, "membersim_claims").await;
    let members = rows(
        &server,
        "SELECT member_id, subscriber_id, relationship_code, group_id, plan_code, CAST(coverage_start AS VARCHAR) AS cs,
                CAST(coverage_end AS VARCHAR) AS ce, street_address, postal_code, email, generation_seed, source_system
         FROM members ORDER BY member_id",
    )
    .await;
    assert_eq!(
        members[0],
        json!({"member_id": "MEM-1001", "subscriber_id": "MEM-1001", "relationship_code": "18", "group_id": "GRP-OH-100",
               "plan_code": "PPO-GOLD", "cs": "2023-01-01", "ce": null, "street_address": "14 Oak St", "postal_code": "43215",
               "email": "dana.brooks@example.org", "generation_seed": 7, "source_system": "membersim"})
    );
    assert_eq!(
        (members[1]["subscriber_id"].clone(), members[1]["relationship_code"].clone()),
        (json!("MEM-1001"), json!("01"))
    );
    assert_eq!(members[1]["ce"], "2024-12-31");
    assert_eq!(
        (members[2]["relationship_code"].clone(), members[2]["group_id"].clone()),
        (json!("19"), json!("GRP-OH-100"))
    );
    assert_eq!((members[3]["relationship_code"].clone(), members[3]["ce"].clone()), (json!("18"), json!("2024-06-30")));
    let claims = rows(
        &server,
        "SELECT claim_id, claim_type, principal_diagnosis, other_diagnoses, total_charge, total_allowed, member_responsibility, place_of_service
         FROM claims ORDER BY claim_id",
    )
    .await;
    assert_eq!(
        claims[0],
        json!({"claim_id": "CLM-001", "claim_type": "PROFESSIONAL", "principal_diagnosis": "J06.9", "other_diagnoses": null,
               "total_charge": "185.00", "total_allowed": "120.50", "member_responsibility": "24.10", "place_of_service": "11"})
    );
    assert_eq!(claims[1]["other_diagnoses"], json!(["I10", "E78.5"]));
    assert_eq!(claims[1]["place_of_service"], "21");
    assert_eq!(claims[2]["claim_type"], "PROFESSIONAL");
    let lines = rows(&server, "SELECT id, line_number, units, procedure_modifiers, diagnosis_pointers, charge_amount FROM claim_lines ORDER BY id").await;
    assert_eq!(
        lines[0],
        json!({"id": "CLM-001-1", "line_number": 1, "units": "1.00", "procedure_modifiers": ["25"], "diagnosis_pointers": [1, 2], "charge_amount": "150.00"})
    );
    assert_eq!((lines[1]["line_number"].clone(), lines[1]["units"].clone()), (json!(2), json!("1.00")));
    let summary = server.ok("healthsim_get_summary", json!({"scenario_id_or_name": "membersim_claims"})).await;
    let stats = &summary["statistics"];
    assert_eq!(
        stats["financials"],
        json!({"total_billed": 24895.0, "total_paid": 16686.4, "total_member_responsibility": 1844.1, "avg_charge": 8298.33})
    );
    assert_eq!(stats["claim_types"], json!({"PROFESSIONAL": 2, "INSTITUTIONAL": 1}));
    assert_eq!(stats["plan_distribution"], json!({"PPO-GOLD": 3, "HMO-SILVER": 1}));
    assert_eq!(stats["relationship_distribution"], json!({"18": 2, "01": 1, "19": 1}));
    assert_eq!(summary["entity_counts"], json!({"members": 4, "claims": 3, "claim_lines": 3}));
    server.stop().await;
}

/// rxmembersim: prescription and pharmacy-claim aliases, defaults and statistics.
#[tokio::test(flavor = "multi_thread")]
async fn rxmembersim_pharmacy_fixture() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    save_fixture(&server, "rxmembersim_pharmacy").await;
    let rx = rows(&server, "SELECT prescription_number, member_id, ndc, quantity_prescribed, days_supply, refills_authorized, daw_code, source_system FROM prescriptions ORDER BY prescription_number").await;
    assert_eq!(
        rx[0],
        json!({"prescription_number": "RX-5001", "member_id": "MEM-1001", "ndc": "00093-1048-01", "quantity_prescribed": "60.00",
               "days_supply": 30, "refills_authorized": 5, "daw_code": "0", "source_system": "rxmembersim"})
    );
    assert_eq!(
        rx[1],
        json!({"prescription_number": "RX-5002", "member_id": "MEM-2001", "ndc": "00071-0155-23", "quantity_prescribed": "30.00",
               "days_supply": 30, "refills_authorized": 0, "daw_code": "1", "source_system": "rxmembersim"})
    );
    let claims = rows(&server, "SELECT claim_id, fill_number, quantity_dispensed, gross_amount_due, patient_pay_amount FROM pharmacy_claims ORDER BY claim_id").await;
    assert_eq!(
        claims[1],
        json!({"claim_id": "PC-9002", "fill_number": 0, "quantity_dispensed": "30.00", "gross_amount_due": "42.30", "patient_pay_amount": "15.00"})
    );
    let stats =
        server.ok("healthsim_get_summary", json!({"scenario_id_or_name": "rxmembersim"})).await["statistics"].clone();
    assert_eq!(
        stats["top_drugs"],
        json!({"Metformin 500 mg tablet": 2, "Amoxicillin 400 mg/5 mL suspension": 1, "Atorvastatin 40 mg tablet": 1})
    );
    assert_eq!(
        stats["pharmacy_financials"],
        json!({"total_gross_amount_due": 62.6, "total_patient_pay": 25.0, "avg_days_supply": 30.0})
    );
    server.stop().await;
}

/// trialsim: subject ids and names, decimal visit numbers, UTC visit dates, statistics.
#[tokio::test(flavor = "multi_thread")]
async fn trialsim_fixture() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    save_fixture(&server, "trialsim").await;
    let subjects = rows(&server, "SELECT id, subject_id, given_name, family_name, gender, treatment_arm, source_system FROM subjects ORDER BY id").await;
    assert_eq!(
        subjects[0],
        json!({"id": "S-0001", "subject_id": "S-0001", "given_name": "Helen", "family_name": "Park", "gender": "F",
               "treatment_arm": "Drug A 10 mg", "source_system": "trialsim"})
    );
    let visits = rows(
        &server,
        "SELECT id, visit_num, CAST(visit_date AS VARCHAR) AS d, window_deviation_days FROM trial_visits ORDER BY id",
    )
    .await;
    assert_eq!(visits[1], json!({"id": "V-0001-2", "visit_num": "2.1", "d": "2024-02-05", "window_deviation_days": 2}));
    assert_eq!(visits[2]["window_deviation_days"], 0);
    let exposures = rows(&server, "SELECT id, exdose FROM exposures ORDER BY id").await;
    assert_eq!(
        exposures,
        vec![json!({"id": "EX-001", "exdose": "10.0000"}), json!({"id": "EX-002", "exdose": "0.0000"})]
    );
    let stats =
        server.ok("healthsim_get_summary", json!({"scenario_id_or_name": "trialsim"})).await["statistics"].clone();
    assert_eq!(stats["study_arms"], json!({"Drug A 10 mg": 2, "Placebo": 1, "unknown": 1}));
    assert_eq!(stats["subject_status"], json!({"on_treatment": 2, "discontinued": 1, "screen_failed": 1}));
    assert_eq!(stats["top_adverse_events"], json!({"Nausea": 2, "Neutropenia": 1}));
    server.stop().await;
}

/// Every row of a save, entity or canonical, carries the scenario's own creation time (to
/// the microsecond), and an overwrite stamps its new rows with the update time.
#[tokio::test(flavor = "multi_thread")]
async fn rows_carry_the_save_time() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    save_fixture(&server, "trialsim").await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let stamps = &format!(
        "SELECT s.created_at = s.updated_at AS fresh, count(*) AS n,
                count(*) FILTER (r.created_at = s.updated_at) AS same,
                count(*) FILTER (abs(epoch(r.created_at) - {now}) > 86400) AS off
         FROM scenarios s JOIN (SELECT scenario_id, created_at FROM scenario_entities
                                UNION ALL SELECT scenario_id, created_at FROM subjects
                                UNION ALL SELECT scenario_id, created_at FROM trial_visits) r USING (scenario_id)
         GROUP BY ALL"
    );
    let first = rows(&server, stamps).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["fresh"], true);
    assert!(first[0]["n"].as_i64().unwrap() > 4, "{first:?}");
    assert_eq!(first[0]["same"], first[0]["n"], "{first:?}");
    assert_eq!(first[0]["off"], 0, "a time of today: {first:?}");
    let entities = fixture("trialsim");
    server.ok("healthsim_save_scenario", json!({"name": "trialsim", "entities": entities, "overwrite": true})).await;
    let again = rows(&server, stamps).await;
    assert_eq!(again[0]["fresh"], false, "an overwrite keeps created_at: {again:?}");
    assert_eq!(again[0]["same"], again[0]["n"], "{again:?}");
    server.stop().await;
}

/// 100,000 mixed entities: every one lands, and the summary stays under 10,000 characters.
#[tokio::test(flavor = "multi_thread")]
async fn large_scenario_summary_stays_small() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let mut entities = serde_json::Map::new();
    let mut push = |t: &str, v: Value| {
        entities.entry(t).or_insert_with(|| Value::Array(vec![])).as_array_mut().unwrap().push(v);
    };
    for u in 0..10_000 {
        let mrn = format!("MRN{u:06}");
        push(
            "patients",
            json!({"id": format!("P{u}"), "mrn": mrn, "given_name": "A", "family_name": format!("F{u}"),
            "birth_date": format!("19{:02}-01-15", 30 + u % 70), "gender": (["female", "male"][u % 2])}),
        );
        push(
            "encounters",
            json!({"encounter_id": format!("E{u}"), "patient_mrn": mrn, "class_code": (["I", "O", "E", "H", "V", "A"][u % 6]),
            "admission_time": "2024-01-05T08:30:00Z"}),
        );
        push(
            "diagnoses",
            json!({"id": format!("D{u}"), "code": format!("C{:02}", u % 40), "patient_mrn": mrn, "diagnosed_date": "2024-01-05"}),
        );
        push(
            "clinical_notes",
            json!({"id": format!("N{u}"), "patient_mrn": mrn, "note_type": "progress", "note_datetime": "2024-01-05T09:00:00Z",
            "content": "x".repeat(2000)}),
        );
        push(
            "members",
            json!({"member_id": format!("M{u}"), "first_name": "A", "last_name": "B", "birth_date": "1980-01-01", "gender": "F",
            "group_id": "G", "plan_code": format!("PLAN{}", u % 25), "coverage_start": "2024-01-01", "relationship": (["self", "spouse", "child"][u % 3])}),
        );
        push(
            "claims",
            json!({"claim_id": format!("C{u}"), "claim_type": (["professional", "institutional"][u % 2]), "member_id": format!("M{u}"),
            "provider_npi": "1", "service_date": "2024-02-01", "principal_diagnosis": "E11.9", "total_charge": 100 + u % 50}),
        );
        push(
            "prescriptions",
            json!({"prescription_number": format!("RX{u}"), "ndc": "1", "drug_name": format!("Drug {}", u % 30),
            "quantity_prescribed": 30, "days_supply": 30, "prescriber_npi": "1", "written_date": "2024-01-01", "expiration_date": "2025-01-01"}),
        );
        push(
            "subjects",
            json!({"subject_id": format!("S{u}"), "usubjid": format!("ST-S{u}"), "study_id": "ST", "site_id": format!("SITE{}", u % 12),
            "given_name": "A", "family_name": "B", "birth_date": "1970-01-01", "gender": "M", "informed_consent_date": "2024-01-01",
            "status": "enrolled", "treatment_arm": format!("ARM{}", u % 7)}),
        );
        push(
            "adverse_events",
            json!({"id": format!("AE{u}"), "usubjid": format!("ST-S{u}"), "aeterm": format!("Event {}", u % 20), "aestdtc": "2024-02-01"}),
        );
        push("gizmos", json!({"id": format!("G{u}"), "blob": "y".repeat(500)}));
    }
    let saved = server.ok("healthsim_save_scenario", json!({"name": "huge", "entities": entities})).await;
    assert_eq!(saved["total_entities"], 100_000);
    assert_eq!(saved["canonical_rows"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>(), 90_000);
    let warnings = saved["warnings"].as_array().unwrap();
    // The unknown type, and the prescriptions naming neither patient nor member (one
    // aggregated line each).
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].as_str().unwrap().contains("(10000 entities): member_id unknown"), "{warnings:?}");
    let result =
        server.call("healthsim_get_summary", json!({"scenario_id_or_name": "huge", "samples_per_type": 10})).await;
    let text = crate::util::text_of(&result);
    assert!(text.chars().count() < 10_000, "summary is {} characters", text.chars().count());
    let summary: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(summary["entity_counts"]["patients"], 10_000);
    assert_eq!(summary["statistics"]["encounter_types"].as_object().unwrap().len(), 5, "top 5 only");
    assert_eq!(summary["statistics"]["gender_distribution"], json!({"female": 5000, "male": 5000}));
    assert!(!summary["samples"].as_object().unwrap().is_empty(), "samples are reduced, not dropped");
    let many_warnings = serde_json::json!({"name": "warn", "entities": {"patients": (0..30).map(|i| json!({"id": format!("x{i}"), "birth_date": "soon"})).collect::<Vec<_>>()}});
    let saved = server.ok("healthsim_save_scenario", many_warnings).await;
    let warnings = saved["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "one line per (type, reason): {warnings:?}");
    let line = warnings[0].as_str().unwrap();
    assert!(
        line.starts_with(
            "patients 'x0', 'x1', 'x2' and 27 more (30 entities): birth_date stored as NULL: 'soon' is not"
        ),
        "{line}"
    );
    server.stop().await;
}

/// Documents in the shapes HealthSim's own generators, skills and saved cohorts emit
/// (`fixtures/healthsim`, written for these tests): at least 95% of the entities of
/// canonical types become canonical rows, nothing is invented for what a document leaves
/// out, and the summaries show their statistics. Prints the share per table.
#[tokio::test(flavor = "multi_thread")]
async fn healthsim_documents_become_rows() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/healthsim");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut entities_per_table: std::collections::BTreeMap<String, u64> = Default::default();
    let mut rows_per_table: std::collections::BTreeMap<String, u64> = Default::default();
    for file in &files {
        let name = file.file_stem().unwrap().to_str().unwrap().to_owned();
        let entities: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let saved = server.ok("healthsim_save_scenario", json!({"name": name, "entities": entities})).await;
        for (key, n) in saved["entity_counts"].as_object().unwrap() {
            let table = healthsim_mcp::model::canonical_type_name(key);
            *entities_per_table.entry(table).or_default() += n.as_u64().unwrap();
        }
        for (table, n) in saved["canonical_rows"].as_object().unwrap() {
            *rows_per_table.entry(table.clone()).or_default() += n.as_u64().unwrap();
        }
        let warnings = saved["warnings"].as_array().map(Vec::len).unwrap_or(0);
        assert!(warnings <= 3, "{name}: warnings are one line per (type, reason): {}", saved["warnings"]);
    }
    let (mut entities, mut rows) = (0, 0);
    for (table, n) in &entities_per_table {
        let made = rows_per_table.get(table).copied().unwrap_or(0);
        eprintln!("{table}: {made} of {n} entities became rows");
        entities += n;
        rows += made;
    }
    eprintln!("all canonical types: {rows} of {entities} ({:.1}%)", 100.0 * rows as f64 / entities as f64);
    assert!(entities >= 120, "the corpus covers every product line");
    assert!(rows * 100 >= entities * 95, "{rows} of {entities} entities became rows");
    // Links: a row without a patient key took the document's only patient; patient_id
    // became that patient's MRN; claims took the only member, types were implied.
    let linked = server
        .ok(
            "healthsim_query",
            json!({"sql": "SELECT DISTINCT patient_mrn FROM encounters WHERE encounter_id LIKE 'E-77-%'"}),
        )
        .await;
    assert_eq!(linked["rows"], json!([{"patient_mrn": "MRN-77"}]));
    let claims = server
        .ok("healthsim_query", json!({"sql": "SELECT claim_id, claim_type, member_id FROM claims WHERE claim_id IN ('CLM-ER-1', 'CLM-IP-1', 'CLM-OF-1') ORDER BY claim_id"}))
        .await;
    assert_eq!(
        claims["rows"],
        json!([{"claim_id": "CLM-ER-1", "claim_type": "PROFESSIONAL", "member_id": "MBR-WI-7804"},
               {"claim_id": "CLM-IP-1", "claim_type": "INSTITUTIONAL", "member_id": "MBR-WI-7804"},
               {"claim_id": "CLM-OF-1", "claim_type": "PROFESSIONAL", "member_id": "MBR-WI-7804"}])
    );
    // Left out by the document: NULL, not a placeholder.
    let unknown = server
        .ok("healthsim_query", json!({"sql": "SELECT route, frequency FROM medications WHERE id = 'M-77-1'"}))
        .await;
    assert_eq!(unknown["rows"], json!([{"route": null, "frequency": null}]));
    let rx = server
        .ok("healthsim_query", json!({"sql": "SELECT claim_id, member_id, pharmacy_npi, transaction_code FROM pharmacy_claims ORDER BY claim_id"}))
        .await;
    assert_eq!(
        rx["rows"],
        json!([{"claim_id": "RX20241213000001", "member_id": "MEM001234", "pharmacy_npi": "1991234567", "transaction_code": "B1"},
               {"claim_id": "RX20250115000001", "member_id": "MEM001234", "pharmacy_npi": "9876543210", "transaction_code": "B1"},
               {"claim_id": "RX20250201000003", "member_id": "MEM001234", "pharmacy_npi": null, "transaction_code": null}])
    );
    let usubjid =
        server.ok("healthsim_query", json!({"sql": "SELECT usubjid FROM subjects WHERE subject_id = '100'"})).await;
    assert_eq!(usubjid["rows"], json!([{"usubjid": "ONC-301-S01-100"}]));
    // Summaries of these scenarios show their statistics.
    let stats = |name: &'static str| {
        let server = &server;
        async move { server.ok("healthsim_get_summary", json!({"scenario_id_or_name": name})).await["statistics"].clone() }
    };
    let patients = stats("patientsim_generator").await;
    assert_eq!(patients["gender_distribution"], json!({"F": 4, "M": 4}));
    assert!(patients["age_range"]["min"].as_i64().unwrap() > 30, "{patients}");
    assert_eq!(patients["top_diagnoses"].as_array().unwrap().len(), 4);
    assert!(patients["encounter_types"].as_object().unwrap().len() >= 2, "{patients}");
    let members = stats("membersim_skill_one_member").await;
    assert_eq!(members["claim_types"], json!({"PROFESSIONAL": 2, "INSTITUTIONAL": 1}));
    assert_eq!(members["financials"]["total_billed"], json!(49281.0));
    let trial = stats("trialsim_generator").await;
    assert_eq!(trial["study_arms"], json!({"Drug A": 4, "Placebo": 3}));
    server.stop().await;
}
