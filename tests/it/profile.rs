//! `healthsim_execute_profile` through MCP: HealthSim's own profile shapes generate a
//! scenario that every other tool serves, whose links hold by SQL; a preview saves
//! nothing; the legacy envelope, a taken name and a bad profile answer as the other tools.

use std::path::Path;

use serde_json::{Value, json};

use crate::util::{Server, temp_db, text_of};

fn profile(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/profiles").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn count(server: &Server, sql: &str) -> i64 {
    let result = server.ok("healthsim_query", json!({"sql": sql})).await;
    result["rows"][0].as_object().unwrap().values().next().unwrap().as_i64().unwrap()
}

/// A generated cohort is an ordinary scenario: listed, summarised, loaded, queried and
/// deleted; every row belongs to a patient or member of it; claims match their visits.
#[tokio::test(flavor = "multi_thread")]
async fn a_generated_cohort_is_an_ordinary_scenario() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let args = json!({"profile": profile("wrapper_colorado_copd"), "name": "copd", "count": 150, "seed": 4});
    let result = server.call("healthsim_execute_profile", args.clone()).await;
    let text = text_of(&result);
    assert!(text.chars().count() <= 4_000, "{} characters", text.chars().count());
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["status"], "generated", "{answer}");
    assert_eq!((answer["patients"].as_u64(), answer["seed"].as_u64()), (Some(150), Some(4)));
    assert_eq!(answer["canonical_rows"]["patients"], 150);
    let listed = server.ok("healthsim_list_scenarios", json!({})).await;
    assert_eq!(listed[0]["name"], "copd");
    let summary = server.ok("healthsim_get_summary", json!({"scenario_id_or_name": "copd"})).await;
    assert_eq!(summary["entity_counts"]["patients"], 150);
    let loaded = server.ok("healthsim_load_scenario", json!({"name_or_id": "copd"})).await;
    assert_eq!(loaded["truncated"], true, "a cohort is larger than one answer");
    let scenario = "(SELECT scenario_id FROM scenarios WHERE name = 'copd')";
    for (what, sql) in [
        (
            "diagnoses of no patient",
            format!(
                "SELECT count(*) FROM diagnoses d WHERE scenario_id = {scenario} AND NOT EXISTS (SELECT 1 FROM patients p WHERE p.scenario_id = d.scenario_id AND p.mrn = d.patient_mrn)"
            ),
        ),
        (
            "labs of no encounter",
            format!(
                "SELECT count(*) FROM lab_results l WHERE scenario_id = {scenario} AND NOT EXISTS (SELECT 1 FROM encounters e WHERE e.scenario_id = l.scenario_id AND e.encounter_id = l.encounter_id AND e.patient_mrn = l.patient_mrn)"
            ),
        ),
        (
            "claims of no member",
            format!(
                "SELECT count(*) FROM claims c WHERE scenario_id = {scenario} AND NOT EXISTS (SELECT 1 FROM members m WHERE m.scenario_id = c.scenario_id AND m.member_id = c.member_id)"
            ),
        ),
        (
            "claim lines of no claim",
            format!(
                "SELECT count(*) FROM claim_lines l WHERE scenario_id = {scenario} AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.scenario_id = l.scenario_id AND c.claim_id = l.claim_id)"
            ),
        ),
        (
            "claims unlike their visit",
            format!(
                "SELECT count(*) FROM claims c JOIN encounters e ON e.scenario_id = c.scenario_id AND e.encounter_id = 'E' || substr(c.claim_id, 2) WHERE c.scenario_id = {scenario} AND (CAST(e.admission_time AS DATE) <> c.service_date OR e.admitting_diagnosis <> c.principal_diagnosis)"
            ),
        ),
        (
            "claims whose lines do not add up",
            format!(
                "SELECT count(*) FROM claims c WHERE scenario_id = {scenario} AND abs(total_allowed - (SELECT sum(allowed_amount) FROM claim_lines l WHERE l.scenario_id = c.scenario_id AND l.claim_id = c.claim_id)) > 0.05"
            ),
        ),
        (
            "fills of no prescription",
            format!(
                "SELECT count(*) FROM pharmacy_claims f WHERE scenario_id = {scenario} AND NOT EXISTS (SELECT 1 FROM prescriptions r WHERE r.scenario_id = f.scenario_id AND r.prescription_number = f.prescription_number)"
            ),
        ),
        (
            "COPD patients without the diagnosis",
            format!(
                "SELECT count(*) FROM patients p WHERE scenario_id = {scenario} AND NOT EXISTS (SELECT 1 FROM diagnoses d WHERE d.scenario_id = p.scenario_id AND d.patient_mrn = p.mrn AND d.code LIKE 'J44%')"
            ),
        ),
        (
            "patients outside Colorado",
            format!("SELECT count(*) FROM patients WHERE scenario_id = {scenario} AND state <> 'CO'"),
        ),
    ] {
        assert_eq!(count(&server, &sql).await, 0, "{what}");
    }
    assert!(count(&server, &format!("SELECT count(*) FROM claims WHERE scenario_id = {scenario}")).await >= 150);
    // A larger count with the same seed keeps the smaller cohort's patients.
    let mut larger = args.clone();
    larger["name"] = json!("copd-larger");
    larger["count"] = json!(300);
    server.ok("healthsim_execute_profile", larger).await;
    let kept = "SELECT count(*) FROM patients a JOIN patients b ON a.id = b.id AND a.birth_date = b.birth_date AND a.family_name = b.family_name \
                WHERE a.scenario_id = (SELECT scenario_id FROM scenarios WHERE name = 'copd') AND b.scenario_id = (SELECT scenario_id FROM scenarios WHERE name = 'copd-larger')";
    assert_eq!(count(&server, kept).await, 150);
    let deleted = server.ok("healthsim_delete_scenario", json!({"name_or_id": "copd", "confirm": true})).await;
    assert_eq!(deleted["status"], "deleted");
    server.stop().await;
}

/// A preview returns at most 5 patients in save's `entities` shape and saves nothing; the
/// `{"params": {...}}` envelope works; a taken name, a bad profile and a bad count are
/// one-line errors and the server goes on.
#[tokio::test(flavor = "multi_thread")]
async fn preview_envelope_and_refusals() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let preview = server
        .ok(
            "healthsim_execute_profile",
            json!({"params": {"profile": profile("flat_georgia_hypertension"), "preview": true}}),
        )
        .await;
    assert_eq!(preview["status"], "preview");
    assert_eq!(preview["entities"]["patients"].as_array().unwrap().len(), 5);
    assert!(
        server.ok("healthsim_list_scenarios", json!({})).await.as_array().unwrap().is_empty(),
        "a preview saves nothing"
    );
    // The preview's entities save as they are.
    server.ok("healthsim_save_scenario", json!({"name": "from-preview", "entities": preview["entities"]})).await;
    let args = json!({"profile": profile("flat_georgia_hypertension"), "name": "ga", "count": 20});
    server.ok("healthsim_execute_profile", args.clone()).await;
    let taken = server.err_msg("healthsim_execute_profile", args.clone()).await;
    assert!(taken.contains("already exists") && taken.contains("overwrite=true"), "{taken}");
    let mut again = args.clone();
    again["overwrite"] = json!(true);
    server.ok("healthsim_execute_profile", again).await;
    for (bad, phrase) in [
        (json!({"profile": profile("invalid_weights_sum")}), "profile.demographics.gender.weights"),
        (json!({"profile": profile("invalid_prevalence_out_of_range")}), "prevalence must be between 0 and 1"),
        (json!({"profile": "not an object"}), "profile must be a JSON object"),
        (json!({"profile": profile("flat_georgia_hypertension"), "count": 0}), "count must be between 1 and 100000"),
        (json!({}), "profile is required"),
    ] {
        let message = server.err_msg("healthsim_execute_profile", bad).await;
        assert!(message.contains(phrase) && !message.contains('\n'), "{message}");
    }
    let listed = server.ok("healthsim_list_scenarios", json!({})).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    server.stop().await;
}

/// In the Python tooling's layout the cohort is served in that layout (nothing converted).
#[tokio::test(flavor = "multi_thread")]
async fn generated_into_a_tooling_layout() {
    let (_dir, db) = temp_db();
    crate::layout::build_legacy(&db);
    let server = Server::start(&db).await;
    let answer = server
        .ok(
            "healthsim_execute_profile",
            json!({"profile": profile("flat_conditional_diabetes"), "name": "tooling", "count": 25}),
        )
        .await;
    assert_eq!(answer["canonical_rows"]["patients"], 25, "{answer}");
    let summary = server.ok("healthsim_get_summary", json!({"scenario_id_or_name": "tooling"})).await;
    assert_eq!(summary["entity_counts"]["patients"], 25);
    let n = count(
        &server,
        "SELECT count(*) FROM patients WHERE scenario_id = (SELECT scenario_id FROM scenarios WHERE name = 'tooling')",
    )
    .await;
    assert_eq!(n, 25);
    server.stop().await;
}

/// With the population reference tables, a profile that leaves age and conditions open
/// gets the place's age bands from SVI and its conditions from PLACES (adults only); the
/// tooling's legacy tables (`main.ref_svi_county`, `main.ref_places_county`) serve as well.
#[tokio::test(flavor = "multi_thread")]
async fn open_profiles_take_the_place_from_reference_data() {
    for legacy in [false, true] {
        let (_dir, db) = temp_db();
        let demo = std::process::Command::new(crate::util::BIN)
            .arg("--db")
            .arg(&db)
            .args(["demo", "--small"])
            .output()
            .unwrap();
        assert!(demo.status.success(), "{}", String::from_utf8_lossy(&demo.stderr));
        if legacy {
            let conn = duckdb::Connection::open(&db).unwrap();
            conn.execute_batch(
                "CREATE TABLE main.ref_svi_county AS FROM population.svi_county; DROP TABLE population.svi_county;
                 CREATE TABLE main.ref_places_county AS FROM population.places_county; DROP TABLE population.places_county;",
            )
            .unwrap();
        }
        the_place_comes_from_reference_data(&db).await;
    }
}

async fn the_place_comes_from_reference_data(db: &Path) {
    let server = Server::start(db).await;
    let profile = json!({"name": "Rhode Island", "generation": {"count": 400, "seed": 2},
                         "demographics": {"geography": {"type": "state", "state": "RI"}}});
    let answer = server.ok("healthsim_execute_profile", json!({"profile": profile, "name": "ri"})).await;
    assert_eq!(answer["statistics"]["age"]["requested_bounds"], json!([0.0, 95.0]), "SVI's age bands: {answer}");
    let codes: Vec<&str> =
        answer["statistics"]["conditions"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
    for code in ["E11.9", "I10", "J45.909", "F32.A"] {
        assert!(codes.contains(&code), "PLACES conditions: {codes:?}");
    }
    let children_with_diabetes = count(
        &server,
        "SELECT count(*) FROM patients p JOIN diagnoses d USING (scenario_id) \
        WHERE d.patient_mrn = p.mrn AND d.code = 'E11.9' AND p.birth_date > DATE '2008-12-31' + INTERVAL 1 YEAR",
    )
    .await;
    assert_eq!(children_with_diabetes, 0);
    server.stop().await;
}
